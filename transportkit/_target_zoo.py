r"""Benchmark targets for the samplers: GMM-40 (Midgley et al. 2023, arXiv:2208.01893), Neal's funnel (Neal 2003),
many-well (Wu, Köhler & Noé 2020, arXiv:2002.06707), a Student-t
mixture and the lattice :math:`\phi^4` theory.

Every target is a plain object with

- ``dim``: the dimension d;
- ``log_prob(x)``: :math:`\log\tilde\rho(x)` for ``x`` of shape ``(..., d)`` (shape ``(...)``), unnormalized
  where stated;
- ``grad_log_prob(x)``: the analytic gradient :math:`\nabla\log\tilde\rho(x)`, shape ``(..., d)``;
- ``log_Z``: :math:`\log\int\tilde\rho`, exactly or by quadrature, ``None`` where unknown;
- ``sample(n, rng=None, *, backend=None, device=None, dtype=None)``: exact i.i.d. draws where possible (``rng`` as
  in SPEC 7: None, an int, a ``numpy.random.Generator`` or a :class:`transportkit.random.Generator`).

Parameters are validated at construction (counts are integers, scales positive and finite, weights positive);
``log_prob`` is ``-inf`` at points with an infinite coordinate, and the formulas are arranged so that points far
beyond the float range give the limit (``-inf`` log-density, the dominant mode's gradient), never NaN.

The methods are written against the Array API: they take arrays of any backend and return arrays of the same
backend, dtype and device. Parameters are stored as Python numbers and converted once per
(backend, dtype, device) (a small cache), never inside a loop.
"""

from __future__ import annotations

import math
from typing import Any

from ._backend import Backend, host_backend
from ._validation import as_count, as_real
from .gaussians import GaussianMixture
from .lattice_targets import Phi4
from .numerics import logsumexp
from .random import SEED_DEPRECATED, resolve_rng
from .target_core import _ParamTarget

__all__ = ["GMM40", "GMM40_MEANS", "Funnel", "ManyWell", "Phi4", "StudentTMixture"]

#: The 40 means of GMM-40, generated once (float32, then stored here as literals) with the FAB convention
#: ``torch.manual_seed(0); locs = (torch.rand((40, 2)) - 0.5) * 2 * 40`` (torch CPU generator), i.e.
#: :math:`\mu_k = 40(2u_k - 1)`, :math:`u_k\sim U[0,1)^2`. The table is the single source of truth: the library
#: never regenerates it.
GMM40_MEANS: tuple[tuple[float, float], ...] = (
    (-0.2994728, 21.457745),
    (-32.921806, -29.437561),
    (-15.406175, 10.7262945),
    (-0.7925272, 31.71558),
    (-3.5497618, 10.584502),
    (-12.088523, -7.8626156),
    (-38.21394, -26.491283),
    (-16.488924, 1.4817429),
    (15.813408, 24.000912),
    (-27.117643, -17.418514),
    (14.528685, 33.21552),
    (-8.232007, 29.93247),
    (-6.4473343, 4.232564),
    (36.219048, -37.106815),
    (-25.181519, -10.12661),
    (-15.591998, 34.56003),
    (-25.927185, -18.413315),
    (-27.945618, -37.46244),
    (-23.349619, 34.383923),
    (17.848736, 19.386902),
    (2.1036625, -20.50734),
    (6.7673874, -37.34779),
    (-28.902649, -20.6212),
    (25.237518, 23.45285),
    (-17.739801, -1.4432955),
    (25.582428, 39.765324),
    (15.875287, 5.403714),
    (26.819454, -23.552094),
    (7.453761, -31.01222),
    (-27.723446, -20.663342),
    (18.098923, 16.086416),
    (-23.6941, 12.084284),
    (21.958881, -5.0486946),
    (1.5272617, 9.268188),
    (24.815063, 38.407764),
    (-30.824944, -14.65879),
    (15.720396, 33.141975),
    (34.808292, 35.29427),
    (7.960582, -34.783306),
    (3.6797, -25.024214),
)


def _softplus(x: float) -> float:
    return math.log1p(math.exp(-abs(x))) + max(x, 0.0)


class GMM40(_ParamTarget):
    r"""The 2-D mixture of 40 equal-weight Gaussians of the FAB / NETS benchmarks (normalized, log Z = 0):

    .. math:: \rho(x) = \frac{1}{40}\sum_{k=1}^{40}\mathcal N(x;\mu_k, s^2 I_2),\qquad
              s = \mathrm{softplus}(1)\approx 1.3133,

    with the fixed means :data:`GMM40_MEANS` (uniform in :math:`[-40, 40]^2`). ``scale`` overrides s.
    Gradient: :math:`\nabla\log\rho = \sum_k r_k(x)\,(\mu_k - x)/s^2` with responsibilities
    :math:`r_k = \mathrm{softmax}_k(-|x-\mu_k|^2/2s^2)`.
    """

    def __init__(self, scale: float | None = None) -> None:
        super().__init__()
        self.dim = 2
        self.n_modes = len(GMM40_MEANS)
        self.scale = _softplus(1.0) if scale is None else as_real("scale", scale, low=0.0, low_open=True)
        self.log_Z = 0.0
        #: a Gaussian base that covers all modes (used by the samplers when no base is given)
        self.base_scale = 20.0

    @property
    def means(self) -> list[list[float]]:
        return [list(m) for m in GMM40_MEANS]

    def mixture(self) -> Any:
        """The same density as a :class:`~transportkit.targets.GaussianMixture` (for exact interpolant fields
        and :class:`~transportkit.sampling.InterpolantPath`)."""
        k, d, s2 = self.n_modes, self.dim, self.scale**2
        covs = [[[s2 if i == j else 0.0 for j in range(d)] for i in range(d)]] * k
        return GaussianMixture([1.0 / k] * k, self.means, covs)

    def _raw_params(self) -> dict[str, Any]:
        mu = self.means
        mu2 = [m[0] ** 2 + m[1] ** 2 for m in mu]
        return {"mu": mu, "mu2": mu2, "half_mu2": [0.5 * v for v in mu2]}

    def _sq(self, x: Any, be: Backend) -> tuple[Any, Any, Any]:
        """Squared distances to the means, |x|^2 + |mu|^2 - 2 x.mu (no (n, K, d) temporary)."""
        xp = be.xp
        p = self._params(be)
        sq = xp.sum(x * x, axis=-1)[..., None] + p["mu2"] - 2.0 * (x @ xp.linalg.matrix_transpose(p["mu"]))
        return xp, p["mu"], xp.maximum(sq, xp.zeros_like(sq))

    def _log_prob(self, x: Any, be: Backend) -> Any:
        xp, _, m, _, tot = self._softmax(x, be)
        return self._log_prob_from(xp, x, m, tot)

    def _log_prob_from(self, xp: Any, x: Any, m: Any, tot: Any) -> Any:
        r""":math:`\log\rho = \mathrm{logsumexp}_k a_k - |x|^2/2s^2 - \log 40 - \log(2\pi s^2)` from
        :meth:`_softmax`'s ``m`` and ``tot``; :math:`-\infty` where :math:`|x|^2` overflows (at infinity), NaN at
        NaN."""
        s2 = self.scale**2
        xx = xp.sum(x * x, axis=-1)
        ok = xp.isfinite(xx) & xp.isfinite(m[..., 0])
        lse = m[..., 0] + xp.log(tot[..., 0])
        far = xp.where(xp.isnan(xx), xx, -math.inf)
        const = math.log(self.n_modes) + 0.5 * self.dim * math.log(2 * math.pi * s2)
        return xp.where(ok, lse - xx / (2 * s2), far) - const

    def _value_and_grad(self, x: Any, be: Backend) -> tuple[Any, Any]:
        """:meth:`_log_prob` and :meth:`_grad_log_prob` (the same operations) from one :meth:`_softmax`."""
        xp, mu, m, e, tot = self._softmax(x, be)
        return self._log_prob_from(xp, x, m, tot), ((e / tot) @ mu - x) / self.scale**2

    def _softmax(self, x: Any, be: Backend) -> tuple[Any, Any, Any, Any, Any]:
        r"""``(xp, mu, m, e, tot)`` of :math:`a_k = (x\cdot\mu_k - |\mu_k|^2/2)/s^2` (:math:`-|x-\mu_k|^2/2s^2`
        without the common :math:`|x|^2` term, so it never underflows for finite x): :math:`m = \max_k a_k`,
        :math:`e_k = e^{a_k - m}`, ``tot`` their sum (keepdims)."""
        xp = be.xp
        p = self._params(be)
        a = (x @ xp.linalg.matrix_transpose(p["mu"]) - p["half_mu2"]) / self.scale**2
        m = xp.max(a, axis=-1, keepdims=True)
        e = xp.exp(a - xp.where(xp.isfinite(m), m, xp.zeros_like(m)))
        return xp, p["mu"], m, e, xp.sum(e, axis=-1, keepdims=True)

    def _responsibilities(self, x: Any, be: Backend) -> tuple[Any, Any, Any]:
        r"""``(xp, mu, r)``: :math:`r_k = \mathrm{softmax}_k(a_k) = e_k/\sum_j e_j` (:meth:`_softmax`)."""
        xp, mu, _, e, tot = self._softmax(x, be)
        return xp, mu, e / tot

    def _grad_log_prob(self, x: Any, be: Backend) -> Any:
        _, mu, r = self._responsibilities(x, be)
        return (r @ mu - x) / self.scale**2

    def _laplacian_log_prob(self, x: Any, be: Backend) -> Any:
        r""":math:`\Delta\log\rho = -d/s^2 + s^{-4}\big(\sum_k r_k|\mu_k - x|^2 - |\sum_k r_k(\mu_k - x)|^2\big)`."""
        xp, mu, r = self._responsibilities(x, be)
        _, _, sq = self._sq(x, be)
        s2 = self.scale**2
        m = r @ mu - x
        return -self.dim / s2 + (xp.sum(r * sq, axis=-1) - xp.sum(m * m, axis=-1)) / s2**2

    def _sample(self, n: int, gen: Any, be: Backend) -> Any:
        """Exact draws: a uniform mode index, then a Gaussian around its mean."""
        xp = be.xp
        mu = be.asarray(self.means)
        k = gen.integers(0, self.n_modes, (n,))
        return xp.take(mu, k, axis=0) + self.scale * gen.normal((n, self.dim))

    def nearest_mode(self, x: Any, *, backend: Any = None) -> Any:
        """Index of the nearest mean for each row of ``x`` (shape (n,))."""
        be, x = self._resolve(x, backend)
        xp, _, sq = self._sq(x, be)
        return xp.argmin(sq, axis=-1)

    def modes_visited(self, x: Any, *, radius: float = 4.0) -> int:
        """Number of modes with at least one point within ``radius`` standard deviations of their mean."""
        be, x = self._resolve(x, None)
        xp, _, sq = self._sq(x, be)
        near = sq <= (radius * self.scale) ** 2  # (n, K)
        return int(xp.sum(xp.astype(xp.any(near, axis=0), xp.int64)))


class Funnel(_ParamTarget):
    r"""Neal's funnel (normalized, log Z = 0):
    :math:`x_1\sim\mathcal N(0, \sigma^2)`, :math:`x_{2:d}\mid x_1\sim\mathcal N(0, e^{x_1}I)`, σ = ``scale`` = 3.

    .. math:: \log\rho = -\frac{x_1^2}{2\sigma^2} - \tfrac12\log(2\pi\sigma^2)
              - \frac{e^{-x_1}}{2}\sum_{i\ge2}x_i^2 - \frac{d-1}{2}(x_1 + \log 2\pi),

    .. math:: \partial_1\log\rho = -\frac{x_1}{\sigma^2} + \frac{e^{-x_1}}{2}\sum_{i\ge2}x_i^2 - \frac{d-1}{2},
              \qquad \partial_i\log\rho = -x_i e^{-x_1}.
    """

    def __init__(self, dim: int = 10, scale: float = 3.0) -> None:
        super().__init__()
        self.dim = as_count("dim", dim, low=2)
        self.scale, self.log_Z = as_real("scale", scale, low=0.0, low_open=True), 0.0
        self.base_scale = 1.0

    @staticmethod
    def _scaled(xp: Any, e: Any, r2: Any) -> Any:
        r""":math:`e^{-x_1}\sum_{i\ge2}x_i^2`, exactly 0 where either factor is 0 (no 0 * inf = NaN at the
        extremes)."""
        return xp.where((r2 == 0) | (e == 0), 0.0, e * r2)

    def _log_prob(self, x: Any, be: Backend) -> Any:
        xp = be.xp
        x1, rest = x[..., 0], x[..., 1:]
        s2 = self.scale**2
        r2 = xp.sum(rest * rest, axis=-1)
        # -x1^2/2s^2 - (d-1)x1/2 as one product: -inf (not inf - inf) at |x1| beyond the float range
        return (
            -x1 * (x1 / (2 * s2) + 0.5 * (self.dim - 1))
            - 0.5 * math.log(2 * math.pi * s2)
            - 0.5 * self._scaled(xp, xp.exp(-x1), r2)
            - 0.5 * (self.dim - 1) * math.log(2 * math.pi)
        )

    def _grad_log_prob(self, x: Any, be: Backend) -> Any:
        xp = be.xp
        x1, rest = x[..., 0], x[..., 1:]
        e = xp.exp(-x1)
        g1 = -x1 / self.scale**2 + 0.5 * self._scaled(xp, e, xp.sum(rest * rest, axis=-1)) - 0.5 * (self.dim - 1)
        gr = xp.where(rest == 0, 0.0, -rest * e[..., None])
        return xp.concat([g1[..., None], gr], axis=-1)

    def _laplacian_log_prob(self, x: Any, be: Backend) -> Any:
        r""":math:`\Delta\log\rho = -1/\sigma^2 - \tfrac12 e^{-x_1}\sum_{i\ge2}x_i^2 - (d-1)e^{-x_1}`."""
        xp = be.xp
        x1, rest = x[..., 0], x[..., 1:]
        e = xp.exp(-x1)
        return -1.0 / self.scale**2 - 0.5 * e * xp.sum(rest * rest, axis=-1) - (self.dim - 1) * e

    def _sample(self, n: int, gen: Any, be: Backend) -> Any:
        xp = be.xp
        x1 = self.scale * gen.normal((n, 1))
        rest = xp.exp(0.5 * x1) * gen.normal((n, self.dim - 1))
        return xp.concat([x1, rest], axis=-1)


def _double_well_integral(
    a: float = 1.0, b: float = -6.0, c: float = -0.5, lo: float = -8.0, hi: float = 8.0, m: int = 16000
) -> float:
    r""":math:`\int e^{-(a x^4 + b x^2 + c x)}dx` by composite Simpson on [lo, hi] (m intervals; the integrand
    is below 1e-100 outside). Standard-library arithmetic, exact to ~1e-12 relative."""
    h = (hi - lo) / m
    f = [math.exp(-(a * t**4 + b * t**2 + c * t)) for t in (lo + i * h for i in range(m + 1))]
    return h / 3 * (f[0] + f[-1] + 4 * math.fsum(f[1:-1:2]) + 2 * math.fsum(f[2:-1:2]))


class ManyWell(_ParamTarget):
    r"""The many-well target: d/2 independent copies of a 2-D double well (unnormalized),

    .. math:: \log\tilde\rho(x) = -\sum_{i=1}^{d/2}\big[x_{2i-1}^4 - 6x_{2i-1}^2 - \tfrac12 x_{2i-1}
              + \tfrac12 x_{2i}^2\big],

    :math:`2^{d/2}` modes. :math:`\log Z = \tfrac d2\big(\log\int e^{-(x^4-6x^2-x/2)}dx + \tfrac12\log 2\pi\big)`
    with the 1-D integral by composite Simpson quadrature (16000 intervals on [-8, 8]; 11784.509265...),
    giving 164.69568 for d = 32. ``sample`` is exact: rejection sampling of each double-well coordinate from a
    two-Gaussian envelope whose bound is the maximum ratio on a fine grid times 1.05.
    """

    def __init__(self, dim: int = 32) -> None:
        super().__init__()
        dim = as_count("dim", dim, low=2)
        if dim % 2:
            raise ValueError(f"ManyWell: dim must be a positive even integer, got {dim}")
        self.dim = dim
        self.log_Z_1d = math.log(_double_well_integral())
        self.log_Z = 0.5 * self.dim * (self.log_Z_1d + 0.5 * math.log(2 * math.pi))
        self.base_scale = 2.0
        # rejection envelope q = 1/2 N(-m, s^2) + 1/2 N(m, s^2) for p(x) = exp(-(x^4 - 6x^2 - x/2))
        self._env_m, self._env_s = 1.73, 0.45
        grid = [-6 + 12 * i / 24000 for i in range(24001)]
        self._log_M = math.log(1.05) + max(self._log_ratio(t) for t in grid)

    @staticmethod
    def _dw(t: Any) -> Any:
        t2 = t * t
        return t2 * (t2 - 6) - 0.5 * t  # t^4 - 6t^2 - t/2, +inf (not inf - inf) beyond the float range

    def _log_q(self, t: float) -> float:
        m, s = self._env_m, self._env_s
        a, b = -((t - m) ** 2) / (2 * s * s), -((t + m) ** 2) / (2 * s * s)
        top = max(a, b)
        return top + math.log(0.5 * math.exp(a - top) + 0.5 * math.exp(b - top)) - math.log(s * math.sqrt(2 * math.pi))

    def _log_ratio(self, t: float) -> float:
        return -self._dw(t) - self._log_q(t)

    def _log_prob(self, x: Any, be: Backend) -> Any:
        xp = be.xp
        xo, xe = x[..., 0::2], x[..., 1::2]
        return -xp.sum(self._dw(xo) + 0.5 * xe * xe, axis=-1)

    def _grad_log_prob(self, x: Any, be: Backend) -> Any:
        xp = be.xp
        xo, xe = x[..., 0::2], x[..., 1::2]
        go = -(xo * (4 * xo * xo - 12) - 0.5)
        ge = -xe
        return xp.reshape(xp.stack([go, ge], axis=-1), x.shape)  # interleave back to (x1, x2, x3, ...)

    def _laplacian_log_prob(self, x: Any, be: Backend) -> Any:
        r""":math:`\Delta\log\tilde\rho = -\sum_i(12x_{2i-1}^2 - 12) - d/2`."""
        xo = x[..., 0::2]
        return -be.xp.sum(12 * xo * xo - 12, axis=-1) - 0.5 * self.dim

    def _sample(self, n: int, gen: Any, be: Backend) -> Any:
        xp = be.xp
        h = self.dim // 2
        m, s = self._env_m, self._env_s
        out = xp.zeros((n, h), dtype=be.dtype, device=be.device)
        filled = xp.zeros((n, h), dtype=xp.bool, device=be.device)
        for _ in range(200):  # acceptance ~0.5 per try: 200 rounds never run out in practice
            sign = 2.0 * xp.astype(gen.uniform((n, h)) < 0.5, be.dtype) - 1.0
            t = sign * m + s * gen.normal((n, h))
            log_q = (
                logsumexp(xp.stack([-((t - m) ** 2), -((t + m) ** 2)], axis=-1) / (2 * s * s), axis=-1, xp=xp)
                + math.log(0.5)
                - math.log(s * math.sqrt(2 * math.pi))
            )
            acc = xp.log(gen.uniform((n, h))) < (-self._dw(t) - log_q - self._log_M)
            take = acc & ~filled
            out = xp.where(take, t, out)
            filled = filled | take
            if bool(xp.all(filled)):
                break
        else:  # pragma: no cover
            raise RuntimeError("ManyWell.sample: rejection sampler did not finish")
        xe = gen.normal((n, h))
        return xp.reshape(xp.stack([out, xe], axis=-1), (n, self.dim))


class StudentTMixture(_ParamTarget):
    r"""Mixture of K product Student-t distributions (normalized, log Z = 0), as in the "Beyond ELBOs" suite:

    .. math:: \rho(x) = \sum_k w_k\prod_{i=1}^d \frac{1}{\sigma}t_\nu\!\Big(\frac{x_i-\mu_{ki}}{\sigma}\Big),\quad
              \log t_\nu(z) = \log\Gamma(\tfrac{\nu+1}{2}) - \log\Gamma(\tfrac\nu2) - \tfrac12\log(\nu\pi)
              - \tfrac{\nu+1}{2}\log(1 + z^2/\nu).

    Means: given, or drawn uniformly in ``[-loc_scale, loc_scale]^d`` with
    ``transportkit.random.Generator(rng, "numpy")`` (defaults d = 50, K = 10, ν = 2, σ = 1, loc_scale = 10,
    ``rng=None`` meaning the fixed stream 0 — the means define the benchmark —; ``seed=`` is the deprecated alias), then
    stored as Python floats. Equal weights unless ``weights`` is given. ``sample`` is exact
    for integer ν (t = z / sqrt(χ²_ν/ν) with χ²_ν a sum of ν squared normals).
    """

    def __init__(
        self,
        dim: int = 50,
        n_components: int = 10,
        df: float = 2.0,
        scale: float = 1.0,
        *,
        loc_scale: float = 10.0,
        means: Any = None,
        weights: Any = None,
        rng: Any = None,
        seed: Any = SEED_DEPRECATED,
    ) -> None:
        super().__init__()
        df = as_real("df", df, low=0.0, low_open=True)
        scale = as_real("scale", scale, low=0.0, low_open=True)
        if means is None:
            dim, n_components = as_count("dim", dim), as_count("n_components", n_components)
            loc_scale = as_real("loc_scale", loc_scale, low=0.0)
            nb = host_backend()
            if rng is None and seed is SEED_DEPRECATED:
                rng = 0  # the means define the benchmark: the same everywhere unless asked otherwise
            gen = resolve_rng(rng, nb, seed=seed)
            u = gen.uniform((n_components, dim), low=-loc_scale, high=loc_scale)
            means = nb.to_numpy(u).tolist()
        else:
            means = [[float(v) for v in row] for row in (means.tolist() if hasattr(means, "tolist") else means)]
            if not means or not all(math.isfinite(v) for row in means for v in row):
                raise ValueError("StudentTMixture: means must be a non-empty (K, d) array of finite numbers")
        self.means = means
        self.n_components, self.dim = len(means), len(means[0])
        if any(len(r) != self.dim for r in means):
            raise ValueError("StudentTMixture: every mean must have the same length")
        if weights is None:
            weights = [1.0 / self.n_components] * self.n_components
        weights = [float(w) for w in (weights.tolist() if hasattr(weights, "tolist") else weights)]
        if len(weights) != self.n_components or any(not (w > 0 and math.isfinite(w)) for w in weights):
            raise ValueError(f"StudentTMixture: need {self.n_components} positive weights, got {weights}")
        tot = math.fsum(weights)
        self.weights = [w / tot for w in weights]
        self.df, self.scale, self.log_Z = float(df), float(scale), 0.0
        self.base_scale = loc_scale
        nu = self.df
        self._c = math.lgamma((nu + 1) / 2) - math.lgamma(nu / 2) - 0.5 * math.log(nu * math.pi) - math.log(scale)

    def _raw_params(self) -> dict[str, Any]:
        return {"mu": self.means, "logw": [math.log(w) for w in self.weights]}

    def _parts(self, x: Any, be: Backend):
        xp = be.xp
        p = self._params(be)
        z = (x[..., None, :] - p["mu"]) / self.scale  # (..., K, d)
        q = 1 + z * z / self.df
        # log q = log1p(z^2/nu), as 2 log|z| - log nu where z^2 would overflow (so comp stays finite)
        big = xp.abs(z) > 1e100
        zs = xp.where(big, xp.abs(z), 1.0)
        log_q = xp.where(big, 2 * xp.log(zs) - math.log(self.df), xp.log1p(xp.where(big, 0.0, z * z) / self.df))
        comp = p["logw"] + self.dim * self._c - 0.5 * (self.df + 1) * xp.sum(log_q, axis=-1)
        return xp, z, q, comp

    def _log_prob(self, x: Any, be: Backend) -> Any:
        xp, _, _, comp = self._parts(x, be)
        return logsumexp(comp, axis=-1, xp=xp)

    def _grad_log_prob(self, x: Any, be: Backend) -> Any:
        xp, z, q, comp = self._parts(x, be)
        r = xp.exp(comp - logsumexp(comp, axis=-1, keepdims=True, xp=xp))
        g = -(self.df + 1) / self.df * z / q / self.scale  # (..., K, d)
        return xp.sum(r[..., None] * g, axis=-2)

    def _sample(self, n: int, gen: Any, be: Backend) -> Any:
        if self.df != int(self.df):
            raise NotImplementedError("StudentTMixture.sample needs an integer df")
        xp = be.xp
        k = gen.categorical(be.asarray([math.log(w) for w in self.weights]), (n,))
        mu = xp.take(be.asarray(self.means), k, axis=0)
        nu = int(self.df)
        chi2 = xp.sum(gen.normal((n, self.dim, nu)) ** 2, axis=-1)
        return mu + self.scale * gen.normal((n, self.dim)) / xp.sqrt(chi2 / nu)
