"""Registry entries: gelu, silu, leaky_relu, elu, selu, softplus, mish, hardswish,
hardsigmoid, prelu (methods and ``F.`` forms), F.hardtanh, F.relu6.

Kinked activations sample away from their kinks, where finite differences
would straddle two branches; the gradient *at* a kink follows PyTorch's tie
rule (see ``ops/activation.py``) and is pinned in
tests/autograd/test_special_activation.py.
"""
from __future__ import annotations

import math

import numpy as np

from ...backend.dtype import DType
from . import OpInfo, SampleInput, register
from .samples import noncontig, uniform, unary

ALL_FLOATS = (DType.Float64, DType.Float32, DType.Float16, DType.BFloat16)

_erf = np.vectorize(math.erf, otypes=[np.float64])
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _functional(name):
    """``F.<name>`` as an OpInfo op (nn.functional imported on first use)."""
    def op(*args, **kwargs):
        from ...nn import functional as F
        return getattr(F, name)(*args, **kwargs)
    return op


def _both(name, sample_inputs, ref, **kw):
    """One entry for the method, one for the functional form, same samples."""
    register(OpInfo(name, sample_inputs, ref, **kw))
    register(OpInfo(f"F.{name}", sample_inputs, ref, op=_functional(name), **kw))


def _with_kwargs(rng, kwarg_list, *unary_args, **unary_kw):
    """unary() samples, the i-th taking the i-th kwargs (cycling)."""
    out = unary(rng, *unary_args, **unary_kw)
    return [SampleInput(s.args, dict(kwarg_list[i % len(kwarg_list)]), desc=s.desc)
            for i, s in enumerate(out)]


# ----------------------------------------------------------------- gelu


def _gelu_ref(x, approximate="none"):
    if approximate == "tanh":
        return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def _gelu_samples(rng):
    out = unary(rng, -3.0, 3.0)
    out += [SampleInput(s.args, dict(approximate="tanh"), desc=f"tanh {s.desc}".strip())
            for s in unary(rng, -3.0, 3.0, shapes=[(2, 3), ()])]
    # The left tail (Phi(x) tiny), where 1 + erf(x / sqrt 2) would cancel.
    out.append(SampleInput((np.array([-7.5, -5.0, 4.0, 6.0]),), desc="tails"))
    return out


_both("gelu", _gelu_samples, _gelu_ref, dtypes=ALL_FLOATS)

# ----------------------------------------------------------- silu, mish

_both("silu", lambda rng: unary(rng, -4.0, 4.0), lambda x: x / (1.0 + np.exp(-x)),
      dtypes=ALL_FLOATS)


def _mish_samples(rng):
    out = unary(rng, -4.0, 4.0)
    # Past softplus's threshold of 20 (used by the backward), and far left.
    out.append(SampleInput((np.array([-25.0, -8.0, 19.5, 21.0, 30.0]),), desc="large |x|"))
    return out


_both("mish", _mish_samples, lambda x: x * np.tanh(np.log1p(np.exp(x))), dtypes=ALL_FLOATS)

# ------------------------------------------------------------ leaky_relu

# Kink at 0: samples avoid it. PyTorch's tie rule there: x > 0 is the identity
# branch, so the gradient at exactly 0 is the slope.
_both("leaky_relu",
      lambda rng: _with_kwargs(rng, [{}, dict(negative_slope=0.2), dict(negative_slope=-0.5),
                                     dict(negative_slope=1.5)], avoid=(0.0,)),
      lambda x, negative_slope=0.01: np.where(x > 0, x, negative_slope * x), dtypes=ALL_FLOATS)

# -------------------------------------------------------------- elu, selu

# Kink at 0 (for alpha != 1): samples avoid it. Tie rule: x <= 0 takes the
# exponential branch, so the gradient at 0 is scale * alpha.
_both("elu",
      lambda rng: _with_kwargs(rng, [{}, dict(alpha=0.5), dict(alpha=2.0)], -3.0, 2.0,
                               avoid=(0.0,)),
      lambda x, alpha=1.0: np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0))),
      dtypes=ALL_FLOATS)
_both("selu", lambda rng: unary(rng, -3.0, 2.0, avoid=(0.0,)),
      lambda x: _SELU_SCALE * np.where(x > 0, x, _SELU_ALPHA * np.expm1(np.minimum(x, 0.0))),
      dtypes=ALL_FLOATS)

# --------------------------------------------------------------- softplus


def _softplus_ref(x, beta=1.0, threshold=20.0):
    with np.errstate(over="ignore"):
        return np.where(x * beta > threshold, x, np.log1p(np.exp(x * beta)) / beta)


def _softplus_samples(rng):
    out = unary(rng, -4.0, 4.0)
    # beta * x crosses the threshold at x = 2.5 (a small jump: avoided); both sides.
    out.append(SampleInput((uniform(rng, (2, 3), 0.5, 4.5, avoid=(2.5,)),),
                           dict(beta=2.0, threshold=5.0), desc="beta=2 threshold=5"))
    out.append(SampleInput((uniform(rng, (4,), -3.0, 3.0),), dict(beta=0.5), desc="beta=0.5"))
    out.append(SampleInput((np.array([-30.0, 19.0, 21.0, 40.0]),), desc="default threshold"))
    return out


_both("softplus", _softplus_samples, _softplus_ref, dtypes=ALL_FLOATS)

# ---------------------------------------------------- hardswish, hardsigmoid

# Kinks at -3 and 3: samples avoid them (tie rules: hardswish's gradient is 0 at
# -3 and 1 at 3; hardsigmoid's is 0 at both).
_HARD = dict(low=-5.0, high=5.0, avoid=(-3.0, 3.0))


def _hardswish_ref(x):
    return x * np.clip(x + 3.0, 0.0, 6.0) / 6.0


_both("hardswish", lambda rng: unary(rng, **_HARD), _hardswish_ref, dtypes=ALL_FLOATS)
_both("hardsigmoid", lambda rng: unary(rng, **_HARD), lambda x: np.clip(x + 3.0, 0.0, 6.0) / 6.0,
      dtypes=ALL_FLOATS)

# ------------------------------------------------------------------ prelu


def _prelu_ref(x, w):
    if w.size != 1 and x.ndim > 1:
        w = w.reshape((-1,) + (1,) * (x.ndim - 2))
    return np.where(x > 0, x, w.reshape(()) * x if w.size == 1 else w * x)


def _prelu_samples(rng):
    # Kink at x == 0: avoided (tie rule: x > 0 is the identity branch).
    pairs = [((2, 3), (3,)), ((2, 3, 2), (3,)), ((2, 4, 1, 2), (4,)), ((2, 3), (1,)),
             ((4,), (1,)), ((), (1,)), ((2, 3), ())]
    out = [SampleInput((uniform(rng, sx, avoid=(0.0,)), uniform(rng, sw, -0.5, 1.5)))
           for sx, sw in pairs]
    out.append(SampleInput((noncontig(uniform(rng, (3, 2), avoid=(0.0,))),
                            noncontig(uniform(rng, (2,), -0.5, 1.5))), desc="non-contiguous"))
    return out


_both("prelu", _prelu_samples, _prelu_ref, dtypes=ALL_FLOATS)

# -------------------------------------------------------- hardtanh, relu6

# Kinks at the bounds: samples avoid them (tie rule: zero gradient at both bounds).


def _hardtanh_samples(rng):
    kw = [{}, dict(min_val=-0.5, max_val=2.0), dict(min_val=0.0, max_val=0.25)]
    return _with_kwargs(rng, kw, avoid=(-1.0, 1.0, -0.5, 2.0, 0.0, 0.25))


register(OpInfo("F.hardtanh", _hardtanh_samples,
                lambda x, min_val=-1.0, max_val=1.0: np.clip(x, min_val, max_val),
                op=_functional("hardtanh"), dtypes=ALL_FLOATS))
register(OpInfo("F.relu6", lambda rng: unary(rng, -2.0, 8.0, avoid=(0.0, 6.0)),
                lambda x: np.clip(x, 0.0, 6.0), op=_functional("relu6"), dtypes=ALL_FLOATS))
