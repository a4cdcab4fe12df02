"""``flodl_core.nn.functional`` (import it as ``F``): the stateless NN ops.

Names, arguments and output shapes follow ``torch.nn.functional``, so ported
code behaves the same. Each function is defined, with its gradient, in one
module of ``flodl_core.autograd.ops``; this module only gathers them.

>>> import flodl_core as fl
>>> from flodl_core.nn import functional as F
>>> F.relu(fl.tensor([-1.0, 2.0])).tolist()
[0.0, 2.0]
"""
import warnings

from ..autograd.ops import (activation, attention, conv, dropout, embedding, linalg, linear,
                            normalization, pool, recurrent, resample, scatter, special)


def _export(module, names=None):
    names = module.__all__ if names is None else names
    for n in names:
        globals()[n] = getattr(module, n)
    return list(names)


def _method(name):
    """The method ``name`` as a function of its first argument, for F-style calls."""
    def fn(input, *args, **kwargs):
        return getattr(input, name)(*args, **kwargs)
    fn.__name__ = name
    fn.__doc__ = f"``F.{name}(input, ...)`` is ``input.{name}(...)``."
    return fn


# Methods PyTorch users also call through F.
sigmoid = _method("sigmoid")
tanh = _method("tanh")


def relu(input, inplace=False):
    """``F.relu(input, inplace=False)``: ``input.relu()``. Like flodl's other
    activations, ``inplace=True`` is refused (tensors are immutable)."""
    activation._no_inplace("relu", inplace)
    return input.relu()


def _softmax_input(op, input, dim, dtype):
    """PyTorch's softmax arguments: ``dtype`` casts the input first; ``dim=None``
    is its deprecated implicit choice (0 for 0-, 1- and 3-d inputs, else 1)."""
    if dim is None:
        warnings.warn(f"{op}: implicit dimension choice is deprecated (as in PyTorch); "
                      "pass dim", UserWarning, stacklevel=3)
        dim = 0 if input.ndim in (0, 1, 3) else 1
    if dtype is not None:
        input = input.to_dtype(dtype)
    return input, dim


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """``F.softmax(input, dim, dtype=None)``: ``input.softmax(dim)`` (after the
    cast to ``dtype``, as in PyTorch)."""
    input, dim = _softmax_input("softmax", input, dim, dtype)
    return input.softmax(dim)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """``F.log_softmax(input, dim, dtype=None)``: ``input.log_softmax(dim)``."""
    input, dim = _softmax_input("log_softmax", input, dim, dtype)
    return input.log_softmax(dim)


__all__ = ["relu", "sigmoid", "tanh", "softmax", "log_softmax"]
for _m in (activation, attention, conv, dropout, embedding, linalg, linear, normalization,
           pool, recurrent, resample, scatter, special):
    __all__ += _export(_m, getattr(_m, "FUNCTIONAL", []))
del _m
