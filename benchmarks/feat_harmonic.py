"""FEAT on two harmonic wells (d = 10, k0 = 1, k1 = 4): BAR on stochastic escorted works vs (d/2) log(k1/k0), the
variational bounds, and the work variance against the unescorted process (b = 0, same path, eps and steps), for the
learned linear escort and for the exact escort (closed form: the ceiling at a given step count), with both time
discretizations ("em": Euler-Maruyama kernels; "split": Crank-Nicolson flow step + Langevin step).

Run: .venv/bin/python benchmarks/feat_harmonic.py [n_fit] [seeds]
"""

from __future__ import annotations

import importlib
import math
import sys
import time

import numpy as np

import transportkit as tk
from transportkit import free_energy as fe

F = importlib.import_module("transportkit.free_energy.feat_estimator")
D, K0, K1, NW = 10, 1.0, 4.0, 4000
DF = 0.5 * D * math.log(K1 / K0)


def s2(t):
    return (1 - t) ** 2 / K0 + t**2 / K1


class Exact(F.LinearEscort):
    """The exact escort of the linear interpolant between N(0, I/k0) and N(0, I/k1): x_t ~ N(0, s2(t) I),
    b = (s2'/2 s2) x, score -x / s2."""

    def __init__(self, be):
        self.be = be

    def affine(self, t):
        A = (-(1 - t) / K0 + t / K1) / s2(t) * self.be.xp.eye(D, dtype=self.be.dtype)
        return A, 0.0 * A[0, :]

    def velocity(self, t, x):
        return (-(1 - t) / K0 + t / K1) / s2(t) * x

    def score(self, t, x):
        return -x / s2(t)


class Plain(Exact):
    def affine(self, t):
        return 0.0 * self.be.xp.eye(D, dtype=self.be.dtype), self.be.xp.zeros(D, dtype=self.be.dtype)

    def velocity(self, t, x):
        return 0.0 * x


def Ua(x):
    return 0.5 * K0 * (x * x).sum(1)


def Ub(x):
    return 0.5 * K1 * (x * x).sum(1)


def drift_error(esc, rng, m=20000):
    """E|b_hat - b|^2 / E|b|^2 over the interpolant (t ~ U[0, 1], x_t ~ N(0, s2(t) I))."""
    t = rng.uniform(size=m)
    x = rng.normal(size=(m, D)) * np.sqrt(s2(t))[:, None]
    num = den = 0.0
    for ti, xi in zip(np.array_split(t, 50), np.array_split(x, 50), strict=True):
        tm = float(ti.mean())  # bins of t: b evaluated at the bin's mean time (bins are narrow)
        b_hat = esc.velocity(tm, xi)
        b = (-(1 - tm) / K0 + tm / K1) / s2(tm) * xi
        num, den = num + ((b_hat - b) ** 2).sum(), den + (b**2).sum()
    return num / den


def ceiling(be, rng):
    ea, eb = rng.normal(size=(NW, D)) / math.sqrt(K0), rng.normal(size=(NW, D)) / math.sqrt(K1)
    print(f"exact escort (ceiling), {NW} paths per direction: var W_F / var W_R [unescorted / escorted = ratio]")
    for eps in (0.5,):
        for steps in (25, 50, 100, 200, 400):
            wf0, wr0 = F.feat_works(Plain(be), ea, eb, Ua, Ub, eps=eps, steps=steps, rng=7, scheme="em")
            row = f"  eps={eps} steps={steps:4d}: unescorted {wf0.var():.3f}/{wr0.var():.3f}"
            for scheme in ("em", "split"):
                wf, wr = F.feat_works(Exact(be), ea, eb, Ua, Ub, eps=eps, steps=steps, rng=7, scheme=scheme)
                rf, rr = wf0.var() / wf.var(), wr0.var() / wr.var()
                row += f"; {scheme} {wf.var():.2e}/{wr.var():.2e} [{rf:.0f}x/{rr:.0f}x]"
            print(row, flush=True)


def learned(be, n_fit, seed):
    rng = np.random.default_rng(seed)
    xa, xb = rng.normal(size=(n_fit + NW, D)) / math.sqrt(K0), rng.normal(size=(n_fit + NW, D)) / math.sqrt(K1)
    frac = n_fit / (n_fit + NW)
    for steps, eps in ((50, 0.5), (100, 0.5), (100, 0.25)):
        t0 = time.perf_counter()
        est = fe.feat(xa, xb, Ua, Ub, steps=steps, eps=eps, fit_fraction=frac, rng=seed)
        wall = time.perf_counter() - t0
        d = est.diagnostics
        wf, wr = np.asarray(d["w_forward"]), np.asarray(d["w_reverse"])
        # the same fit (same split of the samples, same rng stream) for the drift error and the unescorted works
        esc = F.fit_linear_escort(xa[:n_fit], xb[:n_fit], be, tk.random.default_rng(seed + 100, be))
        wf0, wr0 = F.feat_works(esc.without_drift(), xa[n_fit:], xb[n_fit:], Ua, Ub, eps=eps, steps=steps, rng=7)
        z = (float(est.value) - DF) / float(est.stderr)
        print(
            f"  seed {seed} steps={steps:3d} eps={eps}: dF = {float(est.value):.4f} +- {float(est.stderr):.4f} "
            f"(z = {z:+.2f}); E[W_F] - dF = {wf.mean() - DF:.4f} >= 0 <= -E[W_R] ... {wr.mean() + DF:.4f}; "
            f"var W_F {wf.var():.4f} (unescorted {wf0.var():.2f}: {wf0.var() / wf.var():.0f}x), var W_R "
            f"{wr.var():.4f} (unescorted {wr0.var():.2f}: {wr0.var() / wr.var():.0f}x); drift rel. L2 error^2 "
            f"{drift_error(esc, rng):.1e}  [{wall:.1f} s]",
            flush=True,
        )


def main() -> None:
    n_fits = [int(v) for v in (sys.argv[1] if len(sys.argv) > 1 else "4000,16000").split(",")]
    seeds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    be = tk.get_backend("numpy")
    print(f"exact dF = {DF:.5f}")
    ceiling(be, np.random.default_rng(0))
    for n_fit in n_fits:
        print(f"learned linear escort (scheme='split'), {n_fit} fit samples + {NW} work paths per state")
        for seed in range(seeds):
            learned(be, n_fit, seed)


if __name__ == "__main__":
    main()
