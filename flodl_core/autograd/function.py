"""Function: one differentiable op, forward and backward side by side.

A Function subclass implements

* ``forward(*arrays)`` on raw ndarrays (NumPy or CuPy), returning an array or a
  tuple of arrays, and
* ``backward(*grad_outputs)`` on Variables, returning one gradient Variable (or
  None) per input. Because backward is written with the framework's own ops, the
  same code yields higher-order gradients under ``create_graph=True``; without
  it, backward runs with grad mode off and records nothing.

Calling a Function instance is the single choke point where inputs are
validated, the device is checked, the forward runs and (when some input
requires grad and grad mode is on) the graph is wired::

    class Exp(Function):
        retain_outputs = (0,)          # backward needs exp(x): keep it
        def forward(self, x):
            return xp_of(x).exp(x)
        def backward(self, gy):
            return gy * self.output()

    Exp()(variable)   # -> Variable with creator Exp
    Exp()(tensor)     # -> Tensor, no graph

Graph ownership avoids reference cycles: a Variable holds its creator, a
creator holds its inputs, and nothing points back from a creator to its
outputs except weak references. Memory is released by reference counting.
"""
from __future__ import annotations

import functools
import inspect
import linecache
import os
import sys
import textwrap
import threading
import weakref

import numpy as np

from ..backend.array_module import device_of
from ..backend.dtype import BFLOAT16_NUMPY
from ..errors import DeviceError, FlodlError, ShapeError
from ..tensor import Tensor, TensorLike
from .grad_mode import state
from .variable import Variable

_ndarray = np.ndarray
_np_generic = np.generic
_new_object = object.__new__
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Every public differentiable method installed on Tensor/Variable, by name.
# The gradcheck suite fails when one of these has no registry entry.
DIFFERENTIABLE_METHODS: dict = {}


class Function:
    """Base class of every differentiable op (see the module docstring)."""

    __slots__ = ("inputs", "generation", "n_outputs", "_saved_outputs", "_retained",
                 "_out_meta", "_trace")

    #: Name used in error messages and graph dumps.
    op_name = "function"
    #: Output indices that backward reads through ``self.output(i)``.
    retain_outputs: tuple = ()
    #: Whether backward is itself differentiable (double backward). The registry
    #: entry of an op that sets this False must say why.
    supports_double_backward = True
    #: What ``autocast`` does to the inputs: None (nothing), ``"lower_precision"``,
    #: ``"float32"`` or ``"promote"`` (see :func:`autocast_inputs`).
    autocast_policy = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "op_name" not in cls.__dict__:
            cls.op_name = _snake(cls.__name__)
        ALL_FUNCTIONS.append(cls)

    # ------------------------------------------------------------- to override
    def forward(self, *arrays):
        raise NotImplementedError

    def backward(self, *grad_outputs):
        raise NotImplementedError

    # ------------------------------------------------------ helpers for ops
    def output(self, index: int = 0):
        """Output ``index`` as a Variable, for backward formulas.

        Needs ``index`` in ``retain_outputs``. When the caller dropped the output
        Variable, it is rebuilt from the saved array with this node as creator,
        so higher-order gradients still flow through it.
        """
        ref, array = self._saved_outputs[index]
        var = ref()
        if var is None:
            var = Variable._make(array, self, index, self.inputs is not None)
        return var

    def needs_grad(self, index: int) -> bool:
        """Whether input ``index`` wants a gradient (skip work for constants)."""
        return self.inputs[index]._requires_grad

    # ----------------------------------------------------------- the choke point
    def __call__(self, *inputs):
        # This is the hot path of every op: keep it flat and allocation-light.
        # Autocast costs one global read while no autocast region is open anywhere.
        if _autocast_active and self.autocast_policy is not None and state.autocast:
            inputs = autocast_inputs(self.autocast_policy, inputs)
        is_variable = False
        requires_grad = False
        for x in inputs:
            if x._is_variable:
                is_variable = True
                if x._requires_grad:
                    requires_grad = True
        arrays = [x._data for x in inputs]
        if len(arrays) > 1:
            for a in arrays:
                if type(a) is not _ndarray:
                    _check_same_device(self.op_name, inputs)
                    break
        try:
            ys = self.forward(*arrays)
        except FlodlError:
            raise
        except (ValueError, TypeError, IndexError) as e:
            raise _translate_error(self.op_name, inputs, e) from None

        multi = type(ys) is tuple
        if multi:
            ys = tuple(_as_array(y) for y in ys)
        elif type(ys) is not _ndarray:
            ys = _as_array(ys)
        st = state
        anomaly = st.anomaly
        if anomaly:
            trace = _user_frame()
            _check_finite(self.op_name, "forward", ys if multi else (ys,), arrays, trace)

        if not is_variable:
            return tuple(Tensor._wrap(y) for y in ys) if multi else Tensor._wrap(ys)
        if not (requires_grad and st.enabled):
            return tuple(_make_var(y) for y in ys) if multi else _make_var(ys)

        # Record the graph.
        gen = 0
        for x in inputs:
            c = x._creator
            if c is not None and c.generation > gen:
                gen = c.generation
        self.generation = gen + 1
        self.inputs = inputs
        self._retained = None
        if anomaly:
            self._trace = trace
        if multi:
            self.n_outputs = len(ys)
            self._out_meta = tuple((y.shape, y.dtype) for y in ys)
            outs = tuple(_make_var(y, self, i, True) for i, y in enumerate(ys))
        else:
            self.n_outputs = 1
            outs = _new_object(Variable)
            outs._data = ys
            outs._requires_grad = True
            outs._grad = None
            outs._creator = self
            outs._index = 0
        if self.retain_outputs:
            seq = outs if multi else (outs,)
            self._saved_outputs = {i: (weakref.ref(seq[i]), seq[i]._data)
                                   for i in self.retain_outputs}
        return outs

    # --------------------------------------------------------------- graph
    def release(self):
        """Free what backward needed; the node can no longer be differentiated."""
        self.inputs = None
        self._saved_outputs = None
        self._retained = None

    @property
    def trace(self):
        """'file:line' of the user code that created this node (anomaly mode only)."""
        try:
            return self._trace
        except AttributeError:
            return None

    def __repr__(self):
        return f"<{type(self).__name__} gen={getattr(self, 'generation', '?')}>"


ALL_FUNCTIONS: list = []
_make_var = Variable._make


# Every public differentiable function of ``nn.functional`` (``conv2d``, ...), by
# name. The registry must hold an entry named ``"F.<name>"`` for each.
DIFFERENTIABLE_FUNCTIONS: dict = {}


def op_function(fn=None, *, name: str | None = None, differentiable: bool = True):
    """Record ``fn`` as a public functional op (exported by ``nn.functional``)."""
    def record(f):
        if differentiable:
            DIFFERENTIABLE_FUNCTIONS[name or f.__name__] = f
        return f
    return record(fn) if fn is not None else record


def op_method(fn=None, *, name: str | None = None, differentiable: bool = True):
    """Install ``fn`` as a method of Tensor and Variable, under ``name``.

    The same function serves both: the Function it calls returns a Tensor for
    Tensor inputs and a Variable for Variable inputs.
    """
    def install(f):
        method_name = name or f.__name__
        setattr(TensorLike, method_name, f)
        if differentiable:
            DIFFERENTIABLE_METHODS[method_name] = f
        return f
    return install(fn) if fn is not None else install


# ----------------------------------------------------------------- autocast
# The policies of PyTorch's autocast op lists. A Function opts in with its
# ``autocast_policy`` class attribute; a public op composed of several ops (or
# one that validates dtypes before reaching its Function) with ``@autocast_op``.
# The switch, the dtype and the cast cache live in ``grad_mode.state``, a count
# of open regions (all threads) in ``_autocast_active``; the context manager is
# ``flodl_core.optim.autocast``; ``engine.run_backward`` turns autocast off.

AUTOCAST_LOWER = "lower_precision"
AUTOCAST_FP32 = "float32"
AUTOCAST_PROMOTE = "promote"
AUTOCAST_POLICIES = (AUTOCAST_LOWER, AUTOCAST_FP32, AUTOCAST_PROMOTE)

_F32 = np.dtype(np.float32)
# Only these are cast: float64 never is (PyTorch's rule), integers and bools neither.
_AUTOCAST_ELIGIBLE = frozenset({np.dtype(np.float16), BFLOAT16_NUMPY, _F32})
_casts = []   # [ToDType, _AutocastCast], imported on first use (ops import this module)


def autocast_inputs(policy, inputs):
    """Apply autocast ``policy`` to ``inputs`` (a sequence of Tensors/Variables or
    other values, which pass through): returns a tuple with floating inputs cast.

    * ``"lower_precision"``: float16/bfloat16/float32 inputs to the autocast dtype;
    * ``"float32"``: float16/bfloat16 inputs to float32;
    * ``"promote"``: all of them to the widest of their dtypes.

    Float64, integer and bool inputs are never cast. The casts are differentiable
    (ToDType): gradients come back in each input's own dtype. Under
    ``"lower_precision"``, the cast of a float32 leaf that requires grad (a
    Parameter) is cached for the rest of the outermost autocast region, so a
    weight used many times is cast once.
    """
    st = state
    if policy == AUTOCAST_LOWER:
        target = st.autocast_dtype
    elif policy == AUTOCAST_FP32:
        target = _F32
    elif policy == AUTOCAST_PROMOTE:
        target = None
        for x in inputs:
            if isinstance(x, TensorLike):
                d = x._data.dtype
                if d in _AUTOCAST_ELIGIBLE and d != target:
                    target = d if target is None else _F32   # two of them: float32
        if target is None:
            return tuple(inputs)
    else:
        raise ValueError(f"autocast: unknown policy {policy!r}; expected one of "
                         f"{AUTOCAST_POLICIES}")
    out = []
    for x in inputs:
        if isinstance(x, TensorLike):
            d = x._data.dtype
            if d != target and d in _AUTOCAST_ELIGIBLE:
                x = _autocast_cast(x, target, st)
        out.append(x)
    return tuple(out)


def _autocast_cast(x, target, st):
    if not _casts:
        from .ops.conversion import ToDType, _AutocastCast
        _casts[:] = [ToDType, _AutocastCast]
    # Cache only graph-recording casts of float32 Parameters to the low dtype: a cast
    # made under no_grad has no graph and must not be reused once grad is back on.
    if (x._is_variable and x._creator is None and x._requires_grad and st.enabled
            and st.autocast_cache_enabled and target == st.autocast_dtype
            and x._data.dtype == _F32 and st.autocast_cache is not None):
        cache = st.autocast_cache
        key = (id(x), target)
        hit = cache.get(key)
        # The entry holds x itself (so the id cannot be reused by another object)
        # and x's array (a Parameter whose storage was swapped is cast again).
        if hit is not None and hit[0] is x and hit[1] is x._data:
            return hit[2]
        cast = _casts[1](target)(x)
        cache[key] = (x, x._data, cast)
        return cast
    return _casts[0](target)(x)


def autocast_op(policy, skip=()):
    """Decorator for a public op's entry point: under autocast, cast its tensor
    arguments by ``policy`` (see :func:`autocast_inputs`; tensors inside a tuple or
    list argument too), then run the op with autocast off, so the ops it is built
    from keep the dtypes the policy chose (as PyTorch runs an autocast op's kernel).

    ``skip``: names of arguments never cast (say, statistics updated in place).

    The wrapper is generated with the op's own signature (defaults shared with the
    op), so with autocast off it costs one plain call and one global read: no
    ``*args``/``**kwargs`` packing on the hot path.
    """
    if policy not in AUTOCAST_POLICIES:
        raise ValueError(f"autocast_op: unknown policy {policy!r}; expected one of "
                         f"{AUTOCAST_POLICIES}")

    def decorate(fn):
        sig = inspect.signature(fn)
        params, call, cast = [], [], []
        for p in sig.parameters.values():
            if p.kind is p.POSITIONAL_OR_KEYWORD:
                call.append(p.name)
            elif p.kind is p.KEYWORD_ONLY:
                if "*" not in params:
                    params.append("*")
                call.append(f"{p.name}={p.name}")
            else:
                raise TypeError(f"autocast_op: {fn.__name__} has a {p.kind.description} "
                                f"parameter '{p.name}'; only plain parameters are supported")
            params.append(p.name if p.default is p.empty else f"{p.name}=None")
            if p.name not in skip:
                cast.append(p.name)
        unknown = set(skip) - set(sig.parameters)
        if unknown:
            raise TypeError(f"autocast_op: {fn.__name__} has no parameter(s) {sorted(unknown)}")
        clash = _GENERATED_NAMES & set(sig.parameters)
        if clash:
            raise TypeError(f"autocast_op: {fn.__name__} has parameter(s) {sorted(clash)}, "
                            "names the generated wrapper uses")
        targets = "".join(f"{n}, " for n in cast)
        src = (f"def _wrapper({', '.join(params)}):\n"
               f"    if _autocast_active and state.autocast:\n"
               + (f"        ({targets}) = _autocast_values(_policy, ({targets}))\n"
                  if cast else "")
               + f"        state.autocast = False\n"
               f"        try:\n"
               f"            return _fn({', '.join(call)})\n"
               f"        finally:\n"
               f"            state.autocast = True\n"
               f"    return _fn({', '.join(call)})\n")
        factory = f"def _factory(_fn, _policy):\n{textwrap.indent(src, '    ')}" \
                  f"    return _wrapper\n"
        # A file name inside the package (anomaly mode's "op created at" skips package
        # frames), with the source registered so tracebacks can show it.
        filename = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                f"<autocast_op {fn.__module__}.{fn.__qualname__}>")
        linecache.cache[filename] = (len(factory), None, factory.splitlines(True), filename)
        scope = {}
        exec(compile(factory, filename, "exec"), globals(), scope)
        wrapper = functools.wraps(fn)(scope["_factory"](fn, policy))
        wrapper.__defaults__ = fn.__defaults__
        wrapper.__kwdefaults__ = fn.__kwdefaults__
        wrapper.autocast_policy = policy
        return wrapper
    return decorate


_GENERATED_NAMES = frozenset({"_wrapper", "_factory", "_fn", "_policy", "state",
                              "_autocast_active", "_autocast_values"})


def _autocast_values(policy, values):
    """Cast the tensors among ``values`` (and inside tuple/list values) together, so
    ``promote`` sees all of them; other values pass through."""
    flat = []
    for v in values:
        if isinstance(v, TensorLike):
            flat.append(v)
        elif type(v) in (tuple, list):
            flat.extend(b for b in v if isinstance(b, TensorLike))
    if not flat:
        return values
    cast = iter(autocast_inputs(policy, flat))
    out = []
    for v in values:
        if isinstance(v, TensorLike):
            v = next(cast)
        elif type(v) in (tuple, list):
            v = type(v)(next(cast) if isinstance(b, TensorLike) else b for b in v)
        out.append(v)
    return tuple(out)


# Open autocast regions in all threads: while it is 0 no op reads the per-thread
# autocast state (a module global read is cheaper than a threading.local one).
_autocast_active = 0
_autocast_lock = threading.Lock()


def autocast_region(delta: int) -> None:
    """Count autocast regions opened (+1) and closed (-1), in any thread."""
    global _autocast_active
    with _autocast_lock:
        _autocast_active += delta


# ------------------------------------------------------------------ helpers


def _as_array(y):
    """NumPy ufuncs return scalars for 0-d inputs: turn them back into arrays."""
    if type(y) is _ndarray:
        return y
    if isinstance(y, (_np_generic, float, int, bool)):
        return np.asarray(y)
    return y   # a CuPy array


def _snake(name: str) -> str:
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i and (not name[i - 1].isupper()
                                   or (i + 1 < len(name) and name[i + 1].islower())):
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


def _check_same_device(op, inputs):
    devices = [device_of(x._data) for x in inputs]
    first = devices[0]
    for d in devices[1:]:
        if d != first:
            raise DeviceError(f"{op}: tensors on different devices: {first!r} and {d!r}")


def _describe(inputs) -> str:
    return ", ".join(f"{tuple(x.shape)} {x.dtype.name}" for x in inputs)


def _translate_error(op, inputs, err) -> FlodlError:
    """Turn an error from deep inside NumPy into one the user can read."""
    msg = str(err)
    if "broadcast" in msg and len(inputs) >= 2:
        shapes = " and ".join(str(tuple(x.shape)) for x in inputs)
        return ShapeError(f"{op}: cannot broadcast shapes {shapes}")
    cls = type(err)
    if issubclass(cls, IndexError):
        from ..errors import FlodlIndexError
        return FlodlIndexError(f"{op}: {msg} (inputs: {_describe(inputs)})")
    if issubclass(cls, TypeError):
        from ..errors import DTypeError
        return DTypeError(f"{op}: {msg} (inputs: {_describe(inputs)})")
    return ShapeError(f"{op}: {msg} (inputs: {_describe(inputs)})")


def _user_frame() -> str:
    """'file:line' of the innermost caller outside this package."""
    f = sys._getframe(1)
    while f is not None:
        fname = os.path.abspath(f.f_code.co_filename)
        if not fname.startswith(_PACKAGE_DIR + os.sep):
            return f"{f.f_code.co_filename}:{f.f_lineno}"
        f = f.f_back
    return "<unknown>"


def _check_finite(op, phase, outputs, input_arrays, trace):
    from ..errors import AnomalyError
    for y in outputs:
        if y is None or y.dtype.kind not in "fc" and y.dtype.name != "bfloat16":
            continue
        xp = np if type(y) is _ndarray else _cupy_of(y)
        if not bool(xp.isfinite(y).all()):
            bad = "NaN" if bool(xp.isnan(y).any()) else (
                "-Inf" if bool((y == -np.inf).any()) else "Inf")
            already = any(
                a is not None and getattr(a, "dtype", None) is not None
                and (a.dtype.kind == "f" or a.dtype.name == "bfloat16")
                and not bool((np if type(a) is _ndarray else _cupy_of(a)).isfinite(a).all())
                for a in input_arrays)
            note = " (its inputs already held NaN/Inf)" if already else ""
            raise AnomalyError(f"{op}: {phase} produced {bad}{note}; "
                               f"op created at {trace or '<unknown>'}")


def _cupy_of(arr):
    from ..backend.array_module import xp_of
    return xp_of(arr)
