"""A checkpoint is never half-written, a bad file never half-loads a model, and
nothing in a file is ever executed."""
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

import flodl_core as fl
from flodl_core import CheckpointError
from flodl_core.io import checkpoint_keys, load_checkpoint, save_checkpoint

ROOT = Path(__file__).resolve().parents[2]


def params(seed, n=3):
    fl.manual_seed(seed)
    return [(f"layer{i}.weight", fl.nn.Parameter(fl.randn(4, 3))) for i in range(n)]


def values(named):
    return {n: p.data.to_numpy().copy() for n, p in named}


def assert_unchanged(named, before):
    for n, p in named:
        np.testing.assert_array_equal(p.data.to_numpy(), before[n], err_msg=n)


def save_then_edit(path, edit, seed=0):
    """Save a valid checkpoint, then corrupt it with ``edit(h5py.File)``."""
    save_checkpoint(path, params(seed), [])
    with h5py.File(path, "r+") as f:
        edit(f)


# --------------------------------------------------------------------------- atomic save
_SAVER = textwrap.dedent("""
    import sys
    import numpy as np
    sys.path.insert(0, sys.argv[2])
    from flodl_core.io import save_checkpoint
    # 96 entries of 512 KiB: the file grows for a while, so the parent can kill us
    # in the middle of it.
    named = [(f"w{i}", np.full((128, 1024), 7.0, np.float32)) for i in range(96)]
    print("ready", flush=True)
    save_checkpoint(sys.argv[1], named, [])
""")


def test_killing_the_process_mid_save_leaves_the_previous_checkpoint(tmp_path):
    target = tmp_path / "model.h5"
    original = {f"w{i}": np.full((8, 8), float(i), np.float32) for i in range(3)}
    save_checkpoint(target, list(original.items()), [])
    original_bytes = target.read_bytes()
    script = tmp_path / "saver.py"
    script.write_text(_SAVER)

    for _attempt in range(5):
        proc = subprocess.Popen([sys.executable, str(script), str(target), str(ROOT)],
                                stdout=subprocess.PIPE)
        assert proc.stdout.readline().strip() == b"ready"
        killed_mid_write = False
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline:
            temps = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
            if temps and temps[0].stat().st_size > 4 << 20:     # well into the write
                proc.send_signal(signal.SIGKILL)
                killed_mid_write = True
                break
            time.sleep(0.001)
        proc.wait()
        proc.stdout.close()
        if killed_mid_write:
            break
        # The save won the race and completed: put the original back and try again.
        target.write_bytes(original_bytes)
    assert killed_mid_write, "could not interrupt a save in 5 attempts"
    assert proc.returncode == -signal.SIGKILL
    # The target is byte-for-byte the previous checkpoint and still loads.
    assert target.read_bytes() == original_bytes
    named = [(n, fl.nn.Parameter(fl.zeros(8, 8))) for n in original]
    load_checkpoint(target, named, [], strict=True)
    for n, p in named:
        np.testing.assert_array_equal(p.data.to_numpy(), original[n])
    # What the killed process left is an orphan temporary file, never the target.
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert leftovers and all(name.startswith(".model.h5.") for name in leftovers)


def test_a_failed_save_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "m.h5"
    save_checkpoint(target, params(0), [])
    before = target.read_bytes()
    with pytest.raises(CheckpointError, match="complex128 cannot be stored"):
        save_checkpoint(target, [("z", np.zeros(3, np.complex128))], [])
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.h5"]


def test_saving_into_a_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        save_checkpoint(tmp_path / "nope" / "m.h5", params(0), [])


def test_saved_file_gets_normal_permissions(tmp_path):
    target = tmp_path / "m.h5"
    save_checkpoint(target, params(0), [])
    assert target.stat().st_mode & 0o777 == 0o666 & ~_umask()
    os.chmod(target, 0o640)
    save_checkpoint(target, params(1), [])
    assert target.stat().st_mode & 0o777 == 0o640     # an existing file keeps its mode


def _umask():
    old = os.umask(0)
    os.umask(old)
    return old


# --------------------------------------------------------------------------- bad files
def _refused(path, match, **kw):
    """Loading ``path`` raises CheckpointError matching ``match``, model unchanged."""
    named = params(99)
    before = values(named)
    with pytest.raises(CheckpointError, match=match) as e:
        load_checkpoint(path, named, [], **kw)
    assert_unchanged(named, before)
    return str(e.value)


def test_missing_file(tmp_path):
    msg = _refused(tmp_path / "absent.h5", "no such file")
    assert "absent.h5" in msg


def test_non_hdf5_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("these are not weights\n" * 50)
    msg = _refused(path, "not an HDF5 file")
    assert "notes.txt" in msg


@pytest.mark.parametrize("keep", [0.9, 0.5, 0.05])
def test_truncated_file(tmp_path, keep):
    path = tmp_path / "t.h5"
    save_checkpoint(path, params(0), [])
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])
    msg = _refused(path, "t.h5")
    assert "truncated" in msg or "not an HDF5 file" in msg


def test_truncated_file_object(tmp_path):
    import io
    buf = io.BytesIO()
    save_checkpoint(buf, params(0), [])
    _refused(io.BytesIO(buf.getvalue()[: len(buf.getvalue()) // 2]), "truncated")


def test_hdf5_file_that_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f["data"] = np.zeros(3)
    _refused(path, "not a flodl_core file")


def test_unknown_format_version(tmp_path):
    path = tmp_path / "v9.h5"
    save_then_edit(path, lambda f: f.attrs.__setitem__("format_version", 9))
    msg = _refused(path, "unknown format version 9")
    assert "v9.h5" in msg


def test_integer_data_for_a_float_parameter(tmp_path):
    path = tmp_path / "int.h5"

    def edit(f):
        del f["parameters"]["layer1.weight"]
        ds = f["parameters"].create_dataset("layer1.weight", data=np.ones((4, 3), np.int32))
        ds.attrs["dtype"] = "int32"
    save_then_edit(path, edit)
    msg = _refused(path, "entry 'layer1.weight': dtype int32")
    assert "int.h5" in msg


def test_data_that_disagrees_with_its_dtype_attribute(tmp_path):
    path = tmp_path / "lie.h5"
    save_then_edit(path, lambda f: f["parameters"]["layer0.weight"].attrs.__setitem__(
        "dtype", "bfloat16"))
    _refused(path, "entry 'layer0.weight': data is stored as float32")


def test_unknown_dtype_attribute(tmp_path):
    path = tmp_path / "odd.h5"
    save_then_edit(path, lambda f: f["parameters"]["layer2.weight"].attrs.__setitem__(
        "dtype", "float128"))
    _refused(path, "entry 'layer2.weight': unknown or missing dtype")


def test_nan_poisoned_entry_with_check_finite(tmp_path):
    path = tmp_path / "nan.h5"

    def edit(f):
        ds = f["parameters"]["layer2.weight"]
        data = ds[()]
        data[1, 2] = np.nan
        data[0, 0] = np.inf
        ds[...] = data
    save_then_edit(path, edit)
    msg = _refused(path, "entry 'layer2.weight': 2 non-finite", check_finite=True)
    assert "nan.h5" in msg
    named = params(5)
    load_checkpoint(path, named, [])                  # without the check it loads as is
    assert np.isnan(dict(named)["layer2.weight"].data.to_numpy()[1, 2])


def test_hash_mismatch_error_shows_both_hashes(tmp_path):
    path = tmp_path / "h.h5"
    save_checkpoint(path, params(0), [], structural_hash="a" * 64)
    msg = _refused(path, "different architecture", structural_hash="b" * 64)
    assert "a" * 64 in msg and "b" * 64 in msg
    named = params(3)
    load_checkpoint(path, named, [], structural_hash=None)      # None skips the check


# --------------------------------------------------------------------------- all or nothing
def test_a_bad_entry_late_in_the_file_changes_nothing(tmp_path):
    path = tmp_path / "late.h5"

    def edit(f):       # the last entry is corrupt; the first ones are fine
        f["parameters"]["layer2.weight"].attrs["dtype"] = "int8"
    save_then_edit(path, edit)
    _refused(path, "layer2.weight")


def test_a_refused_optimizer_state_leaves_model_and_optimizer_unchanged(tmp_path):
    named = params(0)
    opt = fl.SGD([p for _, p in named], lr=0.1, momentum=0.9)
    for _, p in named:
        p.grad = fl.ones(4, 3)
    opt.step()
    save_checkpoint(tmp_path / "sgd.h5", named, [], optimizer=opt)
    target = params(1)
    before = values(target)
    adam = fl.Adam([p for _, p in target], lr=0.1)
    with pytest.raises(CheckpointError, match="saved from SGD, cannot load it into Adam"):
        load_checkpoint(tmp_path / "sgd.h5", target, [], optimizer=adam)
    assert_unchanged(target, before)
    assert adam.state_dict()["state"] == {}


def test_no_pickle_anywhere_in_the_io_package():
    """No module of the package imports a serializer that can run code, and none
    calls NumPy's loaders (which unpickle object arrays when allowed)."""
    import ast
    unsafe = {"pickle", "cPickle", "dill", "cloudpickle", "marshal", "shelve", "joblib"}
    for path in (ROOT / "flodl_core" / "io").glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                assert not {a.name.split(".")[0] for a in node.names} & unsafe, path.name
            elif isinstance(node, ast.ImportFrom):
                assert (node.module or "").split(".")[0] not in unsafe, path.name
            elif isinstance(node, ast.Attribute):
                assert node.attr not in ("load", "loads") or not (
                    isinstance(node.value, ast.Name) and node.value.id in ("np", "numpy")), \
                    path.name
            elif isinstance(node, ast.keyword):
                assert node.arg != "allow_pickle", path.name


def test_object_datasets_are_refused_not_unpickled(tmp_path):
    path = tmp_path / "obj.h5"

    def edit(f):
        del f["parameters"]["layer0.weight"]
        ds = f["parameters"].create_dataset(
            "layer0.weight", data=np.array(["rm -rf /"] * 12, dtype=object).reshape(4, 3),
            dtype=h5py.string_dtype())
        ds.attrs["dtype"] = "object"
    save_then_edit(path, edit)
    _refused(path, "layer0.weight")


def test_keys_of_a_corrupt_file_raise_checkpoint_error(tmp_path):
    path = tmp_path / "junk.h5"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 100)
    with pytest.raises(CheckpointError, match="junk.h5"):
        checkpoint_keys(path)


def test_a_refused_scaler_state_puts_the_optimizer_back(tmp_path):
    named = params(0)
    opt = fl.Adam([p for _, p in named], lr=0.1)
    for _, p in named:
        p.grad = fl.ones(4, 3)
    opt.step()
    save_checkpoint(tmp_path / "c.h5", named, [], optimizer=opt, scaler=fl.GradScaler())
    with h5py.File(tmp_path / "c.h5", "r+") as f:
        f["optimizer/grad_scaler"].attrs["growth_factor"] = "abc"
    target = params(1)
    before = values(target)
    fresh, scaler = fl.Adam([p for _, p in target], lr=0.1), fl.GradScaler()
    with pytest.raises(CheckpointError, match="c.h5"):
        load_checkpoint(tmp_path / "c.h5", target, [], optimizer=fresh, scaler=scaler)
    assert fresh.state_dict()["state"] == {}
    assert scaler.get_scale() == fl.GradScaler().get_scale()
    assert_unchanged(target, before)


def test_big_endian_data_from_other_tools_loads(tmp_path):
    path = tmp_path / "be.h5"
    expected = np.arange(12, dtype=np.float32).reshape(4, 3)

    def edit(f):
        del f["parameters"]["layer0.weight"]
        ds = f["parameters"].create_dataset("layer0.weight", data=expected.astype(">f4"))
        ds.attrs["dtype"] = "float32"
    save_then_edit(path, edit)
    named = params(3)
    load_checkpoint(path, named, [])
    np.testing.assert_array_equal(dict(named)["layer0.weight"].data.to_numpy(), expected)


def test_integer_entries_must_fit_the_buffer_dtype(tmp_path):
    small = fl.nn.Buffer(fl.tensor(np.array([1, 2], np.int32)))
    save_checkpoint(tmp_path / "ok.h5", [], [("count", np.array([100, -5], np.int64))])
    load_checkpoint(tmp_path / "ok.h5", [], [("count", small)])
    np.testing.assert_array_equal(small.data.to_numpy(), [100, -5])
    assert small.data.to_numpy().dtype == np.int32
    save_checkpoint(tmp_path / "big.h5", [], [("count", np.array([2**40, 0], np.int64))])
    with pytest.raises(CheckpointError, match="do not fit the model's int32"):
        load_checkpoint(tmp_path / "big.h5", [], [("count", small)])
    np.testing.assert_array_equal(small.data.to_numpy(), [100, -5])


def test_an_optimizer_state_file_is_not_taken_for_a_checkpoint(tmp_path):
    named = params(0)
    opt = fl.SGD([p for _, p in named], lr=0.1)
    opt.save_state(tmp_path / "opt.h5")
    msg = _refused(tmp_path / "opt.h5", "optimizer state file")
    assert "load_state" in msg


def test_check_finite_covers_bfloat16_entries(tmp_path):
    import ml_dtypes
    bad = np.array([[1.0, np.inf], [np.nan, 2.0]], np.float32).astype(ml_dtypes.bfloat16)
    save_checkpoint(tmp_path / "bf.h5", [("w", bad)], [])
    target = [("w", fl.nn.Parameter(fl.zeros(2, 2, dtype=fl.DType.BFloat16)))]
    with pytest.raises(CheckpointError, match="entry 'w': 2 non-finite"):
        load_checkpoint(tmp_path / "bf.h5", target, [], check_finite=True)


def test_metadata_must_be_a_json_dict(tmp_path):
    with pytest.raises(TypeError, match="metadata must be a dict"):
        save_checkpoint(tmp_path / "m.h5", params(0), [], metadata=[1, 2])
    with pytest.raises(CheckpointError, match="JSON-serialisable"):
        save_checkpoint(tmp_path / "m.h5", params(0), [], metadata={"f": object()})
    assert not (tmp_path / "m.h5").exists()
