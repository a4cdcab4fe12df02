"""Dense layers and shape plumbing: Linear, Bilinear, Identity, Flatten, Reshape.

Constructor arguments, parameter names and shapes, and default initialisation
follow ``torch.nn``, so a PyTorch ``state_dict`` loads unchanged::

    >>> import flodl_core as fl
    >>> from flodl_core import nn
    >>> fc = nn.Linear(784, 128)
    >>> fc
    Linear(in_features=784, out_features=128, bias=True)  # 100,480 params
    >>> fc(fl.zeros(32, 784)).shape
    (32, 128)
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ...errors import ShapeError
from ...tensor import TensorLike
from .. import functional as F
from .. import init
from ..module import Module
from ..module_registry import ModuleInfo, register_module
from ..parameter import Parameter

__all__ = ["Linear", "Bilinear", "Identity", "Flatten", "Reshape"]


# ------------------------------------------------------------------ helpers
# (shared by the other layer files of this package)


def _layer_name(module) -> str:
    """``Embedding(10, 4)``: the class with its configuration, for error messages."""
    return f"{type(module).__name__}({module.extra_repr()})"


def _tensor_input(module, x, what="input"):
    """The shape of ``x``, or a TypeError naming the layer when it is not a tensor."""
    if not isinstance(x, TensorLike):
        raise TypeError(f"{_layer_name(module)}: {what} must be a Tensor or Variable, got "
                        f"{type(x).__name__}")
    return tuple(x.shape)


def _count(layer, what, v, minimum=0) -> int:
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or int(v) < minimum:
        raise ValueError(f"{layer}: {what} must be an int >= {minimum}, got {v!r}")
    return int(v)


def _bound(fan_in: int) -> float:
    return 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0


# ------------------------------------------------------------------- layers


class Linear(Module):
    """``y = x @ weight.T + bias`` over the last dim (torch.nn.Linear).

    Args:
        in_features, out_features: sizes of the input's and output's last dim.
        bias: learn an additive bias (default True).

    Parameters: ``weight`` (out_features, in_features), ``bias`` (out_features,);
    both start as U(-1/sqrt(in_features), 1/sqrt(in_features)) (PyTorch's
    ``kaiming_uniform(a=sqrt(5))``). Input (*, in_features) -> (*, out_features).
    """

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.in_features = _count("Linear", "in_features", in_features)
        self.out_features = _count("Linear", "out_features", out_features)
        shape = (self.out_features, self.in_features)
        self.weight = Parameter(init.kaiming_uniform(shape, a=math.sqrt(5), dtype=dtype,
                                                     device=device))
        if bias:
            b = _bound(self.in_features)
            self.bias = Parameter(init.uniform((self.out_features,), -b, b, dtype=dtype,
                                               device=device))
        else:
            self.register_parameter("bias", None)

    def forward(self, input):
        shape = _tensor_input(self, input)
        if not shape or shape[-1] != self.in_features:
            raise ShapeError(f"Linear({self.in_features} -> {self.out_features}): input last "
                             f"dim must be {self.in_features}, got shape {shape}")
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Bilinear(Module):
    """``y[..., o] = x1[..., i] weight[o, i, j] x2[..., j] + bias[o]`` (torch.nn.Bilinear).

    Parameters: ``weight`` (out_features, in1_features, in2_features) and ``bias``
    (out_features,), both U(-1/sqrt(in1_features), 1/sqrt(in1_features)).
    Inputs (*, in1_features) and (*, in2_features) with equal leading dims.
    """

    def __init__(self, in1_features, in2_features, out_features, bias=True, device=None,
                 dtype=None):
        super().__init__()
        self.in1_features = _count("Bilinear", "in1_features", in1_features)
        self.in2_features = _count("Bilinear", "in2_features", in2_features)
        self.out_features = _count("Bilinear", "out_features", out_features)
        b = _bound(self.in1_features)
        self.weight = Parameter(init.uniform(
            (self.out_features, self.in1_features, self.in2_features), -b, b, dtype=dtype,
            device=device))
        if bias:
            self.bias = Parameter(init.uniform((self.out_features,), -b, b, dtype=dtype,
                                               device=device))
        else:
            self.register_parameter("bias", None)

    def forward(self, input1, input2):
        s1 = _tensor_input(self, input1, "input1")
        s2 = _tensor_input(self, input2, "input2")
        name = (f"Bilinear({self.in1_features} x {self.in2_features} -> "
                f"{self.out_features})")
        if not s1 or s1[-1] != self.in1_features:
            raise ShapeError(f"{name}: input1 last dim must be {self.in1_features}, got shape "
                             f"{s1}")
        if not s2 or s2[-1] != self.in2_features:
            raise ShapeError(f"{name}: input2 last dim must be {self.in2_features}, got shape "
                             f"{s2}")
        if s1[:-1] != s2[:-1]:
            raise ShapeError(f"{name}: input1 and input2 must have the same leading dims, got "
                             f"shapes {s1} and {s2}")
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self):
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")


class Identity(Module):
    """Returns its input unchanged; any constructor arguments are ignored (as in PyTorch)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


def _norm_dim(layer, dim, ndim, what):
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise ShapeError(f"{layer}: {what}={dim} out of range for a {ndim}-d input "
                         f"(expected a dim in [{-n}, {n - 1}])")
    return dim % n


class Flatten(Module):
    """Flatten dims ``start_dim..end_dim`` into one (torch.nn.Flatten); by default
    every dim but the batch dim: (N, *) -> (N, prod(*))."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = int(start_dim), int(end_dim)

    def forward(self, input):
        shape = _tensor_input(self, input)
        name = _layer_name(self)
        s = _norm_dim(name, self.start_dim, len(shape), "start_dim")
        e = _norm_dim(name, self.end_dim, len(shape), "end_dim")
        if s > e:
            raise ShapeError(f"{name}: start_dim comes after end_dim for a {len(shape)}-d "
                             f"input of shape {shape}")
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Reshape(Module):
    """Reshape the whole input (batch dim included) to ``shape``, like
    ``x.reshape(*shape)``; one entry may be -1 (inferred). ``Reshape(-1, 4, 4)``
    keeps a variable batch size. Accepts ``Reshape(2, 3)`` or ``Reshape((2, 3))``.
    """

    def __init__(self, *shape):
        super().__init__()
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        if any(isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < -1
               for s in shape):
            raise ValueError(f"Reshape: shape entries must be ints >= -1, got {shape}")
        if sum(int(s) == -1 for s in shape) > 1:
            raise ValueError(f"Reshape: at most one entry of shape may be -1, got {shape}")
        self.shape = tuple(int(s) for s in shape)

    def forward(self, input):
        shape = _tensor_input(self, input)
        numel = math.prod(shape)
        known = math.prod(s for s in self.shape if s != -1)
        ok = (known > 0 and numel % known == 0) if -1 in self.shape else numel == known
        if not ok:
            raise ShapeError(f"Reshape({self.extra_repr()}): cannot reshape an input of shape "
                             f"{shape} ({numel} elements) to {self.shape}")
        return input.reshape(*self.shape)

    def extra_repr(self):
        return f"shape={self.shape}"


# ------------------------------------------------------------ registry entries


def _f64(rng, *shape):
    return rng.standard_normal(shape)


def _linear_ref(state, x, training):
    y = x @ state["weight"].T
    return y + state["bias"] if "bias" in state else y


def _bilinear_ref(state, x1, x2, training):
    y = np.einsum("...i,oij,...j->...o", x1, state["weight"], x2)
    return y + state["bias"] if "bias" in state else y


register_module(ModuleInfo(
    name="Linear",
    make=lambda dtype: Linear(3, 2, dtype=dtype),
    inputs=lambda rng: [(_f64(rng, 4, 3),), (_f64(rng, 2, 2, 3),), (_f64(rng, 3),)],
    ref=_linear_ref))

register_module(ModuleInfo(
    name="Bilinear",
    make=lambda dtype: Bilinear(3, 2, 2, dtype=dtype),
    inputs=lambda rng: [(_f64(rng, 4, 3), _f64(rng, 4, 2)),
                        (_f64(rng, 2, 1, 3), _f64(rng, 2, 1, 2))],
    ref=_bilinear_ref))

register_module(ModuleInfo(
    name="Identity",
    make=lambda dtype: Identity(),
    inputs=lambda rng: [(_f64(rng, 2, 3),)],
    ref=lambda state, x, training: x))

register_module(ModuleInfo(
    name="Flatten",
    make=lambda dtype: Flatten(),
    inputs=lambda rng: [(_f64(rng, 2, 3, 2),), (_f64(rng, 2, 3),)],
    ref=lambda state, x, training: x.reshape(x.shape[0], -1)))

register_module(ModuleInfo(
    name="Reshape",
    make=lambda dtype: Reshape(-1, 3),
    inputs=lambda rng: [(_f64(rng, 2, 3, 2),), (_f64(rng, 6),)],
    ref=lambda state, x, training: x.reshape(-1, 3)))
