r"""The diagnostics of an AIS/SMC run's final weights and islands (:mod:`transportkit.sampling.ais`): the Pareto
tail shape of the weights (Zhang & Stephens 2009, Technometrics 51:316; Vehtari, Simpson, Gelman, Yao & Gabry 2024,
arXiv:1507.02646) and a chi-square check of the islands' spread against the reported standard error; the warnings
of :mod:`transportkit.errors` they raise."""

from __future__ import annotations

import math
import warnings
from typing import Any

from .._backend import host_backend
from ..errors import DegenerateWeightsWarning, NonFiniteWarning, UncertaintyWarning

__all__ = ["ESS_WARNING", "ISLAND_P_VALUE", "PARETO_K_WARNING", "diagnose", "pareto_k"]

#: final ESS/n below which a :class:`~transportkit.errors.DegenerateWeightsWarning` is issued
ESS_WARNING = 0.01
#: Pareto tail shape of the final weights above which a :class:`~transportkit.errors.DegenerateWeightsWarning` is
#: issued (Vehtari et al.'s bound beyond which importance sampling is unreliable at any practical sample size)
PARETO_K_WARNING = 0.7
#: p-value below which the islands' spread is declared inconsistent with the reported standard error
ISLAND_P_VALUE = 1e-3


def pareto_k(log_w: Any) -> float:
    r"""The Pareto shape :math:`\hat k` of the upper tail of the weights :math:`e^{\log w}` (NaN for fewer than 20
    finite weights, or when the largest weights agree to 0.1%).

    The largest :math:`M = \lceil\min(n/5, 3\sqrt n)\rceil` weights' excesses over the next one are fitted by a
    generalized Pareto distribution with the profile-likelihood/empirical-Bayes estimate of Zhang & Stephens (2009,
    Technometrics 51:316), shrunk toward 0.5 by a weak prior (10 pseudo-observations) as in PSIS (Vehtari et al.
    2024, arXiv:1507.02646). :math:`\hat k > 0.5`: infinite variance; :math:`\hat k \ge 1`: infinite mean.
    Host-side, vectorized (``log_w`` a 1-D sequence or host array): called once per run on the final weights."""
    xp = host_backend().xp
    lw = xp.asarray(log_w, dtype=xp.float64)
    lw = xp.sort(lw[xp.isfinite(lw)])
    n = int(lw.shape[0])
    if n < 20:
        return math.nan
    M = math.ceil(min(0.2 * n, 3 * math.sqrt(n)))
    top = float(lw[-1])
    cut = math.exp(float(lw[-M - 1]) - top)
    if 1 - cut < 1e-3:  # the largest weights within 0.1% of each other: no tail to speak of (e.g. equal weights)
        return math.nan
    x = xp.exp(lw[-M:] - top) - cut  # ascending excesses, the largest 1 - cut
    x_max = float(x[-1])
    m = 30 + int(math.sqrt(M))
    q = float(x[max(int(M / 4 + 0.5) - 1, 0)])
    if q <= 0:
        q = x_max / M
    j = xp.arange(1, m + 1, dtype=xp.float64)
    thetas = 1 / x_max + (1 - xp.sqrt(m / (j - 0.5))) / (3 * q)
    ks = -xp.sum(xp.log1p(-thetas[:, None] * x[None, :]), axis=1) / M  # k(theta) for every theta at once
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # log of a non-positive ratio: that theta gets -inf
        ok = (thetas != 0) & (ks != 0) & (thetas / ks > 0)
        prof = xp.where(ok, M * (xp.log(xp.where(ok, thetas / ks, 1.0)) + ks - 1), -math.inf)
    wts = xp.exp(prof - xp.max(prof))
    theta = float(xp.sum(thetas * wts) / xp.sum(wts))
    xi = float(xp.sum(xp.log1p(-theta * x))) / M  # the GPD shape (Zhang & Stephens' k is -xi)
    return (M * xi + 10 * 0.5) / (M + 10)


def _chi2_sf(x: float, dof: int) -> float:
    r""":math:`P(\chi^2_{dof} > x)` in closed form for integer ``dof`` (Abramowitz & Stegun 26.4.4–26.4.5)."""
    if x <= 0:
        return 1.0
    h = x / 2
    if dof % 2 == 0:
        term, total = 1.0, 1.0
        for i in range(1, dof // 2):
            term *= h / i
            total += term
        return min(1.0, math.exp(-h) * total)
    r = math.sqrt(x)
    total, term = math.erfc(r / math.sqrt(2)), 0.0
    if dof > 1:
        term = r
        s = term
        for j in range(2, (dof - 1) // 2 + 1):
            term *= x / (2 * j - 1)
            s += term
        total += math.sqrt(2 / math.pi) * math.exp(-h) * s
    return min(1.0, total)


def diagnose(where: str, lz: float, se: float, islands_lz: list[float] | None, ess_rel: float, n: int, k_hat: float,
              n_nonfinite: int) -> None:  # fmt: skip
    """The warnings of the module docstring."""
    if n_nonfinite:
        warnings.warn(
            f"{where}: the target returned NaN/+inf (or a non-finite gradient) at {n_nonfinite} proposals or walkers; "
            "they were rejected (info.n_nonfinite); check log_prob where it is not finite",
            NonFiniteWarning,
            stacklevel=4,
        )
    k_max = PARETO_K_WARNING
    why = []
    if ess_rel < ESS_WARNING:
        why.append(f"ESS/n = {ess_rel:.3g} < {ESS_WARNING}")
    if math.isfinite(k_hat) and k_hat > k_max:
        why.append(
            f"the weights' tail has Pareto shape k = {k_hat:.2f} > {k_max:.2f} (infinite variance at k > 0.5, "
            "infinite mean at k >= 1: an improper target, or a path too coarse)"
        )
    if why:
        warnings.warn(
            f"{where}: degenerate importance weights ({'; '.join(why)}); log Z = {lz:.4g} +- {se:.2g} is not "
            "reliable: use more walkers/steps, or check that the target is normalizable",
            DegenerateWeightsWarning,
            stacklevel=4,
        )
    if islands_lz and len(islands_lz) >= 3 and se > 0 and math.isfinite(se):
        K = len(islands_lz)
        mean = sum(islands_lz) / K
        s2 = sum((v - mean) ** 2 for v in islands_lz) / (K - 1)
        stat = (K - 1) * s2 / (K * se * se)
        p = _chi2_sf(stat, K - 1)
        if p < ISLAND_P_VALUE:
            warnings.warn(
                f"{where}: the {K} islands' log Z scatter with standard deviation {math.sqrt(s2):.3g}, more than the "
                f"reported standard error {se:.3g} allows (chi^2 = {stat:.3g} on {K - 1} dof, p = {p:.2g}): the "
                "stderr is not trustworthy; use more walkers or steps",
                UncertaintyWarning,
                stacklevel=4,
            )

