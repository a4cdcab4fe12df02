"""Optimizers, learning-rate schedulers, gradient clipping and mixed precision.

Everything here is also exported at the top level (``fl.Adam``, ``fl.StepDecay``,
``fl.clip_grad_norm``, ``fl.GradScaler``, ``fl.autocast``, ...).
"""
from .optimizer import GroupBuilder, Optimizer
from .sgd import SGD
from .adam import Adam, AdamW
from .rmsprop import RMSprop
from .adagrad import Adagrad
from .radam import RAdam
from .nadam import NAdam
from .clip import NonFiniteNormError, clip_grad_norm, clip_grad_value
from .grad_scaler import GradScaler
from .precision import cast_parameters
from .autocast import autocast, get_autocast_dtype, is_autocast_enabled
from .schedulers import *  # noqa: F401,F403
from .schedulers import __all__ as _schedulers_all

__all__ = ["Optimizer", "GroupBuilder", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad",
           "RAdam", "NAdam", "clip_grad_norm", "clip_grad_value", "NonFiniteNormError",
           "GradScaler", "cast_parameters", "autocast", "is_autocast_enabled", "get_autocast_dtype"]
__all__ += list(_schedulers_all)

OPTIMIZERS = {cls.__name__: cls for cls in (SGD, Adam, AdamW, RMSprop, Adagrad, RAdam, NAdam)}
