"""Parameter-free spatial layers: PixelShuffle, PixelUnshuffle, Upsample, Unfold,
Fold, ZeroPad2d, ReflectionPad2d, GaussianBlur (torch.nn / torchvision names).

Each wraps one op of ``nn.functional``; the layer checks the common mistakes
(wrong rank, channels that do not divide) first and names itself in the error.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ...errors import ShapeError
from .. import functional as F
from ..module import Module
from ..module_registry import ModuleInfo, register_module
from .linear import _layer_name, _tensor_input

__all__ = ["PixelShuffle", "PixelUnshuffle", "Upsample", "Unfold", "Fold", "ZeroPad2d",
           "ReflectionPad2d", "GaussianBlur"]


def _positive(name, what, v) -> int:
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v <= 0:
        raise ValueError(f"{name}: {what} must be a positive int, got {v!r}")
    return int(v)


def _need_rank(module, shape, ranks, layout):
    if len(shape) not in ranks:
        want = " or ".join(f"{r}-D" for r in ranks)
        raise ShapeError(f"{_layer_name(module)}: expected a {want} input {layout}, got shape "
                         f"{shape}")


class PixelShuffle(Module):
    """(*, C * r * r, H, W) -> (*, C, H * r, W * r) with r = ``upscale_factor``."""

    def __init__(self, upscale_factor):
        super().__init__()
        self.upscale_factor = _positive("PixelShuffle", "upscale_factor", upscale_factor)

    def forward(self, input):
        shape = _tensor_input(self, input)
        r = self.upscale_factor
        if len(shape) < 3:
            raise ShapeError(f"{_layer_name(self)}: expected an input (*, C, H, W) with at "
                             f"least 3 dims, got shape {shape}")
        if shape[-3] % (r * r):
            raise ShapeError(f"{_layer_name(self)}: input channels (dim -3) must be divisible "
                             f"by upscale_factor**2 = {r * r}, got shape {shape}")
        return F.pixel_shuffle(input, r)

    def extra_repr(self):
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """(*, C, H * r, W * r) -> (*, C * r * r, H, W) with r = ``downscale_factor``."""

    def __init__(self, downscale_factor):
        super().__init__()
        self.downscale_factor = _positive("PixelUnshuffle", "downscale_factor",
                                          downscale_factor)

    def forward(self, input):
        shape = _tensor_input(self, input)
        r = self.downscale_factor
        if len(shape) < 3:
            raise ShapeError(f"{_layer_name(self)}: expected an input (*, C, H, W) with at "
                             f"least 3 dims, got shape {shape}")
        if shape[-2] % r or shape[-1] % r:
            raise ShapeError(f"{_layer_name(self)}: input height and width must be divisible "
                             f"by downscale_factor {r}, got shape {shape}")
        return F.pixel_unshuffle(input, r)

    def extra_repr(self):
        return f"downscale_factor={self.downscale_factor}"


class Upsample(Module):
    """Resize the spatial dims (torch.nn.Upsample over ``F.interpolate``).

    Give ``size`` (int or per-dim tuple) or ``scale_factor``. Modes 'nearest'
    and 'nearest-exact' (3-D or 4-D input), 'linear' (3-D), 'bilinear' and
    'bicubic' (4-D); ``align_corners`` for the interpolating modes.
    """

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        if (size is None) == (scale_factor is None):
            raise ValueError("Upsample: give exactly one of size and scale_factor")
        self.size = tuple(size) if isinstance(size, (list, tuple)) else size
        if isinstance(scale_factor, (list, tuple)):
            self.scale_factor = tuple(float(s) for s in scale_factor)
        else:
            self.scale_factor = None if scale_factor is None else float(scale_factor)
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input):
        shape = _tensor_input(self, input)
        ranks = {"linear": (3,), "bilinear": (4,), "bicubic": (4,), "area": (4,)}.get(
            self.mode, (3, 4))
        layout = {(3,): "(N, C, L)", (4,): "(N, C, H, W)"}.get(ranks, "(N, C, L) or "
                                                                     "(N, C, H, W)")
        _need_rank(self, shape, ranks, layout)
        return F.interpolate(input, self.size, self.scale_factor, self.mode,
                             self.align_corners, self.recompute_scale_factor)

    def extra_repr(self):
        if self.scale_factor is not None:
            info = f"scale_factor={self.scale_factor!r}"
        else:
            info = f"size={self.size!r}"
        return info + f", mode={self.mode!r}"


class Unfold(Module):
    """Sliding blocks as columns (im2col): (N, C, H, W) -> (N, C * kH * kW, L)."""

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.kernel_size, self.dilation = kernel_size, dilation
        self.padding, self.stride = padding, stride

    def forward(self, input):
        shape = _tensor_input(self, input)
        _need_rank(self, shape, (3, 4), "(N, C, H, W) or unbatched (C, H, W)")
        return F.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")


class Fold(Module):
    """Columns back to an image (col2im; overlaps add up):
    (N, C * kH * kW, L) -> (N, C, *output_size)."""

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.output_size, self.kernel_size = output_size, kernel_size
        self.dilation, self.padding, self.stride = dilation, padding, stride

    def forward(self, input):
        shape = _tensor_input(self, input)
        _need_rank(self, shape, (2, 3), "(N, C * kH * kW, L) or unbatched (C * kH * kW, L)")
        return F.fold(input, self.output_size, self.kernel_size, self.dilation, self.padding,
                      self.stride)

    def extra_repr(self):
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, "
                f"dilation={self.dilation}, padding={self.padding}, stride={self.stride}")


def _pad4(name, padding):
    """An int or (left, right, top, bottom)."""
    if isinstance(padding, numbers.Integral) and not isinstance(padding, bool):
        pads = (int(padding),) * 4
    elif isinstance(padding, (tuple, list)) and len(padding) == 4 and all(
            isinstance(p, numbers.Integral) and not isinstance(p, bool) for p in padding):
        pads = tuple(int(p) for p in padding)
    else:
        raise ValueError(f"{name}: padding must be an int or a 4-tuple (left, right, top, "
                         f"bottom), got {padding!r}")
    return pads


class ZeroPad2d(Module):
    """Pad the last two dims (of any input with at least 2) with zeros: ``padding``
    is an int or (left, right, top, bottom); negative amounts crop."""

    def __init__(self, padding):
        super().__init__()
        self.padding = _pad4("ZeroPad2d", padding)

    def forward(self, input):
        shape = _tensor_input(self, input)
        if len(shape) < 2:
            raise ShapeError(f"{_layer_name(self)}: expected an input (*, H, W) with at least "
                             f"2 dims, got shape {shape}")
        return F.pad(input, self.padding)

    def extra_repr(self):
        return f"{self.padding}"


class ReflectionPad2d(Module):
    """Pad the last two dims by mirroring without repeating the edge: ``padding``
    is an int or (left, right, top, bottom), each smaller than that dim."""

    def __init__(self, padding):
        super().__init__()
        self.padding = _pad4("ReflectionPad2d", padding)
        if any(p < 0 for p in self.padding):
            raise ValueError(f"ReflectionPad2d: padding must be non-negative, got "
                             f"{self.padding}")

    def forward(self, input):
        shape = _tensor_input(self, input)
        _need_rank(self, shape, (3, 4), "(N, C, H, W) or (C, H, W)")
        left, right, top, bottom = self.padding
        h, w = shape[-2:]
        if max(left, right) >= w or max(top, bottom) >= h:
            raise ShapeError(f"{_layer_name(self)}: padding must be smaller than the input "
                             f"dim it pads (width {w}, height {h}), got shape {shape}")
        return F.pad(input, self.padding, mode="reflect")

    def extra_repr(self):
        return f"{self.padding}"


class GaussianBlur(Module):
    """Separable Gaussian blur of the last two dims with reflect padding (as
    torchvision's ``gaussian_blur``; the output keeps the input's shape).

    ``kernel_size``: odd int or (kx, ky); ``sigma``: a number or (sx, sy), used
    as given (torchvision's ``GaussianBlur`` samples sigma from a range; this
    layer is deterministic). Give either or both: without ``kernel_size`` it is
    ``2 * ceil(3 * sigma) + 1`` (flodl's and OpenCV's rule); without ``sigma`` it
    is ``0.3 * ((k - 1) / 2 - 1) + 0.8``.
    """

    def __init__(self, kernel_size=None, sigma=None):
        super().__init__()
        if kernel_size is None and sigma is None:
            raise ValueError("GaussianBlur: give kernel_size, sigma or both")
        if kernel_size is None:
            sig = sigma if isinstance(sigma, (tuple, list)) else (sigma, sigma)
            kernel_size = tuple(2 * math.ceil(3 * float(s)) + 1 for s in sig)
        self.kernel_size = tuple(kernel_size) if isinstance(kernel_size, (tuple, list)) \
            else kernel_size
        self.sigma = tuple(sigma) if isinstance(sigma, (tuple, list)) else sigma

    def forward(self, input):
        shape = _tensor_input(self, input)
        if len(shape) < 2:
            raise ShapeError(f"{_layer_name(self)}: expected an input (*, H, W) with at least "
                             f"2 dims, got shape {shape}")
        return F.gaussian_blur_2d(input, self.kernel_size, self.sigma)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, sigma={self.sigma}"


# ------------------------------------------------------------ registry entries


def _pixel_shuffle_ref(x, r):
    *lead, c, h, w = x.shape
    out = np.empty((*lead, c // (r * r), h * r, w * r))
    for ch in range(c // (r * r)):
        for i in range(r):
            for j in range(r):
                out[..., ch, i::r, j::r] = x[..., ch * r * r + i * r + j, :, :]
    return out


def _pixel_unshuffle_ref(x, r):
    *lead, c, h, w = x.shape
    out = np.empty((*lead, c * r * r, h // r, w // r))
    for ch in range(c):
        for i in range(r):
            for j in range(r):
                out[..., ch * r * r + i * r + j, :, :] = x[..., ch, i::r, j::r]
    return out


def _bilinear_axis(n_in, n_out, scale):
    """Source index pairs and weights along one axis (align_corners=False)."""
    src = (np.arange(n_out) + 0.5) / scale - 0.5
    src = np.maximum(src, 0.0)
    i0 = np.minimum(np.floor(src).astype(int), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    lam = src - i0
    return i0, i1, lam


def _upsample_bilinear_ref(state, x, training):
    n, c, h, w = x.shape
    r0, r1, ly = _bilinear_axis(h, 2 * h, 2.0)
    c0, c1, lx = _bilinear_axis(w, 2 * w, 2.0)
    rows = x[:, :, r0, :] * (1 - ly)[:, None] + x[:, :, r1, :] * ly[:, None]
    return rows[..., c0] * (1 - lx) + rows[..., c1] * lx


def _unfold_ref(x, k, d, p, s):
    n, c, h, w = x.shape
    xp_ = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    oh = (h + 2 * p - d * (k - 1) - 1) // s + 1
    ow = (w + 2 * p - d * (k - 1) - 1) // s + 1
    out = np.zeros((n, c * k * k, oh * ow))
    for ch in range(c):
        for i in range(k):
            for j in range(k):
                for a in range(oh):
                    for b in range(ow):
                        out[:, ch * k * k + i * k + j, a * ow + b] = \
                            xp_[:, ch, a * s + i * d, b * s + j * d]
    return out


def _fold_ref(cols, size, k, d, p, s):
    n, ckk, L = cols.shape
    c = ckk // (k * k)
    h, w = size
    out = np.zeros((n, c, h + 2 * p, w + 2 * p))
    oh = (h + 2 * p - d * (k - 1) - 1) // s + 1
    ow = (w + 2 * p - d * (k - 1) - 1) // s + 1
    for ch in range(c):
        for i in range(k):
            for j in range(k):
                for a in range(oh):
                    for b in range(ow):
                        out[:, ch, a * s + i * d, b * s + j * d] += \
                            cols[:, ch * k * k + i * k + j, a * ow + b]
    return out[:, :, p:p + h, p:p + w]


def _blur_ref(x, k, sigma):
    half = (k - 1) / 2
    t = np.linspace(-half, half, k)
    g = np.exp(-0.5 * (t / sigma) ** 2)
    g /= g.sum()
    r = k // 2
    xp_ = np.pad(x, ((0, 0),) * (x.ndim - 2) + ((r, r), (r, r)), mode="reflect")
    h, w = x.shape[-2:]
    out = np.zeros_like(x)
    for i in range(k):
        for j in range(k):
            out += g[i] * g[j] * xp_[..., i:i + h, j:j + w]
    return out


def _img(rng, *shape):
    return rng.standard_normal(shape)


register_module(ModuleInfo(
    name="PixelShuffle",
    make=lambda dtype: PixelShuffle(2),
    inputs=lambda rng: [(_img(rng, 1, 8, 2, 3),), (_img(rng, 4, 2, 2),)],
    ref=lambda state, x, training: _pixel_shuffle_ref(x, 2)))

register_module(ModuleInfo(
    name="PixelUnshuffle",
    make=lambda dtype: PixelUnshuffle(2),
    inputs=lambda rng: [(_img(rng, 1, 2, 4, 2),), (_img(rng, 1, 4, 2),)],
    ref=lambda state, x, training: _pixel_unshuffle_ref(x, 2)))

register_module(ModuleInfo(
    name="Upsample",
    make=lambda dtype: Upsample(scale_factor=2, mode="bilinear", align_corners=False),
    inputs=lambda rng: [(_img(rng, 1, 2, 3, 2),)],
    ref=_upsample_bilinear_ref))

register_module(ModuleInfo(
    name="Unfold",
    make=lambda dtype: Unfold(kernel_size=2, dilation=1, padding=1, stride=2),
    inputs=lambda rng: [(_img(rng, 2, 2, 3, 4),)],
    ref=lambda state, x, training: _unfold_ref(x, 2, 1, 1, 2)))

register_module(ModuleInfo(
    name="Fold",
    make=lambda dtype: Fold(output_size=(3, 4), kernel_size=2, dilation=1, padding=0,
                            stride=1),
    inputs=lambda rng: [(_img(rng, 2, 8, 6),)],
    ref=lambda state, x, training: _fold_ref(x, (3, 4), 2, 1, 0, 1)))

register_module(ModuleInfo(
    name="ZeroPad2d",
    make=lambda dtype: ZeroPad2d((1, 0, 2, 1)),
    inputs=lambda rng: [(_img(rng, 1, 2, 2, 3),), (_img(rng, 2, 2, 2),)],
    ref=lambda state, x, training: np.pad(x, ((0, 0),) * (x.ndim - 2) + ((2, 1), (1, 0)))))

register_module(ModuleInfo(
    name="ReflectionPad2d",
    make=lambda dtype: ReflectionPad2d((1, 2, 2, 0)),
    inputs=lambda rng: [(_img(rng, 1, 2, 3, 3),), (_img(rng, 2, 3, 4),)],
    ref=lambda state, x, training: np.pad(x, ((0, 0),) * (x.ndim - 2) + ((2, 0), (1, 2)),
                                          mode="reflect")))

register_module(ModuleInfo(
    name="GaussianBlur",
    make=lambda dtype: GaussianBlur(kernel_size=3, sigma=0.8),
    inputs=lambda rng: [(_img(rng, 1, 2, 4, 5),), (_img(rng, 3, 3),)],
    ref=lambda state, x, training: _blur_ref(x, 3, 0.8)))
