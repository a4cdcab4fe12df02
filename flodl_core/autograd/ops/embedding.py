"""Embedding lookups: embedding, embedding_bag (torch.nn.functional semantics).

``embedding`` gathers rows of ``weight`` with a Function whose backward
scatters (accumulates) the upstream rows back into a (num_embeddings, dim)
gradient, and whose partner's backward is the gather again, so every order of
derivative stays within the pair. Per-position gradient weights implement
``padding_idx`` (those positions give no gradient) and ``scale_grad_by_freq``
(each position's gradient divided by its index's count in the batch). Both
are PyTorch's deliberate departures from the true derivative.

``embedding_bag`` reduces bags of rows (sum, mean, max) by composing the
gather with ``index_add``-style and ``gather`` ops from ``indexing``.

``max_norm`` renormalises the referenced rows of ``weight`` in place before the
lookup (outside autograd), as PyTorch does. ``sparse=True`` is accepted and
gives a dense gradient.
"""
from __future__ import annotations

import numbers

import numpy as np

from ...backend.dtype import dtype_of
from ...errors import DeviceError, DTypeError, FlodlIndexError, ShapeError
from ...tensor import Tensor, TensorLike
from ..function import Function, op_function
from ._util import compute_dtype, is_float, xp
from .indexing import Gather, IndexAdd, IndexSelect, _add_at


class EmbeddingGather(Function):
    """Rows ``weight[idx]`` (shape idx.shape + (dim,)).

    ``pw`` (None, or float weights shaped like ``idx``) weights each position in
    the backward scatter; with ``weighted`` the forward applies it too, which
    makes this the exact adjoint of :class:`EmbeddingScatter`.
    """

    __slots__ = ("idx", "num", "pw", "weighted")

    def __init__(self, idx, num, pw=None, weighted=False):
        self.idx, self.num, self.pw, self.weighted = idx, num, pw, weighted

    def forward(self, w):
        y = xp(w).take(w, self.idx, axis=0)
        if self.weighted and self.pw is not None:
            y = (y * self.pw[..., None]).astype(w.dtype, copy=False)
        return y

    def backward(self, gy):
        return EmbeddingScatter(self.idx, self.num, self.pw)(gy)


class EmbeddingScatter(Function):
    """Zeros of (num, dim) with the rows of ``g`` (times ``pw``) added at ``idx``."""

    __slots__ = ("idx", "num", "pw")

    def __init__(self, idx, num, pw=None):
        self.idx, self.num, self.pw = idx, num, pw

    def forward(self, g):
        nd = self.idx.ndim
        rows = g.reshape((-1,) + g.shape[nd:])
        cd = compute_dtype(g)
        rows = rows if rows.dtype == cd else rows.astype(cd)
        if self.pw is not None:
            rows = rows * self.pw.reshape(-1, *([1] * (rows.ndim - 1))).astype(cd)
        out = xp(g).zeros((self.num,) + g.shape[nd:], dtype=cd)
        _add_at(out, (self.idx.reshape(-1),), rows)
        return out if out.dtype == g.dtype else out.astype(g.dtype)

    def backward(self, ggw):
        return EmbeddingGather(self.idx, self.num, self.pw, weighted=True)(ggw)


# ------------------------------------------------------------------ helpers


def _indices(op, input, weight):
    if not isinstance(input, TensorLike):
        raise TypeError(f"{op}: input must be an integer tensor, got {type(input).__name__}")
    if not isinstance(weight, TensorLike):
        raise TypeError(f"{op}: weight must be a tensor, got {type(weight).__name__}")
    idx = input._data
    if idx.dtype.kind not in "iu":
        raise DTypeError(f"{op}: indices must be an integer tensor, got "
                         f"{dtype_of(idx.dtype).name}")
    if not is_float(weight._data.dtype):
        raise DTypeError(f"{op}: weight must be a floating-point tensor, got "
                         f"{dtype_of(weight._data.dtype).name}")
    if weight.ndim != 2:
        raise ShapeError(f"{op}: weight must be 2-D (num_embeddings, embedding_dim), got "
                         f"shape {weight.shape}")
    if input.device != weight.device:
        raise DeviceError(f"{op}: indices are on {input.device!r} but weight is on "
                          f"{weight.device!r}")
    num = weight.shape[0]
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= num:
            bad = lo if lo < 0 else hi
            raise FlodlIndexError(f"{op}: index {bad} out of range for num_embeddings {num} "
                                  f"(valid indices are 0..{num - 1})")
    return idx, num


def _padding(op, padding_idx, num):
    if padding_idx is None:
        return None
    if isinstance(padding_idx, bool) or not isinstance(padding_idx, numbers.Integral):
        raise TypeError(f"{op}: padding_idx must be an int or None, got "
                        f"{type(padding_idx).__name__}")
    p = int(padding_idx)
    if not -num <= p < num:
        raise FlodlIndexError(f"{op}: padding_idx {p} out of range for num_embeddings {num}")
    return p % num


def _renorm(op, weight, idx, max_norm, norm_type):
    """Scale the rows of ``weight`` referenced by ``idx`` to norm <= max_norm, in place."""
    if isinstance(max_norm, bool) or not isinstance(max_norm, numbers.Real):
        raise TypeError(f"{op}: max_norm must be a number or None, got {max_norm!r}")
    w = weight._data
    m = xp(w)
    rows = m.unique(idx.reshape(-1))
    if rows.size == 0:
        return
    sel = w[rows].astype(compute_dtype(w))
    norms = m.linalg.norm(sel, ord=float(norm_type), axis=1)
    big = norms > max_norm
    if bool(big.any()):
        scale = (max_norm / (norms[big] + 1e-7)).astype(sel.dtype)
        w[rows[big]] = (sel[big] * scale[:, None]).astype(w.dtype)


def _freq_weights(idx, m):
    _, inverse, counts = m.unique(idx.reshape(-1), return_inverse=True, return_counts=True)
    return (1.0 / counts[inverse.reshape(-1)]).reshape(idx.shape)


# ---------------------------------------------------------------- embedding


@op_function
def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    """Rows of ``weight`` (num_embeddings, dim) at the integer ``input`` indices:
    output shape ``input.shape + (dim,)``.

    ``padding_idx``: positions holding it get no gradient. ``max_norm``: the
    referenced rows are first renormalised in place to that ``norm_type``-norm.
    ``scale_grad_by_freq``: gradients are divided by each index's frequency.
    """
    op = "embedding"
    idx, num = _indices(op, input, weight)
    pad = _padding(op, padding_idx, num)
    if max_norm is not None:
        _renorm(op, weight, idx, max_norm, norm_type)
    m = xp(idx)
    pw = None
    if scale_grad_by_freq and idx.size:
        pw = _freq_weights(idx, m)
    if pad is not None:
        notpad = idx != pad
        pw = notpad.astype(np.float64) if pw is None else pw * notpad
    return EmbeddingGather(idx, num, pw)(weight)


# ------------------------------------------------------------ embedding_bag


def _bags(op, idx, offsets, include_last_offset, m):
    """Flat indices, the bag of each, and the number of bags."""
    if idx.ndim == 2:
        if offsets is not None:
            raise ValueError(f"{op}: offsets must be None for a 2-D input (each row is a "
                             f"bag), got offsets of shape {offsets.shape}")
        b, n = idx.shape
        return idx.reshape(-1), m.repeat(m.arange(b), n), b
    if idx.ndim != 1:
        raise ShapeError(f"{op}: input must be 1-D (with offsets) or 2-D, got shape "
                         f"{idx.shape}")
    if offsets is None:
        raise ValueError(f"{op}: offsets are required for a 1-D input")
    if not isinstance(offsets, TensorLike):
        raise TypeError(f"{op}: offsets must be an integer tensor, got "
                        f"{type(offsets).__name__}")
    off = offsets._data
    if off.dtype.kind not in "iu" or off.ndim != 1:
        raise DTypeError(f"{op}: offsets must be a 1-D integer tensor, got "
                         f"{dtype_of(off.dtype).name} shape {off.shape}")
    n = idx.shape[0]
    if off.size == 0:
        raise ShapeError(f"{op}: offsets must not be empty")
    offs = np.asarray(off.get() if m is not np else off).astype(np.int64)
    if offs[0] != 0:
        raise ValueError(f"{op}: offsets[0] must be 0 (the first bag starts at position 0), "
                         f"got {int(offs[0])}")
    if offs[-1] > n:
        raise ValueError(f"{op}: offsets[-1] can not be greater than the input's length {n}, "
                         f"got {int(offs[-1])}")
    if np.any(np.diff(offs) < 0):
        raise ValueError(f"{op}: offsets must be non-decreasing, got {offs.tolist()}")
    if include_last_offset:
        if offs.size < 1:
            raise ShapeError(f"{op}: include_last_offset needs at least one offset")
        starts, ends = offs[:-1], offs[1:]
    else:
        starts, ends = offs, np.append(offs[1:], n)
    nb = starts.size
    counts = ends - starts
    bag = np.repeat(np.arange(nb), counts)
    used = int(counts.sum())
    flat = idx[:used] if used < n else idx
    return flat, (bag if m is np else m.asarray(bag)), nb


def _ufunc_at(name, out, key, values):
    """``out[key] = name(out[key], values)`` with repeats (numpy ufunc.at / cupyx)."""
    m = xp(out)
    if m is np:
        getattr(np, name).at(out, key, values)
    else:
        import cupyx
        getattr(cupyx, f"scatter_{name[:3]}")(out, key, values)


def _segment_first_argmax(vals, bag, nb, m):
    """For each bag and column, the position in ``vals`` of the first maximum; -1
    for empty bags."""
    n, d = vals.shape
    a = vals.astype(compute_dtype(vals))
    mx = m.full((nb, d), -m.inf, dtype=a.dtype)
    _ufunc_at("maximum", mx, bag, a)
    pos = m.broadcast_to(m.arange(n).reshape(n, 1), (n, d))
    cand = m.where(a == mx[bag], pos, n)
    first = m.full((nb, d), n, dtype=cand.dtype)
    _ufunc_at("minimum", first, bag, cand)
    return m.where(first == n, -1, first)


@op_function
def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2,
                  scale_grad_by_freq=False, mode="mean", sparse=False,
                  per_sample_weights=None, include_last_offset=False, padding_idx=None):
    """Sums, means or maxima of bags of embedding rows (torch.nn.functional.embedding_bag).

    A 2-D ``input`` (B, L) is B bags of L indices; a 1-D ``input`` with
    ``offsets`` (B,) holds bag b in ``input[offsets[b]:offsets[b+1]]``
    (``include_last_offset``: offsets has B + 1 entries, the last closing the
    final bag). ``padding_idx`` entries are left out of their bag (and of the
    mean's count); empty bags give zeros. ``per_sample_weights`` (same shape as
    ``input``, mode 'sum' only) weight each row. In 'max' mode the gradient of
    each output goes to the first row holding the maximum.
    """
    op = "embedding_bag"
    idx, num = _indices(op, input, weight)
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"{op}: mode must be 'sum', 'mean' or 'max', got {mode!r}")
    pad = _padding(op, padding_idx, num)
    if per_sample_weights is not None:
        if mode != "sum":
            raise ValueError(f"{op}: per_sample_weights is only supported for mode='sum', "
                             f"got mode={mode!r}")
        if not isinstance(per_sample_weights, TensorLike) or \
                not is_float(per_sample_weights._data.dtype):
            raise DTypeError(f"{op}: per_sample_weights must be a floating-point tensor")
        if per_sample_weights.shape != input.shape:
            raise ShapeError(f"{op}: per_sample_weights shape {per_sample_weights.shape} "
                             f"must match the input's shape {input.shape}")
    if scale_grad_by_freq and mode == "max":
        raise ValueError(f"{op}: scale_grad_by_freq is not supported with mode='max'")
    if max_norm is not None:
        _renorm(op, weight, idx, max_norm, norm_type)
    m = xp(idx)
    flat, bag, nb = _bags(op, idx, offsets, include_last_offset, m)
    d = weight.shape[1]
    psw = None
    if per_sample_weights is not None:
        psw = per_sample_weights.reshape(-1)
        if psw.shape[0] != flat.shape[0]:
            psw = psw.narrow(0, 0, flat.shape[0])
    if pad is not None:
        keep = m.nonzero(flat != pad)[0]
        if keep.size != flat.size:
            flat, bag = flat[keep], bag[keep]
            if psw is not None:
                psw = IndexSelect(0, keep)(psw)
    if flat.size == 0:
        # Every bag is empty: zeros that still depend on weight.
        return IndexAdd(0, bag, (nb, d))(EmbeddingGather(flat, num)(weight))
    if mode == "max":
        first = _segment_first_argmax(m.take(weight._data, flat, axis=0), bag, nb, m)
        empty = first[:, 0] < 0
        rows = flat[m.where(first < 0, 0, first)]
        out = Gather(0, rows)(weight)
        if bool(empty.any()):
            out = out.masked_fill(Tensor._wrap(empty[:, None]), 0.0)
        return out
    pw = _freq_weights(flat, m) if scale_grad_by_freq else None
    rows = EmbeddingGather(flat, num, pw)(weight)
    if psw is not None:
        rows = rows * psw.unsqueeze(-1)
    elif mode == "mean":
        counts = m.bincount(bag, minlength=nb)
        inv = (1.0 / m.maximum(counts, 1))[bag].astype(weight._data.dtype)
        rows = rows * Tensor._wrap(inv[:, None])
    return IndexAdd(0, bag, (nb, d))(rows)


FUNCTIONAL = ["embedding", "embedding_bag"]
__all__ = []
