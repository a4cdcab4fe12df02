"""Gradient clipping: by total norm and by value.

Gradients are replaced by clipped copies, never scaled in place: the engine may
share one gradient array between several parameters (or with a Tensor the caller
holds), so an in-place scale could apply twice or change someone else's data.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.variable import Variable
from ..backend.array_module import xp_of
from ..errors import OptimizerError
from .optimizer import as_param_list


class NonFiniteNormError(OptimizerError, RuntimeError):
    """``error_if_nonfinite=True`` with a NaN/Inf total norm. PyTorch raises
    RuntimeError there; this is also flodl's usual ValueError (OptimizerError)."""


def _with_grads(params) -> list:
    return [p for p in as_param_list(params) if p._grad is not None]


def _norm(g, norm_type: float) -> float:
    """The ``norm_type``-norm of one gradient, accumulated in at least float32."""
    xp = xp_of(g)
    if g.dtype.itemsize < 4:                    # float16 / bfloat16: widen first
        g = g.astype(np.float32)
    if g.size == 0:
        return 0.0
    if norm_type == 2.0:
        flat = g.reshape(-1)
        return math.sqrt(float(xp.dot(flat, flat)))    # one BLAS pass
    a = xp.abs(g)
    if norm_type == math.inf:
        return float(a.max())
    if norm_type == -math.inf:
        return float(a.min())
    if norm_type == 0:
        return float(xp.count_nonzero(a))
    return float((a ** norm_type).sum()) ** (1.0 / norm_type)


def _combine(norms: list, norm_type: float) -> float:
    """The norm of the per-tensor norms (PyTorch's definition), which is the norm of
    all values together except for norm_type 0."""
    if not norms:
        return 0.0
    if norm_type in (math.inf, -math.inf):
        if any(math.isnan(n) for n in norms):
            return math.nan     # as PyTorch; Python's max/min would skip a NaN not first
        return max(norms) if norm_type > 0 else min(norms)
    if norm_type == 0:
        # PyTorch takes the 0-"norm" of the per-tensor norms too: the number of
        # gradients with any nonzero (or NaN) value, not the count of such values.
        return float(sum(1 for n in norms if n != 0))
    return sum(n ** norm_type for n in norms) ** (1.0 / norm_type)


def clip_grad_norm(params, max_norm: float, norm_type: float = 2.0,
                   error_if_nonfinite: bool = False) -> float:
    """Scale all gradients together so their total norm is at most ``max_norm``.

    Returns the total norm before clipping (as ``torch.nn.utils.clip_grad_norm_``,
    whose semantics this follows): the gradients are multiplied by
    ``min(1, max_norm / (total + 1e-6))``. When the total norm is NaN or infinite,
    ``error_if_nonfinite=True`` raises an error that is both a ValueError and
    (PyTorch's type) a RuntimeError, and leaves the gradients alone;
    otherwise the multiplication happens anyway (an infinite norm zeroes the finite
    gradients, a NaN norm makes them NaN), exactly as PyTorch does.

    ``params`` is an iterable of Parameters or a Module; parameters without a
    gradient are skipped. ``norm_type`` may be any positive number, ``inf``, or 0
    (as in PyTorch, the 0-norm counts the gradients that have a nonzero value).
    """
    norm_type = float(norm_type)
    if norm_type < 0 and norm_type != -math.inf:
        raise OptimizerError(f"clip_grad_norm: norm_type must be >= 0, inf or -inf, got {norm_type}")
    if not max_norm >= 0:
        raise OptimizerError(f"clip_grad_norm: max_norm must be >= 0, got {max_norm}")
    params = _with_grads(params)
    total = _combine([_norm(p.grad_array(), norm_type) for p in params], norm_type)
    if not math.isfinite(total):
        if error_if_nonfinite:
            raise NonFiniteNormError(f"clip_grad_norm: the total {norm_type}-norm of the "
                                     f"gradients of {len(params)} parameter(s) is {total}; "
                                     f"pass error_if_nonfinite=False to clip anyway")
    coef = max_norm / (total + 1e-6)
    if coef < 1.0 or math.isnan(coef):
        for p in params:
            _scale_grad(p, coef)
    return total


def _scale_grad(p, coef: float) -> None:
    g = p._grad
    if type(g) is Variable:                   # a grad with history (create_graph)
        p._grad = g * coef
    else:
        # In the gradient's dtype, as PyTorch's in-place multiply would.
        p._grad = xp_of(g).multiply(g, g.dtype.type(coef))


def clip_grad_value(params, clip_value: float) -> float:
    """Clamp every gradient value to ``[-clip_value, clip_value]``.

    Returns the largest absolute gradient value seen before clipping (0.0 when no
    parameter has a gradient). NaN gradient values stay NaN, as in PyTorch.
    """
    if not clip_value >= 0:
        raise OptimizerError(f"clip_grad_value: clip_value must be >= 0, got {clip_value}")
    largest = 0.0
    for p in _with_grads(params):
        g = p._grad
        if type(g) is Variable:
            if g._data.size:
                largest = _max_nan(largest, float(xp_of(g._data).abs(g._data).max()))
            p._grad = g.clamp(-clip_value, clip_value)
        elif g.size:
            xp = xp_of(g)
            largest = _max_nan(largest, float(xp.abs(g).max()))
            p._grad = xp.clip(g, -clip_value, clip_value)
    return largest


def _max_nan(a: float, b: float) -> float:
    """max that lets NaN through (Python's max(0.0, nan) would hide it), and keeps
    it once seen (a later finite or infinite value must not replace it)."""
    return a if math.isnan(a) or b <= a else b
