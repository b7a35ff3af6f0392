"""Measures the numbers of issue 3 at full size (n = 20,000; fit on 10^5): mode weights, 16-d covariance, SW2.

Run: ``python benchmarks/peers/interpolants_issue_numbers.py`` (NumPy, float64; a few minutes).
"""

from __future__ import annotations

import time

import numpy as np

import transportkit as tk

ODE = ("ode", dict(steps=100, solver="rk4"))
SDE = ("sde", dict(steps=500, diffusion=1.0, solver="euler_maruyama"))


def main() -> None:
    T = tk.interpolants.eight_mode_mixture()
    f = tk.interpolants.exact_field(tk.Interpolant("linear"), T)
    w, n = T.weights, 20_000
    for method, kw in (ODE, SDE):
        x = tk.sample(f, n, method=method, seed=0, **kw).x
        frac = np.bincount(T.responsibilities(x).argmax(0), minlength=8) / n
        print(method, "max weight err / SE", np.max(np.abs(frac - w) / np.sqrt(w * (1 - w) / n)), flush=True)
    d = 16
    rng = np.random.default_rng(3)
    b = rng.normal(size=(d, d))
    C = b @ b.T / d + 0.2 * np.eye(d)
    mu = rng.normal(size=d)
    g = tk.interpolants.exact_field(tk.Interpolant("linear"), tk.targets.Gaussian(mu, C))
    for method, kw in (ODE, SDE):
        x = tk.sample(g, n, method=method, seed=0, **kw).x
        print(method, "16d rel Frobenius cov err", np.linalg.norm(np.cov(x.T) - C) / np.linalg.norm(C), flush=True)
    t0 = time.time()
    model = tk.interpolants.fit_velocity("linear", T.sample(100_000, seed=1), seed=0)
    ns = 5000
    xs = tk.sample(model, ns, steps=100, seed=3).x
    ref = tk.interpolants.sliced_w2(T.sample(ns, seed=4), T.sample(ns, seed=5))
    sw = tk.interpolants.sliced_w2(xs, T.sample(ns, seed=4))
    print("fit 1e5: SW2", sw, "ref", ref, "bar", 1.5 * ref + 0.05, f"({time.time() - t0:.1f} s)", flush=True)


if __name__ == "__main__":
    main()
