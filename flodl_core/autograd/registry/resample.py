"""Registry entries: F.pad, pad_mode, F.pixel_shuffle, F.pixel_unshuffle,
F.interpolate, F.grid_sample, F.gaussian_blur_2d.

References loop over output positions, written from PyTorch's (and
torchvision's) definitions: reflect/replicate index the input at the mirrored or
clamped position of ``i - before`` (negative amounts crop); circular crops first,
then wraps; interpolation maps output ``i`` to ``scale * (i + 0.5) - 0.5`` (or
``i * (in - 1) / (out - 1)`` with align_corners), nearest to
``floor(i * scale)`` in float32; grid_sample unnormalises ``((g + 1) * size - 1) / 2``
(or ``(g + 1) / 2 * (size - 1)``); 'reflection' then folds that coordinate into
one period of the mirror images of ``[0, size - 1]`` (or ``[-0.5, size - 0.5]``)
and clips it to ``[0, size - 1]``. Grid samples keep every sampling point at
least 0.1 pixel away from the integer lines (bilinear kinks) and the half-pixel
lines (nearest rounding), and, for reflection, from the mirror lines (integers
with align_corners, half-integers without).
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from ...backend.dtype import DType
from ..ops import resample as R
from . import OpInfo, SampleInput, register
from .samples import noncontig, uniform

ALL_FLOATS = (DType.Float64, DType.Float32, DType.Float16, DType.BFloat16)


def _u(rng, shape, nc=False):
    x = uniform(rng, shape)
    return noncontig(x) if nc else x


def _s(x, *args, desc="", **kwargs):
    return SampleInput((x,) + args, kwargs, desc=desc)


# ---------------------------------------------------------------------- pad

def _src_index(mode, i, n, before, after):
    """Source position of output ``i`` along a dim of size ``n``."""
    if mode == "circular":
        start = max(-before, 0)
        kept = n - start - max(-after, 0)
        return start + (i - max(before, 0)) % kept
    v = i - before
    if mode == "replicate":
        return min(max(v, 0), n - 1)
    while v < 0 or v >= n:        # reflect (PyTorch forbids pads >= n: one bounce)
        v = -v if v < 0 else 2 * (n - 1) - v
    return v


def _pad_ref(x, pad, mode="constant", value=None):
    if mode in ("constant", 0):
        v = 0.0 if value is None else value
        pairs = [(0, 0)] * x.ndim
        for i in range(len(pad) // 2):
            pairs[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
        crop = tuple(slice(max(-b, 0), n - max(-a, 0)) for n, (b, a) in zip(x.shape, pairs))
        return np.pad(x[crop], [(max(b, 0), max(a, 0)) for b, a in pairs], constant_values=v)
    mode = {1: "reflect", 2: "replicate", 3: "circular"}.get(mode, mode)
    out = x
    for i in range(len(pad) // 2):
        axis = x.ndim - 1 - i
        before, after = pad[2 * i], pad[2 * i + 1]
        n = x.shape[axis]
        idx = [_src_index(mode, j, n, before, after) for j in range(n + before + after)]
        out = np.take(out, np.array(idx, dtype=np.int64), axis=axis)
    return out


def _pad_samples(rng):
    return [
        _s(_u(rng, (2, 3)), (1, 2), desc="constant"),
        _s(_u(rng, (2, 3)), (1, -1, 0, 1), value=0.5, desc="constant, value, crop"),
        _s(_u(rng, (2, 4)), (2, 3), mode="reflect", desc="reflect 2-d"),
        _s(_u(rng, (1, 2, 3, 4)), (1, 2, 2, 0), mode="reflect"),
        _s(_u(rng, (1, 3, 5)), (-1, 2), mode="reflect", desc="reflect, crop"),
        _s(_u(rng, (1, 2, 3, 4)), (3, 1, 2, 2), mode="replicate"),
        _s(_u(rng, (2, 4)), (2, -1), mode="replicate", desc="replicate, crop"),
        _s(_u(rng, (1, 2, 3, 4)), (2, 3, 1, 0), mode="circular"),
        _s(_u(rng, (1, 2, 5)), (2, -1), mode="circular", desc="circular, crop then wrap"),
        _s(_u(rng, (1, 2, 2, 3)), (1, 1, 1, 0, 1, 1), mode="reflect", desc="3 dims"),
        _s(_u(rng, (2, 2, 2, 3)), (1, 0, 1, 1, 0, 1), mode="replicate", desc="3 dims, unbatched"),
        _s(_u(rng, (1, 3, 4), nc=True), (1, 2, 1, 1), mode="reflect", desc="non-contiguous"),
    ]


register(OpInfo("F.pad", _pad_samples, _pad_ref, op=R.pad, dtypes=ALL_FLOATS))


def _pad_mode_samples(rng):
    return [
        _s(_u(rng, (1, 2, 3, 4)), (1, 2, 2, 1), 1, desc="reflect as int"),
        _s(_u(rng, (2, 4)), (2, 1), "replicate"),
        _s(_u(rng, (1, 2, 4)), (3, 2), 3, desc="circular as int"),
        _s(_u(rng, (2, 3)), (1, 1), 0, 0.25, desc="constant as int"),
        _s(_u(rng, (2, 3), nc=True), (1, 1), "reflect", desc="non-contiguous"),
    ]


register(OpInfo("pad_mode", _pad_mode_samples,
                lambda x, pad, mode, value=0.0: _pad_ref(x, pad, mode, value),
                dtypes=ALL_FLOATS))


# -------------------------------------------------------- pixel (un)shuffle

def _shuffle_ref(x, r):
    *lead, c, h, w = x.shape
    out = np.zeros(tuple(lead) + (c // (r * r), h * r, w * r))
    for cc, hh, ww, i, j in itertools.product(range(c // (r * r)), range(h), range(w),
                                              range(r), range(r)):
        out[..., cc, hh * r + i, ww * r + j] = x[..., cc * r * r + i * r + j, hh, ww]
    return out


def _unshuffle_ref(x, r):
    *lead, c, h, w = x.shape
    out = np.zeros(tuple(lead) + (c * r * r, h // r, w // r))
    for cc, hh, ww, i, j in itertools.product(range(c), range(h // r), range(w // r),
                                              range(r), range(r)):
        out[..., cc * r * r + i * r + j, hh, ww] = x[..., cc, hh * r + i, ww * r + j]
    return out


register(OpInfo("F.pixel_shuffle", lambda rng: [
    _s(_u(rng, (1, 8, 2, 3)), 2), _s(_u(rng, (9, 1, 2)), 3, desc="unbatched"),
    _s(_u(rng, (2, 1, 4, 2, 2)), 2, desc="two batch dims"),
    _s(_u(rng, (1, 4, 3, 2), nc=True), 2, desc="non-contiguous"),
    _s(_u(rng, (1, 2, 2, 2)), 1, desc="factor 1")],
    _shuffle_ref, op=R.pixel_shuffle, dtypes=ALL_FLOATS))
register(OpInfo("F.pixel_unshuffle", lambda rng: [
    _s(_u(rng, (1, 2, 4, 6)), 2), _s(_u(rng, (1, 3, 6)), 3, desc="unbatched"),
    _s(_u(rng, (2, 1, 1, 2, 4)), 2, desc="two batch dims"),
    _s(_u(rng, (1, 1, 4, 4), nc=True), 2, desc="non-contiguous")],
    _unshuffle_ref, op=R.pixel_unshuffle, dtypes=ALL_FLOATS))


# -------------------------------------------------------------- interpolate

def _cubic(t):
    a = -0.75
    t = abs(t)
    if t <= 1:
        return ((a + 2) * t - (a + 3)) * t * t + 1
    if t < 2:
        return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a
    return 0.0


def _axis_matrix(mode, n, o, scale, align, four_d):
    """(o, n) matrix mapping one input dim to one output dim."""
    mat = np.zeros((o, n))
    f32 = np.float32
    for i in range(o):
        if mode in ("nearest", "nearest-exact"):
            if mode == "nearest" and four_d and o == n:
                src = i
            elif mode == "nearest" and four_d and o == 2 * n:
                src = i // 2
            else:
                s = f32(1.0 / scale) if scale else f32(n) / f32(o)
                pos = f32(i) + (f32(0.5) if mode == "nearest-exact" else f32(0))
                src = min(int(math.floor(f32(pos * s))), n - 1)
            mat[i, src] = 1.0
            continue
        if mode != "bicubic" and o == n:
            mat[i, i] = 1.0
            continue
        if align:
            x = i * (n - 1) / (o - 1) if o > 1 else 0.0
        else:
            s = 1.0 / scale if scale else n / o
            x = s * (i + 0.5) - 0.5
            if mode != "bicubic":
                x = max(x, 0.0)
        x0 = min(math.floor(x), n - 1)
        t = min(max(x - x0, 0.0), 1.0)
        if mode == "bicubic":
            for j in range(-1, 3):
                mat[i, min(max(x0 + j, 0), n - 1)] += _cubic(t - j)
        else:
            mat[i, x0] += 1 - t
            mat[i, min(x0 + 1, n - 1)] += t
    return mat


def _interp_ref(x, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None):
    nsp = x.ndim - 2
    ins = x.shape[2:]
    if size is not None:
        outs = _tup(size, nsp)
        scales = (None,) * nsp
    else:
        sf = _tup(scale_factor, nsp)
        outs = tuple(int(math.floor(n * s)) for n, s in zip(ins, sf))
        scales = (None,) * nsp if recompute_scale_factor else sf
    out = x
    for a in range(nsp):
        mat = _axis_matrix(mode, ins[a], outs[a], scales[a], bool(align_corners), x.ndim == 4)
        out = np.moveaxis(np.tensordot(out, mat, axes=([2 + a], [1])), -1, 2 + a)
    return out


def _tup(v, n):
    return tuple(v) if isinstance(v, (list, tuple)) else (v,) * n


def _interp_samples(rng):
    return [
        _s(_u(rng, (1, 2, 4)), 7, desc="nearest 1-d"),
        _s(_u(rng, (1, 2, 5)), scale_factor=1.1, desc="nearest 1-d, same size by scale"),
        _s(_u(rng, (1, 1, 3, 4)), scale_factor=2, desc="nearest 2x"),
        _s(_u(rng, (1, 2, 4, 3)), (3, 5), desc="nearest down and up"),
        _s(_u(rng, (1, 1, 3, 4)), scale_factor=(1.5, 0.75), mode="nearest-exact"),
        _s(_u(rng, (1, 2, 5)), 8, mode="linear", align_corners=True),
        _s(_u(rng, (1, 2, 3, 4)), (5, 6), mode="bilinear"),
        _s(_u(rng, (1, 1, 3, 4)), scale_factor=1.7, mode="bilinear", align_corners=True),
        _s(_u(rng, (1, 1, 5, 6)), scale_factor=(0.5, 0.75), mode="bilinear",
           desc="bilinear downsampling by scale"),
        _s(_u(rng, (1, 1, 3, 4)), scale_factor=(2, 1.5), mode="bilinear",
           recompute_scale_factor=True),
        _s(_u(rng, (1, 1, 3, 3)), (5, 4), mode="bicubic"),
        _s(_u(rng, (1, 1, 4, 3)), scale_factor=1.5, mode="bicubic", align_corners=True),
        _s(_u(rng, (1, 2, 5, 6)), (3, 4), mode="area"),
        _s(_u(rng, (1, 2, 3, 4), nc=True), (4, 6), mode="bilinear", desc="non-contiguous"),
    ]


def _area_ref(x, size):
    from .pool import _adaptive_ref
    return _adaptive_ref("avg")(x, size)


def _interp_ref_all(x, size=None, scale_factor=None, mode="nearest", align_corners=None,
                    recompute_scale_factor=None):
    if mode == "area":
        return _area_ref(x, size)
    return _interp_ref(x, size, scale_factor, mode, align_corners, recompute_scale_factor)


register(OpInfo("F.interpolate", _interp_samples, _interp_ref_all, op=R.interpolate,
                dtypes=ALL_FLOATS,
                fwd_tol={DType.Float16: (2e-2, 1e-2), DType.BFloat16: (8e-2, 3e-2)}))


# -------------------------------------------------------------- grid_sample

def _grid_ref(x, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    n, c, h, w = x.shape
    _, oh, ow, _ = grid.shape
    out = np.zeros((n, c, oh, ow))

    def unnorm(g, size):
        return (g + 1) / 2 * (size - 1) if align_corners else ((g + 1) * size - 1) / 2

    def reflect(p, size):
        # the mirror images of [lo, lo + span] tile the line with period 2 * span:
        # take the position within one period, and fold its second half back
        lo, span = (0.0, size - 1.0) if align_corners else (-0.5, float(size))
        if span == 0:
            return 0.0
        q = (p - lo) % (2 * span)
        return lo + (q if q <= span else 2 * span - q)

    for b, i, j in itertools.product(range(n), range(oh), range(ow)):
        ix, iy = unnorm(grid[b, i, j, 0], w), unnorm(grid[b, i, j, 1], h)
        if padding_mode == "reflection":
            ix, iy = reflect(ix, w), reflect(iy, h)
        if padding_mode in ("border", "reflection"):
            ix, iy = min(max(ix, 0), w - 1), min(max(iy, 0), h - 1)
        if mode == "nearest":
            xs, ys = int(np.rint(ix)), int(np.rint(iy))
            if 0 <= xs < w and 0 <= ys < h:
                out[b, :, i, j] = x[b, :, ys, xs]
            continue
        x0, y0 = math.floor(ix), math.floor(iy)
        for dy, dx in itertools.product((0, 1), (0, 1)):
            xx, yy = x0 + dx, y0 + dy
            wt = (1 - abs(ix - xx)) * (1 - abs(iy - yy))
            if 0 <= xx < w and 0 <= yy < h:
                out[b, :, i, j] += wt * x[b, :, yy, xx]
    return out


def _grid(rng, n, oh, ow, h, w, align, nearest=False, far=False):
    """Normalised grid points whose pixel coordinates stay off kinks (some of
    them up to a pixel outside the input; with ``far``, up to two input sizes
    outside, and off the half-pixel lines too, which are the mirror lines of
    reflection without align_corners)."""
    def coords(size, count):
        reach = 2 * size + 1 if far else 1
        base = rng.integers(-reach, size + reach, count)
        if nearest:
            frac = rng.choice([-1, 1], count) * rng.uniform(0.1, 0.35, count)
        elif far:
            frac = rng.uniform(0.15, 0.35, count) + rng.choice([0.0, 0.5], count)
        else:
            frac = rng.uniform(0.15, 0.85, count)
        p = base + frac
        return 2 * p / (size - 1) - 1 if align else (2 * p + 1) / size - 1
    g = np.stack([coords(w, n * oh * ow), coords(h, n * oh * ow)], axis=-1)
    return g.reshape(n, oh, ow, 2)


def _grid_samples(rng):
    return [
        SampleInput((_u(rng, (1, 2, 3, 4)), _grid(rng, 1, 2, 3, 3, 4, False)),
                    desc="bilinear zeros, some points outside"),
        SampleInput((_u(rng, (2, 1, 3, 3)), _grid(rng, 2, 2, 2, 3, 3, True)),
                    {"align_corners": True}),
        SampleInput((_u(rng, (1, 2, 3, 4)), _grid(rng, 1, 2, 2, 3, 4, False)),
                    {"padding_mode": "border"}, desc="border"),
        SampleInput((_u(rng, (1, 1, 4, 3)), _grid(rng, 1, 3, 2, 4, 3, True)),
                    {"padding_mode": "border", "align_corners": True}),
        SampleInput((_u(rng, (1, 2, 3, 4)), _grid(rng, 1, 2, 3, 3, 4, False, nearest=True)),
                    {"mode": "nearest"}, desc="nearest: zero grid gradient"),
        SampleInput((_u(rng, (1, 1, 3, 3)), _grid(rng, 1, 2, 2, 3, 3, True, nearest=True)),
                    {"mode": "nearest", "padding_mode": "border", "align_corners": True}),
        SampleInput((_u(rng, (1, 2, 3, 3), nc=True), _grid(rng, 1, 2, 2, 3, 3, False)),
                    desc="non-contiguous input"),
        SampleInput((_u(rng, (1, 2, 3, 4)), _grid(rng, 1, 2, 3, 3, 4, False, far=True)),
                    {"padding_mode": "reflection"},
                    desc="reflection, points several reflections away"),
        SampleInput((_u(rng, (2, 1, 4, 3)), _grid(rng, 2, 2, 2, 4, 3, True, far=True)),
                    {"padding_mode": "reflection", "align_corners": True}),
        SampleInput((_u(rng, (1, 2, 3, 4)),
                     _grid(rng, 1, 2, 3, 3, 4, False, nearest=True, far=True)),
                    {"mode": "nearest", "padding_mode": "reflection"},
                    desc="nearest reflection"),
        SampleInput((_u(rng, (1, 1, 4, 3)),
                     _grid(rng, 1, 3, 2, 4, 3, True, nearest=True, far=True)),
                    {"mode": "nearest", "padding_mode": "reflection", "align_corners": True}),
        SampleInput((_u(rng, (1, 2, 1, 4)), _grid(rng, 1, 2, 2, 1, 4, False, far=True)),
                    {"padding_mode": "reflection"},
                    desc="reflection, height 1 (a zero slope in y)"),
    ]


register(OpInfo("F.grid_sample", _grid_samples, _grid_ref, op=R.grid_sample,
                dtypes=ALL_FLOATS,
                fwd_tol={DType.Float16: (3e-2, 2e-2), DType.BFloat16: (2e-1, 5e-2)}))


# ------------------------------------------------------------ gaussian blur

def _blur_ref(x, kernel_size, sigma=None):
    kx, ky = _tup(kernel_size, 2)
    if sigma is None:
        sx, sy = (0.3 * ((k - 1) * 0.5 - 1) + 0.8 for k in (kx, ky))
    else:
        sx, sy = _tup(sigma, 2)

    def k1(k, s):
        t = np.array([j - (k - 1) / 2 for j in range(k)])
        p = np.exp(-0.5 * (t / s) ** 2)
        return p / p.sum()

    k2 = np.outer(k1(ky, sy), k1(kx, sx))
    pad = [(0, 0)] * (x.ndim - 2) + [(ky // 2, ky // 2), (kx // 2, kx // 2)]
    xp_ = np.pad(x, pad, mode="reflect")
    h, w = x.shape[-2:]
    out = np.zeros(x.shape)
    for i, j in itertools.product(range(h), range(w)):
        out[..., i, j] = (xp_[..., i:i + ky, j:j + kx] * k2).sum(axis=(-2, -1))
    return out


register(OpInfo("F.gaussian_blur_2d", lambda rng: [
    _s(_u(rng, (1, 2, 4, 5)), 3, 1.0),
    _s(_u(rng, (1, 1, 5, 6)), (5, 3), (1.5, 0.7), desc="rectangular kernel"),
    _s(_u(rng, (2, 4, 4)), 3, desc="unbatched, default sigma"),
    _s(_u(rng, (1, 1, 3, 4)), (1, 3), 0.8, desc="width kernel 1"),
    _s(_u(rng, (1, 2, 4, 4), nc=True), 3, 0.6, desc="non-contiguous")],
    _blur_ref, op=R.gaussian_blur_2d, dtypes=ALL_FLOATS))
