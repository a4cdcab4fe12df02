"""Registry entries: reshape/view, squeeze, unsqueeze, flatten, transpose, t,
permute, expand/broadcast_to, sum_to."""
from __future__ import annotations

import numpy as np

from ...backend.dtype import DType
from . import OpInfo, SampleInput, register
from .samples import noncontig, uniform

ALL_FLOATS = (DType.Float64, DType.Float32, DType.Float16, DType.BFloat16)


def _s(rng, shape, *args, nc=False, **kwargs):
    x = uniform(rng, shape)
    return SampleInput((noncontig(x) if nc else x,) + args, kwargs)


register(OpInfo(
    "reshape", aliases=("view",), dtypes=ALL_FLOATS,
    sample_inputs=lambda rng: [_s(rng, (2, 3), (3, 2)), _s(rng, (2, 3), (-1,)),
                               _s(rng, (), (1, 1)), _s(rng, (1,), ()),
                               _s(rng, (2, 3, 2), (4, -1), nc=True)],
    ref=lambda x, shape: x.reshape(shape)))

register(OpInfo(
    "squeeze", dtypes=ALL_FLOATS,
    sample_inputs=lambda rng: [_s(rng, (2, 1, 3)), _s(rng, (2, 1, 3), 1), _s(rng, (2, 1, 3), 0),
                               _s(rng, (1, 1)), _s(rng, (1, 3), -2), _s(rng, ())],
    ref=lambda x, dim=None: (np.squeeze(x) if dim is None else
                             np.squeeze(x, dim) if x.ndim and x.shape[dim] == 1 else x)))

register(OpInfo(
    "unsqueeze", dtypes=ALL_FLOATS,
    sample_inputs=lambda rng: [_s(rng, (2, 3), 0), _s(rng, (2, 3), 2), _s(rng, (2, 3), -1),
                               _s(rng, (), 0), _s(rng, (3, 2), 1, nc=True)],
    ref=lambda x, dim: np.expand_dims(x, dim)))

register(OpInfo(
    "flatten", dtypes=ALL_FLOATS,
    sample_inputs=lambda rng: [_s(rng, (2, 3, 2)), _s(rng, (2, 3, 2), 1),
                               _s(rng, (2, 3, 2, 2), 1, 2), _s(rng, ()), _s(rng, (3, 2), nc=True)],
    ref=lambda x, s=0, e=-1: (x.reshape(1) if x.ndim == 0 else
                              x.reshape(x.shape[:s % x.ndim] + (-1,) + x.shape[e % x.ndim + 1:]))))

register(OpInfo(
    "transpose", dtypes=ALL_FLOATS,
    sample_inputs=lambda rng: [_s(rng, (2, 3), 0, 1), _s(rng, (2, 3, 4), -1, 0),
                               _s(rng, (2, 3), 1, 1), _s(rng, (3, 2), 0, 1, nc=True)],
    ref=lambda x, a, b: np.swapaxes(x, a, b)))

register(OpInfo(
    "t", dtypes=ALL_FLOATS,
    sample_inputs=lambda rng: [_s(rng, (2, 3)), _s(rng, (3,)), _s(rng, (3, 2), nc=True)],
    ref=lambda x: x.T))

register(OpInfo(
    "permute", dtypes=ALL_FLOATS,
    sample_inputs=lambda rng: [_s(rng, (2, 3, 4), 2, 0, 1), _s(rng, (2, 3), -1, 0),
                               _s(rng, (), ), _s(rng, (3, 2), 1, 0, nc=True)],
    ref=lambda x, *dims: np.transpose(x, dims) if dims else x))

register(OpInfo(
    "expand", aliases=("broadcast_to",), dtypes=ALL_FLOATS,
    sample_inputs=lambda rng: [_s(rng, (3,), 2, 3), _s(rng, (2, 1), 2, 4),
                               _s(rng, (2, 1), -1, 3), _s(rng, (), 2, 2),
                               _s(rng, (1, 3), 2, 2, 3), _s(rng, (3, 1), 3, 2, nc=True)],
    ref=lambda x, *shape: np.broadcast_to(x, tuple(
        x.shape[i - (len(shape) - x.ndim)] if s == -1 else s for i, s in enumerate(shape)))))

register(OpInfo(
    "sum_to", dtypes=ALL_FLOATS,
    sample_inputs=lambda rng: [_s(rng, (2, 3), 3), _s(rng, (2, 3), 1, 3), _s(rng, (2, 3), 2, 1),
                               _s(rng, (2, 3)), _s(rng, (4, 2, 3), 2, 1), _s(rng, (3, 2), 1, 2, nc=True)],
    ref=lambda x, *shape: _sum_to(x, shape),
    fwd_tol={DType.BFloat16: (1e-1, 5e-2)}))


def _sum_to(x, shape):
    lead = x.ndim - len(shape)
    y = x.sum(axis=tuple(range(lead))) if lead else x
    axes = tuple(i for i, s in enumerate(shape) if s == 1 and y.shape[i] != 1)
    return y.sum(axis=axes, keepdims=True) if axes else y
