"""Registry entries: add sub mul div neg, *_scalar, matmul."""
from __future__ import annotations

import numpy as np

from ...backend.dtype import DType
from . import OpInfo, SampleInput, register
from .samples import binary, noncontig, uniform, unary

ALL_FLOATS = (DType.Float64, DType.Float32, DType.Float16, DType.BFloat16)

register(OpInfo("add", binary, np.add, dtypes=ALL_FLOATS))
register(OpInfo("sub", binary, np.subtract, dtypes=ALL_FLOATS))
register(OpInfo("mul", binary, np.multiply, dtypes=ALL_FLOATS))
def _div_ref(a, b, rounding_mode=None):
    if rounding_mode == "trunc":
        return np.trunc(a / b)
    if rounding_mode == "floor":
        return np.floor_divide(a, b)          # Python's (and PyTorch's) floor division
    return a / b


def _div_samples(rng):
    out = binary(rng, b_range=(0.5, 2.0))
    # rounding_mode: quotients are exact half-integers (a = (q + 1/2) b with b a
    # power of two), as far from the jumps as possible in every dtype; the
    # gradient is zero (PyTorch), numerically too.
    for mode, sa, sb in (("trunc", (2, 3), (2, 3)), ("floor", (2, 3), (3,)),
                         ("floor", (2, 3), ()), ("trunc", (4,), (1,))):
        b = rng.choice([-4.0, -2.0, -0.5, 0.5, 2.0, 4.0], size=sb)
        a = (rng.integers(-3, 3, size=sa) + 0.5) * b
        out.append(SampleInput((a, b), dict(rounding_mode=mode), desc=mode))
    for mode, v in (("floor", 2), ("trunc", -2.5)):
        a = (rng.integers(-3, 3, size=(2, 3)) + 0.5) * v
        out.append(SampleInput((a, v), dict(rounding_mode=mode), desc=f"{mode}, number {v}"))
    return out


register(OpInfo("div", _div_samples, _div_ref, dtypes=ALL_FLOATS))
register(OpInfo("neg", unary, np.negative, dtypes=ALL_FLOATS))


def _scalar_samples(rng):
    return [SampleInput(s.args + (v,), desc=s.desc)
            for s, v in zip(unary(rng), (2.5, -1.0, 0.5, 3.0, -0.25, 1.5))]


register(OpInfo("add_scalar", _scalar_samples, lambda x, v: x + v, dtypes=ALL_FLOATS))
register(OpInfo("sub_scalar", _scalar_samples, lambda x, v: x - v, dtypes=ALL_FLOATS))
register(OpInfo("mul_scalar", _scalar_samples, lambda x, v: x * v, dtypes=ALL_FLOATS))
register(OpInfo("div_scalar", _scalar_samples, lambda x, v: x / v, dtypes=ALL_FLOATS))


def _matmul_samples(rng):
    pairs = [((2, 3), (3, 4)), ((1, 3), (3, 1)), ((3,), (3,)), ((3,), (3, 2)),
             ((2, 3), (3,)), ((2, 2, 3), (3, 4)), ((2, 1, 2, 3), (3, 3, 2)),
             ((4,), (2, 4, 3))]
    out = [SampleInput((uniform(rng, a), uniform(rng, b))) for a, b in pairs]
    out.append(SampleInput((noncontig(uniform(rng, (3, 2))), noncontig(uniform(rng, (2, 4)))),
                           desc="non-contiguous"))
    return out


register(OpInfo("matmul", _matmul_samples, np.matmul, dtypes=ALL_FLOATS,
                fwd_tol={DType.Float16: (3e-2, 2e-2), DType.BFloat16: (1e-1, 5e-2)}))
