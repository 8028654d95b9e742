"""An incident's words: its title and its timeline entries, plain text with strangers' names
neutralised (they reach screens, chat notifications and logs)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from console.engine.alerts import Alert
from console.engine.text import visible

if TYPE_CHECKING:
    from console.engine.incidents import Incidents
    from console.engine.incident_model import Incident


def group_words(names: Any, gid: str | None) -> str:
    name = names.group_name(gid) if names is not None and gid else gid
    return visible(name or "fleet", 30)


def member_words(names: Any, gid: str | None, mid: str | None) -> str:
    name = names.member_name(gid, mid) if names is not None and mid else mid
    return visible(name or "?", 30)


def alert_words(names: Any, a: Alert) -> str:
    who = f" by {member_words(names, a.group, a.member)}" if a.member else ""
    return f"{a.kind} in {group_words(names, a.group)}{who}"


def title(incs: "Incidents", inc: "Incident") -> str:
    names = incs.names
    n = len(inc.groups)
    first_group = inc.groups[0] if inc.groups else None
    groups = group_words(names, first_group) if n <= 1 else f"{n} groups"
    if inc.rule == "sender":
        who = member_words(names, first_group, inc.members[0] if inc.members else None)
        return f"{inc.kind} from {who} in {groups}"
    if inc.rule == "wave":
        excerpt = next((a.excerpt for a in incs.alerts_of(inc) if a.excerpt), "") or ""
        return f"ad wave: {len(inc.members)} senders in {groups}: {visible(excerpt, 40)}"
    if inc.rule == "churn":
        ads = sum(1 for a in incs.alerts_of(inc) if a.kind == "ad")
        return f"churn spike in {groups} after {ads} ad alert(s)"
    if inc.rule == "group_silence":
        kinds = {a.kind for a in incs.alerts_of(inc) if a.is_live}
        return f"{groups} silent" if "silent_group" in kinds else f"silent members in {groups}"
    a = incs.book.get(inc.alert_ids[0]) if inc.alert_ids else None
    return alert_words(names, a) if a is not None else inc.kind
