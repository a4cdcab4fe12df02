"""Optimizer and GradScaler state inside an HDF5 group.

An optimizer's ``state_dict()`` (PyTorch's layout) maps onto HDF5 directly::

    optimizer/                 attrs: class ("Adam"), param_groups (JSON), param_count
      param_names              dataset of strings (when saved with a model)
      state/<index>/           one group per parameter that has state
         <key>                 arrays (exp_avg, momentum_buffer, ...) as datasets
         attrs                 numbers (step, ...); "none_keys": JSON list of keys
                               whose value is None (lazily created buffers)
      grad_scaler/             attrs: PyTorch's GradScaler keys (scale, ...)

Reading validates everything it can without the optimizer; :func:`apply_state`
then loads the optimizer and the scaler together and, if the second one
refuses its state, puts the first one back, so neither is left half-loaded.
"""
from __future__ import annotations

import json

import h5py
import numpy as np

from ..errors import CheckpointError
from .hdf5_file import (decode_array, describe, encode_array, open_for_read, write_atomic)

__all__ = ["write_group", "read_group", "apply_state", "save_optimizer_state",
           "load_optimizer_state", "OPTIMIZER_FORMAT"]

OPTIMIZER_FORMAT = "flodl_core.optimizer"
OPTIMIZER_VERSION = 1
_STR = h5py.string_dtype("utf-8")


def write_group(parent, optimizer=None, scaler=None, param_names=None) -> None:
    """Write ``optimizer/`` (and its ``grad_scaler/``) under ``parent``."""
    group = parent.create_group("optimizer")
    if optimizer is not None:
        sd = optimizer.state_dict()
        group.attrs["class"] = type(optimizer).__name__
        group.attrs["param_groups"] = json.dumps(sd["param_groups"])
        group.attrs["param_count"] = sum(len(g["params"]) for g in sd["param_groups"])
        if param_names is not None:
            group.create_dataset("param_names", data=np.array(param_names, dtype=object),
                                 dtype=_STR)
        states = group.create_group("state", track_order=True)
        for index, st in sd["state"].items():
            g = states.create_group(str(index))
            none_keys = []
            for key, value in st.items():
                if value is None:
                    none_keys.append(key)
                elif isinstance(value, np.ndarray):
                    data, dtype_name = encode_array(value, f"optimizer state {index}/{key}")
                    g.create_dataset(key, data=data).attrs["dtype"] = dtype_name
                else:
                    g.attrs[key] = value
            g.attrs["none_keys"] = json.dumps(none_keys)
    if scaler is not None:
        sg = group.create_group("grad_scaler")
        sg.attrs["enabled"] = bool(scaler.enabled)
        for key, value in scaler.state_dict().items():
            sg.attrs[key] = value


def read_group(f, where: str) -> dict:
    """``{"class", "state_dict", "param_names", "scaler"}`` from an open file's ``optimizer/``.

    Missing pieces are None. Raises CheckpointError naming ``where`` and the entry.
    """
    if "optimizer" not in f:
        raise CheckpointError(f"{where}: holds no optimizer state (save it with "
                              f"save_checkpoint(..., optimizer=...))")
    group = f["optimizer"]
    out = {"class": None, "state_dict": None, "param_names": None, "scaler": None}
    if "class" in group.attrs:
        out["class"] = _text(group.attrs["class"])
        try:
            groups = json.loads(_text(group.attrs["param_groups"]))
        except (KeyError, ValueError) as e:
            raise CheckpointError(f"{where}: optimizer/param_groups is missing or not "
                                  f"JSON: {e}") from None
        state = {}
        for key in group.get("state", {}):
            g = group["state"][key]
            entry = f"{where}: optimizer/state/{key}"
            st = {k: _scalar(v) for k, v in g.attrs.items() if k != "none_keys"}
            st.update((k, None) for k in json.loads(_text(g.attrs.get("none_keys", "[]"))))
            for name, ds in g.items():
                st[name] = decode_array(ds[()], ds.attrs.get("dtype"), f"{entry}/{name}")
            try:
                state[int(key)] = st
            except ValueError:
                raise CheckpointError(f"{entry}: state groups must be named by parameter "
                                      f"index") from None
        out["state_dict"] = {"state": state, "param_groups": groups}
        if "param_names" in group:
            out["param_names"] = [_text(n) for n in group["param_names"][()]]
    if "grad_scaler" in group:
        attrs = group["grad_scaler"].attrs
        out["scaler"] = {k: _scalar(v) for k, v in attrs.items() if k != "enabled"}
    return out


def apply_state(contents: dict, optimizer, scaler, where: str, param_names=None) -> None:
    """Load optimizer (and scaler) state read by :func:`read_group`, all or nothing."""
    if optimizer is not None:
        if contents["state_dict"] is None:
            raise CheckpointError(f"{where}: holds GradScaler state but no optimizer state")
        saved_class, current = contents["class"], type(optimizer).__name__
        if saved_class != current:
            raise CheckpointError(f"{where}: optimizer state was saved from {saved_class}, "
                                  f"cannot load it into {current}")
        saved_names = contents["param_names"]
        if param_names is not None and saved_names is not None and saved_names != param_names:
            raise CheckpointError(f"{where}: optimizer state was saved for parameters "
                                  f"{saved_names}, this optimizer holds {param_names}")
        _restore_tuples(contents["state_dict"]["param_groups"], optimizer.param_groups)
    if scaler is not None and contents["scaler"] is None:
        raise CheckpointError(f"{where}: holds no GradScaler state (save it with "
                              f"scaler=...)")
    backup = optimizer.state_dict() if optimizer is not None else None
    try:
        if optimizer is not None:
            optimizer.load_state_dict(contents["state_dict"])
        if scaler is not None:
            scaler.load_state_dict(contents["scaler"])
    except Exception as e:      # whatever refused the state, undo the part that loaded
        if backup is not None:
            optimizer.load_state_dict(backup)
        raise CheckpointError(f"{where}: optimizer/scaler state refused, nothing was "
                              f"changed: {e}") from e


def save_optimizer_state(path, optimizer, scaler=None) -> None:
    """A file with only optimizer (and scaler) state; written atomically."""
    def fill(f):
        f.attrs["format"] = OPTIMIZER_FORMAT
        f.attrs["format_version"] = OPTIMIZER_VERSION
        write_group(f, optimizer, scaler)
    write_atomic(path, fill)


def load_optimizer_state(path, optimizer, scaler=None) -> None:
    """Restore from :func:`save_optimizer_state`'s file or a full checkpoint."""
    where = f"optimizer state {describe(path)!r}"
    from .checkpoint import check_header
    with open_for_read(path) as f:
        check_header(f, where, formats=(OPTIMIZER_FORMAT,))
        contents = read_group(f, where)
    apply_state(contents, optimizer, scaler, where)


# --------------------------------------------------------------------------- helpers

def _text(v) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _scalar(v):
    """h5py attribute -> Python number/str (NumPy scalars become int/float/bool)."""
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, bytes):
        return v.decode()
    return v


def _restore_tuples(saved_groups, current_groups) -> None:
    """JSON turns tuples (Adam's betas) into lists; give them back their type."""
    for saved, current in zip(saved_groups, current_groups):
        for key, value in saved.items():
            if isinstance(value, list) and isinstance(current.get(key), tuple):
                saved[key] = tuple(value)
