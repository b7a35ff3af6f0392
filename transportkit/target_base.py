"""The home users knew for the base class of targets and the targets from callables: a re-export of
:mod:`transportkit.target_core` (:class:`Target`, :class:`BoundTarget`, :func:`is_traced`) and
:mod:`transportkit.callable_target` (:class:`CallableTarget`, :func:`from_log_prob`, :func:`gradient_free`).

``callable_target`` imports ``target_core``, not this module, so the re-export closes no import circle.
"""

from __future__ import annotations

from .callable_target import CallableTarget, from_log_prob, gradient_free
from .target_core import BoundTarget, Target, is_traced

__all__ = ["BoundTarget", "CallableTarget", "Target", "from_log_prob", "gradient_free", "is_traced"]
