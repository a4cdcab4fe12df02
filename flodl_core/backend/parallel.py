"""Intra-op parallelism on the CPU: one op's NumPy work split over threads.

NumPy releases the GIL inside its loops and its BLAS calls, so Python threads
that each run a slice of one large op (the per-sample GEMMs of a convolution,
an im2col copy) keep several cores busy. OpenBLAS threads each GEMM by itself,
but not the many thin GEMMs of a batched convolution: splitting the batch is
what makes those use a second core.

``parallel_for(n, body)`` runs ``body(start, stop)`` over contiguous chunks of
``range(n)``, the calling thread taking the first chunk, and returns when all
are done. Chunks must write disjoint outputs; results are then bit-identical
to a serial run whatever the thread count (callers that reduce over the split
axis sum the per-chunk pieces afterwards, in a fixed order).

The thread count is ``set_num_threads(n)``, else the first positive value of
``FLODL_NUM_THREADS``, ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS`` or
``MKL_NUM_THREADS``, else the CPUs this process may run on. With 1 everything
runs on the calling thread and no worker is started. Work submitted from inside
a chunk runs serially (no nested pools, no deadlock).
"""
from __future__ import annotations

import os
import queue
import threading

_ENV_VARS = ("FLODL_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
             "MKL_NUM_THREADS")

_num_threads = None          # None: not decided yet (read the environment once)
_workers: list = []          # the pool: one SimpleQueue per daemon thread
_pool_lock = threading.Lock()
_local = threading.local()   # .busy: this thread is running a chunk


def _default_num_threads() -> int:
    for var in _ENV_VARS:
        value = os.environ.get(var, "").split(",")[0].strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:                     # not on Linux
        return max(1, os.cpu_count() or 1)


def get_num_threads() -> int:
    """Threads one CPU op may use (see the module docstring)."""
    global _num_threads
    if _num_threads is None:
        _num_threads = _default_num_threads()
    return _num_threads


def set_num_threads(n: int) -> None:
    """Use at most ``n`` threads per CPU op (like ``torch.set_num_threads``).

    This sets flodl_core's own splitting only; BLAS keeps the thread count it
    read from the environment at import (set ``OPENBLAS_NUM_THREADS`` too, before
    importing NumPy, for a fully single-threaded run)."""
    global _num_threads
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: expected an int >= 1, got {n!r}")
    _num_threads = n


class _Chunk:
    __slots__ = ("body", "start", "stop", "done", "error")

    def __init__(self, body, start, stop):
        self.body, self.start, self.stop = body, start, stop
        self.done = threading.Event()
        self.error = None

    def run(self):
        _local.busy = True
        try:
            self.body(self.start, self.stop)
        except BaseException as e:       # re-raised on the calling thread
            self.error = e
        finally:
            _local.busy = False
            self.done.set()


def _worker(inbox):
    while True:
        chunk = inbox.get()
        if chunk is None:
            return
        chunk.run()


def _pool(size: int) -> list:
    """At least ``size`` worker inboxes, starting threads on first use."""
    with _pool_lock:
        while len(_workers) < size:
            inbox = queue.SimpleQueue()
            threading.Thread(target=_worker, args=(inbox,), daemon=True,
                             name=f"flodl-intraop-{len(_workers)}").start()
            _workers.append(inbox)
        return _workers[:size]


def _forget_pool_in_child():
    # A forked child has none of the parent's threads: start a fresh pool on use.
    global _pool_lock
    _workers.clear()
    _pool_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_in_child)


def chunk_count(n: int, min_chunk: int = 1) -> int:
    """How many chunks ``parallel_for(n, ..., min_chunk)`` would use (1: serial)."""
    if getattr(_local, "busy", False):
        return 1
    return max(1, min(get_num_threads(), n // max(1, min_chunk)))


def parallel_for(n: int, body, min_chunk: int = 1) -> None:
    """``body(start, stop)`` over contiguous chunks covering ``range(n)``, each at
    least ``min_chunk`` long, on up to ``get_num_threads()`` threads."""
    k = chunk_count(n, min_chunk)
    if k <= 1:
        body(0, n)
        return
    bounds = [n * i // k for i in range(k + 1)]
    chunks = [_Chunk(body, bounds[i], bounds[i + 1]) for i in range(k)]
    for inbox, chunk in zip(_pool(k - 1), chunks[1:]):
        inbox.put(chunk)
    chunks[0].run()
    for chunk in chunks[1:]:
        chunk.done.wait()
    for chunk in chunks:
        if chunk.error is not None:
            raise chunk.error
