r"""Spectral (Fourier-diagonal) exact fields between Gaussian random fields on the torus, and the radially binned
energy spectrum (Chen & Vanden-Eijnden, "Scale-Adaptive Generative Flows for Multiscale Scientific Data", 2025,
arXiv:2509.02971).

Base and target are stationary Gaussian fields on the :math:`N\times N` grid with spectral densities :math:`S_0(k)`,
:math:`S_1(k)` (:class:`~transportkit.targets.GaussianRandomField`). With :math:`x_t = \alpha x_0 + \beta x_1` both
ends are diagonal in Fourier space, so every field acts mode by mode (:math:`\hat x` = FFT of x):

.. math:: \hat b_k(t) = \frac{\alpha\alpha' S_0(k) + \beta\beta' S_1(k)}{\alpha^2 S_0(k) + \beta^2 S_1(k)}\,\hat x_k
          = \tfrac12\frac{d}{dt}\log D_k(t)\;\hat x_k,\qquad D_k = \alpha^2 S_0 + \beta^2 S_1,

the score is :math:`\hat s_k = -2\hat x_k/(N^2 D_k)` (forward FFT normalization, :math:`E|\hat x_k|^2 = D_k/2`), the
divergence :math:`\sum_k \hat b_k/\hat x_k`, and the exact flow map :math:`\hat x_k(t) = \hat x_k(0)
\sqrt{D_k(t)/D_k(0)}`. Modes with :math:`D_k = 0` (the zero mode) stay 0.

**Spectrum-matched noise** (:math:`S_0 \propto S_1`) makes the multiplier the same for every k, so a few RK4 steps
are exact at every scale; white noise against a rough-to-smooth target makes the multiplier of the highest modes as
stiff as :math:`(1+\lambda)/(2\sqrt\lambda)`, :math:`\lambda = S_1/S_0` (§2.2). **Per-mode (operator-valued)
schedules** :math:`\alpha_k(t), \beta_k(t)` enter the same formula with :math:`k`-dependent coefficients.

FFTs use the array API's ``fft`` extension (numpy, torch, jax, array_api_strict); a backend without it is a
:class:`~transportkit.CapabilityError`. Fields take points of shape (n, N*N) (flattened grids), as every field.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._backend import Backend, get_backend, resolve_backend
from .._capabilities import declare
from .._validation import as_points
from ..errors import CapabilityError
from ..highdim_targets import GaussianRandomField, field_from_modes
from .field import BoundField, Field
from .interpolant import Interpolant

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "SpectralField",
    "energy_spectrum",
    "expected_energy_spectrum",
    "plot_energy_spectrum",
    "scale_adaptive",
    "spectral_field",
]


def _fft(xp: Any, be: Backend) -> Any:
    f = getattr(xp, "fft", None)
    if f is None:
        raise CapabilityError(f"backend {be.name!r} has no fft extension; spectral fields need one (numpy, torch, jax)")
    return f


def _complex(x: Any, xp: Any) -> Any:
    """``x`` as a complex array (the standard's fftn takes complex input only)."""
    return xp.astype(x, xp.complex128 if x.dtype == xp.float64 else xp.complex64)


def scale_adaptive(t: Any, kabs: Any, xp: Any) -> tuple[Any, Any, Any, Any]:
    r"""One per-mode schedule of the authors' code: :math:`\beta_k(t) = t + t(1-t)(|k|^{-2} - 1)`,
    :math:`\alpha_k = 1 - \beta_k` (:math:`|k|` the integer wavenumber; the zero mode uses :math:`|k| = 1`). Returns
    ``(alpha, beta, alpha_dot, beta_dot)`` broadcast over ``t`` (0-d or (n, 1, 1)) and ``kabs`` (N, N)."""
    q = 1.0 / xp.maximum(kabs, 1.0) ** 2 - 1.0
    beta = t + t * (1.0 - t) * q
    bd = 1.0 + (1.0 - 2.0 * t) * q
    return 1.0 - beta, beta, -bd, bd


@declare()
def spectral_field(
    interpolant: Interpolant | str | Callable, base: GaussianRandomField, target: GaussianRandomField
) -> SpectralField:
    r"""The exact, Fourier-diagonal field of :math:`x_t = \alpha x_0 + \beta x_1` between two
    :class:`~transportkit.targets.GaussianRandomField` laws of the same grid (Chen & Vanden-Eijnden 2025,
    arXiv:2509.02971); see the module docstring. ``interpolant``: a one-sided :class:`Interpolant` or name
    (the same schedule for every mode), or a per-mode schedule ``f(t, kabs, xp) -> (alpha, beta, alpha', beta')``
    such as :func:`scale_adaptive`. ``base=target`` is spectrum-matched noise; ``GaussianRandomField(N, s=0,
    sigma2=1)`` is white noise (zero mode removed)."""
    if isinstance(interpolant, str):
        interpolant = Interpolant(interpolant)
    if isinstance(interpolant, Interpolant):
        if not interpolant.one_sided:
            raise ValueError(f"spectral fields take a one-sided interpolant (gamma = 0), got {interpolant!r}")
    elif not callable(interpolant):
        raise TypeError("interpolant must be an Interpolant, a schedule name or a per-mode schedule callable, "
                        f"got {type(interpolant).__name__}")
    for name, law in (("base", base), ("target", target)):
        if not isinstance(law, GaussianRandomField):
            raise TypeError(f"{name} must be a GaussianRandomField, got {type(law).__name__}")
    if base.n != target.n:
        raise ValueError(f"base and target grids differ: {base.n} x {base.n} and {target.n} x {target.n}")
    return SpectralField(interpolant, base, target)


class SpectralField(Field):
    """See :func:`spectral_field`. ``flow_map(x0, t0, t1)`` is the exact ODE solution map."""

    def __init__(self, interpolant: Any, base: GaussianRandomField, target: GaussianRandomField):
        self.per_mode = None if isinstance(interpolant, Interpolant) else interpolant
        self.interpolant = interpolant if self.per_mode is None else Interpolant("linear")
        self.base, self.target = base, target
        self.n = target.n
        self.dim = target.n * target.n
        self.backend = None

    def __repr__(self) -> str:
        sched = self.interpolant if self.per_mode is None else getattr(self.per_mode, "__name__", "per-mode")
        return f"spectral_field({sched!r}, {self.base!r}, {self.target!r})"

    def _make_bound(self, be: Backend) -> _BoundSpectral:
        return _BoundSpectral(be, self)

    def flow_map(self, x0: Any, t0: float = 0.0, t1: float = 1.0, *, backend: Any = None) -> Any:
        r"""The exact probability-flow map from ``t0`` to ``t1``: :math:`\hat x_k \mapsto \hat x_k
        \sqrt{D_k(t_1)/D_k(t_0)}` (0 where :math:`D_k(t_0) = 0`); ``x0`` of shape (n, N*N)."""
        be = resolve_backend(x0, backend=backend)
        x0 = as_points("x0", x0, be, dim=self.dim)
        bf = self.bind(be)
        xp = be.xp
        D0 = bf.denominator(be.asarray(float(t0)))
        D1 = bf.denominator(be.asarray(float(t1)))
        pos = D0 > 0
        g = xp.where(pos, xp.sqrt(D1 / xp.where(pos, D0, xp.ones_like(D0))), xp.zeros_like(D0))
        return bf.apply(g, x0)


class _BoundSpectral(BoundField):
    def __init__(self, be: Backend, field: SpectralField):
        super().__init__(be, field.interpolant, field.dim)
        self.field = field
        self.fft = _fft(be.xp, be)
        self.n = field.n
        self.S0 = field.base.spectrum(be)
        self.S1 = field.target.spectrum(be)
        kx, ky = field.target.wavenumbers(be)
        self.kabs = be.xp.sqrt(kx * kx + ky * ky)

    def _coef(self, t: Any) -> tuple[Any, Any, Any, Any]:
        """alpha, beta, alpha alpha', beta beta' broadcastable to (n, N, N) (or (N, N) for 0-d t)."""
        tt = t[:, None, None] if t.ndim == 1 else t
        if self.field.per_mode is None:
            c = self.interpolant.coefficients(tt, self.xp)
            return c.a, c.b, c.aad, c.bbd
        a, b, ad, bd = self.field.per_mode(tt, self.kabs, self.xp)
        return a, b, a * ad, b * bd

    def denominator(self, t: Any) -> Any:
        a, b, _, _ = self._coef(t)
        return a * a * self.S0 + b * b * self.S1

    def multiplier(self, t: Any) -> Any:
        xp = self.xp
        a, b, aad, bbd = self._coef(t)
        D = a * a * self.S0 + b * b * self.S1
        pos = D > 0
        return xp.where(pos, (aad * self.S0 + bbd * self.S1) / xp.where(pos, D, xp.ones_like(D)), xp.zeros_like(D))

    def apply(self, g: Any, x: Any) -> Any:
        """Real part of :math:`F^{-1}[g_k \\hat x_k]` for a real multiplier ``g`` (N, N) or (n, N, N); x (n, N*N)."""
        xp, n = self.xp, self.n
        xh = self.fft.fftn(_complex(xp.reshape(x, (x.shape[0], n, n)), xp), axes=(-2, -1))
        out = xp.real(self.fft.ifftn(xh * g, axes=(-2, -1)))
        return xp.reshape(out, (x.shape[0], n * n))

    def velocity(self, t: Any, x: Any) -> Any:
        return self.apply(self.multiplier(t), x)

    def score(self, t: Any, x: Any) -> Any:
        xp = self.xp
        D = self.denominator(t)
        pos = D > 0
        inv = xp.where(pos, -2.0 / (self.n**2 * xp.where(pos, D, xp.ones_like(D))), xp.zeros_like(D))
        return self.apply(inv, x)

    def divergence(self, t: Any, x: Any) -> Any:
        m = self.multiplier(t)
        tr = self.xp.sum(m, axis=(-2, -1))
        return tr * self.xp.ones(x.shape[0], dtype=x.dtype, device=self.be.device) if tr.ndim == 0 else tr

    def jvp(self, t: Any, x: Any, v: Any) -> Any:
        return self.velocity(t, v)

    def base_samples(self, n: int, gen: Any) -> Any:
        x = self.field.base._sample(n, gen, self.be)
        return self.xp.reshape(x, (n, self.dim))

    def initial_samples(self, n: int, t0: float, gen: Any) -> Any:
        r"""Exact draws of :math:`\rho_{t_0}`: a Gaussian field with spectrum :math:`D_k(t_0)`."""
        xp = self.xp
        amp = xp.sqrt(self.denominator(self.be.asarray(float(t0))))
        re = gen.normal((n, self.n, self.n)) * amp * math.sqrt(0.5)
        im = gen.normal((n, self.n, self.n)) * amp * math.sqrt(0.5)
        return xp.reshape(field_from_modes(re, im, xp), (n, self.dim))

    def base_log_prob(self, x: Any, t0: float) -> Any:
        raise CapabilityError("spectral fields have degenerate laws (zero mode): no log density")


def _shells(n: int, be: Backend) -> tuple[Any, Any]:
    """Integer shell index round(|k|) per grid mode (N*N,), and the shells 1..N//2 as floats."""
    xp = be.xp
    f = xp.asarray([float(i if i < (n + 1) // 2 else i - n) for i in range(n)], dtype=be.dtype, device=be.device)
    kabs = xp.sqrt(f[:, None] ** 2 + f[None, :] ** 2)
    shell = xp.reshape(xp.round(kabs), (n * n,))
    ks = xp.arange(1, n // 2 + 1, dtype=be.dtype, device=be.device)
    return shell, ks


def _bin(power: Any, n: int, be: Backend) -> tuple[Any, Any]:
    """Sum of ``power`` (N, N) over shells 1..N//2."""
    xp = be.xp
    shell, ks = _shells(n, be)
    onehot = xp.astype(shell[:, None] == ks[None, :], power.dtype)  # (N*N, N//2)
    return ks, xp.reshape(power, (1, n * n)) @ onehot


@declare()
def energy_spectrum(x: Any, *, backend: Any = None) -> tuple[Any, Any]:
    r"""The radially binned energy spectrum
    :math:`E(|k|) = \sum_{\mathrm{round}|k| = K} \tfrac12\langle|\hat x_k|^2\rangle` of fields ``x`` (shape
    (n, N, N), (N, N) or (n, N*N)), averaged over the n samples, with :math:`\hat x` the forward-normalized
    FFT (Chen & Vanden-Eijnden 2025, arXiv:2509.02971): returns ``(k, E)``, shells
    :math:`K = 1, \dots, N/2`, on the backend of ``x``. For a :class:`~transportkit.targets.GaussianRandomField`
    its expectation is :func:`expected_energy_spectrum`."""
    be = resolve_backend(x, backend=backend)
    x = as_points("x", x, be, ndim=(2, 3))
    xp = be.xp
    if x.ndim == 2:
        n = math.isqrt(x.shape[1])
        if n * n == x.shape[1] and x.shape[0] != x.shape[1]:
            x = xp.reshape(x, (x.shape[0], n, n))
        else:
            x = x[None, ...]
    if x.shape[-1] != x.shape[-2]:
        raise ValueError(f"x must hold square N x N fields, got shape {tuple(x.shape)}")
    n = x.shape[-1]
    xh = _fft(xp, be).fftn(_complex(x, xp), axes=(-2, -1), norm="forward")
    power = xp.mean(xp.real(xh * xp.conj(xh)), axis=0) * 0.5
    ks, e = _bin(power, n, be)
    return ks, e[0, :]


def expected_energy_spectrum(law: GaussianRandomField, *, backend: Any = None) -> tuple[Any, Any]:
    r"""The expectation of :func:`energy_spectrum` under ``law``: :math:`\sum_{\mathrm{shell}} S(k)/4`."""
    if not isinstance(law, GaussianRandomField):
        raise TypeError(f"law must be a GaussianRandomField, got {type(law).__name__}")
    be = get_backend(backend)
    ks, e = _bin(law.spectrum(be) * 0.25, law.n, be)
    return ks, e[0, :]


def plot_energy_spectrum(*curves: tuple[str, Any, Any], ax: Any = None) -> Axes:
    """Log-log plot of energy spectra: ``curves`` are ``(label, k, E)`` triples (needs matplotlib)."""
    import matplotlib.pyplot as plt

    from .._backend import resolve_backend as rb

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4))
    for label, k, e in curves:
        be = rb(k)
        ax.loglog(be.to_numpy(k), be.to_numpy(e), label=label)
    ax.set_xlabel("|k|")
    ax.set_ylabel("E(|k|)")
    ax.legend()
    return ax
