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
