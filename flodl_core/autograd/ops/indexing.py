"""Indexing, slicing, joining and padding: getitem, narrow, select, unbind,
index_select, gather, masked_select, cat, stack, chunk, split, repeat, pad.

Gather-type ops (getitem, index_select, gather, masked_select) have a
scatter-type partner (GetItemBackward, IndexAdd, ScatterAdd, MaskedScatter)
that is their backward, and each
partner's backward is the gather again, so every order of derivative stays
inside these pairs. Scatters accumulate (``add.at``), so repeated indices sum
their gradients. Cat and SplitSections are each other's backward as well.
"""
from __future__ import annotations

import numbers

from ...backend.dtype import dtype_of
from ...errors import DeviceError, DTypeError, FlodlIndexError, ShapeError
from ...tensor import TensorLike
from ..function import AUTOCAST_PROMOTE, DIFFERENTIABLE_METHODS, Function, op_method
from ._util import norm_dim, promote_types, xp
from .elementwise import _bool_mask


# ------------------------------------------------------------------ helpers


def _as_int(op, what, v) -> int:
    """A Python int from an int, a NumPy integer or a one-element integer tensor."""
    if isinstance(v, TensorLike):
        if v._data.size != 1 or v._data.dtype.kind not in "iu":
            raise DTypeError(f"{op}: {what} must be an int or a one-element integer tensor, "
                             f"got {v.dtype.name} shape {tuple(v.shape)}")
        return int(v.item())
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise TypeError(f"{op}: {what} must be an int, got {type(v).__name__}")
    return int(v)


def _on_module(op, m, arr):
    """``arr`` moved to the array module ``m`` of the indexed tensor."""
    if xp(arr) is m:
        return arr
    if m.__name__ == "numpy":
        raise DeviceError(f"{op}: the index is on a CUDA device but the input is on the CPU")
    return m.asarray(arr)


def _index_array(op, x_data, index):
    """The raw integer array of an index argument (Tensor, Variable, ndarray, list)."""
    m = xp(x_data)
    arr = index._data if isinstance(index, TensorLike) else index
    if isinstance(arr, (list, tuple)):
        arr = m.asarray(arr, dtype=m.int64) if len(arr) == 0 else m.asarray(arr)
    if not hasattr(arr, "dtype") or not hasattr(arr, "ndim"):
        raise TypeError(f"{op}: index must be an integer tensor, got {type(index).__name__}")
    return _on_module(op, m, arr)


def _check_range(op, idx, low, high, where):
    """Every value of ``idx`` in [low, high), else FlodlIndexError."""
    if idx.size == 0:
        return
    lo, hi = int(idx.min()), int(idx.max())
    if lo < low or hi >= high:
        bad = lo if lo < low else hi
        raise FlodlIndexError(f"{op}: index {bad} out of range: expected values in "
                              f"[{low}, {high}) for {where}")


def _dtype_name(arr) -> str:
    try:
        return dtype_of(arr.dtype).name
    except DTypeError:
        return str(arr.dtype)


def _add_at(out, key, values):
    """``out[key] += values`` with repeated indices accumulating (in place)."""
    m = xp(out)
    if m.__name__ == "numpy":
        m.add.at(out, key, values)
    else:
        from cupyx import scatter_add
        scatter_add(out, key, values)


def _tensors(op, seq) -> list:
    if isinstance(seq, TensorLike) or not isinstance(seq, (list, tuple)):
        raise TypeError(f"{op}: expected a list or tuple of tensors, got {type(seq).__name__}")
    if not seq:
        raise ShapeError(f"{op}: expected a non-empty list of tensors")
    for i, t in enumerate(seq):
        if not isinstance(t, TensorLike):
            raise TypeError(f"{op}: expected a list of tensors, got {type(t).__name__} "
                            f"at position {i}")
    return list(seq)


# ---------------------------------------------------------------- getitem


def _normalize_key(x_data, key):
    """Validate a key against ``x_data``; return (key tuple, has advanced indices).

    Tensors, ndarrays and lists become arrays on the input's device; boolean
    masks become the integer arrays of their ``nonzero()`` (NumPy's own
    definition), so backward can scatter with ``add.at``; Ellipsis is
    expanded into full slices.
    """
    shape = x_data.shape
    if not isinstance(key, tuple):
        key = (key,)
    items = []
    for k in key:
        if k is None or k is Ellipsis:
            items.append(k)
        elif isinstance(k, bool):
            raise TypeError("getitem: a Python bool is not a valid index (use a bool tensor "
                            "mask of the indexed dims' shape)")
        elif isinstance(k, numbers.Integral):
            items.append(int(k))
        elif isinstance(k, slice):
            items.append(slice(*(None if v is None else _as_int("getitem", "a slice bound", v)
                                 for v in (k.start, k.stop, k.step))))
        elif isinstance(k, (TensorLike, list)) or (hasattr(k, "dtype") and hasattr(k, "ndim")):
            arr = _index_array("getitem", x_data, k)
            kind = arr.dtype.kind
            if kind not in "biu":
                raise DTypeError(f"getitem: tensors used as indices must be integer or bool, "
                                 f"got {_dtype_name(arr)} shape {tuple(arr.shape)}")
            if kind == "b" and arr.ndim == 0:
                raise TypeError("getitem: a 0-d bool index is not supported")
            items.append(arr)
        else:
            raise TypeError(f"getitem: unsupported index type {type(k).__name__}")

    if sum(1 for k in items if k is Ellipsis) > 1:
        raise FlodlIndexError("getitem: an index can only have a single ellipsis ('...')")
    used = sum((k.ndim if k.dtype.kind == "b" else 1) if hasattr(k, "dtype") else
               0 if k is None or k is Ellipsis else 1 for k in items)
    if used > len(shape):
        raise FlodlIndexError(f"getitem: too many indices for a {len(shape)}-d tensor of "
                              f"shape {tuple(shape)}: {used} dims indexed")
    out = []
    advanced = False
    dim = 0
    for k in items:
        if k is None:
            out.append(None)
        elif k is Ellipsis:
            n = len(shape) - used
            out.extend([slice(None)] * n)
            dim += n
        elif isinstance(k, int):
            size = shape[dim]
            if not -size <= k < size:
                raise FlodlIndexError(f"getitem: index {k} is out of range for dim {dim} with "
                                      f"size {size} (shape {tuple(shape)})")
            out.append(k)
            dim += 1
        elif isinstance(k, slice):
            out.append(k)
            dim += 1
        elif k.dtype.kind == "b":
            want = tuple(shape[dim:dim + k.ndim])
            if tuple(k.shape) != want:
                raise FlodlIndexError(f"getitem: bool mask of shape {tuple(k.shape)} does not "
                                      f"match the indexed dims {want} of shape {tuple(shape)}")
            out.extend(k.nonzero())
            advanced = True
            dim += k.ndim
        else:
            size = shape[dim]
            _check_range("getitem", k, -size, size, f"dim {dim} with size {size} "
                         f"(shape {tuple(shape)})")
            out.append(k)
            advanced = True
            dim += 1
    return tuple(out), advanced


class GetItem(Function):
    """``x[key]`` for a normalized key (basic and/or integer-array indices)."""

    __slots__ = ("key", "advanced")

    def __init__(self, key, advanced):
        self.key, self.advanced = key, advanced

    def forward(self, x):
        return x[self.key]

    def backward(self, gy):
        return GetItemBackward(self.key, self.advanced, self.inputs[0].shape)(gy)


class GetItemBackward(Function):
    """Zeros of ``shape`` with ``g`` scattered (accumulated) at ``key``."""

    __slots__ = ("key", "advanced", "shape")

    def __init__(self, key, advanced, shape):
        self.key, self.advanced, self.shape = key, advanced, tuple(shape)

    def forward(self, g):
        out = xp(g).zeros(self.shape, dtype=g.dtype)
        if self.advanced:
            _add_at(out, self.key, g)
        else:
            out[self.key] = g
        return out

    def backward(self, ggx):
        return GetItem(self.key, self.advanced)(ggx)


@op_method
def getitem(self, key):
    """``self[key]``: ints, slices (negative steps too), None, Ellipsis, integer
    arrays/tensors/lists (repeats allowed) and bool masks, as in NumPy/PyTorch."""
    return GetItem(*_normalize_key(self._data, key))(self)


@op_method
def narrow(self, dim, start, length):
    """The slice ``start:start+length`` of dim ``dim`` (negative start counts from the end)."""
    shape = self.shape
    if len(shape) == 0:
        raise ShapeError("narrow: cannot narrow a 0-d tensor")
    d = norm_dim(dim, len(shape), "narrow")
    start = _as_int("narrow", "start", start)
    length = _as_int("narrow", "length", length)
    size = shape[d]
    if not -size <= start <= size:
        raise FlodlIndexError(f"narrow: start {start} out of range for dim {d} with size "
                              f"{size} (shape {shape})")
    if start < 0:
        start += size
    if length < 0:
        raise ShapeError(f"narrow: length must be non-negative, got {length}")
    if start + length > size:
        raise FlodlIndexError(f"narrow: start {start} + length {length} exceeds size {size} "
                              f"of dim {d} (shape {shape})")
    return GetItem((slice(None),) * d + (slice(start, start + length),), False)(self)


@op_method
def select(self, dim, index):
    """Index ``index`` of dim ``dim``, removing that dim (``x.select(0, i)`` is ``x[i]``)."""
    shape = self.shape
    if len(shape) == 0:
        raise ShapeError("select: cannot select from a 0-d tensor")
    d = norm_dim(dim, len(shape), "select")
    i = _as_int("select", "index", index)
    if not -shape[d] <= i < shape[d]:
        raise FlodlIndexError(f"select: index {i} out of range for dim {d} with size "
                              f"{shape[d]} (shape {shape})")
    return GetItem((slice(None),) * d + (i,), False)(self)


@op_method
def unbind(self, dim=0):
    """All slices along ``dim``, that dim removed, as a list."""
    if self.ndim == 0:
        raise ShapeError("unbind: cannot unbind a 0-d tensor")
    d = norm_dim(dim, self.ndim, "unbind")
    return [GetItem((slice(None),) * d + (i,), False)(self) for i in range(self.shape[d])]


# ---------------------------------------------------- index_select / gather


class IndexSelect(Function):
    __slots__ = ("dim", "index")

    def __init__(self, dim, index):
        self.dim, self.index = dim, index

    def forward(self, x):
        return xp(x).take(x, self.index, axis=self.dim)

    def backward(self, gy):
        return IndexAdd(self.dim, self.index, self.inputs[0].shape)(gy)


class IndexAdd(Function):
    """Zeros of ``shape`` with the slices of ``g`` added at ``index`` along ``dim``."""

    __slots__ = ("dim", "index", "shape")

    def __init__(self, dim, index, shape):
        self.dim, self.index, self.shape = dim, index, tuple(shape)

    def forward(self, g):
        out = xp(g).zeros(self.shape, dtype=g.dtype)
        _add_at(out, (slice(None),) * self.dim + (self.index,), g)
        return out

    def backward(self, ggx):
        return IndexSelect(self.dim, self.index)(ggx)


@op_method
def index_select(self, dim, index):
    """Slices ``index`` (a 1-D or 0-d integer tensor, repeats allowed) along ``dim``."""
    shape = self.shape
    if len(shape) == 0:
        raise ShapeError("index_select: expected a tensor with at least 1 dim, got a 0-d one")
    d = norm_dim(dim, len(shape), "index_select")
    idx = _index_array("index_select", self._data, index)
    if idx.ndim == 0:
        idx = idx.reshape(1)         # a 0-d index selects one slice (PyTorch)
    if idx.ndim != 1 or idx.dtype.kind not in "iu":
        raise DTypeError(f"index_select: index must be a 1-D integer tensor, got "
                         f"{_dtype_name(idx)} shape {tuple(idx.shape)}")
    _check_range("index_select", idx, 0, shape[d], f"dim {d} with size {shape[d]} "
                 f"(shape {shape})")
    return IndexSelect(d, idx)(self)


def _gather_grid(dim, index):
    """Index tuple addressing ``out[..., index, ...]`` elementwise (for add.at)."""
    m = xp(index)
    nd = index.ndim
    key = []
    for d, n in enumerate(index.shape):
        if d == dim:
            key.append(index)
        else:
            key.append(m.arange(n).reshape((1,) * d + (n,) + (1,) * (nd - d - 1)))
    return tuple(key)


class Gather(Function):
    __slots__ = ("dim", "index")

    def __init__(self, dim, index):
        self.dim, self.index = dim, index

    def forward(self, x):
        index = self.index
        crop = tuple(slice(None) if d == self.dim else slice(0, n)
                     for d, n in enumerate(index.shape))
        return xp(x).take_along_axis(x[crop], index, axis=self.dim)

    def backward(self, gy):
        return ScatterAdd(self.dim, self.index, self.inputs[0].shape)(gy)


class ScatterAdd(Function):
    """Zeros of ``shape`` with ``g`` added at ``index`` along ``dim`` (torch.scatter_add)."""

    __slots__ = ("dim", "index", "shape")

    def __init__(self, dim, index, shape):
        self.dim, self.index, self.shape = dim, index, tuple(shape)

    def forward(self, g):
        out = xp(g).zeros(self.shape, dtype=g.dtype)
        _add_at(out, _gather_grid(self.dim, self.index), g)
        return out

    def backward(self, ggx):
        return Gather(self.dim, self.index)(ggx)


@op_method
def gather(self, dim, index):
    """``out[i][j] = self[index[i][j]][j]`` for dim 0 (torch.gather semantics)."""
    shape = self.shape
    if len(shape) == 0:
        raise ShapeError("gather: expected a tensor with at least 1 dim, got a 0-d one")
    d = norm_dim(dim, len(shape), "gather")
    idx = _index_array("gather", self._data, index)
    if idx.dtype.kind not in "iu":
        raise DTypeError(f"gather: index must be an integer tensor, got {_dtype_name(idx)}")
    if idx.ndim != len(shape):
        raise ShapeError(f"gather: index must have as many dims as the input: got index "
                         f"shape {tuple(idx.shape)} for input shape {shape}")
    for i, (n, s) in enumerate(zip(idx.shape, shape)):
        if i != d and n > s:
            raise ShapeError(f"gather: index shape {tuple(idx.shape)} is larger than input "
                             f"shape {shape} in dim {i} (only dim {d} may differ)")
    _check_range("gather", idx, 0, shape[d], f"dim {d} with size {shape[d]} (shape {shape})")
    return Gather(d, idx)(self)


# ----------------------------------------------------------- masked_select


class MaskedSelect(Function):
    """The elements of ``x`` where ``mask`` (input 1, Bool) is True, both broadcast
    to ``shape``, as a 1-D array in row-major order."""

    __slots__ = ("shape",)

    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, x, mask):
        m = xp(x)
        return m.broadcast_to(x, self.shape)[m.broadcast_to(mask, self.shape)]

    def backward(self, gy):
        # A gradient of the broadcast shape: the engine sums it back to x's shape.
        return MaskedScatter(self.shape)(gy, self.inputs[1]), None


class MaskedScatter(Function):
    """Zeros of ``shape`` with the 1-D ``g`` written, in row-major order, where
    ``mask`` (input 1, Bool, broadcast to ``shape``) is True."""

    __slots__ = ("shape",)

    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, g, mask):
        m = xp(g)
        out = m.zeros(self.shape, dtype=g.dtype)
        out[m.broadcast_to(mask, self.shape)] = g
        return out

    def backward(self, ggx):
        return MaskedSelect(self.shape)(ggx, self.inputs[1]), None


@op_method
def masked_select(self, mask):
    """The elements of ``self`` where the Bool ``mask`` is True, as a 1-D tensor in
    row-major order (torch.masked_select). ``self`` and ``mask`` broadcast to a
    common shape first; the result keeps ``self``'s dtype."""
    mask = _bool_mask("masked_select", "mask", mask)
    a, b = tuple(self.shape), tuple(mask.shape)
    n = max(len(a), len(b))
    pa, pb = (1,) * (n - len(a)) + a, (1,) * (n - len(b)) + b
    if any(u != v and u != 1 and v != 1 for u, v in zip(pa, pb)):
        raise ShapeError(f"masked_select: cannot broadcast the input of shape {a} with the "
                         f"mask of shape {b}")
    shape = tuple(v if u == 1 else u for u, v in zip(pa, pb))
    return MaskedSelect(shape)(self, mask)


# ------------------------------------------------------- cat, stack, split


class Cat(Function):
    autocast_policy = AUTOCAST_PROMOTE
    __slots__ = ("dim",)

    def __init__(self, dim):
        self.dim = dim

    def forward(self, *xs):
        # PyTorch's promotion (a float input wins over any integer one: Int64 with
        # Float32 gives Float32), not NumPy's (which would give Float64).
        dt = xs[0].dtype
        for x in xs[1:]:
            dt = promote_types(dt, x.dtype)
        return xp(xs[0]).concatenate([x if x.dtype == dt else x.astype(dt) for x in xs],
                                     axis=self.dim)

    def backward(self, gy):
        sizes = tuple(x.shape[self.dim] for x in self.inputs)
        return SplitSections(self.dim, sizes)(gy)


class SplitSections(Function):
    """Split dim ``dim`` into consecutive pieces of ``sizes`` (a tuple of outputs)."""

    __slots__ = ("dim", "sizes")

    def __init__(self, dim, sizes):
        self.dim, self.sizes = dim, tuple(sizes)

    def forward(self, x):
        d = self.dim
        out, start = [], 0
        for n in self.sizes:
            out.append(x[(slice(None),) * d + (slice(start, start + n),)])
            start += n
        return tuple(out)

    def backward(self, *gys):
        return Cat(self.dim)(*gys)


def _cat(op, tensors, dim):
    first = tensors[0].shape
    if len(first) == 0:
        raise ShapeError(f"{op}: zero-dimensional tensors cannot be concatenated")
    d = norm_dim(dim, len(first), op)
    for i, t in enumerate(tensors[1:], 1):
        s = t.shape
        if len(s) != len(first) or any(a != b for j, (a, b) in enumerate(zip(s, first))
                                       if j != d):
            raise ShapeError(f"{op}: tensors must match except in dim {d}: got {first} "
                             f"(position 0) and {s} (position {i})")
    return Cat(d)(*tensors)


@op_method(name="cat")
def cat_method(self, other, dim=0):
    """``self`` joined with ``other`` (a tensor or a list of tensors) along ``dim``."""
    others = [other] if isinstance(other, TensorLike) else _tensors("cat", other)
    return _cat("cat", [self] + others, dim)


def cat(tensors, dim=0):
    """Join a list of tensors along an existing dim ``dim`` (torch.cat)."""
    return _cat("cat", _tensors("cat", tensors), dim)


def cat_many(tensors, dim=0):
    """Static form ``Tensor.cat_many(tensors, dim)`` of :func:`cat`."""
    return _cat("cat_many", _tensors("cat_many", tensors), dim)


def stack(tensors, dim=0):
    """Join equal-shaped tensors along a new dim ``dim`` (torch.stack)."""
    tensors = _tensors("stack", tensors)
    first = tensors[0].shape
    for i, t in enumerate(tensors[1:], 1):
        if t.shape != first:
            raise ShapeError(f"stack: expects tensors of equal shape, got {first} at "
                             f"position 0 and {t.shape} at position {i}")
    d = norm_dim(dim, len(first) + 1, "stack")
    return Cat(d)(*(t.unsqueeze(d) for t in tensors))


for _name, _fn in (("cat_many", cat_many), ("stack", stack)):
    setattr(TensorLike, _name, staticmethod(_fn))
    DIFFERENTIABLE_METHODS[_name] = _fn


@op_method
def split(self, split_size_or_sections, dim=0):
    """Pieces along ``dim``: of size ``n`` each (the last may be smaller), or of the
    listed sizes (which must sum to the dim's size). Returns a list."""
    shape = self.shape
    if len(shape) == 0:
        raise ShapeError("split: cannot split a 0-d tensor")
    d = norm_dim(dim, len(shape), "split")
    size = shape[d]
    if isinstance(split_size_or_sections, (list, tuple)):
        sizes = tuple(_as_int("split", "a section size", s) for s in split_size_or_sections)
        if any(s < 0 for s in sizes) or sum(sizes) != size:
            raise ShapeError(f"split: section sizes {list(sizes)} must be non-negative and "
                             f"sum to the size {size} of dim {d} (shape {shape})")
    else:
        n = _as_int("split", "split_size", split_size_or_sections)
        if n < 0 or (n == 0 and size != 0):
            raise ShapeError(f"split: split_size must be positive, got {n} for dim {d} "
                             f"of size {size}")
        sizes = (n,) * (size // n) + ((size % n,) if size % n else ()) if n else (0,)
        sizes = sizes or (0,)
    return list(SplitSections(d, sizes)(self))


@op_method
def chunk(self, chunks, dim=0):
    """At most ``chunks`` pieces along ``dim`` of size ceil(size / chunks) (the last
    may be smaller, and fewer pieces come back when they run out). Returns a list."""
    shape = self.shape
    if len(shape) == 0:
        raise ShapeError("chunk: cannot chunk a 0-d tensor")
    chunks = _as_int("chunk", "chunks", chunks)
    if chunks <= 0:
        raise ShapeError(f"chunk: chunks must be positive, got {chunks}")
    d = norm_dim(dim, len(shape), "chunk")
    size = shape[d]
    if size == 0:
        return split(self, [0] * chunks, d)
    return split(self, -(-size // chunks), d)


# ----------------------------------------------------------------- repeat


class Repeat(Function):
    __slots__ = ("sizes",)

    def __init__(self, sizes):
        self.sizes = sizes

    def forward(self, x):
        lead = len(self.sizes) - x.ndim
        return xp(x).tile(x.reshape((1,) * lead + x.shape), self.sizes)

    def backward(self, gy):
        shape = self.inputs[0].shape
        padded = (1,) * (len(self.sizes) - len(shape)) + shape
        inter = tuple(v for r, s in zip(self.sizes, padded) for v in (r, s))
        target = tuple(v for s in padded for v in (1, s))
        return gy.reshape(inter).sum_to(target).reshape(shape)


@op_method
def repeat(self, *sizes):
    """Tile the tensor ``sizes[i]`` times along dim i (torch.Tensor.repeat); extra
    leading sizes add new leading dims."""
    if len(sizes) == 1 and isinstance(sizes[0], (list, tuple)):
        sizes = tuple(sizes[0])
    sizes = tuple(_as_int("repeat", "a repeat count", s) for s in sizes)
    if len(sizes) < self.ndim:
        raise ShapeError(f"repeat: got {len(sizes)} repeat counts {sizes} for a {self.ndim}-d "
                         f"tensor of shape {self.shape}; need at least {self.ndim}")
    if any(s < 0 for s in sizes):
        raise ShapeError(f"repeat: repeat counts must be non-negative, got {sizes}")
    return Repeat(sizes)(self)


# -------------------------------------------------------------------- pad


class Pad(Function):
    """Constant padding; ``pads`` holds one (before, after) pair per dim, negative crops."""

    __slots__ = ("pads", "value")

    def __init__(self, pads, value):
        self.pads, self.value = pads, value

    def forward(self, x):
        pads = self.pads
        crop = tuple(slice(max(-b, 0), n - max(-a, 0)) for n, (b, a) in zip(x.shape, pads))
        inner = x[crop]
        if all(b <= 0 and a <= 0 for b, a in pads):
            return inner
        shape = tuple(n + max(b, 0) + max(a, 0) for n, (b, a) in zip(inner.shape, pads))
        out = xp(x).full(shape, self.value, dtype=x.dtype)
        out[tuple(slice(max(b, 0), max(b, 0) + n)
                  for n, (b, _) in zip(inner.shape, pads))] = inner
        return out

    def backward(self, gy):
        return Pad(tuple((-b, -a) for b, a in self.pads), 0.0)(gy)


@op_method
def pad(self, pad, value=0.0):
    """Constant padding as torch.nn.functional.pad: ``pad`` = (left, right, top,
    bottom, ...) pairs starting from the last dim; negative amounts crop."""
    if isinstance(pad, TensorLike) or not isinstance(pad, (list, tuple)):
        raise TypeError(f"pad: pad must be a list or tuple of ints, got {type(pad).__name__}")
    amounts = tuple(_as_int("pad", "a padding amount", p) for p in pad)
    shape = self.shape
    if len(amounts) % 2 or len(amounts) // 2 > len(shape):
        raise ShapeError(f"pad: padding {amounts} must have an even length of at most "
                         f"{2 * len(shape)} for a {len(shape)}-d tensor of shape {shape}")
    if not isinstance(value, numbers.Real):
        raise TypeError(f"pad: value must be a real Python number, got {type(value).__name__}")
    pads = [(0, 0)] * len(shape)
    for i in range(len(amounts) // 2):
        d = len(shape) - 1 - i
        b, a = amounts[2 * i], amounts[2 * i + 1]
        if shape[d] + b + a < 0:
            raise ShapeError(f"pad: padding ({b}, {a}) of dim {d} with size {shape[d]} "
                             f"gives a negative size {shape[d] + b + a} (shape {shape})")
        if b < -shape[d] or a < -shape[d]:
            raise ShapeError(f"pad: padding ({b}, {a}) crops more than the size {shape[d]} "
                             f"of dim {d} (shape {shape})")
        pads[d] = (b, a)
    return Pad(tuple(pads), value)(self)


__all__ = ["getitem", "narrow", "select", "unbind", "index_select", "gather", "masked_select",
           "cat", "stack", "split", "chunk", "repeat", "pad"]
