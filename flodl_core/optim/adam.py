"""Adam and AdamW (L2 versus decoupled weight decay; optional AMSGrad)."""
from __future__ import annotations

import math

from ..backend.array_module import xp_of
from ._update_ops import addcdiv_, decay_square_, effective_grad, lerp_
from .optimizer import Optimizer, _check_betas, _check_range


class Adam(Optimizer):
    """Adam, step for step as ``torch.optim.Adam``::

        g = grad (+ weight_decay * w)            (AdamW: w *= 1 - lr * weight_decay)
        m = lerp(m, g, 1 - beta1)
        v = beta2 * v + (1 - beta2) * g * g
        v_max = max(v_max, v)                    (amsgrad)
        denom = sqrt(v or v_max) / sqrt(1 - beta2^t) + eps
        w = w - lr / (1 - beta1^t) * m / denom
    """

    defaults = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                    amsgrad=False, maximize=False)
    workspaces = 3
    #: AdamW applies weight decay to the weights, not through the gradient.
    decoupled = False

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False, *,
                 maximize: bool = False, master_weights: bool = False):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize), master_weights)

    def _check_hyper(self, group, where):
        super()._check_hyper(group, where)
        _check_betas(where, group["betas"])
        _check_range(where, "eps", group["eps"], 0.0)
        _check_range(where, "weight_decay", group["weight_decay"], 0.0)

    def _init_state(self, st, w, group):
        xp = xp_of(w)
        st["step"] = 0
        st["exp_avg"] = xp.zeros_like(w)
        st["exp_avg_sq"] = xp.zeros_like(w)
        if group.get("amsgrad"):            # RAdam and NAdam share this state
            st["max_exp_avg_sq"] = xp.zeros_like(w)

    def _update(self, w, g, st, group, work):
        xp = xp_of(w)
        g = effective_grad(xp, w, g, group, work(0), self.decoupled)
        beta1, beta2 = group["betas"]
        st["step"] = t = st["step"] + 1
        m, v = st["exp_avg"], st["exp_avg_sq"]
        denom, tmp = work(1), work(2)
        lerp_(xp, m, g, 1.0 - beta1, tmp)
        decay_square_(xp, v, g, beta2, tmp)
        if group["amsgrad"]:
            v = xp.maximum(st["max_exp_avg_sq"], v, out=st["max_exp_avg_sq"])
        step_size = group["lr"] / (1.0 - beta1 ** t)
        xp.sqrt(v, out=denom)
        denom /= math.sqrt(1.0 - beta2 ** t)
        denom += group["eps"]
        addcdiv_(xp, w, m, denom, -step_size, tmp)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), as ``torch.optim.AdamW``.

    ``AdamW(params, lr, weight_decay)``: the decay multiplies the weights by
    ``1 - lr * weight_decay`` before the Adam step instead of entering the gradient.
    """

    defaults = dict(Adam.defaults, weight_decay=1e-2)
    decoupled = True

    def __init__(self, params, lr: float = 1e-3, weight_decay: float = 1e-2, *,
                 betas=(0.9, 0.999), eps: float = 1e-8, amsgrad: bool = False,
                 maximize: bool = False, master_weights: bool = False):
        Optimizer.__init__(self, params, dict(lr=lr, betas=betas, eps=eps,
                                              weight_decay=weight_decay, amsgrad=amsgrad,
                                              maximize=maximize), master_weights)
