"""Optimizer API: groups, learning rates, skipping, state_dict resume, master
weights, allocation-free steps, validation, and convergence on small problems."""
import tracemalloc

import numpy as np
import pytest

import flodl_core as fl
from flodl_core.optim import OPTIMIZERS

ALL = sorted(OPTIMIZERS)


def _make(name, params, **kw):
    return OPTIMIZERS[name](params, **kw)


def _params(device=fl.Device.CPU, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    return [fl.nn.Parameter(fl.tensor(rng.standard_normal(s).astype(dtype), device=device))
            for s in [(4, 3), (3,), (2, 2, 2)]]


def _set_grads(params, seed):
    rng = np.random.default_rng(seed)
    for p in params:
        p.grad = fl.tensor(rng.standard_normal(p.shape).astype(p.to_numpy().dtype),
                           device=p.device)


# ----------------------------------------------------------------- groups / lr
def test_builder_groups_take_their_own_lr_and_overrides():
    a, b = _params()[:2]
    opt = fl.Adam.with_groups(betas=(0.8, 0.99)).group([a], 1e-4).group(
        [b], lr=1e-2, eps=1e-3).build()
    assert [g["lr"] for g in opt.param_groups] == [1e-4, 1e-2]
    assert opt.param_groups[0]["betas"] == (0.8, 0.99)
    assert opt.param_groups[1]["eps"] == 1e-3 and opt.param_groups[0]["eps"] == 1e-8
    # Group 0's update uses lr 1e-4: the first Adam step moves each value by ~lr.
    a0, b0 = a.to_numpy().copy(), b.to_numpy().copy()
    _set_grads([a, b], 1)
    opt.step()
    np.testing.assert_allclose(np.abs(a.to_numpy() - a0), 1e-4, rtol=1e-2)
    assert np.all(np.abs(b.to_numpy() - b0) < 1e-2)


def test_builder_group_without_lr_uses_default():
    a = _params()[0]
    opt = fl.SGD.with_groups().group([a]).build()
    assert opt.lr == fl.SGD.defaults["lr"]


def test_set_lr_set_group_lr_scale_lr():
    a, b, c = _params()
    opt = fl.SGD.with_groups(momentum=0.9).group([a], 0.1).group([b, c], 0.2).build()
    assert opt.lr == 0.1
    opt.set_group_lr(1, 0.05)
    assert opt.group_lr(1) == 0.05 and opt.group_lr(0) == 0.1
    opt.scale_lr(0.5)
    assert [g["lr"] for g in opt.param_groups] == [0.05, 0.025]
    opt.set_lr(1e-3)
    assert [g["lr"] for g in opt.param_groups] == [1e-3, 1e-3]
    with pytest.raises(IndexError, match="group 5"):
        opt.set_group_lr(5, 0.1)
    with pytest.raises(ValueError, match="lr"):
        opt.set_lr(-1.0)


def test_builder_without_groups_and_duplicate_parameters_are_errors():
    a, b = _params()[:2]
    with pytest.raises(ValueError, match="at least one group"):
        fl.Adam.with_groups().build()
    with pytest.raises(ValueError, match="one group only"):
        fl.Adam.with_groups().group([a, b]).group([b]).build()


@pytest.mark.parametrize("make, match", [
    (lambda ps: fl.Adam(ps, lr=-1.0), "lr"),
    (lambda ps: fl.Adam(ps, betas=(1.0, 0.9)), "beta1"),
    (lambda ps: fl.Adam(ps, betas=0.9), "pair"),
    (lambda ps: fl.SGD(ps, 0.1, nesterov=True), "Nesterov"),
    (lambda ps: fl.SGD(ps, 0.1, momentum=-0.5), "momentum"),
    (lambda ps: fl.RMSprop(ps, eps=-1.0), "eps"),
    (lambda ps: fl.Adagrad(ps, lr_decay=-1.0), "lr_decay"),
    (lambda ps: fl.Adam.with_groups().group(ps, 0.1, bogus=1).build(), "bogus"),
    (lambda ps: fl.SGD([], 0.1), "empty"),
])
def test_bad_hyper_parameters_raise_naming_the_optimizer(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make(_params())


def test_non_leaf_and_integer_parameters_are_refused():
    p = _params()[0]
    with pytest.raises(ValueError, match="leaf"):
        fl.SGD([p * 2], 0.1)
    with pytest.raises(TypeError, match="floating"):
        fl.SGD([fl.Variable(fl.tensor([1, 2]))], 0.1)
    with pytest.raises(TypeError, match="Parameters"):
        fl.SGD([np.zeros(3)], 0.1)


def test_accepts_a_module():
    model = fl.Linear(3, 2)
    opt = fl.SGD(model, 0.1)
    assert len(opt.parameters()) == 2


# ----------------------------------------------------------- stepping rules
@pytest.mark.parametrize("name", ALL)
def test_parameters_without_grad_are_skipped_and_keep_state(name, device):
    a, b, c = _params(device)
    opt = _make(name, [a, b, c])
    _set_grads([a, b, c], 1)
    opt.step()
    b_before = b.to_numpy().copy()
    state_before = {k: (v.copy() if hasattr(v, "copy") else v)
                    for k, v in opt.state_dict()["state"][1].items()}
    b.grad = None
    c.freeze()                     # frozen: grad dropped
    _set_grads([a], 2)
    opt.step()
    np.testing.assert_array_equal(b.to_numpy(), b_before)
    after = opt.state_dict()["state"][1]
    for k, v in state_before.items():
        np.testing.assert_array_equal(np.asarray(after[k]), np.asarray(v))


@pytest.mark.parametrize("name", ALL)
def test_step_never_mutates_the_gradient(name, device):
    params = _params(device)
    opt = _make(name, params, weight_decay=0.1) if name != "AdamW" else _make(name, params)
    # Two parameters share one gradient array, as the engine may arrange.
    shared = fl.tensor(np.ones((3,), np.float32), device=device)
    params[1].grad = shared
    params[0].grad = fl.tensor(np.ones((4, 3), np.float32), device=device)
    for _ in range(3):
        opt.step()
    np.testing.assert_array_equal(shared.to_numpy(), np.ones(3, np.float32))
    np.testing.assert_array_equal(params[1].grad.to_numpy(), np.ones(3, np.float32))


def test_zero_grad_to_none_and_to_zeros_without_touching_shared_arrays():
    a, b = _params()[:2]
    opt = fl.SGD([a, b], 0.1)
    g = fl.tensor(np.full((3,), 5.0, np.float32))
    b.grad = g
    opt.zero_grad(set_to_none=False)
    assert a.grad is None
    np.testing.assert_array_equal(b.grad.to_numpy(), 0.0)
    np.testing.assert_array_equal(g.to_numpy(), 5.0)
    opt.zero_grad()
    assert b.grad is None


def test_adagrad_creates_every_state_at_construction_as_torch():
    # torch.optim.Adagrad fills step 0 and sum = initial_accumulator_value in __init__,
    # so its state_dict lists parameters that never had a gradient.
    a, b = _params()[:2]
    opt = fl.Adagrad([a, b], 0.1, initial_accumulator_value=0.25)
    state = opt.state_dict()["state"]
    assert sorted(state) == [0, 1] and state[1]["step"] == 0
    np.testing.assert_array_equal(state[1]["sum"], np.full(b.shape, 0.25, np.float32))
    a.grad = fl.tensor(np.ones(a.shape, np.float32))
    opt.step()
    assert opt.state_dict()["state"][0]["step"] == 1 and opt.state_dict()["state"][1]["step"] == 0


def test_closure_is_evaluated_with_grad_enabled():
    p = fl.nn.Parameter(fl.tensor([3.0]))
    opt = fl.SGD([p], 0.5)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    with fl.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 9.0
    assert p.tolist() == [0.0]          # 3 - 0.5 * 6


# ------------------------------------------------------------- state_dict
@pytest.mark.parametrize("name", ALL)
def test_resume_from_state_dict_is_bit_identical(name, device):
    kwargs = {"SGD": dict(lr=0.1, momentum=0.9), "RMSprop": dict(momentum=0.5, centered=True),
              "Adam": dict(amsgrad=True)}.get(name, {})
    params = _params(device)
    opt = _make(name, params, **kwargs)
    for s in range(3):
        _set_grads(params, s)
        opt.step()
    saved_weights = [p.to_numpy().copy() for p in params]
    saved = opt.state_dict()
    for s in range(3, 6):
        _set_grads(params, s)
        opt.step()
    uninterrupted = [p.to_numpy().copy() for p in params]

    resumed = [fl.nn.Parameter(fl.tensor(w, device=device)) for w in saved_weights]
    opt2 = _make(name, resumed, **kwargs)
    opt2.load_state_dict(saved)
    for s in range(3, 6):
        _set_grads(resumed, s)
        opt2.step()
    for a, b in zip(uninterrupted, resumed):
        np.testing.assert_array_equal(a, b.to_numpy())


def test_state_dict_is_plain_numpy_and_numbers_and_a_copy():
    params = _params()
    opt = fl.Adam(params, 1e-2)
    _set_grads(params, 0)
    opt.step()
    sd = opt.state_dict()
    assert sd["param_groups"][0]["params"] == [0, 1, 2]
    st = sd["state"][0]
    assert isinstance(st["exp_avg"], np.ndarray) and isinstance(st["step"], int)
    before = st["exp_avg"].copy()
    opt.step()
    np.testing.assert_array_equal(st["exp_avg"], before)


def test_load_state_dict_restores_hyper_parameters():
    params = _params()
    opt = fl.Adam(params, 1e-2)
    opt.set_lr(0.5)
    sd = opt.state_dict()
    opt2 = fl.Adam(_params(), 1e-3)
    opt2.load_state_dict(sd)
    assert opt2.lr == 0.5


def test_bad_state_dict_is_refused_and_changes_nothing():
    params = _params()
    opt = fl.Adam(params, 1e-2)
    _set_grads(params, 0)
    opt.step()
    good = opt.state_dict()
    before = opt.state_dict()

    bad = opt.state_dict()
    bad["state"][2]["exp_avg"] = np.zeros((9, 9), np.float32)
    bad["param_groups"][0]["lr"] = 123.0
    with pytest.raises(ValueError, match=r"exp_avg.*\(9, 9\)"):
        opt.load_state_dict(bad)
    bad = opt.state_dict()
    del bad["state"][1]["exp_avg_sq"]
    with pytest.raises(ValueError, match="exp_avg_sq"):
        opt.load_state_dict(bad)
    with pytest.raises(ValueError, match="group"):
        opt.load_state_dict({"state": {}, "param_groups": good["param_groups"] * 2})
    with pytest.raises(ValueError, match="'state'"):
        opt.load_state_dict({"nonsense": 1})
    after = opt.state_dict()
    assert after["param_groups"] == before["param_groups"]
    for i in before["state"]:
        for k, v in before["state"][i].items():
            np.testing.assert_array_equal(np.asarray(after["state"][i][k]), np.asarray(v))


# ------------------------------------------------------------ master weights
def test_master_weights_keep_updates_smaller_than_half_precision():
    # 1.0 in float16 has a spacing of ~1e-3; updates of 1e-4 are rounded away
    # unless a float32 master copy accumulates them.
    w0 = np.ones(8, np.float16)
    plain = fl.nn.Parameter(fl.tensor(w0))
    master = fl.nn.Parameter(fl.tensor(w0))
    opt_plain = fl.SGD([plain], 1e-4)
    opt_master = fl.SGD([master], 1e-4, master_weights=True)
    for _ in range(100):
        for p, opt in ((plain, opt_plain), (master, opt_master)):
            p.grad = fl.tensor(np.ones(8, np.float16))
            opt.step()
    assert plain.dtype == fl.DType.Float16 and master.dtype == fl.DType.Float16
    np.testing.assert_array_equal(plain.to_numpy(), 1.0)
    # float32 master: 1 - 100 * 1e-4 = 0.99, then rounded to float16
    np.testing.assert_array_equal(master.to_numpy(), np.float16(np.float32(1) - np.float32(
        sum([np.float32(1e-4)] * 100))))
    assert opt_master.state_dict()["state"][0]["master_weight"].dtype == np.float32


@pytest.mark.parametrize("half", [fl.DType.Float16, fl.DType.BFloat16])
def test_master_weight_adam_equals_float32_adam_rounded(half):
    rng = np.random.default_rng(3)
    w0 = rng.standard_normal(16).astype(np.float32)
    half_np = half.numpy
    w0 = w0.astype(half_np).astype(np.float32)       # representable start
    p32 = fl.nn.Parameter(fl.tensor(w0))
    ph = fl.nn.Parameter(fl.tensor(w0.astype(half_np)))
    o32 = fl.Adam([p32], 1e-3)
    oh = fl.Adam([ph], 1e-3, master_weights=True)
    for s in range(5):
        g = rng.standard_normal(16).astype(half_np)
        p32.grad = fl.tensor(g.astype(np.float32))
        ph.grad = fl.tensor(g)
        o32.step()
        oh.step()
    np.testing.assert_array_equal(ph.to_numpy(), p32.to_numpy().astype(half_np))


# --------------------------------------------------------------- allocation
@pytest.mark.parametrize("name", ALL)
def test_step_allocates_nothing_proportional_to_the_parameters(name):
    rng = np.random.default_rng(0)
    params = [fl.nn.Parameter(fl.tensor(rng.standard_normal((256, 256)).astype(np.float32)))
              for _ in range(8)]
    kwargs = {"SGD": dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1),
              "RMSprop": dict(momentum=0.5, centered=True, weight_decay=0.1),
              "Adam": dict(amsgrad=True, weight_decay=0.1)}.get(name, {})
    opt = _make(name, params, **kwargs)
    for p in params:
        p.grad = fl.tensor(rng.standard_normal((256, 256)).astype(np.float32))
    opt.step()                   # creates the state and the workspaces
    tracemalloc.start()
    try:
        opt.step()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    one_tensor = 256 * 256 * 4
    assert peak < one_tensor // 4, f"{name} step allocated {peak} bytes"


# --------------------------------------------------------------- convergence
def _regression_data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((128, 4)).astype(np.float32)
    w = np.array([[1.5], [-2.0], [0.5], [3.0]], np.float32)
    y = x @ w + 0.25
    return fl.tensor(x), fl.tensor(y)


def _classification_data():
    rng = np.random.default_rng(1)
    centers = np.array([[2, 0], [-2, 0], [0, 2.5]], np.float32)
    labels = rng.integers(0, 3, 300)
    x = centers[labels] + 0.6 * rng.standard_normal((300, 2)).astype(np.float32)
    return fl.tensor(x), fl.tensor(labels.astype(np.int64))


SETTINGS = {"SGD": dict(lr=0.05, momentum=0.9), "Adam": dict(lr=0.02),
            "AdamW": dict(lr=0.02), "RMSprop": dict(lr=0.01, momentum=0.5), "Adagrad": dict(lr=0.2),
            "RAdam": dict(lr=0.05), "NAdam": dict(lr=0.02)}


@pytest.mark.parametrize("name", ALL)
def test_converges_on_linear_regression(name):
    fl.manual_seed(0)
    x, y = _regression_data()
    model = fl.Linear(4, 1)
    opt = _make(name, model.parameters(), **SETTINGS[name])
    first = None
    for _ in range(300):
        opt.zero_grad()
        loss = fl.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        first = first if first is not None else loss.item()
    assert loss.item() < 1e-2 * first and loss.item() < 0.05


@pytest.mark.parametrize("name", ALL)
def test_converges_on_classification(name):
    fl.manual_seed(0)
    x, labels = _classification_data()
    model = fl.nn.ModuleList([fl.Linear(2, 16), fl.Tanh(), fl.Linear(16, 3)])
    opt = _make(name, model.parameters(), **SETTINGS[name])
    for _ in range(150):
        opt.zero_grad()
        h = x
        for layer in model:
            h = layer(h)
        loss = fl.cross_entropy_loss(h, labels)
        loss.backward()
        opt.step()
    accuracy = float((h.to_numpy().argmax(1) == labels.to_numpy()).mean())
    assert accuracy > 0.95, (name, loss.item(), accuracy)


# ------------------------------------------------------------- add_param_group
# Per optimizer: the constructor's options and the added group's overrides.
ADD_GROUP = {
    "SGD": (dict(lr=0.05, momentum=0.9), dict(lr=0.02, weight_decay=0.1, dampening=0.2)),
    "Adam": (dict(lr=0.01, betas=(0.8, 0.99)), dict(lr=0.003, weight_decay=0.1, amsgrad=True)),
    "AdamW": (dict(lr=0.01), dict(lr=0.003, weight_decay=0.5)),
    "NAdam": (dict(lr=0.01), dict(lr=0.004, weight_decay=0.1, betas=(0.8, 0.99))),
    "RAdam": (dict(lr=0.01), dict(lr=0.005, weight_decay=0.1, decoupled_weight_decay=True)),
    "RMSprop": (dict(lr=0.01, momentum=0.5), dict(lr=0.002, centered=True, weight_decay=0.1)),
    "Adagrad": (dict(lr=0.1, initial_accumulator_value=0.2),
                dict(lr=0.05, lr_decay=0.1, initial_accumulator_value=0.5)),
}


def _fresh(device=fl.Device.CPU, dtype=np.float32):
    """Two independent copies of the same three parameters."""
    return _params(device, dtype), _params(device, dtype)


def _weights(params):
    return [p.to_numpy().copy() for p in params]


@pytest.mark.parametrize("name", ALL)
def test_add_param_group_mid_training_equals_both_groups_from_the_start(name, device):
    """Group 1 added after K steps follows, bit for bit, an optimizer that held it from
    the start and got no gradient for it until then (no state, no update); group 0's
    trajectory is unchanged by the addition."""
    base, extra = ADD_GROUP[name]
    (a, b, c), (a2, b2, c2) = _fresh(device)
    added = _make(name, [a], **base)
    upfront = _make(name, [{"params": [a2]}, {"params": [b2, c2], **extra}], **base)
    K = 3
    for s in range(8):
        if s == K:
            added.add_param_group({"params": [b, c], **extra})
        live = [a, b, c] if s >= K else [a]
        _set_grads(live, s)
        _set_grads([a2, b2, c2][:len(live)], s)
        added.step()
        upfront.step()
        for p, q in zip([a, b, c], [a2, b2, c2]):
            np.testing.assert_array_equal(p.to_numpy(), q.to_numpy(), err_msg=f"step {s}")
    assert added.param_groups[1]["lr"] == extra["lr"]
    assert len(added.parameters()) == 3
    sd, ref = added.state_dict(), upfront.state_dict()
    assert sd["param_groups"] == ref["param_groups"]
    assert sorted(sd["state"]) == sorted(ref["state"]) == [0, 1, 2]
    for i in ref["state"]:
        for k, v in ref["state"][i].items():
            np.testing.assert_array_equal(np.asarray(sd["state"][i][k]), np.asarray(v))


def test_add_param_group_first_step_by_hand():
    """SGD and Adam's first update of an added group, from the formulas."""
    a, b = _params()[:2]
    opt = fl.SGD([a], 0.1, momentum=0.9)
    _set_grads([a], 0)
    opt.step()
    opt.add_param_group({"params": b, "lr": 0.5, "weight_decay": 0.1})
    w0 = b.to_numpy().copy()
    _set_grads([a, b], 1)
    g = b.grad.to_numpy()
    opt.step()
    # momentum buffer starts as the gradient: w - lr * (g + wd * w)
    np.testing.assert_allclose(b.to_numpy(), w0 - 0.5 * (g + 0.1 * w0), rtol=1e-6)
    np.testing.assert_array_equal(opt.state_dict()["state"][1]["momentum_buffer"],
                                  g + np.float32(0.1) * w0)

    a, b = _params()[:2]
    opt = fl.Adam([a], 1e-2)
    for s in range(4):
        _set_grads([a], s)
        opt.step()
    opt.add_param_group({"params": [b], "lr": 0.25, "eps": 0.5})
    w0 = b.to_numpy().copy()
    _set_grads([a, b], 9)
    g = b.grad.to_numpy().astype(np.float64)
    opt.step()
    # step 1 of b: m_hat = g, v_hat = g * g  ->  w - lr * g / (|g| + eps)
    np.testing.assert_allclose(b.to_numpy(), w0 - 0.25 * g / (np.abs(g) + 0.5), rtol=1e-6)
    st = opt.state_dict()["state"]
    assert st[1]["step"] == 1 and st[0]["step"] == 5


def test_add_param_group_takes_the_constructors_values_as_defaults():
    a, b, c = _params()
    opt = fl.Adam([a], lr=0.01, betas=(0.8, 0.9), weight_decay=0.2)
    assert opt.defaults == dict(fl.Adam.defaults, lr=0.01, betas=(0.8, 0.9), weight_decay=0.2)
    assert fl.Adam.defaults["lr"] == 1e-3          # the class defaults are untouched
    opt.add_param_group({"params": [b]})
    opt.add_param_group({"params": [c], "lr": 0.5, "betas": (0.5, 0.6)})
    g1, g2 = opt.param_groups[1:]
    assert {k: v for k, v in g1.items() if k != "params"} == opt.defaults
    assert g2["lr"] == 0.5 and g2["betas"] == (0.5, 0.6) and g2["weight_decay"] == 0.2
    assert g1["params"] == [b] and g2["params"] == [c]
    # with_groups(**defaults) are the defaults, not the first group's options
    opt = fl.SGD.with_groups(momentum=0.9).group([a], 0.3).build()
    opt.add_param_group({"params": [b]})
    assert opt.param_groups[1]["lr"] == fl.SGD.defaults["lr"]
    assert opt.param_groups[1]["momentum"] == 0.9
    # a Module, a single Parameter, a generator
    model = fl.Linear(3, 2)
    opt = fl.SGD([a], 0.1)
    opt.add_param_group({"params": model})
    opt.add_param_group({"params": b})
    opt.add_param_group({"params": (p for p in [c])})
    assert [len(g["params"]) for g in opt.param_groups] == [1, 2, 1, 1]


def test_add_param_group_errors_change_nothing():
    a, b, c = _params()
    opt = fl.SGD([a, b], 0.1, momentum=0.9)
    _set_grads([a, b], 0)
    opt.step()
    before = opt.state_dict()
    bad = [
        ({"params": [b]}, ValueError, r"more than one parameter group \(group 0 and group 1\)"),
        ({"params": [c, a]}, ValueError, "one group only"),
        ({"params": [c, c]}, ValueError, "more than one parameter group"),
        ({"lr": 0.1}, ValueError, "group 1 has no 'params'"),
        ([c], TypeError, "must be a dict"),
        ({"params": [c], "bogus": 1}, TypeError, "bogus"),
        ({"params": [c], "lr": -1.0}, ValueError, r"add_param_group \(group 1\): lr"),
        ({"params": [c], "nesterov": True, "momentum": 0.0}, ValueError, "Nesterov"),
        ({"params": [c * 2]}, ValueError, "leaf"),
        ({"params": [np.zeros(3)]}, TypeError, "Parameters"),
    ]
    for group, exc, match in bad:
        with pytest.raises(exc, match=match):
            opt.add_param_group(group)
    assert len(opt.param_groups) == 1 and len(opt._states) == 1
    assert opt.state_dict()["param_groups"] == before["param_groups"]
    with pytest.raises(ValueError, match="beta1"):
        fl.Adam([a]).add_param_group({"params": [c], "betas": (1.0, 0.9)})
    with pytest.raises(ValueError, match="lr_decay"):
        fl.Adagrad([a]).add_param_group({"params": [c], "lr_decay": -1.0})
    # torch allows an empty group (it steps nothing)
    opt.add_param_group({"params": []})
    opt.step()
    assert opt.state_dict()["param_groups"][1]["params"] == []


def test_learning_rate_setters_see_an_added_group():
    a, b = _params()[:2]
    opt = fl.SGD([a], 0.1)
    opt.add_param_group({"params": [b], "lr": 0.2})
    opt.set_group_lr(1, 0.05)
    assert opt.group_lr(1) == 0.05 and opt.group_lr(-1) == 0.05 and opt.group_lr(0) == 0.1
    opt.scale_lr(0.5)
    assert [g["lr"] for g in opt.param_groups] == [0.05, 0.025]
    opt.set_lr(1e-3)
    assert [g["lr"] for g in opt.param_groups] == [1e-3, 1e-3]
    assert "group 1" in repr(opt)


def test_adagrad_add_param_group_creates_the_state_at_once():
    a, b, c = _params()
    opt = fl.Adagrad([a], 0.1, initial_accumulator_value=0.25)
    _set_grads([a], 0)
    opt.step()
    opt.add_param_group({"params": [b, c], "initial_accumulator_value": 0.5})
    state = opt.state_dict()["state"]
    assert sorted(state) == [0, 1, 2]
    assert state[0]["step"] == 1 and state[1]["step"] == 0 and state[2]["step"] == 0
    np.testing.assert_array_equal(state[2]["sum"], np.full(c.shape, 0.5, np.float32))


@pytest.mark.parametrize("name", ALL)
def test_state_dict_and_state_file_round_trip_with_an_added_group(name, tmp_path):
    base, extra = ADD_GROUP[name]
    params = _params()
    opt = _make(name, params[:1], **base)
    _set_grads(params[:1], 0)
    opt.step()
    opt.add_param_group({"params": params[1:], **extra})
    for s in range(1, 4):
        _set_grads(params, s)
        opt.step()
    saved_weights = _weights(params)
    saved = opt.state_dict()
    assert len(saved["param_groups"]) == 2 and saved["param_groups"][1]["params"] == [1, 2]
    opt.save_state(tmp_path / "opt.h5")
    for s in range(4, 7):
        _set_grads(params, s)
        opt.step()
    uninterrupted = _weights(params)

    for how in ("state_dict", "file"):
        resumed = [fl.nn.Parameter(fl.tensor(w)) for w in saved_weights]
        opt2 = _make(name, resumed[:1], **base)
        with pytest.raises(ValueError, match="group"):      # one group too few
            opt2.load_state_dict(saved)
        opt2.add_param_group({"params": resumed[1:]})       # hyper-parameters come back
        if how == "state_dict":
            opt2.load_state_dict(saved)
        else:
            opt2.load_state(tmp_path / "opt.h5")
        assert opt2.state_dict()["param_groups"] == saved["param_groups"]
        for s in range(4, 7):
            _set_grads(resumed, s)
            opt2.step()
        for w, p in zip(uninterrupted, resumed):
            np.testing.assert_array_equal(w, p.to_numpy(), err_msg=how)


@pytest.mark.parametrize("name", ["SGD", "Adam", "Adagrad"])
def test_added_half_precision_group_gets_master_weights(name):
    rng = np.random.default_rng(5)
    w0 = rng.standard_normal(16).astype(np.float16).astype(np.float32)
    anchor32, anchorh = (fl.nn.Parameter(fl.tensor(np.ones(2, dt)))
                         for dt in (np.float32, np.float16))
    p32 = fl.nn.Parameter(fl.tensor(w0))
    ph = fl.nn.Parameter(fl.tensor(w0.astype(np.float16)))
    kw = dict(lr=1e-3, momentum=0.9) if name == "SGD" else dict(lr=1e-3)
    o32 = _make(name, [anchor32], **kw)
    oh = _make(name, [anchorh], master_weights=True, **kw)
    o32.add_param_group({"params": [p32], "lr": 2e-3})
    oh.add_param_group({"params": [ph], "lr": 2e-3})
    if name == "Adagrad":                   # state (and master copy) at once
        assert oh.state_dict()["state"][1]["master_weight"].dtype == np.float32
    for _ in range(5):
        g = rng.standard_normal(16).astype(np.float16)
        p32.grad = fl.tensor(g.astype(np.float32))
        ph.grad = fl.tensor(g)
        o32.step()
        oh.step()
    assert ph.dtype == fl.DType.Float16
    assert oh.state_dict()["state"][1]["master_weight"].dtype == np.float32
    np.testing.assert_array_equal(ph.to_numpy(), p32.to_numpy().astype(np.float16))


def test_step_after_add_param_group_allocates_nothing_proportional():
    rng = np.random.default_rng(0)
    small = fl.nn.Parameter(fl.tensor(rng.standard_normal(4).astype(np.float32)))
    big = fl.nn.Parameter(fl.tensor(rng.standard_normal((256, 256)).astype(np.float32)))
    opt = fl.Adam([small], 1e-3, amsgrad=True)
    small.grad = fl.tensor(np.ones(4, np.float32))
    opt.step()
    opt.add_param_group({"params": [big], "weight_decay": 0.1})
    big.grad = fl.tensor(rng.standard_normal((256, 256)).astype(np.float32))
    opt.step()                   # the new state; the workspaces grow to the new size
    tracemalloc.start()
    try:
        opt.step()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 256 * 256 * 4 // 4, f"step allocated {peak} bytes"
