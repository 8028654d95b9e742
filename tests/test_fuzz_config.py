"""Fuzzed config files: every file either loads into sane Settings or fails with one clear line.

Three kinds of input, all through ``load_settings`` on a real file:

- documents built from the grammar of the real keys (the dataclasses in settings.py): a valid
  document must load with exactly the values written; the same document with one bad value
  (a wrong type, out of range, NaN/inf, beyond TOML's 64-bit integers, a blank list item, a bad
  regex or escalation step...) must fail naming that key, on that key's line;
- chaos documents: real and made-up tables and keys, values of any type, hostile strings,
  duplicate keys, raw control characters, deep nesting;
- byte-level mutations of a valid file: truncation, flipped and inserted bytes, invalid UTF-8,
  a BOM, NUL bytes.

Whatever the input, the outcome is Settings that the engine can start with, or a ConfigError
whose every line names the file (``<file>:<line>: ...``), is one line, holds no raw control,
bidi or zero-width character (quoted user text is escaped) and never a secret's value. Never
another exception. ``[[connector]]`` tables go on through ``build_connectors``: ConfigError or
connectors, and no token, whole or in part, in any message.
"""
from __future__ import annotations

import asyncio
import dataclasses
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import typing
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from connectors import registry
from connectors.secrets import read_secret
from console.engine import config_checks
from console.engine.actions.warnings import parse_policy
from console.engine.config import ConfigError, build_connectors, load_settings
from console.engine.engine import Engine
from console.engine.settings import (AUTO_ACTIONS, ActionSettings, ActivitySettings, AdSettings, DemoSettings,
                                     EngineSettings, OperatorSettings, ROLES, Settings)
from console.engine.text import visible
from console.runtime import build_connectors as runtime_build, close_all

# GW_FUZZ_EXAMPLES=2000 for a deeper run than CI's.
EXAMPLES = int(os.environ.get("GW_FUZZ_EXAMPLES", 120))
FAST = hsettings(deadline=None, max_examples=EXAMPLES, suppress_health_check=[HealthCheck.too_slow])
INT64 = (-2**63, 2**63 - 1)

# --- TOML writing ---------------------------------------------------------------------------------


class Raw(str):
    """Text written into the document as is (dates, deliberately broken fragments)."""


def toml_str(s: str) -> str:
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\u{o:04x}")
        else:
            out.append(ch)
    return "".join(out) + '"'


def toml_key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else toml_str(k)


def toml_value(v: Any) -> str:
    if isinstance(v, Raw):
        return str(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return toml_str(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{toml_key(k)} = {toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(v)


def render(blocks: list[tuple[str | None, list[tuple[str, Any]]]]) -> tuple[str, dict[tuple[int, str], int]]:
    """The document, and the line of each (block index, key)."""
    lines: list[str] = []
    where: dict[tuple[int, str], int] = {}
    for i, (header, items) in enumerate(blocks):
        if header is not None:
            lines.append(header)
        for key, value in items:
            lines.append(f"{toml_key(key)} = {toml_value(value)}")
            where[(i, key)] = len(lines)
    return "\n".join(lines) + "\n", where


# --- the grammar of the real keys ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Field:
    table: tuple[str, ...]  # () for top-level keys
    name: str
    tp: Any
    cls: type

    @property
    def header(self) -> str | None:
        return f"[{'.'.join(self.table)}]" if self.table else None

    @property
    def dotted(self) -> str:
        return ".".join(self.table + (self.name,))


def _fields(cls: type, table: tuple[str, ...]) -> list[Field]:
    out = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            out += _fields(tp, table + (f.name,))
        elif f.name not in ("group_rules", "connectors", "routes") and not (cls is OperatorSettings
                                                                  and typing.get_origin(tp) is dict):
            out.append(Field(table, f.name, tp, cls))  # operators.users/groups: role tables, tested apart
    return out


FIELDS = _fields(Settings, ())
assert len(FIELDS) > 50 and {f.table for f in FIELDS} >= {("detectors", "ad"), ("engine",), ("demo",), ()}

RATIO, POSITIVE = "ratio", "positive"
LIMITS = config_checks.LIMITS
# Ranges chosen so that any mix of these values also passes the cross-key checks (threshold <=
# high_threshold, critical < ordinary < high, backoff_start <= backoff_max).
RANGES: dict[tuple[type, str], tuple[float, float]] = {
    (AdSettings, "threshold"): (0.0, 0.7), (AdSettings, "high_threshold"): (0.9, 1.0),
    (ActivitySettings, "critical"): (0.0, 0.09), (ActivitySettings, "ordinary"): (0.11, 0.39),
    (ActivitySettings, "high"): (0.41, 1.0),
    (EngineSettings, "backoff_start"): (0.001, 60.0), (EngineSettings, "backoff_max"): (60.0, 1e6),
    (DemoSettings, "groups"): (1, 2000), (DemoSettings, "speed"): (0.001, 100000.0),
}
GOOD_REGEXES = [r"\bt\.me/\w+", r"(?i)free\s+money", "加微信", r"\d{5,}", "a|b"]
GOOD_POLICIES = [[], ["2:mute:1d", "3:blacklist"], ["1:kick"], ["3:mute:90m", "5:kick", "7:blacklist"]]
AD_POLICIES = ["default", "no_commerce", "no_links", "strict_newcomers", "no_commerce+strict_newcomers",
               " no_links + no_commerce "]
BAD_AD_POLICIES = ["", "+", "nocommerce", "no_commerce+", "\x1b[31mno_links", "strict", "default,no_links"]
HOSTILE = ["\x1b[2J\x1b[31mred", "\x1b]52;c;cHduZWQ=\x07", "\u202eevil\u202c", "zero\u200bwidth", "[bold red]x[/]",
           "\x9b31m", "nul\x00byte", "a\r\nb", "\U0001f642" * 3, "\\", '"', "'", "${HOME}", "%s%n", "{0}",
           "\ufeff", "\u3164", "x" * 300, "", " ", "\x7f", "加微信 dm me"]
text = st.one_of(st.text(st.characters(blacklist_categories=("Cs",)), max_size=24), st.sampled_from(HOSTILE))
nonblank = text.filter(lambda s: s.strip() != "")


def valid_value(f: Field) -> st.SearchStrategy:
    key = (f.cls, f.name)
    limit = LIMITS.get(key, "non-negative")
    if key == (AdSettings, "auto_action"):
        return st.sampled_from(AUTO_ACTIONS)
    if key == (AdSettings, "regexes"):
        return st.lists(st.sampled_from(GOOD_REGEXES), max_size=3)
    if key == (ActionSettings, "escalation"):
        return st.sampled_from(GOOD_POLICIES)
    if key == (OperatorSettings, "default"):
        return st.sampled_from(ROLES)
    if key == (AdSettings, "policy"):
        return st.sampled_from(AD_POLICIES)
    if key == (AdSettings, "policies"):
        return st.dictionaries(st.one_of(st.sampled_from(["qq:1", "tag:gaming", "telegram:-100"]), nonblank.map(
            lambda k: "tag:" + k)), st.sampled_from(AD_POLICIES), max_size=3)
    if f.tp is bool:
        return st.booleans()
    if f.tp is str:
        return text
    if f.tp == list[str]:
        return st.lists(nonblank, max_size=3)
    lo, hi = RANGES.get(key, (None, None))
    if f.tp is int:
        if lo is not None:
            return st.integers(int(lo), int(hi))
        if limit == "any":
            return st.integers(*INT64)
        return st.integers(limit if isinstance(limit, int) else 0, int(config_checks.MOST.get(key, INT64[1])))
    assert f.tp is float, f
    if lo is None:
        lo, hi = {RATIO: (0.0, 1.0), POSITIVE: (1e-6, 1e12)}.get(limit, (0.0, 1e12))
    ints = st.integers(math.ceil(lo), math.floor(hi)) if math.ceil(lo) <= math.floor(hi) else st.nothing()
    return st.one_of(st.floats(lo, hi), ints)  # TOML integers are fine for a float key


DATES = [Raw("1979-05-27T07:32:00Z"), Raw("1979-05-27"), Raw("07:32:00")]


def bad_value(f: Field) -> st.SearchStrategy:
    """Values the loader must refuse for this key, each naming it."""
    key = (f.cls, f.name)
    limit = LIMITS.get(key, "non-negative")
    table = st.dictionaries(st.sampled_from(["a", "b"]), st.integers(), min_size=1, max_size=2)
    huge = st.sampled_from([2**63, -2**63 - 1, 10**40, -10**400, int("9" * 400)])
    if f.tp is bool:
        return st.one_of(st.sampled_from(["true", 1, 0, 1.0, [True]] + DATES), table)
    if f.tp is str:
        wrong = st.one_of(st.integers(), st.booleans(), st.floats(allow_nan=False), st.lists(text, max_size=2),
                          table, st.sampled_from(DATES))
        if key == (AdSettings, "auto_action"):
            return st.one_of(wrong, text.filter(lambda s: s not in AUTO_ACTIONS))
        if key == (OperatorSettings, "default"):
            return st.one_of(wrong, text.filter(lambda s: s not in ROLES))
        if key == (AdSettings, "policy"):
            return st.one_of(wrong, st.sampled_from(BAD_AD_POLICIES))
        return wrong
    if key == (AdSettings, "policies"):
        return st.one_of(text, st.integers(), st.lists(text, min_size=1, max_size=2),
                         st.dictionaries(st.sampled_from(["qq:1", "tag:x"]), st.integers(), min_size=1, max_size=2),
                         st.dictionaries(st.sampled_from(["qq:1", "tag:x"]), st.sampled_from(BAD_AD_POLICIES),
                                         min_size=1, max_size=2))
    if f.tp == list[str]:
        wrong = st.one_of(text, st.integers(), table, st.lists(st.integers(), min_size=1, max_size=2),
                          st.lists(st.lists(text, max_size=1), min_size=1, max_size=2),
                          st.tuples(nonblank, st.integers()).map(list))
        if key in config_checks.NON_EMPTY_ITEMS:
            wrong = st.one_of(wrong, st.tuples(nonblank, st.sampled_from(["", " ", "\t"])).map(list))
        if key == (AdSettings, "regexes"):
            wrong = st.one_of(wrong, st.lists(st.sampled_from(["(", "[a-", "(?P<\x1b>x)", "*", "\\", "(?<=a+)b",
                                                               "\u202e(", "x{2,1}"]), min_size=1, max_size=2))
        if key == (ActionSettings, "escalation"):
            wrong = st.one_of(wrong, st.sampled_from([["bogus"], ["0:kick"], ["2:mute"], ["2:kick", "2:blacklist"],
                                                      ["x:mute:1d"], ["2:mute:forever"], ["3:kick:1d"],
                                                      ["\x1b[31m:kick"], ["-1:blacklist"], [""]]))
        return wrong
    wrong_type = st.one_of(st.sampled_from(["5", "", True, False, [1], [], "nan"] + DATES), table)
    if f.tp is int:
        below = st.nothing()
        if limit != "any":
            lo = limit if isinstance(limit, int) else 0
            below = st.integers(max_value=lo - 1, min_value=-10**6)
        most = config_checks.MOST.get(key)
        above = st.integers(int(most) + 1, 10**12) if most is not None else st.nothing()
        return st.one_of(wrong_type, st.sampled_from([1.5, 2.0, float("nan"), float("inf")]), huge, below, above)
    assert f.tp is float
    out_of_range = {RATIO: st.sampled_from([1.0001, 1.5, -0.1, 2, 1e308, -1]),
                    POSITIVE: st.sampled_from([0, 0.0, -1, -1e-9, -1e308])}.get(
        limit, st.sampled_from([-1, -1e-9, -1e308]))
    if key == (DemoSettings, "speed"):
        out_of_range = st.one_of(out_of_range, st.sampled_from([100000.5, 1e9, 1e308]))
    return st.one_of(wrong_type, st.sampled_from([float("nan"), float("inf"), float("-inf")]), huge, out_of_range)


@st.composite
def doc_with_one_fault(draw) -> tuple[list, list, Field, Any]:
    """A valid document (as blocks) and the same with one bad value."""
    chosen = draw(st.lists(st.sampled_from(FIELDS), max_size=12, unique_by=lambda f: (f.table, f.name)))
    target = draw(st.sampled_from(FIELDS))
    by_table: dict[tuple[str, ...], list[tuple[str, Any]]] = {}
    for f in chosen:
        by_table.setdefault(f.table, []).append((f.name, draw(valid_value(f))))
    by_table.setdefault(target.table, [])
    groups = draw(st.lists(st.tuples(nonblank, text), max_size=2, unique_by=lambda t: t[0]))
    tables = sorted(by_table, key=lambda t: (t != (), t))  # top-level keys first
    good = [(f"[{'.'.join(t)}]" if t else None, by_table[t]) for t in tables]
    good += [(f"[groups.{toml_str(gid)}]", [("rules", rules)]) for gid, rules in groups]
    bad_items = [(k, v) for k, v in by_table[target.table] if k != target.name]
    position = draw(st.integers(0, len(bad_items)))
    bad_items.insert(position, (target.name, draw(bad_value(target))))
    bad = [(h, bad_items if t == target.table else items) for t, (h, items) in zip(tables, good)] + good[len(tables):]
    return good, bad, target, tables.index(target.table)


# --- what every outcome must be ---------------------------------------------------------------------

_LOCATED = re.compile(r"^(?:(?P<line>\d+):)? \S")  # what follows "<file>:"


def check_error(e: ConfigError, path: Path, text: str | None = None, secrets: tuple[str, ...] = ()) -> None:
    assert str(e) == e.problems[0]
    n_lines = (text.count("\n") + 1) if text is not None else None
    for m in e.problems:
        assert "\n" not in m and "\r" not in m, m
        assert visible(m) == m, f"raw control, bidi or zero-width character in {m!r}"
        assert m.startswith(f"{path}:"), m
        located = _LOCATED.match(m[len(str(path)) + 1:])
        assert located, m
        if n_lines is not None and located.group("line"):
            assert 1 <= int(located.group("line")) <= n_lines, m
        for s in secrets:
            assert s not in m, m


def check_settings(s: Settings) -> None:
    """Typed, in range, consistent, and an engine starts with it."""
    def walk(obj: Any) -> None:
        hints = typing.get_type_hints(type(obj))
        for f in dataclasses.fields(obj):
            v, tp = getattr(obj, f.name), hints[f.name]
            if dataclasses.is_dataclass(tp):
                walk(v)
            elif tp is bool:
                assert type(v) is bool, (f.name, v)
            elif tp is int:
                assert type(v) is int and INT64[0] <= v <= INT64[1], (f.name, v)
            elif tp is float:
                assert type(v) is float and math.isfinite(v), (f.name, v)
            elif tp is str:
                assert type(v) is str, (f.name, v)
            elif tp == list[str]:
                assert type(v) is list and all(type(x) is str for x in v), (f.name, v)
            elif tp == dict[str, str]:
                assert type(v) is dict and all(type(k) is str and type(x) is str for k, x in v.items()), (f.name, v)
    walk(s)
    ad, act, eng = s.detectors.ad, s.detectors.activity, s.engine
    assert 0 <= ad.threshold <= ad.high_threshold <= 1 and ad.auto_action in AUTO_ACTIONS
    for pattern in ad.regexes:
        re.compile(pattern)
    assert act.critical < act.ordinary < act.high and 0 < eng.backoff_start <= eng.backoff_max
    # The same bounds as --groups and --speed, and as a [[connector]] type = "demo" table.
    assert 1 <= s.demo.groups <= 2000 and 0 < s.demo.speed <= 100000
    parse_policy(s.actions.escalation)  # raises ActionError for a step the loader let through
    assert all(type(k) is str and k.strip() and type(v) is str for k, v in s.group_rules.items())
    names = [c.name for c in s.connectors]
    assert len(set(names)) == len(names) and all(c.type in registry.TYPES for c in s.connectors)
    Engine(s, [], None)


def outcome(path: Path, data: bytes, secrets: tuple[str, ...] = ()) -> Settings | ConfigError:
    path.write_bytes(data)
    try:
        s = load_settings(path, must_exist=True)
    except ConfigError as e:
        check_error(e, path, data.decode("utf-8", "replace"), secrets)
        return e
    check_settings(s)
    return s


@pytest.fixture(scope="module")
def workdir():
    with tempfile.TemporaryDirectory(prefix="gw-fuzz-config-") as d:
        yield Path(d)


# --- documents from the grammar ---------------------------------------------------------------------


def _get(s: Settings, f: Field) -> Any:
    obj: Any = s
    for part in f.table:
        obj = getattr(obj, part)
    return getattr(obj, f.name)


@FAST
@given(doc=doc_with_one_fault())
def test_a_valid_document_loads_as_written_and_one_bad_value_is_named_on_its_line(workdir, doc):
    good, bad, target, block = doc
    path = workdir / "groupwatch.toml"
    text, _ = render(good)
    s = outcome(path, text.encode())
    assert isinstance(s, Settings), f"a valid document was refused: {s}\n{text}"
    for header, items in good:
        for key, value in items:
            if header is not None and header.startswith("[groups."):
                continue
            f = next(f for f in FIELDS if f.header == header and f.name == key)
            assert _get(s, f) == value, (f.dotted, value)
    for header, items in good:
        if header is not None and header.startswith("[groups."):
            gid = next(g for g, r in s.group_rules.items() if f"[groups.{toml_str(g)}]" == header)
            assert s.group_rules[gid] == items[0][1]

    text, lines = render(bad)
    e = outcome(path, text.encode())
    assert isinstance(e, ConfigError), f"{target.dotted} = {bad} was accepted"
    line = lines[(block, target.name)]
    named = [m for m in e.problems if m.startswith(f"{path}:{line}: ")]
    assert named and any(target.name in m for m in named), (target.dotted, line, e.problems)


# --- chaos documents --------------------------------------------------------------------------------

SECRET_MARK = "S3KRIT-do-not-show"
REAL_HEADERS = sorted({f.header for f in FIELDS if f.header} | {"[detectors]", "[groups.\"tg:1\"]", "[groups]",
                                                                 "[[connector]]", "[connector]", "[[detectors.ad]]",
                                                                 "[[groups]]", "[store.deep.er]"})
SECRET_KEYS = ["token", "api_token", "password", "client_secret", "Access_Token", "cookie"]
KEYS = sorted({f.name for f in FIELDS} | {"type", "name", "rules", "homeserver", "token_env", "chats", "ws_url"})
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(min_value=2**63 - 2, max_value=2**70),
                    st.floats(), text, st.sampled_from(DATES))
values = st.recursive(scalars.filter(lambda v: v is not None),
                      lambda inner: st.one_of(st.lists(inner, max_size=3),
                                              st.dictionaries(st.one_of(st.sampled_from(KEYS), text), inner,
                                                              max_size=3)),
                      max_leaves=8)
GARBAGE_LINES = [Raw('a = "\x1b[31m"'), Raw("x = \x00"), Raw("= 1"), Raw("["), Raw("[["), Raw("a.b = 1\na = 2"),
                 Raw('k = """unterminated'), Raw("a = " + "[" * 600 + "]" * 600), Raw("b = " + "{c=" * 600 + "1" +
                 "}" * 600), Raw("c = " + "[" * 200 + "]" * 200), Raw('"\x1b]52;c;eA==\x07" = 1'),
                 Raw('"\\u001b]52;c;eA==\\u0007" = 1'), Raw("d = 1979-13-45"), Raw("e = 0x"), Raw("f = +nan"),
                 Raw("g = 1_000_"), Raw("h = 'lit\u202eeral'"), Raw("[\u202e]"), Raw('i = "\\uD800"'),
                 Raw("j = 99999999999999999999999999999"), Raw("k = 1e999"), Raw("\ufeffl = 1"),
                 Raw("m = " + "9" * 5000)]


@st.composite
def chaos_doc(draw) -> str:
    lines: list[str] = []
    for _ in range(draw(st.integers(0, 5))):
        header = draw(st.one_of(st.sampled_from(REAL_HEADERS), text.map(lambda t: f"[{toml_str(t)}]")))
        if header:
            lines.append(header)
        for _ in range(draw(st.integers(0, 5))):
            kind = draw(st.integers(0, 9))
            if kind == 0:
                lines.append(draw(st.sampled_from(GARBAGE_LINES)))
            elif kind == 1:
                secret = SECRET_MARK + draw(st.text("abc123", max_size=4))
                value = draw(st.sampled_from([secret, [secret], {"v": secret}, Raw(toml_str(secret)[:-1])]))
                lines.append(f"{toml_key(draw(st.sampled_from(SECRET_KEYS)))} = {toml_value(value)}")
            elif kind == 2 and lines:
                lines.append(draw(st.sampled_from(lines)))  # a duplicate key or table
            else:
                key = draw(st.one_of(st.sampled_from(KEYS), text))
                lines.append(f"{toml_key(key)} = {toml_value(draw(values))}")
    return "\n".join(lines) + draw(st.sampled_from(["\n", "", "\r\n", "\n\n"]))


@FAST
@given(doc=chaos_doc())
def test_chaos_documents_load_or_fail_with_one_clear_line(workdir, doc):
    outcome(workdir / "chaos.toml", doc.encode("utf-8"), secrets=(SECRET_MARK,))


# --- byte-level mutations of a valid file --------------------------------------------------------------

SEED = """\
# groupwatch
operator = "ana"
rules = \"\"\"No ads.
Be kind.\"\"\"

[detectors.ad]
threshold = 0.6
keywords = ["加微信", "dm me"]
regexes = ['\\bt\\.me/\\w+']
auto_action = "delete"

[detectors.activity]
critical = 0.05

[engine]
poll_timeout = 10
backoff_start = 0.5

[actions]
escalation = ["2:mute:1d", "3:blacklist"]
mention_text = "{mentions} hi"

[demo]
groups = 12
seed = -3

[groups."telegram:-1001234"]
rules = "Buyers only."

[[connector]]
type = "telegram"
name = "shop"
token_env = "SHOP_TOKEN"
chats = [-1001234]

[[connector]]
type = "demo"
name = "sandbox"
groups = 3
""".encode()
INSERTS = [b"\x00", b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xef\xbb\xbf", b"\x1b[2J", b"\xc2\x9b", b"\xe2\x80\xae",
           b"\n", b"\r", b"[", b"]", b"\"", b"'", b"=", b"#", b"\\", b"{", b"\"\"\"", b"[[", b".", b"-", b"9" * 30]


@st.composite
def mutated_seed(draw) -> bytes:
    data = bytearray(SEED)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["truncate", "flip", "insert", "delete", "bom", "dup"]))
        i = draw(st.integers(0, len(data)))
        if op == "truncate":
            del data[i:]
        elif op == "flip" and i < len(data):
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            data[i:i] = draw(st.one_of(st.sampled_from(INSERTS), st.binary(min_size=1, max_size=4)))
        elif op == "delete":
            del data[i:i + draw(st.integers(1, 20))]
        elif op == "bom":
            data[0:0] = b"\xef\xbb\xbf"
        elif op == "dup":
            lines = bytes(data).split(b"\n")
            j = draw(st.integers(0, len(lines) - 1))
            data = bytearray(b"\n".join(lines[:j + 1] + [lines[j]] + lines[j + 1:]))
    return bytes(data)


@FAST
@given(data=mutated_seed())
def test_mutated_bytes_of_a_valid_file_load_or_fail_with_one_clear_line(workdir, data):
    got = outcome(workdir / "mutated.toml", data)
    if isinstance(got, Settings) and data == SEED:
        assert got.operator == "ana"


def test_the_seed_file_itself_loads(workdir):
    s = outcome(workdir / "seed.toml", SEED)
    assert isinstance(s, Settings) and [c.name for c in s.connectors] == ["shop", "sandbox"]


@pytest.mark.parametrize("text,line,words", [
    ("a = 1\nb = " + "[" * 5000 + "]" * 5000 + "\n", 2, "nested too deeply"),
    ("[engine]\npoll_timeout = " + "9" * 400 + "\n", 2, "engine.poll_timeout"),
    ("[store]\nrecent_messages = 99999999999999999999999\n", 2, "store.recent_messages"),
    ("operator = \"ana\"\n[store]\nrecent_messages = " + "9" * 5000 + "\n", 3, "number too long"),
    ('rules = "a\x00b"\n', 1, "invalid TOML"),  # a raw NUL: invalid TOML, shown escaped
    ("[demo]\ngroups = 1000000000\n", 2, "demo.groups"),
    ("[actions]\nescalation = [\"2:mute:1d\", \"3:ban\"]\n", 2, "escalation"),
    ('[detectors.ad]\nauto_action = "\u009b2J\u202e"\n', 2, "auto_action"),
])
def test_values_that_used_to_crash_or_slip_through_are_named(workdir, text, line, words):
    e = outcome(workdir / "c.toml", text.encode())
    assert isinstance(e, ConfigError) and str(e).startswith(f"{workdir / 'c.toml'}:{line}: ") and words in str(e), e


# --- [[connector]] tables through build_connectors ----------------------------------------------------

TOKENS = {"TG_TOKEN": "7000123456:AAH-fuzz_SECRET_token_0123456789abcdefXYZ",
          "MX_TOKEN": "syt_Zm96eg_fuzzSECRETmatrixtoken_0123456789abcdef",
          "QQ_TOKEN": "qq-fuzz-SECRET-token-0123456789-abcdef"}
ENV = {**TOKENS, "EMPTY": "", "SPACES": "   ", "BROKEN": "7000123456:AAH-line\nbreak0123456789abcdef",
       "NOT_A_BOT_TOKEN": "hello-there-general-kenobi"}
for _var in TOKENS:  # as after any table read them: scrub() knows every secret of the process
    read_secret({"token_env": _var}, "token", label="setup", environ=ENV)


def token_pieces() -> list[str]:
    """Every 12-character piece of every token's secret part: none may show, even cut short."""
    out = []
    for tok in TOKENS.values():
        secret = tok.split(":", 1)[1] if tok[0].isdigit() else tok
        out += [secret[i:i + 12] for i in range(len(secret) - 11)]
    return out


PIECES = tuple(token_pieces())
URLS = ["https://matrix.example.org", "http://127.0.0.1:8008", "ws://127.0.0.1:3001", "http://127.0.0.1:3000",
        "wss://qq.example.org/event", "https://api.telegram.org", "ftp://x", "http://", "http://[::1", "not a url",
        "http://host:99999", "https://matrix.example.org/_matrix/client", "http://u:p@127.0.0.1:3000",
        "ws://127.0.0.1:3001/?access_token=abc", "https://x.org/#frag", "http://bücher.example/",
        "https://api.telegram.org/bot123:abc/", "http://\x1b[2J.example", "https://exa mple.org"]
OPTION_KEYS = {
    "telegram": ["token_env", "token_file", "chats", "api_url", "token", "chat", "api-url"],
    "matrix": ["homeserver", "user_id", "token_env", "token_file", "rooms", "token", "room", "homeserve"],
    "onebot": ["ws_url", "http_url", "token_env", "token_file", "no_token", "groups", "history", "history_count",
               "timeout", "send_format", "token", "wsurl", "group"],
    "demo": ["groups", "seed", "speed", "group", "token"],
}
GOOD = {
    "token_env": st.sampled_from(list(ENV) + ["MISSING", "", 5]),
    "token_file": st.sampled_from(["@good", "@loose", "@missing", "@dir", "@empty", "", 7]),
    "chats": st.sampled_from([[-1001234567890], ["telegram:-1001"], [], [5], ["-1x"], [True], "-1001", [-1.5],
                              [-(10**30)], [TOKENS["TG_TOKEN"]], ["telegram:" + TOKENS["TG_TOKEN"]]]),
    "rooms": st.sampled_from([["!a:x.org"], ["#fans:x.org"], [], ["nope"], [5], "!a:x.org",
                              ["!" + TOKENS["MX_TOKEN"] + " :x"]]),
    "groups": st.sampled_from([[123456], ["qq:123"], [], [-5], ["abc"], [True], 3, 1, 2001, 0, -1, 1.5, "5",
                               [TOKENS["QQ_TOKEN"]]]),
    "seed": st.sampled_from([7, -3, 2**63, "7", 1.5, True]),
    "speed": st.sampled_from([1.0, 60, 100000, 100001, 0, -1, float("nan"), float("inf"), "fast"]),
    "no_token": st.sampled_from([True, False, "yes", 1]),
    "history": st.sampled_from([True, False, "no"]),
    "history_count": st.sampled_from([1, 50, 200, 0, 201, -1, 1.5, "50", True]),
    "timeout": st.sampled_from([1, 15.0, 120, 0.5, 121, float("nan"), float("inf"), "15", True]),
    "send_format": st.sampled_from(["string", "array", "xml", "", 5, "\x1b[2J"]),
    "user_id": st.sampled_from(["@bot:x.org", "bot", "@:x", "@a b:x", 5, "@" + TOKENS["MX_TOKEN"] + ":x"]),
}


def option_value(key: str) -> st.SearchStrategy:
    url_like = st.sampled_from(URLS + [TOKENS["TG_TOKEN"], "http://127.0.0.1/" + TOKENS["QQ_TOKEN"],
                                       "https://" + TOKENS["MX_TOKEN"] + ".org"])
    good = GOOD.get(key, url_like)
    return st.one_of(good, good, values)


BASE = {"telegram": {"token_env": "TG_TOKEN"},
        "matrix": {"homeserver": "https://matrix.example.org", "token_env": "MX_TOKEN"},
        "onebot": {"ws_url": "ws://127.0.0.1:3001", "http_url": "http://127.0.0.1:3000", "token_env": "QQ_TOKEN"},
        "demo": {"groups": 3}}


@st.composite
def connector_doc(draw) -> str:
    """One to three tables, each a valid one with some keys changed, dropped or added."""
    lines: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        ctype = draw(st.sampled_from(list(OPTION_KEYS) * 3 + ["matirx", "", "Telegram"]))
        options = dict(BASE.get(ctype, {}))
        for key in draw(st.lists(st.sampled_from(OPTION_KEYS.get(ctype, OPTION_KEYS["telegram"])), max_size=3,
                                 unique=True)):
            if draw(st.integers(0, 5)) == 0:
                options.pop(key, None)
            else:
                options[key] = draw(option_value(key))
        if draw(st.integers(0, 4)) == 0:
            options[draw(text)] = draw(values)
        lines.append("[[connector]]")
        lines.append(f"type = {toml_value(ctype)}")
        if draw(st.booleans()):
            lines.append(f"name = {toml_value(draw(st.one_of(text, st.just('a'))))}")  # 'a' twice: a clash
        lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in options.items()]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def secret_files(workdir):
    files = workdir / "secrets"
    files.mkdir()
    out = {"@good": files / "good.token", "@loose": files / "loose.token", "@missing": files / "missing.token",
           "@dir": files, "@empty": files / "empty.token"}
    out["@good"].write_text(TOKENS["TG_TOKEN"] + "\n")
    out["@loose"].write_text(TOKENS["MX_TOKEN"] + "\n")
    out["@empty"].write_text("\n")
    os.chmod(out["@good"], 0o600)
    os.chmod(out["@empty"], 0o600)
    os.chmod(out["@loose"], 0o644)
    return out


@hsettings(deadline=None, max_examples=max(EXAMPLES * 2 // 3, 1), suppress_health_check=[HealthCheck.too_slow])
@given(doc=connector_doc())
def test_connector_tables_build_or_fail_with_one_clear_line_and_no_token(workdir, secret_files, doc):
    for mark, p in secret_files.items():
        doc = doc.replace(toml_str(mark), toml_str(str(p)))
    path = workdir / "connectors.toml"
    got = outcome(path, doc.encode(), secrets=PIECES)
    if isinstance(got, ConfigError):
        return
    try:
        built, demo = runtime_build(got, environ=ENV)  # what startup calls (config.build_connectors inside)
    except ConfigError as e:
        check_error(e, path, doc, PIECES)
        assert len(e.problems) <= len(got.connectors)
        return
    assert demo is None
    try:
        assert [c.name for c in built] == [c.name for c in got.connectors]
    finally:
        asyncio.run(close_all(built))


OWN_TOKEN = {"telegram": "TG_TOKEN", "matrix": "MX_TOKEN", "onebot": "QQ_TOKEN", "demo": "TG_TOKEN"}
PASTED = ["{t}", "telegram:{t}", "!{t} :x", "qq:{t}", "ws://127.0.0.1:3001/{t}", "https://{t}.example.org",
          "http://127.0.0.1:3000/?q={t}#f", "{t}" + "x" * 80, " {t}\n", "@{t}:x"]


@pytest.mark.parametrize("ctype", list(BASE))
def test_a_token_pasted_into_any_option_is_never_shown_even_cut_short(workdir, ctype):
    path = workdir / "pasted.toml"
    for key in OPTION_KEYS[ctype]:
        for shape in PASTED:
            for token in (TOKENS[OWN_TOKEN[ctype]],):
                for value in (shape.format(t=token), [shape.format(t=token)]):
                    options = {**BASE[ctype], key: value}
                    doc = "[[connector]]\n" + f"type = {toml_value(ctype)}\n" + "".join(
                        f"{toml_key(k)} = {toml_value(v)}\n" for k, v in options.items())
                    got = outcome(path, doc.encode(), secrets=PIECES)
                    if isinstance(got, ConfigError):
                        continue
                    try:
                        built = build_connectors(got.connectors, ENV)
                    except ConfigError as e:
                        check_error(e, path, doc, PIECES)
                        continue
                    asyncio.run(close_all(built))


# --- the real command -------------------------------------------------------------------------------

def groupwatch(*args: str, home: Path) -> subprocess.CompletedProcess:
    exe = shutil.which("groupwatch") or str(Path(sys.executable).parent / "groupwatch")
    env = {**os.environ, "GROUPWATCH_HOME": str(home), "NO_COLOR": "1"}
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=60, env=env)


@pytest.mark.parametrize("command,content", [
    (("config", "check", "--no-probe"), "operator = \"ana\"\nrules = " + "[" * 3000 + "]" * 3000 + "\n"),
    (("watch", "--headless", "--seconds", "1"),
     '[engine]\n"tick\\u001b]52;c;ZWNobyBoaQ==\\u0007\\u202e" = 1\npoll_timeout = ' + "9" * 400 + "\n"),
])
def test_the_command_refuses_a_bad_file_with_one_line_and_no_traceback(tmp_path, command, content):
    bad = tmp_path / "bad.toml"
    bad.write_text(content, encoding="utf-8")
    p = groupwatch(*command, "--config", str(bad), home=tmp_path / "home")
    assert p.returncode == 2, p.stderr
    assert "Traceback" not in p.stderr and p.stdout == ""
    lines = p.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"groupwatch: error: {bad}:"), p.stderr
    assert visible(lines[0]) == lines[0], lines[0]
