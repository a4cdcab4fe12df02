"""Elementwise math: pow, exp/log family, trig, activations, clamp, rounding,
maximum/minimum, where and masked_fill.

Dtype rules follow PyTorch: float math (exp, log, sin, sigmoid, ...) promotes
integer and bool inputs to Float32; half types (Float16, BFloat16) keep their
dtype in the output and compute in float32 internally, rounding once. Binary
ops promote by category (a float operand wins over an integer one) and
otherwise like NumPy; Float16 with BFloat16 gives Float32.

Backward formulas use the framework's own ops, so double backward works.
Masks that only depend on the forward inputs (relu's ``x <= 0``, clamp's
range, ties of maximum) are constant Tensors; gradients are zeroed with
``masked_fill`` (a ``where``), never by multiplying with a 0/1 mask, so an
infinite upstream gradient does not turn into NaN where PyTorch gives 0 (abs
multiplies by sign(x), as PyTorch does).
"""
from __future__ import annotations

import math
import numbers
import operator

import numpy as np

from ...backend.dtype import BFLOAT16_NUMPY, HALF_NUMPY, dtype_of
from ...errors import DTypeError, ShapeError
from ...tensor import Tensor, TensorLike, _is_array
from ..function import AUTOCAST_FP32, Function, op_method
from ._util import (FLOAT32, apply_scalar, combine_categories, float_input, is_float,
                    promote_types, result_type, xp)

Number = numbers.Number
_BOOL = np.dtype(np.bool_)
_INT64 = np.dtype(np.int64)
_LN2 = math.log(2.0)
_LN10 = math.log(10.0)


# ------------------------------------------------------------------ helpers


def _float_math(x, fn):
    """``fn(x)`` for float math: ints/bool promote to Float32, half types compute
    in float32 and round once. Domain errors give NaN/Inf, with NumPy's usual
    RuntimeWarning (silencing it with np.errstate costs about 1 us per op)."""
    x = float_input(x)
    if x.dtype in HALF_NUMPY:
        return fn(x.astype(FLOAT32)).astype(x.dtype)
    return fn(x)


def _same_dtype_math(x, fn):
    """``fn(x)`` keeping x's dtype; half types compute in float32."""
    if x.dtype in HALF_NUMPY:
        return fn(x.astype(FLOAT32)).astype(x.dtype)
    return fn(x)


_result_dtype = promote_types


def _cast(a, dtype):
    return a if a.dtype == dtype else a.astype(dtype)


def _const(mask):
    return Tensor._wrap(mask)


def _zero_grad(gy):
    """Zeros shaped like ``gy`` that still depend on it (d/d gy = 0), so double
    backward sees a path; a masked fill gives exact zeros even for Inf upstream."""
    true = xp(gy._data).ones((), dtype=_BOOL)
    return MaskedFill(0)(gy, _const(true))


def _no_bool(op, x):
    if x.dtype == _BOOL:
        raise DTypeError(f"{op}: not supported for Bool tensors (as in PyTorch)")


def _number(op, name, value):
    """A Python int/float (NumPy scalars converted, so they never upcast)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    raise DTypeError(f"{op}: {name} must be a real Python number, got {type(value).__name__}")


def _as_tensor(op, name, value):
    if isinstance(value, TensorLike):
        return value
    if _is_array(value):
        return Tensor(value)
    raise DTypeError(f"{op}: {name} must be a tensor, got {type(value).__name__}")


def _bool_mask(op, name, mask):
    mask = _as_tensor(op, name, mask)
    if mask._data.dtype != _BOOL:
        raise DTypeError(f"{op}: {name} must be a Bool tensor, got {mask.dtype}")
    return mask


# ------------------------------------------------------------------- pow


class Pow(Function):
    """``a ** b`` for two tensors (broadcasting)."""

    autocast_policy = AUTOCAST_FP32

    retain_outputs = (0,)

    def forward(self, a, b):
        dt = result_type(a, b)
        if dt == _BOOL:
            raise DTypeError("pow: not supported for two Bool tensors (as in PyTorch)")
        if dt.kind in "biu" and b.dtype.kind in "iu" and bool((b < 0).any()):
            raise DTypeError("pow: integers to negative integer powers are not allowed")
        a, b = _cast(a, dt), _cast(b, dt)
        with np.errstate(all="ignore"):
            if dt in HALF_NUMPY:
                return xp(a).power(a.astype(FLOAT32), b.astype(FLOAT32)).astype(dt)
            return xp(a).power(a, b)

    def backward(self, gy):
        a, b = self.inputs
        ad, bd = a._data, b._data
        ga = gb = None
        if self.needs_grad(0):
            bf = b if is_float(bd.dtype) else b.to_dtype(dtype_of(gy._data.dtype))
            # d/da = b * a^(b-1), zeroed where b == 0 as in PyTorch (0 * 0^-1 would be NaN).
            ga = (gy * bf * Pow()(a, bf.sub_scalar(1))).masked_fill(_const(bd == 0), 0)
        if self.needs_grad(1):
            # d/db = a^b * log(a), zeroed where a == 0 and b >= 0 (PyTorch's rule:
            # the limit is 0 there, the formula would give 0 * -inf = NaN).
            gb = (gy * self.output() * a.log()).masked_fill(_const((ad == 0) & (bd >= 0)), 0)
        return ga, gb


def _pow_number(x, p):
    """``x ** p`` for a Python number, with PyTorch's special cases for float
    tensors: p = 0.5, -0.5, -1 are sqrt, rsqrt, reciprocal and p = 2, 3, -2 are
    products. They differ from pow() at -inf and -0.0 (sqrt(-inf) is NaN,
    rsqrt(-0.0) is -inf) and by an ulp elsewhere."""
    if x.dtype.kind != "f" or p not in (0.5, -0.5, -1, 2, 3, -2):
        return x ** p
    m = xp(x)
    if p == 0.5:
        return m.sqrt(x)
    if p == -0.5:
        return m.reciprocal(m.sqrt(x))
    if p == -1:
        return m.reciprocal(x)
    if p == 2:
        return x * x
    if p == 3:
        return x * x * x
    return m.reciprocal(x * x)


class PowScalar(Function):
    """``x ** p`` for a Python number ``p``."""

    autocast_policy = AUTOCAST_FP32

    __slots__ = ("p",)

    def __init__(self, p):
        self.p = p

    def forward(self, x):
        p = self.p
        if x.dtype.kind in "biu" and isinstance(p, int) and p < 0:
            raise DTypeError("pow_scalar: integers to negative integer powers are not allowed")
        if x.dtype == _BOOL and not isinstance(p, float):
            x = x.astype(_INT64)        # Bool ** int is Int64 (PyTorch)
        with np.errstate(all="ignore"):
            return apply_scalar("pow_scalar", x, p, _pow_number)

    def backward(self, gy):
        p = self.p
        if p == 0:                   # x^0 == 1: zero gradient (PyTorch: zeros, even at x == 0)
            return _zero_grad(gy)
        if p == 1:
            return gy
        x = self.inputs[0]
        d = x if p == 2 else x.pow_scalar(p - 1)
        return gy * d.mul_scalar(p)


@op_method
def pow(self, other):
    """Elementwise ``self ** other`` for a tensor exponent (a number goes to pow_scalar)."""
    if isinstance(other, Number) and not isinstance(other, TensorLike):
        return PowScalar(_number("pow", "other", other))(self)
    return Pow()(self, _as_tensor("pow", "other", other))


@op_method
def pow_scalar(self, p):
    """Elementwise ``self ** p`` for a Python number ``p``."""
    return PowScalar(_number("pow_scalar", "p", p))(self)


# ------------------------------------------------------------ exp and log


class Exp(Function):
    autocast_policy = AUTOCAST_FP32
    retain_outputs = (0,)

    def forward(self, x):
        return _float_math(x, xp(x).exp)

    def backward(self, gy):
        return gy * self.output()


class Expm1(Function):
    autocast_policy = AUTOCAST_FP32
    retain_outputs = (0,)

    def forward(self, x):
        return _float_math(x, xp(x).expm1)

    def backward(self, gy):
        return gy * self.output().add_scalar(1)


class Log(Function):
    autocast_policy = AUTOCAST_FP32
    def forward(self, x):
        return _float_math(x, xp(x).log)

    def backward(self, gy):
        return gy / self.inputs[0]


class Log1p(Function):
    autocast_policy = AUTOCAST_FP32
    def forward(self, x):
        return _float_math(x, xp(x).log1p)

    def backward(self, gy):
        return gy / self.inputs[0].add_scalar(1)


class Log2(Function):
    autocast_policy = AUTOCAST_FP32
    def forward(self, x):
        return _float_math(x, xp(x).log2)

    def backward(self, gy):
        return gy / self.inputs[0].mul_scalar(_LN2)


class Log10(Function):
    autocast_policy = AUTOCAST_FP32
    def forward(self, x):
        return _float_math(x, xp(x).log10)

    def backward(self, gy):
        return gy / self.inputs[0].mul_scalar(_LN10)


class Sqrt(Function):
    retain_outputs = (0,)

    def forward(self, x):
        return _float_math(x, xp(x).sqrt)

    def backward(self, gy):
        return gy / self.output().mul_scalar(2)


class Rsqrt(Function):
    autocast_policy = AUTOCAST_FP32
    retain_outputs = (0,)

    def forward(self, x):
        m = xp(x)
        return _float_math(x, lambda v: m.reciprocal(m.sqrt(v)))

    def backward(self, gy):
        return gy * self.output().pow_scalar(3).mul_scalar(-0.5)


class Reciprocal(Function):
    autocast_policy = AUTOCAST_FP32
    retain_outputs = (0,)

    def forward(self, x):
        return _float_math(x, xp(x).reciprocal)

    def backward(self, gy):
        y = self.output()
        return gy * (y * y).neg()


class Square(Function):
    def forward(self, x):
        if x.dtype == _BOOL:
            x = x.astype(_INT64)        # PyTorch: square of Bool is Int64
        return _same_dtype_math(x, xp(x).square)

    def backward(self, gy):
        return gy * self.inputs[0].mul_scalar(2)


@op_method
def exp(self):
    """Elementwise ``e ** self``."""
    return Exp()(self)


@op_method
def expm1(self):
    """Elementwise ``exp(self) - 1``, accurate near 0."""
    return Expm1()(self)


@op_method
def log(self):
    """Elementwise natural logarithm (NaN below 0, -inf at 0)."""
    return Log()(self)


@op_method
def log1p(self):
    """Elementwise ``log(1 + self)``, accurate near 0."""
    return Log1p()(self)


@op_method
def log2(self):
    """Elementwise base-2 logarithm."""
    return Log2()(self)


@op_method
def log10(self):
    """Elementwise base-10 logarithm."""
    return Log10()(self)


@op_method
def sqrt(self):
    """Elementwise square root."""
    return Sqrt()(self)


@op_method
def rsqrt(self):
    """Elementwise ``1 / sqrt(self)``."""
    return Rsqrt()(self)


@op_method
def reciprocal(self):
    """Elementwise ``1 / self`` (integers promote to Float32)."""
    return Reciprocal()(self)


@op_method
def square(self):
    """Elementwise ``self * self``."""
    return Square()(self)


# ------------------------------------------------------ trig, activations


class Sin(Function):
    def forward(self, x):
        return _float_math(x, xp(x).sin)

    def backward(self, gy):
        return gy * self.inputs[0].cos()


class Cos(Function):
    def forward(self, x):
        return _float_math(x, xp(x).cos)

    def backward(self, gy):
        return gy * self.inputs[0].sin().neg()


class Tanh(Function):
    retain_outputs = (0,)

    def forward(self, x):
        return _float_math(x, xp(x).tanh)

    def backward(self, gy):
        y = self.output()
        return gy * (y * y).neg().add_scalar(1)


def _sigmoid(m):
    def fn(x):
        # 1 / (1 + exp(-x)): exp overflows to inf only where the result is below
        # float32's normal range anyway (x < -88), and 1/inf gives 0 there. Five
        # times faster than a branch-free where() of two stable halves.
        e = m.negative(x, out=m.empty_like(x))   # out= keeps 0-d inputs arrays
        with m.errstate(over="ignore"):
            m.exp(e, out=e)
        e += 1
        return m.reciprocal(e, out=e)
    return fn


class Sigmoid(Function):
    retain_outputs = (0,)

    def forward(self, x):
        return _float_math(x, _sigmoid(xp(x)))

    def backward(self, gy):
        y = self.output()
        return gy * y * y.neg().add_scalar(1)


class Relu(Function):
    def forward(self, x):
        _no_bool("relu", x)
        return _cast(xp(x).maximum(x, 0), x.dtype)

    def backward(self, gy):
        # Zero where x <= 0, so the gradient at 0 is 0 (PyTorch); NaN inputs pass gy.
        # A multiply by the bool mask, not np.where: where() is branchy and ~10x
        # slower on random masks. (An Inf/NaN upstream grad at x <= 0 thus gives
        # NaN where PyTorch gives 0.)
        x = self.inputs[0]._data
        if x.dtype == BFLOAT16_NUMPY:
            with np.errstate(invalid="ignore"):    # bfloat16 compares warn on NaN
                keep = ~(x <= 0)
        else:
            keep = ~(x <= 0)
        return gy * _const(keep)


class Abs(Function):
    def forward(self, x):
        _no_bool("abs", x)
        return xp(x).abs(x)

    def backward(self, gy):
        # d|x|/dx = sign(x), 0 at x == 0 (PyTorch's subgradient choice).
        return gy * _const(_cast(_sign(self.inputs[0]._data), gy._data.dtype))


@op_method
def sin(self):
    """Elementwise sine."""
    return Sin()(self)


@op_method
def cos(self):
    """Elementwise cosine."""
    return Cos()(self)


@op_method
def tanh(self):
    """Elementwise hyperbolic tangent."""
    return Tanh()(self)


@op_method
def sigmoid(self):
    """Elementwise logistic function ``1 / (1 + exp(-self))`` (overflow-free)."""
    return Sigmoid()(self)


@op_method
def relu(self):
    """Elementwise ``max(self, 0)``; the gradient at 0 is 0."""
    return Relu()(self)


@op_method
def abs(self):
    """Elementwise absolute value; the gradient at 0 is 0."""
    return Abs()(self)


# ------------------------------------------------------------------ clamp


class Clamp(Function):
    """``min(max(x, lo), hi)`` with Python-number bounds (None: no bound)."""

    __slots__ = ("lo", "hi")

    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    def forward(self, x):
        lo, hi = self.lo, self.hi
        m = xp(x)
        out_dtype = x.dtype
        has_float = isinstance(lo, float) or isinstance(hi, float)
        if x.dtype in HALF_NUMPY:
            x = x.astype(FLOAT32)
        elif x.dtype.kind in "biu" and has_float:
            x = x.astype(FLOAT32)       # a float bound promotes ints/bool to Float32 (PyTorch)
            out_dtype = FLOAT32
        elif x.dtype == _BOOL:
            x = x.astype(_INT64)        # Bool with an int bound: Int64 (PyTorch)
            out_dtype = _INT64
        # max first, then min: with lo > hi every element becomes hi (as in PyTorch).
        try:
            if lo is not None:
                x = m.maximum(x, lo)
            if hi is not None:
                x = m.minimum(x, hi)
        except OverflowError:
            raise DTypeError(f"clamp: bounds (min={lo}, max={hi}) out of range for "
                             f"{dtype_of(out_dtype)}") from None
        return _cast(x, out_dtype)

    def backward(self, gy):
        # The gradient passes where lo <= x <= hi (both ends inclusive, PyTorch);
        # NaN inputs get 0.
        x = self.inputs[0]._data
        inside = None
        with np.errstate(invalid="ignore"):
            if self.lo is not None:
                inside = x >= self.lo
            if self.hi is not None:
                le = x <= self.hi
                inside = le if inside is None else inside & le
        return gy.masked_fill(_const(xp(x).logical_not(inside)), 0)


class ClampTensor(Function):
    """``min(max(x, lo), hi)`` with tensor bounds (broadcasting). Inputs: x, then
    lo and/or hi (``has_lo``/``has_hi`` say which); all three are cast to ``dtype``
    (PyTorch's result type of the three) and half types compute in float32."""

    __slots__ = ("has_lo", "has_hi", "dtype")

    def __init__(self, has_lo, has_hi, dtype):
        self.has_lo, self.has_hi, self.dtype = has_lo, has_hi, dtype

    def _operands(self, arrays):
        dt = self.dtype
        work = FLOAT32 if dt in HALF_NUMPY else dt
        x, *bounds = [_cast(_cast(a, dt), work) for a in arrays]
        lo = bounds[0] if self.has_lo else None
        hi = bounds[-1] if self.has_hi else None
        return x, lo, hi

    def forward(self, x, *bounds):
        x, lo, hi = self._operands((x,) + bounds)
        m = xp(x)
        # max first, then min: where lo > hi the result is hi; NaN anywhere gives NaN.
        if lo is not None:
            x = m.maximum(x, lo)
        if hi is not None:
            x = m.minimum(x, hi)
        return _cast(x, self.dtype)

    def backward(self, gy):
        # PyTorch's rules (clamp_backward, clamp_backward_min_max): x gets gy where
        # lo <= x <= hi (both ends inclusive); lo where x < lo and lo < hi; hi where
        # x > hi or hi < lo. NaN (in x or a bound) gives 0 to all but hi-below-lo.
        # The engine sums broadcast gradients back to each input's shape.
        x, lo, hi = self._operands([a._data for a in self.inputs])
        m = xp(x)
        grads = [None] * len(self.inputs)
        with np.errstate(invalid="ignore"):
            if self.needs_grad(0):
                if lo is None:
                    inside = x <= hi
                elif hi is None:
                    inside = x >= lo
                else:
                    inside = (x >= lo) & (x <= hi)
                grads[0] = gy.masked_fill(_const(m.logical_not(inside)), 0)
            if self.has_lo and self.needs_grad(1):
                takes = x < lo if hi is None else (x < lo) & (lo < hi)
                grads[1] = gy.masked_fill(_const(m.logical_not(takes)), 0)
            if self.has_hi and self.needs_grad(len(grads) - 1):
                takes = x > hi if lo is None else (x > hi) | (hi < lo)
                grads[-1] = gy.masked_fill(_const(m.logical_not(takes)), 0)
        return tuple(grads)


def _bound(op, name, value):
    """A clamp bound: None, a Python int/float, or a Tensor/Variable (arrays become
    constant Tensors)."""
    if value is None:
        return None
    if isinstance(value, TensorLike):
        return value
    if _is_array(value):
        return Tensor(value)
    if isinstance(value, (bool, np.bool_)):
        raise DTypeError(f"{op}: {name} must be an int or float, got bool")
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    raise DTypeError(f"{op}: {name} must be a number, a tensor or None, got "
                     f"{type(value).__name__}")


def _clamp_dtype(operands):
    """PyTorch's result type of clamp's operands (Tensors or Python numbers):
    tensors with dims outrank 0-d tensors, which outrank numbers (a float number
    counts as Float32, an int one as Int64), except across categories."""
    dims = zero = number = None
    for v in operands:
        if v is None:
            continue
        if isinstance(v, TensorLike):
            d = v._data.dtype
            if v._data.ndim:
                dims = d if dims is None else promote_types(dims, d)
            else:
                zero = d if zero is None else promote_types(zero, d)
        else:
            d = FLOAT32 if isinstance(v, float) else _INT64
            number = d if number is None else promote_types(number, d)
    return combine_categories(dims, combine_categories(zero, number))


def _clamp_tensor(op, x, lo, hi):
    """Clamp with at least one tensor bound; a number bound becomes a 0-d constant."""
    named = [(n, b) for n, b in (("min", lo), ("max", hi)) if isinstance(b, TensorLike)]
    try:
        np.broadcast_shapes(tuple(x.shape), *(tuple(b.shape) for _, b in named))
    except ValueError:
        bounds = " and ".join(f"{n} of shape {tuple(b.shape)}" for n, b in named)
        raise ShapeError(f"{op}: {bounds} cannot broadcast with the input of shape "
                         f"{tuple(x.shape)}; expected bounds that are numbers or tensors "
                         f"whose shapes broadcast with the input's") from None
    dt = _clamp_dtype((x, lo, hi))
    bounds = []
    for name, b in (("min", lo), ("max", hi)):
        if b is None:
            continue
        if not isinstance(b, TensorLike):    # a number next to a tensor bound
            try:
                b = _const(xp(x._data).asarray(b, dtype=dt))
            except OverflowError:
                raise DTypeError(f"{op}: {name}={b} out of range for {dtype_of(dt)}") from None
        bounds.append(b)
    return ClampTensor(lo is not None, hi is not None, dt)(x, *bounds)


@op_method
def clamp(self, min=None, max=None):
    """Elementwise ``min(max(self, min), max)``, as ``torch.clamp``.

    ``min`` and ``max`` are each a number, a tensor or None (at least one given).
    Tensor bounds broadcast with ``self`` (the result has the broadcast shape),
    promote dtypes like PyTorch and are differentiable: ``self`` gets the gradient
    where min <= self <= max, ``min`` where self < min < max, ``max`` where self > max
    or max < min. Where min > max the result is max. NaN propagates.
    """
    lo, hi = _bound("clamp", "min", min), _bound("clamp", "max", max)
    if lo is None and hi is None:
        raise ValueError("clamp: at least one of min and max must be given")
    if isinstance(lo, TensorLike) or isinstance(hi, TensorLike):
        return _clamp_tensor("clamp", self, lo, hi)
    return Clamp(lo, hi)(self)


@op_method
def clamp_min(self, min):
    """Elementwise ``max(self, min)``; ``min`` is a number or a tensor (as clamp)."""
    lo = _bound("clamp_min", "min", min)
    if lo is None:
        raise ValueError("clamp_min: min must be a number or a tensor, got None")
    if isinstance(lo, TensorLike):
        return _clamp_tensor("clamp_min", self, lo, None)
    return Clamp(lo, None)(self)


@op_method
def clamp_max(self, max):
    """Elementwise ``min(self, max)``; ``max`` is a number or a tensor (as clamp)."""
    hi = _bound("clamp_max", "max", max)
    if hi is None:
        raise ValueError("clamp_max: max must be a number or a tensor, got None")
    if isinstance(hi, TensorLike):
        return _clamp_tensor("clamp_max", self, None, hi)
    return Clamp(None, hi)(self)


# ------------------------------------------- sign and rounding (zero gradient)


def _sign(x):
    """-1, 0 or 1 in x's dtype; NaN gives 0, as in PyTorch (NumPy's sign gives NaN)."""
    if x.dtype == _BOOL:
        return x.copy()
    if x.dtype.kind == "u":
        return (x > 0).astype(x.dtype)
    with np.errstate(invalid="ignore"):         # BFloat16 compares warn on NaN
        return (x > 0).astype(x.dtype) - (x < 0).astype(x.dtype)


class Sign(Function):
    def forward(self, x):
        return _sign(x)

    def backward(self, gy):
        return _zero_grad(gy)       # piecewise constant: zero gradient, as in PyTorch


class Floor(Function):
    def forward(self, x):
        _no_bool("floor", x)
        if not is_float(x.dtype):
            return x.copy()         # integers are already whole (PyTorch returns a copy)
        return _same_dtype_math(x, xp(x).floor)

    def backward(self, gy):
        return _zero_grad(gy)


class Ceil(Function):
    def forward(self, x):
        _no_bool("ceil", x)
        if not is_float(x.dtype):
            return x.copy()
        return _same_dtype_math(x, xp(x).ceil)

    def backward(self, gy):
        return _zero_grad(gy)


class Round(Function):
    __slots__ = ("decimals",)

    def __init__(self, decimals):
        self.decimals = decimals

    def forward(self, x):
        d = self.decimals
        _no_bool("round", x)
        if not is_float(x.dtype):
            if d:
                raise DTypeError(f"round: decimals={d} needs a floating-point tensor, "
                                 f"got {dtype_of(x.dtype)}")
            return x.copy()
        m = xp(x)
        # Halves round to even (0.5 -> 0, 1.5 -> 2, -2.5 -> -2), as in PyTorch.
        return _same_dtype_math(x, (lambda v: m.round(v, d)) if d else m.rint)

    def backward(self, gy):
        return _zero_grad(gy)


@op_method
def sign(self):
    """Elementwise sign: -1, 0 or 1 (NaN gives 0, as in PyTorch); zero gradient."""
    return Sign()(self)


@op_method
def floor(self):
    """Elementwise floor; zero gradient."""
    return Floor()(self)


@op_method
def ceil(self):
    """Elementwise ceiling; zero gradient."""
    return Ceil()(self)


@op_method
def round(self, decimals=0):
    """Elementwise rounding to ``decimals`` places, halves to even; zero gradient."""
    if isinstance(decimals, bool) or not isinstance(decimals, (int, np.integer)):
        raise DTypeError(f"round: decimals must be an int, got {type(decimals).__name__}")
    return Round(int(decimals))(self)


# ------------------------------------------------------- maximum, minimum


class Maximum(Function):
    def forward(self, a, b):
        dt = result_type(a, b)
        return xp(a).maximum(_cast(a, dt), _cast(b, dt))   # NaN propagates

    def backward(self, gy):
        return _minmax_backward(self, gy, operator.lt, operator.gt)


class Minimum(Function):
    def forward(self, a, b):
        dt = result_type(a, b)
        return xp(a).minimum(_cast(a, dt), _cast(b, dt))

    def backward(self, gy):
        return _minmax_backward(self, gy, operator.gt, operator.lt)


def _minmax_backward(node, gy, a_loses, b_loses):
    """The winner gets gy; on a tie (a == b) each side gets gy / 2 (PyTorch)."""
    a, b = node.inputs[0]._data, node.inputs[1]._data
    tie = _const(a == b)
    split = Where(gy._data.dtype)(tie, gy.mul_scalar(0.5), gy)
    ga = split.masked_fill(_const(a_loses(a, b)), 0) if node.needs_grad(0) else None
    gb = split.masked_fill(_const(b_loses(a, b)), 0) if node.needs_grad(1) else None
    return ga, gb


@op_method
def maximum(self, other):
    """Elementwise maximum of two tensors (broadcasting; NaN propagates)."""
    return Maximum()(self, _as_tensor("maximum", "other", other))


@op_method
def minimum(self, other):
    """Elementwise minimum of two tensors (broadcasting; NaN propagates)."""
    return Minimum()(self, _as_tensor("minimum", "other", other))


# ---------------------------------------------------- where, masked_fill


class Where(Function):
    """``cond ? a : b`` (inputs: Bool cond, a, b), computed in ``dtype``."""

    __slots__ = ("dtype",)

    def __init__(self, dtype):
        self.dtype = dtype

    def forward(self, cond, a, b):
        return xp(a).where(cond, _cast(a, self.dtype), _cast(b, self.dtype))

    def backward(self, gy):
        cond = self.inputs[0]
        ga = (gy.masked_fill(_const(xp(cond._data).logical_not(cond._data)), 0)
              if self.needs_grad(1) else None)
        gb = gy.masked_fill(cond, 0) if self.needs_grad(2) else None
        return None, ga, gb


class MaskedFill(Function):
    """``value`` where ``mask`` (input 1, Bool) is True, else x; x's dtype."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def forward(self, x, mask):
        m = xp(x)
        try:
            fill = m.asarray(self.value, dtype=x.dtype)
        except (OverflowError, ValueError):
            raise DTypeError(f"masked_fill: value {self.value!r} cannot be converted to "
                             f"{dtype_of(x.dtype)}") from None
        return m.where(mask, fill, x)

    def backward(self, gy):
        return gy.masked_fill(self.inputs[1], 0), None


def _scalar_result_dtype(tensor_dtype, value):
    """PyTorch's dtype for a tensor combined with a Python scalar."""
    if is_float(tensor_dtype) or isinstance(value, bool):
        return tensor_dtype
    if isinstance(value, float):
        return FLOAT32               # int/bool tensor with a float scalar
    return _INT64 if tensor_dtype == _BOOL else tensor_dtype


def _scalar_kind_dtype(value):
    if isinstance(value, bool):
        return _BOOL
    return FLOAT32 if isinstance(value, float) else _INT64


def where(cond, a, b):
    """Elementwise ``a`` where ``cond`` (a Bool tensor) is True, else ``b``.

    ``a`` and ``b`` may be Tensors, Variables or Python numbers; all three
    broadcast. A scalar never changes a float tensor's dtype (PyTorch's rule);
    two scalars give Float32 (float), Int64 (int) or Bool.
    """
    cond = _bool_mask("where", "cond", cond)
    a_t = a if isinstance(a, TensorLike) else (Tensor(a) if _is_array(a) else None)
    b_t = b if isinstance(b, TensorLike) else (Tensor(b) if _is_array(b) else None)
    if a_t is None:
        a = _number("where", "a", a)
    if b_t is None:
        b = _number("where", "b", b)
    if a_t is not None and b_t is not None:
        dt = result_type(a_t._data, b_t._data)
    elif a_t is not None:
        dt = _scalar_result_dtype(a_t._data.dtype, b)
    elif b_t is not None:
        dt = _scalar_result_dtype(b_t._data.dtype, a)
    else:
        dt = _result_dtype(_scalar_kind_dtype(a), _scalar_kind_dtype(b))
    m = xp(cond._data)
    if a_t is None:
        a_t = _const(m.asarray(a, dtype=dt))
    if b_t is None:
        b_t = _const(m.asarray(b, dtype=dt))
    return Where(dt)(cond, a_t, b_t)


@op_method(name="where")
def _where_method(self, condition, other):
    """``self`` where ``condition`` is True, else ``other`` (PyTorch's Tensor.where)."""
    return where(condition, self, other)


# PyTorch-style static form: Tensor.where_cond(cond, a, b).
TensorLike.where_cond = staticmethod(where)


@op_method
def masked_fill(self, mask, value):
    """``value`` where the Bool ``mask`` is True, else ``self`` (mask broadcasts).

    ``value`` is a Python number (cast to self's dtype) or a 0-d tensor.
    """
    mask = _bool_mask("masked_fill", "mask", mask)
    if isinstance(value, TensorLike):
        if value.ndim != 0:
            raise ShapeError(f"masked_fill: value must be a number or a 0-d tensor, got "
                             f"shape {value.shape}")
        return where(mask, value.to_dtype(self.dtype), self)
    return MaskedFill(_number("masked_fill", "value", value))(self, mask)


# ``abs``, ``round`` and ``pow`` stay out of __all__: a star import of the
# package would otherwise shadow the Python builtins (they remain methods).
__all__ = ["pow_scalar", "exp", "expm1", "log", "log1p", "log2", "log10", "sqrt",
           "rsqrt", "reciprocal", "square", "sin", "cos", "tanh", "sigmoid", "relu", "clamp",
           "clamp_min", "clamp_max", "sign", "floor", "ceil", "maximum",
           "minimum", "where", "masked_fill"]
