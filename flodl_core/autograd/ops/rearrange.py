"""Ops that rearrange elements without arithmetic: triu, tril, flip, roll,
diagonal, movedim, tile, meshgrid.

Each is linear, so each backward is a rearrangement of the same family:
triu/tril and flip are their own adjoints, roll's is the opposite roll,
diagonal's is DiagonalBackward (embed into zeros) whose backward is diagonal
again. movedim reuses Permute, tile reuses Repeat, meshgrid is reshape +
expand, so double backward stays inside existing Functions.
"""
from __future__ import annotations

import numbers

from ...errors import DTypeError, FlodlIndexError, ShapeError
from ...tensor import TensorLike
from ..function import DIFFERENTIABLE_METHODS, Function, op_method
from ._util import norm_dim, xp
from .indexing import Repeat
from .shape import Permute


def _int(op, what, v) -> int:
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise TypeError(f"{op}: {what} must be an int, got {type(v).__name__}")
    return int(v)


def _int_seq(op, what, args) -> tuple:
    """``f(1, 2)``, ``f((1, 2))`` and ``f([1, 2])`` all give ``(1, 2)``."""
    if len(args) == 1 and isinstance(args[0], (list, tuple)):
        args = tuple(args[0])
    return tuple(_int(op, what, a) for a in args)


# ------------------------------------------------------------- triu / tril


class Triangle(Function):
    """Keep the upper (triu) or lower (tril) triangle of the last two dims."""

    __slots__ = ("diagonal", "lower")

    def __init__(self, diagonal, lower):
        self.diagonal, self.lower = diagonal, lower

    def forward(self, x):
        m = xp(x)
        n, k = x.shape[-2:]
        offset = m.arange(k).reshape(1, k) - m.arange(n).reshape(n, 1)
        keep = offset <= self.diagonal if self.lower else offset >= self.diagonal
        return m.where(keep, x, m.zeros((), dtype=x.dtype))

    def backward(self, gy):
        return Triangle(self.diagonal, self.lower)(gy)


def _triangle(op, x, diagonal, lower):
    if x.ndim < 2:
        raise ShapeError(f"{op}: expected a tensor with at least 2 dims, got shape {x.shape}")
    return Triangle(_int(op, "diagonal", diagonal), lower)(x)


@op_method
def triu(self, diagonal=0):
    """Upper triangle of the last two dims: elements with ``col - row >= diagonal``
    are kept, the others become 0 (torch.triu; batched over leading dims)."""
    return _triangle("triu", self, diagonal, False)


@op_method
def tril(self, diagonal=0):
    """Lower triangle of the last two dims: elements with ``col - row <= diagonal``
    are kept, the others become 0 (torch.tril; batched over leading dims)."""
    return _triangle("tril", self, diagonal, True)


# -------------------------------------------------------------------- flip


class Flip(Function):
    __slots__ = ("dims",)

    def __init__(self, dims):
        self.dims = dims

    def forward(self, x):
        return xp(x).flip(x, axis=self.dims) if self.dims else x[...]

    def backward(self, gy):
        return Flip(self.dims)(gy)


def _dims(op, dims, ndim) -> tuple:
    out = tuple(norm_dim(d, ndim, op) for d in dims)
    if len(set(out)) != len(out):
        raise ShapeError(f"{op}: dim {dims} appears more than once in the list of dims "
                         f"(normalized: {out})")
    return out


@op_method
def flip(self, *dims):
    """Reverse the order of elements along ``dims`` (``x.flip(0, 1)`` or
    ``x.flip([0, 1])``; torch.flip)."""
    dims = _int_seq("flip", "a dim", dims)
    if self.ndim == 0:
        _dims("flip", dims, 0)      # dims 0 / -1 are valid for a 0-d tensor
        return Flip(())(self)
    return Flip(_dims("flip", dims, self.ndim))(self)


# -------------------------------------------------------------------- roll


class Roll(Function):
    """``np.roll``; ``axes`` None rolls the flattened tensor (shape restored)."""

    __slots__ = ("shifts", "axes")

    def __init__(self, shifts, axes):
        self.shifts, self.axes = shifts, axes

    def forward(self, x):
        return xp(x).roll(x, self.shifts, axis=self.axes)

    def backward(self, gy):
        neg = (-self.shifts if isinstance(self.shifts, int)
               else tuple(-s for s in self.shifts))
        return Roll(neg, self.axes)(gy)


@op_method
def roll(self, shifts, dims=None):
    """Shift elements cyclically by ``shifts`` along ``dims`` (ints or sequences of
    equal length); with ``dims=None`` the flattened tensor is rolled (torch.roll)."""
    shift_seq = isinstance(shifts, (list, tuple))
    shifts_t = _int_seq("roll", "a shift", (shifts,) if not shift_seq else tuple(shifts))
    if dims is None:
        if len(shifts_t) != 1:
            raise ShapeError(f"roll: with dims=None, shifts must be a single int, got "
                             f"{list(shifts_t)}")
        return Roll(shifts_t[0], None)(self)
    dims_t = _int_seq("roll", "a dim", (dims,) if not isinstance(dims, (list, tuple))
                      else tuple(dims))
    if len(dims_t) != len(shifts_t) or not dims_t:
        raise ShapeError(f"roll: shifts and dims must have the same non-zero length, got "
                         f"shifts {list(shifts_t)} and dims {list(dims_t)}")
    if self.ndim == 0:
        raise FlodlIndexError(f"roll: dims {list(dims_t)} given for a 0-d tensor, which has "
                              f"no dims (use dims=None)")
    return Roll(shifts_t, _dims("roll", dims_t, self.ndim))(self)


# ---------------------------------------------------------------- diagonal


def _diag_index(m, n1, n2, offset):
    """Row and column indices of the diagonal ``offset`` of an (n1, n2) matrix."""
    if offset >= 0:
        n = max(0, min(n1, n2 - offset))
        rows = m.arange(n)
        return rows, rows + offset
    n = max(0, min(n1 + offset, n2))
    cols = m.arange(n)
    return cols - offset, cols


class Diagonal(Function):
    __slots__ = ("offset", "dim1", "dim2")

    def __init__(self, offset, dim1, dim2):
        self.offset, self.dim1, self.dim2 = offset, dim1, dim2

    def forward(self, x):
        return xp(x).diagonal(x, self.offset, self.dim1, self.dim2)

    def backward(self, gy):
        return DiagonalBackward(self.offset, self.dim1, self.dim2, self.inputs[0].shape)(gy)


class DiagonalBackward(Function):
    """Zeros of ``shape`` with ``g`` (diagonal in its last dim) written on the diagonal."""

    __slots__ = ("offset", "dim1", "dim2", "shape")

    def __init__(self, offset, dim1, dim2, shape):
        self.offset, self.dim1, self.dim2, self.shape = offset, dim1, dim2, tuple(shape)

    def forward(self, g):
        m = xp(g)
        out = m.zeros(self.shape, dtype=g.dtype)
        view = m.moveaxis(out, (self.dim1, self.dim2), (-2, -1))
        rows, cols = _diag_index(m, view.shape[-2], view.shape[-1], self.offset)
        view[..., rows, cols] = g
        return out

    def backward(self, ggx):
        return Diagonal(self.offset, self.dim1, self.dim2)(ggx)


@op_method
def diagonal(self, offset=0, dim1=0, dim2=1):
    """The diagonal ``offset`` of the 2-D slices spanned by ``dim1`` and ``dim2``
    (torch.diagonal): those dims are removed and the diagonal becomes the last dim."""
    if self.ndim < 2:
        raise ShapeError(f"diagonal: expected a tensor with at least 2 dims, got shape "
                         f"{self.shape}")
    offset = _int("diagonal", "offset", offset)
    d1 = norm_dim(dim1, self.ndim, "diagonal")
    d2 = norm_dim(dim2, self.ndim, "diagonal")
    if d1 == d2:
        raise ShapeError(f"diagonal: dim1 and dim2 must differ, got {dim1} and {dim2} "
                         f"(both dim {d1} of shape {self.shape})")
    return Diagonal(offset, d1, d2)(self)


# ----------------------------------------------------------------- movedim


@op_method
def movedim(self, source, destination):
    """Move dims ``source`` to positions ``destination`` (ints or sequences of equal
    length); the other dims keep their relative order (torch.movedim)."""
    src = _int_seq("movedim", "a source dim",
                   tuple(source) if isinstance(source, (list, tuple)) else (source,))
    dst = _int_seq("movedim", "a destination dim",
                   tuple(destination) if isinstance(destination, (list, tuple))
                   else (destination,))
    if len(src) != len(dst):
        raise ShapeError(f"movedim: source {list(src)} and destination {list(dst)} must "
                         f"have the same number of dims")
    n = self.ndim
    src = _dims("movedim", src, n)
    dst = _dims("movedim", dst, n)
    if n == 0:
        return Permute(())(self)
    perm = [-1] * n
    for s, d in zip(src, dst):
        perm[d] = s
    rest = iter(d for d in range(n) if d not in src)
    perm = tuple(p if p >= 0 else next(rest) for p in perm)
    return Permute(perm)(self)


# -------------------------------------------------------------------- tile


@op_method
def tile(self, *dims):
    """Repeat the tensor ``dims[i]`` times along dim i (torch.tile). Fewer counts
    than dims are padded with leading 1s; more add new leading dims."""
    if not dims:
        raise TypeError("tile: missing the repeat counts (dims)")
    reps = _int_seq("tile", "a repeat count", dims)
    if any(r < 0 for r in reps):
        raise ShapeError(f"tile: repeat counts must be non-negative, got {list(reps)}")
    reps = (1,) * (self.ndim - len(reps)) + reps
    return Repeat(reps)(self)


# ---------------------------------------------------------------- meshgrid


def meshgrid(*tensors, indexing="ij"):
    """Coordinate grids of 0-d/1-d tensors (torch.meshgrid): with ``indexing="ij"``
    output i varies along dim i; with ``"xy"`` the first two dims are swapped.
    Accepts ``meshgrid(a, b)`` or ``meshgrid([a, b])``; returns a tuple."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if not tensors:
        raise ShapeError("meshgrid: expected at least one tensor")
    for i, t in enumerate(tensors):
        if not isinstance(t, TensorLike):
            raise TypeError(f"meshgrid: expected tensors, got {type(t).__name__} at position {i}")
        if t.ndim > 1:
            raise ShapeError(f"meshgrid: expected 0-d or 1-d tensors, got shape {t.shape} at "
                             f"position {i}")
        if t.dtype != tensors[0].dtype:
            raise DTypeError(f"meshgrid: expected tensors of one dtype, got "
                             f"{tensors[0].dtype.name} at position 0 and {t.dtype.name} at "
                             f"position {i}")
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    sizes = [t.numel() for t in tensors]
    place = list(range(len(tensors)))
    if indexing == "xy" and len(tensors) > 1:
        place[0], place[1] = 1, 0
    shape = [0] * len(tensors)
    for i, p in enumerate(place):
        shape[p] = sizes[i]
    shape = tuple(shape)
    out = []
    for t, p in zip(tensors, place):
        view = [1] * len(shape)
        view[p] = shape[p]
        out.append(t.reshape(tuple(view)).expand(shape))
    return tuple(out)


setattr(TensorLike, "meshgrid", staticmethod(meshgrid))
DIFFERENTIABLE_METHODS["meshgrid"] = meshgrid

__all__ = ["triu", "tril", "flip", "roll", "diagonal", "movedim", "tile", "meshgrid"]
