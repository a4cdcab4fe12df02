"""Property-based checks (hypothesis): broadcasting gradients against NumPy
references, shape-op round trips, and gradcheck of random compositions."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import flodl_core as fl

@st.composite
def broadcast_pair(draw):
    """Two shapes that broadcast: drop leading dims and set some dims to 1."""
    ndim = draw(st.integers(0, 3))
    shape = draw(st.lists(st.integers(1, 3), min_size=ndim, max_size=ndim))

    def variant():
        lead = draw(st.integers(0, len(shape)))
        dims = shape[lead:]
        return tuple(1 if draw(st.booleans()) else d for d in dims)

    return variant(), variant()


def _sum_to_ref(g, shape):
    """Independent unbroadcast: sum leading dims, then dims that were 1."""
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for i, s in enumerate(shape):
        if s == 1 and g.shape[i] != 1:
            g = g.sum(axis=i, keepdims=True)
    return g


def _var(a):
    return fl.Variable(fl.from_numpy(a), requires_grad=True)


@settings(max_examples=60, deadline=None)
@given(broadcast_pair(), st.sampled_from(["add", "sub", "mul", "div"]), st.integers(0, 2**31))
def test_binary_broadcast_grads_match_numpy(shapes, op, seed):
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.5, 2.0, shapes[0])
    b = rng.uniform(0.5, 2.0, shapes[1])
    va, vb = _var(a), _var(b)
    out = getattr(va, op)(vb)
    expected = {"add": a + b, "sub": a - b, "mul": a * b, "div": a / b}[op]
    np.testing.assert_allclose(out.to_numpy(), expected, rtol=1e-12)
    gy = rng.standard_normal(np.shape(expected))
    out.backward(fl.from_numpy(np.asarray(gy)))
    ga, gb = {"add": (gy, gy), "sub": (gy, -gy), "mul": (gy * b, gy * a),
              "div": (gy / b, -gy * a / b ** 2)}[op]
    np.testing.assert_allclose(va.grad.to_numpy(), _sum_to_ref(np.asarray(ga), a.shape), rtol=1e-10)
    np.testing.assert_allclose(vb.grad.to_numpy(), _sum_to_ref(np.asarray(gb), b.shape), rtol=1e-10)
    assert va.grad.shape == a.shape and vb.grad.shape == b.shape


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=1, max_size=4), st.randoms(use_true_random=False))
def test_permute_then_inverse_is_identity_and_grad_follows(shape, rnd):
    dims = list(range(len(shape)))
    rnd.shuffle(dims)
    x = np.arange(np.prod(shape), dtype=np.float64).reshape(shape)
    vx = _var(x)
    y = vx.permute(*dims)
    np.testing.assert_array_equal(y.to_numpy(), np.transpose(x, dims))
    inverse = np.argsort(dims).tolist()
    np.testing.assert_array_equal(y.permute(*inverse).to_numpy(), x)
    w = np.random.default_rng(len(shape)).standard_normal(y.shape)
    (y * fl.from_numpy(w)).sum().backward()
    np.testing.assert_array_equal(vx.grad.to_numpy(), np.transpose(w, inverse))


# Each step keeps values bounded (|v| grows at most to e), so chains never overflow.
UNARY = {
    "exp": lambda v: v.tanh().exp(), "tanh": lambda v: v.tanh(), "sigmoid": lambda v: v.sigmoid(),
    "sin": lambda v: v.sin(), "square": lambda v: v * v.tanh(), "scale": lambda v: v.mul_scalar(0.7),
    "softmax": lambda v: v.softmax(-1), "shift": lambda v: v.add_scalar(0.3),
}


@settings(max_examples=30, deadline=None)
@given(st.lists(st.sampled_from(sorted(UNARY)), min_size=1, max_size=5),
       st.tuples(st.integers(1, 3), st.integers(1, 3)), st.integers(0, 2**31))
def test_random_compositions_pass_gradcheck_and_gradgradcheck(chain, shape, seed):
    rng = np.random.default_rng(seed)
    x = fl.Variable(fl.from_numpy(rng.uniform(-1.0, 1.0, shape)), requires_grad=True)
    w = fl.from_numpy(rng.standard_normal(shape))

    def fn(v):
        for name in chain:
            v = UNARY[name](v)
        return (v * w).sum()

    assert fl.gradcheck(fn, [x])
    assert fl.gradgradcheck(fn, [x])
