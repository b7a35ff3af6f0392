"""The drift that NETS learns (:class:`TrainedDrift`) and the one internal drift signature the simulator calls,
``drift(t, x, s, need_div) -> (b, div b)`` (``s`` the path's score at (t, x); the divergence is needed by the
Riemann weight rule only). Reference: Albergo & Vanden-Eijnden, "NETS: A Non-Equilibrium Transport Sampler",
2024, arXiv:2410.02711.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

from array_api_compat import array_namespace

from ..._backend import scalar_device
from ..._validation import check_returned_shape
from .features import DriftModel
from .mlp_drift import mlp_drift_div
from .pinn import interpolated_drift, log_Z_pinn

__all__ = ["TrainedDrift", "as_field", "check_drift_output", "combined_drift", "probe_drift"]

#: the simulator's drift: ``(t, x, s, need_div) -> (b, div b)``
Field = Callable[[Any, Any, Any, bool], tuple[Any, Any]]


def combined_drift(
    models: list[DriftModel] | None,
    net: dict[str, Any] | None,
    times: list[float],
    path: Any,
    scales: tuple[float, float],
) -> Field | None:
    """The linear-in-features drift (if fitted) plus the MLP drift (if trained); None when neither (b = 0)."""
    if models is None and net is None:
        return None
    lin = None if models is None else interpolated_drift(models, times, path)
    if net is None:
        return lin
    params = {k: v for k, v in net.items() if k != "F"}

    def drift(t: Any, x: Any, s: Any, need_div: bool) -> tuple[Any, Any]:
        xp = array_namespace(x)
        tt = xp.asarray(t, dtype=x.dtype, device=scalar_device(x))
        b, div = mlp_drift_div(params, tt, x, xp, *scales)
        if lin is not None:
            b0, d0 = lin(t, x, s, need_div)
            b, div = b + b0, div + d0
        return b, div

    drift.needs_laplacian = lin is not None and lin.needs_laplacian  # type: ignore[attr-defined]
    return drift


@dataclasses.dataclass(frozen=True)
class TrainedDrift:
    """A drift learned by :func:`transportkit.sampling.nets.train` along one path, and how it was learned.

    Attributes
    ----------
    models : list of DriftModel or None
        the least-squares drift at each fitted time (None: no linear part).
    net : dict or None
        the MLP parameters (``"F"``: the learned dF/dt per grid time), or None.
    times : tuple of float
        the fitted times.
    scales : tuple of float
        the MLP's input and output scales.
    path : object
        the path (bound to the backend) the drift was fitted along; the score feature needs its Laplacian.
    rounds : list of dict
        per training round: ``log_Z``, ``log_Z_stderr``, ``ess``, ``n`` of the training walkers.
    chosen_round : int or None
        the index r of the drift used (the fit on the walkers of round r - 1; 0: b = 0).
    mlp : dict
        the MLP's loss history per round.
    target_evaluations : int
        target evaluations spent in training.
    """

    models: list[DriftModel] | None
    net: dict[str, Any] | None
    times: tuple[float, ...]
    scales: tuple[float, float]
    path: Any
    rounds: list[dict[str, Any]]
    chosen_round: int | None
    mlp: dict[str, Any]
    target_evaluations: int

    @functools.cached_property
    def field(self) -> Field | None:
        """``drift(t, x, s, need_div) -> (b, div b)`` for the simulator; None for b = 0 (one object per drift, the key
        of its compiled runs)."""
        return combined_drift(self.models, self.net, list(self.times), self.path, self.scales)

    @property
    def log_Z_pinn(self) -> float | None:
        """The PINN estimate of log Z (trapezoid rule over the fitted dF/dt), or None without a linear part."""
        return None if self.models is None else log_Z_pinn(self.models, self.times, self.path.log_Z0)

    def __call__(self, t: float, x: Any) -> tuple[Any, Any]:
        """``(b, div b)`` at time t for walkers x of shape (n, d) (b = 0 gives zeros)."""
        xp = array_namespace(x)
        f = self.field
        if f is None:
            return xp.zeros_like(x), xp.zeros_like(x[:, 0])
        s = self.path.grad(t, self.path.evaluate(x))
        return f(t, x, s, True)


def as_field(drift: Any) -> Field | None:
    """The simulator's drift for ``drift``: None (b = 0), a :class:`TrainedDrift`, or a user callable
    ``drift(t, x) -> (b, div b)``."""
    if drift is None:
        return None
    if isinstance(drift, TrainedDrift):
        return drift.field
    return _UserField(drift)


def check_drift_output(out: Any, x: Any) -> tuple[Any, Any]:
    """``(b, div_b)`` from what a user drift returned for walkers ``x`` (n, d): a pair whose ``b`` has shape (n, d)
    and ``div_b`` shape (n,) or is a scalar (a constant divergence); anything else is an error naming the drift
    and the shapes (static: the check costs no host sync, also under a JAX trace)."""
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        what = f"a {type(out).__name__} of length {len(out)}" if isinstance(out, (tuple, list)) else (
            f"a {type(out).__name__} of shape {tuple(getattr(out, 'shape', ()))}"
        )
        raise TypeError(f"drift(t, x) must return a pair (b, div_b); got {what}")
    b, div = out
    n, d = x.shape
    check_returned_shape("drift(t, x)", b, (n, d), "as b")
    if isinstance(div, bool) or not (isinstance(div, (int, float)) or getattr(div, "ndim", None) == 0):
        check_returned_shape("drift(t, x)", div, (n,), "as div_b")
    return b, div


def probe_drift(drift: Any, path: Any, be: Any) -> None:
    """Call a user drift once, at t = 0 on two walkers at the base mean, and check what it returns
    (:func:`check_drift_output`). Paths without a Gaussian base (dimension unknown before sampling) are checked at
    the drift's first call instead."""
    base = getattr(path, "base", None)
    dim = getattr(base, "dim", None)
    if dim is None:
        return
    xp = be.xp
    mean = getattr(base, "mean", 0.0)
    m = xp.asarray(mean, dtype=be.dtype, device=be.device)
    x = xp.zeros((2, dim), dtype=be.dtype, device=be.device) + m
    check_drift_output(drift(0.0, x), x)


@dataclasses.dataclass(frozen=True)
class _UserField:
    """A user drift ``fn(t, x) -> (b, div b)`` in the simulator's signature (equal when ``fn`` is: the key of its
    compiled runs); the shapes it returns are checked on every call."""

    fn: Callable[[Any, Any], tuple[Any, Any]]

    def __call__(self, t: Any, x: Any, s: Any, need_div: bool) -> tuple[Any, Any]:
        return check_drift_output(self.fn(t, x), x)
