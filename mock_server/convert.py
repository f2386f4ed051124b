"""The one reader of settings: a mapping (YAML, `MOCK_*` variables, `serve` flags) into a frozen dataclass.

Rules: pure (no I/O). The dataclass fields are the single source: `dataclasses.fields()` and
`typing.get_type_hints()` say what each key is, `Annotated[float, Range(0, 1)]` and `OneOf(...)` bound it.
One set of rules for every source: booleans are `true/false/yes/no/on/off/1/0`, numbers are finite (a
string is parsed), a list may be written as a comma-separated string, and a structured value (a mapping,
a section, a rule list) may be written as YAML/JSON text. Every refusal is a `SettingsError` that names the
key as the user wrote it (`webhooks.max_attempts`, `MOCK_WEBHOOKS__MAX_ATTEMPTS`, `--webhooks-max-attempts`),
the value and the rule; unknown keys get a difflib "did you mean".

Hand-written, in the style of Starlette's `config.py` `_perform_cast`, rather than msgspec. Measured by
`bench/bench_settings.py` (2026-12-02, machine shared with other work, msgspec 0.23): import 11 ms here
(difflib and typing included) against 22 ms for msgspec; reading a `webhooks:` section from text 90 us
here against 36 us (2.5x, once at startup: immaterial); msgspec cannot read `re.Pattern` (rules) at
all, and its message "Expected `int`, got `str` - at `$.max_attempts`" names neither the variable nor
the flag, where this one says "MOCK_WEBHOOKS__MAX_ATTEMPTS='three' is not an integer". Keeping msgspec
would still need the labels, the did-you-mean, the YAML text and the merge rules written here, so it
would add a compiled dependency and save little code.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from mock_server.errors import SettingsError
from mock_server.wire import short

__all__ = ["OneOf", "Range", "convert", "env_mapping", "key_of", "label", "leaf_paths"]

T = TypeVar("T")
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


@dataclass(frozen=True, slots=True)
class Range:
    """`Annotated[float, Range(0, 1)]`: the number must lie in [low, high]."""

    low: float = 0.0
    high: float = math.inf


@dataclass(frozen=True, slots=True)
class OneOf:
    """`Annotated[str, OneOf(("a", "b"))]`: the value must be one of `choices`."""

    choices: tuple[str, ...]


def label(where: str, name: str | int) -> str:
    """The name of `where`'s child as the user wrote it: `a.b`, `a[0]`, `MOCK_A__B` or `--a-b`."""
    if isinstance(name, int):
        return f"{where}[{name}]"
    if where.startswith("MOCK_"):
        return f"{where}{'' if where == 'MOCK_' else '__'}{name.upper()}"
    if where.startswith("--"):
        return f"{where}{'' if where == '--' else '-'}{name.replace('_', '-')}"
    return f"{where}.{name}" if where else name


def key_of(f: dataclasses.Field[Any]) -> str:
    """The key that sets field `f` (`metadata={"key": ...}` when it differs from the attribute name)."""
    return str(f.metadata.get("key", f.name))


_HINTS: dict[type[Any], dict[str, Any]] = {}


def _hints(cls: type[Any]) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls, include_extras=True)
    return _HINTS[cls]


def _fields(cls: type[Any]) -> dict[str, dataclasses.Field[Any]]:
    return {key_of(f): f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}


def convert(cls: type[T], data: object, where: str = "", base: T | None = None) -> T:
    """Build `cls` from `data` on top of `base` (sections merge into `base`'s sections)."""
    data = _structured(data, where)
    known = _fields(cls)
    if not isinstance(data, Mapping):
        raise SettingsError(f"{where or 'config'}: expected a mapping of {', '.join(known)}, got {short(data)}")
    unknown = [str(k) for k in data if str(k).replace("-", "_") not in known]
    if unknown:
        import difflib  # only for a bad key: ~7 ms at startup otherwise

        close = difflib.get_close_matches(unknown[0].replace("-", "_"), known, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(sorted(known))}"
        raise SettingsError(f"{where or 'config'}: unknown field(s) {sorted(unknown)}; {hint}")
    changes: dict[str, Any] = {}
    for key, value in data.items():
        f = known[str(key).replace("-", "_")]
        old = getattr(base, f.name) if base is not None else None
        changes[f.name] = _field(f, _hints(cls)[f.name], value, label(where, f.name), old)
    try:
        built: T = dataclasses.replace(base, **changes) if base is not None else cls(**changes)  # type: ignore[type-var]
        return built
    except TypeError as exc:  # a field without a default is missing
        missing = [k for k, f in known.items() if k not in changes and f.default is f.default_factory]
        raise SettingsError(f"{where or 'config'}: missing field(s) {missing} ({exc})") from None


def _field(f: dataclasses.Field[Any], hint: Any, value: object, where: str, old: Any) -> Any:
    parse: Callable[[object, str], Any] | None = f.metadata.get("parse")  # a field with its own reader
    if parse is not None:
        return parse(_structured(value, where), where)
    new = cast(hint, value, where, old if dataclasses.is_dataclass(old) else None)
    if f.metadata.get("merge") and isinstance(old, Mapping) and isinstance(new, Mapping):
        return {**old, **new}
    return new


def _structured(value: object, where: str) -> object:
    """YAML/JSON text (an environment variable or a flag) for a structured value; anything else as is."""
    if not isinstance(value, str):
        return value
    import yaml  # only a text source needs it

    try:
        return yaml.safe_load(value)
    except yaml.YAMLError as exc:
        raise SettingsError(f"{where}={short(value)} is not valid YAML/JSON ({exc})") from None


def cast(hint: Any, value: object, where: str, base: Any = None) -> Any:
    """`value` as type `hint`; `base` is the current value of a section being updated."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Annotated:
        result = cast(args[0], value, where, base)
        for rule in args[1:]:
            if isinstance(rule, Range) and result is not None and not rule.low <= result <= rule.high:
                raise SettingsError(f"{where}={short(value)} is out of range [{rule.low}, {rule.high}]")
            if isinstance(rule, OneOf) and result is not None and result not in rule.choices:
                raise SettingsError(f"{where}={short(value)} is not one of {list(rule.choices)}")
        return result
    if origin in (typing.Union, types.UnionType):
        if value is None or (value == "" and type(None) in args):
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return cast(inner, value, where, base)
    if origin is typing.Literal:
        if value not in args:
            raise SettingsError(f"{where}={short(value)} is not one of {list(args)}")
        return value
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return value if isinstance(value, hint) else convert(hint, value, where, base)  # an instance (Python) as is
    if origin is tuple:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, list | tuple):
            raise SettingsError(f"{where}={short(value)} is not a list (or a comma-separated string)")
        return tuple(cast(args[0], item, label(where, i)) for i, item in enumerate(value))
    if origin in (Mapping, dict):
        value = _structured(value, where)
        if not isinstance(value, Mapping):
            raise SettingsError(f"{where}: expected a mapping of name -> value, got {short(value)}")
        return {str(k): cast(args[1], v, label(where, str(k))) for k, v in value.items()}
    return _scalar(hint, value, where)


def _scalar(hint: Any, value: object, where: str) -> Any:
    if hint is Any:
        return value
    if hint is bool:
        text = str(value).strip().lower() if isinstance(value, str | int) else None
        if isinstance(value, bool) or text in _TRUE + _FALSE:
            return value if isinstance(value, bool) else text in _TRUE
        raise SettingsError(f"{where}={short(value)} is not a boolean (true or false)")
    if hint is int:
        try:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError(value)
            return int(value)  # type: ignore[call-overload]
        except (TypeError, ValueError, OverflowError):
            raise SettingsError(f"{where}={short(value)} is not an integer") from None
    if hint is float:
        try:
            if isinstance(value, bool):
                raise ValueError(value)
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise SettingsError(f"{where}={short(value)} is not a number") from None
        except OverflowError:  # an int too large for a float
            number = math.inf
        if not math.isfinite(number):
            raise SettingsError(f"{where}={short(value)} is out of range (finite numbers only)")
        return number
    if hint is str:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise SettingsError(f"{where}={short(value)} is not a string")
        return str(value)  # a YAML scalar such as `code: 500` is read as its text
    if hint is re.Pattern or typing.get_origin(hint) is re.Pattern:
        try:
            return re.compile(value)
        except (re.error, TypeError) as exc:
            raise SettingsError(f"{where}={short(value)} is not a valid regular expression: {exc}") from None
    raise SettingsError(f"{where}: a {hint!r} cannot be read from settings")  # pragma: no cover - a new field type


def leaf_paths(cls: type[Any], prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """Every settable key of `cls` with its type, sections (dataclass-typed fields with a default) opened."""
    out: list[tuple[tuple[str, ...], Any]] = []
    for f in dataclasses.fields(cls):
        if f.metadata.get("internal"):
            continue
        hint = _hints(cls)[f.name]
        if dataclasses.is_dataclass(hint) and isinstance(hint, type) and f.default_factory is not dataclasses.MISSING:
            out += leaf_paths(hint, (*prefix, key_of(f)))
        else:
            out.append(((*prefix, key_of(f)), hint))
    return out


def env_mapping(cls: type[Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """The `MOCK_<FIELD>` / `MOCK_<SECTION>__<FIELD>` variables that name a field of `cls`, nested, as text.

    Variables whose first part is no field (`MOCK_CONFIG`) are not settings and are left alone; an unknown
    name inside a known section reaches `convert`, which refuses it with a "did you mean".
    """
    top = {key_of(f) for f in dataclasses.fields(cls)}
    out: dict[str, Any] = {}
    for name, raw in sorted(environ.items()):
        parts = name.removeprefix("MOCK_").lower().split("__")
        if not name.startswith("MOCK_") or parts[0] not in top or raw == "":
            continue
        node = out
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            node = child if isinstance(child, dict) else node
        node[parts[-1]] = raw
    return out
