"""Attention: scaled_dot_product_attention (torch.nn.functional semantics).

One fused Function, :class:`Attention`:

    scores = (query * scale) @ key^T  (+ float mask)  (-inf where the bool or
    causal mask is False);  out = dropout(softmax(scores, -1)) @ value

The forward works in place on the scores buffer and keeps the attention
weights; the plain backward is four batched matmuls plus the softmax
gradient, in place. Under ``create_graph=True`` the backward formulas are
rebuilt from framework ops (matmul, masked_fill, softmax), so double backward
works. Measured on CPU against the same computation composed from those ops:
about 1.2x faster without a mask and 1.5x with a causal mask (forward +
backward, (8, 8, 128, 64) float32), and no slower on tiny shapes.

Batch and head dims broadcast as in matmul. A query row whose keys are all
masked out gives zeros (and zero gradients), as PyTorch 2.x does, not NaN.
Half types compute in float32.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ...backend.dtype import dtype_of
from ...errors import DTypeError, ShapeError
from ...tensor import Tensor, TensorLike
from ..function import AUTOCAST_LOWER, Function, autocast_op, op_function
from ..grad_mode import state
from ..variable import Variable
from ._util import compute_dtype, is_float, xp
from .dropout import keep_mask

_make = Variable._make


def _arr(a, dtype):
    return a if a.dtype == dtype else a.astype(dtype)


def _broadcast_shape(op, a, b):
    try:
        return tuple(np.broadcast_shapes(tuple(a), tuple(b)))
    except ValueError:
        raise ShapeError(f"{op}: attn_mask shape {tuple(a)} does not broadcast to the "
                         f"attention scores' shape {tuple(b)}") from None


def _repeat_heads(op, t, name, hq):
    hk = t.shape[-3]
    if hq % hk:
        raise ShapeError(f"{op}: enable_gqa needs the query heads ({hq}) to be a multiple of "
                         f"the {name} heads ({hk})")
    if hk == hq:
        return t
    m = xp(t._data)
    return t.index_select(-3, Tensor._wrap(m.repeat(m.arange(hk), hq // hk)))


@op_function
@autocast_op(AUTOCAST_LOWER)
def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, enable_gqa=False):
    """``softmax(query @ key^T * scale + mask) @ value`` over (..., L, E) queries,
    (..., S, E) keys and (..., S, Ev) values.

    ``attn_mask``: a Bool tensor (True = the key takes part) or a float tensor
    added to the scores, broadcasting to (..., L, S). ``is_causal``: query i sees
    keys 0..i (top-left aligned when L != S); combined with ``attn_mask`` when
    both are given. ``scale`` defaults to ``1 / sqrt(E)``. ``dropout_p`` drops
    attention weights with the framework RNG. ``enable_gqa`` repeats the key and
    value heads (dim -3) to match the query's.
    """
    op = "scaled_dot_product_attention"
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, TensorLike):
            raise TypeError(f"{op}: {name} must be a tensor, got {type(t).__name__}")
        if not is_float(t._data.dtype):
            raise DTypeError(f"{op}: {name} must be a floating-point tensor, got "
                             f"{dtype_of(t._data.dtype).name}")
        if t.ndim < 2:
            raise ShapeError(f"{op}: {name} must have at least 2 dims (..., seq, features), "
                             f"got shape {t.shape}")
    if not query.dtype == key.dtype == value.dtype:
        raise DTypeError(f"{op}: query, key and value must share one dtype, got "
                         f"{query.dtype.name}, {key.dtype.name} and {value.dtype.name}")
    if query.shape[-1] != key.shape[-1]:
        raise ShapeError(f"{op}: query and key must have the same last dim, got shapes "
                         f"{query.shape} and {key.shape}")
    if key.shape[-2] != value.shape[-2]:
        raise ShapeError(f"{op}: key and value must have the same sequence length (dim -2), "
                         f"got shapes {key.shape} and {value.shape}")
    if isinstance(dropout_p, bool) or not isinstance(dropout_p, numbers.Real) \
            or not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"{op}: dropout_p must be in [0, 1], got {dropout_p}")
    if enable_gqa:
        if query.ndim < 3 or key.ndim < 3 or value.ndim < 3:
            raise ShapeError(f"{op}: enable_gqa needs a heads dim (-3) in query, key and value")
        hq = query.shape[-3]
        key = _repeat_heads(op, key, "key", hq)
        value = _repeat_heads(op, value, "value", hq)
    L, S, E = query.shape[-2], key.shape[-2], query.shape[-1]
    if scale is None:
        scale = 1.0 / math.sqrt(E) if E else 1.0
    elif isinstance(scale, bool) or not isinstance(scale, numbers.Real):
        raise TypeError(f"{op}: scale must be a number or None, got {type(scale).__name__}")
    m = xp(query._data)
    s_shape = np.broadcast_shapes(query.shape[:-2], key.shape[:-2]) + (L, S)
    keep = m.tril(m.ones((L, S), dtype=bool)) if is_causal else None
    fmask = None
    if attn_mask is not None:
        if not isinstance(attn_mask, TensorLike):
            raise TypeError(f"{op}: attn_mask must be a tensor or None, got "
                            f"{type(attn_mask).__name__}")
        _broadcast_shape(op, attn_mask.shape, s_shape)
        md = attn_mask._data
        if md.dtype == np.bool_:
            keep = md if keep is None else m.logical_and(md, keep)
        elif is_float(md.dtype):
            fmask = attn_mask
        else:
            raise DTypeError(f"{op}: attn_mask must be Bool or floating-point, got "
                             f"{dtype_of(md.dtype).name}")
        s_shape = np.broadcast_shapes(s_shape, attn_mask.shape)
    drop = None if keep is None else m.logical_not(keep)
    dropscale = None
    if dropout_p > 0.0:
        kept = keep_mask(s_shape, float(dropout_p), query._data)
        cd = compute_dtype(query._data)
        dropscale = m.multiply(kept, 1.0 / (1.0 - dropout_p), dtype=cd) \
            if dropout_p < 1.0 else m.zeros(s_shape, dtype=cd)
    fn = Attention(float(scale), drop, dropscale)
    return fn(query, key, value) if fmask is None else fn(query, key, value, fmask)


class Attention(Function):
    """Fused ``softmax(q @ k^T * scale + mask) @ v``; inputs (q, k, v[, float mask]).

    ``drop``: Bool array, True where a score is masked out (bool/causal masks).
    ``dropscale``: the dropout multiplier of the attention weights (None: none).
    Query rows left without any key give zeros. Forward keeps the attention
    weights; a plain backward works on them in place, under ``create_graph`` the
    same formulas are rebuilt from framework ops (double backward).
    """

    autocast_policy = AUTOCAST_LOWER

    __slots__ = ("scale", "drop", "dropscale", "p", "dead")

    op_name = "scaled_dot_product_attention"

    def __init__(self, scale, drop, dropscale):
        self.scale, self.drop, self.dropscale = scale, drop, dropscale

    def forward(self, q, k, v, fmask=None):
        m = xp(q)
        cd = compute_dtype(q)
        s = m.matmul(_arr(q, cd) * self.scale, m.swapaxes(_arr(k, cd), -1, -2))
        if fmask is not None:
            f = _arr(fmask, cd)
            if np.broadcast_shapes(s.shape, f.shape) == s.shape:
                s += f
            else:
                s = s + f
        if self.drop is not None:
            if s.shape != np.broadcast_shapes(s.shape, self.drop.shape):
                s = m.broadcast_to(s, np.broadcast_shapes(s.shape, self.drop.shape)).copy()
            m.copyto(s, -m.inf, where=self.drop)
        dead = None
        if self.drop is not None or fmask is not None:
            dead = m.logical_not((s != -m.inf).any(axis=-1, keepdims=True))
            if bool(dead.any()):
                m.copyto(s, 0.0, where=dead)
            else:
                dead = None
        # softmax along the last dim, in place
        s -= s.max(axis=-1, keepdims=True)
        m.exp(s, out=s)
        s /= s.sum(axis=-1, keepdims=True)
        if dead is not None:
            m.copyto(s, 0.0, where=dead)
        self.p, self.dead = s, dead
        pd = s if self.dropscale is None else s * _arr(self.dropscale, cd)
        out = m.matmul(pd, _arr(v, cd))
        return _arr(out, q.dtype)

    def release(self):
        super().release()
        self.p = None

    def backward(self, gy):
        if state.enabled:
            return self._backward_graph(gy)
        inputs = self.inputs
        q, k, v = (t._data for t in inputs[:3])
        m = xp(q)
        cd = compute_dtype(q)
        g = _arr(gy._data, cd)
        p = self.p
        ds_ = self.dropscale
        want = [self.needs_grad(i) for i in range(len(inputs))]
        gv = None
        if want[2]:
            pd = p if ds_ is None else p * _arr(ds_, cd)
            gv = m.matmul(m.swapaxes(pd, -1, -2), g)
        gq = gk = gm = None
        if want[0] or want[1] or (len(inputs) > 3 and want[3]):
            dp = m.matmul(g, m.swapaxes(_arr(v, cd), -1, -2))
            if ds_ is not None:
                dp *= _arr(ds_, cd)
            dp -= m.einsum("...j,...j->...", dp, p)[..., None]
            dp *= p                                   # d scores
            if want[0]:
                gq = m.matmul(dp, _arr(k, cd))
                gq *= self.scale
            if want[1]:
                gk = m.matmul(m.swapaxes(dp, -1, -2), _arr(q, cd))
                gk *= self.scale
            gm = dp
        out = [None if a is None else _make(a) for a in (gq, gk, gv)]
        if len(inputs) > 3:
            out.append(_make(gm) if want[3] else None)
        return tuple(out)

    def _backward_graph(self, gy):
        """The same gradients from framework ops on the inputs (differentiable)."""
        inputs = self.inputs
        q, k, v = inputs[:3]
        qs = q.mul_scalar(self.scale)
        s = qs.matmul(k.transpose(-2, -1))
        if len(inputs) > 3:
            s = s + inputs[3]
        if self.drop is not None:
            s = s.masked_fill(Tensor._wrap(self.drop), -math.inf)
        if self.dead is not None:
            s = s.masked_fill(Tensor._wrap(self.dead), 0.0)
        p = s.softmax(-1)
        if self.dead is not None:
            p = p.masked_fill(Tensor._wrap(self.dead), 0.0)
        ds_ = None if self.dropscale is None else Tensor._wrap(
            _arr(self.dropscale, p._data.dtype))
        pd = p if ds_ is None else p * ds_
        gv = pd.transpose(-2, -1).matmul(gy) if self.needs_grad(2) else None
        dp = gy.matmul(v.transpose(-2, -1))
        if ds_ is not None:
            dp = dp * ds_
        dsc = p * (dp - (dp * p).sum_dim(-1, True))
        gq = dsc.matmul(k).mul_scalar(self.scale) if self.needs_grad(0) else None
        gk = dsc.transpose(-2, -1).matmul(qs) if self.needs_grad(1) else None
        out = [gq, gk, gv]
        if len(inputs) > 3:
            out.append(dsc if self.needs_grad(3) else None)
        return tuple(out)


FUNCTIONAL = ["scaled_dot_product_attention"]
__all__ = []
