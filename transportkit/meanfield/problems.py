r"""Problems with known answers for mean-field training (Rotskoff & Vanden-Eijnden, "Trainability and accuracy
of artificial neural networks: an interacting particle system approach", CPAM 2022, arXiv:1805.00915).

- :class:`DataProblem`: a target sampled on a data set ``(X, y)``; loss and field are averages over the data
  (or over a random batch, for SGD). :func:`teacher_student` (teacher of the same form as the student),
  :func:`three_spin` (the continuous 3-spin energy on the sphere), :func:`quadratic_teacher_student` and
  :func:`three_layer` (a fixed random first layer) build one.
- :class:`GaussianTeacherStudent`: Gaussian units and Gaussian data :math:`\nu = N(0, I_d)`, for which
  :math:`F`, :math:`K`, the loss and the velocities are **exact** Gaussian integrals (no sampling error):

  .. math::

      k(a, b) = E_\nu[\varphi(x;a)\varphi(x;b)] = (1 + 2/s^2)^{-d/2}
      \exp\Big(-\frac{|a-b|^2}{4s^2} - \frac{|a+b|^2}{4(s^2+2)}\Big),\quad
      \nabla_a k = k\Big(-\frac{a-b}{2s^2} - \frac{a+b}{2(s^2+2)}\Big).

A problem exposes ``field(c, W, batch=None) -> FieldEval`` (loss, local potential, velocities), ``loss(c, W)``,
``init_particles(n, rng)`` and ``sphere_radius`` (``None``, or the radius of the sphere the unit parameters
live on: the dynamics then projects velocities on the tangent space and retracts).
"""

from __future__ import annotations

import math
from typing import Any

from .._backend import Backend, get_backend, resolve_backend
from .._typing import Array
from .._validation import as_count
from ..random import SEED_DEPRECATED, resolve_rng
from .network import FieldEval, Particles, mc_field
from .units import Gaussian, Quadratic, Unit, get_unit

__all__ = [
    "DataProblem",
    "GaussianTeacherStudent",
    "Problem",
    "gaussian_teacher_student",
    "quadratic_population_error",
    "quadratic_teacher_student",
    "sphere_uniform",
    "teacher_student",
    "three_layer",
    "three_spin",
]


def sphere_uniform(n: int, d: int, radius: float, gen: Any) -> Array:
    """``n`` points uniform on the sphere of radius ``radius`` in :math:`\\mathbb{R}^d` (normalized Gaussians)."""
    xp = gen.backend.xp
    g = gen.normal((n, d))
    return radius * g / xp.sqrt(xp.sum(g * g, axis=1, keepdims=True))


class Problem:
    """Base class of training problems for the particle dynamics."""

    unit: Unit
    backend: Backend
    d: int
    train_amplitudes: bool = True
    sphere_radius: float | None = None
    #: number of data points (``None`` for exact problems: no SGD batches)
    n_data: int | None = None
    c_scale: float = 1.0
    w_scale: float = 1.0

    @property
    def p(self) -> int:
        return self.unit.n_params(self.d)

    def field(self, c: Any, W: Any, batch: Any = None) -> FieldEval:
        raise NotImplementedError

    def loss(self, c: Any, W: Any) -> Any:
        """The loss :math:`\\ell = \\frac12 E|f - f_n|^2` of the particles (a 0-d array)."""
        return self.field(c, W).loss

    def init_particles(self, n: int, rng: Any = None, *, seed: Any = SEED_DEPRECATED) -> Particles:
        """i.i.d. initial particles: :math:`c_i\\sim N(0, c_{scale}^2)` (or 1 when amplitudes are not trained),
        :math:`w_i \\sim N(0, w_{scale}^2 I)`, or uniform on the sphere when ``sphere_radius`` is set. ``n`` is an
        integer ``>= 1``; ``rng`` as in SciPy's SPEC 7 (``seed=`` its deprecated alias)."""
        n = as_count("n", n)
        gen = resolve_rng(rng, self.backend, seed=seed)
        xp = self.backend.xp
        if self.sphere_radius is not None:
            W = sphere_uniform(n, self.p, self.sphere_radius, gen)
        else:
            W = gen.normal((n, self.p), scale=self.w_scale)
        c = gen.normal((n,), scale=self.c_scale) if self.train_amplitudes else xp.ones(
            (n,), dtype=self.backend.dtype, device=self.backend.device)
        return Particles(c, W, backend=self.backend)


class DataProblem(Problem):
    """Learn ``y = f(X)`` on a fixed data set with the shallow network of ``unit``.

    ``field(c, W, batch)`` averages over the whole data set, or over the rows ``batch`` (an integer index
    array, e.g. an SGD minibatch). ``X_test``/``y_test`` (optional) give :meth:`test_loss`.
    """

    def __init__(self, unit: str | Unit, X: Any, y: Any, *, train_amplitudes: bool = True,
                 sphere_radius: float | None = None, X_test: Any = None, y_test: Any = None,
                 c_scale: float = 1.0, w_scale: float = 1.0, backend: Any = None):
        be = resolve_backend(X, y, X_test, y_test, backend=backend)
        self.backend = be
        self.unit = get_unit(unit)
        self.X, self.y = be.asarray(X), be.asarray(y)
        if self.X.ndim != 2 or self.y.ndim != 1 or self.y.shape[0] != self.X.shape[0]:
            raise ValueError(f"need X of shape (N, d) and y of shape (N,), got {self.X.shape}, {self.y.shape}")
        self.X_test = None if X_test is None else be.asarray(X_test)
        self.y_test = None if y_test is None else be.asarray(y_test)
        self.d = int(self.X.shape[1])
        self.n_data = int(self.X.shape[0])
        self.train_amplitudes = bool(train_amplitudes)
        self.sphere_radius = None if sphere_radius is None else float(sphere_radius)
        self.c_scale, self.w_scale = float(c_scale), float(w_scale)

    def field(self, c: Any, W: Any, batch: Any = None) -> FieldEval:
        xp = self.backend.xp
        X, y = self.X, self.y
        if batch is not None:
            X, y = xp.take(X, batch, axis=0), xp.take(y, batch, axis=0)
        return mc_field(self.unit, c, W, X, y, xp, self.train_amplitudes)

    def predict(self, c: Any, W: Any, X: Any) -> Any:
        """:math:`f_n(X)`."""
        return self.unit.features(X, W, self.backend.xp) @ c / c.shape[0]

    def test_loss(self, c: Any, W: Any) -> Any:
        """:math:`\\frac12` mean squared error on the test set."""
        if self.X_test is None:
            raise ValueError("this problem has no test set")
        r = self.predict(c, W, self.X_test) - self.y_test
        return 0.5 * self.backend.xp.mean(r * r)


def _teacher_out(unit: Unit, c: Any, W: Any, X: Any, xp: Any) -> Any:
    return unit.features(X, W, xp) @ c / c.shape[0]


def teacher_student(d: int = 5, m_teacher: int = 3, n_data: int = 500, *, unit: str | Unit = "tanh",
                    n_test: int = 0, rng: Any = None, backend: Any = None,
                    seed: Any = SEED_DEPRECATED) -> DataProblem:
    """Teacher–student: ``y = (1/m*) sum_k c*_k phi(x; w*_k)`` with ``m_teacher`` units of the same form,
    inputs ``x ~ N(0, I_d)``, teacher ``c* ~ N(0, 1) + 2 sign`` and ``w* ~ N(0, I/d)`` (students start from
    ``c ~ N(0, 1)``, ``w ~ N(0, I/d)``). The student of width
    ``n >= m_teacher`` can reach zero loss. Teacher parameters: ``problem.teacher`` (a :class:`Particles`)."""
    d, m_teacher, n_data = as_count("d", d), as_count("m_teacher", m_teacher), as_count("n_data", n_data)
    n_test = as_count("n_test", n_test, low=0)
    be = get_backend(backend)
    xp = be.xp
    u = get_unit(unit)
    gen = resolve_rng(rng, be, seed=seed)
    tc = gen.normal((m_teacher,)) + 2.0 * xp.sign(gen.normal((m_teacher,)))
    tW = gen.normal((m_teacher, u.n_params(d)), scale=1.0 / math.sqrt(d))
    X = gen.normal((n_data, d))
    Xt = gen.normal((n_test, d)) if n_test else None
    prob = DataProblem(u, X, _teacher_out(u, tc, tW, X, xp), backend=be, X_test=Xt, w_scale=1.0 / math.sqrt(d),
                       y_test=None if Xt is None else _teacher_out(u, tc, tW, Xt, xp))
    prob.teacher = Particles(tc, tW, backend=be)
    return prob


def three_spin(d: int = 10, n_data: int = 1000, *, width: float | None = None, n_test: int = 0,
               c_scale: float = 0.0, rng: Any = None, backend: Any = None,
               seed: Any = SEED_DEPRECATED) -> DataProblem:
    r"""The continuous 3-spin model on the sphere (Rotskoff & Vanden-Eijnden's test).

    Target :math:`f(x) = d^{-3/2}\sum_{p,q,r} a_{pqr}x_px_qx_r` with :math:`a_{pqr}\sim N(0,1)` i.i.d., data
    ``x`` uniform on the sphere of radius :math:`\sqrt d`, student units on the same sphere,
    :math:`\varphi(x;z) = h\exp(-|x-z|^2/2s^2) = h\,e^{-\beta}\exp(\beta\,x\cdot z/d)` with
    :math:`\beta = d/s^2`. The default :math:`s = d^{1/4}` gives :math:`\beta = \sqrt d`, so that
    :math:`\beta\,x\cdot z/d` is of order one for random pairs and the unit has a cubic part of the same
    order as its linear part; the height :math:`h = e^{\beta - \beta^2/d}` makes :math:`E[\varphi^2]\approx 1`
    (amplitudes and positions then move on the same time scale). Initial amplitudes :math:`c\sim N(0,
    c_{scale}^2)` (default 0: :math:`f_n = 0` at the start). The couplings are in ``problem.couplings``.
    """
    d, n_data, n_test = as_count("d", d, low=2), as_count("n_data", n_data), as_count("n_test", n_test, low=0)
    be = get_backend(backend)
    xp = be.xp
    gen = resolve_rng(rng, be, seed=seed)
    a = gen.normal((d, d, d))
    R = math.sqrt(d)

    def target(X):
        T = xp.tensordot(X, a, axes=([1], [0]))  # (N, d, d): sum_p x_p a_pqr
        T2 = xp.sum(T * X[:, :, None], axis=1)  # (N, d): sum_q
        return xp.sum(T2 * X, axis=1) / d**1.5

    X = sphere_uniform(n_data, d, R, gen)
    Xt = sphere_uniform(n_test, d, R, gen) if n_test else None
    s = d**0.25 if width is None else float(width)
    beta = d / s**2
    unit = Gaussian(s, height=math.exp(beta - beta**2 / d))
    prob = DataProblem(unit, X, target(X), sphere_radius=R, backend=be, X_test=Xt, c_scale=c_scale,
                       y_test=None if Xt is None else target(Xt))
    prob.couplings = a
    prob.target = target
    return prob


def quadratic_population_error(W: Array, W_teacher: Array) -> Array:
    r"""Exact :math:`E_{x\sim N(0,I)}[(x^T\Delta x)^2] = 2\|\Delta\|_F^2 + (\mathrm{tr}\,\Delta)^2` for
    :math:`\Delta = W^TW/m - W_*^TW_*/m_*` (the population mean squared error of the quadratic student)."""
    be = resolve_backend(W, W_teacher)
    xp = be.xp
    W, Wt = be.asarray(W), be.asarray(W_teacher)
    if W.ndim != 2 or Wt.ndim != 2 or W.shape[1] != Wt.shape[1]:
        raise ValueError(f"W and W_teacher need shapes (m, d) and (m*, d); got {W.shape}, {Wt.shape}")
    D = xp.matrix_transpose(W) @ W / W.shape[0] - xp.matrix_transpose(Wt) @ Wt / Wt.shape[0]
    tr = xp.sum(xp.linalg.diagonal(D))
    return 2.0 * xp.sum(D * D) + tr * tr


def quadratic_teacher_student(d: int = 8, m_teacher: int = 2, n_data: int = 400, *, rng: Any = None,
                              backend: Any = None, seed: Any = SEED_DEPRECATED) -> DataProblem:
    r"""Quadratic activations (Sarao Mannelli, Vanden-Eijnden & Zdeborová, NeurIPS 2020):
    student :math:`\hat y = \frac1m\sum_k (w_k\cdot x)^2`, teacher with
    ``m_teacher`` units :math:`w^*_k\sim N(0,I/d)` (students start from the same law), inputs
    :math:`x\sim N(0,I_d)`. Amplitudes are fixed to 1.
    ``problem.population_error(W)`` is the exact :math:`E(\hat y - y)^2` (:func:`quadratic_population_error`)."""
    d, m_teacher, n_data = as_count("d", d), as_count("m_teacher", m_teacher), as_count("n_data", n_data)
    be = get_backend(backend)
    xp = be.xp
    gen = resolve_rng(rng, be, seed=seed)
    u = Quadratic()
    tW = gen.normal((m_teacher, d), scale=1.0 / math.sqrt(d))
    X = gen.normal((n_data, d))
    ones = xp.ones((m_teacher,), dtype=be.dtype, device=be.device)
    prob = DataProblem(u, X, _teacher_out(u, ones, tW, X, xp), train_amplitudes=False,
                       w_scale=1.0 / math.sqrt(d), backend=be)
    prob.teacher = Particles(ones, tW, backend=be)
    prob.population_error = lambda W: quadratic_population_error(W, tW)
    return prob


def _gauss_pair(A: float, Za: Any, S: float, Zb: Any, xp: Any) -> tuple[Any, Any]:
    """The matrix :math:`E_{x\\sim N(0,I)}[\\exp(-\\tfrac A2|x-a_i|^2 - \\tfrac S2|x-b_j|^2)]` and ``P = 1 + A + S``."""
    P = 1.0 + A + S
    d = Za.shape[1]
    a2, b2 = xp.sum(Za * Za, axis=1)[:, None], xp.sum(Zb * Zb, axis=1)[None, :]
    ab = Za @ xp.matrix_transpose(Zb)
    q = A * a2 + S * b2 - (A * A * a2 + S * S * b2 + 2 * A * S * ab) / P
    return P ** (-d / 2) * xp.exp(-0.5 * q), P


class GaussianTeacherStudent(Problem):
    r"""Gaussian units :math:`c\exp(-|x-z|^2/2s^2)`, data :math:`\nu = N(0, I_d)`, and a teacher
    :math:`f = \frac1m\sum_k c^*_k E_{\zeta\sim N(0,\tau^2 I)}[\varphi(x; z^*_k + \zeta)]` -- a finite network
    (``tau = 0``) or an infinite-width one whose units are smeared by :math:`N(0,\tau^2 I)` (each teacher unit
    is then a Gaussian of width :math:`a^2 = s^2+\tau^2` and height :math:`(s^2/a^2)^{d/2}`). Loss, potential
    and velocities are **exact** Gaussian integrals: with :math:`P = 1 + A + S`,

    .. math::

        E_\nu[e^{-\frac A2|x-a|^2 - \frac S2|x-b|^2}] = P^{-d/2}\exp\Big(-\tfrac12\big[A|a|^2 + S|b|^2
        - |Aa + Sb|^2/P\big]\Big),\qquad \nabla_b(\cdot) = (\cdot)\,S\Big(\frac{Aa + Sb}{P} - b\Big),

    and :math:`\ell = \frac12\big[\frac1{n^2}c^Tk_{ss}c - \frac{2}{nm}c^Tk_{st}c^* + \frac1{m^2}c^{*T}k_{tt}c^*\big]`.

    ``init="teacher"`` draws the initial particles i.i.d. from the teacher's measure (uniform teacher unit
    ``k``, then :math:`c = c^*_k`, :math:`z = z^*_k + \tau\xi`): the mean-field limit then sits at the
    global minimizer (zero loss) and the loss of a width-``n`` network is pure finite-``n`` fluctuation, of
    order :math:`1/n` (the dynamical CLT of arXiv:1805.00915). ``init="normal"``: :math:`c\sim N(0, c_{scale}^2)`,
    :math:`z\sim N(0, w_{scale}^2 I)`.
    """

    def __init__(self, teacher_c: Any, teacher_z: Any, width: float = 1.0, *, tau: float = 0.0,
                 init: str = "normal", c_scale: float = 1.0, w_scale: float = 1.0, backend: Any = None):
        be = resolve_backend(teacher_c, teacher_z, backend=backend)
        self.backend = be
        self.unit = Gaussian(width)
        self.tc, self.tz = be.asarray(teacher_c), be.asarray(teacher_z)
        if self.tc.ndim != 1 or self.tz.ndim != 2 or self.tz.shape[0] != self.tc.shape[0]:
            raise ValueError(f"teacher needs c (m,) and z (m, d); got {self.tc.shape}, {self.tz.shape}")
        if not (tau >= 0 and math.isfinite(tau)):
            raise ValueError(f"tau must be >= 0, got {tau}")
        if init not in ("normal", "teacher"):
            raise ValueError(f"init must be 'normal' or 'teacher', got {init!r}")
        self.tau, self.init = float(tau), init
        self.d = int(self.tz.shape[1])
        self.c_scale, self.w_scale = float(c_scale), float(w_scale)
        self.teacher = Particles(self.tc, self.tz, backend=be)
        s2 = self.unit.width**2
        a2 = s2 + self.tau**2
        self._S, self._A = 1.0 / s2, 1.0 / a2
        self._h = (s2 / a2) ** (self.d / 2)  # height of a smeared teacher unit
        m = self.tc.shape[0]
        Ktt, _ = _gauss_pair(self._A, self.tz, self._A, self.tz, be.xp)
        self._Cf = 0.5 * self._h**2 * (self.tc @ Ktt @ self.tc) / m**2

    def kernel(self, A: Any, B: Any) -> Any:
        """:math:`k(a_i, b_j) = E_\\nu[\\varphi(x;a_i)\\varphi(x;b_j)]` of two student units, ``(len(A), len(B))``."""
        return _gauss_pair(self._S, A, self._S, B, self.backend.xp)[0]

    def target(self, X: Any) -> Any:
        """The teacher function :math:`f(x)` at the rows of ``X``."""
        xp = self.backend.xp
        X = self.backend.asarray(X)
        sq = xp.sum(X * X, axis=1)[:, None] + xp.sum(self.tz * self.tz, axis=1)[None, :]
        sq = sq - 2 * X @ xp.matrix_transpose(self.tz)
        return self._h * (xp.exp(-0.5 * self._A * sq) @ self.tc) / self.tc.shape[0]

    def field(self, c: Any, W: Any, batch: Any = None) -> FieldEval:
        xp = self.backend.xp
        n, m = c.shape[0], self.tc.shape[0]
        S, A = self._S, self._A
        Kss, Ps = _gauss_pair(S, W, S, W, xp)  # (n, n): a = z_j (other), b = z_i
        Kts, Pt = _gauss_pair(A, self.tz, S, W, xp)  # (m, n)
        ws = Kss * (c / n)[:, None]  # weight c_j/n on row j
        wt = Kts * (-self._h * self.tc / m)[:, None]
        g = xp.sum(ws, axis=0) + xp.sum(wt, axis=0)  # (n,) = E[r phi_i]
        # grad_b sum_j w_j E_j(b) = sum_j w_j E_j S((A a_j + S b)/P - b)
        grad = S * (
            (S * (xp.matrix_transpose(ws) @ W) + S * xp.sum(ws, axis=0)[:, None] * W) / Ps
            - xp.sum(ws, axis=0)[:, None] * W
            + (A * (xp.matrix_transpose(wt) @ self.tz) + S * xp.sum(wt, axis=0)[:, None] * W) / Pt
            - xp.sum(wt, axis=0)[:, None] * W
        )
        loss = 0.5 * xp.sum(c * g) / n + 0.5 * xp.sum(c * xp.sum(wt, axis=0)) / n + self._Cf
        return FieldEval(loss, c * g, -g, -c[:, None] * grad)

    def init_particles(self, n: int, rng: Any = None, *, seed: Any = SEED_DEPRECATED) -> Particles:
        n = as_count("n", n)
        gen = resolve_rng(rng, self.backend, seed=seed)
        if self.init == "normal":
            return super().init_particles(n, gen)
        xp = self.backend.xp
        m = self.tc.shape[0]
        k = gen.categorical(xp.zeros((m,), dtype=self.backend.dtype, device=self.backend.device), (int(n),))
        z = xp.take(self.tz, k, axis=0) + self.tau * gen.normal((int(n), self.d))
        return Particles(xp.take(self.tc, k, axis=0), z, backend=self.backend)


def gaussian_teacher_student(d: int = 2, m_teacher: int = 4, *, width: float = 1.0, tau: float = 0.0,
                             init: str = "normal", rng: Any = None, backend: Any = None,
                             seed: Any = SEED_DEPRECATED) -> GaussianTeacherStudent:
    """A :class:`GaussianTeacherStudent` with teacher amplitudes ``c* ~ N(0,1) + 2 sign`` and centres
    ``z* ~ N(0, I_d)`` (smeared by ``tau``; ``init`` as in the class)."""
    d, m_teacher = as_count("d", d), as_count("m_teacher", m_teacher)
    be = get_backend(backend)
    gen = resolve_rng(rng, be, seed=seed)
    tc = gen.normal((m_teacher,)) + 2.0 * be.xp.sign(gen.normal((m_teacher,)))
    return GaussianTeacherStudent(tc, gen.normal((m_teacher, d)), width, tau=tau, init=init, backend=be)


def three_layer(X: Any, y: Any, *, features: int = 256, unit: str | Unit = "tanh", first: str | Unit = "relu",
                rng: Any = None, backend: Any = None, seed: Any = SEED_DEPRECATED) -> DataProblem:
    r"""A three-layer network whose first layer is random and fixed (Chen, Vanden-Eijnden & Bruna, "A
    functional-space mean-field theory of partially-trained three-layer neural networks", arXiv:2210.16286):

    .. math::

        f_n(x) = \frac1n\sum_{i=1}^n c_i\,\sigma\big(w_i\cdot\psi(x)\big),\qquad
        \psi(x) = \frac1{\sqrt m}\big(\sigma_1(z_j\cdot x + b_j)\big)_{j=1}^m,

    with ``features`` = :math:`m` random first-layer units :math:`z_j\sim N(0, I_d/d)`, :math:`b_j\sim N(0,1)`
    (activation ``first``, fixed), and :math:`n` second-layer units :math:`(c_i, w_i)`, :math:`w_i\in\mathbb R^m`,
    trained in the mean-field scaling (the paper's neurons are functions of the random-feature index; with
    :math:`m` features they are vectors in :math:`\mathbb R^m`). Training is :func:`~.dynamics.gradient_flow` on the
    returned :class:`DataProblem`, whose inputs are the features :math:`\psi(X)` (``problem.first_layer(X)`` maps
    new inputs; ``problem.Z``, ``problem.b`` hold the first layer). The paper proves that the training loss of the
    mean-field limit decays to zero at a linear rate whatever the input dimension (the time-varying kernel stays
    positive definite).

    ``X`` ``(N, d)`` and ``y`` ``(N,)`` finite; ``features`` an integer ``>= 1``; ``rng`` as in SciPy's SPEC 7.
    """
    from .._validation import as_points

    be = resolve_backend(X, y, backend=backend)
    X = as_points("X", X, be, ndim=2)
    y = as_points("y", y, be, ndim=1)
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"y must have X.shape[0] = {X.shape[0]} entries, got shape {tuple(y.shape)}")
    m = as_count("features", features)
    first_u = get_unit(first)
    if not hasattr(first_u, "sigma"):
        raise ValueError(f"first must be a ridge activation ('relu', 'tanh', 'sigmoid', 'quadratic'), got {first!r}")
    xp = be.xp
    d = int(X.shape[1])
    gen = resolve_rng(rng, be, seed=seed)
    Z = gen.normal((m, d), scale=1.0 / math.sqrt(d))
    b = gen.normal((m,))

    def first_layer(Xn: Any) -> Any:
        Xn = be.asarray(Xn)
        return first_u.sigma(Xn @ xp.matrix_transpose(Z) + b, xp) / math.sqrt(m)

    prob = DataProblem(get_unit(unit), first_layer(X), y, backend=be, w_scale=1.0)
    prob.Z, prob.b, prob.first_layer = Z, b, first_layer
    prob.d_input = d
    return prob
