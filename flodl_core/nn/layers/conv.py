"""Convolutions: Conv1d/2d/3d and ConvTranspose1d/2d/3d, as in PyTorch.

One base class per kind carries the whole layer; the dimension-specific
classes only name their rank and functional op::

    conv = Conv2d(3, 64, 3, padding=1)        # weight (64, 3, 3, 3), bias (64,)
    y = conv(x)                               # (N, 3, H, W) -> (N, 64, H, W)
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

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d",
           "ConvTranspose3d"]

_LAYOUTS = {1: ("(N, C, L)", "(C, L)"), 2: ("(N, C, H, W)", "(C, H, W)"),
            3: ("(N, C, D, H, W)", "(C, D, H, W)")}
_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _tuple(layer, name, value, nd, minimum):
    """An int or a sequence of ``nd`` ints (each >= minimum) as a tuple."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        vals = (int(value),) * nd
    elif isinstance(value, (tuple, list)) and len(value) == nd and all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value):
        vals = tuple(int(v) for v in value)
    else:
        raise TypeError(f"{layer}: {name} must be an int or a tuple of {nd} ints, got {value!r}")
    if min(vals) < minimum:
        what = "positive" if minimum == 1 else "non-negative"
        raise ValueError(f"{layer}: {name} must be {what}, got {vals}")
    return vals


def _count(layer, name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{layer}: {name} must be a positive int, got {value!r}")
    return int(value)


class _ConvBase(Module):
    """Shared by every convolution layer: arguments, parameters, input checks, repr."""

    _nd = 2
    _transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation,
                 groups, bias, output_padding, padding_mode, device, dtype):
        super().__init__()
        layer = type(self).__name__
        nd = self._nd
        self.in_channels = _count(layer, "in_channels", in_channels)
        self.out_channels = _count(layer, "out_channels", out_channels)
        self.groups = _count(layer, "groups", groups)
        if self.in_channels % self.groups:
            raise ValueError(f"{layer}: in_channels {in_channels} must be divisible by "
                             f"groups={groups}")
        if self.out_channels % self.groups:
            raise ValueError(f"{layer}: out_channels {out_channels} must be divisible by "
                             f"groups={groups}")
        self.kernel_size = _tuple(layer, "kernel_size", kernel_size, nd, 1)
        self.stride = _tuple(layer, "stride", stride, nd, 1)
        self.dilation = _tuple(layer, "dilation", dilation, nd, 1)
        if isinstance(padding, str):
            if self._transposed or padding not in ("same", "valid"):
                allowed = "an int or a tuple" if self._transposed else \
                    "'same', 'valid', an int or a tuple"
                raise ValueError(f"{layer}: padding must be {allowed}, got {padding!r}")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(f"{layer}: padding='same' is not supported for strided "
                                 f"convolutions (stride={self.stride})")
            self.padding = padding
        else:
            self.padding = _tuple(layer, "padding", padding, nd, 0)
        self.output_padding = _tuple(layer, "output_padding", output_padding, nd, 0)
        if self._transposed and any(o >= s and o >= d for o, s, d in
                                    zip(self.output_padding, self.stride, self.dilation)):
            raise ValueError(f"{layer}: output_padding {self.output_padding} must be smaller "
                             f"than either stride {self.stride} or dilation {self.dilation}")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{layer}: padding_mode must be one of {_PADDING_MODES}, got "
                             f"{padding_mode!r}")
        if self._transposed and padding_mode != "zeros":
            raise ValueError(f"{layer}: only padding_mode='zeros' is supported")
        self.padding_mode = padding_mode

        if self._transposed:
            shape = (self.in_channels, self.out_channels // self.groups) + self.kernel_size
        else:
            shape = (self.out_channels, self.in_channels // self.groups) + self.kernel_size
        # As torch: kaiming_uniform(a=sqrt(5)) gives U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with
        # fan_in = weight.shape[1] * prod(kernel), and the bias uses the same bound.
        self.weight = Parameter(init.kaiming_uniform(shape, a=math.sqrt(5), dtype=dtype,
                                                     device=device))
        if bias:
            bound = 1.0 / math.sqrt(shape[1] * math.prod(self.kernel_size))
            self.bias = Parameter(init.uniform((self.out_channels,), -bound, bound,
                                               dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)

    # ------------------------------------------------------------- checks
    def _describe(self) -> str:
        k = self.kernel_size
        k = k[0] if len(set(k)) == 1 else k
        return f"{type(self).__name__}({self.in_channels} -> {self.out_channels}, k={k})"

    def _check_input(self, input):
        nd, c = self._nd, self.in_channels
        shape = tuple(getattr(input, "shape", ()))
        if len(shape) not in (nd + 1, nd + 2) or shape[-nd - 1] != c:
            batched, unbatched = _LAYOUTS[nd]
            raise ShapeError(f"{self._describe()}: expected {nd + 2}-D input {batched} with "
                             f"C={c} (or unbatched {unbatched}), got {shape}")

    # --------------------------------------------------------------- repr
    def extra_repr(self) -> str:
        nd = self._nd
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * nd:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * nd:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * nd:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _ConvNd(_ConvBase):
    """Convolution over the last ``_nd`` dims (``_op`` is F.conv1d/2d/3d)."""

    _op = None

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", device=None,
                 dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, 0, padding_mode, device, dtype)

    def _explicit_padding(self):
        """(lo, hi) per spatial dim of the padding (for non-zero padding modes)."""
        if self.padding == "valid":
            return [(0, 0)] * self._nd
        if self.padding == "same":
            out = []
            for d, k in zip(self.dilation, self.kernel_size):
                total = d * (k - 1)
                out.append((total // 2, total - total // 2))
            return out
        return [(p, p) for p in self.padding]

    def forward(self, input):
        self._check_input(input)
        op = type(self)._op
        if self.padding_mode == "zeros":
            return op(input, self.weight, self.bias, self.stride, self.padding, self.dilation,
                      self.groups)
        pads = []
        for lo, hi in reversed(self._explicit_padding()):
            pads += [lo, hi]
        x = F.pad(input, pads, mode=self.padding_mode)
        return op(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class _ConvTransposeNd(_ConvBase):
    """Transposed convolution (``_op`` is F.conv_transpose1d/2d/3d)."""

    _transposed = True
    _op = None

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, output_padding, padding_mode, device, dtype)

    def _output_padding(self, input, output_size):
        """The output_padding that gives ``output_size`` (as torch's ``_output_padding``)."""
        if output_size is None:
            return self.output_padding
        nd = self._nd
        size = tuple(int(s) for s in output_size)
        if len(size) == nd + 2 or (len(size) == nd + 1 and input.ndim == nd + 1):
            size = size[-nd:]
        if len(size) != nd:
            raise ShapeError(f"{self._describe()}: output_size must have {nd} or {nd + 2} "
                             f"entries, got {tuple(output_size)}")
        out = []
        spatial = input.shape[-nd:]
        for i in range(nd):
            lo = ((spatial[i] - 1) * self.stride[i] - 2 * self.padding[i]
                  + self.dilation[i] * (self.kernel_size[i] - 1) + 1)
            hi = lo + self.stride[i] - 1
            if not lo <= size[i] <= hi:
                raise ShapeError(f"{self._describe()}: requested output size {size} is not "
                                 f"reachable from input {tuple(input.shape)}: dim {i} must "
                                 f"lie in [{lo}, {hi}]")
            out.append(size[i] - lo)
        return tuple(out)

    def forward(self, input, output_size=None):
        self._check_input(input)
        output_padding = self._output_padding(input, output_size)
        return type(self)._op(input, self.weight, self.bias, self.stride, self.padding,
                              output_padding, self.groups, self.dilation)


class Conv1d(_ConvNd):
    """1-D convolution of (N, C_in, L) (or unbatched (C_in, L)) to (N, C_out, L_out)."""
    _nd = 1
    _op = staticmethod(F.conv1d)


class Conv2d(_ConvNd):
    """2-D convolution of (N, C_in, H, W) (or unbatched (C_in, H, W))."""
    _nd = 2
    _op = staticmethod(F.conv2d)


class Conv3d(_ConvNd):
    """3-D convolution of (N, C_in, D, H, W) (or unbatched)."""
    _nd = 3
    _op = staticmethod(F.conv3d)


class ConvTranspose1d(_ConvTransposeNd):
    """Transposed 1-D convolution; weight (in, out/groups, kL)."""
    _nd = 1
    _op = staticmethod(F.conv_transpose1d)


class ConvTranspose2d(_ConvTransposeNd):
    """Transposed 2-D convolution; weight (in, out/groups, kH, kW)."""
    _nd = 2
    _op = staticmethod(F.conv_transpose2d)


class ConvTranspose3d(_ConvTransposeNd):
    """Transposed 3-D convolution; weight (in, out/groups, kD, kH, kW)."""
    _nd = 3
    _op = staticmethod(F.conv_transpose3d)


# ============================================================ registry entries
# The references below compute each output independently: a loop over kernel
# offsets with a per-group einsum (convolution), or a scatter-add of each
# offset's contribution (transposed convolution).


def _as_tuple(v, nd):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * nd


def np_conv(x, w, b=None, stride=1, padding=0, dilation=1, groups=1, padding_mode="zeros"):
    """Reference N-d convolution (batched input) in NumPy."""
    nd = x.ndim - 2
    stride, dilation = _as_tuple(stride, nd), _as_tuple(dilation, nd)
    k = w.shape[2:]
    if padding == "same":
        pads = [((d * (kk - 1)) // 2, d * (kk - 1) - (d * (kk - 1)) // 2)
                for d, kk in zip(dilation, k)]
    elif padding == "valid":
        pads = [(0, 0)] * nd
    else:
        pads = [(p, p) for p in _as_tuple(padding, nd)]
    np_mode = {"zeros": "constant", "reflect": "reflect", "replicate": "edge",
               "circular": "wrap"}[padding_mode]
    xp = np.pad(x, [(0, 0), (0, 0)] + pads, mode=np_mode)
    out = [(xp.shape[2 + i] - dilation[i] * (k[i] - 1) - 1) // stride[i] + 1 for i in range(nd)]
    n, o, cg = x.shape[0], w.shape[0], w.shape[1]
    og = o // groups
    y = np.zeros((n, o, *out))
    for kidx in np.ndindex(*k):
        sl = tuple(slice(kidx[i] * dilation[i], kidx[i] * dilation[i]
                         + stride[i] * (out[i] - 1) + 1, stride[i]) for i in range(nd))
        patch = xp[(slice(None), slice(None)) + sl]
        for g in range(groups):
            wk = w[(slice(g * og, (g + 1) * og), slice(None)) + kidx]
            y[:, g * og:(g + 1) * og] += np.einsum("nc...,oc->no...",
                                                   patch[:, g * cg:(g + 1) * cg], wk)
    if b is not None:
        y += b.reshape((1, -1) + (1,) * nd)
    return y


def np_conv_transpose(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1,
                      dilation=1):
    """Reference N-d transposed convolution (batched input) in NumPy."""
    nd = x.ndim - 2
    stride, dilation = _as_tuple(stride, nd), _as_tuple(dilation, nd)
    padding, output_padding = _as_tuple(padding, nd), _as_tuple(output_padding, nd)
    k = w.shape[2:]
    n, cin, size = x.shape[0], x.shape[1], x.shape[2:]
    og = w.shape[1]
    cg = cin // groups
    full = [(size[i] - 1) * stride[i] + dilation[i] * (k[i] - 1) + 1 + output_padding[i]
            for i in range(nd)]
    buf = np.zeros((n, og * groups, *full))
    for kidx in np.ndindex(*k):
        sl = tuple(slice(kidx[i] * dilation[i], kidx[i] * dilation[i]
                         + stride[i] * (size[i] - 1) + 1, stride[i]) for i in range(nd))
        for g in range(groups):
            wk = w[(slice(g * cg, (g + 1) * cg), slice(None)) + kidx]
            contrib = np.einsum("nc...,co->no...", x[:, g * cg:(g + 1) * cg], wk)
            buf[(slice(None), slice(g * og, (g + 1) * og)) + sl] += contrib
    out = tuple(slice(padding[i], full[i] - padding[i]) for i in range(nd))
    y = buf[(slice(None), slice(None)) + out]
    if b is not None:
        y = y + b.reshape((1, -1) + (1,) * nd)
    return y


def _batched_ref(fn, x, nd, **kw):
    if x.ndim == nd + 1:
        return fn(x[None], **kw)[0]
    return fn(x, **kw)


def _register_conv(cls, nd, kwargs, shapes, name=None):
    def ref(state, x, training):
        return _batched_ref(np_conv, x, nd, w=state["weight"], b=state.get("bias"),
                            stride=kwargs.get("stride", 1), padding=kwargs.get("padding", 0),
                            dilation=kwargs.get("dilation", 1),
                            groups=kwargs.get("groups", 1),
                            padding_mode=kwargs.get("padding_mode", "zeros"))
    register_module(ModuleInfo(
        name=name or cls.__name__,
        make=lambda dtype: cls(dtype=dtype, **kwargs),
        inputs=lambda rng: [(rng.standard_normal(s),) for s in shapes],
        ref=ref))


def _register_conv_transpose(cls, nd, kwargs, shapes):
    def ref(state, x, training):
        return _batched_ref(np_conv_transpose, x, nd, w=state["weight"], b=state.get("bias"),
                            stride=kwargs.get("stride", 1), padding=kwargs.get("padding", 0),
                            output_padding=kwargs.get("output_padding", 0),
                            groups=kwargs.get("groups", 1), dilation=kwargs.get("dilation", 1))
    register_module(ModuleInfo(
        name=cls.__name__,
        make=lambda dtype: cls(dtype=dtype, **kwargs),
        inputs=lambda rng: [(rng.standard_normal(s),) for s in shapes],
        ref=ref))


_register_conv(Conv1d, 1, dict(in_channels=2, out_channels=4, kernel_size=3, stride=2,
                               padding=1, dilation=1, groups=2),
               [(2, 2, 7), (2, 7)])
_register_conv(Conv2d, 2, dict(in_channels=2, out_channels=3, kernel_size=2, padding=1),
               [(1, 2, 3, 3), (2, 3, 3)])
_register_conv(Conv3d, 3, dict(in_channels=1, out_channels=2, kernel_size=(2, 1, 2),
                               stride=(1, 2, 1), dilation=(1, 1, 2), bias=False),
               [(1, 1, 3, 3, 4)])
_register_conv_transpose(ConvTranspose1d, 1, dict(in_channels=2, out_channels=4,
                                                  kernel_size=3, stride=2, padding=1,
                                                  output_padding=1, groups=2),
                         [(2, 2, 3), (2, 4)])
_register_conv_transpose(ConvTranspose2d, 2, dict(in_channels=2, out_channels=2,
                                                  kernel_size=2, stride=2, dilation=1),
                         [(1, 2, 2, 3), (2, 2, 2)])
_register_conv_transpose(ConvTranspose3d, 3, dict(in_channels=1, out_channels=2,
                                                  kernel_size=(1, 2, 2), stride=(1, 1, 2),
                                                  padding=(0, 1, 0), dilation=(1, 2, 1),
                                                  bias=True),
                         [(1, 1, 2, 2, 2)])
