"""Shape ops that move no data: reshape, transpose, permute, squeeze,
unsqueeze, flatten, expand, and sum_to (the reduction that undoes broadcasting).

Forwards return views where NumPy can; tensors are immutable, so sharing
memory is safe.
"""
from __future__ import annotations

import math

from ...errors import FlodlIndexError, ShapeError
from ..function import Function, op_method
from ._util import compute_dtype, norm_dim, norm_dims, xp


def _shape_arg(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


def _resolve_shape(op, in_shape, shape) -> tuple:
    """Fill a single -1 and check the element count."""
    size = math.prod(in_shape)
    if shape.count(-1) > 1:
        raise ShapeError(f"{op}: only one dimension can be -1, got {shape}")
    if any(s < -1 for s in shape):
        raise ShapeError(f"{op}: invalid shape {shape}")
    if -1 in shape:
        known = math.prod(s for s in shape if s != -1)
        if known == 0 or size % known:
            raise ShapeError(f"{op}: cannot reshape {in_shape} ({size} elements) into {shape}")
        shape = tuple(size // known if s == -1 else s for s in shape)
    if math.prod(shape) != size:
        raise ShapeError(f"{op}: cannot reshape {in_shape} ({size} elements) into {shape} "
                         f"({math.prod(shape)} elements)")
    return shape


# ---------------------------------------------------------------- reshape


class Reshape(Function):
    __slots__ = ("shape",)

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        return x.reshape(self.shape)

    def backward(self, gy):
        return gy.reshape(self.inputs[0].shape)


@op_method
def reshape(self, *shape):
    """Same values in a new shape (one dim may be -1). ``view`` is an alias."""
    return Reshape(_resolve_shape("reshape", self.shape, _shape_arg(shape)))(self)


@op_method
def view(self, *shape):
    """Alias of :meth:`reshape` (tensors are immutable, so views are always safe)."""
    return Reshape(_resolve_shape("view", self.shape, _shape_arg(shape)))(self)


@op_method
def squeeze(self, dim=None):
    """Drop size-1 dims: all of them, or only ``dim`` (an int or, as in PyTorch 2,
    a tuple/list of ints); a listed dim whose size is not 1 stays."""
    shape = self.shape
    if dim is None:
        new = tuple(s for s in shape if s != 1)
    else:
        dims = norm_dims(dim if isinstance(dim, (tuple, list)) else (dim,), len(shape),
                         "squeeze")
        new = tuple(s for i, s in enumerate(shape) if not (i in dims and s == 1))
    return Reshape(new)(self)


@op_method
def unsqueeze(self, dim):
    """Insert a size-1 dim at ``dim`` (negative counts from the new end)."""
    shape = self.shape
    n = len(shape) + 1
    if isinstance(dim, bool) or not isinstance(dim, int) or not -n <= dim < n:
        raise FlodlIndexError(f"unsqueeze: dim {dim} out of range for a {n - 1}-d tensor "
                              f"(expected {-n}..{n - 1})")
    d = dim % n
    return Reshape(shape[:d] + (1,) + shape[d:])(self)


@op_method
def flatten(self, start_dim=0, end_dim=-1):
    """Merge dims ``start_dim..end_dim`` (inclusive) into one."""
    shape = self.shape
    if len(shape) == 0:
        return Reshape((1,))(self)
    s = norm_dim(start_dim, len(shape), "flatten")
    e = norm_dim(end_dim, len(shape), "flatten")
    if s > e:
        raise ShapeError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} "
                         f"for shape {shape}")
    return Reshape(shape[:s] + (math.prod(shape[s:e + 1]),) + shape[e + 1:])(self)


# -------------------------------------------------------------- transpose


class Transpose(Function):
    __slots__ = ("dim0", "dim1")

    def __init__(self, dim0, dim1):
        self.dim0, self.dim1 = dim0, dim1

    def forward(self, x):
        return xp(x).swapaxes(x, self.dim0, self.dim1)

    def backward(self, gy):
        return Transpose(self.dim0, self.dim1)(gy)


@op_method
def transpose(self, dim0, dim1):
    """Swap two dims."""
    n = self.ndim
    d0, d1 = norm_dim(dim0, n, "transpose"), norm_dim(dim1, n, "transpose")
    if n == 0:
        return Reshape(())(self)     # dims 0 / -1 of a 0-d tensor: itself, as in PyTorch
    return Transpose(d0, d1)(self)


@op_method(name="t")
def t(self):
    """Transpose of a matrix (1-D and 0-D tensors are returned as they are)."""
    if self.ndim > 2:
        raise ShapeError(f"t: expected at most 2 dims, got shape {self.shape}")
    return Transpose(0, 1)(self) if self.ndim == 2 else Reshape(self.shape)(self)


class Permute(Function):
    __slots__ = ("dims",)

    def __init__(self, dims):
        self.dims = dims

    def forward(self, x):
        return x.transpose(self.dims)

    def backward(self, gy):
        inverse = [0] * len(self.dims)
        for i, d in enumerate(self.dims):
            inverse[d] = i
        return Permute(tuple(inverse))(gy)


@op_method
def permute(self, *dims):
    """Reorder dims: ``x.permute(0, 2, 1)``."""
    dims = _shape_arg(dims)
    if len(dims) != self.ndim:
        raise ShapeError(f"permute: got {len(dims)} dims {dims} for a {self.ndim}-d tensor")
    dims = tuple(norm_dim(d, self.ndim, "permute") for d in dims)
    if sorted(dims) != list(range(self.ndim)):
        raise ShapeError(f"permute: {dims} is not a permutation of 0..{self.ndim - 1}")
    return Permute(dims)(self)


# ------------------------------------------------- broadcasting and its inverse


class BroadcastTo(Function):
    __slots__ = ("shape",)

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        return xp(x).broadcast_to(x, self.shape)

    def backward(self, gy):
        return SumTo(self.inputs[0].shape)(gy)


class SumTo(Function):
    """Sum a broadcast array back down to ``shape`` (the engine's unbroadcast)."""

    __slots__ = ("shape",)

    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, x):
        shape = self.shape
        lead = x.ndim - len(shape)
        axes = tuple(range(lead)) + tuple(
            lead + i for i, s in enumerate(shape) if s == 1 and x.shape[lead + i] != 1)
        if not axes:
            return x
        # Half types accumulate in float32 (a bf16 running sum stops at 256).
        y = x.sum(axis=axes, keepdims=True, dtype=compute_dtype(x))
        if y.dtype != x.dtype:
            y = y.astype(x.dtype)
        return y.reshape(shape) if lead else y

    def backward(self, gy):
        return BroadcastTo(self.inputs[0].shape)(gy)


@op_method
def expand(self, *sizes):
    """Broadcast to a larger shape without copying; -1 keeps a dim's size."""
    sizes = _shape_arg(sizes)
    shape = self.shape
    if len(sizes) < len(shape):
        raise ShapeError(f"expand: target {sizes} has fewer dims than the input {shape}")
    lead = len(sizes) - len(shape)
    out = []
    for i, s in enumerate(sizes):
        if s == -1:
            if i < lead:
                raise ShapeError(f"expand: -1 is not allowed for the new leading dim {i}")
            s = shape[i - lead]
        elif i >= lead and shape[i - lead] not in (1, s):
            raise ShapeError(f"expand: cannot expand {shape} to {sizes}: dim {i} has size "
                             f"{shape[i - lead]}, expected 1 or {s}")
        out.append(s)
    return BroadcastTo(tuple(out))(self)


@op_method
def broadcast_to(self, *shape):
    """Alias of :meth:`expand`."""
    return expand(self, *shape)


@op_method
def sum_to(self, *shape):
    """Sum over broadcast dims so the result has ``shape`` (inverse of expand)."""
    shape = _shape_arg(shape)
    own = self.shape
    ok = len(own) >= len(shape) and all(
        s == 1 or s == g for s, g in zip(shape, own[len(own) - len(shape):]))
    if not ok:
        raise ShapeError(f"sum_to: cannot sum shape {own} down to {shape}")
    return SumTo(shape)(self)


__all__ = ["reshape", "view", "squeeze", "unsqueeze", "flatten", "transpose", "t", "permute",
           "expand", "broadcast_to", "sum_to"]
