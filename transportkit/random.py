"""Random numbers on every backend.

:class:`Generator` wraps the backend library's own generator (NumPy ``PCG64``, ``torch.Generator``, JAX keys
split on every draw, ``cupy.random``), seeded through a NumPy ``SeedSequence`` so that ``spawn(k)`` gives
independent streams everywhere. Same seed + same backend -> same numbers. With ``rng_on_host=True`` the
numbers are drawn by NumPy on the host (in float64) and moved to the backend, so that different backends
can be run on identical noise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ._backend import Backend, get_backend

__all__ = ["SEED_DEPRECATED", "Generator", "default_rng", "resolve_rng"]

Shape = int | Sequence[int]


def _shape(shape: Shape) -> tuple[int, ...]:
    shape = (shape,) if isinstance(shape, int) else tuple(int(s) for s in shape)
    if any(s < 0 for s in shape):
        raise ValueError(f"shape must be non-negative, got {shape}")
    return shape


class Generator:
    """A random stream on one backend.

    Parameters
    ----------
    seed : None, int, or a ``numpy.random.SeedSequence``-compatible value
        ``None`` draws fresh entropy from the operating system.
    backend : name or :class:`Backend`, default ``"numpy"``
    rng_on_host : draw with NumPy on the host and move the numbers to the backend.
    """

    def __init__(self, seed: Any = None, backend: Any = None, *, rng_on_host: bool = False, _source=None):
        self.backend: Backend = get_backend(backend)
        self.rng_on_host = rng_on_host
        if _source is not None:
            self._source = _source
        elif rng_on_host:
            self._source = get_backend("numpy").adapter.random_source(seed, "cpu")
        else:
            self._source = self.backend.adapter.random_source(seed, self.backend.device)

    def _move(self, a: Any, dtype: Any = None) -> Any:
        return self.backend.asarray(a, dtype) if self.rng_on_host else a

    def _host_dtype(self, dtype: Any) -> Any:
        """The dtype to draw in: on the host always float64 (identical noise for every backend)."""
        if self.rng_on_host:
            return get_backend("numpy").xp.float64
        return self.backend.dtype if dtype is None else self.backend.as_dtype(dtype)

    def normal(self, shape: Shape = (), *, loc: Any = 0.0, scale: Any = 1.0, dtype: Any = None) -> Any:
        """Draws from N(loc, scale^2), i.i.d., of the given shape."""
        dt = self.backend.dtype if dtype is None else self.backend.as_dtype(dtype)
        z = self._move(self._source.normal(_shape(shape), self._host_dtype(dtype)), dt)
        if isinstance(loc, (int, float)) and isinstance(scale, (int, float)) and loc == 0 and scale == 1:
            return z
        return loc + scale * z

    def uniform(self, shape: Shape = (), *, low: Any = 0.0, high: Any = 1.0, dtype: Any = None) -> Any:
        """Draws from U[low, high), i.i.d., of the given shape."""
        dt = self.backend.dtype if dtype is None else self.backend.as_dtype(dtype)
        u = self._move(self._source.uniform(_shape(shape), self._host_dtype(dtype)), dt)
        if isinstance(low, (int, float)) and isinstance(high, (int, float)) and low == 0 and high == 1:
            return u
        return low + (high - low) * u

    def integers(self, low: int, high: int | None = None, shape: Shape = ()) -> Any:
        """Integers uniform on ``[low, high)`` (or ``[0, low)`` when ``high`` is omitted)."""
        if high is None:
            low, high = 0, low
        if high <= low:
            raise ValueError(f"integers needs low < high, got low={low}, high={high}")
        return self._move(self._source.integers(int(low), int(high), _shape(shape)))

    def categorical(self, log_p: Any, shape: Shape | None = None) -> Any:
        """Category indices drawn with probabilities proportional to ``exp(log_p)`` (unnormalized allowed).

        - ``log_p`` of shape ``(K,)`` and ``shape`` given: that many independent draws, by inverse CDF
          (``O(n log K)`` time, no ``n x K`` array) -- the resampling step of SMC.
        - ``log_p`` of shape ``(..., K)`` and ``shape=None``: one draw per row, by the Gumbel-max trick.

        ``-inf`` entries are never drawn; a row whose entries are all ``-inf`` is a ``ValueError``.
        """
        xp = self.backend.xp
        log_p = self.backend.asarray(log_p)
        if log_p.ndim == 0 or log_p.shape[-1] == 0:
            raise ValueError("categorical needs at least one category on the last axis")
        if bool(xp.any(xp.isnan(log_p))) or bool(xp.any(log_p == math.inf)):
            raise ValueError("categorical: log-probabilities contain NaN or +inf")
        m = xp.max(log_p, axis=-1, keepdims=True)
        if not bool(xp.all(m > -math.inf)):
            raise ValueError("categorical: every category of some row has probability zero (all -inf)")
        if shape is None:
            g = -xp.log(-xp.log(self._uniform_open(log_p.shape)))
            return xp.argmax(log_p + g, axis=-1)
        if log_p.ndim != 1:
            raise ValueError("categorical with a shape needs 1-D log-probabilities")
        p = xp.exp(log_p - m)
        cdf = xp.cumulative_sum(p)
        u = self.uniform(shape) * cdf[-1]
        idx = xp.searchsorted(cdf, xp.reshape(u, (-1,)), side="right")
        idx = xp.minimum(idx, xp.asarray(log_p.shape[0] - 1, dtype=idx.dtype, device=self.backend.device))
        return xp.reshape(idx, _shape(shape))

    def _uniform_open(self, shape: tuple[int, ...]) -> Any:
        """Uniforms on the open interval (0, 1), safe to take log(log(.)) of."""
        xp = self.backend.xp
        u = self.uniform(shape)
        tiny = xp.finfo(u.dtype).smallest_normal
        return xp.clip(u, tiny, 1.0 - xp.finfo(u.dtype).eps / 2)

    def permutation(self, x: int | Any) -> Any:
        """A random permutation of ``range(x)``, or of the rows of array ``x``."""
        xp = self.backend.xp
        n = x if isinstance(x, int) else x.shape[0]
        perm = xp.argsort(self.uniform((n,)))
        return perm if isinstance(x, int) else xp.take(x, perm, axis=0)

    def spawn(self, k: int) -> list[Generator]:
        """``k`` statistically independent child generators (for parallel chunks)."""
        return [
            Generator(None, self.backend, rng_on_host=self.rng_on_host, _source=s)
            for s in self._source.spawn(k)
        ]

    # -- draws inside compiled loops -----------------------------------------------------------------------
    @property
    def functional(self) -> bool:
        """Whether draws can happen inside a compiled loop body (JAX keys, not ``rng_on_host``): then a loop takes
        one :meth:`loop_key` before it starts and draws from :meth:`at` ``(key, i)`` at step ``i``."""
        return not self.rng_on_host and hasattr(self._source, "loop_key")

    def loop_key(self) -> Any:
        """A key for one loop's draws (advances this stream); ``None`` where the stream is not :attr:`functional`."""
        return self._source.loop_key() if self.functional else None

    def state(self) -> Any:
        """The stream's state as an array (:attr:`functional` streams; else ``None``): with :meth:`from_state`
        and :meth:`set_state` a whole compiled program can draw exactly what this stream would draw eagerly."""
        return self._source.state() if self.functional else None

    def from_state(self, state: Any) -> Generator:
        """This stream continued from ``state`` (traceable); its :meth:`state` afterwards is the advanced state."""
        return Generator(None, self.backend, _source=self._source.from_state(state))

    def set_state(self, state: Any) -> None:
        """Continue this stream from ``state`` (as returned by a program that drew from :meth:`from_state`)."""
        self._source.set_state(state)

    def at(self, key: Any, i: Any) -> Generator:
        """The generator to draw from at step ``i`` of a loop started with ``key = loop_key()``.

        Functional streams (JAX) give a pure, traceable stream derived from ``(key, i)``: same key and step, same
        numbers, inside or outside ``jit``. Elsewhere the loop runs in Python and this is the stream itself."""
        if key is None or not self.functional:
            return self
        return Generator(None, self.backend, _source=self._source.at(key, i))

    def __repr__(self) -> str:
        host = ", rng_on_host=True" if self.rng_on_host else ""
        return f"Generator(backend={self.backend.name!r}{host})"


_MISSING: Any = object()


def _entropy(rng: Any, name: str) -> Any:
    """What seeds a stream (None, a non-negative int, a ``SeedSequence``); NumPy generators are turned into 128
    drawn bits by the adapters' seeding helper, so that they seed any backend deterministically (SPEC 7)."""
    from .backends._seeds import entropy

    return entropy(rng, name)


def default_rng(rng: Any = None, backend: Any = None, *, rng_on_host: bool = False) -> Generator:
    """A :class:`Generator` from anything SPEC 7 accepts: ``None`` (fresh OS entropy), a non-negative int, a
    ``numpy.random.Generator`` (128 bits are drawn from it to seed the backend's stream, so NumPy code can seed any
    backend deterministically), a ``SeedSequence``, or a transportkit :class:`Generator` (returned as is)."""
    if isinstance(rng, Generator):
        return rng
    return Generator(_entropy(rng, "rng"), backend, rng_on_host=rng_on_host)


def resolve_rng(rng: Any = None, backend: Any = None, *, seed: Any = _MISSING, rng_on_host: bool = False) -> Generator:
    """The generator of a public call that takes ``rng=`` (SPEC 7) and the deprecated alias ``seed=``.

    Public functions declare ``rng=None, seed=_MISSING`` (see :data:`SEED_DEPRECATED`) and call this once at entry.
    Passing both is a ``TypeError``; ``seed=`` alone works as ``rng=`` with a ``DeprecationWarning``."""
    if seed is not _MISSING:
        if rng is not None:
            raise TypeError("pass rng= only (seed= is its deprecated alias)")
        import warnings

        warnings.warn("seed= is deprecated; use rng= (an int, a numpy.random.Generator or None)",
                      DeprecationWarning, stacklevel=3)
        rng = seed
    if isinstance(rng, Generator):
        return rng
    return Generator(_entropy(rng, "seed" if seed is not _MISSING else "rng"), backend, rng_on_host=rng_on_host)


#: the default of a deprecated ``seed=`` keyword: "not passed"
SEED_DEPRECATED: Any = _MISSING
