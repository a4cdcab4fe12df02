"""Every layer against PyTorch: state_dict layout, outputs, gradients, buffers, init.

Each case builds the torch module and the flodl module with the same constructor
arguments, checks that ``state_dict()`` has the same names in the same order with
the same shapes and dtypes, loads torch's state dict into flodl, then runs both on
the same inputs (train and eval mode, several training forwards so running
statistics move) and compares outputs and gradients with respect to every
floating input and every parameter, plus the buffers after the run. Expected
values always come from torch. Skipped where torch is not installed.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import flodl_core as fl
from flodl_core import nn

from .conftest import assert_close, to_numpy

F64, F32 = fl.DType.Float64, fl.DType.Float32
TOL = {np.float64: dict(rtol=1e-7, atol=1e-10), np.float32: dict(rtol=2e-4, atol=2e-5)}


# ----------------------------------------------------------------- harness


def _np_dtype(torch, t):
    return {torch.float64: np.float64, torch.float32: np.float32, torch.int64: np.int64,
            torch.bool: np.bool_, torch.int32: np.int32}[t]


def _convert(torch, a, dtype, grad, leaves):
    """One argument for both frameworks: (torch value, flodl value)."""
    if isinstance(a, np.ndarray):
        if a.dtype.kind == "f":
            a = a.astype(dtype)
            t = torch.tensor(a, requires_grad=grad)
            f = fl.Variable(fl.from_numpy(a.copy()), requires_grad=grad)
            if grad:
                leaves.append((t, f))
            return t, f
        return torch.tensor(a), fl.from_numpy(a.copy())
    if isinstance(a, (tuple, list)) and any(isinstance(x, np.ndarray) for x in a):
        pairs = [_convert(torch, x, dtype, grad, leaves) for x in a]
        return tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)
    return a, a


def _flat(out):
    if isinstance(out, (tuple, list)):
        return [x for o in out for x in _flat(o)]
    return [out]


def check_state_layout(torch, tm, fm):
    """Same state_dict names, order, shapes and dtypes."""
    ts, fs = tm.state_dict(), fm.state_dict()
    assert list(fs) == list(ts), f"state_dict names/order: flodl {list(fs)} != torch {list(ts)}"
    for k, v in ts.items():
        assert tuple(fs[k].shape) == tuple(v.shape), f"{k}: shape {fs[k].shape} != {v.shape}"
        assert np.dtype(fs[k].dtype) == np.dtype(_np_dtype(torch, v.dtype)), \
            f"{k}: dtype {fs[k].dtype} != torch {v.dtype}"
    tn = [n for n, _ in tm.named_parameters()]
    assert [n for n, _ in fm.named_parameters()] == tn
    assert [n for n, _ in fm.named_buffers()] == [n for n, _ in tm.named_buffers()]


def load_torch_state(tm, fm):
    report = fm.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
    assert report.ok, str(report)


def compare(torch, tm, fm, args=(), kwargs=None, modes=("train", "eval"), dtype=np.float64,
            grad=True, tol=None, seed=0, layout=True, fwd=None):
    """Run both modules on the same inputs in each mode and compare everything.

    ``fwd(module, *args, **kwargs)`` overrides the call (e.g. to pass output_size).
    """
    tol = tol or TOL[dtype]
    kwargs = kwargs or {}
    tdt = {np.float64: torch.float64, np.float32: torch.float32}[dtype]
    tm = tm.to(tdt)
    fm = fm.to(F64 if dtype == np.float64 else F32)
    if layout:
        check_state_layout(torch, tm, fm)
    load_torch_state(tm, fm)
    rng = np.random.default_rng(seed)
    call = fwd or (lambda m, *a, **k: m(*a, **k))
    for step, mode in enumerate(modes):
        tm.train(mode == "train")
        fm.train(mode == "train")
        tm.zero_grad(set_to_none=True)
        fm.zero_grad()
        leaves = []
        conv = [_convert(torch, a, dtype, grad, leaves) for a in args]
        kconv = {k: _convert(torch, v, dtype, grad, leaves) for k, v in kwargs.items()}
        t_out = call(tm, *[c[0] for c in conv], **{k: v[0] for k, v in kconv.items()})
        f_out = call(fm, *[c[1] for c in conv], **{k: v[1] for k, v in kconv.items()})
        t_flat, f_flat = _flat(t_out), _flat(f_out)
        assert len(t_flat) == len(f_flat), f"{mode}: {len(f_flat)} outputs != {len(t_flat)}"
        t_loss, f_loss = 0, 0
        for i, (t, f) in enumerate(zip(t_flat, f_flat)):
            what = f"{type(tm).__name__} {mode} step {step} output {i}"
            if t is None:
                assert f is None, what
                continue
            assert f is not None, what
            if t.dtype in (torch.int64, torch.bool, torch.int32):
                np.testing.assert_array_equal(to_numpy(f), to_numpy(t), err_msg=what)
                continue
            assert np.dtype(to_numpy(f).dtype) == np.dtype(_np_dtype(torch, t.dtype)), \
                f"{what}: dtype {to_numpy(f).dtype} != torch {t.dtype}"
            assert_close(f, t, what=what, **tol)
            if grad and t.requires_grad:
                g = rng.standard_normal(tuple(t.shape)).astype(dtype)
                t_loss = t_loss + (t * torch.tensor(g)).sum()
                f_loss = f_loss + (f * fl.from_numpy(g)).sum()
        if grad and not isinstance(t_loss, int):
            t_loss.backward()
            f_loss.backward()
            for j, (t, f) in enumerate(leaves):
                tg = t.grad if t.grad is not None else torch.zeros_like(t)
                assert f.grad is not None, f"input {j}: flodl grad is None"
                assert to_numpy(f.grad).dtype == to_numpy(tg).dtype, f"input {j} grad dtype"
                assert_close(f.grad, tg, what=f"{mode} grad input {j}", **tol)
            fp = dict(fm.named_parameters())
            for name, p in tm.named_parameters():
                tg = p.grad if p.grad is not None else torch.zeros_like(p)
                fg = fp[name].grad
                fg = np.zeros(tuple(p.shape)) if fg is None else fg
                assert_close(fg, tg, what=f"{mode} grad {name}", **tol)
        # buffers (running statistics) after every forward
        fs = fm.state_dict()
        for k, v in tm.state_dict().items():
            assert_close(fs[k], v, what=f"{mode} step {step} state {k}", **tol)
    return tm, fm


def both(torch, name, *args, flname=None, **kwargs):
    """torch.nn.<name>(*args, **kwargs) and fl.nn.<flname or name>(same)."""
    torch.manual_seed(0)
    return (getattr(torch.nn, name)(*args, **kwargs),
            getattr(nn, flname or name)(*args, **kwargs))


_RNG = np.random.default_rng(1)


def R(*shape):
    """Standard-normal float64 test data."""
    return _RNG.standard_normal(shape)


def distinct(*shape):
    """Values without ties (max pooling is not differentiable at ties)."""
    n = int(np.prod(shape))
    return (_RNG.permutation(n).reshape(shape) - n / 2) * 0.1


# ------------------------------------------------------------------ dense


@pytest.mark.parametrize("bias", [True, False])
def test_linear(torch, bias):
    compare(torch, *both(torch, "Linear", 5, 3, bias=bias), [R(4, 5)])
    compare(torch, *both(torch, "Linear", 5, 3, bias=bias), [R(2, 3, 5)])
    compare(torch, *both(torch, "Linear", 5, 3, bias=bias), [R(5)])


def test_linear_float32(torch):
    compare(torch, *both(torch, "Linear", 7, 4), [R(6, 7)], dtype=np.float32)


@pytest.mark.parametrize("bias", [True, False])
def test_bilinear(torch, bias):
    compare(torch, *both(torch, "Bilinear", 3, 4, 2, bias=bias), [R(5, 3), R(5, 4)])
    compare(torch, *both(torch, "Bilinear", 3, 4, 2, bias=bias), [R(2, 5, 3), R(2, 5, 4)])


def test_bilinear_unbatched(torch):
    compare(torch, *both(torch, "Bilinear", 3, 4, 2), [R(3), R(4)])


def test_identity_and_flatten(torch):
    compare(torch, *both(torch, "Identity", 3, foo=1), [R(2, 3)])
    compare(torch, *both(torch, "Flatten"), [R(2, 3, 4, 5)])
    compare(torch, *both(torch, "Flatten", 0, 2), [R(2, 3, 4, 5)])
    compare(torch, *both(torch, "Flatten", start_dim=-3, end_dim=-2), [R(2, 3, 4, 5)])
    compare(torch, *both(torch, "Flatten", 1, -1), [R(2, 3)])


# ----------------------------------------------------------- convolutions


CONV_CASES = [
    ("Conv1d", dict(in_channels=4, out_channels=6, kernel_size=3), (2, 4, 9)),
    ("Conv1d", dict(in_channels=4, out_channels=6, kernel_size=3, stride=2, padding=2,
                    dilation=2, groups=2), (2, 4, 11)),
    ("Conv1d", dict(in_channels=2, out_channels=3, kernel_size=4, padding="same",
                    dilation=1, bias=False), (2, 2, 7)),
    ("Conv1d", dict(in_channels=2, out_channels=3, kernel_size=3, padding="valid"), (2, 7)),
    ("Conv2d", dict(in_channels=3, out_channels=4, kernel_size=3, padding=1), (2, 3, 5, 6)),
    ("Conv2d", dict(in_channels=4, out_channels=4, kernel_size=(2, 3), stride=(2, 1),
                    padding=(1, 0), dilation=(1, 2), groups=4), (2, 4, 6, 7)),
    ("Conv2d", dict(in_channels=2, out_channels=4, kernel_size=3, padding="same",
                    dilation=2, groups=2), (1, 2, 6, 5)),
    ("Conv2d", dict(in_channels=2, out_channels=3, kernel_size=2, bias=False), (2, 4, 4)),
    ("Conv3d", dict(in_channels=2, out_channels=2, kernel_size=(2, 1, 2), stride=(1, 2, 1),
                    padding=(1, 0, 1), dilation=(1, 1, 2)), (1, 2, 3, 4, 5)),
    ("Conv3d", dict(in_channels=2, out_channels=4, kernel_size=2, groups=2), (2, 3, 3, 3)),
]


@pytest.mark.parametrize("name, kw, shape", CONV_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CONV_CASES)])
def test_conv(torch, name, kw, shape):
    compare(torch, *both(torch, name, **kw), [R(*shape)])


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("name, shape", [("Conv1d", (2, 2, 7)), ("Conv2d", (1, 2, 5, 6)),
                                         ("Conv3d", (1, 2, 4, 4, 3))])
def test_conv_padding_modes(torch, name, shape, mode):
    compare(torch, *both(torch, name, 2, 3, 3, padding=1, padding_mode=mode), [R(*shape)])
    compare(torch, *both(torch, name, 2, 4, 2, padding="same", padding_mode=mode, groups=2),
            [R(*shape)])


def test_conv_float32(torch):
    compare(torch, *both(torch, "Conv2d", 3, 5, 3, stride=2, padding=1), [R(2, 3, 8, 8)],
            dtype=np.float32)


CONVT_CASES = [
    ("ConvTranspose1d", dict(in_channels=4, out_channels=6, kernel_size=3, stride=2,
                             padding=1, output_padding=1, groups=2), (2, 4, 5)),
    ("ConvTranspose1d", dict(in_channels=2, out_channels=3, kernel_size=3, dilation=2,
                             bias=False), (2, 6)),
    ("ConvTranspose2d", dict(in_channels=3, out_channels=2, kernel_size=(2, 3), stride=(2, 1),
                             padding=(0, 1)), (2, 3, 4, 3)),
    ("ConvTranspose2d", dict(in_channels=4, out_channels=4, kernel_size=3, stride=3,
                             padding=1, output_padding=2, groups=4, dilation=1), (1, 4, 3, 3)),
    ("ConvTranspose2d", dict(in_channels=2, out_channels=3, kernel_size=2, stride=2,
                             dilation=2, output_padding=1), (2, 3, 3)),
    ("ConvTranspose3d", dict(in_channels=2, out_channels=2, kernel_size=(1, 2, 2),
                             stride=(1, 2, 1), padding=(0, 1, 0), dilation=(1, 1, 2)),
     (1, 2, 2, 3, 3)),
]


@pytest.mark.parametrize("name, kw, shape", CONVT_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CONVT_CASES)])
def test_conv_transpose(torch, name, kw, shape):
    compare(torch, *both(torch, name, **kw), [R(*shape)])


@pytest.mark.parametrize("output_size", [(8, 10), [2, 2, 7, 9], (7, 10)])
def test_conv_transpose_output_size(torch, output_size):
    tm, fm = both(torch, "ConvTranspose2d", 3, 2, 3, stride=2, padding=1)
    compare(torch, tm, fm, [R(2, 3, 4, 5)],
            fwd=lambda m, x: m(x, output_size=output_size))
    tm, fm = both(torch, "ConvTranspose1d", 3, 2, 3, stride=3)
    compare(torch, tm, fm, [R(2, 3, 4)], fwd=lambda m, x: m(x, output_size=[13]))
    for size in ([10], [3, 10]):     # unbatched (C, L): (L,) or (C, L)
        tm, fm = both(torch, "ConvTranspose1d", 2, 3, 3, stride=2)
        compare(torch, tm, fm, [R(2, 4)], fwd=lambda m, x: m(x, output_size=size))


# --------------------------------------------------------------- pooling


POOL_CASES = [
    ("MaxPool1d", dict(kernel_size=3), (2, 3, 10)),
    ("MaxPool1d", dict(kernel_size=3, stride=2, padding=1, dilation=2, ceil_mode=True),
     (2, 3, 10)),
    ("MaxPool1d", dict(kernel_size=2, return_indices=True), (3, 9)),
    ("MaxPool2d", dict(kernel_size=2), (2, 3, 6, 7)),
    ("MaxPool2d", dict(kernel_size=(3, 2), stride=(2, 1), padding=1, dilation=(1, 2),
                       ceil_mode=True), (2, 2, 7, 8)),
    ("MaxPool2d", dict(kernel_size=3, stride=2, return_indices=True, ceil_mode=True),
     (2, 7, 6)),
    ("AvgPool1d", dict(kernel_size=3), (2, 3, 10)),
    ("AvgPool1d", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True,
                       count_include_pad=False), (2, 3, 10)),
    ("AvgPool1d", dict(kernel_size=4, stride=3, padding=2, ceil_mode=True), (3, 10)),
    ("AvgPool2d", dict(kernel_size=2), (2, 3, 6, 7)),
    ("AvgPool2d", dict(kernel_size=(3, 2), stride=(2, 1), padding=1, ceil_mode=True),
     (2, 2, 7, 8)),
    ("AvgPool2d", dict(kernel_size=3, stride=2, padding=1, count_include_pad=False,
                       ceil_mode=True), (2, 2, 6, 7)),
    ("AvgPool2d", dict(kernel_size=2, divisor_override=3), (2, 5, 6)),
    ("AdaptiveAvgPool2d", dict(output_size=(3, 2)), (2, 3, 7, 5)),
    ("AdaptiveAvgPool2d", dict(output_size=4), (2, 5, 6)),
    ("AdaptiveAvgPool2d", dict(output_size=(None, 3)), (2, 2, 5, 7)),
    ("AdaptiveMaxPool2d", dict(output_size=(3, 2)), (2, 3, 7, 5)),
    ("AdaptiveMaxPool2d", dict(output_size=4, return_indices=True), (2, 5, 6)),
    ("AdaptiveMaxPool2d", dict(output_size=(None, 2), return_indices=True), (1, 2, 5, 7)),
]


@pytest.mark.parametrize("name, kw, shape", POOL_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(POOL_CASES)])
def test_pool(torch, name, kw, shape):
    compare(torch, *both(torch, name, **kw), [distinct(*shape)])


# ------------------------------------------------------ spatial reshaping


def test_pixel_shuffle(torch):
    compare(torch, *both(torch, "PixelShuffle", 2), [R(2, 8, 3, 4)])
    compare(torch, *both(torch, "PixelShuffle", 3), [R(2, 2, 18, 2, 3)])
    compare(torch, *both(torch, "PixelUnshuffle", 2), [R(2, 3, 4, 6)])
    compare(torch, *both(torch, "PixelUnshuffle", 3), [R(3, 6, 3)])


UPSAMPLE_CASES = [
    (dict(scale_factor=2), (2, 3, 4, 5)),
    (dict(scale_factor=2, mode="nearest"), (2, 3, 5)),
    (dict(size=(5, 7), mode="nearest"), (2, 3, 3, 4)),
    (dict(scale_factor=1.7, mode="nearest"), (1, 2, 4, 5)),
    (dict(size=7, mode="nearest-exact"), (2, 3, 4, 5)),
    (dict(scale_factor=1.5, mode="nearest-exact"), (2, 3, 5)),
    (dict(scale_factor=2, mode="linear"), (2, 3, 5)),
    (dict(size=8, mode="linear", align_corners=True), (2, 3, 5)),
    (dict(scale_factor=2, mode="bilinear"), (2, 3, 4, 5)),
    (dict(scale_factor=2, mode="bilinear", align_corners=True), (2, 3, 4, 5)),
    (dict(size=(7, 3), mode="bilinear"), (2, 3, 4, 5)),
    (dict(scale_factor=(1.5, 2.5), mode="bilinear"), (1, 2, 4, 4)),
    (dict(size=(6, 9), mode="bicubic"), (1, 2, 4, 5)),
    (dict(scale_factor=2, mode="bicubic", align_corners=True), (1, 2, 3, 4)),
    (dict(scale_factor=1.7, mode="bilinear", recompute_scale_factor=True), (1, 2, 4, 5)),
    (dict(scale_factor=1.7, mode="nearest", recompute_scale_factor=True), (1, 2, 4, 5)),
    (dict(scale_factor=0.5, mode="bilinear"), (1, 2, 6, 8)),
    (dict(size=(3, 2), mode="area"), (1, 2, 7, 5)),
]


@pytest.mark.parametrize("kw, shape", UPSAMPLE_CASES,
                         ids=[f"{c[0].get('mode', 'nearest')}-{i}"
                              for i, c in enumerate(UPSAMPLE_CASES)])
def test_upsample(torch, kw, shape):
    compare(torch, *both(torch, "Upsample", **kw), [R(*shape)])


def test_unfold_fold(torch):
    compare(torch, *both(torch, "Unfold", 2), [R(2, 3, 4, 5)])
    compare(torch, *both(torch, "Unfold", (2, 3), dilation=(1, 2), padding=1, stride=(2, 1)),
            [R(2, 3, 5, 6)])
    compare(torch, *both(torch, "Unfold", kernel_size=3, padding=1), [R(2, 4, 4)])
    compare(torch, *both(torch, "Fold", (4, 5), 2), [R(2, 12, 12)])
    compare(torch, *both(torch, "Fold", output_size=(5, 6), kernel_size=(2, 3),
                         dilation=(1, 2), padding=1, stride=(2, 1)), [R(2, 18, 12)])
    compare(torch, *both(torch, "Fold", (3, 3), 2, padding=1, stride=2), [R(8, 4)])


def test_padding_layers(torch):
    compare(torch, *both(torch, "ZeroPad2d", 2), [R(2, 3, 4, 5)])
    compare(torch, *both(torch, "ZeroPad2d", (1, 0, 2, 3)), [R(3, 4, 5)])
    compare(torch, *both(torch, "ZeroPad2d", (-1, 2, 0, -2)), [R(2, 3, 4, 5)])
    compare(torch, *both(torch, "ReflectionPad2d", 2), [R(2, 3, 4, 5)])
    compare(torch, *both(torch, "ReflectionPad2d", (1, 3, 0, 2)), [R(3, 4, 5)])


# ---------------------------------------------------------- normalisation


def _perturb_torch(tm, seed=5):
    """Non-trivial affine parameters and running statistics (torch side)."""
    import torch
    g = np.random.default_rng(seed)
    with torch.no_grad():
        for name, t in list(tm.named_parameters()) + list(tm.named_buffers()):
            if t.dtype.is_floating_point:
                vals = g.uniform(0.5, 1.5, tuple(t.shape)) if "var" in name else \
                    g.standard_normal(tuple(t.shape))
                t.copy_(torch.tensor(vals))
    return tm


TRAIN3 = ("train", "train", "train", "eval", "train", "eval")


@pytest.mark.parametrize("kw", [dict(), dict(elementwise_affine=False), dict(bias=False),
                                dict(eps=1e-3)])
def test_layer_norm(torch, kw):
    tm, fm = both(torch, "LayerNorm", (3, 4), **kw)
    compare(torch, _perturb_torch(tm), fm, [R(2, 5, 3, 4)])
    tm, fm = both(torch, "LayerNorm", 6, **kw)
    compare(torch, _perturb_torch(tm), fm, [R(4, 6)])


def test_layer_norm_float32(torch):
    tm, fm = both(torch, "LayerNorm", 16)
    compare(torch, _perturb_torch(tm), fm, [R(4, 16) * 3 + 1], dtype=np.float32)


@pytest.mark.parametrize("kw", [dict(), dict(eps=1e-4), dict(elementwise_affine=False)])
def test_rms_norm(torch, kw):
    tm, fm = both(torch, "RMSNorm", (3, 4), **kw)
    compare(torch, _perturb_torch(tm), fm, [R(2, 3, 4)])
    tm, fm = both(torch, "RMSNorm", 5, **kw)
    compare(torch, _perturb_torch(tm), fm, [R(2, 5)])
    tm, fm = both(torch, "RMSNorm", 5, **kw)
    compare(torch, _perturb_torch(tm), fm, [R(2, 5)], dtype=np.float32)


@pytest.mark.parametrize("kw", [dict(), dict(affine=False), dict(eps=1e-3)])
def test_group_norm(torch, kw):
    tm, fm = both(torch, "GroupNorm", 2, 6, **kw)
    compare(torch, _perturb_torch(tm), fm, [R(3, 6, 4)])
    tm, fm = both(torch, "GroupNorm", 3, 6, **kw)
    compare(torch, _perturb_torch(tm), fm, [R(2, 6, 3, 2)])
    tm, fm = both(torch, "GroupNorm", 1, 4, **kw)
    compare(torch, _perturb_torch(tm), fm, [R(3, 4)])


BN_KW = [dict(), dict(affine=False), dict(track_running_stats=False), dict(momentum=None),
         dict(momentum=0.3, eps=1e-3), dict(affine=False, track_running_stats=False)]


@pytest.mark.parametrize("kw", BN_KW, ids=[str(k) for k in BN_KW])
@pytest.mark.parametrize("flname", ["BatchNorm1d", "BatchNorm"])
def test_batch_norm_1d(torch, kw, flname):
    for shape in [(5, 3), (4, 3, 6)]:
        tm, fm = both(torch, "BatchNorm1d", 3, flname=flname, **kw)
        compare(torch, _perturb_torch(tm), fm, [R(*shape)], modes=TRAIN3)


@pytest.mark.parametrize("kw", BN_KW, ids=[str(k) for k in BN_KW])
def test_batch_norm_2d(torch, kw):
    tm, fm = both(torch, "BatchNorm2d", 3, **kw)
    compare(torch, _perturb_torch(tm), fm, [R(2, 3, 4, 5)], modes=TRAIN3)


def test_batch_norm_fresh_stats_and_float32(torch):
    # running stats from their defaults (0, 1), several batches, float32
    tm, fm = both(torch, "BatchNorm2d", 4)
    compare(torch, tm, fm, [R(3, 4, 5, 5) * 2 + 1], modes=TRAIN3, dtype=np.float32)
    tm, fm = both(torch, "BatchNorm1d", 4, momentum=None)
    compare(torch, tm, fm, [R(6, 4)], modes=TRAIN3, dtype=np.float32)


IN_KW = [dict(), dict(affine=True), dict(track_running_stats=True),
         dict(affine=True, track_running_stats=True, momentum=0.3), dict(momentum=None,
                                                                        track_running_stats=True)]


@pytest.mark.parametrize("kw", IN_KW, ids=[str(k) for k in IN_KW])
def test_instance_norm(torch, kw):
    for tname, flname, shapes in [("InstanceNorm1d", "InstanceNorm1d", [(3, 4, 6), (4, 5)]),
                                  ("InstanceNorm2d", "InstanceNorm", [(2, 4, 3, 5),
                                                                      (4, 3, 3)])]:
        for shape in shapes:
            tm, fm = both(torch, tname, 4, flname=flname, **kw)
            compare(torch, _perturb_torch(tm), fm, [R(*shape)], modes=TRAIN3)


# ----------------------------------------------------------------- dropout


@pytest.mark.parametrize("name", ["Dropout", "Dropout2d", "AlphaDropout"])
def test_dropout_eval_is_identity(torch, name):
    compare(torch, *both(torch, name, 0.4), [R(2, 3, 4, 5)], modes=("eval",))
    compare(torch, *both(torch, name, 0.0), [R(2, 3, 4, 5)], modes=("train", "eval"))
    compare(torch, *both(torch, name, 1.0), [R(2, 3, 4, 5)], modes=("train",))  # all zeros


def _dropout_structure(x, out, whole_rows):
    """(drop rate, dropped value, kept slope, kept offset) read off one output: kept
    elements are an affine map of the input, dropped ones a constant."""
    vals, counts = np.unique(out, return_counts=True)
    c = vals[counts.argmax()]
    drop = out == c
    if whole_rows:   # channel dropout: each (n, c) row dropped or kept as a whole
        assert np.all(drop.all(-1) | ~drop.any(-1))
    a, b = np.polyfit(x[~drop], out[~drop], 1)
    np.testing.assert_allclose(out[~drop], a * x[~drop] + b, atol=1e-12)
    return drop.mean(), c, a, b


@pytest.mark.parametrize("name, p", [("Dropout", 0.3), ("Dropout2d", 0.5),
                                     ("AlphaDropout", 0.2), ("AlphaDropout", 0.5)])
def test_dropout_train_distribution(torch, name, p):
    """Train mode is random: compare the drop rate, the scaling of kept values and the
    value given to dropped ones with torch's (read off torch's own output)."""
    fl.manual_seed(0)
    torch.manual_seed(0)
    x = R(300, 40, 8)            # Dropout2d reads a 3-D input as (N, C, L), as torch does
    t_out = getattr(torch.nn, name)(p).train()(torch.tensor(x)).numpy()
    f_out = to_numpy(getattr(nn, name)(p).train()(fl.from_numpy(x)))
    rows = name == "Dropout2d"
    ft, tt = _dropout_structure(x, f_out, rows), _dropout_structure(x, t_out, rows)
    n = x.size / (x.shape[-1] if rows else 1)
    assert abs(ft[0] - tt[0]) < 6 * math.sqrt(2 * p * (1 - p) / n), (ft, tt)
    np.testing.assert_allclose(ft[1:], tt[1:], rtol=1e-9, atol=1e-12)


# --------------------------------------------------------------- embedding


@pytest.mark.parametrize("kw", [dict(), dict(padding_idx=2), dict(padding_idx=-1),
                                dict(scale_grad_by_freq=True)])
def test_embedding(torch, kw):
    idx = np.array([[0, 2, 4, 2], [6, 1, 2, 0]])
    tm, fm = compare(torch, *both(torch, "Embedding", 7, 3, **kw), [idx])
    if "padding_idx" in kw:
        p = kw["padding_idx"] % 7
        assert np.all(to_numpy(fm.weight.grad)[p] == 0)
        assert np.all(to_numpy(tm.weight.grad)[p] == 0)


def test_embedding_from_pretrained(torch):
    w = R(6, 3)
    for cls in ["Embedding", "EmbeddingBag"]:
        for freeze in (True, False):
            tm = getattr(torch.nn, cls).from_pretrained(torch.tensor(w), freeze=freeze)
            fm = getattr(nn, cls).from_pretrained(fl.from_numpy(w), freeze=freeze)
            assert fm.weight.requires_grad == tm.weight.requires_grad
            compare(torch, tm, fm, [np.array([[0, 5, 2], [1, 1, 4]])], grad=not freeze)


def test_embedding_max_norm(torch):
    idx = np.array([0, 3, 3, 1])
    tm, fm = both(torch, "Embedding", 5, 4, max_norm=1.0)
    compare(torch, tm, fm, [idx], modes=("eval", "train"))
    # the looked-up rows were renormalised in place in both
    assert_close(fm.weight, tm.weight, what="renormalised weight")


def test_embedding_max_norm_padding(torch):
    idx = np.array([[0, 3, 2], [2, 1, 3]])
    tm, fm = both(torch, "Embedding", 5, 4, max_norm=0.5, norm_type=1.0, padding_idx=2)
    compare(torch, tm, fm, [idx], modes=("train", "eval"))
    assert_close(fm.weight, tm.weight, what="renormalised weight")


EBAG_CASES = [
    (dict(mode="mean"), [np.array([[0, 2, 4], [5, 1, 2]])]),
    (dict(mode="sum"), [np.array([1, 5, 5, 0, 2, 3]), np.array([0, 2, 2, 5])]),
    (dict(mode="max"), [np.array([1, 5, 4, 0, 2, 3]), np.array([0, 2, 5])]),
    (dict(mode="mean", include_last_offset=True), [np.array([1, 5, 4, 0, 2, 3]),
                                                   np.array([0, 2, 5, 6])]),
    (dict(mode="sum", padding_idx=2), [np.array([[0, 2, 4], [2, 2, 1]])]),
    (dict(mode="mean", padding_idx=2), [np.array([1, 2, 2, 0, 2, 3]), np.array([0, 1, 3, 4])]),
    (dict(mode="max", padding_idx=0), [np.array([[0, 2, 4], [5, 0, 2]])]),
    (dict(mode="sum", include_last_offset=True), [np.array([1, 5, 4, 0, 2, 3]),
                                                  np.array([0, 2, 2, 6])]),
]


@pytest.mark.parametrize("kw, args", EBAG_CASES, ids=[str(c[0]) for c in EBAG_CASES])
def test_embedding_bag(torch, kw, args):
    compare(torch, *both(torch, "EmbeddingBag", 6, 3, **kw), args)


def test_embedding_bag_per_sample_weights(torch):
    compare(torch, *both(torch, "EmbeddingBag", 6, 3, mode="sum"),
            [np.array([1, 5, 5, 0, 2, 3]), np.array([0, 2, 4])],
            kwargs=dict(per_sample_weights=R(6)))
    compare(torch, *both(torch, "EmbeddingBag", 6, 3, mode="sum", padding_idx=5),
            [np.array([[1, 5, 5], [0, 2, 3]])], kwargs=dict(per_sample_weights=R(2, 3)))


# ------------------------------------------------------------- recurrent


@pytest.mark.parametrize("bias", [True, False])
def test_gru_cell(torch, bias):
    compare(torch, *both(torch, "GRUCell", 3, 4, bias=bias), [R(5, 3)])
    compare(torch, *both(torch, "GRUCell", 3, 4, bias=bias), [R(5, 3), R(5, 4)])
    compare(torch, *both(torch, "GRUCell", 3, 4, bias=bias), [R(3), R(4)])


@pytest.mark.parametrize("bias", [True, False])
def test_lstm_cell(torch, bias):
    compare(torch, *both(torch, "LSTMCell", 3, 4, bias=bias), [R(5, 3)])
    compare(torch, *both(torch, "LSTMCell", 3, 4, bias=bias), [R(5, 3), (R(5, 4), R(5, 4))])
    compare(torch, *both(torch, "LSTMCell", 3, 4, bias=bias), [R(3), (R(4), R(4))])


RNN_KW = [dict(), dict(num_layers=2), dict(batch_first=True),
          dict(num_layers=2, bidirectional=True), dict(bidirectional=True, batch_first=True),
          dict(num_layers=2, bias=False, bidirectional=True, batch_first=True)]


@pytest.mark.parametrize("kw", RNN_KW, ids=[str(k) for k in RNN_KW])
@pytest.mark.parametrize("name", ["GRU", "LSTM"])
def test_rnn(torch, name, kw):
    L, N, I, H = 4, 3, 3, 5
    layers = kw.get("num_layers", 1) * (2 if kw.get("bidirectional") else 1)
    x = R(N, L, I) if kw.get("batch_first") else R(L, N, I)

    def state(*lead):
        return R(*lead, H) if name == "GRU" else (R(*lead, H), R(*lead, H))
    compare(torch, *both(torch, name, I, H, **kw), [x])
    compare(torch, *both(torch, name, I, H, **kw), [x, state(layers, N)])
    # unbatched (L, input_size) input, with and without initial state
    compare(torch, *both(torch, name, I, H, **kw), [R(L, I)])
    compare(torch, *both(torch, name, I, H, **kw), [R(L, I), state(layers)])


@pytest.mark.parametrize("name", ["GRU", "LSTM"])
def test_rnn_dropout_is_off_in_eval(torch, name):
    compare(torch, *both(torch, name, 3, 4, num_layers=3, dropout=0.5, bidirectional=True),
            [R(5, 2, 3)], modes=("eval",))


def test_rnn_float32(torch):
    compare(torch, *both(torch, "LSTM", 4, 6, num_layers=2, bidirectional=True),
            [R(5, 2, 4)], dtype=np.float32)
    compare(torch, *both(torch, "GRU", 4, 6, batch_first=True), [R(2, 5, 4)],
            dtype=np.float32)


# -------------------------------------------------------------- attention


def _mha_inputs(batch_first, unbatched=False, kdim=6, vdim=6, L=3, S=4, N=2, E=6):
    if unbatched:
        return [R(L, E), R(S, kdim), R(S, vdim)]
    if batch_first:
        return [R(N, L, E), R(N, S, kdim), R(N, S, vdim)]
    return [R(L, N, E), R(S, N, kdim), R(S, N, vdim)]


def _mha(torch, tm):
    """Non-zero input-projection and output biases (torch starts them at zero)."""
    with torch.no_grad():
        for name, p in tm.named_parameters():
            if "bias" in name:
                p.copy_(torch.randn(p.shape) * 0.5)
    return tm


MHA_KW = [dict(), dict(batch_first=True), dict(bias=False), dict(kdim=5, vdim=4),
          dict(kdim=5, vdim=4, batch_first=True, bias=False)]


@pytest.mark.parametrize("kw", MHA_KW, ids=[str(k) for k in MHA_KW])
def test_multihead_attention(torch, kw):
    bf = kw.get("batch_first", False)
    kd, vd = kw.get("kdim", 6), kw.get("vdim", 6)
    args = _mha_inputs(bf, kdim=kd, vdim=vd)
    kpm = np.array([[False, True, False, False], [False, False, False, True]])
    am_b = np.array([[False, True, False, False], [False, False, True, False],
                     [True, False, False, False]])
    am_f = R(3, 4)
    am_3 = R(2 * 2, 3, 4)
    calls = [dict(), dict(need_weights=False), dict(average_attn_weights=False),
             dict(key_padding_mask=kpm), dict(attn_mask=am_b), dict(attn_mask=am_f),
             dict(attn_mask=am_3, key_padding_mask=kpm, average_attn_weights=False),
             dict(attn_mask=am_f, key_padding_mask=kpm, need_weights=False),
             dict(attn_mask=am_b, key_padding_mask=kpm, need_weights=False),
             dict(key_padding_mask=R(2, 4))]
    for call in calls:
        tm, fm = both(torch, "MultiheadAttention", 6, 2, **kw)
        compare(torch, _mha(torch, tm), fm, args, kwargs=call)


def test_multihead_attention_self_and_unbatched(torch):
    # the same tensor as query, key and value (flodl fuses the projection)
    tm, fm = both(torch, "MultiheadAttention", 6, 3, batch_first=True)
    x = R(2, 5, 6)
    compare(torch, _mha(torch, tm), fm, [x], fwd=lambda m, x: m(x, x, x))
    compare(torch, _mha(torch, tm), fm, [x, R(2, 4, 6)], fwd=lambda m, q, kv: m(q, kv, kv))
    for kw in [dict(), dict(kdim=5, vdim=4)]:
        tm, fm = both(torch, "MultiheadAttention", 6, 2, **kw)
        args = _mha_inputs(False, True, kw.get("kdim", 6), kw.get("vdim", 6))
        compare(torch, _mha(torch, tm), fm, args)
        compare(torch, _mha(torch, tm), fm, args,
                kwargs=dict(key_padding_mask=np.array([False, True, False, False]),
                            attn_mask=R(3, 4), average_attn_weights=False))
        compare(torch, _mha(torch, tm), fm, args, kwargs=dict(attn_mask=R(2, 3, 4)))


def test_multihead_attention_dropout_eval_and_causal(torch):
    L = 4
    causal = np.triu(np.ones((L, L), dtype=bool), 1)
    tm, fm = both(torch, "MultiheadAttention", 6, 2, dropout=0.5, batch_first=True)
    args = _mha_inputs(True, L=L, S=L)
    compare(torch, _mha(torch, tm), fm, args, modes=("eval",))
    for need in (True, False):
        compare(torch, _mha(torch, tm), fm, args, modes=("eval",),
                kwargs=dict(attn_mask=causal, is_causal=True, need_weights=need))
        compare(torch, _mha(torch, tm), fm, args, modes=("eval",),
                kwargs=dict(attn_mask=np.where(causal, -np.inf, 0.0), need_weights=need))


def test_multihead_attention_float32(torch):
    tm, fm = both(torch, "MultiheadAttention", 8, 2, batch_first=True)
    compare(torch, _mha(torch, tm), fm, _mha_inputs(True, E=8, kdim=8, vdim=8),
            dtype=np.float32)


# ------------------------------------------------------------ activations


ACTS = [("ReLU", {}), ("Sigmoid", {}), ("Tanh", {}), ("GELU", {}),
        ("GELU", dict(approximate="tanh")), ("SiLU", {}), ("Mish", {}), ("SELU", {}),
        ("Hardswish", {}), ("Hardsigmoid", {}), ("LeakyReLU", {}),
        ("LeakyReLU", dict(negative_slope=0.2)), ("ELU", {}), ("ELU", dict(alpha=0.5)),
        ("Softplus", {}), ("Softplus", dict(beta=2.0, threshold=3.0)),
        ("Softmax", dict(dim=1)), ("Softmax", dict(dim=-1)), ("LogSoftmax", dict(dim=0)),
        ("LogSoftmax", dict(dim=-1)), ("PReLU", {}), ("PReLU", dict(num_parameters=3)),
        ("PReLU", dict(num_parameters=3, init=0.1))]


@pytest.mark.parametrize("name, kw", ACTS, ids=[f"{a}-{i}" for i, (a, _) in enumerate(ACTS)])
def test_activation(torch, name, kw):
    # avoid the kinks of the piecewise functions, where the gradients are conventions
    x = R(2, 3, 4) * 3
    x[np.abs(x) < 1e-3] = 0.5
    for kink in (-3.0, 3.0):
        x[np.abs(x - kink) < 1e-3] += 0.01
    compare(torch, *both(torch, name, **kw), [x])
    if name == "PReLU":
        compare(torch, *both(torch, name, **kw), [R(5, 3)])
        if kw.get("num_parameters", 1) == 1:
            compare(torch, *both(torch, name, **kw), [R(5)])
        else:
            with pytest.raises(Exception):      # torch: a 1-D input has one channel
                both(torch, name, **kw)[1](fl.from_numpy(R(3)))
    compare(torch, *both(torch, name, **kw), [x], dtype=np.float32)


def test_activation_at_kinks(torch):
    # torch's derivative conventions at the kinks
    x = np.array([[-3.0, 0.0, 3.0, -1.0, 1.0, 20.0 + 1e-9]])
    for name in ["ReLU", "LeakyReLU", "ELU", "Hardswish", "Hardsigmoid", "SELU", "Softplus",
                 "PReLU"]:
        compare(torch, *both(torch, name), [x], modes=("eval",))


# ------------------------------------------------------- init distributions


def _stats(w):
    w = to_numpy(w).astype(np.float64).ravel()
    return dict(mean=w.mean(), std=w.std(), max=np.abs(w).max())


def _same_distribution(f, t, what, uniform=True):
    """flodl's sample and torch's sample come from the same zero-mean distribution.

    Tolerances are 6 standard errors for samples of n values: mean, std and, for a
    uniform U(-b, b), the largest |value|, which lies within b * (1 - 12/n) of b
    except with probability e**-12, so it pins the bound down to about 12/n.
    """
    fs, ts = _stats(f), _stats(t)
    assert to_numpy(f).shape == tuple(t.shape), what
    n = int(np.prod(tuple(t.shape)))
    scale = max(ts["std"], 1e-12)
    assert abs(fs["mean"] - ts["mean"]) < 6 * scale * math.sqrt(2 / n), \
        f"{what}: mean {fs} vs torch {ts}"
    std_se = (0.45 if uniform else 0.71) * math.sqrt(2 / n)
    assert abs(fs["std"] / scale - 1) < 6 * std_se, f"{what}: std {fs} vs torch {ts}"
    if uniform:
        assert abs(fs["max"] / max(ts["max"], 1e-12) - 1) < 12 / n, \
            f"{what}: bound {fs} vs torch {ts}"


def _compare_init(torch, tm, fm, normal=(), const=()):
    tp, fp = dict(tm.named_parameters()), dict(fm.named_parameters())
    assert list(fp) == list(tp)
    for name, t in tp.items():
        f = fp[name]
        if name in const or t.detach().std() == 0:
            assert_close(f, t, what=f"{type(tm).__name__}.{name} (constant)")
        else:
            _same_distribution(f, t.detach(), f"{type(tm).__name__}.{name}",
                               uniform=name not in normal)
    tb, fb = dict(tm.named_buffers()), dict(fm.named_buffers())
    for name, t in tb.items():
        assert_close(fb[name], t, what=f"buffer {name}")


INIT_CASES = [
    ("Linear", (300, 200), {}), ("Linear", (30, 2000), dict(bias=False)),
    ("Bilinear", (40, 30, 50), {}),
    ("Conv1d", (20, 300, 5), {}), ("Conv2d", (24, 40, 3), dict(groups=4)),
    ("Conv3d", (8, 50, 3), {}),
    ("ConvTranspose1d", (30, 200, 5), {}), ("ConvTranspose2d", (40, 24, 3), dict(groups=4)),
    ("ConvTranspose3d", (8, 40, 3), {}),
    ("LayerNorm", (50,), {}), ("RMSNorm", (50,), {}), ("GroupNorm", (4, 40), {}),
    ("BatchNorm1d", (40,), {}), ("BatchNorm2d", (40,), {}),
    ("InstanceNorm1d", (40,), dict(affine=True, track_running_stats=True)),
    ("GRUCell", (300, 100), {}), ("LSTMCell", (100, 300), {}),
    ("GRU", (100, 200), dict(num_layers=2, bidirectional=True)),
    ("LSTM", (100, 200), dict(num_layers=2)),
    ("PReLU", (20,), {}),
]


@pytest.mark.parametrize("name, args, kw", INIT_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(INIT_CASES)])
def test_default_init(torch, name, args, kw):
    fl.manual_seed(0)
    tm, fm = both(torch, name, *args, **kw)
    check_state_layout(torch, tm, fm)         # default dtypes (float32, int64 counters)
    _compare_init(torch, tm, fm)


def test_default_init_embedding_and_attention(torch):
    fl.manual_seed(0)
    for name in ["Embedding", "EmbeddingBag"]:
        tm, fm = both(torch, name, 2000, 50, padding_idx=3)
        _same_distribution(fm.weight, tm.weight.detach(), name, uniform=False)
        assert np.all(to_numpy(fm.weight)[3] == 0)
    tm, fm = both(torch, "MultiheadAttention", 120, 4)
    _compare_init(torch, tm, fm)
    tm, fm = both(torch, "MultiheadAttention", 120, 4, kdim=300, vdim=60)
    _compare_init(torch, tm, fm)


# ------------------------------------------------------------ init functions


INIT_SHAPES = [(400, 300), (64, 32, 3, 3), (20, 600, 5), (300, 200, 1, 1)]


@pytest.mark.parametrize("shape", INIT_SHAPES, ids=str)
def test_init_functions(torch, shape):
    I = torch.nn.init
    fl.manual_seed(1)
    torch.manual_seed(1)

    def t(fn, *a, **k):
        return fn(torch.empty(shape, dtype=torch.float64), *a, **k)

    cases = [
        ("xavier_uniform", dict(gain=1.0), I.xavier_uniform_, True),
        ("xavier_uniform", dict(gain=2.5), I.xavier_uniform_, True),
        ("xavier_normal", dict(gain=0.7), I.xavier_normal_, False),
        ("kaiming_uniform", dict(a=math.sqrt(5)), I.kaiming_uniform_, True),
        ("kaiming_uniform", dict(mode="fan_out", nonlinearity="relu"), I.kaiming_uniform_,
         True),
        ("kaiming_uniform", dict(a=0.3, mode="fan_in", nonlinearity="leaky_relu"),
         I.kaiming_uniform_, True),
        ("kaiming_normal", dict(), I.kaiming_normal_, False),
        ("kaiming_normal", dict(a=0.2, mode="fan_out"), I.kaiming_normal_, False),
        ("kaiming_normal", dict(nonlinearity="tanh", mode="fan_out"), I.kaiming_normal_,
         False),
        ("kaiming_uniform", dict(nonlinearity="selu"), I.kaiming_uniform_, True),
        ("uniform", dict(), I.uniform_, True),
        ("normal", dict(mean=0.0, std=0.02), I.normal_, False),
    ]
    for fname, kw, tfn, unif in cases:
        f = getattr(nn.init, fname)(shape, dtype=F64, **kw)
        _same_distribution(f, t(tfn, **kw), f"{fname}{kw}", uniform=unif)
    # positional forms / argument names of torch (low/high, mean/std)
    f = nn.init.uniform(shape, -0.3, 0.7, dtype=F64)
    tt = t(I.uniform_, -0.3, 0.7)
    assert abs(to_numpy(f).min() - tt.min().item()) < 1e-2
    assert abs(to_numpy(f).max() - tt.max().item()) < 1e-2
    f, tt = nn.init.normal(shape, 2.0, 0.5, dtype=F64), t(I.normal_, 2.0, 0.5)
    assert abs(to_numpy(f).mean() - tt.mean().item()) < 0.01
    assert abs(to_numpy(f).std() / tt.std().item() - 1) < 0.03
    assert_close(nn.init.constant(shape, 0.3, dtype=F64), t(I.constant_, 0.3))
    assert_close(nn.init.zeros(shape, dtype=F64), t(I.zeros_))
    assert_close(nn.init.ones(shape, dtype=F64), t(I.ones_))


@pytest.mark.parametrize("kw", [dict(), dict(mean=1.0, std=2.0, a=-1.0, b=4.0),
                                dict(std=0.02, a=-0.04, b=0.04), dict(a=0.5, b=3.0)])
def test_trunc_normal(torch, kw):
    fl.manual_seed(2)
    torch.manual_seed(2)
    shape = (300, 400)
    f = to_numpy(nn.init.trunc_normal(shape, dtype=F64, **kw))
    t = torch.nn.init.trunc_normal_(torch.empty(shape, dtype=torch.float64), **kw).numpy()
    a, b = kw.get("a", -2.0), kw.get("b", 2.0)
    assert a <= f.min() and f.max() <= b
    assert abs(f.min() - t.min()) < 0.01 * (b - a) and abs(f.max() - t.max()) < 0.01 * (b - a)
    assert abs(f.mean() - t.mean()) < 0.01 * t.std() * 5
    assert abs(f.std() / t.std() - 1) < 0.02


@pytest.mark.parametrize("shape, gain", [((30, 50), 1.0), ((50, 30), 2.0), ((8, 4, 3, 3), 0.5),
                                         ((40, 40), 1.0)])
def test_orthogonal(torch, shape, gain):
    f = to_numpy(nn.init.orthogonal(shape, gain=gain, dtype=F64)).reshape(shape[0], -1)
    t = torch.nn.init.orthogonal_(torch.empty(shape, dtype=torch.float64),
                                  gain=gain).numpy().reshape(shape[0], -1)
    assert f.shape == t.shape
    small = f @ f.T if f.shape[0] <= f.shape[1] else f.T @ f
    t_small = t @ t.T if t.shape[0] <= t.shape[1] else t.T @ t
    np.testing.assert_allclose(small, t_small, atol=1e-10)      # gain**2 * I in both
    np.testing.assert_allclose(np.linalg.svd(f, compute_uv=False),
                               np.linalg.svd(t, compute_uv=False), atol=1e-10)


def test_init_in_place_forms(torch):
    w = nn.Parameter(fl.zeros(64, 32, 3, 3, dtype=F64))
    t = torch.empty(64, 32, 3, 3, dtype=torch.float64)
    for fname, kw in [("xavier_uniform_", dict(gain=2.0)), ("kaiming_uniform_", dict(a=1.0)),
                      ("kaiming_normal_", dict(mode="fan_out", nonlinearity="relu")),
                      ("xavier_normal_", {})]:
        getattr(nn.init, fname)(w, **kw)
        getattr(torch.nn.init, fname)(t, **kw)
        _same_distribution(w, t, fname, uniform="uniform" in fname)
        assert w.dtype == F64 and w.requires_grad
    nn.init.uniform_(w, a=-0.2, b=0.6)              # torch's argument names
    assert abs(to_numpy(w).min() + 0.2) < 1e-3 and abs(to_numpy(w).max() - 0.6) < 1e-3
    nn.init.constant_(w, val=0.5)
    assert_close(w, torch.nn.init.constant_(t, val=0.5))
    nn.init.constant_(w, 0.25)
    assert_close(w, torch.nn.init.constant_(t, 0.25))
    nn.init.zeros_(w)
    assert_close(w, torch.nn.init.zeros_(t))
    nn.init.ones_(w)
    assert_close(w, torch.nn.init.ones_(t))
    nn.init.orthogonal_(w, gain=1.5)
    m = to_numpy(w).reshape(64, -1)
    np.testing.assert_allclose(m @ m.T, 2.25 * np.eye(64), atol=1e-10)


def test_calculate_gain(torch):
    g = torch.nn.init.calculate_gain
    for nl in ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
               "conv_transpose3d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"]:
        assert nn.init.calculate_gain(nl) == pytest.approx(g(nl), rel=1e-12), nl
    for p in [0.0, 0.2, 1, 3.5]:
        assert nn.init.calculate_gain("leaky_relu", p) == pytest.approx(g("leaky_relu", p))
    with pytest.raises(ValueError):
        nn.init.calculate_gain("swish")


# ------------------------------------------------------------- module API


def _tree(lib):
    class Block(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = lib.nn.Linear(3, 4)
            self.bn = lib.nn.BatchNorm1d(4)
            self.drop = lib.nn.Dropout(0.5)

    class Net(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = lib.nn.Conv1d(2, 3, 3)
            self.blocks = lib.nn.ModuleList([Block(), Block()])
            self.heads = lib.nn.ModuleDict({"cls": lib.nn.Linear(4, 2),
                                            "reg": lib.nn.LSTM(4, 3, num_layers=2)})
            self.norm = lib.nn.LayerNorm(4)

    return Net()


def test_module_api(torch):
    tn, fn = _tree(torch), _tree(fl)
    check_state_layout(torch, tn, fn)
    assert fn.num_parameters() == sum(p.numel() for p in tn.parameters())
    assert [n for n, _ in fn.named_modules()] == [n for n, _ in tn.named_modules()]
    assert [n for n, _ in fn.named_children()] == [n for n, _ in tn.named_children()]
    assert fn.eval() is fn and fn.train() is fn
    fn.eval()
    assert not any(m.training for m in fn.modules())
    fn.blocks.train()                 # propagates to the sub-tree only
    tn.eval()
    tn.blocks.train()
    assert [m.training for _, m in fn.named_modules()] == \
        [m.training for _, m in tn.named_modules()]
    load_torch_state(tn, fn)
    for k, v in tn.state_dict().items():
        assert_close(fn.state_dict()[k], v, what=k)


def _tied(lib):
    class Tied(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = lib.nn.Embedding(10, 4)
            self.body = lib.nn.ModuleList([lib.nn.Linear(4, 4), lib.nn.BatchNorm1d(4)])
            self.head = lib.nn.Linear(4, 10, bias=False)
            self.head.weight = self.emb.weight          # weight tying
    return Tied()


def test_tied_weights_state_dict(torch):
    tm, fm = _tied(torch), _tied(fl)
    check_state_layout(torch, tm, fm)        # tied weights listed under both names
    assert fm.num_parameters() == sum(p.numel() for p in tm.parameters())
    load_torch_state(tm, fm)                 # strict load of torch's state dict
    assert fm.head.weight is fm.emb.weight
    assert_close(fm.head.weight, tm.head.weight)


def test_linear_zero_in_features_builds(torch):
    tm, fm = both(torch, "Linear", 0, 3)     # zero-element weight: no division by fan_in
    check_state_layout(torch, tm, fm)
    assert_close(fm.bias, tm.bias)            # bound 1/sqrt(0) is taken as 0: zeros


def test_linear_zero_in_features_forward(torch):
    tm, fm = both(torch, "Linear", 0, 3)
    compare(torch, tm, fm, [R(2, 0)])


def test_load_state_dict_report(torch):
    tm, fm = torch.nn.Linear(3, 2), nn.Linear(3, 2)
    sd = {k: v.numpy() for k, v in tm.state_dict().items()}
    sd_extra = dict(sd, extra=np.zeros(1))
    t_res = tm.load_state_dict({k: torch.tensor(v) for k, v in sd_extra.items()}, strict=False)
    f_res = fm.load_state_dict(sd_extra, strict=False)
    assert f_res.unexpected == f_res.unexpected_keys == list(t_res.unexpected_keys)
    assert f_res.missing == f_res.missing_keys == list(t_res.missing_keys)
    sd_missing = {"weight": sd["weight"]}
    t_res = tm.load_state_dict({k: torch.tensor(v) for k, v in sd_missing.items()},
                               strict=False)
    f_res = fm.load_state_dict(sd_missing, strict=False)
    assert f_res.missing == list(t_res.missing_keys) == ["bias"]
    # strict: both refuse missing / unexpected keys; a shape mismatch always fails
    with pytest.raises(RuntimeError):
        tm.load_state_dict({k: torch.tensor(v) for k, v in sd_missing.items()})
    with pytest.raises(Exception):
        fm.load_state_dict(sd_missing)
    bad = dict(sd, weight=np.zeros((2, 4)))
    with pytest.raises(RuntimeError):
        tm.load_state_dict({k: torch.tensor(v) for k, v in bad.items()}, strict=False)
    with pytest.raises(Exception, match="weight"):
        fm.load_state_dict(bad, strict=False)
