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

import bisect
import dataclasses
import difflib
import json
import math
import re
import tomllib
import types
import typing
from functools import cache
from pathlib import Path
from typing import Any, Mapping

from connectors import registry
from connectors.contract import BadOptions, Connector
from connectors.secrets import scrub
from console.engine.text import visible
from console.engine.settings import (
    ActionSettings,
    ActivitySettings,
    AUTO_ACTIONS,
    AdSettings,
    AlertSettings,
    ChurnSettings,
    ConnectorSettings,
    DemoSettings,
    EngineSettings,
    FloodSettings,
    OperatorSettings,
    ROLES,
    Settings,
    SilentGroupSettings,
    SilentMemberSettings,
    StoreSettings,
)

__all__ = ["CONNECTOR_TYPES", "ConfigError", "build_connectors", "load_settings", "locate_keys", "parse_settings"]

CONNECTOR_TYPES = registry.TYPES
_SECRET_WORDS = ("token", "secret", "password", "passwd", "passphrase", "credential", "api_key", "apikey",
                 "private_key", "cookie")
_HIDDEN = "(value hidden)"

Path_ = tuple[Any, ...]  # a key path: str segments, int indices for arrays


class ConfigError(Exception):
    """A config problem. ``str(e)`` is one line: ``<path>:<line>: <what is wrong>``.

    ``problems`` lists every problem found (sorted by line), ``str(e)`` is the first.
    """

    def __init__(self, message: str, *, problems: list[str] | None = None) -> None:
        message = _one_line(message)
        super().__init__(message)
        self.problems: list[str] = [_one_line(p) for p in problems] if problems else [message]


def _one_line(text: str) -> str:
    # Messages quote keys and values from the file and the CLI prints them as they are: control,
    # bidi and zero-width characters become visible tags (no escape sequence reaches the terminal),
    # and no secret read so far is shown, even from a value it was pasted into by mistake.
    return visible(scrub(" ".join(str(text).split())))


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
    ctx = _Context(source, locate_keys(text))
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
        if _is_secret((statement,)):  # tomllib quotes the offending character
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


# --- finding the line of a key ------------------------------------------------------------

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SCALAR = re.compile(r"[^,\]}\n#]*")
_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "\\": "\\", "e": "\x1b"}
_ESCAPE_RE = re.compile(r"\\(u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|x[0-9A-Fa-f]{2}|.)", re.S)


def _unescape(s: str) -> str:
    def repl(m: re.Match[str]) -> str:
        e = m.group(1)
        if e[0] in "uUx" and len(e) > 1:
            return chr(int(e[1:], 16))
        return _ESCAPES.get(e, e)

    return _ESCAPE_RE.sub(repl, s)


class _Locator:
    """A lenient scanner over (already valid) TOML recording the line of every key.

    Paths are tuples of key segments; ``[[array]]`` elements and array values add
    an int index: ``("connector", 1, "name")``, ``("detectors", "ad", "regexes", 2)``.
    """

    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.newlines = [m.start() for m in re.finditer("\n", text)]
        self.lines: dict[Path_, int] = {}
        self.arrays: dict[Path_, int] = {}

    def line(self, pos: int) -> int:
        return bisect.bisect_left(self.newlines, pos) + 1

    def record(self, path: Path_, line: int) -> None:
        for k in range(1, len(path) + 1):
            self.lines.setdefault(path[:k], line)

    def run(self) -> dict[Path_, int]:
        s = self.s
        table: Path_ = ()
        while True:
            self.skip(newlines=True)
            if self.i >= len(s):
                break
            line = self.line(self.i)
            if s.startswith("[[", self.i):
                self.i += 2
                keys = self.keys()
                self.i = s.index("]]", self.i) + 2
                table = self.resolve(keys[:-1], line) + (keys[-1],)
                count = self.arrays.get(table, 0) + 1
                self.arrays[table] = count
                table += (count - 1,)
                self.record(table, line)
                self.lines[table] = line
            elif s[self.i] == "[":
                self.i += 1
                keys = self.keys()
                self.i = s.index("]", self.i) + 1
                table = self.resolve(keys, line)
                self.record(table, line)
            else:
                keys = self.keys()
                self.record(table + tuple(keys), line)
                self.i = s.index("=", self.i) + 1
                self.skip()
                self.value(table + tuple(keys))
        return self.lines

    def resolve(self, keys: list[str], line: int) -> Path_:
        path: Path_ = ()
        for key in keys:
            path += (key,)
            if path in self.arrays:  # [a.b] inside the latest [[a]]
                path += (self.arrays[path] - 1,)
            self.lines.setdefault(path, line)
        return path

    def skip(self, newlines: bool = False) -> None:
        s, n = self.s, len(self.s)
        while self.i < n:
            c = s[self.i]
            if c in " \t" or (newlines and c in "\r\n"):
                self.i += 1
            elif c == "#":
                end = s.find("\n", self.i)
                self.i = n if end < 0 else end
            else:
                break

    def keys(self) -> list[str]:
        out: list[str] = []
        while True:
            self.skip()
            out.append(self.key())
            self.skip()
            if self.s.startswith(".", self.i):
                self.i += 1
                continue
            return out

    def key(self) -> str:
        s = self.s
        if s[self.i] == '"':
            end = self.basic_end(self.i + 1)
            text = _unescape(s[self.i + 1:end])
            self.i = end + 1
            return text
        if s[self.i] == "'":
            end = s.index("'", self.i + 1)
            text = s[self.i + 1:end]
            self.i = end + 1
            return text
        m = _BARE_KEY.match(s, self.i)
        if not m:
            raise ValueError("not a key")
        self.i = m.end()
        return m.group()

    def basic_end(self, j: int) -> int:
        s = self.s
        while s[j] != '"':
            j += 2 if s[j] == "\\" else 1
        return j

    def multiline_end(self, j: int, quote: str, escapes: bool) -> int:
        s = self.s
        while True:
            if escapes and s[j] == "\\":
                j += 2
            elif s.startswith(quote * 3, j):
                while j < len(s) and s[j] == quote:  # up to two quotes may end the content
                    j += 1
                return j
            else:
                j += 1

    def value(self, path: Path_) -> None:
        s = self.s
        c = s[self.i]
        if s.startswith('"""', self.i):
            self.i = self.multiline_end(self.i + 3, '"', True)
        elif s.startswith("'''", self.i):
            self.i = self.multiline_end(self.i + 3, "'", False)
        elif c == '"':
            self.i = self.basic_end(self.i + 1) + 1
        elif c == "'":
            self.i = s.index("'", self.i + 1) + 1
        elif c == "[":
            self.i += 1
            k = 0
            while True:
                self.skip(newlines=True)
                if s[self.i] == "]":
                    self.i += 1
                    return
                self.lines.setdefault(path + (k,), self.line(self.i))
                self.value(path + (k,))
                k += 1
                self.skip(newlines=True)
                if s[self.i] == ",":
                    self.i += 1
        elif c == "{":
            self.i += 1
            while True:
                self.skip(newlines=True)
                if s[self.i] == "}":
                    self.i += 1
                    return
                line = self.line(self.i)
                keys = self.keys()
                self.record(path + tuple(keys), line)
                self.i = s.index("=", self.i) + 1
                self.skip()
                self.value(path + tuple(keys))
                self.skip(newlines=True)
                if s[self.i] == ",":
                    self.i += 1
        else:  # number, bool, date-time (which may contain a space)
            m = _SCALAR.match(s, self.i)
            self.i = m.end() if m else self.i + 1


def locate_keys(text: str) -> dict[Path_, int]:
    """Map each key path in TOML ``text`` to the 1-based line that defines it (best effort)."""
    loc = _Locator(text)
    try:
        return loc.run()
    except (ValueError, IndexError, RecursionError):
        return loc.lines  # whatever was found before the scanner got lost


# --- mapping onto the dataclasses -----------------------------------------------------------

class _Context:
    def __init__(self, source: str, lines: dict[Path_, int]) -> None:
        self.source = source
        self.lines = lines
        self.problems: list[tuple[int, int, str]] = []

    def line_of(self, path: Path_) -> int | None:
        for k in range(len(path), 0, -1):
            line = self.lines.get(tuple(path[:k]))
            if line is not None:
                return line
        return None

    def error(self, path: Path_, message: str) -> None:
        line = self.line_of(path)
        where = f"{self.source}:{line}" if line is not None else self.source
        self.problems.append((line or 0, len(self.problems), f"{where}: {_one_line(message)}"))

    def raise_if_any(self) -> None:
        if self.problems:
            ordered = [p for _, _, p in sorted(self.problems)]
            raise ConfigError(ordered[0], problems=ordered)


def _is_secret(path: Path_) -> bool:
    return any(isinstance(seg, str) and any(w in seg.lower() for w in _SECRET_WORDS) for seg in path)


def _dotted(path: Path_) -> str:
    out = ""
    for seg in path:
        if isinstance(seg, int):
            out += f"[{seg}]"
        else:
            part = seg if _BARE_KEY.fullmatch(seg) else json.dumps(seg, ensure_ascii=False)
            out += f".{part}" if out else part
    return out


def _quote_key(key: str) -> str:
    return f"'{key}'" if _BARE_KEY.fullmatch(key) else json.dumps(key, ensure_ascii=False)


def _table(path: Path_) -> str:
    if path and path[0] == "connector" and len(path) > 1 and isinstance(path[1], int):
        return f"[[connector]] #{path[1] + 1}"
    return f"[{_dotted(path)}]"


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return "a date/time"


def _show(value: Any, path: Path_) -> str:
    """How an offending value is quoted in a message (never for secret keys)."""
    if _is_secret(path):
        return f"{_kind(value)} {_HIDDEN}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        shown = repr(value)
        return shown if len(shown) <= 24 else shown[:20] + "…"  # a 400-digit integer, cut
    if isinstance(value, str):
        shown = json.dumps(value if len(value) <= 40 else value[:40] + "…", ensure_ascii=False)
        return shown
    return _kind(value)


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if not close:
        close = [c for c in choices if c.lower() == word.lower().replace("-", "_")]
    return f" (did you mean '{close[0]}'?)" if close else ""


_KEY_HINTS = {
    ("group_rules",): " (write per-group rules as [groups.\"<group id>\"] with rules = \"...\")",
    ("connectors",): " (did you mean [[connector]]?)",
}


def _unknown_key(ctx: _Context, path: Path_, key: str, value: Any, choices: list[str]) -> None:
    hint = _KEY_HINTS.get(path + (key,)) or _suggest(key, choices)
    if isinstance(value, dict):
        ctx.error(path + (key,), f"unknown table {_table(path + (key,))}{hint}")
    elif path:
        ctx.error(path + (key,), f"unknown key {_quote_key(key)} in {_table(path)}{hint}")
    else:
        ctx.error(path + (key,), f"unknown top-level key {_quote_key(key)}{hint}")


_MISSING = object()


def _convert(tp: Any, value: Any, path: Path_, ctx: _Context) -> Any:
    """``value`` checked against type ``tp``; _MISSING (after reporting) if it does not fit."""
    name = _dotted(path)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):  # e.g. float | None: TOML has no null
        arms = [a for a in args if a is not type(None)]
        if len(arms) == 1:
            return _convert(arms[0], value, path, ctx)
        return value
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            ctx.error(path, f"{name} must be a table, got {_show(value, path)}")
            return _MISSING
        return _build(tp, value, path, ctx)
    if tp is bool:
        if not isinstance(value, bool):
            ctx.error(path, f"{name} must be true or false, got {_show(value, path)}")
            return _MISSING
        return value
    if tp in (int, float) and isinstance(value, int) and not isinstance(value, bool) \
            and not _INT64[0] <= value <= _INT64[1]:
        # TOML integers are 64-bit, but tomllib reads any length: a longer one would overflow a float
        # conversion here or a C size (a deque's maxlen) later.
        ctx.error(path, f"{name} is out of range (TOML integers are 64-bit), got {_show(value, path)}")
        return _MISSING
    if tp is int:
        if not isinstance(value, int) or isinstance(value, bool):
            ctx.error(path, f"{name} must be an integer, got {_show(value, path)}")
            return _MISSING
        return value
    if tp is float:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            ctx.error(path, f"{name} must be a number, got {_show(value, path)}")
            return _MISSING
        if not math.isfinite(value):
            ctx.error(path, f"{name} must be a finite number, got {_show(value, path)}")
            return _MISSING
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            ctx.error(path, f"{name} must be a string, got {_show(value, path)}")
            return _MISSING
        return value
    if origin is list:
        if not isinstance(value, list):
            ctx.error(path, f"{name} must be an array, got {_show(value, path)}")
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
            ctx.error(path, f"{name} must be a table, got {_show(value, path)}")
            return _MISSING
        out_d = {}
        for k, item in value.items():
            item = _convert(args[1] if len(args) > 1 else Any, item, path + (k,), ctx)
            if item is _MISSING:
                return _MISSING
            out_d[k] = item
        return out_d
    return value  # Any / object: taken as is


def _build(cls: type, data: dict, path: Path_, ctx: _Context, skip: tuple[str, ...] = ()) -> Any:
    hints = _hints(cls)
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
    _check_values(obj, path, ctx, set(kwargs), data)
    return obj


# --- value checks -----------------------------------------------------------------------

_RATIO, _POSITIVE, _NON_NEGATIVE, _ANY = "ratio", "positive", "non-negative", "any"
_LIMITS: dict[tuple[type, str], Any] = {
    (AdSettings, "threshold"): _RATIO,
    (AdSettings, "high_threshold"): _RATIO,
    (AdSettings, "newcomer_boost"): _RATIO,
    (AdSettings, "keyword_weight"): _RATIO,
    (AdSettings, "regex_weight"): _RATIO,
    (AdSettings, "repeat_window_s"): _POSITIVE,
    (AdSettings, "repeat_groups"): 2,
    (AdSettings, "qr_weight"): _RATIO,
    (AdSettings, "image_timeout_s"): _POSITIVE,
    (AdSettings, "image_max_bytes"): 1,
    (FloodSettings, "max_messages"): 1,
    (FloodSettings, "window_s"): _POSITIVE,
    (SilentMemberSettings, "days"): _POSITIVE,
    (SilentMemberSettings, "min_list_change"): 1,
    (SilentGroupSettings, "hours"): _POSITIVE,
    (ChurnSettings, "window_hours"): _POSITIVE,
    (ChurnSettings, "factor"): _POSITIVE,
    (ChurnSettings, "min_leaves"): 1,
    (ChurnSettings, "baseline_days"): _POSITIVE,
    (ChurnSettings, "prior_daily_exit_rate"): _RATIO,
    (ChurnSettings, "fleet_min_leaves"): 1,
    (ActivitySettings, "window_days"): _POSITIVE,
    (ActivitySettings, "high"): _RATIO,
    (ActivitySettings, "ordinary"): _RATIO,
    (ActivitySettings, "critical"): _RATIO,
    (AlertSettings, "max_open"): 100,
    (AlertSettings, "churn_ads_hours"): _POSITIVE,
    (StoreSettings, "checkpoint_seconds"): _POSITIVE,
    (EngineSettings, "tick_seconds"): _POSITIVE,
    (EngineSettings, "backoff_start"): _POSITIVE,
    (EngineSettings, "backoff_max"): _POSITIVE,
    (DemoSettings, "groups"): 1,
    (DemoSettings, "seed"): _ANY,
    (DemoSettings, "speed"): _POSITIVE,
}
# Any other int or float field: counts and durations, which must not be negative.

# Upper bounds, the same as the command line's (--groups, --speed) and a demo [[connector]] table's: a
# bigger simulated fleet would take the memory of the machine before the first screen.
_MOST: dict[tuple[type, str], float] = {(DemoSettings, "groups"): 2000, (DemoSettings, "speed"): 100000}
_INT64 = (-2**63, 2**63 - 1)

_NON_EMPTY_ITEMS = {(AdSettings, "keywords"), (AdSettings, "regexes"), (AdSettings, "allow"),
                    (AdSettings, "allow_members")}


def _check_values(obj: Any, path: Path_, ctx: _Context, given: set[str], raw: dict) -> None:
    """Range checks on the fields set in the file (``raw`` has the values as written)."""
    cls = type(obj)
    hints = _hints(cls)
    for name in given:
        value = getattr(obj, name)
        p = path + (name,)
        tp = hints[name]
        if tp in (int, float):
            _check_number(value, raw.get(name, value), _LIMITS.get((cls, name), _NON_NEGATIVE), p, ctx)
            most = _MOST.get((cls, name))
            if most is not None and value > most:
                ctx.error(p, f"{_dotted(p)} must be at most {most:g}, got {_show(raw.get(name, value), p)}")
        elif (cls, name) in _NON_EMPTY_ITEMS:
            for i, item in enumerate(value):
                if not item.strip():
                    ctx.error(p + (i,), f"{_dotted(p + (i,))} must not be empty or blank")
    if cls is AdSettings:
        _check_ad(obj, path, ctx, given)
    elif cls is ActivitySettings:
        _check_tiers(obj, path, ctx, given)
    elif cls is OperatorSettings:
        _check_roles(obj, path, ctx, given)
    elif cls is ActionSettings and "escalation" in given:
        _check_escalation(obj.escalation, path + ("escalation",), ctx)
    elif cls is EngineSettings and {"backoff_start", "backoff_max"} & given \
            and 0 < obj.backoff_max < obj.backoff_start:
        key = "backoff_max" if "backoff_max" in given else "backoff_start"
        ctx.error(path + (key,), f"{_dotted(path + ('backoff_max',))} ({obj.backoff_max:g}) must be at least "
                                 f"{_dotted(path + ('backoff_start',))} ({obj.backoff_start:g})")


def _check_roles(ops: OperatorSettings, path: Path_, ctx: _Context, given: set[str]) -> None:
    if "default" in given and ops.default not in ROLES:
        ctx.error(path + ("default",), f"{_dotted(path + ('default',))} must be one of {', '.join(ROLES)}, "
                                       f"got {ops.default!r}"[:300])
    for member, name in ops.chat.items():
        p = path + ("chat", member)
        if ":" not in member or not member.split(":", 1)[1]:
            ctx.error(p, f"{_dotted(p)}: a chat user is a platform-qualified id like \"matrix:@alice:server\" "
                         f"or \"telegram:12345\"")
        elif not name.strip():
            ctx.error(p, f"{_dotted(p)} must name an operator (an [operators.users] name or an OS user)")
    for table in ("users", "groups"):
        for name, role in getattr(ops, table).items():
            p = path + (table, name)
            if role not in ROLES:
                ctx.error(p, f"{_dotted(p)} must be one of {', '.join(ROLES)}, got {visible(repr(role), 40)}")


def _check_number(value: float, written: Any, limit: Any, path: Path_, ctx: _Context) -> None:
    name, shown = _dotted(path), _show(written, path)
    if limit == _RATIO and not 0 <= value <= 1:
        ctx.error(path, f"{name} must be between 0 and 1, got {shown}")
    elif limit == _POSITIVE and not value > 0:
        ctx.error(path, f"{name} must be greater than 0, got {shown}")
    elif limit == _NON_NEGATIVE and value < 0:
        ctx.error(path, f"{name} must not be negative, got {shown}")
    elif isinstance(limit, int) and not isinstance(limit, bool) and value < limit:
        ctx.error(path, f"{name} must be at least {limit}, got {shown}")


def _check_ad(ad: AdSettings, path: Path_, ctx: _Context, given: set[str]) -> None:
    if "auto_action" in given and ad.auto_action not in AUTO_ACTIONS:
        p = path + ("auto_action",)
        ctx.error(p, f"{_dotted(p)} must be one of {', '.join(AUTO_ACTIONS)}, got {_show(ad.auto_action, p)}"
                     f"{_suggest(str(ad.auto_action), list(AUTO_ACTIONS))}")
    if "regexes" in given:
        for i, pattern in enumerate(ad.regexes):
            try:
                re.compile(pattern)
            except re.error as e:
                p = path + ("regexes", i)
                where = f" at position {e.pos}" if e.pos is not None else ""
                ctx.error(p, f"{_dotted(p)} is not a valid regular expression: {_show(pattern, p)}: "
                             f"{e.msg}{where}")
    if {"policy", "policies"} & given:
        from console.engine.detectors.ad_policy import PolicyError, parse_policy

        specs = ([(path + ("policy",), ad.policy)] if "policy" in given else []) + \
            [(path + ("policies", k), v) for k, v in ad.policies.items()]
        for p, spec in specs:
            if p[-2] == "policies" and p[-1].replace(" ", "") in ("", "tag:"):
                ctx.error(p, f"{_dotted(p)}: an empty group id or tag")
                continue
            try:
                parse_policy(spec)
            except PolicyError as e:
                ctx.error(p, f"{_dotted(p)}: {e}")
    if ({"threshold", "high_threshold"} & given) and ad.high_threshold < ad.threshold \
            and 0 <= ad.threshold <= 1 and 0 <= ad.high_threshold <= 1:
        key = "high_threshold" if "high_threshold" in given else "threshold"
        ctx.error(path + (key,), f"{_dotted(path + ('high_threshold',))} ({ad.high_threshold:g}) must be at least "
                                 f"{_dotted(path + ('threshold',))} ({ad.threshold:g})")


def _check_escalation(steps: list[str], path: Path_, ctx: _Context) -> None:
    """The steps as the warnings module reads them: refused here, at their line, rather than when the
    console starts (with no line) or never by ``config check``."""
    from console.engine.actions.model import ActionError
    from console.engine.actions.warnings import parse_policy

    bad = False
    for i, step in enumerate(steps):
        try:
            parse_policy([step])
        except ActionError as e:
            ctx.error(path + (i,), f"{_dotted(path + (i,))}: {e}")
            bad = True
    if not bad:
        try:
            parse_policy(steps)
        except ActionError as e:
            ctx.error(path, f"{_dotted(path)}: {e}")


def _check_tiers(act: ActivitySettings, path: Path_, ctx: _Context, given: set[str]) -> None:
    tiers = {"critical": act.critical, "ordinary": act.ordinary, "high": act.high}
    if not all(0 <= v <= 1 for v in tiers.values()) or not {"critical", "ordinary", "high"} & given:
        return
    if act.critical < act.ordinary < act.high:
        return
    # Point at the key that was set (the later one in the file if both were).
    pair = ("critical", "ordinary") if act.critical >= act.ordinary else ("ordinary", "high")
    set_keys = [k for k in pair if k in given] or [k for k in tiers if k in given]
    key = max(set_keys, key=lambda k: ctx.line_of(path + (k,)) or 0)
    ctx.error(path + (key,), f"{_dotted(path)} tiers must be ordered critical < ordinary < high, got "
                             f"critical = {act.critical:g}, ordinary = {act.ordinary:g}, high = {act.high:g}")


# --- the top level and the special tables ------------------------------------------------------

_TOP_SPECIAL = ("groups", "connector", "route")


def _settings_from(data: dict, ctx: _Context) -> Settings:
    plain = {k: v for k, v in data.items() if k not in _TOP_SPECIAL}
    skip = ("group_rules", "connectors", "routes")
    hints = _hints(Settings)
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
    _check_values(settings, (), ctx, set(kwargs), plain)
    if "groups" in data:
        settings.group_rules = _group_rules(data["groups"], ctx)
    if "connector" in data:
        settings.connectors = _connectors(data["connector"], ctx)
    if "route" in data:
        from console.oncall.routes import parse_routes

        names = {c.name for c in settings.connectors} if "connector" in data else {"demo"}
        settings.routes = parse_routes(data["route"], ctx, names)
    return settings


def _group_rules(value: Any, ctx: _Context) -> dict[str, str]:
    if not isinstance(value, dict):
        shown = _show(value, ("groups",))
        ctx.error(("groups",), f"groups must be a table of [groups.\"<group id>\"] tables, got {shown}")
        return {}
    out: dict[str, str] = {}
    for gid, table in value.items():
        p: Path_ = ("groups", gid)
        if not gid.strip():
            ctx.error(p, "a [groups.\"<group id>\"] table has an empty group id")
            continue
        if not isinstance(table, dict):
            ctx.error(p, f"{_dotted(p)} must be a table with rules = \"...\", got {_show(table, p)}")
            continue
        for key, v in table.items():
            if key != "rules":
                _unknown_key(ctx, p, key, v, ["rules"])
        if "rules" in table:
            rules = _convert(str, table["rules"], p + ("rules",), ctx)
            if rules is not _MISSING:
                out[gid] = rules
    return out


def _connectors(value: Any, ctx: _Context) -> list[ConnectorSettings]:
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        ctx.error(("connector",), "connector must be an array of tables: write each one as [[connector]]")
        return []
    out: list[ConnectorSettings] = []
    seen: dict[str, int] = {}
    for i, table in enumerate(value):
        p: Path_ = ("connector", i)
        label = _table(p)
        ctype = table.get("type")
        if ctype is None:
            ctx.error(p, f"{label} has no type; add type = \"...\" (one of {', '.join(CONNECTOR_TYPES)})")
            continue
        if not isinstance(ctype, str):
            ctx.error(p + ("type",), f"{label} type must be a string, got {_show(ctype, p + ('type',))}")
            continue
        if ctype not in CONNECTOR_TYPES:
            ctx.error(p + ("type",), f"{label} has unknown type {_show(ctype, p + ('type',))} "
                                     f"(expected one of {', '.join(CONNECTOR_TYPES)})"
                                     f"{_suggest(ctype, list(CONNECTOR_TYPES))}")
            continue
        name = table.get("name", ctype)
        if not isinstance(name, str) or not name.strip():
            ctx.error(p + ("name",), f"{label} name must be a non-empty string, got {_show(name, p + ('name',))}")
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
    message = _one_line(scrub(message))
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
