"""The service API: the one door into the engine.

Everything a console or a subcommand sees is one of the view dataclasses
here, built on the service side; everything it does is a :class:`Command`
with an explicit :class:`Actor`, answered by one :class:`Report`. They are
plain data (str, int, float, bool, None, lists, dicts and these classes), so
the same screen works in-process and over the socket (``wire`` encodes them).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

PROTOCOL = 3
"""Bumped whenever a view, a command or a message changes shape: a console and a service of
different protocols refuse each other with a one-line message."""


class Role(enum.StrEnum):
    VIEWER = "viewer"        # sees everything, changes nothing
    MODERATOR = "moderator"  # triage and platform actions
    ADMIN = "admin"          # also removes blacklist entries, imports, and manages schedules

    @property
    def rank(self) -> int:
        return ROLE_RANK[self]


ROLE_RANK = {Role.VIEWER: 0, Role.MODERATOR: 1, Role.ADMIN: 2}


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asks: the OS user of the peer (never what a message claims), the role the service gave
    them, and which console or command it is (several consoles may belong to one user)."""
    user: str
    role: Role
    session: str = ""  # "console 3", "cli blacklist", ...
    read_only: bool = False  # asked for by the client (--read-only): caps the role at viewer

    @property
    def effective_role(self) -> Role:
        return Role.VIEWER if self.read_only else self.role


# --- commands ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class CommandSpec:
    role: Role          # the least role that may run it
    what: str           # how a refusal names it: "blacklist", "schedule removal", ...
    confirm: bool = False  # touches a platform or cannot be undone: consoles ask first


COMMANDS: dict[str, CommandSpec] = {
    # alert triage (targets: alert ids, or "incident:<id>" for every alert of an incident)
    "ack": CommandSpec(Role.MODERATOR, "acknowledge"),
    "unack": CommandSpec(Role.MODERATOR, "un-acknowledge"),
    "snooze": CommandSpec(Role.MODERATOR, "snooze"),              # params: seconds
    "resolve": CommandSpec(Role.MODERATOR, "resolve"),
    "claim": CommandSpec(Role.MODERATOR, "claim"),
    "not_ad": CommandSpec(Role.MODERATOR, "not an ad"),
    "reopen": CommandSpec(Role.MODERATOR, "reopen"),  # resolved alerts back in the queue (a console's undo)
    "undo_not_ad": CommandSpec(Role.MODERATOR, "undo not an ad"),  # the verdict forgotten, the alerts reopened
    # platform actions from alerts (targets: alert ids)
    "warn_alerts": CommandSpec(Role.MODERATOR, "warn", True),
    "blacklist_alerts": CommandSpec(Role.MODERATOR, "blacklist", True),
    "delete_alerts": CommandSpec(Role.MODERATOR, "delete", True),
    "mute_alerts": CommandSpec(Role.MODERATOR, "mute", True),     # params: seconds
    # platform actions on members (targets: [group, member] pairs)
    "warn": CommandSpec(Role.MODERATOR, "warn", True),             # params: reason
    "kick": CommandSpec(Role.MODERATOR, "kick", True),             # params: reason
    "ban": CommandSpec(Role.MODERATOR, "ban", True),               # in these groups only; params: reason
    "mention": CommandSpec(Role.MODERATOR, "mention", True),       # targets: [group, member] or [group, null]
    # messages (targets: [group, message_id, member] triples)
    "delete": CommandSpec(Role.MODERATOR, "delete", True),
    "purge": CommandSpec(Role.MODERATOR, "purge", True),            # targets: member ids; deletes their
                                                                    # recent messages everywhere, resolves their alerts
    # posts (targets: group ids)
    "post": CommandSpec(Role.MODERATOR, "post", True),             # params: text
    # blacklist (targets: patterns)
    "blacklist_add": CommandSpec(Role.MODERATOR, "blacklist", True),  # params: reason, expires_at, evidence
    "blacklist_remove": CommandSpec(Role.ADMIN, "blacklist removal", True),
    "blacklist_import": CommandSpec(Role.ADMIN, "blacklist import", True),  # params: text, format
    # schedules (targets: schedule ids)
    "schedule_add": CommandSpec(Role.ADMIN, "schedule add"),       # params: id?, when, target, text, tz, missed
    "schedule_edit": CommandSpec(Role.ADMIN, "schedule edit"),     # one target; params as add
    "schedule_pause": CommandSpec(Role.ADMIN, "schedule pause"),
    "schedule_resume": CommandSpec(Role.ADMIN, "schedule resume"),
    "schedule_run_now": CommandSpec(Role.MODERATOR, "schedule run", True),
    "schedule_remove": CommandSpec(Role.ADMIN, "schedule removal", True),
    # silences (console.engine.silences)
    "silence_add": CommandSpec(Role.MODERATOR, "silence"),              # params: matchers, seconds, comment
    "silence_remove": CommandSpec(Role.MODERATOR, "silence removal"),   # targets: silence ids
}


@dataclass(slots=True)
class Command:
    name: str
    targets: list = field(default_factory=list)
    params: dict = field(default_factory=dict)


class Status(enum.StrEnum):
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(slots=True)
class Outcome:
    target: str
    status: Status
    reason: str = ""


@dataclass(slots=True)
class Report:
    """The one answer to every command: how many were done, failed or skipped, and why."""
    command: str
    total: int = 0
    done: int = 0
    failed: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)
    message: str = ""         # one line for a toast or the terminal
    refused: bool = False     # not allowed (role, read-only) or not valid: nothing was done
    data: dict = field(default_factory=dict)  # what a caller may want back (the schedule's id, ...)

    def counts(self) -> str:
        """'8/8 done, 1 failed': the numbers alone."""
        from console.engine.actions.model import counts_text

        return counts_text(self.done, self.total, self.failed, self.skipped)

    def summary(self) -> str:
        if self.refused or (not self.total and self.message):
            return self.message
        return f"{self.counts()}; {self.message}" if self.message else self.counts()


# --- views -------------------------------------------------------------------------------------

@dataclass(slots=True)
class OperatorView:
    user: str
    role: str
    session: str
    since: float  # wall time attached


@dataclass(slots=True)
class ConnectorView:
    name: str
    state: str   # ok, degraded, down
    reason: str


@dataclass(slots=True)
class HeaderView:
    version: int            # bumps with every change a console may show
    demo: bool
    read_only: bool         # the service itself runs read-only
    now: float              # the engine's clock (simulated in the demo)
    connectors: list[ConnectorView]
    events_per_s: float
    alerts_high: int
    alerts_medium: int
    alerts_low: int
    save_error: str | None
    operators: list[OperatorView]
    you: OperatorView | None = None
    refused: dict[str, str] = field(default_factory=dict)  # command -> why the asking actor may not run it
    events_total: int = 0   # taken in since the state began (benchmarks compare it over time)


@dataclass(slots=True)
class GroupRow:
    id: str
    name: str
    platform: str
    members: int
    messages_1h: int
    messages_24h: int
    active_ratio: float | None
    tier: str
    last_message_at: float | None
    joins: int
    leaves: int
    exit_rate: float | None
    open_alerts: int
    sparkline: list[int]
    tags: list[str]
    leaves_24h: int
    # New-member retention and reactivation: filled in the weekly report (None elsewhere, or when
    # nobody joined in the judged week / nobody mentioned could be judged yet).
    retention_7d: float | None = None    # of those who joined in the week judged, the share still here 7 days on
    retention_30d: float | None = None   # ... 30 days on (an older week)
    reactivation: float | None = None    # of the quiet members @-mentioned, the share who spoke soon after


@dataclass(slots=True)
class AlertView:
    id: int
    kind: str
    severity: str  # low, medium, high
    group: str | None
    group_name: str | None
    member: str | None
    member_name: str | None
    reasons: list[str]
    excerpt: str | None
    message_id: str | None
    score: float | None
    state: str  # open, acknowledged, snoozed, resolved
    first_at: float
    at: float
    hits: int
    snoozed_until: float | None = None
    claimed_by: str | None = None
    claimed_at: float | None = None
    handled_by: str | None = None  # who acted on it (warn, blacklist, ...), and what
    handled_at: float | None = None
    handled_how: str | None = None
    state_by: str | None = None    # who last acknowledged, snoozed or reopened it, and when
    state_at: float | None = None
    numbers: dict = field(default_factory=dict)

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)


@dataclass(slots=True)
class AlertsPage:
    alerts: list[AlertView]  # in queue order
    total: int               # live alerts in all (the page may hold fewer)


@dataclass(slots=True)
class AlertChange:
    seq: int
    change: str  # new, updated, resolved, state
    alert: AlertView


@dataclass(slots=True)
class AlertChanges:
    changes: list[AlertChange]
    last: int
    missed: bool = False  # the caller fell further behind than the service keeps: some were skipped


@dataclass(slots=True)
class IncidentView:
    """Alerts that belong together (console.engine.incidents): one row of the Alerts screen."""
    id: int
    rule: str        # sender, wave, churn, group_silence, single
    key: str
    kind: str
    severity: str    # low, medium, high
    title: str       # plain text, neutralised
    count: int       # alerts that ever joined
    open_count: int  # of them still waiting for someone (not ended, not acted on)
    alert_ids: list[int]
    groups: list[str]
    group_names: list[str]
    members: list[str]
    first_at: float
    at: float
    state: str       # open, acknowledged, snoozed, resolved, expired
    acked_by: str | None = None
    acked_at: float | None = None
    claimed_by: str | None = None
    claimed_at: float | None = None
    resolved_by: str | None = None
    resolved_at: float | None = None
    snoozed_until: float | None = None
    silenced_by: int | None = None
    inhibited: bool = False
    paging: bool = True
    timeline: list[list] = field(default_factory=list)  # [at, text] pairs, oldest first

    @property
    def target(self) -> str:
        return f"incident:{self.id}"


@dataclass(slots=True)
class IncidentsPage:
    incidents: list[IncidentView]  # worst and newest first
    total: int                     # live incidents in all (the page may hold fewer)


@dataclass(slots=True)
class IncidentDetail:
    incident: IncidentView
    alerts: list[AlertView]  # the alerts inside, live ones first


@dataclass(slots=True)
class SilenceView:
    id: int
    matchers: dict
    starts_at: float
    ends_at: float
    created_by: str
    comment: str
    active: bool
    silencing: int  # live incidents it silences now


@dataclass(slots=True)
class FeedItemView:
    seq: int
    at: float
    group: str
    group_name: str | None
    sender: str
    sender_name: str
    message_id: str
    text: str
    kinds: list[str]
    reasons: list[str]
    alert: int | None


@dataclass(slots=True)
class TableWindow:
    """A window of a big table (query ``table``): the service filtered and sorted every row and sends
    the rows around the console's cursor (``console.service.windows`` says how)."""
    view: str             # the view the rows are of (``groups``, ``incidents``...)
    version: int          # asked again with ``since`` = this and nothing changed: ``unchanged``
    unchanged: bool       # the console's last window stands (``page`` is None)
    total: int            # rows the table has before the filter
    matching: int         # rows the filter lets through
    offset: int           # the place of the window's first row among the matching rows
    cursor: int           # where the cursor goes among the matching rows (-1: no rows)
    page: Any             # the view's answer holding the window's rows, then the marked rows outside it
    shown: int            # how many of the page's rows are the window's
    keys: list[str] | None = None   # every matching key in order, when asked (mark all, freeze, export)
    unknown: list[str] = field(default_factory=list)  # filter words before ':' that name no column


@dataclass(slots=True)
class FeedPage:
    items: list[FeedItemView]  # newest first
    last_seq: int


@dataclass(slots=True)
class MemberRow:
    id: str
    name: str
    last_message_at: float | None
    messages_30d: int
    warnings: int
    joined_at: float | None
    quiet: bool
    blacklisted: bool


@dataclass(slots=True)
class RecentMessage:
    at: float
    sender_name: str
    text: str


@dataclass(slots=True)
class ScheduleRef:
    id: str
    when: str
    paused: bool


@dataclass(slots=True)
class GroupDetail:
    summary: GroupRow
    member_list_complete: bool
    observed_since: float | None
    messages_48h: list[int]
    leaves_48h: list[int]
    members: list[MemberRow]
    recent: list[RecentMessage]  # newest first
    schedules: list[ScheduleRef]


@dataclass(slots=True)
class BlacklistRow:
    pattern: str
    reason: str
    added_by: str
    added_at: float
    expires_at: float | None
    present: int  # present members of watched groups it matches
    evidence: dict
    name: str = ""  # the member's display name where an exact id is known in a watched group


@dataclass(slots=True)
class PurgePreview:
    """What a purge of ``members`` would do now: the confirm dialog's numbers."""
    members: list[str]
    messages: int   # recent messages it would delete
    groups: int     # in this many groups
    too_old: int    # seen, but older than the platform lets a bot delete
    alerts: int     # live alerts about them it would resolve


@dataclass(slots=True)
class PreviewHit:
    group: str
    member: str
    name: str


@dataclass(slots=True)
class ScheduleRow:
    id: str
    paused: bool
    when: str
    cron: str | None
    times: list[str]
    tz: str
    target: str
    template: str
    missed: str
    next_run: float | None
    next_run_text: str
    created_by: str
    created_at: float = 0.0
    last_fire: float | None = None


@dataclass(slots=True)
class DryRunPost:
    group: str
    group_name: str | None
    text: str


@dataclass(slots=True)
class AuditRow:
    id: int
    at: float
    actor: str
    action: str
    result: str
    group: str | None
    group_name: str | None
    member: str | None
    member_name: str | None
    params: dict
    origin: str


@dataclass(slots=True)
class TeamRow:
    """One operator's work over the period (the playbook's butlers' work orders)."""
    operator: str
    claimed: int           # incidents (or alerts outside an incident) claimed
    acknowledged: int
    resolved: int
    median_ack_s: float | None  # from when it began to the first acknowledgement or claim, theirs
    timed: int             # the acknowledgements behind that median
    actions: dict          # kind ("warn", "blacklist", "delete", ...) -> count
    actions_total: int


@dataclass(slots=True)
class TeamReport:
    since: float | None
    until: float           # the engine's clock when it was built
    operators: list[TeamRow]  # busiest first


@dataclass(slots=True)
class NoticeView:
    """Something an operator should hear about: an action's result, an automatic step, a warning."""
    at: float
    text: str
    severity: str = "information"  # information, warning, error
    actor: str = ""
    count: int = 1  # notices folded into this one (new high alerts are told at most twice a second)


QUERIES = ("header", "groups", "alerts", "alert", "alert_changes", "feed", "group", "quiet", "blacklist",
           "blacklist_preview", "blacklist_export", "purge_preview", "schedules", "schedule_dry_run", "audit", "report",
           "connectors", "incidents", "incident", "silences", "alert_history", "team", "table")
"""Every query the service answers (``Service.query``); a name not here is refused."""


class Refused(Exception):
    """A command not allowed to this actor (role, read-only): one line, nothing done."""


class ServiceError(Exception):
    """A query or command that cannot be answered: an unknown view, a bad parameter (one line)."""
