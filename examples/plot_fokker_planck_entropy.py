"""
Probability flow: the entropy of particles in a harmonic trap
=============================================================

Boffi & Vanden-Eijnden, "Probability flow solution of the Fokker–Planck equation", Mach. Learn.: Sci. Technol.
4, 035012 (2023, arXiv:2206.04642), figure 2: interacting particles in a harmonic trap, their law moved by the
probability flow :math:`\\dot X = b(X) - D \\nabla \\log \\rho_t(X)` with the score refitted to the samples at every
step (score-based transport modelling). Along the flow :math:`\\frac{d}{dt}\\log\\rho_t(X_t) = -\\nabla\\cdot v_t`,
which gives the entropy :math:`S_t = -E\\log\\rho_t`; the law stays Gaussian, so the exact
:math:`\\frac12\\log\\det(2\\pi e C_t)` is known. Here 5 particles in 2-D (10 coordinates), 1000 samples, 50 Heun
steps (the paper: 50 particles, dimension 100).
"""

import matplotlib.pyplot as plt

import transportkit.fokker_planck as fp
from transportkit import plot as tkplot

trap = fp.harmonic_trap(n_particles=5, d=2)
x0 = trap.sample0(1000, rng=4)
res = fp.sbtm(trap.drift, trap.D, x0, (0.0, 1.0), steps=50, div_drift=trap.divergence,
              log_density0=trap.log_density0, entropy0=float(trap.entropy(0.0)), rng=5)

fig, ax = plt.subplots(figsize=(6.5, 4.2), layout="constrained")
tkplot.plot_entropy({"SBTM, 50 Heun steps": res}, exact=trap.entropy, ax=ax)
ax.set_title("entropy of 5 particles in a harmonic trap")
