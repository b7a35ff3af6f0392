"""Neural Galerkin schemes: time per RK4 step vs number of units and dimension, per backend; the KdV
two-soliton accuracy at t = 4 (numpy, a track_ benchmark)."""

from __future__ import annotations

from ._common import BACKENDS, backend_or_skip, block


class GalerkinStep:
    """One RK4 step of linear advection with ``units`` isotropic Gaussian units in ``d`` dimensions and 64
    adaptive particles per unit (4 Jacobian evaluations and 4 least-squares solves)."""

    params = (BACKENDS, [5, 20], [1, 8])
    param_names = ["backend", "units", "d"]
    timeout = 300

    def setup(self, backend, units, d):
        from transportkit import galerkin as g
        from transportkit.galerkin.schemes import galerkin_velocity, rk_step

        be = backend_or_skip(backend)
        xp = be.xp
        self.pde = g.advection(d)
        self.param = g.GaussianUnits(units, d)
        gen = be.rng(0)
        c = xp.ones(units, dtype=be.dtype) / units
        w = 4.0 + gen.uniform((units,))
        b = 0.5 + 0.2 * gen.normal((units, d))
        self.theta = self.param.pack(c, w, b)
        self.sampler = g.AdaptiveParticles(64)
        self.X = self.sampler.initial(self.param, self.theta, gen, xp)

        def rhs(t, th, X):
            v, info = galerkin_velocity(self.pde, self.param, th, X, t)
            return v, self.sampler.velocity(X, self.param, th, v), info

        self.rhs = rhs
        self.rk_step = rk_step
        block(self.rk_step(self.rhs, 0.0, self.theta, self.X, 1e-3, "rk4")[0])  # warm-up

    def time_rk4_step(self, backend, units, d):
        block(self.rk_step(self.rhs, 0.0, self.theta, self.X, 1e-3, "rk4")[0])


class KdVTwoSoliton:
    """Relative L2 error at t = 4 of the KdV two-soliton run (10 periodic Gaussian units, RK4, dt = 1e-3)."""

    params = (["numpy"],)
    param_names = ["backend"]
    timeout = 1800
    number = 1
    repeat = 1

    def setup_cache(self):
        from transportkit import galerkin as g

        _, errs = g.run_kdv(4.0, 1e-3, backend="numpy")
        return errs[-1]

    def track_relative_l2_error_t4(self, err, backend):
        return err

    track_relative_l2_error_t4.unit = "relative L2"


class Advection8D:
    """Relative L2 error at t = 1 of d = 8 advection (2 diagonal Gaussian units, RK4 dt = 1e-2) with 200
    adaptive particles vs 200 uniform points on [-1, 3]^8 (exact error from Gaussian overlap integrals)."""

    params = (BACKENDS, ["adaptive", "uniform"])
    param_names = ["backend", "sampler"]
    timeout = 600
    number = 1
    repeat = 1

    def track_relative_l2_error_t1(self, backend, sampler):
        import math

        from transportkit import galerkin as g

        be = backend_or_skip(backend)
        d = 8
        pde = g.advection(d, centers=[[0.5] * d, [0.8] + [0.4] * (d - 1)], stds=[[0.25] * d, [0.15] * d],
                          weights=[1.0, 0.5])
        P = g.GaussianUnits(2, d, widths="diagonal")
        th0 = be.asarray([0.9, 0.4] + [1 / 0.3] * d + [1 / 0.2] * d + [0.45] * d + [0.75] + [0.45] * (d - 1))
        samp = g.AdaptiveParticles(100) if sampler == "adaptive" else g.UniformSampler(-1, 3, 200)
        res = g.solve(pde, P, th0, 1.0, 1e-2, sampler=samp, seed=0)
        # exact L2 error from Gaussian overlap integrals (no sampling)
        c, w, b = (be.to_numpy(v).tolist() for v in P.unpack(res.theta[-1, :]))
        shift = [a * pde.info["shift"](1.0) for a in pde.info["velocity"]]

        def ov(a1, v1, m1, a2, v2, m2):
            out = a1 * a2
            for p, q, r, s in zip(v1, v2, m1, m2, strict=True):
                out *= math.sqrt(2 * math.pi * p * q / (p + q)) * math.exp(-0.5 * (r - s) ** 2 / (p + q))
            return out

        A = [(ci, [1 / x**2 for x in wi], bi) for ci, wi, bi in zip(c, w, b, strict=True)]
        E = [(a, [x**2 for x in s], [mm + sh for mm, sh in zip(m, shift, strict=True)])
             for a, s, m in zip(pde.info["weights"], pde.info["stds"], pde.info["centers"], strict=True)]
        uu = sum(ov(*p, *q) for p in A for q in A)
        ee = sum(ov(*p, *q) for p in E for q in E)
        ue = sum(ov(*p, *q) for p in A for q in E)
        return math.sqrt(max(uu - 2 * ue + ee, 0.0) / ee)

    track_relative_l2_error_t1.unit = "relative L2"
