"""Module: the base class of every layer and model.

Assigning a Parameter, Buffer or Module to an attribute registers it, so
``named_parameters()`` finds ``"encoder.fc1.weight"`` with no bookkeeping::

    class MLP(Module):
        def __init__(self):
            super().__init__()
            self.fc1 = Linear(784, 128)
            self.fc2 = Linear(128, 10)

        def forward(self, x):
            return self.fc2(self.fc1(x).relu())
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from ..backend.array_module import device_of, xp_of
from ..backend.device import Device
from ..backend.dtype import to_numpy_dtype
from ..errors import ShapeError
from ..tensor import TensorLike, array_to_device
from .parameter import Buffer, Parameter


class Module:
    """Base class: override ``forward``; call the module to run it."""

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # ----------------------------------------------------------- registration
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before "
                                 f"assigning {name!r}")
        if isinstance(value, Parameter):
            keep = self._parameters
        elif isinstance(value, Buffer):
            keep = self._buffers
        elif isinstance(value, Module):
            keep = self._modules
        elif value is not None and name in self._parameters:
            # as torch: a plain tensor would silently stop being trained
            raise TypeError(f"{type(self).__name__}: cannot assign {type(value).__name__} as "
                            f"parameter {name!r} (Parameter or None expected)")
        elif value is not None and name in self._modules:
            raise TypeError(f"{type(self).__name__}: cannot assign {type(value).__name__} as "
                            f"child module {name!r} (Module or None expected)")
        elif value is not None and name in self._buffers and isinstance(value, TensorLike):
            # as torch: a tensor assigned to a buffer's name stays a buffer
            value = Buffer(value, persistent=self._buffers[name].persistent)
            keep = self._buffers
        else:
            keep = None
        # Replacing an entry of the same kind keeps its position, as in torch: re-assigning
        # ``layer.weight`` (weight tying, custom init) must not move it behind ``bias``,
        # or state_dict order and optimizer parameter indices stop matching PyTorch's.
        for table in (self._parameters, self._buffers, self._modules):
            if table is not keep:
                table.pop(name, None)
        if keep is None:
            object.__setattr__(self, name, value)
            return
        keep[name] = value
        self.__dict__.pop(name, None)

    def __getattr__(self, name):
        d = self.__dict__
        for table in ("_parameters", "_buffers", "_modules"):
            if table in d and name in d[table]:
                return d[table][name]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def __delattr__(self, name):
        for table in (self._parameters, self._buffers, self._modules):
            if name in table:
                del table[name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` (None keeps the slot, like a layer without bias)."""
        if param is None:
            self._parameters.pop(name, None)
            object.__setattr__(self, name, None)
        else:
            setattr(self, name, param)

    def register_buffer(self, name: str, value, persistent: bool = True) -> None:
        """Register non-trainable state (a Tensor becomes a Buffer)."""
        if value is None:
            object.__setattr__(self, name, None)
            return
        setattr(self, name, value if isinstance(value, Buffer) else Buffer(value, persistent))

    # ------------------------------------------------------------------ call
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ------------------------------------------------------------ traversal
    def named_children(self):
        return list(self._modules.items())

    def children(self) -> list:
        """Direct sub-modules."""
        return list(self._modules.values())

    sub_modules = children

    def named_modules(self, prefix: str = ""):
        """(path, module) for self and every descendant, each module once."""
        out, seen, stack = [], set(), [(prefix, self)]
        while stack:
            path, mod = stack.pop()
            if id(mod) in seen:
                continue
            seen.add(id(mod))
            out.append((path, mod))
            for name, child in reversed(list(mod._modules.items())):
                stack.append((f"{path}.{name}" if path else name, child))
        return out

    def modules(self) -> list:
        return [m for _, m in self.named_modules()]

    def _named(self, table, recurse=True):
        out, seen = [], set()
        mods = self.named_modules() if recurse else [("", self)]
        for path, mod in mods:
            for name, v in getattr(mod, table).items():
                if id(v) in seen:
                    continue   # shared parameters appear once
                seen.add(id(v))
                out.append((f"{path}.{name}" if path else name, v))
        return out

    def named_parameters(self, recurse: bool = True) -> list:
        """[("encoder.fc1.weight", Parameter), ...] in registration order."""
        return self._named("_parameters", recurse)

    def parameters(self, recurse: bool = True) -> list:
        return [p for _, p in self.named_parameters(recurse)]

    def named_buffers(self, recurse: bool = True) -> list:
        return self._named("_buffers", recurse)

    def buffers(self, recurse: bool = True) -> list:
        return [b for _, b in self.named_buffers(recurse)]

    def num_parameters(self, trainable_only: bool = False) -> int:
        return sum(p.numel() for p in self.parameters()
                   if not trainable_only or p.requires_grad)

    # ----------------------------------------------------------------- modes
    def train(self, mode: bool = True) -> "Module":
        """Training mode (dropout active, batch norm uses batch statistics)."""
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop every parameter's gradient; ``set_to_none=False`` gives zeros instead
        (PyTorch's signature, so ported loops run; same rule as ``Optimizer.zero_grad``)."""
        for p in self.parameters():
            g = p.grad_array()
            if set_to_none or g is None:
                p.zero_grad()
            else:
                # A fresh array: the old one may be shared, so it is not zeroed in place.
                p._grad = xp_of(g).zeros_like(g)

    def reset(self) -> None:
        """Clear per-sequence state of stateful modules (recurrent caches); recursive."""
        for m in self.modules():
            if m is not self:
                m.reset()

    def detach_state(self) -> None:
        """Cut stateful modules' carried state from the graph (truncated BPTT); recursive."""
        for m in self.modules():
            if m is not self:
                m.detach_state()

    # -------------------------------------------------------- device, dtype
    def move_to_device(self, device) -> "Module":
        """Move every parameter and buffer to ``device`` in place; returns self."""
        device = Device.parse(device)
        for v in self.parameters() + self.buffers():
            if device_of(v._data) != device:
                v._replace(array_to_device(v._data, device))
        return self

    def to_dtype(self, dtype) -> "Module":
        """Convert floating parameters and buffers to ``dtype`` in place; returns self."""
        np_dtype = to_numpy_dtype(dtype)
        for v in self.parameters() + self.buffers():
            d = v._data
            if (d.dtype.kind == "f" or d.dtype.name == "bfloat16") and d.dtype != np_dtype:
                v._replace(d.astype(np_dtype))
        return self

    def to(self, target) -> "Module":
        """``to(Device)`` or ``to(DType)``."""
        from ..backend.dtype import DType
        return self.to_dtype(target) if isinstance(target, DType) else self.move_to_device(target)

    # ------------------------------------------------------------ state dict
    def _state_entries(self) -> list:
        """(dotted name, Parameter or persistent Buffer) in PyTorch's ``state_dict`` order:
        each module's own parameters, then its persistent buffers, then its children's
        entries. As in torch, a tensor shared by two modules is listed under both names,
        so a state dict of a model with tied weights loads either way."""
        out = []

        def walk(mod, prefix, path):
            out.extend((prefix + n, p) for n, p in mod._parameters.items())
            out.extend((prefix + n, b) for n, b in mod._buffers.items() if b.persistent)
            for n, child in mod._modules.items():
                if id(child) not in path:        # guard against cycles
                    walk(child, f"{prefix}{n}.", path | {id(child)})

        walk(self, "", {id(self)})
        return out

    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """Parameters and persistent buffers as NumPy copies, by dotted name, in
        PyTorch's order (per module: parameters, buffers, then sub-modules)."""
        return OrderedDict((name, t._host().copy()) for name, t in self._state_entries())

    def load_state_dict(self, state: dict, strict: bool = True) -> "LoadReport":
        """Copy values from ``{name: array}`` (NumPy arrays or tensors).

        Everything is validated before anything is written, so a failed load
        leaves the model unchanged. With ``strict``, missing or unexpected
        names raise; shape mismatches always raise.
        """
        targets = OrderedDict(self._state_entries())
        report = LoadReport(
            missing=[n for n in targets if n not in state],
            skipped=[n for n in state if n not in targets])
        staged = []
        for name, target in targets.items():
            if name not in state:
                continue
            value = state[name]
            arr = value._host() if isinstance(value, TensorLike) else np.asarray(value)
            if tuple(arr.shape) != tuple(target.shape):
                report.mismatched.append((name, tuple(arr.shape), tuple(target.shape)))
                continue
            staged.append((target, arr))
            report.loaded.append(name)
        problems = report.mismatched or (strict and (report.missing or report.unexpected))
        if problems:
            raise ShapeError(f"load_state_dict into {type(self).__name__}: {report}")
        for target, arr in staged:
            data = target._data
            new = array_to_device(np.asarray(arr, dtype=data.dtype), device_of(data))
            target._replace(new.copy() if new is arr else new)
        return report

    # ------------------------------------------------------------ checkpoints
    # The io layer sits above nn; it is imported when a checkpoint is used, so
    # importing nn never needs h5py's import time.
    def _structural_hash_or_none(self):
        """A Graph's structural hash; plain Modules have none (names and shapes
        are their only identity, checked entry by entry)."""
        fn = getattr(self, "structural_hash", None)
        return fn() if callable(fn) else None

    def _persistent_buffers(self) -> list:
        return [(n, b) for n, b in self.named_buffers() if b.persistent]

    def save_checkpoint(self, path, optimizer=None, compress: bool = False, *, scaler=None,
                        metadata: dict | None = None) -> None:
        """Write parameters, persistent buffers and (for a Graph) the structural
        hash to an HDF5 checkpoint, atomically; ``optimizer``/``scaler`` state and
        a JSON ``metadata`` dict (epoch, step, ...) go along when given."""
        from ..io.checkpoint import save_checkpoint
        save_checkpoint(path, self.named_parameters(), self._persistent_buffers(),
                        self._structural_hash_or_none(), optimizer=optimizer, scaler=scaler,
                        optimizer_param_names=self._optimizer_param_names(optimizer),
                        compress=compress, metadata=metadata)

    def load_checkpoint(self, path, strict: bool = False, *, partial: bool = False,
                        check_finite: bool = False, optimizer=None,
                        scaler=None) -> "LoadReport":
        """Load a checkpoint written by :meth:`save_checkpoint`; all or nothing.

        A file saved from another architecture (different structural hash) is
        refused unless ``partial=True``, which loads every entry whose name and
        shape match. ``strict=True`` makes any skipped, missing or mismatched
        entry an error. ``optimizer``/``scaler`` are restored from the same file.
        """
        from ..io.checkpoint import load_checkpoint
        return load_checkpoint(path, self.named_parameters(), self._persistent_buffers(),
                               None if partial else self._structural_hash_or_none(),
                               strict=strict, check_finite=check_finite,
                               optimizer=optimizer, scaler=scaler,
                               optimizer_param_names=self._optimizer_param_names(optimizer))

    def _optimizer_param_names(self, optimizer):
        """The names of ``optimizer``'s parameters in its order (None if any is foreign)."""
        if optimizer is None:
            return None
        names = {id(p): n for n, p in self.named_parameters()}
        order = [names.get(id(p)) for g in optimizer.param_groups for p in g["params"]]
        return None if None in order else order

    # ------------------------------------------------------------------ repr
    def extra_repr(self) -> str:
        return ""

    def __repr__(self):
        extra = self.extra_repr()
        lines = [f"{type(self).__name__}({extra})"]
        if self._modules:
            lines = [f"{type(self).__name__}("] + ([f"  {extra}"] if extra else [])
            for name, child in self._modules.items():
                body = repr(child).replace("\n", "\n  ")
                lines.append(f"  ({name}): {body}")
            lines.append(")")
        n = self.num_parameters()
        if n:
            lines[-1] += f"  # {n:,} params"
        return "\n".join(lines)


@dataclass
class LoadReport:
    """What a load found.

    ``loaded``: names copied into the model; ``skipped``: names in the source
    the model does not have (``unexpected`` is the same list under PyTorch's
    name); ``missing``: model names the source lacks (kept as they were);
    ``mismatched``: ``(name, given shape, expected shape)``, not loaded;
    ``metadata``: what the checkpoint was saved with (empty for a state dict).
    """

    loaded: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    missing: list = field(default_factory=list)
    mismatched: list = field(default_factory=list)
    metadata: dict = field(default_factory=dict)

    @property
    def unexpected(self) -> list:
        return self.skipped

    # the field names of torch's load_state_dict result, so ported code reads them as is
    @property
    def missing_keys(self) -> list:
        return self.missing

    @property
    def unexpected_keys(self) -> list:
        return self.skipped

    @property
    def ok(self) -> bool:
        return not (self.missing or self.skipped or self.mismatched)

    def __str__(self):
        parts = [f"loaded {len(self.loaded)}"]
        if self.skipped:
            parts.append(f"skipped (not in the model) {self.skipped}")
        if self.missing:
            parts.append(f"missing (not in the source) {self.missing}")
        if self.mismatched:
            parts.append("shape mismatch " + ", ".join(
                f"{n}: given {g}, expected {e}" for n, g, e in self.mismatched))
        return "; ".join(parts)


class ModuleList(Module):
    """A list of modules, registered as children "0", "1", ..."""

    def __init__(self, modules=()):
        super().__init__()
        for m in modules:
            self.append(m)

    def append(self, module: Module) -> "ModuleList":
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList: expected a Module, got {type(module).__name__}")
        self._modules[str(len(self._modules))] = module
        return self

    def __getitem__(self, i):
        return list(self._modules.values())[i]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class ModuleDict(Module):
    """A dict of modules, registered under their keys."""

    def __init__(self, modules=None):
        super().__init__()
        for k, m in (modules or {}).items():
            self[k] = m

    def __setitem__(self, key: str, module: Module):
        if not isinstance(module, Module):
            raise TypeError(f"ModuleDict: expected a Module, got {type(module).__name__}")
        self._modules[key] = module

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __contains__(self, key):
        return key in self._modules

    def __len__(self):
        return len(self._modules)

    def keys(self):
        return self._modules.keys()

    def items(self):
        return self._modules.items()

    def values(self):
        return self._modules.values()


def collect_parameters(parts) -> list:
    """Parameters of several modules (or Parameters) without duplicates, in order."""
    out, seen = [], set()
    for part in parts:
        params = part.parameters() if isinstance(part, Module) else [part]
        for p in params:
            if id(p) not in seen:
                seen.add(id(p))
                out.append(p)
    return out
