r"""Experiments on mean-field training: loss curves, steps to a loss, the scaling exponent of the long-time
error in ``n``, and fluctuations across seeds (dynamical CLT), after Rotskoff & Vanden-Eijnden, "Trainability and
accuracy of artificial neural networks: an interacting particle system approach", Comm. Pure Appl. Math. 2022
(arXiv:1805.00915).

- :func:`fit_power_law`: least squares of :math:`\log e = \log C - a\log n` (returns ``a`` and its standard error).
- :func:`scaling_exponent`: trains widths ``ns`` for several seeds, averages the final loss over seeds and fits
  :math:`\bar\ell(T; n) \approx C n^{-a}` (the mean-field prediction is :math:`a = 1`).
- :func:`fluctuations`: trains ``n_seeds`` independent networks of width ``n`` and returns, at each recorded
  time, the across-seed mean and variance of the loss and of :math:`f_n(x)` at probe points, and the
  CLT-rescaled variance :math:`n\,\mathrm{Var}[f_n(x)]`, which the dynamical CLT predicts to stay bounded.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any

from .._backend import resolve_backend
from .._capabilities import declare
from .._results import Result
from .._validation import as_count, as_points
from .dynamics import _STEPS_ALIAS, Trajectory, _steps, train
from .problems import Problem

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "Fluctuations",
    "PowerLawFit",
    "ScalingResult",
    "demo",
    "fit_power_law",
    "fluctuations",
    "plot_losses",
    "scaling_exponent",
    "steps_to_reach",
]


def steps_to_reach(loss: Any, level: float) -> int:
    """The first index ``k`` with ``loss[k] <= level``, or ``-1`` if the curve never gets there."""
    be = resolve_backend(loss)
    xp = be.xp
    loss = be.asarray(loss)
    if loss.ndim != 1:
        raise ValueError(f"loss must be 1-D, got shape {loss.shape}")
    hit = loss <= level
    if not bool(xp.any(hit)):
        return -1
    return int(xp.argmax(xp.astype(hit, xp.int32)))


@dataclasses.dataclass
class PowerLawFit(Result):
    """:math:`e \\approx C n^{-a}`: exponent ``a``, its standard error ``a_stderr`` and ``log_C``."""

    a: float
    a_stderr: float
    log_C: float


def fit_power_law(n: Any, err: Any) -> PowerLawFit:
    """Fit :math:`\\log e = \\log C - a \\log n` by least squares; ``a_stderr`` from the residuals."""
    be = resolve_backend(n, err)
    xp = be.xp
    x, y = xp.log(be.asarray(n, be.dtype)), be.asarray(err)
    if x.ndim != 1 or y.shape != x.shape or x.shape[0] < 2:
        raise ValueError(f"need 1-D n and err of the same length >= 2; got {x.shape}, {y.shape}")
    if not bool(xp.all(y > 0)):
        raise ValueError("err must be positive to fit a power law")
    y = xp.log(y)
    xm, ym = xp.mean(x), xp.mean(y)
    sxx = xp.sum((x - xm) ** 2)
    slope = xp.sum((x - xm) * (y - ym)) / sxx
    res = y - ym - slope * (x - xm)
    k = x.shape[0]
    se = math.sqrt(float(xp.sum(res * res)) / max(k - 2, 1) / float(sxx)) if k > 2 else float("nan")
    return PowerLawFit(-float(slope), se, float(ym - slope * xm), backend=be)


@dataclasses.dataclass
class ScalingResult(Result):
    """Final losses ``errors[s, j]`` (seed ``s``, width ``ns[j]``), their seed mean ``mean_error`` and the
    power-law ``fit`` of the mean: :math:`\\bar\\ell \\approx C n^{-a}`."""

    ns: Any
    errors: Any
    mean_error: Any
    fit: PowerLawFit


def scaling_exponent(problem: Problem, ns: Any = (32, 64, 128, 256, 512, 1024), *, seeds: Any = range(4),
                     dt: float = 0.1, steps: int = 1000, birth_death: float = 0.0,
                     batch_size: int | None = None, loss: str = "train",
                     n_steps: Any = _STEPS_ALIAS) -> ScalingResult:
    """Train each width in ``ns`` from each seed, take the final loss (``loss="train"``, or ``"test"`` on the
    problem's test set) and fit the exponent ``a`` of :math:`\\bar\\ell(T) \\approx C n^{-a}`. ``seeds``: the
    ``rng`` of each run (ints or generators); ``n_steps=`` is a deprecated alias of ``steps=``."""
    n_steps = as_count("steps", _steps(steps, n_steps), low=0)
    ns = [as_count("ns[i]", v) for v in ns]
    seeds = list(seeds)
    if len(ns) < 2 or min(ns) < 1 or not seeds:
        raise ValueError(f"need at least two widths >= 1 and one seed; got ns={ns}, seeds={seeds}")
    if loss not in ("train", "test"):
        raise ValueError(f"loss must be 'train' or 'test', got {loss!r}")
    be = problem.backend
    xp = be.xp
    rows = []
    for s in seeds:
        row = []
        for n in ns:
            tr = train(problem, n, dt=dt, steps=n_steps, birth_death=birth_death, batch_size=batch_size,
                       rng=s, record_every=max(n_steps, 1))
            p = tr.particles
            row.append(tr.loss[-1] if loss == "train" else problem.test_loss(p.c, p.w))
        rows.append(xp.stack(row))
    errors = xp.stack(rows)
    mean = xp.mean(errors, axis=0)
    return ScalingResult(be.asarray(ns, be.dtype), errors, mean, fit_power_law(be.asarray(ns, be.dtype), mean),
                         backend=be)


@dataclasses.dataclass
class Fluctuations(Result):
    """Across ``n_seeds`` runs of width ``n``: at each of the ``times`` (``(K,)``), the ``loss_mean`` and
    ``loss_var`` (``(K,)``), and at the probe points the mean ``f_mean`` and variance ``f_var`` of
    :math:`f_n(x)` (``(K, P)``), with the CLT scaling ``n_var = n * f_var``; ``losses`` holds every run ``(S, K)``."""

    times: Any
    losses: Any
    loss_mean: Any
    loss_var: Any
    f_mean: Any
    f_var: Any
    n_var: Any
    n: int


@declare(uses=("jit",))
def fluctuations(problem: Problem, n: int, X_probe: Any, *, seeds: Any = range(8), dt: float = 0.1,
                 steps: int = 500, record_every: int = 50, birth_death: float = 0.0,
                 batch_size: int | None = None, regime: str = "feature", l2: float = 0.0,
                 n_steps: Any = _STEPS_ALIAS) -> Fluctuations:
    """Fluctuations of :math:`f_n` across independent initializations (the dynamical CLT of Rotskoff &
    Vanden-Eijnden, arXiv:1805.00915): :math:`\\sqrt n(f_n - E f_n)` should have a variance that stays bounded in
    time. ``seeds``: the ``rng`` of each run (ints or generators); ``regime`` and ``l2`` as in
    :func:`~.dynamics.train`; ``n_steps=`` is a deprecated alias of ``steps=``."""
    n_steps = _steps(steps, n_steps)
    n = as_count("n", n)
    seeds = list(seeds)
    if len(seeds) < 2:
        raise ValueError(f"fluctuations need at least 2 seeds, got {len(seeds)}")
    be = problem.backend
    xp = be.xp
    Xp = as_points("X_probe", X_probe, be, ndim=2, dim=problem.d)
    losses, fs, times = [], [], None
    for s in seeds:
        tr = train(problem, n, dt=dt, steps=n_steps, birth_death=birth_death, batch_size=batch_size,
                   rng=s, record_every=record_every, record_particles=True, regime=regime, l2=l2)
        times = tr.times
        losses.append(tr.loss)
        scale = 1.0 / math.sqrt(n) if regime == "lazy" else 1.0 / n
        fs.append(xp.stack([problem.unit.features(Xp, p.w, xp) @ p.c * scale for p in tr.snapshots]))
    L, Fv = xp.stack(losses), xp.stack(fs)  # (S, K), (S, K, P)
    S = len(seeds)
    f_mean = xp.mean(Fv, axis=0)
    f_var = xp.sum((Fv - f_mean) ** 2, axis=0) / (S - 1)
    return Fluctuations(times, L, xp.mean(L, axis=0), xp.var(L, axis=0, correction=1), f_mean, f_var,
                        int(n) * f_var, int(n), backend=be)


def plot_losses(curves: dict, path: str | None = None, *, title: str = "mean-field training") -> Figure:
    """Plot ``{label: Trajectory or (times, loss)}`` on log axes (matplotlib imported lazily); save to
    ``path`` when given. Returns the matplotlib figure: a :class:`matplotlib.figure.Figure` drawn without pyplot, so
    the user's matplotlib backend is left alone (and no figure is registered with pyplot)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 3.5))
    ax = fig.add_subplot()
    for label, cur in curves.items():
        if hasattr(cur, "times"):
            be = cur.backend
            t, loss = be.to_numpy(cur.times), be.to_numpy(cur.loss)
        else:
            t, loss = cur
        ax.semilogy(t, loss, label=label)
    ax.set_xlabel("time (rescaled)")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig


def three_spin_runs(*, small: bool = False) -> dict[str, Trajectory]:
    """The demo's two runs on the 3-spin problem (d = 6, 128 particles, dt = 0.5, alpha = 1): gradient flow with
    and without birth–death from the same initial particles, as ``{label: Trajectory}``. ``small=True``: a shorter
    run (for tests)."""
    from .problems import three_spin

    n, steps, every = (64, 20, 5) if small else (128, 120, 20)
    P = three_spin(d=6, n_data=500 if small else 1000, rng=0)
    p0 = P.init_particles(n, rng=1)
    kw = {"dt": 0.5, "steps": steps, "rng": 2, "record_every": every}
    return {"gradient flow": train(P, p0, **kw), "birth-death + GF": train(P, p0, birth_death=1.0, **kw)}


def print_runs(runs: dict[str, Trajectory], say: Any = print) -> None:
    """Print the two runs of :func:`three_spin_runs` as a table of loss against time."""
    say("mean-field training, 3-spin model on the sphere (d = 6, dt = 0.5, alpha = 1):")
    say(f"  {'time':>6} {'gradient flow':>15} {'birth-death':>15}")
    gf, bd = runs["gradient flow"].to_numpy(), runs["birth-death + GF"].to_numpy()
    for t, a, b in zip(gf.times, gf.loss, bd.loss, strict=True):
        say(f"  {float(t):6.1f} {float(a):15.4f} {float(b):15.4f}")


def demo(path: str | None = None, *, small: bool = False) -> None:
    """Loss vs time on the 3-spin problem (d = 6) with and without birth–death, printed as a table; with
    ``path`` (and matplotlib installed) also written as a PNG. ``small=True``: a shorter run (for tests)."""
    runs = three_spin_runs(small=small)
    print_runs(runs)
    if path is not None:
        try:
            plot_losses(runs, path, title="3-spin (d=6): loss vs time")
            print(f"wrote {path}")
        except ImportError:
            print("matplotlib is not installed: no picture")
