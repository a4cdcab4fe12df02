"""Resuming training from a checkpoint continues exactly where it stopped, and
optimizer state files restore every optimizer bit for bit."""
import h5py
import numpy as np
import pytest

import flodl_core as fl
from flodl_core import CheckpointError, FlowBuilder
from flodl_core.optim import OPTIMIZERS

TOTAL, SPLIT = 12, 5


def build(device):
    fl.manual_seed(0)
    return (FlowBuilder(fl.Linear(6, 16)).through(fl.BatchNorm1d(16)).through(fl.GELU())
            .tag("hidden").through(fl.Linear(16, 3)).build().move_to_device(device))


def batch(step, device):
    """The data of a step depends on the step only (as a seeded loader would)."""
    rng = np.random.default_rng(1000 + step)
    x = fl.tensor(rng.standard_normal((32, 6)).astype(np.float32), device=device)
    y = fl.tensor(rng.integers(0, 3, 32), device=device)
    return x, y


def make_training(model):
    params = model.parameters()
    opt = (fl.AdamW.with_groups(lr=1e-2, weight_decay=0.05)
           .group(params[:2], lr=3e-3).group(params[2:]).build())
    scaler = fl.GradScaler(init_scale=2.0 ** 10, growth_interval=3)
    sched = fl.WarmupScheduler(fl.CosineScheduler(1e-2, 1e-4, TOTAL), 1e-2, 3)
    return opt, scaler, sched


def train(model, opt, scaler, sched, steps, device):
    for step in steps:
        opt.set_lr(sched.lr(step))
        x, y = batch(step, device)
        loss = fl.cross_entropy_loss(model(x), y)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        opt.zero_grad()


def state(model):
    return {n: v.data.to_numpy().copy() for n, v in model.named_parameters()
            + model.named_buffers()}


def test_full_resume_is_bit_identical_to_an_uninterrupted_run(tmp_path, device):
    ref = build(device)
    opt, scaler, sched = make_training(ref)
    train(ref, opt, scaler, sched, range(TOTAL), device)

    first = build(device)
    opt1, scaler1, sched1 = make_training(first)
    train(first, opt1, scaler1, sched1, range(SPLIT), device)
    first.save_checkpoint(tmp_path / "ckpt.h5", optimizer=opt1, scaler=scaler1,
                          metadata={"step": SPLIT})
    del first, opt1, scaler1

    fl.manual_seed(123)                              # a fresh process would start elsewhere
    resumed = build(device)
    for p in resumed.parameters():                   # make sure the load really overwrites
        p.set_data(fl.zeros(*p.shape, device=device))
    opt2, scaler2, sched2 = make_training(resumed)
    report = resumed.load_checkpoint(tmp_path / "ckpt.h5", strict=True, optimizer=opt2,
                                     scaler=scaler2)
    start = report.metadata["step"]
    assert start == SPLIT
    train(resumed, opt2, scaler2, sched2, range(start, TOTAL), device)

    expected, got = state(ref), state(resumed)
    assert expected.keys() == got.keys()
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)
    assert scaler2.get_scale() == scaler.get_scale()
    sd_ref, sd_got = opt.state_dict(), opt2.state_dict()
    assert sd_ref["param_groups"] == sd_got["param_groups"]
    for i, st in sd_ref["state"].items():
        for key, value in st.items():
            np.testing.assert_array_equal(sd_got["state"][i][key], value)


def test_checkpoint_optimizer_group_is_readable_with_h5py(tmp_path):
    model = build(fl.Device.CPU)
    opt, scaler, sched = make_training(model)
    train(model, opt, scaler, sched, range(2), fl.Device.CPU)
    model.save_checkpoint(tmp_path / "c.h5", optimizer=opt, scaler=scaler)
    with h5py.File(tmp_path / "c.h5", "r") as f:
        g = f["optimizer"]
        assert g.attrs["class"] == "AdamW" and int(g.attrs["param_count"]) == 6
        names = [n.decode() if isinstance(n, bytes) else n for n in g["param_names"][()]]
        assert names == [n for n, _ in model.named_parameters()]
        np.testing.assert_array_equal(g["state"]["0"]["exp_avg"][()],
                                      opt.state_dict()["state"][0]["exp_avg"])
        assert g["grad_scaler"].attrs["scale"] == scaler.get_scale()


def sample_params(seed):
    fl.manual_seed(seed)
    return [fl.nn.Parameter(fl.randn(3, 4)), fl.nn.Parameter(fl.randn(5))]


def step_with(opt, params, seed):
    fl.manual_seed(seed)
    for p in params:
        p.grad = fl.randn(*p.shape)
    opt.step()


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_save_state_then_load_state_continues_identically(tmp_path, name):
    cls = OPTIMIZERS[name]
    extra = {"momentum": 0.9} if name in ("SGD", "RMSprop") else {}
    a = sample_params(0)
    opt_a = cls(a, 0.01, **extra)
    for s in range(3):
        step_with(opt_a, a, s)
    opt_a.save_state(tmp_path / "opt.h5")

    b = [fl.nn.Parameter(p.data) for p in a]
    opt_b = cls(b, 0.5, **extra)                    # other lr: must come from the file
    opt_b.load_state(tmp_path / "opt.h5")
    assert opt_b.lr == opt_a.lr
    for s in range(3, 6):
        step_with(opt_a, a, s)
        step_with(opt_b, b, s)
    for pa, pb in zip(a, b):
        np.testing.assert_array_equal(pa.data.to_numpy(), pb.data.to_numpy())


def test_load_state_refuses_other_optimizers_and_shapes(tmp_path):
    a = sample_params(0)
    opt = fl.Adam(a, 0.01)
    step_with(opt, a, 0)
    opt.save_state(tmp_path / "adam.h5")
    with pytest.raises(CheckpointError, match="saved from Adam, cannot load it into SGD"):
        fl.SGD(sample_params(1), 0.1).load_state(tmp_path / "adam.h5")
    wrong = [fl.nn.Parameter(fl.randn(4, 4)), fl.nn.Parameter(fl.randn(5))]
    target = fl.Adam(wrong, 0.01)
    with pytest.raises(CheckpointError, match="shape"):
        target.load_state(tmp_path / "adam.h5")
    assert target.state_dict()["state"] == {}


def test_load_state_reads_the_optimizer_from_a_full_checkpoint(tmp_path):
    model = build(fl.Device.CPU)
    opt, scaler, sched = make_training(model)
    train(model, opt, scaler, sched, range(2), fl.Device.CPU)
    model.save_checkpoint(tmp_path / "c.h5", optimizer=opt)
    other = make_training(build(fl.Device.CPU))[0]
    other.load_state(tmp_path / "c.h5")
    assert other.state_dict()["state"].keys() == opt.state_dict()["state"].keys()


def test_checkpoint_without_optimizer_state_is_refused_when_one_is_asked_for(tmp_path):
    model = build(fl.Device.CPU)
    model.save_checkpoint(tmp_path / "plain.h5")
    opt = make_training(model)[0]
    with pytest.raises(CheckpointError, match="holds no optimizer state"):
        model.load_checkpoint(tmp_path / "plain.h5", optimizer=opt)


def test_optimizer_saved_for_other_parameter_names_is_refused(tmp_path):
    model = build(fl.Device.CPU)
    opt, scaler, sched = make_training(model)
    train(model, opt, scaler, sched, range(1), fl.Device.CPU)
    model.save_checkpoint(tmp_path / "c.h5", optimizer=opt)
    params = model.parameters()
    swapped = (fl.AdamW.with_groups(lr=1e-2, weight_decay=0.05)   # same shapes per group?
               .group(params[2:4], lr=3e-3).group(params[:2] + params[4:]).build())
    before = {n: v.copy() for n, v in state(model).items()}
    with pytest.raises(CheckpointError):
        model.load_checkpoint(tmp_path / "c.h5", optimizer=swapped)
    for n, v in state(model).items():
        np.testing.assert_array_equal(v, before[n])


def test_loading_weights_mid_training_reaches_the_master_copies(tmp_path):
    """With master weights, a model-only load after some steps must not be undone
    by the optimizer's stale float32 copies at the next step."""
    fl.manual_seed(0)
    p = fl.nn.Parameter(fl.ones(8, dtype=fl.DType.Float16))
    opt = fl.SGD([p], 1e-3, master_weights=True)
    for _ in range(3):
        p.grad = fl.ones(8, dtype=fl.DType.Float16)
        opt.step()
    fl.io.save_checkpoint(tmp_path / "zeros.h5", [("p", np.zeros(8, np.float16))])
    fl.io.load_checkpoint(tmp_path / "zeros.h5", [("p", p)])
    p.grad = fl.ones(8, dtype=fl.DType.Float16)
    opt.step()
    np.testing.assert_allclose(p.data.to_numpy().astype(np.float32), -1e-3, rtol=1e-2)


def test_loaded_master_copies_win_over_rounded_parameters(tmp_path):
    """A full resume restores the float32 master copies; the half-precision
    parameter loaded beside them must not overwrite them."""
    def run(steps, p, opt):
        for _ in range(steps):
            p.grad = fl.full([4], 1.0, dtype=fl.DType.Float16)
            opt.step()
    ref = fl.nn.Parameter(fl.ones(4, dtype=fl.DType.Float16))
    ref_opt = fl.SGD([ref], 1e-4, master_weights=True)
    run(6, ref, ref_opt)

    a = fl.nn.Parameter(fl.ones(4, dtype=fl.DType.Float16))
    opt_a = fl.SGD([a], 1e-4, master_weights=True)
    run(3, a, opt_a)
    fl.io.save_checkpoint(tmp_path / "c.h5", [("a", a)], optimizer=opt_a)
    b = fl.nn.Parameter(fl.ones(4, dtype=fl.DType.Float16))
    opt_b = fl.SGD([b], 1e-4, master_weights=True)
    run(1, b, opt_b)
    fl.io.load_checkpoint(tmp_path / "c.h5", [("a", b)], optimizer=opt_b)
    run(3, b, opt_b)
    np.testing.assert_array_equal(b.data.to_numpy(), ref.data.to_numpy())
    assert ref.data.to_numpy()[0] != np.float16(1.0)     # updates survived via the master
