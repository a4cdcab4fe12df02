"""Graph execution overhead: the same model as a FlowBuilder graph and as a
hand-written flodl Module, forward + backward.

Two models, both D 256, batch 64, float32:

* tower: 12 residual blocks ``.also(Linear(256, 256)).through(ReLU())``, i.e.
  ``x = relu(x + linear_i(x))`` twelve times;
* loop:  ``.loop_body(Linear(256, 256) -> Tanh).for_n(8)`` (BPTT through all 8).

"flodl" is the graph, "flodl-module" the hand-written Module with the very same
parameter objects, so both compute identical values; the ratio is the graph's
bookkeeping cost.

Run one framework alone:  python -m benchmarks.cases.graph_overhead --framework flodl
"""
from __future__ import annotations

if __package__ in (None, ""):   # allow `python benchmarks/cases/graph_overhead.py`
    import os as _os
    import sys as _sys
    _sys.path.insert(0, _os.path.dirname(_os.path.dirname(_os.path.dirname(
        _os.path.abspath(__file__)))))

from benchmarks.harness import Bench, worker_main

D, BATCH, BLOCKS, ITERS = 256, 64, 12, 8

CASE = {
    "name": "graph_overhead",
    "title": f"graph vs hand-written Module: {BLOCKS}-block residual tower + "
             f"{ITERS}-step loop, D {D}, batch {BATCH}, forward+backward",
    "unit": "ms",
    "scale": 1e3,
    "inner": 5,
    "warmup": 3,
    "check_rtol": 1e-6,
}


def _models():
    import numpy as np

    import flodl_core as fl
    fl.manual_seed(0)
    tower = [fl.Linear(D, D) for _ in range(BLOCKS)]
    for lin in tower:                      # keep activations bounded over 12 blocks
        lin.weight.set_data(lin.weight.data * 0.5)

    class Body(fl.Module):
        def __init__(self):
            super().__init__()
            self.lin = fl.Linear(D, D)

        def forward(self, x):
            return self.lin(x).tanh()

    body = Body()
    x = fl.tensor(np.random.default_rng(0).standard_normal((BATCH, D)).astype(np.float32))
    return fl, tower, body, x


def _bench(fl, forward, params, x):
    import numpy as np
    xv = fl.Variable(x, requires_grad=True)

    def step():
        for p in params:
            p.zero_grad()
        y = forward(xv)
        y.sum().backward()
        return y

    def check():
        y = step()
        return [float(y.to_numpy().sum(dtype=np.float64)),
                float(params[0].grad_array().sum(dtype=np.float64))]

    return step, check


def make_flodl(threads: int) -> Bench:
    fl, tower, body, x = _models()
    fb = fl.FlowBuilder()
    for lin in tower:
        fb = fb.also(lin).through(fl.ReLU())
    graph = fb.loop_body(body).for_n(ITERS).build()
    step, check = _bench(fl, graph, graph.parameters(), x)
    return Bench(step, check, {"flodl_core": fl.__version__, "malloc_tuned": fl.malloc_tuned()})


def make_module(threads: int) -> Bench:
    fl, tower, body, x = _models()

    class Model(fl.Module):
        def __init__(self):
            super().__init__()
            self.tower = fl.nn.ModuleList(tower)
            self.body = body

        def forward(self, x):
            for lin in self.tower:
                x = (x + lin(x)).relu()
            for _ in range(ITERS):
                x = self.body(x)
            return x

    model = Model()
    step, check = _bench(fl, model, model.parameters(), x)
    return Bench(step, check, {"flodl_core": fl.__version__, "malloc_tuned": fl.malloc_tuned()})


FRAMEWORKS = {"flodl": make_flodl, "flodl-module": make_module}

if __name__ == "__main__":
    worker_main(CASE, FRAMEWORKS)
