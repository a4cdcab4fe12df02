"""Micro case: forward + backward of ONE conv2d (with bias), float32.

Shapes (``CONV_MICRO_SHAPE``, default ``resnet``):

* ``lenet``:  input 64x1x28x28, 6 filters 5x5, no padding; the input is a constant
  (first layer: only weight and bias gradients);
* ``resnet``: input 32x16x32x32, 16 filters 3x3, padding 1; the input requires grad
  (a middle layer: input, weight and bias gradients).

The upstream gradient is a fixed random array (the same in both frameworks); the
check values are the sums of squares of every gradient.

Compare flodl and PyTorch on both shapes, interleaved, 1 thread (a table on stdout)::

    python -m benchmarks.cases.conv_micro --compare [--threads 1] [--repeats 31]

or run one framework of one shape with the usual harness options::

    CONV_MICRO_SHAPE=lenet python -m benchmarks.cases.conv_micro --framework flodl
"""
from __future__ import annotations

import os
import sys

if __package__ in (None, ""):   # allow `python benchmarks/cases/conv_micro.py`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))))

from benchmarks.harness import worker_main

SHAPES = {
    # name: (N, C, H, out, k, padding, input requires grad)
    "lenet": (64, 1, 28, 6, 5, 0, False),
    "resnet": (32, 16, 32, 16, 3, 1, True),
}
SHAPE = os.environ.get("CONV_MICRO_SHAPE", "resnet")

CASE = {
    "name": "conv_micro",
    "title": f"one conv2d forward+backward ({SHAPE})",
    "unit": "ms/step",
    "scale": 1e3,
    "inner": 5,
    "warmup": 5,
    "check_rtol": 1e-4,
}


def _init():
    import numpy as np
    N, C, H, O, k, p, _ = SHAPES[SHAPE]
    rng = np.random.default_rng(0)
    bound = 1.0 / np.sqrt(C * k * k)
    w = rng.uniform(-bound, bound, (O, C, k, k)).astype(np.float32)
    b = rng.uniform(-bound, bound, O).astype(np.float32)
    x = rng.standard_normal((N, C, H, H)).astype(np.float32)
    oh = H + 2 * p - k + 1
    gy = rng.standard_normal((N, O, oh, oh)).astype(np.float32)
    return x, w, b, gy


def _sumsq(arrays):
    import numpy as np
    return [float(np.square(np.asarray(a, dtype=np.float64)).sum()) for a in arrays]


def make_flodl(threads: int):
    from benchmarks.harness import Bench

    import flodl_core as fl
    from flodl_core.nn import functional as F
    _, _, _, _, _, p, x_grad = SHAPES[SHAPE]
    x0, w0, b0, gy0 = _init()
    x = fl.Variable(fl.tensor(x0), requires_grad=True) if x_grad else fl.tensor(x0)
    w = fl.Variable(fl.tensor(w0), requires_grad=True)
    b = fl.Variable(fl.tensor(b0), requires_grad=True)
    gy = fl.tensor(gy0)
    leaves = [v for v in (x, w, b) if isinstance(v, fl.Variable)]

    def step():
        y = F.conv2d(x, w, b, padding=p)
        y.backward(gy)
        grads = [v.grad.to_numpy() for v in leaves]
        for v in leaves:
            v.zero_grad()
        return grads

    return Bench(step, lambda: _sumsq(step()),
                 {"flodl_core": fl.__version__, "malloc_tuned": fl.malloc_tuned()})


def make_torch(threads: int):
    from benchmarks.harness import Bench
    import torch
    torch.set_num_threads(threads)
    _, _, _, _, _, p, x_grad = SHAPES[SHAPE]
    x0, w0, b0, gy0 = _init()
    x = torch.from_numpy(x0).requires_grad_(x_grad)
    w = torch.from_numpy(w0).requires_grad_()
    b = torch.from_numpy(b0).requires_grad_()
    gy = torch.from_numpy(gy0)
    leaves = [v for v in (x, w, b) if v.requires_grad]

    def step():
        y = torch.nn.functional.conv2d(x, w, b, padding=p)
        y.backward(gy)
        grads = [v.grad.numpy().copy() for v in leaves]
        for v in leaves:
            v.grad = None
        return grads

    return Bench(step, lambda: _sumsq(step()),
                 {"torch": torch.__version__, "torch_threads": torch.get_num_threads()})


FRAMEWORKS = {"flodl": make_flodl, "torch": make_torch}


def compare(argv=None):
    """Both shapes, flodl vs torch, repetitions interleaved; prints a markdown table."""
    import argparse
    import statistics

    from benchmarks.run import Worker, checks_agree
    ap = argparse.ArgumentParser(description="conv_micro: flodl vs torch, both shapes")
    ap.add_argument("--compare", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=31)
    args = ap.parse_args(argv)
    rows = []
    for shape in SHAPES:
        os.environ["CONV_MICRO_SHAPE"] = shape
        workers = [Worker("conv_micro", fw, args.threads, None, None)
                   for fw in ("flodl", "torch")]
        try:
            if not checks_agree(workers[1].check, workers[0].check, CASE["check_rtol"]):
                raise SystemExit(f"{shape}: gradients differ: flodl {workers[0].check} "
                                 f"torch {workers[1].check}")
            for r in range(args.repeats):
                for w in (workers if r % 2 == 0 else workers[::-1]):
                    w.run_once()
        finally:
            for w in workers:
                w.close()
        fl_t, th_t = (statistics.median(w.times) for w in workers)
        fl_min, th_min = (min(w.times) for w in workers)
        rows.append(f"| {shape} | {fl_t:.3f} | {th_t:.3f} | {fl_t / th_t:.2f} | "
                    f"{fl_min:.3f} | {th_min:.3f} | {fl_min / th_min:.2f} |")
    print(f"conv2d forward+backward, float32, {args.threads} thread(s), ms per step")
    print("| shape | flodl median | torch median | ratio | flodl min | torch min | ratio |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    if "--compare" in sys.argv:
        compare()
    else:
        worker_main(CASE, FRAMEWORKS)
