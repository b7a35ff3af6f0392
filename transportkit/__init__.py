"""transportkit: measure transport and the sampling, estimation and simulation methods built on it.

Every algorithm is written once against the Python Array API standard and runs on NumPy, PyTorch, JAX,
CuPy and ``array_api_strict``; see :func:`get_backend`.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._backend import Adapter, Backend, get_backend, resolve_backend
from ._results import Estimate, Result
from .errors import BackendUnavailableError, CapabilityError

__version__ = "0.1.0"

__all__ = [
    "Adapter",
    "Backend",
    "BackendUnavailableError",
    "CapabilityError",
    "Estimate",
    "Result",
    "backends",
    "get_backend",
    "numerics",
    "plot",
    "random",
    "resolve_backend",
]

_SUBMODULES = {
    "backends",
    "control",
    "fokker_planck",
    "flowmaps",
    "free_energy",
    "galerkin",
    "integrate",
    "interpolants",
    "meanfield",
    "numerics",
    "plot",
    "random",
    "sampling",
    "targets",
    "tpt",
}
#: public names that live in a submodule: name -> submodule (imported on first use)
_LAZY_ATTRS = {"sample": "sampling", "Interpolant": "interpolants", "Samples": "sampling"}


def __getattr__(name: str) -> Any:  # lazy submodules keep `import transportkit` light
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _LAZY_ATTRS:
        return getattr(importlib.import_module(f".{_LAZY_ATTRS[name]}", __name__), name)
    raise AttributeError(f"module 'transportkit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _SUBMODULES | set(_LAZY_ATTRS))
