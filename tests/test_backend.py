"""backend/: devices, dtypes, options, CUDA probing, random state, allocator, memory."""
import dataclasses
import os
import pickle
import platform
import subprocess
import sys

import ml_dtypes
import numpy as np
import pytest

import flodl_core as fl
from flodl_core import Device, DType, Rng, TensorOptions

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_python(code, **env):
    """Run ``code`` in a fresh interpreter (with the repo importable); return stdout."""
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = REPO + os.pathsep + full_env.get("PYTHONPATH", "")
    full_env.update(env)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=full_env, cwd=REPO, timeout=60)
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


# ------------------------------------------------------------------ Device


class TestDevice:
    def test_cpu(self):
        assert Device.CPU.kind == "cpu"
        assert Device.CPU.index == 0
        assert Device.CPU.is_cpu and not Device.CPU.is_cuda
        assert fl.CPU is Device.CPU

    def test_cuda_constructor(self):
        d = Device.CUDA(1)
        assert d.kind == "cuda" and d.index == 1
        assert d.is_cuda and not d.is_cpu
        assert Device.CUDA().index == 0

    def test_parse(self):
        assert Device.parse("cpu") == Device.CPU
        assert Device.parse("CPU") == Device.CPU
        assert Device.parse("cuda") == Device.CUDA(0)
        assert Device.parse("cuda:3") == Device.CUDA(3)
        d = Device.CUDA(2)
        assert Device.parse(d) is d

    @pytest.mark.parametrize("bad", ["gpu", "tpu:0", "cuda:-1", "cuda:x"])
    def test_parse_bad_string(self, bad):
        with pytest.raises(ValueError):
            Device.parse(bad)

    def test_parse_bad_type(self):
        with pytest.raises(TypeError, match="cuda:0"):
            Device.parse(3)

    @pytest.mark.parametrize("index", [-1, 1.0, True, "0"])
    def test_bad_index(self, index):
        with pytest.raises(ValueError, match="non-negative int"):
            Device("cuda", index)

    def test_bad_kind(self):
        with pytest.raises(ValueError, match="unknown kind 'gpu'"):
            Device("gpu")

    def test_eq_hash(self):
        assert Device.CUDA(0) == Device.CUDA(0)
        assert Device.CUDA(0) != Device.CUDA(1)
        assert Device.CPU != Device.CUDA(0)
        assert Device("cpu") == Device.CPU
        assert Device.CPU != "cpu"
        assert hash(Device.CUDA(1)) == hash(Device("cuda", 1))
        assert len({Device.CPU, Device("cpu"), Device.CUDA(0), Device.CUDA(0),
                    Device.CUDA(1)}) == 3
        assert {Device.CUDA(1): "x"}[Device.parse("cuda:1")] == "x"

    def test_cpu_ignores_index(self):
        assert Device("cpu", 5) == Device.CPU
        assert Device("cpu", 5).index == 0

    def test_repr_str(self):
        assert repr(Device.CPU) == "Device.CPU"
        assert repr(Device.CUDA(1)) == "Device.CUDA(1)"
        assert str(Device.CPU) == "cpu"
        assert str(Device.CUDA(1)) == "cuda:1"
        # str round-trips through parse
        assert Device.parse(str(Device.CUDA(4))) == Device.CUDA(4)

    def test_immutable(self):
        d = Device.CUDA(1)
        with pytest.raises(AttributeError):
            d.index = 2
        with pytest.raises(AttributeError):
            d.kind = "cpu"
        with pytest.raises(AttributeError):
            d.extra = 1
        with pytest.raises(AttributeError):
            del d.index
        assert d == Device.CUDA(1)
        with pytest.raises(AttributeError):
            Device.CPU.index = 3
        assert Device.CPU.index == 0

    def test_pickle(self):
        for d in (Device.CPU, Device.CUDA(3)):
            assert pickle.loads(pickle.dumps(d)) == d


# ------------------------------------------------------------------- DType


NUMPY_OF = {
    DType.Float16: np.float16,
    DType.BFloat16: ml_dtypes.bfloat16,
    DType.Float32: np.float32,
    DType.Float64: np.float64,
    DType.Int32: np.int32,
    DType.Int64: np.int64,
    DType.Bool: np.bool_,
    DType.UInt8: np.uint8,
}


class TestDType:
    @pytest.mark.parametrize("dt", list(DType), ids=lambda d: d.name)
    def test_numpy_mapping(self, dt):
        assert dt.numpy == np.dtype(NUMPY_OF[dt])
        assert DType.from_numpy(NUMPY_OF[dt]) is dt
        assert DType.from_numpy(np.dtype(NUMPY_OF[dt])) is dt
        assert dt.itemsize == np.dtype(NUMPY_OF[dt]).itemsize

    def test_all_members_mapped(self):
        assert set(NUMPY_OF) == set(DType)

    def test_from_numpy_string_names(self):
        assert DType.from_numpy("float32") is DType.Float32
        assert DType.from_numpy("int64") is DType.Int64

    @pytest.mark.parametrize("bad", [np.complex64, np.int16, np.int8, np.uint16,
                                     np.uint32, np.uint64, np.float128 if hasattr(np, "float128")
                                     else np.complex128, np.object_, "U3"])
    def test_from_numpy_unsupported(self, bad):
        with pytest.raises(fl.DTypeError, match="unsupported NumPy dtype") as ei:
            DType.from_numpy(bad)
        # the message lists what is supported
        assert "float32" in str(ei.value) and "bfloat16" in str(ei.value)
        assert isinstance(ei.value, TypeError)

    def test_is_floating_point(self):
        floats = {DType.Float16, DType.BFloat16, DType.Float32, DType.Float64}
        for dt in DType:
            assert dt.is_floating_point == (dt in floats), dt

    def test_repr(self):
        assert repr(DType.Float32) == "DType.Float32"
        assert str(DType.BFloat16) == "DType.BFloat16"


# ----------------------------------------------------------- TensorOptions


class TestTensorOptions:
    def test_defaults(self):
        o = TensorOptions()
        assert o.dtype is DType.Float32
        assert o.device == Device.CPU

    def test_fields(self):
        o = TensorOptions(dtype=DType.Int64, device=Device.CUDA(1))
        assert o.dtype is DType.Int64 and o.device == Device.CUDA(1)
        assert o == TensorOptions(DType.Int64, Device.CUDA(1))

    def test_frozen(self):
        o = TensorOptions()
        with pytest.raises(dataclasses.FrozenInstanceError):
            o.dtype = DType.Float64


# ------------------------------------------------------------- CUDA probes


def test_cuda_probes_consistent():
    n = fl.cuda_device_count()
    assert isinstance(n, int) and n >= 0
    assert fl.cuda_available() is (n > 0)


def test_cuda_probes_without_cupy():
    # A fresh interpreter where `import cupy` fails, whatever this machine has.
    out = run_python(
        "import sys; sys.modules['cupy'] = None\n"
        "import flodl_core as fl\n"
        "print(fl.cuda_available(), fl.cuda_device_count())\n"
        "try:\n"
        "    fl.zeros(2, device=fl.Device.CUDA(0))\n"
        "except fl.DeviceError as e:\n"
        "    print('DeviceError', e)\n")
    lines = out.splitlines()
    assert lines[0] == "False 0"
    assert lines[1].startswith("DeviceError") and "pip install" in lines[1]


def test_cpu_only_import_does_not_import_cupy():
    out = run_python("import sys, flodl_core as fl\n"
                     "fl.zeros(3); fl.randn(2, 2)\n"
                     "print('cupy' in sys.modules)")
    assert out == "False"


# ----------------------------------------------------------- manual_seed


class TestManualSeed:
    def draws(self, device):
        return (fl.rand(3, 4, device=device).to_numpy(),
                fl.randn(5, device=device).to_numpy(),
                fl.randint(0, 1000, (6,), device=device).to_numpy(),
                fl.randperm(10, device=device).to_numpy())

    def test_same_seed_same_draws(self, device):
        fl.manual_seed(1234)
        a = self.draws(device)
        fl.manual_seed(1234)
        b = self.draws(device)
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)

    def test_different_seeds_differ(self, device):
        fl.manual_seed(1)
        a = self.draws(device)
        fl.manual_seed(2)
        b = self.draws(device)
        assert not np.array_equal(a[0], b[0])
        assert not np.array_equal(a[1], b[1])
        assert not np.array_equal(a[2], b[2])

    def test_stream_advances(self):
        fl.manual_seed(7)
        a = fl.rand(8).to_numpy()
        b = fl.rand(8).to_numpy()
        assert not np.array_equal(a, b)

    def test_randperm_is_permutation(self, device):
        fl.manual_seed(3)
        p = fl.randperm(50, device=device).to_numpy()
        assert sorted(p.tolist()) == list(range(50))

    @pytest.mark.parametrize("bad", [-1, 1.5, "3", True, None])
    def test_bad_seed(self, bad):
        with pytest.raises(ValueError, match="seed must be a non-negative int"):
            fl.manual_seed(bad)

    def test_numpy_integer_seed(self):
        fl.manual_seed(np.int64(5))
        a = fl.rand(3).to_numpy()
        fl.manual_seed(5)
        np.testing.assert_array_equal(a, fl.rand(3).to_numpy())

    def test_rng_independent_of_framework_stream(self):
        fl.manual_seed(11)
        a = fl.rand(4).to_numpy()
        fl.manual_seed(11)
        r = Rng(0)
        r.f64(); r.shuffle(list(range(10)))
        np.testing.assert_array_equal(a, fl.rand(4).to_numpy())


# --------------------------------------------------------------------- Rng


class TestRng:
    def test_shuffle_keeps_elements(self):
        r = Rng(42)
        items = list(range(100))
        r.shuffle(items)
        assert sorted(items) == list(range(100))
        assert items != list(range(100))   # 1/100! chance of a false failure

    def test_shuffle_numpy_array(self):
        r = Rng(1)
        arr = np.arange(20)
        r.shuffle(arr)
        assert sorted(arr.tolist()) == list(range(20))

    def test_f32_f64_unit_interval(self):
        r = Rng(0)
        xs = [r.f32() for _ in range(2000)]
        ys = [r.f64() for _ in range(2000)]
        assert all(0.0 <= v < 1.0 for v in xs + ys)
        assert all(isinstance(v, float) for v in xs + ys)
        # f32 values are representable in float32
        assert all(float(np.float32(v)) == v for v in xs)
        assert 0.4 < np.mean(ys) < 0.6

    def test_usize_bounds(self):
        r = Rng(0)
        vals = [r.usize(7) for _ in range(2000)]
        assert all(isinstance(v, int) for v in vals)
        assert set(vals) == set(range(7))
        assert [r.usize(1) for _ in range(10)] == [0] * 10

    def test_range_bounds(self):
        r = Rng(0)
        vals = [r.range(-3, 4) for _ in range(2000)]
        assert set(vals) == set(range(-3, 4))
        assert r.range(5, 6) == 5

    def test_normal_moments(self):
        r = Rng(123)
        xs = np.array([r.normal(3.0, 2.0) for _ in range(20000)])
        assert abs(xs.mean() - 3.0) < 0.1
        assert abs(xs.std() - 2.0) < 0.1
        ys = np.array([r.normal() for _ in range(20000)])
        assert abs(ys.mean()) < 0.05 and abs(ys.std() - 1.0) < 0.05

    def test_bernoulli(self):
        r = Rng(5)
        assert not any(r.bernoulli(0.0) for _ in range(1000))
        assert all(r.bernoulli(1.0) for _ in range(1000))
        frac = np.mean([r.bernoulli(0.3) for _ in range(10000)])
        assert 0.27 < frac < 0.33
        assert isinstance(r.bernoulli(0.5), bool)

    def test_same_seed_same_sequence(self):
        def seq(rng):
            items = list(range(10))
            rng.shuffle(items)
            return (items, rng.f32(), rng.f64(), rng.usize(100), rng.range(-5, 5),
                    rng.normal(), rng.bernoulli(0.5))
        assert seq(Rng(99)) == seq(Rng(99))
        assert seq(Rng.seed(99)) == seq(Rng(99))
        assert seq(Rng(99)) != seq(Rng(100))

    def test_unseeded(self):
        r = Rng()
        assert 0.0 <= r.f64() < 1.0

    @pytest.mark.parametrize("call", [
        lambda r: r.usize(0),
        lambda r: r.usize(-2),
        lambda r: r.range(3, 3),
        lambda r: r.range(4, 1),
        lambda r: r.bernoulli(-0.1),
        lambda r: r.bernoulli(1.5),
    ])
    def test_bad_arguments(self, call):
        with pytest.raises(ValueError):
            call(Rng(0))

    @pytest.mark.parametrize("bad", [-1, 2.5, "x"])
    def test_bad_seed(self, bad):
        with pytest.raises(ValueError):
            Rng(bad)


# ------------------------------------------------------- allocator, memory


def _is_glibc_linux():
    return sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"


@pytest.mark.skipif(not _is_glibc_linux(), reason="malloc tuning needs glibc")
def test_malloc_tuned_on_glibc():
    if os.environ.get("FLODL_MALLOC_TUNING") == "0":
        pytest.skip("tuning disabled in this environment")
    assert fl.malloc_tuned() is True


@pytest.mark.skipif(not _is_glibc_linux(), reason="malloc tuning needs glibc")
def test_malloc_tuning_in_fresh_process():
    assert run_python("import flodl_core as fl; print(fl.malloc_tuned())",
                      FLODL_MALLOC_TUNING="1") == "True"


def test_malloc_tuning_opt_out():
    out = run_python("import flodl_core as fl; print(fl.malloc_tuned())",
                     FLODL_MALLOC_TUNING="0")
    assert out == "False"


def test_rss_kb():
    kb = fl.rss_kb()
    assert isinstance(kb, int)
    assert kb > 1000   # a Python process with NumPy loaded uses more than 1 MiB


@pytest.mark.skipif(not fl.cuda_available(), reason="needs CUDA")
def test_cuda_memory_info():
    used, total = fl.cuda_memory_info(0)
    assert 0 <= used <= total and total > 0
