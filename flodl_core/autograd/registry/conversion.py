"""Registry entries: to_dtype, to_device, contiguous."""
from __future__ import annotations

import numpy as np

from ...backend.device import Device
from ...backend.dtype import DType
from ..ops.conversion import ToDevice
from . import OpInfo, SampleInput, register
from .samples import noncontig, uniform

register(OpInfo(
    "to_dtype",
    # Round-trips through a wider and a narrower float keep the check in float64.
    op=lambda x, dt: x.to_dtype(dt).to_dtype(x.dtype),
    sample_inputs=lambda rng: [SampleInput((uniform(rng, (2, 3)), DType.Float32)),
                               SampleInput((uniform(rng, ()), DType.Float64)),
                               SampleInput((noncontig(uniform(rng, (3, 2))), DType.Float32))],
    ref=lambda x, dt: x.astype(dt.numpy).astype(x.dtype),
    grad_atol=1e-3, grad_rtol=1e-2, eps=1e-3))

register(OpInfo(
    "to_device",
    # Called through the Function so a CPU-only run still exercises it (the method
    # returns its input unchanged when the device already matches).
    op=lambda x, device: ToDevice(device)(x),
    sample_inputs=lambda rng: [SampleInput((uniform(rng, (2, 3)), Device.CPU)),
                               SampleInput((uniform(rng, ()), Device.CPU))],
    ref=lambda x, device: x))

register(OpInfo(
    "contiguous",
    sample_inputs=lambda rng: [SampleInput((noncontig(uniform(rng, (3, 2))),)),
                               SampleInput((noncontig(uniform(rng, (4,))),)),
                               SampleInput((uniform(rng, (2, 3)),))],
    ref=np.ascontiguousarray))
