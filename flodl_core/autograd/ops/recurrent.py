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
from ..function import Function, op_function
from ..grad_mode import state
from ..variable import Variable
from ._util import compute_dtype, xp
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


# ------------------------------------------------------------ whole sequences


def _arr(a, dtype):
    return a if a.dtype == dtype else a.astype(dtype)


class LSTMSequence(Function):
    """One direction of one LSTM layer over all time steps, fused.

    Inputs ``(proj, w_hh, h0, c0)``: ``proj`` (T, N, 4H) is the input projection of
    every step with both biases (``x @ W_ih^T + b_ih + b_hh``), ``w_hh`` (4H, H),
    ``h0`` and ``c0`` (N, H). Outputs ``(hs, h_T, c_T)``: hs (T, N, H) the hidden
    state of every step in processing order (``reverse``: step t reads proj[T-1-t]
    and writes hs[T-1-t]).

    Forward and plain backward loop over time on arrays (one GEMM per step, and one
    GEMM for ``dW_hh`` over all steps); under ``create_graph=True`` the forward is
    rebuilt from the framework's own ops and differentiated, so double backward works.
    """

    __slots__ = ("reverse", "acts", "cs", "hs_prev", "tcs")

    def __init__(self, reverse=False):
        self.reverse = reverse

    def forward(self, proj, w_hh, h0, c0):
        m = xp(proj)
        dt = proj.dtype
        cd = compute_dtype(proj)
        T, N, G = proj.shape
        H = G // 4
        # sigmoid(x) = 0.5 * tanh(x / 2) + 0.5: scale the i, f, o columns by 1/2 up
        # front (weights and projection), then one tanh and one affine map per step.
        scale = m.full(G, 0.5, dtype=cd)
        scale[2 * H:3 * H] = 1.0
        shift = m.full(G, 0.5, dtype=cd)
        shift[2 * H:3 * H] = 0.0
        # (measured: a C-contiguous right operand makes the small GEMMs ~1.4x faster)
        w_t = m.ascontiguousarray(_arr(w_hh, cd).T * scale)
        p = _arr(proj, cd) * scale
        acts = m.empty((T, N, G), dtype=cd)      # sigmoid(i), sigmoid(f), tanh(g), sigmoid(o)
        cs = m.empty((T + 1, N, H), dtype=cd)    # c0, then c after each step
        hs = m.empty((T + 1, N, H), dtype=cd)    # h0, then h after each step
        tcs = m.empty((T, N, H), dtype=cd)       # tanh(c) after each step
        cs[0] = c0
        hs[0] = h0
        rev = self.reverse
        for k in range(T):
            a = acts[k]
            m.matmul(hs[k], w_t, out=a)
            a += p[T - 1 - k if rev else k]
            m.tanh(a, out=a)
            a *= scale
            a += shift
            cn = cs[k + 1]
            m.multiply(a[:, H:2 * H], cs[k], out=cn)
            cn += a[:, :H] * a[:, 2 * H:3 * H]
            tc = tcs[k]
            m.tanh(cn, out=tc)
            m.multiply(a[:, 3 * H:], tc, out=hs[k + 1])
        self.acts, self.cs, self.hs_prev, self.tcs = acts, cs, hs, tcs
        out = hs[1:]
        if rev:
            out = out[::-1]
        return (m.ascontiguousarray(_arr(out, dt)), _arr(hs[T], dt).copy(),
                _arr(cs[T], dt).copy())

    def release(self):
        super().release()
        self.acts = self.cs = self.hs_prev = self.tcs = None

    def backward(self, g_hs, g_h, g_c):
        if state.enabled:
            return self._backward_graph(g_hs, g_h, g_c)
        return self._backward_arrays(g_hs, g_h, g_c)

    def _backward_arrays(self, g_hs, g_h, g_c):
        proj, w_hh, h0, c0 = self.inputs
        acts, cs, hs, tcs = self.acts, self.cs, self.hs_prev, self.tcs
        m = xp(acts)
        cd = acts.dtype
        T, N, G = acts.shape
        H = G // 4
        w = m.ascontiguousarray(_arr(w_hh._data, cd))
        ghs = _arr(g_hs._data, cd)
        if not bool(ghs.any()):
            ghs = None                                 # only h_T / c_T are used
        elif self.reverse:
            ghs = ghs[::-1]
        dh = _arr(g_h._data, cd).copy()
        dc = _arr(g_c._data, cd).copy()
        # Everything that does not depend on the incoming gradient, for all steps at
        # once: the gate nonlinearities' derivatives (s(1-s), 1-t^2), o * tanh'(c),
        # and the factors of dc in d(i, f, g): (g, c_prev, i).
        deriv = 1.0 - acts
        deriv *= acts
        gg = acts[:, :, 2 * H:3 * H]
        m.multiply(gg, gg, out=deriv[:, :, 2 * H:3 * H])
        m.subtract(1.0, deriv[:, :, 2 * H:3 * H], out=deriv[:, :, 2 * H:3 * H])
        oc = tcs * tcs
        m.subtract(1.0, oc, out=oc)
        oc *= acts[:, :, 3 * H:]
        fac = m.empty((T, N, 3, H), dtype=cd)
        fac[:, :, 0] = gg
        fac[:, :, 1] = cs[:T]
        fac[:, :, 2] = acts[:, :, :H]
        dgates = m.empty((T, N, G), dtype=cd)
        tmp = m.empty((N, H), dtype=cd)
        want_h0 = self.needs_grad(2)
        for k in range(T - 1, -1, -1):
            if ghs is not None:
                dh += ghs[k]
            d = dgates[k]
            m.multiply(dh, tcs[k], out=d[:, 3 * H:])   # d o
            m.multiply(dh, oc[k], out=tmp)
            dc += tmp                                  # dc through h = o * tanh(c)
            m.multiply(dc[:, None, :], fac[k], out=d[:, :3 * H].reshape(N, 3, H))
            dc *= acts[k, :, H:2 * H]                  # dc_prev = dc * f
            d *= deriv[k]
            if k or want_h0:
                m.matmul(d, w, out=dh)                 # dh_prev
        out = [None, None, None, None]
        if self.needs_grad(0):
            gp = dgates[::-1] if self.reverse else dgates
            out[0] = Variable._make(_arr(m.ascontiguousarray(gp), proj._data.dtype))
        if self.needs_grad(1):
            gw = dgates.reshape(T * N, G).T @ hs[:T].reshape(T * N, H)
            out[1] = Variable._make(_arr(gw, w_hh._data.dtype))
        if want_h0:
            out[2] = Variable._make(_arr(dh, h0._data.dtype))
        if self.needs_grad(3):
            out[3] = Variable._make(_arr(dc, c0._data.dtype))
        return tuple(out)

    def _backward_graph(self, g_hs, g_h, g_c):
        from ..engine import grad
        inputs = self.inputs
        want = [i for i in range(4) if self.needs_grad(i)]
        hs, h_t, c_t = _lstm_sequence_ops(*inputs, self.reverse)
        gs = grad((hs, h_t, c_t), [inputs[i] for i in want], (g_hs, g_h, g_c),
                  create_graph=True)
        out = [None, None, None, None]
        for i, gi in zip(want, gs):
            out[i] = gi
        return tuple(out)


def _lstm_sequence_ops(proj, w_hh, h, c, reverse=False):
    """The same forward composed from framework ops (differentiable to any order)."""
    hsz = w_hh.shape[1]
    pieces = [p.squeeze(0) for p in proj.split(1, 0)]
    if reverse:
        pieces = pieces[::-1]
    outs = []
    for xt in pieces:
        gates = xt + linear(h, w_hh)
        i, f, _, o = gates.sigmoid().chunk(4, -1)
        g = gates.narrow(-1, 2 * hsz, hsz).tanh()
        c = f * c + i * g
        h = o * c.tanh()
        outs.append(h.unsqueeze(0))
    if reverse:
        outs = outs[::-1]
    hs = outs[0] if len(outs) == 1 else outs[0].cat(outs[1:], 0)
    return hs, h, c


@op_function
def lstm_sequence(proj, w_hh, h0, c0, reverse=False):
    """One LSTM direction over a whole sequence, from the precomputed input projection.

    ``proj`` (T, N, 4H) = ``x @ W_ih^T + b_ih + b_hh`` for every step, ``w_hh`` (4H, H),
    ``h0``, ``c0`` (N, H). Returns ``(hs, h_T, c_T)``: hs (T, N, H) the hidden state
    of every step (``reverse=True`` runs from the last step to the first; hs stays
    in input order). Gate order i, f, g, o, as torch.
    """
    op = "lstm_sequence"
    for name, t in (("proj", proj), ("w_hh", w_hh), ("h0", h0), ("c0", c0)):
        _check(op, name, t)
    if w_hh.ndim != 2 or w_hh.shape[0] != 4 * w_hh.shape[1]:
        raise ShapeError(f"{op}: w_hh must be (4H, H), got shape {w_hh.shape}")
    hsz = w_hh.shape[1]
    if proj.ndim != 3 or proj.shape[-1] != 4 * hsz or proj.shape[0] < 1:
        raise ShapeError(f"{op}: proj must be (T >= 1, N, {4 * hsz}), got shape {proj.shape}")
    want = (proj.shape[1], hsz)
    for name, s in (("h0", h0), ("c0", c0)):
        if s.shape != want:
            raise ShapeError(f"{op}: {name} shape {s.shape} does not match {want}")
    return LSTMSequence(bool(reverse))(proj, w_hh, h0, c0)


FUNCTIONAL = ["gru_cell", "lstm_cell", "lstm_sequence"]
__all__ = []
