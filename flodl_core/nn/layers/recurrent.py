"""Recurrent layers: GRUCell, LSTMCell (one step) and GRU, LSTM (whole sequences).

Constructor arguments, parameter names, shapes, gate layouts and default
initialisation follow ``torch.nn``, so a PyTorch ``state_dict`` loads unchanged::

    >>> import flodl_core as fl
    >>> from flodl_core import nn
    >>> lstm = nn.LSTM(8, 16, num_layers=2, bidirectional=True)
    >>> out, (h_n, c_n) = lstm(fl.zeros(5, 3, 8))     # (L, N, H_in)
    >>> out.shape, h_n.shape
    ((5, 3, 32), (4, 3, 16))

Gate order is PyTorch's: LSTM input, forget, cell (g), output; GRU reset, update,
new. All weights and biases start as U(-1/sqrt(H), 1/sqrt(H)).

Sequence layers project the input of every time step with one matmul up front
(``x @ W_ih^T + b`` over the whole sequence); each step then does only the
hidden-state matmul and the gate arithmetic. LSTM runs that recurrence as one
fused op per layer and direction (``F.lstm_sequence``). GRU composes it from ops:
the projection is split into per-step pieces by one ``split`` (whose backward is
one concatenation), so the backward stays linear in the sequence length.
"""
from __future__ import annotations

import math

import numpy as np

from ... import creation as _c
from ...errors import ShapeError
from ...tensor import TensorLike
from .. import functional as F
from .. import init
from ..module import Module
from ..module_registry import ModuleInfo, register_module
from ..parameter import Parameter
from .linear import _count

__all__ = ["GRUCell", "LSTMCell", "GRU", "LSTM"]


def _uniform_param(shape, bound, dtype, device):
    return Parameter(init.uniform(shape, -bound, bound, dtype=dtype, device=device))


def _check_tensor(name, what, x):
    if not isinstance(x, TensorLike):
        raise TypeError(f"{name}: {what} must be a Tensor or Variable, got {type(x).__name__}")
    return tuple(x.shape)


# --------------------------------------------------------------------- cells


class _CellBase(Module):
    _gates = 0
    _fn = None

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__()
        kind = type(self).__name__
        self.input_size = _count(kind, "input_size", input_size)
        self.hidden_size = _count(kind, "hidden_size", hidden_size, 1)
        self.bias = bool(bias)
        g, h = self._gates * self.hidden_size, self.hidden_size
        bound = 1.0 / math.sqrt(h)
        self.weight_ih = _uniform_param((g, self.input_size), bound, dtype, device)
        self.weight_hh = _uniform_param((g, h), bound, dtype, device)
        if bias:
            self.bias_ih = _uniform_param((g,), bound, dtype, device)
            self.bias_hh = _uniform_param((g,), bound, dtype, device)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)

    def _name(self):
        return f"{type(self).__name__}({self.input_size} -> {self.hidden_size})"

    def _check_input(self, input):
        shape = _check_tensor(self._name(), "input", input)
        if len(shape) not in (1, 2) or shape[-1] != self.input_size:
            raise ShapeError(f"{self._name()}: expected input (N, {self.input_size}) or "
                             f"({self.input_size},), got {shape}")
        return shape

    def _check_state(self, what, s, in_shape):
        shape = _check_tensor(self._name(), what, s)
        want = in_shape[:-1] + (self.hidden_size,)
        if shape != want:
            raise ShapeError(f"{self._name()}: expected {what} {want} for input {in_shape}, "
                             f"got {shape}")

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        return s if self.bias else s + ", bias=False"


class GRUCell(_CellBase):
    """One GRU step (torch.nn.GRUCell).

    ``r = σ(W_ir x + b_ir + W_hr h + b_hr)``, ``z = σ(W_iz x + b_iz + W_hz h + b_hz)``,
    ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``, ``h' = (1 - z) * n + z * h``.

    Parameters: ``weight_ih`` (3H, input_size), ``weight_hh`` (3H, H), ``bias_ih``
    and ``bias_hh`` (3H,), gates stacked r, z, n. Input (N, input_size) or
    (input_size,), ``hx`` (N, H) or (H,) (None: zeros) -> h' of hx's shape.
    """

    _gates = 3

    def forward(self, input, hx=None):
        shape = self._check_input(input)
        if hx is not None:
            self._check_state("hx", hx, shape)
        return F.gru_cell(input, hx, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)


class LSTMCell(_CellBase):
    """One LSTM step (torch.nn.LSTMCell).

    ``i, f, g, o = σ, σ, tanh, σ`` of ``W_ih x + b_ih + W_hh h + b_hh`` (stacked in that
    order), ``c' = f * c + i * g``, ``h' = o * tanh(c')``.

    Parameters: ``weight_ih`` (4H, input_size), ``weight_hh`` (4H, H), ``bias_ih``
    and ``bias_hh`` (4H,). ``hx`` is a pair (h, c) of (N, H) (or (H,) for an
    unbatched input), or None for zeros. Returns (h', c').
    """

    _gates = 4

    def forward(self, input, hx=None):
        shape = self._check_input(input)
        if hx is not None:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(f"{self._name()}: hx must be a pair (h, c) or None, got "
                                f"{type(hx).__name__}")
            self._check_state("h", hx[0], shape)
            self._check_state("c", hx[1], shape)
        return F.lstm_cell(input, hx, self.weight_ih, self.weight_hh, self.bias_ih,
                           self.bias_hh)


# ------------------------------------------------------------------ sequences


class _RNNBase(Module):
    _gates = 0

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None):
        super().__init__()
        kind = type(self).__name__
        self.input_size = _count(kind, "input_size", input_size)
        self.hidden_size = _count(kind, "hidden_size", hidden_size, 1)
        self.num_layers = _count(kind, "num_layers", num_layers, 1)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) \
                or not 0.0 <= dropout <= 1.0:
            raise ValueError(f"{kind}: dropout must be a number in [0, 1], got {dropout!r}")
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = float(dropout)
        self.bidirectional = bool(bidirectional)
        h = self.hidden_size
        g = self._gates * h
        nd = 2 if self.bidirectional else 1
        bound = 1.0 / math.sqrt(h)
        names = []
        for layer in range(self.num_layers):
            in_size = self.input_size if layer == 0 else h * nd
            for direction in range(nd):
                sfx = f"_l{layer}" + ("_reverse" if direction else "")
                setattr(self, "weight_ih" + sfx,
                        _uniform_param((g, in_size), bound, dtype, device))
                setattr(self, "weight_hh" + sfx, _uniform_param((g, h), bound, dtype, device))
                if self.bias:
                    setattr(self, "bias_ih" + sfx, _uniform_param((g,), bound, dtype, device))
                    setattr(self, "bias_hh" + sfx, _uniform_param((g,), bound, dtype, device))
                names.append(sfx)
        self._suffixes = names

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    def _name(self):
        return f"{type(self).__name__}({self.input_size} -> {self.hidden_size})"

    def _weights(self, sfx):
        if self.bias:
            return (getattr(self, "weight_ih" + sfx), getattr(self, "weight_hh" + sfx),
                    getattr(self, "bias_ih" + sfx), getattr(self, "bias_hh" + sfx))
        return getattr(self, "weight_ih" + sfx), getattr(self, "weight_hh" + sfx), None, None

    def _prepare_input(self, input):
        """(time-major 3-D input, batched?) after checking the shape."""
        shape = _check_tensor(self._name(), "input", input)
        if len(shape) not in (2, 3) or shape[-1] != self.input_size:
            lay = "(N, L, {0})" if self.batch_first else "(L, N, {0})"
            raise ShapeError(f"{self._name()}: expected input {lay.format(self.input_size)} "
                             f"(batch_first={self.batch_first}) or unbatched "
                             f"(L, {self.input_size}), got {shape}")
        if len(shape) == 2:
            return input.unsqueeze(1), False
        return (input.transpose(0, 1) if self.batch_first else input), True

    def _prepare_state(self, what, s, batched, n):
        """A state of (num_layers * D, N, H) (or (num_layers * D, H) unbatched), as
        a list of (1, N, H) pieces, or None."""
        if s is None:
            return None
        shape = _check_tensor(self._name(), what, s)
        lead = self.num_layers * self.num_directions
        want = (lead, n, self.hidden_size) if batched else (lead, self.hidden_size)
        if shape != want:
            raise ShapeError(f"{self._name()}: expected {what} {want} (num_layers * "
                             f"num_directions, {'N, ' if batched else ''}hidden_size), got "
                             f"{shape}")
        if not batched:
            s = s.unsqueeze(1)
        return s.split(1, 0)

    def _run(self, x, states):
        """Every layer and direction over the time-major input ``x`` (L, N, in).

        ``states``: per (layer, direction) a tuple of (1, N, H) initial states (or
        None for zeros). Returns the last layer's output (L, N, D * H) and the final
        states, a list of tuples of (1, N, H).
        """
        n = x.shape[1]
        nd = self.num_directions
        finals = []
        for layer in range(self.num_layers):
            outs = []
            for d in range(nd):
                idx = layer * nd + d
                w_ih, w_hh, b_ih, b_hh = self._weights(self._suffixes[idx])
                init_state = states[idx]
                if init_state is None:
                    z = _c.zeros((1, n, self.hidden_size), dtype=x.dtype, device=x.device)
                    init_state = (z,) * self._n_states
                out, final = self._direction(x, init_state, w_ih, w_hh, b_ih, b_hh,
                                             reverse=d == 1)
                outs.append(out)
                finals.append(final)
            x = outs[0] if nd == 1 else outs[0].cat(outs[1], -1)
            if self.dropout > 0.0 and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, training=True)
        return x, finals

    def forward(self, input, hx=None):
        raise NotImplementedError

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


def _steps(proj, reverse):
    """Per-step (1, N, ...) pieces of a time-major projection, in processing order."""
    pieces = proj.split(1, 0)
    return pieces[::-1] if reverse else pieces


def _join(outs, reverse):
    outs = outs[::-1] if reverse else outs
    return outs[0] if len(outs) == 1 else outs[0].cat(outs[1:], 0)


class GRU(_RNNBase):
    """A multi-layer GRU over whole sequences (torch.nn.GRU).

    Args:
        input_size, hidden_size: features of the input and of the hidden state.
        num_layers: stacked layers (layer k > 0 reads the previous layer's output).
        bias: learn ``bias_ih_l{k}`` and ``bias_hh_l{k}``.
        batch_first: input and output are (N, L, *) instead of (L, N, *)
            (the states stay (num_layers * D, N, H), as in PyTorch).
        dropout: dropout on the outputs of every layer but the last, in training.
        bidirectional: also run each layer backwards in time (``*_reverse``
            parameters); outputs concatenate both directions (D = 2).

    Parameters per layer k: ``weight_ih_l{k}`` (3H, in_k), ``weight_hh_l{k}`` (3H, H),
    ``bias_ih_l{k}``, ``bias_hh_l{k}`` (3H,), gates stacked r, z, n.

    ``forward(input, hx=None)``: input (L, N, input_size) (or (L, input_size)
    unbatched), ``hx`` (num_layers * D, N, H) or None for zeros. Returns
    ``(output, h_n)``: output (L, N, D * H), h_n (num_layers * D, N, H).
    """

    _gates = 3
    _n_states = 1

    def _direction(self, x, state, w_ih, w_hh, b_ih, b_hh, reverse):
        h = state[0]
        hs = self.hidden_size
        proj = F.linear(x, w_ih, b_ih)                    # every time step at once
        p_rz, p_n = proj.split([2 * hs, hs], -1)
        outs = []
        for x_rz, x_n in zip(_steps(p_rz, reverse), _steps(p_n, reverse)):
            g_rz, g_n = F.linear(h, w_hh, b_hh).split([2 * hs, hs], -1)
            r, z = (x_rz + g_rz).sigmoid().chunk(2, -1)
            n = (x_n + r * g_n).tanh()
            h = n + z * (h - n)
            outs.append(h)
        return _join(outs, reverse), (h,)

    def forward(self, input, hx=None):
        x, batched = self._prepare_input(input)
        pieces = self._prepare_state("hx", hx, batched, x.shape[1])
        states = ([None] * (self.num_layers * self.num_directions) if pieces is None
                  else [(p,) for p in pieces])
        out, finals = self._run(x, states)
        h_n = _join([f[0] for f in finals], False)
        if not batched:
            return out.squeeze(1), h_n.squeeze(1)
        return (out.transpose(0, 1) if self.batch_first else out), h_n


class LSTM(_RNNBase):
    """A multi-layer LSTM over whole sequences (torch.nn.LSTM).

    Arguments as :class:`GRU` (``proj_size`` is not supported). Parameters per
    layer k: ``weight_ih_l{k}`` (4H, in_k), ``weight_hh_l{k}`` (4H, H),
    ``bias_ih_l{k}``, ``bias_hh_l{k}`` (4H,), gates stacked i, f, g, o.

    ``forward(input, hx=None)``: ``hx`` a pair (h_0, c_0) of (num_layers * D, N, H)
    or None for zeros. Returns ``(output, (h_n, c_n))``.
    """

    _gates = 4
    _n_states = 2

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None):
        if proj_size:
            raise NotImplementedError("LSTM: proj_size is not supported (only proj_size=0)")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device, dtype)

    def _direction(self, x, state, w_ih, w_hh, b_ih, b_hh, reverse):
        h, c = state
        if b_ih is not None:
            proj = F.linear(x, w_ih, b_ih + b_hh)         # every time step at once
        else:
            proj = F.linear(x, w_ih)
        # One fused op for the whole recurrence (F.lstm_sequence: the time loop runs
        # on arrays, forward and backward; double backward rebuilds it from ops).
        out, h, c = F.lstm_sequence(proj, w_hh, h.squeeze(0), c.squeeze(0), reverse=reverse)
        return out, (h.unsqueeze(0), c.unsqueeze(0))

    def forward(self, input, hx=None):
        x, batched = self._prepare_input(input)
        nstate = self.num_layers * self.num_directions
        if hx is None:
            states = [None] * nstate
        else:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(f"{self._name()}: hx must be a pair (h_0, c_0) or None, got "
                                f"{type(hx).__name__}")
            hp = self._prepare_state("h_0", hx[0], batched, x.shape[1])
            cp = self._prepare_state("c_0", hx[1], batched, x.shape[1])
            states = list(zip(hp, cp))
        out, finals = self._run(x, states)
        h_n = _join([f[0] for f in finals], False)
        c_n = _join([f[1] for f in finals], False)
        if not batched:
            return out.squeeze(1), (h_n.squeeze(1), c_n.squeeze(1))
        return (out.transpose(0, 1) if self.batch_first else out), (h_n, c_n)


# ------------------------------------------------------------------ registry
# References: plain NumPy loops over layers, directions and time steps, from
# the module's state_dict.


def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def _np_gru_step(x, h, w_ih, w_hh, b_ih, b_hh):
    hs = h.shape[-1]
    gi = x @ w_ih.T + (0 if b_ih is None else b_ih)
    gh = h @ w_hh.T + (0 if b_hh is None else b_hh)
    r = _sig(gi[..., :hs] + gh[..., :hs])
    z = _sig(gi[..., hs:2 * hs] + gh[..., hs:2 * hs])
    n = np.tanh(gi[..., 2 * hs:] + r * gh[..., 2 * hs:])
    return (1.0 - z) * n + z * h


def _np_lstm_step(x, h, c, w_ih, w_hh, b_ih, b_hh):
    hs = h.shape[-1]
    g = x @ w_ih.T + h @ w_hh.T + (0 if b_ih is None else b_ih + b_hh)
    i, f = _sig(g[..., :hs]), _sig(g[..., hs:2 * hs])
    gg, o = np.tanh(g[..., 2 * hs:3 * hs]), _sig(g[..., 3 * hs:])
    c = f * c + i * gg
    return o * np.tanh(c), c


def _np_rnn(state, x, h0, c0, layers, nd, lstm):
    """x (L, N, in) time-major; h0/c0 (layers * nd, N, H) -> output, h_n, c_n."""
    seq = x.shape[0]
    hs = state["weight_hh_l0"].shape[1]
    hn, cn = [], []
    for layer in range(layers):
        outs = []
        for d in range(nd):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            w = [state.get(k + sfx) for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            k = layer * nd + d
            h, c = h0[k].copy(), c0[k].copy()
            out = np.zeros(x.shape[:2] + (hs,))
            order = range(seq - 1, -1, -1) if d else range(seq)
            for t in order:
                if lstm:
                    h, c = _np_lstm_step(x[t], h, c, *w)
                else:
                    h = _np_gru_step(x[t], h, *w)
                out[t] = h
            outs.append(out)
            hn.append(h)
            cn.append(c)
        x = np.concatenate(outs, -1)
    return x, np.stack(hn), np.stack(cn)


def _rnn_ref(lstm, layers=2, nd=2):
    def ref(state, x, hx=None, training=False):
        unbatched = x.ndim == 2
        xs = x[:, None] if unbatched else x
        hs = state["weight_hh_l0"].shape[1]
        zeros = np.zeros((layers * nd, xs.shape[1], hs))
        h0 = zeros if hx is None else (hx[:, None] if unbatched else hx)
        out, hn, cn = _np_rnn(state, xs, h0, zeros, layers, nd, lstm)
        if unbatched:
            out, hn, cn = out[:, 0], hn[:, 0], cn[:, 0]
        return (out, (hn, cn)) if lstm else (out, hn)
    return ref


def _gru_cell_ref(state, x, hx=None, training=False):
    h = np.zeros(x.shape[:-1] + (state["weight_hh"].shape[1],)) if hx is None else hx
    return _np_gru_step(x, h, state["weight_ih"], state["weight_hh"], state["bias_ih"],
                        state["bias_hh"])


def _lstm_cell_ref(state, x, training=False):
    z = np.zeros(x.shape[:-1] + (state["weight_hh"].shape[1],))
    return _np_lstm_step(x, z, z, state["weight_ih"], state["weight_hh"], state["bias_ih"],
                         state["bias_hh"])


register_module(ModuleInfo(
    "GRUCell", make=lambda dt: GRUCell(3, 2, dtype=dt),
    inputs=lambda rng: [(rng.standard_normal((2, 3)),),
                        (rng.standard_normal((2, 3)), rng.standard_normal((2, 2))),
                        (rng.standard_normal(3), rng.standard_normal(2))],
    ref=_gru_cell_ref))

register_module(ModuleInfo(
    "LSTMCell", make=lambda dt: LSTMCell(3, 2, dtype=dt),
    # (h, c) pairs are not plain arguments of the suite: tests/nn/test_layers_recurrent.py
    inputs=lambda rng: [(rng.standard_normal((2, 3)),), (rng.standard_normal(3),)],
    ref=_lstm_cell_ref))

register_module(ModuleInfo(
    "GRU", make=lambda dt: GRU(3, 2, num_layers=2, bidirectional=True, dtype=dt),
    inputs=lambda rng: [(rng.standard_normal((3, 2, 3)),),
                        (rng.standard_normal((3, 2, 3)), rng.standard_normal((4, 2, 2))),
                        (rng.standard_normal((3, 3)), rng.standard_normal((4, 2)))],
    ref=_rnn_ref(lstm=False)))

register_module(ModuleInfo(
    "LSTM", make=lambda dt: LSTM(3, 2, num_layers=2, bidirectional=True, dtype=dt),
    inputs=lambda rng: [(rng.standard_normal((3, 2, 3)),), (rng.standard_normal((3, 3)),)],
    ref=_rnn_ref(lstm=True)))
