r"""The final NETS run over K islands: K independent populations of m = n/K walkers, each its own resampled run
with the same drift, one after another in this process or as Dask tasks (``client=``), combined into one estimate
(Albergo & Vanden-Eijnden, "NETS: A Non-Equilibrium Transport Sampler", 2024, arXiv:2410.02711).

Training stays in the caller's process (one shared step on all training walkers); the trained drift is then fixed,
and island k simulates its m walkers with it from its own random stream (:func:`transportkit._dask.task_seeds`:
the seed ``(124 bits drawn from the run stream, k)``; its resampling draws from a stream spawned from that one),
resampling its own population when its ESS/m falls below the threshold. Nothing couples the islands, so that their
estimates :math:`\hat Z_k` are independent and unbiased and, as for SMC islands
(:mod:`transportkit.sampling.islands`),

.. math:: \log\hat Z = \log\frac1K\sum_k\hat Z_k,\qquad
          \widehat{\mathrm{Var}}\,\log\hat Z = \frac{K/\mathrm{ESS}(\log\hat Z_{1..K}) - 1}{K - 1}

(delta method on the mean of K i.i.d. terms; Del Moral, Doucet & Jasra 2006, arXiv:cond-mat/0512119). The walkers
are the islands' walkers in island order with log-weights :math:`\ell_k + A^i`. On a compiling backend without a
client the K islands are one program mapped (``vmap``) over their streams (:func:`run_islands_whole`): the same
draws, the numbers to rounding.

**What travels to a worker**: the target and the path arguments (the path is rebuilt there on the worker's backend,
as the caller built it), the drift's coefficients (the least-squares models, the MLP parameters, the fitted times
and scales; rebuilt there with :func:`~transportkit.sampling.nets.drift.combined_drift`) or a user drift (pickled
by Dask's cloudpickle), and the seed. An island is a function of these alone, so running it here or on any worker
gives the same numbers (to the bit on NumPy). Warnings the islands raise (a flat target) are recorded there and
re-raised in the caller, once per kind and place (the first island's message). A failing island is retried by
Dask; one that still fails is a :class:`~transportkit._dask.TaskLostError` naming it.
"""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple

from ..._backend import Backend
from ..._dask import ClientLike, backend_spec, check_client, run_tasks, task_backend, task_generator, task_seeds
from ...numerics import logmeanexp
from .._common import Unfusable, make_path
from ..resampling import Resampler, auto_islands, finish_arrays, log_mean_var_array, resample_config, resample_init
from .drift import Field, TrainedDrift, combined_drift
from .simulate import Grid, compilable, first_flags, program, simulate, warn_if_flat

__all__ = [
    "IslandsResult",
    "NetsIslands",
    "check_client_islands",
    "drift_coefficients",
    "island_count",
    "island_task",
    "run_islands",
    "run_islands_whole",
]


class NetsIslands(NamedTuple):
    """What every island shares: the target and the path arguments (to rebuild the path on a worker), the walkers
    ``n`` and islands ``K``, the grid, the resampling method and threshold, the drift (``coeffs``: a trained drift's
    ``(models, net, times, scales)``, from which a worker rebuilds it; else None, and ``field``, None or a user drift,
    is shipped as is; in this process ``field`` is used either way), and whether the first batch of target values is
    checked for flatness."""

    target: Any
    path_kw: dict
    n: int
    K: int
    grid: Grid
    method: str
    threshold: float
    coeffs: tuple | None
    field: Field | None
    flat: bool


class IslandsResult(NamedTuple):
    """The combined islands: walkers, log-weights (relative to log Z0), log Z - log Z0 and its variance, the
    islands' log Z - log Z0, non-finite walkers met and resampling events (summed over islands)."""

    x: Any
    log_w: Any
    lz: float
    var: float
    lz_islands: list[float]
    lost: int
    events: int


def drift_coefficients(trained: TrainedDrift | None) -> tuple | None:
    """What a worker needs to rebuild a trained drift: ``(models, net, times, scales)`` (not its path, training
    record or cached closures); None without a trained drift."""
    if trained is None:
        return None
    return trained.models, trained.net, tuple(trained.times), tuple(trained.scales)


def island_count(n: int, resample: str | None, islands: int | None) -> int:
    """The number of islands of a final run (1 without resampling; ``islands`` or
    :func:`~transportkit.sampling.resampling.auto_islands` with it)."""
    if resample is None:
        return 1
    return auto_islands(n) if islands is None else int(islands)


def check_client_islands(where: str, client: Any, K: int) -> ClientLike | None:
    """``client`` checked (:func:`transportkit._dask.check_client`); a client needs resampling and K >= 2 islands."""
    client = check_client(where, client)
    if client is not None and K < 2:
        raise ValueError(f"{where}: client= runs islands as tasks: give resample=... and islands >= 2")
    return client


def _drift_for(job: NetsIslands, path: Any, local: bool) -> Field | None:
    """The island's drift: the caller's own object here (one compiled program for all islands on JAX); rebuilt
    from the trained coefficients along the worker's path on a worker."""
    if local or job.coeffs is None:
        return job.field
    models, net, times, scales = job.coeffs
    return combined_drift(models, net, list(times), path, scales)


def island_task(job: NetsIslands, seed: list[int], backend: Any, rng_on_host: bool, path: Any) -> tuple:
    """Island with seed ``seed``: ``(x, log_w, lz, lost, events, warnings)`` of a resampled NETS run of n/K walkers
    with the shared drift (a module-level function, so that Dask can ship it). ``path`` is the caller's bound path
    in this process, None on a worker (rebuilt from the target and the path arguments)."""
    be = task_backend(backend)
    gen = task_generator(seed, be, rng_on_host)
    (rgen,) = gen.spawn(1)
    local = path is not None
    pth = path if local else make_path(job.target, be, **job.path_kw)
    m = job.n // job.K
    rs = Resampler(job.method, m, 1, job.threshold, rgen, be.xp, be.dtype, be.device)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        traj = simulate(be, pth, m, job.grid, _drift_for(job, pth, local), gen, resampler=rs, flat=job.flat)
    lz, _, log_w, _ = rs.finish(traj.A)
    said = [(w.category, str(w.message), f"{w.filename}:{w.lineno}") for w in caught]
    if not local:
        return be.to_numpy(traj.x), be.to_numpy(log_w), lz, int(traj.lost), rs.events, said
    return traj.x, log_w, lz, int(traj.lost), rs.events, said


def run_islands(job: NetsIslands, be: Backend, gen: Any, path: Any, *, client: Any = None,
                progress: bool = False, seeds: list | None = None) -> IslandsResult:  # fmt: skip
    """Run the K islands (here, or on ``client``'s cluster) and combine them (module docstring); ``seeds``: the
    islands' seeds when the caller drew them (:func:`~transportkit._dask.task_seeds` of ``gen``)."""
    seeds = task_seeds(gen, job.K) if seeds is None else seeds
    spec, pth = (be, path) if client is None else (backend_spec(be), None)
    if client is not None and job.coeffs is not None:  # the drift travels as coefficients (its closure holds a device)
        job = job._replace(field=None)
    args = [(job, seeds[k], spec, gen.rng_on_host, pth) for k in range(job.K)]
    out = run_tasks("nets()", "island", island_task, args, client=client, progress=progress)
    seen: set = set()
    for o in out:
        for cat, msg, where in o[5]:  # once per kind and place of warning, with the first island's message
            if (cat, where) not in seen:
                seen.add((cat, where))
                warnings.warn(msg, cat, stacklevel=4)
    xp = be.xp
    x = xp.concat([be.asarray(o[0]) for o in out], axis=0)
    log_w = xp.concat([be.asarray(o[1]) for o in out], axis=0)
    return _combined(be, x, log_w, [float(o[2]) for o in out], sum(o[3] for o in out), sum(o[4] for o in out))


def _combined(be: Backend, x: Any, log_w: Any, lz_list: list[float], lost: int, events: int) -> IslandsResult:
    """The islands combined: log Z - log Z0 as the log-mean of theirs, its delta-method variance (module
    docstring)."""
    xp = be.xp
    lz_k = be.asarray(lz_list, dtype=log_w.dtype)
    lz, var = float(logmeanexp(lz_k, xp=xp)), float(log_mean_var_array(lz_k, xp))
    return IslandsResult(x, log_w, lz, var, lz_list, lost, events)


def run_islands_whole(job: NetsIslands, be: Backend, seeds: list, path: Any) -> IslandsResult:
    """The K islands of :func:`run_islands` (no client) as one compiled program mapped over the islands' streams:
    each island draws its walkers, evaluates and checks its first batch, runs its resampled steps and computes its
    estimate as :func:`island_task` does, from the same ``seeds`` (:func:`~transportkit._dask.task_seeds` of the run
    stream). Raises :class:`~transportkit.sampling._common.Unfusable` where that cannot be one program (the caller
    then runs the islands one by one)."""
    K, m, xp = job.K, job.n // job.K, be.xp
    gens = [task_generator(seed, be) for seed in seeds]
    rgens = [g.spawn(1)[0] for g in gens]
    drift = job.field
    if not (compilable(be, path, gens[0], drift, job.grid.weights == "fb") and path.density.bound):
        raise Unfusable
    cfg = resample_config(job.method, m, 1, job.threshold)
    body, consts, key = program(be, path, job.grid, drift, gens[0], cfg, rgens[0], str(be.dtype))
    steps, d = job.grid.steps, path.base.dim

    def island(state: Any, rstate: Any, cs: tuple) -> tuple:
        g = gens[0].from_state(state)
        x = path.sample0(m, g)
        parts = tuple(path.evaluate(x))
        if not path.shapes_ok(parts, m):
            raise Unfusable
        flags = first_flags(xp, path, parts)
        cs = (*cs[:4], g.loop_key(), cs[5], rgens[0].from_state(rstate).loop_key())
        A = xp.zeros((m,), dtype=x.dtype, device=be.device)
        lost = xp.zeros((), dtype=xp.int32, device=be.device)
        carry = (x, parts, A, lost, resample_init(cfg, xp, A.dtype, be.device))
        x, parts, A, lost, rs = be.fori_loop(0, steps, lambda k, c: body(k, c, cs), carry)
        lz, _, log_w, _ = finish_arrays(cfg, rs, A, xp)
        return x, log_w, lz, lost, rs.events, flags, parts

    def make() -> Any:
        return be.adapter.vmap()(island, in_axes=(0, 0, None))

    program_ = be.compiled(("nets.islands", key, K, m), make)
    try:
        x, log_w, lz, lost, events, flags, parts = program_(xp.stack([g.state() for g in gens]),
                                                            xp.stack([r.state() for r in rgens]), consts)  # fmt: skip
    except TypeError as e:  # a drift or target that JAX cannot trace
        raise Unfusable from e
    flags = be.to_numpy(flags)
    if flags[:, 0].any():  # a bad first batch: the islands one by one name the walker
        raise Unfusable
    if job.flat and flags[:, 1].any():
        k = int(flags[:, 1].argmax())
        warn_if_flat(path, tuple(p[k, ...] for p in parts))
    host = be.to_numpy(xp.stack([xp.astype(v, lz.dtype) for v in (lz, lost, events)]))
    return _combined(be, xp.reshape(x, (job.n, d)), xp.reshape(log_w, (job.n,)), [float(v) for v in host[0]],
                     int(host[1].sum()), int(host[2].sum()))  # fmt: skip
