"""Result types of the free-energy estimators and the warning they issue when their own diagnostics say the number
cannot be trusted.

Every estimator returns a :class:`FreeEnergyEstimate` (a :class:`transportkit.Estimate` with ``value`` and
``stderr``) whose ``diagnostics`` is a typed object, one class per estimator. The diagnostics also read like the
dicts of earlier versions (``est.diagnostics["ess"]``, ``"overlap" in est.diagnostics``, ``dict(est.diagnostics)``).
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Iterator
from typing import Any

from array_api_compat import array_namespace

from .._results import Estimate, Result
from .._typing import Array
from ..errors import (
    ConvergenceWarning,
    DegenerateWeightsWarning,
    OverlapWarning,
    TransportkitWarning,
    UncertaintyWarning,
)

__all__ = [
    "ESS_WARNING",
    "Array",
    "BarDiagnostics",
    "Diagnostics",
    "EscortedDiagnostics",
    "ExpDiagnostics",
    "FreeEnergyConvergenceWarning",
    "FreeEnergyDegenerateWeightsWarning",
    "FreeEnergyEstimate",
    "FreeEnergyOverlapWarning",
    "FreeEnergyUncertaintyWarning",
    "FreeEnergyWarning",
    "GaussDiagnostics",
    "MbarDiagnostics",
    "WorkBounds",
]


#: default threshold of the Kish effective sample size below which a FreeEnergyWarning is issued
ESS_WARNING = 10.0


class FreeEnergyWarning(TransportkitWarning):
    """The estimate is dominated by a few samples (small effective sample size or overlap), or a solver
    stopped before its tolerance: the value and its standard error are not reliable. The estimators warn with
    one of its subclasses, each also a member of the shared family of :mod:`transportkit.errors`."""


class FreeEnergyDegenerateWeightsWarning(FreeEnergyWarning, DegenerateWeightsWarning):
    """The estimate rests on a few samples (Kish effective sample size below the threshold)."""


class FreeEnergyOverlapWarning(FreeEnergyWarning, OverlapWarning):
    """The two (or K) ensembles barely overlap: fewer samples than the threshold lie in the overlap region
    (overlap scalar x N), so the free-energy difference is not determined by the data."""


class FreeEnergyUncertaintyWarning(FreeEnergyWarning, UncertaintyWarning):
    """The standard error cannot be computed or trusted (one sample; a negative squared uncertainty)."""


class FreeEnergyConvergenceWarning(FreeEnergyWarning, ConvergenceWarning):
    """An iterative solver (BAR, MBAR) stopped before its tolerance."""


@dataclasses.dataclass
class Diagnostics(Result):
    """Base of the typed diagnostics: plain fields, also readable by name as in a dict (``d["ess"]``)."""

    def keys(self) -> tuple[str, ...]:
        """The names of the fields (the keys of the dict that earlier versions returned)."""
        return tuple(f.name for f in dataclasses.fields(self) if f.name != "backend")

    def __getitem__(self, key: str) -> Any:
        if key not in self.keys():
            raise KeyError(key)
        return getattr(self, key)

    def __contains__(self, key: object) -> bool:
        return key in self.keys()

    def get(self, key: str, default: Any = None) -> Any:
        """``self[key]`` if ``key`` is a field, else ``default``."""
        return self[key] if key in self else default

    def items(self) -> Iterator[tuple[str, Any]]:
        """``(name, value)`` for every field."""
        return ((k, self[k]) for k in self.keys())


@dataclasses.dataclass
class ExpDiagnostics(Diagnostics):
    """Of :func:`~transportkit.free_energy.exp`: Kish ``ess`` of the weights :math:`e^{-W}`, the number ``n`` of
    works, and the delta-method ``stderr_asymptotic`` (the ``stderr`` unless a bootstrap replaced it)."""

    ess: Array
    n: int
    stderr_asymptotic: Array


@dataclasses.dataclass
class GaussDiagnostics(Diagnostics):
    """Of :func:`~transportkit.free_energy.exp_gauss`: the number ``n`` of works."""

    n: int


@dataclasses.dataclass
class BarDiagnostics(Diagnostics):
    """Of :func:`~transportkit.free_energy.bar`: MBAR ``overlap`` of the two states (in [0, 1]), Kish ESS of the EXP
    weights (``ess_forward``, ``ess_reverse``) and of the Fermi weights of the BAR equation (``ess_bar_forward``,
    ``ess_bar_reverse``), Newton ``n_iterations`` and the asymptotic standard error."""

    overlap: Array
    ess_forward: Array
    ess_reverse: Array
    ess_bar_forward: Array
    ess_bar_reverse: Array
    n_iterations: int
    stderr_asymptotic: Array


@dataclasses.dataclass
class MbarDiagnostics(Diagnostics):
    """Of :func:`~transportkit.free_energy.mbar`: covariance ``theta`` (K, K) of the :math:`f_k`, standard errors
    ``dDelta_f`` (K, K) of all differences, ``f_k`` (K,), Kish ``ess`` (K,) per state, ``overlap`` (1 - second
    largest eigenvalue of the overlap matrix), solver ``n_iterations``/``converged``, asymptotic stderr (K,)."""

    theta: Array
    dDelta_f: Array
    f_k: Array
    ess: Array
    overlap: Array
    n_iterations: int
    converged: bool
    stderr_asymptotic: Array


@dataclasses.dataclass
class EscortedDiagnostics(Diagnostics):
    """Of :func:`~transportkit.free_energy.escorted_jarzynski`: ``method`` (``"exp"`` or ``"bar"``), the works,
    the variational bounds, the forward EXP estimate and the ``estimator``'s own diagnostics, whose fields also
    read by name here (``d["ess"]`` for EXP, ``d["overlap"]`` for BAR)."""

    method: str
    w_forward: Array
    w_reverse: Array | None
    lower_bound: Array
    upper_bound: Array
    exp_forward: Array
    estimator: ExpDiagnostics | BarDiagnostics

    def keys(self) -> tuple[str, ...]:
        own = tuple(k for k in super().keys() if k != "estimator")
        return self.estimator.keys() + own

    def __getitem__(self, key: str) -> Any:
        if key in self.estimator.keys():
            return self.estimator[key]
        if key not in self.keys():
            raise KeyError(key)
        return getattr(self, key)


def host_scalar(x: Any, backend: Any) -> Any:
    """A 0-d array of a host (NumPy) backend as a NumPy scalar (``numpy.float64``, as NumPy's own reductions
    return); anything else unchanged (0-d tensors/arrays of other libraries stay what their reductions give)."""
    if backend is not None and getattr(backend, "is_host", False) and getattr(x, "ndim", None) == 0:
        return x[()]
    return x


@dataclasses.dataclass
class FreeEnergyEstimate(Estimate):
    """:class:`transportkit.Estimate` (``value``, ``stderr``) plus typed ``diagnostics``.

    A scalar estimate converts with ``float(est)`` (the value); on NumPy its ``value``/``stderr`` are NumPy
    scalars (``numpy.float64``), on other backends 0-d arrays of that library. pymbar's result keys read too:
    ``est["Delta_f"]`` / ``est["dDelta_f"]`` (for :func:`mbar` the (K, K) matrices of all differences
    :math:`f_j - f_i` and their standard errors, as pymbar's ``compute_free_energy_differences``; for the
    two-state estimators the value and its stderr, as pymbar's ``bar``/``exp``); other keys read the
    diagnostics (``est["overlap"]``)."""

    diagnostics: Diagnostics | dict[str, Any] = dataclasses.field(default_factory=Diagnostics, repr=False)

    def __post_init__(self) -> None:
        self.value = host_scalar(self.value, self.backend)
        self.stderr = host_scalar(self.stderr, self.backend)

    def __float__(self) -> float:
        if getattr(self.value, "ndim", 0) != 0:
            raise TypeError(
                f"float() needs a scalar estimate; this one has shape {tuple(self.value.shape)} "
                "(index est.value instead)"
            )
        return float(self.value)

    def keys(self) -> tuple[str, ...]:
        """pymbar's result keys ``("Delta_f", "dDelta_f")``."""
        return ("Delta_f", "dDelta_f")

    def __getitem__(self, key: str) -> Any:
        if key == "Delta_f":
            if isinstance(self.diagnostics, MbarDiagnostics):
                f = self.diagnostics.f_k
                return f[None, :] - f[:, None]
            return self.value
        if key == "dDelta_f":
            if isinstance(self.diagnostics, MbarDiagnostics):
                return self.diagnostics.dDelta_f
            return self.stderr
        if isinstance(key, str) and key in self.diagnostics:
            return self.diagnostics[key]
        raise KeyError(key)


@dataclasses.dataclass
class WorkBounds(Result):
    r"""Variational bounds :math:`-\mathbb{E}[W_R] \le \Delta F \le \mathbb{E}[W_F]`, with standard errors."""

    lower: Array
    lower_stderr: Array
    upper: Array
    upper_stderr: Array


def check_ess(ess: Array, n: int, threshold: float, what: str) -> None:
    """Warn (:class:`FreeEnergyDegenerateWeightsWarning`) when the smallest effective sample size is below
    ``min(threshold, n/2)`` (one host read, after the estimate)."""
    if threshold <= 0:
        return
    xp = array_namespace(ess)
    smallest = float(xp.min(ess)) if ess.ndim else float(ess)
    if smallest < min(threshold, n / 2):
        warnings.warn(
            f"{what}: the estimate is dominated by a few samples (effective sample size {smallest:.3g} of "
            f"{n}); the value and its standard error are unreliable",
            FreeEnergyDegenerateWeightsWarning,
            stacklevel=3,
        )


def check_overlap(overlap: Array, n: int, threshold: float, what: str) -> None:
    """Warn (:class:`FreeEnergyOverlapWarning`) when the overlap scalar times the number of samples ``n`` (about
    the number of samples in the overlap region) is below ``min(threshold, n/2)``."""
    if threshold <= 0:
        return
    xp = array_namespace(overlap)
    smallest = float(xp.min(overlap)) if getattr(overlap, "ndim", 0) else float(overlap)
    if not smallest * n >= min(threshold, n / 2):
        warnings.warn(
            f"{what}: the states barely overlap (overlap {smallest:.3g}, about {smallest * n:.3g} of {n} samples "
            "in the overlap region); the free-energy difference and its standard error are not determined by "
            "the data",
            FreeEnergyOverlapWarning,
            stacklevel=3,
        )
