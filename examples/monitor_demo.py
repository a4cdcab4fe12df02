"""Watch a small FlowBuilder classifier train, in the terminal and in the browser.

    python examples/monitor_demo.py [--out DIR] [--epochs N] [--port P] [--keep-serving]

Three Gaussian blobs in the plane, a residual MLP built with FlowBuilder, Adam.
The monitor prints one line per epoch (a progress bar while an epoch runs, on
a terminal), serves the live dashboard (``--port 0``, the default, picks a free
port; the URL is printed), and writes report.html, training.log and
training.csv to DIR (default: a new temporary directory). ``--keep-serving``
leaves the dashboard up after training until Ctrl-C.
"""
import argparse
import os
import tempfile
import time

import numpy as np

import flodl_core as fl
from flodl_core import FlowBuilder
from flodl_core.monitor import Monitor


def blobs(n_per_class=512, seed=0):
    """Three Gaussian clusters in 2-D; returns (x [3n, 2] float32, y [3n] int64)."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 2.0], [-1.8, -1.0], [1.8, -1.0]])
    x = np.concatenate([c + 1.0 * rng.standard_normal((n_per_class, 2)) for c in centres])
    y = np.repeat(np.arange(3), n_per_class)
    order = rng.permutation(len(y))
    return x[order].astype(np.float32), y[order].astype(np.int64)


def build_model():
    return (FlowBuilder(fl.Linear(2, 32)).through(fl.GELU())
            .also(fl.Linear(32, 32))                 # residual block
            .through(fl.Linear(32, 3))
            .label("blobs")
            .build())


def main(epochs=20, out_dir=None, port=0, batch_size=32, keep_serving=False, verbose=True):
    fl.manual_seed(0)
    out_dir = out_dir or tempfile.mkdtemp(prefix="monitor_demo_")
    os.makedirs(out_dir, exist_ok=True)
    x_all, y_all = blobs()
    batches = [(fl.tensor(x_all[i:i + batch_size]), fl.tensor(y_all[i:i + batch_size]))
               for i in range(0, len(y_all), batch_size)]
    model = build_model()
    model.enable_profiling()                          # node timings for the final diagram
    opt = fl.Adam(model.parameters(), 1e-2)

    stream = None if verbose else open(os.devnull, "w")
    monitor = Monitor(epochs, label="blobs", stream=stream, sample_interval=0.2)
    try:
        url = monitor.serve(port=port)
        monitor.watch(model)
        monitor.save_html(os.path.join(out_dir, "report.html"))
        for epoch in range(epochs):
            start = time.perf_counter()
            correct = 0
            for x, y in monitor.progress(batches):
                opt.zero_grad()
                logits = model(x)
                loss = fl.cross_entropy_loss(logits, y)
                loss.backward()
                opt.step()
                model.record_scalar("loss", loss.item())
                correct += int((logits.data.to_numpy().argmax(axis=1) == y.to_numpy()).sum())
            model.record_scalar("accuracy", correct / len(y_all))
            model.end_epoch()                         # batch values -> one epoch value
            monitor.log(epoch, time.perf_counter() - start, model)
        if keep_serving:
            print(f"dashboard still at {url}; press Ctrl-C to stop")
            try:
                while True:
                    time.sleep(1.0)
            except KeyboardInterrupt:
                pass
        monitor.finish_with(model)                    # profiled diagram, final report
    finally:
        monitor.finish()                              # no-op after finish_with
        if stream is not None:
            stream.close()
    monitor.write_log(os.path.join(out_dir, "training.log"))
    monitor.export_csv(os.path.join(out_dir, "training.csv"))
    if verbose:
        print(f"reports in {out_dir}: report.html, training.log, training.csv")
    history = monitor.history
    return {"url": url, "out_dir": out_dir,
            "loss": [r["metrics"]["loss"] for r in history],
            "accuracy": [r["metrics"]["accuracy"] for r in history]}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None, help="output directory (default: a temp dir)")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--port", type=int, default=0, help="dashboard port (0: any free one)")
    parser.add_argument("--keep-serving", action="store_true",
                        help="keep the dashboard up after training until Ctrl-C")
    args = parser.parse_args()
    main(epochs=args.epochs, out_dir=args.out, port=args.port, keep_serving=args.keep_serving)
