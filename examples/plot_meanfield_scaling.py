"""
Mean-field networks: the loss scales as 1/n
===========================================

Rotskoff & Vanden-Eijnden, "Trainability and accuracy of artificial neural networks: an interacting particle
system approach", Comm. Pure Appl. Math. (2022, arXiv:1805.00915), figure 2: a network of :math:`n` units is the
empirical measure of :math:`n` particles, and its error after training is a finite-:math:`n` fluctuation of order
:math:`1/n`. With Gaussian units, a Gaussian teacher of infinite width and particles started from the teacher's own
measure, the loss is that fluctuation alone; the fitted exponent :math:`a` of :math:`\\ell \\approx C n^{-a}` is
close to 1. Left: loss curves of the 3-spin model with and without birth–death (Rotskoff, Jelassi, Bruna &
Vanden-Eijnden, ICML 2019, arXiv:1902.01843).
"""

import matplotlib.pyplot as plt

import transportkit.meanfield as mf
from transportkit import plot as tkplot

S = mf.three_spin(d=6, n_data=1000, seed=0)
p0 = S.init_particles(128, seed=1)
runs = {
    "gradient flow": mf.train(S, p0, dt=0.5, n_steps=120, seed=2, record_every=10),
    "birth-death + GF": mf.train(S, p0, dt=0.5, n_steps=120, seed=2, record_every=10, birth_death=1.0),
}

G = mf.gaussian_teacher_student(d=2, m_teacher=1, tau=1.0, init="teacher", seed=0)
res = mf.scaling_exponent(G, [16, 32, 64, 128, 256], seeds=range(4), dt=0.5, n_steps=200)
print(f"exponent a = {res.fit.a:.2f} +- {res.fit.a_stderr:.2f}")

fig, axs = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
tkplot.plot_losses(runs, ax=axs[0], title="3-spin model (d = 6, n = 128)")
tkplot.plot_scaling(res, ax=axs[1])
axs[1].set_title("Gaussian teacher, teacher initialization")
