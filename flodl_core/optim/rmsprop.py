"""RMSprop (optionally centered, with momentum)."""
from __future__ import annotations

from ..backend.array_module import xp_of
from ._update_ops import add_scaled_, addcdiv_, decay_square_, effective_grad, lerp_
from .optimizer import Optimizer, _check_range


class RMSprop(Optimizer):
    """RMSprop, step for step as ``torch.optim.RMSprop``::

        g = grad (+ weight_decay * w)
        v = alpha * v + (1 - alpha) * g * g
        avg = sqrt(v - ga * ga) + eps,  ga = lerp(ga, g, 1 - alpha)   (centered)
        avg = sqrt(v) + eps                                          (otherwise)
        buf = momentum * buf + g / avg;  w = w - lr * buf            (momentum > 0)
        w = w - lr * g / avg                                         (otherwise)
    """

    defaults = dict(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                    centered=False, maximize=False)
    workspaces = 3

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False,
                 *, maximize: bool = False, master_weights: bool = False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered,
                                      maximize=maximize), master_weights)

    def _check_hyper(self, group, where):
        super()._check_hyper(group, where)
        _check_range(where, "alpha", group["alpha"], 0.0)
        _check_range(where, "eps", group["eps"], 0.0)
        _check_range(where, "momentum", group["momentum"], 0.0)
        _check_range(where, "weight_decay", group["weight_decay"], 0.0)

    def _init_state(self, st, w, group):
        xp = xp_of(w)
        st["step"] = 0
        st["square_avg"] = xp.zeros_like(w)
        if group["momentum"] > 0:
            st["momentum_buffer"] = xp.zeros_like(w)
        if group["centered"]:
            st["grad_avg"] = xp.zeros_like(w)

    def _update(self, w, g, st, group, work):
        xp = xp_of(w)
        g = effective_grad(xp, w, g, group, work(0))
        alpha = group["alpha"]
        st["step"] += 1
        v = st["square_avg"]
        avg, tmp = work(1), work(2)
        decay_square_(xp, v, g, alpha, tmp)
        if group["centered"]:
            ga = st["grad_avg"]
            lerp_(xp, ga, g, 1.0 - alpha, tmp)
            xp.multiply(ga, ga, out=avg)
            xp.subtract(v, avg, out=avg)
            xp.sqrt(avg, out=avg)
        else:
            xp.sqrt(v, out=avg)
        avg += group["eps"]
        if group["momentum"] > 0:
            buf = st["momentum_buffer"]
            buf *= group["momentum"]
            addcdiv_(xp, buf, g, avg, 1.0, tmp)
            add_scaled_(xp, w, buf, -group["lr"], tmp)
        else:
            addcdiv_(xp, w, g, avg, -group["lr"], tmp)
