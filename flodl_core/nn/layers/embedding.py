"""Lookup tables: Embedding and EmbeddingBag (torch.nn names and arguments).

``weight`` (num_embeddings, embedding_dim) starts N(0, 1) with the
``padding_idx`` row zeroed; that row gets no gradient.
"""
from __future__ import annotations

import numbers

import numpy as np

from ...errors import DTypeError, FlodlIndexError, ShapeError
from ...tensor import TensorLike
from .. import functional as F
from .. import init
from ..module import Module
from ..module_registry import ModuleInfo, register_module
from ..parameter import Parameter
from .linear import _count, _layer_name, _tensor_input

__all__ = ["Embedding", "EmbeddingBag"]


def _padding_index(name, padding_idx, num):
    if padding_idx is None:
        return None
    if isinstance(padding_idx, bool) or not isinstance(padding_idx, numbers.Integral):
        raise TypeError(f"{name}: padding_idx must be an int or None, got {padding_idx!r}")
    p = int(padding_idx)
    if not -num <= p < num:
        raise ValueError(f"{name}: padding_idx must be within num_embeddings ({num}), got {p}")
    return p % num


def _init_weight(module, name, num, dim, padding_idx, weight, dtype, device):
    if weight is None:
        w = Parameter(init.normal((num, dim), dtype=dtype, device=device))
        if padding_idx is not None:
            w._data[padding_idx] = 0
    else:
        if not isinstance(weight, TensorLike):
            raise TypeError(f"{name}: _weight must be a Tensor, got {type(weight).__name__}")
        if tuple(weight.shape) != (num, dim):
            raise ShapeError(f"{name}: _weight shape {tuple(weight.shape)} does not match "
                             f"(num_embeddings, embedding_dim) = {(num, dim)}")
        w = Parameter(weight)
    module.weight = w


def _check_indices(module, input, what="input"):
    """Integer dtype and range, checked with the layer's name before the F op."""
    shape = _tensor_input(module, input, what)
    idx = input._data
    if idx.dtype.kind not in "iu":
        raise DTypeError(f"{_layer_name(module)}: {what} must hold integer indices, got "
                         f"{input.dtype.name} (convert with .to_dtype(fl.DType.Int64))")
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= module.num_embeddings:
            bad = lo if lo < 0 else hi
            raise FlodlIndexError(f"{_layer_name(module)}: index {bad} out of range (valid "
                                  f"indices are 0..{module.num_embeddings - 1})")
    return shape


def _embedding_repr(m, bag=False):
    """PyTorch's extra_repr: the optional settings only when not default."""
    s = f"{m.num_embeddings}, {m.embedding_dim}"
    if m.padding_idx is not None and not bag:
        s += f", padding_idx={m.padding_idx}"
    if m.max_norm is not None:
        s += f", max_norm={m.max_norm}"
    if m.norm_type != 2.0:
        s += f", norm_type={m.norm_type}"
    if m.scale_grad_by_freq:
        s += ", scale_grad_by_freq=True"
    if m.sparse:
        s += ", sparse=True"
    if bag:
        s += f", mode={m.mode!r}"
        if m.padding_idx is not None:
            s += f", padding_idx={m.padding_idx}"
    return s


class Embedding(Module):
    """Rows of ``weight`` at integer indices: input (*) -> output (*, embedding_dim).

    Args:
        num_embeddings, embedding_dim: the table's size.
        padding_idx: positions holding this index get a zero-initialised row and
            no gradient (negative values count from the end).
        max_norm: rows looked up are first renormalised in place to at most this
            ``norm_type``-norm (as PyTorch does).
        scale_grad_by_freq: divide gradients by each index's frequency in the batch.
        sparse: accepted for compatibility; gradients are always dense.
    """

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, max_norm=None,
                 norm_type=2.0, scale_grad_by_freq=False, sparse=False, _weight=None,
                 _freeze=False, device=None, dtype=None):
        super().__init__()
        self.num_embeddings = _count("Embedding", "num_embeddings", num_embeddings)
        self.embedding_dim = _count("Embedding", "embedding_dim", embedding_dim)
        self.padding_idx = _padding_index("Embedding", padding_idx, self.num_embeddings)
        self.max_norm = None if max_norm is None else float(max_norm)
        self.norm_type = float(norm_type)
        self.scale_grad_by_freq = bool(scale_grad_by_freq)
        self.sparse = bool(sparse)
        _init_weight(self, "Embedding", self.num_embeddings, self.embedding_dim,
                     self.padding_idx, _weight, dtype, device)
        if _freeze:
            self.weight.freeze()

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None, max_norm=None,
                        norm_type=2.0, scale_grad_by_freq=False, sparse=False):
        """An Embedding holding a copy of the 2-D ``embeddings`` (frozen by default)."""
        if not isinstance(embeddings, TensorLike) or embeddings.ndim != 2:
            raise ShapeError("Embedding.from_pretrained: embeddings must be a 2-D tensor, got "
                             f"{getattr(embeddings, 'shape', type(embeddings).__name__)}")
        n, d = embeddings.shape
        return cls(n, d, padding_idx=padding_idx, max_norm=max_norm, norm_type=norm_type,
                   scale_grad_by_freq=scale_grad_by_freq, sparse=sparse, _weight=embeddings,
                   _freeze=freeze)

    def forward(self, input):
        _check_indices(self, input)
        return F.embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                           self.scale_grad_by_freq, self.sparse)

    def extra_repr(self):
        return _embedding_repr(self)


class EmbeddingBag(Module):
    """Sum, mean or max of bags of embedding rows, without materialising them.

    ``forward(input, offsets=None, per_sample_weights=None)``: a 2-D ``input``
    (B, L) is B bags of L indices; a 1-D ``input`` needs ``offsets`` (B,), bag b
    being ``input[offsets[b]:offsets[b+1]]`` (``include_last_offset``: B + 1
    offsets). Output (B, embedding_dim). ``padding_idx`` entries are left out of
    their bag; empty bags give zeros. ``per_sample_weights`` (mode 'sum' only)
    weight each index. Arguments in PyTorch's order.
    """

    def __init__(self, num_embeddings, embedding_dim, max_norm=None, norm_type=2.0,
                 scale_grad_by_freq=False, mode="mean", sparse=False, _weight=None,
                 include_last_offset=False, padding_idx=None, device=None, dtype=None):
        super().__init__()
        self.num_embeddings = _count("EmbeddingBag", "num_embeddings", num_embeddings)
        self.embedding_dim = _count("EmbeddingBag", "embedding_dim", embedding_dim)
        if mode not in ("sum", "mean", "max"):
            raise ValueError(f"EmbeddingBag: mode must be 'sum', 'mean' or 'max', got {mode!r}")
        self.mode = mode
        self.padding_idx = _padding_index("EmbeddingBag", padding_idx, self.num_embeddings)
        self.max_norm = None if max_norm is None else float(max_norm)
        self.norm_type = float(norm_type)
        self.scale_grad_by_freq = bool(scale_grad_by_freq)
        self.sparse = bool(sparse)
        self.include_last_offset = bool(include_last_offset)
        _init_weight(self, "EmbeddingBag", self.num_embeddings, self.embedding_dim,
                     self.padding_idx, _weight, dtype, device)

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, max_norm=None, norm_type=2.0,
                        scale_grad_by_freq=False, mode="mean", sparse=False,
                        include_last_offset=False, padding_idx=None):
        """An EmbeddingBag holding a copy of the 2-D ``embeddings`` (frozen by default)."""
        if not isinstance(embeddings, TensorLike) or embeddings.ndim != 2:
            raise ShapeError("EmbeddingBag.from_pretrained: embeddings must be a 2-D tensor, "
                             f"got {getattr(embeddings, 'shape', type(embeddings).__name__)}")
        n, d = embeddings.shape
        bag = cls(n, d, max_norm=max_norm, norm_type=norm_type,
                  scale_grad_by_freq=scale_grad_by_freq, mode=mode, sparse=sparse,
                  _weight=embeddings, include_last_offset=include_last_offset,
                  padding_idx=padding_idx)
        if freeze:
            bag.weight.freeze()
        return bag

    def forward(self, input, offsets=None, per_sample_weights=None):
        shape = _check_indices(self, input)
        name = _layer_name(self)
        if len(shape) not in (1, 2):
            raise ShapeError(f"{name}: input must be 1-D (with offsets) or 2-D (B, L), got "
                             f"shape {shape}")
        if len(shape) == 1 and offsets is None:
            raise ValueError(f"{name}: a 1-D input needs offsets (the start of each bag)")
        if len(shape) == 2 and offsets is not None:
            raise ValueError(f"{name}: offsets must be None for a 2-D input (each row is a "
                             f"bag)")
        return F.embedding_bag(input, self.weight, offsets, self.max_norm, self.norm_type,
                               self.scale_grad_by_freq, self.mode, self.sparse,
                               per_sample_weights, self.include_last_offset, self.padding_idx)

    def extra_repr(self):
        return _embedding_repr(self, bag=True)


# ------------------------------------------------------------ registry entries


def _bag_mean_ref(state, idx, offsets=None, training=True):
    w = state["weight"]
    if idx.ndim == 2:
        return w[idx].mean(axis=1)
    ends = list(offsets[1:]) + [len(idx)]
    return np.stack([w[idx[s:e]].mean(axis=0) if e > s else np.zeros(w.shape[1])
                     for s, e in zip(offsets, ends)])


register_module(ModuleInfo(
    name="Embedding",
    make=lambda dtype: Embedding(5, 3, dtype=dtype),
    inputs=lambda rng: [(rng.integers(0, 5, (2, 3)),), (np.array([4, 0, 4, 1]),)],
    ref=lambda state, idx, training: state["weight"][idx]))

register_module(ModuleInfo(
    name="EmbeddingBag",
    make=lambda dtype: EmbeddingBag(6, 3, dtype=dtype),
    inputs=lambda rng: [(rng.integers(0, 6, (3, 2)),),
                        (np.array([1, 5, 5, 0, 2, 3]), np.array([0, 2, 2, 5]))],
    ref=_bag_mean_ref))
