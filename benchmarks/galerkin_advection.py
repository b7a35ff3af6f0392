"""The advection benchmark of Bruna, Peherstorfer & Vanden-Eijnden (arXiv:2203.01360) with the paper's coefficients
a_i(t) = i sin(s_i pi t) + 1.25 i, s_i = 2(1 + (i - 1)/(d - 1)), d = 5, T = 1.8, and its initial condition (two
normal densities), ``g.advection(5, coefficients="paper")``: relative L2 error against the exact solution
(Monte Carlo over points around the packets) at t = 0.6, 1.2, 1.8 for

- 2 diagonal Gaussian units (the solution is representable exactly), adaptive particles, RK4, dt = 1e-2 and 1e-3
  (the error is then the time-discretization error: order 4 expected);
- the same units with 2000 uniform samples on [0, 15]^5 (the paper's point: uniform samples miss the packets).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/galerkin_advection.py
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

from transportkit import galerkin as g


def main() -> None:
    d, T = 5, 1.8
    pde = g.advection(d, coefficients="paper")
    P = g.GaussianUnits(2, d, widths="diagonal")
    c, st = np.asarray(pde.info["weights"]), np.asarray(pde.info["stds"])
    cen = np.asarray(pde.info["centers"])
    th0 = np.concatenate([c, (1 / st).ravel(), cen.ravel()])
    rng = np.random.default_rng(0)

    def err(res, t):
        A = np.asarray(pde.info["shift_vec"](t))
        pts = np.concatenate([cen[j] + A + 3 * st[j] * rng.normal(size=(20000, d)) for j in range(2)])
        return g.relative_l2_error(res, pts, t)

    runs = [("adaptive particles (2 x 100), dt = 1e-2", dict(sampler=g.AdaptiveParticles(100), dt=1e-2)),
            ("adaptive particles (2 x 100), dt = 5e-3", dict(sampler=g.AdaptiveParticles(100), dt=5e-3)),
            ("adaptive particles (2 x 100), dt = 2.5e-3", dict(sampler=g.AdaptiveParticles(100), dt=2.5e-3)),
            ("2000 uniform samples on [0, 15]^5, dt = 1e-2", dict(sampler=g.UniformSampler(0, 15, 2000), dt=1e-2))]
    for name, kw in runs:
        t0 = time.perf_counter()
        dt = kw.pop("dt")
        try:
            res = g.solve(pde, P, th0, T, dt, fit=False, rng=1, save_every=round(0.6 / dt), **kw)
            errs = [err(res, t) for t in (0.6, 1.2, 1.8)]
            print(f"{name}: rel. L2 error at t = 0.6, 1.2, 1.8: " + ", ".join(f"{e:.2e}" for e in errs)
                  + f"  ({time.perf_counter() - t0:.0f} s)", flush=True)
        except FloatingPointError as exc:
            print(f"{name}: FAILED ({exc})", flush=True)


if __name__ == "__main__":
    main()
