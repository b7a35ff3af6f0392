"""The method registry behind :func:`transportkit.sample`: :func:`register_method`, :data:`METHODS`, :func:`sample`,
and :func:`methods_table`, the table of methods and their options (generated from the registry; it is appended to
``sample``'s docstring and written into docs/sampling.md)."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Iterable
from typing import Any

from .._validation import as_count, check_options, close_matches
from .results import Samples

__all__ = ["METHODS", "Samples", "methods_table", "register_method", "sample"]


@dataclasses.dataclass(frozen=True)
class Method:
    """A registered sampling method: ``run(obj, n, **options) -> Samples``, the predicate ``accepts(obj)``, and the
    keyword options it takes (``None``: not stated, then not checked)."""

    name: str
    run: Callable[..., Samples]
    accepts: Callable[[Any], bool]
    #: what the method samples from, for error messages ("a field or fitted model", "a target")
    kind: str = ""
    options: tuple[str, ...] | None = None
    #: one line for the table of methods
    summary: str = ""
    #: the function whose docstring documents the options (for the table)
    doc: str = ""


#: name -> Method; other modules add methods with :func:`register_method`
METHODS: dict[str, Method] = {}
#: default method per kind of object: list of (predicate, method name), first match wins
DEFAULTS: list[tuple[Callable[[Any], bool], str]] = []


def keyword_options(*fns: Callable, exclude: Iterable[str] = ()) -> tuple[str, ...]:
    """The keyword options of ``fns`` (the union of their parameters after the first two, ``obj`` and ``n``, minus
    ``exclude``), sorted."""
    names: set[str] = set()
    for f in fns:
        params = list(inspect.signature(f).parameters.values())[2:]
        kinds = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        names.update(p.name for p in params if p.kind in kinds and not p.name.startswith("_"))
    return tuple(sorted(names - set(exclude)))


def register_method(
    name: str,
    run: Callable[..., Samples],
    accepts: Callable[[Any], bool],
    *,
    kind: str = "",
    default: bool = False,
    options: Iterable[str] | None = None,
    options_from: Callable | Iterable[Callable] | None = None,
    exclude: Iterable[str] = (),
    summary: str = "",
) -> None:
    """Register ``method=name`` for :func:`sample`; ``default=True`` makes it the default for objects it accepts.

    The options are ``options``, else the keyword parameters of ``options_from`` (one function or several: their
    union) minus ``exclude``, else those of ``run`` when it has no ``**kwargs``; unknown options are then a
    ``TypeError`` naming ``tk.sample(method=...)`` with the nearest accepted name."""
    if options is not None:
        opts: tuple[str, ...] | None = tuple(sorted(set(options) - set(exclude)))
    elif options_from is not None:
        fns = (options_from,) if callable(options_from) else tuple(options_from)
        opts = keyword_options(*fns, exclude=exclude)
    else:
        params = inspect.signature(run).parameters.values()
        var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
        opts = None if var_kw else keyword_options(run, exclude=exclude)
    src = options_from if callable(options_from) else run
    doc = f"{getattr(src, '__module__', '')}.{getattr(src, '__qualname__', '')}".strip(".")
    METHODS[name] = Method(name, run, accepts, kind, opts, summary, doc)
    if default:
        DEFAULTS.append((accepts, name))
    _refresh_docstring()


#: modules of this package that register methods when imported (a later module adds its name here)
#: modules whose import registers methods: relative to this package, or absolute (other families' samplers)
BUILTIN_MODULES: tuple[str, ...] = ("transport", "target_samplers", "transportkit.flowmaps.sample")


def _ensure_builtin() -> None:
    import importlib

    for mod in BUILTIN_MODULES:
        importlib.import_module(mod if "." in mod else f"{__package__}.{mod}")


def methods_table() -> str:
    """The registered methods as a Markdown table: method, what it samples, what it does, and its options (from
    the registry; the same text is in ``tk.sample``'s docstring and in docs/sampling.md). The built-in methods
    are registered first, so the table does not depend on which modules were imported before."""
    _ensure_builtin()
    return _table()


def _table() -> str:
    rows = ["| method | samples from | what it does | options |", "| --- | --- | --- | --- |"]
    for name in sorted(METHODS, key=lambda k: (not any(k == d for _, d in DEFAULTS), k)):
        m = METHODS[name]
        default = " (default)" if any(name == d for _, d in DEFAULTS) else ""
        opts = "any (not checked)" if m.options is None else ", ".join(f"`{o}`" for o in m.options)
        rows.append(f"| `{name}`{default} | {m.kind or '–'} | {m.summary or '–'} | {opts} |")
    return "\n".join(rows)


_SAMPLE_DOC = """Draw ``n`` samples from ``obj`` with a registered ``method``.

``obj`` is a field or a fitted/trained model (anything with ``bind``: default ``method="ode"``), or a target
density: a :class:`~transportkit.targets.Target`, an object with ``log_prob`` (and optionally ``grad_log_prob``),
a pair ``(log_prob, grad_log_prob)``, a bare log-density callable (vectorized over the leading axis; see
:func:`transportkit.targets.from_log_prob`) or a frozen ``scipy.stats`` distribution (default ``method="ais"``).
A callable written with torch or JAX operations runs on that library unless ``backend=`` is given.
Gradient-free methods (``"rwm"``, or ``kernel="rwm"`` for ``"ais"``/``"smc"``) never ask for a gradient.

Each method takes the options in the table below (generated from the registry); an unknown option is a
``TypeError`` naming ``tk.sample(method=...)`` and the nearest accepted name, an unknown ``method`` a ``ValueError``
listing the methods. ``shard=True`` (every JAX device; or an int count or a list of devices) runs on
``get_backend(backend or "jax", devices=...)``: the walker axis split across devices (docs/scaling_devices.md).
Returns :class:`~transportkit.sampling.results.Samples`.

"""


def _refresh_docstring() -> None:
    sample.__doc__ = _SAMPLE_DOC + _table() + "\n"


def _target_backend(obj: Any, options: dict[str, Any]) -> Any:
    """The library a user log-density callable is written for (detected by a probe call once its dimension is
    known), or ``None``; only for callables and pairs, never for Target objects or fields."""
    from ..targets import CallableTarget, Target, as_target

    if isinstance(obj, Target) and not isinstance(obj, CallableTarget):
        return None
    if not isinstance(obj, CallableTarget) and (
        not (callable(obj) or isinstance(obj, (tuple, list))) or hasattr(obj, "bind")
    ):
        return None
    try:
        t = as_target(obj, x0=options.get("x0"), base=options.get("base"))
    except (TypeError, ValueError):
        return None  # the sampler itself reports what is wrong with the target
    if not isinstance(t, CallableTarget) or t.dim is None:
        return None
    be = t.backend
    return None if be is None or be.is_host else be.name


def _shard(method: str, m: Method, options: dict[str, Any]) -> None:
    """``shard=``: sugar for ``backend=get_backend(backend or "jax", devices=...)`` (True: every device; an int or a
    list of devices: those), the walker axis sharded across devices (docs/scaling_devices.md)."""
    from .._backend import get_backend

    shard = options.pop("shard")
    if shard is None or shard is False:
        return
    where = f"tk.sample(method={method!r})"
    if m.options is not None and "backend" not in m.options:
        raise TypeError(f"{where} takes no backend, so shard= does not apply")
    if options.get("device") is not None:
        raise ValueError(f"{where}: give device= (one device) or shard= (the walkers across devices), not both")
    be = options.get("backend")
    options["backend"] = get_backend("jax" if be is None else be, devices="all" if shard is True else shard)


def sample(obj: Any, n: int, *, method: str | None = None, **options: Any) -> Samples:  # docstring set at import
    _ensure_builtin()
    n = as_count("n", n)
    if method is None:
        for accepts, name in DEFAULTS:
            if accepts(obj):
                method = name
                break
        else:
            raise TypeError(
                f"tk.sample() does not know how to sample from {type(obj).__name__}: give a field or model (with "
                "bind), a target (a log-density callable, an object with log_prob, a (log_prob, grad) pair, a "
                f"scipy.stats distribution) and method= one of {', '.join(sorted(METHODS))}"
            )
    if not isinstance(method, str) or method not in METHODS:
        hint = close_matches(method, METHODS) if isinstance(method, str) else ""
        raise ValueError(
            f"unknown method {method!r}{hint}; tk.sample methods: {', '.join(sorted(METHODS))} "
            "(see help(tk.sample) for each method's options)"
        )
    m = METHODS[method]
    if not m.accepts(obj):
        raise TypeError(f"method {method!r} samples from {m.kind or 'other objects'}, got {type(obj).__name__}")
    if "shard" in options:
        _shard(method, m, options)
    if m.options is not None:
        check_options(f"tk.sample(method={method!r})", options, m.options)
        if "backend" in m.options and options.get("backend") is None:
            lib = _target_backend(obj, options)
            if lib is not None:
                options["backend"] = lib
    return m.run(obj, n, **options)


_refresh_docstring()
