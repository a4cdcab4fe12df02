"""Registry entries: F.max_pool1d, F.max_pool2d, F.avg_pool1d, F.avg_pool2d,
F.adaptive_avg_pool2d, F.adaptive_max_pool2d.

References loop over output positions and window taps (tiny shapes), written
from PyTorch's definitions: output size floor-or-ceil((n + 2p - d(k-1) - 1)/s) + 1
(a ceil-mode window must start inside the input or its left padding), padding
never wins a max, avg divisors per ``count_include_pad`` / ``divisor_override``,
adaptive windows [floor(i*n/o), ceil((i+1)*n/o)). Max pools get tie-free inputs
(``distinct``); ties, NaN and error messages are in tests/nn/test_pool_resample.py.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from ...backend.dtype import DType
from ..ops import pool as P
from . import OpInfo, SampleInput, register
from .samples import distinct, noncontig, uniform

ALL_FLOATS = (DType.Float64, DType.Float32, DType.Float16, DType.BFloat16)


def _tup(v, n):
    if isinstance(v, (list, tuple)):
        return tuple(v) * n if len(v) == 1 else tuple(v)
    return (v,) * n


def _pool_geometry(x, nsp, kernel_size, stride, padding, dilation, ceil_mode):
    k = _tup(kernel_size, nsp)
    s = k if stride is None else _tup(stride, nsp)
    p = _tup(padding, nsp)
    d = _tup(dilation, nsp)
    sizes = x.shape[-nsp:]
    outs = []
    for n, kk, ss, pp, dd in zip(sizes, k, s, p, d):
        num = n + 2 * pp - dd * (kk - 1) - 1
        o = (math.ceil(num / ss) if ceil_mode else math.floor(num / ss)) + 1
        if ceil_mode and (o - 1) * ss >= n + pp:
            o -= 1
        outs.append(o)
    return k, s, p, d, sizes, tuple(outs)


def _planes(x, nsp):
    """Every leading (batch, channel) index of ``x``."""
    return list(itertools.product(*(range(n) for n in x.shape[:x.ndim - nsp])))


def _max_pool_ref(nsp):
    def ref(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
            return_indices=False):
        k, s, p, d, sizes, outs = _pool_geometry(x, nsp, kernel_size, stride, padding,
                                                 dilation, ceil_mode)
        out = np.zeros(x.shape[:x.ndim - nsp] + outs)
        idx = np.zeros(out.shape, dtype=np.int64)
        for lead in _planes(x, nsp):
            for o in itertools.product(*(range(n) for n in outs)):
                best, where = -np.inf, None
                for tap in itertools.product(*(range(kk) for kk in k)):
                    pos = tuple(oo * ss - pp + t * dd
                                for oo, ss, pp, t, dd in zip(o, s, p, tap, d))
                    if all(0 <= q < n for q, n in zip(pos, sizes)):
                        v = x[lead + pos]
                        if where is None or v > best:
                            best, where = v, pos
                out[lead + o] = best
                idx[lead + o] = np.ravel_multi_index(where, sizes)
        return (out, idx) if return_indices else out
    return ref


def _avg_pool_ref(nsp):
    def ref(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
            divisor_override=None):
        k, s, p, _, sizes, outs = _pool_geometry(x, nsp, kernel_size, stride, padding, 1,
                                                 ceil_mode)
        out = np.zeros(x.shape[:x.ndim - nsp] + outs)
        for lead in _planes(x, nsp):
            for o in itertools.product(*(range(n) for n in outs)):
                total, real, padded = 0.0, 1, 1
                lo_hi = []
                for oo, ss, pp, kk, n in zip(o, s, p, k, sizes):
                    start = oo * ss - pp
                    end = min(start + kk, n + pp)
                    padded *= end - start
                    lo_hi.append((max(start, 0), min(end, n)))
                    real *= min(end, n) - max(start, 0)
                for pos in itertools.product(*(range(a, b) for a, b in lo_hi)):
                    total += x[lead + pos]
                div = divisor_override or (padded if count_include_pad else real)
                out[lead + o] = total / div
        return out
    return ref


def _adaptive_windows(n, o):
    return [(i * n // o, -(-(i + 1) * n // o)) for i in range(o)]


def _adaptive_ref(kind):
    def ref(x, output_size, return_indices=False):
        sizes = x.shape[-2:]
        outs = _tup(output_size, 2)
        outs = tuple(n if oo is None else oo for oo, n in zip(outs, sizes))
        wins = [_adaptive_windows(n, oo) for n, oo in zip(sizes, outs)]
        out = np.zeros(x.shape[:-2] + outs)
        idx = np.zeros(out.shape, dtype=np.int64)
        for lead in _planes(x, 2):
            for i, j in itertools.product(range(outs[0]), range(outs[1])):
                (h0, h1), (w0, w1) = wins[0][i], wins[1][j]
                block = x[lead + (slice(h0, h1), slice(w0, w1))]
                if kind == "avg":
                    out[lead + (i, j)] = block.mean()
                else:
                    r, c = np.unravel_index(np.argmax(block), block.shape)
                    out[lead + (i, j)] = block[r, c]
                    idx[lead + (i, j)] = (h0 + r) * sizes[1] + (w0 + c)
        return (out, idx) if kind == "max" and return_indices else out
    return ref


def _d(rng, shape, nc=False):
    x = distinct(rng, shape)
    return noncontig(x) if nc else x


def _u(rng, shape, nc=False):
    x = uniform(rng, shape)
    return noncontig(x) if nc else x


def _s(x, *args, desc="", **kwargs):
    return SampleInput((x,) + args, kwargs, desc=desc)


# ---------------------------------------------------------------- max pools

def _max_pool1d_samples(rng):
    return [
        _s(_d(rng, (2, 2, 6)), 2),
        _s(_d(rng, (1, 2, 7)), 3, stride=2, padding=1),
        _s(_d(rng, (1, 2, 7)), 2, stride=2, ceil_mode=True, desc="ceil_mode overhang"),
        _s(_d(rng, (1, 2, 8)), 2, stride=1, dilation=3, desc="dilation"),
        _s(_d(rng, (3, 6)), 3, 1, 1, desc="unbatched"),
        _s(_d(rng, (2, 2, 5)), 2, return_indices=True, desc="indices"),
        _s(_d(rng, (2, 5), nc=True), [2], [1], desc="non-contiguous"),
    ]


def _max_pool2d_samples(rng):
    return [
        _s(_d(rng, (2, 2, 4, 4)), 2),
        _s(_d(rng, (1, 2, 5, 5)), 3, stride=2, padding=1),
        _s(_d(rng, (1, 1, 5, 6)), (2, 3), stride=(2, 1), padding=(1, 0), desc="rectangular"),
        _s(_d(rng, (1, 2, 5, 5)), 2, stride=2, ceil_mode=True, desc="ceil_mode overhang"),
        _s(_d(rng, (1, 1, 6, 6)), 2, stride=1, dilation=2, desc="dilation, overlapping"),
        _s(_d(rng, (2, 4, 5)), 2, 1, desc="unbatched, stride 1"),
        _s(_d(rng, (1, 2, 4, 5)), 2, padding=1, return_indices=True, desc="indices, padding"),
        _s(_d(rng, (1, 2, 4, 4), nc=True), 2, desc="non-contiguous"),
        _s(_d(rng, (1, 1, 3, 3)), 1, desc="kernel 1"),
    ]


register(OpInfo("F.max_pool1d", _max_pool1d_samples, _max_pool_ref(1), dtypes=ALL_FLOATS,
                op=P.max_pool1d))
register(OpInfo("F.max_pool2d", _max_pool2d_samples, _max_pool_ref(2), dtypes=ALL_FLOATS,
                op=P.max_pool2d))


# ---------------------------------------------------------------- avg pools

def _avg_pool1d_samples(rng):
    return [
        _s(_u(rng, (2, 2, 6)), 2),
        _s(_u(rng, (1, 2, 7)), 3, stride=2, padding=1),
        _s(_u(rng, (1, 2, 7)), 3, stride=2, padding=1, count_include_pad=False,
           desc="count_include_pad False"),
        _s(_u(rng, (1, 2, 6)), 3, stride=2, padding=1, ceil_mode=True, desc="ceil overhang"),
        _s(_u(rng, (3, 5)), 2, 1, desc="unbatched, overlapping"),
        _s(_u(rng, (2, 5), nc=True), 2, desc="non-contiguous"),
    ]


def _avg_pool2d_samples(rng):
    return [
        _s(_u(rng, (2, 2, 4, 4)), 2),
        _s(_u(rng, (1, 2, 5, 5)), 3, stride=2, padding=1),
        _s(_u(rng, (1, 2, 5, 5)), 3, stride=2, padding=1, count_include_pad=False,
           desc="count_include_pad False"),
        _s(_u(rng, (1, 1, 5, 4)), 3, stride=2, padding=1, ceil_mode=True,
           desc="ceil overhang, padding"),
        _s(_u(rng, (1, 1, 5, 6)), (2, 3), stride=(1, 2), desc="rectangular, overlapping"),
        _s(_u(rng, (1, 2, 4, 4)), 2, divisor_override=3, desc="divisor_override"),
        _s(_u(rng, (2, 4, 5)), 2, desc="unbatched"),
        _s(_u(rng, (1, 2, 4, 4), nc=True), 2, 1, desc="non-contiguous"),
    ]


register(OpInfo("F.avg_pool1d", _avg_pool1d_samples, _avg_pool_ref(1), dtypes=ALL_FLOATS,
                op=P.avg_pool1d))
register(OpInfo("F.avg_pool2d", _avg_pool2d_samples, _avg_pool_ref(2), dtypes=ALL_FLOATS,
                op=P.avg_pool2d))


# ------------------------------------------------------------ adaptive pools

def _adaptive_samples(gen):
    def samples(rng):
        return [
            _s(gen(rng, (1, 2, 4, 6)), 2, desc="divides evenly"),
            _s(gen(rng, (1, 2, 5, 7)), 3, desc="overlapping windows"),
            _s(gen(rng, (1, 1, 5, 4)), (3, None), desc="None keeps a dim"),
            _s(gen(rng, (1, 1, 2, 3)), (3, 5), desc="output larger than input"),
            _s(gen(rng, (2, 5, 4)), (2, 3), desc="unbatched, mixed even and uneven"),
            _s(gen(rng, (1, 2, 4, 5), nc=True), (3, 2), desc="non-contiguous"),
        ]
    return samples


def _adaptive_max_samples(rng):
    out = _adaptive_samples(_d)(rng)
    out.append(_s(_d(rng, (1, 2, 5, 4)), 3, return_indices=True, desc="indices"))
    return out


register(OpInfo("F.adaptive_avg_pool2d", _adaptive_samples(_u), _adaptive_ref("avg"),
                dtypes=ALL_FLOATS, op=P.adaptive_avg_pool2d))
register(OpInfo("F.adaptive_max_pool2d", _adaptive_max_samples, _adaptive_ref("max"),
                dtypes=ALL_FLOATS, op=P.adaptive_max_pool2d))
