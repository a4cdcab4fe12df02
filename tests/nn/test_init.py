"""Initialisers: bounds and moments against the formulas PyTorch documents."""
import math

import numpy as np
import pytest

import flodl_core as fl
from flodl_core.nn import init


def test_calculate_gain_table():
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert init.calculate_gain("conv2d") == 1.0
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        init.calculate_gain("swish")


def test_kaiming_uniform_default_linear_bound():
    fl.manual_seed(1)
    w = init.kaiming_uniform((64, 200), a=math.sqrt(5)).to_numpy()
    bound = 1 / math.sqrt(200)
    assert np.abs(w).max() <= bound
    assert np.abs(w).max() > 0.95 * bound            # actually fills the range
    assert w.std() == pytest.approx(bound / math.sqrt(3), rel=0.05)


def test_kaiming_normal_fan_out_std():
    fl.manual_seed(2)
    w = init.kaiming_normal((300, 20, 3, 3), mode="fan_out", nonlinearity="relu").to_numpy()
    assert w.std() == pytest.approx(math.sqrt(2) / math.sqrt(300 * 9), rel=0.03)


def test_xavier_uniform_and_normal():
    fl.manual_seed(3)
    u = init.xavier_uniform((100, 300), gain=2.0).to_numpy()
    a = 2.0 * math.sqrt(6 / 400)
    assert np.abs(u).max() <= a and u.std() == pytest.approx(a / math.sqrt(3), rel=0.03)
    n = init.xavier_normal((100, 300)).to_numpy()
    assert n.std() == pytest.approx(math.sqrt(2 / 400), rel=0.03)


def test_orthogonal_rows_and_columns():
    for shape in [(4, 6), (6, 4), (3, 2, 2)]:
        q = init.orthogonal(shape, gain=1.5).to_numpy().reshape(shape[0], -1)
        small = q @ q.T if q.shape[0] <= q.shape[1] else q.T @ q
        np.testing.assert_allclose(small, 2.25 * np.eye(small.shape[0]), atol=1e-5)


def test_trunc_normal_is_a_truncated_normal_not_a_clamp():
    fl.manual_seed(4)
    t = init.trunc_normal((40000,), mean=0.0, std=1.0, a=-1.0, b=1.5).to_numpy()
    assert t.min() >= -1.0 and t.max() <= 1.5
    phi = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda z: 0.5 * (1 + math.erf(z / math.sqrt(2)))          # noqa: E731
    mean = (phi(-1.0) - phi(1.5)) / (cdf(1.5) - cdf(-1.0))
    assert t.mean() == pytest.approx(mean, abs=0.02)
    assert np.mean(t == 1.5) < 1e-3                      # no mass piled on the bound


def test_manual_seed_reproduces_draws():
    fl.manual_seed(5)
    a = init.normal((10,)).to_numpy()
    fl.manual_seed(5)
    np.testing.assert_array_equal(a, init.normal((10,)).to_numpy())


def test_in_place_forms_keep_parameter_dtype_and_identity():
    p = fl.nn.Parameter(fl.zeros(3, 5, dtype=fl.DType.Float64))
    assert init.kaiming_uniform_(p, a=math.sqrt(5)) is p
    assert p.dtype == fl.DType.Float64 and np.abs(p.to_numpy()).max() > 0
    init.constant_(p, 0.5)
    assert p.to_numpy().tolist() == [[0.5] * 5] * 3


def test_fans_need_two_dims():
    with pytest.raises(fl.ShapeError, match="at least 2 dims"):
        init.xavier_uniform((5,))
