r"""Exact fields of an interpolant between Gaussian(-mixture) ends (Albergo, Boffi &
Vanden-Eijnden 2023, arXiv:2303.08797, the Gaussian-mixture example of §5).

With base :math:`\rho_0 = \sum_j u_j N(a_j, A_j)` and target :math:`\rho_1 = \sum_k w_k N(m_k, C_k)`, independent
coupling, the marginal of :math:`x_t = \alpha x_0 + \beta x_1 + \gamma z` is the mixture over pairs
:math:`p = (j, k)`

.. math:: \rho_t = \sum_p \pi_p N(\mu_p, \Sigma_p),\quad \pi_p = u_j w_k,\quad \mu_p = \alpha a_j + \beta m_k,\quad
          \Sigma_p = \alpha^2 A_j + \beta^2 C_k + \gamma^2 I.

With responsibilities :math:`r_p(t,x) = \mathrm{softmax}_p[\log\pi_p + \log N(x;\mu_p,\Sigma_p)]` (log space) and
:math:`g_p = \Sigma_p^{-1}(x - \mu_p)`:

.. math::
   s &= -\textstyle\sum_p r_p g_p, \qquad
   b = \sum_p r_p f_p,\quad f_p = \alpha' a_j + \beta' m_k + N_p g_p,\quad
   N_p = \alpha\alpha' A_j + \beta\beta' C_k + \gamma\gamma' I,\\
   E[x_1|x_t=x] &= \textstyle\sum_p r_p (m_k + \beta C_k g_p),\quad
   E[x_0|x_t=x] = \sum_p r_p (a_j + \alpha A_j g_p),\quad E[z|x_t=x] = -\gamma s,\\
   \nabla\cdot b &= \textstyle\sum_p r_p \operatorname{tr}(N_p\Sigma_p^{-1}) - \sum_p r_p f_p\cdot g_p - b\cdot s,
   \qquad (\nabla b) v = \sum_p r_p [N_p\Sigma_p^{-1} v - f_p ((g_p + s)\cdot v)].

Only the products :math:`\alpha\alpha', \beta\beta', \gamma\gamma'` enter, and :math:`\Sigma_p` is non-singular at
:math:`t = 0` and :math:`t = 1`, so nothing divides by :math:`\gamma(t) = 0`.

**Jointly Gaussian couplings** (Albergo, Goldstein, Boffi, Ranganath & Vanden-Eijnden 2024, arXiv:2310.03725):
with :math:`(x_0, x_1)` jointly Gaussian, cross-covariance :math:`K = \operatorname{Cov}(x_0, x_1)`,
:math:`\Sigma_t = \alpha^2 C_0 + \beta^2 C_1 + \alpha\beta(K + K^T) + \gamma^2 I` and
:math:`N = \operatorname{Cov}(\dot R, x_t) = \alpha\alpha' C_0 + \beta\beta' C_1 + \alpha'\beta K + \alpha\beta' K^T
+ \gamma\gamma' I` (not symmetric), in the same formulas; :math:`E[x_1|x_t] = m_1 + (\beta C_1 + \alpha K^T)
\Sigma_t^{-1}(x - \mu_t)`, :math:`E[x_0|x_t] = m_0 + (\alpha C_0 + \beta K)\Sigma_t^{-1}(x - \mu_t)`.
"""

from __future__ import annotations

import math
from typing import Any

from .._backend import Backend, host_backend
from .._capabilities import declare
from ..targets import Gaussian, GaussianMixture, gaussian_terms
from .field import BoundField, Field
from .interpolant import Interpolant

__all__ = ["ExactField", "exact_field"]

_LOG_2PI = math.log(2.0 * math.pi)


@declare()
def exact_field(
    interpolant: Interpolant | str, target: Any = None, base: GaussianMixture | None = None, *, coupling: Any = None
) -> Field:
    """The exact velocity, score, denoisers, SDE drifts, log-density and divergence of ``interpolant``
    between ``base`` (default :math:`N(0, I)`) and ``target``: a :class:`~transportkit.targets.Gaussian` or
    :class:`~transportkit.targets.GaussianMixture` (any interpolant), or, in O(n d) for one-sided interpolants from
    :math:`N(0, I)`, a :class:`~transportkit.targets.SymmetricMixture` or :class:`~transportkit.targets.CurieWeiss`
    (:mod:`transportkit.interpolants.highdim`).

    ``coupling``: a jointly Gaussian coupling (:func:`~transportkit.interpolants.couplings.gaussian`, or an
    :func:`~transportkit.interpolants.couplings.inpainting` coupling of a Gaussian with a fixed mask, or
    :func:`~transportkit.interpolants.couplings.independent` of Gaussian(-mixture) laws); ``target`` and ``base``
    may then be left out (given, they must be the coupling's marginals)."""
    from ..highdim_targets import CurieWeiss, SymmetricMixture

    if coupling is not None:
        return _coupled_exact(interpolant, target, base, coupling)
    if target is None:
        raise TypeError("exact_field needs a target (or coupling=)")

    if isinstance(target, (SymmetricMixture, CurieWeiss)):
        if base is not None:
            raise ValueError(f"the exact field of {type(target).__name__} has the base N(0, I); got base={base!r}")
        from .highdim import CurieWeissField, SymmetricMixtureField

        cls = SymmetricMixtureField if isinstance(target, SymmetricMixture) else CurieWeissField
        return cls(interpolant, target)
    return ExactField(interpolant, target, base)


def _coupled_exact(interpolant: Any, target: Any, base: Any, coupling: Any) -> ExactField:
    as_gauss = getattr(coupling, "as_gaussian", None)
    if as_gauss is None:
        raise TypeError(f"coupling must be a coupling from transportkit.interpolants.couplings, got "
                        f"{type(coupling).__name__}")
    base0, target1, cross = as_gauss()  # TypeError when the coupling is not jointly Gaussian
    xp = host_backend().xp
    for name, given, have in (("target", target, target1), ("base", base, base0)):
        if given is None:
            continue
        if not isinstance(given, GaussianMixture) or given.n_components != have.n_components or not (
            bool(xp.all(xp.abs(given._host["means"] - have._host["means"]) <= 1e-12))
            and bool(xp.all(xp.abs(given._host["covs"] - have._host["covs"]) <= 1e-12))
        ):
            raise ValueError(f"{name}= differs from the coupling's {'x1' if name == 'target' else 'x0'}-marginal; "
                             "leave it out")
    return ExactField(interpolant, target1, base0, cross=cross)


class ExactField(Field):
    """See :func:`exact_field`. ``marginal(t)`` is :math:`\\rho_t` as a :class:`GaussianMixture`; ``cross`` is the
    cross-covariance :math:`K` of a jointly Gaussian coupling (single-component base and target)."""

    denoisers = ("x0", "x1", "z")

    def __init__(self, interpolant: Interpolant | str, target: GaussianMixture, base: GaussianMixture | None = None,
                 *, cross: Any = None):
        if isinstance(interpolant, str):
            interpolant = Interpolant(interpolant)
        if not isinstance(interpolant, Interpolant):
            raise TypeError(f"interpolant must be an Interpolant or a schedule name, got {type(interpolant).__name__}")
        if not isinstance(target, GaussianMixture):
            raise TypeError(f"exact fields need a Gaussian or GaussianMixture target, got {type(target).__name__}")
        base = Gaussian.standard(target.dim) if base is None else base
        if not isinstance(base, GaussianMixture):
            raise TypeError(f"base must be a Gaussian or GaussianMixture, got {type(base).__name__}")
        if base.dim != target.dim:
            raise ValueError(f"base has dimension {base.dim} but target has dimension {target.dim}")
        self.interpolant = interpolant
        self.target = target
        self.base = base
        self.dim = target.dim
        self.backend = target.backend
        hb, ht = base._host, target._host
        xp = host_backend().xp
        J, K = base.n_components, target.n_components

        def rep(v, n):
            return xp.reshape(xp.broadcast_to(v[:, None, ...], (v.shape[0], n, *v.shape[1:])), (-1, *v.shape[1:]))

        til = lambda v, n: xp.reshape(xp.broadcast_to(v[None, ...], (n, *v.shape)), (-1, *v.shape[1:]))  # noqa: E731
        self._host = {  # contiguous, writable copies (torch refuses read-only NumPy views)
            "log_pi": xp.reshape(hb["log_w"][:, None] + ht["log_w"][None, :], (-1,)),
            "a": xp.asarray(rep(hb["means"], K), copy=True),
            "A": xp.asarray(rep(hb["covs"], K), copy=True),
            "m": xp.asarray(til(ht["means"], J), copy=True),
            "C": xp.asarray(til(ht["covs"], J), copy=True),
        }
        self._base_mean_zero = bool(xp.all(hb["means"] == 0))
        if cross is not None:
            if J != 1 or K != 1:
                raise ValueError("a cross-covariance needs a single-Gaussian base and target")
            cross = xp.asarray(cross, dtype=xp.float64)
            if tuple(cross.shape) != (self.dim, self.dim):
                raise ValueError(f"cross must have shape ({self.dim}, {self.dim}), got {tuple(cross.shape)}")
            self._host["K"] = xp.asarray(cross[None, ...], copy=True)

    def __repr__(self) -> str:
        return f"ExactField({self.interpolant!r}, {self.target!r})"

    def _make_bound(self, be: Backend) -> _BoundExact:
        return _BoundExact(be, self)

    def marginal(self, t: float) -> GaussianMixture:
        r""":math:`\rho_t = \sum_p \pi_p N(\mu_p(t), \Sigma_p(t))` as a mixture (on the host)."""
        t = float(t)
        if not 0.0 <= t <= 1.0:
            raise ValueError(f"t must lie in [0, 1], got {t}")
        xp = host_backend().xp
        c = self.interpolant.coefficients(xp.asarray(t, dtype=xp.float64), xp)
        h = self._host
        eye = xp.eye(self.dim, dtype=xp.float64)
        mu = c.a * h["a"] + c.b * h["m"]
        sig = c.a**2 * h["A"] + c.b**2 * h["C"] + c.g**2 * eye
        if "K" in h:
            sig = sig + c.a * c.b * (h["K"] + xp.linalg.matrix_transpose(h["K"]))
        return GaussianMixture(xp.exp(h["log_pi"]), mu, sig)


def _covariance_structure(A: Any, C: Any) -> tuple[str, Any, Any]:
    """``("isotropic", a, c)`` with (P, 1) variances when every base and target covariance is a multiple of the
    identity, ``("diagonal", diag A, diag C)`` (each (P, d)) when all are diagonal, else ``("full", None, None)``;
    host arrays."""
    xp = host_backend().xp
    d = A.shape[-1]
    off = 1.0 - xp.eye(d, dtype=xp.float64)
    if not (bool(xp.all(A * off == 0)) and bool(xp.all(C * off == 0))):
        return "full", None, None
    dA, dC = xp.linalg.diagonal(A), xp.linalg.diagonal(C)
    if bool(xp.all(dA == dA[:, :1])) and bool(xp.all(dC == dC[:, :1])):
        return "isotropic", xp.asarray(dA[:, :1], copy=True), xp.asarray(dC[:, :1], copy=True)
    return "diagonal", xp.asarray(dA, copy=True), xp.asarray(dC, copy=True)


def _stack_columns(M: Any, xp: Any) -> Any:
    """(P, d, d) -> (d, P*d) with block p equal to :math:`M_p^T`, so that ``x @ out`` gives every
    :math:`M_p x` of a batch ``x`` (n, d) in one matrix product, reshaped to (n, P, d)."""
    P, d, _ = M.shape
    return xp.reshape(xp.permute_dims(xp.linalg.matrix_transpose(M), (1, 0, 2)), (d, P * d))


class _BoundExact(BoundField):
    r"""The exact field on one backend. At one time ``t`` shared by all points (the integrators' case) velocity,
    score, drift and log-density run as a few large matrix products over the batch: with diagonal (or isotropic)
    covariances :math:`\|x - \mu_p\|^2_{\Sigma_p^{-1}} = (x\odot x)\cdot\sigma_p^{-1} - 2x\cdot(\mu_p\odot\sigma_p^{-1})
    + \mu_p\cdot(\mu_p\odot\sigma_p^{-1})` (no (P, n, d) array), with full ones :math:`L_p^{-1}x` for all p as one
    (n, d) @ (d, P d) product. Per-point times use the general batched form (:meth:`_terms`)."""

    def __init__(self, be: Backend, field: ExactField):
        super().__init__(be, field.interpolant, field.dim)
        self.field = field
        self.p = {k: be.asarray(v) for k, v in field._host.items()}
        self.eye = be.xp.eye(field.dim, dtype=be.dtype, device=be.device)
        self.mean_zero = field._base_mean_zero
        kind, dA, dC = _covariance_structure(field._host["A"], field._host["C"])
        self.cross = "K" in field._host
        kind = "full" if self.cross else kind
        self.structure = kind
        if kind != "full":
            self.p["dA"], self.p["dC"] = be.asarray(dA, copy=True), be.asarray(dC, copy=True)

    # -- one time for all points: large matrix products -------------------------------------------------------
    def _fast(self, t: Any, x: Any, want: str) -> dict[str, Any]:
        """``want`` in ``"velocity"``, ``"score"``, ``"both"``, ``"log_density"``; ``t`` 0-d."""
        xp, p = self.xp, self.p
        c = self.interpolant.coefficients(t, xp)
        n, d = x.shape
        mu = c.b * p["m"] if self.mean_zero else c.a * p["a"] + c.b * p["m"]  # (P, d)
        if self.structure != "full":
            var = c.a**2 * p["dA"] + c.b**2 * p["dC"] + c.g**2  # (P, d), or (P, 1) for isotropic ones
            prec = 1.0 / var
            diff = x[:, None, :] - mu[None, ...]  # (n, P, d)
            if self.structure == "isotropic":
                logdet = d * xp.log(var[:, 0])
                const = p["log_pi"] - 0.5 * logdet - 0.5 * d * _LOG_2PI  # (P,): folded before broadcasting
                lc = xp.sum(diff * diff, axis=-1) * (-0.5 * prec[:, 0])[None, :] + const[None, :]
            else:
                logdet = xp.sum(xp.log(var), axis=-1)
                const = p["log_pi"] - 0.5 * logdet - 0.5 * d * _LOG_2PI
                lc = xp.sum(diff * diff * (-0.5 * prec)[None, ...], axis=-1) + const[None, :]
        else:
            sig = c.a**2 * p["A"] + c.b**2 * p["C"] + c.g**2 * self.eye
            if self.cross:
                sig = sig + (c.a * c.b) * (p["K"] + xp.linalg.matrix_transpose(p["K"]))
            chol = xp.linalg.cholesky(sig)
            W = xp.linalg.inv(chol)
            P = W.shape[0]
            wmu = xp.sum(W * mu[:, None, :], axis=-1)  # (P, d): W_p mu_p
            y = xp.reshape(x @ _stack_columns(W, xp), (n, P, d)) - wmu[None, ...]
            logdet = 2.0 * xp.sum(xp.log(xp.linalg.diagonal(chol)), axis=-1)
            const = p["log_pi"] - 0.5 * logdet - 0.5 * d * _LOG_2PI
            lc = -0.5 * xp.sum(y * y, axis=-1) + const[None, :]
        mx = xp.max(lc, axis=1, keepdims=True)
        e = xp.exp(lc - mx)
        se = xp.sum(e, axis=1, keepdims=True)
        out: dict[str, Any] = {}
        if want == "log_density":
            out["log_rho"] = (mx + xp.log(se))[:, 0]
            return out
        r = e / se  # (n, P)
        rr = r[:, :, None]
        if self.structure != "full":  # Sigma_p^{-1} and N_p diagonal: elementwise on (n, P, d)
            if want in ("score", "both"):
                out["score"] = -xp.sum(rr * (prec[None, ...] * diff), axis=1)
            if want in ("velocity", "both"):
                mdot = c.bd * p["m"] if self.mean_zero else c.ad * p["a"] + c.bd * p["m"]
                gain = (c.aad * p["dA"] + c.bbd * p["dC"] + c.ggd) * prec  # N_p Sigma_p^{-1}
                out["velocity"] = xp.sum(rr * (mdot[None, ...] + gain[None, ...] * diff), axis=1)
            return out
        P = W.shape[0]
        if want in ("score", "both"):
            S = xp.linalg.matrix_transpose(W) @ W  # Sigma_p^{-1}
            smu = xp.sum(S * mu[:, None, :], axis=-1)
            xs = xp.reshape(x @ _stack_columns(S, xp), (n, P, d))
            out["score"] = r @ smu - xp.sum(rr * xs, axis=1)
        if want in ("velocity", "both"):
            mdot = c.bd * p["m"] if self.mean_zero else c.ad * p["a"] + c.bd * p["m"]
            N = c.aad * p["A"] + c.bbd * p["C"] + c.ggd * self.eye
            if self.cross:
                N = N + (c.ad * c.b) * p["K"] + (c.a * c.bd) * xp.linalg.matrix_transpose(p["K"])
            G = N @ (xp.linalg.matrix_transpose(W) @ W)  # N_p Sigma_p^{-1}
            gmu = xp.sum(G * mu[:, None, :], axis=-1)
            xg = xp.reshape(x @ _stack_columns(G, xp), (n, P, d))
            out["velocity"] = xp.sum(rr * xg, axis=1) + r @ (mdot - gmu)
        return out

    # -- the mixture terms at one time ----------------------------------------------------------------------
    def _terms(self, t: Any, x: Any, need: str = "all") -> dict[str, Any]:
        xp, p = self.xp, self.p
        c = self.interpolant.coefficients(t, xp)
        a, m = p["a"][:, None, :], p["m"][:, None, :]  # (P, 1, d)
        if t.ndim == 0:  # matrices (P, d, d), shared by all points
            co = lambda v: v  # noqa: E731
            cv = co
            A, C, eye = p["A"], p["C"], self.eye
        else:  # per-point times: matrices (P, n, d, d)
            co = lambda v: v[None, :, None, None]  # noqa: E731
            cv = lambda v: v[None, :, None]  # noqa: E731
            A, C, eye = p["A"][:, None, ...], p["C"][:, None, ...], self.eye
        sig = co(c.a**2) * A + co(c.b**2) * C + co(c.g**2) * eye
        Kx = Kt = None
        if self.cross:
            Kx = p["K"] if t.ndim == 0 else p["K"][:, None, ...]
            Kt = xp.linalg.matrix_transpose(Kx)
            sig = sig + co(c.a * c.b) * (Kx + Kt)
        mu = cv(c.b) * m if self.mean_zero else cv(c.a) * a + cv(c.b) * m
        chol = xp.linalg.cholesky(sig)
        W = xp.linalg.inv(chol)
        logdet = 2.0 * xp.sum(xp.log(xp.linalg.diagonal(chol)), axis=-1)
        out: dict[str, Any] = {"c": c, "cv": cv, "co": co, "W": W, "A": A, "C": C, "K": Kx, "Kt": Kt}
        if t.ndim == 0:
            logn, g = gaussian_terms(x, mu, W, logdet, xp)
        else:
            diff = x[None, :, :] - mu
            y = xp.sum(W * diff[..., None, :], axis=-1)
            g = xp.sum(W * y[..., :, None], axis=-2)
            logn = -0.5 * xp.vecdot(y, y) - 0.5 * logdet - 0.5 * x.shape[-1] * _LOG_2PI
        lc = p["log_pi"][:, None] + logn
        # log-sum-exp over components: the max is finite (some weight > 0, Gaussian log-densities are finite
        # for finite x), so the plain shifted form is exact and cheaper than the general numerics.logsumexp
        mx = xp.max(lc, axis=0, keepdims=True)
        e = xp.exp(lc - mx)
        se = xp.sum(e, axis=0, keepdims=True)
        out.update(lc=lc, log_rho=(mx + xp.log(se))[0, ...], r=e / se, g=g)
        if need == "all":
            N = co(c.aad) * A + co(c.bbd) * C + co(c.ggd) * eye
            if self.cross:
                N = N + co(c.ad * c.b) * Kx + co(c.a * c.bd) * Kt
            f = _mv(N, g, xp) + (cv(c.bd) * m if self.mean_zero else cv(c.ad) * a + cv(c.bd) * m)
            out.update(N=N, f=f)
        return out

    def velocity(self, t: Any, x: Any) -> Any:
        if t.ndim == 0:
            return self._fast(t, x, "velocity")["velocity"]
        o = self._terms(t, x)
        return self.xp.vecdot(o["r"][:, :, None], o["f"], axis=-3)  # sum_p r_p f_p

    def score(self, t: Any, x: Any) -> Any:
        if t.ndim == 0:
            return self._fast(t, x, "score")["score"]
        o = self._terms(t, x, need="score")
        return -self.xp.sum(o["r"][:, :, None] * o["g"], axis=0)

    def drift(self, t: Any, x: Any, eps: Any, direction: str = "forward") -> Any:
        xp = self.xp
        if t.ndim == 0 and getattr(eps, "ndim", 0) == 0:
            if isinstance(eps, (int, float)) and eps == 0:
                return self._fast(t, x, "velocity")["velocity"]
            o = self._fast(t, x, "both")
            b, s = o["velocity"], o["score"]
            return b + eps * s if direction == "forward" else b - eps * s
        o = self._terms(t, x)
        b = xp.sum(o["r"][:, :, None] * o["f"], axis=0)
        if isinstance(eps, (int, float)) and eps == 0:
            return b
        s = -xp.sum(o["r"][:, :, None] * o["g"], axis=0)
        e = eps[:, None] if getattr(eps, "ndim", 0) == 1 else eps
        return b + e * s if direction == "forward" else b - e * s

    def log_density(self, t: Any, x: Any) -> Any:
        if t.ndim == 0:
            return self._fast(t, x, "log_density")["log_rho"]
        return self._terms(t, x, need="score")["log_rho"]

    def dt_log_density(self, t: Any, x: Any) -> Any:
        r""":math:`\partial_t\log\rho_t = -\nabla\cdot b - b\cdot s` (continuity equation)
        :math:`= -\sum_p r_p\,[\operatorname{tr}(N_p\Sigma_p^{-1}) - f_p\cdot g_p]` (one evaluation of the terms)."""
        xp = self.xp
        o = self._terms(t, x)
        tr = xp.sum((o["W"] @ o["N"]) * o["W"], axis=(-2, -1))
        tr = tr[:, None] if tr.ndim == 1 else tr
        return -xp.sum(o["r"] * (tr - xp.vecdot(o["f"], o["g"])), axis=0)

    def laplacian_log_density(self, t: Any, x: Any) -> Any:
        r""":math:`\Delta\log\rho_t = \sum_p r_p\,(|g_p|^2 - \operatorname{tr}\Sigma_p^{-1}) - |s|^2`."""
        xp = self.xp
        o = self._terms(t, x, need="score")
        r, g, W = o["r"], o["g"], o["W"]
        tr = xp.sum(W * W, axis=(-2, -1))  # tr(W^T W) = tr(Sigma^{-1})
        tr = tr[:, None] if tr.ndim == 1 else tr
        s = -xp.sum(r[:, :, None] * g, axis=0)
        return xp.sum(r * (xp.vecdot(g, g) - tr), axis=0) - xp.vecdot(s, s)

    def denoiser(self, t: Any, x: Any, which: str) -> Any:
        xp = self.xp
        o = self._terms(t, x, need="score")
        r, g, c, cv = o["r"][:, :, None], o["g"], o["c"], o["cv"]
        if which == "z":
            return (c.g[:, None] if t.ndim == 1 else c.g) * xp.sum(r * g, axis=0)
        if which == "x1":
            m = self.p["m"][:, None, :]
            cov = cv(c.b) * _mv(o["C"], g, xp) + (0.0 if o["K"] is None else cv(c.a) * _mv(o["Kt"], g, xp))
            return xp.sum(r * (m + cov), axis=0)
        a = self.p["a"][:, None, :]
        cov = cv(c.a) * _mv(o["A"], g, xp) + (0.0 if o["K"] is None else cv(c.b) * _mv(o["K"], g, xp))
        return xp.sum(r * (a + cov), axis=0)

    def divergence(self, t: Any, x: Any) -> Any:
        xp = self.xp
        o = self._terms(t, x)
        r, g, f, W, N = o["r"], o["g"], o["f"], o["W"], o["N"]
        tr = xp.sum((W @ N) * W, axis=(-2, -1))  # tr(W N W^T) = tr(N Sigma^{-1}); (P,) or (P, n)
        tr = tr[:, None] if tr.ndim == 1 else tr
        b = xp.sum(r[:, :, None] * f, axis=0)
        s = -xp.sum(r[:, :, None] * g, axis=0)
        return xp.sum(r * (tr - xp.vecdot(f, g)), axis=0) - xp.vecdot(b, s)

    def jvp(self, t: Any, x: Any, v: Any) -> Any:
        xp = self.xp
        o = self._terms(t, x)
        r, g, f, W, N = o["r"], o["g"], o["f"], o["W"], o["N"]
        s = -xp.sum(r[:, :, None] * g, axis=0)
        vb = xp.broadcast_to(v[None, :, :], g.shape)
        siv = _mtv(W, _mv(W, vb, xp), xp)  # Sigma^{-1} v
        lin = _mv(N, siv, xp)
        proj = xp.vecdot(g + s[None, ...], v[None, ...])
        return xp.sum(r[:, :, None] * (lin - f * proj[:, :, None]), axis=0)

    def quad_form(self, t: Any, x: Any, v: Any) -> Any:
        return self.xp.vecdot(self.jvp(t, x, v), v)

    def base_samples(self, n: int, gen: Any) -> Any:
        return self.field.base._sample(n, gen, self.be)

    def base_log_prob(self, x: Any, t0: float) -> Any:
        return self.log_density(self.xp.asarray(float(t0), dtype=self.be.dtype, device=self.be.device), x)

    def initial_samples(self, n: int, t0: float, gen: Any) -> Any:
        r"""Draws from the exact law :math:`\rho_{t_0}` of :math:`\alpha x_0 + \beta x_1 + \gamma z`: the base itself
        only where the schedule's boundary conditions hold exactly at :math:`t_0 = 0` (for ``"ve"`` and ``"ddpm"``
        :math:`\beta(0) \ne 0` and the t = 0 law is the marginal, never the base)."""
        if float(t0) == 0.0 and not self.interpolant.schedule.approximate:
            return self.field.base._sample(n, gen, self.be)
        return self.field.marginal(t0)._sample(n, gen, self.be)


def _mv(M: Any, v: Any, xp: Any) -> Any:
    """M v for stacks: M (P, d, d) with v (P, n, d), or M (P, n, d, d) with v (P, n, d)."""
    if M.ndim == 3:
        return v @ xp.linalg.matrix_transpose(M)
    return xp.sum(M * v[..., None, :], axis=-1)


def _mtv(M: Any, v: Any, xp: Any) -> Any:
    """M^T v, shapes as in :func:`_mv`."""
    if M.ndim == 3:
        return v @ M
    return xp.sum(M * v[..., :, None], axis=-2)
