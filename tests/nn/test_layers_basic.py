"""Linear, activation, dropout, embedding and misc layers: initialisation, error
messages, repr, and the train-mode behaviour of dropout (the module registry
suite checks forwards and gradients)."""
import math

import numpy as np
import pytest

import flodl_core as fl
from flodl_core import nn
from flodl_core.errors import DTypeError, FlodlIndexError, ShapeError

F64 = fl.DType.Float64


def var(a):
    return fl.Variable(fl.from_numpy(np.asarray(a, dtype=np.float64)), requires_grad=True)


def np_of(t):
    return np.asarray(t.to_numpy())


# ------------------------------------------------------------------ linear


def test_linear_shapes_names_and_torch_default_init():
    fl.manual_seed(0)
    fc = nn.Linear(200, 300)
    assert [(n, p.shape) for n, p in fc.named_parameters()] == [("weight", (300, 200)),
                                                                 ("bias", (300,))]
    bound = 1 / math.sqrt(200)
    for p in (np_of(fc.weight), np_of(fc.bias)):
        assert np.abs(p).max() <= bound and np.abs(p).max() > 0.9 * bound
    assert np_of(fc.weight).std() == pytest.approx(bound / math.sqrt(3), rel=0.05)
    assert fc.weight.dtype == fl.DType.Float32
    assert fc(fl.zeros(7, 4, 200)).shape == (7, 4, 300)


def test_linear_init_is_reproducible_and_respects_dtype():
    fl.manual_seed(3)
    a = nn.Linear(4, 3, dtype=F64)
    fl.manual_seed(3)
    b = nn.Linear(4, 3, dtype=F64)
    assert a.weight.dtype == F64 and a.bias.dtype == F64
    np.testing.assert_array_equal(np_of(a.weight), np_of(b.weight))
    np.testing.assert_array_equal(np_of(a.bias), np_of(b.bias))


def test_linear_without_bias():
    fc = nn.Linear(3, 2, bias=False)
    assert fc.bias is None and list(fc.state_dict()) == ["weight"]
    assert "bias=False" in repr(fc)
    x = np.arange(6.0).reshape(2, 3)
    fc64 = nn.Linear(3, 2, bias=False, dtype=F64)
    np.testing.assert_allclose(np_of(fc64(var(x))), x @ np_of(fc64.weight).T)


def test_linear_repr_and_error_messages():
    fc = nn.Linear(784, 128)
    assert repr(fc).startswith("Linear(in_features=784, out_features=128, bias=True)")
    assert "100,480 params" in repr(fc)
    with pytest.raises(ShapeError, match=r"Linear\(784 -> 128\): input last dim must be 784, "
                                         r"got shape \(32, 28, 28\)"):
        fc(fl.zeros(32, 28, 28))
    with pytest.raises(TypeError, match="Linear.*must be a Tensor"):
        fc(np.zeros((2, 784)))
    with pytest.raises(ValueError, match="in_features"):
        nn.Linear(-1, 3)


def test_linear_gradients_reach_parameters():
    fc = nn.Linear(3, 2, dtype=F64)
    x = var(np.ones((4, 3)))
    fc(x).sum().backward()
    np.testing.assert_allclose(np_of(fc.weight.grad), np.full((2, 3), 4.0))
    np.testing.assert_allclose(np_of(fc.bias.grad), np.full(2, 4.0))


def test_bilinear_init_and_errors():
    fl.manual_seed(1)
    b = nn.Bilinear(25, 7, 40)
    assert b.weight.shape == (40, 25, 7) and b.bias.shape == (40,)
    assert np.abs(np_of(b.weight)).max() <= 1 / 5 and np.abs(np_of(b.bias)).max() <= 1 / 5
    assert b(fl.zeros(3, 25), fl.zeros(3, 7)).shape == (3, 40)
    with pytest.raises(ShapeError, match=r"Bilinear\(25 x 7 -> 40\): input2 last dim must be 7"):
        b(fl.zeros(3, 25), fl.zeros(3, 6))
    with pytest.raises(ShapeError, match="same leading dims"):
        b(fl.zeros(3, 25), fl.zeros(2, 7))
    assert nn.Bilinear(2, 2, 1, bias=False).bias is None


def test_identity_flatten_reshape():
    x = fl.randn(2, 3, 4, 5)
    assert nn.Identity(54, unused=True)(x) is x
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, 1)(x).shape == (6, 4, 5)
    assert nn.Flatten(-2)(x).shape == (2, 3, 20)
    with pytest.raises(ShapeError, match=r"Flatten\(start_dim=1, end_dim=-1\): start_dim=1 out "
                                         r"of range for a 1-d input"):
        nn.Flatten()(fl.zeros(5))
    assert nn.Reshape(-1, 12)(x).shape == (10, 12)
    assert nn.Reshape((6, 20))(x).shape == (6, 20)
    assert repr(nn.Reshape(-1, 4)) == "Reshape(shape=(-1, 4))"
    with pytest.raises(ShapeError, match=r"Reshape\(shape=\(7, -1\)\): cannot reshape an input "
                                         r"of shape \(2, 3, 4, 5\)"):
        nn.Reshape(7, -1)(x)
    with pytest.raises(ShapeError, match="cannot reshape"):
        nn.Reshape(3, 3)(x)
    with pytest.raises(ValueError, match="at most one entry"):
        nn.Reshape(-1, -1)


# -------------------------------------------------------------- activations

ACTIVATIONS = ["ReLU", "Sigmoid", "Tanh", "GELU", "SiLU", "Mish", "SELU", "Hardswish",
               "Hardsigmoid", "LeakyReLU", "ELU", "Softplus", "Softmax", "LogSoftmax", "PReLU"]


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activations_build_without_arguments_and_keep_shape(name):
    layer = getattr(nn, name)()
    x = fl.randn(2, 3, 4)
    assert layer(x).shape == (2, 3, 4)
    assert repr(layer).startswith(name + "(")


def test_gelu_tanh_approximation_and_validation():
    x = np.linspace(-4, 4, 17)
    want = 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    np.testing.assert_allclose(np_of(nn.GELU("tanh")(var(x))), want, rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU("fast")


def test_parameterised_activations_repr_like_torch():
    assert nn.LeakyReLU(0.2).extra_repr() == "negative_slope=0.2"
    assert nn.ELU().extra_repr() == "alpha=1.0"
    assert nn.Softplus(beta=2).extra_repr() == "beta=2.0, threshold=20.0"
    assert nn.Softmax(dim=1).extra_repr() == "dim=1"
    assert nn.LogSoftmax().extra_repr() == "dim=-1"
    assert nn.GELU().extra_repr() == "approximate='none'"


def test_inplace_is_refused_and_softmax_needs_an_int_dim():
    with pytest.raises(ValueError, match="inplace=True is not supported"):
        nn.ReLU(inplace=True)
    with pytest.raises(ValueError, match="inplace"):
        nn.LeakyReLU(0.1, inplace=True)
    assert nn.ReLU(inplace=False)(fl.ones(2)).shape == (2,)
    with pytest.raises(ValueError, match="dim must be an int"):
        nn.Softmax(dim=None)
    with pytest.raises(ShapeError, match=r"Softmax\(dim=2\): dim out of range"):
        nn.Softmax(dim=2)(fl.zeros(2, 3))


def test_softmax_rows_sum_to_one():
    y = np_of(nn.Softmax(dim=0)(fl.randn(5, 3)))
    np.testing.assert_allclose(y.sum(axis=0), 1.0, rtol=1e-6)


def test_prelu_parameter_and_channel_check():
    p = nn.PReLU()
    assert p.weight.shape == (1,) and np_of(p.weight).tolist() == [0.25]
    assert nn.PReLU(4).num_parameters() == 4 and repr(nn.PReLU(4)) == \
        "PReLU(num_parameters=4)  # 4 params"
    q = nn.PReLU(num_parameters=3, init=0.1, dtype=F64)
    x = var(-np.ones((2, 3, 2)))
    y = q(x)
    np.testing.assert_allclose(np_of(y), -0.1)
    y.sum().backward()
    np.testing.assert_allclose(np_of(q.weight.grad), [-4.0, -4.0, -4.0])
    with pytest.raises(ShapeError, match=r"PReLU\(num_parameters=3\): input channels \(dim 1\) "
                                         r"must be 3, got shape \(2, 4\)"):
        q(fl.zeros(2, 4, dtype=F64))


# ------------------------------------------------------------------ dropout


def test_dropout_train_mode_scales_and_drops_about_p():
    d = nn.Dropout(0.3)
    x = fl.ones(200, 500)
    fl.manual_seed(0)
    y = np_of(d(x))
    kept = y != 0
    assert kept.mean() == pytest.approx(0.7, abs=0.01)
    np.testing.assert_allclose(y[kept], 1 / 0.7, rtol=1e-6)
    assert y.mean() == pytest.approx(1.0, abs=0.02)


def test_dropout_is_reproducible_under_manual_seed():
    x = fl.randn(50, 40)
    d = nn.Dropout(0.5)
    fl.manual_seed(11)
    a = np_of(d(x))
    b = np_of(d(x))
    fl.manual_seed(11)
    c = np_of(d(x))
    np.testing.assert_array_equal(a, c)
    assert not np.array_equal(a, b)


def test_dropout_eval_mode_is_identity_and_gradient_is_the_mask():
    d = nn.Dropout(0.4)
    x = var(np.random.default_rng(0).standard_normal((30, 30)))
    d.eval()
    np.testing.assert_array_equal(np_of(d(x)), np_of(x))
    d.train()
    y = d(x)
    y.sum().backward()
    mask = np_of(y) != 0
    np.testing.assert_allclose(np_of(x.grad), mask / 0.6)


def test_dropout_edge_probabilities_and_validation():
    x = fl.randn(4, 5)
    np.testing.assert_array_equal(np_of(nn.Dropout(0.0)(x)), np_of(x))
    assert not np_of(nn.Dropout(1.0)(x)).any()
    for bad in (-0.1, 1.5, True, "0.5"):
        with pytest.raises(ValueError, match="p must be a probability"):
            nn.Dropout(bad)
    with pytest.raises(ValueError, match="inplace"):
        nn.Dropout(0.5, inplace=True)
    assert nn.Dropout().p == 0.5 and repr(nn.Dropout2d(0.1)) == "Dropout2d(p=0.1, inplace=False)"


def test_dropout2d_zeroes_whole_channels():
    d = nn.Dropout2d(0.5)
    fl.manual_seed(2)
    y = np_of(d(fl.ones(8, 16, 5, 6)))
    per_channel = y.reshape(8, 16, -1)
    assert np.all(per_channel.min(axis=2) == per_channel.max(axis=2))   # all or nothing
    assert set(np.unique(y).tolist()) <= {0.0, 2.0}
    assert 0.3 < (per_channel[:, :, 0] == 0).mean() < 0.7
    with pytest.raises(ShapeError, match=r"Dropout2d\(p=0.5, inplace=False\): expected an "
                                         r"input \(N, C, H, W\)"):
        d(fl.ones(5))
    d.eval()
    x = fl.randn(2, 3, 4, 4)
    np.testing.assert_array_equal(np_of(d(x)), np_of(x))


def test_alpha_dropout_keeps_mean_and_variance():
    d = nn.AlphaDropout(0.2)
    fl.manual_seed(5)
    x = fl.randn(400, 500, dtype=F64)
    y = np_of(d(x))
    assert y.mean() == pytest.approx(0.0, abs=0.02)
    assert y.std() == pytest.approx(1.0, abs=0.02)
    values, counts = np.unique(y, return_counts=True)
    assert counts.max() / y.size == pytest.approx(0.2, abs=0.01)   # dropped -> one value
    assert values[counts.argmax()] < -0.5
    d.eval()
    np.testing.assert_array_equal(np_of(d(x)), np_of(x))


# ---------------------------------------------------------------- embedding


def test_embedding_init_padding_row_and_gradient():
    fl.manual_seed(0)
    e = nn.Embedding(300, 64, padding_idx=2, dtype=F64)
    w = np_of(e.weight)
    assert w.shape == (300, 64) and not w[2].any()
    rest = np.delete(w, 2, axis=0)
    assert rest.mean() == pytest.approx(0.0, abs=0.02) and rest.std() == pytest.approx(1.0,
                                                                                      abs=0.02)
    idx = fl.from_numpy(np.array([[2, 5], [5, 2]]))
    out = e(idx)
    assert out.shape == (2, 2, 64)
    out.sum().backward()
    g = np_of(e.weight.grad)
    assert not g[2].any() and np.all(g[5] == 2.0)
    assert nn.Embedding(5, 2, padding_idx=-1).padding_idx == 4
    with pytest.raises(ValueError, match="padding_idx must be within"):
        nn.Embedding(5, 2, padding_idx=5)


def test_embedding_errors_name_the_layer():
    e = nn.Embedding(10, 4)
    with pytest.raises(FlodlIndexError, match=r"Embedding\(10, 4\): index 12 out of range"):
        e(fl.from_numpy(np.array([1, 12])))
    with pytest.raises(FlodlIndexError, match="index -1 out of range"):
        e(fl.from_numpy(np.array([-1, 2])))
    with pytest.raises(DTypeError, match=r"Embedding\(10, 4\): input must hold integer indices"):
        e(fl.zeros(3))
    assert repr(nn.Embedding(10, 4, padding_idx=0)) == \
        "Embedding(10, 4, padding_idx=0)  # 40 params"


def test_embedding_from_pretrained_and_max_norm():
    table = fl.from_numpy(np.arange(12.0).reshape(4, 3))
    e = nn.Embedding.from_pretrained(table)
    assert e.weight.is_frozen and e.num_embeddings == 4 and e.embedding_dim == 3
    np.testing.assert_array_equal(np_of(e(fl.from_numpy(np.array([3])))), [[9.0, 10.0, 11.0]])
    m = nn.Embedding.from_pretrained(table, freeze=False, max_norm=1.0)
    assert not m.weight.is_frozen
    out = np_of(m(fl.from_numpy(np.array([1, 2]))))
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-6)
    # only the looked-up rows are renormalised, in place (as in PyTorch)
    assert np.linalg.norm(np_of(m.weight)[3]) > 1.0
    with pytest.raises(ShapeError, match="2-D"):
        nn.Embedding.from_pretrained(fl.zeros(3))


def test_embedding_bag_modes_offsets_and_weights():
    fl.manual_seed(0)
    bag = nn.EmbeddingBag(6, 2, mode="sum", dtype=F64)
    w = np_of(bag.weight)
    idx = fl.from_numpy(np.array([0, 1, 1, 4, 5]))
    off = fl.from_numpy(np.array([0, 3]))
    np.testing.assert_allclose(np_of(bag(idx, off)), [w[0] + 2 * w[1], w[4] + w[5]])
    psw = fl.from_numpy(np.array([1.0, 2.0, 0.5, -1.0, 3.0]))
    np.testing.assert_allclose(np_of(bag(idx, off, per_sample_weights=psw)),
                               [w[0] + 2.5 * w[1], -w[4] + 3 * w[5]])
    mx = nn.EmbeddingBag(6, 2, mode="max", dtype=F64)
    mx.load_state_dict({"weight": w})
    np.testing.assert_allclose(np_of(mx(fl.from_numpy(np.array([[0, 1, 2]])))),
                               [w[:3].max(axis=0)])
    assert nn.EmbeddingBag(6, 2).mode == "mean"


def test_embedding_bag_errors():
    bag = nn.EmbeddingBag(6, 2)
    with pytest.raises(ValueError, match=r"EmbeddingBag\(6, 2, mode='mean'\): a 1-D input needs "
                                         r"offsets"):
        bag(fl.from_numpy(np.array([1, 2])))
    with pytest.raises(ValueError, match="offsets must be None for a 2-D input"):
        bag(fl.from_numpy(np.array([[1, 2]])), fl.from_numpy(np.array([0])))
    with pytest.raises(FlodlIndexError, match=r"EmbeddingBag\(6, 2, mode='mean'\): index 6"):
        bag(fl.from_numpy(np.array([[1, 6]])))
    with pytest.raises(ShapeError, match="1-D .* or 2-D"):
        bag(fl.from_numpy(np.zeros((1, 2, 2), dtype=np.int64)))
    with pytest.raises(ValueError, match="mode must be"):
        nn.EmbeddingBag(6, 2, mode="median")


# --------------------------------------------------------------------- misc


def test_pixel_shuffle_round_trip_and_errors():
    x = fl.randn(2, 8, 3, 5)
    y = nn.PixelShuffle(2)(x)
    assert y.shape == (2, 2, 6, 10)
    np.testing.assert_array_equal(np_of(nn.PixelUnshuffle(2)(y)), np_of(x))
    with pytest.raises(ShapeError, match=r"PixelShuffle\(upscale_factor=2\): input channels "
                                         r"\(dim -3\) must be divisible by upscale_factor\*\*2"):
        nn.PixelShuffle(2)(fl.zeros(1, 6, 2, 2))
    with pytest.raises(ShapeError, match=r"PixelUnshuffle\(downscale_factor=2\): input height"):
        nn.PixelUnshuffle(2)(fl.zeros(1, 1, 3, 4))
    with pytest.raises(ValueError, match="positive int"):
        nn.PixelShuffle(0)


def test_upsample_nearest_and_errors():
    x = np.arange(6.0).reshape(1, 1, 2, 3)
    y = np_of(nn.Upsample(scale_factor=2)(var(x)))
    np.testing.assert_array_equal(y, x.repeat(2, axis=2).repeat(2, axis=3))
    assert nn.Upsample(size=(5, 4), mode="bilinear")(fl.zeros(2, 3, 2, 2)).shape == (2, 3, 5, 4)
    assert repr(nn.Upsample(scale_factor=2)) == "Upsample(scale_factor=2.0, mode='nearest')"
    with pytest.raises(ShapeError, match=r"Upsample\(scale_factor=2.0, mode='bilinear'\): "
                                         r"expected a 4-D input \(N, C, H, W\)"):
        nn.Upsample(scale_factor=2, mode="bilinear")(fl.zeros(3, 4))
    with pytest.raises(ValueError, match="exactly one of size and scale_factor"):
        nn.Upsample()


def test_unfold_fold_round_trip_counts_overlaps():
    x = fl.randn(2, 3, 5, 6, dtype=F64)
    cols = nn.Unfold(kernel_size=3, padding=1)(x)
    assert cols.shape == (2, 27, 30)
    back = np_of(nn.Fold((5, 6), kernel_size=3, padding=1)(cols))
    counts = np_of(nn.Fold((5, 6), kernel_size=3, padding=1)(
        nn.Unfold(kernel_size=3, padding=1)(fl.ones(1, 1, 5, 6, dtype=F64))))
    np.testing.assert_allclose(back, np_of(x) * counts)
    with pytest.raises(ShapeError, match=r"Unfold\(kernel_size=3, .*\): expected a 3-D or 4-D"):
        nn.Unfold(3)(fl.zeros(5, 5))
    with pytest.raises(ShapeError, match="fold: input has 7 blocks"):
        nn.Fold((5, 6), 3, padding=1)(fl.zeros(1, 9, 7))


def test_padding_layers():
    x = np.arange(12.0).reshape(1, 3, 4)
    z = np_of(nn.ZeroPad2d((1, 0, 0, 2))(var(x)))
    np.testing.assert_array_equal(z, np.pad(x, ((0, 0), (0, 2), (1, 0))))
    assert nn.ZeroPad2d(1)(fl.zeros(3, 4)).shape == (5, 6)
    assert nn.ZeroPad2d(-1)(fl.zeros(1, 3, 4)).shape == (1, 1, 2)        # crops
    r = np_of(nn.ReflectionPad2d(2)(var(x)))
    np.testing.assert_array_equal(r, np.pad(x, ((0, 0), (2, 2), (2, 2)), mode="reflect"))
    assert repr(nn.ReflectionPad2d(1)) == "ReflectionPad2d((1, 1, 1, 1))"
    with pytest.raises(ShapeError, match=r"ReflectionPad2d\(\(3, 3, 3, 3\)\): padding must be "
                                         r"smaller than the input dim"):
        nn.ReflectionPad2d(3)(fl.zeros(1, 3, 4))
    with pytest.raises(ValueError, match="4-tuple"):
        nn.ZeroPad2d((1, 2))


def test_gaussian_blur():
    assert nn.GaussianBlur(sigma=1.5).kernel_size == (11, 11)        # 2 * ceil(3 sigma) + 1
    const = fl.full((1, 2, 8, 9), 3.0, dtype=F64)
    np.testing.assert_allclose(np_of(nn.GaussianBlur(5, 1.0)(const)), 3.0)
    x = var(np.random.default_rng(0).standard_normal((2, 6, 7)))
    y = nn.GaussianBlur((3, 5), (0.5, 1.0))(x)
    assert y.shape == (2, 6, 7) and np_of(y).std() < np_of(x).std()
    with pytest.raises(ValueError, match="give kernel_size, sigma or both"):
        nn.GaussianBlur()
    with pytest.raises(ShapeError, match=r"GaussianBlur\(kernel_size=3, sigma=None\): expected"):
        nn.GaussianBlur(3)(fl.zeros(4))


def test_layers_follow_module_dtype_moves():
    model = nn.Linear(3, 2)
    model.to(F64)
    assert model(fl.zeros(1, 3, dtype=F64)).dtype == F64
    e = nn.Embedding(4, 2).to(F64)
    assert e(fl.from_numpy(np.array([0]))).dtype == F64
