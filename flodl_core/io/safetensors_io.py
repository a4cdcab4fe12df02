"""Weights to and from the safetensors format (PyTorch, Hugging Face tools).

Uses the optional ``safetensors`` package (``pip install "flodl-core[safetensors]"``)
through its NumPy-level API only: no torch is needed. Names and layouts already
match PyTorch's, so ``model.safetensors`` written here loads with
``safetensors.torch.load_file`` into the equivalent PyTorch module, and back.

safetensors' own NumPy loader has no bfloat16 (NumPy lacks the type), so import
reads the raw records with ``safetensors.deserialize`` and builds the arrays
itself, bfloat16 included through ml_dtypes.
"""
from __future__ import annotations

import json

import ml_dtypes
import numpy as np

from ..errors import CheckpointError
from ..nn.module import LoadReport
from .checkpoint import _host_entries, load_entries
from .hdf5_file import describe, replace_atomically

__all__ = ["export_safetensors", "import_safetensors"]

# safetensors dtype codes <-> NumPy dtypes.
_DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16,
           "BF16": ml_dtypes.bfloat16, "I64": np.int64, "I32": np.int32, "I16": np.int16,
           "I8": np.int8, "U64": np.uint64, "U32": np.uint32, "U16": np.uint16,
           "U8": np.uint8, "BOOL": np.bool_}


def _library():
    try:
        import safetensors
        import safetensors.numpy
    except ImportError:
        raise ImportError("export_safetensors/import_safetensors need the optional "
                          "'safetensors' package: pip install safetensors "
                          "(or the flodl-core[safetensors] extra)") from None
    return safetensors


def export_safetensors(model, path, metadata: dict | None = None) -> None:
    """Write ``model``'s parameters and persistent buffers as a safetensors file.

    ``metadata``: extra string key/values for the header. ``format: pt`` is set,
    as Hugging Face loaders expect. The file is written atomically.
    """
    lib = _library()
    where = f"export_safetensors {describe(path)!r}"
    entries = _host_entries(model.named_parameters(), "named_parameters", where)
    entries.update(_host_entries(model._persistent_buffers(), "named_buffers", where))
    header = {"format": "pt"}
    for k, v in (metadata or {}).items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise TypeError(f"{where}: metadata keys and values must be str, got "
                            f"{k!r}: {v!r}")
        header[k] = v
    tensors = {name: arr if arr.flags.c_contiguous else arr.copy(order="C")
               for name, arr in entries.items()}
    data = lib.numpy.save(tensors, metadata=header)

    def write(tmp):
        with open(tmp, "wb") as fh:
            fh.write(data)
    replace_atomically(path, write)


def import_safetensors(model, path, strict: bool = False) -> LoadReport:
    """Load a safetensors file into ``model`` by name; all or nothing.

    Same report and rules as ``load_checkpoint`` (no structural hash: the
    format has none). Floating entries are cast to the parameter's dtype.
    """
    lib = _library()
    name = describe(path)
    where = f"safetensors file {name!r}"
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as e:
        raise CheckpointError(f"{where}: cannot be read: {e}") from None
    try:
        records = lib.deserialize(raw)
    except Exception as e:      # the Rust parser raises its own SafetensorError type
        raise CheckpointError(f"{where}: not a valid safetensors file (truncated or "
                              f"corrupt?): {e}") from None
    entries = {}
    for key, rec in records:
        code = rec["dtype"]
        if code not in _DTYPES:
            raise CheckpointError(f"{where}, entry {key!r}: unsupported dtype {code}")
        arr = np.frombuffer(bytearray(rec["data"]), dtype=_DTYPES[code])
        entries[key] = arr.reshape(rec["shape"])
    metadata = _header_metadata(raw)
    return load_entries(entries, model.named_parameters(), model._persistent_buffers(),
                        where, strict=strict, metadata=metadata)


def _header_metadata(raw: bytes) -> dict:
    """The ``__metadata__`` string map of the (already validated) header."""
    n = int.from_bytes(raw[:8], "little")
    return json.loads(raw[8:8 + n]).get("__metadata__", {})


