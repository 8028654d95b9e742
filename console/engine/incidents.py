"""Incidents: the alerts that belong together, folded into one thing to page about and act on.

Rules, tried in this order for each new alert:
- ``group_silence``: a group's silent_group and silent_member alerts (one incident per group);
- ``churn``: a churn spike and the group's ad alerts of the hours before it;
- ``sender``: one member's ad and flood alerts, across groups;
- ``wave``: the same (normalised) ad text from several senders: a second sender's copy joins the
  first sender's incident, which becomes a wave (its key stays the one it opened with);
- ``single``: anything else.

An incident's state follows its alerts: acknowledged as soon as someone acknowledged, claimed or
acted on one of them; snoozed when all its open ones are; resolved when every alert is resolved or
handled; expired when they expired. Inhibition: while a group is silent (an open silent_group
alert), its silent-member alerts join without paging, and an incident of nothing else is inhibited.
"""
from __future__ import annotations

import contextlib
import itertools
from typing import TYPE_CHECKING, Callable, Iterator

from console.engine.alerts import Alert, AlertBook, AlertState, Change, EXPIRED_BY
from console.engine.incident_model import (CHANGES, ENDED, Incident, IncidentState,  # noqa: F401 (the API)
                                           last_attention, wave_text)
from console.engine.incident_words import alert_words, title

if TYPE_CHECKING:
    from console.engine.silences import Silences

IDS_MAX = 500          # alert ids an incident keeps; beyond, ended ones are forgotten (count still counts)
WAVE_KEYS_MAX = 20000  # remembered ad texts (each names a live incident)


Listener = Callable[[Incident, str], None]


class Incidents:
    """The live incidents (and a bounded history of ended ones), kept by listening to the alert book."""

    def __init__(self, book: AlertBook, clock: Callable[[], float], *, names=None, silences: "Silences | None" = None,
                 churn_window: float = 7200.0, keep_ended: int = 2000) -> None:
        self.book = book
        self.clock = clock
        self.names = names  # group_name / member_name (the engine), for titles
        self.silences = silences
        self.churn_window = churn_window
        self._live: dict[int, Incident] = {}
        # Ended incidents by id, oldest first (a bounded history: looked up by id at every checkpoint).
        self._ended: dict[int, Incident] = {}
        self._keep_ended = max(1, keep_ended)
        self._by_key: dict[str, int] = {}
        self._of_alert: dict[int, list[int]] = {}
        self._texts: dict[str, int] = {}
        self._texts_of: dict[int, list[str]] = {}  # incident id -> its texts in _texts (forgotten when it ends)
        self._ids = itertools.count(1)
        self._listeners: list[Listener] = []
        self._batch: set[int] | None = None
        self.dirty = False
        self.changed: set[int] = set()  # ids changed since the last checkpoint
        book.subscribe(self._on_alert)
        if silences is not None:
            silences.subscribe(self.recheck_silences)

    # --- reading ---

    def subscribe(self, callback: Listener) -> None:
        self._listeners.append(callback)

    def get(self, incident_id: int) -> Incident | None:
        hit = self._live.get(incident_id)
        if hit is not None:
            return hit
        return self._ended.get(incident_id)

    def live(self) -> list[Incident]:
        return list(self._live.values())

    def ended(self) -> list[Incident]:
        return list(self._ended.values())

    def __len__(self) -> int:
        return len(self._live)

    def of_alert(self, alert_id: int) -> list[Incident]:
        return [self._live[i] for i in self._of_alert.get(alert_id, ()) if i in self._live]

    def alerts_of(self, inc: Incident) -> list[Alert]:
        out = []
        for aid in inc.alert_ids:
            a = self.book.get(aid)
            if a is not None:
                out.append(a)
        return out

    # --- changes ---

    def _touch(self, inc: Incident) -> None:
        """Mark it changed: the checkpoint writes the incidents in ``changed``, not all of them."""
        self.dirty = True
        self.changed.add(inc.id)

    def _emit(self, inc: Incident, change: str) -> None:
        self._touch(inc)
        for cb in list(self._listeners):
            cb(inc, change)

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Alert changes inside are folded into one recount per incident at the end (a command on an
        incident of a thousand alerts recounts it once, not a thousand times)."""
        if self._batch is not None:
            yield
            return
        self._batch = set()
        try:
            yield
        finally:
            pending, self._batch = self._batch, None
            for iid in sorted(pending):
                inc = self._live.get(iid)
                if inc is not None:
                    self._recount(inc)

    def _on_alert(self, alert: Alert, change: Change) -> None:
        if change is Change.NEW:
            self._place(alert)
            return
        owners = self.of_alert(alert.id)
        if not owners and change is Change.STATE and alert.is_live:
            self._revive(alert)  # reopened by an operator after its incident ended
            return
        for inc in owners:
            if change is Change.UPDATED:
                if alert.severity > inc.severity:
                    inc.severity = alert.severity
                inc.at = max(inc.at, alert.at)
                self._touch(inc)
            elif self._batch is not None:
                self._batch.add(inc.id)
            else:
                self._recount(inc)

    # --- folding ---

    def _place(self, a: Alert) -> None:
        rule, key = "single", f"alert:{a.id}"
        joined: list[Alert] = [a]
        text = wave_text(a) if a.kind == "ad" else None
        if a.kind in ("silent_group", "silent_member") and a.group is not None:
            rule, key = "group_silence", f"silence:{a.group}"
        elif a.kind == "churn_spike" and a.group is not None:
            since = a.at - self.churn_window
            ads = [x for x in self.book.live() if x.kind == "ad" and x.group == a.group and x.at >= since]
            if ads:
                rule, key = "churn", f"churn:{a.group}"
                joined = [a] + sorted(ads, key=lambda x: x.id)
        elif a.member is not None and a.group is not None and a.kind not in ("silent_member",):
            rule, key = "sender", f"sender:{a.member}"
            if key not in self._by_key and text is not None and self._texts.get(text) in self._live:
                inc = self._live[self._texts[text]]
                key = inc.key
                if a.member not in inc.members and inc.rule == "sender":
                    inc.rule = "wave"
                    inc.note(a.at, "same text from another sender: an ad wave")
                alias = f"sender:{a.member}"
                if alias not in inc.aliases and alias != inc.key:
                    inc.aliases.append(alias)
                    self._by_key[alias] = inc.id
        iid = self._by_key.get(key)
        inc = self._live.get(iid) if iid is not None else None
        if inc is None:
            inc = Incident(id=next(self._ids), rule=rule, key=key, kind=a.kind, severity=a.severity, title="",
                           alert_ids=[], groups=[], members=[], first_at=a.at, at=a.at)
            self._live[inc.id] = inc
            self._by_key[key] = inc.id
            for x in joined:
                self._join(inc, x)
            inc.note(a.at, f"opened: {alert_words(self.names, a)}")
            self._recount(inc, quiet=True)
            self._check_silence(inc, quiet=True)
            if text is not None:
                self._remember_text(text, inc.id)
            self._emit(inc, "opened")
            return
        self._join(inc, a)
        if text is not None:
            self._remember_text(text, inc.id)
        inc.note(a.at, f"grew: {alert_words(self.names, a)}")
        self._recount(inc, quiet=True)
        self._check_silence(inc)
        if a.id not in inc.inhibited_ids:
            self._emit(inc, "grew")  # a silent member of a silent group joins without paging
        else:
            self._touch(inc)

    def _revive(self, a: Alert) -> None:
        """The ended incident that held this alert comes back (unless its key was taken since); else
        the alert is placed as if new."""
        old = next((i for i in reversed(self._ended.values()) if a.id in i.alert_ids), None)
        if old is None or any(self._by_key.get(k) in self._live for k in [old.key, *old.aliases]):
            self._place(a)
            return
        del self._ended[old.id]
        self._live[old.id] = old
        for k in [old.key, *old.aliases]:
            self._by_key[k] = old.id
        for aid in old.alert_ids:
            self._of_alert.setdefault(aid, []).append(old.id)
        old.state, old.resolved_by, old.resolved_at = IncidentState.OPEN, None, None
        old.note(self.clock(), f"reopened: {alert_words(self.names, a)}")
        self._recount(old, quiet=True)
        self._check_silence(old, quiet=True)
        self._emit(old, "reopened")

    def _join(self, inc: Incident, a: Alert) -> None:
        if a.id in inc.alert_ids:
            return
        inc.alert_ids.append(a.id)
        inc.count += 1
        self._of_alert.setdefault(a.id, []).append(inc.id)
        if a.group is not None and a.group not in inc.groups:
            inc.groups.append(a.group)
        if a.member is not None and a.member not in inc.members:
            inc.members.append(a.member)
        if (inc.rule in ("sender", "wave", "single") and a.severity > inc.severity) or a.kind == "silent_group":
            inc.kind = a.kind  # the dominant kind: a churn incident stays churn_spike whatever its ads
        inc.severity = max(inc.severity, a.severity)
        inc.at = max(inc.at, a.at)
        if len(inc.alert_ids) > IDS_MAX:
            keep = [i for i in inc.alert_ids if (x := self.book.get(i)) is not None and x.is_live]
            for gone in set(inc.alert_ids) - set(keep):
                self._unlink(gone, inc.id)
            inc.alert_ids = keep
        inc.title = title(self, inc)

    def _remember_text(self, text: str, iid: int) -> None:
        if self._texts.get(text) != iid:
            self._texts_of.setdefault(iid, []).append(text)
        self._texts[text] = iid
        if len(self._texts) > WAVE_KEYS_MAX:
            for t in [t for t, i in self._texts.items() if i not in self._live]:
                del self._texts[t]
            while len(self._texts) > WAVE_KEYS_MAX:
                del self._texts[next(iter(self._texts))]

    def _keep(self, inc: Incident) -> None:
        """Into the history of ended incidents; the oldest leaves it beyond its bound."""
        self._ended[inc.id] = inc
        while len(self._ended) > self._keep_ended:
            del self._ended[next(iter(self._ended))]

    def _unlink(self, alert_id: int, iid: int) -> None:
        owners = self._of_alert.get(alert_id)
        if owners is not None and iid in owners:
            owners.remove(iid)
            if not owners:
                del self._of_alert[alert_id]

    # --- state ---

    def _group_silent(self, group: str | None) -> bool:
        return group is not None and self.book.open_for("silent_group", group, None) is not None

    def _recount(self, inc: Incident, quiet: bool = False) -> None:
        """The incident's state from its alerts; the change told to subscribers."""
        alerts = self.alerts_of(inc)
        live = [a for a in alerts if a.is_live]
        pending = [a for a in live if a.handled_by is None]
        now = self.clock()
        before = (inc.state, inc.claimed_by, inc.inhibited)
        if inc.rule == "group_silence":
            silent = self._group_silent(inc.groups[0] if inc.groups else None)
            inc.inhibited_ids = [a.id for a in live if a.kind == "silent_member" and silent]
        inc.inhibited = bool(pending) and all(a.id in inc.inhibited_ids for a in pending)
        inc.open_count = len(pending)
        if live:
            inc.severity = max(a.severity for a in live)
        claims = [a for a in live if a.claimed_by]
        if claims:
            c = max(claims, key=lambda a: a.claimed_at or 0)
            inc.claimed_by, inc.claimed_at = c.claimed_by, c.claimed_at
        elif inc.claimed_by is not None and live:
            inc.claimed_by = inc.claimed_at = None
        if not pending:
            self._end(inc, alerts, now, quiet)
            return
        attended = [a for a in live if a.state is AlertState.ACKNOWLEDGED or a.claimed_by or a.handled_by]
        snoozed = [a for a in pending if a.state is AlertState.SNOOZED]
        if attended:
            state = IncidentState.ACKNOWLEDGED
            if inc.state is not IncidentState.ACKNOWLEDGED or inc.acked_by is None:
                inc.acked_at, inc.acked_by = last_attention(attended, now)
        elif len(snoozed) == len(pending):
            state = IncidentState.SNOOZED
        else:
            state = IncidentState.OPEN
        inc.snoozed_until = max((a.snoozed_until or 0 for a in snoozed), default=0) or None \
            if state is IncidentState.SNOOZED else None
        inc.state = state
        if state is not IncidentState.ACKNOWLEDGED:
            inc.acked_by = inc.acked_at = None
        inc.title = title(self, inc)
        self._touch(inc)
        if quiet:
            return
        was, was_claimed, _ = before
        if state is not was:
            change = {IncidentState.ACKNOWLEDGED: "acknowledged", IncidentState.SNOOZED: "snoozed",
                      IncidentState.OPEN: "reopened"}[state]
            inc.note(now, f"{change}" + (f" by {inc.acked_by}" if change == "acknowledged" and inc.acked_by else ""))
            self._emit(inc, change)
        if inc.claimed_by != was_claimed and inc.claimed_by is not None:
            inc.note(now, f"claimed by {inc.claimed_by}")
            self._emit(inc, "claimed")

    def _end(self, inc: Incident, alerts: list[Alert], now: float, quiet: bool) -> None:
        expired = bool(alerts) and all(a.state is AlertState.EXPIRED for a in alerts)
        inc.state = IncidentState.EXPIRED if expired else IncidentState.RESOLVED
        by = [a for a in alerts if a.resolved_by not in (None, "auto", EXPIRED_BY) or a.handled_by]
        if by:
            last = max(by, key=lambda a: max(a.handled_at or 0, a.at))
            inc.resolved_by = last.handled_by or last.resolved_by
        else:
            inc.resolved_by = "auto" if not expired else EXPIRED_BY
        inc.resolved_at = now
        inc.snoozed_until = None
        inc.at = max(inc.at, now)
        del self._live[inc.id]
        for k in [inc.key, *inc.aliases]:
            if self._by_key.get(k) == inc.id:
                del self._by_key[k]
        for aid in inc.alert_ids:
            self._unlink(aid, inc.id)
        for text in self._texts_of.pop(inc.id, ()):
            if self._texts.get(text) == inc.id:
                del self._texts[text]
        self._keep(inc)
        change = inc.state.value
        inc.note(now, change + (f" by {inc.resolved_by}" if inc.resolved_by not in ("auto", EXPIRED_BY) else ""))
        self._touch(inc)
        if not quiet:
            self._emit(inc, change)

    # --- silences ---

    def _check_silence(self, inc: Incident, quiet: bool = False) -> None:
        sid = None
        if self.silences is not None and inc.is_live:
            now = self.clock()
            live = [a for a in self.alerts_of(inc) if a.is_live] or self.alerts_of(inc)
            first = None
            for a in live:
                s = self.silences.silencing(a, now)
                if s is None:
                    first = None
                    break
                first = first or s
            sid = first.id if first is not None else None
        if sid == inc.silenced_by:
            return
        was = inc.silenced_by
        inc.silenced_by = sid
        self._touch(inc)
        if quiet:
            return
        if sid is not None:
            inc.note(self.clock(), f"silenced by silence #{sid}")
            self._emit(inc, "silenced")
        elif was is not None:
            inc.note(self.clock(), "silence ended")
            self._emit(inc, "unsilenced")

    def recheck_silences(self) -> None:
        for inc in list(self._live.values()):
            self._check_silence(inc)

    # --- ticks and persistence ---

    def tick(self, now: float) -> None:
        """Silences that ended give their incidents back to paging (Silences.tick tells us)."""
        if self.silences is not None:
            self.silences.tick(now)

    def to_docs(self) -> list[dict]:
        return [i.to_doc() for i in itertools.chain(self._live.values(), self._ended.values())]

    def load_docs(self, docs: list[dict]) -> None:
        top = 0
        for d in docs:
            inc = Incident.from_doc(d)
            top = max(top, inc.id)
            if inc.is_live:
                self._live[inc.id] = inc
                for k in [inc.key, *inc.aliases]:
                    self._by_key[k] = inc.id
                for aid in inc.alert_ids:
                    self._of_alert.setdefault(aid, []).append(inc.id)
                    a = self.book.get(aid)
                    if a is not None and a.kind == "ad" and (text := wave_text(a)) is not None:
                        self._remember_text(text, inc.id)
            else:
                self._keep(inc)
        self._ids = itertools.count(top + 1)
        # Alerts of an older checkpoint (before incidents), or ended while they were not listened to.
        placed = set(self._of_alert)
        for a in sorted(self.book.live(), key=lambda a: a.id):
            if a.id not in placed:
                self._place(a)
        for inc in list(self._live.values()):
            self._recount(inc, quiet=True)
        self.dirty = False
