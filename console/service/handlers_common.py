"""What the command handlers share: the one Report they answer with, how they say "when", and
the checks that tell a second moderator someone already acted."""
from __future__ import annotations

from typing import TYPE_CHECKING

from console.engine.actions.model import BulkReport
from console.engine.durations import parse_duration
from console.engine.text import visible
from console.service.api import Command, Report, ServiceError

if TYPE_CHECKING:
    from console.service.service import Service


def report_of(name: str, bulk: BulkReport, message: str = "", skipped: list[str] | None = None) -> Report:
    skipped = skipped or []
    return Report(name, total=bulk.total + len(skipped), done=bulk.done, failed=bulk.failed,
                  skipped=bulk.skipped + len(skipped), errors=[visible(e, 300) for e in bulk.errors] + skipped,
                  message=message)


def ago(now: float, at: float | None) -> str:
    if at is None:
        return ""
    s = max(0, int(now - at))
    if s < 90:
        return f"{s} s ago"
    if s < 5400:
        return f"{s // 60} min ago"
    if s < 172800:
        return f"{s // 3600} h ago"
    return f"{s // 86400} d ago"


def seconds_of(cmd: Command) -> int:
    seconds = cmd.params.get("seconds")
    if isinstance(seconds, str):
        seconds = parse_duration(seconds)
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds <= 400 * 86400:
        raise ServiceError(f"{cmd.name} needs seconds: a duration above 0")
    return int(seconds)


def already_blacklisted(svc: "Service", pattern: str, skipped: list[str]) -> bool:
    entry = svc.moderation.blacklist.get(pattern)
    if entry is None:
        return False
    skipped.append(f"{visible(pattern, 60)}: already blacklisted by {entry.added_by} "
                   f"{ago(svc.engine.now(), entry.added_at)}")
    return True
