"""Former home of the target-sampler registrations (kept as re-exports for old import paths)."""

from __future__ import annotations

from .target_samplers import demo, is_target

__all__ = ["demo", "is_target"]
