"""Exceptions raised by transportkit."""

from __future__ import annotations

__all__ = ["BackendUnavailableError", "CapabilityError"]


class CapabilityError(RuntimeError):
    """An algorithm needs a capability (autodiff, jit, sparse solves, ...) that the backend lacks.

    The message names the capability and the backends that provide it.
    """


class BackendUnavailableError(ImportError):
    """A known backend whose array library is not installed (or has no working device)."""
