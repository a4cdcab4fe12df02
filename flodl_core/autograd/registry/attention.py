"""Registry entry: F.scaled_dot_product_attention.

The reference is a float64 NumPy softmax(Q K^T * scale + mask) V, with rows
whose keys are all masked giving zeros (PyTorch 2.x). The dropout sample
reseeds before each call and draws on the CPU generator (see
registry/dropout.py), so the reference can rebuild its mask.
"""
from __future__ import annotations

import math

import numpy as np

from ...backend import rng as _rng
from ...backend.dtype import DType
from ..ops import attention as A
from ..ops import dropout as D
from . import OpInfo, SampleInput, register
from .samples import noncontig, uniform

ALL_FLOATS = (DType.Float64, DType.Float32, DType.Float16, DType.BFloat16)
HALF_TOL = {DType.Float16: (2e-2, 1e-2), DType.BFloat16: (1e-1, 3e-2)}


def _op(query, key, value, attn_mask=None, **kwargs):
    _rng.manual_seed(0)
    with D.host_masks():
        return A.scaled_dot_product_attention(query, key, value, attn_mask, **kwargs)


def _ref(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
         enable_gqa=False):
    if enable_gqa:
        k = np.repeat(k, q.shape[-3] // k.shape[-3], axis=-3)
        v = np.repeat(v, q.shape[-3] // v.shape[-3], axis=-3)
    L, S = q.shape[-2], k.shape[-2]
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    s = np.matmul(q, np.swapaxes(k, -1, -2)) * scale
    allowed = np.ones(s.shape, dtype=bool)
    if is_causal:
        allowed &= np.tril(np.ones((L, S), dtype=bool))
    if attn_mask is not None:
        if attn_mask.dtype == bool:
            allowed &= attn_mask
        else:
            s = s + attn_mask
    s = np.where(allowed, s, -np.inf)
    alive = np.isfinite(s).any(axis=-1, keepdims=True)
    s = np.where(alive, s, 0.0)
    e = np.where(allowed & np.isfinite(s), np.exp(s - s.max(axis=-1, keepdims=True)), 0.0)
    p = np.where(alive, e / np.where(alive, e.sum(axis=-1, keepdims=True), 1.0), 0.0)
    if dropout_p:
        keep = np.random.default_rng(0).random(p.shape, dtype=np.float32) >= dropout_p
        p = np.where(keep, p / (1.0 - dropout_p), 0.0)
    return np.matmul(p, v)


def _samples(rng):
    u = lambda *s: uniform(rng, s)   # noqa: E731
    mask = np.array([[True, False, True, True], [False, False, False, False],
                     [True, True, False, True]])
    fmask = u(3, 4)
    fmask[1, 2] = -np.inf
    return [
        SampleInput((u(2, 3, 4), u(2, 4, 4), u(2, 4, 3)), desc="3-D"),
        SampleInput((u(1, 2, 3, 2), u(1, 2, 4, 2), u(1, 2, 4, 2)), desc="batch and heads"),
        SampleInput((u(2, 3, 2), u(2, 3, 2), u(2, 3, 2)), dict(is_causal=True),
                    desc="causal"),
        SampleInput((u(3, 2), u(4, 2), u(4, 3)), dict(is_causal=True),
                    desc="causal, L < S (top-left aligned)"),
        SampleInput((u(2, 3, 2), u(2, 4, 2), u(2, 4, 2), mask),
                    desc="bool mask with a fully masked row"),
        SampleInput((u(2, 3, 2), u(2, 4, 2), u(2, 4, 2), fmask), desc="float mask with -inf"),
        SampleInput((u(1, 3, 2), u(1, 3, 2), u(1, 3, 2), u(3, 3)), desc="differentiable mask"),
        SampleInput((u(2, 3, 2), u(1, 4, 2), u(4, 2)), dict(scale=0.7),
                    desc="broadcast batch, explicit scale"),
        SampleInput((u(1, 4, 2, 2), u(1, 2, 3, 2), u(1, 2, 3, 2)), dict(enable_gqa=True),
                    desc="grouped-query heads"),
        SampleInput((u(2, 3, 2), u(2, 4, 2), u(2, 4, 2), mask[:1]),
                    dict(is_causal=True, dropout_p=0.4), desc="mask, causal, dropout"),
        SampleInput((noncontig(u(3, 2)), noncontig(u(3, 2)), noncontig(u(3, 2))),
                    desc="non-contiguous"),
    ]


register(OpInfo("F.scaled_dot_product_attention", _samples, _ref, op=_op, dtypes=ALL_FLOATS,
                fwd_tol=HALF_TOL))
