"""Building blocks for sample inputs.

All arrays are float64 (the suites cast for forward checks in other dtypes).
Kinked ops pass ``avoid`` so no sample lands within ``margin`` of a kink, where
finite differences would straddle it.
"""
from __future__ import annotations

import numpy as np

from . import SampleInput

# Shapes every elementwise op is tried on: 0-d, size-1, vectors, matrices, 3-d.
UNARY_SHAPES = [(), (1,), (4,), (2, 3), (2, 1, 3)]

# Pairs that exercise broadcasting in every direction, including 0-d.
BINARY_SHAPES = [((2, 3), (2, 3)), ((2, 3), (3,)), ((3,), (2, 3)), ((2, 1, 3), (4, 1)),
                 ((), (2, 3)), ((2, 3), ()), ((1,), (3,)), ((2, 3), (1, 3))]


def uniform(rng, shape, low=-2.0, high=2.0, avoid=(), margin=0.1):
    """Uniform values in [low, high), pushed at least ``margin`` away from ``avoid``."""
    x = rng.uniform(low, high, size=shape)
    x = np.asarray(x, dtype=np.float64)
    for k in avoid:
        close = np.abs(x - k) < margin
        x = np.where(close, k + np.where(x >= k, margin, -margin) * 1.5, x)
    return x


def noncontig(x):
    """The same values as ``x`` in a non-contiguous (strided or transposed) view."""
    x = np.asarray(x)
    if x.ndim == 0:
        return x
    if x.ndim == 1:
        wide = np.empty(x.shape[0] * 2, dtype=x.dtype)
        wide[::2] = x
        return wide[::2]
    t = np.ascontiguousarray(np.swapaxes(x, -1, -2))
    return np.swapaxes(t, -1, -2)


def distinct(rng, shape, low=-2.0, high=2.0, gap=0.05):
    """Values with pairwise gaps >= ``gap`` (no ties for max/min/sort style ops)."""
    n = int(np.prod(shape)) if shape else 1
    base = np.linspace(low, high, n) if n > 1 else np.array([0.5 * (low + high)])
    if n > 1 and (high - low) / (n - 1) < gap:
        raise ValueError("range too small for the requested gap")
    return rng.permutation(base).reshape(shape).astype(np.float64)


def unary(rng, low=-2.0, high=2.0, avoid=(), shapes=UNARY_SHAPES, kwargs=None):
    """Samples for a one-input elementwise op, plus one non-contiguous input."""
    kwargs = kwargs or {}
    out = [SampleInput((uniform(rng, s, low, high, avoid),), dict(kwargs)) for s in shapes]
    out.append(SampleInput((noncontig(uniform(rng, (3, 2), low, high, avoid)),), dict(kwargs),
                           desc="non-contiguous"))
    return out


def binary(rng, a_range=(-2.0, 2.0), b_range=(-2.0, 2.0), a_avoid=(), b_avoid=(),
           shapes=BINARY_SHAPES):
    """Samples for a two-input broadcasting op, plus a non-contiguous pair."""
    out = [SampleInput((uniform(rng, sa, *a_range, avoid=a_avoid),
                        uniform(rng, sb, *b_range, avoid=b_avoid))) for sa, sb in shapes]
    out.append(SampleInput((noncontig(uniform(rng, (3, 2), *a_range, avoid=a_avoid)),
                            noncontig(uniform(rng, (3, 2), *b_range, avoid=b_avoid))),
                           desc="non-contiguous"))
    return out
