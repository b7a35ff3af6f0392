"""JAX backend: autodiff and jit; PRNG keys split on every draw, so callers never see them.

JAX's 64-bit mode is the user's choice: with it off the default dtype is float32, and asking for float64
says how to turn it on. Sparse solves: Jacobi-preconditioned BiCGSTAB on ``jax.experimental.sparse.BCOO``.
"""

from __future__ import annotations

import sys
from typing import Any

from .._backend import Adapter


class JaxAdapter(Adapter):
    name = "jax"
    library = "jax"
    extra = "jax"
    notes = "value_and_grad and jit native; float64 needs jax_enable_x64; sparse_solve: BiCGSTAB on BCOO"
    provides = frozenset({"value_and_grad", "jit", "sparse_solve"})

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
        return next(iter(x.devices()))

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

    def sparse_coo(self):
        import jax.numpy as jnp
        from jax.experimental import sparse

        def coo(rows, cols, values, shape):
            idx = jnp.stack([jnp.asarray(rows), jnp.asarray(cols)], axis=1)
            return sparse.BCOO((jnp.asarray(values), idx), shape=tuple(shape)).sum_duplicates()

        return coo

    def sparse_solve(self):
        import jax
        import jax.numpy as jnp
        from jax.experimental import sparse

        from .._linalg import bicgstab

        def solve(A, b, *, tol: float = 1e-10, maxiter: int | None = None):
            if not isinstance(A, sparse.BCOO):
                return jnp.linalg.solve(A, b)
            i, j = A.indices[:, 0], A.indices[:, 1]
            diag = (
                jnp.zeros(A.shape[0], dtype=b.dtype).at[i].add(jnp.where(i == j, A.data, 0).astype(b.dtype))
            )
            matvec = jax.jit(lambda v: A @ v)
            return bicgstab(matvec, b, diag, xp=jnp, tol=tol, maxiter=maxiter)

        return solve


class JaxSource:
    def __init__(self, seed: Any, device: Any):
        import jax

        from ._seeds import seed_int, seed_sequence

        self.seq = seed_sequence(seed)
        self.device = device
        self.key = jax.random.key(seed_int(self.seq))

    def _next(self):
        import jax

        self.key, sub = jax.random.split(self.key)
        return sub

    def normal(self, shape, dtype):
        import jax

        return jax.device_put(jax.random.normal(self._next(), shape, dtype=dtype), self.device)

    def uniform(self, shape, dtype):
        import jax

        return jax.device_put(jax.random.uniform(self._next(), shape, dtype=dtype), self.device)

    def integers(self, low, high, shape):
        import jax
        import jax.numpy as jnp

        dt = jnp.int64 if jax.config.read("jax_enable_x64") else jnp.int32
        return jax.device_put(jax.random.randint(self._next(), shape, low, high, dtype=dt), self.device)

    def spawn(self, k):
        return [JaxSource(s, self.device) for s in self.seq.spawn(k)]
