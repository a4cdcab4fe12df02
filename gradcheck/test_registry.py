"""Every registered op, checked against its NumPy reference and against
finite differences in float64 (full Jacobians on tiny shapes)."""
from __future__ import annotations

import zlib

import numpy as np
import pytest

import flodl_core as fl
from flodl_core.autograd.registry import all_opinfos
from helpers import build_args, diff_positions, flatten_outputs, host, is_float_array

OPINFOS = all_opinfos()


def _samples(info):
    # A stable seed per op (Python's str hash changes per process), so a run is
    # reproducible and every run draws the same samples.
    return info.sample_inputs(np.random.default_rng(zlib.crc32(info.name.encode())))


CASES = [pytest.param(info, i, s, id=f"{info.name}-{i}")
         for info in OPINFOS for i, s in enumerate(_samples(info))]
FWD_CASES = [pytest.param(info, i, s, dt, id=f"{info.name}-{i}-{dt.name}")
             for info in OPINFOS for i, s in enumerate(_samples(info)) for dt in info.dtypes]


def _ref_outputs(info, sample):
    args = [a.copy() if isinstance(a, np.ndarray) else a for a in sample.args]
    return [np.asarray(r) for r in flatten_outputs(info.ref(*args, **sample.kwargs))]


@pytest.mark.parametrize("info, idx, sample, dtype", FWD_CASES)
def test_forward_matches_reference(info, idx, sample, dtype, device):
    if dtype == fl.DType.BFloat16 and device.kind == "cuda":
        pytest.skip("CuPy has no bfloat16")
    expected = _ref_outputs(info, sample)
    for as_variables in (False, True):
        args = build_args(sample, device, dtype, as_variables=as_variables)
        before = [host(a).copy() if isinstance(a, fl.Tensor.__mro__[1]) else None for a in args]
        outs = flatten_outputs(info.op(*args, **sample.kwargs))
        assert len(outs) == len(expected), f"{info.name}: {len(outs)} outputs, expected {len(expected)}"
        atol, rtol = info.tolerance(dtype)
        for out, exp in zip(outs, expected):
            want_type = fl.Variable if as_variables and diff_positions(sample) else fl.Tensor
            assert isinstance(out, want_type), f"{info.name} returned {type(out).__name__}"
            assert out.shape == exp.shape, f"{info.name}: shape {out.shape} != {exp.shape}"
            if exp.dtype.kind == "f":
                assert out.dtype == dtype, f"{info.name}: dtype {out.dtype} for {dtype} inputs"
            np.testing.assert_allclose(host(out).astype(np.float64) if exp.dtype.kind == "f"
                                       else host(out), exp, atol=atol, rtol=rtol)
        for a, b in zip(args, before):   # forward never mutates inputs
            if b is not None:
                np.testing.assert_array_equal(host(a), b)


def _fn(info, sample, nargs_diff):
    def fn(*args):
        return tuple(o for o in flatten_outputs(info.op(*args, **sample.kwargs))
                     if isinstance(o, fl.Variable))
    return fn


@pytest.mark.parametrize("info, idx, sample", CASES)
def test_gradcheck(info, idx, sample, device):
    if not diff_positions(sample):
        pytest.skip("no differentiable input")
    args = build_args(sample, device, fl.DType.Float64)
    fl.gradcheck(_fn(info, sample, None), args, eps=info.eps, atol=info.grad_atol,
                 rtol=info.grad_rtol)


@pytest.mark.parametrize("info, idx, sample", CASES)
def test_gradgradcheck(info, idx, sample, device):
    if not info.supports_gradgrad:
        pytest.skip(info.gradgrad_reason)
    if not diff_positions(sample):
        pytest.skip("no differentiable input")
    args = build_args(sample, device, fl.DType.Float64)
    fl.gradgradcheck(_fn(info, sample, None), args, eps=info.eps, atol=info.grad_atol,
                     rtol=info.grad_rtol)


def _grads(info, sample, device, dtype, upstream):
    args = build_args(sample, device, dtype)
    outs = [o for o in flatten_outputs(info.op(*args, **sample.kwargs))
            if isinstance(o, fl.Variable) and o.requires_grad]
    xs = [args[i] for i in diff_positions(sample)]
    gys = [fl.Tensor(upstream(o)) for o in outs]
    return args, xs, outs, gys


@pytest.mark.parametrize("info, idx, sample", CASES)
def test_backward_properties(info, idx, sample, device):
    """Backward twice gives equal grads; zero upstream gives zeros; grads keep the
    inputs' shape and dtype; backward leaves the inputs untouched."""
    if not diff_positions(sample):
        pytest.skip("no differentiable input")
    rng = np.random.default_rng(idx)
    for dtype in (fl.DType.Float64, fl.DType.Float32):
        def upstream(o):
            g = rng.standard_normal(o.shape).astype(dtype.numpy)
            return fl.tensor(g, device=o.device)._data
        args, xs, outs, gys = _grads(info, sample, device, dtype, upstream)
        if not outs:
            pytest.skip("no differentiable output")
        before = [host(x).copy() for x in xs]
        g1 = fl.grad(outs, xs, gys, retain_graph=True, allow_unused=True)
        g2 = fl.grad(outs, xs, gys, retain_graph=True, allow_unused=True)
        for x, a, b, orig in zip(xs, g1, g2, before):
            if a is None:
                continue
            assert a.shape == x.shape and a.dtype == x.dtype, \
                f"{info.name}: grad {a.shape} {a.dtype} for input {x.shape} {x.dtype}"
            assert a.device == x.device
            np.testing.assert_array_equal(host(a), host(b))
            np.testing.assert_array_equal(host(x), orig)
        zeros = [fl.zeros_like(g) for g in gys]
        g0 = fl.grad(outs, xs, zeros, allow_unused=True)
        for g in g0:
            if g is not None:
                assert not np.any(host(g)), f"{info.name}: nonzero grad for zero upstream"
