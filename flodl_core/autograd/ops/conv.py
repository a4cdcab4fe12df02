"""Convolutions: conv1d/2d/3d, conv_transpose1d/2d/3d, unfold (im2col), fold (col2im).

One N-d code path serves 1-D, 2-D and 3-D. Three Functions make a family closed
under differentiation; with ``W`` a conv weight ``(out, in/groups, *k)``:

* ``Convolution(x, W)``: the correlation ``conv(x, W)``;
* ``ConvTranspose(y, W)``: its adjoint in ``x`` (``conv_transpose``; the same
  weight layout, read as ``(in, out/groups, *k)`` from the transpose's side);
* ``ConvWeightGrad(x, y)``: its adjoint in ``W``, the correlation of an input
  with an output-sized gradient.

Each one's backward is made of the three, so every order of derivative keeps
the GEMM speed. ``Im2Col`` (unfold) and ``Col2Im`` (fold) are each other's
backward.

How the arrays move (the hot path of every CNN):

* im2col is one copy out of a strided view (``as_strided``) into a contiguous
  ``(N, groups, C/groups * K, L)`` buffer, then ONE batched matmul with the
  weight (batched over N and groups, no Python loop). The output lands in
  ``(N, out, L)``, i.e. already NCHW; the bias is added in place.
* Short rows (``L < BATCHED_GEMM_MIN_L``, deep layers on small images) make
  OpenBLAS slow on many thin products: the columns are laid out ``(groups,
  C/groups * K, N * L)`` instead and one GEMM spans the batch; the result is
  a transposed view.
* With all strides 1 the windows are taken over the *flattened* padded image
  ("wide grid"): window ``k`` is the contiguous run ``flat[off_k : off_k + Lw]``,
  so the im2col copy moves long contiguous rows instead of ``OW``-element
  pieces. The GEMM then also computes the ``d*(k-1)`` wrap-around columns of
  each row, which a strided view of the result skips (used when it wastes at
  most ``WIDE_MAX_WASTE``). Results are therefore often strided views.
* Partial columns (2-D/3-D, stride 1, batch-major wide grid, at least
  ``PARTIAL_MIN_ROWS`` rows ``C/groups * k[-1]``): on the wide grid the
  leading kernel positions are pure shifts of the flat index, so only the
  last dim's offsets are copied, ``(N, groups, C/groups * k[-1], L + shift)``,
  and each leading position is one batched GEMM over an in-place slice
  ``[shift_j : shift_j + L]`` (row stride ``L + shift``: BLAS reads it without
  a copy), summed into the output. A 3x3 conv copies 3 instead of 9 shifted
  images: the column buffer is 3x smaller, which for few channels saves more
  than the two extra adds and the thinner GEMMs cost.
* The weight gradient reuses the forward's columns (full or partial), which
  the Convolution node keeps while they are at most
  ``COLUMNS_CACHE_MAX_BYTES`` and the weight requires grad; otherwise it
  im2cols again: partial columns where they apply (one batched GEMM per
  leading kernel position, summed over the batch), else ``(groups,
  C/groups * K, N * L)``: one GEMM whose inner dimension is the whole batch.
* col2im (conv_transpose, fold) accumulates one strided slice per kernel
  offset into a zeroed padded buffer: a loop over the ``prod(k)`` offsets,
  never over batch, channels or pixels, and no ``add.at``.
* A stride-1 conv_transpose whose input has fewer than ``FLIP_MAX_RATIO``
  times its output's channels runs as a convolution with the flipped,
  transposed kernel instead (im2col of the smaller side); this is the usual
  input gradient of a stride-1 conv.

Half types compute in float32 and return the input dtype.
"""
from __future__ import annotations

import itertools
import math
import numbers

import numpy as np

from ...backend.parallel import parallel_for
from ...errors import DTypeError, ShapeError
from ...tensor import TensorLike
from ..function import AUTOCAST_LOWER, Function, autocast_op, op_function
from ..grad_mode import state as grad_state
from ._util import compute_dtype, is_float, xp

FUNCTIONAL = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
              "conv_transpose3d", "unfold", "fold"]
__all__ = list(FUNCTIONAL)

#: The wide-grid im2col is used while it computes at most this fraction of
#: extra (discarded) output columns.
WIDE_MAX_WASTE = 0.5
#: A stride-1 conv_transpose with in_channels < FLIP_MAX_RATIO * out_channels
#: runs as a convolution with the flipped kernel (see the module docstring).
FLIP_MAX_RATIO = 2.0
#: Largest im2col buffer a Convolution node keeps for its weight gradient
#: (per node; larger ones are recomputed in backward). 0 disables the cache.
COLUMNS_CACHE_MAX_BYTES = 64 * 2**20
#: GEMMs are batched over samples when a sample's row is at least this long,
#: else one GEMM spans the whole batch.
BATCHED_GEMM_MIN_L = 128
#: A batch-major stride-1 wide-grid conv of 2 or more dims uses partial columns
#: (only the last dim's kernel offsets stacked, one GEMM per leading kernel
#: position) when ``C/groups * k[-1]`` is at least this; else full columns
#: (thinner GEMMs lose more than the smaller copy saves).
PARTIAL_MIN_ROWS = 24
#: Per-sample work is split over the batch onto several threads
#: (``backend.parallel``) in chunks of at least this much work: elements moved for
#: copies and col2im sums, multiply-adds for GEMMs. Smaller chunks lose more to
#: waking a worker and to GIL handoffs than they gain (measured on LeNet-sized
#: layers, which run slower split).
PARALLEL_MIN_ELEMENTS = 1 << 20
PARALLEL_MIN_MACS = 1 << 25


# =============================================================== array level


def _as_strided(a, shape, strides):
    m = xp(a)
    return m.lib.stride_tricks.as_strided(a, shape=tuple(shape), strides=tuple(strides))


def _needed_hi(in_size, lo, out, stride, dil, k):
    """Padding after the input that the last output position reads (may be < 0)."""
    return tuple((o - 1) * s + d * (kk - 1) + 1 - l - i
                 for i, l, o, s, d, kk in zip(in_size, lo, out, stride, dil, k))


def _over_batch(m, n, per_sample, body, minimum=None):
    """``body(lo, hi)`` over samples ``[0, n)``: on the CPU split over threads in
    chunks of at least ``minimum`` work (default PARALLEL_MIN_ELEMENTS; each chunk
    writes its own samples' outputs); on CUDA one call (the GPU parallelises the
    whole batch)."""
    if m is np:
        minimum = PARALLEL_MIN_ELEMENTS if minimum is None else minimum
        parallel_for(n, body, min_chunk=-(-minimum // max(1, per_sample)))
    else:
        body(0, n)


def _copy_batched(view):
    """A contiguous copy of the (N, ...) strided ``view``, the batch split over threads."""
    m = xp(view)
    out = m.empty(view.shape, dtype=view.dtype)

    def body(lo, hi):
        out[lo:hi] = view[lo:hi]
    _over_batch(m, view.shape[0], math.prod(view.shape[1:]), body)
    return out


def _pad(x, lo, hi):
    """Zero-pad (positive) or crop (negative) the spatial dims of ``(N, C, *S)``."""
    if not any(lo) and not any(hi):
        return x
    if min(lo) < 0 or min(hi) < 0:
        x = x[(slice(None), slice(None)) + tuple(
            slice(max(-a, 0), s - max(-b, 0)) for a, b, s in zip(lo, hi, x.shape[2:]))]
        lo = tuple(max(a, 0) for a in lo)
        hi = tuple(max(b, 0) for b in hi)
        if not any(lo) and not any(hi):
            return x
    m = xp(x)
    shape = x.shape[:2] + tuple(s + a + b for s, a, b in zip(x.shape[2:], lo, hi))
    buf = m.empty(shape, dtype=x.dtype)
    inner = (slice(None),) + tuple(slice(a, a + s) for a, s in zip(lo, x.shape[2:]))

    def body(i, j):
        buf[i:j] = 0
        buf[(slice(i, j),) + inner] = x[i:j]
    _over_batch(m, shape[0], math.prod(shape[1:]), body)
    return buf


class _Grid:
    """Where output position ``o`` sits along the last axis of a column buffer:
    at ``sum(o_d * P[d])`` within a run of ``L``. ``wide``: ``P`` are the strides
    of the flattened padded input (wrap-around columns in between); otherwise
    the row-major strides of ``out`` (``L = prod(out)``)."""

    __slots__ = ("wide", "P", "L", "out")

    def __init__(self, wide, P, L, out):
        self.wide, self.P, self.L, self.out = wide, tuple(P), L, tuple(out)

    @classmethod
    def dense(cls, out):
        return cls(False, _row_major(out), math.prod(out), out)


def _row_major(shape):
    return tuple(math.prod(shape[d + 1:]) for d in range(len(shape)))


def _wide_grid(padded, out, stride, elem_strides):
    """A wide grid over a padded array whose spatial dims are flat-addressable
    with element strides ``elem_strides``, or None when not worth it."""
    if any(s != 1 for s in stride) or elem_strides is None:
        return None
    L = math.prod(out)
    Lw = sum((o - 1) * p for o, p in zip(out, elem_strides)) + 1
    if Lw > (1.0 + WIDE_MAX_WASTE) * L:
        return None
    return _Grid(True, elem_strides, Lw, out)


def _flat_strides(a):
    """Element strides of ``a``'s spatial dims in a flattened (row-major) grid, or
    None when those dims are not addressable as one flat run."""
    sp, S = a.strides[2:], a.shape[2:]
    e = sp[-1]
    if e <= 0:
        return None
    for d in range(len(S) - 1):
        if sp[d] != sp[d + 1] * S[d + 1]:
            return None
    return tuple(s // e for s in sp)


def _windows(xpad, k, stride, dil, out, allow_wide=True):
    """A strided view ``(N, C, *k, L or *out)`` of the windows, and its grid."""
    N, C = xpad.shape[:2]
    st = xpad.strides
    sp = st[2:]
    kst = tuple(d * s for d, s in zip(dil, sp))
    grid = _wide_grid(xpad.shape[2:], out, stride, _flat_strides(xpad)) if allow_wide else None
    if grid is not None:
        view = _as_strided(xpad, (N, C) + tuple(k) + (grid.L,), st[:2] + kst + (sp[-1],))
        return view, grid
    view = _as_strided(xpad, (N, C) + tuple(k) + tuple(out),
                       st[:2] + kst + tuple(t * s for t, s in zip(stride, sp)))
    return view, _Grid.dense(out)


def _batch_major(grid):
    """Batched GEMMs (one per sample) for long rows, one GEMM over the whole
    batch for short ones (OpenBLAS is slow on many thin products)."""
    return grid.L >= BATCHED_GEMM_MIN_L


def _partial(grid, cg, k):
    """Whether a batch-major wide grid takes the partial columns (see :func:`_im2col`)."""
    return (len(k) > 1 and grid.wide and _batch_major(grid)
            and cg * k[-1] >= PARTIAL_MIN_ROWS)


def _lead_offsets(k, dil, grid):
    """Offsets on the wide ``grid`` of the leading kernel positions (all dims but
    the last), in kernel order."""
    return tuple(sum(i * d * p for i, d, p in zip(idx, dil, grid.P))
                 for idx in itertools.product(*map(range, k[:-1])))


def _im2col(xpad, k, stride, dil, out, groups, batch_major=None):
    """(columns of the padded input, their grid, batch_major, lead).

    Full columns (``lead`` None): ``batch_major``: ``(N, groups, C/groups * K,
    L)`` (GEMMs batched over N); else ``(groups, C/groups * K, N * L)`` (one GEMM
    over the batch). None: chosen by :func:`_batch_major`.

    Partial columns (a 2-D or 3-D conv on a batch-major wide grid, when
    :func:`_partial`, whatever ``batch_major`` says): only the last dim's
    kernel offsets are stacked,
    ``(N, groups, C/groups * k[-1], L + lead[-1])``; the window of leading kernel
    position ``j`` is the slice ``[lead[j] : lead[j] + L]`` of the last axis, so
    the GEMM reads it in place and the results are summed over ``j``.
    """
    m = xp(xpad)
    view, grid = _windows(xpad, k, stride, dil, out)
    N, C = xpad.shape[:2]
    if _partial(grid, C // groups, k):
        lead = _lead_offsets(k, dil, grid)
        Lr = grid.L + lead[-1]
        st = view.strides
        pview = _as_strided(xpad, (N, C, k[-1], Lr), st[:2] + st[-2:])
        cols = _copy_batched(pview).reshape(N, groups, (C // groups) * k[-1], Lr)
        return cols, grid, True, lead
    if batch_major is None:
        batch_major = _batch_major(grid)
    cgk = (C // groups) * math.prod(k)
    if batch_major:
        return _copy_batched(view).reshape(N, groups, cgk, grid.L), grid, True, None
    nd = len(k)
    perm = (1,) + tuple(range(2, 2 + nd)) + (0,) + tuple(range(2 + nd, view.ndim))
    cols = m.ascontiguousarray(view.transpose(perm)).reshape(groups, cgk, N * grid.L)
    return cols, grid, False, None


def _from_grid(y, grid, batch_major=True):
    """``(N, O, L)`` (or ``(O, N, L)``) on ``grid`` -> ``(N, O, *out)`` (a view)."""
    if batch_major and not grid.wide:
        return y.reshape(y.shape[:2] + grid.out)
    lead_shape, lead_strides = y.shape[:2], y.strides[:2]
    if not batch_major:
        lead_shape, lead_strides = lead_shape[::-1], lead_strides[::-1]
    item = y.itemsize
    return _as_strided(y, lead_shape + grid.out,
                       lead_strides + tuple(p * item for p in grid.P))


def _to_grid(b, grid, batch_major=True):
    """``(N, O, *out)`` -> contiguous ``(N, O, L)`` (or ``(O, N, L)``) on ``grid``,
    zeros at the wide grid's wrap-around columns."""
    m = xp(b)
    src = b if batch_major else b.swapaxes(0, 1)
    lead = src.shape[:2]
    if not grid.wide:
        return m.ascontiguousarray(src).reshape(lead + (grid.L,))
    buf = m.zeros(lead + (grid.L,), dtype=b.dtype)
    item = buf.itemsize
    dst = _as_strided(buf, lead + tuple(grid.out),
                      buf.strides[:2] + tuple(p * item for p in grid.P))
    dst[...] = src
    return buf


def _col2im(cols, k, stride, dil, grid, padded):
    """Sum the columns ``(N, C, K, L)`` (on ``grid``) back into a zeroed padded
    buffer of spatial size ``padded``: one strided slice add per kernel offset."""
    m = xp(cols)
    N, C = cols.shape[:2]
    if grid.wide:
        buf = m.empty((N, C, math.prod(padded)), dtype=cols.dtype)
        L = grid.L
        offs = [sum(i * d * p for i, d, p in zip(idx, dil, grid.P))
                for idx in itertools.product(*map(range, k))]

        def body(lo, hi):
            buf[lo:hi] = 0
            for kappa, off in enumerate(offs):
                dst = buf[lo:hi, :, off:off + L]
                m.add(dst, cols[lo:hi, :, kappa], out=dst)
        _over_batch(m, N, math.prod(cols.shape[1:]), body)
        return buf.reshape((N, C) + tuple(padded))
    buf = m.zeros((N, C) + tuple(padded), dtype=cols.dtype)
    out = tuple(grid.out)
    for kappa, idx in enumerate(itertools.product(*map(range, k))):
        key = (slice(None), slice(None)) + tuple(
            slice(i * d, i * d + s * (o - 1) + 1, s) for i, d, s, o in zip(idx, dil, stride, out))
        dst = buf[key]
        m.add(dst, cols[:, :, kappa].reshape((N, C) + out), out=dst)
    return buf


def _crop(buf, lo, out):
    return buf[(slice(None), slice(None)) + tuple(slice(a, a + o) for a, o in zip(lo, out))]


def _add_bias(m, y, bias, axis=1):
    """``y += bias`` along ``axis`` in place (``y`` is a buffer the op allocated)."""
    if bias is not None:
        shape = [1] * y.ndim
        shape[axis] = -1
        m.add(y, _upcast(bias).reshape(shape), out=y)


def _conv(x, w, bias, stride, dil, lo, groups, out):
    """Correlation of ``x (N, C, *I)`` with ``w (O, C/groups, *k)`` plus ``bias``,
    output positions ``out``: (the result, possibly a strided view of a larger
    buffer, and :func:`_im2col`'s (columns, grid, batch_major, lead)). ``lo``
    may be negative (a crop)."""
    m = xp(x)
    k = w.shape[2:]
    N, O = x.shape[0], w.shape[0]
    xpad = _pad(x, lo, _needed_hi(x.shape[2:], lo, out, stride, dil, k))
    cols, grid, bm, lead = _im2col(xpad, k, stride, dil, out, groups)
    og = O // groups
    if not bm:                  # one GEMM over the whole batch (BLAS threads it)
        y = m.matmul(w.reshape(groups, og, w[0].size), cols).reshape(O, N * grid.L)
        _add_bias(m, y, bias, axis=0)
        return _from_grid(y.reshape(O, N, grid.L), grid, bm), (cols, grid, bm, lead)
    y = m.empty((N, groups, og, grid.L), dtype=m.result_type(w.dtype, cols.dtype))
    if lead is not None:        # partial columns: one GEMM per leading kernel position
        L = grid.L
        wl = w.reshape((groups, og, w.shape[1], len(lead), k[-1]))
        wl = m.ascontiguousarray(wl.transpose(3, 0, 1, 2, 4)).reshape(
            len(lead), groups, og, w.shape[1] * k[-1])

        def gemms(yb, cb):
            m.matmul(wl[0], cb[..., lead[0]:lead[0] + L], out=yb)
            tmp = m.empty_like(yb)
            for j in range(1, len(lead)):
                m.matmul(wl[j], cb[..., lead[j]:lead[j] + L], out=tmp)
                m.add(yb, tmp, out=yb)
    else:                       # one GEMM per sample (and group)
        wr = w.reshape(groups, og, w[0].size)

        def gemms(yb, cb):
            m.matmul(wr, cb, out=yb)

    def body(lo, hi):           # samples lo..hi: GEMMs, then the bias over long runs
        gemms(y[lo:hi], cols[lo:hi])
        _add_bias(m, y[lo:hi].reshape(hi - lo, O, grid.L), bias)
    _over_batch(m, N, O * grid.L * w[0].size, body, PARALLEL_MIN_MACS)
    y = y.reshape(N, O, grid.L)
    return _from_grid(y, grid, bm), (cols, grid, bm, lead)


def _conv_transpose(x, w, bias, stride, dil, lo, groups, out):
    """Adjoint of ``_conv`` in its input (plus ``bias``): ``x (N, Ci, *I)`` with
    ``w (Ci, Co/groups, *k)`` gives ``(N, Co, *out)`` (possibly a view)."""
    m = xp(x)
    k = w.shape[2:]
    nd = len(k)
    N, Ci = x.shape[:2]
    cog = w.shape[1]
    co, cig = cog * groups, Ci // groups
    if all(s == 1 for s in stride) and Ci < FLIP_MAX_RATIO * co:
        # conv with the kernel flipped and in/out swapped per group.
        wf = w.reshape((groups, cig, cog) + k).swapaxes(1, 2)
        wf = wf[(Ellipsis,) + (slice(None, None, -1),) * nd].reshape((co, cig) + k)
        lo2 = tuple(d * (kk - 1) - a for d, kk, a in zip(dil, k, lo))
        return _conv(x, wf, bias, stride, dil, lo2, groups, out)[0]
    I = x.shape[2:]
    padded = tuple(max((i - 1) * s + d * (kk - 1) + 1, a + o)
                   for i, s, d, kk, a, o in zip(I, stride, dil, k, lo, out))
    grid = _wide_grid(padded, I, stride, _row_major(padded)) or _Grid.dense(I)
    K, L = math.prod(k), grid.L
    wm = w.reshape(groups, cig, w[0].size).swapaxes(-1, -2)       # (g, Co/g * K, Ci/g)
    if _batch_major(grid):
        xg = _to_grid(x, grid).reshape(N, groups, cig, L)
        cols = m.matmul(wm, xg).reshape(N, co, K, L)              # (N, g, Co/g * K, L)
    else:
        xg = _to_grid(x, grid, batch_major=False).reshape(groups, cig, N * L)
        cols = m.matmul(wm, xg).reshape(co, K, N, L).transpose(2, 0, 1, 3)
    buf = _col2im(cols, k, stride, dil, grid, padded)
    _add_bias(m, buf.reshape(N, co, math.prod(padded)), bias)
    return _crop(buf, lo, out)


def _conv_weight_grad(a, b, stride, dil, lo, groups, k, cached=None):
    """Adjoint of ``_conv`` in its weight: input ``a (N, C, *I)``, output-sized
    ``b (N, O, *out)`` give ``(O, C/groups, *k)``. ``cached``: the forward's
    :func:`_im2col` of ``a``, else it is recomputed (partial columns where they
    apply, else one GEMM over the whole batch)."""
    m = xp(a)
    out = b.shape[2:]
    N, C, O = a.shape[0], a.shape[1], b.shape[1]
    if cached is None:
        apad = _pad(a, lo, _needed_hi(a.shape[2:], lo, out, stride, dil, k))
        cached = _im2col(apad, k, stride, dil, out, groups, batch_major=False)
    cols, grid, bm, lead = cached
    if lead is not None:                                          # partial columns
        L, og = grid.L, O // groups
        bt = _to_grid(b, grid).reshape(N, groups, og, L).swapaxes(-1, -2)
        # per-sample products on threads, then the sum over samples in one fixed
        # order (the result does not depend on the thread count)
        per = m.empty((len(lead), N, groups, cols.shape[2], og), dtype=cols.dtype)

        def body(lo, hi):
            for j, o in enumerate(lead):
                m.matmul(cols[lo:hi, ..., o:o + L], bt[lo:hi], out=per[j, lo:hi])
        _over_batch(m, N, O * L * math.prod(k) * (C // groups), body, PARALLEL_MIN_MACS)
        gw = per.sum(axis=1)
        gw = gw.reshape((len(lead), groups, C // groups, k[-1], og))
        return m.ascontiguousarray(gw.transpose(1, 4, 2, 0, 3)).reshape(
            (O, C // groups) + tuple(k))
    if bm:                                                        # (N, g, C/g * K, L)
        bg = _to_grid(b, grid).reshape(N, groups, O // groups, grid.L).swapaxes(-1, -2)
        per = m.empty((N, groups, cols.shape[2], O // groups), dtype=cols.dtype)

        def body(lo, hi):
            m.matmul(cols[lo:hi], bg[lo:hi], out=per[lo:hi])
        _over_batch(m, N, math.prod(cols.shape[1:]) * (O // groups), body, PARALLEL_MIN_MACS)
        gw = per.sum(axis=0)                                      # (g, C/g * K, O/g)
    else:                                                         # (g, C/g * K, N * L)
        bg = _to_grid(b, grid, batch_major=False).reshape(groups, O // groups, N * grid.L)
        gw = m.matmul(cols, bg.swapaxes(-1, -2))
    return m.ascontiguousarray(gw.swapaxes(-1, -2)).reshape((O, C // groups) + tuple(k))


def _upcast(a):
    cd = compute_dtype(a)
    return a if cd == a.dtype else a.astype(cd)


def _finish(y, dtype):
    """Results are returned as computed, possibly strided views of a larger
    buffer (the wide grid's wrap-around columns, a crop): no extra copy."""
    return y if y.dtype == dtype else y.astype(dtype)


# ================================================================ Functions


class _ConvBase(Function):
    __slots__ = ("stride", "dilation", "lo", "groups", "size")

    def __init__(self, stride, dilation, lo, groups, size):
        self.stride, self.dilation, self.lo = tuple(stride), tuple(dilation), tuple(lo)
        self.groups, self.size = int(groups), tuple(size)

    def _geo(self):
        return self.stride, self.dilation, self.lo, self.groups

    def _bias_grad(self, gy):
        if len(self.inputs) == 3 and self.needs_grad(2):
            return gy.sum_dim((0,) + tuple(range(2, gy.ndim)))
        return None


class Convolution(_ConvBase):
    """``conv(x, W) (+ bias)`` with output positions ``size``; ``lo`` is the
    padding before each spatial dim (what is needed after is derived).

    With ``keep_columns`` the im2col buffer (when at most
    ``COLUMNS_CACHE_MAX_BYTES``) stays on the node until it is released, so the
    weight gradient skips recomputing it.
    """

    autocast_policy = AUTOCAST_LOWER

    __slots__ = ("keep_columns", "columns")
    op_name = "convolution"

    def __init__(self, stride, dilation, lo, groups, size, keep_columns=False):
        super().__init__(stride, dilation, lo, groups, size)
        self.keep_columns, self.columns = keep_columns, None

    def forward(self, x, w, b=None):
        y, cached = _conv(_upcast(x), _upcast(w), b, self.stride, self.dilation, self.lo,
                          self.groups, self.size)
        if self.keep_columns and cached[0].nbytes <= COLUMNS_CACHE_MAX_BYTES:
            self.columns = cached
        return _finish(y, x.dtype)

    def backward(self, gy):
        x, w = self.inputs[0], self.inputs[1]
        geo = self._geo()
        gx = ConvTranspose(*geo, x.shape[2:])(gy, w) if self.needs_grad(0) else None
        gw = (ConvWeightGrad(*geo, w.shape[2:], cached=self.columns)(x, gy)
              if self.needs_grad(1) else None)
        if len(self.inputs) == 3:
            return gx, gw, self._bias_grad(gy)
        return gx, gw

    def release(self):
        super().release()
        self.columns = None


class ConvTranspose(_ConvBase):
    """Adjoint of :class:`Convolution` in its input, ``(+ bias)``: ``size`` is the
    output's spatial size (the convolution's input side)."""

    autocast_policy = AUTOCAST_LOWER

    op_name = "conv_transpose"

    def forward(self, x, w, b=None):
        y = _conv_transpose(_upcast(x), _upcast(w), b, self.stride, self.dilation, self.lo,
                            self.groups, self.size)
        return _finish(y, x.dtype)

    def backward(self, gy):
        x, w = self.inputs[0], self.inputs[1]
        geo = self._geo()
        gx = Convolution(*geo, x.shape[2:])(gy, w) if self.needs_grad(0) else None
        gw = ConvWeightGrad(*geo, w.shape[2:])(gy, x) if self.needs_grad(1) else None
        if len(self.inputs) == 3:
            return gx, gw, self._bias_grad(gy)
        return gx, gw


class ConvWeightGrad(_ConvBase):
    """Adjoint of :class:`Convolution` in its weight: ``(a, b)`` -> ``(O, C/groups,
    *size)`` with ``a`` input-sized and ``b`` output-sized (``size``: the kernel).
    ``cached``: the forward's im2col of ``a`` (used once, then dropped)."""

    __slots__ = ("cached",)
    op_name = "conv_weight_grad"

    def __init__(self, stride, dilation, lo, groups, size, cached=None):
        super().__init__(stride, dilation, lo, groups, size)
        self.cached = cached

    def forward(self, a, b):
        cached, self.cached = self.cached, None
        gw = _conv_weight_grad(_upcast(a), _upcast(b), self.stride, self.dilation, self.lo,
                               self.groups, self.size, cached)
        return gw if gw.dtype == a.dtype else gw.astype(a.dtype)

    def backward(self, g):
        a, b = self.inputs
        geo = self._geo()
        ga = ConvTranspose(*geo, a.shape[2:])(b, g) if self.needs_grad(0) else None
        gb = Convolution(*geo, b.shape[2:])(a, g) if self.needs_grad(1) else None
        return ga, gb


class Im2Col(Function):
    """``(N, C, *S)`` -> ``(N, C * prod(kernel), L)``: the sliding blocks (unfold)."""

    __slots__ = ("kernel", "dilation", "padding", "stride")

    def __init__(self, kernel, dilation, padding, stride):
        self.kernel, self.dilation = tuple(kernel), tuple(dilation)
        self.padding, self.stride = tuple(padding), tuple(stride)

    def forward(self, x):
        k, d, p, s = self.kernel, self.dilation, self.padding, self.stride
        out = _blocks(x.shape[2:], k, d, p, s)
        xpad = _pad(x, p, _needed_hi(x.shape[2:], p, out, s, d, k))
        view, _ = _windows(xpad, k, s, d, out, allow_wide=False)
        N, C = x.shape[:2]
        return xp(x).ascontiguousarray(view).reshape(N, C * math.prod(k), math.prod(out))

    def backward(self, gy):
        return Col2Im(self.inputs[0].shape[2:], self.kernel, self.dilation, self.padding,
                      self.stride)(gy)


class Col2Im(Function):
    """``(N, C * prod(kernel), L)`` -> ``(N, C, *size)``: overlapping blocks summed (fold)."""

    __slots__ = ("size", "kernel", "dilation", "padding", "stride")

    def __init__(self, size, kernel, dilation, padding, stride):
        self.size, self.kernel, self.dilation = tuple(size), tuple(kernel), tuple(dilation)
        self.padding, self.stride = tuple(padding), tuple(stride)

    def forward(self, cols):
        k, d, p, s, size = self.kernel, self.dilation, self.padding, self.stride, self.size
        out = _blocks(size, k, d, p, s)
        N, K = cols.shape[0], math.prod(k)
        c = _upcast(cols).reshape(N, cols.shape[1] // K, K, math.prod(out))
        padded = tuple(max((o - 1) * st + dd * (kk - 1) + 1, a + n)
                       for o, st, dd, kk, a, n in zip(out, s, d, k, p, size))
        y = _crop(_col2im(c, k, s, d, _Grid.dense(out), padded), p, size)
        return _finish(y, cols.dtype)

    def backward(self, g):
        return Im2Col(self.kernel, self.dilation, self.padding, self.stride)(g)


def _blocks(size, k, d, p, s):
    return tuple((n + 2 * a - dd * (kk - 1) - 1) // st + 1
                 for n, kk, dd, a, st in zip(size, k, d, p, s))


# =============================================================== validation

_LAYOUTS = {1: "(N, C, L)", 2: "(N, C, H, W)", 3: "(N, C, D, H, W)"}
_KERNEL = {1: "kL", 2: "kH, kW", 3: "kD, kH, kW"}


def _check_tensor(op, name, t):
    if not isinstance(t, TensorLike):
        raise TypeError(f"{op}: {name} must be a tensor, got {type(t).__name__}")


def _ints(op, name, value, nd, minimum):
    """An int or a tuple/list of ``nd`` ints, each >= ``minimum``, as a tuple."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        vals = (int(value),) * nd
    elif isinstance(value, (tuple, list)) and all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value):
        if len(value) != nd:
            raise ShapeError(f"{op}: {name} must be an int or a tuple of {nd} ints, "
                             f"got {tuple(value)!r}")
        vals = tuple(int(v) for v in value)
    else:
        raise TypeError(f"{op}: {name} must be an int or a tuple of {nd} ints, got {value!r}")
    if min(vals) < minimum:
        what = "positive" if minimum == 1 else "non-negative"
        raise ShapeError(f"{op}: {name} must be {what}, got {vals!r}")
    return vals


def _check_groups(op, groups):
    if isinstance(groups, bool) or not isinstance(groups, numbers.Integral):
        raise TypeError(f"{op}: groups must be an int, got {groups!r}")
    if groups < 1:
        raise ShapeError(f"{op}: groups must be positive, got {groups}")
    return int(groups)


def _check_common(op, nd, input, weight, bias, weight_desc):
    _check_tensor(op, "input", input)
    _check_tensor(op, "weight", weight)
    if input.ndim not in (nd + 1, nd + 2):
        raise ShapeError(f"{op}: expected a {nd + 2}-D input {_LAYOUTS[nd]} or {nd + 1}-D "
                         f"unbatched, got shape {tuple(input.shape)}")
    if weight.ndim != nd + 2:
        raise ShapeError(f"{op}: expected a {nd + 2}-D weight ({weight_desc}, {_KERNEL[nd]}), "
                         f"got shape {tuple(weight.shape)}")
    if not is_float(input._data.dtype):
        raise DTypeError(f"{op}: expected a floating-point input, got {input.dtype.name}")
    if weight.dtype != input.dtype:
        raise DTypeError(f"{op}: weight dtype {weight.dtype.name} does not match input dtype "
                         f"{input.dtype.name}")
    if min(weight.shape[2:]) < 1:
        raise ShapeError(f"{op}: kernel size must be positive, got {tuple(weight.shape[2:])}")
    if bias is not None:
        _check_tensor(op, "bias", bias)
        if bias.dtype != input.dtype:
            raise DTypeError(f"{op}: bias dtype {bias.dtype.name} does not match input dtype "
                             f"{input.dtype.name}")


def _check_bias(op, bias, channels):
    if bias is not None and tuple(bias.shape) != (channels,):
        raise ShapeError(f"{op}: expected a bias of shape ({channels},), got shape "
                         f"{tuple(bias.shape)}")


def _batched(input, nd):
    """(input with a batch dim, whether one was added)."""
    if input.ndim == nd + 1:
        return input.unsqueeze(0), True
    return input, False


def _call(fn, x, weight, bias, unbatched):
    y = fn(x, weight) if bias is None else fn(x, weight, bias)
    return y.squeeze(0) if unbatched else y


# ============================================================== public ops


def _conv_nd(op, nd, input, weight, bias, stride, padding, dilation, groups):
    _check_common(op, nd, input, weight, bias, "out_channels, in_channels/groups")
    groups = _check_groups(op, groups)
    stride = _ints(op, "stride", stride, nd, 1)
    dilation = _ints(op, "dilation", dilation, nd, 1)
    out_ch, cig = weight.shape[0], weight.shape[1]
    k = tuple(weight.shape[2:])
    if out_ch % groups:
        raise ShapeError(f"{op}: out_channels {out_ch} (weight.shape[0]) must be divisible "
                         f"by groups={groups}")
    _check_bias(op, bias, out_ch)
    x, unbatched = _batched(input, nd)
    C, size = x.shape[1], tuple(x.shape[2:])
    if C != cig * groups:
        raise ShapeError(f"{op}: input has {C} channels, weight expects {cig * groups} "
                         f"(groups={groups})")
    extent = tuple(d * (kk - 1) + 1 for d, kk in zip(dilation, k))
    if isinstance(padding, str):
        if padding == "valid":
            lo = hi = (0,) * nd
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise ShapeError(f"{op}: padding='same' is not supported for strided "
                                 f"convolutions (stride={stride})")
            lo = tuple((e - 1) // 2 for e in extent)
            hi = tuple(e - 1 - a for e, a in zip(extent, lo))
        else:
            raise ShapeError(f"{op}: padding must be 'valid', 'same', an int or a tuple of "
                             f"{nd} ints, got {padding!r}")
    else:
        lo = hi = _ints(op, "padding", padding, nd, 0)
    padded = tuple(n + a + b for n, a, b in zip(size, lo, hi))
    if any(e > p for e, p in zip(extent, padded)):
        raise ShapeError(f"{op}: kernel size {k} (dilated extent {extent}) is larger than "
                         f"the padded input size {padded}")
    out = tuple((p - e) // s + 1 for p, e, s in zip(padded, extent, stride))
    keep = weight._requires_grad and grad_state.enabled
    return _call(Convolution(stride, dilation, lo, groups, out, keep), x, weight, bias,
                 unbatched)


def _conv_transpose_nd(op, nd, input, weight, bias, stride, padding, output_padding, groups,
                       dilation):
    _check_common(op, nd, input, weight, bias, "in_channels, out_channels/groups")
    groups = _check_groups(op, groups)
    stride = _ints(op, "stride", stride, nd, 1)
    dilation = _ints(op, "dilation", dilation, nd, 1)
    if isinstance(padding, str):
        raise TypeError(f"{op}: padding must be an int or a tuple of {nd} ints, got "
                        f"{padding!r}")
    padding = _ints(op, "padding", padding, nd, 0)
    output_padding = _ints(op, "output_padding", output_padding, nd, 0)
    if any(o >= s and o >= d for o, s, d in zip(output_padding, stride, dilation)):
        raise ShapeError(f"{op}: output_padding {output_padding} must be smaller than either "
                         f"stride {stride} or dilation {dilation} in each dim")
    in_ch, cog = weight.shape[0], weight.shape[1]
    k = tuple(weight.shape[2:])
    x, unbatched = _batched(input, nd)
    C, size = x.shape[1], tuple(x.shape[2:])
    if C != in_ch:
        raise ShapeError(f"{op}: input has {C} channels, weight expects {in_ch} "
                         f"(weight.shape[0], groups={groups})")
    if C % groups:
        raise ShapeError(f"{op}: in_channels {C} must be divisible by groups={groups}")
    _check_bias(op, bias, cog * groups)
    out = tuple((n - 1) * s - 2 * p + d * (kk - 1) + op_ + 1
                for n, s, p, d, kk, op_ in zip(size, stride, padding, dilation, k,
                                               output_padding))
    if min(out) < 1:
        raise ShapeError(f"{op}: output size {out} is not positive (input size {size}, "
                         f"stride {stride}, padding {padding}, dilation {dilation}, kernel {k})")
    return _call(ConvTranspose(stride, dilation, padding, groups, out), x, weight, bias,
                 unbatched)


@op_function
@autocast_op(AUTOCAST_LOWER)
def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution (cross-correlation) of ``(N, C, L)`` (or unbatched ``(C, L)``)
    with ``weight (out, C/groups, kL)``; ``padding`` an int, a tuple, ``"valid"``
    or ``"same"``. As ``torch.nn.functional.conv1d``."""
    return _conv_nd("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


@op_function
@autocast_op(AUTOCAST_LOWER)
def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution of ``(N, C, H, W)`` (or unbatched ``(C, H, W)``) with
    ``weight (out, C/groups, kH, kW)``. As ``torch.nn.functional.conv2d``.

    >>> import flodl_core as fl
    >>> from flodl_core.nn import functional as F
    >>> F.conv2d(fl.ones(1, 1, 4, 4), fl.ones(2, 1, 3, 3), padding=1).shape
    (1, 2, 4, 4)
    """
    return _conv_nd("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


@op_function
@autocast_op(AUTOCAST_LOWER)
def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-D convolution of ``(N, C, D, H, W)`` (or unbatched) with ``weight (out,
    C/groups, kD, kH, kW)``. As ``torch.nn.functional.conv3d``."""
    return _conv_nd("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


@op_function
@autocast_op(AUTOCAST_LOWER)
def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1):
    """Transposed 1-D convolution (the gradient of conv1d in its input) with
    ``weight (in, out/groups, kL)``. As ``torch.nn.functional.conv_transpose1d``."""
    return _conv_transpose_nd("conv_transpose1d", 1, input, weight, bias, stride, padding,
                              output_padding, groups, dilation)


@op_function
@autocast_op(AUTOCAST_LOWER)
def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1):
    """Transposed 2-D convolution with ``weight (in, out/groups, kH, kW)``; output size
    ``(H - 1) * stride - 2 * padding + dilation * (kH - 1) + output_padding + 1``.
    As ``torch.nn.functional.conv_transpose2d``."""
    return _conv_transpose_nd("conv_transpose2d", 2, input, weight, bias, stride, padding,
                              output_padding, groups, dilation)


@op_function
@autocast_op(AUTOCAST_LOWER)
def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1):
    """Transposed 3-D convolution with ``weight (in, out/groups, kD, kH, kW)``.
    As ``torch.nn.functional.conv_transpose3d``."""
    return _conv_transpose_nd("conv_transpose3d", 3, input, weight, bias, stride, padding,
                              output_padding, groups, dilation)


def _pair_args(op, kernel_size, dilation, padding, stride):
    return (_ints(op, "kernel_size", kernel_size, 2, 1), _ints(op, "dilation", dilation, 2, 1),
            _ints(op, "padding", padding, 2, 0), _ints(op, "stride", stride, 2, 1))


@op_function
def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """im2col: the sliding ``kernel_size`` blocks of ``(N, C, H, W)`` (or unbatched
    ``(C, H, W)``) as columns ``(N, C * kH * kW, L)``. As ``torch.nn.functional.unfold``."""
    op = "unfold"
    _check_tensor(op, "input", input)
    if input.ndim not in (3, 4):
        raise ShapeError(f"{op}: expected a 4-D input (N, C, H, W) or 3-D unbatched, got "
                         f"shape {tuple(input.shape)}")
    k, d, p, s = _pair_args(op, kernel_size, dilation, padding, stride)
    x, unbatched = _batched(input, 2)
    size = tuple(x.shape[2:])
    padded = tuple(n + 2 * a for n, a in zip(size, p))
    extent = tuple(dd * (kk - 1) + 1 for dd, kk in zip(d, k))
    if any(e > q for e, q in zip(extent, padded)):
        raise ShapeError(f"{op}: kernel size {k} (dilated extent {extent}) is larger than "
                         f"the padded input size {padded}")
    y = Im2Col(k, d, p, s)(x)
    return y.squeeze(0) if unbatched else y


@op_function
def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """col2im: sum columns ``(N, C * kH * kW, L)`` (or unbatched ``(C * kH * kW, L)``)
    back into ``(N, C, *output_size)``; overlapping blocks add up. As
    ``torch.nn.functional.fold``."""
    op = "fold"
    _check_tensor(op, "input", input)
    if input.ndim not in (2, 3):
        raise ShapeError(f"{op}: expected a 3-D input (N, C * kH * kW, L) or 2-D unbatched, "
                         f"got shape {tuple(input.shape)}")
    size = _ints(op, "output_size", output_size, 2, 1)
    k, d, p, s = _pair_args(op, kernel_size, dilation, padding, stride)
    x = input.unsqueeze(0) if input.ndim == 2 else input
    K = math.prod(k)
    if x.shape[1] % K:
        raise ShapeError(f"{op}: input's dim 1 ({x.shape[1]}) must be divisible by the "
                         f"product of kernel_size {k} ({K})")
    blocks = _blocks(size, k, d, p, s)
    if min(blocks) < 1 or math.prod(blocks) != x.shape[2]:
        n = math.prod(blocks) if min(blocks) >= 1 else 0
        raise ShapeError(f"{op}: input has {x.shape[2]} blocks, but output_size {size} with "
                         f"kernel_size {k}, dilation {d}, padding {p}, stride {s} gives "
                         f"{n} blocks")
    y = Col2Im(size, k, d, p, s)(x)
    return y.squeeze(0) if input.ndim == 2 else y
