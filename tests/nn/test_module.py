"""The Module system: registration, traversal, modes, devices/dtypes, state dicts."""
import numpy as np
import pytest

import flodl_core as fl
from flodl_core.nn import Buffer, Module, ModuleDict, ModuleList, Parameter, collect_parameters


class Leaf(Module):
    def __init__(self, n=3):
        super().__init__()
        self.weight = Parameter(fl.ones(n, 2))
        self.bias = Parameter(fl.zeros(n))
        self.register_buffer("count", fl.zeros(1))

    def forward(self, x):
        return x @ self.weight.t() + self.bias


class Tree(Module):
    def __init__(self):
        super().__init__()
        self.encoder = Leaf(3)
        self.heads = ModuleList([Leaf(2), Leaf(4)])
        self.extra = ModuleDict({"a": Leaf(1)})


def test_registration_and_dotted_names():
    t = Tree()
    names = [n for n, _ in t.named_parameters()]
    assert names == ["encoder.weight", "encoder.bias", "heads.0.weight", "heads.0.bias",
                     "heads.1.weight", "heads.1.bias", "extra.a.weight", "extra.a.bias"]
    assert [n for n, _ in t.named_buffers()] == ["encoder.count", "heads.0.count",
                                                  "heads.1.count", "extra.a.count"]
    assert len(t.children()) == 3 and t.sub_modules() == t.children()
    assert len(t.modules()) == 7
    assert t.num_parameters() == (6 + 3) + (4 + 2) + (8 + 4) + (2 + 1)


def test_reassigning_an_attribute_moves_it_between_tables():
    m = Leaf()
    m.bias = None
    assert [n for n, _ in m.named_parameters()] == ["weight"]
    assert m.bias is None


def test_reassigning_a_parameter_keeps_its_place():
    # As in torch: a custom init or weight tying re-assigns ``weight``; it must stay
    # before ``bias`` (state_dict order and optimizer indices follow this order).
    m = Tree()
    m.encoder.weight = Parameter(fl.zeros(3, 2))
    m.heads[0].weight = m.heads[1].weight = Parameter(fl.zeros(2, 2))
    m.extra = ModuleDict({"a": Leaf(1)})
    assert [n for n, _ in m.named_parameters()] == [
        "encoder.weight", "encoder.bias", "heads.0.weight", "heads.0.bias", "heads.1.bias",
        "extra.a.weight", "extra.a.bias"]
    assert list(m.state_dict())[:6] == ["encoder.weight", "encoder.bias", "encoder.count",
                                        "heads.0.weight", "heads.0.bias", "heads.0.count"]


def test_shared_parameters_are_listed_once():
    t = Tree()
    t.heads[1].weight = t.encoder.weight
    assert sum(p is t.encoder.weight for p in t.parameters()) == 1
    assert len(collect_parameters([t.encoder, t.heads[1], t.encoder.weight])) == 3


def test_assigning_before_super_init_fails_clearly():
    class Bad(Module):
        def __init__(self):
            self.w = Parameter(fl.ones(1))

    with pytest.raises(AttributeError, match="super\\(\\).__init__"):
        Bad()


def test_train_eval_propagate():
    t = Tree()
    t.eval()
    assert all(not m.training for m in t.modules())
    t.train()
    assert all(m.training for m in t.modules())


def test_parameter_copies_its_tensor_and_freezes():
    src = fl.ones(2)
    p = Parameter(src)
    p._data += 1            # an optimizer updating in place
    assert src.tolist() == [1.0, 1.0]
    p.freeze()
    assert p.is_frozen and not p.requires_grad
    p.unfreeze()
    assert p.requires_grad


def test_zero_grad_and_backward_through_module():
    m = Leaf()
    (m(fl.ones(4, 2)).sum()).backward()
    assert m.weight.grad.tolist() == [[4.0, 4.0]] * 3
    m.zero_grad()
    assert m.weight.grad is None
    # torch's signature: set_to_none=False gives zeros (and leaves absent grads None)
    (m(fl.ones(4, 2)).sum()).backward()
    m.bias.zero_grad()
    m.zero_grad(set_to_none=False)
    assert m.weight.grad.tolist() == [[0.0, 0.0]] * 3 and m.bias.grad is None


def test_to_dtype_and_device_in_place():
    m = Tree()
    m.to_dtype(fl.DType.Float64)
    assert all(p.dtype == fl.DType.Float64 for p in m.parameters())
    assert all(b.dtype == fl.DType.Float64 for b in m.buffers())
    assert m.move_to_device(fl.Device.CPU) is m


def test_state_dict_round_trip_and_report():
    a, b = Tree(), Tree()
    for p in a.parameters():
        p.set_data(fl.randn(*p.shape))
    sd = a.state_dict()
    # PyTorch's order: each module's parameters, then its buffers, then its children
    assert list(sd) == [f"{m}.{n}" for m in ("encoder", "heads.0", "heads.1", "extra.a")
                        for n in ("weight", "bias", "count")]
    report = b.load_state_dict(sd)
    assert report.ok
    for (n, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(pa.to_numpy(), pb.to_numpy(), err_msg=n)


def test_failed_load_leaves_the_model_unchanged():
    m = Tree()
    before = m.state_dict()
    bad = dict(before)
    bad["encoder.weight"] = np.full((3, 2), 7.0, np.float32)
    bad["heads.0.bias"] = np.zeros(5, np.float32)      # wrong shape
    with pytest.raises(fl.ShapeError, match=r"heads.0.bias: given \(5,\), expected \(2,\)"):
        m.load_state_dict(bad)
    np.testing.assert_array_equal(m.encoder.weight.to_numpy(), before["encoder.weight"])


def test_non_strict_load_reports_missing_and_unexpected():
    m = Leaf()
    report = m.load_state_dict({"weight": np.zeros((3, 2)), "other": np.zeros(1)}, strict=False)
    assert report.missing == ["bias", "count"] and report.unexpected == ["other"]
    with pytest.raises(fl.ShapeError, match="missing"):
        m.load_state_dict({"weight": np.zeros((3, 2))})


def test_non_persistent_buffers_stay_out_of_state_dict():
    m = Leaf()
    m.register_buffer("scratch", fl.zeros(2), persistent=False)
    assert "scratch" not in m.state_dict()
    assert isinstance(m.scratch, Buffer)


def test_repr_shows_tree_and_counts():
    text = repr(Tree())
    assert "(encoder): Leaf()" in text and "(heads): ModuleList(" in text
    assert text.endswith(")  # 30 params") and "(0): Leaf()  # 6 params" in text


def test_assigning_a_non_parameter_to_a_parameter_name_raises():
    lin = fl.nn.Linear(3, 2)
    with pytest.raises(TypeError, match="cannot assign Tensor as parameter 'weight'"):
        lin.weight = fl.zeros(2, 3)
    assert isinstance(lin.weight, Parameter)                 # still registered
    assert [n for n, _ in lin.named_parameters()] == ["weight", "bias"]
    lin.bias = None                                          # None is allowed, as in torch
    assert [n for n, _ in lin.named_parameters()] == ["weight"]


def test_assigning_a_non_module_to_a_child_name_raises():
    class Net(Module):
        def __init__(self):
            super().__init__()
            self.fc = fl.nn.Linear(2, 2)
    net = Net()
    with pytest.raises(TypeError, match="cannot assign int as child module 'fc'"):
        net.fc = 3
    assert "fc" in dict(net.named_children())


def test_a_tensor_assigned_to_a_buffer_name_stays_a_buffer():
    bn = fl.nn.BatchNorm2d(3)
    names = [n for n, _ in bn.named_buffers()]
    bn.running_mean = fl.tensor(np.array([1.0, 2.0, 3.0], np.float32))
    assert isinstance(bn.running_mean, Buffer)
    assert [n for n, _ in bn.named_buffers()] == names      # same place in the order
    np.testing.assert_array_equal(bn.state_dict()["running_mean"], [1.0, 2.0, 3.0])
