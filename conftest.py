"""Shared pytest fixtures: every device-aware test runs on CPU and, when CuPy
sees a GPU, on CUDA too."""
import os

import pytest
from hypothesis import settings

import flodl_core as fl

DEVICES = [fl.Device.CPU] + ([fl.Device.CUDA(0)] if fl.cuda_available() else [])


@pytest.fixture(params=DEVICES, ids=str)
def device(request):
    return request.param


def pytest_report_header(config):
    return f"flodl_core devices: {', '.join(str(d) for d in DEVICES)}"


# CI runs property tests with a fixed seed so a red run is reproducible.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
