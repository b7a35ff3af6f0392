"""asv: transition path theory (``transportkit.tpt``) on the Müller–Brown grid, per backend and size.

Sizes 10^4, 10^5, 10^6 states (grids 100, 316, 1000) on every backend with a sparse solver: numpy, torch on the
CPU (SciPy's SuperLU on the tensors' memory) and jax (computed on the host with NumPy and SuperLU, results moved
once: nothing is compiled); ``array_api_strict`` has no sparse solver and runs only the 2500-state grid (the dense
fallback stops at ``DENSE_LIMIT`` = 4000 unknowns). ``TPTFirstCall`` tracks the first call in a fresh process (what
a user waits for; JAX compiled for 4-30 s per network size before it computed on the host).

Run as a script for the issue's 10^6-state comparison (each measurement in a fresh process, peak RSS reported)::

    .venv/bin/python -m asv_benchmarks.bench_tpt --n 1000          # transportkit vs spsolve vs deeptime
    .venv/bin/python -m asv_benchmarks.bench_tpt --n 100,316,1000 --what tk --backends numpy,torch,jax
"""

from __future__ import annotations

import math

import transportkit as tk
from transportkit.tpt.solvers import DENSE_LIMIT

from ._common import BACKENDS, backend_or_skip


class TPTMuellerBrown:
    """reactive_flux (stationary distribution + committors + flux + rate) on an n x n grid."""

    params = (BACKENDS, [50, 100, 316, 1000])
    param_names = ["backend", "grid"]
    timeout = 600

    def setup(self, backend, grid):
        be = backend_or_skip(backend)
        if be.sparse_solve is None and grid * grid > DENSE_LIMIT:
            raise NotImplementedError  # array_api_strict: dense fallback only
        self.Q, self.xy, self.A, self.B = tk.tpt.mueller_brown(n=grid, beta=0.1, backend=be)
        # warm up once (imports, SciPy's first factorization): timings below are of warm calls
        tk.tpt.reactive_flux(self.Q, self.A, self.B, tol=1e-10)

    def time_reactive_flux(self, backend, grid):
        tk.tpt.reactive_flux(self.Q, self.A, self.B, tol=1e-10)

    def peakmem_reactive_flux(self, backend, grid):
        tk.tpt.reactive_flux(self.Q, self.A, self.B, tol=1e-10)


class TPTFirstCall:
    """First and second ``reactive_flux`` call on the 100 x 100 Müller–Brown grid, each process fresh."""

    params = (BACKENDS,)
    param_names = ["backend"]
    timeout = 300

    def setup(self, backend):
        be = backend_or_skip(backend)
        if be.sparse_solve is None:
            raise NotImplementedError  # array_api_strict: dense fallback only, 10^4 states is beyond it

    def track_first_call(self, backend):
        return _run(100, "tk", backend, self.timeout).get("seconds", math.nan)

    track_first_call.unit = "seconds"

    def track_second_call(self, backend):
        return _run(100, "tk", backend, self.timeout).get("seconds_warm", math.nan)

    track_second_call.unit = "seconds"


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
import os; os.environ.setdefault("JAX_ENABLE_X64", "1")
import resource, sys, time, json
import numpy as np
import transportkit as tk
n = int(sys.argv[1]); what = sys.argv[2]; be = sys.argv[3] if len(sys.argv) > 3 else "numpy"
Q, xy, A, B = tk.tpt.mueller_brown(n=n, beta=0.1, format="coo", backend=be)  # this backend's copy only (peak RSS)
xy = tk.get_backend(be).to_numpy(xy)
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
    del rf  # the peak below is of one call's working set, not of two results alive at once
    t = time.perf_counter(); rf = tk.tpt.reactive_flux(Q, A, B, **kw); out["seconds_warm"] = time.perf_counter() - t
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


def _run(n: int, what: str, backend: str, timeout: float) -> dict:
    import json
    import subprocess
    import sys

    try:
        p = subprocess.run([sys.executable, "-c", _CHILD, str(n), what, backend], capture_output=True, text=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout {timeout}s"}
    if p.returncode != 0:
        return {"error": p.stderr.strip().splitlines()[-1:]}
    return json.loads(p.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    """Each (grid, measurement, backend) in a fresh process: ``seconds`` is the first call (with JAX's
    compilation), ``seconds_warm`` a second call in the same process, ``peak_rss_gib`` the process's peak RSS."""
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--n", default="1000", help="grid sizes n (n x n states), comma-separated")
    ap.add_argument("--what", default="spsolve,tk_pi,tk,deeptime")
    ap.add_argument("--backends", default="numpy", help="backends for the tk/tk_pi measurements")
    ap.add_argument("--timeout", type=float, default=1800)
    args = ap.parse_args(argv)
    for n in (int(x) for x in args.n.split(",")):
        res = {}
        for what in args.what.split(","):
            for be in args.backends.split(",") if what in ("tk", "tk_pi") else ["numpy"]:
                key = what if be == "numpy" else f"{what}[{be}]"
                res[key] = _run(n, what, be, args.timeout)
                print(f"n={n}^2", key, res[key], flush=True)
        base = res.get("spsolve", {}).get("seconds")
        if base:
            for key, r in res.items():
                if key != "spsolve" and r.get("seconds"):
                    print(f"n={n}^2 {key}: {r['seconds']:.2f} s = {r['seconds'] / base:.2f} x spsolve ({base:.2f} s)")
        if res.get("tk", {}).get("seconds") and res.get("deeptime", {}).get("seconds"):
            print(f"n={n}^2 deeptime / transportkit = {res['deeptime']['seconds'] / res['tk']['seconds']:.2f}")


if __name__ == "__main__":
    main()
