r"""NETS, the non-equilibrium transport sampler (Albergo & Vanden-Eijnden, "NETS: A Non-Equilibrium Transport
Sampler", 2024, arXiv:2410.02711), with a drift learned by the PINN objective in a linear-in-parameters model
(least squares, any backend) and optionally an MLP (autodiff backends).

**Dynamics.** Along a path :math:`\log\rho_t` (default geometric from a normalized Gaussian base to the
target), with score :math:`s_t = \nabla\log\rho_t` and a drift :math:`b_t`,

.. math:: dX_t = \big(\varepsilon\,s_t(X_t) + b_t(X_t)\big)\,dt + \sqrt{2\varepsilon}\,dW_t,\qquad
          dA_t = \big(\nabla\cdot b_t + s_t\cdot b_t + \partial_t\log\rho_t\big)(X_t)\,dt,

so that :math:`E[e^{A_t}f(X_t)] = (Z_t/Z_0)\,E_{\rho_t}f` for any b and ε (U = -log ρ in the paper's
notation). On the grid :math:`t_k = k/K`, h = 1/K, Euler–Maruyama moves
:math:`x_{k+1} = x_k + h(b_k + \varepsilon s_k)(x_k) + \sqrt{2h\varepsilon}\,\xi_k`. Two weight rules:

- ``weights="fb"`` (default for ε > 0; exact for any h): the forward/backward kernel ratio
  :math:`q_F(x_{k+1}|x_k) = \mathcal N(x_k + h(b+\varepsilon s)(t_k, x_k), 2h\varepsilon I)`,
  :math:`q_B(x_k|x_{k+1}) = \mathcal N(x_{k+1} - h(b-\varepsilon s)(t_{k+1}, x_{k+1}), 2h\varepsilon I)`,

  .. math:: A = \sum_k\Big[\log\rho_{t_{k+1}}(x_{k+1}) - \log\rho_{t_k}(x_k)
            + \log q_B(x_k|x_{k+1}) - \log q_F(x_{k+1}|x_k)\Big],

  so that :math:`E[e^A] = Z_1/Z_0` exactly (importance sampling on path space; Crooks 1998, Neal 2001).
- ``weights="riemann"`` (any ε ≥ 0; O(h) bias): the left-point rule
  :math:`A \mathrel{+}= h(\nabla\cdot b + s\cdot b + \partial_t\log\rho)(t_k, x_k)`.

Estimates: :math:`\log\hat Z_1 = \log Z_0 + \operatorname{logmeanexp}(A)`, ESS as in AIS, standard error
:math:`\sqrt{(n/\mathrm{ESS} - 1)/(n-1)}`.

**Learning b.** :mod:`transportkit.sampling.nets.pinn` (least squares on the features of
:mod:`transportkit.sampling.nets.features`, refitted over ``rounds``), :mod:`transportkit.sampling.nets.mlp_drift`
(the PINN-trained MLP on torch/jax). :math:`-\sum_k h\,\bar c_k` is a second estimate of :math:`\log(Z_1/Z_0)`
(``info["log_Z_pinn"]``).

**Resampling.** ``resample="systematic"`` (or multinomial, stratified) resamples the final run's walkers when
ESS/n < ``ess_threshold`` as in SMC (Del Moral, Doucet & Jasra, "Sequential Monte Carlo samplers", JRSS B 2006),
over ``islands`` independent populations (:mod:`transportkit.sampling.resampling`): with one island the reported
variance is the sum of the epochs' delta-method variances, which ignores the correlations resampling creates (it
underestimates the seed-to-seed spread); with several it comes from the spread of the islands' estimates. With
K >= 2 islands the final run is K independent runs of n/K walkers with the trained drift, each from its own seed,
one after another in this process or as Dask tasks (``client=``), with the same numbers either way
(:mod:`transportkit.sampling.nets.islands`).

**Honest results** (docs/reliability.md). Arguments are checked at entry by :mod:`transportkit._validation`
before any target evaluation, including a step that is unstable on the Gaussian base (h·ε ≥ 2σ₀²) and a user drift
probed once for its shapes. Every learned drift is scored on fresh walkers against the drifts tried before it
(b = 0 first); one that loses is replaced by the best (``select_best``) with a
:class:`~transportkit.errors.ConvergenceWarning`. A collapsed final population (ESS below 10 walkers) warns with
:class:`~transportkit.errors.DegenerateWeightsWarning`, walkers whose log-weight became NaN/+inf are counted
(``info["nonfinite_walkers"]``, :class:`~transportkit.errors.NonFiniteWarning`), and a target whose log-density is
constant on every initial walker (improper) warns. Randomness: ``rng=`` (SciPy SPEC 7; ``seed=`` deprecated).

**Modules** of :mod:`transportkit.sampling.nets`: ``features`` (drift features), ``pinn`` (least squares),
``mlp_drift`` (MLP), ``drift`` (:class:`TrainedDrift`), ``settings`` (:class:`RunSettings`,
:class:`TrainSettings`), ``simulate`` (the dynamics, compiled on JAX), ``entry`` (what a call resolves and checks at
entry: backend, streams, path, drift), ``driver`` (:func:`train`, :func:`sample_with_drift`), ``islands`` (the
final run over K >= 2 islands, here or as Dask tasks with ``client=``), ``sampler`` (:func:`nets`).
"""

from __future__ import annotations

from ._compat import _families as _families
from ._compat import _init_net as _init_net
from ._compat import _run as _run
from ._compat import _summary as _summary
from ._compat import _train_mlp as _train_mlp
from .drift import TrainedDrift, combined_drift
from .driver import sample_with_drift, streams, train
from .features import DriftModel, make_families, quantile_grid
from .features import _Affine as _Affine
from .features import _RadialRBF as _RadialRBF
from .features import _Score as _Score
from .features import _Separable as _Separable
from .mlp_drift import init_net, mlp_drift_div, mlp_scales, pinn_data, train_mlp
from .pinn import fit_drift_model, interpolated_drift, log_Z_pinn
from .sampler import nets
from .settings import RunSettings, TrainSettings
from .simulate import Grid, Trajectory, simulate

# private names of the single-module nets.py, kept importable (those whose signature changed: ._compat)
_quantile_grid = quantile_grid
_fit = fit_drift_model
_model_drift = interpolated_drift
_combined_drift = combined_drift
_pinn_data = pinn_data
_mlp_scales = mlp_scales

__all__ = [
    "DriftModel",
    "Grid",
    "RunSettings",
    "TrainSettings",
    "TrainedDrift",
    "Trajectory",
    "combined_drift",
    "fit_drift_model",
    "init_net",
    "interpolated_drift",
    "log_Z_pinn",
    "make_families",
    "mlp_drift_div",
    "mlp_scales",
    "nets",
    "pinn_data",
    "quantile_grid",
    "sample_with_drift",
    "simulate",
    "streams",
    "train",
    "train_mlp",
]
