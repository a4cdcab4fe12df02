"""The HDF5 layer under every checkpoint file: opening, atomic writing, dtypes, names.

Everything that touches h5py directly lives here, so the checkpoint logic above
it reads as plain NumPy. Three concerns:

* **Atomic writes** (:mod:`flodl_core.atomic_file`): a crash at any moment
  leaves either the old file or the new one, never a torn mix. A binary file
  object gets the finished bytes in one ``write`` (the HDF5 image is built in
  memory first).
* **Dtypes HDF5 lacks.** bfloat16 (and the other ml_dtypes types) are stored as
  unsigned integers of the same width; every dataset carries a ``dtype``
  attribute with the real NumPy dtype name, so the bits come back unchanged.
* **Names.** Entry names such as ``encoder.fc1.weight`` become dataset names as
  they are; only ``/`` (HDF5's path separator) and ``%`` are percent-escaped.
  The original name is also kept in the dataset's ``name`` attribute.

Errors from h5py or the OS become :class:`CheckpointError` naming the file.
"""
from __future__ import annotations

import io
import os
from contextlib import contextmanager

import h5py
import ml_dtypes
import numpy as np

from ..atomic_file import replace_atomically as _replace_atomically
from ..errors import CheckpointError

__all__ = ["describe", "open_for_read", "write_atomic", "replace_atomically", "encode_array",
           "decode_array", "escape_name", "unescape_name"]

# Dtypes a checkpoint may hold. HDF5 stores the plain NumPy ones natively; the
# ml_dtypes ones travel as raw unsigned integers of the same width.
_NATIVE = {np.dtype(n) for n in ("float16", "float32", "float64", "int8", "int16", "int32",
                                 "int64", "uint8", "uint16", "uint32", "uint64", "bool")}
_RAW = {np.dtype(ml_dtypes.bfloat16): np.dtype("uint16")}
KNOWN_DTYPES = {d.name: d for d in _NATIVE | set(_RAW)}


def describe(target) -> str:
    """How to name ``target`` (a path or a file object) in a message."""
    if isinstance(target, (str, bytes, os.PathLike)):
        return os.fsdecode(target)
    return getattr(target, "name", None) or f"<{type(target).__name__}>"


# --------------------------------------------------------------------------- names
def escape_name(name: str) -> str:
    """Entry name -> HDF5 dataset name (``/`` and ``%`` percent-escaped)."""
    if not isinstance(name, str) or not name or name == ".":
        raise CheckpointError(f"checkpoint entry names must be non-empty strings, got {name!r}")
    return name.replace("%", "%25").replace("/", "%2F")


def unescape_name(key: str) -> str:
    return key.replace("%2F", "/").replace("%25", "%")


# --------------------------------------------------------------------------- dtypes
def encode_array(arr: np.ndarray, where: str):
    """(array HDF5 can store, real dtype name) for a host array."""
    dt = arr.dtype
    arr = arr if arr.flags.c_contiguous else arr.copy(order="C")   # keeps 0-d arrays 0-d
    if dt in _RAW:
        return arr.view(_RAW[dt]), dt.name
    if dt not in _NATIVE:
        raise CheckpointError(f"{where}: dtype {dt} cannot be stored in a checkpoint "
                              f"(supported: {sorted(KNOWN_DTYPES)})")
    return arr, dt.name


def decode_array(stored: np.ndarray, dtype_name, where: str) -> np.ndarray:
    """Inverse of :func:`encode_array`; checks the stored bits match the recorded dtype."""
    if isinstance(dtype_name, bytes):
        dtype_name = dtype_name.decode()
    real = KNOWN_DTYPES.get(dtype_name) if isinstance(dtype_name, str) else None
    if real is None:
        raise CheckpointError(f"{where}: unknown or missing dtype attribute {dtype_name!r} "
                              f"(supported: {sorted(KNOWN_DTYPES)})")
    expected_storage = _RAW.get(real, real)
    if stored.dtype != expected_storage and stored.dtype.newbyteorder("=") == expected_storage:
        stored = stored.astype(expected_storage)        # written big-endian by another tool
    if stored.dtype != expected_storage:
        raise CheckpointError(f"{where}: data is stored as {stored.dtype}, but its dtype "
                              f"attribute says {real.name} (expected storage "
                              f"{expected_storage}); the file is corrupt or was edited")
    return stored.view(real) if real in _RAW else stored


# --------------------------------------------------------------------------- reading
@contextmanager
def open_for_read(source):
    """Open a path or a binary file object as a read-only h5py.File.

    A missing file, a non-HDF5 file or a truncated one raises CheckpointError
    naming the file; h5py errors raised while the caller reads (inside the
    ``with`` block) are wrapped the same way unless already CheckpointErrors.
    """
    name = describe(source)
    if isinstance(source, (str, bytes, os.PathLike)):
        if not os.path.exists(source):
            raise CheckpointError(f"checkpoint {name!r}: no such file")
        if not h5py.is_hdf5(source):
            raise CheckpointError(f"checkpoint {name!r}: not an HDF5 file (wrong file, or "
                                  f"truncated before its header)")
        handle = source
    else:
        if not hasattr(source, "read"):
            raise TypeError(f"checkpoint: expected a path or a binary file object, got "
                            f"{type(source).__name__}")
        seekable = getattr(source, "seekable", lambda: False)()
        handle = source if seekable else io.BytesIO(source.read())
    try:
        f = h5py.File(handle, "r")
    except (OSError, ValueError) as e:
        raise CheckpointError(f"checkpoint {name!r}: cannot be opened as HDF5 "
                              f"(truncated or corrupt?): {e}") from None
    try:
        with f:
            yield f
    except CheckpointError:
        raise
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        raise CheckpointError(f"checkpoint {name!r}: unreadable (truncated or corrupt?): "
                              f"{e}") from e


# --------------------------------------------------------------------------- writing
def write_atomic(target, fill) -> None:
    """Create an HDF5 file with ``fill(h5file)`` and publish it atomically.

    ``target`` is a path (temporary file + fsync + ``os.replace``) or a binary
    file object (built in memory, then written in one call).
    """
    if not isinstance(target, (str, bytes, os.PathLike)):
        if not hasattr(target, "write"):
            raise TypeError(f"save_checkpoint: expected a path or a writable binary file "
                            f"object, got {type(target).__name__}")
        buf = io.BytesIO()
        with h5py.File(buf, "w") as f:
            fill(f)
        target.write(buf.getvalue())
        if hasattr(target, "flush"):
            target.flush()
        return

    def write_hdf5(tmp):
        with h5py.File(tmp, "w") as f:
            fill(f)
    replace_atomically(target, write_hdf5)


def replace_atomically(path, write_tmp) -> None:
    """:func:`flodl_core.atomic_file.replace_atomically`, with errors as CheckpointError."""
    name = describe(path)
    directory = os.path.dirname(os.path.abspath(os.fsdecode(path)))
    if not os.path.isdir(directory):
        raise CheckpointError(f"{name!r}: directory {directory!r} does not exist")
    try:
        _replace_atomically(path, write_tmp)
    except OSError as e:
        raise CheckpointError(f"{name!r}: write failed: {e}") from e
