"""The settings of a NETS run, as frozen dataclasses checked when they are built (before any target evaluation).

- :class:`RunSettings`: one sampling run with a given drift (time grid, diffusion, weight rule, resampling).
- :class:`TrainSettings`: the PINN training rounds that learn the drift (least squares and the optional MLP).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..._validation import as_bool, as_choice, as_count, as_real
from ..resampling import RESAMPLERS
from .features import check_features

__all__ = ["LEARNERS", "WEIGHT_RULES", "RunSettings", "TrainSettings"]

WEIGHT_RULES = ("auto", "fb", "riemann")
LEARNERS = ("linear", "mlp", "auto")


#: smallest positive diffusion: the forward/backward kernel ratio divides by 4 h eps, which must stay a normal
#: float in single precision too (below this, pass eps = 0 for deterministic transport)
EPS_MIN = 1e-12


def check_eps(name: str, eps: Any) -> float:
    """A diffusion coefficient: 0 (deterministic transport) or at least :data:`EPS_MIN`."""
    eps = as_real(name, eps, low=0.0)
    if 0 < eps < EPS_MIN:
        raise ValueError(f"{name} = {eps!r} is positive but below {EPS_MIN:g}: the Euler–Maruyama kernels' ratio "
                         f"divides by 4*h*{name}; pass {name}=0 for deterministic transport")
    return eps


def _as_tuple(name: str, v: Any) -> tuple:
    """``tuple(v)`` for a non-empty sequence of scalars (list, tuple, 1-D array), else a ``TypeError``/``ValueError``
    naming ``name``."""
    if isinstance(v, (str, bytes)):
        raise TypeError(f"{name} must be a sequence of numbers, got {v!r}")
    try:
        out = tuple(v.tolist() if hasattr(v, "tolist") else v)
    except TypeError:
        raise TypeError(f"{name} must be a sequence of numbers, got {v!r}") from None
    if not out:
        raise ValueError(f"{name} must be a non-empty sequence, got {v!r}")
    return out


@dataclasses.dataclass(frozen=True)
class RunSettings:
    """One NETS sampling run with a given drift.

    Parameters
    ----------
    steps : int
        number K of Euler–Maruyama steps on [0, 1].
    eps : float
        diffusion ε >= 0.
    weights : {"auto", "fb", "riemann"}
        the path-weight rule: forward/backward kernel ratio (exact; needs ε > 0), left-point Riemann sum of the
        continuity residual, or fb when ε > 0.
    resample : {None, "multinomial", "systematic", "stratified"}
        SMC-style resampling when ESS/n < ``ess_threshold``, over ``islands`` populations.
    ess_threshold : float
        in [0, 1].
    islands : int or None
        independent populations (a divisor of n; checked with n by :meth:`check_n`).
    return_works : bool
        keep the per-walker works (needs ``resample=None``).
    progress : bool
        show a progress bar.
    """

    steps: int = 100
    eps: float = 1.0
    weights: str = "auto"
    resample: str | None = None
    ess_threshold: float = 0.5
    islands: int | None = None
    return_works: bool = False
    progress: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", as_count("steps", self.steps, 1))
        object.__setattr__(self, "eps", check_eps("eps", self.eps))
        as_choice("weights", self.weights, WEIGHT_RULES)
        if self.weights == "fb" and self.eps == 0:
            raise ValueError("weights='fb' needs eps > 0; use weights='riemann' for eps = 0")
        if self.resample is not None:
            as_choice("resample", self.resample, RESAMPLERS)
        object.__setattr__(self, "ess_threshold", as_real("ess_threshold", self.ess_threshold, low=0.0, high=1.0))
        if self.islands is not None:
            object.__setattr__(self, "islands", as_count("islands", self.islands, 1))
            if self.resample is None and self.islands != 1:
                raise ValueError(f"islands = {self.islands!r} needs resampling (give resample=...)")
        object.__setattr__(self, "return_works", as_bool("return_works", self.return_works))
        object.__setattr__(self, "progress", as_bool("progress", self.progress))
        if self.return_works and self.resample is not None:
            raise ValueError("return_works needs resample=None: works of resampled walkers are not Jarzynski works")

    def rule(self, eps: float | None = None) -> str:
        """The weight rule used with diffusion ``eps`` (default: this run's)."""
        e = self.eps if eps is None else eps
        return ("fb" if e > 0 else "riemann") if self.weights == "auto" else self.weights

    def check_n(self, n: Any) -> int:
        """Checks that need the number of walkers; returns n as an int."""
        n = as_count("n", n, 2)
        if self.islands is not None and self.resample is not None and (n % self.islands or n // self.islands < 2):
            raise ValueError(f"islands must be a positive divisor of n = {n} with n/islands >= 2, got {self.islands!r}")
        return n


@dataclasses.dataclass(frozen=True)
class TrainSettings:
    """The PINN training of the NETS drift (see :func:`transportkit.sampling.nets.train`).

    Parameters
    ----------
    rounds : int
        refits; round r simulates ``n_train`` walkers with the drift of round r - 1 (round 0: b = 0).
    n_train : int or None
        walkers per training round (None: the caller's default).
    n_fit : int or None
        fitted time intervals (default min(steps, 20)), in [1, steps].
    eps_train : float or None
        diffusion of the training rounds (None: that of the run).
    features : str
        the linear-in-parameters families (:mod:`transportkit.sampling.nets.features`).
    n_centers, rbf_widths, n_sep, ridge
        RBF centers, RBF widths relative to the walkers' spread, separable bumps per coordinate, relative ridge.
    learner : {"linear", "mlp", "auto"}
        least squares only, plus the PINN-trained MLP (needs ``value_and_grad``), or mlp where available.
    hidden, n_time, train_steps, batch_size, lr, buffer_rounds
        the MLP, its Adam steps per round, batch size, learning rate and the rounds kept in its buffer.
    select_best : bool
        if the training ESS did not improve from round to round, keep the drift of the best round.
    """

    rounds: int = 2
    n_train: int | None = None
    n_fit: int | None = None
    eps_train: float | None = None
    features: str = "auto"
    n_centers: int = 100
    rbf_widths: tuple[float, ...] = (0.05, 0.15, 0.5)
    n_sep: int = 12
    ridge: float = 1e-3
    learner: str = "linear"
    hidden: tuple[int, ...] = (64, 64)
    n_time: int = 4
    train_steps: int = 1000
    batch_size: int = 1024
    lr: float = 2e-3
    buffer_rounds: int = 2
    select_best: bool = True

    def __post_init__(self) -> None:
        def put(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        put("rounds", as_count("rounds", self.rounds, 0))
        if self.n_train is not None:
            put("n_train", as_count("n_train", self.n_train, 2))
        if self.n_fit is not None:
            put("n_fit", as_count("n_fit", self.n_fit, 1))
        if self.eps_train is not None:
            put("eps_train", check_eps("eps_train", self.eps_train))
        check_features(self.features)
        put("n_centers", as_count("n_centers", self.n_centers, 1))
        widths = _as_tuple("rbf_widths", self.rbf_widths)
        put("rbf_widths", tuple(as_real("rbf_widths", w, low=0.0, low_open=True) for w in widths))
        put("n_sep", as_count("n_sep", self.n_sep, 2))
        put("ridge", as_real("ridge", self.ridge, low=0.0))
        as_choice("learner", self.learner, LEARNERS)
        put("hidden", tuple(as_count("hidden", h, 1) for h in _as_tuple("hidden", self.hidden)))
        put("n_time", as_count("n_time", self.n_time, 1))
        put("train_steps", as_count("train_steps", self.train_steps, 1))
        put("batch_size", as_count("batch_size", self.batch_size, 1))
        put("lr", as_real("lr", self.lr, low=0.0, low_open=True))
        put("buffer_rounds", as_count("buffer_rounds", self.buffer_rounds, 1))
        put("select_best", as_bool("select_best", self.select_best))

    def check_run(self, run: RunSettings) -> None:
        """Checks that need the run's settings."""
        if self.n_fit is not None and self.n_fit > run.steps:
            raise ValueError(f"n_fit must be in [1, steps], got {self.n_fit}")
        if run.weights == "fb" and self.eps_train == 0:
            raise ValueError("weights='fb' needs eps > 0; use weights='riemann' for eps = 0")

    def fit_knots(self, steps: int) -> list[int]:
        """The grid indices where the drift is fitted (``n_fit + 1`` of them, default n_fit = min(steps, 20))."""
        n_fit = min(steps, 20) if self.n_fit is None else int(self.n_fit)
        return sorted({round(j * steps / n_fit) for j in range(n_fit + 1)})
