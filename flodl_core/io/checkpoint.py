"""Checkpoints: named parameters and buffers in one HDF5 file.

The layout (documented for other tools in ``docs/checkpoint-format.md``)::

    /                  attrs: format, format_version, framework_version,
                              structural_hash ("" when none), created (UTC, ISO 8601),
                              metadata (JSON, optional)
    /parameters/<name> one dataset per parameter, attr "dtype" (+ "name")
    /buffers/<name>    one dataset per persistent buffer, same attributes
    /optimizer/        optional: optimizer and GradScaler state (optimizer_state.py)

Loading happens in two phases so a model is never half-loaded:

1. :func:`read_checkpoint` reads and checks *every* entry into host memory
   (format, version, dtypes, finiteness when asked), and
2. :func:`load_checkpoint` matches them against the model, checks names,
   shapes, dtypes and the structural hash, and only when all of that passed
   writes the new arrays into the parameters (moving them to each parameter's
   device and dtype).

Nothing is ever unpickled or executed: HDF5 holds plain arrays and strings.
"""
from __future__ import annotations

import datetime as _dt
import json
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from ..errors import CheckpointError
from ..nn.module import LoadReport
from ..tensor import array_to_device
from ..backend.array_module import device_of
from .hdf5_file import (decode_array, describe, encode_array, escape_name, open_for_read,
                        unescape_name, write_atomic)
from . import optimizer_state

__all__ = ["save_checkpoint", "load_checkpoint", "read_checkpoint", "checkpoint_version",
           "checkpoint_keys", "checkpoint_info", "load_entries", "CheckpointContents",
           "FORMAT_NAME", "FORMAT_VERSION"]

FORMAT_NAME = "flodl_core.checkpoint"
FORMAT_VERSION = 1
SUPPORTED_VERSIONS = (1,)
_SECTIONS = ("parameters", "buffers")


@dataclass
class CheckpointContents:
    """Everything :func:`read_checkpoint` found, validated, as host arrays."""

    path: str
    version: int
    framework_version: str
    structural_hash: str
    created: str
    metadata: dict
    parameters: "OrderedDict[str, np.ndarray]" = field(default_factory=OrderedDict)
    buffers: "OrderedDict[str, np.ndarray]" = field(default_factory=OrderedDict)
    optimizer: dict | None = None

    def entries(self) -> "OrderedDict[str, np.ndarray]":
        """Parameters then buffers, by name."""
        out = OrderedDict(self.parameters)
        out.update(self.buffers)
        return out


# --------------------------------------------------------------------------- saving
def save_checkpoint(path_or_file, named_parameters, named_buffers=(), structural_hash=None,
                    *, optimizer=None, scaler=None, optimizer_param_names=None,
                    compress: bool = False, metadata: dict | None = None) -> None:
    """Write a checkpoint atomically.

    ``named_parameters``/``named_buffers``: ``[(name, Parameter|Buffer|Tensor|ndarray)]``
    or a dict. ``structural_hash``: the architecture's hash (``Graph.structural_hash()``)
    or None. ``optimizer``/``scaler`` add an ``optimizer/`` group; ``metadata`` is any
    JSON-serialisable dict (epoch, step, ...) returned by the load as
    ``report.metadata``. ``compress`` gzips every array (level 4, with shuffle).
    """
    where = f"save_checkpoint {describe(path_or_file)!r}"
    sections = {"parameters": _host_entries(named_parameters, "named_parameters", where),
                "buffers": _host_entries(named_buffers, "named_buffers", where)}
    clash = set(sections["parameters"]) & set(sections["buffers"])
    if clash:
        raise CheckpointError(f"{where}: names used by both a parameter and a buffer: "
                              f"{sorted(clash)}")
    if structural_hash is not None and not isinstance(structural_hash, str):
        raise TypeError(f"{where}: structural_hash must be a str or None, got "
                        f"{type(structural_hash).__name__}")
    if metadata is not None and not isinstance(metadata, dict):
        raise TypeError(f"{where}: metadata must be a dict, got {type(metadata).__name__}")
    try:
        meta_json = json.dumps(metadata or {})
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{where}: metadata must be JSON-serialisable: {e}") from None
    from .. import __version__

    def fill(f):
        f.attrs["format"] = FORMAT_NAME
        f.attrs["format_version"] = FORMAT_VERSION
        f.attrs["framework_version"] = __version__
        f.attrs["structural_hash"] = structural_hash or ""
        f.attrs["created"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        f.attrs["metadata"] = meta_json
        for section, entries in sections.items():
            group = f.create_group(section, track_order=True)   # keep model order
            for name, arr in entries.items():
                data, dtype_name = encode_array(arr, f"{where}: {section[:-1]} {name!r}")
                opts = ({"compression": "gzip", "compression_opts": 4, "shuffle": True}
                        if compress and data.ndim and data.size else {})
                ds = group.create_dataset(escape_name(name), data=data, **opts)
                ds.attrs["dtype"] = dtype_name
                ds.attrs["name"] = name
        if optimizer is not None or scaler is not None:
            optimizer_state.write_group(f, optimizer, scaler, optimizer_param_names)

    write_atomic(path_or_file, fill)


def _host_entries(named, argname: str, where: str) -> "OrderedDict[str, np.ndarray]":
    items = named.items() if isinstance(named, dict) else named
    out = OrderedDict()
    for item in items:
        try:
            name, value = item
        except (TypeError, ValueError):
            raise TypeError(f"{where}: {argname} must be (name, tensor) pairs or a dict, "
                            f"got an item {item!r}") from None
        if not isinstance(name, str) or not name:
            raise TypeError(f"{where}: {argname}: names must be non-empty strings, got "
                            f"{name!r}")
        if name in out:
            raise CheckpointError(f"{where}: {argname}: duplicate name {name!r}")
        if hasattr(value, "_host"):
            arr = value._host()
        elif isinstance(value, np.ndarray):
            arr = value
        elif hasattr(value, "get") and hasattr(value, "device"):   # a CuPy array
            arr = value.get()
        else:
            raise TypeError(f"{where}: {argname} {name!r}: expected a Parameter, Buffer, "
                            f"Tensor or ndarray, got {type(value).__name__}")
        out[name] = arr
    return out


# --------------------------------------------------------------------------- reading
def check_header(f, where: str, formats=(FORMAT_NAME,)) -> int:
    """Validate the root attributes; returns the format version."""
    fmt = f.attrs.get("format")
    fmt = fmt.decode() if isinstance(fmt, bytes) else fmt
    if fmt not in formats + (FORMAT_NAME,):
        if fmt == optimizer_state.OPTIMIZER_FORMAT:
            raise CheckpointError(f"{where}: is an optimizer state file (written by "
                                  f"Optimizer.save_state), not a model checkpoint; read it "
                                  f"with optimizer.load_state(path)")
        raise CheckpointError(f"{where}: not a flodl_core file (root attribute 'format' "
                              f"is {fmt!r}, expected {FORMAT_NAME!r})")
    version = f.attrs.get("format_version")
    try:
        version = int(version)
    except (TypeError, ValueError):
        raise CheckpointError(f"{where}: missing or invalid format_version {version!r}") \
            from None
    if version not in SUPPORTED_VERSIONS:
        raise CheckpointError(f"{where}: unknown format version {version} (this build of "
                              f"flodl_core reads versions {list(SUPPORTED_VERSIONS)}); "
                              f"upgrade flodl_core to read it")
    return version


def read_checkpoint(path_or_file, *, check_finite: bool = False,
                    with_optimizer: bool = False) -> CheckpointContents:
    """Read and validate every entry of a checkpoint into host NumPy arrays.

    Raises CheckpointError naming the file and the entry for a missing,
    non-HDF5, truncated or corrupt file, an unknown format version, an entry
    whose data disagrees with its recorded dtype, and (``check_finite``) an
    entry holding NaN or Inf.
    """
    name = describe(path_or_file)
    where = f"checkpoint {name!r}"
    with open_for_read(path_or_file) as f:
        version = check_header(f, where)
        attrs = _root_attrs(f)
        try:
            metadata = json.loads(attrs.get("metadata", "{}"))
        except ValueError:
            raise CheckpointError(f"{where}: the 'metadata' attribute is not JSON") from None
        contents = CheckpointContents(
            path=name, version=version, framework_version=str(attrs.get("framework_version", "")),
            structural_hash=str(attrs.get("structural_hash", "")),
            created=str(attrs.get("created", "")), metadata=metadata)
        seen = set()
        for section in _SECTIONS:
            if section not in f:
                raise CheckpointError(f"{where}: the '{section}' group is missing")
            target = getattr(contents, section)
            for key, ds in f[section].items():
                entry = unescape_name(key)
                label = f"{where}, entry {entry!r}"
                if entry in seen:
                    raise CheckpointError(f"{label}: stored both as a parameter and a buffer")
                seen.add(entry)
                if not hasattr(ds, "shape"):
                    raise CheckpointError(f"{label}: expected a dataset, found a group")
                try:
                    stored = ds[()]
                except (OSError, ValueError, RuntimeError) as e:
                    raise CheckpointError(f"{label}: data unreadable (truncated or "
                                          f"corrupt file?): {e}") from None
                arr = decode_array(np.asarray(stored), ds.attrs.get("dtype"), label)
                if check_finite and _is_float(arr.dtype) and arr.size:
                    # NumPy's isfinite has no bfloat16 loop: widen that one only
                    finite = np.isfinite(arr if arr.dtype.kind == "f" else
                                         arr.astype(np.float32))
                    if not finite.all():
                        raise CheckpointError(f"{label}: {int(finite.size - finite.sum())} "
                                              f"non-finite value(s) (NaN/Inf) with "
                                              f"check_finite=True")
                target[entry] = arr
        if with_optimizer:
            contents.optimizer = optimizer_state.read_group(f, where)
    return contents


def checkpoint_version(path_or_file) -> int:
    """The file's format version (1 for files written by this flodl_core)."""
    with open_for_read(path_or_file) as f:
        return check_header(f, f"checkpoint {describe(path_or_file)!r}")


def checkpoint_keys(path_or_file) -> list:
    """Entry names (parameters then buffers) without reading any array data."""
    where = f"checkpoint {describe(path_or_file)!r}"
    with open_for_read(path_or_file) as f:
        check_header(f, where)
        return [unescape_name(k) for s in _SECTIONS if s in f for k in f[s]]


def checkpoint_info(path_or_file) -> dict:
    """Root attributes, entry shapes/dtypes and whether optimizer state is present."""
    where = f"checkpoint {describe(path_or_file)!r}"
    with open_for_read(path_or_file) as f:
        version = check_header(f, where)
        attrs = _root_attrs(f)
        entries = {}
        for s in _SECTIONS:
            for key, ds in f.get(s, {}).items():
                dtype = ds.attrs.get("dtype")
                entries[unescape_name(key)] = (tuple(ds.shape), dtype.decode()
                                               if isinstance(dtype, bytes) else dtype)
        return {"format_version": version,
                "framework_version": str(attrs.get("framework_version", "")),
                "structural_hash": str(attrs.get("structural_hash", "")),
                "created": str(attrs.get("created", "")),
                "metadata": json.loads(attrs.get("metadata", "{}")),
                "entries": entries, "has_optimizer": "optimizer" in f}


# --------------------------------------------------------------------------- loading
def load_checkpoint(path_or_file, named_parameters, named_buffers=(), structural_hash=None,
                    *, strict: bool = False, check_finite: bool = False, optimizer=None,
                    scaler=None, optimizer_param_names=None) -> LoadReport:
    """Load a checkpoint into ``named_parameters``/``named_buffers``, all or nothing.

    Returns a :class:`LoadReport`: ``loaded``, ``skipped`` (in the file, not in
    the model), ``missing`` (in the model, not in the file), ``mismatched``
    (``(name, file shape, model shape)``: not loaded) and the saved ``metadata``.
    ``strict=True`` turns any skipped, missing or mismatched entry into a
    CheckpointError. ``structural_hash``: the model's hash; when both it and the
    file's are non-empty and differ, the load is refused (pass None to skip the
    check and load whatever matches by name and shape). Floating entries are cast
    to the parameter's dtype; a different kind (integers into floats, ...) is an
    error. ``optimizer``/``scaler`` are restored from the file's ``optimizer/``
    group in the same all-or-nothing step.
    """
    contents = read_checkpoint(path_or_file, check_finite=check_finite,
                               with_optimizer=optimizer is not None or scaler is not None)
    where = f"checkpoint {contents.path!r}"
    if structural_hash and contents.structural_hash and \
            structural_hash != contents.structural_hash:
        raise CheckpointError(
            f"{where} was saved from a different architecture: file structural hash "
            f"{contents.structural_hash}, model structural hash {structural_hash}. Pass "
            f"partial=True (or structural_hash=None) to load the entries whose names and "
            f"shapes still match, or migrate the file with migrate_checkpoint_file")
    return load_entries(contents.entries(), named_parameters, named_buffers, where,
                        strict=strict, metadata=contents.metadata,
                        before_commit=None if optimizer is None and scaler is None else
                        lambda: optimizer_state.apply_state(
                            contents.optimizer, optimizer, scaler, where,
                            optimizer_param_names))


def load_entries(entries, named_parameters, named_buffers, where: str, *,
                 strict: bool = False, metadata=None, before_commit=None) -> LoadReport:
    """Match ``{name: host array}`` to the model and write it, all or nothing.

    Shared by checkpoints and safetensors. ``before_commit`` runs after every
    check passed and before any parameter changes (optimizer state loads there,
    so if it fails the model is still untouched).
    """
    targets = OrderedDict(_named(named_parameters, "named_parameters"))
    targets.update(_named(named_buffers, "named_buffers"))
    report, staged = _stage(entries, targets, where)
    report.metadata = dict(metadata or {})
    if strict and (report.skipped or report.missing or report.mismatched):
        raise CheckpointError(f"{where}: strict load refused, nothing was changed: {report}")
    if before_commit is not None:
        before_commit()
    for target, arr in staged:                       # validated: now nothing can fail
        target._replace(array_to_device(arr, device_of(target._data)))
    return report


def _named(named, argname):
    items = list(named.items() if isinstance(named, dict) else named)
    for item in items:
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)
                and hasattr(item[1], "_replace")):
            raise TypeError(f"load_checkpoint: {argname} must be (name, Parameter|Buffer) "
                            f"pairs (e.g. model.named_parameters()), got {item!r}")
    return items


def _stage(entries, targets, where):
    """Match file entries to model targets; returns (report, [(target, new array)])."""
    report = LoadReport(skipped=[n for n in entries if n not in targets])
    staged = []
    for name, target in targets.items():
        if name not in entries:
            report.missing.append(name)
            continue
        arr = entries[name]
        if tuple(arr.shape) != tuple(target.shape):
            report.mismatched.append((name, tuple(arr.shape), tuple(target.shape)))
            continue
        want = target._data.dtype
        if _kind(arr.dtype) != _kind(want):
            raise CheckpointError(f"{where}, entry {name!r}: dtype {arr.dtype} in the file "
                                  f"cannot be loaded into a {want} "
                                  f"{type(target).__name__.lower()} (floating types convert "
                                  f"into each other, integers into integers); nothing was "
                                  f"changed")
        if _kind(want) == "integer" and arr.size and arr.dtype != want:
            info = np.iinfo(want)
            if arr.min() < info.min or arr.max() > info.max:
                raise CheckpointError(f"{where}, entry {name!r}: values from {arr.min()} to "
                                      f"{arr.max()} do not fit the model's {want}; nothing "
                                      f"was changed")
        staged.append((target, arr if arr.dtype == want else arr.astype(want)))
        report.loaded.append(name)
    return report, staged


def _root_attrs(f) -> dict:
    """The file's root attributes, byte strings decoded."""
    return {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}


def _is_float(dt) -> bool:
    return dt.kind == "f" or dt.name == "bfloat16"


def _kind(dt) -> str:
    if _is_float(dt):
        return "floating"
    return {"i": "integer", "u": "integer", "b": "bool"}.get(dt.kind, dt.name)
