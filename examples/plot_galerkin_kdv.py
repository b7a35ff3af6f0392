"""
Neural Galerkin: the KdV two-soliton
====================================

Bruna, Peherstorfer & Vanden-Eijnden, "Neural Galerkin schemes with active learning for high-dimensional
evolution equations", J. Comput. Phys. (2024, arXiv:2203.01360), figure 4: ten periodic Gaussian units carry
the two solitons of the Korteweg–de Vries equation :math:`u_t + 6 u u_x + u_{xxx} = 0`; the parameters move by
the least-squares Galerkin projection of the equation onto the tangent space of the parametrization. Here on a
short horizon (t = 0.25, 250 RK4 steps; the paper's t = 4 run is ``transportkit.galerkin.run_kdv``), against the
exact two-soliton solution, with the pointwise error below.
"""

import matplotlib.pyplot as plt
import numpy as np

import transportkit as tk
from transportkit import plot as tkplot
from transportkit.galerkin import kdv, kdv_guess, relative_l2_error, solve

be = tk.get_backend("numpy")
param, theta0 = kdv_guess(be)
res = solve(kdv(), param, theta0, 0.25, 1e-3, ridge=1e-8, save_every=50, fit_iters=150)
x = np.linspace(-20.0, 40.0, 2048, endpoint=False)[:, None]
for t in res.t:
    print(f"t = {float(t):4.2f}: relative L2 error {relative_l2_error(res, x, float(t)):.2e}")

fig, (ax, err) = plt.subplots(2, 1, figsize=(8, 5.5), sharex=True, height_ratios=[3, 1.3], layout="constrained")
tkplot.plot_galerkin(res, x, ax=ax, error_ax=err)
ax.set_xlim(-15, 15)
