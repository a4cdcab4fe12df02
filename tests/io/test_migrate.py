"""migrate_checkpoint_file: renaming a checkpoint's entries onto a refactored model.

Expected values come from the source file read with plain h5py (never through
flodl_core's reader) or from arrays the test wrote itself.
"""
import json

import h5py
import numpy as np
import pytest

import flodl_core as fl
from flodl_core import CheckpointError, FlowBuilder, MigrateReport, migrate_checkpoint_file


# --------------------------------------------------------------------------- helpers
class Plain(fl.Module):
    """Two Linears directly on the module: ``fc.*`` and ``head.*``."""

    def __init__(self):
        super().__init__()
        self.fc = fl.Linear(4, 3)
        self.head = fl.Linear(3, 2)


class Block(fl.Module):
    def __init__(self):
        super().__init__()
        self.fc = fl.Linear(4, 3)


class Wrapped(fl.Module):
    """The same layers after a refactor: ``fc`` moved into ``block``."""

    def __init__(self):
        super().__init__()
        self.block = Block()
        self.head = fl.Linear(3, 2)


def graph(first_tag, second_tag):
    return (FlowBuilder(fl.Linear(4, 3)).tag(first_tag).through(fl.ReLU())
            .through(fl.Linear(3, 2)).tag(second_tag).build())


def h5_entries(path):
    """{name: array} of a checkpoint file read with h5py alone (float32/64 only here)."""
    out = {}
    with h5py.File(path, "r") as f:
        for section in ("parameters", "buffers"):
            for key, ds in f[section].items():
                assert ds.attrs["dtype"] == ds.dtype.name
                out[ds.attrs["name"]] = ds[()]
    return out


def h5_root_attrs(path):
    with h5py.File(path, "r") as f:
        return {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}


def write_entries(path, params, buffers=(), metadata=None):
    fl.save_checkpoint(path, list(params), list(buffers), metadata=metadata)


def arrays(model):
    return {n: p.to_numpy().copy() for n, p in model.named_parameters()}


# --------------------------------------------------------------------------- exact names
def test_exact_names_are_unchanged(tmp_path):
    src, dst = tmp_path / "a.h5", tmp_path / "b.h5"
    fl.manual_seed(0)
    model = Plain()
    model.save_checkpoint(src)
    report = migrate_checkpoint_file(src, dst, model.named_parameters())
    assert report.unchanged == ["fc.weight", "fc.bias", "head.weight", "head.bias"]
    assert report.remapped == [] and report.dropped == [] and report.missing == []
    assert report.ambiguous == []
    assert report.is_complete()
    got, want = h5_entries(dst), h5_entries(src)
    assert list(got) == list(want)
    for name in want:
        np.testing.assert_array_equal(got[name], want[name])


def test_exact_name_wins_over_equal_shapes(tmp_path):
    # Two (5, 5) entries: shape alone is ambiguous, but names decide first.
    src, dst = tmp_path / "a.h5", tmp_path / "b.h5"
    a = np.arange(25, dtype=np.float32).reshape(5, 5)
    b = -a
    write_entries(src, [("p", a), ("q", b)])
    model = fl.ModuleDict({"x": fl.Linear(5, 5, bias=False)})   # named "x.weight"
    names = [("q", model.x.weight)]
    report = migrate_checkpoint_file(src, dst, names)
    assert report.unchanged == ["q"]
    assert report.dropped == ["p"]
    np.testing.assert_array_equal(h5_entries(dst)["q"], b)


# --------------------------------------------------------------------------- renames
def test_linear_wrapped_in_submodule_is_remapped(tmp_path, device):
    src, dst = tmp_path / "old.h5", tmp_path / "new.h5"
    fl.manual_seed(1)
    old = Plain()
    old.save_checkpoint(src)
    source = h5_entries(src)

    fl.manual_seed(2)
    new = Wrapped().move_to_device(device)
    report = migrate_checkpoint_file(src, dst, new.named_parameters(), new.named_buffers())
    assert report.unchanged == ["head.weight", "head.bias"]
    assert sorted(report.remapped) == [("fc.bias", "block.fc.bias"),
                                       ("fc.weight", "block.fc.weight")]
    assert report.is_complete()

    load = new.load_checkpoint(dst, strict=True)
    assert sorted(load.loaded) == sorted(n for n, _ in new.named_parameters())
    got = arrays(new)
    np.testing.assert_array_equal(got["block.fc.weight"], source["fc.weight"])
    np.testing.assert_array_equal(got["block.fc.bias"], source["fc.bias"])
    np.testing.assert_array_equal(got["head.weight"], source["head.weight"])
    np.testing.assert_array_equal(got["head.bias"], source["head.bias"])
    assert new.block.fc.weight.device == device


def test_renamed_flowbuilder_tags_are_remapped(tmp_path, device):
    src, dst = tmp_path / "old.h5", tmp_path / "new.h5"
    fl.manual_seed(3)
    old = graph("enc", "head")
    old.save_checkpoint(src, metadata={"epoch": 7})
    source = h5_entries(src)

    new = graph("encoder", "out").move_to_device(device)
    assert new.structural_hash() != old.structural_hash()
    with pytest.raises(CheckpointError):            # refused before migration
        new.load_checkpoint(src)
    report = migrate_checkpoint_file(src, dst, new.named_parameters())
    assert dict(report.remapped) == {"enc.weight": "encoder.weight", "enc.bias": "encoder.bias",
                                     "head.weight": "out.weight", "head.bias": "out.bias"}
    assert report.unchanged == [] and report.is_complete()

    load = new.load_checkpoint(dst, strict=True)
    assert load.metadata == {"epoch": 7}
    got = arrays(new)
    for old_name, new_name in report.remapped:
        np.testing.assert_array_equal(got[new_name], source[old_name])
    # the saved arrays follow the model's names, in the model's order
    assert list(h5_entries(dst)) == [n for n, _ in new.named_parameters()]


def test_buffers_are_remapped_into_the_buffer_group(tmp_path):
    src, dst = tmp_path / "old.h5", tmp_path / "new.h5"
    bn_old = fl.ModuleDict({"norm": fl.BatchNorm1d(3)})
    bn_old.norm.running_mean._replace(np.array([1.0, 2.0, 3.0], dtype=np.float32))
    bn_old.norm.running_var._replace(np.array([4.0, 5.0, 6.0], dtype=np.float32))
    bn_old.save_checkpoint(src)
    bn_new = fl.ModuleDict({"bn": fl.BatchNorm1d(3)})
    report = migrate_checkpoint_file(src, dst, bn_new.named_parameters(), bn_new.named_buffers())
    # (3,) float32 is shared by weight, bias, running_mean, running_var: ambiguous;
    # the int64 scalar is unique.
    assert report.remapped == [("norm.num_batches_tracked", "bn.num_batches_tracked")]
    assert sorted(t for t, _ in report.ambiguous) == [
        "bn.bias", "bn.running_mean", "bn.running_var", "bn.weight"]
    with h5py.File(dst, "r") as f:
        assert list(f["parameters"]) == []
        assert list(f["buffers"]) == ["bn.num_batches_tracked"]
        assert f["buffers/bn.num_batches_tracked"].attrs["dtype"] == "int64"


# --------------------------------------------------------------------------- ambiguity
def test_equal_shape_candidates_are_ambiguous_and_not_written(tmp_path):
    src, dst = tmp_path / "old.h5", tmp_path / "new.h5"
    w1 = np.full((4, 4), 1.0, np.float32)
    w2 = np.full((4, 4), 2.0, np.float32)
    u = np.arange(6, dtype=np.float32).reshape(2, 3)
    write_entries(src, [("x.weight", w1), ("y.weight", w2), ("z.weight", u)])
    model = fl.ModuleDict({"p": fl.Linear(4, 4, bias=False), "q": fl.Linear(4, 4, bias=False),
                           "r": fl.Linear(3, 2, bias=False)})
    before = arrays(model)
    report = migrate_checkpoint_file(src, dst, model.named_parameters())
    assert report.remapped == [("z.weight", "r.weight")]
    assert report.ambiguous == [("p.weight", ["x.weight", "y.weight"]),
                                ("q.weight", ["x.weight", "y.weight"])]
    assert report.dropped == [] and report.missing == []
    assert not report.is_complete()
    assert list(h5_entries(dst)) == ["r.weight"]
    # ambiguous entries are simply missing from the migrated file
    load = model.load_checkpoint(dst)
    assert sorted(load.missing) == ["p.weight", "q.weight"]
    np.testing.assert_array_equal(model.r.weight.to_numpy(), u)
    np.testing.assert_array_equal(model.p.weight.to_numpy(), before["p.weight"])


def test_one_file_entry_two_model_entries_is_ambiguous(tmp_path):
    src, dst = tmp_path / "old.h5", tmp_path / "new.h5"
    write_entries(src, [("w", np.ones((2, 2), np.float32))])
    model = fl.ModuleDict({"a": fl.Linear(2, 2, bias=False), "b": fl.Linear(2, 2, bias=False)})
    report = migrate_checkpoint_file(src, dst, model.named_parameters())
    assert report.remapped == []
    assert report.ambiguous == [("a.weight", ["w"]), ("b.weight", ["w"])]
    assert h5_entries(dst) == {}


def test_two_file_entries_one_model_entry_is_ambiguous(tmp_path):
    src, dst = tmp_path / "old.h5", tmp_path / "new.h5"
    write_entries(src, [("u", np.ones((2, 2), np.float32)), ("v", np.zeros((2, 2), np.float32))])
    model = fl.Linear(2, 2, bias=False)
    report = migrate_checkpoint_file(src, dst, model.named_parameters())
    assert report.ambiguous == [("weight", ["u", "v"])]
    assert report.remapped == [] and not report.is_complete()
    assert h5_entries(dst) == {}


# --------------------------------------------------------------------------- dropped/missing
def test_dropped_and_missing(tmp_path):
    src, dst = tmp_path / "old.h5", tmp_path / "new.h5"
    keep = np.arange(12, dtype=np.float32).reshape(3, 4)
    write_entries(src, [("enc.weight", keep), ("aux.weight", np.ones((7, 7), np.float32))],
                  [("stat", np.zeros(9, np.float32))])
    model = fl.ModuleDict({"encoder": fl.Linear(4, 3), "extra": fl.Linear(5, 6, bias=False)})
    report = migrate_checkpoint_file(src, dst, model.named_parameters())
    assert report.remapped == [("enc.weight", "encoder.weight")]
    assert sorted(report.dropped) == ["aux.weight", "stat"]
    assert sorted(report.missing) == ["encoder.bias", "extra.weight"]
    assert report.ambiguous == []
    assert not report.is_complete()
    got = h5_entries(dst)
    assert list(got) == ["encoder.weight"]
    np.testing.assert_array_equal(got["encoder.weight"], keep)


def test_is_complete_reflects_each_list():
    assert MigrateReport().is_complete()
    assert MigrateReport(unchanged=["a"], remapped=[("b", "c")]).is_complete()
    assert not MigrateReport(dropped=["a"]).is_complete()
    assert not MigrateReport(missing=["a"]).is_complete()
    assert not MigrateReport(ambiguous=[("a", ["b", "c"])]).is_complete()


# --------------------------------------------------------------------------- dtype
def test_dtype_participates_in_matching(tmp_path):
    src, dst = tmp_path / "old.h5", tmp_path / "new.h5"
    write_entries(src, [("old.w", np.ones((3, 4), np.float64))])
    model = fl.Linear(4, 3, bias=False)                        # float32 (3, 4)
    report = migrate_checkpoint_file(src, dst, model.named_parameters())
    assert report.remapped == []
    assert report.ambiguous == []                          # not even a candidate
    assert report.missing == ["weight"] and report.dropped == ["old.w"]
    assert h5_entries(dst) == {}


def test_dtype_separates_equal_shapes(tmp_path):
    src, dst = tmp_path / "old.h5", tmp_path / "new.h5"
    w32 = np.full((3, 4), 32.0, np.float32)
    w64 = np.full((3, 4), 64.0, np.float64)
    write_entries(src, [("a", w64), ("b", w32)])
    model = fl.ModuleDict({"single": fl.Linear(4, 3, bias=False),
                           "double": fl.Linear(4, 3, bias=False)})
    model.double.to_dtype(fl.DType.Float64)
    report = migrate_checkpoint_file(src, dst, model.named_parameters())
    assert sorted(report.remapped) == [("a", "double.weight"), ("b", "single.weight")]
    assert report.is_complete()
    model.load_checkpoint(dst, strict=True)
    np.testing.assert_array_equal(model.single.weight.to_numpy(), w32)
    np.testing.assert_array_equal(model.double.weight.to_numpy(), w64)
    assert model.double.weight.to_numpy().dtype == np.float64


# --------------------------------------------------------------------------- file level
def test_in_place_migration(tmp_path):
    path = tmp_path / "ckpt.h5"
    fl.manual_seed(4)
    Plain().save_checkpoint(path)
    source = h5_entries(path)
    new = Wrapped()
    report = migrate_checkpoint_file(path, path, new.named_parameters())
    assert report.is_complete() and len(report.remapped) == 2
    assert sorted(h5_entries(path)) == sorted(["block.fc.weight", "block.fc.bias",
                                               "head.weight", "head.bias"])
    new.load_checkpoint(path, strict=True)
    np.testing.assert_array_equal(new.block.fc.weight.to_numpy(), source["fc.weight"])
    np.testing.assert_array_equal(new.head.bias.to_numpy(), source["head.bias"])
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.h5"]      # no temporary left


def test_migrated_file_has_empty_hash_and_keeps_metadata(tmp_path):
    src, dst = tmp_path / "old.h5", tmp_path / "new.h5"
    old = graph("a", "b")
    meta = {"epoch": 3, "loss": 0.25, "tags": ["x", "y"], "nested": {"k": None}}
    old.save_checkpoint(src, metadata=meta)
    src_attrs = h5_root_attrs(src)
    assert src_attrs["structural_hash"] == old.structural_hash() != ""

    new = graph("c", "d")
    migrate_checkpoint_file(src, dst, new.named_parameters())
    attrs = h5_root_attrs(dst)
    assert attrs["structural_hash"] == ""
    assert json.loads(attrs["metadata"]) == meta
    assert attrs["format"] == "flodl_core.checkpoint" and int(attrs["format_version"]) == 1
    # an empty hash means the hash check is skipped, even for a third architecture
    other = graph("c", "d")
    assert other.load_checkpoint(dst, strict=True).metadata == meta


def test_optimizer_state_is_not_carried(tmp_path):
    src, dst = tmp_path / "old.h5", tmp_path / "new.h5"
    old = Plain()
    opt = fl.SGD(old.parameters(), 0.1, momentum=0.9)
    old.save_checkpoint(src, optimizer=opt)
    with h5py.File(src, "r") as f:
        assert "optimizer" in f
    migrate_checkpoint_file(src, dst, Wrapped().named_parameters())
    with h5py.File(dst, "r") as f:
        assert "optimizer" not in f


@pytest.mark.parametrize("corruption", ["garbage", "truncated"])
def test_corrupt_source_raises_and_leaves_dst_untouched(tmp_path, corruption):
    src, dst = tmp_path / "old.h5", tmp_path / "new.h5"
    Plain().save_checkpoint(src)
    if corruption == "garbage":
        src.write_bytes(b"this is not an HDF5 file at all" * 10)
    else:
        data = src.read_bytes()
        src.write_bytes(data[: len(data) // 2])
    dst.write_bytes(b"previous contents")
    with pytest.raises(CheckpointError, match="old.h5"):
        migrate_checkpoint_file(src, dst, Wrapped().named_parameters())
    assert dst.read_bytes() == b"previous contents"
    missing_dst = tmp_path / "never.h5"
    with pytest.raises(CheckpointError):
        migrate_checkpoint_file(src, missing_dst, Wrapped().named_parameters())
    assert not missing_dst.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.h5", "old.h5"]


def test_missing_source_raises(tmp_path):
    with pytest.raises(CheckpointError, match="no such file"):
        migrate_checkpoint_file(tmp_path / "absent.h5", tmp_path / "out.h5",
                                Plain().named_parameters())
    assert not (tmp_path / "out.h5").exists()


# --------------------------------------------------------------------------- report text
def test_report_str_lists_remaps_and_problems(tmp_path):
    src, dst = tmp_path / "old.h5", tmp_path / "new.h5"
    write_entries(src, [("keep", np.ones(2, np.float32)), ("old.w", np.ones((3, 4), np.float32)),
                        ("gone", np.ones(9, np.float32)),
                        ("m", np.ones((5, 5), np.float32)), ("n", np.ones((5, 5), np.float32))])
    model = fl.ModuleDict({"new": fl.Linear(4, 3, bias=False), "a": fl.Linear(5, 5, bias=False),
                           "b": fl.Linear(5, 5, bias=False), "c": fl.Linear(6, 6, bias=False)})
    names = model.named_parameters() + [("keep", fl.Parameter(fl.zeros([2])))]
    report = migrate_checkpoint_file(src, dst, names)
    lines = str(report).splitlines()
    assert lines[0] == "unchanged: 1"
    assert "remapped: old.w -> new.weight" in lines
    assert "dropped: gone" in lines
    assert "missing: c.weight" in lines
    assert "ambiguous: a.weight (candidates ['m', 'n'])" in lines
    assert "ambiguous: b.weight (candidates ['m', 'n'])" in lines
    assert len(lines) == 6
