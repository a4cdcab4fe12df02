"""Registry entries: F.layer_norm, F.rms_norm, F.group_norm, F.instance_norm,
F.batch_norm.

References normalise in float64 with NumPy's mean/var. Training-mode samples
pass running statistics through an ``op`` that hands the function fresh copies
(the update writes in place, and the suite checks that inputs are never
mutated); the update itself is checked against a hand computation in
tests/nn/test_functional_nn.py. Eval-mode samples pass the running statistics
as constant inputs.
"""
from __future__ import annotations

import numpy as np

from ...backend.dtype import DType
from ...tensor import Tensor
from ..ops import normalization as N
from . import OpInfo, SampleInput, register
from .samples import noncontig, uniform

ALL_FLOATS = (DType.Float64, DType.Float32, DType.Float16, DType.BFloat16)
HALF_TOL = {DType.Float16: (2e-2, 1e-2), DType.BFloat16: (1e-1, 3e-2)}


def _u(rng, *shape, low=-2.0, high=2.0):
    return uniform(rng, shape, low, high)


def _affine(y, w, b, shape):
    if w is not None:
        y = y * w.reshape(shape)
    if b is not None:
        y = y + b.reshape(shape)
    return y


def _ref_norm(x, axes, eps):
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps)


def _channel_shape(x):
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


# --------------------------------------------------------------- layer_norm


def _ns(normalized_shape):
    return (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)


def _layer_norm_ref(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    ns = _ns(normalized_shape)
    axes = tuple(range(x.ndim - len(ns), x.ndim))
    return _affine(_ref_norm(x, axes, eps), weight, bias, ns)


def _layer_norm_samples(rng):
    u = lambda *s: _u(rng, *s)   # noqa: E731
    return [
        SampleInput((u(2, 3), (3,), u(3), u(3))),
        SampleInput((u(2, 3, 4), (3, 4), u(3, 4), u(3, 4)), desc="two normalized dims"),
        SampleInput((u(4), 4), desc="1-D, int shape, no affine"),
        SampleInput((u(2, 1, 3), [3], u(3)), desc="weight only"),
        SampleInput((u(3, 2), (2,), None, u(2)), kwargs=dict(eps=1e-2), desc="bias only, eps"),
        SampleInput((u(2, 1), (1,)), desc="single-element groups"),
        SampleInput((noncontig(u(3, 4)), (4,), noncontig(u(4)), u(4)), desc="non-contiguous"),
    ]


def _rms_norm_ref(x, normalized_shape, weight=None, eps=None):
    ns = _ns(normalized_shape)
    axes = tuple(range(x.ndim - len(ns), x.ndim))
    if eps is None:   # the machine epsilon of the compute dtype (negligible here)
        eps = float(np.finfo(x.dtype).eps)
    y = x / np.sqrt((x * x).mean(axis=axes, keepdims=True) + eps)
    return _affine(y, weight, None, ns)


def _rms_norm_samples(rng):
    u = lambda *s: _u(rng, *s)   # noqa: E731
    return [
        SampleInput((u(2, 3), (3,), u(3))),
        SampleInput((u(2, 3, 4), (3, 4), u(3, 4)), desc="two normalized dims"),
        SampleInput((u(4), 4), desc="1-D, no weight"),
        SampleInput((u(3, 2), [2], u(2)), kwargs=dict(eps=1e-3), desc="explicit eps"),
        SampleInput((u(2, 1), 1), desc="single element"),
        SampleInput((noncontig(u(3, 4)), (4,), u(4)), desc="non-contiguous"),
    ]


# --------------------------------------------------------------- group_norm


def _group_norm_ref(x, num_groups, weight=None, bias=None, eps=1e-5):
    n, c = x.shape[:2]
    g = x.reshape(n, num_groups, -1)
    y = _ref_norm(g, (2,), eps).reshape(x.shape)
    return _affine(y, weight, bias, _channel_shape(x))


def _group_norm_samples(rng):
    u = lambda *s: _u(rng, *s)   # noqa: E731
    return [
        SampleInput((u(2, 4, 3), 2, u(4), u(4))),
        SampleInput((u(2, 6), 3, u(6), u(6)), desc="no spatial dims"),
        SampleInput((u(1, 4, 2, 2), 4, u(4), u(4)), desc="one channel per group"),
        SampleInput((u(2, 4, 3), 1), desc="one group, no affine"),
        SampleInput((u(2, 2, 1, 3), 2, u(2)), kwargs=dict(eps=1e-3), desc="weight only"),
        SampleInput((noncontig(u(3, 4)), 2, u(4), u(4)), desc="non-contiguous"),
    ]


# ------------------------------------------------------------ instance_norm


def _clone(t):
    return None if t is None else Tensor._wrap(t._data.copy())


def _instance_norm_op(input, running_mean=None, running_var=None, *args, **kwargs):
    if kwargs.get("use_input_stats", True):
        running_mean, running_var = _clone(running_mean), _clone(running_var)
    return N.instance_norm(input, running_mean, running_var, *args, **kwargs)


def _instance_norm_ref(x, running_mean=None, running_var=None, weight=None, bias=None,
                       use_input_stats=True, momentum=0.1, eps=1e-5):
    cs = _channel_shape(x)
    if use_input_stats:
        y = _ref_norm(x, tuple(range(2, x.ndim)), eps)
    else:
        y = (x - running_mean.reshape(cs)) / np.sqrt(running_var.reshape(cs) + eps)
    return _affine(y, weight, bias, cs)


def _stats(rng, c):
    return _u(rng, c, low=-1.0, high=1.0), _u(rng, c, low=0.5, high=2.0)


def _instance_norm_samples(rng):
    u = lambda *s: _u(rng, *s)   # noqa: E731
    rm, rv = _stats(rng, 3)
    return [
        SampleInput((u(2, 3, 4), None, None, u(3), u(3))),
        SampleInput((u(1, 2, 2, 2),), desc="4-D, no affine"),
        SampleInput((u(2, 3, 4), rm, rv, u(3), u(3)), kwargs=dict(momentum=0.2),
                    nondiff=(1, 2), desc="running stats updated"),
        SampleInput((u(2, 3, 2), rm, rv, u(3), u(3)), kwargs=dict(use_input_stats=False),
                    nondiff=(1, 2), desc="running stats used"),
        SampleInput((noncontig(u(1, 3, 2)), None, None, u(3)),
                    kwargs=dict(eps=1e-3), desc="weight only, eps, non-contiguous"),
    ]


# --------------------------------------------------------------- batch_norm


def _batch_norm_op(input, running_mean, running_var, *args, **kwargs):
    if kwargs.get("training", False):
        running_mean, running_var = _clone(running_mean), _clone(running_var)
    return N.batch_norm(input, running_mean, running_var, *args, **kwargs)


def _batch_norm_ref(x, running_mean, running_var, weight=None, bias=None, training=False,
                    momentum=0.1, eps=1e-5):
    cs = _channel_shape(x)
    if training:
        y = _ref_norm(x, (0,) + tuple(range(2, x.ndim)), eps)
    else:
        y = (x - running_mean.reshape(cs)) / np.sqrt(running_var.reshape(cs) + eps)
    return _affine(y, weight, bias, cs)


def _batch_norm_samples(rng):
    u = lambda *s: _u(rng, *s)   # noqa: E731
    rm, rv = _stats(rng, 3)
    rm2, rv2 = _stats(rng, 2)
    train = dict(training=True)
    return [
        SampleInput((u(4, 3), rm, rv, u(3), u(3)), train, nondiff=(1, 2),
                    desc="training (N, C), running stats updated"),
        SampleInput((u(2, 3, 4), None, None, u(3), u(3)), train, desc="training (N, C, L)"),
        SampleInput((u(2, 2, 2, 2), rm2, rv2), dict(training=True, momentum=0.3),
                    nondiff=(1, 2), desc="training 4-D, no affine"),
        SampleInput((u(2, 3, 4), rm, rv, u(3), u(3)), nondiff=(1, 2), desc="eval"),
        SampleInput((u(3, 2), rm2, rv2), dict(eps=1e-3), nondiff=(1, 2),
                    desc="eval, no affine"),
        SampleInput((u(1, 3, 2), rm, rv, None, u(3)), nondiff=(1, 2),
                    desc="eval, one sample, bias only"),
        SampleInput((noncontig(u(3, 2)), None, None, u(2), u(2)), train,
                    desc="training, non-contiguous"),
    ]


register(OpInfo("F.layer_norm", _layer_norm_samples, _layer_norm_ref, op=N.layer_norm,
                dtypes=ALL_FLOATS, fwd_tol=HALF_TOL))
register(OpInfo("F.rms_norm", _rms_norm_samples, _rms_norm_ref, op=N.rms_norm,
                dtypes=ALL_FLOATS, fwd_tol=HALF_TOL))
register(OpInfo("F.group_norm", _group_norm_samples, _group_norm_ref, op=N.group_norm,
                dtypes=ALL_FLOATS, fwd_tol=HALF_TOL))
register(OpInfo("F.instance_norm", _instance_norm_samples, _instance_norm_ref,
                op=_instance_norm_op, dtypes=ALL_FLOATS, fwd_tol=HALF_TOL))
register(OpInfo("F.batch_norm", _batch_norm_samples, _batch_norm_ref, op=_batch_norm_op,
                dtypes=ALL_FLOATS, fwd_tol=HALF_TOL))
