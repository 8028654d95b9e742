"""The big tables' rows, defined once for both sides of the socket: which columns a table has and
how one item of its view becomes a :class:`Row` (cells, sort values, filter fields).

The service filters, sorts and cuts a window with these (``console.service.windows``); the console
builds the window's rows with the very same functions, so `/tier:inactive` or a sort by `last` means
the same wherever it runs. A table whose view is listed in :data:`SPECS` is windowed: the console
receives only the rows around its cursor. Pure: rich text and the pure helpers of the screens."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from rich.text import Text

from console.engine.activity import TIERS
from console.engine.text import visible
from console.screens.cells import (PLATFORM_SHORT, SEVERITY_SHORT, SEVERITY_STYLE, TIER_SHORT, TIER_STYLE, ago,
                                   clock, percent, sparkline, untrusted)
from console.screens.table_layout import Column
from console.service.api import (AlertsPage, AlertView, FeedItemView, FeedPage, GroupRow, IncidentsPage,
                                 IncidentView)
from console.service.table_rows import Row

# --- groups ---

GROUP_COLUMNS = (
    Column("platform", "pf", 2, drop=1), Column("group", "group", 14, flex=1, unique="key"),
    Column("members", "membr", 5), Column("msgs", "m/1h", 4), Column("active", "act7d", 5),
    Column("tier", "tier", 4), Column("last", "last", 4), Column("left", "l24h", 4, aliases=("leaves",)),
    Column("alerts", "al", 3), Column("activity", "12h msgs", 12, aliases=("12h", "spark")),
)


def group_cells(r: GroupRow, now: float) -> list:
    return [PLATFORM_SHORT.get(r.platform, r.platform[:2]), untrusted(r.name, 60), str(r.members),
            str(r.messages_1h), percent(r.active_ratio), Text(TIER_SHORT[r.tier], style=TIER_STYLE[r.tier]),
            ago(now, r.last_message_at), str(r.leaves_24h),
            Text(str(r.open_alerts), style="bold red" if r.open_alerts else "dim"), sparkline(r.sparkline[-12:])]


def group_row(r: GroupRow, now: float) -> Row:
    sort = [r.platform, r.name, r.members, r.messages_1h, r.active_ratio, TIERS.index(r.tier),
            -(r.last_message_at or 0), r.leaves_24h, r.open_alerts, sum(r.sparkline[-12:])]
    # the filter matches the full words too: tier:inactive, platform:telegram (the schedules' syntax)
    return Row(r.id, lambda: group_cells(r, now), sort, extra={"id": r.id, "tags": " ".join(r.tags),
                                                                "tier": r.tier, "platform": r.platform})


def group_stamp(r: GroupRow, now: float) -> tuple:
    """What a group's row shows that can change: the same stamp, the same row."""
    return (r.name, r.members, r.messages_1h, r.active_ratio, r.tier, r.leaves_24h, r.open_alerts,
            tuple(r.sparkline[-12:]), ago(now, r.last_message_at))


# --- alerts and incidents ---

STATE_SHORT = {"open": "open", "acknowledged": "ack", "snoozed": "zz", "resolved": "done", "expired": "exp"}
SEVERITY_RANK = {"low": 0, "medium": 1, "high": 2}
RULE_SHORT = {"sender": "", "wave": "wave", "churn": "", "group_silence": "", "single": ""}  # the rest: the kind says it
KIND_SHORT = {"silent_member": "silent", "silent_group": "silent", "churn_spike": "churn"}

INCIDENT_COLUMNS = (  # the title names the sender and the group (or how many): the widest column
    Column("sev", "sev", 4), Column("age", "age", 3), Column("state", "st", 4), Column("kind", "kind", 10),
    Column("count", "n", 3), Column("title", "incident", 20, flex=3, aliases=("title",)),
    Column("who", "who", 6, flex=0.5, max=20),
)
ALERT_COLUMNS = (
    Column("sev", "sev", 4), Column("age", "age", 3), Column("state", "st", 4), Column("kind", "kind", 13),
    Column("group", "group", 12, flex=1, max=40, unique="group_id"),
    Column("member", "member", 10, flex=1, max=30, unique="member_id"),
    Column("reason", "reasons", 12, flex=2, aliases=("reason",)), Column("evidence", "evidence", flex=2, drop=1),
)


def alert_cells(a: AlertView, now: float, state: str) -> list:
    sev = a.severity
    return [Text(SEVERITY_SHORT[sev], style=SEVERITY_STYLE[sev]), ago(now, a.at), state, a.kind,
            untrusted(a.group_name or a.group or "(fleet)", 40), untrusted(a.member_name or a.member or "", 40),
            untrusted(a.reason, 200), untrusted(a.excerpt, 200, "dim")]


def alert_row(a: AlertView, now: float) -> Row:
    sev = a.severity
    state = STATE_SHORT.get(a.state, a.state)
    if a.claimed_by and a.state == "open":
        state = "clm"  # someone is on it: the detail pane says who
    cells = lambda: alert_cells(a, now, state)  # noqa: E731 (built when the table's window takes the row)
    sort = [SEVERITY_RANK.get(sev, 0), -a.at, a.state, a.kind, a.group_name or "", a.member_name or "", a.reason,
            a.excerpt or ""]
    return Row(str(a.id), cells, sort, extra={"id": str(a.id), "member_id": a.member or "",
                                               "group_id": a.group or "", "claimed": a.claimed_by or "",
                                               "handled": a.handled_by or ""})


def incident_state(i: IncidentView) -> str:
    if i.claimed_by and i.state in ("open", "acknowledged"):
        return "clm"  # someone is on it: the detail pane says who
    if i.state == "open" and i.silenced_by is not None:
        return "sil"
    if i.state == "open" and i.inhibited:
        return "inh"
    return STATE_SHORT.get(i.state, i.state)


def incident_row(i: IncidentView, now: float) -> Row:
    sev = i.severity
    rule = RULE_SHORT.get(i.rule, i.rule)
    kind = KIND_SHORT.get(i.kind, i.kind) + (f"/{rule}" if rule else "")
    who = i.claimed_by or i.acked_by or ""

    def cells() -> list:  # built when the table's window takes the row
        return [Text(SEVERITY_SHORT[sev], style=SEVERITY_STYLE[sev]), ago(now, i.at), incident_state(i), kind,
                str(i.count), untrusted(i.title, 200), untrusted(who, 20, "cyan")]

    sort = [SEVERITY_RANK.get(sev, 0), -i.at, i.state, kind, i.count, i.title, who]
    # the group filter (`group:^fans$`, the Groups screen's `a`) finds an incident by any of its groups
    extra_groups = "\n".join(visible(n, 80) for n in i.group_names)
    return Row(i.target, cells, sort, extra={"id": str(i.id), "rule": i.rule, "group": extra_groups,
                                            "member_id": " ".join(i.members[:20]),
                                            "group_id": " ".join(i.groups[:20]), "claimed": i.claimed_by or "",
                                            "acked": i.acked_by or ""})


def handled(state: str, handled_by: str | None = None, claimed_by: str | None = None) -> bool:
    """Work someone took: acknowledged, snoozed or acted on (hidden unless `h`). A claimed incident stays
    in sight: the team sees who is on it (state clm)."""
    if claimed_by and state in ("open", "acknowledged"):
        return False
    return state in ("acknowledged", "snoozed", "resolved", "expired") or bool(handled_by)


def shown_unless_handled(x: AlertView | IncidentView, params: dict) -> bool:
    """The Alerts screen hides handled work unless `h` (``hide_handled`` false)."""
    if not params.get("hide_handled", False):
        return True
    return not handled(x.state, getattr(x, "handled_by", None),
                       x.claimed_by if isinstance(x, IncidentView) else None)


# --- the feed ---

FLAG_STYLE = {"ad": "bold red", "flood": "yellow"}
FEED_COLUMNS = (  # at 80 columns the message keeps at least 30 cells: the reasons go first (`v` has them)
    Column("time", "time", 8), Column("group", "group", 11, flex=1, max=40, unique="group_id"),
    Column("sender", "sender", 9, flex=1, max=30, unique="member_id", aliases=("member", "from")),
    Column("kind", "flag", 4, aliases=("flagged",)), Column("text", "message", 30, flex=4, aliases=("msg",)),
    Column("reasons", "reasons", 20, flex=2, drop=1, aliases=("reason",)),
)


def feed_row(m: FeedItemView, now: float = 0.0) -> Row:
    flagged = bool(m.kinds)
    style = next((FLAG_STYLE.get(k, "yellow") for k in m.kinds), "") if flagged else ""
    group = m.group_name or m.group

    def cells() -> list:  # built when the table's window takes the row
        return [clock(m.at, with_date=False), untrusted(group, 40), untrusted(m.sender_name, 40),
                Text(",".join(m.kinds), style=style), untrusted(m.text, 300, style),
                untrusted("; ".join(m.reasons), 200, "dim")]

    sort = [-m.at, group, m.sender_name, ",".join(m.kinds), m.text, "; ".join(m.reasons)]
    return Row(str(m.seq), cells, sort, extra={"group_id": m.group, "member_id": m.sender})


# --- the registry ---

def _everything(item: Any, params: dict) -> bool:
    return True


@dataclass(frozen=True, slots=True)
class TableSpec:
    view: str                                   # the query whose answer the table shows
    columns: tuple[Column, ...]
    items: Callable[[Any], list]                # the answer's rows, in the view's own order
    with_items: Callable[[Any, list], Any]      # the answer holding only these rows
    key: Callable[[Any], str]                   # a row's key (Row.key without building the Row)
    row: Callable[[Any, float], Row]
    view_params: tuple[str, ...] = ()           # the table's params the view itself takes
    keep: Callable[[Any, dict], bool] = _everything  # rows the screen shows before any filter
    more_fields: tuple[str, ...] = ()           # filterable words beyond the columns and the rows' ids


SPECS: dict[str, TableSpec] = {s.view: s for s in (
    TableSpec("groups", GROUP_COLUMNS, lambda page: page, lambda page, items: items, lambda r: r.id, group_row),
    TableSpec("incidents", INCIDENT_COLUMNS, lambda page: page.incidents,
              lambda page, items: IncidentsPage(items, page.total), lambda i: i.target, incident_row,
              keep=shown_unless_handled, more_fields=("group", "rule")),
    TableSpec("alerts", ALERT_COLUMNS, lambda page: page.alerts, lambda page, items: AlertsPage(items, page.total),
              lambda a: str(a.id), alert_row, keep=shown_unless_handled, more_fields=("group", "rule")),
    TableSpec("feed", FEED_COLUMNS, lambda page: page.items, lambda page, items: FeedPage(items, page.last_seq),
              lambda m: str(m.seq), feed_row, view_params=("flagged", "group", "limit")),
)}
