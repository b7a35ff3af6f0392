"""JAX-only reproducer of the jaxlib 0.10 CPU deadlock in batched LAPACK kernels (docs/backends.md).

A jitted step evaluates a Gaussian-mixture velocity twice (8 batched 64 x 64 Cholesky factorizations and inverses
per evaluation); on jaxlib 0.10.x with a small intra-op pool (2 cores) the two Cholesky custom calls run
concurrently, each fans its batch into the pool and blocks, and the program hangs with no CPU use.

    python benchmarks/peers/jax_lapack_deadlock.py [--n 1000] [--d 64] [--steps 100] [--timeout 60]

Prints ``ok <seconds> <jax version>``, or, after ``--timeout`` seconds, the Python stack of the hung call and
exits with status 1 (``faulthandler``). No transportkit code is involved.
"""

from __future__ import annotations

import argparse
import faulthandler
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--d", type=int, default=64)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--timeout", type=int, default=60)
    args = ap.parse_args()
    faulthandler.dump_traceback_later(args.timeout, exit=True)

    import jax
    import jax.numpy as jnp
    import numpy as np

    jax.config.update("jax_enable_x64", True)
    P, n, d = 8, args.n, args.d
    ang = np.arange(P) * 2 * np.pi / P
    m = np.zeros((P, d))
    m[:, 0], m[:, 1] = 4 * np.cos(ang), 4 * np.sin(ang)
    m = jnp.asarray(m)
    C = jnp.asarray(np.stack([0.2 * np.eye(d)] * P))
    eye = jnp.eye(d)

    def velocity(t, x):
        sig = (1 - t) ** 2 * eye + t**2 * C
        L = jnp.linalg.cholesky(sig)
        W = jnp.linalg.inv(L)
        y = (x[None, :, :] - t * m[:, None, :]) @ jnp.swapaxes(W, -1, -2)
        g = y @ W
        logdet = 2 * jnp.sum(jnp.log(jnp.diagonal(L, axis1=-2, axis2=-1)), axis=-1)
        r = jax.nn.softmax(-0.5 * jnp.sum(y * y, -1) - 0.5 * logdet[:, None], axis=0)
        f = g @ (-(1 - t) * eye + t * C) + m[:, None, :]
        return jnp.sum(r[:, :, None] * f, axis=0)

    @jax.jit
    def midpoint_step(t, h, x):
        return x + h * velocity(t + h / 2, x + h / 2 * velocity(t, x))

    x = jnp.asarray(np.random.default_rng(0).normal(size=(n, d)))
    t0 = time.perf_counter()
    for i in range(args.steps):
        x = midpoint_step(jnp.asarray(i / args.steps), jnp.asarray(1 / args.steps), x)
    x.block_until_ready()
    print("ok", round(time.perf_counter() - t0, 2), jax.__version__, flush=True)


if __name__ == "__main__":
    main()
