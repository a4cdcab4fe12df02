"""Process and device memory queries."""
from __future__ import annotations

import psutil


def rss_kb() -> int:
    """Resident set size of this process in KiB."""
    return psutil.Process().memory_info().rss // 1024


def cuda_memory_info(index: int = 0) -> tuple[int, int]:
    """(bytes used, bytes total) on CUDA device ``index``, from cudaMemGetInfo."""
    from .array_module import cupy_module
    cp = cupy_module()
    with cp.cuda.Device(index):
        free, total = cp.cuda.runtime.memGetInfo()
    return total - free, total
