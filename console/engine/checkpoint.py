"""The engine's state in the store: what a checkpoint writes, and reading it back at start.

A checkpoint puts into the store the documents of what changed since the last
one, as marked where the change happened (``FleetStats.changes``, the alert
book's change events): its cost on the event loop is proportional to the
changes, not to the fleet or its history. The store (a journal, see
console.engine.journal) then writes them in a thread, all in one record, so
cursors, stats and alerts still reach the disk together.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

from console.engine.alerts import Alert, Change
from console.engine.state_docs import (SCHEMA, add_day, add_member, add_recent, check_members, day_doc, day_key,
                                       day_later, group_doc, group_from_doc, group_later, groups_from_legacy,
                                       member_doc, member_key, member_later, recent_doc, recent_key, recent_later)
from console.engine.stats import StatsChanges

if TYPE_CHECKING:
    from console.engine.engine import Engine

STATE_DB = "state"
# A checkpoint's staging on the event loop is cut into slices of about this long (the loop runs between
# them), in chunks of this many documents: at 500 events/s a checkpoint is a few slices.
SLICE_SECONDS = 0.003
CHUNK_DOCS = 100


class StateWriter:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.store = engine.store
        self._alerts_dirty: set[int] = set()
        self._alerts_saved: set[int] = set()
        self._cursors_saved: dict[str, str | None] | None = None
        self._meta_saved: dict | None = None
        self._qr_saved: tuple | None = None
        self._incidents_saved: set[int] = set()
        self._incidents_full = False
        self._full = False  # the next checkpoint writes everything (after reading the old layout)
        self.last_stage_s = 0.0  # how long the last checkpoint held the event loop
        engine.alerts.subscribe(self._on_alert)

    def _on_alert(self, alert: Alert, change: Change) -> None:
        self._alerts_dirty.add(alert.id)

    def alert_touched(self, alert: Alert) -> None:
        """An alert changed without a change event (a snoozed one kept current): save it too."""
        self._alerts_dirty.add(alert.id)

    # --- reading back

    def restore(self) -> None:
        e, store = self.engine, self.store
        stats = e.stats
        n = stats.recent_messages
        with store.decoding(STATE_DB):
            for doc in store.read_table(STATE_DB, "cursors"):
                e.cursors[doc["connector"]] = doc["cursor"]
            meta = store.get_doc(STATE_DB, "meta", "engine") or {}
            docs = store.read_table(STATE_DB, "groups")
            if docs and meta.get("schema", 1) < SCHEMA:
                for doc in docs:
                    g = groups_from_legacy(doc, n)
                    stats.groups[g.id] = g
                self._full = True  # rewritten in today's layout by the first checkpoint
            else:
                expected = {}
                for doc in docs:
                    g, expected[g.id] = group_from_doc(doc, n)
                    stats.groups[g.id] = g
                groups = stats.groups
                for doc in store.read_table(STATE_DB, "members"):
                    add_member(groups, doc)
                for doc in store.read_table(STATE_DB, "days"):
                    add_day(groups, doc)
                add_recent(groups, store.read_table(STATE_DB, "recent"))
                for gid, count in expected.items():
                    check_members(groups[gid], count)
            alerts = store.read_table(STATE_DB, "alerts")
            e.alerts.load_docs(alerts)
            if any("_key" not in d for d in alerts):
                self._full = True
            e.silences.load_docs(store.read_table(STATE_DB, "silences"))
            incidents = store.read_table(STATE_DB, "incidents")
            e.incidents.load_docs(incidents)
            if any("_key" not in d for d in incidents):
                self._incidents_full = True
            self._incidents_saved = {d["id"] for d in incidents if isinstance(d.get("id"), int)}
            e.stats.cohorts.load(store, STATE_DB)
            if e.media is not None:
                e.media.load_bad(store.read_table(STATE_DB, "qr_bad"))
            e.events_total = meta.get("events_total", 0)
            e._next_tick = meta.get("next_tick")
        stats.changes = StatsChanges()
        self._alerts_dirty.clear()
        self._alerts_saved = {a["id"] for a in alerts}
        self._cursors_saved = dict(e.cursors)
        self._meta_saved = meta

    # --- writing

    def stage(self, limit: int | None = None) -> bool:
        """Put what changed into the store's memory. With ``limit``, one slice: at most that many
        documents of stats, and no more than about ``SLICE_SECONDS`` of work: False while more are
        left (call again after letting the loop run). The call that returns True also puts the alerts,
        incidents, cursors and counters: the picture is consistent from there."""
        started = time.perf_counter()
        done = True
        if self._full:
            self._stage_everything()
        elif limit is None:
            self._stage_changes(None)
        else:
            done = self._stage_slice(limit, started)
        if done:
            self._stage_alerts()
            self._stage_small()
        self.last_stage_s = time.perf_counter() - started
        return done

    def _stage_slice(self, limit: int, started: float) -> bool:
        """Stats documents in chunks until none is left, ``limit`` is reached or the slice's time is up.
        True only when none is left with time to spare for the rest (alerts, cursors...) in this slice."""
        left = limit
        while left > 0:
            n = min(CHUNK_DOCS, left)
            if self._stage_changes(n):
                return time.perf_counter() - started < SLICE_SECONDS / 2
            left -= n
            if time.perf_counter() - started >= SLICE_SECONDS:
                break
        return False

    def _stage_changes(self, limit: int | None) -> bool:
        store, stats = self.store, self.engine.stats
        groups = stats.groups
        ch = stats.changes.take(limit)
        get = groups.get
        # Snapshots only (journal_records.Later): the documents are made in the committing thread.
        store.put_docs(STATE_DB, "groups", {gid: group_later(g) if (g := get(gid)) is not None else None
                                            for gid in ch.groups})
        store.put_docs(STATE_DB, "members", {
            member_key(gid, mid): member_later(gid, m) if (g := get(gid)) is not None
            and (m := g.members.get(mid)) is not None else None
            for gid, mid in ch.members})
        store.put_docs(STATE_DB, "days", {day_key(gid, day): day_later(g, day) if (g := get(gid)) is not None else None
                                          for gid, day in ch.days})
        store.put_docs(STATE_DB, "recent", {recent_key(gid, slot): (recent_later(*item) if item is not None else None)
                                            for (gid, slot), item in ch.recent.items()})
        return not stats.changes

    def _stage_alerts(self) -> None:
        store = self.store
        alerts = self.engine.alerts
        dirty, self._alerts_dirty = self._alerts_dirty, set()
        docs = {}
        for alert_id in dirty:
            a = alerts.get(alert_id)
            if a is not None:
                docs[str(alert_id)] = a.later()
                self._alerts_saved.add(alert_id)
        gone = [i for i in self._alerts_saved if alerts.get(i) is None]  # expired, or past the book's cap
        for alert_id in gone:
            docs[str(alert_id)] = None
            self._alerts_saved.discard(alert_id)
        store.put_docs(STATE_DB, "alerts", docs)

    def _stage_everything(self) -> None:
        """Every document (after reading the old layout): one big commit, then changes as usual."""
        store, stats = self.store, self.engine.stats
        groups = stats.groups.values()
        store.replace_table(STATE_DB, "groups", [{**group_doc(g), "_key": g.id} for g in groups])
        store.replace_table(STATE_DB, "members", [{**member_doc(g.id, m), "_key": member_key(g.id, m.id)}
                                                  for g in groups for m in g.members.values()])
        days = []
        for g in groups:
            for day in sorted({h // 24 for b in (g.hourly_messages, g.hourly_joins, g.hourly_leaves) for h in b}):
                doc = day_doc(g, day)
                if doc is not None:
                    days.append({**doc, "_key": day_key(g.id, day)})
        store.replace_table(STATE_DB, "days", days)
        recent = []
        for g in groups:
            size = g.recent.maxlen or 1
            first = g.recent_seq - len(g.recent)
            recent.extend({**recent_doc(n, m), "_key": recent_key(g.id, n % size)}
                          for n, m in enumerate(g.recent, first))
        store.replace_table(STATE_DB, "recent", recent)
        alerts = self.engine.alerts
        docs = [{**a.to_doc(), "_key": str(a.id)} for a in (*alerts.live(), *alerts.resolved())]
        store.replace_table(STATE_DB, "alerts", docs)
        stats.changes = StatsChanges()
        self._alerts_dirty.clear()
        self._alerts_saved = {d["id"] for d in docs}
        self._full = False

    def _stage_incidents(self) -> None:
        """The incidents changed since the last checkpoint, and the ones that left memory (deleted)."""
        store, incidents = self.store, self.engine.incidents
        if self._incidents_full:  # a table written whole before: rewrite it once, keyed
            changed = {i.id for i in (*incidents.live(), *incidents.ended())}
            store.replace_table(STATE_DB, "incidents", [])
            self._incidents_saved, self._incidents_full = set(), False
        else:
            changed = incidents.changed
        incidents.changed = set()
        docs: dict[str, dict | None] = {}
        for inc_id in changed:
            inc = incidents.get(inc_id)
            if inc is not None:
                docs[str(inc_id)] = inc.later()
                self._incidents_saved.add(inc_id)
        for inc_id in [i for i in self._incidents_saved if incidents.get(i) is None]:  # past the history's cap
            docs[str(inc_id)] = None
            self._incidents_saved.discard(inc_id)
        if docs:
            store.put_docs(STATE_DB, "incidents", docs)

    def _stage_small(self) -> None:
        """Cursors, counters, incidents, silences, retention cohorts, the known-bad QR codes and the tables
        other parts save with the checkpoint (the feed): small and bounded, written when they changed."""
        e, store = self.engine, self.store
        self._stage_incidents()
        if e.silences.dirty:
            store.replace_table(STATE_DB, "silences", e.silences.to_docs())
        e.stats.cohorts.save(store, STATE_DB)
        for name, docs in e.saved_with_checkpoint.items():
            store.replace_table(STATE_DB, name, docs())
        if e.cursors != self._cursors_saved:
            store.replace_table(STATE_DB, "cursors", [{"connector": k, "cursor": v} for k, v in e.cursors.items()])
            self._cursors_saved = dict(e.cursors)
        meta = {"events_total": e.events_total, "next_tick": e._next_tick, "schema": SCHEMA}
        if meta != self._meta_saved:
            store.put_doc(STATE_DB, "meta", "engine", meta)
            self._meta_saved = meta
        if e.media is not None:
            bad = e.media.bad
            mark = (len(bad), next(reversed(bad), None)) if bad else (0, None)
            if mark != self._qr_saved:
                store.replace_table(STATE_DB, "qr_bad", e.media.bad_docs())
                self._qr_saved = mark
