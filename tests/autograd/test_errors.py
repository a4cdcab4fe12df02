"""Error messages: the class and the exact words a user reads."""
import pytest

import flodl_core as fl
from flodl_core import DType, Variable
from flodl_core.errors import (AnomalyError, AutogradError, CheckpointError, DeviceError,
                               DTypeError, FlodlError, FlodlIndexError, GradcheckError,
                               GraphError, ShapeError)


def message(fn):
    """Run ``fn``, expect a FlodlError, return (class, message)."""
    with pytest.raises(FlodlError) as ei:
        fn()
    return type(ei.value), str(ei.value)


# ------------------------------------------------------------- hierarchy


@pytest.mark.parametrize("cls,builtin", [
    (ShapeError, ValueError), (DTypeError, TypeError), (DeviceError, ValueError),
    (FlodlIndexError, IndexError), (AutogradError, RuntimeError),
    (AnomalyError, FloatingPointError), (AnomalyError, AutogradError),
    (GradcheckError, AssertionError), (GraphError, ValueError),
    (CheckpointError, ValueError),
])
def test_hierarchy(cls, builtin):
    assert issubclass(cls, FlodlError)
    assert issubclass(cls, builtin)
    assert issubclass(cls, Exception)


def test_exported_at_top_level():
    for name in ("FlodlError", "ShapeError", "DTypeError", "DeviceError", "FlodlIndexError",
                 "AutogradError", "AnomalyError", "GradcheckError", "GraphError",
                 "CheckpointError"):
        assert getattr(fl, name) is getattr(fl.errors, name)


def test_catchable_as_builtins():
    with pytest.raises(ValueError):
        fl.ones(2, 3) + fl.ones(4, 5)
    with pytest.raises(TypeError):
        Variable(fl.tensor([1, 2]), requires_grad=True)
    with pytest.raises(IndexError):
        fl.ones(2, 3).transpose(0, 2)


# ---------------------------------------------------------------- matmul


@pytest.mark.parametrize("wrap", [lambda t: t, lambda t: Variable(t, requires_grad=True)],
                         ids=["tensor", "variable"])
def test_matmul_inner_dims(wrap, device):
    a, b = wrap(fl.ones(2, 3, device=device)), wrap(fl.ones(4, 5, device=device))
    for call in (lambda: a.matmul(b), lambda: a @ b):
        cls, msg = message(call)
        assert cls is ShapeError
        assert msg == "matmul: cannot multiply shapes (2, 3) and (4, 5): inner dims 3 != 4"


def test_matmul_vector_and_batched():
    assert message(lambda: fl.ones(3) @ fl.ones(4)) == (
        ShapeError, "matmul: cannot multiply shapes (3,) and (4,): inner dims 3 != 4")
    assert message(lambda: fl.ones(3) @ fl.ones(4, 2)) == (
        ShapeError, "matmul: cannot multiply shapes (3,) and (4, 2): inner dims 3 != 4")
    assert message(lambda: fl.ones(2, 3) @ fl.ones(4)) == (
        ShapeError, "matmul: cannot multiply shapes (2, 3) and (4,): inner dims 3 != 4")
    assert message(lambda: fl.ones(5, 2, 3) @ fl.ones(5, 4, 2)) == (
        ShapeError, "matmul: cannot multiply shapes (5, 2, 3) and (5, 4, 2): inner dims 3 != 4")
    cls, msg = message(lambda: fl.ones(3) @ fl.tensor(1.0))
    assert cls is ShapeError and msg.startswith("matmul: both operands need at least 1 dim")


def test_matmul_batch_broadcast_error():
    cls, msg = message(lambda: fl.ones(2, 2, 3) @ fl.ones(3, 3, 4))
    assert cls is ShapeError and msg.startswith("matmul:")
    assert "(2, 2, 3)" in msg and "(3, 3, 4)" in msg


# ----------------------------------------------------------- broadcasting


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_broadcast_messages(op, device):
    a, b = fl.ones(2, 3, device=device), fl.ones(4, 5, device=device)
    assert message(lambda: getattr(a, op)(b)) == (
        ShapeError, f"{op}: cannot broadcast shapes (2, 3) and (4, 5)")


def test_broadcast_via_operators_and_variables():
    a = Variable(fl.ones(2, 3), requires_grad=True)
    assert message(lambda: a + fl.ones(4, 5)) == (
        ShapeError, "add: cannot broadcast shapes (2, 3) and (4, 5)")
    assert message(lambda: fl.ones(3) * fl.ones(2)) == (
        ShapeError, "mul: cannot broadcast shapes (3,) and (2,)")


def test_broadcast_message_for_comparisons():
    assert message(lambda: fl.ones(2, 3) < fl.ones(4, 5)) == (
        ShapeError, "lt: cannot broadcast shapes (2, 3) and (4, 5)")


# -------------------------------------------------------------- shape ops


def test_reshape_bad_count():
    assert message(lambda: fl.ones(2, 3).reshape(4, 2)) == (
        ShapeError, "reshape: cannot reshape (2, 3) (6 elements) into (4, 2) (8 elements)")
    assert message(lambda: fl.ones(2, 3).reshape(-1, 4)) == (
        ShapeError, "reshape: cannot reshape (2, 3) (6 elements) into (-1, 4)")
    assert message(lambda: fl.ones(2, 3).reshape(-1, -1)) == (
        ShapeError, "reshape: only one dimension can be -1, got (-1, -1)")
    assert message(lambda: fl.ones(2, 3).view(5)) == (
        ShapeError, "view: cannot reshape (2, 3) (6 elements) into (5,) (5 elements)")


def test_permute_bad_dims():
    assert message(lambda: fl.ones(2, 3).permute(0, 0)) == (
        ShapeError, "permute: (0, 0) is not a permutation of 0..1")
    assert message(lambda: fl.ones(2, 3).permute(0)) == (
        ShapeError, "permute: got 1 dims (0,) for a 2-d tensor")
    cls, msg = message(lambda: fl.ones(2, 3).permute(0, 5))
    assert cls is FlodlIndexError
    assert msg == "permute: dim 5 out of range for a 2-d tensor (expected -2..1)"


def test_expand_bad_shape():
    cls, msg = message(lambda: fl.ones(2, 3).expand(4, 3, 2))
    assert cls is ShapeError
    assert msg.startswith("expand: cannot expand (2, 3) to (4, 3, 2)")
    assert message(lambda: fl.ones(2, 3).expand(3)) == (
        ShapeError, "expand: target (3,) has fewer dims than the input (2, 3)")
    assert message(lambda: fl.ones(3).expand(-1, 3)) == (
        ShapeError, "expand: -1 is not allowed for the new leading dim 0")


def test_transpose_and_unsqueeze_dims():
    assert message(lambda: fl.ones(2, 3).transpose(0, 2)) == (
        FlodlIndexError, "transpose: dim 2 out of range for a 2-d tensor (expected -2..1)")
    cls, msg = message(lambda: fl.ones(2, 3).unsqueeze(4))
    assert cls is FlodlIndexError and msg.startswith("unsqueeze: dim 4 out of range")


def test_sum_to_and_flatten_and_t():
    assert message(lambda: fl.ones(2, 3).sum_to(4)) == (
        ShapeError, "sum_to: cannot sum shape (2, 3) down to (4,)")
    assert message(lambda: fl.ones(2, 3).flatten(1, 0)) == (
        ShapeError, "flatten: start_dim 1 comes after end_dim 0 for shape (2, 3)")
    assert message(lambda: fl.ones(2, 2, 2).t()) == (
        ShapeError, "t: expected at most 2 dims, got shape (2, 2, 2)")


# ---------------------------------------------------- tensors and factories


def test_item_and_factories():
    assert message(lambda: fl.ones(2).item()) == (
        ShapeError, "item: only one-element tensors convert to a Python scalar, got shape (2,)")
    assert message(lambda: fl.zeros(2, -3)) == (
        ShapeError, "zeros: negative dimension in shape (2, -3)")
    assert message(lambda: fl.rand(2, dtype=DType.Int64)) == (
        DTypeError, "rand: expected a floating dtype, got DType.Int64")
    assert message(lambda: fl.from_f32([1.0, 2.0], (3,))) == (
        ShapeError, "from_f32: 2 values do not fill shape (3,) (3 elements)")


def test_requires_grad_on_int():
    assert message(lambda: Variable(fl.tensor([1, 2]), requires_grad=True)) == (
        DTypeError, "requires_grad: only floating-point Variables can require gradients, "
                    "got DType.Int64")


def test_unsupported_numpy_dtype():
    import numpy as np
    cls, msg = message(lambda: fl.from_numpy(np.zeros(1, dtype=np.int16)))
    assert cls is DTypeError
    assert msg.startswith("unsupported NumPy dtype int16; supported: float16, bfloat16, "
                          "float32, float64")


def test_device_without_cuda():
    if fl.cuda_available():
        n = fl.cuda_device_count()
        assert message(lambda: fl.zeros(1, device=fl.Device.CUDA(n))) == (
            DeviceError, f"Device.CUDA({n}) is not available: CuPy sees {n} CUDA device(s)")
    else:
        cls, msg = message(lambda: fl.zeros(1, device=fl.Device.CUDA(0)))
        assert cls is DeviceError
        assert msg.startswith("CUDA requested but CuPy is not installed")
        assert "pip install 'flodl-core[cuda12]'" in msg


# ---------------------------------------------------------------- autograd


def test_backward_messages():
    y = Variable(fl.ones(3), requires_grad=True) * 2
    assert message(lambda: y.backward()) == (
        ShapeError, "backward: a gradient can be implied only for one-element outputs; "
                    "got shape (3,), pass grad= explicitly")
    s = y.sum()
    s.backward()
    cls, msg = message(lambda: s.backward())
    assert cls is AutogradError
    assert msg.startswith("backward: the graph through 'sum' was already freed by an earlier "
                          "backward; pass retain_graph=True to the first backward")


# ---------------------------------------------------------------- gradcheck


def test_gradcheck_float32_input_names_index():
    ok = Variable(fl.ones(2, dtype=DType.Float64), requires_grad=True)
    bad = Variable(fl.ones(2), requires_grad=True)
    with pytest.raises(ValueError) as ei:
        fl.gradcheck(lambda a, b: a * b, [ok, bad])
    assert str(ei.value).startswith("gradcheck: input 1 is DType.Float32; finite "
                                    "differences need Float64 inputs")
    with pytest.raises(ValueError, match="gradgradcheck: input 0 is DType.Float32"):
        fl.gradgradcheck(lambda a: a * a, [bad])


def test_gradcheck_without_differentiable_input():
    x = Variable(fl.ones(2, dtype=DType.Float64))
    with pytest.raises(ValueError, match="no input is a Variable with requires_grad=True"):
        fl.gradcheck(lambda a: a * a, [x])
