"""creation.py: every factory, its shape and option spellings, and dtype inference."""
import math

import ml_dtypes
import numpy as np
import pytest

import flodl_core as fl
from flodl_core import Device, DType, Tensor, TensorOptions

F32, F64, I64, I32 = DType.Float32, DType.Float64, DType.Int64, DType.Int32


def host(t):
    return t.to_numpy()


# ------------------------------------------------------------ filled ones


@pytest.mark.parametrize("name,value", [("zeros", 0), ("ones", 1)])
class TestFilled:
    def test_shape_spellings(self, name, value, device):
        fn = getattr(fl, name)
        for t in (fn(2, 3, device=device), fn((2, 3), device=device),
                  fn([2, 3], device=device)):
            assert t.shape == (2, 3)
            assert t.dtype is F32
            assert t.device == device
            np.testing.assert_array_equal(host(t), np.full((2, 3), value, np.float32))

    def test_static_spelling(self, name, value, device):
        t = getattr(Tensor, name)(4, device=device)
        assert isinstance(t, Tensor) and t.shape == (4,)
        np.testing.assert_array_equal(host(t), np.full(4, value, np.float32))

    def test_scalar_and_empty_shapes(self, name, value):
        fn = getattr(fl, name)
        assert fn().shape == ()
        assert fn(()).shape == ()
        assert fn(0, 3).shape == (0, 3)
        assert fn(0, 3).numel() == 0

    def test_options(self, name, value, device):
        fn = getattr(fl, name)
        opts = TensorOptions(dtype=F64, device=device)
        for t in (fn(2, 2, opts=opts), fn(2, 2, opts), fn((2, 2), opts),
                  fn(2, 2, dtype=F64, device=device)):
            assert t.dtype is F64 and t.device == device and t.shape == (2, 2)
        # explicit keywords win over opts
        t = fn(3, opts=opts, dtype=I64)
        assert t.dtype is I64 and t.device == device

    def test_options_given_twice(self, name, value):
        with pytest.raises(TypeError, match="TensorOptions given twice"):
            getattr(fl, name)(2, TensorOptions(), opts=TensorOptions())

    @pytest.mark.parametrize("dt", list(DType), ids=lambda d: d.name)
    def test_every_dtype(self, name, value, dt):
        t = getattr(fl, name)(3, dtype=dt)
        assert t.dtype is dt
        assert t.to_f64_vec() == [float(value)] * 3

    def test_bad_shapes(self, name, value):
        fn = getattr(fl, name)
        with pytest.raises(fl.ShapeError, match="negative dimension"):
            fn(2, -1)
        with pytest.raises(TypeError, match="shape entries must be ints"):
            fn(2.0, 3)
        with pytest.raises(TypeError, match="shape entries must be ints"):
            fn(True)

    def test_string_device(self, name, value):
        assert getattr(fl, name)(2, device="cpu").device == Device.CPU


def test_numpy_int_shape():
    assert fl.zeros(np.int64(2), np.int32(3)).shape == (2, 3)


def test_empty(device):
    t = fl.empty(3, 4, device=device)
    assert t.shape == (3, 4) and t.dtype is F32 and t.device == device
    t = fl.empty((2,), dtype=I64, device=device)
    assert t.dtype is I64
    assert Tensor.empty(2, 2).shape == (2, 2)
    assert fl.empty(2, TensorOptions(dtype=F64)).dtype is F64


class TestFull:
    def test_values(self, device):
        t = fl.full((2, 3), 2.5, device=device)
        assert t.shape == (2, 3) and t.device == device
        np.testing.assert_array_equal(host(t), np.full((2, 3), 2.5, np.float32))

    def test_dtype_inference_like_pytorch(self):
        assert fl.full((2,), 1.0).dtype is F32
        assert fl.full((2,), 1).dtype is I64
        assert fl.full((2,), True).dtype is DType.Bool
        assert fl.full((2,), np.float64(1.0)).dtype is F32
        assert fl.full((2,), np.int32(1)).dtype is I64
        assert fl.full((2,), 1, dtype=F64).dtype is F64

    def test_shape_spellings(self):
        assert fl.full(3, 0.5).shape == (3,)
        assert fl.full([2, 2], 0.5).shape == (2, 2)
        assert fl.full((), 7).shape == ()
        assert fl.full((), 7).item() == 7

    def test_options(self, device):
        t = fl.full((2,), 3, opts=TensorOptions(dtype=F64, device=device))
        assert t.dtype is F64 and t.device == device and t.to_f64_vec() == [3.0, 3.0]
        assert Tensor.full((1,), 4.0).tolist() == [4.0]


class TestEye:
    def test_square_and_rect(self, device):
        np.testing.assert_array_equal(host(fl.eye(3, device=device)), np.eye(3, dtype=np.float32))
        np.testing.assert_array_equal(host(fl.eye(2, 4, device=device)), np.eye(2, 4))
        assert fl.eye(2, 4).shape == (2, 4)

    def test_options(self):
        assert fl.eye(2, dtype=I64).dtype is I64
        assert fl.eye(2, opts=TensorOptions(dtype=F64)).dtype is F64
        assert Tensor.eye(3).shape == (3, 3)
        assert fl.eye(0).shape == (0, 0)

    def test_negative(self):
        with pytest.raises(fl.ShapeError):
            fl.eye(-1)


class TestArange:
    def test_forms(self, device):
        assert fl.arange(5, device=device).tolist() == [0, 1, 2, 3, 4]
        assert fl.arange(2, 5, device=device).tolist() == [2, 3, 4]
        assert fl.arange(0, 10, 3, device=device).tolist() == [0, 3, 6, 9]
        assert fl.arange(5, 0, -2, device=device).tolist() == [5, 3, 1]
        assert fl.arange(3, 3).tolist() == []
        assert fl.arange(5, device=device).device == device

    def test_dtype_inference_like_pytorch(self):
        assert fl.arange(5).dtype is I64
        assert fl.arange(0, 5, 1).dtype is I64
        assert fl.arange(5.0).dtype is F32
        assert fl.arange(0, 1, 0.25).dtype is F32
        assert fl.arange(0, 5, 1, dtype=F64).dtype is F64
        assert fl.arange(4, dtype=F32).tolist() == [0.0, 1.0, 2.0, 3.0]

    def test_float_steps(self):
        np.testing.assert_allclose(host(fl.arange(0, 1, 0.25)), [0, 0.25, 0.5, 0.75])
        assert fl.arange(0, 1, 0.1).shape == (10,)
        assert fl.arange(1, 2.5, 0.5).tolist() == [1.0, 1.5, 2.0]
        # start + i * step, computed in float64 then rounded once
        got = host(fl.arange(0.1, 1.0, 0.3, dtype=F64))
        np.testing.assert_array_equal(got, [0.1 + i * 0.3 for i in range(3)])

    def test_errors(self):
        with pytest.raises(ValueError, match="step must be nonzero"):
            fl.arange(0, 5, 0)
        with pytest.raises(ValueError, match="does not lead"):
            fl.arange(0, 5, -1)

    def test_static(self):
        assert Tensor.arange(3).tolist() == [0, 1, 2]


class TestLinspace:
    def test_values(self, device):
        t = fl.linspace(0, 1, 5, device=device)
        assert t.dtype is F32 and t.device == device
        np.testing.assert_allclose(host(t), [0, 0.25, 0.5, 0.75, 1.0])
        assert fl.linspace(-1, 1, 1).tolist() == [-1.0]
        assert fl.linspace(0, 1, 0).shape == (0,)
        assert fl.linspace(2, 2, 3).tolist() == [2.0, 2.0, 2.0]

    def test_dtype(self):
        assert fl.linspace(0, 1, 3, dtype=F64).dtype is F64
        assert fl.linspace(0, 1, 3, TensorOptions(dtype=F64)).dtype is F64
        np.testing.assert_array_equal(host(fl.linspace(0, 1, 11, dtype=F64)),
                                      np.linspace(0, 1, 11))
        assert Tensor.linspace(0, 1, 2).tolist() == [0.0, 1.0]

    def test_bad_steps(self):
        with pytest.raises(ValueError, match="steps"):
            fl.linspace(0, 1, -1)


# ---------------------------------------------------------------- random


class TestRandom:
    def test_rand(self, device):
        fl.manual_seed(0)
        t = fl.rand(200, 50, device=device)
        assert t.shape == (200, 50) and t.dtype is F32 and t.device == device
        a = host(t)
        assert a.min() >= 0.0 and a.max() < 1.0
        assert abs(a.mean() - 0.5) < 0.02

    def test_randn(self, device):
        fl.manual_seed(0)
        t = fl.randn((200, 50), device=device)
        assert t.shape == (200, 50) and t.dtype is F32
        a = host(t)
        assert abs(a.mean()) < 0.03 and abs(a.std() - 1.0) < 0.03

    @pytest.mark.parametrize("dt", [DType.Float16, DType.BFloat16, F32, F64],
                             ids=lambda d: d.name)
    def test_float_dtypes(self, dt, device):
        if dt is DType.BFloat16 and device.is_cuda:
            pytest.skip("no bfloat16 on CuPy")
        for fn in (fl.rand, fl.randn):
            t = fn(3, 4, dtype=dt, device=device)
            assert t.dtype is dt and t.shape == (3, 4)
        assert fl.rand(2, TensorOptions(dtype=dt, device=device)).dtype is dt

    def test_int_dtype_rejected(self):
        with pytest.raises(fl.DTypeError, match="rand: expected a floating dtype"):
            fl.rand(2, dtype=I64)
        with pytest.raises(fl.DTypeError, match="randn"):
            fl.randn(2, dtype=DType.Bool)

    def test_randint(self, device):
        fl.manual_seed(0)
        t = fl.randint(-3, 4, (1000,), device=device)
        assert t.dtype is I64 and t.shape == (1000,) and t.device == device
        assert set(host(t).tolist()) == set(range(-3, 4))
        t = fl.randint(5, shape=(2, 3))
        assert t.shape == (2, 3) and host(t).min() >= 0 and host(t).max() < 5
        assert fl.randint(0, 2, 4).shape == (4,)
        assert fl.randint(0, 2).shape == ()
        assert fl.randint(0, 9, (2,), dtype=I32).dtype is I32
        assert fl.randint(0, 9, (2,), opts=TensorOptions(dtype=I32)).dtype is I32

    def test_randint_empty_range(self):
        with pytest.raises(ValueError, match="empty range"):
            fl.randint(3, 3)
        with pytest.raises(ValueError, match="empty range"):
            fl.randint(0)

    def test_randperm(self, device):
        t = fl.randperm(20, device=device)
        assert t.dtype is I64 and t.shape == (20,) and t.device == device
        assert sorted(t.tolist()) == list(range(20))
        assert fl.randperm(0).tolist() == []
        assert fl.randperm(4, dtype=I32).dtype is I32

    def test_statics(self):
        assert Tensor.rand(2).shape == (2,)
        assert Tensor.randn(2, 2).shape == (2, 2)
        assert Tensor.randint(0, 3, (5,)).dtype is I64
        assert sorted(Tensor.randperm(3).tolist()) == [0, 1, 2]


# ---------------------------------------------------------------- *_like


class TestLike:
    def test_zeros_ones_empty_full_like(self, device):
        x = fl.ones(2, 3, dtype=F64, device=device)
        for fn, expect in ((fl.zeros_like, 0.0), (fl.ones_like, 1.0)):
            t = fn(x)
            assert t.shape == (2, 3) and t.dtype is F64 and t.device == device
            assert t.to_f64_vec() == [expect] * 6
        e = fl.empty_like(x)
        assert e.shape == (2, 3) and e.dtype is F64 and e.device == device
        f = fl.full_like(x, 7)
        assert f.dtype is F64 and f.to_f64_vec() == [7.0] * 6   # x's dtype, as in PyTorch

    def test_dtype_override(self):
        x = fl.ones(2, dtype=I32)
        assert fl.zeros_like(x).dtype is I32
        assert fl.zeros_like(x, dtype=F32).dtype is F32
        assert fl.full_like(x, 2.0, dtype=F64).to_f64_vec() == [2.0, 2.0]

    def test_rand_like(self, device):
        x = fl.zeros(4, 5, dtype=F64, device=device)
        r = fl.rand_like(x)
        assert r.shape == (4, 5) and r.dtype is F64 and r.device == device
        assert 0.0 <= host(r).min() and host(r).max() < 1.0
        n = fl.randn_like(x)
        assert n.shape == (4, 5) and n.dtype is F64

    def test_rand_like_int_rejected(self):
        with pytest.raises(fl.DTypeError):
            fl.rand_like(fl.zeros(2, dtype=I64))

    def test_variables_accepted(self):
        v = fl.Variable(fl.ones(3), requires_grad=True)
        t = fl.zeros_like(v)
        assert type(t) is Tensor and t.shape == (3,)

    def test_not_a_tensor(self):
        with pytest.raises(TypeError, match="zeros_like: expected a tensor"):
            fl.zeros_like(np.zeros(3))

    def test_statics(self):
        x = fl.ones(2)
        assert Tensor.zeros_like(x).tolist() == [0.0, 0.0]
        assert Tensor.ones_like(x).tolist() == [1.0, 1.0]
        assert Tensor.full_like(x, 3).tolist() == [3.0, 3.0]
        assert Tensor.empty_like(x).shape == (2,)
        assert Tensor.rand_like(x).shape == (2,)
        assert Tensor.randn_like(x).shape == (2,)


# ------------------------------------------------------------- from data


class TestFromNumpy:
    @pytest.mark.parametrize("np_dtype,dt", [(np.float32, F32), (np.float64, F64),
                                             (np.int64, I64), (np.int32, I32),
                                             (np.bool_, DType.Bool), (np.uint8, DType.UInt8),
                                             (np.float16, DType.Float16),
                                             (ml_dtypes.bfloat16, DType.BFloat16)])
    def test_dtypes(self, np_dtype, dt):
        a = np.arange(6).reshape(2, 3).astype(np_dtype)
        t = fl.from_numpy(a)
        assert t.dtype is dt and t.shape == (2, 3) and t.device == Device.CPU
        np.testing.assert_array_equal(t.to_numpy(), a)

    def test_zero_copy(self):
        a = np.zeros(3, dtype=np.float32)
        t = fl.from_numpy(a)
        assert np.shares_memory(t.to_numpy(), a)
        a[0] = 5.0   # documented: the tensor sees later writes
        assert t.tolist()[0] == 5.0
        assert Tensor.from_numpy(a).tolist() == [5.0, 0.0, 0.0]

    def test_unsupported(self):
        with pytest.raises(fl.DTypeError, match="unsupported NumPy dtype complex64"):
            fl.from_numpy(np.zeros(2, dtype=np.complex64))
        with pytest.raises(fl.DTypeError, match="int16"):
            fl.from_numpy(np.zeros(2, dtype=np.int16))
        with pytest.raises(TypeError, match="expected a numpy.ndarray, got list"):
            fl.from_numpy([1.0, 2.0])

    def test_non_contiguous(self):
        a = np.arange(12.0).reshape(3, 4).T
        t = fl.from_numpy(a)
        assert t.shape == (4, 3)
        assert not t.is_contiguous()
        np.testing.assert_array_equal(t.to_numpy(), a)


class TestFromFlat:
    @pytest.mark.parametrize("fn,dt", [(fl.from_f32, F32), (fl.from_f64, F64),
                                       (fl.from_i64, I64)])
    def test_values(self, fn, dt, device):
        t = fn([1, 2, 3, 4, 5, 6], (2, 3), device=device)
        assert t.dtype is dt and t.shape == (2, 3) and t.device == device
        assert t.to_f64_vec() == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
        assert fn([1, 2, 3], [3]).shape == (3,)
        assert fn([1, 2, 3], 3).shape == (3,)
        assert fn([7], ()).shape == ()

    def test_from_numpy_input(self):
        t = fl.from_f64(np.arange(4), (2, 2))
        assert t.to_f64_vec() == [0.0, 1.0, 2.0, 3.0]

    def test_precision(self):
        assert fl.from_f64([0.1], (1,)).to_f64_vec() == [0.1]
        assert fl.from_f32([0.1], (1,)).to_f64_vec() == [float(np.float32(0.1))]
        assert fl.from_i64([2 ** 40 + 1], (1,)).to_i64_vec() == [2 ** 40 + 1]

    @pytest.mark.parametrize("fn", [fl.from_f32, fl.from_f64, fl.from_i64])
    def test_count_mismatch(self, fn):
        with pytest.raises(fl.ShapeError) as ei:
            fn([1, 2, 3], (2, 2))
        assert str(ei.value) == (f"{fn.__name__}: 3 values do not fill shape (2, 2) "
                                 "(4 elements)")

    def test_statics(self):
        assert Tensor.from_f32([1, 2], (2,)).dtype is F32
        assert Tensor.from_f64([1, 2], (2,)).dtype is F64
        assert Tensor.from_i64([1, 2], (2,)).dtype is I64


class TestTensorFactory:
    def test_dtype_inference_like_pytorch(self):
        assert fl.tensor(1.5).dtype is F32
        assert fl.tensor(3).dtype is I64
        assert fl.tensor(True).dtype is DType.Bool
        assert fl.tensor([1, 2]).dtype is I64
        assert fl.tensor([1, 2.5]).dtype is F32
        assert fl.tensor([[True, False]]).dtype is DType.Bool
        assert fl.tensor([]).dtype is F32
        # NumPy inputs keep their dtype
        assert fl.tensor(np.arange(3, dtype=np.int32)).dtype is I32
        assert fl.tensor(np.zeros(2)).dtype is F64
        assert fl.tensor(np.float64(2.0)).dtype is F64
        # tensors keep theirs
        assert fl.tensor(fl.ones(2, dtype=F64)).dtype is F64

    def test_values_and_shapes(self, device):
        t = fl.tensor([[1.0, 2.0], [3.0, 4.0]], device=device)
        assert t.shape == (2, 2) and t.device == device
        assert t.tolist() == [[1.0, 2.0], [3.0, 4.0]]
        assert fl.tensor(2.5).shape == ()
        assert fl.tensor(2.5).item() == 2.5
        assert fl.tensor([]).shape == (0,)

    def test_explicit_dtype_is_exact(self):
        # Python floats must not be rounded through float32 when Float64 is asked for.
        assert fl.tensor([0.1, 1e-40], dtype=F64).to_f64_vec() == [0.1, 1e-40]
        assert fl.tensor(0.1, dtype=F64).item() == 0.1
        assert fl.tensor([2 ** 53 + 1], dtype=I64).to_i64_vec() == [2 ** 53 + 1]
        assert fl.tensor([1, 2], dtype=F32).dtype is F32
        assert fl.tensor([1.0, 2.0], dtype=DType.Float16).dtype is DType.Float16
        assert fl.tensor([1.0], opts=TensorOptions(dtype=F64)).dtype is F64

    def test_copies(self):
        a = np.arange(3.0)
        t = fl.tensor(a)
        a[0] = 100.0
        assert t.tolist() == [0.0, 1.0, 2.0]
        src = fl.ones(2)
        c = fl.tensor(src)
        assert not np.shares_memory(c.to_numpy(), src.to_numpy())

    def test_from_variable(self):
        v = fl.Variable(fl.ones(2), requires_grad=True)
        t = fl.tensor(v)
        assert type(t) is Tensor and t.tolist() == [1.0, 1.0]

    def test_errors(self):
        with pytest.raises(fl.ShapeError, match="not rectangular"):
            fl.tensor([[1, 2], [3]])
        with pytest.raises(fl.DTypeError, match="cannot build a tensor"):
            fl.tensor(["a", "b"])
        with pytest.raises(fl.DTypeError):
            fl.tensor(np.zeros(2, dtype=np.complex128))


class TestDlpackImport:
    def test_from_dlpack_numpy(self):
        a = np.arange(6, dtype=np.float32).reshape(2, 3)
        t = fl.from_dlpack(a)
        assert t.dtype is F32 and t.shape == (2, 3) and t.device == Device.CPU
        assert np.shares_memory(t.to_numpy(), a)
        assert Tensor.from_dlpack(a).tolist() == a.tolist()

    def test_round_trip(self):
        t = fl.arange(5, dtype=F64)
        back = fl.from_dlpack(t)
        assert back.tolist() == t.tolist() and back.dtype is F64
        assert np.shares_memory(back.to_numpy(), t.to_numpy())


# ----------------------------------------------------------------- CUDA


@pytest.mark.skipif(fl.cuda_available(), reason="CUDA is available here")
def test_cuda_factory_without_cuda_raises_with_hint():
    with pytest.raises(fl.DeviceError) as ei:
        fl.zeros(2, device=Device.CUDA(0))
    msg = str(ei.value)
    assert "CUDA" in msg and ("pip install" in msg or "CuPy sees 0" in msg)


@pytest.mark.skipif(not fl.cuda_available(), reason="needs CUDA")
def test_cuda_ordinal_out_of_range():
    n = fl.cuda_device_count()
    with pytest.raises(fl.DeviceError, match=f"CuPy sees {n} CUDA device"):
        fl.zeros(2, device=Device.CUDA(n))


def test_factory_value_count():
    """Every factory named in __all__ is reachable from fl and Tensor."""
    from flodl_core import creation
    for name in creation.__all__:
        assert callable(getattr(fl, name)), name
        if name != "tensor":
            assert getattr(Tensor, name) is not None, name
    assert math.prod(fl.ones(2, 3, 4).shape) == 24


class TestPositionalOptions:
    """flodl passes TensorOptions last: ``Tensor::full(&[2], 1.0, opts)``."""

    def test_every_factory(self, device):
        o = TensorOptions(dtype=F64, device=device)
        cases = {
            "zeros": fl.zeros(2, o), "ones": fl.ones((2,), o), "empty": fl.empty(2, o),
            "rand": fl.rand(2, o), "randn": fl.randn(2, o),
            "full": fl.full((2,), 1, o), "eye": fl.eye(2, o), "eye_nm": fl.eye(2, 3, o),
            "arange1": fl.arange(3, o), "arange2": fl.arange(0, 3, o),
            "arange3": fl.arange(0, 3, 1, o), "linspace": fl.linspace(0, 1, 3, o),
            "randint2": fl.randint(0, 3, o), "randint3": fl.randint(0, 3, (2,), o),
            "randperm": fl.randperm(3, o),
        }
        for name, t in cases.items():
            assert t.dtype is F64, name
            assert t.device == device, name
        assert cases["eye"].shape == (2, 2) and cases["eye_nm"].shape == (2, 3)
        assert cases["arange1"].tolist() == [0.0, 1.0, 2.0]
        assert cases["arange2"].tolist() == [0.0, 1.0, 2.0]
        assert cases["randint2"].shape == ()

    def test_keyword_dtype_wins(self):
        o = TensorOptions(dtype=F64)
        assert fl.eye(2, o, dtype=I64).dtype is I64
        assert fl.arange(3, o, dtype=F32).dtype is F32

    def test_twice(self):
        o = TensorOptions()
        for call in (lambda: fl.eye(2, o, opts=o), lambda: fl.arange(3, o, opts=o),
                     lambda: fl.full((1,), 1, o, opts=o), lambda: fl.randint(3, o, opts=o)):
            with pytest.raises(TypeError, match="TensorOptions given twice"):
                call()


# ------------------------------------------------ PyTorch's forms and edge rules


def test_arange_with_an_integer_dtype_casts_its_arguments_first():
    # as torch: start/end/step become integers (toward zero) before the length
    np.testing.assert_array_equal(
        fl.arange(0.5, 5, 1.5, dtype=fl.DType.Int64).to_numpy(), [0, 1, 2, 3, 4])
    with pytest.raises(ValueError, match="step must be nonzero"):
        fl.arange(0, 2.5, 0.5, dtype=fl.DType.Int64)


def test_randint_takes_high_and_size():
    t = fl.randint(10, (3, 4))
    assert t.shape == (3, 4) and t.dtype == fl.DType.Int64
    a = t.to_numpy()
    assert a.min() >= 0 and a.max() < 10


def test_tensor_refuses_integers_beyond_int64():
    with pytest.raises(OverflowError, match="Int64"):
        fl.tensor([2 ** 63])


@pytest.mark.parametrize("dtype", [fl.DType.Float16, fl.DType.BFloat16])
def test_rand_in_half_types_stays_below_one(dtype):
    fl.manual_seed(0)
    a = fl.rand(200_000, dtype=dtype).to_numpy().astype(np.float64)
    assert a.min() >= 0.0 and a.max() < 1.0


def test_argmax_over_a_nonempty_dim_of_an_empty_tensor():
    t = fl.zeros(0, 3)
    assert t.argmax(1).shape == (0,)


@pytest.mark.parametrize("data, dtype", [([300], fl.DType.UInt8), ([2 ** 40], fl.DType.Int32),
                                         ([256.0], fl.DType.UInt8), ([-0.5], fl.DType.UInt8),
                                         ([float("nan")], fl.DType.Int64)])
def test_tensor_refuses_python_values_that_overflow_the_requested_dtype(data, dtype):
    with pytest.raises(OverflowError, match=f"cannot be converted to {dtype.name}"):
        fl.tensor(data, dtype=dtype)


def test_tensor_keeps_torchs_conversions_that_do_fit():
    assert fl.tensor([-1], dtype=fl.DType.UInt8).to_numpy().tolist() == [255]   # wraps, as C++
    assert fl.tensor([3.7, -2.5], dtype=fl.DType.Int32).to_numpy().tolist() == [3, -2]
    assert np.isinf(fl.tensor([70000.0], dtype=fl.DType.Float16).to_numpy()[0])
