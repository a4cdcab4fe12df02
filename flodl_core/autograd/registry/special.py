"""Registry entries: tan, asin, acos, atan, atan2, erf, erfc, trunc, frac, fmod,
remainder, lerp, addcmul, addcdiv (isclose is not differentiable: see
tests/autograd/test_special_activation.py)."""
from __future__ import annotations

import math

import numpy as np

from ...backend.dtype import DType
from . import OpInfo, SampleInput, register
from .samples import BINARY_SHAPES, binary, noncontig, uniform, unary

ALL_FLOATS = (DType.Float64, DType.Float32, DType.Float16, DType.BFloat16)
_INTS = (-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0)

# References independent of the ops: the C library's erf/erfc, one element at a time.
_erf_ref = np.vectorize(math.erf, otypes=[np.float64])
_erfc_ref = np.vectorize(math.erfc, otypes=[np.float64])

# ----------------------------------------------------------- trig, erf

register(OpInfo("tan", lambda rng: unary(rng, -1.2, 1.2), np.tan, dtypes=ALL_FLOATS))
# Inside (-1, 1), away from the infinite slopes at +-1.
register(OpInfo("asin", lambda rng: unary(rng, -0.9, 0.9), np.arcsin, dtypes=ALL_FLOATS))
register(OpInfo("acos", lambda rng: unary(rng, -0.9, 0.9), np.arccos, dtypes=ALL_FLOATS))
register(OpInfo("atan", lambda rng: unary(rng, -3.0, 3.0), np.arctan, dtypes=ALL_FLOATS))


def _atan2_samples(rng):
    # self (the y coordinate) stays away from 0: atan2 jumps by 2 pi across the
    # negative x axis; other away from 0 keeps the points off the origin.
    out = binary(rng, a_avoid=(0.0,), b_avoid=(0.0,))
    # An int other (a constant): promotes to self's float dtype.
    out.append(SampleInput((uniform(rng, (2, 3), avoid=(0.0,)), np.array([2, -1, 3])),
                           desc="int other"))
    return out


register(OpInfo("atan2", _atan2_samples, np.arctan2, dtypes=ALL_FLOATS))

# Every branch of the fdlibm algorithm: |x| < 0.84375, < 1.25, < 1/0.35, < 6, beyond.
_ERF_POINTS = np.array([-6.5, -4.2, -2.3, -1.1, -0.6, -0.1, 0.2, 0.5, 0.9, 1.4, 3.3, 5.0])


def _erf_samples(rng):
    out = unary(rng, -2.5, 2.5)
    out.append(SampleInput((_ERF_POINTS.reshape(3, 4),), desc="every fdlibm range"))
    return out


register(OpInfo("erf", _erf_samples, _erf_ref, dtypes=ALL_FLOATS))
register(OpInfo("erfc", _erf_samples, _erfc_ref, dtypes=ALL_FLOATS))

# ------------------------------------------------------------ trunc, frac

# Piecewise constant / jumps at the integers: samples stay away from them.
register(OpInfo("trunc", lambda rng: unary(rng, -3.0, 3.0, avoid=_INTS), np.trunc,
                dtypes=ALL_FLOATS))
register(OpInfo("frac", lambda rng: unary(rng, -3.0, 3.0, avoid=_INTS),
                lambda x: x - np.trunc(x), dtypes=ALL_FLOATS))

# ------------------------------------------------------- fmod, remainder

# fmod and remainder jump where self / other crosses an integer. Divisors have
# |other| in [1.75, 1.85] and dividends |self| = q * 1.8 with q in bands away
# from the integers, so |self / other| stays >= 0.09 from every integer for any
# broadcast pairing (and after rounding to half types); the quotient reaches
# 0, 1 and 2 so the gradient w.r.t. other (-trunc or -floor of it) is exercised.
_Q_BANDS = ((0.1, 0.85), (1.15, 1.85), (2.15, 2.6))


def _divisor(rng, shape):
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(1.75, 1.85, size=shape)


def _dividend(rng, shape, unit=1.8):
    band = rng.integers(0, len(_Q_BANDS), size=shape)
    lo = np.array([b[0] for b in _Q_BANDS])[band]
    hi = np.array([b[1] for b in _Q_BANDS])[band]
    q = lo + (hi - lo) * rng.random(size=shape)
    return np.asarray(rng.choice([-1.0, 1.0], size=shape) * q * unit, dtype=np.float64)


def _mod_samples(rng):
    out = [SampleInput((_dividend(rng, sa), _divisor(rng, sb))) for sa, sb in BINARY_SHAPES]
    out.append(SampleInput((noncontig(_dividend(rng, (3, 2))), noncontig(_divisor(rng, (3, 2)))),
                           desc="non-contiguous"))
    # Python-number divisors (float, negative, int): the tensor keeps its dtype.
    for other in (1.8, -1.8, 2):
        out.append(SampleInput((_dividend(rng, (2, 3), unit=float(abs(other))), other),
                               desc=f"number {other}"))
    # An int tensor divisor (a constant): promotes to self's float dtype.
    out.append(SampleInput((_dividend(rng, (2, 3), unit=2.0), np.array([2, -2, 2])),
                           desc="int other"))
    return out


register(OpInfo("fmod", _mod_samples, np.fmod, dtypes=ALL_FLOATS))
register(OpInfo("remainder", _mod_samples, np.remainder, dtypes=ALL_FLOATS))

# ------------------------------------------------------------------ lerp

_LERP_SHAPES = [((2, 3), (2, 3), (2, 3)), ((3,), (2, 3), ()), ((2, 1, 3), (4, 1), (3,)),
                ((), (2, 3), (2, 1)), ((1,), (3,), (2, 1))]


def _lerp_samples(rng):
    # Weights in [-0.25, 1.25] hit both of PyTorch's branches (|w| < 0.5 and not).
    out = [SampleInput((uniform(rng, ss), uniform(rng, se), uniform(rng, sw, -0.25, 1.25)))
           for ss, se, sw in _LERP_SHAPES]
    for w in (0.3, 0.7, 1, -0.5):
        out.append(SampleInput((uniform(rng, (2, 3)), uniform(rng, (3,)), w),
                               desc=f"number weight {w}"))
    out.append(SampleInput((noncontig(uniform(rng, (3, 2))), noncontig(uniform(rng, (3, 2))),
                            noncontig(uniform(rng, (3, 2), 0.0, 1.0))), desc="non-contiguous"))
    return out


register(OpInfo("lerp", _lerp_samples, lambda s, e, w: s + w * (e - s), dtypes=ALL_FLOATS))

# ------------------------------------------------------ addcmul, addcdiv

_ADDC_SHAPES = [((2, 3), (2, 3), (2, 3)), ((3,), (2, 3), ()), ((2, 1, 3), (4, 1), (3,)),
                ((), (2, 1), (3,)), ((1,), (1,), (1,))]


def _addc_samples(rng, divisor):
    out = []
    for (sa, sb, sc), kw in zip(_ADDC_SHAPES, ({}, dict(value=0.5), dict(value=-2.0), {},
                                               dict(value=3))):
        c = uniform(rng, sc, avoid=(0.0,), margin=0.4) if divisor else uniform(rng, sc)
        out.append(SampleInput((uniform(rng, sa), uniform(rng, sb), c), kw))
    c = uniform(rng, (3, 2), avoid=(0.0,), margin=0.4) if divisor else uniform(rng, (3, 2))
    out.append(SampleInput((noncontig(uniform(rng, (3, 2))), noncontig(uniform(rng, (3, 2))),
                            noncontig(c)), dict(value=1.5), desc="non-contiguous"))
    return out


register(OpInfo("addcmul", lambda rng: _addc_samples(rng, False),
                lambda a, b, c, value=1: a + value * b * c, dtypes=ALL_FLOATS))
register(OpInfo("addcdiv", lambda rng: _addc_samples(rng, True),
                lambda a, b, c, value=1: a + value * b / c, dtypes=ALL_FLOATS,
                fwd_tol={DType.BFloat16: (1e-1, 3e-2)}))
