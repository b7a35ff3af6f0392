"""Capabilities declared once on each public algorithm, and read by the tests and the docs.

Each public algorithm states, with the decorator :func:`declare`, what it needs from a backend beyond the Array
API standard (``value_and_grad``, ``jit``, ``sparse_solve``, ``sparse_factor``), what it uses when present, and on
which backends it is known not to work or is not tested, with a reason. That one declaration is read

- by the test suite: a test marked ``@algorithm_test(func)`` runs on every backend the declaration admits
  and is skipped (or marked ``xfail``) elsewhere with the declared reason (``tests/conftest.py``);
- by the documentation: ``python -m transportkit._support_table --write`` writes the backend x algorithm support
  table into ``README.md`` and ``docs/backends.md``, and a test fails when those tables are not current.

The decorator returns the function itself (no wrapper, no cost per call); the algorithm still raises
:class:`~transportkit.CapabilityError` at its entry when a needed capability is missing. The design follows SciPy's
``xp_capabilities`` (``scipy/_lib/_array_api.py``, SciPy 1.15, 2025), which likewise drives SciPy's array-API test
skips and its documentation tables from one declaration per function.

This module sits on the ground floor (``docs/architecture.md``): it imports only :mod:`transportkit._adapter`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from ._adapter import OPTIONAL_CAPABILITIES

__all__ = [
    "Declaration",
    "algorithm_requirements",
    "algorithm_test",
    "declaration",
    "declarations",
    "declare",
    "declared_requirements",
    "requires",
]

F = TypeVar("F", bound=Callable[..., Any])

#: Where the declaration is stored on the function object.
ATTRIBUTE = "__transportkit_capabilities__"


@dataclass(frozen=True)
class Declaration:
    """What one public algorithm needs from a backend.

    Attributes
    ----------
    key : str
        ``module.qualname`` of the declared function (the registry key).
    title : str
        The public spelling shown in the support table, e.g. ``"tk.tpt.reactive_flux"``.
    needs : tuple of str
        Capabilities without which the algorithm cannot run (it raises ``CapabilityError``).
    uses : tuple of str
        Capabilities used when present (faster, or more general), with a fallback where absent.
    skip_backends : tuple of (str, str)
        ``(backend, reason)``: backends where the algorithm is known not to work or is not tested.
    xfail_backends : tuple of (str, str)
        ``(backend, reason)``: backends where it runs but is known to fail its tests (a bug to fix).
    note : str
        One line for the table's notes column.
    """

    key: str
    title: str
    needs: tuple[str, ...] = ()
    uses: tuple[str, ...] = ()
    skip_backends: tuple[tuple[str, str], ...] = ()
    xfail_backends: tuple[tuple[str, str], ...] = ()
    note: str = ""

    def skip_reason(self, backend: str, has: Callable[[str], bool]) -> str | None:
        """Why the algorithm does not run on ``backend`` (``None`` when it does).

        ``has(capability)`` says whether the backend supplies a capability: the tests pass the capability of the
        backend at hand, the support table the adapter's declared ``provides``.
        """
        for name, reason in self.skip_backends:
            if name == backend:
                return f"{self.title} skips {backend}: {reason}"
        missing = [c for c in self.needs if not has(c)]
        if missing:
            return f"{self.title} needs {', '.join(missing)}, which {backend} lacks"
        return None

    def xfail_reason(self, backend: str) -> str | None:
        """The declared reason the algorithm is expected to fail on ``backend`` (``None`` when it is not)."""
        return next((f"{self.title} on {backend}: {r}" for n, r in self.xfail_backends if n == backend), None)


_REGISTRY: dict[str, Declaration] = {}


def _capability_names(caps: Iterable[str], what: str) -> tuple[str, ...]:
    if isinstance(caps, str):
        caps = (caps,)
    caps = tuple(caps)
    unknown = sorted(set(caps) - set(OPTIONAL_CAPABILITIES))
    if unknown:
        raise ValueError(f"{what}: unknown capabilities {unknown}; known: {sorted(OPTIONAL_CAPABILITIES)}")
    return caps


def _reasons(backends: Mapping[str, str] | None, what: str) -> tuple[tuple[str, str], ...]:
    if backends is None:
        return ()
    if not isinstance(backends, Mapping):
        raise ValueError(f"{what} must map backend name -> reason, got {backends!r}")
    for name, reason in backends.items():
        if not isinstance(name, str) or not isinstance(reason, str) or not reason.strip():
            raise ValueError(f"{what}: every backend needs a non-empty reason, got {name!r}: {reason!r}")
    return tuple(sorted(backends.items()))


def declare(
    *,
    needs: Iterable[str] = (),
    uses: Iterable[str] = (),
    skip_backends: Mapping[str, str] | None = None,
    xfail_backends: Mapping[str, str] | None = None,
    name: str | None = None,
    note: str = "",
) -> Callable[[F], F]:
    """Declare what a public algorithm needs from a backend (one decorator line on the function).

    Parameters
    ----------
    needs : iterable of str
        Capabilities the algorithm cannot run without (from :data:`transportkit._adapter.OPTIONAL_CAPABILITIES`).
    uses : iterable of str
        Capabilities it uses when the backend has them and does without otherwise.
    skip_backends : dict, optional
        ``{backend name: reason}`` for backends where it is known not to work or is not tested.
    xfail_backends : dict, optional
        ``{backend name: reason}`` for backends where its tests are known to fail.
    name : str, optional
        Public spelling for the support table; default ``tk.<public module>.<function>``.
    note : str
        One line for the table's notes column.

    Returns
    -------
    callable
        A decorator that records the declaration and returns the function unchanged.

    Raises
    ------
    ValueError
        Unknown capability names, or a backend given without a reason.
    """
    decl_needs = _capability_names(needs, "needs")
    decl_uses = _capability_names(uses, "uses")
    skips = _reasons(skip_backends, "skip_backends")
    xfails = _reasons(xfail_backends, "xfail_backends")
    if name is not None and not isinstance(name, str):
        raise ValueError(f"name must be a string, got {name!r}")

    def mark(fn: F) -> F:
        key = f"{fn.__module__}.{fn.__qualname__}"
        title = name or _public_title(fn)
        decl = Declaration(key, title, decl_needs, decl_uses, skips, xfails, note)
        setattr(fn, ATTRIBUTE, decl)
        _REGISTRY[key] = decl
        return fn

    return mark


def _public_title(fn: Callable) -> str:
    """``tk.<package>.<name>``: the module path without private parts (``transportkit.tpt.flux`` -> ``tk.tpt``)."""
    parts = fn.__module__.split(".")
    public = [p for p in parts[1:] if not p.startswith("_")]
    return ".".join(["tk", *public[:1], fn.__name__])


def requires(*capabilities: str) -> Callable[[F], F]:
    """Shorthand for :func:`declare` with ``needs=capabilities`` (the older spelling, kept working)."""
    return declare(needs=capabilities)


def declaration(obj: Any) -> Declaration | None:
    """The :class:`Declaration` of a declared function (``None`` for an undeclared one)."""
    return getattr(obj, ATTRIBUTE, None)


def declarations() -> dict[str, Declaration]:
    """Every declaration made so far, ``{module.qualname: Declaration}``, sorted by table title.

    Only modules already imported have declared; ``transportkit._support_table.load_all()`` imports them all.
    """
    return dict(sorted(_REGISTRY.items(), key=lambda kv: kv[1].title))


def declared_requirements(obj: Callable) -> tuple[str, ...]:
    """The capabilities a public algorithm declared it needs (empty when undeclared)."""
    decl = declaration(obj)
    return () if decl is None else decl.needs


def algorithm_requirements() -> dict[str, tuple[str, ...]]:
    """All declared needs: ``{module.qualname: capabilities}`` (see :func:`declarations` for the full records)."""
    return {k: d.needs for k, d in _REGISTRY.items()}


def algorithm_test(*funcs: Callable) -> Any:
    """The pytest mark ``algorithm(*funcs)``: the ``backend`` fixture of ``tests/conftest.py`` then runs the test only
    on the backends the functions' declarations admit (in the spirit of SciPy's ``make_xp_test_case``).

    Use it as ``@algorithm_test(tk.interpolants.train_velocity)``. (Spelled ``pytest.mark.algorithm(f)`` with one
    function, pytest would take ``f`` for the test it decorates; ``pytest.mark.algorithm.with_args(f)`` works too.)

    Raises
    ------
    ValueError
        No function given, or one without a declaration.
    """
    if not funcs:
        raise ValueError("algorithm_test needs at least one declared function")
    undeclared = [f for f in funcs if declaration(f) is None]
    if undeclared:
        raise ValueError(f"no capability declaration on {undeclared!r}; decorate them with declare(...)")
    import pytest

    return pytest.mark.algorithm.with_args(*funcs)
