"""nn.functional layers: behaviour the op registry cannot express (running
statistics, randomness, gradient conventions, in-place renormalisation, error
messages). Forward/backward numerics are covered by gradcheck/ via the registry."""
import math

import numpy as np
import pytest

import flodl_core as fl
from flodl_core import DType, Variable
from flodl_core.errors import DTypeError, FlodlIndexError, ShapeError
from flodl_core.nn import functional as F


def _t(a, device=fl.Device.CPU, dtype=None):
    t = fl.tensor(np.asarray(a), device=device)
    return t if dtype is None else t.to_dtype(dtype)


def _v(a, device=fl.Device.CPU, dtype=None):
    return Variable(_t(a, device, dtype), requires_grad=True)


def _np(t):
    return np.asarray(t.to_dtype(DType.Float64).cpu().numpy()) if t.dtype in (
        DType.Float16, DType.BFloat16) else t.cpu().numpy()


# ------------------------------------------------------------------- linear


def test_linear_shape_error_names_features():
    x, w = fl.zeros(2, 3), fl.zeros(2, 4)
    with pytest.raises(ShapeError, match=r"linear: input has 3 features, weight expects 4 "
                                         r"\(weight shape \(2, 4\)\)"):
        F.linear(x, w)


def test_linear_rejects_mixed_dtypes_and_bad_bias():
    with pytest.raises(DTypeError, match="linear: input is Float32 but weight is Float64"):
        F.linear(fl.zeros(2, 3), fl.zeros(4, 3, dtype=DType.Float64))
    with pytest.raises(ShapeError, match="linear: bias shape"):
        F.linear(fl.zeros(2, 3), fl.zeros(4, 3), fl.zeros(3))


def test_linear_is_one_node_on_flattened_rows():
    x = _v(np.ones((2, 3, 4)))
    y = F.linear(x, _v(np.ones((5, 4))), _v(np.ones(5)))
    assert y.shape == (2, 3, 5)
    assert type(y.creator).__name__ == "Linear"


def test_linear_with_zero_size_feature_dims():
    # in_features 0: the output is the bias, broadcast; out_features 0: an empty output
    x = Variable(fl.zeros(2, 0), requires_grad=True)
    w = Variable(fl.zeros(3, 0), requires_grad=True)
    b = Variable(fl.tensor([1.0, 2.0, 3.0]), requires_grad=True)
    y = F.linear(x, w, b)
    np.testing.assert_array_equal(y.to_numpy(), [[1.0, 2.0, 3.0]] * 2)
    y.sum().backward()
    assert x.grad.shape == (2, 0) and w.grad.shape == (3, 0)
    np.testing.assert_array_equal(b.grad.to_numpy(), [2.0, 2.0, 2.0])
    x = Variable(fl.ones(4, 5), requires_grad=True)
    y = F.linear(x, Variable(fl.zeros(0, 5), requires_grad=True))
    assert y.shape == (4, 0)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.to_numpy(), np.zeros((4, 5)))


def test_bilinear_shape_checks():
    with pytest.raises(ShapeError, match="bilinear: input1 and input2 must have the same "
                                         "leading dims"):
        F.bilinear(fl.zeros(2, 3), fl.zeros(3, 2), fl.zeros(4, 3, 2))


# ------------------------------------------------------------ normalisation


def test_layer_norm_shape_error():
    with pytest.raises(ShapeError, match=r"layer_norm: normalized_shape \(5,\) does not match "
                                         r"the input's last dims \(4,\)"):
        F.layer_norm(fl.zeros(2, 4), (5,))


def test_group_norm_divisibility_error():
    with pytest.raises(ShapeError, match="group_norm: 6 channels not divisible by "
                                         "num_groups 4"):
        F.group_norm(fl.zeros(2, 6, 3), 4)


def test_batch_norm_channel_count_errors():
    x = fl.zeros(2, 4, 3)
    with pytest.raises(ShapeError, match="batch_norm: running_mean has 3 entries for 4 "
                                         "channels"):
        F.batch_norm(x, fl.zeros(3), fl.ones(4))
    with pytest.raises(ShapeError, match="batch_norm: weight has 5 entries for 4 channels"):
        F.batch_norm(x, None, None, fl.ones(5), training=True)


def test_batch_norm_eval_needs_running_stats():
    with pytest.raises(ValueError, match="batch_norm: running_mean and running_var must be "
                                         "given in evaluation mode"):
        F.batch_norm(fl.zeros(2, 3), None, None)


def test_batch_norm_training_needs_two_values_per_channel():
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.batch_norm(fl.zeros(1, 3), None, None, training=True)


def test_batch_norm_momentum_none_is_rejected_like_torch():
    with pytest.raises(TypeError, match="batch_norm: momentum must be a number"):
        F.batch_norm(fl.ones(2, 3), fl.zeros(3), fl.ones(3), training=True, momentum=None)


@pytest.mark.parametrize("dtype", [DType.Float64, DType.Float32, DType.Float16])
def test_batch_norm_updates_running_stats_in_place(device, dtype):
    rng = np.random.default_rng(0)
    x = rng.normal(2.0, 3.0, size=(4, 3, 5))
    rm0, rv0 = rng.normal(size=3), rng.uniform(0.5, 2.0, size=3)
    rm, rv = _t(rm0, device, dtype), _t(rv0, device, dtype)
    rm_array = rm._data
    xt = _t(x, device, dtype)
    y = F.batch_norm(xt, rm, rv, training=True, momentum=0.25)
    xs = _np(xt).astype(np.float64)
    n = 4 * 5
    mean = xs.mean(axis=(0, 2))
    unbiased = xs.var(axis=(0, 2)) * n / (n - 1)
    tol = 1e-2 if dtype == DType.Float16 else 1e-5
    assert rm._data is rm_array                  # the caller's array, written in place
    np.testing.assert_allclose(_np(rm), 0.75 * rm0 + 0.25 * mean, rtol=tol, atol=tol)
    np.testing.assert_allclose(_np(rv), 0.75 * rv0 + 0.25 * unbiased, rtol=tol, atol=tol)
    # Training output uses the biased batch variance, not the running stats.
    ref = (xs - mean[None, :, None]) / np.sqrt(xs.var(axis=(0, 2))[None, :, None] + 1e-5)
    np.testing.assert_allclose(_np(y), ref, rtol=tol, atol=tol)


def test_batch_norm_running_stats_as_variables_and_repeated_steps():
    rng = np.random.default_rng(1)
    rm = Variable(fl.zeros(2, dtype=DType.Float64))
    rv = Variable(fl.ones(2, dtype=DType.Float64))
    exp_m, exp_v = np.zeros(2), np.ones(2)
    for _ in range(3):
        x = rng.normal(size=(5, 2))
        F.batch_norm(_v(x), rm, rv, training=True)
        exp_m = 0.9 * exp_m + 0.1 * x.mean(0)
        exp_v = 0.9 * exp_v + 0.1 * x.var(0, ddof=1)
    np.testing.assert_allclose(rm.numpy(), exp_m)
    np.testing.assert_allclose(rv.numpy(), exp_v)


def test_batch_norm_eval_uses_running_stats_and_leaves_them():
    x = np.arange(12.0).reshape(3, 2, 2)
    rm, rv = np.array([1.0, -1.0]), np.array([4.0, 0.25])
    rmt, rvt = _t(rm), _t(rv)
    y = F.batch_norm(_t(x), rmt, rvt, _t([2.0, 3.0]), _t([0.5, -0.5]), eps=0.0)
    ref = (x - rm[None, :, None]) / np.sqrt(rv[None, :, None]) * np.array([2.0, 3.0])[
        None, :, None] + np.array([0.5, -0.5])[None, :, None]
    np.testing.assert_allclose(y.numpy(), ref)
    np.testing.assert_array_equal(rmt.numpy(), rm)
    np.testing.assert_array_equal(rvt.numpy(), rv)


def test_instance_norm_updates_running_stats_with_batch_average():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 2, 4))
    rm, rv = _t(np.zeros(2)), _t(np.ones(2))
    F.instance_norm(_t(x), rm, rv, momentum=0.5)
    inst_mean = x.mean(axis=2)                    # (N, C)
    inst_var = x.var(axis=2, ddof=1)
    np.testing.assert_allclose(rm.numpy(), 0.5 * inst_mean.mean(0))
    np.testing.assert_allclose(rv.numpy(), 0.5 + 0.5 * inst_var.mean(0))


@pytest.mark.parametrize("dtype", [DType.Float16, DType.BFloat16])
def test_half_norms_compute_statistics_in_float32(dtype):
    # A large offset with a small spread: half-precision statistics would lose it.
    rng = np.random.default_rng(3)
    x = 300.0 + rng.normal(size=(4, 64))
    xh = _t(x, dtype=dtype)
    xs = _np(xh)
    ref = (xs - xs.mean(-1, keepdims=True)) / np.sqrt(xs.var(-1, keepdims=True) + 1e-5)
    y = F.layer_norm(xh, (64,))
    assert y.dtype == dtype
    tol = 2e-2 if dtype == DType.Float16 else 1e-1
    np.testing.assert_allclose(_np(y), ref, atol=tol)
    yb = F.batch_norm(_t(x.T.reshape(64, 4, 1), dtype=dtype), None, None, training=True)
    assert yb.dtype == dtype and np.isfinite(_np(yb)).all()


def test_rms_norm_default_eps_is_compute_dtype_epsilon():
    x = np.full((1, 4), 1e-3)
    y = F.rms_norm(_t(x, dtype=DType.Float32), 4)
    expect = 1e-3 / math.sqrt(1e-6 + float(np.finfo(np.float32).eps))
    np.testing.assert_allclose(y.numpy(), expect, rtol=1e-5)
    # Half inputs compute in float32 and use float32's epsilon, as PyTorch does.
    yh = F.rms_norm(_t(np.full((1, 4), 1e-2), dtype=DType.Float16), 4)
    np.testing.assert_allclose(_np(yh), 1e-2 / math.sqrt(1e-4 + 1.1920929e-07), rtol=1e-3)


def test_norm_backward_double_backward_and_plain_agree():
    rng = np.random.default_rng(4)
    x, w, b = _v(rng.normal(size=(3, 2, 4))), _v(rng.normal(size=2)), _v(rng.normal(size=2))
    gy = fl.tensor(rng.normal(size=(3, 2, 4)))
    plain = fl.grad(F.group_norm(x, 1, w, b), [x, w, b], gy)
    graph = fl.grad(F.group_norm(x, 1, w, b), [x, w, b], gy, create_graph=True)
    for a, g in zip(plain, graph):
        np.testing.assert_allclose(a.numpy(), g.numpy(), atol=1e-12)



def _batch_norm_reference(x, w, b, gy, eps=1e-5):
    """Float64 batch norm (training) forward and input/weight/bias gradients."""
    x, gy = x.astype(np.float64), gy.astype(np.float64)
    axes = (0, 2, 3)
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    rstd = 1.0 / np.sqrt(var + eps)
    xhat = (x - mean) * rstd
    wb = w.reshape(1, -1, 1, 1).astype(np.float64)
    y = xhat * wb + b.reshape(1, -1, 1, 1)
    gw = (gy * xhat).sum(axis=axes)
    gb = gy.sum(axis=axes)
    gx = wb * rstd * (gy - gy.mean(axis=axes, keepdims=True)
                      - xhat * (gy * xhat).mean(axis=axes, keepdims=True))
    return y, gx, gw, gb, var.ravel() * (x.size / x.shape[1]) / (x.size / x.shape[1] - 1)


@pytest.mark.parametrize("shift", [0.3, 50.0])    # one-pass and two-pass variance paths
@pytest.mark.parametrize("create_graph", [False, True])
def test_batch_norm_float32_training_matches_float64(shift, create_graph):
    rng = np.random.default_rng(7)
    x0 = (rng.normal(size=(4, 3, 5, 6)) + shift).astype(np.float32)
    w0, b0 = rng.normal(size=3).astype(np.float32), rng.normal(size=3).astype(np.float32)
    g0 = rng.normal(size=x0.shape).astype(np.float32)
    keep = x0.copy()
    x, w, b = _v(x0), _v(w0), _v(b0)
    rm, rv = fl.zeros(3), fl.ones(3)
    y = F.batch_norm(x, rm, rv, w, b, training=True, momentum=1.0)
    grads = fl.grad(y, [x, w, b], fl.tensor(g0), create_graph=create_graph)
    ry, rgx, rgw, rgb, rvar = _batch_norm_reference(x0, w0, b0, g0)
    np.testing.assert_allclose(y.numpy(), ry, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(grads[0].numpy(), rgx, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(grads[1].numpy(), rgw, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(grads[2].numpy(), rgb, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(rm.numpy(), x0.astype(np.float64).mean(axis=(0, 2, 3)),
                               rtol=1e-5)
    np.testing.assert_allclose(rv.numpy(), rvar, rtol=1e-4)
    np.testing.assert_array_equal(x.numpy(), keep)      # the input is never written


# ------------------------------------------------------------------ dropout


def test_dropout_p_validation():
    with pytest.raises(ValueError, match=r"dropout: p must be in \[0, 1\], got 1.5"):
        F.dropout(fl.ones(3), 1.5)
    with pytest.raises(ValueError, match=r"dropout2d: p must be in \[0, 1\], got -0.1"):
        F.dropout2d(fl.ones(2, 3), -0.1)


def test_dropout_eval_returns_input_unchanged():
    x = _v(np.ones(4))
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout2d(x.reshape(2, 2), 0.5, False) is not None
    assert F.alpha_dropout(x, 0.5) is x           # PyTorch's default: training=False
    assert F.dropout(x, 0.0) is x


def test_dropout_is_reproducible_under_manual_seed(device):
    x = fl.ones(50, 40, device=device)
    fl.manual_seed(7)
    a = F.dropout(x, 0.3).cpu().numpy()
    fl.manual_seed(7)
    b = F.dropout(x, 0.3).cpu().numpy()
    c = F.dropout(x, 0.3).cpu().numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(b, c)


def test_dropout_statistics_scale_and_gradient(device):
    fl.manual_seed(0)
    x = Variable(fl.ones(200, 500, device=device), requires_grad=True)
    y = F.dropout(x, 0.25)
    vals = y.cpu().numpy()
    kept = vals != 0
    assert abs(kept.mean() - 0.75) < 0.01
    np.testing.assert_allclose(vals[kept], 1 / 0.75, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.cpu().numpy(), vals)   # grad = mask / (1 - p)


def test_dropout_p_one_gives_zeros():
    x = _v(np.ones(3))
    y = F.dropout(x, 1.0)
    np.testing.assert_array_equal(y.numpy(), 0.0)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 0.0)


def test_dropout2d_zeroes_whole_channels():
    fl.manual_seed(1)
    y = F.dropout2d(fl.ones(8, 16, 3, 3), 0.5).numpy()
    per_channel = y.reshape(8, 16, 9)
    assert np.all((per_channel == 0).all(-1) | (per_channel == 2.0).all(-1))
    assert 0 < (per_channel[..., 0] == 0).mean() < 1
    with pytest.raises(ShapeError, match="dropout2d: feature dropout needs at least 2 dims"):
        F.dropout2d(fl.ones(3), 0.5)


def test_alpha_dropout_keeps_selu_statistics():
    fl.manual_seed(2)
    rng = np.random.default_rng(0)
    z = rng.normal(size=200_000)
    selu = 1.0507009873554805 * np.where(z > 0, z, 1.6732632423543772 * np.expm1(z))
    y = F.alpha_dropout(fl.tensor(selu), 0.2, training=True).numpy()
    assert abs(y.mean()) < 0.01 and abs(y.std() - 1.0) < 0.01
    dropped = np.isclose(y, y.min())
    assert abs(dropped.mean() - 0.2) < 0.01


# ---------------------------------------------------------------- embedding


def test_embedding_errors():
    w = fl.zeros(5, 3)
    with pytest.raises(DTypeError, match="embedding: indices must be an integer tensor, "
                                         "got Float32"):
        F.embedding(fl.tensor([1.0]), w)
    with pytest.raises(FlodlIndexError, match="embedding: index 7 out of range for "
                                              "num_embeddings 5"):
        F.embedding(fl.tensor([1, 7]), w)
    with pytest.raises(FlodlIndexError, match="embedding: index -1 out of range"):
        F.embedding(fl.tensor([-1]), w)
    with pytest.raises(FlodlIndexError, match="padding_idx 5 out of range"):
        F.embedding(fl.tensor([1]), w, padding_idx=5)


def test_embedding_padding_idx_gets_no_gradient(device):
    w = Variable(fl.ones(4, 2, device=device), requires_grad=True)
    idx = fl.tensor([[0, 2, 2], [3, 2, 1]], device=device)
    y = F.embedding(idx, w, padding_idx=2)
    np.testing.assert_array_equal(y.cpu().numpy(), 1.0)   # the forward still reads the row
    y.sum().backward()
    np.testing.assert_array_equal(w.grad.cpu().numpy(), [[1, 1], [1, 1], [0, 0], [1, 1]])


def test_embedding_int32_indices_and_double_backward():
    w = _v(np.arange(6.0).reshape(3, 2))
    idx = fl.tensor(np.array([2, 0, 2], dtype=np.int32))
    y = F.embedding(idx, w, padding_idx=0)
    (g,) = fl.grad((y * y).sum(), w, create_graph=True)
    np.testing.assert_allclose(g.numpy(), [[0, 0], [0, 0], [16, 20]])
    (gg,) = fl.grad(g.sum(), w)
    np.testing.assert_allclose(gg.numpy(), [[0, 0], [0, 0], [4, 4]])


def test_embedding_scale_grad_by_freq():
    w = _v(np.zeros((4, 2)))
    idx = fl.tensor([[0, 0, 1], [0, 3, 3]])
    F.embedding(idx, w, scale_grad_by_freq=True, padding_idx=3).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [[1, 1], [1, 1], [0, 0], [0, 0]])


def test_embedding_max_norm_renormalises_rows_in_place():
    w = fl.tensor([[3.0, 4.0], [0.3, 0.4], [6.0, 8.0]])
    y = F.embedding(fl.tensor([0, 1]), w, max_norm=1.0)
    np.testing.assert_allclose(y.numpy(), [[0.6, 0.8], [0.3, 0.4]], rtol=1e-6)
    np.testing.assert_allclose(w.numpy(), [[0.6, 0.8], [0.3, 0.4], [6.0, 8.0]], rtol=1e-6)


def test_embedding_bag_errors():
    w, idx, off = fl.zeros(5, 2), fl.tensor([1, 2, 0, 3]), fl.tensor([0, 2])
    with pytest.raises(ValueError, match="per_sample_weights is only supported for "
                                         "mode='sum'"):
        F.embedding_bag(idx, w, off, mode="mean", per_sample_weights=fl.ones(4))
    with pytest.raises(ValueError, match=r"offsets\[0\] must be 0"):
        F.embedding_bag(idx, w, fl.tensor([1, 2]))
    with pytest.raises(ValueError, match="offsets must be None for a 2-D input"):
        F.embedding_bag(idx.reshape(2, 2), w, off)
    with pytest.raises(ValueError, match="mode must be 'sum', 'mean' or 'max'"):
        F.embedding_bag(idx, w, off, mode="min")


def test_embedding_bag_max_gives_gradient_to_first_maximum():
    w = _v(np.array([[1.0, 5.0], [1.0, 2.0], [0.0, 5.0]]))
    y = F.embedding_bag(fl.tensor([[0, 1, 2]]), w, mode="max")
    np.testing.assert_array_equal(y.numpy(), [[1.0, 5.0]])
    y.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [[1, 1], [0, 0], [0, 0]])


# ---------------------------------------------------------------- attention


def test_sdpa_causal_equals_explicit_lower_triangular_mask():
    rng = np.random.default_rng(5)
    q, k, v = (fl.tensor(rng.normal(size=(2, 3, 4, 8))) for _ in range(3))
    tril = fl.tensor(np.tril(np.ones((4, 4), dtype=bool)))
    a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    b = F.scaled_dot_product_attention(q, k, v, attn_mask=tril)
    np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-12)
    # The first query sees only the first key.
    np.testing.assert_allclose(a.numpy()[..., 0, :], v.numpy()[..., 0, :], atol=1e-12)


def test_sdpa_fully_masked_row_gives_zeros_and_finite_grads():
    rng = np.random.default_rng(6)
    q, k, v = (_v(rng.normal(size=(2, 3, 4))) for _ in range(3))
    mask = np.ones((3, 3), dtype=bool)
    mask[1] = False
    y = F.scaled_dot_product_attention(q, k, v, attn_mask=fl.tensor(mask))
    np.testing.assert_array_equal(y.numpy()[:, 1], 0.0)
    y.sum().backward()
    for t in (q, k, v):
        assert np.isfinite(t.grad.numpy()).all()
    np.testing.assert_array_equal(q.grad.numpy()[:, 1], 0.0)


def test_sdpa_dropout_reproducible_and_validated():
    rng = np.random.default_rng(7)
    q, k, v = (fl.tensor(rng.normal(size=(2, 5, 4))) for _ in range(3))
    fl.manual_seed(3)
    a = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5).numpy()
    fl.manual_seed(3)
    b = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, F.scaled_dot_product_attention(q, k, v).numpy())
    with pytest.raises(ValueError, match=r"dropout_p must be in \[0, 1\]"):
        F.scaled_dot_product_attention(q, k, v, dropout_p=2.0)


def test_sdpa_shape_errors():
    q = fl.zeros(2, 3, 4)
    with pytest.raises(ShapeError, match="query and key must have the same last dim"):
        F.scaled_dot_product_attention(q, fl.zeros(2, 3, 5), fl.zeros(2, 3, 5))
    with pytest.raises(ShapeError, match="attn_mask shape"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=fl.ones(2, 2, dtype=DType.Bool))


# ---------------------------------------------------------------- recurrent


def test_lstm_cell_gate_order_forget_gate_keeps_cell():
    # Only the forget gate's bias is huge: c' = c, and with the output gate at
    # sigmoid(0) = 0.5, h' = 0.5 * tanh(c).
    hsz = 3
    b_ih = np.zeros(4 * hsz)
    b_ih[hsz:2 * hsz] = 50.0            # forget gate (second block)
    b_ih[0:hsz] = -50.0                 # input gate closed
    c = np.array([[0.3, -0.2, 0.9]])
    h, c2 = F.lstm_cell(fl.zeros(1, 2, dtype=DType.Float64),
                        (fl.zeros(1, hsz, dtype=DType.Float64), fl.tensor(c)),
                        fl.zeros(4 * hsz, 2, dtype=DType.Float64),
                        fl.zeros(4 * hsz, hsz, dtype=DType.Float64), fl.tensor(b_ih))
    np.testing.assert_allclose(c2.numpy(), c, atol=1e-12)
    np.testing.assert_allclose(h.numpy(), 0.5 * np.tanh(c), atol=1e-12)


def test_gru_cell_update_gate_keeps_state_and_shape_errors():
    hsz = 2
    b = np.zeros(3 * hsz)
    b[hsz:2 * hsz] = 50.0               # update gate z = 1: h' = h
    h = fl.tensor([[0.4, -0.7]], dtype=DType.Float64)
    out = F.gru_cell(fl.ones(1, 3, dtype=DType.Float64), h,
                     fl.ones(3 * hsz, 3, dtype=DType.Float64),
                     fl.ones(3 * hsz, hsz, dtype=DType.Float64), fl.tensor(b))
    np.testing.assert_allclose(out.numpy(), h.numpy(), atol=1e-12)
    with pytest.raises(ShapeError, match="gru_cell: hx shape"):
        F.gru_cell(fl.ones(2, 3), fl.ones(1, 2), fl.ones(6, 3), fl.ones(6, 2))
