"""tensor.py: metadata, data access, conversions, comparisons, operators, bf16, immutability."""
import pickle

import ml_dtypes
import numpy as np
import pytest

import flodl_core as fl
from flodl_core import Device, DType, Tensor

F32, F64, I64 = DType.Float32, DType.Float64, DType.Int64
BF16 = np.dtype(ml_dtypes.bfloat16)


def T(values, device=Device.CPU, dtype=None):
    return fl.tensor(values, dtype=dtype, device=device)


def host(t):
    return t.to_numpy()


# ---------------------------------------------------------------- metadata


class TestMetadata:
    def test_basic(self, device):
        t = fl.zeros(2, 3, 4, device=device)
        assert t.shape == (2, 3, 4)
        assert t.ndim == 3 and t.dim() == 3
        assert t.dtype is F32
        assert t.device == device
        assert t.numel() == 24
        assert t.nbytes == 24 * 4
        assert t.element_size() == 4
        assert t.is_contiguous()
        assert t.size() == (2, 3, 4) and t.size(1) == 3 and t.size(-1) == 4
        assert len(t) == 2
        assert t.is_floating_point()
        assert t.is_cuda() == device.is_cuda

    def test_dtypes_nbytes(self):
        assert fl.zeros(5, dtype=F64).nbytes == 40
        assert fl.zeros(5, dtype=DType.BFloat16).nbytes == 10
        assert fl.zeros(5, dtype=DType.Bool).nbytes == 5
        assert not fl.zeros(2, dtype=I64).is_floating_point()

    def test_scalar(self):
        t = fl.tensor(3.0)
        assert t.shape == () and t.ndim == 0 and t.numel() == 1
        with pytest.raises(TypeError, match="len"):
            len(t)

    def test_non_contiguous(self, device):
        t = fl.zeros(3, 4, device=device).transpose(0, 1)
        assert t.shape == (4, 3)
        assert not t.is_contiguous()

    def test_size_bad_dim(self):
        with pytest.raises(fl.FlodlIndexError, match="dim 3 out of range"):
            fl.zeros(2, 3).size(3)

    def test_constructor(self):
        a = np.arange(3.0)
        t = Tensor(a)
        assert t.dtype is F64 and t.tolist() == [0.0, 1.0, 2.0]
        assert Tensor(t).tolist() == [0.0, 1.0, 2.0]
        with pytest.raises(TypeError, match="fl.tensor"):
            Tensor([1.0, 2.0])
        with pytest.raises(fl.DTypeError):
            Tensor(np.zeros(2, dtype=np.complex64))


# ------------------------------------------------------------- data access


class TestDataAccess:
    def test_item(self, device):
        assert T(2.5, device).item() == 2.5
        assert isinstance(T(2.5, device).item(), float)
        v = T(7, device).item()
        assert v == 7 and isinstance(v, int)
        assert T(True, device).item() is True
        assert T([[4.0]], device).item() == 4.0   # any one-element shape
        with pytest.raises(fl.ShapeError, match=r"only one-element tensors.*\(2,\)"):
            T([1.0, 2.0], device).item()

    def test_python_conversions(self):
        assert float(T([2.5])) == 2.5
        assert int(T(3)) == 3
        assert bool(T(1.0)) is True and bool(T(0.0)) is False
        with pytest.raises(ValueError, match="ambiguous"):
            bool(T([1.0, 2.0]))

    def test_to_numpy_cpu_is_read_only_view(self):
        src = np.arange(4.0)
        t = fl.from_numpy(src)
        a = t.to_numpy()
        assert isinstance(a, np.ndarray)
        assert np.shares_memory(a, src)
        assert not a.flags.writeable
        with pytest.raises(ValueError):
            a[0] = 10.0
        assert t.tolist() == [0.0, 1.0, 2.0, 3.0]
        assert t.numpy().tolist() == [0.0, 1.0, 2.0, 3.0]

    def test_to_numpy_device(self, device):
        t = T([[1.0, 2.0], [3.0, 4.0]], device)
        a = t.to_numpy()
        assert type(a) is np.ndarray
        np.testing.assert_array_equal(a, [[1.0, 2.0], [3.0, 4.0]])

    def test_tolist(self, device):
        assert T([[1.0, 2.0], [3.0, 4.0]], device).tolist() == [[1.0, 2.0], [3.0, 4.0]]
        assert T([1, 2], device).tolist() == [1, 2]
        assert T(2.0, device).tolist() == 2.0
        assert T([True, False], device).tolist() == [True, False]
        assert fl.tensor([1.5, 2.25], dtype=DType.BFloat16).tolist() == [1.5, 2.25]
        out = fl.tensor([1.5], dtype=DType.BFloat16).tolist()
        assert type(out[0]) is float

    def test_vecs(self, device):
        t = T([[1.5, -2.7], [3.0, 0.1]], device, dtype=F64)
        assert t.to_f64_vec() == [1.5, -2.7, 3.0, 0.1]
        assert t.to_f32_vec() == [float(np.float32(v)) for v in (1.5, -2.7, 3.0, 0.1)]
        assert t.to_i64_vec() == [1, -2, 3, 0]   # truncation toward zero
        assert T([1, 2], device).to_f64_vec() == [1.0, 2.0]
        assert all(type(v) is int for v in T([1, 2], device).to_i64_vec())
        assert T(5.0, device).to_f32_vec() == [5.0]

    def test_array_protocol(self):
        t = T([[1.0, 2.0], [3.0, 4.0]])
        a = np.asarray(t)
        assert a.dtype == np.float32 and a.tolist() == [[1.0, 2.0], [3.0, 4.0]]
        # immutability: the implicit conversion must not give write access to the tensor
        assert not a.flags.writeable
        b = np.array(t)           # an explicit copy is the user's to write
        b[0, 0] = 100.0
        assert t.tolist() == [[1.0, 2.0], [3.0, 4.0]]
        c = np.asarray(t, dtype=np.float64)
        assert c.dtype == np.float64 and c.tolist() == [[1.0, 2.0], [3.0, 4.0]]

    def test_dlpack_to_numpy(self):
        t = T([[1.0, 2.0], [3.0, 4.0]])
        a = np.from_dlpack(t)
        assert a.dtype == np.float32 and a.tolist() == [[1.0, 2.0], [3.0, 4.0]]
        assert np.shares_memory(a, t.to_numpy())
        assert t.__dlpack_device__()[0] == 1   # kDLCPU

    def test_dlpack_round_trip(self):
        src = np.arange(6, dtype=np.int64).reshape(2, 3)
        t = fl.from_dlpack(src)
        assert t.dtype is I64 and t.shape == (2, 3)
        back = np.from_dlpack(t)
        np.testing.assert_array_equal(back, src)
        assert np.shares_memory(back, src)

    @pytest.mark.skipif(not fl.cuda_available(), reason="needs CUDA")
    def test_cuda_array_protocol_refuses_implicit_copy(self):
        t = fl.ones(2, device=Device.CUDA(0))
        with pytest.raises(fl.DeviceError, match="to_numpy"):
            np.asarray(t)

    def test_iteration_and_indexing(self):
        t = T([[1, 2], [3, 4]])
        assert [r.tolist() for r in t] == [[1, 2], [3, 4]]
        assert t[1].tolist() == [3, 4]
        with pytest.raises(TypeError, match="0-d"):
            iter(T(1.0))


# -------------------------------------------------------------- conversions


class TestConversions:
    def test_to_device_same_returns_self(self, device):
        t = fl.ones(3, device=device)
        assert t.to_device(device) is t
        assert t.to_device(str(device)) is t
        assert t.to(device) is t

    def test_cpu_to_cpu(self):
        t = fl.ones(3)
        assert t.to_device(Device.CPU) is t
        assert t.to_device("cpu") is t
        assert t.cpu() is t

    @pytest.mark.skipif(not fl.cuda_available(), reason="needs CUDA")
    def test_cuda_round_trip(self):
        t = fl.arange(6, dtype=F32).reshape(2, 3)
        g = t.to_device(Device.CUDA(0))
        assert g.device == Device.CUDA(0) and g.dtype is F32
        back = g.cpu()
        assert back.device == Device.CPU and back.tolist() == t.tolist()
        assert t.cuda().device == Device.CUDA(0)
        with pytest.raises(fl.DTypeError, match="BFloat16"):
            t.bfloat16().to_device(Device.CUDA(0))

    @pytest.mark.skipif(fl.cuda_available(), reason="CUDA is available here")
    def test_to_cuda_without_cuda(self):
        with pytest.raises(fl.DeviceError):
            fl.ones(2).to_device(Device.CUDA(0))

    def test_to_dtype(self, device):
        t = T([1.7, -1.7, 2.0], device)
        assert t.to_dtype(F32) is t
        d = t.to_dtype(F64)
        assert d.dtype is F64 and d.device == device
        np.testing.assert_array_equal(host(d), np.array([1.7, -1.7, 2.0], np.float32))
        assert t.to_dtype(I64).tolist() == [1, -1, 2]
        assert t.to_dtype(DType.Bool).tolist() == [True, True, True]
        assert t.to(F64).dtype is F64
        assert t.double().dtype is F64 and t.long().dtype is I64
        assert t.int().dtype is DType.Int32 and t.bool().dtype is DType.Bool
        assert t.half().dtype is DType.Float16 and t.float() is t
        assert t.to_dtype("Float64").dtype is F64
        assert t.to_dtype(np.float64).dtype is F64
        assert t.tolist() == T([1.7, -1.7, 2.0]).tolist()   # unchanged

    def test_to_dtype_unsupported(self):
        with pytest.raises(fl.DTypeError):
            fl.ones(2).to_dtype(np.complex64)

    def test_contiguous(self, device):
        base = fl.arange(6, device=device).reshape(2, 3)
        assert base.contiguous() is base
        t = base.transpose(0, 1)
        assert not t.is_contiguous()
        c = t.contiguous()
        assert c.is_contiguous() and c.shape == (3, 2)
        assert c.tolist() == [[0, 3], [1, 4], [2, 5]]
        assert c.device == device

    def test_clone(self):
        t = T([1.0, 2.0])
        c = t.clone()
        assert c is not t and c.tolist() == t.tolist()
        assert not np.shares_memory(host(c), host(t))

    def test_pickle(self):
        t = T([[1.0, 2.0]], dtype=F64)
        u = pickle.loads(pickle.dumps(t))
        assert u.dtype is F64 and u.tolist() == [[1.0, 2.0]] and u.device == Device.CPU


class TestBatches:
    def test_sizes(self, device):
        t = fl.arange(10, device=device)
        bs = t.batches(3)
        assert [b.shape for b in bs] == [(3,), (3,), (3,), (1,)]
        assert [b.tolist() for b in bs] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
        assert all(b.device == device for b in bs)

    def test_exact_and_larger(self):
        t = fl.arange(12).reshape(6, 2)
        bs = t.batches(2)
        assert len(bs) == 3 and all(b.shape == (2, 2) for b in bs)
        assert bs[2].tolist() == [[8, 9], [10, 11]]
        big = t.batches(100)
        assert len(big) == 1 and big[0].shape == (6, 2)
        assert fl.zeros(0, 3).batches(2) == []
        assert [b.shape for b in t.batches(1)] == [(1, 2)] * 6

    @pytest.mark.parametrize("bad", [0, -1, 1.5, None, True])
    def test_bad_n(self, bad):
        with pytest.raises(ValueError, match="batch_size must be a positive int"):
            fl.arange(4).batches(bad)

    def test_scalar(self):
        with pytest.raises(fl.ShapeError, match="0-d"):
            fl.tensor(1.0).batches(1)


# -------------------------------------------------------------- comparisons


class TestComparisons:
    A = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    B = [[3.0, 2.0, 1.0], [6.0, 5.0, 4.0]]

    @pytest.mark.parametrize("name,ref", [("gt", np.greater), ("ge", np.greater_equal),
                                          ("lt", np.less), ("le", np.less_equal),
                                          ("eq", np.equal), ("ne", np.not_equal)])
    def test_methods(self, name, ref, device):
        a, b = T(self.A, device), T(self.B, device)
        out = getattr(a, name)(b)
        assert out.dtype is DType.Bool and out.device == device
        np.testing.assert_array_equal(host(out), ref(np.array(self.A), np.array(self.B)))
        s = getattr(a, name + "_scalar")(3.0)
        assert s.dtype is DType.Bool
        np.testing.assert_array_equal(host(s), ref(np.array(self.A), 3.0))
        # tensor-scalar through the plain method too
        np.testing.assert_array_equal(host(getattr(a, name)(3)), ref(np.array(self.A), 3))

    def test_operators(self, device):
        a, b = T(self.A, device), T(self.B, device)
        na, nb = np.array(self.A), np.array(self.B)
        np.testing.assert_array_equal(host(a < b), na < nb)
        np.testing.assert_array_equal(host(a <= b), na <= nb)
        np.testing.assert_array_equal(host(a > b), na > nb)
        np.testing.assert_array_equal(host(a >= b), na >= nb)
        np.testing.assert_array_equal(host(a == b), na == nb)
        np.testing.assert_array_equal(host(a != b), na != nb)
        np.testing.assert_array_equal(host(a > 2), na > 2)
        np.testing.assert_array_equal(host(2 < a), na > 2)   # reflected
        np.testing.assert_array_equal(host(3.0 == a), na == 3.0)
        assert (a == b).dtype is DType.Bool

    def test_broadcasting(self, device):
        a = T(self.A, device)
        row = T([2.0, 2.0, 7.0], device)
        np.testing.assert_array_equal(host(a.ge(row)), np.array(self.A) >= [2.0, 2.0, 7.0])
        col = T([[2.0], [5.0]], device)
        np.testing.assert_array_equal(host(a.eq(col)), np.array(self.A) == [[2.0], [5.0]])

    def test_broadcast_error(self):
        with pytest.raises(fl.ShapeError) as ei:
            fl.ones(2, 3).gt(fl.ones(4))
        assert str(ei.value) == "gt: cannot broadcast shapes (2, 3) and (4,)"

    def test_scalar_type_error(self):
        with pytest.raises(TypeError, match="gt_scalar: expected a Python number"):
            fl.ones(2).gt_scalar("a")
        with pytest.raises(TypeError, match="expected a tensor or a number"):
            fl.ones(2).lt("a")

    def test_hashable_despite_eq(self):
        t = fl.ones(2)
        assert {t: 1}[t] == 1

    def test_logical(self, device):
        a = T([True, True, False, False], device)
        b = T([True, False, True, False], device)
        assert a.logical_and(b).tolist() == [True, False, False, False]
        assert a.logical_or(b).tolist() == [True, True, True, False]
        assert a.logical_xor(b).tolist() == [False, True, True, False]
        assert a.logical_not().tolist() == [False, False, True, True]
        assert (a & b).tolist() == [True, False, False, False]
        assert (a | b).tolist() == [True, True, True, False]
        assert (~a).tolist() == [False, False, True, True]
        assert a.logical_and(b).dtype is DType.Bool
        # non-bool inputs are truthy like NumPy/PyTorch
        assert T([0.0, 2.0], device).logical_not().tolist() == [True, False]
        with pytest.raises(fl.DTypeError, match="Bool"):
            ~T([1.0])

    def test_nan_inf(self, device):
        t = T([1.0, float("nan"), float("inf"), -float("inf"), 0.0], device)
        assert t.isnan().tolist() == [False, True, False, False, False]
        assert t.isinf().tolist() == [False, False, True, True, False]
        assert t.isfinite().tolist() == [True, False, False, False, True]
        assert t.isnan().dtype is DType.Bool
        assert T([1, 2], device).isnan().tolist() == [False, False]

    def test_any_all_allclose(self):
        assert T([False, True]).any() and not T([False, True]).all()
        assert T([1.0, 2.0]).allclose(T([1.0, 2.0 + 1e-7]))
        assert not T([1.0, 2.0]).allclose(T([1.0, 2.1]))


class TestArgReductions:
    def test_global(self, device):
        t = T([[1.0, 9.0, 3.0], [9.0, -4.0, 2.0]], device)
        am = t.argmax()
        assert am.shape == () and am.dtype is I64 and am.item() == 1   # first of the ties
        assert t.argmin().item() == 4
        assert t.argmax(keepdim=True).shape == (1, 1)

    def test_dim(self, device):
        a = np.array([[1.0, 5.0, 5.0, 0.0], [7.0, 7.0, -1.0, -1.0], [2.0, 3.0, 4.0, 4.0]])
        t = T(a.tolist(), device)
        np.testing.assert_array_equal(host(t.argmax(1)), [1, 0, 2])   # ties: first index
        np.testing.assert_array_equal(host(t.argmin(1)), [3, 2, 0])
        np.testing.assert_array_equal(host(t.argmax(0)), np.argmax(a, 0))
        np.testing.assert_array_equal(host(t.argmin(-1)), [3, 2, 0])
        k = t.argmax(1, keepdim=True)
        assert k.shape == (3, 1) and k.dtype is I64
        np.testing.assert_array_equal(host(k), [[1], [0], [2]])
        assert t.argmin(0, keepdim=True).shape == (1, 4)

    def test_ties_all_equal(self):
        assert fl.ones(5).argmax().item() == 0
        assert fl.ones(5).argmin().item() == 0
        assert fl.ones(2, 3).argmax(1).tolist() == [0, 0]

    def test_bf16_and_int(self):
        t = fl.tensor([1.0, 3.0, 2.0], dtype=DType.BFloat16)
        assert t.argmax().item() == 1 and t.argmin().item() == 0
        assert T([4, 8, 8]).argmax().item() == 1

    def test_errors(self):
        with pytest.raises(fl.ShapeError, match="non-empty"):
            fl.zeros(0).argmax()
        with pytest.raises(fl.FlodlIndexError, match="argmax: dim 2 out of range"):
            fl.zeros(2, 2).argmax(2)


# -------------------------------------------------------- python operators


class TestOperators:
    X = [[1.0, 2.0], [4.0, 8.0]]

    def test_add_sub_mul_div_scalars(self, device):
        x, a = T(self.X, device), np.array(self.X, np.float32)
        np.testing.assert_array_equal(host(x + 2), a + 2)
        np.testing.assert_array_equal(host(2 + x), a + 2)
        np.testing.assert_array_equal(host(x - 2), a - 2)
        np.testing.assert_array_equal(host(2 - x), 2 - a)
        np.testing.assert_array_equal(host(x * 3), a * 3)
        np.testing.assert_array_equal(host(3 * x), a * 3)
        np.testing.assert_array_equal(host(x / 2), a / 2)
        np.testing.assert_allclose(host(2 / x), 2 / a, rtol=1e-6)
        np.testing.assert_array_equal(host(-x), -a)
        assert (+x) is x
        for r in (x + 2, 2 + x, 2 - x, x * 3, x / 2, 2 / x, -x):
            assert r.dtype is F32 and r.device == device and type(r) is Tensor

    def test_pow_abs(self, device):
        x, a = T([[1.0, -2.0], [3.0, -0.5]], device), np.array([[1.0, -2.0], [3.0, -0.5]])
        np.testing.assert_allclose(host(x ** 2), a ** 2, rtol=1e-6)
        np.testing.assert_allclose(host(x ** 3), a ** 3, rtol=1e-6)
        np.testing.assert_allclose(host(2 ** x), 2.0 ** a, rtol=1e-6)
        np.testing.assert_array_equal(host(abs(x)), np.abs(a))
        assert (x ** 2).dtype is F32 and (2 ** x).dtype is F32 and abs(x).dtype is F32

    def test_tensor_tensor(self, device):
        a = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], np.float32)
        b = np.array([0.5, -1.0, 2.0], np.float32)
        x, y = T(a.tolist(), device), T(b.tolist(), device)
        np.testing.assert_array_equal(host(x + y), a + b)
        np.testing.assert_array_equal(host(y + x), a + b)
        np.testing.assert_array_equal(host(x - y), a - b)
        np.testing.assert_array_equal(host(y - x), b - a)
        np.testing.assert_array_equal(host(x * y), a * b)
        np.testing.assert_allclose(host(x / y), a / b, rtol=1e-6)
        np.testing.assert_allclose(host(x ** T([2.0, 1.0, 0.5], device)),
                                   a ** np.array([2.0, 1.0, 0.5]), rtol=1e-6)
        np.testing.assert_allclose(host(x @ T([[1.0], [0.0], [2.0]], device)),
                                   a @ np.array([[1.0], [0.0], [2.0]]), rtol=1e-6)

    def test_broadcasting_shapes(self, device):
        x = fl.ones(4, 1, 3, device=device)
        y = fl.ones(2, 1, device=device)
        assert (x + y).shape == (4, 2, 3)
        assert (y * x).shape == (4, 2, 3)
        assert (fl.ones(3, device=device) - fl.tensor(1.0, device=device)).shape == (3,)

    def test_numpy_operand(self):
        x = T([1.0, 2.0])
        r = x + np.array([1.0, 1.0], np.float32)
        assert type(r) is Tensor and r.tolist() == [2.0, 3.0]
        r = np.array([1.0, 1.0], np.float32) + x   # __array_priority__ defers to us
        assert type(r) is Tensor and r.tolist() == [2.0, 3.0]

    def test_unsupported_operand(self):
        with pytest.raises(TypeError):
            T([1.0]) + "a"
        with pytest.raises(TypeError):
            T([1.0]) @ 2

    def test_int_tensor_promotion(self):
        i = T([1, 2, 4])
        assert (i + 1).dtype is I64 and (i + 1).tolist() == [2, 3, 5]
        assert (i * 2).dtype is I64
        f = i + 0.5
        assert f.dtype is F32 and f.tolist() == [1.5, 2.5, 4.5]
        d = i / 2
        assert d.dtype is F32 and d.tolist() == [0.5, 1.0, 2.0]   # true division

    def test_scalar_keeps_float_dtype(self):
        x = fl.ones(2, dtype=F64)
        assert (x + 1).dtype is F64 and (x * 0.1).dtype is F64
        h = fl.ones(2, dtype=DType.Float16)
        assert (h + 1.5).dtype is DType.Float16


# ---------------------------------------------------------------- bfloat16


class TestBFloat16:
    def bf(self, values):
        return fl.tensor(values, dtype=DType.BFloat16)

    def test_storage(self):
        t = self.bf([1.0, 2.5, -3.0])
        assert t.dtype is DType.BFloat16
        assert t.to_numpy().dtype == BF16
        assert t.nbytes == 6 and t.element_size() == 2

    def test_dtype_kept_through_elementwise(self):
        a, b = self.bf([1.0, 2.0, 3.0]), self.bf([0.5, 0.25, 4.0])
        for r in (a + b, a - b, a * b, a / b, -a, a + 1, 2 * a, a / 3, 1 - a,
                  a.add(b), a.mul_scalar(0.5), a.reshape(3, 1), a.unsqueeze(0)):
            assert r.dtype is DType.BFloat16, r
        np.testing.assert_array_equal(host(a + b).astype(np.float32), [1.5, 2.25, 7.0])
        assert (a > b).dtype is DType.Bool

    def test_dtype_kept_through_pow_abs(self):
        a = self.bf([1.0, -2.0])
        assert (a ** 2).dtype is DType.BFloat16
        assert abs(a).dtype is DType.BFloat16

    def test_matmul_in_float32(self):
        rng = np.random.default_rng(0)
        a32 = rng.standard_normal((8, 64)).astype(np.float32)
        b32 = rng.standard_normal((64, 5)).astype(np.float32)
        a_bf, b_bf = a32.astype(BF16), b32.astype(BF16)
        out = fl.from_numpy(a_bf) @ fl.from_numpy(b_bf)
        assert out.dtype is DType.BFloat16 and out.shape == (8, 5)
        expected = (a_bf.astype(np.float32) @ b_bf.astype(np.float32)).astype(BF16)
        np.testing.assert_array_equal(out.to_numpy(), expected)

    def test_matmul_accumulates_beyond_bf16_precision(self):
        # 512 ones dotted with ones: a bf16 accumulator would stop at 256.
        ones = fl.ones(1, 512, dtype=DType.BFloat16)
        out = ones @ fl.ones(512, 1, dtype=DType.BFloat16)
        assert out.dtype is DType.BFloat16
        assert out.item() == 512.0

    def test_conversions(self):
        t = self.bf([1.0, 1.00390625])   # 1 + 2**-8 is not representable in bf16
        assert t.to_f32_vec()[0] == 1.0
        assert t.to_dtype(F32).dtype is F32
        assert fl.ones(2).bfloat16().dtype is DType.BFloat16
        assert fl.zeros(2, dtype=DType.BFloat16).tolist() == [0.0, 0.0]
        assert "BFloat16" in repr(t)


# ------------------------------------------------------------ immutability


class TestImmutability:
    def test_ops_return_new_tensors(self, device):
        x = T([1.0, 2.0, 3.0], device)
        y = T([10.0, 20.0, 30.0], device)
        before_x, before_y = x.tolist(), y.tolist()
        results = [x + y, x - y, x * y, x / y, -x, x + 1, x * 2, x.reshape(3, 1),
                   x.unsqueeze(0), x.gt(y), x.to_dtype(F64), x.expand(2, 3)]
        for r in results:
            assert r is not x and r is not y
        assert x.tolist() == before_x and y.tolist() == before_y

    def test_no_item_assignment(self):
        t = T([1.0, 2.0])
        with pytest.raises(TypeError):
            t[0] = 5.0
        assert t.tolist() == [1.0, 2.0]

    def test_numpy_views_are_read_only(self):
        t = T([1.0, 2.0])
        for a in (t.to_numpy(), t.numpy(), np.asarray(t)):
            with pytest.raises(ValueError):
                a[0] = 9.0
        assert t.tolist() == [1.0, 2.0]

    def test_no_arbitrary_attributes(self):
        with pytest.raises(AttributeError):
            T([1.0]).foo = 1


# --------------------------------------------------------------------- repr


def test_repr():
    assert repr(T([1.0, 2.5])) == "tensor([1. , 2.5], dtype=Float32, device=cpu)"
    assert repr(T([1, 2])) == "tensor([1, 2], dtype=Int64, device=cpu)"
    assert repr(T(3.0)) == "tensor(3., dtype=Float32, device=cpu)"
    assert repr(fl.zeros(2, dtype=DType.BFloat16)) == (
        "tensor([0., 0.], dtype=BFloat16, device=cpu)")
    r = repr(T([[1.0, 2.0], [3.0, 4.0]]))
    assert r == "tensor([[1., 2.],\n        [3., 4.]], dtype=Float32, device=cpu)"


def test_repr_large_is_summarised():
    r = repr(fl.zeros(1000))
    assert "..." in r and len(r) < 400


def test_repr_device(device):
    assert repr(fl.ones(1, device=device)).endswith(f"device={device})")
