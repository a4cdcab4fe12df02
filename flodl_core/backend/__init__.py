"""Devices, dtypes, the array module per device, random state, memory queries."""
from .allocator import malloc_tuned, tune_malloc
from .array_module import (cuda_available, cuda_device_count, cupy_module, device_of,
                           on_device, xp_for_device, xp_of)
from .device import CPU, Device
from .dtype import DType, TensorOptions, dtype_of, to_numpy_dtype
from .memory import cuda_memory_info, rss_kb
from .parallel import get_num_threads, set_num_threads
from .rng import Rng, cuda_manual_seed_all, manual_seed

tune_malloc()

__all__ = [
    "Device", "CPU", "DType", "TensorOptions", "Rng", "manual_seed", "cuda_manual_seed_all",
    "cuda_available", "cuda_device_count", "rss_kb", "cuda_memory_info", "malloc_tuned",
    "tune_malloc", "xp_of", "xp_for_device", "device_of", "dtype_of", "to_numpy_dtype",
    "cupy_module", "on_device", "get_num_threads", "set_num_threads",
]
