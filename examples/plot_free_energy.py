"""
Crooks' relation and the bias of Jarzynski's estimator
======================================================

Crooks, "Entropy production fluctuation theorem and the nonequilibrium work relation for free energy
differences", Phys. Rev. E 60, 2721 (1999), figure 1: the forward work density and the mirrored reverse one cross
at :math:`W = \\Delta F`, and :math:`\\log P_F(W)/P_R(-W) = W - \\Delta F`. Gaussian works with mean
:math:`\\Delta F + \\sigma^2/2` and variance :math:`\\sigma^2` satisfy it exactly. The table below it compares
one-sided exponential averaging (Jarzynski/Zwanzig) with Bennett's acceptance ratio as the number of works grows:
EXP is biased upward at small :math:`n`, BAR is not (Shirts et al., Phys. Rev. Lett. 91, 140601, 2003).
"""

import matplotlib.pyplot as plt
import numpy as np

import transportkit as tk
from transportkit import plot as tkplot

rng = np.random.default_rng(0)
dF, s = 1.0, 2.0
wf = rng.normal(dF + s * s / 2, s, 20_000)
wr = rng.normal(-dF + s * s / 2, s, 20_000)

fig, axs = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
tkplot.plot_work_distributions(wf, wr, delta_f=dF, ax=axs[0])
tkplot.plot_crooks(wf, wr, ax=axs[1])

# %%
# EXP and BAR from the first ``n`` works of each direction (exact :math:`\Delta F = 1`).

print(f"{'n':>6} {'EXP forward':>20} {'BAR':>20}")
for n in (30, 100, 1000, 20_000):
    e, b = tk.free_energy.exp(wf[:n], ess_warning=0), tk.free_energy.bar(wf[:n], wr[:n], ess_warning=0)
    print(f"{n:6d} {float(e.value):10.3f} +- {float(e.stderr):.3f} {float(b.value):10.3f} +- {float(b.stderr):.3f}")
