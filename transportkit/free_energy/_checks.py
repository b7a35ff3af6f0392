"""Shared pieces of the free-energy estimators: argument checks (all run at the public entry, before any work),
works validation, log-space kernels, compiled kernels from the backend's one compile cache, and the bootstrap."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from .._backend import Backend
from .._validation import as_choice, as_count, as_points, as_real, refuse_lazy
from ..random import SEED_DEPRECATED, Generator, resolve_rng
from .diagnostics import Array


# ----------------------------------------------------------------------------------------------- argument checks
# The scalar checkers are the shared ones of transportkit._validation; these few compose them for this family.
def check_threshold(value: Any) -> float:
    """``ess_warning``: a real number (not NaN; ``inf`` allowed); ``<= 0`` disables the warnings."""
    return as_real("ess_warning", value, finite=False)


def check_bootstrap(bootstrap: Any) -> int | None:
    """``None`` or the number of bootstrap resamples (an int >= 2). The public entry then calls
    :func:`transportkit.random.resolve_rng` itself (so that ``seed=``'s DeprecationWarning points at the caller)."""
    return None if bootstrap is None else as_count("bootstrap", bootstrap, low=2)


def bootstrap_stream(n_resamples: int | None, rng: Any, seed: Any, be: Backend) -> Generator | None:
    """The random stream of a bootstrap of ``n_resamples`` resamples (checked by :func:`check_bootstrap`), or
    ``None`` without one (``None`` or 0); ``seed=`` warns as the deprecated alias of ``rng=`` either way."""
    if not n_resamples and seed is SEED_DEPRECATED:
        return None
    gen = resolve_rng(rng, be, seed=seed)
    return gen if n_resamples else None


def refuse_lazy_inputs(**arrays: Any) -> None:
    """``TypeError`` for any dask (lazy) array among the inputs, before anything is converted or computed."""
    for name, a in arrays.items():
        refuse_lazy(name, a)


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
    """Validate works: a real floating array of shape (..., n), n >= 1 (complex, bool, object input a
    ``TypeError``), finite (or non-finite omitted for 1-D)."""
    as_choice("nan_policy", nan_policy, ("raise", "omit"))
    xp = be.xp
    if getattr(w, "ndim", None) == 0 or isinstance(w, (int, float)):
        raise ValueError(f"{name} must be an array of works, got a scalar")
    w = as_points(name, w, be, ndim=tuple(range(1, 33)), finite=False)
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


#: bootstrap resamples are drawn in blocks, each block from its own random stream (so that blocks can run as Dask
#: tasks and give the same numbers): at least this many blocks (one per resample when there are fewer)
BOOT_BLOCKS = 8


def bootstrap_std(
    stat: Callable[..., Array], arrays: list[Array], n_boot: int, gen: Generator, be: Backend, client: Any = None
) -> Array:
    """Standard deviation over ``n_boot`` resamples (with replacement, independently per array) of
    ``stat(be, *resampled)`` (Efron 1979, Ann. Statist. 7, 1).

    The resamples are drawn in blocks of at most ~4e6 entries, at least :data:`BOOT_BLOCKS` of them, block j from
    the stream :func:`transportkit._dask.task_generator` of seed j of :func:`transportkit._dask.task_seeds`; the
    blocks run one after another here or, with ``client`` (a ``dask.distributed.Client``), as Dask tasks, with the
    same result (``stat`` must then be picklable: a module-level function or a small object)."""
    from .._dask import backend_spec, run_tasks, task_seeds

    total = sum(a.shape[0] for a in arrays)
    chunk = max(1, (1 << 22) // total)
    blocks = max(-(-n_boot // chunk), min(n_boot, BOOT_BLOCKS))
    sizes = [n_boot // blocks + (1 if j < n_boot % blocks else 0) for j in range(blocks)]
    spec, arrs = (be, arrays) if client is None else (backend_spec(be), [be.to_numpy(a) for a in arrays])
    args = [(stat, arrs, b, s, spec, gen.rng_on_host) for b, s in zip(sizes, task_seeds(gen, blocks), strict=True)]
    out = run_tasks("bootstrap", "bootstrap block", bootstrap_block, args, client=client)
    return std_over_first(be.xp.concat([be.asarray(o) for o in out], axis=0), be.xp)


def bootstrap_block(stat: Callable[..., Array], arrays: list[Any], b: int, seed: list[int], backend: Any,
                    rng_on_host: bool) -> Array:  # fmt: skip
    """``stat`` on ``b`` resamples of ``arrays`` drawn from the stream of ``seed`` (module level: a Dask task)."""
    from .._dask import task_backend, task_generator

    be = task_backend(backend)
    gen = task_generator(seed, be, rng_on_host)
    xp = be.xp
    res = []
    for a in arrays:
        a = be.asarray(a)
        n = a.shape[0]
        idx = gen.integers(0, n, (b * n,))
        res.append(xp.reshape(xp.take(a, idx, axis=0), (b, n)))
    return stat(be, *res)
