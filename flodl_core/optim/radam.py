"""RAdam: Adam with the variance of the adaptive learning rate rectified."""
from __future__ import annotations

import math

from ..backend.array_module import xp_of
from ._update_ops import add_scaled_, decay_square_, effective_grad, lerp_
from .adam import Adam
from .optimizer import Optimizer


class RAdam(Adam):
    """Rectified Adam (Liu et al., 2019), step for step as ``torch.optim.RAdam``.

    Early on, while the second-moment estimate is based on too few steps
    (``rho_t <= 5``), the step is plain momentum SGD ``w -= lr * m / (1 - beta1^t)``;
    afterwards the adaptive step is scaled by the rectification term ``r_t``. This
    acts as an automatic warm-up. ``decoupled_weight_decay=True`` decays the weights
    as AdamW does.
    """

    defaults = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                    decoupled_weight_decay=False, maximize=False)
    workspaces = 3

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, decoupled_weight_decay: bool = False, *,
                 maximize: bool = False, master_weights: bool = False):
        Optimizer.__init__(self, params, dict(
            lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
            decoupled_weight_decay=decoupled_weight_decay, maximize=maximize),
            master_weights)

    def _update(self, w, g, st, group, work):
        xp = xp_of(w)
        lr = group["lr"]
        g = effective_grad(xp, w, g, group, work(0), group["decoupled_weight_decay"])
        beta1, beta2 = group["betas"]
        st["step"] = t = st["step"] + 1
        m, v = st["exp_avg"], st["exp_avg_sq"]
        step, tmp = work(1), work(2)
        lerp_(xp, m, g, 1.0 - beta1, tmp)
        decay_square_(xp, v, g, beta2, tmp)
        bias1 = 1.0 - beta1 ** t
        bias2 = 1.0 - beta2 ** t
        xp.divide(m, bias1, out=step)                   # bias-corrected first moment
        rho_inf = 2.0 / (1.0 - beta2) - 1.0
        rho_t = rho_inf - 2.0 * t * beta2 ** t / bias2
        step *= lr
        if rho_t > 5.0:
            rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                             / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            # adaptive lr = sqrt(bias2) / (sqrt(v) + eps)
            xp.sqrt(v, out=tmp)
            tmp += group["eps"]
            xp.divide(math.sqrt(bias2), tmp, out=tmp)
            step *= tmp
            step *= rect
        add_scaled_(xp, w, step, -1.0, tmp)
