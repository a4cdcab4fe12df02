"""Rewrite a checkpoint so its names match a model whose naming changed.

Models get refactored: a layer is wrapped in a sub-graph, a tag is renamed,
and every parameter name moves while the weights stay valid. Migration maps
the old entries onto the new names:

1. **Exact names**: an entry whose name and shape both match a model entry
   keeps its name (``unchanged``).
2. **Unique shape + dtype**: among what is left, an entry whose shape and dtype
   match exactly one remaining model entry, which in turn matches only that
   entry, is renamed (``remapped``).
3. Anything else is reported, never guessed: several equal-shape candidates
   that cannot be told apart are ``ambiguous``; entries with no candidate are
   ``dropped``; model entries with none are ``missing``.

The new file holds only the mapped entries, under the model's names, with an
empty structural hash (the old hash described the old architecture) and the
source's metadata. Optimizer state is not carried over: it is indexed by
parameter position, which a refactor changes too.
"""
from __future__ import annotations

from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field

from .checkpoint import read_checkpoint, save_checkpoint

__all__ = ["MigrateReport", "migrate_checkpoint_file"]


@dataclass
class MigrateReport:
    """What :func:`migrate_checkpoint_file` did with every entry."""

    unchanged: list = field(default_factory=list)   # names kept as they were
    remapped: list = field(default_factory=list)    # (old name, new name)
    dropped: list = field(default_factory=list)     # file entries with no candidate
    missing: list = field(default_factory=list)     # model entries with no candidate
    ambiguous: list = field(default_factory=list)   # (model name, [candidate file names])

    def is_complete(self) -> bool:
        """Every model entry found its data and every file entry found a home."""
        return not (self.dropped or self.missing or self.ambiguous)

    def __str__(self):
        lines = [f"unchanged: {len(self.unchanged)}"]
        lines += [f"remapped: {old} -> {new}" for old, new in self.remapped]
        lines += [f"dropped: {name}" for name in self.dropped]
        lines += [f"missing: {name}" for name in self.missing]
        lines += [f"ambiguous: {name} (candidates {cands})" for name, cands in self.ambiguous]
        return "\n".join(lines)


def migrate_checkpoint_file(src, dst, named_parameters, named_buffers=()) -> MigrateReport:
    """Write ``dst``: ``src``'s entries renamed to the model's names (see module doc).

    ``src`` is read completely before ``dst`` is written (atomically), so
    ``src == dst`` migrates in place safely.
    """
    contents = read_checkpoint(src)
    old = contents.entries()
    params = OrderedDict(_signatures(named_parameters))
    buffers = OrderedDict(_signatures(named_buffers))
    model = OrderedDict(params)
    model.update(buffers)

    report, chosen = MigrateReport(), {}          # chosen: model name -> file name
    for name, (shape, _) in model.items():
        if name in old and tuple(old[name].shape) == shape:
            report.unchanged.append(name)
            chosen[name] = name
    taken = set(chosen.values())
    left_file = defaultdict(list)                   # (shape, dtype) -> file names
    for name, arr in old.items():
        if name not in taken:
            left_file[(tuple(arr.shape), arr.dtype.name)].append(name)
    left_model = defaultdict(list)
    for name, sig in model.items():
        if name not in chosen:
            left_model[sig].append(name)

    for sig, targets in left_model.items():
        candidates = left_file.get(sig, [])
        if not candidates:
            report.missing.extend(targets)
        elif len(candidates) == 1 and len(targets) == 1:
            chosen[targets[0]] = candidates[0]
            report.remapped.append((candidates[0], targets[0]))
        else:
            report.ambiguous.extend((t, list(candidates)) for t in targets)
    for sig, names in left_file.items():
        if sig not in left_model:
            report.dropped.extend(names)

    def pick(section):
        return [(n, old[chosen[n]]) for n in section if n in chosen]
    save_checkpoint(dst, pick(params), pick(buffers), structural_hash=None,
                    metadata=contents.metadata)
    return report


def _signatures(named):
    items = named.items() if isinstance(named, dict) else named
    for name, value in items:
        data = getattr(value, "_data", value)     # no device copy: shape and dtype only
        yield name, (tuple(data.shape), data.dtype.name)
