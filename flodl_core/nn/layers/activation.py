"""Activation layers: thin Modules over the activation ops (torch.nn names).

Every class can be built with no arguments (the FlowBuilder instantiates
classes), and applies elementwise to any shape, except ``Softmax`` and
``LogSoftmax`` (along ``dim``, default -1: PyTorch's implicit-dim guess is not
reproduced) and ``PReLU`` with several weights (one per channel, dim 1).

``inplace=True`` is refused as in the functional ops: tensors are immutable;
use the returned value.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ...errors import ShapeError
from .. import functional as F
from .. import init
from ..module import Module
from ..module_registry import ModuleInfo, register_module
from ..parameter import Parameter
from .linear import _count, _layer_name, _tensor_input

__all__ = ["ReLU", "Sigmoid", "Tanh", "GELU", "SiLU", "Mish", "SELU", "Hardswish",
           "Hardsigmoid", "LeakyReLU", "ELU", "Softplus", "Softmax", "LogSoftmax", "PReLU"]


def _no_inplace(name, inplace):
    if inplace:
        raise ValueError(f"{name}: inplace=True is not supported (tensors are immutable); "
                         f"use {name}() and its return value")


def _real(name, what, v) -> float:
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError(f"{name}: {what} must be a number, got {v!r}")
    return float(v)


class _Elementwise(Module):
    """An activation with no state: ``forward`` calls ``_apply``."""

    def __init__(self, inplace=False):
        super().__init__()
        _no_inplace(type(self).__name__, inplace)

    def forward(self, input):
        _tensor_input(self, input)
        return self._apply(input)


class ReLU(_Elementwise):
    """``max(x, 0)``."""

    def _apply(self, x):
        return x.relu()


class Sigmoid(_Elementwise):
    """``1 / (1 + exp(-x))``."""

    def _apply(self, x):
        return x.sigmoid()


class Tanh(_Elementwise):
    """``tanh(x)``."""

    def _apply(self, x):
        return x.tanh()


class SiLU(_Elementwise):
    """``x * sigmoid(x)`` (swish)."""

    def _apply(self, x):
        return x.silu()


class Mish(_Elementwise):
    """``x * tanh(softplus(x))``."""

    def _apply(self, x):
        return x.mish()


class SELU(_Elementwise):
    """``scale * (max(0, x) + min(0, alpha * (exp(x) - 1)))`` with PyTorch's constants."""

    def _apply(self, x):
        return x.selu()


class Hardswish(_Elementwise):
    """``x * relu6(x + 3) / 6``."""

    def _apply(self, x):
        return x.hardswish()


class Hardsigmoid(_Elementwise):
    """``relu6(x + 3) / 6``."""

    def _apply(self, x):
        return x.hardsigmoid()


class GELU(Module):
    """``x * Phi(x)``; ``approximate="tanh"`` uses the tanh approximation."""

    def __init__(self, approximate="none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, input):
        _tensor_input(self, input)
        return input.gelu(self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class LeakyReLU(Module):
    """``x`` where ``x >= 0``, else ``negative_slope * x``."""

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        _no_inplace("LeakyReLU", inplace)
        self.negative_slope = _real("LeakyReLU", "negative_slope", negative_slope)

    def forward(self, input):
        _tensor_input(self, input)
        return input.leaky_relu(self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class ELU(Module):
    """``x`` where ``x > 0``, else ``alpha * (exp(x) - 1)``."""

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        _no_inplace("ELU", inplace)
        self.alpha = _real("ELU", "alpha", alpha)

    def forward(self, input):
        _tensor_input(self, input)
        return input.elu(self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}"


class Softplus(Module):
    """``log(1 + exp(beta * x)) / beta``; linear where ``beta * x > threshold``."""

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta = _real("Softplus", "beta", beta)
        self.threshold = _real("Softplus", "threshold", threshold)

    def forward(self, input):
        _tensor_input(self, input)
        return input.softplus(self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class _AlongDim(Module):
    def __init__(self, dim=-1):
        super().__init__()
        if dim is None:
            raise ValueError(f"{type(self).__name__}: dim must be an int (PyTorch's implicit "
                             f"dim choice is not reproduced); e.g. {type(self).__name__}"
                             f"(dim=-1)")
        if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
            raise TypeError(f"{type(self).__name__}: dim must be an int, got {dim!r}")
        self.dim = int(dim)

    def forward(self, input):
        shape = _tensor_input(self, input)
        n = max(len(shape), 1)
        if not -n <= self.dim < n:
            raise ShapeError(f"{_layer_name(self)}: dim out of range for input of shape "
                             f"{shape} (expected a dim in [{-n}, {n - 1}])")
        return self._apply(input)

    def extra_repr(self):
        return f"dim={self.dim}"


class Softmax(_AlongDim):
    """``exp(x) / sum(exp(x))`` along ``dim`` (default -1, the last dim)."""

    def _apply(self, x):
        return x.softmax(self.dim)


class LogSoftmax(_AlongDim):
    """``x - logsumexp(x)`` along ``dim`` (default -1, the last dim)."""

    def _apply(self, x):
        return x.log_softmax(self.dim)


class PReLU(Module):
    """``x`` where ``x > 0``, else ``weight * x``, with a learned ``weight``.

    ``num_parameters``: 1 (shared) or the number of channels (dim 1 of the
    input; a 0-D or 1-D input has one channel, as in PyTorch). ``weight``
    (num_parameters,) starts at ``init``.
    (PyTorch's ``prelu.num_parameters`` attribute is the method
    ``prelu.num_parameters()`` here, which gives the same count.)
    """

    def __init__(self, num_parameters=1, init=0.25, device=None, dtype=None):
        super().__init__()
        n = _count("PReLU", "num_parameters", num_parameters, 1)
        self.init = _real("PReLU", "init", init)
        self.weight = Parameter(_init.constant((n,), self.init, dtype=dtype, device=device))

    def forward(self, input):
        shape = _tensor_input(self, input)
        n = self.weight.numel()
        if n != 1:
            # torch: a 1-D input has no channel dim (one channel), so it needs one weight
            channels = shape[1] if len(shape) > 1 else 1
            if channels != n:
                raise ShapeError(f"PReLU(num_parameters={n}): input channels (dim 1) must be "
                                 f"{n}, got shape {shape}")
        return F.prelu(input, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.weight.numel()}"


_init = init   # PReLU's ``init`` argument shadows the module inside __init__


# ------------------------------------------------------------ registry entries

_ERF = np.vectorize(math.erf)
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def _softplus(x, beta=1.0, threshold=20.0):
    z = beta * x
    return np.where(z > threshold, x, np.log1p(np.exp(np.minimum(z, threshold))) / beta)


def _relu6(x):
    return np.clip(x, 0.0, 6.0)


def _softmax(x, dim):
    e = np.exp(x - x.max(axis=dim, keepdims=True))
    return e / e.sum(axis=dim, keepdims=True)


def _prelu_ref(state, x, training):
    w = state["weight"]
    if w.size > 1 and x.ndim > 1:
        w = w.reshape((-1,) + (1,) * (x.ndim - 2))
    return np.where(x > 0, x, w * x)


def _away_from_kinks(rng, *shape):
    """Normal draws kept 0.05 away from the kinks (0 and +-3: relu and the hard*
    functions; 1.5: the Softplus entry's threshold) for finite differences."""
    x = rng.standard_normal(shape) * 2
    for k in (0.0, 3.0, -3.0, 1.5):
        near = np.abs(x - k) < 0.05
        x = np.where(near, k + 0.1 * np.sign(x - k + 1e-12), x)
    return x


def _inputs(rng):
    return [(_away_from_kinks(rng, 3, 4),), (_away_from_kinks(rng, 2, 3, 2),)]


_ELEMENTWISE = {
    "ReLU": (ReLU, lambda x: np.maximum(x, 0)),
    "Sigmoid": (Sigmoid, _sig),
    "Tanh": (Tanh, np.tanh),
    "SiLU": (SiLU, lambda x: x * _sig(x)),
    "Mish": (Mish, lambda x: x * np.tanh(_softplus(x))),
    "SELU": (SELU, lambda x: _SELU_SCALE * np.where(x > 0, x, _SELU_ALPHA * np.expm1(x))),
    "Hardswish": (Hardswish, lambda x: x * _relu6(x + 3) / 6),
    "Hardsigmoid": (Hardsigmoid, lambda x: _relu6(x + 3) / 6),
}

for _name, (_cls, _fn) in _ELEMENTWISE.items():
    register_module(ModuleInfo(
        name=_name,
        make=lambda dtype, _cls=_cls: _cls(),
        inputs=_inputs,
        ref=lambda state, x, training, _fn=_fn: _fn(x)))

register_module(ModuleInfo(
    name="GELU",
    make=lambda dtype: GELU(),
    inputs=lambda rng: _inputs(rng) + [(rng.standard_normal((2, 3)),)],
    ref=lambda state, x, training: 0.5 * x * (1 + _ERF(x / math.sqrt(2)))))

register_module(ModuleInfo(
    name="LeakyReLU",
    make=lambda dtype: LeakyReLU(0.2),
    inputs=_inputs,
    ref=lambda state, x, training: np.where(x >= 0, x, 0.2 * x)))

register_module(ModuleInfo(
    name="ELU",
    make=lambda dtype: ELU(0.7),
    inputs=_inputs,
    ref=lambda state, x, training: np.where(x > 0, x, 0.7 * np.expm1(x))))

register_module(ModuleInfo(
    name="Softplus",
    make=lambda dtype: Softplus(beta=2.0, threshold=3.0),
    inputs=_inputs,
    ref=lambda state, x, training: _softplus(x, 2.0, 3.0)))

register_module(ModuleInfo(
    name="Softmax",
    make=lambda dtype: Softmax(dim=1),
    inputs=lambda rng: [(rng.standard_normal((3, 4)),), (rng.standard_normal((2, 3, 2)),)],
    ref=lambda state, x, training: _softmax(x, 1)))

register_module(ModuleInfo(
    name="LogSoftmax",
    make=lambda dtype: LogSoftmax(),
    inputs=lambda rng: [(rng.standard_normal((3, 4)),), (rng.standard_normal((2, 3, 2)),)],
    ref=lambda state, x, training: np.log(_softmax(x, -1))))

register_module(ModuleInfo(
    name="PReLU",
    make=lambda dtype: PReLU(3, init=0.1, dtype=dtype),
    inputs=lambda rng: [(_away_from_kinks(rng, 2, 3),), (_away_from_kinks(rng, 2, 3, 2, 2),)],
    ref=_prelu_ref))

# GELU's tanh form is checked in tests/nn/test_layers_basic.py.
