"""Wall time of the NETS final run over islands (issue #22: the islands run one after another in this process, or
as Dask tasks with ``client=``).

Usage: ``python benchmarks/nets_islands.py [label]`` -- for numpy and jax, n = 10^3 and 10^4 walkers, 50 steps,
b = 0 (``rounds=0``), systematic resampling over the default islands (10) on the 2-D GMM40 target: the first call
(compile included on JAX) and the best of two later calls, and log Z +- stderr (truth 0). Run it against an older
checkout (``PYTHONPATH=<old tree>``) to compare with the single vectorized population.
"""

from __future__ import annotations

import sys
import time
import warnings

from transportkit._target_zoo import GMM40
from transportkit.sampling.nets import nets


def main() -> None:
    label = sys.argv[1] if len(sys.argv) > 1 else ""
    warnings.simplefilter("ignore")
    target = GMM40()
    for be in ("numpy", "jax"):
        for n, steps in ((1000, 50), (10000, 50)):
            kw = {"steps": steps, "rounds": 0, "eps": 1.0, "resample": "systematic", "backend": be}
            t0 = time.perf_counter()
            r = nets(target, n, rng=0, **kw)
            first = time.perf_counter() - t0
            times = []
            for s in (1, 2):
                t0 = time.perf_counter()
                r = nets(target, n, rng=s, **kw)
                times.append(time.perf_counter() - t0)
            print(f"{label} {be:5s} n={n:6d} steps={steps} K={r.info['islands']}: first {first:.2f} s, best later "
                  f"{min(times):.2f} s; log Z {r.log_Z:+.3f} +- {r.log_Z_stderr:.3f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
