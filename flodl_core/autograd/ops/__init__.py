"""The differentiable ops, one module per family.

Importing this package installs every op as a method of Tensor and Variable.
"""
from . import arithmetic, conversion, shape  # noqa: F401
from .arithmetic import *  # noqa: F401,F403
from .shape import *  # noqa: F401,F403

__all__ = arithmetic.__all__ + shape.__all__
