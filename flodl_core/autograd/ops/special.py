"""Special math: tan and the inverse trig functions, atan2, erf/erfc, trunc and
frac, fmod/remainder, lerp, addcmul/addcdiv, isclose.

Dtype rules follow PyTorch (see ``elementwise``): float math promotes integer
and bool inputs to Float32, half types compute in float32 and round once,
binary ops promote by category. ``erf``/``erfc`` run a vectorised port of the
fdlibm algorithm on NumPy arrays (always in float64, then rounded once, so
Float32 results are correctly rounded almost everywhere) and
``cupyx.scipy.special`` on CuPy arrays.

Gradients follow PyTorch's formulas (``tools/autograd/derivatives.yaml``):
``fmod``/``remainder`` pass the gradient to ``self`` unchanged and give
``other`` ``-trunc(self / other)`` resp. ``-floor(self / other)`` times it;
``trunc`` has a zero gradient and ``frac`` a gradient of 1. Backward formulas
use the framework's own ops, so double backward works.
"""
from __future__ import annotations

import math

import numpy as np

from ...backend.array_module import device_of
from ...backend.dtype import HALF_NUMPY, dtype_of
from ...errors import DeviceError, DTypeError
from ...tensor import Tensor, TensorLike
from ..function import AUTOCAST_FP32, AUTOCAST_PROMOTE, Function, op_method
from ._util import FLOAT32, Number, float_input, is_float, result_type, xp
from .elementwise import _as_tensor, _const, _float_math, _number, _same_dtype_math, _zero_grad

_BOOL = np.dtype(np.bool_)
_INT64 = np.dtype(np.int64)
_F64 = np.dtype(np.float64)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _cast(a, dtype):
    return a if a.dtype == dtype else a.astype(dtype)


def _promote(*arrays):
    return result_type(*arrays)       # PyTorch's rule: 0-d operands rank below others


def _is_number(value) -> bool:
    return isinstance(value, Number) and not isinstance(value, TensorLike)


# ------------------------------------------------------------------ erf
#
# A vectorised port of erf/erfc from Sun's fdlibm (s_erf.c, also used by
# FreeBSD, musl and Go), accurate to about 1 ulp in float64. Coefficients are
# the published fdlibm ones (each checked against its IEEE bit pattern).
#
#   Copyright (C) 1993 by Sun Microsystems, Inc. All rights reserved.
#   Developed at SunPro, a Sun Microsystems, Inc. business.
#   Permission to use, copy, modify, and distribute this software is freely
#   granted, provided that this notice is preserved.
#
# Ranges of |x|: [0, 0.84375) erf = x + x*P(x^2)/Q(x^2); [0.84375, 1.25)
# erf = erx + P(s)/Q(s), s = |x| - 1; [1.25, 28) erfc = exp(-x^2 - 0.5625 +
# R(1/x^2)/S(1/x^2)) / |x| (two fits split at 1/0.35), with exp(-x^2) taken as
# exp(-z^2) * exp((z - x)(z + x)) for z = x with its low 32 bits cleared, so
# x^2 carries no rounding error; beyond: erf = +-1, erfc = 0 or 2.

_ERX = 8.45062911510467529297e-01
_PP = (1.28379167095512558561e-01, -3.25042107247001499370e-01, -2.84817495755985104766e-02,
       -5.77027029648944159157e-03, -2.37630166566501626084e-05)
_QQ = (1.0, 3.97917223959155352819e-01, 6.50222499887672944485e-02,
       5.08130628187576562776e-03, 1.32494738004321644526e-04, -3.96022827877536812320e-06)
_PA = (-2.36211856075265944077e-03, 4.14856118683748331666e-01, -3.72207876035701323847e-01,
       3.18346619901161753674e-01, -1.10894694282396677476e-01, 3.54783043256182359371e-02,
       -2.16637559486879084300e-03)
_QA = (1.0, 1.06420880400844228286e-01, 5.40397917702171048937e-01, 7.18286544141962662868e-02,
       1.26171219808761642112e-01, 1.36370839120290507362e-02, 1.19844998467991074170e-02)
_RA = (-9.86494403484714822705e-03, -6.93858572707181764372e-01, -1.05586262253232909814e+01,
       -6.23753324503260060396e+01, -1.62396669462573470355e+02, -1.84605092906711035994e+02,
       -8.12874355063065934246e+01, -9.81432934416914548592e+00)
_SA = (1.0, 1.96512716674392571292e+01, 1.37657754143519042600e+02, 4.34565877475229228821e+02,
       6.45387271733267880336e+02, 4.29008140027567833386e+02, 1.08635005541779435134e+02,
       6.57024977031928170135e+00, -6.04244152148580987438e-02)
_RB = (-9.86494292470009928597e-03, -7.99283237680523006574e-01, -1.77579549177547519889e+01,
       -1.60636384855821916062e+02, -6.37566443368389627722e+02, -1.02509513161107724954e+03,
       -4.83519191608651397019e+02)
_SB = (1.0, 3.03380607434824582924e+01, 3.25792512996573918826e+02, 1.53672958608443695994e+03,
       3.19985821950859553908e+03, 2.55305040643316442583e+03, 4.74528541206955367215e+02,
       -2.24409524465858183362e+01)
_HIGH_WORD = np.uint64(0xFFFFFFFF00000000)


def _horner(z, coeffs):
    """``coeffs[0] + coeffs[1] z + ...`` (constant term first), updating in place."""
    r = z * coeffs[-1]
    r += coeffs[-2]
    for c in coeffs[-3::-1]:
        r *= z
        r += c
    return r


def _erfc_tail(ax):
    """erfc(|x|) for 1.25 <= |x| (finite), with exp(-x^2) computed exactly split."""
    w = 1.0 / (ax * ax)
    near = np.flatnonzero(ax < 1 / 0.35)
    far = np.flatnonzero(ax >= 1 / 0.35)
    rs = np.empty_like(ax)
    wn, wf = w.take(near), w.take(far)
    rs[near] = _horner(wn, _RA) / _horner(wn, _SA)
    rs[far] = _horner(wf, _RB) / _horner(wf, _SB)
    hi = (ax.view(np.uint64) & _HIGH_WORD).view(np.float64)   # |x| with 20 significant bits
    e = np.exp(-hi * hi - 0.5625)
    e *= np.exp((hi - ax) * (hi + ax) + rs)
    e /= ax
    return e


def _erf_f64(x, complement=False):
    """erf(x) (or erfc(x)) of a float64 NumPy array, each fdlibm range evaluated
    only on its own elements (gathered by index: much cheaper than boolean
    masks). NaN stays NaN."""
    x = np.asarray(x, dtype=np.float64)
    shape = x.shape
    x = x.ravel()
    out = x.copy()                                  # NaN keeps its value; all else is set
    ax = np.abs(x)
    far = 28.0 if complement else 6.0               # beyond: erfc 0 or 2, erf +-1
    with np.errstate(all="ignore"):
        idx = np.flatnonzero(ax < 0.84375)          # erf = x + x P(x^2)/Q(x^2)
        xs = x.take(idx)
        z = xs * xs
        y = _horner(z, _PP) / _horner(z, _QQ)
        if complement:
            out[idx] = np.where(xs < 0.25, 1.0 - (xs + xs * y), 0.5 - (xs * y + (xs - 0.5)))
        else:
            out[idx] = xs + xs * y

        idx = np.flatnonzero((ax >= 0.84375) & (ax < 1.25))   # erf = erx + P(s)/Q(s)
        xm = x.take(idx)
        s = np.abs(xm) - 1.0
        pq = _horner(s, _PA) / _horner(s, _QA)
        if complement:
            out[idx] = np.where(xm > 0, (1.0 - _ERX) - pq, 1.0 + (_ERX + pq))
        else:
            out[idx] = np.copysign(_ERX + pq, xm)

        idx = np.flatnonzero((ax >= 1.25) & (ax < far))
        xt = x.take(idx)
        e = _erfc_tail(np.abs(xt))
        if complement:
            out[idx] = np.where(xt > 0, e, 2.0 - e)
        else:
            out[idx] = np.copysign(1.0 - e, xt)

        idx = np.flatnonzero(ax >= far)
        xr = x.take(idx)
        out[idx] = np.where(xr > 0, 0.0, 2.0) if complement else np.copysign(1.0, xr)
    return out.reshape(shape)


def _erfc_f64(x):
    return _erf_f64(x, complement=True)


def _erf_raw(v, complement=False):
    """erf (or erfc) of a float array: float64 on NumPy (correctly rounded to
    float32 afterwards), v's dtype on CuPy."""
    if isinstance(v, (np.ndarray, np.generic)):      # NumPy scalars from 0-d math too
        v = np.asarray(v, dtype=_F64)
        return _erfc_f64(v) if complement else _erf_f64(v)
    from cupyx.scipy import special as cusp   # lazily: CuPy is optional
    if v.dtype in HALF_NUMPY:
        v = v.astype(FLOAT32)
    return cusp.erfc(v) if complement else cusp.erf(v)


def _erf_math(x, complement=False):
    """Float math rules (ints promote to Float32, halves round once) around erf/erfc."""
    x = float_input(x)
    return _erf_raw(x, complement).astype(x.dtype, copy=False)


# ------------------------------------------------------ trig and erf


class Tan(Function):
    autocast_policy = AUTOCAST_FP32
    retain_outputs = (0,)

    def forward(self, x):
        return _float_math(x, xp(x).tan)

    def backward(self, gy):
        y = self.output()
        return gy * (y * y).add_scalar(1)


class Asin(Function):
    autocast_policy = AUTOCAST_FP32
    def forward(self, x):
        return _float_math(x, xp(x).arcsin)

    def backward(self, gy):
        x = self.inputs[0]
        return gy * (x * x).neg().add_scalar(1).rsqrt()


class Acos(Function):
    autocast_policy = AUTOCAST_FP32
    def forward(self, x):
        return _float_math(x, xp(x).arccos)

    def backward(self, gy):
        x = self.inputs[0]
        return gy * (x * x).neg().add_scalar(1).rsqrt().neg()


class Atan(Function):
    def forward(self, x):
        return _float_math(x, xp(x).arctan)

    def backward(self, gy):
        x = self.inputs[0]
        return gy / (x * x).add_scalar(1)


class Atan2(Function):
    """``atan2(self, other)``: the angle of the point (other, self)."""

    autocast_policy = AUTOCAST_PROMOTE

    def forward(self, a, b):
        dt = _promote(a, b)
        if not is_float(dt):
            dt = FLOAT32                      # ints and bools promote to Float32 (PyTorch)
        m = xp(a)
        if dt in HALF_NUMPY:
            return m.arctan2(a.astype(FLOAT32), b.astype(FLOAT32)).astype(dt)
        return m.arctan2(_cast(a, dt), _cast(b, dt))

    def backward(self, gy):
        # PyTorch's atan2_backward: 1 / (a^2 + b^2) masked to 0 where that is 0, so
        # the gradient at the origin is 0 (not NaN).
        a, b = self.inputs
        denom = a * a + b * b
        recip = denom.reciprocal().masked_fill(_const(denom._data == 0), 0)
        ga = gy * b * recip if self.needs_grad(0) else None
        gb = gy * a.neg() * recip if self.needs_grad(1) else None
        return ga, gb


class Erf(Function):
    def forward(self, x):
        return _erf_math(x)

    def backward(self, gy):
        x = self.inputs[0]
        return gy * (x * x).neg().exp().mul_scalar(_TWO_OVER_SQRT_PI)


class Erfc(Function):
    def forward(self, x):
        return _erf_math(x, complement=True)

    def backward(self, gy):
        x = self.inputs[0]
        return gy * (x * x).neg().exp().mul_scalar(-_TWO_OVER_SQRT_PI)


@op_method
def tan(self):
    """Elementwise tangent."""
    return Tan()(self)


@op_method
def asin(self):
    """Elementwise arcsine (NaN outside [-1, 1])."""
    return Asin()(self)


@op_method
def acos(self):
    """Elementwise arccosine (NaN outside [-1, 1])."""
    return Acos()(self)


@op_method
def atan(self):
    """Elementwise arctangent."""
    return Atan()(self)


@op_method
def atan2(self, other):
    """Elementwise ``atan2(self, other)`` in radians, quadrant-aware (broadcasting).

    ``other`` must be a tensor, as in PyTorch.
    """
    return Atan2()(self, _as_tensor("atan2", "other", other))


@op_method
def erf(self):
    """Elementwise error function ``2/sqrt(pi) * integral_0^x exp(-t^2) dt``."""
    return Erf()(self)


@op_method
def erfc(self):
    """Elementwise complementary error function ``1 - erf(self)``, accurate in the tail."""
    return Erfc()(self)


# --------------------------------------------------------- trunc, frac


class Trunc(Function):
    def forward(self, x):
        if x.dtype == _BOOL:
            raise DTypeError("trunc: not supported for Bool tensors (as in PyTorch)")
        if not is_float(x.dtype):
            return x.copy()          # integers are already whole (PyTorch returns a copy)
        return _same_dtype_math(x, xp(x).trunc)

    def backward(self, gy):
        return _zero_grad(gy)        # piecewise constant: zero gradient, as in PyTorch


class Frac(Function):
    def forward(self, x):
        if not is_float(x.dtype):
            raise DTypeError(f"frac: expected a floating-point tensor, got {dtype_of(x.dtype)} "
                             "(as in PyTorch)")
        m = xp(x)
        return _same_dtype_math(x, lambda v: v - m.trunc(v))

    def backward(self, gy):
        return gy


@op_method
def trunc(self):
    """Elementwise rounding toward zero; zero gradient."""
    return Trunc()(self)


@op_method
def frac(self):
    """Elementwise fractional part ``self - trunc(self)`` (keeps the sign); gradient 1."""
    return Frac()(self)


# ------------------------------------------------------ fmod, remainder


def _mod_dtype(op, a, b):
    """Result dtype of fmod/remainder of the array ``a``; ``b`` is an array or a
    Python number."""
    a_dtype = a.dtype
    if isinstance(b, (int, float)):
        if is_float(a_dtype):
            return a_dtype                    # a scalar never changes a float tensor's dtype
        if isinstance(b, float):
            return FLOAT32                    # int/bool tensor with a float scalar
        return _INT64 if a_dtype == _BOOL else a_dtype
    if a_dtype == _BOOL and b.dtype == _BOOL:
        raise DTypeError(f"{op}: not supported for two Bool tensors (as in PyTorch)")
    dt = result_type(a, b)
    return _INT64 if dt == _BOOL else dt


def _mod_arrays(op, a, b, floor):
    """C-style fmod (``floor=False``) or Python-style remainder of a by b.

    ``b`` is an array or a Python number. Integer division by zero raises, as in
    PyTorch; float division by zero gives NaN.
    """
    dt = _mod_dtype(op, a, b)
    m = xp(a)
    scalar = not hasattr(b, "dtype")
    if not is_float(dt):
        a = _cast(a, dt)
        if scalar:
            if b == 0:
                raise ZeroDivisionError(f"{op}: integer division by zero")
        else:
            b = _cast(b, dt)
            if bool((b == 0).any()):
                raise ZeroDivisionError(f"{op}: integer division by zero")
        # NumPy's integer remainder is Python's (the sign of the divisor), as is PyTorch's.
        return (m.remainder if floor else m.fmod)(a, b)
    work = FLOAT32 if dt in HALF_NUMPY else dt
    a = _cast(a, work)
    if not scalar:
        b = _cast(b, work)
    r = m.fmod(a, b)
    if floor:
        # PyTorch's formula: move a nonzero fmod result whose sign differs from
        # the divisor's by one divisor (NumPy's remainder differs on signed zeros).
        r = m.where((r != 0) & ((b < 0) != (r < 0)), r + b, r)
    return _cast(r, dt)


def _mod_other_grad(gy, a, b, floor):
    """``-gy * trunc(a / b)`` (fmod) or ``-gy * floor(a / b)`` (remainder).

    The quotient is piecewise constant in a and b (zero derivative), so it enters
    as a constant: double backward stays exact.
    """
    dt = gy._data.dtype
    work = FLOAT32 if dt in HALF_NUMPY else dt
    m = xp(a)
    with np.errstate(divide="ignore", invalid="ignore"):
        a, b = a.astype(work), b.astype(work)
        q = m.floor_divide(a, b) if floor else m.trunc(a / b)
    return gy * _const(q.astype(dt)).neg()


class Fmod(Function):
    def forward(self, a, b):
        return _mod_arrays("fmod", a, b, floor=False)

    def backward(self, gy):
        a, b = self.inputs
        gb = _mod_other_grad(gy, a._data, b._data, False) if self.needs_grad(1) else None
        return gy, gb


class FmodScalar(Function):
    __slots__ = ("other",)

    def __init__(self, other):
        self.other = other

    def forward(self, x):
        return _mod_arrays("fmod", x, self.other, floor=False)

    def backward(self, gy):
        return gy


class Remainder(Function):
    def forward(self, a, b):
        return _mod_arrays("remainder", a, b, floor=True)

    def backward(self, gy):
        a, b = self.inputs
        gb = _mod_other_grad(gy, a._data, b._data, True) if self.needs_grad(1) else None
        return gy, gb


class RemainderScalar(Function):
    __slots__ = ("other",)

    def __init__(self, other):
        self.other = other

    def forward(self, x):
        return _mod_arrays("remainder", x, self.other, floor=True)

    def backward(self, gy):
        return gy


def _scalar_operand(op, value):
    v = _number(op, "other", value)
    return int(v) if isinstance(v, bool) else v


@op_method
def fmod(self, other):
    """Elementwise C-style remainder ``self - trunc(self / other) * other`` (the
    sign of ``self``). ``other`` is a tensor (broadcasting) or a Python number.

    Integer division by zero raises ZeroDivisionError; float gives NaN.
    """
    if _is_number(other):
        return FmodScalar(_scalar_operand("fmod", other))(self)
    return Fmod()(self, _as_tensor("fmod", "other", other))


@op_method
def remainder(self, other):
    """Elementwise Python-style remainder ``self - floor(self / other) * other``
    (the sign of ``other``). ``other`` is a tensor or a Python number.

    Integer division by zero raises ZeroDivisionError; float gives NaN.
    """
    if _is_number(other):
        return RemainderScalar(_scalar_operand("remainder", other))(self)
    return Remainder()(self, _as_tensor("remainder", "other", other))


# ----------------------------------------------------------------- lerp


def _lerp_arrays(s, e, w):
    """PyTorch's lerp: ``s + w (e - s)`` for |w| < 0.5, else ``e - (e - s)(1 - w)``
    (exact at w == 1). ``w`` is an array or a Python number."""
    m = xp(s)
    out = s.dtype
    if out in HALF_NUMPY:
        s, e = s.astype(FLOAT32), e.astype(FLOAT32)
        if hasattr(w, "dtype"):
            w = w.astype(FLOAT32)
    elif hasattr(w, "dtype"):
        w = _cast(w, out)
    d = e - s
    if hasattr(w, "dtype"):
        r = m.where(m.abs(w) < 0.5, s + w * d, e - d * (1 - w))
    else:
        r = s + w * d if abs(w) < 0.5 else e - d * (1 - w)
    return _cast(r, out)


def _lerp_check(s, e, w=None):
    if not is_float(s.dtype):
        raise DTypeError(f"lerp: expected a floating-point tensor, got {dtype_of(s.dtype)}")
    if e.dtype != s.dtype:
        raise DTypeError(f"lerp: expected end to have dtype {dtype_of(s.dtype)} like self, "
                         f"got {dtype_of(e.dtype)}")
    if w is not None and w.ndim and w.dtype != s.dtype:
        raise DTypeError(f"lerp: expected weight to have dtype {dtype_of(s.dtype)} like self, "
                         f"got {dtype_of(w.dtype)} (only a 0-d weight may differ)")


class Lerp(Function):
    """``lerp(start, end, weight)`` for a tensor weight (all three broadcast)."""

    def forward(self, s, e, w):
        _lerp_check(s, e, w)
        return _lerp_arrays(s, e, w)

    def backward(self, gy):
        s, e, w = self.inputs
        gs = gy * w.neg().add_scalar(1) if self.needs_grad(0) else None
        ge = gy * w if self.needs_grad(1) else None
        gw = gy * (e - s) if self.needs_grad(2) else None
        return gs, ge, gw


class LerpScalar(Function):
    """``lerp(start, end, weight)`` for a Python-number weight."""

    __slots__ = ("weight",)

    def __init__(self, weight):
        self.weight = weight

    def forward(self, s, e):
        _lerp_check(s, e)
        return _lerp_arrays(s, e, self.weight)

    def backward(self, gy):
        w = self.weight
        gs = gy.mul_scalar(1 - w) if self.needs_grad(0) else None
        ge = gy.mul_scalar(w) if self.needs_grad(1) else None
        return gs, ge


@op_method
def lerp(self, end, weight):
    """Linear interpolation ``self + weight * (end - self)`` (broadcasting).

    ``end`` is a tensor of self's dtype; ``weight`` a Python number or a tensor
    (of self's dtype unless 0-d). Exact at weight 0 and 1, as in PyTorch.
    """
    end = _as_tensor("lerp", "end", end)
    if _is_number(weight):
        w = _number("lerp", "weight", weight)
        return LerpScalar(float(w) if isinstance(w, bool) else w)(self, end)
    return Lerp()(self, end, _as_tensor("lerp", "weight", weight))


# ----------------------------------------------------- addcmul, addcdiv


def _addc_dtype(op, a, b, c, value):
    dt = _promote(a, b, c)
    if dt == _BOOL:
        raise DTypeError(f"{op}: not supported for Bool tensors")
    if not is_float(dt) and isinstance(value, float):
        raise DTypeError(f"{op}: value must be an integer for {dtype_of(dt)} tensors, got "
                         f"{value!r} (PyTorch would silently truncate it)")
    return dt


class Addcmul(Function):
    """``self + value * tensor1 * tensor2`` (all three broadcast)."""

    autocast_policy = AUTOCAST_PROMOTE

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def forward(self, a, b, c):
        dt = _addc_dtype("addcmul", a, b, c, self.value)
        work = FLOAT32 if dt in HALF_NUMPY else dt
        a, b, c = _cast(a, work), _cast(b, work), _cast(c, work)
        return _cast(a + self.value * b * c, dt)

    def backward(self, gy):
        _, b, c = self.inputs
        v = self.value
        gb = gc = None
        if self.needs_grad(1):
            gb = gy * c if v == 1 else (gy * c).mul_scalar(v)
        if self.needs_grad(2):
            gc = gy * b if v == 1 else (gy * b).mul_scalar(v)
        return gy, gb, gc


class Addcdiv(Function):
    """``self + value * tensor1 / tensor2`` (all three broadcast)."""

    autocast_policy = AUTOCAST_PROMOTE

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def forward(self, a, b, c):
        if not is_float(b.dtype) and not is_float(c.dtype):
            raise DTypeError(f"addcdiv: integer division is not supported (tensor1 "
                             f"{dtype_of(b.dtype)}, tensor2 {dtype_of(c.dtype)}), as in "
                             "PyTorch; convert one of them to a float dtype")
        dt = _addc_dtype("addcdiv", a, b, c, self.value)
        work = FLOAT32 if dt in HALF_NUMPY else dt
        a, b, c = _cast(a, work), _cast(b, work), _cast(c, work)
        return _cast(a + self.value * b / c, dt)

    def backward(self, gy):
        _, b, c = self.inputs
        v = self.value
        gb = gc = None
        if self.needs_grad(1):
            gb = gy / c if v == 1 else (gy / c).mul_scalar(v)
        if self.needs_grad(2):
            gc = (gy * b / (c * c)).mul_scalar(-v)
        return gy, gb, gc


@op_method
def addcmul(self, tensor1, tensor2, value=1):
    """``self + value * tensor1 * tensor2`` (broadcasting; ``value`` a Python number,
    an integer for integer tensors)."""
    v = _number("addcmul", "value", value)
    return Addcmul(int(v) if isinstance(v, bool) else v)(
        self, _as_tensor("addcmul", "tensor1", tensor1), _as_tensor("addcmul", "tensor2", tensor2))


@op_method
def addcdiv(self, tensor1, tensor2, value=1):
    """``self + value * tensor1 / tensor2`` (broadcasting; true division, so tensor1
    and tensor2 may not both be integer tensors)."""
    v = _number("addcdiv", "value", value)
    return Addcdiv(int(v) if isinstance(v, bool) else v)(
        self, _as_tensor("addcdiv", "tensor1", tensor1), _as_tensor("addcdiv", "tensor2", tensor2))


# -------------------------------------------------------------- isclose


@op_method(differentiable=False)
def isclose(self, other, rtol=1e-5, atol=1e-8, equal_nan=False):
    """Bool Tensor: ``|self - other| <= atol + rtol * |other|`` elementwise, or equal.

    PyTorch's rules: both tensors must share a dtype; infinities are close only
    to themselves; NaNs are close to each other only with ``equal_nan=True``;
    zero tolerances mean exact equality. Not differentiable.
    """
    other = _as_tensor("isclose", "other", other)
    rtol = _number("isclose", "rtol", rtol)
    atol = _number("isclose", "atol", atol)
    if rtol < 0:
        raise ValueError(f"isclose: rtol must be greater than or equal to zero, got {rtol}")
    if atol < 0:
        raise ValueError(f"isclose: atol must be greater than or equal to zero, got {atol}")
    a, b = self._data, other._data
    if a.dtype != b.dtype:
        raise DTypeError(f"isclose: expected both tensors to have the same dtype, got "
                         f"{dtype_of(a.dtype)} and {dtype_of(b.dtype)}")
    if type(a) is not type(b) and device_of(a) != device_of(b):
        raise DeviceError(f"isclose: tensors on different devices: {self.device!r} and "
                          f"{other.device!r}")
    m = xp(a)
    try:
        shape = np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        from ...errors import ShapeError
        raise ShapeError(f"isclose: cannot broadcast shapes {tuple(a.shape)} and "
                         f"{tuple(b.shape)}") from None
    close = a == b
    if is_float(a.dtype):
        with np.errstate(invalid="ignore"):
            if equal_nan:
                close = close | (m.isnan(a) & m.isnan(b))
            if rtol or atol:
                # In the tensors' own dtype, rounding per op as PyTorch does (for
                # half types too, so the result matches PyTorch's bit for bit).
                dt = a.dtype
                err = _cast(m.abs(a - b), dt)
                allowed = _cast(atol + _cast(m.abs(_cast(rtol * b, dt)), dt), dt)
                close = close | (m.isfinite(err) & (err <= allowed))
    elif rtol or atol:
        # Integers: the error in int64 (no wrap-around for narrow types), the
        # allowed error in float64.
        err = m.abs(a.astype(_INT64) - b.astype(_INT64))
        close = close | (err <= atol + m.abs(rtol * b.astype(_F64)))
    close = m.asarray(close)
    if close.shape != shape:
        close = m.array(m.broadcast_to(close, shape))   # a real array, not a view
    return Tensor._wrap(close)


__all__ = ["tan", "asin", "acos", "atan", "atan2", "erf", "erfc", "trunc", "frac", "fmod",
           "remainder", "lerp", "addcmul", "addcdiv", "isclose"]
