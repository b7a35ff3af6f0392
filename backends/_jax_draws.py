"""Draws inside compiled JAX loops, bit for bit those of ``jax.random`` (threefry keys), but cheaper on CPU.

``jax.random.uniform``/``normal`` compute threefry-2x32 (Salmon, Moraes, Dror & Shaw 2011, "Parallel random numbers:
as easy as 1, 2, 3", SC'11) as a rolled 5-trip loop on CPU (to keep compile times short) and, in a loop body, XLA
fuses the normal's inverse-error-function polynomial into every consumer of the draw, in the consumer's shape. Here:

- the 20 rounds are unrolled (one fused pass instead of ten), with the counters of ``jax.random``'s partitionable
  scheme (the flat index as two 32-bit words), the same key schedule and rotations, and the same construction of
  floats from bits (``bits >> (nbits - nmant) | bits(1.0)``, minus 1) — so the numbers are those of
  ``jax.random.uniform(key, shape)`` and ``jax.random.normal(key, shape)``;
- a normal draw is made flat and computed once into a buffer of its own (:func:`materialized`), then reshaped;
- :func:`fold_in` (the per-step and per-draw keys) is the same unrolled hash on the counter pair ``(0, data)``.

Where the key is not threefry, the partitionable scheme is off or the dtype is not float32/float64, the draws are
``jax.random``'s own (:func:`supported`). ``tests/test_compiled_runs.py`` checks the equality with ``jax.random``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))


def supported(key: Any, dtype: Any = None) -> bool:
    """Whether the draws of this module reproduce ``jax.random``'s for ``key`` and ``dtype`` (``None``: for
    :func:`fold_in`, which needs only a threefry key)."""
    import jax

    if not _is_threefry(key):
        return False
    return dtype is None or (
        bool(getattr(jax.config, "jax_threefry_partitionable", False))
        and np.dtype(dtype) in (np.dtype(np.float32), np.dtype(np.float64))
    )


def _is_threefry(key: Any) -> bool:
    import jax

    try:
        return str(jax.random.key_impl(key)) in ("threefry2x32", "fry")
    except TypeError:  # a raw uint32 key
        return False


def fold_in(key: Any, data: Any) -> Any:
    """``jax.random.fold_in(key, data)``: threefry of the counter pair ``(0, data)`` under the key (jitted)."""
    return _jitted("fold_in")(key, data)


def _fold_in(key: Any, data: Any) -> Any:
    import jax
    import jax.numpy as jnp

    kd = jax.random.key_data(key)
    d = jnp.asarray(data).astype(jnp.uint32)
    b1, b2 = _threefry2x32(kd[0], kd[1], jnp.zeros_like(d), d)
    return jax.random.wrap_key_data(jnp.stack([b1, b2]), impl=jax.random.key_impl(key))


def _threefry2x32(k1: Any, k2: Any, x1: Any, x2: Any) -> tuple[Any, Any]:
    """Threefry-2x32 with 20 rounds, unrolled (the rounds of ``jax._src.prng.threefry2x32``)."""
    ks = (k1, k2, k1 ^ k2 ^ np.uint32(0x1BD11BDA))
    x1, x2 = x1 + ks[0], x2 + ks[1]
    for i in range(5):
        for r in _ROTATIONS[i % 2]:
            x1 = x1 + x2
            x2 = ((x2 << np.uint32(r)) | (x2 >> np.uint32(32 - r))) ^ x1
        x1 = x1 + ks[(i + 1) % 3]
        x2 = x2 + ks[(i + 2) % 3] + np.uint32(i + 1)
    return x1, x2


def _bits(key: Any, n: int, width: int) -> Any:
    """``jax.random.bits(key, (n,), uint{width})`` for width 32 or 64."""
    import jax
    import jax.numpy as jnp

    kd = jax.random.key_data(key)
    idx = jax.lax.iota(jnp.uint64 if n >= 2**32 else jnp.uint32, n)
    hi = (idx >> 32).astype(jnp.uint32) if n >= 2**32 else jnp.zeros((n,), jnp.uint32)
    b1, b2 = _threefry2x32(kd[0], kd[1], hi, idx.astype(jnp.uint32))
    if width == 32:
        return b1 ^ b2
    return (b1.astype(jnp.uint64) << np.uint64(32)) | b2.astype(jnp.uint64)


def uniform(key: Any, n: int, dtype: Any) -> Any:
    """``jax.random.uniform(key, (n,), dtype)`` (flat; jitted: an eager call is one dispatch)."""
    return _jitted("uniform")(key, n, np.dtype(dtype))


def normal(key: Any, n: int, dtype: Any) -> Any:
    """``jax.random.normal(key, (n,), dtype)`` (flat), computed once (:func:`materialized`)."""
    return _jitted("normal")(key, n, np.dtype(dtype))


_JITTED: dict[str, Any] = {}


def _jitted(name: str) -> Any:
    fn = _JITTED.get(name)
    if fn is None:
        import jax

        if name == "fold_in":
            fn = jax.jit(_fold_in)
        else:
            fn = jax.jit(_uniform if name == "uniform" else _normal, static_argnums=(1, 2))
        _JITTED[name] = fn
    return fn


def _uniform(key: Any, n: int, dtype: Any, low: float = 0.0, high: float = 1.0) -> Any:
    import jax

    dt = np.dtype(dtype)
    fi = np.finfo(dt)
    width = fi.bits
    udt = np.dtype(f"uint{width}")
    b = _bits(key, n, width)
    fb = (b >> udt.type(width - fi.nmant)) | np.array(1.0, dt).view(udt)
    f = jax.lax.bitcast_convert_type(fb, dt) - dt.type(1.0)
    return jax.lax.max(dt.type(low), f * dt.type(high - low) + dt.type(low))


def _normal(key: Any, n: int, dtype: Any) -> Any:
    import jax

    dt = np.dtype(dtype)
    u = _uniform(key, n, dt, float(np.nextafter(dt.type(-1.0), dt.type(0.0))), 1.0)
    return materialized(dt.type(np.sqrt(2)) * jax.lax.erf_inv(u), key)


def materialized(z: Any, key: Any) -> Any:
    """``z`` computed once into a buffer of its own inside a compiled loop body (the same numbers).

    XLA's CPU fusion copies a chain of cheap operations (the normal's polynomial) into every consumer (a MALA move
    reads its noise twice: the proposal and the Hastings ratio) and evaluates it in the consumer's shape, 2-3x slower
    for an (n, 10) array than flat. Multiplying by a run-time 1 in a two-trip loop (exact: ``z * 1 == z``) gives
    XLA a loop-carried buffer that it cannot fuse through."""
    import jax

    one = (jax.random.key_data(key).ravel()[0] | 1).astype(z.dtype)
    one = one / one  # 1, not a compile-time constant

    def body(st: tuple) -> tuple:
        j, y = st
        return j + 1, y * one

    return jax.lax.while_loop(lambda st: st[0] < 2, body, (0, z))[1]
