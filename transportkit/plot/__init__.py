"""Pictures for every family, in the style of deeptime, arviz and scikit-learn: ``plot_*(..., ax=None) -> Axes``.

matplotlib is an optional extra (``pip install 'transportkit[plot]'``), imported only when a function draws.
Every function draws on the ``ax`` it is given (or, without one, on a new pyplot figure), returns that Axes, never
changes matplotlib's backend or settings and never writes a file: save the figure yourself
(``ax.figure.savefig(...)``).

=============================  ===========================================================================
family                         functions
=============================  ===========================================================================
samplers, interpolants         :func:`plot_samples` (2-D scatter over target contours), :func:`plot_marginals`,
                               :func:`plot_mode_weights`, :func:`plot_log_Z`, :func:`plot_ess`
free energies                  :func:`plot_work_distributions`, :func:`plot_crooks`
transition path theory         :func:`plot_tpt` (committor, potential, A and B, flux, pathways)
Neural Galerkin                :func:`plot_galerkin` (solution vs reference, error panel)
mean field                     :func:`plot_losses`, :func:`plot_scaling`
spectra                        :func:`plot_energy_spectrum`
Fokker–Planck                  :func:`plot_entropy`
=============================  ===========================================================================
"""

from __future__ import annotations

from .fokker_planck import plot_entropy
from .free_energy import plot_crooks, plot_work_distributions
from .galerkin import plot_galerkin
from .meanfield import plot_losses, plot_scaling
from .samples import plot_ess, plot_log_Z, plot_marginals, plot_mode_weights, plot_samples
from .spectra import plot_energy_spectrum
from .tpt import plot_tpt

__all__ = [
    "plot_crooks",
    "plot_energy_spectrum",
    "plot_entropy",
    "plot_ess",
    "plot_galerkin",
    "plot_log_Z",
    "plot_losses",
    "plot_marginals",
    "plot_mode_weights",
    "plot_samples",
    "plot_scaling",
    "plot_tpt",
    "plot_work_distributions",
]
