"""Normalisation layers: LayerNorm, RMSNorm, GroupNorm, BatchNorm1d/2d, InstanceNorm1d/2d.

PyTorch's arguments, parameter and buffer names, so ``load_state_dict`` takes a
torch state dict as is. ``BatchNorm`` (flodl's name) is ``BatchNorm1d`` and
``InstanceNorm`` is ``InstanceNorm2d``.

Batch norm in training mode normalises with the batch statistics and updates
``running_mean``/``running_var`` in place (``momentum``, or the cumulative
average ``1 / num_batches_tracked`` when ``momentum=None``); eval mode uses the
running statistics.
"""
from __future__ import annotations

import numbers
import warnings

import numpy as np

from ...backend.dtype import DType
from ...errors import ShapeError
from .. import functional as F
from .. import init
from ..module import Module
from ..module_registry import ModuleInfo, register_module
from ..parameter import Parameter

__all__ = ["LayerNorm", "RMSNorm", "GroupNorm", "BatchNorm1d", "BatchNorm2d", "BatchNorm",
           "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm"]


def _shape_tuple(layer, normalized_shape):
    if isinstance(normalized_shape, numbers.Integral) and not isinstance(normalized_shape, bool):
        ns = (int(normalized_shape),)
    elif isinstance(normalized_shape, (tuple, list)) and all(
            isinstance(n, numbers.Integral) and not isinstance(n, bool) for n in normalized_shape):
        ns = tuple(int(n) for n in normalized_shape)
    else:
        raise TypeError(f"{layer}: normalized_shape must be an int or a sequence of ints, got "
                        f"{normalized_shape!r}")
    if not ns or min(ns) < 1:
        raise ValueError(f"{layer}: normalized_shape must be non-empty and positive, got {ns}")
    return ns


def _positive(layer, name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{layer}: {name} must be a positive int, got {value!r}")
    return int(value)


class _LastDimsNorm(Module):
    """Shared by LayerNorm and RMSNorm: the trailing-dims check."""

    def _check_input(self, input):
        ns = self.normalized_shape
        shape = tuple(getattr(input, "shape", ()))
        if len(shape) < len(ns) or shape[len(shape) - len(ns):] != ns:
            raise ShapeError(f"{type(self).__name__}({ns}): input last dims must be {ns}, got "
                             f"shape {shape}")

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class LayerNorm(_LastDimsNorm):
    """Normalise over the last ``len(normalized_shape)`` dims, then ``* weight + bias``."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True,
                 device=None, dtype=None):
        super().__init__()
        self.normalized_shape = _shape_tuple("LayerNorm", normalized_shape)
        self.eps = eps
        self.elementwise_affine = bool(elementwise_affine)
        if self.elementwise_affine:
            self.weight = Parameter(init.ones(self.normalized_shape, dtype=dtype, device=device))
            if bias:
                self.bias = Parameter(init.zeros(self.normalized_shape, dtype=dtype,
                                                 device=device))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, input):
        self._check_input(input)
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", bias={self.bias is not None}"


class RMSNorm(_LastDimsNorm):
    """``x / sqrt(mean(x**2) + eps) * weight`` over the last dims; ``eps=None`` uses the
    machine epsilon of the input's dtype (as torch)."""

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True, device=None,
                 dtype=None):
        super().__init__()
        self.normalized_shape = _shape_tuple("RMSNorm", normalized_shape)
        self.eps = eps
        self.elementwise_affine = bool(elementwise_affine)
        if self.elementwise_affine:
            self.weight = Parameter(init.ones(self.normalized_shape, dtype=dtype, device=device))
        else:
            self.register_parameter("weight", None)

    def forward(self, input):
        self._check_input(input)
        return F.rms_norm(input, self.normalized_shape, self.weight, self.eps)


def _affine_params(module, affine, bias, c, dtype, device):
    """weight (ones) and bias (zeros) of shape (c,), or None slots."""
    if affine:
        module.weight = Parameter(init.ones((c,), dtype=dtype, device=device))
        if bias:
            module.bias = Parameter(init.zeros((c,), dtype=dtype, device=device))
        else:
            module.register_parameter("bias", None)
    else:
        module.register_parameter("weight", None)
        module.register_parameter("bias", None)


class GroupNorm(Module):
    """Normalise each group of ``num_channels / num_groups`` channels of (N, C, *)."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None,
                 dtype=None, *, bias=True):
        super().__init__()
        self.num_groups = _positive("GroupNorm", "num_groups", num_groups)
        self.num_channels = _positive("GroupNorm", "num_channels", num_channels)
        if self.num_channels % self.num_groups:
            raise ValueError(f"GroupNorm: num_channels {num_channels} must be divisible by "
                             f"num_groups {num_groups}")
        self.eps = eps
        self.affine = bool(affine)
        _affine_params(self, self.affine, bias, self.num_channels, dtype, device)

    def forward(self, input):
        shape = tuple(getattr(input, "shape", ()))
        if len(shape) < 2 or shape[1] != self.num_channels:
            raise ShapeError(f"GroupNorm({self.num_groups}, {self.num_channels}): expected "
                             f"input (N, C, *) with C={self.num_channels}, got {shape}")
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


class _NormBase(Module):
    """Shared by batch and instance norm: affine parameters and running statistics."""

    def __init__(self, num_features, eps, momentum, affine, track_running_stats, device,
                 dtype, bias):
        super().__init__()
        self.num_features = _positive(type(self).__name__, "num_features", num_features)
        self.eps = eps
        self.momentum = momentum
        self.affine = bool(affine)
        self.track_running_stats = bool(track_running_stats)
        c = self.num_features
        _affine_params(self, self.affine, bias, c, dtype, device)
        if self.track_running_stats:
            self.register_buffer("running_mean", init.zeros((c,), dtype=dtype, device=device))
            self.register_buffer("running_var", init.ones((c,), dtype=dtype, device=device))
            self.register_buffer("num_batches_tracked",
                                 init.zeros((), dtype=DType.Int64, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batches tracked."""
        if self.track_running_stats:
            self.running_mean._data[...] = 0
            self.running_var._data[...] = 1
            self.num_batches_tracked._data[...] = 0

    def _describe(self) -> str:
        return f"{type(self).__name__}({self.num_features})"

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class _BatchNorm(_NormBase):
    """Batch normalisation over N and the spatial dims of (N, C, *)."""

    _ranks = (2, 3)
    _layout = "2-D input (N, C) or 3-D input (N, C, L)"

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, device=None, dtype=None, *, bias=True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device,
                         dtype, bias)

    def forward(self, input):
        shape = tuple(getattr(input, "shape", ()))
        if len(shape) not in self._ranks or shape[1] != self.num_features:
            raise ShapeError(f"{self._describe()}: expected {self._layout} with "
                             f"C={self.num_features}, got {shape}")
        factor = 0.0 if self.momentum is None else self.momentum
        tracking = self.training and self.track_running_stats
        if tracking:
            if self.momentum is None:   # cumulative moving average
                factor = 1.0 / (int(self.num_batches_tracked._data) + 1)
        # Batch statistics in training, or in eval when there are no running stats.
        use_batch = self.training or self.running_mean is None
        keep = not self.training or self.track_running_stats
        y = F.batch_norm(input, self.running_mean if keep else None,
                         self.running_var if keep else None, self.weight, self.bias,
                         use_batch, factor, self.eps)
        if tracking:
            self.num_batches_tracked._data[...] += 1
        return y


class BatchNorm1d(_BatchNorm):
    """Batch norm of (N, C) or (N, C, L) inputs."""


class BatchNorm2d(_BatchNorm):
    """Batch norm of (N, C, H, W) inputs."""

    _ranks = (4,)
    _layout = "4-D input (N, C, H, W)"


class _InstanceNorm(_NormBase):
    """Per-sample, per-channel normalisation over the spatial dims."""

    _nd = 2

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False,
                 track_running_stats=False, device=None, dtype=None, *, bias=True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device,
                         dtype, bias)

    def forward(self, input):
        nd = self._nd
        shape = tuple(getattr(input, "shape", ()))
        names = "L" if nd == 1 else "H, W"
        if len(shape) not in (nd + 1, nd + 2):
            raise ShapeError(f"{self._describe()}: expected {nd + 2}-D input (N, C, {names}) "
                             f"or {nd + 1}-D (C, {names}), got {shape}")
        c = shape[-nd - 1]
        if c != self.num_features:
            if self.affine or self.track_running_stats:
                raise ShapeError(f"{self._describe()}: expected input with C="
                                 f"{self.num_features} channels, got {shape}")
            # torch only warns: without affine or running stats num_features is unused.
            warnings.warn(f"{self._describe()}: input has {c} channels, not num_features="
                          f"{self.num_features} (unused since affine=False)", stacklevel=2)
        unbatched = len(shape) == nd + 1
        x = input.unsqueeze(0) if unbatched else input
        # As torch: momentum=None gives 0 here, and num_batches_tracked is never advanced.
        y = F.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            self.training or not self.track_running_stats,
                            0.0 if self.momentum is None else self.momentum, self.eps)
        return y.squeeze(0) if unbatched else y


class InstanceNorm1d(_InstanceNorm):
    """Instance norm of (N, C, L) or (C, L)."""
    _nd = 1


class InstanceNorm2d(_InstanceNorm):
    """Instance norm of (N, C, H, W) or (C, H, W)."""
    _nd = 2


BatchNorm = BatchNorm1d          # flodl's name
InstanceNorm = InstanceNorm2d    # flodl's name


# ============================================================ registry entries
# References normalise with np.mean / np.var over the documented axes.


def _normalize(x, axes, eps, mean=None, var=None):
    if mean is None:
        mean = x.mean(axis=axes, keepdims=True)
        var = x.var(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps)


def _affine(y, state, shape):
    if "weight" in state:
        y = y * state["weight"].reshape(shape)
    if "bias" in state:
        y = y + state["bias"].reshape(shape)
    return y


def _perturb(module):
    """Non-trivial affine parameters (and running stats) so the reference sees them."""
    rng = np.random.default_rng(3)
    for t in module.parameters() + [b for b in module.buffers() if b._data.dtype.kind == "f"]:
        d = t._data
        d[...] = (rng.uniform(0.5, 1.5, d.shape) if "var" in _name_of(module, t)
                  else rng.standard_normal(d.shape)).astype(d.dtype)
    return module


def _name_of(module, t):
    for n, v in module.named_parameters() + module.named_buffers():
        if v is t:
            return n
    return ""


def _ref_layer_norm(state, x, training):
    ns = state["weight"].shape
    axes = tuple(range(x.ndim - len(ns), x.ndim))
    return _affine(_normalize(x, axes, 1e-5), state, ns)


def _ref_rms_norm(state, x, training):
    ns = state["weight"].shape
    axes = tuple(range(x.ndim - len(ns), x.ndim))
    return x / np.sqrt((x ** 2).mean(axis=axes, keepdims=True) + 1e-6) * state["weight"]


def _ref_group_norm(state, x, training, groups=2):
    n, c = x.shape[:2]
    xg = x.reshape(n, groups, -1)
    y = _normalize(xg, (2,), 1e-5).reshape(x.shape)
    return _affine(y, state, (1, c) + (1,) * (x.ndim - 2))


def _ref_batch_norm(state, x, training, eps=1e-5):
    c = x.shape[1]
    shape = (1, c) + (1,) * (x.ndim - 2)
    axes = (0,) + tuple(range(2, x.ndim))
    if training:
        y = _normalize(x, axes, eps)
    else:
        y = _normalize(x, axes, eps, state["running_mean"].reshape(shape),
                       state["running_var"].reshape(shape))
    return _affine(y, state, shape)


def _ref_instance_norm(state, x, training, nd, use_running_in_eval):
    unbatched = x.ndim == nd + 1
    xb = x[None] if unbatched else x
    c = xb.shape[1]
    shape = (1, c) + (1,) * nd
    axes = tuple(range(2, xb.ndim))
    if training or not use_running_in_eval:
        y = _normalize(xb, axes, 1e-5)
    else:
        y = _normalize(xb, axes, 1e-5, state["running_mean"].reshape(shape),
                       state["running_var"].reshape(shape))
    y = _affine(y, state, shape)
    return y[0] if unbatched else y


def _randn(*shapes):
    return lambda rng: [(rng.standard_normal(s),) for s in shapes]


register_module(ModuleInfo(
    name="LayerNorm",
    make=lambda dtype: _perturb(LayerNorm((2, 3), dtype=dtype)),
    inputs=_randn((2, 2, 3), (2, 3)),
    ref=_ref_layer_norm))

register_module(ModuleInfo(
    name="RMSNorm",
    make=lambda dtype: _perturb(RMSNorm(4, eps=1e-6, dtype=dtype)),
    inputs=_randn((3, 4), (2, 2, 4)),
    ref=_ref_rms_norm))

register_module(ModuleInfo(
    name="GroupNorm",
    make=lambda dtype: _perturb(GroupNorm(2, 4, dtype=dtype)),
    inputs=_randn((2, 4, 3), (2, 4, 2, 2), (3, 4)),
    ref=_ref_group_norm))

register_module(ModuleInfo(
    name="BatchNorm1d",
    make=lambda dtype: _perturb(BatchNorm1d(3, dtype=dtype)),
    inputs=_randn((4, 3), (3, 3, 2)),
    ref=_ref_batch_norm))

register_module(ModuleInfo(
    name="BatchNorm",
    make=lambda dtype: _perturb(BatchNorm(2, momentum=None, dtype=dtype)),
    inputs=_randn((2, 2, 3)),
    ref=_ref_batch_norm))

register_module(ModuleInfo(
    name="BatchNorm2d",
    make=lambda dtype: _perturb(BatchNorm2d(2, dtype=dtype)),
    inputs=_randn((2, 2, 2, 3)),
    ref=_ref_batch_norm))

register_module(ModuleInfo(
    name="InstanceNorm1d",
    make=lambda dtype: _perturb(InstanceNorm1d(2, affine=True, track_running_stats=True,
                                               dtype=dtype)),
    inputs=_randn((2, 2, 4), (2, 3)),
    ref=lambda state, x, training: _ref_instance_norm(state, x, training, 1, True)))

register_module(ModuleInfo(
    name="InstanceNorm2d",
    make=lambda dtype: InstanceNorm2d(3, dtype=dtype),
    inputs=_randn((2, 3, 2, 3), (3, 2, 2)),
    ref=lambda state, x, training: _ref_instance_norm(state, x, training, 2, False)))

register_module(ModuleInfo(
    name="InstanceNorm",
    make=lambda dtype: _perturb(InstanceNorm(2, affine=True, dtype=dtype)),
    inputs=_randn((1, 2, 3, 2)),
    ref=lambda state, x, training: _ref_instance_norm(state, x, training, 2, False)))
