"""Linear layers as functions: linear, bilinear (torch.nn.functional semantics).

``linear`` is one Function: a single GEMM on the input flattened to 2-D (all
leading dims folded into the rows) plus the bias, so a (batch, seq, features)
input costs one BLAS call. Its backward is written with matmul/sum ops, so
double backward works. ``bilinear`` is a composition of existing ops.

Half types (Float16, BFloat16) multiply in float32 and round once, as matmul does.
"""
from __future__ import annotations

import math

from ...backend.dtype import dtype_of
from ...errors import DTypeError, ShapeError
from ...tensor import TensorLike
from ..function import AUTOCAST_LOWER, AUTOCAST_PROMOTE, Function, autocast_op, op_function
from ._util import compute_dtype, is_float, xp


def _check_tensor(op, name, t, optional=False):
    if t is None and optional:
        return
    if not isinstance(t, TensorLike):
        raise TypeError(f"{op}: {name} must be a tensor, got {type(t).__name__}")
    if not is_float(t._data.dtype):
        raise DTypeError(f"{op}: {name} must be a floating-point tensor, got "
                         f"{dtype_of(t._data.dtype).name}")


def _same_dtype(op, named):
    named = [(n, t) for n, t in named if t is not None]
    first_name, first = named[0]
    for n, t in named[1:]:
        if t._data.dtype != first._data.dtype:
            raise DTypeError(f"{op}: {first_name} is {first.dtype.name} but {n} is "
                             f"{t.dtype.name} (all must share one dtype)")


class Linear(Function):
    """``input @ weight.T (+ bias)`` over the last dim; inputs (x, w[, b])."""

    autocast_policy = AUTOCAST_LOWER

    def forward(self, x, w, b=None):
        out_f, in_f = w.shape
        n = math.prod(x.shape[:-1])     # not -1: a zero-size feature dim must work too
        rows = x.reshape(n, in_f)
        cd = compute_dtype(x)
        if cd != x.dtype:
            y = xp(x).matmul(rows.astype(cd), w.astype(cd).T)
            if b is not None:
                y += b.astype(cd)
            y = y.astype(x.dtype)
        else:
            y = rows @ w.T
            if b is not None:
                y += b
        return y.reshape(x.shape[:-1] + (out_f,))

    def backward(self, gy):
        x, w = self.inputs[0], self.inputs[1]
        out_f, in_f = w.shape
        n = math.prod(x.shape[:-1])
        g2 = gy.reshape(n, out_f)
        gx = g2.matmul(w).reshape(x.shape) if self.needs_grad(0) else None
        gw = g2.t().matmul(x.reshape(n, in_f)) if self.needs_grad(1) else None
        gb = None
        if len(self.inputs) > 2 and self.needs_grad(2):
            gb = g2.sum_dim(0)
        return (gx, gw) if len(self.inputs) == 2 else (gx, gw, gb)


@op_function
@autocast_op(AUTOCAST_LOWER)
def linear(input, weight, bias=None):
    """``input @ weight.T + bias`` (torch.nn.functional.linear).

    ``input`` is (*, in_features), ``weight`` (out_features, in_features) (or
    (in_features,), giving an output without the feature dim), ``bias``
    (out_features,) or None. All share one floating dtype.
    """
    op = "linear"
    _check_tensor(op, "input", input)
    _check_tensor(op, "weight", weight)
    _check_tensor(op, "bias", bias, optional=True)
    _same_dtype(op, [("input", input), ("weight", weight), ("bias", bias)])
    if input.ndim == 0:
        raise ShapeError(f"{op}: input must have at least 1 dim, got a 0-d tensor")
    ws = weight.shape
    if len(ws) not in (1, 2):
        raise ShapeError(f"{op}: weight must be 2-D (out_features, in_features), got shape {ws}")
    in_f = ws[-1]
    if input.shape[-1] != in_f:
        raise ShapeError(f"{op}: input has {input.shape[-1]} features, weight expects {in_f} "
                         f"(weight shape {ws})")
    out_f = ws[0] if len(ws) == 2 else 1
    if bias is not None and bias.shape not in ((out_f,), (1,), ()):
        raise ShapeError(f"{op}: bias shape {bias.shape} does not match out_features {out_f} "
                         f"(weight shape {ws})")
    if len(ws) == 1:
        w2 = weight.unsqueeze(0)
        b2 = None if bias is None else bias.reshape(1)
        y = Linear()(input, w2) if b2 is None else Linear()(input, w2, b2)
        return y.squeeze(-1)
    return Linear()(input, weight) if bias is None else Linear()(input, weight, bias)


@op_function
@autocast_op(AUTOCAST_PROMOTE)
def bilinear(input1, input2, weight, bias=None):
    """``y[..., o] = sum_ij input1[..., i] weight[o, i, j] input2[..., j] + bias[o]``
    (torch.nn.functional.bilinear); the leading dims of both inputs must match."""
    op = "bilinear"
    for name, t in (("input1", input1), ("input2", input2), ("weight", weight)):
        _check_tensor(op, name, t)
    _check_tensor(op, "bias", bias, optional=True)
    _same_dtype(op, [("input1", input1), ("input2", input2), ("weight", weight),
                     ("bias", bias)])
    ws = weight.shape
    if len(ws) != 3:
        raise ShapeError(f"{op}: weight must be 3-D (out_features, in1_features, "
                         f"in2_features), got shape {ws}")
    out_f, in1, in2 = ws
    s1, s2 = input1.shape, input2.shape
    if len(s1) == 0 or len(s2) == 0:
        raise ShapeError(f"{op}: inputs must have at least 1 dim, got shapes {s1} and {s2}")
    if s1[-1] != in1:
        raise ShapeError(f"{op}: input1 has {s1[-1]} features, weight expects {in1} "
                         f"(weight shape {ws})")
    if s2[-1] != in2:
        raise ShapeError(f"{op}: input2 has {s2[-1]} features, weight expects {in2} "
                         f"(weight shape {ws})")
    if s1[:-1] != s2[:-1]:
        raise ShapeError(f"{op}: input1 and input2 must have the same leading dims, got "
                         f"shapes {s1} and {s2}")
    if bias is not None and bias.shape not in ((out_f,), (1,), ()):
        raise ShapeError(f"{op}: bias shape {bias.shape} does not match out_features {out_f}")
    lead = s1[:-1]
    x1 = input1.reshape(-1, in1)
    x2 = input2.reshape(-1, in2)
    n = x1.shape[0]
    # t[n, o, j] = sum_i x1[n, i] W[o, i, j]: one GEMM against W laid out (in1, out*in2).
    t = x1.matmul(weight.permute(1, 0, 2).reshape(in1, out_f * in2)).reshape(n, out_f, in2)
    y = t.matmul(x2.reshape(n, in2, 1)).reshape(n, out_f)
    if bias is not None:
        y = y + bias
    return y.reshape(lead + (out_f,))


FUNCTIONAL = ["linear", "bilinear"]
__all__ = []
