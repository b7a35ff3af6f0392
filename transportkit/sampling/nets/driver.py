"""NETS end to end (Albergo & Vanden-Eijnden, "NETS: A Non-Equilibrium Transport Sampler", 2024,
arXiv:2410.02711): :func:`train` learns a drift by PINN rounds, :func:`sample_with_drift` runs the sampler with a
given drift, :func:`nets` does both.

Randomness (``rng=``, SciPy SPEC 7; ``seed=`` is its deprecated alias): one stream per purpose. The stream of
``rng`` drives the final run (initial walkers and noise); two children spawned from it drive the training rounds
(their walkers, RBF centers, the MLP, the scoring run) and the resampling, so that the final run's noise does not
depend on ``rounds``, ``n_train`` or the other training settings, and ``nets(..., rng=s)`` equals
``sample_with_drift(..., train(..., rng=s), rng=s)`` for an int ``s``.

Honest results (docs/reliability.md): every learned drift is scored on fresh walkers against the drifts tried
before it (b = 0 first) and a drift that loses is not used silently (:class:`~transportkit.errors.ConvergenceWarning`);
a final population whose ESS collapsed warns (:class:`~transportkit.errors.DegenerateWeightsWarning`); a step
``eps / steps`` that is unstable on the Gaussian base is refused at entry; a user drift is probed once and the
shapes it returns are checked.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from typing import Any

from ..._dask import task_seeds
from ..._validation import check_options
from ...errors import ConvergenceWarning, DegenerateWeightsWarning, NonFiniteWarning
from ...numerics import ess as _ess
from ...random import SEED_DEPRECATED
from .._common import Unfusable
from ..resampling import final_estimate, final_summary
from ..results import Samples
from .drift import Field, TrainedDrift, as_field, combined_drift
from .entry import CallOptions, Setup, Streams, _learner, check_sampling_call, setup, streams
from .features import make_families
from .islands import NetsIslands, drift_coefficients, run_islands, run_islands_whole
from .mlp_drift import init_net, mlp_scales, pinn_data, train_mlp
from .pinn import fit_drift_model, interpolated_drift
from .settings import RunSettings, TrainSettings
from .simulate import Grid, simulate

__all__ = [
    "DEGENERATE_ESS_MIN",
    "LOSS_MARGIN",
    "Setup",
    "Streams",
    "run_sampler",
    "run_training",
    "sample_with_drift",
    "setup",
    "streams",
    "train",
]

#: a final population whose ESS is below this many walkers (or below n/2 when n < 20) has collapsed onto a few
#: walkers: its log Z and the delta-method stderr rest on them alone and the stderr is itself unreliable
#: (:class:`~transportkit.errors.DegenerateWeightsWarning`). An absolute count, not a fraction of n: the delta-method
#: stderr is about 1/sqrt(ESS), trustworthy or not according to ESS itself.
DEGENERATE_ESS_MIN = 10.0
#: a learned drift "loses" when its ESS on fresh walkers is below this fraction of the best ESS of the drifts tried
#: before it (b = 0 included): closer scores are within the sampling noise of the ESS, and the last drift is kept
LOSS_MARGIN = 0.9


# ------------------------------------------------------------------------------------------------- training
@dataclasses.dataclass
class _Training:
    """Mutable state across training rounds."""

    models: list | None = None
    net: dict[str, Any] | None = None
    scales: tuple[float, float] = (1.0, 1.0)
    buffer: list = dataclasses.field(default_factory=list)
    rounds: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    tried: list[tuple[float, tuple[Any, Any]]] = dataclasses.field(default_factory=list)
    mlp: dict[str, Any] = dataclasses.field(default_factory=dict)
    evals: int = 0


def _summary(A: Any, log_Z0: float, xp: Any) -> tuple[float, float, float]:
    lz, var, _, _ = final_estimate(None, A, xp)
    return lz + log_Z0, math.sqrt(var), float(_ess(A, xp=xp))


def run_training(s: Setup, tr: TrainSettings, run: RunSettings, n_train: int, progress: bool) -> TrainedDrift:
    """``tr.rounds`` PINN rounds (see :func:`train`) on the setup's training stream, then a scoring run.

    Round r simulates ``n_train`` fresh walkers with the drift of round r - 1 (round 0: b = 0) and refits; the
    drift of the last round is then simulated once more on fresh walkers without a refit, so that every learned
    drift has an ESS measured on walkers it was not fitted on, comparable with that of b = 0 (round 0). The drift
    used is the last one unless it scored an ESS below :data:`LOSS_MARGIN` times that of an earlier one: then
    (``select_best``) the best drift is used, and a :class:`~transportkit.errors.ConvergenceWarning` says so (also
    when ``select_best=False`` keeps the losing drift)."""
    K = run.steps
    eps = run.eps if tr.eps_train is None else tr.eps_train
    grid = Grid(K, eps, run.rule(eps))
    knots = tr.fit_knots(K)
    times = [k / K for k in knots]
    use_mlp = tr.learner == "mlp" or (tr.learner == "auto" and s.be.value_and_grad is not None)
    st = _Training()
    for r in range(tr.rounds):
        _round(s, tr, grid, r, st, knots, times, use_mlp, n_train, progress)
    chosen = None
    if tr.rounds:
        chosen = tr.rounds
        if st.models is not None or st.net is not None:  # a drift was learned: score it on fresh walkers
            _score(s, grid, st, times, n_train, progress, tr.rounds)
        else:  # nothing learned (features="none", linear learner): b = 0, as in round 0
            st.tried.append(st.tried[0])
            st.rounds.append({**st.rounds[0], "fitted": False})
        chosen = _choose(st, tr.select_best, n_train)
        st.models, st.net = st.tried[chosen][1]
    return TrainedDrift(st.models, st.net, tuple(times), st.scales, s.path, st.rounds, chosen, st.mlp, st.evals)


def _score(s: Setup, grid: Grid, st: _Training, times: list[float], n_train: int, progress: bool, r: int) -> None:
    """Simulate ``n_train`` fresh walkers with the last learned drift (no refit) and record its ESS."""
    cur = combined_drift(st.models, st.net, times, s.path, st.scales)
    traj = simulate(s.be, s.path, n_train, grid, cur, s.streams.train, check=False, progress=progress,
                    desc=f"nets score {r}")
    st.evals += n_train * (grid.steps + 1)
    lz, se, e = _summary(traj.A, s.path.log_Z0, s.be.xp)
    st.rounds.append({"log_Z": lz, "log_Z_stderr": se, "ess": e, "n": n_train, "fitted": False})
    st.tried.append((e, (st.models, st.net)))


def _describe(r: int) -> str:
    return "b = 0 (round 0)" if r == 0 else f"the drift of round {r}"


def _choose(st: _Training, select_best: bool, n_train: int) -> int:
    """The index of the drift to use: the last unless an earlier one scored an ESS higher by more than the noise
    margin (the last's ESS below :data:`LOSS_MARGIN` times the best's); then warn."""
    ess_seq = [e if math.isfinite(e) else -math.inf for e, _ in st.tried]
    last = len(ess_seq) - 1
    best = max(range(len(ess_seq)), key=lambda i: ess_seq[i])  # the first of ties
    same = all(a is b for a, b in zip(st.tried[best][1], st.tried[last][1], strict=True))
    if ess_seq[last] >= LOSS_MARGIN * ess_seq[best] or same:
        return last
    msg = (
        f"NETS: the learned drift (round {last}) scored ESS {ess_seq[last]:.4g} of {n_train} fresh walkers, below "
        f"{_describe(best)} (ESS {ess_seq[best]:.4g})"
    )
    if select_best:
        warnings.warn(f"{msg}; using {_describe(best)} instead (info['chosen_round'] = {best}). More training walkers "
                      "(n_train), other features or more rounds may help.", ConvergenceWarning, stacklevel=4)
        return best
    warnings.warn(f"{msg}; using it anyway because select_best=False", ConvergenceWarning, stacklevel=4)
    return last


def _round(
    s: Setup,
    tr: TrainSettings,
    grid: Grid,
    r: int,
    st: _Training,
    knots: list[int],
    times: list[float],
    use_mlp: bool,
    n_train: int,
    progress: bool,
) -> None:
    """Simulate the training walkers with the current drift, then refit the least squares and the MLP."""
    be, pth, gen, xp, K = s.be, s.path, s.streams.train, s.be.xp, grid.steps
    cur = combined_drift(st.models, st.net, times, pth, st.scales)
    desc = f"nets round {r}"
    traj = simulate(be, pth, n_train, grid, cur, gen, check=r == 0, keep=True, progress=progress, desc=desc)
    st.evals += n_train * (K + 1)
    lz, se, e = _summary(traj.A, pth.log_Z0, xp)
    st.rounds.append({"log_Z": lz, "log_Z_stderr": se, "ess": e, "n": n_train, "fitted": True})
    st.tried.append((e, (st.models, st.net)))
    st.models = None
    if tr.features != "none":
        st.models = []
        for k in knots:
            xk = traj.kept[k][0]
            fams = make_families(tr.features, xk, gen, xp, tr.n_centers, tr.rbf_widths, tr.n_sep)
            st.models.append(fit_drift_model(pth, min(k / K, 1.0), xk, fams, tr.ridge, xp))
    if use_mlp:
        lin = None if st.models is None else interpolated_drift(st.models, times, pth)
        keep = tr.buffer_rounds
        st.buffer = [*st.buffer[-(keep - 1) * (K + 1) :], *traj.kept] if keep > 1 else list(traj.kept)
        data = pinn_data(st.buffer, K, lin, pth, xp)
        if st.net is None:
            st.scales = mlp_scales(data)
            st.net = init_net(data, tr.hidden, tr.n_time, gen, be, K)
        st.net, hist = train_mlp(
            be, st.net, data, st.scales, steps=tr.train_steps, batch=tr.batch_size, lr=tr.lr, gen=gen
        )
        st.mlp.setdefault("loss_history", []).append(hist)


# ------------------------------------------------------------------------------------------------- sampling
def run_sampler(
    s: Setup,
    n: int,
    run: RunSettings,
    field: Field | None,
    trained: TrainedDrift | None,
    train_evals: int,
    client: Any = None,
) -> Samples:
    """The final run with drift ``field`` on the setup's run stream, and its estimates: one population, or, with
    resampling over K >= 2 islands, K independent island runs here or on ``client``'s cluster
    (:mod:`transportkit.sampling.nets.islands`)."""
    be, pth, xp, K = s.be, s.path, s.be.xp, run.steps
    rs = s.resampler
    grid = Grid(K, run.eps, run.rule())
    lz_islands = None
    if rs is not None and rs.K > 1:
        coeffs = drift_coefficients(trained)
        job = NetsIslands(s.target, s.path_kw or {}, n, rs.K, grid, rs.method, rs.threshold, coeffs, field,
                          train_evals == 0)  # fmt: skip
        isl, seeds = None, task_seeds(s.streams.run, rs.K)
        if client is None and not run.progress:  # one program for all islands where the backend compiles
            try:
                isl = run_islands_whole(job, be, seeds, pth)
            except Unfusable:
                pass  # island by island, from the same seeds
        if isl is None:
            isl = run_islands(job, be, s.streams.run, pth, client=client, progress=run.progress, seeds=seeds)
        x, log_w, lz, var, lost, events = isl.x, isl.log_w, isl.lz, isl.var, isl.lost, isl.events
        lz_islands = [v + pth.log_Z0 for v in isl.lz_islands]
        works = None
    else:
        traj = simulate(be, pth, n, grid, field, s.streams.run, resampler=rs, progress=run.progress,
                        flat=train_evals == 0)  # fmt: skip
        lz, var, log_w, _, e = final_summary(rs, traj.A, be)
        x, lost, events, works = traj.x, int(traj.lost), 0 if rs is None else rs.events, -traj.A
    if lz_islands is not None:
        e = float(_ess(log_w, xp=xp))
    lz, se = lz + pth.log_Z0, math.sqrt(var)
    if math.isnan(lz):
        raise ValueError("NETS log-weights are NaN: the target's log_prob returned NaN during the run")
    if lz == -math.inf:
        raise RuntimeError(
            "every NETS walker was lost (non-finite position or log-weight): the drift or the step diverged; "
            "use more steps, a smaller eps, or select_best=True so that a harmful learned drift is not used"
        )
    if lost:
        warnings.warn(
            f"NETS: {lost} walker(s) met a NaN or +inf log-weight during the run (a non-finite position or target "
            "value) and were given weight 0 (info['nonfinite_walkers']); if the target is finite where it is "
            "defined, the step diverged: use more steps or a smaller eps",
            NonFiniteWarning,
            stacklevel=3,
        )
    degenerate = is_degenerate(e, n)
    if degenerate:
        warnings.warn(
            f"NETS weights collapsed: ESS {e:.3g} of n = {n} walkers (ESS/n = {e / n:.2g}); log Z = {lz:.6g} and its "
            "stderr rest on a few walkers and cannot be trusted. Use more steps, a smaller eps, a better drift "
            "(more rounds or n_train), resampling, or a base closer to the target.",
            DegenerateWeightsWarning,
            stacklevel=3,
        )
    models = None if trained is None else trained.models
    info: dict[str, Any] = {
        "rounds": [] if trained is None else trained.rounds,
        "eps": run.eps,
        "weights": run.rule(),
        "steps": K,
        "ess_relative": e / n,
        "degenerate": degenerate,
        "nonfinite_walkers": lost,
        "target_evaluations": train_evals + n * (K + 1),
        "models": models,
        "chosen_round": None if trained is None else trained.chosen_round,
        "mlp": {} if trained is None else trained.mlp,
        "n_resample": events,
        "islands": 1 if rs is None else rs.K,
    }
    if lz_islands is not None:
        info["log_Z_islands"] = lz_islands
    if trained is not None and models is not None:
        info["log_Z_pinn"] = trained.log_Z_pinn
        info["fit_times"] = list(trained.times)
    if run.return_works:
        info["works"] = works
    return Samples(x=x, log_weights=log_w + pth.log_Z0, log_Z=lz, log_Z_stderr=se, ess=e, info=info)


def is_degenerate(ess: float, n: int) -> bool:
    """Whether a population of n walkers with effective size ``ess`` has collapsed (see :data:`DEGENERATE_ESS_MIN`);
    a NaN ESS (no weight left) counts as collapsed."""
    return not ess >= min(DEGENERATE_ESS_MIN, n / 2)


def train(
    target: Any,
    *,
    n_train: int = 2000,
    steps: int = 100,
    eps: float = 1.0,
    weights: str = "auto",
    path: Any = None,
    base: Any = None,
    base_mean: Any = 0.0,
    base_scale: float | None = None,
    schedule: Any = None,
    backend: Any = None,
    device: Any = None,
    dtype: Any = None,
    rng: Any = None,
    progress: bool = False,
    seed: Any = SEED_DEPRECATED,
    **options: Any,
) -> TrainedDrift:
    """Learn the NETS drift along the path to ``target`` by PINN rounds (no final run).

    Parameters
    ----------
    target : object
        an object with ``log_prob`` (and ``grad_log_prob``) or a pair of callables.
    n_train : int
        walkers per training round.
    steps, eps, weights
        the grid, diffusion and weight rule of the training runs (see :func:`nets`).
    path, base, base_mean, base_scale, schedule
        the path from the base to the target (see :func:`nets`).
    backend, device, dtype, rng, progress
        as in :func:`nets`; the rounds draw from the stream spawned for training from ``rng`` (``seed=``: deprecated
        alias of ``rng=``).
    **options
        the fields of :class:`~transportkit.sampling.nets.settings.TrainSettings` (``rounds``, ``n_fit``,
        ``features``, ``learner``, ...; ``eps_train`` is ``eps`` here).

    Returns
    -------
    TrainedDrift
        the drift (``drift(t, x) -> (b, div b)``), for :func:`sample_with_drift` or ``nets(drift=...)``;
        ``chosen_round`` is the drift used after scoring (see :func:`run_training`).

    Warns
    -----
    ConvergenceWarning
        the last learned drift scored a lower ESS on fresh walkers than an earlier drift (b = 0 included).
    """
    if "eps_train" in options:
        raise TypeError("train() takes the training diffusion as eps=")
    check_options("train()", options, [f.name for f in dataclasses.fields(TrainSettings) if f.name != "n_train"])
    tr = TrainSettings(n_train=n_train, **options)
    run = RunSettings(steps=steps, eps=eps, weights=weights, progress=progress)
    tr.check_run(run)
    call = CallOptions(backend=backend, device=device, dtype=dtype, rng=rng, seed=seed, path=path, base=base,
                       base_mean=base_mean, base_scale=base_scale, schedule=schedule)  # fmt: skip
    be, gen = call.resolve()
    s = setup(target, call.path_kw, be, gen, run=run, learner=_learner(tr), eps_checked=(("eps", run.eps),))
    return run_training(s, tr, run, tr.n_train, run.progress)


def sample_with_drift(
    target: Any,
    n: int,
    drift: Any = None,
    *,
    steps: int = 100,
    eps: float = 1.0,
    weights: str = "auto",
    resample: str | None = None,
    ess_threshold: float = 0.5,
    islands: int | None = None,
    return_works: bool = False,
    path: Any = None,
    base: Any = None,
    base_mean: Any = 0.0,
    base_scale: float | None = None,
    schedule: Any = None,
    backend: Any = None,
    device: Any = None,
    dtype: Any = None,
    rng: Any = None,
    progress: bool = False,
    client: Any = None,
    seed: Any = SEED_DEPRECATED,
) -> Samples:
    """Run the NETS sampler with a given drift: ``None`` (b = 0, annealed Langevin with exact path weights), a
    :class:`TrainedDrift` from :func:`train` (on the same path), or ``drift(t, x) -> (b, div b)``.

    On JAX, with the default geometric path and b = 0 or a drift that accepts t as a 0-d array, the whole run
    (resampling included) is one compiled program; a drift that cannot be traced runs in a Python loop instead.

    Parameters
    ----------
    target, n
        the target and the number of walkers.
    drift : None, TrainedDrift or callable
        the drift; a callable is probed once at entry (t = 0, two walkers at the base mean) and must return a pair
        ``(b, div_b)`` of shapes (n, d) and (n,) (or a scalar divergence).
    steps, eps, weights, resample, ess_threshold, islands, return_works
        see :class:`~transportkit.sampling.nets.settings.RunSettings`.
    path, base, base_mean, base_scale, schedule, backend, device, dtype, rng, progress
        as in :func:`nets` (``seed=``: deprecated alias of ``rng=``).
    client : dask.distributed.Client, optional
        run the islands as Dask tasks, as in :func:`nets`.

    Returns
    -------
    Samples
        as :func:`nets` (``info["target_evaluations"]`` counts this run only).

    Warns
    -----
    DegenerateWeightsWarning
        the final weights collapsed (ESS below 10 walkers, or below n/2 for n < 20).
    """
    run = RunSettings(steps, eps, weights, resample, ess_threshold, islands, return_works, progress)
    n, client = check_sampling_call("sample_with_drift()", n, run, client, drift)
    call = CallOptions(backend=backend, device=device, dtype=dtype, rng=rng, seed=seed, path=path, base=base,
                       base_mean=base_mean, base_scale=base_scale, schedule=schedule)  # fmt: skip
    be, gen = call.resolve()
    s = setup(target, call.path_kw, be, gen, run=run, n=n, eps_checked=(("eps", run.eps),), drift=drift)
    trained = drift if isinstance(drift, TrainedDrift) else None
    return run_sampler(s, n, run, as_field(drift), trained, 0, client)


