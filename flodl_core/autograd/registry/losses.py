"""Registry entries for the losses of ``flodl_core.nn.losses``: ``"loss.<name>"``.

Each reduction and the main options are separate samples. Integer arrays
(class indices, +-1 labels, CTC targets and lengths) are constant Tensors;
float targets are differentiable where PyTorch differentiates them too and
listed in ``nondiff`` where they are labels (focal, margin ranking). Kinked
losses sample away from their kinks: l1 away from d = 0, smooth_l1/huber away
from |d| = beta/delta, hinge-style losses away from their margins, poisson's
Stirling term away from t = 1.

The references are written from the textbook formulas in NumPy (the CTC one
enumerates every alignment path), never by calling flodl_core.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from . import OpInfo, SampleInput, register
from .samples import noncontig, uniform

REDUCTIONS = ("mean", "sum", "none")


def _losses():
    from ...nn import losses
    return losses


def _op(name, argnames):
    """Call loss ``name`` with the sample's arrays bound to ``argnames``."""
    def op(*args, **kwargs):
        fn = getattr(_losses(), name)
        return fn(**dict(zip(argnames, args)), **kwargs)
    return op


def _entry(name, argnames, samples, ref, **kw):
    register(OpInfo(f"loss.{name}", samples, ref, op=_op(name, argnames), **kw))


def _red(loss, reduction):
    if reduction == "mean":
        return np.asarray(loss.mean())
    if reduction == "sum":
        return np.asarray(loss.sum())
    return np.asarray(loss)


def _per_reduction(args, nondiff=(), desc="", **kwargs):
    return [SampleInput(args, dict(kwargs, reduction=r), nondiff=nondiff,
                        desc=f"{desc} {r}".strip()) for r in REDUCTIONS]


def _away(rng, shape, low, high, kinks, margin=0.15):
    """Uniform values in [low, high) at least ``margin`` from every kink."""
    return uniform(rng, shape, low, high, avoid=kinks, margin=margin)


def _signed(rng, shape, low, high):
    """Magnitudes in [low, high) with random signs."""
    return rng.uniform(low, high, size=shape) * rng.choice([-1.0, 1.0], size=shape)


# ------------------------------------------------------------- regression


def _mse_samples(rng):
    out = _per_reduction((uniform(rng, (2, 3)), uniform(rng, (2, 3))))
    out.append(SampleInput((uniform(rng, ()), uniform(rng, ())), desc="0-d"))
    out.append(SampleInput((noncontig(uniform(rng, (3, 2))), uniform(rng, (3, 2))),
                           desc="non-contiguous"))
    return out


_entry("mse_loss", ("input", "target"), _mse_samples,
       lambda x, y, reduction="mean": _red((x - y) ** 2, reduction))


def _l1_samples(rng):
    x = uniform(rng, (2, 3))
    out = _per_reduction((x, x + _signed(rng, (2, 3), 0.2, 1.5)))
    x = noncontig(uniform(rng, (3, 2)))
    out.append(SampleInput((x, x + _signed(rng, (3, 2), 0.2, 1.5)), desc="non-contiguous"))
    return out


_entry("l1_loss", ("input", "target"), _l1_samples,
       lambda x, y, reduction="mean": _red(np.abs(x - y), reduction))


def _knot_samples(rng, key, knots):
    out = []
    for knot in knots:
        x = uniform(rng, (2, 4))
        d = _signed(rng, (2, 4), 0.1, 2.5)
        if knot:
            d = np.where(np.abs(np.abs(d) - knot) < 0.15, d * 1.5, d)
        else:
            d = np.where(np.abs(d) < 0.15, np.sign(d) * 0.3, d)
        # Both branches present: one element inside, one outside the knot.
        if knot:
            d[0, 0], d[0, 1] = 0.4 * knot, -1.6 * knot
        out += _per_reduction((x, x + d), desc=f"{key}={knot}", **{key: knot})
    return out


def _smooth_l1_ref(x, y, reduction="mean", beta=1.0):
    ad = np.abs(x - y)
    if beta == 0:
        return _red(ad, reduction)
    return _red(np.where(ad < beta, 0.5 * ad ** 2 / beta, ad - 0.5 * beta), reduction)


def _huber_ref(x, y, reduction="mean", delta=1.0):
    ad = np.abs(x - y)
    return _red(np.where(ad < delta, 0.5 * ad ** 2, delta * (ad - 0.5 * delta)), reduction)


_entry("smooth_l1_loss", ("input", "target"),
       lambda rng: _knot_samples(rng, "beta", (1.0, 0.5, 0.0)), _smooth_l1_ref)
_entry("huber_loss", ("input", "target"),
       lambda rng: _knot_samples(rng, "delta", (1.0, 0.5, 2.0)), _huber_ref)

# --------------------------------------------------------- classification


def _log_softmax(x, axis):
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def _nll_terms(logp, t, weight, ignore_index):
    """Per-element -w[t] logp[t] and w[t] (0 where ignored), class dim 1."""
    lm = np.moveaxis(logp, 1, -1)
    loss = np.zeros(t.shape)
    w = np.zeros(t.shape)
    for idx in np.ndindex(*t.shape):
        c = int(t[idx])
        if c == ignore_index:
            continue
        w[idx] = 1.0 if weight is None else weight[c]
        loss[idx] = -w[idx] * lm[idx][c]
    return loss, w


def _nll_ref(x, t, weight=None, ignore_index=-100, reduction="mean"):
    unbatched = x.ndim == 1
    if unbatched:
        x, t = x[None], np.asarray(t)[None]
    loss, w = _nll_terms(x, t, weight, ignore_index)
    if unbatched:
        loss, w = loss[0], w[0]
    if reduction == "mean":
        return np.asarray(loss.sum() / w.sum())
    return _red(loss, reduction)


def _nll_samples(rng):
    out = []
    x = _log_softmax(uniform(rng, (3, 4)), 1)
    t = np.array([0, 3, 1], dtype=np.int64)
    w = rng.uniform(0.5, 2.0, 4)
    out += _per_reduction((x, t))
    out += _per_reduction((x, t, w), desc="weight")
    out += _per_reduction((x, np.array([2, -100, 1], dtype=np.int64), w), desc="ignored")
    out.append(SampleInput((x, np.array([2, 1, 1], dtype=np.int64)),
                           dict(ignore_index=1), desc="ignore_index=1"))
    x3 = uniform(rng, (2, 3, 2))
    t3 = np.array([[0, 2], [1, 1]], dtype=np.int64)
    out += _per_reduction((x3, t3, w[:3]), desc="(N, C, d) weight")
    out += _per_reduction((uniform(rng, (4,)), np.array(2, dtype=np.int64)), desc="unbatched")
    out.append(SampleInput((noncontig(uniform(rng, (3, 4))), t), desc="non-contiguous"))
    return out


_entry("nll_loss", ("input", "target", "weight"), _nll_samples, _nll_ref)


def _ce_ref(x, t, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    cdim = 1 if x.ndim > 1 else 0
    n_classes = x.shape[cdim]
    logp = _log_softmax(x, cdim)
    wshape = [1] * x.ndim
    wshape[cdim] = n_classes
    wb = np.ones(n_classes) if weight is None else weight
    eps = label_smoothing
    if t.shape == x.shape and t.dtype.kind == "f":
        p = t * (1 - eps) + eps / n_classes
        return _red(-(logp * p * wb.reshape(wshape)).sum(axis=cdim), reduction)
    unbatched = x.ndim == 1
    if unbatched:
        logp, t = logp[None], np.asarray(t)[None]
    nll, w = _nll_terms(logp, t, weight, ignore_index)
    smooth = -(logp * wb.reshape([1, n_classes] + [1] * (logp.ndim - 2))).sum(axis=1)
    smooth = np.where(t != ignore_index, smooth, 0.0)
    loss = (1 - eps) * nll + eps / n_classes * smooth
    if unbatched:
        loss, w = loss[0], w[0]
    if reduction == "mean":
        return np.asarray(loss.sum() / w.sum())
    return _red(loss, reduction)


def _ce_samples(rng):
    out = []
    x = uniform(rng, (3, 4))
    t = np.array([1, 3, 0], dtype=np.int64)
    w = rng.uniform(0.5, 2.0, 4)
    out += _per_reduction((x, t))
    out += _per_reduction((x, np.array([1, -100, 0], dtype=np.int64), w), desc="weight ignored")
    out += _per_reduction((x, t, w), desc="weight smoothing", label_smoothing=0.2)
    out.append(SampleInput((x, np.array([2, -100, 3], dtype=np.int64)),
                           dict(label_smoothing=0.1), desc="smoothing ignored"))
    x3 = uniform(rng, (2, 3, 2))
    out += _per_reduction((x3, np.array([[0, 2], [1, 1]], dtype=np.int64)), desc="(N, C, d)")
    out.append(SampleInput((uniform(rng, (4,)), np.array(3, dtype=np.int64)),
                           dict(reduction="none"), desc="unbatched"))
    probs = rng.dirichlet(np.ones(4), 3)
    out += _per_reduction((x, probs), desc="probabilities")
    out += _per_reduction((x, probs, w), desc="probabilities weight smoothing",
                          label_smoothing=0.3)
    out.append(SampleInput((noncontig(uniform(rng, (3, 4))), t), desc="non-contiguous"))
    return out


_entry("cross_entropy_loss", ("input", "target", "weight"), _ce_samples, _ce_ref)


def _bce_ref(x, t, weight=None, reduction="mean"):
    loss = -(t * np.maximum(np.log(x), -100.0) + (1 - t) * np.maximum(np.log(1 - x), -100.0))
    return _red(loss if weight is None else loss * weight, reduction)


def _bce_samples(rng):
    x, t = rng.uniform(0.1, 0.9, (2, 3)), rng.uniform(0.0, 1.0, (2, 3))
    out = _per_reduction((x, t))
    out += _per_reduction((x, t, rng.uniform(0.5, 2.0, (3,))), desc="weight")
    out.append(SampleInput((noncontig(rng.uniform(0.1, 0.9, (3, 2))),
                            rng.uniform(0, 1, (3, 2))), desc="non-contiguous"))
    return out


_entry("bce_loss", ("input", "target", "weight"), _bce_samples, _bce_ref)


def _log_sigmoid(x):
    return -np.log1p(np.exp(-x))


def _bce_logits_ref(x, t, weight=None, pos_weight=None, reduction="mean"):
    pw = 1.0 if pos_weight is None else pos_weight
    loss = -(pw * t * _log_sigmoid(x) + (1 - t) * _log_sigmoid(-x))
    return _red(loss if weight is None else loss * weight, reduction)


def _bce_logits_samples(rng):
    x, t = uniform(rng, (2, 3), -3, 3), rng.uniform(0.0, 1.0, (2, 3))
    out = _per_reduction((x, t))
    out += _per_reduction((x, t, rng.uniform(0.5, 2.0, (3,)), rng.uniform(0.5, 3.0, (3,))),
                          desc="weight pos_weight")
    out.append(SampleInput((np.array([0.0, 8.0, -8.0, 1.5]), np.array([0.3, 1.0, 0.0, 0.5])),
                           desc="at 0 and large |x|"))
    return out


_entry("bce_with_logits_loss", ("input", "target", "weight", "pos_weight"),
       _bce_logits_samples, _bce_logits_ref)


def _focal_ref(x, t, alpha=0.25, gamma=2.0, reduction="mean"):
    p = 1.0 / (1.0 + np.exp(-x))
    ce = -(t * np.log(p) + (1 - t) * np.log(1 - p))
    p_t = p * t + (1 - p) * (1 - t)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = (alpha * t + (1 - alpha) * (1 - t)) * loss
    return _red(loss, reduction)


def _focal_samples(rng):
    x = uniform(rng, (2, 3), -3, 3)
    t = np.array([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    out = _per_reduction((x, t), nondiff=(1,))
    out.append(SampleInput((x, t), dict(alpha=-1.0, gamma=0.0), nondiff=(1,),
                           desc="no alpha, gamma=0"))
    out.append(SampleInput((x, t), dict(alpha=0.7, gamma=1.5), nondiff=(1,),
                           desc="alpha=0.7 gamma=1.5"))
    return out


_entry("focal_loss", ("input", "target"), _focal_samples, _focal_ref)


def _kl_ref(x, t, reduction="mean", log_target=False):
    if log_target:
        loss = np.exp(t) * (t - x)
    else:
        loss = np.where(t > 0, t * np.log(np.where(t > 0, t, 1.0)), 0.0) - t * x
    if reduction == "batchmean":
        return np.asarray(loss.sum() / x.shape[0])
    return _red(loss, reduction)


def _kl_samples(rng):
    x = np.log(rng.dirichlet(np.ones(4), 3))
    t = rng.dirichlet(np.ones(4), 3)
    out = [SampleInput((x, t), dict(reduction=r), desc=r)
           for r in REDUCTIONS + ("batchmean",)]
    out += [SampleInput((x, np.log(t)), dict(reduction=r, log_target=True),
                        desc=f"log_target {r}") for r in ("mean", "batchmean", "none")]
    # A zero target probability contributes 0 (xlogy); only the input is varied there.
    tz = t.copy()
    tz[0, 0] = 0.0
    out.append(SampleInput((x, tz), dict(reduction="sum"), nondiff=(1,), desc="zero target"))
    return out


_entry("kl_div_loss", ("input", "target"), _kl_samples, _kl_ref)


def _poisson_ref(x, t, log_input=True, full=False, eps=1e-8, reduction="mean"):
    loss = np.exp(x) - t * x if log_input else x - t * np.log(x + eps)
    if full:
        ts = np.where(t > 1, t, 1.0)
        loss = loss + np.where(t > 1, ts * np.log(ts) - ts + 0.5 * np.log(2 * math.pi * ts),
                               0.0)
    return _red(loss, reduction)


def _poisson_samples(rng):
    t = np.concatenate([rng.uniform(0.1, 0.8, (1, 3)), rng.uniform(1.3, 4.0, (1, 3))])
    out = _per_reduction((uniform(rng, (2, 3), -1.5, 1.5), t))
    out += _per_reduction((rng.uniform(0.2, 3.0, (2, 3)), t), desc="log_input=False",
                          log_input=False)
    out.append(SampleInput((uniform(rng, (2, 3), -1.5, 1.5), t), dict(full=True), desc="full"))
    out.append(SampleInput((rng.uniform(0.2, 3.0, (2, 3)), t),
                           dict(full=True, log_input=False, eps=0.1), desc="full eps=0.1"))
    return out


_entry("poisson_nll_loss", ("input", "target"), _poisson_samples, _poisson_ref)

# ------------------------------------------------------ embedding losses


def _pnorm(v, p):
    return (np.abs(v) ** p).sum(axis=-1) ** (1.0 / p)


def _triplet_ref(a, pos, neg, margin=1.0, p=2.0, eps=1e-6, swap=False, reduction="mean"):
    d_ap = _pnorm(a - pos + eps, p)
    d_an = _pnorm(a - neg + eps, p)
    if swap:
        d_an = np.minimum(d_an, _pnorm(pos - neg + eps, p))
    return _red(np.maximum(margin + d_ap - d_an, 0.0), reduction)


def _triplet_samples(rng):
    out = []
    configs = [dict(reduction=r) for r in REDUCTIONS] + [
        dict(p=1.0, margin=0.5), dict(p=3.0, swap=True), dict(swap=True, reduction="sum"),
        dict(margin=2.0, reduction="none")]
    for i, kw in enumerate(configs):
        shape = (4,) if i == 1 else (3, 4)
        kw2 = {"margin": 1.0, "p": 2.0, "swap": False, **kw}
        while True:    # redraw until no hinge or swap tie is within reach of the FD step
            a, pos, neg = (uniform(rng, shape) for _ in range(3))
            d_ap = _pnorm(a - pos + 1e-6, kw2["p"])
            d_an = _pnorm(a - neg + 1e-6, kw2["p"])
            d_pn = _pnorm(pos - neg + 1e-6, kw2["p"])
            if kw2["swap"] and np.min(np.abs(d_an - d_pn)) < 0.1:
                continue
            dn = np.minimum(d_an, d_pn) if kw2["swap"] else d_an
            if np.min(np.abs(kw2["margin"] + d_ap - dn)) > 0.1:
                break
        out.append(SampleInput((a, pos, neg), kw, desc=" ".join(f"{k}={v}" for k, v in kw.items())))
    return out


_entry("triplet_margin_loss", ("anchor", "positive", "negative"), _triplet_samples,
       _triplet_ref)


def _cos_emb_ref(x1, x2, t, margin=0.0, reduction="mean"):
    dot = (x1 * x2).sum(axis=-1)
    eps = float(np.float32(1e-12))      # PyTorch's EPSILON is the float 1e-12f
    cos = dot / np.sqrt(((x1 ** 2).sum(axis=-1) + eps) * ((x2 ** 2).sum(axis=-1) + eps))
    loss = np.where(t == 1, 1 - cos, 0.0) + np.where(t == -1, np.maximum(cos - margin, 0.0), 0.0)
    return _red(loss, reduction)


def _cos_emb_samples(rng):
    out = []
    t = np.array([1, -1, -1, 1], dtype=np.int64)
    for kw in [dict(reduction=r) for r in REDUCTIONS] + [dict(margin=-0.4), dict(margin=0.3)]:
        margin = kw.get("margin", 0.0)
        while True:
            x1, x2 = uniform(rng, (4, 3)), uniform(rng, (4, 3))
            cos = (x1 * x2).sum(-1) / np.sqrt((x1 ** 2).sum(-1) * (x2 ** 2).sum(-1))
            if np.min(np.abs(cos - margin)) > 0.1:
                break
        out.append(SampleInput((x1, x2, t), kw, desc=" ".join(f"{k}={v}" for k, v in kw.items())))
    x1, x2 = np.array([0.5, -1.0, 2.0]), np.array([1.5, 0.5, 1.0])
    out.append(SampleInput((x1, x2, np.array(-1, dtype=np.int64)), dict(reduction="none"),
                           desc="unbatched"))
    return out


_entry("cosine_embedding_loss", ("input1", "input2", "target"), _cos_emb_samples,
       _cos_emb_ref)


def _hinge_ref(x, t, margin=1.0, reduction="mean"):
    loss = np.where(t != 1, np.maximum(margin - x, 0.0), 0.0) + np.where(t != -1, x, 0.0)
    return _red(loss, reduction)


def _hinge_samples(rng):
    t = np.array([[1, -1, -1], [-1, 1, -1]], dtype=np.int64)
    out = _per_reduction((_away(rng, (2, 3), -2, 2, (1.0,)), t))
    out.append(SampleInput((_away(rng, (2, 3), -2, 2, (0.4,)), t), dict(margin=0.4),
                           desc="margin=0.4"))
    return out


_entry("hinge_embedding_loss", ("input", "target"), _hinge_samples, _hinge_ref)


def _ranking_ref(x1, x2, t, margin=0.0, reduction="mean"):
    return _red(np.maximum(-t * (x1 - x2) + margin, 0.0), reduction)


def _ranking_samples(rng):
    out = []
    t = np.array([1.0, -1.0, 1.0, -1.0, -1.0])
    for kw in [dict(reduction=r) for r in REDUCTIONS] + [dict(margin=0.5)]:
        x1 = uniform(rng, (5,))
        hinge = _signed(rng, (5,), 0.15, 1.5)      # -t (x1 - x2) + margin, away from 0
        x2 = x1 - t * (kw.get("margin", 0.0) - hinge)
        out.append(SampleInput((x1, x2, t), kw, nondiff=(2,),
                               desc=" ".join(f"{k}={v}" for k, v in kw.items())))
    return out


_entry("margin_ranking_loss", ("input1", "input2", "target"), _ranking_samples, _ranking_ref)

# --------------------------------------------------------------------- CTC


def _collapse(path, blank):
    out = []
    prev = None
    for c in path:
        if c != prev and c != blank:
            out.append(c)
        prev = c
    return out


def _ctc_ref(lp, targets, input_lengths, target_lengths, blank=0, reduction="mean",
             zero_infinity=False):
    """Brute force: the sum over every length-T path that collapses to the target."""
    T, N, C = lp.shape
    il, tl = np.asarray(input_lengths).ravel(), np.asarray(target_lengths).ravel()
    flat = np.asarray(targets)
    offsets = np.concatenate([[0], np.cumsum(tl)])
    losses = np.zeros(N)
    for n in range(N):
        tgt = list(flat[n, :tl[n]]) if flat.ndim == 2 else \
            list(flat[offsets[n]:offsets[n + 1]])
        total = 0.0
        for path in itertools.product(range(C), repeat=int(il[n])):
            if _collapse(path, blank) == tgt:
                total += math.exp(sum(lp[t, n, c] for t, c in enumerate(path)))
        losses[n] = -math.log(total) if total > 0 else math.inf
        if zero_infinity and math.isinf(losses[n]):
            losses[n] = 0.0
    if reduction == "mean":
        return np.asarray((losses / np.maximum(tl, 1)).mean())
    return _red(losses, reduction)


def _ctc_logits_ref(logits, *args, **kwargs):
    return _ctc_ref(_log_softmax(logits, 2), *args, **kwargs)


def _ctc_logits_op(logits, *args, **kwargs):
    return _losses().ctc_loss(logits.log_softmax(2), *args, **kwargs)


def _ctc_samples(rng):
    def logits(T, N, C):
        return rng.standard_normal((T, N, C))
    out = []
    x = logits(5, 2, 4)
    padded = np.array([[1, 2, 2], [3, 0, 0]], dtype=np.int64)
    il, tl = np.array([5, 4], dtype=np.int64), np.array([3, 1], dtype=np.int64)
    out += _per_reduction((x, padded, il, tl), desc="padded")
    out.append(SampleInput((x, np.array([1, 2, 2, 3], dtype=np.int64), il, tl),
                           desc="concatenated"))
    out.append(SampleInput((logits(4, 2, 3), np.array([[2, 2], [1, 0]], dtype=np.int64),
                            np.array([4, 3], dtype=np.int64), np.array([2, 0], dtype=np.int64)),
                           dict(blank=0, reduction="none"), desc="empty target"))
    out.append(SampleInput((logits(4, 2, 3), np.array([[0, 1], [1, 1]], dtype=np.int64),
                            np.array([4, 4], dtype=np.int64), np.array([2, 2], dtype=np.int64)),
                           dict(blank=2), desc="blank=2"))
    # Three repeated labels need 5 frames: sample 0 is impossible, its loss inf -> 0.
    out.append(SampleInput((logits(4, 2, 3), np.array([[1, 1, 1], [2, 1, 0]], dtype=np.int64),
                            np.array([4, 4], dtype=np.int64), np.array([3, 2], dtype=np.int64)),
                           dict(zero_infinity=True, reduction="sum"), desc="zero_infinity"))
    return out


# ctc_loss's backward follows PyTorch's convention: the gradient w.r.t. the logits
# of a log_softmax in front, not the derivative w.r.t. raw log_probs (it adds
# exp(log_probs), which log_softmax's backward cancels). So the checked op feeds
# ctc_loss a log_softmax over the class dim, the differentiable input is the
# logits, and the reference composes the same NumPy log_softmax; the finite
# differences then test CTCLoss's backward through the composition.
register(OpInfo("loss.ctc_loss", _ctc_samples, _ctc_logits_ref, op=_ctc_logits_op,
                supports_gradgrad=False,
                gradgrad_reason="the second derivative of CTC needs the posterior "
                                "covariance of label occupancies (a forward-backward pass "
                                "over pairs of alignment positions); backward under "
                                "create_graph raises, as PyTorch's has no double backward "
                                "either"))
