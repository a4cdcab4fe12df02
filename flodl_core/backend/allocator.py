"""Keep large temporaries warm by tuning glibc malloc at import.

glibc serves blocks above its mmap threshold (128 KiB by default) with fresh
``mmap`` calls and returns them to the kernel on free, so every training step
page-faults its activations back in (about 2 us per 4 KiB page on small VMs).
Raising the mmap and trim thresholds keeps freed blocks in the heap for reuse,
the effect PyTorch gets from its caching allocator.

Opt out with the environment variable ``FLODL_MALLOC_TUNING=0``.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 1024 * 1024    # glibc's maximum on 64-bit
TRIM_THRESHOLD = 512 * 1024 * 1024

_tuned = False


def tune_malloc() -> bool:
    """Apply the tuning once; returns True when glibc accepted it."""
    global _tuned
    if _tuned:
        return True
    if os.environ.get("FLODL_MALLOC_TUNING", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):   # musl and other libcs have no mallopt
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    ok = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    ok = (mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1) and ok
    _tuned = ok
    return ok


def malloc_tuned() -> bool:
    """Whether the allocator tuning is active in this process."""
    return _tuned
