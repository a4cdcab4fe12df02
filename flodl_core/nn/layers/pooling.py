"""Pooling layers: MaxPool1d/2d, AvgPool1d/2d, AdaptiveAvgPool2d, AdaptiveMaxPool2d.

Thin wrappers over ``F.max_pool*`` / ``F.avg_pool*`` / ``F.adaptive_*`` with
PyTorch's constructor arguments; they check the input's rank up front so a
mistake names the layer and its configuration.
"""
from __future__ import annotations

import numpy as np

from ...errors import ShapeError
from .. import functional as F
from ..module import Module
from ..module_registry import ModuleInfo, register_module

__all__ = ["MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool2d",
           "AdaptiveMaxPool2d"]

_LAYOUTS = {1: ("(N, C, L)", "(C, L)"), 2: ("(N, C, H, W)", "(C, H, W)")}


def _single(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,)


class _PoolBase(Module):
    """Shared rank check: (N, C, *spatial) or unbatched (C, *spatial)."""

    _nd = 2

    def _describe(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"

    def _check_input(self, input):
        nd = self._nd
        shape = tuple(getattr(input, "shape", ()))
        if len(shape) not in (nd + 1, nd + 2):
            batched, unbatched = _LAYOUTS[nd]
            raise ShapeError(f"{self._describe()}: expected {nd + 2}-D input {batched} or "
                             f"{nd + 1}-D {unbatched}, got {shape}")


class _MaxPoolNd(_PoolBase):
    _op = None

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding
        self.dilation = dilation
        self.return_indices = bool(return_indices)
        self.ceil_mode = bool(ceil_mode)

    def forward(self, input):
        self._check_input(input)
        return type(self)._op(input, self.kernel_size, self.stride, self.padding,
                              self.dilation, ceil_mode=self.ceil_mode,
                              return_indices=self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    """Max over sliding windows of (N, C, L) or (C, L); ``stride`` defaults to the kernel."""
    _nd = 1
    _op = staticmethod(F.max_pool1d)


class MaxPool2d(_MaxPoolNd):
    """Max over sliding windows of (N, C, H, W) or (C, H, W)."""
    _nd = 2
    _op = staticmethod(F.max_pool2d)


class AvgPool1d(_PoolBase):
    """Mean over sliding windows of (N, C, L) or (C, L)."""

    _nd = 1

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True):
        super().__init__()
        # torch stores AvgPool1d's arguments as 1-tuples
        self.kernel_size = _single(kernel_size)
        self.stride = _single(kernel_size if stride is None else stride)
        self.padding = _single(padding)
        self.ceil_mode = bool(ceil_mode)
        self.count_include_pad = bool(count_include_pad)

    def forward(self, input):
        self._check_input(input)
        return F.avg_pool1d(input, self.kernel_size, self.stride, self.padding,
                            self.ceil_mode, self.count_include_pad)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(_PoolBase):
    """Mean over sliding windows of (N, C, H, W) or (C, H, W)."""

    _nd = 2

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding
        self.ceil_mode = bool(ceil_mode)
        self.count_include_pad = bool(count_include_pad)
        self.divisor_override = divisor_override

    def forward(self, input):
        self._check_input(input)
        return F.avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(_PoolBase):
    """Mean over adaptive windows giving ``output_size`` (int, or pair; None keeps a dim)."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, input):
        self._check_input(input)
        return F.adaptive_avg_pool2d(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(_PoolBase):
    """Max over adaptive windows giving ``output_size``; ``return_indices`` also gives
    the flat ``h * W + w`` positions (Int64)."""

    def __init__(self, output_size, return_indices=False):
        super().__init__()
        self.output_size = output_size
        self.return_indices = bool(return_indices)

    def forward(self, input):
        self._check_input(input)
        return F.adaptive_max_pool2d(input, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


# ============================================================ registry entries
# References: explicit loops over output positions (windows from PyTorch's
# formulas), padding as -inf (max) or 0 (avg).


def _pair(v, nd):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * nd


def _out_size(n, k, s, p, d, ceil_mode):
    eff = d * (k - 1) + 1
    num = n + 2 * p - eff
    out = (-(-num // s) if ceil_mode else num // s) + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1   # the last window must start inside the input or left padding
    return out


def np_pool(x, kind, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
            count_include_pad=True):
    """Reference max/avg pooling over the last ``nd`` dims; returns (values, flat indices)."""
    nd = 2 if kind.endswith("2d") else 1
    k = _pair(kernel_size, nd)
    s = _pair(k if stride is None else stride, nd)
    p, d = _pair(padding, nd), _pair(dilation, nd)
    sizes = x.shape[-nd:]
    outs = [_out_size(n, kk, ss, pp, dd, ceil_mode) for n, kk, ss, pp, dd in
            zip(sizes, k, s, p, d)]
    lead = x.shape[:-nd]
    vals = np.zeros(lead + tuple(outs))
    idx = np.zeros(lead + tuple(outs), dtype=np.int64)
    for o in np.ndindex(*outs):
        taps = []
        for t in np.ndindex(*k):
            pos = [o[i] * s[i] - p[i] + t[i] * d[i] for i in range(nd)]
            ok = all(0 <= pos[i] < sizes[i] for i in range(nd))
            in_padded = all(pos[i] < sizes[i] + p[i] for i in range(nd))
            taps.append((pos, ok, in_padded))
        if kind.startswith("max"):
            best = np.full(lead, -np.inf)
            best_i = np.zeros(lead, dtype=np.int64)
            for pos, ok, _ in taps:
                if not ok:
                    continue
                v = x[(Ellipsis,) + tuple(pos)]
                flat = int(np.ravel_multi_index(pos, sizes))
                better = v > best
                best = np.where(better, v, best)
                best_i = np.where(better, flat, best_i)
            vals[(Ellipsis,) + o], idx[(Ellipsis,) + o] = best, best_i
        else:
            total = np.zeros(lead)
            for pos, ok, _ in taps:
                if ok:
                    total = total + x[(Ellipsis,) + tuple(pos)]
            if count_include_pad:
                count = sum(1 for _, _, inp in taps if inp)
            else:
                count = sum(1 for _, ok, _ in taps if ok)
            vals[(Ellipsis,) + o] = total / count
    return vals, idx


def np_adaptive_pool(x, kind, output_size):
    """Reference adaptive pooling (windows [floor(i*n/o), ceil((i+1)*n/o)))."""
    sizes = x.shape[-2:]
    outs = _pair(output_size, 2)
    outs = tuple(n if o is None else o for o, n in zip(outs, sizes))
    vals = np.zeros(x.shape[:-2] + outs)
    idx = np.zeros(x.shape[:-2] + outs, dtype=np.int64)
    for i in range(outs[0]):
        h0, h1 = (i * sizes[0]) // outs[0], -(-((i + 1) * sizes[0]) // outs[0])
        for j in range(outs[1]):
            w0, w1 = (j * sizes[1]) // outs[1], -(-((j + 1) * sizes[1]) // outs[1])
            win = x[..., h0:h1, w0:w1]
            if kind == "avg":
                vals[..., i, j] = win.mean(axis=(-2, -1))
            else:
                flat = win.reshape(win.shape[:-2] + (-1,))
                am = flat.argmax(axis=-1)
                vals[..., i, j] = flat.max(axis=-1)
                idx[..., i, j] = (h0 + am // win.shape[-1]) * sizes[1] + w0 + am % win.shape[-1]
    return vals, idx


def _distinct(rng, *shape):
    """Values with no ties (max pooling is not differentiable at ties)."""
    return rng.permutation(int(np.prod(shape))).reshape(shape) * 0.1 + rng.uniform(
        0, 0.01, shape)


register_module(ModuleInfo(
    name="MaxPool1d",
    make=lambda dtype: MaxPool1d(3, stride=2, padding=1, dilation=1, ceil_mode=True),
    inputs=lambda rng: [(_distinct(rng, 2, 2, 8),), (_distinct(rng, 2, 7),)],
    ref=lambda state, x, training: np_pool(x, "max1d", 3, 2, 1, 1, True)[0]))

register_module(ModuleInfo(
    name="MaxPool2d",
    make=lambda dtype: MaxPool2d(2, stride=1, padding=1, dilation=2, return_indices=True),
    inputs=lambda rng: [(_distinct(rng, 1, 2, 4, 5),), (_distinct(rng, 2, 3, 3),)],
    ref=lambda state, x, training: np_pool(x, "max2d", 2, 1, 1, 2)))

register_module(ModuleInfo(
    name="AvgPool1d",
    make=lambda dtype: AvgPool1d(3, stride=2, padding=1, ceil_mode=True,
                                 count_include_pad=False),
    inputs=lambda rng: [(rng.standard_normal((2, 2, 8)),), (rng.standard_normal((2, 6)),)],
    ref=lambda state, x, training: np_pool(x, "avg1d", 3, 2, 1, 1, True, False)[0]))

register_module(ModuleInfo(
    name="AvgPool2d",
    make=lambda dtype: AvgPool2d((2, 3), stride=(2, 1), padding=1),
    inputs=lambda rng: [(rng.standard_normal((1, 2, 4, 5)),), (rng.standard_normal((2, 3, 4)),)],
    ref=lambda state, x, training: np_pool(x, "avg2d", (2, 3), (2, 1), 1)[0]))

register_module(ModuleInfo(
    name="AdaptiveAvgPool2d",
    make=lambda dtype: AdaptiveAvgPool2d((2, 3)),
    inputs=lambda rng: [(rng.standard_normal((1, 2, 5, 4)),), (rng.standard_normal((2, 3, 7)),)],
    ref=lambda state, x, training: np_adaptive_pool(x, "avg", (2, 3))[0]))

register_module(ModuleInfo(
    name="AdaptiveMaxPool2d",
    make=lambda dtype: AdaptiveMaxPool2d((3, None), return_indices=True),
    inputs=lambda rng: [(_distinct(rng, 1, 2, 5, 4),), (_distinct(rng, 2, 4, 3),)],
    ref=lambda state, x, training: np_adaptive_pool(x, "max", (3, None))))
