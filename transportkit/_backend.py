"""Backends: an array namespace plus the small adapter that supplies what the Array API standard lacks.

A :class:`Backend` is resolved **once** per public call — from a name, a ``Backend`` object, or the input
arrays — and then handed down; inner loops only ever call ``backend.xp.*``.

The adapters themselves live in the folder ``backends/`` (installed as :mod:`transportkit.backends`), one file
per array library; they are the only modules that import a specific library.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from . import backends
from ._adapter import OPTIONAL_CAPABILITIES, Adapter
from .errors import CapabilityError

__all__ = [
    "OPTIONAL_CAPABILITIES",
    "Adapter",
    "Backend",
    "get_backend",
    "host_backend",
    "resolve_backend",
    "scalar_device",
]


@dataclass(frozen=True, eq=False)
class Backend:
    """An array namespace ``xp`` together with a device, a default floating dtype and an adapter.

    Obtain one with :func:`transportkit.get_backend`. Fields:

    - ``name``: backend name (``"numpy"``, ``"torch"``, ``"jax"``, ``"cupy"``, ``"array_api_strict"``, ...)
    - ``xp``: the Array-API namespace; algorithms call only ``xp.*``
    - ``device``: the device arrays are created on
    - ``dtype``: the default real floating dtype (an ``xp`` dtype)
    - ``value_and_grad``, ``jit``, ``sparse_solve``, ``sparse_factor``: optional capabilities, ``None`` where
      absent
    """

    name: str
    xp: Any
    device: Any
    dtype: Any
    adapter: Adapter = field(repr=False)
    #: compiled programs of this backend, keyed by what they were compiled from (see :meth:`compiled`)
    _programs: dict = field(default_factory=dict, repr=False, compare=False)

    # ---------------------------------------------------------------------------------- conversions
    def asarray(self, x: Any, dtype: Any = None, *, copy: bool | None = None) -> Any:
        """Convert ``x`` (this library's arrays, NumPy arrays, lists, scalars) to this backend and device.

        Floating input is cast to ``dtype`` (default: the backend's dtype); integer and boolean input keep
        their kind. Arrays of another (non-NumPy) library are a ``TypeError``: move them explicitly.
        """
        if (type(x).__module__ or "").startswith("dask"):
            raise TypeError(
                "dask arrays are not computed lazily by transportkit (they would be materialized on the host "
                "silently): call .compute() first, or map the computation over the chunks with dask"
            )
        owner = backends.owner_of(x)
        if owner is not None and owner.name != self.adapter.name:  # (a sharded adapter owns its library's arrays)
            if not owner.is_host:  # host (NumPy) arrays may accompany any backend; other libraries' may not
                raise TypeError(
                    f"cannot mix arrays of {owner.name!r} with backend {self.name!r}; convert first, e.g. "
                    f"get_backend({self.name!r}).asarray(get_backend({owner.name!r}).to_numpy(x))"
                )
            x = owner.to_numpy(x)
        dt = self._dtype_for(x, dtype)
        out = self.adapter.asarray(x, dt, self.device)
        if copy:
            out = self.xp.asarray(out, copy=True)
        return out

    def _dtype_for(self, x: Any, dtype: Any) -> Any:
        if dtype is not None:
            return self.as_dtype(dtype)
        kind = _kind_of(x)
        return self.dtype if kind == "real floating" else None

    def as_dtype(self, dtype: Any) -> Any:
        """``"float32"``/``"float64"``/``"int64"``/``"bool"`` or an ``xp`` dtype -> an ``xp`` dtype."""
        if isinstance(dtype, str):
            if not hasattr(self.xp, dtype):
                raise ValueError(f"unknown dtype {dtype!r} for backend {self.name!r}")
            dtype = getattr(self.xp, dtype)
        if dtype == self.xp.float64 and not self.adapter.supports_float64(self.device):
            raise ValueError(self.adapter.float64_hint())
        return dtype

    def to_numpy(self, x: Any) -> Any:
        """Copy ``x`` to the host as a NumPy array (detaching autodiff graphs)."""
        return self.adapter.to_numpy(x)

    def rng(self, seed: Any = None, *, rng_on_host: bool = False):
        """A :class:`transportkit.random.Generator` on this backend."""
        from .random import Generator

        return Generator(seed, self, rng_on_host=rng_on_host)

    # ---------------------------------------------------------------------------------- capabilities
    @property
    def value_and_grad(self) -> Callable | None:
        """``value_and_grad(f, argnums=0)(*args) -> (f(*args), grad)`` for scalar ``f``, or ``None``."""
        return self.adapter.value_and_grad()

    @property
    def jit(self) -> Callable | None:
        """``jit(f) -> compiled f``, or ``None``."""
        return self.adapter.jit()

    @property
    def sparse_solve(self) -> Callable | None:
        """``sparse_solve(A, b, *, tol=1e-10, maxiter=None) -> x`` with ``A x = b``, or ``None``.

        ``A`` is this library's sparse matrix (build one with :attr:`sparse_coo`) or a dense 2-D array;
        ``b`` has shape ``(n,)`` or ``(n, k)``.
        """
        return self.adapter.sparse_solve()

    @property
    def sparse_factor(self) -> Callable | None:
        """``sparse_factor(A, *, tol=1e-10, maxiter=None) -> solve`` with ``solve(b, *, transpose=False)``
        returning ``x`` with ``A x = b`` (``A^T x = b`` for ``transpose=True``), or ``None``.

        Direct backends factor ``A`` once (LU) and reuse the factors for every right-hand side and for the
        transpose; iterative ones keep ``A`` and solve to relative residual ``tol``.
        """
        return self.adapter.sparse_factor()

    @property
    def prefers_host_indexing(self) -> bool:
        """The adapter's hint :attr:`Adapter.prefers_host_indexing`."""
        return self.adapter.prefers_host_indexing

    @property
    def fancy_setitem(self) -> bool:
        """The adapter's flag :attr:`Adapter.fancy_setitem` (in-place integer-index assignment works)."""
        return self.adapter.fancy_setitem

    @property
    def is_host(self) -> bool:
        """The adapter's flag :attr:`Adapter.is_host` (arrays are NumPy arrays in host memory)."""
        return self.adapter.is_host

    @property
    def sparse_coo(self) -> Callable | None:
        """``sparse_coo(rows, cols, values, shape)`` -> this library's sparse matrix, or ``None``."""
        return self.adapter.sparse_coo()

    def capabilities(self) -> dict[str, bool]:
        return self.adapter.capabilities()

    def require(self, capability: str) -> Callable:
        """Return the capability or raise :class:`CapabilityError` naming the backends that have it."""
        if capability not in OPTIONAL_CAPABILITIES:
            raise ValueError(f"unknown capability {capability!r}; known: {sorted(OPTIONAL_CAPABILITIES)}")
        fn = getattr(self, capability)
        if fn is None:
            having = backends.providing(capability)
            raise CapabilityError(
                f"backend {self.name!r} has no {capability!r} ({OPTIONAL_CAPABILITIES[capability]}); "
                f"backends that have it: {', '.join(having) or 'none installed'}"
            )
        return fn

    def maybe_jit(self, f: Callable) -> Callable:
        """``jit(f)`` where the backend compiles, ``f`` itself elsewhere."""
        jit = self.jit
        return f if jit is None else jit(f)

    # ---------------------------------------------------------------------------------- loops
    @property
    def compiles_loops(self) -> bool:
        """Whether :meth:`fori_loop`/:meth:`while_loop` run as one compiled program (JAX) rather than in Python."""
        return self.adapter.compiles_loops

    def fori_loop(self, lower: Any, upper: Any, body: Callable[[Any, Any], Any], carry: Any) -> Any:
        """``for i in range(lower, upper): carry = body(i, carry)``; ``carry`` is any pytree of arrays.

        On JAX this is ``jax.lax.fori_loop`` (the body traced and compiled once); elsewhere a Python loop."""
        return self.adapter.fori_loop(lower, upper, body, carry)

    def while_loop(self, cond: Callable[[Any], Any], body: Callable[[Any], Any], carry: Any) -> Any:
        """``while cond(carry): carry = body(carry)``; ``jax.lax.while_loop`` on JAX, a Python loop elsewhere."""
        return self.adapter.while_loop(cond, body, carry)

    def scan(self, body: Callable[[Any, Any], tuple[Any, Any]], carry: Any, lower: Any, length: int) -> tuple[Any, Any]:
        """``carry, y_j = body(lower + j, carry)`` for ``j < length`` (a Python int); returns the final carry and the
        outputs stacked along a new leading axis (``y`` an array or a tuple of arrays). ``jax.lax.scan`` on JAX."""
        carry, ys = self.adapter.scan(body, carry, lower, length)
        return carry, (self.stack_steps(ys) if isinstance(ys, list) else ys)

    def stack_steps(self, ys: list) -> Any:
        """Per-step outputs of a Python loop (arrays, or tuples of arrays) stacked along a new leading axis."""
        if not ys:
            raise ValueError("a loop needs at least one step")
        if isinstance(ys[0], tuple):
            return tuple(self.xp.stack([y[k] for y in ys], axis=0) for k in range(len(ys[0])))
        return self.xp.stack(ys, axis=0)

    def compiled(self, key: Any, make: Callable[[], Callable]) -> Callable:
        """``jit(make())``, compiled once per ``key`` and held by this backend (the one compile cache).

        ``key`` must identify everything the function closes over (bound fields, solver names, static sizes);
        arrays that change between calls are arguments, not closures. ``key=None`` compiles without caching.
        Backends that do not compile return ``make()``."""
        jit = self.jit
        if jit is None:
            return make()
        if key is None:
            return jit(make())
        try:
            fn = self._programs.get(key)
        except TypeError:  # unhashable key: compile without caching
            return jit(make())
        if fn is None:
            if len(self._programs) >= _PROGRAM_CACHE_SIZE:
                self._programs.pop(next(iter(self._programs)))
            fn = self._programs[key] = jit(make())
        return fn

    def __repr__(self) -> str:
        return f"Backend(name={self.name!r}, device={self.device!s}, dtype={self.dtype})"


def _kind_of(x: Any) -> str | None:
    """'real floating', 'integral', 'bool', 'complex floating' or None (unknown), without importing libraries."""
    if isinstance(x, bool):
        return "bool"
    if isinstance(x, int):
        return "integral"
    if isinstance(x, float):
        return "real floating"
    if isinstance(x, complex):
        return "complex floating"
    dt = getattr(x, "dtype", None)
    if dt is not None:
        s = str(dt).rsplit(".", 1)[-1]
        if "complex" in s:
            return "complex floating"
        if "float" in s:
            return "real floating"
        if "bool" in s:
            return "bool"
        if "int" in s:
            return "integral"
        return None
    if isinstance(x, (list, tuple)):
        kinds = {_kind_of(v) for v in x}
        if "complex floating" in kinds:
            return "complex floating"
        if "real floating" in kinds:
            return "real floating"
        return kinds.pop() if len(kinds) == 1 else None
    return None


def _dtype_name(dtype: Any) -> str:
    return str(dtype).rsplit(".", 1)[-1].replace("'", "").replace(">", "")


def get_backend(name: Any = None, *, device: Any = None, dtype: Any = None, devices: Any = None) -> Backend:
    """Return the :class:`Backend` for ``name`` (default ``"numpy"``).

    ``name`` is a backend name, a ``Backend`` (returned as is, or re-targeted when ``device``/``dtype``/``devices``
    are given), or ``None``. ``dtype`` defaults to float64 where the device supports it and float32 otherwise
    (JAX without 64-bit mode). ``devices`` (an int count, a list of devices, or ``"all"``; JAX) shards the walker
    axis across several devices (docs/scaling_devices.md); it excludes ``device``. Errors: unknown name ->
    ``ValueError`` listing the known backends; library not installed -> :class:`BackendUnavailableError` with the
    ``pip install`` line; unknown device -> ``ValueError``.
    """
    if devices is not None and device is not None:
        raise ValueError("give device= (one device) or devices= (the walker axis sharded across several), not both")
    if isinstance(name, Backend):
        if device is None and dtype is None and devices is None:
            return name
        adapter = name.adapter
        device = name.device if device is None and devices is None else device
    else:
        adapter = backends.load(name or "numpy")
    if devices is not None:
        adapter = adapter.with_devices(devices)
    dev = adapter.resolve_device(device)
    xp = adapter.namespace()
    if dtype is None:
        dt = xp.float64 if adapter.supports_float64(dev) else xp.float32
    else:
        dt = getattr(xp, dtype) if isinstance(dtype, str) else dtype
        if _dtype_name(dt) not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
        if _dtype_name(dt) == "float64" and not adapter.supports_float64(dev):
            raise ValueError(adapter.float64_hint())
    key = (adapter.name, id(adapter), str(dev), _dtype_name(dt))
    cached = _BACKENDS.get(key)
    if cached is None:
        cached = _BACKENDS[key] = Backend(adapter.name, xp, dev, dt, adapter)
    return cached


def scalar_device(x: Any) -> Any:
    """The device to create arrays of *other* shapes next to ``x`` (scalars, ``(d,)`` vectors, matrices):
    ``x.device``, except for an array whose axis 0 is sharded across devices (a backend from
    ``get_backend("jax", devices=...)``), where it is the replicated placement on the same devices (a walker
    sharding fits only arrays whose leading axis divides across the devices); ``None`` without a device (a
    tracer inside ``jit``). Use it instead of ``getattr(x, "device", None)`` for arrays that are not walker arrays.
    """
    dev = getattr(x, "device", None)
    spec = getattr(dev, "spec", None)
    if spec is not None and hasattr(dev, "update") and not getattr(dev, "is_fully_replicated", True):
        return dev.update(spec=type(spec)())
    return dev


def host_backend() -> Backend:
    """The NumPy backend in float64 on the CPU: where host-side bookkeeping (graphs, tables, closed forms) runs."""
    return get_backend("numpy")


#: compiled programs kept per backend (first in, first out)
_PROGRAM_CACHE_SIZE = 64

#: Backends are immutable: one object per (adapter, device, dtype), so repeated resolution is cheap.
_BACKENDS: dict[tuple[str, int, str, str], Backend] = {}


def _is_array(x: Any) -> bool:
    return hasattr(x, "shape") and hasattr(x, "dtype") and not isinstance(x, type)


def _iter_arrays(objs: Iterable[Any]) -> Iterable[Any]:
    for x in objs:
        if x is None or isinstance(x, (bool, int, float, complex, str)):
            continue
        if _is_array(x):
            yield x
        elif isinstance(x, (list, tuple)) and x and any(_is_array(v) for v in x):
            yield from _iter_arrays(x)


def resolve_backend(*arrays: Any, backend: Any = None, device: Any = None, dtype: Any = None) -> Backend:
    """Resolve the backend of a public call, once.

    Order: an explicit ``backend`` (name or object); else the library of the input ``arrays``; else
    ``"numpy"``. Arrays of two different libraries are a ``TypeError`` naming both (NumPy arrays and Python
    scalars/lists may accompany an explicit backend: they are converted to it). The device comes from
    ``device`` or the arrays; the dtype from ``dtype``, else the arrays' common floating dtype, else the
    backend's default.
    """
    arrs = list(_iter_arrays(arrays))
    owners: dict[str, Adapter] = {}
    for a in arrs:
        ad = backends.owner_of(a)
        if ad is not None:
            owners.setdefault(ad.name, ad)
    if len(owners) > 1:
        names = sorted(owners)
        raise TypeError(
            f"arrays of different libraries in one call: {' and '.join(repr(n) for n in names)}; "
            "convert them to one backend first"
        )
    if backend is not None:
        base = get_backend(backend) if not isinstance(backend, Backend) else backend
        foreign = [n for n, ad in owners.items() if n != base.adapter.name and not ad.is_host]
        if foreign:
            raise TypeError(
                f"arrays of {foreign[0]!r} passed with backend={base.name!r}; "
                "use one library per call (NumPy arrays may accompany any backend)"
            )
        mine = base.name in owners
        own = [a for a in arrs if getattr(backends.owner_of(a), "name", None) == base.name] if mine else []
    else:
        base = get_backend(next(iter(owners)) if owners else "numpy")
        own = arrs if owners else []
    if device is None and own:
        device = base.adapter.device_of(own[0])
    if dtype is None:
        floats = sorted({_dtype_name(a.dtype) for a in arrs if _kind_of(a) == "real floating"})
        if floats:
            dtype = "float64" if "float64" in floats else floats[-1]
            if dtype == "float64" and not base.adapter.supports_float64(base.adapter.resolve_device(device)):
                raise ValueError(
                    "float64 input given to a backend without float64: " + base.adapter.float64_hint()
                )
            if dtype not in ("float32", "float64"):
                dtype = None
    if isinstance(base, Backend) and device is None and dtype is None:
        return base
    return get_backend(base, device=device, dtype=dtype)


# Declarations of what each public algorithm needs live in transportkit._capabilities; these names stay importable
# from here (interpolants/mlp.py and older code use ``from .._backend import requires``).
from ._capabilities import algorithm_requirements, declared_requirements, requires  # noqa: E402, F401


def library_loaded(module: str) -> Any:
    """The module object if it has been imported already, else ``None`` (never imports)."""
    return sys.modules.get(module)
