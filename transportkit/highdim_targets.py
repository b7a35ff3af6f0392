r"""High-dimensional exact models of the schedule-design papers (Aranguri et al. 2025, arXiv:2501.00988; Chen &
Vanden-Eijnden 2025, arXiv:2509.02971), all in O(n·d) memory
and time (no d×d matrix anywhere):

- :class:`SymmetricMixture`: :math:`p\,N(m\mathbb 1, \sigma^2 I) + (1-p)\,N(-m\mathbb 1, \sigma^2 I)` in
  :math:`\mathbb R^d` (Aranguri, Biroli, Mézard & Vanden-Eijnden 2025, arXiv:2501.00988);
- :class:`CurieWeiss`: the large-d limit of the Curie–Weiss model on :math:`\{\pm1\}^d`, a mixture of two product
  measures with magnetization :math:`\pm m`, :math:`m = \tanh(\beta m)` (same paper);
- :class:`GaussianRandomField`: the stationary Gaussian field on the :math:`N\times N` torus with spectral density
  :math:`S(k) = \sigma^2(|k|^2 + \ell^2)^{-s}` (Chen & Vanden-Eijnden 2025, arXiv:2509.02971).

Their exact interpolant fields are :func:`transportkit.interpolants.exact_field` (mixtures) and
:func:`transportkit.interpolants.spectral_field` (random fields).
"""

from __future__ import annotations

import math
from typing import Any

from ._backend import Backend, get_backend, host_backend
from ._validation import as_count, as_probability, as_real
from .random import SEED_DEPRECATED
from .target_core import Target, sample_arguments

__all__ = ["CurieWeiss", "GaussianRandomField", "SymmetricMixture"]

_LOG_2PI = math.log(2.0 * math.pi)


def _logaddexp(a: Any, b: Any, xp: Any) -> Any:
    mx = xp.maximum(a, b)
    return mx + xp.log(xp.exp(a - mx) + xp.exp(b - mx))


class _RngSample:
    """``sample(n, rng=None, *, backend=, dtype=, device=)`` with SPEC 7 ``rng=`` (``seed=`` deprecated), as
    :meth:`transportkit.target_core.Target.sample`, for an object that is not a :class:`Target`."""

    backend: Backend

    def sample(self, n: int, rng: Any = None, *, seed: Any = SEED_DEPRECATED, backend: Any = None,
               dtype: Any = None, device: Any = None) -> Any:
        """``n`` exact samples; ``rng``: an int, a ``numpy.random.Generator``, a transportkit Generator or None."""
        n, be, gen = sample_arguments(self.backend, n, rng, seed, backend, device, dtype)
        return self._sample(n, gen, be)


class SymmetricMixture(Target):
    r""":math:`\rho(x) = p\,N(x; m\mathbb 1, \sigma^2 I_d) + (1-p)\,N(x; -m\mathbb 1, \sigma^2 I_d)`.

    With :math:`\mu = m\mathbb 1` (:math:`|\mu|^2 = m^2 d`) and :math:`h = \tfrac12\log\frac{p}{1-p}`:
    :math:`\nabla\log\rho = -(x - \mu\tanh(h + \mu\cdot x/\sigma^2))/\sigma^2`; everything costs O(n d).
    The two-mode test model of Aranguri, Biroli, Mézard & Vanden-Eijnden (2025, arXiv:2501.00988) and of Chen,
    Vanden-Eijnden & Xu (2025, arXiv:2509.01629). ``mode_fraction(x)`` is the fraction of rows with
    :math:`\mu\cdot x > 0` (the "+ mode")."""

    def __init__(self, d: int, p: float = 0.5, m: float = 1.0, sigma: float = 1.0):
        self.dim = as_count("d", d)
        self.p = as_probability("p", p)
        self.m = as_real("m", m)
        self.sigma = as_real("sigma", sigma, low=0.0, low_open=True)
        self.h = 0.5 * math.log(self.p / (1.0 - self.p))
        self.backend = host_backend()

    def __repr__(self) -> str:
        return f"SymmetricMixture(d={self.dim}, p={self.p:g}, m={self.m:g}, sigma={self.sigma:g})"

    def _log_prob(self, x: Any, be: Backend) -> Any:
        xp, d, s2 = be.xp, self.dim, self.sigma**2
        proj = xp.sum(x, axis=-1)
        sq = xp.sum(x * x, axis=-1)
        base = -(sq + self.m**2 * d) / (2.0 * s2) - 0.5 * d * (_LOG_2PI + math.log(s2))
        lp = math.log(self.p) + self.m * proj / s2
        lm = math.log1p(-self.p) - self.m * proj / s2
        return base + _logaddexp(lp, lm, xp)

    def _grad_log_prob(self, x: Any, be: Backend) -> Any:
        xp, s2 = be.xp, self.sigma**2
        th = xp.tanh(self.h + self.m * xp.sum(x, axis=-1) / s2)
        return -(x - self.m * th[:, None]) / s2

    def _sample(self, n: int, gen: Any, be: Backend) -> Any:
        xp = be.xp
        sign = 2.0 * xp.astype(gen.uniform((n, 1)) < self.p, be.dtype) - 1.0
        return self.m * sign + self.sigma * gen.normal((n, self.dim))

    def mode_fraction(self, x: Any) -> float:
        """Fraction of the rows of ``x`` in the + mode (:math:`\\mathbb 1\\cdot x > 0` for m > 0)."""
        be, x = self._resolve(x, None)
        xp = be.xp
        s = xp.sum(x, axis=-1) * (1.0 if self.m >= 0 else -1.0)
        return float(xp.mean(xp.astype(s > 0, be.dtype)))


def curie_weiss_magnetization(beta: float, iters: int = 200) -> float:
    """The non-negative root of :math:`m = \\tanh(\\beta m)` (0 for :math:`\\beta \\le 1`), by fixed-point iteration
    from 1 (monotone convergence)."""
    if beta <= 1.0:
        return 0.0
    m = 1.0
    for _ in range(iters):
        m_new = math.tanh(beta * m)
        if abs(m_new - m) < 1e-16:
            break
        m = m_new
    return m


class CurieWeiss(Target):
    r"""The large-d limit of the Curie–Weiss model on :math:`\{\pm1\}^d` at inverse temperature ``beta`` and field
    ``h``: a mixture of two product measures, spins i.i.d. with mean :math:`\pm m`, :math:`m = \tanh(\beta m)`
    (:math:`\beta = 2`: :math:`m \approx 0.9575`), weights :math:`W_\pm = e^{\pm hm}/(2\cosh hm)` (Aranguri, Biroli,
    Mézard & Vanden-Eijnden 2025, arXiv:2501.00988). A discrete law: ``log_prob`` is the log
    probability mass at points of :math:`\{\pm1\}^d` (other points are outside the support)."""

    def __init__(self, d: int, beta: float = 2.0, h: float = 0.0):
        self.dim = as_count("d", d)
        self.beta = as_real("beta", beta, low=0.0)
        self.h = as_real("h", h)
        self.m = curie_weiss_magnetization(self.beta)
        hm = self.h * self.m
        self.log_w = (hm - _logaddexp_f(hm, -hm), -hm - _logaddexp_f(hm, -hm))  # log W_+, log W_-
        self.backend = host_backend()

    def __repr__(self) -> str:
        return f"CurieWeiss(d={self.dim}, beta={self.beta:g}, h={self.h:g})"

    def _log_prob(self, x: Any, be: Backend) -> Any:
        xp, m = be.xp, self.m
        lp = self.log_w[0] + xp.sum(xp.log((1.0 + m * x) / 2.0), axis=-1)
        lm = self.log_w[1] + xp.sum(xp.log((1.0 - m * x) / 2.0), axis=-1)
        return _logaddexp(lp, lm, xp)

    def _grad_log_prob(self, x: Any, be: Backend) -> Any:
        raise NotImplementedError("CurieWeiss is a discrete law: it has no gradient")

    def _sample(self, n: int, gen: Any, be: Backend) -> Any:
        xp = be.xp
        sign = 2.0 * xp.astype(gen.uniform((n, 1)) < math.exp(self.log_w[0]), be.dtype) - 1.0
        up = gen.uniform((n, self.dim)) < (1.0 + sign * self.m) / 2.0
        return 2.0 * xp.astype(up, be.dtype) - 1.0

    def mode_fraction(self, x: Any) -> float:
        """Fraction of rows with positive magnetization :math:`\\sum_i x_i > 0`."""
        be, x = self._resolve(x, None)
        xp = be.xp
        return float(xp.mean(xp.astype(xp.sum(x, axis=-1) > 0, be.dtype)))


def _logaddexp_f(a: float, b: float) -> float:
    mx = max(a, b)
    return mx + math.log(math.exp(a - mx) + math.exp(b - mx))


class GaussianRandomField(_RngSample):
    r"""Stationary Gaussian random field on the :math:`N\times N` grid of the unit torus with spectral density
    :math:`S(k) = \sigma^2(|k|^2 + \ell^2)^{-s}`, :math:`k = 2\pi\,(\text{integer wavenumbers})`, zero mode 0
    (Chen & Vanden-Eijnden 2025, arXiv:2509.02971).

    ``sample(k, rng=)`` draws complex white noise :math:`\xi_k` (:math:`E|\xi_k|^2 = 1`) in Fourier space, multiplies by
    :math:`\sqrt{S(k)}` and keeps the real part of the inverse FFT (unnormalized sum); returns shape (k, N, N). In
    the "forward" normalization :math:`\hat x_k = N^{-2}\sum_j x_j e^{-2\pi i k\cdot j/N}` the modes are independent
    up to :math:`\hat x_{-k} = \overline{\hat x_k}` with :math:`E|\hat x_k|^2 = S(k)/2`. ``n`` is N (the grid side),
    ``s`` the decay exponent, ``ell`` the low-frequency cut, ``sigma2`` the amplitude (default normalizes the first
    shell: :math:`S(2\pi) = 1`). Needs the array API's ``fft`` extension (numpy, torch, jax, array_api_strict)."""

    def __init__(self, n: int, s: float = 3.0, ell: float = 1.0, sigma2: float | None = None):
        self.n = as_count("n", n, low=2)
        self.s = as_real("s", s, low=0.0)
        self.ell = as_real("ell", ell, low=0.0)
        if sigma2 is None:
            sigma2 = ((2.0 * math.pi) ** 2 + self.ell**2) ** self.s
        self.sigma2 = as_real("sigma2", sigma2, low=0.0, low_open=True)
        self.dim = self.n * self.n
        self.backend = host_backend()

    def __repr__(self) -> str:
        return f"GaussianRandomField(n={self.n}, s={self.s:g}, ell={self.ell:g}, sigma2={self.sigma2:g})"

    def wavenumbers(self, be: Backend) -> tuple[Any, Any]:
        """``(kx, ky)`` integer wavenumbers of the FFT grid, each (N, N), as floats of ``be``."""
        xp, n = be.xp, self.n
        f = xp.asarray([float(i if i < (n + 1) // 2 else i - n) for i in range(n)], dtype=be.dtype, device=be.device)
        return xp.broadcast_to(f[:, None], (n, n)), xp.broadcast_to(f[None, :], (n, n))

    def spectrum(self, be: Backend | None = None) -> Any:
        r""":math:`S(k)` on the FFT grid, (N, N), zero mode 0."""
        be = get_backend(be)
        xp = be.xp
        kx, ky = self.wavenumbers(be)
        k2 = (2.0 * math.pi) ** 2 * (kx * kx + ky * ky)
        S = self.sigma2 * (k2 + self.ell**2) ** (-self.s)
        return xp.where(k2 == 0, xp.zeros_like(S), S)

    def _sample(self, k: int, gen: Any, be: Backend) -> Any:
        xp = be.xp
        fft = getattr(xp, "fft", None)
        if fft is None:
            from .errors import CapabilityError

            raise CapabilityError(f"backend {be.name!r} has no fft extension: GaussianRandomField needs one")
        n = self.n
        amp = xp.sqrt(self.spectrum(be))
        re = gen.normal((k, n, n)) * amp * math.sqrt(0.5)
        im = gen.normal((k, n, n)) * amp * math.sqrt(0.5)
        return field_from_modes(re, im, xp)


def field_from_modes(re: Any, im: Any, xp: Any) -> Any:
    """:math:`\\mathrm{Re}\\sum_k (a_k + i b_k) e^{2\\pi i k\\cdot j/N}` on the grid (unnormalized inverse FFT)."""
    ctype = xp.complex128 if re.dtype == xp.float64 else xp.complex64
    z = xp.astype(re, ctype) + 1j * xp.astype(im, ctype)
    return xp.real(xp.fft.ifftn(z, axes=(-2, -1), norm="forward"))
