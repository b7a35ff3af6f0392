"""The walker axis sharded across JAX devices: time of SMC and of ODE sampling vs walkers on 1 and 4 devices.

On a machine without accelerators the devices are XLA's host-platform devices: this module asks for 4 of them
(``XLA_FLAGS=--xla_force_host_platform_device_count=4``, appended when absent; it acts only where JAX's CPU client has
not started yet, so run it in a fresh process: ``python -m asv_benchmarks.bench_scaling_devices``). Host devices share
the machine's cores, so 4 of them do not add compute: the 4-device column measures the cost of the partitioned
program (collectives for the sums over walkers and the resampling gathers) more than a speed-up. On GPUs/TPUs the
devices are real and the flag has no effect.
"""

from __future__ import annotations

import os

_FLAG = "--xla_force_host_platform_device_count"
if _FLAG not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + f" {_FLAG}=4").strip()

from ._common import BACKENDS, block  # noqa: E402


def _backend(devices: int):
    if "jax" not in BACKENDS:
        raise NotImplementedError("jax is not installed")
    import jax

    import transportkit as tk

    if len(jax.devices()) < devices:
        raise NotImplementedError(
            f"{devices} JAX devices wanted, {len(jax.devices())} seen: "
            f"set XLA_FLAGS={_FLAG}={devices} before JAX starts"
        )
    try:
        return tk.get_backend("jax", dtype="float64", devices=devices if devices > 1 else None)
    except ValueError as exc:  # float64 without x64
        raise NotImplementedError(str(exc)) from exc


class ShardedWalkers:
    """SMC on GMM40 (5 annealing steps, MALA) and the probability-flow ODE of an exact two-mode interpolant field
    (RK4, 20 steps) for n walkers on 1 device and on 4 (``get_backend("jax", devices=4)``); compiled once in setup."""

    params = ([1, 4], [10**3, 10**4, 10**5])
    param_names = ["devices", "n"]
    timeout = 900

    def setup(self, devices, n):
        import numpy

        import transportkit as tk

        self.be = _backend(devices)
        self.target = tk.targets.GMM40()
        mix = tk.targets.GaussianMixture(
            [0.3, 0.7], [[-2.0, 0.0], [2.0, 1.0]], [0.5 * numpy.eye(2), numpy.eye(2)]
        )
        self.field = tk.interpolants.exact_field(tk.Interpolant("linear"), mix)
        self.time_smc(devices, n)  # compile for this shape
        self.time_ode(devices, n)

    def time_smc(self, devices, n):
        import transportkit as tk

        block(tk.sample(self.target, n, method="smc", steps=5, backend=self.be, rng=0).x)

    def time_ode(self, devices, n):
        import transportkit as tk

        block(tk.sample(self.field, n, method="ode", steps=20, backend=self.be, rng=0).x)


def main() -> None:  # pragma: no cover - a report, run by hand
    """The table (median of 3 after the compile) without asv: ``python -m asv_benchmarks.bench_scaling_devices``."""
    import time

    b = ShardedWalkers()
    print("| devices | n | SMC 5 steps (s) | ODE 20 steps (s) |\n| --- | --- | --- | --- |")
    for n in ShardedWalkers.params[1]:
        for devices in ShardedWalkers.params[0]:
            try:
                b.setup(devices, n)
            except NotImplementedError as exc:
                print(f"| {devices} | {n} | skipped: {exc} | |")
                continue
            row = []
            for f in (b.time_smc, b.time_ode):
                ts = []
                for _ in range(3):
                    t0 = time.perf_counter()
                    f(devices, n)
                    ts.append(time.perf_counter() - t0)
                row.append(sorted(ts)[1])
            print(f"| {devices} | {n} | {row[0]:.3f} | {row[1]:.3f} |", flush=True)


if __name__ == "__main__":  # pragma: no cover
    main()
