"""Registry entries: getitem, narrow, select, unbind, index_select, gather,
masked_select, cat, cat_many, stack, split, chunk, repeat, pad.

Index arrays are int64 (they become constant Tensors); samples repeat indices
so the scatter-type backwards must accumulate. Joining ops take their tensors
as separate arguments (gradcheck perturbs top-level Variables only) and the
``op`` lambda gathers them into the list the public API expects.
"""
from __future__ import annotations

import numpy as np

from ...backend.dtype import DType
from ...tensor import Tensor
from . import OpInfo, SampleInput, register
from .samples import noncontig, uniform

ALL_FLOATS = (DType.Float64, DType.Float32, DType.Float16, DType.BFloat16)


def _x(rng, shape, nc=False):
    x = uniform(rng, shape)
    return noncontig(x) if nc else x


def _s(rng, shape, *args, nc=False, desc="", **kwargs):
    return SampleInput((_x(rng, shape, nc),) + args, kwargs, desc=desc)


def _i(*values):
    return np.array(values, dtype=np.int64)


# ------------------------------------------------------------------ getitem

def _getitem_samples(rng):
    s = slice
    return [
        _s(rng, (4,), 2, desc="int on 1-D gives 0-d"),
        _s(rng, (3, 4), -1),
        _s(rng, (3, 4), (s(None), 1)),
        _s(rng, (1, 3), (0, s(None)), desc="size-1 dim"),
        _s(rng, (4, 5), (s(None, None, -1), s(1, None, 2)), desc="negative step"),
        _s(rng, (4, 5), (s(3, 0, -2), None, Ellipsis), desc="negative step, None, Ellipsis"),
        _s(rng, (2, 3, 4), (Ellipsis, 1)),
        _s(rng, (2, 3, 4), (None, 0, Ellipsis, s(None, None, -1))),
        _s(rng, (), None, desc="0-d with None"),
        _s(rng, (), Ellipsis, desc="0-d with Ellipsis"),
        _s(rng, (4, 3), _i(0, 2, 2, 0, 3), desc="int64 tensor key, repeats"),
        _s(rng, (4,), _i(-1, -1, 0), desc="negative array indices"),
        _s(rng, (4, 3), (s(None), [2, 2, 0]), desc="list key, repeats"),
        _s(rng, (3, 4), (_i(0, 2, 2), _i(1, 1, 3)), desc="paired arrays, repeated pairs"),
        _s(rng, (2, 3, 4), (s(None), np.array([[0, 1], [2, 2]], dtype=np.int64), s(1, 3)),
           desc="2-D index array between slices"),
        _s(rng, (2, 3, 4), (_i(1, 0, 1), s(None), _i(3, 3, 0)),
           desc="separated advanced indices"),
        _s(rng, (3, 4), rng.uniform(size=(3, 4)) > 0.4, desc="full bool mask"),
        _s(rng, (3, 4), np.array([True, False, True]), desc="row bool mask"),
        _s(rng, (2, 3, 4), (Ellipsis, np.array([False, True, True, False])), desc="mask after ..."),
        _s(rng, (3, 2), _i(1, 1, 0), nc=True, desc="non-contiguous"),
        _s(rng, (3, 2), (s(None, None, -1), 1), nc=True, desc="non-contiguous, basic"),
    ]


register(OpInfo("getitem", _getitem_samples, lambda x, key: x[key], dtypes=ALL_FLOATS))


# ------------------------------------------------------------ narrow/select

def _narrow_ref(x, dim, start, length):
    start = start % x.shape[dim] if start < 0 else start
    return np.take(x, np.arange(start, start + length), axis=dim)


register(OpInfo(
    "narrow", dtypes=ALL_FLOATS,
    sample_inputs=lambda rng: [_s(rng, (3, 4), 1, 1, 2), _s(rng, (3, 4), -1, 0, 4),
                               _s(rng, (3, 4), 0, -2, 2), _s(rng, (4,), 0, 3, 1),
                               _s(rng, (1, 3), 0, 0, 1), _s(rng, (4,), 0, 1, 0),
                               _s(rng, (3, 2), 0, 1, 2, nc=True)],
    ref=_narrow_ref))

register(OpInfo(
    "select", dtypes=ALL_FLOATS,
    sample_inputs=lambda rng: [_s(rng, (3, 4), 0, 1), _s(rng, (3, 4), -1, -1),
                               _s(rng, (4,), 0, 2, desc="1-D gives 0-d"),
                               _s(rng, (1, 3), 0, 0), _s(rng, (2, 3, 2), 1, 2),
                               _s(rng, (3, 2), 1, 0, nc=True)],
    ref=lambda x, dim, index: np.take(x, index, axis=dim)))

register(OpInfo(
    "unbind", dtypes=ALL_FLOATS,
    sample_inputs=lambda rng: [_s(rng, (3, 2)), _s(rng, (2, 3), -1), _s(rng, (1,)),
                               _s(rng, (3, 2), 1, nc=True)],
    ref=lambda x, dim=0: [np.take(x, i, axis=dim) for i in range(x.shape[dim])]))


# ------------------------------------------------------ index_select/gather

register(OpInfo(
    "index_select", dtypes=ALL_FLOATS,
    sample_inputs=lambda rng: [
        _s(rng, (3, 4), 0, _i(2, 0, 2), desc="repeats"),
        _s(rng, (3, 4), -1, _i(3, 3, 1, 0, 3), desc="negative dim, repeats"),
        _s(rng, (4,), 0, _i(1)),
        _s(rng, (1, 3), 0, _i(0, 0), desc="size-1 dim"),
        _s(rng, (2, 3, 2), 1, _i(2, 0)),
        _s(rng, (3, 2), 1, _i(1, 0, 1), nc=True, desc="non-contiguous")],
    ref=lambda x, dim, index: np.take(x, index, axis=dim)))


def _gather_ref(x, dim, index):
    crop = tuple(slice(None) if d == dim % x.ndim else slice(0, n)
                 for d, n in enumerate(index.shape))
    return np.take_along_axis(x[crop], index, axis=dim)


register(OpInfo(
    "gather", dtypes=ALL_FLOATS,
    sample_inputs=lambda rng: [
        _s(rng, (3, 4), 1, rng.integers(0, 4, size=(3, 5)).astype(np.int64), desc="repeats"),
        _s(rng, (3, 4), 0, rng.integers(0, 3, size=(2, 4)).astype(np.int64)),
        _s(rng, (3, 4), -1, _i(0, 0, 3, 3).reshape(2, 2), desc="smaller index, repeats"),
        _s(rng, (4,), 0, _i(3, 1, 1, 0, 2, 3)),
        _s(rng, (1, 3), 1, _i(2, 2).reshape(1, 2), desc="size-1 dim"),
        _s(rng, (2, 3, 2), 1, _i(0, 2, 2, 1, 0, 0).reshape(2, 3, 1)),
        _s(rng, (3, 2), 0, _i(2, 0, 1, 1).reshape(2, 2), nc=True, desc="non-contiguous")],
    ref=_gather_ref))


# ------------------------------------------------------------ masked_select

def _b(*rows):
    return np.array(rows, dtype=bool)


def _masked_select_samples(rng):
    m23 = _b([True, False, True], [False, True, True])
    return [
        _s(rng, (2, 3), m23, desc="same shape"),
        _s(rng, (2, 3), _b(False, True, True), desc="broadcast mask"),
        _s(rng, (2, 3), _b([True], [False]), desc="broadcast size-1 mask dim"),
        _s(rng, (3,), m23, desc="broadcast input"),
        _s(rng, (2, 1), _b(True, False, True), desc="both broadcast"),
        _s(rng, (2, 3), np.zeros((2, 3), dtype=bool), desc="all False: empty result"),
        _s(rng, (), np.array(True), desc="0-d"),
        _s(rng, (3, 2), _b([True, False], [True, True], [False, True]), nc=True,
           desc="non-contiguous input"),
        _s(rng, (2, 3), noncontig(_b([True, False, True], [True, True, False])),
           desc="non-contiguous mask"),
    ]


def _masked_select_ref(x, mask):
    shape = np.broadcast_shapes(x.shape, mask.shape)
    xb, mb = np.broadcast_to(x, shape), np.broadcast_to(mask, shape)
    picked = [xb[i] for i in np.ndindex(*shape) if mb[i]]       # row-major walk
    return np.array(picked, dtype=x.dtype).reshape(len(picked))


register(OpInfo("masked_select", _masked_select_samples, _masked_select_ref,
                dtypes=ALL_FLOATS))


# ------------------------------------------------------------- cat / stack

def _join(rng, shapes, dim, nc=False, nondiff=(), desc=""):
    return SampleInput(tuple(_x(rng, s, nc) for s in shapes), {"dim": dim},
                       nondiff=nondiff, desc=desc)


def _cat_samples(rng):
    return [_join(rng, [(2, 3), (2, 1), (2, 4)], -1, desc="3 inputs, negative dim"),
            _join(rng, [(1, 3), (2, 3)], 0, desc="method with one other"),
            _join(rng, [(2,), (3,), (1,)], 0),
            _join(rng, [(2, 1, 2), (2, 2, 2), (2, 1, 2)], 1),
            _join(rng, [(3, 2), (3, 2), (3, 2)], 1, nc=True, desc="non-contiguous"),
            _join(rng, [(2, 2), (1, 2), (2, 2)], 0, nondiff=(1,), desc="constant middle")]


def _cat_op(*xs, dim=0):
    if len(xs) == 2:
        return xs[0].cat(xs[1], dim)
    return xs[0].cat(list(xs[1:]), dim)


register(OpInfo("cat", _cat_samples, lambda *xs, dim=0: np.concatenate(xs, dim),
                op=_cat_op, dtypes=ALL_FLOATS))

register(OpInfo(
    "cat_many",
    sample_inputs=lambda rng: [_join(rng, [(2, 3), (2, 1), (2, 4)], 1),
                               _join(rng, [(2,), (1,), (3,)], -1),
                               _join(rng, [(3, 2), (3, 2)], 0, nc=True)],
    ref=lambda *xs, dim=0: np.concatenate(xs, dim),
    op=lambda *xs, dim=0: Tensor.cat_many(list(xs), dim), dtypes=ALL_FLOATS))

register(OpInfo(
    "stack",
    sample_inputs=lambda rng: [_join(rng, [(2, 3)] * 3, 0, desc="3 inputs"),
                               _join(rng, [(2, 3)] * 3, -1),
                               _join(rng, [(2, 3)] * 2, 1),
                               _join(rng, [()] * 3, 0, desc="0-d inputs"),
                               _join(rng, [(1,)] * 2, -2),
                               _join(rng, [(3, 2)] * 3, 2, nc=True, desc="non-contiguous")],
    ref=lambda *xs, dim=0: np.stack(xs, dim),
    op=lambda *xs, dim=0: Tensor.stack(list(xs), dim), dtypes=ALL_FLOATS))


# ------------------------------------------------------------ split / chunk

def _split_ref(x, sizes, dim=0):
    n = x.shape[dim]
    if isinstance(sizes, int):
        sizes = [sizes] * (n // sizes) + ([n % sizes] if n % sizes else [])
    return np.split(x, np.cumsum(sizes)[:-1], axis=dim)


def _chunk_ref(x, chunks, dim=0):
    return _split_ref(x, -(-x.shape[dim] // chunks), dim)


register(OpInfo(
    "split", dtypes=ALL_FLOATS,
    sample_inputs=lambda rng: [_s(rng, (5, 3), 2), _s(rng, (5, 3), [1, 4]),
                               _s(rng, (2, 6), [2, 0, 4], -1, desc="empty section"),
                               _s(rng, (4,), 4), _s(rng, (1, 3), 1, 0),
                               _s(rng, (3, 4), 3, 1, nc=True)],
    ref=_split_ref))

register(OpInfo(
    "chunk", dtypes=ALL_FLOATS,
    sample_inputs=lambda rng: [_s(rng, (5, 3), 2), _s(rng, (5, 3), 4, desc="3 pieces"),
                               _s(rng, (2, 6), 3, -1), _s(rng, (1,), 2),
                               _s(rng, (3, 4), 2, 1, nc=True)],
    ref=_chunk_ref))


# ------------------------------------------------------------- repeat / pad

register(OpInfo(
    "repeat", dtypes=ALL_FLOATS,
    sample_inputs=lambda rng: [_s(rng, (2, 3), 2, 1), _s(rng, (2, 3), 1, 2, 3),
                               _s(rng, (), 3, desc="0-d"), _s(rng, (3,), 2, 2),
                               _s(rng, (1, 2), 3, 1), _s(rng, (2,), 0, desc="zero repeats"),
                               _s(rng, (3, 2), 2, 2, nc=True)],
    ref=lambda x, *sizes: np.tile(x, sizes)))


def _pad_ref(x, pad, value=0.0):
    pairs = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        pairs[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    crop = tuple(slice(max(-b, 0), n - max(-a, 0)) for n, (b, a) in zip(x.shape, pairs))
    return np.pad(x[crop], [(max(b, 0), max(a, 0)) for b, a in pairs], constant_values=value)


register(OpInfo(
    "pad", dtypes=ALL_FLOATS,
    sample_inputs=lambda rng: [_s(rng, (2, 3), (1, 2)),
                               _s(rng, (2, 3), (1, 0, 0, 2), value=0.5),
                               _s(rng, (2, 3), (-1, 1), desc="negative crops"),
                               _s(rng, (3, 4), (1, -2, -1, 2), value=-1.0),
                               _s(rng, (4,), (2, 1)), _s(rng, (1, 3), (1, 1, 1, 1)),
                               _s(rng, (2, 2, 3), (0, 0, 1, 0, 0, 1)),
                               _s(rng, (3, 2), (1, 1), nc=True, desc="non-contiguous")],
    ref=_pad_ref))
