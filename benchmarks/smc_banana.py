"""SMC on a 2-D banana with the defaults (issue 15): log Z against the exact value on several seeds.

The banana: :math:`x_1\\sim\\mathcal N(0, 1)`, :math:`x_2\\mid x_1\\sim\\mathcal N(b x_1^2, 0.2)`, i.e.
:math:`\\log\\tilde\\rho(x) = -x_1^2/2 - (x_2 - b x_1^2)^2/0.4`. The shear :math:`x_2\\mapsto x_2 - bx_1^2` has unit
Jacobian, so :math:`Z = 2\\pi\\sqrt{0.2}` for every b: log Z = 1.033158 (checked by quadrature below). b = 1 is the
standard banana; b = 2 a harder one.

    .venv/bin/python benchmarks/smc_banana.py                    # n = 1000, seeds 0-4, defaults, numpy
    .venv/bin/python benchmarks/smc_banana.py --b 2 --seeds 8
    .venv/bin/python benchmarks/smc_banana.py --old    # the issue's setting: one move per step from N(0, I), unscaled
"""

from __future__ import annotations

import argparse
import math
import time
import warnings

import numpy


class Banana:
    dim = 2
    log_Z = math.log(2 * math.pi * math.sqrt(0.2))

    def __init__(self, b: float = 1.0):
        self.b = b

    def log_prob(self, x):
        u = x[:, 1] - self.b * x[:, 0] ** 2
        return -0.5 * x[:, 0] ** 2 - u * u / 0.4

    def grad_log_prob(self, x):
        from array_api_compat import array_namespace

        xp = array_namespace(x)
        u = x[:, 1] - self.b * x[:, 0] ** 2
        return xp.stack([-x[:, 0] + 10.0 * self.b * u * x[:, 0], -5.0 * u], axis=1)


def quadrature_log_z(b: float) -> float:
    """log Z by the trapezoidal rule on a fine grid (x2 integrated analytically would be the exact formula)."""
    x1 = numpy.linspace(-12, 12, 2401)
    x2 = numpy.linspace(-10, 12 * 12 * b + 10, 20001)
    X1, X2 = numpy.meshgrid(x1, x2, indexing="ij", sparse=True)
    f = numpy.exp(-0.5 * X1**2 - (X2 - b * X1**2) ** 2 / 0.4)
    return math.log(numpy.trapezoid(numpy.trapezoid(f, x2, axis=1), x1))


def main(argv=None) -> int:
    from transportkit.sampling.ais import smc

    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--b", type=float, default=1.0)
    ap.add_argument("--backend", default="numpy")
    ap.add_argument("--n-mcmc", type=int, default=None)
    ap.add_argument("--base-scale", type=float, default=None)
    ap.add_argument("--old", action="store_true", help="n_mcmc=1, precondition='none', base N(0, I)")
    args = ap.parse_args(argv)
    if args.old:
        args.n_mcmc, args.base_scale = 1, 1.0
    t = Banana(args.b)
    print(f"banana b = {args.b}: exact log Z = {t.log_Z:.6f}, quadrature {quadrature_log_z(args.b):.6f}")
    kw = {} if args.n_mcmc is None else {"n_mcmc": args.n_mcmc}
    if args.base_scale is not None:
        kw["base_scale"] = args.base_scale
    if args.old:
        kw["precondition"] = "none"
    print(f"smc(n={args.n}, backend={args.backend!r}, {kw or 'defaults'})")
    zs = []
    for s in range(args.seeds):
        t0 = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            r = smc(t, args.n, backend=args.backend, rng=s, **kw)
        z = (r.log_Z - t.log_Z) / r.log_Z_stderr
        zs.append(z)
        moves = numpy.mean(r.info.n_moves)
        names = sorted({type(c.message).__name__ for c in caught})
        print(
            f"  seed {s}: log Z = {r.log_Z:.4f} +- {r.log_Z_stderr:.4f}  z = {z:+.2f}  ESS/n = {r.ess / args.n:.2f}  "
            f"moves/step {moves:.1f}  k = {r.info.pareto_k:.2f}  evals {r.info.target_evaluations}  "
            f"{time.perf_counter() - t0:.1f} s  {' '.join(names)}",
            flush=True,
        )
    zs = numpy.array(zs)
    print(f"  max |z| = {numpy.abs(zs).max():.2f}, rms z = {numpy.sqrt(numpy.mean(zs**2)):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
