"""Energy-based models trained by gradient descent–ascent (``transportkit.meanfield.ebm_gda``; Domingo-Enrich,
Bietti, Gabrié, Bruna & Vanden-Eijnden, arXiv:2107.05134).

``bias``: 1-D Gaussian target, quadratic units (the ML optimum is the data's Gaussian; unadjusted Langevin shifts
the Gibbs variance to v = (s^2 + sqrt(s^4 - 2 s^2 h))/2): the fixed-point error of the Gibbs mean and variance
(time average over the second half of each run, mean ± SE over seeds) against the particle count m, the units' step
and the particles' step.

``timescales``: 2-D mixture of two Gaussians, ReLU units; the cross-entropy -E_data log p of the learned model
(normalized by quadrature on a grid: exact up to the grid) for several particle/unit time-scale ratios and restart
probabilities, against the target's entropy (its lower bound).

``regimes``: feature ("active", F1) vs lazy (random features, F2) maximum-likelihood EBMs (``ebm_mle``;
Domingo-Enrich, Bietti, Vanden-Eijnden & Bruna, arXiv:2104.07531) on a planted single-ReLU-neuron target on the
sphere S^{d-1} (``planted_ebm``, beta = 2 sqrt(d)) for several dimensions d: the test KL(p*||p) of each regime at
the same width, its weight decay chosen on a validation set, mean ± SE over seeds, and the paired difference.

    JAX_ENABLE_X64=1 .venv/bin/python benchmarks/meanfield_ebm.py bias --backend jax
    JAX_ENABLE_X64=1 .venv/bin/python benchmarks/meanfield_ebm.py timescales --backend jax
    JAX_ENABLE_X64=1 .venv/bin/python benchmarks/meanfield_ebm.py regimes --backend jax --seeds 4
    JAX_ENABLE_X64=1 .venv/bin/python benchmarks/meanfield_ebm.py regimes --backend jax --seeds 4 --lazy-width 512
    JAX_ENABLE_X64=1 .venv/bin/python benchmarks/meanfield_ebm.py regimes --backend jax --seeds 4 --neurons 2
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


#: per regime: (step, steps, weight decays tried); the lazy model is convex in its amplitudes but ill-conditioned,
#: so it gets a 10x larger step and 4x more steps (its test KL no longer improves: see ``--check``)
REGIMES = {"feature": (0.5, 500, (0.0, 1e-2, 3e-2)), "lazy": (5.0, 2000, (0.0, 1e-4, 1e-3))}


def regimes(be, seeds: int, dims: tuple[int, ...], N: int, width: int, neurons: int, check: bool,
            lazy_width: int | None = None) -> None:
    widths = {"feature": width, "lazy": lazy_width or width}
    print(f"planted {neurons}-neuron target on S^(d-1), beta = 2 sqrt(d); N = {N} samples, width {widths}; "
          "test KL(p*||p), weight decay chosen on N/4 validation samples (mean ± SE over seeds)")
    print("d    KL(p*||base)   feature (F1)       lazy (F2)          lazy - feature (paired)   chosen l2 f/l")
    for d in dims:
        kl0, res, chosen = [], {"feature": [], "lazy": []}, {"feature": [], "lazy": []}
        t0 = time.perf_counter()
        for seed in range(seeds):
            target = mf.planted_ebm(d, neurons, rng=seed, backend=be)
            D, V = target.sample(N, rng=seed + 1000), target.sample(N // 4, rng=seed + 2000)
            kl0.append(target.kl(mf.ebm_mle(D, width, steps=1, rng=0), rng=seed + 3000).value)
            for regime, (dt, steps, l2s) in REGIMES.items():
                fits = [mf.ebm_mle(D, widths[regime], regime=regime, steps=steps * (2 if check else 1), dt=dt, l2=l2,
                                   rng=seed + 4000, record_every=steps) for l2 in l2s]
                ce = [f.cross_entropy(V, rng=seed + 5000) for f in fits]
                j = int(np.argmin(ce))
                chosen[regime].append(l2s[j])
                res[regime].append(target.kl(fits[j], rng=seed + 3000).value)
                if check:
                    half = target.kl(fits[j], k=1, rng=seed + 3000).value
                    print(f"  check d={d} seed={seed} {regime}: KL at {steps} steps {half:.4f}, at {2 * steps}:"
                          f" {res[regime][-1]:.4f}")
        f, lz, k0 = np.array(res["feature"]), np.array(res["lazy"]), np.array(kl0)

        def ms(v):
            return f"{v.mean():.4f} ± {v.std(ddof=1) / math.sqrt(seeds):.4f}"

        print(f"{d:<4} {k0.mean():<14.3f} {ms(f):<18} {ms(lz):<18} {ms(lz - f):<25} "
              f"{'/'.join(f'{np.median(chosen[r]):g}' for r in REGIMES)}   ({time.perf_counter() - t0:.0f} s)",
              flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["bias", "timescales", "regimes"])
    ap.add_argument("--backend", default="numpy")
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--dims", default="5,10,20")
    ap.add_argument("--N", type=int, default=1000)
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--neurons", type=int, default=1)
    ap.add_argument("--lazy-width", type=int, default=None, help="regimes: width of the lazy model (default --width)")
    ap.add_argument("--check", action="store_true", help="regimes: train twice as long and print both KLs")
    a = ap.parse_args()
    be = tk.get_backend(a.backend)
    if a.what == "bias":
        bias(be, a.seeds)
    elif a.what == "regimes":
        regimes(be, a.seeds, tuple(int(v) for v in a.dims.split(",")), a.N, a.width, a.neurons, a.check,
                a.lazy_width)
    else:
        timescales(be, a.seeds, a.steps)


if __name__ == "__main__":
    main()
