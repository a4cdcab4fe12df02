"""Pooling and resampling: behaviour the op registry cannot express (ties, NaN,
indices, PyTorch's quirks, dtypes, error messages, the fast paths on larger
inputs). Small-shape numerics and gradients are covered by gradcheck/ via the
registry (pool.py, resample.py)."""
import itertools

import numpy as np
import pytest

import flodl_core as fl
from flodl_core import DType, Variable
from flodl_core.errors import DTypeError, ShapeError
from flodl_core.nn import functional as F


def _t(a, device=fl.Device.CPU, dtype=None):
    t = fl.tensor(np.asarray(a, dtype=np.float64), device=device)
    return t if dtype is None else t.to_dtype(dtype)


def _v(a, device=fl.Device.CPU, dtype=None):
    return Variable(_t(a, device, dtype), requires_grad=True)


def _np(t):
    if t.dtype in (DType.Float16, DType.BFloat16):
        t = t.to_dtype(DType.Float64)
    return np.asarray(t.cpu().numpy())


def _grad(v):
    g = v.grad
    return np.asarray(g.get() if hasattr(g, "get") else g) if not hasattr(g, "cpu") \
        else _np(g)


# ---------------------------------------------------------------- max pool


def test_max_pool_ties_route_the_gradient_to_the_first_maximum(device):
    x = _v([[[[1.0, 3.0], [3.0, 3.0]]]], device)
    F.max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(_grad(x), [[[[0, 1], [0, 0]]]])


def test_max_pool_overlapping_windows_accumulate(device):
    x = _v([[[0.0, 5.0, 1.0, 2.0]]], device)
    y = F.max_pool1d(x, 2, stride=1)           # windows (0,5) (5,1) (1,2)
    np.testing.assert_array_equal(_np(y), [[[5, 5, 2]]])
    y.sum().backward()
    np.testing.assert_array_equal(_grad(x), [[[0, 2, 0, 1]]])


def test_max_pool_return_indices_match_pytorch():
    x = fl.arange(16.0).reshape(1, 1, 4, 4)
    y, idx = F.max_pool2d(x, 2, padding=1, return_indices=True)
    # Values and indices PyTorch 2.13 gives for this call.
    np.testing.assert_array_equal(_np(y), [[[[0, 2, 3], [8, 10, 11], [12, 14, 15]]]])
    np.testing.assert_array_equal(idx.numpy(), [[[[0, 2, 3], [8, 10, 11], [12, 14, 15]]]])
    assert idx.dtype == DType.Int64 and isinstance(idx, fl.Tensor)
    v, vidx = F.max_pool2d(_v(np.arange(16.0).reshape(1, 1, 4, 4)), 2, return_indices=True)
    assert isinstance(vidx, Variable) and not vidx.requires_grad


def test_adaptive_max_pool_indices_are_flat_positions():
    x = np.array([[[1.0, 9.0, 2.0], [8.0, 3.0, 7.0]]])
    _, idx = F.adaptive_max_pool2d(_t(x), (1, 2), return_indices=True)
    # windows cols [0, 2) and [1, 3): maxima 9 (flat 1) and 9 (flat 1)
    np.testing.assert_array_equal(idx.numpy(), [[[1, 1]]])


def test_max_pool_propagates_nan_like_pytorch():
    x = np.array([[[[1.0, np.nan], [np.nan, 0.0]]]])
    y, idx = F.max_pool2d(_t(x), 2, return_indices=True)
    assert np.isnan(_np(y)).all()
    assert idx.numpy().item() == 2          # PyTorch: the last NaN of the window


def test_max_pool_non_finite_upstream_stays_on_the_argmax():
    x = _v(np.arange(16.0).reshape(1, 1, 4, 4))
    y = F.max_pool2d(x, 2)
    g = np.ones((1, 1, 2, 2))
    g[0, 0, 0, 0] = np.inf
    y.backward(_t(g))
    gx = _grad(x)
    assert gx[0, 0, 1, 1] == np.inf
    assert np.isfinite(np.delete(gx.ravel(), 5)).all()


def test_max_pool_ceil_mode_output_size_follows_pytorch():
    x = fl.zeros(1, 1, 5, 5)
    assert F.max_pool2d(x, 2, ceil_mode=True).shape == (1, 1, 3, 3)
    assert F.max_pool2d(x, 2).shape == (1, 1, 2, 2)
    # the last window would start in the right padding: dropped
    assert F.max_pool2d(fl.zeros(1, 1, 5, 5), 3, stride=2, padding=1,
                        ceil_mode=True).shape == (1, 1, 3, 3)


def _naive_max_pool2d(x, k, s):
    n, c, h, w = x.shape
    oh, ow = (h - k) // s + 1, (w - k) // s + 1
    out = np.zeros((n, c, oh, ow))
    grad = np.zeros_like(x)
    for b, ch, i, j in itertools.product(range(n), range(c), range(oh), range(ow)):
        win = x[b, ch, i * s:i * s + k, j * s:j * s + k]
        r, q = np.unravel_index(np.argmax(win), win.shape)
        out[b, ch, i, j] = win[r, q]
        grad[b, ch, i * s + r, j * s + q] += 1.0
    return out, grad


@pytest.mark.parametrize("k, s", [(2, 2), (3, 2), (3, 3), (2, 1)])
def test_max_pool_fast_paths_match_a_naive_loop(device, k, s):
    rng = np.random.default_rng(k * 10 + s)
    x = rng.standard_normal((2, 3, 9, 8))
    v = _v(x, device)
    y = F.max_pool2d(v, k, s)
    y.sum().backward()
    want, want_grad = _naive_max_pool2d(x, k, s)
    np.testing.assert_allclose(_np(y), want)
    np.testing.assert_allclose(_grad(v), want_grad)


def test_avg_pool_fast_paths_match_a_naive_loop(device):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 8, 6))
    v = _v(x, device)
    y = F.avg_pool2d(v, 2)
    want = x.reshape(2, 3, 4, 2, 3, 2).mean(axis=(3, 5))
    np.testing.assert_allclose(_np(y), want)
    y.sum().backward()
    np.testing.assert_allclose(_grad(v), np.full(x.shape, 0.25))


def test_avg_pool_divisor_rules():
    x = fl.ones(1, 1, 3, 3)
    inc = _np(F.avg_pool2d(x, 3, stride=1, padding=1))
    exc = _np(F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False))
    np.testing.assert_allclose(inc[0, 0, 0, 0], 4 / 9)
    np.testing.assert_allclose(exc, np.ones((1, 1, 3, 3)))
    np.testing.assert_allclose(_np(F.avg_pool2d(x, 2, stride=1, divisor_override=2)),
                               np.full((1, 1, 2, 2), 2.0))


def test_unbatched_inputs_pool_like_batched_ones():
    x = np.random.default_rng(0).standard_normal((3, 6, 5))
    for fn in (lambda t: F.max_pool2d(t, 2), lambda t: F.avg_pool2d(t, 3, 1, 1),
               lambda t: F.adaptive_avg_pool2d(t, (4, 3)),
               lambda t: F.adaptive_max_pool2d(t, 2)):
        np.testing.assert_allclose(_np(fn(_t(x))), _np(fn(_t(x[None])))[0])
    y = np.random.default_rng(1).standard_normal((3, 7))
    np.testing.assert_allclose(_np(F.max_pool1d(_t(y), 2)), _np(F.max_pool1d(_t(y[None]), 2))[0])


@pytest.mark.parametrize("dtype", [DType.Float16, DType.BFloat16])
def test_pools_keep_half_dtypes(dtype):
    x = _t(np.random.default_rng(0).standard_normal((1, 2, 4, 4)), dtype=dtype)
    for y in (F.max_pool2d(x, 2), F.avg_pool2d(x, 2), F.adaptive_avg_pool2d(x, 3),
              F.adaptive_max_pool2d(x, 3), F.max_pool1d(x[0], 2)):
        assert y.dtype == dtype


def test_pool_errors_name_the_op_and_argument():
    x = fl.zeros(1, 1, 4, 4)
    with pytest.raises(ShapeError, match=r"max_pool2d: kernel_size 5 larger than padded "
                                         r"input 4x4"):
        F.max_pool2d(x, 5)
    with pytest.raises(ShapeError, match=r"avg_pool2d: padding 2 must be at most half of "
                                         r"kernel_size 3"):
        F.avg_pool2d(x, 3, padding=2)
    with pytest.raises(ShapeError, match=r"max_pool2d: stride must be positive, got 0"):
        F.max_pool2d(x, 2, stride=0)
    with pytest.raises(ShapeError, match=r"max_pool1d: expected a 2-d \(unbatched\) or 3-d"):
        F.max_pool1d(x, 2)
    with pytest.raises(ShapeError, match=r"kernel_size must be an int or a sequence of 2"):
        F.max_pool2d(x, (2, 2, 2))
    with pytest.raises(ShapeError, match=r"avg_pool2d: divisor_override must be non-zero"):
        F.avg_pool2d(x, 2, divisor_override=0)
    with pytest.raises(ShapeError, match=r"adaptive_avg_pool2d: output_size must be positive"):
        F.adaptive_avg_pool2d(x, (0, 2))
    with pytest.raises(DTypeError, match="max_pool2d"):
        F.max_pool2d(fl.zeros(1, 1, 4, 4, dtype=DType.Int64), 2)


def test_pools_on_tensors_return_tensors_and_keep_no_graph():
    y = F.max_pool2d(fl.zeros(1, 1, 4, 4), 2)
    assert type(y) is fl.Tensor


# -------------------------------------------------------------------- pad


@pytest.mark.parametrize("mode, pad, want", [
    # PyTorch 2.13's outputs for arange(5)
    ("reflect", (3, -1), [3, 2, 1, 0, 1, 2, 3]),
    ("reflect", (-1, 2), [1, 2, 3, 4, 3, 2]),
    ("replicate", (3, -1), [0, 0, 0, 0, 1, 2, 3]),
    ("replicate", (-2, 4), [2, 3, 4, 4, 4, 4, 4]),
    ("circular", (3, -1), [1, 2, 3, 0, 1, 2, 3]),
    ("circular", (2, -1), [2, 3, 0, 1, 2, 3]),
    ("circular", (5, 0), [0, 1, 2, 3, 4, 0, 1, 2, 3, 4]),
])
def test_pad_modes_match_pytorch(device, mode, pad, want):
    x = _t(np.arange(5.0).reshape(1, 1, 5), device)
    np.testing.assert_array_equal(_np(F.pad(x, pad, mode=mode)).ravel(), want)


def test_circular_pad_2d_crops_then_wraps():
    x = _t(np.arange(12.0).reshape(1, 3, 4))
    want = [[1, 2, 3, 1, 2], [5, 6, 7, 5, 6], [1, 2, 3, 1, 2], [5, 6, 7, 5, 6]]
    np.testing.assert_array_equal(_np(F.pad(x, (-1, 2, 2, -1), mode="circular"))[0], want)


def test_pad_mode_accepts_ints_and_strings():
    x = _t(np.random.default_rng(0).standard_normal((1, 2, 3, 4)))
    for code, name in enumerate(["constant", "reflect", "replicate", "circular"]):
        np.testing.assert_array_equal(_np(x.pad_mode((1, 2, 2, 1), code)),
                                      _np(F.pad(x, (1, 2, 2, 1), mode=name)))
    np.testing.assert_array_equal(_np(x.pad_mode((1, 1), 0, 2.0))[..., 0], 2.0)


def test_reflect_pad_gradient_sums_mirrored_positions():
    x = _v([[[1.0, 2.0, 3.0]]])
    F.pad(x, (2, 2), mode="reflect").sum().backward()    # 3 2 [1 2 3] 2 1
    np.testing.assert_array_equal(_grad(x), [[[2, 3, 2]]])
    x = _v([[[1.0, 2.0, 3.0]]])
    F.pad(x, (2, 1), mode="replicate").sum().backward()  # 1 1 [1 2 3] 3
    np.testing.assert_array_equal(_grad(x), [[[3, 1, 2]]])


def test_pad_errors():
    x = fl.zeros(1, 2, 3)
    with pytest.raises(ShapeError, match=r"pad: reflect padding \(3, 0\) of dim 2 must be "
                                         r"less than its size 3"):
        F.pad(x, (3, 0), mode="reflect")
    with pytest.raises(ShapeError, match="wraps around more than once"):
        F.pad(x, (4, 0), mode="circular")
    with pytest.raises(ShapeError, match="pad: mode 'replicate' pads the last 1, 2 or 3 dims"):
        F.pad(fl.zeros(3), (1, 1), mode="replicate")
    with pytest.raises(ValueError, match="pad: mode 'reflect' takes no value"):
        F.pad(x, (1, 1), mode="reflect", value=1.0)
    with pytest.raises(ValueError, match="pad_mode: mode 7 is not one of"):
        x.pad_mode((1, 1), 7)


# ------------------------------------------------------ pixel (un)shuffle


def test_pixel_shuffle_round_trip_and_errors():
    x = _t(np.random.default_rng(0).standard_normal((2, 8, 3, 2)))
    y = F.pixel_shuffle(x, 2)
    assert y.shape == (2, 2, 6, 4)
    np.testing.assert_array_equal(_np(F.pixel_unshuffle(y, 2)), _np(x))
    with pytest.raises(ShapeError, match=r"pixel_shuffle: channels 5 not divisible by "
                                         r"upscale_factor\*\*2 = 4"):
        F.pixel_shuffle(fl.zeros(1, 5, 2, 2), 2)
    with pytest.raises(ShapeError, match="pixel_unshuffle: height 3 and width 4 must be "
                                         "divisible by downscale_factor 2"):
        F.pixel_unshuffle(fl.zeros(1, 1, 3, 4), 2)


# ------------------------------------------------------------ interpolate


def test_interpolate_reproduces_pytorchs_index_quirks():
    x1 = _t(np.arange(5.0).reshape(1, 1, 5))
    x2 = _t(np.arange(5.0).reshape(1, 1, 1, 5))
    # PyTorch's 1-d nearest kernel uses the scale even when the size is unchanged;
    # its 2-d kernel copies.
    np.testing.assert_array_equal(_np(F.interpolate(x1, scale_factor=1.1)).ravel(),
                                  [0, 0, 1, 2, 3])
    np.testing.assert_array_equal(_np(F.interpolate(x2, scale_factor=1.1)).ravel(),
                                  [0, 1, 2, 3, 4])
    np.testing.assert_array_equal(_np(F.interpolate(x2, scale_factor=(1, 2.1)))[0, 0, 0],
                                  [0, 0, 1, 1, 2, 2, 3, 3, 4, 4])
    np.testing.assert_array_equal(_np(F.interpolate(x1, scale_factor=2.1)).ravel(),
                                  [0, 0, 0, 1, 1, 2, 2, 3, 3, 4])
    # the source index is floor(i * scale) in float32: 37 * float32(6/74) < 3
    y = _np(F.interpolate(_t(np.arange(6.0).reshape(1, 1, 6)), size=74)).ravel()
    assert y[37] == 2 and y[36] == 2 and y[38] == 3
    # linear kernels copy a dim whose size does not change, whatever the scale
    np.testing.assert_allclose(
        _np(F.interpolate(x2, scale_factor=1.1, mode="bilinear")).ravel(), np.arange(5.0))


def test_interpolate_bilinear_and_bicubic_values_match_pytorch():
    x = _t(np.arange(10.0).reshape(1, 1, 2, 5))
    y = _np(F.interpolate(x, scale_factor=(1.6, 1.1), mode="bilinear"))
    np.testing.assert_allclose(y[0, 0, 1], [2.1875, 3.1875, 4.1875, 5.1875, 6.1875])
    y = _np(F.interpolate(_t(np.arange(5.0).reshape(1, 1, 1, 5)), scale_factor=1.1,
                          mode="bicubic"))
    np.testing.assert_allclose(y.ravel(), [-0.0311, 0.8088, 1.7248, 2.6424, 3.6761],
                               atol=1e-4)


def test_interpolate_bilinear_double_backward():
    x = _v(np.random.default_rng(0).standard_normal((1, 1, 3, 3)))
    y = F.interpolate(x, size=(5, 4), mode="bilinear", align_corners=True)
    (g,) = fl.grad([(y * y).sum()], [x], create_graph=True)
    g.sum().backward()
    assert x.grad is not None


def test_interpolate_errors():
    x = fl.zeros(1, 1, 4, 4)
    with pytest.raises(ValueError, match="interpolate: give exactly one of size and "
                                         "scale_factor"):
        F.interpolate(x)
    with pytest.raises(ValueError, match="interpolate: give exactly one of size and "
                                         "scale_factor"):
        F.interpolate(x, size=2, scale_factor=2)
    with pytest.raises(ValueError, match="align_corners can only be set"):
        F.interpolate(x, size=2, align_corners=True)
    with pytest.raises(ShapeError, match="interpolate: mode 'bilinear' expects a 4-d input"):
        F.interpolate(fl.zeros(1, 1, 4), size=2, mode="bilinear")
    with pytest.raises(ValueError, match="interpolate: mode 'trilinear' is not one of"):
        F.interpolate(x, size=2, mode="trilinear")


@pytest.mark.parametrize("dtype", [DType.Float16, DType.BFloat16])
def test_resampling_keeps_half_dtypes(dtype):
    x = _t(np.random.default_rng(0).standard_normal((1, 2, 4, 4)), dtype=dtype)
    grid = _t(np.random.default_rng(1).uniform(-1, 1, (1, 3, 3, 2)), dtype=dtype)
    for y in (F.interpolate(x, size=(5, 3), mode="bilinear"),
              F.interpolate(x, scale_factor=2), F.pad(x, (1, 1, 1, 1), mode="reflect"),
              F.grid_sample(x, grid), F.gaussian_blur_2d(x, 3, 1.0)):
        assert y.dtype == dtype


# ------------------------------------------------------------ grid_sample


def test_grid_sample_identity_grid_reproduces_the_input():
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5))
    ys, xs = np.meshgrid(np.linspace(-1, 1, 4), np.linspace(-1, 1, 5), indexing="ij")
    grid = np.broadcast_to(np.stack([xs, ys], -1), (2, 4, 5, 2))
    for mode in ("bilinear", "nearest"):
        y = F.grid_sample(_t(x), _t(grid), mode=mode, align_corners=True)
        np.testing.assert_allclose(_np(y), x, atol=1e-12)


def test_grid_sample_nearest_gives_the_grid_a_zero_gradient():
    x = _v(np.ones((1, 1, 3, 3)))
    g = _v(np.zeros((1, 2, 2, 2)) + 0.3)
    F.grid_sample(x, g, mode="nearest").sum().backward()
    np.testing.assert_array_equal(_grad(g), np.zeros((1, 2, 2, 2)))
    assert _grad(x).sum() == 4


def _reflect_ref(p, lo, hi):
    """Fold ``p`` into [lo, hi] by mirroring about whichever bound it crossed,
    one reflection at a time."""
    if lo == hi:
        return lo
    while p < lo or p > hi:
        p = 2 * lo - p if p < lo else 2 * hi - p
    return p


def _grid_sample_reflection_ref(x, grid, mode, align):
    n, c, h, w = x.shape
    _, oh, ow, _ = grid.shape
    out = np.zeros((n, c, oh, ow))

    def coord(g, size):
        if align:
            p = (g + 1) / 2 * (size - 1)
            p = _reflect_ref(p, 0.0, size - 1.0)
        else:
            p = ((g + 1) * size - 1) / 2
            p = _reflect_ref(p, -0.5, size - 0.5)
        return min(max(p, 0.0), size - 1.0)

    for b, i, j in itertools.product(range(n), range(oh), range(ow)):
        px, py = coord(grid[b, i, j, 0], w), coord(grid[b, i, j, 1], h)
        if mode == "nearest":
            out[b, :, i, j] = x[b, :, int(np.rint(py)), int(np.rint(px))]
            continue
        x0, y0 = int(np.floor(px)), int(np.floor(py))
        for yy, xx in itertools.product((y0, y0 + 1), (x0, x0 + 1)):
            if yy < h and xx < w:
                out[b, :, i, j] += (1 - abs(px - xx)) * (1 - abs(py - yy)) * x[b, :, yy, xx]
    return out


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("align", [False, True])
@pytest.mark.parametrize("hw", [(4, 5), (1, 3), (2, 1)])
def test_grid_sample_reflection_matches_a_numpy_reference(mode, align, hw):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3) + hw)
    # points inside, just outside and several spans away (multiple reflections)
    grid = rng.uniform(-6.0, 6.0, (2, 4, 5, 2))
    grid[0, 0, :, 0] = [-0.97, 0.93, 1.21, -1.33, 3.4]
    y = F.grid_sample(_t(x), _t(grid), mode=mode, padding_mode="reflection",
                      align_corners=align)
    np.testing.assert_allclose(_np(y), _grid_sample_reflection_ref(x, grid, mode, align),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("align", [False, True])
def test_grid_sample_reflection_grid_gradient_follows_the_mirror(align):
    # Sampling a ramp x[..., j] = j returns the reflected-and-clipped coordinate
    # itself; its slope wrt the grid is +-scale, with the sign flipped on every
    # mirrored stretch, and 0 where the clip is active.
    w = 4
    scale = (w - 1) / 2 if align else w / 2
    lo, hi = (0.0, w - 1.0) if align else (-0.5, w - 0.5)
    ramp = np.broadcast_to(np.arange(w, dtype=np.float64), (1, 1, 1, w))
    gx = np.array([0.1, -1.3, 1.45, 2.6, -3.7, 5.2, 6.9, -8.35])
    grid = np.stack([gx, np.zeros_like(gx)], -1).reshape(1, 1, -1, 2)
    g = _v(grid)
    y = F.grid_sample(_t(ramp), g, padding_mode="reflection", align_corners=align)
    y.sum().backward()
    p = ((gx + 1) * w - 1) / 2 if not align else (gx + 1) / 2 * (w - 1)
    ref = np.array([min(max(_reflect_ref(v, lo, hi), 0), w - 1) for v in p])
    np.testing.assert_allclose(_np(y).ravel(), ref, atol=1e-12)
    # the sign by counting mirror crossings
    sign = []
    for v in p:
        flips = 0
        while v < lo or v > hi:
            v, flips = (2 * lo - v if v < lo else 2 * hi - v), flips + 1
        sign.append(0.0 if v <= 0 or v >= w - 1 else (-1.0) ** flips)
    np.testing.assert_allclose(_grad(g)[0, 0, :, 0], scale * np.array(sign), atol=1e-12)
    np.testing.assert_array_equal(_grad(g)[..., 1], 0)


def test_grid_sample_errors():
    x = fl.zeros(1, 1, 3, 3)
    with pytest.raises(ShapeError, match=r"grid_sample: expected a grid of shape \(N, H_out, "
                                         r"W_out, 2\) with N = 1"):
        F.grid_sample(x, fl.zeros(2, 2, 2, 2))
    with pytest.raises(ValueError, match="grid_sample: padding_mode 'mirror' is not one of "
                                         "'zeros', 'border', 'reflection'"):
        F.grid_sample(x, fl.zeros(1, 2, 2, 2), padding_mode="mirror")
    with pytest.raises(DTypeError, match="grid_sample: input and grid must have the same dtype"):
        F.grid_sample(x, fl.zeros(1, 2, 2, 2, dtype=DType.Float64))


# ---------------------------------------------------------- gaussian blur


def test_gaussian_blur_keeps_constants_and_shape():
    x = fl.ones(2, 3, 6, 7)
    y = F.gaussian_blur_2d(x, (5, 3), (1.2, 0.7))
    assert y.shape == x.shape
    np.testing.assert_allclose(_np(y), 1.0, atol=1e-6)


def test_gaussian_blur_of_an_impulse_is_the_normalised_kernel():
    x = np.zeros((1, 1, 7, 7))
    x[0, 0, 3, 3] = 1.0
    y = _np(F.gaussian_blur_2d(_t(x), 3, 1.0))
    k = np.exp(-0.5 * np.array([1.0, 0.0, 1.0]))
    k /= k.sum()
    np.testing.assert_allclose(y[0, 0, 2:5, 2:5], np.outer(k, k), atol=1e-12)
    assert abs(y.sum() - 1) < 1e-12


def test_gaussian_blur_errors():
    x = fl.zeros(1, 1, 4, 4)
    with pytest.raises(ShapeError, match="gaussian_blur_2d: kernel_size must be odd and "
                                         "positive"):
        F.gaussian_blur_2d(x, 4, 1.0)
    with pytest.raises(ShapeError, match="gaussian_blur_2d: sigma must be positive"):
        F.gaussian_blur_2d(x, 3, 0.0)
    with pytest.raises(ShapeError, match="reflect padding"):
        F.gaussian_blur_2d(x, 9, 1.0)


def test_max_pool_window_of_padding_only():
    # dilation 3 puts both taps of the only window outside the 2-long input:
    # -inf out, PyTorch's index (the first tap not before the start), no gradient.
    x = _v([[[1.0, 2.0]]])
    y, idx = F.max_pool1d(x, 2, stride=3, padding=1, dilation=3, return_indices=True)
    assert _np(y).item() == -np.inf and idx.numpy().item() == 2
    gy = Variable(_t([[[1.0]]]), requires_grad=True)
    (gx,) = fl.grad([y], [x], [gy], create_graph=True)
    np.testing.assert_array_equal(_np(gx), [[[0, 0]]])
    gx.sum().backward()
    np.testing.assert_array_equal(_grad(gy), [[[0]]])
