"""
NETS against AIS: log Z of a 40-mode mixture
============================================

Albergo & Vanden-Eijnden, "NETS: a non-equilibrium transport sampler" (2024, arXiv:2410.02711), table 1: the
estimate of :math:`\\log Z` of the 2-D, 40-mode Gaussian mixture GMM40 (exact value 0) and the effective sample
size. Here with 500 walkers and 10, 30 and 100 steps for annealed importance sampling (MALA moves) and for
NETS without a learned drift (:math:`\\epsilon = 1`, ``rounds=0``); the error bars are ±2 standard errors.
"""

import matplotlib.pyplot as plt

import transportkit as tk
from transportkit import plot as tkplot

target = tk.targets.GMM40()
n, steps = 500, [10, 30, 100]
runs = {
    "AIS (MALA)": [tk.sample(target, n, method="ais", steps=k, seed=0) for k in steps],
    "NETS (eps=1, no drift)": [tk.sample(target, n, method="nets", steps=k, rounds=0, seed=0) for k in steps],
}
for label, rs in runs.items():
    for k, r in zip(steps, rs, strict=True):
        print(f"{label:24s} steps {k:4d}: log Z = {r.log_Z:+.3f} +- {r.log_Z_stderr:.3f}, ESS = {r.ess:6.1f} / {n}, "
              f"modes visited {target.modes_visited(r.x)}/40")

fig, axs = plt.subplots(1, 3, figsize=(15, 4.5), layout="constrained")
tkplot.plot_samples(runs["AIS (MALA)"][-1].x, target, ax=axs[0], bounds=((-55, 55), (-55, 55)), grid=200,
                    label="AIS, 100 steps")
tkplot.plot_log_Z(steps, runs, truth=0.0, ax=axs[1])
tkplot.plot_ess(steps, runs, ax=axs[2])
