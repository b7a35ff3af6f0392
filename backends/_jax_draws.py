r"""Draws inside compiled JAX loops: ``jax.random``'s numbers (threefry keys), cheaper on CPU.

``jax.random.uniform``/``normal`` compute threefry-2x32 (Salmon, Moraes, Dror & Shaw 2011, "Parallel random numbers:
as easy as 1, 2, 3", SC'11) as a rolled 5-trip loop on CPU (to keep compile times short) and, in a loop body, XLA
fuses the normal's inverse-error-function polynomial into every consumer of the draw, in the consumer's shape. Here:

- the 20 rounds are unrolled (one fused pass instead of ten), with the counters of ``jax.random``'s partitionable
  scheme (the flat index as two 32-bit words), the same key schedule and rotations, and the same construction of
  floats from bits (``bits >> (nbits - nmant) | bits(1.0)``, minus 1) — so the uniforms are those of
  ``jax.random.uniform(key, shape)``, bit for bit, and so are the float32 normals;
- a float64 normal is :math:`\sqrt2\,\mathrm{erf}^{-1}(u)` of the same uniform u on (-1, 1) by Wichura's AS241
  (the normal quantile of (1 + u)/2, one rational function per range) instead of XLA's ``erf_inv``: so the numbers of
  ``jax.random.normal(key, shape)`` to rounding: AS241 is within 1e-15 (relative) of SciPy's ``erfinv`` over the
  whole range, XLA's float64 ``erf_inv`` within ~3e-13 in the bulk and 1e-10 in the far tails; at ~60 % of its
  cost;
- a normal draw is made flat and computed once into a buffer of its own (:func:`materialized`), then reshaped;
- :func:`fold_in` (the per-step and per-draw keys) is the same unrolled hash on the counter pair ``(0, data)``.

Where the key is not threefry, the partitionable scheme is off or the dtype is not float32/float64, the draws are
``jax.random``'s own (:func:`supported`). ``tests/test_compiled_runs.py`` checks the agreement with ``jax.random``.
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
    """``jax.random.normal(key, (n,), dtype)`` (flat; float64 to rounding), computed once (:func:`materialized`)."""
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
    if dt == np.dtype(np.float64):
        return materialized(_sqrt2_erfinv64(u), key)
    return materialized(dt.type(np.sqrt(2)) * jax.lax.erf_inv(u), key)


# Wichura's AS241 PPND16 (Applied Statistics 37, 477-484, 1988): the standard normal quantile as a ratio of two
# degree-7 polynomials on each of three ranges, relative error below 1e-16.
_AS241 = (
    ((3.387132872796366608, 133.14166789178437745, 1971.5909503065514427, 13731.693765509461125,
      45921.953931549871457, 67265.770927008700853, 33430.575583588128105, 2509.0809287301226727),
     (1.0, 42.313330701600911252, 687.1870074920579083, 5394.1960214247511077, 21213.794301586595867,
      39307.89580009271061, 28729.085735721942674, 5226.495278852545925)),
    ((1.42343711074968357734, 4.6303378461565452959, 5.7694972214606914055, 3.64784832476320460504,
      1.27045825245236838258, 0.24178072517745061177, 0.0227238449892691845833, 7.7454501427834140764e-4),
     (1.0, 2.05319162663775882187, 1.6763848301838038494, 0.68976733498510000455, 0.14810397642748007459,
      0.0151986665636164571966, 5.475938084995344946e-4, 1.05075007164441684324e-9)),
    ((6.6579046435011037772, 5.4637849111641143699, 1.7848265399172913358, 0.29656057182850489123,
      0.026532189526576123093, 0.0012426609473880784386, 2.71155556874348757815e-5, 2.01033439929228813265e-7),
     (1.0, 0.59983220655588793769, 0.13692988092273580531, 0.0148753612908506148525, 7.868691311456132591e-4,
      1.8463183175100546818e-5, 1.4215117583164458887e-7, 2.04426310338993978564e-15)),
)  # fmt: skip


def _horner(coeffs: tuple, x: Any) -> Any:
    r = coeffs[-1]
    for c in reversed(coeffs[:-1]):
        r = r * x + c
    return r


def _sqrt2_erfinv64(u: Any) -> Any:
    r""":math:`\sqrt2\,\mathrm{erf}^{-1}(u) = \Phi^{-1}((1 + u)/2)` for float64 ``u`` in (-1, 1), by AS241 on
    ``q = u / 2`` and, in the tails (``|u| > 0.85``), on ``(1 - |u|) / 2`` (both exact in floating point): within
    1e-15 (relative) of SciPy's ``erfinv``, so the numbers of ``jax.random.normal`` to XLA's own float64 ``erf_inv``
    error (~3e-13 in the bulk, 1e-10 in the far tails), at ~60 % of its cost on CPU."""
    import jax.numpy as jnp

    (a, b), (c, d), (e, f) = _AS241
    q = 0.5 * u
    r1 = 0.180625 - q * q
    central = q * _horner(a, r1) / _horner(b, r1)
    r = jnp.sqrt(-jnp.log(0.5 * (1.0 - jnp.abs(u))))
    r2, r3 = r - 1.6, r - 5.0
    tail = jnp.where(r <= 5.0, _horner(c, r2) / _horner(d, r2), _horner(e, r3) / _horner(f, r3))
    return jnp.where(jnp.abs(q) <= 0.425, central, jnp.where(q < 0, -tail, tail))


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
