"""Train a small MLP on a synthetic three-arm spiral, from raw Variable ops.

No layers, no optimizer classes: parameters are Variables, the model is a few
matmuls and ReLUs, the loss is softmax cross-entropy written out, and the
update is SGD with momentum done by hand. Run it with

    python examples/train_mlp.py

and watch the loss fall. (Later versions of the framework wrap each of these
pieces: nn.Linear, cross_entropy_loss, optim.SGD.)
"""
import math
import time

import numpy as np

import flodl_core as fl


def spiral_data(n_per_class=200, classes=3, rng=None):
    """Points on `classes` interleaved spiral arms, with a little noise."""
    rng = rng or fl.Rng(0)
    xs, ys = [], []
    for c in range(classes):
        for i in range(n_per_class):
            r = i / n_per_class
            angle = c * 2 * math.pi / classes + 4.0 * r + rng.normal(0.0, 0.15)
            xs.append((r * math.cos(angle), r * math.sin(angle)))
            ys.append(c)
    return np.array(xs, dtype=np.float32), np.array(ys, dtype=np.int64)


def init_linear(n_in, n_out):
    """Weights and bias with PyTorch's default (Kaiming-uniform) bounds."""
    bound = 1.0 / math.sqrt(n_in)
    w = fl.rand(n_in, n_out) * (2 * bound) - bound
    b = fl.rand(n_out) * (2 * bound) - bound
    return fl.Variable(w, requires_grad=True), fl.Variable(b, requires_grad=True)


def main(epochs=60, batch_size=64, lr=0.2, momentum=0.9, hidden=64):
    fl.manual_seed(42)
    rng = fl.Rng(42)
    x_all, y_all = spiral_data(rng=rng)
    n, classes = len(x_all), 3

    w1, b1 = init_linear(2, hidden)
    w2, b2 = init_linear(hidden, hidden)
    w3, b3 = init_linear(hidden, classes)
    params = [w1, b1, w2, b2, w3, b3]
    velocity = [np.zeros(p.shape, dtype=np.float32) for p in params]

    def model(x):
        h = (x @ w1 + b1).relu()
        h = (h @ w2 + b2).relu()
        return h @ w3 + b3

    order = list(range(n))
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        rng.shuffle(order)
        total, correct = 0.0, 0
        for i in range(0, n, batch_size):
            idx = order[i:i + batch_size]
            x = fl.tensor(x_all[idx])
            target = fl.tensor(y_all[idx])
            onehot = fl.from_numpy(np.eye(classes, dtype=np.float32)[y_all[idx]])

            logits = model(x)
            # Softmax cross-entropy: mean over the batch of -log p(target).
            loss = -(logits.log_softmax(1) * onehot).sum() / len(idx)
            loss.backward()

            with fl.no_grad():   # SGD with momentum, in place
                for p, v in zip(params, velocity):
                    v *= momentum
                    v += p.grad_array()
                    p.set_data(p.data.to_numpy() - lr * v)
                    p.zero_grad()
            total += loss.item() * len(idx)
            correct += int((logits.data.argmax(1) == target).to_numpy().sum())
        if epoch == 1 or epoch % 10 == 0:
            print(f"epoch {epoch:3d}  loss {total / n:.4f}  accuracy {correct / n:6.1%}  "
                  f"({(time.perf_counter() - start) * 1e3:.1f} ms)")
    return total / n


if __name__ == "__main__":
    main()
