"""Finite-difference checks of gradients, for the framework's ops and yours.

``gradcheck`` builds the full Jacobian twice, analytically (one backward per
output element) and numerically (central differences, one pair of forwards
per input element), and compares them element by element. It is exact about
what it checks, so keep shapes tiny and inputs in float64.

>>> import flodl_core as fl
>>> x = fl.Variable(fl.randn(3, dtype=fl.DType.Float64), requires_grad=True)
>>> fl.gradcheck(lambda v: (v * v).sum(), [x])
True
"""
from __future__ import annotations

import numpy as np

from ..backend.array_module import xp_of
from ..errors import GradcheckError
from ..tensor import Tensor, TensorLike
from .engine import grad as _grad
from .variable import Variable


def _outputs(result):
    if isinstance(result, TensorLike):
        result = (result,)
    outs = []
    for r in result:
        # Outputs that do not require grad (indices, constant branches) are skipped.
        if isinstance(r, Variable) and r._data.dtype.kind == "f" and r._requires_grad:
            outs.append(r)
    return outs


def _host(a):
    return a if type(a) is np.ndarray else a.get()


def _check_inputs(who, inputs):
    diff = []
    for i, x in enumerate(inputs):
        if isinstance(x, Variable) and x.requires_grad:
            if x._data.dtype != np.float64:
                raise ValueError(f"{who}: input {i} is {x.dtype}; finite differences need "
                                 "Float64 inputs (convert with .to_dtype(DType.Float64))")
            diff.append(i)
    if not diff:
        raise ValueError(f"{who}: no input is a Variable with requires_grad=True")
    return diff


def _numeric_jacobian(fn, inputs, diff, n_out_elems, eps):
    """Rows: flattened outputs; one column block per differentiable input."""
    blocks = []
    for i in diff:
        x = inputs[i]
        base = x._data
        xp = xp_of(base)
        flat = xp.array(base, copy=True).reshape(-1)
        J = np.zeros((n_out_elems, flat.size))
        for k in range(flat.size):
            orig = flat[k].item()
            vals = []
            for delta in (eps, -eps):
                flat[k] = orig + delta
                args = list(inputs)
                # Keep requires_grad: fn may differentiate inside (gradgradcheck).
                args[i] = Variable._make(flat.reshape(base.shape).copy(), requires_grad=True)
                outs = _outputs(fn(*args))
                vals.append(np.concatenate([_host(o._data).reshape(-1).astype(np.float64)
                                            for o in outs]) if outs else np.zeros(0))
            flat[k] = orig
            J[:, k] = (vals[0] - vals[1]) / (2 * eps)
        blocks.append(J)
    return blocks


def _analytic_jacobian(outs, inputs, diff):
    sizes = [o._data.size for o in outs]
    n = sum(sizes)
    blocks = [np.zeros((n, inputs[i]._data.size)) for i in diff]
    diff_vars = [inputs[i] for i in diff]
    row = 0
    for oi, o in enumerate(outs):
        xp = xp_of(o._data)
        for j in range(sizes[oi]):
            gos = []
            for ok, other in enumerate(outs):
                g = xp.zeros(other._data.shape, dtype=other._data.dtype)
                if ok == oi:
                    g.reshape(-1)[j] = 1
                gos.append(Tensor._wrap(g))
            grads = _grad(outs, diff_vars, gos, retain_graph=True, allow_unused=True)
            for b, g in zip(blocks, grads):
                if g is not None:
                    b[row] = _host(g._data).reshape(-1)
            row += 1
    return blocks


def gradcheck(fn, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True) -> bool:
    """Compare the analytic Jacobian of ``fn`` with central finite differences.

    Args:
        fn: takes ``*inputs`` and returns a Variable or a sequence of Variables.
        inputs: Variables (Float64; those with requires_grad are checked) and
            any other arguments ``fn`` takes.
        eps: finite-difference step.
        atol, rtol: an element passes when ``|analytic - numeric| <= atol + rtol * |numeric|``.
        raise_exception: raise GradcheckError on failure (else return False).

    Returns:
        True when every element agrees.

    Raises:
        GradcheckError: naming the worst element (input index, position,
        output element, analytic vs numeric value).
    """
    inputs = list(inputs)
    diff = _check_inputs("gradcheck", inputs)
    outs = _outputs(fn(*inputs))
    if not outs:
        raise ValueError("gradcheck: fn returned no floating-point Variable")
    n_out = sum(o._data.size for o in outs)
    analytic = _analytic_jacobian(outs, inputs, diff)
    numeric = _numeric_jacobian(fn, inputs, diff, n_out, eps)
    worst = None
    for i, A, N in zip(diff, analytic, numeric):
        excess = np.abs(A - N) - (atol + rtol * np.abs(N))
        if excess.size and (not np.all(np.isfinite(A)) or excess.max() > 0):
            bad = np.where(np.isfinite(excess), excess, np.inf)
            r, c = np.unravel_index(np.argmax(bad), bad.shape)
            if worst is None or bad[r, c] > worst[0]:
                worst = (bad[r, c], i, r, c, A[r, c], N[r, c])
    if worst is None:
        return True
    _, i, r, c, a, nval = worst
    shape = inputs[i].shape
    pos = tuple(int(p) for p in np.unravel_index(c, shape)) if shape else ()
    out_idx, out_pos = _locate_output(outs, r)
    msg = (f"gradcheck failed: input {i} at position {pos}, output {out_idx} at "
           f"{out_pos}: analytic {a:.8g} vs numeric {nval:.8g} "
           f"(|diff| {abs(a - nval):.3g} > atol {atol:g} + rtol {rtol:g} * |numeric|)")
    if raise_exception:
        raise GradcheckError(msg)
    return False


def _locate_output(outs, row):
    for k, o in enumerate(outs):
        if row < o._data.size:
            shape = o.shape
            return k, (tuple(int(p) for p in np.unravel_index(row, shape)) if shape else ())
        row -= o._data.size
    return -1, ()


def gradgradcheck(fn, inputs, grad_outputs=None, eps: float = 1e-6, atol: float = 1e-5,
                  rtol: float = 1e-3, raise_exception: bool = True, seed: int = 0) -> bool:
    """Check second derivatives: gradcheck of the vector-Jacobian product of ``fn``.

    The upstream gradients default to random Float64 values; they become extra
    differentiable inputs, so the check covers d(vjp)/d(input) and
    d(vjp)/d(grad_output).
    """
    inputs = list(inputs)
    diff = _check_inputs("gradgradcheck", inputs)
    outs = _outputs(fn(*inputs))
    if grad_outputs is None:
        rng = np.random.default_rng(seed)
        grad_outputs = [Variable(Tensor._wrap(_to_like(rng.standard_normal(o.shape), o._data)),
                                 requires_grad=True) for o in outs]
    else:
        grad_outputs = [g if isinstance(g, Variable) else Variable(g, requires_grad=True)
                        for g in grad_outputs]
    n_in = len(inputs)

    def vjp(*args):
        xs, gys = list(args[:n_in]), args[n_in:]
        ys = _outputs(fn(*xs))
        grads = _grad(ys, [xs[i] for i in diff], list(gys), create_graph=True,
                      allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(vjp, inputs + list(grad_outputs), eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)


def _to_like(arr, like):
    xp = xp_of(like)
    return arr if xp is np else xp.asarray(arr)
