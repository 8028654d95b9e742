"""Incidents and silences through the Service: "incident:<id>" targets with roles, the audit facts the
team report reads, silences that page nobody, and the alert lifecycle (expiry, the open cap)."""
from __future__ import annotations

import pytest

from console.engine.actions.model import ActionKind
from console.engine.config import ConfigError, parse_settings
from console.engine.detectors.base import Finding, Severity
from console.engine.engine import Engine
from console.engine.matching import group_matches
from console.engine.settings import Settings
from console.runtime import open_runtime
from console.service.api import Actor, Command, Role
from console.service.service import Service
from tests.helpers import T0

SPAM = "demo:spam9"


@pytest.fixture(autouse=True)
def _no_config(tmp_path, monkeypatch):
    monkeypatch.setenv("GROUPWATCH_CONFIG", str(tmp_path / "none.toml"))


@pytest.fixture
async def svc(tmp_path):
    rt = open_runtime(None, str(tmp_path / "data"), groups=6, seed=3, speed=3600, pace=False)
    await rt.engine.load_snapshots()
    service = Service(rt, owner="owner")
    e = rt.engine
    now = e.now()
    for i, g in enumerate(sorted(e.stats.groups)[:4]):
        e.alerts.apply(Finding("ad", Severity.HIGH, g, SPAM, ("link",), now - 60 + i, excerpt="buy followers now",
                               message_id=f"spam-{i}"))
    yield service
    rt.close()


def actor(user="alice", role=Role.MODERATOR) -> Actor:
    return Actor(user, role, f"{user}-console")


def the_incident(svc):
    [inc] = [i for i in svc.engine.incidents.live() if i.rule == "sender"]
    return inc


async def test_a_viewer_may_not_act_on_an_incident_and_nothing_changes(svc):
    inc = the_incident(svc)
    for name in ("ack", "claim", "resolve", "blacklist_alerts", "delete_alerts", "silence_add", "reopen"):
        r = await svc.execute(actor("vic", Role.VIEWER), Command(name, [inc.target], {"seconds": 60}))
        assert r.refused and "viewer" in r.message, name
    assert inc.state.value == "open" and inc.acked_by is None


async def test_ack_of_an_incident_acknowledges_its_alerts_and_is_audited_with_the_incident(svc):
    inc = the_incident(svc)
    r = await svc.execute(actor(), Command("ack", [inc.target]))
    assert r.done == 4 and sorted(r.data["alerts"]) == sorted(inc.alert_ids)
    assert inc.state.value == "acknowledged" and inc.acked_by == "alice"
    facts = [e for e in svc.moderation.ledger.audit_entries() if e.action.startswith("incident ")]
    assert [(e.action, e.actor, e.params["target"], e.params["kind"]) for e in facts] == \
        [("incident acknowledged", "alice", inc.target, "incident")]
    again = await svc.execute(actor("bob"), Command("ack", [inc.target]))
    assert again.done == 0 and "already acknowledged by alice" in again.errors[0]
    claim = await svc.execute(actor("bob"), Command("claim", [inc.target]))
    assert claim.done == 4 and inc.claimed_by == "bob"
    assert svc.header().alerts_high == 0  # acknowledged work left the header's open count


async def test_blacklist_of_an_incident_bans_the_sender_everywhere_once_and_resolves_it(svc):
    inc = the_incident(svc)
    r = await svc.execute(actor(), Command("blacklist_alerts", [inc.target]))
    assert not r.refused and svc.moderation.blacklist.get(SPAM) is not None
    assert not [a for a in svc.engine.alerts.live() if a.member == SPAM]
    assert inc.state.value == "resolved" and inc.resolved_by == "alice"
    assert [e.action for e in svc.moderation.ledger.audit_entries() if e.action.startswith("incident ")] == \
        ["incident resolved"]
    second = await svc.execute(actor("bob"), Command("blacklist_alerts", [inc.target]))
    assert second.done == 0 and "already resolved" in second.errors[0]


async def test_delete_of_an_incident_deletes_every_copy(svc):
    inc = the_incident(svc)
    r = await svc.execute(actor(), Command("delete_alerts", [inc.target]))
    assert not r.refused
    deleted = {(a.group, a.message_id) for a in svc.moderation.ledger.actions() if a.kind is ActionKind.DELETE}
    assert deleted == {(a.group, a.message_id) for a in svc.engine.incidents.alerts_of(inc)}
    assert len(deleted) == 4


async def test_snooze_unack_and_resolve_then_reopen_an_incident(svc):
    inc = the_incident(svc)
    await svc.execute(actor(), Command("snooze", [inc.target], {"seconds": "2h"}))
    assert inc.state.value == "snoozed" and inc.snoozed_until is not None
    await svc.execute(actor(), Command("unack", [inc.target]))
    assert inc.state.value == "open"
    r = await svc.execute(actor(), Command("resolve", [inc.target]))
    assert r.done == 4 and not inc.is_live
    back = await svc.execute(actor(), Command("reopen", r.data["alerts"]))
    assert back.done == 4 and inc.is_live and inc.state.value == "open"


async def test_bad_incident_targets_are_one_line_refusals(svc):
    for target, said in (("incident:abc", "bad incident target"), ("incident:999", "no incident #999")):
        r = await svc.execute(actor(), Command("ack", [target]))
        assert r.refused and said in r.message and "\n" not in r.message


async def test_a_silence_records_but_pages_nobody_until_it_is_removed_or_ends(svc):
    inc = the_incident(svc)
    seen = []
    svc.engine.incidents.subscribe(lambda i, c: seen.append((i.id, c)))
    r = await svc.execute(actor(), Command("silence_add", [], {"matchers": ["kind=ad", "severity=high"],
                                                                "seconds": "1h", "comment": "known wave"}))
    sid = r.data["id"]
    assert inc.silenced_by == sid and not inc.paging and seen[-1] == (inc.id, "silenced")
    [view] = await svc.query(actor(), "silences")
    assert view.created_by == "alice" and view.comment == "known wave" and view.silencing == 1
    # a new alert of that kind is still recorded, in a silenced incident
    e = svc.engine
    e.alerts.apply(Finding("ad", Severity.HIGH, sorted(e.stats.groups)[5], "demo:other", ("link",), e.now(),
                           excerpt="another text altogether"))
    other = next(i for i in e.incidents.live() if "demo:other" in i.members)
    assert other.silenced_by == sid and other.count == 1
    removed = await svc.execute(actor(), Command("silence_remove", [sid]))
    assert removed.done == 1 and inc.silenced_by is None and inc.paging and seen[-1][1] == "unsilenced"
    bad = await svc.execute(actor(), Command("silence_add", [], {"matchers": ["colour=red"], "seconds": 60}))
    assert bad.refused and "unknown matcher 'colour'" in bad.message
    none = await svc.execute(actor(), Command("silence_remove", [42]))
    assert none.done == 0 and "no silence #42" in none.errors[0]


def test_silences_match_groups_by_id_tag_and_tier_and_expire():
    clock = [T0]
    e = Engine(Settings(), [], None, clock=lambda: clock[0])
    from connectors.events import Group

    e.stats.load_group(Group(id="demo:a", name="A", platform="demo", tags=("archive",)), T0)
    e.stats.load_group(Group(id="demo:b", name="B", platform="demo", tags=()), T0)
    assert group_matches(e, "demo:a", "tag:archive") and not group_matches(e, "demo:b", "tag:archive")
    assert group_matches(e, "demo:b", "demo:a,demo:b") and group_matches(e, "demo:b", "all")
    tier = e.summaries()[0].tier
    assert group_matches(e, "demo:a", f"tier:{tier}")
    s = e.silences.add({"kind": "silent_member", "group": "tag:archive"}, 3600, "alice", "archived")
    a, _ = e.alerts.apply(Finding("silent_member", Severity.LOW, "demo:a", None, ("quiet",), T0))
    b, _ = e.alerts.apply(Finding("silent_member", Severity.LOW, "demo:b", None, ("quiet",), T0))
    [ia] = e.incidents.of_alert(a.id)
    [ib] = e.incidents.of_alert(b.id)
    assert ia.silenced_by == s.id and ib.silenced_by is None
    clock[0] = T0 + 3601
    e.tick(clock[0])
    assert e.silences.list() == [] and ia.silenced_by is None and ia.paging


def test_unattended_low_and_medium_alerts_expire_high_and_attended_ones_wait():
    clock = [T0]
    s = Settings()
    s.alerts.expire_hours = 1.0
    e = Engine(s, [], None, clock=lambda: clock[0], detectors=[])
    low, _ = e.alerts.apply(Finding("flood", Severity.LOW, "demo:g1", "demo:u1", ("x",), T0))
    med, _ = e.alerts.apply(Finding("flood", Severity.MEDIUM, "demo:g2", "demo:u2", ("x",), T0))
    high, _ = e.alerts.apply(Finding("ad", Severity.HIGH, "demo:g3", "demo:u3", ("x",), T0))
    seen, _ = e.alerts.apply(Finding("flood", Severity.MEDIUM, "demo:g4", "demo:u4", ("x",), T0))
    e.alerts.acknowledge(seen.id, T0 + 1)
    clock[0] = T0 + 3000
    e.tick(clock[0])
    assert len(e.alerts) == 4  # not old enough yet
    clock[0] = T0 + 3700
    e.tick(clock[0])
    assert {a.id for a in e.alerts.live()} == {high.id, seen.id}
    assert low.state.value == "expired" and med.resolved_by == "expired"
    assert [i.state.value for i in e.incidents.ended()] == ["expired", "expired"]
    assert low in e.alerts.resolved()  # in the bounded history, not the live queue


def test_the_open_queue_is_capped_oldest_low_first():
    clock = [T0]
    s = Settings()
    s.alerts.expire_hours = 0  # never by age: only the cap
    s.alerts.max_open = 100
    e = Engine(s, [], None, clock=lambda: clock[0], detectors=[])
    for i in range(150):
        sev = Severity.HIGH if i % 10 == 0 else Severity.LOW
        e.alerts.apply(Finding("flood", sev, f"demo:g{i}", f"demo:u{i}", ("x",), T0 + i))
    e.tick(T0 + 200)
    live = e.alerts.live()
    assert len(live) == 100 and len(e.incidents) == 100
    assert sum(a.severity is Severity.HIGH for a in live) == 15  # every high one kept
    lows = sorted(a.at for a in live if a.severity is Severity.LOW)
    assert lows[0] > T0 + 50  # the oldest low ones went first


@pytest.mark.parametrize("text,message", [
    ("[alerts]\nmax_open = 5\n", "alerts.max_open must be at least 100"),
    ("[alerts]\nexpire_hours = -1\n", "alerts.expire_hours must not be negative"),
    ("[alerts]\nexpire_after = 3\n", "unknown key"),
])
def test_alert_lifecycle_settings_are_checked(text, message):
    with pytest.raises(ConfigError) as e:
        parse_settings(text)
    assert message in str(e.value)


def test_alert_lifecycle_settings_are_read():
    s = parse_settings("[alerts]\nexpire_hours = 12\nmax_open = 5000\nkeep_history = 100\n")
    assert (s.alerts.expire_hours, s.alerts.max_open, s.alerts.keep_history) == (12.0, 5000, 100)


async def test_ended_alerts_and_incidents_stay_queryable_in_the_bounded_history(svc):
    inc = the_incident(svc)
    await svc.execute(actor(), Command("resolve", [inc.target]))
    history = await svc.query(actor(), "alert_history", {"limit": 10})
    assert {a.id for a in history} >= set(inc.alert_ids) and all(a.state == "resolved" for a in history[:4])
    live = await svc.query(actor(), "incidents", {})
    assert inc.id not in [i.id for i in live.incidents]
    every = await svc.query(actor(), "incidents", {"ended": True})
    ended = next(i for i in every.incidents if i.id == inc.id)
    assert ended.state == "resolved" and ended.resolved_by == "alice" and ended.count == 4
    detail = await svc.query(actor(), "incident", {"id": inc.id})
    assert [a.id for a in detail.alerts] and {a.state for a in detail.alerts} == {"resolved"}


def test_an_expired_standing_condition_is_not_raised_again_until_it_clears_or_worsens():
    s = Settings()
    s.alerts.expire_hours = 1.0
    e = Engine(s, [], None, clock=lambda: T0, detectors=[])
    quiet = Finding("silent_group", Severity.LOW, "demo:g1", None, ("quiet 2 days",), T0)
    first, _ = e.alerts.apply(quiet)
    e.tick(T0 + 7200)
    assert first.state.value == "expired"
    raised: list = []
    e.incidents.subscribe(lambda i, c: raised.append(c))
    assert e.alerts.apply(Finding("silent_group", Severity.LOW, "demo:g1", None, ("quiet 3 days",), T0 + 7300)) is None
    assert raised == [] and len(e.alerts) == 0  # the detector's next tick: no new alert, nobody paged
    worse, _ = e.alerts.apply(Finding("silent_group", Severity.MEDIUM, "demo:g1", None, ("quiet 5 days",), T0 + 9000))
    assert worse.id != first.id and raised == ["opened"]
    # an ad: a new message is news even where an older one expired
    old, _ = e.alerts.apply(Finding("ad", Severity.MEDIUM, "demo:g2", "demo:u1", ("x",), T0, message_id="m1"))
    e.tick(T0 + 20000)
    new = e.alerts.apply(Finding("ad", Severity.MEDIUM, "demo:g2", "demo:u1", ("x",), T0 + 20001, message_id="m2"))
    assert new is not None and new[0].id != old.id
    # the group spoke again: the next silence is news again
    e.alerts.apply(Finding("silent_group", Severity.LOW, "demo:g3", None, ("q",), T0 + 20000))
    e.tick(T0 + 40000)
    e.alerts.apply(Finding("silent_group", Severity.LOW, "demo:g3", None, (), T0 + 40001, clears=True))
    again = e.alerts.apply(Finding("silent_group", Severity.LOW, "demo:g3", None, ("q",), T0 + 50000))
    assert again is not None
