"""GradScaler: scaling, unscaling, skipping on Inf/NaN, growth and backoff, state."""
import numpy as np
import pytest

import flodl_core as fl


def _param(values, dtype=np.float32):
    return fl.nn.Parameter(fl.tensor(np.asarray(values, dtype)))


def test_scale_multiplies_the_loss_and_its_gradients():
    p = _param([1.0, 2.0])
    scaler = fl.GradScaler(init_scale=1024.0)
    loss = (p * p).sum()
    scaled = scaler.scale(loss)
    assert scaled.item() == 5.0 * 1024
    scaled.backward()
    np.testing.assert_array_equal(p.grad.to_numpy(), np.float32([2.0, 4.0]) * 1024)


def test_step_unscales_then_steps():
    p = _param([1.0, 2.0])
    opt = fl.SGD([p], 0.1)
    scaler = fl.GradScaler(init_scale=256.0)
    scaler.scale((p * p).sum()).backward()
    assert scaler.step(opt) is True
    np.testing.assert_allclose(p.to_numpy(), [1.0 - 0.2, 2.0 - 0.4], rtol=1e-6)
    scaler.update()


def test_unscale_before_clipping_then_step_does_not_unscale_twice():
    p = _param([3.0, 4.0])
    opt = fl.SGD([p], 1.0)
    scaler = fl.GradScaler(init_scale=8.0)
    p.grad = fl.tensor(np.float32([3.0, 4.0]) * 8)
    scaler.unscale(opt)
    np.testing.assert_array_equal(p.grad.to_numpy(), np.float32([3.0, 4.0]))
    total = fl.clip_grad_norm([p], 1.0)
    assert total == pytest.approx(5.0)
    assert scaler.step(opt)
    np.testing.assert_allclose(p.to_numpy(), [3.0 - 0.6, 4.0 - 0.8], rtol=1e-5)
    with pytest.raises(RuntimeError, match="already"):
        scaler.step(opt)
    scaler.update()


def test_unscale_twice_is_an_error():
    p = _param([1.0])
    opt = fl.SGD([p], 0.1)
    scaler = fl.GradScaler()
    p.grad = fl.tensor(np.float32([1.0]))
    scaler.unscale(opt)
    with pytest.raises(RuntimeError, match="already"):
        scaler.unscale(opt)


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_injected_nonfinite_skips_the_step_and_backs_off_then_recovers(bad):
    p = _param([1.0, 2.0])
    opt = fl.Adam([p], 0.1)
    scaler = fl.GradScaler(init_scale=1024.0, growth_interval=3)
    p.grad = fl.tensor(np.float32([bad, 1.0]))
    before = p.to_numpy().copy()
    assert scaler.step(opt) is False
    np.testing.assert_array_equal(p.to_numpy(), before)
    assert opt.state_dict()["state"] == {}            # the optimizer never ran
    scaler.update()
    assert scaler.scale_factor == 512.0
    # Recovery: clean steps step, and after growth_interval of them the scale grows.
    for i in range(3):
        p.grad = fl.tensor(np.float32([1.0, 1.0]) * scaler.scale_factor)
        assert scaler.step(opt) is True
        scaler.update()
    assert scaler.scale_factor == 1024.0
    assert not np.array_equal(p.to_numpy(), before)


def test_growth_resets_after_an_overflow():
    p = _param([1.0])
    opt = fl.SGD([p], 0.0)
    scaler = fl.GradScaler(init_scale=4.0, growth_factor=3.0, backoff_factor=0.25,
                           growth_interval=2)
    pattern = [1.0, np.inf, 1.0, 1.0, 1.0]     # ok, overflow, ok, ok (grow), ok
    scales = []
    for v in pattern:
        p.grad = fl.tensor(np.float32([v]))
        scaler.step(opt)
        scaler.update()
        scales.append(scaler.scale_factor)
    assert scales == [4.0, 1.0, 1.0, 3.0, 3.0]


def test_float16_gradients_are_unscaled_in_float32():
    p = _param([1.0], np.float16)
    opt = fl.SGD([p], 0.0)
    scaler = fl.GradScaler(init_scale=65536.0)
    p.grad = fl.tensor(np.float16([60000.0]))        # 0.9155... after unscaling
    scaler.unscale(opt)
    assert p.grad.dtype == fl.DType.Float16
    assert p.grad.to_numpy()[0] == np.float16(np.float32(60000.0) / np.float32(65536.0))


def test_float16_training_with_scaler_makes_progress():
    rng = np.random.default_rng(0)
    fl.manual_seed(0)
    x = fl.tensor(rng.standard_normal((64, 4)).astype(np.float16))
    y = fl.tensor((rng.standard_normal((64, 1)) * 0.1).astype(np.float16))
    model = fl.Linear(4, 1)
    fl.cast_parameters(model, fl.DType.Float16)
    opt = fl.SGD(model.parameters(), 0.05, master_weights=True)
    scaler = fl.GradScaler()
    losses = []
    # The first steps overflow float16 on purpose (scale 65536): silence NumPy.
    with np.errstate(over="ignore", invalid="ignore"):
        _train(model, opt, scaler, x, y, losses)
    assert losses[-1] < 0.5 * losses[0]
    assert model.weight.dtype == fl.DType.Float16


def _train(model, opt, scaler, x, y, losses):
    for _ in range(40):
        opt.zero_grad()
        loss = fl.mse_loss(model(x), y)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        losses.append(float(loss.item()))


def test_state_dict_round_trip_and_disabled_scaler():
    scaler = fl.GradScaler(init_scale=8.0, growth_interval=5)
    p = _param([1.0])
    opt = fl.SGD([p], 0.1)
    for _ in range(2):
        p.grad = fl.tensor(np.float32([1.0]))
        scaler.step(opt)
        scaler.update()
    sd = scaler.state_dict()
    assert sd == {"scale": 8.0, "growth_factor": 2.0, "backoff_factor": 0.5,
                  "growth_interval": 5, "_growth_tracker": 2}
    other = fl.GradScaler()
    other.load_state_dict(sd)
    assert other.state_dict() == sd
    with pytest.raises(ValueError, match="missing key"):
        other.load_state_dict({"scale": 2.0})

    off = fl.GradScaler(enabled=False)
    loss = (p * 1.0).sum()
    assert off.scale(loss) is loss and off.scale_factor == 1.0
    p.grad = fl.tensor(np.float32([np.inf]))
    assert off.step(opt) is True                       # no checking when disabled
    assert off.state_dict() == {}


@pytest.mark.parametrize("kwargs, match", [
    (dict(init_scale=0.0), "init_scale"), (dict(growth_factor=1.0), "growth_factor"),
    (dict(backoff_factor=1.5), "backoff_factor"), (dict(growth_interval=0), "growth_interval"),
])
def test_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        fl.GradScaler(**kwargs)


def test_cast_parameters_casts_in_place_and_drops_grads():
    model = fl.Linear(3, 2)
    w = model.weight
    w.grad = fl.tensor(np.ones((2, 3), np.float32))
    fl.cast_parameters(model.parameters(), fl.DType.BFloat16)
    assert model.weight is w and w.dtype == fl.DType.BFloat16 and w.grad is None
    assert model.bias.dtype == fl.DType.BFloat16
    with pytest.raises(fl.DTypeError, match="floating"):
        fl.cast_parameters(model, fl.DType.Int64)
