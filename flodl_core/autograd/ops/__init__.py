"""The differentiable ops, one module per family.

Importing this package installs every op as a method of Tensor and Variable
(functional-only ops are re-exported by ``flodl_core.nn.functional``).
"""
from . import (activation, arithmetic, attention, conv, conversion, dropout,  # noqa: F401
               elementwise, embedding, indexing, linalg, linear, normalization, pool,
               rearrange, recurrent, reduction, resample, scatter, shape, sorting, special)
from .arithmetic import *  # noqa: F401,F403
from .elementwise import *  # noqa: F401,F403
from .indexing import *  # noqa: F401,F403
from .reduction import *  # noqa: F401,F403
from .shape import *  # noqa: F401,F403
from .special import *  # noqa: F401,F403
from .activation import *  # noqa: F401,F403
from .rearrange import *  # noqa: F401,F403
from .sorting import *  # noqa: F401,F403
from .scatter import *  # noqa: F401,F403
from .linalg import *  # noqa: F401,F403

# Functions at the package top level (fl.exp, fl.cat, ...); the nn.functional-only
# families (conv, pool, normalization, ...) are exported from nn.functional.
__all__ = (arithmetic.__all__ + elementwise.__all__ + indexing.__all__ + reduction.__all__
           + shape.__all__ + special.__all__ + activation.__all__ + rearrange.__all__
           + sorting.__all__ + scatter.__all__ + linalg.__all__)
