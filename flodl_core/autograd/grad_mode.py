"""Grad mode (is the graph being recorded?), anomaly mode and the autocast state,
per thread.

>>> import flodl_core as fl
>>> with fl.no_grad():
...     fl.is_grad_enabled()
False
"""
from __future__ import annotations

import functools
import threading

import numpy as np


class _ThreadState(threading.local):
    # Class attributes are the defaults every new thread starts from.
    enabled = True
    anomaly = False
    # Autocast (driven by flodl_core.optim.autocast; read by Function.__call__ and
    # the ops' entry points): on/off, the low-precision NumPy dtype, whether Parameter
    # casts are cached, how many autocast regions are open, and the cast cache.
    autocast = False
    autocast_dtype = np.dtype(np.float16)
    autocast_cache_enabled = True
    autocast_nesting = 0
    autocast_cache = None


state = _ThreadState()


def is_grad_enabled() -> bool:
    """Whether operations on Variables record the graph."""
    return state.enabled


def is_anomaly_enabled() -> bool:
    return state.anomaly


class _ModeContext:
    """Base of the mode switches: a context manager that also decorates functions."""

    _attr = "enabled"

    def __init__(self):
        self._prev = []

    def _target(self) -> bool:
        raise NotImplementedError

    def __enter__(self):
        self._prev.append(getattr(state, self._attr))
        setattr(state, self._attr, self._target())
        return self

    def __exit__(self, *exc):
        setattr(state, self._attr, self._prev.pop())
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self._clone():
                return fn(*args, **kwargs)
        return wrapper

    def _clone(self):
        return type(self)()


class no_grad(_ModeContext):
    """Disable graph recording: ``with no_grad(): ...`` or ``@no_grad()``."""

    def _target(self):
        return False


class enable_grad(_ModeContext):
    """Re-enable graph recording inside a ``no_grad`` block."""

    def _target(self):
        return True


class set_grad_enabled(_ModeContext):
    """``set_grad_enabled(False)`` switches grad mode now; as a context manager it
    restores the previous mode on exit (PyTorch semantics)."""

    def __init__(self, mode: bool):
        super().__init__()
        self.mode = bool(mode)
        self._prev.append(state.enabled)
        state.enabled = self.mode

    def _target(self):
        return self.mode

    def __enter__(self):
        return self   # already switched in __init__

    def __call__(self, fn):
        # As a decorator it only scopes the calls (PyTorch semantics): undo the
        # switch that __init__ made at decoration time.
        if self._prev:
            state.enabled = self._prev.pop()
        return super().__call__(fn)

    def _clone(self):
        return _SetGradScope(self.mode)


class _SetGradScope(_ModeContext):
    def __init__(self, mode):
        super().__init__()
        self.mode = mode

    def _target(self):
        return self.mode


class detect_anomaly(_ModeContext):
    """Raise at the first NaN or Inf produced in forward or backward, naming the op
    and the line of user code that created it. Slow: use it to debug.

    >>> import flodl_core as fl
    >>> x = fl.Variable(fl.tensor([0.0]), requires_grad=True)
    >>> with fl.detect_anomaly():
    ...     x.log()                                   # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    AnomalyError: log: forward produced -Inf ...
    """

    _attr = "anomaly"

    def __init__(self, enabled: bool = True):
        super().__init__()
        self.enabled = enabled

    def _target(self):
        return self.enabled

    def _clone(self):
        return detect_anomaly(self.enabled)
