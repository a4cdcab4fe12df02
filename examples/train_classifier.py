"""Train a classifier on the three-arm spiral with the library's building blocks.

The same problem as ``train_mlp.py``, written the way a training script usually
is: layers from ``nn``, ``cross_entropy_loss``, AdamW with two parameter groups,
a warm-up then cosine learning-rate schedule, and gradient clipping. Run it with

    python examples/train_classifier.py
"""
import os
import sys
import time

import numpy as np

import flodl_core as fl

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_mlp import spiral_data  # noqa: E402  (the same data as the first example)


class Classifier(fl.Module):
    def __init__(self, hidden=64, classes=3):
        super().__init__()
        self.body = fl.nn.ModuleList([fl.Linear(2, hidden), fl.ReLU(),
                                      fl.Linear(hidden, hidden), fl.ReLU()])
        self.head = fl.Linear(hidden, classes)

    def forward(self, x):
        for layer in self.body:
            x = layer(x)
        return self.head(x)


def main(epochs=60, batch_size=100, verbose=True):
    fl.manual_seed(0)
    x_all, y_all = spiral_data()
    model = Classifier()
    # The head learns faster and is not decayed: one group each.
    opt = (fl.AdamW.with_groups(weight_decay=1e-4)
           .group(model.body.parameters(), 1e-2)
           .group(model.head.parameters(), lr=2e-2, weight_decay=0.0)
           .build())
    steps_per_epoch = len(x_all) // batch_size
    total = epochs * steps_per_epoch
    warmup = min(50, total // 10)
    schedule = fl.WarmupScheduler(fl.CosineScheduler(1.0, 0.01, total - warmup), 1.0, warmup)
    base_lrs = [g["lr"] for g in opt.param_groups]
    rng = fl.Rng(1)
    step = 0
    for epoch in range(epochs):
        start = time.perf_counter()
        order = np.arange(len(x_all))
        rng.shuffle(order)
        total_loss = 0.0
        for b in range(steps_per_epoch):
            idx = order[b * batch_size:(b + 1) * batch_size]
            x, y = fl.tensor(x_all[idx]), fl.tensor(y_all[idx])
            factor = schedule.lr(step)               # a multiplier of each group's rate
            for i, base in enumerate(base_lrs):
                opt.set_group_lr(i, base * factor)
            opt.zero_grad()
            loss = fl.cross_entropy_loss(model(x), y)
            loss.backward()
            fl.clip_grad_norm(model.parameters(), 5.0)
            opt.step()
            total_loss += loss.item()
            step += 1
        mean_loss = total_loss / steps_per_epoch
        if verbose and (epoch % 10 == 0 or epoch == epochs - 1):
            with fl.no_grad():
                pred = model(fl.tensor(x_all)).to_numpy().argmax(1)
            accuracy = float(np.mean(pred == y_all))
            print(f"epoch {epoch:3d}  loss {mean_loss:.4f}  accuracy {accuracy:.3f}  "
                  f"lr {opt.lr:.2e}  ({(time.perf_counter() - start) * 1e3:.0f} ms)")
    with fl.no_grad():
        pred = model(fl.tensor(x_all)).to_numpy().argmax(1)
    return mean_loss, float(np.mean(pred == y_all))


if __name__ == "__main__":
    main()
