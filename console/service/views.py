"""The views: engine state turned into the plain rows consoles and subcommands show.

Built on the service side, so a console attached over the socket receives what it shows and
never reads the engine; rows of unchanged things are reused (keyed by what makes them differ)
so a refresh at a thousand groups costs what changed, not the whole fleet.
"""
from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import deque
from typing import TYPE_CHECKING

from console.engine.activity import TIERS, GroupSummary, summarize
from console.engine.alerts import Alert, AlertState, Change
from console.engine.detectors.base import Severity
from console.engine.feed import Feed, FeedItem
from console.engine.stats import DAY
from console.engine.team import OperatorWork, engine_team_work
from console.engine.weekly import GroupWeek, weekly_numbers
from console.service.api import (AlertChange, AlertChanges, AlertsPage, AlertView, AuditRow, BlacklistRow,
                                 ConnectorView, DryRunPost, FeedItemView, FeedPage, GroupDetail, GroupRow, MemberRow,
                                 PreviewHit, RecentMessage, ScheduleRef, ScheduleRow, ServiceError, TeamReport,
                                 TableWindow, TeamRow)
from console.service import windows

if TYPE_CHECKING:
    from console.runtime import Runtime

FEED_MAX = 2000
FEED_SAVED = 500  # feed items saved with the checkpoint: a restarted console shows the last ones at once
AUDIT_MAX = 100_000
# Alert changes a headless watcher may catch up on (it polls every second; one further behind is told it
# missed some). Each keeps its Alert alive after the book has let it go, so the log stays short.
CHANGES_KEPT = 5_000
PRESENT_TTL = 10.0     # wall seconds a blacklist entry's present-member count is reused
SHARED_TTL = 0.25      # wall seconds one answer serves every console that asks for the same view
SHARED_TTL_MANY = 1.0  # ... when many consoles are attached: each refreshes once a second anyway
MANY = 5


def queue_order(alerts: list[Alert]) -> list[Alert]:
    """Most severe and newest first; alerts about one member stay together, led by their worst."""
    clusters: dict[object, list[Alert]] = {}
    for a in alerts:
        key = (a.member,) if a.member is not None else a.id
        clusters.setdefault(key, []).append(a)
    for c in clusters.values():
        c.sort(key=lambda a: (-a.severity, -a.at, a.id))
    ordered = sorted(clusters.values(), key=lambda c: (-c[0].severity, -max(a.at for a in c), c[0].id))
    return [a for c in ordered for a in c]


def group_row(s: GroupSummary) -> GroupRow:
    return GroupRow(id=s.id, name=s.name, platform=s.platform, members=s.members, messages_1h=s.messages_1h,
                    messages_24h=s.messages_24h, active_ratio=s.active_ratio, tier=s.tier,
                    last_message_at=s.last_message_at, joins=s.joins, leaves=s.leaves, exit_rate=s.exit_rate,
                    open_alerts=s.open_alerts, sparkline=list(s.sparkline), tags=list(s.tags),
                    leaves_24h=s.leaves_24h)


def with_retention(rows: list[GroupRow], weeks: dict[str, GroupWeek]) -> list[GroupRow]:
    """The report's rows with retention and reactivation (copies: the shared group rows stay as they are)."""
    out = []
    for r in rows:
        w = weeks.get(r.id)
        out.append(r if w is None else dataclasses.replace(
            r, retention_7d=w.retention_7d.rate, retention_30d=w.retention_30d.rate,
            reactivation=w.reactivation.rate if w.reactivation is not None else None))
    return out


def team_row(w: OperatorWork) -> TeamRow:
    return TeamRow(operator=w.operator, claimed=len(w.claimed), acknowledged=len(w.acknowledged),
                   resolved=len(w.resolved), median_ack_s=w.median_ack_s, timed=len(w.ack_seconds),
                   actions=dict(sorted(w.actions.items(), key=lambda kv: (-kv[1], kv[0]))),
                   actions_total=w.actions_total)


class Views:
    """Every query's answer, from one runtime. Not thread-safe: called on the engine's loop."""

    def __init__(self, rt: "Runtime") -> None:
        self.rt = rt
        self.engine = rt.engine
        self.feed = Feed(FEED_MAX)
        self.feed.load_docs(self.engine.saved_table("feed"))
        self.engine.saved_with_checkpoint["feed"] = lambda: self.feed.to_docs(FEED_SAVED)
        self.engine.observers.append(self.feed)
        self.engine.alerts.subscribe(self.feed.on_alert)
        self.engine.alerts.subscribe(self._on_alert)
        self._groups: dict[str, tuple[GroupSummary, GroupRow]] = {}
        self._alerts: dict[int, tuple[tuple, AlertView]] = {}
        self._present: dict[str, tuple[float, int, str]] = {}
        self._changes: deque[tuple[int, str, Alert]] = deque(maxlen=CHANGES_KEPT)
        self._change_seq = 0
        self._shared: dict[tuple, tuple[float, object]] = {}
        self.shared_ttl = SHARED_TTL
        from console.service.views_incidents import IncidentViews

        self.incident_views = IncidentViews(self)
        self._versions = windows.Versions()

    def attached(self, sessions: int) -> None:
        """The more consoles attached, the longer one answer serves them all (an operator's own change
        still shows at once: it invalidates)."""
        self.shared_ttl = SHARED_TTL_MANY if sessions >= MANY else SHARED_TTL

    def shared(self, key: tuple, build):
        """One answer for every console asking within a quarter second: twenty consoles refreshing
        the same view cost the engine's loop one build, not twenty."""
        now = time.monotonic()
        hit = self._shared.get(key)
        if hit is not None and now - hit[0] < self.shared_ttl:
            return hit[1]
        value = build()
        self._shared[key] = (now, value)
        return value

    def invalidate(self) -> None:
        """Something changed that an operator did: the next answer is built afresh."""
        self._shared.clear()

    # --- the windows of the big tables (console.service.windows) ---

    def table(self, params: dict, view_now) -> TableWindow:
        """A window of a table, filtered and sorted here (on the loop: a console in this process asks)."""
        ask = windows.ask_from(params)
        page = view_now(ask.view, {k: ask.params[k] for k in ask.spec.view_params if k in ask.params})
        c = windows.cut(ask, page, self.engine.now())
        return windows.answer(ask, page, c, self._versions.version(c))

    async def table_async(self, params: dict, view_now) -> TableWindow:
        """The same for an attached console: a filter or sort over a big view runs in a thread, so the
        engine keeps taking events meanwhile (the view rows it reads are never changed in place)."""
        ask = windows.ask_from(params)
        page = view_now(ask.view, {k: ask.params[k] for k in ask.spec.view_params if k in ask.params})
        now = self.engine.now()
        if windows.is_heavy(ask, page):
            c = await asyncio.to_thread(windows.cut, ask, page, now)
        else:
            c = windows.cut(ask, page, now)
        return windows.answer(ask, page, c, self._versions.version(c))

    # --- alerts ---

    def _on_alert(self, alert: Alert, change: Change) -> None:
        self._change_seq += 1
        self._changes.append((self._change_seq, change.value, alert))

    def alert_view(self, a: Alert) -> AlertView:
        key = (a.at, a.state, a.hits, a.severity, a.reasons, a.claimed_by, a.handled_by, a.snoozed_until,
               a.excerpt, a.state_by, a.state_at)
        hit = self._alerts.get(a.id)
        if hit is not None and hit[0] == key:
            return hit[1]
        e = self.engine
        v = AlertView(id=a.id, kind=a.kind, severity=a.severity.label, group=a.group, group_name=e.group_name(a.group),
                      member=a.member, member_name=e.member_name(a.group, a.member) if a.member else None,
                      reasons=list(a.reasons), excerpt=a.excerpt, message_id=a.message_id, score=a.score,
                      state=a.state.value, first_at=a.first_at, at=a.at, hits=a.hits, snoozed_until=a.snoozed_until,
                      claimed_by=a.claimed_by, claimed_at=a.claimed_at, handled_by=a.handled_by,
                      handled_at=a.handled_at, handled_how=a.handled_how, state_by=a.state_by, state_at=a.state_at,
                      numbers=dict(a.numbers))
        if a.is_live:
            self._alerts[a.id] = (key, v)
        return v

    def alerts(self, limit: int | None = None) -> AlertsPage:
        return self.shared(("alerts", limit), lambda: self._alerts_page(limit))

    def _alerts_page(self, limit: int | None) -> AlertsPage:
        live = self.engine.alerts.live()
        ordered = queue_order(live)
        if limit is not None:
            ordered = ordered[:max(0, limit)]
        views = [self.alert_view(a) for a in ordered]
        if len(self._alerts) > 2 * len(live) + 1000:  # forget the rows of resolved alerts now and then
            keep = {a.id for a in live}
            self._alerts = {k: v for k, v in self._alerts.items() if k in keep}
        return AlertsPage(views, len(live))

    def alert(self, alert_id: int) -> AlertView | None:
        a = self.engine.alerts.get(alert_id)
        return self.alert_view(a) if a is not None else None

    def alert_changes(self, since: int) -> AlertChanges:
        oldest = self._changes[0][0] if self._changes else self._change_seq + 1
        out = []
        for seq, change, a in reversed(self._changes):  # newest first, up to the caller's cursor: a
            if seq <= since:                             # follower's poll costs what is new, not all kept
                break
            out.append(AlertChange(seq, change, self.alert_view(a)))
        out.reverse()
        return AlertChanges(out, self._change_seq, missed=since + 1 < oldest and since < self._change_seq)

    def counts(self) -> tuple[int, int, int]:
        return self.shared(("counts",), self._counts)

    def _counts(self) -> tuple[int, int, int]:
        """Open work: an alert someone acknowledged, snoozed or acted on has left the count."""
        high = medium = low = 0
        for a in self.engine.alerts.live():
            if a.state is not AlertState.OPEN or a.handled_by is not None:
                continue
            if a.severity is Severity.HIGH:
                high += 1
            elif a.severity is Severity.MEDIUM:
                medium += 1
            else:
                low += 1
        return high, medium, low

    # --- incidents and silences (views_incidents) ---

    def incidents(self, limit: int | None = None, ended: bool = False):
        return self.shared(("incidents", limit, ended), lambda: self.incident_views.page(limit, ended))

    def incident(self, incident_id: int):
        return self.incident_views.detail(incident_id)

    def silences(self):
        return self.incident_views.silences()

    def alert_history(self, limit: int | None = None):
        return self.incident_views.history(limit)

    # --- groups ---

    def groups(self) -> list[GroupRow]:
        return self.shared(("groups",), self._groups_now)

    def _groups_now(self) -> list[GroupRow]:
        out = []
        cache = self._groups
        for s in self.engine.summaries():
            hit = cache.get(s.id)
            # the engine keeps an unchanged group's summary object, but sets its alert count in place
            if hit is None or hit[0] is not s or hit[1].open_alerts != s.open_alerts:
                hit = cache[s.id] = (s, group_row(s))
            out.append(hit[1])
        return out

    def report(self) -> list[GroupRow]:
        rows = sorted(self.groups(), key=lambda r: (-r.open_alerts, -TIERS.index(r.tier), r.active_ratio or 0.0, r.id))
        return with_retention(rows, weekly_numbers(self.engine, self.rt.moderation, self.engine.now()))

    def team(self, since: float | None) -> TeamReport:
        e = self.engine
        work = engine_team_work(e, self.rt.moderation.ledger.audit_entries(since))
        return TeamReport(since=since, until=e.now(), operators=[team_row(w) for w in work])

    def group(self, group_id: str) -> GroupDetail:
        rt, e = self.rt, self.engine
        g = e.stats.groups.get(group_id)
        if g is None:
            raise ServiceError(f"unknown group {group_id}")
        mod = rt.moderation
        now = e.now()
        try:
            quiet = {m.id for m in mod.quiet_members(group_id)}
        except Exception:  # a group the mention policy cannot judge is shown without quiet marks
            quiet = set()
        since = now - 30 * DAY
        members = [MemberRow(id=m.id, name=m.name, last_message_at=m.last_message_at,
                             messages_30d=m.messages_since(since), warnings=mod.warnings.count(m.id, now),
                             joined_at=m.joined_at, quiet=m.id in quiet,
                             blacklisted=mod.blacklist.match(m.id, now) is not None)
                   for m in g.members.values() if m.present]
        open_alerts = sum(1 for a in e.alerts.live() if a.group == g.id)
        summary = group_row(summarize(g, now, rt.settings.detectors.activity, open_alerts))
        schedules = mod.schedules
        every = schedules.list()
        summaries = e.summaries() if every else []
        refs = [ScheduleRef(sc.id, sc.when, sc.paused) for sc in every
                if any(x.id == g.id for x in schedules.targets(sc, summaries))]
        recent = [RecentMessage(m.at, m.sender_name, m.text) for m in list(g.recent)[-20:][::-1]]
        return GroupDetail(summary=summary, member_list_complete=g.member_list_complete,
                           observed_since=g.observed_since,
                           messages_48h=g.hourly_series(g.hourly_messages, now, 48),
                           leaves_48h=g.hourly_series(g.hourly_leaves, now, 48), members=members, recent=recent,
                           schedules=refs)

    def quiet(self, groups: list[str]) -> dict[str, int]:
        out = {}
        for g in groups:
            try:
                out[g] = len(self.rt.moderation.quiet_members(g))
            except Exception:
                out[g] = 0
        return out

    # --- feed ---

    def feed_item(self, i: FeedItem) -> FeedItemView:
        m = i.message
        return FeedItemView(seq=i.seq, at=m.at, group=m.group, group_name=self.engine.group_name(m.group),
                            sender=m.sender, sender_name=m.sender_name, message_id=m.id, text=m.text,
                            kinds=list(i.kinds), reasons=list(i.reasons), alert=i.alert)

    def feed_page(self, flagged: bool = False, group: str | None = None, limit: int = 400) -> FeedPage:
        limit = max(0, min(limit, FEED_MAX))
        out = []
        for i in reversed(self.feed.items):
            if (flagged and not i.kinds) or (group is not None and i.message.group != group):
                continue
            out.append(self.feed_item(i))
            if len(out) >= limit:
                break
        last = self.feed.items[-1].seq if self.feed.items else 0
        return FeedPage(out, last)

    # --- blacklist, schedules, audit ---

    def blacklist(self) -> list[BlacklistRow]:
        bl = self.rt.moderation.blacklist
        out = []
        for e in bl.entries():
            present, name = self._count(e.pattern, e.evidence)
            out.append(BlacklistRow(e.pattern, e.reason, e.added_by, e.added_at, e.expires_at, present,
                                    dict(e.evidence), name))
        return out

    def _count(self, pattern: str, evidence: dict | None = None) -> tuple[int, str]:
        """Present members an entry matches, and the name of the member an exact id is (a scan of
        every group, so at most every 10 s)."""
        wall = time.monotonic()
        hit = self._present.get(pattern)
        if hit is None or wall - hit[0] > PRESENT_TTL:
            hits = self.rt.moderation.blacklist.preview(pattern, self.engine.stats)
            glob = any(c in pattern for c in "*?[")
            name = "" if glob else (hits[0][2] if hits else self._known_name(pattern, evidence or {}))
            hit = (wall, len(hits), name)
            self._present[pattern] = hit
        return hit[1], hit[2]

    def _known_name(self, member: str, evidence: dict) -> str:
        """A member who left or was banned is still known by name in the groups that saw them."""
        stats = self.engine.stats
        where = evidence.get("group")
        m = stats.member(where, member) if isinstance(where, str) else None
        if m is None:
            m = next((g.members[member] for g in stats.groups.values() if member in g.members), None)
        return m.name if m is not None and m.name != member else ""

    def blacklist_preview(self, pattern: str) -> list[PreviewHit]:
        return [PreviewHit(g, m, name) for g, m, name in
                self.rt.moderation.blacklist.preview(pattern, self.engine.stats)]

    def schedules(self) -> list[ScheduleRow]:
        from console.engine.actions.schedules import fmt_time

        sch = self.rt.moderation.schedules
        now = self.engine.now()
        out = []
        for s in sch.list():
            nxt = sch.next_run(s, now)
            out.append(ScheduleRow(id=s.id, paused=s.paused, when=s.when, cron=s.cron, times=list(s.times), tz=s.tz,
                                   target=s.target, template=s.template, missed=s.missed, next_run=nxt,
                                   next_run_text=fmt_time(nxt, s.tz) if nxt else "", created_by=s.created_by,
                                   created_at=s.created_at, last_fire=s.last_fire))
        return out

    def schedule_dry_run(self, schedule_id: str) -> list[DryRunPost]:
        from console.engine.actions.model import ActionError

        sch = self.rt.moderation.schedules
        try:
            s = sch.get(schedule_id)
        except (ActionError, KeyError) as err:
            raise ServiceError(str(err).strip("'\"")) from None
        return [DryRunPost(g, self.engine.group_name(g), body) for g, body in sch.dry_run(s, self.engine.summaries())]

    def audit(self, since: float | None = None, limit: int | None = None) -> list[AuditRow]:
        e = self.engine
        entries = self.rt.moderation.ledger.audit_entries(since)
        entries.sort(key=lambda x: (x.at, x.id), reverse=True)
        if limit is not None:
            entries = entries[:max(0, min(limit, AUDIT_MAX))]
        return [AuditRow(id=x.id, at=x.at, actor=x.actor, action=x.action, result=x.result, group=x.group,
                         group_name=e.group_name(x.group) if x.group else None, member=x.member,
                         member_name=e.member_name(x.group, x.member) if x.member else None, params=dict(x.params),
                         origin=x.origin) for x in entries]

    def connectors(self) -> list[ConnectorView]:
        from connectors.secrets import scrub

        return [ConnectorView(name, st.health.state.value, scrub(st.health.reason or ""))
                for name, st in self.engine.status.items()]
