"""Tensor: an immutable value over one ndarray (NumPy on CPU, CuPy on CUDA).

A Tensor never changes after creation: every operation returns a new Tensor.
Math and shape methods (``add``, ``exp``, ``reshape``, ...) are defined once,
with their gradients, in ``flodl_core.autograd.ops`` and installed on both
Tensor and Variable from there, so no formula is written twice. This module
holds what is not differentiable: metadata, data access, device and dtype
conversion, comparisons and the Python operator protocol.

>>> import flodl_core as fl
>>> t = fl.tensor([[1.0, 2.0], [3.0, 4.0]])
>>> (t * 2 + 1).tolist()
[[3.0, 5.0], [7.0, 9.0]]
>>> t.shape, t.dtype
((2, 2), DType.Float32)
"""
from __future__ import annotations

import numbers

import numpy as np

from .backend.array_module import cupy_module, device_of, on_device, xp_of
from .backend.device import Device
from .backend.dtype import BFLOAT16_NUMPY, DType, dtype_of, to_numpy_dtype
from .errors import DeviceError, DTypeError, ShapeError

Number = numbers.Number


def _is_array(obj) -> bool:
    return isinstance(obj, np.ndarray) or type(obj).__module__.startswith("cupy")


class TensorLike:
    """Read-only API shared by :class:`Tensor` and ``Variable``.

    Subclasses store their value in the slot ``_data`` (an ndarray).
    """

    __slots__ = ()
    __array_priority__ = 1000  # NumPy defers binary operators to us

    # ---------------------------------------------------------------- metadata
    @property
    def shape(self) -> tuple:
        return self._data.shape

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def dtype(self) -> DType:
        return dtype_of(self._data.dtype)

    @property
    def device(self) -> Device:
        return device_of(self._data)

    @property
    def nbytes(self) -> int:
        return int(self._data.nbytes)

    def numel(self) -> int:
        """Number of elements."""
        return int(self._data.size)

    def size(self, dim: int | None = None):
        """Shape as a tuple, or the length of one dimension."""
        if dim is None:
            return self._data.shape
        return self._data.shape[_norm_dim(dim, self._data.ndim, "size")]

    def element_size(self) -> int:
        return self._data.itemsize

    def dim(self) -> int:
        return self._data.ndim

    def is_contiguous(self) -> bool:
        return bool(self._data.flags.c_contiguous)

    def is_floating_point(self) -> bool:
        return self.dtype.is_floating_point

    def is_cuda(self) -> bool:
        return self.device.kind == "cuda"

    # ------------------------------------------------------------ data access
    def item(self):
        """The single element as a Python float, int or bool."""
        if self._data.size != 1:
            raise ShapeError(f"item: only one-element tensors convert to a Python scalar, "
                             f"got shape {self.shape}")
        return self._host().reshape(()).item()

    def to_numpy(self) -> np.ndarray:
        """A NumPy array of the values: a read-only view on CPU, a copy from CUDA."""
        arr = self._host()
        if arr is self._data:
            arr = arr.view()
            arr.flags.writeable = False
        return arr

    def numpy(self) -> np.ndarray:
        """Alias of :meth:`to_numpy` for PyTorch users."""
        return self.to_numpy()

    def tolist(self):
        """Nested Python lists (a Python scalar for 0-d tensors)."""
        arr = self._host()
        if arr.dtype == BFLOAT16_NUMPY:
            arr = arr.astype(np.float32)
        return arr.tolist()

    def to_f32_vec(self) -> list:
        """Flattened values as a list of floats, rounded through float32."""
        return self._host().astype(np.float32).ravel().tolist()

    def to_f64_vec(self) -> list:
        """Flattened values as a list of floats."""
        return self._host().astype(np.float64).ravel().tolist()

    def to_i64_vec(self) -> list:
        """Flattened values as a list of ints (floats truncate toward zero)."""
        return self._host().astype(np.int64).ravel().tolist()

    def _host(self) -> np.ndarray:
        data = self._data
        return data if type(data) is np.ndarray else data.get()

    def __array__(self, dtype=None, copy=None):
        if type(self._data) is not np.ndarray:
            raise DeviceError(f"cannot convert a tensor on {self.device!r} to a NumPy array "
                              "implicitly; call .to_numpy() to copy it to the host")
        arr = self._data
        if dtype is not None and np.dtype(dtype) != arr.dtype:
            return arr.astype(dtype)
        if copy:
            return arr.copy()
        # A read-only view: writing through np.asarray(t) must not mutate the tensor.
        arr = arr.view()
        arr.flags.writeable = False
        return arr

    def __dlpack__(self, *args, **kwargs):
        return self._data.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self._data.__dlpack_device__()

    # ------------------------------------------------------ python protocols
    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self.select(0, i) for i in range(self._data.shape[0]))

    def __bool__(self):
        if self._data.size != 1:
            raise ValueError(f"the truth value of a tensor with {self._data.size} elements "
                             "is ambiguous; use .any() or .all()")
        return bool(self.item())

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    __hash__ = object.__hash__

    # ---------------------------------------------------------- comparisons
    # Comparisons are not differentiable: they return Bool Tensors (masks).
    def _compare(self, other, ufunc, name) -> "Tensor":
        b = _operand_data(other, self, name)
        if self._data.dtype == BFLOAT16_NUMPY and isinstance(b, Number) and not isinstance(b, bool):
            # PyTorch compares a float tensor with a scalar in the tensor's dtype; NumPy
            # does so for float16/32 but promotes ml_dtypes' bfloat16 to float64, so
            # round the scalar to bfloat16 first (kept a float: no ml_dtypes warnings).
            b = float(np.asarray(b, dtype=BFLOAT16_NUMPY))
        try:
            return Tensor._wrap(ufunc(self._data, b))
        except ValueError:
            raise _broadcast_error(name, self._data, b) from None

    def gt(self, other): return self._compare(other, _xp_ufunc(self, "greater"), "gt")
    def ge(self, other): return self._compare(other, _xp_ufunc(self, "greater_equal"), "ge")
    def lt(self, other): return self._compare(other, _xp_ufunc(self, "less"), "lt")
    def le(self, other): return self._compare(other, _xp_ufunc(self, "less_equal"), "le")
    def eq(self, other): return self._compare(other, _xp_ufunc(self, "equal"), "eq")
    def ne(self, other): return self._compare(other, _xp_ufunc(self, "not_equal"), "ne")

    def gt_scalar(self, value: float): return self._compare(_scalar(value, "gt_scalar"), _xp_ufunc(self, "greater"), "gt_scalar")
    def ge_scalar(self, value: float): return self._compare(_scalar(value, "ge_scalar"), _xp_ufunc(self, "greater_equal"), "ge_scalar")
    def lt_scalar(self, value: float): return self._compare(_scalar(value, "lt_scalar"), _xp_ufunc(self, "less"), "lt_scalar")
    def le_scalar(self, value: float): return self._compare(_scalar(value, "le_scalar"), _xp_ufunc(self, "less_equal"), "le_scalar")
    def eq_scalar(self, value: float): return self._compare(_scalar(value, "eq_scalar"), _xp_ufunc(self, "equal"), "eq_scalar")
    def ne_scalar(self, value: float): return self._compare(_scalar(value, "ne_scalar"), _xp_ufunc(self, "not_equal"), "ne_scalar")

    __gt__ = gt
    __ge__ = ge
    __lt__ = lt
    __le__ = le
    __eq__ = eq
    __ne__ = ne

    def logical_and(self, other): return self._compare(other, _xp_ufunc(self, "logical_and"), "logical_and")
    def logical_or(self, other): return self._compare(other, _xp_ufunc(self, "logical_or"), "logical_or")
    def logical_xor(self, other): return self._compare(other, _xp_ufunc(self, "logical_xor"), "logical_xor")

    def logical_not(self) -> "Tensor":
        return Tensor._wrap(xp_of(self._data).logical_not(self._data))

    def isnan(self) -> "Tensor":
        return Tensor._wrap(xp_of(self._data).isnan(self._data))

    def isinf(self) -> "Tensor":
        return Tensor._wrap(xp_of(self._data).isinf(self._data))

    def isfinite(self) -> "Tensor":
        return Tensor._wrap(xp_of(self._data).isfinite(self._data))

    def any(self) -> bool:
        return bool(self._data.any())

    def all(self) -> bool:
        return bool(self._data.all())

    def allclose(self, other, rtol: float = 1e-5, atol: float = 1e-8) -> bool:
        b = _operand_data(other, self, "allclose")
        return bool(xp_of(self._data).allclose(self._data, b, rtol=rtol, atol=atol))

    def argmax(self, dim: int | None = None, keepdim: bool = False) -> "Tensor":
        """Index of the largest value (first on ties), as Int64."""
        return self._arg_reduce("argmax", dim, keepdim)

    def argmin(self, dim: int | None = None, keepdim: bool = False) -> "Tensor":
        """Index of the smallest value (first on ties), as Int64."""
        return self._arg_reduce("argmin", dim, keepdim)

    def _arg_reduce(self, name, dim, keepdim):
        data = self._data
        # Only reducing over an empty dimension is an error (PyTorch: argmax of a
        # (0, 3) tensor over dim 1 is an empty (0,) result).
        if data.size == 0 and (dim is None or data.shape[_norm_dim(dim, data.ndim, name)] == 0):
            raise ShapeError(f"{name}: expected a non-empty tensor, got shape {data.shape}")
        if data.dtype == BFLOAT16_NUMPY:
            data = data.astype(np.float32)
        fn = getattr(xp_of(data), name)
        if dim is None:
            out = fn(data.reshape(-1))
            if keepdim:
                out = out.reshape((1,) * data.ndim)
        else:
            out = fn(data, axis=_norm_dim(dim, data.ndim, name), keepdims=keepdim)
        return Tensor._wrap(xp_of(data).asarray(out, dtype=np.int64))

    # ------------------------------------------------------ python operators
    # Scalars route to the *_scalar ops; tensors broadcast.
    def __add__(self, other):
        if isinstance(other, TensorLike):   # checked first: the Number ABC check is slow
            return self.add(other)
        if isinstance(other, Number):
            return self.add_scalar(other)
        other = _as_operand(other)
        return NotImplemented if other is None else self.add(other)

    def __radd__(self, other):
        if isinstance(other, Number):
            return self.add_scalar(other)
        other = _as_operand(other)
        return NotImplemented if other is None else other.add(self)

    def __sub__(self, other):
        if isinstance(other, TensorLike):   # checked first: the Number ABC check is slow
            return self.sub(other)
        if isinstance(other, Number):
            return self.sub_scalar(other)
        other = _as_operand(other)
        return NotImplemented if other is None else self.sub(other)

    def __rsub__(self, other):
        if isinstance(other, Number):
            return self.neg().add_scalar(other)
        other = _as_operand(other)
        return NotImplemented if other is None else other.sub(self)

    def __mul__(self, other):
        if isinstance(other, TensorLike):   # checked first: the Number ABC check is slow
            return self.mul(other)
        if isinstance(other, Number):
            return self.mul_scalar(other)
        other = _as_operand(other)
        return NotImplemented if other is None else self.mul(other)

    def __rmul__(self, other):
        if isinstance(other, Number):
            return self.mul_scalar(other)
        other = _as_operand(other)
        return NotImplemented if other is None else other.mul(self)

    def __truediv__(self, other):
        if isinstance(other, TensorLike):   # checked first: the Number ABC check is slow
            return self.div(other)
        if isinstance(other, Number):
            return self.div_scalar(other)
        other = _as_operand(other)
        return NotImplemented if other is None else self.div(other)

    def __rtruediv__(self, other):
        if isinstance(other, Number):
            return self.reciprocal().mul_scalar(other)
        other = _as_operand(other)
        return NotImplemented if other is None else other.div(self)

    def __matmul__(self, other):
        other = _as_operand(other)
        return NotImplemented if other is None else self.matmul(other)

    def __rmatmul__(self, other):
        other = _as_operand(other)
        return NotImplemented if other is None else other.matmul(self)

    def __pow__(self, other):
        if isinstance(other, Number):
            return self.pow_scalar(other)
        other = _as_operand(other)
        return NotImplemented if other is None else self.pow(other)

    def __rpow__(self, other):
        if isinstance(other, Number):
            data = self._data
            dtype = data.dtype
            if dtype.kind in "biu" and isinstance(other, (float, np.floating)):
                dtype = np.dtype(np.float32)   # PyTorch: an int exponent with a float base
            base = Tensor._wrap(xp_of(data).full(data.shape, other, dtype=dtype))
            return base.pow(self)
        other = _as_operand(other)
        return NotImplemented if other is None else other.pow(self)

    def __mod__(self, other):
        """Python-style remainder (the sign follows the divisor), like ``torch.remainder``."""
        if isinstance(other, TensorLike) or isinstance(other, Number):
            return self.remainder(other)
        other = _as_operand(other)
        return NotImplemented if other is None else self.remainder(other)

    def __neg__(self):
        return self.neg()

    def __pos__(self):
        return self

    def __abs__(self):
        return self.abs()

    def __getitem__(self, key):
        return self.getitem(key)

    def __invert__(self):
        if self._data.dtype != np.bool_:
            raise DTypeError(f"~: expected a Bool tensor, got {self.dtype}")
        return self.logical_not()

    def __and__(self, other):
        return self.logical_and(other)

    def __or__(self, other):
        return self.logical_or(other)

    def __xor__(self, other):
        return self.logical_xor(other)

    def _repr_body(self) -> str:
        arr = self._host()
        if arr.dtype == BFLOAT16_NUMPY:
            arr = arr.astype(np.float32)
        body = np.array2string(arr, separator=", ", precision=4, threshold=200,
                               prefix=" " * 7)
        return body


class Tensor(TensorLike):
    """An immutable n-dimensional array on one device.

    Create tensors with the factories (``fl.zeros``, ``fl.randn``, ``fl.tensor``,
    ``Tensor.from_numpy`` ...) rather than the constructor. ``Tensor(array)``
    wraps a NumPy or CuPy array without copying it.
    """

    __slots__ = ("_data", "__weakref__")

    # Uniform dispatch with Variable: a Tensor is always a constant.
    _requires_grad = False
    _is_variable = False

    def __init__(self, data):
        if isinstance(data, TensorLike):
            data = data._data
        elif not _is_array(data):
            raise TypeError(f"Tensor() wraps a NumPy or CuPy array, got {type(data).__name__}; "
                            "use fl.tensor(data) to build one from Python values")
        dtype_of(data.dtype)   # reject unsupported dtypes early
        self._data = data

    @classmethod
    def _wrap(cls, array) -> "Tensor":
        """Wrap an ndarray with no checks (internal hot path)."""
        t = object.__new__(cls)
        t._data = array
        return t

    # ------------------------------------------------- conversions (copying)
    def to_device(self, device) -> "Tensor":
        """A copy on ``device`` (self when already there)."""
        data = self._data
        moved = array_to_device(data, Device.parse(device))
        return self if moved is data else Tensor._wrap(moved)

    def to(self, target) -> "Tensor":
        """``to(Device)`` or ``to(DType)``, as in PyTorch."""
        return self.to_dtype(target) if isinstance(target, DType) else self.to_device(target)

    def cpu(self) -> "Tensor":
        return self.to_device(Device.CPU)

    def cuda(self, index: int = 0) -> "Tensor":
        return self.to_device(Device.CUDA(index))

    def to_dtype(self, dtype) -> "Tensor":
        """A copy converted to ``dtype`` (self when already that dtype)."""
        np_dtype = to_numpy_dtype(dtype)
        if self._data.dtype == np_dtype:
            return self
        return Tensor._wrap(self._data.astype(np_dtype))

    def float(self): return self.to_dtype(DType.Float32)
    def double(self): return self.to_dtype(DType.Float64)
    def half(self): return self.to_dtype(DType.Float16)
    def bfloat16(self): return self.to_dtype(DType.BFloat16)
    def long(self): return self.to_dtype(DType.Int64)
    def int(self): return self.to_dtype(DType.Int32)
    def bool(self): return self.to_dtype(DType.Bool)

    def contiguous(self) -> "Tensor":
        """A C-contiguous copy, or self when already contiguous."""
        if self._data.flags.c_contiguous:
            return self
        return Tensor._wrap(xp_of(self._data).ascontiguousarray(self._data))

    def clone(self) -> "Tensor":
        return Tensor._wrap(self._data.copy())

    def batches(self, batch_size: int) -> list:
        """Split along dim 0 into consecutive batches (the last may be smaller)."""
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"batches: batch_size must be a positive int, got {batch_size!r}")
        if self._data.ndim == 0:
            raise ShapeError("batches: cannot split a 0-d tensor")
        n = self._data.shape[0]
        return [Tensor._wrap(self._data[i:i + batch_size]) for i in range(0, n, batch_size)]

    def __repr__(self):
        return f"tensor({self._repr_body()}, dtype={self.dtype.name}, device={self.device})"

    def __reduce__(self):
        return (_tensor_from_host, (self._host(), str(self.device)))


def _tensor_from_host(arr, device):
    return Tensor._wrap(array_to_device(arr, Device.parse(device)))


# ----------------------------------------------------------------- helpers
def array_to_device(arr, device: Device):
    """Move an ndarray to ``device`` (no copy when it is already there)."""
    current = device_of(arr)
    if current == device:
        return arr
    if device.kind == "cpu":
        return arr.get()
    if arr.dtype == BFLOAT16_NUMPY:
        raise DTypeError("BFloat16 tensors cannot live on CUDA: CuPy has no bfloat16 dtype; "
                         "use Float16 or Float32 there")
    cp = cupy_module()
    with on_device(device):
        return cp.asarray(arr) if current.kind == "cpu" else cp.array(arr, copy=True)


def _norm_dim(dim, ndim, op) -> int:
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"{op}: dim must be an int, got {type(dim).__name__}")
    lo = -max(ndim, 1)
    if not lo <= dim < max(ndim, 1):
        from .errors import FlodlIndexError
        raise FlodlIndexError(f"{op}: dim {dim} out of range for a {ndim}-d tensor "
                              f"(expected {lo}..{max(ndim, 1) - 1})")
    return int(dim) % max(ndim, 1)


def _scalar(value, op):
    if not isinstance(value, Number):
        raise TypeError(f"{op}: expected a Python number, got {type(value).__name__}")
    return value


def _xp_ufunc(t, name):
    return getattr(xp_of(t._data), name)


def _as_operand(other):
    """Tensors and Variables pass through; arrays become Tensors; else None."""
    if isinstance(other, TensorLike):
        return other
    if _is_array(other):
        return Tensor(other)
    return None


def _operand_data(other, this, op):
    """The array (or scalar) to combine with ``this`` in a non-differentiable op."""
    if isinstance(other, TensorLike):
        b = other._data
        if type(b) is not type(this._data) and device_of(b) != device_of(this._data):
            raise DeviceError(f"{op}: tensors on different devices: {this.device!r} and {other.device!r}")
        return b
    if isinstance(other, (Number, np.ndarray)) or _is_array(other):
        return other
    raise TypeError(f"{op}: expected a tensor or a number, got {type(other).__name__}")


def _broadcast_error(op, a, b) -> ShapeError:
    sa = getattr(a, "shape", ())
    sb = getattr(b, "shape", ())
    return ShapeError(f"{op}: cannot broadcast shapes {tuple(sa)} and {tuple(sb)}")
