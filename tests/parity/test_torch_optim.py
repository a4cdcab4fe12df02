"""flodl_core.optim against PyTorch: optimizers, schedulers, clipping, GradScaler.

Every expected value here is produced by PyTorch (``torch.optim``,
``torch.optim.lr_scheduler``, ``torch.nn.utils``, ``torch.amp.GradScaler``) run
side by side with flodl on the same inputs; no number comes from flodl itself.
torch is not a test dependency: each test asks for the ``torch`` fixture
(tests/parity/conftest.py), which skips when torch cannot be imported.

How flodl maps onto torch:

* optimizers take the same hyper-parameter names; groups are built with
  ``Optimizer.with_groups()`` (or torch's list of ``{"params": ...}`` dicts) and
  the lr is changed with ``set_lr`` / ``set_group_lr`` / ``param_groups``;
* schedulers are pure functions: flodl's ``sched.lr(t)`` is the lr torch's
  scheduler holds after ``t`` calls to ``step()``; ``PlateauScheduler.observe``
  is ``ReduceLROnPlateau.step(metric)``. ``WarmupScheduler(inner, target, W)``
  (ramp ``target * (t + 1) / W``, then ``inner.lr(t - W)``) is torch's
  ``SequentialLR([LinearLR(start_factor=1/W, total_iters=W-1), inner], [W])``.

Tolerances: optimizer trajectories float64 1e-12 and float32 1e-6 relative (with
that fraction of max(1, largest |value|) as absolute slack: PyTorch's CPU
kernels fuse some multiply-adds, so an element that passes near zero keeps the
last-bit difference of a larger update); schedulers 1e-12; PlateauScheduler
and GradScaler scales exactly.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import flodl_core as fl

from .conftest import to_numpy

RTOL = {np.float64: 1e-12, np.float32: 1e-6}
STEPS = 40
SHAPES = [(3, 4), (5,), (1,)]


def _close(ours, theirs, rtol, what="", floor=1.0):
    """Elementwise ``rtol``, with ``rtol * max(floor, largest |value|)`` as atol: a value
    that an O(1) update carried near zero keeps the rounding of that update."""
    a = np.asarray(to_numpy(ours), dtype=np.float64)
    b = np.asarray(to_numpy(theirs), dtype=np.float64)
    assert a.shape == b.shape, f"{what}: shape {a.shape} != torch {b.shape}"
    scale = max(floor, float(np.max(np.abs(b))) if b.size else 0.0)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * scale, err_msg=what)


def _torch_dtype(torch, dtype):
    return torch.float64 if dtype is np.float64 else torch.float32


# ---------------------------------------------------------------- gradients
# A fixed noise sequence plus a feedback term (the gradient of a separable
# quadratic, computed from each framework's own weights), so errors would show
# up as diverging trajectories. Magnitudes vary by 1e4 and some entries are
# exactly zero (eps and lr_decay paths).
_RNG = np.random.default_rng(20240611)
_W0 = [_RNG.standard_normal(s) for s in SHAPES]
_CURV = [np.abs(_RNG.standard_normal(s)) * 0.5 for s in SHAPES]
_CURV[0][0, 0] = 0.0
_NOISE = []
for _t in range(STEPS):
    _scale = (1e-3, 1.0, 10.0)[_t % 3]
    _step = [_RNG.standard_normal(s) * _scale for s in SHAPES]
    _step[0][0, 0] = 0.0 if _t % 5 else _step[0][0, 0]      # an often-zero coordinate
    _NOISE.append(_step)


def _grad(t, k, w):
    w = np.asarray(w)
    return (_NOISE[t][k] + _CURV[k] * w).astype(w.dtype)


def _pair(torch, dtype, k):
    """The same initial weights as a flodl Parameter and a torch leaf tensor."""
    w = _W0[k].astype(dtype)
    p = fl.nn.Parameter(fl.from_numpy(w.copy()))
    tp = torch.tensor(w.copy(), requires_grad=True)
    return p, tp


def _feed(p, tp, t, k, skip=False):
    """Step ``t``'s gradient for parameter ``k``, each framework from its own weights
    (``skip``: no gradient at all this step)."""
    if skip:
        p.grad = None
        tp.grad = None
        return
    p.grad = fl.from_numpy(_grad(t, k, p.to_numpy()))
    tp.grad = tp.new_tensor(_grad(t, k, tp.detach().numpy()))


# flodl state keys equal torch's; "step" is a number in flodl, a tensor in torch.
def _compare_state(opt, topt, tparams, rtol, what):
    ours = opt.state_dict()["state"]
    for index, tp in enumerate(tparams):
        theirs = {k: v for k, v in topt.state.get(tp, {}).items() if v is not None}
        mine = {k: v for k, v in ours.get(index, {}).items()
                if v is not None and k != "master_weight"}
        if not theirs:
            assert not mine, f"{what}: parameter {index} has state {sorted(mine)}, torch none"
            continue
        assert set(mine) == set(theirs), \
            f"{what}: parameter {index} state keys {sorted(mine)} != torch {sorted(theirs)}"
        for key, ref in theirs.items():
            if key == "step":
                assert float(mine[key]) == float(ref), f"{what}: step"
            elif key == "mu_product":                 # a float32 scalar in torch
                assert float(mine[key]) == pytest.approx(float(ref), rel=1e-7), what
            else:
                _close(mine[key], ref, rtol, f"{what}: state {key} of parameter {index}")


# ============================================================== optimizers
OPT_CASES = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, maximize=True)),
    ("SGD", dict(lr=0.05, weight_decay=0.1, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.05, maximize=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, weight_decay=0.3, amsgrad=True)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, betas=(0.5, 0.9), eps=1e-3, maximize=True)),
    ("NAdam", dict(lr=0.01)),
    ("NAdam", dict(lr=0.01, momentum_decay=0.02, weight_decay=0.1)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, betas=(0.85, 0.99))),
    ("NAdam", dict(lr=0.01, maximize=True, eps=1e-4)),
    # beta2=0.999: rho_t <= 5 for the first steps (un-rectified SGD-like branch), then > 5.
    ("RAdam", dict(lr=0.01)),
    ("RAdam", dict(lr=0.01, weight_decay=0.1)),
    ("RAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, betas=(0.9, 0.99),
                   maximize=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, eps=1e-4, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.8)),
    ("RMSprop", dict(lr=0.01, alpha=0.95, centered=True, momentum=0.7, weight_decay=0.05,
                     maximize=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, initial_accumulator_value=0.5)),
    ("Adagrad", dict(lr=0.1, weight_decay=0.1, eps=1e-3, maximize=True)),
]


def _case_id(case):
    name, kw = case
    return name + "(" + ",".join(f"{k}={v}" for k, v in kw.items()) + ")"


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("case", OPT_CASES, ids=[_case_id(c) for c in OPT_CASES])
def test_optimizer_trajectory_matches_torch(torch, case, dtype):
    name, kw = case
    pairs = [_pair(torch, dtype, k) for k in range(len(SHAPES))]
    params, tparams = [p for p, _ in pairs], [tp for _, tp in pairs]
    opt = getattr(fl, name)(params, **kw)
    topt = getattr(torch.optim, name)(tparams, **kw)
    rtol = RTOL[dtype]
    for t in range(STEPS):
        for k, (p, tp) in enumerate(pairs):
            _feed(p, tp, t, k)
        opt.step()
        topt.step()
        for k, (p, tp) in enumerate(pairs):
            _close(p, tp, rtol, f"{name} step {t} parameter {k}")
    _compare_state(opt, topt, tparams, rtol, name)


def _group_lr(t, base):
    """An lr that changes every step, as a scheduler would."""
    return base * (0.5 + 0.5 * math.cos(t / 7.0)) + base * 0.1


GROUP_CASES = {
    "SGD": (dict(lr=0.05, momentum=0.9), dict(lr=0.02, weight_decay=0.1, dampening=0.2)),
    "Adam": (dict(lr=0.01), dict(lr=0.003, weight_decay=0.1, amsgrad=True)),
    "AdamW": (dict(lr=0.01), dict(lr=0.003, weight_decay=0.5)),
    "NAdam": (dict(lr=0.01), dict(lr=0.004, weight_decay=0.1, betas=(0.8, 0.99))),
    "RAdam": (dict(lr=0.01), dict(lr=0.005, weight_decay=0.1, decoupled_weight_decay=True)),
    "RMSprop": (dict(lr=0.01, momentum=0.5), dict(lr=0.002, centered=True, weight_decay=0.1)),
    "Adagrad": (dict(lr=0.1), dict(lr=0.05, lr_decay=0.1, weight_decay=0.1)),
}


@pytest.mark.parametrize("torch_style", [False, True], ids=["with_groups", "dict_groups"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("name", sorted(GROUP_CASES))
def test_groups_changing_lr_and_missing_gradients_match_torch(torch, name, dtype, torch_style):
    """Two groups with different hyper-parameters, both lrs changed every step,
    and parameters left without a gradient in some steps (torch skips them: no
    update, no weight decay, no state change). Parameter 2 gets its first
    gradient only at step 9, so its state (and step count) starts late."""
    base, override = GROUP_CASES[name]
    pairs = [_pair(torch, dtype, k) for k in range(len(SHAPES))]
    params, tparams = [p for p, _ in pairs], [tp for _, tp in pairs]
    cls = getattr(fl, name)
    if torch_style:
        opt = cls([{"params": params[:1]}, {"params": params[1:], **override}], **base)
    else:
        opt = cls.with_groups(**base).group(params[:1]).group(params[1:], **override).build()
    topt = getattr(torch.optim, name)(
        [{"params": tparams[:1]}, {"params": tparams[1:], **override}], **base)
    rtol = RTOL[dtype]
    lrs = [base["lr"], override["lr"]]
    for t in range(STEPS):
        for i, tg in enumerate(topt.param_groups):
            tg["lr"] = _group_lr(t, lrs[i])
            opt.set_group_lr(i, _group_lr(t, lrs[i]))
        for k, (p, tp) in enumerate(pairs):
            skip = (k == 0 and t % 4 == 3) or (k == 1 and t % 3 == 1) or (k == 2 and t < 9)
            _feed(p, tp, t, k, skip)
        opt.step()
        topt.step()
        for k, (p, tp) in enumerate(pairs):
            _close(p, tp, rtol, f"{name} step {t} parameter {k}")
    _compare_state(opt, topt, tparams, rtol, name)


@pytest.mark.parametrize("name", sorted(GROUP_CASES))
def test_zero_grad_semantics_match_torch(torch, name):
    """zero_grad() (set_to_none) makes the next step a no-op, as in torch;
    zero_grad(set_to_none=False) leaves zero gradients that still step
    (momentum, weight decay, adaptive state, step counts), as in torch."""
    kw = dict(GROUP_CASES[name][0])
    if name != "AdamW":
        kw["weight_decay"] = 0.1
    pairs = [_pair(torch, np.float64, k) for k in range(2)]
    params, tparams = [p for p, _ in pairs], [tp for _, tp in pairs]
    opt = getattr(fl, name)(params, **kw)
    topt = getattr(torch.optim, name)(tparams, **kw)
    for t in range(3):
        for k, (p, tp) in enumerate(pairs):
            _feed(p, tp, t, k)
        opt.step()
        topt.step()

    opt.zero_grad()
    topt.zero_grad()
    for p, tp in pairs:
        assert p.grad is None and tp.grad is None
    before = [p.to_numpy().copy() for p in params]
    opt.step()
    topt.step()
    for p, tp, w in zip(params, tparams, before):
        np.testing.assert_array_equal(p.to_numpy(), w)
        _close(p, tp, 1e-12, f"{name} after a step without gradients")

    # set_to_none=False zeroes existing gradients and leaves missing ones missing.
    opt.zero_grad(set_to_none=False)
    topt.zero_grad(set_to_none=False)
    for p, tp in pairs:
        assert p.grad is None and tp.grad is None
    for t in range(3, 6):
        _feed(*pairs[0], t, 0)
        _feed(*pairs[1], t, 1)
        opt.zero_grad(set_to_none=False)
        topt.zero_grad(set_to_none=False)
        for p, tp in pairs:
            np.testing.assert_array_equal(p.grad.to_numpy(), to_numpy(tp.grad))
            assert not np.any(p.grad.to_numpy())
        opt.step()
        topt.step()
        for k, (p, tp) in enumerate(pairs):
            _close(p, tp, 1e-12, f"{name} zero-gradient step {t} parameter {k}")
    _compare_state(opt, topt, tparams, 1e-12, name)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "NAdam", "RAdam"])
def test_step_with_scheduled_lr_and_cycled_momentum_matches_torch(torch, name):
    """A flodl schedule applied by hand (lr and the cycled momentum or Adam's
    beta1) reproduces torch's optimizer driven by OneCycleLR, then CyclicLR."""
    T = 30
    for make_f, make_t in [
        (lambda: fl.OneCycleLR(0.05, T, pct_start=0.3, three_phase=True),
         lambda o: torch.optim.lr_scheduler.OneCycleLR(o, 0.05, total_steps=T,
                                                       pct_start=0.3, three_phase=True)),
        (lambda: fl.CyclicLR(0.001, 0.05, 4, 6, mode="exp_range", gamma=0.98),
         lambda o: torch.optim.lr_scheduler.CyclicLR(o, 0.001, 0.05, 4, 6,
                                                     mode="exp_range", gamma=0.98)),
    ]:
        kw = dict(lr=0.05, momentum=0.9) if name == "SGD" else dict(lr=0.05)
        pairs = [_pair(torch, np.float64, k) for k in range(2)]
        opt = getattr(fl, name)([p for p, _ in pairs], **kw)
        topt = getattr(torch.optim, name)([tp for _, tp in pairs], **kw)
        sched = make_f()
        tsched = make_t(topt)
        for t in range(T):
            for g in opt.param_groups:
                g["lr"] = sched.lr(t)
                if name == "SGD":
                    g["momentum"] = sched.momentum(t)
                else:
                    g["betas"] = (sched.momentum(t), g["betas"][1])
            for k, (p, tp) in enumerate(pairs):
                _feed(p, tp, t, k)
            opt.step()
            topt.step()
            tsched.step()
            for k, (p, tp) in enumerate(pairs):
                _close(p, tp, 1e-12, f"{name} {type(sched).__name__} step {t} parameter {k}")


# ============================================================== schedulers
N_SCHED = 100


def _torch_lrs(torch, make, n=N_SCHED, opt="SGD"):
    """torch's lr (and momentum / beta1) after 0, 1, ..., n-1 scheduler steps."""
    param = torch.zeros(1, requires_grad=True)
    o = (torch.optim.SGD([param], lr=0.1, momentum=0.9) if opt == "SGD"
         else torch.optim.Adam([param], lr=0.1))
    s = make(o)
    lrs, moms = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for t in range(n):
            g = o.param_groups[0]
            lrs.append(g["lr"])
            moms.append(g["momentum"] if opt == "SGD" else g["betas"][0])
            if t < n - 1:
                o.step()
                s.step()
    return lrs, moms


def _same_sequence(ours, theirs, what, rtol=1e-12):
    np.testing.assert_allclose(np.array(ours), np.array(theirs), rtol=rtol, atol=0,
                               err_msg=what)


@pytest.mark.parametrize("step_size,gamma", [(7, 0.5), (1, 0.9), (30, 0.1), (3, 1.05)])
def test_step_decay_is_step_lr(torch, step_size, gamma):
    theirs, _ = _torch_lrs(torch, lambda o: torch.optim.lr_scheduler.StepLR(o, step_size, gamma))
    sched = fl.StepDecay(0.1, step_size, gamma)
    _same_sequence([sched.lr(t) for t in range(N_SCHED)], theirs, "StepDecay")


@pytest.mark.parametrize("milestones,gamma", [([10, 30, 30, 80], 0.5), ([50, 5], 0.3), ([0], 0.1)])
def test_multistep_lr(torch, milestones, gamma):
    theirs, _ = _torch_lrs(
        torch, lambda o: torch.optim.lr_scheduler.MultiStepLR(o, milestones, gamma))
    sched = fl.MultiStepLR(0.1, milestones, gamma)
    _same_sequence([sched.lr(t) for t in range(N_SCHED)], theirs, "MultiStepLR")


@pytest.mark.parametrize("gamma", [0.95, 0.5, 1.02])
def test_exponential_lr(torch, gamma):
    theirs, _ = _torch_lrs(torch, lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma))
    sched = fl.ExponentialLR(0.1, gamma)
    _same_sequence([sched.lr(t) for t in range(N_SCHED)], theirs, "ExponentialLR")


@pytest.mark.parametrize("T_max,eta_min", [(30, 0.0), (30, 0.01), (100, 1e-4), (7, 0.05),
                                           (1, 0.0), (2, 0.001), (40, 0.2)])
def test_cosine_scheduler_is_cosine_annealing_lr(torch, T_max, eta_min):
    """Over 100 steps, so also past T_max where torch's cosine climbs back up."""
    theirs, _ = _torch_lrs(
        torch, lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max, eta_min))
    sched = fl.CosineScheduler(0.1, eta_min, T_max)
    _same_sequence([sched.lr(t) for t in range(N_SCHED)], theirs, "CosineScheduler")


ONE_CYCLE = [
    dict(),
    dict(anneal_strategy="linear"),
    dict(three_phase=True),
    dict(three_phase=True, anneal_strategy="linear"),
    dict(div_factor=10.0, final_div_factor=100.0, pct_start=0.25),
    dict(pct_start=0.45, three_phase=True, div_factor=5.0, final_div_factor=3.0),
    dict(base_momentum=0.7, max_momentum=0.99, pct_start=0.1),
    dict(pct_start=0.0),
]


@pytest.mark.parametrize("opt", ["SGD", "Adam"])
@pytest.mark.parametrize("total", [100, 37, 3])
@pytest.mark.parametrize("kw", ONE_CYCLE, ids=[str(k) for k in ONE_CYCLE])
def test_one_cycle_lr_and_momentum(torch, kw, total, opt):
    """lr and cycled momentum (SGD momentum, Adam beta1) for steps 0..total:
    torch allows exactly ``total`` calls to step()."""
    theirs, moms = _torch_lrs(
        torch, lambda o: torch.optim.lr_scheduler.OneCycleLR(o, 0.5, total_steps=total, **kw),
        n=total + 1, opt=opt)
    sched = fl.OneCycleLR(0.5, total, **kw)
    _same_sequence([sched.lr(t) for t in range(total + 1)], theirs, "OneCycleLR lr")
    _same_sequence([sched.momentum(t) for t in range(total + 1)], moms, "OneCycleLR momentum")
    with pytest.raises(ValueError):          # torch: "Tried to step ... times"
        sched.lr(total + 1)


CYCLIC = [
    dict(step_size_up=10),
    dict(step_size_up=10, step_size_down=7, mode="triangular2"),
    dict(step_size_up=6, mode="exp_range", gamma=0.97),
    dict(step_size_up=6, step_size_down=13, mode="exp_range", gamma=0.99),
    dict(step_size_up=5, mode="triangular2", base_momentum=0.7, max_momentum=0.95),
    dict(step_size_up=1),
    dict(step_size_up=3, step_size_down=1, mode="exp_range", gamma=0.9),
]


@pytest.mark.parametrize("opt", ["SGD", "Adam"])
@pytest.mark.parametrize("kw", CYCLIC, ids=[str(k) for k in CYCLIC])
def test_cyclic_lr_and_momentum(torch, kw, opt):
    theirs, moms = _torch_lrs(
        torch, lambda o: torch.optim.lr_scheduler.CyclicLR(o, 0.01, 0.1, **kw), opt=opt)
    sched = fl.CyclicLR(0.01, 0.1, **kw)
    _same_sequence([sched.lr(t) for t in range(N_SCHED)], theirs, "CyclicLR lr")
    _same_sequence([sched.momentum(t) for t in range(N_SCHED)], moms, "CyclicLR momentum")


WARMUP_INNER = {
    "step": (lambda L, o: L.StepLR(o, 7, 0.5), lambda: fl.StepDecay(0.1, 7, 0.5)),
    "cosine": (lambda L, o: L.CosineAnnealingLR(o, 50, 0.001),
               lambda: fl.CosineScheduler(0.1, 0.001, 50)),
    "exponential": (lambda L, o: L.ExponentialLR(o, 0.97), lambda: fl.ExponentialLR(0.1, 0.97)),
    "multistep": (lambda L, o: L.MultiStepLR(o, [3, 20, 40], 0.5),
                  lambda: fl.MultiStepLR(0.1, [3, 20, 40], 0.5)),
}


@pytest.mark.parametrize("warmup", [1, 2, 5, 10])
@pytest.mark.parametrize("inner", sorted(WARMUP_INNER))
def test_warmup_is_sequential_linear_lr_then_inner(torch, inner, warmup):
    """WarmupScheduler's documented ramp target * (t + 1) / W is torch's LinearLR
    from 1/W to 1 over W - 1 steps; SequentialLR hands over to the inner
    scheduler (restarted at its step 0) at step W."""
    L = torch.optim.lr_scheduler
    make_t, make_f = WARMUP_INNER[inner]

    def make(o):
        ramp = L.LinearLR(o, start_factor=1.0 / warmup, end_factor=1.0, total_iters=warmup - 1)
        return L.SequentialLR(o, [ramp, make_t(L, o)], milestones=[warmup])

    theirs, _ = _torch_lrs(torch, make)
    sched = fl.WarmupScheduler(make_f(), 0.1, warmup)
    _same_sequence([sched.lr(t) for t in range(N_SCHED)], theirs, "WarmupScheduler")


def test_warmup_of_zero_steps_is_the_inner_schedule(torch):
    theirs, _ = _torch_lrs(torch, lambda o: torch.optim.lr_scheduler.StepLR(o, 7, 0.5))
    sched = fl.WarmupScheduler(fl.StepDecay(0.1, 7, 0.5), 0.1, 0)
    _same_sequence([sched.lr(t) for t in range(N_SCHED)], theirs, "WarmupScheduler(0)")


def _metrics(kind, n=120):
    rng = np.random.default_rng({"noisy": 1, "neg": 2}.get(kind, 0))
    if kind == "noisy":
        return list(1.0 / (1 + 0.05 * np.arange(n)) + 0.02 * rng.standard_normal(n))
    if kind == "flat":
        return [1.0] * n
    if kind == "neg":
        return list(-1.0 - 0.001 * np.arange(n) + 0.01 * rng.standard_normal(n))
    if kind == "nan":
        m = [1.0 / (1 + i) for i in range(n)]
        m[5] = float("nan")
        m[30:40] = [float("nan")] * 10
        return m
    if kind == "staircase":
        return list(np.repeat(np.arange(10, 0, -1) * 1.0, 12))
    if kind == "tiny":
        return list(1.0 - 1e-5 * np.arange(n))
    raise AssertionError(kind)


PLATEAU = [
    dict(),
    dict(patience=2, factor=0.5),
    dict(patience=0, factor=0.5, cooldown=3),
    dict(patience=3, threshold=0.05, threshold_mode="abs", min_lr=1e-3),
    dict(patience=2, threshold=0.0, cooldown=1, factor=0.3, min_lr=0.002),
    dict(patience=1, factor=0.5, eps=0.02),          # cuts smaller than eps are skipped
    dict(patience=5, threshold=0.01, threshold_mode="rel", cooldown=2),
]


@pytest.mark.parametrize("mode", ["min", "max"])
@pytest.mark.parametrize("kind", ["noisy", "flat", "neg", "nan", "staircase", "tiny"])
@pytest.mark.parametrize("kw", PLATEAU, ids=[str(k) for k in PLATEAU])
def test_plateau_scheduler_is_reduce_lr_on_plateau(torch, kw, kind, mode):
    metrics = _metrics(kind)
    if mode == "max":
        metrics = [-m for m in metrics]
    o = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    tsched = torch.optim.lr_scheduler.ReduceLROnPlateau(o, mode=mode, **kw)
    sched = fl.PlateauScheduler(0.1, mode=mode, **kw)
    for i, m in enumerate(metrics):
        o.step()
        tsched.step(m)
        ours = sched.observe(m)
        theirs = o.param_groups[0]["lr"]
        assert ours == theirs == sched.lr(), f"observation {i}: {ours} != torch {theirs}"
        assert sched.num_bad_epochs == tsched.num_bad_epochs
        assert sched.cooldown_counter == tsched.cooldown_counter
        assert sched.best == tsched.best


# ================================================================ clipping
def _grad_pairs(torch, dtype, values):
    params, tparams = [], []
    for v in values:
        v = np.asarray(v, dtype=dtype)
        p = fl.nn.Parameter(fl.from_numpy(np.zeros_like(v)))
        tp = torch.zeros(v.shape, dtype=_torch_dtype(torch, dtype), requires_grad=True)
        if v.size:
            p.grad = fl.from_numpy(v.copy())
            tp.grad = torch.tensor(v.copy())
        params.append(p)
        tparams.append(tp)
    return params, tparams


def _clip_grads(dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) for s in [(3, 4), (5,), (2, 2, 2), (1,)]]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("max_norm", [0.1, 1.0, 1e3])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf, 3.0, 0.5, 0.0, -math.inf])
def test_clip_grad_norm_matches_torch(torch, norm_type, max_norm, dtype):
    params, tparams = _grad_pairs(torch, dtype, _clip_grads(dtype))
    total = fl.clip_grad_norm(params, max_norm, norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(tparams, max_norm, norm_type)
    rtol = RTOL[dtype]
    assert isinstance(total, float)
    assert total == pytest.approx(ttotal.item(), rel=rtol)
    for p, tp in zip(params, tparams):
        _close(p.grad, tp.grad, rtol, f"clip_grad_norm({norm_type}) gradient")


def test_clip_grad_norm_skips_parameters_without_gradient(torch):
    values = _clip_grads(np.float64)
    params, tparams = _grad_pairs(torch, np.float64, values)
    params[1].grad = None
    tparams[1].grad = None
    total = fl.clip_grad_norm(params, 0.5)
    assert total == pytest.approx(torch.nn.utils.clip_grad_norm_(tparams, 0.5).item(), rel=1e-12)
    assert params[1].grad is None and tparams[1].grad is None
    for p, tp in zip(params, tparams):
        if tp.grad is not None:
            _close(p.grad, tp.grad, 1e-12, "clipped gradient")
    assert fl.clip_grad_norm([], 1.0) == torch.nn.utils.clip_grad_norm_([], 1.0).item()


NONFINITE = {
    "inf": [[1.0, 2.0], [3.0, math.inf]],
    "-inf": [[-math.inf, 2.0], [3.0, 4.0]],
    "nan-first": [[1.0, math.nan], [5.0, 0.5]],
    "nan-later": [[5.0, 0.5], [1.0, math.nan]],
    "nan-and-inf": [[math.inf, 0.5], [1.0, math.nan]],
}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf, -math.inf])
@pytest.mark.parametrize("which", sorted(NONFINITE))
def test_clip_grad_norm_nonfinite_matches_torch(torch, which, norm_type):
    values = NONFINITE[which]
    params, tparams = _grad_pairs(torch, np.float32, values)
    total = fl.clip_grad_norm(params, 1.0, norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(tparams, 1.0, norm_type).item()
    assert (math.isnan(total) and math.isnan(ttotal)) or total == pytest.approx(ttotal, rel=1e-6)
    for p, tp in zip(params, tparams):
        np.testing.assert_allclose(p.grad.to_numpy(), to_numpy(tp.grad), rtol=1e-6,
                                   err_msg=f"{which} norm {norm_type}")

    # error_if_nonfinite: both refuse when the total is NaN/Inf and leave the
    # gradients alone. torch raises RuntimeError; flodl's error is also a ValueError.
    params, tparams = _grad_pairs(torch, np.float32, values)
    try:
        torch.nn.utils.clip_grad_norm_(tparams, 1.0, norm_type, error_if_nonfinite=True)
        torch_raised = False
    except RuntimeError:
        torch_raised = True
    if torch_raised:
        with pytest.raises(RuntimeError) as info:
            fl.clip_grad_norm(params, 1.0, norm_type, error_if_nonfinite=True)
        assert isinstance(info.value, ValueError)
    else:
        fl.clip_grad_norm(params, 1.0, norm_type, error_if_nonfinite=True)
    for p, tp in zip(params, tparams):
        np.testing.assert_allclose(p.grad.to_numpy(), to_numpy(tp.grad), rtol=1e-6)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("clip_value", [0.0, 0.3, 1.0, 100.0])
def test_clip_grad_value_matches_torch(torch, clip_value):
    values = _clip_grads(np.float32, seed=5)
    values[1][2] = math.nan
    values[2][0, 0, 0] = -math.inf
    params, tparams = _grad_pairs(torch, np.float32, values)
    magnitudes = [float(tp.grad.abs().max()) for tp in tparams]      # before clipping
    result = fl.clip_grad_value(params, clip_value)
    assert torch.nn.utils.clip_grad_value_(tparams, clip_value) is None
    for p, tp in zip(params, tparams):
        np.testing.assert_array_equal(p.grad.to_numpy(), to_numpy(tp.grad))
    # flodl's return value (torch returns None): the largest magnitude seen; NaN wins.
    assert math.isnan(result) and any(math.isnan(m) for m in magnitudes)

    params, tparams = _grad_pairs(torch, np.float32, _clip_grads(np.float32, seed=6))
    magnitudes = [float(tp.grad.abs().max()) for tp in tparams]
    assert fl.clip_grad_value(params, clip_value) == max(magnitudes)
    torch.nn.utils.clip_grad_value_(tparams, clip_value)
    for p, tp in zip(params, tparams):
        np.testing.assert_array_equal(p.grad.to_numpy(), to_numpy(tp.grad))


# ================================================================ GradScaler
def _scaler_run(torch, settings, bad, steps=40, n_opt=1, unscale_and_clip=False):
    """Train SGD with momentum under both scalers; gradients are ``g * scale``
    with Inf/NaN injected at the steps in ``bad`` (step -> (optimizer, value))."""
    rng = np.random.default_rng(7)
    S = fl.GradScaler(**settings)
    T = torch.amp.GradScaler("cpu", **settings)
    pairs, opts, topts = [], [], []
    for _ in range(n_opt):
        w = rng.standard_normal(6).astype(np.float32)
        p, tp = fl.nn.Parameter(fl.from_numpy(w.copy())), torch.tensor(w.copy(), requires_grad=True)
        pairs.append((p, tp))
        opts.append(fl.SGD([p], lr=0.05, momentum=0.9))
        topts.append(torch.optim.SGD([tp], lr=0.05, momentum=0.9))
    history = []
    for t in range(steps):
        T.scale(torch.ones(()))                   # torch creates its scale lazily here
        assert S.get_scale() == T.get_scale(), f"step {t}: scale"
        for i, (p, tp) in enumerate(pairs):
            g = rng.standard_normal(6)
            if t in bad and bad[t][0] == i:
                g[t % 6] = bad[t][1]
            p.grad = fl.from_numpy((g * S.get_scale()).astype(np.float32))
            tp.grad = torch.tensor((g * T.get_scale()).astype(np.float32))
        for i, (opt, topt) in enumerate(zip(opts, topts)):
            if unscale_and_clip:
                S.unscale(opt)
                T.unscale_(topt)
                fl.clip_grad_norm(opt.parameters(), 1.0)
                torch.nn.utils.clip_grad_norm_(topt.param_groups[0]["params"], 1.0)
            S.step(opt)
            T.step(topt)
        S.update()
        T.update()
        history.append(S.get_scale())
        assert S.get_scale() == T.get_scale(), f"after step {t}: scale"
        sd, tsd = S.state_dict(), T.state_dict()
        assert sd == {k: (v.item() if hasattr(v, "item") else v) for k, v in tsd.items()}
        for i, (p, tp) in enumerate(pairs):
            _close(p, tp, 1e-6, f"step {t} parameters of optimizer {i}")
    return history


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("settings,bad", [
    (dict(growth_interval=3), {2: (0, math.inf), 3: (0, math.nan), 10: (0, -math.inf),
                               11: (0, math.inf), 12: (0, math.nan), 30: (0, math.nan)}),
    (dict(init_scale=8.0, growth_factor=3.0, backoff_factor=0.25, growth_interval=1),
     {0: (0, math.inf), 5: (0, math.nan), 6: (0, math.nan)}),
    (dict(init_scale=1.0, growth_interval=2), {t: (0, math.inf) for t in range(1, 7)}),
    (dict(init_scale=1024.0, growth_factor=1.5, backoff_factor=0.9, growth_interval=4),
     {4: (0, math.inf), 9: (0, math.inf), 17: (0, math.nan)}),
    (dict(init_scale=2.0 ** 126, growth_factor=4.0, growth_interval=2), {9: (0, math.inf)}),
])
def test_grad_scaler_scale_sequence_matches_torch(torch, settings, bad):
    history = _scaler_run(torch, settings, bad)
    assert len(set(history)) > 1            # the scale actually moved


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_grad_scaler_unscale_then_clip_matches_torch(torch):
    _scaler_run(torch, dict(init_scale=256.0, growth_interval=2),
                {3: (0, math.inf), 8: (0, math.nan)}, steps=20, unscale_and_clip=True)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_grad_scaler_two_optimizers_match_torch(torch):
    """An Inf in one optimizer's gradients skips that optimizer only; the update
    backs off for everyone (torch's per-optimizer found_inf)."""
    _scaler_run(torch, dict(init_scale=64.0, growth_interval=2),
                {3: (1, math.inf), 4: (0, math.nan), 9: (1, math.nan)}, steps=20, n_opt=2)


def test_grad_scaler_new_scale_disabled_and_misuse_match_torch(torch):
    p, tp = fl.nn.Parameter(fl.zeros(3)), torch.zeros(3, requires_grad=True)
    opt, topt = fl.SGD([p], lr=0.1), torch.optim.SGD([tp], lr=0.1)
    S, T = fl.GradScaler(init_scale=16.0, growth_interval=3), \
        torch.amp.GradScaler("cpu", init_scale=16.0, growth_interval=3)
    for t in range(2):
        T.scale(torch.ones(()))
        p.grad = fl.from_numpy(np.full(3, 16.0, np.float32))
        tp.grad = torch.full((3,), 16.0)
        S.step(opt)
        T.step(topt)
        S.update()
        T.update()
    # update(new_scale) sets the scale and keeps the growth tracker.
    T.scale(torch.ones(()))
    p.grad = fl.from_numpy(np.ones(3, np.float32))
    tp.grad = torch.ones(3)
    S.unscale(opt)
    T.unscale_(topt)
    with pytest.raises(RuntimeError):
        T.unscale_(topt)
    with pytest.raises(RuntimeError):
        S.unscale(opt)
    S.step(opt)
    T.step(topt)
    with pytest.raises(RuntimeError):
        T.step(topt)
    with pytest.raises(RuntimeError):
        S.step(opt)
    S.update(new_scale=3.0)
    T.update(new_scale=3.0)
    assert S.get_scale() == T.get_scale()
    assert S.state_dict() == {k: (v.item() if hasattr(v, "item") else v)
                              for k, v in T.state_dict().items()}
    _close(p, tp, 1e-7, "parameters")

    off, toff = fl.GradScaler(enabled=False), torch.amp.GradScaler("cpu", enabled=False)
    assert off.get_scale() == toff.get_scale() == 1.0
    assert off.state_dict() == toff.state_dict() == {}


# ============================================================ add_param_group
def _torch_hyper(tgroup, ours):
    """torch's values of the hyper-parameters flodl has (torch adds foreach, fused...)."""
    return {k: (tuple(tgroup[k]) if isinstance(ours[k], tuple) else tgroup[k])
            for k in ours if k != "params"}


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("name", sorted(GROUP_CASES))
def test_add_param_group_mid_training_matches_torch(torch, name, dtype):
    """Parameter 0 trains alone; at step K parameters 1 and 2 join as a second group
    with their own options (the rest from the constructor's), added with
    ``add_param_group`` in both frameworks. Parameters are compared every step, the
    state right after the addition, after the first step of the new group and at
    the end; the lrs of both groups change every step after the addition.

    One known difference: flodl's Adagrad creates the new group's state in
    add_param_group (step 0, sum = initial_accumulator_value), as at construction;
    torch 2.x creates it at the parameter's first step with a gradient. The values
    are the same, so the trajectories are too."""
    base, override = GROUP_CASES[name]
    K = 7
    pairs = [_pair(torch, dtype, k) for k in range(len(SHAPES))]
    params, tparams = [p for p, _ in pairs], [tp for _, tp in pairs]
    opt = getattr(fl, name)(params[:1], **base)
    topt = getattr(torch.optim, name)(tparams[:1], **base)
    rtol = RTOL[dtype]
    lrs = [base["lr"], override["lr"]]
    for t in range(STEPS):
        if t == K:
            opt.add_param_group({"params": params[1:], **override})
            topt.add_param_group({"params": tparams[1:], **override})
            if name == "Adagrad":
                ours = opt.state_dict()["state"]
                for k in (1, 2):
                    assert not topt.state.get(tparams[k]) and ours[k]["step"] == 0
                    np.testing.assert_array_equal(ours[k]["sum"], 0.0)
            else:
                _compare_state(opt, topt, tparams, rtol, f"{name} right after add_param_group")
            for ours, theirs in zip(opt.param_groups, topt.param_groups):
                assert ours == {**_torch_hyper(theirs, ours), "params": ours["params"]}
        if t >= K:
            for i, tg in enumerate(topt.param_groups):
                tg["lr"] = _group_lr(t, lrs[i])
                opt.set_group_lr(i, _group_lr(t, lrs[i]))
        for k, (p, tp) in enumerate(pairs):
            # before K only parameter 0 is optimized; after it parameter 1 skips a step
            _feed(p, tp, t, k, skip=(k > 0 and t < K) or (k == 1 and t % 5 == 3))
        opt.step()
        topt.step()
        for k, (p, tp) in enumerate(pairs):
            _close(p, tp, rtol, f"{name} step {t} parameter {k}")
        if t == K:
            _compare_state(opt, topt, tparams, rtol, f"{name} first step of the new group")
    _compare_state(opt, topt, tparams, rtol, name)
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == \
        [g["params"] for g in tsd["param_groups"]]


@pytest.mark.parametrize("name", sorted(GROUP_CASES))
def test_add_param_group_state_dict_loads_across_frameworks(torch, name):
    """torch's state_dict after add_param_group (converted to NumPy) loads into a flodl
    optimizer given the same groups, and both continue identically."""
    base, override = GROUP_CASES[name]
    pairs = [_pair(torch, np.float64, k) for k in range(len(SHAPES))]
    params, tparams = [p for p, _ in pairs], [tp for _, tp in pairs]
    topt = getattr(torch.optim, name)(tparams[:1], **base)
    _feed(*pairs[0], 0, 0)
    topt.step()
    topt.add_param_group({"params": tparams[1:], **override})
    for t in range(1, 4):
        for k, (p, tp) in enumerate(pairs):
            _feed(p, tp, t, k)
        topt.step()
    for p, tp in pairs:
        p.set_data(fl.from_numpy(tp.detach().numpy().copy()))
    tsd = topt.state_dict()
    state = {i: {k: (float(v) if k in ("step", "mu_product") else to_numpy(v))
                 for k, v in st.items()} for i, st in tsd["state"].items()}
    opt = getattr(fl, name)(params[:1], **base)
    opt.add_param_group({"params": params[1:]})     # options come from the state dict
    opt.load_state_dict({"state": state, "param_groups": tsd["param_groups"]})
    assert opt.param_groups[1]["lr"] == override["lr"]
    for t in range(4, 10):
        for k, (p, tp) in enumerate(pairs):
            _feed(p, tp, t, k)
        opt.step()
        topt.step()
        for k, (p, tp) in enumerate(pairs):
            _close(p, tp, 1e-12, f"{name} resumed step {t} parameter {k}")


def test_add_param_group_duplicate_is_a_value_error_as_in_torch(torch):
    (p, tp), (q, tq) = _pair(torch, np.float64, 0), _pair(torch, np.float64, 1)
    opt, topt = fl.Adam([p]), torch.optim.Adam([tp])
    with pytest.raises(ValueError, match="more than one parameter group"):
        topt.add_param_group({"params": [tq, tp]})
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [q, p]})
    assert len(opt.param_groups) == len(topt.param_groups) == 1
