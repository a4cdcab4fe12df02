"""SGD with momentum, dampening, Nesterov momentum and L2 weight decay."""
from __future__ import annotations

from ..backend.array_module import xp_of
from ..errors import OptimizerError
from ._update_ops import add_scaled_, effective_grad
from .optimizer import Optimizer, _check_range


class SGD(Optimizer):
    """Stochastic gradient descent, step for step as ``torch.optim.SGD``::

        g = grad (+ weight_decay * w)
        buf = g                                  (first step)
        buf = momentum * buf + (1 - dampening) * g
        g = g + momentum * buf  if nesterov  else  buf
        w = w - lr * g

    >>> import flodl_core as fl
    >>> w = fl.nn.Parameter(fl.tensor([1.0, 2.0]))
    >>> (w * w).sum().backward()
    >>> opt = fl.SGD([w], 0.1, momentum=0.9)
    >>> opt.step()
    >>> w.tolist()
    [0.800000011920929, 1.600000023841858]
    """

    defaults = dict(lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                    nesterov=False, maximize=False)
    workspaces = 2

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0,
                 nesterov: bool = False, *, maximize: bool = False,
                 master_weights: bool = False):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize), master_weights)

    def _check_hyper(self, group, where):
        super()._check_hyper(group, where)
        _check_range(where, "momentum", group["momentum"], 0.0)
        _check_range(where, "weight_decay", group["weight_decay"], 0.0)
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise OptimizerError(f"{where}: Nesterov momentum needs momentum > 0 and "
                             f"dampening = 0, got momentum={group['momentum']}, "
                             f"dampening={group['dampening']}")

    def _init_state(self, st, w, group):
        if group["momentum"] != 0:
            st["momentum_buffer"] = None        # becomes a copy of the first gradient

    def _update(self, w, g, st, group, work):
        xp = xp_of(w)
        g = effective_grad(xp, w, g, group, work(0))
        momentum = group["momentum"]
        if momentum != 0:
            buf = st.get("momentum_buffer")
            if buf is None:
                st["momentum_buffer"] = buf = g.copy()
            else:
                buf *= momentum
                add_scaled_(xp, buf, g, 1.0 - group["dampening"], work(1))
            if group["nesterov"]:
                # g + momentum * buf, written over the effective-gradient workspace
                # (g may be the caller's gradient array, which is never mutated).
                nesterov = work(1)
                xp.multiply(buf, momentum, out=nesterov)
                nesterov += g
                g = nesterov
            else:
                g = buf
        # The temporary may alias g when g is a workspace: g is not read afterwards.
        add_scaled_(xp, w, g, -group["lr"], work(1))
