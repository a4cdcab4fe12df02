"""Variable: a Tensor value plus the autograd bookkeeping.

A Variable is what you differentiate: it holds a value (read it as a Tensor
through ``.data``), whether it wants a gradient, the gradient once computed,
and the Function that created it (None for leaves).

>>> import flodl_core as fl
>>> x = fl.Variable(fl.tensor([1.0, 2.0]), requires_grad=True)
>>> y = (x ** 2).sum()
>>> y.backward()
>>> x.grad.tolist()
[2.0, 4.0]
"""
from __future__ import annotations

from ..backend.device import Device
from ..backend.dtype import BFLOAT16_NUMPY
from ..errors import AutogradError, DTypeError, ShapeError
from ..tensor import Tensor, TensorLike, _is_array


class Variable(TensorLike):
    """A differentiable value. ``Variable(tensor, requires_grad=False)``."""

    __slots__ = ("_data", "_requires_grad", "_grad", "_creator", "_index", "__weakref__")

    _is_variable = True

    def __init__(self, data, requires_grad: bool = False):
        if isinstance(data, TensorLike):
            data = data._data
        elif _is_array(data):
            Tensor(data)   # validates the dtype
        else:
            raise TypeError(f"Variable() takes a Tensor, got {type(data).__name__}; "
                            "build one with fl.tensor(...) first")
        self._data = data
        self._grad = None
        self._creator = None
        self._index = 0
        self._requires_grad = False
        if requires_grad:
            self.requires_grad = True

    @classmethod
    def _make(cls, array, creator=None, index=0, requires_grad=False) -> "Variable":
        """Internal constructor with no validation (the op hot path)."""
        v = object.__new__(cls)
        v._data = array
        v._requires_grad = requires_grad
        v._grad = None
        v._creator = creator
        v._index = index
        return v

    # -------------------------------------------------------------- state
    @property
    def data(self) -> Tensor:
        """The current value as an (immutable) Tensor."""
        return Tensor._wrap(self._data)

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag: bool):
        flag = bool(flag)
        if self._creator is not None and not flag:
            raise AutogradError("requires_grad: cannot turn off gradients of a non-leaf "
                                "Variable; use .detach()")
        if flag and not _is_float(self._data.dtype):
            raise DTypeError(f"requires_grad: only floating-point Variables can require "
                             f"gradients, got {self.dtype}")
        self._requires_grad = flag

    def requires_grad_(self, flag: bool = True) -> "Variable":
        """Set ``requires_grad`` in place and return self."""
        self.requires_grad = flag
        return self

    @property
    def is_leaf(self) -> bool:
        """True for Variables not produced by a recorded op."""
        return self._creator is None

    @property
    def creator(self):
        """The Function that produced this Variable (None for leaves)."""
        return self._creator

    grad_fn = creator

    @property
    def grad(self):
        """The accumulated gradient: a Tensor, or None before any backward.

        After ``backward(create_graph=True)`` it is a Variable connected to the
        graph, so it can be differentiated again.
        """
        g = self._grad
        if g is None or type(g) is Variable:
            return g
        return Tensor._wrap(g)

    @grad.setter
    def grad(self, value):
        if value is None:
            self._grad = None
            return
        if not isinstance(value, TensorLike):
            raise TypeError(f"grad: expected a Tensor or None, got {type(value).__name__}")
        if value.shape != self.shape:
            raise ShapeError(f"grad: shape {value.shape} does not match the Variable's "
                             f"shape {self.shape}")
        self._grad = value if isinstance(value, Variable) and value._creator else value._data

    def grad_array(self):
        """The gradient's raw ndarray (None before backward): for optimizers."""
        g = self._grad
        return g._data if type(g) is Variable else g

    def zero_grad(self) -> None:
        """Drop the accumulated gradient (the next backward starts from zero)."""
        self._grad = None

    def retain_grad(self) -> "Variable":
        """Keep ``.grad`` on this non-leaf Variable after backward."""
        c = self._creator
        if c is not None:
            if c._retained is None:
                c._retained = {}
            c._retained[self._index] = _weakref(self)
        return self

    def detach(self) -> "Variable":
        """A new leaf sharing this value, cut from the graph."""
        return Variable._make(self._data)

    def set_data(self, value) -> None:
        """Replace the value in place (same shape, dtype and device expected).

        The way to update a parameter outside of autograd.
        """
        new = value._data if isinstance(value, TensorLike) else value
        old = self._data
        if new.shape != old.shape or new.dtype != old.dtype or type(new) is not type(old):
            # The error class names what differs: shape, else dtype, else device.
            from ..errors import DeviceError
            cls = (ShapeError if new.shape != old.shape
                   else DTypeError if new.dtype != old.dtype else DeviceError)
            raise cls(f"set_data: expected shape {old.shape} {self.dtype} on "
                      f"{self.device!r}, got {tuple(new.shape)} "
                      f"{Tensor._wrap(new).dtype} on {Tensor._wrap(new).device!r}")
        self._data = new

    # ----------------------------------------------------------- backward
    def backward(self, grad=None, retain_graph: bool = False, create_graph: bool = False):
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``.

        Args:
            grad: upstream gradient, same shape as self; may be omitted for
                one-element outputs (it is then 1).
            retain_graph: keep the graph for another backward (default: free it).
            create_graph: record the backward pass, for higher-order gradients.
        """
        from .engine import run_backward
        run_backward((self,), (grad,), retain_graph or create_graph, create_graph)

    # -------------------------------------------------------- conversions
    def to(self, target) -> "Variable":
        from ..backend.dtype import DType
        return self.to_dtype(target) if isinstance(target, DType) else self.to_device(target)

    def cpu(self) -> "Variable":
        return self.to_device(Device.CPU)

    def cuda(self, index: int = 0) -> "Variable":
        return self.to_device(Device.CUDA(index))

    def __repr__(self):
        extra = ""
        if self._creator is not None:
            extra = f", grad_fn={type(self._creator).__name__}"
        elif self._requires_grad:
            extra = ", requires_grad=True"
        return (f"Variable({self._repr_body()}, dtype={self.dtype.name}, "
                f"device={self.device}{extra})")


def _is_float(np_dtype) -> bool:
    return np_dtype.kind == "f" or np_dtype == BFLOAT16_NUMPY


def _weakref(obj):
    import weakref
    return weakref.ref(obj)


# Tensors take part in ops as constants.
Tensor._creator = None
Tensor._index = 0
