"""GradScaler: dynamic loss scaling for float16 training.

Small float16 gradients underflow to zero. Multiplying the loss by a large scale
``S`` before backward multiplies every gradient by ``S`` too, lifting them into
float16's range; the scaler divides them by ``S`` again before the optimizer
step. When a scaled gradient overflowed (Inf/NaN), that step is skipped and
``S`` shrinks; after ``growth_interval`` clean steps in a row, ``S`` grows. The
rules are PyTorch's ``torch.amp.GradScaler``::

    scaler = GradScaler()
    for x, y in batches:
        opt.zero_grad()
        with autocast(DType.Float16):
            loss = cross_entropy_loss(model(x), y)
        scaler.scale(loss).backward()
        scaler.unscale(opt)                 # optional: to clip the true gradients
        clip_grad_norm(model.parameters(), 1.0)
        scaler.step(opt)                    # skipped if any gradient is Inf/NaN
        scaler.update()
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.variable import Variable
from ..backend.array_module import xp_of
from ..errors import OptimizerError

_UNSCALED, _STEPPED = "unscaled", "stepped"


def _f32(x: float) -> float:
    # PyTorch keeps the scale in a float32 tensor.
    return float(np.float32(x))


class GradScaler:
    """Loss scaler. ``enabled=False`` makes every method a pass-through."""

    def __init__(self, init_scale: float = 65536.0, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000,
                 enabled: bool = True):
        if not init_scale > 0:
            raise OptimizerError(f"GradScaler: init_scale must be > 0, got {init_scale}")
        if not growth_factor > 1.0:
            raise OptimizerError(f"GradScaler: growth_factor must be > 1, got {growth_factor}")
        if not 0.0 < backoff_factor < 1.0:
            raise OptimizerError(f"GradScaler: backoff_factor must be in (0, 1), got "
                             f"{backoff_factor}")
        if int(growth_interval) != growth_interval or growth_interval < 1:
            raise OptimizerError(f"GradScaler: growth_interval must be a positive integer, "
                             f"got {growth_interval}")
        self.enabled = bool(enabled)
        self._scale = _f32(init_scale)
        self.growth_factor = float(growth_factor)
        self.backoff_factor = float(backoff_factor)
        self.growth_interval = int(growth_interval)
        self._growth_tracker = 0
        # Per optimizer since the last update(): its stage and whether it saw Inf/NaN.
        self._per_optimizer: dict = {}

    # ------------------------------------------------------------------ scale
    @property
    def scale_factor(self) -> float:
        """The current loss scale (1.0 when disabled)."""
        return self._scale if self.enabled else 1.0

    def get_scale(self) -> float:
        return self.scale_factor

    def scale(self, loss):
        """``loss * scale_factor`` (a differentiable Variable op); Tensors and
        lists/tuples of them are scaled element by element."""
        if not self.enabled:
            return loss
        if isinstance(loss, (list, tuple)):
            return type(loss)(self.scale(x) for x in loss)
        return loss * self._scale

    # ---------------------------------------------------------------- unscale
    def unscale(self, optimizer) -> None:
        """Divide the optimizer's gradients by the scale, once per step.

        Call it before clipping so the clip sees true gradients. Records whether
        any gradient is Inf/NaN; ``step`` then skips the update.
        """
        if not self.enabled:
            return
        record = self._per_optimizer.get(id(optimizer))
        if record is not None:
            stage = record[0]
            raise RuntimeError("GradScaler.unscale: already called on this optimizer "
                               "since the last update()" if stage == _UNSCALED else
                               "GradScaler.unscale: the optimizer already stepped; call "
                               "update() first")
        inv = _f32(1.0 / self._scale)
        found_inf = False
        for p in optimizer.parameters():
            g = p._grad
            if g is None:
                continue
            if type(g) is Variable:
                g = g._data
            xp = xp_of(g)
            # Half-precision grads are unscaled in float32, then rounded back.
            if g.dtype.itemsize < 4:
                unscaled = g.astype(np.float32)
                unscaled *= np.float32(inv)
            else:
                unscaled = xp.multiply(g, g.dtype.type(inv))
            # A float64 sum of the values is finite exactly when every value is:
            # it cannot overflow, and Inf or NaN propagate. One pass, no mask.
            if not found_inf and not math.isfinite(float(unscaled.sum(dtype=np.float64))):
                found_inf = True
            p._grad = unscaled.astype(g.dtype, copy=False)
        self._per_optimizer[id(optimizer)] = [_UNSCALED, found_inf, optimizer]

    # ------------------------------------------------------------------- step
    def step(self, optimizer, closure=None) -> bool:
        """Unscale (if not done yet) and step unless a gradient is Inf/NaN.

        Returns whether the optimizer stepped.
        """
        if not self.enabled:
            optimizer.step(closure) if closure is not None else optimizer.step()
            return True
        record = self._per_optimizer.get(id(optimizer))
        if record is None:
            self.unscale(optimizer)
            record = self._per_optimizer[id(optimizer)]
        elif record[0] == _STEPPED:
            raise RuntimeError("GradScaler.step: already called on this optimizer since "
                               "the last update()")
        record[0] = _STEPPED
        if record[1]:
            return False
        optimizer.step(closure) if closure is not None else optimizer.step()
        return True

    # ----------------------------------------------------------------- update
    def update(self, new_scale: float | None = None) -> None:
        """Adjust the scale for the next iteration (PyTorch's rule).

        Any Inf/NaN since the last update: scale *= backoff_factor, and the count
        of clean steps restarts. Otherwise the count grows; reaching
        ``growth_interval`` multiplies the scale by ``growth_factor``.
        ``new_scale`` sets the scale directly instead.
        """
        if not self.enabled:
            return
        if new_scale is not None:
            if not new_scale > 0:
                raise OptimizerError(f"GradScaler.update: new_scale must be > 0, got {new_scale}")
            self._scale = _f32(new_scale)
        elif self._per_optimizer:
            if any(record[1] for record in self._per_optimizer.values()):
                self._scale = _f32(self._scale * self.backoff_factor)
                self._growth_tracker = 0
            else:
                self._growth_tracker += 1
                if self._growth_tracker == self.growth_interval:
                    grown = _f32(self._scale * self.growth_factor)
                    if math.isfinite(grown):
                        self._scale = grown
                    self._growth_tracker = 0
        self._per_optimizer.clear()

    # ------------------------------------------------------------- state_dict
    def state_dict(self) -> dict:
        """Plain numbers, PyTorch's keys (empty when disabled, as PyTorch)."""
        if not self.enabled:
            return {}
        return {"scale": self._scale, "growth_factor": self.growth_factor,
                "backoff_factor": self.backoff_factor,
                "growth_interval": self.growth_interval,
                "_growth_tracker": self._growth_tracker}

    def load_state_dict(self, state: dict) -> None:
        if not self.enabled:
            return
        if not state:
            raise OptimizerError("GradScaler.load_state_dict: the state is empty (saved from a "
                             "disabled scaler?)")
        try:
            scale = _f32(_number(state["scale"]))
            tracker = int(_number(state["_growth_tracker"]))
            growth = float(state["growth_factor"])
            backoff = float(state["backoff_factor"])
            interval = int(state["growth_interval"])
        except KeyError as e:
            raise OptimizerError(f"GradScaler.load_state_dict: missing key {e}") from None
        self._scale, self._growth_tracker = scale, tracker
        self.growth_factor, self.backoff_factor, self.growth_interval = growth, backoff, interval

    def __repr__(self):
        return (f"GradScaler(scale={self.scale_factor:g}, growth_factor={self.growth_factor}, "
                f"backoff_factor={self.backoff_factor}, "
                f"growth_interval={self.growth_interval}, enabled={self.enabled})")


def _number(x):
    return x.item() if hasattr(x, "item") else x
