"""Recurrent layers and MultiheadAttention beyond the module registry: PyTorch's
parameter names, states passed in, batch_first, dropout, mask paths, errors."""
import numpy as np
import pytest

import flodl_core as fl
from flodl_core import nn
from flodl_core.nn.layers.recurrent import _np_lstm_step, _np_rnn

F64 = fl.DType.Float64


def _var(a):
    return fl.Variable(fl.from_numpy(np.array(a, dtype=np.float64)), requires_grad=True)


def _np(t):
    return np.asarray(t.to_numpy())


def _gradcheck_with_params(module, fn, inputs):
    """gradcheck ``fn(*inputs)`` over the inputs and all of ``module``'s parameters
    (the perturbed copies are swapped into the module for each evaluation)."""
    params = module.parameters()
    originals = [p._data for p in params]
    n = len(inputs)

    def wrapped(*args):
        for p, given, orig in zip(params, args[n:], originals):
            p._data = orig if given is p else given._data
        try:
            return fn(*args[:n])
        finally:
            for p, orig in zip(params, originals):
                p._data = orig
    fl.gradcheck(wrapped, list(inputs) + params)


# ------------------------------------------------------------------ recurrent


def test_parameter_names_and_shapes_follow_torch():
    lstm = nn.LSTM(5, 4, num_layers=2, bidirectional=True)
    shapes = {k: v.shape for k, v in lstm.state_dict().items()}
    names = []
    for layer, in_size in ((0, 5), (1, 8)):
        for sfx in ("", "_reverse"):
            s = f"_l{layer}{sfx}"
            names += [f"weight_ih{s}", f"weight_hh{s}", f"bias_ih{s}", f"bias_hh{s}"]
            assert shapes[f"weight_ih{s}"] == (16, in_size)
            assert shapes[f"weight_hh{s}"] == (16, 4)
            assert shapes[f"bias_ih{s}"] == (16,)
    assert list(shapes) == names
    gru = nn.GRU(5, 4, bias=False)
    assert list(gru.state_dict()) == ["weight_ih_l0", "weight_hh_l0"]
    assert gru.state_dict()["weight_ih_l0"].shape == (12, 5)
    cell = nn.LSTMCell(5, 4, bias=False)
    assert list(cell.state_dict()) == ["weight_ih", "weight_hh"] and cell.bias_ih is None


def test_init_bound_is_one_over_sqrt_hidden():
    fl.manual_seed(0)
    for p in nn.GRU(3, 16, num_layers=2).parameters() + nn.LSTMCell(3, 16).parameters():
        a = _np(p)
        assert np.abs(a).max() <= 0.25 and np.abs(a).max() > 0.2


def test_dtype_and_output_shapes():
    lstm = nn.LSTM(3, 4, num_layers=3, bidirectional=True, dtype=F64)
    assert all(p.dtype == F64 for p in lstm.parameters())
    out, (h, c) = lstm(fl.randn(6, 2, 3, dtype=F64))
    assert out.shape == (6, 2, 8) and h.shape == (6, 2, 4) and c.shape == (6, 2, 4)
    out, (h, c) = lstm(fl.randn(6, 3, dtype=F64))
    assert out.shape == (6, 8) and h.shape == (6, 4)


@pytest.mark.parametrize("cls", [nn.GRU, nn.LSTM])
def test_batch_first_is_a_transpose(cls):
    fl.manual_seed(1)
    a = cls(3, 4, num_layers=2, bidirectional=True, dtype=F64)
    b = cls(3, 4, num_layers=2, bidirectional=True, batch_first=True, dtype=F64)
    b.load_state_dict(a.state_dict())
    x = np.random.default_rng(0).standard_normal((5, 2, 3))
    oa, ha = a(fl.from_numpy(x))
    ob, hb = b(fl.from_numpy(x.transpose(1, 0, 2).copy()))
    np.testing.assert_allclose(_np(ob), _np(oa).transpose(1, 0, 2), atol=1e-12)
    for u, v in zip(ha if isinstance(ha, tuple) else (ha,), hb if isinstance(hb, tuple) else (hb,)):
        np.testing.assert_allclose(_np(u), _np(v), atol=1e-12)


def test_lstm_with_initial_states_matches_numpy_and_gradchecks():
    fl.manual_seed(2)
    lstm = nn.LSTM(3, 2, num_layers=2, bidirectional=True, dtype=F64)
    rng = np.random.default_rng(1)
    x, h0, c0 = rng.standard_normal((3, 2, 3)), rng.standard_normal((4, 2, 2)), \
        rng.standard_normal((4, 2, 2))
    out, (h, c) = lstm(fl.from_numpy(x), (fl.from_numpy(h0), fl.from_numpy(c0)))
    r_out, r_h, r_c = _np_rnn(lstm.state_dict(), x, h0, c0, 2, 2, lstm=True)
    for g, e in ((out, r_out), (h, r_h), (c, r_c)):
        np.testing.assert_allclose(_np(g), e, atol=1e-12)

    def fn(x, h0, c0):
        out, (h, c) = lstm(x, (h0, c0))
        return out, h, c
    fl.gradcheck(fn, [_var(x), _var(h0), _var(c0)])


def test_lstm_cell_with_state_matches_numpy_and_gradchecks():
    fl.manual_seed(3)
    cell = nn.LSTMCell(3, 2, dtype=F64)
    rng = np.random.default_rng(2)
    x, h, c = rng.standard_normal((2, 3)), rng.standard_normal((2, 2)), \
        rng.standard_normal((2, 2))
    got = cell(fl.from_numpy(x), (fl.from_numpy(h), fl.from_numpy(c)))
    s = cell.state_dict()
    want = _np_lstm_step(x, h, c, s["weight_ih"], s["weight_hh"], s["bias_ih"], s["bias_hh"])
    for g, e in zip(got, want):
        np.testing.assert_allclose(_np(g), e, atol=1e-12)
    _gradcheck_with_params(cell, lambda x, h, c: cell(x, (h, c)), [_var(x), _var(h), _var(c)])


def test_gru_without_bias_matches_numpy():
    gru = nn.GRU(3, 2, num_layers=2, bias=False, dtype=F64)
    x = np.random.default_rng(3).standard_normal((4, 2, 3))
    out, h = gru(fl.from_numpy(x))
    z = np.zeros((2, 2, 2))
    r_out, r_h, _ = _np_rnn(gru.state_dict(), x, z, z, 2, 1, lstm=False)
    np.testing.assert_allclose(_np(out), r_out, atol=1e-12)
    np.testing.assert_allclose(_np(h), r_h, atol=1e-12)


def _np_gru_cell(x, h, w_ih, w_hh, b_ih, b_hh):
    sig = lambda a: 1.0 / (1.0 + np.exp(-a))   # noqa: E731
    H = h.shape[-1]
    gi, gh = x @ w_ih.T, h @ w_hh.T
    gi = gi if b_ih is None else gi + b_ih
    gh = gh if b_hh is None else gh + b_hh
    r = sig(gi[..., :H] + gh[..., :H])
    z = sig(gi[..., H:2 * H] + gh[..., H:2 * H])
    n = np.tanh(gi[..., 2 * H:] + r * gh[..., 2 * H:])
    return (1.0 - z) * n + z * h


@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("bias", [True, False])
def test_fused_gru_cell_matches_numpy_values_and_grads(batched, bias):
    from flodl_core.autograd.ops.recurrent import GRUCellFused
    from flodl_core.nn import functional as F
    rng = np.random.default_rng(3)
    n_in, H = 4, 3
    lead = (5,) if batched else ()
    arrays = [rng.uniform(-1, 1, lead + (n_in,)), rng.uniform(-1, 1, lead + (H,)),
              rng.uniform(-1, 1, (3 * H, n_in)), rng.uniform(-1, 1, (3 * H, H))]
    arrays += [rng.uniform(-1, 1, (3 * H,)), rng.uniform(-1, 1, (3 * H,))] if bias \
        else [None, None]
    gy = rng.uniform(-1, 1, lead + (H,))
    xs = [None if a is None else _var(a) for a in arrays]
    out = F.gru_cell(*xs)
    assert isinstance(out._creator, GRUCellFused)
    np.testing.assert_allclose(_np(out), _np_gru_cell(*arrays), rtol=1e-12, atol=1e-12)
    present = [i for i, a in enumerate(arrays) if a is not None]
    grads = fl.grad(out, [xs[i] for i in present], fl.from_numpy(gy))
    # reference: central differences of the NumPy step (float64)
    eps = 1e-6
    for i, g in zip(present, grads):
        ref = np.zeros_like(arrays[i])
        for idx in np.ndindex(arrays[i].shape):
            plus = [a if a is None else a.copy() for a in arrays]
            minus = [a if a is None else a.copy() for a in arrays]
            plus[i][idx] += eps
            minus[i][idx] -= eps
            ref[idx] = np.sum(gy * (_np_gru_cell(*plus) - _np_gru_cell(*minus))) / (2 * eps)
        np.testing.assert_allclose(_np(g), ref, rtol=1e-6, atol=1e-8)
    # the create_graph path (rebuilt from framework ops) gives the same gradients
    graph = fl.grad(F.gru_cell(*xs), [xs[i] for i in present], fl.from_numpy(gy),
                    create_graph=True)
    for g, gg in zip(grads, graph):
        np.testing.assert_allclose(_np(gg), _np(g), rtol=1e-12, atol=1e-12)


def test_dropout_only_between_layers_in_training():
    fl.manual_seed(4)
    x = fl.randn(5, 2, 3, dtype=F64)
    deep = nn.GRU(3, 8, num_layers=2, dropout=0.5, dtype=F64)
    fl.manual_seed(10)
    a, _ = deep(x)
    fl.manual_seed(11)
    b, _ = deep(x)
    assert not np.allclose(_np(a), _np(b))          # training: random masks
    deep.eval()
    np.testing.assert_array_equal(_np(deep(x)[0]), _np(deep(x)[0]))
    shallow = nn.LSTM(3, 8, num_layers=1, dropout=0.5, dtype=F64)   # no layer to drop after
    np.testing.assert_array_equal(_np(shallow(x)[0]), _np(shallow.eval()(x)[0]))


def test_long_sequence_backward():
    lstm = nn.LSTM(4, 8)
    x = fl.Variable(fl.randn(200, 3, 4), requires_grad=True)
    out, (h, c) = lstm(x)
    (out.sum() + c.sum()).backward()
    assert x.grad.shape == (200, 3, 4)
    assert all(p.grad is not None for p in lstm.parameters())


def test_recurrent_errors():
    lstm = nn.LSTM(64, 128)
    with pytest.raises(fl.ShapeError, match=r"LSTM\(64 -> 128\): expected input \(L, N, 64\) "
                                            r"\(batch_first=False\).*got \(32, 10, 32\)"):
        lstm(fl.zeros(32, 10, 32))
    gru = nn.GRU(3, 2, num_layers=2, batch_first=True)
    with pytest.raises(fl.ShapeError, match=r"\(N, L, 3\)"):
        gru(fl.zeros(2, 5, 4))
    with pytest.raises(fl.ShapeError, match=r"hx \(2, 4, 2\)"):
        gru(fl.zeros(4, 5, 3), fl.zeros(2, 5, 2))
    with pytest.raises(TypeError, match="pair"):
        lstm(fl.zeros(2, 1, 64), fl.zeros(1, 1, 128))
    with pytest.raises(fl.ShapeError, match=r"GRUCell\(3 -> 2\)"):
        nn.GRUCell(3, 2)(fl.zeros(4, 5))
    with pytest.raises(fl.ShapeError, match=r"LSTMCell\(3 -> 2\): expected c"):
        nn.LSTMCell(3, 2)(fl.zeros(4, 3), (fl.zeros(4, 2), fl.zeros(3, 2)))
    with pytest.raises(NotImplementedError, match="proj_size"):
        nn.LSTM(3, 2, proj_size=1)
    with pytest.raises(ValueError, match="dropout"):
        nn.GRU(3, 2, dropout=1.5)


def test_repr():
    assert repr(nn.LSTM(3, 4, num_layers=2, bidirectional=True)).startswith(
        "LSTM(3, 4, num_layers=2, bidirectional=True)")
    assert repr(nn.GRUCell(3, 4, bias=False)).startswith("GRUCell(3, 4, bias=False)")


# ------------------------------------------------------------------ attention


def _mha(**kw):
    fl.manual_seed(5)
    m = nn.MultiheadAttention(8, 2, dtype=F64, **kw)
    m.in_proj_bias = nn.Parameter(fl.randn(24, dtype=F64) * 0.1) if m.in_proj_bias is not None \
        else None
    return m


def test_mha_parameters_and_init():
    m = nn.MultiheadAttention(8, 2)
    assert list(m.state_dict()) == ["in_proj_weight", "in_proj_bias", "out_proj.weight",
                                    "out_proj.bias"]
    assert m.state_dict()["in_proj_weight"].shape == (24, 8)
    assert not m.state_dict()["in_proj_bias"].any() and not m.state_dict()["out_proj.bias"].any()
    bound = np.sqrt(6 / (24 + 8))
    w = m.state_dict()["in_proj_weight"]
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    kv = nn.MultiheadAttention(8, 2, kdim=3, vdim=5, bias=False)
    assert list(kv.state_dict()) == ["q_proj_weight", "k_proj_weight", "v_proj_weight",
                                     "out_proj.weight"]
    assert kv.state_dict()["v_proj_weight"].shape == (8, 5) and kv.in_proj_weight is None


def test_mha_shared_inputs_take_the_packed_path_with_the_same_result():
    m = _mha()
    rng = np.random.default_rng(6)
    x, k = rng.standard_normal((4, 2, 8)), rng.standard_normal((3, 2, 8))
    o1, w1 = m(fl.from_numpy(x), fl.from_numpy(x.copy()), fl.from_numpy(x.copy()))
    xt = fl.from_numpy(x)
    o2, w2 = m(xt, xt, xt)
    np.testing.assert_allclose(_np(o1), _np(o2), atol=1e-12)
    np.testing.assert_allclose(_np(w1), _np(w2), atol=1e-12)
    o3, _ = m(fl.from_numpy(x), fl.from_numpy(k), fl.from_numpy(k.copy()))
    kt = fl.from_numpy(k)
    o4, _ = m(fl.from_numpy(x), kt, kt)
    np.testing.assert_allclose(_np(o3), _np(o4), atol=1e-12)
    xv = _var(x)
    fl.gradcheck(lambda a: m(a, a, a)[0], [xv])


def test_mha_need_weights_false_and_per_head_weights():
    m = _mha(batch_first=True)
    rng = np.random.default_rng(7)
    q, k = fl.from_numpy(rng.standard_normal((2, 4, 8))), fl.from_numpy(rng.standard_normal((2, 3, 8)))
    kpm = fl.from_numpy(np.array([[False, False, True], [True, False, False]]))
    am = fl.from_numpy(rng.standard_normal((4, 3)))
    o1, w1 = m(q, k, k, key_padding_mask=kpm, attn_mask=am)
    o2, w2 = m(q, k, k, key_padding_mask=kpm, attn_mask=am, need_weights=False)
    assert w2 is None and w1.shape == (2, 4, 3)
    np.testing.assert_allclose(_np(o1), _np(o2), atol=1e-12)
    o3, w3 = m(q, k, k, key_padding_mask=kpm, average_attn_weights=False)
    assert w3.shape == (2, 2, 4, 3)
    np.testing.assert_allclose(_np(w3)[..., 2][0], 0.0)     # padded key gets no weight
    np.testing.assert_allclose(_np(w3).sum(-1), 1.0, atol=1e-12)


def test_mha_causal_without_mask_builds_it():
    m = _mha(batch_first=True)
    x = fl.randn(2, 5, 8, dtype=F64)
    causal = fl.from_numpy(np.triu(np.ones((5, 5), dtype=bool), 1))
    o1, w1 = m(x, x, x, is_causal=True)
    o2, w2 = m(x, x, x, attn_mask=causal)
    np.testing.assert_allclose(_np(o1), _np(o2), atol=1e-12)
    assert np.all(np.triu(_np(w1)[0], 1) == 0)


def test_mha_kdim_vdim_gradchecks():
    m = nn.MultiheadAttention(4, 2, kdim=3, vdim=5, dtype=F64)
    rng = np.random.default_rng(8)
    q, k, v = rng.standard_normal((3, 2, 4)), rng.standard_normal((2, 2, 3)), \
        rng.standard_normal((2, 2, 5))
    _gradcheck_with_params(m, lambda q, k, v: m(q, k, v), [_var(q), _var(k), _var(v)])


def test_mha_dropout_only_in_training():
    m = nn.MultiheadAttention(8, 2, dropout=0.5, dtype=F64)
    x = fl.randn(4, 2, 8, dtype=F64)
    _, w = m(x, x, x, average_attn_weights=False)
    assert (_np(w) == 0).any()
    m.eval()
    _, w = m(x, x, x)
    np.testing.assert_allclose(_np(w).sum(-1), 1.0, atol=1e-12)


def test_mha_errors():
    with pytest.raises(ValueError, match="divisible"):
        nn.MultiheadAttention(6, 4)
    with pytest.raises(NotImplementedError, match="add_bias_kv"):
        nn.MultiheadAttention(8, 2, add_bias_kv=True)
    m = nn.MultiheadAttention(8, 2)
    with pytest.raises(fl.ShapeError, match=r"expected query \(L, N, 8\)"):
        m(fl.zeros(3, 2, 6), fl.zeros(3, 2, 8), fl.zeros(3, 2, 8))
    with pytest.raises(fl.ShapeError, match="key_padding_mask"):
        x = fl.zeros(3, 2, 8)
        m(x, x, x, key_padding_mask=fl.zeros(3, 2).bool())
    with pytest.raises(fl.ShapeError, match="attn_mask"):
        m(x, x, x, attn_mask=fl.zeros(2, 3))
    with pytest.raises(fl.ShapeError, match="batch"):
        m(fl.zeros(3, 2, 8), fl.zeros(3, 1, 8), fl.zeros(3, 1, 8))


def test_lstm_sequence_matches_lstm_cell_loop_and_double_backward():
    """The fused F.lstm_sequence against per-step F.lstm_cell, values and gradients
    (first and second order, both directions)."""
    from flodl_core.nn import functional as F
    rng = np.random.default_rng(7)
    T, N, H = 4, 3, 2
    for reverse in (False, True):
        arrs = [rng.standard_normal(s) for s in [(T, N, 4 * H), (4 * H, H), (N, H), (N, H)]]
        a = [_var(x) for x in arrs]
        b = [_var(x) for x in arrs]
        hs, h_t, c_t = F.lstm_sequence(*a, reverse=reverse)
        h, c = b[2], b[3]
        eye = fl.tensor(np.eye(4 * H))
        outs = [None] * T
        for t in (range(T - 1, -1, -1) if reverse else range(T)):
            h, c = F.lstm_cell(b[0][t], (h, c), eye, b[1])
            outs[t] = h
        np.testing.assert_allclose(_np(hs), np.stack([_np(o) for o in outs]), atol=1e-12)
        np.testing.assert_allclose(_np(h_t), _np(h), atol=1e-12)
        np.testing.assert_allclose(_np(c_t), _np(c), atol=1e-12)
        loss_a = (hs * hs).sum() + (c_t * h_t).sum()
        loss_b = sum((o * o).sum() for o in outs) + (c * h).sum()
        ga = fl.grad(loss_a, a, create_graph=True)
        gb = fl.grad(loss_b, b, create_graph=True)
        for x, y in zip(ga, gb):
            np.testing.assert_allclose(_np(x), _np(y), atol=1e-10)
        gga = fl.grad(sum((g * g).sum() for g in ga), a)
        ggb = fl.grad(sum((g * g).sum() for g in gb), b)
        for x, y in zip(gga, ggb):
            np.testing.assert_allclose(_np(x), _np(y), atol=1e-10)
