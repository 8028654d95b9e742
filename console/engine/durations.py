"""Times and durations as operators write them: "90s", "30m", "12h", "1d12h", "2w",
or ISO 8601 ("2026-03-01", "2026-03-01T12:00Z")."""
from __future__ import annotations

import datetime as dt
import re

from console.engine.actions.model import ActionError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^(?:\d+(?:\.\d+)?[smhdw])+$")
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")


def parse_duration(text: str) -> float:
    s = (text or "").strip().lower().replace(" ", "")
    if not _DURATION.match(s):
        raise ActionError(f"bad duration {text!r}: use a number and a unit, like 90s, 30m, 12h, 1d or 2w")
    return sum(float(n) * _UNITS[u] for n, u in _PART.findall(s))


def parse_when(text: str, now: float, *, past: bool = False) -> float:
    """A POSIX time from an ISO 8601 date/time or a duration.

    A duration counts forward from ``now`` (an expiry), or back when ``past`` is
    true (``--since 2h``). An ISO time without an offset is UTC; a bare date is
    midnight UTC. Anything else raises ActionError with a one-line message.
    """
    s = (text or "").strip()
    if _DURATION.match(s.lower().replace(" ", "")) if s else False:
        seconds = parse_duration(s)
        return now - seconds if past else now + seconds
    try:
        when = dt.datetime.fromisoformat(s.replace("z", "Z")) if s else None
    except ValueError:
        when = None
    if when is None:
        raise ActionError(f"bad time {s!r}: use an ISO 8601 date/time (2026-03-01, 2026-03-01T12:00Z) "
                          "or a duration like 30d, 12h, 90m")
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when.timestamp()


def iso(at: float | None) -> str:
    """ISO 8601 UTC with a ``Z``, or "" for None."""
    if at is None:
        return ""
    return dt.datetime.fromtimestamp(at, dt.timezone.utc).isoformat().replace("+00:00", "Z")


def short(seconds: float | None) -> str:
    """A duration in the fewest units an operator reads at a glance: "45s", "4m", "1h05m", "2d3h"
    ("-" for None)."""
    if seconds is None:
        return "-"
    s = max(0, int(round(seconds)))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        h, m = divmod(s // 60, 60)
        return f"{h}h{m:02d}m" if m else f"{h}h"
    d, h = divmod(s // 3600, 24)
    return f"{d}d{h}h" if h else f"{d}d"
