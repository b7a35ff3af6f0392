r"""NETS, the non-equilibrium transport sampler (Albergo & Vanden-Eijnden 2025; ALGORITHMS.md §5.4), with a
drift learned by the PINN objective in a linear-in-parameters model (least squares, any backend).

**Dynamics.** Along a path :math:`\log\rho_t` (default geometric from a normalized Gaussian base to the
target), with score :math:`s_t = \nabla\log\rho_t` and a drift :math:`b_t`,

.. math:: dX_t = \big(\varepsilon\,s_t(X_t) + b_t(X_t)\big)\,dt + \sqrt{2\varepsilon}\,dW_t,\qquad
          dA_t = \big(\nabla\cdot b_t + s_t\cdot b_t + \partial_t\log\rho_t\big)(X_t)\,dt,

so that :math:`E[e^{A_t}f(X_t)] = (Z_t/Z_0)\,E_{\rho_t}f` for any b and ε (U = -log ρ in the paper's
notation). On the grid :math:`t_k = k/K`, h = 1/K, Euler–Maruyama moves
:math:`x_{k+1} = x_k + h(b_k + \varepsilon s_k)(x_k) + \sqrt{2h\varepsilon}\,\xi_k`. Two weight rules:

- ``weights="fb"`` (default for ε > 0; exact for any h): the forward/backward kernel ratio
  :math:`q_F(x_{k+1}|x_k) = \mathcal N(x_k + h(b+\varepsilon s)(t_k, x_k), 2h\varepsilon I)`,
  :math:`q_B(x_k|x_{k+1}) = \mathcal N(x_{k+1} - h(b-\varepsilon s)(t_{k+1}, x_{k+1}), 2h\varepsilon I)`,

  .. math:: A = \sum_k\Big[\log\rho_{t_{k+1}}(x_{k+1}) - \log\rho_{t_k}(x_k)
            + \log q_B(x_k|x_{k+1}) - \log q_F(x_{k+1}|x_k)\Big],

  so that :math:`E[e^A] = Z_1/Z_0` exactly (importance sampling on path space).
- ``weights="riemann"`` (any ε ≥ 0; O(h) bias): the left-point rule
  :math:`A \mathrel{+}= h(\nabla\cdot b + s\cdot b + \partial_t\log\rho)(t_k, x_k)`.

Estimates: :math:`\log\hat Z_1 = \log Z_0 + \operatorname{logmeanexp}(A)`, ESS as in AIS, standard error
:math:`\sqrt{(n/\mathrm{ESS} - 1)/(n-1)}`.

**Learning b (PINN).** At perfect transport :math:`\nabla\cdot b + s_t\cdot b + \partial_t\log\rho_t +
\partial_tF_t = 0` (:math:`F_t = -\log Z_t`), which is linear in (b, ∂F). With
:math:`b_t(x) = \sum_j\theta_j(t)\psi_j(x)` the loss at each grid time,

.. math:: L_k(\theta, c) = \frac1m\sum_i\Big|\sum_j\theta_j\big(\nabla\cdot\psi_j + s_{t_k}\cdot\psi_j\big)(x^i_k)
          + \partial_t\log\rho_{t_k}(x^i_k) + c\Big|^2,

is a least-squares problem, solved (with a relative ridge) on the walkers :math:`x^i_k` of the previous
round (round 0 uses b = 0); ``rounds`` refits are made, then ``n`` fresh walkers are run with the final drift
and ε = ``eps`` (which may differ from the training ``eps_train``: b does not depend on ε).
:math:`-\sum_k h\,\bar c_k` is a second estimate of :math:`\log(Z_1/Z_0)` (``info["log_Z_pinn"]``).

Features :math:`\psi_j` (all with analytic divergence), chosen by ``features``:

- ``"affine"``: :math:`b = Wx + c` (:math:`d^2 + d` parameters; exact for Gaussian paths);
- ``"diag"``: :math:`b_a = w_a x_a + c_a`;
- ``"rbf"``: gradients of Gaussian bumps :math:`\psi_j = \nabla e^{-|x-c_j|^2/2\ell_j^2}`, centers drawn from the
  walkers at that time, widths ``rbf_widths`` times the walkers' spread;
- ``"sep"``: separable 1-D bumps :math:`b_a = \sum_j\theta_{aj}e^{-(x_a-c_{aj})^2/2\ell_a^2}` (exact class for
  product targets such as many-well);
- ``"score"``: the annealed score itself, :math:`b = \theta\,\nabla\log\rho_t` (its divergence needs the
  Laplacian :math:`\Delta\log\rho_t`: the target's ``laplacian_log_prob`` if it has one, else central
  differences of the gradient; free when sampling with the forward/backward weights). Combined as
  ``"affine+score"`` it spans the transport drift of a mode that moves and contracts, and, along an
  :class:`~transportkit.sampling.InterpolantPath` of a mixture with equal isotropic components (means
  :math:`\beta_t\mu_k`, common variance :math:`C_t`), the exact drift of all the modes at once,
  :math:`b = (\dot\beta/\beta)\,x + (\dot\beta C_t/\beta - \dot C_t/2)\,\nabla\log\rho_t`;
- ``"none"``: no linear part (with ``learner="mlp"``);
- ``"auto"``: affine + rbf for d ≤ 4, affine + sep for 4 < d ≤ 16, diag + sep above.

**Learning b (MLP, torch/jax).** ``learner="mlp"`` adds :math:`b^{\rm mlp}_t(x) = \sigma\,N([x/\sigma,
\cos\pi kt, \sin\pi kt])` (the tanh network of :mod:`transportkit.interpolants.mlp`, last layer zero at
start, σ the rms of the walkers) on top of the least-squares drift and trains it, with a learned
:math:`\partial_tF` per grid time, by Adam (:func:`transportkit.interpolants.mlp.adam`, the backend's
``value_and_grad``) on the same PINN residual over an off-policy buffer: the walkers of the last
``buffer_rounds`` rounds at every grid time, detached. :math:`\nabla\cdot b^{\rm mlp}` is computed by forward
propagation of the input Jacobian through the layers (:func:`mlp_drift_div`).

**Resampling.** ``resample="systematic"`` (or multinomial, stratified) resamples the final run's walkers when
ESS/n < ``ess_threshold`` as in SMC (ALGORITHMS.md §5.4 allows it), over ``islands`` independent populations
(:mod:`transportkit.sampling.resampling`): with one island the reported variance is the sum of the epochs'
delta-method variances, which ignores the correlations resampling creates (it underestimates the seed-to-seed
spread); with several it comes from the spread of the islands' estimates (consistent).
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any

from array_api_compat import array_namespace

from .._backend import resolve_backend
from .._capabilities import declare
from ..numerics import ess as _ess
from ..random import default_rng
from ._common import make_path, progress_range, samples
from .resampling import RESAMPLERS, Resampler, final_estimate, make_resampler

__all__ = ["DriftModel", "nets"]


# ------------------------------------------------------------------------------------------ feature families
class _Affine:
    def __init__(self, d: int, diag: bool):
        self.d, self.diag = d, diag
        self.size = 2 * d if diag else d * d + d

    def design(self, x: Any, s: Any, lap: Any, xp: Any) -> Any:
        n, d = x.shape
        if self.diag:
            return xp.concat([s * x + 1.0, s], axis=1)
        eye = xp.reshape(xp.eye(d, dtype=x.dtype, device=getattr(x, "device", None)), (1, d * d))
        mw = xp.reshape(s[:, :, None] * x[:, None, :], (n, d * d)) + eye
        return xp.concat([mw, s], axis=1)

    def drift(self, x: Any, th: Any, xp: Any, s: Any) -> tuple[Any, Any]:
        d = self.d
        if self.diag:
            w, c = th[:d], th[d:]
            return x * w + c, xp.sum(w) + xp.zeros_like(x[:, 0])
        W, c = xp.reshape(th[: d * d], (d, d)), th[d * d :]
        return x @ xp.linalg.matrix_transpose(W) + c, xp.sum(xp.linalg.diagonal(W)) + xp.zeros_like(x[:, 0])


class _RadialRBF:
    r""":math:`\psi_j = \nabla\phi_j`, :math:`\phi_j = e^{-|x-c_j|^2/2\ell_j^2}`:
    :math:`\psi_j = -\phi_j(x-c_j)/\ell_j^2`, :math:`\nabla\cdot\psi_j = \phi_j(|x-c_j|^2/\ell_j^4 - d/\ell_j^2)`."""

    def __init__(self, centers: Any, widths: Any):
        self.c, self.l2 = centers, widths**2  # (m, d), (m,)
        self.c2 = None
        self.size = centers.shape[0]

    def _phi(self, x: Any, xp: Any) -> tuple[Any, Any]:
        c = self.c
        sq = xp.sum(x * x, axis=1)[:, None] + xp.sum(c * c, axis=1)[None, :] - 2.0 * (x @ xp.linalg.matrix_transpose(c))
        sq = xp.maximum(sq, xp.zeros_like(sq))
        return xp.exp(-sq / (2 * self.l2)), sq

    def design(self, x: Any, s: Any, lap: Any, xp: Any) -> Any:
        d = x.shape[1]
        phi, sq = self._phi(x, xp)
        s_dot = xp.sum(s * x, axis=1)[:, None] - s @ xp.linalg.matrix_transpose(self.c)  # s.(x - c_j)
        return phi * (sq / self.l2**2 - d / self.l2 - s_dot / self.l2)

    def drift(self, x: Any, th: Any, xp: Any, s: Any) -> tuple[Any, Any]:
        d = x.shape[1]
        phi, sq = self._phi(x, xp)
        w = th * phi / self.l2  # (n, m)
        b = -(x * xp.sum(w, axis=1)[:, None] - w @ self.c)
        div = xp.sum(th * phi * (sq / self.l2**2 - d / self.l2), axis=1)
        return b, div


class _Separable:
    r"""Per coordinate a: :math:`b_a = \sum_j\theta_{aj}g_{aj}(x_a)`, :math:`g_{aj}(u) = e^{-(u-c_{aj})^2/2\ell_a^2}`;
    :math:`\nabla\cdot b = \sum_{a,j}\theta_{aj}g'_{aj}(x_a)`."""

    def __init__(self, centers: Any, widths: Any):
        self.c, self.l = centers, widths  # (d, m), (d,)
        self.size = centers.shape[0] * centers.shape[1]

    def _g(self, x: Any, xp: Any) -> tuple[Any, Any]:
        z = (x[:, :, None] - self.c[None, :, :]) / self.l[None, :, None]
        g = xp.exp(-0.5 * z * z)
        return g, -z / self.l[None, :, None] * g

    def design(self, x: Any, s: Any, lap: Any, xp: Any) -> Any:
        g, dg = self._g(x, xp)
        return xp.reshape(dg + s[:, :, None] * g, (x.shape[0], self.size))

    def drift(self, x: Any, th: Any, xp: Any, s: Any) -> tuple[Any, Any]:
        g, dg = self._g(x, xp)
        t = xp.reshape(th, self.c.shape)
        return xp.sum(t * g, axis=2), xp.sum(xp.reshape(t * dg, (x.shape[0], self.size)), axis=1)


class _Score:
    r"""The annealed score as a feature: :math:`b = \theta\,s_t(x)`, :math:`s_t = \nabla\log\rho_t`, with
    :math:`\nabla\cdot b = \theta\,\Delta\log\rho_t` (the PINN column is :math:`\Delta\log\rho_t + |s_t|^2`).
    Within a mode that moves and contracts, the transport drift is affine in x and in :math:`s_t`, so
    ``affine+score`` captures moving mode centers and shrinking widths with d^2 + d + 1 numbers per time. Costs
    nothing extra when sampling with the forward/backward weights (s is computed anyway); the fit needs the
    Laplacian of the target (analytic ``laplacian_log_prob`` if the target has one, else finite differences)."""

    size = 1
    needs_laplacian = True

    def design(self, x: Any, s: Any, lap: Any, xp: Any) -> Any:
        return (lap + xp.sum(s * s, axis=1))[:, None]

    def drift(self, x: Any, th: Any, xp: Any, s: Any) -> tuple[Any, Any]:
        return th[0] * s, None  # divergence th * lap: computed by DriftModel when needed


class DriftModel:
    r"""The drift at one grid time: :math:`b(x) = \sum_j\theta_j\psi_j(x)` over the concatenated feature families,
    and the fitted :math:`c = \partial_tF`."""

    def __init__(self, families: list, theta: Any, c: float):
        self.families, self.theta, self.c = families, theta, c

    def __call__(self, x: Any, xp: Any, s: Any = None, lap: Callable | None = None) -> tuple[Any, Any]:
        """``(b, div b)`` at x; ``s`` is the score of the path at x and ``lap()`` its Laplacian (only called when
        a score feature is present and the divergence is asked for, i.e. ``lap`` is not None)."""
        b, div, o = 0.0, 0.0, 0
        for f in self.families:
            th = self.theta[o : o + f.size]
            bb, dd = f.drift(x, th, xp, s)
            if dd is None:
                dd = th[0] * lap() if lap is not None else 0.0
            b, div, o = b + bb, div + dd, o + f.size
        return b, div


def _quantile_grid(xs: Any, m: int, xp: Any) -> Any:
    """m centers per coordinate, equally spaced between the 1% and 99% quantiles of the walkers, (d, m)."""
    n = xs.shape[0]
    srt = xp.sort(xs, axis=0)
    lo, hi = srt[int(0.01 * (n - 1)), :], srt[int(0.99 * (n - 1)), :]
    u = xp.linspace(0.0, 1.0, m, dtype=xs.dtype, device=getattr(xs, "device", None))
    return lo[:, None] + (hi - lo)[:, None] * u[None, :], (hi - lo) / max(m - 1, 1)


def _families(
    kind: str, xs: Any, d: int, gen: Any, xp: Any, n_centers: int, rbf_widths: Sequence[float], n_sep: int
) -> list:
    if kind == "auto":
        kind = "affine+rbf" if d <= 4 else ("affine+sep" if d <= 16 else "diag+sep")
    fams = []
    for part in kind.split("+"):
        if part in ("affine", "diag"):
            fams.append(_Affine(d, part == "diag"))
        elif part == "score":
            fams.append(_Score())
        elif part == "rbf":
            m = min(n_centers, xs.shape[0])
            idx = xp.argsort(gen.uniform((xs.shape[0],)))[:m]
            cen = xp.take(xs, idx, axis=0)
            spread = float(xp.sqrt(xp.mean(xp.var(xs, axis=0)))) + 1e-12
            for w in rbf_widths:
                fams.append(
                    _RadialRBF(cen, xp.full((m,), w * spread, dtype=xs.dtype, device=getattr(xs, "device", None)))
                )
        elif part == "sep":
            cen, dx = _quantile_grid(xs, n_sep, xp)
            fams.append(_Separable(cen, xp.maximum(dx, xp.full_like(dx, 1e-6))))
        else:
            raise ValueError(f"unknown feature family {part!r}; use affine, diag, score, rbf, sep or auto")
    return fams


def _fit(path: Any, t: float, xs: Any, fams: list, ridge: float, xp: Any) -> DriftModel:
    """Least squares for (theta, c) at time t on the walkers xs (see the module docstring)."""
    parts = path.evaluate(xs)
    s, y = path.grad(t, parts), path.dt_log_prob(t, parts)
    ok = xp.all(xp.isfinite(s), axis=1) & xp.isfinite(y)
    s = xp.where(ok[:, None], s, xp.zeros_like(s))
    y = xp.where(ok, y, xp.zeros_like(y))
    lap = path.laplacian(t, xs) if any(getattr(f, "needs_laplacian", False) for f in fams) else None
    if lap is not None:
        ok = ok & xp.isfinite(lap)
        lap = xp.where(ok, lap, xp.zeros_like(lap))
    M = xp.concat([f.design(xs, s, lap, xp) for f in fams], axis=1)
    M = xp.where(ok[:, None], M, xp.zeros_like(M))
    n = xs.shape[0]
    mM, my = xp.mean(M, axis=0), xp.mean(y)
    Mc, yc = M - mM, y - my
    G = xp.linalg.matrix_transpose(Mc) @ Mc / n
    dg = xp.linalg.diagonal(G)
    reg = ridge * dg + 1e-10 * xp.mean(dg) + 1e-300
    G = G + xp.eye(G.shape[0], dtype=G.dtype, device=getattr(G, "device", None)) * reg[None, :]
    rhs = -(xp.linalg.matrix_transpose(Mc) @ yc) / n
    theta = xp.linalg.solve(G, rhs[:, None])[:, 0]
    c = float(-my - mM @ theta)
    return DriftModel(fams, theta, c)


# ------------------------------------------------------------------------------------ MLP drift (autodiff)
def mlp_drift_div(params: dict[str, Any], t: Any, x: Any, xp: Any, scale_in: float, scale_out: float) -> tuple:
    r"""The MLP drift :math:`b(t, x) = \sigma_{out}\,N\big([x/\sigma_{in}, \cos\pi kt, \sin\pi kt]_{k<K}\big)`
    (N the tanh network of :func:`transportkit.interpolants.mlp.init_mlp`: layers ``W{i}, c{i}``; time
    features of half period so that t = 0 and t = 1 differ) and its divergence, by forward propagation of
    the Jacobian :math:`J = \partial h/\partial x` through the layers,
    :math:`J_{i+1} = \mathrm{diag}(1 - h_{i+1}^2)\,W_i^T J_i`, :math:`\nabla\cdot b = \sigma_{out}\,\mathrm{tr}\,J_L`
    (d forward passes' worth of work; written once, differentiable by the backend's ``value_and_grad``)."""
    n, d = x.shape
    n_layers = sum(1 for k in params if k.startswith("W"))
    n_time = (params["W0"].shape[0] - d) // 2
    tt = t[:, None] if getattr(t, "ndim", 0) == 1 else t * xp.ones((n, 1), dtype=x.dtype)
    k = xp.arange(n_time, dtype=x.dtype)
    if hasattr(x, "device"):
        k = xp.asarray(k, device=x.device)
    ang = math.pi * tt * k
    h = xp.concat([x / scale_in, xp.cos(ang), xp.sin(ang)], axis=1)
    jt = None  # (n, d, width): row j = d h / d x_j
    for i in range(n_layers):
        W = params[f"W{i}"]
        h = h @ W + params[f"c{i}"]
        jt = W[:d, :][None, :, :] / scale_in if jt is None else jt @ W
        if i < n_layers - 1:
            h = xp.tanh(h)
            jt = jt * (1.0 - h * h)[:, None, :]
    eye = xp.eye(d, dtype=x.dtype, device=getattr(x, "device", None))
    div = xp.sum(xp.reshape(jt * eye[None, :, :], (n, d * d)), axis=1)
    return scale_out * h, scale_out * div


def _train_mlp(
    be: Any,
    params: dict[str, Any],
    data: tuple[Any, ...],
    scale_in: float,
    scale_out: float,
    steps: int,
    batch: int,
    lr: float,
    gen: Any,
) -> tuple[dict[str, Any], list[float]]:
    r"""Adam on the PINN loss of the MLP part, on an off-policy buffer of walkers ``data = (x, t, s, r0, kidx)``:
    :math:`L = \mathrm{mean}\,\big|r_0 + \nabla\cdot b + s\cdot b + \dot F_{k}\big|^2`, where :math:`r_0` is the
    residual of the fixed linear drift at that point (:math:`\nabla\cdot b_{lin} + s\cdot b_{lin} +
    \partial_t\log\rho_t`) and :math:`\dot F_k` a learned number per grid time (``params["F"]``)."""
    from ..interpolants.mlp import adam

    xp = be.xp
    X, T, S, R0, KI = data
    m = X.shape[0]

    def batches(i: int) -> Any:
        idx = gen.integers(0, m, (batch,))
        return tuple(xp.take(a, idx, axis=0) for a in (X, T, S, R0, KI))

    def loss(p: dict[str, Any], bt: Any) -> Any:
        x, t, s, r0, ki = bt
        net = {k: v for k, v in p.items() if k != "F"}
        b, div = mlp_drift_div(net, t, x, xp, scale_in, scale_out)
        r = r0 + div + xp.sum(s * b, axis=1) + xp.take(p["F"], ki)
        return xp.mean(r * r)

    return adam(be, loss, params, batches, steps=steps, lr=lr)


# ------------------------------------------------------------------------------------------------ simulation
def _run(
    path: Any,
    n: int,
    K: int,
    eps: float,
    drift: Callable | None,
    weights: str,
    gen: Any,
    xp: Any,
    keep: bool,
    progress: bool,
    desc: str,
    check: bool,
    rs: Resampler | None = None,
) -> tuple[Any, Any, list]:
    """Simulate n walkers over K steps; with a :class:`~transportkit.sampling.resampling.Resampler` ``rs``,
    SMC-style resampling of (x, A) after every step but the last."""
    h = 1.0 / K
    x = path.sample0(n, gen)
    parts = path.evaluate(x)
    if check:
        path.check(x, parts)
    A = xp.zeros((n,), dtype=x.dtype, device=getattr(x, "device", None))
    kept = [(x, parts)] if keep else []
    zero = None
    for k in progress_range(K, progress, desc):
        t, t1 = k * h, (k + 1) * h if k < K - 1 else 1.0
        s = path.grad(t, parts)
        if drift is None:
            zero = xp.zeros_like(x) if zero is None else zero
            b, div = zero, 0.0
        else:
            b, div = drift(t, x, s, weights == "riemann")
        if weights == "riemann":
            A = A + h * (div + xp.sum(s * b, axis=1) + path.dt_log_prob(t, parts))
        mean_f = x + h * (b + eps * s)
        y = mean_f + math.sqrt(2 * h * eps) * gen.normal(x.shape, dtype=x.dtype) if eps > 0 else mean_f
        parts_y = path.evaluate(y)
        if weights == "fb":
            s1 = path.grad(t1, parts_y)
            b1 = zero if drift is None else drift(t1, y, s1, False)[0]
            back = x - y + h * (b1 - eps * s1)
            fwd = y - mean_f
            A = (
                A
                + (path.log_prob(t1, parts_y) - path.log_prob(t, parts))
                + (xp.sum(fwd * fwd, axis=1) - xp.sum(back * back, axis=1)) / (4 * h * eps)
            )
        A = xp.where(xp.isnan(A), -math.inf, A)
        x, parts = y, parts_y
        if rs is not None and k < K - 1:
            A, x, parts = rs.step(A, x, parts)
        if keep:
            kept.append((x, parts))
    return x, A, kept


def _summary(A: Any, log_Z0: float, xp: Any) -> tuple[float, float, float]:
    lz, var, _, _ = final_estimate(None, A, xp)
    return lz + log_Z0, math.sqrt(var), float(_ess(A, xp=xp))


@declare(uses=("value_and_grad",), name="tk.sample(method='nets')")
def nets(
    target: Any,
    n: int,
    *,
    steps: int = 100,
    eps: float = 1.0,
    eps_train: float | None = None,
    rounds: int = 2,
    n_train: int | None = None,
    n_fit: int | None = None,
    features: str = "auto",
    n_centers: int = 100,
    rbf_widths: Sequence[float] = (0.05, 0.15, 0.5),
    n_sep: int = 12,
    ridge: float = 1e-3,
    drift: Callable | None = None,
    learner: str = "linear",
    hidden: Sequence[int] = (64, 64),
    n_time: int = 4,
    train_steps: int = 1000,
    batch_size: int = 1024,
    lr: float = 2e-3,
    buffer_rounds: int = 2,
    select_best: bool = True,
    resample: str | None = None,
    ess_threshold: float = 0.5,
    islands: int | None = None,
    weights: str = "auto",
    path: Any = None,
    base: Any = None,
    base_mean: Any = 0.0,
    base_scale: float | None = None,
    schedule: Any = None,
    return_works: bool = False,
    backend: Any = None,
    device: Any = None,
    dtype: Any = None,
    seed: Any = None,
    progress: bool = False,
) -> Any:
    r"""Sample ``target`` and estimate its log Z with NETS (see the module docstring for the equations).

    Parameters
    ----------
    steps
        number K of Euler–Maruyama steps on [0, 1].
    eps
        diffusion ε of the final sampling run (tunable after training); ``eps_train`` that of the
        training rounds (default ``eps``).
    n_fit
        number of fitted time intervals (default min(steps, 20)): the drift is fitted at
        ``n_fit + 1`` grid times and interpolated linearly in t in between.
    rounds
        PINN refits (round r simulates ``n_train`` walkers with the drift of round r-1; round 0 has
        b = 0). ``rounds=0`` gives annealed Langevin dynamics with exact path weights.
    features, n_centers, rbf_widths, n_sep, ridge
        the linear-in-parameters drift model and its relative
        ridge (``G + ridge * diag(G)``).
    select_best
        if the training ESS did not improve from round to round, use the drift (b = 0 included)
        of the round with the highest training ESS instead of the last fit (``info["chosen_round"]``: the
        index r of the drift used, the drift of round r being the fit on the walkers of round r - 1).
    drift
        a fixed drift ``drift(t, x) -> (b, div_b)`` (then no training).
    learner
        ``"linear"`` (least squares only, any backend), ``"mlp"`` (plus the PINN-trained MLP; needs
        ``value_and_grad``, else :class:`~transportkit.CapabilityError`) or ``"auto"`` (mlp where available).
    hidden, n_time, train_steps, batch_size, lr, buffer_rounds
        the MLP (hidden widths, number of time
        frequencies), Adam steps per round, batch size, learning rate, and how many rounds of walkers the
        off-policy buffer keeps.
    resample, ess_threshold, islands
        SMC-style resampling of the final run (``None``: none), over ``islands`` independent populations
        (their spread gives the standard error; default
        :func:`~transportkit.sampling.resampling.auto_islands`: up to 10 of at least 100 walkers).
    weights
        ``"fb"`` (exact; needs ε > 0), ``"riemann"``, or ``"auto"`` (fb if ε > 0).
    return_works
        put the per-walker works :math:`W^i = -A^i` in ``info["works"]``.

    Notes
    -----
    The result is a :class:`~transportkit.sampling.Samples` (``log_weights`` = A + log Z0, so
    ``logmeanexp(log_weights) == log_Z``) with ``info`` holding ``log_Z_pinn``, ``rounds`` (per-round
    log Z, stderr, ESS of the training walkers), ``models`` (the fitted drift per grid time) and
    ``target_evaluations``.
    """
    if int(n) != n or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n}")
    if int(steps) != steps or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps}")
    eps_train = eps if eps_train is None else eps_train
    for name, v in (("eps", eps), ("eps_train", eps_train)):
        if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
            raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")
    if weights not in ("auto", "fb", "riemann"):
        raise ValueError(f"weights must be 'auto', 'fb' or 'riemann', got {weights!r}")
    if weights == "fb" and min(eps, eps_train) == 0:
        raise ValueError("weights='fb' needs eps > 0; use weights='riemann' for eps = 0")
    if int(rounds) != rounds or rounds < 0:
        raise ValueError(f"rounds must be a non-negative integer, got {rounds}")
    if drift is not None and not callable(drift):
        raise TypeError("drift must be a callable drift(t, x) -> (b, div_b)")
    if not ridge >= 0:
        raise ValueError(f"ridge must be >= 0, got {ridge}")
    if resample is not None and resample not in RESAMPLERS:
        raise ValueError(f"unknown resampling method {resample!r}; choose one of {RESAMPLERS} or None")
    if return_works and resample is not None:
        raise ValueError("return_works needs resample=None: works of resampled walkers are not Jarzynski works")
    if learner not in ("linear", "mlp", "auto"):
        raise ValueError(f"learner must be 'linear', 'mlp' or 'auto', got {learner!r}")
    be = resolve_backend(backend=backend, device=device, dtype=dtype)
    xp = be.xp
    gen = default_rng(seed, be)
    mlp_scales: tuple = (1.0, 1.0)
    pth = make_path(target, be, path=path, base=base, base_mean=base_mean, base_scale=base_scale, schedule=schedule)
    K = int(steps)
    n_train = min(int(n), 2000) if n_train is None else int(n_train)
    n_fit = min(K, 20) if n_fit is None else int(n_fit)
    if not 1 <= n_fit <= K:
        raise ValueError(f"n_fit must be in [1, steps], got {n_fit}")
    knots = sorted({round(j * K / n_fit) for j in range(n_fit + 1)})

    def wrule(e: float) -> str:
        return ("fb" if e > 0 else "riemann") if weights == "auto" else weights

    round_info = []
    models: list[DriftModel] | None = None
    net: dict[str, Any] | None = None
    evals = 0
    fit_drift = drift
    times = [k / K for k in knots]
    chosen = None
    mlp_info: dict[str, Any] = {}
    if drift is None:
        use_mlp = learner == "mlp" or (learner == "auto" and be.value_and_grad is not None)
        if use_mlp:
            be.require("value_and_grad")
        tried: list[tuple[float, Any]] = []  # (training ESS, (models, net) used in that round)
        buffer: list[tuple[Any, ...]] = []
        for r in range(rounds):
            cur = _combined_drift(models, net, times, pth, mlp_scales)
            _, A, kept = _run(
                pth, n_train, K, eps_train, cur, wrule(eps_train), gen, xp, True, progress, f"nets round {r}", r == 0
            )
            evals += n_train * (K + 1)
            lz, se, e = _summary(A, pth.log_Z0, xp)
            round_info.append({"log_Z": lz, "log_Z_stderr": se, "ess": e, "n": n_train})
            tried.append((e, (models, net)))
            models = None if features == "none" else []
            for k in knots if models is not None else ():
                xk = kept[k][0]
                fams = _families(features, xk, xk.shape[1], gen, xp, n_centers, rbf_widths, n_sep)
                models.append(_fit(pth, min(k / K, 1.0), xk, fams, ridge, xp))
            if use_mlp:
                lin = None if models is None else _model_drift(models, times, pth)
                buffer = [*buffer[-(buffer_rounds - 1) * (K + 1) :], *kept] if buffer_rounds > 1 else list(kept)
                data = _pinn_data(buffer, K, lin, pth, xp)
                if net is None:
                    mlp_scales = _mlp_scales(data)
                    net = _init_net(pth, data, hidden, n_time, gen, be, K)
                net, hist = _train_mlp(be, net, data, *mlp_scales, train_steps, batch_size, lr, gen)
                mlp_info.setdefault("loss_history", []).append(hist)
        if rounds:
            ess_seq = [e for e, _ in tried]
            improving = all(b >= a for a, b in itertools.pairwise(ess_seq))
            if select_best and not improving:  # a refit made things worse: keep the best drift tried
                best = max(range(len(tried)), key=lambda i: ess_seq[i])
                (models, net), chosen = tried[best][1], best
            else:
                chosen = rounds
            fit_drift = _combined_drift(models, net, times, pth, mlp_scales)
    # the first run validates the target on its first batch (NaN/+inf log_prob, bad gradient) before stepping
    first = drift is not None or rounds == 0
    if drift is not None:
        user = drift

        def fit_drift(t: float, x: Any, s: Any, need_div: bool) -> tuple[Any, Any]:
            return user(t, x)

    rs = make_resampler(resample, int(n), islands, ess_threshold, gen, xp, be.dtype, be.device)
    x, A, _ = _run(pth, int(n), K, eps, fit_drift, wrule(eps), gen, xp, False, progress, "nets", first, rs)
    evals += int(n) * (K + 1)
    lz, var, log_w, _ = final_estimate(rs, A, xp)
    lz, se, e = lz + pth.log_Z0, math.sqrt(var), float(_ess(log_w, xp=xp))
    if math.isnan(lz):
        raise ValueError("NETS log-weights are NaN: the target's log_prob returned NaN during the run")
    if lz == -math.inf:
        raise RuntimeError(
            "every NETS walker was lost (non-finite position or log-weight): the drift or the step diverged; "
            "use more steps, a smaller eps, or select_best=True so that a harmful learned drift is not used"
        )
    info: dict[str, Any] = {
        "rounds": round_info,
        "eps": eps,
        "weights": wrule(eps),
        "steps": K,
        "ess_relative": e / int(n),
        "target_evaluations": evals,
        "models": models,
        "chosen_round": chosen,
        "mlp": mlp_info,
        "n_resample": 0 if rs is None else rs.events,
        "islands": 1 if rs is None else rs.K,
    }
    if models is not None:
        cs = [m.c for m in models]
        ts = [k / K for k in knots]
        info["log_Z_pinn"] = pth.log_Z0 - math.fsum(
            0.5 * (cs[j] + cs[j + 1]) * (ts[j + 1] - ts[j]) for j in range(len(ts) - 1)
        )
        info["fit_times"] = ts
    if return_works:
        info["works"] = -A
    return samples(x=x, log_weights=log_w + pth.log_Z0, log_Z=lz, log_Z_stderr=se, ess=e, info=info, backend=be)


def _model_drift(models: list[DriftModel], times: list[float], path: Any) -> Callable:
    r"""``drift(t, x, s, need_div) -> (b, div b)``: linear interpolation in t between the models fitted at the
    neighbouring ``times``; ``s`` is the path's score at (t, x) (for the score feature)."""

    def drift(t: float, x: Any, s: Any, need_div: bool) -> tuple[Any, Any]:
        j = max(0, min(bisect.bisect_right(times, t) - 1, len(times) - 2))
        w = (t - times[j]) / (times[j + 1] - times[j])
        xp = array_namespace(x)
        cache: list = []

        def lap() -> Any:
            if not cache:
                cache.append(path.laplacian(t, x))
            return cache[0]

        lp = lap if need_div else None
        if w <= 1e-12:
            return models[j](x, xp, s, lp)
        if w >= 1 - 1e-12:
            return models[j + 1](x, xp, s, lp)
        b0, d0 = models[j](x, xp, s, lp)
        b1, d1 = models[j + 1](x, xp, s, lp)
        return (1 - w) * b0 + w * b1, (1 - w) * d0 + w * d1

    return drift


def _combined_drift(
    models: list[DriftModel] | None, net: dict[str, Any] | None, times: list[float], path: Any, scales: tuple
) -> Callable | None:
    """The linear-in-features drift (if fitted) plus the MLP drift (if trained), as ``drift(t, x, s, need_div)``."""
    if models is None and net is None:
        return None
    lin = None if models is None else _model_drift(models, times, path)
    if net is None:
        return lin
    params = {k: v for k, v in net.items() if k != "F"}

    def drift(t: float, x: Any, s: Any, need_div: bool) -> tuple[Any, Any]:
        xp = array_namespace(x)
        tt = xp.asarray(t, dtype=x.dtype, device=getattr(x, "device", None))
        b, div = mlp_drift_div(params, tt, x, xp, *scales)
        if lin is not None:
            b0, d0 = lin(t, x, s, need_div)
            b, div = b + b0, div + d0
        return b, div

    return drift


def _pinn_data(buffer: list[tuple[Any, Any]], K: int, lin: Callable | None, path: Any, xp: Any) -> tuple[Any, ...]:
    """Flatten an off-policy buffer of walkers [(x_k, parts_k)] (K + 1 per round) into the PINN training set
    (x, t, s, r0, k) with r0 the residual of the linear drift ``lin`` (non-finite points dropped to zero weight)."""
    xs, ts, ss, rs, ks = [], [], [], [], []
    for j, (x, parts) in enumerate(buffer):
        k = j % (K + 1)
        t = min(k / K, 1.0)
        s = path.grad(t, parts)
        r0 = path.dt_log_prob(t, parts)
        if lin is not None:
            b, div = lin(t, x, s, True)
            r0 = r0 + div + xp.sum(s * b, axis=1)
        ok = xp.isfinite(r0) & xp.all(xp.isfinite(s), axis=1) & xp.all(xp.isfinite(x), axis=1)
        xs.append(xp.where(ok[:, None], x, xp.zeros_like(x)))
        ss.append(xp.where(ok[:, None], s, xp.zeros_like(s)))
        rs.append(xp.where(ok, r0, xp.zeros_like(r0)))
        ts.append(xp.full(r0.shape, t, dtype=x.dtype, device=getattr(x, "device", None)))
        ks.append(xp.full(r0.shape, k, dtype=xp.int64, device=getattr(x, "device", None)))
    return tuple(xp.concat(a, axis=0) for a in (xs, ts, ss, rs, ks))


def _mlp_scales(data: tuple[Any, ...]) -> tuple[float, float]:
    """Input scale: the rms of the buffer walkers; output scale: the same length per unit time."""
    X = data[0]
    xp = array_namespace(X)
    s_in = float(xp.sqrt(xp.mean(X * X))) + 1e-12
    return s_in, s_in


def _init_net(path: Any, data: tuple[Any, ...], hidden: tuple[int, ...], n_time: int, gen: Any, be: Any, K: int):
    """init_mlp weights with a zero last layer (the MLP starts at b = 0 on top of the linear drift) and dF/dt per
    grid time initialized to minus the mean linear residual there."""
    from ..interpolants.mlp import init_mlp

    xp = be.xp
    X, _, _, R0, KI = data
    d = X.shape[1]
    p = init_mlp(d, tuple(hidden), n_time, seed=int(be.to_numpy(gen.integers(0, 2**31, (1,)))[0]), backend=be)
    L = sum(1 for k in p if k.startswith("W")) - 1
    p[f"W{L}"] = xp.zeros_like(p[f"W{L}"])
    onehot = xp.astype(KI[:, None] == xp.arange(K + 1, dtype=KI.dtype, device=getattr(KI, "device", None)), X.dtype)
    cnt = xp.sum(onehot, axis=0)
    p["F"] = -(R0 @ onehot) / xp.maximum(cnt, xp.ones_like(cnt))
    return p
