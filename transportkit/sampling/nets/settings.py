"""The settings of a NETS run, as frozen dataclasses checked when they are built (before any target evaluation).

- :class:`RunSettings`: one sampling run with a given drift (time grid, diffusion, weight rule, resampling).
- :class:`TrainSettings`: the PINN training rounds that learn the drift (least squares and the optional MLP).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from ..resampling import RESAMPLERS
from .features import check_features

__all__ = ["LEARNERS", "WEIGHT_RULES", "RunSettings", "TrainSettings"]

WEIGHT_RULES = ("auto", "fb", "riemann")
LEARNERS = ("linear", "mlp", "auto")


def _is_int(v: Any) -> bool:
    return (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer())


def _is_real(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _as_tuple(v: Any) -> tuple | None:
    """``tuple(v)`` for a sequence of scalars (list, tuple, 1-D array), else None."""
    if isinstance(v, (str, bytes)):
        return None
    try:
        return tuple(v.tolist() if hasattr(v, "tolist") else v)
    except TypeError:
        return None


def check_int(name: str, v: Any, low: int) -> None:
    """``ValueError`` unless ``v`` is an integer >= ``low``."""
    if not (_is_int(v) and v >= low):
        raise ValueError(f"{name} must be an integer >= {low}, got {v!r}")


def check_number(name: str, v: Any, low: float, *, strict: bool = False, high: float = math.inf) -> None:
    """``ValueError`` unless ``v`` is a finite real number in [low, high] (``(low, high]`` with ``strict``)."""
    ok = _is_real(v) and math.isfinite(v)
    if not (ok and (v > low if strict else v >= low) and v <= high):
        side = ">" if strict else ">="
        bound = "" if high == math.inf else f" and <= {high}"
        raise ValueError(f"{name} must be a finite number {side} {low}{bound}, got {v!r}")


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
        check_int("steps", self.steps, 1)
        object.__setattr__(self, "steps", int(self.steps))
        check_number("eps", self.eps, 0.0)
        if self.weights not in WEIGHT_RULES:
            raise ValueError(f"weights must be 'auto', 'fb' or 'riemann', got {self.weights!r}")
        if self.weights == "fb" and self.eps == 0:
            raise ValueError("weights='fb' needs eps > 0; use weights='riemann' for eps = 0")
        if self.resample is not None and self.resample not in RESAMPLERS:
            raise ValueError(f"unknown resampling method {self.resample!r}; choose one of {RESAMPLERS} or None")
        check_number("ess_threshold", self.ess_threshold, 0.0, high=1.0)
        if self.islands is not None and self.resample is None and self.islands != 1:
            raise ValueError(f"islands = {self.islands!r} needs resampling (give resample=...)")
        if self.islands is not None:
            check_int("islands", self.islands, 1)
        if self.return_works and self.resample is not None:
            raise ValueError("return_works needs resample=None: works of resampled walkers are not Jarzynski works")

    def rule(self, eps: float | None = None) -> str:
        """The weight rule used with diffusion ``eps`` (default: this run's)."""
        e = self.eps if eps is None else eps
        return ("fb" if e > 0 else "riemann") if self.weights == "auto" else self.weights

    def check_n(self, n: Any) -> None:
        """Checks that need the number of walkers."""
        check_int("n", n, 2)
        if self.islands is not None and self.resample is not None and (n % self.islands or n // self.islands < 2):
            raise ValueError(f"islands must be a positive divisor of n = {n} with n/islands >= 2, got {self.islands!r}")


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
        check_int("rounds", self.rounds, 0)
        if self.n_train is not None:
            check_int("n_train", self.n_train, 2)
        if self.n_fit is not None:
            check_int("n_fit", self.n_fit, 1)
        if self.eps_train is not None:
            check_number("eps_train", self.eps_train, 0.0)
        check_features(self.features)
        check_int("n_centers", self.n_centers, 1)
        widths = _as_tuple(self.rbf_widths)
        if not widths or not all(_is_real(w) and math.isfinite(w) and w > 0 for w in widths):
            raise ValueError(f"rbf_widths must be a non-empty sequence of positive numbers, got {self.rbf_widths!r}")
        object.__setattr__(self, "rbf_widths", tuple(float(w) for w in widths))
        check_int("n_sep", self.n_sep, 2)
        if not (_is_real(self.ridge) and self.ridge >= 0 and math.isfinite(self.ridge)):
            raise ValueError(f"ridge must be >= 0, got {self.ridge}")
        if self.learner not in LEARNERS:
            raise ValueError(f"learner must be 'linear', 'mlp' or 'auto', got {self.learner!r}")
        hidden = _as_tuple(self.hidden)
        if not hidden or not all(_is_int(h) and h >= 1 for h in hidden):
            raise ValueError(f"hidden must be a non-empty sequence of positive integers, got {self.hidden!r}")
        object.__setattr__(self, "hidden", tuple(int(h) for h in hidden))
        check_int("n_time", self.n_time, 1)
        check_int("train_steps", self.train_steps, 1)
        check_int("batch_size", self.batch_size, 1)
        check_number("lr", self.lr, 0.0, strict=True)
        check_int("buffer_rounds", self.buffer_rounds, 1)

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
