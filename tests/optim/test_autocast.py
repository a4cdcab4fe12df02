"""autocast: the region switch, the per-op policies (lower precision, float32,
promote, pass-through), gradients, un-autocast backward, the Parameter cast
cache, and small training steps in float16 and bfloat16. Each test runs on CPU
and, when CuPy sees a GPU, on CUDA (bfloat16 cases skip there: CuPy has none)."""
from __future__ import annotations

import threading

import numpy as np
import pytest

import flodl_core as fl
from flodl_core import nn
from flodl_core.autograd import function as fn_mod
from flodl_core.autograd.function import autocast_op
from flodl_core.autograd.grad_mode import state
from flodl_core.autograd.ops.arithmetic import Matmul
from flodl_core.autograd.ops.conversion import ToDType
from flodl_core.autograd.ops.reduction import Sum
from flodl_core.nn import functional as F
from flodl_core.nn import losses as L
from flodl_core.optim.autocast import autocast, get_autocast_dtype, is_autocast_enabled

DT = fl.DType
F16, BF16, F32, F64 = DT.Float16, DT.BFloat16, DT.Float32, DT.Float64
# Low-precision tolerances (|out - ref| <= atol + rtol |ref| on O(1) values).
TOL = {F16: (2e-2, 2e-2), BF16: (6e-2, 6e-2)}


@pytest.fixture(params=[F16, BF16], ids=["f16", "bf16"])
def low(request, device):
    if request.param == BF16 and device.kind == "cuda":
        pytest.skip("CuPy has no bfloat16")
    return request.param


def arr(rng, *shape, lo=-1.0, hi=1.0):
    return rng.uniform(lo, hi, shape).astype(np.float32)


def T(a, device, dtype=None):
    t = fl.tensor(np.asarray(a), device=device)
    return t if dtype is None else t.to_dtype(dtype)


def V(a, device, dtype=None):
    return fl.Variable(T(a, device, dtype), requires_grad=True)


def host(t):
    return np.asarray(t.to_numpy()).astype(np.float64)


def outputs(y):
    return list(y) if isinstance(y, (tuple, list)) else [y]


@pytest.fixture(autouse=True)
def _no_leftover_state():
    yield
    assert not is_autocast_enabled()
    assert state.autocast_nesting == 0 and state.autocast_cache is None
    assert fn_mod._autocast_active == 0


# ============================================================== the switch


def test_queries_outside_inside_and_after():
    assert not is_autocast_enabled()
    assert get_autocast_dtype() == F16
    with autocast(BF16) as ac:
        assert is_autocast_enabled()
        assert get_autocast_dtype() == BF16
        assert isinstance(ac, autocast)
    assert not is_autocast_enabled()
    assert get_autocast_dtype() == F16


def test_default_dtype_is_float16_and_names_are_accepted():
    assert autocast().dtype == F16
    for name, want in (("float16", F16), ("bfloat16", BF16), ("BFloat16", BF16),
                       ("Float16", F16), (np.float16, F16)):
        assert autocast(name).dtype == want


@pytest.mark.parametrize("bad", [F32, F64, DT.Int32, DT.Bool, "float32", "int64", "half",
                                 np.float64, 3])
def test_non_half_dtype_is_a_dtype_error_naming_autocast(bad):
    with pytest.raises(fl.DTypeError, match="autocast"):
        autocast(bad)


def test_error_names_the_dtype_and_hints_at_device_strings():
    with pytest.raises(fl.DTypeError, match=r"autocast: dtype must be DType.Float16 or "
                                            r"DType.BFloat16, got DType.Float32"):
        autocast(F32)
    with pytest.raises(fl.DTypeError, match="give only the dtype"):
        autocast("cuda")


def test_nesting_switches_dtype_and_enabled_false_turns_it_off(device):
    rng = np.random.default_rng(0)
    a, b = T(arr(rng, 2, 3), device), T(arr(rng, 3, 2), device)
    with autocast(F16):
        assert (a @ b).dtype == F16
        with autocast(enabled=False):
            assert not is_autocast_enabled()
            assert (a @ b).dtype == F32
            with autocast(F16):
                assert (a @ b).dtype == F16
            assert (a @ b).dtype == F32
        assert (a @ b).dtype == F16
        if device.kind != "cuda":
            with autocast(BF16):
                assert (a @ b).dtype == BF16
                assert get_autocast_dtype() == BF16
            assert get_autocast_dtype() == F16
        assert (a @ b).dtype == F16
    assert (a @ b).dtype == F32


def test_same_instance_reentered_and_restored_after_an_exception():
    ac = autocast(BF16)
    with ac:
        with ac:
            assert is_autocast_enabled()
        assert is_autocast_enabled()
    with pytest.raises(RuntimeError):
        with autocast():
            raise RuntimeError("boom")
    assert not is_autocast_enabled()


def test_decorator_form(device):
    rng = np.random.default_rng(1)
    a, b = T(arr(rng, 2, 3), device), T(arr(rng, 3, 2), device)

    @autocast()
    def f16_matmul(x, y):
        assert is_autocast_enabled() and get_autocast_dtype() == F16
        return x @ y

    @autocast(enabled=False)
    def plain(x, y):
        return x @ y

    assert f16_matmul.__name__ == "f16_matmul"
    assert f16_matmul(a, b).dtype == F16
    assert not is_autocast_enabled()
    with autocast():
        assert plain(a, b).dtype == F32
        assert is_autocast_enabled()


def test_autocast_is_thread_local(device):
    rng = np.random.default_rng(2)
    a, b = T(arr(rng, 2, 3), device), T(arr(rng, 3, 2), device)
    seen = {}

    def other():
        seen["enabled"] = is_autocast_enabled()
        seen["dtype"] = (a @ b).dtype
        with autocast(F16):
            seen["inner"] = (a @ b).dtype

    with autocast(F16):
        th = threading.Thread(target=other)
        th.start()
        th.join()
        assert is_autocast_enabled()
    assert seen == {"enabled": False, "dtype": F32, "inner": F16}


# ========================================================== op policies

# Each case: (name, build(rng) -> list of float32 numpy arrays, fn(*tensors)).
# Inputs are made float32 by default: autocast must cast them.

def _w(rng, *s):
    return arr(rng, *s, lo=-0.5, hi=0.5)


LOWER_CASES = [
    ("matmul", lambda r: [arr(r, 2, 3, 4), arr(r, 4, 5)], lambda a, b: a @ b),
    ("matmul_1d", lambda r: [arr(r, 4), arr(r, 4, 3)], lambda a, b: a.matmul(b)),
    ("addmm", lambda r: [arr(r, 2, 4), arr(r, 2, 3), arr(r, 3, 4)],
     lambda c, a, b: c.addmm(a, b, beta=0.5, alpha=2.0)),
    ("linear", lambda r: [arr(r, 2, 3, 4), _w(r, 5, 4), _w(r, 5)], F.linear),
    ("conv1d", lambda r: [arr(r, 2, 3, 8), _w(r, 4, 3, 3), _w(r, 4)],
     lambda x, w, b: F.conv1d(x, w, b, padding=1)),
    ("conv2d", lambda r: [arr(r, 2, 3, 5, 5), _w(r, 4, 3, 3, 3), _w(r, 4)],
     lambda x, w, b: F.conv2d(x, w, b, stride=2)),
    ("conv3d", lambda r: [arr(r, 1, 2, 4, 4, 4), _w(r, 3, 2, 2, 2, 2)],
     lambda x, w: F.conv3d(x, w)),
    ("conv_transpose1d", lambda r: [arr(r, 2, 3, 5), _w(r, 3, 4, 3), _w(r, 4)],
     lambda x, w, b: F.conv_transpose1d(x, w, b, stride=2)),
    ("conv_transpose2d", lambda r: [arr(r, 2, 3, 4, 4), _w(r, 3, 2, 3, 3)],
     lambda x, w: F.conv_transpose2d(x, w, padding=1)),
    ("conv_transpose3d", lambda r: [arr(r, 1, 2, 3, 3, 3), _w(r, 2, 3, 2, 2, 2)],
     lambda x, w: F.conv_transpose3d(x, w)),
    ("prelu", lambda r: [arr(r, 2, 3, 4), _w(r, 3)], F.prelu),
    ("scaled_dot_product_attention",
     lambda r: [arr(r, 2, 2, 5, 4), arr(r, 2, 2, 6, 4), arr(r, 2, 2, 6, 3),
                arr(r, 5, 6, lo=-1.0, hi=0.0)],
     lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m)),
    ("gru_cell", lambda r: [arr(r, 2, 3), arr(r, 2, 4), _w(r, 12, 3), _w(r, 12, 4),
                            _w(r, 12), _w(r, 12)], F.gru_cell),
    ("lstm_cell", lambda r: [arr(r, 2, 3), arr(r, 2, 4), arr(r, 2, 4), _w(r, 16, 3),
                             _w(r, 16, 4), _w(r, 16)],
     lambda x, h, c, wi, wh, b: F.lstm_cell(x, (h, c), wi, wh, b, None)),
    ("lstm_sequence", lambda r: [arr(r, 4, 2, 16), _w(r, 16, 4), arr(r, 2, 4), arr(r, 2, 4)],
     F.lstm_sequence),
]


@pytest.mark.parametrize("name, build, fn", LOWER_CASES, ids=[c[0] for c in LOWER_CASES])
def test_lower_precision_ops(name, build, fn, low, device):
    rng = np.random.default_rng(3)
    data = build(rng)
    ref = outputs(fn(*[T(a, device) for a in data]))
    with autocast(low):
        got = outputs(fn(*[T(a, device) for a in data]))          # float32 in
        mixed = outputs(fn(*[T(a, device, low if i == 0 else None)  # low activations,
                             for i, a in enumerate(data)]))          # float32 weights
    atol, rtol = TOL[low]
    for g, m, r in zip(got, mixed, ref):
        assert r.dtype == F32
        assert g.dtype == low and m.dtype == low, name
        np.testing.assert_allclose(host(g), host(r), atol=atol, rtol=rtol)
        np.testing.assert_allclose(host(m), host(r), atol=atol, rtol=rtol)


def _pos(r, *s):
    return arr(r, *s, lo=0.2, hi=1.5)


FP32_CASES = [
    ("softmax", lambda r: [arr(r, 3, 5)], lambda x: x.softmax(-1)),
    ("F.softmax", lambda r: [arr(r, 3, 5)], lambda x: F.softmax(x, 0)),
    ("log_softmax", lambda r: [arr(r, 3, 5)], lambda x: x.log_softmax(-1)),
    ("F.log_softmax", lambda r: [arr(r, 3, 5)], lambda x: F.log_softmax(x, 1)),
    ("logsumexp", lambda r: [arr(r, 3, 5)], lambda x: x.logsumexp(1)),
    ("layer_norm", lambda r: [arr(r, 2, 3, 4), _w(r, 4), _w(r, 4)],
     lambda x, w, b: F.layer_norm(x, (4,), w, b)),
    ("group_norm", lambda r: [arr(r, 2, 4, 3), _w(r, 4), _w(r, 4)],
     lambda x, w, b: F.group_norm(x, 2, w, b)),
    ("batch_norm", lambda r: [arr(r, 4, 3, 2), _w(r, 3), _w(r, 3)],
     lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True)),
    ("instance_norm", lambda r: [arr(r, 2, 3, 4), _w(r, 3), _w(r, 3)],
     lambda x, w, b: F.instance_norm(x, weight=w, bias=b)),
    ("rms_norm", lambda r: [arr(r, 2, 5), _w(r, 5)], lambda x, w: F.rms_norm(x, (5,), w)),
    ("normalize", lambda r: [arr(r, 3, 4)], lambda x: F.normalize(x, dim=1)),
    ("cosine_similarity", lambda r: [arr(r, 3, 4), arr(r, 3, 4)], F.cosine_similarity),
    ("cdist", lambda r: [arr(r, 3, 4), arr(r, 5, 4)], lambda a, b: a.cdist(b)),
    ("norm", lambda r: [arr(r, 3, 4)], lambda x: x.norm(2.0, 1)),
    ("sum", lambda r: [arr(r, 3, 4)], lambda x: x.sum()),
    ("sum_dim", lambda r: [arr(r, 3, 4)], lambda x: x.sum_dim(0)),
    ("prod", lambda r: [_pos(r, 3, 2)], lambda x: x.prod_dim(1)),
    ("cumsum", lambda r: [arr(r, 3, 4)], lambda x: x.cumsum(1)),
    ("cumprod", lambda r: [_pos(r, 3, 4)], lambda x: x.cumprod(1)),
    ("mean", lambda r: [arr(r, 3, 4)], lambda x: x.mean()),
    ("mean_dim", lambda r: [arr(r, 3, 4)], lambda x: x.mean_dim(1)),
    ("var", lambda r: [arr(r, 3, 4)], lambda x: x.var()),
    ("std_dim", lambda r: [arr(r, 3, 4)], lambda x: x.std_dim(0)),
    ("exp", lambda r: [arr(r, 3, 4)], lambda x: x.exp()),
    ("expm1", lambda r: [arr(r, 3, 4)], lambda x: x.expm1()),
    ("log", lambda r: [_pos(r, 3, 4)], lambda x: x.log()),
    ("log1p", lambda r: [_pos(r, 3, 4)], lambda x: x.log1p()),
    ("log2", lambda r: [_pos(r, 3, 4)], lambda x: x.log2()),
    ("log10", lambda r: [_pos(r, 3, 4)], lambda x: x.log10()),
    ("pow", lambda r: [_pos(r, 3, 4), arr(r, 3, 4)], lambda a, b: a ** b),
    ("pow_scalar", lambda r: [arr(r, 3, 4)], lambda x: x ** 3),
    ("rpow", lambda r: [arr(r, 3, 4)], lambda x: 2.0 ** x),
    ("reciprocal", lambda r: [_pos(r, 3, 4)], lambda x: x.reciprocal()),
    ("rtruediv", lambda r: [_pos(r, 3, 4)], lambda x: 1.0 / x),
    ("rsqrt", lambda r: [_pos(r, 3, 4)], lambda x: x.rsqrt()),
    ("acos", lambda r: [arr(r, 3, 4, lo=-0.9, hi=0.9)], lambda x: x.acos()),
    ("asin", lambda r: [arr(r, 3, 4, lo=-0.9, hi=0.9)], lambda x: x.asin()),
    ("tan", lambda r: [arr(r, 3, 4)], lambda x: x.tan()),
    ("softplus", lambda r: [arr(r, 3, 4)], lambda x: F.softplus(x)),
]


def _fp32_check(name, build, fn, low, device):
    rng = np.random.default_rng(4)
    data = build(rng)
    low_in = [T(a, device, low) for a in data]
    ref = outputs(fn(*[t.to_dtype(F32) for t in low_in]))   # the same values in float32
    with autocast(low):
        got = outputs(fn(*low_in))
        from_f32 = outputs(fn(*[T(a, device) for a in data]))
    for g, f, r in zip(got, from_f32, ref):
        assert g.dtype == F32 and f.dtype == F32, name
        np.testing.assert_allclose(host(g), host(r), rtol=1e-5, atol=1e-6)
    ref32 = outputs(fn(*[T(a, device) for a in data]))
    for f, r in zip(from_f32, ref32):
        np.testing.assert_allclose(host(f), host(r), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name, build, fn", FP32_CASES, ids=[c[0] for c in FP32_CASES])
def test_float32_ops(name, build, fn, low, device):
    """Half inputs are computed in float32 and give float32; float32 inputs stay."""
    _fp32_check(name, build, fn, low, device)


def _i64(a, device):
    return fl.tensor(np.asarray(a, dtype=np.int64), device=device)


def _loss_cases(device):
    """Every loss of nn.losses: name -> (float arrays, extra args, kwargs)."""
    i64 = lambda a: _i64(a, device)   # noqa: E731
    r = np.random.default_rng(5)
    logp = np.log(np.full((6, 2, 4), 0.25, np.float32)) + arr(r, 6, 2, 4) * 0.1
    return {
        "mse_loss": ([arr(r, 3, 4), arr(r, 3, 4)], [], {}),
        "l1_loss": ([arr(r, 3, 4), arr(r, 3, 4)], [], {}),
        "smooth_l1_loss": ([arr(r, 3, 4), arr(r, 3, 4)], [], {}),
        "huber_loss": ([arr(r, 3, 4), arr(r, 3, 4)], [], dict(delta=0.5)),
        "nll_loss": ([np.log(_pos(r, 3, 4) / 4)], [i64([0, 3, 1])], {}),
        "cross_entropy_loss": ([arr(r, 3, 4)], [i64([0, 3, 1])], {}),
        "bce_loss": ([arr(r, 3, 4, lo=0.1, hi=0.9), arr(r, 3, 4, lo=0.0, hi=1.0)], [], {}),
        "bce_with_logits_loss": ([arr(r, 3, 4), arr(r, 3, 4, lo=0.0, hi=1.0)], [], {}),
        "focal_loss": ([arr(r, 3, 4), (arr(r, 3, 4) > 0).astype(np.float32)], [], {}),
        "kl_div_loss": ([np.log(_pos(r, 3, 4) / 4), _pos(r, 3, 4) / 4], [], {}),
        "poisson_nll_loss": ([arr(r, 3, 4), _pos(r, 3, 4) * 2], [], {}),
        "triplet_margin_loss": ([arr(r, 3, 4), arr(r, 3, 4), arr(r, 3, 4)], [], {}),
        "cosine_embedding_loss": ([arr(r, 3, 4), arr(r, 3, 4)], [i64([1, -1, 1])], {}),
        "hinge_embedding_loss": ([arr(r, 3, 4), np.where(arr(r, 3, 4) > 0, 1.0, -1.0)
                                  .astype(np.float32)], [], {}),
        "margin_ranking_loss": ([arr(r, 5), arr(r, 5), np.array([1, -1, 1, 1, -1],
                                                                np.float32)], [], {}),
        "ctc_loss": ([logp], [i64([[1, 2], [3, 3]]), [6, 5], [2, 2]], {}),
    }


def test_every_loss_has_a_case():
    assert set(_loss_cases(fl.Device.CPU)) == set(L.LOSSES)


@pytest.mark.parametrize("name", sorted(L.LOSSES))
def test_losses_run_in_float32(name, low, device):
    floats, extra, kwargs = _loss_cases(device)[name]
    fn = L.LOSSES[name]

    def call(*ts):
        return fn(*ts, *extra, **kwargs)

    n = len(floats)
    _fp32_check(name, lambda r: floats, lambda *ts: call(*ts[:n]), low, device)
    # Gradients reach a float32 leaf in float32 through the loss's casts.
    x = V(floats[0], device)
    with autocast(low):
        loss = call(x.to_dtype(low), *[T(a, device) for a in floats[1:]])
    loss.backward()
    assert x.grad.dtype == F32


PROMOTE_CASES = [
    ("addcmul", lambda a, b, c: a.addcmul(b, c, value=0.5)),
    ("addcdiv", lambda a, b, c: a.addcdiv(b, c.abs().add_scalar(1.0))),
    ("atan2", lambda a, b, c: a.atan2(b)),
    ("cat", lambda a, b, c: fl.cat([a, b, c], 0)),
    ("stack", lambda a, b, c: fl.stack([a, b, c], 1)),
    ("bilinear", lambda a, b, c: F.bilinear(a, b, c.reshape(1, 3, 3))),
    ("grid_sample", lambda a, b, c: F.grid_sample(a.reshape(1, 1, 3, 3),
                                                  b[:, :2].reshape(1, 3, 1, 2),
                                                  align_corners=True)),
    ("scatter_add", lambda a, b, c: a.scatter_add(0, fl.tensor(np.array([[0, 2, 1], [1, 0, 2],
                                                                         [2, 1, 0]]),
                                                               device=a.device), b)),
    ("index_add", lambda a, b, c: a.index_add(1, fl.tensor(np.array([2, 0]), device=a.device),
                                              b[:, :2], alpha=0.5)),
]


@pytest.mark.parametrize("name, fn", PROMOTE_CASES, ids=[c[0] for c in PROMOTE_CASES])
def test_promote_ops(name, fn, low, device):
    rng = np.random.default_rng(6)
    data = [arr(rng, 3, 3) for _ in range(3)]
    ref = fn(*[T(a, device) for a in data])
    with autocast(low):
        all_low = fn(*[T(a, device, low) for a in data])
        mixed = fn(*[T(a, device, low if i else None) for i, a in enumerate(data)])
        all_f32 = fn(*[T(a, device) for a in data])
    assert all_low.dtype == low, name              # widest of (low, low, low)
    assert mixed.dtype == F32, name                # widest of (f32, low, low)
    assert all_f32.dtype == F32
    atol, rtol = TOL[low]
    for got in (all_low, mixed):
        np.testing.assert_allclose(host(got), host(ref), atol=atol, rtol=rtol)
    np.testing.assert_allclose(host(all_f32), host(ref), rtol=1e-6, atol=1e-7)


def test_promote_mixed_half_types_goes_to_float32(device):
    if device.kind == "cuda":
        pytest.skip("CuPy has no bfloat16")
    a, b = T([[1.0, 2.0]], device, F16), T([[3.0, 4.0]], device, BF16)
    with autocast(F16):
        assert a.cat(b, 0).dtype == F32
        assert a.atan2(b).dtype == F32


@pytest.mark.parametrize("name, fn", [
    ("relu", lambda x: x.relu()), ("add", lambda x: x + x), ("mul", lambda x: x * x),
    ("tanh", lambda x: x.tanh()), ("sigmoid", lambda x: x.sigmoid()),
    ("gelu", lambda x: F.gelu(x)), ("reshape", lambda x: x.reshape(4, 3)),
    ("max_pool", lambda x: F.max_pool1d(x.reshape(1, 3, 4), 2)),
    ("dropout_eval", lambda x: F.dropout(x, 0.5, training=False)),
])
def test_other_ops_keep_their_input_dtype(name, fn, low, device):
    rng = np.random.default_rng(7)
    a = arr(rng, 3, 4)
    with autocast(low):
        assert fn(T(a, device)).dtype == F32
        assert fn(T(a, device, low)).dtype == low
        assert fn(T(a, device, F64)).dtype == F64


def test_float64_inputs_are_never_cast(device):
    rng = np.random.default_rng(8)
    a, b = T(arr(rng, 3, 4), device, F64), T(arr(rng, 4, 2), device, F64)
    w, bias = T(_w(rng, 2, 4), device, F64), T(_w(rng, 2), device, F64)
    with autocast(F16):
        assert (a @ b).dtype == F64
        assert F.linear(a, w, bias).dtype == F64
        assert a.softmax(-1).dtype == F64
        assert a.sum().dtype == F64 and a.exp().dtype == F64
        assert F.layer_norm(a, (4,)).dtype == F64
        assert L.mse_loss(a, a.mul_scalar(2.0)).dtype == F64
        assert a.addcmul(a, a).dtype == F64
        # A float64 operand keeps float64; the float32 one is cast but the op promotes.
        assert (a @ b.to_dtype(F32)).dtype == F64
    ref = (host(a) @ host(b))
    with autocast(F16):
        np.testing.assert_allclose(host(a @ b), ref, rtol=1e-12)


def test_integer_and_bool_inputs_are_never_cast(device):
    i = _i64([[1, 2], [3, 4]], device)
    with autocast(F16):
        assert i.sum().dtype == DT.Int64 and i.sum().item() == 10
        assert i.cumsum(1).dtype == DT.Int64
        assert i.prod().dtype == DT.Int64
        assert (i @ i).dtype == DT.Int64
        assert fl.cat([i, i], 0).dtype == DT.Int64
        assert (i ** 2).dtype == DT.Int64
        mask = fl.tensor(np.array([True, False]), device=device)
        assert fl.cat([mask, mask], 0).dtype == DT.Bool
        # Class-index targets of a loss stay Int64 (the logits go to float32).
        logits = T(np.zeros((2, 3), np.float32), device, F16)
        assert L.cross_entropy_loss(logits, _i64([0, 2], device)).dtype == F32


def test_tensors_are_cast_like_variables(device):
    rng = np.random.default_rng(9)
    x, w = arr(rng, 2, 3), arr(rng, 4, 3)
    with autocast(F16):
        y = F.linear(T(x, device), T(w, device))
        assert type(y) is fl.Tensor and y.dtype == F16
        v = F.linear(V(x, device), T(w, device))
        assert isinstance(v, fl.Variable) and v.dtype == F16


def test_public_entry_points_carry_their_policy():
    for fn in (F.linear, F.conv2d, F.conv_transpose1d, F.scaled_dot_product_attention,
               F.gru_cell, F.lstm_cell, F.lstm_sequence):
        assert fn.autocast_policy == "lower_precision", fn.__name__
    for fn in (F.normalize, F.cosine_similarity, *L.LOSSES.values()):
        assert fn.autocast_policy == "float32", fn.__name__
    for fn in (F.bilinear, F.grid_sample):
        assert fn.autocast_policy == "promote", fn.__name__
    assert Matmul.autocast_policy == "lower_precision" and Sum.autocast_policy == "float32"
    assert ToDType.autocast_policy is None


def test_layers_under_autocast(low, device):
    """Modules built from the listed ops: LSTM (fused sequence), multi-head attention
    (both kernels), batch norm (running statistics still updated in float32)."""
    rng = np.random.default_rng(20)
    fl.manual_seed(0)
    lstm = nn.LSTM(3, 4, device=device)
    mha = nn.MultiheadAttention(8, 2, device=device)
    bn = nn.BatchNorm1d(3, device=device)
    x = V(arr(rng, 5, 2, 3), device)
    q = V(arr(rng, 4, 2, 8), device)
    xb = T(arr(rng, 6, 3), device)
    ref_out, _ = lstm(x)
    ref_mha, _ = mha(q, q, q)
    with autocast(low):
        out, (h, c) = lstm(x)
        a1, w1 = mha(q, q, q)
        a2, _ = mha(q, q, q, need_weights=False)
        y = bn(xb.to_dtype(low))
        loss = out.float().sum() + a1.float().sum() + a2.float().sum()
    assert out.dtype == low and h.dtype == low and c.dtype == low
    assert a1.dtype == low and a2.dtype == low and w1.dtype == F32
    assert y.dtype == F32
    assert bn.running_mean.dtype == F32
    np.testing.assert_allclose(host(bn.running_mean),
                               0.1 * host(xb.to_dtype(low).to_dtype(F32)).mean(0),
                               rtol=1e-5, atol=1e-6)
    atol, rtol = TOL[low]
    np.testing.assert_allclose(host(out), host(ref_out), atol=atol, rtol=rtol)
    np.testing.assert_allclose(host(a1), host(ref_mha), atol=atol, rtol=rtol)
    np.testing.assert_allclose(host(a2), host(ref_mha), atol=atol, rtol=rtol)
    loss.backward()
    for p in lstm.parameters() + mha.parameters():
        assert p.grad is not None and p.grad.dtype == F32
    assert x.grad.dtype == F32 and q.grad.dtype == F32


def test_autocast_op_keeps_signature_defaults_and_skips(device):
    calls = []

    @autocast_op("float32", skip=("stats",))
    def op(x, pair, stats=None, scale=2.0, *, flag=True):
        """doc"""
        calls.append((x, pair, stats, scale, flag, is_autocast_enabled()))
        return x

    assert op.__name__ == "op" and op.__doc__ == "doc" and op.autocast_policy == "float32"
    assert str(__import__("inspect").signature(op)) == \
        "(x, pair, stats=None, scale=2.0, *, flag=True)"
    h = T([1.0], device, F16)
    op(h, (h, 3))
    assert calls[-1] == (h, (h, 3), None, 2.0, True, False)
    with autocast(F16):
        op(h, [h, 3], stats=h, flag=False)
        x, pair, stats, scale, flag, inside = calls[-1]
        assert x.dtype == F32 and type(pair) is list and pair[0].dtype == F32
        assert pair[1] == 3 and stats is h and flag is False
        assert inside is False and is_autocast_enabled()   # off inside, restored after
    with pytest.raises(TypeError, match="only plain parameters"):
        autocast_op("float32")(lambda *xs: xs)
    with pytest.raises(TypeError, match="no parameter"):
        autocast_op("float32", skip=("nope",))(lambda x: x)
    with pytest.raises(ValueError, match="unknown policy"):
        autocast_op("float8")
    with pytest.raises(TypeError, match="names the generated wrapper uses"):
        autocast_op("float32")(lambda x, state: x)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_anomaly_mode_names_the_user_line_through_decorated_ops(device):
    x = V(np.array([[np.inf, 1.0]], np.float32), device)
    w = V(np.ones((2, 2), np.float32), device)
    with fl.detect_anomaly():
        with pytest.raises(fl.AnomalyError, match=r"linear: .* at .*test_autocast\.py:\d+"):
            F.linear(x, w)
        with autocast(F16):
            with pytest.raises(fl.AnomalyError, match=r"at .*test_autocast\.py:\d+"):
                F.linear(x, w)


def test_region_counter_follows_threads():
    started, release = threading.Event(), threading.Event()

    def worker():
        with autocast():
            started.set()
            release.wait(5)

    th = threading.Thread(target=worker)
    th.start()
    started.wait(5)
    assert fn_mod._autocast_active == 1 and not is_autocast_enabled()
    release.set()
    th.join()
    assert fn_mod._autocast_active == 0


# ============================================================ gradients


def _mlp(device, seed=0):
    fl.manual_seed(seed)
    l1, l2 = nn.Linear(6, 16, device=device), nn.Linear(16, 4, device=device)
    return l1, l2, l1.parameters() + l2.parameters()


def _forward(l1, l2, x, target):
    return L.cross_entropy_loss(l2(l1(x).relu()), target)


def test_gradients_arrive_in_parameter_dtype_and_match_float32(low, device):
    rng = np.random.default_rng(10)
    x, target = T(arr(rng, 8, 6), device), _i64(rng.integers(0, 4, 8), device)
    l1, l2, params = _mlp(device)
    _forward(l1, l2, x, target).backward()
    ref = [host(p.grad) for p in params]
    for p in params:
        p.grad = None
    with autocast(low):
        h = l1(x)
        assert h.dtype == low
        logits = l2(h.relu())
        assert logits.dtype == low
        loss = L.cross_entropy_loss(logits, target)
        assert loss.dtype == F32
    loss.backward()
    atol, rtol = TOL[low]
    for p, r in zip(params, ref):
        assert p.dtype == F32 and p.grad.dtype == F32
        np.testing.assert_allclose(host(p.grad), r, atol=atol * 0.5, rtol=rtol)


def test_half_leaf_gets_half_gradient_through_float32_op(low, device):
    x = V(np.array([0.5, -1.0, 2.0], np.float32), device, low)
    with autocast(low):
        y = x.exp().sum()
    assert y.dtype == F32
    y.backward()
    assert x.grad.dtype == low
    np.testing.assert_allclose(host(x.grad), np.exp(host(x)), rtol=TOL[low][1])


def test_backward_inside_the_region_runs_without_autocast(device, monkeypatch):
    seen = []
    orig_mm, orig_sum = Matmul.backward, Sum.backward

    def spy_mm(self, gy):
        seen.append(("matmul", is_autocast_enabled()))
        return orig_mm(self, gy)

    def spy_sum(self, gy):
        seen.append(("sum", is_autocast_enabled()))
        return orig_sum(self, gy)

    monkeypatch.setattr(Matmul, "backward", spy_mm)
    monkeypatch.setattr(Sum, "backward", spy_sum)
    rng = np.random.default_rng(11)
    a, b = V(arr(rng, 3, 4), device), V(arr(rng, 4, 2), device)
    with autocast(F16):
        loss = (a @ b).sum()
        loss.backward()
        assert is_autocast_enabled()              # restored after backward
        (ga,) = fl.grad((a @ b).sum(), [a], create_graph=True)
        assert is_autocast_enabled()
        # The recorded backward graph was built without autocast: its ops keep the
        # forward's float16, and only the engine's final cast brings the grad to f32.
        assert ga.dtype == F32 and ga._creator.inputs[0].dtype == F16
    assert seen and all(not on for _, on in seen)
    assert {k for k, _ in seen} == {"matmul", "sum"}
    assert a.grad.dtype == F32


def test_backward_error_inside_region_restores_autocast(device):
    x = V([1.0, 2.0], device)
    with autocast(F16):
        y = x.exp().sum()
        y.backward()
        with pytest.raises(fl.AutogradError):
            y.backward()                          # graph already freed
        assert is_autocast_enabled()


# ============================================================ cast cache


def _casts_of(out, leaf):
    """Distinct cast nodes in ``out``'s graph whose input is ``leaf``."""
    seen, found, stack = set(), set(), [out._creator]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, ToDType) and node.inputs[0] is leaf:
            found.add(id(node))
        stack.extend(x._creator for x in node.inputs)
    return found


def test_parameter_used_twice_is_cast_once_and_cache_clears(device):
    rng = np.random.default_rng(12)
    w = nn.Parameter(T(_w(rng, 5, 3), device))
    x1, x2 = T(arr(rng, 2, 3), device), T(arr(rng, 4, 3), device)
    with autocast(F16):
        y1, y2 = F.linear(x1, w), F.linear(x2, w)
        w1, w2 = y1._creator.inputs[1], y2._creator.inputs[1]
        assert w1 is w2 and w1.dtype == F16 and w1._creator.inputs[0] is w
        with autocast(F16):                       # nested: same cache
            assert F.linear(x1, w)._creator.inputs[1] is w1
        with autocast(BF16) if device.kind != "cuda" else autocast(F16):
            w3 = F.linear(x1, w)._creator.inputs[1]   # other dtype: other entry
            assert w3 is w1 or w3.dtype == BF16
        assert len(state.autocast_cache) >= 1
    assert state.autocast_cache is None
    with autocast(F16):
        assert F.linear(x1, w)._creator.inputs[1] is not w1   # a new region casts anew


def _cached(v):
    return any(entry[0] is v for entry in (state.autocast_cache or {}).values())


def test_cache_only_holds_float32_leaves_that_require_grad(device):
    rng = np.random.default_rng(13)
    w = nn.Parameter(T(_w(rng, 5, 3), device))
    frozen = nn.Parameter(T(_w(rng, 5, 3), device)).freeze()
    x = V(arr(rng, 2, 3), device)     # requires grad: every linear records its inputs
    with autocast(F16):
        nonleaf = w.mul_scalar(1.0)
        assert F.linear(x, nonleaf)._creator.inputs[1] is not \
            F.linear(x, nonleaf)._creator.inputs[1]
        assert F.linear(x, frozen)._creator.inputs[1] is not \
            F.linear(x, frozen)._creator.inputs[1]
        assert not _cached(nonleaf) and not _cached(frozen)
        with fl.no_grad():                        # casts without a graph: not cached
            F.linear(x, w)
        assert not _cached(w)
        with autocast(F16, cache_enabled=False):
            assert F.linear(x, w)._creator.inputs[1] is not F.linear(x, w)._creator.inputs[1]
        assert not _cached(w)
        y = F.linear(x, w)
        assert y._creator.inputs[1]._creator is not None   # graph-carrying cast cached
        assert _cached(w) and _cached(x)
        half = V(_w(rng, 5, 3), device, F16)      # already low precision: no cast at all
        assert F.linear(x, half)._creator.inputs[1] is half


def test_recurrent_weight_is_cast_once_for_all_time_steps(device):
    fl.manual_seed(0)
    gru = nn.GRU(3, 4, device=device)
    x = T(arr(np.random.default_rng(14), 6, 2, 3), device)
    with autocast(F16):
        out, h = gru(x)
    for p in (gru.weight_hh_l0, gru.weight_ih_l0, gru.bias_hh_l0):
        assert len(_casts_of(out, p)) == 1
    (out.sum() + h.sum()).backward()
    assert gru.weight_hh_l0.grad.dtype == F32


def test_cached_cast_feeds_several_graphs_and_backwards(device):
    rng = np.random.default_rng(15)
    w = nn.Parameter(T(_w(rng, 5, 3), device))
    x1, x2 = T(arr(rng, 2, 3), device), T(arr(rng, 4, 3), device)
    with autocast(F16):
        l1 = F.linear(x1, w).sum()
        l2 = F.linear(x2, w).sum()
        l1.backward()
        l2.backward()                   # through the same cast node, already used once
    g = host(w.grad)
    w.grad = None
    (F.linear(x1, w).sum() + F.linear(x2, w).sum()).backward()
    np.testing.assert_allclose(g, host(w.grad), rtol=2e-2, atol=2e-2)


def test_swapped_parameter_storage_is_cast_again(device):
    w = nn.Parameter(T(np.ones((2, 2), np.float32), device))
    x = T(np.ones((1, 2), np.float32), device)
    with autocast(F16):
        assert F.linear(x, w).sum().item() == 4.0
        w._replace(w._data * 3)
        assert F.linear(x, w).sum().item() == 12.0


# ============================================================ training


def _train(low, device, steps, one_region):
    rng = np.random.default_rng(16)
    x = T(arr(rng, 32, 6), device)
    target = _i64(np.argmax(host(x)[:, :4], axis=1), device)
    l1, l2, params = _mlp(device, seed=3)
    losses = []

    def step():
        loss = _forward(l1, l2, x, target)
        assert loss.dtype == F32
        loss.backward()
        for p in params:                          # plain SGD, in place as optimizers do
            p._data -= 0.5 * p.grad_array()
            p.grad = None
        losses.append(loss.item())

    if one_region:
        with autocast(low):
            for _ in range(steps):
                step()
    else:
        for _ in range(steps):
            with autocast(low):
                loss = _forward(l1, l2, x, target)
            loss.backward()
            for p in params:
                p._data -= 0.5 * p.grad_array()
                p.grad = None
            losses.append(loss.item())
    assert all(p.dtype == F32 for p in params)
    return losses


def test_training_step_decreases_the_loss(low, device):
    losses = _train(low, device, 15, one_region=False)
    assert losses[-1] < 0.8 * losses[0]
    assert all(np.isfinite(losses))


def test_training_loop_inside_one_region_sees_updated_weights(low, device):
    """The backward inside the region empties the cast cache, so the forward after an
    in-place update uses the new weights (same trajectory as a region per step)."""
    per_step = _train(low, device, 6, one_region=False)
    one = _train(low, device, 6, one_region=True)
    np.testing.assert_allclose(one, per_step, rtol=1e-6)
