"""Helpers shared by the flodl-vs-torch model cases (lenet_step, resnet_blocks,
transformer_block). Nothing here imports NumPy or torch at module level: the harness
sets the thread variables before either is imported, inside the factories.

Conventions of those cases:

* weights are generated once with NumPy (``default_rng(0)``) in PyTorch's layouts
  (conv weight ``(out, in, kh, kw)``, linear weight ``(out, in)``) and the very same
  arrays are handed to both frameworks;
* the update is SGD with momentum, in place on the parameter arrays, with the same
  formula in both frameworks (as in ``mlp_step``)::

      buf = 0.9 * buf + g;  p -= lr * buf          (buf starts at zero)

* the check values are the losses of the first ``CHECK_STEPS`` steps, then
  ``sum(buf**2)`` over all momentum buffers after those steps (float64): the buffers
  are a weighted sum of every parameter's gradients, so this catches a wrong
  gradient of any op even where it moves the loss only a little.
"""
from __future__ import annotations

LR = 0.01
MOMENTUM = 0.9
CHECK_STEPS = 5


def uniform_fan_in(rng, shape, fan_in):
    """``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` float32: PyTorch's default Linear/Conv init."""
    import numpy as np
    bound = 1.0 / np.sqrt(fan_in)
    return rng.uniform(-bound, bound, shape).astype(np.float32)


def onehot(labels, classes):
    import numpy as np
    out = np.zeros((len(labels), classes), np.float32)
    out[np.arange(len(labels)), labels] = 1.0
    return out


# ------------------------------------------------------------------ flodl_core


class FlodlSGD:
    """In-place SGD with momentum on flodl Variables' arrays, no temporaries per step."""

    def __init__(self, params):
        import numpy as np
        self.params = list(params)
        self.bufs = [np.zeros_like(p._data) for p in self.params]
        self.tmps = [np.empty_like(p._data) for p in self.params]

    def step(self):
        import numpy as np
        for p, buf, tmp in zip(self.params, self.bufs, self.tmps):
            np.multiply(buf, MOMENTUM, out=buf)
            np.add(buf, p.grad_array(), out=buf)
            np.multiply(buf, LR, out=tmp)
            np.subtract(p._data, tmp, out=p._data)
            p.zero_grad()

    def buf_sq_sum(self) -> float:
        import numpy as np
        return float(sum(np.square(b, dtype=np.float64).sum() for b in self.bufs))


def flodl_meta() -> dict:
    import flodl_core as fl
    return {"flodl_core": fl.__version__, "malloc_tuned": fl.malloc_tuned()}


# ----------------------------------------------------------------------- torch


class TorchSGD:
    """The same update with torch in-place ops (``p.grad = None`` afterwards)."""

    def __init__(self, params):
        import torch
        self.params = list(params)
        self.bufs = [torch.zeros_like(p) for p in self.params]

    def step(self):
        import torch
        with torch.no_grad():
            for p, buf in zip(self.params, self.bufs):
                buf.mul_(MOMENTUM).add_(p.grad)
                p.sub_(buf, alpha=LR)
                p.grad = None

    def buf_sq_sum(self) -> float:
        return float(sum(b.double().square().sum().item() for b in self.bufs))


def torch_setup(threads: int):
    """Import torch with ``threads`` intra-op threads; returns (torch, meta)."""
    import torch
    torch.set_num_threads(threads)
    return torch, {"torch": torch.__version__, "torch_threads": torch.get_num_threads(),
                   "malloc_tuned": False}


def check_values(step, opt, extra=None):
    """The check: CHECK_STEPS losses, then sum(buf**2), then ``extra()`` values if given."""
    def check():
        vals = [float(step()) for _ in range(CHECK_STEPS)]
        vals.append(opt.buf_sq_sum())
        if extra is not None:
            vals += [float(v) for v in extra()]
        return vals
    return check
