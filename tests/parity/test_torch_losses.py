"""Every flodl loss against ``torch.nn.functional``: forward values and the gradient
with respect to every differentiable input, for each reduction and option.

Both libraries get the same NumPy arrays; flodl inputs that PyTorch differentiates
are Variables with ``requires_grad``, the rest plain Tensors (or Variables without
``requires_grad`` where noted). Backward is seeded with a random upstream gradient
of the output's shape, so ``reduction="none"`` checks each element's gradient.
Float64 comparisons are tight (rtol 1e-9); a few float32 cases use rtol 1e-5.

``focal_loss`` has no functional in PyTorch: it is compared with
``torchvision.ops.sigmoid_focal_loss``'s documented formula, written out here with
torch ops (torchvision itself is not needed).

``ctc_loss``: PyTorch's kernel returns ``exp(log_probs) - posterior`` as the
gradient of ``log_probs`` (the gradient with respect to the logits of a
log_softmax in front), and flodl returns the same. Most CTC cases compare through
a log_softmax of logits (the way CTC is fed); ``test_ctc_raw_log_probs_gradient_matches_torch``
compares the gradient of raw ``log_probs`` leaves, as in PyTorch's documented example.
"""
from __future__ import annotations

import inspect
import math
import zlib

import numpy as np
import pytest

import flodl_core as fl
from flodl_core.nn import losses as L

from .conftest import assert_close, to_numpy

REDUCTIONS = ("mean", "sum", "none")
F64 = dict(rtol=1e-9, atol=1e-12)
F32 = dict(rtol=2e-5, atol=1e-6)


# ------------------------------------------------------------------ harness


def _fl_arg(a, differentiable, as_variable):
    if isinstance(a, np.ndarray):
        t = fl.tensor(a)
        if differentiable:
            return fl.Variable(t, requires_grad=True)
        return fl.Variable(t) if as_variable else t
    return a


def _torch_arg(torch, a, differentiable):
    if isinstance(a, np.ndarray):
        t = torch.from_numpy(a.copy())
        return t.requires_grad_(True) if differentiable else t
    return a


def check(torch, name, torch_fn, args, diff=(), tol=F64, targets_as_variables=False,
          grads=True, prep=None, seed=0):
    """Call flodl's ``name`` and ``torch_fn`` with the same keyword ``args`` and
    compare the outputs and the gradients of the ``diff`` arguments.

    ``prep`` (optional) maps the differentiable argument before the loss in both
    libraries (e.g. a log_softmax), as ``prep(x, lib)`` with lib ``"fl"`` or ``"torch"``.
    """
    fl_args = {k: _fl_arg(v, k in diff, targets_as_variables) for k, v in args.items()}
    t_args = {k: _torch_arg(torch, v, k in diff) for k, v in args.items()}
    fl_call, t_call = dict(fl_args), dict(t_args)
    if prep is not None:
        for k in diff:
            fl_call[k] = prep(fl_args[k], "fl")
            t_call[k] = prep(t_args[k], "torch")
    with np.errstate(all="ignore"):
        ours = getattr(L, name)(**fl_call)
    theirs = torch_fn(**t_call)
    what = f"{name} {({k: v for k, v in args.items() if not isinstance(v, np.ndarray)})}"
    assert_close(ours, theirs, what=f"{what} forward", **tol)
    if not grads or not diff:
        return ours, theirs
    seed_grad = np.random.default_rng(seed).standard_normal(tuple(theirs.shape))
    seed_grad = seed_grad.astype(to_numpy(theirs).dtype)
    with np.errstate(all="ignore"):
        ours.backward(fl.tensor(seed_grad))
    theirs.backward(torch.from_numpy(seed_grad))
    for k in diff:
        assert fl_args[k].grad is not None, f"{what}: no gradient for {k}"
        assert_close(fl_args[k].grad, t_args[k].grad, what=f"{what} d/d{k}", **tol)
    return ours, theirs


def rng_for(*key):
    """A generator seeded from the test's parameters (stable across runs)."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def _dir(rng, shape, n):
    """Class probabilities: (shape..., n) rows summing to 1, moved to dim 1 by callers."""
    return rng.dirichlet(np.ones(n), shape)


# --------------------------------------------------------------- signatures


TORCH_NAMES = {
    "mse_loss": "mse_loss", "l1_loss": "l1_loss", "smooth_l1_loss": "smooth_l1_loss",
    "huber_loss": "huber_loss", "cross_entropy_loss": "cross_entropy", "nll_loss": "nll_loss",
    "bce_loss": "binary_cross_entropy",
    "bce_with_logits_loss": "binary_cross_entropy_with_logits", "kl_div_loss": "kl_div",
    "ctc_loss": "ctc_loss", "poisson_nll_loss": "poisson_nll_loss",
    "triplet_margin_loss": "triplet_margin_loss",
    "cosine_embedding_loss": "cosine_embedding_loss",
    "hinge_embedding_loss": "hinge_embedding_loss",
    "margin_ranking_loss": "margin_ranking_loss",
}
DEPRECATED = {"size_average", "reduce"}


@pytest.mark.parametrize("name", sorted(TORCH_NAMES))
def test_argument_names_and_defaults_match_torch(torch, name):
    """Every flodl parameter exists in torch with the same default; the ones torch
    has that flodl lacks are only the deprecated size_average/reduce, plus the
    per-element ``weight`` torch 2.13 added to mse/l1/huber (reported, not ported)."""
    ours = inspect.signature(getattr(L, name)).parameters
    theirs = inspect.signature(getattr(torch.nn.functional, TORCH_NAMES[name])).parameters
    for p in ours.values():
        assert p.name in theirs, f"{name}: flodl argument {p.name!r} is not torch's"
        if p.default is not inspect.Parameter.empty:
            assert p.default == theirs[p.name].default, f"{name}: default of {p.name}"
    missing_ok = {"weight"} if name in ("mse_loss", "l1_loss", "huber_loss") else set()
    missing = set(theirs) - set(ours) - DEPRECATED - missing_ok
    assert not missing, f"{name}: torch arguments missing in flodl: {missing}"
    # The positional prefix that ported code may pass positionally lines up with
    # torch's up to the first deprecated argument.
    t_pos = [n for n in theirs if not (n == "weight" and n in missing_ok)]
    stop = min([t_pos.index(d) for d in DEPRECATED if d in t_pos] + [len(t_pos)])
    assert list(ours)[:stop] == t_pos[:stop], name


# ------------------------------------------------------- regression losses


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name, tname, extra", [
    ("mse_loss", "mse_loss", {}),
    ("l1_loss", "l1_loss", {}),
    ("smooth_l1_loss", "smooth_l1_loss", {}),
    ("smooth_l1_loss", "smooth_l1_loss", {"beta": 0.5}),
    ("smooth_l1_loss", "smooth_l1_loss", {"beta": 2.0}),
    ("smooth_l1_loss", "smooth_l1_loss", {"beta": 0.0}),
    ("huber_loss", "huber_loss", {}),
    ("huber_loss", "huber_loss", {"delta": 0.3}),
    ("huber_loss", "huber_loss", {"delta": 2.5}),
])
def test_regression_losses(torch, name, tname, extra, reduction):
    rng = rng_for(name, tuple(extra.items()), reduction)
    x = rng.standard_normal((4, 5)) * 2
    y = rng.standard_normal((4, 5)) * 2
    y[0, 0] = x[0, 0]                       # a tie: torch's gradient there is 0
    check(torch, name, getattr(torch.nn.functional, tname),
          dict(input=x, target=y, reduction=reduction, **extra), diff={"input", "target"})


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss"])
def test_regression_losses_0d_float32_and_variable_target(torch, name):
    rng = rng_for(name, "0d")
    fn = getattr(torch.nn.functional, TORCH_NAMES[name])
    check(torch, name, fn, dict(input=np.array(0.7), target=np.array(-0.4)),
          diff={"input", "target"})
    x = rng.standard_normal((3, 6)).astype(np.float32)
    y = rng.standard_normal((3, 6)).astype(np.float32)
    check(torch, name, fn, dict(input=x, target=y), diff={"input", "target"}, tol=F32)
    check(torch, name, fn, dict(input=x.astype(np.float64), target=y.astype(np.float64),
                                reduction="none"),
          diff={"input"}, targets_as_variables=True)


# --------------------------------------------------------- cross entropy


def _ce_cases():
    """(id, input shape, class dim) for the shapes PyTorch accepts."""
    return [("NC", (5, 4), 1), ("NCd1", (3, 4, 2), 1), ("NCd1d2", (2, 4, 3, 2), 1),
            ("C", (4,), 0)]


def _class_target(rng, shape, cdim, n_classes, ignore=None, dtype=np.int64):
    tshape = shape[:cdim] + shape[cdim + 1:]
    t = rng.integers(0, n_classes, tshape).astype(dtype)
    if ignore is not None and t.ndim:
        t.flat[1] = ignore
    return np.asarray(t, dtype=dtype)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", _ce_cases(), ids=lambda c: c[0])
@pytest.mark.parametrize("opts", [
    {}, {"weight": True}, {"ignore_index": -100, "ignore": True},
    {"ignore_index": 2, "ignore": True, "weight": True},
    {"label_smoothing": 0.2}, {"label_smoothing": 0.15, "weight": True},
    {"label_smoothing": 0.3, "ignore": True},
    {"label_smoothing": 0.25, "ignore": True, "weight": True, "ignore_index": 3},
    {"label_smoothing": 1.0},
], ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()) or "plain")
def test_cross_entropy_class_indices(torch, case, opts, reduction):
    cid, shape, cdim = case
    rng = rng_for("ce", cid, tuple(opts.items()), reduction)
    n_classes = shape[cdim]
    opts = dict(opts)
    ignore_index = opts.pop("ignore_index", -100)
    ignore = ignore_index if opts.pop("ignore", False) else None
    args = dict(input=rng.standard_normal(shape) * 2,
                target=_class_target(rng, shape, cdim, n_classes, ignore),
                ignore_index=ignore_index, reduction=reduction, **opts)
    diff = {"input"}
    if opts.pop("weight", False):
        args["weight"] = rng.uniform(0.2, 3.0, n_classes)
    check(torch, "cross_entropy_loss", torch.nn.functional.cross_entropy, args, diff=diff)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", _ce_cases(), ids=lambda c: c[0])
@pytest.mark.parametrize("opts", [{}, {"weight": True}, {"label_smoothing": 0.2},
                                  {"label_smoothing": 0.3, "weight": True}],
                         ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()) or "plain")
def test_cross_entropy_class_probabilities(torch, case, opts, reduction):
    cid, shape, cdim = case
    rng = rng_for("ce-prob", cid, tuple(opts.items()), reduction)
    n_classes = shape[cdim]
    rest = shape[:cdim] + shape[cdim + 1:]
    probs = np.moveaxis(_dir(rng, rest, n_classes), -1, cdim)
    args = dict(input=rng.standard_normal(shape), target=probs, reduction=reduction,
                label_smoothing=opts.get("label_smoothing", 0.0))
    diff = {"input", "target"}
    if opts.get("weight"):
        args["weight"] = rng.uniform(0.2, 3.0, n_classes)
    check(torch, "cross_entropy_loss", torch.nn.functional.cross_entropy, args, diff=diff)


@pytest.mark.parametrize("name, tname", [("cross_entropy_loss", "cross_entropy"),
                                         ("nll_loss", "nll_loss")])
@pytest.mark.parametrize("weight", [False, True])
def test_all_targets_ignored(torch, name, tname, weight):
    """PyTorch: mean over no targets is nan (0/0), sum is 0, none is zeros."""
    rng = rng_for("all-ignored", name, weight)
    for reduction in REDUCTIONS:
        args = dict(input=rng.standard_normal((3, 4)),
                    target=np.full(3, -100, dtype=np.int64), reduction=reduction)
        if weight:
            args["weight"] = rng.uniform(0.5, 2.0, 4)
        ours, theirs = check(torch, name, getattr(torch.nn.functional, tname), args,
                             diff={"input"})
        if reduction == "mean":
            assert math.isnan(float(to_numpy(theirs))) and math.isnan(float(to_numpy(ours)))
    # With label smoothing too (cross entropy only).
    if name == "cross_entropy_loss":
        args = dict(input=rng.standard_normal((2, 4, 3)),
                    target=np.full((2, 3), 1, dtype=np.int64), ignore_index=1,
                    label_smoothing=0.2)
        if weight:
            args["weight"] = rng.uniform(0.5, 2.0, 4)
        for reduction in REDUCTIONS:
            check(torch, name, torch.nn.functional.cross_entropy,
                  dict(args, reduction=reduction), diff={"input"})


@pytest.mark.parametrize("name, tname, smoothing", [
    ("cross_entropy_loss", "cross_entropy", 0.0), ("cross_entropy_loss", "cross_entropy", 0.2),
    ("nll_loss", "nll_loss", 0.0)])
def test_zero_total_weight(torch, name, tname, smoothing):
    """Only zero-weight classes kept (one target ignored): PyTorch's mean is nan, its
    gradient nan for the kept targets and 0 for the ignored one."""
    rng = rng_for("zero-weight", name, smoothing)
    kw = dict(label_smoothing=smoothing) if smoothing else {}
    for reduction in REDUCTIONS:
        check(torch, name, getattr(torch.nn.functional, tname),
              dict(input=rng.standard_normal((3, 4)), target=np.array([0, -100, 2]),
                   weight=np.array([0.0, 1.0, 0.0, 2.0]), reduction=reduction, **kw),
              diff={"input"})


@pytest.mark.parametrize("dtype", [np.int64, np.int32])
@pytest.mark.parametrize("as_variable", [False, True])
def test_cross_entropy_and_nll_target_dtypes_and_kinds(torch, dtype, as_variable):
    """Int64 and Int32 class indices, as Tensors or Variables. torch's cross_entropy and
    nll_loss take int64 only, so its result for the same values is the spec."""
    rng = rng_for("ce-dtype", dtype.__name__, as_variable)
    x = rng.standard_normal((6, 5))
    t = rng.integers(0, 5, 6).astype(dtype)
    t[2] = -100
    w = rng.uniform(0.5, 2.0, 5)
    logp = x - np.log(np.exp(x).sum(1))[:, None]
    for name, tname, xin, kw in [("cross_entropy_loss", "cross_entropy", x,
                                  dict(label_smoothing=0.1)),
                                 ("nll_loss", "nll_loss", logp, {})]:
        v = fl.Variable(fl.tensor(xin), requires_grad=True)
        target = fl.Variable(fl.tensor(t)) if as_variable else fl.tensor(t)
        ours = getattr(L, name)(v, target, weight=fl.tensor(w), **kw)
        xt = torch.from_numpy(xin.copy()).requires_grad_(True)
        theirs = getattr(torch.nn.functional, tname)(
            xt, torch.from_numpy(t.astype(np.int64)), weight=torch.from_numpy(w), **kw)
        assert_close(ours, theirs, what=f"{name} {dtype.__name__}", **F64)
        ours.backward()
        theirs.backward()
        assert_close(v.grad, xt.grad, what=f"{name} {dtype.__name__} d/dinput", **F64)


def test_cross_entropy_float32(torch):
    rng = rng_for("ce32")
    x = rng.standard_normal((4, 6, 3)).astype(np.float32)
    t = rng.integers(0, 6, (4, 3))
    t[0, 0] = -100
    w = rng.uniform(0.5, 2.0, 6).astype(np.float32)
    for reduction in REDUCTIONS:
        check(torch, "cross_entropy_loss", torch.nn.functional.cross_entropy,
              dict(input=x, target=t, weight=w, label_smoothing=0.1, reduction=reduction),
              diff={"input"}, tol=F32)


def test_cross_entropy_extreme_logits(torch):
    x = np.array([[1000.0, -1000.0, 0.0], [-50.0, 700.0, 3.0]])
    for t in (np.array([1, 1]), np.array([0, 2])):
        for reduction in REDUCTIONS:
            check(torch, "cross_entropy_loss", torch.nn.functional.cross_entropy,
                  dict(input=x, target=t, reduction=reduction, label_smoothing=0.1),
                  diff={"input"})


# ------------------------------------------------------------------- NLL


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", _ce_cases(), ids=lambda c: c[0])
@pytest.mark.parametrize("opts", [{}, {"weight": True}, {"ignore": True},
                                  {"ignore": True, "weight": True},
                                  {"ignore": True, "weight": True, "ignore_index": 0}],
                         ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()) or "plain")
def test_nll_loss(torch, case, opts, reduction):
    cid, shape, cdim = case
    rng = rng_for("nll", cid, tuple(opts.items()), reduction)
    n_classes = shape[cdim]
    ignore_index = opts.get("ignore_index", -100)
    x = rng.standard_normal(shape)
    logp = x - np.log(np.exp(x).sum(cdim, keepdims=True))
    args = dict(input=logp, reduction=reduction, ignore_index=ignore_index,
                target=_class_target(rng, shape, cdim, n_classes,
                                     ignore_index if opts.get("ignore") else None))
    diff = {"input"}
    if opts.get("weight"):
        args["weight"] = rng.uniform(0.2, 3.0, n_classes)
    check(torch, "nll_loss", torch.nn.functional.nll_loss, args, diff=diff)


# -------------------------------------------------------------------- BCE


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weight", [None, "elementwise", "broadcast"])
def test_bce_loss(torch, weight, reduction):
    rng = rng_for("bce", weight, reduction)
    args = dict(input=rng.uniform(0.02, 0.98, (4, 3)), target=rng.uniform(0, 1, (4, 3)),
                reduction=reduction)
    diff = {"input", "target"}
    if weight:
        args["weight"] = rng.uniform(0.5, 2.0, (4, 3) if weight == "elementwise" else (3,))
    check(torch, "bce_loss", torch.nn.functional.binary_cross_entropy, args, diff=diff)


def test_bce_loss_log_clamped_at_minus_100(torch):
    """Probabilities 0 and 1 (and ones so small that log < -100): the loss uses
    max(log, -100); the gradient divides by max(x (1 - x), 1e-12), as PyTorch."""
    x = np.array([0.0, 1.0, 0.0, 1.0, 1e-50, 1 - 1e-17, 0.5])
    t = np.array([1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.3])
    for reduction in REDUCTIONS:
        check(torch, "bce_loss", torch.nn.functional.binary_cross_entropy,
              dict(input=x, target=t, reduction=reduction), diff={"input", "target"})


def test_bce_loss_float32(torch):
    rng = rng_for("bce32")
    check(torch, "bce_loss", torch.nn.functional.binary_cross_entropy,
          dict(input=rng.uniform(0.05, 0.95, (5, 2)).astype(np.float32),
               target=rng.uniform(0, 1, (5, 2)).astype(np.float32)),
          diff={"input", "target"}, tol=F32)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape, pw_shape, w_shape", [
    ((4, 3), None, None), ((4, 3), (3,), None), ((4, 3), None, (4, 3)),
    ((4, 3), (3,), (3,)), ((2, 3, 5), (3, 1), (5,)), ((2, 3, 5), (5,), None),
    ((6,), (6,), (6,)),
])
def test_bce_with_logits(torch, shape, pw_shape, w_shape, reduction):
    rng = rng_for("bcel", shape, pw_shape, w_shape, reduction)
    args = dict(input=rng.standard_normal(shape) * 3, target=rng.uniform(0, 1, shape),
                reduction=reduction)
    diff = {"input", "target"}
    if pw_shape:
        args["pos_weight"] = rng.uniform(0.3, 4.0, pw_shape)
    if w_shape:
        args["weight"] = rng.uniform(0.3, 2.0, w_shape)
    check(torch, "bce_with_logits_loss", torch.nn.functional.binary_cross_entropy_with_logits,
          args, diff=diff)


def test_bce_with_logits_extreme_and_float32(torch):
    x = np.array([1000.0, -1000.0, 0.0, 40.0, -40.0])
    t = np.array([0.0, 1.0, 1.0, 0.3, 0.7])
    pw = np.array([2.0, 0.5, 3.0, 1.0, 1.5])
    for reduction in REDUCTIONS:
        check(torch, "bce_with_logits_loss",
              torch.nn.functional.binary_cross_entropy_with_logits,
              dict(input=x, target=t, pos_weight=pw, reduction=reduction),
              diff={"input", "target"})
    rng = rng_for("bcel32")
    check(torch, "bce_with_logits_loss", torch.nn.functional.binary_cross_entropy_with_logits,
          dict(input=rng.standard_normal((3, 4)).astype(np.float32),
               target=rng.uniform(0, 1, (3, 4)).astype(np.float32),
               pos_weight=rng.uniform(0.5, 2, 4).astype(np.float32)),
          diff={"input", "target"}, tol=F32)


# ------------------------------------------------------------------ focal


def _torchvision_sigmoid_focal_loss(torch):
    """torchvision.ops.sigmoid_focal_loss's documented formula, with torch ops."""
    def fn(input, target, alpha=0.25, gamma=2.0, reduction="mean"):
        p = torch.sigmoid(input)
        ce = torch.nn.functional.binary_cross_entropy_with_logits(input, target,
                                                                  reduction="none")
        p_t = p * target + (1 - p) * (1 - target)
        loss = ce * ((1 - p_t) ** gamma)
        if alpha >= 0:
            alpha_t = alpha * target + (1 - alpha) * (1 - target)
            loss = alpha_t * loss
        if reduction == "mean":
            return loss.mean()
        if reduction == "sum":
            return loss.sum()
        return loss
    return fn


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("alpha, gamma", [(0.25, 2.0), (-1.0, 2.0), (0.7, 0.0), (0.5, 1.5),
                                          (0.1, 3.0)])
def test_focal_loss_matches_torchvision_formula(torch, alpha, gamma, reduction):
    rng = rng_for("focal", alpha, gamma, reduction)
    x = rng.standard_normal((4, 5)) * 2
    hard = (rng.uniform(size=(4, 5)) > 0.5).astype(np.float64)
    soft = rng.uniform(0.05, 0.95, (4, 5))
    for t in (hard, soft):
        check(torch, "focal_loss", _torchvision_sigmoid_focal_loss(torch),
              dict(input=x, target=t, alpha=alpha, gamma=gamma, reduction=reduction),
              diff={"input", "target"})


def test_focal_loss_float32(torch):
    rng = rng_for("focal32")
    check(torch, "focal_loss", _torchvision_sigmoid_focal_loss(torch),
          dict(input=rng.standard_normal((3, 4)).astype(np.float32),
               target=(rng.uniform(size=(3, 4)) > 0.5).astype(np.float32)),
          diff={"input"}, tol=F32)


# ----------------------------------------------------------------- KL div


# torch warns that "mean" divides by every element (flodl does the same, silently).
@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")
@pytest.mark.parametrize("reduction", REDUCTIONS + ("batchmean",))
@pytest.mark.parametrize("log_target", [False, True])
@pytest.mark.parametrize("shape", [(4, 5), (2, 3, 4), (5,)])
def test_kl_div(torch, shape, log_target, reduction):
    rng = rng_for("kl", shape, log_target, reduction)
    x = np.log(_dir(rng, shape[:-1], shape[-1]))
    t = _dir(rng, shape[:-1], shape[-1])
    if log_target:
        t = np.log(t)
    check(torch, "kl_div_loss", torch.nn.functional.kl_div,
          dict(input=x, target=t, reduction=reduction, log_target=log_target),
          diff={"input", "target"})


def test_kl_div_zero_target_probability(torch):
    """xlogy(0, 0) = 0: a zero probability contributes nothing (input gradient -t = 0)."""
    rng = rng_for("kl0")
    x = np.log(_dir(rng, (3,), 4))
    t = _dir(rng, (3,), 4)
    t[0, 1] = 0.0
    t[2, 3] = 0.0
    for reduction in ("sum", "batchmean", "none"):
        check(torch, "kl_div_loss", torch.nn.functional.kl_div,
              dict(input=x, target=t, reduction=reduction), diff={"input"})


# ----------------------------------------------------------- Poisson NLL


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("log_input, full, eps", [
    (True, False, 1e-8), (False, False, 1e-8), (True, True, 1e-8), (False, True, 1e-8),
    (False, False, 0.3), (False, True, 0.05),
])
def test_poisson_nll(torch, log_input, full, eps, reduction):
    rng = rng_for("poisson", log_input, full, eps, reduction)
    x = rng.standard_normal((3, 4)) if log_input else rng.uniform(0.05, 3.0, (3, 4))
    # Counts and rates on both sides of the Stirling cut-off t > 1 (t = 1 included).
    t = np.array([[0.0, 0.5, 1.0, 1.5], [2.0, 3.0, 7.0, 0.25], [4.0, 1.2, 0.9, 10.0]])
    args = dict(input=x, target=t, log_input=log_input, full=full, eps=eps,
                reduction=reduction)
    check(torch, "poisson_nll_loss", torch.nn.functional.poisson_nll_loss, args,
          diff={"input"})
    # The target gradient too, away from t = 0 where torch's masked Stirling term
    # differentiates t log t (0 * -inf = nan).
    check(torch, "poisson_nll_loss", torch.nn.functional.poisson_nll_loss,
          dict(args, target=np.where(t == 0, 0.3, t)), diff={"input", "target"})


def test_poisson_nll_float32(torch):
    rng = rng_for("poisson32")
    check(torch, "poisson_nll_loss", torch.nn.functional.poisson_nll_loss,
          dict(input=rng.standard_normal((4, 3)).astype(np.float32),
               target=rng.integers(0, 6, (4, 3)).astype(np.float32), full=True),
          diff={"input"}, tol=F32)


# ------------------------------------------------------- embedding losses


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("opts", [{}, {"margin": 0.3}, {"margin": 2.0, "p": 1.0},
                                  {"p": 3.0, "swap": True}, {"swap": True, "eps": 0.01},
                                  {"p": 1.5, "eps": 0.0, "margin": 1.5}],
                         ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()) or "plain")
@pytest.mark.parametrize("shape", [(6, 4), (5,)])
def test_triplet_margin_loss(torch, shape, opts, reduction):
    rng = rng_for("triplet", shape, tuple(opts.items()), reduction)
    a, p, n = (rng.standard_normal(shape) for _ in range(3))
    check(torch, "triplet_margin_loss", torch.nn.functional.triplet_margin_loss,
          dict(anchor=a, positive=p, negative=n, reduction=reduction, **opts),
          diff={"anchor", "positive", "negative"})


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, -0.3, 0.4])
@pytest.mark.parametrize("tdtype", [np.int64, np.float64])
def test_cosine_embedding_loss(torch, margin, tdtype, reduction):
    rng = rng_for("cos", margin, tdtype.__name__, reduction)
    x1, x2 = rng.standard_normal((6, 4)), rng.standard_normal((6, 4))
    t = np.array([1, -1, -1, 1, -1, 1], dtype=tdtype)
    check(torch, "cosine_embedding_loss", torch.nn.functional.cosine_embedding_loss,
          dict(input1=x1, input2=x2, target=t, margin=margin, reduction=reduction),
          diff={"input1", "input2"})
    # Unbatched: (D,) inputs with a 0-d target.
    for tv in (1, -1):
        check(torch, "cosine_embedding_loss", torch.nn.functional.cosine_embedding_loss,
              dict(input1=x1[0], input2=x2[0], target=np.array(tv, dtype=tdtype),
                   margin=margin, reduction=reduction),
              diff={"input1", "input2"})


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [1.0, 0.25, 2.5])
def test_hinge_embedding_loss(torch, margin, reduction):
    rng = rng_for("hinge", margin, reduction)
    x = rng.standard_normal((4, 5)) * 2
    t = rng.choice([-1.0, 1.0], (4, 5))
    check(torch, "hinge_embedding_loss", torch.nn.functional.hinge_embedding_loss,
          dict(input=x, target=t, margin=margin, reduction=reduction), diff={"input"})
    check(torch, "hinge_embedding_loss", torch.nn.functional.hinge_embedding_loss,
          dict(input=x, target=t.astype(np.int64), margin=margin, reduction=reduction),
          diff={"input"})


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.5, -0.2])
def test_margin_ranking_loss(torch, margin, reduction):
    rng = rng_for("rank", margin, reduction)
    x1, x2 = rng.standard_normal(7), rng.standard_normal(7)
    t = np.array([1.0, -1.0, 1.0, -1.0, -1.0, 1.0, 1.0])
    check(torch, "margin_ranking_loss", torch.nn.functional.margin_ranking_loss,
          dict(input1=x1, input2=x2, target=t, margin=margin, reduction=reduction),
          diff={"input1", "input2", "target"})


def test_cosine_embedding_loss_near_zero_vectors(torch):
    """The 1e-12 added to each squared norm matters for tiny vectors (PyTorch's is
    the float 1e-12f)."""
    x1 = np.array([[1e-9, 0.0, 0.0], [0.0, 0.0, 0.0], [1e-7, -2e-7, 0.0]])
    x2 = np.array([[1.0, 0.5, 0.0], [0.3, 0.0, 1.0], [2e-7, 1e-7, 1e-8]])
    for t in (np.array([1, -1, 1]), np.array([-1, 1, -1])):
        for reduction in REDUCTIONS:
            check(torch, "cosine_embedding_loss", torch.nn.functional.cosine_embedding_loss,
                  dict(input1=x1, input2=x2, target=t, margin=-0.5, reduction=reduction),
                  diff={"input1", "input2"})


def test_embedding_losses_float32(torch):
    rng = rng_for("emb32")
    a, p, n = (rng.standard_normal((5, 3)).astype(np.float32) for _ in range(3))
    check(torch, "triplet_margin_loss", torch.nn.functional.triplet_margin_loss,
          dict(anchor=a, positive=p, negative=n, swap=True),
          diff={"anchor", "positive", "negative"}, tol=F32)
    check(torch, "cosine_embedding_loss", torch.nn.functional.cosine_embedding_loss,
          dict(input1=a, input2=p, target=np.array([1, -1, 1, -1, -1])),
          diff={"input1", "input2"}, tol=F32)


# -------------------------------------------------------------------- CTC


def _log_softmax(x, lib):
    return x.log_softmax(-1)        # the same method name in both libraries


def _ctc_case(rng, T, N, C, tl, blank=0):
    """Logits (T, N, C), padded targets avoiding the blank, and lengths."""
    labels = [c for c in range(C) if c != blank]
    S = max(max(tl), 1)
    padded = np.full((N, S), labels[0], dtype=np.int64)
    for n in range(N):
        padded[n, :tl[n]] = rng.choice(labels, tl[n])
    concat = np.concatenate([padded[n, :tl[n]] for n in range(N)]).astype(np.int64)
    return rng.standard_normal((T, N, C)), padded, concat


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("layout", ["padded", "concatenated"])
@pytest.mark.parametrize("blank", [0, 3])
def test_ctc_loss(torch, blank, layout, reduction):
    rng = rng_for("ctc", blank, layout, reduction)
    T, N, C = 12, 4, 5
    tl = [3, 5, 1, 0]
    il = [12, 10, 7, 5]
    logits, padded, concat = _ctc_case(rng, T, N, C, tl, blank)
    padded[1, 1] = padded[1, 2]                 # a repeated label needs a blank between
    concat = np.concatenate([padded[n, :tl[n]] for n in range(N)]).astype(np.int64)
    targets = padded if layout == "padded" else concat
    for lengths in ((il, tl), (np.array(il), np.array(tl))):
        check(torch, "ctc_loss", torch.nn.functional.ctc_loss,
              dict(log_probs=logits, targets=targets, input_lengths=lengths[0],
                   target_lengths=lengths[1], blank=blank, reduction=reduction),
              diff={"log_probs"}, prep=_log_softmax)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_ctc_zero_infinity(torch, reduction):
    """Sample 0 needs 2 * 3 - 1 = 5 frames for 'a a a' but has 4: its loss is inf
    (0 with zero_infinity, its gradient 0 too)."""
    rng = rng_for("ctc-inf", reduction)
    logits = rng.standard_normal((6, 3, 4))
    targets = np.array([[1, 1, 1], [2, 3, 0], [3, 0, 0]])
    il, tl = (4, 6, 5), (3, 2, 1)
    check(torch, "ctc_loss", torch.nn.functional.ctc_loss,
          dict(log_probs=logits, targets=targets, input_lengths=il, target_lengths=tl,
               reduction=reduction, zero_infinity=True),
          diff={"log_probs"}, prep=_log_softmax)
    # Without zero_infinity the forward is inf for sample 0 (gradients are nan/inf in
    # both libraries and not compared).
    check(torch, "ctc_loss", torch.nn.functional.ctc_loss,
          dict(log_probs=logits, targets=targets, input_lengths=il, target_lengths=tl,
               reduction=reduction), grads=False, prep=_log_softmax)


def test_ctc_unbatched_int32_and_float32(torch):
    rng = rng_for("ctc-misc")
    logits = rng.standard_normal((7, 4))
    for reduction in REDUCTIONS:
        check(torch, "ctc_loss", torch.nn.functional.ctc_loss,
              dict(log_probs=logits, targets=np.array([1, 2, 2], dtype=np.int64),
                   input_lengths=np.array(7), target_lengths=np.array(3), reduction=reduction),
              diff={"log_probs"}, prep=_log_softmax)
    logits, padded, concat = _ctc_case(rng, 9, 3, 6, [4, 2, 3])
    for targets in (padded.astype(np.int32), concat.astype(np.int32)):
        check(torch, "ctc_loss", torch.nn.functional.ctc_loss,
              dict(log_probs=logits, targets=targets,
                   input_lengths=np.array([9, 8, 6], dtype=np.int32),
                   target_lengths=np.array([4, 2, 3], dtype=np.int32)),
              diff={"log_probs"}, prep=_log_softmax)
    check(torch, "ctc_loss", torch.nn.functional.ctc_loss,
          dict(log_probs=logits.astype(np.float32), targets=padded, input_lengths=[9, 8, 6],
               target_lengths=[4, 2, 3]),
          diff={"log_probs"}, prep=_log_softmax, tol=F32)


def _raw_lp(rng, T, N, C, dtype=np.float64):
    """log_probs leaves as in PyTorch's example: log_softmax(randn) (not logits)."""
    x = rng.standard_normal((T, N, C))
    return (x - np.log(np.exp(x).sum(-1, keepdims=True))).astype(dtype)


RAW_CTC_CASES = {
    # input_lengths shorter than T, a repeated label, padded targets.
    "padded-short-inputs": lambda rng: dict(
        log_probs=_raw_lp(rng, 8, 3, 5), targets=np.array([[1, 3, 3], [2, 4, 0], [4, 0, 0]]),
        input_lengths=(8, 6, 3), target_lengths=(3, 2, 1)),
    "concatenated-tensor-lengths": lambda rng: dict(
        log_probs=_raw_lp(rng, 7, 3, 4), targets=np.array([1, 2, 2, 3, 3, 1]),
        input_lengths=np.array([7, 5, 6]), target_lengths=np.array([3, 1, 2])),
    "int32-empty-target": lambda rng: dict(
        log_probs=_raw_lp(rng, 6, 2, 4), targets=np.array([[1, 2], [3, 3]], dtype=np.int32),
        input_lengths=np.array([6, 4], dtype=np.int32),
        target_lengths=np.array([2, 0], dtype=np.int32)),
    "blank-last": lambda rng: dict(
        log_probs=_raw_lp(rng, 6, 2, 4), targets=np.array([[0, 1, 1], [2, 0, 0]]),
        input_lengths=[6, 5], target_lengths=[3, 2], blank=3),
    # Sample 0 needs 5 frames for 'a a a' but has 4: loss inf, zeroed with its gradient.
    "zero-infinity-impossible": lambda rng: dict(
        log_probs=_raw_lp(rng, 6, 3, 4), targets=np.array([[1, 1, 1], [2, 3, 0], [3, 0, 0]]),
        input_lengths=(4, 6, 5), target_lengths=(3, 2, 1), zero_infinity=True),
    # Without zero_infinity both libraries give nan for the impossible sample's frames
    # t < input_length and 0 after; the other samples stay finite.
    "impossible-no-zero-infinity": lambda rng: dict(
        log_probs=_raw_lp(rng, 6, 2, 4), targets=np.array([[1, 1, 1], [2, 3, 0]]),
        input_lengths=(4, 5), target_lengths=(3, 2)),
    "unbatched": lambda rng: dict(
        log_probs=_raw_lp(rng, 7, 1, 4)[:, 0], targets=np.array([1, 2, 2]),
        input_lengths=np.array(5), target_lengths=np.array(3)),
    # Not normalised: torch's formula does not assume it, and neither does flodl's.
    "unnormalised": lambda rng: dict(
        log_probs=rng.standard_normal((6, 2, 4)) - 1.0, targets=np.array([[1, 2], [3, 0]]),
        input_lengths=(6, 4), target_lengths=(2, 1)),
}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", sorted(RAW_CTC_CASES))
def test_ctc_raw_log_probs_gradient_matches_torch(torch, case, reduction):
    """The gradient of a raw log_probs leaf is PyTorch's: the exact derivative plus
    g_n * exp(log_probs) for t < input_length, 0 after it (and 0 for a loss that
    zero_infinity zeroes), i.e. the gradient w.r.t. logits under a log_softmax."""
    rng = rng_for("ctc-raw", case, reduction)
    args = RAW_CTC_CASES[case](rng)
    _, theirs = check(torch, "ctc_loss", torch.nn.functional.ctc_loss,
                      dict(args, reduction=reduction), diff={"log_probs"},
                      seed=zlib.crc32(case.encode()))
    if case == "impossible-no-zero-infinity":
        assert math.isinf(to_numpy(theirs).reshape(-1)[0])


def test_ctc_raw_log_probs_gradient_matches_torch_float32(torch):
    rng = rng_for("ctc-raw-f32")
    lp = _raw_lp(rng, 9, 3, 6, np.float32)
    for reduction in REDUCTIONS:
        check(torch, "ctc_loss", torch.nn.functional.ctc_loss,
              dict(log_probs=lp, targets=np.array([[1, 2, 2, 5], [3, 4, 0, 0], [5, 5, 1, 0]]),
                   input_lengths=[9, 7, 6], target_lengths=[4, 2, 3], reduction=reduction),
              diff={"log_probs"}, tol=F32)


def test_ctc_raw_gradient_torch_example(torch):
    """PyTorch's documented example, read off ``input.grad`` in both libraries."""
    rng = rng_for("ctc-doc")
    T, C, N, S = 50, 20, 4, 30
    lp = _raw_lp(rng, T, N, C)
    targets = rng.integers(1, C, (N, S))
    il = np.full(N, T)
    tl = rng.integers(10, S, N)
    check(torch, "ctc_loss", torch.nn.functional.ctc_loss,
          dict(log_probs=lp, targets=targets, input_lengths=il, target_lengths=tl),
          diff={"log_probs"})


# ------------------------------------------------- targets, edge values, 2nd order


def test_targets_as_variables(torch):
    """Targets (and CTC targets/lengths) given as Variables without requires_grad
    behave as plain Tensors."""
    rng = rng_for("as-variables")
    f = torch.nn.functional
    x = rng.standard_normal((4, 3))
    cases = [
        ("bce_loss", f.binary_cross_entropy,
         dict(input=rng.uniform(0.1, 0.9, (4, 3)), target=rng.uniform(0, 1, (4, 3)),
              weight=rng.uniform(0.5, 2, 3))),
        ("bce_with_logits_loss", f.binary_cross_entropy_with_logits,
         dict(input=x, target=rng.uniform(0, 1, (4, 3)), pos_weight=rng.uniform(0.5, 2, 3))),
        ("kl_div_loss", f.kl_div, dict(input=np.log(_dir(rng, (4,), 3)),
                                       target=_dir(rng, (4,), 3), reduction="batchmean")),
        ("poisson_nll_loss", f.poisson_nll_loss,
         dict(input=x, target=rng.integers(0, 5, (4, 3)).astype(np.float64), full=True)),
        ("cross_entropy_loss", f.cross_entropy,
         dict(input=x, target=np.moveaxis(_dir(rng, (4,), 3), -1, 1))),
        ("cosine_embedding_loss", f.cosine_embedding_loss,
         dict(input1=x, input2=rng.standard_normal((4, 3)), target=np.array([1, -1, 1, -1]))),
        ("hinge_embedding_loss", f.hinge_embedding_loss,
         dict(input=x, target=rng.choice([-1.0, 1.0], (4, 3)))),
        ("margin_ranking_loss", f.margin_ranking_loss,
         dict(input1=x[0], input2=x[1], target=np.array([1.0, -1.0, 1.0]))),
    ]
    for name, fn, args in cases:
        diff = {"input1", "input2"} if "input1" in args else {"input"}
        check(torch, name, fn, args, diff=diff, targets_as_variables=True)
    logits, padded, _ = _ctc_case(rng, 6, 2, 4, [2, 3])
    check(torch, "ctc_loss", f.ctc_loss,
          dict(log_probs=logits, targets=padded, input_lengths=np.array([6, 5]),
               target_lengths=np.array([2, 3])),
          diff={"log_probs"}, prep=_log_softmax, targets_as_variables=True)


def test_edge_values(torch):
    f = torch.nn.functional
    rng = rng_for("edges")
    # Unbatched input whose only target is ignored.
    for reduction in REDUCTIONS:
        for name, fn in (("cross_entropy_loss", f.cross_entropy), ("nll_loss", f.nll_loss)):
            check(torch, name, fn, dict(input=rng.standard_normal(4), target=np.array(2),
                                        ignore_index=2, reduction=reduction), diff={"input"})
    # Triplet distances of exactly 0 (eps=0): the norm's gradient there is 0.
    a = rng.standard_normal((3, 4))
    pos = a.copy()
    pos[1] += 0.5
    neg = rng.standard_normal((3, 4))
    for p in (1.0, 2.0, 3.0, math.inf):
        check(torch, "triplet_margin_loss", f.triplet_margin_loss,
              dict(anchor=a, positive=pos, negative=neg, p=p, eps=0.0, margin=4.0,
                   reduction="none"), diff={"anchor", "positive", "negative"})
    # Labels other than +-1: hinge applies both terms, cosine neither.
    t = np.array([1.0, -1.0, 0.0, 0.5, 2.0])
    check(torch, "hinge_embedding_loss", f.hinge_embedding_loss,
          dict(input=rng.standard_normal(5), target=t, reduction="none"), diff={"input"})
    check(torch, "cosine_embedding_loss", f.cosine_embedding_loss,
          dict(input1=rng.standard_normal((3, 2)), input2=rng.standard_normal((3, 2)),
               target=np.array([1, 0, -1]), reduction="none"), diff={"input1", "input2"})
    # Empty batches: mean is nan (0/0), sum 0.
    for reduction in REDUCTIONS:
        check(torch, "cross_entropy_loss", f.cross_entropy,
              dict(input=np.zeros((0, 4)), target=np.zeros(0, dtype=np.int64),
                   reduction=reduction), diff={"input"})
        check(torch, "mse_loss", f.mse_loss, dict(input=np.zeros((0, 2)),
                                                  target=np.zeros((0, 2)),
                                                  reduction=reduction), diff={"input"})
    # CTC: zero-length inputs (inf unless the target is empty too).
    lp = rng.standard_normal((5, 3, 4))
    for zi in (False, True):
        check(torch, "ctc_loss", f.ctc_loss,
              dict(log_probs=lp, targets=np.array([[1, 2], [1, 3], [2, 2]]),
                   input_lengths=[0, 5, 0], target_lengths=[0, 1, 2], reduction="none",
                   zero_infinity=zi), diff={"log_probs"}, prep=_log_softmax, grads=zi)


def _hvp(torch, name, torch_fn, args, diff):
    """Second order: the gradient of <grad, v> for a random v, in both libraries."""
    fl_args = {k: _fl_arg(v, k in diff, False) for k, v in args.items()}
    t_args = {k: _torch_arg(torch, v, k in diff) for k, v in args.items()}
    keys = sorted(diff)
    grads = fl.grad([getattr(L, name)(**fl_args)], [fl_args[k] for k in keys],
                    create_graph=True)
    t_grads = torch.autograd.grad(torch_fn(**t_args), [t_args[k] for k in keys],
                                  create_graph=True)
    rng = rng_for("hvp", name)
    vs = [rng.standard_normal(args[k].shape) for k in keys]
    dot = sum((g * fl.tensor(v)).sum() for g, v in zip(grads, vs))
    t_dot = sum((g * torch.from_numpy(v)).sum() for g, v in zip(t_grads, vs))
    ours = fl.grad([dot], [fl_args[k] for k in keys], allow_unused=True)
    theirs = torch.autograd.grad(t_dot, [t_args[k] for k in keys], allow_unused=True)
    for k, a, b in zip(keys, ours, theirs):
        a = np.zeros(args[k].shape) if a is None else to_numpy(a)
        b = np.zeros(args[k].shape) if b is None else to_numpy(b)
        assert_close(a, b, what=f"{name} second derivative d/d{k}", rtol=1e-8, atol=1e-10)


def test_second_derivatives(torch):
    rng = rng_for("second")
    f = torch.nn.functional
    x = rng.standard_normal((4, 5))
    probs = _dir(rng, (4,), 5)
    soft = rng.uniform(0.05, 0.95, (4, 5))
    w = rng.uniform(0.5, 2.0, 5)
    t = np.array([0, -100, 4, 2])
    cases = [
        ("cross_entropy_loss", f.cross_entropy,
         dict(input=x, target=t, weight=w, label_smoothing=0.2), {"input"}),
        ("cross_entropy_loss", f.cross_entropy,
         dict(input=x, target=probs, label_smoothing=0.1), {"input", "target"}),
        ("bce_loss", f.binary_cross_entropy, dict(input=soft, target=probs, weight=w),
         {"input", "target"}),
        ("bce_with_logits_loss", f.binary_cross_entropy_with_logits,
         dict(input=x, target=soft, weight=w, pos_weight=w[::-1].copy()), {"input", "target"}),
        ("smooth_l1_loss", f.smooth_l1_loss, dict(input=x, target=soft, beta=0.7),
         {"input", "target"}),
        ("huber_loss", f.huber_loss, dict(input=x, target=soft, delta=0.7),
         {"input", "target"}),
        ("kl_div_loss", f.kl_div, dict(input=np.log(probs), target=soft / 5,
                                       reduction="batchmean"), {"input", "target"}),
        ("poisson_nll_loss", f.poisson_nll_loss, dict(input=x, target=soft * 4, full=True),
         {"input", "target"}),
        ("triplet_margin_loss", f.triplet_margin_loss,
         dict(anchor=x, positive=soft, negative=probs, margin=3.0, swap=True, p=3.0),
         {"anchor", "positive", "negative"}),
        ("cosine_embedding_loss", f.cosine_embedding_loss,
         dict(input1=x, input2=soft, target=np.array([1, -1, 1, -1]), margin=-0.9),
         {"input1", "input2"}),
        ("focal_loss", _torchvision_sigmoid_focal_loss(torch),
         dict(input=x, target=soft, alpha=0.3, gamma=2.0), {"input", "target"}),
    ]
    for name, fn, args, diff in cases:
        _hvp(torch, name, fn, args, diff)


# ------------------------------------------------------------ bad input


@pytest.mark.parametrize("name, call, error, match", [
    ("cross_entropy_loss",
     lambda: L.cross_entropy_loss(fl.tensor(np.zeros((3, 4))), fl.tensor(np.array([0, 4, 1]))),
     fl.FlodlIndexError, "cross_entropy_loss: target class 4 out of range for 4 classes"),
    ("cross_entropy_loss",
     lambda: L.cross_entropy_loss(fl.tensor(np.zeros((3, 4))), fl.tensor(np.array([0, 1]))),
     fl.ShapeError, "cross_entropy_loss: target shape"),
    ("cross_entropy_loss",
     lambda: L.cross_entropy_loss(fl.tensor(np.zeros((3, 4))), fl.tensor(np.array([0, -2, 1]))),
     fl.FlodlIndexError, "cross_entropy_loss: target class -2 out of range"),
    ("cross_entropy_loss",
     lambda: L.cross_entropy_loss(fl.tensor(np.zeros(4)), fl.tensor(np.array(7))),
     fl.FlodlIndexError, "cross_entropy_loss: target class 7"),
    ("cross_entropy_loss",
     lambda: L.cross_entropy_loss(fl.tensor(np.zeros((3, 4))), fl.tensor(np.array([0, 1, 1])),
                                  weight=fl.tensor(np.ones(3))),
     fl.ShapeError, "cross_entropy_loss: weight shape"),
    ("nll_loss",
     lambda: L.nll_loss(fl.tensor(np.zeros((2, 3, 5))), fl.tensor(np.array([[0, 3, 1, 0, 0]]
                                                                          * 2))),
     fl.FlodlIndexError, "nll_loss: target class 3 out of range for 3 classes"),
    ("nll_loss",
     lambda: L.nll_loss(fl.tensor(np.zeros((2, 3))), fl.tensor(np.array([[0], [1]]))),
     fl.ShapeError, "nll_loss: target shape"),
    ("mse_loss",
     lambda: L.mse_loss(fl.tensor(np.zeros((2, 3))), fl.tensor(np.zeros((3, 2)))),
     fl.ShapeError, "mse_loss: target shape"),
    ("l1_loss",
     lambda: L.l1_loss(fl.tensor(np.zeros(3)), fl.tensor(np.zeros(4))),
     fl.ShapeError, "l1_loss"),
    ("bce_loss",
     lambda: L.bce_loss(fl.tensor(np.full(3, 0.5)), fl.tensor(np.zeros(2))),
     fl.ShapeError, "bce_loss"),
    ("bce_loss",
     lambda: L.bce_loss(fl.tensor(np.array([0.5, 1.2])), fl.tensor(np.zeros(2))),
     ValueError, "bce_loss"),
    ("kl_div_loss",
     lambda: L.kl_div_loss(fl.tensor(np.zeros(3)), fl.tensor(np.zeros(4))),
     fl.ShapeError, "kl_div_loss"),
    ("triplet_margin_loss",
     lambda: L.triplet_margin_loss(fl.tensor(np.zeros((2, 3))), fl.tensor(np.zeros(3)),
                                   fl.tensor(np.zeros((2, 3)))),
     fl.ShapeError, "triplet_margin_loss"),
    ("cosine_embedding_loss",
     lambda: L.cosine_embedding_loss(fl.tensor(np.ones((2, 3))), fl.tensor(np.ones((2, 3))),
                                     fl.tensor(np.ones(3))),
     fl.ShapeError, "cosine_embedding_loss"),
    ("margin_ranking_loss",
     lambda: L.margin_ranking_loss(fl.tensor(np.ones(3)), fl.tensor(np.ones(3)),
                                   fl.tensor(np.ones(2))),
     fl.ShapeError, "margin_ranking_loss"),
    ("bce_loss",
     lambda: L.bce_loss(fl.tensor(np.full((2, 3), 0.5)), fl.tensor(np.zeros((2, 3))),
                        weight=fl.tensor(np.ones(4))),
     fl.ShapeError, r"bce_loss: input and weight shapes \(2, 3\), \(4,\) do not broadcast"),
    ("bce_with_logits_loss",
     lambda: L.bce_with_logits_loss(fl.tensor(np.zeros((2, 3))), fl.tensor(np.zeros((2, 3))),
                                    pos_weight=fl.tensor(np.ones(4))),
     fl.ShapeError, "bce_with_logits_loss: input and pos_weight shapes"),
    ("bce_with_logits_loss",
     lambda: L.bce_with_logits_loss(fl.tensor(np.zeros((2, 3))), fl.tensor(np.zeros((2, 3))),
                                    weight=fl.tensor(np.ones((3, 2)))),
     fl.ShapeError, "bce_with_logits_loss: input and weight shapes"),
    ("triplet_margin_loss",
     lambda: L.triplet_margin_loss(fl.tensor(np.zeros((2, 3))), fl.tensor(np.zeros((2, 4))),
                                   fl.tensor(np.zeros((2, 3)))),
     fl.ShapeError, "triplet_margin_loss: anchor, positive and negative shapes"),
    ("triplet_margin_loss",     # torch: ValueError("margin must be greater than 0")
     lambda: L.triplet_margin_loss(fl.tensor(np.zeros((2, 3))), fl.tensor(np.zeros((2, 3))),
                                   fl.tensor(np.zeros((2, 3))), margin=0.0),
     ValueError, "triplet_margin_loss: margin must be greater than 0"),
    ("cross_entropy_loss",
     lambda: L.cross_entropy_loss(fl.tensor(np.zeros((3, 4))), fl.tensor(np.zeros((3, 5)))),
     fl.DTypeError, "cross_entropy_loss: target must hold class indices"),
    ("cross_entropy_loss",
     lambda: L.cross_entropy_loss(fl.tensor(np.zeros((3, 4))), fl.tensor(np.array([0, 1, 1])),
                                  label_smoothing=1.5),
     ValueError, "cross_entropy_loss: label_smoothing must be in"),
    ("smooth_l1_loss",
     lambda: L.smooth_l1_loss(fl.tensor(np.zeros(3)), fl.tensor(np.zeros(3)), beta=-1.0),
     ValueError, "smooth_l1_loss: beta must be >= 0"),
    ("huber_loss",
     lambda: L.huber_loss(fl.tensor(np.zeros(3)), fl.tensor(np.zeros(3)), delta=0.0),
     ValueError, "huber_loss: delta must be > 0"),
    ("ctc_loss",
     lambda: L.ctc_loss(fl.tensor(np.zeros((4, 2, 3))), fl.tensor(np.array([[1], [1]])),
                        [4, 4], [1, 1], blank=3),
     fl.FlodlIndexError, "ctc_loss: blank 3 out of range for 3 classes"),
    ("ctc_loss",
     lambda: L.ctc_loss(fl.tensor(np.zeros((4, 2, 3))), fl.tensor(np.array([[1], [3]])),
                        [4, 4], [1, 1]),
     fl.FlodlIndexError, "ctc_loss: target class 3 out of range"),
    ("ctc_loss",
     lambda: L.ctc_loss(fl.tensor(np.zeros((4, 2, 3))), fl.tensor(np.array([[1], [2]])),
                        [4, 4, 4], [1, 1]),
     fl.ShapeError, "ctc_loss: input_lengths"),
])
def test_bad_input_raises_a_clear_error_naming_the_loss(torch, name, call, error, match):
    with pytest.raises(error, match=match):
        call()
