"""Independent tasks (SMC/AIS islands, chunks of transport sampling, bootstrap blocks) in this process or on a Dask
cluster (``client=``), with the same random streams either way, so that the two give the same numbers.

**Streams.** :func:`task_seeds` draws 124 bits from the caller's stream once and gives task k the seed
``(bits, k)``: a NumPy ``SeedSequence`` entropy (the adapters seed every backend from one), hence independent
streams, reproducible from the caller's seed, and plain integers that travel to a worker and seed its stream there
(:func:`task_generator`) on the backend the worker has.

**Execution.** :func:`run_tasks` calls ``fn(*args_k)`` for every task: in order in this process, or through
``client.submit(..., retries=retries, pure=False)`` (Dask distributed; Rocklin 2015, SciPy proceedings). A task that
fails is retried by Dask (and a task whose worker died is rescheduled by the scheduler); a task that still fails is
a :class:`TaskLostError` naming it, never a silently smaller result. Results are gathered in task order as they
complete (a progress bar over tasks with ``progress=True``).

Dask is imported only here, inside the functions that use it (transportkit imports no optional library at import).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from ._loops import progress_bar

__all__ = [
    "ClientLike",
    "TaskLostError",
    "backend_spec",
    "check_client",
    "run_tasks",
    "task_backend",
    "task_generator",
    "task_seeds",
]

#: Dask retries of a failed task before it is declared lost
RETRIES = 2


class TaskLostError(RuntimeError):
    """A task (island, chunk, bootstrap block) failed on the cluster after its retries."""


class ClientLike(Protocol):
    """What transportkit uses of a ``dask.distributed.Client``."""

    def submit(self, func: Callable, *args: Any, **kwargs: Any) -> Any: ...

    def gather(self, futures: Any) -> Any: ...


def check_client(where: str, client: Any) -> ClientLike | None:
    """``None`` or a ``dask.distributed.Client`` (duck-typed: ``submit`` and ``gather``); else a ``TypeError``."""
    if client is None:
        return None
    if not (callable(getattr(client, "submit", None)) and callable(getattr(client, "gather", None))):
        raise TypeError(f"{where}: client must be a dask.distributed.Client (or None), got {type(client).__name__}")
    return client


def task_seeds(gen: Any, k: int) -> list[list[int]]:
    """``k`` seeds ``[b0, b1, b2, b3, j]`` (j = 0..k-1) from four 31-bit integers drawn once from ``gen`` (31: every
    backend draws them, JAX without 64-bit mode too)."""
    bits = [int(v) for v in gen.backend.to_numpy(gen.integers(0, 2**31 - 1, (4,))).tolist()]
    return [[*bits, j] for j in range(k)]


def backend_spec(be: Any) -> tuple[str, str]:
    """``(name, dtype)`` of a backend: what a task needs to rebuild it on a worker (on the worker's default device)."""
    from ._backend import _dtype_name

    return be.name, _dtype_name(be.dtype)


def task_backend(spec: Any) -> Any:
    """A task's backend: a :class:`~transportkit.Backend` as is (in this process), else from :func:`backend_spec`."""
    from ._backend import Backend, get_backend

    if isinstance(spec, Backend):
        return spec
    return get_backend(spec[0], dtype=spec[1])


def task_generator(seed: list[int], be: Any, rng_on_host: bool = False) -> Any:
    """The random stream of one task (a :class:`~transportkit.random.Generator` on ``be``)."""
    from .random import Generator

    return Generator(list(seed), be, rng_on_host=rng_on_host)


def run_tasks(
    where: str,
    what: str,
    fn: Callable,
    args: Sequence[tuple],
    *,
    client: Any = None,
    retries: int = RETRIES,
    progress: bool = False,
) -> list[Any]:
    """``[fn(*a) for a in args]``, here or on the cluster of ``client``; ``what`` names a task in messages
    (e.g. ``"island"``: "island 3 was lost")."""
    bar = progress_bar(len(args), progress and len(args) > 1, f"{where} {what}s")
    try:
        if client is None:
            out = []
            for a in args:
                out.append(fn(*a))
                bar.update(1)
            return out
        return _run_dask(where, what, fn, args, client, retries, bar)
    finally:
        bar.close()


def _run_dask(where: str, what: str, fn: Callable, args: Sequence[tuple], client: Any, retries: int, bar: Any):
    import uuid

    from distributed import as_completed

    token = uuid.uuid4().hex[:8]
    futures = [
        client.submit(fn, *a, key=f"transportkit-{what}-{j}-{token}", retries=retries, pure=False)
        for j, a in enumerate(args)
    ]
    index = {f.key: j for j, f in enumerate(futures)}
    out: list[Any] = [None] * len(args)
    try:
        for fut in as_completed(futures):
            j = index[fut.key]
            if fut.status != "finished":
                exc = fut.exception()
                raise TaskLostError(
                    f"{where}: {what} {j} of {len(args)} was lost on the cluster after {retries} retries "
                    f"({type(exc).__name__}: {exc}); nothing was combined without it"
                ) from exc
            out[j] = fut.result()
            bar.update(1)
    except BaseException:
        client.cancel(futures)
        raise
    return out
