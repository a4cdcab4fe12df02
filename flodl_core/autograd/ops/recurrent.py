"""Recurrent cells: gru_cell, lstm_cell (torch.gru_cell / torch.lstm_cell semantics).

One time step. ``lstm_cell`` is composed from ``linear``, ``chunk``, ``sigmoid`` and
``tanh``; ``gru_cell`` is one fused Function (``GRUCellFused``: arrays forward and
backward, the composed ops under ``create_graph``), so gradients of every order work.
Gate order follows PyTorch:

* LSTM, weights (4H, in) / (4H, H): input, forget, cell (g), output;
  ``c' = f * c + i * g``, ``h' = o * tanh(c')``.
* GRU, weights (3H, in) / (3H, H): reset, update, new;
  ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``, ``h' = (1 - z) * n + z * h``.

Inputs are (batch, in) with states (batch, H), or unbatched (in,) with (H,).
"""
from __future__ import annotations

from ...errors import ShapeError
from ...tensor import Tensor, TensorLike
from ..function import AUTOCAST_LOWER, Function, autocast_op, op_function
from ..grad_mode import state
from ..variable import Variable
from ._util import compute_dtype, xp
from .linear import _check_tensor, _same_dtype, linear


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


class GRUCellFused(Function):
    """One GRU step, fused: inputs ``(x, h, w_ih, w_hh[, b_ih][, b_hh])``.

    ``x`` (N, in) or (in,), ``h`` (N, H) or (H,), ``w_ih`` (3H, in), ``w_hh`` (3H, H);
    which biases are present is given at construction. Forward is two GEMMs and a few
    in-place passes on arrays; plain backward is one GEMM per input and per weight
    gradient on arrays; under ``create_graph=True`` the step is rebuilt from framework
    ops (``_gru_cell_ops``) and differentiated, so double backward works.
    """

    autocast_policy = AUTOCAST_LOWER

    __slots__ = ("has_b_ih", "has_b_hh", "acts", "hn")

    def __init__(self, has_b_ih, has_b_hh):
        self.has_b_ih = has_b_ih
        self.has_b_hh = has_b_hh

    def forward(self, x, h, w_ih, w_hh, *biases):
        m = xp(x)
        dt = h.dtype
        cd = compute_dtype(h)
        H = w_hh.shape[1]
        x2 = _arr(x.reshape(-1, w_ih.shape[1]), cd)
        h2 = _arr(h.reshape(-1, H), cd)
        gi = m.matmul(x2, _arr(w_ih, cd).T)
        gh = m.matmul(h2, _arr(w_hh, cd).T)
        k = 0
        if self.has_b_ih:
            gi += _arr(biases[0], cd)
            k = 1
        if self.has_b_hh:
            gh += _arr(biases[k], cd)
        # gi becomes the activations [r, z, n]; gh[:, 2H:] stays W_hn h + b_hn.
        rz = gi[:, :2 * H]
        rz += gh[:, :2 * H]
        # sigmoid(a) = 0.5 * tanh(a / 2) + 0.5
        rz *= 0.5
        m.tanh(rz, out=rz)
        rz *= 0.5
        rz += 0.5
        hn = gh[:, 2 * H:]
        n = gi[:, 2 * H:]
        n += gi[:, :H] * hn
        m.tanh(n, out=n)
        out = h2 - n
        out *= gi[:, H:2 * H]
        out += n
        self.acts, self.hn = gi, hn
        return _arr(out, dt).reshape(h.shape)

    def release(self):
        super().release()
        self.acts = self.hn = None

    def backward(self, g):
        if state.enabled:
            return self._backward_graph(g)
        return self._backward_arrays(g)

    def _backward_arrays(self, g):
        inputs = self.inputs
        x, h, w_ih, w_hh = inputs[0], inputs[1], inputs[2], inputs[3]
        acts, hn = self.acts, self.hn
        m = xp(acts)
        cd = acts.dtype
        H = hn.shape[1]
        N = acts.shape[0]
        g2 = _arr(g._data, cd).reshape(N, H)
        h2 = _arr(h._data.reshape(N, H), cd)
        r = acts[:, :H]
        z = acts[:, H:2 * H]
        n = acts[:, 2 * H:]
        dgi = m.empty((N, 3 * H), dtype=cd)
        dar, daz, dan = dgi[:, :H], dgi[:, H:2 * H], dgi[:, 2 * H:]
        # d n = g * (1 - z); d a_n = d n * (1 - n^2)
        m.multiply(n, n, out=dan)
        m.subtract(1.0, dan, out=dan)
        dan *= g2
        tmp = 1.0 - z
        dan *= tmp
        # d z = g * (h - n); d a_z = d z * z * (1 - z)
        m.subtract(h2, n, out=daz)
        daz *= g2
        daz *= z
        daz *= tmp
        # d r = d a_n * hn; d a_r = d r * r * (1 - r)
        m.multiply(dan, hn, out=dar)
        dar *= r
        m.subtract(1.0, r, out=tmp)
        dar *= tmp
        want = [self.needs_grad(i) for i in range(len(inputs))]
        dgh = None
        if want[1] or want[3] or (self.has_b_hh and want[-1]):
            dgh = dgi.copy()
            dgh[:, 2 * H:] *= r
        out = [None] * len(inputs)
        if want[0]:
            gx = m.matmul(dgi, _arr(w_ih._data, cd))
            out[0] = Variable._make(_arr(gx, x._data.dtype).reshape(x.shape))
        if want[1]:
            gh = m.matmul(dgh, _arr(w_hh._data, cd))
            m.multiply(g2, z, out=tmp)
            gh += tmp
            out[1] = Variable._make(_arr(gh, h._data.dtype).reshape(h.shape))
        if want[2]:
            x2 = _arr(x._data.reshape(N, -1), cd)
            out[2] = Variable._make(_arr(dgi.T @ x2, w_ih._data.dtype))
        if want[3]:
            out[3] = Variable._make(_arr(dgh.T @ h2, w_hh._data.dtype))
        k = 4
        if self.has_b_ih:
            if want[k]:
                out[k] = Variable._make(_arr(dgi.sum(0), inputs[k]._data.dtype))
            k += 1
        if self.has_b_hh and want[k]:
            out[k] = Variable._make(_arr(dgh.sum(0), inputs[k]._data.dtype))
        return tuple(out)

    def _backward_graph(self, g):
        from ..engine import grad
        inputs = self.inputs
        x, h, w_ih, w_hh = inputs[:4]
        k = 4
        b_ih = b_hh = None
        if self.has_b_ih:
            b_ih = inputs[k]
            k += 1
        if self.has_b_hh:
            b_hh = inputs[k]
        want = [i for i in range(len(inputs)) if self.needs_grad(i)]
        y = _gru_cell_ops(x, h, w_ih, w_hh, b_ih, b_hh)
        gs = grad((y,), [inputs[i] for i in want], (g,), create_graph=True)
        out = [None] * len(inputs)
        for i, gi in zip(want, gs):
            out[i] = gi
        return tuple(out)


def _gru_cell_ops(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """The GRU step composed from framework ops (differentiable to any order)."""
    i_r, i_z, i_n = linear(input, w_ih, b_ih).chunk(3, -1)
    h_r, h_z, h_n = linear(hx, w_hh, b_hh).chunk(3, -1)
    r = (i_r + h_r).sigmoid()
    z = (i_z + h_z).sigmoid()
    n = (i_n + r * h_n).tanh()
    return n + z * (hx - n)


@op_function
@autocast_op(AUTOCAST_LOWER)
def gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One GRU step: the new hidden state (hx=None means zeros)."""
    op = "gru_cell"
    if hx is None and isinstance(w_hh, TensorLike) and isinstance(input, TensorLike):
        hx = _zeros_state(input, w_hh.shape[-1])
    _validate(op, 3, input, [("hx", hx)], w_ih, w_hh, b_ih, b_hh)
    _same_dtype(op, [("input", input), ("w_ih", w_ih), ("b_ih", b_ih)])
    _same_dtype(op, [("hx", hx), ("w_hh", w_hh), ("b_hh", b_hh)])
    if input._data.dtype != hx._data.dtype:
        return _gru_cell_ops(input, hx, w_ih, w_hh, b_ih, b_hh)
    args = [input, hx, w_ih, w_hh]
    if b_ih is not None:
        args.append(b_ih)
    if b_hh is not None:
        args.append(b_hh)
    return GRUCellFused(b_ih is not None, b_hh is not None)(*args)


@op_function
@autocast_op(AUTOCAST_LOWER)
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

    autocast_policy = AUTOCAST_LOWER

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
@autocast_op(AUTOCAST_LOWER)
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
