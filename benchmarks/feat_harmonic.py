"""FEAT on two harmonic wells (d = 10, k0 = 1, k1 = 4): BAR on stochastic escorted works vs (d/2) log(k1/k0), the
variational bounds, and the work variance against the unescorted process (b = 0, same path, eps and steps).

Run: .venv/bin/python benchmarks/feat_harmonic.py
"""

from __future__ import annotations

import importlib
import math
import time

import numpy as np

import transportkit as tk
from transportkit import free_energy as fe

F = importlib.import_module("transportkit.free_energy.feat")
D, K0, K1, N = 10, 1.0, 4.0, 8000
DF = 0.5 * D * math.log(K1 / K0)


def main() -> None:
    be = tk.get_backend("numpy")
    rng = np.random.default_rng(0)
    xa, xb = rng.normal(size=(N, D)) / math.sqrt(K0), rng.normal(size=(N, D)) / math.sqrt(K1)

    def Ua(x):
        return 0.5 * K0 * (x * x).sum(1)

    def Ub(x):
        return 0.5 * K1 * (x * x).sum(1)

    print(f"exact dF = {DF:.5f}; n = {N // 2} fit + {N // 2} work paths per direction")
    for steps in (50, 100, 200, 400):
        for eps in (0.5, 2.0):
            t0 = time.perf_counter()
            est = fe.feat(xa, xb, Ua, Ub, steps=steps, eps=eps, rng=steps)
            d = est.diagnostics
            wf, wr = np.asarray(d["w_forward"]), np.asarray(d["w_reverse"])
            esc = F.fit_linear_escort(xa[: N // 2], xb[: N // 2], be, tk.random.default_rng(1, be))

            class Plain(F.LinearEscort):
                def velocity(self, t, x):
                    return 0.0 * x

            p = Plain(esc.theta, esc.m_a, esc.C_a, esc.m_b, esc.C_b, be)
            wf0, wr0 = F.feat_works(p, xa[N // 2 :], xb[N // 2 :], Ua, Ub, eps=eps, steps=steps, rng=7)
            z = (float(est.value) - DF) / float(est.stderr)
            print(
                f"steps={steps:4d} eps={eps}: dF = {float(est.value):.4f} +- {float(est.stderr):.4f} (z = {z:+.2f}); "
                f"E[W_F] = {wf.mean():.4f} >= dF >= -E[W_R] = {-wr.mean():.4f}; var W_F {wf.var():.3f} "
                f"(unescorted {wf0.var():.2f}, ratio {wf0.var() / wf.var():.0f}x), var W_R {wr.var():.3f} "
                f"(unescorted {wr0.var():.2f}, ratio {wr0.var() / wr.var():.0f}x)  [{time.perf_counter() - t0:.1f} s]"
            )


if __name__ == "__main__":
    main()
