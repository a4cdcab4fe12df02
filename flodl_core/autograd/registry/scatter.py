"""Registry entries: scatter, scatter_add, index_add (one_hot is not
differentiable; it is covered in ``tests/autograd/test_rearrange_sort_scatter.py``).

Index arrays are int64 constant Tensors. scatter samples never repeat a target
position (PyTorch leaves the winner unspecified); scatter_add and index_add
samples repeat indices so accumulation is checked. Samples with an index
smaller than src check the zero padding of src's gradient.
"""
from __future__ import annotations

import numpy as np

from ...backend.dtype import DType
from . import OpInfo, SampleInput, register
from .samples import noncontig, uniform

ALL_FLOATS = (DType.Float64, DType.Float32, DType.Float16, DType.BFloat16)
HALF_TOL = {DType.Float16: (2e-2, 1e-2), DType.BFloat16: (1e-1, 3e-2)}


def _x(rng, shape, nc=False):
    x = uniform(rng, shape)
    return noncontig(x) if nc else x


def _i(rows):
    return np.array(rows, dtype=np.int64)


def _grid(dim, index):
    """NumPy index tuple addressing ``out[..., index, ...]`` elementwise."""
    key = list(np.indices(index.shape, sparse=True))
    key[dim] = index
    return tuple(key)


def _ref_dim(x, dim):
    return dim % max(x.ndim, 1)


def _scatter_ref(x, dim, index, src=None, value=None):
    src = value if src is None else src
    x1, idx = x.reshape(x.shape or (1,)), index.reshape(index.shape or (1,))
    out = x1.copy()
    d = _ref_dim(x1, dim)
    if isinstance(src, np.ndarray):
        s = src.reshape(src.shape or (1,))
        out[_grid(d, idx)] = s[tuple(slice(0, n) for n in idx.shape)]
    else:
        out[_grid(d, idx)] = src
    return out.reshape(x.shape)


def _scatter_add_ref(x, dim, index, src):
    x1, idx = x.reshape(x.shape or (1,)), index.reshape(index.shape or (1,))
    s = src.reshape(src.shape or (1,))
    out = x1.copy()
    np.add.at(out, _grid(_ref_dim(x1, dim), idx), s[tuple(slice(0, n) for n in idx.shape)])
    return out.reshape(x.shape)


def _index_add_ref(x, dim, index, source, alpha=1):
    x1 = x.reshape(x.shape or (1,))
    out = x1.copy()
    d = _ref_dim(x1, dim)
    np.add.at(out, (slice(None),) * d + (index.reshape(-1),),
              alpha * source.reshape(source.shape or (1,)))
    return out.reshape(x.shape)


def _sc(rng, shape, dim, index, src_shape=None, value=None, nc=False, nondiff=(), desc=""):
    args = (_x(rng, shape, nc), dim, index)
    if src_shape is not None:
        args += (_x(rng, src_shape, nc),)
    kwargs = {} if value is None else {"value": value}
    return SampleInput(args, kwargs, nondiff=nondiff,
                       desc=desc or ("non-contiguous" if nc else ""))


def _scatter_samples(rng):
    return [
        _sc(rng, (3, 4), 0, _i([[2, 0, 1, 1], [0, 1, 2, 0]]), (2, 4)),
        _sc(rng, (3, 4), 1, _i([[3, 0], [1, 2], [0, 3]]), (3, 3), desc="src larger than index"),
        _sc(rng, (3, 4), -1, _i([[1], [3]]), (2, 2), desc="index smaller than self"),
        _sc(rng, (3, 4), 0, _i([[2, 0], [1, 2]]), value=0.75, desc="scalar value"),
        _sc(rng, (4,), 0, _i([3, 0]), (3,)),
        _sc(rng, (2, 3, 2), 1, _i([[[2, 0]], [[0, 1]]]), (2, 2, 2)),
        _sc(rng, (), 0, np.array(0, dtype=np.int64), (), desc="0-d"),
        _sc(rng, (3, 4), 0, _i([[1, 2, 0, 2]]), (1, 4), nondiff=(3,), desc="constant src"),
        _sc(rng, (3, 4), 0, _i([[1, 2, 0, 2]]), (1, 4), nondiff=(0,), desc="constant self"),
        _sc(rng, (3, 2), 0, _i([[2, 0], [0, 1]]), (3, 2), nc=True),
    ]


register(OpInfo("scatter", _scatter_samples, _scatter_ref, dtypes=ALL_FLOATS))


def _scatter_add_samples(rng):
    return [
        _sc(rng, (3, 4), 0, _i([[2, 0, 1, 1], [2, 2, 2, 0]]), (2, 4), desc="repeats"),
        _sc(rng, (3, 4), 1, _i([[3, 3], [1, 2], [0, 0]]), (3, 3), desc="src larger, repeats"),
        _sc(rng, (4,), 0, _i([3, 0, 3, 3]), (4,)),
        _sc(rng, (2, 3, 2), -2, _i([[[2, 2]], [[0, 1]]]), (2, 1, 2)),
        _sc(rng, (), 0, np.array(0, dtype=np.int64), (), desc="0-d"),
        _sc(rng, (3, 4), 0, _i([[1, 1, 0, 2]]), (2, 4), nondiff=(0,), desc="constant self"),
        _sc(rng, (3, 2), 0, _i([[2, 0], [2, 1]]), (3, 2), nc=True),
    ]


register(OpInfo("scatter_add", _scatter_add_samples, _scatter_add_ref, dtypes=ALL_FLOATS,
                fwd_tol=HALF_TOL))


def _ia(rng, shape, dim, index, src_shape, nc=False, nondiff=(), desc="", **kwargs):
    return SampleInput((_x(rng, shape, nc), dim, index, _x(rng, src_shape, nc)), kwargs,
                       nondiff=nondiff, desc=desc or ("non-contiguous" if nc else ""))


def _index_add_samples(rng):
    return [
        _ia(rng, (3, 4), 0, _i([2, 0, 2]), (3, 4), desc="repeats"),
        _ia(rng, (3, 4), 1, _i([3, 3]), (3, 2), alpha=-0.5),
        _ia(rng, (4,), 0, _i([1]), (1,), alpha=2),
        _ia(rng, (2, 3, 2), -1, _i([0, 1, 1]), (2, 3, 3)),
        _ia(rng, (), 0, np.array(0, dtype=np.int64), (), desc="0-d"),
        _ia(rng, (3, 4), 0, _i([1, 1]), (2, 4), nondiff=(0,), alpha=1.5,
            desc="constant self"),
        _ia(rng, (3, 2), 1, _i([1, 0, 1]), (3, 3), nc=True),
    ]


register(OpInfo("index_add", _index_add_samples, _index_add_ref, dtypes=ALL_FLOATS,
                fwd_tol=HALF_TOL))
