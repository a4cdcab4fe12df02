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

    def allclose(self, other, rtol: float = 1e-5, atol: float = 1e-8) -> bool:
        b = _operand_data(other, self, "allclose")
        return bool(xp_of(self._data).allclose(self._data, b, rtol=rtol, atol=atol))

    # ------------------------------------------------- non-differentiable utilities
    # PyTorch's tensor utilities, on NumPy and CuPy alike; all return Tensors.
    def any(self, dim=None, keepdim: bool = False) -> "Tensor":
        """Whether any element (or any along ``dim``: an int or a tuple) is nonzero.

        As ``torch.any``: a Bool tensor, 0-d when ``dim`` is None (``bool()`` it
        for a Python bool); UInt8 input gives UInt8 0/1.
        """
        return self._truth_reduce("any", dim, keepdim)

    def all(self, dim=None, keepdim: bool = False) -> "Tensor":
        """Whether every element (or every one along ``dim``) is nonzero; see :meth:`any`."""
        return self._truth_reduce("all", dim, keepdim)

    def _truth_reduce(self, op, dim, keepdim):
        a = self._data
        nz = a if a.dtype == np.bool_ else a != 0   # NaN counts as nonzero
        if dim is None:
            out = getattr(nz, op)()
            if keepdim:
                out = out.reshape((1,) * a.ndim)
        else:
            axes = _norm_dims(dim, a.ndim, op)
            if a.ndim == 0 or axes == ():
                out = nz   # torch: dim=() reduces nothing (elementwise truth)
            else:
                out = getattr(nz, op)(axis=axes, keepdims=bool(keepdim))
        return Tensor._wrap(xp_of(a).asarray(out, dtype=np.uint8 if a.dtype == np.uint8
                                             else np.bool_))

    def count_nonzero(self, dim=None) -> "Tensor":
        """Int64 count of the nonzero elements, over all of them or along ``dim``
        (an int or a tuple; ``()`` counts all, as in PyTorch)."""
        a = self._data
        nz = a if a.dtype == np.bool_ else a != 0
        axes = None if dim is None else _norm_dims(dim, a.ndim, "count_nonzero")
        if not axes or a.ndim == 0:
            axes = None
        return Tensor._wrap(xp_of(a).asarray(nz.sum(axis=axes, dtype=np.int64)))

    def nonzero(self, as_tuple: bool = False):
        """Indices of the nonzero elements in row-major order, as ``torch.nonzero``.

        An Int64 ``(n, ndim)`` tensor, or with ``as_tuple=True`` a tuple of
        ``ndim`` 1-D Int64 tensors (a 0-d tensor counts as 1-d there).
        """
        a = self._data
        m = xp_of(a)
        nz = a if a.dtype == np.bool_ else a != 0
        if as_tuple:
            return tuple(Tensor._wrap(i.astype(np.int64, copy=False))
                         for i in m.nonzero(nz.reshape(1) if a.ndim == 0 else nz))
        if a.ndim == 0:
            return Tensor._wrap(m.zeros((int(nz), 0), dtype=np.int64))
        return Tensor._wrap(m.argwhere(nz).astype(np.int64, copy=False))

    def unique(self, sorted: bool = True, return_inverse: bool = False,
               return_counts: bool = False, dim=None):
        """The distinct values, ascending, as ``torch.unique`` (flattened: ``dim=None``).

        With ``return_inverse`` also the Int64 index of each input element into the
        values (input-shaped); with ``return_counts`` the Int64 count of each value.
        NaNs are not equal to each other, so each NaN is its own value (as in
        PyTorch). The values are always sorted (``sorted=False`` is a request PyTorch
        may also answer sorted).
        """
        if dim is not None:
            raise NotImplementedError("unique: only dim=None (unique over the flattened "
                                      f"tensor) is supported, got dim={dim!r}")
        a = self._data
        m = xp_of(a)
        flat = a.reshape(-1)
        n = int(flat.size)
        if n == 0:
            values = flat.copy()
            inverse = m.zeros(a.shape, dtype=np.int64)
            counts = m.zeros((0,), dtype=np.int64)
        else:
            perm = (np.argsort(flat, kind="stable") if m is np else m.argsort(flat))
            s = flat[perm]
            first = m.empty((n,), dtype=np.bool_)
            first[0] = True
            m.not_equal(s[1:], s[:-1], out=first[1:])
            values = s[first]
            inverse = counts = None
            if return_inverse:
                inverse = m.empty((n,), dtype=np.int64)
                inverse[perm] = m.cumsum(first, dtype=np.int64) - 1
                inverse = inverse.reshape(a.shape)
            if return_counts:
                starts = m.flatnonzero(first).astype(np.int64, copy=False)
                counts = m.diff(m.concatenate((starts, m.full((1,), n, dtype=np.int64))))
        out = (Tensor._wrap(values),)
        if return_inverse:
            out += (Tensor._wrap(inverse),)
        if return_counts:
            out += (Tensor._wrap(counts),)
        return out[0] if len(out) == 1 else out

    def bincount(self, weights=None, minlength: int = 0) -> "Tensor":
        """Occurrences of each value 0..max of a 1-D non-negative integer tensor, as
        ``torch.bincount``: Int64 counts, or with ``weights`` (1-D, same length) the
        weight sums: Float32 for Float32 weights, Float64 for any other weights. The
        result has ``max(max + 1, minlength)`` entries (Int64 zeros for empty input).
        """
        a = self._data
        if a.dtype.kind not in "iu":
            raise DTypeError(f"bincount: expected a 1-D non-negative integer tensor, got "
                             f"{self.dtype}")
        if a.ndim != 1:
            raise ShapeError(f"bincount: expected a 1-D non-negative integer tensor, got "
                             f"shape {self.shape}")
        if isinstance(minlength, bool) or not isinstance(minlength, (int, np.integer)):
            raise TypeError(f"bincount: minlength must be an int, got "
                            f"{type(minlength).__name__}")
        if minlength < 0:
            raise ShapeError(f"bincount: minlength must be >= 0, got {minlength}")
        minlength = int(minlength)
        m = xp_of(a)
        w = None
        if weights is not None:
            wt = _as_operand(weights)
            if wt is None:
                raise TypeError(f"bincount: weights must be a tensor, got "
                                f"{type(weights).__name__}")
            w = _operand_data(wt, self, "bincount")
            if w.ndim != 1 or w.shape[0] != a.shape[0]:
                raise ShapeError(f"bincount: weights must be 1-D with the input's length "
                                 f"{a.shape[0]}, got shape {tuple(w.shape)}")
        if a.size == 0:   # PyTorch: Int64 zeros, with or without weights
            return Tensor._wrap(m.zeros((minlength,), dtype=np.int64))
        if int(a.min()) < 0:
            raise ShapeError(f"bincount: values must be non-negative, got {int(a.min())}")
        idx = a.astype(np.int64, copy=False)
        kw = {"minlength": minlength} if minlength else {}   # older CuPy rejects 0
        if w is None:
            out = m.bincount(idx, **kw).astype(np.int64, copy=False)
        else:
            out_dt = np.dtype(np.float32) if w.dtype == np.float32 else np.dtype(np.float64)
            out = m.bincount(idx, weights=w.astype(np.float64, copy=False),
                             **kw).astype(out_dt, copy=False)
        return Tensor._wrap(out)

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


def _norm_dims(dim, ndim, op) -> tuple:
    """``dim`` (an int or a tuple/list of ints) as a tuple of distinct axes."""
    if isinstance(dim, (tuple, list)):
        axes = tuple(_norm_dim(d, ndim, op) for d in dim)
        if len(set(axes)) != len(axes):
            raise ShapeError(f"{op}: dim {tuple(dim)} names a dimension more than once")
        return axes
    return (_norm_dim(dim, ndim, op),)


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
