"""Every FlowBuilder construct: forward values against the same computation
written by hand, gradients checked against finite differences in float64."""
import numpy as np
import pytest

import flodl_core as fl
from flodl_core.graph import FlowBuilder, MergeOp
from flodl_core.graph.modules import (ArgmaxSelector, FixedSelector, LearnedHalt,
                                      NamedInputModule, SoftmaxRouter, StateAdd,
                                      ThresholdHalt)

F64 = fl.DType.Float64


def lin(i, o, device=fl.Device.CPU):
    return fl.Linear(i, o, dtype=F64, device=device)


def x64(*shape, seed=0, device=fl.Device.CPU):
    rng = np.random.default_rng(seed)
    return fl.Variable(fl.tensor(rng.standard_normal(shape), device=device),
                       requires_grad=True)


def close(a, b, tol=1e-12):
    np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), rtol=tol, atol=tol)


def check_grad(graph, x):
    assert fl.gradcheck(lambda v: graph(v), [x])


# ------------------------------------------------------------------ chains
def test_through_and_also_match_hand_written(device):
    a, b, c = lin(4, 6, device), lin(6, 6, device), lin(6, 3, device)
    g = FlowBuilder(a).through(fl.Tanh()).also(b).through(c).build()
    x = x64(5, 4, device=device)
    h = a(x).tanh()
    close(g(x), c(h + b(h)))
    check_grad(g, x)


def test_flowbuilder_without_entry_starts_from_identity():
    g = FlowBuilder().tag("input").through(fl.ReLU()).build()
    x = x64(3, 2)
    close(g(x), x.relu())
    assert g.tagged("input") is x


def test_also_with_and_fork():
    skip, main, head = lin(4, 3), lin(4, 3), lin(4, 2)
    g = (FlowBuilder(fl.Identity()).fork(head).tag("aux")
         .also_with(skip, main).build())
    x = x64(5, 4)
    close(g(x), skip(x) + main(x))
    close(g.tagged("aux"), head(x))            # the fork's output, main stream unchanged
    check_grad(g, x)


@pytest.mark.parametrize("op", [MergeOp.ADD, MergeOp.MEAN, MergeOp.CAT])
def test_split_merge(op):
    m1, m2, m3 = lin(4, 3), lin(4, 3), lin(4, 3)
    g = FlowBuilder(fl.Identity()).split([m1, m2, m3]).tag_group("head").merge(op).build()
    x = x64(2, 4)
    ys = [m1(x), m2(x), m3(x)]
    expected = {MergeOp.ADD: ys[0] + ys[1] + ys[2], MergeOp.MEAN: (ys[0] + ys[1] + ys[2]) / 3,
                MergeOp.CAT: fl.cat(ys, -1)}[op]
    close(g(x), expected)
    close(g.tagged("head_1"), ys[1])
    check_grad(g, x)


def test_merge_with_a_custom_module():
    class Product(fl.Module):
        def forward(self, values):
            return values[0] * values[1]

    m1, m2 = lin(3, 3), lin(3, 3)
    g = FlowBuilder(fl.Identity()).split([m1, m2]).merge(Product()).build()
    x = x64(2, 3)
    close(g(x), m1(x) * m2(x))


# -------------------------------------------------------------------- refs
class Mix(NamedInputModule):
    """x + 2 * ref_a - ref_b: checks refs arrive by name and in order."""

    def forward_named(self, x, refs):
        out = x
        for i, v in enumerate(refs.values()):
            out = out + (2.0 if i == 0 else -1.0) * v
        return out


def test_backward_refs_read_the_same_pass():
    a, b = lin(3, 3), lin(3, 3)
    g = (FlowBuilder(a).tag("first").through(b).tag("second")
         .through(Mix()).using("first", "second").build())
    x = x64(4, 3)
    h1 = a(x)
    h2 = b(h1)
    close(g(x), h2 + 2.0 * h1 - h2)
    check_grad(g, x)


def test_forward_ref_memory_carries_state_and_resets():
    g = FlowBuilder(fl.Identity()).through(StateAdd()).using("memory").tag("memory").build()
    x = fl.tensor(np.ones((2, 3)))
    np.testing.assert_array_equal(g(x).to_numpy(), 1.0)       # zeros + x
    np.testing.assert_array_equal(g(x).to_numpy(), 2.0)       # previous + x
    np.testing.assert_array_equal(g(x).to_numpy(), 3.0)
    g.reset_state()
    np.testing.assert_array_equal(g(x).to_numpy(), 1.0)


def test_forward_ref_gradient_flows_across_calls_until_detached():
    w = lin(3, 3)
    g = (FlowBuilder(w).through(StateAdd()).using("memory").tag("memory").build())
    x = x64(2, 3)
    y1 = g(x)
    y2 = g(x)                    # y2 = w(x) + y1 = 2 w(x): gradient through both calls
    y2.sum().backward()
    grad_two_steps = w.weight.grad.to_numpy().copy()
    w.zero_grad()
    g.reset_state()
    g(x).sum().backward()
    np.testing.assert_allclose(grad_two_steps, 2 * w.weight.grad.to_numpy())
    w.zero_grad()
    g.detach_state()
    g(x).sum().backward()        # the carried state no longer reaches back
    np.testing.assert_allclose(w.weight.grad.to_numpy() * 2, grad_two_steps)
    del y1


def test_auxiliary_inputs():
    g = (FlowBuilder(lin(3, 3)).input("ctx").through(Mix()).using("ctx").build())
    x, ctx = x64(2, 3), x64(2, 3, seed=1)
    out = g(x, ctx=ctx)
    close(g.forward_multi([x, ctx]), out)
    close(out, g._modules["linear_0"](x) + 2.0 * ctx)
    with pytest.raises(fl.GraphError, match="missing"):
        g(x)


def test_refs_into_also_and_split_go_to_the_inner_modules():
    g = (FlowBuilder(fl.Identity()).tag("x0").also(Mix()).using("x0")
         .split([Mix(), Mix()]).using("x0").merge(MergeOp.ADD).build())
    x = x64(2, 3)
    h = x + (x + 2 * x)
    close(g(x), (h + 2 * x) + (h + 2 * x))


# -------------------------------------------------------------------- loops
def test_for_n_loop_backpropagates_through_every_iteration():
    body = lin(3, 3)
    g = FlowBuilder(fl.Identity()).loop_body(body).for_n(3).build()
    x = x64(2, 3)
    close(g(x), body(body(body(x))))
    check_grad(g, x)


class Count(fl.Module):
    """Adds one per run; publishes a trace."""

    def __init__(self):
        super().__init__()
        self.last = None

    def forward(self, x):
        self.last = x + 1.0
        return self.last

    def trace(self):
        return self.last


def test_while_cond_halts_per_sample_before_the_body():
    # Each sample halts once its max exceeds 2.5: row 0 starts at 0 (runs 3 times),
    # row 1 at 2 (runs once), row 2 at 5 (never runs).
    g = (FlowBuilder(fl.Identity()).loop_body(Count()).while_cond(ThresholdHalt(2.5), 10)
         .tag("loop").build())
    x = fl.tensor(np.array([[0.0, 0.0], [2.0, 1.0], [5.0, 0.0]]))
    np.testing.assert_array_equal(g(x).to_numpy(), [[3.0, 3.0], [3.0, 2.0], [5.0, 0.0]])
    assert len(g.traces("loop")) == 3


def test_until_cond_runs_at_least_once_and_respects_max_iter():
    g = (FlowBuilder(fl.Identity()).loop_body(Count()).until_cond(ThresholdHalt(2.5), 4)
         .build())
    x = fl.tensor(np.array([[0.0], [5.0], [-10.0]]))
    # row 0: 1, 2, 3 (halts); row 1: 6 (halts after the first run); row 2: hits max_iter
    np.testing.assert_array_equal(g(x).to_numpy(), [[3.0], [6.0], [-6.0]])


def test_loop_with_per_sample_halting_gradcheck():
    body = lin(2, 2)

    class Halt(fl.Module):                # halts rows whose first entry is positive
        def forward(self, s):
            return s[:, 0]

    g = FlowBuilder(fl.Identity()).loop_body(body).until_cond(Halt(), 3).build()
    x = fl.Variable(fl.tensor(np.array([[1.0, 0.5], [-1.0, -2.0], [-0.3, 0.2]])),
                    requires_grad=True)
    check_grad(g, x)


def test_learned_halt_loop_runs():
    g = (FlowBuilder(lin(3, 3)).loop_body(lin(3, 3)).until_cond(
        LearnedHalt(3, dtype=F64), 5).build())
    assert g(x64(4, 3)).shape == (4, 3)


# ------------------------------------------------------------ gate / switch
def test_gate_mixes_every_expert_by_router_weights():
    router = SoftmaxRouter(3, 2, dtype=F64)
    e1, e2 = lin(3, 4), lin(3, 4)
    g = FlowBuilder(fl.Identity()).gate(router, [e1, e2]).build()
    x = x64(5, 3)
    w = router(x)
    close(g(x), e1(x) * w[:, 0:1] + e2(x) * w[:, 1:2])
    check_grad(g, x)


class Pick(fl.Module):
    """Per-sample choice from a fixed list (so tests know which rows go where)."""

    def __init__(self, choice):
        super().__init__()
        self.choice = np.asarray(choice)

    def forward(self, x):
        return fl.tensor(self.choice)


def test_switch_routes_each_row_and_restores_order():
    b0, b1, b2 = lin(3, 2), lin(3, 2), lin(3, 2)
    g = FlowBuilder(fl.Identity()).switch(Pick([2, 0, 2, 1, 0]), [b0, b1, b2]).build()
    x = x64(5, 3)
    out = g(x).to_numpy()
    per_row = [b2, b0, b2, b1, b0]
    for i, branch in enumerate(per_row):
        np.testing.assert_allclose(out[i], branch(x[i:i + 1]).to_numpy()[0], rtol=1e-12)
    check_grad(g, x)


def test_switch_runs_only_the_branches_it_needs():
    calls = []

    class Spy(fl.Module):
        def __init__(self, k):
            super().__init__()
            self.k = k

        def forward(self, x):
            calls.append((self.k, x.shape[0]))
            return x * float(self.k)

    g = FlowBuilder(fl.Identity()).switch(Pick([1, 1, 1, 0]), [Spy(0), Spy(1), Spy(2)]).build()
    g(x64(4, 2))
    assert sorted(calls) == [(0, 1), (1, 3)]
    calls.clear()
    g2 = FlowBuilder(fl.Identity()).switch(FixedSelector(2), [Spy(0), Spy(1), Spy(2)]).build()
    g2(x64(4, 2))
    assert calls == [(2, 4)]


def test_argmax_selector_switch_runs():
    g = FlowBuilder(fl.Identity()).switch(ArgmaxSelector(3, 2, dtype=F64),
                                          [lin(3, 2), lin(3, 2)]).build()
    assert g(x64(6, 3)).shape == (6, 2)


def test_switch_bad_index_names_the_step():
    g = FlowBuilder(fl.Identity()).switch(FixedSelector(5), [lin(3, 2)]).build()
    with pytest.raises(fl.GraphError, match=r"step 1 \.switch\(\).*branch 5"):
        g(x64(2, 3))


# ---------------------------------------------------------------------- map
def test_map_each_over_slices_and_batched():
    body = lin(2, 2)
    x = x64(3, 2)
    each = FlowBuilder(fl.Identity()).map(body).each().build()
    close(each(x), fl.stack([body(x[i]) for i in range(3)], 0))
    batched = FlowBuilder(fl.Identity()).map(body).each().batched().build()
    close(batched(x), body(x))
    check_grad(each, x)

    x6 = x64(4, 6)
    sl = FlowBuilder(fl.Identity()).map(body).slices(3).build()
    close(sl(x6), fl.cat([body(x6[:, 2 * k:2 * k + 2]) for k in range(3)], -1))
    slb = FlowBuilder(fl.Identity()).map(body).slices(3).batched().build()
    close(slb(x6), sl(x6))
    check_grad(sl, x6)

    over = (FlowBuilder(fl.Identity()).tag("src").through(lin(2, 2))
            .map(body).over("src").build())
    close(over(x), fl.stack([body(x[i]) for i in range(3)], 0))


# ------------------------------------------------------------- nesting/tree
def test_nested_labelled_graph_is_a_child_in_the_tree():
    enc = FlowBuilder(lin(4, 8)).through(fl.Tanh()).tag("hidden").label("encoder").build()
    model = FlowBuilder(enc).through(lin(8, 2)).build()
    x = x64(3, 4)
    close(model(x), model._modules["linear_1"](enc(x)))
    assert model.subgraph("encoder") is enc
    close(model.tagged_at("encoder.hidden"), enc.tagged("hidden"))
    assert [n for n, _ in model.named_parameters()][:2] == ["encoder.linear_0.weight",
                                                            "encoder.linear_0.bias"]
    model.freeze("encoder")
    assert model.is_frozen("encoder") and not model.is_frozen("linear_1")
    model.thaw("encoder")
    assert not model.is_frozen("encoder")
    assert len(model.parameters_at("encoder")) == 2
    with pytest.raises(fl.GraphError, match=r"'encoder\.hiden'.*no label or tag 'hiden'"):
        model.tagged_at("encoder.hiden")
    # Not computed yet is None; a path that does not exist is an error.
    enc2 = FlowBuilder(lin(4, 8)).tag("hidden").label("encoder").build()
    fresh = FlowBuilder(enc2).through(lin(8, 2)).build()
    assert fresh.tagged_at("encoder.hidden") is None
    fresh(x)
    assert fresh.tagged_at("encoder.hidden").shape == (3, 8)


def test_internal_tags_are_hidden_from_parents():
    inner = (FlowBuilder(lin(2, 2)).tag("_private").through(fl.ReLU()).tag("secret")
             .internal("secret").label("inner").build())
    outer = FlowBuilder(inner).build()
    outer(x64(1, 2))
    for path in ("inner.secret", "inner._private"):
        with pytest.raises(fl.GraphError, match="internal"):
            outer.tagged_at(path)


def test_shared_module_parameters_are_deduplicated():
    shared = lin(3, 3)
    g = FlowBuilder(shared).through(fl.Tanh()).through(shared).build()
    assert len(g.parameters()) == 2


def test_structural_hash_ignores_label_and_sees_shapes():
    def make(label, width):
        fb = FlowBuilder(fl.Linear(3, width)).through(fl.ReLU()).tag("h")
        return (fb.label(label) if label else fb).build()
    assert make("a", 4).structural_hash() == make("b", 4).structural_hash()
    assert make("a", 4).structural_hash() != make("a", 5).structural_hash()
    assert len(make(None, 4).short_hash()) == 8


# ------------------------------------------------------------------ errors
def test_build_reports_every_problem_with_its_step():
    fb = (FlowBuilder(fl.Linear(4, 4)).tag("h").tag("h")
          .through(fl.Linear(4, 4)).using("memroy")
          .split([fl.Linear(4, 4), fl.Linear(4, 4)])
          .through(fl.ReLU())
          .through(Mix()).using("hiden")
          .label("bad.label"))
    with pytest.raises(fl.GraphError) as info:
        fb.build()
    msg = str(info.value)
    assert "step 2 .tag(): tag 'h' already exists" in msg
    assert "step 4 .using()" in msg and "forward_named" in msg
    assert "step 6 .through(): needs a single stream" in msg
    assert "bad.label" in msg
    assert msg.count("\n  - ") >= 5


def test_unresolved_forward_ref_suggests_the_closest_tag():
    with pytest.raises(fl.GraphError, match="ref 'memroy'.*did you mean 'memory'"):
        (FlowBuilder(fl.Identity()).through(StateAdd()).using("memroy").tag("memory")
         .build())


def test_open_split_is_a_build_error():
    with pytest.raises(fl.GraphError, match="still open"):
        FlowBuilder(fl.Identity()).split([fl.ReLU(), fl.Tanh()]).build()


def test_shape_error_inside_a_node_names_node_tag_path_and_shapes():
    inner = FlowBuilder(fl.Linear(4, 4)).through(fl.Linear(5, 2)).tag("proj").label(
        "enc").build()
    outer = FlowBuilder(inner).label("model").build()
    with pytest.raises(fl.ShapeError) as info:
        outer(fl.randn(3, 4))
    msg = str(info.value)
    assert "model.enc.proj" in msg and "node 'linear_1'" in msg and "(3, 4)" in msg


def test_graph_is_a_trainable_module():
    fl.manual_seed(0)
    g = (FlowBuilder(fl.Linear(2, 16)).through(fl.GELU()).tag("hidden")
         .also(fl.Linear(16, 16)).through(fl.Linear(16, 1)).build())
    rng = np.random.default_rng(0)
    x = fl.tensor(rng.standard_normal((64, 2)).astype(np.float32))
    y = fl.tensor((x.to_numpy()[:, :1] * 2 - x.to_numpy()[:, 1:]).astype(np.float32))
    opt = fl.Adam(g.parameters(), 0.02)
    first = None
    for _ in range(100):
        opt.zero_grad()
        loss = fl.mse_loss(g(x), y)
        loss.backward()
        opt.step()
        first = first or loss.item()
    assert loss.item() < 0.05 * first
    g.eval()
    assert not g._modules["linear_0"].training
