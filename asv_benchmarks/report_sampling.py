"""Accuracy report of the samplers of unnormalized densities (not an asv benchmark: run it as a script).

    .venv/bin/python asv_benchmarks/report_sampling.py [--backends numpy,torch,jax,array_api_strict] [--parts ...]
        [--seeds 3] [--n 2000] [--steps 100] [--mlp]

Parts:

- ``gmm40``, ``funnel``, ``manywell``: per backend, mean log Z error, max |error| over ``--seeds`` seeds, reported
  stderr, ESS/n, target evaluations, modes visited (GMM40: the minimum over seeds) and wall time per run for AIS
  (MALA), SMC (MALA, systematic resampling at ESS/n < 0.5) and NETS (b = 0; b = 0 with resampling; the PINN
  linear-in-features drift after 2 rounds; with ``--mlp`` on torch/jax the PINN-trained MLP drift). All methods
  use the same geometric path from N(0, base_scale^2 I), n walkers and K steps (n (K + 1) evaluations; the NETS
  training rounds add theirs, shown in the ``evals`` column). NETS's eps per target is in ``NETS_EPS``
  (tuned after training, as the method allows: the drift does not depend on eps).
- ``gmm40-interp``: GMM40 along the linear interpolant path (:class:`transportkit.sampling.InterpolantPath`,
  modes moving out of N(0, s^2 I) with fixed masses): AIS/SMC and NETS (b = 0; the least-squares
  ``affine+score`` drift at several eps) on that path, and AIS on the geometric path for reference.
- ``manywell-sweep``: SMC, AIS and NETS (b = 0, resampling) on ManyWell(32) for growing (n, K): the budget
  needed for |log Z error| < 0.5.
- ``calibration``: the stderr-vs-spread calibration on a d = 10 Gaussian over 20 seeds (AIS, NETS; SMC and
  NETS with resampling, one population vs the default islands).
- ``nets-timing``: wall time of NETS on GMM40 (n walkers, K steps, eps = 10) per backend, first call (with JAX's
  compilation) and the best of ``--seeds`` later calls: b = 0, a fixed user drift, a drift trained by 2 rounds
  (``select_best=False``) and :func:`~transportkit.sampling.nets.sample_with_drift` with that trained drift. On JAX
  the runs are compiled programs (:mod:`transportkit.sampling.nets.simulate`), reused across calls.

NETS: Albergo & Vanden-Eijnden, "NETS: A Non-Equilibrium Transport Sampler", 2024, arXiv:2410.02711.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("JAX_ENABLE_X64", "1")

#: NETS diffusion per target for the final (post-training) run
NETS_EPS = {"GMM40": 10.0, "Funnel(10)": 1.0, "ManyWell(32)": 3.0}


def _table(label, t, be, n, steps, seeds, mlp, numpy):
    from transportkit.sampling.ais import ais, smc
    from transportkit.sampling.nets import nets

    eps = NETS_EPS[label]
    runs = {
        "ais-mala": lambda s: ais(t, n, steps=steps, backend=be, rng=s),
        "smc-mala": lambda s: smc(t, n, steps=steps, backend=be, rng=s),
        f"nets(b=0,eps={eps:g})": lambda s: nets(t, n, steps=steps, rounds=0, eps=eps, backend=be, seed=s),
        f"nets(b=0,eps={eps:g},rs)": lambda s: nets(
            t, n, steps=steps, rounds=0, eps=eps, resample="systematic", backend=be, seed=s
        ),
        "nets(pinn-lin,2r)": lambda s: nets(
            t, n, steps=steps, rounds=2, eps=eps, select_best=False, backend=be, seed=s
        ),
    }
    if mlp and be.value_and_grad is not None:
        runs["nets(pinn-mlp,2r)"] = lambda s: nets(
            t, n, steps=steps, rounds=2, eps=eps, learner="mlp", select_best=False, backend=be, seed=s
        )
    _report(label, t, runs, be, n, seeds, numpy)


def _gmm40_interp(be, n, steps, seeds, numpy):
    """GMM40 along the linear interpolant path from N(0, s^2 I) (modes move, masses fixed), next to AIS on the
    geometric path: the case where a learned NETS drift (affine+score, least squares) beats annealing."""
    from transportkit._target_zoo import GMM40
    from transportkit.sampling import InterpolantPath
    from transportkit.sampling.ais import ais, smc
    from transportkit.sampling.nets import nets
    from transportkit.targets import Gaussian

    t = GMM40()
    path = InterpolantPath(t, "linear", Gaussian(numpy.zeros(2), numpy.eye(2) * t.scale**2))
    lin = dict(features="affine+score", n_fit=steps, ridge=1e-7, backend=be)
    runs = {
        "ais-mala(geometric)": lambda s: ais(t, n, steps=steps, backend=be, rng=s),
        "ais-mala(interp)": lambda s: ais(t, n, steps=steps, path=path, backend=be, rng=s),
        "smc-mala(interp)": lambda s: smc(t, n, steps=steps, path=path, backend=be, rng=s),
        "nets(b=0,eps=6,interp)": lambda s: nets(t, n, steps=steps, rounds=0, eps=6.0, path=path, backend=be, seed=s),
        **{
            f"nets(pinn-lin,eps={e:g},interp)": lambda s, e=e: nets(t, n, steps=steps, eps=e, path=path, seed=s, **lin)
            for e in (1.0, 3.0, 6.0, 12.0)
        },
    }
    _report("GMM40", t, runs, be, n, seeds, numpy)


def _report(label, t, runs, be, n, seeds, numpy):
    from transportkit._target_zoo import GMM40

    for meth, fn in runs.items():
        t0 = time.perf_counter()
        try:
            rs = [fn(s) for s in range(seeds)]
        except RuntimeError as exc:  # e.g. every walker lost with a diverging learned drift
            print(f"{label:13s} {meth:24s} failed: {exc}", flush=True)
            continue
        wall = (time.perf_counter() - t0) / seeds
        err = numpy.array([r.log_Z - t.log_Z for r in rs])
        extra = ""
        if isinstance(t, GMM40):
            extra = f" modes>={min(t.modes_visited(be.to_numpy(r.x)) for r in rs)}"
        print(
            f"{label:13s} {meth:30s} err={err.mean():+.3f} max|err|={numpy.abs(err).max():.3f} "
            f"se={numpy.mean([r.log_Z_stderr for r in rs]):.3f} ESS/n={numpy.mean([r.ess for r in rs]) / n:.3f} "
            f"evals={rs[0].info['target_evaluations']}{extra} wall={wall:.1f}s",
            flush=True,
        )


def _manywell_sweep(be, seeds, numpy):
    from transportkit._target_zoo import ManyWell
    from transportkit.sampling.ais import ais, smc
    from transportkit.sampling.nets import nets

    t = ManyWell(32)
    grid = [(2000, 100), (2000, 300), (2000, 1000), (10000, 300)]
    for n, K in grid:
        for meth, fn in {
            "smc-mala": lambda s, n=n, K=K: smc(t, n, steps=K, backend=be, rng=s),
            "ais-mala": lambda s, n=n, K=K: ais(t, n, steps=K, backend=be, rng=s),
            "nets(b=0,eps=3,rs)": lambda s, n=n, K=K: nets(
                t, n, steps=K, rounds=0, eps=3.0, resample="systematic", backend=be, seed=s
            ),
        }.items():
            t0 = time.perf_counter()
            rs = [fn(s) for s in range(seeds)]
            err = numpy.array([r.log_Z - t.log_Z for r in rs])
            print(
                f"ManyWell(32) n={n:6d} K={K:5d} {meth:20s} errs={numpy.round(err, 3).tolist()} "
                f"se={numpy.mean([r.log_Z_stderr for r in rs]):.3f} ESS/n={numpy.mean([r.ess for r in rs]) / n:.3f} "
                f"wall={(time.perf_counter() - t0) / seeds:.1f}s",
                flush=True,
            )


def _nets_timing(be, n, steps, seeds):
    """First-call and steady wall time of NETS runs on GMM40 (see the module docstring)."""
    from transportkit._target_zoo import GMM40
    from transportkit.sampling.nets import nets, sample_with_drift, train

    t = GMM40()
    xp = be.xp

    def zero(tt, x):
        return xp.zeros_like(x), xp.zeros_like(x[:, 0])

    kw = dict(steps=steps, eps=10.0, backend=be)
    trained = train(t, n_train=min(n, 2000), rounds=2, select_best=False, seed=0, **kw)
    runs = {
        "nets(b=0)": lambda s: nets(t, n, rounds=0, seed=s, **kw),
        "nets(fixed user drift)": lambda s: nets(t, n, drift=zero, seed=s, **kw),
        "nets(pinn-lin,2r)": lambda s: nets(t, n, rounds=2, select_best=False, seed=s, **kw),
        "sample_with_drift(trained)": lambda s: sample_with_drift(t, n, trained, seed=s, **kw),
    }
    for meth, fn in runs.items():
        walls = []
        for s in range(max(seeds, 2)):
            t0 = time.perf_counter()
            r = fn(s)
            float(r.log_Z)  # wait for the result
            walls.append(time.perf_counter() - t0)
        print(
            f"GMM40 {be.name:16s} n={n} K={steps} {meth:28s} first={walls[0]:.2f}s "
            f"best later={min(walls[1:]):.2f}s log_Z={r.log_Z:+.3f} ESS/n={r.ess / n:.3f}",
            flush=True,
        )


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
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--mlp", action="store_true", help="also the PINN-trained MLP drift (torch/jax; slow on CPU)")
    args = ap.parse_args()
    parts = args.parts.split(",")
    for name in args.backends.split(","):
        be = tk.get_backend(name)
        print(f"== backend {name}", flush=True)
        for key, label, make in (
            ("gmm40", "GMM40", GMM40),
            ("funnel", "Funnel(10)", lambda: Funnel(10)),
            ("manywell", "ManyWell(32)", lambda: ManyWell(32)),
        ):
            if key in parts:
                _table(label, make(), be, args.n, args.steps, args.seeds, args.mlp, numpy)
        if "gmm40-interp" in parts:
            _gmm40_interp(be, args.n, args.steps, args.seeds, numpy)
        if "manywell-sweep" in parts:
            _manywell_sweep(be, args.seeds, numpy)
        if "nets-timing" in parts:
            _nets_timing(be, args.n, args.steps, args.seeds)
        if "calibration" in parts:
            rng = numpy.random.default_rng(0)
            L = rng.normal(size=(10, 10)) * 0.3
            g = Gaussian(rng.normal(size=10), L @ L.T + 0.5 * numpy.eye(10))
            for meth, fn in {
                "ais": lambda s, g=g, be=be: ais(g, 500, steps=30, backend=be, rng=s),
                "nets": lambda s, g=g, be=be: nets(
                    g, 500, steps=30, rounds=1, n_fit=6, features="affine", backend=be, seed=s
                ),
                "smc(1 island)": lambda s, g=g, be=be: smc(
                    g, 500, steps=10, ess_threshold=0.9, islands=1, backend=be, seed=s
                ),
                "smc(5 islands)": lambda s, g=g, be=be: smc(g, 500, steps=10, ess_threshold=0.9, backend=be, rng=s),
                "nets(b=0,rs,1 island)": lambda s, g=g, be=be: nets(
                    g, 500, steps=30, rounds=0, eps=3.0, resample="systematic", islands=1, backend=be, seed=s
                ),
                "nets(b=0,rs,5 islands)": lambda s, g=g, be=be: nets(
                    g, 500, steps=30, rounds=0, eps=3.0, resample="systematic", backend=be, seed=s
                ),
            }.items():
                rs = [fn(s) for s in range(20)]
                z = numpy.array([r.log_Z for r in rs])
                se = numpy.sqrt(numpy.mean([r.log_Z_stderr**2 for r in rs]))
                print(
                    f"Gaussian d=10 {meth:22s} 20 seeds: mean err={z.mean():+.4f} spread={z.std(ddof=1):.4f} "
                    f"reported se={se:.4f} ratio={se / z.std(ddof=1):.2f} "
                    f"max|err|/se={numpy.max(numpy.abs(z) / se):.2f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
