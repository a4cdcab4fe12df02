"""Whole training runs against PyTorch: the same model, the same initial weights,
the same batches, step by step.

Each test builds a model in torch and in flodl (flodl layers, or a FlowBuilder
graph), copies torch's initial ``state_dict`` into flodl, trains both on fixed
synthetic batches (NumPy ``default_rng``) and compares the loss of every step,
then every parameter, buffer and optimizer-state entry at the end. The per-op,
per-layer, per-loss and per-optimizer tests live next to this file; these check
that the pieces compose: train()/eval(), zero_grad, gradient accumulation,
clipping, schedules applied to the optimizer, momentum cycling, state_dict
round trips of models and optimizers mid-run, autocast with a GradScaler.

Every expected value comes from the torch run. torch is not a test dependency:
each test asks for the ``torch`` fixture (conftest.py), which skips without it.

How the flodl side maps onto torch:

* schedulers are pure functions of the step: flodl sets ``opt.set_lr(sched.lr(0))``
  before training and ``opt.set_lr(sched.lr(t + 1))`` after optimizer step ``t``,
  where torch calls ``scheduler.step()``, so both optimizers hold the same lr at
  every point; OneCycleLR's cycled momentum goes into ``betas[0]``;
* ``WarmupScheduler(inner, target, W)`` is torch's ``SequentialLR`` of
  ``LinearLR(start_factor=1/W, total_iters=W-1)`` and the inner schedule;
* ``clip_grad_norm`` / ``clip_grad_value`` are ``torch.nn.utils.clip_grad_norm_``
  / ``clip_grad_value_``;
* a torch optimizer ``state_dict`` converted with ``.numpy()`` loads into flodl.

Tolerances: float64 runs 1e-9 relative on losses, parameters, buffers and
optimizer state (with that fraction of the largest magnitude as absolute slack,
for elements that pass near zero). float32 runs: losses within 1e-4 relative
growing linearly with the step (rounding differences are amplified by
training), end state within 1e-3. Autocast: see that test. Elements whose true
gradient is exactly zero (a key-projection bias under softmax) move by rounding
noise only and are bounded instead of compared (see ``_check_model``).
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import flodl_core as fl
from flodl_core import FlowBuilder

from .conftest import to_numpy

F64, F32 = fl.DType.Float64, fl.DType.Float32


# ------------------------------------------------------------------ helpers


def _close(ours, theirs, rtol, what, floor=1.0):
    """Elementwise ``rtol``, with ``rtol * max(floor, largest |value|)`` as atol."""
    a = np.asarray(to_numpy(ours), dtype=np.float64)
    b = np.asarray(to_numpy(theirs), dtype=np.float64)
    assert a.shape == b.shape, f"{what}: shape {a.shape} != torch {b.shape}"
    scale = max(floor, float(np.max(np.abs(b))) if b.size else 0.0)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * scale, err_msg=what)


def _setup(torch, make, dtype, seed=0):
    """``make(lib)`` for torch.nn and fl.nn, in ``dtype``, flodl loaded from torch."""
    torch.manual_seed(seed)
    tm = make(torch.nn).to(torch.float64 if dtype == np.float64 else torch.float32)
    fm = make(fl.nn).to(F64 if dtype == np.float64 else F32)
    _load(tm, fm)
    return tm, fm


def _setup_mapped(torch, make, seed, dtype=np.float64):
    """As ``_setup`` for models whose flodl names differ: matched in order."""
    torch.manual_seed(seed)
    tm = make(torch.nn).to(torch.float64 if dtype == np.float64 else torch.float32)
    fm = make(fl.nn).to(F64 if dtype == np.float64 else F32)
    _load(tm, fm, _names(tm, fm))
    return tm, fm


def _load(tm, fm, names=None):
    """torch's state_dict into flodl (``names``: flodl name per torch name)."""
    state = {(names or {}).get(k, k): v.detach().numpy() for k, v in tm.state_dict().items()}
    report = fm.load_state_dict(state)
    assert report.ok, str(report)


def _check_model(tm, fm, rtol, what, names=None, noise=None):
    """Every parameter and buffer (state_dict entry), names and order included.

    ``noise``: {name: (index, atol)} for entries whose true gradient is exactly zero,
    so that they are moved only by rounding noise (amplified by an adaptive optimizer):
    those elements are only checked to stay within ``atol`` of torch's.
    """
    ts, fs = tm.state_dict(), fm.state_dict()
    ts = {k: v.detach().numpy().copy() for k, v in ts.items()}
    for k, (index, atol) in (noise or {}).items():
        f = fs[(names or {}).get(k, k)]
        np.testing.assert_allclose(f[index], ts[k][index], rtol=0, atol=atol,
                                   err_msg=f"{what}: {k}[{index}]")
        f[index] = ts[k][index] = 0.0
    mapped = [(names or {}).get(k, k) for k in ts]
    assert list(fs) == mapped, f"{what}: state_dict names {list(fs)} != torch {mapped}"
    for k, v in ts.items():
        f = fs[(names or {}).get(k, k)]
        if v.dtype == np.int64:                                     # num_batches_tracked
            assert int(f) == int(v), f"{what}: {k} = {f}, torch {int(v)}"
        else:
            _close(f, v, rtol, f"{what}: {k}")


def _check_grads(tm, fm, rtol, what, names=None):
    fp = dict(fm.named_parameters())
    for k, p in tm.named_parameters():
        f = fp[(names or {}).get(k, k)]
        if p.grad is None:
            assert f.grad is None, f"{what}: {k} has a gradient, torch none"
        else:
            assert f.grad is not None, f"{what}: {k} has no gradient, torch has one"
            _close(f.grad, p.grad, rtol, f"{what}: grad {k}")


def _check_optimizer(fopt, topt, rtol, what, noise=None):
    """Hyper-parameters of every group and every state entry (names as torch's).

    ``noise``: {parameter index: index} of elements moved only by rounding noise
    (see ``_check_model``): their state is not compared (normalising optimizers
    make it O(1) noise; the parameter itself is bounded by ``_check_model``).
    """
    fs, ts = fopt.state_dict(), topt.state_dict()
    assert len(fs["param_groups"]) == len(ts["param_groups"]), what
    for i, (fg, tg) in enumerate(zip(fs["param_groups"], ts["param_groups"])):
        assert list(fg["params"]) == list(tg["params"]), f"{what}: group {i} params"
        for k, v in fg.items():
            if k not in tg or k == "params" or tg[k] is None:
                continue
            if isinstance(tg[k], bool):
                assert v == tg[k], f"{what}: group {i} {k} = {v}, torch {tg[k]}"
            else:
                np.testing.assert_allclose(np.asarray(v, dtype=float),
                                           np.asarray(tg[k], dtype=float), rtol=1e-12,
                                           err_msg=f"{what}: group {i} {k}")
    assert sorted(fs["state"]) == sorted(ts["state"]), f"{what}: parameters with state"
    for i, tst in ts["state"].items():
        fst = fs["state"][i]
        tkeys = {k for k, v in tst.items() if v is not None}
        fkeys = {k for k, v in fst.items() if v is not None and k != "master_weight"}
        assert fkeys == tkeys, f"{what}: state keys of {i}: {sorted(fkeys)} != {sorted(tkeys)}"
        for k in tkeys:
            if k == "step":
                assert float(fst[k]) == float(tst[k]), f"{what}: step of {i}"
            elif k == "mu_product":                     # a float32 scalar tensor in torch
                assert float(fst[k]) == pytest.approx(float(tst[k]), rel=1e-6), what
            else:
                a, b = np.array(fst[k], dtype=np.float64), tst[k].numpy().astype(np.float64)
                if i in (noise or {}):
                    assert np.all(np.isfinite(a[noise[i]])), f"{what}: {k} of {i}"
                    a[noise[i]] = b[noise[i]] = 0.0
                _close(a, b, rtol, f"{what}: state {k} of parameter {i}")


def _torch_state_as_numpy(torch, sd):
    """A torch optimizer state_dict with every tensor converted by ``.numpy()``."""
    conv = lambda v: v.detach().numpy().copy() if isinstance(v, torch.Tensor) else v  # noqa: E731
    return {"state": {i: {k: conv(v) for k, v in st.items()} for i, st in sd["state"].items()},
            "param_groups": [dict(g) for g in sd["param_groups"]]}


def _check_losses(ours, theirs, dtype, what):
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.shape == theirs.shape
    if dtype == np.float64:
        tol = np.full(len(theirs), 1e-9)
    else:           # float32: rounding differences grow as training amplifies them
        tol = 1e-4 * (1.0 + np.arange(len(theirs)) / 10.0)
    bad = np.abs(ours - theirs) > tol * np.maximum(np.abs(theirs), 1e-3)
    assert not bad.any(), (f"{what}: first disagreement at step {int(np.argmax(bad))}: "
                           f"flodl {ours[bad][:3]}, torch {theirs[bad][:3]}")


def _t(torch, a):
    return torch.from_numpy(np.ascontiguousarray(a))


def _f(a):
    return fl.from_numpy(np.ascontiguousarray(a).copy())


END_RTOL = {np.float64: 1e-9, np.float32: 1e-3}


# ============================================================ 1. MLP + SGD


def _make_mlp(p):
    def make(lib):
        class MLP(lib.Module):
            def __init__(self):
                super().__init__()
                self.fc1 = lib.Linear(10, 32)
                self.act = lib.ReLU()
                self.drop = lib.Dropout(p)
                self.fc2 = lib.Linear(32, 5)

            def forward(self, x):
                return self.fc2(self.drop(self.act(self.fc1(x))))
        return MLP()
    return make


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("p, mode", [(0.0, "train"), (0.5, "eval")])
def test_mlp_sgd_nesterov_label_smoothing(torch, dtype, p, mode):
    """Linear-ReLU-Dropout-Linear, weighted cross entropy with label smoothing,
    SGD (momentum, nesterov, weight decay) under a StepLR schedule, two
    micro-batches accumulated per step (zero_grad only between steps), and an
    optimizer state_dict round trip into a fresh optimizer mid-run. Dropout is
    p=0 in train mode or p=0.5 in eval mode (identity either way in torch)."""
    steps, resume_at = 30, 14
    tm, fm = _setup(torch, _make_mlp(p), dtype)
    tm.train(mode == "train")
    fm.train(mode == "train")
    assert fm.drop.training == tm.drop.training
    rng = np.random.default_rng(11)
    xs = rng.standard_normal((steps, 2, 16, 10)).astype(dtype)
    ys = rng.integers(0, 5, (steps, 2, 16))
    cw = rng.uniform(0.5, 2.0, 5).astype(dtype)
    hyper = dict(momentum=0.9, nesterov=True, weight_decay=1e-3, dampening=0.0)

    topt = torch.optim.SGD(tm.parameters(), lr=0.2, **hyper)
    tsched = torch.optim.lr_scheduler.StepLR(topt, step_size=8, gamma=0.5)
    fopt = fl.SGD(fm.parameters(), 0.2, **hyper)
    sched = fl.StepDecay(0.2, 8, 0.5)
    fopt.set_lr(sched.lr(0))

    t_losses, f_losses = [], []
    for t in range(steps):
        if t == resume_at:         # a fresh optimizer from each framework's own state_dict
            sd = topt.state_dict()
            topt = torch.optim.SGD(tm.parameters(), lr=123.0, **hyper)
            topt.load_state_dict(sd)
            tsched.optimizer = topt
            fsd = fopt.state_dict()
            fopt = fl.SGD(fm.parameters(), 123.0, **hyper)
            fopt.load_state_dict(fsd)
        topt.zero_grad()
        fopt.zero_grad()
        tl = fl_l = 0.0
        for k in range(2):
            tloss = torch.nn.functional.cross_entropy(
                tm(_t(torch, xs[t, k])), _t(torch, ys[t, k]), weight=_t(torch, cw),
                label_smoothing=0.1) / 2
            tloss.backward()
            floss = fl.cross_entropy_loss(fm(_f(xs[t, k])), _f(ys[t, k]), weight=_f(cw),
                                          label_smoothing=0.1) / 2
            floss.backward()
            tl += tloss.item()
            fl_l += floss.item()
        if t == 0:
            _check_grads(tm, fm, 10 * END_RTOL[dtype], "MLP accumulated gradients, step 0")
        topt.step()
        tsched.step()
        fopt.step()
        fopt.set_lr(sched.lr(t + 1))        # what torch's scheduler.step() does
        t_losses.append(tl)
        f_losses.append(fl_l)
    _check_losses(f_losses, t_losses, dtype, "MLP loss")
    _check_model(tm, fm, END_RTOL[dtype], "MLP end")
    _check_optimizer(fopt, topt, END_RTOL[dtype], "MLP SGD end")
    assert fopt.lr == pytest.approx(topt.param_groups[0]["lr"], rel=1e-12)


# ======================================================= 2. CNN as a graph


def _torch_cnn(torch):
    nn = torch.nn
    return nn.Sequential(nn.Conv2d(3, 6, 3, padding=1, bias=False), nn.BatchNorm2d(6), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Conv2d(6, 8, 3, bias=False),
                         nn.BatchNorm2d(8, momentum=None), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(32, 4))


def _flodl_cnn(dtype):
    nn = fl.nn
    return (FlowBuilder(nn.Conv2d(3, 6, 3, padding=1, bias=False)).through(nn.BatchNorm2d(6))
            .through(nn.ReLU()).through(nn.MaxPool2d(2)).through(nn.Conv2d(6, 8, 3, bias=False))
            .through(nn.BatchNorm2d(8, momentum=None)).through(nn.ReLU())
            .through(nn.AdaptiveAvgPool2d(2)).through(nn.Flatten())
            .through(nn.Linear(32, 4)).tag("logits").build()
            .to(F64 if dtype == np.float64 else F32))


def _names(tm, fm):
    """torch name -> flodl name, matched in order (same leaf names and shapes)."""
    ts, fs = tm.state_dict(), fm.state_dict()
    assert len(ts) == len(fs), f"{list(ts)} vs {list(fs)}"
    for (a, va), (b, vb) in zip(ts.items(), fs.items()):
        assert a.rsplit(".", 1)[-1] == b.rsplit(".", 1)[-1], (a, b)
        assert tuple(va.shape) == tuple(vb.shape), (a, b)
    return dict(zip(ts, fs))


def _decay_groups(model, lr):
    """PyTorch's usual split: weight decay on conv/linear weights only."""
    named = list(model.named_parameters())
    return [{"params": [p for n, p in named if n.endswith("weight") and p.ndim > 1]},
            {"params": [p for n, p in named if not (n.endswith("weight") and p.ndim > 1)],
             "weight_decay": 0.0, "lr": lr}]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cnn_graph_adamw_onecycle_clip_norm_eval_and_resume(torch, dtype):
    """Conv-BN-ReLU-MaxPool-Conv-BN(momentum=None)-ReLU-AdaptiveAvgPool(2 over 3x3,
    overlapping bins)-Flatten-Linear as a FlowBuilder graph (convolutions without
    bias: batch norm cancels a bias, whose exactly-zero gradient Adam would turn
    from rounding noise into O(lr) steps that differ between frameworks); AdamW
    with two parameter groups (no decay on biases and norms), OneCycleLR (lr and cycled
    beta1, applied to both groups) and clip_grad_norm, in train mode; an eval()
    forward on held-out data (running statistics); then a second phase after a
    model + optimizer (+ scheduler) state_dict round trip into fresh objects,
    and eval again."""
    phase1, total = 22, 34
    rtol = END_RTOL[dtype]
    torch.manual_seed(3)
    tdt = torch.float64 if dtype == np.float64 else torch.float32
    tm = _torch_cnn(torch).to(tdt)
    fm = _flodl_cnn(dtype)
    names = _names(tm, fm)
    _load(tm, fm, names)
    rng = np.random.default_rng(5)
    xs = rng.standard_normal((total, 8, 3, 10, 10)).astype(dtype)
    ys = rng.integers(0, 4, (total, 8))
    x_eval = (rng.standard_normal((5, 3, 10, 10)) * 1.5 + 0.3).astype(dtype)

    def t_opt(model):
        return torch.optim.AdamW(_decay_groups(model, 1e-3), lr=1e-3, betas=(0.9, 0.99),
                                 weight_decay=0.05)

    def f_opt(model):
        return fl.AdamW(_decay_groups(model, 1e-3), lr=1e-3, betas=(0.9, 0.99),
                        weight_decay=0.05)

    onecycle = dict(max_lr=0.02, total_steps=total, pct_start=0.25)
    topt, fopt = t_opt(tm), f_opt(fm)
    assert [len(g["params"]) for g in fopt.param_groups] == [3, 5]
    assert [len(g["params"]) for g in topt.param_groups] == [3, 5]
    tsched = torch.optim.lr_scheduler.OneCycleLR(topt, **onecycle)
    sched = fl.OneCycleLR(onecycle["max_lr"], total, pct_start=0.25)

    def schedule(t):            # torch's OneCycleLR sets lr and beta1 for step t
        fopt.set_lr(sched.lr(t))
        for g in fopt.param_groups:
            g["betas"] = (sched.momentum(t), g["betas"][1])

    schedule(0)

    def evaluate(what):
        tm.eval()
        fm.eval()
        assert not any(m.training for m in fm.modules())
        with torch.no_grad():
            tout = tm(_t(torch, x_eval))
        with fl.no_grad():
            fout = fm(_f(x_eval))
        _close(fout, tout, rtol, what)
        tm.train()
        fm.train()
        assert all(m.training for m in fm.modules())

    t_losses, f_losses, t_norms, f_norms = [], [], [], []

    def run(steps):
        for t in steps:
            topt.zero_grad()
            fopt.zero_grad()
            tloss = torch.nn.functional.cross_entropy(tm(_t(torch, xs[t])), _t(torch, ys[t]))
            floss = fl.cross_entropy_loss(fm(_f(xs[t])), _f(ys[t]))
            tloss.backward()
            floss.backward()
            t_norms.append(float(torch.nn.utils.clip_grad_norm_(tm.parameters(), 0.5)))
            f_norms.append(fl.clip_grad_norm(fm.parameters(), 0.5))
            topt.step()
            tsched.step()
            fopt.step()
            schedule(t + 1)
            t_losses.append(tloss.item())
            f_losses.append(floss.item())

    run(range(phase1))
    assert max(t_norms) > 0.5, "the test should clip on some steps"
    _check_model(tm, fm, rtol, "CNN after phase 1", names)
    _check_optimizer(fopt, topt, rtol, "CNN AdamW after phase 1")
    evaluate("CNN eval forward after phase 1")

    # Round trip everything into fresh objects (torch's resume order: optimizer,
    # scheduler built on it, then both state dicts loaded).
    tsd, osd, ssd = tm.state_dict(), topt.state_dict(), tsched.state_dict()
    torch.manual_seed(99)
    tm = _torch_cnn(torch).to(tdt)
    tm.load_state_dict(tsd)
    topt = t_opt(tm)
    tsched = torch.optim.lr_scheduler.OneCycleLR(topt, **onecycle)
    topt.load_state_dict(osd)
    tsched.load_state_dict(ssd)
    fsd, fosd = fm.state_dict(), fopt.state_dict()
    fm = _flodl_cnn(dtype)
    fm.load_state_dict(fsd)
    fopt = f_opt(fm)
    fopt.load_state_dict(fosd)

    run(range(phase1, total))
    _check_losses(f_losses, t_losses, dtype, "CNN loss")
    np.testing.assert_allclose(f_norms, t_norms, rtol=1e-9 if dtype == np.float64 else 1e-3,
                               err_msg="CNN gradient norms")
    _check_model(tm, fm, rtol, "CNN end", names)
    _check_optimizer(fopt, topt, rtol, "CNN AdamW end")
    evaluate("CNN eval forward at the end")


# ================================================ 3. bidirectional LSTM


def _make_lstm(lib):
    class SeqClassifier(lib.Module):
        def __init__(self):
            super().__init__()
            self.lstm = lib.LSTM(5, 7, num_layers=2, batch_first=True, bidirectional=True)
            self.head = lib.Linear(14, 3)

        def forward(self, x):
            out, _ = self.lstm(x)
            return self.head(out[:, -1, :])
    return SeqClassifier()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_lstm_adam_amsgrad_clip_value_torch_state_resume(torch, dtype):
    """2-layer bidirectional batch_first LSTM + Linear on the last step, Adam with
    amsgrad and L2 weight decay, gradients clipped by value; mid-run the flodl
    optimizer is replaced by a fresh one loaded from torch's state_dict, and
    the torch optimizer by a fresh one loaded from flodl's."""
    steps, resume_at, swap_at = 30, 12, 20
    rtol = END_RTOL[dtype]
    tm, fm = _setup(torch, _make_lstm, dtype, seed=4)
    rng = np.random.default_rng(6)
    xs = rng.standard_normal((steps, 6, 9, 5)).astype(dtype)
    ys = rng.integers(0, 3, (steps, 6))
    hyper = dict(lr=0.01, betas=(0.9, 0.98), weight_decay=1e-4, amsgrad=True)
    topt = torch.optim.Adam(tm.parameters(), **hyper)
    fopt = fl.Adam(fm.parameters(), **hyper)
    t_losses, f_losses, clipped = [], [], 0
    for t in range(steps):
        if t == resume_at:
            fopt = fl.Adam(fm.parameters(), lr=0.5)
            fopt.load_state_dict(_torch_state_as_numpy(torch, topt.state_dict()))
            _check_optimizer(fopt, topt, 0.0, "LSTM Adam loaded from torch")
        if t == swap_at:            # and the other way: flodl's state into torch
            fsd = fopt.state_dict()
            topt = torch.optim.Adam(tm.parameters(), lr=0.5)
            topt.load_state_dict({
                "state": {i: {k: torch.tensor(v) for k, v in st.items()}
                          for i, st in fsd["state"].items()},
                "param_groups": fsd["param_groups"]})
            _check_optimizer(fopt, topt, 0.0, "LSTM torch Adam loaded from flodl")
        topt.zero_grad()
        fopt.zero_grad()
        tloss = torch.nn.functional.cross_entropy(tm(_t(torch, xs[t])), _t(torch, ys[t]))
        floss = fl.cross_entropy_loss(fm(_f(xs[t])), _f(ys[t]))
        tloss.backward()
        floss.backward()
        clipped += sum(int((p.grad.abs() > 0.02).sum()) for p in tm.parameters())
        torch.nn.utils.clip_grad_value_(tm.parameters(), 0.02)
        fl.clip_grad_value(fm.parameters(), 0.02)
        if t == 0:
            _check_grads(tm, fm, 10 * rtol, "LSTM clipped gradients, step 0")
        topt.step()
        fopt.step()
        t_losses.append(tloss.item())
        f_losses.append(floss.item())
    assert clipped > 0, "the test should clip some gradient values"
    _check_losses(f_losses, t_losses, dtype, "LSTM loss")
    _check_model(tm, fm, rtol, "LSTM end")
    _check_optimizer(fopt, topt, rtol, "LSTM Adam end")


# ============================================ 4. pre-norm transformer block


def _make_block(approximate, graph_ffn):
    def make(lib):
        if graph_ffn and lib is fl.nn:     # x + FFN(LN(x)) as a FlowBuilder residual
            ffn = FlowBuilder().also(
                FlowBuilder(lib.LayerNorm(8)).through(lib.Linear(8, 16))
                .through(lib.GELU(approximate=approximate)).through(lib.Linear(16, 8))
                .label("mlp").build()).build()
        else:
            class FFN(lib.Module):
                def __init__(self):
                    super().__init__()
                    self.ln = lib.LayerNorm(8)
                    self.ff1 = lib.Linear(8, 16)
                    self.act = lib.GELU(approximate=approximate)
                    self.ff2 = lib.Linear(16, 8)

                def forward(self, x):
                    return x + self.ff2(self.act(self.ff1(self.ln(x))))
            ffn = FFN()

        class PreNormBlock(lib.Module):
            def __init__(self):
                super().__init__()
                self.ln1 = lib.LayerNorm(8)
                self.attn = lib.MultiheadAttention(8, 2, batch_first=True)
                self.ffn = ffn
                self.head = lib.Linear(8, 3)

            def forward(self, x, mask, need_weights, causal):
                h = self.ln1(x)
                a, _ = self.attn(h, h, h, key_padding_mask=mask, need_weights=need_weights,
                                 attn_mask=causal)
                return self.head(self.ffn(x + a))
        return PreNormBlock()
    return make


@pytest.mark.parametrize("opt_name, need_weights, approximate, causal, graph_ffn, dtype", [
    ("NAdam", False, "none", False, True, np.float64),
    ("NAdam", True, "none", True, True, np.float64),
    ("RMSprop", True, "tanh", False, False, np.float64),
    ("RMSprop", False, "tanh", True, False, np.float64),
    ("NAdam", False, "none", True, True, np.float32),
    ("RMSprop", True, "tanh", False, False, np.float32)])
def test_prenorm_transformer_warmup_mse(torch, opt_name, need_weights, approximate, causal,
                                        graph_ffn, dtype):
    """LayerNorm -> MultiheadAttention (batch_first, key_padding_mask, optionally a
    causal Bool attn_mask) -> residual -> LayerNorm -> Linear-GELU-Linear ->
    residual (a FlowBuilder ``also`` in some cases) -> Linear head, MSE loss,
    NAdam or centered RMSprop with momentum, under a linear warm-up then cosine
    decay."""
    steps, warm = 30, 5
    rtol = END_RTOL[dtype]
    tm, fm = _setup_mapped(torch, _make_block(approximate, graph_ffn), seed=7, dtype=dtype)
    names = _names(tm, fm)
    rng = np.random.default_rng(8)
    xs = rng.standard_normal((steps, 4, 6, 8)).astype(dtype)
    targets = rng.standard_normal((steps, 4, 6, 3)).astype(dtype)
    mask = np.zeros((4, 6), dtype=bool)
    mask[1, 4:] = True
    mask[2, 5:] = True
    mask[3, 1:] = True
    causal_mask = np.triu(np.ones((6, 6), dtype=bool), 1) if causal else None
    if opt_name == "NAdam":
        hyper = dict(lr=3e-3, betas=(0.9, 0.99), weight_decay=1e-3, momentum_decay=4e-3)
    else:
        hyper = dict(lr=3e-3, alpha=0.9, eps=1e-8, weight_decay=1e-4, momentum=0.5,
                     centered=True)
    topt = getattr(torch.optim, opt_name)(tm.parameters(), **hyper)
    fopt = getattr(fl, opt_name)(fm.parameters(), **hyper)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tsched = torch.optim.lr_scheduler.SequentialLR(topt, [
            torch.optim.lr_scheduler.LinearLR(topt, start_factor=1.0 / warm,
                                              total_iters=warm - 1),
            torch.optim.lr_scheduler.CosineAnnealingLR(topt, T_max=steps - warm,
                                                       eta_min=1e-4)], milestones=[warm])
    sched = fl.WarmupScheduler(fl.CosineScheduler(3e-3, 1e-4, steps - warm), 3e-3, warm)
    targs = (_t(torch, mask), need_weights,
             None if causal_mask is None else _t(torch, causal_mask))
    fargs = (_f(mask), need_weights, None if causal_mask is None else _f(causal_mask))
    t_losses, f_losses = [], []
    fopt.set_lr(sched.lr(0))
    for t in range(steps):
        assert fopt.lr == pytest.approx(topt.param_groups[0]["lr"], rel=1e-12), f"lr step {t}"
        topt.zero_grad()
        fopt.zero_grad()
        tloss = torch.nn.functional.mse_loss(tm(_t(torch, xs[t]), *targs),
                                             _t(torch, targets[t]))
        floss = fl.mse_loss(fm(_f(xs[t]), *fargs), _f(targets[t]))
        tloss.backward()
        floss.backward()
        if t == 0:
            _check_grads(tm, fm, 10 * rtol, "transformer gradients, step 0", names)
        topt.step()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tsched.step()
        fopt.step()
        fopt.set_lr(sched.lr(t + 1))
        t_losses.append(tloss.item())
        f_losses.append(floss.item())
    _check_losses(f_losses, t_losses, dtype, "transformer loss")
    # The key projection's bias adds q.b_k to every score of a query: softmax removes
    # it, so its gradient is exactly zero and NAdam/RMSprop turn rounding noise into
    # ~1e-6 moves, different in each framework. It must stay near zero; the rest
    # is checked as tightly as everything else.
    _check_model(tm, fm, rtol, "transformer end", names,
                 noise={"attn.in_proj_bias": (slice(8, 16), 1e-4 if dtype == np.float64
                                                          else 1e-2)})
    assert [n for n, _ in fm.named_parameters()][3] == "attn.in_proj_bias"
    _check_optimizer(fopt, topt, rtol, f"transformer {opt_name} end",
                     noise={3: slice(8, 16)})
    # eval mode gives the same forward (no dropout configured) in both, and reaches
    # the modules inside the nested graph
    tm.eval()
    fm.eval()
    assert not any(m.training for m in fm.modules())
    with torch.no_grad():
        tout = tm(_t(torch, xs[0]), *targs)
    with fl.no_grad():
        fout = fm(_f(xs[0]), *fargs)
    _close(fout, tout, rtol, "transformer eval forward")


# ================================================== 5. GRU language model

VOCAB, PAD = 11, 0


def _make_lm(tied):
    def make(lib):
        class LM(lib.Module):
            def __init__(self):
                super().__init__()
                self.emb = lib.Embedding(VOCAB, 8, padding_idx=PAD)
                self.gru = lib.GRU(8, 8, num_layers=2, batch_first=True)
                self.out = lib.Linear(8, VOCAB)
                if tied:                       # weight tying: one Parameter, two uses
                    self.out.weight = self.emb.weight

            def forward(self, tokens, h):
                y, h = self.gru(self.emb(tokens), h)
                return self.out(y), h
        return LM()
    return make


@pytest.mark.parametrize("tied", [False, True])
def test_gru_embedding_lm_adagrad_ignore_index(torch, tied):
    """Embedding (padding_idx) -> 2-layer GRU -> Linear (optionally tied to the
    embedding), next-token cross entropy over (N*L, V) with the padding token as
    ignore_index and label smoothing, Adagrad (lr_decay, initial accumulator),
    the hidden state carried from batch to batch and detached (truncated BPTT).
    Untied, the padding row must stay exactly zero."""
    steps = 30
    tm, fm = _setup(torch, _make_lm(tied), np.float64, seed=9)
    assert len(fm.parameters()) == len(list(tm.parameters()))
    rng = np.random.default_rng(10)
    seqs = rng.integers(1, VOCAB, (steps, 5, 8))
    lengths = rng.integers(3, 9, (steps, 5))
    seqs[np.arange(8)[None, None, :] >= lengths[..., None]] = PAD
    inputs, targets = seqs[..., :-1], seqs[..., 1:]
    hyper = dict(lr=0.1, lr_decay=1e-2, initial_accumulator_value=0.1, eps=1e-10)
    topt = torch.optim.Adagrad(tm.parameters(), **hyper)
    fopt = fl.Adagrad(fm.parameters(), **hyper)
    t_losses, f_losses = [], []
    th = fh = None
    for t in range(steps):
        topt.zero_grad()
        fopt.zero_grad()
        tl, th = tm(_t(torch, inputs[t]), th)
        fll, fh = fm(_f(inputs[t]), fh)
        th, fh = th.detach(), fh.detach()
        tloss = torch.nn.functional.cross_entropy(tl.reshape(-1, VOCAB),
                                                  _t(torch, targets[t]).reshape(-1),
                                                  ignore_index=PAD, label_smoothing=0.05)
        floss = fl.cross_entropy_loss(fll.reshape(-1, VOCAB), _f(targets[t].reshape(-1)),
                                      ignore_index=PAD, label_smoothing=0.05)
        tloss.backward()
        floss.backward()
        if t == 0:
            _check_grads(tm, fm, 1e-9, "GRU LM gradients, step 0")
            if not tied:
                assert not np.any(to_numpy(fm.emb.weight.grad)[PAD]), "padding row gradient"
        topt.step()
        fopt.step()
        t_losses.append(tloss.item())
        f_losses.append(floss.item())
    _check_losses(f_losses, t_losses, np.float64, "GRU LM loss")
    _close(fh, th, 1e-9, "GRU LM carried hidden state")
    _check_model(tm, fm, 1e-9, "GRU LM end")
    _check_optimizer(fopt, topt, 1e-9, "GRU LM Adagrad end")
    if tied:
        assert fm.out.weight is fm.emb.weight
    else:
        assert not np.any(fm.emb.weight.to_numpy()[PAD]), "the padding row moved"


# ===================================== zero_grad semantics, unused parameters


def _make_two_heads(lib):
    class TwoHeads(lib.Module):
        def __init__(self):
            super().__init__()
            self.body = lib.Linear(4, 6)
            # a custom init re-assigns the weight: it keeps its place before the bias
            # (parameter order = optimizer state indices and state_dict order)
            self.body.weight = lib.Parameter(self.body.weight.detach() * 0.5)
            self.a = lib.Linear(6, 2)
            self.b = lib.Linear(6, 2)

        def forward(self, x, use_b):
            h = self.body(x).tanh()
            return self.a(h) + self.b(h) if use_b else self.a(h)
    return TwoHeads()


@pytest.mark.parametrize("set_to_none", [True, False])
@pytest.mark.parametrize("opt_name", ["Adam", "SGD", "RMSprop"])
def test_zero_grad_and_unused_parameters(torch, opt_name, set_to_none):
    """Head ``b`` is used only every third step. With ``set_to_none=True`` it has no
    gradient on the other steps and is skipped (no state, no decay); with
    ``set_to_none=False`` it has a zero gradient and still steps (momentum,
    weight decay, the step count), as in torch. Every other step zeroes through
    the model's ``zero_grad(set_to_none=...)`` instead of the optimizer's. From
    step 12 ``a.weight`` is frozen with ``requires_grad_(False)``: it keeps the
    gradient it had (zeroed or dropped by the next zero_grad) in both."""
    steps = 20
    tm, fm = _setup(torch, _make_two_heads, np.float64, seed=12)
    rng = np.random.default_rng(13)
    xs = rng.standard_normal((steps, 5, 4))
    ys = rng.standard_normal((steps, 5, 2))
    hyper = {"Adam": dict(lr=0.05, weight_decay=0.01),
             "SGD": dict(lr=0.05, momentum=0.8, weight_decay=0.01),
             "RMSprop": dict(lr=0.01, momentum=0.5, weight_decay=0.01)}[opt_name]
    topt = getattr(torch.optim, opt_name)(tm.parameters(), **hyper)
    fopt = getattr(fl, opt_name)(fm.parameters(), **hyper)
    t_losses, f_losses = [], []
    for t in range(steps):
        use_b = t % 3 == 2
        if t == 12:
            tm.a.weight.requires_grad_(False)
            fm.a.weight.requires_grad_(False)
        if t % 2:
            tm.zero_grad(set_to_none=set_to_none)
            fm.zero_grad(set_to_none=set_to_none)
        else:
            topt.zero_grad(set_to_none=set_to_none)
            fopt.zero_grad(set_to_none=set_to_none)
        _check_grads(tm, fm, 0.0, f"{opt_name} gradients after zero_grad at step {t}")
        tloss = torch.nn.functional.mse_loss(tm(_t(torch, xs[t]), use_b), _t(torch, ys[t]))
        floss = fl.mse_loss(fm(_f(xs[t]), use_b), _f(ys[t]))
        tloss.backward()
        floss.backward()
        _check_grads(tm, fm, 1e-9, f"{opt_name} gradients at step {t}")
        topt.step()
        fopt.step()
        t_losses.append(tloss.item())
        f_losses.append(floss.item())
    _check_losses(f_losses, t_losses, np.float64, f"{opt_name} loss")
    _check_model(tm, fm, 1e-9, f"{opt_name} end")
    _check_optimizer(fopt, topt, 1e-9, f"{opt_name} end")


CROSS_LOAD = [
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    ("Adam", dict(lr=0.02, amsgrad=True, weight_decay=0.01)),
    ("AdamW", dict(lr=0.02, betas=(0.8, 0.95), weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)),
    ("Adagrad", dict(lr=0.05, lr_decay=0.01, weight_decay=0.01)),
    ("RAdam", dict(lr=0.02, weight_decay=0.01, decoupled_weight_decay=True)),
    ("NAdam", dict(lr=0.02, momentum_decay=0.01, decoupled_weight_decay=True)),
]


@pytest.mark.parametrize("opt_name, hyper", CROSS_LOAD, ids=[c[0] for c in CROSS_LOAD])
def test_optimizer_state_dict_cross_load_mid_run(torch, opt_name, hyper):
    """Every optimizer: 8 steps, then each framework continues with a fresh optimizer
    loaded from the *other* framework's state_dict (torch tensors as NumPy arrays
    and back), 8 more steps. Head ``b`` is not used before the swap, so its
    parameters have no state in the dict that is loaded (except Adagrad's, which
    torch creates at construction)."""
    steps, swap = 16, 8
    tm, fm = _setup(torch, _make_two_heads, np.float64, seed=18)
    rng = np.random.default_rng(19)
    xs = rng.standard_normal((steps, 5, 4))
    ys = rng.standard_normal((steps, 5, 2))
    topt = getattr(torch.optim, opt_name)(tm.parameters(), **hyper)
    fopt = getattr(fl, opt_name)(fm.parameters(), **hyper)
    t_losses, f_losses = [], []
    for t in range(steps):
        if t == swap:
            tsd, fsd = topt.state_dict(), fopt.state_dict()
            # (Adagrad creates every parameter's state at construction, b's included)
            assert sorted(tsd["state"]) == sorted(fsd["state"])
            topt = getattr(torch.optim, opt_name)(tm.parameters(), lr=1.0)
            topt.load_state_dict({
                "state": {i: {k: torch.tensor(v) for k, v in st.items()}
                          for i, st in fsd["state"].items()},
                "param_groups": fsd["param_groups"]})
            fopt = getattr(fl, opt_name)(fm.parameters(), lr=1.0)
            fopt.load_state_dict(_torch_state_as_numpy(torch, tsd))
            _check_optimizer(fopt, topt, 1e-15, f"{opt_name} after the swap")
        topt.zero_grad()
        fopt.zero_grad()
        tloss = torch.nn.functional.mse_loss(tm(_t(torch, xs[t]), t >= swap), _t(torch, ys[t]))
        floss = fl.mse_loss(fm(_f(xs[t]), t >= swap), _f(ys[t]))
        tloss.backward()
        floss.backward()
        topt.step()
        fopt.step()
        t_losses.append(tloss.item())
        f_losses.append(floss.item())
    _check_losses(f_losses, t_losses, np.float64, f"{opt_name} loss")
    _check_model(tm, fm, 1e-9, f"{opt_name} end")
    _check_optimizer(fopt, topt, 1e-9, f"{opt_name} end")


def _make_regularised(lib):
    class Net(lib.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = lib.Linear(6, 12)
            self.bn = lib.BatchNorm1d(12)
            self.drop = lib.Dropout(0.5)
            self.lstm = lib.LSTM(12, 5, num_layers=2, dropout=0.5)
            self.attn = lib.MultiheadAttention(5, 1, dropout=0.5)
            self.fc2 = lib.Linear(5, 2)

        def forward(self, x):                              # x (L, N, 6)
            L, N = x.shape[0], x.shape[1]
            h = self.drop(self.bn(self.fc1(x).reshape(L * N, 12)).relu())
            h, _ = self.lstm(h.reshape(L, N, 12))
            h, _ = self.attn(h, h, h)
            return self.fc2(h)
    return Net()


def test_training_in_eval_mode_freezes_batch_norm_and_dropout(torch):
    """Fine-tuning with ``model.eval()``: batch norm normalises with (and does not
    update) its running statistics, Dropout, the LSTM's inter-layer dropout and
    the attention dropout are off, so the whole run is deterministic and equal
    in both; ``train()`` afterwards updates the statistics again (one step)."""
    steps = 12
    tm, fm = _setup(torch, _make_regularised, np.float64, seed=16)
    rng = np.random.default_rng(17)
    # Non-trivial running statistics first: a few training-mode forwards.
    for k in range(3):
        x = rng.standard_normal((4, 3, 6)) * 2 + 1
        with torch.no_grad():
            tm.bn(tm.fc1(_t(torch, x)).reshape(12, 12))
        with fl.no_grad():
            fm.bn(fm.fc1(_f(x)).reshape(12, 12))
    tm.eval()
    fm.eval()
    assert not fm.lstm.training and not fm.attn.training
    frozen = {k: v.copy() for k, v in fm.state_dict().items() if "running" in k or "num_" in k}
    xs = rng.standard_normal((steps, 4, 3, 6))
    ys = rng.standard_normal((steps, 4, 3, 2))
    topt = torch.optim.SGD(tm.parameters(), lr=0.05, momentum=0.9)
    fopt = fl.SGD(fm.parameters(), 0.05, momentum=0.9)
    t_losses, f_losses = [], []
    for t in range(steps):
        topt.zero_grad()
        fopt.zero_grad()
        tloss = torch.nn.functional.mse_loss(tm(_t(torch, xs[t])), _t(torch, ys[t]))
        floss = fl.mse_loss(fm(_f(xs[t])), _f(ys[t]))
        tloss.backward()
        floss.backward()
        topt.step()
        fopt.step()
        t_losses.append(tloss.item())
        f_losses.append(floss.item())
    _check_losses(f_losses, t_losses, np.float64, "eval-mode loss")
    _check_model(tm, fm, 1e-9, "eval-mode end")
    for k, v in frozen.items():
        np.testing.assert_array_equal(fm.state_dict()[k], v, err_msg=f"{k} changed in eval")
    _check_optimizer(fopt, topt, 1e-9, "eval-mode SGD end")
    tm.train()
    fm.train()
    x = rng.standard_normal((4, 3, 6))
    with torch.no_grad():
        tm.bn(tm.fc1(_t(torch, x)).reshape(12, 12))
    with fl.no_grad():
        fm.bn(fm.fc1(_f(x)).reshape(12, 12))
    _check_model(tm, fm, 1e-9, "after one train-mode batch-norm forward")
    assert int(fm.bn.num_batches_tracked.to_numpy()) == 4


# ======================================== 6. autocast bfloat16 + GradScaler


AMP_CASES = {
    # bfloat16: float32's range, so a batch holding an Inf makes the overflow
    "bfloat16": dict(init_scale=2.0 ** 12, growth_interval=4, bad_step=6),
    # float16: a scale of 2**21 overflows float16 gradients; the scaler backs off
    # until they fit, then grows again every 3 clean steps
    "float16": dict(init_scale=2.0 ** 21, growth_interval=3, bad_step=None),
}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")        # Inf/NaN on skipped steps
@pytest.mark.parametrize("amp", sorted(AMP_CASES))
def test_autocast_grad_scaler(torch, amp):
    """The MLP trained under bfloat16 or float16 autocast with a GradScaler,
    unscale + clip_grad_norm, Adam; steps whose gradients overflow (an Inf in
    the batch, or float16's range) are skipped and the scale backs off; mid-run
    the flodl scaler is replaced by a fresh one loaded from torch's scaler
    state_dict.

    Against torch's CPU autocast run: the loss-scale sequence and the Adam step
    counts exactly (skipped steps do not count), the logits in the low dtype
    and the losses in float32 in both, losses and end parameters within 1e-3
    relative. (Both frameworks compute the products in float32 and round to the
    low dtype, so today they agree to ~1e-7; the slack allows a few rounding
    flips, 2**-8 each in bfloat16.) Against a float32 torch run without
    autocast (same skipped steps), the losses agree within 5e-3."""
    case = AMP_CASES[amp]
    steps, bad_step, reload_at = 16, case["bad_step"], 9
    tm, fm = _setup(torch, _make_mlp(0.0), np.float32, seed=14)
    ref = _make_mlp(0.0)(torch.nn)                  # float32, no autocast
    ref.load_state_dict(tm.state_dict())
    rng = np.random.default_rng(15)
    xs = rng.standard_normal((steps, 16, 10)).astype(np.float32)
    ys = rng.integers(0, 5, (steps, 16))
    if bad_step is not None:
        xs[bad_step, 3, 2] = np.inf
    topt = torch.optim.Adam(tm.parameters(), lr=5e-3)
    fopt = fl.Adam(fm.parameters(), lr=5e-3)
    ropt = torch.optim.Adam(ref.parameters(), lr=5e-3)
    scaler_args = dict(init_scale=case["init_scale"], growth_interval=case["growth_interval"])
    tscaler = torch.amp.GradScaler("cpu", **scaler_args)
    fscaler = fl.GradScaler(**scaler_args)
    tdt, fdt = {"bfloat16": (torch.bfloat16, fl.DType.BFloat16),
                "float16": (torch.float16, fl.DType.Float16)}[amp]
    t_losses, f_losses, r_losses, t_scales, f_scales, stepped = [], [], [], [], [], []
    for t in range(steps):
        if t == reload_at:
            fscaler = fl.GradScaler(init_scale=1.0, growth_interval=1000)
            fscaler.load_state_dict(tscaler.state_dict())
        topt.zero_grad()
        fopt.zero_grad()
        with torch.autocast("cpu", dtype=tdt):
            tlog = tm(_t(torch, xs[t]))
            tloss = torch.nn.functional.cross_entropy(tlog, _t(torch, ys[t]))
        with fl.autocast(fdt):
            flog = fm(_f(xs[t]))
            floss = fl.cross_entropy_loss(flog, _f(ys[t]))
        assert str(to_numpy(flog).dtype) == amp and tlog.dtype == tdt
        assert to_numpy(floss).dtype == np.float32 and tloss.dtype == torch.float32
        scale = tscaler.get_scale()
        tscaler.scale(tloss).backward()
        fscaler.scale(floss).backward()
        tscaler.unscale_(topt)
        fscaler.unscale(fopt)
        torch.nn.utils.clip_grad_norm_(tm.parameters(), 5.0)
        fl.clip_grad_norm(fm.parameters(), 5.0)
        for p in fm.parameters():
            assert p.grad is None or to_numpy(p.grad).dtype == np.float32
        tscaler.step(topt)
        stepped.append(fscaler.step(fopt))
        tscaler.update()
        fscaler.update()
        t_scales.append(tscaler.get_scale())
        f_scales.append(fscaler.get_scale())
        t_losses.append(tloss.item())
        f_losses.append(floss.item())
        if t_scales[-1] >= scale:                   # torch stepped: so does the reference
            ropt.zero_grad()
            rloss = torch.nn.functional.cross_entropy(ref(_t(torch, xs[t])), _t(torch, ys[t]))
            rloss.backward()
            torch.nn.utils.clip_grad_norm_(ref.parameters(), 5.0)
            ropt.step()
            r_losses.append(rloss.item())
    assert f_scales == t_scales, f"loss scales {f_scales} != torch {t_scales}"
    skipped = [i for i, ok in enumerate(stepped) if not ok]
    assert skipped and len(skipped) < steps // 2, f"skipped steps {skipped}"
    assert max(t_scales[skipped[-1]:]) > t_scales[skipped[-1]], "the scale should grow back"
    if bad_step is not None:
        assert skipped == [bad_step]
        assert not np.isfinite(t_losses[bad_step]) and not np.isfinite(f_losses[bad_step])
    good = [i for i in range(steps) if i not in skipped]
    np.testing.assert_allclose(np.asarray(f_losses)[good], np.asarray(t_losses)[good],
                               rtol=1e-3, err_msg=f"{amp} autocast losses")
    np.testing.assert_allclose(np.asarray(f_losses)[good], r_losses, rtol=5e-3,
                               err_msg=f"{amp} autocast losses against float32 torch")
    ts, fs = tm.state_dict(), fm.state_dict()
    for k, v in ts.items():
        _close(fs[k], v, 1e-3, f"{amp} autocast end: {k}")
    tsd, fsd = topt.state_dict()["state"], fopt.state_dict()["state"]
    for i in tsd:
        assert float(fsd[i]["step"]) == float(tsd[i]["step"]) == len(good)
