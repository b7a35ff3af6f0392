r"""The :class:`Interpolant`: :math:`x_t = \alpha(t) x_0 + \beta(t) x_1 + \gamma(t) z`, with its time derivative
:math:`\dot R = \alpha' x_0 + \beta' x_1 + \gamma' z` (Albergo, Boffi & Vanden-Eijnden 2023,
arXiv:2303.08797, Definition 2.1)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._backend import Backend, get_backend, host_backend, resolve_backend
from ..errors import CapabilityError
from .schedules import Schedule, gamma_schedule, make_schedule

__all__ = ["Coefficients", "Interpolant"]

#: absolute tolerance of the boundary-condition checks
BC_TOL = 1e-10


class Coefficients:
    """The schedule's values at one time (arrays of the backend; 0-d for scalar ``t``, else like ``t``)."""

    __slots__ = ("a", "aad", "ad", "b", "bbd", "bd", "g", "ggd")

    def __init__(self, a, b, g, ad, bd, aad, bbd, ggd):
        self.a, self.b, self.g, self.ad, self.bd = a, b, g, ad, bd
        self.aad, self.bbd, self.ggd = aad, bbd, ggd


def _user_fn(f: Callable | None) -> Callable | None:
    return None if f is None else (lambda t, xp: f(t))


class Interpolant:
    r"""A stochastic interpolant :math:`x_t = \alpha(t) x_0 + \beta(t) x_1 + \gamma(t) z`, :math:`z\sim N(0,I)`.

    Built-in schedules (one-sided ones take ``gamma=0`` only; :func:`~transportkit.interpolants.schedules.schedule_doc`
    gives each one's formula and paper):

    - ``"linear"``: :math:`1-t`, :math:`t`;
    - ``"trig"`` (alias ``"gvp"``): :math:`\cos\frac{\pi t}2`, :math:`\sin\frac{\pi t}2`;
    - ``"vp"``: :math:`\sqrt{1-t^2}`, :math:`t` (variance preserving, algebraic; arXiv:2501.00988);
    - ``"cosine"``: the improved-DDPM cosine schedule, :math:`\alpha = \sqrt{1-\beta^2}` (arXiv:2102.09672);
    - ``"ddpm"``: the linear-:math:`\beta` VP-SDE in SI time (SiT's "VP"; arXiv:2006.11239, 2401.08740),
      approximate at t = 0;
    - ``"ve"``: :math:`\sigma_{\min}(\sigma_{\max}/\sigma_{\min})^{1-t}`, :math:`1` (arXiv:2011.13456), approximate
      at both ends.

    ``Interpolant("linear")`` with
    ``gamma=0 | "sqrt" | "quadratic" | "sin2" | callable`` and amplitude ``a`` (:math:`\gamma = \sqrt{a t(1-t)}`,
    :math:`a t(1-t)`, :math:`a\sin^2\pi t`). With :math:`\gamma = 0` and a Gaussian base the interpolant is
    one-sided: :math:`x_t = \alpha z + \beta x_1`.

    Custom schedules: ``Interpolant(alpha=f, beta=g, gamma=h, alpha_dot=..., beta_dot=..., gamma_dot=...,
    gamma_gamma_dot=...)`` with callables of an array ``t``. Derivatives left out are obtained by the backend's
    ``value_and_grad`` when the interpolant is used (torch, jax); elsewhere that is a :class:`CapabilityError`.

    The boundary conditions :math:`\alpha(0)=\beta(1)=1`, :math:`\alpha(1)=\beta(0)=0`, :math:`\gamma(0)=\gamma(1)=0`,
    :math:`\gamma\ge 0` and finite values on :math:`[0, 1]` are checked at construction on a grid of 101 times;
    a violation is a ``ValueError`` naming the condition and the time. ``approximate=True`` (set by ``"ve"`` and
    ``"ddpm"``) skips the end-point equalities; sampling then draws the exact law at the start time where the field
    knows it (exact fields), never the base.
    """

    def __init__(
        self,
        name: str | None = None,
        *,
        alpha: Callable | None = None,
        beta: Callable | None = None,
        gamma: Any = 0,
        alpha_dot: Callable | None = None,
        beta_dot: Callable | None = None,
        gamma_dot: Callable | None = None,
        gamma_gamma_dot: Callable | None = None,
        a: float = 1.0,
        approximate: bool | None = None,
        validate: bool = True,
        **options: Any,
    ):
        if name is not None:
            if alpha is not None or beta is not None:
                raise ValueError("give either a schedule name or alpha=/beta= callables, not both")
            if callable(gamma):
                raise ValueError("a named schedule takes a named gamma (0, 'sqrt', 'quadratic', 'sin2')")
            sched = make_schedule(name, gamma, a, **options)
            if approximate is not None:
                sched = Schedule(**{**sched.__dict__, "approximate": approximate})
        else:
            if alpha is None or beta is None:
                raise ValueError("a custom interpolant needs both alpha= and beta= (callables of t)")
            if options:
                raise ValueError(f"unknown options {sorted(options)}")
            if callable(gamma):
                g, gd, ggd_, gz = _user_fn(gamma), _user_fn(gamma_dot), _user_fn(gamma_gamma_dot), False
            else:
                g, gd, ggd_, gz, _ = gamma_schedule(gamma, a)
                if gamma_dot is not None or gamma_gamma_dot is not None:
                    raise ValueError("gamma_dot/gamma_gamma_dot are only for a callable gamma")
            sched = _custom_schedule(alpha, beta, alpha_dot, beta_dot, g, gd, ggd_, gz, bool(approximate))
        self.schedule: Schedule = sched
        self.name = sched.name
        if validate:
            self.validate()

    @classmethod
    def from_schedule(cls, schedule: Schedule, *, validate: bool = True) -> Interpolant:
        """An interpolant from a :class:`~transportkit.interpolants.schedules.Schedule` (used by the designed
        schedules: :func:`~transportkit.interpolants.optimal_gaussian_schedule` and friends)."""
        if not isinstance(schedule, Schedule):
            raise TypeError(f"schedule must be a Schedule, got {type(schedule).__name__}")
        self = cls.__new__(cls)
        self.schedule = schedule
        self.name = schedule.name
        if validate:
            self.validate()
        return self

    # ------------------------------------------------------------------------------------------ properties
    @property
    def one_sided(self) -> bool:
        """``True`` when :math:`\\gamma \\equiv 0` (with a Gaussian base: :math:`x_t = \\alpha z + \\beta x_1`)."""
        return self.schedule.gamma_is_zero

    def __repr__(self) -> str:
        return f"Interpolant({self.name!r})"

    # ------------------------------------------------------------------------------------------ evaluation
    def coefficients(self, t: Any, xp: Any, be: Backend | None = None) -> Coefficients:
        """All coefficients at time(s) ``t`` (an array of namespace ``xp``); internal, no backend resolution."""
        s = self.schedule
        return Coefficients(
            s.alpha(t, xp),
            s.beta(t, xp),
            s.gamma(t, xp),
            s.alpha_dot(t, xp),
            s.beta_dot(t, xp),
            s.alpha_alpha_dot(t, xp),
            s.beta_beta_dot(t, xp),
            s.gamma_gamma_dot(t, xp),
        )

    def _eval(self, fn: Callable, t: Any, backend: Any) -> Any:
        be = resolve_backend(t, backend=backend)
        return fn(be.asarray(t), be.xp)

    def alpha(self, t: Any, *, backend: Any = None) -> Any:
        """:math:`\\alpha(t)`"""
        return self._eval(self.schedule.alpha, t, backend)

    def beta(self, t: Any, *, backend: Any = None) -> Any:
        """:math:`\\beta(t)`"""
        return self._eval(self.schedule.beta, t, backend)

    def gamma(self, t: Any, *, backend: Any = None) -> Any:
        """:math:`\\gamma(t)`"""
        return self._eval(self.schedule.gamma, t, backend)

    def alpha_dot(self, t: Any, *, backend: Any = None) -> Any:
        """:math:`\\alpha'(t)`"""
        return self._eval(self.schedule.alpha_dot, t, backend)

    def beta_dot(self, t: Any, *, backend: Any = None) -> Any:
        """:math:`\\beta'(t)`"""
        return self._eval(self.schedule.beta_dot, t, backend)

    def gamma_dot(self, t: Any, *, backend: Any = None) -> Any:
        """:math:`\\gamma'(t)` (infinite at the ends for :math:`\\gamma = \\sqrt{a t(1-t)}`)"""
        return self._eval(self.schedule.gamma_dot, t, backend)

    def gamma_gamma_dot(self, t: Any, *, backend: Any = None) -> Any:
        """:math:`\\gamma(t)\\gamma'(t)` in closed form (finite where :math:`\\gamma'` is not)"""
        return self._eval(self.schedule.gamma_gamma_dot, t, backend)

    def alpha_alpha_dot(self, t: Any, *, backend: Any = None) -> Any:
        """:math:`\\alpha(t)\\alpha'(t)` in closed form"""
        return self._eval(self.schedule.alpha_alpha_dot, t, backend)

    def beta_beta_dot(self, t: Any, *, backend: Any = None) -> Any:
        """:math:`\\beta(t)\\beta'(t)` in closed form"""
        return self._eval(self.schedule.beta_beta_dot, t, backend)

    def interpolate(self, t: Any, x0: Any, x1: Any, z: Any = None, *, backend: Any = None) -> Any:
        r""":math:`x_t = \alpha(t) x_0 + \beta(t) x_1 + \gamma(t) z`; ``t`` scalar or shape ``(n,)``."""
        be = resolve_backend(t, x0, x1, z, backend=backend)
        xp = be.xp
        x0, x1 = be.asarray(x0), be.asarray(x1)
        c = self.coefficients(_col(be.asarray(t)), xp)
        out = c.a * x0 + c.b * x1
        if z is not None and not self.one_sided:
            out = out + c.g * be.asarray(z)
        return out

    def time_derivative(self, t: Any, x0: Any, x1: Any, z: Any = None, *, backend: Any = None) -> Any:
        r""":math:`\dot R = \alpha'(t) x_0 + \beta'(t) x_1 + \gamma'(t) z` (the regression target of the velocity)."""
        be = resolve_backend(t, x0, x1, z, backend=backend)
        xp = be.xp
        x0, x1 = be.asarray(x0), be.asarray(x1)
        c = self.coefficients(_col(be.asarray(t)), xp)
        out = c.ad * x0 + c.bd * x1
        if z is not None and not self.one_sided:
            out = out + self.schedule.gamma_dot(_col(be.asarray(t)), xp) * be.asarray(z)
        return out

    # ------------------------------------------------------------------------------------------ validation
    def _grid_values(self, n: int) -> dict[str, Any]:
        """alpha, beta, gamma on ``n`` grid times as host arrays, evaluated with the first namespace that the
        schedule's callables accept (NumPy, then the other installed backends: a user callable may be written with
        one library's operations); ``ValueError`` when none does, so that validation is never skipped."""
        from .. import backends

        errors = []

        def names():  # NumPy first; the other backends are imported only when NumPy cannot evaluate the schedule
            yield "numpy"
            yield from (b for b in backends.available() if b != "numpy")

        for name in names():
            be = get_backend(name)
            if be.dtype != be.xp.float64 and name != "numpy":
                be = get_backend(name, dtype="float32")
            xp = be.xp
            t = xp.linspace(0.0, 1.0, n, dtype=be.dtype, device=be.device)
            try:
                out = {k: getattr(self.schedule, k)(t, xp) for k in ("alpha", "beta", "gamma")}
                return {k: be.to_numpy(xp.asarray(v, dtype=be.dtype) * xp.ones_like(t)).astype("float64")
                        for k, v in out.items()}
            except (CapabilityError, TypeError, AttributeError, RuntimeError) as exc:
                errors.append(f"{name}: {type(exc).__name__}: {exc}")
        raise ValueError(f"schedule {self.name!r} could not be evaluated on any backend to check it: {errors}")

    def validate(self, n: int = 101) -> None:
        """Check the boundary conditions and finiteness on ``n`` grid times; ``ValueError`` names the failure."""
        vals = self._grid_values(n)
        be = host_backend()
        xp = be.xp
        t = xp.linspace(0.0, 1.0, n, dtype=xp.float64)
        tv = be.to_numpy(t)
        for k, v in vals.items():
            bad = ~xp.isfinite(v)
            if bool(xp.any(bad)):
                i = int(xp.argmax(xp.astype(bad, xp.int8)))
                raise ValueError(f"schedule {self.name!r}: {k}(t) is not finite at t={tv[i]:.4g} ({v[i]})")
        if not self.schedule.approximate:
            checks = [("alpha", 0, 1.0), ("alpha", -1, 0.0), ("beta", 0, 0.0), ("beta", -1, 1.0)]
            for k, i, want in checks:
                if abs(float(vals[k][i]) - want) > BC_TOL:
                    raise ValueError(
                        f"schedule {self.name!r} violates the boundary condition {k}({tv[i]:g}) = {want:g}: "
                        f"{k}({tv[i]:g}) = {float(vals[k][i]):.6g}"
                    )
        g = vals["gamma"]
        for i in (0, -1):
            if abs(float(g[i])) > BC_TOL:
                raise ValueError(
                    f"schedule {self.name!r} violates the boundary condition gamma({tv[i]:g}) = 0: "
                    f"gamma({tv[i]:g}) = {float(g[i]):.6g}"
                )
        neg = g < -BC_TOL
        if bool(xp.any(neg)):
            i = int(xp.argmax(xp.astype(neg, xp.int8)))
            raise ValueError(f"schedule {self.name!r}: gamma(t) >= 0 fails at t={tv[i]:.4g} (gamma = {g[i]:.6g})")
        if not self.one_sided:
            inner = g[1:-1] <= 0
            if bool(xp.any(inner)):
                i = int(xp.argmax(xp.astype(inner, xp.int8))) + 1
                raise ValueError(
                    f"schedule {self.name!r}: gamma(t) > 0 on (0, 1) fails at t={tv[i]:.4g} (gamma = {g[i]:.6g}); "
                    "use gamma=0 for a pure flow"
                )


def _col(t: Any) -> Any:
    """``t`` of shape (n,) -> (n, 1), so coefficients broadcast against points (n, d); scalars stay."""
    return t[:, None] if t.ndim == 1 else t


# ------------------------------------------------------------------------------------------ custom schedules
def _autodiff(f: Callable) -> Callable:
    """The derivative of an elementwise function of ``t`` by the backend's ``value_and_grad``."""

    def df(t: Any, xp: Any) -> Any:
        be = resolve_backend(t)
        vg = be.value_and_grad
        if vg is None:
            raise CapabilityError(
                f"derivative of a custom schedule needs autodiff (torch, jax) on backend {be.name!r}; "
                "pass alpha_dot=/beta_dot=/gamma_dot= explicitly"
            )
        return vg(lambda s: xp.sum(f(s, xp)))(t)[1]

    return df


def _custom_schedule(alpha, beta, alpha_dot, beta_dot, g, gd, ggd, gz, approximate) -> Schedule:
    fa, fb = _user_fn(alpha), _user_fn(beta)
    fad = _user_fn(alpha_dot) or _autodiff(fa)
    fbd = _user_fn(beta_dot) or _autodiff(fb)
    if not gz and gd is None:
        gd = _autodiff(g)
    if ggd is None:
        gg, gdd = g, gd

        def ggd(t, xp):
            return gg(t, xp) * gdd(t, xp)

    return Schedule(
        "custom",
        alpha=fa,
        beta=fb,
        gamma=g,
        alpha_dot=fad,
        beta_dot=fbd,
        gamma_dot=gd,
        alpha_alpha_dot=lambda t, xp: fa(t, xp) * fad(t, xp),
        beta_beta_dot=lambda t, xp: fb(t, xp) * fbd(t, xp),
        gamma_gamma_dot=ggd,
        gamma_is_zero=gz,
        approximate=approximate,
    )
