"""Transition path theory on networks: committors, reactive flux, rates, pathways.

References: E & Vanden-Eijnden, "Towards a theory of transition paths", J. Stat. Phys. 123, 503 (2006); Metzner,
Schütte & Vanden-Eijnden, "Transition path theory for Markov jump processes", Multiscale Model. Simul. 7, 1192
(2009); Cameron & Vanden-Eijnden, "Flows in complex networks: theory, algorithms, and application to
Lennard-Jones cluster rearrangement", J. Stat. Phys. 156, 427 (2014).

Modules: :mod:`~transportkit.tpt.flux` (the public entry points), :mod:`~transportkit.tpt.result`
(:class:`ReactiveFlux`), :mod:`~transportkit.tpt.pathways` (decompositions of the net flux),
:mod:`~transportkit.tpt.reactive_paths` (sampling reactive paths), :mod:`~transportkit.tpt.solvers` (the linear
systems), :mod:`~transportkit.tpt.graph` (the network structure, edge sums and graph searches),
:mod:`~transportkit.tpt.validation` (input checks), :mod:`~transportkit.tpt.network_forms` (input conversion),
:mod:`~transportkit.tpt.examples` (birth–death chains, Müller–Brown, random networks).

>>> import transportkit as tk
>>> Q, xy, A, B = tk.tpt.mueller_brown(n=60, beta=0.1)   # Q: a scipy.sparse.csr_array generator
>>> rf = tk.tpt.reactive_flux(Q, A, B)                    # kind inferred: rows sum to 0 -> "generator"
>>> rf.rate, rf.pathways(k=3)  # doctest: +SKIP
>>> paths = tk.tpt.sample_reactive(rf, 100, rng=0)        # reactive trajectories: .states, .times  # doctest: +SKIP
"""

from __future__ import annotations

from .examples import birth_death, mueller_brown, mueller_brown_potential, random_network, to_dense
from .flux import ReactiveFlux, committors, mean_first_passage_times, reactive_flux, stationary_distribution
from .pathways import bottleneck, coarse_grain, isocommittor_cut, pathways
from .reactive_paths import sample_reactive
from .result import ReactivePath, ReactivePaths

__all__ = [
    "ReactiveFlux",
    "ReactivePath",
    "ReactivePaths",
    "birth_death",
    "bottleneck",
    "coarse_grain",
    "committors",
    "demo",
    "isocommittor_cut",
    "mean_first_passage_times",
    "mueller_brown",
    "mueller_brown_potential",
    "pathways",
    "random_network",
    "reactive_flux",
    "sample_reactive",
    "stationary_distribution",
    "to_dense",
]


def demo(n: int = 100, beta: float = 0.1, picture: str | None = None) -> None:
    """Müller–Brown on an ``n x n`` grid: print the rate and the top 3 pathways' shares; write a picture of the
    committor and the pathways to the file ``picture`` when one is given (default: none; the picture itself is
    :func:`transportkit.plot.plot_tpt`, which draws on an Axes of your own).

    Parameters
    ----------
    n : int
        Grid points per axis (``n * n`` states).
    beta : float
        Inverse temperature.
    picture : str or None
        File name of the picture, or ``None`` (default) for none: nothing is written unless asked.
    """
    import time

    t0 = time.perf_counter()
    Q, xy, A, B = mueller_brown(n=n, beta=beta)
    rf = reactive_flux(Q, A, B)
    t1 = time.perf_counter()
    print(f"Müller-Brown, {n}x{n} grid ({n * n} states), beta={beta}: reactive_flux in {t1 - t0:.2f} s")
    print(f"  total flux F = {rf.total_flux:.4e}, rate k_AB = {rf.rate:.4e}, mfpt = {rf.mfpt:.4e}, "
          f"reversible = {rf.reversible}")
    paths = rf.pathways(k=3)
    for i, (states, share) in enumerate(paths, 1):
        print(f"  pathway {i}: {len(states)} states, share {share:.3f}")
    if picture:
        try:
            from .plot import plot_mueller_brown

            plot_mueller_brown(rf, xy, n, paths, picture)
            print(f"  picture written to {picture}")
        except ImportError as exc:
            print(f"  (no picture: {exc})")
