"""flodl_core: a deep-learning framework in pure Python on NumPy and CuPy.

``import flodl_core as fl`` gives the whole API::

    x = fl.Variable(fl.randn(4, 3), requires_grad=True)
    loss = (x @ fl.randn(3, 2)).relu().sum()
    loss.backward()
"""
from .backend import (CPU, Device, DType, Rng, TensorOptions, cuda_available,
                      cuda_device_count, cuda_manual_seed_all, cuda_memory_info,
                      get_num_threads, malloc_tuned, manual_seed, rss_kb, set_num_threads)
from .errors import (AnomalyError, AutogradError, CheckpointError, DeviceError, DTypeError,
                     FlodlError, FlodlIndexError, GradcheckError, GraphError, MonitorError,
                     OptimizerError, SchedulerError, ShapeError)
from .tensor import Tensor
from .creation import *  # noqa: F401,F403
from .creation import __all__ as _creation_all
from .autograd import *  # noqa: F401,F403
from .autograd import __all__ as _autograd_all
from .autograd.ops.scatter import scatter  # the ops package keeps the module name
from . import nn
from .nn import *  # noqa: F401,F403  (layers, losses, Module, Parameter, ...)
from .nn import __all__ as _nn_all
from .nn import functional as F
from . import optim
from .optim import *  # noqa: F401,F403  (optimizers, schedulers, clipping, AMP)
from .optim import __all__ as _optim_all
from . import graph
from .graph import *  # noqa: F401,F403  (FlowBuilder, Graph, MergeOp, routers, ...)
from .graph import __all__ as _graph_all
from . import monitor
from .monitor import Monitor

__version__ = "0.1.0"

__all__ = (["Device", "CPU", "DType", "TensorOptions", "Rng", "manual_seed",
            "cuda_manual_seed_all", "cuda_available", "cuda_device_count", "cuda_memory_info",
            "rss_kb", "malloc_tuned", "get_num_threads", "set_num_threads", "Tensor", "FlodlError", "ShapeError", "DTypeError",
            "DeviceError", "FlodlIndexError", "AutogradError", "AnomalyError",
            "GradcheckError", "GraphError", "CheckpointError", "OptimizerError", "SchedulerError", "MonitorError", "__version__", "nn", "F", "scatter"]
           + list(_creation_all) + list(_autograd_all)
           + [n for n in _nn_all if n not in ("functional", "losses")]
           + ["optim"] + list(_optim_all) + ["graph"] + list(_graph_all)
           + ["monitor", "Monitor"])

# Checkpoint I/O needs h5py, whose import costs about a third of ours: load it
# on first use (``fl.save_checkpoint``, ``fl.io``, ``from flodl_core import *``).
_IO_NAMES = ("save_checkpoint", "load_checkpoint", "checkpoint_version", "checkpoint_keys",
             "checkpoint_info", "migrate_checkpoint_file", "MigrateReport",
             "export_safetensors", "import_safetensors")
__all__ += ["io", *_IO_NAMES]


def __getattr__(name):
    if name == "io" or name in _IO_NAMES:
        import importlib
        io = importlib.import_module(".io", __name__)
        return io if name == "io" else getattr(io, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
