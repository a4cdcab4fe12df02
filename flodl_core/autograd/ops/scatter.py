"""Out-of-place scatters: scatter, scatter_add, index_add, and one_hot.

Each forward copies ``self`` once and writes into the copy (assignments for
scatter, accumulating adds for the others: ``np.add.at`` on NumPy,
``cupyx.scatter_add`` on CuPy). The gradients are the gathering partners
from ``indexing``: src/source get ``Gather``/``IndexSelect`` of the upstream
gradient (zero-padded where ``index`` is smaller than ``src``), self gets the
upstream gradient as is, or with the overwritten positions zeroed for
scatter. Double backward therefore stays inside Gather/ScatterAdd,
IndexSelect/IndexAdd, Pad and MaskedFill.

As in PyTorch, ``scatter`` with repeated indices writes one of the values
(which one is unspecified), and its ``src`` gradient is ``gather(grad)``.
"""
from __future__ import annotations

import numbers

import numpy as np

from ...backend.dtype import dtype_of
from ...errors import DTypeError, ShapeError
from ...tensor import Tensor, TensorLike
from ..function import AUTOCAST_PROMOTE, Function, autocast_op, op_function, op_method
from ._util import norm_dim, xp
from .indexing import (Gather, IndexSelect, Pad, _add_at, _check_range, _dtype_name,
                       _gather_grid, _index_array)

INT64 = np.dtype(np.int64)


def _crop(index_shape):
    return tuple(slice(0, n) for n in index_shape)


def _to_src_shape(g, src_shape):
    """``g`` (index-shaped) zero-padded up to ``src_shape``."""
    if tuple(g.shape) == tuple(src_shape):
        return g
    return Pad(tuple((0, s - n) for n, s in zip(g.shape, src_shape)), 0.0)(g)


def _same_dtype(op, self, other, what):
    if self._data.dtype != other._data.dtype:
        raise DTypeError(f"{op}: expected {what} of the same dtype as self "
                         f"({dtype_of(self._data.dtype).name}), got "
                         f"{dtype_of(other._data.dtype).name}")


def _scatter_index(op, self, dim, index, src_shape):
    """Validated (dim, index array) for scatter/scatter_add (PyTorch's shape rules).

    0-d self, index and src count as 1-d with one element; the caller reshapes.
    """
    nd = max(self.ndim, 1)
    d = norm_dim(dim, nd, op)
    idx = _index_array(op, self._data, index)
    if idx.dtype.kind not in "iu":
        raise DTypeError(f"{op}: index must be an integer tensor, got {_dtype_name(idx)}")
    shape = self.shape if self.ndim else (1,)
    ishape = tuple(idx.shape) if idx.ndim else (1,)
    if len(ishape) != nd or (src_shape is not None and len(ishape) != max(len(src_shape), 1)):
        src_txt = f" and src {tuple(src_shape)}" if src_shape is not None else ""
        raise ShapeError(f"{op}: index shape {tuple(idx.shape)} must have as many dims as "
                         f"self {self.shape}{src_txt}")
    sshape = (tuple(src_shape) if len(src_shape) else (1,)) if src_shape is not None else None
    for i, n in enumerate(ishape):
        if sshape is not None and n > sshape[i]:
            raise ShapeError(f"{op}: index shape {tuple(idx.shape)} does not fit src "
                             f"{tuple(src_shape)} in dim {i}")
        if i != d and n > shape[i]:
            raise ShapeError(f"{op}: index shape {tuple(idx.shape)} does not fit self "
                             f"{self.shape} in dim {i} (only dim {d} may be larger)")
    _check_range(op, idx, 0, shape[d], f"dim {d} with size {shape[d]} (shape {self.shape})")
    return d, idx.reshape(ishape)


def _flat0(t):
    """A 0-d tensor as shape (1,) (differentiable reshape)."""
    return t.reshape((1,)) if t.ndim == 0 else t


# ------------------------------------------------------------------ scatter


class Scatter(Function):
    """``self`` with ``src[crop]`` written at ``index`` along ``dim`` (inputs: self, src)."""

    __slots__ = ("dim", "index")

    def __init__(self, dim, index):
        self.dim, self.index = dim, index

    def forward(self, x, src):
        out = x.copy()
        out[_gather_grid(self.dim, self.index)] = src[_crop(self.index.shape)]
        return out

    def backward(self, gy):
        x, src = self.inputs
        gx = gsrc = None
        if self.needs_grad(0):
            gx = gy.masked_fill(_written_mask(x._data, self.dim, self.index), 0)
        if self.needs_grad(1):
            gsrc = _to_src_shape(Gather(self.dim, self.index)(gy), src.shape)
        return gx, gsrc


def _written_mask(x, dim, index):
    m = xp(x)
    mask = m.zeros(x.shape, dtype=bool)
    mask[_gather_grid(dim, index)] = True
    return Tensor._wrap(mask)


@op_method
def scatter(self, dim, index, src=None, value=None):
    """Out-of-place torch.Tensor.scatter: a copy of ``self`` with, for dim 0,
    ``out[index[i][j]][j] = src[i][j]`` for every position of ``index``.
    ``src`` is a tensor of self's dtype, or a Python number (also accepted as
    ``value=``) written everywhere ``index`` points. Repeated indices write one
    of their values (unspecified which, as in PyTorch)."""
    if value is not None:
        if src is not None:
            raise TypeError("scatter: give either src or value, not both")
        src = value
    if src is None:
        raise TypeError("scatter: missing src (a tensor) or value (a number)")
    if isinstance(src, TensorLike):
        _same_dtype("scatter", self, src, "src")
        d, idx = _scatter_index("scatter", self, dim, index, src.shape)
        out = Scatter(d, idx)(_flat0(self), _flat0(src))
        return out.reshape(()) if self.ndim == 0 else out
    if isinstance(src, bool) or not isinstance(src, numbers.Number):
        raise TypeError(f"scatter: src must be a tensor or a real number, got "
                        f"{type(src).__name__}")
    d, idx = _scatter_index("scatter", self, dim, index, None)
    x = _flat0(self)
    out = x.masked_fill(_written_mask(x._data, d, idx), src)
    return out.reshape(()) if self.ndim == 0 else out


# -------------------------------------------------------------- scatter_add


class ScatterAddInto(Function):
    """``self`` plus ``src[crop]`` accumulated at ``index`` along ``dim``."""

    __slots__ = ("dim", "index")

    def __init__(self, dim, index):
        self.dim, self.index = dim, index

    def forward(self, x, src):
        out = x.copy()
        _add_at(out, _gather_grid(self.dim, self.index), src[_crop(self.index.shape)])
        return out

    def backward(self, gy):
        src = self.inputs[1]
        gsrc = (_to_src_shape(Gather(self.dim, self.index)(gy), src.shape)
                if self.needs_grad(1) else None)
        return gy, gsrc


@op_method
@autocast_op(AUTOCAST_PROMOTE)
def scatter_add(self, dim, index, src):
    """Out-of-place torch.Tensor.scatter_add: a copy of ``self`` with, for dim 0,
    ``out[index[i][j]][j] += src[i][j]`` (repeated indices accumulate)."""
    if not isinstance(src, TensorLike):
        raise TypeError(f"scatter_add: src must be a tensor, got {type(src).__name__}")
    _same_dtype("scatter_add", self, src, "src")
    d, idx = _scatter_index("scatter_add", self, dim, index, src.shape)
    out = ScatterAddInto(d, idx)(_flat0(self), _flat0(src))
    return out.reshape(()) if self.ndim == 0 else out


# ---------------------------------------------------------------- index_add


class IndexAddInto(Function):
    """``self`` plus ``alpha * source`` slices accumulated at ``index`` along ``dim``."""

    __slots__ = ("dim", "index", "alpha")

    def __init__(self, dim, index, alpha):
        self.dim, self.index, self.alpha = dim, index, alpha

    def forward(self, x, source):
        out = x.copy()
        if self.alpha != 1:
            source = (source * self.alpha).astype(x.dtype, copy=False)
        _add_at(out, (slice(None),) * self.dim + (self.index,), source)
        return out

    def backward(self, gy):
        gsrc = None
        if self.needs_grad(1):
            gsrc = IndexSelect(self.dim, self.index)(gy)
            if self.alpha != 1:
                gsrc = gsrc.mul_scalar(self.alpha)
        return gy, gsrc


@op_method
@autocast_op(AUTOCAST_PROMOTE)
def index_add(self, dim, index, source, alpha=1):
    """Out-of-place torch.Tensor.index_add: a copy of ``self`` with
    ``alpha * source`` slice ``i`` added to slice ``index[i]`` along ``dim``
    (repeated indices accumulate). ``index`` is 1-D with one entry per slice of
    ``source`` along ``dim``; source matches self in the other dims."""
    op = "index_add"
    if not isinstance(source, TensorLike):
        raise TypeError(f"{op}: source must be a tensor, got {type(source).__name__}")
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Number):
        raise TypeError(f"{op}: alpha must be a real number, got {type(alpha).__name__}")
    _same_dtype(op, self, source, "source")
    if self._data.dtype.kind in "biu" and not float(alpha).is_integer():
        raise DTypeError(f"{op}: a fractional alpha {alpha} needs a floating-point tensor, "
                         f"got {self.dtype.name}")
    d = norm_dim(dim, max(self.ndim, 1), op)
    idx = _index_array(op, self._data, index)
    if idx.dtype.kind not in "iu" or idx.ndim > 1:
        raise DTypeError(f"{op}: index must be a 0-d or 1-D integer tensor, got "
                         f"{_dtype_name(idx)} shape {tuple(idx.shape)}")
    idx = idx.reshape(-1)
    shape = self.shape if self.ndim else (1,)
    src_shape = (1,) if self.ndim == 0 and source.ndim == 0 else source.shape
    want = shape[:d] + (idx.shape[0],) + shape[d + 1:]
    if tuple(src_shape) != want:
        raise ShapeError(f"{op}: source shape {source.shape} does not fit self {self.shape} "
                         f"with {idx.shape[0]} indices in dim {d}: expected {want}")
    _check_range(op, idx, 0, shape[d], f"dim {d} with size {shape[d]} (shape {self.shape})")
    out = IndexAddInto(d, idx, alpha)(_flat0(self), _flat0(source) if not self.ndim
                                      else source)
    return out.reshape(()) if self.ndim == 0 else out


# ------------------------------------------------------------------ one_hot


@op_function(differentiable=False)
@op_method(differentiable=False)
def one_hot(tensor, num_classes=-1):
    """Int64 one-hot encoding of an Int64 tensor of class indices (shape ``(*,
    num_classes)``), as torch.nn.functional.one_hot; ``num_classes=-1`` uses
    ``max + 1``. Not differentiable: returns a Tensor."""
    a = tensor._data
    if a.dtype != INT64:
        raise DTypeError(f"one_hot: expected an Int64 tensor of class indices, got "
                         f"{tensor.dtype.name}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral):
        raise TypeError(f"one_hot: num_classes must be an int, got "
                        f"{type(num_classes).__name__}")
    num_classes = int(num_classes)
    m = xp(a)
    if num_classes == -1:
        if a.size == 0:
            raise ShapeError("one_hot: cannot infer num_classes from an empty tensor; "
                             "pass num_classes")
        num_classes = int(a.max()) + 1
    elif num_classes < -1:
        raise ShapeError(f"one_hot: num_classes must be -1 or non-negative, got {num_classes}")
    if a.size:
        lo, hi = int(a.min()), int(a.max())
        if lo < 0:
            raise ShapeError(f"one_hot: class values must be non-negative, got {lo}")
        if hi >= num_classes:
            raise ShapeError(f"one_hot: class value {hi} out of range for num_classes "
                             f"{num_classes}")
    out = (a[..., None] == m.arange(num_classes, dtype=INT64)).astype(INT64)
    return Tensor._wrap(out)


# ``scatter`` itself stays out of __all__: ``ops/__init__`` star-imports this module,
# and a function named ``scatter`` would replace the ``ops.scatter`` module there
# (breaking ``scatter.__all__`` and ``nn.functional``'s export). It is a method.
__all__ = ["scatter_add", "index_add", "one_hot"]
FUNCTIONAL = ["one_hot"]
