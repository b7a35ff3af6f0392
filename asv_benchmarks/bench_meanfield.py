"""Mean-field particle dynamics (transportkit.meanfield): time per gradient step and per birth–death step
vs the width n and the dimension d, per backend; whole compiled runs (time per step, first-call time);
track_* record accuracy measurements (issue 8)."""

from __future__ import annotations

from ._common import BACKENDS, backend_or_skip, block


class GradientStep:
    """One gradient-flow step (field + Euler update, compiled on JAX) on the 3-spin problem, 1000 data points."""

    params = (BACKENDS, [64, 256, 1024], [5, 25])
    param_names = ["backend", "n", "d"]

    def setup(self, backend, n, d):
        import transportkit.meanfield as mf

        be = backend_or_skip(backend)
        self.mf = mf
        self.P = mf.three_spin(d=d, n_data=1000, c_scale=1.0, rng=0, backend=be)
        self.p = self.P.init_particles(n, rng=1)
        block(mf.train(self.P, self.p, dt=0.1, steps=2, jit=True, record_every=2).loss)  # warm-up / compile

    def time_gradient_steps_x10(self, backend, n, d):
        block(self.mf.train(self.P, self.p, dt=0.1, steps=10, jit=True, record_every=10).loss)

    def time_birth_death_steps_x10(self, backend, n, d):
        block(self.mf.train(self.P, self.p, dt=0.1, steps=10, jit=True, record_every=10, birth_death=1.0).loss)


class TrainRun:
    """Whole training runs of 200 steps (3-spin, d = 5, n = 256, 1000 data): one compiled program per run on JAX
    (:func:`transportkit._loops.scan_steps`, birth–death and minibatch draws inside), Python loops elsewhere.
    ``time_run_200_steps`` reuses the compiled program (same problem); ``track_first_call_seconds`` trains a
    fresh problem (compilation included); ``track_ms_per_step`` is the warm time per step."""

    params = (BACKENDS, ["gradient-flow", "birth-death", "sgd"])
    param_names = ["backend", "kind"]
    timeout = 600
    n_steps = 200

    def _problem(self, be):
        import transportkit.meanfield as mf

        return mf.three_spin(d=5, n_data=1000, c_scale=1.0, rng=0, backend=be)

    def _run(self, P, kind):
        import transportkit.meanfield as mf

        kw = {"birth-death": {"birth_death": 1.0}, "sgd": {"batch_size": 100}}.get(kind, {})
        return mf.train(P, 256, dt=0.1, steps=self.n_steps, rng=1, record_every=10, jit=True, **kw).loss

    def setup(self, backend, kind):
        self.be = backend_or_skip(backend)
        self.P = self._problem(self.be)
        block(self._run(self.P, kind))  # warm-up (compilation)

    def time_run_200_steps(self, backend, kind):
        block(self._run(self.P, kind))

    def track_first_call_seconds(self, backend, kind):
        import time

        t0 = time.perf_counter()
        block(self._run(self._problem(self.be), kind))
        return time.perf_counter() - t0

    track_first_call_seconds.unit = "seconds"

    def track_ms_per_step(self, backend, kind):
        import time

        t0 = time.perf_counter()
        block(self._run(self.P, kind))
        return 1e3 * (time.perf_counter() - t0) / self.n_steps

    track_ms_per_step.unit = "ms"


class ExactGaussianStep:
    """Gradient flow with exact (closed-form) fields: the n x n kernel dominates."""

    params = (BACKENDS, [64, 256, 1024])
    param_names = ["backend", "n"]

    def setup(self, backend, n):
        import transportkit.meanfield as mf

        be = backend_or_skip(backend)
        self.mf = mf
        self.P = mf.gaussian_teacher_student(d=5, m_teacher=3, tau=1.0, init="teacher", rng=0, backend=be)
        self.p = self.P.init_particles(n, rng=1)
        block(mf.train(self.P, self.p, dt=0.5, steps=2, jit=True, record_every=2).loss)

    def time_gradient_steps_x10(self, backend, n):
        block(self.mf.train(self.P, self.p, dt=0.5, steps=10, jit=True, record_every=10).loss)


class Accuracy:
    """Small versions of the issue's measurements (numpy); the full ones: benchmarks/meanfield_report.py."""

    timeout = 600

    def track_teacher_student_log10_reduction(self):
        import numpy as np

        import transportkit.meanfield as mf

        P = mf.teacher_student(d=2, m_teacher=2, n_data=200, unit="relu", rng=0)
        loss = mf.gradient_flow(P, 32, dt=0.2, steps=600, rng=1, record_every=600).loss
        return float(np.log10(loss[0] / loss[-1]))

    def track_birth_death_speedup_3spin(self):
        import numpy as np

        import transportkit.meanfield as mf

        ratios = []
        for seed in range(3):
            P = mf.three_spin(d=6, n_data=1000, rng=seed)
            p0 = P.init_particles(256, rng=1000 + seed)
            gf = mf.gradient_flow(P, p0, dt=0.5, steps=150, rng=seed).loss
            bd = mf.gradient_flow(P, p0, dt=0.5, steps=150, rng=seed, birth_death=1.0).loss
            level = gf[60]
            ratios.append(mf.steps_to_reach(gf, level) / max(mf.steps_to_reach(bd, level), 1))
        return float(np.mean(ratios))

    def track_scaling_exponent(self):
        import transportkit.meanfield as mf

        P = mf.gaussian_teacher_student(d=2, m_teacher=1, tau=1.0, init="teacher", rng=0)
        res = mf.scaling_exponent(P, [32, 64, 128, 256, 512, 1024], seeds=range(2), dt=0.5, steps=200)
        return res.fit.a

    def track_limited_sample_exponent(self):
        """Exponent of the squared mean error of generation from n samples (claim: 1 ± 0.1; Cui, Krzakala,
        Vanden-Eijnden & Zdeborová, arXiv:2310.03575). Sized from the error formula: d = 64, 12 seeds, n = 8..128
        give a standard error of about 0.024 on the exponent."""
        import transportkit.meanfield as mf

        r = mf.limited_sample_error((8, 16, 32, 64, 128), d=64, seeds=12, n_gen=256, steps=12, rng=0)
        return r.fit.a

    def track_ebm_gda_variance_bias_m1200(self):
        """Fixed-point error of the Gibbs variance of ebm_gda on a 1-D Gaussian (quadratic units, m = 1200 particles,
        ULA-corrected target; mean over 4 seeds): the O(1/m) bias of GDA with finitely many particles."""
        import math

        import numpy as np

        import transportkit.meanfield as mf

        x = np.linspace(-8, 8, 2001)[:, None]
        out = []
        for seed in range(4):
            D = np.random.default_rng(seed).normal(0.7, 0.8, size=(300, 1))
            r = mf.ebm_gda(D, n=8, particles=1200, unit="quadratic", steps=1500, dt=0.05, dt_x=0.05, record_every=10,
                           rng=seed + 100, init_scale=0.5)
            vs = []
            for k in range(r.times.shape[0] // 2, r.times.shape[0]):
                E = np.asarray(r.energy(x, k))
                p = np.exp(-(E - E.min()))
                p /= p.sum()
                mu = (p * x[:, 0]).sum()
                vs.append((p * (x[:, 0] - mu) ** 2).sum())
            ve = D.var()
            out.append(np.mean(vs) - (ve + math.sqrt(ve**2 - 2 * ve * 0.05)) / 2)
        return float(np.mean(out))

    def track_ebm_lazy_minus_active_kl_d16(self):
        """Test KL(p*||p) of the lazy (random-features, F2) minus the feature-regime ("active", F1) maximum-likelihood
        EBM of the same width 32 on a planted ReLU neuron on S^15 (400 samples; mean over 4 seeds): positive is the
        claim of Domingo-Enrich, Bietti, Vanden-Eijnden & Bruna (arXiv:2104.07531). The table over d:
        ``benchmarks/meanfield_ebm.py regimes``."""
        import numpy as np

        import transportkit.meanfield as mf

        diffs = []
        for seed in range(4):
            t = mf.planted_ebm(16, rng=seed)
            D = t.sample(400, rng=seed + 10)
            kl = {}
            for regime, dt, steps, l2 in (("feature", 0.5, 300, 1e-2), ("lazy", 5.0, 900, 1e-4)):
                f = mf.ebm_mle(D, 32, regime=regime, steps=steps, dt=dt, l2=l2, base_samples=1000,
                               record_every=steps, rng=seed + 20)
                kl[regime] = t.kl(f, samples=40000, rng=seed + 30).value
            diffs.append(kl["lazy"] - kl["feature"])
        return float(np.mean(diffs))
