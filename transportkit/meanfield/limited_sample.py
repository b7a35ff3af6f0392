r"""Flow-based generation from a limited number of samples: the denoiser-based velocity of the empirical measure.

With the linear interpolant :math:`x_t = (1-t)x_0 + t x_1`, :math:`x_0\sim N(0, I)`, and the target replaced by the
empirical measure :math:`\hat\rho_n = \frac1n\sum_j\delta_{y_j}` of ``n`` samples, the velocity that transports
:math:`N(0,I)` to :math:`\hat\rho_n` is built from the exact denoiser

.. math:: D(t, x) = E[x_1|x_t = x] = \sum_j \mathrm{softmax}_j\Big(-\frac{|x - t y_j|^2}{2(1-t)^2}\Big)\, y_j,
          \qquad b(t, x) = \frac{D(t, x) - x}{1 - t}

(the minimizer of the quadratic denoising loss on the ``n`` samples: the field a network trained on those samples
approaches when it has the capacity). Cui, Krzakala, Vanden-Eijnden & Zdeborová, "Analysis of learning a flow-based
generative model from limited sample complexity", ICLR 2024 (arXiv:2310.03575), show that for a shallow denoiser
trained on ``n`` samples of a Gaussian mixture the distance between the mean of the generated and of the target
distribution decays as :math:`\Theta(1/n)`, and that this rate is Bayes-optimal. For the empirical field the
generated law is :math:`\hat\rho_n` itself, so the squared mean error per dimension is
:math:`|\bar y - \mu|^2/d`, of expectation exactly :math:`\sigma^2/n` for a target :math:`N(\mu, \sigma^2 I)`:
:func:`limited_sample_error` measures it from generated samples and fits the exponent.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from .._backend import resolve_backend
from .._capabilities import declare
from .._results import Result
from .._typing import Array
from .._validation import as_count, as_points, as_real
from ..integrate import odeint
from ..random import SEED_DEPRECATED, resolve_rng
from .experiments import PowerLawFit, fit_power_law

__all__ = ["LimitedSampleResult", "empirical_denoiser", "empirical_flow", "limited_sample_error"]


def empirical_denoiser(t: Any, x: Any, data: Any, xp: Any) -> Array:
    r""":math:`E[x_1|x_t = x]` for the linear interpolant from :math:`N(0, I)` to the empirical measure of the rows of
    ``data`` ``(n, d)``, at the rows of ``x`` ``(m, d)`` and a time ``0 <= t < 1`` (log-space softmax)."""
    s = 1.0 - t
    sq = (xp.sum(x * x, axis=1)[:, None] - 2.0 * t * (x @ xp.matrix_transpose(data))
          + (t * t) * xp.sum(data * data, axis=1)[None, :])
    logits = -sq / (2.0 * s * s)
    logits = logits - xp.max(logits, axis=1, keepdims=True)
    w = xp.exp(logits)
    w = w / xp.sum(w, axis=1, keepdims=True)
    return w @ data


@declare()
def empirical_flow(data: Any, n_samples: int, *, steps: int = 60, t_end: float = 1e-4, rng: Any = None,
                   backend: Any = None, seed: Any = SEED_DEPRECATED) -> Array:
    r"""Samples of the flow of the empirical-data velocity :math:`b = (D - x)/(1-t)` (module docstring) from
    :math:`N(0, I)`: RK4 on the grid :math:`t_k = 1 - \epsilon^{k/K}` (uniform in :math:`\log(1-t)`, where
    :math:`b` stiffens), ``K = steps``, :math:`\epsilon` = ``t_end`` (the remaining time :math:`1 - t`), then the
    final denoising step :math:`x \leftarrow D(1-\epsilon, x)`. Returns ``(n_samples, d)``.
    (Cui, Krzakala, Vanden-Eijnden & Zdeborová, arXiv:2310.03575, for the learned version of this field.)"""
    be = resolve_backend(data, backend=backend)
    D = as_points("data", data, be, ndim=2)
    if D.shape[0] < 1:
        raise ValueError("data must hold at least one point")
    n_samples = as_count("n_samples", n_samples)
    steps = as_count("steps", steps)
    eps = as_real("t_end", t_end, low=0.0, high=1.0, low_open=True, high_open=True)
    xp = be.xp
    gen = resolve_rng(rng, be, seed=seed)
    x0 = gen.normal((n_samples, D.shape[1]), dtype=D.dtype)
    grid = xp.asarray([1.0 - eps ** (k / steps) for k in range(steps + 1)], dtype=D.dtype, device=be.device)

    def b(t: Any, x: Any) -> Any:
        return (empirical_denoiser(t, x, D, xp) - x) / (1.0 - t)

    x = odeint(b, x0, grid=grid, solver="rk4", backend=be)
    return empirical_denoiser(1.0 - eps, x, D, xp)


@dataclasses.dataclass
class LimitedSampleResult(Result):
    """Output of :func:`limited_sample_error`: ``ns``; ``error`` (mean over seeds of the squared mean error per
    dimension, :math:`|E_{\\rm gen}x - \\mu|^2/d`, Monte Carlo term removed), ``se`` (its standard error over seeds),
    ``predicted`` (:math:`\\sigma^2/n`), ``fit`` (power law ``error ~ C n^-a``), ``per_seed`` ``(len(ns), seeds)``."""

    ns: list[int]
    error: list[float]
    se: list[float]
    predicted: list[float]
    fit: PowerLawFit
    per_seed: list[list[float]]


@declare()
def limited_sample_error(ns: Any = (8, 16, 32, 64, 128), *, d: int = 64, sigma: float = 1.0, seeds: int = 12,
                         n_gen: int = 512, steps: int = 60, t_end: float = 1e-4, rng: Any = None,
                         backend: Any = None, seed: Any = SEED_DEPRECATED) -> LimitedSampleResult:
    r"""The mean error of flow-based generation from ``n`` samples against ``n``: target :math:`N(\mu,\sigma^2I_d)`
    (:math:`\mu = \mathbb 1`); for each ``n`` and seed, draw ``n`` samples, generate ``n_gen`` points with
    :func:`empirical_flow`, and record :math:`\widehat{|m-\mu|^2}/d = (|\bar x_{\rm gen} - \mu|^2 -
    \mathrm{tr}\,\widehat{\mathrm{Cov}}_{\rm gen}/n_{\rm gen})/d` (unbiased for the squared distance between the
    generated law's mean :math:`m` and :math:`\mu`). The claim (Cui, Krzakala, Vanden-Eijnden & Zdeborová,
    arXiv:2310.03575): :math:`\Theta(1/n)`; for the empirical field its expectation is :math:`\sigma^2/n`, with
    relative standard deviation :math:`\sqrt{2/d}` per run, so the fitted exponent has standard error about
    :math:`\sqrt{2/(d\cdot\text{seeds})}/\mathrm{sd}(\log n)/\sqrt{K}`."""
    ns = [as_count("ns entry", n) for n in ns]
    if len(ns) < 2:
        raise ValueError("ns needs at least two sample sizes to fit an exponent")
    d = as_count("d", d)
    sigma = as_real("sigma", sigma, low=0.0, low_open=True)
    seeds, n_gen = as_count("seeds", seeds, low=2), as_count("n_gen", n_gen, low=2)
    be = resolve_backend(backend=backend)
    xp = be.xp
    gens = resolve_rng(rng, be, seed=seed).spawn(len(ns) * seeds)
    mu = xp.ones((d,), dtype=be.dtype, device=be.device)
    per: list[list[float]] = []
    for i, n in enumerate(ns):
        row = []
        for s in range(seeds):
            g = gens[i * seeds + s]
            data = mu + sigma * g.normal((n, d), dtype=be.dtype)
            x = empirical_flow(data, n_gen, steps=steps, t_end=t_end, rng=g, backend=be)
            m = xp.mean(x, axis=0)
            var = xp.sum(xp.var(x, axis=0, correction=1))
            row.append((float(xp.sum((m - mu) ** 2)) - float(var) / n_gen) / d)
        per.append(row)
    err = [sum(r) / seeds for r in per]
    se = [math.sqrt(sum((v - e) ** 2 for v in r) / (seeds - 1) / seeds) for r, e in zip(per, err, strict=True)]
    fit = fit_power_law(ns, err)
    return LimitedSampleResult(ns=ns, error=err, se=se, predicted=[sigma**2 / n for n in ns], fit=fit, per_seed=per,
                               backend=be)
