"""Energy-based models trained by gradient descent–ascent (``transportkit.meanfield.ebm_gda``; Domingo-Enrich,
Bietti, Gabrié, Bruna & Vanden-Eijnden, arXiv:2107.05134).

``bias``: 1-D Gaussian target, quadratic units (the ML optimum is the data's Gaussian; unadjusted Langevin shifts
the Gibbs variance to v = (s^2 + sqrt(s^4 - 2 s^2 h))/2): the fixed-point error of the Gibbs mean and variance
(time average over the second half of each run, mean ± SE over seeds) against the particle count m, the units' step
and the particles' step.

``timescales``: 2-D mixture of two Gaussians, ReLU units; the cross-entropy -E_data log p of the learned model
(normalized by quadrature on a grid: exact up to the grid) for several particle/unit time-scale ratios and restart
probabilities, against the target's entropy (its lower bound).

    JAX_ENABLE_X64=1 .venv/bin/python benchmarks/meanfield_ebm.py bias --backend jax
    JAX_ENABLE_X64=1 .venv/bin/python benchmarks/meanfield_ebm.py timescales --backend jax
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

import transportkit as tk
import transportkit.meanfield as mf


def gibbs_moments_1d(r, ks):
    x = np.linspace(-8, 8, 2001)[:, None]
    mus, vs = [], []
    for k in ks:
        E = np.asarray(r.energy(x, k))
        p = np.exp(-(E - E.min()))
        p /= p.sum()
        mu = float((p * x[:, 0]).sum())
        mus.append(mu)
        vs.append(float((p * (x[:, 0] - mu) ** 2).sum()))
    return np.mean(mus), np.mean(vs)


def bias(be, seeds: int) -> None:
    print("dt_units  m     steps  h_x    Gibbs mean - data mean   Gibbs var - v*(h)     (mean ± SE over seeds)")
    for dt, m, steps, h in [(0.05, 300, 1500, 0.05), (0.05, 1200, 1500, 0.05), (0.05, 4800, 1500, 0.05),
                            (0.01, 300, 7500, 0.05), (0.05, 300, 1500, 0.02), (0.05, 300, 1500, 0.1)]:
        dm, dv = [], []
        t0 = time.perf_counter()
        for seed in range(seeds):
            D = np.random.default_rng(seed).normal(0.7, 0.8, size=(300, 1))
            r = mf.ebm_gda(be.asarray(D), n=8, particles=m, unit="quadratic", steps=steps, dt=dt, dt_x=h,
                           record_every=10, rng=seed + 100, init_scale=0.5).to_numpy()
            K = r.times.shape[0]
            mu, v = gibbs_moments_1d(r, range(K // 2, K))
            ve = D.var()
            dm.append(mu - D.mean())
            dv.append(v - (ve + math.sqrt(ve**2 - 2 * ve * h)) / 2)
        dm, dv = np.array(dm), np.array(dv)
        se = math.sqrt(seeds)
        print(f"{dt:<9} {m:<5} {steps:<6} {h:<6} {dm.mean():+.4f} ± {dm.std(ddof=1) / se:.4f}        "
              f"{dv.mean():+.4f} ± {dv.std(ddof=1) / se:.4f}    ({time.perf_counter() - t0:.1f} s)", flush=True)


def mixture(rs: np.random.Generator, N: int) -> np.ndarray:
    z = rs.random(N) < 0.5
    return np.where(z[:, None], rs.normal([-1.5, 0.0], 0.5, size=(N, 2)), rs.normal([1.5, 0.5], 0.7, size=(N, 2)))


def mixture_logpdf(x: np.ndarray) -> np.ndarray:
    def g(m, s):
        return np.exp(-np.sum((x - np.asarray(m)) ** 2, axis=1) / (2 * s * s)) / (2 * math.pi * s * s)

    return np.log(0.5 * g([-1.5, 0.0], 0.5) + 0.5 * g([1.5, 0.5], 0.7))


def timescales(be, seeds: int, steps: int) -> None:
    g = np.linspace(-6, 6, 241)
    G = np.stack(np.meshgrid(g, g, indexing="ij"), axis=-1).reshape(-1, 2)
    cell = (g[1] - g[0]) ** 2
    ent = -float(np.sum(np.exp(mixture_logpdf(G)) * mixture_logpdf(G)) * cell)
    print(f"target entropy (the cross-entropy's lower bound): {ent:.4f}")
    print("dt_x/dt  restart  cross-entropy (mean ± SE over seeds)")
    for ratio in (0.1, 1.0, 4.0):
        for restart in (0.0, 0.05):
            ce = []
            t0 = time.perf_counter()
            for seed in range(seeds):
                rs = np.random.default_rng(seed)
                D = mixture(rs, 2000)
                r = mf.ebm_gda(be.asarray(D), n=64, particles=1000, unit="relu", steps=steps, dt=0.05,
                               dt_x=0.05 * ratio, restart=restart, rng=seed + 10, record_every=steps).to_numpy()
                E = np.asarray(r.energy(G))
                logZ = float(np.log(np.sum(np.exp(-(E - E.min()))) * cell)) - float(E.min())
                Ed = np.asarray(r.energy(D))
                ce.append(float(np.mean(Ed)) + logZ)
            ce = np.array(ce)
            print(f"{ratio:<8} {restart:<8} {ce.mean():.4f} ± {ce.std(ddof=1) / math.sqrt(seeds):.4f}   "
                  f"({time.perf_counter() - t0:.1f} s)", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["bias", "timescales"])
    ap.add_argument("--backend", default="numpy")
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--steps", type=int, default=3000)
    a = ap.parse_args()
    be = tk.get_backend(a.backend)
    if a.what == "bias":
        bias(be, a.seeds)
    else:
        timescales(be, a.seeds, a.steps)


if __name__ == "__main__":
    main()
