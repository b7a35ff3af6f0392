"""Sampling: :func:`sample` dispatches on the object and ``method`` through a small registry.

Built in here: generative transport with a field or a fitted model, ``method="ode"`` (probability flow) and
``method="sde"`` (forward SDE with diffusion :math:`\\varepsilon(t)`). Other modules add methods with
:func:`register_method`.
"""

from __future__ import annotations

from ._core import METHODS, Samples, register_method, sample
from .paths import InterpolantPath

__all__ = ["METHODS", "InterpolantPath", "Samples", "register_method", "sample"]
