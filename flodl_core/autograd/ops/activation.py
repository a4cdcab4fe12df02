"""Activations: gelu, silu, leaky_relu, elu/selu, softplus, mish, hardswish,
hardsigmoid, prelu, hardtanh/relu6.

Each is a Tensor/Variable method (``x.gelu()``) and a functional op with
``torch.nn.functional``'s signature (``F.gelu(x, approximate='none')``); both
call the same Function. They take floating-point tensors only (PyTorch raises
for integer inputs), except hardtanh/relu6 which clamp integers too. Half types
compute in float32 and round once.

Kinks follow PyTorch's tie rules (the gradient at the kink point itself):

* leaky_relu, prelu: ``x > 0`` takes the identity branch, so at 0 the gradient
  w.r.t. x is the slope (and prelu's weight gets ``x = 0``, i.e. 0);
* elu/selu: ``x <= 0`` takes the exponential branch: ``scale * alpha`` at 0;
* hardswish: 0 at x == -3, 1 at x == 3; hardsigmoid: 0 at both -3 and 3;
* hardtanh/relu6: 0 at both bounds (clamp, by contrast, passes it there);
* softplus is linear where ``beta * x > threshold`` (strictly), else
  ``log1p(exp(beta * x)) / beta``.

Backward formulas use the framework's own ops (masks that depend on the input
only are constants), so every activation has second derivatives.
"""
from __future__ import annotations

import math

import numpy as np

from ...backend.dtype import BFLOAT16_NUMPY, HALF_NUMPY, dtype_of
from ...errors import DTypeError, ShapeError
from ...tensor import TensorLike
from ..function import AUTOCAST_FP32, AUTOCAST_LOWER, Function, op_function, op_method
from ._util import FLOAT32, require_float, xp
from .elementwise import _as_tensor, _const, _number, _sigmoid, where
from ..grad_mode import state as grad_state
from ..variable import Variable
from .special import _erf_raw

_SQRT1_2 = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_GELU_K = math.sqrt(2.0 / math.pi)      # tanh approximation: tanh(k (x + c x^3))
_GELU_C = 0.044715
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


# ------------------------------------------------------------------ helpers


def _act_math(op, x, fn):
    """``fn(x)`` for a float tensor; half types compute in float32 and round once."""
    require_float(op, x)
    if x.dtype in HALF_NUMPY:
        return fn(x.astype(FLOAT32)).astype(x.dtype)
    return fn(x)


def _mask(x, fn):
    """A Bool mask ``fn(x)`` from a (possibly half) input array, as a constant."""
    if x.dtype == BFLOAT16_NUMPY:
        with np.errstate(invalid="ignore"):      # bfloat16 compares warn on NaN
            return _const(xp(x).asarray(fn(x)))
    return _const(xp(x).asarray(fn(x)))


def _real(op, name, value):
    v = _number(op, name, value)
    if isinstance(v, bool):
        raise DTypeError(f"{op}: {name} must be a real number, got bool")
    return v


def _no_inplace(op, inplace):
    if inplace:
        raise ValueError(f"{op}: inplace=True is not supported (tensors are immutable); "
                         "use the returned tensor")


def _stable_softplus(m, v):
    """log(1 + exp(v)) without overflow."""
    return m.maximum(v, 0) + m.log1p(m.exp(-m.abs(v)))


# --------------------------------------------------------------------- gelu


# float32 Phi(x) the way PyTorch's CPU kernels compute erf: Abramowitz & Stegun
# 7.1.26 (|error| < 1.5e-7), erfc(|z|) = t r(t) exp(-z^2) with t = 1 / (1 + p |z|).
# With z = x / sqrt 2 the exponential is exp(-x^2 / 2), the backward's pdf up to a
# constant, so it is kept. p is divided by sqrt 2 and r's coefficients halved up
# front, so q = t r(t) exp(-x^2 / 2) is Phi(-|x|) directly: Phi = 1 - q (x >= 0) or
# q (x < 0), that is 0.5 + (0.5 - q) with x's sign (no cancellation in the left
# tail). The sign is copied with integer bit operations, twice as fast as copysign.
_AS_P = np.float32(0.3275911 * _SQRT1_2)
_AS_R = tuple(np.float32(0.5 * c) for c in (
    1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592))   # t^4 .. t^0
_SIGN_BIT = np.int32(-2 ** 31)
# ~20 in-place passes block by block keep the working set in cache. (Spreading the
# blocks over threads was measured not to pay: each pass is a ~3 us ufunc call, and
# the threads spend the gain handing the GIL back and forth.)
GELU_BLOCK = 1 << 15


def _over_blocks(n, body):
    """``body(lo, hi)`` over the element ranges of cache-sized blocks."""
    for lo in range(0, n, GELU_BLOCK):
        body(lo, min(lo + GELU_BLOCK, n))


def _gelu_f32(x):
    """(x * Phi(x), Phi(x), exp(-x^2 / 2)) of a float32 NumPy array."""
    flat = x.reshape(-1)
    y, cdf, gauss = np.empty_like(flat), np.empty_like(flat), np.empty_like(flat)
    flat_bits, cdf_bits = flat.view(np.int32), cdf.view(np.int32)

    def block(lo, hi):
        xv, cv, ev = flat[lo:hi], cdf[lo:hi], gauss[lo:hi]
        t, q = np.empty(hi - lo, np.float32), np.empty(hi - lo, np.float32)
        np.abs(xv, out=t)                       # t = 1 / (1 + p |x| / sqrt 2)
        t *= _AS_P
        t += np.float32(1.0)
        np.reciprocal(t, out=t)
        np.multiply(t, _AS_R[0], out=q)         # q = t r(t) (Horner)
        for c in _AS_R[1:]:
            q += c
            q *= t
        np.square(xv, out=ev)                   # exp(-x^2 / 2)
        ev *= np.float32(-0.5)
        np.exp(ev, out=ev)
        q *= ev
        np.subtract(np.float32(0.5), q, out=cv)     # 0.5 - q with the sign of x
        sign = np.bitwise_and(flat_bits[lo:hi], _SIGN_BIT, out=t.view(np.int32))
        cdf_bits[lo:hi] |= sign
        cv += np.float32(0.5)                   # NaN stays NaN through every pass
        with np.errstate(invalid="ignore"):     # -inf * 0: NaN, as in PyTorch
            np.multiply(xv, cv, out=y[lo:hi])
    _over_blocks(flat.size, block)
    return y.reshape(x.shape), cdf.reshape(x.shape), gauss.reshape(x.shape)


def _gelu_grad_f32(x, gy, cdf, gauss):
    """gy * (Phi + x exp(-x^2 / 2) / sqrt(2 pi)) on float32 NumPy arrays."""
    xf, gf, cf, ef = (a.reshape(-1) for a in (x, gy, cdf, gauss))
    out = np.empty_like(xf)

    def block(lo, hi):
        o = out[lo:hi]
        with np.errstate(invalid="ignore"):
            np.multiply(xf[lo:hi], ef[lo:hi], out=o)
        o *= np.float32(_INV_SQRT_2PI)
        o += cf[lo:hi]
        o *= gf[lo:hi]
    _over_blocks(xf.size, block)
    return out.reshape(x.shape)


class Gelu(Function):
    """``x * Phi(x)`` (``approximate='none'``) or its tanh approximation."""

    __slots__ = ("approximate", "_cdf", "_gauss")

    def __init__(self, approximate):
        self.approximate = approximate
        self._cdf = self._gauss = None

    def forward(self, x):
        m = xp(x)
        if self.approximate == "tanh":
            # 0.5 x (1 + tanh(u)) == x * sigmoid(2u): no cancellation for x << 0.
            sig = _sigmoid(m)
            return _act_math("gelu", x,
                             lambda v: v * sig(2.0 * _GELU_K * (v + _GELU_C * v * v * v)))
        if m is np and x.dtype == FLOAT32 and x.ndim:
            # float32 fast path (PyTorch's erf formula); Phi and exp(-x^2/2) are kept
            # for the backward.
            y, self._cdf, self._gauss = _gelu_f32(x)
            return y

        # Phi(x) = erfc(-x / sqrt 2) / 2: accurate in the left tail too.
        def exact(v):
            return (0.5 * v * _erf_raw(v * -_SQRT1_2, complement=True)).astype(v.dtype, copy=False)
        return _act_math("gelu", x, exact)

    def backward(self, gy):
        x = self.inputs[0]
        if self.approximate == "tanh":
            x2 = x * x
            s = (x + (x2 * x).mul_scalar(_GELU_C)).mul_scalar(2.0 * _GELU_K).sigmoid()
            du = x2.mul_scalar(3.0 * _GELU_C).add_scalar(1.0).mul_scalar(2.0 * _GELU_K)
            return gy * (s + x * s * s.neg().add_scalar(1.0) * du)
        if self._cdf is not None and not grad_state.enabled:
            # Plain backward on the saved arrays, block by block.
            g = gy._data
            if g.dtype == FLOAT32 and g.shape == self._cdf.shape:
                return Variable._make(_gelu_grad_f32(x._data, g, self._cdf, self._gauss))
            slope = _gelu_grad_f32(x._data, np.ones_like(self._cdf), self._cdf, self._gauss)
            return gy * _const(slope)
        cdf = x.mul_scalar(-_SQRT1_2).erfc().mul_scalar(0.5)
        pdf = (x * x).mul_scalar(-0.5).exp().mul_scalar(_INV_SQRT_2PI)
        return gy * (cdf + x * pdf)

    def release(self):
        super().release()
        self._cdf = self._gauss = None


def _gelu(x, approximate):
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return Gelu(approximate)(x)


@op_method(name="gelu")
def _gelu_method(self, approximate="none"):
    """Gaussian error linear unit ``x * Phi(x)``; ``approximate='tanh'`` uses
    ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``."""
    return _gelu(self, approximate)


@op_function
def gelu(input, approximate="none"):
    """``F.gelu(input, approximate='none')``: see ``Tensor.gelu``."""
    return _gelu(input, approximate)


# --------------------------------------------------------------------- silu


class Silu(Function):
    def forward(self, x):
        sig = _sigmoid(xp(x))
        return _act_math("silu", x, lambda v: v * sig(v))

    def backward(self, gy):
        x = self.inputs[0]
        s = x.sigmoid()
        return gy * s * (x * s.neg().add_scalar(1.0)).add_scalar(1.0)


@op_method(name="silu")
def _silu_method(self):
    """Sigmoid linear unit (swish) ``x * sigmoid(x)``."""
    return Silu()(self)


@op_function
def silu(input, inplace=False):
    """``F.silu(input)``: ``input * sigmoid(input)``."""
    _no_inplace("silu", inplace)
    return Silu()(input)


# --------------------------------------------------------------- leaky_relu


class LeakyRelu(Function):
    __slots__ = ("slope",)

    def __init__(self, slope):
        self.slope = slope

    def forward(self, x):
        m, k = xp(x), self.slope
        return _act_math("leaky_relu", x, lambda v: m.where(v > 0, v, v * k))

    def backward(self, gy):
        # x > 0 takes the identity branch: at 0 the gradient is the slope (PyTorch).
        pos = _mask(self.inputs[0]._data, lambda v: v > 0)
        return where(pos, gy, gy.mul_scalar(self.slope))


def _leaky_relu(x, negative_slope):
    return LeakyRelu(_real("leaky_relu", "negative_slope", negative_slope))(x)


@op_method(name="leaky_relu")
def _leaky_relu_method(self, negative_slope=0.01):
    """``x`` where ``x > 0``, else ``negative_slope * x``."""
    return _leaky_relu(self, negative_slope)


@op_function
def leaky_relu(input, negative_slope=0.01, inplace=False):
    """``F.leaky_relu(input, negative_slope=0.01)``."""
    _no_inplace("leaky_relu", inplace)
    return _leaky_relu(input, negative_slope)


# ---------------------------------------------------------------- elu, selu


class Elu(Function):
    """``scale * x`` where ``x > 0``, else ``scale * alpha * (exp(x) - 1)`` (elu, selu)."""

    __slots__ = ("alpha", "scale")

    def __init__(self, alpha, scale=1.0):
        self.alpha, self.scale = alpha, scale

    def forward(self, x):
        m, a, s = xp(x), self.alpha, self.scale

        def fn(v):
            pos = v > 0
            neg = m.expm1(m.where(pos, 0.0, v)) * (a * s)  # no overflow; expm1(-0.0) == -0.0
            return m.where(pos, v * s if s != 1 else v, neg)
        return _act_math("elu", x, fn)

    def backward(self, gy):
        # x <= 0 takes the exponential branch: scale * alpha at 0 (PyTorch). The
        # exponent is x masked to 0 where x >= 0: the unused branch stays finite (no
        # inf * 0 in double backward) and, as in PyTorch's elu_double_backward (a
        # strict x < 0 mask), the second derivative at exactly 0 is 0.
        # The branch test is x <= 0 (not "not x > 0"), so a NaN input takes the
        # linear branch's gradient, as in PyTorch's elu_backward.
        x = self.inputs[0]
        xd = x._data
        neg = _mask(xd, lambda v: v <= 0)
        g_neg = gy * x.masked_fill(_mask(xd, lambda v: ~(v < 0)), 0).exp().mul_scalar(
            self.alpha * self.scale)
        return where(neg, g_neg, gy if self.scale == 1 else gy.mul_scalar(self.scale))


def _elu(x, alpha):
    return Elu(_real("elu", "alpha", alpha))(x)


@op_method(name="elu")
def _elu_method(self, alpha=1.0):
    """Exponential linear unit: ``x`` where ``x > 0``, else ``alpha * (exp(x) - 1)``."""
    return _elu(self, alpha)


@op_function
def elu(input, alpha=1.0, inplace=False):
    """``F.elu(input, alpha=1.0)``."""
    _no_inplace("elu", inplace)
    return _elu(input, alpha)


@op_method(name="selu")
def _selu_method(self):
    """Scaled ELU with the self-normalising constants (alpha 1.6733, scale 1.0507)."""
    return Elu(_SELU_ALPHA, _SELU_SCALE)(self)


@op_function
def selu(input, inplace=False):
    """``F.selu(input)``."""
    _no_inplace("selu", inplace)
    return Elu(_SELU_ALPHA, _SELU_SCALE)(input)


# ----------------------------------------------------------------- softplus


def _linear_region(v, beta, threshold):
    return v * beta > threshold


class Softplus(Function):
    """``log1p(exp(beta x)) / beta``, or ``x`` where ``beta * x > threshold``."""

    autocast_policy = AUTOCAST_FP32

    __slots__ = ("beta", "threshold")

    def __init__(self, beta, threshold):
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        m, b, t = xp(x), self.beta, self.threshold
        # The overflow-free log(1 + exp(.)) equals PyTorch's log1p(exp(.)) to rounding,
        # and stays finite where that overflows (a threshold above ~88 in float32).
        return _act_math("softplus", x, lambda v: m.where(
            _linear_region(v, b, t), v, _stable_softplus(m, v * b) / b))

    def backward(self, gy):
        x = self.inputs[0]
        xd = x._data
        if xd.dtype in HALF_NUMPY:
            xd = xd.astype(FLOAT32)                  # the forward's mask, bit for bit
        b, t = self.beta, self.threshold
        lin = _mask(xd, lambda v: _linear_region(v, b, t))
        # PyTorch's softplus_double_backward masks with a strict beta * x < threshold:
        # at equality the first derivative is sigmoid(threshold), the second 0. x
        # enters through a where() whose other branch is x's value as a constant.
        frozen = _mask(xd, lambda v: ~(v * b < t))
        xs = where(frozen, _const(x._data), x)
        return where(lin, gy, gy * xs.mul_scalar(b).sigmoid())


def _softplus(x, beta, threshold):
    return Softplus(_real("softplus", "beta", beta), _real("softplus", "threshold", threshold))(x)


@op_method(name="softplus")
def _softplus_method(self, beta=1.0, threshold=20.0):
    """Smooth relu ``log(1 + exp(beta x)) / beta``; linear where ``beta x > threshold``."""
    return _softplus(self, beta, threshold)


@op_function
def softplus(input, beta=1.0, threshold=20.0):
    """``F.softplus(input, beta=1.0, threshold=20.0)``."""
    return _softplus(input, beta, threshold)


# --------------------------------------------------------------------- mish


class Mish(Function):
    def forward(self, x):
        m = xp(x)
        return _act_math("mish", x, lambda v: v * m.tanh(_stable_softplus(m, v)))

    def backward(self, gy):
        # d/dx x tanh(sp(x)) = t + x sigmoid(x) (1 - t^2), t = tanh(softplus(x)).
        x = self.inputs[0]
        t = Softplus(1.0, 20.0)(x).tanh()
        return gy * (t + x * x.sigmoid() * (t * t).neg().add_scalar(1.0))


@op_method(name="mish")
def _mish_method(self):
    """``x * tanh(softplus(x))``."""
    return Mish()(self)


@op_function
def mish(input, inplace=False):
    """``F.mish(input)``."""
    _no_inplace("mish", inplace)
    return Mish()(input)


# ------------------------------------------------------ hardswish, hardsigmoid


class Hardswish(Function):
    def forward(self, x):
        m = xp(x)
        return _act_math("hardswish", x, lambda v: v * m.minimum(m.maximum(v + 3, 0), 6) / 6)

    def backward(self, gy):
        # PyTorch: 0 for x <= -3, x/3 + 1/2 for -3 < x < 3, 1 for x >= 3.
        x = self.inputs[0]
        xd = x._data
        mid = _mask(xd, lambda v: (v > -3) & (v < 3))
        low = _mask(xd, lambda v: v <= -3)
        g = where(mid, gy * x.div_scalar(3).add_scalar(0.5), gy)
        return g.masked_fill(low, 0)


class Hardsigmoid(Function):
    def forward(self, x):
        m = xp(x)
        return _act_math("hardsigmoid", x, lambda v: m.minimum(m.maximum(v + 3, 0), 6) / 6)

    def backward(self, gy):
        # 1/6 strictly inside (-3, 3), 0 elsewhere including both ends (PyTorch).
        outside = _mask(self.inputs[0]._data, lambda v: ~((v > -3) & (v < 3)))
        return gy.mul_scalar(1 / 6).masked_fill(outside, 0)


@op_method(name="hardswish")
def _hardswish_method(self):
    """``x * relu6(x + 3) / 6``."""
    return Hardswish()(self)


@op_function
def hardswish(input, inplace=False):
    """``F.hardswish(input)``."""
    _no_inplace("hardswish", inplace)
    return Hardswish()(input)


@op_method(name="hardsigmoid")
def _hardsigmoid_method(self):
    """``relu6(x + 3) / 6``."""
    return Hardsigmoid()(self)


@op_function
def hardsigmoid(input, inplace=False):
    """``F.hardsigmoid(input)``."""
    _no_inplace("hardsigmoid", inplace)
    return Hardsigmoid()(input)


# -------------------------------------------------------------------- prelu


class Prelu(Function):
    """``x`` where ``x > 0``, else ``weight * x`` (weight already broadcastable)."""

    autocast_policy = AUTOCAST_LOWER

    def forward(self, x, w):
        require_float("prelu", x)
        if w.dtype != x.dtype:
            raise DTypeError(f"prelu: weight must have the input's dtype {dtype_of(x.dtype)}, "
                             f"got {dtype_of(w.dtype)} (PyTorch does not promote here)")
        m = xp(x)
        if x.dtype in HALF_NUMPY:
            xf = x.astype(FLOAT32)
            return m.where(xf > 0, xf, w.astype(FLOAT32) * xf).astype(x.dtype)
        return m.where(x > 0, x, w * x)

    def backward(self, gy):
        x, w = self.inputs
        xd = x._data
        gx = gw = None
        if self.needs_grad(0):
            gx = where(_mask(xd, lambda v: v > 0), gy, gy * w)
        if self.needs_grad(1):
            # x * gy where x < 0. Masking x >= 0 (rather than x > 0) changes no value,
            # since x * gy is 0 at x == 0, and gives PyTorch's double backward there.
            gw = (gy * x).masked_fill(_mask(xd, lambda v: v >= 0), 0)
        return gx, gw


def _prelu(x, weight):
    weight = _as_tensor("prelu", "weight", weight)
    if not isinstance(x, TensorLike):
        raise DTypeError(f"prelu: input must be a tensor, got {type(x).__name__}")
    if weight.ndim > 1:
        raise ShapeError(f"prelu: weight must be a scalar or 1-D tensor, got shape "
                         f"{weight.shape}")
    n = weight.numel()
    if n != 1:
        if x.ndim == 0:
            raise ShapeError(f"prelu: a 0-d input takes a single weight, got {n} weights")
        channels = x.shape[1] if x.ndim > 1 else 1
        if n != channels:
            raise ShapeError(f"prelu: {n} weights for {channels} channels (dim 1 of input "
                             f"shape {x.shape}); expected 1 or {channels}")
        if x.ndim > 2:
            weight = weight.reshape((n,) + (1,) * (x.ndim - 2))   # applied on dim 1
    elif weight.ndim:
        weight = weight.reshape(())
    return Prelu()(x, weight)


@op_method(name="prelu")
def _prelu_method(self, weight):
    """``x`` where ``x > 0``, else ``weight * x``; ``weight`` has 1 element or one
    per channel (dim 1), like ``torch.nn.functional.prelu``."""
    return _prelu(self, weight)


@op_function
def prelu(input, weight):
    """``F.prelu(input, weight)``: see ``Tensor.prelu``."""
    return _prelu(input, weight)


# ----------------------------------------------------------- hardtanh, relu6


class Hardtanh(Function):
    """``min(max(x, lo), hi)`` whose gradient is 0 at both bounds (PyTorch)."""

    __slots__ = ("lo", "hi")

    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    def forward(self, x):
        m, lo, hi = xp(x), self.lo, self.hi
        if x.dtype == np.bool_:
            raise DTypeError("hardtanh: not supported for Bool tensors")
        if x.dtype.kind in "iu":
            return m.minimum(m.maximum(x, int(lo)), int(hi)).astype(x.dtype)  # bounds truncate
        # PyTorch's comparisons: NaN passes through, -0.0 stays -0.0 at a bound of 0.
        return _act_math("hardtanh", x, lambda v: m.where(v > hi, hi, m.where(v < lo, lo, v)))

    def backward(self, gy):
        lo, hi = self.lo, self.hi
        outside = _mask(self.inputs[0]._data, lambda v: (v <= lo) | (v >= hi))
        return gy.masked_fill(outside, 0)


@op_function
def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """``F.hardtanh(input, min_val=-1.0, max_val=1.0)``: clamp with a zero gradient
    at both bounds."""
    _no_inplace("hardtanh", inplace)
    lo, hi = _real("hardtanh", "min_val", min_val), _real("hardtanh", "max_val", max_val)
    if lo > hi:
        raise ValueError(f"hardtanh: min_val ({lo}) cannot be greater than max_val ({hi})")
    return Hardtanh(lo, hi)(input)


@op_function
def relu6(input, inplace=False):
    """``F.relu6(input)``: ``hardtanh(input, 0, 6)``."""
    _no_inplace("relu6", inplace)
    return Hardtanh(0.0, 6.0)(input)


FUNCTIONAL = ["gelu", "silu", "leaky_relu", "elu", "selu", "softplus", "mish", "hardswish",
              "hardsigmoid", "prelu", "hardtanh", "relu6"]

# fl.gelu(x), fl.prelu(x, w), ...: the functional forms.
__all__ = list(FUNCTIONAL)
