"""The alert book: one open alert per (kind, group, member), updated not duplicated."""
from __future__ import annotations

import pytest

from console.engine.alerts import AlertBook, AlertState, Change
from console.engine.detectors.base import Finding, Severity

T = 1000.0


def finding(kind="ad", group="demo:g1", member="demo:u1", reasons=("link",), at=T, sev=Severity.MEDIUM,
            **kw) -> Finding:
    return Finding(kind=kind, severity=sev, group=group, member=member, reasons=reasons, at=at, **kw)


def test_same_key_updates_instead_of_duplicating():
    book, seen = AlertBook(), []
    book.subscribe(lambda a, c: seen.append((a.id, c)))
    book.apply(finding())
    book.apply(finding(reasons=("link", "phone")))
    book.apply(finding(member="demo:u2"))
    assert len(book) == 2
    assert seen == [(1, Change.NEW), (1, Change.UPDATED), (2, Change.NEW)]
    a = book.open_for("ad", "demo:g1", "demo:u1")
    assert a.reasons == ("link", "phone") and a.hits == 2


def test_an_identical_finding_is_no_news_and_severity_only_rises():
    book, seen = AlertBook(), []
    book.subscribe(lambda a, c: seen.append(c))
    book.apply(finding(sev=Severity.HIGH))
    assert book.apply(finding(sev=Severity.HIGH)) is None
    book.apply(finding(sev=Severity.LOW, reasons=("other",)))
    assert book.open_for("ad", "demo:g1", "demo:u1").severity is Severity.HIGH
    assert seen == [Change.NEW, Change.UPDATED]


def test_clearing_resolves_and_a_later_finding_opens_a_new_alert():
    book = AlertBook()
    first, _ = book.apply(finding(kind="silent_group", member=None))
    _, change = book.apply(finding(kind="silent_group", member=None, clears=True))
    assert change is Change.RESOLVED and first.state is AlertState.RESOLVED and first.resolved_by == "auto"
    second, change = book.apply(finding(kind="silent_group", member=None, at=T + 5))
    assert change is Change.NEW and second.id != first.id
    assert book.apply(finding(kind="flood", clears=True)) is None  # nothing open: nothing to clear


def test_operator_states_snooze_wakes_and_persistence_round_trip():
    book = AlertBook()
    a, _ = book.apply(finding())
    b, _ = book.apply(finding(member="demo:u9"))
    book.snooze(a.id, until=T + 60)
    book.apply(finding(reasons=("new reason",)))  # updated while snoozed: kept current, not announced
    assert a.state is AlertState.SNOOZED and a.reasons == ("new reason",)
    book.wake_snoozed(T + 61)
    assert a.state is AlertState.OPEN
    book.acknowledge(b.id, T + 1)
    book.resolve(a.id, T + 2, by="alice")
    with pytest.raises(KeyError):
        book.acknowledge(a.id, T + 3)
    restored = AlertBook()
    restored.load_docs(book.to_docs())
    assert restored.get(b.id).state is AlertState.ACKNOWLEDGED
    assert restored.get(a.id).resolved_by == "alice"
    c, _ = restored.apply(finding(member="demo:u3"))
    assert c.id == max(a.id, b.id) + 1


def test_more_evidence_on_the_same_message_keeps_earlier_reasons():
    book = AlertBook()
    book.apply(finding(reasons=("contact number 12345",), message_id="m1"))
    a, _ = book.apply(finding(reasons=("same text in 3 groups",), message_id="m1"))
    assert a.reasons == ("same text in 3 groups", "contact number 12345")
    a, _ = book.apply(finding(reasons=("link",), message_id="m2"))  # a new message: its own reasons
    assert a.reasons == ("link",)
