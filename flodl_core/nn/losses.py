"""Loss functions, with PyTorch's definitions, argument names and reductions.

Every loss takes ``reduction="mean" | "sum" | "none"`` and returns a Tensor for
Tensor inputs, a Variable (with its graph) for Variable inputs. Losses are
compositions of framework ops, so their gradients and second derivatives come
from the ops' own backward formulas; two are fused Functions:

* ``bce_loss`` (``BinaryCrossEntropy``): PyTorch clamps each log at -100 and
  divides its gradient by ``max(x (1 - x), 1e-12)``; composing ``log`` and
  ``clamp`` would give NaN gradients at exactly 0 and 1. Its backward is
  written with framework ops, so it differentiates again.
* ``ctc_loss`` (``CTCLoss``): the forward-backward recursion in log space,
  vectorised over the batch and the extended label positions (one Python
  step per time step). Its gradient follows PyTorch's convention: the
  gradient with respect to the logits of a log_softmax that produced
  ``log_probs`` (see ``CTCLoss``).

Every public loss is listed in ``LOSSES`` (name -> function), which the op
registry's completeness test checks against its ``"loss.<name>"`` entries.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ..autograd.function import AUTOCAST_FP32, Function, autocast_op
from ..autograd.grad_mode import state as _grad_state
from ..autograd.ops._util import is_float, xp
from ..autograd.ops.elementwise import where
from ..errors import AutogradError, DTypeError, FlodlIndexError, ShapeError
from ..tensor import Tensor, TensorLike

__all__ = []
LOSSES = {}

_REDUCTIONS = ("mean", "sum", "none")
_INF = float("inf")
# PyTorch's EPSILON in bce's gradient and cosine_embedding_loss is the float 1e-12f.
_EPS12 = float(np.float32(1e-12))


def _register(fn):
    # Under autocast every loss runs in float32 (as PyTorch's autocast lists have it).
    fn = autocast_op(AUTOCAST_FP32)(fn)
    LOSSES[fn.__name__] = fn
    __all__.append(fn.__name__)
    return fn


# ------------------------------------------------------------------ helpers


def _check_tensor(op, name, x):
    if not isinstance(x, TensorLike):
        raise TypeError(f"{op}: {name} must be a Tensor or Variable, got {type(x).__name__}")


def _check_float(op, name, x):
    _check_tensor(op, name, x)
    if not is_float(x._data.dtype):
        raise DTypeError(f"{op}: {name} must be a floating-point tensor, got {x.dtype.name}")


def _check_reduction(op, reduction, extra=()):
    allowed = _REDUCTIONS + tuple(extra)
    if reduction not in allowed:
        raise ValueError(f"{op}: reduction must be one of {', '.join(map(repr, allowed))}, "
                         f"got {reduction!r}")


def _check_real(op, name, v):
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError(f"{op}: {name} must be a real number, got {type(v).__name__}")
    return float(v)


def _same_shape(op, input, target, what="target"):
    if tuple(input.shape) != tuple(target.shape):
        raise ShapeError(f"{op}: {what} shape {tuple(target.shape)} does not match input "
                         f"shape {tuple(input.shape)}")


def _check_broadcast(op, what, *shapes):
    """A ShapeError naming the loss, rather than the failing op's, for shapes that
    do not broadcast together."""
    try:
        np.broadcast_shapes(*shapes)
    except ValueError:
        raise ShapeError(f"{op}: {what} shapes {', '.join(str(tuple(s)) for s in shapes)} "
                         f"do not broadcast together") from None


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _as_float_like(op, name, t, like):
    """``t`` (a Tensor or Variable) in ``like``'s float dtype."""
    _check_tensor(op, name, t)
    if t.dtype != like.dtype:
        return t.to_dtype(like.dtype)
    return t


def _const(array):
    return Tensor._wrap(array)


def _value(t):
    """The raw array of a Tensor or Variable (no graph)."""
    return t._data


def _dtype_name(arr):
    from ..backend.dtype import dtype_of
    return dtype_of(arr.dtype).name


# ------------------------------------------------------ regression losses


@_register
def mse_loss(input, target, reduction="mean"):
    """Mean squared error ``(input - target)**2`` (torch.nn.functional.mse_loss)."""
    op = "mse_loss"
    _check_float(op, "input", input)
    _check_tensor(op, "target", target)
    _check_reduction(op, reduction)
    _same_shape(op, input, target)
    return _reduce((input - _as_float_like(op, "target", target, input)).square(), reduction)


@_register
def l1_loss(input, target, reduction="mean"):
    """Mean absolute error ``|input - target|`` (gradient 0 at a tie, as PyTorch)."""
    op = "l1_loss"
    _check_float(op, "input", input)
    _check_reduction(op, reduction)
    _same_shape(op, input, target)
    return _reduce((input - _as_float_like(op, "target", target, input)).abs(), reduction)


def _piecewise_quadratic(op, input, target, knot, linear_scale, quad_scale, reduction):
    """``quad_scale * d**2`` where ``|d| < knot``, else ``linear_scale * (|d| - knot/2)``."""
    _check_float(op, "input", input)
    _check_reduction(op, reduction)
    _same_shape(op, input, target)
    d = input - _as_float_like(op, "target", target, input)
    ad = d.abs()
    if knot == 0:
        return _reduce(ad if linear_scale == 1 else ad.mul_scalar(linear_scale), reduction)
    small = _const(_value(ad) < knot)
    quad = d.square().mul_scalar(quad_scale)
    lin = ad.sub_scalar(0.5 * knot)
    if linear_scale != 1:
        lin = lin.mul_scalar(linear_scale)
    return _reduce(where(small, quad, lin), reduction)


@_register
def smooth_l1_loss(input, target, reduction="mean", beta=1.0):
    """``0.5 d**2 / beta`` where ``|d| < beta``, else ``|d| - 0.5 beta``; ``beta=0`` is L1."""
    op = "smooth_l1_loss"
    beta = _check_real(op, "beta", beta)
    if beta < 0:
        raise ValueError(f"{op}: beta must be >= 0, got {beta}")
    return _piecewise_quadratic(op, input, target, beta, 1.0, 0.5 / beta if beta else 0.0,
                                reduction)


@_register
def huber_loss(input, target, reduction="mean", delta=1.0):
    """``0.5 d**2`` where ``|d| < delta``, else ``delta (|d| - 0.5 delta)``."""
    op = "huber_loss"
    delta = _check_real(op, "delta", delta)
    if delta <= 0:
        raise ValueError(f"{op}: delta must be > 0, got {delta}")
    return _piecewise_quadratic(op, input, target, delta, delta, 0.5, reduction)


# ------------------------------------------------------- classification


def _class_targets(op, input, target, class_dim):
    """Validate integer class targets; returns (target array, expected shape)."""
    tshape = tuple(target.shape)
    ishape = tuple(input.shape)
    expected = ishape[:class_dim] + ishape[class_dim + 1:]
    if tshape != expected:
        raise ShapeError(f"{op}: target shape {tshape} does not match input {ishape} "
                         f"without its class dim (expected {expected})")
    return _value(target)


def _check_index_dtype(op, target, ishape):
    t = _value(target)
    if t.dtype.kind not in "iu":
        raise DTypeError(f"{op}: target must hold class indices as an integer tensor "
                         f"(Int64), got {_dtype_name(t)} with shape {tuple(target.shape)} "
                         f"for input {ishape}")


def _check_classes(op, t, n_classes, ignore_index):
    m = xp(t)
    valid = t != ignore_index
    bad = valid & ((t < 0) | (t >= n_classes))
    if bool(m.any(bad)):
        first = int(t[bad].ravel()[0])
        raise FlodlIndexError(f"{op}: target class {first} out of range for {n_classes} "
                              f"classes (expected 0..{n_classes - 1} or ignore_index="
                              f"{ignore_index})")
    return valid


def _check_weight(op, weight, n_classes):
    _check_float(op, "weight", weight)
    if tuple(weight.shape) != (n_classes,):
        raise ShapeError(f"{op}: weight shape {tuple(weight.shape)} does not match the "
                         f"{n_classes} classes (expected ({n_classes},))")


def _nll_parts(op, logp, target, weight, ignore_index):
    """Per-element ``-w[t] * logp[t]`` (0 where ignored) and the weights ``w[t]``
    (0 where ignored), for class dim 1 of ``logp`` (N, C, d1, ...)."""
    n_classes = logp.shape[1]
    t = _value(target)
    m = xp(t)
    valid = _check_classes(op, t, n_classes, ignore_index)
    safe = m.where(valid, t, 0).astype(np.int64)
    picked = logp.gather(1, _const(safe[:, None])).squeeze(1)
    mask = valid.astype(_value(logp).dtype)
    if weight is None:
        w = _const(mask)
    else:
        w = (_as_float_like(op, "weight", weight, logp)
             .index_select(0, _const(safe.ravel())).reshape(*safe.shape)) * _const(mask)
    return picked.neg() * w, w


def _weighted_reduce(loss, w, reduction, valid):
    """Reduce per-target losses; ``"mean"`` divides by the total weight ``w.sum()``.
    ``valid`` (an array of the loss's shape) marks the targets not ignored."""
    if reduction == "mean":
        total = w.sum()
        if bool(_value(total) == 0):
            # Zero total weight (every target ignored, or only zero-weight classes):
            # PyTorch returns 0/0 = nan, with gradient nan for the targets kept and 0 for
            # the ignored ones. Dividing by 0 here would make the ignored ones nan too
            # (0 * inf), so scale by that nan/0 mask instead and add the nan as a constant.
            m = xp(valid)
            scale = m.where(valid, math.nan, 0.0).astype(_value(loss).dtype)
            return (loss * _const(scale)).sum().add_scalar(math.nan)
        return loss.sum() / total
    return _reduce(loss, reduction)


@_register
def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood of class indices given log-probabilities.

    ``input`` is (N, C), (N, C, d1, ...) or unbatched (C,); ``target`` holds
    Int64 class indices of the input's shape without the class dim. Targets
    equal to ``ignore_index`` contribute 0; ``"mean"`` divides by the sum of
    the weights of the non-ignored targets (their count without ``weight``).
    """
    op = "nll_loss"
    _check_float(op, "input", input)
    _check_tensor(op, "target", target)
    _check_reduction(op, reduction)
    if input.ndim == 0:
        raise ShapeError(f"{op}: expected input of shape (C,), (N, C) or (N, C, d1, ...), "
                         f"got a 0-d tensor")
    _check_index_dtype(op, target, tuple(input.shape))
    _class_targets(op, input, target, 1 if input.ndim > 1 else 0)
    if weight is not None:
        _check_weight(op, weight, input.shape[1 if input.ndim > 1 else 0])
    unbatched = input.ndim == 1
    x = input.unsqueeze(0) if unbatched else input
    t = _const(_value(target)[None]) if unbatched else target
    loss, w = _nll_parts(op, x, t, weight, ignore_index)
    if unbatched:
        loss, w = loss.squeeze(0), w.squeeze(0)
    return _weighted_reduce(loss, w, reduction, _value(target) != ignore_index)


@_register
def cross_entropy_loss(input, target, weight=None, ignore_index=-100, reduction="mean",
                       label_smoothing=0.0):
    """Cross entropy of logits ``input`` against class indices or class probabilities.

    ``input`` is (N, C), (N, C, d1, ...) or unbatched (C,), the class dim being
    1 (0 when unbatched). ``target`` is either Int64 class indices (the input's
    shape without the class dim; ``ignore_index`` and a weighted ``"mean"`` as in
    ``nll_loss``) or float class probabilities of the input's shape (``"mean"``
    divides by the number of elements without the class dim). ``label_smoothing``
    mixes the target with the uniform distribution over the C classes.
    """
    op = "cross_entropy_loss"
    _check_float(op, "input", input)
    _check_tensor(op, "target", target)
    _check_reduction(op, reduction)
    eps = _check_real(op, "label_smoothing", label_smoothing)
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be in [0, 1], got {label_smoothing}")
    if input.ndim == 0:
        raise ShapeError(f"{op}: expected input of shape (C,), (N, C) or (N, C, d1, ...), "
                         f"got a 0-d tensor")
    cdim = 1 if input.ndim > 1 else 0
    n_classes = input.shape[cdim]
    if weight is not None:
        _check_weight(op, weight, n_classes)
    logp = input.log_softmax(cdim)
    wshape = [1] * input.ndim
    wshape[cdim] = n_classes

    if tuple(target.shape) == tuple(input.shape):     # class probabilities
        if not is_float(_value(target).dtype):
            raise DTypeError(f"{op}: a target of the input's shape {tuple(input.shape)} holds "
                             f"class probabilities and must be floating point, got "
                             f"{target.dtype.name}")
        p = _as_float_like(op, "target", target, input)
        if eps > 0:
            p = p.mul_scalar(1.0 - eps).add_scalar(eps / n_classes)
        prod = logp * p
        if weight is not None:
            prod = prod * _as_float_like(op, "weight", weight, input).reshape(*wshape)
        return _reduce(prod.sum_dim(cdim).neg(), reduction)

    _check_index_dtype(op, target, tuple(input.shape))
    _class_targets(op, input, target, cdim)
    unbatched = input.ndim == 1
    lp = logp.unsqueeze(0) if unbatched else logp
    t = _const(_value(target)[None]) if unbatched else target
    loss, w = _nll_parts(op, lp, t, weight, ignore_index)
    if eps > 0:
        if weight is None:
            smooth = lp.sum_dim(1).neg()
        else:
            wr = _as_float_like(op, "weight", weight, input).reshape(1, *wshape[cdim:])
            smooth = (lp * wr).sum_dim(1).neg()
        valid = _value(t) != ignore_index
        smooth = smooth * _const(valid.astype(_value(lp).dtype))
        loss = loss.mul_scalar(1.0 - eps) + smooth.mul_scalar(eps / n_classes)
    if unbatched:
        loss, w = loss.squeeze(0), w.squeeze(0)
    return _weighted_reduce(loss, w, reduction, _value(target) != ignore_index)


class BinaryCrossEntropy(Function):
    """Elementwise ``-(t log x + (1 - t) log(1 - x))`` with each log clamped at
    -100 (PyTorch's binary_cross_entropy). Inputs: probabilities x, target t.

    The x-gradient is ``(x - t) / max(x (1 - x), 1e-12)`` as in PyTorch, finite at
    x = 0 and 1; the t-gradient is PyTorch's ``-logit(x) = log(1 - x) - log(x)``
    (logs not clamped, so infinite at x = 0 and 1). Both are written with framework
    ops, so they differentiate again.
    """

    def forward(self, x, t):
        m = xp(x)
        with np.errstate(divide="ignore"):
            lx = m.maximum(m.log(x), -100.0)
            l1x = m.maximum(m.log1p(-x), -100.0)
        return -(t * lx + (1 - t) * l1x)

    def backward(self, gy):
        x, t = self.inputs
        gx = gt = None
        if self.needs_grad(0):
            denom = (x * x.neg().add_scalar(1.0)).clamp_min(_EPS12)
            gx = gy * (x - t) / denom
        if self.needs_grad(1):
            # PyTorch's target gradient is -logit(x) with unclamped logs (infinite at
            # x = 0 and 1), like its x-gradient not the derivative of the clamped loss.
            gt = gy * (x.neg().log1p() - x.log())
        return gx, gt


@_register
def bce_loss(input, target, weight=None, reduction="mean"):
    """Binary cross entropy of probabilities ``input`` in [0, 1] (each log clamped
    at -100, as torch.nn.functional.binary_cross_entropy); ``weight`` broadcasts."""
    op = "bce_loss"
    _check_float(op, "input", input)
    _check_reduction(op, reduction)
    _same_shape(op, input, target)
    x = _value(input)
    m = xp(x)
    if bool(m.any((x < 0) | (x > 1) | m.isnan(x))):
        raise ValueError(f"{op}: all elements of input must be probabilities in [0, 1] "
                         f"(got min {float(m.nanmin(x)) if x.size else 0.0}, "
                         f"max {float(m.nanmax(x)) if x.size else 0.0})")
    loss = BinaryCrossEntropy()(input, _as_float_like(op, "target", target, input))
    if weight is not None:
        _check_tensor(op, "weight", weight)
        _check_broadcast(op, "input and weight", input.shape, weight.shape)
        loss = loss * _as_float_like(op, "weight", weight, input)
    return _reduce(loss, reduction)


@_register
def bce_with_logits_loss(input, target, weight=None, pos_weight=None, reduction="mean"):
    """Binary cross entropy on logits, in the stable softplus form:
    ``(1 - t) x + (1 + (pos_weight - 1) t) softplus(-x)``, times ``weight``.
    ``pos_weight`` (one per class, the last dim) and ``weight`` broadcast."""
    op = "bce_with_logits_loss"
    _check_float(op, "input", input)
    _check_reduction(op, reduction)
    _same_shape(op, input, target)
    t = _as_float_like(op, "target", target, input)
    for name, w in (("weight", weight), ("pos_weight", pos_weight)):
        if w is not None:
            _check_tensor(op, name, w)
            _check_broadcast(op, f"input and {name}", input.shape, w.shape)
    sp = input.neg().softplus(threshold=_INF)     # log(1 + exp(-x)), overflow-free
    if pos_weight is None:
        loss = t.neg().add_scalar(1.0) * input + sp
    else:
        pw = _as_float_like(op, "pos_weight", pos_weight, input)
        loss = t.neg().add_scalar(1.0) * input + (pw.sub_scalar(1.0) * t).add_scalar(1.0) * sp
    if weight is not None:
        loss = loss * _as_float_like(op, "weight", weight, input)
    return _reduce(loss, reduction)


@_register
def focal_loss(input, target, alpha=0.25, gamma=2.0, reduction="mean"):
    """Sigmoid focal loss on logits with binary targets (torchvision's
    sigmoid_focal_loss): ``alpha_t (1 - p_t)**gamma * bce_with_logits``;
    ``alpha < 0`` disables the class balancing."""
    op = "focal_loss"
    _check_float(op, "input", input)
    _check_reduction(op, reduction)
    _same_shape(op, input, target)
    alpha = _check_real(op, "alpha", alpha)
    gamma = _check_real(op, "gamma", gamma)
    t = _as_float_like(op, "target", target, input)
    p = input.sigmoid()
    ce = bce_with_logits_loss(input, t, reduction="none")
    one_minus_pt = p + t - (p * t).mul_scalar(2.0)       # 1 - (p t + (1 - p)(1 - t))
    loss = ce * one_minus_pt.pow_scalar(gamma) if gamma != 0 else ce
    if alpha >= 0:
        alpha_t = t.mul_scalar(2.0 * alpha - 1.0).add_scalar(1.0 - alpha)
        loss = alpha_t * loss
    return _reduce(loss, reduction)


@_register
def kl_div_loss(input, target, reduction="mean", log_target=False):
    """KL divergence ``target (log target - input)`` with ``input`` log-probabilities
    (``exp(target) (target - input)`` when ``log_target``). ``"mean"`` averages over
    all elements, as PyTorch; ``"batchmean"`` divides the sum by the batch size."""
    op = "kl_div_loss"
    _check_float(op, "input", input)
    _check_reduction(op, reduction, extra=("batchmean",))
    _same_shape(op, input, target)
    t = _as_float_like(op, "target", target, input)
    if log_target:
        loss = t.exp() * (t - input)
    else:
        pos = _const(_value(t) > 0)
        safe = where(pos, t, 1.0)
        loss = where(pos, t * safe.log(), 0.0) - t * input    # xlogy(t, t) - t x
    if reduction == "batchmean":
        return loss.sum() / input.shape[0] if input.ndim > 0 else loss.sum()
    return _reduce(loss, reduction)


@_register
def poisson_nll_loss(input, target, log_input=True, full=False, eps=1e-8, reduction="mean"):
    """Poisson negative log-likelihood: ``exp(x) - t x`` (``log_input``) or
    ``x - t log(x + eps)``; ``full`` adds Stirling's term for t > 1."""
    op = "poisson_nll_loss"
    _check_float(op, "input", input)
    _check_reduction(op, reduction)
    _same_shape(op, input, target)
    eps = _check_real(op, "eps", eps)
    t = _as_float_like(op, "target", target, input)
    if log_input:
        loss = input.exp() - t * input
    else:
        loss = input - t * input.add_scalar(eps).log()
    if full:
        big = _const(_value(t) > 1)
        ts = where(big, t, 1.0)
        stirling = ts * ts.log() - ts + ts.mul_scalar(2 * math.pi).log().mul_scalar(0.5)
        loss = loss + where(big, stirling, 0.0)
    return _reduce(loss, reduction)


# ------------------------------------------------------ embedding losses


def _pairwise_distance(a, b, p, eps):
    return (a - b).add_scalar(eps).norm(p, dim=-1)


@_register
def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-6, swap=False,
                        reduction="mean"):
    """``max(d(a, p) - d(a, n) + margin, 0)`` with ``d(x, y) = ||x - y + eps||_p`` over
    the last dim; ``swap`` uses ``min(d(a, n), d(p, n))``."""
    op = "triplet_margin_loss"
    for name, v in (("anchor", anchor), ("positive", positive), ("negative", negative)):
        _check_float(op, name, v)
    _check_reduction(op, reduction)
    if not (anchor.ndim == positive.ndim == negative.ndim) or anchor.ndim not in (1, 2):
        raise ShapeError(f"{op}: expected anchor, positive and negative all (N, D) or all "
                         f"(D,), got {tuple(anchor.shape)}, {tuple(positive.shape)} and "
                         f"{tuple(negative.shape)}")
    margin, p, eps = (_check_real(op, "margin", margin), _check_real(op, "p", p),
                      _check_real(op, "eps", eps))
    if margin <= 0:     # as torch.nn.functional.triplet_margin_loss
        raise ValueError(f"{op}: margin must be greater than 0, got {margin}")
    _check_broadcast(op, "anchor, positive and negative", anchor.shape, positive.shape,
                     negative.shape)
    d_pos = _pairwise_distance(anchor, positive, p, eps)
    d_neg = _pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = d_neg.minimum(_pairwise_distance(positive, negative, p, eps))
    return _reduce((d_pos - d_neg).add_scalar(margin).clamp_min(0.0), reduction)


def _sign_targets(op, target):
    _check_tensor(op, "target", target)
    tv = _value(target)
    return _const(tv == 1), _const(tv == -1)


@_register
def cosine_embedding_loss(input1, input2, target, margin=0.0, reduction="mean"):
    """``1 - cos(x1, x2)`` where target is 1, ``max(0, cos - margin)`` where it is -1;
    cosine over dim 1 of (N, D) inputs (dim 0 of (D,) inputs, target 0-d)."""
    op = "cosine_embedding_loss"
    _check_float(op, "input1", input1)
    _check_float(op, "input2", input2)
    _check_reduction(op, reduction)
    margin = _check_real(op, "margin", margin)
    if tuple(input1.shape) != tuple(input2.shape) or input1.ndim not in (1, 2):
        raise ShapeError(f"{op}: expected input1 and input2 of one shape, (N, D) or (D,), "
                         f"got {tuple(input1.shape)} and {tuple(input2.shape)}")
    expected = tuple(input1.shape[:-1])
    if tuple(target.shape) != expected:
        raise ShapeError(f"{op}: target shape {tuple(target.shape)} does not match inputs "
                         f"{tuple(input1.shape)} (expected {expected})")
    dim = input1.ndim - 1
    prod = (input1 * input2).sum_dim(dim)
    mag1 = input1.square().sum_dim(dim).add_scalar(_EPS12)
    mag2 = input2.square().sum_dim(dim).add_scalar(_EPS12)
    cos = prod / (mag1 * mag2).sqrt()
    pos, neg = _sign_targets(op, target)
    loss = where(pos, cos.neg().add_scalar(1.0), 0.0) + \
        where(neg, cos.sub_scalar(margin).clamp_min(0.0), 0.0)
    return _reduce(loss, reduction)


@_register
def hinge_embedding_loss(input, target, margin=1.0, reduction="mean"):
    """``x`` where target is 1, ``max(0, margin - x)`` where it is -1 (PyTorch's
    formula: other target values get both terms)."""
    op = "hinge_embedding_loss"
    _check_float(op, "input", input)
    _check_reduction(op, reduction)
    _same_shape(op, input, target)
    margin = _check_real(op, "margin", margin)
    tv = _value(target)
    margin_part = where(_const(tv != 1), input.neg().add_scalar(margin).clamp_min(0.0), 0.0)
    self_part = where(_const(tv != -1), input, 0.0)
    return _reduce(margin_part + self_part, reduction)


@_register
def margin_ranking_loss(input1, input2, target, margin=0.0, reduction="mean"):
    """``max(0, -target (x1 - x2) + margin)`` with target in {1, -1}."""
    op = "margin_ranking_loss"
    _check_float(op, "input1", input1)
    _check_float(op, "input2", input2)
    _check_reduction(op, reduction)
    margin = _check_real(op, "margin", margin)
    if not (tuple(input1.shape) == tuple(input2.shape) == tuple(target.shape)):
        raise ShapeError(f"{op}: input1, input2 and target must have one shape, got "
                         f"{tuple(input1.shape)}, {tuple(input2.shape)} and "
                         f"{tuple(target.shape)}")
    t = _as_float_like(op, "target", target, input1)
    return _reduce((t.neg() * (input1 - input2)).add_scalar(margin).clamp_min(0.0), reduction)


# --------------------------------------------------------------------- CTC


def _lse(m, *arrays):
    """Elementwise log(sum(exp)) of same-shape arrays, -inf safe."""
    stack = m.stack(arrays)
    mx = stack.max(axis=0)
    safe = m.where(m.isfinite(mx), mx, 0.0)
    with np.errstate(divide="ignore"):
        return m.log(m.exp(stack - safe).sum(axis=0)) + safe


class CTCLoss(Function):
    """Per-sample CTC negative log-likelihood, (N,), of ``log_probs`` (T, N, C).

    The forward runs the alpha recursion in log space over the extended labels
    (blanks interleaved, length 2S + 1), vectorised over the batch; backward
    runs the beta recursion and returns PyTorch's gradient

        exp(lp) - exp(log(sum_{s: l'_s = c} alpha_t(s) beta_t(s)) + nll - lp)

    (lp = log_probs) for t < input_length (0 after it, and 0 for a sample whose
    infinite loss ``zero_infinity`` zeroes), times the upstream gradient of each
    sample's loss (alpha and beta both include the emission at t). Without the
    ``exp(lp)`` term this is the exact derivative with respect to ``log_probs``;
    with it, it is the gradient with respect to the *logits* when
    ``log_probs = log_softmax(logits)`` (it lies along the directions a
    log_softmax removes, so through an explicit log_softmax both conventions
    give the same logits gradient). Users who read ``log_probs.grad`` on a leaf,
    as in PyTorch's documented example, therefore see PyTorch's values; a
    finite-difference check holds only through a log_softmax.

    No double backward: the second derivative needs the posterior covariance
    of the label occupancies (pairs of alignment positions), another
    forward-backward pass per (t, c) that neither this module nor PyTorch
    implements; backward under ``create_graph=True`` raises.
    """

    __slots__ = ("labels", "input_lengths", "target_lengths", "blank", "zero_infinity",
                 "_alpha", "_nll", "_inf")
    supports_double_backward = False

    def __init__(self, labels, input_lengths, target_lengths, blank, zero_infinity):
        self.labels = labels                    # (N, 2S + 1) extended labels
        self.input_lengths = input_lengths      # (N,) int64 (NumPy)
        self.target_lengths = target_lengths
        self.blank = blank
        self.zero_infinity = zero_infinity

    def _setup(self, lp):
        m = xp(lp)
        labels = m.asarray(self.labels)
        n_ext = labels.shape[1]
        # Whether s may be entered from s - 2 (a non-blank differing from l'_{s-2}).
        skip = m.zeros(labels.shape, dtype=bool)
        if n_ext > 2:
            skip[:, 2:] = (labels[:, 2:] != self.blank) & (labels[:, 2:] != labels[:, :-2])
        # Positions beyond each sample's 2 L_n + 1 extended labels are unreachable.
        valid = m.arange(n_ext)[None, :] < (2 * m.asarray(self.target_lengths) + 1)[:, None]
        return m, labels, skip, valid

    def forward(self, log_probs):
        lp_in = log_probs
        cd = np.float64 if lp_in.dtype == np.float64 else np.float32
        lp = lp_in.astype(cd, copy=False)
        m, labels, skip, valid = self._setup(lp)
        T, N, _ = lp.shape
        n_ext = labels.shape[1]
        rows = m.arange(N)[:, None]
        # Emissions for each extended label: (T, N, 2S + 1).
        emit = lp[:, rows, labels]
        ninf = -np.inf
        alpha = m.full((T, N, n_ext), ninf, dtype=cd)
        a0 = m.full((N, n_ext), ninf, dtype=cd)
        a0[:, 0] = emit[0, :, 0]
        if n_ext > 1:
            a0[:, 1] = m.where(m.asarray(self.target_lengths) > 0, emit[0, :, 1], ninf)
        a0 = m.where(valid, a0, ninf)
        alpha[0] = a0
        for t in range(1, T):
            prev = alpha[t - 1]
            s1 = m.full_like(prev, ninf)
            s1[:, 1:] = prev[:, :-1]
            s2 = m.full_like(prev, ninf)
            s2[:, 2:] = prev[:, :-2]
            s2 = m.where(skip, s2, ninf)
            a = _lse(m, prev, s1, s2) + emit[t]
            alpha[t] = m.where(valid, a, ninf)
        il = m.asarray(self.input_lengths)
        tl = m.asarray(self.target_lengths)
        last = alpha[m.maximum(il - 1, 0), m.arange(N)]          # (N, 2S + 1)
        end = 2 * tl
        a_end = last[m.arange(N), end]
        a_prev = m.where(tl > 0, last[m.arange(N), m.maximum(end - 1, 0)], ninf)
        nll = -_lse(m, a_end, a_prev)
        nll = m.where(il > 0, nll, m.where(tl > 0, np.inf, 0.0))
        self._alpha = alpha
        self._nll = nll
        self._inf = m.isinf(nll)
        if self.zero_infinity:
            nll = m.where(self._inf, 0.0, nll)
        return nll.astype(lp_in.dtype, copy=False)

    def _grad_array(self, lp_in):
        cd = self._alpha.dtype
        lp = lp_in.astype(cd, copy=False)
        m, labels, skip, valid = self._setup(lp)
        T, N, C = lp.shape
        n_ext = labels.shape[1]
        rows = m.arange(N)[:, None]
        emit = lp[:, rows, labels]
        il = m.asarray(self.input_lengths)
        tl = m.asarray(self.target_lengths)
        ninf = -np.inf
        # The (s + 2) -> s transition is allowed exactly when s + 2 may skip from s.
        skip_next = m.zeros_like(skip)
        if n_ext > 2:
            skip_next[:, :-2] = skip[:, 2:]
        ext = m.arange(n_ext)[None, :]
        end = (2 * tl)[:, None]
        init = m.where((ext == end) | ((ext == end - 1) & (tl[:, None] > 0)), 0.0, ninf)
        beta = m.full((T, N, n_ext), ninf, dtype=cd)
        nxt = m.full((N, n_ext), ninf, dtype=cd)
        for t in range(T - 1, -1, -1):
            b1 = m.full_like(nxt, ninf)
            b1[:, :-1] = nxt[:, 1:]
            b2 = m.full_like(nxt, ninf)
            b2[:, :-2] = nxt[:, 2:]
            b2 = m.where(skip_next, b2, ninf)
            rec = _lse(m, nxt, b1, b2)
            here = m.where((t == il - 1)[:, None], init, rec) + emit[t]
            here = m.where((t < il)[:, None] & valid, here, ninf)
            beta[t] = here
            nxt = here
        ab = self._alpha + beta                               # (T, N, 2S + 1)
        mx = ab.max(axis=2, keepdims=True)
        mx = m.where(m.isfinite(mx), mx, 0.0)
        e = m.exp(ab - mx)
        onehot = (labels[:, :, None] == m.arange(C)[None, None, :]).astype(cd)
        # Sum over the positions s with l'_s = c: one batched matmul, (N, T, C).
        occ = m.matmul(e.transpose(1, 0, 2), onehot).transpose(1, 0, 2)
        nll = self._nll
        # PyTorch's convention, so log_probs.grad matches torch's: exp(log_probs)
        # minus the label posterior, the gradient w.r.t. the logits under
        # log_probs = log_softmax(logits). The posterior term alone is the exact
        # derivative w.r.t. log_probs; the added p = exp(log_probs) is removed by
        # log_softmax's backward (v -> v - p * sum_c v, with sum_c p = 1), so the
        # tangent parts agree and logits gradients are the same either way.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            g = m.exp(lp) - occ * m.exp(mx + nll[None, :, None] - lp)
        g = m.where((m.arange(T)[:, None] < il[None, :])[:, :, None], g, 0.0)
        if self.zero_infinity:
            g = m.where(self._inf[None, :, None], 0.0, g)
        return g.astype(lp_in.dtype, copy=False)

    def backward(self, gy):
        if _grad_state.enabled:
            raise AutogradError("ctc_loss: double backward is not supported (the second "
                                "derivative needs a forward-backward pass over pairs of "
                                "alignment positions); call backward without create_graph")
        (lp,) = self.inputs
        g = self._grad_array(lp._data)
        n = gy._data.shape[0]
        return gy.reshape(1, n, 1) * _const(g)

    def release(self):
        super().release()
        self._alpha = self._nll = self._inf = None


def _lengths(op, name, v, n):
    if isinstance(v, TensorLike):
        arr = v._data
        arr = arr if isinstance(arr, np.ndarray) else arr.get()
        if arr.dtype.kind not in "iu":
            raise DTypeError(f"{op}: {name} must hold integers, got {_dtype_name(arr)}")
    else:
        if isinstance(v, numbers.Integral):
            v = [v]
        arr = np.asarray(list(v))
        if arr.size and arr.dtype.kind not in "iu":
            raise DTypeError(f"{op}: {name} must hold integers, got {arr.dtype}")
    arr = np.asarray(arr, dtype=np.int64).reshape(-1)
    if arr.shape != (n,):
        raise ShapeError(f"{op}: {name} must have one entry per batch element ({n}), got "
                         f"shape {arr.shape}")
    if (arr < 0).any():
        raise ValueError(f"{op}: {name} must be >= 0, got {arr.tolist()}")
    return arr


@_register
def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean",
             zero_infinity=False):
    """Connectionist temporal classification loss (torch.nn.functional.ctc_loss).

    ``log_probs`` (T, N, C) (or unbatched (T, C)) are log-probabilities, e.g. a
    log_softmax over C; ``targets`` are Int64, either padded (N, S) or the N
    sequences concatenated (sum(target_lengths),); ``input_lengths`` and
    ``target_lengths`` (N,) as Tensors or sequences of ints. ``"mean"`` divides
    each loss by its target length (at least 1) and averages over the batch.
    ``zero_infinity`` replaces infinite losses (impossible alignments) and their
    gradients by 0. First derivatives only.

    The gradient of ``log_probs`` is PyTorch's: the gradient with respect to the
    logits assuming ``log_probs = log_softmax(logits)``, i.e. the exact
    derivative plus ``g * exp(log_probs)`` (g the upstream gradient of each
    sample's loss) on the frames t < input_length. Through an explicit
    log_softmax, as in ``ctc_loss(logits.log_softmax(-1), ...)``, the logits get
    the true gradient; on a raw ``log_probs`` leaf the gradient is not the
    derivative of the loss with respect to it (it is what PyTorch reports).
    """
    op = "ctc_loss"
    _check_float(op, "log_probs", log_probs)
    _check_tensor(op, "targets", targets)
    _check_reduction(op, reduction)
    if log_probs.ndim not in (2, 3):
        raise ShapeError(f"{op}: expected log_probs of shape (T, N, C) or (T, C), got "
                         f"{tuple(log_probs.shape)}")
    unbatched = log_probs.ndim == 2
    lp = log_probs.unsqueeze(1) if unbatched else log_probs
    T, N, C = lp.shape
    if isinstance(blank, bool) or not isinstance(blank, numbers.Integral) or \
            not 0 <= blank < C:
        raise FlodlIndexError(f"{op}: blank {blank!r} out of range for {C} classes")
    il = _lengths(op, "input_lengths", input_lengths, N)
    tl = _lengths(op, "target_lengths", target_lengths, N)
    if (il > T).any():
        raise ShapeError(f"{op}: input_lengths {il.tolist()} exceed the {T} time steps of "
                         f"log_probs {tuple(log_probs.shape)}")
    tv = targets._data
    tv = tv if isinstance(tv, np.ndarray) else tv.get()
    if tv.dtype.kind not in "iu":
        raise DTypeError(f"{op}: targets must hold class indices as an integer tensor "
                         f"(Int64), got {_dtype_name(tv)}")
    if unbatched:
        if tv.ndim != 1:
            raise ShapeError(f"{op}: unbatched log_probs {tuple(log_probs.shape)} need 1-D "
                             f"targets, got shape {tv.shape}")
        tv = tv[None]
    if tv.ndim == 2:
        if tv.shape[0] != N:
            raise ShapeError(f"{op}: padded targets {tv.shape} must have N = {N} rows")
        if (tl > tv.shape[1]).any():
            raise ShapeError(f"{op}: target_lengths {tl.tolist()} exceed the padded "
                             f"targets' length {tv.shape[1]}")
        padded = tv.astype(np.int64)
    elif tv.ndim == 1:
        if tv.shape[0] != int(tl.sum()):
            raise ShapeError(f"{op}: concatenated targets have {tv.shape[0]} entries but "
                             f"target_lengths sum to {int(tl.sum())}")
        padded = np.full((N, int(tl.max()) if N else 0), blank, dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(tl)])
        for n in range(N):
            padded[n, :tl[n]] = tv[offsets[n]:offsets[n + 1]]
    else:
        raise ShapeError(f"{op}: targets must be (N, S) padded or 1-D concatenated, got "
                         f"shape {tv.shape}")
    S = padded.shape[1]
    in_seq = np.arange(S)[None, :] < tl[:, None]
    used = padded[in_seq]
    bad = (used < 0) | (used >= C) | (used == blank)
    if bad.any():
        first = int(used[bad][0])
        raise FlodlIndexError(f"{op}: target class {first} out of range for {C} classes "
                              f"(expected 0..{C - 1}, not the blank {blank})")
    padded = np.where(in_seq, padded, blank)
    labels = np.full((N, 2 * S + 1), blank, dtype=np.int64)
    labels[:, 1::2] = padded
    if not isinstance(lp._data, np.ndarray):
        labels_dev = xp(lp._data).asarray(labels)
    else:
        labels_dev = labels
    fn = CTCLoss(labels_dev, il, tl, int(blank), bool(zero_infinity))
    loss = fn(lp)
    if unbatched:
        loss = loss.reshape()
    if reduction == "mean":
        denom = _const(xp(_value(loss)).asarray(np.maximum(tl, 1).astype(np.float64))
                       .astype(_value(loss).dtype))
        if unbatched:
            denom = denom.reshape()
        return (loss / denom).mean()
    return _reduce(loss, reduction)
