"""Registry entries: conv1d/2d/3d, conv_transpose1d/2d/3d, unfold, fold.

Samples stay tiny (gradcheck builds full Jacobians) and cover stride > 1,
padding, dilation, groups=2, padding="same" (even kernels pad more after),
unbatched inputs, non-contiguous inputs and weights, with and without bias,
and reach the wide-grid and strided im2col and both conv_transpose algorithms
(flipped convolution, col2im). Being tiny they all take the whole-batch GEMM;
``tests/nn/test_conv_errors.py`` forces every path of ``ops/conv.py`` on larger
shapes and compares them.

The references are written independently of the ops: explicit loops over
output (or input) positions on a zero-padded copy.
"""
from __future__ import annotations

import itertools

import numpy as np

from ...backend.dtype import DType
from ..ops import conv as C
from . import OpInfo, SampleInput, register
from .samples import noncontig, uniform

ALL_FLOATS = (DType.Float64, DType.Float32, DType.Float16, DType.BFloat16)
# Sums of a few dozen products of values in [-1, 1): half inputs are rounded first.
CONV_TOL = {DType.Float32: (1e-4, 1e-4), DType.Float16: (2e-2, 1e-2),
            DType.BFloat16: (1.5e-1, 3e-2)}


def _tup(v, n):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * n


# ----------------------------------------------------------------- references


def _ref_conv(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    nd = w.ndim - 2
    unbatched = x.ndim == nd + 1
    if unbatched:
        x = x[None]
    k = w.shape[2:]
    s, d = _tup(stride, nd), _tup(dilation, nd)
    if padding == "valid":
        pads = [(0, 0)] * nd
    elif padding == "same":
        total = [dd * (kk - 1) for dd, kk in zip(d, k)]
        pads = [(t // 2, t - t // 2) for t in total]
    else:
        pads = [(p, p) for p in _tup(padding, nd)]
    xpad = np.pad(x, [(0, 0), (0, 0)] + pads)
    out = [(xpad.shape[2 + i] - d[i] * (k[i] - 1) - 1) // s[i] + 1 for i in range(nd)]
    N, O = x.shape[0], w.shape[0]
    cg, og = w.shape[1], O // groups
    y = np.zeros((N, O, *out))
    for pos in itertools.product(*map(range, out)):
        window = tuple(slice(p * st, p * st + dd * (kk - 1) + 1, dd)
                       for p, st, dd, kk in zip(pos, s, d, k))
        for g in range(groups):
            patch = xpad[(slice(None), slice(g * cg, (g + 1) * cg)) + window]   # (N, cg, *k)
            wg = w[g * og:(g + 1) * og]                                          # (og, cg, *k)
            for o in range(og):
                y[(slice(None), g * og + o) + pos] = (patch * wg[o]).reshape(N, -1).sum(1)
    if b is not None:
        y = y + b.reshape((1, -1) + (1,) * nd)
    return y[0] if unbatched else y


def _ref_conv_transpose(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1,
                        dilation=1):
    nd = w.ndim - 2
    unbatched = x.ndim == nd + 1
    if unbatched:
        x = x[None]
    k = w.shape[2:]
    s, p, op, d = (_tup(v, nd) for v in (stride, padding, output_padding, dilation))
    N, Ci = x.shape[:2]
    cig, cog = Ci // groups, w.shape[1]
    I = x.shape[2:]
    full = [(I[i] - 1) * s[i] + d[i] * (k[i] - 1) + 1 + op[i] for i in range(nd)]
    y = np.zeros((N, cog * groups, *full))
    for pos in itertools.product(*map(range, I)):
        window = tuple(slice(q * st, q * st + dd * (kk - 1) + 1, dd)
                       for q, st, dd, kk in zip(pos, s, d, k))
        for g in range(groups):
            for ci in range(g * cig, (g + 1) * cig):
                xv = x[(slice(None), ci) + pos]                       # (N,)
                contrib = xv.reshape((N,) + (1,) * (nd + 1)) * w[ci]  # (N, cog, *k)
                y[(slice(None), slice(g * cog, (g + 1) * cog)) + window] += contrib
    out = [full[i] - 2 * p[i] for i in range(nd)]
    y = y[(slice(None), slice(None)) + tuple(slice(p[i], p[i] + out[i]) for i in range(nd))]
    if b is not None:
        y = y + b.reshape((1, -1) + (1,) * nd)
    return y[0] if unbatched else y


def _ref_unfold(x, kernel_size, dilation=1, padding=0, stride=1):
    unbatched = x.ndim == 3
    if unbatched:
        x = x[None]
    k, d, p, s = (_tup(v, 2) for v in (kernel_size, dilation, padding, stride))
    xpad = np.pad(x, [(0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])])
    oh = (xpad.shape[2] - d[0] * (k[0] - 1) - 1) // s[0] + 1
    ow = (xpad.shape[3] - d[1] * (k[1] - 1) - 1) // s[1] + 1
    N, Cc = x.shape[:2]
    cols = np.zeros((N, Cc * k[0] * k[1], oh * ow))
    for i in range(oh):
        for j in range(ow):
            blk = xpad[:, :, i * s[0]:i * s[0] + d[0] * (k[0] - 1) + 1:d[0],
                       j * s[1]:j * s[1] + d[1] * (k[1] - 1) + 1:d[1]]
            cols[:, :, i * ow + j] = blk.reshape(N, -1)
    return cols[0] if unbatched else cols


def _ref_fold(cols, output_size, kernel_size, dilation=1, padding=0, stride=1):
    unbatched = cols.ndim == 2
    if unbatched:
        cols = cols[None]
    size, k, d, p, s = (_tup(v, 2) for v in (output_size, kernel_size, dilation, padding,
                                              stride))
    N, CK = cols.shape[:2]
    Cc = CK // (k[0] * k[1])
    H, W = size[0] + 2 * p[0], size[1] + 2 * p[1]
    oh = (H - d[0] * (k[0] - 1) - 1) // s[0] + 1
    ow = (W - d[1] * (k[1] - 1) - 1) // s[1] + 1
    y = np.zeros((N, Cc, H, W))
    for i in range(oh):
        for j in range(ow):
            y[:, :, i * s[0]:i * s[0] + d[0] * (k[0] - 1) + 1:d[0],
              j * s[1]:j * s[1] + d[1] * (k[1] - 1) + 1:d[1]] += \
                cols[:, :, i * ow + j].reshape(N, Cc, k[0], k[1])
    y = y[:, :, p[0]:p[0] + size[0], p[1]:p[1] + size[1]]
    return y[0] if unbatched else y


# -------------------------------------------------------------------- samples


def _u(rng, *shape, nc=False):
    a = uniform(rng, shape, -1.0, 1.0)
    return noncontig(a) if nc else a


def _conv_sample(rng, xs, ws, bias=True, nc=False, desc="", **kw):
    args = (_u(rng, *xs, nc=nc), _u(rng, *ws, nc=nc))
    if bias:
        args += (_u(rng, ws[0]),)
    return SampleInput(args, kw, desc=desc)


def _convt_sample(rng, xs, ws, groups=1, bias=True, nc=False, desc="", **kw):
    args = (_u(rng, *xs, nc=nc), _u(rng, *ws, nc=nc))
    if bias:
        args += (_u(rng, ws[1] * groups),)
    if groups != 1:
        kw["groups"] = groups
    return SampleInput(args, kw, desc=desc)


def _conv1d_samples(rng):
    s = _conv_sample
    return [
        s(rng, (1, 2, 5), (2, 2, 2)),
        s(rng, (2, 1, 7), (2, 1, 3), stride=2, padding=1, dilation=2, desc="stride, pad, dil"),
        s(rng, (1, 4, 4), (4, 2, 2), groups=2, desc="groups=2"),
        s(rng, (1, 1, 5), (1, 1, 4), bias=False, padding="same", desc="same, even kernel"),
        s(rng, (2, 5), (3, 2, 3), padding=1, desc="unbatched"),
        s(rng, (1, 3, 4), (2, 3, 2), nc=True, padding="valid", desc="non-contiguous"),
        s(rng, (1, 1, 4), (3, 1, 2), bias=False, desc="out > 2 * in channels"),
    ]


def _conv2d_samples(rng):
    s = _conv_sample
    return [
        s(rng, (1, 2, 4, 4), (2, 2, 2, 2)),
        s(rng, (1, 1, 5, 5), (2, 1, 3, 3), stride=2, padding=1, desc="stride 2, pad 1"),
        s(rng, (1, 1, 5, 4), (2, 1, 2, 2), bias=False, stride=(2, 1), padding=(1, 0),
          dilation=(1, 2), desc="per-dim stride, pad, dilation"),
        s(rng, (1, 4, 3, 3), (4, 2, 2, 2), groups=2, desc="groups=2"),
        s(rng, (1, 1, 4, 4), (1, 1, 2, 2), padding="same", desc="same, even kernel"),
        s(rng, (1, 1, 4, 5), (2, 1, 2, 3), bias=False, padding="same", dilation=(2, 1),
          desc="same, dilated"),
        s(rng, (2, 3, 3), (2, 2, 2, 2), padding=1, desc="unbatched"),
        s(rng, (1, 2, 4, 3), (2, 2, 2, 2), nc=True, desc="non-contiguous input and weight"),
        s(rng, (2, 1, 3, 3), (3, 1, 2, 2), bias=False, desc="out > 2 * in channels"),
        s(rng, (1, 3, 3, 3), (2, 3, 1, 1), desc="1x1 kernel"),
    ]


def _conv3d_samples(rng):
    s = _conv_sample
    return [
        s(rng, (1, 2, 3, 3, 3), (2, 2, 2, 2, 2)),
        s(rng, (1, 1, 4, 3, 3), (2, 1, 2, 2, 2), bias=False, stride=(2, 1, 1), padding=1,
          dilation=(1, 2, 1), desc="stride, pad, dilation"),
        s(rng, (1, 2, 2, 3, 3), (2, 1, 1, 2, 2), groups=2, padding="same", desc="groups, same"),
        s(rng, (1, 2, 3, 3), (1, 1, 2, 2, 2), desc="unbatched"),
    ]


def _convt1d_samples(rng):
    s = _convt_sample
    return [
        s(rng, (1, 2, 4), (2, 2, 2)),
        s(rng, (2, 1, 3), (1, 2, 3), stride=2, padding=1, output_padding=1,
          desc="stride, pad, output_padding"),
        s(rng, (1, 2, 3), (2, 1, 2), bias=False, dilation=2, output_padding=1,
          desc="dilation, output_padding < dilation"),
        s(rng, (1, 4, 3), (4, 1, 2), groups=2, desc="groups=2"),
        s(rng, (2, 4), (2, 1, 3), padding=1, desc="unbatched"),
        s(rng, (1, 3, 3), (3, 1, 2), nc=True, desc="in > 2 * out channels, non-contiguous"),
    ]


def _convt2d_samples(rng):
    s = _convt_sample
    return [
        s(rng, (1, 2, 3, 3), (2, 2, 2, 2)),
        s(rng, (1, 1, 2, 3), (1, 2, 3, 3), stride=2, padding=1, output_padding=(1, 0),
          desc="stride 2, pad 1, output_padding"),
        s(rng, (1, 2, 3, 2), (2, 1, 2, 2), bias=False, stride=(1, 2), dilation=(2, 1),
          desc="per-dim stride and dilation"),
        s(rng, (1, 4, 2, 2), (4, 1, 2, 2), groups=2, padding=(0, 1), desc="groups=2"),
        s(rng, (2, 2, 3), (2, 1, 2, 2), desc="unbatched"),
        s(rng, (1, 3, 3, 2), (3, 1, 2, 2), nc=True, desc="in > 2 * out channels, non-contiguous"),
    ]


def _convt3d_samples(rng):
    s = _convt_sample
    return [
        s(rng, (1, 2, 2, 2, 2), (2, 1, 2, 2, 2)),
        s(rng, (1, 1, 2, 2, 2), (1, 1, 2, 2, 2), bias=False, stride=2, padding=(1, 0, 0),
          output_padding=(1, 0, 1), desc="stride 2, pad, output_padding"),
        s(rng, (2, 2, 2, 2), (2, 1, 2, 1, 2), desc="unbatched"),
    ]


def _unfold_samples(rng):
    return [
        SampleInput((_u(rng, 1, 2, 3, 4), 2)),
        SampleInput((_u(rng, 2, 1, 4, 4), (2, 3)), dict(dilation=(1, 2), padding=1, stride=2),
                    desc="dilation, padding, stride"),
        SampleInput((_u(rng, 2, 3, 3), 2), dict(stride=(1, 2)), desc="unbatched"),
        SampleInput((_u(rng, 1, 2, 3, 4, nc=True), 2), dict(padding=(0, 1)),
                    desc="non-contiguous"),
    ]


def _fold_sample(rng, lead, size, k, nc=False, desc="", **kw):
    """Columns of the right length for ``size`` (``lead``: (N, C) or (C,))."""
    kk = _tup(k, 2)
    d, p, s = (_tup(kw.get(n, dflt), 2) for n, dflt in (("dilation", 1), ("padding", 0),
                                                          ("stride", 1)))
    L = 1
    for i in range(2):
        L *= (size[i] + 2 * p[i] - d[i] * (kk[i] - 1) - 1) // s[i] + 1
    shape = lead[:-1] + (lead[-1] * kk[0] * kk[1], L)
    return SampleInput((_u(rng, *shape, nc=nc), size, k), kw, desc=desc)


def _fold_samples(rng):
    f = _fold_sample
    return [
        f(rng, (1, 2), (3, 4), 2, desc="overlapping blocks"),
        f(rng, (2, 1), (4, 5), (2, 3), dilation=(1, 2), padding=1, stride=2,
          desc="dilation, padding, stride"),
        f(rng, (1,), (3, 3), 2, desc="unbatched"),
        f(rng, (1, 1), (3, 4), 2, nc=True, padding=(1, 0), stride=2, desc="non-contiguous"),
    ]


for _name, _samples, _ref in [
        ("conv1d", _conv1d_samples, _ref_conv),
        ("conv2d", _conv2d_samples, _ref_conv),
        ("conv3d", _conv3d_samples, _ref_conv),
        ("conv_transpose1d", _convt1d_samples, _ref_conv_transpose),
        ("conv_transpose2d", _convt2d_samples, _ref_conv_transpose),
        ("conv_transpose3d", _convt3d_samples, _ref_conv_transpose),
        ("unfold", _unfold_samples, _ref_unfold),
        ("fold", _fold_samples, _ref_fold)]:
    register(OpInfo(f"F.{_name}", _samples, _ref, op=getattr(C, _name), dtypes=ALL_FLOATS,
                    fwd_tol=CONV_TOL))
