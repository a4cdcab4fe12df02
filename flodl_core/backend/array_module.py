"""Choosing the array module (NumPy or CuPy) for a device.

CuPy is imported lazily the first time a CUDA device is touched, so CPU-only
installs never import it.
"""
from __future__ import annotations

import numpy as np

from ..errors import DeviceError
from .device import Device

_cupy = None
_cupy_checked = False


def _import_cupy():
    global _cupy, _cupy_checked
    if not _cupy_checked:
        _cupy_checked = True
        try:
            import cupy  # noqa: F401
            _cupy = cupy
        except Exception:  # ImportError, or a broken CUDA install
            _cupy = None
    return _cupy


def cupy_module():
    """The cupy module, or raise DeviceError with an install hint."""
    cp = _import_cupy()
    if cp is None:
        raise DeviceError(
            "CUDA requested but CuPy is not installed or found no CUDA driver; "
            "install the extra: pip install 'flodl-core[cuda12]' (or [cuda13])")
    return cp


def cuda_available() -> bool:
    """True when CuPy is importable and sees at least one GPU."""
    return cuda_device_count() > 0


def cuda_device_count() -> int:
    """Number of CUDA devices CuPy sees (0 without CuPy or a driver)."""
    cp = _import_cupy()
    if cp is None:
        return 0
    try:
        return int(cp.cuda.runtime.getDeviceCount())
    except Exception:
        return 0


def xp_for_device(device: Device):
    """NumPy for CPU, CuPy for CUDA (validating the ordinal)."""
    if device.kind == "cpu":
        return np
    cp = cupy_module()
    n = cuda_device_count()
    if device.index >= n:
        raise DeviceError(f"{device!r} is not available: CuPy sees {n} CUDA device(s)")
    return cp


def xp_of(array):
    """The array module that owns ``array``."""
    if type(array) is np.ndarray:
        return np
    if _cupy is not None and isinstance(array, _cupy.ndarray):
        return _cupy
    return np


def device_of(array) -> Device:
    if type(array) is np.ndarray:
        return Device.CPU
    if _cupy is not None and isinstance(array, _cupy.ndarray):
        return Device.CUDA(array.device.id)
    return Device.CPU


class on_device:
    """Context manager making ``device`` current for CuPy allocations (no-op on CPU)."""

    __slots__ = ("device", "_ctx")

    def __init__(self, device: Device):
        self.device = device
        self._ctx = None

    def __enter__(self):
        if self.device.kind == "cuda":
            self._ctx = cupy_module().cuda.Device(self.device.index)
            self._ctx.__enter__()
        return self

    def __exit__(self, *exc):
        if self._ctx is not None:
            self._ctx.__exit__(*exc)
            self._ctx = None
        return False
