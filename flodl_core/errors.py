"""The exception hierarchy.

Every error the framework raises on purpose derives from :class:`FlodlError`.
Each subclass also derives from the built-in exception a Python user would
reach for (``ValueError`` for bad shapes, ``TypeError`` for bad dtypes, ...),
so ``except ValueError`` keeps working in code written for NumPy or PyTorch.

Messages name the op (or graph node), what was given and what was expected::

    matmul: cannot multiply shapes (2, 3) and (4, 5): inner dims 3 != 4
"""


class FlodlError(Exception):
    """Base class of every error raised by flodl_core."""


class ShapeError(FlodlError, ValueError):
    """Shapes that do not fit the operation (broadcasting, matmul, reshape, ...)."""


class DTypeError(FlodlError, TypeError):
    """A dtype the operation does not support, or two dtypes that do not mix."""


class DeviceError(FlodlError, ValueError):
    """Tensors on different devices, or a device that is not available."""


class IndexError_(FlodlError, IndexError):
    """An index or dimension out of range."""


class AutogradError(FlodlError, RuntimeError):
    """Misuse of the autograd engine (backward through a freed graph, ...)."""


class AnomalyError(AutogradError, FloatingPointError):
    """Raised in ``detect_anomaly()`` mode when an op produces NaN or Inf."""


class GradcheckError(FlodlError, AssertionError):
    """An analytic gradient disagrees with finite differences."""


class GraphError(FlodlError, ValueError):
    """A FlowBuilder graph that is malformed or used wrongly."""


class CheckpointError(FlodlError, ValueError):
    """A checkpoint that cannot be written or read."""


class OptimizerError(FlodlError, ValueError):
    """A bad optimizer, clipping or loss-scaling setting, or an unusable state dict."""


class SchedulerError(FlodlError, ValueError):
    """A scheduler setting, step or state that is out of range."""


class MonitorError(FlodlError, RuntimeError):
    """A training monitor that cannot log, serve or write its reports."""


# The public name; the trailing underscore above only avoids shadowing the builtin
# inside this module.
FlodlIndexError = IndexError_
FlodlIndexError.__name__ = FlodlIndexError.__qualname__ = "FlodlIndexError"

__all__ = [
    "OptimizerError", "SchedulerError", "MonitorError",
    "FlodlError", "ShapeError", "DTypeError", "DeviceError", "FlodlIndexError",
    "AutogradError", "AnomalyError", "GradcheckError", "GraphError", "CheckpointError",
]
