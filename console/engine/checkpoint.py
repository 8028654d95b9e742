"""The engine's state in the store: what a checkpoint writes, and reading it back at start.

A checkpoint puts into the store the documents of what changed since the last
one, as marked where the change happened (``FleetStats.changes``, the alert
book's change events): its cost on the event loop is proportional to the
changes, not to the fleet or its history, and it is cut into slices of a
bounded number of documents (and about ``SLICE_SECONDS``), the loop running
between them, whatever the size of the change (a fleet's first checkpoint, an
expiry sweep, the rewrite of an old layout). The loop takes snapshots only
(``journal_records.Later``); the store (a journal, see console.engine.journal)
then makes the documents and writes them in a thread, all in one record, so
cursors, stats and alerts still reach the disk together.
"""
from __future__ import annotations

import contextlib
import sys
import time
from itertools import islice
from typing import TYPE_CHECKING, Iterable, Iterator, TypeVar

from console.engine.alerts import Alert, Change
from console.engine.state_docs import (SCHEMA, add_day, add_member, add_recent, check_members, day_doc, day_key,
                                       day_later, group_doc, group_from_doc, group_later, groups_from_legacy,
                                       member_doc, member_key, member_later, recent_doc, recent_key, recent_later)
from console.engine.journal_records import Later
from console.engine.stats import StatsChanges

if TYPE_CHECKING:
    from console.engine.engine import Engine

STATE_DB = "state"
# A checkpoint's staging on the event loop is cut into slices of about this long (the loop runs between
# them), in steps of at most this many documents: at 500 events/s a checkpoint is a few slices.
SLICE_SECONDS = 0.003
CHUNK_DOCS = 100
COMMIT_SWITCH_SECONDS = 0.001  # the GIL's switch interval while a checkpoint commits in its thread
SCAN_IDS = 1000  # saved ids checked per step for ones that left memory (a check costs a tenth of a document)

T = TypeVar("T")


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
        self._alerts_maybe_gone = False  # an alert ended since the last scan: older ones may have left the book
        self._steps: Iterator[int | object] | None = None  # the staging in progress (see stage())
        self.last_stage_s = 0.0  # how long the last slice held the event loop
        self.last_slice_docs = 0  # documents the last slice staged (besides the cursors and counters)
        self.slices = 0
        engine.alerts.subscribe(self._on_alert)

    def _on_alert(self, alert: Alert, change: Change) -> None:
        self._alerts_dirty.add(alert.id)
        if change is Change.RESOLVED:
            self._alerts_maybe_gone = True  # (the book's history drops its oldest as this one joins it)

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
        self._alerts_maybe_gone = True  # (the book keeps no more than its caps of what was saved)
        self._cursors_saved = dict(e.cursors)
        self._meta_saved = meta

    # --- writing

    def stage(self, limit: int | None = None) -> bool:
        """Put what changed into the store's memory. With ``limit``, one slice: at most about that many
        documents, in steps of at most ``CHUNK_DOCS``, and no more than about ``SLICE_SECONDS`` of work:
        False while more are left (call again after letting the loop run; what changed meanwhile is
        taken too). The call that returns True puts the cursors and counters right after the last of
        the changes, with no turn of the loop between: the picture is consistent from there. Without
        ``limit``: everything at once (the checkpoint on the way out, tests)."""
        started = time.perf_counter()
        docs = 0
        done = False
        if self._steps is None:
            self._steps = self._staging()
        try:
            for n in self._steps:
                if n is _CAUGHT_UP:
                    if limit is not None and docs and time.perf_counter() - started >= SLICE_SECONDS / 2:
                        break  # the rest in a slice of its own, after the loop ran (with what changed meanwhile)
                    self._steps = None
                    self._stage_small()
                    done = True
                    break
                docs += n
                if limit is not None and (docs >= limit or time.perf_counter() - started >= SLICE_SECONDS):
                    break
        except BaseException:
            self._steps = None  # (a failed step ended the staging: the next call starts afresh)
            raise
        self.last_stage_s = time.perf_counter() - started
        self.last_slice_docs = docs
        self.slices += 1
        return done

    def _staging(self) -> Iterator[int | object]:
        """One checkpoint's staging as steps of at most ``CHUNK_DOCS`` documents (each yields how many),
        then ``_CAUGHT_UP`` whenever nothing is left; resumed, it takes what changed since."""
        if self._full:
            yield from self._everything()
        alerts_gone = self._gone_scan("alerts", self._alerts_saved, self.engine.alerts.get) \
            if self._alerts_maybe_gone else None
        self._alerts_maybe_gone = False
        # (An incident leaves memory only as another one ends, which marks that one changed.)
        incidents_gone = self._gone_scan("incidents", self._incidents_saved, self.engine.incidents.get) \
            if self.engine.incidents.changed else None
        while True:
            stats = self.engine.stats
            if stats.changes:
                yield from self._stats_changes(stats.changes.take())
            elif self._alerts_dirty:
                yield from self._alerts_changed()
            elif alerts_gone is not None and (n := next(alerts_gone, None)) is not None:
                yield n
            elif self._incidents_full or self.engine.incidents.changed:
                yield from self._incidents_changed()
            elif incidents_gone is not None and (n := next(incidents_gone, None)) is not None:
                yield n
            else:
                yield _CAUGHT_UP

    def _stats_changes(self, ch: StatsChanges) -> Iterator[int]:
        """``ch`` (taken whole from the stats: new changes are marked apart meanwhile), in chunks."""
        store = self.store
        get = self.engine.stats.groups.get
        # Snapshots only (journal_records.Later): the documents are made in the committing thread.
        for keys in _drained(ch.groups):
            store.put_docs(STATE_DB, "groups", {gid: group_later(g) if (g := get(gid)) is not None else None
                                                for gid in keys})
            yield len(keys)
        for keys in _drained(ch.members):
            store.put_docs(STATE_DB, "members", {
                member_key(gid, mid): member_later(gid, m) if (g := get(gid)) is not None
                and (m := g.members.get(mid)) is not None else None
                for gid, mid in keys})
            yield len(keys)
        for keys in _drained(ch.days):
            store.put_docs(STATE_DB, "days", {day_key(gid, day): day_later(g, day) if (g := get(gid)) is not None
                                              else None for gid, day in keys})
            yield len(keys)
        recent = ch.recent
        for keys in _drained(recent):
            store.put_docs(STATE_DB, "recent", {
                recent_key(gid, slot): recent_later(*item) if (item := recent[gid, slot]) is not None else None
                for gid, slot in keys})
            yield len(keys)

    def _alerts_changed(self) -> Iterator[int]:
        alerts = self.engine.alerts
        dirty, self._alerts_dirty = self._alerts_dirty, set()
        for ids in _chunks(dirty):
            docs = {}
            for alert_id in ids:
                a = alerts.get(alert_id)
                if a is not None:
                    docs[str(alert_id)] = a.later()
                    self._alerts_saved.add(alert_id)
            self.store.put_docs(STATE_DB, "alerts", docs)
            yield len(ids)

    def _gone_scan(self, table: str, saved: set[int], lookup) -> Iterator[int]:
        """The saved documents of ``table`` whose thing left memory (``lookup`` finds it no more: expired,
        or past the history's cap) deleted, in steps. (One that left is gone for good: ids are never
        given again.)"""
        for ids in _chunks(list(saved), SCAN_IDS):
            docs = {}
            for thing_id in ids:
                if lookup(thing_id) is None:
                    docs[str(thing_id)] = None
                    saved.discard(thing_id)
            if docs:
                self.store.put_docs(STATE_DB, table, docs)
            yield CHUNK_DOCS * len(ids) // SCAN_IDS

    def _everything(self) -> Iterator[int]:
        """Every document (after reading the old layout), in chunks: the tables are cleared, and what
        changes meanwhile is marked as usual and staged after."""
        store, stats = self.store, self.engine.stats
        stats.changes.take()  # (all of it is written below, from the state as it is when its turn comes)
        self._alerts_dirty.clear()
        alerts = self.engine.alerts
        kept = [*alerts.live(), *alerts.resolved()]
        self._alerts_saved = {a.id for a in kept}
        self._alerts_maybe_gone = False
        self._full = False
        for table in ("groups", "members", "days", "recent", "alerts"):
            store.replace_table(STATE_DB, table, [])
        groups = list(stats.groups.values())
        for chunk in _chunks(groups):
            store.put_docs(STATE_DB, "groups", {g.id: group_later(g) for g in chunk})
            yield len(chunk)
        for g in groups:
            for chunk in _chunks(list(g.members.values())):
                store.put_docs(STATE_DB, "members", {member_key(g.id, m.id): member_later(g.id, m) for m in chunk})
                yield len(chunk)
        for g in groups:
            days = sorted({h // 24 for b in (g.hourly_messages, g.hourly_joins, g.hourly_leaves) for h in b})
            for chunk in _chunks(days):
                store.put_docs(STATE_DB, "days", {day_key(g.id, day): day_later(g, day) for day in chunk})
                yield len(chunk)
        for g in groups:
            size = g.recent.maxlen or 1
            first = g.recent_seq - len(g.recent)
            for chunk in _chunks(list(enumerate(g.recent, first))):
                store.put_docs(STATE_DB, "recent", {recent_key(g.id, n % size): recent_later(n, m) for n, m in chunk})
                yield len(chunk)
        for chunk in _chunks(kept):
            store.put_docs(STATE_DB, "alerts", {str(a.id): a.later() for a in chunk})
            yield len(chunk)

    def _incidents_changed(self) -> Iterator[int]:
        """The incidents changed since the last checkpoint (all of them, once, after a table that was
        written whole before), in chunks."""
        store, incidents = self.store, self.engine.incidents
        if self._incidents_full:  # rewritten once, keyed
            changed = [i.id for i in (*incidents.live(), *incidents.ended())]
            store.replace_table(STATE_DB, "incidents", [])
            self._incidents_saved, self._incidents_full = set(), False
        else:
            changed = incidents.changed
        incidents.changed = set()
        for ids in _chunks(changed):
            docs: dict[str, Later | None] = {}
            for inc_id in ids:
                inc = incidents.get(inc_id)
                if inc is not None:
                    docs[str(inc_id)] = inc.later()
                    self._incidents_saved.add(inc_id)
            if docs:
                store.put_docs(STATE_DB, "incidents", docs)
            yield len(ids)

    def _stage_small(self) -> None:
        """Cursors, counters, silences, retention cohorts, the known-bad QR codes and the tables
        other parts save with the checkpoint (the feed): small and bounded, written when they changed."""
        e, store = self.engine, self.store
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


_CAUGHT_UP = object()  # (a step of the staging: nothing is left to stage)


def _chunks(items: Iterable[T], size: int = CHUNK_DOCS) -> Iterator[list[T]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


@contextlib.contextmanager
def gil_handed_over_often() -> Iterator[None]:
    """Around the commit in its thread: while it encodes (Python code, which keeps the GIL until asked
    to let go), the loop waits for the GIL about ``COMMIT_SWITCH_SECONDS`` instead of CPython's 5 ms
    each time it wakes (one commit at a time: the checkpoint's lock)."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(COMMIT_SWITCH_SECONDS)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def _drained(marks: dict[T, object]) -> Iterator[list[T]]:
    """The keys of ``marks`` in chunks; each chunk leaves ``marks`` once handed over, so that a big batch
    (a fleet's first checkpoint: 130,000 marks) is freed a chunk at a time, not at once at its end."""
    keys: list = list(marks)
    for i in range(0, len(keys), CHUNK_DOCS):
        chunk = keys[i:i + CHUNK_DOCS]
        yield chunk
        for k in chunk:
            del marks[k]
        keys[i:i + CHUNK_DOCS] = [None] * len(chunk)
