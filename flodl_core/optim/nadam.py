"""NAdam: Adam with Nesterov momentum and PyTorch's momentum-decay schedule."""
from __future__ import annotations

import numpy as np

from ..backend.array_module import xp_of
from ._update_ops import addcdiv_, decay_square_, effective_grad, lerp_
from .adam import Adam
from .optimizer import Optimizer, _check_range


def _f32(x: float) -> float:
    # PyTorch keeps the running product of momentum coefficients in a float32
    # tensor; rounding it the same way keeps the steps equal.
    return float(np.float32(x))


class NAdam(Adam):
    """NAdam (Dozat, 2016), step for step as ``torch.optim.NAdam``::

        mu_t = beta1 * (1 - 0.5 * 0.96^(t * momentum_decay))
        mu_prod = mu_1 * ... * mu_t
        m, v as in Adam;  denom = sqrt(v / (1 - beta2^t)) + eps
        w = w - lr (1 - mu_t) / (1 - mu_prod) * g / denom
              - lr mu_{t+1} / (1 - mu_prod * mu_{t+1}) * m / denom
    """

    defaults = dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                    momentum_decay=4e-3, decoupled_weight_decay=False, maximize=False)
    workspaces = 3

    def __init__(self, params, lr: float = 2e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, maximize: bool = False,
                 master_weights: bool = False):
        Optimizer.__init__(self, params, dict(
            lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
            momentum_decay=momentum_decay, decoupled_weight_decay=decoupled_weight_decay,
            maximize=maximize), master_weights)

    def _check_hyper(self, group, where):
        super()._check_hyper(group, where)
        _check_range(where, "momentum_decay", group["momentum_decay"], 0.0)

    def _init_state(self, st, w, group):
        super()._init_state(st, w, group)
        st["mu_product"] = 1.0

    def _update(self, w, g, st, group, work):
        xp = xp_of(w)
        lr = group["lr"]
        g = effective_grad(xp, w, g, group, work(0), group["decoupled_weight_decay"])
        beta1, beta2 = group["betas"]
        st["step"] = t = st["step"] + 1
        bias2 = 1.0 - beta2 ** t
        decay = group["momentum_decay"]
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * decay))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * decay))
        st["mu_product"] = mu_product = _f32(st["mu_product"] * _f32(mu))
        m, v = st["exp_avg"], st["exp_avg_sq"]
        denom, tmp = work(1), work(2)
        lerp_(xp, m, g, 1.0 - beta1, tmp)
        decay_square_(xp, v, g, beta2, tmp)
        xp.divide(v, bias2, out=denom)
        xp.sqrt(denom, out=denom)
        denom += group["eps"]
        addcdiv_(xp, w, g, denom, -lr * (1.0 - mu) / (1.0 - mu_product), tmp)
        addcdiv_(xp, w, m, denom, -lr * mu_next / (1.0 - mu_product * mu_next), tmp)
