"""``flodl_core.nn.functional`` (import it as ``F``): the stateless NN ops.

Names, arguments and output shapes follow ``torch.nn.functional``, so ported
code behaves the same. Each function is defined, with its gradient, in one
module of ``flodl_core.autograd.ops``; this module only gathers them.

>>> import flodl_core as fl
>>> from flodl_core.nn import functional as F
>>> F.relu(fl.tensor([-1.0, 2.0])).tolist()
[0.0, 2.0]
"""
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
relu = _method("relu")
sigmoid = _method("sigmoid")
tanh = _method("tanh")
softmax = _method("softmax")
log_softmax = _method("log_softmax")

__all__ = ["relu", "sigmoid", "tanh", "softmax", "log_softmax"]
for _m in (activation, attention, conv, dropout, embedding, linalg, linear, normalization,
           pool, recurrent, resample, scatter, special):
    __all__ += _export(_m, getattr(_m, "FUNCTIONAL", []))
del _m
