"""Load ``groupwatch.toml`` into :class:`~console.engine.settings.Settings`.

Tables map onto the dataclasses in ``settings.py`` by field name and type, so a
new setting needs no code here. Every problem is reported as one line,
``<file>:<line>: <what is wrong>``, naming the key; tomllib gives no positions
for keys, so :func:`locate_keys` scans the text for them.

Besides the dataclass fields, the file has three special parts::

    operator = "ana"                 # top-level strings
    rules = "No ads, please."

    [groups."telegram:-1001234"]     # per-group rules -> Settings.group_rules
    rules = "This group is for buyers only."

    [[connector]]                    # -> Settings.connectors
    type = "telegram"                # connectors.registry.TYPES (required)
    name = "shop-bot"                # default: the type; must be unique
    token_env = "SHOP_BOT_TOKEN"     # anything else -> ConnectorSettings.options

Parsing checks only the shape of a ``[[connector]]`` table; each connector
checks its own options (and reads its secrets) in :func:`build_connectors`,
which startup and ``groupwatch config check`` call, reporting in the same
``<file>:<line>:`` form.

Values of keys whose name looks secret (token, password, ...) never appear in
error messages.
"""
from __future__ import annotations

import dataclasses
import math
import re
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, Mapping

from connectors import registry
from connectors.contract import BadOptions, Connector
from connectors.secrets import scrub
from console.engine.config_checks import check_values
from console.engine.config_locate import locate_keys
from console.engine.config_problems import (ConfigError, Context, KeyPath, dotted, hints_of, is_secret, one_line,
                                            quote_key, show, suggest, table_name)
from console.engine.settings import ConnectorSettings, Settings

__all__ = ["CONNECTOR_TYPES", "ConfigError", "build_connectors", "load_settings", "locate_keys", "parse_settings"]

CONNECTOR_TYPES = registry.TYPES


# --- loading --------------------------------------------------------------------------

def load_settings(path: Path, *, must_exist: bool = False) -> Settings:
    """Settings from the TOML file at ``path``; defaults (demo mode) if there is none."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        if must_exist:
            raise ConfigError(f"{path}: no such file") from None
        return Settings()
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a config file") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror or e}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise ConfigError(f"{path}:{line}: not valid UTF-8 (byte 0x{raw[e.start]:02x}); "
                          "save the file as UTF-8") from None
    if text.startswith("\ufeff"):  # a BOM from some Windows editors; TOML does not allow it
        text = text[1:]
    return parse_settings(text, str(path))


def parse_settings(text: str, source: str = "<config>") -> Settings:
    """Settings from TOML ``text``; ``source`` names it in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(_syntax_error(e, text, source)) from None
    except (ValueError, RecursionError) as e:
        # tomllib's limits, which it does not report as TOMLDecodeError: an integer of more digits than
        # Python converts (ValueError), arrays or inline tables nested past the recursion limit.
        raise ConfigError(_limit_error(e, text, source)) from None
    ctx = Context(source, locate_keys(text))
    settings = _settings_from(data, ctx)
    ctx.raise_if_any()
    return settings


def _syntax_error(e: tomllib.TOMLDecodeError, text: str, source: str) -> str:
    msg = str(e)
    m = re.search(r"\s*\(at line (\d+), column (\d+)\)\s*$", msg)
    if m:
        what, line = msg[:m.start()], int(m.group(1))
        lines = text.splitlines()
        statement = lines[line - 1].split("=", 1)[0] if line <= len(lines) else ""
        if is_secret((statement,)):  # tomllib quotes the offending character
            what = re.sub(r"character (['\"]).*\1$", "character (hidden)", what)
        return f"{source}:{line}: invalid TOML: {what} (column {m.group(2)})"
    m = re.search(r"\s*\(at end of document\)\s*$", msg)
    if m:
        last = text.count("\n") + (0 if text.endswith("\n") else 1)
        return f"{source}:{max(last, 1)}: invalid TOML: {msg[:m.start()]} (at end of file)"
    return f"{source}: invalid TOML: {msg}"


def _limit_error(e: Exception, text: str, source: str) -> str:
    if isinstance(e, RecursionError):
        depth, at = 0, 0
        for m in re.finditer(r"[\[\]{}]", text):  # a best guess at the line: strings are not skipped
            depth += 1 if m.group() in "[{" else -1
            if depth > 100:
                at = m.start()
                break
        what = "arrays or inline tables nested too deeply"
    else:
        m = re.search(r"[0-9_]{1000,}", text)
        at = m.start() if m else 0
        what = "a number too long to be read"
    return f"{source}:{text.count(chr(10), 0, at) + 1}: invalid TOML: {what}"



# --- mapping onto the dataclasses -----------------------------------------------------------


_KEY_HINTS = {
    ("group_rules",): " (write per-group rules as [groups.\"<group id>\"] with rules = \"...\")",
    ("connectors",): " (did you mean [[connector]]?)",
}


def _unknown_key(ctx: Context, path: KeyPath, key: str, value: Any, choices: list[str]) -> None:
    hint = _KEY_HINTS.get(path + (key,)) or suggest(key, choices)
    if isinstance(value, dict):
        ctx.error(path + (key,), f"unknown table {table_name(path + (key,))}{hint}")
    elif path:
        ctx.error(path + (key,), f"unknown key {quote_key(key)} in {table_name(path)}{hint}")
    else:
        ctx.error(path + (key,), f"unknown top-level key {quote_key(key)}{hint}")


_MISSING = object()
_INT64 = (-2**63, 2**63 - 1)


def _convert(tp: Any, value: Any, path: KeyPath, ctx: Context) -> Any:
    """``value`` checked against type ``tp``; _MISSING (after reporting) if it does not fit."""
    name = dotted(path)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):  # e.g. float | None: TOML has no null
        arms = [a for a in args if a is not type(None)]
        if len(arms) == 1:
            return _convert(arms[0], value, path, ctx)
        return value
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            ctx.error(path, f"{name} must be a table, got {show(value, path)}")
            return _MISSING
        return _build(tp, value, path, ctx)
    if tp is bool:
        if not isinstance(value, bool):
            ctx.error(path, f"{name} must be true or false, got {show(value, path)}")
            return _MISSING
        return value
    if tp in (int, float) and isinstance(value, int) and not isinstance(value, bool) \
            and not _INT64[0] <= value <= _INT64[1]:
        # TOML integers are 64-bit, but tomllib reads any length: a longer one would overflow a float
        # conversion here or a C size (a deque's maxlen) later.
        ctx.error(path, f"{name} is out of range (TOML integers are 64-bit), got {show(value, path)}")
        return _MISSING
    if tp is int:
        if not isinstance(value, int) or isinstance(value, bool):
            ctx.error(path, f"{name} must be an integer, got {show(value, path)}")
            return _MISSING
        return value
    if tp is float:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            ctx.error(path, f"{name} must be a number, got {show(value, path)}")
            return _MISSING
        if not math.isfinite(value):
            ctx.error(path, f"{name} must be a finite number, got {show(value, path)}")
            return _MISSING
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            ctx.error(path, f"{name} must be a string, got {show(value, path)}")
            return _MISSING
        return value
    if origin is list:
        if not isinstance(value, list):
            ctx.error(path, f"{name} must be an array, got {show(value, path)}")
            return _MISSING
        out = []
        for i, item in enumerate(value):
            item = _convert(args[0] if args else Any, item, path + (i,), ctx)
            if item is _MISSING:
                return _MISSING
            out.append(item)
        return out
    if origin is dict:
        if not isinstance(value, dict):
            ctx.error(path, f"{name} must be a table, got {show(value, path)}")
            return _MISSING
        out_d = {}
        for k, item in value.items():
            item = _convert(args[1] if len(args) > 1 else Any, item, path + (k,), ctx)
            if item is _MISSING:
                return _MISSING
            out_d[k] = item
        return out_d
    return value  # Any / object: taken as is


def _build(cls: type, data: dict, path: KeyPath, ctx: Context, skip: tuple[str, ...] = ()) -> Any:
    hints = hints_of(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.name not in skip]
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in names:
            _unknown_key(ctx, path, key, value, names)
            continue
        converted = _convert(hints[key], value, path + (key,), ctx)
        if converted is not _MISSING:
            kwargs[key] = converted
    obj = cls(**kwargs)
    check_values(obj, path, ctx, set(kwargs), data)
    return obj


# --- the top level and the special tables ------------------------------------------------------

_TOP_SPECIAL = ("groups", "connector", "route")


def _settings_from(data: dict, ctx: Context) -> Settings:
    plain = {k: v for k, v in data.items() if k not in _TOP_SPECIAL}
    skip = ("group_rules", "connectors", "routes")
    hints = hints_of(Settings)
    names = [f.name for f in dataclasses.fields(Settings) if f.name not in skip]
    kwargs: dict[str, Any] = {}
    for key, value in plain.items():
        if key not in names:
            _unknown_key(ctx, (), key, value, names + list(_TOP_SPECIAL))
            continue
        converted = _convert(hints[key], value, (key,), ctx)
        if converted is not _MISSING:
            kwargs[key] = converted
    settings = Settings(**kwargs)
    check_values(settings, (), ctx, set(kwargs), plain)
    if "groups" in data:
        settings.group_rules = _group_rules(data["groups"], ctx)
    if "connector" in data:
        settings.connectors = _connectors(data["connector"], ctx)
    if "route" in data:
        from console.oncall.routes import parse_routes

        names = {c.name for c in settings.connectors} if "connector" in data else {"demo"}
        settings.routes = parse_routes(data["route"], ctx, names)
    return settings


def _group_rules(value: Any, ctx: Context) -> dict[str, str]:
    if not isinstance(value, dict):
        shown = show(value, ("groups",))
        ctx.error(("groups",), f"groups must be a table of [groups.\"<group id>\"] tables, got {shown}")
        return {}
    out: dict[str, str] = {}
    for gid, table in value.items():
        p: KeyPath = ("groups", gid)
        if not gid.strip():
            ctx.error(p, "a [groups.\"<group id>\"] table has an empty group id")
            continue
        if not isinstance(table, dict):
            ctx.error(p, f"{dotted(p)} must be a table with rules = \"...\", got {show(table, p)}")
            continue
        for key, v in table.items():
            if key != "rules":
                _unknown_key(ctx, p, key, v, ["rules"])
        if "rules" in table:
            rules = _convert(str, table["rules"], p + ("rules",), ctx)
            if rules is not _MISSING:
                out[gid] = rules
    return out


def _connectors(value: Any, ctx: Context) -> list[ConnectorSettings]:
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        ctx.error(("connector",), "connector must be an array of tables: write each one as [[connector]]")
        return []
    out: list[ConnectorSettings] = []
    seen: dict[str, int] = {}
    for i, table in enumerate(value):
        p: KeyPath = ("connector", i)
        label = table_name(p)
        ctype = table.get("type")
        if ctype is None:
            ctx.error(p, f"{label} has no type; add type = \"...\" (one of {', '.join(CONNECTOR_TYPES)})")
            continue
        if not isinstance(ctype, str):
            ctx.error(p + ("type",), f"{label} type must be a string, got {show(ctype, p + ('type',))}")
            continue
        if ctype not in CONNECTOR_TYPES:
            ctx.error(p + ("type",), f"{label} has unknown type {show(ctype, p + ('type',))} "
                                     f"(expected one of {', '.join(CONNECTOR_TYPES)})"
                                     f"{suggest(ctype, list(CONNECTOR_TYPES))}")
            continue
        name = table.get("name", ctype)
        if not isinstance(name, str) or not name.strip():
            ctx.error(p + ("name",), f"{label} name must be a non-empty string, got {show(name, p + ('name',))}")
            continue
        if name in seen:
            first = ctx.line_of(("connector", seen[name]))
            also = f" (also used by [[connector]] #{seen[name] + 1}" + (f" at line {first})" if first else ")")
            fix = "give each one a distinct name" if "name" in table else "add name = \"...\" to tell them apart"
            ctx.error(p + ("name",), f"{label}: duplicate connector name '{name}'{also}; {fix}")
            continue
        seen[name] = i
        options = {k: v for k, v in table.items() if k not in ("type", "name")}
        lines = {k: line for k in options if (line := ctx.lines.get(p + (k,))) is not None}
        table_line = ctx.line_of(p)
        if table_line is not None:
            lines[""] = table_line
        out.append(ConnectorSettings(type=ctype, name=name, options=options, source=ctx.source, lines=lines))
    return out


# --- building the connectors: each checks its own options ------------------------------------

def build_connectors(tables: list[ConnectorSettings], environ: Mapping[str, str] | None = None) -> list[Connector]:
    """The connectors the ``[[connector]]`` tables describe, options checked and secrets read; no network I/O.

    Every bad table is reported (ConfigError, first problem in ``str(e)``) as
    ``<file>:<line>: [[connector]] '<name>': <what is wrong>``, the line being
    that of the key the connector names, else that of the table.
    """
    built: list[Connector] = []
    problems: list[tuple[int, int, str]] = []
    for cs in tables:
        try:
            built.append(registry.build(cs, environ=environ))
        except ValueError as e:  # BadOptions; or a value a connector failed to convert, still the table's fault
            text = str(e) if isinstance(e, BadOptions) else f"invalid option value ({type(e).__name__}: {e})"
            line, message = connector_problem(cs, text)
            problems.append((line or 0, len(problems), message))
    if problems:
        ordered = [m for _, _, m in sorted(problems)]
        raise ConfigError(ordered[0], problems=ordered)
    return built


def connector_problem(cs: ConnectorSettings, message: str) -> tuple[int | None, str]:
    """``message`` about table ``cs`` as a config error line, and the line it points at."""
    message = one_line(scrub(message))
    if not message.startswith("[[connector]]"):
        message = f"[[connector]] '{cs.name}': {message}"
    line, first = cs.lines.get(""), len(message)
    for key, key_line in cs.lines.items():  # the key the message names, the first named if several
        if key:
            m = re.search(rf"(?<![\w.-]){re.escape(key)}(?![\w-])", message)
            if m and m.start() < first:
                line, first = key_line, m.start()
    where = f"{cs.source}:{line}" if cs.source and line is not None else (cs.source or "")
    return line, f"{where}: {message}" if where else message
