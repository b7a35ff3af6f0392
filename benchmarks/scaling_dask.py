"""Weak scaling of SMC islands on a Dask LocalCluster: 1 vs 2 worker processes (one thread each), two GMM40 islands
of ``--walkers`` walkers per worker, ``--steps`` annealing steps; throughput in target evaluations per second and
walker-steps per second, with the load average before and after (the machine is shared: say so in reports).

    python benchmarks/scaling_dask.py --walkers 100000 --steps 10 --repeat 2

Prints a Markdown table (docs/scaling.md)."""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # one core per worker, no BLAS threads
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import time  # noqa: E402


def run(workers: int, walkers: int, steps: int, repeat: int, per_worker: int) -> dict:
    from distributed import Client, LocalCluster

    from transportkit._target_zoo import GMM40
    from transportkit.sampling.ais import smc

    K = per_worker * workers
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=50) as cluster, Client(cluster) as client:  # fmt: skip
        smc(GMM40(), 200 * K, steps=2, islands=K, rng=0, client=client)  # workers import transportkit, warm up
        best = None
        for r in range(repeat):
            t0 = time.perf_counter()
            res = smc(GMM40(), walkers * K, steps=steps, islands=K, rng=r + 1, client=client)
            dt = time.perf_counter() - t0
            row = {"seconds": dt, "evals": res.info.target_evaluations, "walker_steps": walkers * K * steps}
            if best is None or dt < best["seconds"]:
                best = row
    return {"workers": workers, "islands": K, **best}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--walkers", type=int, default=100_000, help="walkers per island")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--per-worker", type=int, default=2, help="islands per worker")
    a = ap.parse_args()
    load0 = os.getloadavg()
    rows = [run(w, a.walkers, a.steps, a.repeat, a.per_worker) for w in (1, 2)]
    load1 = os.getloadavg()
    print(f"GMM40 SMC, {a.walkers} walkers per island, {a.steps} steps, {a.per_worker} islands per worker, best of "
          f"{a.repeat}; load average before {load0[0]:.1f}, after {load1[0]:.1f} ({os.cpu_count()} cores)\n")
    print("| workers | islands | seconds | target evaluations / s | walker-steps / s | speed-up (evals/s) |")
    print("|---|---|---|---|---|---|")
    base = rows[0]["evals"] / rows[0]["seconds"]
    for r in rows:
        ev, ws = r["evals"] / r["seconds"], r["walker_steps"] / r["seconds"]
        print(f"| {r['workers']} | {r['islands']} | {r['seconds']:.1f} | {ev:.3g} | {ws:.3g} | {ev / base:.2f} |")


if __name__ == "__main__":
    main()
