"""cast_parameters: move parameters to another floating dtype in place."""
from __future__ import annotations

from ..autograd.variable import Variable
from ..backend.dtype import is_floating_numpy, to_numpy_dtype
from ..errors import DTypeError
from .optimizer import as_param_list


def cast_parameters(params, dtype) -> None:
    """Convert every floating parameter (or a Module's parameters) to ``dtype``.

    The parameters stay the same objects, so optimizers and modules holding them
    see the new dtype; their gradients are dropped. Integer parameters are left
    alone. Create the optimizer after casting: state already created for a
    parameter keeps its old dtype (use ``master_weights=True`` to keep float32
    copies of float16/bfloat16 weights).
    """
    np_dtype = to_numpy_dtype(dtype)
    if not is_floating_numpy(np_dtype):
        raise DTypeError(f"cast_parameters: expected a floating dtype, got {dtype}")
    params = as_param_list(params)
    for p in params:
        if not isinstance(p, Variable):
            raise TypeError(f"cast_parameters: expected Parameters, got {type(p).__name__}")
    for p in params:
        data = p._data
        if is_floating_numpy(data.dtype) and data.dtype != np_dtype:
            p._data = data.astype(np_dtype)
            p._grad = None
