"""Autograd: Variable, the backward engine, grad mode, the ops, gradcheck."""
from . import ops  # noqa: F401  (installs the op methods)
from .diagnostics import live_node_count, live_tensor_count
from .engine import grad
from .gradcheck import gradcheck, gradgradcheck
from .function import DIFFERENTIABLE_METHODS, Function, op_method
from .grad_mode import (detect_anomaly, enable_grad, is_anomaly_enabled, is_grad_enabled,
                        no_grad, set_grad_enabled)
from .ops import *  # noqa: F401,F403
from .variable import Variable

__all__ = ["Variable", "Function", "gradcheck", "gradgradcheck", "op_method", "grad", "no_grad", "enable_grad",
           "set_grad_enabled", "is_grad_enabled", "detect_anomaly", "is_anomaly_enabled",
           "live_tensor_count", "live_node_count", "DIFFERENTIABLE_METHODS"] + ops.__all__
