"""Optimizer base: parameter groups, per-parameter state, workspaces, state_dict.

An optimizer owns a list of parameter groups (plain dicts, as in PyTorch: the
hyper-parameters plus ``"params"``) and, for every parameter, a state dict that is
created lazily at the first step where that parameter has a gradient (Adagrad, as in
PyTorch, creates its state at construction and in ``add_param_group``). Groups can
be added later with ``add_param_group``, as in PyTorch. Subclasses write one method, ``_update(w, g, state, group, work)``, that updates the array
``w`` in place from the gradient ``g``; everything else lives here.

Why updates look the way they do:

* Gradients are read, never written: the engine may hand the same gradient array
  to several parameters or keep it elsewhere, so mutating it in place could change
  another parameter's gradient. Parameter arrays are owned and updated in place.
* Every temporary goes into a workspace (``work(slot)``): one flat buffer per slot,
  dtype and device, sized to the largest parameter and reused for every parameter
  and every step. With ``out=`` arithmetic a step allocates nothing proportional to
  the parameter count.
* ``master_weights=True`` keeps a float32 copy of each float16/bfloat16 parameter:
  the update runs on the copy (in float32, from the float32-cast gradient) and the
  parameter receives the rounded result, so updates smaller than half precision's
  resolution are not lost.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.grad_mode import enable_grad
from ..autograd.variable import Variable
from ..backend.array_module import xp_of
from ..backend.dtype import is_floating_numpy
from ..errors import OptimizerError

_HALF_NAMES = ("float16", "bfloat16")


class Optimizer:
    """Base class. Subclasses set ``defaults`` and implement ``_update``."""

    #: Hyper-parameters and their default values.
    defaults: dict = {}
    #: Number of scratch buffers ``_update`` asks ``work`` for.
    workspaces: int = 1

    def __init__(self, params, hyper: dict, master_weights: bool = False):
        self._setup(_as_groups(params, type(self).__name__), hyper, master_weights)

    # ------------------------------------------------------------ construction
    @classmethod
    def with_groups(cls, **defaults) -> "GroupBuilder":
        """Start a builder: ``Adam.with_groups().group(p1, lr=1e-4).group(p2, 1e-3).build()``.

        ``defaults`` override the optimizer's defaults for every group.
        """
        return GroupBuilder(cls, defaults)

    def _setup(self, groups, hyper: dict, master_weights: bool) -> None:
        name = type(self).__name__
        known = type(self).defaults
        self._check_known(hyper, name)
        #: The constructor's hyper-parameters (the class defaults overridden by its
        #: keywords), as PyTorch's ``optimizer.defaults``: a group that leaves an
        #: option out, here or in :meth:`add_param_group`, takes it from this dict.
        self.defaults = {**known, **hyper}
        self.master_weights = bool(master_weights)
        self.param_groups: list = []
        self._states: list = []
        taken = {}
        for index, (params, overrides) in enumerate(groups):
            where = f"{name} group {index}" if len(groups) > 1 else name
            group, ids = self._make_group(params, overrides, index, where, taken)
            taken.update(ids)
            self.param_groups.append(group)
            self._states.append([None] * len(group["params"]))
        if not taken:
            raise OptimizerError(f"{name}: got an empty parameter list")
        self._workspace = {}
        # Master weights: id(param) -> the array last written from its float32 copy,
        # to notice a parameter given new values behind our back (checkpoint, set_data).
        self._master_written = {}
        for index in range(len(self.param_groups)):
            self._group_added(index)

    def add_param_group(self, param_group: dict) -> None:
        """Add a group, as ``torch.optim.Optimizer.add_param_group``.

        ``param_group`` is a dict with ``"params"`` (a Parameter, an iterable of them
        or a Module) and any hyper-parameter; the ones left out take the
        constructor's values (:attr:`defaults`). Unknown keys, bad values and a
        parameter already in a group raise, and then nothing is changed. Typical use:
        unfreezing a backbone mid-training (``{"params": backbone.parameters(),
        "lr": 1e-5}``); the new parameters get their state at their first step
        (Adagrad's at once, as at construction), the other groups keep theirs.
        """
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}.add_param_group: param_group must be a dict with "
                            f"'params' and hyper-parameters, got "
                            f"{type(param_group).__name__}")
        index = len(self.param_groups)
        (params, overrides), = _as_groups([param_group], f"{name}.add_param_group",
                                          start=index)
        taken = {id(p): i for i, group in enumerate(self.param_groups)
                 for p in group["params"]}
        group, _ = self._make_group(params, overrides, index,
                                    f"{name}.add_param_group (group {index})", taken)
        # Validated: commit (one more group, one more list of states).
        self.param_groups.append(group)
        self._states.append([None] * len(group["params"]))
        self._group_added(index)

    def _check_known(self, keys, where: str) -> None:
        """Refuse hyper-parameter names this optimizer does not have."""
        known = type(self).defaults
        unknown = set(keys) - set(known)
        if unknown:
            raise TypeError(f"{where}: unknown hyper-parameter(s) {sorted(unknown)}; "
                            f"expected some of {list(known)}")

    def _make_group(self, params, overrides: dict, index: int, where: str, taken: dict):
        """A validated group dict and ``{id(param): index}`` for its parameters.

        ``taken`` maps the parameters of the other groups to their group index.
        Nothing is changed on the optimizer.
        """
        name = type(self).__name__
        self._check_known(overrides, f"{name}: group {index}")
        group = {**self.defaults, **{k: v for k, v in overrides.items() if v is not None}}
        self._check_hyper(group, where)
        plist = _param_list(params, name)
        ids = {}
        for p in plist:
            other = taken.get(id(p), ids.get(id(p)))
            if other is not None:
                raise OptimizerError(f"{name}: a parameter of shape {p.shape} appears in "
                                     f"more than one parameter group (group {other} and "
                                     f"group {index}); each parameter may belong to one "
                                     f"group only")
            ids[id(p)] = index
        group["params"] = plist
        return group, ids

    def _group_added(self, index: int) -> None:
        """Called for each group at construction and by :meth:`add_param_group`
        (Adagrad creates the group's state here)."""

    def _check_hyper(self, group: dict, where: str) -> None:
        """Validate a group's hyper-parameters (subclasses extend)."""
        _check_range(where, "lr", group["lr"], 0.0)

    # ------------------------------------------------------------- learning rate
    @property
    def lr(self) -> float:
        """The learning rate of the first group."""
        return self.param_groups[0]["lr"]

    def set_lr(self, lr: float) -> None:
        """Set the learning rate of every group."""
        _check_range(type(self).__name__, "lr", lr, 0.0)
        for group in self.param_groups:
            group["lr"] = lr

    def set_group_lr(self, index: int, lr: float) -> None:
        """Set the learning rate of group ``index``."""
        _check_range(type(self).__name__, "lr", lr, 0.0)
        self._group(index)["lr"] = lr

    def group_lr(self, index: int) -> float:
        return self._group(index)["lr"]

    def scale_lr(self, factor: float) -> None:
        """Multiply every group's learning rate by ``factor``."""
        _check_range(type(self).__name__, "scale_lr factor", factor, 0.0)
        for group in self.param_groups:
            group["lr"] *= factor

    def _group(self, index: int) -> dict:
        if not -len(self.param_groups) <= index < len(self.param_groups):
            raise IndexError(f"{type(self).__name__}: group {index} out of range "
                             f"({len(self.param_groups)} group(s))")
        return self.param_groups[index]

    # ------------------------------------------------------------------ stepping
    def parameters(self) -> list:
        """Every parameter of every group, in order."""
        return [p for group in self.param_groups for p in group["params"]]

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop every gradient (``set_to_none=False`` sets them to zeros instead)."""
        for p in self.parameters():
            if set_to_none or p._grad is None:
                p._grad = None
            else:
                # A fresh array: the old one may be shared, so it is not zeroed in place.
                g = p.grad_array()
                p._grad = xp_of(g).zeros_like(g)

    def step(self, closure=None):
        """Update every parameter that has a gradient; returns ``closure()`` if given.

        Parameters without a gradient (frozen or unused this step) are skipped and
        keep their state untouched.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group, states in zip(self.param_groups, self._states):
            for j, p in enumerate(group["params"]):
                g = p.grad_array()
                if g is None:
                    continue
                st = states[j]
                if st is None:
                    st = states[j] = self._new_state(p, group)
                self._step_param(p, g, st, group)
        return loss

    def _step_param(self, p, g, st, group) -> None:
        w = st.get("master_weight")
        if w is None:
            self._update(p._data, g, st, group, self._work_for(p._data))
            return
        # Master weights: cast the gradient to float32 in a workspace, update the
        # float32 copy, then round it into the half-precision parameter.
        last = self._master_written.get(id(p))
        if last is not None and last is not p._data:
            w[...] = p._data        # new values were loaded into the parameter: adopt them
        work = self._work_for(w, extra=1)
        g32 = work(self.workspaces)
        g32[...] = g
        self._update(w, g32, st, group, work)
        xp_of(w).copyto(p._data, w, casting="unsafe")
        self._master_written[id(p)] = p._data

    def _new_state(self, p, group: dict) -> dict:
        data = p._data
        st = {}
        if self.master_weights and data.dtype.name in _HALF_NAMES:
            st["master_weight"] = data.astype(np.float32)
            data = st["master_weight"]
        self._init_state(st, data, group)
        return st

    # ------------------------------------------------------- subclass interface
    def _init_state(self, st: dict, w, group: dict) -> None:
        """Create the per-parameter state for the weight array ``w``.

        Array entries must be shaped like ``w``; an entry set to None is an array
        created at the first step (SGD's momentum buffer starts as the gradient).
        """
        raise NotImplementedError

    def _update(self, w, g, st: dict, group: dict, work) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------- workspaces
    def _work_for(self, w, extra: int = 0):
        """A ``work(slot)`` function giving scratch arrays shaped like ``w``."""
        xp = xp_of(w)
        key_base = (id(xp), w.dtype.str, getattr(w.device, "id", -1))
        shape, n = w.shape, w.size
        workspace = self._workspace

        def work(slot: int):
            key = key_base + (slot,)
            buf = workspace.get(key)
            if buf is None or buf.size < n:
                buf = workspace[key] = xp.empty(max(n, 1), dtype=w.dtype)
            return buf[:n].reshape(shape)
        return work

    # ------------------------------------------------------------ state_dict
    def state_dict(self) -> dict:
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [index, ...]}]}``.

        Indices count parameters across groups in order (as PyTorch does). Arrays
        are NumPy copies, numbers are Python numbers.
        """
        state, groups, index = {}, [], 0
        for group, states in zip(self.param_groups, self._states):
            indices = []
            for st in states:
                if st is not None:
                    state[index] = {k: _to_numpy_copy(v) for k, v in st.items()}
                indices.append(index)
                index += 1
            entry = {k: v for k, v in group.items() if k != "params"}
            entry["params"] = indices
            groups.append(entry)
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore hyper-parameters and state; validated fully before anything changes."""
        name = type(self).__name__
        try:
            loaded_groups = state_dict["param_groups"]
            loaded_state = state_dict["state"]
        except (KeyError, TypeError):
            raise OptimizerError(f"{name}.load_state_dict: expected a dict with 'state' and "
                             f"'param_groups'") from None
        if len(loaded_groups) != len(self.param_groups):
            raise OptimizerError(f"{name}.load_state_dict: the state has {len(loaded_groups)} "
                             f"parameter group(s), the optimizer {len(self.param_groups)}")
        flat = []
        for i, (saved, group) in enumerate(zip(loaded_groups, self.param_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise OptimizerError(f"{name}.load_state_dict: group {i} has "
                                 f"{len(saved['params'])} parameter(s) in the state, "
                                 f"{len(group['params'])} in the optimizer")
            flat.extend((i, j, saved_index, p) for j, (saved_index, p)
                        in enumerate(zip(saved["params"], group["params"])))
        new_groups = []
        for i, saved in enumerate(loaded_groups):
            hyper = {k: v for k, v in saved.items() if k != "params" and k in self.defaults}
            group = {**self.param_groups[i], **hyper}
            self._check_hyper(group, f"{name}.load_state_dict group {i}")
            new_groups.append(group)
        new_states = [[None] * len(g["params"]) for g in self.param_groups]
        for i, j, saved_index, p in flat:
            saved = loaded_state.get(saved_index, loaded_state.get(str(saved_index)))
            if saved is not None:
                new_states[i][j] = self._restore_state(saved, p, new_groups[i], saved_index)
        # Everything validated: commit. Loaded master copies are the reference now.
        self.param_groups[:] = new_groups
        self._states = new_states
        self._master_written = {}

    def save_state(self, path, scaler=None) -> None:
        """Write this optimizer's state (and a GradScaler's) to an HDF5 file, atomically."""
        from ..io.optimizer_state import save_optimizer_state
        save_optimizer_state(path, self, scaler)

    def load_state(self, path, scaler=None) -> None:
        """Restore from :meth:`save_state`'s file or from a checkpoint saved with
        ``optimizer=``; validated completely before anything changes."""
        from ..io.optimizer_state import load_optimizer_state
        load_optimizer_state(path, self, scaler)

    def _restore_state(self, saved: dict, p, group: dict, index) -> dict:
        name = type(self).__name__
        fresh = self._new_state(p, group)
        missing = set(fresh) - set(saved)
        if missing:
            raise OptimizerError(f"{name}.load_state_dict: state of parameter {index} lacks "
                             f"{sorted(missing)}")
        st = {}
        for key, ref in fresh.items():
            value = saved[key]
            if ref is None:             # an array created lazily: None or shaped like p
                if value is None:
                    st[key] = None
                    continue
                ref = p._data if "master_weight" not in fresh else fresh["master_weight"]
            if hasattr(ref, "shape"):
                value = np.asarray(value) if not hasattr(value, "shape") else value
                if tuple(value.shape) != tuple(ref.shape):
                    raise OptimizerError(f"{name}.load_state_dict: state '{key}' of parameter "
                                     f"{index} has shape {tuple(value.shape)}, the "
                                     f"parameter {tuple(ref.shape)}")
                arr = xp_of(ref).asarray(_to_numpy_copy(value)) if xp_of(ref) is not np \
                    else np.array(value, copy=True)
                st[key] = arr.astype(ref.dtype, copy=False)
            else:
                st[key] = type(ref)(_to_number(value))
        return st

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            hyper = ", ".join(f"{k}={v}" for k, v in group.items() if k != "params")
            n = sum(p.numel() for p in group["params"])
            lines.append(f"  group {i}: {len(group['params'])} tensors, {n:,} values, {hyper}")
        return "\n".join(lines + [")"])


class GroupBuilder:
    """Collects parameter groups, then ``build()`` makes the optimizer."""

    def __init__(self, cls, defaults: dict):
        self._cls = cls
        self._defaults = defaults
        self._groups = []
        self._master_weights = defaults.pop("master_weights", False)

    def group(self, params, lr: float | None = None, **overrides) -> "GroupBuilder":
        """Add a group; ``lr`` and any hyper-parameter override the defaults."""
        self._groups.append((params, {"lr": lr, **overrides}))
        return self

    def build(self) -> Optimizer:
        if not self._groups:
            raise OptimizerError(f"{self._cls.__name__}.with_groups(): add at least one "
                             f"group before build()")
        opt = self._cls.__new__(self._cls)
        opt._setup(self._groups, self._defaults, self._master_weights)
        return opt


# ---------------------------------------------------------------- helpers
def as_param_list(params) -> list:
    """A Module, one Variable or an iterable of them, as a list."""
    if hasattr(params, "parameters") and callable(params.parameters):
        params = params.parameters()
    if isinstance(params, Variable):
        params = [params]
    return list(params)


def _as_groups(params, owner: str, start: int = 0) -> list:
    """``[(params, overrides), ...]`` for ``_setup`` (and ``add_param_group``).

    PyTorch's per-parameter options, ``[{"params": ..., "lr": ...}, ...]``, give one
    group per dict (its keys override the constructor's); anything else is one group.
    ``start`` is the index of the first dict's group, for error messages.
    """
    if isinstance(params, Variable) or hasattr(params, "parameters"):
        return [(params, {})]
    try:
        params = list(params)
    except TypeError:
        return [(params, {})]           # not iterable: _param_list reports it
    if not params or not all(isinstance(g, dict) for g in params):
        return [(params, {})]
    groups = []
    for index, g in enumerate(params, start):
        if "params" not in g:
            raise OptimizerError(f"{owner}: parameter group {index} has no 'params' entry")
        groups.append((g["params"], {k: v for k, v in g.items() if k != "params"}))
    return groups


def _param_list(params, owner: str) -> list:
    plist = as_param_list(params)
    for p in plist:
        if not isinstance(p, Variable):
            raise TypeError(f"{owner}: expected Parameters (Variables), got "
                            f"{type(p).__name__}")
        if p._creator is not None:
            raise OptimizerError(f"{owner}: can only optimize leaf Variables; got one produced "
                             f"by {p._creator.op_name}")
        if not is_floating_numpy(p._data.dtype):
            raise TypeError(f"{owner}: can only optimize floating-point parameters, got "
                            f"{p.dtype}")
    return plist


def _check_range(where: str, name: str, value, low: float, high: float = math.inf,
                 high_open: bool = False) -> None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{where}: {name} must be a number, got {value!r}") from None
    if not (low <= v and (v < high if high_open else v <= high)):
        bound = f"[{low}, {high})" if high_open else f"[{low}, {high}]"
        raise OptimizerError(f"{where}: {name} must be in {bound}, got {value!r}")


def _check_betas(where: str, betas) -> None:
    try:
        b1, b2 = betas
    except (TypeError, ValueError):
        raise TypeError(f"{where}: betas must be a pair (beta1, beta2), got {betas!r}") from None
    _check_range(where, "beta1", b1, 0.0, 1.0, high_open=True)
    _check_range(where, "beta2", b2, 0.0, 1.0, high_open=True)


def _to_numpy_copy(value):
    if hasattr(value, "get") and not isinstance(value, np.ndarray) and hasattr(value, "shape"):
        return value.get()          # CuPy -> NumPy
    if isinstance(value, np.ndarray):
        return value.copy()
    return value


def _to_number(value):
    if hasattr(value, "item"):
        return value.item()
    return value
