"""Resource sampling with injected probes, the real psutil probe, optional GPU probes."""
import sys
import threading
import time
import types

import pytest

from flodl_core.monitor import resources
from flodl_core.monitor.resources import (CupyVramProbe, NvmlProbe, ResourceSampler,
                                          cpu_ram_probe, hardware_summary, reduce_samples)


class ScriptedProbe:
    """Returns the given readings in turn (then repeats the last); counts its calls."""

    def __init__(self, *readings):
        self.readings = list(readings)
        self.calls = 0

    def __call__(self):
        reading = self.readings[min(self.calls, len(self.readings) - 1)]
        self.calls += 1
        return dict(reading)


def _no_sampler_threads():
    return not [t for t in threading.enumerate() if t.name == "flodl-monitor-sampler"]


def test_reduce_averages_percentages_and_keeps_the_last_memory_reading():
    samples = [{"cpu_percent": 10.0, "ram_used": 100, "ram_total": 1000, "gpu_percent": 50.0},
               {"cpu_percent": 30.0, "ram_used": 300, "ram_total": 1000},
               {"cpu_percent": 50.0, "ram_used": 200, "ram_total": 1000, "gpu_percent": 70.0}]
    assert reduce_samples(samples) == {"cpu_percent": 30.0, "ram_used": 200, "ram_total": 1000,
                                       "gpu_percent": 60.0}
    assert reduce_samples([]) == {}


def test_take_epoch_without_thread_samples_once_on_the_spot():
    probe = ScriptedProbe({"cpu_percent": 12.0, "ram_used": 5, "ram_total": 9})
    sampler = ResourceSampler([probe], interval=60.0)      # thread not started
    assert sampler.take_epoch() == {"cpu_percent": 12.0, "ram_used": 5, "ram_total": 9}
    assert probe.calls == 1


def test_thread_samples_and_each_epoch_gets_only_its_own_samples():
    probe = ScriptedProbe({"cpu_percent": 10.0}, {"cpu_percent": 30.0}, {"cpu_percent": 90.0})
    sampler = ResourceSampler([probe], interval=0.01)
    sampler.start()
    try:
        deadline = time.monotonic() + 5.0
        while probe.calls < 2 and time.monotonic() < deadline:
            time.sleep(0.005)
        sampler.stop()
        first = sampler.take_epoch()
    finally:
        sampler.stop()
    calls = probe.calls
    assert calls >= 2
    expected = [10.0, 30.0] + [90.0] * (calls - 2)
    assert first["cpu_percent"] == pytest.approx(sum(expected) / calls)
    # the samples were consumed: the next epoch samples once, now (the 4th+ reading)
    assert sampler.take_epoch() == {"cpu_percent": 90.0}
    assert probe.calls == calls + 1


def test_stop_is_prompt_idempotent_and_leaves_no_thread():
    sampler = ResourceSampler([ScriptedProbe({"cpu_percent": 1.0})], interval=30.0)
    sampler.start()
    assert not _no_sampler_threads()
    t0 = time.monotonic()
    sampler.stop()
    assert time.monotonic() - t0 < 1.0           # did not wait for the 30 s interval
    sampler.stop()
    assert _no_sampler_threads()


def test_a_failing_probe_is_dropped_silently_and_the_others_go_on(capsys):
    calls = []

    def broken():
        calls.append(1)
        raise RuntimeError("driver went away")

    good = ScriptedProbe({"ram_used": 1, "ram_total": 2})
    sampler = ResourceSampler([broken, good], interval=60.0)
    assert sampler.take_epoch() == {"ram_used": 1, "ram_total": 2}
    assert sampler.take_epoch() == {"ram_used": 1, "ram_total": 2}
    assert len(calls) == 1                        # never called again
    assert capsys.readouterr() == ("", "")


def test_bad_readings_are_ignored():
    probe = ScriptedProbe({"cpu_percent": float("nan"), "ram_used": "lots", "other": 1,
                           "gpu_percent": True, "vram_used": 7})
    assert ResourceSampler([probe]).sample_now() == {"vram_used": 7}


def test_without_probes_no_thread_is_started():
    sampler = ResourceSampler([], interval=0.01)
    sampler.start()
    assert not sampler.active and sampler._thread is None
    assert sampler.take_epoch() == {}


def test_real_psutil_probe_reads_plausible_values():
    pytest.importorskip("psutil")
    probe = cpu_ram_probe()
    # Right after the clock starts the CPU window is too short to mean anything:
    # the reading leaves CPU out rather than report 0% or 100% noise.
    assert set(probe()) == {"ram_used", "ram_total"}
    time.sleep(0.15)
    reading = probe()
    assert set(reading) == {"cpu_percent", "ram_used", "ram_total"}
    assert 0.0 <= reading["cpu_percent"] <= 100.0
    assert 0 < reading["ram_used"] <= reading["ram_total"]
    assert probe()["cpu_percent"] == reading["cpu_percent"]   # too soon: repeated


def test_default_sampler_has_no_gpu_keys_without_pynvml_or_cupy(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)       # import pynvml -> ImportError
    monkeypatch.setattr("flodl_core.backend.cuda_available", lambda: False)
    assert NvmlProbe.create() is None
    assert CupyVramProbe.create() is None
    sampler = ResourceSampler(interval=60.0)
    reading = sampler.take_epoch()
    assert not {"gpu_percent", "vram_used", "vram_total"} & set(reading)
    assert "ram_total" in reading


def _fake_nvml(util=55, fail_on_util=False, count=1, init_error=False):
    nvml = types.SimpleNamespace()
    nvml.nvmlInit = lambda: (_ for _ in ()).throw(OSError("no driver")) if init_error else None
    nvml.nvmlShutdown = lambda: None
    nvml.nvmlDeviceGetCount = lambda: count
    nvml.nvmlDeviceGetHandleByIndex = lambda i: ("handle", i)

    def utilisation(handle):
        if fail_on_util:
            raise RuntimeError("NVML_ERROR_GPU_IS_LOST")
        return types.SimpleNamespace(gpu=util, memory=10)
    nvml.nvmlDeviceGetUtilizationRates = utilisation
    nvml.nvmlDeviceGetName = lambda h: b"Fake GPU 80GB"
    nvml.nvmlDeviceGetMemoryInfo = lambda h: types.SimpleNamespace(total=80 * 2**30)
    return nvml


def test_nvml_probe_reads_utilisation_of_the_first_gpu():
    probe = NvmlProbe.create(_fake_nvml(util=55))
    assert probe() == {"gpu_percent": 55.0}


def test_nvml_probe_is_not_created_without_a_gpu_or_a_driver():
    assert NvmlProbe.create(_fake_nvml(count=0)) is None
    assert NvmlProbe.create(_fake_nvml(init_error=True)) is None


def test_nvml_failure_disables_gpu_sampling_without_output(capsys):
    probe = NvmlProbe.create(_fake_nvml(fail_on_util=True))
    sampler = ResourceSampler([probe, ScriptedProbe({"cpu_percent": 5.0})])
    assert sampler.take_epoch() == {"cpu_percent": 5.0}
    assert sampler.take_epoch() == {"cpu_percent": 5.0}
    assert capsys.readouterr() == ("", "")


class _FakeCupy:
    def __init__(self):
        self.held = 0
        self.meminfo_calls = 0
        pool = types.SimpleNamespace(total_bytes=lambda: self.held, used_bytes=lambda: self.held)
        self.get_default_memory_pool = lambda: pool

        def mem_get_info():
            self.meminfo_calls += 1
            return (10 * 2**30, 16 * 2**30)
        props = {"name": b"Fake Card", "totalGlobalMem": 16 * 2**30}
        runtime = types.SimpleNamespace(memGetInfo=mem_get_info,
                                        getDeviceProperties=lambda i: props)
        self.cuda = types.SimpleNamespace(runtime=runtime)


def test_vram_probe_waits_for_an_allocation_then_reads_pool_and_capacity():
    cupy = _FakeCupy()
    probe = CupyVramProbe.create(cupy)
    assert probe() == {}                 # nothing allocated: no CUDA query at all
    assert cupy.meminfo_calls == 0
    cupy.held = 3 * 2**20
    assert probe() == {"vram_used": 3 * 2**20, "vram_total": 16 * 2**30}
    cupy.held = 5 * 2**20
    assert probe() == {"vram_used": 5 * 2**20, "vram_total": 16 * 2**30}
    assert cupy.meminfo_calls == 1       # the capacity is asked once


def test_hardware_summary_describes_this_machine(monkeypatch):
    monkeypatch.setattr(resources, "_gpu_identity", lambda: {})
    info = hardware_summary()
    assert set(info) == {"cpu", "cores", "ram_total", "python", "numpy", "platform"}
    assert isinstance(info["cpu"], str) and info["cpu"]
    assert isinstance(info["cores"], int) and info["cores"] >= 1
    assert isinstance(info["ram_total"], int) and info["ram_total"] > 0
    assert info["python"] == "%d.%d.%d" % sys.version_info[:3]
    import numpy
    assert info["numpy"] == numpy.__version__


def test_gpu_identity_from_cupy_or_nvml():
    assert resources._cupy_identity(_FakeCupy()) == {"gpu": "Fake Card",
                                                     "vram_total": 16 * 2**30}
    assert resources._cupy_identity(None) == {}
    assert resources._nvml_identity(_fake_nvml()) == {"gpu": "Fake GPU 80GB",
                                                      "vram_total": 80 * 2**30}
    assert resources._nvml_identity(_fake_nvml(init_error=True)) == {}
    assert resources._nvml_identity(_fake_nvml(count=0)) == {}
