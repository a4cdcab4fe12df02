"""Type promotion with 0-d tensors, as PyTorch defines it: a 0-d tensor next to a
tensor with dims counts only when it is of a higher category (float over integer
over bool). The expected dtypes are the examples of PyTorch's type-promotion
documentation plus the rule applied by hand, not values computed by flodl."""
from __future__ import annotations

import numpy as np
import pytest

import flodl_core as fl

D = fl.DType


def _dims(dtype):
    return fl.tensor(np.ones(3, dtype))


def _zero(dtype):
    return fl.tensor(np.array(2, dtype))


CASES = [
    # (dims dtype, 0-d dtype, expected)
    (np.int32, np.int64, D.Int32),          # documented: int_tensor + long_zerodim
    (np.float32, np.float64, D.Float32),    # same category: the tensor with dims wins
    (np.int64, np.int32, D.Int64),
    (np.uint8, np.int64, D.UInt8),
    (np.int32, np.float64, D.Float64),      # higher category: the 0-d tensor counts
    (np.int64, np.float32, D.Float32),
    (np.bool_, np.int64, D.Int64),
    (np.bool_, np.float64, D.Float64),
    (np.float16, np.float32, D.Float16),
    (np.float32, np.bool_, D.Float32),
]


@pytest.mark.parametrize("dims, zero, expected", CASES)
@pytest.mark.parametrize("op", ["add", "sub", "mul", "maximum", "minimum"])
def test_zero_dim_operand_promotion(dims, zero, expected, op):
    if op == "sub" and (dims is np.bool_ or zero is np.bool_):
        pytest.skip("subtraction of Bool is refused, as in PyTorch")
    a, b = _dims(dims), _zero(zero)
    fn = {"add": lambda x, y: x + y, "sub": lambda x, y: x - y, "mul": lambda x, y: x * y,
          "maximum": lambda x, y: x.maximum(y), "minimum": lambda x, y: x.minimum(y)}[op]
    assert fn(a, b).dtype == expected
    assert fn(b, a).dtype == expected                       # either order


def test_two_tensors_with_dims_still_promote_normally():
    assert (_dims(np.float32) + _dims(np.float64)).dtype == D.Float64
    assert (_dims(np.int32) + _dims(np.int64)).dtype == D.Int64
    assert (_zero(np.float32) + _zero(np.float64)).dtype == D.Float64   # both 0-d


def test_where_atan2_fmod_follow_the_same_rule():
    cond = fl.tensor(np.array([True, False, True]))
    assert fl.where(cond, _dims(np.float32), _zero(np.float64)).dtype == D.Float32
    assert _dims(np.float32).atan2(_zero(np.float64)).dtype == D.Float32
    assert _dims(np.float32).fmod(_zero(np.float64)).dtype == D.Float32
    assert _dims(np.int32).remainder(_zero(np.int64)).dtype == D.Int32


def test_gradient_of_a_zero_dim_operand_keeps_its_dtype():
    a = fl.Variable(_dims(np.float32), requires_grad=True)
    b = fl.Variable(fl.tensor(np.array(2.0)), requires_grad=True)        # Float64, 0-d
    y = a * b
    assert y.dtype == D.Float32
    y.sum().backward()
    assert a.grad.dtype == D.Float32 and b.grad.dtype == D.Float64
    np.testing.assert_allclose(b.grad.to_numpy(), 3.0)
    np.testing.assert_allclose(a.grad.to_numpy(), [2.0, 2.0, 2.0])
