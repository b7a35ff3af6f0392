"""Former name of :mod:`transportkit.meanfield.experiments` ("measure" means the empirical measure in this
package); kept so that ``transportkit.meanfield.measure`` imports keep working: every name is looked up there."""

from __future__ import annotations

from typing import Any

from . import experiments as _experiments

__all__ = list(_experiments.__all__)


def __getattr__(name: str) -> Any:
    return getattr(_experiments, name)
