"""Learning-rate schedulers: pure functions of the step.

A scheduler never holds an optimizer. It answers one question, "what is the
learning rate at step ``t``?", and the training loop applies the answer::

    sched = CosineScheduler(1e-3, 1e-6, 10_000)
    for step in range(10_000):
        opt.set_lr(sched.lr(step))
        ...  # forward, backward, opt.step()

Because ``lr(step)`` depends only on the settings and ``step``, resuming a run
needs nothing but the step number, schedules compose by shifting the step
(:class:`WarmupScheduler`), and any step can be inspected without replaying
the run.

``step`` is 0-based: ``lr(t)`` is the learning rate PyTorch's matching scheduler
holds after ``t`` calls to ``scheduler.step()`` (its ``last_epoch == t``). The
values equal PyTorch's to floating-point rounding, including where the Rust
flodl formulas differ; ``docs/schedulers.md`` lists those differences.

:class:`PlateauScheduler` is the one stateful scheduler: it reacts to a metric
instead of a step count.
"""
import abc
import math
import operator
from bisect import bisect_right

from ..errors import SchedulerError

__all__ = ["Scheduler", "SchedulerError", "StepDecay", "CosineScheduler", "ExponentialLR",
           "MultiStepLR", "OneCycleLR", "CyclicLR", "WarmupScheduler", "PlateauScheduler"]


# ------------------------------------------------------------------ validation helpers
# Settings are checked once, at construction, so a bad config fails before training
# starts instead of as a ZeroDivisionError (or a NaN lr) thousands of steps in.

def _integer(owner, name, value, minimum):
    if isinstance(value, bool):  # True is an int to Python, never a step count to a user
        raise SchedulerError(f"{owner}: {name} must be an integer, got {value!r}")
    try:
        value = operator.index(value)  # int, numpy integers; not 2.0
    except TypeError:
        raise SchedulerError(f"{owner}: {name} must be an integer, got {value!r}") from None
    if value < minimum:
        raise SchedulerError(f"{owner}: {name} must be >= {minimum}, got {value}")
    return value


def _real(owner, name, value, *, low=None, low_open=False, high=None, high_open=False):
    """``float(value)``, finite and inside the given bounds, or a SchedulerError."""
    try:
        if isinstance(value, (str, bytes)):
            raise TypeError
        x = float(value)
    except (TypeError, ValueError):
        raise SchedulerError(f"{owner}: {name} must be a real number, got {value!r}") from None
    if not math.isfinite(x):
        raise SchedulerError(f"{owner}: {name} must be finite, got {x}")
    if low is not None and (x <= low if low_open else x < low):
        raise SchedulerError(f"{owner}: {name} must be {'>' if low_open else '>='} {low}, got {x}")
    if high is not None and (x >= high if high_open else x > high):
        raise SchedulerError(
            f"{owner}: {name} must be {'<' if high_open else '<='} {high}, got {x}")
    return x


def _choice(owner, name, value, choices):
    if value not in choices:
        raise SchedulerError(f"{owner}: {name} must be one of {', '.join(map(repr, choices))}, "
                             f"got {value!r}")
    return value


def _pow(base, exponent):
    """``base ** exponent`` that saturates to inf instead of raising OverflowError."""
    try:
        return base ** exponent
    except OverflowError:
        return math.inf


# ------------------------------------------------------------------ the interface

class Scheduler(abc.ABC):
    """A learning rate as a pure function of the 0-based step.

    Subclasses implement :meth:`lr`; ``sched(step)`` is the same call. Apply it
    with ``opt.set_lr(sched.lr(step))``.
    """

    @abc.abstractmethod
    def lr(self, step: int) -> float:
        """Learning rate at ``step`` (0-based). Raises SchedulerError for step < 0."""

    def __call__(self, step: int) -> float:
        return self.lr(step)

    def _settings(self):
        """``(name, value)`` pairs shown by ``repr``."""
        return ()

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._settings())
        return f"{type(self).__name__}({args})"

    def _check_step(self, step):
        return _integer(f"{type(self).__name__}.lr", "step", step, 0)


# ------------------------------------------------------------------ decays

class StepDecay(Scheduler):
    """Multiply the lr by ``gamma`` every ``step_size`` steps (PyTorch ``StepLR``).

    ``lr(t) = base_lr * gamma ** (t // step_size)``
    """

    def __init__(self, base_lr, step_size, gamma=0.1):
        self.base_lr = _real("StepDecay", "base_lr", base_lr, low=0.0)
        self.step_size = _integer("StepDecay", "step_size", step_size, 1)
        self.gamma = _real("StepDecay", "gamma", gamma, low=0.0, low_open=True)

    def lr(self, step):
        t = self._check_step(step)
        return self.base_lr * _pow(self.gamma, t // self.step_size)

    def _settings(self):
        return (("base_lr", self.base_lr), ("step_size", self.step_size), ("gamma", self.gamma))


class ExponentialLR(Scheduler):
    """Multiply the lr by ``gamma`` every step: ``lr(t) = base_lr * gamma ** t``."""

    def __init__(self, base_lr, gamma):
        self.base_lr = _real("ExponentialLR", "base_lr", base_lr, low=0.0)
        self.gamma = _real("ExponentialLR", "gamma", gamma, low=0.0, low_open=True)

    def lr(self, step):
        return self.base_lr * _pow(self.gamma, self._check_step(step))

    def _settings(self):
        return (("base_lr", self.base_lr), ("gamma", self.gamma))


class MultiStepLR(Scheduler):
    """Multiply the lr by ``gamma`` at each milestone step.

    ``lr(t) = base_lr * gamma ** (number of milestones <= t)``. Milestones may come
    in any order; a milestone listed twice counts twice (PyTorch keeps them in a
    ``Counter`` and applies ``gamma ** count``), so ``[30, 30]`` decays by
    ``gamma**2`` at step 30.
    """

    def __init__(self, base_lr, milestones, gamma=0.1):
        self.base_lr = _real("MultiStepLR", "base_lr", base_lr, low=0.0)
        try:
            items = list(milestones)
        except TypeError:
            raise SchedulerError("MultiStepLR: milestones must be a list of step indices, "
                                 f"got {milestones!r}") from None
        self.milestones = tuple(sorted(_integer("MultiStepLR", "each milestone", m, 0)
                                       for m in items))
        self.gamma = _real("MultiStepLR", "gamma", gamma, low=0.0, low_open=True)

    def lr(self, step):
        passed = bisect_right(self.milestones, self._check_step(step))
        return self.base_lr * _pow(self.gamma, passed)

    def _settings(self):
        return (("base_lr", self.base_lr), ("milestones", list(self.milestones)),
                ("gamma", self.gamma))


class CosineScheduler(Scheduler):
    """Cosine annealing from ``base_lr`` to ``min_lr`` over ``total_steps``
    (PyTorch ``CosineAnnealingLR(T_max=total_steps, eta_min=min_lr)``).

    ``lr(t) = min_lr + (base_lr - min_lr) * (1 + cos(pi * t / total_steps)) / 2``

    The formula is periodic: past ``total_steps`` the lr climbs back to ``base_lr``
    at ``2 * total_steps`` and so on, exactly as PyTorch does when stepped past
    ``T_max``. With ``hold_after=True`` it stays at ``min_lr`` instead (the Rust
    flodl behaviour), which is usually what a run that overshoots wants.
    """

    def __init__(self, base_lr, min_lr, total_steps, *, hold_after=False):
        self.base_lr = _real("CosineScheduler", "base_lr", base_lr, low=0.0)
        self.min_lr = _real("CosineScheduler", "min_lr", min_lr, low=0.0)
        self.total_steps = _integer("CosineScheduler", "total_steps", total_steps, 1)
        self.hold_after = bool(hold_after)

    def lr(self, step):
        t = self._check_step(step)
        T = self.total_steps
        span = self.base_lr - self.min_lr
        if t <= T:
            return self.min_lr + span * (1 + math.cos(math.pi * t / T)) / 2
        if self.hold_after:
            return self.min_lr
        # Past T. Mathematically still the formula above, but PyTorch's recursive
        # update restarts from min_lr at t0 = T+1, 3T+1, ... with an explicit rise,
        # then multiplies ratios (1 + cos(t)) / (1 + cos(t-1)) that telescope to
        # (1 + cos(t)) / (1 + cos(t0)). Anchoring at the same t0 keeps our value
        # within rounding of PyTorch's; the plain formula drifts from it by up to
        # ~1e-11 relative for large T (1 + cos near pi loses digits).
        t0 = t - (t - T - 1) % (2 * T)
        rise = span * (1 - math.cos(math.pi / T)) / 2
        return self.min_lr + rise * ((1 + math.cos(math.pi * t / T))
                                     / (1 + math.cos(math.pi * t0 / T)))

    def _settings(self):
        return (("base_lr", self.base_lr), ("min_lr", self.min_lr),
                ("total_steps", self.total_steps), ("hold_after", self.hold_after))


# ------------------------------------------------------------------ cycles

def _anneal_cos(start, end, pct):
    return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)


def _anneal_linear(start, end, pct):
    return (end - start) * pct + start


class OneCycleLR(Scheduler):
    """The 1cycle policy (Smith & Topin 2018), as PyTorch ``OneCycleLR``.

    The lr rises from ``max_lr / div_factor`` to ``max_lr`` over the first
    ``pct_start`` of the steps, then anneals down to
    ``max_lr / div_factor / final_div_factor`` at step ``total_steps - 1``. With
    ``three_phase=True`` it comes back down to the initial lr symmetrically and
    a third phase annihilates it (the paper's version). ``anneal_strategy`` is
    ``"cos"`` or ``"linear"``.

    Phase boundaries are PyTorch's: phase 1 ends at ``pct_start*total_steps - 1``
    (a float, not rounded), the last phase at ``total_steps - 1``. Like PyTorch,
    step ``total_steps`` (one past the end, what PyTorch holds after its last
    ``step()``) extrapolates the last phase and any later step raises.

    :meth:`momentum` gives the momentum PyTorch cycles inversely to the lr
    (``max_momentum`` -> ``base_momentum`` -> ``max_momentum``); feed it to SGD's
    momentum or Adam's beta1.
    """

    def __init__(self, max_lr, total_steps, pct_start=0.3, anneal_strategy="cos",
                 div_factor=25.0, final_div_factor=1e4, three_phase=False,
                 base_momentum=0.85, max_momentum=0.95):
        name = "OneCycleLR"
        self.max_lr = _real(name, "max_lr", max_lr, low=0.0)
        self.total_steps = T = _integer(name, "total_steps", total_steps, 1)
        self.pct_start = p = _real(name, "pct_start", pct_start, low=0.0, high=1.0)
        self.anneal_strategy = _choice(name, "anneal_strategy", anneal_strategy,
                                       ("cos", "linear"))
        self.div_factor = _real(name, "div_factor", div_factor, low=0.0, low_open=True)
        self.final_div_factor = _real(name, "final_div_factor", final_div_factor,
                                      low=0.0, low_open=True)
        self.three_phase = bool(three_phase)
        self.base_momentum = _real(name, "base_momentum", base_momentum)
        self.max_momentum = _real(name, "max_momentum", max_momentum)

        initial_lr = self.max_lr / self.div_factor
        min_lr = initial_lr / self.final_div_factor
        top, low_m, high_m = self.max_lr, self.base_momentum, self.max_momentum
        # (end_step, start_lr, end_lr, start_momentum, end_momentum); each phase
        # starts where the previous one ended, the first at 0.0.
        if self.three_phase:
            self._phases = ((float(p * T) - 1, initial_lr, top, high_m, low_m),
                            (float(2 * p * T) - 2, top, initial_lr, low_m, high_m),
                            (T - 1, initial_lr, min_lr, high_m, high_m))
        else:
            self._phases = ((float(p * T) - 1, initial_lr, top, high_m, low_m),
                            (T - 1, top, min_lr, low_m, high_m))
        # Step 0 falls in phase 1 whenever it ends at >= 0; a zero-length phase 1
        # would divide by zero there (PyTorch dies with ZeroDivisionError).
        if self._phases[0][0] == 0.0:
            raise SchedulerError(
                f"{name}: pct_start * total_steps = {p * T} makes the warm-up phase zero "
                f"steps long (it would divide by zero at step 0); pick pct_start so that "
                f"pct_start * total_steps != 1")
        self._anneal = _anneal_cos if self.anneal_strategy == "cos" else _anneal_linear

    def _phase(self, step, what):
        t = _integer(f"OneCycleLR.{what}", "step", step, 0)
        if t > self.total_steps:
            raise SchedulerError(
                f"OneCycleLR.{what}: step {t} is past the cycle: total_steps={self.total_steps} "
                f"covers steps 0..{self.total_steps - 1} (PyTorch also accepts step "
                f"{self.total_steps}, one past the end, and raises after it)")
        start = 0.0
        last = len(self._phases) - 1
        for i, phase in enumerate(self._phases):
            end = phase[0]
            if t <= end or i == last:
                if end == start:  # only reachable at step total_steps
                    raise SchedulerError(
                        f"OneCycleLR.{what}: step {t} falls in a zero-length final phase "
                        f"(pct_start={self.pct_start}); only steps 0..{self.total_steps - 1} "
                        f"are defined")
                return phase, (t - start) / (end - start)
            start = end

    def lr(self, step):
        (_, lr0, lr1, _, _), pct = self._phase(step, "lr")
        return self._anneal(lr0, lr1, pct)

    def momentum(self, step):
        """Momentum (SGD) or beta1 (Adam) at ``step``, cycled inversely to the lr."""
        (_, _, _, m0, m1), pct = self._phase(step, "momentum")
        return self._anneal(m0, m1, pct)

    def _settings(self):
        return (("max_lr", self.max_lr), ("total_steps", self.total_steps),
                ("pct_start", self.pct_start), ("anneal_strategy", self.anneal_strategy),
                ("div_factor", self.div_factor), ("final_div_factor", self.final_div_factor),
                ("three_phase", self.three_phase), ("base_momentum", self.base_momentum),
                ("max_momentum", self.max_momentum))


class CyclicLR(Scheduler):
    """Cyclical learning rates (Smith 2017), as PyTorch ``CyclicLR``.

    The lr goes linearly from ``base_lr`` up to ``max_lr`` in ``step_size_up``
    steps and back down in ``step_size_down`` steps (default: the same). The
    amplitude ``max_lr - base_lr`` is scaled by mode:

    * ``"triangular"``: 1 (no scaling);
    * ``"triangular2"``: halved every cycle, ``1 / 2**(cycle - 1)`` (cycle counts from 1);
    * ``"exp_range"``: ``gamma ** step``, per step rather than per cycle
      (PyTorch's ``scale_mode="iterations"`` default for this mode).

    :meth:`momentum` cycles inversely between ``max_momentum`` (at ``base_lr``)
    and ``base_momentum`` (at ``max_lr``), with the same scaling, as PyTorch's
    ``cycle_momentum=True`` does.
    """

    def __init__(self, base_lr, max_lr, step_size_up=2000, step_size_down=None,
                 mode="triangular", gamma=1.0, *, base_momentum=0.8, max_momentum=0.9):
        name = "CyclicLR"
        self.base_lr = _real(name, "base_lr", base_lr, low=0.0)
        self.max_lr = _real(name, "max_lr", max_lr, low=0.0)
        self.step_size_up = _integer(name, "step_size_up", step_size_up, 1)
        self.step_size_down = (self.step_size_up if step_size_down is None
                               else _integer(name, "step_size_down", step_size_down, 1))
        self.mode = _choice(name, "mode", mode, ("triangular", "triangular2", "exp_range"))
        self.gamma = _real(name, "gamma", gamma, low=0.0, low_open=True)
        self.base_momentum = _real(name, "base_momentum", base_momentum)
        self.max_momentum = _real(name, "max_momentum", max_momentum)
        # PyTorch works in floats: position in the cycle is a fraction x of it.
        self._cycle_len = float(self.step_size_up) + float(self.step_size_down)
        self._up_ratio = float(self.step_size_up) / self._cycle_len

    def _position(self, step, what):
        """(height in [0, 1] within the cycle, amplitude scale) at ``step``."""
        t = _integer(f"CyclicLR.{what}", "step", step, 0)
        cycle = math.floor(1 + t / self._cycle_len)
        x = 1.0 + t / self._cycle_len - cycle
        if x <= self._up_ratio:
            height = x / self._up_ratio
        else:
            height = (x - 1) / (self._up_ratio - 1)
        if self.mode == "triangular":
            scale = 1.0
        elif self.mode == "triangular2":
            scale = 1 / _pow(2.0, cycle - 1)
        else:
            scale = _pow(self.gamma, t)
        return height, scale

    def lr(self, step):
        height, scale = self._position(step, "lr")
        return self.base_lr + (self.max_lr - self.base_lr) * height * scale

    def momentum(self, step):
        """Momentum (SGD) or beta1 (Adam) at ``step``, cycled inversely to the lr."""
        height, scale = self._position(step, "momentum")
        return self.max_momentum - (self.max_momentum - self.base_momentum) * height * scale

    def _settings(self):
        return (("base_lr", self.base_lr), ("max_lr", self.max_lr),
                ("step_size_up", self.step_size_up), ("step_size_down", self.step_size_down),
                ("mode", self.mode), ("gamma", self.gamma),
                ("base_momentum", self.base_momentum), ("max_momentum", self.max_momentum))


# ------------------------------------------------------------------ composition

class WarmupScheduler(Scheduler):
    """Linear warm-up, then another scheduler.

    For ``step < warmup_steps``: ``lr = target_lr * (step + 1) / warmup_steps``
    (so the first step already trains, and the last warm-up step reaches
    ``target_lr``). From then on ``inner.lr(step - warmup_steps)``: the inner
    schedule starts at its own step 0. ``inner`` can be any Scheduler, including
    another WarmupScheduler; ``warmup_steps=0`` is the inner schedule unchanged.
    No PyTorch twin (the usual PyTorch route is ``SequentialLR`` of ``LinearLR``
    and another scheduler, whose warm-up starts at a fraction of the target
    instead).
    """

    def __init__(self, inner, target_lr, warmup_steps):
        if not isinstance(inner, Scheduler):
            hint = (" (PlateauScheduler reacts to a metric, it has no lr(step) to delegate to)"
                    if isinstance(inner, PlateauScheduler) else "")
            raise SchedulerError(f"WarmupScheduler: inner must be a Scheduler, "
                                 f"got {type(inner).__name__}{hint}")
        self.inner = inner
        self.target_lr = _real("WarmupScheduler", "target_lr", target_lr, low=0.0)
        self.warmup_steps = _integer("WarmupScheduler", "warmup_steps", warmup_steps, 0)

    def lr(self, step):
        t = self._check_step(step)
        if t < self.warmup_steps:
            return self.target_lr * (t + 1) / self.warmup_steps
        return self.inner.lr(t - self.warmup_steps)

    def _settings(self):
        return (("inner", self.inner), ("target_lr", self.target_lr),
                ("warmup_steps", self.warmup_steps))


# ------------------------------------------------------------------ reactive

class PlateauScheduler:
    """Cut the lr when a metric stops improving (PyTorch ``ReduceLROnPlateau``).

    Not a :class:`Scheduler`: the lr depends on the metrics seen, so this one
    keeps state. Call :meth:`observe` once per evaluation and apply the lr it
    returns::

        sched = PlateauScheduler(1e-3, patience=5, factor=0.5, min_lr=1e-6)
        for epoch in range(100):
            opt.set_lr(sched.lr())
            train_one_epoch()
            sched.observe(validate())

    A metric is an improvement when it beats the best so far by the threshold:
    ``metric < best * (1 - threshold)`` (``mode="min"``, ``threshold_mode="rel"``),
    ``metric < best - threshold`` (``"abs"``); mirrored for ``mode="max"``. After
    more than ``patience`` observations without one, the lr becomes
    ``max(lr * factor, min_lr)`` (skipped when that changes it by ``eps`` or
    less), and the next ``cooldown`` observations are ignored. A NaN metric is
    never an improvement, so it counts as a bad epoch.

    ``state_dict()`` / ``load_state_dict()`` save and restore the counters so a
    resumed run reduces at exactly the same observation.
    """

    _STATE_KEYS = ("lr", "best", "num_bad_epochs", "cooldown_counter", "last_epoch")

    def __init__(self, base_lr, patience=10, factor=0.1, min_lr=0.0, *, mode="min",
                 threshold=1e-4, threshold_mode="rel", cooldown=0, eps=1e-8):
        name = "PlateauScheduler"
        self.base_lr = _real(name, "base_lr", base_lr, low=0.0)
        self.patience = _integer(name, "patience", patience, 0)
        self.factor = _real(name, "factor", factor, low=0.0, high=1.0, high_open=True)
        self.min_lr = _real(name, "min_lr", min_lr, low=0.0)
        self.mode = _choice(name, "mode", mode, ("min", "max"))
        self.threshold = _real(name, "threshold", threshold, low=0.0)
        self.threshold_mode = _choice(name, "threshold_mode", threshold_mode, ("rel", "abs"))
        self.cooldown = _integer(name, "cooldown", cooldown, 0)
        self.eps = _real(name, "eps", eps, low=0.0)
        self.reset()

    def reset(self, *, keep_lr=False):
        """Forget the best metric, the bad-epoch and cooldown counters and the
        observation count. The lr goes back to ``base_lr`` unless ``keep_lr``
        (which is PyTorch's internal ``_reset``: new plateau tracking, same lr)."""
        if not keep_lr:
            self._lr = self.base_lr
        self.best = math.inf if self.mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self.last_epoch = 0

    def _is_better(self, metric):
        # The exact comparisons of PyTorch, including its rel threshold on a
        # negative best (best * (1 - threshold) is then *above* best).
        if self.mode == "min":
            if self.threshold_mode == "rel":
                return metric < self.best * (1.0 - self.threshold)
            return metric < self.best - self.threshold
        if self.threshold_mode == "rel":
            return metric > self.best * (self.threshold + 1.0)
        return metric > self.best + self.threshold

    def observe(self, metric):
        """Record one metric value (a float or a one-element tensor); return the lr
        to use from now on."""
        try:
            value = float(metric)
        except (TypeError, ValueError):
            raise SchedulerError("PlateauScheduler.observe: metric must be a real number or a "
                                 f"one-element tensor, got {metric!r}") from None
        self.last_epoch += 1
        if self._is_better(value):
            self.best = value
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs during cooldown do not count
        if self.num_bad_epochs > self.patience:
            new_lr = max(self._lr * self.factor, self.min_lr)
            if self._lr - new_lr > self.eps:
                self._lr = new_lr
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        return self._lr

    def lr(self):
        """The current learning rate."""
        return self._lr

    @property
    def current_lr(self):
        """The current learning rate (same as ``lr()``)."""
        return self._lr

    @property
    def in_cooldown(self):
        return self.cooldown_counter > 0

    def state_dict(self):
        """The evolving state as a plain dict of numbers (settings are not
        included: rebuild the scheduler with the same arguments, then load)."""
        return {"lr": self._lr, "best": self.best, "num_bad_epochs": self.num_bad_epochs,
                "cooldown_counter": self.cooldown_counter, "last_epoch": self.last_epoch}

    def load_state_dict(self, state):
        """Restore what :meth:`state_dict` returned."""
        name = "PlateauScheduler.load_state_dict"
        if not isinstance(state, dict):
            raise SchedulerError(f"{name}: expected a dict, got {type(state).__name__}")
        missing = [k for k in self._STATE_KEYS if k not in state]
        unknown = sorted(str(k) for k in state if k not in self._STATE_KEYS)
        if missing or unknown:
            raise SchedulerError(f"{name}: expected keys {list(self._STATE_KEYS)}; "
                                 f"missing {missing}, unknown {unknown}")
        lr = _real(name, "lr", state["lr"], low=0.0)
        try:
            best = float(state["best"])  # +-inf before the first observation
        except (TypeError, ValueError):
            raise SchedulerError(f"{name}: best must be a real number, "
                                 f"got {state['best']!r}") from None
        counters = {k: _integer(name, k, state[k], 0)
                    for k in ("num_bad_epochs", "cooldown_counter", "last_epoch")}
        self._lr, self.best = lr, best
        self.num_bad_epochs = counters["num_bad_epochs"]
        self.cooldown_counter = counters["cooldown_counter"]
        self.last_epoch = counters["last_epoch"]

    def __repr__(self):
        return (f"PlateauScheduler(base_lr={self.base_lr!r}, patience={self.patience!r}, "
                f"factor={self.factor!r}, min_lr={self.min_lr!r}, mode={self.mode!r}, "
                f"threshold={self.threshold!r}, threshold_mode={self.threshold_mode!r}, "
                f"cooldown={self.cooldown!r}, eps={self.eps!r}; lr={self._lr!r})")
