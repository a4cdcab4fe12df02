"""Each optimizer's update equals its written-out algorithm, step for step.

The references below are deliberately plain float64 NumPy transcriptions of the
algorithms as PyTorch documents them (torch.optim docs, "Algorithm" boxes); they
share no code with flodl_core.optim. Parameters in float64 must agree to ~1e-12,
float32 parameters to float32 rounding.
"""
import math

import numpy as np
import pytest

import flodl_core as fl

SHAPE = (5, 7)
STEPS = 8


# ------------------------------------------------------------ references (f64)
def ref_sgd(w, grads, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
            maximize=False):
    b = None
    for g in grads:
        g = -g if maximize else g
        g = g + weight_decay * w
        if momentum:
            b = g.copy() if b is None else momentum * b + (1 - dampening) * g
            g = g + momentum * b if nesterov else b
        w = w - lr * g
    return w


def ref_adam(w, grads, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
             maximize=False, decoupled=False):
    b1, b2 = betas
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    vmax = np.zeros_like(w)
    for t, g in enumerate(grads, 1):
        g = -g if maximize else g
        if decoupled:
            w = w * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * w
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        if amsgrad:
            vmax = np.maximum(vmax, v)
        vhat = (vmax if amsgrad else v) / (1 - b2 ** t)
        w = w - lr * (m / (1 - b1 ** t)) / (np.sqrt(vhat) + eps)
    return w


def ref_rmsprop(w, grads, lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                centered=False, maximize=False):
    v = np.zeros_like(w)
    ga = np.zeros_like(w)
    b = np.zeros_like(w)
    for g in grads:
        g = -g if maximize else g
        g = g + weight_decay * w
        v = alpha * v + (1 - alpha) * g * g
        if centered:
            ga = alpha * ga + (1 - alpha) * g
            avg = np.sqrt(v - ga * ga) + eps
        else:
            avg = np.sqrt(v) + eps
        if momentum > 0:
            b = momentum * b + g / avg
            w = w - lr * b
        else:
            w = w - lr * g / avg
    return w


def ref_adagrad(w, grads, lr, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                eps=1e-10, maximize=False):
    s = np.full_like(w, initial_accumulator_value)
    for t, g in enumerate(grads, 1):
        g = -g if maximize else g
        g = g + weight_decay * w
        clr = lr / (1 + (t - 1) * lr_decay)
        s = s + g * g
        w = w - clr * g / (np.sqrt(s) + eps)
    return w


def ref_radam(w, grads, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
              decoupled_weight_decay=False, maximize=False):
    b1, b2 = betas
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    rho_inf = 2 / (1 - b2) - 1
    for t, g in enumerate(grads, 1):
        g = -g if maximize else g
        if decoupled_weight_decay:
            w = w * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * w
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        mhat = m / (1 - b1 ** t)
        rho_t = rho_inf - 2 * t * b2 ** t / (1 - b2 ** t)
        if rho_t > 5:
            r = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                          / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            adaptive = math.sqrt(1 - b2 ** t) / (np.sqrt(v) + eps)
            w = w - lr * mhat * r * adaptive
        else:
            w = w - lr * mhat
    return w


def ref_nadam(w, grads, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
              momentum_decay=4e-3, decoupled_weight_decay=False, maximize=False):
    b1, b2 = betas
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    mu_prod = 1.0
    for t, g in enumerate(grads, 1):
        g = -g if maximize else g
        if decoupled_weight_decay:
            w = w * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * w
        mu = b1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
        mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
        # PyTorch keeps the running product in a float32 scalar tensor.
        mu_prod = float(np.float32(mu_prod) * np.float32(mu))
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        vhat = v / (1 - b2 ** t)
        denom = np.sqrt(vhat) + eps
        w = (w - lr * (1 - mu) / (1 - mu_prod) * g / denom
             - lr * mu_next / (1 - mu_prod * mu_next) * m / denom)
    return w


CASES = [
    ("SGD", ref_sgd, dict(lr=0.1)),
    ("SGD", ref_sgd, dict(lr=0.1, momentum=0.9)),
    ("SGD", ref_sgd, dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.01)),
    ("SGD", ref_sgd, dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1)),
    ("SGD", ref_sgd, dict(lr=0.05, momentum=0.5, maximize=True)),
    ("Adam", ref_adam, dict(lr=1e-2)),
    ("Adam", ref_adam, dict(lr=1e-2, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    ("Adam", ref_adam, dict(lr=1e-2, amsgrad=True)),
    ("Adam", ref_adam, dict(lr=1e-2, amsgrad=True, weight_decay=0.05, maximize=True)),
    ("AdamW", ref_adam, dict(lr=1e-2, weight_decay=0.1)),
    ("AdamW", ref_adam, dict(lr=1e-2, weight_decay=0.3, amsgrad=True)),
    ("RMSprop", ref_rmsprop, dict(lr=1e-2)),
    ("RMSprop", ref_rmsprop, dict(lr=1e-2, alpha=0.9, momentum=0.9, weight_decay=0.1)),
    ("RMSprop", ref_rmsprop, dict(lr=1e-2, centered=True)),
    ("RMSprop", ref_rmsprop, dict(lr=1e-2, centered=True, momentum=0.5, maximize=True)),
    ("Adagrad", ref_adagrad, dict(lr=0.1)),
    ("Adagrad", ref_adagrad, dict(lr=0.1, lr_decay=0.05, weight_decay=0.1,
                                  initial_accumulator_value=0.3, eps=1e-6)),
    ("RAdam", ref_radam, dict(lr=1e-2)),
    ("RAdam", ref_radam, dict(lr=1e-2, betas=(0.9, 0.9), weight_decay=0.1)),
    ("RAdam", ref_radam, dict(lr=1e-2, betas=(0.9, 0.9), weight_decay=0.1,
                              decoupled_weight_decay=True)),
    ("NAdam", ref_nadam, dict(lr=1e-2)),
    ("NAdam", ref_nadam, dict(lr=1e-2, momentum_decay=1e-2, weight_decay=0.1)),
    ("NAdam", ref_nadam, dict(lr=1e-2, weight_decay=0.1, decoupled_weight_decay=True)),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for name, _, kw in CASES]


def _problem(seed=0):
    rng = np.random.default_rng(seed)
    w0 = rng.standard_normal(SHAPE)
    grads = [rng.standard_normal(SHAPE) for _ in range(STEPS)]
    return w0, grads


def _run(name, kw, w0, grads, dtype, device):
    p = fl.nn.Parameter(fl.tensor(w0.astype(dtype), device=device))
    kw = dict(kw)
    if name == "AdamW":
        opt = fl.AdamW([p], kw.pop("lr"), kw.pop("weight_decay"), **kw)
    else:
        opt = getattr(fl, name)([p], **kw)
    for g in grads:
        p.grad = fl.tensor(g.astype(dtype), device=device)
        opt.step()
    return p.to_numpy().astype(np.float64), opt


@pytest.mark.parametrize("name,ref,kw", CASES, ids=IDS)
def test_float64_steps_equal_the_algorithm(name, ref, kw, device):
    w0, grads = _problem()
    got, _ = _run(name, kw, w0, grads, np.float64, device)
    ref_kw = dict(kw)
    if name == "AdamW":
        ref_kw["decoupled"] = True
    expected = ref(w0.copy(), grads, **ref_kw)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-13)
    assert not np.allclose(got, w0), "the optimizer must have moved the weights"


@pytest.mark.parametrize("name,ref,kw", CASES, ids=IDS)
def test_float32_steps_equal_the_algorithm_to_float32_rounding(name, ref, kw, device):
    w0, grads = _problem(1)
    w0 = w0.astype(np.float32).astype(np.float64)
    grads = [g.astype(np.float32).astype(np.float64) for g in grads]
    got, _ = _run(name, kw, w0, grads, np.float32, device)
    ref_kw = dict(kw)
    if name == "AdamW":
        ref_kw["decoupled"] = True
    expected = ref(w0.copy(), grads, **ref_kw)
    scale = np.abs(expected).max()
    assert np.abs(got - expected).max() <= 2e-6 * scale


def test_one_adam_step_by_hand():
    # First Adam step: m = 0.1 g, v = 0.001 g^2, bias-corrected m/sqrt(v) = sign(g).
    p = fl.nn.Parameter(fl.tensor([1.0, -2.0, 3.0], dtype=fl.DType.Float64))
    p.grad = fl.tensor([0.5, -4.0, 0.0], dtype=fl.DType.Float64)
    with np.errstate(invalid="ignore"):
        fl.Adam([p], 0.1, eps=0.0).step()
    # g = 0 gives 0/0 with eps = 0 in this formula; PyTorch gives NaN too.
    got = p.tolist()
    assert got[0] == pytest.approx(0.9, abs=1e-15)
    assert got[1] == pytest.approx(-1.9, abs=1e-15)
    assert math.isnan(got[2])
