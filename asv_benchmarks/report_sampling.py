"""Accuracy report of the samplers of unnormalized densities (not an asv benchmark: run it as a script).

    .venv/bin/python asv_benchmarks/report_sampling.py [--backends numpy,torch,jax,array_api_strict] [--parts ...]

Prints, per backend, log Z error, reported stderr, ESS/n, modes visited and wall time for AIS, SMC and NETS on
GMM40 (n = 2000, 100 steps), Funnel(10), ManyWell(32), and the stderr-vs-spread calibration on a d = 10
Gaussian over 20 seeds.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("JAX_ENABLE_X64", "1")


def main() -> None:
    import numpy

    import transportkit as tk
    from transportkit._target_zoo import GMM40, Funnel, ManyWell
    from transportkit.sampling.ais import ais, smc
    from transportkit.sampling.nets import nets
    from transportkit.targets import Gaussian

    ap = argparse.ArgumentParser()
    ap.add_argument("--backends", default="numpy")
    ap.add_argument("--parts", default="gmm40,funnel,manywell,calibration")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--no-pinn", action="store_true", help="skip the (slow) NETS runs with a learned drift")
    args = ap.parse_args()
    parts = args.parts.split(",")
    for name in args.backends.split(","):
        be = tk.get_backend(name)
        print(f"== backend {name}", flush=True)
        cases = []
        if "gmm40" in parts:
            cases.append(("GMM40", GMM40(), {}))
        if "funnel" in parts:
            cases.append(("Funnel(10)", Funnel(10), {}))
        if "manywell" in parts:
            cases.append(("ManyWell(32)", ManyWell(32), {}))
        for label, t, _ in cases:
            runs = {
                "ais-mala": lambda t=t, be=be: ais(t, args.n, steps=args.steps, backend=be, seed=0),
                "smc-mala": lambda t=t, be=be: smc(t, args.n, steps=args.steps, backend=be, seed=0),
                "nets(b=0,eps=1)": lambda t=t, be=be: nets(t, args.n, steps=args.steps, rounds=0, backend=be, seed=0),
                "nets(pinn,2 rounds)": lambda t=t, be=be: nets(
                    t, args.n, steps=args.steps, rounds=2, backend=be, seed=0
                ),
            }
            if args.no_pinn:
                runs.pop("nets(pinn,2 rounds)")
            for meth, fn in runs.items():
                t0 = time.perf_counter()
                r = fn()
                wall = time.perf_counter() - t0
                extra = ""
                if isinstance(t, GMM40):
                    extra = f" modes={t.modes_visited(be.to_numpy(r.x))}"
                if "chosen_round" in r.info:
                    extra += f" chosen_round={r.info['chosen_round']}"
                print(
                    f"{label:13s} {meth:20s} logZ err={r.log_Z - t.log_Z:+.4f} se={r.log_Z_stderr:.4f} "
                    f"ESS/n={r.ess / args.n:.3f}{extra} wall={wall:.1f}s",
                    flush=True,
                )
        if "calibration" in parts:
            rng = numpy.random.default_rng(0)
            L = rng.normal(size=(10, 10)) * 0.3
            g = Gaussian(rng.normal(size=10), L @ L.T + 0.5 * numpy.eye(10))
            for meth, fn in {
                "ais": lambda s, g=g, be=be: ais(g, 500, steps=30, backend=be, seed=s),
                "nets": lambda s, g=g, be=be: nets(
                    g, 500, steps=30, rounds=1, n_fit=6, features="affine", backend=be, seed=s
                ),
            }.items():
                rs = [fn(s) for s in range(20)]
                z = numpy.array([r.log_Z for r in rs])
                se = numpy.sqrt(numpy.mean([r.log_Z_stderr**2 for r in rs]))
                print(
                    f"Gaussian d=10 {meth:5s} 20 seeds: mean err={z.mean():+.4f} spread={z.std(ddof=1):.4f} "
                    f"reported se={se:.4f} ratio={se / z.std(ddof=1):.2f} "
                    f"max|err|/se={numpy.max(numpy.abs(z) / se):.2f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
