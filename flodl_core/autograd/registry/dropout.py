"""Registry entries: F.dropout, F.dropout2d, F.alpha_dropout.

Each call of the ``op`` reseeds the framework (``fl.manual_seed(0)``) and draws
its mask on the CPU generator whatever the device (``host_masks``), so finite
differences see the same mask every time and the references can rebuild it:
an element (or channel) is kept where ``default_rng(0).random(shape, float32)``
is ``>= p``. Mask statistics and per-device reproducibility are unit-tested in
tests/nn/test_functional_nn.py.
"""
from __future__ import annotations

import math

import numpy as np

from ...backend import rng as _rng
from ...backend.dtype import DType
from ..ops import dropout as D
from . import OpInfo, SampleInput, register
from .samples import noncontig, uniform

ALL_FLOATS = (DType.Float64, DType.Float32, DType.Float16, DType.BFloat16)
HALF_TOL = {DType.Float16: (2e-2, 1e-2), DType.BFloat16: (1e-1, 3e-2)}
_ALPHA = 1.7580993408473766


def _seeded(fn):
    def op(*args, **kwargs):
        _rng.manual_seed(0)
        with D.host_masks():
            return fn(*args, **kwargs)
    return op


def _keep(shape, p):
    return np.random.default_rng(0).random(shape, dtype=np.float32) >= p


def _dropout_ref(x, p=0.5, training=True):
    if not training or p == 0:
        return x
    if p == 1:
        return x * 0.0
    return np.where(_keep(x.shape, p), x / (1.0 - p), 0.0)


def _dropout2d_ref(x, p=0.5, training=True):
    if not training or p == 0:
        return x
    keep = _keep(x.shape[:2] + (1,) * (x.ndim - 2), p)
    return np.where(keep, x / (1.0 - p), 0.0)


def _alpha_dropout_ref(x, p=0.5, training=False):
    if not training or p == 0:
        return x
    if p == 1:
        return x * 0.0
    keep = _keep(x.shape, p)
    a = 1.0 / math.sqrt((_ALPHA ** 2 * p + 1.0) * (1.0 - p))
    return np.where(keep, a * x + _ALPHA * a * p, _ALPHA * a * (p - 1.0))


def _samples(rng, feature=False):
    u = lambda *s: uniform(rng, s)   # noqa: E731
    if feature:
        return [
            SampleInput((u(2, 3, 2, 2),)),
            SampleInput((u(2, 4, 3), 0.25), desc="3-D: (N, C, L)"),
            SampleInput((u(3, 4),), dict(p=0.7), desc="2-D: per element"),
            SampleInput((u(2, 3, 2),), dict(p=0.5, training=False), desc="eval: identity"),
            SampleInput((noncontig(u(2, 3, 2)), 0.4), desc="non-contiguous"),
        ]
    return [
        SampleInput((u(3, 4),)),
        SampleInput((u(2, 3, 2), 0.2)),
        SampleInput((u(4),), dict(p=0.8)),
        SampleInput((u(),), dict(p=0.3), desc="0-d"),
        SampleInput((u(2, 3),), dict(p=0.0), desc="p=0: identity"),
        SampleInput((u(2, 3),), dict(p=1.0), desc="p=1: zeros"),
        SampleInput((u(3, 2), 0.5, False), desc="eval: identity"),
        SampleInput((noncontig(u(3, 2)), 0.4), desc="non-contiguous"),
    ]


def _alpha_samples(rng):
    return [SampleInput(s.args, dict(s.kwargs, training=True), desc=s.desc)
            if len(s.args) < 3 else s for s in _samples(rng)]


register(OpInfo("F.dropout", _samples, _dropout_ref, op=_seeded(D.dropout),
                dtypes=ALL_FLOATS, fwd_tol=HALF_TOL))
register(OpInfo("F.dropout2d", lambda rng: _samples(rng, feature=True), _dropout2d_ref,
                op=_seeded(D.dropout2d), dtypes=ALL_FLOATS, fwd_tol=HALF_TOL))
register(OpInfo("F.alpha_dropout", _alpha_samples, _alpha_dropout_ref,
                op=_seeded(D.alpha_dropout), dtypes=ALL_FLOATS, fwd_tol=HALF_TOL))
