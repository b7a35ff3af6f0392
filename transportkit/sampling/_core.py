"""Former home of :class:`Samples` and the method registry (kept as re-exports for old import paths)."""

from __future__ import annotations

from .registry import DEFAULTS, METHODS, Method, register_method, sample
from .results import Samples

__all__ = ["DEFAULTS", "METHODS", "Method", "Samples", "register_method", "sample"]
