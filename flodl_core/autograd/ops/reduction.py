"""Reductions and the softmax family: sum, mean, var/std, max/min, prod,
cumsum, logsumexp, norm, softmax, log_softmax.

Dtypes follow PyTorch: sum, prod and cumsum of integer or bool tensors give
Int64; mean, var, std, softmax, log_softmax and norm reject non-float inputs;
logsumexp promotes them to Float32. Half types (Float16, BFloat16) compute in
float32 and return their own dtype. A ``dim`` of ``()`` or ``[]`` reduces every
dim, as in PyTorch. Backward formulas are written with the framework's own ops,
so they differentiate again (prod with zeros in its input is the exception).
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ...errors import AutogradError, ShapeError
from ...tensor import Tensor
from ..function import AUTOCAST_FP32, Function, op_method
from ..grad_mode import state
from ._util import FLOAT32, float_input, norm_dim, norm_dims, require_float, upcast, xp
from .rearrange import Flip

INT64 = "int64"
FLOAT64 = np.dtype(np.float64)


# ---------------------------------------------------------------- helpers


def _axes(dim, ndim, op) -> tuple:
    """Normalised axes to reduce: None (or an empty tuple/list) means all dims.

    A 0-d tensor accepts dim 0 and -1 and has no axis to reduce.
    """
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (tuple, list)):
        dims = norm_dims(dim, ndim, op) if dim else tuple(range(ndim))
    else:
        dims = (norm_dim(dim, ndim, op),)
    return tuple(sorted(dims)) if ndim else ()


def _keep_shape(shape, axes) -> tuple:
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


def _out_shape(shape, axes, keepdim) -> tuple:
    if keepdim:
        return _keep_shape(shape, axes)
    return tuple(s for i, s in enumerate(shape) if i not in axes)


def _count(shape, axes) -> int:
    return math.prod(shape[i] for i in axes)


def _unreduce(g, in_shape, axes, keepdim):
    """Broadcast a reduced gradient ``g`` back over the input's shape."""
    if not keepdim and axes:
        g = g.reshape(_keep_shape(in_shape, axes))
    return g if g.shape == in_shape else g.expand(in_shape)


def _const(array):
    """A constant (non-differentiable) operand for backward formulas.

    NumPy ufuncs on 0-d arrays return scalars: turn them back into arrays.
    """
    return Tensor._wrap(xp(array).asarray(array))


def _int_result(x):
    """Integer and bool inputs of sum/prod/cumsum accumulate in Int64."""
    return x.astype(INT64) if x.dtype.kind in "biu" else x


def _finish(y, like_dtype):
    """An array (never a NumPy scalar) in ``like_dtype``."""
    y = xp(y).asarray(y)
    return y if y.dtype == like_dtype else y.astype(like_dtype)


def _nonempty(op, x, axes):
    if x.size == 0 and (not axes or any(x.shape[a] == 0 for a in axes)):
        if len(axes) == x.ndim:
            raise ShapeError(f"{op}: expected a non-empty tensor, got shape {x.shape}")
        empty = next(a for a in axes if x.shape[a] == 0)
        raise ShapeError(f"{op}: cannot reduce over dim {empty} of size 0 "
                         f"(shape {x.shape})")


# ------------------------------------------------------------------- sum


class Sum(Function):
    autocast_policy = AUTOCAST_FP32
    __slots__ = ("axes", "keepdim")

    def __init__(self, axes, keepdim):
        self.axes, self.keepdim = axes, keepdim

    def forward(self, x):
        a = _int_result(upcast(x))
        y = a.sum(axis=self.axes, keepdims=self.keepdim)
        return _finish(y, a.dtype if x.dtype.kind in "biu" else x.dtype)

    def backward(self, gy):
        return _unreduce(gy, self.inputs[0].shape, self.axes, self.keepdim)


@op_method(name="sum")
def sum_(self):
    """Sum of all elements (0-d; Int64 for integer and bool inputs)."""
    return Sum(tuple(range(self.ndim)), False)(self)


@op_method
def sum_dim(self, dim, keepdim=False):
    """Sum over ``dim`` (an int or a tuple of ints; ``()`` means all dims)."""
    return Sum(_axes(dim, self.ndim, "sum_dim"), bool(keepdim))(self)


# ------------------------------------------------------------------ mean


class Mean(Function):
    autocast_policy = AUTOCAST_FP32
    __slots__ = ("axes", "keepdim")

    def __init__(self, axes, keepdim):
        self.axes, self.keepdim = axes, keepdim

    def forward(self, x):
        a = upcast(x)
        n = _count(x.shape, self.axes)
        y = a.sum(axis=self.axes, keepdims=self.keepdim) / n if n else \
            a.sum(axis=self.axes, keepdims=self.keepdim) * float("nan")
        return _finish(y, x.dtype)

    def backward(self, gy):
        x = self.inputs[0]
        n = _count(x.shape, self.axes)
        return _unreduce(gy, x.shape, self.axes, self.keepdim).div_scalar(n)


@op_method
def mean(self):
    """Mean of all elements (float tensors only; NaN for an empty tensor)."""
    require_float("mean", self._data)
    return Mean(tuple(range(self.ndim)), False)(self)


@op_method
def mean_dim(self, dim, keepdim=False):
    """Mean over ``dim`` (an int or a tuple of ints)."""
    require_float("mean_dim", self._data)
    return Mean(_axes(dim, self.ndim, "mean_dim"), bool(keepdim))(self)


# --------------------------------------------------------------- var, std


def _variance(x, axes, keepdim, correction):
    a = upcast(x)
    n = _count(x.shape, axes)
    d = a - a.mean(axis=axes, keepdims=True) if n else a
    ss = (d * d).sum(axis=axes, keepdims=keepdim)
    return ss / max(n - correction, 0)   # n <= correction: Inf/NaN, as in PyTorch


def _var_backward(g, x, axes, keepdim, correction, full=False):
    """d var / dx applied to ``g``: g * 2 (x - mean) / (n - correction).

    ``full``: var()/std() of every element with no dim given. There PyTorch's
    var_backward treats n - correction <= 0 apart: the factor is NaN where x
    equals the mean and +inf elsewhere (not 2 (x - mean) / (n - correction)).
    """
    n = _count(x.shape, axes)
    centered = x - Mean(axes, True)(x)
    if (full or x.ndim == 0) and n - correction <= 0:
        xd, cd = x._data, centered._data
        factor = xp(xd).where(cd == 0, float("nan"), float("inf")).astype(xd.dtype)
        return _unreduce(g, x.shape, axes, keepdim) * _const(factor)
    return _unreduce(g, x.shape, axes, keepdim) * centered.mul_scalar(
        2.0 / (n - correction) if n != correction else float("inf"))


class Var(Function):
    autocast_policy = AUTOCAST_FP32
    __slots__ = ("axes", "keepdim", "correction", "full")

    def __init__(self, axes, keepdim, correction, full=False):
        self.axes, self.keepdim, self.correction = axes, keepdim, correction
        self.full = full

    def forward(self, x):
        return _finish(_variance(x, self.axes, self.keepdim, self.correction), x.dtype)

    def backward(self, gy):
        return _var_backward(gy, self.inputs[0], self.axes, self.keepdim, self.correction,
                             self.full)


class Std(Function):
    autocast_policy = AUTOCAST_FP32
    __slots__ = ("axes", "keepdim", "correction", "full")
    retain_outputs = (0,)

    def __init__(self, axes, keepdim, correction, full=False):
        self.axes, self.keepdim, self.correction = axes, keepdim, correction
        self.full = full

    def forward(self, x):
        return _finish(xp(x).sqrt(_variance(x, self.axes, self.keepdim, self.correction)),
                       x.dtype)

    def backward(self, gy):
        y = self.output()
        zero = (y._data == 0).astype(y._data.dtype)
        # Where std is 0 every centred value is 0: the gradient is 0 (PyTorch masks it).
        g = gy / (y + _const(zero)).mul_scalar(2.0)
        return _var_backward(g, self.inputs[0], self.axes, self.keepdim, self.correction,
                             self.full)


def _check_correction(op, correction, unbiased=None):
    """The correction; PyTorch's legacy ``unbiased`` flag means correction 1 or 0."""
    if unbiased is not None:
        if not isinstance(unbiased, bool):
            raise TypeError(f"{op}: unbiased must be a bool, got {type(unbiased).__name__}")
        if correction is not None:
            raise TypeError(f"{op}: give either correction or unbiased, not both")
        return int(unbiased)
    if correction is None:
        return 1
    if isinstance(correction, bool) or not isinstance(correction, numbers.Real):
        raise TypeError(f"{op}: correction must be a number, got {type(correction).__name__}")
    return correction


@op_method
def var(self, correction=None, unbiased=None):
    """Variance of all elements, dividing by ``N - correction`` (default 1; NaN or
    inf when that is <= 0). ``unbiased=False`` is ``correction=0`` (PyTorch)."""
    require_float("var", self._data)
    return Var(tuple(range(self.ndim)), False, _check_correction("var", correction, unbiased),
               full=True)(self)


@op_method
def std(self, correction=None, unbiased=None):
    """Standard deviation of all elements (see :meth:`var`)."""
    require_float("std", self._data)
    return Std(tuple(range(self.ndim)), False, _check_correction("std", correction, unbiased),
               full=True)(self)


@op_method
def var_dim(self, dim, keepdim=False, correction=None, unbiased=None):
    """Variance over ``dim`` (an int or a tuple of ints; None: every dim, as var())."""
    require_float("var_dim", self._data)
    return Var(_axes(dim, self.ndim, "var_dim"), bool(keepdim),
               _check_correction("var_dim", correction, unbiased), full=dim is None)(self)


@op_method
def std_dim(self, dim, keepdim=False, correction=None, unbiased=None):
    """Standard deviation over ``dim`` (an int or a tuple of ints; None: every dim)."""
    require_float("std_dim", self._data)
    return Std(_axes(dim, self.ndim, "std_dim"), bool(keepdim),
               _check_correction("std_dim", correction, unbiased), full=dim is None)(self)


# ---------------------------------------------------------------- max, min


class Extremum(Function):
    """max()/min() of all elements; the gradient is split evenly among ties."""

    __slots__ = ("is_min",)
    retain_outputs = (0,)

    def __init__(self, is_min):
        self.is_min = is_min

    def forward(self, x):
        op = "min" if self.is_min else "max"
        if x.size == 0:
            raise ShapeError(f"{op}: expected a non-empty tensor, got shape {x.shape}")
        a = upcast(x)
        return _finish(a.min() if self.is_min else a.max(), x.dtype)

    def backward(self, gy):
        x = self.inputs[0]
        xd, yd = x._data, self.output()._data
        m = xp(xd)
        mask = (xd == yd) | (m.isnan(xd) & m.isnan(yd)) if xd.dtype.kind == "f" else xd == yd
        count = max(int(mask.sum()), 1)
        weights = (mask.astype(xd.dtype) / count).astype(xd.dtype)
        return gy.expand(x.shape) * _const(weights)


class ExtremumDim(Function):
    """max_dim/min_dim: values only; the gradient goes to the first extremum."""

    __slots__ = ("dim", "keepdim", "is_min", "index")

    def __init__(self, dim, keepdim, is_min):
        self.dim, self.keepdim, self.is_min = dim, keepdim, is_min

    def forward(self, x):
        if x.ndim == 0:
            self.index = None
            return x.copy()
        op = "min_dim" if self.is_min else "max_dim"
        if x.shape[self.dim] == 0:
            raise ShapeError(f"{op}: cannot reduce over dim {self.dim} of size 0 "
                             f"(shape {x.shape})")
        m = xp(x)
        a = upcast(x)
        idx = (a.argmin if self.is_min else a.argmax)(axis=self.dim, keepdims=True)
        self.index = idx
        y = m.take_along_axis(x, idx, axis=self.dim)
        return y if self.keepdim else m.squeeze(y, axis=self.dim)

    def backward(self, gy):
        x = self.inputs[0]
        if self.index is None:
            return gy
        xd = x._data
        m = xp(xd)
        shape = [1] * xd.ndim
        shape[self.dim] = xd.shape[self.dim]
        onehot = (m.arange(xd.shape[self.dim]).reshape(shape) == self.index).astype(xd.dtype)
        return _unreduce(gy, x.shape, (self.dim,), self.keepdim) * _const(onehot)


@op_method(name="max")
def max_(self):
    """Largest element (0-d); on ties the gradient is split evenly among them."""
    return Extremum(False)(self)


@op_method(name="min")
def min_(self):
    """Smallest element (0-d); on ties the gradient is split evenly among them."""
    return Extremum(True)(self)


@op_method
def max_dim(self, dim, keepdim=False):
    """Largest values along ``dim`` (values only; see ``argmax`` for indices)."""
    return ExtremumDim(norm_dim(dim, self.ndim, "max_dim"), bool(keepdim), False)(self)


@op_method
def min_dim(self, dim, keepdim=False):
    """Smallest values along ``dim`` (values only; see ``argmin`` for indices)."""
    return ExtremumDim(norm_dim(dim, self.ndim, "min_dim"), bool(keepdim), True)(self)


# ------------------------------------------------------------------- prod


def _exclusive_prod(a, axis):
    """Product of all the other elements along ``axis`` (exact with zeros)."""
    m = xp(a)
    ones = m.ones_like(m.take(a, [0], axis=axis))
    left = m.cumprod(m.concatenate([ones, a], axis=axis), axis=axis)
    rev = m.flip(a, axis=axis)
    right = m.flip(m.cumprod(m.concatenate([ones, rev], axis=axis), axis=axis), axis=axis)
    n = a.shape[axis]
    sl_left = [slice(None)] * a.ndim
    sl_right = [slice(None)] * a.ndim
    sl_left[axis] = slice(0, n)
    sl_right[axis] = slice(1, n + 1)
    return left[tuple(sl_left)] * right[tuple(sl_right)]


class Prod(Function):
    autocast_policy = AUTOCAST_FP32
    __slots__ = ("axes", "keepdim")
    retain_outputs = (0,)

    def __init__(self, axes, keepdim):
        self.axes, self.keepdim = axes, keepdim

    def forward(self, x):
        a = _int_result(upcast(x))
        y = a.prod(axis=self.axes, keepdims=self.keepdim)
        return _finish(y, a.dtype if x.dtype.kind in "biu" else x.dtype)

    def backward(self, gy):
        x = self.inputs[0]
        xd = x._data
        g = _unreduce(gy, x.shape, self.axes, self.keepdim)
        if not bool((xd == 0).any()):
            return g * _unreduce(self.output(), x.shape, self.axes, self.keepdim) / x
        if state.enabled:
            raise AutogradError(
                "prod: double backward (create_graph=True) is not supported when the "
                "input contains zeros")
        a = upcast(xd)
        if len(self.axes) == 1:
            others = _exclusive_prod(a, self.axes[0])
        else:   # every dim: work on the flattened input
            others = _exclusive_prod(a.reshape(-1), 0).reshape(xd.shape)
        return g * _const(others.astype(xd.dtype))


@op_method
def prod(self):
    """Product of all elements (0-d; Int64 for integer and bool inputs)."""
    return Prod(tuple(range(self.ndim)), False)(self)


@op_method
def prod_dim(self, dim, keepdim=False):
    """Product along one ``dim``."""
    d = norm_dim(dim, self.ndim, "prod_dim")
    return Prod((d,) if self.ndim else (), bool(keepdim))(self)


# ------------------------------------------------------------------ cumsum


def cum_acc_dtype(a):
    """Accumulator dtype of cumsum/cumprod: PyTorch's CPU kernels run float32
    scans in float64 (``acc_type``), then round; NumPy arrays do the same here."""
    return FLOAT64 if a.dtype == FLOAT32 and xp(a) is np else a.dtype


class Cumsum(Function):
    autocast_policy = AUTOCAST_FP32
    __slots__ = ("dim",)

    def __init__(self, dim):
        self.dim = dim

    def forward(self, x):
        if x.ndim == 0:
            return _int_result(x).copy()
        a = _int_result(upcast(x))
        y = xp(a).cumsum(a, axis=self.dim, dtype=cum_acc_dtype(a))
        return y if x.dtype.kind in "biu" else _finish(y, x.dtype)

    def backward(self, gy):
        if gy.ndim == 0:
            return gy
        d = self.dim
        # Reverse cumulative sum as PyTorch computes it (flip, cumsum, flip): the
        # shortcut total - cumsum + gy loses the small tail sums to cancellation.
        return Flip((d,))(Cumsum(d)(Flip((d,))(gy)))


@op_method
def cumsum(self, dim):
    """Running sum along ``dim`` (Int64 for integer and bool inputs)."""
    return Cumsum(norm_dim(dim, self.ndim, "cumsum"))(self)


# ------------------------------------------------------ softmax family


def _shifted(a, axes):
    """``a - max(a)`` over ``axes``. An infinite max is subtracted as is (the
    slice becomes NaN), as PyTorch's softmax/log_softmax kernels do: a slice
    holding +inf, or only -inf, gives NaN everywhere."""
    if a.size == 0:
        return a
    mx = a.max(axis=axes, keepdims=True)
    with np.errstate(invalid="ignore"):
        return a - mx


class Softmax(Function):
    """Softmax over ``axes`` (one dim for the public op; logsumexp uses several)."""

    autocast_policy = AUTOCAST_FP32

    __slots__ = ("axes",)
    retain_outputs = (0,)

    def __init__(self, axes):
        self.axes = axes

    def forward(self, x):
        a = upcast(x)
        e = xp(a).exp(_shifted(a, self.axes))
        return _finish(e / e.sum(axis=self.axes, keepdims=True), x.dtype)

    def backward(self, gy):
        y = self.output()
        return y * (gy - Sum(self.axes, True)(gy * y))


class LogSoftmax(Function):
    autocast_policy = AUTOCAST_FP32
    __slots__ = ("axes",)

    def __init__(self, axes):
        self.axes = axes

    def forward(self, x):
        a = upcast(x)
        m = xp(a)
        s = _shifted(a, self.axes)
        return _finish(s - m.log(m.exp(s).sum(axis=self.axes, keepdims=True)), x.dtype)

    def backward(self, gy):
        # exp(log_softmax(x)) is softmax(x): recompute it from the input.
        return gy - Softmax(self.axes)(self.inputs[0]) * Sum(self.axes, True)(gy)


class Logsumexp(Function):
    autocast_policy = AUTOCAST_FP32
    __slots__ = ("axes", "keepdim")
    retain_outputs = (0,)

    def __init__(self, axes, keepdim):
        self.axes, self.keepdim = axes, keepdim

    def forward(self, x):
        a = upcast(float_input(x))
        m = xp(a)
        if a.size == 0:
            y = m.log(m.exp(a).sum(axis=self.axes, keepdims=self.keepdim))
        else:
            mx = a.max(axis=self.axes, keepdims=True)
            mx = m.where(m.isfinite(mx), mx, 0)
            s = m.exp(a - mx).sum(axis=self.axes, keepdims=True)
            # All -inf: log(0) = -inf, without NumPy's divide-by-zero warning.
            y = m.where(s > 0, m.log(m.where(s > 0, s, 1)), -m.inf) + mx
            if not self.keepdim:
                y = y.reshape(_out_shape(a.shape, self.axes, False))
        return _finish(y, float_input(x).dtype)

    def backward(self, gy):
        # PyTorch's formula, exp(x - logsumexp(x)): with an infinite result only the
        # infinite inputs get NaN (a softmax would make the whole slice NaN).
        x = self.inputs[0]
        y = _unreduce(self.output(), x.shape, self.axes, self.keepdim)
        return _unreduce(gy, x.shape, self.axes, self.keepdim) * (x - y).exp()


@op_method
def softmax(self, dim):
    """``exp(x) / sum(exp(x))`` along ``dim`` (float tensors only)."""
    require_float("softmax", self._data)
    return Softmax(_axes(dim, self.ndim, "softmax"))(self)


@op_method
def log_softmax(self, dim):
    """``x - logsumexp(x)`` along ``dim``, computed stably (float tensors only)."""
    require_float("log_softmax", self._data)
    return LogSoftmax(_axes(dim, self.ndim, "log_softmax"))(self)


@op_method
def logsumexp(self, dim, keepdim=False):
    """``log(sum(exp(x)))`` over ``dim`` (int or tuple), computed stably; integer
    inputs give Float32, as in PyTorch."""
    return Logsumexp(_axes(dim, self.ndim, "logsumexp"), bool(keepdim))(self)


# ------------------------------------------------------------------- norm


class SignedPow(Function):
    """``sign(x) * |x| ** q``, 0 where x is 0 (a building block of norm backward)."""

    __slots__ = ("q",)

    def __init__(self, q):
        self.q = q

    def forward(self, x):
        m = xp(x)
        a = m.abs(x)
        safe = m.where(a == 0, m.ones_like(a), a)
        return _finish(m.sign(x) * safe ** self.q, x.dtype)

    def backward(self, gy):
        x = self.inputs[0]
        if self.q == 0:
            return gy.mul_scalar(0.0)
        sign = xp(x._data).sign(x._data)
        # d/dx sign(x)|x|^q = q |x|^(q-1) = q sign(x) * sign(x)|x|^(q-1)
        return gy * SignedPow(self.q - 1)(x) * _const(sign).mul_scalar(self.q)


def _sign0(x):
    """sign(x) in x's dtype with 0 for NaN, like PyTorch's sgn (NumPy's gives NaN)."""
    with np.errstate(invalid="ignore"):
        return (x > 0).astype(x.dtype) - (x < 0).astype(x.dtype)


class Norm(Function):
    """Vector p-norm (torch.linalg.vector_norm): any real p, including 0 (the
    count of nonzeros), inf (max |x|) and -inf (min |x|)."""

    autocast_policy = AUTOCAST_FP32
    __slots__ = ("p", "axes", "keepdim")
    retain_outputs = (0,)

    def __init__(self, p, axes, keepdim):
        self.p, self.axes, self.keepdim = p, axes, keepdim

    def forward(self, x):
        a = upcast(x)
        m = xp(a)
        p, axes, keep = self.p, self.axes, self.keepdim
        if p == 2:
            y = m.sqrt((a * a).sum(axis=axes, keepdims=keep))
        elif p == 1:
            y = m.abs(a).sum(axis=axes, keepdims=keep)
        elif p == 0:
            y = (a != 0).sum(axis=axes, keepdims=keep).astype(a.dtype)
        elif math.isinf(p):
            _nonempty("norm", a, axes)
            y = m.abs(a)
            y = y.max(axis=axes, keepdims=keep) if p > 0 else y.min(axis=axes, keepdims=keep)
        else:
            with np.errstate(divide="ignore"):      # 0 ** negative p is inf, as in PyTorch
                y = (m.abs(a) ** p).sum(axis=axes, keepdims=keep) ** (1.0 / p)
        return _finish(y, x.dtype)

    def backward(self, gy):
        # PyTorch's norm_backward, case by case.
        x = self.inputs[0]
        p, axes, keep = self.p, self.axes, self.keepdim
        y = self.output()
        g = _unreduce(gy, x.shape, axes, keep)
        xd, yd = x._data, y._data
        m = xp(xd)
        if p == 0:
            # Piecewise constant: zeros (exact even for an infinite upstream gradient).
            return g.masked_fill(_const(m.ones((), dtype=bool)), 0)
        if math.isinf(p):
            # Split evenly among the elements of largest (inf) or smallest (-inf)
            # magnitude, NaNs included, with their signs.
            yk = yd if keep else yd.reshape(_keep_shape(xd.shape, axes))
            ax = m.abs(xd)
            mask = ((ax == yk) | m.isnan(ax)).astype(xd.dtype)
            count = mask.sum(axis=axes, keepdims=True)
            weights = _sign0(xd) * mask / m.where(count == 0, 1, count).astype(xd.dtype)
            return g * _const(weights.astype(xd.dtype))
        if p == 1:
            return g * _const(_sign0(xd))      # PyTorch: sgn(x) * grad (0 at 0 and NaN)
        if p < 1:
            # sign(x) |x|^(p-1) (0 at x == 0) * norm^(1-p): also for p < 0.
            return g * SignedPow(p - 1)(x) * _unreduce(y.pow_scalar(1 - p), x.shape, axes,
                                                       keep)
        zero = _const((yd == 0).astype(yd.dtype))   # norm 0: gradient 0, not NaN
        if p == 2:
            return g * x / _unreduce(y + zero, x.shape, axes, keep)
        denom = SignedPow(p - 1)(y) + zero
        return g * SignedPow(p - 1)(x) / _unreduce(denom, x.shape, axes, keep)


@op_method
def norm(self, p=2.0, dim=None, keepdim=False):
    """Vector p-norm over ``dim`` (None: all elements), as torch.norm /
    torch.linalg.vector_norm: any real p, with ``inf`` (max |x|), ``-inf``
    (min |x|) and 0 (the number of nonzeros). ``p="fro"`` is the 2-norm.
    Gradients follow PyTorch (0 where the norm is 0, split evenly among ties
    for +-inf)."""
    require_float("norm", self._data)
    if p == "fro":
        p = 2.0
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or math.isnan(p):
        raise ValueError(f"norm: p must be a real number, inf, -inf or 'fro', got {p!r}")
    p = float(p)
    return Norm(p, _axes(dim, self.ndim, "norm"), bool(keepdim))(self)


# sum/max/min stay methods only: exporting them would shadow the builtins under
# ``from flodl_core import *``.
__all__ = ["sum_dim", "mean", "mean_dim", "var", "std", "var_dim", "std_dim", "max_dim",
           "min_dim", "prod", "prod_dim", "cumsum", "softmax", "log_softmax", "logsumexp",
           "norm"]
