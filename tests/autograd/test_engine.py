"""autograd: Variable, the backward engine, fl.grad, grad and anomaly modes, leaks.

Expected gradients are derived by hand (or with NumPy), never from the engine.
"""
import gc
import sys
import threading
import warnings
import weakref

import numpy as np
import pytest

import flodl_core as fl
from flodl_core import DType, Tensor, Variable

F32, F64 = DType.Float32, DType.Float64


def var(values, device=fl.Device.CPU, dtype=F64, requires_grad=True):
    return Variable(fl.tensor(values, dtype=dtype, device=device), requires_grad=requires_grad)


def host(t):
    return t.to_numpy()


def line_of(marker):
    """Line number in this file of the line containing ``marker`` (a comment tag)."""
    with open(__file__) as f:
        for i, line in enumerate(f, 1):
            if marker in line and "line_of(" not in line:
                return i
    raise AssertionError(marker)


# ---------------------------------------------------------- Variable basics


class TestVariableBasics:
    def test_properties(self, device):
        t = fl.tensor([[1.0, 2.0, 3.0]], device=device)
        v = Variable(t, requires_grad=True)
        assert type(v.data) is Tensor and v.data.tolist() == [[1.0, 2.0, 3.0]]
        assert v.grad is None
        assert v.requires_grad and v.is_leaf
        assert v.creator is None and v.grad_fn is None
        assert v.shape == (1, 3) and v.dtype is F32 and v.device == device
        assert v.ndim == 2 and v.numel() == 3
        w = Variable(t)
        assert not w.requires_grad and w.is_leaf

    def test_requires_grad_int_raises(self):
        with pytest.raises(fl.DTypeError, match="only floating-point.*Int64"):
            Variable(fl.tensor([1, 2]), requires_grad=True)
        v = Variable(fl.tensor([1, 2]))
        with pytest.raises(fl.DTypeError):
            v.requires_grad = True
        with pytest.raises(TypeError):       # DTypeError is a TypeError
            v.requires_grad_()

    def test_requires_grad_toggle(self):
        v = Variable(fl.ones(2))
        assert v.requires_grad_() is v and v.requires_grad
        v.requires_grad = False
        assert not v.requires_grad
        y = var([1.0]) * 2
        with pytest.raises(fl.AutogradError, match="non-leaf.*detach"):
            y.requires_grad = False

    def test_constructor_type_error(self):
        with pytest.raises(TypeError, match="fl.tensor"):
            Variable([1.0, 2.0])
        v = Variable(np.arange(3.0))
        assert v.dtype is F64

    def test_detach_shares_value_and_is_leaf(self, device):
        x = var([1.0, 2.0], device)
        y = x * 3
        d = y.detach()
        assert d.is_leaf and not d.requires_grad and d.creator is None
        if device.is_cpu:
            assert np.shares_memory(host(d), host(y))
        assert d.tolist() == [3.0, 6.0]
        z = d * 2
        assert not z.requires_grad and z.is_leaf

    def test_set_data(self):
        x = var([1.0, 2.0])
        x.set_data(fl.tensor([5.0, 6.0], dtype=F64))
        assert x.tolist() == [5.0, 6.0]
        with pytest.raises(fl.ShapeError, match=r"set_data: expected shape \(2,\)"):
            x.set_data(fl.zeros(3, dtype=F64))
        with pytest.raises(fl.DTypeError, match="set_data.*Float64.*Float32"):
            x.set_data(fl.zeros(2, dtype=F32))
        assert x.tolist() == [5.0, 6.0] and x.dtype is F64

    def test_zero_grad(self):
        x = var([1.0, 2.0])
        (x * x).sum().backward()
        assert x.grad.tolist() == [2.0, 4.0]
        x.zero_grad()
        assert x.grad is None
        (x * 3).sum().backward()
        assert x.grad.tolist() == [3.0, 3.0]

    def test_grad_setter(self):
        x = var([1.0, 2.0])
        x.grad = fl.tensor([0.5, 0.5], dtype=F64)
        assert x.grad.tolist() == [0.5, 0.5]
        (x * 2).sum().backward()
        assert x.grad.tolist() == [2.5, 2.5]
        with pytest.raises(fl.ShapeError, match="grad: shape"):
            x.grad = fl.zeros(3)
        with pytest.raises(TypeError):
            x.grad = [1.0, 2.0]
        x.grad = None
        assert x.grad is None

    def test_retain_grad_non_leaf(self):
        x = var([1.0, 2.0, 3.0])
        h = x * x                   # dL/dh = 2 (L = sum(2h))
        h.retain_grad()
        other = x * 5               # not retained
        (h * 2 + other).sum().backward()
        assert h.grad.tolist() == [2.0, 2.0, 2.0]
        assert other.grad is None
        assert x.grad.tolist() == [4 * 1.0 + 5, 4 * 2.0 + 5, 4 * 3.0 + 5]

    def test_item(self):
        v = var([2.5])
        assert v.item() == 2.5
        assert (v * 2).item() == 5.0
        with pytest.raises(fl.ShapeError):
            var([1.0, 2.0]).item()

    def test_repr(self):
        assert repr(var([1.0], dtype=F32)) == (
            "Variable([1.], dtype=Float32, device=cpu, requires_grad=True)")
        assert "grad_fn=Mul" in repr(var([1.0]) * var([2.0]))
        assert repr(Variable(fl.ones(1))) == "Variable([1.], dtype=Float32, device=cpu)"

    def test_ops_with_tensor_constants(self, device):
        x = var([1.0, 2.0], device)
        c = fl.tensor([3.0, 4.0], dtype=F64, device=device)
        y = x * c
        assert type(y) is Variable and y.requires_grad
        z = c * x
        assert type(z) is Variable
        (y + z).sum().backward()
        np.testing.assert_array_equal(host(x.grad), [6.0, 8.0])
        assert type(c * c) is Tensor

    def test_ops_on_variables_without_grad(self):
        a = Variable(fl.ones(2))
        y = a * 2
        assert type(y) is Variable and not y.requires_grad and y.is_leaf


# ------------------------------------------------------------ backward core


class TestBackward:
    def test_simple_grads(self, device):
        x = var([1.0, 2.0, 3.0], device)
        w = var([4.0, 5.0, 6.0], device)
        loss = ((x * w) + x / w - w).sum()
        loss.backward()
        xa, wa = np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0, 6.0])
        np.testing.assert_allclose(host(x.grad), wa + 1 / wa)
        np.testing.assert_allclose(host(w.grad), xa - xa / wa ** 2 - 1)
        assert x.grad.device == device and x.grad.dtype is F64

    def test_leaf_grads_accumulate(self, device):
        x = var([1.0, 2.0], device)
        (x * 3).sum().backward()
        (x * x).sum().backward()
        np.testing.assert_array_equal(host(x.grad), [3 + 2 * 1.0, 3 + 2 * 2.0])

    def test_accumulation_does_not_alias_old_grad(self):
        x = var([1.0, 2.0])
        (x * 3).sum().backward()
        first = x.grad
        (x * 3).sum().backward()
        assert first.tolist() == [3.0, 3.0]      # the earlier Tensor is untouched
        assert x.grad.tolist() == [6.0, 6.0]

    def test_explicit_grad(self, device):
        x = var([1.0, 2.0, 3.0], device)
        y = x * 2
        y.backward(fl.tensor([1.0, 10.0, 100.0], dtype=F64, device=device))
        np.testing.assert_array_equal(host(x.grad), [2.0, 20.0, 200.0])

    def test_non_scalar_without_grad(self):
        y = var([1.0, 2.0, 3.0]) * 2
        with pytest.raises(fl.ShapeError) as ei:
            y.backward()
        msg = str(ei.value)
        assert "one-element outputs" in msg and "(3,)" in msg and "grad=" in msg

    def test_one_element_non_scalar_ok(self):
        x = var([[2.0]])
        (x * x).backward()
        assert x.grad.tolist() == [[4.0]]

    def test_bad_explicit_grad(self):
        y = var([1.0, 2.0, 3.0]) * 2
        with pytest.raises(fl.ShapeError, match=r"grad shape \(2,\) does not match output "
                                                r"shape \(3,\)"):
            y.backward(fl.ones(2, dtype=F64))
        with pytest.raises(TypeError, match="Tensor or Variable"):
            y.backward([1.0, 1.0, 1.0])

    def test_grad_dtype_cast_to_output(self):
        x = var([1.0, 2.0])
        (x * 2).backward(fl.ones(2, dtype=F32))
        assert x.grad.dtype is F64 and x.grad.tolist() == [2.0, 2.0]

    def test_backward_without_graph(self):
        v = Variable(fl.ones(2))
        with pytest.raises(fl.AutogradError, match="does not require grad"):
            (v * 2).sum().backward()

    def test_freed_graph(self):
        x = var([1.0, 2.0])
        y = (x * x).sum()
        y.backward()
        with pytest.raises(fl.AutogradError) as ei:
            y.backward()
        msg = str(ei.value)
        assert "retain_graph=True" in msg and "already freed" in msg

    def test_freed_graph_shared_subgraph(self):
        x = var([1.0, 2.0])
        h = x * x
        h.sum().backward()
        with pytest.raises(fl.AutogradError, match="'mul'.*retain_graph"):
            (h * 2).sum().backward()   # new top node, freed 'mul' below it

    def test_retain_graph(self):
        x = var([1.0, 2.0])
        y = (x * x).sum()
        y.backward(retain_graph=True)
        y.backward()
        np.testing.assert_array_equal(host(x.grad), [4.0, 8.0])    # 2 * 2x
        with pytest.raises(fl.AutogradError, match="retain_graph"):
            y.backward()

    def test_fan_out(self, device):
        x = var([1.0, -2.0, 3.0], device)
        a = fl.tensor([2.0, 3.0, 4.0], dtype=F64, device=device)
        b = fl.tensor([-1.0, 0.5, 7.0], dtype=F64, device=device)
        loss = (x * a).sum() + (x * b).sum() + x.sum()     # x used 3 times
        loss.backward()
        np.testing.assert_array_equal(host(x.grad), [2 - 1 + 1, 3 + 0.5 + 1, 4 + 7 + 1])

    def test_fan_out_product(self):
        x = var([1.0, -2.0, 3.0])
        (x * x * x).sum().backward()                        # d/dx x^3 = 3x^2
        np.testing.assert_array_equal(host(x.grad), [3.0, 12.0, 27.0])

    def test_diamond(self):
        x = var([2.0])
        a = x * 3
        b = x * x
        y = a * b                                           # 3x^3 -> 9x^2
        y.backward()
        assert x.grad.tolist() == [36.0]

    def test_unbroadcast(self, device):
        a = var(np.arange(6.0).reshape(2, 3).tolist(), device)
        b = var([10.0, 20.0, 30.0], device)
        (a + b).sum().backward()
        assert a.grad.shape == (2, 3) and b.grad.shape == (3,)
        np.testing.assert_array_equal(host(a.grad), np.ones((2, 3)))
        np.testing.assert_array_equal(host(b.grad), [2.0, 2.0, 2.0])

    def test_unbroadcast_keepdims(self, device):
        col = var([[1.0], [2.0]], device)          # (2, 1)
        row = var([[3.0, 4.0, 5.0]], device)       # (1, 3)
        (col * row).sum().backward()
        assert col.grad.shape == (2, 1) and row.grad.shape == (1, 3)
        np.testing.assert_array_equal(host(col.grad), [[12.0], [12.0]])
        np.testing.assert_array_equal(host(row.grad), [[3.0, 3.0, 3.0]])

    def test_unbroadcast_scalar_variable(self):
        s = var(2.0)
        m = var([[1.0, 2.0], [3.0, 4.0]])
        (m * s).sum().backward()
        assert s.grad.shape == () and s.grad.item() == 10.0
        np.testing.assert_array_equal(host(m.grad), np.full((2, 2), 2.0))

    def test_matmul_grads(self, device):
        rng = np.random.default_rng(0)
        A, B = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
        G = rng.standard_normal((3, 2))
        a, b = var(A.tolist(), device), var(B.tolist(), device)
        (a @ b).backward(fl.tensor(G, device=device))
        np.testing.assert_allclose(host(a.grad), G @ B.T, rtol=1e-12)
        np.testing.assert_allclose(host(b.grad), A.T @ G, rtol=1e-12)

    def test_dtype_conversion_grad(self):
        x = var([1.0, 2.0])
        y = x.to_dtype(F32) * 3
        assert y.dtype is F32
        y.sum().backward()
        assert x.grad.dtype is F64 and x.grad.tolist() == [3.0, 3.0]

    def test_shape_op_grads(self, device):
        x = var(np.arange(6.0).reshape(2, 3).tolist(), device)
        w = fl.tensor(np.arange(6.0).reshape(3, 2) + 1, device=device)
        y = x.transpose(0, 1).reshape(6).unsqueeze(0).expand(2, 6)
        z = (y * w.reshape(1, 6)).sum()
        z.backward()
        # y[k] = x.T.flat[k], duplicated twice by expand; weight w.flat[k]
        expect_T = 2 * (np.arange(6.0) + 1).reshape(3, 2)
        np.testing.assert_array_equal(host(x.grad), expect_T.T)

    def test_long_chain_no_recursion(self):
        limit = sys.getrecursionlimit()
        x = var([1.0], dtype=F32)
        h = x
        for _ in range(100_000):
            h = h + x
        h.backward()
        assert x.grad.tolist() == [100_001.0]
        assert sys.getrecursionlimit() == limit
        del h   # freeing the chain must not recurse either


# ------------------------------------------------------ higher-order grads


class TestHigherOrder:
    def test_second_derivative_via_grad(self, device):
        xs = [0.5, -1.0, 2.0]
        x = var(xs, device)
        (g,) = fl.grad((x ** 3).sum(), x, create_graph=True)
        assert isinstance(g, Variable) and g.requires_grad and g.creator is not None
        np.testing.assert_allclose(host(g), [3 * v * v for v in xs])
        (gg,) = fl.grad(g.sum(), x)
        np.testing.assert_allclose(host(gg), [6 * v for v in xs])
        assert x.grad is None                   # fl.grad leaves .grad alone

    def test_third_derivative(self):
        x = var([2.0])
        y = x * x * x * x                        # x^4: 4x^3, 12x^2, 24x
        (g1,) = fl.grad(y, x, create_graph=True)
        (g2,) = fl.grad(g1, x, create_graph=True)
        (g3,) = fl.grad(g2, x)
        assert (g1.item(), g2.item(), g3.item()) == (32.0, 48.0, 48.0)

    def test_backward_create_graph(self):
        x = var([1.0, 3.0])
        (x * x * x).sum().backward(create_graph=True)
        g = x.grad
        assert type(g) is Variable and g.creator is not None and g.requires_grad
        np.testing.assert_array_equal(host(g), [3.0, 27.0])
        x.grad = None
        g.sum().backward()
        np.testing.assert_array_equal(host(x.grad), [6.0, 18.0])

    def test_mixed_partials(self):
        x, y = var([2.0]), var([5.0])
        f = x * x * y                               # f_x = 2xy, f_xy = 2x
        (fx,) = fl.grad(f, x, create_graph=True)
        assert fx.item() == 20.0
        (fxy,) = fl.grad(fx, y)
        assert fxy.item() == 4.0

    def test_create_graph_grad_accumulates_as_variable(self):
        x = var([2.0])
        (x * x).backward(create_graph=True)
        (x * x).backward(create_graph=True)
        assert type(x.grad) is Variable and x.grad.item() == 8.0


# ----------------------------------------------------------------- fl.grad


class TestGradFunction:
    def test_non_leaf_inputs_and_multiple_outputs(self):
        x = var([1.0, 2.0, 3.0])
        w = var([4.0, 5.0, 6.0])
        h = x * w
        y1 = (h * h).sum()
        y2 = (h * 3).sum()
        gh, gx = fl.grad([y1, y2], [h, x])
        hv = np.array([4.0, 10.0, 18.0])
        np.testing.assert_array_equal(host(gh), 2 * hv + 3)
        np.testing.assert_array_equal(host(gx), (2 * hv + 3) * np.array([4.0, 5.0, 6.0]))
        assert x.grad is None and w.grad is None

    def test_grad_outputs(self):
        x = var([1.0, 2.0])
        y = x * x
        (g,) = fl.grad(y, x, grad_outputs=fl.tensor([1.0, -1.0], dtype=F64))
        np.testing.assert_array_equal(host(g), [2.0, -4.0])
        x2 = var([1.0, 2.0])
        a, b = x2 * 2, x2 * 3
        (g,) = fl.grad([a, b], [x2], grad_outputs=[fl.ones(2, dtype=F64),
                                                   fl.full((2,), 10.0, dtype=F64)])
        np.testing.assert_array_equal(host(g), [32.0, 32.0])

    def test_grad_outputs_count(self):
        x = var([1.0])
        with pytest.raises(ValueError, match="2 grad_outputs for 1 outputs"):
            fl.grad(x * 2, x, grad_outputs=[fl.ones(1), fl.ones(1)])

    def test_single_input_returns_tuple(self):
        x = var([3.0])
        out = fl.grad(x * x, x)
        assert isinstance(out, tuple) and len(out) == 1 and out[0].item() == 6.0

    def test_retain_graph(self):
        x = var([1.0, 2.0])
        y = (x * x).sum()
        g1 = fl.grad(y, x, retain_graph=True)[0]
        g2 = fl.grad(y, x)[0]
        assert g1.tolist() == g2.tolist() == [2.0, 4.0]
        with pytest.raises(fl.AutogradError, match="retain_graph"):
            fl.grad(y, x)

    def test_unused_input(self):
        x, u = var([1.0]), var([2.0])
        y = x * 2
        with pytest.raises(fl.AutogradError, match="input 1 was not used.*allow_unused"):
            fl.grad(y, [x, u], retain_graph=True)
        gx, gu = fl.grad(y, [x, u], allow_unused=True)
        assert gx.item() == 2.0 and gu is None

    def test_input_without_grad(self):
        x = var([1.0])
        c = Variable(fl.ones(1, dtype=F64))
        with pytest.raises(fl.AutogradError, match="input 1 does not require grad"):
            fl.grad(x * c, [x, c])
        with pytest.raises(TypeError, match="inputs must be Variables"):
            fl.grad(x * 2, [fl.ones(1)])

    def test_grad_of_leaf_output(self):
        x = var([1.0, 2.0])
        (g,) = fl.grad(x, x, grad_outputs=fl.ones(2, dtype=F64))
        assert g.tolist() == [1.0, 1.0]


# --------------------------------------------------------------- grad mode


class TestGradMode:
    def test_no_grad_context(self):
        x = var([1.0])
        assert fl.is_grad_enabled()
        with fl.no_grad():
            assert not fl.is_grad_enabled()
            y = x * 2
        assert fl.is_grad_enabled()
        assert not y.requires_grad and y.is_leaf and y.creator is None

    def test_no_grad_decorator(self):
        x = var([1.0])

        @fl.no_grad()
        def f(v):
            assert not fl.is_grad_enabled()
            return v * 2

        assert fl.is_grad_enabled()
        y = f(x)
        assert not y.requires_grad
        assert fl.is_grad_enabled()
        assert f.__name__ == "f"
        assert f(x).tolist() == [2.0]   # reusable

    def test_no_grad_restores_on_exception(self):
        with pytest.raises(KeyError):
            with fl.no_grad():
                raise KeyError
        assert fl.is_grad_enabled()

    def test_enable_grad_inside_no_grad(self):
        x = var([1.0])
        with fl.no_grad():
            with fl.enable_grad():
                assert fl.is_grad_enabled()
                y = x * 2
            assert not fl.is_grad_enabled()
        assert y.requires_grad and y.creator is not None

        @fl.enable_grad()
        def g():
            return fl.is_grad_enabled()

        with fl.no_grad():
            assert g() is True
            assert not fl.is_grad_enabled()

    def test_nested_same_instance(self):
        ng = fl.no_grad()
        with ng:
            with fl.enable_grad():
                with ng:
                    assert not fl.is_grad_enabled()
                assert fl.is_grad_enabled()
            assert not fl.is_grad_enabled()
        assert fl.is_grad_enabled()

    def test_set_grad_enabled_function(self):
        x = var([1.0])
        try:
            fl.set_grad_enabled(False)
            assert not fl.is_grad_enabled()
            assert not (x * 2).requires_grad
            fl.set_grad_enabled(True)
            assert fl.is_grad_enabled()
            assert (x * 2).requires_grad
        finally:
            fl.set_grad_enabled(True)

    def test_set_grad_enabled_context(self):
        with fl.set_grad_enabled(False):
            assert not fl.is_grad_enabled()
            with fl.set_grad_enabled(True):
                assert fl.is_grad_enabled()
            assert not fl.is_grad_enabled()
        assert fl.is_grad_enabled()

    def test_set_grad_enabled_decorator(self):
        @fl.set_grad_enabled(False)
        def f():
            return fl.is_grad_enabled()

        assert fl.is_grad_enabled()     # decorating does not switch the mode (PyTorch)
        assert f() is False
        assert fl.is_grad_enabled()

    def test_per_thread(self):
        seen = {}

        def worker():
            seen["start"] = fl.is_grad_enabled()
            with fl.no_grad():
                seen["inner"] = fl.is_grad_enabled()

        with fl.no_grad():
            t = threading.Thread(target=worker)
            t.start()
            t.join()
            assert not fl.is_grad_enabled()   # the worker's no_grad did not leak here
        assert seen == {"start": True, "inner": False}
        assert fl.is_grad_enabled()

    def test_backward_under_no_grad(self):
        # backward itself works under no_grad (grad mode only affects recording)
        x = var([2.0])
        y = x * x
        with fl.no_grad():
            y.backward()
        assert x.grad.item() == 4.0


# ------------------------------------------------------------ anomaly mode


class TestAnomaly:
    def test_forward_nan(self):
        x = var([1.0, 0.0])
        z = var([0.0, 0.0])
        assert not fl.is_anomaly_enabled()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            with fl.detect_anomaly():
                assert fl.is_anomaly_enabled()
                ok = x * 2                                       # finite: no error
                with pytest.raises(fl.AnomalyError) as ei:
                    x / z                                        # ANOMALY-FWD
        assert not fl.is_anomaly_enabled()
        msg = str(ei.value)
        assert msg.startswith("div: forward produced")
        assert "NaN" in msg or "Inf" in msg
        assert f"test_engine.py:{line_of('# ANOMALY-FWD')}" in msg
        assert ok.tolist() == [2.0, 0.0]
        assert isinstance(ei.value, FloatingPointError)
        assert isinstance(ei.value, fl.AutogradError)

    def test_forward_inf_propagated_note(self):
        x = var([float("inf")])
        with fl.detect_anomaly():
            with pytest.raises(fl.AnomalyError, match="mul_scalar: forward produced Inf "
                                                      r"\(its inputs already held NaN/Inf\)"):
                x * 2

    def test_backward_sqrt_at_zero(self):
        x = var([0.0, 4.0])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            with fl.detect_anomaly():
                y = x.sqrt()                                     # ANOMALY-SQRT
                loss = y.sum()
                with pytest.raises(fl.AnomalyError) as ei:
                    loss.backward()
        msg = str(ei.value)
        assert msg.startswith("sqrt: backward produced Inf")
        assert f"test_engine.py:{line_of('# ANOMALY-SQRT')}" in msg

    def test_backward_overflow_in_div(self):
        a, b = var([1e-30], dtype=F32), var([1e-30], dtype=F32)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            with fl.detect_anomaly():
                y = a / b                                        # forward is 1.0
                assert y.item() == 1.0
                with pytest.raises(fl.AnomalyError, match="div: backward produced -Inf"):
                    y.backward()

    def test_without_anomaly_mode_no_error(self):
        x = var([0.0, 4.0])
        z = var([0.0, 1.0])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            y = x / z
            assert np.isnan(host(y)[0])
            s = x.sqrt()
            s.sum().backward()
        assert np.isinf(host(x.grad)[0])

    def test_decorator(self):
        @fl.detect_anomaly()
        def f():
            return fl.is_anomaly_enabled()

        assert f() is True and not fl.is_anomaly_enabled()

    def test_freed_graph_names_creation_site(self):
        x = var([1.0])
        with fl.detect_anomaly():
            y = x * 2                                            # ANOMALY-FREED
        y.backward()
        with pytest.raises(fl.AutogradError) as ei:
            y.backward()
        assert f"test_engine.py:{line_of('# ANOMALY-FREED')}" in str(ei.value)


# ------------------------------------------------------------------- leaks


def _mlp_step():
    fl.manual_seed(0)
    W1 = Variable(fl.randn(3, 8), requires_grad=True)
    b1 = Variable(fl.zeros(8), requires_grad=True)
    W2 = Variable(fl.randn(8, 2), requires_grad=True)
    b2 = Variable(fl.zeros(2), requires_grad=True)
    inp = fl.randn(5, 3)
    target = fl.randn(5, 2)
    h = inp @ W1 + b1
    if hasattr(h, "relu"):
        h = h.relu()
    out = h @ W2 + b2
    diff = out - target
    loss = (diff * diff).sum_to(()).mul_scalar(1 / 10)
    inter = weakref.ref(h)
    loss.backward()
    assert W1.grad.shape == (3, 8) and b2.grad.shape == (2,)
    return inter, weakref.ref(out), weakref.ref(loss)


def test_no_leak_after_backward():
    gc.collect()
    gc.disable()
    try:
        t0, n0 = fl.live_tensor_count(), fl.live_node_count()
        refs = _mlp_step()
        # everything built inside is unreachable now, without the cycle collector
        assert all(r() is None for r in refs)
        assert fl.live_tensor_count() == t0
        assert fl.live_node_count() == n0
    finally:
        gc.enable()


def test_graph_freed_by_backward_while_root_alive():
    gc.collect()
    gc.disable()
    try:
        x = var([1.0, 2.0])
        h = x * x
        inter = weakref.ref(h)
        loss = (h * 3).sum()
        del h
        assert inter() is not None            # the graph holds it before backward
        loss.backward()
        assert inter() is None                 # backward released the saved inputs
    finally:
        gc.enable()


def test_no_leak_create_graph():
    gc.collect()
    gc.disable()
    try:
        t0, n0 = fl.live_tensor_count(), fl.live_node_count()

        def step():
            x = var([1.0, 2.0])
            (g,) = fl.grad((x * x * x).sum(), x, create_graph=True)
            (gg,) = fl.grad(g.sum(), x)
            assert gg.tolist() == [6.0, 12.0]
            return weakref.ref(g)

        ref = step()
        assert ref() is None
        assert fl.live_tensor_count() == t0 and fl.live_node_count() == n0
    finally:
        gc.enable()


# ---------------------------------------------------------------- devices


@pytest.mark.skipif(not fl.cuda_available(), reason="needs CUDA to mix devices")
def test_device_mixing_message():
    a = var([1.0, 2.0])
    b = var([1.0, 2.0], fl.Device.CUDA(0))
    with pytest.raises(fl.DeviceError) as ei:
        a + b
    assert str(ei.value) == "add: tensors on different devices: Device.CPU and Device.CUDA(0)"
    with pytest.raises(fl.DeviceError, match="gt: tensors on different devices"):
        fl.ones(2).gt(fl.ones(2, device=fl.Device.CUDA(0)))


@pytest.mark.skipif(fl.cuda_available(), reason="CUDA is available here")
def test_cuda_without_cupy_hint():
    with pytest.raises(fl.DeviceError) as ei:
        fl.zeros(2, device=fl.Device.CUDA(0))
    assert "pip install" in str(ei.value) and "cuda12" in str(ei.value)


@pytest.mark.skipif(not fl.cuda_available(), reason="needs CUDA")
def test_to_device_grad_flows_back():
    x = var([1.0, 2.0])
    y = x.to_device(fl.Device.CUDA(0)) * 3
    assert y.device == fl.Device.CUDA(0)
    y.sum().backward()
    assert x.grad.device == fl.Device.CPU and x.grad.tolist() == [3.0, 3.0]
