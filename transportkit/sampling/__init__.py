"""Sampling: :func:`sample` dispatches on the object and ``method`` through a small registry.

Built in: generative transport with a field or a fitted model (``method="ode"``, probability flow, and
``method="sde"``, forward SDE with diffusion :math:`\\varepsilon(t)`), and the samplers of unnormalized densities
(``"ais"``, ``"smc"``, ``"nets"``, ``"mala"``, ``"hmc"``, ``"rwm"``, ``"ula"``). :data:`METHODS` is filled on import;
other modules add methods with :func:`register_method`.
"""

from __future__ import annotations

from . import ebm, flow_mcmc, schrodinger_follmer  # noqa: F401  register "flow_mcmc", "schrodinger_follmer"
from . import target_samplers as _target_samplers  # noqa: F401  registers the target samplers
from . import transport as _transport  # noqa: F401  registers "ode" and "sde"
from .paths import InterpolantPath
from .registry import METHODS, register_method, sample
from .results import Samples

__all__ = ["METHODS", "InterpolantPath", "Samples", "register_method", "sample"]
