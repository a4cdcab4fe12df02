"""Case 7: a 20-step recurrent attention loop, training step, float32, Adam.

A ``GRUCell(64, 64)`` whose input at every step is an attention read over 16 fixed
keys and values of the batch (``keys``, ``values``: ``(B, 16, 64)``, B = 16); the
query is the current hidden state (``h_0 = 0``). Per step, the same op sequence in
flodl and torch::

    scores = (h.unsqueeze(1) @ keys_t) * (1 / sqrt(64))    # keys_t = keys.transpose(1, 2)
    w = scores.softmax(-1)                                  # (B, 1, 16), over the keys
    read = (w @ values).squeeze(1)                          # (B, 64)
    h = gru_cell(read, h)

then ``logits = linear(h, W, b)`` (64 -> 10), ``loss = -(log_softmax(logits, dim=1) *
onehot).sum() / B``, backward (through all 20 steps and the queries; keys and values
are data, no gradient) and Adam (lr 1e-3, betas (0.9, 0.999), eps 1e-8; the update of
``lstm_step``: by hand in place for flodl, ``torch.optim.Adam`` for torch).

flodl: ``fl.nn.GRUCell`` and ``fl.nn.Linear``; torch: ``torch.nn.GRUCell`` and
``torch.nn.Linear``. Weights: NumPy ``default_rng(0)`` in PyTorch's layouts (U(+-1/
sqrt(fan)) like its default init) loaded with ``load_state_dict``; keys and values
standard normal. Check: the losses of the first 5 steps, then the sum of squares of
all Adam first-moment buffers agree to 1e-4 relative. No hand-written NumPy column.
Reported: milliseconds per step.

Run one framework alone:  python -m benchmarks.cases.recurrent_attention --framework flodl
"""
from __future__ import annotations

if __package__ in (None, ""):   # allow `python benchmarks/cases/recurrent_attention.py`
    import os as _os
    import sys as _sys
    _sys.path.insert(0, _os.path.dirname(_os.path.dirname(_os.path.dirname(
        _os.path.abspath(__file__)))))

from benchmarks.cases._common import (check_values, flodl_meta, onehot, torch_setup,
                                      uniform_fan_in)
from benchmarks.cases.lstm_step import FlodlAdam, TorchAdam
from benchmarks.harness import Bench, worker_main

STEPS, B, S, D, OUT = 20, 16, 16, 64, 10
SCALE = 1.0 / D ** 0.5

CASE = {
    "name": "recurrent_attention",
    "title": "20-step recurrent attention (GRUCell 64, 16 keys), linear 64->10, batch 16, "
             "float32, Adam",
    "unit": "ms/step",
    "scale": 1e3,
    "inner": 5,
    "warmup": 5,
    "check_rtol": 1e-4,
}


def _init():
    """GRUCell and head state dicts (PyTorch layouts), keys, values, one-hot labels."""
    import numpy as np
    rng = np.random.default_rng(0)
    cell = {"weight_ih": uniform_fan_in(rng, (3 * D, D), D),
            "weight_hh": uniform_fan_in(rng, (3 * D, D), D),
            "bias_ih": uniform_fan_in(rng, (3 * D,), D),
            "bias_hh": uniform_fan_in(rng, (3 * D,), D)}
    head = {"weight": uniform_fan_in(rng, (OUT, D), D),
            "bias": uniform_fan_in(rng, (OUT,), D)}
    keys = rng.standard_normal((B, S, D)).astype(np.float32)
    values = rng.standard_normal((B, S, D)).astype(np.float32)
    labels = rng.integers(0, OUT, B)
    return cell, head, keys, values, onehot(labels, OUT), np.zeros((B, D), np.float32)


def _loss(cell, head, keys_t, values, oh, h):
    """The loop, for either framework (flodl or torch modules and tensors)."""
    for _ in range(STEPS):
        w = ((h.unsqueeze(1) @ keys_t) * SCALE).softmax(-1)
        h = cell((w @ values).squeeze(1), h)
    return -(head(h).log_softmax(1) * oh).sum() / B


def make_flodl(threads: int) -> Bench:
    import flodl_core as fl
    cell_sd, head_sd, k0, v0, oh0, h0 = _init()
    cell, head = fl.nn.GRUCell(D, D), fl.nn.Linear(D, OUT)
    cell.load_state_dict(cell_sd)
    head.load_state_dict(head_sd)
    opt = FlodlAdam(list(cell.parameters()) + list(head.parameters()))
    keys_t = fl.tensor(k0).transpose(1, 2)
    values, oh, h = fl.tensor(v0), fl.tensor(oh0), fl.tensor(h0)

    def step():
        loss = _loss(cell, head, keys_t, values, oh, h)
        loss.backward()
        opt.step()
        return loss

    return Bench(step, check_values(lambda: step().item(), opt), flodl_meta())


def make_torch(threads: int) -> Bench:
    torch, meta = torch_setup(threads)
    cell_sd, head_sd, k0, v0, oh0, h0 = _init()
    cell, head = torch.nn.GRUCell(D, D), torch.nn.Linear(D, OUT)
    cell.load_state_dict({k: torch.from_numpy(v) for k, v in cell_sd.items()})
    head.load_state_dict({k: torch.from_numpy(v) for k, v in head_sd.items()})
    opt = TorchAdam(list(cell.parameters()) + list(head.parameters()))
    keys_t = torch.from_numpy(k0).transpose(1, 2)
    values, oh, h = torch.from_numpy(v0), torch.from_numpy(oh0), torch.from_numpy(h0)

    def step():
        loss = _loss(cell, head, keys_t, values, oh, h)
        loss.backward()
        opt.step()
        return loss

    return Bench(step, check_values(lambda: step().item(), opt), meta)


FRAMEWORKS = {"flodl": make_flodl, "torch": make_torch}

if __name__ == "__main__":
    worker_main(CASE, FRAMEWORKS)
