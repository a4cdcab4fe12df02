"""Sorting and running products: cumprod, sort, topk, argsort.

``sort`` and ``topk`` return ``(values, indices)`` like PyTorch: the values are
``Gather`` of the input at the indices (differentiable, so the gradient
scatters back to the source positions through ``ScatterAdd`` and double
backward stays inside that pair); the indices are a constant Int64 Tensor.
Sorting is always stable and treats NaN as larger than every number, as
PyTorch does; half types are ordered through float32 (exact).

``cumprod``'s gradient is exact with zeros in the input (the exclusive-product
formulation); double backward is supported only when the input has no zeros.
"""
from __future__ import annotations

import numbers
from collections import namedtuple

import numpy as np

from ...errors import AutogradError, DTypeError, FlodlIndexError
from ...tensor import Tensor
from ..function import AUTOCAST_FP32, Function, op_method
from ..grad_mode import state
from ..variable import Variable
from ._util import norm_dim, upcast, xp
from .indexing import Gather
from .reduction import Cumsum, cum_acc_dtype
from .rearrange import Flip

INT64 = np.dtype(np.int64)

#: ``sort``/``topk`` results: a 2-tuple with ``.values`` and ``.indices``.
SortResult = namedtuple("SortResult", ["values", "indices"])
TopkResult = namedtuple("TopkResult", ["values", "indices"])


# ------------------------------------------------------------------ cumprod


def _cumprod_grad_with_zeros(a, g, d, y):
    """Exact ``d cumprod / dx`` applied to ``g`` along axis ``d`` when ``a`` has zeros.

    grad_i = sum_{j >= i} g_j * prod_{k <= j, k != i} a_k. Before the first zero
    z of a row that is revcumsum(g * y)_i / a_i (a_i != 0 there); at z it is
    prod(a_{<z}) * sum_{j >= z} g_j prod_{z < k <= j} a_k; after z it is 0.
    """
    m = xp(a)
    n = a.shape[d]
    shape = [1] * a.ndim
    shape[d] = n
    pos = m.arange(n).reshape(shape)
    zero = a == 0
    first = m.where(zero.any(axis=d, keepdims=True),
                    m.expand_dims(m.argmax(zero, axis=d), d), n)
    before = pos < first
    one = m.ones((), dtype=a.dtype)
    w = g * y
    tail = m.flip(m.cumsum(m.flip(w, axis=d), axis=d), axis=d)
    grad = m.where(before, tail / m.where(before, a, one), 0)
    head = m.where(before, a, one).prod(axis=d, keepdims=True)          # prod(a_{<z})
    after = m.cumprod(m.where(pos > first, a, one), axis=d)            # prod_{z<k<=j} a_k
    at_zero = head * m.where(pos >= first, g * after, 0).sum(axis=d, keepdims=True)
    return m.where(pos == first, at_zero, grad).astype(a.dtype, copy=False)


class Cumprod(Function):
    autocast_policy = AUTOCAST_FP32
    __slots__ = ("dim",)
    retain_outputs = (0,)

    def __init__(self, dim):
        self.dim = dim

    def forward(self, x):
        if x.ndim == 0:
            return x.astype(INT64) if x.dtype.kind in "biu" else x.copy()
        a = x.astype(INT64) if x.dtype.kind in "biu" else upcast(x)
        y = xp(a).cumprod(a, axis=self.dim, dtype=cum_acc_dtype(a))   # float32: in float64
        return y if x.dtype.kind in "biu" else y.astype(x.dtype, copy=False)

    def backward(self, gy):
        x = self.inputs[0]
        if x.ndim == 0:
            return gy
        d = self.dim
        xd = x._data
        if not bool((xd == 0).any()):
            # Reverse cumulative sum of gy * y (flip-cumsum-flip keeps small tails exact).
            w = gy * self.output()
            return Flip((d,))(Cumsum(d)(Flip((d,))(w))) / x
        if state.enabled:
            raise AutogradError(
                "cumprod: double backward (create_graph=True) is not supported when the "
                "input contains zeros")
        a, g = upcast(xd), upcast(gy._data)
        y = upcast(self.output()._data)
        grad = _cumprod_grad_with_zeros(a, g.astype(a.dtype, copy=False), d, y)
        return Variable._make(grad.astype(xd.dtype, copy=False))


@op_method
def cumprod(self, dim):
    """Running product along ``dim`` (Int64 for integer and bool inputs).

    The gradient is exact with zeros in the input; double backward
    (create_graph=True) then raises, as for ``prod``.
    """
    return Cumprod(norm_dim(dim, self.ndim, "cumprod"))(self)


# ----------------------------------------------------------- sort and topk


def _sort_key(a):
    """An array that orders like ``a``: halves through float32, bool as uint8."""
    if a.dtype.kind == "b":
        return a.astype(np.uint8)
    return upcast(a)


def _argsort(a, axis, descending):
    """Stable argsort along ``axis``; NaN sorts as the largest value (PyTorch)."""
    m = xp(a)
    key = _sort_key(a)
    if not descending:
        idx = m.argsort(key, axis=axis, kind="stable") if m is np else m.argsort(key, axis=axis)
        return idx.astype(INT64, copy=False)
    # Stable descending: sort the flipped array, flip back, map the positions.
    flipped = m.flip(key, axis=axis)
    idx = (m.argsort(flipped, axis=axis, kind="stable") if m is np
           else m.argsort(flipped, axis=axis))
    return (a.shape[axis] - 1 - m.flip(idx, axis=axis)).astype(INT64, copy=False)


def _check_bool(op, name, v):
    if not isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{op}: {name} must be a bool, got {type(v).__name__}")
    return bool(v)


def _zero_d(op, self):
    """The value (a differentiable copy) and index 0 of a 0-d tensor."""
    return self.reshape(()), Tensor._wrap(xp(self._data).zeros((), dtype=INT64))


@op_method
def sort(self, dim=-1, descending=False, stable=False):
    """``(values, indices)`` sorted along ``dim`` (torch.sort). Always stable here
    (``stable`` is accepted for compatibility); NaN counts as the largest value.
    The values are differentiable; the indices are a constant Int64 tensor."""
    descending = _check_bool("sort", "descending", descending)
    _check_bool("sort", "stable", stable)
    d = norm_dim(dim, self.ndim, "sort")
    if self.ndim == 0:
        return SortResult(*_zero_d("sort", self))
    idx = _argsort(self._data, d, descending)
    return SortResult(Gather(d, idx)(self), Tensor._wrap(idx))


@op_method(differentiable=False)
def argsort(self, dim=-1, descending=False, stable=False):
    """Indices (Int64 tensor) that sort ``self`` along ``dim`` (torch.argsort);
    stable, NaN largest. Not differentiable: returns a Tensor."""
    descending = _check_bool("argsort", "descending", descending)
    _check_bool("argsort", "stable", stable)
    d = norm_dim(dim, self.ndim, "argsort")
    if self.ndim == 0:
        return Tensor._wrap(xp(self._data).zeros((), dtype=INT64))
    return Tensor._wrap(_argsort(self._data, d, descending))


def _topk_index(a, k, axis, largest):
    """Indices of the k largest (smallest) along ``axis``, in sorted order."""
    m = xp(a)
    n = a.shape[axis]
    if k == 0:
        shape = list(a.shape)
        shape[axis] = 0
        return m.zeros(tuple(shape), dtype=INT64)
    if k == n or m is not np:
        idx = _argsort(a, axis, largest)
        return idx if k == n else m.take(idx, m.arange(k), axis=axis)
    # Partition first (O(n)), then sort only the k selected along the axis.
    key = _sort_key(a)
    part = m.argpartition(key, n - k if largest else k - 1, axis=axis)
    sel = m.take(part, m.arange(n - k, n) if largest else m.arange(k), axis=axis)
    sel = m.sort(sel, axis=axis)     # ties then keep their original order, as in sort
    order = _argsort(m.take_along_axis(key, sel, axis=axis), axis, largest)
    return m.take_along_axis(sel, order, axis=axis).astype(INT64, copy=False)


@op_method
def topk(self, k, dim=-1, largest=True, sorted=True):
    """``(values, indices)`` of the ``k`` largest (``largest=False``: smallest)
    elements along ``dim`` (torch.topk). Results always come sorted; which of
    several tied elements is picked is unspecified, as in PyTorch. NaN counts as
    the largest value. The values are differentiable; the indices are Int64."""
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise TypeError(f"topk: k must be an int, got {type(k).__name__}")
    k = int(k)
    largest = _check_bool("topk", "largest", largest)
    _check_bool("topk", "sorted", sorted)
    d = norm_dim(dim, self.ndim, "topk")
    n = self.shape[d] if self.ndim else 1
    if not 0 <= k <= n:
        raise FlodlIndexError(f"topk: k {k} out of range for dim {d} of size {n} "
                              f"(shape {self.shape}); expected 0 <= k <= {n}")
    if self.ndim == 0:
        return TopkResult(*_zero_d("topk", self))   # PyTorch returns the value for k 0 or 1
    if self._data.dtype.kind == "b":
        raise DTypeError("topk: not implemented for Bool tensors")
    idx = _topk_index(self._data, k, d, largest)
    return TopkResult(Gather(d, idx)(self), Tensor._wrap(idx))


__all__ = ["cumprod", "sort", "argsort", "topk"]
