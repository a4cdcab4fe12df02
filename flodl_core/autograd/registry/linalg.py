"""Registry entries: addmm, normalize / F.normalize, cosine_similarity /
F.cosine_similarity, cdist.

Samples keep norms and distances away from 0 (and, for cdist with p < 2 or
p = inf, coordinate differences away from 0 and from ties), where the
functions have kinks. Zero distances and ties are covered in
``tests/autograd/test_rearrange_sort_scatter.py``.
"""
from __future__ import annotations

import numpy as np

from ...backend.dtype import DType
from . import OpInfo, SampleInput, register
from .samples import distinct, noncontig, uniform

ALL_FLOATS = (DType.Float64, DType.Float32, DType.Float16, DType.BFloat16)
HALF_TOL = {DType.Float16: (3e-2, 2e-2), DType.BFloat16: (1.5e-1, 5e-2)}


def _u(rng, shape, nc=False, **kw):
    x = uniform(rng, shape, **kw)
    return noncontig(x) if nc else x


# ------------------------------------------------------------------- addmm

def _addmm_ref(bias, m1, m2, beta=1, alpha=1):
    return (beta * bias if beta else 0) + alpha * (m1 @ m2)


def _addmm_samples(rng):
    def s(bs, n=2, m=3, p=4, nc=False, nondiff=(), desc="", **kw):
        return SampleInput((_u(rng, bs), _u(rng, (n, m), nc), _u(rng, (m, p), nc)), kw,
                           nondiff=nondiff, desc=desc or ("non-contiguous" if nc else ""))
    return [s((2, 4)), s((4,), desc="row bias"), s((2, 1), beta=0.5, alpha=-2.0),
            s((), beta=2, desc="0-d bias"), s((1, 4), alpha=0.25),
            s((2, 4), beta=0, desc="beta 0 ignores bias"),
            s((1, 1), 1, 1, 1), s((3, 2), 3, 2, 2, nc=True),
            s((4,), nondiff=(1,), desc="constant mat1")]


register(OpInfo("addmm", _addmm_samples, _addmm_ref, dtypes=ALL_FLOATS, fwd_tol=HALF_TOL))


# --------------------------------------------------------------- normalize

def _normalize_ref(x, p=2.0, dim=1, eps=1e-12):
    if p == np.inf:
        n = np.abs(x).max(axis=dim, keepdims=True)
    else:
        n = (np.abs(x) ** p).sum(axis=dim, keepdims=True) ** (1.0 / p)
    return x / np.maximum(n, eps)


def _normalize_samples(rng):
    def s(shape, *args, nc=False, desc="", **kw):
        return SampleInput((_u(rng, shape, nc, avoid=(0.0,), margin=0.2),) + args, kw,
                           desc=desc or ("non-contiguous" if nc else ""))
    return [s((2, 3)), s((3, 4), 1.0, 0), s((2, 3, 2), 3.0, -1), s((4,), dim=0),
            s((2, 3), p=4.0, dim=1, eps=1e-6), s((1, 3)), s((3, 1), 2.0, 0),
            s((3, 2), nc=True),
            SampleInput((distinct(rng, (2, 3), 0.3, 2.0),), {"p": float("inf")},
                        desc="inf norm, no ties")]


register(OpInfo("normalize", _normalize_samples, _normalize_ref, dtypes=ALL_FLOATS,
                fwd_tol=HALF_TOL))


def _F_normalize(x, *args, **kwargs):
    from ...nn import functional as F
    return F.normalize(x, *args, **kwargs)


register(OpInfo("F.normalize", lambda rng: _normalize_samples(rng)[:4], _normalize_ref,
                op=_F_normalize, dtypes=ALL_FLOATS, fwd_tol=HALF_TOL))


# ------------------------------------------------------- cosine_similarity

def _cos_ref(x1, x2, dim=1, eps=1e-8):
    x1, x2 = np.broadcast_arrays(x1, x2)
    n1 = np.maximum(np.sqrt((x1 * x1).sum(axis=dim, keepdims=True)), eps)
    n2 = np.maximum(np.sqrt((x2 * x2).sum(axis=dim, keepdims=True)), eps)
    return ((x1 / n1) * (x2 / n2)).sum(axis=dim)


def _cos_samples(rng):
    def s(sa, sb, *args, nc=False, nondiff=(), desc="", **kw):
        return SampleInput((_u(rng, sa, nc, avoid=(0.0,), margin=0.2),
                            _u(rng, sb, nc, avoid=(0.0,), margin=0.2)) + args, kw,
                           nondiff=nondiff, desc=desc or ("non-contiguous" if nc else ""))
    return [s((2, 3), (2, 3)), s((3, 4), (3, 4), 0), s((2, 3, 2), (2, 3, 2), -1),
            s((3,), (2, 3), desc="broadcast"), s((2, 1, 3), (4, 1), dim=2),
            s((4,), (4,), 0, eps=1e-6), s((3, 2), (3, 2), nc=True),
            s((2, 3), (2, 3), nondiff=(1,), desc="constant other")]


register(OpInfo("cosine_similarity", _cos_samples, _cos_ref, dtypes=ALL_FLOATS,
                fwd_tol=HALF_TOL))


def _F_cos(x1, x2, *args, **kwargs):
    from ...nn import functional as F
    return F.cosine_similarity(x1, x2, *args, **kwargs)


register(OpInfo("F.cosine_similarity", lambda rng: _cos_samples(rng)[:4], _cos_ref,
                op=_F_cos, dtypes=ALL_FLOATS, fwd_tol=HALF_TOL))


# ------------------------------------------------------------------- cdist

def _cdist_ref(x1, x2, p=2.0):
    d = np.abs(x1[..., :, None, :] - x2[..., None, :, :])
    if p == 0:
        return (d != 0).sum(-1).astype(x1.dtype)
    if p == np.inf:
        return d.max(-1)
    return (d ** p).sum(-1) ** (1.0 / p)


def _pair(rng, sa, sb, gap=0.15):
    """Points whose coordinate differences are at least ``gap`` from 0 and whose
    largest two |differences| per pair differ by ``gap`` (no kinks, no inf-norm ties)."""
    while True:
        a, b = uniform(rng, sa), uniform(rng, sb)
        d = np.sort(np.abs(a[..., :, None, :] - b[..., None, :, :]), axis=-1)
        if d.min() > gap and (d.shape[-1] < 2 or (d[..., -1] - d[..., -2]).min() > gap):
            return a, b


def _cdist_samples(rng):
    def s(sa, sb, nc=False, nondiff=(), desc="", **kw):
        a, b = _pair(rng, sa, sb)
        if nc:
            a, b = noncontig(a), noncontig(b)
        return SampleInput((a, b), kw, nondiff=nondiff,
                           desc=desc or ("non-contiguous" if nc else ""))
    return [s((3, 2), (2, 2)), s((2, 3), (4, 3), p=1.0), s((2, 2), (3, 2), p=3.0),
            s((2, 2), (2, 2), p=float("inf")), s((2, 2), (3, 2), p=0.5),
            s((2, 2), (2, 2), p=0.0, desc="p=0: zero gradient"),
            s((2, 1, 2, 2), (3, 2, 2), desc="broadcast batch dims"),
            s((1, 3), (2, 3), p=1.5), s((3, 2), (2, 2), nc=True),
            s((2, 2), (3, 2), nondiff=(0,), desc="constant x1")]


register(OpInfo("cdist", _cdist_samples, _cdist_ref, dtypes=ALL_FLOATS,
                fwd_tol={DType.Float16: (5e-2, 2e-2), DType.BFloat16: (3e-1, 5e-2)}))
