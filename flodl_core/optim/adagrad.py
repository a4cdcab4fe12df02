"""Adagrad: per-coordinate learning rates from the running sum of squared gradients."""
from __future__ import annotations

from ..backend.array_module import xp_of
from ._update_ops import addcdiv_, effective_grad
from .optimizer import Optimizer, _check_range


class Adagrad(Optimizer):
    """Adagrad, step for step as ``torch.optim.Adagrad``::

        g = grad (+ weight_decay * w)
        clr = lr / (1 + (t - 1) * lr_decay)
        s = s + g * g                      (s starts at initial_accumulator_value)
        w = w - clr * g / (sqrt(s) + eps)
    """

    defaults = dict(lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                    eps=1e-10, maximize=False)
    workspaces = 3

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                 eps: float = 1e-10, *, maximize: bool = False,
                 master_weights: bool = False):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      eps=eps, maximize=maximize), master_weights)

    def _group_added(self, index):
        # torch.optim.Adagrad creates every parameter's state at construction (step 0,
        # sum = initial_accumulator_value), so its state_dict lists parameters that
        # never had a gradient. Do the same, so state dicts match torch's entry for
        # entry. Also for a group from add_param_group, where torch 2.x waits for the
        # first step with a gradient instead: same values, so the same trajectory.
        group, states = self.param_groups[index], self._states[index]
        for j, p in enumerate(group["params"]):
            states[j] = self._new_state(p, group)
            if "master_weight" in states[j]:
                # the copy was taken now: a load into p before the first step
                # swaps its storage, which _step_param then notices and adopts
                self._master_written[id(p)] = p._data

    def _check_hyper(self, group, where):
        super()._check_hyper(group, where)
        _check_range(where, "lr_decay", group["lr_decay"], 0.0)
        _check_range(where, "weight_decay", group["weight_decay"], 0.0)
        _check_range(where, "initial_accumulator_value",
                     group["initial_accumulator_value"], 0.0)
        _check_range(where, "eps", group["eps"], 0.0)

    def _init_state(self, st, w, group):
        st["step"] = 0
        st["sum"] = xp_of(w).full_like(w, group["initial_accumulator_value"])

    def _update(self, w, g, st, group, work):
        xp = xp_of(w)
        g = effective_grad(xp, w, g, group, work(0))
        st["step"] = t = st["step"] + 1
        clr = group["lr"] / (1.0 + (t - 1) * group["lr_decay"])
        s, std, tmp = st["sum"], work(1), work(2)
        xp.multiply(g, g, out=tmp)
        s += tmp
        xp.sqrt(s, out=std)
        std += group["eps"]
        addcdiv_(xp, w, g, std, -clr, tmp)
