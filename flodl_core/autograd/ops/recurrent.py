"""Recurrent cells: gru_cell, lstm_cell (torch.gru_cell / torch.lstm_cell semantics).

One time step, composed from ``linear``, ``chunk``, ``sigmoid`` and ``tanh``, so
gradients of every order come for free. Gate order follows PyTorch:

* LSTM, weights (4H, in) / (4H, H): input, forget, cell (g), output;
  ``c' = f * c + i * g``, ``h' = o * tanh(c')``.
* GRU, weights (3H, in) / (3H, H): reset, update, new;
  ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``, ``h' = (1 - z) * n + z * h``.

Inputs are (batch, in) with states (batch, H), or unbatched (in,) with (H,).
"""
from __future__ import annotations

from ...errors import ShapeError
from ...tensor import Tensor, TensorLike
from ..function import op_function
from ._util import xp
from .linear import _check_tensor, linear


_check = _check_tensor   # the same argument check as linear()


def _validate(op, gates, input, states, w_ih, w_hh, b_ih, b_hh):
    _check(op, "input", input)
    _check(op, "w_ih", w_ih)
    _check(op, "w_hh", w_hh)
    _check(op, "b_ih", b_ih, optional=True)
    _check(op, "b_hh", b_hh, optional=True)
    if w_ih.ndim != 2 or w_hh.ndim != 2:
        raise ShapeError(f"{op}: w_ih and w_hh must be 2-D, got shapes {w_ih.shape} and "
                         f"{w_hh.shape}")
    gh = w_ih.shape[0]
    if gh % gates:
        raise ShapeError(f"{op}: w_ih has {gh} rows, expected {gates} * hidden_size "
                         f"(shape {w_ih.shape})")
    hidden = gh // gates
    if w_hh.shape != (gh, hidden):
        raise ShapeError(f"{op}: w_hh shape {w_hh.shape} does not match hidden_size {hidden}: "
                         f"expected {(gh, hidden)}")
    if input.ndim not in (1, 2):
        raise ShapeError(f"{op}: input must be (batch, input_size) or (input_size,), got "
                         f"shape {input.shape}")
    if input.shape[-1] != w_ih.shape[1]:
        raise ShapeError(f"{op}: input has {input.shape[-1]} features, w_ih expects "
                         f"{w_ih.shape[1]} (w_ih shape {w_ih.shape})")
    want = input.shape[:-1] + (hidden,)
    for name, s in states:
        _check(op, name, s)
        if s.shape != want:
            raise ShapeError(f"{op}: {name} shape {s.shape} does not match the expected "
                             f"{want} (batch of the input, hidden_size {hidden})")
    for name, b in (("b_ih", b_ih), ("b_hh", b_hh)):
        if b is not None and b.shape != (gh,):
            raise ShapeError(f"{op}: {name} shape {b.shape} does not match ({gh},)")
    return hidden


def _zeros_state(input, hidden):
    d = input._data
    return Tensor._wrap(xp(d).zeros(input.shape[:-1] + (hidden,), dtype=d.dtype))


@op_function
def gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One GRU step: the new hidden state (hx=None means zeros)."""
    op = "gru_cell"
    if hx is None and isinstance(w_hh, TensorLike) and isinstance(input, TensorLike):
        hx = _zeros_state(input, w_hh.shape[-1])
    _validate(op, 3, input, [("hx", hx)], w_ih, w_hh, b_ih, b_hh)
    i_r, i_z, i_n = linear(input, w_ih, b_ih).chunk(3, -1)
    h_r, h_z, h_n = linear(hx, w_hh, b_hh).chunk(3, -1)
    r = (i_r + h_r).sigmoid()
    z = (i_z + h_z).sigmoid()
    n = (i_n + r * h_n).tanh()
    return n + z * (hx - n)


@op_function
def lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One LSTM step: ``hx = (h, c)`` (None means zeros) -> ``(h', c')``."""
    op = "lstm_cell"
    if hx is None and isinstance(w_hh, TensorLike) and isinstance(input, TensorLike):
        z = _zeros_state(input, w_hh.shape[-1])
        hx = (z, z)
    if not isinstance(hx, (tuple, list)) or len(hx) != 2:
        raise TypeError(f"{op}: hx must be a pair (h, c), got {type(hx).__name__}")
    h, c = hx
    _validate(op, 4, input, [("h", h), ("c", c)], w_ih, w_hh, b_ih, b_hh)
    gates = linear(input, w_ih, b_ih) + linear(h, w_hh, b_hh)
    i, f, g, o = gates.chunk(4, -1)
    c_new = f.sigmoid() * c + i.sigmoid() * g.tanh()
    h_new = o.sigmoid() * c_new.tanh()
    return h_new, c_new


FUNCTIONAL = ["gru_cell", "lstm_cell"]
__all__ = []
