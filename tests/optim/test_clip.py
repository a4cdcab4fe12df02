"""Gradient clipping by total norm and by value, against the written-out formulas."""
import math

import numpy as np
import pytest

import flodl_core as fl


def _params_with_grads(grads, device=fl.Device.CPU):
    params = []
    for g in grads:
        g = np.asarray(g, np.float32)
        p = fl.nn.Parameter(fl.zeros(*g.shape, device=device))
        p.grad = fl.tensor(g, device=device)
        params.append(p)
    return params


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
def test_clip_grad_norm_scales_to_max_norm(norm_type, device):
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(s).astype(np.float32) for s in [(4, 5), (7,), (2, 3, 2)]]
    flat = np.concatenate([g.ravel() for g in grads]).astype(np.float64)
    expected_total = (np.abs(flat).max() if norm_type == math.inf
                      else (np.abs(flat) ** norm_type).sum() ** (1 / norm_type))
    params = _params_with_grads(grads, device)
    total = fl.clip_grad_norm(params, 0.5, norm_type=norm_type)
    assert isinstance(total, float)
    assert total == pytest.approx(expected_total, rel=1e-5)
    coef = 0.5 / (expected_total + 1e-6)
    for p, g in zip(params, grads):
        np.testing.assert_allclose(p.grad.to_numpy(), g * coef, rtol=1e-5)


def test_clip_grad_norm_leaves_small_gradients_alone():
    params = _params_with_grads([[0.3, -0.4]])
    assert fl.clip_grad_norm(params, 1.0) == pytest.approx(0.5)
    np.testing.assert_array_equal(params[0].grad.to_numpy(), np.float32([0.3, -0.4]))


def test_clip_grad_norm_over_a_module_and_skips_missing_grads():
    model = fl.Linear(3, 2)
    model.weight.grad = fl.tensor(np.full((2, 3), 2.0, np.float32))
    total = fl.clip_grad_norm(model, 1.0)
    assert total == pytest.approx(math.sqrt(6 * 4.0))
    assert model.bias.grad is None
    assert fl.clip_grad_norm([], 1.0) == 0.0


def test_clip_grad_norm_replaces_shared_gradients_instead_of_scaling_twice():
    shared = fl.tensor(np.float32([3.0, 4.0]))
    a, b = fl.nn.Parameter(fl.zeros(2)), fl.nn.Parameter(fl.zeros(2))
    a.grad = shared
    b.grad = shared
    total = fl.clip_grad_norm([a, b], 1.0)
    assert total == pytest.approx(math.sqrt(50))
    coef = 1.0 / (math.sqrt(50) + 1e-6)
    for p in (a, b):
        np.testing.assert_allclose(p.grad.to_numpy(), np.float32([3, 4]) * coef, rtol=1e-6)
    np.testing.assert_array_equal(shared.to_numpy(), np.float32([3.0, 4.0]))


def test_nonfinite_total_norm_raises_when_asked_and_leaves_grads():
    params = _params_with_grads([[1.0, np.inf], [2.0]])
    with pytest.raises(ValueError, match="inf"):
        fl.clip_grad_norm(params, 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(params[1].grad.to_numpy(), np.float32([2.0]))


def test_nonfinite_total_norm_without_error_follows_pytorch():
    # coef = max_norm / (inf + eps) = 0: finite grads become 0, inf * 0 is NaN.
    params = _params_with_grads([[1.0, np.inf], [2.0]])
    with np.errstate(invalid="ignore"):
        total = fl.clip_grad_norm(params, 1.0)
    assert total == math.inf
    g0 = params[0].grad.to_numpy()
    assert g0[0] == 0.0 and math.isnan(g0[1])
    np.testing.assert_array_equal(params[1].grad.to_numpy(), np.float32([0.0]))
    # A NaN anywhere makes the total NaN and every gradient NaN.
    params = _params_with_grads([[1.0, np.nan], [2.0]])
    assert math.isnan(fl.clip_grad_norm(params, 1.0))
    assert np.isnan(params[1].grad.to_numpy()).all()


def test_clip_grad_norm_half_precision_grads_accumulate_in_float32():
    p = fl.nn.Parameter(fl.zeros(1000, dtype=fl.DType.Float16))
    p.grad = fl.tensor(np.full(1000, 300.0, np.float16))   # sum of squares overflows f16
    total = fl.clip_grad_norm([p], 1.0)
    assert total == pytest.approx(300.0 * math.sqrt(1000), rel=1e-3)
    assert p.grad.dtype == fl.DType.Float16


def test_bad_arguments():
    params = _params_with_grads([[1.0]])
    with pytest.raises(ValueError, match="norm_type"):
        fl.clip_grad_norm(params, 1.0, norm_type=-1)
    with pytest.raises(ValueError, match="max_norm"):
        fl.clip_grad_norm(params, -1.0)
    with pytest.raises(ValueError, match="clip_value"):
        fl.clip_grad_value(params, -0.5)


def test_clip_grad_value_clamps_and_returns_the_largest_magnitude(device):
    params = _params_with_grads([[10.0, -5.0, 0.5], [-0.2]], device)
    largest = fl.clip_grad_value(params, 2.0)
    assert largest == 10.0
    np.testing.assert_array_equal(params[0].grad.to_numpy(), np.float32([2.0, -2.0, 0.5]))
    np.testing.assert_array_equal(params[1].grad.to_numpy(), np.float32([-0.2]))


def test_clip_grad_value_without_grads_and_with_nan():
    p = fl.nn.Parameter(fl.zeros(2))
    assert fl.clip_grad_value([p], 1.0) == 0.0
    params = _params_with_grads([[np.nan, 3.0]])
    assert math.isnan(fl.clip_grad_value(params, 1.0))
    g = params[0].grad.to_numpy()
    assert math.isnan(g[0]) and g[1] == 1.0
