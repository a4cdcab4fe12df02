"""The differentiable ops, one module per family.

Importing this package installs every op as a method of Tensor and Variable.
"""
from . import arithmetic, conversion, elementwise, indexing, reduction, shape  # noqa: F401
from .arithmetic import *  # noqa: F401,F403
from .elementwise import *  # noqa: F401,F403
from .shape import *  # noqa: F401,F403
from .indexing import *  # noqa: F401,F403
from .reduction import *  # noqa: F401,F403

__all__ = arithmetic.__all__ + elementwise.__all__ + shape.__all__ + indexing.__all__ + reduction.__all__
