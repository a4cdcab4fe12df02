"""Registry entries: pow, exp/log family, trig, activations, clamp, rounding,
maximum/minimum, where, masked_fill."""
from __future__ import annotations

import numpy as np

from ...backend.dtype import DType
from ..ops.elementwise import where
from . import OpInfo, SampleInput, register
from .samples import BINARY_SHAPES, binary, noncontig, uniform, unary

ALL_FLOATS = (DType.Float64, DType.Float32, DType.Float16, DType.BFloat16)
POSITIVE = (0.5, 2.0)


def _pos(rng):
    return unary(rng, *POSITIVE)


# ----------------------------------------------------------------- pow


def _pow_samples(rng):
    out = binary(rng, a_range=POSITIVE, b_range=(-2.0, 2.0))
    # An integer exponent tensor (a constant): Float base ** Int64 exponent stays float.
    out.append(SampleInput((uniform(rng, (2, 3), -2.0, 2.0, avoid=(0.0,)),
                            rng.integers(-2, 4, size=(3,)).astype(np.int64)),
                           desc="int exponent"))
    # A Python-number exponent routes to pow_scalar, as torch.Tensor.pow does.
    out.append(SampleInput((uniform(rng, (2, 3), *POSITIVE), 2.5), desc="number exponent"))
    return out


register(OpInfo("pow", _pow_samples, np.power, dtypes=ALL_FLOATS))


def _pow_scalar_samples(rng):
    out = [SampleInput(s.args + (p,), desc=s.desc)
           for s, p in zip(unary(rng, *POSITIVE), (2, 3, 0.5, -1, 1.5, -0.5))]
    # Integer powers of negative bases; p == 0 (zero gradient) and p == 1.
    out += [SampleInput((uniform(rng, (2, 3), avoid=(0.0,)), p), desc=f"p={p}")
            for p in (2, 3, 0, 1, -2.0)]
    return out


register(OpInfo("pow_scalar", _pow_scalar_samples, np.power, dtypes=ALL_FLOATS,
                fwd_tol={DType.BFloat16: (1e-1, 3e-2)}))

# ------------------------------------------------------- exp, log, roots

register(OpInfo("exp", unary, np.exp, dtypes=ALL_FLOATS))
register(OpInfo("expm1", unary, np.expm1, dtypes=ALL_FLOATS))
register(OpInfo("log", _pos, np.log, dtypes=ALL_FLOATS))
register(OpInfo("log1p", lambda rng: unary(rng, -0.5, 2.0), np.log1p, dtypes=ALL_FLOATS))
register(OpInfo("log2", _pos, np.log2, dtypes=ALL_FLOATS))
register(OpInfo("log10", _pos, np.log10, dtypes=ALL_FLOATS))
register(OpInfo("sqrt", _pos, np.sqrt, dtypes=ALL_FLOATS))
register(OpInfo("rsqrt", _pos, lambda x: 1.0 / np.sqrt(x), dtypes=ALL_FLOATS))
register(OpInfo("reciprocal", _pos, np.reciprocal, dtypes=ALL_FLOATS))
register(OpInfo("square", unary, np.square, dtypes=ALL_FLOATS))

# -------------------------------------------------------- trig, activations

register(OpInfo("sin", lambda rng: unary(rng, -3.0, 3.0), np.sin, dtypes=ALL_FLOATS))
register(OpInfo("cos", lambda rng: unary(rng, -3.0, 3.0), np.cos, dtypes=ALL_FLOATS))
register(OpInfo("tanh", unary, np.tanh, dtypes=ALL_FLOATS))
register(OpInfo("sigmoid", lambda rng: unary(rng, -4.0, 4.0),
                lambda x: 1.0 / (1.0 + np.exp(-x)), dtypes=ALL_FLOATS))
# Kinks at 0: samples stay away from it.
register(OpInfo("relu", lambda rng: unary(rng, avoid=(0.0,)), lambda x: np.maximum(x, 0.0),
                dtypes=ALL_FLOATS))
register(OpInfo("abs", lambda rng: unary(rng, avoid=(0.0,)), np.abs, dtypes=ALL_FLOATS))

# ----------------------------------------------------------------- clamp


def _clamp_ref(x, min=None, max=None):
    if min is not None:
        x = np.maximum(x, min)
    if max is not None:
        x = np.minimum(x, max)
    return x


def _clamp_samples(rng):
    bounds = [dict(min=-0.5, max=0.5), dict(min=-1.0), dict(max=1.0), dict(min=-1.5, max=0.25),
              dict(min=0.0, max=1.0), dict(min=-0.75, max=0.75)]
    out = []
    for s, kw in zip(unary(rng, avoid=(-1.5, -1.0, -0.75, -0.5, 0.0, 0.25, 0.5, 0.75, 1.0)),
                     bounds):
        out.append(SampleInput(s.args, kw, desc=s.desc))
    # min > max: every element becomes max, the gradient is 0 (PyTorch).
    out.append(SampleInput((uniform(rng, (2, 3)),), dict(min=1.0, max=-1.0), desc="min > max"))
    # Int bound on a float tensor.
    out.append(SampleInput((uniform(rng, (4,), avoid=(0.0,)),), dict(min=0), desc="int bound"))
    return out + _clamp_tensor_samples(rng)


def _grid(rng, shape, offset):
    """Values k/2 + offset (k in -4..3) jittered by at most 0.02: arrays drawn with
    offsets 0, 1/6 and 1/3 stay more than 0.12 apart elementwise, so no sample sits
    on a kink of clamp (x == min, x == max or min == max)."""
    k = rng.integers(-4, 4, size=shape)
    return np.asarray(k * 0.5 + offset + rng.uniform(-0.02, 0.02, size=shape), dtype=np.float64)


def _clamp_tensor_samples(rng):
    """Tensor bounds, passed positionally (differentiable): x, min, max."""
    def x(s):
        return _grid(rng, s, 0.0)

    def lo(s):
        return _grid(rng, s, 1 / 6)

    def hi(s):
        return _grid(rng, s, 1 / 3)

    return [
        # Random grids mix every region: below min, inside, above max, min > max.
        SampleInput((x((2, 3)), lo((3,)), hi((2, 1))), desc="tensor bounds, broadcasting"),
        # (torch's backward raises when x broadcasts with min to a smaller shape than
        # the result, e.g. x (3,), min (2, 3), max (): its masks combine in place.)
        SampleInput((x((3,)), lo((2, 3)), hi((2, 1))), desc="bounds wider than x"),
        SampleInput((x((2, 3)), lo((2, 3))), desc="tensor min only"),
        SampleInput((x((2, 1, 3)), None, hi((4, 1))), desc="tensor max only"),
        SampleInput((x(()), lo((2, 3))), desc="0-d x, tensor min"),
        SampleInput((x(()), lo(()), hi(())), desc="0-d everything"),
        # min > max everywhere: the result is max, only max gets a gradient.
        SampleInput((x((2, 3)), uniform(rng, (3,), 0.5, 1.5), uniform(rng, (2, 3), -1.5, -0.5)),
                    desc="tensor min > max"),
        SampleInput((noncontig(x((3, 2))), noncontig(lo((3, 2))), noncontig(hi((3, 2)))),
                    desc="non-contiguous bounds"),
        # An Int64 bound (a constant) on a float tensor: the result stays float.
        SampleInput((_grid(rng, (2, 3), 0.25), rng.integers(-1, 1, size=(3,)),
                     _grid(rng, (2, 3), 0.1)), desc="int tensor min"),
    ]


def _clamp_one_side_samples(rng, values):
    """clamp_min / clamp_max: number bounds, then tensor bounds (broadcasting)."""
    out = _scalar_bound_samples(rng, values)
    for sx, sb in (((2, 3), (3,)), ((3,), (2, 3)), ((), (2, 1)), ((2, 3), ())):
        out.append(SampleInput((_grid(rng, sx, 0.0), _grid(rng, sb, 0.25)), desc="tensor bound"))
    return out


def _scalar_bound_samples(rng, values):
    return [SampleInput(s.args + (v,), desc=s.desc)
            for s, v in zip(unary(rng, avoid=values), values)]


_BOUNDS = (-0.5, 0.0, 0.5, 1.0, -1.0, 0.25)
register(OpInfo("clamp", _clamp_samples, _clamp_ref, dtypes=ALL_FLOATS))
register(OpInfo("clamp_min", lambda rng: _clamp_one_side_samples(rng, _BOUNDS), np.maximum,
                dtypes=ALL_FLOATS))
register(OpInfo("clamp_max", lambda rng: _clamp_one_side_samples(rng, _BOUNDS), np.minimum,
                dtypes=ALL_FLOATS))

# ------------------------------------------ sign and rounding (zero gradient)

# Piecewise constant: samples stay away from the jumps, where the numeric
# gradient is 0 like the analytic one.
_INTS = (-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0)
_HALVES = (-2.5, -1.5, -0.5, 0.5, 1.5, 2.5)


def _round_samples(rng):
    out = unary(rng, -3.0, 3.0, avoid=_HALVES)
    # decimals=1: tenths plus an offset of at most 0.02, far from the x.x5 jumps.
    x = np.round(rng.uniform(-2.0, 2.0, size=(2, 3)), 1) + rng.uniform(-0.02, 0.02, size=(2, 3))
    out.append(SampleInput((x,), dict(decimals=1), desc="decimals=1"))
    return out


register(OpInfo("sign", lambda rng: unary(rng, avoid=(0.0,)), np.sign, dtypes=ALL_FLOATS))
register(OpInfo("floor", lambda rng: unary(rng, -3.0, 3.0, avoid=_INTS), np.floor,
                dtypes=ALL_FLOATS))
register(OpInfo("ceil", lambda rng: unary(rng, -3.0, 3.0, avoid=_INTS), np.ceil,
                dtypes=ALL_FLOATS))
register(OpInfo("round", _round_samples, lambda x, decimals=0: np.round(x, decimals),
                dtypes=ALL_FLOATS))

# ------------------------------------------------------- maximum, minimum

# Random pairs never tie; the tie rule (gradient split half/half) is a kink
# that finite differences of the backward cannot check.
register(OpInfo("maximum", binary, np.maximum, dtypes=ALL_FLOATS))
register(OpInfo("minimum", binary, np.minimum, dtypes=ALL_FLOATS))

# ---------------------------------------------------- where, masked_fill

_WHERE_SHAPES = [((2, 3), (2, 3), (2, 3)), ((3,), (2, 3), ()), ((2, 1, 3), (4, 1), (3,)),
                 ((), (2, 3), (2, 3)), ((2, 3), (1,), (2, 1)), ((1,), (), ())]


def _mask(rng, shape):
    return np.asarray(rng.random(shape) < 0.5)


def _where_samples(rng):
    out = [SampleInput((_mask(rng, sc), uniform(rng, sa), uniform(rng, sb)))
           for sc, sa, sb in _WHERE_SHAPES]
    out.append(SampleInput((_mask(rng, (2, 3)), uniform(rng, (2, 3)), 0.5), desc="scalar b"))
    out.append(SampleInput((_mask(rng, (3,)), -1.5, uniform(rng, (2, 3))), desc="scalar a"))
    out.append(SampleInput((noncontig(_mask(rng, (3, 2))), noncontig(uniform(rng, (3, 2))),
                            noncontig(uniform(rng, (3, 2)))), desc="non-contiguous"))
    return out


register(OpInfo("where", _where_samples, np.where, op=lambda c, a, b: where(c, a, b),
                dtypes=ALL_FLOATS))


def _masked_fill_samples(rng):
    pairs = BINARY_SHAPES[:4] + [((), ()), ((2, 3), (2, 1, 3))]
    values = (-1.5, 0.0, 2.0, 0.25, -3.0, 1.0)
    out = [SampleInput((uniform(rng, sx), _mask(rng, sm), v))
           for (sx, sm), v in zip(pairs, values)]
    out.append(SampleInput((noncontig(uniform(rng, (3, 2))), noncontig(_mask(rng, (3, 2))), 7),
                           desc="non-contiguous, int value"))
    return out


register(OpInfo("masked_fill", _masked_fill_samples, lambda x, m, v: np.where(m, v, x),
                dtypes=ALL_FLOATS))
