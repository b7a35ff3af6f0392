"""The entropy production rate of a stationary diffusion, from samples and a given or learned score.

For ``dX = b(X) dt + √(2D) dW`` at stationarity with density ρ, the probability current is ``j = vρ`` with the
probability-flow velocity ``v = b − D∇log ρ``, and the entropy production rate is

    Π = E_ρ[v · D⁻¹ v]                                                     (Boffi & Vanden-Eijnden 2023, §9.2 of
                                                                             our notes; arXiv 2309.12991, eq. (6))

with per-particle contributions ``Πᵢ = E[vᵢ · (D⁻¹v)ᵢ]`` for systems of particles (they sum to Π; each is the
dissipation carried by one particle when ``D`` is block diagonal). The estimate is a sample mean with its standard
error. Without a score, the score of the stationary samples is learned (implicit score matching in closed form,
:class:`~transportkit.fokker_planck.FeatureScore`) with three-fold cross-fitting: each sample's term is
``v_a·D⁻¹v_b`` with ``v_a, v_b`` from scores fitted on the two folds that exclude it, so neither the in-sample bias of
a fit nor the (positive) square of its error enters Π.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

from .._backend import resolve_backend
from .._capabilities import declare
from .._results import Estimate
from .._validation import as_count, as_points, as_real, check_callable, check_returned_shape
from ..random import SEED_DEPRECATED, resolve_rng
from .diffusion import Diffusion
from .scores import FeatureScore

__all__ = ["EntropyProduction", "entropy_production"]


@dataclasses.dataclass
class EntropyProduction(Estimate):
    """``Π ± stderr`` with the per-sample values and, for particle systems, per-particle contributions."""

    per_particle: Any = None
    per_particle_stderr: Any = None
    per_sample: Any = None

    def __float__(self) -> float:
        return float(self.value)

    def __repr__(self) -> str:
        parts = f", per_particle=({self.per_particle.shape[0]},)" if self.per_particle is not None else ""
        return f"EntropyProduction(value={float(self.value):.6g}, stderr={float(self.stderr):.3g}{parts})"


@declare(name="tk.fokker_planck.entropy_production")
def entropy_production(
    x: Any,
    drift: Callable[[Any, Any], Any],
    D: Any,
    score: Callable[[Any], Any] | FeatureScore | None = None,
    *,
    t: float = 0.0,
    particles: int | None = None,
    replicas: int = 8,
    rng: Any = None,
    seed: Any = SEED_DEPRECATED,
    backend: Any = None,
) -> EntropyProduction:
    """Entropy production rate ``Π = E[v·D⁻¹v]``, ``v = b − D s`` (module docstring) from stationary samples ``x``.

    Parameters
    ----------
    x : array (n, d)
        samples of the stationary density (n >= 2).
    drift : callable ``drift(t, x) -> (n, d)``
        the drift ``b``.
    D : float or (d, d) SPD matrix
        the diffusion matrix of ``dX = b dt + √(2D) dW``.
    score : callable ``score(x) -> (n, d)``, a :class:`FeatureScore`, or None
        the score ``∇log ρ``; ``None`` learns it from ``x`` (linear features: exact for Gaussian ρ), a
        :class:`FeatureScore` learns it with that model; both with three-fold cross-fitting (module docstring).
    t : float
        the time passed to ``drift``.
    particles : int, optional
        number ``N`` of particles when the ``d`` coordinates are ``N`` blocks of ``d/N`` (particle-major):
        per-particle contributions ``Πᵢ`` are returned.
    replicas : int
        with a learned score: the samples are split into this many disjoint replicas, each estimated on its own;
        the standard error is the spread of the replica estimates over √replicas, so it contains the noise of the
        score fits as well as the sampling noise (with an exact score: the per-sample standard error).
    rng
        random stream for the Fourier features of a learned score and the cross-fitting split (SPEC 7).
    """
    check_callable("drift", drift)
    be = resolve_backend(x, backend=backend)
    x = as_points("x", x, be)
    n, d = x.shape
    if n < 2:
        raise ValueError("x needs at least 2 samples for a standard error")
    if score is not None and not isinstance(score, FeatureScore):
        check_callable("score", score)
    if particles is not None:
        particles = as_count("particles", particles)
        if d % particles:
            raise ValueError(f"particles={particles} does not divide the dimension d={d}")
    t = as_real("t", t)
    replicas = as_count("replicas", replicas, low=2)
    diff = Diffusion(D, d, be)
    gen = resolve_rng(rng, be, seed=seed)
    xp = be.xp

    b = check_returned_shape("drift", drift(t, x), (n, d), "(t, x)")
    learned = score is None or isinstance(score, FeatureScore)
    if learned:
        model = score or FeatureScore()
        need = 3 * replicas * (model.n_features + d + 1)
        if n < need:
            raise ValueError(f"learning the score needs n >= 3 replicas (features + d + 1) = {need} samples, got {n}"
                             " (pass fewer replicas=, fewer features, or a score=)")
        perm = gen.permutation(n)
        cuts = [round(r * n / replicas) for r in range(replicas + 1)]
        idx = [perm[cuts[r]:cuts[r + 1]] for r in range(replicas)]
        pairs = [_cross_fitted_velocities(xp.take(x, i, axis=0), xp.take(b, i, axis=0), model, diff, be, gen)
                 for i in idx]
        order = xp.argsort(perm)
        v = xp.take(xp.concat([p[0] for p in pairs], axis=0), order, axis=0)
        va = xp.take(xp.concat([p[1] for p in pairs], axis=0), order, axis=0)
    else:
        v = va = b - diff.apply(check_returned_shape("score", score(x), (n, d), "(x)"))
    dv = diff.solve(va)
    per = xp.sum(v * dv, axis=1)
    if not bool(xp.all(xp.isfinite(per))):
        raise ValueError("non-finite velocities: check drift and score on these samples")
    value = xp.mean(per)
    if learned:
        reps = xp.stack([xp.mean(xp.take(per, i, axis=0)) for i in idx])
        stderr = xp.std(reps, correction=1) / math.sqrt(replicas)
    else:
        stderr = xp.std(per, correction=1) / math.sqrt(n)
    pp = pp_se = None
    if particles is not None:
        blocks = xp.sum(xp.reshape(v * dv, (n, particles, d // particles)), axis=2)
        pp = xp.mean(blocks, axis=0)
        pp_se = xp.std(blocks, axis=0, correction=1) / math.sqrt(n)
    return EntropyProduction(value, stderr, pp, pp_se, per, backend=be)


def _cross_fitted_velocities(x: Any, b: Any, model: FeatureScore, diff: Diffusion, be: Any, gen: Any
                             ) -> tuple[Any, Any]:
    """Two velocity estimates ``v_a, v_b`` at every sample from scores fitted on two folds that exclude it.

    The samples are split into three folds; fold ``k`` is scored by the models fitted on the other two. Then
    ``E[v_a·D⁻¹v_b]`` is ``E[v·D⁻¹v]`` plus the product of two independent fit errors, which vanishes to first order:
    unlike ``|v_a|²``, the estimate is not biased upward by the score's estimation error (so ``Π ≈ 0`` at
    equilibrium comes out within its standard error of 0)."""
    xp = be.xp
    n, d = x.shape
    perm = gen.permutation(n)
    cuts = [0, n // 3, 2 * n // 3, n]
    folds = [perm[cuts[k]:cuts[k + 1]] for k in range(3)]
    xs = [xp.take(x, f, axis=0) for f in folds]
    bound = model.bind(be, d, gen)
    ws = [bound.fit(xf) for xf in xs]
    va, vb = [], []
    for k in range(3):
        i, j = [m for m in range(3) if m != k]
        bk = xp.take(b, folds[k], axis=0)
        va.append(bk - diff.apply(bound.score(ws[i], xs[k])))
        vb.append(bk - diff.apply(bound.score(ws[j], xs[k])))
    order = xp.argsort(xp.concat(folds))
    return (xp.take(xp.concat(va, axis=0), order, axis=0), xp.take(xp.concat(vb, axis=0), order, axis=0))
