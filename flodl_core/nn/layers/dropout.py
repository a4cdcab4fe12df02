"""Dropout layers: active in training mode (``module.train()``), the identity
in eval mode (``module.eval()``).

Masks come from the framework generator, so ``fl.manual_seed`` makes a
training run reproducible. Kept values are scaled by ``1 / (1 - p)`` so the
expected output equals the input.
"""
from __future__ import annotations

import numbers

import numpy as np

from ...errors import ShapeError
from .. import functional as F
from ..module import Module
from ..module_registry import ModuleInfo, register_module
from .linear import _layer_name, _tensor_input

__all__ = ["Dropout", "Dropout2d", "AlphaDropout"]


class _DropoutBase(Module):
    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        name = type(self).__name__
        if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0.0 <= p <= 1.0:
            raise ValueError(f"{name}: p must be a probability in [0, 1], got {p!r}")
        if inplace:
            raise ValueError(f"{name}: inplace=True is not supported (tensors are immutable); "
                             f"use {name}(p) and its return value")
        self.p = float(p)

    def extra_repr(self):
        return f"p={self.p}, inplace=False"


class Dropout(_DropoutBase):
    """Zero each element with probability ``p`` (default 0.5) while training and
    scale the rest by ``1 / (1 - p)``."""

    def forward(self, input):
        _tensor_input(self, input)
        return F.dropout(input, self.p, self.training)


class Dropout2d(_DropoutBase):
    """Zero whole channels: each (n, c) feature map of an (N, C, H, W) input is
    dropped with probability ``p`` while training; kept maps are scaled by
    ``1 / (1 - p)``. (A 3-D input is read as (N, C, L), as PyTorch does today.)"""

    def forward(self, input):
        shape = _tensor_input(self, input)
        if len(shape) < 2:
            raise ShapeError(f"{_layer_name(self)}: expected an input (N, C, H, W) with at "
                             f"least 2 dims, got shape {shape}")
        return F.dropout2d(input, self.p, self.training)


class AlphaDropout(_DropoutBase):
    """Dropout for SELU networks: dropped elements become SELU's negative
    saturation value and an affine map keeps zero mean and unit variance."""

    def forward(self, input):
        _tensor_input(self, input)
        return F.alpha_dropout(input, self.p, self.training)


# ------------------------------------------------------------ registry entries
# Train-mode behaviour is random; its properties (scaling, drop rate, seeding,
# whole channels) are unit-tested in tests/nn/test_layers_basic.py.

for _cls in (Dropout, Dropout2d, AlphaDropout):
    register_module(ModuleInfo(
        name=_cls.__name__,
        make=lambda dtype, _cls=_cls: _cls(0.3),
        inputs=lambda rng: [(rng.standard_normal((2, 3, 2, 2)),), (rng.standard_normal((4, 3)),)],
        ref=lambda state, x, training: np.array(x, copy=True),
        stochastic=True))
