"""Seeding shared by the adapters: every stream starts from a :class:`numpy.random.SeedSequence`, so that
``spawn(k)`` gives statistically independent children on every backend."""

from __future__ import annotations

from typing import Any

import numpy as np


def seed_sequence(seed: Any) -> np.random.SeedSequence:
    """``None`` (fresh entropy), a non-negative int, a sequence of ints, or a ``SeedSequence``."""
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, (bool, float, str, bytes, complex, np.bool_)):
        raise TypeError(f"rng must be None, a non-negative int or a numpy.random.Generator, got {seed!r}")
    if isinstance(seed, (int, np.integer)) and seed < 0:
        raise ValueError(f"rng must be a non-negative int seed, got {seed!r}")
    return np.random.SeedSequence(seed)


def entropy(rng: Any, name: str = "rng") -> Any:
    """``None``, a ``SeedSequence`` or a non-negative int as is; a ``numpy.random.Generator`` / ``RandomState`` as a
    ``SeedSequence`` of 128 bits drawn from it (it advances); anything else a ``TypeError`` naming ``name``."""
    if rng is None or isinstance(rng, np.random.SeedSequence):
        return rng
    if isinstance(rng, np.random.Generator):
        return np.random.SeedSequence([int(v) for v in rng.integers(0, 2**32, size=4, dtype=np.uint64)])
    if isinstance(rng, np.random.RandomState):
        return np.random.SeedSequence([int(v) for v in rng.randint(0, 2**32, size=4, dtype=np.uint64)])
    if not isinstance(rng, (bool, np.bool_)) and isinstance(rng, (int, np.integer)):
        if rng < 0:
            raise ValueError(f"{name} must be a non-negative integer seed, got {rng}")
        return int(rng)
    raise TypeError(
        f"{name} must be None, a non-negative int, a numpy.random.Generator or a transportkit.random.Generator, "
        f"got {rng!r} ({type(rng).__name__})"
    )


def seed_int(ss: np.random.SeedSequence) -> int:
    """A 63-bit integer seed for libraries that take one (torch, jax, cupy)."""
    hi, lo = (int(v) for v in ss.generate_state(2, dtype=np.uint32))
    return ((hi << 32) | lo) & ((1 << 63) - 1)


class NumpySource:
    """A NumPy PCG64 stream; ``wrap`` moves each draw to the backend (identity for NumPy)."""

    def __init__(self, seed: Any, wrap=None):
        self.seq = seed_sequence(seed)
        self.gen = np.random.Generator(np.random.PCG64(self.seq))
        self.wrap = wrap or (lambda a: a)

    def normal(self, shape: tuple[int, ...], dtype: Any) -> Any:
        return self.wrap(self.gen.standard_normal(shape, dtype=np.dtype(_name(dtype))))

    def uniform(self, shape: tuple[int, ...], dtype: Any) -> Any:
        return self.wrap(self.gen.random(shape, dtype=np.dtype(_name(dtype))))

    def integers(self, low: int, high: int, shape: tuple[int, ...]) -> Any:
        return self.wrap(self.gen.integers(low, high, size=shape, dtype=np.int64))

    def spawn(self, k: int) -> list[NumpySource]:
        return [type(self)(s, self.wrap) for s in self.seq.spawn(k)]


def _name(dtype: Any) -> str:
    return str(dtype).rsplit(".", 1)[-1].replace("'", "").replace(">", "")
