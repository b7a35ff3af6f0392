"""Peer benchmark and parity check: ``tk.free_energy.MBAR`` against ``pymbar.MBAR`` (pymbar 4) on pymbar's own test
systems (``pymbar.testsystems``: harmonic oscillators, exponential distributions), NumPy backend, float64.

For each system and size it reports

- the largest absolute deviation from pymbar of every result: free energies and their uncertainties
  (``compute_free_energy_differences`` with ``"svd-ew"``, ``"svd"``, ``"approximate"``), expectations of x and x^2
  (averages and differences) and of the state-dependent energies, perturbed free energies, the overlap matrix, its
  eigenvalues and scalar, the effective sample numbers, the weights, and the PMF of a 10-bin histogram against
  pymbar's ``FES`` (``"histogram"`` with bins at the deciles of x, ``uncertainty_method="analytical"``);
- the time of the construction (the solve) and of one call of each method, best of ``--repeat`` interleaved runs,
  and the ratio pymbar / transportkit.

pymbar is run with ``relative_tolerance=1e-12`` (its default 1e-7 stops ~1e-8 short of the solution). Run
``python benchmarks/peers/pymbar_mbar.py`` (``--sizes 1000 10000 100000``: samples per state, the fourth state
unsampled; ``--repeat``).
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

import transportkit as tk


def _dev(a: Any, b: Any) -> float:
    a, b = np.real(np.asarray(a, dtype=complex)).astype(float), np.asarray(b, dtype=float)
    if not np.array_equal(np.isfinite(a), np.isfinite(b)):
        return float("inf")
    m = np.isfinite(a)
    return float(np.max(np.abs(a[m] - b[m]))) if m.any() else 0.0


def _best(f: Callable[[], Any], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t)
    return best


def run(name: str, ts: Any, n: int, repeat: int) -> None:
    import pymbar

    N_k = [n, 2 * n, 3 * n, 0, 2 * n]
    N = sum(N_k)
    x_n, u_kn, N_k, _ = ts.sample(N_k=N_k, mode="u_kn", seed=0)
    u_ln = np.stack([1.1 * u_kn[0], u_kn[2] + 0.3 * x_n, u_kn[4]])
    edges = np.quantile(x_n, np.linspace(0.0, 1.0, 11))  # no empty bin (pymbar's FES refuses them)
    edges[0], edges[-1] = edges[0] - 1e-9, edges[-1] + 1e-9
    bin_n = np.digitize(x_n, edges) - 1

    def ours() -> Any:
        return tk.free_energy.MBAR(u_kn, N_k, ess_warning=0)

    def theirs() -> Any:
        return pymbar.MBAR(u_kn, N_k, relative_tolerance=1e-12)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref, m = theirs(), ours()
        calls: dict[str, tuple[Callable, Callable, list[str]]] = {
            "free_energy_differences": (
                lambda o: o.compute_free_energy_differences(), None, ["Delta_f", "dDelta_f"]),
            "fe_differences[svd]": (
                lambda o: o.compute_free_energy_differences(uncertainty_method="svd"), None, ["dDelta_f"]),
            "fe_differences[approximate]": (
                lambda o: o.compute_free_energy_differences(uncertainty_method="approximate"), None, ["dDelta_f"]),
            "expectations[x]": (lambda o: o.compute_expectations(x_n), None, ["mu", "sigma"]),
            "expectations[x^2, differences]": (
                lambda o: o.compute_expectations(x_n**2, output="differences"), None, ["mu", "sigma"]),
            "expectations[u_k, state_dependent]": (
                lambda o: o.compute_expectations(u_kn, state_dependent=True), None, ["mu", "sigma"]),
            "perturbed_free_energies": (
                lambda o: o.compute_perturbed_free_energies(u_ln), None, ["Delta_f", "dDelta_f"]),
            "overlap": (lambda o: o.compute_overlap(), None, ["scalar", "eigenvalues", "matrix"]),
            # relative: effective sample numbers are of order N
            "effective_sample_number / N": (
                lambda o: {"ess": o.compute_effective_sample_number() / N}, None, ["ess"]),
            "weights": (lambda o: {"W_nk": o.W_nk}, None, ["W_nk"]),
        }  # fmt: skip
        devs, times = {}, {}
        times["construction (solve)"] = (_best(theirs, repeat), _best(ours, repeat))
        for label, (call, _, keys) in calls.items():
            r1, r2 = call(ref), call(m)
            devs[label] = max(_dev(r1[k], r2[k]) for k in keys)
            times[label] = (_best(lambda c=call: c(ref), repeat), _best(lambda c=call: c(m), repeat))
        # PMF: pymbar 4 has it in FES (histogram); ours is MBAR.compute_pmf (pymbar 3's computePMF)
        fes = pymbar.FES(u_kn, N_k, mbar_options={"relative_tolerance": 1e-12})

        def pymbar_pmf() -> Any:
            fes.generate_fes(u_kn[0], x_n, fes_type="histogram", histogram_parameters={"bin_edges": [edges]})
            centers = 0.5 * (edges[1:] + edges[:-1])
            return fes.get_fes(centers, reference_point="from-lowest", uncertainty_method="analytical")

        r1, r2 = pymbar_pmf(), m.compute_pmf(u_kn[0], bin_n, 10)
        devs["pmf (vs FES histogram)"] = max(_dev(r1["f_i"], r2["f_i"]), _dev(r1["df_i"], r2["df_i"]))
        times["pmf (vs FES histogram)"] = (
            _best(pymbar_pmf, repeat),
            _best(lambda: m.compute_pmf(u_kn[0], bin_n, 10), repeat),
        )
    print(f"\n## {name}: K = 5 (one unsampled), N = {N}")
    print(f"{'result':40s} {'max |dev|':>10s} {'pymbar s':>10s} {'tk s':>10s} {'ratio':>8s}")
    for label, (tp, tt) in times.items():
        d = devs.get(label)
        dev = "" if d is None else f"{d:10.1e}"
        print(f"{label:40s} {dev:>10s} {tp:10.2e} {tt:10.2e} {tp / tt:8.1f}")
    print(f"{'max over all':40s} {max(devs.values()):10.1e}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    logging.disable(logging.WARNING)
    from pymbar import testsystems

    for n in args.sizes:
        run("harmonic oscillators", testsystems.HarmonicOscillatorsTestCase(), n, args.repeat)
        run("exponential distributions", testsystems.ExponentialTestCase(), n, args.repeat)


if __name__ == "__main__":
    main()
