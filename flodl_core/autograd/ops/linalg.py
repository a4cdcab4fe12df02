"""Linear-algebra helpers: addmm, normalize, cosine_similarity, cdist.

``addmm`` is one Function (one BLAS call, then the bias added into the fresh
product in place). ``normalize`` and ``cosine_similarity`` are compositions of
norm, clamp_min, div and sum, so they differentiate to any order. ``cdist``
is one Function whose backward is written with the framework's ops (matmuls
for p=2, the pairwise differences otherwise); at zero distance its gradient
is 0, as in PyTorch.
"""
from __future__ import annotations

import math
import numbers

from ...backend.dtype import DType, dtype_of
from ...errors import DTypeError, ShapeError
from ...tensor import Tensor
from ..function import (AUTOCAST_FP32, AUTOCAST_LOWER, Function, autocast_op, op_function,
                       op_method)
from ._util import compute_dtype, is_float, norm_dim, require_float, upcast, xp
from .reduction import SignedPow


def _const(array):
    return Tensor._wrap(xp(array).asarray(array))


def _number(op, name, v):
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError(f"{op}: {name} must be a real number, got {type(v).__name__}")
    return v


# ------------------------------------------------------------------- addmm


class Addmm(Function):
    """``beta * bias + alpha * (mat1 @ mat2)`` (inputs: bias, mat1, mat2)."""

    autocast_policy = AUTOCAST_LOWER

    __slots__ = ("beta", "alpha")

    def __init__(self, beta, alpha):
        self.beta, self.alpha = beta, alpha

    def forward(self, bias, m1, m2):
        m = xp(m1)
        cd = compute_dtype(m1)
        out = m.matmul(m1.astype(cd, copy=False), m2.astype(cd, copy=False))
        if self.alpha != 1:
            out *= self.alpha
        if self.beta == 1:
            out += bias
        elif self.beta != 0:             # beta == 0 ignores bias (NaN included), as PyTorch
            out += bias * self.beta if bias.dtype == cd else upcast(bias) * self.beta
        return out if out.dtype == m1.dtype else out.astype(m1.dtype)

    def backward(self, gy):
        bias, m1, m2 = self.inputs
        gb = g1 = g2 = None
        if self.needs_grad(0):
            gb = gy if self.beta == 1 else gy.mul_scalar(self.beta)
        if self.needs_grad(1):
            g1 = gy.matmul(m2.transpose(0, 1))
            g1 = g1 if self.alpha == 1 else g1.mul_scalar(self.alpha)
        if self.needs_grad(2):
            g2 = m1.transpose(0, 1).matmul(gy)
            g2 = g2 if self.alpha == 1 else g2.mul_scalar(self.alpha)
        return gb, g1, g2


@op_method
@autocast_op(AUTOCAST_LOWER)
def addmm(self, mat1, mat2, beta=1, alpha=1):
    """``beta * self + alpha * (mat1 @ mat2)`` for 2-D ``mat1`` (n, m) and ``mat2``
    (m, p); ``self`` broadcasts to (n, p) (torch.addmm). With ``beta=0`` self is
    ignored (NaN included)."""
    op = "addmm"
    beta, alpha = _number(op, "beta", beta), _number(op, "alpha", alpha)
    if mat1.ndim != 2 or mat2.ndim != 2:
        raise ShapeError(f"{op}: expected 2-D mat1 and mat2, got shapes {mat1.shape} and "
                         f"{mat2.shape}")
    if mat1.shape[1] != mat2.shape[0]:
        raise ShapeError(f"{op}: cannot multiply mat1 {mat1.shape} and mat2 {mat2.shape}: "
                         f"inner dims {mat1.shape[1]} != {mat2.shape[0]}")
    out_shape = (mat1.shape[0], mat2.shape[1])
    s = self.shape
    if len(s) > 2 or any(a not in (1, b) for a, b in zip(s[::-1], out_shape[::-1])):
        raise ShapeError(f"{op}: self of shape {s} does not broadcast to the result shape "
                         f"{out_shape} of mat1 {mat1.shape} @ mat2 {mat2.shape}")
    dts = (self._data.dtype, mat1._data.dtype, mat2._data.dtype)
    if len(set(dts)) != 1:
        names = ", ".join(dtype_of(d).name for d in dts)
        raise DTypeError(f"{op}: expected self, mat1 and mat2 of one dtype, got {names}")
    if not is_float(dts[0]) and not (float(beta).is_integer() and float(alpha).is_integer()):
        raise DTypeError(f"{op}: fractional beta/alpha ({beta}, {alpha}) need floating-point "
                         f"tensors, got {dtype_of(dts[0]).name}")
    return Addmm(beta, alpha)(self, mat1, mat2)


# --------------------------------------------------------------- normalize


@op_function
@op_method
@autocast_op(AUTOCAST_FP32)
def normalize(input, p=2.0, dim=1, eps=1e-12):
    """``input / max(||input||_p, eps)`` along ``dim`` (torch.nn.functional.normalize,
    same argument names)."""
    require_float("normalize", input._data)
    _number("normalize", "eps", eps)
    d = norm_dim(dim, input.ndim, "normalize")
    return input / input.norm(p, d, keepdim=True).clamp_min(eps)


# ------------------------------------------------------- cosine_similarity


def _broadcast_shape(op, a, b):
    out = []
    for i in range(1, max(len(a), len(b)) + 1):
        x = a[-i] if i <= len(a) else 1
        y = b[-i] if i <= len(b) else 1
        if x != y and 1 not in (x, y):
            raise ShapeError(f"{op}: cannot broadcast shapes {a} and {b}")
        out.append(max(x, y) if 1 in (x, y) else x)
    return tuple(reversed(out))


@op_function
@op_method
@autocast_op(AUTOCAST_FP32)
def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """Cosine similarity of ``x1`` and ``x2`` along ``dim`` of their broadcast
    shape, as PyTorch 2 computes it: ``sum(x / max(||x||, eps) * y / max(||y||, eps))``
    (``dim`` is removed). Integer inputs compute in Float32."""
    op = "cosine_similarity"
    _number(op, "eps", eps)
    shape = _broadcast_shape(op, x1.shape, x2.shape)
    d = norm_dim(dim, len(shape), op)
    xs = []
    for t in (x1, x2):
        if not is_float(t._data.dtype):
            t = t.to_dtype(DType.Float32)
        xs.append(t if t.shape == shape else t.expand(shape))
    x1, x2 = xs
    n1 = _clamp_min_passing_grad(x1.norm(2.0, d, keepdim=True), eps)
    n2 = _clamp_min_passing_grad(x2.norm(2.0, d, keepdim=True), eps)
    return ((x1 / n1) * (x2 / n2)).sum_dim(d)


def _clamp_min_passing_grad(n, eps):
    """``max(n, eps)`` whose gradient is that of ``n`` everywhere: PyTorch clamps the
    norms of cosine_similarity in place under no_grad, so autograd never sees the
    clamp (the norm's own gradient still flows where the norm is below eps)."""
    nd = n._data
    shift = xp(nd).maximum(nd, eps).astype(nd.dtype) - nd
    return n if not bool((shift != 0).any()) else n + _const(shift)


# ------------------------------------------------------------------- cdist


def _pairwise_diff(a, b):
    return a[..., :, None, :] - b[..., None, :, :]


class Cdist(Function):
    """Batched p-norm distances between the rows of x1 (.., P, M) and x2 (.., R, M)."""

    autocast_policy = AUTOCAST_FP32

    __slots__ = ("p",)
    retain_outputs = (0,)

    def __init__(self, p):
        self.p = p

    def forward(self, x1, x2):
        m = xp(x1)
        a, b = upcast(x1), upcast(x2)
        p = self.p
        P, R = a.shape[-2], b.shape[-2]
        if p == 2 and (P > 25 or R > 25):
            # PyTorch's matmul form for large inputs: |a|^2 + |b|^2 - 2 a.b, clamped at 0.
            sq = (a * a).sum(-1)[..., :, None] + (b * b).sum(-1)[..., None, :]
            y = m.sqrt(m.maximum(sq - 2.0 * m.matmul(a, m.swapaxes(b, -1, -2)), 0))
        else:
            diff = m.abs(_pairwise_diff(a, b))
            if p == 2:
                y = m.sqrt((diff * diff).sum(-1))
            elif p == 1:
                y = diff.sum(-1)
            elif p == 0:
                y = (diff != 0).sum(-1).astype(a.dtype)
            elif p == math.inf:
                y = diff.max(-1) if diff.shape[-1] else diff.sum(-1)
            else:
                y = (diff ** p).sum(-1) ** (1.0 / p)
        return y.astype(x1.dtype, copy=False)

    def backward(self, gy):
        x1, x2 = self.inputs
        p = self.p
        if p == 0:
            # Zero gradients, still connected to gy so double backward sees them.
            w = gy.masked_fill(_const(xp(gy._data).ones(gy.shape, dtype=bool)), 0)
            batch = w.shape[:-2]
            return (w.sum_dim(-1, keepdim=True).expand(batch + x1.shape[-2:]),
                    w.sum_dim(-2).unsqueeze(-1).expand(batch + x2.shape[-2:]))
        y = self.output()
        zero = y._data == 0
        if p == 2:
            # w = gy / dist (0 at dist 0); grad_x1 = x1 * rowsum(w) - w @ x2, likewise x2.
            w = (gy / (y + _const(zero.astype(y._data.dtype)))).masked_fill(_const(zero), 0)
            g1 = x1 * w.sum_dim(-1, keepdim=True) - w.matmul(x2)
            g2 = x2 * w.sum_dim(-2).unsqueeze(-1) - w.transpose(-1, -2).matmul(x1)
            return g1, g2
        if p == math.inf:
            # Every coordinate reaching the max gets the full gradient (PyTorch).
            dd = _pairwise_diff(x1._data, x2._data)
            m = xp(dd)
            top = m.abs(dd) == y._data[..., None]
            gdiff = _const((m.sign(dd) * top).astype(dd.dtype)) * gy.unsqueeze(-1)
        else:
            # d dist / d diff = sign(diff) |diff|^(p-1) / dist^(p-1), 0 at dist 0.
            diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)             # (.., P, R, M)
            denom = SignedPow(p - 1)(y) + _const(zero.astype(y._data.dtype))
            w = (gy / denom).masked_fill(_const(zero), 0)
            gdiff = SignedPow(p - 1)(diff) * w.unsqueeze(-1)
        return gdiff.sum_dim(-2), gdiff.sum_dim(-3).neg()


@op_method
@autocast_op(AUTOCAST_FP32)
def cdist(self, other, p=2.0):
    """p-norm distances between each row of ``self`` (.., P, M) and each row of
    ``other`` (.., R, M), shape (.., P, R); batch dims broadcast (torch.cdist).
    ``p >= 0`` (``inf`` too). The gradient at zero distance is 0."""
    op = "cdist"
    p = _number(op, "p", p)
    if not p >= 0:
        raise ValueError(f"{op}: p must be a non-negative number (or inf), got {p}")
    for name, t in (("x1", self), ("x2", other)):
        if t.ndim < 2:
            raise ShapeError(f"{op}: expected {name} with at least 2 dims (.., rows, "
                             f"features), got shape {t.shape}")
        require_float(op, t._data)
    if self._data.dtype != other._data.dtype:
        raise DTypeError(f"{op}: expected x1 and x2 of one dtype, got {self.dtype.name} and "
                         f"{other.dtype.name}")
    if self.shape[-1] != other.shape[-1]:
        raise ShapeError(f"{op}: x1 {self.shape} and x2 {other.shape} must have the same "
                         f"number of features (last dim): {self.shape[-1]} != "
                         f"{other.shape[-1]}")
    _broadcast_shape(op, self.shape[:-2], other.shape[:-2])
    return Cdist(float(p))(self, other)


__all__ = ["addmm", "cosine_similarity", "cdist"]
FUNCTIONAL = ["normalize", "cosine_similarity"]
