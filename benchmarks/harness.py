"""Worker side of the benchmarks: one framework of one case, in this process.

A case module calls ``worker_main(CASE, FRAMEWORKS)`` under ``__main__``. The
thread-count variables are set here *before* NumPy or torch is imported, so a
case module must import them only inside its factories.

Two modes:

* standalone: ``python -m benchmarks.cases.mlp_step --framework flodl --threads 1
  --repeats 20`` runs check, warm-up and the timed repetitions, then prints one
  JSON line (all times, their median, the check values, versions);
* ``--serve`` (used by run.py to interleave frameworks): after check and warm-up
  it prints one JSON line ``{"ready": ...}``, then per ``run`` line read from stdin
  runs one untimed step (the first step after idling is cold: ~1.5 ms slower for
  the MLP here), times one repetition and answers ``{"t": ...}``; ``quit`` ends it.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

# The same glibc settings flodl_core applies at import (flodl_core/backend/allocator.py),
# for the optional "numpy+mallopt" reference worker.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD, _TRIM_THRESHOLD = 32 * 1024 * 1024, 512 * 1024 * 1024


class Bench:
    """What a framework factory returns.

    step:  one unit of timed work (one add chain, one training step).
    check: runs before warm-up; returns floats that must agree across frameworks.
    meta:  facts about this worker (versions, allocator state).
    """

    def __init__(self, step, check, meta=None):
        self.step = step
        self.check = check
        self.meta = dict(meta or {})


def set_threads(n: int) -> None:
    for var in THREAD_VARS:
        os.environ[var] = str(n)


def tune_malloc_like_flodl() -> bool:
    """Apply flodl_core's glibc tuning in a process that does not import flodl_core."""
    import ctypes
    import ctypes.util
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    ok = mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD) == 1
    return (mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD) == 1) and ok


def numpy_meta() -> dict:
    import numpy as np
    blas = "?"
    try:
        cfg = np.show_config(mode="dicts")
        b = cfg["Build Dependencies"]["blas"]
        blas = f"{b.get('name', '?')} {b.get('version', '')}".strip()
    except Exception:   # noqa: BLE001 - only informative
        pass
    return {"numpy": np.__version__, "numpy_blas": blas, "openblas_core": _openblas_core()}


def _openblas_core():
    """The kernel set OpenBLAS picked (e.g. 'Haswell', 'SkylakeX'), or None if unknown."""
    import ctypes
    import glob

    import numpy as np
    libs = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
    for path in glob.glob(os.path.join(libs, "*openblas*")):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in ("scipy_openblas_get_corename64_", "scipy_openblas_get_corename",
                     "openblas_get_corename64_", "openblas_get_corename"):
            fn = getattr(lib, name, None)
            if fn is not None:
                fn.restype = ctypes.c_char_p
                return fn().decode()
    return None


def time_repetition(step, inner: int, scale: float) -> float:
    """Mean time of ``inner`` steps, times ``scale`` (seconds -> reported unit)."""
    t0 = time.perf_counter()
    for _ in range(inner):
        step()
    return (time.perf_counter() - t0) / inner * scale


def _emit(obj) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def worker_main(case: dict, frameworks: dict, argv=None) -> None:
    p = argparse.ArgumentParser(description=f"benchmark case {case['name']}: one framework")
    p.add_argument("--framework", required=True, choices=sorted(frameworks))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--warmup", type=int, default=case["warmup"])
    p.add_argument("--inner", type=int, default=case["inner"],
                   help="steps per timed repetition (the repetition reports their mean)")
    p.add_argument("--serve", action="store_true", help="stdin-driven mode for run.py")
    args = p.parse_args(argv)

    if "numpy" in sys.modules or "torch" in sys.modules:
        print("warning: numpy/torch imported before the thread variables were set",
              file=sys.stderr)
    set_threads(args.threads)

    bench = frameworks[args.framework](args.threads)
    check = [float(v) for v in bench.check()]
    for _ in range(args.warmup):
        bench.step()

    meta = {"framework": args.framework, "threads": args.threads, "pid": os.getpid(),
            "python": platform.python_version(),
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
            **numpy_meta(), **bench.meta}
    scale = case["scale"]
    if args.serve:
        _emit({"ready": True, "meta": meta, "check": check})
        for line in sys.stdin:
            cmd = line.strip()
            if cmd == "run":
                bench.step()   # untimed: the first step after idling runs cold (caches, vCPU)
                _emit({"t": time_repetition(bench.step, args.inner, scale)})
            elif cmd == "quit":
                break
        return
    times = [time_repetition(bench.step, args.inner, scale) for _ in range(args.repeats)]
    _emit({"case": case["name"], "unit": case["unit"], "framework": args.framework,
           "threads": args.threads, "inner": args.inner, "times": times,
           "median": statistics.median(times), "check": check, "meta": meta})
