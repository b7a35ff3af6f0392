""":func:`nets`: train a drift by PINN rounds, then sample with it (Albergo & Vanden-Eijnden, "NETS: A
Non-Equilibrium Transport Sampler", 2024, arXiv:2410.02711). Every argument is checked here, before the first
target evaluation."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..._capabilities import declare
from ...random import SEED_DEPRECATED
from ..results import Samples
from .drift import TrainedDrift, as_field
from .driver import run_sampler, run_training
from .entry import CallOptions, _learner, check_sampling_call, setup
from .settings import RunSettings, TrainSettings

__all__ = ["nets"]


@declare(uses=("value_and_grad",), name="tk.sample(method='nets')")
def nets(
    target: Any,
    n: int,
    *,
    steps: int = 100,
    eps: float = 1.0,
    eps_train: float | None = None,
    rounds: int = 2,
    n_train: int | None = None,
    n_fit: int | None = None,
    features: str = "auto",
    n_centers: int = 100,
    rbf_widths: Sequence[float] = (0.05, 0.15, 0.5),
    n_sep: int = 12,
    ridge: float = 1e-3,
    drift: Callable | TrainedDrift | None = None,
    learner: str = "linear",
    hidden: Sequence[int] = (64, 64),
    n_time: int = 4,
    train_steps: int = 1000,
    batch_size: int = 1024,
    lr: float = 2e-3,
    buffer_rounds: int = 2,
    select_best: bool = True,
    resample: str | None = None,
    ess_threshold: float = 0.5,
    islands: int | None = None,
    weights: str = "auto",
    path: Any = None,
    base: Any = None,
    base_mean: Any = 0.0,
    base_scale: float | None = None,
    schedule: Any = None,
    return_works: bool = False,
    backend: Any = None,
    device: Any = None,
    dtype: Any = None,
    rng: Any = None,
    progress: bool = False,
    client: Any = None,
    seed: Any = SEED_DEPRECATED,
) -> Samples:
    r"""Sample ``target`` and estimate its log Z with NETS (see :mod:`transportkit.sampling.nets` for the
    equations): :func:`~transportkit.sampling.nets.train` then
    :func:`~transportkit.sampling.nets.sample_with_drift`, on one stream per purpose.

    Parameters
    ----------
    target : object
        an object with ``log_prob`` (and ``grad_log_prob``, or autodiff on torch/jax) or a pair of callables.
    n : int
        number of walkers of the final run (>= 2).
    steps : int
        number K of Euler–Maruyama steps on [0, 1].
    eps : float
        diffusion ε of the final sampling run (tunable after training); ``eps_train`` that of the
        training rounds (default ``eps``).
    eps_train : float or None
        see ``eps``.
    n_train : int or None
        walkers per training round (default min(n, 2000)).
    n_fit : int or None
        number of fitted time intervals (default min(steps, 20)): the drift is fitted at
        ``n_fit + 1`` grid times and interpolated linearly in t in between.
    rounds : int
        PINN refits (round r simulates ``n_train`` walkers with the drift of round r-1; round 0 has
        b = 0). ``rounds=0`` gives annealed Langevin dynamics with exact path weights.
    features, n_centers, rbf_widths, n_sep, ridge
        the linear-in-parameters drift model (:mod:`transportkit.sampling.nets.features`) and its relative
        ridge (``G + ridge * diag(G)``).
    select_best : bool
        if the training ESS did not improve from round to round, use the drift (b = 0 included)
        of the round with the highest training ESS instead of the last fit (``info["chosen_round"]``: the
        index r of the drift used, the drift of round r being the fit on the walkers of round r - 1).
    drift : callable, TrainedDrift or None
        a fixed drift ``drift(t, x) -> (b, div_b)`` or a :class:`~transportkit.sampling.nets.TrainedDrift`
        (then no training).
    learner : {"linear", "mlp", "auto"}
        ``"linear"`` (least squares only, any backend), ``"mlp"`` (plus the PINN-trained MLP; needs
        ``value_and_grad``, else :class:`~transportkit.CapabilityError`) or ``"auto"`` (mlp where available).
    hidden, n_time, train_steps, batch_size, lr, buffer_rounds
        the MLP (hidden widths, number of time
        frequencies), Adam steps per round, batch size, learning rate, and how many rounds of walkers the
        off-policy buffer keeps.
    resample, ess_threshold, islands
        SMC-style resampling of the final run (``None``: none), over ``islands`` independent populations
        (their spread gives the standard error; default
        :func:`~transportkit.sampling.resampling.auto_islands`: up to 10 of at least 100 walkers).
    weights : {"auto", "fb", "riemann"}
        ``"fb"`` (exact; needs ε > 0), ``"riemann"``, or ``"auto"`` (fb if ε > 0).
    path, base, base_mean, base_scale, schedule
        the path: ``path`` (an object with ``log_prob(t, x)``, ``grad_log_prob(t, x)``, ``dt_log_prob(t, x)``,
        ``sample0(n, gen)``, ``log_Z0``), else geometric from ``base`` (default N(base_mean, base_scale^2 I)) with
        the schedule ``(lam, dlam)``.
    return_works : bool
        put the per-walker works :math:`W^i = -A^i` in ``info["works"]``.
    backend, device, dtype, rng, progress
        backend resolution, the random stream (SciPy SPEC 7: None for fresh entropy, an int, a
        ``numpy.random.Generator`` or a :class:`transportkit.random.Generator`; ``seed=`` is its deprecated
        alias), and a progress bar.
    client : dask.distributed.Client, optional
        run the final run's ``islands`` (``resample=...`` with K >= 2 islands) as Dask tasks on its cluster, retried
        on failure; training stays in this process and the trained drift's coefficients travel to the workers. The
        result is the one this process computes with the same ``rng`` (bit-identical on NumPy): with K >= 2 islands
        the final run is K independent runs in either case (:mod:`transportkit.sampling.nets.islands`,
        docs/scaling.md).

    Returns
    -------
    Samples
        ``log_weights`` = A + log Z0 (so that ``logmeanexp(log_weights) == log_Z``), ``info`` holding
        ``log_Z_pinn``, ``rounds`` (per-round log Z, stderr, ESS of the training walkers), ``models`` (the fitted
        drift per grid time), ``chosen_round``, ``n_resample``, ``islands``, ``target_evaluations`` and
        ``degenerate`` (the final ESS collapsed). ``info["rounds"]`` has ``rounds + 1`` entries: entry r is the run
        of ``n_train`` fresh walkers with the drift of round r (0: b = 0; the last one, ``fitted=False``, scores the
        last fit without refitting).

    Raises
    ------
    TypeError, ValueError
        for a bad argument, before any target evaluation (each message names the argument); ``ValueError`` also
        when ``eps / steps`` is unstable on the Gaussian base (h·ε ≥ 2σ²) and when a user drift returns the wrong
        shapes on its probe call.

    Warns
    -----
    ConvergenceWarning
        the last learned drift scored a lower ESS on fresh walkers than an earlier drift (b = 0 included): the
        best one is used (``select_best=True``) or the losing one is used as asked.
    DegenerateWeightsWarning
        the final population collapsed (ESS below 10 walkers, or below n/2 for n < 20): log Z and its stderr
        rest on a few walkers.
    TransportkitWarning
        the target's log-density is constant (zero gradient) on every initial walker: an improper target?
    """
    run = RunSettings(steps, eps, weights, resample, ess_threshold, islands, return_works, progress)
    n, client = check_sampling_call("nets()", n, run, client, drift)
    tr = TrainSettings(
        rounds, n_train, n_fit, eps_train, features, n_centers, rbf_widths, n_sep, ridge, learner, hidden, n_time,
        train_steps, batch_size, lr, buffer_rounds, select_best,
    )  # fmt: skip
    tr.check_run(run)
    call = CallOptions(backend=backend, device=device, dtype=dtype, rng=rng, seed=seed, path=path, base=base,
                       base_mean=base_mean, base_scale=base_scale, schedule=schedule)  # fmt: skip
    be, gen = call.resolve()
    checked = [("eps", run.eps)]
    if drift is None and tr.rounds and tr.eps_train is not None:
        checked.append(("eps_train", tr.eps_train))
    s = setup(
        target, call.path_kw, be, gen, run=run, n=n, learner=None if drift is not None else _learner(tr),
        eps_checked=tuple(checked), drift=drift,
    )  # fmt: skip
    if drift is not None:
        trained = drift if isinstance(drift, TrainedDrift) else None
        return run_sampler(s, n, run, as_field(drift), trained, 0, client)
    n_tr = min(n, 2000) if tr.n_train is None else tr.n_train
    trained = run_training(s, tr, run, n_tr, run.progress)
    return run_sampler(s, n, run, trained.field, trained, trained.target_evaluations, client)
