"""Entry checks shared by the public functions of :mod:`transportkit.galerkin` (built on
:mod:`transportkit._validation`; the rules are in docs/reliability.md)."""

from __future__ import annotations

from typing import Any

from .._validation import as_points, as_real
from .params import Parametrization
from .pde import PDE


def check_problem(pde: Any, param: Any) -> None:
    """``pde`` a :class:`PDE`, ``param`` a :class:`Parametrization` of the same dimension (``TypeError`` /
    ``ValueError`` naming the argument)."""
    if not isinstance(pde, PDE):
        raise TypeError(f"pde must be a transportkit.galerkin.PDE, got {type(pde).__name__}")
    if not isinstance(param, Parametrization):
        raise TypeError(f"param must be a transportkit.galerkin.Parametrization, got {type(param).__name__}")
    if param.d != pde.d:
        raise ValueError(f"param has dimension {param.d} but pde has dimension {pde.d}")


def theta_array(name: str, theta: Any, param: Parametrization, be: Any) -> Any:
    """``theta`` as a finite ``(p,)`` real array of backend ``be``, ``p = param.n_params``."""
    return as_points(name, theta, be, ndim=1, dim=param.n_params)


def points_array(name: str, X: Any, d: int, be: Any) -> Any:
    """``X`` as a finite ``(n, d)`` real array of backend ``be``."""
    return as_points(name, X, be, ndim=2, dim=d)


def time_value(name: str, t: Any) -> float:
    """A finite real time (Python/NumPy number or real 0-d array) as a float."""
    return as_real(name, t)
