"""Pooling: max_pool1d/2d, avg_pool1d/2d, adaptive_avg_pool2d, adaptive_max_pool2d.

Semantics and argument names follow ``torch.nn.functional``. The pooled dims
are the last 1 or 2; every leading dim is a batch dim, so unbatched ``(C, H, W)``
inputs work as in PyTorch.

A pooling geometry (:class:`_Windows`) describes, per pooled axis, the position
in the padded input of tap ``k`` of window ``i``: ``i * stride + k * dilation``
for strided pooling (a strided slice per kernel offset, so the forward is one
vectorised reduction over a handful of views), or a small table for adaptive
pooling whose windows do not divide the input evenly (taps past a short
window's end point at one extra padding element).

Max pooling keeps, per output, the kernel offset of its window's first maximum
(row-major order; NaN wins, as in PyTorch). Its backward :class:`MaxPoolScatter`
writes the gradient at those positions, and the scatter's backward is
:class:`MaxPool` again with the offsets fixed (a gather), so every order of
derivative stays in the pair. Average pooling is linear: :class:`AvgPool` and
:class:`AvgPoolScatter` are each other's adjoint. Half types pool in float32.
"""
from __future__ import annotations

import functools
import itertools
import numbers

import numpy as np

from ...errors import ShapeError
from ...tensor import Tensor, TensorLike
from ..function import Function, op_function
from ..variable import Variable
from ._util import require_float, upcast, xp


# ------------------------------------------------------------------ helpers


def _int(op, what, v) -> int:
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise TypeError(f"{op}: {what} must be an int, got {type(v).__name__} {v!r}")
    return int(v)


def _ntuple(op, what, v, n) -> tuple:
    """An int or a sequence of 1 or ``n`` ints as an ``n``-tuple."""
    if isinstance(v, (list, tuple)):
        if len(v) == 1:
            v = tuple(v) * n
        if len(v) != n:
            raise ShapeError(f"{op}: {what} must be an int or a sequence of {n} ints, "
                             f"got {tuple(v)}")
        return tuple(_int(op, what, e) for e in v)
    return (_int(op, what, v),) * n


def _fmt(v) -> str:
    return str(v[0]) if len(set(v)) == 1 else str(tuple(v))


def _check_input(op, x, nsp):
    if not isinstance(x, TensorLike):
        raise TypeError(f"{op}: input must be a tensor, got {type(x).__name__}")
    require_float(op, x._data)
    shape = x.shape
    if len(shape) not in (nsp + 1, nsp + 2):
        raise ShapeError(f"{op}: expected a {nsp + 1}-d (unbatched) or {nsp + 2}-d (batched) "
                         f"input, got shape {shape}")
    if any(n == 0 for n in shape[len(shape) - nsp - 1:]):
        raise ShapeError(f"{op}: expected non-empty channel and spatial dims, got shape "
                         f"{shape}")


def _on(m, arr):
    """A host array on the array module ``m`` (NumPy or CuPy)."""
    return arr if m is np else m.asarray(arr)


# ----------------------------------------------------------------- geometry


class _Windows:
    """Where the taps of every pooling window sit, per pooled (trailing) axis.

    ``tables[a]`` is an (out, taps) int array of positions in the padded input
    (which has ``lo[a]`` elements of padding before and ``hi[a]`` after). Axes
    with ``steps[a] = (stride, dilation)`` are sliced; the others are indexed
    with their table.
    """

    __slots__ = ("in_sizes", "out_sizes", "taps", "lo", "hi", "steps", "tables",
                 "offsets", "assign", "cover", "_dev")

    def __init__(self, in_sizes, tables, lo, hi, steps):
        self.in_sizes = tuple(in_sizes)
        self.tables = tuple(tables)
        self.out_sizes = tuple(t.shape[0] for t in tables)
        self.taps = tuple(t.shape[1] for t in tables)
        self.lo, self.hi, self.steps = tuple(lo), tuple(hi), tuple(steps)
        self.offsets = list(itertools.product(*(range(k) for k in self.taps)))
        # Distinct positions on every axis: no two taps of any windows coincide,
        # so scatters may assign instead of accumulate.
        self.assign = all(np.unique(t).size == t.size for t in tables)
        padded = [n + a + b for n, a, b in zip(in_sizes, lo, hi)]
        self.cover = self.assign and all(t.size == p for t, p in zip(tables, padded))
        self._dev = {}

    @classmethod
    def strided(cls, in_sizes, out_sizes, kernel, stride, dilation, padding):
        tables, lo, hi, steps = [], [], [], []
        for n, o, k, s, d, p in zip(in_sizes, out_sizes, kernel, stride, dilation, padding):
            t = np.arange(o)[:, None] * s + np.arange(k)[None, :] * d
            tables.append(t)
            lo.append(p)
            hi.append(max(0, int(t.max()) + 1 - n - p))
            steps.append((s, d))
        return cls(in_sizes, tables, lo, hi, steps)

    @classmethod
    def adaptive(cls, in_sizes, out_sizes):
        """PyTorch's windows: start = floor(i*n/o), end = ceil((i+1)*n/o)."""
        tables, lo, hi, steps = [], [], [], []
        for n, o in zip(in_sizes, out_sizes):
            if n % o == 0:
                k = n // o
                tables.append(np.arange(o)[:, None] * k + np.arange(k)[None, :])
                lo.append(0)
                hi.append(0)
                steps.append((k, 1))
                continue
            i = np.arange(o)
            start = (i * n) // o
            end = -((-(i + 1) * n) // o)
            k = int((end - start).max())
            t = start[:, None] + np.arange(k)[None, :]
            t = np.where(t < end[:, None], t, n)   # past a short window: the pad element
            tables.append(t)
            lo.append(0)
            hi.append(1 if bool((t == n).any()) else 0)
            steps.append(None)
        return cls(in_sizes, tables, lo, hi, steps)

    def counts(self):
        """Per axis, how many taps of each window land inside the unpadded input."""
        return [((t >= a) & (t < a + n)).sum(axis=1)
                for t, a, n in zip(self.tables, self.lo, self.in_sizes)]

    # -------------------------------------------------------------- arrays
    def pad(self, x, value):
        nsp = len(self.in_sizes)
        if not any(self.lo) and not any(self.hi):
            return x
        m = xp(x)
        lead = x.shape[:x.ndim - nsp]
        shape = lead + tuple(n + a + b for n, a, b in zip(self.in_sizes, self.lo, self.hi))
        out = m.full(shape, value, dtype=x.dtype)
        out[(Ellipsis,) + tuple(slice(a, a + n) for a, n in zip(self.lo, self.in_sizes))] = x
        return out

    def crop(self, buf):
        if not any(self.lo) and not any(self.hi):
            return buf
        return buf[(Ellipsis,) + tuple(slice(a, a + n) for a, n in zip(self.lo, self.in_sizes))]

    def padded_shape(self, lead):
        return lead + tuple(n + a + b for n, a, b in zip(self.in_sizes, self.lo, self.hi))

    def keys(self, m):
        """(offset number, index key) for every kernel offset, on module ``m``."""
        keys = self._dev.get(m.__name__)
        if keys is None:
            tabled = [a for a, st in enumerate(self.steps) if st is None]
            keys = []
            for j, off in enumerate(self.offsets):
                items = []
                for a, k in enumerate(off):
                    st = self.steps[a]
                    if st is not None:
                        s, d = st
                        items.append(slice(k * d, k * d + (self.out_sizes[a] - 1) * s + 1, s))
                    else:
                        col = self.tables[a][:, k]
                        if len(tabled) == 2 and a == tabled[0]:
                            col = col[:, None]
                        items.append(_on(m, col))
                keys.append((j, (Ellipsis,) + tuple(items)))
            self._dev[m.__name__] = keys
        return keys

    def first_inside(self):
        """Per output position, the offset of the first tap at or after the
        input's start (PyTorch's initial argmax)."""
        first = [np.minimum(np.argmax(t >= a, axis=1), t.shape[1] - 1)
                 for t, a in zip(self.tables, self.lo)]
        flat = first[0]
        for a in range(1, len(first)):
            flat = flat[..., None] * self.taps[a] + first[a]
        return flat

    def has_tables(self) -> bool:
        return any(st is None for st in self.steps)

    def flat_indices(self, kidx):
        """Flat positions in each unpadded input plane of the taps ``kidx`` chose."""
        m = xp(kidx)
        per_axis = m.unravel_index(kidx.astype(np.int64), self.taps) \
            if len(self.taps) > 1 else (kidx.astype(np.int64),)
        nsp = len(self.taps)
        flat = None
        for a, ka in enumerate(per_axis):
            o = self.out_sizes[a]
            rows = _on(m, np.arange(o)).reshape((o,) + (1,) * (nsp - 1 - a))
            pos = _on(m, self.tables[a])[rows, ka] - self.lo[a]
            flat = pos if flat is None else flat * self.in_sizes[a] + pos
        return flat


def _out_size(n, k, s, d, p, ceil_mode) -> int:
    # PyTorch's formula, floor division included (a window may overhang the
    # padded input in ceil mode; the overhang counts as padding).
    o = (n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (o - 1) * s >= n + p:
        o -= 1
    return o


def _strided_windows(op, x, nsp, kernel_size, stride, padding, dilation, ceil_mode):
    kernel = _ntuple(op, "kernel_size", kernel_size, nsp)
    if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0):
        strides = kernel
    else:
        strides = _ntuple(op, "stride", stride, nsp)
    pads = _ntuple(op, "padding", padding, nsp)
    dil = _ntuple(op, "dilation", dilation, nsp)
    if any(k <= 0 for k in kernel):
        raise ShapeError(f"{op}: kernel_size must be positive, got {_fmt(kernel)}")
    if any(s <= 0 for s in strides):
        raise ShapeError(f"{op}: stride must be positive, got {_fmt(strides)}")
    if any(d <= 0 for d in dil):
        raise ShapeError(f"{op}: dilation must be positive, got {_fmt(dil)}")
    if any(p < 0 for p in pads):
        raise ShapeError(f"{op}: padding must be non-negative, got {_fmt(pads)}")
    if any(p > k // 2 for p, k in zip(pads, kernel)):
        raise ShapeError(f"{op}: padding {_fmt(pads)} must be at most half of kernel_size "
                         f"{_fmt(kernel)}")
    sizes = tuple(x.shape[-nsp:])
    outs = tuple(_out_size(n, k, s, d, p, bool(ceil_mode))
                 for n, k, s, d, p in zip(sizes, kernel, strides, dil, pads))
    if any(o < 1 for o in outs):
        eff = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dil))
        what = f"kernel_size {_fmt(kernel)}" + (
            f" (dilated to {_fmt(eff)})" if eff != kernel else "")
        padded = "x".join(str(n + 2 * p) for n, p in zip(sizes, pads))
        raise ShapeError(f"{op}: {what} larger than padded input {padded} "
                         f"(input shape {x.shape}, padding {_fmt(pads)})")
    return _cached_windows("strided", sizes, outs, kernel, strides, dil, pads)


@functools.lru_cache(maxsize=256)
def _cached_windows(kind, *args):
    """Geometries are immutable (their per-device keys are built once): share them."""
    return _Windows.strided(*args) if kind == "strided" else _Windows.adaptive(*args)


def _offset_dtype(n):
    return np.uint8 if n <= 255 else np.int32


# ------------------------------------------------------------------ max pool


class MaxPool(Function):
    """Max over each window. With ``kidx`` given, the tap at that kernel offset
    of each window instead (a gather: the backward of :class:`MaxPoolScatter`)."""

    __slots__ = ("win", "kidx")

    def __init__(self, win, kidx=None):
        self.win, self.kidx = win, kidx

    def forward(self, x):
        win = self.win
        m = xp(x)
        keys = win.keys(m)
        if self.kidx is not None:
            # The adjoint of MaxPoolScatter, which drops what lands on padding:
            # padding reads as 0 here.
            a = win.pad(upcast(x), 0)
            kidx = self.kidx
            out = m.zeros(x.shape[:x.ndim - len(win.taps)] + win.out_sizes, dtype=a.dtype)
            for j, key in keys:
                m.copyto(out, a[key], where=(kidx == j))
            return out if out.dtype == x.dtype else out.astype(x.dtype)
        a = win.pad(upcast(x), -np.inf)
        if len(keys) == 1:
            out = a[keys[0][1]]
            kidx = m.zeros(out.shape, dtype=np.uint8)
        else:
            out, kidx = _max_offsets(m, a, keys, len(keys))
        if any(win.lo) or any(win.hi):
            empty = out == -np.inf
            if bool(empty.any()):
                # No tap beats -inf: PyTorch reports the window's first tap that is
                # not before the input's start.
                kidx = m.where(empty, _on(m, win.first_inside()).astype(kidx.dtype), kidx)
        self.kidx = kidx
        return out.astype(x.dtype) if out.dtype != x.dtype else (
            out if out.base is None else out.copy())

    def backward(self, gy):
        return MaxPoolScatter(self.win, self.kidx, self.inputs[0].shape)(gy)


def _max_offsets(m, a, keys, n):
    """Window maxima and the offset of each window's first maximum (NaN wins).

    Branch-free: masked writes (``copyto(where=)``, ``where``) on random masks
    run 20x slower than arithmetic, so offsets are updated as
    ``kidx += upd * (j - kidx)``.
    """
    dt = _offset_dtype(n)
    v0 = a[keys[0][1]]
    v1 = a[keys[1][1]]
    kidx = (v1 > v0).astype(dt)
    out = m.maximum(v0, v1)
    for j, key in keys[2:]:
        v = a[key]
        upd = v > out
        step = m.subtract(dt(j), kidx)
        step *= upd
        kidx += step
        m.maximum(out, v, out=out)
    if bool(m.isnan(out).any()):
        # PyTorch's rule (``val > max || isnan(val)``): the last NaN of a window wins.
        out = v0.copy()
        kidx[...] = 0
        for j, key in keys[1:]:
            v = a[key]
            upd = (v > out) | m.isnan(v)
            m.copyto(kidx, dt(j), where=upd)
            m.copyto(out, v, where=upd)
    return out, kidx


class MaxPoolScatter(Function):
    """Zeros of the input's shape with ``g`` written at each window's chosen tap."""

    __slots__ = ("win", "kidx", "shape")

    def __init__(self, win, kidx, shape):
        self.win, self.kidx, self.shape = win, kidx, tuple(shape)

    def forward(self, g):
        win = self.win
        m = xp(g)
        gc = upcast(g)
        kidx = self.kidx
        lead = self.shape[:len(self.shape) - len(win.taps)]
        keys = win.keys(m)
        finite = len(keys) > 1 and bool(m.isfinite(gc).all())
        fill = m.empty if win.cover and finite and not win.has_tables() else m.zeros
        buf = fill(win.padded_shape(lead), dtype=gc.dtype)
        if win.has_tables():
            for j, key in keys:
                _add_at(buf, key, m.where(kidx == j, gc, 0))
        elif len(keys) == 1:
            buf[keys[0][1]] = gc
        elif win.assign and finite:
            # Multiplying by the 0/1 mask is branch-free (a masked copy is 20x
            # slower); it would spread NaN/Inf, hence the finiteness check.
            for j, key in keys:
                m.multiply(gc, kidx == j, out=buf[key])
        else:
            for j, key in keys:
                view = buf[key]
                view += m.where(kidx == j, gc, 0)
        out = win.crop(buf)
        if out.dtype != g.dtype:
            return out.astype(g.dtype)
        return out if out.base is None else out.copy()

    def backward(self, ggx):
        return MaxPool(self.win, self.kidx)(ggx)


def _add_at(out, key, values):
    m = xp(out)
    if m is np:
        np.add.at(out, key, values)
    else:
        from cupyx import scatter_add
        scatter_add(out, key, values)


def _max_pool(op, input, win, return_indices):
    fn = MaxPool(win)
    out = fn(input)
    if return_indices:
        # Like the outputs of a multi-output Function: a (constant) Variable for
        # Variable inputs, a Tensor for Tensors.
        idx = win.flat_indices(fn.kidx)
        return out, (Variable._make(idx) if input._is_variable else Tensor._wrap(idx))
    return out


@op_function
def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max over sliding windows of the last dim of a (N, C, L) or (C, L) tensor.

    With ``return_indices`` also returns, as an Int64 tensor, the position in L
    of each window's maximum (PyTorch's indices)."""
    _check_input("max_pool1d", input, 1)
    win = _strided_windows("max_pool1d", input, 1, kernel_size, stride, padding, dilation,
                           ceil_mode)
    return _max_pool("max_pool1d", input, win, return_indices)


@op_function
def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max over sliding windows of the last two dims of a (N, C, H, W) or (C, H, W)
    tensor, as torch.nn.functional.max_pool2d (padding counts as -inf; the first
    maximum in row-major order wins ties).

    With ``return_indices`` also returns the flat position ``h * W + w`` of each
    window's maximum (Int64)."""
    _check_input("max_pool2d", input, 2)
    win = _strided_windows("max_pool2d", input, 2, kernel_size, stride, padding, dilation,
                           ceil_mode)
    return _max_pool("max_pool2d", input, win, return_indices)


# ------------------------------------------------------------------ avg pool


class AvgPool(Function):
    """Sum of each window's taps (padding counts as zero) divided by ``divisor``
    (a number or an array over the output positions)."""

    __slots__ = ("win", "divisor")

    def __init__(self, win, divisor):
        self.win, self.divisor = win, divisor

    def forward(self, x):
        win = self.win
        m = xp(x)
        a = win.pad(upcast(x), 0)
        keys = win.keys(m)
        out = a[keys[0][1]]
        out = out + a[keys[1][1]] if len(keys) > 1 else out.copy()
        for _, key in keys[2:]:
            out += a[key]
        div = self.divisor
        if isinstance(div, float):
            out *= 1.0 / div
        else:
            out /= _on(m, div).astype(out.dtype)
        return out if out.dtype == x.dtype else out.astype(x.dtype)

    def backward(self, gy):
        return AvgPoolScatter(self.win, self.divisor, self.inputs[0].shape)(gy)


class AvgPoolScatter(Function):
    """The adjoint of :class:`AvgPool`: ``g / divisor`` added at every tap."""

    __slots__ = ("win", "divisor", "shape")

    def __init__(self, win, divisor, shape):
        self.win, self.divisor, self.shape = win, divisor, tuple(shape)

    def forward(self, g):
        win = self.win
        m = xp(g)
        gc = upcast(g)
        div = self.divisor
        gd = gc * (1.0 / div) if isinstance(div, float) else gc / _on(m, div).astype(gc.dtype)
        lead = self.shape[:len(self.shape) - len(win.taps)]
        shape = win.padded_shape(lead)
        keys = win.keys(m)
        if win.has_tables():
            buf = m.zeros(shape, dtype=gd.dtype)
            for _, key in keys:
                _add_at(buf, key, gd)
        elif win.assign:
            buf = m.empty(shape, dtype=gd.dtype) if win.cover else m.zeros(shape, dtype=gd.dtype)
            for _, key in keys:
                buf[key] = gd
        else:
            buf = m.zeros(shape, dtype=gd.dtype)
            for _, key in keys:
                view = buf[key]
                view += gd
        out = win.crop(buf)
        if out.dtype != g.dtype:
            return out.astype(g.dtype)
        return out if out.base is None else out.copy()

    def backward(self, ggx):
        return AvgPool(self.win, self.divisor)(ggx)


def _avg_divisor(op, win, count_include_pad, divisor_override):
    if divisor_override is not None:
        d = _int(op, "divisor_override", divisor_override)
        if d == 0:
            raise ShapeError(f"{op}: divisor_override must be non-zero, got 0")
        return float(d)
    per_axis = []
    for t, a, n in zip(win.tables, win.lo, win.in_sizes):
        if count_include_pad:
            # PyTorch counts padding but not taps past the padded input's end.
            c = (t < n + 2 * a).sum(axis=1)
        else:
            c = ((t >= a) & (t < a + n)).sum(axis=1)
        per_axis.append(c)
    div = per_axis[0].astype(np.float64)
    for c in per_axis[1:]:
        div = div[..., None] * c
    if np.all(div == div.flat[0]):
        return float(div.flat[0])
    return div


def _avg_pool(op, input, nsp, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override):
    _check_input(op, input, nsp)
    win = _strided_windows(op, input, nsp, kernel_size, stride, padding, 1, ceil_mode)
    return AvgPool(win, _avg_divisor(op, win, bool(count_include_pad), divisor_override))(input)


@op_function
def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """Mean over sliding windows of the last dim of a (N, C, L) or (C, L) tensor."""
    return _avg_pool("avg_pool1d", input, 1, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, None)


@op_function
def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """Mean over sliding windows of the last two dims of a (N, C, H, W) or (C, H, W)
    tensor, as torch.nn.functional.avg_pool2d: zero padding counted in the divisor
    unless ``count_include_pad`` is False; ``divisor_override`` replaces it."""
    return _avg_pool("avg_pool2d", input, 2, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


# ------------------------------------------------------------ adaptive pools


def _adaptive_windows(op, x, output_size):
    _check_input(op, x, 2)
    sizes = x.shape[-2:]
    if isinstance(output_size, (list, tuple)):
        if len(output_size) != 2:
            raise ShapeError(f"{op}: output_size must be an int or a pair, got "
                             f"{tuple(output_size)}")
        outs = tuple(n if o is None else _int(op, "output_size", o)
                     for o, n in zip(output_size, sizes))
    else:
        outs = (_int(op, "output_size", output_size),) * 2
    if any(o <= 0 for o in outs):
        raise ShapeError(f"{op}: output_size must be positive, got {outs}")
    return _cached_windows("adaptive", tuple(sizes), outs)


@op_function
def adaptive_avg_pool2d(input, output_size):
    """Mean over PyTorch's adaptive windows (start = floor(i*H/out), end =
    ceil((i+1)*H/out)) giving an ``output_size`` (int, or pair; None keeps a dim)."""
    win = _adaptive_windows("adaptive_avg_pool2d", input, output_size)
    cH, cW = win.counts()
    div = cH[:, None].astype(np.float64) * cW[None, :]
    div = float(div.flat[0]) if np.all(div == div.flat[0]) else div
    return AvgPool(win, div)(input)


@op_function
def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max over PyTorch's adaptive windows; with ``return_indices`` also the flat
    position ``h * W + w`` of each maximum (Int64)."""
    win = _adaptive_windows("adaptive_max_pool2d", input, output_size)
    return _max_pool("adaptive_max_pool2d", input, win, return_indices)


FUNCTIONAL = ["max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool2d",
              "adaptive_max_pool2d"]
__all__ = []
