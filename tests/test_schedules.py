"""Scheduled posts: fire times across DST, exactly-once firing across restarts
and crashes, missed-run policies, targets, templates, and the CLI module."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from connectors.demo import DemoConnector
from console.engine.actions.ledger import Ledger
from console.engine.actions.model import ActionError, ActionState
from console.engine.actions.pipeline import ActionPipeline
from console.engine.actions.schedules import Schedule, Schedules, local_zone_name, wall_to_instant
from console.engine.activity import GroupSummary
from console.engine.engine import Engine
from console.engine.settings import Settings
from console.engine.store import Store

NY = "America/New_York"
BERLIN = "Europe/Berlin"
TIERS = ["high", "ordinary", "inactive", "critical", "high", "inactive"]


def utc(*a: int) -> float:
    return datetime(*a, tzinfo=timezone.utc).timestamp()


def local(t: float, tz: str) -> str:
    return datetime.fromtimestamp(t, ZoneInfo(tz)).isoformat()


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class World:
    """A console's moderation state over one data dir, re-openable to simulate a restart."""

    def __init__(self, path, clock: Clock, demo: DemoConnector, route=None) -> None:
        self.path, self.clock, self.demo = path, clock, demo
        self._route = route
        self.open()

    def open(self) -> None:
        self.store = Store(self.path)
        self.ledger = Ledger(self.store, self.clock)
        route = self._route or (lambda g: self.demo if g.startswith("demo:") else None)
        self.pipeline = ActionPipeline(self.ledger, route, actor="alice")
        self.sch = Schedules(self.store, self.ledger, self.clock)

    def restart(self) -> None:
        self.store.close()
        self.open()

    def close(self) -> None:
        self.store.close()


@pytest.fixture
def demo() -> DemoConnector:
    return DemoConnector(groups=6, seed=3, pace=False)


@pytest.fixture
def clock() -> Clock:
    return Clock(utc(2026, 1, 5, 1))


@pytest.fixture
def world(tmp_path, clock, demo):
    w = World(tmp_path / "data", clock, demo)
    yield w
    w.close()


def summaries_of(demo: DemoConnector) -> list[GroupSummary]:
    out = []
    for i, g in enumerate(demo.world.group_list()):
        out.append(GroupSummary(id=g.id, name=g.name, platform="demo", members=g.member_count, messages_1h=0,
                                messages_24h=0, active_ratio=None, tier=TIERS[i], last_message_at=None, joins=0,
                                leaves=0, exit_rate=None, open_alerts=0, sparkline=[], tags=tuple(g.tags)))
    return out


def posts(demo: DemoConnector) -> list[dict]:
    return [r for r in demo.received if r["action"] == "send"]


def run_clock(sch: Schedules, clock: Clock, start: float, end: float, step: float = 60.0) -> list[tuple[str, float]]:
    """A console running from ``start`` to ``end``, checking every ``step`` seconds; due() claims each fire."""
    out = []
    clock.t = start
    while clock.t <= end:
        out += [(s.id, f) for s, f in sch.due(clock.t)]
        clock.t += step
    return out


# --- fire times across DST ----------------------------------------------------------

def test_wall_to_instant_maps_gap_to_the_jump_and_ambiguous_to_first_occurrence():
    ny = ZoneInfo(NY)
    assert wall_to_instant(datetime(2026, 3, 8, 2, 30), ny) == utc(2026, 3, 8, 7)      # 03:00 EDT
    assert wall_to_instant(datetime(2026, 3, 8, 3, 0), ny) == utc(2026, 3, 8, 7)
    assert wall_to_instant(datetime(2026, 11, 1, 1, 30), ny) == utc(2026, 11, 1, 5, 30)  # 01:30 EDT
    assert wall_to_instant(datetime(2026, 11, 1, 2, 30), ny) == utc(2026, 11, 1, 7, 30)  # 02:30 EST
    assert wall_to_instant(datetime(2026, 6, 1, 9, 0), ny) == utc(2026, 6, 1, 13)


def test_daily_times_across_spring_forward_in_new_york(world, clock):
    clock.t = utc(2026, 3, 7, 5)  # 2026-03-07 00:00 EST
    world.sch.add(id="ny", times=["01:30", "02:30", "02:45", "09:00"], tz=NY, target="all", template="hi",
                  actor="alice")
    got = run_clock(world.sch, clock, utc(2026, 3, 7, 5), utc(2026, 3, 9, 4, 59))
    assert [local(f, NY) for _, f in got] == [
        "2026-03-07T01:30:00-05:00", "2026-03-07T02:30:00-05:00", "2026-03-07T02:45:00-05:00",
        "2026-03-07T09:00:00-05:00",
        # 02:30 and 02:45 do not exist on 03-08: both fire at the jump, 03:00 EDT, once
        "2026-03-08T01:30:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-08T09:00:00-04:00",
    ]
    assert len(set(got)) == len(got)


def test_daily_times_across_fall_back_in_new_york(world, clock):
    clock.t = utc(2026, 10, 31, 4)  # 2026-10-31 00:00 EDT
    world.sch.add(id="ny", times=["01:30", "02:30"], tz=NY, target="all", template="hi", actor="alice")
    got = run_clock(world.sch, clock, clock.t, utc(2026, 11, 2, 5))
    assert [local(f, NY) for _, f in got] == [
        "2026-10-31T01:30:00-04:00", "2026-10-31T02:30:00-04:00",
        "2026-11-01T01:30:00-04:00",  # the repeated hour: once, at the first occurrence
        "2026-11-01T02:30:00-05:00",
    ]


def test_daily_time_in_berlin_across_both_changes(world, clock):
    clock.t = utc(2026, 3, 27)
    s = world.sch.add(id="be", times=["02:30"], tz=BERLIN, target="all", template="hi", actor="alice")
    spring = world.sch.fires_between(s, utc(2026, 3, 27), utc(2026, 3, 31))
    assert [local(f, BERLIN) for f in spring] == ["2026-03-27T02:30:00+01:00", "2026-03-28T02:30:00+01:00",
                                                  "2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"]
    autumn = world.sch.fires_between(s, utc(2026, 10, 23), utc(2026, 10, 27))
    assert [local(f, BERLIN) for f in autumn] == ["2026-10-23T02:30:00+02:00", "2026-10-24T02:30:00+02:00",
                                                  "2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"]


def test_cron_weekdays_at_nine_across_dst(world, clock):
    clock.t = utc(2026, 3, 5)
    s = world.sch.add(id="wd", cron="0 9 * * 1-5", tz=NY, target="all", template="hi", actor="alice")
    got = run_clock(world.sch, clock, utc(2026, 3, 5, 12), utc(2026, 3, 11), step=300)
    # always 09:00 local: 14:00 UTC before the change, 13:00 UTC after; no weekend
    assert [f for _, f in got] == [utc(2026, 3, 5, 14), utc(2026, 3, 6, 14), utc(2026, 3, 9, 13),
                                   utc(2026, 3, 10, 13)]
    autumn = world.sch.fires_between(s, utc(2026, 10, 29, 12), utc(2026, 11, 4))
    assert autumn == [utc(2026, 10, 29, 13), utc(2026, 10, 30, 13), utc(2026, 11, 2, 14), utc(2026, 11, 3, 14)]


def test_cron_inside_the_gap_and_the_repeated_hour_fires_once(world, clock):
    clock.t = utc(2026, 3, 1)
    gap = world.sch.add(id="gap", cron="30 2 * * *", tz=NY, target="all", template="hi", actor="alice")
    rep = world.sch.add(id="rep", cron="30 1 * * *", tz=NY, target="all", template="hi", actor="alice")
    assert world.sch.fires_between(gap, utc(2026, 3, 7, 12), utc(2026, 3, 9, 12)) == [
        utc(2026, 3, 8, 7), utc(2026, 3, 9, 6, 30)]  # 03:00 EDT on the change day, then 02:30 EDT
    # (croniter with tz-aware datetimes would fire 01:30 twice on 11-01; we fire it once)
    assert world.sch.fires_between(rep, utc(2026, 10, 31, 12), utc(2026, 11, 2, 12)) == [
        utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)]
    hourly = world.sch.add(id="hourly", cron="0 * * * *", tz=NY, target="all", template="hi", actor="alice")
    fall = world.sch.fires_between(hourly, utc(2026, 11, 1, 4, 30), utc(2026, 11, 1, 8, 30))
    assert [local(f, NY) for f in fall] == ["2026-11-01T01:00:00-04:00", "2026-11-01T02:00:00-05:00",
                                            "2026-11-01T03:00:00-05:00"]
    # during the second pass of the repeated hour, the next run is 02:00 EST, not 01:xx again
    assert world.sch.next_run(hourly, utc(2026, 11, 1, 6, 10)) == utc(2026, 11, 1, 7)
    assert world.sch.latest_fire(hourly, utc(2026, 11, 1, 6, 10)) == utc(2026, 11, 1, 5)


def test_next_run_is_in_the_schedules_zone(world, clock):
    clock.t = utc(2026, 1, 5, 1)  # 09:00 in Shanghai
    s = world.sch.add(id="sh", times=["09:30"], tz="Asia/Shanghai", target="all", template="hi", actor="alice")
    assert world.sch.next_run(s, clock.t) == utc(2026, 1, 5, 1, 30)
    assert world.sch.next_run(s, utc(2026, 1, 5, 1, 30)) == utc(2026, 1, 6, 1, 30)


# --- exactly once ---------------------------------------------------------------------

def test_due_never_returns_a_fire_twice_even_after_a_restart(world, clock):
    clock.t = utc(2026, 1, 5, 0, 50)
    world.sch.add(id="m", times=["09:00"], tz="Asia/Shanghai", target="all", template="hi", actor="alice")
    fire = utc(2026, 1, 5, 1)
    assert world.sch.due(fire - 1) == []
    got = world.sch.due(fire + 30)
    assert [(s.id, f) for s, f in got] == [("m", fire)]
    assert world.sch.due(fire + 31) == []           # same process
    world.restart()                                  # re-open the store: last_fire was committed
    assert world.sch.get("m").last_fire == fire
    assert world.sch.due(fire + 40) == []
    assert [(s.id, f) for s, f in world.sch.due(fire + 86400 + 5)] == [("m", fire + 86400)]


async def test_fire_posts_once_per_target_with_stable_keys(world, clock, demo):
    clock.t = utc(2026, 1, 5, 0, 50)
    s = world.sch.add(id="m", times=["09:00"], tz="Asia/Shanghai", target="demo:g1,demo:g5", template="hi {group}",
                      actor="alice")
    ((s, fire),) = world.sch.due(utc(2026, 1, 5, 1, 0, 20))
    before = len(posts(demo))
    report = await world.sch.fire(s, fire, summaries_of(demo), world.pipeline)
    assert (report.total, report.done, report.failed) == (2, 2, 0)
    new = posts(demo)[before:]
    assert [(p["group"], p["key"]) for p in new] == [("demo:g1", f"schedule:m:{int(fire)}:demo:g1"),
                                                     ("demo:g5", f"schedule:m:{int(fire)}:demo:g5")]
    assert new[0]["text"] == "hi 王者荣耀开黑群"
    assert world.sch.get("m").inflight is None and world.sch.interrupted() == []
    a = world.ledger.by_key(f"schedule:m:{int(fire)}:demo:g1")
    assert a.origin == "schedule:m" and a.actor == "auto:schedule" and a.state is ActionState.DONE
    # firing the same fire again (a retry) posts nothing more
    again = await world.sch.fire(s, fire, summaries_of(demo), world.pipeline)
    assert again.skipped == 2 and len(posts(demo)) == before + 2


class Crash(BaseException):
    """The process dies (not an Exception: nothing catches it)."""


class CrashingRoute:
    """Delivers to the demo, but the process 'dies' on the send number ``at``."""

    idempotent_send = False  # as a platform without idempotency keys: a send cut off is never resent blindly

    def __init__(self, demo: DemoConnector, at: int | None) -> None:
        self.demo, self.at, self.sends = demo, at, 0
        self.name, self.platform, self.capabilities = demo.name, demo.platform, demo.capabilities

    async def send(self, group_id, text, mentions=(), idempotency_key=None):
        self.sends += 1
        if self.at is not None and self.sends >= self.at:
            raise Crash()
        return await self.demo.send(group_id, text, mentions, idempotency_key=idempotency_key)


class DyingPipeline:
    """The process dies as the pipeline is called: last_fire is committed, no action is recorded."""

    async def run(self, actions):
        raise Crash()


async def test_crash_before_actions_ran_then_refire_posts_once(world, clock, demo):
    clock.t = utc(2026, 1, 5, 0, 50)
    world.sch.add(id="m", times=["09:00"], tz="Asia/Shanghai", target="all", template="{group}: hello",
                  actor="alice")
    ((s, fire),) = world.sch.due(utc(2026, 1, 5, 1, 0, 10))
    with pytest.raises(Crash):
        await world.sch.fire(s, fire, summaries_of(demo), DyingPipeline())
    assert posts(demo) == [] and world.ledger.actions() == []
    world.restart()  # same data dir; the demo world lives on
    assert world.sch.get("m").last_fire == fire
    assert world.sch.due(utc(2026, 1, 5, 1, 0, 30)) == []          # never handed out again by due()
    assert [(x.id, f) for x, f in world.sch.interrupted()] == [("m", fire)]
    (x, f), = world.sch.interrupted()
    report = await world.sch.fire(x, f, summaries_of(demo), world.pipeline)
    keys = [p["key"] for p in posts(demo)]
    assert report.done == 6 and len(keys) == len(set(keys)) == 6
    assert all(k.startswith(f"schedule:m:{int(fire)}:") for k in keys)
    assert world.sch.interrupted() == []
    # re-firing the same fire, in this process or after another restart, posts nothing more
    assert (await world.sch.fire(x, f, summaries_of(demo), world.pipeline)).skipped == 6
    world.restart()
    report = await world.sch.fire(world.sch.get("m"), fire, summaries_of(demo), world.pipeline)
    assert report.done == 0 and report.skipped == 6 and len(posts(demo)) == 6
    await demo.poll(None, 1)
    assert len(posts(demo)) == 6


async def test_crash_midway_then_refire_never_posts_a_group_twice(tmp_path, clock, demo):
    conn = CrashingRoute(demo, at=4)  # three posts went out, the fourth dies in flight
    w = World(tmp_path / "data", clock, demo, route=lambda g: conn)
    clock.t = utc(2026, 1, 5, 0, 50)
    w.sch.add(id="m", times=["09:00"], tz="Asia/Shanghai", target="all", template="{group}: hello", actor="alice")
    ((s, fire),) = w.sch.due(utc(2026, 1, 5, 1, 0, 10))
    with pytest.raises(Crash):
        await w.sch.fire(s, fire, summaries_of(demo), w.pipeline)
    assert len(posts(demo)) == 3
    w.restart()
    conn.at = None
    await w.pipeline.recover()
    for x, f in w.sch.interrupted():
        report = await w.sch.fire(x, f, summaries_of(demo), w.pipeline)
        assert report.done == 0 and report.skipped == 6  # recover() finished the pending ones
    groups = [p["group"] for p in posts(demo)]
    assert len(groups) == len(set(groups)) == 5  # g4 was in flight: unknown, never resent blindly
    assert "demo:g4" not in groups
    assert w.sch.interrupted() == []
    w.close()


async def test_a_fire_claimed_then_paused_or_removed_posts_nothing(world, clock, demo):
    clock.t = utc(2026, 1, 5, 0, 50)
    world.sch.add(id="p", times=["09:00"], tz="Asia/Shanghai", target="all", template="x", actor="alice")
    world.sch.add(id="r", times=["09:00"], tz="Asia/Shanghai", target="all", template="x", actor="alice")
    due = dict((s.id, (s, f)) for s, f in world.sch.due(utc(2026, 1, 5, 1, 0, 5)))
    world.sch.pause("p", "alice")
    world.sch.remove("r", "alice")
    for s, f in due.values():
        report = await world.sch.fire(s, f, summaries_of(demo), world.pipeline)
        assert report.total == 0 and report.errors
    assert posts(demo) == [] and world.sch.interrupted() == []


# --- missed runs ------------------------------------------------------------------------

def test_missed_fires_are_skipped_by_default(world, clock):
    clock.t = utc(2026, 1, 5, 0, 50)
    world.sch.add(id="m", times=["09:00"], tz="Asia/Shanghai", target="all", template="hi", actor="alice")
    down_until = utc(2026, 1, 8, 3)  # missed 01-05, 01-06, 01-07 and 01-08 09:00
    assert world.sch.due(down_until) == []
    assert world.sch.get("m").last_fire == utc(2026, 1, 8, 1)
    audit = [e for e in world.ledger.audit_entries() if e.action == "schedule missed (skipped)"]
    assert len(audit) == 1 and audit[0].params["missed"] == 4
    world.restart()
    assert world.sch.due(down_until + 60) == []
    assert [f for _, f in world.sch.due(utc(2026, 1, 9, 1, 0, 30))] == [utc(2026, 1, 9, 1)]


async def test_run_once_runs_once_after_three_missed_fires(world, clock, demo):
    clock.t = utc(2026, 1, 5, 0, 50)
    world.sch.add(id="m", times=["09:00"], tz="Asia/Shanghai", target="demo:g2", template="hi", missed="run_once",
                  actor="alice")
    now = utc(2026, 1, 7, 5)  # 3 missed: 01-05, 01-06, 01-07
    due = world.sch.due(now)
    assert [f for _, f in due] == [utc(2026, 1, 7, 1)]
    for s, f in due:
        await world.sch.fire(s, f, summaries_of(demo), world.pipeline)
    assert len(posts(demo)) == 1
    assert world.sch.due(now + 60) == []
    world.restart()
    assert world.sch.due(now + 120) == []
    audit = [e for e in world.ledger.audit_entries() if e.action == "schedule missed (run once)"]
    assert len(audit) == 1 and audit[0].params["missed"] == 3


def test_a_fire_just_now_is_on_time_after_an_outage(world, clock):
    clock.t = utc(2026, 1, 5, 0, 50)
    world.sch.add(id="m", times=["09:00"], tz="Asia/Shanghai", target="all", template="hi", actor="alice")
    # back up 30 s after a fire, having missed two earlier ones: the fresh fire runs, the old are skipped
    assert [f for _, f in world.sch.due(utc(2026, 1, 7, 1, 0, 30))] == [utc(2026, 1, 7, 1)]
    assert world.sch.due(utc(2026, 1, 7, 1, 5)) == []


def test_paused_schedules_do_not_fire_and_resume_does_not_catch_up(world, clock):
    clock.t = utc(2026, 1, 5, 0, 50)
    s = world.sch.add(id="m", times=["09:00"], tz="Asia/Shanghai", target="all", template="hi", missed="run_once",
                      actor="alice")
    world.sch.pause("m", "alice")
    assert world.sch.next_run(s, clock.t) is None
    assert run_clock(world.sch, clock, utc(2026, 1, 5, 0, 55), utc(2026, 1, 6, 2), step=120) == []
    world.restart()
    assert world.sch.get("m").paused
    clock.t = utc(2026, 1, 6, 3)
    world.sch.resume("m", "alice")
    assert world.sch.due(utc(2026, 1, 6, 3, 1)) == []   # 01-05 and 01-06 fell in the pause
    assert [f for _, f in world.sch.due(utc(2026, 1, 7, 1, 1))] == [utc(2026, 1, 7, 1)]
    actions = [e.action for e in world.ledger.audit_entries()]
    assert "schedule paused" in actions and "schedule resumed" in actions


# --- targets, templates, dry run --------------------------------------------------------

def test_targets_by_ids_tag_tier_and_all(world, demo):
    rows = summaries_of(demo)
    mk = lambda i, t: world.sch.add(id=i, times=["09:00"], tz="UTC", target=t, template="x", actor="a")  # noqa: E731
    ids = lambda s: [g.id for g in world.sch.targets(s, rows)]  # noqa: E731
    assert ids(mk("a", "demo:g5,demo:g1")) == ["demo:g5", "demo:g1"]
    assert ids(mk("b", "tag:gaming")) == ["demo:g1", "demo:g3"]
    assert ids(mk("c", "tier:inactive")) == ["demo:g3", "demo:g6"]
    assert ids(mk("d", "all")) == [f"demo:g{i}" for i in range(1, 7)]
    assert ids(mk("e", "tag:fans,tier:high,demo:g2")) == ["demo:g2", "demo:g4", "demo:g1", "demo:g5"]
    gone = mk("f", "demo:g1,demo:g99")
    assert ids(gone) == ["demo:g1"] and world.sch.missing(gone, rows) == ["demo:g99"]


async def test_targets_from_a_real_engine(world, demo):
    engine = Engine(Settings(), [demo], world.store, clock=demo.now)
    await engine.load_snapshots()
    s = world.sch.add(id="t", times=["09:00"], tz="UTC", target="tag:customer", template="x", actor="a")
    assert [g.id for g in world.sch.targets(s, engine.summaries())] == ["demo:g5"]


async def test_missing_group_is_reported_as_failed(world, demo):
    s = world.sch.add(id="x", times=["09:00"], tz="UTC", target="demo:g1,demo:g99", template="x", actor="a")
    report = await world.sch.run_now(s, summaries_of(demo), world.pipeline, "alice")
    assert (report.total, report.done, report.failed) == (2, 1, 1)
    assert "demo:g99" in report.errors[0]


def test_template_rendering(world, demo):
    s = world.sch.add(id="r", times=["09:00"], tz=NY, target="all", actor="a",
                      template="{group} has {members} members ({tier}) on {date} at {time} {{literal}}")
    g = summaries_of(demo)[1]
    text = world.sch.render(s, g, utc(2026, 3, 8, 7))  # 03:00 EDT
    assert text == "五月天粉丝 1群 has 77 members (ordinary) on 2026-03-08 at 03:00 {literal}"


@pytest.mark.parametrize("template, why", [
    ("hi {name}", "unknown placeholder '{name}'"),
    ("hi {", "bad template"),
    ("hi }", "bad template"),
    ("hi {}", "unknown placeholder '{}'"),
    ("hi {0}", "unknown placeholder '{0}'"),
    ("{group.__class__}", "unknown placeholder"),
    ("{members:zz}", "bad template"),
    ("   ", "empty template"),
])
def test_bad_templates_are_refused_at_add_time(world, template, why):
    with pytest.raises(ActionError) as e:
        world.sch.add(times=["09:00"], tz="UTC", target="all", template=template, actor="a")
    assert why in str(e.value) and "\n" not in str(e.value)
    assert world.sch.list() == []


async def test_dry_run_sends_nothing(world, clock, demo):
    s = world.sch.add(id="d", times=["09:00"], tz="Asia/Shanghai", target="tag:fans", template="{group} {time}",
                      actor="a")
    before = list(demo.received)
    plan = world.sch.dry_run(s, summaries_of(demo), fire=utc(2026, 1, 5, 1))
    assert plan == [("demo:g2", "五月天粉丝 1群 09:00"), ("demo:g4", "BLACKPINK Global 09:00")]
    await demo.poll(None, 1)
    assert posts(demo) == [] and [r for r in demo.received if r not in before] == []
    assert world.ledger.actions() == []


async def test_run_now_posts_without_touching_last_fire(world, clock, demo):
    s = world.sch.add(id="n", times=["09:00"], tz="UTC", target="demo:g3", template="now {group}", actor="a")
    last = s.last_fire
    clock.t += 10
    report = await world.sch.run_now(s, summaries_of(demo), world.pipeline, "alice")
    assert report.done == 1 and world.sch.get("n").last_fire == last
    (p,) = posts(demo)
    assert p["group"] == "demo:g3" and p["key"] == f"schedule:n:now-{int(clock.t)}:demo:g3"
    await demo.poll(None, 1)  # the world delivers it
    assert any(e.action == "schedule run now" and e.actor == "alice" for e in world.ledger.audit_entries())


# --- validation ----------------------------------------------------------------------------

@pytest.mark.parametrize("kw, why", [
    ({"cron": "61 9 * * *"}, "bad cron expression '61 9 * * *'"),
    ({"cron": "0 9 * *"}, "needs 5 fields"),
    ({"cron": "0 0 30 2 *"}, "never fires"),
    ({"cron": "@reboot"}, "bad cron expression"),
    ({"times": ["25:00"]}, "bad time '25:00'"),
    ({"times": ["9h"]}, "bad time '9h'"),
    ({"times": ["09:00"], "tz": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
    ({"times": ["09:00"], "tz": "../etc/passwd"}, "unknown time zone"),
    ({"times": ["09:00"], "target": "gaming"}, "bad target 'gaming'"),
    ({"times": ["09:00"], "target": "tier:busy"}, "tiers are high, ordinary, inactive, critical"),
    ({"times": ["09:00"], "target": "demo:g1,,demo:g2"}, "empty item"),
    ({"times": ["09:00"], "missed": "later"}, "bad missed-run policy 'later'"),
    ({}, "no timetable"),
    ({"cron": "0 9 * * *", "times": ["09:00"]}, "not both"),
    ({"times": ["09:00"], "id": "bad id!"}, "bad schedule id"),
])
def test_validation_errors_are_one_line(world, kw, why):
    args = {"target": "all", "template": "hi", "tz": "UTC", "actor": "a", **kw}
    with pytest.raises(ActionError) as e:
        world.sch.add(**args)
    assert why in str(e.value), str(e.value)
    assert "\n" not in str(e.value)


def test_duplicate_ids_generated_ids_and_times_normalised(world):
    a = world.sch.add(times="9:00,18:30,09:00", tz="UTC", target="all", template="x", actor="a")
    b = world.sch.add(cron="0 9 * * 1-5", tz="UTC", target="all", template="x", actor="a")
    assert (a.id, b.id) == ("sched-1", "sched-2") and a.times == ["09:00", "18:30"]
    with pytest.raises(ActionError, match="exists already"):
        world.sch.add(id="sched-1", times=["09:00"], tz="UTC", target="all", template="x", actor="a")
    world.sch.remove("sched-1", "a")
    world.restart()
    assert [s.id for s in world.sch.list()] == ["sched-2"]
    with pytest.raises(ActionError, match="no schedule 'sched-1'"):
        world.sch.get("sched-1")


def test_default_zone_is_a_real_zone(world):
    s = world.sch.add(times=["09:00"], target="all", template="x", actor="a")
    assert s.tz == local_zone_name() and ZoneInfo(s.tz) is not None


def test_schedule_docs_round_trip():
    s = Schedule(id="x", cron=None, times=["09:00"], tz="UTC", target="all", template="t", last_fire=1.0)
    assert Schedule.from_doc({**s.to_doc(), "_key": "x", "future_field": 1}) == s


# --- the CLI module ---------------------------------------------------------------------------
# ``groupwatch schedule ...`` as run, through the service: on the demo (6 groups, seed 3) in a data dir
# of the test's own, with no service running, so each command opens the engine in-process.

@pytest.fixture
def cli(tmp_path, capsys, monkeypatch):
    import shutil
    import tempfile

    from console.cli import main

    monkeypatch.setenv("GROUPWATCH_CONFIG", str(tmp_path / "none.toml"))
    # A short data dir: the data dir's socket path must fit a sockaddr_un (see attach.short_path).
    data = tempfile.mkdtemp(prefix="gw-sch-")

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(["schedule", *argv, "--data-dir", data, "--groups", "6", "--seed", "3"])
        out = capsys.readouterr()
        return code, out.out, out.err

    def other(*argv: str) -> tuple[int, str, str]:
        code = main([*argv, "--data-dir", data, "--groups", "6", "--seed", "3"])
        out = capsys.readouterr()
        return code, out.out, out.err

    run.other = other
    yield run
    shutil.rmtree(data, ignore_errors=True)


def test_cli_add_list_pause_dry_run_remove(cli):
    code, out, err = cli("add", "--target", "tag:gaming", "--template", "早上好 {group}", "--at", "09:00",
                         "--tz", "Asia/Shanghai", "--id", "morning")
    assert code == 0 and err == ""
    assert "added schedule morning: daily 09:00 (Asia/Shanghai), next run " in out
    code, out_list, _ = cli("list", "--format", "json")
    (doc,) = json.loads(out_list)
    assert doc["id"] == "morning" and doc["paused"] is False and doc["created_by"]
    nxt = datetime.fromtimestamp(doc["next_run_at"], ZoneInfo("Asia/Shanghai"))
    assert (nxt.hour, nxt.minute) == (9, 0) and doc["next_run"] == nxt.isoformat(timespec="minutes")
    assert nxt.strftime("%Y-%m-%d %H:%M CST") in out  # the add said the same next run
    code, out, _ = cli("list")
    assert code == 0 and "morning" in out and "tag:gaming" in out and "active" in out
    assert cli("pause", "morning")[0] == 0
    code, out, _ = cli("list", "--format", "json")
    assert json.loads(out)[0]["paused"] is True and json.loads(out)[0]["next_run"] is None
    code, out, _ = cli("run-now", "morning", "--dry-run")
    assert code == 0 and "would post to 2 group(s)" in out
    assert "demo:g1" in out and "早上好 王者荣耀开黑群" in out and "demo:g3" in out
    code, out, err = cli("resume", "morning")
    assert code == 0 and "resumed schedule morning, next run 20" in out
    code, out, _ = cli("remove", "morning")
    assert code == 0 and "removed" in out
    code, out, _ = cli("list", "--format", "json")
    assert json.loads(out) == []
    # Nothing was posted, and every change is in the audit log with who made it.
    code, out, _ = cli.other("audit", "--format", "json")
    audit = json.loads(out)
    assert not [e for e in audit if e["action"] == "send"]
    steps = [e["action"] for e in audit if e["action"].startswith("schedule")]
    assert steps == ["schedule added", "schedule paused", "schedule resumed", "schedule removed"], steps


def test_cli_run_now_sends(cli):
    cli("add", "--target", "demo:g2", "--template", "hello {members}", "--cron", "0 9 * * 1-5", "--tz", "UTC",
        "--id", "w")
    code, out, err = cli("run-now", "w")
    assert code == 0 and "ran w now: 1/1 done" in out
    code, out, _ = cli.other("audit", "--format", "json")
    (post,) = [e for e in json.loads(out) if e["action"] == "send"]
    assert post["group"] == "demo:g2" and post["origin"] == "schedule:w" and post["result"].startswith("done")
    rows = {r["group"]: r for r in json.loads(cli.other("report", "--format", "json")[1])}
    assert post["params"]["text"] == f"hello {rows['demo:g2']['members']}"


def test_cli_warns_of_a_target_group_that_is_not_watched(cli):
    code, out, err = cli("add", "--target", "demo:g2,demo:g99", "--template", "hi", "--at", "09:00", "--id", "x")
    assert code == 0
    code, out, err = cli("run-now", "x", "--dry-run")
    assert code == 0 and "would post to 1 group(s)" in out
    assert err == "groupwatch: warning: demo:g99: no such group is watched\n"


@pytest.mark.parametrize("argv, why", [
    (("add", "--target", "all", "--template", "x", "--cron", "0 9 * *"), "bad cron expression"),
    (("add", "--target", "all", "--template", "x", "--at", "24:00"), "bad time '24:00'"),
    (("add", "--target", "all", "--template", "{x}", "--at", "09:00"), "unknown placeholder"),
    (("add", "--target", "nowhere", "--template", "x", "--at", "09:00"), "bad target"),
    (("add", "--target", "all", "--template", "x", "--at", "09:00", "--tz", "Nowhere/City"), "unknown time zone"),
    (("pause", "nope"), "no schedule 'nope'"),
    (("resume", "nope"), "no schedule 'nope'"),
    (("remove", "nope"), "no schedule 'nope'"),
    (("run-now", "nope"), "no schedule 'nope'"),
    (("run-now", "nope", "--dry-run"), "no schedule 'nope'"),
])
def test_cli_errors_are_one_line_exit_2(cli, argv, why):
    code, out, err = cli(*argv)
    assert code == 2 and out == ""
    assert err.startswith("groupwatch: error: ") and why in err and err.count("\n") == 1
    assert json.loads(cli("list", "--format", "json")[1]) == []
