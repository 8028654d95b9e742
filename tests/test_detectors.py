"""Time and volume detectors on crafted event sequences, at their thresholds' edges."""
from __future__ import annotations

from console.engine.activity import active_ratio, summarize, tier
from console.engine.detectors.base import Context, Severity
from console.engine.detectors.churn import ChurnDetector
from console.engine.detectors.flood import FloodDetector
from console.engine.detectors.silence import SilentGroupDetector, SilentMemberDetector, silent_members
from console.engine.settings import (ActivitySettings, ChurnSettings, FloodSettings, SilentGroupSettings,
                                     SilentMemberSettings)
from console.engine.stats import DAY, HOUR, FleetStats
from tests.helpers import T0, fleet_with, leave, msg

G = "demo:g1"


def feed(detector, stats: FleetStats, events):
    out = []
    for ev in events:
        stats.apply(ev)
        out.extend(detector.on_event(ev, Context(stats, ev.at)))
    return out


# --- flood ---

def test_flood_fires_only_above_the_limit_within_the_window():
    d, stats = FloodDetector(FloodSettings(max_messages=5, window_s=60)), FleetStats()
    assert feed(d, stats, [msg(G, "u1", T0 + i) for i in range(5)]) == []
    found = feed(d, stats, [msg(G, "u1", T0 + 5)])
    assert len(found) == 1 and found[0].kind == "flood" and found[0].member == "u1"
    assert found[0].numbers["messages"] == 6


def test_flood_window_slides_and_members_are_separate():
    d, stats = FloodDetector(FloodSettings(max_messages=5, window_s=60)), FleetStats()
    # Six messages spread over more than a minute never exceed five inside one window.
    assert feed(d, stats, [msg(G, "u1", T0 + i * 13) for i in range(6)]) == []
    # Three members each sending four: no one floods.
    assert feed(d, stats, [msg(G, f"v{k}", T0 + 100 + i) for k in range(3) for i in range(4)]) == []


# --- silent members ---

def test_silent_member_edge_at_exactly_n_days():
    s = SilentMemberSettings(days=14)
    stats = fleet_with(G, {"a": T0 - 14 * DAY, "b": T0 - 14 * DAY + 1, "c": T0 - 30 * DAY, "d": None}, T0,
                       joined=T0 - 60 * DAY)
    quiet = [m.id for m in silent_members(stats.groups[G], T0, s.days)]
    assert quiet == ["d", "c", "a"]  # never spoke (joined 60 d ago) first, "b" is one second short
    found = list(SilentMemberDetector(s).on_tick(Context(stats, T0)))
    assert len(found) == 1 and found[0].member is None
    assert found[0].numbers["count"] == 3 and set(found[0].numbers["members"]) == {"a", "c", "d"}


def test_silent_member_list_updates_and_clears_when_everyone_speaks():
    s = SilentMemberSettings(days=14)
    stats = fleet_with(G, {"a": T0 - 20 * DAY, "b": T0 - 20 * DAY}, T0)
    d = SilentMemberDetector(s)
    assert len(list(d.on_tick(Context(stats, T0)))) == 1
    assert list(d.on_tick(Context(stats, T0 + 60))) == []  # unchanged list: nothing new
    feed(d, stats, [msg(G, "a", T0 + 120)])
    found = list(d.on_tick(Context(stats, T0 + 180)))
    assert found[0].numbers["members"] == ["b"]
    feed(d, stats, [msg(G, "b", T0 + 200)])
    found = list(d.on_tick(Context(stats, T0 + 240)))
    assert found[0].clears


def test_silent_member_turns_silent_when_time_passes_without_any_event():
    s = SilentMemberSettings(days=14)
    stats = fleet_with(G, {"a": T0 - 20 * DAY, "b": T0 - 10 * DAY}, T0)
    d = SilentMemberDetector(s)
    assert list(d.on_tick(Context(stats, T0)))[0].numbers["members"] == ["a"]
    assert list(d.on_tick(Context(stats, T0 + 4 * DAY - 1))) == []
    assert list(d.on_tick(Context(stats, T0 + 4 * DAY)))[0].numbers["members"] == ["a", "b"]


def test_silent_member_per_member_mode_and_unknown_join_time_counts_from_watch_start():
    s = SilentMemberSettings(days=14, per_member=True)
    stats = fleet_with(G, {"a": T0 - 15 * DAY, "b": None}, T0)  # b: no join time, no message known
    found = list(SilentMemberDetector(s).on_tick(Context(stats, T0)))
    assert [f.member for f in found] == ["a"]
    found = list(SilentMemberDetector(s).on_tick(Context(stats, T0 + 14 * DAY)))
    assert {f.member for f in found} == {"a", "b"}


# --- silent groups ---

def test_silent_group_hours_edge():
    s = SilentGroupSettings(hours=24)
    stats = fleet_with(G, {"a": T0 - 24 * HOUR + 1}, T0)
    assert list(SilentGroupDetector(s).on_tick(Context(stats, T0)))[0].clears
    stats = fleet_with(G, {"a": T0 - 24 * HOUR}, T0)
    f = list(SilentGroupDetector(s).on_tick(Context(stats, T0)))[0]
    assert not f.clears and f.severity is Severity.MEDIUM and f.numbers["silent_hours"] == 24


def test_zombie_group_fewer_than_three_messages_a_day_only_after_a_day_of_watching():
    s = SilentGroupSettings(hours=24, min_daily_messages=3)
    stats = fleet_with(G, {"a": T0 - HOUR}, T0)
    stats.apply(msg(G, "a", T0 + 10))
    stats.apply(msg(G, "a", T0 + 20 * HOUR))
    d = SilentGroupDetector(s)
    assert list(d.on_tick(Context(stats, T0 + 23 * HOUR)))[0].clears  # watched under a day: no verdict
    f = list(d.on_tick(Context(stats, T0 + 25 * HOUR)))[0]
    assert not f.clears and f.numbers["messages_24h"] <= 2 and "minimum 3" in f.reasons[0]
    for i in range(3):
        stats.apply(msg(G, "a", T0 + 25 * HOUR + i))
    assert list(d.on_tick(Context(stats, T0 + 25 * HOUR + 10)))[0].clears


# --- churn ---

def big_group(n: int = 200) -> FleetStats:
    return fleet_with(G, {f"m{i}": T0 - DAY for i in range(n)}, T0)


def run_churn(d: ChurnDetector, stats: FleetStats, leaves: list[float], at: float):
    for i, t in enumerate(leaves):
        ev = leave(G, f"m{i}", t)
        stats.apply(ev)
        list(d.on_event(ev, Context(stats, t)))
    return [f for f in d.on_tick(Context(stats, at)) if f.group == G]


def test_churn_needs_min_leaves_even_in_a_tiny_group():
    s = ChurnSettings(min_leaves=4, factor=4)
    stats = fleet_with(G, {f"m{i}": T0 for i in range(8)}, T0)
    assert run_churn(ChurnDetector(s), stats, [T0 + 60 * i for i in range(3)], T0 + 300) == []
    stats = fleet_with(G, {f"m{i}": T0 for i in range(8)}, T0)
    found = run_churn(ChurnDetector(s), stats, [T0 + 60 * i for i in range(4)], T0 + 300)
    assert len(found) == 1 and found[0].numbers["leaves"] == 4


def test_churn_against_the_groups_own_baseline():
    s = ChurnSettings(min_leaves=4, factor=4, window_hours=1)
    # A group that has lost 3 members an hour all week: 6 in an hour is no spike there.
    stats = big_group()
    g = stats.groups[G]
    g.observed_since = T0 - 8 * DAY
    from console.engine.stats import hour_index
    for h in range(hour_index(T0 - 7 * DAY), hour_index(T0) - 1):
        g.hourly_leaves[h] = 3
    d = ChurnDetector(s)
    assert d.baseline(g, T0 + 1800) > 2.5
    assert run_churn(d, stats, [T0 + 60 * i for i in range(6)], T0 + 1800) == []
    # A calm group of the same size losing 6 in an hour is.
    stats = big_group()
    stats.groups[G].observed_since = T0 - 8 * DAY
    found = run_churn(ChurnDetector(s), stats, [T0 + 60 * i for i in range(6)], T0 + 1800)
    assert len(found) == 1 and found[0].severity >= Severity.MEDIUM and found[0].numbers["ratio"] > 4


def test_churn_reports_a_growing_wave_once_per_new_peak_and_ignores_kicks():
    s = ChurnSettings(min_leaves=4, factor=4)
    stats, d = big_group(), ChurnDetector(s)
    assert len(run_churn(d, stats, [T0 + i for i in range(5)], T0 + 60)) == 1
    assert list(d.on_tick(Context(stats, T0 + 120))) == []  # same peak: no news
    ev = leave(G, "m150", T0 + 130, kicked_by="op")
    stats.apply(ev)
    list(d.on_event(ev, Context(stats, ev.at)))
    assert [f for f in d.on_tick(Context(stats, T0 + 140)) if f.group == G] == []  # a kick is not churn


def test_fleet_wide_churn_spike():
    s = ChurnSettings(min_leaves=100, fleet_min_leaves=12, factor=4)
    stats = FleetStats()
    for k in range(6):
        stats.load_members(f"demo:g{k}", [], T0, complete=True)
        for i in range(100):
            stats.apply(msg(f"demo:g{k}", f"m{k}-{i}", T0 - DAY))
    d = ChurnDetector(s)
    for k in range(6):
        for i in range(2):
            ev = leave(f"demo:g{k}", f"m{k}-{i}", T0 + 60 * k + i)
            stats.apply(ev)
            list(d.on_event(ev, Context(stats, ev.at)))
    found = list(d.on_tick(Context(stats, T0 + 600)))
    assert [(f.group, f.numbers["leaves"]) for f in found] == [(None, 12)]


# --- activity ---

def test_tiers_follow_the_playbook_boundaries():
    s = ActivitySettings()
    assert [tier(r, s) for r in (0.41, 0.40, 0.20, 0.19, 0.10, 0.09, None)] == \
        ["high", "ordinary", "ordinary", "inactive", "inactive", "critical", "critical"]


def test_active_ratio_and_exit_rate():
    stats = fleet_with(G, {f"m{i}": (T0 - DAY if i < 3 else T0 - 30 * DAY) for i in range(10)}, T0)
    g = stats.groups[G]
    assert active_ratio(g, T0, 7) == 0.3
    stats.apply(leave(G, "m9", T0 + 10))
    row = summarize(g, T0 + 20, ActivitySettings(), open_alerts=2)
    assert row.members == 9 and row.leaves == 1 and abs(row.exit_rate - 0.1) < 1e-9
    assert row.tier == "ordinary" and row.open_alerts == 2
