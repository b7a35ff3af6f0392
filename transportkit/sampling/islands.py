r"""SMC islands: K independent SMC populations of m = n/K walkers, run in this process or as Dask tasks
(``client=``), and combined into one estimate. In this process they run one after another, or — fixed-grid runs on a
compiling backend — as one program mapped over the islands' streams (:func:`transportkit.sampling.ais_whole.
run_islands_whole`: the same draws, the numbers to rounding).

Island k runs the whole SMC of :mod:`transportkit.sampling.ais` on its m walkers (its own resampling, step-size
adaptation, preconditioning, adaptive moves and, with ``adaptive=True``, its own temperature grid) from its own
random stream (:func:`transportkit._dask.task_seeds`: the seed ``(124 bits drawn from the caller's stream, k)``).
Nothing couples the islands, so that their estimates :math:`\hat Z_k` are independent and unbiased and

.. math:: \log\hat Z = \log\frac1K\sum_k\hat Z_k,\qquad
          \widehat{\mathrm{Var}}\,\log\hat Z = \frac{K/\mathrm{ESS}(\log\hat Z_{1..K}) - 1}{K - 1}

(delta method on the mean of K i.i.d. terms; Del Moral, Doucet & Jasra 2006, arXiv:cond-mat/0512119, for the
unbiasedness of each :math:`\hat Z_k`). The walkers are the islands' walkers in island order, with log-weights
:math:`\ell_k + A^i` (island k's closed epochs' normalizers and its current log-weights), so that
``logmeanexp(log_weights) == log_Z``.

Because an island is a function of its seed alone, running it here or on any worker gives the same numbers (to the
bit on NumPy): ``client=`` changes where islands run, never the result. A failing island is retried by Dask and an
island that still fails is a :class:`~transportkit._dask.TaskLostError` naming it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

from .._dask import backend_spec, run_tasks, task_backend, task_generator, task_seeds
from ..numerics import ess as _ess
from ..numerics import logmeanexp
from .resampling import log_mean_var_array
from .results import AISInfo, Samples
from .weight_diagnostics import diagnose, pareto_k

__all__ = ["IslandRun", "combine", "combine_arrays", "island_task", "run_islands"]


class IslandRun(NamedTuple):
    """What every island shares: the caller's name for messages, the target, the total walkers ``n``, the number of
    islands ``K``, the keyword options of :func:`~transportkit.sampling.ais.ais` for one island (base fixed) and
    ``ais`` itself (passed in: that module imports this one)."""

    where: str
    target: Any
    n: int
    K: int
    options: dict
    ais: Callable


def island_task(run: IslandRun, seed: list[int], backend: Any, rng_on_host: bool, x0: Any) -> tuple:
    """Island with seed ``seed``: ``(x, log_weights, log_Z, info)`` of an SMC run of ``n/K`` walkers (a module-level
    function, so that Dask can ship it)."""
    be = task_backend(backend)
    gen = task_generator(seed, be, rng_on_host)
    x0 = None if x0 is None else be.asarray(x0)
    r = run.ais(run.target, run.n // run.K, islands=1, x0=x0, backend=be, rng=gen, _where=run.where, _island=True,
            **run.options)  # fmt: skip
    return r.x, r.log_weights, float(r.log_Z), r.info


def run_islands(run: IslandRun, x0: Any, be: Any, gen: Any, pilot: dict | None, *, client: Any = None,
                progress: bool = False, seeds: list | None = None) -> Samples:  # fmt: skip
    """Run the K islands (here, or on ``client``'s cluster) and combine them (module docstring); ``seeds``: the
    islands' seeds when the caller drew them (:func:`~transportkit._dask.task_seeds` of ``gen``)."""
    m = run.n // run.K
    seeds = task_seeds(gen, run.K) if seeds is None else seeds
    spec = be if client is None else backend_spec(be)
    blocks: list[Any] = [None] * run.K
    if x0 is not None:
        blocks = [x0[k * m : (k + 1) * m, :] for k in range(run.K)]
        if client is not None:
            blocks = [be.to_numpy(b) for b in blocks]
    args = [(run, seeds[k], spec, gen.rng_on_host, blocks[k]) for k in range(run.K)]
    out = run_tasks(run.where, "island", island_task, args, client=client, progress=progress)
    return combine(run, out, be, pilot)


def _mean_trace(traces: list[list[float]]) -> list[float]:
    """Elementwise mean of equally long traces; the first island's where the lengths differ (adaptive tempering)."""
    if len({len(t) for t in traces}) != 1:
        return list(traces[0])
    return [sum(v) / len(v) for v in zip(*traces, strict=True)]


def combine(run: IslandRun, out: list[tuple], be: Any, pilot: dict | None) -> Samples:
    """One :class:`~transportkit.sampling.results.Samples` from the islands' results, with the run's warnings."""
    xp = be.xp
    x = xp.concat([be.asarray(o[0]) for o in out], axis=0)
    log_w = xp.concat([be.asarray(o[1]) for o in out], axis=0)
    return combine_arrays(run, x, log_w, [o[2] for o in out], [o[3] for o in out], be, pilot)


def combine_arrays(
    run: IslandRun, x: Any, log_w: Any, lz_list: list[float], infos: list[AISInfo], be: Any, pilot: dict | None
) -> Samples:
    """:func:`combine` from the islands' walkers and log-weights in island order, their log Z and their infos."""
    xp = be.xp
    lz_k = be.asarray(lz_list, dtype=log_w.dtype)
    lz, var = float(logmeanexp(lz_k, xp=xp)), float(log_mean_var_array(lz_k, xp))
    ess = float(_ess(log_w, xp=xp))
    n, K = run.n, run.K
    moves = [i.n_moves or [] for i in infos]
    total = sum(sum(mv) for mv in moves)
    acc = sum(i.acceptance * sum(mv) for i, mv in zip(infos, moves, strict=True) if i.acceptance is not None)
    n_moves = [max(v) for v in zip(*moves, strict=False)] if len({len(mv) for mv in moves}) == 1 else moves[0]
    info = AISInfo(
        times=list(infos[0].times),
        ess_trace=_mean_trace([i.ess_trace for i in infos]),
        acceptance=acc / total if total else None,
        acceptance_trace=_mean_trace([i.acceptance_trace for i in infos]),
        step_size=sum(i.step_size for i in infos) / K,
        step_size_trace=_mean_trace([i.step_size_trace for i in infos]),
        n_resample=sum(i.n_resample for i in infos),
        steps=max(i.steps for i in infos),
        kernel=infos[0].kernel,
        ess_relative=ess / n,
        target_evaluations=sum(i.target_evaluations for i in infos) + (pilot or {}).get("target_evaluations", 0),
        islands=K,
        log_Z_islands=lz_list,
        n_moves=n_moves,
        n_nonfinite=sum(i.n_nonfinite for i in infos),
        pareto_k=pareto_k(be.to_numpy(log_w)),
        pilot=None if pilot is None else {"mean": pilot["mean"], "scale": pilot["scale"]},
        island_info=infos,
    )
    se = math.sqrt(var)
    diagnose(run.where, lz, se, lz_list, ess / n, n, info.pareto_k, info.n_nonfinite)
    return Samples(x=x, log_weights=log_w, log_Z=lz, log_Z_stderr=se, ess=ess, info=info, backend=be)
