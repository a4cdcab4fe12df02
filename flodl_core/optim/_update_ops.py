"""In-place array steps shared by the optimizers, in PyTorch's evaluation order.

Each helper mirrors one PyTorch tensor method (named in its docstring) and writes
its temporaries into a caller-supplied workspace ``tmp``, so an optimizer step
allocates nothing. Evaluation order follows PyTorch's CPU kernels, which keeps
results equal to PyTorch's up to float32 rounding (PyTorch's vectorised kernels
may fuse a multiply-add where NumPy rounds twice).
"""
from __future__ import annotations


def effective_grad(xp, w, g, group: dict, out, decoupled: bool = False):
    """The gradient the algorithm sees: negated when maximizing, plus L2 weight
    decay (``grad.add(param, alpha=weight_decay)``) unless the decay is decoupled.

    Decoupled decay (AdamW) shrinks ``w`` in place instead:
    ``param.mul_(1 - lr * weight_decay)``. Returns ``g`` itself when nothing
    changes, else ``out``.
    """
    wd = group["weight_decay"]
    maximize = group.get("maximize", False)
    if wd and decoupled:
        w *= 1.0 - group["lr"] * wd
        wd = 0.0
    if wd:
        xp.multiply(w, wd, out=out)
        if maximize:
            xp.subtract(out, g, out=out)        # -g + wd*w
        else:
            out += g
        return out
    if maximize:
        xp.negative(g, out=out)
        return out
    return g


def lerp_(xp, a, b, weight: float, tmp) -> None:
    """``a.lerp_(b, weight)``: a += weight * (b - a), PyTorch's two-sided form."""
    xp.subtract(b, a, out=tmp)
    if abs(weight) < 0.5:
        tmp *= weight
        a += tmp
    else:
        tmp *= 1.0 - weight
        xp.subtract(b, tmp, out=a)


def decay_square_(xp, v, g, beta: float, tmp) -> None:
    """``v.mul_(beta).addcmul_(g, g, value=1 - beta)``: an EMA of g squared."""
    v *= beta
    xp.multiply(g, 1.0 - beta, out=tmp)
    tmp *= g
    v += tmp


def addcdiv_(xp, w, num, den, value: float, tmp) -> None:
    """``w.addcdiv_(num, den, value=value)``: w += value * num / den."""
    xp.multiply(num, value, out=tmp)
    tmp /= den
    w += tmp


def add_scaled_(xp, w, x, alpha: float, tmp) -> None:
    """``w.add_(x, alpha=alpha)``: w += alpha * x."""
    xp.multiply(x, alpha, out=tmp)
    w += tmp
