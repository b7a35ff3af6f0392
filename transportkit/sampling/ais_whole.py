r"""AIS/SMC runs as one compiled program, and the host-side summary of every run.

On a compiling backend (JAX) a fixed-grid run from the base is one program: the base draws, the first evaluation,
the K annealing steps of :mod:`.ais_step` and the summary (log Z, its variance, the final log-weights, the ESS),
then one transfer of the per-step traces. SMC islands (independent populations; :mod:`.islands`) are the same
program mapped over the islands' random streams (``vmap``), so that K islands cost one dispatch, not K. The draws
are those of the step-by-step run: the same numbers up to floating-point rounding (XLA fuses the program
differently). The math is in :mod:`transportkit.sampling.ais`.
"""

from __future__ import annotations

import math
from typing import Any

from .._dask import task_generator
from ..numerics import ess as _ess
from ..numerics import logmeanexp
from ._common import Unfusable
from .ais_step import AISCarry, make_step, run_whole
from .islands import IslandRun, combine_arrays
from .kernels import init_state
from .options import SamplerOptions
from .resampling import ResampleConfig, ResampleState, finish_arrays, log_mean_var_array, resample_config, resample_init
from .results import AISInfo, Samples
from .weight_diagnostics import diagnose, pareto_k

__all__ = ["initial_carry", "result", "run_islands_whole", "run_whole_ais", "summary_arrays"]


def initial_carry(
    x: Any, parts: tuple, lp0: Any, g0: Any, h0: Any, cfg: ResampleConfig | None, be: Any, compiled: bool
) -> AISCarry:
    """The run's state at t = 0: the walkers with their step size ``h0``, zero log-weights, no resampling yet."""
    xp = be.xp
    mc = init_state(x, lp0, g0, parts, h0)
    A = xp.zeros((x.shape[0],), dtype=x.dtype, device=be.device)
    rs = None if cfg is None else resample_init(cfg, xp, A.dtype, be.device)
    return AISCarry(mc, A, rs, xp.zeros((), dtype=A.dtype, device=be.device) if compiled else 0.0)


def summary_arrays(cfg: ResampleConfig | None, rs: ResampleState | None, A: Any, xp: Any) -> tuple:
    """``(any NaN weight, log Z - log Z0, its variance, final log-weights, per-island log Z - log Z0, ESS,
    logmeanexp(A))`` as arrays (traceable)."""
    if cfg is None:
        lz, var, log_w, lz_k = logmeanexp(A, xp=xp), log_mean_var_array(A, xp), A, None
    else:
        lz, var, log_w, lz_k = finish_arrays(cfg, rs, A, xp)
    return xp.any(xp.isnan(A)), lz, var, log_w, lz_k, _ess(log_w, xp=xp), logmeanexp(A, xp=xp)


def _nan_error(i: int) -> ValueError:
    return ValueError(f"a log-weight became NaN (walker {i}): the target's log_prob returned NaN during the run")


def ais_info(
    rows: list, k: int, cfg: ResampleConfig | None, opts: SamplerOptions, n: int, step_size: float, n_resample: int,
    ess_final: float, lme_final: float, islands_lz: list[float] | None, k_hat: float, works: Any, pilot: dict | None,
) -> AISInfo:  # fmt: skip
    """The :class:`~.results.AISInfo` of a run from its per-step ``rows`` (host lists: t, ESS/n, resampling event,
    logmeanexp before resampling, acceptance, step size, moves, non-finite values) and final host numbers."""
    ts, ess_t, events, lmes, accs, hs, moves, nfs = rows
    moves = [int(m) for m in moves]
    total_moves = sum(moves)
    acc = sum(a * m for a, m in zip(accs, moves, strict=True)) / total_moves if total_moves else None
    epochs = None
    if cfg is not None and cfg.K == 1:
        epochs = [float(v) for v, e in zip(lmes, events, strict=True) if e] + [lme_final]
    return AISInfo(
        times=[0.0, *(float(t) for t in ts)],
        ess_trace=[float(v) for v in ess_t],
        acceptance=acc,
        acceptance_trace=[float(a) for a in accs],
        step_size=step_size,
        step_size_trace=[float(v) for v in hs],
        n_resample=n_resample,
        steps=k,
        kernel=opts.kernel,
        ess_relative=ess_final / n,
        target_evaluations=n * (1 + total_moves * opts.evals_per_step()) + (pilot or {}).get("target_evaluations", 0),
        islands=None if cfg is None else cfg.K,
        log_Z_epochs=epochs,
        log_Z_islands=islands_lz,
        works=works,
        n_moves=moves,
        n_nonfinite=int(sum(nfs)),
        pareto_k=k_hat,
        pilot=None if pilot is None else {"mean": pilot["mean"], "scale": pilot["scale"]},
    )


def result(
    carry: AISCarry, ys: Any, k: int, cfg: ResampleConfig | None, pth: Any, opts: SamplerOptions, be: Any, n: int,
    return_works: bool, compiled: bool, where: str, pilot: dict[str, Any] | None = None, island: bool = False,
    summary: tuple | None = None,
) -> Samples:  # fmt: skip
    """Host-side summary after the loop: the estimate, its standard error, the typed info and the diagnostics
    (``summary``: :func:`summary_arrays` when the run computed them; ``ys`` a tuple of per-step arrays, or one
    stacked array)."""
    xp, A = be.xp, carry.A

    def summarize(rs: ResampleState | None, a: Any) -> tuple:
        return summary_arrays(cfg, rs, a, xp)

    if summary is None:
        run = be.compiled(("ais-summary", cfg), lambda: summarize) if compiled else summarize
        summary = run(carry.rs, A)
    nan, lz_a, var_a, log_w, lz_k, ess_a, lme_a = summary
    if bool(nan):
        raise _nan_error(int(xp.argmax(xp.astype(xp.isnan(A), xp.int32))))
    rows = [be.to_numpy(y).tolist() for y in ys] if isinstance(ys, tuple) else be.to_numpy(ys).tolist()
    lz, var, ess_final = float(lz_a), float(var_a), float(ess_a)
    islands_lz = None
    if cfg is not None and cfg.K > 1:
        islands_lz = [v + pth.log_Z0 for v in be.to_numpy(lz_k).tolist()]
    k_hat = math.nan if island else pareto_k(be.to_numpy(A))
    info = ais_info(rows, k, cfg, opts, n, float(carry.mc.step_size), 0 if cfg is None else int(carry.rs.events),
                    ess_final, float(lme_a), islands_lz, k_hat, -A if return_works else None, pilot)  # fmt: skip
    se = math.sqrt(var)
    if not island:  # an island's diagnostics are those of the combined run (transportkit.sampling.islands)
        diagnose(where, lz + pth.log_Z0, se, islands_lz, ess_final / n, n, k_hat, info.n_nonfinite)
    return Samples(
        x=carry.mc.x, log_weights=log_w + pth.log_Z0, log_Z=lz + pth.log_Z0, log_Z_stderr=se,
        ess=ess_final, info=info, backend=be,
    )  # fmt: skip


def _program_parts(pth: Any, cfg: ResampleConfig | None, be: Any, m: int) -> tuple:
    """``start`` and ``summarize`` of :func:`~.ais_step.run_whole` for populations of ``m`` walkers."""
    xp = be.xp

    def start(g: Any, h0: Any) -> tuple:
        x = pth.sample0(m, g)
        parts = pth.evaluate(x)
        if not pth.shapes_ok(parts, m):
            raise Unfusable
        carry = initial_carry(x, parts, pth.log_prob(0.0, parts), pth.grad(0.0, parts), h0, cfg, be, True)
        return carry, (x, parts, pth.any_bad(parts))

    def summarize(carry: AISCarry) -> tuple:
        return summary_arrays(cfg, carry.rs, carry.A, xp)

    return start, summarize


def run_whole_ais(
    step: Any, pth: Any, opts: SamplerOptions, cfg: ResampleConfig | None, gen: Any, be: Any, n: int, steps: int,
    key: tuple, scale: float, return_works: bool, where: str, pilot: dict | None, island: bool,
) -> Samples:  # fmt: skip
    """A fixed-grid run from the base as one compiled program (:func:`~.ais_step.run_whole`). A target whose values
    have the wrong shapes raises :class:`~._common.Unfusable` while tracing; one with NaN/+inf at the initial walkers
    is checked eagerly after, which raises naming the walker."""
    start, summarize = _program_parts(pth, cfg, be, n)
    d = pth.base.dim
    h0 = opts.initial_step_size(scale, d)  # a Python float: an argument of the program, not a constant
    carry, ys, summary, (x, parts, bad) = run_whole(step, start, summarize, n, steps, be, gen,
                                                   (key, cfg, d, return_works), be.dtype, h0)  # fmt: skip
    if bool(bad):
        pth.check(x, parts)
    return result(carry, ys, steps, cfg, pth, opts, be, n, return_works, True, where, pilot, island, summary)


def run_islands_whole(
    run: IslandRun, pth: Any, opts: SamplerOptions, cfg: ResampleConfig, gen: Any, be: Any, steps: int,
    key: tuple, scale: float, pilot: dict | None, seeds: list,
) -> Samples:  # fmt: skip
    """The K islands of ``cfg`` as one compiled program mapped over their streams: each island is the fixed-grid
    run :func:`~.islands.island_task` would make from its seed (``seeds``: :func:`~transportkit._dask.task_seeds` of
    ``gen``, as :func:`~.islands.run_islands` draws them), combined as there."""
    K, m, xp = run.K, run.n // run.K, be.xp
    states = [task_generator(seed, be).state() for seed in seeds]
    icfg = resample_config(cfg.method, m, 1, cfg.threshold)
    step = make_step(pth, opts, icfg, gen, be, True)
    start, summarize = _program_parts(pth, icfg, be, m)
    d = pth.base.dim
    h0 = opts.initial_step_size(scale, d)
    carry, ys, summary, (x, parts, bad) = run_whole(step, start, summarize, m, steps, be, gen,
                                                   (key, icfg, d), be.dtype, h0, states=states)  # fmt: skip
    if bool(xp.any(bad)):
        k = int(xp.argmax(xp.astype(bad, xp.int32)))
        pth.check(x[k, ...], tuple(p[k, ...] for p in parts))
    nan, lz_a, _, log_w, _, ess_a, lme_a = summary
    if bool(xp.any(nan)):
        raise _nan_error(int(xp.argmax(xp.astype(xp.isnan(xp.reshape(carry.A, (-1,))), xp.int32))))
    host = be.to_numpy(xp.stack([lz_a, ess_a, lme_a, carry.mc.step_size, xp.astype(carry.rs.events, lz_a.dtype)]))
    rows = be.to_numpy(ys).tolist()
    lz_list, infos = [], []
    for k in range(K):
        lz_k, ess_k, lme_k, h_k, ev_k = (float(v) for v in host[:, k])
        lz_list.append(lz_k + pth.log_Z0)
        infos.append(ais_info(rows[k], steps, icfg, opts, m, h_k, int(ev_k), ess_k, lme_k, None, math.nan, None,
                              None))  # fmt: skip
    x_all = xp.reshape(carry.mc.x, (run.n, d))
    return combine_arrays(run, x_all, xp.reshape(log_w, (run.n,)) + pth.log_Z0, lz_list, infos, be, pilot)
