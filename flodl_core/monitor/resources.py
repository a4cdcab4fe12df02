"""Resource sampling: CPU, RAM, GPU utilisation and VRAM, measured while training.

A *probe* is a callable that returns a dict with some of the resource keys
(``cpu_percent``, ``ram_used``, ``ram_total``, ``gpu_percent``, ``vram_used``,
``vram_total``). :class:`ResourceSampler` calls its probes about once per
``interval`` seconds on a daemon thread and keeps the samples; at the end of
an epoch the Monitor asks for :meth:`ResourceSampler.take_epoch`, which
reduces the samples taken during that epoch to one record:

* percentages (CPU, GPU) are **averaged**: a single reading says little about
  an epoch that alternates between data loading and compute;
* memory (RAM, VRAM) is the **last** reading: memory is a level, not a rate,
  and the state at the end of the epoch is what tells whether the run is
  heading for an out-of-memory error.

A short epoch may end before the thread sampled anything; then one sample is
taken on the spot. Probes are injectable (``ResourceSampler(probes=[...])``),
which is how the tests stay deterministic.

What cannot be measured is left out, never an error: a probe that raises is
dropped silently for the rest of the run. The default probes are

* CPU and RAM through psutil (whole machine: other processes count too);
* GPU utilisation through NVML (``pynvml``, package ``nvidia-ml-py``), only
  when it imports and sees a GPU;
* VRAM through CuPy's memory pool, only when CuPy sees a GPU. ``vram_used`` is
  what the pool holds on the device (live arrays plus cached blocks, so what
  this process takes from the card), ``vram_total`` the card's capacity from
  ``cudaMemGetInfo``. Nothing is queried before the pool holds memory, so a
  run that stays on the CPU never creates a CUDA context.

All GPU readings are for the first CUDA device.
"""
from __future__ import annotations

import math
import numbers
import os
import platform
import threading
import time

import numpy as np

__all__ = ["RESOURCE_KEYS", "ResourceSampler", "default_probes", "cpu_ram_probe",
           "NvmlProbe", "CupyVramProbe", "hardware_summary", "reduce_samples"]

RESOURCE_KEYS = ("cpu_percent", "ram_used", "ram_total", "gpu_percent", "vram_used",
                 "vram_total")
_AVERAGED = ("cpu_percent", "gpu_percent")


# --------------------------------------------------------------------------- probes
def cpu_ram_probe():
    """A probe for whole-machine CPU % and RAM, or None without psutil."""
    try:
        import psutil
    except ImportError:
        return None
    # cpu_percent(None) measures since its previous call; the first call only
    # starts the clock (it returns a meaningless 0.0).
    psutil.cpu_percent(interval=None)
    last = {"time": time.monotonic(), "cpu": None}

    def probe() -> dict:
        mem = psutil.virtual_memory()
        out = {"ram_used": int(mem.total - mem.available), "ram_total": int(mem.total)}
        now = time.monotonic()
        if now - last["time"] >= 0.1:
            # Over a shorter window the kernel's tick counters give 0% or 100%
            # noise, so a probe right after another one repeats the last reading.
            last["cpu"] = float(psutil.cpu_percent(interval=None))
            last["time"] = now
        if last["cpu"] is not None:
            out["cpu_percent"] = last["cpu"]
        return out
    return probe


def _import_pynvml():
    try:
        import pynvml
    except ImportError:
        return None
    return pynvml


class NvmlProbe:
    """GPU utilisation (%) of the first GPU through NVML.

    Build it with :meth:`create`, which returns None when NVML is missing or
    sees no GPU. ``nvml`` is the pynvml module (injectable for tests).
    """

    def __init__(self, nvml, handle):
        self._nvml = nvml
        self._handle = handle

    @classmethod
    def create(cls, nvml=None):
        nvml = nvml if nvml is not None else _import_pynvml()
        if nvml is None:
            return None
        try:
            nvml.nvmlInit()
            if nvml.nvmlDeviceGetCount() < 1:
                nvml.nvmlShutdown()
                return None
            return cls(nvml, nvml.nvmlDeviceGetHandleByIndex(0))
        except Exception:            # no driver, no permission, ...: no GPU sampling
            return None

    def __call__(self) -> dict:
        return {"gpu_percent": float(self._nvml.nvmlDeviceGetUtilizationRates(self._handle).gpu)}


class CupyVramProbe:
    """VRAM held by CuPy's default memory pool, and the card's capacity.

    Build it with :meth:`create` (None without CuPy or a GPU). ``cupy`` is the
    module (injectable for tests).
    """

    def __init__(self, cupy):
        self._cupy = cupy
        self._total = None

    @classmethod
    def create(cls, cupy=None):
        if cupy is None:
            from ..backend import cuda_available, cupy_module
            if not cuda_available():
                return None
            cupy = cupy_module()
        return cls(cupy)

    def __call__(self) -> dict:
        held = int(self._cupy.get_default_memory_pool().total_bytes())
        if held == 0 and self._total is None:
            return {}                # no allocation yet: do not create a CUDA context
        if self._total is None:      # the capacity never changes: ask once
            self._total = int(self._cupy.cuda.runtime.memGetInfo()[1])
        return {"vram_used": held, "vram_total": self._total}


def default_probes() -> list:
    """The probes this machine supports (CPU/RAM always with psutil; GPU, VRAM
    only when NVML or CuPy see a GPU)."""
    found = [cpu_ram_probe(), NvmlProbe.create(), CupyVramProbe.create()]
    return [p for p in found if p is not None]


# --------------------------------------------------------------------------- sampler
def _is_reading(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)


def reduce_samples(samples: list) -> dict:
    """One record from several samples: percentages averaged, memory the last value."""
    out = {}
    for key in RESOURCE_KEYS:
        values = [s[key] for s in samples if s.get(key) is not None]
        if not values:
            continue
        if key in _AVERAGED:
            out[key] = float(sum(values) / len(values))
        else:
            out[key] = int(values[-1])
    return out


class ResourceSampler:
    """Samples resources on a background thread; one reduced record per epoch.

    Args:
        probes: callables returning dicts of resource keys; None for
            :func:`default_probes`. A probe that raises is dropped.
        interval: seconds between samples (the thread waits on an Event, so
            :meth:`stop` returns at once, not after up to ``interval``).
    """

    def __init__(self, probes=None, interval: float = 1.0):
        self._probes = list(default_probes() if probes is None else probes)
        self.interval = interval
        self._samples = []
        self._lock = threading.Lock()   # guards the probes and the pending samples
        self._stop = threading.Event()
        self._thread = None

    @property
    def active(self) -> bool:
        """Whether any probe is left to sample with."""
        return bool(self._probes)

    def start(self) -> None:
        if self._thread is not None or not self._probes:
            return
        self._thread = threading.Thread(target=self._run, name="flodl-monitor-sampler",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            with self._lock:
                sample = self._sample_locked()
                if sample:
                    self._samples.append(sample)
            if not self._probes:
                return

    def _sample_locked(self) -> dict:
        sample = {}
        for probe in list(self._probes):
            try:
                sample.update({k: v for k, v in dict(probe()).items()
                               if k in RESOURCE_KEYS and _is_reading(v)})
            except Exception:        # unavailable from now on; never fail the training run
                self._probes.remove(probe)
        return sample

    def sample_now(self) -> dict:
        """One immediate sample (not stored)."""
        with self._lock:
            return self._sample_locked()

    def take_epoch(self) -> dict:
        """The reduced record of the samples since the previous call (one taken
        now if none landed in between)."""
        with self._lock:
            samples, self._samples = self._samples, []
            if not samples:
                now = self._sample_locked()
                samples = [now] if now else []
        return reduce_samples(samples)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread and wait for it (idempotent)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def request_stop(self) -> None:
        """Ask the thread to end without waiting (safe from a finalizer)."""
        self._stop.set()


# --------------------------------------------------------------------------- hardware
def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    name = line.split(":", 1)[1].strip()
                    if name:
                        return name
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _ram_total() -> int:
    try:
        import psutil
        return int(psutil.virtual_memory().total)
    except Exception:
        pass
    try:   # POSIX fallback without psutil
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 0


def _cupy_identity(cupy) -> dict:
    """{"gpu": name, "vram_total": bytes} of the first device from CuPy's device
    properties (which need no CUDA context), or {}."""
    if cupy is None:
        return {}
    try:
        props = cupy.cuda.runtime.getDeviceProperties(0)
        name = props["name"]
        name = name.decode() if isinstance(name, bytes) else str(name)
        return {"gpu": name, "vram_total": int(props["totalGlobalMem"])}
    except Exception:
        return {}


def _nvml_identity(nvml) -> dict:
    """The same from NVML (a GPU that CuPy cannot use is still described), or {}."""
    if nvml is None:
        return {}
    try:
        nvml.nvmlInit()
        if nvml.nvmlDeviceGetCount() < 1:
            return {}
        handle = nvml.nvmlDeviceGetHandleByIndex(0)
        name = nvml.nvmlDeviceGetName(handle)
        name = name.decode() if isinstance(name, bytes) else str(name)
        return {"gpu": name, "vram_total": int(nvml.nvmlDeviceGetMemoryInfo(handle).total)}
    except Exception:
        return {}


def _gpu_identity() -> dict:
    from ..backend import cuda_available, cupy_module
    cupy = cupy_module() if cuda_available() else None
    return _cupy_identity(cupy) or _nvml_identity(_import_pynvml())


def hardware_summary() -> dict:
    """The machine the run is on, as the snapshot's ``"hardware"`` dict.

    >>> {"cpu", "cores", "ram_total", "python", "numpy"} <= set(hardware_summary())
    True
    """
    info = {"cpu": _cpu_model(), "cores": os.cpu_count() or 0, "ram_total": _ram_total()}
    info.update(_gpu_identity())
    info.update({"python": platform.python_version(), "numpy": np.__version__,
                 "platform": platform.platform()})
    return info
