"""The graph's small modules (state cell, routers, selectors, halt conditions):
values against NumPy, gradients by finite differences, parameter names and
initialisation, and error messages."""
from collections import OrderedDict

import numpy as np
import pytest

import flodl_core as fl
from flodl_core import nn
from flodl_core.errors import ShapeError
from flodl_core.graph.modules import (ArgmaxSelector, FixedSelector, LearnedHalt,
                                      NamedInputModule, SigmoidRouter, SoftmaxRouter,
                                      StateAdd, ThresholdHalt, accepts_refs, sum_named_refs)

F64 = fl.DType.Float64


def on(device, a, requires_grad=False, dtype=np.float64):
    t = fl.from_numpy(np.asarray(a, dtype=dtype).copy()).to_device(device)
    return fl.Variable(t, requires_grad=requires_grad) if requires_grad else t


def np_of(t):
    return np.asarray(t.to_numpy())


def params_np(module):
    return {n: np_of(p) for n, p in module.named_parameters()}


def softmax_np(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


rng = np.random.default_rng(0)


# ----------------------------------------------------------- named inputs


def test_named_input_module_is_abstract_and_forward_defaults_to_no_refs(device):
    with pytest.raises(TypeError):
        NamedInputModule()

    class Scale(NamedInputModule):
        def forward_named(self, x, refs):
            self.seen = dict(refs)
            return x.mul_scalar(2.0)

    m = Scale()
    np.testing.assert_array_equal(np_of(m(on(device, [1.0, 2.0]))), [2.0, 4.0])
    assert m.seen == {} and isinstance(m, nn.Module)


def test_accepts_refs():
    for m in (StateAdd(), SoftmaxRouter(2, 2), SigmoidRouter(2, 2), ArgmaxSelector(2, 2)):
        assert accepts_refs(m), m
    for m in (nn.Linear(2, 2), FixedSelector(0), ThresholdHalt(0.0), LearnedHalt(2)):
        assert not accepts_refs(m), m

    class Duck(nn.Module):   # duck-typed: defining forward_named is enough
        def forward_named(self, x, refs):
            return x

    assert accepts_refs(Duck())


# --------------------------------------------------------------- StateAdd


def test_state_add_with_no_refs_returns_the_stream(device):
    x = on(device, rng.standard_normal((2, 3)), requires_grad=True)
    assert StateAdd()(x) is x
    assert StateAdd().forward_named(x, {}) is x
    assert StateAdd().num_parameters() == 0 and repr(StateAdd()) == "StateAdd()"


@pytest.mark.parametrize("n_refs", [1, 3])
def test_state_add_sums_refs(device, n_refs):
    x = rng.standard_normal((2, 3))
    refs = [rng.standard_normal((2, 3)) for _ in range(n_refs)]
    got = StateAdd().forward_named(on(device, x), OrderedDict(
        (f"r{i}", on(device, r)) for i, r in enumerate(refs)))
    np.testing.assert_allclose(np_of(got), x + sum(refs), rtol=1e-12)
    assert got.device == device


def test_state_add_is_left_to_right_in_declaration_order(device):
    # In float32, (1e8 + 1) - 1e8 == 0 but (1e8 - 1e8) + 1 == 1: the order shows.
    f32 = np.float32
    x = on(device, [1e8], dtype=f32)
    refs = {"z": on(device, [1.0], dtype=f32), "a": on(device, [-1e8], dtype=f32)}
    got = StateAdd().forward_named(x, refs)
    assert np_of(got).tolist() == [(f32(1e8) + f32(1.0)) + f32(-1e8)] == [0.0]
    swapped = StateAdd().forward_named(x, {"a": refs["a"], "z": refs["z"]})
    assert np_of(swapped).tolist() == [1.0]


def test_state_add_gradient(device):
    x = on(device, rng.standard_normal((2, 3)), requires_grad=True)
    a = on(device, rng.standard_normal((2, 3)), requires_grad=True)
    b = on(device, rng.standard_normal(3), requires_grad=True)   # broadcasts over rows
    c = on(device, rng.standard_normal((2, 3)), requires_grad=True)
    fn = lambda x, a, b, c: StateAdd().forward_named(x, {"a": a, "b": b, "c": c})  # noqa: E731
    assert fl.gradcheck(fn, [x, a, b, c])
    out = fn(x, a, b, c)
    out.sum().backward()
    np.testing.assert_array_equal(np_of(b.grad), [2.0, 2.0, 2.0])


def test_state_add_errors(device):
    x = on(device, np.zeros((2, 3)))
    with pytest.raises(ShapeError, match=r"StateAdd: ref 'mem' has shape \(4, 2, 3\).*"
                                         r"stream's shape \(2, 3\)"):
        StateAdd().forward_named(x, {"mem": on(device, np.zeros((4, 2, 3)))})
    with pytest.raises(ShapeError, match="ref 'mem' has shape \\(5,\\)"):
        StateAdd().forward_named(x, {"mem": on(device, np.zeros(5))})
    with pytest.raises(TypeError, match="StateAdd: ref 'mem' must be a Tensor"):
        StateAdd().forward_named(x, {"mem": [1.0, 2.0, 3.0]})
    with pytest.raises(TypeError, match="StateAdd: refs must be a mapping"):
        StateAdd().forward_named(x, [x])
    with pytest.raises(TypeError, match="sum_named_refs: the stream must be a Tensor"):
        sum_named_refs(np.zeros(3), {})


# ---------------------------------------------------------------- routers


def test_router_parameters_match_linear_init():
    for cls in (SoftmaxRouter, SigmoidRouter, ArgmaxSelector):
        fl.manual_seed(5)
        r = cls(4, 3)
        fl.manual_seed(5)
        ref = nn.Linear(4, 3)
        assert [(n, p.shape) for n, p in r.named_parameters()] == [
            ("proj.weight", (3, 4)), ("proj.bias", (3,))]
        assert r.num_parameters() == 15
        np.testing.assert_array_equal(np_of(r.proj.weight), np_of(ref.weight))
        np.testing.assert_array_equal(np_of(r.proj.bias), np_of(ref.bias))
        assert list(r.state_dict()) == ["proj.weight", "proj.bias"]


def test_softmax_router_values(device):
    r = SoftmaxRouter(4, 3, device=device, dtype=F64)
    assert r.proj.weight.device == device and r.proj.weight.dtype == F64
    p = params_np(r)
    x = rng.standard_normal((5, 4))
    w = r(on(device, x))
    assert w.shape == (5, 3) and w.device == device
    expected = softmax_np(x @ p["proj.weight"].T + p["proj.bias"])
    np.testing.assert_allclose(np_of(w), expected, rtol=1e-12)
    np.testing.assert_allclose(np_of(w).sum(-1), np.ones(5), rtol=1e-12)
    assert (np_of(w) > 0).all()
    assert r(on(device, rng.standard_normal((2, 6, 4)))).shape == (2, 6, 3)


def test_sigmoid_router_values(device):
    r = SigmoidRouter(4, 3, device=device, dtype=F64)
    p = params_np(r)
    x = rng.standard_normal((5, 4))
    w = np_of(r(on(device, x)))
    expected = 1 / (1 + np.exp(-(x @ p["proj.weight"].T + p["proj.bias"])))
    np.testing.assert_allclose(w, expected, rtol=1e-12)
    assert w.shape == (5, 3) and ((w > 0) & (w < 1)).all()


def test_routers_add_refs_before_projecting(device):
    for cls in (SoftmaxRouter, SigmoidRouter, ArgmaxSelector):
        r = cls(4, 3, device=device, dtype=F64)
        x, a, b = (rng.standard_normal((5, 4)) for _ in range(3))
        got = r.forward_named(on(device, x), {"a": on(device, a), "b": on(device, b)})
        np.testing.assert_array_equal(np_of(got), np_of(r(on(device, (x + a) + b))))
        np.testing.assert_array_equal(np_of(r.forward_named(on(device, x), {})),
                                      np_of(r(on(device, x))))


def test_router_gradient(device):
    for cls in (SoftmaxRouter, SigmoidRouter):
        r = cls(3, 4, device=device, dtype=F64)
        x = on(device, rng.standard_normal((2, 3)), requires_grad=True)
        ref = on(device, rng.standard_normal((2, 3)), requires_grad=True)
        assert fl.gradcheck(lambda x, ref: r.forward_named(x, {"m": ref}), [x, ref])


def test_router_errors_and_repr():
    r = SoftmaxRouter(4, 3)
    with pytest.raises(ShapeError, match=r"SoftmaxRouter\(in_features=4, n=3\): "
                                         r"Linear\(4 -> 3\): input last dim must be 4, "
                                         r"got shape \(2, 5\)"):
        r(fl.zeros(2, 5))
    with pytest.raises(ShapeError, match=r"SigmoidRouter.*Linear\(4 -> 2\).*\(5,\)"):
        SigmoidRouter(4, 2)(fl.zeros(5))
    with pytest.raises(TypeError, match=r"SoftmaxRouter\(in_features=4, n=3\): input must "
                                        r"be a Tensor or Variable, got list"):
        r([[0.0] * 4])
    with pytest.raises(ShapeError, match="SoftmaxRouter.*ref 'm' has shape"):
        r.forward_named(fl.zeros(2, 4), {"m": fl.zeros(3, 4)})
    for bad in (0, -1, 2.5, True, "3"):
        with pytest.raises(ValueError, match="SoftmaxRouter: n must be an int >= 1"):
            SoftmaxRouter(4, bad)
        with pytest.raises(ValueError, match="SigmoidRouter: in_features must be an int"):
            SigmoidRouter(bad, 2)
    text = repr(r)
    assert text.startswith("SoftmaxRouter(\n  in_features=4, n=3\n  (proj): Linear(")
    assert text.endswith("# 15 params")


# -------------------------------------------------------------- selectors


def test_fixed_selector(device):
    s = FixedSelector(2)
    out = s(on(device, np.zeros((4, 3))))
    assert out == 2 and type(out) is int
    assert s.num_parameters() == 0 and repr(s) == "FixedSelector(index=2)"
    assert FixedSelector(np.int64(0))(None) == 0
    for bad in (-1, 1.0, True, None, "1"):
        with pytest.raises(ValueError, match="FixedSelector: index must be an int >= 0"):
            FixedSelector(bad)


def test_argmax_selector_per_sample(device):
    s = ArgmaxSelector(4, 3, device=device, dtype=F64)
    p = params_np(s)
    x = rng.standard_normal((8, 4))
    idx = s(on(device, x))
    expected = np.argmax(x @ p["proj.weight"].T + p["proj.bias"], axis=-1)
    assert idx.shape == (8,) and idx.dtype == fl.DType.Int64 and idx.device == device
    np.testing.assert_array_equal(np_of(idx), expected)
    # Unbatched: one index for the whole stream.
    one = s(on(device, x[3]))
    assert one.shape == () and int(one.item()) == expected[3]


def test_argmax_selector_records_no_graph(device):
    s = ArgmaxSelector(4, 3, device=device, dtype=F64)
    x = on(device, rng.standard_normal((3, 4)), requires_grad=True)
    idx = s(x)
    assert not getattr(idx, "requires_grad", False)
    assert getattr(idx, "creator", None) is None


def test_argmax_selector_errors():
    s = ArgmaxSelector(4, 3)
    assert repr(s).startswith("ArgmaxSelector(\n  in_features=4, n=3")
    with pytest.raises(ShapeError, match=r"ArgmaxSelector\(in_features=4, n=3\): expected an "
                                         r"input \[B, 4\] .*got shape \(2, 5, 4\)"):
        s(fl.zeros(2, 5, 4))
    with pytest.raises(ShapeError, match=r"ArgmaxSelector.*Linear\(4 -> 3\).*\(2, 5\)"):
        s(fl.zeros(2, 5))
    with pytest.raises(ShapeError, match="ArgmaxSelector.*got shape \\(\\)"):
        s(fl.tensor(1.0))


# ---------------------------------------------------------- halt conditions


def test_threshold_halt_per_sample(device):
    h = ThresholdHalt(0.5)
    x2 = rng.standard_normal((4, 3))
    np.testing.assert_allclose(np_of(h(on(device, x2))), x2.max(1) - 0.5, rtol=1e-12)
    x3 = rng.standard_normal((4, 2, 3))
    out = h(on(device, x3))
    assert out.shape == (4,) and out.device == device
    np.testing.assert_allclose(np_of(out), x3.reshape(4, -1).max(1) - 0.5, rtol=1e-12)
    x1 = np.array([0.2, 0.7, 0.5])   # 1-D: one value per sample
    np.testing.assert_allclose(np_of(h(on(device, x1))), x1 - 0.5, rtol=1e-12)
    assert (np_of(h(on(device, x1))) > 0).tolist() == [False, True, False]
    ints = h(on(device, [[1, 3], [0, 0]], dtype=np.int64))   # integer states work too
    np.testing.assert_allclose(np_of(ints), [2.5, -0.5])


def test_threshold_halt_carries_no_gradient(device):
    x = on(device, rng.standard_normal((2, 3)), requires_grad=True)
    out = ThresholdHalt(0.0)(x)
    assert not out.requires_grad and out.creator is None
    assert ThresholdHalt(1.0).num_parameters() == 0


def test_threshold_halt_errors_and_repr():
    h = ThresholdHalt(2)
    assert h.threshold == 2.0 and repr(h) == "ThresholdHalt(threshold=2.0)"
    with pytest.raises(ShapeError, match=r"ThresholdHalt\(threshold=2.0\): expected a state "
                                         r"with a batch dim .*0-d state of shape \(\)"):
        h(fl.tensor(3.0))
    with pytest.raises(ShapeError, match=r"ThresholdHalt.*no elements per sample.*\(2, 0\)"):
        h(fl.zeros(2, 0))
    with pytest.raises(TypeError, match="ThresholdHalt.*state must be a Tensor"):
        h([1.0, 2.0])
    for bad in (float("nan"), True, "1", None):
        with pytest.raises(ValueError, match="ThresholdHalt: threshold must be a real"):
            ThresholdHalt(bad)


def test_learned_halt_values(device):
    h = LearnedHalt(4, device=device, dtype=F64)
    assert [(n, p.shape) for n, p in h.named_parameters()] == [
        ("proj.weight", (1, 4)), ("proj.bias", (1,))]
    assert h.num_parameters() == 5 and h.proj.weight.device == device
    p = params_np(h)
    x = rng.standard_normal((6, 4))
    out = h(on(device, x))
    assert out.shape == (6,) and out.device == device
    np.testing.assert_allclose(np_of(out), x @ p["proj.weight"][0] + p["proj.bias"][0],
                               rtol=1e-12)
    assert h(on(device, x[0])).shape == ()


def test_learned_halt_init_matches_linear():
    fl.manual_seed(9)
    h = LearnedHalt(7)
    fl.manual_seed(9)
    ref = nn.Linear(7, 1)
    np.testing.assert_array_equal(np_of(h.proj.weight), np_of(ref.weight))
    np.testing.assert_array_equal(np_of(h.proj.bias), np_of(ref.bias))


def test_learned_halt_gradient(device):
    h = LearnedHalt(3, device=device, dtype=F64)
    x = on(device, rng.standard_normal((4, 3)), requires_grad=True)
    assert fl.gradcheck(h, [x])
    # Parameter gradients of sum(halt(x)): d/dw = sum of rows, d/db = B.
    h.zero_grad()
    h(x).sum().backward()
    np.testing.assert_allclose(np_of(h.proj.weight.grad), np_of(x).sum(0, keepdims=True),
                               rtol=1e-12)
    np.testing.assert_allclose(np_of(h.proj.bias.grad), [4.0])


def test_learned_halt_errors_and_repr():
    h = LearnedHalt(4)
    assert repr(h).startswith("LearnedHalt(\n  in_features=4\n  (proj): Linear(")
    with pytest.raises(ShapeError, match=r"LearnedHalt\(in_features=4\): Linear\(4 -> 1\): "
                                         r"input last dim must be 4, got shape \(3, 2\)"):
        h(fl.zeros(3, 2))
    with pytest.raises(ShapeError, match=r"LearnedHalt\(in_features=4\): expected a state "
                                         r"\[B, 4\].*\(3, 2, 4\)"):
        h(fl.zeros(3, 2, 4))
    with pytest.raises(ValueError, match="LearnedHalt: in_features must be an int >= 1"):
        LearnedHalt(0)
