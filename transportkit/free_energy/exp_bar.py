r"""Two-state estimators from works: exponential averaging (EXP: Zwanzig 1954, Jarzynski 1997), its Gaussian
(second-cumulant) approximation, the Bennett acceptance ratio (BAR) and the variational work bounds.

References
----------
- R. W. Zwanzig, "High-temperature equation of state by a perturbation method. I. Nonpolar gases",
  J. Chem. Phys. 22, 1420 (1954).
- C. Jarzynski, "Nonequilibrium equality for free energy differences", Phys. Rev. Lett. 78, 2690 (1997).
- G. E. Crooks, "Entropy production fluctuation theorem and the nonequilibrium work relation for free energy
  differences", Phys. Rev. E 60, 2721 (1999); "Path-ensemble averages in systems driven far from equilibrium",
  Phys. Rev. E 61, 2361 (2000).
- C. H. Bennett, "Efficient estimation of free energy differences from Monte Carlo data",
  J. Comput. Phys. 22, 245 (1976).
- M. R. Shirts, E. Bair, G. Hooker, V. S. Pande, "Equilibrium free energies from nonequilibrium measurements using
  maximum-likelihood methods", Phys. Rev. Lett. 91, 140601 (2003).
- M. R. Shirts, J. D. Chodera, "Statistically optimal analysis of samples from multiple equilibrium states",
  J. Chem. Phys. 129, 124105 (2008), arXiv:0801.1426 (the uncertainty and overlap formulas, as in pymbar).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

from .._backend import resolve_backend
from .._capabilities import declare
from .._dask import check_client
from .._validation import as_bool, as_choice, as_count, as_real
from ..numerics import ess, logsumexp
from ..random import SEED_DEPRECATED
from ._checks import (
    bootstrap_std,
    bootstrap_stream,
    check_bootstrap,
    check_bootstrap_shape,
    check_threshold,
    kernel,
    lse12,
    prepare_works,
    refuse_lazy_inputs,
)
from .bar_equation import bar_stats, solve_bar
from .diagnostics import (
    ESS_WARNING,
    Array,
    BarDiagnostics,
    ExpDiagnostics,
    FreeEnergyEstimate,
    FreeEnergyUncertaintyWarning,
    GaussDiagnostics,
    WorkBounds,
    check_ess,
    check_overlap,
)

__all__ = ["bar", "bar_overlap", "bounds", "exp", "exp_gauss"]

_DIRECTIONS = ("forward", "reverse")


# ----------------------------------------------------------------------------------------------- EXP
def _exp_core(w: Array, *, xp: Any) -> tuple[Array, Array, Array]:
    """Batched EXP over the last axis: (value, stderr, ess)."""
    n = w.shape[-1]
    l1, l2 = lse12(-w, xp)
    value = -(l1 - math.log(n))
    # pymbar: x = exp(-w - max(-w)), stderr = std(x) / (sqrt(n) mean(x)), std with ddof = 0.
    # std(x)^2 / mean(x)^2 = n sum x^2 / (sum x)^2 - 1 = n exp(l2 - 2 l1) - 1.
    rel_var = xp.exp(l2 - 2 * l1 + math.log(n)) - 1.0
    rel_var = xp.where(rel_var > 0, rel_var, xp.zeros_like(rel_var))
    stderr = xp.sqrt(rel_var / n)
    return value, stderr, ess(-w, xp=xp)


def _one_sample(stderr: Array, what: str, xp: Any) -> Array:
    """NaN standard errors and a :class:`FreeEnergyUncertaintyWarning`: one sample has no spread to measure."""
    warnings.warn(
        f"{what}: one sample gives no standard error (reported as NaN); the value rests on that sample alone",
        FreeEnergyUncertaintyWarning,
        stacklevel=3,
    )
    return xp.full_like(stderr, math.nan)


def _exp_value(w: Array, *, xp: Any) -> Array:
    """Batched EXP value over the last axis (the bootstrap statistic)."""
    return -(logsumexp(-w, axis=-1, xp=xp) - math.log(w.shape[-1]))


@declare()
def exp(
    w: Any,
    *,
    direction: str = "forward",
    nan_policy: str = "raise",
    bootstrap: int | None = None,
    rng: Any = None,
    ess_warning: float = ESS_WARNING,
    backend: Any = None,
    seed: Any = SEED_DEPRECATED,
    compute_uncertainty: bool = True,
) -> FreeEnergyEstimate:
    r"""Zwanzig / Jarzynski exponential averaging (EXP).

    .. math:: \widehat{\Delta F} = -\log \frac1n \sum_{i=1}^n e^{-W_i}
              = -\Big(\operatorname{logsumexp}_i(-W_i) - \log n\Big),

    (Zwanzig 1954; Jarzynski 1997, Phys. Rev. Lett. 78, 2690) with the delta-method standard error of pymbar,
    :math:`x_i = e^{-W_i - \max_j(-W_j)}`, :math:`\delta\widehat{\Delta F} = \operatorname{std}(x) / (\sqrt n\,
    \bar x)` (``std`` with ``ddof = 0``), evaluated as :math:`\sqrt{(n \sum x^2 / (\sum x)^2 - 1)/n}` in log space.

    Parameters
    ----------
    w : array, shape (n,) or (..., n)
        Works (one estimate per leading index).
    direction : {"forward", "reverse"}
        ``"forward"``: ``w`` are forward works and the result estimates :math:`\Delta F`; ``"reverse"``: ``w``
        are reverse works, the EXP estimate of :math:`-\Delta F` is negated so the result again estimates
        :math:`\Delta F = F_1 - F_0` (pymbar's ``exp(w_R)`` returns :math:`-\Delta F`).
    nan_policy : {"raise", "omit"}
        ``"raise"``: ``ValueError`` naming the index of the first non-finite work; ``"omit"``: drop non-finite
        works (1-D input only).
    bootstrap : int >= 2, optional
        Number of bootstrap resamples; the ``stderr`` is then their standard deviation (the asymptotic one stays
        in ``diagnostics.stderr_asymptotic``). Needs 1-D works.
    rng : None, int, numpy.random.Generator or transportkit Generator
        Randomness of the bootstrap (SPEC 7; ``seed=`` is its deprecated alias).
    ess_warning : float
        Warn (:class:`FreeEnergyDegenerateWeightsWarning`) when the Kish effective sample size of the weights
        :math:`e^{-W_i}` is below ``min(ess_warning, n/2)``; 0 disables.
    backend : str or Backend, optional
        The backend (default: that of ``w``).
    compute_uncertainty : bool
        pymbar's switch: ``False`` reports ``stderr`` as NaN (and skips the bootstrap).

    Returns
    -------
    FreeEnergyEstimate
        ``value``, ``stderr`` of shape ``w.shape[:-1]`` (NumPy scalars for 1-D NumPy works); ``diagnostics``:
        :class:`ExpDiagnostics`. From a single work the ``stderr`` is NaN, with a
        :class:`FreeEnergyUncertaintyWarning`.
    """
    refuse_lazy_inputs(w=w)
    as_choice("direction", direction, _DIRECTIONS)
    compute_uncertainty = as_bool("compute_uncertainty", compute_uncertainty)
    threshold = check_threshold(ess_warning)
    be = resolve_backend(w, backend=backend)
    gen = bootstrap_stream(check_bootstrap(bootstrap), rng, seed, be)
    w = prepare_works(w, be, "w", nan_policy)
    check_bootstrap_shape(gen, w)
    n = w.shape[-1]
    value, stderr, n_eff = kernel(be, _exp_core)(w)
    check_ess(n_eff, n, threshold, "exp")
    if n == 1 and compute_uncertainty:
        stderr = _one_sample(stderr, "exp", be.xp)
    diagnostics = ExpDiagnostics(ess=n_eff, n=n, stderr_asymptotic=stderr, backend=be)
    if not compute_uncertainty:
        stderr, gen = be.xp.full_like(stderr, math.nan), None
    if gen is not None:
        stderr = bootstrap_std(_ExpStat(), [w], bootstrap, gen, be)
    if direction == "reverse":
        value = -value
    return FreeEnergyEstimate(value, stderr, diagnostics=diagnostics, backend=be)


def exp_gauss(
    w: Any, *, direction: str = "forward", nan_policy: str = "raise", backend: Any = None
) -> FreeEnergyEstimate:
    r"""Gaussian approximation of EXP (second cumulant): :math:`\widehat{\Delta F} = \bar W - s^2/2`.

    :math:`s^2` is the (``ddof = 0``) variance; the standard error is pymbar's :math:`\sqrt{s^2/n +
    s^4/(2(n-1))}`. Exact for Gaussian works (for which Crooks' relation makes the cumulant series stop at
    second order); biased otherwise.

    Parameters
    ----------
    w : array, shape (n,) or (..., n)
        Works, n >= 2.
    direction : {"forward", "reverse"}
        As in :func:`exp` (``"reverse"`` negates).
    nan_policy : {"raise", "omit"}
        As in :func:`exp`.
    backend : str or Backend, optional
        The backend (default: that of ``w``).

    Returns
    -------
    FreeEnergyEstimate
        ``diagnostics``: :class:`GaussDiagnostics`.
    """
    refuse_lazy_inputs(w=w)
    as_choice("direction", direction, _DIRECTIONS)
    be = resolve_backend(w, backend=backend)
    xp = be.xp
    w = prepare_works(w, be, "w", nan_policy)
    n = w.shape[-1]
    if n < 2:
        raise ValueError("exp_gauss needs at least two works")
    var = xp.var(w, axis=-1)
    value = xp.mean(w, axis=-1) - var / 2
    stderr = xp.sqrt(var / n + 0.5 * var * var / (n - 1))
    if direction == "reverse":
        value = -value
    return FreeEnergyEstimate(value, stderr, diagnostics=GaussDiagnostics(n=n, backend=be), backend=be)


# ----------------------------------------------------------------------------------------------- BAR
def _check_bar_args(uncertainty_method: str, rtol: float, maxiter: int, ess_warning: float) -> tuple[float, int, float]:
    as_choice("uncertainty_method", uncertainty_method, ("BAR", "MBAR"))
    rtol = as_real("rtol", rtol, low=0.0, low_open=True)
    return rtol, as_count("maxiter", maxiter), check_threshold(ess_warning)


@declare()
def bar(
    w_forward: Any,
    w_reverse: Any,
    *,
    uncertainty_method: str = "BAR",
    nan_policy: str = "raise",
    bootstrap: int | None = None,
    rng: Any = None,
    rtol: float = 1e-14,
    maxiter: int = 200,
    ess_warning: float = ESS_WARNING,
    backend: Any = None,
    seed: Any = SEED_DEPRECATED,
    compute_uncertainty: bool = True,
    relative_tolerance: float | None = None,
    maximum_iterations: int | None = None,
    client: Any = None,
) -> FreeEnergyEstimate:
    r"""Bennett acceptance ratio: the minimum-variance estimate of :math:`\Delta F` from works in both directions.

    With :math:`M = \log(n_F/n_R)` and the Fermi function :math:`f(x) = 1/(1+e^x)`, :math:`\Delta F` solves
    (Bennett 1976, J. Comput. Phys. 22, 245; for nonequilibrium works through Crooks' relation: Shirts et al. 2003,
    Phys. Rev. Lett. 91, 140601)

    .. math:: \sum_{i \in F} f(M + W_{F,i} - \Delta F) = \sum_{j \in R} f(-M + W_{R,j} + \Delta F).

    Both sides are evaluated in log space (:math:`\log f(x) = -\operatorname{softplus}(x)`, log-sum-exp), and the
    increasing function :math:`h(\Delta F) = \log\sum_F f - \log\sum_R f` is solved by a safeguarded Newton
    iteration: Newton steps (:math:`h' = 2 - \sum_F f^2/\sum_F f - \sum_R f^2/\sum_R f`) inside a bracket started
    at the two EXP estimates and widened until it brackets the root, with bisection whenever the Newton step
    leaves the bracket or :math:`|h|` fails to halve. It converges for overlaps down to :math:`10^{-12}` and works
    of magnitude :math:`10^4`. The whole solve is one compiled program on JAX.

    Standard error (pymbar, ``uncertainty_method="BAR"``, Bennett's formula), with :math:`C = M - \Delta F`,
    :math:`f_F = f(W_F + C)`, :math:`f_R = f(W_R - C)`:

    .. math:: \sigma^2 = \frac{\langle f_F^2\rangle}{n_F\langle f_F\rangle^2}
              + \frac{\langle f_R^2\rangle}{n_R\langle f_R\rangle^2} - \frac{n_F + n_R}{n_F n_R};

    ``"MBAR"``: :math:`\sigma^2 = 1/(n_F(\langle f_F\rangle - \langle f_F^2\rangle)
    + n_R(\langle f_R\rangle - \langle f_R^2\rangle)) - (n_F + n_R)/(n_F n_R)` (equals MBAR's for two states,
    Shirts & Chodera 2008, arXiv:0801.1426). A (round-off) negative variance is reported as 0.

    Parameters
    ----------
    w_forward, w_reverse : array, shapes (..., n_F) and (..., n_R)
        Forward and reverse works, equal leading (batch) shapes.
    uncertainty_method : {"BAR", "MBAR"}
        Formula of the asymptotic standard error.
    nan_policy : {"raise", "omit"}
        As in :func:`exp`.
    bootstrap : int >= 2, optional
        Number of bootstrap resamples (1-D works); ``stderr`` is then their standard deviation.
    rng : None, int, numpy.random.Generator or transportkit Generator
        Randomness of the bootstrap (SPEC 7; ``seed=`` is its deprecated alias).
    client : dask.distributed.Client, optional
        run the bootstrap's blocks of resamples as Dask tasks on its cluster (same ``stderr`` as here, bit-identical
        on NumPy; a lost block is an error naming it; docs/scaling.md).
    rtol : float > 0
        Relative tolerance of the root (pymbar's name ``relative_tolerance`` is accepted).
    maxiter : int >= 1
        Most Newton iterations (a :class:`FreeEnergyConvergenceWarning` when reached; pymbar's name
        ``maximum_iterations`` is accepted).
    ess_warning : float
        Warn (:class:`FreeEnergyDegenerateWeightsWarning`) when the Kish ESS of either sum's Fermi weights is below
        ``min(ess_warning, n/2)``, and (:class:`FreeEnergyOverlapWarning`) when the overlap scalar times
        :math:`n_F + n_R` is; 0 disables both.
    compute_uncertainty : bool
        pymbar's switch: ``False`` reports ``stderr`` as NaN (and skips the bootstrap).
    backend : str or Backend, optional
        The backend (default: that of the works).

    Returns
    -------
    FreeEnergyEstimate
        ``diagnostics``: :class:`BarDiagnostics` (``overlap``: MBAR overlap scalar of the two states in [0, 1];
        ``ess_forward``/``ess_reverse``: Kish ESS of the EXP weights :math:`e^{-W}`; ``ess_bar_forward``/
        ``ess_bar_reverse``: Kish ESS of the Fermi weights of the two sums; ``n_iterations``;
        ``stderr_asymptotic``).
    """
    refuse_lazy_inputs(w_forward=w_forward, w_reverse=w_reverse)
    if check_client("bar", client) is not None and bootstrap is None:
        raise ValueError("bar: client= runs bootstrap resamples as Dask tasks: give bootstrap=B as well")
    rtol = rtol if relative_tolerance is None else relative_tolerance
    maxiter = maxiter if maximum_iterations is None else maximum_iterations
    rtol, maxiter, threshold = _check_bar_args(uncertainty_method, rtol, maxiter, ess_warning)
    compute_uncertainty = as_bool("compute_uncertainty", compute_uncertainty)
    be = resolve_backend(w_forward, w_reverse, backend=backend)
    gen = bootstrap_stream(check_bootstrap(bootstrap), rng, seed, be)
    wf = prepare_works(w_forward, be, "w_forward", nan_policy)
    wr = prepare_works(w_reverse, be, "w_reverse", nan_policy)
    if wf.shape[:-1] != wr.shape[:-1]:
        raise ValueError(
            f"w_forward and w_reverse need the same leading (batch) shape, got {tuple(wf.shape)} and {tuple(wr.shape)}"
        )
    check_bootstrap_shape(gen, wf, wr)
    D, M, n_iter = solve_bar(wf, wr, be, rtol, maxiter)
    stderr, ess_f, ess_r, overlap, ess_fw, ess_rv = kernel(be, bar_stats, method=uncertainty_method)(wf, wr, M, D)
    check_ess(ess_f, wf.shape[-1], threshold, "bar (forward works)")
    check_ess(ess_r, wr.shape[-1], threshold, "bar (reverse works)")
    check_overlap(overlap, wf.shape[-1] + wr.shape[-1], threshold, "bar")
    if min(wf.shape[-1], wr.shape[-1]) == 1 and compute_uncertainty:
        stderr = _one_sample(stderr, "bar (one work in a direction)", be.xp)
    diagnostics = BarDiagnostics(
        overlap=overlap,
        ess_forward=ess_fw,
        ess_reverse=ess_rv,
        ess_bar_forward=ess_f,
        ess_bar_reverse=ess_r,
        n_iterations=n_iter,
        stderr_asymptotic=stderr,
        backend=be,
    )
    if not compute_uncertainty:
        stderr, gen = be.xp.full_like(stderr, math.nan), None
    if gen is not None:
        stderr = bootstrap_std(_BarStat(rtol, maxiter), [wf, wr], bootstrap, gen, be, client=client)
    return FreeEnergyEstimate(D, stderr, diagnostics=diagnostics, backend=be)


class _ExpStat:
    """The EXP value of a batch of resamples (a picklable bootstrap statistic)."""

    def __call__(self, be: Any, w: Array) -> Array:
        return kernel(be, _exp_value)(w)


class _BarStat:
    """The BAR value of a batch of resamples (a picklable bootstrap statistic: a Dask task can carry it)."""

    def __init__(self, rtol: float, maxiter: int):
        self.rtol, self.maxiter = rtol, maxiter

    def __call__(self, be: Any, wf: Array, wr: Array) -> Array:
        return solve_bar(wf, wr, be, self.rtol, self.maxiter)[0]


def bar_overlap(w_forward: Any, w_reverse: Any, *, backend: Any = None) -> Array:
    """The MBAR overlap scalar of the two end states (pymbar's ``bar_overlap``): 0 none, 1 complete.

    Parameters
    ----------
    w_forward, w_reverse : array
        Forward and reverse works, as in :func:`bar`.
    backend : str or Backend, optional
        The backend (default: that of the works).

    Returns
    -------
    array
        ``bar(...).diagnostics.overlap``.
    """
    return bar(w_forward, w_reverse, ess_warning=0.0, backend=backend).diagnostics["overlap"]


@declare()
def bounds(
    w_forward: Any, w_reverse: Any | None = None, *, nan_policy: str = "raise", backend: Any = None
) -> WorkBounds:
    r"""Variational (Jensen) bounds :math:`-\mathbb{E}[W_R] \le \Delta F \le \mathbb{E}[W_F]` with the standard
    errors of the means (``std/sqrt(n)``, ``ddof = 1``; the second law in Jarzynski's form, Jarzynski 1997).

    Parameters
    ----------
    w_forward : array, shape (..., n_F)
        Forward works.
    w_reverse : array, shape (..., n_R), optional
        Reverse works; without them the lower bound is ``-inf``.
    nan_policy : {"raise", "omit"}
        As in :func:`exp`.
    backend : str or Backend, optional
        The backend (default: that of the works).

    Returns
    -------
    WorkBounds
    """
    refuse_lazy_inputs(w_forward=w_forward, w_reverse=w_reverse)
    as_choice("nan_policy", nan_policy, ("raise", "omit"))
    be = resolve_backend(w_forward, w_reverse, backend=backend)
    xp = be.xp
    wf = prepare_works(w_forward, be, "w_forward", nan_policy)
    wr = None if w_reverse is None else prepare_works(w_reverse, be, "w_reverse", nan_policy)

    def mean_se(w: Array) -> tuple[Array, Array]:
        n = w.shape[-1]
        se = xp.std(w, axis=-1, correction=1) / math.sqrt(n) if n > 1 else xp.zeros_like(w[..., 0]) + math.inf
        return xp.mean(w, axis=-1), se

    up, up_se = mean_se(wf)
    if wr is None:
        lo, lo_se = up * 0 - math.inf, up * 0
    else:
        m, lo_se = mean_se(wr)
        lo = -m
    return WorkBounds(lo, lo_se, up, up_se, backend=be)
