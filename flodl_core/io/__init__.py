"""Model I/O: HDF5 checkpoints, optimizer state, migration, safetensors.

``Module.save_checkpoint``/``load_checkpoint``, ``Graph.load_subgraph_checkpoint``
and ``Optimizer.save_state``/``load_state`` are the everyday entry points; the
free functions here work on any list of named parameters and buffers. The file
format is described in ``docs/checkpoint-format.md``.
"""
from ..nn.module import LoadReport
from .checkpoint import (FORMAT_NAME, FORMAT_VERSION, CheckpointContents, checkpoint_info,
                         checkpoint_keys, checkpoint_version, load_checkpoint, read_checkpoint,
                         save_checkpoint)
from .migrate import MigrateReport, migrate_checkpoint_file
from .optimizer_state import load_optimizer_state, save_optimizer_state
from .safetensors_io import export_safetensors, import_safetensors

__all__ = ["save_checkpoint", "load_checkpoint", "read_checkpoint", "checkpoint_version",
           "checkpoint_keys", "checkpoint_info", "CheckpointContents", "LoadReport",
           "MigrateReport", "migrate_checkpoint_file", "save_optimizer_state",
           "load_optimizer_state", "export_safetensors", "import_safetensors",
           "FORMAT_NAME", "FORMAT_VERSION"]
