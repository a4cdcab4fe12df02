"""Neural-network building blocks: Module, Parameter, layers, losses, init.

``nn.functional`` (``F``) holds the stateless ops the layers are built on.
"""
from . import functional, init, losses
from . import functional as F  # noqa: F401
from .layers import *  # noqa: F401,F403
from .layers import __all__ as _layers_all
from .losses import *  # noqa: F401,F403
from .losses import __all__ as _losses_all
from .module import LoadReport, Module, ModuleDict, ModuleList, collect_parameters
from .parameter import Buffer, Parameter

__all__ = (["functional", "F", "init", "losses", "Module", "ModuleList", "ModuleDict",
            "Parameter", "Buffer", "LoadReport", "collect_parameters"]
           + list(_layers_all) + list(_losses_all))
