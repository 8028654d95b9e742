"""What an incident is (console.engine.incidents keeps them): its states, its fields, how it is saved."""
from __future__ import annotations

import enum
from dataclasses import dataclass, field

from console.engine.alerts import Alert, AlertState
from console.engine.detectors.base import Severity
from console.engine.journal_records import Later

WAVE_TEXT_MIN = 8      # shorter texts are too common to tie senders together
TIMELINE_MAX = 30      # entries of an incident's timeline (the first few and the latest are kept)


class IncidentState(enum.StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    SNOOZED = "snoozed"
    RESOLVED = "resolved"
    EXPIRED = "expired"


ENDED = (IncidentState.RESOLVED, IncidentState.EXPIRED)
CHANGES = ("opened", "grew", "acknowledged", "claimed", "snoozed", "reopened", "resolved", "expired", "silenced",
           "unsilenced")


@dataclass(slots=True)
class Incident:
    id: int
    rule: str
    key: str
    kind: str
    severity: Severity
    title: str
    alert_ids: list[int]
    groups: list[str]
    members: list[str]
    first_at: float
    at: float
    state: IncidentState = IncidentState.OPEN
    acked_by: str | None = None
    acked_at: float | None = None
    claimed_by: str | None = None
    claimed_at: float | None = None
    resolved_by: str | None = None
    resolved_at: float | None = None
    snoozed_until: float | None = None
    silenced_by: int | None = None
    inhibited: bool = False
    timeline: list[tuple[float, str]] = field(default_factory=list)
    count: int = 0                       # alerts that ever joined (alert_ids may have forgotten ended ones)
    inhibited_ids: list[int] = field(default_factory=list)  # its alerts that join without paging
    aliases: list[str] = field(default_factory=list)        # other keys that lead here (a wave's senders)
    open_count: int = 0                  # its alerts still open (not ended, not handled)

    @property
    def paging(self) -> bool:
        return self.state is IncidentState.OPEN and self.silenced_by is None and not self.inhibited

    @property
    def is_live(self) -> bool:
        return self.state not in ENDED

    @property
    def target(self) -> str:
        return f"incident:{self.id}"

    def note(self, at: float, text: str) -> None:
        self.timeline.append((at, text))
        if len(self.timeline) > TIMELINE_MAX:
            del self.timeline[5]  # keep how it began and the latest

    def later(self) -> Later:
        """A snapshot (lists copied as tuples, cheap) made into its document when written, in the
        checkpoint's thread."""
        return Later(_incident_doc, self.id, self.rule, self.key, self.kind, self.severity.label, self.title,
                     tuple(self.alert_ids), tuple(self.groups), tuple(self.members), self.first_at, self.at,
                     self.state.value, self.acked_by, self.acked_at, self.claimed_by, self.claimed_at,
                     self.resolved_by, self.resolved_at, self.snoozed_until, self.silenced_by, self.inhibited,
                     tuple(self.timeline), self.count, tuple(self.inhibited_ids), tuple(self.aliases),
                     self.open_count)

    def to_doc(self) -> dict:
        return self.later().doc()

    @classmethod
    def from_doc(cls, d: dict) -> "Incident":
        d = dict(d)
        d.pop("_key", None)
        d["severity"] = Severity[d["severity"].upper()]
        d["state"] = IncidentState(d["state"])
        d["timeline"] = [(float(t), str(s)) for t, s in d.get("timeline", [])]
        return cls(**d)


_FIELDS = ("id", "rule", "key", "kind", "severity", "title", "alert_ids", "groups", "members", "first_at", "at",
           "state", "acked_by", "acked_at", "claimed_by", "claimed_at", "resolved_by", "resolved_at",
           "snoozed_until", "silenced_by", "inhibited", "timeline", "count", "inhibited_ids", "aliases", "open_count")
_LISTS = ("alert_ids", "groups", "members", "inhibited_ids", "aliases")


def _incident_doc(*values) -> dict:
    d = dict(zip(_FIELDS, values))
    for name in _LISTS:
        d[name] = list(d[name])
    d["timeline"] = [[t, s] for t, s in d["timeline"]]
    return d


def last_attention(alerts: list[Alert], now: float) -> tuple[float, str | None]:
    """When and by whom the latest acknowledgement, claim or action on these alerts was."""
    marks: list[tuple[float, str]] = []
    for a in alerts:
        if a.state is AlertState.ACKNOWLEDGED and a.state_by:
            marks.append((a.state_at or now, a.state_by))
        if a.claimed_by:
            marks.append((a.claimed_at or now, a.claimed_by))
        if a.handled_by:
            marks.append((a.handled_at or now, a.handled_by))
    return max(marks) if marks else (now, None)


def wave_text(a: Alert) -> str | None:
    """The normalised text two senders' ads share (digits kept: a phone number is the ad)."""
    if not a.excerpt:
        return None
    from console.engine.detectors.ad_text import normalize, squeeze

    text = squeeze(normalize(a.excerpt))
    return text if len(text) >= WAVE_TEXT_MIN else None
