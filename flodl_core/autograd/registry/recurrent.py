"""Registry entries: F.gru_cell, F.lstm_cell, F.lstm_sequence (references: the textbook gate
equations in float64 NumPy, PyTorch's gate order)."""
from __future__ import annotations

import numpy as np

from ...backend.dtype import DType
from ..ops import recurrent as R
from . import OpInfo, SampleInput, register
from .samples import noncontig, uniform

ALL_FLOATS = (DType.Float64, DType.Float32, DType.Float16, DType.BFloat16)
HALF_TOL = {DType.Float16: (2e-2, 1e-2), DType.BFloat16: (1e-1, 3e-2)}


def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def _aff(x, w, b):
    y = x @ w.T
    return y if b is None else y + b


def _gru_ref(x, h, w_ih, w_hh, b_ih=None, b_hh=None):
    H = h.shape[-1]
    gi, gh = _aff(x, w_ih, b_ih), _aff(h, w_hh, b_hh)
    r = _sig(gi[..., :H] + gh[..., :H])
    z = _sig(gi[..., H:2 * H] + gh[..., H:2 * H])
    n = np.tanh(gi[..., 2 * H:] + r * gh[..., 2 * H:])
    return (1.0 - z) * n + z * h


def _lstm_ref(x, h, c, w_ih, w_hh, b_ih=None, b_hh=None):
    H = h.shape[-1]
    g = _aff(x, w_ih, b_ih) + _aff(h, w_hh, b_hh)
    i, f, gg, o = (g[..., k * H:(k + 1) * H] for k in range(4))
    c2 = _sig(f) * c + _sig(i) * np.tanh(gg)
    return _sig(o) * np.tanh(c2), c2


def _weights(rng, gates, n_in, hidden, bias=True):
    w = [uniform(rng, (gates * hidden, n_in), -1.0, 1.0),
         uniform(rng, (gates * hidden, hidden), -1.0, 1.0)]
    if bias:
        w += [uniform(rng, (gates * hidden,), -1.0, 1.0), uniform(rng, (gates * hidden,),
                                                                   -1.0, 1.0)]
    return tuple(w)


def _samples(rng, gates, states):
    u = lambda *s: uniform(rng, s, -1.0, 1.0)   # noqa: E731
    st = lambda *s: tuple(u(*s) for _ in range(states))   # noqa: E731
    return [
        SampleInput((u(2, 3),) + st(2, 2) + _weights(rng, gates, 3, 2)),
        SampleInput((u(1, 2),) + st(1, 3) + _weights(rng, gates, 2, 3, bias=False),
                    desc="no biases"),
        SampleInput((u(3),) + st(2) + _weights(rng, gates, 3, 2), desc="unbatched"),
        SampleInput((noncontig(u(2, 3)),) + st(2, 1)
                    + tuple(noncontig(a) if a.ndim == 2 else a
                            for a in _weights(rng, gates, 3, 1)), desc="non-contiguous"),
    ]


def _lstm_op(x, h, c, *weights):
    return R.lstm_cell(x, (h, c), *weights)


register(OpInfo("F.gru_cell", lambda rng: _samples(rng, 3, 1), _gru_ref, op=R.gru_cell,
                dtypes=ALL_FLOATS, fwd_tol=HALF_TOL))
register(OpInfo("F.lstm_cell", lambda rng: _samples(rng, 4, 2), _lstm_ref, op=_lstm_op,
                dtypes=ALL_FLOATS, fwd_tol=HALF_TOL))


def _lstm_seq_ref(proj, w_hh, h0, c0, reverse=False):
    T, H = proj.shape[0], h0.shape[-1]
    h, c = h0, c0
    hs = np.zeros(proj.shape[:2] + (H,))
    order = range(T - 1, -1, -1) if reverse else range(T)
    for t in order:
        g = proj[t] + h @ w_hh.T
        i, f, gg, o = (g[..., k * H:(k + 1) * H] for k in range(4))
        c = _sig(f) * c + _sig(i) * np.tanh(gg)
        h = _sig(o) * np.tanh(c)
        hs[t] = h
    return hs, h, c


def _lstm_seq_samples(rng):
    u = lambda *s: uniform(rng, s, -1.0, 1.0)   # noqa: E731
    return [
        SampleInput((u(3, 2, 8), u(8, 2), u(2, 2), u(2, 2))),
        SampleInput((u(3, 2, 8), u(8, 2), u(2, 2), u(2, 2)), {"reverse": True},
                    desc="reverse"),
        SampleInput((u(1, 1, 4), u(4, 1), u(1, 1), u(1, 1)), desc="one step, H=1"),
        SampleInput((noncontig(u(2, 3, 8)), noncontig(u(8, 2)), u(3, 2), u(3, 2)),
                    desc="non-contiguous"),
    ]


register(OpInfo("F.lstm_sequence", _lstm_seq_samples, _lstm_seq_ref, op=R.lstm_sequence,
                dtypes=ALL_FLOATS, fwd_tol=HALF_TOL))
