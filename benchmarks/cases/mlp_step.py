"""Case 2: one training step of a 784-512-512-10 MLP, batch 128, float32.

Forward (the same op sequence in flodl and torch)::

    h1 = relu(x @ W1 + b1); h2 = relu(h1 @ W2 + b2); logits = h2 @ W3 + b3
    loss = -(log_softmax(logits, dim=1) * onehot).sum() / B

then backward and SGD with momentum 0.9, lr 0.01, in place, for every parameter::

    buf = 0.9 * buf + g;  p -= lr * buf          (buf starts at zero)

The hand-written NumPy version computes the same forward, a manual backward
(softmax - onehot) / B through the layers, and the same in-place update with
``out=`` into preallocated buffers. All frameworks start from the same weights
(NumPy seed 0) and train on the same batch; run.py checks that their losses over
the first steps agree before timing. Reported: milliseconds per step.

Run one framework alone:  python -m benchmarks.cases.mlp_step --framework flodl
"""
from __future__ import annotations

if __package__ in (None, ""):   # allow `python benchmarks/cases/mlp_step.py`
    import os as _os
    import sys as _sys
    _sys.path.insert(0, _os.path.dirname(_os.path.dirname(_os.path.dirname(
        _os.path.abspath(__file__)))))

from benchmarks.harness import Bench, numpy_meta, tune_malloc_like_flodl, worker_main

SIZES = (784, 512, 512, 10)
B = 128
LR = 0.01
MOMENTUM = 0.9
CHECK_STEPS = 5

CASE = {
    "name": "mlp_step",
    "title": "MLP 784-512-512-10 training step, batch 128, float32, SGD momentum",
    "unit": "ms/step",
    "scale": 1e3,
    "inner": 5,               # steps per timed repetition
    "warmup": 5,
    "check_rtol": 1e-4,       # losses of the first CHECK_STEPS steps
}


def _init():
    """Weights (uniform +-1/sqrt(fan_in), like torch.nn.Linear), one batch, one-hot labels."""
    import numpy as np
    rng = np.random.default_rng(0)
    params = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:]):
        bound = 1.0 / np.sqrt(fan_in)
        params.append(rng.uniform(-bound, bound, (fan_in, fan_out)).astype(np.float32))
        params.append(rng.uniform(-bound, bound, (fan_out,)).astype(np.float32))
    x = rng.standard_normal((B, SIZES[0])).astype(np.float32)
    labels = rng.integers(0, SIZES[-1], B)
    onehot = np.zeros((B, SIZES[-1]), np.float32)
    onehot[np.arange(B), labels] = 1.0
    return params, x, onehot


def _sgd_momentum_numpy(params, grads, bufs, tmps):
    """buf = 0.9*buf + g; p -= lr*buf -- in place, no temporaries."""
    import numpy as np
    for p, g, buf, tmp in zip(params, grads, bufs, tmps):
        np.multiply(buf, MOMENTUM, out=buf)
        np.add(buf, g, out=buf)
        np.multiply(buf, LR, out=tmp)
        np.subtract(p, tmp, out=p)


def _check_with(step):
    return lambda: [float(step()) for _ in range(CHECK_STEPS)]


# ------------------------------------------------------------------ flodl_core


def make_flodl(threads: int) -> Bench:
    import numpy as np

    import flodl_core as fl
    init, x0, onehot0 = _init()
    params = [fl.Variable(fl.tensor(a), requires_grad=True) for a in init]
    W1, b1, W2, b2, W3, b3 = params
    x = fl.tensor(x0)
    onehot = fl.tensor(onehot0)
    bufs = [np.zeros_like(p._data) for p in params]
    tmps = [np.empty_like(p._data) for p in params]

    def step():
        h1 = (x @ W1 + b1).relu()
        h2 = (h1 @ W2 + b2).relu()
        logits = h2 @ W3 + b3
        logp = logits.log_softmax(1)
        loss = -(logp * onehot).sum() / B
        loss.backward()
        _sgd_momentum_numpy([p._data for p in params], [p.grad_array() for p in params],
                            bufs, tmps)
        for p in params:
            p.zero_grad()
        return loss

    return Bench(step, _check_with(lambda: step().item()),
                 {"flodl_core": fl.__version__, "malloc_tuned": fl.malloc_tuned()})


# ------------------------------------------------------------- hand-written NumPy


def _make_numpy(threads: int, tuned: bool) -> Bench:
    malloc_tuned = tune_malloc_like_flodl() if tuned else False
    import numpy as np
    params, x, onehot = _init()
    W1, b1, W2, b2, W3, b3 = params
    bufs = [np.zeros_like(p) for p in params]
    tmps = [np.empty_like(p) for p in params]

    def step():
        z1 = x @ W1 + b1
        h1 = np.maximum(z1, 0)
        z2 = h1 @ W2 + b2
        h2 = np.maximum(z2, 0)
        logits = h2 @ W3 + b3
        shifted = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        s = e.sum(axis=1, keepdims=True)
        logp = shifted - np.log(s)
        loss = -(logp * onehot).sum() / B
        # backward: d loss / d logits = (softmax - onehot) / B
        g3 = (e / s - onehot) / B
        gW3 = h2.T @ g3
        gb3 = g3.sum(axis=0)
        gz2 = (g3 @ W3.T) * (z2 > 0)
        gW2 = h1.T @ gz2
        gb2 = gz2.sum(axis=0)
        gz1 = (gz2 @ W2.T) * (z1 > 0)
        gW1 = x.T @ gz1
        gb1 = gz1.sum(axis=0)
        _sgd_momentum_numpy(params, (gW1, gb1, gW2, gb2, gW3, gb3), bufs, tmps)
        return loss

    return Bench(step, _check_with(step), {"malloc_tuned": malloc_tuned})


def make_numpy(threads: int) -> Bench:
    return _make_numpy(threads, tuned=False)


def make_numpy_mallopt(threads: int) -> Bench:
    """Reference only: hand-written NumPy with flodl_core's glibc malloc tuning applied."""
    return _make_numpy(threads, tuned=True)


# ----------------------------------------------------------------------- torch


def make_torch(threads: int) -> Bench:
    import torch
    torch.set_num_threads(threads)
    init, x0, onehot0 = _init()
    params = [torch.from_numpy(a).requires_grad_() for a in init]
    W1, b1, W2, b2, W3, b3 = params
    x = torch.from_numpy(x0)
    onehot = torch.from_numpy(onehot0)
    bufs = [torch.zeros_like(p) for p in params]

    def step():
        h1 = torch.relu(x @ W1 + b1)
        h2 = torch.relu(h1 @ W2 + b2)
        logits = h2 @ W3 + b3
        logp = torch.log_softmax(logits, dim=1)
        loss = -(logp * onehot).sum() / B
        loss.backward()
        with torch.no_grad():
            for p, buf in zip(params, bufs):
                buf.mul_(MOMENTUM).add_(p.grad)
                p.sub_(buf, alpha=LR)
                p.grad = None
        return loss

    meta = {"torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "malloc_tuned": False}
    return Bench(step, _check_with(lambda: step().item()), meta)


FRAMEWORKS = {"flodl": make_flodl, "numpy": make_numpy, "torch": make_torch,
              "numpy+mallopt": make_numpy_mallopt}

if __name__ == "__main__":
    worker_main(CASE, FRAMEWORKS)
