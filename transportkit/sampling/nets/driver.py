"""NETS end to end (Albergo & Vanden-Eijnden, "NETS: A Non-Equilibrium Transport Sampler", 2024,
arXiv:2410.02711): :func:`train` learns a drift by PINN rounds, :func:`sample_with_drift` runs the sampler with a
given drift, :func:`nets` does both.

Randomness: one stream per purpose. The seed's own stream drives the final run (initial walkers and noise); two
children spawned from it drive the training rounds (their walkers, RBF centers, the MLP) and the resampling, so
that the final run's noise does not depend on ``rounds``, ``n_train`` or the other training settings, and
``nets(..., seed=s)`` equals ``sample_with_drift(..., train(..., seed=s), seed=s)``.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from typing import Any

from ..._backend import Backend, resolve_backend
from ...numerics import ess as _ess
from ...random import Generator, default_rng
from .._common import make_path
from ..resampling import Resampler, final_estimate, make_resampler
from ..results import Samples
from .drift import Field, TrainedDrift, as_field, combined_drift
from .features import make_families
from .mlp_drift import init_net, mlp_scales, pinn_data, train_mlp
from .pinn import fit_drift_model, interpolated_drift
from .settings import RunSettings, TrainSettings
from .simulate import Grid, simulate

__all__ = ["Setup", "Streams", "run_sampler", "run_training", "sample_with_drift", "setup", "streams", "train"]


@dataclasses.dataclass(frozen=True)
class Streams:
    """The random streams of one NETS call: ``run`` (final run), ``train`` (training rounds), ``resample``."""

    run: Generator
    train: Generator
    resample: Generator


def streams(seed: Any, be: Backend) -> Streams:
    """The seed's stream for the final run and two spawned children for training and resampling."""
    gen = default_rng(seed, be)
    train_gen, resample_gen = gen.spawn(2)
    return Streams(gen, train_gen, resample_gen)


@dataclasses.dataclass(frozen=True)
class Setup:
    """What a call resolves once, at entry: backend, path, streams and (for a sampling run) the resampler."""

    be: Backend
    path: Any
    streams: Streams
    resampler: Resampler | None = None


def setup(
    target: Any,
    path_kw: dict[str, Any],
    backend: Any,
    device: Any,
    dtype: Any,
    seed: Any,
    *,
    run: RunSettings | None = None,
    n: int | None = None,
    learner: str | None = None,
) -> Setup:
    """Resolve the backend, bind the path, spawn the streams and build the resampler, evaluating nothing."""
    be = resolve_backend(backend=backend, device=device, dtype=dtype)
    if learner == "mlp":
        be.require("value_and_grad")
    pth = make_path(target, be, **path_kw)
    st = streams(seed, be)
    rs = None
    if run is not None and n is not None:
        rs = make_resampler(run.resample, n, run.islands, run.ess_threshold, st.resample, be.xp, be.dtype, be.device)
    return Setup(be, pth, st, rs)


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
    """``tr.rounds`` PINN rounds (see :func:`train`) on the setup's training stream."""
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
        ess_seq = [e for e, _ in st.tried]
        improving = all(b >= a for a, b in itertools.pairwise(ess_seq))
        chosen = tr.rounds
        if tr.select_best and not improving:  # a refit made things worse: keep the best drift tried
            chosen = max(range(len(st.tried)), key=lambda i: ess_seq[i])
            st.models, st.net = st.tried[chosen][1]
    return TrainedDrift(st.models, st.net, tuple(times), st.scales, s.path, st.rounds, chosen, st.mlp, st.evals)


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
    st.rounds.append({"log_Z": lz, "log_Z_stderr": se, "ess": e, "n": n_train})
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
    s: Setup, n: int, run: RunSettings, field: Field | None, trained: TrainedDrift | None, train_evals: int
) -> Samples:
    """The final run with drift ``field`` on the setup's run stream, and its estimates."""
    be, pth, xp, K = s.be, s.path, s.be.xp, run.steps
    rs = s.resampler
    traj = simulate(be, pth, n, Grid(K, run.eps, run.rule()), field, s.streams.run, resampler=rs, progress=run.progress)
    lz, var, log_w, _ = final_estimate(rs, traj.A, xp)
    lz, se, e = lz + pth.log_Z0, math.sqrt(var), float(_ess(log_w, xp=xp))
    if math.isnan(lz):
        raise ValueError("NETS log-weights are NaN: the target's log_prob returned NaN during the run")
    if lz == -math.inf:
        raise RuntimeError(
            "every NETS walker was lost (non-finite position or log-weight): the drift or the step diverged; "
            "use more steps, a smaller eps, or select_best=True so that a harmful learned drift is not used"
        )
    models = None if trained is None else trained.models
    info: dict[str, Any] = {
        "rounds": [] if trained is None else trained.rounds,
        "eps": run.eps,
        "weights": run.rule(),
        "steps": K,
        "ess_relative": e / n,
        "target_evaluations": train_evals + n * (K + 1),
        "models": models,
        "chosen_round": None if trained is None else trained.chosen_round,
        "mlp": {} if trained is None else trained.mlp,
        "n_resample": 0 if rs is None else rs.events,
        "islands": 1 if rs is None else rs.K,
    }
    if trained is not None and models is not None:
        info["log_Z_pinn"] = trained.log_Z_pinn
        info["fit_times"] = list(trained.times)
    if run.return_works:
        info["works"] = -traj.A
    return Samples(x=traj.x, log_weights=log_w + pth.log_Z0, log_Z=lz, log_Z_stderr=se, ess=e, info=info)


def _check_drift(drift: Any) -> None:
    if drift is not None and not callable(drift):
        raise TypeError("drift must be a callable drift(t, x) -> (b, div_b) or a TrainedDrift")


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
    seed: Any = None,
    progress: bool = False,
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
    backend, device, dtype, seed, progress
        as in :func:`nets`; the rounds draw from the stream spawned for training from ``seed``.
    **options
        the fields of :class:`~transportkit.sampling.nets.settings.TrainSettings` (``rounds``, ``n_fit``,
        ``features``, ``learner``, ...; ``eps_train`` is ``eps`` here).

    Returns
    -------
    TrainedDrift
        the drift (``drift(t, x) -> (b, div b)``), for :func:`sample_with_drift` or ``nets(drift=...)``.
    """
    if "eps_train" in options:
        raise TypeError("train() takes the training diffusion as eps=")
    tr = TrainSettings(n_train=n_train, **options)
    run = RunSettings(steps=steps, eps=eps, weights=weights, progress=progress)
    tr.check_run(run)
    path_kw = dict(path=path, base=base, base_mean=base_mean, base_scale=base_scale, schedule=schedule)
    s = setup(target, path_kw, backend, device, dtype, seed, learner=_learner(tr))
    return run_training(s, tr, run, int(n_train), progress)


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
    seed: Any = None,
    progress: bool = False,
) -> Samples:
    """Run the NETS sampler with a given drift: ``None`` (b = 0, annealed Langevin with exact path weights), a
    :class:`TrainedDrift` from :func:`train` (on the same path), or ``drift(t, x) -> (b, div b)``.

    On JAX, with the default geometric path, no resampling, and b = 0 or a drift that accepts t as a 0-d array,
    the whole run is one compiled program; a drift that cannot be traced runs in a Python loop instead.

    Parameters
    ----------
    target, n
        the target and the number of walkers.
    drift : None, TrainedDrift or callable
        the drift.
    steps, eps, weights, resample, ess_threshold, islands, return_works
        see :class:`~transportkit.sampling.nets.settings.RunSettings`.
    path, base, base_mean, base_scale, schedule, backend, device, dtype, seed, progress
        as in :func:`nets`.

    Returns
    -------
    Samples
        as :func:`nets` (``info["target_evaluations"]`` counts this run only).
    """
    run = RunSettings(steps, eps, weights, resample, ess_threshold, islands, return_works, progress)
    run.check_n(n)
    _check_drift(drift)
    path_kw = dict(path=path, base=base, base_mean=base_mean, base_scale=base_scale, schedule=schedule)
    s = setup(target, path_kw, backend, device, dtype, seed, run=run, n=int(n))
    trained = drift if isinstance(drift, TrainedDrift) else None
    return run_sampler(s, int(n), run, as_field(drift), trained, 0)


def _learner(tr: TrainSettings) -> str | None:
    """ "mlp" when the settings need autodiff for sure (checked at entry), else None."""
    return "mlp" if tr.learner == "mlp" else None
