"""Registry entries: F.linear, F.bilinear.

References are plain NumPy matrix products / einsum in float64.
"""
from __future__ import annotations

import numpy as np

from ...backend.dtype import DType
from ..ops import linear as L
from . import OpInfo, SampleInput, register
from .samples import noncontig, uniform

ALL_FLOATS = (DType.Float64, DType.Float32, DType.Float16, DType.BFloat16)
HALF_TOL = {DType.Float16: (3e-2, 1e-2), DType.BFloat16: (2e-1, 3e-2)}


def _linear_samples(rng):
    u = lambda *s: uniform(rng, s)   # noqa: E731
    return [
        SampleInput((u(3, 4), u(2, 4), u(2))),
        SampleInput((u(3, 4), u(2, 4)), desc="no bias"),
        SampleInput((u(4), u(3, 4), u(3)), desc="1-D input"),
        SampleInput((u(2, 3, 4), u(5, 4), u(5)), desc="3-D input"),
        SampleInput((u(2, 1, 3), u(2, 3), u(1)), desc="size-1 dim, bias of size 1"),
        SampleInput((u(3, 4), u(4), u()), desc="1-D weight, 0-d bias"),
        SampleInput((u(1, 4), u(1, 4), u(1)), desc="one row, one feature out"),
        SampleInput((noncontig(u(3, 2)), noncontig(u(4, 2)), u(4)), desc="non-contiguous"),
    ]


def _linear_ref(x, w, b=None):
    y = np.matmul(x, w.T)
    return y if b is None else y + b


def _bilinear_samples(rng):
    u = lambda *s: uniform(rng, s)   # noqa: E731
    return [
        SampleInput((u(2, 3), u(2, 2), u(4, 3, 2), u(4))),
        SampleInput((u(2, 3), u(2, 2), u(4, 3, 2)), desc="no bias"),
        SampleInput((u(3), u(2), u(2, 3, 2), u(2)), desc="1-D inputs"),
        SampleInput((u(2, 1, 2), u(2, 1, 3), u(1, 2, 3), u(1)), desc="3-D inputs"),
        SampleInput((noncontig(u(3, 2)), u(3, 2), noncontig(u(2, 2, 2))),
                    desc="non-contiguous"),
    ]


def _bilinear_ref(x1, x2, w, b=None):
    y = np.einsum("...i,oij,...j->...o", x1, w, x2)
    return y if b is None else y + b


register(OpInfo("F.linear", _linear_samples, _linear_ref, op=L.linear, dtypes=ALL_FLOATS,
                fwd_tol=HALF_TOL))
register(OpInfo("F.bilinear", _bilinear_samples, _bilinear_ref, op=L.bilinear,
                dtypes=ALL_FLOATS, fwd_tol=HALF_TOL))
