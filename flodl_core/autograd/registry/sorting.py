"""Registry entries: cumprod, sort, topk.

cumprod samples stay away from 0 (where the gradient is still exact but double
backward is unsupported; zeros are covered in
``tests/autograd/test_rearrange_sort_scatter.py``). sort/topk samples are
tie-free (``distinct``), so the reference order is unique. The entries check the
differentiable ``values`` output; the Int64 indices (constant Tensors) are
compared with PyTorch's in the unit tests.
"""
from __future__ import annotations

import numpy as np

from ...backend.dtype import DType
from . import OpInfo, SampleInput, register
from .samples import distinct, noncontig, uniform

ALL_FLOATS = (DType.Float64, DType.Float32, DType.Float16, DType.BFloat16)
HALF_TOL = {DType.Float16: (2e-2, 1e-2), DType.BFloat16: (1e-1, 3e-2)}


def _s(x, *args, nc=False, desc="", **kwargs):
    return SampleInput(((noncontig(x) if nc else x),) + args, kwargs,
                       desc=desc or ("non-contiguous" if nc else ""))


# ------------------------------------------------------------------ cumprod

def _nonzero(rng, shape):
    return uniform(rng, shape, -1.5, 1.5, avoid=(0.0,), margin=0.3)


def _cumprod_samples(rng):
    cases = [((4,), 0), ((2, 3), 1), ((2, 3), -2), ((1, 3), 0), ((2, 1, 3), -1), ((), 0)]
    out = [_s(_nonzero(rng, shape), dim) for shape, dim in cases]
    out.append(_s(_nonzero(rng, (3, 2)), 0, nc=True))
    return out


register(OpInfo("cumprod", _cumprod_samples, dtypes=ALL_FLOATS, fwd_tol=HALF_TOL,
                ref=lambda x, dim: x if x.ndim == 0 else np.cumprod(x, axis=dim)))


# -------------------------------------------------------------- sort / topk

def _sort_ref(x, dim=-1, descending=False, stable=False):
    if x.ndim == 0:
        return x
    y = np.sort(x, axis=dim)
    return np.flip(y, axis=dim) if descending else y


def _sort_samples(rng):
    return [_s(distinct(rng, (5,))), _s(distinct(rng, (2, 3)), 0),
            _s(distinct(rng, (2, 3)), descending=True),
            _s(distinct(rng, (2, 1, 3)), -2, True, stable=True),
            _s(distinct(rng, (3, 4)), 1, True), _s(distinct(rng, ()), desc="0-d"),
            _s(distinct(rng, (1,))), _s(distinct(rng, (3, 2)), 0, nc=True)]


register(OpInfo("sort", _sort_samples, _sort_ref, dtypes=ALL_FLOATS,
                op=lambda x, *a, **kw: x.sort(*a, **kw)[0]))


def _topk_ref(x, k, dim=-1, largest=True, sorted=True):
    if x.ndim == 0:
        return x
    y = np.sort(x, axis=dim)
    if largest:
        y = np.flip(y, axis=dim)
    return np.take(y, np.arange(k), axis=dim)


def _topk_samples(rng):
    return [_s(distinct(rng, (6,)), 2, desc="partition path"), _s(distinct(rng, (6,)), 6),
            _s(distinct(rng, (2, 4)), 3, 1, False), _s(distinct(rng, (3, 4)), 2, 0),
            _s(distinct(rng, (2, 5)), 1, largest=False, sorted=False),
            _s(distinct(rng, (2, 1, 3)), 1, -2), _s(distinct(rng, (4,)), 0, desc="k=0"),
            _s(distinct(rng, ()), 1, desc="0-d"), _s(distinct(rng, (3, 2)), 2, 0, nc=True)]


register(OpInfo("topk", _topk_samples, _topk_ref, dtypes=ALL_FLOATS,
                op=lambda x, *a, **kw: x.topk(*a, **kw)[0]))
