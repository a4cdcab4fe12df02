"""Arithmetic: add sub mul div neg, their *_scalar forms, matmul.

Binary ops broadcast like NumPy; the engine sums each gradient back to its
input's shape, so backward formulas here ignore broadcasting.
"""
from __future__ import annotations

import numbers
import operator

import numpy as np

from ...backend.dtype import HALF_NUMPY
from ...errors import DTypeError, ShapeError
from ...tensor import Tensor, TensorLike
from ..function import AUTOCAST_LOWER, Function, op_method
from ._util import (BOOL, FLOAT32, apply_scalar, compute_dtype, is_float, promote_pair,
                    promote_types, xp)

_add, _mul, _div = operator.add, operator.mul, operator.truediv


def _is_number(v) -> bool:
    return isinstance(v, numbers.Number) and not isinstance(v, TensorLike)


# ------------------------------------------------------------ tensor-tensor


class Add(Function):
    def forward(self, a, b):
        if a.dtype != b.dtype:
            a, b = promote_pair(a, b)
        return a + b

    def backward(self, gy):
        return gy, gy


class Sub(Function):
    def forward(self, a, b):
        if a.dtype != b.dtype:
            a, b = promote_pair(a, b)
        return a - b

    def backward(self, gy):
        return gy, (-gy if self.needs_grad(1) else None)


class Mul(Function):
    def forward(self, a, b):
        if a.dtype != b.dtype:
            a, b = promote_pair(a, b)
        return a * b

    def backward(self, gy):
        a, b = self.inputs
        return (gy * b if self.needs_grad(0) else None,
                gy * a if self.needs_grad(1) else None)


class Div(Function):
    def forward(self, a, b):
        if a.dtype != b.dtype:
            a, b = promote_pair(a, b)
        if a.dtype.kind in "biu":
            a, b = a.astype(FLOAT32), b.astype(FLOAT32)   # true division gives Float32
        return a / b

    def backward(self, gy):
        a, b = self.inputs
        ga = gy / b if self.needs_grad(0) else None
        gb = -(gy * a) / (b * b) if self.needs_grad(1) else None
        return ga, gb


class Neg(Function):
    def forward(self, x):
        return -x

    def backward(self, gy):
        return -gy


def _scaled(op, self, other, alpha):
    """``alpha * other`` for add/sub's alpha (an integer for integer operands, as in
    PyTorch)."""
    if alpha == 1 and not isinstance(alpha, bool):
        return other
    if isinstance(alpha, bool) or not _is_number(alpha):
        raise TypeError(f"{op}: alpha must be a real number, got {type(alpha).__name__}")
    if isinstance(alpha, float):
        kinds = [self._data.dtype] + ([] if _is_number(other) else [other._data.dtype])
        if not any(is_float(k) for k in kinds) and not isinstance(other, float):
            raise DTypeError(f"{op}: for integer tensors alpha must be an integer, got "
                             f"{alpha!r}")
    return other * alpha if _is_number(other) else other.mul_scalar(alpha)


# ------------------------------------------------ division with rounding


def _div_rounded(op, a, b, floor):
    """``a / b`` rounded down (floor) or toward zero, PyTorch's div rounding modes.

    ``b`` is an array or a Python number. Integers stay integers (division by zero
    raises, as in PyTorch); floats follow Python's floor division (NumPy's
    floor_divide is the same algorithm as PyTorch's) or trunc(a / b).
    """
    m = xp(a)
    if a.dtype.kind in "biu":
        if a.dtype == BOOL and (not hasattr(b, "dtype") or b.dtype == BOOL):
            raise DTypeError(f"{op}: rounding division is not implemented for Bool tensors")
        if bool((b == 0).any() if hasattr(b, "dtype") else b == 0):
            raise ZeroDivisionError(f"{op}: integer division by zero")
        q = m.floor_divide(a, b)
        if not floor:   # toward zero: undo the floor where the exact quotient is negative
            q = q + ((q * b != a) & ((a < 0) != (b < 0)))
        return q
    with np.errstate(divide="ignore", invalid="ignore"):
        return m.floor_divide(a, b) if floor else m.trunc(a / b)


class DivRounded(Function):
    """``div(a, b, rounding_mode)`` for two tensors; zero gradients (PyTorch)."""

    __slots__ = ("floor",)

    def __init__(self, floor):
        self.floor = floor

    def forward(self, a, b):
        if a.dtype != b.dtype:
            a, b = promote_pair(a, b)
        if a.dtype in HALF_NUMPY:
            return _div_rounded("div", a.astype(FLOAT32), b.astype(FLOAT32),
                                self.floor).astype(a.dtype)
        return _div_rounded("div", a, b, self.floor)

    def backward(self, gy):
        z = _zeros_like_grad(gy)
        return (z if self.needs_grad(0) else None), (z if self.needs_grad(1) else None)


class DivRoundedScalar(Function):
    __slots__ = ("value", "floor")

    def __init__(self, value, floor):
        self.value, self.floor = value, floor

    def forward(self, x):
        if x.dtype == BOOL and not isinstance(self.value, bool):
            x = x.astype(np.int64)       # Bool with a number: Int64 (or Float32), PyTorch
        return apply_scalar("div", x, self.value,
                            lambda a, v: _div_rounded("div", a, v, self.floor))

    def backward(self, gy):
        return _zeros_like_grad(gy)


def _zeros_like_grad(gy):
    """Exact zeros shaped like ``gy`` (even for an infinite gy), still depending on it."""
    return gy.masked_fill(Tensor._wrap(xp(gy._data).ones((), dtype=BOOL)), 0)


@op_method
def add(self, other, alpha=1):
    """Elementwise ``self + alpha * other`` with broadcasting; ``other`` may be a
    Python number (torch.Tensor.add takes numbers and ``alpha`` too)."""
    other = _scaled("add", self, other, alpha)
    if _is_number(other):
        return AddScalar(other)(self)
    return Add()(self, other)


@op_method
def sub(self, other, alpha=1):
    """Elementwise ``self - alpha * other`` with broadcasting; ``other`` may be a
    Python number."""
    other = _scaled("sub", self, other, alpha)
    if _is_number(other):
        return AddScalar(-other)(self)
    return Sub()(self, other)


@op_method
def mul(self, other):
    """Elementwise ``self * other`` with broadcasting (a Python number: mul_scalar)."""
    if _is_number(other):
        return MulScalar(other)(self)
    return Mul()(self, other)


@op_method
def div(self, other, rounding_mode=None):
    """Elementwise division ``self / other`` with broadcasting; ``other`` may be a
    Python number. ``rounding_mode`` as in torch.div: None (true division),
    ``"trunc"`` (toward zero) or ``"floor"`` (toward -inf, Python's ``//``); the
    rounded forms keep integer dtypes and have a zero gradient."""
    if rounding_mode is not None:
        if rounding_mode not in ("trunc", "floor"):
            raise ValueError(f"div: rounding_mode must be None, 'trunc' or 'floor', got "
                             f"{rounding_mode!r}")
        floor = rounding_mode == "floor"
        if _is_number(other):
            return DivRoundedScalar(other, floor)(self)
        return DivRounded(floor)(self, other)
    if _is_number(other):
        return DivScalar(other)(self)
    return Div()(self, other)


@op_method
def neg(self):
    """Elementwise ``-self``."""
    return Neg()(self)


# ---------------------------------------------------------------- scalars


class AddScalar(Function):
    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def forward(self, x):
        return apply_scalar("add_scalar", x, self.value, _add)

    def backward(self, gy):
        return gy


class MulScalar(Function):
    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def forward(self, x):
        return apply_scalar("mul_scalar", x, self.value, _mul)

    def backward(self, gy):
        return gy.mul_scalar(self.value)


class DivScalar(Function):
    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def forward(self, x):
        if x.dtype.kind in "biu":
            x = x.astype(FLOAT32)   # true division, as in PyTorch
        return apply_scalar("div_scalar", x, self.value, _div)

    def backward(self, gy):
        return gy.div_scalar(self.value)


@op_method
def add_scalar(self, value):
    """``self + value`` for a Python number."""
    return AddScalar(value)(self)


@op_method
def sub_scalar(self, value):
    """``self - value`` for a Python number."""
    return AddScalar(-value)(self)


@op_method
def mul_scalar(self, value):
    """``self * value`` for a Python number."""
    return MulScalar(value)(self)


@op_method
def div_scalar(self, value):
    """``self / value`` for a Python number."""
    return DivScalar(value)(self)


# ----------------------------------------------------------------- matmul


class Matmul(Function):
    """Batched matrix product of two operands with at least 2 dims each.

    Leading (batch) dims broadcast. Half types multiply in float32.
    """

    autocast_policy = AUTOCAST_LOWER

    def forward(self, a, b):
        if a.shape[-1] != b.shape[-2]:
            raise ShapeError(f"matmul: cannot multiply shapes {a.shape} and {b.shape}: "
                             f"inner dims {a.shape[-1]} != {b.shape[-2]}")
        ca, cb = compute_dtype(a), compute_dtype(b)
        if ca != a.dtype or cb != b.dtype:
            out_dtype = promote_types(a.dtype, b.dtype)
            return xp(a).matmul(a.astype(ca), b.astype(cb)).astype(out_dtype)
        return a @ b

    def backward(self, gy):
        a, b = self.inputs
        ga = gy.matmul(b.transpose(-1, -2)) if self.needs_grad(0) else None
        gb = a.transpose(-1, -2).matmul(gy) if self.needs_grad(1) else None
        return ga, gb


@op_method
def matmul(self, other):
    """Matrix product with NumPy/PyTorch semantics (1-D operands, batch broadcasting).

    >>> import flodl_core as fl
    >>> (fl.ones(2, 3) @ fl.ones(3, 4)).shape
    (2, 4)
    """
    a_nd, b_nd = self.ndim, other.ndim
    if a_nd == 0 or b_nd == 0:
        raise ShapeError(f"matmul: both operands need at least 1 dim, got shapes "
                         f"{self.shape} and {other.shape}")
    if a_nd >= 2 and b_nd >= 2:
        return Matmul()(self, other)
    if a_nd == 1 and b_nd == 1:
        if self.shape[0] != other.shape[0]:
            raise ShapeError(f"matmul: cannot multiply shapes {self.shape} and {other.shape}: "
                             f"inner dims {self.shape[0]} != {other.shape[0]}")
        return Matmul()(self.unsqueeze(0), other.unsqueeze(1)).reshape(())
    if a_nd == 1:
        if self.shape[0] != other.shape[-2]:
            raise ShapeError(f"matmul: cannot multiply shapes {self.shape} and {other.shape}: "
                             f"inner dims {self.shape[0]} != {other.shape[-2]}")
        return Matmul()(self.unsqueeze(0), other).squeeze(-2)
    if self.shape[-1] != other.shape[0]:
        raise ShapeError(f"matmul: cannot multiply shapes {self.shape} and {other.shape}: "
                         f"inner dims {self.shape[-1]} != {other.shape[0]}")
    return Matmul()(self, other.unsqueeze(1)).squeeze(-1)


__all__ = ["add", "sub", "mul", "div", "neg", "add_scalar", "sub_scalar", "mul_scalar",
           "div_scalar", "matmul"]
