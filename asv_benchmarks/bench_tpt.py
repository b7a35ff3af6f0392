"""asv: transition path theory (``transportkit.tpt``) on the Müller–Brown grid, per backend and size.

Run as a script for the issue's 10^6-state comparison (each measurement in a fresh process, peak RSS reported)::

    .venv/bin/python -m asv_benchmarks.bench_tpt --n 1000          # transportkit vs spsolve vs deeptime
"""

from __future__ import annotations

import transportkit as tk

from ._common import BACKENDS, backend_or_skip


class TPTMuellerBrown:
    """reactive_flux (stationary distribution + committors + flux + rate) on an n x n grid."""

    params = (BACKENDS, [100, 316, 1000])
    param_names = ["backend", "grid"]
    timeout = 600

    def setup(self, backend, grid):
        backend_or_skip(backend)
        if backend not in ("numpy", "cupy") and grid > 100:
            # Jacobi-BiCGSTAB in a Python loop: ~15 s at 10^4 states on CPU already
            raise NotImplementedError
        if backend == "array_api_strict" and grid > 60:
            raise NotImplementedError  # dense fallback only
        self.Q, self.xy, self.A, self.B = tk.tpt.mueller_brown(n=grid, beta=0.1, backend=backend)

    def time_reactive_flux(self, backend, grid):
        tk.tpt.reactive_flux(self.Q, self.A, self.B, tol=1e-10)

    def peakmem_reactive_flux(self, backend, grid):
        tk.tpt.reactive_flux(self.Q, self.A, self.B, tol=1e-10)


class TPTPathways:
    params = ([30, 100],)
    param_names = ["grid"]

    def setup(self, grid):
        Q, _xy, A, B = tk.tpt.mueller_brown(n=grid, beta=0.1)
        self.rf = tk.tpt.reactive_flux(Q, A, B)

    def time_pathways3(self, grid):
        self.rf.pathways(k=3)


# ------------------------------------------------------------------------------------------- script mode
_CHILD = r"""
import resource, sys, time, json
import numpy as np
import transportkit as tk
n = int(sys.argv[1]); what = sys.argv[2]
Q, xy, A, B = tk.tpt.mueller_brown(n=n, beta=0.1)
rows, cols, vals, N = Q
import scipy.sparse as sp
out = {}
if what == "spsolve":
    import scipy.sparse.linalg as spla
    L = sp.csr_array((vals, (rows, cols)), shape=(N, N))
    lam = np.asarray(L.sum(axis=1)).ravel()
    L = (L - sp.diags_array(lam)).tocsr()
    inB = np.zeros(N, bool); inB[B] = True
    inI = np.ones(N, bool); inI[A] = False; inI[B] = False
    LI = L[inI]
    M = LI[:, inI]; rhs = -(LI[:, inB] @ np.ones(inB.sum()))
    t = time.perf_counter(); q = spla.spsolve(M, rhs); out["seconds"] = time.perf_counter() - t
elif what in ("tk", "tk_pi"):
    kw = {}
    if what == "tk_pi":
        V = tk.tpt.mueller_brown_potential(xy[:, 0], xy[:, 1]); p = np.exp(-0.1 * (V - V.min())); kw["pi"] = p / p.sum()
    t = time.perf_counter(); rf = tk.tpt.reactive_flux(Q, A, B, **kw); out["seconds"] = time.perf_counter() - t
    out["rate"] = rf.rate; out["reversible"] = rf.reversible
elif what == "deeptime":
    from deeptime.markov import reactive_flux
    L = sp.csr_array((vals, (rows, cols)), shape=(N, N))
    lam = np.asarray(L.sum(axis=1)).ravel(); Lam = 1.05 * lam.max()
    P = (sp.eye_array(N) + (L - sp.diags_array(lam)) / Lam).tocsr()
    P = sp.csr_matrix(P)
    V = tk.tpt.mueller_brown_potential(xy[:, 0], xy[:, 1]); p = np.exp(-0.1 * (V - V.min())); p /= p.sum()
    # deeptime's own stationary distribution (ARPACK) does not converge here: give it the exact one
    t = time.perf_counter()
    rf = reactive_flux(P, A, B, stationary_distribution=p)
    out["seconds"] = time.perf_counter() - t
    out["rate_per_time"] = rf.rate * Lam
out["peak_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
print(json.dumps(out))
"""


def main(argv: list[str] | None = None) -> None:
    import argparse
    import json
    import subprocess
    import sys

    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--what", default="spsolve,tk_pi,tk,deeptime")
    ap.add_argument("--timeout", type=float, default=1800)
    args = ap.parse_args(argv)
    res = {}
    for what in args.what.split(","):
        try:
            p = subprocess.run([sys.executable, "-c", _CHILD, str(args.n), what], capture_output=True, text=True,
                               timeout=args.timeout)
            res[what] = json.loads(p.stdout.strip().splitlines()[-1]) if p.returncode == 0 else {
                "error": p.stderr.strip().splitlines()[-1:]}
        except subprocess.TimeoutExpired:
            res[what] = {"error": f"timeout {args.timeout}s"}
        print(what, res[what], flush=True)
    base = res.get("spsolve", {}).get("seconds")
    if base:
        for what in ("tk", "tk_pi", "deeptime"):
            s = res.get(what, {}).get("seconds")
            if s:
                print(f"{what}: {s:.2f} s = {s / base:.2f} x spsolve ({base:.2f} s)")
    if res.get("tk", {}).get("seconds") and res.get("deeptime", {}).get("seconds"):
        print(f"deeptime / transportkit = {res['deeptime']['seconds'] / res['tk']['seconds']:.2f}")


if __name__ == "__main__":
    main()
