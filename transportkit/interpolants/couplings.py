r"""Couplings :math:`(x_0, x_1) \sim \nu(dx_0, dx_1 \mid \xi)` of the base and the target, with an optional
conditioning variable :math:`\xi` passed to the model (Albergo, Goldstein, Boffi, Ranganath & Vanden-Eijnden 2024,
"Stochastic interpolants with data-dependent couplings", arXiv:2310.03725).

The interpolant and its losses are those of the independent case, with :math:`(x_0, x_1)` drawn from the coupling;
the learned velocity transports the conditional base to the conditional target. Constructions:

- :func:`independent`: :math:`\nu = \rho_0\otimes\rho_1` (each a Target or samples);
- :func:`paired`: given pairs (rows of ``x0``, ``x1``, optionally ``xi``);
- :func:`inpainting`: :math:`x_0 = \xi\odot x_1 + (1-\xi)\odot\sigma\zeta` with a mask :math:`\xi` (1 observed),
  fixed or drawn per sample (then :math:`\xi` conditions the model);
- :func:`super_resolution`: :math:`x_0 = U(D(x_1)) + \sigma\zeta` (block-average ``D``, nearest upsampling
  ``U``), with :math:`\xi = U(D(x_1))` conditioning the model;
- :func:`gaussian`: :math:`(x_0, x_1)` jointly Gaussian with cross-covariance :math:`K = \operatorname{Cov}(x_0, x_1)`
  (closed-form fields: :func:`~transportkit.interpolants.exact_field` with ``coupling=``).

A coupling draws ``sample(n, rng=)`` -> ``(x0, x1, xi)`` (``xi`` None without conditioning). Fit with
``fit_velocity(interpolant, coupling=...)`` or ``train_velocity(..., coupling=...)``; draw conditionally with
``tk.sample(model.given(x0, xi), n)``.
"""

from __future__ import annotations

from typing import Any

from .._backend import Backend, get_backend, host_backend, resolve_backend
from .._validation import as_count, as_points, as_probability, as_real
from ..errors import CapabilityError
from ..gaussians import Gaussian, GaussianMixture
from ..random import SEED_DEPRECATED, resolve_rng
from .field import Base, EmpiricalBase, as_base

__all__ = ["Coupling", "gaussian", "independent", "inpainting", "paired", "super_resolution"]


class _Data:
    """Host rows of a sample (n, k) with cached copies per backend."""

    def __init__(self, name: str, x: Any, dim: int | None = None):
        src = resolve_backend(x)
        a = as_points(name, x, src, dim=dim)
        self.host = host_backend().asarray(src.to_numpy(a), copy=True)
        self.n, self.dim = int(self.host.shape[0]), int(self.host.shape[1])
        self.backend = get_backend(src.name, device=src.device)
        self._on: dict[Any, Any] = {}

    def on(self, be: Backend) -> Any:
        key = (be.name, str(be.device), str(be.dtype))
        if key not in self._on:
            self._on[key] = be.asarray(self.host)
        return self._on[key]

    def rows(self, idx: Any, be: Backend) -> Any:
        return be.xp.take(self.on(be), idx, axis=0)


def _law(name: str, v: Any, dim: int | None = None) -> Any:
    """A Target with an exact sampler, or samples (n, d) as :class:`_Data`."""
    if hasattr(v, "_sample") and hasattr(v, "dim"):
        if dim is not None and v.dim != dim:
            raise ValueError(f"{name} has dimension {v.dim}, expected {dim}")
        return v
    return _Data(name, v, dim)


def _draw_law(law: Any, n: int, idx: Any, gen: Any, be: Backend) -> Any:
    if isinstance(law, _Data):
        return law.rows(gen.integers(0, law.n, (n,)) if idx is None else idx, be)
    return law._sample(n, gen, be)


class Coupling:
    """A coupling of base and target. ``dim``: dimension of :math:`x_0, x_1`; ``cond_dim``: that of :math:`\\xi`
    (0: none); ``size``: the number of data rows it walks through in order when fitting (None: a law, drawn
    afresh)."""

    dim: int
    cond_dim: int = 0
    size: int | None = None
    backend: Backend | None = None

    def _draw(self, n: int, idx: Any, gen: Any, be: Backend) -> tuple[Any, Any, Any]:
        """``n`` pairs: data rows ``idx`` (an index array, or None: random rows) with fresh noise."""
        raise NotImplementedError

    def _batch(self, start: int, stop: int, gen: Any, be: Backend) -> tuple[Any, Any, Any]:
        idx = None if self.size is None else be.xp.arange(start, stop, device=be.device)
        return self._draw(stop - start, idx, gen, be)

    def sample(self, n: int, rng: Any = None, *, backend: Any = None, seed: Any = SEED_DEPRECATED):
        """``n`` draws ``(x0, x1, xi)`` (``xi`` None without conditioning); ``rng`` SPEC 7 (``seed=`` deprecated)."""
        n = as_count("n", n)
        be = get_backend(backend if backend is not None else (self.backend or "numpy"))
        gen = resolve_rng(rng, be, seed=seed)
        return self._draw(n, None, gen, be)

    def x0_base(self) -> Base:
        """The :math:`x_0`-marginal as a base (draws pairs and keeps :math:`x_0`)."""
        return _CouplingBase(self)

    def as_gaussian(self) -> tuple[GaussianMixture, GaussianMixture, Any]:
        """``(base, target, K)`` of a jointly Gaussian coupling (``TypeError`` otherwise)."""
        raise TypeError(f"{type(self).__name__} is not a jointly Gaussian coupling; exact fields need one")


class _CouplingBase(Base):
    def __init__(self, coupling: Coupling):
        self.coupling, self.dim = coupling, coupling.dim

    def sample(self, n: int, gen: Any, be: Backend) -> Any:
        if self.coupling.cond_dim:
            raise CapabilityError("this model is conditioned on xi (drawn with x0 by the coupling): draw "
                                  "conditionally with tk.sample(model.given(x0, xi), n)")
        return self.coupling._draw(n, None, gen, be)[0]

    def __repr__(self) -> str:
        return f"x0-marginal of {self.coupling!r}"


# ------------------------------------------------------------------------------------------------ independent
class _Independent(Coupling):
    def __init__(self, base: Any, target: Any):
        self.x1 = _law("target", target)
        self.dim = int(self.x1.dim)
        self.x0 = None if base is None else _law("base", base, self.dim)
        self.size = self.x1.n if isinstance(self.x1, _Data) else None
        self.backend = self.x1.backend

    def _draw(self, n, idx, gen, be):
        x1 = _draw_law(self.x1, n, idx, gen, be)
        x0 = gen.normal((n, self.dim)) if self.x0 is None else _draw_law(self.x0, n, None, gen, be)
        return x0, x1, None

    def x0_base(self) -> Base:
        if self.x0 is None:
            return as_base(None, self.dim)
        return EmpiricalBase(self.x0.host) if isinstance(self.x0, _Data) else as_base(self.x0)

    def as_gaussian(self):
        b = Gaussian.standard(self.dim) if self.x0 is None else self.x0
        if not (isinstance(b, GaussianMixture) and isinstance(self.x1, GaussianMixture)):
            raise TypeError("exact fields of an independent coupling need Gaussian(-mixture) base and target")
        return b, self.x1, None

    def __repr__(self) -> str:
        return f"independent(dim={self.dim})"


def independent(base: Any = None, target: Any = None) -> Coupling:
    r""":math:`\nu = \rho_0\otimes\rho_1`: ``base`` (default :math:`N(0, I)`) and ``target``, each a Target with an
    exact sampler or samples (n, d) (data rows are walked in order when fitting, base rows drawn at random)."""
    if target is None:
        raise TypeError("independent() needs a target (a Target or samples (n, d))")
    return _Independent(base, target)


# ----------------------------------------------------------------------------------------------------- paired
class _Paired(Coupling):
    def __init__(self, x0: Any, x1: Any, xi: Any):
        self.x1 = _Data("x1", x1)
        self.x0 = _Data("x0", x0, self.x1.dim)
        self.xi = None if xi is None else _Data("xi", xi)
        self.dim, self.size, self.backend = self.x1.dim, self.x1.n, self.x1.backend
        self.cond_dim = 0 if self.xi is None else self.xi.dim
        for name, d in (("x0", self.x0), ("xi", self.xi)):
            if d is not None and d.n != self.size:
                raise ValueError(f"{name} must have one row per x1 row ({self.size}), got {d.n}")

    def _draw(self, n, idx, gen, be):
        idx = gen.integers(0, self.size, (n,)) if idx is None else idx
        xi = None if self.xi is None else self.xi.rows(idx, be)
        return self.x0.rows(idx, be), self.x1.rows(idx, be), xi

    def __repr__(self) -> str:
        return f"paired(n={self.size}, dim={self.dim}, cond_dim={self.cond_dim})"


def paired(x0: Any, x1: Any, xi: Any = None) -> Coupling:
    """Given pairs: rows of ``x0`` and ``x1`` (n, d), with optional conditioning rows ``xi`` (n, k)."""
    return _Paired(x0, x1, xi)


# ------------------------------------------------------------------------------------------------- inpainting
class _Inpainting(Coupling):
    def __init__(self, data: Any, mask: Any, noise: float):
        self.x1 = _law("data", data)
        self.dim = int(self.x1.dim)
        self.noise = as_real("noise", noise, low=0.0, low_open=True)
        self.size = self.x1.n if isinstance(self.x1, _Data) else None
        self.backend = self.x1.backend
        xp = host_backend().xp
        if (isinstance(mask, (float, int)) and not isinstance(mask, bool)) or getattr(mask, "ndim", None) == 0:
            self.p = as_probability("mask", float(mask))
            self.mask, self.cond_dim = None, self.dim
        else:
            m = host_backend().asarray(resolve_backend(mask).to_numpy(mask) if hasattr(mask, "shape") else mask)
            if m.ndim != 1 or m.shape[0] != self.dim:
                raise ValueError(f"mask must have shape ({self.dim},), got {tuple(m.shape)}")
            if not bool(xp.all((m == 0) | (m == 1))):
                raise ValueError("mask must hold 0/1 (or booleans): 1 = observed")
            self.mask, self.p = xp.astype(m, xp.float64), None

    def _mask(self, n: int, gen: Any, be: Backend) -> Any:
        if self.mask is not None:
            return be.asarray(self.mask)
        return be.xp.astype(gen.uniform((n, self.dim)) < self.p, be.dtype)

    def _draw(self, n, idx, gen, be):
        x1 = _draw_law(self.x1, n, idx, gen, be)
        m = self._mask(n, gen, be)
        x0 = m * x1 + (1.0 - m) * (self.noise * gen.normal((n, self.dim)))
        return x0, x1, (m if self.mask is None else None)

    def condition(self, x_obs: Any, mask: Any = None, n: int | None = None, rng: Any = None, *,
                  backend: Any = None) -> tuple[Any, Any]:
        r"""Conditional base draws for observed data: ``(x0, xi)`` with :math:`x_0 = \xi\odot x_{obs} +
        (1-\xi)\odot\sigma\zeta` (unobserved entries of ``x_obs`` are ignored, NaN allowed). ``x_obs`` (d,) with
        ``n`` draws, or (n, d); ``mask`` (d,) or (n, d) for a random-mask coupling (it then comes back as ``xi``);
        ``xi`` is None for a fixed mask."""
        be = resolve_backend(x_obs, backend=backend)
        xp = be.xp
        x = as_points("x_obs", x_obs, be, ndim=(1, 2), dim=self.dim, finite=False)
        if x.ndim == 1:
            x = xp.broadcast_to(x[None, :], (as_count("n", 1 if n is None else n), self.dim))
        n = int(x.shape[0])
        if self.mask is None:
            if mask is None:
                raise ValueError("this coupling draws random masks: pass the mask of the observation")
            m = as_points("mask", xp.astype(be.asarray(mask), be.dtype), be, ndim=(1, 2), dim=self.dim)
            m = xp.broadcast_to(m if m.ndim == 2 else m[None, :], (n, self.dim))
        else:
            if mask is not None:
                raise ValueError("this coupling has a fixed mask; leave mask= out")
            m = be.asarray(self.mask)
        gen = resolve_rng(rng, be)
        obs = xp.where(m > 0, x, xp.zeros_like(x))
        if bool(xp.any(~xp.isfinite(obs))):
            raise ValueError("x_obs must be finite at the observed coordinates")
        x0 = m * obs + (1.0 - m) * (self.noise * gen.normal((n, self.dim)))
        return x0, (xp.broadcast_to(m, (n, self.dim)) + 0.0 if self.mask is None else None)

    def as_gaussian(self):
        if self.mask is None or not isinstance(self.x1, GaussianMixture) or self.x1.n_components != 1:
            raise TypeError("the exact field of an inpainting coupling needs a Gaussian data law and a fixed mask")
        xp = host_backend().xp
        m1, C1 = self.x1._host["means"][0, ...], self.x1._host["covs"][0, ...]
        P = self.mask[:, None] * xp.eye(self.dim, dtype=xp.float64)
        Q = xp.eye(self.dim, dtype=xp.float64) - P
        C0 = P @ C1 @ P + self.noise**2 * Q
        return _gauss_psd(P @ m1, C0), self.x1, P @ C1

    def __repr__(self) -> str:
        what = f"p={self.p}" if self.mask is None else f"observed={int(sum(float(v) for v in self.mask))}"
        return f"inpainting(dim={self.dim}, {what})"


def inpainting(data: Any, mask: Any, *, noise: float = 1.0) -> Coupling:
    r"""The inpainting coupling :math:`x_0 = \xi\odot x_1 + (1-\xi)\odot\sigma\zeta`, :math:`\zeta\sim N(0, I)`,
    ``noise`` :math:`\sigma`. ``data``: a Target or samples (n, d). ``mask``: 0/1 (d,) (1 observed), fixed; or a
    probability p: a fresh Bernoulli(p) mask per draw, then :math:`\xi` is the conditioning passed to the model.
    ``condition(x_obs, mask)`` gives the conditional base for an observation."""
    return _Inpainting(data, mask, noise)


# ------------------------------------------------------------------------------------------- super-resolution
class _SuperResolution(Coupling):
    def __init__(self, data: Any, factor: int, shape: Any, noise: float, condition: bool):
        self.x1 = _law("data", data)
        self.dim = int(self.x1.dim)
        self.factor = as_count("factor", factor)
        self.noise = as_real("noise", noise, low=0.0)
        self.shape = (self.dim,) if shape is None else tuple(int(v) for v in shape)
        if len(self.shape) not in (1, 2) or _prod(self.shape) != self.dim:
            raise ValueError(f"shape must be (d,) or (H, W) with product {self.dim}, got {shape!r}")
        if any(v % self.factor for v in self.shape):
            raise ValueError(f"every side of shape {self.shape} must be a multiple of factor = {self.factor}")
        self.low_shape = tuple(v // self.factor for v in self.shape)
        self.size = self.x1.n if isinstance(self.x1, _Data) else None
        self.backend = self.x1.backend
        self.cond_dim = self.dim if condition else 0

    def down(self, x: Any, xp: Any) -> Any:
        """Block averages (n, d) -> (n, prod(low_shape))."""
        n, r = x.shape[0], self.factor
        if len(self.shape) == 1:
            return xp.mean(xp.reshape(x, (n, self.low_shape[0], r)), axis=-1)
        h, w = self.low_shape
        return xp.reshape(xp.mean(xp.reshape(x, (n, h, r, w, r)), axis=(2, 4)), (n, h * w))

    def up(self, y: Any, xp: Any) -> Any:
        """Nearest upsampling (n, prod(low_shape)) -> (n, d)."""
        n, r = y.shape[0], self.factor
        if len(self.shape) == 1:
            return xp.reshape(xp.broadcast_to(y[:, :, None], (n, self.low_shape[0], r)), (n, self.dim))
        h, w = self.low_shape
        y4 = xp.reshape(y, (n, h, 1, w, 1))
        return xp.reshape(xp.broadcast_to(y4, (n, h, r, w, r)), (n, self.dim))

    def _draw(self, n, idx, gen, be):
        x1 = _draw_law(self.x1, n, idx, gen, be)
        xi = self.up(self.down(x1, be.xp), be.xp)
        x0 = xi + self.noise * gen.normal((n, self.dim))
        return x0, x1, (xi if self.cond_dim else None)

    def condition(self, low: Any, n: int | None = None, rng: Any = None, *, backend: Any = None):
        """``(x0, xi)`` for low-resolution observations ``low`` (prod(low_shape),) with ``n`` draws, or (n, ...)
        (``xi`` None when the coupling does not condition the model)."""
        be = resolve_backend(low, backend=backend)
        xp = be.xp
        m = _prod(self.low_shape)
        y = as_points("low", low, be, ndim=(1, 2), dim=m)
        if y.ndim == 1:
            y = xp.broadcast_to(y[None, :], (as_count("n", 1 if n is None else n), m))
        xi = self.up(y, xp)
        x0 = xi + self.noise * resolve_rng(rng, be).normal(tuple(xi.shape))
        return x0, (xi if self.cond_dim else None)

    def as_gaussian(self):
        if self.cond_dim or not isinstance(self.x1, GaussianMixture) or self.x1.n_components != 1 or not self.noise:
            raise TypeError("the exact field of a super-resolution coupling needs a Gaussian data law, noise > 0 "
                            "and condition=False")
        host = host_backend()
        xp = host.xp
        A = xp.linalg.matrix_transpose(self.up(self.down(xp.eye(self.dim, dtype=xp.float64), xp), xp))  # x -> UDx
        m1, C1 = self.x1._host["means"][0, ...], self.x1._host["covs"][0, ...]
        C0 = A @ C1 @ xp.linalg.matrix_transpose(A) + self.noise**2 * xp.eye(self.dim, dtype=xp.float64)
        return _gauss_psd(A @ m1, C0), self.x1, A @ C1

    def __repr__(self) -> str:
        return f"super_resolution(shape={self.shape}, factor={self.factor})"


def _prod(shape: tuple[int, ...]) -> int:
    out = 1
    for v in shape:
        out *= v
    return out


def super_resolution(data: Any, factor: int, *, shape: Any = None, noise: float = 0.1,
                     condition: bool = True) -> Coupling:
    r"""The super-resolution coupling :math:`x_0 = U(D(x_1)) + \sigma\zeta`: ``D`` averages blocks of ``factor``
    (of a 1-D signal, or ``factor`` x ``factor`` blocks of an image of ``shape`` (H, W), flattened row-major), ``U``
    repeats each value back, ``noise`` :math:`\sigma`. With ``condition=True`` the upsampled low-resolution
    :math:`\xi = U(D(x_1))` is passed to the model. ``condition(low)`` gives the conditional base of an
    observation."""
    return _SuperResolution(data, factor, shape, noise, bool(condition))


# --------------------------------------------------------------------------------------------------- gaussian
def _gauss_psd(mean: Any, cov: Any) -> Gaussian:
    """A Gaussian, with a symmetric covariance (exact fields need only its moments)."""
    xp = host_backend().xp
    return Gaussian(mean, 0.5 * (cov + xp.linalg.matrix_transpose(cov)))


class _GaussianCoupling(Coupling):
    def __init__(self, base: Gaussian, target: Gaussian, cross: Any):
        for name, g in (("base", base), ("target", target)):
            if not isinstance(g, GaussianMixture) or g.n_components != 1:
                raise TypeError(f"{name} must be a Gaussian, got {type(g).__name__}")
        if base.dim != target.dim:
            raise ValueError(f"base has dimension {base.dim} but target has dimension {target.dim}")
        self.base, self.target, self.dim = base, target, target.dim
        self.backend = target.backend
        host = host_backend()
        xp, d = host.xp, self.dim
        src = resolve_backend(cross)
        K = host.asarray(src.to_numpy(as_points("cross", cross, src, ndim=2, dim=d)), copy=True)
        if tuple(K.shape) != (d, d):
            raise ValueError(f"cross must have shape ({d}, {d}), got {tuple(K.shape)}")
        C0, C1 = base._host["covs"][0, ...], target._host["covs"][0, ...]
        J = xp.concat([xp.concat([C0, K], axis=1), xp.concat([xp.linalg.matrix_transpose(K), C1], axis=1)], axis=0)
        w, V = xp.linalg.eigh(J)
        if float(xp.min(w)) < -1e-10 * max(1.0, float(xp.max(xp.abs(w)))):
            raise ValueError(f"the joint covariance [[C0, K], [K^T, C1]] is not positive semi-definite "
                             f"(smallest eigenvalue {float(xp.min(w)):.3g}): K is too large for C0, C1")
        self.K = K
        self._root = V * xp.sqrt(xp.clip(w, 0.0, None))[None, :]  # J = R R^T
        self._mean = xp.concat([base._host["means"][0, ...], target._host["means"][0, ...]])

    def _draw(self, n, idx, gen, be):
        z = gen.normal((n, 2 * self.dim))
        y = be.asarray(self._mean) + z @ be.xp.linalg.matrix_transpose(be.asarray(self._root))
        return y[:, : self.dim], y[:, self.dim :], None

    def x0_base(self) -> Base:
        return as_base(self.base, self.dim)

    def as_gaussian(self):
        return self.base, self.target, self.K

    def __repr__(self) -> str:
        return f"gaussian(dim={self.dim})"


def gaussian(base: Gaussian, target: Gaussian, cross: Any) -> Coupling:
    r"""Jointly Gaussian :math:`(x_0, x_1)`: marginals ``base`` :math:`N(m_0, C_0)` and ``target``
    :math:`N(m_1, C_1)`, cross-covariance ``cross`` :math:`K = \operatorname{Cov}(x_0, x_1)` (d, d); the joint
    covariance must be positive semi-definite (checked)."""
    return _GaussianCoupling(base, target, cross)
