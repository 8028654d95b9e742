"""Every per-group and per-member structure has a bound and an age: after many synthetic events on a
fake clock, each stays under its cap; and time-based detectors look at what is due, not the fleet."""
from __future__ import annotations

from collections import deque

import pytest

from connectors.demo import model as demo_model
from connectors.demo import world_ads
from connectors.demo.world import World
from connectors.events import Member, Message
from console.engine.detectors.base import Context
from console.engine.detectors.churn import ChurnDetector
from console.engine.detectors.flood import FloodDetector
from console.engine.detectors.silence import SilentGroupDetector, SilentMemberDetector
from console.engine.feed import Feed
from console.engine.settings import ChurnSettings, FloodSettings, SilentGroupSettings, SilentMemberSettings
from console.engine.stats import DAY, HOUR, HOUR_BUCKETS_KEPT, FleetStats
from tests.helpers import T0, join, leave, msg


def test_members_who_left_long_ago_are_forgotten_and_windows_stay_bounded():
    stats = FleetStats(recent_messages=20)
    G = "fake:g"
    stats.load_members(G, [Member(f"fake:m{i}", "m", T0 - DAY, None) for i in range(50)], T0, complete=True)
    present = deque(f"fake:m{i}" for i in range(50))
    t = T0
    newcomer = 0
    for day in range(60):  # two months of churn: 10 leave and 10 join every day, and they talk
        for k in range(10):
            stats.apply(leave(G, present.popleft(), t + k))
            present.append(f"fake:n{newcomer}")
            stats.apply(join(G, present[-1], t + 20 + k))
            newcomer += 1
        for h in range(24):
            stats.apply(msg(G, present[-1], t + h * HOUR + 30))
        t += DAY
        stats.prune(t)
    g = stats.groups[G]
    gone = [m for m in g.members.values() if not m.present]
    assert all(m.left_at >= t - (stats.left_member_days + 1) * DAY for m in gone)
    assert len(g.members) <= 50 + 10 * (stats.left_member_days + 2)  # present + a month of leavers
    assert len(g.recent) == 20
    assert len(g.hourly_messages) <= HOUR_BUCKETS_KEPT + 1 and len(g.hourly_joins) <= HOUR_BUCKETS_KEPT + 1
    assert all(len(m.daily_pairs()) <= 32 for m in g.members.values())
    # and the checkpoint is told which members went, to delete their documents
    assert any(key[1] == "fake:m0" for key in stats.changes.members)


def test_the_feed_keeps_a_number_and_an_age():
    feed = Feed(size=100, max_age=HOUR)
    for i in range(1000):
        feed.on_event(msg("fake:g", "fake:u", T0 + i))
    assert len(feed.items) == 100 and len(feed._by_message) == 100
    feed.on_tick(T0 + 999 + HOUR - 10)
    assert 0 < len(feed.items) <= 11
    feed.on_tick(T0 + 10 * HOUR)
    assert not feed.items and not feed._by_message


def test_detector_windows_forget_members_and_groups_that_went_quiet():
    flood, churn = FloodDetector(FloodSettings()), ChurnDetector(ChurnSettings())
    stats = FleetStats()
    for i in range(2000):  # 2000 one-off speakers and leavers in 200 groups
        ev = msg(f"fake:g{i % 200}", f"fake:u{i}", T0 + i)
        stats.apply(ev)
        list(flood.on_event(ev, Context(stats, ev.at)))
        lv = leave(f"fake:g{i % 200}", f"fake:u{i}", T0 + i)
        stats.apply(lv)
        list(churn.on_event(lv, Context(stats, lv.at)))
    later = T0 + 2000 + 2 * DAY
    list(flood.on_tick(Context(stats, later)))
    list(churn.on_tick(Context(stats, later)))
    assert flood._recent == {} and churn._leaves == {} and len(churn._fleet) == 0


def test_silent_groups_are_looked_at_when_due_not_at_every_tick():
    s = SilentGroupSettings(hours=24, min_daily_messages=3)
    stats = FleetStats()
    for k in range(300):
        stats.load_members(f"fake:g{k}", [Member("fake:a", "a", T0 - DAY, T0 - k * 600)], T0 - 2 * DAY, True)
    d = SilentGroupDetector(s)
    looked = 0
    verdicts = {}
    for minute in range(0, 6 * 60):  # six hours of ticks, one a minute, no event at all
        now = T0 + minute * 60
        found = list(d.on_tick(Context(stats, now)))
        looked += len(found)
        for f in found:
            verdicts[f.group] = (f.clears, f.reasons)
        stats.touched.clear()
    assert looked <= 300 * (6 + 1) * 2  # about one look per group per hour, not 300 x 360
    # and the verdicts are those of a look at every group right now
    fresh = {f.group: (f.clears, f.reasons) for f in SilentGroupDetector(s).on_tick(Context(stats, now))}
    assert verdicts == fresh
    # a group that changes is looked at on the next tick
    stats.apply(msg("fake:g5", "fake:a", now + 1))
    assert [f.group for f in d.on_tick(Context(stats, now + 5))] == ["fake:g5"]


def test_silent_members_due_heap_stays_the_size_of_the_fleet():
    s = SilentMemberSettings(days=14)
    stats = FleetStats()
    for k in range(50):
        stats.load_members(f"fake:g{k}", [Member(f"fake:u{i}", "u", T0 - 20 * DAY, T0 - i * DAY) for i in range(20)],
                           T0, True)
    d = SilentMemberDetector(s)
    for step in range(2000):
        now = T0 + step * 600
        ev = msg(f"fake:g{step % 50}", f"fake:u{step % 20}", now)
        stats.apply(ev)
        list(d.on_event(ev, Context(stats, now)))
        list(d.on_tick(Context(stats, now)))
    assert len(d._due) == 50 and len(d._due._heap) <= 2 * 50 + 64


def test_the_demo_world_forgets_people_gone_for_a_month(monkeypatch):
    monkeypatch.setattr(world_ads, "ACCOUNTS_KEPT", 5)
    w = World(groups=8, seed=3, tick_span=HOUR)  # an hour a tick: weeks in a few hundred steps
    w.traffic = 0.1  # (what is forgotten is people, not messages)
    start_people = len(w.people)
    for _ in range(24 * 40):
        w.step()
    keep = {pid for g in w.groups for pid in (*g.seats, *g.banned)}
    keep.update(p.id for t in w.teams for p in (*t.accounts, *t.sleepers))
    assert all(len(t.accounts) <= 5 for t in w.teams)
    # everyone else left less than a month (and a day) ago, a retired promoter less than three days ago
    others = [pid for pid in w.people if pid not in keep]
    assert others and all(pid in w._unseated for pid in others)
    for pid in others:
        kept = demo_model.PEOPLE_GONE_KEPT_DAYS if w.people[pid].team < 0 else demo_model.PROMOTERS_GONE_KEPT_DAYS
        assert w._unseated[pid] > w.now - (kept + 1) * DAY
    assert len(w.people) < 4 * start_people  # not one more record per join for ever


def test_the_demo_world_knows_the_group_of_its_newest_messages_only(monkeypatch):
    from connectors.contract import ConnectorError
    from connectors.demo import world as world_mod

    monkeypatch.setattr(world_mod, "MESSAGE_INDEX_KEPT", 50)
    w = World(groups=6, seed=5, tick_span=60.0)
    sent: list = []
    while len(sent) < 120:
        sent.extend(e for e in w.step() if isinstance(e, Message))
    newest, old = sent[-1], sent[0]
    assert w.message_group(newest.id) == newest.group
    assert all(w.message_group(m.id) == m.group for m in sent[-40:])
    assert w.message_group(old.id) is None  # pushed out of the ring: unknown, not another group's
    assert w.message_group("demo:m999999") is None and w.message_group("tg:1") is None
    w.delete(newest.group, newest.id)  # the platform deletes a recent one...
    other = next(g.id for g in w.groups if g.id != newest.group)
    with pytest.raises(ConnectorError):
        w.delete(other, newest.id)  # ...only in its own group
    with pytest.raises(ConnectorError):
        w.delete(old.group, old.id)


def test_a_members_daily_counts_are_a_compact_ordered_array_pruned_to_the_window():
    from console.engine.stats import MemberStats, daily_from_pairs

    m = MemberStats("fake:u", "u")
    for day in (100, 100, 101, 99, 103, 101):  # a late message of an earlier day goes in its place
        m.count_message(day)
    assert m.daily_pairs() == [(99, 1), (100, 2), (101, 2), (103, 1)]
    assert m.messages_since(101 * DAY) == 3 and m.messages_since(0) == 6
    assert daily_from_pairs([[103, 1], [99, 1], [101, 2], [100, 2]]).tolist() == m.daily.tolist()
    m.prune_days(101)
    assert m.daily_pairs() == [(101, 2), (103, 1)]
    m.prune_days(200)
    assert m.daily_pairs() == [(103, 1)]  # the latest day stays: when they last spoke
    assert daily_from_pairs(None) is None and MemberStats("fake:v", "v").messages_since(0) == 0
