"""rearrange / sorting / scatter / linalg ops: what the registry cannot express.

Indices and their order (ties, NaN), non-differentiable ops (argsort,
one_hot), gradients at kinks (cumprod with zeros, cdist at zero distance and on
inf-norm ties, normalize/cosine_similarity at zero norm) and error messages.
Expected values were taken from PyTorch 2.13 and are written out here.
"""
from __future__ import annotations

import numpy as np
import pytest

import flodl_core as fl
from flodl_core import DType, Tensor, Variable
from flodl_core.errors import AutogradError, DTypeError, FlodlIndexError, ShapeError
from flodl_core.nn import functional as F

NAN = float("nan")


def _t(values, dtype=np.float64, device=fl.Device.CPU):
    return fl.tensor(np.asarray(values, dtype=dtype), device=device)


def _var(values, dtype=np.float64, device=fl.Device.CPU):
    return Variable(_t(values, dtype, device), requires_grad=True)


def _np(x):
    return np.asarray(x.to_numpy()) if x.device.kind == "cpu" else x.cpu().to_numpy()


# ------------------------------------------------------------------- sort


def test_sort_returns_differentiable_values_and_int64_index_tensor(device):
    x = _var([[3.0, 1.0, 2.0], [0.5, -1.0, 4.0]], device=device)
    out = x.sort()
    assert isinstance(out, tuple) and len(out) == 2
    values, indices = out
    assert out.values is values and out.indices is indices
    assert isinstance(values, Variable) and isinstance(indices, Tensor)
    assert indices.dtype == DType.Int64
    np.testing.assert_array_equal(_np(indices), [[1, 2, 0], [1, 0, 2]])
    np.testing.assert_array_equal(_np(values), [[1, 2, 3], [-1, 0.5, 4]])
    (g,) = fl.grad(values, x, _t([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], device=device))
    np.testing.assert_array_equal(_np(g), [[3, 1, 2], [5, 4, 6]])   # scattered back


def test_sort_is_stable_and_puts_nan_last_ascending_first_descending(device):
    x = _t([1.0, NAN, 3.0, 1.0, NAN, 0.0], device=device)
    v, i = x.sort()
    np.testing.assert_array_equal(_np(i), [5, 0, 3, 2, 1, 4])
    np.testing.assert_array_equal(_np(v), [0, 1, 1, 3, NAN, NAN])
    v, i = x.sort(descending=True)
    np.testing.assert_array_equal(_np(i), [1, 4, 2, 0, 3, 5])
    np.testing.assert_array_equal(_np(x.argsort(descending=True)), [1, 4, 2, 0, 3, 5])
    np.testing.assert_array_equal(_np(x.argsort()), [5, 0, 3, 2, 1, 4])


def test_sort_ints_bools_halves_and_0d(device):
    v, i = _t([3, 1, 2], np.int32, device).sort()
    assert v.dtype == DType.Int32 and _np(v).tolist() == [1, 2, 3] and _np(i).tolist() == [1, 2, 0]
    v, i = _t([True, False], np.bool_, device).sort()
    assert _np(v).tolist() == [False, True] and _np(i).tolist() == [1, 0]
    v, i = _t([2.5, -1.0, 0.5], np.float16, device).sort(descending=True)
    assert v.dtype == DType.Float16 and _np(i).tolist() == [0, 2, 1]
    x = _var(2.0, device=device)
    v, i = x.sort()
    assert v.shape == () and i.shape == () and int(i.item()) == 0 and isinstance(v, Variable)
    assert fl.sort is Tensor.sort and fl.argsort is Tensor.argsort


def test_argsort_is_not_differentiable():
    x = _var([[2.0, 1.0], [0.0, 3.0]])
    idx = x.argsort(dim=0)
    assert isinstance(idx, Tensor) and idx.dtype == DType.Int64
    assert _np(idx).tolist() == [[1, 0], [0, 1]]
    assert _np(_var(1.0).argsort()).tolist() == 0


# ------------------------------------------------------------------- topk


def test_topk_values_indices_and_gradient(device):
    x = _var([[1.0, 5.0, 3.0, 4.0], [9.0, -2.0, 0.0, 7.0]], device=device)
    v, i = x.topk(2)
    assert isinstance(i, Tensor) and i.dtype == DType.Int64
    assert _np(i).tolist() == [[1, 3], [0, 3]] and _np(v).tolist() == [[5, 4], [9, 7]]
    v, i = x.topk(1, dim=0, largest=False)
    assert _np(i).tolist() == [[0, 1, 1, 0]]
    (g,) = fl.grad(x.topk(2).values.sum(), x)
    np.testing.assert_array_equal(_np(g), [[0, 1, 0, 1], [1, 0, 0, 1]])


def test_topk_nan_is_largest_and_k_edges():
    x = _t([1.0, NAN, 3.0, 1.0, NAN, 0.0])
    assert _np(x.topk(3).indices).tolist() == [1, 4, 2]
    v, i = x.topk(3, largest=False)
    assert _np(v).tolist() == [0, 1, 1] and sorted(_np(i).tolist()) == [0, 3, 5]
    v, i = x.topk(0)
    assert v.shape == (0,) and i.shape == (0,)
    assert _np(x.topk(6).indices).tolist() == [1, 4, 2, 0, 3, 5]
    v, i = _t(2.0).topk(1)
    assert v.shape == () and int(i.item()) == 0


def test_topk_partition_path_matches_a_full_sort():
    rng = np.random.default_rng(0)
    a = rng.permutation(200).reshape(4, 50).astype(np.float64)
    x = _t(a)
    for k, largest in ((1, True), (7, True), (7, False), (49, False)):
        v, i = x.topk(k, dim=1, largest=largest)
        order = np.argsort(-a if largest else a, axis=1)[:, :k]
        np.testing.assert_array_equal(_np(i), order)
        np.testing.assert_array_equal(_np(v), np.take_along_axis(a, order, 1))
    v, i = x.topk(3, dim=0)
    np.testing.assert_array_equal(_np(i), np.argsort(-a, axis=0)[:3])


def test_topk_errors():
    with pytest.raises(FlodlIndexError, match=r"topk: k 5 out of range for dim 1 of size 3"):
        _t([[1.0, 2.0, 3.0]]).topk(5, dim=1)
    with pytest.raises(FlodlIndexError, match="topk: k -1 out of range"):
        _t([1.0, 2.0]).topk(-1)
    with pytest.raises(DTypeError, match="topk: not implemented for Bool"):
        _t([True, False], np.bool_).topk(1)
    with pytest.raises(TypeError, match="topk: k must be an int"):
        _t([1.0, 2.0]).topk(1.0)


# ---------------------------------------------------------------- cumprod


def _cumprod_grad_bruteforce(x, g):
    n = len(x)
    return [sum(g[j] * np.prod([x[k] for k in range(j + 1) if k != i])
                for j in range(i, n)) for i in range(n)]


@pytest.mark.parametrize("values, expected", [
    ([2.0, 0.0, 3.0, 4.0], [1.0, 22.0, 0.0, 0.0]),      # PyTorch 2.13
    ([0.0, 2.0, 0.0, 5.0], [-1.0, 0.0, 0.0, 0.0]),
    ([1.5, -2.0, 3.0, 0.0], [-9.0, 7.5, -6.0, -4.5]),
    ([0.0, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]),
])
def test_cumprod_gradient_is_exact_with_zeros(values, expected, device):
    g = [1.0, -1.0, 2.0, 0.5]
    x = _var(values, device=device)
    (gx,) = fl.grad(x.cumprod(0), x, _t(g, device=device))
    np.testing.assert_allclose(_np(gx), expected)
    np.testing.assert_allclose(_np(gx), _cumprod_grad_bruteforce(values, g))


def test_cumprod_with_zeros_along_inner_and_outer_dims():
    rng = np.random.default_rng(1)
    a = rng.uniform(-2, 2, size=(3, 4, 5))
    a[0, 1, 2] = a[2, 3, 0] = a[1, 0, 4] = a[1, 2, 4] = 0.0
    g = rng.standard_normal(a.shape)
    for dim in (0, 1, 2, -1):
        x = _var(a)
        (gx,) = fl.grad(x.cumprod(dim), x, _t(g))
        want = np.zeros_like(a)
        moved_a, moved_g = np.moveaxis(a, dim, -1), np.moveaxis(g, dim, -1)
        moved_w = np.moveaxis(want, dim, -1)
        for idx in np.ndindex(moved_a.shape[:-1]):
            moved_w[idx] = _cumprod_grad_bruteforce(moved_a[idx], moved_g[idx])
        np.testing.assert_allclose(_np(gx), want, atol=1e-12)


def test_cumprod_double_backward_with_zeros_raises_and_without_zeros_works():
    x = _var([2.0, 0.0, 3.0])
    with pytest.raises(AutogradError, match="cumprod: double backward"):
        fl.grad(x.cumprod(0).sum(), x, create_graph=True)
    x = _var([2.0, -1.0, 3.0])
    (g,) = fl.grad(x.cumprod(0).sum(), x, create_graph=True)
    (gg,) = fl.grad(g.sum(), x)
    # d/dx of [1 + x1 + x1x2, x0 + x0x2, x0x1] summed: [1 + x2 + x1, 1 + x2 + x0, x1 + x0]
    np.testing.assert_allclose(_np(gg), [1 + 3 - 1, 1 + 3 + 2, -1 + 2])


def test_cumprod_dtypes():
    assert _t([1, 2, 3], np.int32).cumprod(0).dtype == DType.Int64
    assert _np(_t([True, True, False], np.bool_).cumprod(0)).tolist() == [1, 1, 0]
    assert _t([1.0, 2.0], np.float16).cumprod(0).dtype == DType.Float16
    assert float(_t(3.0).cumprod(0).item()) == 3.0


# ---------------------------------------------------------------- scatter


def test_scatter_src_value_and_gradients():
    x = _var(np.zeros((3, 4)))
    src = _var(np.arange(12.0).reshape(3, 4) + 1)
    idx = _t([[2, 0], [1, 2]], np.int64)
    y = x.scatter(0, idx, src)
    np.testing.assert_array_equal(_np(y), [[0, 2, 0, 0], [5, 0, 0, 0], [1, 6, 0, 0]])
    gx, gs = fl.grad(y, [x, src], _t(np.arange(12.0).reshape(3, 4)))
    np.testing.assert_array_equal(_np(gx), [[0, 0, 2, 3], [0, 5, 6, 7], [0, 0, 10, 11]])
    np.testing.assert_array_equal(_np(gs), [[8, 1, 0, 0], [4, 9, 0, 0], [0, 0, 0, 0]])
    y = x.scatter(1, idx, 7.5)
    np.testing.assert_array_equal(_np(y), [[7.5, 0, 7.5, 0], [0, 7.5, 7.5, 0], [0, 0, 0, 0]])
    assert _np(x.scatter(1, idx, value=2.0)).sum() == 8.0
    (gx,) = fl.grad(y.sum(), x)
    np.testing.assert_array_equal(_np(gx), [[0, 1, 0, 1], [1, 0, 0, 1], [1, 1, 1, 1]])


def test_scatter_with_repeated_indices_writes_one_of_the_values():
    y = _t([0.0, 0.0, 0.0]).scatter(0, _t([1, 1], np.int64), _t([5.0, 6.0]))
    assert _np(y)[1] in (5.0, 6.0) and _np(y)[[0, 2]].tolist() == [0, 0]


def test_scatter_add_and_index_add_accumulate(device):
    x = _var(np.ones((2, 3)), device=device)
    src = _var([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], device=device)
    y = x.scatter_add(1, _t([[0, 0, 2], [1, 1, 1]], np.int64, device), src)
    np.testing.assert_array_equal(_np(y), [[4, 1, 4], [1, 16, 1]])
    gx, gs = fl.grad(y, [x, src], _t([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], device=device))
    np.testing.assert_array_equal(_np(gx), [[1, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(_np(gs), [[1, 1, 3], [5, 5, 5]])
    y = x.index_add(0, _t([1, 1, 0], np.int64, device), _var(np.ones((3, 3)), device=device),
                    alpha=2)
    np.testing.assert_array_equal(_np(y), [[3, 3, 3], [5, 5, 5]])
    assert fl.scatter_add is Tensor.scatter_add and fl.index_add is Tensor.index_add


def test_scatter_family_errors():
    x = _t(np.zeros((3, 4)))
    with pytest.raises(ShapeError, match=r"scatter: index shape \(3, 4\) does not fit src "
                                         r"\(2, 4\) in dim 0"):
        x.scatter(0, _t(np.zeros((3, 4)), np.int64), _t(np.ones((2, 4))))
    with pytest.raises(ShapeError, match=r"does not fit self \(3, 4\) in dim 1"):
        x.scatter(0, _t(np.zeros((1, 5)), np.int64), _t(np.ones((3, 5))))
    with pytest.raises(ShapeError, match="must have as many dims as self"):
        x.scatter(0, _t([1], np.int64), _t(np.ones((3, 4))))
    with pytest.raises(FlodlIndexError, match=r"scatter: index 5 out of range: expected values "
                                              r"in \[0, 3\)"):
        x.scatter(0, _t([[5]], np.int64), _t(np.ones((3, 4))))
    with pytest.raises(DTypeError, match=r"scatter: expected src of the same dtype as self "
                                         r"\(Float64\), got Float32"):
        x.scatter(0, _t([[1]], np.int64), _t(np.ones((3, 4)), np.float32))
    with pytest.raises(DTypeError, match="scatter_add: index must be an integer tensor"):
        x.scatter_add(0, _t([[1.0]]), _t(np.ones((3, 4))))
    with pytest.raises(ShapeError, match=r"index_add: source shape \(3, 4\) does not fit self "
                                         r"\(3, 4\) with 1 indices in dim 0: expected \(1, 4\)"):
        x.index_add(0, _t([1], np.int64), _t(np.ones((3, 4))))
    with pytest.raises(DTypeError, match="index_add: index must be a 0-d or 1-D"):
        x.index_add(0, _t([[1]], np.int64), _t(np.ones((1, 4))))
    with pytest.raises(FlodlIndexError, match="index_add: index 3 out of range"):
        x.index_add(0, _t([3], np.int64), _t(np.ones((1, 4))))


# ---------------------------------------------------------------- one_hot


def test_one_hot(device):
    idx = _t([[0, 2], [1, 1]], np.int64, device)
    y = idx.one_hot()
    assert isinstance(y, Tensor) and y.dtype == DType.Int64 and y.shape == (2, 2, 3)
    assert _np(y).tolist() == [[[1, 0, 0], [0, 0, 1]], [[0, 1, 0], [0, 1, 0]]]
    assert _np(F.one_hot(_t(2, np.int64, device), 4)).tolist() == [0, 0, 1, 0]
    assert F.one_hot(_t(np.zeros(0), np.int64, device), 3).shape == (0, 3)


def test_one_hot_errors():
    with pytest.raises(ShapeError, match="one_hot: class value 5 out of range for num_classes 3"):
        F.one_hot(_t([0, 5], np.int64), 3)
    with pytest.raises(ShapeError, match="one_hot: class values must be non-negative"):
        F.one_hot(_t([0, -1], np.int64))
    with pytest.raises(DTypeError, match="one_hot: expected an Int64 tensor"):
        F.one_hot(_t([0, 1], np.int32))
    with pytest.raises(ShapeError, match="one_hot: cannot infer num_classes"):
        F.one_hot(_t(np.zeros(0), np.int64))


# -------------------------------------------------------------- rearrange


def test_meshgrid_xy_with_three_tensors_and_list_form():
    a, b, c = _t([1.0, 2.0]), _t(5.0), _t([7.0, 8.0, 9.0])
    gs = fl.meshgrid(a, b, c, indexing="xy")
    assert isinstance(gs, tuple) and [g.shape for g in gs] == [(1, 2, 3)] * 3
    ref = np.meshgrid([1.0, 2.0], [5.0], [7.0, 8.0, 9.0], indexing="xy")
    for g, r in zip(gs, ref):
        np.testing.assert_array_equal(_np(g), r)
    assert [g.shape for g in Tensor.meshgrid([a, c])] == [(2, 3), (2, 3)]


def test_rearrange_on_integer_tensors():
    x = _t(np.arange(6).reshape(2, 3), np.int64)
    assert _np(x.triu(1)).tolist() == [[0, 1, 2], [0, 0, 5]]
    assert _np(x.flip(1)).tolist() == [[2, 1, 0], [5, 4, 3]]
    assert _np(x.roll(1)).tolist() == [[5, 0, 1], [2, 3, 4]]
    assert _np(x.diagonal()).tolist() == [0, 4]
    assert _np(x.tile(2)).tolist() == [[0, 1, 2, 0, 1, 2], [3, 4, 5, 3, 4, 5]]


def test_rearrange_errors():
    with pytest.raises(ShapeError, match=r"triu: expected a tensor with at least 2 dims, got "
                                         r"shape \(3,\)"):
        _t([1.0, 2.0, 3.0]).triu()
    with pytest.raises(ShapeError, match="diagonal: dim1 and dim2 must differ"):
        _t(np.zeros((2, 2))).diagonal(0, 1, -1)
    with pytest.raises(ShapeError, match="roll: shifts and dims must have the same"):
        _t(np.zeros((2, 2))).roll((1, 1), 0)
    with pytest.raises(FlodlIndexError, match="roll: dims"):
        _t(1.0).roll(1, 0)
    with pytest.raises(ShapeError, match="flip: dim"):
        _t(np.zeros((2, 2))).flip(0, -2)
    with pytest.raises(ShapeError, match="movedim: source"):
        _t(np.zeros((2, 2))).movedim((0, 1), 0)
    with pytest.raises(ShapeError, match="tile: repeat counts must be non-negative"):
        _t([1.0]).tile(-1)
    with pytest.raises(DTypeError, match="meshgrid: expected tensors of one dtype"):
        fl.meshgrid(_t([1.0]), _t([1], np.int64))
    with pytest.raises(ShapeError, match="meshgrid: expected 0-d or 1-d"):
        fl.meshgrid(_t(np.zeros((2, 2))))


# ----------------------------------------------------------------- linalg


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, 0.5])
def test_cdist_gradient_is_zero_at_zero_distance(p):
    a = np.array([[1.0, 2.0], [0.5, -1.0]])
    x1 = _var(a)
    y = x1.cdist(_t(a), p)
    assert _np(y)[0, 0] == 0 and _np(y)[1, 1] == 0
    (g,) = fl.grad(y.sum(), x1)
    assert np.all(np.isfinite(_np(g)))
    # Only the off-diagonal distances contribute: d(x0 - x1) and d(x1 - x0).
    x1 = _var(a)
    (g_off,) = fl.grad(x1.cdist(_t(a), p).mul(_t([[0.0, 1.0], [1.0, 0.0]])).sum(), x1)
    np.testing.assert_allclose(_np(g), _np(g_off))


def test_cdist_large_inputs_use_the_matmul_form_and_keep_zero_gradients():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((30, 3))
    x1 = _var(a)
    y = x1.cdist(_t(a[:4]))
    ref = np.sqrt(((a[:, None] - a[None, :4]) ** 2).sum(-1))
    np.testing.assert_allclose(_np(y), ref, atol=1e-7)
    (g,) = fl.grad(y.sum(), x1)
    assert np.all(np.isfinite(_np(g)))


def test_cdist_inf_norm_ties_each_get_the_full_gradient():
    x1 = _var([[1.0, -1.0, 0.5]])
    (g,) = fl.grad(x1.cdist(_t([[0.0, 0.0, 0.0]]), float("inf")).sum(), x1)
    np.testing.assert_array_equal(_np(g), [[1.0, -1.0, 0.0]])     # PyTorch 2.13


def test_cdist_p0_counts_differences_with_zero_gradient():
    x1 = _var([[1.0, 2.0]])
    y = x1.cdist(_t([[0.0, 2.0], [1.0, 2.0]]), 0.0)
    assert _np(y).tolist() == [[1.0, 0.0]]
    (g,) = fl.grad(y.sum(), x1)
    assert _np(g).tolist() == [[0.0, 0.0]]


def test_cdist_errors():
    with pytest.raises(ShapeError, match=r"cdist: x1 \(2, 3\) and x2 \(2, 4\) must have the same"):
        _t(np.zeros((2, 3))).cdist(_t(np.zeros((2, 4))))
    with pytest.raises(ShapeError, match="cdist: expected x1 with at least 2 dims"):
        _t([1.0]).cdist(_t(np.zeros((2, 1))))
    with pytest.raises(ValueError, match="cdist: p must be a non-negative"):
        _t(np.zeros((2, 3))).cdist(_t(np.zeros((2, 3))), -1.0)
    with pytest.raises(DTypeError, match="cdist: expected x1 and x2 of one dtype"):
        _t(np.zeros((2, 3))).cdist(_t(np.zeros((2, 3)), np.float32))
    assert fl.cdist is Tensor.cdist


def test_normalize_and_cosine_similarity_at_zero_norm_follow_pytorch():
    x = _var([[0.0, 0.0]])
    y = F.normalize(x)
    assert _np(y).tolist() == [[0.0, 0.0]]
    (g,) = fl.grad(y.sum(), x)
    np.testing.assert_allclose(_np(g), [[1e12, 1e12]])
    x = _var([[0.0, 0.0]])
    c = F.cosine_similarity(x, _t([[1.0, 2.0]]))
    (g,) = fl.grad(c.sum(), x)
    assert _np(c).tolist() == [0.0]
    np.testing.assert_allclose(_np(g), [[44721359.549995795, 89442719.09999159]])


def test_cosine_similarity_clamps_each_norm_separately():
    # PyTorch 2: x/max(|x|, eps) . y/max(|y|, eps); the old max(|x||y|, eps) gives 0.01.
    x = _t([[1e-5, 0.0]])
    np.testing.assert_allclose(_np(x.cosine_similarity(x)), [1.0])
    assert fl.cosine_similarity is Tensor.cosine_similarity
    assert F.cosine_similarity is Tensor.cosine_similarity


def test_cosine_similarity_of_integer_tensors_is_float32():
    y = _t([[1, 2]], np.int64).cosine_similarity(_t([[2, 4]], np.int64))
    assert y.dtype == DType.Float32
    np.testing.assert_allclose(_np(y), [1.0], rtol=1e-6)


def test_addmm_beta_zero_ignores_nan_bias_and_errors():
    bias = _var([NAN, NAN])
    m1 = _var([[1.0, 2.0]])
    m2 = _var([[1.0, 0.0], [0.0, 1.0]])
    y = bias.addmm(m1, m2, beta=0, alpha=2)
    assert _np(y).tolist() == [[2.0, 4.0]]
    gb, g1 = fl.grad(y.sum(), [bias, m1])
    assert _np(gb).tolist() == [0.0, 0.0] and _np(g1).tolist() == [[2.0, 2.0]]
    assert _np(fl.addmm(_t(1.0), _t([[1.0]]), _t([[3.0]]))).tolist() == [[4.0]]
    assert _np(_t([1, 1], np.int64).addmm(_t([[1, 2]], np.int64),
                                          _t([[1, 0], [0, 1]], np.int64), alpha=3)).tolist() \
        == [[4, 7]]
    with pytest.raises(ShapeError, match=r"addmm: cannot multiply mat1 \(1, 2\) and mat2 "
                                         r"\(3, 2\): inner dims 2 != 3"):
        _t([0.0]).addmm(_t([[1.0, 2.0]]), _t(np.zeros((3, 2))))
    with pytest.raises(ShapeError, match=r"addmm: self of shape \(3,\) does not broadcast"):
        _t([0.0, 0.0, 0.0]).addmm(_t([[1.0, 2.0]]), _t(np.zeros((2, 2))))
    with pytest.raises(ShapeError, match="addmm: expected 2-D mat1 and mat2"):
        _t([0.0]).addmm(_t([1.0]), _t([[1.0]]))
    with pytest.raises(DTypeError, match="addmm: expected self, mat1 and mat2 of one dtype"):
        _t([0.0], np.float32).addmm(_t([[1.0]]), _t([[1.0]]))


def test_addmm_half_precision_accumulates_in_float32():
    # A float16 running sum of ones stops at 2048, a bfloat16 one at 256.
    m1 = _t(np.ones((1, 4096)), np.float16)
    m2 = _t(np.ones((4096, 1)), np.float16)
    y = _t([[0.0]], np.float16).addmm(m1, m2)
    assert y.dtype == DType.Float16 and float(y.item()) == 4096.0
    b1, b2 = _t(np.ones((1, 512))).bfloat16(), _t(np.ones((512, 1))).bfloat16()
    yb = _t([[0.0]]).bfloat16().addmm(b1, b2, beta=0.5)
    assert yb.dtype == DType.BFloat16 and float(yb.to_dtype(DType.Float32).item()) == 512.0
