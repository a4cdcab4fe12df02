"""Case 1: per-op overhead. A chain of 1000 ``add`` ops on 4x4 float32, forward + backward.

``x`` requires grad, ``c`` is a constant (requires_grad=False in flodl and torch):

    y = x
    for _ in range(1000):
        y = y + c
    y.backward(ones)          # seeded with a ones gradient of y's shape

Reported: microseconds per op = time of one chain (forward + backward) / 1000.
The arrays are tiny, so this measures the framework's Python/dispatch cost per op.

The NumPy "floor" does the same array math and keeps every intermediate on a tape
(as autograd must); its backward walks the tape, where the gradient of ``a + c``
passes through to ``a`` unchanged.

Run one framework alone:  python -m benchmarks.cases.add_chain --framework flodl
"""
from __future__ import annotations

if __package__ in (None, ""):   # allow `python benchmarks/cases/add_chain.py`
    import os as _os
    import sys as _sys
    _sys.path.insert(0, _os.path.dirname(_os.path.dirname(_os.path.dirname(
        _os.path.abspath(__file__)))))

from benchmarks.harness import Bench, worker_main

N_OPS = 1000
SHAPE = (4, 4)

CASE = {
    "name": "add_chain",
    "title": f"{N_OPS}-op add chain, 4x4 float32, forward+backward",
    "unit": "us/op",
    "scale": 1e6 / N_OPS,     # seconds per chain -> microseconds per op
    "inner": 20,              # chains per timed repetition
    "warmup": 5,
    "check_rtol": 1e-6,       # the same float32 adds in the same order: results match
}


def _inputs():
    import numpy as np
    rng = np.random.default_rng(0)
    x = rng.standard_normal(SHAPE).astype(np.float32)
    c = rng.standard_normal(SHAPE).astype(np.float32)
    return x, c


def make_flodl(threads: int) -> Bench:
    import numpy as np

    import flodl_core as fl
    x0, c0 = _inputs()
    x = fl.Variable(fl.tensor(x0), requires_grad=True)
    c = fl.Variable(fl.tensor(c0))
    seed = fl.tensor(np.ones(SHAPE, np.float32))

    def step():
        x.zero_grad()
        y = x
        for _ in range(N_OPS):
            y = y + c
        y.backward(seed)
        return y

    def check():
        y = step()
        return [y._data.sum(dtype=np.float64), x.grad_array().sum(dtype=np.float64)]

    return Bench(step, check, {"flodl_core": fl.__version__,
                               "malloc_tuned": fl.malloc_tuned()})


def make_numpy(threads: int) -> Bench:
    import numpy as np
    x, c = _inputs()
    ones = np.ones(SHAPE, np.float32)
    out = {}

    def step():
        y = x
        tape = []
        for _ in range(N_OPS):
            y = y + c
            tape.append(y)
        g = ones
        for _ in reversed(tape):
            pass              # d(a + c)/da = 1: the gradient passes through unchanged
        out["y"], out["gx"] = y, g

    def check():
        step()
        return [out["y"].sum(dtype=np.float64), out["gx"].sum(dtype=np.float64)]

    return Bench(step, check, {"malloc_tuned": False})


def make_torch(threads: int) -> Bench:
    import numpy as np
    import torch
    torch.set_num_threads(threads)
    x0, c0 = _inputs()
    x = torch.from_numpy(x0).requires_grad_()
    c = torch.from_numpy(c0)
    ones = torch.ones(SHAPE)

    def step():
        x.grad = None
        y = x
        for _ in range(N_OPS):
            y = y + c
        y.backward(ones)
        return y

    def check():
        y = step()
        return [y.detach().numpy().sum(dtype=np.float64),
                x.grad.numpy().sum(dtype=np.float64)]

    return Bench(step, check, {"torch": torch.__version__,
                               "torch_threads": torch.get_num_threads(),
                               "malloc_tuned": False})


FRAMEWORKS = {"flodl": make_flodl, "numpy": make_numpy, "torch": make_torch}

if __name__ == "__main__":
    worker_main(CASE, FRAMEWORKS)
