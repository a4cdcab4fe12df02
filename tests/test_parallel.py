"""Intra-op threads: the chunking of parallel_for, errors, nesting, the thread count,
and that ops split over threads give bit-identical results to a serial run."""
from __future__ import annotations

import threading

import numpy as np
import pytest

import flodl_core as fl
from flodl_core.autograd.ops import conv as conv_ops
from flodl_core.backend import parallel


@pytest.fixture
def threads():
    """Set the thread count for one test and put the previous one back."""
    before = parallel.get_num_threads()
    yield parallel.set_num_threads
    parallel.set_num_threads(before)


@pytest.mark.parametrize("n", [0, 1, 2, 5, 64, 101])
@pytest.mark.parametrize("k", [1, 2, 3, 8])
def test_chunks_cover_the_range_once(threads, n, k):
    threads(k)
    seen, lock = [], threading.Lock()

    def body(lo, hi):
        with lock:
            seen.append((lo, hi))
    parallel.parallel_for(n, body)
    seen.sort()
    assert seen[0][0] == 0 and seen[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(seen, seen[1:]))      # contiguous, no overlap
    assert len(seen) == max(1, min(k, n))


def test_min_chunk_limits_the_split(threads):
    threads(4)
    assert parallel.chunk_count(10, min_chunk=4) == 2
    assert parallel.chunk_count(10, min_chunk=11) == 1
    assert parallel.chunk_count(100, min_chunk=1) == 4


def test_chunks_run_on_other_threads(threads):
    threads(3)
    names, lock = set(), threading.Lock()

    def body(lo, hi):
        with lock:
            names.add(threading.current_thread().name)
    parallel.parallel_for(3, body)
    assert threading.current_thread().name in names
    assert len(names) == 3 and sum(n.startswith("flodl-intraop") for n in names) == 2


def test_one_thread_starts_no_worker(threads):
    threads(1)
    names = []
    parallel.parallel_for(8, lambda lo, hi: names.append(threading.current_thread().name))
    assert names == [threading.current_thread().name]


def test_an_error_in_a_worker_reaches_the_caller(threads):
    threads(2)

    def body(lo, hi):
        if lo > 0:
            raise KeyError("second chunk")
    with pytest.raises(KeyError, match="second chunk"):
        parallel.parallel_for(4, body)
    done = []
    parallel.parallel_for(4, lambda lo, hi: done.append(hi - lo))   # the pool still works
    assert sorted(done) == [2, 2]


def test_nested_calls_run_serially(threads):
    threads(2)
    inner_counts = []

    def body(lo, hi):
        inner_counts.append(parallel.chunk_count(100))
        parallel.parallel_for(10, lambda a, b: None)    # must not wait on a busy pool
    parallel.parallel_for(2, body)
    assert inner_counts == [1, 1]


@pytest.mark.parametrize("bad", [0, -2, 1.5, True, "2", None])
def test_set_num_threads_rejects_bad_values(bad):
    with pytest.raises(ValueError, match="set_num_threads"):
        fl.set_num_threads(bad)


def test_default_reads_the_environment(monkeypatch):
    for var in parallel._ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert parallel._default_num_threads() == 3
    monkeypatch.setenv("FLODL_NUM_THREADS", "5")       # flodl's own variable wins
    assert parallel._default_num_threads() == 5
    monkeypatch.setenv("FLODL_NUM_THREADS", "junk")    # ignored, not an error
    assert parallel._default_num_threads() == 3


def test_top_level_api(threads):
    threads(3)
    assert fl.get_num_threads() == 3


# ------------------------------------------------- ops split over threads


def _conv_case(fn, x_shape, w_shape, seed, **kw):
    """Output and gradients (x, w, b) of one conv call as NumPy arrays."""
    rng = np.random.default_rng(seed)
    x = fl.Variable(fl.tensor(rng.standard_normal(x_shape).astype(np.float32)),
                    requires_grad=True)
    w = fl.Variable(fl.tensor(rng.standard_normal(w_shape).astype(np.float32)),
                    requires_grad=True)
    bias_len = w_shape[1] * kw.get("groups", 1) if fn.__name__.startswith("conv_t") \
        else w_shape[0]
    b = fl.Variable(fl.tensor(rng.standard_normal(bias_len).astype(np.float32)),
                    requires_grad=True)
    y = fn(x, w, b, **kw)
    g = fl.tensor(rng.standard_normal(y.shape).astype(np.float32))
    y.backward(g)
    return [y.to_numpy(), x.grad.to_numpy(), w.grad.to_numpy(), b.grad.to_numpy()]


CONV_CASES = [
    # 3x3 conv on a wide grid with partial columns (ResNet-style)
    ("conv2d", (6, 16, 12, 12), (16, 16, 3, 3), {"padding": 1}),
    # full columns, one GEMM per sample
    ("conv2d", (5, 3, 20, 20), (8, 3, 5, 5), {}),
    # grouped, dilated
    ("conv2d", (4, 8, 17, 15), (8, 4, 3, 3), {"padding": 2, "dilation": 2, "groups": 2}),
    ("conv1d", (7, 4, 300), (6, 4, 5), {"padding": 2}),
    ("conv3d", (3, 2, 9, 9, 9), (4, 2, 3, 3, 3), {"padding": 1}),
    # strided transpose: col2im on the wide grid
    ("conv_transpose2d", (5, 6, 9, 9), (6, 4, 3, 3), {"stride": 2, "padding": 1}),
]


@pytest.mark.parametrize("name, x_shape, w_shape, kw", CONV_CASES,
                         ids=[c[0] + str(i) for i, c in enumerate(CONV_CASES)])
def test_conv_results_do_not_depend_on_the_thread_count(threads, monkeypatch, name,
                                                         x_shape, w_shape, kw):
    monkeypatch.setattr(conv_ops, "PARALLEL_MIN_ELEMENTS", 1)    # split even tiny batches
    monkeypatch.setattr(conv_ops, "PARALLEL_MIN_MACS", 1)
    fn = getattr(fl.F, name)
    threads(1)
    serial = _conv_case(fn, x_shape, w_shape, 7, **kw)
    calls = []
    real = parallel.parallel_for
    monkeypatch.setattr(conv_ops, "parallel_for",
                        lambda n, body, min_chunk=1: (calls.append(n),
                                                      real(n, body, min_chunk))[1])
    for k in (2, 3):
        threads(k)
        split = _conv_case(fn, x_shape, w_shape, 7, **kw)
        for a, b, what in zip(serial, split, ("y", "grad x", "grad w", "grad b")):
            assert np.array_equal(a, b), f"{name} {what} differs with {k} threads"
    assert calls, "the conv never went through parallel_for"


def _forked_child_split(conn):
    # runs in a forked child: the parent's worker threads do not exist here
    names = set()
    lock = threading.Lock()

    def body(lo, hi):
        with lock:
            names.add(threading.current_thread().name)
    parallel.parallel_for(4, body)
    conn.send(len(names))
    conn.close()


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork")
def test_a_forked_child_starts_its_own_workers(threads):
    import multiprocessing as mp
    threads(2)
    parallel.parallel_for(2, lambda lo, hi: None)        # the parent's pool exists
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_forked_child_split, args=(child,))
    proc.start()
    try:
        assert parent.poll(30), "the forked child hung in parallel_for"
        assert parent.recv() == 2
        proc.join(30)
        assert proc.exitcode == 0
    finally:
        if proc.is_alive():
            proc.kill()
