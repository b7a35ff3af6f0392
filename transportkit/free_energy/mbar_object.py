r"""The pymbar-shaped MBAR object: solve once, then free-energy differences, expectations, perturbed free energies,
the overlap matrix and potentials of mean force from the same weights, with pymbar 4's method names, keywords and
dict results (``"Delta_f"``, ``"dDelta_f"``, ``"mu"``, ``"sigma"``, ``"scalar"``, ``"matrix"``,
``"eigenvalues"``, ``"f_i"``, ``"df_i"``) — on any Array-API backend (NumPy in, NumPy out).

Notation (Shirts & Chodera 2008): K states with reduced energies :math:`u_k`, :math:`N_k` samples from state k,
N samples in all, :math:`f_k` the free energies (gauge :math:`f_0 = 0`), the log-denominators
:math:`\ell_n = \log\sum_k N_k e^{f_k - u_{kn}}` and the normalized weights :math:`W_{kn} = e^{f_k - u_{kn} -
\ell_n}` (:math:`\sum_n W_{kn} = 1`). Any new state :math:`a` with reduced energy :math:`u_a` (a perturbed
state, a state times a positive observable, a histogram bin) gets

.. math:: f_a = -\log\sum_n e^{-u_{an} - \ell_n}, \qquad W_{an} = e^{f_a - u_{an} - \ell_n},

and the asymptotic covariance of all :math:`\log c = -f` together is (pymbar's ``"svd-ew"``, Appendix D of the
paper) :math:`\Theta = V S (I - S V^\top \operatorname{diag}(N) V S)^{+} S V^\top` with :math:`W W^\top = V S^2
V^\top` over the augmented set of states (:math:`N_a = 0` for the new ones; pseudo-inverse cutoff 1e-10 relative).
Expectations :math:`\langle A\rangle_a = \sum_n W_{an} A_n` are computed as ratios of such normalizing constants
(the observable shifted positive, :math:`A_n - A_{\min} + |4\epsilon A_{\min}|`, as pymbar does), which gives
their uncertainties from the same :math:`\Theta`.

References
----------
- M. R. Shirts, J. D. Chodera, "Statistically optimal analysis of samples from multiple equilibrium states",
  J. Chem. Phys. 129, 124105 (2008), arXiv:0801.1426 (estimator, expectations, covariance, Appendix D).
- A. Kong, P. McCullagh, X.-L. Meng, D. Nicolae, Z. Tan, "A theory of statistical models for Monte Carlo
  integration", J. R. Statist. Soc. B 65, 585 (2003) (the ``"approximate"`` covariance).
- B. Efron, "Bootstrap methods: another look at the jackknife", Ann. Statist. 7, 1 (1979).
"""

from __future__ import annotations

import math
import warnings
from functools import partial
from typing import Any

from .._backend import resolve_backend
from .._capabilities import declare
from .._validation import as_bool, as_choice, as_count, as_points, as_real, check_options
from ..numerics import ess, logsumexp
from ..random import SEED_DEPRECATED
from ._checks import bootstrap_stream, check_threshold, refuse_lazy_inputs
from .diagnostics import ESS_WARNING, Array, FreeEnergyUncertaintyWarning, check_ess, check_overlap
from .mbar_covariance import (
    _augmented_theta,
    _error_of_differences,
    _expectations_kernel,
    _fe_kernel,
    _new_states,
    _observables,
    _overlap_spectrum,
    _perturbed_kernel,
    _squared_differences,
)
from .multistate import _mbar_inputs, _mbar_resample, mbar_fit, pymbar_aliases

__all__ = ["MBAR", "MbarResult"]

_METHODS = ("svd-ew", "svd", "approximate", "bootstrap")
_PMF_UNCERTAINTIES = ("from-lowest", "from-specified", "from-normalization")

#: pymbar keywords of ``MBAR(...)`` whose meaning differs here, with what to do instead
_NOT_ACCEPTED = {
    "solver_protocol": "transportkit has one solver (Newton with line search and a self-consistent fallback)",
    "bootstrap_solver_protocol": "bootstrap resamples use the same solver, warm-started",
    "initialize": "the solve starts at f = 0 or at f_k_init= (alias initial_f_k=)",
    "x_kindices": "samples are grouped by state in the order of N_k",
    "rseed": "pass rng= (an int, a numpy.random.Generator or None)",
}


#: the keywords of ``MBAR(...)`` (for the "did you mean" of a misspelt one)
_KEYWORDS = ("f_k_init", "tol", "maxiter", "n_bootstraps", "rng", "ess_warning", "backend", "seed", "initial_f_k",
             "relative_tolerance", "maximum_iterations", "verbose")  # fmt: skip


class MbarResult(dict):
    """pymbar's result dict (same keys and shapes), whose entries also read as attributes (``r.Delta_f``)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


@declare()
class MBAR:
    r"""Multistate Bennett acceptance ratio as an object, like ``pymbar.MBAR(u_kn, N_k)`` (Shirts & Chodera 2008,
    arXiv:0801.1426): the free energies are solved once (by :func:`~transportkit.free_energy.mbar`'s Newton
    solver) and every ``compute_*`` method reuses the weights.

    Parameters
    ----------
    u_kn : array, shape (K, N)
        ``u_kn[k, n]``: reduced energy of sample n in state k (finite). pymbar's (K, L, N_max) ``u_kln`` layout
        is refused (convert it with ``pymbar.utils.kln_to_kn``).
    N_k : sequence or array of K non-negative integers
        Samples drawn from each state, grouped in this order along the sample axis, summing to N.
    f_k_init : array, shape (K,), optional
        Starting free energies (pymbar's name ``initial_f_k`` is accepted).
    tol : float > 0
        Solver tolerance on :math:`\max_k|\sum_n W_{kn} - 1|` (pymbar's ``relative_tolerance`` is accepted in its
        place: the same role, a tighter criterion than pymbar's).
    maxiter : int >= 1
        Most Newton iterations (pymbar's ``maximum_iterations`` is accepted); a
        :class:`~transportkit.free_energy.FreeEnergyConvergenceWarning` when reached.
    n_bootstraps : int >= 0
        Bootstrap resamples solved at construction (within each state's block, warm-started), for
        ``uncertainty_method="bootstrap"``; their standard deviations use ``ddof = 1`` (pymbar: ``ddof = 0``).
    rng : None, int, numpy.random.Generator or transportkit Generator
        Randomness of the bootstrap (SPEC 7; ``seed=`` is its deprecated alias; pymbar's ``rseed`` is not).
    ess_warning : float
        Warn at construction when a sampled state's Kish ESS, or the overlap scalar times N, is below
        ``min(ess_warning, ...)`` (as :func:`~transportkit.free_energy.mbar`); 0 disables.
    backend : str or Backend, optional
        The backend (default: that of ``u_kn``). All results are arrays of it.

    Attributes
    ----------
    f_k : array (K,)
        Free energies, :math:`f_0 = 0`.
    u_kn, N_k, K, N, n_iterations, converged, backend
        The input, its sizes, the solver's report and the backend.

    Notes
    -----
    pymbar keywords accepted with the same meaning: ``initial_f_k``, ``relative_tolerance``,
    ``maximum_iterations``, ``n_bootstraps``, ``verbose`` (ignored: nothing is printed) here; ``compute_uncertainty``,
    ``uncertainty_method`` (``None``/``"svd-ew"``, ``"svd"``, ``"approximate"``, ``"bootstrap"``),
    ``warning_cutoff``, ``return_theta``, ``output``, ``state_dependent`` in the methods. Refused with a reason:
    ``solver_protocol``, ``bootstrap_solver_protocol``, ``initialize``, ``x_kindices``, ``rseed``.

    Examples
    --------
    >>> import numpy as np, transportkit as tk
    >>> x = np.random.default_rng(0).normal(size=300)
    >>> u = np.stack([0.5 * x**2, 0.5 * (x - 0.5) ** 2])
    >>> m = tk.free_energy.MBAR(u, [300, 0])
    >>> r = m.compute_free_energy_differences()
    >>> r["Delta_f"].shape
    (2, 2)
    """

    def __init__(
        self,
        u_kn: Any,
        N_k: Any,
        *,
        f_k_init: Any = None,
        tol: float = 1e-12,
        maxiter: int = 200,
        n_bootstraps: int = 0,
        rng: Any = None,
        ess_warning: float = ESS_WARNING,
        backend: Any = None,
        seed: Any = SEED_DEPRECATED,
        initial_f_k: Any = None,
        relative_tolerance: float | None = None,
        maximum_iterations: int | None = None,
        verbose: bool = False,
        **pymbar_only: Any,
    ) -> None:
        for name in pymbar_only:
            if name in _NOT_ACCEPTED:
                raise TypeError(f"MBAR: pymbar's keyword {name}= is not accepted: {_NOT_ACCEPTED[name]}")
        if pymbar_only:
            check_options("MBAR", pymbar_only, _KEYWORDS)
        refuse_lazy_inputs(u_kn=u_kn, N_k=N_k, f_k_init=f_k_init, initial_f_k=initial_f_k)
        f_k_init, tol, maxiter = pymbar_aliases(f_k_init, initial_f_k, tol, relative_tolerance, maxiter,
                                                maximum_iterations)  # fmt: skip
        n_boot = as_count("n_bootstraps", n_bootstraps, low=0)
        if n_boot == 1:
            raise ValueError("n_bootstraps must be 0 (no bootstrap) or >= 2 (a standard deviation needs two)")
        as_bool("verbose", verbose)
        threshold = check_threshold(ess_warning)
        be = self.backend = resolve_backend(u_kn, backend=backend)
        gen = bootstrap_stream(n_boot, rng, seed, be)
        xp = be.xp
        u, Nk_host, f_init = _mbar_inputs(u_kn, N_k, f_k_init, be)
        fit = mbar_fit(u, Nk_host, f_init, be, tol, maxiter)
        self._fit, self._tol, self._maxiter = fit, tol, maxiter
        self.u_kn, self.K, self.N = u, u.shape[0], u.shape[1]
        self._Nk_host = Nk_host
        self.N_k = xp.asarray(Nk_host, dtype=xp.int64, device=be.device)
        self._Nf = xp.asarray([float(v) for v in Nk_host], dtype=u.dtype, device=be.device)
        self.f_k, self.n_iterations, self.converged = fit.f, fit.n_iterations, fit.converged
        self._log_W, self._ld = fit.log_W, fit.ld
        sampled = [k for k in range(self.K) if Nk_host[k] > 0]
        s_idx = xp.asarray(sampled, dtype=xp.int64, device=be.device)
        check_ess(xp.take(ess(self._log_W, axis=1, xp=xp), s_idx, axis=0), min(Nk_host[k] for k in sampled),
                  threshold, "MBAR")  # fmt: skip
        check_overlap(self.compute_overlap()["scalar"], self.N, threshold, "MBAR")
        self.n_bootstraps = n_boot
        self._boots: list[tuple[Array, Array, Array]] = [self._bootstrap_once(gen) for _ in range(n_boot)]
        self.f_k_boots = xp.stack([b[1] for b in self._boots], axis=0) if n_boot else None

    def __repr__(self) -> str:
        return (
            f"MBAR(K={self.K}, N={self.N}, N_k={self._Nk_host}, converged={self.converged}, "
            f"n_bootstraps={self.n_bootstraps}, backend={self.backend.name!r})"
        )

    # ------------------------------------------------------------------------------------------- internals
    def _bootstrap_once(self, gen: Any) -> tuple[Array, Array, Array]:
        """One resample (with replacement within each state's block): (indices (N,), f (K,), ld (N,))."""
        fit = self._fit
        return _mbar_resample(self.u_kn, fit.us, fit.NK, fit.f_s, self._Nk_host, gen, self.backend, self._tol,
                              self._maxiter)  # fmt: skip

    def _states(self, name: str, u_ln: Any) -> Array:
        """New states' reduced energies as an (L, N) array (a length-N vector is one state)."""
        refuse_lazy_inputs(**{name: u_ln})
        a = as_points(name, u_ln, self.backend, ndim=(1, 2))
        if a.ndim == 1:
            a = a[None, :]
        if a.shape[1] != self.N:
            raise ValueError(
                f"{name} must hold the reduced energies of all N = {self.N} samples (shape (L, {self.N}) or "
                f"({self.N},)), got shape {tuple(a.shape)}"
            )
        return a

    def _method(self, uncertainty_method: Any) -> str:
        method = "svd-ew" if uncertainty_method is None else as_choice("uncertainty_method", uncertainty_method,
                                                                       _METHODS)  # fmt: skip
        if method == "bootstrap" and self.n_bootstraps == 0:
            raise ValueError('uncertainty_method="bootstrap" needs MBAR(..., n_bootstraps=B) with B >= 2')
        return method

    def _kernel(self, fn: Any, method: str) -> Any:
        """``fn`` with ``method`` and ``xp`` bound, from the backend's compile cache (one program on JAX)."""
        be = self.backend
        key = ("free_energy", "MBAR", fn.__name__, method)
        return be.compiled(key, lambda: partial(fn, method=method, xp=be.xp, device=be.device))

    def _boot_std(self, values: list[Array]) -> Array:
        xp = self.backend.xp
        return xp.std(xp.stack(values, axis=0), axis=0, correction=1)

    # ------------------------------------------------------------------------------------------- pymbar API
    @property
    def W_nk(self) -> Array:
        """The normalized weights, shape (N, K) as in pymbar (columns sum to 1)."""
        return self.backend.xp.matrix_transpose(self.backend.xp.exp(self._log_W))

    def weights(self) -> Array:
        """:attr:`W_nk` (pymbar's method)."""
        return self.W_nk

    def compute_effective_sample_number(self, verbose: bool = False) -> Array:
        r"""Kish effective sample size of each state's weights, :math:`1/\sum_n W_{kn}^2` (K,)."""
        return ess(self._log_W, axis=1, xp=self.backend.xp)

    def compute_overlap(self) -> MbarResult:
        r"""The overlap matrix :math:`O_{ij} = N_j \sum_n W_{in} W_{jn}` (``"matrix"``; row i: probability that a
        sample from state i is seen in state j), its eigenvalues in descending order (``"eigenvalues"``, real:
        computed from the symmetric similar matrix :math:`N^{1/2} W W^\top N^{1/2}`) and ``"scalar"`` = 1 - the
        second-largest eigenvalue (1 for K = 1)."""
        scalar, ev, G = _overlap_spectrum(self.backend.xp.exp(self._log_W), self._Nf, self.backend.xp)
        return MbarResult(scalar=scalar, eigenvalues=ev, matrix=G * self._Nf[None, :])

    def compute_free_energy_differences(
        self,
        compute_uncertainty: bool = True,
        uncertainty_method: str | None = None,
        warning_cutoff: float = 1.0e-10,
        return_theta: bool = False,
    ) -> MbarResult:
        """``"Delta_f"`` (K, K): :math:`f_j - f_i`; ``"dDelta_f"`` (K, K): their standard errors (if
        ``compute_uncertainty``); ``"Theta"`` (K, K): the covariance of the :math:`f_k` (if ``return_theta``)."""
        xp = self.backend.xp
        compute_uncertainty, return_theta = as_bool("compute_uncertainty", compute_uncertainty), as_bool(
            "return_theta", return_theta
        )
        method = self._method(uncertainty_method)
        cutoff = as_real("warning_cutoff", warning_cutoff, low=0.0)
        f = self.f_k
        out = MbarResult(Delta_f=f[None, :] - f[:, None])
        theta = d2 = None
        if (compute_uncertainty and method != "bootstrap") or return_theta:
            theta, d2 = self._kernel(_fe_kernel, "svd-ew" if method == "bootstrap" else method)(self._log_W, self._Nf)
        if compute_uncertainty:
            if method == "bootstrap":
                out["dDelta_f"] = self._boot_std([fb[None, :] - fb[:, None] for _, fb, _ in self._boots])
            else:
                out["dDelta_f"] = _error_of_differences(d2, cutoff, xp)
        if return_theta:
            out["Theta"] = theta
        return out

    def compute_expectations(
        self,
        A_n: Any,
        u_kn: Any = None,
        output: str = "averages",
        state_dependent: bool = False,
        compute_uncertainty: bool = True,
        uncertainty_method: str | None = None,
        warning_cutoff: float = 1.0e-10,
        return_theta: bool = False,
    ) -> MbarResult:
        r"""Expectations :math:`\langle A\rangle_l = \sum_n W_{ln} A_n` in the states of ``u_kn`` (default: the K
        states) and their standard errors (Shirts & Chodera 2008, Sec. IV).

        ``A_n``: shape (N,) (one observable), or (L, N) with ``state_dependent=True`` (row l observed in state l).
        ``output="averages"``: ``"mu"``, ``"sigma"`` of shape (L,); ``"differences"``: (L, L) matrices of
        :math:`\langle A\rangle_j - \langle A\rangle_i` and their standard errors. ``"Theta"`` (2L, 2L) with
        ``return_theta`` (pymbar's block of the covariance, scaled by the shifted averages)."""
        xp = self.backend.xp
        as_choice("output", output, ("averages", "differences"))
        state_dependent = as_bool("state_dependent", state_dependent)
        compute_uncertainty, return_theta = as_bool("compute_uncertainty", compute_uncertainty), as_bool(
            "return_theta", return_theta
        )
        method = self._method(uncertainty_method)
        cutoff = as_real("warning_cutoff", warning_cutoff, low=0.0)
        refuse_lazy_inputs(A_n=A_n)
        u_ln = self.u_kn if u_kn is None else self._states("u_kn", u_kn)
        L = u_ln.shape[0]
        A = as_points("A_n", A_n, self.backend, ndim=(1, 2))
        if A.ndim != (2 if state_dependent else 1):
            raise ValueError(
                f"A_n has shape {tuple(A.shape)}: with state_dependent={state_dependent} it must have shape "
                + (f"(L, N) = ({L}, {self.N}) (one row per state)" if state_dependent else f"({self.N},)")
                + ("" if state_dependent else "; pymbar's old (K, N_max) layout is not accepted")
            )
        if state_dependent:
            if tuple(A.shape) != (L, self.N):
                raise ValueError(
                    f"with state_dependent=True, A_n must have shape (L, N) = ({L}, {self.N}) (one row per state "
                    f"of u_kn), got {tuple(A.shape)}"
                )
        else:
            if A.shape[0] != self.N:
                raise ValueError(f"A_n must hold one value per sample, shape ({self.N},), got {tuple(A.shape)}")
            A = xp.broadcast_to(A[None, :], (L, self.N))
        out = MbarResult()
        theta = covA = None
        if (compute_uncertainty and method != "bootstrap") or return_theta:
            kern = self._kernel(_expectations_kernel, "svd-ew" if method == "bootstrap" else method)
            mu, theta, covA = kern(self._log_W, self._Nf, self._ld, A, u_ln)
        else:
            mu = _observables(A, u_ln, self._ld, xp)[0]
        boots = []
        if compute_uncertainty and method == "bootstrap":
            for idx_b, _, ld_b in self._boots:
                ub, Ab = xp.take(u_ln, idx_b, axis=1), xp.take(A, idx_b, axis=1)
                boots.append(_observables(Ab, ub, ld_b, xp)[0])
        if output == "averages":
            out["mu"] = mu
            if compute_uncertainty:
                if method == "bootstrap":
                    out["sigma"] = self._boot_std(boots)
                else:
                    dg = xp.linalg.diagonal(covA)
                    out["sigma"] = xp.sqrt(xp.where(dg > 0, dg, xp.zeros_like(dg)))
        else:
            out["mu"] = mu[None, :] - mu[:, None]
            if compute_uncertainty:
                if method == "bootstrap":
                    out["sigma"] = self._boot_std([b[None, :] - b[:, None] for b in boots])
                else:
                    out["sigma"] = _error_of_differences(_squared_differences(covA, xp), cutoff, xp)
        if return_theta:
            out["Theta"] = theta
        return out

    def compute_perturbed_free_energies(
        self,
        u_ln: Any,
        compute_uncertainty: bool = True,
        uncertainty_method: str | None = None,
        warning_cutoff: float = 1.0e-10,
    ) -> MbarResult:
        r"""Free energies of new states (reduced energies ``u_ln`` (L, N) of every sample): ``"Delta_f"`` (L, L)
        :math:`f_j - f_i` with :math:`f_l = -\log\sum_n e^{-u_{ln} - \ell_n}`, and ``"dDelta_f"`` (L, L)."""
        xp = self.backend.xp
        compute_uncertainty = as_bool("compute_uncertainty", compute_uncertainty)
        method = self._method(uncertainty_method)
        cutoff = as_real("warning_cutoff", warning_cutoff, low=0.0)
        u = self._states("u_ln", u_ln)
        if compute_uncertainty and method != "bootstrap":
            f, d2 = self._kernel(_perturbed_kernel, method)(self._log_W, self._Nf, self._ld, u)
        else:
            f = _new_states(u, self._ld, xp)[0]
        out = MbarResult(Delta_f=f[None, :] - f[:, None])
        if compute_uncertainty:
            if method == "bootstrap":
                fs = [_new_states(xp.take(u, i, axis=1), ld, xp)[0] for i, _, ld in self._boots]
                out["dDelta_f"] = self._boot_std([fb[None, :] - fb[:, None] for fb in fs])
            else:
                out["dDelta_f"] = _error_of_differences(d2, cutoff, xp)
        return out

    def compute_pmf(
        self,
        u_n: Any,
        bin_n: Any,
        nbins: int | None = None,
        uncertainties: str = "from-lowest",
        pmf_reference: int | None = None,
    ) -> MbarResult:
        r"""Potential of mean force of a histogram in the state with reduced energies ``u_n`` (N,) (pymbar 3's
        ``computePMF``; pymbar 4's ``FES`` histogram with ``uncertainty_method="analytical"``):
        :math:`f_i = -\log\sum_{n \in i} e^{-u_n - \ell_n}` for each bin i, relative to a reference bin.

        ``bin_n`` (N,): the bin of each sample, integers in ``[0, nbins)`` (samples with other values are left out);
        ``nbins`` defaults to ``max(bin_n) + 1``. ``uncertainties``: ``"from-lowest"`` (differences to the bin of
        lowest :math:`f`, which is set to 0), ``"from-specified"`` (to bin ``pmf_reference``) or
        ``"from-normalization"`` (:math:`f_i = -\log p_i` with :math:`\sum_i p_i = 1`, uncertainties from the
        constraint). Bins without samples get :math:`f_i = +\infty` and ``df_i`` NaN (with a
        :class:`FreeEnergyUncertaintyWarning`). Returns ``"f_i"``, ``"df_i"`` (nbins,)."""
        be = self.backend
        xp = be.xp
        as_choice("uncertainties", uncertainties, _PMF_UNCERTAINTIES)
        refuse_lazy_inputs(bin_n=bin_n)
        u = self._states("u_n", u_n)[0, :]
        if isinstance(bin_n, (list, tuple)) and any(isinstance(v, bool) or not isinstance(v, int) for v in bin_n):
            raise TypeError("bin_n must hold integer bin indices")
        bins = be.asarray(bin_n)
        if not xp.isdtype(bins.dtype, "integral") or tuple(bins.shape) != (self.N,):
            raise TypeError(
                f"bin_n must be an integer array of shape ({self.N},), got {bins.dtype} of shape {tuple(bins.shape)}"
            )
        n_bins = int(xp.max(bins)) + 1 if nbins is None else as_count("nbins", nbins)
        if n_bins < 1:
            raise ValueError("bin_n holds no sample in a bin >= 0")
        if uncertainties == "from-specified":
            if pmf_reference is None:
                raise ValueError('uncertainties="from-specified" needs pmf_reference= (a bin index)')
            ref = as_count("pmf_reference", pmf_reference, low=0, high=n_bins - 1)
        member = bins[None, :] == xp.arange(n_bins, dtype=bins.dtype, device=be.device)[:, None]  # (nbins, N)
        counts = [int(c) for c in be.to_numpy(xp.sum(xp.astype(member, xp.int64), axis=1)).tolist()]
        empty = [c == 0 for c in counts]
        if all(empty):
            raise ValueError(f"no sample falls in a bin of [0, {n_bins})")
        if any(empty):
            warnings.warn(
                f"compute_pmf: bins {[i for i, e in enumerate(empty) if e]} hold no sample: f_i = +inf, df_i = NaN",
                FreeEnergyUncertaintyWarning,
                stacklevel=2,
            )
        log_w = -u - self._ld
        masked = xp.where(member, log_w[None, :], xp.full((n_bins, self.N), -math.inf, dtype=u.dtype, device=be.device))
        f = -logsumexp(masked, axis=1, xp=xp)  # +inf for empty bins
        full = xp.asarray([not e for e in empty], device=be.device)
        f_safe = xp.where(full, f, xp.zeros_like(f))
        T = self._kernel(_augmented_theta, "svd-ew")(self._log_W, self._Nf, masked + f_safe[:, None])
        T = T[self.K :, self.K :]
        if uncertainties == "from-normalization":
            lp = -f_safe - logsumexp(xp.where(full, -f, xp.full_like(f, -math.inf)), xp=xp)
            p = xp.where(full, xp.exp(lp), xp.zeros_like(f))
            D = p[None, :] - xp.eye(n_bins, dtype=f.dtype, device=be.device)
            d2 = xp.sum((D @ T) * D, axis=1)
            f_i = xp.where(full, -lp, f)
        else:
            j = int(xp.argmin(f)) if uncertainties == "from-lowest" else ref  # empty bins: f = +inf
            if empty[j]:
                raise ValueError(f"pmf_reference bin {j} holds no sample")
            dg = xp.linalg.diagonal(T)
            d2 = dg + dg[j] - 2 * T[:, j]
            f_i = f - f[j]
        d2 = xp.where(d2 > 0, d2, xp.zeros_like(d2))
        df = xp.where(full, xp.sqrt(d2), xp.full_like(d2, math.nan))
        return MbarResult(f_i=f_i, df_i=df)

