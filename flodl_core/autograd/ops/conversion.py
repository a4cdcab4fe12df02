"""Differentiable conversions: to_dtype, to_device, contiguous.

On Tensors these copy (or return self when nothing changes); on Variables the
gradient flows back converted to the input's dtype and device.
"""
from __future__ import annotations

from ...backend.array_module import device_of, xp_of
from ...backend.device import Device
from ...backend.dtype import to_numpy_dtype
from ...tensor import array_to_device
from ..function import Function


class ToDType(Function):
    __slots__ = ("np_dtype",)

    def __init__(self, np_dtype):
        self.np_dtype = np_dtype

    def forward(self, x):
        return x.astype(self.np_dtype)

    def backward(self, gy):
        return ToDType(self.inputs[0]._data.dtype)(gy)


class _AutocastCast(ToDType):
    """The cast autocast caches for a Parameter: a ToDType whose node survives backward.

    One cached cast can feed several graphs of an autocast region (two losses, or
    gradient accumulation over micro-batches): freeing it after the first backward
    would break the next. It saves no arrays and holds only the Parameter, which the
    cache holds anyway, so keeping it costs no memory; it goes when the cache is
    cleared and the last graph using it is dropped.
    """

    __slots__ = ()
    op_name = "to_dtype"

    def release(self):
        pass


class ToDevice(Function):
    __slots__ = ("device",)

    def __init__(self, device):
        self.device = device

    def forward(self, x):
        return array_to_device(x, self.device)

    def backward(self, gy):
        return ToDevice(device_of(self.inputs[0]._data))(gy)


class Contiguous(Function):
    def forward(self, x):
        return xp_of(x).ascontiguousarray(x)

    def backward(self, gy):
        return gy


def _to_dtype(self, dtype):
    """Convert to ``dtype`` (self when it already has it); differentiable."""
    np_dtype = to_numpy_dtype(dtype)
    if self._data.dtype == np_dtype:
        return self
    return ToDType(np_dtype)(self)


def _to_device(self, device):
    """Move to ``device`` (self when already there); differentiable."""
    device = Device.parse(device)
    if device_of(self._data) == device:
        return self
    return ToDevice(device)(self)


def _contiguous(self):
    """A C-contiguous copy, or self when already contiguous."""
    if self._data.flags.c_contiguous:
        return self
    return Contiguous()(self)


def install():
    """Variables get the differentiable forms (Tensor keeps its plain copies)."""
    from ..variable import Variable
    from ..function import DIFFERENTIABLE_METHODS
    for name, fn in (("to_dtype", _to_dtype), ("to_device", _to_device),
                     ("contiguous", _contiguous)):
        fn.__name__ = name
        setattr(Variable, name, fn)
        DIFFERENTIABLE_METHODS[name] = fn
    Variable.float = lambda self: _to_dtype(self, "Float32")
    Variable.double = lambda self: _to_dtype(self, "Float64")
    Variable.half = lambda self: _to_dtype(self, "Float16")
    Variable.bfloat16 = lambda self: _to_dtype(self, "BFloat16")


install()
