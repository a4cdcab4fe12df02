"""Case 6: one training step of a single-layer LSTM unrolled 32 steps, float32, Adam.

Input 64, hidden 128, batch 32, sequence 32 (time-major ``(T, B, 64)``). Forward::

    out, (h_n, c_n) = LSTM(64, 128)(x)              # h_0 = c_0 = 0
    logits = linear(h_n[0], W, b)                    # 128 -> 10, the last hidden state
    loss = -(log_softmax(logits, dim=1) * onehot).sum() / B

then backward and Adam (lr 1e-3, betas (0.9, 0.999), eps 1e-8; PyTorch's formula)::

    m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
    p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)

flodl: ``fl.nn.LSTM`` and ``fl.nn.Linear``, the update by hand, in place with NumPy
``out=`` on the parameter arrays (``FlodlAdam``). torch: ``torch.nn.LSTM`` and
``torch.nn.Linear`` with ``torch.optim.Adam`` (same formula). Hand-written NumPy: the
forward with the four gates stacked in one ``(4H, *)`` weight (input projection of all
time steps in one GEMM), a manual backpropagation through time, the same Adam.

All start from the same weights (NumPy ``default_rng(0)``, PyTorch's layouts and default
init U(+-1/sqrt(hidden))) loaded through ``load_state_dict``, on one fixed batch. Check:
the losses of the first 5 steps, then the sum of squares of all first-moment buffers
``m`` (a weighted sum of every gradient) agree to 1e-4 relative. Reported: milliseconds
per step.

``FlodlAdam``, ``NumpyAdam`` and ``TorchAdam`` are shared with ``recurrent_attention``.

Run one framework alone:  python -m benchmarks.cases.lstm_step --framework flodl
"""
from __future__ import annotations

if __package__ in (None, ""):   # allow `python benchmarks/cases/lstm_step.py`
    import os as _os
    import sys as _sys
    _sys.path.insert(0, _os.path.dirname(_os.path.dirname(_os.path.dirname(
        _os.path.abspath(__file__)))))

from benchmarks.cases._common import (check_values, flodl_meta, onehot,
                                      torch_setup, uniform_fan_in)
from benchmarks.harness import Bench, worker_main

T, B, IN, H, OUT = 32, 32, 64, 128, 10
ADAM_LR, ADAM_B1, ADAM_B2, ADAM_EPS = 1e-3, 0.9, 0.999, 1e-8

CASE = {
    "name": "lstm_step",
    "title": "LSTM 64->128 unrolled 32 steps + linear 128->10, batch 32, float32, Adam",
    "unit": "ms/step",
    "scale": 1e3,
    "inner": 5,
    "warmup": 5,
    "check_rtol": 1e-4,
}


# ------------------------------------------------------------------ Adam (shared)


class NumpyAdam:
    """PyTorch's Adam on NumPy arrays, in place with ``out=``; no temporaries per step.

    ``params``: the parameter arrays (updated in place); ``step(grads)``.
    """

    def __init__(self, params, lr=ADAM_LR, betas=(ADAM_B1, ADAM_B2), eps=ADAM_EPS):
        import numpy as np
        self.params = list(params)
        self.lr, (self.b1, self.b2), self.eps = lr, betas, eps
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.tmp = [np.empty_like(p) for p in self.params]
        self.t = 0

    def step(self, grads):
        import numpy as np
        self.t += 1
        b1, b2 = self.b1, self.b2
        bc1, bc2 = 1.0 - b1 ** self.t, 1.0 - b2 ** self.t
        step_size, inv_sqrt_bc2 = self.lr / bc1, 1.0 / bc2 ** 0.5
        for p, g, m, v, tmp in zip(self.params, grads, self.m, self.v, self.tmp):
            np.multiply(m, b1, out=m)                  # m = b1 m + (1 - b1) g
            np.multiply(g, 1.0 - b1, out=tmp)
            np.add(m, tmp, out=m)
            np.multiply(v, b2, out=v)                  # v = b2 v + (1 - b2) g^2
            np.multiply(g, g, out=tmp)
            np.multiply(tmp, 1.0 - b2, out=tmp)
            np.add(v, tmp, out=v)
            np.sqrt(v, out=tmp)                        # sqrt(v_hat) + eps
            np.multiply(tmp, inv_sqrt_bc2, out=tmp)
            np.add(tmp, self.eps, out=tmp)
            np.divide(m, tmp, out=tmp)                 # p -= lr m_hat / (...)
            np.multiply(tmp, step_size, out=tmp)
            np.subtract(p, tmp, out=p)

    def buf_sq_sum(self) -> float:
        import numpy as np
        return float(sum(np.square(m, dtype=np.float64).sum() for m in self.m))


class FlodlAdam(NumpyAdam):
    """The same update on flodl Parameters' arrays (``p._data``, ``p.grad_array()``)."""

    def __init__(self, params, **kw):
        self.variables = list(params)
        super().__init__([p._data for p in self.variables], **kw)

    def step(self, grads=None):
        super().step([p.grad_array() for p in self.variables])
        for p in self.variables:
            p.zero_grad()


class TorchAdam:
    """``torch.optim.Adam`` (same formula), gradients set to None after each step."""

    def __init__(self, params):
        import torch
        self.params = list(params)
        self.opt = torch.optim.Adam(self.params, lr=ADAM_LR, betas=(ADAM_B1, ADAM_B2),
                                    eps=ADAM_EPS)

    def step(self):
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)

    def buf_sq_sum(self) -> float:
        return float(sum(self.opt.state[p]["exp_avg"].double().square().sum().item()
                         for p in self.params))


# ------------------------------------------------------------------ data


def _init():
    """state dicts in PyTorch's layouts (lstm, head), input (T, B, IN), one-hot labels."""
    import numpy as np
    rng = np.random.default_rng(0)
    lstm = {"weight_ih_l0": uniform_fan_in(rng, (4 * H, IN), H),
            "weight_hh_l0": uniform_fan_in(rng, (4 * H, H), H),
            "bias_ih_l0": uniform_fan_in(rng, (4 * H,), H),
            "bias_hh_l0": uniform_fan_in(rng, (4 * H,), H)}
    head = {"weight": uniform_fan_in(rng, (OUT, H), H),
            "bias": uniform_fan_in(rng, (OUT,), H)}
    x = rng.standard_normal((T, B, IN)).astype(np.float32)
    labels = rng.integers(0, OUT, B)
    return lstm, head, x, onehot(labels, OUT)


# ------------------------------------------------------------------ flodl_core


def make_flodl(threads: int) -> Bench:
    import flodl_core as fl
    lstm_sd, head_sd, x0, oh0 = _init()
    lstm, head = fl.nn.LSTM(IN, H), fl.nn.Linear(H, OUT)
    lstm.load_state_dict(lstm_sd)
    head.load_state_dict(head_sd)
    opt = FlodlAdam(list(lstm.parameters()) + list(head.parameters()))
    x, oh = fl.tensor(x0), fl.tensor(oh0)

    def step():
        _, (h_n, _) = lstm(x)
        logp = head(h_n[0]).log_softmax(1)
        loss = -(logp * oh).sum() / B
        loss.backward()
        opt.step()
        return loss

    return Bench(step, check_values(lambda: step().item(), opt), flodl_meta())


# ------------------------------------------------------------- hand-written NumPy


def make_numpy(threads: int) -> Bench:
    import numpy as np
    lstm_sd, head_sd, x, oh = _init()
    w_ih, w_hh = lstm_sd["weight_ih_l0"], lstm_sd["weight_hh_l0"]
    b_ih, b_hh = lstm_sd["bias_ih_l0"], lstm_sd["bias_hh_l0"]
    w_o, b_o = head_sd["weight"], head_sd["bias"]
    params = [w_ih, w_hh, b_ih, b_hh, w_o, b_o]
    opt = NumpyAdam(params)
    f32 = np.float32
    x_flat = x.reshape(T * B, IN)
    # activations kept for the backward: gates (i, f, g, o after their nonlinearity),
    # h_{t-1} (hs[t]; hs[T] is the last h), c_t (cs[t + 1]; cs[0] = 0), tanh(c_t)
    acts = np.empty((T, B, 4 * H), f32)
    hs = np.zeros((T + 1, B, H), f32)
    cs = np.zeros((T + 1, B, H), f32)
    tcs = np.empty((T, B, H), f32)
    d_gates = np.empty((T, B, 4 * H), f32)
    s_ifo = (slice(0, 2 * H), slice(3 * H, 4 * H))

    def step():
        # forward: input projection of every step in one GEMM
        proj = (x_flat @ w_ih.T + (b_ih + b_hh)).reshape(T, B, 4 * H)
        for t in range(T):
            a = acts[t]
            np.matmul(hs[t], w_hh.T, out=a)
            a += proj[t]
            for s in s_ifo:                                 # sigmoid(i, f), sigmoid(o)
                np.negative(a[:, s], out=a[:, s])
                np.exp(a[:, s], out=a[:, s])
                a[:, s] += 1.0
                np.reciprocal(a[:, s], out=a[:, s])
            np.tanh(a[:, 2 * H:3 * H], out=a[:, 2 * H:3 * H])
            i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
            c = cs[t + 1]
            np.multiply(f, cs[t], out=c)
            c += i * g
            np.tanh(c, out=tcs[t])
            np.multiply(o, tcs[t], out=hs[t + 1])
        h_last = hs[T]
        logits = h_last @ w_o.T + b_o
        shifted = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        s = e.sum(axis=1, keepdims=True)
        loss = -((shifted - np.log(s)) * oh).sum() / B
        # backward
        d_logits = (e / s - oh) / B
        g_wo = d_logits.T @ h_last
        g_bo = d_logits.sum(axis=0)
        dh = d_logits @ w_o
        dc = np.zeros((B, H), f32)
        for t in range(T - 1, -1, -1):
            a, tc, dg = acts[t], tcs[t], d_gates[t]
            i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
            dc += dh * o * (1.0 - tc * tc)
            np.multiply(dh * tc, o * (1.0 - o), out=dg[:, 3 * H:])     # d o (pre-act)
            np.multiply(dc * g, i * (1.0 - i), out=dg[:, :H])          # d i
            np.multiply(dc * cs[t], f * (1.0 - f), out=dg[:, H:2 * H])  # d f
            np.multiply(dc * i, 1.0 - g * g, out=dg[:, 2 * H:3 * H])   # d g
            dc *= f
            if t:
                dh = dg @ w_hh
        dg_flat = d_gates.reshape(T * B, 4 * H)
        g_wih = dg_flat.T @ x_flat
        g_whh = dg_flat.T @ hs[:T].reshape(T * B, H)
        g_b = dg_flat.sum(axis=0)
        opt.step([g_wih, g_whh, g_b, g_b, g_wo, g_bo])
        return loss

    return Bench(step, check_values(step, opt), {"malloc_tuned": False})


# ----------------------------------------------------------------------- torch


def make_torch(threads: int) -> Bench:
    torch, meta = torch_setup(threads)
    lstm_sd, head_sd, x0, oh0 = _init()
    lstm, head = torch.nn.LSTM(IN, H), torch.nn.Linear(H, OUT)
    lstm.load_state_dict({k: torch.from_numpy(v) for k, v in lstm_sd.items()})
    head.load_state_dict({k: torch.from_numpy(v) for k, v in head_sd.items()})
    opt = TorchAdam(list(lstm.parameters()) + list(head.parameters()))
    x, oh = torch.from_numpy(x0), torch.from_numpy(oh0)

    def step():
        _, (h_n, _) = lstm(x)
        logp = torch.log_softmax(head(h_n[0]), dim=1)
        loss = -(logp * oh).sum() / B
        loss.backward()
        opt.step()
        return loss

    return Bench(step, check_values(lambda: step().item(), opt), meta)


FRAMEWORKS = {"flodl": make_flodl, "numpy": make_numpy, "torch": make_torch}

if __name__ == "__main__":
    worker_main(CASE, FRAMEWORKS)
