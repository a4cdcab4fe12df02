"""Resampling: pad (all modes), pixel_shuffle/unshuffle, interpolate, grid_sample,
gaussian_blur_2d.

Semantics and argument names follow ``torch.nn.functional`` (and torchvision's
``gaussian_blur`` for the blur).

Every op here is linear in its input for a fixed geometry, so each is a pair of
Functions that are each other's adjoint, and double backward is free:

* reflect/replicate/circular padding gathers with one index array per padded
  dim (:class:`PadGather`); its adjoint (:class:`PadScatter`) adds the gradient
  back over the few contiguous runs each index array is made of (slices, never
  ``add.at``);
* interpolation is separable: per resized dim, a few taps with weights
  (:class:`Interp`), computed exactly as PyTorch computes its source indices
  (in float32 for nearest, in the input's precision otherwise); the adjoint
  (:class:`InterpAdjoint`) multiplies by the (out, in) interpolation matrix;
* grid_sample gathers the corners (:class:`GridGather`; its adjoint
  :class:`GridScatter` is a data-dependent scatter) and weighs them with
  bilinear weights built from the grid with the framework's own ops, so the
  gradient wrt the grid and every higher derivative come for free;
* the Gaussian blur is reflect padding plus a correlation along each of the two
  last dims (:class:`Correlate1d` / :class:`Correlate1dAdjoint`, kernel-offset
  slices).
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ...errors import DTypeError, ShapeError
from ...tensor import Tensor, TensorLike
from ..function import AUTOCAST_PROMOTE, Function, autocast_op, op_function, op_method
from ..grad_mode import state
from ..variable import Variable
from ._util import require_float, upcast, xp

_HALF_NAMES = ("float16", "bfloat16")


def _int(op, what, v) -> int:
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise TypeError(f"{op}: {what} must be an int, got {type(v).__name__} {v!r}")
    return int(v)


def _on(m, arr):
    return arr if m is np else m.asarray(arr)


def _tensor(op, x):
    if not isinstance(x, TensorLike):
        raise TypeError(f"{op}: input must be a tensor, got {type(x).__name__}")
    return x


def _axis_key(axis, s):
    """Index key applying slice/array ``s`` to the negative ``axis``."""
    return (Ellipsis, s) + (slice(None),) * (-axis - 1)


def _bshape(axis, n):
    """Shape that broadcasts a length-``n`` vector along the negative ``axis``."""
    return (n,) + (1,) * (-axis - 1)


# ====================================================================== pad

_MODES = {0: "constant", 1: "reflect", 2: "replicate", 3: "circular"}


def _segments(mode, n, lo, hi):
    """Runs ``(out_start, length, src_start, step)`` that make the padded index
    array of one dim of size ``n`` padded by ``lo`` before and ``hi`` after
    (negative amounts crop), in PyTorch's semantics."""
    segs = []
    if mode == "circular":
        # PyTorch crops first, then wraps around the cropped dim.
        c0 = max(-lo, 0)
        nc = n - c0 - max(-hi, 0)
        lo, hi = max(lo, 0), max(hi, 0)
        parts = ((-lo, 0, lambda v: c0 + v + nc, 1), (0, nc, lambda v: c0 + v, 1),
                 (nc, nc + hi, lambda v: c0 + v - nc, 1))
        vlo, vhi = -lo, nc + hi
    elif mode == "reflect":
        parts = ((-lo, 0, lambda v: -v, -1), (0, n, lambda v: v, 1),
                 (n, n + hi, lambda v: 2 * (n - 1) - v, -1))
        vlo, vhi = -lo, n + hi
    else:   # replicate
        parts = ((-lo, 0, lambda v: 0, 0), (0, n, lambda v: v, 1),
                 (n, n + hi, lambda v: n - 1, 0))
        vlo, vhi = -lo, n + hi
    for a, b, src, step in parts:
        a, b = max(a, vlo), min(b, vhi)
        if b > a:
            segs.append((a - vlo, b - a, src(a), step))
    return segs


def _segment_index(segs):
    parts = [np.arange(length) * step + src if step else np.full(length, src)
             for _, length, src, step in segs]
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)


class PadGather(Function):
    """Non-constant padding: ``x`` indexed along each padded dim by its run list.

    ``dims`` holds ``(axis, in_size, runs)`` per padded (negative) axis.
    """

    __slots__ = ("dims",)

    def __init__(self, dims):
        self.dims = dims

    def forward(self, x):
        m = xp(x)
        for axis, _, segs in self.dims:
            x = m.take(x, _on(m, _segment_index(segs)), axis=axis)
        return x

    def backward(self, gy):
        return PadScatter(self.dims)(gy)


class PadScatter(Function):
    """The adjoint of :class:`PadGather`: each run of the gradient added back
    (reversed for reflections, summed for replications) onto the input dims."""

    __slots__ = ("dims",)

    def __init__(self, dims):
        self.dims = dims

    def forward(self, g):
        m = xp(g)
        a = upcast(g)
        for axis, n, segs in reversed(self.dims):
            shape = list(a.shape)
            shape[axis] = n
            out = m.zeros(tuple(shape), dtype=a.dtype)
            for o, length, src, step in segs:
                part = a[_axis_key(axis, slice(o, o + length))]
                if step == 1:
                    view = out[_axis_key(axis, slice(src, src + length))]
                    view += part
                elif step == -1:
                    view = out[_axis_key(axis, slice(src - length + 1, src + 1))]
                    view += m.flip(part, axis=axis)
                else:
                    view = out[_axis_key(axis, slice(src, src + 1))]
                    view += part.sum(axis=axis, keepdims=True)
            a = out
        return a if a.dtype == g.dtype else a.astype(g.dtype)

    def backward(self, ggx):
        return PadGather(self.dims)(ggx)


def _pad_nonconstant(op, x, pad, mode):
    if isinstance(pad, TensorLike) or not isinstance(pad, (list, tuple)):
        raise TypeError(f"{op}: pad must be a list or tuple of ints, got {type(pad).__name__}")
    amounts = tuple(_int(op, "a padding amount", p) for p in pad)
    shape = x.shape
    k = len(amounts) // 2
    if len(amounts) not in (2, 4, 6) or x.ndim not in (k + 1, k + 2):
        raise ShapeError(f"{op}: mode '{mode}' pads the last 1, 2 or 3 dims of a tensor with "
                         f"1 or 2 more dims (padding of length 2 for a 2-d or 3-d input, 4 "
                         f"for 3-d or 4-d, 6 for 4-d or 5-d); got padding {amounts} for a "
                         f"{x.ndim}-d input of shape {shape}")
    require_float(op, x._data)
    dims = []
    for i in range(k):
        axis = -1 - i
        d = x.ndim + axis
        n = shape[d]
        lo, hi = amounts[2 * i], amounts[2 * i + 1]
        out = n + lo + hi
        if mode == "reflect":
            if lo >= n or hi >= n:
                raise ShapeError(f"{op}: reflect padding ({lo}, {hi}) of dim {d} must be "
                                 f"less than its size {n} (shape {shape})")
        elif mode == "circular":
            nc = n - max(-lo, 0) - max(-hi, 0)
            if lo > nc or hi > nc:
                raise ShapeError(f"{op}: circular padding ({lo}, {hi}) of dim {d} wraps "
                                 f"around more than once: each amount must be at most the "
                                 f"size {nc} left after cropping (shape {shape})")
        if out < 0 or (n == 0 and out > 0):
            raise ShapeError(f"{op}: padding ({lo}, {hi}) of dim {d} with size {n} gives "
                             f"size {out} (shape {shape}); expected a non-negative size "
                             f"and a non-empty dim to pad from")
        dims.append((axis, n, tuple(_segments(mode, n, lo, hi))))
    if all(lo == 0 and hi == 0 for lo, hi in zip(amounts[::2], amounts[1::2])):
        return x.reshape(shape)
    return PadGather(tuple(dims))(x)


def _mode_name(op, mode):
    if isinstance(mode, bool):
        raise TypeError(f"{op}: mode must be a string or an int, got bool")
    if isinstance(mode, numbers.Integral):
        if int(mode) not in _MODES:
            raise ValueError(f"{op}: mode {mode} is not one of 0 (constant), 1 (reflect), "
                             f"2 (replicate), 3 (circular)")
        return _MODES[int(mode)]
    if mode not in _MODES.values():
        raise ValueError(f"{op}: mode {mode!r} is not one of 'constant', 'reflect', "
                         f"'replicate', 'circular'")
    return mode


@op_function
def pad(input, pad, mode="constant", value=None):
    """Pad (or crop, with negative amounts) as torch.nn.functional.pad.

    ``pad`` lists (before, after) pairs starting from the last dim. Mode
    'constant' pads any dims with ``value`` (default 0); 'reflect' (mirror
    without repeating the edge), 'replicate' (repeat the edge) and 'circular'
    (wrap around) pad the last 1, 2 or 3 dims of a tensor with 1 or 2 leading
    (channel, batch) dims and take no value.
    """
    _tensor("pad", input)
    mode = _mode_name("pad", mode)
    if mode == "constant":
        return input.pad(pad, 0.0 if value is None else value)
    if value is not None:
        raise ValueError(f"pad: mode '{mode}' takes no value, got value={value!r}")
    return _pad_nonconstant("pad", input, pad, mode)


@op_method
def pad_mode(self, pad, mode, value=0.0):
    """``F.pad`` as a method: ``mode`` is 'constant', 'reflect', 'replicate',
    'circular' or flodl's int codes 0..3; ``value`` is used by constant mode only."""
    mode = _mode_name("pad_mode", mode)
    if mode == "constant":
        return self.pad(pad, value)
    return _pad_nonconstant("pad_mode", self, pad, mode)


# ========================================================== pixel (un)shuffle


def _factor(op, what, v) -> int:
    r = _int(op, what, v)
    if r <= 0:
        raise ShapeError(f"{op}: {what} must be positive, got {r}")
    return r


@op_function
def pixel_shuffle(input, upscale_factor):
    """(*, C*r*r, H, W) -> (*, C, H*r, W*r), as torch.nn.functional.pixel_shuffle."""
    _tensor("pixel_shuffle", input)
    r = _factor("pixel_shuffle", "upscale_factor", upscale_factor)
    shape = input.shape
    if len(shape) < 3:
        raise ShapeError(f"pixel_shuffle: expected an input with at least 3 dims "
                         f"(*, C, H, W), got shape {shape}")
    lead, (c, h, w) = shape[:-3], shape[-3:]
    if c % (r * r):
        raise ShapeError(f"pixel_shuffle: channels {c} not divisible by upscale_factor**2 "
                         f"= {r * r} (shape {shape})")
    n = len(lead)
    y = input.reshape(lead + (c // (r * r), r, r, h, w))
    y = y.permute(*range(n), n, n + 3, n + 1, n + 4, n + 2)
    return y.reshape(lead + (c // (r * r), h * r, w * r))


@op_function
def pixel_unshuffle(input, downscale_factor):
    """(*, C, H*r, W*r) -> (*, C*r*r, H, W), the inverse of pixel_shuffle."""
    _tensor("pixel_unshuffle", input)
    r = _factor("pixel_unshuffle", "downscale_factor", downscale_factor)
    shape = input.shape
    if len(shape) < 3:
        raise ShapeError(f"pixel_unshuffle: expected an input with at least 3 dims "
                         f"(*, C, H, W), got shape {shape}")
    lead, (c, h, w) = shape[:-3], shape[-3:]
    if h % r or w % r:
        raise ShapeError(f"pixel_unshuffle: height {h} and width {w} must be divisible by "
                         f"downscale_factor {r} (shape {shape})")
    n = len(lead)
    y = input.reshape(lead + (c, h // r, r, w // r, r))
    y = y.permute(*range(n), n, n + 2, n + 4, n + 1, n + 3)
    return y.reshape(lead + (c * r * r, h // r, w // r))


# ============================================================== interpolate


class _Taps:
    """Interpolation along one (negative) axis: ``idx`` and ``w`` are (taps, out)
    host arrays (``w`` None for nearest: one tap of weight 1)."""

    __slots__ = ("axis", "n_in", "idx", "w", "_matrix")

    def __init__(self, axis, n_in, idx, w):
        self.axis, self.n_in, self.idx, self.w = axis, n_in, idx, w
        self._matrix = None

    def matrix(self):
        """The (out, in) interpolation matrix (repeated taps add up)."""
        if self._matrix is None:
            n_out = self.idx.shape[1]
            mat = np.zeros((n_out, self.n_in), dtype=np.float64 if self.w is None
                           else self.w.dtype)
            rows = np.arange(n_out)
            for j in range(self.idx.shape[0]):
                # one tap per row: no repeated (row, col) pair within a tap
                mat[rows, self.idx[j]] += 1.0 if self.w is None else self.w[j]
            self._matrix = mat
        return self._matrix


class Interp(Function):
    """Resample one axis: the weighted sum of a few gathered taps."""

    __slots__ = ("taps",)

    def __init__(self, taps):
        self.taps = taps

    def forward(self, x):
        m = xp(x)
        t = self.taps
        axis = t.axis
        if t.w is None:
            return m.take(x, _on(m, t.idx[0]), axis=axis)
        a = upcast(x)
        n_out = t.idx.shape[1]
        out = None
        for j in range(t.idx.shape[0]):
            w = _on(m, t.w[j].astype(a.dtype, copy=False)).reshape(_bshape(axis, n_out))
            term = m.take(a, _on(m, t.idx[j]), axis=axis)
            term *= w
            if out is None:
                out = term
            else:
                out += term
        return out if out.dtype == x.dtype else out.astype(x.dtype)

    def backward(self, gy):
        return InterpAdjoint(self.taps)(gy)


class InterpAdjoint(Function):
    """The adjoint of :class:`Interp`: multiply by the transposed interpolation
    matrix (a BLAS product that accumulates taps shared by several outputs)."""

    __slots__ = ("taps",)

    def __init__(self, taps):
        self.taps = taps

    def forward(self, g):
        m = xp(g)
        t = self.taps
        a = upcast(g)
        mat = _on(m, t.matrix().astype(a.dtype, copy=False))
        if t.axis == -1:
            out = m.matmul(a, mat)
        else:
            moved = m.moveaxis(a, t.axis, -1)
            out = m.moveaxis(m.matmul(moved, mat), -1, t.axis)
            out = m.ascontiguousarray(out)
        return out if out.dtype == g.dtype else out.astype(g.dtype)

    def backward(self, ggx):
        return Interp(self.taps)(ggx)


def _scale_value(dt, scale, n_in, n_out):
    """PyTorch's compute_scales_value: 1/scale when given, else in/out, in ``dt``."""
    if scale is not None and scale > 0:
        return dt(1.0 / scale)
    return dt(n_in) / dt(n_out)


def _nearest_taps(axis, n_in, n_out, scale, exact, shortcuts):
    """PyTorch's nearest source indices. Its 2-d kernel (``shortcuts``) copies
    when out == in and halves the index when out == 2 * in, whatever the scale;
    its 1-d and 3-d kernels always use the scale."""
    if shortcuts and not exact and n_out == n_in:
        idx = np.arange(n_out)
    elif shortcuts and not exact and n_out == 2 * n_in:
        idx = np.arange(n_out) >> 1
    else:
        f32 = np.float32
        s = _scale_value(f32, scale, n_in, n_out)
        pos = np.arange(n_out).astype(f32)
        if exact:
            pos = pos + f32(0.5)
        idx = np.minimum(np.floor(pos * s).astype(np.int64), n_in - 1)
    return _Taps(axis, n_in, idx[None, :].astype(np.int64), None)


def _source_index(dt, n_in, n_out, align_corners, scale, cubic):
    """PyTorch's area_pixel_compute_scale + area_pixel_compute_source_index."""
    pos = np.arange(n_out).astype(dt)
    if align_corners:
        s = dt(n_in - 1) / dt(n_out - 1) if n_out > 1 else dt(0)
        return s * pos
    s = _scale_value(dt, scale, n_in, n_out)
    src = s * (pos + dt(0.5)) - dt(0.5)
    return src if cubic else np.maximum(src, dt(0))


def _guard(src, n_in, dt):
    """PyTorch's guard_index_and_lambda (floorf, then the fraction clamped to [0, 1])."""
    i0 = np.minimum(np.floor(src.astype(np.float32)).astype(np.int64), n_in - 1)
    lam = np.clip(src - i0.astype(dt), dt(0), dt(1)).astype(dt)
    return i0, lam


def _linear_taps(axis, n_in, n_out, scale, align_corners, dt):
    src = _source_index(dt, n_in, n_out, align_corners, scale, False)
    i0, lam = _guard(src, n_in, dt)
    i1 = i0 + (i0 < n_in - 1)
    return _Taps(axis, n_in, np.stack([i0, i1]), np.stack([dt(1) - lam, lam]).astype(dt))


def _cubic_taps(axis, n_in, n_out, scale, align_corners, dt):
    src = _source_index(dt, n_in, n_out, align_corners, scale, True)
    i0, t = _guard(src, n_in, dt)
    A = dt(-0.75)

    def conv1(x):   # |x| <= 1
        return ((A + dt(2)) * x - (A + dt(3))) * x * x + dt(1)

    def conv2(x):   # 1 < |x| < 2
        return ((A * x - dt(5) * A) * x + dt(8) * A) * x - dt(4) * A

    w = np.stack([conv2(t + dt(1)), conv1(t), conv1(dt(1) - t), conv2(dt(2) - t)]).astype(dt)
    idx = np.stack([np.clip(i0 - 1 + j, 0, n_in - 1) for j in range(4)])
    return _Taps(axis, n_in, idx, w)


_INTERP_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "bicubic", "area")


@op_function
def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize the spatial dims as torch.nn.functional.interpolate.

    Modes: 'nearest' and 'nearest-exact' (3-d or 4-d input), 'linear' (3-d),
    'bilinear', 'bicubic' and 'area' (4-d). Give exactly one of ``size`` (int or
    one per spatial dim) and ``scale_factor``; the output size is then
    floor(in * scale_factor) and, unless ``recompute_scale_factor``, the scale
    itself maps output to source coordinates, exactly as in PyTorch.
    """
    op = "interpolate"
    _tensor(op, input)
    require_float(op, input._data)
    if mode not in _INTERP_MODES:
        raise ValueError(f"{op}: mode {mode!r} is not one of {', '.join(_INTERP_MODES)}")
    nd = input.ndim
    want = {"linear": (3,), "bilinear": (4,), "bicubic": (4,), "area": (4,)}.get(mode, (3, 4))
    if nd not in want:
        raise ShapeError(f"{op}: mode '{mode}' expects a {' or '.join(f'{d}-d' for d in want)} "
                         f"input (N, C, {'L' if want == (3,) else 'H, W'}), got shape "
                         f"{input.shape}")
    if antialias:
        raise ValueError(f"{op}: antialias=True is not supported")
    interpolating = mode in ("linear", "bilinear", "bicubic")
    if align_corners is not None and not interpolating:
        raise ValueError(f"{op}: align_corners can only be set with the interpolating modes "
                         f"linear, bilinear and bicubic, got mode '{mode}'")
    align = bool(align_corners) if align_corners is not None else False
    nsp = nd - 2
    in_sizes = input.shape[2:]
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{op}: give exactly one of size and scale_factor, got "
                         f"size={size!r}, scale_factor={scale_factor!r}")
    if size is not None:
        if recompute_scale_factor:
            raise ValueError(f"{op}: recompute_scale_factor is not meaningful with an "
                             f"explicit size")
        sizes = tuple(size) if isinstance(size, (list, tuple)) else (size,) * nsp
        if len(sizes) != nsp:
            raise ShapeError(f"{op}: size {tuple(sizes)} must have one entry per spatial dim "
                             f"of the input shape {input.shape}")
        out_sizes = tuple(_int(op, "size", s) for s in sizes)
        scales = (None,) * nsp
    else:
        sf = tuple(scale_factor) if isinstance(scale_factor, (list, tuple)) \
            else (scale_factor,) * nsp
        if len(sf) != nsp:
            raise ShapeError(f"{op}: scale_factor {sf} must have one entry per spatial dim "
                             f"of the input shape {input.shape}")
        for s in sf:
            if isinstance(s, bool) or not isinstance(s, numbers.Real) or not s > 0:
                raise ValueError(f"{op}: scale_factor must be positive numbers, got {sf}")
        sf = tuple(float(s) for s in sf)
        out_sizes = tuple(int(math.floor(n * s)) for n, s in zip(in_sizes, sf))
        scales = (None,) * nsp if (recompute_scale_factor or mode == "area") else sf
    if any(o <= 0 for o in out_sizes) or any(n <= 0 for n in in_sizes):
        raise ShapeError(f"{op}: input and output sizes must be positive, got input "
                         f"{tuple(in_sizes)} and output {out_sizes}")
    if mode == "area":
        from .pool import adaptive_avg_pool2d
        return adaptive_avg_pool2d(input, out_sizes)
    dt = np.float64 if input._data.dtype == np.float64 else np.float32
    y = input
    for a in range(nsp):
        axis = a - nsp
        n, o, s = in_sizes[a], out_sizes[a], scales[a]
        if mode in ("nearest", "nearest-exact"):
            taps = _nearest_taps(axis, n, o, s, mode == "nearest-exact", nd == 4)
            if bool((taps.idx[0] == np.arange(o)).all()) and n == o:
                continue   # the identity
        elif mode == "bicubic":
            taps = _cubic_taps(axis, n, o, s, align, dt)
        elif n == o:
            continue   # PyTorch's linear kernels copy a dim whose size is unchanged
        else:
            taps = _linear_taps(axis, n, o, s, align, dt)
        y = Interp(taps)(y)
    return y if y is not input else input.reshape(input.shape)


# =============================================================== grid_sample


class GridGather(Function):
    """Corner values ``input[n, c, flat[n, k]]`` (zero where ``mask`` is False),
    shaped (N, C, *corner_shape). A second input (the grid, for nearest mode)
    receives a zero gradient (none under create_graph), as in PyTorch."""

    __slots__ = ("flat", "mask", "corner_shape")

    def __init__(self, flat, mask, corner_shape):
        self.flat, self.mask, self.corner_shape = flat, mask, tuple(corner_shape)

    def forward(self, x, *grid):
        m = xp(x)
        n, c = x.shape[:2]
        planes = x.reshape(n, c, -1)
        v = m.take_along_axis(planes, self.flat[:, None, :], axis=2)
        v = m.where(self.mask[:, None, :], v, m.zeros((), dtype=x.dtype))
        return v.reshape((n, c) + self.corner_shape)

    def backward(self, gy):
        gx = GridScatter(self.flat, self.mask, self.inputs[0].shape)(gy)
        if len(self.inputs) == 1:
            return gx
        if state.enabled:
            # Under create_graph a constant zero cannot be differentiated further
            # (and would be one more output for gradgradcheck): no gradient.
            return gx, None
        g = self.inputs[1]
        return gx, Variable._make(xp(g._data).zeros(g.shape, dtype=g._data.dtype))


class GridScatter(Function):
    """The adjoint of :class:`GridGather`: ``g`` added at each corner (a
    data-dependent scatter: ``add.at`` / ``cupyx.scatter_add``)."""

    __slots__ = ("flat", "mask", "shape")

    def __init__(self, flat, mask, shape):
        self.flat, self.mask, self.shape = flat, mask, tuple(shape)

    def forward(self, g):
        m = xp(g)
        n, c = self.shape[:2]
        a = upcast(g).reshape(n, c, -1)
        a = m.where(self.mask[:, None, :], a, m.zeros((), dtype=a.dtype))
        out = m.zeros((n, math.prod(self.shape[2:]), c), dtype=a.dtype)
        key = (m.arange(n)[:, None], self.flat)
        vals = m.ascontiguousarray(a.transpose(0, 2, 1))
        if m is np:
            np.add.at(out, key, vals)
        else:
            from cupyx import scatter_add
            scatter_add(out, key, vals)
        out = m.ascontiguousarray(out.transpose(0, 2, 1)).reshape(self.shape)
        return out if out.dtype == g.dtype else out.astype(g.dtype)

    def backward(self, ggx):
        return GridGather(self.flat, self.mask, self.inputs[0].shape[2:])(ggx)


def _unnormalize_array(coord, size, align_corners):
    """PyTorch's grid_sampler_unnormalize, in the grid's own precision."""
    dt = coord.dtype.type
    if align_corners:
        return ((coord + dt(1)) / dt(2)) * dt(size - 1)
    return ((coord + dt(1)) * dt(size) - dt(1)) / dt(2)


def _border_coords(m, c, size):
    """PyTorch's clip_coordinates for 'border' on pixel coordinates ``c`` (an
    array): (the clipped coordinates, their slope d clipped / d c). As in
    PyTorch's kernels (clip_coordinates_set_grad) the slope is 0 wherever the
    clip is active, including exactly on 0 and size - 1."""
    inside = (c > 0) & (c < size - 1)
    return m.clip(c, 0, size - 1), inside.astype(c.dtype)


def _reflect_coords(m, c, size, align_corners):
    """PyTorch's reflect_coordinates then clip_coordinates for 'reflection' on
    pixel coordinates ``c`` (an array): (the coordinates, their slope d result /
    d c). ``c`` is reflected about ``0`` and ``size - 1`` (align_corners) or about
    ``-0.5`` and ``size - 0.5``, as often as needed, then clipped to
    ``[0, size - 1]``. The slope is -1 on mirrored stretches, +1 on the others
    (reflect_coordinates_set_grad) and 0 wherever the clip is active, which
    includes every reflection border (clip_coordinates_set_grad)."""
    dt = c.dtype.type
    if align_corners:
        if size == 1:   # an empty span: everything maps to 0, with slope 0
            return m.zeros_like(c), m.zeros_like(c)
        low, twice_span = dt(0), dt(2 * (size - 1))
    else:
        low, twice_span = dt(-0.5), dt(2 * size)
    d = c - low
    extra = m.fmod(m.abs(d), twice_span)
    mirrored = twice_span - extra
    flip = extra > mirrored
    r = m.where(flip, mirrored, extra) + low
    sign = m.where(flip != (d < 0), dt(-1), dt(1))
    r, inside = _border_coords(m, r, size)
    return r, sign * inside


def _with_slope(t, new, slope):
    """A Variable equal to ``new`` whose gradient wrt ``t`` is ``slope`` (elementwise)."""
    return Tensor._wrap(new) + (t - Tensor._wrap(t._data)) * Tensor._wrap(slope)


@op_function
@autocast_op(AUTOCAST_PROMOTE)
def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """Sample ``input`` (N, C, H, W) at the normalised locations ``grid`` (N, Ho, Wo, 2)
    (x then y, in [-1, 1]) as torch.nn.functional.grid_sample.

    Modes 'bilinear' (gradients wrt input and grid, double backward too) and
    'nearest' (round half to even; the grid gets a zero gradient); padding
    'zeros', 'border' (clip to the edge pixels) or 'reflection' (mirror about the
    edges, then clip). ``align_corners`` None means False.
    """
    op = "grid_sample"
    _tensor(op, input)
    _tensor(op, grid)
    if mode not in ("bilinear", "nearest"):
        raise ValueError(f"{op}: mode {mode!r} is not one of 'bilinear', 'nearest'")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(f"{op}: padding_mode {padding_mode!r} is not one of 'zeros', "
                         f"'border', 'reflection'")
    require_float(op, input._data)
    require_float(op, grid._data)
    if input.ndim != 4:
        raise ShapeError(f"{op}: expected a 4-d input (N, C, H, W), got shape {input.shape}")
    if grid.ndim != 4 or grid.shape[-1] != 2 or grid.shape[0] != input.shape[0]:
        raise ShapeError(f"{op}: expected a grid of shape (N, H_out, W_out, 2) with N = "
                         f"{input.shape[0]}, got {grid.shape} for input {input.shape}")
    if input._data.dtype != grid._data.dtype:
        raise DTypeError(f"{op}: input and grid must have the same dtype, got "
                         f"{input.dtype.name} and {grid.dtype.name}")
    if any(s == 0 for s in input.shape[1:]):
        raise ShapeError(f"{op}: expected non-empty channel and spatial dims, got input "
                         f"shape {input.shape}")
    align = bool(align_corners) if align_corners is not None else False
    half = input._data.dtype.name in _HALF_NAMES
    if half:
        from ...backend.dtype import DType
        out_dtype = input.dtype
        input, grid = input.to_dtype(DType.Float32), grid.to_dtype(DType.Float32)
    n, _, h, w = input.shape
    oh, ow = grid.shape[1:3]
    m = xp(input._data)
    border = padding_mode == "border"
    reflection = padding_mode == "reflection"
    if mode == "nearest":
        g = grid._data
        ix = _unnormalize_array(g[..., 0], w, align)
        iy = _unnormalize_array(g[..., 1], h, align)
        if border:
            ix, iy = m.clip(ix, 0, w - 1), m.clip(iy, 0, h - 1)
        elif reflection:
            ix = _reflect_coords(m, ix, w, align)[0]
            iy = _reflect_coords(m, iy, h, align)[0]
        xi = m.rint(ix).astype(np.int64)
        yi = m.rint(iy).astype(np.int64)
        mask = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
        flat = m.clip(yi, 0, h - 1) * w + m.clip(xi, 0, w - 1)
        out = GridGather(flat.reshape(n, -1), mask.reshape(n, -1), (oh, ow))(input, grid)
    else:
        gx = grid[..., 0]
        gy = grid[..., 1]
        if align:
            ix = (gx + 1.0) * ((w - 1) / 2.0)
            iy = (gy + 1.0) * ((h - 1) / 2.0)
        else:
            ix = ((gx + 1.0) * float(w) - 1.0) / 2.0
            iy = ((gy + 1.0) * float(h) - 1.0) / 2.0
        if border:
            # not clamp(): PyTorch's slope is 0 on the clip boundary itself
            ix = _with_slope(ix, *_border_coords(m, ix._data, w))
            iy = _with_slope(iy, *_border_coords(m, iy._data, h))
        elif reflection:
            # mirrored stretches flip the slope; 0 where clipped (borders included)
            ix = _with_slope(ix, *_reflect_coords(m, ix._data, w, align))
            iy = _with_slope(iy, *_reflect_coords(m, iy._data, h, align))
        x0 = m.floor(ix._data)
        y0 = m.floor(iy._data)
        wx1 = ix - Tensor._wrap(x0)
        wy1 = iy - Tensor._wrap(y0)
        wx0 = 1.0 - wx1
        wy0 = 1.0 - wy1
        x0i, y0i = x0.astype(np.int64), y0.astype(np.int64)
        xs = m.stack([x0i, x0i + 1, x0i, x0i + 1], axis=1)      # (N, 4, Ho, Wo)
        ys = m.stack([y0i, y0i, y0i + 1, y0i + 1], axis=1)
        mask = (xs >= 0) & (xs < w) & (ys >= 0) & (ys < h)
        flat = m.clip(ys, 0, h - 1) * w + m.clip(xs, 0, w - 1)
        corners = GridGather(flat.reshape(n, -1), mask.reshape(n, -1), (4, oh, ow))(input)
        from .indexing import stack
        weights = stack([wy0 * wx0, wy0 * wx1, wy1 * wx0, wy1 * wx1], 1).unsqueeze(1)
        out = (corners * weights).sum_dim(2)
    if half:
        out = out.to_dtype(out_dtype)
    return out


# =========================================================== gaussian blur


class Correlate1d(Function):
    """Valid correlation of one (negative) axis with the weights ``w``."""

    __slots__ = ("axis", "w")

    def __init__(self, axis, w):
        self.axis, self.w = axis, w

    def forward(self, x):
        a = upcast(x)
        axis, w = self.axis, self.w
        k = len(w)
        n_out = a.shape[axis] - k + 1
        out = a[_axis_key(axis, slice(0, n_out))] * w[0]
        for j in range(1, k):
            out += a[_axis_key(axis, slice(j, j + n_out))] * w[j]
        return out if out.dtype == x.dtype else out.astype(x.dtype)

    def backward(self, gy):
        return Correlate1dAdjoint(self.axis, self.w)(gy)


class Correlate1dAdjoint(Function):
    """The adjoint of :class:`Correlate1d`: ``w[j] * g`` added at each kernel offset."""

    __slots__ = ("axis", "w")

    def __init__(self, axis, w):
        self.axis, self.w = axis, w

    def forward(self, g):
        m = xp(g)
        a = upcast(g)
        axis, w = self.axis, self.w
        k = len(w)
        n_out = a.shape[axis]
        shape = list(a.shape)
        shape[axis] = n_out + k - 1
        out = m.zeros(tuple(shape), dtype=a.dtype)
        for j in range(k):
            view = out[_axis_key(axis, slice(j, j + n_out))]
            view += a * w[j]
        return out if out.dtype == g.dtype else out.astype(g.dtype)

    def backward(self, ggx):
        return Correlate1d(self.axis, self.w)(ggx)


def _gaussian_kernel1d(k, sigma, dt):
    """torchvision's _get_gaussian_kernel1d in ``dt``."""
    half = (k - 1) * 0.5
    x = np.linspace(-half, half, k).astype(dt)
    pdf = np.exp(dt(-0.5) * (x / dt(sigma)) ** 2).astype(dt)
    return (pdf / pdf.sum()).astype(dt)


@op_function
def gaussian_blur_2d(input, kernel_size, sigma=None):
    """Separable Gaussian blur of the last two dims (torchvision's gaussian_blur).

    ``kernel_size`` (odd, positive) and ``sigma`` (positive) are a number or an
    (x, y) pair, x being the width; sigma None means 0.3 * ((k - 1) * 0.5 - 1) + 0.8.
    The kernel is normalised; borders are reflect-padded; the output keeps the
    input's shape.
    """
    op = "gaussian_blur_2d"
    _tensor(op, input)
    require_float(op, input._data)
    if input.ndim < 2:
        raise ShapeError(f"{op}: expected an input with at least 2 dims (*, H, W), got "
                         f"shape {input.shape}")
    ks = tuple(kernel_size) if isinstance(kernel_size, (list, tuple)) else (kernel_size,) * 2
    if len(ks) == 1:
        ks = ks * 2
    if len(ks) != 2:
        raise ShapeError(f"{op}: kernel_size must be an int or a pair, got {ks}")
    ks = tuple(_int(op, "kernel_size", k) for k in ks)
    if any(k <= 0 or k % 2 == 0 for k in ks):
        raise ShapeError(f"{op}: kernel_size must be odd and positive, got {ks}")
    if sigma is None:
        sig = tuple(0.3 * ((k - 1) * 0.5 - 1) + 0.8 for k in ks)
    else:
        sig = tuple(sigma) if isinstance(sigma, (list, tuple)) else (sigma,) * 2
        if len(sig) == 1:
            sig = sig * 2
        if len(sig) != 2 or any(isinstance(s, bool) or not isinstance(s, numbers.Real)
                                for s in sig):
            raise TypeError(f"{op}: sigma must be a number or a pair of numbers, got {sigma!r}")
        sig = tuple(float(s) for s in sig)
        if any(s <= 0 for s in sig):
            raise ShapeError(f"{op}: sigma must be positive, got {sig}")
    h, w = input.shape[-2:]
    kx, ky = ks
    if kx // 2 >= w or ky // 2 >= h:
        raise ShapeError(f"{op}: kernel_size {ks} needs reflect padding ({kx // 2}, "
                         f"{ky // 2}) smaller than the input's width {w} and height {h}")
    dt = np.float64 if input._data.dtype == np.float64 else np.float32
    wx = _gaussian_kernel1d(kx, sig[0], dt)
    wy = _gaussian_kernel1d(ky, sig[1], dt)
    dims = tuple((axis, n, tuple(_segments("reflect", n, p, p)))
                 for axis, n, p in ((-1, w, kx // 2), (-2, h, ky // 2)) if p)
    y = PadGather(dims)(input) if dims else input
    if kx > 1:
        y = Correlate1d(-1, wx)(y)
    if ky > 1:
        y = Correlate1d(-2, wy)(y)
    return y if y is not input else input.reshape(input.shape)


FUNCTIONAL = ["pad", "pixel_shuffle", "pixel_unshuffle", "interpolate", "grid_sample",
              "gaussian_blur_2d"]
__all__ = []
