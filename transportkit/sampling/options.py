"""The keyword tail shared by the samplers of unnormalized densities (MCMC, AIS/SMC), checked once at entry.

:class:`SamplerOptions` holds ``kernel, n_mcmc, max_mcmc, precondition, step_size, adapt_step_size, target_accept,
n_leapfrog, backend, device, dtype, rng, progress`` (``seed`` is the deprecated alias of ``rng``); building one
validates every field through :mod:`transportkit._validation` (an error naming the argument and the function the user
called), and :meth:`SamplerOptions.resolve` turns ``backend/device/dtype/rng`` into a backend and a generator, all
before the first evaluation of a target. That last part, :class:`Placement`, is the tail every sampler shares (NETS
extends it with its path, :class:`transportkit.sampling.nets.entry.CallOptions`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .._backend import Backend, resolve_backend
from .._validation import as_bool, as_choice, as_count, as_probability, as_real
from ..random import SEED_DEPRECATED, Generator, resolve_rng
from .kernels import KERNELS, TARGET_ACCEPT, default_step_size

__all__ = ["PRECONDITIONERS", "Placement", "SamplerOptions", "check_count", "check_target_dim"]

#: preconditioners of the AIS/SMC moves (see :func:`~transportkit.sampling.kernels.particle_scale`)
PRECONDITIONERS = ("diag", "full", "none")


def check_count(name: str, value: Any, low: int) -> int:
    """Deprecated: :func:`transportkit._validation.as_count` (kept for callers outside the samplers)."""
    return as_count(name, value, low)


def check_target_dim(where: str, target: Any) -> None:
    """A target's ``dim`` attribute, when it has one, must be a positive integer (``2.5`` is not truncated)."""
    d = getattr(target, "dim", None)
    if d is not None and not isinstance(target, (tuple, list)):
        as_count(f"{where}: target.dim", d, 1)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Placement:
    """Where a sampler call runs (``backend``, ``device``, ``dtype``; see :func:`transportkit.get_backend`) and the
    randomness it draws (``rng``, SciPy SPEC 7; ``seed`` is its deprecated alias): the keyword tail every sampler
    shares, resolved once at entry by :meth:`resolve`."""

    backend: Any = None
    device: Any = None
    dtype: Any = None
    rng: Any = None
    seed: Any = SEED_DEPRECATED

    def resolve(self, *arrays: Any) -> tuple[Backend, Generator]:
        """The backend (from ``backend/device/dtype``, else the arrays) and the generator from ``rng`` (or the
        deprecated ``seed``, with a ``DeprecationWarning``)."""
        be = resolve_backend(*arrays, backend=self.backend, device=self.device, dtype=self.dtype)
        return be, resolve_rng(self.rng, be, seed=self.seed)


@dataclasses.dataclass(frozen=True, kw_only=True)
class SamplerOptions(Placement):
    """The shared sampler options (see the module docstring; the :class:`Placement` fields and :meth:`resolve` are
    inherited, keywords only); invalid values raise on construction
    (``TypeError`` for a wrong type, ``ValueError`` for a value out of range), the message naming ``where``.

    Parameters
    ----------
    kernel : {"rwm", "ula", "mala", "hmc"}
        the MCMC kernel.
    n_mcmc : int or None
        MCMC moves per annealing step (AIS/SMC), >= 0; ``None`` (default): adaptive, between 1 and ``max_mcmc``
        (see :mod:`transportkit.sampling.ais`).
    max_mcmc : int
        the cap of the adaptive number of moves, >= 1.
    precondition : {"diag", "full", "none"}
        AIS/SMC: the moves' proposal scaled by the weighted particles' standard deviations (``"diag"``), their
        covariance (``"full"``) or not at all; with a preconditioner ``step_size`` is relative to it.
    step_size : float or None
        initial step size, finite and > 0 (None: :func:`~transportkit.sampling.kernels.default_step_size`).
    adapt_step_size : bool
        adapt the step size toward ``target_accept``.
    target_accept : float or None
        target mean acceptance probability in (0, 1) (None: the kernel's default).
    n_leapfrog : int
        leapfrog steps per HMC step, >= 1.
    backend, device, dtype
        where to run (see :func:`transportkit.get_backend`).
    rng : None, int, numpy.random.Generator or transportkit Generator
        the random stream (SPEC 7); ``seed`` is its deprecated alias.
    progress : bool
        show a progress bar.
    where : str
        the function the user called, for error messages.
    """

    kernel: str = "mala"
    n_mcmc: int | None = 1
    step_size: float | None = None
    adapt_step_size: bool = True
    target_accept: float | None = None
    n_leapfrog: int = 5
    progress: bool = False
    max_mcmc: int = 10
    precondition: str = "none"
    where: str = "sampler"

    def __post_init__(self) -> None:
        w = self.where
        as_choice(f"{w}: kernel", self.kernel, KERNELS)
        if self.n_mcmc is not None:
            object.__setattr__(self, "n_mcmc", as_count(f"{w}: n_mcmc", self.n_mcmc, 0))
        object.__setattr__(self, "max_mcmc", as_count(f"{w}: max_mcmc", self.max_mcmc, 1))
        object.__setattr__(self, "n_leapfrog", as_count(f"{w}: n_leapfrog", self.n_leapfrog, 1))
        pre = "none" if self.precondition is None else self.precondition
        object.__setattr__(self, "precondition", as_choice(f"{w}: precondition", pre, PRECONDITIONERS))
        if self.step_size is not None:
            h = as_real(f"{w}: step_size", self.step_size, low=0.0, low_open=True)
            object.__setattr__(self, "step_size", h)
        if self.target_accept is not None:
            object.__setattr__(self, "target_accept", as_probability(f"{w}: target_accept", self.target_accept))
        for name in ("adapt_step_size", "progress"):
            object.__setattr__(self, name, as_bool(f"{w}: {name}", getattr(self, name)))

    @property
    def adaptive_moves(self) -> bool:
        """Whether the number of moves per annealing step is adaptive (``n_mcmc=None``)."""
        return self.n_mcmc is None

    @property
    def max_moves(self) -> int:
        """The most moves an annealing step makes (``n_mcmc``, or ``max_mcmc`` when adaptive)."""
        return self.max_mcmc if self.n_mcmc is None else self.n_mcmc

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
