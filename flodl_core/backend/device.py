"""Devices: where a tensor's memory lives.

``Device.CPU`` is backed by NumPy, ``Device.CUDA(i)`` by CuPy on GPU ``i``.
"""
from __future__ import annotations


class Device:
    """A compute device. Use ``Device.CPU`` or ``Device.CUDA(index)``.

    Devices are small immutable values: equal devices compare equal and hash alike.

    >>> Device.CPU
    Device.CPU
    >>> Device.CUDA(1).index
    1
    """

    __slots__ = ("kind", "index")

    CPU: "Device"  # set below

    def __init__(self, kind: str, index: int = 0):
        if kind not in ("cpu", "cuda"):
            raise ValueError(f"Device: unknown kind {kind!r}; expected 'cpu' or 'cuda'")
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise ValueError(f"Device: index must be a non-negative int, got {index!r}")
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "index", index if kind == "cuda" else 0)

    @staticmethod
    def CUDA(index: int = 0) -> "Device":
        """The CUDA device with the given ordinal."""
        return Device("cuda", index)

    @staticmethod
    def parse(spec) -> "Device":
        """Accept a Device, ``"cpu"``, ``"cuda"`` or ``"cuda:1"``."""
        if isinstance(spec, Device):
            return spec
        if isinstance(spec, str):
            kind, _, idx = spec.lower().partition(":")
            return Device(kind, int(idx) if idx else 0)
        raise TypeError(f"expected a Device or a string like 'cuda:0', got {type(spec).__name__}")

    @property
    def is_cuda(self) -> bool:
        return self.kind == "cuda"

    @property
    def is_cpu(self) -> bool:
        return self.kind == "cpu"

    def __setattr__(self, name, value):
        raise AttributeError("Device is immutable")

    def __delattr__(self, name):
        raise AttributeError("Device is immutable")

    def __eq__(self, other):
        return isinstance(other, Device) and self.kind == other.kind and self.index == other.index

    def __hash__(self):
        return hash((self.kind, self.index))

    def __repr__(self):
        return "Device.CPU" if self.kind == "cpu" else f"Device.CUDA({self.index})"

    def __str__(self):
        return "cpu" if self.kind == "cpu" else f"cuda:{self.index}"

    def __reduce__(self):
        return (Device, (self.kind, self.index))


Device.CPU = Device("cpu")
CPU = Device.CPU
