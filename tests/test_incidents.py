"""Incidents: alerts that belong together fold into one, with a count, a timeline and a state that
follows its alerts; silent members of a silent group do not page; incidents survive a restart."""
from __future__ import annotations

from console.engine.alerts import AlertBook
from console.engine.detectors.base import Finding, Severity
from console.engine.engine import Engine
from console.engine.incidents import Incidents, IncidentState
from console.engine.settings import Settings
from console.engine.store import Store
from tests.helpers import T0, msg

AD = "兼职刷单日结300元，加微信 vx: abc8888 详聊 http://t.cn/xyz"


def finding(kind="ad", group="demo:g1", member="demo:u1", at=T0, sev=Severity.HIGH, excerpt=None, **kw) -> Finding:
    return Finding(kind=kind, severity=sev, group=group, member=member, reasons=(kind,), at=at, excerpt=excerpt,
                   message_id=f"m-{group}-{member}-{at}" if member else None, **kw)


def book_and_incidents(now=T0):
    clock = [now]
    book = AlertBook()
    incs = Incidents(book, lambda: clock[0])
    seen: list[tuple[int, str]] = []
    incs.subscribe(lambda i, c: seen.append((i.id, c)))
    return book, incs, seen, clock


def test_an_ad_account_posting_in_four_demo_groups_is_one_incident_of_four_alerts():
    e = Engine(Settings(), [], None, clock=lambda: T0 + 100)
    seen: list[tuple[int, str]] = []
    e.incidents.subscribe(lambda i, c: seen.append((i.id, c)))
    for i in range(4):
        e.ingest([msg(f"demo:g{i}", "demo:spam1", T0 + i * 10, AD)])
    ads = [a for a in e.alerts.live() if a.kind == "ad"]
    assert len(ads) == 4
    [inc] = e.incidents.live()
    assert inc.rule == "sender" and inc.key == "sender:demo:spam1" and inc.count == 4
    assert sorted(inc.alert_ids) == sorted(a.id for a in ads)
    assert inc.groups == ["demo:g0", "demo:g1", "demo:g2", "demo:g3"] and inc.members == ["demo:spam1"]
    assert inc.severity is Severity.HIGH and inc.state is IncidentState.OPEN and inc.paging
    assert "4 groups" in inc.title
    assert seen == [(inc.id, "opened"), (inc.id, "grew"), (inc.id, "grew"), (inc.id, "grew")]
    assert [t for _, t in inc.timeline][0].startswith("opened: ad in")


def test_the_same_text_from_several_senders_is_one_wave():
    book, incs, seen, _ = book_and_incidents()
    text = "cheap followers at followers-shop dot com, dm now"
    book.apply(finding(member="demo:a", excerpt=text))
    book.apply(finding(group="demo:g2", member="demo:b", excerpt=text.upper(), at=T0 + 5))
    book.apply(finding(group="demo:g3", member="demo:c", excerpt=text, at=T0 + 9))
    book.apply(finding(group="demo:g4", member="demo:b", kind="flood", sev=Severity.MEDIUM, at=T0 + 12))
    [inc] = incs.live()
    assert inc.rule == "wave" and inc.members == ["demo:a", "demo:b", "demo:c"] and inc.count == 4
    assert inc.title.startswith("ad wave: 3 senders")
    # a different text from a new sender is its own incident
    book.apply(finding(member="demo:d", excerpt="something else entirely, buy my course"))
    assert len(incs) == 2 and {i.rule for i in incs.live()} == {"wave", "sender"}


def test_a_churn_spike_folds_with_the_ad_burst_before_it_in_that_group():
    book, incs, _, _ = book_and_incidents()
    book.apply(finding(member="demo:a", excerpt="ad one here please"))
    book.apply(finding(member="demo:b", excerpt="ad two here please", at=T0 + 60))
    book.apply(finding(group="demo:g9", member="demo:c", excerpt="far away ad text", at=T0 + 60))
    spike, _ = book.apply(finding(kind="churn_spike", member=None, sev=Severity.MEDIUM, at=T0 + 1800))
    churn = [i for i in incs.live() if i.rule == "churn"]
    assert len(churn) == 1 and churn[0].kind == "churn_spike" and churn[0].key == "churn:demo:g1"
    assert churn[0].count == 3 and spike.id in churn[0].alert_ids and churn[0].members == ["demo:a", "demo:b"]
    # a spike with no ads before it stands alone; so do ads more than the window before
    lone, _ = book.apply(finding(kind="churn_spike", group="demo:g5", member=None, at=T0 + 1800))
    assert [i.rule for i in incs.of_alert(lone.id)] == ["single"]


def test_a_silent_group_and_its_silent_members_are_one_incident_and_the_members_do_not_page():
    book, incs, seen, _ = book_and_incidents()
    book.apply(finding(kind="silent_group", member=None, sev=Severity.LOW))
    [inc] = incs.live()
    member_alert, _ = book.apply(finding(kind="silent_member", member="demo:q1", sev=Severity.LOW, at=T0 + 5))
    assert incs.live() == [inc] and inc.rule == "group_silence" and inc.kind == "silent_group" and inc.count == 2
    assert member_alert.id in inc.inhibited_ids
    assert seen == [(inc.id, "opened")]  # the silent member joined without a "grew": it pages nobody
    # the group speaks again: its alert clears; the silent member is no longer inhibited... and alone
    book.apply(finding(kind="silent_group", member=None, clears=True, at=T0 + 60))
    assert inc.inhibited_ids == [] and not inc.inhibited and inc.is_live


def test_silent_members_alone_in_a_silent_group_are_an_inhibited_incident():
    book, incs, seen, _ = book_and_incidents()
    g, _ = book.apply(finding(kind="silent_group", member=None, sev=Severity.LOW))
    book.apply(finding(kind="silent_member", member="demo:q1", sev=Severity.LOW, at=T0 + 5))
    [inc] = incs.live()
    book.handled(g.id, "alice", T0 + 6, "mention")  # the group's own alert was dealt with; the group is still silent
    assert inc.inhibited and not inc.paging


def test_state_follows_the_alerts_ack_claim_snooze_resolve_and_expiry():
    book, incs, seen, clock = book_and_incidents()
    a, _ = book.apply(finding(member="demo:a"))
    b, _ = book.apply(finding(group="demo:g2", member="demo:a"))
    [inc] = incs.live()
    a.state_by, a.state_at = "alice", T0 + 1
    book.acknowledge(a.id, T0 + 1)
    assert inc.state is IncidentState.ACKNOWLEDGED and inc.acked_by == "alice" and not inc.paging
    book.unacknowledge(a.id)
    assert inc.state is IncidentState.OPEN
    book.claim(b.id, "bob", T0 + 2)
    assert inc.claimed_by == "bob" and inc.state is IncidentState.ACKNOWLEDGED
    book.claim(b.id, None, None)
    book.snooze(a.id, T0 + 100)
    book.snooze(b.id, T0 + 100)
    assert inc.state is IncidentState.SNOOZED and inc.snoozed_until == T0 + 100
    book.wake_snoozed(T0 + 101)
    assert inc.state is IncidentState.OPEN
    book.resolve(a.id, T0 + 102, "carol")
    assert inc.is_live
    book.handled(b.id, "carol", T0 + 103, "warn")
    assert inc.state is IncidentState.RESOLVED and inc.resolved_by == "carol" and incs.live() == []
    changes = [c for _, c in seen]
    assert changes == ["opened", "grew", "acknowledged", "reopened", "acknowledged", "claimed", "reopened", "snoozed",
                       "reopened", "resolved"]
    # expired: nobody attended the alerts of a new incident within the age
    c, _ = book.apply(finding(member="demo:z", sev=Severity.LOW, at=T0 + 200))
    book.expire(T0 + 10_000, max_age=3600, cap=1000)
    [gone] = [i for i in incs.ended() if c.id in i.alert_ids]
    assert gone.state is IncidentState.EXPIRED and seen[-1] == (gone.id, "expired")


def test_incidents_survive_a_restart(tmp_path):
    store = Store(tmp_path / "data")
    e = Engine(Settings(), [], store, clock=lambda: T0 + 100)
    for i in range(4):
        e.ingest([msg(f"demo:g{i}", "demo:spam1", T0 + i * 10, AD)])
    [inc] = e.incidents.live()
    first = next(a for a in e.alerts.live() if a.id == inc.alert_ids[0])
    first.state_by, first.state_at = "alice", T0 + 50
    e.alerts.acknowledge(first.id, T0 + 50)
    e.checkpoint()
    store.close()
    store = Store(tmp_path / "data")
    again = Engine(Settings(), [], store, clock=lambda: T0 + 200)
    again.restore()
    [back] = again.incidents.live()
    assert (back.id, back.rule, back.key, back.count, back.state, back.acked_by) == \
        (inc.id, "sender", inc.key, 4, IncidentState.ACKNOWLEDGED, "alice")
    assert back.timeline == inc.timeline
    # the next alert of that sender grows the same incident, not a new one
    again.ingest([msg("demo:g7", "demo:spam1", T0 + 150, AD)])
    assert [i.id for i in again.incidents.live()] == [inc.id] and back.count == 5
    store.close()
