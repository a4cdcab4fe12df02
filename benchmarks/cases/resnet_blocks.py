"""Case 4: two ResNet basic blocks on 16x32x32 inputs, batch 32, float32, training step.

Forward (the same op sequence in flodl and torch, through ``F``); each block::

    h = relu(batch_norm(conv2d(x, K1, None, padding=1), rm1, rv1, g1, b1, training=True))
    h = batch_norm(conv2d(h, K2, None, padding=1), rm2, rv2, g2, b2, training=True)
    x = relu(h + x)

(3x3 convolutions 16->16 without bias; batch norm in training mode, momentum 0.1,
eps 1e-5, updating its running mean and variance), then::

    logits = linear(x.mean over (2, 3), W, b)                  # global average pool, 16->10
    loss = -(log_softmax(logits, dim=1) * onehot).sum() / B    # cross-entropy

then backward and SGD with momentum 0.9, lr 0.01, in place (``_common.py``). Weights:
NumPy seed 0 in PyTorch's layouts (batch-norm weight 1, bias 0, running stats 0 and 1),
the same arrays for both frameworks. Check: the losses of the first 5 steps, the sum
of squared momentum buffers, the sum of |running mean| and the sum of running
variances over all batch norms agree
to 1e-4 relative. Reported: milliseconds per step. No hand-written NumPy column.

Run one framework alone:  python -m benchmarks.cases.resnet_blocks --framework flodl
"""
from __future__ import annotations

if __package__ in (None, ""):   # allow `python benchmarks/cases/resnet_blocks.py`
    import os as _os
    import sys as _sys
    _sys.path.insert(0, _os.path.dirname(_os.path.dirname(_os.path.dirname(
        _os.path.abspath(__file__)))))

from benchmarks.cases._common import (FlodlSGD, TorchSGD, check_values, flodl_meta, onehot,
                                      torch_setup, uniform_fan_in)
from benchmarks.harness import Bench, worker_main

B = 32
C = 16
HW = 32
CLASSES = 10
BLOCKS = 2
BN_MOMENTUM = 0.1
BN_EPS = 1e-5

CASE = {
    "name": "resnet_blocks",
    "title": "two ResNet basic blocks 16x32x32 + pool + linear, batch 32, float32, "
             "SGD momentum",
    "unit": "ms/step",
    "scale": 1e3,
    "inner": 3,
    "warmup": 3,
    # float32; different convolution algorithms and batch-norm reduction orders.
    # Measured: at most 4e-7 relative (losses 2e-7, buffers 4e-7, running stats 5e-8);
    # 1e-4 leaves room for other BLAS builds.
    "check_rtol": 1e-4,
}


def _init():
    """Per block [K1, g1, b1, K2, g2, b2] (+ running stats); then W, b; input; one-hot."""
    import numpy as np
    rng = np.random.default_rng(0)
    params, stats = [], []
    for _ in range(BLOCKS):
        for _ in range(2):
            params += [uniform_fan_in(rng, (C, C, 3, 3), C * 9),     # conv, no bias
                       np.ones(C, np.float32), np.zeros(C, np.float32)]   # bn weight, bias
            stats += [np.zeros(C, np.float32), np.ones(C, np.float32)]  # running mean, var
    params += [uniform_fan_in(rng, (CLASSES, C), C), uniform_fan_in(rng, (CLASSES,), C)]
    x = rng.standard_normal((B, C, HW, HW)).astype(np.float32)
    labels = rng.integers(0, CLASSES, B)
    return params, stats, x, onehot(labels, CLASSES)


def _forward(F, x, params, stats, mean_hw):
    """The model, for either framework's ``F``; ``mean_hw(t)`` averages over dims 2, 3."""
    for blk in range(BLOCKS):
        K1, g1, b1, K2, g2, b2 = params[6 * blk: 6 * blk + 6]
        rm1, rv1, rm2, rv2 = stats[4 * blk: 4 * blk + 4]
        h = F.conv2d(x, K1, None, padding=1)
        h = F.relu(F.batch_norm(h, rm1, rv1, g1, b1, training=True,
                                momentum=BN_MOMENTUM, eps=BN_EPS))
        h = F.conv2d(h, K2, None, padding=1)
        h = F.batch_norm(h, rm2, rv2, g2, b2, training=True, momentum=BN_MOMENTUM, eps=BN_EPS)
        x = F.relu(h + x)
    W, b = params[-2:]
    return F.linear(mean_hw(x), W, b)


def make_flodl(threads: int) -> Bench:
    import numpy as np

    import flodl_core as fl
    from flodl_core.nn import functional as F
    init, stats0, x0, onehot0 = _init()
    params = [fl.Variable(fl.tensor(a), requires_grad=True) for a in init]
    # Running statistics are buffers: tensors that batch_norm updates in place.
    stats = [fl.tensor(a) for a in stats0]
    x = fl.tensor(x0)
    target = fl.tensor(onehot0)
    opt = FlodlSGD(params)

    def step():
        logits = _forward(F, x, params, stats, lambda t: t.mean_dim((2, 3)))
        loss = -(F.log_softmax(logits, dim=1) * target).sum() / B
        loss.backward()
        opt.step()
        return loss

    def stat_sums():
        arrays = [np.asarray(s.numpy(), np.float64) for s in stats]
        return [sum(np.abs(a).sum() for a in arrays[0::2]), sum(a.sum() for a in arrays[1::2])]

    return Bench(step, check_values(lambda: step().item(), opt, stat_sums), flodl_meta())


def make_torch(threads: int) -> Bench:
    torch, meta = torch_setup(threads)
    F = torch.nn.functional
    init, stats0, x0, onehot0 = _init()
    params = [torch.from_numpy(a).requires_grad_() for a in init]
    stats = [torch.from_numpy(a) for a in stats0]
    x = torch.from_numpy(x0)
    target = torch.from_numpy(onehot0)
    opt = TorchSGD(params)

    def step():
        logits = _forward(F, x, params, stats, lambda t: t.mean(dim=(2, 3)))
        loss = -(F.log_softmax(logits, dim=1) * target).sum() / B
        loss.backward()
        opt.step()
        return loss

    def stat_sums():
        return [sum(s.double().abs().sum().item() for s in stats[0::2]),
                sum(s.double().sum().item() for s in stats[1::2])]

    return Bench(step, check_values(lambda: step().item(), opt, stat_sums), meta)


FRAMEWORKS = {"flodl": make_flodl, "torch": make_torch}

if __name__ == "__main__":
    worker_main(CASE, FRAMEWORKS)
