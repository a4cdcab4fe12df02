"""flodl's tensor factories and non-differentiable tensor utilities against PyTorch:
values, shapes and dtypes.

Covers ``fl.tensor`` / ``from_numpy`` dtype inference (Python scalars, nested lists,
NumPy arrays and scalars of every dtype flodl supports, 0-d), zeros / ones / empty /
full and their ``*_like`` forms (fill-value dtype inference, explicit ``dtype=``),
arange (integer and float arguments, negative steps, the ceil((end - start) / step)
length rule, integer dtypes with float arguments), linspace, eye, the random
factories (shapes, dtypes and bounds, not values), comparisons, argmax / argmin,
any / all, item / tolist, metadata, clone / detach, dtype casts, isnan / isinf /
isfinite and allclose / isclose, and the tensor utilities any / all with dims, nonzero,
count_nonzero, unique, bincount and logspace.

Every test asks for the ``torch`` fixture, so the module is skipped where torch is
not installed. Every expected value comes from torch itself.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import flodl_core as fl

# Casting values beyond float16's range (to inf, in torch too) warns in NumPy.
pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")

D = fl.DType
INF, NAN = math.inf, math.nan
ALL_DTYPES = [D.Float16, D.BFloat16, D.Float32, D.Float64, D.Int32, D.Int64, D.Bool, D.UInt8]
NP_DTYPES = [np.float16, np.float32, np.float64, np.int32, np.int64, np.bool_, np.uint8]


# ----------------------------------------------------------------- harness


def _tdt(torch, dtype):
    """The torch dtype of a flodl DType (their names agree: DType.Float32 -> torch.float32)."""
    return getattr(torch, dtype.value)


def _values(x):
    """Host NumPy values of a flodl or torch tensor (half types widened for comparing)."""
    if type(x).__module__.startswith("torch"):
        x = x.detach()
        if x.dtype.is_floating_point and x.element_size() == 2:
            x = x.float()
        return x.numpy()
    arr = np.asarray(x.to_numpy())
    return arr.astype(np.float32) if arr.dtype.kind == "f" and arr.itemsize == 2 or \
        arr.dtype.name == "bfloat16" else arr


def check(torch, ours, theirs, rtol=0.0, atol=0.0, what=""):
    """Same dtype, same shape, same values (NaN equal to NaN; exact unless told)."""
    assert isinstance(ours, fl.Tensor) or hasattr(ours, "_data"), f"{what}: got {type(ours)}"
    assert str(theirs.dtype) == f"torch.{ours.dtype.value}", \
        f"{what}: dtype {ours.dtype} != {theirs.dtype}"
    assert tuple(ours.shape) == tuple(theirs.shape), \
        f"{what}: shape {ours.shape} != {tuple(theirs.shape)}"
    a, b = _values(ours), _values(theirs)
    if rtol or atol:
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=what)
    else:
        np.testing.assert_array_equal(a, b, err_msg=what)


# ============================================================ fl.tensor(...)

PY_DATA = [
    3, -7, 0.1, 3.5, True, False,
    [1, 2, 3], [1.0, 2], [1, 2.5], [True, False], [True, 1], [True, 1.5],
    [[1, 2], [3, 4]], [[1.5], [2.5]], [[True], [False]], [[[1], [2]], [[3], [4]]],
    [], [[]], [[], []], range(4),
    [NAN, INF, -INF, -0.0], [2**62, -(2**62)], [1e30, 1e-30],
]


@pytest.mark.parametrize("data", PY_DATA, ids=repr)
def test_tensor_infers_dtype_from_python_data(torch, data):
    check(torch, fl.tensor(data), torch.tensor(data), what=repr(data))


@pytest.mark.parametrize("np_dtype", NP_DTYPES)
@pytest.mark.parametrize("shape", [(), (3,), (2, 3), (0, 2)])
def test_tensor_and_from_numpy_keep_numpy_dtype(torch, np_dtype, shape):
    arr = np.asarray((np.arange(math.prod(shape)) * 1.5 - 2).reshape(shape).astype(np_dtype))
    what = f"{np.dtype(np_dtype)} {shape}"
    check(torch, fl.tensor(arr), torch.tensor(arr), what="tensor " + what)
    check(torch, fl.from_numpy(arr), torch.from_numpy(arr), what="from_numpy " + what)


@pytest.mark.parametrize("scalar", [np.float64(1.5), np.float32(-2.25), np.float16(0.5),
                                    np.int64(-3), np.int32(7), np.uint8(200), np.bool_(True)],
                         ids=lambda s: f"{type(s).__name__}")
def test_tensor_of_numpy_scalar_keeps_its_dtype(torch, scalar):
    check(torch, fl.tensor(scalar), torch.tensor(scalar))


def test_from_numpy_shares_memory_and_tensor_copies(torch):
    arr = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    ours_view, ours_copy = fl.from_numpy(arr), fl.tensor(arr)
    theirs_view, theirs_copy = torch.from_numpy(arr), torch.tensor(arr)
    arr[0] = 42.0
    check(torch, ours_view, theirs_view, what="from_numpy sees writes")
    check(torch, ours_copy, theirs_copy, what="tensor copies")
    src = fl.tensor([1, 2])
    check(torch, fl.tensor(src), torch.tensor([1, 2]), what="tensor(tensor)")


@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("data", [[1.7, -1.7, 0.5, -0.5, 0.0, 2.0, 0.1],
                                  [1, 0, 3, 255], [True, False], 0.1, 3])
def test_tensor_explicit_dtype(torch, data, dtype):
    if dtype == D.UInt8 and any(v < 0 for v in np.ravel(data)):
        data = np.abs(data).tolist()   # negative -> uint8 wraps: overflow is not compared
    check(torch, fl.tensor(data, dtype=dtype), torch.tensor(data, dtype=_tdt(torch, dtype)),
          what=f"{data} {dtype}")


def test_tensor_rejects_ints_beyond_int64(torch):
    with pytest.raises((ValueError, RuntimeError, OverflowError)):
        torch.tensor([2**63])
    with pytest.raises(OverflowError):
        fl.tensor([2**63])


# ================================================== zeros / ones / empty / full

SHAPES = [(), (0,), (3,), (2, 0), (2, 3), (1, 2, 3)]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", ["zeros", "ones", "empty"])
def test_filled_factories_shapes_and_default_dtype(torch, name, shape):
    ours = [getattr(fl, name)(*shape), getattr(fl, name)(shape), getattr(fl, name)(list(shape))]
    theirs = getattr(torch, name)(shape)
    for t in ours:
        if name == "empty":   # contents are arbitrary
            assert t.dtype == D.Float32 and t.shape == tuple(theirs.shape)
        else:
            check(torch, t, theirs, what=f"{name}{shape}")


@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("name", ["zeros", "ones", "empty"])
def test_filled_factories_dtype_keyword(torch, name, dtype):
    ours = getattr(fl, name)(2, 3, dtype=dtype)
    theirs = getattr(torch, name)(2, 3, dtype=_tdt(torch, dtype))
    if name == "empty":
        assert str(theirs.dtype) == f"torch.{ours.dtype.value}" and ours.shape == (2, 3)
    else:
        check(torch, ours, theirs, what=f"{name} {dtype}")


@pytest.mark.parametrize("value", [3, -2, 3.0, -2.5, True, False, INF, NAN,
                                   np.float64(1.5), np.int32(2)], ids=repr)
def test_full_infers_dtype_from_fill_value(torch, value):
    for shape in [(2,), (2, 3), ()]:
        check(torch, fl.full(shape, value), torch.full(shape, value), what=f"full {value!r}")


@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("value", [2.7, -2.7, 0.5, 0, 1, True])
def test_full_explicit_dtype_converts_value(torch, value, dtype):
    if dtype == D.UInt8 and value < 0:
        return   # wraps: overflow is not compared
    check(torch, fl.full((3,), value, dtype=dtype),
          torch.full((3,), value, dtype=_tdt(torch, dtype)), what=f"full {value} {dtype}")


@pytest.mark.parametrize("base_dtype", [D.Float32, D.Float64, D.Int64, D.Int32, D.Bool,
                                        D.Float16, D.BFloat16, D.UInt8])
def test_like_factories_follow_the_input(torch, base_dtype):
    src = np.array([[0, 1, 2], [3, 4, 5]])
    ours_x = fl.tensor(src, dtype=base_dtype)
    theirs_x = torch.tensor(src, dtype=_tdt(torch, base_dtype))
    check(torch, fl.zeros_like(ours_x), torch.zeros_like(theirs_x), what="zeros_like")
    check(torch, fl.ones_like(ours_x), torch.ones_like(theirs_x), what="ones_like")
    for value in [2.7, 7, True]:   # the fill value is converted to the input's dtype
        check(torch, fl.full_like(ours_x, value), torch.full_like(theirs_x, value),
              what=f"full_like {value}")
    for dt in [D.Float64, D.Int64, D.Bool]:
        check(torch, fl.zeros_like(ours_x, dtype=dt),
              torch.zeros_like(theirs_x, dtype=_tdt(torch, dt)), what=f"zeros_like {dt}")
        check(torch, fl.full_like(ours_x, 2.5, dtype=dt),
              torch.full_like(theirs_x, 2.5, dtype=_tdt(torch, dt)), what=f"full_like {dt}")
    e = fl.empty_like(ours_x)
    assert e.shape == (2, 3) and e.dtype == base_dtype
    if base_dtype.is_floating_point:
        for fn in ("rand_like", "randn_like"):
            ours, theirs = getattr(fl, fn)(ours_x), getattr(torch, fn)(theirs_x)
            assert ours.shape == tuple(theirs.shape)
            assert str(theirs.dtype) == f"torch.{ours.dtype.value}", fn


# ====================================================================== arange

ARANGE = [
    ((5,), {}), ((2.5,), {}), ((0,), {}), ((1, 10, 3), {}), ((10, 1, -3), {}),
    ((5, 0, -1), {}), ((0, 1, 0.1), {}), ((1, 2.3, 0.1), {}), ((0, -1, -0.25), {}),
    ((-3, 3, 0.7), {}), ((0, 1, 1 / 3), {}), ((0, 0), {}), ((3, 3, -1), {}),
    ((-2.5, 2.5), {}), ((0.0, 5), {}), ((0, 5, 1.0), {}), ((1e6, 1e6 + 10, 1.5), {}),
    ((0, 10, 3), {"dtype": D.Float64}), ((0, 5), {"dtype": D.Float32}),
    ((0, 1, 0.1), {"dtype": D.Float64}), ((0.5, 5, 1.5), {"dtype": D.Int64}),
    ((-0.5, 7.9, 2.5), {"dtype": D.Int64}), ((0, 10, 3), {"dtype": D.Int32}),
    ((0, 4), {"dtype": D.UInt8}), ((0, 4), {"dtype": D.Float16}),
    ((0, 2), {"dtype": D.BFloat16}),
]


@pytest.mark.parametrize("args,kwargs", ARANGE, ids=lambda v: repr(v))
def test_arange(torch, args, kwargs):
    tkw = {k: _tdt(torch, v) for k, v in kwargs.items()}
    check(torch, fl.arange(*args, **kwargs), torch.arange(*args, **tkw),
          what=f"arange{args} {kwargs}")


@pytest.mark.parametrize("args,kwargs", [((1, 0), {}), ((-3.5,), {}), ((0, 1, 0), {}),
                                         ((0, 5, -1), {}), ((0, 2.5, 0.5), {"dtype": D.Int64})],
                         ids=repr)
def test_arange_rejects_what_torch_rejects(torch, args, kwargs):
    tkw = {k: _tdt(torch, v) for k, v in kwargs.items()}
    with pytest.raises((RuntimeError, ValueError)):
        torch.arange(*args, **tkw)
    with pytest.raises(ValueError):
        fl.arange(*args, **kwargs)


# ============================================================ linspace and eye

LINSPACE = [
    ((0, 1, 5), {}), ((-1, 1, 1), {}), ((2, 5, 0), {}), ((2, 5, 2), {}), ((0, 1, 11), {}),
    ((5, -5, 7), {}), ((1e-3, 1e3, 9), {}), ((0.1, 0.7, 13), {}),
    ((1, 2, 7), {"dtype": D.Float64}), ((0, 10, 4), {"dtype": D.Int64}),
    ((0, -10, 7), {"dtype": D.Int64}), ((3, 3, 4), {}), ((0, 1, 3), {"dtype": D.Float16}),
]


@pytest.mark.parametrize("args,kwargs", LINSPACE, ids=repr)
def test_linspace(torch, args, kwargs):
    tkw = {k: _tdt(torch, v) for k, v in kwargs.items()}
    ours, theirs = fl.linspace(*args, **kwargs), torch.linspace(*args, **tkw)
    # torch evaluates start + i * step on the first half and end - (steps - 1 - i) * step
    # on the second, in the output dtype: an ulp or so away from NumPy's float64 then cast.
    scale = max(abs(args[0]), abs(args[1]))
    dt = kwargs.get("dtype", D.Float32)
    tol = {D.Float32: dict(rtol=2e-7, atol=2e-7 * scale),
           D.Float64: dict(rtol=1e-15, atol=1e-15 * scale)}.get(dt, {})
    check(torch, ours, theirs, what=f"linspace{args} {kwargs}", **tol)
    if args[2] >= 1:   # the first value is exactly start (and the last exactly end)
        assert _values(ours)[0] == _values(theirs)[0]
        assert _values(ours)[-1] == _values(theirs)[-1]


@pytest.mark.parametrize("args", [(3,), (2, 3), (3, 2), (0,), (1, 0), (0, 2), (1,)], ids=str)
@pytest.mark.parametrize("dtype", [None, D.Float64, D.Int64, D.Bool])
def test_eye(torch, args, dtype):
    ours = fl.eye(*args) if dtype is None else fl.eye(*args, dtype=dtype)
    theirs = torch.eye(*args) if dtype is None else torch.eye(*args, dtype=_tdt(torch, dtype))
    check(torch, ours, theirs, what=f"eye{args} {dtype}")


# ============================================================ random factories


def _same_meta(torch, ours, theirs, what):
    assert tuple(ours.shape) == tuple(theirs.shape), f"{what}: {ours.shape} != {theirs.shape}"
    assert str(theirs.dtype) == f"torch.{ours.dtype.value}", f"{what}: {ours.dtype} != {theirs.dtype}"


@pytest.mark.parametrize("name", ["rand", "randn"])
def test_rand_randn_shapes_and_dtypes(torch, name):
    f, t = getattr(fl, name), getattr(torch, name)
    for shape in [(), (0,), (3,), (2, 3)]:
        if shape:
            _same_meta(torch, f(*shape), t(*shape), f"{name}{shape}")
        _same_meta(torch, f(shape), t(shape), f"{name}({shape})")
    for dt in [D.Float64, D.Float16, D.BFloat16]:
        _same_meta(torch, f(4, dtype=dt), t(4, dtype=_tdt(torch, dt)), f"{name} {dt}")
    with pytest.raises((RuntimeError, NotImplementedError)):
        t(2, dtype=torch.int64)
    with pytest.raises(fl.DTypeError):
        f(2, dtype=D.Int64)


def test_rand_bounds(torch):
    fl.manual_seed(0)
    for dt in [D.Float32, D.Float64, D.Float16, D.BFloat16]:
        v = _values(fl.rand(20000, dtype=dt))
        assert v.min() >= 0.0 and v.max() < 1.0, dt   # torch.rand: uniform on [0, 1)
        w = _values(torch.rand(20000, dtype=_tdt(torch, dt)))
        assert w.min() >= 0.0 and w.max() < 1.0, dt
        assert abs(v.mean() - 0.5) < 0.02, dt
        v = _values(fl.rand_like(fl.zeros(20000, dtype=dt)))
        assert v.min() >= 0.0 and v.max() < 1.0, dt
    v = _values(fl.randn(4000, dtype=D.Float64))
    assert abs(v.mean()) < 0.1 and abs(v.std() - 1) < 0.1


@pytest.mark.parametrize("args,kwargs", [((10, (3,)), {}), ((3, 10, (2, 5)), {}),
                                         ((-5, 5, (7,)), {}), ((0, 2, ()), {}),
                                         ((3, 10, (2,)), {"dtype": D.Int32}),
                                         ((3, 10, (2,)), {"dtype": D.Float32}),
                                         ((0, 2, (4,)), {"dtype": D.Bool}),
                                         ((1, 255, (4,)), {"dtype": D.UInt8})], ids=repr)
def test_randint_shapes_and_dtypes(torch, args, kwargs):
    tkw = {k: _tdt(torch, v) for k, v in kwargs.items()}
    ours = fl.randint(*args, **kwargs)
    _same_meta(torch, ours, torch.randint(*args, **tkw), f"randint{args} {kwargs}")
    ours_kw = fl.randint(*args[:-1], shape=args[-1], **kwargs)
    _same_meta(torch, ours_kw, torch.randint(*args[:-1], size=args[-1], **tkw), "size keyword")


def test_randint_bounds_and_randperm(torch):
    fl.manual_seed(0)
    v = _values(fl.randint(-3, 4, (5000,)))
    assert set(np.unique(v).tolist()) == set(range(-3, 4))   # high is exclusive
    v = _values(fl.randint(5, (5000,)))
    assert set(np.unique(v).tolist()) == set(range(5))
    for args in [(5, 5, (2,)), (5, 4, (2,))]:
        with pytest.raises(RuntimeError):
            torch.randint(*args)
        with pytest.raises(ValueError):
            fl.randint(*args)
    for n in [0, 1, 7]:
        ours, theirs = fl.randperm(n), torch.randperm(n)
        _same_meta(torch, ours, theirs, f"randperm({n})")
        assert sorted(ours.tolist()) == sorted(theirs.tolist())
    _same_meta(torch, fl.randperm(4, dtype=D.Int32), torch.randperm(4, dtype=torch.int32), "")


# ================================================================= comparisons

CMP = ["eq", "ne", "lt", "le", "gt", "ge"]
OPERATOR = {"eq": "__eq__", "ne": "__ne__", "lt": "__lt__", "le": "__le__",
            "gt": "__gt__", "ge": "__ge__"}
A_F = [[1.0, -2.0, NAN, INF], [0.0, -0.0, 3.5, -INF]]
B_F = [[1.0, 2.0, NAN, INF], [-0.0, 0.0, 3.0, 1.0]]


@pytest.mark.parametrize("op", CMP)
def test_comparisons_with_tensors(torch, op):
    cases = [(A_F, B_F, D.Float32), (A_F, B_F, D.Float64), (A_F, [1.0, 2.0, NAN, INF], D.Float32),
             ([[1, 2], [3, 4]], [[1, 3], [2, 4]], D.Int64), ([[1, 5]], [[1], [5]], D.Int32),
             ([True, False, True], [True, True, False], D.Bool),
             ([0.1, 0.5, -1.0], [0.1, 0.25, -1.0], D.Float16),
             ([0.1, 0.5, -1.0], [0.1, 0.25, -1.0], D.BFloat16)]
    for a, b, dt in cases:
        fa, fb = fl.tensor(a, dtype=dt), fl.tensor(b, dtype=dt)
        ta, tb = torch.tensor(a, dtype=_tdt(torch, dt)), torch.tensor(b, dtype=_tdt(torch, dt))
        want = getattr(ta, op)(tb)
        check(torch, getattr(fa, op)(fb), want, what=f"{op} {dt}")
        check(torch, getattr(fa, OPERATOR[op])(fb), want, what=f"{OPERATOR[op]} {dt}")
    # mixed dtypes where the answer does not depend on the promoted type
    check(torch, getattr(fl.tensor([1, 2, 3]), op)(fl.tensor([1.5, 2.0, 2.5])),
          getattr(torch.tensor([1, 2, 3]), op)(torch.tensor([1.5, 2.0, 2.5])), what="int/float")
    check(torch, getattr(fl.tensor([True, False]), op)(fl.tensor([1, 0])),
          getattr(torch.tensor([True, False]), op)(torch.tensor([1, 0])), what="bool/int")


@pytest.mark.parametrize("op", CMP)
@pytest.mark.parametrize("scalar", [0, 1, -2, 2.5, 0.1, -0.0, INF, NAN, True], ids=repr)
def test_comparisons_with_scalars(torch, op, scalar):
    for data, dt in [(A_F, D.Float32), (A_F, D.Float64), ([[0.1, 1.0, 2.5]], D.Float16),
                     ([[0.1, 1.0, 2.5]], D.BFloat16), ([[-2, 0, 1, 3]], D.Int64),
                     ([[-2, 0, 1, 3]], D.Int32), ([[0, 1, 3, 255]], D.UInt8),
                     ([[True, False]], D.Bool)]:
        if dt == D.UInt8 and isinstance(scalar, (int, float)) and scalar < 0:
            continue   # torch wraps the scalar into uint8: overflow is not compared
        ours, theirs = fl.tensor(data, dtype=dt), torch.tensor(data, dtype=_tdt(torch, dt))
        want = getattr(theirs, op)(scalar)
        check(torch, getattr(ours, op)(scalar), want, what=f"{op}({scalar!r}) {dt}")
        check(torch, getattr(ours, OPERATOR[op])(scalar), want, what=f"operator {dt}")
        if not isinstance(scalar, bool):
            check(torch, getattr(ours, op + "_scalar")(scalar), want, what=f"{op}_scalar {dt}")


# ================================================================ argmax/argmin

ARG_DATA = [
    ([[1.0, 3.0, 3.0, 0.0], [3.0, 0.0, 0.0, 3.0], [2.0, 2.0, 2.0, 2.0]], D.Float32),   # ties
    ([[1.0, NAN, 5.0, NAN], [-INF, INF, INF, -INF]], D.Float64),                         # NaN wins
    ([[4, -1, 4], [-1, -1, 7]], D.Int64),
    ([[4, 2, 4], [1, 1, 7]], D.Int32),
    ([[0.5, 0.25, 0.5]], D.Float16),
    ([[0.5, 0.25, 0.5]], D.BFloat16),
    ([[[1.0, 2.0], [2.0, 1.0]], [[0.0, 0.0], [5.0, 5.0]]], D.Float32),
]


@pytest.mark.parametrize("data,dtype", ARG_DATA, ids=lambda v: str(v)[:30])
@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_argmax_argmin(torch, name, data, dtype):
    ours, theirs = fl.tensor(data, dtype=dtype), torch.tensor(data, dtype=_tdt(torch, dtype))
    nd = theirs.dim()
    for dim in [None, *range(-nd, nd)]:
        for keepdim in (False, True):
            check(torch, getattr(ours, name)(dim, keepdim=keepdim),
                  getattr(theirs, name)(dim, keepdim=keepdim),
                  what=f"{name} dim={dim} keepdim={keepdim}")
    check(torch, getattr(ours, name)(), getattr(theirs, name)(), what=f"{name}()")


@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_argmax_argmin_0d_and_empty(torch, name):
    for dim, keepdim in [(None, False), (None, True), (0, False), (-1, True)]:
        check(torch, getattr(fl.tensor(2.5), name)(dim, keepdim=keepdim),
              getattr(torch.tensor(2.5), name)(dim, keepdim=keepdim), what=f"0-d {dim}")
    for dim, keepdim in [(1, False), (1, True), (-1, False)]:   # non-empty reduced dim
        check(torch, getattr(fl.zeros(0, 3), name)(dim, keepdim=keepdim),
              getattr(torch.zeros(0, 3), name)(dim, keepdim=keepdim), what=f"(0, 3) dim={dim}")
    for dim in [None, 0]:   # reducing an empty dimension is an error in both
        with pytest.raises((RuntimeError, IndexError)):
            getattr(torch.zeros(0, 3), name)(dim)
        with pytest.raises(fl.ShapeError):
            getattr(fl.zeros(0, 3), name)(dim)


# ============================================================ any / all / item


@pytest.mark.parametrize("data,dtype", [([0.0, -0.0], D.Float32), ([0.0, NAN], D.Float32),
                                        ([1.0, INF], D.Float64), ([], D.Float32),
                                        ([[0, 2], [0, 0]], D.Int64), ([[True, True]], D.Bool),
                                        ([True, False], D.Bool), ([[]], D.Int64),
                                        ([0.0, 0.5], D.BFloat16), ([3, 0], D.UInt8)],
                         ids=lambda v: str(v)[:20])
def test_any_all(torch, data, dtype):
    ours, theirs = fl.tensor(data, dtype=dtype), torch.tensor(data, dtype=_tdt(torch, dtype))
    # As torch: a 0-d Bool tensor (UInt8 0/1 for UInt8 input) whose bool() is the answer.
    for name in ("any", "all"):
        check(torch, getattr(ours, name)(), getattr(theirs, name)(), what=name)
        assert bool(getattr(ours, name)()) is bool(getattr(theirs, name)())
        check(torch, getattr(ours, name)(keepdim=True), getattr(theirs, name)(keepdim=True),
              what=f"{name} keepdim")


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_item_and_tolist(torch, dtype):
    for data in [2.75, [[1.5]], [[1.0, 2.5], [0.0, 3.0]], [], 0.0]:
        ours, theirs = fl.tensor(data, dtype=dtype), torch.tensor(data, dtype=_tdt(torch, dtype))
        want = theirs.tolist()
        got = ours.tolist()
        assert got == want and type(got) is type(want), f"tolist {data} {dtype}: {got} != {want}"
        if theirs.numel() == 1:
            got, want = ours.item(), theirs.item()
            assert got == want and type(got) is type(want), f"item {data} {dtype}"
            assert type(float(ours)) is float and int(ours) == int(theirs)
            assert bool(ours) is bool(theirs)
        else:
            with pytest.raises((RuntimeError, ValueError)):
                theirs.item()
            with pytest.raises(fl.ShapeError):
                ours.item()


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_metadata(torch, shape):
    ours, theirs = fl.zeros(shape), torch.zeros(shape)
    assert ours.numel() == theirs.numel()
    assert ours.shape == tuple(theirs.shape) and ours.size() == tuple(theirs.size())
    assert ours.ndim == theirs.ndim and ours.dim() == theirs.dim()
    for d in range(-len(shape), len(shape)):
        assert ours.size(d) == theirs.size(d)
    assert ours.element_size() == theirs.element_size()
    assert ours.is_floating_point() == theirs.is_floating_point()
    assert fl.zeros(shape, dtype=D.Int64).is_floating_point() == \
        torch.zeros(shape, dtype=torch.int64).is_floating_point()
    if shape:
        assert len(ours) == len(theirs)


def test_clone_and_detach(torch):
    for data, dt in [([[1.5, -2.0]], D.Float32), ([1, 2], D.Int64), ([True], D.Bool)]:
        ours, theirs = fl.tensor(data, dtype=dt), torch.tensor(data, dtype=_tdt(torch, dt))
        c = ours.clone()
        check(torch, c, theirs.clone(), what="clone")
        assert not np.shares_memory(c.to_numpy(), ours.to_numpy())
    v = fl.Variable(fl.tensor([1.0, 2.0]), requires_grad=True)
    tv = torch.tensor([1.0, 2.0], requires_grad=True)
    d, td = v.detach(), tv.detach()
    check(torch, d, td, what="detach")
    assert d.requires_grad is td.requires_grad is False


# ======================================================================= casts

CAST_FLOATS = [2.9, -2.9, 0.5, -0.5, 0.0, -0.0, 1e-3, 100.7, 1.0 / 3, 0.1, 250.5, 65504.0, 1e-8]
CAST_SPECIAL = [NAN, INF, -INF, 1e-30]
CAST_INTS = [0, 1, -1, 7, 255, -300, 2**31 - 1]
INT_RANGE = {D.UInt8: (0, 255), D.Int32: (-(2**31), 2**31 - 1), D.Int64: (-(2**62), 2**62),
             D.Bool: (0, 1)}


@pytest.mark.parametrize("src_dtype", ALL_DTYPES)
@pytest.mark.parametrize("dst_dtype", ALL_DTYPES)
def test_to_dtype(torch, src_dtype, dst_dtype):
    if src_dtype.is_floating_point:
        data = CAST_FLOATS + (CAST_SPECIAL if dst_dtype.is_floating_point or dst_dtype == D.Bool
                              else [])   # NaN/inf -> integer is undefined
    else:
        lo, hi = INT_RANGE[src_dtype]
        data = [x for x in CAST_INTS if lo <= x <= hi]
    if dst_dtype in (D.UInt8, D.Int32, D.Int64):   # out of range: overflow is not compared
        lo, hi = INT_RANGE[dst_dtype]
        data = [x for x in data if lo <= x <= hi]
    ours = fl.tensor(data, dtype=src_dtype)
    theirs = torch.tensor(data, dtype=_tdt(torch, src_dtype))
    check(torch, ours, theirs, what=f"source {src_dtype}")
    want = theirs.to(_tdt(torch, dst_dtype))
    check(torch, ours.to_dtype(dst_dtype), want, what=f"{src_dtype}->{dst_dtype}")
    check(torch, ours.to(dst_dtype), want, what=f"to() {src_dtype}->{dst_dtype}")


def test_cast_shorthands(torch):
    data = [2.7, -2.7, 0.0, 1.0 / 3]
    ours, theirs = fl.tensor(data), torch.tensor(data)
    for name in ["float", "double", "half", "bfloat16", "long", "int", "bool"]:
        check(torch, getattr(ours, name)(), getattr(theirs, name)(), what=name)


# ============================================== isnan / isinf / isfinite / close


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_isnan_isinf_isfinite(torch, dtype):
    data = [NAN, INF, -INF, 0.0, -1.5, 1e30] if dtype.is_floating_point else [0, 1, 3, 1]
    if dtype == D.Float16:
        data[-1] = 7e4   # overflows to inf in float16, in both
    ours, theirs = fl.tensor(data, dtype=dtype), torch.tensor(data, dtype=_tdt(torch, dtype))
    for name in ["isnan", "isinf", "isfinite"]:
        check(torch, getattr(ours, name)(), getattr(theirs, name)(), what=f"{name} {dtype}")


CLOSE = [
    ([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], {}),
    ([1.0, 2.0], [1.00001, 2.0], {}),
    ([1.0, 2.0], [1.0001, 2.0], {}),
    ([1.0, 2.0], [1.0001, 2.0], {"rtol": 1e-3}),
    ([0.0, 1e-9], [1e-9, 0.0], {}),
    ([0.0], [1e-7], {"atol": 0.0}),
    ([INF, -INF], [INF, -INF], {}),
    ([INF], [-INF], {}),
    ([NAN, 1.0], [NAN, 1.0], {}),
    ([NAN, 1.0], [NAN, 1.0], {"equal_nan": True}),
    ([[1.0, 1.0], [2.0, 1.0]], [1.0, 1.0], {}),
]


@pytest.mark.parametrize("a,b,kw", CLOSE, ids=repr)
def test_isclose_and_allclose(torch, a, b, kw):
    for dt in [D.Float64, D.Float32]:
        fa, fb = fl.tensor(a, dtype=dt), fl.tensor(b, dtype=dt)
        ta, tb = torch.tensor(a, dtype=_tdt(torch, dt)), torch.tensor(b, dtype=_tdt(torch, dt))
        check(torch, fa.isclose(fb, **kw), torch.isclose(ta, tb, **kw), what=f"isclose {dt}")
        if "equal_nan" not in kw:   # flodl's allclose has no equal_nan
            assert fa.allclose(fb, **kw) is torch.allclose(ta, tb, **kw), f"allclose {dt}"
    fi, ti = fl.tensor([1, 2, 3]), torch.tensor([1, 2, 3])
    assert fi.allclose(fi) is torch.allclose(ti, ti)


# ============================== any / all with dims, nonzero, count_nonzero, unique, ...

UTIL_DATA = [
    ([[1.0, 0.0, 2.0], [0.0, 0.0, 0.0]], D.Float32), ([[0.0, -0.0], [NAN, 0.0]], D.Float32),
    ([[[1, 0], [0, 0]], [[3, 4], [0, 5]]], D.Int64), ([[True, False], [True, True]], D.Bool),
    ([[3, 0], [0, 0]], D.UInt8), ([[0.5, 0.0], [0.0, 0.0]], D.BFloat16),
    ([[0, 0], [0, 0]], D.Int32), ([[1.0, 2.0]], D.Float16), ([[]], D.Float64),
    (2.5, D.Float32), (0, D.Int64), ([], D.Float32),
]
_uid = lambda v: str(v)[:24]   # noqa: E731


def _dims(ndim):
    """Every int dim, and some tuples, valid for an ``ndim``-d tensor."""
    out = [d for d in range(-max(ndim, 1), max(ndim, 1))]
    if ndim >= 2:
        out += [(0, 1), (-1, 0), (0,), ()]
    if ndim >= 3:
        out += [(0, 2), (0, 1, 2)]
    return out


@pytest.mark.parametrize("data,dtype", UTIL_DATA, ids=_uid)
@pytest.mark.parametrize("name", ["any", "all"])
def test_any_all_dims(torch, name, data, dtype):
    ours, theirs = fl.tensor(data, dtype=dtype), torch.tensor(data, dtype=_tdt(torch, dtype))
    for dim in _dims(ours.ndim):
        for keepdim in (False, True):
            check(torch, getattr(ours, name)(dim, keepdim=keepdim),
                  getattr(theirs, name)(dim, keepdim=keepdim), what=f"{name}({dim}, {keepdim})")


@pytest.mark.parametrize("data,dtype", UTIL_DATA, ids=_uid)
def test_nonzero(torch, data, dtype):
    ours, theirs = fl.tensor(data, dtype=dtype), torch.tensor(data, dtype=_tdt(torch, dtype))
    check(torch, ours.nonzero(), theirs.nonzero(), what="nonzero")
    check(torch, fl.nonzero(ours), torch.nonzero(theirs), what="fl.nonzero")
    got, want = ours.nonzero(as_tuple=True), theirs.nonzero(as_tuple=True)
    assert isinstance(got, tuple) and len(got) == len(want)
    for g, w in zip(got, want):
        check(torch, g, w, what="nonzero(as_tuple=True)")


@pytest.mark.parametrize("data,dtype", UTIL_DATA, ids=_uid)
def test_count_nonzero(torch, data, dtype):
    ours, theirs = fl.tensor(data, dtype=dtype), torch.tensor(data, dtype=_tdt(torch, dtype))
    check(torch, ours.count_nonzero(), theirs.count_nonzero(), what="count_nonzero")
    check(torch, fl.count_nonzero(ours), torch.count_nonzero(theirs), what="fl.count_nonzero")
    for dim in _dims(ours.ndim):
        check(torch, ours.count_nonzero(dim), theirs.count_nonzero(dim),
              what=f"count_nonzero({dim})")


UNIQUE_DATA = UTIL_DATA + [
    ([3.0, 1.0, 2.0, 1.0, 3.0, NAN, NAN, INF, -INF], D.Float32),   # NaNs stay distinct
    ([[5, 3], [5, 1], [9, 3]], D.Int64), ([-0.0, 0.0, -0.0], D.Float64),
    ([0.0, -0.0], D.Float64), ([7, 7, 7], D.UInt8), ([True, True], D.Bool),
]


@pytest.mark.parametrize("data,dtype", UNIQUE_DATA, ids=_uid)
def test_unique(torch, data, dtype):
    ours, theirs = fl.tensor(data, dtype=dtype), torch.tensor(data, dtype=_tdt(torch, dtype))
    check(torch, ours.unique(), theirs.unique(), what="unique")
    for inv in (False, True):
        for cnt in (False, True):
            got = fl.unique(ours, sorted=True, return_inverse=inv, return_counts=cnt)
            want = torch.unique(theirs, sorted=True, return_inverse=inv, return_counts=cnt)
            if not (inv or cnt):
                got, want = (got,), (want,)
            assert len(got) == len(want)
            for g, w in zip(got, want):
                check(torch, g, w, what=f"unique(inverse={inv}, counts={cnt})")
    # -0.0 vs 0.0: torch keeps the first of the equal values (in input order)
    if dtype.is_floating_point:
        np.testing.assert_array_equal(np.signbit(_values(ours.unique())),
                                      np.signbit(_values(theirs.unique())))
    with pytest.raises(NotImplementedError, match="unique"):
        ours.unique(dim=0)


BINCOUNT = [
    ([0, 1, 1, 3], None, 0), ([0, 1, 1, 3], None, 6), ([2, 2, 2], None, 1),
    ([], None, 0), ([], None, 4), ([5], None, 0),
    ([0, 1, 1, 3], ([0.5, 1.0, 1.0, 2.0], D.Float32), 0),
    ([0, 1, 1, 3], ([0.5, 1.0, 1.0, 2.0], D.Float64), 7),
    ([0, 1, 1, 3], ([0.5, 1.0, 1.0, 2.0], D.Float16), 0),
    ([0, 1, 1, 3], ([0.5, 1.0, 1.0, 2.0], D.BFloat16), 0),
    ([0, 1, 1, 3], ([1, 2, 3, 4], D.Int64), 0), ([0, 1, 1, 3], ([1, 0, 1, 1], D.Bool), 0),
    ([], ([], D.Float32), 3),
]


@pytest.mark.parametrize("in_dtype", [D.Int64, D.Int32, D.UInt8])
@pytest.mark.parametrize("data,weights,minlength", BINCOUNT, ids=_uid)
def test_bincount(torch, data, weights, minlength, in_dtype):
    ours = fl.tensor(data, dtype=in_dtype)
    theirs = torch.tensor(data, dtype=_tdt(torch, in_dtype))
    ow = tw = None
    if weights is not None:
        ow = fl.tensor(weights[0], dtype=weights[1])
        tw = torch.tensor(weights[0], dtype=_tdt(torch, weights[1]))
    check(torch, ours.bincount(ow, minlength=minlength),
          theirs.bincount(tw, minlength=minlength), what="bincount")
    check(torch, fl.bincount(ours, weights=ow, minlength=minlength),
          torch.bincount(theirs, weights=tw, minlength=minlength), what="fl.bincount")


@pytest.mark.parametrize("data,dtype,kw", [
    ([1.0, 2.0], D.Float32, {}), ([-1, 2], D.Int64, {}), ([[1, 2]], D.Int64, {}),
    (1, D.Int64, {}), ([True, False], D.Bool, {}), ([1, 2], D.Int64, {"minlength": -1}),
    ([0, 1, 1, 3], D.Int64, {"weights": ([1.0, 2.0], D.Float32)}),
], ids=_uid)
def test_bincount_errors_like_torch(torch, data, dtype, kw):
    tkw, okw = dict(kw), dict(kw)
    if "weights" in kw:
        okw["weights"] = fl.tensor(kw["weights"][0], dtype=kw["weights"][1])
        tkw["weights"] = torch.tensor(kw["weights"][0], dtype=_tdt(torch, kw["weights"][1]))
    with pytest.raises(RuntimeError):
        torch.tensor(data, dtype=_tdt(torch, dtype)).bincount(**tkw)
    with pytest.raises(fl.FlodlError, match="bincount"):
        fl.tensor(data, dtype=dtype).bincount(**okw)


LOGSPACE = [
    ((0, 3, 4), {}), ((-1, 1, 5), {"base": 2.0}), ((1, 2, 1), {}), ((1, 2, 0), {}),
    ((2, 0, 3), {}), ((0, 1, 11), {}), ((-3, 3, 13), {"dtype": D.Float64}),
    ((0, 1, 5), {"dtype": D.Float16}), ((0, 3, 4), {"dtype": D.Int64}),
    ((-2, 2, 5), {"dtype": D.Int64}), ((0, 2, 3), {"base": 2.5, "dtype": D.Int64}),
    ((0.5, 2.5, 3), {"dtype": D.Int32}), ((0, 3, 4), {"dtype": D.UInt8}),
    ((0.1, 0.7, 7), {"base": math.e}), ((0, 2, 5), {"base": 0.5, "dtype": D.Float64}),
]


@pytest.mark.parametrize("args,kwargs", LOGSPACE, ids=repr)
def test_logspace(torch, args, kwargs):
    tkw = {k: (_tdt(torch, v) if k == "dtype" else v) for k, v in kwargs.items()}
    ours, theirs = fl.logspace(*args, **kwargs), torch.logspace(*args, **tkw)
    # torch raises in the output dtype (float32 pow); flodl in float64 then rounds once.
    exact = ours.dtype in (D.Int64, D.Int32, D.UInt8)
    rtol = 0.0 if exact else {D.Float16: 1e-3}.get(ours.dtype, 1e-6)
    check(torch, ours, theirs, rtol=rtol, atol=0.0 if exact else 1e-12, what="logspace")


# ------------------------------- Python values converted to an explicit dtype

_EXPLICIT_CASES = [
    ([300], "uint8"), ([255], "uint8"), ([-128], "uint8"), ([-129], "uint8"),
    ([-255], "uint8"), ([-256], "uint8"), ([2 ** 40], "int32"), ([2 ** 63], "int64"),
    ([2 ** 63 - 1], "int64"), ([-2 ** 63], "int64"), ([9.3e18], "int64"),
    ([9.2e18], "int64"), ([70000.0], "float16"), ([3.7], "int32"), ([-3.7], "uint8"),
    ([255.9], "uint8"), ([255.0], "uint8"), ([256.0], "uint8"), ([float("nan")], "int64"),
    ([1e40], "float32"), ([True, 2], "uint8"), ([-2.5, 1], "int32"),
]


@pytest.mark.parametrize("data, name", _EXPLICIT_CASES,
                         ids=[f"{d}-{n}" for d, n in _EXPLICIT_CASES])
def test_tensor_with_an_explicit_dtype_overflows_as_torch(torch, data, name):
    try:
        want = torch.tensor(data, dtype=getattr(torch, name)).tolist()
    except (RuntimeError, OverflowError, ValueError):     # torch's overflow errors
        want = None
    fl_dtype = {"uint8": fl.DType.UInt8, "int32": fl.DType.Int32, "int64": fl.DType.Int64,
                "float16": fl.DType.Float16, "float32": fl.DType.Float32}[name]
    if want is None:
        with pytest.raises(OverflowError, match="without overflow"):
            fl.tensor(data, dtype=fl_dtype)
    else:
        assert fl.tensor(data, dtype=fl_dtype).to_numpy().tolist() == want
