"""Shared pieces of the free-energy estimators: argument checks (all run at the public entry, before any work),
works validation, log-space kernels, compiled kernels from the backend's one compile cache, and the bootstrap."""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

from .._backend import Backend
from ..random import Generator, default_rng
from .diagnostics import Array


# ----------------------------------------------------------------------------------------------- argument checks
def check_choice(name: str, value: Any, options: Sequence[str]) -> None:
    """``ValueError`` unless ``value`` is one of ``options``."""
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {', '.join(repr(o) for o in options)}; got {value!r}")


def check_positive_int(name: str, value: Any) -> int:
    """``value`` as an int >= 1 (bools and floats are rejected)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_positive_real(name: str, value: Any) -> float:
    """``value`` as a finite float > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def check_real(name: str, value: Any) -> float:
    """``value`` as a finite float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def check_threshold(value: Any) -> float:
    """``ess_warning``: a real number (not NaN); ``<= 0`` disables the warning."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
        raise ValueError(f"ess_warning must be a number (0 disables the warning), got {value!r}")
    return float(value)


def check_bootstrap(bootstrap: Any, seed: Any, be: Backend) -> Generator | None:
    """``None`` without a bootstrap, else the generator of its resamples (``bootstrap`` an int >= 2)."""
    if bootstrap is None:
        return None
    if isinstance(bootstrap, bool) or not isinstance(bootstrap, numbers.Integral) or bootstrap < 2:
        raise ValueError(f"bootstrap must be an integer >= 2 (number of resamples), got {bootstrap!r}")
    return default_rng(seed, be)


def check_callable(name: str, f: Any) -> None:
    """``TypeError`` unless ``f`` is callable."""
    if not callable(f):
        raise TypeError(f"{name} must be a callable, got {type(f).__name__}")


# ----------------------------------------------------------------------------------------------- works
def first_bad_index(bad: Array, xp: Any) -> tuple[int, ...]:
    """Multi-index of the first True entry of ``bad`` (one host read, on the error path only)."""
    flat = xp.reshape(bad, (-1,))
    i = int(xp.argmax(xp.astype(flat, xp.int32)))
    idx = []
    for s in reversed(bad.shape):
        idx.append(i % s)
        i //= s
    return tuple(reversed(idx))


def prepare_works(w: Any, be: Backend, name: str, nan_policy: str) -> Array:
    """Validate works: floating array of shape (..., n), n >= 1, finite (or non-finite omitted for 1-D)."""
    check_choice("nan_policy", nan_policy, ("raise", "omit"))
    xp = be.xp
    w = be.asarray(w, be.dtype)
    if w.ndim == 0:
        raise ValueError(f"{name} must be an array of works, got a scalar")
    if w.shape[-1] == 0:
        raise ValueError(f"{name} is empty (shape {tuple(w.shape)}): need at least one work value")
    bad = ~xp.isfinite(w)
    if bool(xp.any(bad)):
        idx = first_bad_index(bad, xp)
        where = idx[0] if len(idx) == 1 else idx
        value = float(be.to_numpy(w[idx]))
        if nan_policy == "raise":
            raise ValueError(
                f"{name} has a non-finite work at index {where} (value {value}); "
                "pass nan_policy='omit' to drop non-finite works"
            )
        if w.ndim != 1:
            raise ValueError(f"nan_policy='omit' needs 1-D works; {name} has shape {tuple(w.shape)}")
        w = w[~bad]
        if w.shape[0] == 0:
            raise ValueError(f"{name} has no finite works left after nan_policy='omit'")
    return w


def check_bootstrap_shape(gen: Generator | None, *arrays: Array) -> None:
    """The bootstrap resamples 1-D works only."""
    if gen is None:
        return
    for a in arrays:
        if a.ndim != 1:
            raise ValueError(f"bootstrap needs 1-D works, got shape {tuple(a.shape)}")


# ----------------------------------------------------------------------------------------------- kernels
def kernel(be: Backend, fn: Callable, **static: Any) -> Callable:
    """``fn`` with ``xp`` (and the ``static`` keywords) bound, from the backend's compile cache (compiled on JAX)."""
    key = ("free_energy", fn.__module__, fn.__qualname__, tuple(sorted(static.items())))
    return be.compiled(key, lambda: functools.partial(fn, xp=be.xp, **static))


def softplus(x: Array, xp: Any) -> Array:
    """log(1 + e^x) = max(x, 0) + log1p(e^{-|x|}), exact at any magnitude."""
    return (x + xp.abs(x)) / 2 + xp.log1p(xp.exp(-xp.abs(x)))


def lse12(a: Array, xp: Any) -> tuple[Array, Array]:
    """(logsumexp(a), logsumexp(2a)) over the last axis with one exponential per entry (finite ``a``)."""
    m = xp.max(a, axis=-1, keepdims=True)
    e = xp.exp(a - m)
    m = m[..., 0]
    return xp.log(xp.sum(e, axis=-1)) + m, xp.log(xp.sum(e * e, axis=-1)) + 2 * m


def logaddexp(a: Array, b: Array, xp: Any) -> Array:
    """log(e^a + e^b), stable."""
    m = xp.maximum(a, b)
    return m + xp.log1p(xp.exp(-xp.abs(a - b)))


def std_over_first(values: Array, xp: Any) -> Array:
    """Sample standard deviation (``ddof = 1``) over the leading axis."""
    return xp.std(values, axis=0, correction=1)


def bootstrap_std(stat: Callable[..., Array], arrays: list[Array], n_boot: int, gen: Generator, be: Backend) -> Array:
    """Standard deviation over ``n_boot`` resamples (with replacement, independently per array) of
    ``stat(*resampled)``, evaluated in vectorized chunks of at most ~4e6 entries (Efron 1979, Ann. Statist. 7, 1)."""
    xp = be.xp
    total = sum(a.shape[0] for a in arrays)
    chunk = max(1, (1 << 22) // total)
    out = []
    done = 0
    while done < n_boot:
        b = min(chunk, n_boot - done)
        res = []
        for a in arrays:
            n = a.shape[0]
            idx = gen.integers(0, n, (b * n,))
            res.append(xp.reshape(xp.take(a, idx, axis=0), (b, n)))
        out.append(stat(*res))
        done += b
    return std_over_first(xp.concat(out, axis=0), xp)
