"""Dropout as functions: dropout, dropout2d, alpha_dropout (torch.nn.functional).

Masks come from the framework generator of the input's device
(``backend.rng.cpu_generator()`` / ``cuda_generator(i)``), so ``fl.manual_seed``
makes them reproducible. An element is kept when a float32 uniform draw in
[0, 1) is ``>= p`` (probability ``1 - p``); kept values are scaled by
``1 / (1 - p)``. The result is ``input * mask`` (and ``+ shift`` for
alpha_dropout) with the mask a constant, so the gradient is ``gy * mask`` and
every order of derivative works. ``training=False`` (or ``p == 0``) returns the
input itself; ``p == 1`` gives zeros, as in PyTorch.

``inplace`` is accepted for signature compatibility; tensors are immutable, so
the result is always a new tensor (use the return value).
"""
from __future__ import annotations

import contextlib
import math
import numbers

import numpy as np

from ...backend import rng
from ...backend.array_module import device_of
from ...backend.dtype import dtype_of
from ...errors import DTypeError, ShapeError
from ...tensor import Tensor, TensorLike
from ..function import op_function
from ._util import is_float, xp

# SELU's -scale * alpha: the value alpha_dropout drops to (PyTorch's constant).
_ALPHA = 1.7580993408473766

# Test hook: draw masks on the CPU generator whatever the device, so a seeded
# run gives the same mask on every device (used by the op registry).
_host_masks = False


@contextlib.contextmanager
def host_masks():
    """Within this block, dropout masks of every device come from the CPU generator."""
    global _host_masks
    old, _host_masks = _host_masks, True
    try:
        yield
    finally:
        _host_masks = old


def uniform_like(shape, like):
    """Float32 uniforms in [0, 1) of ``shape`` on the device of the array ``like``,
    drawn from the framework generator of that device."""
    m = xp(like)
    if m is np or _host_masks:
        u = rng.cpu_generator().random(shape, dtype=np.float32)
        return u if m is np else m.asarray(u)
    index = device_of(like).index
    with m.cuda.Device(index):
        return rng.cuda_generator(index).random_sample(shape, dtype=np.float32)


def keep_mask(shape, p, like):
    """Bool mask of ``shape``: True (kept) with probability ``1 - p``."""
    return uniform_like(shape, like) >= p


def _check(op, input, p):
    if not isinstance(input, TensorLike):
        raise TypeError(f"{op}: input must be a tensor, got {type(input).__name__}")
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: p must be in [0, 1], got {p}")
    if not is_float(input._data.dtype):
        raise DTypeError(f"{op}: expected a floating-point input, got "
                         f"{dtype_of(input._data.dtype).name}")
    return float(p)


def apply_dropout(x, p, mask_shape=None):
    """``x * mask / (1 - p)`` with a fresh mask (broadcast from ``mask_shape``)."""
    if p == 1.0:
        return x.mul_scalar(0.0)
    d = x._data
    keep = keep_mask(x.shape if mask_shape is None else mask_shape, p, d)
    scale = xp(d).multiply(keep, 1.0 / (1.0 - p), dtype=d.dtype)
    return x * Tensor._wrap(scale)


@op_function
def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability ``p``, scale the rest by ``1 / (1 - p)``."""
    p = _check("dropout", input, p)
    if not training or p == 0.0 or input._data.size == 0:
        return input
    return apply_dropout(input, p)


def _feature_shape(op, input):
    shape = input.shape
    if len(shape) < 2:
        raise ShapeError(f"{op}: feature dropout needs at least 2 dims (N, C, ...), got "
                         f"shape {shape}")
    return shape[:2] + (1,) * (len(shape) - 2)


@op_function
def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels: each (n, c) slice of an (N, C, *) input with
    probability ``p``; kept channels are scaled by ``1 / (1 - p)``. (A 3-D input
    is read as (N, C, L), as PyTorch does today.)"""
    p = _check("dropout2d", input, p)
    mask_shape = _feature_shape("dropout2d", input)
    if not training or p == 0.0 or input._data.size == 0:
        return input
    return apply_dropout(input, p, mask_shape)


@op_function
def alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Dropout that keeps SELU's self-normalising mean and variance: dropped
    elements become ``-alpha' = -1.7581``, then an affine map ``a * x + b``
    restores zero mean and unit variance (PyTorch's formula). Note PyTorch's
    default ``training=False`` for this function."""
    p = _check("alpha_dropout", input, p)
    if not training or p == 0.0 or input._data.size == 0:
        return input
    if p == 1.0:
        return input.mul_scalar(0.0)
    d = input._data
    m = xp(d)
    keep = keep_mask(input.shape, p, d)
    a = 1.0 / math.sqrt((_ALPHA * _ALPHA * p + 1.0) * (1.0 - p))
    mult = m.multiply(keep, a, dtype=d.dtype)
    # kept: a * x + alpha * a * p; dropped: alpha * a * (p - 1)
    shift = m.where(keep, _ALPHA * a * p, _ALPHA * a * (p - 1.0)).astype(d.dtype)
    return input * Tensor._wrap(mult) + Tensor._wrap(shift)


FUNCTIONAL = ["dropout", "dropout2d", "alpha_dropout"]
__all__ = []
