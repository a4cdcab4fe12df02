"""Every FlowBuilder method in one graph: build it, train it a few steps, draw it.

    python examples/showcase.py [output_dir]

Writes showcase.dot, showcase.svg (needs Graphviz's `dot` program),
showcase_profile.svg and showcase_training.html to output_dir (default: the
current directory).
"""
import os
import sys

import numpy as np

import flodl_core as fl
from flodl_core import (ArgmaxSelector, FlowBuilder, LearnedHalt, MergeOp,
                        NamedInputModule, SoftmaxRouter, StateAdd, ThresholdHalt)

D = 16


class AddContext(NamedInputModule):
    """Adds every ref it is given to its input (refs arrive by name)."""

    def forward_named(self, x, refs):
        for value in refs.values():
            x = x + value
        return x


class Refine(fl.Module):
    """A loop body that publishes the norm of its state each iteration."""

    def __init__(self):
        super().__init__()
        self.lin = fl.Linear(D, D)
        self.last = None

    def forward(self, x):
        self.last = self.lin(x).tanh()
        return self.last

    def trace(self):
        return self.last.detach()


def build():
    encoder = (FlowBuilder(fl.Linear(8, D)).through(fl.GELU()).tag("hidden")
               .internal("hidden").label("encoder").build())
    return (FlowBuilder(encoder)                                    # nested labelled graph
            .input("ctx")                                           # extra graph input
            .tag("encoded")
            .fork(fl.Linear(D, 3)).tag("aux")                       # side branch
            .through(AddContext()).using("ctx")                     # backward ref
            .also(fl.Linear(D, D))                                  # residual
            .also_with(fl.Linear(D, D), fl.Linear(D, D))            # transformed skip
            .split([fl.Linear(D, D), fl.Linear(D, D)]).tag_group("head")
            .merge(MergeOp.MEAN)
            .split([fl.Identity(), fl.Identity()]).merge(MergeOp.ADD)
            .through(StateAdd()).using("memory").tag("memory")      # forward ref (state)
            .gate(SoftmaxRouter(D, 2), [fl.Linear(D, D), fl.Linear(D, D)]).using("encoded")
            .switch(ArgmaxSelector(D, 2), [fl.Linear(D, D), fl.Linear(D, D)])
            .loop_body(Refine()).for_n(2).tag("refined")
            .loop_body(fl.Linear(D, D)).while_cond(ThresholdHalt(50.0), 3)
            .loop_body(fl.Linear(D, D)).until_cond(LearnedHalt(D), 3)
            .map(fl.Linear(D // 4, D // 4)).slices(4).batched()
            .map(fl.Tanh()).each()
            .tag("mapped")
            .map(fl.Identity()).over("mapped")
            .through(fl.Linear(D, 3))
            .label("showcase")
            .build())


def main(steps=20, out_dir=".", verbose=True):
    fl.manual_seed(0)
    rng = np.random.default_rng(0)
    x = fl.tensor(rng.standard_normal((32, 8)).astype(np.float32))
    ctx = fl.tensor(rng.standard_normal((32, D)).astype(np.float32))
    y = fl.tensor(rng.integers(0, 3, 32))
    model = build()
    opt = fl.Adam(model.parameters(), 1e-2)
    model.enable_profiling()
    losses = []
    for step in range(steps):
        opt.zero_grad()
        logits = model(x, ctx=ctx)
        loss = fl.cross_entropy_loss(logits, y) + 0.1 * fl.cross_entropy_loss(
            model.tagged("aux"), y)
        loss.backward()
        opt.step()
        model.record_scalar("loss", loss.item())
        model.collect(["refined"])
        model.end_step()                     # detaches the forward-ref state
        if step % 5 == 4:
            model.end_epoch()
        losses.append(loss.item())
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "showcase.dot"), "w") as f:
        f.write(model.dot())
    model.plot_html(os.path.join(out_dir, "showcase_training.html"), ["loss", "refined"])
    try:
        model.svg(os.path.join(out_dir, "showcase.svg"))
        model.svg_with_profile(os.path.join(out_dir, "showcase_profile.svg"))
    except fl.GraphError as e:              # Graphviz not installed
        print(f"(no SVG: {e})")
    if verbose:
        print(model.tree_summary())
        print(f"loss {losses[0]:.3f} -> {losses[-1]:.3f}; refine traces: "
              f"{len(model.traces('refined'))}; files in {os.path.abspath(out_dir)}")
    return losses


if __name__ == "__main__":
    main(out_dir=sys.argv[1] if len(sys.argv) > 1 else ".")
