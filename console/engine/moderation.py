"""Moderation: the operator's actions and the automatic ones, over one pipeline.

It watches the event stream (a blacklisted member joining or speaking is
removed within one poll; newcomers are welcomed; mentioned members answering
are counted), fires due schedules on the engine's tick, and offers the
commands the console and the CLI bind to keys and subcommands.
"""
from __future__ import annotations

import asyncio
import logging
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator

from connectors.events import Event, Join, Message
from console.engine.actions.blacklist import Blacklist, BlacklistEntry
from console.engine.actions.ledger import DB as LEDGER_DB
from console.engine.actions.ledger import Ledger, os_user
from console.engine.actions.mentions import DEFAULT_BATCH, Mentions
from console.engine.actions.model import ACTING_AS, Action, ActionError, ActionKind, ActionState, BulkReport
from console.engine.actions.pipeline import ActionPipeline
from console.engine.actions.schedules import Schedules
from console.engine.actions.warnings import Warnings
from console.engine.alerts import Alert, Change
from console.engine.engine import Engine
from console.engine.settings import Settings
from console.engine.text import visible

log = logging.getLogger("groupwatch.moderation")
DB = "moderation"
OUTBOX = "outbox"  # actions of the last intent, written with it: a crash before the ledger has them loses none
AUTO_AD_ACTIONS = {"off": (), "delete": (ActionKind.DELETE,), "kick": (ActionKind.KICK,),
                   "delete+kick": (ActionKind.DELETE, ActionKind.KICK)}


@dataclass(slots=True)
class Notice:
    at: float
    text: str


class Moderation:
    def __init__(self, settings: Settings, store, engine: Engine, *, read_only: bool | None = None,
                 actor: str | None = None) -> None:
        s = settings.actions
        self.settings, self.store, self.engine = settings, store, engine
        self.default_actor = actor or settings.operator or os_user()
        with store.decoding(LEDGER_DB):
            self.ledger = Ledger(store, clock=engine.now)  # one timeline with the events (simulated in the demo)
        ro = s.read_only if read_only is None else read_only
        self.pipeline = ActionPipeline(self.ledger, engine.connector_for, read_only=ro, actor=self.default_actor)
        # due() runs once per engine tick or poll; a fire must not look "missed" between two of them.
        span = settings.demo.speed if settings.is_demo else 0.0
        with store.decoding(DB):
            self.blacklist = Blacklist(store, self.ledger, engine.now)
            self.warnings = Warnings(store, self.ledger, s.warn_window_days, s.escalation)
            self.mentions = Mentions(store, s.mention_cooldown_days, s.reactivation_days)
            self.schedules = Schedules(store, self.ledger, engine.now,
                                       grace=max(120.0, 2 * settings.engine.tick_seconds, 2 * span))
            for d in store.read_table(DB, OUTBOX):
                Action.from_doc(d)  # checked now, not in the middle of recovery
        self.notices: deque[Notice] = deque(maxlen=200)
        self.listeners: list[Callable[[Notice], None]] = []
        self._queue: list[Action] = []
        self._due: list = []
        self._wake: asyncio.Event | None = None
        engine.observers.append(self)
        engine.services.append(self._worker)
        self._attach_ad_model(settings, store, engine)
        if engine.media is not None:  # QR payloads sent by blacklisted members are known-bad
            engine.media.is_blacklisted = lambda member, at: self.blacklist.match(member, at) is not None

    def _attach_ad_model(self, settings: Settings, store, engine: Engine) -> None:
        """The ad detector's learned model: trained base, saved verdicts replayed, new verdicts saved."""
        from console.engine.config import ConfigError
        from console.engine.detectors.ad_model import AdLearning

        ad = settings.detectors.ad
        self._auto_ad = AUTO_AD_ACTIONS.get(ad.auto_action)
        self._auto_done: dict[tuple, None] = {}  # (group, member, message) acted on, oldest first
        if self._auto_ad is None:
            raise ConfigError(f"detectors.ad.auto_action must be one of {', '.join(AUTO_AD_ACTIONS)}, "
                              f"got {ad.auto_action!r}")
        self.ad_learning = AdLearning.attach(engine.detectors, store, ad, clock=engine.now)
        for problem in self.ad_learning.problems if self.ad_learning is not None else ():
            log.warning("%s", problem)
            self.notify(problem)
            getattr(store, "warnings", []).append(problem)
        if self._auto_ad:
            engine.alerts.subscribe(self._auto_act_on_ad)

    @property
    def actor(self) -> str:
        """Who the running command is for (set by the service per command), else this engine's operator."""
        return ACTING_AS.get() or self.default_actor

    @property
    def read_only(self) -> bool:
        return self.pipeline.read_only

    def notify(self, text: str) -> None:
        n = Notice(self.engine.now(), text)
        self.notices.append(n)
        for listener in self.listeners:
            listener(n)

    # --- the event stream (hot path: cheap lookups only; the work is queued) ---

    def on_event(self, ev: Event) -> None:
        if type(ev) is Message:
            self.mentions.on_message(ev.group, ev.sender, ev.at)
            if self.blacklist.match(ev.sender, ev.at) is not None:
                self._queue_removal(ev.group, ev.sender)
        elif type(ev) is Join:
            action = self.blacklist.on_join(ev.group, ev.member, ev.at, capabilities=self.capabilities(ev.group))
            if action is not None:
                self._enqueue(action)
                self.notify(f"auto-removing blacklisted {ev.member_name} ({ev.member}) who joined {ev.group}")
            elif self._welcomes(ev.group):
                self._enqueue(self._welcome(ev))

    def on_tick(self, now: float) -> None:
        for entry in self.blacklist.expire(now):
            # Platforms without timed bans (Matrix) keep a ban until it is lifted: lift it as a removal would.
            for action in self.blacklist.lifting(entry, self.engine.stats.groups, self.capabilities):
                self._enqueue(action)
            self.notify(f"blacklist entry {entry.pattern} expired")
        self.mentions.flush()
        if self.read_only:
            return  # claiming fires here would lose them; the missed policy applies once posting is allowed
        due = self.schedules.due(now)
        if due:
            self._due.extend(due)
            self._kick_worker()

    def _queue_removal(self, group: str, member: str) -> None:
        # Keyed by when they joined (not by the message), so a member who keeps talking is removed once.
        ms = self.engine.stats.member(group, member)
        joined = float(ms.joined_at or 0.0) if ms else 0.0
        action = self.blacklist.on_join(group, member, joined, capabilities=self.capabilities(group))
        if action is not None:
            self._enqueue(action)

    def _enqueue(self, action: Action) -> None:
        if self.read_only:
            return  # watchers' consoles never act, not even automatically
        self._queue.append(action)
        self._kick_worker()

    def _kick_worker(self) -> None:
        if self._wake is not None:
            self._wake.set()

    @contextmanager
    def _intent(self) -> Iterator[Callable[[list[Action]], None]]:
        """One operator intent (a warning, a blacklist entry, a round of mentions) and the actions
        that carry it out, committed in one write of the moderation db (the outbox holds the
        actions until the ledger records them): after a crash there is never an intent whose
        actions were lost, nor actions without their intent."""
        staged: list[Action] = []
        with self.store.deferred(DB, LEDGER_DB):
            yield staged.extend
            self.store.replace_table(DB, OUTBOX, [a.to_doc() for a in staged])
            self.store.commit(DB)

    def recover_outbox(self) -> int:
        """Record the actions of an intent that a crash cut off before the ledger had them."""
        docs = self.store.read_table(DB, OUTBOX)
        if not docs or self.read_only:
            return 0
        lost = []
        for d in docs:
            a = Action.from_doc(d)
            if a.key and self.ledger.by_key(a.key) is None:
                a.id, a.state, a.attempts, a.result, a.finished_at = 0, ActionState.PENDING, 0, "", None
                lost.append(a)
        if lost:
            self.ledger.record(lost)
            log.warning("recovered %d action(s) of an intent interrupted before they were recorded", len(lost))
        self.store.replace_table(DB, OUTBOX, [])
        self.store.commit(DB)
        return len(lost)

    async def _worker(self) -> None:
        self._wake = asyncio.Event()
        self.recover_outbox()
        await self.pipeline.recover()
        self._due.extend(self.schedules.interrupted())  # fires claimed before a crash; their keys make this safe
        self._wake.set()
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self.drain()

    async def finish(self) -> None:
        """After the engine stopped: carry out what was already started (an intent's outbox, a
        schedule fire claimed, queued and pending actions), as the next start would."""
        self.recover_outbox()
        self._due.extend(self.schedules.interrupted())
        await self.drain()
        await self.pipeline.recover()

    async def drain(self) -> BulkReport | None:
        """Carry out queued automatic actions and due schedules now."""
        report = None
        while self._queue:
            batch, self._queue = self._queue, []
            report = await self.pipeline.run(batch)
            for e in report.errors:
                self.notify(f"automatic action failed: {e}")
        while self._due:
            schedule, fire = self._due.pop(0)
            r = await self.schedules.fire(schedule, fire, self.engine.summaries(), self.pipeline)
            self.notify(f"schedule {schedule.id}: {r.summary()}")
        return report

    # --- welcome ---

    def _welcomes(self, group: str) -> bool:
        targets = self.settings.actions.welcome_groups
        if not targets:
            return False
        g = self.engine.stats.groups.get(group)
        tags = g.tags if g else ()
        return any(t == "all" or t == group or (t.startswith("tag:") and t[4:] in tags) for t in targets)

    def _welcome(self, ev: Join) -> Action:
        s = self.settings
        text = (s.actions.welcome_text.replace("{mention}", f"@{ev.member_name}")
                .replace("{group}", self.engine.group_name(ev.group) or ev.group)
                .replace("{rules}", s.rules_for(ev.group)))
        return Action(ActionKind.SEND, ev.group, ev.member, text=text, mentions=(ev.member,), origin="welcome",
                      actor="auto:welcome", key=f"welcome:{ev.group}:{ev.member}:{int(ev.at)}")

    # --- operator commands ---

    def capabilities(self, group: str) -> frozenset:
        conn = self.engine.connector_for(group)
        return conn.capabilities if conn is not None else frozenset()

    async def warn(self, group: str, member: str, reason: str = "", alert: int | None = None):
        """Warn (restating the rules); escalate by the policy. Returns (outcome, report).
        A warning from an ad alert teaches the ad model that its message is an ad."""
        name = self.engine.member_name(group, member) or member
        now = self.engine.now()
        with self._intent() as stage:
            outcome = self.warnings.prepare(group, member, name, self.settings.rules_for(group), reason,
                                            self.actor, now, alert)
            actions = list(outcome.actions)
            if outcome.step is not None and outcome.step.action == "blacklist":
                actions += self._enforce(self.blacklist.add(
                    BlacklistEntry(pattern=member, reason=f"{outcome.count} warnings: {reason}".rstrip(": "),
                                   evidence={"group": group, "alert": alert}), "auto:escalation"))
            stage(actions)
        if alert is not None:
            self._teach_from(alert, "warn")
        report = await self.pipeline.run(actions)
        self.notify(outcome.message)
        return outcome, report

    def _enforce(self, entry: BlacklistEntry) -> list[Action]:
        return self.blacklist.enforcement(entry, self.engine.stats, self.engine.stats.groups, self.capabilities)

    async def blacklist_add(self, pattern: str, *, reason: str = "", expires_at: float | None = None,
                            evidence: dict | None = None, actor: str | None = None):
        with self._intent() as stage:
            entry = self.blacklist.add(BlacklistEntry(pattern=pattern, reason=reason, expires_at=expires_at,
                                                      evidence=evidence or {}), actor or self.actor)
            actions = self._enforce(entry)
            stage(actions)
        if self.engine.media is not None:  # every copy of their QR codes, flagged at once
            now = self.engine.now()
            self.engine.media.blacklisted(lambda member: self.blacklist.match(member, now) is not None)
        if evidence and isinstance(evidence.get("alert"), int):
            self._teach_from(evidence["alert"], "blacklist")
        report = await self.pipeline.run(actions)
        return entry, report

    # --- the ad model's lessons ---

    def verdict(self, alert_id: int, is_ad: bool) -> str:
        """The operator's verdict on an ad alert: the model learns its message as an ad or not.
        "Not an ad" also dismisses the alert. Returns a one-line notice (also for a refusal)."""
        alert = self.engine.alerts.get(alert_id)
        if alert is None:
            return f"no alert #{alert_id}"
        if alert.kind != "ad":
            return f"alert #{alert_id} is a {alert.kind} alert: verdicts are for ad alerts"
        notice = self._teach(alert, is_ad, "verdict", notify=False)
        if not is_ad and alert.is_live:
            self.engine.alerts.resolve(alert_id, self.engine.now(), self.actor)
            notice += "; alert dismissed"
        self.notify(notice)
        return notice

    def _teach_from(self, alert_id: int, source: str) -> None:
        """A warning or a blacklisting from an ad alert: its message was an ad."""
        alert = self.engine.alerts.get(alert_id)
        if alert is not None and alert.kind == "ad":
            self._teach(alert, True, source, notify=True)

    def _teach(self, alert: Alert, is_ad: bool, source: str, *, notify: bool) -> str:
        """Teach the ad model the alert's message; a one-line notice of what happened."""
        learning = self.ad_learning
        head = f"alert #{alert.id}: "
        if learning is None:
            return head + "the ad model is off (detectors.ad.model_weight = 0), nothing learned"
        text = self._alert_text(alert)
        if not text:
            return head + "no message text to learn from"
        key = self._verdict_key(alert)
        shown = visible(" ".join(text.split()), 40)
        what = "an ad" if is_ad else "not an ad"
        problems = len(learning.problems)
        if not learning.teach(text, is_ad, key=key, source=source, alert=alert.id, group=alert.group,
                              member=alert.member):
            return head + f"already learned \u201c{shown}\u201d as {what}"
        notice = head + f"the ad model learned \u201c{shown}\u201d as {what}"
        if notify:
            self.notify(notice)
        for problem in learning.problems[problems:]:  # e.g. the verdict could not be saved
            self.notify(problem)
        return notice

    @staticmethod
    def _verdict_key(alert: Alert) -> str:
        """One verdict per message (a second one on the same message is a changed mind)."""
        return f"{alert.group}\x1f{alert.message_id}" if alert.message_id else f"alert\x1f{alert.id}"

    def take_back(self, alert_id: int) -> tuple[bool, str]:
        """Undo a "not an ad" on an ad alert: the ad model forgets that verdict (what it taught, and the
        saved verdict, so a restart does not learn it again). (taken back, a one-line notice). Reopening
        the alert is the caller's."""
        alert = self.engine.alerts.get(alert_id)
        if alert is None:
            return False, f"no alert #{alert_id}"
        head = f"alert #{alert.id}: "
        if alert.kind != "ad":
            return False, head + f"a {alert.kind} alert has no verdict to take back"
        learning = self.ad_learning
        if learning is None:
            return True, head + "the ad model is off, nothing to forget"
        problems = len(learning.problems)
        how = learning.forget(self._verdict_key(alert), False)
        for problem in learning.problems[problems:]:
            self.notify(problem)
        if how is None:
            return True, head + "no 'not an ad' verdict to take back"
        notice = head + f"'not an ad' taken back, {how}"
        self.notify(notice)
        return True, notice

    def _alert_text(self, alert: Alert) -> str | None:
        """The alert's whole message while the group's recent messages hold it, else its excerpt."""
        g = self.engine.stats.groups.get(alert.group) if alert.group else None
        if g is not None and alert.message_id is not None:
            for m in reversed(g.recent):
                if m.id == alert.message_id:
                    return m.text
        return alert.excerpt

    def _auto_act_on_ad(self, alert: Alert, change: Change) -> None:
        """``detectors.ad.auto_action``: act unasked on an ad scoring at least ``auto_action_threshold``
        (off by default). Never a lesson for the model: it would learn from its own guesses."""
        if (alert.kind != "ad" or change not in (Change.NEW, Change.UPDATED) or alert.score is None
                or alert.score < self.settings.detectors.ad.auto_action_threshold or alert.group is None
                or self.read_only):
            return
        mark = (alert.group, alert.member, alert.message_id)
        if mark in self._auto_done:
            return
        self._auto_done[mark] = None
        if len(self._auto_done) > 10_000:
            del self._auto_done[next(iter(self._auto_done))]
        for kind in self._auto_ad:
            if kind is ActionKind.DELETE and not alert.message_id:
                continue
            target = alert.message_id if kind is ActionKind.DELETE else alert.member
            self._enqueue(Action(kind, alert.group, alert.member, message_id=alert.message_id,
                                 reason=f"ad (score {alert.score:.2f})", origin="auto:ad", actor="auto:ad",
                                 key=f"auto-ad:{kind.value}:{alert.group}:{target}"))
        self.notify(f"auto: {self.settings.detectors.ad.auto_action} on the ad from {alert.member} in "
                    f"{self.engine.group_name(alert.group)} (score {alert.score:.2f})")

    async def blacklist_remove(self, pattern: str) -> tuple[BlacklistEntry, BulkReport]:
        entry = self.blacklist.remove(pattern, self.actor)
        report = await self.pipeline.run(self.blacklist.lifting(entry, self.engine.stats.groups, self.capabilities))
        return entry, report

    def mention_batch(self, group: str) -> int:
        configured = self.settings.actions.mention_batch
        if configured > 0:
            return configured
        conn = self.engine.connector_for(group)
        return int(conn.max_mentions or DEFAULT_BATCH) if conn is not None else DEFAULT_BATCH

    def quiet_members(self, group: str) -> list:
        g = self.engine.stats.groups.get(group)
        if g is None:
            raise ActionError(f"unknown group {group}")
        days = self.settings.actions.mention_days or self.settings.detectors.silent_member.days
        return self.mentions.candidates(g, self.engine.now(), days)

    async def mention_quiet(self, group: str, members: list[str] | None = None) -> tuple[BulkReport, list[str]]:
        """Mention the group's quiet members (or the given ones, minus any in the cool-down)."""
        candidates = self.quiet_members(group)
        if members is not None:
            wanted = set(members)
            candidates = [m for m in candidates if m.id in wanted]
        if not candidates:
            return BulkReport(total=0), []
        g = self.engine.stats.groups[group]
        now = self.engine.now()
        actions = self.mentions.plan(g, candidates, self.settings.actions.mention_text, self.mention_batch(group),
                                     now, self.actor)
        with self._intent() as stage:
            self.mentions.record(actions, now)
            stage(actions)
        report = await self.pipeline.run(actions)
        return report, [m.id for m in candidates]

    async def post(self, groups: list[str], text: str) -> BulkReport:
        return await self.pipeline.run([Action(ActionKind.SEND, g, None, text=text, origin="post") for g in groups])

    async def act(self, kind: ActionKind, targets: list[tuple[str, str | None]], *, reason: str = "",
                  seconds: int | None = None, message_ids: dict | None = None) -> BulkReport:
        """Kick, ban, mute or delete over (group, member) rows, one or many."""
        actions = [Action(kind, g, m, reason=reason, seconds=seconds,
                          message_id=(message_ids or {}).get((g, m))) for g, m in targets]
        return await self.pipeline.run(actions)

    def cleanup_proposal(self, group: str) -> list[tuple[str, str, int]]:
        """Members with fewer than N messages in the period (not newcomers), for the operator to review."""
        s = self.settings.actions
        g = self.engine.stats.groups.get(group)
        if g is None:
            raise ActionError(f"unknown group {group}")
        now = self.engine.now()
        since = now - s.cleanup_days * 86400
        out = []
        for m in g.members.values():
            if not m.present or m.id.endswith(":operator") or (m.joined_at is not None and m.joined_at > since):
                continue
            n = m.messages_since(since)
            if n == 0 and m.last_message_at is not None and m.last_message_at >= since:
                n = 1  # spoke in the period before we started counting
            if n < s.cleanup_min_messages:
                out.append((m.id, m.name, n))
        return sorted(out, key=lambda r: (r[2], r[1]))

    async def apply_cleanup(self, group: str, members: list[str]) -> BulkReport:
        return await self.pipeline.run([Action(ActionKind.KICK, group, m, reason="monthly clean-up",
                                               origin="cleanup") for m in members])

    async def sync(self) -> None:
        """One poll of every connector, so a CLI command acts on the present state."""
        from console.runtime import poll_once

        await poll_once(self.engine)
