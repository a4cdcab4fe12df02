"""Registry entries: F.embedding, F.embedding_bag.

Index arrays are integer (constant Tensors) with repeats, so the backward
scatter must accumulate. ``padding_idx`` and ``scale_grad_by_freq`` change the
gradient away from the true derivative (PyTorch's definition), so embedding
samples use them only where that makes no difference (a padding index that
does not occur, unique indices); their effect is unit-tested in
tests/nn/test_functional_nn.py. In embedding_bag, padding entries are left
out of the bags, which *is* the derivative, so they are sampled here. Max-mode
samples use tie-free weights. ``max_norm`` writes into the weight and is
unit-tested only.
"""
from __future__ import annotations

import numpy as np

from ...backend.dtype import DType
from ..ops import embedding as E
from . import OpInfo, SampleInput, register
from .samples import distinct, noncontig, uniform

ALL_FLOATS = (DType.Float64, DType.Float32, DType.Float16, DType.BFloat16)


def _i(*values, dtype=np.int64):
    return np.array(values, dtype=dtype)


def _embedding_samples(rng):
    w = lambda n, d: uniform(rng, (n, d))   # noqa: E731
    return [
        SampleInput((_i([1, 2, 1], [0, 4, 1]), w(5, 3)), desc="2-D indices, repeats"),
        SampleInput((_i(3, 3, 0), w(4, 2)), desc="1-D, repeats"),
        SampleInput((np.array(2), w(3, 2)), desc="0-d index"),
        SampleInput((_i(1, 0, 1, dtype=np.int32), w(2, 3)), desc="Int32 indices"),
        SampleInput((_i([0], [2]), w(3, 1)), dict(padding_idx=1),
                    desc="padding_idx not among the indices"),
        SampleInput((_i(2, 0, 1), w(4, 2)), dict(padding_idx=-1, scale_grad_by_freq=True),
                    desc="negative padding_idx, unique indices scaled by frequency 1"),
        SampleInput((_i(0, 2, 2), noncontig(w(2, 3)).T), desc="non-contiguous weight"),
    ]


def _embedding_ref(input, weight, padding_idx=None, scale_grad_by_freq=False):
    return weight[input]


def _bag_op(input, weight, offsets=None, per_sample_weights=None, **kwargs):
    return E.embedding_bag(input, weight, offsets, per_sample_weights=per_sample_weights,
                           **kwargs)


def _bag_samples(rng):
    w = lambda n, d: uniform(rng, (n, d))   # noqa: E731
    wd = lambda n, d: distinct(rng, (n, d))   # noqa: E731
    flat = _i(1, 2, 0, 2, 4, 3)
    return [
        SampleInput((_i([1, 2, 1], [0, 4, 1]), w(5, 3)), desc="2-D, mean (default)"),
        SampleInput((_i([1, 2, 1], [0, 4, 1]), w(5, 2)), dict(mode="sum"), desc="2-D, sum"),
        SampleInput((_i([1, 2, 3], [0, 4, 1]), wd(5, 2)), dict(mode="max"), desc="2-D, max"),
        SampleInput((flat, w(5, 2), _i(0, 3, 3)), dict(mode="sum"),
                    desc="1-D with offsets, an empty bag"),
        SampleInput((flat, w(5, 2), _i(0, 2)), dict(mode="mean"), desc="offsets, mean"),
        SampleInput((flat, wd(5, 2), _i(0, 3, 3)), dict(mode="max"),
                    desc="offsets, max, empty bag"),
        SampleInput((flat, w(5, 2), _i(0, 1, 6)),
                    dict(mode="mean", include_last_offset=True), desc="include_last_offset"),
        SampleInput((flat, w(5, 2), _i(0, 3, 3), uniform(rng, (6,))), dict(mode="sum"),
                    desc="per_sample_weights"),
        SampleInput((_i([1, 2, 1], [2, 2, 0]), w(3, 2)), dict(mode="mean", padding_idx=2),
                    desc="padding left out of the mean"),
        SampleInput((flat, wd(5, 2), _i(0, 3, 3)), dict(mode="max", padding_idx=4),
                    desc="padding left out of the max"),
        SampleInput((flat, w(5, 2), _i(0, 2, 4), uniform(rng, (6,))),
                    dict(mode="sum", padding_idx=2), desc="per_sample_weights with padding"),
        SampleInput((_i([0, 0]), w(2, 2)), dict(mode="sum", padding_idx=0),
                    desc="every bag empty"),
    ]


def _bag_ref(input, weight, offsets=None, per_sample_weights=None, mode="mean",
             include_last_offset=False, padding_idx=None):
    if input.ndim == 2:
        b, n = input.shape
        starts = list(range(0, b * n, n))
        ends = [s + n for s in starts]
        flat = input.reshape(-1)
    else:
        flat = input
        offs = list(offsets)
        if include_last_offset:
            starts, ends = offs[:-1], offs[1:]
        else:
            starts, ends = offs, offs[1:] + [len(flat)]
    psw = None if per_sample_weights is None else per_sample_weights.reshape(-1)
    out = np.zeros((len(starts), weight.shape[1]))
    for k, (s, e) in enumerate(zip(starts, ends)):
        rows = [j for j in range(s, e) if flat[j] != padding_idx]
        if not rows:
            continue
        vecs = np.stack([weight[flat[j]] * (1.0 if psw is None else psw[j]) for j in rows])
        out[k] = {"sum": vecs.sum(0), "mean": vecs.mean(0), "max": vecs.max(0)}[mode]
    return out


register(OpInfo("F.embedding", _embedding_samples, _embedding_ref, op=E.embedding,
                dtypes=ALL_FLOATS))
register(OpInfo("F.embedding_bag", _bag_samples, _bag_ref, op=_bag_op, dtypes=ALL_FLOATS,
                fwd_tol={DType.Float16: (2e-2, 1e-2), DType.BFloat16: (1e-1, 3e-2)}))
