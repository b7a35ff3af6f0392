r"""Operator-valued time: one denoiser, many tasks (Negrel, Coeurdoux, Albergo & Vanden-Eijnden 2025, "Multitask
learning with stochastic interpolants", arXiv:2508.04605).

The scalar time is replaced by a vector :math:`\alpha \in [0, 1]^d` acting elementwise:

.. math:: x_\alpha = \alpha\odot x_0 + \beta\odot x_1,\quad \beta = 1 - \alpha,\quad x_0 \sim N(0, I),

so :math:`\alpha = 1` is pure noise and :math:`\alpha = 0` is data, coordinate by coordinate. One model
:math:`\eta_1(\alpha, x) \approx E[x_1 \mid x_\alpha = x]` is trained over random :math:`\alpha` (a task-agnostic law
on the hypercube: :func:`train_denoiser`); then :math:`\eta_0 = (x - \beta\odot\eta_1)/\alpha` where
:math:`\alpha > 0`, and any path :math:`\alpha(\tau)`, :math:`\tau\in[0, 1]`, gives the transport

.. math:: \frac{dx}{d\tau} = \dot\alpha\odot\eta_0 + \dot\beta\odot\eta_1 = \dot\alpha\odot(\eta_0 - \eta_1).

A coordinate whose :math:`\alpha` does not change does not move. :func:`transport` integrates it in the form
:math:`x_{k+1} = x_k + (\alpha_{k+1} - \alpha_k)\odot(\eta_0 - \eta_1)` (the DDIM step; with ``solver="heun"`` the
bracket is averaged over both ends of the step, except on a last step into :math:`\alpha = 0` with a learned model,
where :math:`\eta_0` is undefined). **Inpainting** (:func:`inpaint`): observed coordinates sit at :math:`\alpha = 0`
with their data values and never move; the masked ones go :math:`\alpha: 1 \to 0` from noise.

For Gaussian(-mixture) data :func:`exact_denoiser` gives both :math:`\eta_1` and :math:`\eta_0` in closed form:
per component :math:`N(m_k, C_k)`, :math:`\Sigma_k = D_\alpha^2 + D_\beta C_k D_\beta`,
:math:`g_k = \Sigma_k^{-1}(x - \beta\odot m_k)`, responsibilities :math:`r_k` (log space),
:math:`\eta_1 = \sum_k r_k (m_k + C_k D_\beta g_k)`, :math:`\eta_0 = \sum_k r_k\, \alpha\odot g_k`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .._backend import Backend, get_backend, host_backend, resolve_backend
from .._capabilities import declare
from .._loops import run_steps
from .._typing import Array
from .._validation import as_choice, as_count, as_points
from ..gaussians import GaussianMixture, gaussian_terms
from ..random import SEED_DEPRECATED, resolve_rng
from .mlp import adam, init_mlp, net_apply

__all__ = [
    "ExactDenoiser", "LearnedDenoiser", "Path", "exact_denoiser", "inpaint", "linear_path", "sample",
    "train_denoiser", "transport",
]  # fmt: skip


# ---------------------------------------------------------------------------------------------------- paths
class Path:
    r"""A path :math:`\tau \mapsto \alpha(\tau) \in [0, 1]^d`: ``alpha(tau, xp)`` gives a (d,) array for a 0-d
    ``tau``. Built by :func:`linear_path`, or from a callable (values checked on the grid)."""

    def __init__(self, alpha: Callable[[Any, Any], Any], dim: int, name: str = "path", key: Any = None):
        self.alpha, self.dim, self.name = alpha, int(dim), name
        #: what determines ``alpha`` (compiled runs are cached by it); None: the object itself
        self.key = key

    def __eq__(self, other: object) -> bool:
        return self is other or (isinstance(other, Path) and self.key is not None and self.key == other.key)

    def __hash__(self) -> int:
        return id(self) if self.key is None else hash(self.key)

    def __repr__(self) -> str:
        return f"Path({self.name}, dim={self.dim})"


def linear_path(start: Any, end: Any) -> Path:
    r""":math:`\alpha(\tau) = (1-\tau)\,\alpha_{start} + \tau\,\alpha_{end}` (each (d,), entries in [0, 1]);
    ``linear_path(1, 0)`` with scalars is the ordinary noise-to-data path in every coordinate (dimension from use)."""
    be = host_backend()
    s, e = be.asarray(start, dtype=be.dtype), be.asarray(end, dtype=be.dtype)
    xp = be.xp
    for name, v in (("start", s), ("end", e)):
        if v.ndim > 1 or bool(xp.any((v < 0) | (v > 1))) or bool(xp.any(xp.isnan(v))):
            raise ValueError(f"{name} must be a number or a (d,) array with entries in [0, 1], got {v}")
    dim = max(int(s.shape[0]) if s.ndim else 0, int(e.shape[0]) if e.ndim else 0)
    s_l, e_l = [float(v) for v in xp.reshape(s, (-1,))], [float(v) for v in xp.reshape(e, (-1,))]

    def alpha(tau: Any, xp: Any, d: int | None = None) -> Any:
        n = d if dim == 0 else dim
        a0 = xp.asarray(s_l * (n if len(s_l) == 1 else 1), dtype=tau.dtype, device=getattr(tau, "device", None))
        a1 = xp.asarray(e_l * (n if len(e_l) == 1 else 1), dtype=tau.dtype, device=getattr(tau, "device", None))
        return (1.0 - tau) * a0 + tau * a1

    return Path(alpha, dim, f"linear {s_l} -> {e_l}", key=("linear", tuple(s_l), tuple(e_l)))


# ------------------------------------------------------------------------------------------------ denoisers
class ExactDenoiser:
    r"""The exact :math:`(\eta_0, \eta_1)` of operator-valued time toward a Gaussian(-mixture) target (module
    docstring). ``eta(alpha, x, be)`` with ``alpha`` (d,) returns both, shape (n, d) each."""

    exact_eta0 = True

    def __init__(self, target: GaussianMixture):
        if not isinstance(target, GaussianMixture):
            raise TypeError(f"exact_denoiser needs a Gaussian or GaussianMixture target, got {type(target).__name__}")
        self.target, self.dim = target, target.dim

    def eta(self, alpha: Any, x: Any, be: Backend) -> tuple[Any, Any]:
        xp, p = be.xp, self.target.params(be)
        beta = 1.0 - alpha
        m, C = p["means"], p["covs"]  # (K, d), (K, d, d)
        sig = C * (beta[:, None] * beta[None, :]) + (alpha * alpha) * xp.eye(self.dim, dtype=x.dtype,
                                                                            device=be.device)
        chol = xp.linalg.cholesky(sig)
        W = xp.linalg.inv(chol)
        logdet = 2.0 * xp.sum(xp.log(xp.linalg.diagonal(chol)), axis=-1)
        logn, g = gaussian_terms(x, beta * m, W, logdet, xp)  # (K, n), (K, n, d) = Sigma_k^{-1}(x - mu_k)
        lc = p["log_w"][:, None] + logn
        r = xp.exp(lc - xp.max(lc, axis=0, keepdims=True))
        r = (r / xp.sum(r, axis=0, keepdims=True))[:, :, None]
        eta1 = xp.sum(r * (m[:, None, :] + (beta * g) @ C), axis=0)  # C symmetric: (C D_b g)^T = g^T D_b C
        eta0 = xp.sum(r * (alpha * g), axis=0)
        return eta0, eta1

    def __repr__(self) -> str:
        return f"exact_denoiser({self.target!r})"


@declare(name="tk.interpolants.operator_time.exact_denoiser")
def exact_denoiser(target: GaussianMixture) -> ExactDenoiser:
    """The closed-form denoiser of operator-valued time for a Gaussian or Gaussian-mixture ``target``."""
    return ExactDenoiser(target)


class LearnedDenoiser:
    r"""An MLP :math:`\hat\eta_1(\alpha, x)` with input :math:`[x, \alpha]` (:func:`train_denoiser`);
    :math:`\eta_0 = (x - \beta\odot\hat\eta_1)/\alpha` where :math:`\alpha > 0` (0 elsewhere)."""

    exact_eta0 = False

    def __init__(self, params: dict[str, Any], backend: Backend, info: dict):
        self.params, self.backend, self.info = params, backend, info
        self.dim = int(params[f"c{len(params) // 2 - 1}"].shape[0])
        self._host = {k: backend.to_numpy(v) for k, v in params.items()}

    def eta1(self, alpha: Any, x: Any, be: Backend) -> Any:
        xp = be.xp
        p = self.params if be is self.backend else {k: be.asarray(v) for k, v in self._host.items()}
        a = xp.broadcast_to(alpha, x.shape) if alpha.ndim == 1 else alpha
        return net_apply(p, xp.concat([x, a], axis=1), xp)

    def eta(self, alpha: Any, x: Any, be: Backend) -> tuple[Any, Any]:
        xp = be.xp
        e1 = self.eta1(alpha, x, be)
        pos = alpha > 0
        e0 = xp.where(pos, (x - (1.0 - alpha) * e1) / xp.where(pos, alpha, xp.ones_like(alpha)), 0.0 * e1)
        return e0, e1

    def __repr__(self) -> str:
        return f"LearnedDenoiser(dim={self.dim})"


def _draw_alpha(kind: str, n: int, d: int, gen: Any, be: Backend) -> Any:
    """Task-agnostic laws on the hypercube: ``"uniform"`` (independent entries), ``"mixed"`` (a third each:
    one scalar for all coordinates, independent entries, a random mask with observed coordinates at 0 and the
    others at one shared scalar)."""
    xp = be.xp
    u = gen.uniform((n, d))
    if kind == "uniform":
        return u
    s = gen.uniform((n, 1))
    which = gen.uniform((n, 1))
    keep = xp.astype(gen.uniform((n, d)) < gen.uniform((n, 1)), u.dtype)  # mask with a random fraction observed
    scalar = s * xp.ones_like(u)
    masked = (1.0 - keep) * s
    return xp.where(which < 1 / 3, scalar, xp.where(which < 2 / 3, u, masked))


@declare(needs=("value_and_grad",), name="tk.interpolants.operator_time.train_denoiser")
def train_denoiser(
    x1: Any,
    *,
    alpha: str = "mixed",
    hidden: tuple[int, ...] = (128, 128),
    steps: int = 2000,
    batch_size: int = 512,
    lr: float = 2e-3,
    rng: Any = None,
    seed: Any = SEED_DEPRECATED,
    backend: Any = None,
) -> LearnedDenoiser:
    r"""Train :math:`\hat\eta_1(\alpha, x)` on the denoiser loss :math:`E[\tfrac12|\hat\eta_1(\alpha, x_\alpha)|^2 -
    x_1\cdot\hat\eta_1(\alpha, x_\alpha)]` (minimizer :math:`E[x_1|x_\alpha]`) over :math:`\alpha` drawn from
    ``alpha`` = ``"mixed"`` (scalar times, independent entries and random masks, a third each) or ``"uniform"``
    (independent entries), with Adam (torch, jax; else ``CapabilityError``). ``x1``: data (n, d); ``rng`` SPEC 7."""
    alpha = as_choice("alpha", alpha, ("mixed", "uniform"))
    be = resolve_backend(x1, backend=backend)
    be.require("value_and_grad")
    xp = be.xp
    x1 = as_points("x1", x1, be)
    steps, batch_size = as_count("steps", steps), as_count("batch_size", batch_size)
    n, d = x1.shape
    gen = resolve_rng(rng, be, seed=seed)
    params = init_mlp(d, hidden, 0, rng=int(be.to_numpy(gen.integers(0, 2**31))), backend=be, cond_dim=d)

    def batches(i):
        xb = xp.take(x1, gen.integers(0, n, (batch_size,)), axis=0)
        a = _draw_alpha(alpha, batch_size, d, gen, be)
        return a, a * gen.normal((batch_size, d)) + (1.0 - a) * xb, xb

    def loss(p, batch):
        a, xa, xb = batch
        e = net_apply(p, xp.concat([xa, a], axis=1), xp)
        return xp.mean(0.5 * xp.sum(e * e, axis=-1) - xp.sum(xb * e, axis=-1))

    params, hist = adam(be, loss, params, batches, steps=steps, lr=lr)
    return LearnedDenoiser(params, be, {"loss_history": hist, "steps": steps, "alpha": alpha})


# ------------------------------------------------------------------------------------------------- inference
class _Step:
    """One step of the transport; hashable by (denoiser, path, solver) so compiled runs are reused."""

    def __init__(self, den: Any, path: Path, be: Backend, heun: bool, d: int):
        self.den, self.path, self.be, self.heun, self.d = den, path, be, heun, d

    def alpha(self, tau: Any) -> Any:
        a = self.path.alpha(tau, self.be.xp, self.d) if _takes_dim(self.path) else self.path.alpha(tau, self.be.xp)
        return a

    def __call__(self, i: Any, x: Any, consts: Any) -> Any:
        taus, heun = consts, self.heun
        a0, a1 = self.alpha(taus[i]), self.alpha(taus[i + 1])
        e0, e1 = self.den.eta(a0, x, self.be)
        dx = (a1 - a0) * (e0 - e1)
        if not heun:
            return x + dx
        f0, f1 = self.den.eta(a1, x + dx, self.be)
        return x + 0.5 * (dx + (a1 - a0) * (f0 - f1))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Step) and other.den is self.den and (other.path, other.heun, other.d) == (
            self.path, self.heun, self.d)

    def __hash__(self) -> int:
        return hash((id(self.den), self.path, self.heun, self.d))


def _takes_dim(path: Path) -> bool:
    return path.alpha.__code__.co_argcount == 3 if hasattr(path.alpha, "__code__") else False


@declare(uses=("jit",), name="tk.interpolants.operator_time.transport")
def transport(
    denoiser: Any,
    x: Any,
    path: Path | Callable | None = None,
    *,
    steps: int = 100,
    solver: str = "heun",
    backend: Any = None,
) -> Array:
    r"""Push ``x`` (n, d), a draw of :math:`x_{\alpha(0)}`, along ``path`` (a :class:`Path` or a callable
    ``alpha(tau, xp) -> (d,)``; default :func:`linear_path` (1, 0): noise to data) to :math:`\tau = 1` in ``steps``
    steps of ``solver`` ``"heun"`` (second order) or ``"euler"`` (the DDIM step); see the module docstring."""
    be = resolve_backend(x, backend=backend)
    xp = be.xp
    x = as_points("x", x, be)
    d = int(x.shape[1])
    if getattr(denoiser, "dim", d) != d:
        raise ValueError(f"x has {d} coordinates but the denoiser has {denoiser.dim}")
    if not callable(getattr(denoiser, "eta", None)):
        raise TypeError(f"denoiser must come from exact_denoiser or train_denoiser, got {type(denoiser).__name__}")
    steps = as_count("steps", steps)
    solver = as_choice("solver", solver, ("heun", "euler"))
    path = linear_path(1.0, 0.0) if path is None else path
    if not isinstance(path, Path):
        if not callable(path):
            raise TypeError(f"path must be a Path or a callable alpha(tau, xp), got {type(path).__name__}")
        path = Path(path, d, getattr(path, "__name__", "path"))
    taus = xp.asarray([k / steps for k in range(steps + 1)], dtype=be.dtype, device=be.device)
    heun = solver == "heun"
    step = _Step(denoiser, path, be, heun, d)
    for k in (0, steps):
        a = step.alpha(taus[k])
        if tuple(a.shape) != (d,) or bool(xp.any((a < 0) | (a > 1))):
            raise ValueError(f"path(tau={k / steps}) must be a ({d},) array in [0, 1], got {be.to_numpy(a)}")
    last_into_zero = heun and not denoiser.exact_eta0 and bool(xp.any(step.alpha(taus[steps]) == 0))
    n_main = steps - 1 if last_into_zero else steps
    x = run_steps(be, step, x, n_main, consts=taus, key=("operator_time", step))
    if last_into_zero:  # the learned eta0 is undefined at alpha = 0: the last step is a DDIM (Euler) step
        x = _Step(denoiser, path, be, False, d)(steps - 1, x, taus)
    return x


@declare(uses=("jit",), name="tk.interpolants.operator_time.sample")
def sample(denoiser: Any, n: int, *, steps: int = 100, solver: str = "heun", rng: Any = None,
           seed: Any = SEED_DEPRECATED, backend: Any = None) -> Array:
    """``n`` draws of the data law: noise :math:`x_0 \\sim N(0, I)` pushed along :func:`linear_path` (1, 0)."""
    n = as_count("n", n)
    be = get_backend(backend if backend is not None else getattr(denoiser, "backend", None)
                     or getattr(getattr(denoiser, "target", None), "backend", None) or "numpy")
    gen = resolve_rng(rng, be, seed=seed)
    return transport(denoiser, gen.normal((n, denoiser.dim)), steps=steps, solver=solver, backend=be)


@declare(uses=("jit",), name="tk.interpolants.operator_time.inpaint")
def inpaint(
    denoiser: Any,
    x_obs: Any,
    mask: Any,
    n: int | None = None,
    *,
    steps: int = 100,
    solver: str = "heun",
    rng: Any = None,
    seed: Any = SEED_DEPRECATED,
    backend: Any = None,
) -> Array:
    r"""Zero-shot inpainting: draws of the masked coordinates given the observed ones (``mask`` (d,) 0/1 or
    bool, 1 = observed). ``x_obs``: (d,) with ``n`` draws, or (n, d) (one observation per row); its masked entries
    are ignored (NaN allowed). Observed coordinates stay at :math:`\alpha = 0` with their values (never moved);
    masked ones start as :math:`N(0, I)` noise and follow :math:`\alpha = 1 - \tau`. Returns (n, d)."""
    be = resolve_backend(x_obs, backend=backend)
    xp = be.xp
    x = as_points("x_obs", x_obs, be, ndim=(1, 2), finite=False)
    d = int(x.shape[-1])
    m = be.asarray(mask)
    if m.ndim != 1 or m.shape[0] != d:
        raise ValueError(f"mask must have shape ({d},), got {tuple(m.shape)}")
    m = xp.astype(m, be.dtype)
    if not bool(xp.all((m == 0) | (m == 1))):
        raise ValueError("mask must hold 0/1 or booleans (1 = observed)")
    if x.ndim == 1:
        x = xp.broadcast_to(x[None, :], (as_count("n", 1 if n is None else n), d))
    elif n is not None and as_count("n", n) != x.shape[0]:
        raise ValueError(f"x_obs has {x.shape[0]} rows but n = {n}")
    obs = xp.where(m > 0, x, xp.zeros_like(x))
    if bool(xp.any(~xp.isfinite(obs))):
        raise ValueError("x_obs must be finite at the observed coordinates")
    gen = resolve_rng(rng, be, seed=seed)
    start = m * obs + (1.0 - m) * gen.normal(tuple(x.shape))
    free = [float(1.0 - v) for v in be.to_numpy(m)]

    def alpha(tau: Any, xp: Any) -> Any:
        return (1.0 - tau) * xp.asarray(free, dtype=tau.dtype, device=getattr(tau, "device", None))

    path = Path(alpha, d, f"inpaint {math.fsum(free):.0f} free", key=("inpaint", tuple(free)))
    return transport(denoiser, start, path, steps=steps, solver=solver, backend=be)
