r"""A Gaussian base for AIS/SMC from a short pilot SMC run (the base's tails at least as heavy as the target's keep
the variance of the last annealing steps' weights finite; Chopin 2002, Biometrika 89:539)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

from ..numerics import logsumexp
from .options import SamplerOptions

__all__ = ["pilot_base"]


#: the pilot's walkers (a fraction of n, at least 100), annealing steps (a fraction of steps, at least 10) and the
#: inflation of its largest standard deviation into the base scale
PILOT_FRACTION, PILOT_MIN, PILOT_STEPS, PILOT_INFLATION = 0.2, 100, 0.25, 2.0


def _coarse_base(mean: list[float], scale: float) -> tuple[list[float], float]:
    """The pilot's base on a coarse grid: the scale rounded *up* to 1, 1.5, 2, 3, 5 or 7 times a power of 10, the
    mean to a multiple of scale/4. Any such base is as valid (the weights are exact for any base); the grid makes
    repeated calls on the same target share one base, hence one compiled program on JAX."""
    e = math.floor(math.log10(scale))
    grid = [m * 10.0**k for k in (e - 1, e, e + 1) for m in (1.0, 1.5, 2.0, 3.0, 5.0, 7.0)]
    scale = min(g for g in grid if g >= scale * (1 - 1e-12))
    q = scale / 4
    return [round(v / q) * q + 0.0 for v in mean], scale


def pilot_base(
    target: Any, n: int, steps: int, opts: SamplerOptions, be: Any, gen: Any, ais: Callable
) -> dict[str, Any]:
    r"""A Gaussian base :math:`\mathcal N(\mu, \sigma^2 I)` for AIS/SMC from a pilot SMC run from N(0, I):
    :math:`\max(100, n/5)` walkers, :math:`\max(10, \text{steps}/4)` annealing steps, one population;
    :math:`\mu` the weighted mean of its final particles and σ = 2 × their largest weighted standard deviation.
    Returns ``{"mean", "scale", "target_evaluations"}`` (mean and scale on a coarse grid: :func:`_coarse_base`);
    falls back to N(0, I) if the pilot's particles are not finite. Its random stream is drawn from ``gen``
    (deterministic given the main stream). ``ais`` is :func:`transportkit.sampling.ais.ais` (passed in: that
    module imports this one)."""
    from .kernels import particle_scale

    n_p = max(PILOT_MIN, int(PILOT_FRACTION * n))
    k_p = max(10, int(PILOT_STEPS * steps))
    seed = int(be.to_numpy(gen.integers(0, 2**31 - 1)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = ais(
            target, n_p, steps=k_p, kernel=opts.kernel, max_mcmc=opts.max_mcmc, n_leapfrog=opts.n_leapfrog,
            base_mean=0.0, base_scale=1.0, resample="systematic", islands=1, backend=be, rng=seed,
        )  # fmt: skip
    xp = be.xp
    x, lw = r.x, r.log_weights
    w = xp.exp(lw - logsumexp(lw, xp=xp))
    mu = xp.sum(w[:, None] * x, axis=0)
    sd = particle_scale(x, lw, "diag")
    mean = [float(v) for v in be.to_numpy(mu).tolist()]
    scale = PILOT_INFLATION * float(xp.max(sd))
    if not (all(math.isfinite(v) for v in mean) and math.isfinite(scale) and scale > 0):
        mean, scale = [0.0] * len(mean), 1.0
    mean, scale = _coarse_base(mean, scale)
    return {"mean": mean, "scale": scale, "target_evaluations": int(r.info.target_evaluations)}
