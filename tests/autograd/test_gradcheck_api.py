"""fl.gradcheck / fl.gradgradcheck on user-defined Functions, right and wrong."""
import re

import numpy as np
import pytest

import flodl_core as fl
from flodl_core import DType, Function, Tensor, Variable
from flodl_core.backend import xp_of

F64 = DType.Float64


def var(values, device=fl.Device.CPU):
    return Variable(fl.tensor(values, dtype=F64, device=device), requires_grad=True)


# ------------------------------------------------------- custom Functions


class Cube(Function):
    """x**3 with a correct, differentiable backward (written with ops)."""

    def forward(self, x):
        return x * x * x

    def backward(self, gy):
        (x,) = self.inputs
        return gy * x * x * 3


class WrongCube(Function):
    """x**3 whose backward forgets a factor: 2x^2 instead of 3x^2."""

    def forward(self, x):
        return x * x * x

    def backward(self, gy):
        (x,) = self.inputs
        return gy * x * x * 2


class CubeConstBackward(Function):
    """Correct first derivative, but computed from raw arrays: a constant to autograd,
    so its own derivative (needed for double backward) is lost."""

    def forward(self, x):
        return x * x * x

    def backward(self, gy):
        (x,) = self.inputs
        return gy * Tensor._wrap(3 * x._data * x._data)


class MulPlus(Function):
    """f(a, b) = a * b + a, two inputs with correct grads."""

    def forward(self, a, b):
        return a * b + a

    def backward(self, gy):
        a, b = self.inputs
        return gy * (b + 1), gy * a


class MulWrongSecond(Function):
    """f(a, b) = a * b, with the gradient for b doubled."""

    def forward(self, a, b):
        return a * b

    def backward(self, gy):
        a, b = self.inputs
        return gy * b, gy * a * 2


class TwoOutputs(Function):
    """(2x, x^2): a multi-output Function."""

    def forward(self, x):
        return x * 2, x * x

    def backward(self, g1, g2):
        (x,) = self.inputs
        return g1 * 2 + g2 * x * 2


class Exp(Function):
    """exp(x), reading its output in backward (retain_outputs)."""

    retain_outputs = (0,)

    def forward(self, x):
        return xp_of(x).exp(x)

    def backward(self, gy):
        return gy * self.output()


# --------------------------------------------------------------- plumbing


def test_function_on_tensors_and_variables(device):
    t = fl.tensor([1.0, 2.0], dtype=F64, device=device)
    out = Cube()(t)
    assert type(out) is Tensor and out.tolist() == [1.0, 8.0]
    v = Variable(t, requires_grad=True)
    y = Cube()(v)
    assert type(y) is Variable and isinstance(y.creator, Cube)
    assert Cube.op_name == "cube" and MulWrongSecond.op_name == "mul_wrong_second"
    y.sum().backward()
    np.testing.assert_array_equal(v.grad.to_numpy(), [3.0, 12.0])


def test_multi_output_function_backward():
    x = var([1.0, 3.0])
    a, b = TwoOutputs()(x)
    assert a.tolist() == [2.0, 6.0] and b.tolist() == [1.0, 9.0]
    b.sum().backward()           # a gets no gradient: filled with zeros
    np.testing.assert_array_equal(x.grad.to_numpy(), [2.0, 6.0])


def test_retained_output_after_caller_dropped_it():
    x = var([0.0, 1.0])
    loss = Exp()(x).sum()        # the Exp output Variable is dropped right away
    loss.backward()
    np.testing.assert_allclose(x.grad.to_numpy(), np.exp([0.0, 1.0]))


# -------------------------------------------------------------- gradcheck


class TestGradcheck:
    def test_correct_functions_pass(self, device):
        assert fl.gradcheck(lambda x: Cube()(x), [var([0.5, -1.0, 2.0], device)]) is True
        assert fl.gradcheck(lambda a, b: MulPlus()(a, b),
                            [var([[1.0, 2.0], [3.0, -1.0]], device),
                             var([[0.5, -0.5], [2.0, 1.5]], device)]) is True
        assert fl.gradcheck(lambda x: TwoOutputs()(x), [var([1.0, -2.0], device)]) is True
        assert fl.gradcheck(lambda x: Exp()(x), [var([0.1, -0.3], device)]) is True

    def test_builtin_ops_pass(self):
        rng = np.random.default_rng(0)
        a = var(rng.standard_normal((2, 3)).tolist())
        b = var(rng.standard_normal((3, 2)).tolist())
        c = var(rng.standard_normal(2).tolist())
        assert fl.gradcheck(lambda a, b, c: (a @ b + c) * (a @ b) / (c * c + 1), [a, b, c])

    def test_non_variable_arguments_pass_through(self):
        const = fl.tensor([2.0, 3.0], dtype=F64)
        x = var([1.0, 4.0])
        frozen = Variable(fl.tensor([1.0, 1.0], dtype=F64))   # no requires_grad: not checked
        assert fl.gradcheck(lambda x, c, f, k: Cube()(x) * c + f * k,
                            [x, const, frozen, 5.0])

    def test_wrong_backward_fails_with_details(self):
        x = var([0.5, -1.0, 2.0])
        with pytest.raises(fl.GradcheckError) as ei:
            fl.gradcheck(lambda v: WrongCube()(v), [x])
        msg = str(ei.value)
        # worst element: x = 2.0 at position (2,): analytic 2x^2 = 8, numeric 3x^2 = 12
        assert msg.startswith("gradcheck failed: input 0 at position (2,), output 0 at (2,): ")
        m = re.search(r"analytic (\S+) vs numeric (\S+)", msg)
        assert m is not None, msg
        assert float(m.group(1)) == pytest.approx(8.0)
        assert float(m.group(2)) == pytest.approx(12.0, rel=1e-6)
        assert isinstance(ei.value, AssertionError)

    def test_wrong_second_input_named(self):
        a = var([[1.0, 2.0], [5.0, -3.0]])
        b = var([[0.5, 0.5], [0.5, 0.5]])
        with pytest.raises(fl.GradcheckError) as ei:
            fl.gradcheck(lambda a, b: MulWrongSecond()(a, b), [a, b])
        msg = str(ei.value)
        # d/db is a (numeric) but backward gives 2a: worst where |a| is largest, a[1, 0] = 5
        assert "input 1 at position (1, 0), output 0 at (1, 0)" in msg
        m = re.search(r"analytic (\S+) vs numeric (\S+)", msg)
        assert float(m.group(1)) == pytest.approx(10.0)
        assert float(m.group(2)) == pytest.approx(5.0, rel=1e-6)

    def test_raise_exception_false(self):
        x = var([0.5, -1.0])
        assert fl.gradcheck(lambda v: WrongCube()(v), [x], raise_exception=False) is False
        assert fl.gradcheck(lambda v: Cube()(v), [x], raise_exception=False) is True

    def test_tolerances(self):
        x = var([1.0])
        # analytic 2 vs numeric 3: fails by default, passes with a huge atol
        assert not fl.gradcheck(lambda v: WrongCube()(v), [x], raise_exception=False)
        assert fl.gradcheck(lambda v: WrongCube()(v), [x], atol=1.5)

    def test_scalar_input_position(self):
        x = var(2.0)
        with pytest.raises(fl.GradcheckError, match=r"input 0 at position \(\), output 0 at \(\)"):
            fl.gradcheck(lambda v: WrongCube()(v), [x])

    def test_inputs_untouched(self):
        x = var([0.5, -1.0])
        fl.gradcheck(lambda v: Cube()(v), [x])
        assert x.tolist() == [0.5, -1.0]
        assert x.grad is None


# ----------------------------------------------------------- gradgradcheck


class TestGradgradcheck:
    def test_correct_function_passes(self, device):
        assert fl.gradgradcheck(lambda v: Cube()(v), [var([0.5, -1.0, 2.0], device)]) is True
        assert fl.gradgradcheck(lambda a, b: MulPlus()(a, b),
                                [var([1.0, 2.0], device), var([-0.5, 3.0], device)]) is True

    def test_builtin_ops_pass(self):
        assert fl.gradgradcheck(lambda a, b: a * b * a / (b * b + 1),
                                [var([1.0, -2.0]), var([0.5, 3.0])])

    def test_constant_backward_fails(self):
        x = var([0.5, -1.0, 2.0])
        # first order is right ...
        assert fl.gradcheck(lambda v: CubeConstBackward()(v), [x])
        # ... but the backward is not differentiable through autograd
        with pytest.raises(fl.GradcheckError, match="gradcheck failed: input 0"):
            fl.gradgradcheck(lambda v: CubeConstBackward()(v), [x])
        assert fl.gradgradcheck(lambda v: CubeConstBackward()(v), [x],
                                raise_exception=False) is False

    def test_explicit_grad_outputs(self):
        x = var([1.0, 2.0])
        gy = Variable(fl.tensor([0.3, -0.7], dtype=F64), requires_grad=True)
        assert fl.gradgradcheck(lambda v: Cube()(v), [x], grad_outputs=[gy])
        assert fl.gradgradcheck(lambda v: Cube()(v), [x],
                                grad_outputs=[fl.tensor([1.0, 1.0], dtype=F64)])

    def test_checks_the_vjp_not_first_order(self):
        # As in PyTorch, gradgradcheck differentiates the vjp that backward defines:
        # a consistently wrong (but differentiable) backward passes here; gradcheck
        # is what catches it.
        x = var([1.0, 2.0])
        assert fl.gradgradcheck(lambda v: WrongCube()(v), [x])
        assert not fl.gradcheck(lambda v: WrongCube()(v), [x], raise_exception=False)
