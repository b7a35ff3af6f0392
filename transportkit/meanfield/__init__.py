"""Shallow networks as interacting particles: gradient flow, SGD, birth–death, fluctuations.

Sources: Rotskoff & Vanden-Eijnden, "Trainability and accuracy of artificial neural networks: an interacting
particle system approach", Comm. Pure Appl. Math. 2022 (arXiv:1805.00915); Rotskoff, Jelassi, Bruna &
Vanden-Eijnden, "Global convergence of neuron birth-death dynamics", ICML 2019 (arXiv:1902.01843).

A network :math:`f_n(x) = \\frac1n\\sum_i c_i\\varphi(x; w_i)` is the empirical measure of its ``n`` particles;
training moves them with the velocity :math:`-\\nabla V(\\theta_i;\\mu_n)` of the local potential and, with
birth–death, kills/clones them at rates :math:`\\alpha(V_i - \\bar V)`.
Modules: :mod:`.units` (activations), :mod:`.network` (fields), :mod:`.problems` (teachers with known answers),
:mod:`.dynamics` (training runs), :mod:`.experiments` (scaling, fluctuations), :mod:`.ebm` (energy-based models
trained by gradient descent–ascent), :mod:`.ebm_regimes` (maximum-likelihood EBMs, feature vs lazy),
:mod:`.limited_sample` (generation from n samples).
See ``docs/meanfield.md``.
"""

from __future__ import annotations

from .dynamics import Trajectory, birth_death_indices, gradient_flow, sgd, train
from .ebm import EBMResult, ebm_gda, energy_gradient_x
from .ebm_regimes import EBMFit, PlantedEBM, ebm_mle, planted_ebm
from .experiments import (
    Fluctuations,
    PowerLawFit,
    ScalingResult,
    demo,
    fit_power_law,
    fluctuations,
    plot_losses,
    scaling_exponent,
    steps_to_reach,
)
from .limited_sample import LimitedSampleResult, empirical_denoiser, empirical_flow, limited_sample_error
from .network import FieldEval, Particles, ShallowNetwork, mc_field
from .problems import (
    DataProblem,
    GaussianTeacherStudent,
    Problem,
    gaussian_teacher_student,
    quadratic_population_error,
    quadratic_teacher_student,
    sphere_uniform,
    teacher_student,
    three_layer,
    three_spin,
)
from .units import Gaussian, Quadratic, ReLU, Ridge, Sigmoid, Tanh, Unit, get_unit

__all__ = [
    "DataProblem",
    "EBMFit",
    "EBMResult",
    "FieldEval",
    "Fluctuations",
    "Gaussian",
    "GaussianTeacherStudent",
    "LimitedSampleResult",
    "Particles",
    "PlantedEBM",
    "PowerLawFit",
    "Problem",
    "Quadratic",
    "ReLU",
    "Ridge",
    "ScalingResult",
    "ShallowNetwork",
    "Sigmoid",
    "Tanh",
    "Trajectory",
    "Unit",
    "birth_death_indices",
    "demo",
    "ebm_gda",
    "ebm_mle",
    "empirical_denoiser",
    "empirical_flow",
    "energy_gradient_x",
    "fit_power_law",
    "fluctuations",
    "gaussian_teacher_student",
    "get_unit",
    "gradient_flow",
    "limited_sample_error",
    "mc_field",
    "planted_ebm",
    "plot_losses",
    "quadratic_population_error",
    "quadratic_teacher_student",
    "scaling_exponent",
    "sgd",
    "sphere_uniform",
    "steps_to_reach",
    "teacher_student",
    "three_layer",
    "three_spin",
    "train",
]
