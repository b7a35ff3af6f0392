"""Linear diffusions with closed-form answers: the tests and benchmarks of the Fokker–Planck tools.

- :func:`ornstein_uhlenbeck`: ``dX = −B X dt + √2 dW`` with non-symmetric ``B``; stationary covariance ``Σ`` solves
  ``BΣ + ΣBᵀ = 2I``, score ``s = −Σ⁻¹x``, probability-flow velocity ``v = (Σ⁻¹ − B)x`` and entropy production
  ``Π = tr((Σ⁻¹ − B)Σ(Σ⁻¹ − B)ᵀ)``, zero iff ``B = Σ⁻¹`` (equilibrium).
- :func:`harmonic_trap`: the benchmark of Boffi & Vanden-Eijnden (2023, arXiv 2206.04642, §"harmonically interacting
  particles"): ``N`` particles in ``d`` dimensions, ``bᵢ = μ(t) − ½xᵢ − ½x̄`` with ``μ(t) = 2(cos π²t, sin π²t)``,
  ``D = 0.25``, ``ρ₀ = N(μ(0), σ₀² I)``. The drift is linear, so the law stays Gaussian; its covariance splits into the
  ``(N − 1)d`` relative modes (rate ½) and the ``d`` centre-of-mass modes (rate 1), each
  ``c(t) = σ₀² e^{−2kt} + (D/k)(1 − e^{−2kt})``, and the exact entropy is ``½ Σ log(2πe c)``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

from .._backend import host_backend
from .._validation import as_count, as_real
from ..random import default_rng

#: host arrays (NumPy through the adapter): the closed forms are computed once, on the host
_HB = host_backend()
_xp = _HB.xp

__all__ = ["HarmonicTrap", "OrnsteinUhlenbeck", "harmonic_trap", "ornstein_uhlenbeck"]


@dataclasses.dataclass(frozen=True)
class OrnsteinUhlenbeck:
    """``dX = −B X dt + √2 dW`` (``D = 1``) with its stationary law and entropy production (host NumPy values)."""

    B: Any
    Sigma: Any
    entropy_production: float

    def drift(self, t: Any, x: Any) -> Any:
        """``b(x) = −B x`` for rows ``x``."""
        return -(x @ _like(self.B, x).T)

    def score(self, x: Any) -> Any:
        """``∇ log ρ(x) = −Σ⁻¹ x`` of the stationary law."""
        return -(x @ _like(_xp.linalg.inv(self.Sigma), x))

    def sample(self, n: int, rng: Any = None) -> Any:
        """``n`` draws of the stationary law ``N(0, Σ)`` (host NumPy array; ``rng`` as in SPEC 7)."""
        z = default_rng(rng, _HB).normal((as_count("n", n), self.Sigma.shape[0]))
        return z @ _xp.linalg.cholesky(self.Sigma).T


def _like(a: Any, x: Any) -> Any:
    """The constant ``a`` as an array of ``x``'s library, dtype and device."""
    from array_api_compat import array_namespace

    xp = array_namespace(x)
    return xp.asarray(a, dtype=x.dtype, device=getattr(x, "device", None))


def ornstein_uhlenbeck(B: Any) -> OrnsteinUhlenbeck:
    """The OU process with drift matrix ``−B`` (``B`` with eigenvalues of positive real part), solved exactly."""
    b = _HB.asarray(B, "float64")
    if b.ndim != 2 or b.shape[0] != b.shape[1] or not bool(_xp.all(_xp.isfinite(b))):
        raise ValueError(f"B must be a finite square matrix, got shape {tuple(b.shape)}")
    d = b.shape[0]
    eye = _xp.eye(d, dtype=b.dtype)
    # vec(BΣ + ΣBᵀ) = (B ⊗ I + I ⊗ B) vec(Σ) for row-major vec
    kron = _xp.reshape(b[:, None, :, None] * eye[None, :, None, :] + eye[:, None, :, None] * b[None, :, None, :],
                       (d * d, d * d))
    sigma = _xp.reshape(_xp.linalg.solve(kron, _xp.reshape(2 * eye, (-1,))), (d, d))
    sigma = (sigma + sigma.T) / 2
    if not bool(_xp.all(_xp.linalg.eigvalsh(sigma) > 0)):
        raise ValueError("B must have eigenvalues with positive real part (a stable OU process)")
    a = _xp.linalg.inv(sigma) - b
    return OrnsteinUhlenbeck(b, sigma, float(_xp.linalg.trace(a @ sigma @ a.T)))


@dataclasses.dataclass(frozen=True)
class HarmonicTrap:
    """The harmonic-trap ensemble of :func:`harmonic_trap` (``dim = N d`` coordinates, particle-major)."""

    n_particles: int
    d: int
    D: float
    sigma0: float

    @property
    def dim(self) -> int:
        return self.n_particles * self.d

    def mu(self, t: Any, xp: Any) -> Any:
        """The trap centre ``μ(t) = 2(cos π²t, sin π²t, 0, ...)``."""
        w = math.pi ** 2
        c, s = 2 * xp.cos(w * t), 2 * xp.sin(w * t)
        return c, s

    def drift(self, t: Any, x: Any) -> Any:
        """``bᵢ = μ(t) − ½ xᵢ − ½ x̄`` for every particle ``i``; rows ``x`` of shape ``(n, N d)``."""
        from array_api_compat import array_namespace

        xp = array_namespace(x)
        n = x.shape[0]
        y = xp.reshape(x, (n, self.n_particles, self.d))
        t = xp.asarray(t, dtype=x.dtype)
        c, s = self.mu(t, xp)
        mu = xp.concat([xp.reshape(c, (1,)), xp.reshape(s, (1,)), xp.zeros((self.d - 2,), dtype=x.dtype)])
        b = mu - 0.5 * y - 0.5 * xp.mean(y, axis=1, keepdims=True)
        return xp.reshape(b, (n, self.dim))

    def divergence(self, t: Any, x: Any) -> Any:
        """``∇·b = −N d (½ + ½/N)`` (a constant)."""
        from array_api_compat import array_namespace

        xp = array_namespace(x)
        val = -self.dim * 0.5 * (1 + 1 / self.n_particles)
        return xp.full((x.shape[0],), val, dtype=x.dtype)

    def _mu0(self) -> list[float]:
        return ([2.0] + [0.0] * (self.d - 1)) * self.n_particles

    def sample0(self, n: int, rng: Any = None) -> Any:
        """``n`` draws of ``ρ₀ = N(μ(0), σ₀² I)`` (host NumPy array; ``rng`` as in SPEC 7)."""
        z = default_rng(rng, _HB).normal((as_count("n", n), self.dim))
        return _HB.asarray(self._mu0()) + self.sigma0 * z

    def log_density0(self, x: Any) -> Any:
        """``log ρ₀(x)``."""
        from array_api_compat import array_namespace

        xp = array_namespace(x)
        m = xp.asarray(self._mu0(), dtype=x.dtype, device=getattr(x, "device", None))
        r2 = xp.sum((x - m) ** 2, axis=1) / self.sigma0 ** 2
        return -0.5 * r2 - self.dim * math.log(self.sigma0 * math.sqrt(2 * math.pi))

    def mode_variances(self, t: Any) -> tuple[Any, Any]:
        """Variances of the relative modes (rate ½) and of the centre-of-mass modes (rate 1) at times ``t``."""
        t = _HB.asarray(t, "float64")

        def c(k: float) -> Any:
            e = _xp.exp(-2 * k * t)
            return self.sigma0 ** 2 * e + (self.D / k) * (1 - e)

        return c(0.5), c(1.0)

    def entropy(self, t: Any) -> Any:
        """The exact entropy ``½ log det(2πe C_t)`` at times ``t``."""
        rel, com = self.mode_variances(t)
        k = 2 * math.pi * math.e
        return 0.5 * ((self.n_particles - 1) * self.d * _xp.log(k * rel) + self.d * _xp.log(k * com))


def harmonic_trap(n_particles: int = 50, d: int = 2, D: float = 0.25, sigma0: float = 0.25) -> HarmonicTrap:
    """The harmonic-trap benchmark (module docstring), ``n_particles`` particles in ``d >= 2`` dimensions."""
    return HarmonicTrap(as_count("n_particles", n_particles), as_count("d", d, low=2),
                        as_real("D", D, low=0.0, low_open=True), as_real("sigma0", sigma0, low=0.0, low_open=True))


Drift = Callable[[Any, Any], Any]
