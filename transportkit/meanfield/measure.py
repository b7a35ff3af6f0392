"""Former name of :mod:`transportkit.meanfield.experiments` ("measure" means the empirical measure in this
package); kept so that ``transportkit.meanfield.measure`` imports keep working."""

from __future__ import annotations

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

__all__ = [
    "Fluctuations",
    "PowerLawFit",
    "ScalingResult",
    "demo",
    "fit_power_law",
    "fluctuations",
    "plot_losses",
    "scaling_exponent",
    "steps_to_reach",
]
