"""Every layer, one module per family; each also registers its ModuleInfo entries."""
from . import (activation, attention, conv, dropout, embedding, linear, misc,  # noqa: F401
               normalization, pooling, recurrent)
from .activation import *  # noqa: F401,F403
from .attention import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .dropout import *  # noqa: F401,F403
from .embedding import *  # noqa: F401,F403
from .linear import *  # noqa: F401,F403
from .misc import *  # noqa: F401,F403
from .normalization import *  # noqa: F401,F403
from .pooling import *  # noqa: F401,F403
from .recurrent import *  # noqa: F401,F403

__all__ = (activation.__all__ + attention.__all__ + conv.__all__ + dropout.__all__
           + embedding.__all__ + linear.__all__ + misc.__all__ + normalization.__all__
           + pooling.__all__ + recurrent.__all__)
