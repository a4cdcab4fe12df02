"""Registry entries: triu, tril, flip, roll, diagonal, movedim, tile, meshgrid.

All are linear rearrangements, so every dtype is compared exactly and double
backward always works. References are NumPy's own functions (np.triu,
np.flip, np.roll, np.diagonal, np.moveaxis, np.tile, np.meshgrid).
"""
from __future__ import annotations

import numpy as np

from ...backend.dtype import DType
from ...tensor import Tensor
from . import OpInfo, SampleInput, register
from .samples import noncontig, uniform

ALL_FLOATS = (DType.Float64, DType.Float32, DType.Float16, DType.BFloat16)


def _s(rng, shape, *args, nc=False, desc="", **kwargs):
    x = uniform(rng, shape)
    return SampleInput(((noncontig(x) if nc else x),) + args, kwargs,
                       desc=desc or ("non-contiguous" if nc else ""))


# ------------------------------------------------------------- triu / tril

def _tri_samples(rng):
    return [_s(rng, (3, 4)), _s(rng, (3, 4), 1), _s(rng, (4, 3), -1),
            _s(rng, (2, 3, 3), diagonal=2, desc="batched"), _s(rng, (3, 3), 5, desc="all zero"),
            _s(rng, (1, 1), -3), _s(rng, (2, 1, 3), 0), _s(rng, (3, 2), 0, nc=True)]


register(OpInfo("triu", _tri_samples, lambda x, diagonal=0: np.triu(x, diagonal),
                dtypes=ALL_FLOATS))
register(OpInfo("tril", _tri_samples, lambda x, diagonal=0: np.tril(x, diagonal),
                dtypes=ALL_FLOATS))


# -------------------------------------------------------------------- flip

def _flip_ref(x, *dims):
    if len(dims) == 1 and isinstance(dims[0], (list, tuple)):
        dims = tuple(dims[0])
    return np.flip(x, axis=dims) if x.ndim and dims else x


register(OpInfo(
    "flip", dtypes=ALL_FLOATS, ref=_flip_ref,
    sample_inputs=lambda rng: [_s(rng, (3, 4), 0), _s(rng, (3, 4), [0, 1]),
                               _s(rng, (2, 3, 2), -1, 0, desc="varargs"),
                               _s(rng, (4,), (0,)), _s(rng, (), [0], desc="0-d"),
                               _s(rng, (2, 3), [], desc="no dims"),
                               _s(rng, (3, 2), 1, nc=True)]))


# -------------------------------------------------------------------- roll

def _roll_ref(x, shifts, dims=None):
    if dims is None:
        return np.roll(x, shifts[0] if isinstance(shifts, (list, tuple)) else shifts)
    return np.roll(x, shifts, axis=dims)


register(OpInfo(
    "roll", dtypes=ALL_FLOATS, ref=_roll_ref,
    sample_inputs=lambda rng: [_s(rng, (3, 4), 1, desc="flattened"), _s(rng, (3, 4), -5),
                               _s(rng, (3, 4), 2, 1), _s(rng, (3, 4), (1, -3), (0, 1)),
                               _s(rng, (2, 3, 2), [4], [-2]), _s(rng, (), 3, desc="0-d"),
                               _s(rng, (1, 3), 7, 1), _s(rng, (3, 2), 1, 0, nc=True)]))


# ---------------------------------------------------------------- diagonal

register(OpInfo(
    "diagonal", dtypes=ALL_FLOATS,
    ref=lambda x, offset=0, dim1=0, dim2=1: np.diagonal(x, offset, dim1, dim2),
    sample_inputs=lambda rng: [_s(rng, (3, 4)), _s(rng, (3, 4), 1), _s(rng, (3, 4), -2),
                               _s(rng, (4, 3), 2), _s(rng, (2, 3), 5, desc="empty"),
                               _s(rng, (2, 3, 4), 0, 2, 0, desc="dims reversed"),
                               _s(rng, (2, 3, 4), -1, -1, -2), _s(rng, (1, 1)),
                               _s(rng, (3, 2), 0, 1, 0, nc=True)]))


# ----------------------------------------------------------------- movedim

register(OpInfo(
    "movedim", dtypes=ALL_FLOATS,
    ref=lambda x, source, destination: x if x.ndim == 0 else np.moveaxis(x, source,
                                                                          destination),
    sample_inputs=lambda rng: [_s(rng, (2, 3, 4), 0, 2), _s(rng, (2, 3, 4), -1, 0),
                               _s(rng, (2, 3, 4), (0, 1), (2, 0)),
                               _s(rng, (2, 1, 3, 2), [3, 0], [1, 2]), _s(rng, (4,), 0, 0),
                               _s(rng, (), 0, 0, desc="0-d"), _s(rng, (3, 2), 1, 0, nc=True)]))


# -------------------------------------------------------------------- tile

def _tile_ref(x, *dims):
    if len(dims) == 1 and isinstance(dims[0], (list, tuple)):
        dims = tuple(dims[0])
    return np.tile(x, dims)


register(OpInfo(
    "tile", dtypes=ALL_FLOATS, ref=_tile_ref,
    sample_inputs=lambda rng: [_s(rng, (2, 3), (2,), desc="fewer counts than dims"),
                               _s(rng, (2, 3), 2, 1), _s(rng, (2, 3), (1, 2, 2)),
                               _s(rng, (), (3,), desc="0-d"), _s(rng, (3,), [2, 1]),
                               _s(rng, (2,), (0,), desc="zero count"),
                               _s(rng, (3, 2), (2, 2), nc=True)]))


# ---------------------------------------------------------------- meshgrid

def _mesh(rng, shapes, indexing="ij", desc=""):
    return SampleInput(tuple(uniform(rng, s) for s in shapes), {"indexing": indexing},
                       desc=desc)


def _meshgrid_ref(*xs, indexing="ij"):
    return np.meshgrid(*[np.reshape(x, -1) for x in xs], indexing=indexing)


register(OpInfo(
    "meshgrid", dtypes=ALL_FLOATS, ref=_meshgrid_ref,
    op=lambda *xs, indexing="ij": Tensor.meshgrid(*xs, indexing=indexing),
    sample_inputs=lambda rng: [_mesh(rng, [(2,), (3,)]), _mesh(rng, [(2,), (3,)], "xy"),
                               _mesh(rng, [(2,), (), (3,)], "xy", desc="0-d middle"),
                               _mesh(rng, [(4,)], desc="one tensor"),
                               _mesh(rng, [(3,), (2,), (2,)], "ij")]))
