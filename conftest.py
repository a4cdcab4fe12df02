"""Shared pytest fixtures: every device-aware test runs on CPU and, when CuPy
sees a GPU, on CUDA too."""
import pytest

import flodl_core as fl

DEVICES = [fl.Device.CPU] + ([fl.Device.CUDA(0)] if fl.cuda_available() else [])


@pytest.fixture(params=DEVICES, ids=str)
def device(request):
    return request.param


def pytest_report_header(config):
    return f"flodl_core devices: {', '.join(str(d) for d in DEVICES)}"
