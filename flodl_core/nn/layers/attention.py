"""MultiheadAttention (torch.nn.MultiheadAttention).

Parameter names, shapes and initialisation follow PyTorch, so a ``state_dict``
loads unchanged: ``in_proj_weight`` (3E, E) and ``in_proj_bias`` (3E,) hold the
query, key and value projections stacked (or ``q_proj_weight``,
``k_proj_weight``, ``v_proj_weight`` when ``kdim``/``vdim`` differ from E), and
``out_proj`` is a :class:`Linear` (E -> E)::

    >>> import flodl_core as fl
    >>> from flodl_core import nn
    >>> mha = nn.MultiheadAttention(16, 4, batch_first=True)
    >>> x = fl.randn(2, 5, 16)
    >>> out, weights = mha(x, x, x)
    >>> out.shape, weights.shape
    ((2, 5, 16), (2, 5, 5))

Masks have PyTorch's ``nn.MultiheadAttention`` meaning, which is the opposite of
``F.scaled_dot_product_attention``'s for Bool masks: **True marks a position
that may NOT be attended**. Float masks are added to the attention scores.
"""
from __future__ import annotations

import math

import numpy as np

from ...errors import DTypeError, ShapeError
from ...tensor import Tensor, TensorLike
from .. import functional as F
from .. import init
from ..module import Module
from ..module_registry import ModuleInfo, register_module
from ..parameter import Parameter
from .linear import Linear, _count

__all__ = ["MultiheadAttention"]


class MultiheadAttention(Module):
    """Multi-head attention: ``softmax(Q K^T / sqrt(d) + mask) V`` per head, heads
    concatenated and projected by ``out_proj``.

    Args:
        embed_dim: E, the query's feature size and the output's.
        num_heads: heads; E must divide by it (each head has E / num_heads features).
        dropout: dropout on the attention weights, in training.
        bias: learn ``in_proj_bias`` and ``out_proj.bias``.
        batch_first: inputs and output are (N, L, E) instead of (L, N, E).
        kdim, vdim: the key's and value's feature sizes (default E).
        add_bias_kv, add_zero_attn: not supported (must be False).

    Init (PyTorch's): xavier_uniform for the input projections, zeros for
    ``in_proj_bias`` and ``out_proj.bias``, Linear's default for ``out_proj.weight``.

    ``forward(query, key, value, key_padding_mask=None, need_weights=True,
    attn_mask=None, average_attn_weights=True, is_causal=False)``:

    * query (L, N, E), key (S, N, kdim), value (S, N, vdim) (batch first when
      ``batch_first``), or unbatched (L, E), (S, kdim), (S, vdim).
    * ``key_padding_mask`` (N, S) (or (S,) unbatched): True (Bool) = that key is
      padding and ignored; a float mask is added.
    * ``attn_mask`` (L, S) or (N * num_heads, L, S): True (Bool) = not allowed;
      float masks are added.
    * ``is_causal``: a hint that ``attn_mask`` is the causal mask, as in PyTorch;
      without an ``attn_mask`` it applies the causal mask itself (PyTorch raises).

    Returns ``(attn_output, attn_weights)``: output shaped like the query with E
    features; weights (N, L, S) averaged over heads (or (N, num_heads, L, S) with
    ``average_attn_weights=False``), or None when ``need_weights=False`` (which
    takes the fused attention kernel). A query whose keys are all masked out gets
    zero weights (PyTorch gives NaN).
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
                 add_zero_attn=False, kdim=None, vdim=None, batch_first=False, device=None,
                 dtype=None):
        super().__init__()
        self.embed_dim = _count("MultiheadAttention", "embed_dim", embed_dim, 1)
        self.num_heads = _count("MultiheadAttention", "num_heads", num_heads, 1)
        if self.embed_dim % self.num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim ({self.embed_dim}) must be "
                             f"divisible by num_heads ({self.num_heads})")
        if add_bias_kv or add_zero_attn:
            raise NotImplementedError("MultiheadAttention: add_bias_kv and add_zero_attn are "
                                      "not supported")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) \
                or not 0.0 <= dropout <= 1.0:
            raise ValueError(f"MultiheadAttention: dropout must be a number in [0, 1], got "
                             f"{dropout!r}")
        e = self.embed_dim
        self.kdim = e if kdim is None else _count("MultiheadAttention", "kdim", kdim, 1)
        self.vdim = e if vdim is None else _count("MultiheadAttention", "vdim", vdim, 1)
        self._qkv_same_embed_dim = self.kdim == e and self.vdim == e
        self.head_dim = e // self.num_heads
        self.dropout = float(dropout)
        self.batch_first = bool(batch_first)
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(init.xavier_uniform((3 * e, e), dtype=dtype,
                                                                device=device))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        else:
            self.q_proj_weight = Parameter(init.xavier_uniform((e, e), dtype=dtype,
                                                               device=device))
            self.k_proj_weight = Parameter(init.xavier_uniform((e, self.kdim), dtype=dtype,
                                                               device=device))
            self.v_proj_weight = Parameter(init.xavier_uniform((e, self.vdim), dtype=dtype,
                                                               device=device))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(init.zeros((3 * e,), dtype=dtype, device=device))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(e, e, bias=bias, device=device, dtype=dtype)
        if bias:
            self.out_proj.bias = Parameter(init.zeros((e,), dtype=dtype, device=device))

    def _name(self):
        return f"MultiheadAttention(embed_dim={self.embed_dim}, num_heads={self.num_heads})"

    # ------------------------------------------------------------ checking
    def _shapes(self, query, key, value):
        name = self._name()
        shapes = []
        for what, t in (("query", query), ("key", key), ("value", value)):
            if not isinstance(t, TensorLike):
                raise TypeError(f"{name}: {what} must be a Tensor or Variable, got "
                                f"{type(t).__name__}")
            shapes.append(tuple(t.shape))
        qs, ks, vs = shapes
        nd = len(qs)
        lay = "(N, {s}, {f})" if self.batch_first else "({s}, N, {f})"
        for what, s, s_name, f in (("query", qs, "L", self.embed_dim), ("key", ks, "S", self.kdim),
                                   ("value", vs, "S", self.vdim)):
            if len(s) != nd or nd not in (2, 3) or s[-1] != f:
                want = lay.format(s=s_name, f=f) if nd != 2 else f"({s_name}, {f})"
                raise ShapeError(f"{name}: expected {what} {want} (batch_first="
                                 f"{self.batch_first}; query, key and value all batched or "
                                 f"all unbatched), got query {qs}, key {ks}, value {vs}")
        if ks[:-1] != vs[:-1]:
            raise ShapeError(f"{name}: key and value must have the same sequence length and "
                             f"batch, got key {ks} and value {vs}")
        if nd == 3:
            bdim = 0 if self.batch_first else 1
            if qs[bdim] != ks[bdim]:
                raise ShapeError(f"{name}: query and key batch sizes differ: query {qs}, key {ks} "
                                 f"(batch_first={self.batch_first})")
        return qs, ks

    def _mask(self, what, m, allowed, dtype):
        """(Bool 'masked out' array or None, float Tensor to add or None)."""
        if m is None:
            return None, None
        if not isinstance(m, TensorLike):
            raise TypeError(f"{self._name()}: {what} must be a Tensor or None, got "
                            f"{type(m).__name__}")
        if tuple(m.shape) not in allowed:
            raise ShapeError(f"{self._name()}: expected {what} of shape "
                             f"{' or '.join(str(a) for a in allowed)}, got {tuple(m.shape)}")
        kind = m._data.dtype
        if kind == np.bool_:
            return m._data, None
        if kind.kind != "f":
            raise DTypeError(f"{self._name()}: {what} must be Bool or floating-point, got "
                             f"{m.dtype.name}")
        return None, (m if m.dtype == dtype else m.to_dtype(dtype))

    # ------------------------------------------------------------- forward
    def forward(self, query, key, value, key_padding_mask=None, need_weights=True,
                attn_mask=None, average_attn_weights=True, is_causal=False):
        qs, ks = self._shapes(query, key, value)
        batched = len(qs) == 3
        h, hd, e = self.num_heads, self.head_dim, self.embed_dim
        if not batched:
            query, key, value = query.unsqueeze(0), key.unsqueeze(0), value.unsqueeze(0)
        elif not self.batch_first:
            same_kv = key is value
            self_attn = query is key and same_kv
            query = query.transpose(0, 1)
            key = query if self_attn else key.transpose(0, 1)
            value = key if same_kv else value.transpose(0, 1)
        n, L, S = query.shape[0], query.shape[1], key.shape[1]

        # masks -> one Bool "masked out" array and/or one float Tensor, (N, h|1, L|1, S)
        dtype = query.dtype
        am_shapes = [(L, S), (n * h, L, S)] if batched else [(L, S), (h, L, S)]
        kpm_shapes = [(n, S)] if batched else [(S,)]
        am_b, am_f = self._mask("attn_mask", attn_mask, am_shapes, dtype)
        kp_b, kp_f = self._mask("key_padding_mask", key_padding_mask, kpm_shapes, dtype)
        if attn_mask is not None and attn_mask.ndim == 3:
            am_b = None if am_b is None else am_b.reshape(n, h, L, S)
            am_f = None if am_f is None else am_f.reshape(n, h, L, S)
        if key_padding_mask is not None:
            kp_b = None if kp_b is None else kp_b.reshape(n, 1, 1, S)
            kp_f = None if kp_f is None else kp_f.reshape(n, 1, 1, S)
        if attn_mask is None and is_causal:
            m = _xp(query)
            am_b = m.triu(m.ones((L, S), dtype=bool), 1)
        drop = am_b if kp_b is None else kp_b if am_b is None else _xp(query).logical_or(am_b,
                                                                                       kp_b)
        fmask = am_f if kp_f is None else kp_f if am_f is None else am_f + kp_f

        # projections: one matmul when query, key and value are the same tensor
        q, k, v = self._project(query, key, value)
        q = q.reshape(n, L, h, hd).transpose(1, 2)            # (N, h, L, hd)
        k = k.reshape(n, S, h, hd).transpose(1, 2)
        v = v.reshape(n, S, h, hd).transpose(1, 2)
        p_drop = self.dropout if self.training else 0.0

        if not need_weights:
            if drop is not None and fmask is not None:
                fmask = fmask.masked_fill(Tensor._wrap(drop), -math.inf)
                drop = None
            mask = fmask if fmask is not None else (
                None if drop is None else Tensor._wrap(_xp(query).logical_not(drop)))
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p_drop)
            weights = None
        else:
            scores = q.mul_scalar(1.0 / math.sqrt(hd)).matmul(k.transpose(-2, -1))
            if fmask is not None:
                scores = scores + fmask
            dead = None
            if drop is not None:
                scores = scores.masked_fill(Tensor._wrap(drop), -math.inf)
            if drop is not None or fmask is not None:
                m = _xp(query)
                dead = m.logical_not((scores._data > -m.inf).any(axis=-1, keepdims=True))
                if bool(dead.any()):
                    dead = Tensor._wrap(dead)
                    scores = scores.masked_fill(dead, 0.0)
                else:
                    dead = None
            weights = scores.softmax(-1)
            if dead is not None:
                weights = weights.masked_fill(dead, 0.0)
            if p_drop > 0.0:
                weights = F.dropout(weights, p_drop, training=True)
            out = weights.matmul(v)
            if average_attn_weights:
                weights = weights.mean_dim(1)
            if not batched:
                weights = weights.squeeze(0)
        out = self.out_proj(out.transpose(1, 2).reshape(n, L, e))
        if not batched:
            out = out.squeeze(0)
        elif not self.batch_first:
            out = out.transpose(0, 1)
        return out, weights

    def _project(self, query, key, value):
        e = self.embed_dim
        b = self.in_proj_bias
        bq, bk, bv = (None, None, None) if b is None else b.split(e, 0)
        if not self._qkv_same_embed_dim:
            return (F.linear(query, self.q_proj_weight, bq), F.linear(key, self.k_proj_weight, bk),
                    F.linear(value, self.v_proj_weight, bv))
        w = self.in_proj_weight
        if query is key and key is value:
            return F.linear(query, w, b).split(e, -1)
        wq, wk, wv = w.split(e, 0)
        if key is value:
            k, v = F.linear(key, w.narrow(0, e, 2 * e),
                            None if b is None else b.narrow(0, e, 2 * e)).split(e, -1)
            return F.linear(query, wq, bq), k, v
        return F.linear(query, wq, bq), F.linear(key, wk, bk), F.linear(value, wv, bv)

    def extra_repr(self):
        s = f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.in_proj_bias is None:
            s += ", bias=False"
        if not self._qkv_same_embed_dim:
            s += f", kdim={self.kdim}, vdim={self.vdim}"
        if self.batch_first:
            s += ", batch_first=True"
        return s


def _xp(t):
    from ...autograd.ops._util import xp
    return xp(t._data)


# ------------------------------------------------------------------ registry


def _mha_ref(state, query, key, value, key_padding_mask=None, need_weights=True,
             attn_mask=None, training=False, heads=2):
    """Per-batch, per-head NumPy loops; inputs (L, N, E) (batch_first=False)."""
    e = query.shape[-1]
    hd = e // heads
    w, b = state["in_proj_weight"], state["in_proj_bias"]
    L, n, S = query.shape[0], query.shape[1], key.shape[0]
    out = np.zeros((L, n, e))
    weights = np.zeros((n, L, S))
    for bi in range(n):
        q = query[:, bi] @ w[:e].T + b[:e]
        k = key[:, bi] @ w[e:2 * e].T + b[e:2 * e]
        v = value[:, bi] @ w[2 * e:].T + b[2 * e:]
        heads_out = []
        for hi in range(heads):
            sl = slice(hi * hd, (hi + 1) * hd)
            s = q[:, sl] @ k[:, sl].T / np.sqrt(hd)
            if attn_mask is not None:
                s = np.where(attn_mask, -np.inf, s) if attn_mask.dtype == bool else s + attn_mask
            if key_padding_mask is not None:
                s = s + np.where(key_padding_mask[bi], -np.inf, 0.0)[None, :]
            dead = np.isneginf(s).all(-1, keepdims=True)   # no key left: zero weights
            s = np.where(dead, 0.0, s)
            p = np.exp(s - s.max(-1, keepdims=True))
            p = np.where(dead, 0.0, p / p.sum(-1, keepdims=True))
            weights[bi] += p / heads
            heads_out.append(p @ v[:, sl])
        out[:, bi] = np.concatenate(heads_out, -1) @ state["out_proj.weight"].T \
            + state["out_proj.bias"]
    return (out, weights) if need_weights else out


def _mha_inputs(rng):
    q, k, v = (rng.standard_normal((3, 2, 4)), rng.standard_normal((2, 2, 4)),
               rng.standard_normal((2, 2, 4)))
    kpm = np.array([[False, True], [False, False]])
    am = rng.standard_normal((3, 2))
    am_b = np.array([[False, True], [False, False], [True, False]])   # with kpm: a dead row
    return [(q, k, v), (q, k, v, kpm), (q, k, v, None, True, am), (q, k, v, kpm, False, am_b)]


def _make_mha(dt):
    m = MultiheadAttention(4, 2, dtype=dt)
    # non-zero biases (PyTorch starts them at zero) so their gradients are exercised
    m.in_proj_bias = Parameter(init.uniform((12,), -0.5, 0.5, dtype=dt))
    m.out_proj.bias = Parameter(init.uniform((4,), -0.5, 0.5, dtype=dt))
    return m


register_module(ModuleInfo("MultiheadAttention", make=_make_mha, inputs=_mha_inputs,
                           ref=_mha_ref))
