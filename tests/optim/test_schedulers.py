"""Learning-rate schedulers.

Every pure scheduler is checked for 1,000 steps against a small reference loop
written here from the published update rules (the recursive/"chainable" form
PyTorch's ``get_lr`` uses, or the paper's formula), plus hand-computed values at
phase boundaries. No torch: the references are independent re-derivations.
"""
import math
import random
from collections import Counter

import numpy as np
import pytest

from flodl_core.errors import FlodlError
from flodl_core.optim import schedulers as S
from flodl_core.optim.schedulers import (CosineScheduler, CyclicLR, ExponentialLR, MultiStepLR,
                                         OneCycleLR, PlateauScheduler, Scheduler, SchedulerError,
                                         StepDecay, WarmupScheduler)

N = 1000
REL = 1e-12


def assert_close_seq(sched, expected, rel=REL, fn=None):
    fn = fn or sched.lr
    for t, want in enumerate(expected):
        got = fn(t)
        assert type(got) is float, (t, type(got))
        assert got == pytest.approx(want, rel=rel, abs=1e-300), f"step {t}: {got} != {want}"


# ------------------------------------------------------------ reference loops
# Each one walks the schedule the way a stateful scheduler does: the lr after
# `epoch` updates, starting from the base value at epoch 0.

def ref_step(base, step_size, gamma, n=N):
    lr, out = base, []
    for epoch in range(n):
        if epoch > 0 and epoch % step_size == 0:
            lr *= gamma
        out.append(lr)
    return out


def ref_exponential(base, gamma, n=N):
    lr, out = base, []
    for epoch in range(n):
        if epoch > 0:
            lr *= gamma
        out.append(lr)
    return out


def ref_multistep(base, milestones, gamma, n=N):
    counts = Counter(milestones)
    lr, out = base, []
    for epoch in range(n):
        lr *= gamma ** counts[epoch]  # a milestone listed k times decays k times
        out.append(lr)
    return out


def ref_cosine(base, eta_min, T, n=N):
    """SGDR's cosine annealing in the recursive form (no restarts)."""
    lr, out = base, [base]
    for e in range(1, n):
        if (e - 1 - T) % (2 * T) == 0:  # leaving the trough: the ratio below would be 0/0
            lr = lr + (base - eta_min) * (1 - math.cos(math.pi / T)) / 2
        else:
            lr = eta_min + (lr - eta_min) * ((1 + math.cos(math.pi * e / T))
                                             / (1 + math.cos(math.pi * (e - 1) / T)))
        out.append(lr)
    return out


def ref_cyclic(base, top, up, down, mode="triangular", gamma=1.0, n=N, lo_m=None, hi_m=None):
    """Piecewise-linear triangle on the integer position in the cycle (Smith 2017)."""
    out = []
    for t in range(n):
        cycle, pos = divmod(t, up + down)
        frac = pos / up if pos <= up else 1 - (pos - up) / down
        scale = {"triangular": 1.0, "triangular2": 0.5 ** cycle, "exp_range": gamma ** t}[mode]
        if lo_m is None:
            out.append(base + (top - base) * frac * scale)
        else:
            out.append(hi_m - (hi_m - lo_m) * frac * scale)
    return out


def ref_onecycle(max_lr, T, pct=0.3, strategy="cos", div=25.0, final_div=1e4, three=False,
                 n=None, momentum=None):
    """1cycle: interpolate between (step, value) knots; the knots sit at
    pct*T - 1 (and 2*pct*T - 2 for three phases) and T - 1."""
    lo = max_lr / div
    floor = lo / final_div
    if momentum is None:
        vals = [lo, max_lr, lo, floor] if three else [lo, max_lr, floor]
    else:
        b, m = momentum
        vals = [m, b, m, m] if three else [m, b, m]
    knots = [0.0, pct * T - 1] + ([2 * pct * T - 2] if three else []) + [T - 1]
    out = []
    for t in range(T + 1 if n is None else n):
        i = next((k for k in range(1, len(knots) - 1) if t <= knots[k]), len(knots) - 1)
        a, z = knots[i - 1], knots[i]
        f = (t - a) / (z - a)
        if strategy == "cos":  # half a cosine wave from the start value down to the end value
            out.append(vals[i] + (vals[i - 1] - vals[i]) * (1 + math.cos(math.pi * f)) / 2)
        else:
            out.append(vals[i - 1] + (vals[i] - vals[i - 1]) * f)
    return out


# ------------------------------------------------------------ interface

def test_all_exported_names_exist():
    for name in S.__all__:
        assert hasattr(S, name)
    assert {"Scheduler", "StepDecay", "CosineScheduler", "ExponentialLR", "MultiStepLR",
            "OneCycleLR", "CyclicLR", "WarmupScheduler", "PlateauScheduler"} <= set(S.__all__)


def test_scheduler_is_abstract_and_subclassable():
    with pytest.raises(TypeError):
        Scheduler()

    class Constant(Scheduler):
        def lr(self, step):
            self._check_step(step)
            return 0.5

    c = Constant()
    assert c(3) == 0.5 and repr(c) == "Constant()"
    with pytest.raises(SchedulerError, match="Constant.lr: step must be >= 0, got -1"):
        c.lr(-1)
    assert WarmupScheduler(c, 1.0, 2).lr(5) == 0.5


ALL_PURE = [
    StepDecay(0.1, 3), CosineScheduler(0.1, 0.0, 10), ExponentialLR(0.1, 0.9),
    MultiStepLR(0.1, [2, 4]), OneCycleLR(0.1, 10), CyclicLR(0.01, 0.1, 3),
    WarmupScheduler(StepDecay(0.1, 3), 0.1, 2),
]


@pytest.mark.parametrize("sched", ALL_PURE, ids=lambda s: type(s).__name__)
def test_call_is_lr_and_stateless(sched):
    first = [sched.lr(t) for t in range(10)]
    assert [sched(t) for t in reversed(range(10))] == first[::-1]  # order does not matter
    assert all(type(v) is float for v in first)
    assert sched.lr(np.int64(4)) == sched.lr(4)  # NumPy integers are steps too


@pytest.mark.parametrize("sched", ALL_PURE, ids=lambda s: type(s).__name__)
@pytest.mark.parametrize("bad", [-1, -100])
def test_negative_step_raises(sched, bad):
    with pytest.raises(ValueError, match=f"{type(sched).__name__}.lr: step must be >= 0"):
        sched.lr(bad)


@pytest.mark.parametrize("bad", [1.5, "3", None, True])
def test_non_integer_step_raises(bad):
    with pytest.raises(SchedulerError, match="step must be an integer"):
        StepDecay(0.1, 3).lr(bad)


def test_errors_are_flodl_value_errors():
    assert issubclass(SchedulerError, FlodlError) and issubclass(SchedulerError, ValueError)


def test_repr_shows_settings():
    assert repr(StepDecay(0.1, 30)) == "StepDecay(base_lr=0.1, step_size=30, gamma=0.1)"
    assert repr(CosineScheduler(1e-3, 1e-6, 100)) == \
        "CosineScheduler(base_lr=0.001, min_lr=1e-06, total_steps=100, hold_after=False)"
    assert repr(MultiStepLR(1.0, [5, 3, 5], 0.5)) == \
        "MultiStepLR(base_lr=1.0, milestones=[3, 5, 5], gamma=0.5)"
    w = WarmupScheduler(ExponentialLR(1.0, 0.5), 1.0, 3)
    assert repr(w) == ("WarmupScheduler(inner=ExponentialLR(base_lr=1.0, gamma=0.5), "
                       "target_lr=1.0, warmup_steps=3)")
    for s in (OneCycleLR(0.1, 10), CyclicLR(0.01, 0.1, 3), PlateauScheduler(0.1)):
        r = repr(s)
        assert r.startswith(type(s).__name__ + "(")
    assert "three_phase=False" in repr(OneCycleLR(0.1, 10))
    assert "mode='triangular'" in repr(CyclicLR(0.01, 0.1, 3))
    assert "patience=10" in repr(PlateauScheduler(0.1)) and "lr=0.1" in repr(PlateauScheduler(0.1))


# ------------------------------------------------------------ construction errors

BAD_ARGS = [
    (lambda: StepDecay(0.1, 0), "StepDecay: step_size must be >= 1, got 0"),
    (lambda: StepDecay(0.1, 2.5), "StepDecay: step_size must be an integer, got 2.5"),
    (lambda: StepDecay(0.1, 10, 0.0), "StepDecay: gamma must be > 0.0, got 0.0"),
    (lambda: StepDecay(-0.1, 10), "StepDecay: base_lr must be >= 0.0, got -0.1"),
    (lambda: StepDecay(float("nan"), 10), "StepDecay: base_lr must be finite, got nan"),
    (lambda: StepDecay("0.1", 10), "StepDecay: base_lr must be a real number, got '0.1'"),
    (lambda: ExponentialLR(0.1, -0.5), "ExponentialLR: gamma must be > 0.0, got -0.5"),
    (lambda: MultiStepLR(0.1, [10, -1]), "MultiStepLR: each milestone must be >= 0, got -1"),
    (lambda: MultiStepLR(0.1, 30), "MultiStepLR: milestones must be a list"),
    (lambda: MultiStepLR(0.1, [3], gamma=0), "MultiStepLR: gamma must be > 0.0"),
    (lambda: CosineScheduler(0.1, 0.0, 0), "CosineScheduler: total_steps must be >= 1, got 0"),
    (lambda: CosineScheduler(0.1, -1e-3, 10), "CosineScheduler: min_lr must be >= 0.0"),
    (lambda: OneCycleLR(0.1, 0), "OneCycleLR: total_steps must be >= 1, got 0"),
    (lambda: OneCycleLR(0.1, 100, pct_start=1.5), "OneCycleLR: pct_start must be <= 1.0, got 1.5"),
    (lambda: OneCycleLR(0.1, 100, pct_start=-0.1), "OneCycleLR: pct_start must be >= 0.0"),
    (lambda: OneCycleLR(0.1, 100, anneal_strategy="exp"),
     "OneCycleLR: anneal_strategy must be one of 'cos', 'linear', got 'exp'"),
    (lambda: OneCycleLR(0.1, 100, div_factor=0), "OneCycleLR: div_factor must be > 0.0"),
    (lambda: OneCycleLR(0.1, 100, final_div_factor=-1.0),
     "OneCycleLR: final_div_factor must be > 0.0"),
    (lambda: OneCycleLR(0.1, 10, pct_start=0.1), "OneCycleLR: pct_start \\* total_steps = 1.0"),
    (lambda: CyclicLR(0.01, 0.1, 0), "CyclicLR: step_size_up must be >= 1, got 0"),
    (lambda: CyclicLR(0.01, 0.1, 5, 0), "CyclicLR: step_size_down must be >= 1, got 0"),
    (lambda: CyclicLR(0.01, 0.1, 5, mode="sine"), "CyclicLR: mode must be one of"),
    (lambda: CyclicLR(0.01, 0.1, 5, mode="exp_range", gamma=0.0), "CyclicLR: gamma must be > 0.0"),
    (lambda: WarmupScheduler(0.1, 0.1, 10),
     "WarmupScheduler: inner must be a Scheduler, got float"),
    (lambda: WarmupScheduler(PlateauScheduler(0.1), 0.1, 10),
     "PlateauScheduler reacts to a metric"),
    (lambda: WarmupScheduler(StepDecay(0.1, 3), 0.1, -1),
     "WarmupScheduler: warmup_steps must be >= 0, got -1"),
    (lambda: WarmupScheduler(StepDecay(0.1, 3), -0.1, 3),
     "WarmupScheduler: target_lr must be >= 0.0"),
    (lambda: PlateauScheduler(0.1, factor=1.0), "PlateauScheduler: factor must be < 1.0, got 1.0"),
    (lambda: PlateauScheduler(0.1, patience=-1), "PlateauScheduler: patience must be >= 0, got -1"),
    (lambda: PlateauScheduler(0.1, mode="lower"),
     "PlateauScheduler: mode must be one of 'min', 'max'"),
    (lambda: PlateauScheduler(0.1, threshold_mode="pct"),
     "PlateauScheduler: threshold_mode must be"),
    (lambda: PlateauScheduler(0.1, cooldown=-2), "PlateauScheduler: cooldown must be >= 0, got -2"),
    (lambda: PlateauScheduler(0.1, min_lr=-1.0), "PlateauScheduler: min_lr must be >= 0.0"),
    (lambda: PlateauScheduler(0.1, eps=-1e-8), "PlateauScheduler: eps must be >= 0.0"),
    (lambda: PlateauScheduler(0.1, threshold=-1e-4), "PlateauScheduler: threshold must be >= 0.0"),
]


@pytest.mark.parametrize("make,message", BAD_ARGS, ids=[m[:40] for _, m in BAD_ARGS])
def test_bad_arguments_raise_at_construction(make, message):
    with pytest.raises(ValueError, match=message):
        make()


# ------------------------------------------------------------ StepDecay / Exponential / MultiStep

@pytest.mark.parametrize("base,size,gamma", [(0.1, 30, 0.1), (0.05, 1, 0.99), (1.0, 7, 0.5),
                                             (0.3, 1000, 0.2), (0.01, 250, 1.5)])
def test_step_decay_matches_recursive_reference(base, size, gamma):
    assert_close_seq(StepDecay(base, size, gamma), ref_step(base, size, gamma))


def test_step_decay_boundaries():
    s = StepDecay(0.1, 10, 0.5)
    assert [s.lr(t) for t in (0, 9, 10, 19, 20)] == [0.1, 0.1, 0.05, 0.05, 0.025]
    assert StepDecay(0.1, 30).gamma == 0.1  # PyTorch's default


@pytest.mark.parametrize("base,gamma", [(0.1, 0.99), (0.5, 0.95), (1e-3, 0.999), (0.2, 1.001)])
def test_exponential_matches_recursive_reference(base, gamma):
    assert_close_seq(ExponentialLR(base, gamma), ref_exponential(base, gamma))


def test_exponential_saturates_instead_of_overflowing():
    assert ExponentialLR(1.0, 10.0).lr(400) == math.inf
    assert ExponentialLR(1.0, 0.1).lr(400) == 0.0


@pytest.mark.parametrize("base,milestones,gamma", [
    (0.1, [30, 80], 0.1),
    (0.1, [100, 100, 300, 50, 300, 300], 0.5),  # unsorted, duplicated
    (0.2, [0, 0, 5], 0.3),                      # a milestone at step 0 applies at once
    (1.0, [], 0.1),
    (0.1, [999, 1000, 2000], 0.1),
])
def test_multistep_matches_counter_reference(base, milestones, gamma):
    assert_close_seq(MultiStepLR(base, milestones, gamma), ref_multistep(base, milestones, gamma))


def test_multistep_duplicate_milestones_count_twice():
    s = MultiStepLR(1.0, [5, 3, 5], 0.5)
    assert s.milestones == (3, 5, 5)
    assert [s.lr(t) for t in (0, 2, 3, 4, 5, 100)] == [1.0, 1.0, 0.5, 0.5, 0.125, 0.125]
    assert MultiStepLR(1.0, (m for m in [2])).lr(2) == 0.1  # any iterable; default gamma 0.1


# ------------------------------------------------------------ cosine

@pytest.mark.parametrize("base,eta_min,T", [(0.1, 0.0, 100), (0.1, 1e-4, 1000), (1e-3, 1e-6, 37),
                                            (0.1, 0.0, 1), (0.1, 0.0, 2), (0.1, 0.0, 300),
                                            (0.05, 0.01, 33), (0.01, 0.1, 50)])
def test_cosine_matches_recursive_reference_past_total_steps(base, eta_min, T):
    assert_close_seq(CosineScheduler(base, eta_min, T), ref_cosine(base, eta_min, T))


def test_cosine_closed_form_points_and_periodicity():
    s = CosineScheduler(1.0, 0.0, 10)
    assert s.lr(0) == 1.0
    assert s.lr(5) == pytest.approx(0.5, rel=1e-15)
    assert s.lr(10) == 0.0
    assert s.lr(15) == pytest.approx(0.5, rel=1e-12)  # climbing back up, period 2T
    assert s.lr(20) == pytest.approx(1.0, rel=1e-12)
    assert s.lr(30) == pytest.approx(0.0, abs=1e-15)
    s2 = CosineScheduler(1e-3, 1e-6, 100)
    for t in range(0, 100):
        want = 1e-6 + (1e-3 - 1e-6) * (1 + math.cos(math.pi * t / 100)) / 2
        assert s2.lr(t) == pytest.approx(want, rel=1e-14)
        assert s2.lr(t + 1) <= s2.lr(t)  # monotone down to total_steps


def test_cosine_hold_after_keeps_min_lr():
    s = CosineScheduler(0.1, 1e-3, 50, hold_after=True)
    p = CosineScheduler(0.1, 1e-3, 50)
    assert [s.lr(t) for t in range(51)] == [p.lr(t) for t in range(51)]
    assert {s.lr(t) for t in (51, 75, 100, 10**9)} == {1e-3}
    assert p.lr(100) == pytest.approx(0.1, rel=1e-12)


# ------------------------------------------------------------ OneCycle

ONECYCLE = [
    dict(max_lr=0.1, total_steps=1000),
    dict(max_lr=0.1, total_steps=999, three_phase=True),
    dict(max_lr=0.01, total_steps=1000, anneal_strategy="linear"),
    dict(max_lr=0.01, total_steps=1000, anneal_strategy="linear", three_phase=True, pct_start=0.25),
    dict(max_lr=1.0, total_steps=1000, pct_start=0.0),
    dict(max_lr=1.0, total_steps=1000, pct_start=1.0 - 1e-3, div_factor=10.0,
         final_div_factor=100.0),
    dict(max_lr=0.1, total_steps=1003, pct_start=0.1234),
    dict(max_lr=0.5, total_steps=7, three_phase=True),
]


def _ref_kw(kw):
    return dict(max_lr=kw["max_lr"], T=kw["total_steps"], pct=kw.get("pct_start", 0.3),
                strategy=kw.get("anneal_strategy", "cos"), div=kw.get("div_factor", 25.0),
                final_div=kw.get("final_div_factor", 1e4), three=kw.get("three_phase", False))


@pytest.mark.parametrize("kw", ONECYCLE, ids=str)
def test_onecycle_lr_and_momentum_match_reference(kw):
    s = OneCycleLR(**kw)
    assert_close_seq(s, ref_onecycle(**_ref_kw(kw)))  # steps 0..total_steps
    assert_close_seq(s, ref_onecycle(**_ref_kw(kw), momentum=(0.85, 0.95)), fn=s.momentum)
    s2 = OneCycleLR(**kw, base_momentum=0.8, max_momentum=0.99)
    assert_close_seq(s2, ref_onecycle(**_ref_kw(kw), momentum=(0.8, 0.99)), fn=s2.momentum)


def test_onecycle_phase_boundaries_by_hand():
    s = OneCycleLR(1.0, 100)  # phase 1 ends at step 29.0, phase 2 at 99
    assert s.lr(0) == pytest.approx(0.04, rel=1e-14)
    assert s.lr(29) == 1.0
    assert s.lr(99) == pytest.approx(0.04 / 1e4, rel=1e-12)
    assert s.momentum(0) == pytest.approx(0.95, rel=1e-15) and s.momentum(29) == 0.85
    assert s.momentum(99) == pytest.approx(0.95, rel=1e-15)
    assert max(range(100), key=s.lr) == 29

    lin = OneCycleLR(1.0, 100, anneal_strategy="linear")
    for t in range(30):
        assert lin.lr(t) == pytest.approx(0.04 + 0.96 * t / 29, rel=1e-14)
    for t in range(29, 100):
        want = 1.0 + (4e-6 - 1.0) * (t - 29) / 70
        assert lin.lr(t) == pytest.approx(want, rel=1e-12, abs=1e-15)

    three = OneCycleLR(1.0, 100, pct_start=0.25, three_phase=True)  # knots 24, 48, 99
    assert three.lr(24) == 1.0
    assert three.lr(36) == pytest.approx((1.0 + 0.04) / 2, rel=1e-14)  # cosine midpoint
    assert three.lr(48) == pytest.approx(0.04, rel=1e-14)
    assert three.lr(99) == pytest.approx(4e-6, rel=1e-12)
    assert three.momentum(24) == 0.85 and three.momentum(48) == pytest.approx(0.95, rel=1e-15)
    assert {three.momentum(t) for t in range(48, 100)} == {0.95}  # phase 3 holds max_momentum

    # pct_start*total_steps not an integer: the peak sits between two steps.
    odd = OneCycleLR(1.0, 15)  # phase 1 ends at 3.5
    assert odd.lr(3) < 1.0 and odd.lr(4) < 1.0


def test_onecycle_steps_past_the_end():
    s = OneCycleLR(0.1, 100)
    s.lr(100)  # one past the end: PyTorch holds this value after its last step()
    with pytest.raises(SchedulerError, match=r"OneCycleLR.lr: step 101 is past the cycle: "
                                             r"total_steps=100 covers steps 0..99"):
        s.lr(101)
    with pytest.raises(SchedulerError, match="OneCycleLR.momentum: step 500"):
        s.momentum(500)
    full = OneCycleLR(0.1, 10, pct_start=1.0)  # the annealing phase has zero length
    assert full.lr(9) == 0.1
    with pytest.raises(SchedulerError, match="zero-length final phase"):
        full.lr(10)


# ------------------------------------------------------------ Cyclic

CYCLIC = [
    (0.001, 0.1, 50, None, "triangular", 1.0),
    (0.001, 0.1, 30, 70, "triangular2", 1.0),
    (0.01, 0.1, 20, None, "exp_range", 0.998),
    (0.01, 0.1, 1, 3, "exp_range", 0.99),
    (0.01, 0.1, 7, None, "triangular2", 1.0),
    (0.1, 0.01, 2000, None, "triangular", 1.0),  # max below base: an inverted triangle
]


@pytest.mark.parametrize("base,top,up,down,mode,gamma", CYCLIC, ids=str)
def test_cyclic_matches_piecewise_reference(base, top, up, down, mode, gamma):
    d = up if down is None else down
    s = CyclicLR(base, top, up, down, mode, gamma)
    assert_close_seq(s, ref_cyclic(base, top, up, d, mode, gamma))
    assert_close_seq(s, ref_cyclic(base, top, up, d, mode, gamma, lo_m=0.8, hi_m=0.9),
                     fn=s.momentum)
    s2 = CyclicLR(base, top, up, down, mode, gamma, base_momentum=0.7, max_momentum=0.95)
    assert_close_seq(s2, ref_cyclic(base, top, up, d, mode, gamma, lo_m=0.7, hi_m=0.95),
                     fn=s2.momentum)


def test_cyclic_by_hand():
    s = CyclicLR(0.1, 1.0, 4, 2)
    assert [s.lr(t) for t in range(7)] == pytest.approx([0.1, 0.325, 0.55, 0.775, 1.0, 0.55, 0.1],
                                                        rel=1e-14)
    assert s.momentum(0) == 0.9 and s.momentum(4) == pytest.approx(0.8, rel=1e-15)
    t2 = CyclicLR(0.1, 1.0, 4, 2, mode="triangular2")
    assert t2.lr(4) == pytest.approx(1.0, rel=1e-14)
    assert t2.lr(10) == pytest.approx(0.55, rel=1e-14)  # second cycle: half the amplitude
    assert t2.lr(16) == pytest.approx(0.1 + 0.9 / 4, rel=1e-14)
    ex = CyclicLR(0.1, 1.0, 4, 2, mode="exp_range", gamma=0.5)
    assert ex.lr(4) == pytest.approx(0.1 + 0.9 * 0.5 ** 4, rel=1e-14)
    assert CyclicLR(0.1, 1.0).step_size_up == 2000 and CyclicLR(0.1, 1.0).step_size_down == 2000
    assert CyclicLR(0.1, 1.0, 5, mode="triangular2").lr(10 ** 6) == 0.1  # no OverflowError


# ------------------------------------------------------------ Warmup

def test_warmup_then_cosine_composition():
    cos = CosineScheduler(1e-3, 1e-6, 100)
    s = WarmupScheduler(cos, 1e-3, 10)
    assert [s.lr(t) for t in range(10)] == pytest.approx([1e-4 * (t + 1) for t in range(10)],
                                                         rel=1e-14)
    assert s.lr(9) == pytest.approx(1e-3, rel=1e-15) and s.lr(10) == cos.lr(0)
    for t in range(10, 300):
        assert s.lr(t) == cos.lr(t - 10)
    assert s.lr(60) == pytest.approx((1e-3 + 1e-6) / 2, rel=1e-14)
    assert s.lr(110) == 1e-6


def test_warmup_nests_and_zero_warmup_is_identity():
    inner = OneCycleLR(0.1, 50)
    assert [WarmupScheduler(inner, 1.0, 0).lr(t) for t in range(51)] == \
        [inner.lr(t) for t in range(51)]
    nested = WarmupScheduler(WarmupScheduler(ExponentialLR(1.0, 0.5), 1.0, 2), 0.5, 4)
    assert [nested.lr(t) for t in range(9)] == \
        pytest.approx([0.125, 0.25, 0.375, 0.5, 0.5, 1.0, 1.0, 0.5, 0.25], rel=1e-15)
    with pytest.raises(SchedulerError, match="OneCycleLR.lr: step 51"):
        WarmupScheduler(inner, 0.1, 5).lr(56)  # the inner schedule's own limits still hold


# ------------------------------------------------------------ Plateau

def run_plateau(sched, metrics):
    return [sched.observe(m) for m in metrics]


def test_plateau_patience_min_mode():
    s = PlateauScheduler(1.0, patience=2, factor=0.5)
    assert s.lr() == 1.0 and s.current_lr == 1.0
    assert run_plateau(s, [10, 9, 9, 9, 9, 8, 8, 8, 8]) == [1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25]
    assert s.best == 8 and s.num_bad_epochs == 0 and s.last_epoch == 9


def test_plateau_patience_zero_reduces_on_first_bad_epoch():
    s = PlateauScheduler(1.0, patience=0, factor=0.5)
    assert run_plateau(s, [1.0, 1.0, 0.5, 0.5]) == [1.0, 0.5, 0.5, 0.25]


def test_plateau_max_mode():
    s = PlateauScheduler(1.0, patience=1, factor=0.1, mode="max")
    assert run_plateau(s, [0.5, 0.6, 0.6, 0.6, 0.7, 0.65, 0.69]) == \
        pytest.approx([1, 1, 1, 0.1, 0.1, 0.1, 0.01], rel=1e-15)


@pytest.mark.parametrize("mode,threshold_mode,metric,improves", [
    ("min", "rel", 9.5, False),   # needs < 10 * (1 - 0.1) = 9
    ("min", "abs", 9.5, True),    # needs < 10 - 0.1 = 9.9
    ("min", "rel", 8.9, True),
    ("min", "abs", 9.95, False),
    ("max", "rel", 10.5, False),  # needs > 10 * 1.1 = 11
    ("max", "abs", 10.5, True),   # needs > 10.1
    ("max", "rel", 11.5, True),
    ("max", "abs", 10.05, False),
])
def test_plateau_threshold_modes(mode, threshold_mode, metric, improves):
    s = PlateauScheduler(1.0, patience=0, factor=0.5, mode=mode, threshold=0.1,
                         threshold_mode=threshold_mode)
    s.observe(10.0)
    assert s.observe(metric) == (1.0 if improves else 0.5)
    assert s.best == (metric if improves else 10.0)


def test_plateau_rel_threshold_with_negative_best_follows_pytorch():
    # best * (1 - threshold) is above a negative best, so a slightly worse value
    # still counts as an improvement: PyTorch's formula, kept as is.
    s = PlateauScheduler(1.0, patience=0, factor=0.5, threshold=0.1)
    s.observe(-10.0)
    assert s.observe(-9.5) == 1.0 and s.best == -9.5


def test_plateau_cooldown_ignores_bad_epochs():
    s = PlateauScheduler(1.0, patience=0, factor=0.5, cooldown=2)
    assert run_plateau(s, [1, 2, 2, 2, 2, 2, 2, 2]) == [1, .5, .5, .5, .25, .25, .25, .125]
    s = PlateauScheduler(1.0, patience=1, factor=0.5, cooldown=1)
    lrs = run_plateau(s, [1, 2, 2, 2, 2, 2])
    assert lrs == [1, 1, .5, .5, .5, .25]
    assert s.in_cooldown


def test_plateau_min_lr_floor_and_eps():
    s = PlateauScheduler(1.0, patience=0, factor=0.1, min_lr=0.05)
    assert run_plateau(s, [1, 2, 2, 2]) == pytest.approx([1, 0.1, 0.05, 0.05], rel=1e-15)
    # A cut of eps or less is skipped, but the counters still restart.
    tiny = PlateauScheduler(1e-7, patience=0, factor=0.5, eps=1e-7)
    assert run_plateau(tiny, [1, 2, 2]) == [1e-7, 1e-7, 1e-7]
    assert tiny.num_bad_epochs == 0
    assert PlateauScheduler(1e-7, patience=0, factor=0.5).observe(1) == 1e-7
    s = PlateauScheduler(1e-7, patience=0, factor=0.5)  # default eps 1e-8 < 5e-8
    assert run_plateau(s, [1, 2]) == [1e-7, 5e-8]


def test_plateau_nan_is_a_bad_epoch():
    s = PlateauScheduler(1.0, patience=1, factor=0.5)
    assert run_plateau(s, [float("nan"), float("nan")]) == [1.0, 0.5]
    assert s.best == math.inf
    s = PlateauScheduler(1.0, patience=1, factor=0.5, mode="max")
    assert run_plateau(s, [3.0, float("nan"), 4.0, float("nan"), float("nan")]) == \
        [1, 1, 1, 1, 0.5]
    assert s.best == 4.0


def test_plateau_accepts_scalars_and_one_element_tensors():
    import flodl_core as fl
    s = PlateauScheduler(1.0)
    s.observe(np.float32(0.5))
    s.observe(fl.tensor([0.25]))
    assert s.best == 0.25
    with pytest.raises(SchedulerError, match="PlateauScheduler.observe: metric must be"):
        s.observe(fl.tensor([0.25, 0.5]))
    with pytest.raises(SchedulerError, match="metric must be"):
        s.observe("low")


def ref_plateau(metrics, lr, mode, threshold_mode, patience, factor, min_lr, threshold,
                cooldown, eps):
    """ReduceLROnPlateau as its documentation describes it."""
    sign = 1 if mode == "min" else -1
    best, bad, cool, out = sign * math.inf, 0, 0, []
    for m in metrics:
        if threshold_mode == "rel":
            better = sign * m < sign * best * (1 - sign * threshold)
        else:
            better = sign * m < sign * best - threshold
        best, bad = (m, 0) if better else (best, bad + 1)
        if cool > 0:
            cool, bad = cool - 1, 0
        if bad > patience:
            new = max(lr * factor, min_lr)
            lr = new if lr - new > eps else lr
            cool, bad = cooldown, 0
        out.append(lr)
    return out


@pytest.mark.parametrize("mode", ["min", "max"])
@pytest.mark.parametrize("threshold_mode", ["rel", "abs"])
@pytest.mark.parametrize("kw", [dict(patience=10, factor=0.1, min_lr=0.0, threshold=1e-4,
                                     cooldown=0, eps=1e-8),
                                dict(patience=3, factor=0.5, min_lr=1e-4, threshold=1e-3,
                                     cooldown=2, eps=1e-8),
                                dict(patience=0, factor=0.9, min_lr=0.0, threshold=0.01,
                                     cooldown=0, eps=1e-3)], ids=["default", "cooldown", "eps"])
def test_plateau_noisy_run_matches_reference(mode, threshold_mode, kw):
    rng = random.Random(7)
    sign = 1 if mode == "min" else -1
    metrics = [sign * (1.0 / (1 + 0.01 * i)) + rng.gauss(0, 0.02) for i in range(N)]
    metrics[100:110] = [float("nan")] * 10
    s = PlateauScheduler(0.1, kw["patience"], kw["factor"], kw["min_lr"], mode=mode,
                         threshold=kw["threshold"], threshold_mode=threshold_mode,
                         cooldown=kw["cooldown"], eps=kw["eps"])
    got = run_plateau(s, metrics)
    want = ref_plateau(metrics, 0.1, mode, threshold_mode, **kw)
    assert got == want
    assert len(set(got)) > 2  # the run did reduce several times


def test_plateau_state_dict_round_trip_continues_identically():
    rng = random.Random(3)
    metrics = [1 / (1 + 0.05 * i) + rng.gauss(0, 0.05) for i in range(300)]
    kw = dict(patience=3, factor=0.5, min_lr=1e-5, cooldown=2)
    whole = run_plateau(PlateauScheduler(0.1, **kw), metrics)

    first = PlateauScheduler(0.1, **kw)
    head = run_plateau(first, metrics[:137])
    state = first.state_dict()
    assert set(state) == {"lr", "best", "num_bad_epochs", "cooldown_counter", "last_epoch"}
    assert all(type(v) in (int, float) for v in state.values())
    resumed = PlateauScheduler(0.1, **kw)
    resumed.load_state_dict(dict(state))
    assert resumed.state_dict() == state and resumed.lr() == head[-1]
    assert head + run_plateau(resumed, metrics[137:]) == whole

    fresh = PlateauScheduler(0.1, **kw).state_dict()
    assert fresh == {"lr": 0.1, "best": math.inf, "num_bad_epochs": 0, "cooldown_counter": 0,
                     "last_epoch": 0}


def test_plateau_load_state_dict_errors():
    s = PlateauScheduler(0.1)
    good = s.state_dict()
    with pytest.raises(SchedulerError, match=r"missing \['best'\], unknown \[\]"):
        s.load_state_dict({k: v for k, v in good.items() if k != "best"})
    with pytest.raises(SchedulerError, match=r"unknown \['step'\]"):
        s.load_state_dict({**good, "step": 3})
    with pytest.raises(SchedulerError, match="num_bad_epochs must be >= 0"):
        s.load_state_dict({**good, "num_bad_epochs": -1})
    with pytest.raises(SchedulerError, match="expected a dict"):
        s.load_state_dict([1, 2])
    assert s.state_dict() == good  # a failed load changes nothing


def test_plateau_reset():
    s = PlateauScheduler(1.0, patience=0, factor=0.5, cooldown=3)
    run_plateau(s, [1, 2, 2])
    assert s.lr() == 0.5 and s.in_cooldown
    s.reset(keep_lr=True)
    assert s.lr() == 0.5 and s.best == math.inf and not s.in_cooldown and s.last_epoch == 0
    s.reset()
    assert s.state_dict() == PlateauScheduler(1.0, patience=0, factor=0.5, cooldown=3).state_dict()
    m = PlateauScheduler(1.0, mode="max")
    m.observe(1.0)
    m.reset()
    assert m.best == -math.inf
