"""Arithmetic: add sub mul div neg, their *_scalar forms, matmul.

Binary ops broadcast like NumPy; the engine sums each gradient back to its
input's shape, so backward formulas here ignore broadcasting.
"""
from __future__ import annotations

import operator

from ...errors import ShapeError
from ..function import AUTOCAST_LOWER, Function, op_method
from ._util import FLOAT32, apply_scalar, compute_dtype, promote_pair, promote_types, xp

_add, _mul, _div = operator.add, operator.mul, operator.truediv

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


@op_method
def add(self, other):
    """Elementwise ``self + other`` with broadcasting."""
    return Add()(self, other)


@op_method
def sub(self, other):
    """Elementwise ``self - other`` with broadcasting."""
    return Sub()(self, other)


@op_method
def mul(self, other):
    """Elementwise ``self * other`` with broadcasting."""
    return Mul()(self, other)


@op_method
def div(self, other):
    """Elementwise true division ``self / other`` with broadcasting."""
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
