"""The keyword tail shared by the samplers of unnormalized densities (MCMC, AIS/SMC), checked once at entry.

:class:`SamplerOptions` holds ``kernel, n_mcmc, step_size, adapt_step_size, target_accept, n_leapfrog, backend,
device, dtype, seed, progress``; building one validates every field (a ``ValueError`` naming the value), and
:meth:`SamplerOptions.resolve` turns ``backend/device/dtype/seed`` into a backend and a generator, all before the
first evaluation of a target.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any

from .._backend import Backend, resolve_backend
from ..random import Generator, default_rng
from .kernels import KERNELS, TARGET_ACCEPT, default_step_size

__all__ = ["SamplerOptions", "check_count"]


def check_count(name: str, value: Any, low: int) -> int:
    """``value`` as an int >= ``low`` (bools refused), else ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


@dataclasses.dataclass(frozen=True)
class SamplerOptions:
    """The shared sampler options (see the module docstring); invalid values raise ``ValueError`` on construction.

    Parameters
    ----------
    kernel : {"rwm", "ula", "mala", "hmc"}
        the MCMC kernel.
    n_mcmc : int
        MCMC steps per annealing step (AIS/SMC), >= 0.
    step_size : float or None
        initial step size (None: :func:`~transportkit.sampling.kernels.default_step_size`).
    adapt_step_size : bool
        adapt the step size toward ``target_accept``.
    target_accept : float or None
        target mean acceptance probability in (0, 1) (None: the kernel's default).
    n_leapfrog : int
        leapfrog steps per HMC step, >= 1.
    backend, device, dtype
        where to run (see :func:`transportkit.get_backend`).
    seed : int, None or Generator
        the random stream.
    progress : bool
        show a progress bar.
    """

    kernel: str = "mala"
    n_mcmc: int = 1
    step_size: float | None = None
    adapt_step_size: bool = True
    target_accept: float | None = None
    n_leapfrog: int = 5
    backend: Any = None
    device: Any = None
    dtype: Any = None
    seed: Any = None
    progress: bool = False

    def __post_init__(self) -> None:
        if self.kernel not in KERNELS:
            raise ValueError(f"unknown kernel {self.kernel!r}; choose one of {KERNELS}")
        object.__setattr__(self, "n_mcmc", check_count("n_mcmc", self.n_mcmc, 0))
        object.__setattr__(self, "n_leapfrog", check_count("n_leapfrog", self.n_leapfrog, 1))
        if self.step_size is not None:
            if isinstance(self.step_size, bool) or not isinstance(self.step_size, (int, float)):
                raise ValueError(f"step_size must be a positive number or None, got {self.step_size!r}")
            if not (math.isfinite(self.step_size) and self.step_size > 0):
                raise ValueError(f"step_size must be positive, got {self.step_size}")
        if self.target_accept is not None and not (
            isinstance(self.target_accept, (int, float)) and 0 < self.target_accept < 1
        ):
            raise ValueError(f"target_accept must be in (0, 1) or None, got {self.target_accept!r}")
        for name in ("adapt_step_size", "progress"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        s = self.seed
        if not (
            s is None
            or isinstance(s, Generator)
            or (isinstance(s, numbers.Integral) and not isinstance(s, bool) and s >= 0)
        ):
            if not hasattr(s, "bit_generator"):  # a numpy.random.Generator (SPEC 7) is accepted too
                raise ValueError(f"seed must be None, a non-negative int or a Generator, got {s!r}")

    @property
    def a_star(self) -> float | None:
        """The target acceptance of the adaptation (None: no adaptation)."""
        if not self.adapt_step_size:
            return None
        return TARGET_ACCEPT[self.kernel] if self.target_accept is None else float(self.target_accept)

    def initial_step_size(self, scale: float, dim: int) -> float:
        """``step_size`` if given, else the kernel's default for length scale ``scale`` in dimension ``dim``."""
        return float(self.step_size) if self.step_size is not None else default_step_size(self.kernel, scale, dim)

    def evals_per_step(self) -> int:
        """Target evaluations (value and gradient) per MCMC step."""
        return self.n_leapfrog if self.kernel == "hmc" else 1

    def resolve(self, *arrays: Any) -> tuple[Backend, Generator]:
        """The backend (from ``backend/device/dtype``, else the arrays) and the generator seeded by ``seed``."""
        be = resolve_backend(*arrays, backend=self.backend, device=self.device, dtype=self.dtype)
        return be, default_rng(self.seed, be)
