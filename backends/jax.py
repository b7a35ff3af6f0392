"""JAX backend: autodiff and jit; PRNG keys split on every draw, so callers never see them.

JAX's 64-bit mode is the user's choice: with it off the default dtype is float32, and asking for float64
says how to turn it on. Sparse solves: on the CPU SciPy's SuperLU through ``jax.pure_callback`` (usable under
``jit``); on accelerators Jacobi-preconditioned BiCGSTAB on ``jax.experimental.sparse.BCOO``.
"""

from __future__ import annotations

import sys
from typing import Any

from .._adapter import Adapter
from . import _jax_draws as _draws
from .numpy import scipy_sparse


class JaxAdapter(Adapter):
    name = "jax"
    library = "jax"
    extra = "jax"
    devices_note = "cpu, gpu, tpu"
    float64_note = "with jax_enable_x64"
    notes = (
        "value_and_grad and jit native; float64 needs jax_enable_x64; sparse_solve/sparse_factor: CPU arrays by "
        "SciPy's SuperLU through jax.pure_callback (direct, jit-compatible, not differentiable), accelerators by "
        "Jacobi-preconditioned BiCGSTAB on BCOO (eager); index bookkeeping preferred on the host"
    )
    provides = frozenset({"value_and_grad", "jit", "sparse_solve", "sparse_factor"})
    prefers_host_indexing = True
    compiles_loops = True
    fancy_setitem = False
    sharded = "transportkit.backends.jax_sharded:sharded_adapter"

    def load(self) -> None:
        import jax  # noqa: F401

    def owns(self, x: Any) -> bool:
        jax = sys.modules.get("jax")
        return jax is not None and isinstance(x, jax.Array)

    def namespace(self) -> Any:
        import jax.numpy

        return jax.numpy

    def devices(self) -> list[Any]:
        import jax

        return list(jax.devices())

    def default_device(self) -> Any:
        import jax

        return jax.devices()[0]

    def resolve_device(self, device: Any) -> Any:
        import jax

        if isinstance(device, str):
            platform, _, index = device.partition(":")
            try:
                devs = jax.devices(platform)
            except RuntimeError:
                devs = []
            k = int(index) if index else 0
            if k < len(devs):
                return devs[k]
        return super().resolve_device(device)

    def supports_float64(self, device: Any) -> bool:
        import jax

        return bool(jax.config.read("jax_enable_x64"))

    def float64_hint(self) -> str:
        return (
            "JAX runs in 32-bit mode, so float64 is not available: enable it before creating arrays with "
            "jax.config.update('jax_enable_x64', True) (or JAX_ENABLE_X64=1), or ask for dtype='float32'"
        )

    def device_of(self, x: Any) -> Any:
        import jax

        try:
            return next(iter(x.devices()))
        except (AttributeError, jax.errors.ConcretizationTypeError):  # a tracer inside jit/vmap: no committed device
            return jax.devices()[0]

    def asarray(self, x: Any, dtype: Any, device: Any) -> Any:
        import jax
        import jax.numpy as jnp

        return jax.device_put(jnp.asarray(x, dtype=dtype), device)

    def to_numpy(self, x: Any) -> Any:
        import numpy as np

        return np.asarray(x)

    def random_source(self, seed: Any, device: Any) -> Any:
        return JaxSource(seed, device)

    def value_and_grad(self):
        import jax

        return jax.value_and_grad

    def jit(self):
        import jax

        return jax.jit

    def vmap(self):
        """``jax.vmap``: per-point user functions (``tk.targets.from_log_prob(..., vectorized=False)``) are mapped
        over the leading axis instead of looped."""
        import jax

        return jax.vmap

    def fori_loop(self, lower, upper, body, carry):
        import jax

        return jax.lax.fori_loop(lower, upper, body, carry)

    def while_loop(self, cond, body, carry):
        import jax

        return jax.lax.while_loop(cond, body, carry)

    def scan(self, body, carry, lower, length):
        import jax
        import jax.numpy as jnp

        return jax.lax.scan(lambda c, j: body(lower + j, c), carry, jnp.arange(int(length)))

    def sparse_coo(self):
        import jax.numpy as jnp
        from jax.experimental import sparse

        def coo(rows, cols, values, shape):
            # Repeated (row, col) entries stay separate: every BCOO operation sums them, and skipping
            # sum_duplicates (a sort that JAX compiles anew for every number of entries) saves ~2 s per shape.
            idx = jnp.stack([jnp.asarray(rows), jnp.asarray(cols)], axis=1)
            return sparse.BCOO((jnp.asarray(values), idx), shape=tuple(shape))

        return coo

    def sparse_factor(self):
        import jax.numpy as jnp
        from jax.experimental import sparse

        def factor(A, *, tol: float = 1e-10, maxiter: int | None = None):
            if not isinstance(A, sparse.BCOO):
                return lambda b, *, transpose=False: jnp.linalg.solve(A.T if transpose else A, b)
            if _on_cpu(A.data) and scipy_sparse() is not None:
                return _host_factor(A)
            return _iterative_factor(A, tol, maxiter)

        return factor


def _on_cpu(x: Any) -> bool:
    """Whether ``x`` lives on a CPU device (under tracing: whether the default backend is the CPU)."""
    import jax

    if isinstance(x, jax.core.Tracer):
        return jax.default_backend() == "cpu"
    return all(d.platform == "cpu" for d in x.devices())


def _host_lu(data: Any, indices: Any, shape: tuple[int, int]) -> Any:
    import numpy as np

    from .numpy import superlu

    idx = np.asarray(indices)
    keep = (idx[:, 0] < shape[0]) & (idx[:, 1] < shape[1])  # BCOO pads with out-of-range indices under jit
    data, idx = np.asarray(data)[keep], idx[keep]
    return superlu(scipy_sparse().csc_array((data, (idx[:, 0], idx[:, 1])), shape=shape))


def _host_factor(A: Any):
    """CPU arrays: SciPy's SuperLU through ``jax.pure_callback`` (works under ``jit``; not differentiable).

    A concrete ``A`` is factored once, here, and every solve reuses the factors (directly for a concrete ``b``,
    through the callback for a traced one); a traced ``A`` (inside ``jit``) is factored inside each solve's
    callback."""
    import jax
    import numpy as np

    shape = tuple(A.shape)
    lu = None if isinstance(A.data, jax.core.Tracer) else _host_lu(A.data, A.indices, shape)

    def solve(b, *, transpose: bool = False):
        trans = "T" if transpose else "N"
        out = jax.ShapeDtypeStruct(b.shape, b.dtype)
        if lu is not None and not isinstance(b, jax.core.Tracer):
            # eager: solve directly (an eager pure_callback would be compiled and cached with its closure, keeping
            # every factorization alive)
            x = lu.solve(np.asarray(b), trans=trans).astype(out.dtype)
            return jax.device_put(x, next(iter(b.devices())))
        if lu is not None:
            return jax.pure_callback(
                lambda bb: lu.solve(np.asarray(bb), trans=trans).astype(out.dtype), out, b, vmap_method="sequential"
            )
        return jax.pure_callback(
            lambda d, i, bb: _host_lu(d, i, shape).solve(np.asarray(bb), trans=trans).astype(out.dtype),
            out, A.data, A.indices, b, vmap_method="sequential",
        )

    return solve


def _iterative_factor(A: Any, tol: float, maxiter: int | None):
    """Accelerators (no host round trip): Jacobi-preconditioned BiCGSTAB with ``A`` (or ``A^T``) as a compiled
    BCOO matrix-vector product. Eager only (the iteration tests convergence on the host)."""
    import jax
    import jax.numpy as jnp

    from .._linalg import bicgstab

    i, j = A.indices[:, 0], A.indices[:, 1]
    diag = jnp.zeros(A.shape[0], dtype=A.data.dtype).at[i].add(jnp.where(i == j, A.data, 0))
    matvec = {False: jax.jit(lambda v: A @ v), True: jax.jit(lambda v: A.T @ v)}

    def solve(b, *, transpose: bool = False):
        return bicgstab(matvec[transpose], b, diag.astype(b.dtype), xp=jnp, tol=tol, maxiter=maxiter)

    return solve


class JaxSource:
    """Draws from keys split on every draw, put on ``device``; ``place(x)`` (a sharded backend's placement by
    shape) replaces the ``device_put`` when given, and also constrains the draws inside compiled loops."""

    def __init__(self, seed: Any, device: Any, place: Any = None):
        import jax

        from ._seeds import seed_int, seed_sequence

        self.seq = seed_sequence(seed)
        self.device = device
        self.place = place
        self.key = jax.random.key(seed_int(self.seq))

    def _put(self, x: Any) -> Any:
        import jax

        return jax.device_put(x, self.device) if self.place is None else self.place(x)

    def _next(self):
        import jax

        self.key, sub = jax.random.split(self.key)
        return sub

    def normal(self, shape, dtype):
        import jax

        return self._put(jax.random.normal(self._next(), shape, dtype=dtype))

    def uniform(self, shape, dtype):
        import jax

        return self._put(jax.random.uniform(self._next(), shape, dtype=dtype))

    def integers(self, low, high, shape):
        import jax
        import jax.numpy as jnp

        dt = jnp.int64 if jax.config.read("jax_enable_x64") else jnp.int32
        return self._put(jax.random.randint(self._next(), shape, low, high, dtype=dt))

    def spawn(self, k):
        return [JaxSource(s, self.device, self.place) for s in self.seq.spawn(k)]

    def loop_key(self):
        """A fresh key for draws inside a compiled loop (:meth:`at`)."""
        return self._next()

    def state(self):
        """The key this stream draws from next (an array: it can enter a compiled program)."""
        return self.key

    def set_state(self, key) -> None:
        self.key = key

    def from_state(self, key) -> JaxSource:
        """This stream continued from ``key`` (a traced key inside a compiled program): the same draws, in the
        same order, as this stream at that state; :meth:`state` afterwards is the advanced key."""
        src = object.__new__(JaxSource)
        src.seq, src.device, src.place, src.key = None, self.device, self.place, key
        return src

    def at(self, key, i):
        """A pure stream for step ``i`` of a loop: ``fold_in(key, i)``, then one sub-key per draw (traceable)."""
        import jax

        return _StepSource(_draws.fold_in(key, i) if _draws.supported(key) else jax.random.fold_in(key, i), self.place)


def _size(shape) -> int:
    n = 1
    for s in shape:
        n *= int(s)
    return n


class _StepSource:
    """Draws for one step of a compiled loop; the draw counter is a Python int (fixed order when traced).
    ``place`` (sharded backends) constrains each draw's sharding; the numbers do not depend on it."""

    def __init__(self, key, place=None):
        self.key = key
        self.count = 0
        self.place = place

    def _put(self, x):
        return x if self.place is None else self.place(x)

    def _next(self):
        import jax

        self.count += 1
        if _draws.supported(self.key):
            return _draws.fold_in(self.key, self.count)
        return jax.random.fold_in(self.key, self.count)

    def normal(self, shape, dtype):
        import jax

        k = self._next()
        if not _draws.supported(k, dtype):
            return self._put(jax.random.normal(k, shape, dtype=dtype))
        return self._put(_draws.normal(k, _size(shape), dtype).reshape(shape))

    def uniform(self, shape, dtype):
        import jax

        k = self._next()
        if not _draws.supported(k, dtype):
            return self._put(jax.random.uniform(k, shape, dtype=dtype))
        return self._put(_draws.uniform(k, _size(shape), dtype).reshape(shape))

    def integers(self, low, high, shape):
        import jax
        import jax.numpy as jnp

        dt = jnp.int64 if jax.config.read("jax_enable_x64") else jnp.int32
        return self._put(jax.random.randint(self._next(), shape, low, high, dtype=dt))

    def spawn(self, k):
        import jax

        return [_StepSource(jax.random.fold_in(self._next(), j), self.place) for j in range(k)]
