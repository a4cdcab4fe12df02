"""Every registered layer: forward vs an independent NumPy computation (train and
eval mode), and input and parameter gradients by float64 finite differences."""
from __future__ import annotations

import inspect

import numpy as np
import pytest

import flodl_core as fl
from flodl_core import nn
from flodl_core.nn.module_registry import all_moduleinfos
from flodl_core.tensor import TensorLike

INFOS = all_moduleinfos()
F64 = fl.DType.Float64


def _cases():
    for info in INFOS:
        for i, args in enumerate(info.inputs(np.random.default_rng(7))):
            yield pytest.param(info, i, args, id=f"{info.name}-{i}")


CASES = list(_cases())


def _to_args(args, device, requires_grad=True):
    out = []
    for a in args:
        if isinstance(a, np.ndarray) and a.dtype.kind == "f":
            t = fl.from_numpy(a.copy()).to_device(device)
            out.append(fl.Variable(t, requires_grad=requires_grad))
        elif isinstance(a, np.ndarray):
            out.append(fl.from_numpy(a.copy()).to_device(device))
        else:
            out.append(a)
    return out


def _flat(out):
    if isinstance(out, (tuple, list)):
        res = []
        for o in out:
            res.extend(_flat(o))
        return res
    return [out]


def _host(v):
    return np.asarray(v.to_numpy(), dtype=np.float64)


def test_every_public_layer_has_an_entry():
    public = {name for name in nn.layers.__all__
              if inspect.isclass(getattr(nn, name)) and issubclass(getattr(nn, name), nn.Module)}
    missing = sorted(public - {i.name for i in INFOS})
    assert not missing, f"layers without a module registry entry: {missing}"


@pytest.mark.parametrize("info, idx, args", CASES)
def test_forward_matches_numpy(info, idx, args, device):
    for mode in info.modes:
        if info.stochastic and mode == "train":
            continue
        fl.manual_seed(0)
        module = info.make(F64).move_to_device(device)
        module.train(mode == "train")
        state = module.state_dict()
        expected = [np.asarray(e) for e in _flat(info.ref(state, *args, training=mode == "train"))]
        got = [o for o in _flat(module(*_to_args(args, device, requires_grad=False)))
               if isinstance(o, TensorLike)]
        assert len(got) == len(expected), f"{info.name}: {len(got)} outputs, expected {len(expected)}"
        for g, e in zip(got, expected):
            assert g.shape == e.shape, f"{info.name} ({mode}): shape {g.shape} != {e.shape}"
            np.testing.assert_allclose(_host(g), e, atol=info.atol, rtol=info.rtol,
                                       err_msg=f"{info.name} ({mode})")


@pytest.mark.parametrize("info, idx, args", CASES)
def test_input_and_parameter_gradients(info, idx, args, device):
    if not info.gradcheck:
        pytest.skip("no gradient check for this layer")
    fl.manual_seed(0)
    module = info.make(F64).move_to_device(device)
    module.train(not info.stochastic)   # dropout layers: check the deterministic mode
    params = [p for p in module.parameters() if p.requires_grad]
    originals = [p._data for p in params]
    x_args = _to_args(args, device)
    n_in = len(x_args)

    def fn(*all_args):
        xs, ps = all_args[:n_in], all_args[n_in:]
        for mod_p, given, orig in zip(params, ps, originals):
            mod_p._data = orig if given is mod_p else given._data
        outs = _flat(module(*xs))
        for mod_p, orig in zip(params, originals):
            mod_p._data = orig
        return tuple(o for o in outs if isinstance(o, fl.Variable) and o.dtype == F64)

    # Buffers (running stats) must not drift between the many forwards.
    buffers = [(b, b._data.copy()) for b in module.buffers()]

    def fn_restoring(*a):
        for b, saved in buffers:
            b._data[...] = saved
        return fn(*a)

    fl.gradcheck(fn_restoring, x_args + params, atol=info.grad_atol, rtol=info.grad_rtol)
