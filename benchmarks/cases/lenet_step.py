"""Case 3: one LeNet-5 training step on 1x28x28 inputs, batch 64, float32.

Forward (the same op sequence in flodl and torch, through ``F``)::

    h = max_pool2d(relu(conv2d(x, C1, c1, padding=2)), 2)      # 6x14x14
    h = max_pool2d(relu(conv2d(h, C2, c2)), 2)                 # 16x5x5
    h = h.flatten(1)                                           # 400
    h = relu(linear(h, W1, b1)); h = relu(linear(h, W2, b2))   # 120, 84
    logits = linear(h, W3, b3)                                 # 10
    loss = -(log_softmax(logits, dim=1) * onehot).sum() / B    # NLL, mean over the batch

then backward and SGD with momentum 0.9, lr 0.01, in place on the parameter arrays
(``benchmarks/cases/_common.py``). Weights: NumPy seed 0, PyTorch's layouts and
default init bounds, the same arrays for both frameworks. Check: the losses of the
first 5 steps and the sum of squared momentum buffers agree to 1e-4 relative.
Reported: milliseconds per step. No hand-written NumPy column for this case.

Run one framework alone:  python -m benchmarks.cases.lenet_step --framework flodl
"""
from __future__ import annotations

if __package__ in (None, ""):   # allow `python benchmarks/cases/lenet_step.py`
    import os as _os
    import sys as _sys
    _sys.path.insert(0, _os.path.dirname(_os.path.dirname(_os.path.dirname(
        _os.path.abspath(__file__)))))

from benchmarks.cases._common import (FlodlSGD, TorchSGD, check_values, flodl_meta, onehot,
                                      torch_setup, uniform_fan_in)
from benchmarks.harness import Bench, worker_main

B = 64
CLASSES = 10

CASE = {
    "name": "lenet_step",
    "title": "LeNet-5 training step, 1x28x28, batch 64, float32, SGD momentum",
    "unit": "ms/step",
    "scale": 1e3,
    "inner": 5,
    "warmup": 5,
    # float32 throughout; the convolutions use different algorithms (PyTorch: oneDNN)
    # and sum in another order. Measured: losses identical, buffers 3e-8 relative
    # (OpenBLAS SkylakeX vs MKL); 1e-4 leaves room for other BLAS builds.
    "check_rtol": 1e-4,
}


def _init():
    """Parameters in order C1, c1, C2, c2, W1, b1, W2, b2, W3, b3; input; one-hot labels."""
    import numpy as np
    rng = np.random.default_rng(0)
    params = []
    for shape in ((6, 1, 5, 5), (16, 6, 5, 5)):           # conv (out, in, kh, kw)
        fan_in = shape[1] * shape[2] * shape[3]
        params += [uniform_fan_in(rng, shape, fan_in), uniform_fan_in(rng, shape[:1], fan_in)]
    for fan_in, fan_out in ((400, 120), (120, 84), (84, CLASSES)):   # linear (out, in)
        params += [uniform_fan_in(rng, (fan_out, fan_in), fan_in),
                   uniform_fan_in(rng, (fan_out,), fan_in)]
    x = rng.standard_normal((B, 1, 28, 28)).astype(np.float32)
    labels = rng.integers(0, CLASSES, B)
    return params, x, onehot(labels, CLASSES)


def _step(F, params, x, target, opt):
    """One training step, for either framework's ``F`` (the same op sequence in both)."""
    C1, c1, C2, c2, W1, b1, W2, b2, W3, b3 = params
    h = F.max_pool2d(F.relu(F.conv2d(x, C1, c1, padding=2)), 2)
    h = F.max_pool2d(F.relu(F.conv2d(h, C2, c2)), 2)
    h = h.flatten(1)
    h = F.relu(F.linear(h, W1, b1))
    h = F.relu(F.linear(h, W2, b2))
    logits = F.linear(h, W3, b3)
    loss = -(F.log_softmax(logits, dim=1) * target).sum() / B
    loss.backward()
    opt.step()
    return loss


def make_flodl(threads: int) -> Bench:
    import flodl_core as fl
    from flodl_core.nn import functional as F
    init, x0, onehot0 = _init()
    params = [fl.Variable(fl.tensor(a), requires_grad=True) for a in init]
    x = fl.tensor(x0)
    target = fl.tensor(onehot0)
    opt = FlodlSGD(params)

    def step():
        return _step(F, params, x, target, opt)

    return Bench(step, check_values(lambda: step().item(), opt), flodl_meta())


def make_torch(threads: int) -> Bench:
    torch, meta = torch_setup(threads)
    F = torch.nn.functional
    init, x0, onehot0 = _init()
    params = [torch.from_numpy(a).requires_grad_() for a in init]
    x = torch.from_numpy(x0)
    target = torch.from_numpy(onehot0)
    opt = TorchSGD(params)

    def step():
        return _step(F, params, x, target, opt)

    return Bench(step, check_values(lambda: step().item(), opt), meta)


FRAMEWORKS = {"flodl": make_flodl, "torch": make_torch}

if __name__ == "__main__":
    worker_main(CASE, FRAMEWORKS)
