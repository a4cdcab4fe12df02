"""Convolutions, unfold and fold: error messages, the algorithm paths of
``ops/conv.py`` agreeing with each other and with the registry references on
shapes larger than the registry's, dtypes, and the im2col cache's lifetime."""
import numpy as np
import pytest

import flodl_core as fl
from flodl_core import DType, Tensor, Variable
from flodl_core.autograd.ops import conv as C
from flodl_core.autograd.registry import conv as R
from flodl_core.errors import DTypeError, FlodlError, ShapeError
from flodl_core.nn import functional as F


def message(fn, cls=FlodlError):
    with pytest.raises(cls) as ei:
        fn()
    return str(ei.value)


def T(*shape, dtype=DType.Float32):
    return fl.zeros(*shape, dtype=dtype)


def V(a, requires_grad=True):
    return Variable(fl.tensor(a), requires_grad=requires_grad)


WRAPS = [pytest.param(lambda t: t, id="tensor"),
         pytest.param(lambda t: Variable(t, requires_grad=True), id="variable")]


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize("wrap", WRAPS)
class TestConvErrors:
    def test_input_rank(self, wrap):
        assert message(lambda: F.conv2d(wrap(T(3, 5)), wrap(T(2, 3, 3, 3))), ShapeError) == \
            "conv2d: expected a 4-D input (N, C, H, W) or 3-D unbatched, got shape (3, 5)"
        assert message(lambda: F.conv1d(wrap(T(1, 2, 3, 5)), wrap(T(2, 2, 3))), ShapeError) == \
            "conv1d: expected a 3-D input (N, C, L) or 2-D unbatched, got shape (1, 2, 3, 5)"
        assert message(lambda: F.conv3d(wrap(T(2, 3)), wrap(T(2, 3, 1, 1, 1)))) == \
            "conv3d: expected a 5-D input (N, C, D, H, W) or 4-D unbatched, got shape (2, 3)"
        assert message(lambda: F.conv_transpose2d(wrap(T(4)), wrap(T(2, 3, 3, 3)))) == \
            ("conv_transpose2d: expected a 4-D input (N, C, H, W) or 3-D unbatched, "
             "got shape (4,)")

    def test_weight_rank(self, wrap):
        assert message(lambda: F.conv2d(wrap(T(1, 2, 5, 5)), wrap(T(2, 2, 3)))) == \
            ("conv2d: expected a 4-D weight (out_channels, in_channels/groups, kH, kW), "
             "got shape (2, 2, 3)")
        assert message(lambda: F.conv_transpose1d(wrap(T(1, 2, 5)), wrap(T(2, 2)))) == \
            ("conv_transpose1d: expected a 3-D weight (in_channels, out_channels/groups, kL), "
             "got shape (2, 2)")

    def test_channels(self, wrap):
        assert message(lambda: F.conv2d(wrap(T(1, 3, 5, 5)), wrap(T(4, 2, 3, 3))),
                       ShapeError) == "conv2d: input has 3 channels, weight expects 2 (groups=1)"
        assert message(lambda: F.conv2d(wrap(T(1, 3, 5, 5)), wrap(T(4, 2, 3, 3)), groups=2)) \
            == "conv2d: input has 3 channels, weight expects 4 (groups=2)"
        assert message(lambda: F.conv_transpose2d(wrap(T(1, 3, 5, 5)), wrap(T(2, 2, 3, 3)))) \
            == ("conv_transpose2d: input has 3 channels, weight expects 2 "
                "(weight.shape[0], groups=1)")

    def test_groups(self, wrap):
        assert message(lambda: F.conv2d(wrap(T(1, 4, 5, 5)), wrap(T(3, 2, 3, 3)), groups=2)) \
            == "conv2d: out_channels 3 (weight.shape[0]) must be divisible by groups=2"
        assert message(lambda: F.conv_transpose1d(wrap(T(1, 3, 5)), wrap(T(3, 1, 2)),
                                                  groups=2)) == \
            "conv_transpose1d: in_channels 3 must be divisible by groups=2"
        assert message(lambda: F.conv2d(wrap(T(1, 4, 5, 5)), wrap(T(4, 4, 3, 3)), groups=0)) \
            == "conv2d: groups must be positive, got 0"
        with pytest.raises(TypeError, match="conv2d: groups must be an int, got 1.5"):
            F.conv2d(wrap(T(1, 4, 5, 5)), wrap(T(4, 4, 3, 3)), groups=1.5)

    def test_kernel_larger_than_padded_input(self, wrap):
        assert message(lambda: F.conv2d(wrap(T(1, 1, 4, 4)), wrap(T(2, 1, 5, 5)))) == \
            ("conv2d: kernel size (5, 5) (dilated extent (5, 5)) is larger than the padded "
             "input size (4, 4)")
        assert message(lambda: F.conv1d(wrap(T(1, 1, 4)), wrap(T(2, 1, 3)), dilation=2)) == \
            ("conv1d: kernel size (3,) (dilated extent (5,)) is larger than the padded "
             "input size (4,)")
        F.conv1d(wrap(T(1, 1, 4)), wrap(T(2, 1, 3)), dilation=2, padding=1)   # fits now

    def test_stride_padding_dilation_values(self, wrap):
        x, w = wrap(T(1, 2, 5, 5)), wrap(T(2, 2, 3, 3))
        assert message(lambda: F.conv2d(x, w, stride=0)) == \
            "conv2d: stride must be positive, got (0, 0)"
        assert message(lambda: F.conv2d(x, w, stride=(1, -1))) == \
            "conv2d: stride must be positive, got (1, -1)"
        assert message(lambda: F.conv2d(x, w, dilation=(0, 1))) == \
            "conv2d: dilation must be positive, got (0, 1)"
        assert message(lambda: F.conv2d(x, w, padding=-1)) == \
            "conv2d: padding must be non-negative, got (-1, -1)"
        assert message(lambda: F.conv2d(x, w, stride=(1, 1, 1))) == \
            "conv2d: stride must be an int or a tuple of 2 ints, got (1, 1, 1)"
        assert message(lambda: F.conv2d(x, w, padding="full")) == \
            "conv2d: padding must be 'valid', 'same', an int or a tuple of 2 ints, got 'full'"
        with pytest.raises(TypeError, match="conv2d: stride must be an int or a tuple"):
            F.conv2d(x, w, stride=1.0)
        with pytest.raises(TypeError, match="conv2d: padding must be an int or a tuple"):
            F.conv2d(x, w, padding=(1, True))

    def test_same_with_stride(self, wrap):
        assert message(lambda: F.conv2d(wrap(T(1, 2, 5, 5)), wrap(T(2, 2, 3, 3)), stride=2,
                                        padding="same")) == \
            "conv2d: padding='same' is not supported for strided convolutions (stride=(2, 2))"

    def test_bias(self, wrap):
        x, w = wrap(T(1, 2, 5, 5)), wrap(T(4, 2, 3, 3))
        assert message(lambda: F.conv2d(x, w, wrap(T(3)))) == \
            "conv2d: expected a bias of shape (4,), got shape (3,)"
        assert message(lambda: F.conv_transpose2d(wrap(T(1, 4, 3, 3)), w, wrap(T(4)))) == \
            "conv_transpose2d: expected a bias of shape (2,), got shape (4,)"
        assert message(lambda: F.conv2d(x, w, wrap(T(4, dtype=DType.Float64))), DTypeError) == \
            "conv2d: bias dtype Float64 does not match input dtype Float32"

    def test_dtypes(self, wrap):
        assert message(lambda: F.conv2d(wrap(T(1, 2, 5, 5)),
                                        wrap(T(2, 2, 3, 3, dtype=DType.Float64))), DTypeError) \
            == "conv2d: weight dtype Float64 does not match input dtype Float32"
        xi = fl.zeros(1, 2, 5, 5, dtype=DType.Int64)
        assert message(lambda: F.conv2d(xi, fl.zeros(2, 2, 3, 3, dtype=DType.Int64)),
                       DTypeError) == "conv2d: expected a floating-point input, got Int64"

    def test_output_padding(self, wrap):
        x, w = wrap(T(1, 2, 4, 4)), wrap(T(2, 2, 3, 3))
        assert message(lambda: F.conv_transpose2d(x, w, output_padding=1)) == \
            ("conv_transpose2d: output_padding (1, 1) must be smaller than either stride "
             "(1, 1) or dilation (1, 1) in each dim")
        assert F.conv_transpose2d(x, w, output_padding=1, dilation=2).shape == (1, 2, 9, 9)
        assert F.conv_transpose2d(x, w, output_padding=(1, 0), stride=(2, 1)).shape == \
            (1, 2, 10, 6)

    def test_conv_transpose_padding(self, wrap):
        x, w = wrap(T(1, 2, 2, 2)), wrap(T(2, 2, 1, 1))
        with pytest.raises(TypeError, match="conv_transpose2d: padding must be an int"):
            F.conv_transpose2d(x, w, padding="same")
        assert message(lambda: F.conv_transpose2d(x, w, padding=1)) == \
            ("conv_transpose2d: output size (0, 0) is not positive (input size (2, 2), "
             "stride (1, 1), padding (1, 1), dilation (1, 1), kernel (1, 1))")

    def test_not_a_tensor(self, wrap):
        with pytest.raises(TypeError, match="conv2d: weight must be a tensor, got ndarray"):
            F.conv2d(wrap(T(1, 2, 5, 5)), np.zeros((2, 2, 3, 3)))


@pytest.mark.parametrize("wrap", WRAPS)
class TestFoldErrors:
    def test_unfold(self, wrap):
        assert message(lambda: F.unfold(wrap(T(2, 3)), 2), ShapeError) == \
            "unfold: expected a 4-D input (N, C, H, W) or 3-D unbatched, got shape (2, 3)"
        assert message(lambda: F.unfold(wrap(T(1, 1, 3, 3)), 4)) == \
            ("unfold: kernel size (4, 4) (dilated extent (4, 4)) is larger than the padded "
             "input size (3, 3)")
        assert message(lambda: F.unfold(wrap(T(1, 1, 3, 3)), 2, stride=0)) == \
            "unfold: stride must be positive, got (0, 0)"

    def test_fold(self, wrap):
        assert message(lambda: F.fold(wrap(T(2, 3, 4, 5)), (3, 3), 2), ShapeError) == \
            ("fold: expected a 3-D input (N, C * kH * kW, L) or 2-D unbatched, "
             "got shape (2, 3, 4, 5)")
        assert message(lambda: F.fold(wrap(T(1, 6, 4)), (3, 3), 2)) == \
            "fold: input's dim 1 (6) must be divisible by the product of kernel_size (2, 2) (4)"
        assert message(lambda: F.fold(wrap(T(1, 4, 5)), (3, 3), 2)) == \
            ("fold: input has 5 blocks, but output_size (3, 3) with kernel_size (2, 2), "
             "dilation (1, 1), padding (0, 0), stride (1, 1) gives 4 blocks")
        assert message(lambda: F.fold(wrap(T(1, 16, 5)), (3, 3), 4)) == \
            ("fold: input has 5 blocks, but output_size (3, 3) with kernel_size (4, 4), "
             "dilation (1, 1), padding (0, 0), stride (1, 1) gives 0 blocks")


# ------------------------------------------------- algorithm paths agree

# (WIDE_MAX_WASTE, BATCHED_GEMM_MIN_L, FLIP_MAX_RATIO, COLUMNS_CACHE_MAX_BYTES,
#  PARTIAL_MIN_ROWS)
KNOBS = [
    pytest.param((0.5, 128, 2.0, 64 << 20, 24), id="defaults"),
    pytest.param((-1.0, 0, 0.0, 0, 0), id="strided-batched-col2im-nocache"),
    pytest.param((10.0, 0, 1e9, 64 << 20, 10 ** 9), id="wide-batched-flip-cache"),
    pytest.param((10.0, 0, 1e9, 64 << 20, 0), id="wide-partial-flip-cache"),
    pytest.param((10.0, 0, 0.0, 0, 0), id="wide-partial-col2im-nocache"),
    pytest.param((10.0, 10 ** 9, 0.0, 64 << 20, 0), id="wide-wholebatch-col2im-cache"),
    pytest.param((-1.0, 10 ** 9, 1e9, 0, 0), id="strided-wholebatch-flip-nocache"),
]

CONV_CASES = [
    ("conv2d", (2, 4, 9, 8), (6, 4, 3, 3), dict(padding=1)),
    ("conv2d", (2, 4, 9, 8), (6, 2, 3, 2), dict(stride=(2, 1), dilation=(1, 2), groups=2)),
    ("conv2d", (2, 4, 9, 8), (6, 2, 3, 2), dict(padding=(1, 0), dilation=(2, 1), groups=2)),
    ("conv2d", (3, 2, 7, 7), (2, 2, 4, 4), dict(padding="same", dilation=2)),
    ("conv1d", (2, 3, 20), (4, 3, 5), dict(stride=1, padding=2)),
    ("conv3d", (1, 2, 5, 5, 4), (3, 2, 2, 3, 2), dict(padding=(1, 0, 1))),
    ("conv_transpose2d", (2, 4, 6, 5), (4, 3, 3, 3), dict(padding=1)),
    ("conv_transpose2d", (2, 4, 5, 5), (4, 1, 3, 2),
     dict(stride=2, output_padding=1, groups=2, dilation=(1, 2))),
    ("conv_transpose1d", (2, 6, 12), (6, 2, 3), dict(padding=1, groups=3)),
    ("conv_transpose2d", (2, 3, 6, 6), (3, 2, 1, 2), dict(padding=1)),   # crops when flipped
    ("conv2d", (2, 3, 8, 8), (4, 3, 1, 1), dict(stride=2)),              # reads short of the end
    ("conv_transpose3d", (1, 2, 3, 4, 3), (2, 2, 2, 2, 3), dict(stride=(1, 2, 1))),
]


def _run_case(name, xs, ws, kw, seed=0):
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    nb = ws[1] * kw.get("groups", 1) if "transpose" in name else ws[0]
    b = rng.standard_normal(nb)
    xv, wv, bv = V(x), V(w), V(b)
    y = getattr(F, name)(xv, wv, bv, **kw)
    gy = rng.standard_normal(y.shape)
    grads = fl.grad([y], [xv, wv, bv], [fl.tensor(gy)], create_graph=True)
    # a second-order quantity, through the backward graph
    s = sum((g * g).sum() for g in grads)
    gg = fl.grad([s], [xv, wv])
    return (x, w, b), y.to_numpy(), [g.to_numpy() for g in grads], [g.to_numpy() for g in gg]


def _set_knobs(monkeypatch, knobs):
    for attr, v in zip(("WIDE_MAX_WASTE", "BATCHED_GEMM_MIN_L", "FLIP_MAX_RATIO",
                        "COLUMNS_CACHE_MAX_BYTES", "PARTIAL_MIN_ROWS"), knobs):
        monkeypatch.setattr(C, attr, v)


@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: f"{c[0]}-{c[3]}")
def test_paths_agree(case, monkeypatch):
    name, xs, ws, kw = case
    results = []
    for knobs in KNOBS:
        _set_knobs(monkeypatch, knobs.values[0])
        results.append(_run_case(name, xs, ws, kw))
    (x, w, b), y0, g0, gg0 = results[0]
    ref = R._ref_conv_transpose if "transpose" in name else R._ref_conv
    np.testing.assert_allclose(y0, ref(x, w, b, **kw), atol=1e-10, rtol=1e-10)
    for _, y, g, gg in results[1:]:
        np.testing.assert_allclose(y, y0, atol=1e-10, rtol=1e-10)
        for a, e in zip(g + gg, g0 + gg0):
            np.testing.assert_allclose(a, e, atol=1e-9, rtol=1e-9)


def test_conv_grads_match_their_adjoint_definition():
    """<conv(x, w), gy> = <x, gx> = <w, gw>: the backward is the exact adjoint."""
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 4, 9, 7)), rng.standard_normal((6, 2, 3, 2))
    xv, wv = V(x), V(w)
    y = F.conv2d(xv, wv, stride=2, padding=(1, 2), dilation=(2, 1), groups=2)
    gy = rng.standard_normal(y.shape)
    gx, gw = fl.grad([y], [xv, wv], [fl.tensor(gy)])
    inner = float((y.to_numpy() * gy).sum())
    assert np.isclose(inner, float((x * gx.to_numpy()).sum()))
    assert np.isclose(inner, float((w * gw.to_numpy()).sum()))


@pytest.mark.parametrize("size,kw", [((7, 6), dict(kernel_size=3, padding=1)),
                                     ((8, 9), dict(kernel_size=(2, 3), stride=(2, 3),
                                                   dilation=(2, 1)))])
def test_unfold_fold_larger(size, kw):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3) + size)
    xv = V(x)
    cols = F.unfold(xv, **kw)
    np.testing.assert_allclose(cols.to_numpy(), R._ref_unfold(x, **kw))
    back = F.fold(cols, size, **kw)
    np.testing.assert_allclose(back.to_numpy(), R._ref_fold(R._ref_unfold(x, **kw), size, **kw))
    # unfold's gradient is fold: d/dx sum(unfold(x) * c) = fold(c)
    c = rng.standard_normal(cols.shape)
    (gx,) = fl.grad([cols], [xv], [fl.tensor(c)])
    np.testing.assert_allclose(gx.to_numpy(), R._ref_fold(c, size, **kw), atol=1e-12)


# ------------------------------------------------------------------- dtypes


@pytest.mark.parametrize("dtype", [DType.Float16, DType.BFloat16, DType.Float32])
def test_half_types_compute_in_float32_and_keep_their_dtype(dtype):
    rng = np.random.default_rng(3)
    x, w, b = rng.uniform(-1, 1, (2, 3, 6, 6)), rng.uniform(-1, 1, (4, 3, 3, 3)), \
        rng.uniform(-1, 1, 4)
    xv, wv, bv = (Variable(fl.tensor(a, dtype=dtype), requires_grad=True) for a in (x, w, b))
    y = F.conv2d(xv, wv, bv, padding=1)
    assert y.dtype == dtype
    exact = R._ref_conv(*(a.astype(dtype.numpy).astype(np.float64) for a in (x, w, b)),
                        padding=1)
    # one rounding of the float32 result to the half type
    tol = {DType.Float16: 2e-3, DType.BFloat16: 1e-2, DType.Float32: 1e-6}[dtype]
    np.testing.assert_allclose(y.to_numpy().astype(np.float64), exact, rtol=tol, atol=tol)
    y.sum().backward()
    assert xv.grad.dtype == dtype and wv.grad.dtype == dtype and bv.grad.dtype == dtype
    yt = F.conv_transpose2d(xv, Variable(fl.tensor(w.transpose(1, 0, 2, 3).copy(),
                                                   dtype=dtype)), stride=2)
    assert yt.dtype == dtype


def test_unbatched_and_same_shapes():
    assert F.conv2d(T(3, 7, 8), T(5, 3, 4, 2), padding="same").shape == (5, 7, 8)
    assert F.conv1d(T(3, 7), T(5, 3, 4), padding="same", dilation=3).shape == (5, 7)
    assert F.conv3d(T(2, 3, 4, 5), T(1, 2, 3, 3, 3), padding="valid").shape == (1, 1, 2, 3)
    assert F.conv_transpose2d(T(2, 3, 3), T(2, 4, 3, 3), stride=2).shape == (4, 7, 7)
    assert F.unfold(T(2, 4, 5), 2).shape == (8, 12)
    assert F.fold(T(8, 12), (4, 5), 2).shape == (2, 4, 5)


def test_forward_returns_tensors_for_tensors():
    y = F.conv2d(fl.ones(1, 1, 4, 4), fl.ones(2, 1, 3, 3), padding=1)
    assert type(y) is Tensor
    assert y.to_numpy()[0, 0].tolist() == [[4, 6, 6, 4], [6, 9, 9, 6], [6, 9, 9, 6],
                                           [4, 6, 6, 4]]


# ------------------------------------------------------- the im2col cache


def test_columns_are_kept_only_while_needed():
    rng = np.random.default_rng(4)
    x = fl.tensor(rng.standard_normal((2, 3, 6, 6)))
    wv = V(rng.standard_normal((4, 3, 3, 3)))
    y = F.conv2d(x, wv, padding=1)
    node = y._creator
    assert isinstance(node, C.Convolution) and node.columns is not None
    y.sum().backward(retain_graph=True)
    g1 = wv.grad.to_numpy().copy()
    assert node.columns is not None          # retained graph: still usable
    y.sum().backward()
    np.testing.assert_allclose(wv.grad.to_numpy(), 2 * g1)
    assert node.columns is None              # released with the node

    with fl.no_grad():
        assert F.conv2d(Variable(x, requires_grad=True), wv)._creator is None
    # a constant weight needs no weight gradient: nothing kept
    xv = V(rng.standard_normal((2, 3, 6, 6)))
    assert F.conv2d(xv, fl.tensor(rng.standard_normal((4, 3, 3, 3))))._creator.columns is None


def test_cache_limit(monkeypatch):
    monkeypatch.setattr(C, "COLUMNS_CACHE_MAX_BYTES", 100)
    wv = V(np.ones((4, 3, 3, 3)))
    y = F.conv2d(fl.ones(2, 3, 6, 6, dtype=DType.Float64), wv, padding=1)
    assert y._creator.columns is None
    y.sum().backward()
    np.testing.assert_allclose(wv.grad.to_numpy()[0, 0], [[50, 60, 50], [60, 72, 60],
                                                         [50, 60, 50]])


def test_first_layer_skips_input_gradient(monkeypatch):
    """A constant input gets no input gradient: conv_transpose never runs."""
    def fail(self, *arrays):
        raise AssertionError("ConvTranspose ran for a constant input")
    wv = V(np.ones((2, 1, 3, 3)))
    y = F.conv2d(fl.ones(1, 1, 5, 5, dtype=DType.Float64), wv)
    monkeypatch.setattr(C.ConvTranspose, "forward", fail)
    y.sum().backward()
    np.testing.assert_allclose(wv.grad.to_numpy(), np.full((2, 1, 3, 3), 9.0))

