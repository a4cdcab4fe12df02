"""Optimizer step alone: Adam over 10 M float32 parameters in 50 tensors.

Every parameter has a fixed gradient; one timed unit is one ``optimizer.step()``.
PyTorch runs ``torch.optim.Adam(foreach=True)`` (its multi-tensor path). The NumPy
column is a hand-written Adam with ``out=`` arithmetic over the same arrays, the
floor a NumPy framework can reach with the same evaluation order.

Run one framework alone:  python -m benchmarks.cases.adam_step --framework flodl
"""
from __future__ import annotations

if __package__ in (None, ""):   # allow `python benchmarks/cases/adam_step.py`
    import os as _os
    import sys as _sys
    _sys.path.insert(0, _os.path.dirname(_os.path.dirname(_os.path.dirname(
        _os.path.abspath(__file__)))))

from benchmarks.harness import Bench, worker_main

N_TENSORS = 50
SHAPE = (400, 500)           # 200k values each, 10 M in all
LR, BETAS, EPS = 1e-3, (0.9, 0.999), 1e-8

CASE = {
    "name": "adam_step",
    "title": f"Adam step, {N_TENSORS} tensors x {SHAPE[0]}x{SHAPE[1]} float32 (10 M params)",
    "unit": "ms",
    "scale": 1e3,
    "inner": 3,
    "warmup": 2,
    "check_rtol": 1e-5,
}


def _inputs():
    import numpy as np
    rng = np.random.default_rng(0)
    ws = [rng.standard_normal(SHAPE, dtype=np.float32) for _ in range(N_TENSORS)]
    gs = [rng.standard_normal(SHAPE, dtype=np.float32) for _ in range(N_TENSORS)]
    return ws, gs


def _checksum(arrays):
    import numpy as np
    return [float(sum(np.abs(a).sum(dtype=np.float64) for a in arrays))]


def make_flodl(threads: int) -> Bench:
    import flodl_core as fl
    ws, gs = _inputs()
    params = [fl.nn.Parameter(fl.tensor(w)) for w in ws]
    for p, g in zip(params, gs):
        p.grad = fl.tensor(g)
    opt = fl.Adam(params, LR, betas=BETAS, eps=EPS)

    def check():
        opt.step()
        return _checksum([p._data for p in params])

    return Bench(opt.step, check, {"flodl_core": fl.__version__,
                                   "malloc_tuned": fl.malloc_tuned()})


def make_numpy(threads: int) -> Bench:
    import math

    import numpy as np
    ws, gs = _inputs()
    ms = [np.zeros_like(w) for w in ws]
    vs = [np.zeros_like(w) for w in ws]
    scratch = (np.empty_like(ws[0]), np.empty_like(ws[0]))
    state = {"t": 0}
    b1, b2 = BETAS

    def step():
        state["t"] += 1
        t = state["t"]
        step_size = LR / (1 - b1 ** t)
        bc2 = math.sqrt(1 - b2 ** t)
        tmp, denom = scratch
        for w, g, m, v in zip(ws, gs, ms, vs):
            np.subtract(g, m, out=tmp)
            tmp *= 1 - b1
            m += tmp
            v *= b2
            np.multiply(g, 1 - b2, out=tmp)
            tmp *= g
            v += tmp
            np.sqrt(v, out=denom)
            denom /= bc2
            denom += EPS
            np.multiply(m, -step_size, out=tmp)
            tmp /= denom
            w += tmp

    def check():
        step()
        return _checksum(ws)

    return Bench(step, check, {"malloc_tuned": False})


def make_torch(threads: int) -> Bench:
    import torch
    torch.set_num_threads(threads)
    ws, gs = _inputs()
    params = [torch.nn.Parameter(torch.from_numpy(w)) for w in ws]
    for p, g in zip(params, gs):
        p.grad = torch.from_numpy(g)
    opt = torch.optim.Adam(params, lr=LR, betas=BETAS, eps=EPS, foreach=True)

    def step():
        with torch.no_grad():
            opt.step()

    def check():
        step()
        return _checksum([p.detach().numpy() for p in params])

    return Bench(step, check, {"torch": torch.__version__,
                               "torch_threads": torch.get_num_threads(),
                               "malloc_tuned": False})


FRAMEWORKS = {"flodl": make_flodl, "numpy": make_numpy, "torch": make_torch}

if __name__ == "__main__":
    worker_main(CASE, FRAMEWORKS)
