"""Convolution, pooling and normalisation layers: construction and init, error
messages, running statistics, and agreement with PyTorch (when installed)."""
import math
import warnings

import numpy as np
import pytest

import flodl_core as fl
from flodl_core import nn
from flodl_core.errors import ShapeError
from flodl_core.nn.layers.conv import np_conv, np_conv_transpose

F64 = fl.DType.Float64


def _var(a, grad=False):
    return fl.Variable(fl.from_numpy(np.asarray(a, dtype=np.float64).copy()), requires_grad=grad)


# ------------------------------------------------------------ construction / init


@pytest.mark.parametrize("cls, args, wshape, fan_in", [
    (nn.Conv1d, (4, 6, 3), (6, 4, 3), 12),
    (nn.Conv2d, (4, 6, (3, 2), 1, 0, 1, 2), (6, 2, 3, 2), 12),
    (nn.Conv3d, (2, 3, 2), (3, 2, 2, 2, 2), 16),
    (nn.ConvTranspose1d, (4, 6, 3), (4, 6, 3), 18),
    (nn.ConvTranspose2d, (4, 6, 3, 1, 0, 0, 2), (4, 3, 3, 3), 27),
    (nn.ConvTranspose3d, (2, 3, 2), (2, 3, 2, 2, 2), 24),
])
def test_conv_weight_shapes_and_torch_init_bounds(cls, args, wshape, fan_in):
    fl.manual_seed(0)
    m = cls(*args)
    assert m.weight.shape == wshape and m.weight.dtype == fl.DType.Float32
    bound = 1 / math.sqrt(fan_in)
    w, b = m.weight.to_numpy(), m.bias.to_numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.5 * bound
    assert np.abs(b).max() <= bound
    assert b.shape == (m.out_channels,)
    fl.manual_seed(0)
    again = cls(*args)
    np.testing.assert_array_equal(again.weight.to_numpy(), w)   # framework RNG


def test_conv_without_bias_and_dtype():
    m = nn.Conv2d(2, 3, 3, bias=False, dtype=F64)
    assert m.bias is None and list(m.state_dict()) == ["weight"]
    assert m.weight.dtype == F64
    assert m.num_parameters() == 3 * 2 * 9


def test_conv_constructor_validation():
    with pytest.raises(ValueError, match="in_channels 3 must be divisible by groups=2"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="out_channels 3 must be divisible"):
        nn.Conv1d(4, 3, 3, groups=2)
    with pytest.raises(ValueError, match="padding='same' is not supported for strided"):
        nn.Conv2d(1, 1, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="padding must be"):
        nn.Conv2d(1, 1, 3, padding="full")
    with pytest.raises(ValueError, match="padding must be"):
        nn.ConvTranspose2d(1, 1, 3, padding="same")
    with pytest.raises(ValueError, match="output_padding"):
        nn.ConvTranspose2d(1, 1, 3, stride=2, output_padding=2)
    with pytest.raises(ValueError, match="kernel_size must be positive"):
        nn.Conv2d(1, 1, 0)
    with pytest.raises(ValueError, match="padding_mode"):
        nn.Conv2d(1, 1, 3, padding_mode="mirror")


# ------------------------------------------------------------------ conv forward


@pytest.mark.parametrize("padding, mode", [("same", "zeros"), ("valid", "zeros"),
                                           (1, "reflect"), ((1, 2), "replicate"),
                                           ("same", "circular")])
def test_conv2d_padding_and_modes_match_reference(padding, mode):
    rng = np.random.default_rng(0)
    m = nn.Conv2d(2, 3, (3, 2), padding=padding, dilation=(1, 2), padding_mode=mode,
                  dtype=F64)
    x = rng.standard_normal((2, 2, 5, 6))
    sd = m.state_dict()
    ref = np_conv(x, sd["weight"], sd["bias"], padding=padding, dilation=(1, 2),
                  padding_mode=mode)
    np.testing.assert_allclose(m(_var(x)).to_numpy(), ref, atol=1e-12)


def test_conv_unbatched_input():
    rng = np.random.default_rng(1)
    m = nn.Conv2d(2, 3, 2, dtype=F64)
    x = rng.standard_normal((2, 4, 4))
    y = m(_var(x))
    assert y.shape == (3, 3, 3)
    np.testing.assert_allclose(y.to_numpy(), m(_var(x[None])).to_numpy()[0])


def test_conv_transpose_output_size():
    rng = np.random.default_rng(2)
    m = nn.ConvTranspose2d(2, 1, 3, stride=2, padding=1, dtype=F64)
    x = rng.standard_normal((1, 2, 3, 3))
    assert m(_var(x)).shape == (1, 1, 5, 5)
    y = m(_var(x), output_size=(6, 5))
    assert y.shape == (1, 1, 6, 5)
    sd = m.state_dict()
    ref = np_conv_transpose(x, sd["weight"], sd["bias"], stride=2, padding=1,
                            output_padding=(1, 0))
    np.testing.assert_allclose(y.to_numpy(), ref, atol=1e-12)
    assert m(_var(x), output_size=(1, 1, 6, 6)).shape == (1, 1, 6, 6)
    with pytest.raises(ShapeError, match=r"must lie in \[5, 6\]"):
        m(_var(x), output_size=(7, 5))


def test_conv_error_messages_name_the_layer():
    m = nn.Conv2d(3, 64, 3)
    with pytest.raises(ShapeError) as e:
        m(fl.zeros(8, 1, 28, 28))
    assert str(e.value).startswith("Conv2d(3 -> 64, k=3): expected 4-D input (N, C, H, W) "
                                   "with C=3")
    assert "got (8, 1, 28, 28)" in str(e.value)
    with pytest.raises(ShapeError, match=r"Conv1d\(2 -> 4, k=\(3,\)|Conv1d\(2 -> 4, k=3\)"):
        nn.Conv1d(2, 4, 3)(fl.zeros(8, 2, 3, 3))
    with pytest.raises(ShapeError, match=r"Conv3d\(1 -> 2, k=\(1, 2, 3\)\): expected 5-D"):
        nn.Conv3d(1, 2, (1, 2, 3))(fl.zeros(4, 4))
    with pytest.raises(ShapeError, match=r"ConvTranspose2d\(4 -> 2, k=2\).*C=4"):
        nn.ConvTranspose2d(4, 2, 2)(fl.zeros(1, 2, 3, 3))


# ---------------------------------------------------------------------- pooling


def test_pool_defaults_and_errors():
    assert nn.MaxPool2d(3).stride == 3 and nn.AvgPool2d(2).stride == 2
    assert nn.AvgPool1d(2).kernel_size == (2,)
    with pytest.raises(ShapeError, match=r"MaxPool2d\(kernel_size=2.*expected 4-D input "
                                         r"\(N, C, H, W\) or 3-D \(C, H, W\), got \(8, 28\)"):
        nn.MaxPool2d(2)(fl.zeros(8, 28))
    with pytest.raises(ShapeError, match=r"AvgPool1d.*expected 3-D input \(N, C, L\)"):
        nn.AvgPool1d(2)(fl.zeros(1, 2, 3, 4))
    with pytest.raises(ShapeError, match="AdaptiveAvgPool2d"):
        nn.AdaptiveAvgPool2d(2)(fl.zeros(4))


def test_max_pool_return_indices():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    out, idx = nn.MaxPool2d(2, return_indices=True)(_var(x))
    assert idx.dtype == fl.DType.Int64
    np.testing.assert_array_equal(idx.to_numpy(), [[[[5, 7], [13, 15]]]])
    np.testing.assert_array_equal(out.to_numpy(), [[[[5, 7], [13, 15]]]])


# ----------------------------------------------------------------- normalisation


def test_norm_parameters_and_buffers():
    ln = nn.LayerNorm((2, 3))
    assert [n for n, _ in ln.named_parameters()] == ["weight", "bias"]
    assert ln.weight.shape == (2, 3) and np.all(ln.weight.to_numpy() == 1)
    assert nn.LayerNorm(4, bias=False).bias is None
    assert nn.LayerNorm(4, elementwise_affine=False).num_parameters() == 0
    assert nn.RMSNorm(4).weight.shape == (4,) and nn.RMSNorm(4).eps is None
    bn = nn.BatchNorm2d(3)
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var",
                                     "num_batches_tracked"]
    assert bn.num_batches_tracked.dtype == fl.DType.Int64 and bn.num_batches_tracked.shape == ()
    assert np.all(bn.running_var.to_numpy() == 1) and np.all(bn.running_mean.to_numpy() == 0)
    assert nn.BatchNorm is nn.BatchNorm1d and nn.InstanceNorm is nn.InstanceNorm2d
    inorm = nn.InstanceNorm2d(3)
    assert inorm.num_parameters() == 0 and inorm.state_dict() == {}
    assert nn.BatchNorm1d(3, track_running_stats=False).running_mean is None
    with pytest.raises(ValueError, match="divisible by num_groups"):
        nn.GroupNorm(3, 4)
    # to_dtype converts the float state and leaves the step counter an integer
    bn.to_dtype(F64)
    assert bn.running_mean.dtype == F64 and bn.num_batches_tracked.dtype == fl.DType.Int64


def test_norm_error_messages():
    with pytest.raises(ShapeError) as e:
        nn.BatchNorm2d(16)(fl.zeros(8, 16))
    assert str(e.value) == ("BatchNorm2d(16): expected 4-D input (N, C, H, W) with C=16, "
                            "got (8, 16)")
    with pytest.raises(ShapeError) as e:
        nn.LayerNorm(128)(fl.zeros(4, 64))
    assert str(e.value) == "LayerNorm((128,)): input last dims must be (128,), got shape (4, 64)"
    with pytest.raises(ShapeError, match=r"BatchNorm1d\(4\): expected 2-D input \(N, C\) or "
                                         r"3-D input \(N, C, L\) with C=4, got \(2, 3\)"):
        nn.BatchNorm1d(4)(fl.zeros(2, 3))
    with pytest.raises(ShapeError, match=r"GroupNorm\(2, 4\): expected input \(N, C, \*\) "
                                         r"with C=4"):
        nn.GroupNorm(2, 4)(fl.zeros(2, 3, 5))
    with pytest.raises(ShapeError, match=r"RMSNorm\(\(4,\)\)"):
        nn.RMSNorm(4)(fl.zeros(4, 3))
    with pytest.raises(ShapeError, match=r"InstanceNorm2d\(3\): expected 4-D"):
        nn.InstanceNorm2d(3)(fl.zeros(2, 3))
    with pytest.raises(ShapeError, match=r"InstanceNorm1d\(3\): expected input with C=3"):
        nn.InstanceNorm1d(3, affine=True)(fl.zeros(2, 4, 5))


def test_batch_norm_running_stats_momentum():
    rng = np.random.default_rng(0)
    bn = nn.BatchNorm2d(3, momentum=0.3, dtype=F64)
    mean, var = np.zeros(3), np.ones(3)
    for step in range(3):
        x = rng.standard_normal((4, 3, 2, 2)) * 2 + step
        bn(_var(x))
        m = x.mean(axis=(0, 2, 3))
        v = x.var(axis=(0, 2, 3), ddof=1)
        mean, var = 0.7 * mean + 0.3 * m, 0.7 * var + 0.3 * v
    np.testing.assert_allclose(bn.running_mean.to_numpy(), mean, rtol=1e-12)
    np.testing.assert_allclose(bn.running_var.to_numpy(), var, rtol=1e-12)
    assert int(bn.num_batches_tracked.to_numpy()) == 3
    # eval normalises with the running statistics and changes nothing
    bn.eval()
    x = rng.standard_normal((2, 3, 2, 2))
    y = bn(_var(x)).to_numpy()
    ref = (x - mean[None, :, None, None]) / np.sqrt(var[None, :, None, None] + 1e-5)
    np.testing.assert_allclose(y, ref, rtol=1e-10, atol=1e-12)
    assert int(bn.num_batches_tracked.to_numpy()) == 3
    np.testing.assert_allclose(bn.running_mean.to_numpy(), mean, rtol=1e-12)
    bn.reset_running_stats()
    assert int(bn.num_batches_tracked.to_numpy()) == 0
    assert np.all(bn.running_var.to_numpy() == 1)


def test_batch_norm_cumulative_average_when_momentum_is_none():
    rng = np.random.default_rng(1)
    bn = nn.BatchNorm1d(2, momentum=None, dtype=F64)
    batches = [rng.standard_normal((5, 2)) + i for i in range(4)]
    for x in batches:
        bn(_var(x))
    np.testing.assert_allclose(bn.running_mean.to_numpy(),
                               np.mean([b.mean(axis=0) for b in batches], axis=0), rtol=1e-12)
    np.testing.assert_allclose(bn.running_var.to_numpy(),
                               np.mean([b.var(axis=0, ddof=1) for b in batches], axis=0),
                               rtol=1e-12)
    assert int(bn.num_batches_tracked.to_numpy()) == 4


def test_batch_norm_without_running_stats_uses_batch_stats_in_eval():
    rng = np.random.default_rng(2)
    bn = nn.BatchNorm1d(3, track_running_stats=False, affine=False, dtype=F64).eval()
    x = rng.standard_normal((6, 3, 2))
    ref = (x - x.mean(axis=(0, 2), keepdims=True)) / np.sqrt(x.var(axis=(0, 2), keepdims=True)
                                                              + 1e-5)
    np.testing.assert_allclose(bn(_var(x)).to_numpy(), ref, rtol=1e-10, atol=1e-12)
    assert bn.state_dict() == {}


def test_instance_norm_running_stats_and_unbatched():
    rng = np.random.default_rng(3)
    inorm = nn.InstanceNorm1d(2, momentum=0.5, track_running_stats=True, dtype=F64)
    x = rng.standard_normal((3, 2, 4))
    inorm(_var(x))
    np.testing.assert_allclose(inorm.running_mean.to_numpy(), 0.5 * x.mean(axis=2).mean(0))
    np.testing.assert_allclose(inorm.running_var.to_numpy(),
                               0.5 + 0.5 * x.var(axis=2, ddof=1).mean(0))
    assert int(inorm.num_batches_tracked.to_numpy()) == 0   # as torch: never advanced
    y = nn.InstanceNorm2d(2, dtype=F64)(_var(x[0, :, None].repeat(2, axis=1)))
    assert y.shape == (2, 2, 4)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        nn.InstanceNorm1d(5)(_var(x))
    assert any("num_features" in str(i.message) for i in w)


def test_batch_norm_gradients_flow_to_affine_parameters():
    rng = np.random.default_rng(4)
    bn = nn.BatchNorm2d(2, dtype=F64)
    x = _var(rng.standard_normal((3, 2, 2, 2)), grad=True)
    (bn(x) * _var(rng.standard_normal((3, 2, 2, 2)))).sum().backward()
    assert bn.weight.grad.shape == (2,) and bn.bias.grad.shape == (2,)
    assert x.grad.shape == (3, 2, 2, 2)


# ------------------------------------------------------------------ against torch


def _load(ours, theirs):
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})


CASES = [
    ("Conv1d", (3, 4, 3), dict(stride=2, padding=2, dilation=2)),
    ("Conv2d", (4, 6, (3, 2)), dict(padding="same", groups=2, padding_mode="reflect")),
    ("Conv2d", (4, 5, 3), dict(stride=(2, 1), padding=(1, 0), bias=False)),
    ("Conv3d", (2, 3, 2), dict(padding=1, padding_mode="circular")),
    ("ConvTranspose1d", (4, 2, 3), dict(stride=2, padding=1, output_padding=1, groups=2)),
    ("ConvTranspose2d", (3, 4, (2, 3)), dict(stride=2, dilation=(1, 2))),
    ("ConvTranspose3d", (2, 2, 2), dict(stride=2, output_padding=1, bias=False)),
    ("MaxPool1d", (3,), dict(stride=2, padding=1, ceil_mode=True)),
    ("MaxPool2d", (3,), dict(stride=2, padding=1, dilation=1)),
    ("AvgPool1d", (3,), dict(stride=2, padding=1, count_include_pad=False)),
    ("AvgPool2d", ((3, 2),), dict(stride=2, padding=1, ceil_mode=True)),
    ("AdaptiveAvgPool2d", ((3, 2),), {}),
    ("AdaptiveMaxPool2d", ((2, None),), {}),
    ("LayerNorm", ((4, 5),), dict(eps=1e-3)),
    ("LayerNorm", (5,), dict(bias=False)),
    ("RMSNorm", (5,), {}),
    ("GroupNorm", (2, 4), dict(eps=1e-4)),
    ("GroupNorm", (1, 4), dict(bias=False)),
    ("BatchNorm1d", (4,), dict(momentum=0.2)),
    ("BatchNorm1d", (4,), dict(momentum=None)),
    ("BatchNorm2d", (4,), {}),
    ("BatchNorm2d", (4,), dict(momentum=None, bias=False)),
    ("BatchNorm2d", (4,), dict(affine=False, track_running_stats=False)),
    ("InstanceNorm1d", (4,), dict(affine=True, track_running_stats=True)),
    ("InstanceNorm2d", (4,), {}),
]

_INPUTS = {"Conv1d": (2, 3, 9), "Conv2d": (2, 4, 6, 5), "Conv3d": (1, 2, 3, 4, 3),
           "ConvTranspose1d": (2, 4, 5), "ConvTranspose2d": (2, 3, 3, 4),
           "ConvTranspose3d": (1, 2, 2, 3, 2), "MaxPool1d": (2, 3, 8), "MaxPool2d": (2, 3, 7, 6),
           "AvgPool1d": (2, 3, 8), "AvgPool2d": (2, 3, 7, 6), "AdaptiveAvgPool2d": (2, 3, 7, 5),
           "AdaptiveMaxPool2d": (2, 3, 7, 5), "LayerNorm": (3, 4, 5), "RMSNorm": (3, 4, 5),
           "GroupNorm": (3, 4, 5), "BatchNorm1d": (6, 4, 3), "BatchNorm2d": (3, 4, 2, 3),
           "InstanceNorm1d": (3, 4, 5), "InstanceNorm2d": (3, 4, 2, 3)}


@pytest.mark.parametrize("name, args, kwargs", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_matches_torch(name, args, kwargs):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    theirs = getattr(torch.nn, name)(*args, **kwargs).double()
    ours = getattr(nn, name)(*args, **kwargs, **({} if "Pool" in name else {"dtype": F64}))
    _load(ours, theirs)
    assert ours.extra_repr() == theirs.extra_repr()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    rng = np.random.default_rng(0)
    for mode in ("train", "train", "train", "eval"):
        ours.train(mode == "train")
        theirs.train(mode == "train")
        x = rng.standard_normal(_INPUTS[name]) * 1.5 + 0.5
        xv = _var(x, grad=True)
        xt = torch.tensor(x, requires_grad=True)
        y, yt = ours(xv), theirs(xt)
        np.testing.assert_allclose(y.to_numpy(), yt.detach().numpy(), rtol=1e-9, atol=1e-10)
        g = rng.standard_normal(yt.shape)
        (y * _var(g)).sum().backward()
        (yt * torch.tensor(g)).sum().backward()
        np.testing.assert_allclose(xv.grad.to_numpy(), xt.grad.numpy(), rtol=1e-8, atol=1e-9)
        for (n, p), (_, pt) in zip(ours.named_parameters(), theirs.named_parameters()):
            np.testing.assert_allclose(p.grad.to_numpy(), pt.grad.numpy(), rtol=1e-8,
                                       atol=1e-9, err_msg=n)
            p.zero_grad()
            pt.grad = None
        for n, v in theirs.state_dict().items():
            np.testing.assert_allclose(ours.state_dict()[n], v.numpy(), rtol=1e-12, err_msg=n)
