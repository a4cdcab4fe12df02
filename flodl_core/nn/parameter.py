"""Parameter (trainable state) and Buffer (non-trainable state) of a Module."""
from __future__ import annotations

from ..autograd.variable import Variable
from ..tensor import TensorLike, _is_array


def _own_copy(data):
    """Modules own their state: copy, so updating a parameter in place never
    changes a Tensor the caller still holds (Tensors are immutable)."""
    if isinstance(data, TensorLike):
        data = data._data
    elif not _is_array(data):
        raise TypeError(f"expected a Tensor, got {type(data).__name__}")
    return data.copy()


class Parameter(Variable):
    """A Variable a Module trains: ``requires_grad=True`` unless frozen.

    >>> import flodl_core as fl
    >>> p = fl.nn.Parameter(fl.zeros(2, 3))
    >>> p.requires_grad, p.is_frozen
    (True, False)
    >>> p.freeze().is_frozen
    True
    """

    __slots__ = ()

    def __init__(self, data, requires_grad: bool = True):
        super().__init__(Variable._make(_own_copy(data)), requires_grad=requires_grad)

    def freeze(self) -> "Parameter":
        """Stop training this parameter (its grad is dropped)."""
        self._requires_grad = False
        self._grad = None
        return self

    def unfreeze(self) -> "Parameter":
        self.requires_grad = True
        return self

    @property
    def is_frozen(self) -> bool:
        return not self._requires_grad

    def _replace(self, array) -> None:
        """Swap the storage (device or dtype moves); drops the gradient."""
        self._data = array
        self._grad = None

    def __repr__(self):
        return "Parameter" + super().__repr__()[len("Variable"):]


class Buffer(Variable):
    """Non-trainable Module state (running statistics, step counters).

    ``persistent=False`` keeps it out of ``state_dict()``.
    """

    __slots__ = ("persistent",)

    def __init__(self, data, persistent: bool = True):
        super().__init__(Variable._make(_own_copy(data)), requires_grad=False)
        self.persistent = persistent

    def _replace(self, array) -> None:
        self._data = array

    def __repr__(self):
        return "Buffer" + super().__repr__()[len("Variable"):]
