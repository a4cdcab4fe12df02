"""flodl's ``nn.functional`` against ``torch.nn.functional``: forward values and
input/weight gradients (float64 at rtol 1e-9, a few float32 cases), across the
options each op shares with PyTorch. Every test asks for the ``torch`` fixture,
so the module is skipped where torch is not installed."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import flodl_core as fl
from flodl_core.nn import functional as F

from .conftest import assert_close, is_float_array as _is_float, rng as _rng, to_numpy

RTOL64, ATOL64 = 1e-9, 1e-11
RTOL32, ATOL32 = 1e-4, 1e-5


def _fl_val(a, grad):
    if isinstance(a, np.ndarray):
        t = fl.from_numpy(np.ascontiguousarray(a).copy())
        return fl.Variable(t, requires_grad=True) if grad else t
    if isinstance(a, tuple) and any(isinstance(v, np.ndarray) for v in a):
        return tuple(_fl_val(v, grad) for v in a)
    return a


def _th_val(torch, a, grad):
    if isinstance(a, np.ndarray):
        t = torch.from_numpy(np.ascontiguousarray(a).copy())
        return t.requires_grad_(True) if grad else t
    if isinstance(a, tuple) and any(isinstance(v, np.ndarray) for v in a):
        return tuple(_th_val(torch, v, grad) for v in a)
    return a


def _leaves(v):
    if isinstance(v, tuple):
        return [x for e in v for x in _leaves(e)]
    return [v] if getattr(v, "requires_grad", False) else []


def _outputs(y):
    return list(y) if isinstance(y, (tuple, list)) else [y]


def compare(torch, ours, theirs, *args, nograd=(), rtol=RTOL64, atol=ATOL64, grad=True,
            seed=1, grad_rtol=None, grad_atol=None, **kwargs):
    """Run ``ours(*args, **kwargs)`` (flodl) and ``theirs(...)`` (torch) on the same
    NumPy arrays; compare every output, then the gradients of every float array
    argument (except those named/indexed in ``nograd``) under one random upstream
    gradient per float output. Returns (flodl outputs, torch outputs)."""
    def wants(key, a):
        return grad and key not in nograd and (
            _is_float(a) or (isinstance(a, tuple) and any(_is_float(v) for v in a)))

    fa = [_fl_val(a, wants(i, a)) for i, a in enumerate(args)]
    fk = {k: _fl_val(a, wants(k, a)) for k, a in kwargs.items()}
    ta = [_th_val(torch, a, wants(i, a)) for i, a in enumerate(args)]
    tk = {k: _th_val(torch, a, wants(k, a)) for k, a in kwargs.items()}
    yf, yt = _outputs(ours(*fa, **fk)), _outputs(theirs(*ta, **tk))
    assert len(yf) == len(yt)
    for i, (a, b) in enumerate(zip(yf, yt)):
        assert_close(a, b, rtol=rtol, atol=atol, what=f"output {i}")
    fin = _leaves(tuple(fa) + tuple(fk.values()))
    tin = _leaves(tuple(ta) + tuple(tk.values()))
    assert len(fin) == len(tin)
    outs = [(a, b) for a, b in zip(yf, yt) if b.dtype.is_floating_point and b.requires_grad]
    if not fin or not outs:
        return yf, yt
    rng = _rng(seed)
    gs = [rng.standard_normal(b.shape).astype(to_numpy(b).dtype) for _, b in outs]
    gf = fl.grad([a for a, _ in outs], fin, grad_outputs=[fl.from_numpy(g) for g in gs],
                 allow_unused=True)
    gt = torch.autograd.grad([b for _, b in outs], tin,
                             grad_outputs=[torch.from_numpy(g) for g in gs], allow_unused=True)
    for i, (a, b, x) in enumerate(zip(gf, gt, tin)):
        a = np.zeros(x.shape) if a is None else to_numpy(a)
        b = np.zeros(x.shape) if b is None else to_numpy(b)
        assert_close(a, b, rtol=grad_rtol or rtol, atol=grad_atol or atol, what=f"grad {i}")
    return yf, yt


def rnd(*shape, seed=0, dtype=np.float64):
    return _rng(seed).standard_normal(shape).astype(dtype)


@pytest.fixture
def TF(torch):
    import torch.nn.functional as tf
    return tf


# ===================================================================== linear


@pytest.mark.parametrize("xshape", [(5, 4), (2, 3, 4), (4,)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear(torch, TF, xshape, bias):
    compare(torch, F.linear, TF.linear, rnd(*xshape), rnd(3, 4, seed=1),
            rnd(3, seed=2) if bias else None)


def test_linear_float32(torch, TF):
    compare(torch, F.linear, TF.linear, rnd(6, 5, dtype=np.float32),
            rnd(3, 5, seed=1, dtype=np.float32), rnd(3, seed=2, dtype=np.float32),
            rtol=RTOL32, atol=ATOL32)


@pytest.mark.parametrize("lead", [(5,), (2, 3), ()])
@pytest.mark.parametrize("bias", [True, False])
def test_bilinear(torch, TF, lead, bias):
    compare(torch, F.bilinear, TF.bilinear, rnd(*lead, 4), rnd(*lead, 3, seed=1),
            rnd(2, 4, 3, seed=2), rnd(2, seed=3) if bias else None)


# ======================================================================= conv

CONV_CASES = [
    dict(),
    dict(stride=2),
    dict(stride=(2, 1), padding=(1, 2)),
    dict(padding=1, dilation=2),
    dict(padding="same"),
    dict(padding="same", dilation=(2, 1)),
    dict(padding="valid", stride=3),
    dict(groups=2, padding=1),
    dict(groups=4, stride=2, dilation=(1, 2)),
    dict(nobias=True, padding=2),
]


def _nd(v, nd):
    if isinstance(v, tuple):
        return (v * 3)[:nd] if len(v) < nd else v[:nd]
    return v


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("case", range(len(CONV_CASES)))
def test_conv(torch, TF, nd, case):
    opts = {k: _nd(v, nd) for k, v in CONV_CASES[case].items()}
    nobias = opts.pop("nobias", False)
    g = opts.get("groups", 1)
    k = (3, 4, 2)[:nd]                       # an even kernel: 'same' pads unevenly
    size = (9, 8, 7)[:nd] if nd < 3 else (6, 7, 5)
    x = rnd(2, 4, *size)
    w = rnd(8, 4 // g, *k, seed=1)
    b = None if nobias else rnd(8, seed=2)
    name = f"conv{nd}d"
    compare(torch, getattr(F, name), getattr(TF, name), x, w, b, **opts)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("seed", range(6))
def test_conv_random_configs(torch, TF, seed):
    # seeded random mixes of every option, conv and conv_transpose, 1-3 d
    r = _rng(100 + seed)
    done = 0
    while done < 8:
        nd, g = int(r.integers(1, 4)), int(r.choice([1, 2, 3]))
        cin, cout = g * int(r.integers(1, 3)), g * int(r.integers(1, 3))
        k = tuple(int(v) for v in r.integers(1, 4, nd))
        s = tuple(int(v) for v in r.choice([1, 1, 2, 3], nd))
        d = tuple(int(v) for v in r.choice([1, 1, 2], nd))
        size = tuple(int(v) for v in r.integers(3, 8 if nd < 3 else 6, nd))
        pad = ("same" if all(v == 1 for v in s) and r.random() < 0.3
               else tuple(int(v) for v in r.integers(0, 3, nd)))
        x = rnd(int(r.integers(1, 3)), cin, *size, seed=seed)
        bias = rnd(cout, seed=2) if r.random() < 0.7 else None
        w = rnd(cout, cin // g, *k, seed=1)
        try:   # only the configurations torch accepts
            getattr(TF, f"conv{nd}d")(torch.from_numpy(x), torch.from_numpy(w), stride=s,
                                      padding=pad, dilation=d, groups=g)
        except RuntimeError:
            continue
        compare(torch, getattr(F, f"conv{nd}d"), getattr(TF, f"conv{nd}d"), x, w, bias,
                stride=s, padding=pad, dilation=d, groups=g)
        opad = tuple(int(min(o, max(a, b) - 1))
                     for o, a, b in zip(r.integers(0, 3, nd), s, d))
        wt = rnd(cin, cout // g, *k, seed=3)
        compare(torch, getattr(F, f"conv_transpose{nd}d"), getattr(TF, f"conv_transpose{nd}d"),
                x, wt, bias, stride=s, padding=tuple(int(v) for v in r.integers(0, 2, nd)),
                output_padding=opad, groups=g, dilation=d)
        done += 1


def test_conv2d_unbatched_and_large_rows(torch, TF):
    # unbatched input; long rows go through the batched-GEMM / partial-column paths
    compare(torch, F.conv2d, TF.conv2d, rnd(3, 20, 21), rnd(5, 3, 3, 3, seed=1), rnd(5, seed=2),
            padding=1)
    compare(torch, F.conv2d, TF.conv2d, rnd(2, 16, 18, 17), rnd(4, 16, 3, 3, seed=1), None,
            padding=1)
    compare(torch, F.conv2d, TF.conv2d, rnd(2, 8, 18, 17), rnd(4, 2, 3, 5, seed=1), None,
            padding=(1, 2), groups=4, dilation=(2, 1))


def test_conv2d_float32(torch, TF):
    compare(torch, F.conv2d, TF.conv2d, rnd(2, 3, 10, 10, dtype=np.float32),
            rnd(4, 3, 3, 3, seed=1, dtype=np.float32), rnd(4, seed=2, dtype=np.float32),
            stride=2, padding=1, rtol=RTOL32, atol=ATOL32)


CONVT_CASES = [
    dict(),
    dict(stride=2),
    dict(stride=2, padding=1, output_padding=1),
    dict(stride=3, padding=2, output_padding=(2, 1)),
    dict(dilation=2, padding=1),
    dict(dilation=(2, 3), stride=2, output_padding=1),
    dict(groups=2, stride=2, padding=1),
    dict(groups=4, nobias=True),
]


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("case", range(len(CONVT_CASES)))
def test_conv_transpose(torch, TF, nd, case):
    opts = {k: _nd(v, nd) for k, v in CONVT_CASES[case].items()}
    nobias = opts.pop("nobias", False)
    g = opts.get("groups", 1)
    k = (3, 2, 4)[:nd]
    size = (6, 5, 4)[:nd]
    x = rnd(2, 4, *size)
    w = rnd(4, 6 // g if g != 4 else 2, *k, seed=1)
    b = None if nobias else rnd(w.shape[1] * g, seed=2)
    name = f"conv_transpose{nd}d"
    compare(torch, getattr(F, name), getattr(TF, name), x, w, b, **opts)


def test_conv_transpose2d_flip_path_and_unbatched(torch, TF):
    # stride 1 with few input channels runs as a flipped convolution
    compare(torch, F.conv_transpose2d, TF.conv_transpose2d, rnd(2, 3, 7, 6),
            rnd(3, 8, 3, 3, seed=1), rnd(8, seed=2), padding=1)
    compare(torch, F.conv_transpose2d, TF.conv_transpose2d, rnd(3, 5, 4),
            rnd(3, 2, 2, 3, seed=1), None, stride=2)


def test_conv_transpose1d_float32(torch, TF):
    compare(torch, F.conv_transpose1d, TF.conv_transpose1d, rnd(2, 3, 9, dtype=np.float32),
            rnd(3, 4, 3, seed=1, dtype=np.float32), rnd(4, seed=2, dtype=np.float32),
            stride=2, padding=1, output_padding=1, rtol=RTOL32, atol=ATOL32)


# ====================================================================== pooling


def _distinct(*shape, seed=0):
    """Values without ties (max pooling's gradient is then unambiguous)."""
    n = math.prod(shape)
    return (_rng(seed).permutation(n).reshape(shape) / n - 0.5).astype(np.float64)


MAXPOOL_CASES = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, ceil_mode=True),
    dict(kernel_size=2, stride=3, ceil_mode=True),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=2, dilation=2),
    dict(kernel_size=3, stride=2, padding=1, dilation=2, ceil_mode=True),
    dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 1)),
]


@pytest.mark.parametrize("case", range(len(MAXPOOL_CASES)))
@pytest.mark.parametrize("nd", [1, 2])
def test_max_pool(torch, TF, nd, case):
    opts = {k: (v[:nd] if isinstance(v, tuple) and nd == 1 else v)
            for k, v in MAXPOOL_CASES[case].items()}
    if nd == 1:
        opts = {k: (v[0] if isinstance(v, tuple) else v) for k, v in opts.items()}
    size = (2, 3, 9, 10)[:2 + nd] if nd == 2 else (2, 3, 11)
    name = f"max_pool{nd}d"
    for ri in (False, True):
        yf, yt = compare(torch, getattr(F, name), getattr(TF, name), _distinct(*size),
                         return_indices=ri, **opts)
        if ri:
            assert np.array_equal(to_numpy(yf[1]), to_numpy(yt[1]))
            assert to_numpy(yf[1]).dtype == np.int64


def test_max_pool_ties_nan_and_inf(torch, TF):
    # ties: torch's index (and gradient) goes to the first maximum of the window
    compare(torch, F.max_pool2d, TF.max_pool2d, np.zeros((1, 2, 5, 5)), 3, 1, 1,
            return_indices=True)
    compare(torch, F.max_pool1d, TF.max_pool1d, np.ones((2, 7)), 3, 2, 1, ceil_mode=True,
            return_indices=True)
    compare(torch, F.adaptive_max_pool2d, TF.adaptive_max_pool2d, np.zeros((1, 1, 5, 7)),
            (3, 4), return_indices=True)
    x = rnd(1, 1, 6, 6)
    x[0, 0, 1, 1], x[0, 0, 2, 4], x[0, 0, 5, 0] = np.nan, np.inf, -np.inf
    for fn in ("max_pool2d", "adaptive_max_pool2d"):
        arg = 2 if fn == "max_pool2d" else (4, 3)
        yf = getattr(F, fn)(fl.from_numpy(x), arg, return_indices=True)
        yt = getattr(TF, fn)(torch.from_numpy(x), arg, return_indices=True)
        np.testing.assert_array_equal(to_numpy(yf[0]), to_numpy(yt[0]))   # NaN propagates
        np.testing.assert_array_equal(to_numpy(yf[1]), to_numpy(yt[1]))
    compare(torch, F.avg_pool2d, TF.avg_pool2d, x, 2, grad=False)


@pytest.mark.parametrize("seed", range(4))
def test_pool_random_configs(torch, TF, seed):
    r = _rng(200 + seed)
    done = 0
    while done < 12:
        nd = int(r.integers(1, 3))
        k = int(r.integers(1, 5))
        kw = dict(kernel_size=k, stride=None if r.random() < 0.3 else int(r.integers(1, 4)),
                  padding=int(r.integers(0, k // 2 + 1)), ceil_mode=bool(r.random() < 0.5))
        size = (1, 2) + tuple(int(v) for v in r.integers(k, k + 6, nd))
        d = int(r.choice([1, 2]))
        if d * (k - 1) + 1 > min(size[2:]) + 2 * kw["padding"]:
            continue
        compare(torch, getattr(F, f"max_pool{nd}d"), getattr(TF, f"max_pool{nd}d"),
                _distinct(*size, seed=seed), dilation=d, return_indices=True, **kw)
        cip = bool(r.random() < 0.5)
        compare(torch, getattr(F, f"avg_pool{nd}d"), getattr(TF, f"avg_pool{nd}d"),
                rnd(*size, seed=seed), count_include_pad=cip, **kw)
        done += 1


def test_max_pool_unbatched_and_negative_inputs(torch, TF):
    compare(torch, F.max_pool2d, TF.max_pool2d, _distinct(3, 7, 6) - 2.0, 3, stride=2,
            padding=1)
    compare(torch, F.max_pool1d, TF.max_pool1d, _distinct(3, 7) - 2.0, 2, ceil_mode=True)


AVGPOOL_CASES = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
    dict(kernel_size=3, stride=2, ceil_mode=True),
    dict(kernel_size=2, stride=3, ceil_mode=True),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 1)),
]


@pytest.mark.parametrize("case", range(len(AVGPOOL_CASES)))
@pytest.mark.parametrize("nd", [1, 2])
def test_avg_pool(torch, TF, nd, case):
    opts = dict(AVGPOOL_CASES[case])
    if nd == 1:
        opts = {k: (v[0] if isinstance(v, tuple) else v) for k, v in opts.items()}
    size = (2, 3, 9, 10) if nd == 2 else (2, 3, 11)
    name = f"avg_pool{nd}d"
    compare(torch, getattr(F, name), getattr(TF, name), rnd(*size), **opts)


@pytest.mark.parametrize("opts", [dict(kernel_size=3, divisor_override=2),
                                  dict(kernel_size=3, stride=2, padding=1, ceil_mode=True,
                                       divisor_override=5)])
def test_avg_pool2d_divisor_override(torch, TF, opts):
    compare(torch, F.avg_pool2d, TF.avg_pool2d, rnd(2, 3, 8, 7), **opts)


@pytest.mark.parametrize("out", [(3, 4), 5, (1, 1), (7, 3), (None, 2), (4, None), (9, 8)])
def test_adaptive_avg_pool2d(torch, TF, out):
    compare(torch, F.adaptive_avg_pool2d, TF.adaptive_avg_pool2d, rnd(2, 3, 7, 9), out)


@pytest.mark.parametrize("out", [(3, 4), 5, (1, 1), (7, 3), (None, 2), (4, None)])
def test_adaptive_max_pool2d(torch, TF, out):
    for ri in (False, True):
        yf, yt = compare(torch, F.adaptive_max_pool2d, TF.adaptive_max_pool2d,
                         _distinct(2, 3, 7, 9), out, return_indices=ri)
        if ri:
            assert np.array_equal(to_numpy(yf[1]), to_numpy(yt[1]))


def test_adaptive_pool_unbatched(torch, TF):
    compare(torch, F.adaptive_avg_pool2d, TF.adaptive_avg_pool2d, rnd(3, 5, 7), (2, 3))
    compare(torch, F.adaptive_max_pool2d, TF.adaptive_max_pool2d, _distinct(3, 5, 7), (2, 3))


# ================================================================ normalization


@pytest.mark.parametrize("shape,ns", [((4, 6), (6,)), ((2, 3, 4, 5), (4, 5)), ((3, 5), [5]),
                                      ((2, 3, 4), (2, 3, 4))])
@pytest.mark.parametrize("affine", ["both", "weight", "bias", "none"])
def test_layer_norm(torch, TF, shape, ns, affine):
    w = rnd(*ns, seed=1) if affine in ("both", "weight") else None
    b = rnd(*ns, seed=2) if affine in ("both", "bias") else None
    compare(torch, F.layer_norm, TF.layer_norm, rnd(*shape) * 3 + 1, ns, w, b, eps=1e-3)
    # flodl also takes an int (torch's functional wants a sequence; its modules take ints)
    if len(ns) == 1:
        compare(torch, lambda x: F.layer_norm(x, ns[0]), lambda x: TF.layer_norm(x, ns),
                rnd(*shape))


def test_layer_norm_float32(torch, TF):
    compare(torch, F.layer_norm, TF.layer_norm, rnd(5, 8, dtype=np.float32), (8,),
            rnd(8, seed=1, dtype=np.float32), rnd(8, seed=2, dtype=np.float32),
            rtol=RTOL32, atol=ATOL32)


@pytest.mark.parametrize("shape,ns", [((4, 6), (6,)), ((2, 3, 4, 5), (4, 5))])
@pytest.mark.parametrize("eps", [None, 1e-2])
@pytest.mark.parametrize("weight", [True, False])
def test_rms_norm(torch, TF, shape, ns, eps, weight):
    w = rnd(*ns, seed=1) if weight else None
    compare(torch, F.rms_norm, TF.rms_norm, rnd(*shape), ns, w, eps=eps)


def test_rms_norm_float32_default_eps(torch, TF):
    # eps=None: machine epsilon of the dtype; tiny inputs make it visible
    x = (rnd(3, 4, dtype=np.float32) * 1e-4).astype(np.float32)
    compare(torch, F.rms_norm, TF.rms_norm, x, (4,), None, rtol=RTOL32, atol=1e-6)
    compare(torch, F.rms_norm, TF.rms_norm, rnd(3, 4) * 1e-8, (4,), None)


@pytest.mark.parametrize("shape,groups", [((2, 6, 5), 3), ((2, 6, 3, 4), 2), ((3, 4), 4),
                                          ((2, 6, 2, 2, 3), 1), ((2, 6, 4), 6)])
@pytest.mark.parametrize("affine", [True, False])
def test_group_norm(torch, TF, shape, groups, affine):
    c = shape[1]
    w, b = (rnd(c, seed=1), rnd(c, seed=2)) if affine else (None, None)
    compare(torch, F.group_norm, TF.group_norm, rnd(*shape) * 2 - 1, groups, w, b, eps=1e-4)


def _running(c, seed):
    r = _rng(seed)
    return r.standard_normal(c), r.uniform(0.5, 2.0, c)


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5), (2, 3, 4, 5), (2, 3, 2, 3, 2)])
@pytest.mark.parametrize("momentum", [0.1, 0.3, 1.0, 0.0])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_training_updates_running_stats(torch, TF, shape, momentum, affine):
    c = shape[1]
    rm, rv = _running(c, 3)
    frm, frv = fl.from_numpy(rm.copy()), fl.from_numpy(rv.copy())
    trm, trv = torch.from_numpy(rm.copy()), torch.from_numpy(rv.copy())
    w, b = (rnd(c, seed=1), rnd(c, seed=2)) if affine else (None, None)
    x = rnd(*shape) * 2 + 0.5

    def ours(x, w, b):
        return F.batch_norm(x, frm, frv, w, b, training=True, momentum=momentum, eps=1e-3)

    def theirs(x, w, b):
        return TF.batch_norm(x, trm, trv, w, b, training=True, momentum=momentum, eps=1e-3)

    compare(torch, ours, theirs, x, w, b)
    assert_close(frm, trm, rtol=1e-12, what="running_mean")
    assert_close(frv, trv, rtol=1e-12, what="running_var (unbiased)")


def test_batch_norm_momentum_none_is_refused_like_torch(torch, TF):
    # F.batch_norm takes a float momentum; the cumulative average (momentum=None)
    # is the module's business (it passes 1 / num_batches_tracked)
    with pytest.raises(TypeError):
        TF.batch_norm(torch.ones(2, 3), torch.zeros(3), torch.ones(3), training=True,
                      momentum=None)
    with pytest.raises(TypeError):
        F.batch_norm(fl.ones(2, 3), fl.zeros(3), fl.ones(3), training=True, momentum=None)


def test_batch_norm_cumulative_average_via_momentum(torch, TF):
    # what nn.BatchNorm does with momentum=None: momentum = 1 / num_batches_tracked
    rm, rv = _running(3, 3)
    frm, frv = fl.from_numpy(rm.copy()), fl.from_numpy(rv.copy())
    trm, trv = torch.from_numpy(rm.copy()), torch.from_numpy(rv.copy())
    for step in range(1, 4):
        x = rnd(5, 3, 2, seed=step)
        F.batch_norm(fl.from_numpy(x), frm, frv, training=True, momentum=1.0 / step)
        TF.batch_norm(torch.from_numpy(x), trm, trv, training=True, momentum=1.0 / step)
    assert_close(frm, trm, rtol=1e-12)
    assert_close(frv, trv, rtol=1e-12)


def test_batch_norm_training_without_running_stats(torch, TF):
    compare(torch, F.batch_norm, TF.batch_norm, rnd(4, 3, 5), None, None, rnd(3, seed=1),
            rnd(3, seed=2), training=True)


@pytest.mark.parametrize("shape", [(6, 3), (2, 3, 4, 5)])
def test_batch_norm_eval(torch, TF, shape):
    rm, rv = _running(3, 3)
    compare(torch, F.batch_norm, TF.batch_norm, rnd(*shape), rm, rv, rnd(3, seed=1),
            rnd(3, seed=2), training=False, eps=1e-2, nograd=(1, 2))
    compare(torch, F.batch_norm, TF.batch_norm, rnd(*shape), rm, rv, nograd=(1, 2))


def test_batch_norm_float32(torch, TF):
    rm, rv = _running(3, 3)
    f32 = np.float32
    frm, frv = fl.from_numpy(rm.astype(f32)), fl.from_numpy(rv.astype(f32))
    trm, trv = torch.from_numpy(rm.astype(f32)), torch.from_numpy(rv.astype(f32))
    compare(torch, lambda x: F.batch_norm(x, frm, frv, training=True, momentum=0.2),
            lambda x: TF.batch_norm(x, trm, trv, training=True, momentum=0.2),
            rnd(4, 3, 6, dtype=f32), rtol=RTOL32, atol=ATOL32)
    assert_close(frm, trm, rtol=1e-5)
    assert_close(frv, trv, rtol=1e-5)


@pytest.mark.parametrize("shape", [(2, 3, 5), (3, 3, 4, 2)])
@pytest.mark.parametrize("running", [True, False])
@pytest.mark.parametrize("affine", [True, False])
def test_instance_norm(torch, TF, shape, running, affine):
    c = shape[1]
    w, b = (rnd(c, seed=1), rnd(c, seed=2)) if affine else (None, None)
    rm, rv = _running(c, 3)
    fr = (fl.from_numpy(rm.copy()), fl.from_numpy(rv.copy())) if running else (None, None)
    tr = (torch.from_numpy(rm.copy()), torch.from_numpy(rv.copy())) if running else (None, None)
    compare(torch, lambda x, w, b: F.instance_norm(x, *fr, w, b, momentum=0.3, eps=1e-3),
            lambda x, w, b: TF.instance_norm(x, *tr, w, b, momentum=0.3, eps=1e-3),
            rnd(*shape) * 2 + 1, w, b)
    if running:
        assert_close(fr[0], tr[0], rtol=1e-12, what="running_mean")
        assert_close(fr[1], tr[1], rtol=1e-12, what="running_var")


def test_instance_norm_with_running_stats_in_eval(torch, TF):
    rm, rv = _running(3, 3)
    compare(torch, F.instance_norm, TF.instance_norm, rnd(2, 3, 4), rm, rv, rnd(3, seed=1),
            rnd(3, seed=2), use_input_stats=False, nograd=(1, 2))


# ===================================================================== dropout


@pytest.mark.parametrize("name", ["dropout", "dropout2d", "alpha_dropout"])
def test_dropout_identity_in_eval_or_p0(torch, TF, name):
    x = rnd(2, 3, 4, 5)
    compare(torch, getattr(F, name), getattr(TF, name), x, p=0.4, training=False)
    compare(torch, getattr(F, name), getattr(TF, name), x, p=0.0, training=True)


def test_alpha_dropout_defaults_to_eval(torch, TF):
    compare(torch, F.alpha_dropout, TF.alpha_dropout, rnd(3, 4), 0.5)


@pytest.mark.parametrize("name", ["dropout", "dropout2d", "alpha_dropout"])
def test_dropout_p1(torch, TF, name):
    compare(torch, lambda x: getattr(F, name)(x, p=1.0, training=True),
            lambda x: getattr(TF, name)(x, p=1.0, training=True), rnd(2, 3, 4, 5))


@pytest.fixture
def seeded(torch):
    fl.manual_seed(0)
    torch.manual_seed(0)


def test_dropout_training_statistics(torch, TF, seeded):
    p = 0.3
    x = np.abs(rnd(200, 500)) + 0.5
    fx = fl.Variable(fl.from_numpy(x), requires_grad=True)
    y = F.dropout(fx, p=p, training=True)
    out = to_numpy(y)
    kept = out != 0
    # kept values are x / (1 - p), exactly as torch scales them
    th = TF.dropout(torch.from_numpy(x), p=p, training=True).numpy()
    th_kept = th != 0
    np.testing.assert_allclose(out[kept], x[kept] / (1 - p), rtol=1e-12)
    np.testing.assert_allclose(th[th_kept], x[th_kept] / (1 - p), rtol=1e-12)
    assert abs(kept.mean() - (1 - p)) < 0.01 and abs(th_kept.mean() - (1 - p)) < 0.01
    (g,) = fl.grad(y, [fx], grad_outputs=[fl.ones(*x.shape, dtype=fl.DType.Float64)])
    np.testing.assert_allclose(to_numpy(g), kept / (1 - p), rtol=1e-12)


def test_dropout2d_training_zeroes_whole_channels(torch, TF, seeded):
    p = 0.4
    x = np.abs(rnd(64, 50, 3, 4)) + 0.5
    for mod, arr in ((F, fl.from_numpy(x)), (TF, torch.from_numpy(x))):
        out = to_numpy(mod.dropout2d(arr, p=p, training=True))
        kept = (out != 0).reshape(64, 50, -1)
        assert np.all(kept.all(axis=2) | ~kept.any(axis=2))
        ch = kept.any(axis=2)
        assert abs(ch.mean() - (1 - p)) < 0.03
        np.testing.assert_allclose(out[ch], x[ch] / (1 - p), rtol=1e-12)
    # 3-D input: (N, C, L), whole rows dropped, as torch does today (it warns)
    x3 = np.abs(rnd(40, 30, 6)) + 0.5
    for mod, arr in ((F, fl.from_numpy(x3)), (TF, torch.from_numpy(x3))):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = to_numpy(mod.dropout2d(arr, p=p, training=True))
        kept = out != 0
        assert np.all(kept.all(axis=2) | ~kept.any(axis=2))


def test_alpha_dropout_training_statistics(torch, TF, seeded):
    p = 0.2
    x = rnd(400, 500)
    th = TF.alpha_dropout(torch.from_numpy(x), p=p, training=True).numpy()
    out = to_numpy(F.alpha_dropout(fl.from_numpy(x), p=p, training=True))
    # both are a * x + b on kept entries and a constant on dropped ones
    alpha = 1.7580993408473766
    a = 1.0 / math.sqrt((alpha ** 2 * p + 1) * (1 - p))
    b_keep, b_drop = alpha * a * p, -alpha * a * (1 - p)
    for y in (out, th):
        kept = np.isclose(y, a * x + b_keep, rtol=1e-12, atol=1e-12)
        dropped = np.isclose(y, b_drop, rtol=1e-12, atol=1e-12)
        assert np.all(kept | dropped)
        assert abs(dropped.mean() - p) < 0.01
        # SELU's self-normalisation: unit-normal input stays ~ unit-normal
        assert abs(y.mean()) < 0.02 and abs(y.std() - 1) < 0.02


# =================================================================== embedding


@pytest.mark.parametrize("padding_idx", [None, 2, -1, 0])
def test_embedding(torch, TF, padding_idx):
    idx = np.array([[1, 2, 4], [4, 0, 2], [6, 6, 1]], dtype=np.int64)
    compare(torch, F.embedding, TF.embedding, idx, rnd(7, 5), padding_idx=padding_idx)


def test_embedding_scale_grad_by_freq(torch, TF):
    idx = np.array([[1, 2, 1], [1, 0, 2]], dtype=np.int64)
    compare(torch, F.embedding, TF.embedding, idx, rnd(4, 3), scale_grad_by_freq=True)
    compare(torch, F.embedding, TF.embedding, idx, rnd(4, 3), scale_grad_by_freq=True,
            padding_idx=2)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0])
def test_embedding_max_norm_renormalises_in_place(torch, TF, norm_type):
    idx = np.array([1, 3, 3, 0], dtype=np.int64)
    w = rnd(5, 4) * 2
    fw, tw = fl.from_numpy(w.copy()), torch.from_numpy(w.copy())
    yf = F.embedding(fl.from_numpy(idx), fw, max_norm=1.5, norm_type=norm_type)
    with torch.no_grad():
        yt = TF.embedding(torch.from_numpy(idx), tw, max_norm=1.5, norm_type=norm_type)
    assert_close(yf, yt, rtol=1e-12)
    assert_close(fw, tw, rtol=1e-12, what="renormalised weight")
    # and the gradient of the renormalised lookup
    compare(torch, lambda w: F.embedding(fl.from_numpy(idx), w, max_norm=1.5),
            lambda w: TF.embedding(torch.from_numpy(idx), w, max_norm=1.5), w)


def test_embedding_float32(torch, TF):
    idx = np.array([3, 1, 3], dtype=np.int64)
    compare(torch, F.embedding, TF.embedding, idx, rnd(4, 6, dtype=np.float32),
            rtol=1e-6, atol=1e-7)


BAG_IDX = np.array([1, 2, 4, 5, 4, 3, 2, 9, 0, 6], dtype=np.int64)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
# include_last_offset: offsets[-1] == len(input), as documented (torch's CPU kernels
# disagree among modes when it is smaller: pytorch/pytorch#191965).
@pytest.mark.parametrize("offsets,last", [([0, 3, 3, 7], False), ([0, 2, 5, 10], True),
                                          ([0, 4, 4, 10], True), ([0], False),
                                          ([0, 10], False), ([0, 10, 10], False)])
@pytest.mark.parametrize("padding_idx", [None, 4, -8])
def test_embedding_bag_offsets(torch, TF, mode, offsets, last, padding_idx):
    compare(torch, F.embedding_bag, TF.embedding_bag, BAG_IDX, _distinct(10, 3),
            np.array(offsets, dtype=np.int64), mode=mode, include_last_offset=last,
            padding_idx=padding_idx)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("padding_idx", [None, 1])
def test_embedding_bag_2d(torch, TF, mode, padding_idx):
    idx = np.array([[1, 2, 4], [4, 3, 2], [1, 1, 1], [0, 5, 1]], dtype=np.int64)
    compare(torch, F.embedding_bag, TF.embedding_bag, idx, _distinct(6, 4), mode=mode,
            padding_idx=padding_idx)


@pytest.mark.parametrize("padding_idx", [None, 2])
def test_embedding_bag_per_sample_weights(torch, TF, padding_idx):
    compare(torch, F.embedding_bag, TF.embedding_bag, BAG_IDX, rnd(10, 3),
            np.array([0, 3, 3, 7], dtype=np.int64), mode="sum",
            per_sample_weights=rnd(10, seed=4), padding_idx=padding_idx)
    compare(torch, F.embedding_bag, TF.embedding_bag, BAG_IDX, rnd(10, 3),
            np.array([0, 3, 10], dtype=np.int64), mode="sum", include_last_offset=True,
            per_sample_weights=rnd(10, seed=4), padding_idx=padding_idx)
    idx = np.array([[1, 2, 2], [0, 3, 1]], dtype=np.int64)
    compare(torch, F.embedding_bag, TF.embedding_bag, idx, rnd(4, 3), mode="sum",
            per_sample_weights=rnd(2, 3, seed=4), padding_idx=padding_idx)


def _bag_reference(torch, TF, mode, offsets, n):
    """embedding_bag as F.embedding + a segment sum/mean in torch: the reference for
    scale_grad_by_freq, whose CPU embedding_bag kernel divides by the wrong count
    (pytorch/pytorch#190063; F.embedding's is right)."""
    starts = list(offsets)
    ends = starts[1:] + [n]

    def ref(idx, w, offsets, mode=mode, **kw):
        rows = TF.embedding(idx, w, **kw)
        outs = [rows[a:b].sum(0) if mode == "sum" else
                (rows[a:b].mean(0) if b > a else rows[a:b].sum(0)) for a, b in zip(starts, ends)]
        return torch.stack(outs)
    return ref


@pytest.mark.parametrize("mode", ["sum", "mean"])
def test_embedding_bag_scale_grad_by_freq(torch, TF, mode):
    offs = [0, 3, 3, 7]
    compare(torch, F.embedding_bag, _bag_reference(torch, TF, mode, offs, 10), BAG_IDX,
            rnd(10, 3), np.array(offs, dtype=np.int64), mode=mode, scale_grad_by_freq=True)
    # where torch's kernel is right (no once-seen index sorting after a repeated one)
    idx = np.array([3, 0, 4, 1, 3, 4], dtype=np.int64)
    compare(torch, F.embedding_bag, TF.embedding_bag, idx, rnd(5, 3),
            np.array([0, 2], dtype=np.int64), mode=mode, scale_grad_by_freq=True)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_max_norm(torch, TF, mode):
    w = rnd(10, 3) * 3
    offs = np.array([0, 3, 3, 7], dtype=np.int64)
    fw, tw = fl.from_numpy(w.copy()), torch.from_numpy(w.copy())
    yf = F.embedding_bag(fl.from_numpy(BAG_IDX), fw, fl.from_numpy(offs), max_norm=1.0,
                         mode=mode)
    with torch.no_grad():
        yt = TF.embedding_bag(torch.from_numpy(BAG_IDX), tw, torch.from_numpy(offs),
                              max_norm=1.0, mode=mode)
    assert_close(yf, yt, rtol=1e-12)
    assert_close(fw, tw, rtol=1e-12, what="renormalised weight")
    compare(torch, F.embedding_bag, TF.embedding_bag, BAG_IDX, w, offs, mode=mode,
            max_norm=1.0)


def test_embedding_bag_float32(torch, TF):
    compare(torch, F.embedding_bag, TF.embedding_bag, BAG_IDX, rnd(10, 4, dtype=np.float32),
            np.array([0, 4, 6], dtype=np.int64), mode="mean", rtol=1e-6, atol=1e-7)


# ==================================================================== resample


@pytest.mark.parametrize("shape,r", [((2, 8, 3, 4), 2), ((18, 2, 3), 3), ((2, 3, 4, 2, 2), 2),
                                     ((4, 5, 6), 1)])
def test_pixel_shuffle(torch, TF, shape, r):
    compare(torch, F.pixel_shuffle, TF.pixel_shuffle, rnd(*shape), r)


@pytest.mark.parametrize("shape,r", [((2, 2, 6, 4), 2), ((1, 6, 9), 3), ((2, 3, 1, 4, 4), 2)])
def test_pixel_unshuffle(torch, TF, shape, r):
    compare(torch, F.pixel_unshuffle, TF.pixel_unshuffle, rnd(*shape), r)


INTERP_2D = [
    dict(size=(7, 9)),
    dict(size=(3, 2)),
    dict(size=5),
    dict(size=(6, 10)),                      # exactly 2x: torch's nearest shortcut
    dict(size=(5, 4)),                       # unchanged dims
    dict(scale_factor=2),
    dict(scale_factor=1.7),
    dict(scale_factor=(0.6, 1.3)),
    dict(scale_factor=0.5),
    dict(scale_factor=1.1),                  # out == in, scale != 1
    dict(scale_factor=2.01),                 # out == 2 * in, scale != 2
    dict(scale_factor=1.7, recompute_scale_factor=True),
    dict(scale_factor=(0.6, 1.3), recompute_scale_factor=True),
    dict(scale_factor=0.3),
    dict(size=(1, 1)),
]


def _adjoint_of_forward(torch, fn):
    """A torch function whose value is ``fn``'s and whose gradient is the exact
    adjoint of ``fn``'s forward (``fn`` is linear: its Jacobian is read off the
    forward applied to each basis vector). For the configurations where torch's
    own backward kernel disagrees with its forward (torch.autograd.gradcheck fails
    on torch itself): bicubic with out == in but a scale_factor != 1, whose
    backward copies; 1-d nearest with out == in or 2 * in and a scale_factor,
    whose backward takes the 2-d kernel's shortcuts while the forward uses the
    scale."""
    class Op(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.shape = x.shape
            return fn(x)

        @staticmethod
        def backward(ctx, g):
            n = math.prod(ctx.shape)
            basis = torch.eye(n, dtype=g.dtype)
            cols = torch.stack([fn(basis[i].reshape(ctx.shape)).reshape(-1) for i in range(n)])
            return (cols @ g.reshape(-1)).reshape(ctx.shape)
    return Op.apply


def _interp_compare(torch, TF, x, **opts):
    mode = opts.get("mode", "nearest")
    scaled = opts.get("scale_factor") is not None and not opts.get("recompute_scale_factor")
    ins, outs = x.shape[2:], None
    if scaled:
        sf = opts["scale_factor"]
        sf = sf if isinstance(sf, tuple) else (sf,) * len(ins)
        outs = [math.floor(n * f) for n, f in zip(ins, sf)]
    torch_backward_differs = scaled and (
        (mode == "bicubic" and not opts.get("align_corners") and list(ins) == outs
         and any(f != 1 for f in sf))
        or (mode == "nearest" and len(ins) == 1
            and any(o in (n, 2 * n) for n, o in zip(ins, outs))))
    theirs = (lambda x: _adjoint_of_forward(torch, lambda t: TF.interpolate(t, **opts))(x)) \
        if torch_backward_differs else (lambda x: TF.interpolate(x, **opts))
    compare(torch, lambda x: F.interpolate(x, **opts), theirs, x)


@pytest.mark.parametrize("mode,align", [("nearest", None), ("nearest-exact", None),
                                        ("bilinear", False), ("bilinear", True),
                                        ("bicubic", False), ("bicubic", True), ("area", None)])
@pytest.mark.parametrize("case", range(len(INTERP_2D)))
def test_interpolate_2d(torch, TF, mode, align, case):
    opts = dict(INTERP_2D[case])
    if align is not None:
        opts["align_corners"] = align
    _interp_compare(torch, TF, rnd(2, 3, 5, 4), mode=mode, **opts)


INTERP_1D = [dict(size=9), dict(size=3), dict(size=10), dict(size=5), dict(scale_factor=1.7),
             dict(scale_factor=0.45), dict(scale_factor=1.1), dict(scale_factor=2.01),
             dict(scale_factor=1.7, recompute_scale_factor=True), dict(size=1)]


@pytest.mark.parametrize("mode,align", [("nearest", None), ("nearest-exact", None),
                                        ("linear", False), ("linear", True)])
@pytest.mark.parametrize("case", range(len(INTERP_1D)))
def test_interpolate_1d(torch, TF, mode, align, case):
    opts = dict(INTERP_1D[case])
    if align is not None:
        opts["align_corners"] = align
    _interp_compare(torch, TF, rnd(2, 3, 5), mode=mode, **opts)


@pytest.mark.parametrize("mode", ["nearest", "bilinear", "bicubic"])
def test_interpolate_float32(torch, TF, mode):
    kw = {} if mode == "nearest" else dict(align_corners=False)
    compare(torch, F.interpolate, TF.interpolate, rnd(2, 3, 7, 6, dtype=np.float32),
            scale_factor=(1.37, 0.71), mode=mode, rtol=RTOL32, atol=ATOL32, **kw)
    compare(torch, F.interpolate, TF.interpolate, rnd(1, 2, 13, 11, dtype=np.float32),
            size=(29, 5), mode=mode, rtol=RTOL32, atol=ATOL32, **kw)


def test_interpolate_nearest_index_rule_large(torch, TF):
    # float32 index arithmetic (floor(dst * in/out)) on sizes where rounding matters
    compare(torch, F.interpolate, TF.interpolate, rnd(1, 1, 3, 127), size=(7, 381))
    compare(torch, F.interpolate, TF.interpolate, rnd(1, 1, 300), size=(999,))
    compare(torch, F.interpolate, TF.interpolate, rnd(1, 1, 999), size=(300,),
            mode="nearest-exact")


def _grid(n, ho, wo, seed, spread=1.3):
    return (_rng(seed).uniform(-spread, spread, (n, ho, wo, 2))).astype(np.float64)


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border"])
@pytest.mark.parametrize("align", [False, True])
def test_grid_sample(torch, TF, mode, padding_mode, align):
    x = rnd(2, 3, 5, 6)
    grid = _grid(2, 4, 7, 5, spread=2.0)   # about half of the points fall outside [-1, 1]
    nograd = ("grid",) if mode == "nearest" else ()
    compare(torch, F.grid_sample, TF.grid_sample, x, grid=grid, mode=mode,
            padding_mode=padding_mode, align_corners=align, nograd=nograd)


@pytest.mark.parametrize("padding_mode", ["zeros", "border"])
@pytest.mark.parametrize("align", [False, True])
def test_grid_sample_on_edges_and_pixel_centres(torch, TF, padding_mode, align):
    # coordinates exactly on -1, 1, on the first/last pixel centres (clip boundaries,
    # where torch's slope is 0) and on other pixel centres (floor boundaries)
    h, w = 4, 5
    xs = np.array([-1.0, 1.0, -1.5, 1.5, 0.0, 1 / w - 1, 1 - 1 / w, 2 / w - 1, 0.25])
    ys = np.array([-1.0, 1.0, 0.5, -1.25, 1 / h, 0.0, 1 / h - 1, 1 - 1 / h, 1.0])
    grid = np.stack(np.meshgrid(xs, ys), -1)[None].repeat(2, 0)
    compare(torch, F.grid_sample, TF.grid_sample, rnd(2, 2, h, w), grid=grid,
            padding_mode=padding_mode, align_corners=align)


@pytest.mark.parametrize("padding_mode", ["zeros", "border"])
@pytest.mark.parametrize("align", [False, True])
def test_grid_sample_affine_grids(torch, TF, padding_mode, align):
    # identity and affine grids (torch's affine_grid): many points exactly on pixel
    # centres, where the floor picks the cell
    theta = torch.tensor([[[1.0, 0, 0], [0, 1.0, 0]], [[0.8, 0.3, 0.1], [-0.2, 1.1, -0.3]]],
                         dtype=torch.float64)
    for h, w, oh, ow in [(4, 5, 4, 5), (3, 3, 6, 6), (5, 4, 2, 3)]:
        grid = TF.affine_grid(theta, (2, 3, oh, ow), align_corners=align).numpy()
        compare(torch, F.grid_sample, TF.grid_sample, rnd(2, 3, h, w), grid=grid,
                padding_mode=padding_mode, align_corners=align)
        compare(torch, F.grid_sample, TF.grid_sample, rnd(2, 3, h, w), grid=grid,
                mode="nearest", padding_mode=padding_mode, align_corners=align,
                nograd=("grid",))


def test_grid_sample_size_one_dims(torch, TF):
    for pm in ("zeros", "border"):
        for align in (False, True):
            compare(torch, F.grid_sample, TF.grid_sample, rnd(1, 2, 1, 4), _grid(1, 3, 2, 3),
                    padding_mode=pm, align_corners=align)


def test_grid_sample_float32(torch, TF):
    compare(torch, F.grid_sample, TF.grid_sample, rnd(1, 2, 6, 5, dtype=np.float32),
            _grid(1, 3, 4, 2).astype(np.float32), align_corners=False, rtol=RTOL32,
            atol=ATOL32)


UNFOLD_CASES = [dict(kernel_size=2), dict(kernel_size=(2, 3), stride=(1, 2)),
                dict(kernel_size=3, padding=1, stride=2), dict(kernel_size=2, dilation=(2, 1)),
                dict(kernel_size=(3, 2), dilation=2, padding=(2, 1), stride=(2, 3))]


@pytest.mark.parametrize("case", range(len(UNFOLD_CASES)))
def test_unfold_fold(torch, TF, case):
    opts = UNFOLD_CASES[case]
    compare(torch, F.unfold, TF.unfold, rnd(2, 3, 7, 8), **opts)
    compare(torch, F.unfold, TF.unfold, rnd(3, 7, 8), **opts)          # unbatched
    cols = TF.unfold(torch.zeros(2, 3, 7, 8), **opts)
    compare(torch, F.fold, TF.fold, rnd(*cols.shape), (7, 8), **opts)
    compare(torch, F.fold, TF.fold, rnd(*cols.shape[1:]), (7, 8), **opts)


PADS = [
    ("constant", (1, 2), (2, 3, 5)), ("constant", (0, 1, 2, 0), (2, 3, 4, 5)),
    ("constant", (1, 1, 2, 2, 1, 0), (2, 3, 4)), ("constant", (-1, 2, 1, -2), (2, 3, 4, 5)),
    ("constant", (1, 1, 0, 0, 0, 0, 1, 1), (2, 3, 4, 5)),
    ("reflect", (2, 1), (2, 3, 5)), ("reflect", (2, 1), (3, 5)),
    ("reflect", (1, 3, 2, 0), (2, 3, 4, 5)), ("reflect", (1, 1, 2, 2, 1, 2), (1, 2, 3, 4, 5)),
    ("reflect", (-1, 2, 1, -2), (2, 3, 4, 5)),
    ("replicate", (3, 1), (2, 3, 5)), ("replicate", (2, 0, 1, 4), (2, 3, 4, 5)),
    ("replicate", (1, 2, 3, 0, 2, 1), (1, 2, 3, 4, 5)), ("replicate", (-2, 3, 1, -1), (3, 4, 5)),
    ("circular", (2, 1), (2, 3, 5)), ("circular", (1, 3, 2, 0), (2, 3, 4, 5)),
    ("circular", (1, 1, 2, 2, 1, 2), (1, 2, 3, 4, 5)), ("circular", (-1, 2, 3, -1), (2, 3, 4, 5)),
    ("circular", (5, 5), (1, 2, 5)),
]


@pytest.mark.parametrize("case", range(len(PADS)))
def test_pad(torch, TF, case):
    mode, pads, shape = PADS[case]
    compare(torch, F.pad, TF.pad, rnd(*shape), pads, mode=mode)


def test_pad_constant_value(torch, TF):
    compare(torch, F.pad, TF.pad, rnd(2, 3, 4), (1, 2, 0, 1), value=-2.5)
    compare(torch, F.pad, TF.pad, rnd(2, 3, 4), (1, 2), mode="constant", value=3.0)
    compare(torch, F.pad, TF.pad, rnd(2, 3, 4, dtype=np.float32), (1, 2), value=0.1,
            rtol=0, atol=0)


def test_gaussian_blur_2d_torchvision_formula(torch):
    # torchvision.transforms.functional.gaussian_blur (no torch.nn.functional op):
    # kernel1d = softmax-normalised exp(-x^2 / (2 sigma^2)) on linspace(-(k-1)/2, (k-1)/2, k);
    # sigma default 0.3 * ((k - 1) * 0.5 - 1) + 0.8; reflect padding; depthwise conv.
    def reference(img, kernel_size, sigma=None):
        ks = kernel_size if isinstance(kernel_size, (list, tuple)) else [kernel_size] * 2
        if sigma is None:
            sig = [0.3 * ((k - 1) * 0.5 - 1) + 0.8 for k in ks]
        else:
            sig = list(sigma) if isinstance(sigma, (list, tuple)) else [sigma] * 2

        def k1d(k, s):
            x = torch.linspace(-(k - 1) * 0.5, (k - 1) * 0.5, steps=k, dtype=img.dtype)
            pdf = torch.exp(-0.5 * (x / s).pow(2))
            return pdf / pdf.sum()

        kx, ky = k1d(ks[0], sig[0]), k1d(ks[1], sig[1])
        kernel = torch.mm(ky[:, None], kx[None, :])
        shape = img.shape
        x = img.reshape(-1, 1, *shape[-2:])
        x = torch.nn.functional.pad(x, [ks[0] // 2, ks[0] // 2, ks[1] // 2, ks[1] // 2],
                                    mode="reflect")
        y = torch.nn.functional.conv2d(x, kernel[None, None])
        return y.reshape(shape)

    for args, kw in [((3,), {}), ((5, 1.5), {}), (((5, 3), (0.8, 2.0)), {}), ((1,), {}),
                     (((3, 7),), {})]:
        compare(torch, lambda x: F.gaussian_blur_2d(x, *args, **kw),
                lambda x: reference(x, *args, **kw), rnd(2, 3, 9, 8))
    compare(torch, lambda x: F.gaussian_blur_2d(x, 5, 1.2), lambda x: reference(x, 5, 1.2),
            rnd(6, 7))
    compare(torch, lambda x: F.gaussian_blur_2d(x, 3), lambda x: reference(x, 3),
            rnd(2, 9, 8, dtype=np.float32), rtol=RTOL32, atol=ATOL32)


# =================================================================== attention


# torch refuses attn_mask together with is_causal (flodl combines them)
@pytest.mark.parametrize("lead", [(2,), (2, 3), ()])
@pytest.mark.parametrize("mask,causal", [(None, False), (None, True), ("bool", False),
                                         ("float", False), ("bool_bcast", False),
                                         ("float_bcast", False)])
@pytest.mark.parametrize("scale", [None, 0.3])
def test_sdpa(torch, TF, lead, mask, causal, scale):
    L, S, E, Ev = 4, 6, 5, 3
    q, k, v = rnd(*lead, L, E), rnd(*lead, S, E, seed=1), rnd(*lead, S, Ev, seed=2)
    m = None
    r = _rng(9)
    if mask == "bool":
        m = r.uniform(size=lead + (L, S)) > 0.3
        m[..., 0] = True
    elif mask == "float":
        m = r.standard_normal(lead + (L, S))
    elif mask == "bool_bcast":
        m = r.uniform(size=(L, S)) > 0.3
        m[:, 1] = True
    elif mask == "float_bcast":
        m = r.standard_normal((1, S))
    compare(torch, F.scaled_dot_product_attention, TF.scaled_dot_product_attention, q, k, v,
            attn_mask=m, is_causal=causal, scale=scale, nograd=("attn_mask",))


def test_sdpa_float_mask_gradient(torch, TF):
    compare(torch, F.scaled_dot_product_attention, TF.scaled_dot_product_attention,
            rnd(2, 3, 4), rnd(2, 5, 4, seed=1), rnd(2, 5, 2, seed=2),
            attn_mask=rnd(2, 3, 5, seed=3))


def test_sdpa_fully_masked_rows_give_zeros(torch, TF):
    # torch 2.x gives 0 (not NaN) for a query whose keys are all masked out
    m = np.ones((3, 5), dtype=bool)
    m[1] = False
    yf, yt = compare(torch, F.scaled_dot_product_attention, TF.scaled_dot_product_attention,
                     rnd(2, 3, 4), rnd(2, 5, 4, seed=1), rnd(2, 5, 2, seed=2), attn_mask=m)
    assert np.all(to_numpy(yt[0])[:, 1] == 0)
    fm = np.zeros((3, 5))
    fm[2] = -np.inf
    compare(torch, F.scaled_dot_product_attention, TF.scaled_dot_product_attention,
            rnd(2, 3, 4), rnd(2, 5, 4, seed=1), rnd(2, 5, 2, seed=2), attn_mask=fm,
            nograd=("attn_mask",))


def test_sdpa_causal_rectangular_and_float32(torch, TF):
    for L, S in ((5, 3), (3, 5)):
        compare(torch, F.scaled_dot_product_attention, TF.scaled_dot_product_attention,
                rnd(2, L, 4), rnd(2, S, 4, seed=1), rnd(2, S, 3, seed=2), is_causal=True)
    compare(torch, F.scaled_dot_product_attention, TF.scaled_dot_product_attention,
            rnd(2, 2, 6, 8, dtype=np.float32), rnd(2, 2, 6, 8, seed=1, dtype=np.float32),
            rnd(2, 2, 6, 8, seed=2, dtype=np.float32), is_causal=True, rtol=RTOL32,
            atol=ATOL32)


def test_sdpa_gqa_and_broadcast_batch(torch, TF):
    compare(torch, F.scaled_dot_product_attention, TF.scaled_dot_product_attention,
            rnd(2, 4, 3, 5), rnd(2, 2, 6, 5, seed=1), rnd(2, 2, 6, 3, seed=2), enable_gqa=True)
    compare(torch, F.scaled_dot_product_attention, TF.scaled_dot_product_attention,
            rnd(2, 3, 4, 5), rnd(1, 3, 6, 5, seed=1), rnd(1, 3, 6, 3, seed=2))


def test_sdpa_dropout_p1_and_training_scale(torch, TF, seeded):
    q, k, v = rnd(2, 3, 4), rnd(2, 5, 4, seed=1), rnd(2, 5, 2, seed=2)
    compare(torch, lambda *a: F.scaled_dot_product_attention(*a, dropout_p=1.0),
            lambda *a: TF.scaled_dot_product_attention(*a, dropout_p=1.0), q, k, v)
    # dropout on the weights: with V = identity, each output row is the attention
    # row with kept entries scaled by 1 / (1 - p)
    p = 0.25
    q, k = rnd(1, 400, 8), rnd(1, 50, 8, seed=1)
    eye = np.eye(50)[None]
    w = to_numpy(TF.softmax(torch.from_numpy(q) @ torch.from_numpy(k).transpose(-1, -2)
                            / math.sqrt(8), -1))
    for mod, conv in ((F, fl.from_numpy), (TF, torch.from_numpy)):
        out = to_numpy(mod.scaled_dot_product_attention(conv(q), conv(k), conv(eye),
                                                        dropout_p=p))
        kept = out != 0
        np.testing.assert_allclose(out[kept], w[kept] / (1 - p), rtol=1e-10)
        assert abs(kept.mean() - (1 - p)) < 0.01


# =================================================================== recurrent


def _torch_cell(torch, fn, H, lstm):
    """torch.gru_cell / torch.lstm_cell as nn.GRUCell / nn.LSTMCell call them:
    hx None means zeros, a 1-D input is one unbatched sample."""
    def cell(x, hx, w_ih, w_hh, b_ih=None, b_hh=None):
        unbatched = x.dim() == 1
        if unbatched:
            x = x.unsqueeze(0)
            if hx is not None:
                hx = tuple(h.unsqueeze(0) for h in hx) if lstm else hx.unsqueeze(0)
        if hx is None:
            z = torch.zeros(x.shape[0], H, dtype=x.dtype)
            hx = (z, z) if lstm else z
        out = fn(x, hx, w_ih, w_hh, b_ih, b_hh)
        if unbatched:
            out = tuple(o.squeeze(0) for o in out) if lstm else out.squeeze(0)
        return out
    return cell


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("hx", [True, False])
@pytest.mark.parametrize("batched", [True, False])
def test_gru_cell(torch, bias, hx, batched):
    H, I = 4, 3
    lead = (5,) if batched else ()
    b = (rnd(3 * H, seed=4), rnd(3 * H, seed=5)) if bias else (None, None)
    compare(torch, F.gru_cell, _torch_cell(torch, torch.gru_cell, H, False), rnd(*lead, I),
            rnd(*lead, H, seed=1) if hx else None, rnd(3 * H, I, seed=2),
            rnd(3 * H, H, seed=3), *b)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("hx", [True, False])
@pytest.mark.parametrize("batched", [True, False])
def test_lstm_cell(torch, bias, hx, batched):
    H, I = 4, 3
    lead = (5,) if batched else ()
    b = (rnd(4 * H, seed=4), rnd(4 * H, seed=5)) if bias else (None, None)
    state = (rnd(*lead, H, seed=1), rnd(*lead, H, seed=6)) if hx else None
    compare(torch, F.lstm_cell, _torch_cell(torch, torch.lstm_cell, H, True), rnd(*lead, I),
            state, rnd(4 * H, I, seed=2), rnd(4 * H, H, seed=3), *b)


def test_rnn_cells_float32(torch):
    f32 = np.float32
    compare(torch, F.gru_cell, torch.gru_cell, rnd(5, 3, dtype=f32), rnd(5, 4, seed=1, dtype=f32),
            rnd(12, 3, seed=2, dtype=f32), rnd(12, 4, seed=3, dtype=f32),
            rnd(12, seed=4, dtype=f32), rnd(12, seed=5, dtype=f32), rtol=RTOL32, atol=ATOL32)
    compare(torch, F.lstm_cell, torch.lstm_cell, rnd(5, 3, dtype=f32),
            (rnd(5, 4, seed=1, dtype=f32), rnd(5, 4, seed=6, dtype=f32)),
            rnd(16, 3, seed=2, dtype=f32), rnd(16, 4, seed=3, dtype=f32),
            rnd(16, seed=4, dtype=f32), rnd(16, seed=5, dtype=f32), rtol=RTOL32, atol=ATOL32)


# ====================================================== similarity and one_hot


@pytest.mark.parametrize("dim", [1, -1, 0])
def test_cosine_similarity(torch, TF, dim):
    compare(torch, F.cosine_similarity, TF.cosine_similarity, rnd(4, 5, 3), rnd(4, 5, 3, seed=1),
            dim=dim)
    compare(torch, F.cosine_similarity, TF.cosine_similarity, rnd(4, 1, 3), rnd(1, 5, 3, seed=1),
            dim=dim)


def test_cosine_similarity_small_norms(torch, TF):
    # torch clamps each norm at eps separately, in place under no_grad: the
    # gradient still flows through a norm below eps
    x, y = rnd(4, 3) * 1e-5, rnd(4, 3, seed=1)
    compare(torch, F.cosine_similarity, TF.cosine_similarity, x, y, eps=1e-3)
    x[0] = 0.0
    compare(torch, F.cosine_similarity, TF.cosine_similarity, x, y, eps=1e-3)
    compare(torch, F.cosine_similarity, TF.cosine_similarity, x, y)


@pytest.mark.parametrize("p,dim", [(2.0, 1), (1.0, -1), (3.0, 0), (float("inf"), 1),
                                   (0.5, 1)])
def test_normalize(torch, TF, p, dim):
    compare(torch, F.normalize, TF.normalize, _distinct(3, 4, 5), p=p, dim=dim)
    x = rnd(3, 4) * 1e-3
    x[1] = 0.0
    compare(torch, F.normalize, TF.normalize, x, p=p, dim=dim % 2, eps=1e-2)


@pytest.mark.parametrize("num_classes", [-1, 7])
def test_one_hot(torch, TF, num_classes):
    idx = np.array([[0, 3, 5], [2, 2, 1]], dtype=np.int64)
    yf, yt = compare(torch, F.one_hot, TF.one_hot, idx, num_classes)
    assert to_numpy(yf[0]).dtype == np.int64


# ================================================================= activations


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dim", [0, 1, -1, 2])
def test_softmax(torch, TF, name, dim):
    x = rnd(3, 4, 5) * 5
    compare(torch, lambda x: getattr(F, name)(x, dim), lambda x: getattr(TF, name)(x, dim), x)
    compare(torch, lambda x: getattr(F, name)(x, dim=dim),
            lambda x: getattr(TF, name)(x, dim=dim), x.astype(np.float32), rtol=RTOL32,
            atol=ATOL32)


def test_softmax_extreme_and_inf(torch, TF):
    x = rnd(3, 5) * 300
    x[1, 2] = -np.inf
    for name in ("softmax", "log_softmax"):
        compare(torch, lambda x: getattr(F, name)(x, -1), lambda x: getattr(TF, name)(x, -1), x)


def test_prelu(torch, TF):
    x = rnd(2, 3, 4, 5)
    compare(torch, F.prelu, TF.prelu, x, np.array([0.25]))
    compare(torch, F.prelu, TF.prelu, x, rnd(3, seed=1))
    compare(torch, F.prelu, TF.prelu, rnd(6, 3), rnd(3, seed=1))
    compare(torch, F.prelu, TF.prelu, rnd(7), np.array([0.1]))


@pytest.mark.parametrize("lo,hi", [(-1.0, 1.0), (-0.5, 2.0), (0.0, 6.0)])
def test_hardtanh(torch, TF, lo, hi):
    x = rnd(5, 7) * 3
    x[0, :3] = [lo, hi, 0.0]   # boundaries: torch passes no gradient there
    compare(torch, F.hardtanh, TF.hardtanh, x, lo, hi)
    compare(torch, F.relu6, TF.relu6, np.concatenate([x.ravel() * 3, [0.0, 6.0]]))


ACTS = [
    ("relu", {}), ("sigmoid", {}), ("tanh", {}), ("gelu", {}), ("gelu", dict(approximate="tanh")),
    ("silu", {}), ("leaky_relu", {}), ("leaky_relu", dict(negative_slope=0.2)), ("elu", {}),
    ("elu", dict(alpha=0.5)), ("selu", {}), ("softplus", {}), ("softplus", dict(beta=2.0)),
    ("softplus", dict(beta=0.5, threshold=3.0)), ("mish", {}), ("hardswish", {}),
    ("hardsigmoid", {}), ("relu6", {}), ("hardtanh", {}),
]


@pytest.mark.parametrize("name,kw", ACTS, ids=[f"{n}{i}" for i, (n, _) in enumerate(ACTS)])
def test_activation(torch, TF, name, kw):
    x = np.concatenate([rnd(60) * 4, [-3.0, 3.0, -1.0, 1.0, 0.5, -0.5, 10.0, 25.0, -25.0,
                                      1e-3, -1e-3, 0.0]])
    # torch's CPU hardsigmoid backward multiplies by 1.0f / 6.0f (a float32 constant)
    # even for float64: its gradient is 1/6 to about 3e-8 only
    gtol = 1e-7 if name == "hardsigmoid" else None
    compare(torch, getattr(F, name), getattr(TF, name), x.reshape(8, 9), grad_rtol=gtol, **kw)
    compare(torch, getattr(F, name), getattr(TF, name), x.reshape(8, 9).astype(np.float32),
            rtol=RTOL32, atol=ATOL32, **kw)


def test_softmax_dtype_and_implicit_dim(torch, TF):
    x = rnd(3, 4, 5)
    for name in ("softmax", "log_softmax"):
        compare(torch, lambda x: getattr(F, name)(x, 1, dtype=fl.DType.Float32),
                lambda x: getattr(TF, name)(x, 1, dtype=torch.float32), x, rtol=RTOL32,
                atol=ATOL32)
        for shape in ((5,), (3, 4), (2, 3, 4), (2, 3, 4, 5)):   # torch's legacy dim rule
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                compare(torch, getattr(F, name), getattr(TF, name), rnd(*shape))


def test_relu_takes_inplace_false(torch, TF):
    compare(torch, lambda x: F.relu(x, inplace=False), lambda x: TF.relu(x, inplace=False),
            rnd(4, 5))
    compare(torch, lambda x: F.relu(x, False), lambda x: TF.relu(x, False), rnd(4, 5))


def test_functional_surface(torch, TF):
    # every op flodl's F exports exists in torch.nn.functional (or torch, for the cells)
    extras = {"gru_cell", "lstm_cell", "lstm_sequence", "gaussian_blur_2d"}
    for name in F.__all__:
        if name not in extras:
            assert hasattr(TF, name), name


# ============================================================ grid_sample: reflection


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("align", [False, True])
@pytest.mark.parametrize("spread", [1.5, 9.0])
def test_grid_sample_reflection(torch, TF, mode, align, spread):
    # spread 9 puts most points several reflections away from the input
    nograd = ("grid",) if mode == "nearest" else ()
    compare(torch, F.grid_sample, TF.grid_sample, rnd(2, 3, 5, 6), grid=_grid(2, 4, 7, 5,
            spread=spread), mode=mode, padding_mode="reflection", align_corners=align,
            nograd=nograd)


@pytest.mark.parametrize("align", [False, True])
def test_grid_sample_reflection_on_borders_and_pixel_centres(torch, TF, align):
    # -1 + 2k lands exactly on a mirror line (all clipped: slope 0); pixel centres,
    # inside and mirrored outside, are floor boundaries
    h, w = 4, 5
    xs = np.array([-1.0, 1.0, -3.0, 3.0, 5.0, -7.0, 0.0, 1 / w - 1, 1 - 1 / w, 2 / w - 1,
                   2 - 1 / w, -1.5, 1.5])
    ys = np.array([-1.0, 1.0, 3.0, -5.0, 1 / h, 1 / h - 1, 1 - 1 / h, 1 + 1 / h, 0.5, -2.25])
    grid = np.stack(np.meshgrid(xs, ys), -1)[None].repeat(2, 0)
    compare(torch, F.grid_sample, TF.grid_sample, rnd(2, 2, h, w), grid=grid,
            padding_mode="reflection", align_corners=align)
    compare(torch, F.grid_sample, TF.grid_sample, rnd(2, 2, h, w), grid=grid, mode="nearest",
            padding_mode="reflection", align_corners=align, nograd=("grid",))


@pytest.mark.parametrize("align", [False, True])
def test_grid_sample_reflection_affine_grids(torch, TF, align):
    # zoomed-out and shifted affine grids: rows of points on pixel centres, inside
    # and mirrored
    theta = torch.tensor([[[2.5, 0, 0], [0, 3.0, 0]], [[1.6, 0.7, 2.1], [-0.9, 2.2, -1.3]]],
                         dtype=torch.float64)
    for h, w, oh, ow in [(4, 5, 8, 9), (3, 3, 6, 6)]:
        grid = TF.affine_grid(theta, (2, 3, oh, ow), align_corners=align).numpy()
        for mode in ("bilinear", "nearest"):
            compare(torch, F.grid_sample, TF.grid_sample, rnd(2, 3, h, w), grid=grid,
                    mode=mode, padding_mode="reflection", align_corners=align,
                    nograd=("grid",) if mode == "nearest" else ())


@pytest.mark.parametrize("shape", [(1, 2, 1, 4), (1, 2, 3, 1), (1, 1, 1, 1)])
@pytest.mark.parametrize("align", [False, True])
def test_grid_sample_reflection_size_one_dims(torch, TF, shape, align):
    grid = _grid(1, 3, 4, 3, spread=4.0)
    grid[0, 0, :, 0] = [-1.0, 1.0, 3.0, 0.0]
    for mode in ("bilinear", "nearest"):
        compare(torch, F.grid_sample, TF.grid_sample, rnd(*shape), grid=grid, mode=mode,
                padding_mode="reflection", align_corners=align,
                nograd=("grid",) if mode == "nearest" else ())


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("align", [False, True])
def test_grid_sample_reflection_float32(torch, TF, mode, align):
    grid = _grid(2, 3, 4, 2, spread=6.0).astype(np.float32)
    grid[0, 0, :, 0] = [-1.0, 1.0, 3.0, -5.0]
    compare(torch, F.grid_sample, TF.grid_sample, rnd(2, 2, 6, 5, dtype=np.float32),
            grid=grid, mode=mode, padding_mode="reflection", align_corners=align,
            nograd=("grid",) if mode == "nearest" else (), rtol=RTOL32, atol=ATOL32)
