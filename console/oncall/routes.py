"""``[[route]]`` tables: which incidents go to which receivers, and when.

    [[route]]
    name = "ads"                          # default: "route #N"
    kinds = ["ad", "flood"]               # incident kinds; default: every kind
    min_severity = "high"                 # low, medium or high; default low
    groups = ["tag:shops", "telegram:-100123"]   # group ids, tag:NAME, tier:LEVEL; default: every group
    notify = ["json://127.0.0.1:8080/hook", "ntfy://{env:NTFY_TOPIC}"]   # Apprise URLs
    connector = "hq"                      # a moderators' chat through a configured connector...
    chat = "!mods:example.org"            # ...its room / group / chat id
    console = true                        # a toast on attached consoles (bell = true rings too)
    group_wait = "30s"                    # batch an incident's first alerts this long
    group_interval = "5m"                 # then at most one update per this
    repeat_interval = "4h"                # repeat an unacknowledged paging incident after this
    ack_timeout = "2h"                    # an acknowledged incident not resolved by then fires again
    steps = [{ after = "10m", notify = ["mailto://..."] }]   # escalation for high incidents
    digest = ["daily", "weekly"]          # the daily summary / weekly digest to these receivers
    digest_at = "09:00"                   # UTC

Secrets in Apprise URLs are never written into the file: ``{env:NAME}`` takes an environment variable,
``{file:/path}`` the first line of a file only the user can read (connectors.secrets rules), both read
at send time. Parsing here only checks shapes and reports ``<file>:<line>: <what>`` through the config
loader's context; nothing is resolved or imported (Apprise loads on the first send).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from console.engine.actions.model import ActionError
from console.engine.detectors.base import Severity
from console.engine.durations import parse_duration

DEFAULT_GROUP_WAIT = 30.0
DEFAULT_GROUP_INTERVAL = 300.0
DEFAULT_REPEAT_INTERVAL = 4 * 3600.0
DIGESTS = ("daily", "weekly")

# {env:NAME} or {file:/path}: the one placeholder syntax for secrets inside a URL.
PLACEHOLDER = re.compile(r"\{(env|file):([^{}]*)\}")
_ANY_BRACE = re.compile(r"[{}]")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_TIME_OF_DAY = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")

Path_ = tuple[Any, ...]


class Problems(Protocol):
    """The config loader's context: ``error(path, message)`` records ``<file>:<line>: message``."""

    def error(self, path: Path_, message: str) -> None: ...


@dataclass(slots=True, frozen=True)
class ChatTarget:
    connector: str
    chat: str  # as written: a platform-qualified id or the platform's own id


@dataclass(slots=True)
class Step:
    after: float
    notify: list[str] = field(default_factory=list)
    chat: ChatTarget | None = None


@dataclass(slots=True)
class Route:
    name: str
    kinds: list[str] = field(default_factory=list)
    min_severity: Severity = Severity.LOW
    groups: list[str] = field(default_factory=list)
    notify: list[str] = field(default_factory=list)
    chat: ChatTarget | None = None
    console: bool = False
    bell: bool = False
    group_wait: float = DEFAULT_GROUP_WAIT
    group_interval: float = DEFAULT_GROUP_INTERVAL
    repeat_interval: float = DEFAULT_REPEAT_INTERVAL
    ack_timeout: float | None = None
    steps: list[Step] = field(default_factory=list)
    digest: list[str] = field(default_factory=list)
    digest_at: str = "09:00"

    def matches(self, kind: str, severity: Severity, groups: list[str],
                group_matches: Callable[[str, str], bool]) -> bool:
        """Does an incident of ``kind`` and ``severity`` touching ``groups`` go this way?"""
        if self.kinds and kind not in self.kinds:
            return False
        if severity < self.min_severity:
            return False
        if not self.groups:
            return True
        return any(group_matches(g, p) for g in groups for p in self.groups)


def parse_routes(value: Any, ctx: Problems, connector_names: set[str] | None = None) -> list[Route]:
    """The ``route`` array of the config; every problem reported through ``ctx``."""
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        ctx.error(("route",), "route must be an array of tables: write each one as [[route]]")
        return []
    out, names = [], set()
    for i, table in enumerate(value):
        r = _route(table, ("route", i), ctx, connector_names)
        if r is None:
            continue
        if r.name in names:
            ctx.error(("route", i, "name"), f"[[route]] #{i + 1}: duplicate route name {r.name!r}")
            continue
        names.add(r.name)
        out.append(r)
    return out


_KEYS = ("name", "kinds", "min_severity", "groups", "notify", "connector", "chat", "console", "bell",
         "group_wait", "group_interval", "repeat_interval", "ack_timeout", "steps", "digest", "digest_at")


def _route(t: dict, p: Path_, ctx: Problems, connector_names: set[str] | None) -> Route | None:
    label = f"[[route]] #{p[1] + 1}"
    ok = True
    for key in t:
        if key not in _KEYS:
            ctx.error(p + (key,), f"unknown key {key!r} in {label}{_suggest(key, _KEYS)}")
            ok = False
    name = t.get("name", f"route #{p[1] + 1}")
    if not isinstance(name, str) or not name.strip():
        ctx.error(p + ("name",), f"{label} name must be a non-empty string")
        return None
    label = f"[[route]] {name!r}" if "name" in t else label
    r = Route(name=name)
    r.kinds = _strings(t, "kinds", p, label, ctx) or []
    if "min_severity" in t:
        sev = t["min_severity"]
        names = [s.label for s in Severity]
        if not isinstance(sev, str) or sev.lower() not in names:
            ctx.error(p + ("min_severity",), f"{label} min_severity must be one of {', '.join(names)}, "
                                             f"got {_shown(sev)}")
            ok = False
        else:
            r.min_severity = Severity[sev.upper()]
    r.groups = _strings(t, "groups", p, label, ctx) or []
    for i, g in enumerate(r.groups):
        problem = group_pattern_problem(g)
        if problem:
            ctx.error(p + ("groups", i), f"{label} groups[{i}]: {problem}")
            ok = False
    r.notify = _urls(t, "notify", p, label, ctx)
    r.chat = _chat(t, p, label, ctx, connector_names)
    for key in ("console", "bell"):
        if key in t:
            if not isinstance(t[key], bool):
                ctx.error(p + (key,), f"{label} {key} must be true or false, got {_shown(t[key])}")
                ok = False
            else:
                setattr(r, key, t[key])
    for key in ("group_wait", "group_interval", "repeat_interval", "ack_timeout"):
        if key in t:
            seconds = _duration(t[key], p + (key,), f"{label} {key}", ctx, zero_ok=key == "group_wait")
            if seconds is None:
                ok = False
            else:
                setattr(r, key, seconds)
    if "steps" in t:
        r.steps = _steps(t["steps"], p + ("steps",), label, ctx, connector_names)
    if "digest" in t:
        kinds = _strings(t, "digest", p, label, ctx) or []
        for i, k in enumerate(kinds):
            if k not in DIGESTS:
                ctx.error(p + ("digest", i), f"{label} digest[{i}] must be one of {', '.join(DIGESTS)}, "
                                             f"got {_shown(k)}")
                ok = False
        r.digest = kinds
    if "digest_at" in t:
        at = t["digest_at"]
        if not isinstance(at, str) or not _TIME_OF_DAY.match(at):
            ctx.error(p + ("digest_at",), f"{label} digest_at must be a time of day HH:MM (UTC), got {_shown(at)}")
            ok = False
        else:
            r.digest_at = at
    if not (r.notify or r.chat or r.console or r.steps) and ok:
        ctx.error(p, f"{label} has no receiver: add notify = [\"<Apprise URL>\"], connector + chat, "
                     f"or console = true")
        ok = False
    return r if ok else None


def _steps(value: Any, p: Path_, label: str, ctx: Problems, connector_names: set[str] | None) -> list[Step]:
    if not isinstance(value, list) or not all(isinstance(s, dict) for s in value):
        ctx.error(p, f"{label} steps must be an array of tables like {{ after = \"10m\", notify = [...] }}")
        return []
    out: list[Step] = []
    last = -1.0
    for i, s in enumerate(value):
        sp = p + (i,)
        what = f"{label} steps[{i}]"
        for key in s:
            if key not in ("after", "notify", "connector", "chat"):
                ctx.error(sp + (key,), f"unknown key {key!r} in {what} (a step has after, notify, connector, chat)")
        if "after" not in s:
            ctx.error(sp, f"{what} has no after; add after = \"10m\"")
            continue
        after = _duration(s["after"], sp + ("after",), f"{what} after", ctx)
        if after is None:
            continue
        if after <= last:
            ctx.error(sp + ("after",), f"{what} after must be later than the step before it")
            continue
        last = after
        step = Step(after=after, notify=_urls(s, "notify", sp, what, ctx),
                    chat=_chat(s, sp, what, ctx, connector_names))
        if not step.notify and step.chat is None:
            ctx.error(sp, f"{what} has no receiver: add notify = [\"<Apprise URL>\"] or connector + chat")
            continue
        out.append(step)
    return out


def _strings(t: dict, key: str, p: Path_, label: str, ctx: Problems) -> list[str] | None:
    if key not in t:
        return None
    v = t[key]
    if not isinstance(v, list) or not all(isinstance(x, str) and x.strip() for x in v):
        ctx.error(p + (key,), f"{label} {key} must be an array of non-empty strings, got {_shown(v)}")
        return None
    return list(v)


def _urls(t: dict, key: str, p: Path_, label: str, ctx: Problems) -> list[str]:
    urls = _strings(t, key, p, label, ctx) or []
    good = []
    for i, url in enumerate(urls):
        problem = url_problem(url)
        if problem:
            # The URL itself is not quoted back: it may hold a token pasted into the file.
            ctx.error(p + (key, i), f"{label} {key}[{i}]: {problem}")
        else:
            good.append(url)
    return good


def _chat(t: dict, p: Path_, label: str, ctx: Problems, connector_names: set[str] | None) -> ChatTarget | None:
    conn, chat = t.get("connector"), t.get("chat")
    if conn is None and chat is None:
        return None
    if conn is None or chat is None:
        missing = "connector" if conn is None else "chat"
        ctx.error(p + ("chat" if conn is None else "connector",),
                  f"{label} has {'chat' if conn is None else 'connector'} but no {missing}: a chat is reached "
                  f"through a connector (connector = \"<[[connector]] name>\", chat = \"<room or group id>\")")
        return None
    if not isinstance(conn, str) or not conn.strip():
        ctx.error(p + ("connector",), f"{label} connector must be the name of a [[connector]]")
        return None
    if not isinstance(chat, str) or not chat.strip():
        ctx.error(p + ("chat",), f"{label} chat must be a room, group or chat id")
        return None
    if connector_names is not None and conn not in connector_names:
        known = ", ".join(sorted(connector_names)) or "none are configured"
        ctx.error(p + ("connector",), f"{label} connector {conn!r} is not a [[connector]] name ({known})")
        return None
    return ChatTarget(conn, chat.strip())


def _duration(value: Any, p: Path_, what: str, ctx: Problems, zero_ok: bool = False) -> float | None:
    if isinstance(value, bool):
        seconds = None
    elif isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        try:
            seconds = 0.0 if zero_ok and value.strip() in ("0", "0s") else parse_duration(value)
        except ActionError:
            seconds = None
    else:
        seconds = None
    if seconds is None or seconds != seconds or seconds in (float("inf"),):
        ctx.error(p, f"{what} must be a duration like \"30s\", \"5m\", \"4h\" (or seconds), got {_shown(value)}")
        return None
    if seconds < 0 or (seconds == 0 and not zero_ok):
        ctx.error(p, f"{what} must be {'at least 0' if zero_ok else 'greater than 0'}, got {_shown(value)}")
        return None
    return seconds


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be an Apprise URL as written (shape only), or None."""
    if not _SCHEME.match(url):
        return "not an Apprise URL (like json://host:port/path, ntfy://topic, mailto://...)"
    rest = PLACEHOLDER.sub("", url)
    if _ANY_BRACE.search(rest):
        return "a brace that is not a secret placeholder; write secrets as {env:NAME} or {file:/path}"
    for kind, arg in PLACEHOLDER.findall(url):
        if kind == "env" and not _ENV_NAME.fullmatch(arg):
            return "{env:...} must name an environment variable, like {env:NTFY_TOKEN}"
        if kind == "file" and not arg.strip():
            return "{file:...} must give the path of a file only you can read"
    return None


def group_pattern_problem(pattern: str) -> str | None:
    """Why ``pattern`` names no groups (the one rule of schedules, silences and routes), or None."""
    from console.engine.matching import parse_pattern

    try:
        parse_pattern(pattern)
    except ActionError as e:
        return str(e)
    return None


def qualify_chat(platform: str, chat: str) -> str:
    """The group id of a route's chat: ``!room:server`` on a matrix connector is ``matrix:!room:server``."""
    return chat if chat.startswith(f"{platform}:") else f"{platform}:{chat}"


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:40] + "…")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return "an array" if isinstance(value, list) else "a table" if isinstance(value, dict) else type(value).__name__


def _suggest(word: str, choices: tuple[str, ...]) -> str:
    import difflib

    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
