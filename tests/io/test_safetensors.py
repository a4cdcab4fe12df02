"""export_safetensors / import_safetensors.

The files are checked with a reader and a writer written here from the format's
definition (8-byte little-endian header length, a JSON header with dtype, shape
and data_offsets per tensor, then raw little-endian bytes), never with the code
under test or the safetensors package.
"""
import json
import struct

import numpy as np
import pytest

pytest.importorskip("safetensors")

import flodl_core as fl  # noqa: E402
from flodl_core import CheckpointError, export_safetensors, import_safetensors  # noqa: E402

# format code -> (little-endian storage dtype, element size); bfloat16 stays raw uint16 bits
CODES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2", "I64": "<i8", "I32": "<i4",
         "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "?"}
FLOAT_CODES = {"float64": "F64", "float32": "F32", "float16": "F16", "bfloat16": "BF16"}


# --------------------------------------------------------------------------- independent I/O
def parse(path):
    """(tensors {name: (code, shape, raw array)}, metadata or None) from a file."""
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    body = raw[8 + n:]
    metadata = header.pop("__metadata__", None)
    tensors, spans = {}, []
    for name, info in header.items():
        start, end = info["data_offsets"]
        spans.append((start, end))
        arr = np.frombuffer(body[start:end], dtype=CODES[info["dtype"]])
        tensors[name] = (info["dtype"], tuple(info["shape"]), arr.reshape(info["shape"]))
    spans.sort()
    assert spans[0][0] == 0 and spans[-1][1] == len(body)          # body fully covered
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))      # no gaps, no overlap
    return tensors, metadata


def write(path, tensors, metadata=None):
    """Write {name: (code, ndarray)}; BF16 arrays are given as uint16 bit patterns."""
    header, chunks, offset = {}, [], 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, (code, arr) in tensors.items():
        data = np.ascontiguousarray(arr, dtype=np.dtype(CODES[code])).tobytes()
        header[name] = {"dtype": code, "shape": list(np.shape(arr)),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header).encode("utf-8")
    text += b" " * (-(8 + len(text)) % 8)                           # pad, as writers do
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(chunks))


def bf16_bits_to_float32(bits):
    """Exact float32 values of bfloat16 bit patterns: the top half of a float32."""
    return (np.asarray(bits, np.uint16).astype(np.uint32) << 16).view(np.float32)


# --------------------------------------------------------------------------- models
def net(seed=0):
    """Linear(4, 3) + BatchNorm1d(3) named like PyTorch's Sequential: "0.*", "1.*"."""
    fl.manual_seed(seed)
    m = fl.ModuleList([fl.Linear(4, 3), fl.BatchNorm1d(3)])
    rng = np.random.default_rng(seed)
    m[1].weight._replace(rng.uniform(0.5, 1.5, 3).astype(np.float32))
    m[1].bias._replace(rng.normal(size=3).astype(np.float32))
    m[1].running_mean._replace(rng.normal(size=3).astype(np.float32))
    m[1].running_var._replace(rng.uniform(0.5, 2.0, 3).astype(np.float32))
    m[1].num_batches_tracked._replace(np.array(seed + 5, dtype=np.int64))
    return m


def host(model):
    out = {n: p.to_numpy().copy() for n, p in model.named_parameters()}
    out.update((n, b.to_numpy().copy()) for n, b in model.named_buffers())
    return out


def assert_same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape
    assert a.dtype.itemsize == b.dtype.itemsize
    width = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}[a.dtype.itemsize]
    np.testing.assert_array_equal(np.ascontiguousarray(a).view(width),
                                  np.ascontiguousarray(b).view(width))


NAMES = ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
         "1.num_batches_tracked"]


# --------------------------------------------------------------------------- export
@pytest.mark.parametrize("dtype", [fl.DType.Float32, fl.DType.Float64, fl.DType.Float16,
                                   fl.DType.BFloat16], ids=str)
def test_export_matches_hand_parsed_file_and_round_trips(tmp_path, device, dtype):
    path = tmp_path / "model.safetensors"
    model = net(1).to_dtype(dtype).move_to_device(device)
    want = host(model)
    float_name = want["0.weight"].dtype.name
    assert float_name == {fl.DType.Float32: "float32", fl.DType.Float64: "float64",
                          fl.DType.Float16: "float16", fl.DType.BFloat16: "bfloat16"}[dtype]
    export_safetensors(model, path)

    tensors, metadata = parse(path)
    assert metadata == {"format": "pt"}
    assert sorted(tensors) == sorted(NAMES)
    for name, (code, shape, arr) in tensors.items():
        assert shape == want[name].shape
        if name == "1.num_batches_tracked":
            assert code == "I64" and shape == ()
            assert int(arr) == 6
        else:
            assert code == FLOAT_CODES[float_name]
            assert_same_bits(arr, want[name])
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]   # no temporary

    fresh = net(2).to_dtype(dtype).move_to_device(device)
    assert not np.array_equal(host(fresh)["0.weight"].astype(np.float32),
                              want["0.weight"].astype(np.float32))
    report = import_safetensors(fresh, path)
    assert sorted(report.loaded) == sorted(NAMES)
    assert report.skipped == [] and report.missing == [] and report.mismatched == []
    assert report.metadata == {"format": "pt"}
    got = host(fresh)
    for name in NAMES:
        assert got[name].dtype == want[name].dtype
        assert_same_bits(got[name], want[name])
    assert fresh[0].weight.device == device and fresh[1].num_batches_tracked.device == device


def test_export_user_metadata_round_trip(tmp_path):
    path = tmp_path / "m.safetensors"
    export_safetensors(net(), path, metadata={"epoch": "12", "note": "héllo"})
    _, metadata = parse(path)
    assert metadata == {"format": "pt", "epoch": "12", "note": "héllo"}
    report = import_safetensors(net(3), path)
    assert report.metadata == {"format": "pt", "epoch": "12", "note": "héllo"}


@pytest.mark.parametrize("bad", [{"epoch": 3}, {1: "x"}, {"k": None}])
def test_export_metadata_must_be_strings(tmp_path, bad):
    path = tmp_path / "m.safetensors"
    with pytest.raises(TypeError, match="metadata"):
        export_safetensors(net(), path, metadata=bad)
    assert not path.exists()
    path.write_bytes(b"old")
    with pytest.raises(TypeError):
        export_safetensors(net(), path, metadata=bad)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]


def test_non_persistent_buffers_are_not_exported_nor_expected(tmp_path):
    class WithScratch(fl.Module):
        def __init__(self):
            super().__init__()
            self.fc = fl.Linear(2, 2)
            self.register_buffer("kept", fl.from_numpy(np.array([1.0, 2.0], np.float32)))
            self.register_buffer("scratch", fl.from_numpy(np.zeros(2, np.float32)),
                                 persistent=False)

    path = tmp_path / "np.safetensors"
    export_safetensors(WithScratch(), path)
    tensors, _ = parse(path)
    assert sorted(tensors) == ["fc.bias", "fc.weight", "kept"]
    report = import_safetensors(WithScratch(), path, strict=True)
    assert sorted(report.loaded) == ["fc.bias", "fc.weight", "kept"]
    assert report.missing == []


# --------------------------------------------------------------------------- import
def pytorch_style_file(path, rng, extra=None, drop=(), metadata=None):
    """A file as PyTorch would save ``Sequential(Linear(4, 3), BatchNorm1d(3))``."""
    tensors = {
        "0.weight": ("F32", rng.normal(size=(3, 4)).astype(np.float32)),
        "0.bias": ("F32", rng.normal(size=3).astype(np.float32)),
        "1.weight": ("F32", rng.uniform(0.5, 1.5, 3).astype(np.float32)),
        "1.bias": ("F32", rng.normal(size=3).astype(np.float32)),
        "1.running_mean": ("F32", rng.normal(size=3).astype(np.float32)),
        "1.running_var": ("F32", rng.uniform(0.5, 2.0, 3).astype(np.float32)),
        "1.num_batches_tracked": ("I64", np.array(42, np.int64)),
    }
    for name in drop:
        del tensors[name]
    tensors.update(extra or {})
    write(path, tensors, metadata)
    return {n: a for n, (_, a) in tensors.items()}


def test_import_hand_written_pytorch_state_dict(tmp_path, device):
    path = tmp_path / "torch.safetensors"
    src = pytorch_style_file(path, np.random.default_rng(0))
    model = net().move_to_device(device)
    report = import_safetensors(model, path, strict=True)
    assert sorted(report.loaded) == sorted(NAMES)
    assert report.metadata == {}
    got = host(model)
    for name in NAMES:
        assert got[name].dtype == src[name].dtype
        np.testing.assert_array_equal(got[name], src[name])
    assert model[1].running_var.device == device


def test_import_casts_floating_types(tmp_path, device):
    path = tmp_path / "cast.safetensors"
    w64 = np.array([[0.1, -2.5, 1e-3, 3.0]] * 3, np.float64)
    bias_bits = np.array([0x3FC0, 0xC000, 0x3DCD], np.uint16)          # 1.5, -2.0, ~0.1 in bf16
    write(path, {"weight": ("F64", w64), "bias": ("BF16", bias_bits)})
    model = fl.Linear(4, 3).move_to_device(device)
    report = import_safetensors(model, path, strict=True)
    assert report.loaded == ["weight", "bias"]
    w = model.weight.to_numpy()
    assert w.dtype == np.float32
    np.testing.assert_array_equal(w, w64.astype(np.float32))
    np.testing.assert_array_equal(model.bias.to_numpy(), bf16_bits_to_float32(bias_bits))
    np.testing.assert_array_equal(model.bias.to_numpy(), [1.5, -2.0, 0.10009765625])


def test_import_report_lists_skipped_missing_mismatched(tmp_path):
    path = tmp_path / "partial.safetensors"
    rng = np.random.default_rng(5)
    src = pytorch_style_file(path, rng, drop=["1.running_var"],
                             extra={"0.bias": ("F32", np.ones(5, np.float32)),
                                    "2.weight": ("F32", np.ones((2, 3), np.float32))})
    model = net(7)
    before = host(model)
    report = import_safetensors(model, path)
    assert report.skipped == ["2.weight"]
    assert report.missing == ["1.running_var"]
    assert report.mismatched == [("0.bias", (5,), (3,))]
    assert sorted(report.loaded) == sorted(["0.weight", "1.weight", "1.bias", "1.running_mean",
                                            "1.num_batches_tracked"])
    assert not report.ok
    got = host(model)
    for name in report.loaded:
        np.testing.assert_array_equal(got[name], src[name])
    for name in ("0.bias", "1.running_var"):                          # kept as they were
        np.testing.assert_array_equal(got[name], before[name])


def test_strict_refusal_changes_nothing(tmp_path):
    path = tmp_path / "partial.safetensors"
    pytorch_style_file(path, np.random.default_rng(6), drop=["1.bias"])
    model = net(8)
    before = host(model)
    with pytest.raises(CheckpointError, match="strict") as err:
        import_safetensors(model, path, strict=True)
    assert "partial.safetensors" in str(err.value)
    got = host(model)
    for name in NAMES:
        np.testing.assert_array_equal(got[name], before[name])
    # an extra entry alone is refused too
    pytorch_style_file(path, np.random.default_rng(6), extra={"x": ("F32", np.ones(1, np.float32))})
    with pytest.raises(CheckpointError):
        import_safetensors(model, path, strict=True)
    for name in NAMES:
        np.testing.assert_array_equal(host(model)[name], before[name])


def _truncated(path):
    export_safetensors(net(), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 10])


def _header_too_long(path):
    path.write_bytes(struct.pack("<Q", 10_000) + b'{"a": 1}')


def _bad_json(path):
    path.write_bytes(struct.pack("<Q", 8) + b"{not-js}")


@pytest.mark.parametrize("damage", [
    lambda p: p.write_bytes(b"garbage, not a safetensors file at all"),
    lambda p: p.write_bytes(b""),
    _truncated, _header_too_long, _bad_json,
], ids=["garbage", "empty", "truncated", "header_too_long", "bad_json"])
def test_corrupt_file_raises_naming_it(tmp_path, damage):
    path = tmp_path / "broken.safetensors"
    damage(path)
    model = net(9)
    before = host(model)
    with pytest.raises(CheckpointError, match="broken.safetensors"):
        import_safetensors(model, path)
    for name in NAMES:
        np.testing.assert_array_equal(host(model)[name], before[name])


def test_missing_file_raises_naming_it(tmp_path):
    with pytest.raises(CheckpointError, match="absent.safetensors"):
        import_safetensors(net(), tmp_path / "absent.safetensors")


def test_integer_data_into_float_parameter_changes_nothing(tmp_path):
    path = tmp_path / "ints.safetensors"
    write(path, {"bias": ("F32", np.full(3, 7.0, np.float32)),
                 "weight": ("I32", np.arange(12, dtype=np.int32).reshape(3, 4))})
    model = fl.Linear(4, 3)
    before = {n: p.to_numpy().copy() for n, p in model.named_parameters()}
    with pytest.raises(CheckpointError, match="ints.safetensors") as err:
        import_safetensors(model, path)
    assert "'weight'" in str(err.value) and "int32" in str(err.value)
    for n, p in model.named_parameters():            # bias (valid on its own) untouched too
        np.testing.assert_array_equal(p.to_numpy(), before[n])


def test_float_data_into_integer_buffer_changes_nothing(tmp_path):
    path = tmp_path / "floatcount.safetensors"
    pytorch_style_file(path, np.random.default_rng(1),
                       extra={"1.num_batches_tracked": ("F32", np.array(3.0, np.float32))})
    model = net(4)
    before = host(model)
    with pytest.raises(CheckpointError, match="num_batches_tracked"):
        import_safetensors(model, path)
    for name in NAMES:
        np.testing.assert_array_equal(host(model)[name], before[name])


# --------------------------------------------------------------------------- PyTorch
def test_export_loads_into_pytorch(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file

    path = tmp_path / "for_torch.safetensors"
    model = net(11)
    x = np.random.default_rng(3).normal(size=(5, 4)).astype(np.float32)
    model.train()
    h = model[0](fl.from_numpy(x))
    model[1](h)                                      # updates the running statistics once
    model.eval()
    ours = model[1](model[0](fl.from_numpy(x))).to_numpy()
    export_safetensors(model, path)

    reference = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
    state = load_file(str(path))
    reference.load_state_dict(state, strict=True)
    reference.eval()
    assert int(reference[1].num_batches_tracked) == (11 + 5) + 1    # net() set 16, one step
    with torch.no_grad():
        theirs = reference(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
