"""Random state: the framework's global generators and a CPU-side ``Rng``.

Every framework draw (``rand``, ``randn``, initialisation, dropout masks) comes
from one generator per device. ``manual_seed(n)`` re-seeds all of them, so a
script that calls it before building its model is reproducible. ``Rng`` is an
independent generator for data-side work (shuffling, augmentation) that never
disturbs the framework's stream.
"""
from __future__ import annotations

import numpy as np

_cpu_generator = np.random.default_rng()
_cuda_generators: dict = {}   # device index -> cupy RandomState
_cuda_seed: int | None = None


def _check_seed(seed, who):
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"{who}: seed must be a non-negative int, got {seed!r}")
    return int(seed)


def manual_seed(seed: int) -> None:
    """Seed every framework random draw on every device (CPU and all GPUs)."""
    global _cpu_generator
    seed = _check_seed(seed, "manual_seed")
    _cpu_generator = np.random.default_rng(seed)
    cuda_manual_seed_all(seed)


def cuda_manual_seed_all(seed: int) -> None:
    """Seed the generators of every CUDA device (takes effect lazily; no-op without CUDA)."""
    global _cuda_seed
    _cuda_seed = _check_seed(seed, "cuda_manual_seed_all")
    _cuda_generators.clear()


def cpu_generator() -> np.random.Generator:
    """The global CPU generator (use it only for framework draws)."""
    return _cpu_generator


def cuda_generator(index: int):
    """The global generator of CUDA device ``index`` (a CuPy RandomState)."""
    gen = _cuda_generators.get(index)
    if gen is None:
        from .array_module import cupy_module
        cp = cupy_module()
        with cp.cuda.Device(index):
            # Distinct, reproducible streams per device when seeded.
            seed = None if _cuda_seed is None else _cuda_seed + 1_000_003 * index
            gen = cp.random.RandomState(seed)
        _cuda_generators[index] = gen
    return gen


class Rng:
    """A seeded CPU random generator for data-side work.

    >>> rng = Rng(42)
    >>> idx = list(range(5)); rng.shuffle(idx); sorted(idx)
    [0, 1, 2, 3, 4]
    >>> 0.0 <= rng.f32() < 1.0
    True
    """

    __slots__ = ("_gen",)

    def __init__(self, seed: int | None = None):
        self._gen = np.random.default_rng(None if seed is None else _check_seed(seed, "Rng"))

    @classmethod
    def seed(cls, seed: int) -> "Rng":
        """flodl spelling of ``Rng(seed)``."""
        return cls(seed)

    def shuffle(self, items) -> None:
        """Shuffle a list or a NumPy array in place (Fisher-Yates)."""
        self._gen.shuffle(items)

    def f32(self) -> float:
        """Uniform float in [0, 1), drawn at float32 precision."""
        return float(self._gen.random(dtype=np.float32))

    def f64(self) -> float:
        """Uniform float in [0, 1)."""
        return float(self._gen.random())

    def usize(self, n: int) -> int:
        """Uniform integer in [0, n)."""
        if n <= 0:
            raise ValueError(f"Rng.usize: n must be positive, got {n}")
        return int(self._gen.integers(0, n))

    def range(self, low: int, high: int) -> int:
        """Uniform integer in [low, high)."""
        if high <= low:
            raise ValueError(f"Rng.range: empty range [{low}, {high})")
        return int(self._gen.integers(low, high))

    def normal(self, mean: float = 0.0, std: float = 1.0) -> float:
        """A draw from N(mean, std**2)."""
        return float(self._gen.normal(mean, std))

    def bernoulli(self, p: float) -> bool:
        """True with probability p."""
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Rng.bernoulli: p must be in [0, 1], got {p}")
        return bool(self._gen.random() < p)
