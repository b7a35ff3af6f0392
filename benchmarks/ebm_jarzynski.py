"""Jarzynski-weighted EBM training (Carbone et al. 2023): (1) the fixed-theta check of ALGORITHMS.md §5.6 at
4e5 walkers; (2) a 2-D four-component Gaussian mixture learned by an MLP energy, held-out log-likelihood by grid
quadrature of Z_theta, against the true mixture's held-out log-likelihood.

Run: .venv/bin/python benchmarks/ebm_jarzynski.py [backend=torch]
"""

from __future__ import annotations

import math
import sys
import time

import numpy as np

import transportkit as tk
from transportkit.sampling import ebm


def check(be) -> None:
    xp = be.xp
    n, h = 400_000, 0.4
    model = ebm.EnergyModel(lambda p, x: 0.5 * p["k"] * xp.sum(x * x, axis=1), {"k": be.asarray(1.0)})
    x0 = tk.random.default_rng(0, be).normal((n, 1))
    x, A = ebm.ula_jarzynski_weights(model, x0, steps=30, step_size=h, rng=1)
    x, A = np.asarray(be.to_numpy(x))[:, 0], np.asarray(be.to_numpy(A))
    w = np.exp(A - A.max())
    print(f"§5.6 check (n = {n}): unweighted var {x.var():.4f} +- {math.sqrt(2 / n) * x.var():.4f} (1.25), "
          f"weighted var {np.sum(w * x * x) / w.sum():.4f}, mean e^A {np.mean(np.exp(A)):.4f}, "
          f"ESS/n {w.sum() ** 2 / np.sum(w * w) / n:.4f}")


MEANS = np.array([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.0], [0.0, -2.0]])
S = 0.5


def mixture(n, rng):
    k = rng.integers(0, 4, n)
    return MEANS[k] + S * rng.normal(size=(n, 2))


def true_logpdf(x):
    d2 = ((x[:, None, :] - MEANS[None]) ** 2).sum(-1)
    return np.log(np.mean(np.exp(-d2 / (2 * S * S)), axis=1)) - math.log(2 * math.pi * S * S)


def mixture_run(be) -> None:
    rng = np.random.default_rng(0)
    train, test = mixture(20000, rng), mixture(20000, rng)
    model = ebm.mlp_energy(2, (32, 32), rng=0, backend=be)
    t0 = time.perf_counter()
    r = ebm.train_jarzynski(model, be.asarray(train), steps=3000, step_size=0.01, lr=2e-3, n_walkers=2000,
                            batch_size=512, rng=1)  # fmt: skip
    el = time.perf_counter() - t0
    g = np.linspace(-6, 6, 301)
    X, Y = np.meshgrid(g, g)
    grid = np.stack([X.ravel(), Y.ravel()], 1)
    U = np.asarray(be.to_numpy(r.model(be.asarray(grid))))
    dA = (g[1] - g[0]) ** 2
    logZ = np.log(np.sum(np.exp(-(U - U.min())))) - U.min() + math.log(dA)
    ll = -np.mean(np.asarray(be.to_numpy(r.model(be.asarray(test))))) - logZ
    print(f"2-D mixture: held-out log-likelihood {ll:.4f} (true mixture {np.mean(true_logpdf(test)):.4f}; "
          f"N(0, I) start {np.mean(-0.5 * (test**2).sum(1)) - math.log(2 * math.pi):.4f}); "
          f"log Z by walkers {r.log_Z_ratio + math.log(2 * math.pi):.4f} vs grid {logZ:.4f}; "
          f"final ESS/n {r.history['ess'][-1]:.3f}, resamplings {sum(r.history['resampled'])}; "
          f"3000 steps in {el:.0f} s")


if __name__ == "__main__":
    be = tk.get_backend(sys.argv[1] if len(sys.argv) > 1 else "torch")
    check(be)
    mixture_run(be)
