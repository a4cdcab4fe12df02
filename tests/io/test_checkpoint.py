"""Checkpoints: the file layout (read back with plain h5py), round trips, the load
report, strict and partial loads, structural-hash validation, sub-graph loads."""
import io

import h5py
import ml_dtypes
import numpy as np
import pytest

import flodl_core as fl
from flodl_core import CheckpointError, FlowBuilder
from flodl_core.io import (checkpoint_info, checkpoint_keys, checkpoint_version,
                           load_checkpoint, save_checkpoint)


class Net(fl.nn.Module):
    def __init__(self, hidden=5):
        super().__init__()
        self.fc = fl.Linear(4, hidden)
        self.bn = fl.BatchNorm1d(hidden)
        self.out = fl.Linear(hidden, 2)

    def forward(self, x):
        return self.out(self.bn(self.fc(x)).relu())


def host(v):
    return v.data.to_numpy() if hasattr(v, "data") else np.asarray(v)


def make_net(seed, hidden=5, device=fl.Device.CPU):
    fl.manual_seed(seed)
    net = Net(hidden).move_to_device(device)
    # give the batch-norm buffers non-default values
    net.train()
    net(fl.randn(16, 4, device=device))
    return net


def snapshot(model):
    return {n: host(v).copy() for n, v in model.named_parameters() + model.named_buffers()}


def assert_same(a: dict, b: dict):
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype, k
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


# --------------------------------------------------------------------------- layout
def test_file_layout_is_plain_hdf5(tmp_path):
    net = make_net(0)
    path = tmp_path / "net.fdl.h5"
    net.save_checkpoint(path, metadata={"epoch": 3})
    with h5py.File(path, "r") as f:
        assert f.attrs["format"] == "flodl_core.checkpoint"
        assert int(f.attrs["format_version"]) == 1
        assert f.attrs["framework_version"] == fl.__version__
        assert f.attrs["structural_hash"] == ""          # a plain Module has none
        assert f.attrs["created"].endswith("+00:00")
        assert list(f["parameters"]) == ["fc.weight", "fc.bias", "bn.weight", "bn.bias",
                                         "out.weight", "out.bias"]
        assert list(f["buffers"]) == ["bn.running_mean", "bn.running_var",
                                      "bn.num_batches_tracked"]
        np.testing.assert_array_equal(f["parameters"]["fc.weight"][()], host(net.fc.weight))
        assert f["parameters"]["fc.weight"].attrs["dtype"] == "float32"
        assert f["buffers"]["bn.num_batches_tracked"].shape == ()
        assert f["buffers"]["bn.num_batches_tracked"][()] == 1
        assert "optimizer" not in f
    assert checkpoint_version(path) == 1
    assert checkpoint_keys(path)[:2] == ["fc.weight", "fc.bias"]
    info = checkpoint_info(path)
    assert info["metadata"] == {"epoch": 3} and info["entries"]["out.weight"] == ((2, 5),
                                                                                  "float32")


def test_bfloat16_is_stored_losslessly_with_its_dtype(tmp_path):
    net = make_net(1).to_dtype(fl.DType.BFloat16)
    path = tmp_path / "bf16.h5"
    net.save_checkpoint(path)
    with h5py.File(path, "r") as f:
        ds = f["parameters"]["fc.weight"]
        assert ds.attrs["dtype"] == "bfloat16" and ds.dtype == np.uint16
        bits = ds[()]
    np.testing.assert_array_equal(bits, host(net.fc.weight).view(np.uint16))
    other = make_net(2).to_dtype(fl.DType.BFloat16)
    other.load_checkpoint(path, strict=True)
    assert host(other.fc.weight).dtype == ml_dtypes.bfloat16
    assert_same(snapshot(net), snapshot(other))


def test_names_with_slashes_round_trip(tmp_path):
    w = fl.nn.Parameter(fl.randn(2, 3))
    save_checkpoint(tmp_path / "s.h5", [("a/b%c.weight", w)], [])
    with h5py.File(tmp_path / "s.h5", "r") as f:
        (key,) = list(f["parameters"])
        assert "/" not in key and f["parameters"][key].attrs["name"] == "a/b%c.weight"
    assert checkpoint_keys(tmp_path / "s.h5") == ["a/b%c.weight"]
    w2 = fl.nn.Parameter(fl.zeros(2, 3))
    load_checkpoint(tmp_path / "s.h5", [("a/b%c.weight", w2)], [])
    np.testing.assert_array_equal(host(w2), host(w))


def test_compression_shrinks_redundant_data_and_round_trips(tmp_path):
    big = fl.nn.Parameter(fl.zeros(256, 256))
    save_checkpoint(tmp_path / "raw.h5", [("w", big)])
    save_checkpoint(tmp_path / "gz.h5", [("w", big)], compress=True)
    assert (tmp_path / "gz.h5").stat().st_size < (tmp_path / "raw.h5").stat().st_size / 10
    with h5py.File(tmp_path / "gz.h5", "r") as f:
        assert f["parameters"]["w"].compression == "gzip"
    net, other = make_net(3), make_net(4)
    net.save_checkpoint(tmp_path / "net.h5", compress=True)
    other.load_checkpoint(tmp_path / "net.h5", strict=True)
    assert_same(snapshot(net), snapshot(other))


# --------------------------------------------------------------------------- round trips
def test_round_trip_restores_every_parameter_and_buffer(tmp_path, device):
    net, other = make_net(0, device=device), make_net(1, device=device)
    before = snapshot(net)
    net.save_checkpoint(tmp_path / "n.h5")
    report = other.load_checkpoint(tmp_path / "n.h5", strict=True)
    assert report.loaded == list(before) and not (report.skipped or report.missing
                                                   or report.mismatched)
    assert_same(before, snapshot(other))
    for _, p in other.named_parameters():
        assert p.device == device
    x = fl.randn(3, 4, device=device)
    net.eval(), other.eval()
    np.testing.assert_array_equal(host(net(x)), host(other(x)))


def test_loads_cast_floating_entries_to_the_parameter_dtype(tmp_path):
    net = make_net(0)
    net.save_checkpoint(tmp_path / "f32.h5")
    wide = make_net(1).to_dtype(fl.DType.Float64)
    wide.load_checkpoint(tmp_path / "f32.h5", strict=True)
    assert host(wide.fc.weight).dtype == np.float64
    np.testing.assert_array_equal(host(wide.fc.weight), host(net.fc.weight).astype(np.float64))


def test_file_objects_work_for_save_and_load():
    net, other = make_net(0), make_net(1)
    buf = io.BytesIO()
    net.save_checkpoint(buf)
    assert buf.getvalue()[:8] == b"\x89HDF\r\n\x1a\n"
    buf.seek(0)
    other.load_checkpoint(buf, strict=True)
    assert_same(snapshot(net), snapshot(other))


def test_free_functions_take_named_lists_and_dicts(tmp_path):
    net, other = make_net(0), make_net(1)
    save_checkpoint(tmp_path / "f.h5", dict(net.named_parameters()), net.named_buffers(),
                    structural_hash=None)
    report = load_checkpoint(tmp_path / "f.h5", other.named_parameters(),
                             other.named_buffers())
    assert len(report.loaded) == 9
    assert_same(snapshot(net), snapshot(other))
    with pytest.raises(TypeError, match="named_parameters"):
        save_checkpoint(tmp_path / "g.h5", [net.fc.weight])
    with pytest.raises(CheckpointError, match="duplicate name 'w'"):
        save_checkpoint(tmp_path / "g.h5", [("w", net.fc.weight), ("w", net.fc.bias)])


# --------------------------------------------------------------------------- report
def test_partial_file_reports_loaded_skipped_missing_mismatched(tmp_path):
    src = make_net(0, hidden=5)
    dst = make_net(1, hidden=7)        # fc/bn/out shapes differ, names equal
    extra = fl.nn.Parameter(fl.ones(3))
    save_checkpoint(tmp_path / "p.h5",
                    [("fc.weight", src.fc.weight), ("extra", extra),
                     ("out.bias", src.out.bias)], [])
    before = snapshot(dst)
    report = dst.load_checkpoint(tmp_path / "p.h5")
    assert report.loaded == ["out.bias"]
    assert report.skipped == ["extra"] and report.unexpected == ["extra"]
    assert report.mismatched == [("fc.weight", (5, 4), (7, 4))]
    assert set(report.missing) == set(before) - {"fc.weight", "out.bias"}
    after = snapshot(dst)
    np.testing.assert_array_equal(after["out.bias"], host(src.out.bias))
    np.testing.assert_array_equal(after["fc.weight"], before["fc.weight"])   # not loaded
    assert "skipped" in str(report) and "fc.weight: given (5, 4), expected (7, 4)" in str(report)


@pytest.mark.parametrize("case", ["skipped", "missing", "mismatched"])
def test_strict_refuses_and_changes_nothing(tmp_path, case):
    net = make_net(0)
    target = make_net(1, hidden=6 if case == "mismatched" else 5)
    named = net.named_parameters()
    if case == "skipped":
        named = named + [("ghost", fl.nn.Parameter(fl.ones(2)))]
    elif case == "missing":
        named = named[:-1]
    save_checkpoint(tmp_path / "s.h5", named, net.named_buffers())
    before = snapshot(target)
    with pytest.raises(CheckpointError, match="strict load refused"):
        target.load_checkpoint(tmp_path / "s.h5", strict=True)
    assert_same(before, snapshot(target))


def test_non_persistent_buffers_are_not_saved(tmp_path):
    net = make_net(0)
    net.scratch = fl.nn.Buffer(fl.ones(3), persistent=False)
    net.save_checkpoint(tmp_path / "n.h5")
    assert "scratch" not in checkpoint_keys(tmp_path / "n.h5")


# --------------------------------------------------------------------------- graphs
def encoder(width=8):
    return (FlowBuilder(fl.Linear(4, width)).through(fl.GELU()).tag("hidden")
            .through(fl.Linear(width, 3)).label("encoder").build())


def test_graph_checkpoint_records_and_checks_the_structural_hash(tmp_path):
    fl.manual_seed(0)
    g = encoder()
    g.save_checkpoint(tmp_path / "g.h5")
    with h5py.File(tmp_path / "g.h5", "r") as f:
        assert f.attrs["structural_hash"] == g.structural_hash()
    fl.manual_seed(1)
    same = encoder()
    same.load_checkpoint(tmp_path / "g.h5", strict=True)
    assert_same(snapshot(g), snapshot(same))

    fl.manual_seed(2)
    wider = encoder(width=16)
    before = snapshot(wider)
    with pytest.raises(CheckpointError) as e:
        wider.load_checkpoint(tmp_path / "g.h5")
    msg = str(e.value)
    assert g.structural_hash() in msg and wider.structural_hash() in msg
    assert "partial=True" in msg
    assert_same(before, snapshot(wider))

    report = wider.load_checkpoint(tmp_path / "g.h5", partial=True)
    assert {n for n, *_ in report.mismatched} == {"linear_0.weight", "linear_0.bias",
                                                 "linear_2.weight"}
    assert report.loaded == ["linear_2.bias"]
    np.testing.assert_array_equal(host(dict(wider.named_parameters())["linear_2.bias"]),
                                  host(dict(g.named_parameters())["linear_2.bias"]))


def test_load_subgraph_checkpoint_uses_the_child_names_and_hash(tmp_path):
    fl.manual_seed(0)
    standalone = encoder()
    standalone.save_checkpoint(tmp_path / "enc.h5")
    fl.manual_seed(1)
    model = FlowBuilder(encoder()).through(fl.Linear(3, 2)).build()
    head_before = host(dict(model.named_parameters())["linear_1.weight"]).copy()
    report = model.load_subgraph_checkpoint("encoder", tmp_path / "enc.h5", strict=True)
    assert report.loaded == [n for n, _ in standalone.named_parameters()]
    child = model.subgraph("encoder")
    assert_same(snapshot(standalone), snapshot(child))
    np.testing.assert_array_equal(host(dict(model.named_parameters())["linear_1.weight"]),
                                  head_before)

    fl.manual_seed(2)
    other = FlowBuilder(encoder(width=16)).through(fl.Linear(3, 2)).build()
    with pytest.raises(CheckpointError, match="different architecture"):
        other.load_subgraph_checkpoint("encoder", tmp_path / "enc.h5")


def test_a_whole_graph_file_is_not_a_subgraph_file(tmp_path):
    fl.manual_seed(0)
    model = FlowBuilder(encoder()).through(fl.Linear(3, 2)).build()
    model.save_checkpoint(tmp_path / "whole.h5")
    with pytest.raises(CheckpointError, match="different architecture"):
        model.load_subgraph_checkpoint("encoder", tmp_path / "whole.h5")
