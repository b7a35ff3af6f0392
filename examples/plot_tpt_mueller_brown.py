"""
Transition path theory on the Müller–Brown potential
====================================================

Metzner, Schütte & Vanden-Eijnden, "Transition path theory for Markov jump processes", Multiscale Model. Simul.
7, 1192 (2009), figures 5–6: the committor, the reactive flux and the dominant reaction pathways of a diffusion
on the Müller–Brown potential, discretized as a jump process on a grid (here 80 x 80 states, :math:`\\beta =
0.1`). A is the deep minimum at the top left, B the one at the bottom right; the arrows are the effective flux
:math:`F_i = \\sum_j f^+_{ij}(x_j - x_i)`, and each pathway carries the share of the total flux its bottleneck
allows (Cameron & Vanden-Eijnden 2014).
"""

import matplotlib.pyplot as plt

import transportkit as tk
from transportkit import plot as tkplot

Q, xy, A, B = tk.tpt.mueller_brown(n=80, beta=0.1)
rf = tk.tpt.reactive_flux(Q, A, B)
print(f"rate k_AB = {rf.rate:.4e}, total flux = {rf.total_flux:.4e}, mean first passage time = {rf.mfpt:.4e}")

fig, axs = plt.subplots(1, 2, figsize=(14, 5.5), layout="constrained")
tkplot.plot_tpt(rf, xy, ax=axs[0], potential=tk.tpt.mueller_brown_potential, paths=3)
tkplot.plot_tpt(rf, xy, ax=axs[1], show="density", potential=tk.tpt.mueller_brown_potential, paths=0, flux=False)
axs[1].set_title("where reactive trajectories spend their time")
