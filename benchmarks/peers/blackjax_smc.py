"""Peer comparison: blackjax's tempered SMC next to transportkit's SMC and NETS (jax backend) at equal target
evaluations, on GMM40 and Funnel(10). Prints log Z error, reported stderr, ESS/n, target evaluations and wall time.

    .venv/bin/python benchmarks/peers/blackjax_smc.py              # n = 2000 walkers, 100 steps, 3 seeds
    .venv/bin/python benchmarks/peers/blackjax_smc.py --small      # smoke test: n = 200, 10 steps, 1 run

All methods follow the same geometric path from the same normalized base N(0, base_scale^2 I) (the target's
``base_scale``) to the target, with one MALA move per temperature:

- ``tk-smc``: :func:`transportkit.sampling.ais.smc` with ``n_mcmc=1, precondition="none"`` (its defaults adapt the
  number of moves) and ``islands=1`` (one population, as blackjax), systematic resampling when ESS/n < 0.5, MALA
  step size adapted on the fly (acceptance 0.574); n (K + 1) target evaluations (value + gradient).
- ``tk-smc-isl``: the same with the default islands (up to 10 independent populations, run one after another:
  the standard error comes from their spread).
- ``tk-nets``: :func:`transportkit.sampling.nets.nets` with b = 0 (annealed Langevin, exact forward/backward
  path weights), eps = 10, systematic resampling when ESS/n < 0.5, ``islands=1``; n (K + 1) evaluations.
- ``tk-nets-isl``: the same with the default islands (run one after another).
- ``blackjax-smc``: ``blackjax.smc.tempered.build_kernel`` with ``blackjax.mala``, systematic resampling at every
  step (blackjax's tempered SMC always resamples), uniform temperatures, the MALA step size of each temperature
  taken from the step sizes tk-smc adapted (so both use the same tuning). Per temperature blackjax evaluates the
  density three times (MCMC state init with gradient, the MALA proposal, the weight increment), so it gets
  K_bj = round((K + 1) / 3) temperatures to match the evaluation budget of the others.

Wall time: each method runs once to compile (jax; its time is the ``first s`` column), then ``--reps`` timed runs on
different seeds; ``wall s`` is the mean over the timed runs (steady state) and ``x bj`` the median over the reps of
the ratio to blackjax's wall time in the same rep (the methods run interleaved, so that on a shared machine the
ratio is steadier than the times). tk-smc is one compiled program per run
(``lax.scan`` over the temperatures); blackjax's run is jitted whole too (``lax.scan`` over its tempered-SMC kernel).
Run it with default threads and with ``OMP_NUM_THREADS=1``. The targets' densities are transportkit's own
(``Target._log_prob`` on the jax
backend), so both libraries sample exactly the same function.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

os.environ.setdefault("JAX_ENABLE_X64", "1")


_CACHE: dict = {}


def _blackjax_run(target, n: int, k_bj: int, step_sizes, seed: int):
    """Tempered SMC in blackjax from N(0, base_scale^2 I) to ``target``, the whole run one jitted ``lax.scan`` over
    the temperatures (as a user who wants speed writes it); returns (log Z, ESS, x, evaluations). The jitted run is
    built once per (target, n, k_bj) and reused, so that timed runs do not recompile."""
    import jax
    import jax.numpy as jnp
    import numpy

    ck = (id(target), n, k_bj)
    if ck not in _CACHE:
        _CACHE[ck] = _blackjax_program(target, n, k_bj)
    run = _CACHE[ck]
    # MALA step of the matching fraction of the path (blackjax moves at the previous temperature)
    hs = numpy.array([step_sizes[min(int(j / k_bj * len(step_sizes)), len(step_sizes) - 1)] for j in range(k_bj)])
    log_z, w, x = run(jax.random.PRNGKey(seed), jnp.asarray(hs))
    ess = float(1.0 / jnp.sum(w * w))
    return float(log_z), ess, x, n * k_bj * 3


def _blackjax_program(target, n: int, k_bj: int):
    """The jitted blackjax tempered-SMC run (one MALA move per temperature, systematic resampling) for ``target``."""
    import blackjax
    import jax
    import jax.numpy as jnp
    from blackjax.smc import resampling
    from blackjax.smc.tempered import build_kernel, init

    import transportkit as tk

    be = tk.get_backend("jax")
    target._params(be)  # build the parameter cache outside jit (a cache filled under tracing would leak tracers)
    d, s0 = target.dim, float(target.base_scale)

    def log_prior(x):
        return -0.5 * jnp.sum(x * x) / s0**2 - 0.5 * d * math.log(2 * math.pi * s0**2)

    def log_lik(x):
        return target._log_prob(x[None, :], be)[0] - log_prior(x)

    kernel = build_kernel(log_prior, log_lik, blackjax.mala.build_kernel(), blackjax.mala.init, resampling.systematic)

    @jax.jit
    def run(key, hs):
        key, k0 = jax.random.split(key)
        state = init(s0 * jax.random.normal(k0, (n, d)))

        def body(carry, j):
            state, key, log_z = carry
            key, kj = jax.random.split(key)
            lam = (j + 1) / k_bj
            state, info = kernel(kj, state, 1, lam, {"step_size": jnp.reshape(hs[j], (1,))})
            return (state, key, log_z + info.log_likelihood_increment), None

        (state, _, log_z), _ = jax.lax.scan(body, (state, key, jnp.zeros(())), jnp.arange(k_bj))
        return log_z, state.weights, state.particles

    return run


def main(argv: list[str] | None = None) -> int:
    try:
        import blackjax  # noqa: F401
    except ImportError:
        print("blackjax is not installed: pip install blackjax optax", file=sys.stderr)
        return 2
    import numpy

    import transportkit as tk
    from transportkit._target_zoo import GMM40, Funnel
    from transportkit.sampling.ais import smc
    from transportkit.sampling.nets import nets

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="smoke-test sizes: n=200, steps=10, one untimed-warm-up run")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--targets", default="gmm40,funnel")
    ap.add_argument("--nets-eps", type=float, default=10.0)
    args = ap.parse_args(argv)
    if args.small:
        args.n, args.steps, args.reps = 200, 10, 0
    be = tk.get_backend("jax")
    targets = {"gmm40": ("GMM40", GMM40), "funnel": ("Funnel(10)", lambda: Funnel(10))}
    print(
        f"n = {args.n} walkers, K = {args.steps} temperatures (blackjax: budget-matched), "
        f"{max(args.reps, 1)} seed(s), jax, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'default')}"
        + ("" if args.reps else "; wall times include jit compilation")
    )
    print(
        f"{'target':11s} {'method':13s} {'logZ err':>9s} {'|err|max':>9s} {'se':>7s} {'ESS/n':>6s} "
        f"{'evals':>9s} {'wall s':>7s} {'x bj':>6s} {'first s':>7s}"
    )
    for key in args.targets.split(","):
        label, make = targets[key]
        t = make()
        rows: dict[str, list] = {"tk-smc": [], "tk-smc-isl": [], "tk-nets": [], "tk-nets-isl": [], "blackjax-smc": []}
        first: dict[str, float] = {}
        for rep in range(args.reps + 1):  # rep 0 compiles / warms up: reported as the first-call time
            seed = rep
            t0 = time.perf_counter()
            r = smc(t, args.n, steps=args.steps, n_mcmc=1, precondition="none", islands=1, backend=be, rng=seed)
            w_smc = time.perf_counter() - t0
            t0 = time.perf_counter()
            r10 = smc(t, args.n, steps=args.steps, n_mcmc=1, precondition="none", backend=be, rng=seed)
            w_smc10 = time.perf_counter() - t0
            h_trace = r.info["step_size_trace"]
            nkw = {"steps": args.steps, "rounds": 0, "eps": args.nets_eps, "resample": "systematic", "backend": be}
            t0 = time.perf_counter()
            q = nets(t, args.n, islands=1, rng=seed, **nkw)
            w_nets = time.perf_counter() - t0
            t0 = time.perf_counter()
            q10 = nets(t, args.n, rng=seed, **nkw)
            w_nets10 = time.perf_counter() - t0
            k_bj = max(1, round((args.steps + 1) / 3))
            t0 = time.perf_counter()
            lz, ess, _, ev = _blackjax_run(t, args.n, k_bj, h_trace, seed)
            w_bj = time.perf_counter() - t0
            if rep == 0:
                first = {"tk-smc": w_smc, "tk-smc-isl": w_smc10, "tk-nets": w_nets, "tk-nets-isl": w_nets10,
                         "blackjax-smc": w_bj}  # fmt: skip
            if rep == 0 and args.reps > 0:
                continue
            rows["tk-smc"].append((r.log_Z, r.log_Z_stderr, r.ess, r.info["target_evaluations"], w_smc))
            rows["tk-smc-isl"].append(
                (r10.log_Z, r10.log_Z_stderr, r10.ess, r10.info["target_evaluations"], w_smc10)
            )
            rows["tk-nets"].append((q.log_Z, q.log_Z_stderr, q.ess, q.info["target_evaluations"], w_nets))
            rows["tk-nets-isl"].append((q10.log_Z, q10.log_Z_stderr, q10.ess, q10.info["target_evaluations"], w_nets10))
            rows["blackjax-smc"].append((lz, math.nan, ess, ev, w_bj))
        w_ref = numpy.array(rows["blackjax-smc"], dtype=float)[:, 4]
        for meth, vals in rows.items():
            a = numpy.array(vals, dtype=float)
            err = a[:, 0] - t.log_Z
            se = "    n/a" if numpy.isnan(a[0, 1]) else f"{numpy.mean(a[:, 1]):7.3f}"
            print(
                f"{label:11s} {meth:13s} {err.mean():+9.3f} {numpy.abs(err).max():9.3f} {se} "
                f"{numpy.mean(a[:, 2]) / args.n:6.3f} {int(a[0, 3]):9d} {numpy.mean(a[:, 4]):7.3f} "
                f"{numpy.median(a[:, 4] / w_ref):6.2f} {first[meth]:7.2f}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
