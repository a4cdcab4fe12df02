"""Comparisons against PyTorch's numerics (run where torch is installed; skipped elsewhere).

torch is not a test dependency: every test here asks for the ``torch`` fixture,
which skips when it cannot be imported.
"""
from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="session")
def torch():
    return pytest.importorskip("torch")


def rng(seed=0):
    return np.random.default_rng(seed)


def is_float_array(a) -> bool:
    return isinstance(a, np.ndarray) and a.dtype.kind == "f"


def to_numpy(x) -> np.ndarray:
    """A flodl Tensor/Variable or a torch tensor as a host NumPy array."""
    if type(x).__module__.startswith("torch"):
        return x.detach().cpu().numpy()
    if hasattr(x, "to_numpy"):
        return np.asarray(x.to_numpy())
    return np.asarray(x)


def assert_close(ours, theirs, rtol=1e-6, atol=1e-9, what=""):
    """Compare a flodl result with torch's (both converted to NumPy), shapes included."""
    a, b = to_numpy(ours), to_numpy(theirs)
    assert a.shape == b.shape, f"{what}: shape {a.shape} != torch {b.shape}"
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=what)
