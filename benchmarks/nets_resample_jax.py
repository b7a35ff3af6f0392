"""Wall time of a NETS run with resampling on JAX (issue #13: the resampling step inside the compiled program).

Usage: ``python benchmarks/nets_resample_jax.py [n] [steps] [repeats]`` -- prints the first-call time (compile
included) and the best of ``repeats`` later calls, for b = 0 (``rounds=0``) with systematic resampling over the
default islands, on the 2-D GMM40 target, and log Z +- stderr (truth 0).
"""

from __future__ import annotations

import sys
import time
import warnings

from transportkit._target_zoo import GMM40
from transportkit.sampling.nets import nets


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    target = GMM40()
    kw = {"steps": steps, "rounds": 0, "eps": 1.0, "resample": "systematic", "backend": "jax"}
    warnings.simplefilter("ignore", DeprecationWarning)
    rng = "rng" if "rng" in nets.__code__.co_varnames else "seed"
    t0 = time.perf_counter()
    r = nets(target, n, **kw, **{rng: 0})
    first = time.perf_counter() - t0
    times = []
    for s in range(1, repeats + 1):
        t0 = time.perf_counter()
        r = nets(target, n, **kw, **{rng: s})
        times.append(time.perf_counter() - t0)
    print(f"jax n={n} steps={steps}: first call {first:.3f} s, best of {repeats} later calls {min(times):.3f} s; "
          f"log Z {r.log_Z:.3f} +- {r.log_Z_stderr:.3f}, resampling events {r.info['n_resample']}")


if __name__ == "__main__":
    main()
