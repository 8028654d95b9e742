"""The words of a notification: one title line and a short body, plain text for a chat, an email or
a webhook. Names (not ids) where the engine knows them; every untrusted part neutralised (control,
bidi and zero-width characters shown as tags, cut to a length)."""
from __future__ import annotations

import datetime as dt
from typing import Any, Protocol

from console.engine.text import visible

CHAT_HELP = "Reply ack, claim, ban, warn, not ad, snooze 2h or silence 2h (or write #{id} ack)."
_WHY = {
    "new": "",
    "update": "updated: ",
    "repeat": "still open: ",
    "escalation": "ESCALATED, not acknowledged: ",
    "ack_timeout": "acknowledged but not resolved: ",
}


class Names(Protocol):
    def group_name(self, group_id: str | None) -> str | None: ...

    def member_name(self, group_id: str | None, member_id: str | None) -> str | None: ...


def _severity(inc: Any) -> str:
    sev = inc.severity
    return getattr(sev, "label", None) or str(sev).lower()


def _state(inc: Any) -> str:
    return str(getattr(inc.state, "value", inc.state))


def title(inc: Any, why: str) -> str:
    return visible(f"[{_severity(inc).upper()}] #{inc.id} {_WHY.get(why, '')}{inc.kind}: {inc.title}", 200)


def body(inc: Any, names: Names | None, why: str, now: float) -> str:
    lines = []
    group_names = [_name(names.group_name(g) if names else None, g) for g in inc.groups[:5]]
    more = f" and {len(inc.groups) - 5} more" if len(inc.groups) > 5 else ""
    if group_names:
        lines.append(f"{len(inc.groups)} group{'s' if len(inc.groups) != 1 else ''}: "
                     f"{', '.join(group_names)}{more}")
    if inc.members:
        where = inc.groups[0] if inc.groups else None
        who = [_name(names.member_name(where, m) if names else None, m) for m in inc.members[:3]]
        more = f" and {len(inc.members) - 3} more" if len(inc.members) > 3 else ""
        lines.append(f"from: {', '.join(who)}{more}")
    count = len(inc.alert_ids)
    status = f"{count} alert{'s' if count != 1 else ''}, {_state(inc)}, since {_clock(inc.first_at)}"
    if why == "ack_timeout" and inc.acked_by:
        status += f", acknowledged by {visible(str(inc.acked_by), 40)} {_ago(now, inc.acked_at)}"
    lines.append(status)
    lines.append(CHAT_HELP.format(id=inc.id))
    return "\n".join(lines)


def _name(name: str | None, fallback: str) -> str:
    return visible(name or fallback, 40)


def _clock(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.timezone.utc).strftime("%H:%M UTC")


def _ago(now: float, at: float | None) -> str:
    if at is None:
        return ""
    minutes = max(0, int((now - at) // 60))
    return f"{minutes // 60}h{minutes % 60:02d}m ago" if minutes >= 60 else f"{minutes}m ago"
