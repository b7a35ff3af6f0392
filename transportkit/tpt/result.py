r"""The result of transition path theory: :class:`ReactiveFlux`, a typed, frozen record on the caller's backend.

Its derived quantities follow E & Vanden-Eijnden, "Towards a theory of transition paths", J. Stat. Phys. 123, 503
(2006) and Metzner, Schütte & Vanden-Eijnden, "Transition path theory for Markov jump processes", Multiscale
Model. Simul. 7, 1192 (2009); the decompositions are in :mod:`transportkit.tpt.pathways`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any, NamedTuple

from .._backend import host_backend
from .._results import Result
from .._typing import Array
from ..random import SEED_DEPRECATED, resolve_rng

if TYPE_CHECKING:
    import networkx

__all__ = ["Array", "Path", "ReactiveFlux", "ReactivePath", "ReactivePaths"]


#: one pathway: the states from A to B (indices, or labels for networkx input) and its share of the total flux
Path = tuple[list, float]

# frozen exactly when the base class is (a dataclass cannot mix both along one hierarchy)
_FROZEN = Result.__dataclass_params__.frozen  # type: ignore[attr-defined]


@dataclasses.dataclass(frozen=_FROZEN)
class ReactiveFlux(Result):
    r"""Transition path theory quantities for ``A -> B`` (see :mod:`transportkit.tpt.flux` for the equations).

    Attributes
    ----------
    pi, q_plus, q_minus : array, shape (n,)
        Stationary distribution, forward and backward committors.
    flux, net_flux : array, sparse matrix or tuple
        Gross flux :math:`f_{ij} = \pi_i q^-_i L_{ij} q^+_j` and net flux :math:`f^+_{ij} = \max(f_{ij}-f_{ji}, 0)`
        in the input's form: dense ``n x n`` for dense input, the backend's sparse matrix (e.g.
        ``scipy.sparse.csr_array`` on numpy) for sparse input, ``(rows, cols, vals, n)`` for COO or networkx input.
    total_flux : float
        :math:`F = \sum_{i\in A, j\notin A} f_{ij}`, reactive trajectories per unit time (per step for
        ``kind="transition"``).
    rate : float
        :math:`k_{AB} = F / \sum_i \pi_i q^-_i` (deeptime's ``rate``).
    A, B : array of int
        The state sets as index arrays.
    kind : str
        ``"generator"`` or ``"transition"``.
    reversible : bool
        Whether detailed balance holds (then :math:`q^- = 1 - q^+`).
    edges : tuple of two arrays
        ``(rows, cols)`` of every off-diagonal edge of the input.
    flux_values, net_flux_values : array
        Gross and net flux per edge of ``edges``.
    n : int
        Number of states.
    labels : list or None
        networkx node labels (``None`` for other inputs).
    rate_values : array
        The off-diagonal entries :math:`L_{ij}` (``P_{ij}`` for ``kind="transition"``) per edge of ``edges``
        (what :func:`~transportkit.tpt.sample_reactive` draws jumps from).

    deeptime's names are aliases: ``forward_committor`` (``q_plus``), ``backward_committor`` (``q_minus``),
    ``gross_flux`` (``flux``), ``stationary_distribution`` (``pi``), ``source_states`` (``A``),
    ``target_states`` (``B``); ``net_flux``, ``total_flux``, ``rate`` and ``mfpt`` have the same names.
    """

    pi: Array
    q_plus: Array
    q_minus: Array
    flux: Any
    net_flux: Any
    total_flux: float
    rate: float
    A: Array
    B: Array
    kind: str
    reversible: bool
    edges: tuple[Array, Array]
    flux_values: Array
    net_flux_values: Array
    n: int
    labels: list | None = dataclasses.field(default=None, repr=False)
    rate_values: Array | None = dataclasses.field(default=None, repr=False)

    # -- deeptime's names ------------------------------------------------------------------------------
    @property
    def forward_committor(self) -> Array:
        """``q_plus`` (deeptime's name)."""
        return self.q_plus

    @property
    def backward_committor(self) -> Array:
        """``q_minus`` (deeptime's name)."""
        return self.q_minus

    @property
    def gross_flux(self) -> Any:
        """``flux`` (deeptime's name)."""
        return self.flux

    @property
    def stationary_distribution(self) -> Array:
        """``pi`` (deeptime's name)."""
        return self.pi

    @property
    def source_states(self) -> Array:
        """``A`` (deeptime's name)."""
        return self.A

    @property
    def target_states(self) -> Array:
        """``B`` (deeptime's name)."""
        return self.B

    # -- derived scalars -------------------------------------------------------------------------------
    @property
    def mfpt(self) -> float:
        """``1 / rate`` (deeptime's ``mfpt``): mean time from A (last left) to the first entrance of B."""
        return 1.0 / self.rate if self.rate > 0 else math.inf

    @property
    def reactive_density(self) -> Array:
        r""":math:`m_i = \pi_i q^-_i q^+_i`, probability to be at ``i`` on a reactive trajectory."""
        return self.pi * self.q_minus * self.q_plus

    @property
    def probability_reactive(self) -> float:
        r""":math:`Z_{AB} = \sum_i \pi_i q^-_i q^+_i`, probability that the process is reactive."""
        return float(self.backend.xp.sum(self.reactive_density))

    @property
    def transition_time(self) -> float:
        """Mean duration of a reactive trajectory :math:`t_{AB} = Z_{AB} / F`."""
        return self.probability_reactive / self.total_flux if self.total_flux > 0 else math.inf

    @property
    def residence_density(self) -> Array:
        """Normalized reactive (transition-path) density :math:`m_i / Z_{AB}`."""
        m = self.reactive_density
        return m / self.backend.xp.sum(m)

    # -- coarse graining, pathways, bottlenecks --------------------------------------------------------
    def coarse_grain(self, sets: list) -> Array:
        r"""Net flux between user sets: ``C[a, b] = max(G_ab - G_ba, 0)`` with
        :math:`G_{ab} = \sum_{i\in S_a, j\in S_b} f_{ij}` (``a != b``; ``f`` the gross flux); see
        :func:`transportkit.tpt.pathways.coarse_grain`."""
        from .pathways import coarse_grain

        return coarse_grain(self, sets)

    def pathways(self, k: int | None = 3, *, fraction: float = 1.0, refine: bool = True) -> list[Path]:
        """Dominant-pathway decomposition ``[(states, flux_share), ...]``; see
        :func:`transportkit.tpt.pathways.pathways`."""
        from .pathways import pathways

        return pathways(self, k=k, fraction=fraction, refine=refine)

    def bottleneck(self) -> tuple[Any, Any, float]:
        """Bottleneck edge ``(i, j, capacity)`` of the dominant pathway (weakest edge of the widest path)."""
        from .pathways import bottleneck

        return bottleneck(self)

    def sample_reactive(self, n_paths: int, *, method: str = "doob", rng: Any = None, max_steps: int = 100_000,
                        seed: Any = SEED_DEPRECATED) -> ReactivePaths:
        r"""Reactive trajectories (``method="doob"``) or detour-free paths on the net flux (``"net_flux"``); see
        :func:`transportkit.tpt.reactive_paths.sample_reactive`."""
        from .reactive_paths import sample_reactive

        if seed is not SEED_DEPRECATED:  # warn here, at the caller's line
            rng = resolve_rng(rng, host_backend(), seed=seed)
        return sample_reactive(self, n_paths, method=method, rng=rng, max_steps=max_steps)

    def to_networkx(self, *, net: bool = True, threshold: float = 0.0) -> networkx.DiGraph:
        """A networkx ``DiGraph`` with node attributes ``pi, q_plus, q_minus, in_A, in_B`` and an edge for every
        (net, or gross with ``net=False``) flux value above ``threshold`` (attribute ``flux``). Needs networkx."""
        import networkx  # optional dependency, used only here

        be = self.backend
        r, c = (be.to_numpy(a).tolist() for a in self.edges)
        vals = be.to_numpy(self.net_flux_values if net else self.flux_values).tolist()
        pi, qp, qm = (be.to_numpy(a).tolist() for a in (self.pi, self.q_plus, self.q_minus))
        in_a = set(be.to_numpy(self.A).tolist())
        in_b = set(be.to_numpy(self.B).tolist())
        lab = self.labels or list(range(self.n))
        G = networkx.DiGraph()
        for i in range(self.n):
            G.add_node(lab[i], pi=pi[i], q_plus=qp[i], q_minus=qm[i], in_A=i in in_a, in_B=i in in_b)
        G.add_edges_from((lab[i], lab[j], {"flux": v}) for i, j, v in zip(r, c, vals, strict=True) if v > threshold)
        return G


class ReactivePath(NamedTuple):
    """One sampled path: its states (indices, or labels for networkx input), the times at which each state is
    entered, and whether it was cut off at ``max_steps`` before reaching B."""

    states: list
    times: list
    truncated: bool


@dataclasses.dataclass(frozen=_FROZEN, repr=False)
class ReactivePaths(Result):
    r"""Paths sampled by :func:`~transportkit.tpt.sample_reactive`; ``paths[i]`` is a :class:`ReactivePath`.

    Attributes
    ----------
    states : list of lists
        Per path: the last state of A, the states visited outside A (in jump order), and the first state of B
        (indices, or labels for networkx input).
    times : list of lists
        Per path, the time each state is entered, counted from the last exit from A: for a generator
        continuous jump times (``times[0] = times[1] = 0``: the path leaves A at time 0); for a transition
        matrix step indices (``times[0] = 0`` in A, ``times[1] = 1``; a stay of ``k`` steps moves the next
        entry ``k`` on). ``method="net_flux"`` paths carry no physical time: ``times`` are jump indices.
    durations : array, shape (n_paths,)
        ``times[-1] - times[1]``, the time spent outside :math:`A\cup B` (for ``method="doob"`` its mean is
        :math:`t_{AB} = Z_{AB}/F`, ``ReactiveFlux.transition_time``); NaN for truncated paths.
    truncated : array of bool, shape (n_paths,)
        Paths cut off at ``max_steps`` jumps before reaching B (they are not reactive trajectories; a
        :class:`~transportkit.errors.ConvergenceWarning` says how many).
    method : str
        ``"doob"`` or ``"net_flux"``.
    kind : str
        ``"generator"`` or ``"transition"`` (of the network the paths were drawn on).
    """

    states: list
    times: list
    durations: Array
    truncated: Array
    method: str
    kind: str

    def __len__(self) -> int:
        return len(self.states)

    def __getitem__(self, i: int) -> ReactivePath:
        return ReactivePath(self.states[i], self.times[i], bool(self.truncated[i]))

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __repr__(self) -> str:
        be = self.backend
        trunc = int(be.to_numpy(self.truncated).sum()) if be is not None else int(sum(self.truncated))
        return (f"ReactivePaths(n_paths={len(self)}, method={self.method!r}, kind={self.kind!r}, "
                f"truncated={trunc})")
