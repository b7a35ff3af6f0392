r"""Stochastic interpolants: schedules, exact fields, losses, learned fields and likelihoods.

:math:`x_t = \alpha(t) x_0 + \beta(t) x_1 + \gamma(t) z` between a base :math:`\rho_0` and a target
:math:`\rho_1` (Albergo & Vanden-Eijnden 2022, arXiv:2209.15571;
Albergo, Boffi & Vanden-Eijnden 2023, arXiv:2303.08797). Generate with :func:`transportkit.sample`.
"""

from __future__ import annotations

from .exact import ExactField, exact_field
from .field import BoundField, Field
from .fit import FeatureModel, TensorFeatures, fit_score, fit_velocity, sliced_w2
from .interpolant import Interpolant
from .likelihood import log_likelihood
from .mlp import MLPModel, train_velocity
from .schedules import GAMMAS, SCHEDULES, Schedule

__all__ = [
    "GAMMAS",
    "SCHEDULES",
    "BoundField",
    "ExactField",
    "FeatureModel",
    "Field",
    "Interpolant",
    "MLPModel",
    "Schedule",
    "TensorFeatures",
    "demo",
    "eight_mode_mixture",
    "exact_field",
    "fit_score",
    "fit_velocity",
    "log_likelihood",
    "sliced_w2",
    "train_velocity",
]


def eight_mode_mixture(radius: float = 4.0, seed: int = 0):
    """The 2-D test mixture of the docs and demo: 8 modes on a circle, random weights and small covariances."""
    import math

    from .._backend import get_backend
    from ..targets import GaussianMixture

    be = get_backend("numpy")
    xp, gen = be.xp, be.rng(seed)
    ang = xp.arange(8, dtype=xp.float64) * (2 * math.pi / 8)
    m = radius * xp.stack([xp.cos(ang), xp.sin(ang)], axis=1)
    w = gen.uniform((8,), low=0.5, high=1.5)
    b = 0.25 * gen.normal((8, 2, 2))
    c = b @ xp.linalg.matrix_transpose(b) + 0.1 * xp.eye(2)
    return GaussianMixture(w / xp.sum(w), m, c)


def demo(plot_path: str | None = None) -> None:
    """Sample a 2-D 8-mode mixture through its exact field with the ODE and the SDE; print mode weights vs truth
    (and, with ``plot_path`` and matplotlib installed, save a scatter plot there)."""
    import time

    from .. import sample

    T = eight_mode_mixture()
    f = exact_field(Interpolant("linear"), T)
    n = 4000
    w = T._host["w"]
    print(f"2-D mixture of 8 Gaussians, n = {n}, exact velocity of the linear interpolant from N(0, I)")
    rows = []
    for method, kw in (("ode", dict(steps=100, solver="rk4")), ("sde", dict(steps=200, diffusion=1.0))):
        t0 = time.perf_counter()
        s = sample(f, n, method=method, seed=0, **kw)
        dt = time.perf_counter() - t0
        lab = T.responsibilities(s.x)
        import array_api_compat

        xp = array_api_compat.array_namespace(lab)
        frac = xp.mean(xp.astype(xp.argmax(lab, axis=0)[None, :] == xp.arange(8)[:, None], xp.float64), axis=1)
        z = xp.max(xp.abs(frac - w) / xp.sqrt(w * (1 - w) / n))
        rows.append((method, s, frac, float(z), dt))
    print("  mode   true    " + "   ".join(f"{m:6s}" for m, *_ in rows))
    for k in range(8):
        print(f"  {k}     {float(w[k]):.4f}  " + "   ".join(f"{float(r[2][k]):.4f}" for r in rows))
    for method, _, _, z, dt in rows:
        print(f"  {method}: max |weight error| = {z:.2f} binomial SE   ({dt:.2f} s)")
    x = T.sample(8, seed=1)
    ll = log_likelihood(f, x, steps=100)
    err = float(xp.max(xp.abs(ll - T.log_prob(x))))
    print(f"  log-likelihood by the probability flow (RK4, 100 steps) vs exact: max error {err:.1e}")
    if plot_path:
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            print("  (matplotlib not installed: no plot)")
            return
        fig, axes = plt.subplots(1, 2, figsize=(8, 4), sharex=True, sharey=True)
        for ax, (method, s, *_r) in zip(axes, rows, strict=True):
            ax.scatter(s.x[:, 0], s.x[:, 1], s=1, alpha=0.3)
            ax.set_title(f"{method.upper()} samples")
            ax.set_aspect("equal")
        fig.tight_layout()
        fig.savefig(plot_path, dpi=100)
        print(f"  wrote {plot_path}")
