"""Issue 13 item 7: new-member retention, reactivation of mentioned quiet members, the team report
(from the audit log, through the service) and the chat digests, all on a fake clock."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from connectors.events import Group, Member
from console.engine.actions.model import Action, ActionKind
from console.engine.cohorts import WEEKS_KEPT, Cohorts, week_of, week_start
from console.engine.detectors.base import Finding, Severity
from console.engine.digest import daily_summary, weekly_digest
from console.engine.digest.chat import MAX_CHARS
from console.engine.engine import Engine
from console.engine.moderation import Moderation
from console.engine.settings import Settings
from console.engine.stats import DAY, FleetStats
from console.engine.store import Store
from console.runtime import Runtime
from console.service.api import Actor, Command, Role, TeamReport
from console.service.service import Service
from tests.fakes import ScriptedConnector
from tests.helpers import T0, join, leave, msg

WEEK1 = week_start(week_of(T0))  # T0 is a Monday 01:00 UTC: week 1 starts at its midnight


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@dataclass
class World:
    clock: Clock
    engine: Engine
    moderation: Moderation
    service: Service
    store: Store
    conn: ScriptedConnector

    def close(self) -> None:
        self.store.close()


def world(tmp_path: Path, groups: dict[str, str] | None = None, members: int = 6,
          settings: Settings | None = None) -> World:
    """An engine and its moderation on a fake clock, behind a real Service; groups named as given."""
    groups = groups or {"fake:g1": "Readers' club"}
    clock = Clock(T0)
    conn = ScriptedConnector("fake", [], [Group(id=g, name=n, platform="fake") for g, n in groups.items()])
    settings = settings or Settings()
    store = Store(tmp_path / "data")
    engine = Engine(settings, [conn], store, clock=clock)
    for gid, gname in groups.items():
        engine.stats.load_group(Group(id=gid, name=gname, platform="fake"), T0)
        engine.stats.load_members(gid, [Member(id=f"{gid}:m{i}", name=f"member {i}") for i in range(members)],
                                  T0, complete=True)
    mod = Moderation(settings, store, engine, actor="owner")
    rt = Runtime(settings, engine, store, tmp_path / "data", tmp_path / "none.toml", None, mod)
    return World(clock, engine, mod, Service(rt, owner="owner"), store, conn)


def actor(user: str) -> Actor:
    return Actor(user, Role.MODERATOR, f"{user}-console")


def alert(w: World, kind: str, group: str, member: str | None, severity=Severity.HIGH) -> int:
    a, _ = w.engine.alerts.apply(Finding(kind, severity, group, member, (f"{kind} seen",), w.clock.t,
                                         message_id="x1" if kind == "ad" else None))
    return a.id


# --- retention ---

def test_retention_of_a_join_week_at_7_and_30_days():
    """Ten join in week 1; two leave 3 days in, three more 10 days in: 80% stay a week, 50% a month."""
    stats = FleetStats()
    joined = {f"m{i}": WEEK1 + i * 0.5 * DAY for i in range(10)}
    events = [join("fake:g1", m, at) for m, at in joined.items()]
    events += [leave("fake:g1", m, joined[m] + 3 * DAY) for m in ("m0", "m1")]
    events += [leave("fake:g1", m, joined[m] + 10 * DAY, kicked_by="admin" if m == "m4" else None)
               for m in ("m2", "m3", "m4")]
    for ev in sorted(events, key=lambda e: e.at):
        stats.apply(ev)
    c = stats.cohorts
    # Before a week's every member has had 7 days, that week is not the one judged.
    early = c.retention("fake:g1", WEEK1 + 13 * DAY, 7)
    assert early.week == week_of(WEEK1) - 1 and early.joined == 0 and early.rate is None
    r7 = c.retention("fake:g1", WEEK1 + 14 * DAY + 3600, 7)
    assert (r7.week, r7.joined, r7.stayed, r7.rate) == (week_of(WEEK1), 10, 8, 0.8)
    r30 = c.retention("fake:g1", WEEK1 + 37 * DAY + 3600, 30)
    assert (r30.week, r30.joined, r30.stayed, r30.rate) == (week_of(WEEK1), 10, 5, 0.5)
    # Another group's numbers add up in the fleet's, not in this group's.
    stats.apply(join("fake:g2", "x", WEEK1 + DAY))
    assert c.fleet(WEEK1 + 14 * DAY + 3600, 7).joined == 11
    assert c.retention("fake:g1", WEEK1 + 14 * DAY + 3600, 7).joined == 10


def test_retention_ignores_members_from_before_and_stays_bounded():
    stats = FleetStats()
    # Known from the member list (joined long before we watched): their leaving is no newcomer's.
    stats.load_members("fake:g1", [Member(id="old", name="old", joined_at=WEEK1 - 90 * DAY)], WEEK1, complete=True)
    stats.apply(join("fake:g1", "new", WEEK1 + DAY))
    stats.apply(leave("fake:g1", "old", WEEK1 + 2 * DAY))
    # Gone from a complete member list counts as gone.
    stats.load_members("fake:g1", [], WEEK1 + 2 * DAY, complete=True)
    r = stats.cohorts.retention("fake:g1", WEEK1 + 15 * DAY, 7)
    assert (r.joined, r.stayed) == (1, 0)
    # Twenty weeks of joins keep only the weeks a verdict still needs.
    for wk in range(20):
        stats.apply(join("fake:g1", f"w{wk}", WEEK1 + wk * 7 * DAY))
    assert len(stats.cohorts.groups["fake:g1"]) <= WEEKS_KEPT + 1


def test_cohorts_survive_a_checkpoint(tmp_path):
    w = world(tmp_path)
    w.engine.ingest([join("fake:g1", f"n{i}", WEEK1 + i * 3600) for i in range(4)])
    w.engine.ingest([leave("fake:g1", "n0", WEEK1 + 2 * DAY)])
    w.engine.checkpoint()
    w.close()
    store = Store(tmp_path / "data")
    again = Engine(Settings(), [], store, clock=Clock(WEEK1 + 15 * DAY))
    again.restore()
    r = again.stats.cohorts.retention("fake:g1", WEEK1 + 15 * DAY, 7)
    assert (r.joined, r.stayed) == (4, 3)
    store.close()
    damaged = Cohorts()
    damaged.load_docs([{"group": "g", "weeks": {"x": [1]}}, {"nope": 1}])
    assert damaged.groups == {}


# --- reactivation ---

async def test_reactivation_of_mentioned_quiet_members_in_the_report_and_the_digest(tmp_path):
    w = world(tmp_path)
    g = "fake:g1"
    mentioned = [f"{g}:m{i}" for i in range(4)]
    w.moderation.mentions.record([Action(ActionKind.SEND, g, None, text="@all", mentions=tuple(mentioned),
                                         key="mention:test")], T0)
    w.clock.t = T0 + DAY
    w.engine.ingest([msg(g, mentioned[0], T0 + DAY)])          # answered within the 3 days
    w.engine.ingest([msg(g, mentioned[1], T0 + 5 * DAY)])      # too late to count
    w.clock.t = T0 + 6 * DAY
    rows = await w.service.query(actor("alice"), "report", {})
    row = next(r for r in rows if r.id == g)
    assert row.reactivation == 0.25
    text = weekly_digest(w.engine, w.clock.t)
    assert "Quiet members mentioned (30 days): 4 judged, 1 posted within 3 days (25%)" in text
    # Mentions older than the span are not this month's news.
    assert w.moderation.mentions.reactivation_by_group(T0 + 40 * DAY, since=T0 + 10 * DAY) == {}
    w.close()


async def test_the_report_view_carries_retention(tmp_path):
    w = world(tmp_path)
    w.engine.ingest([join("fake:g1", f"n{i}", WEEK1 + i * 3600) for i in range(5)])
    w.engine.ingest([leave("fake:g1", "n0", WEEK1 + DAY)])
    w.clock.t = WEEK1 + 15 * DAY
    row = next(r for r in await w.service.query(actor("alice"), "report", {}) if r.id == "fake:g1")
    assert row.retention_7d == 0.8 and row.retention_30d is None
    assert (await w.service.query(actor("alice"), "groups", {}))[0].retention_7d is None  # the report's only
    text = weekly_digest(w.engine, w.clock.t)
    assert "New members of the week of 2026-01-05: 5 joined, 80% still there 7 days on" in text
    w.close()


# --- the team report ---

async def test_team_report_counts_each_operators_work_and_median_time_to_ack(tmp_path):
    w = world(tmp_path)
    svc, g = w.service, "fake:g1"
    alice, bob, carol = actor("alice"), actor("bob"), actor("carol")
    a1 = alert(w, "ad", g, f"{g}:m1")
    a2 = alert(w, "flood", g, f"{g}:m2")
    a3 = alert(w, "silent_group", g, None, Severity.MEDIUM)
    w.clock.t = T0 + 60
    assert (await svc.execute(alice, Command("ack", [a1]))).done == 1      # 60 s after it began
    w.clock.t = T0 + 300
    assert (await svc.execute(bob, Command("claim", [a2]))).done == 1      # 300 s
    w.clock.t = T0 + 400
    assert (await svc.execute(carol, Command("ack", [a1]))).skipped == 1   # already acknowledged: not counted
    w.clock.t = T0 + 600
    assert (await svc.execute(alice, Command("ack", [a3]))).done == 1      # 600 s
    assert (await svc.execute(bob, Command("ack", [a2]))).done == 1        # bob answered a2 first, at its claim
    w.clock.t = T0 + 900
    assert (await svc.execute(bob, Command("resolve", [a2]))).done == 1
    r = await svc.execute(alice, Command("warn_alerts", [a1]))
    assert r.done == 1 and not r.failed, r
    w.clock.t = T0 + 1000
    assert (await svc.execute(alice, Command("unack", [a3]))).done == 1    # reopening is no new acknowledgement

    team = await svc.query(actor("viewer"), "team", {"since": T0 - DAY})
    assert isinstance(team, TeamReport)
    rows = {r.operator: r for r in team.operators}
    assert set(rows) == {"alice", "bob"}  # carol's skipped ack did nothing
    a, b = rows["alice"], rows["bob"]
    assert (a.claimed, a.acknowledged, a.resolved) == (0, 2, 1)        # her warning resolved a1's incident
    assert a.median_ack_s == 330 and a.timed == 2                        # median of 60 and 600
    assert a.actions == {"warn": 1} and a.actions_total == 1             # the warning's message is the warning
    assert (b.claimed, b.acknowledged, b.resolved) == (1, 1, 1)
    assert b.median_ack_s == 300 and b.timed == 1 and b.actions_total == 0
    assert team.operators[0].operator == "alice"                         # busiest first
    # --since cuts the period: nothing before it counts.
    later = await svc.query(actor("alice"), "team", {"since": T0 + 800})
    assert {r.operator: (r.acknowledged, r.resolved, r.actions_total) for r in later.operators} == \
        {"bob": (0, 1, 0), "alice": (0, 1, 1)}
    w.close()


async def test_team_report_counts_an_incident_once_with_its_alerts(tmp_path):
    w = world(tmp_path, {f"fake:g{i}": f"group {i}" for i in range(1, 4)})
    svc = w.service
    w.clock.t = T0 - 120
    ids = [alert(w, "ad", "fake:g1", "fake:spam")]
    w.clock.t = T0
    ids += [alert(w, "ad", f"fake:g{i}", "fake:spam") for i in (2, 3)]
    (inc,) = w.engine.incidents.of_alert(ids[0])  # one sender's ads across groups: one incident
    assert sorted(inc.alert_ids) == ids and inc.first_at == T0 - 120
    w.clock.t = T0 + 60
    assert (await svc.execute(actor("alice"), Command("ack", [f"incident:{inc.id}"]))).done == 3
    # An incident the engine no longer keeps still counts, timed from what its entry recorded.
    w.moderation.ledger.audit("bob", "incident resolved", params={"target": "incident:99", "incident": 99,
                                                                  "opened_at": T0 - 60})
    team = await svc.query(actor("alice"), "team", {})
    rows = {r.operator: r for r in team.operators}
    assert rows["alice"].acknowledged == 1                 # one incident, not three alerts and an incident
    assert rows["alice"].median_ack_s == 180 and rows["alice"].timed == 1  # from the incident's start
    assert (rows["bob"].resolved, rows["bob"].timed) == (1, 0)
    w.close()


async def test_team_query_refuses_a_bad_since(tmp_path):
    from console.service.api import ServiceError

    w = world(tmp_path)
    with pytest.raises(ServiceError, match="team since"):
        await w.service.query(actor("alice"), "team", {"since": "yesterday"})
    w.close()


# --- the digests ---

HOSTILE = "\x1b[31m@room\u202eevil\u200b\nline\x07"
CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]")


async def test_daily_summary_by_kind_with_actions_and_groups_needing_attention(tmp_path):
    w = world(tmp_path, {"fake:g1": "Readers' club", "fake:g2": HOSTILE})
    a1 = alert(w, "ad", "fake:g1", "fake:g1:m1")
    alert(w, "ad", "fake:g2", "fake:g2:m1")
    alert(w, "flood", "fake:g2", "fake:g2:m2", Severity.MEDIUM)
    w.clock.t = T0 + 120
    await w.service.execute(actor("alice"), Command("warn_alerts", [a1]))
    await w.service.execute(actor("bob"), Command("ack", [a1]))
    text = daily_summary(w.engine, w.clock.t)
    lines = text.split("\n")
    assert lines[0].startswith("groupwatch daily summary, 2026-01-04 01:02 to 2026-01-05 01:02 UTC")
    assert "Alerts: 3 new: ad 2, flood 1" in lines
    assert "Open now: 3 (2 high, 1 medium, 0 low)" in lines
    assert "Actions: 1 by 1 operator: warn 1" in lines
    assert "Handled: 1 acknowledged, 0 claimed, 1 resolved" in lines  # the warning resolved a1's incident
    attention = lines[lines.index("Needs attention:") + 1:]
    assert attention[0].startswith("- ␛[31m＠room⟨U+202E⟩evil") and "2 open alerts (1 high)" in attention[0]
    assert not CONTROL.search(text) and "@" not in text
    assert all(len(line) <= 120 for line in lines)
    w.close()


async def test_weekly_digest_tiers_team_and_a_cap_on_length(tmp_path):
    groups = {f"fake:g{i}": f"{HOSTILE} {i}" for i in range(300)}
    w = world(tmp_path, groups, members=5)
    for i in range(0, 300, 2):  # half the groups have someone who spoke: 20% active, "ordinary"
        w.engine.ingest([msg(f"fake:g{i}", f"fake:g{i}:m0", T0 - DAY)])
    a = alert(w, "ad", "fake:g1", "fake:g1:m1")
    w.clock.t = T0 + 30
    await w.service.execute(actor("alice"), Command("claim", [a]))
    text = weekly_digest(w.engine, w.clock.t)
    assert len(text) <= MAX_CHARS and not CONTROL.search(text) and "@" not in text
    assert text.startswith("groupwatch weekly report, 2025-12-29 to 2026-01-05 UTC\nGroups: 300 watched")
    assert "\n  0 high-quality active (over 40%), 150 ordinary (20%-40%),\n" in text
    assert "\n  0 inactive (under 20%), 150 critical (under 10%)\n" in text
    assert re.search(r"\.\.\. and \d+ more", text)
    assert "- alice: 1 acked, 1 claimed, 0 resolved, 30s median to ack" in text  # a claim acknowledges
    # NOTIFY's dispatcher calls them exactly so.
    assert daily_summary(w.engine, w.clock.t) and len(daily_summary(w.engine, w.clock.t)) <= MAX_CHARS
    w.close()


def test_a_long_message_is_cut_at_whole_lines():
    from console.engine.digest.chat import finish

    text = finish([f"line {i}" for i in range(1000)], 200)
    assert len(text) <= 200 and text.endswith("more lines") and "\nline 3\n" in text
    assert finish(["a", "b"], 200) == "a\nb"


# --- the command ---

async def _work_on_the_demo(data: Path) -> None:
    """Two moderators triage the demo's alerts through the service; the audit log keeps it."""
    from console.runtime import open_runtime, poll_once

    rt = open_runtime(None, str(data), groups=4, seed=5, speed=3600, pace=False)
    try:
        svc = Service(rt, owner="owner")
        for _ in range(60):
            await poll_once(rt.engine)
            if len(rt.engine.alerts) >= 3:
                break
        incs = rt.engine.incidents
        # Incidents that share no alert with another: each command changes exactly one.
        alone = [i for i in incs.live() if all(len(incs.of_alert(a)) == 1 for a in i.alert_ids)]
        assert len(alone) >= 3
        targets = [f"incident:{i.id}" for i in alone[:3]]
        assert (await svc.execute(actor("alice"), Command("ack", targets[:2]))).done >= 2
        assert (await svc.execute(actor("bob"), Command("claim", targets[2:]))).done >= 1
        assert (await svc.execute(actor("bob"), Command("resolve", targets[2:]))).done >= 1
    finally:
        await rt.aclose()


DEMO = ("--groups", "4", "--seed", "5", "--speed", "3600")


async def test_report_team_through_the_real_command(tmp_path, capsys, monkeypatch):
    import csv
    import io
    import json

    from console.cli import main

    monkeypatch.setenv("GROUPWATCH_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("GROUPWATCH_HOME", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "80")
    await _work_on_the_demo(tmp_path)

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out = capsys.readouterr()
        return code, out.out, out.err

    import asyncio

    # main() runs its own event loop: off this test's loop, as a user's shell would run it.
    code, out, err = await asyncio.to_thread(run, "report", "--team", "--format", "json", *DEMO)
    assert code == 0, err
    rows = {r["operator"]: r for r in json.loads(out)}
    assert set(rows) == {"alice", "bob"}
    assert (rows["alice"]["acknowledged"], rows["alice"]["acks_timed"]) == (2, 2)
    assert (rows["bob"]["claimed"], rows["bob"]["resolved"]) == (1, 1)
    assert rows["alice"]["median_ack_s"] is not None and rows["alice"]["median_ack_s"] >= 0

    code, out, err = await asyncio.to_thread(run, "report", "--team", *DEMO)
    assert code == 0, err
    lines = out.rstrip("\n").split("\n")
    assert lines[0].startswith("team report (DEMO), since ") and all(len(x) <= 80 for x in lines), out
    assert any(re.match(r"│ alice +│ +0 │ +2 │ +0 │ +\d+[smhd]", x) for x in lines), out

    code, out, _ = await asyncio.to_thread(run, "report", "--team", "--format", "csv", *DEMO)
    table = list(csv.DictReader(io.StringIO(out)))
    assert {r["operator"]: r["acknowledged"] for r in table} == {"alice": "2", "bob": "1"}  # a claim acknowledges
    code, out, _ = await asyncio.to_thread(run, "report", "--team", "--format", "markdown", *DEMO)
    assert out.startswith("| operator | claimed | acknowledged |") and "| bob | 1 | 1 | 1 |" in out

    # Nothing in the period: said in a line, not an empty table.
    code, out, _ = await asyncio.to_thread(run, "report", "--team", "--since", "2000-01-01", *DEMO)
    assert code == 0 and "alice" in out
    code, out, _ = await asyncio.to_thread(run, "report", "--team", "--since", "1s", *DEMO)
    assert code == 0 and "nobody claimed, acknowledged, resolved or acted on anything" in out
    code, out, err = await asyncio.to_thread(run, "report", "--team", "--since", "yesterday", *DEMO)
    assert code == 2 and err.startswith("groupwatch: error: bad time 'yesterday'") and err.count("\n") == 1
    code, out, err = await asyncio.to_thread(run, "report", "--since", "7d", *DEMO)
    assert code == 2 and "--since goes with --team" in err

    # The tiering report gains its columns in every format.
    code, out, _ = await asyncio.to_thread(run, "report", "--format", "json", *DEMO)
    assert {"retention_7d", "retention_30d", "reactivation"} <= json.loads(out)[0].keys()


async def test_report_table_shows_retention_apart_at_80_columns(tmp_path):
    import io

    from rich.console import Console

    from console.report_retention import weekly_table

    w = world(tmp_path, {"fake:g1": "Readers' club", "fake:g2": "Quiet corner"})
    w.engine.ingest([join("fake:g1", f"n{i}", WEEK1 + i * 3600) for i in range(5)])
    w.engine.ingest([leave("fake:g1", "n0", WEEK1 + DAY)])
    w.clock.t = WEEK1 + 15 * DAY
    rows = await w.service.query(actor("alice"), "report", {})
    buf = io.StringIO()
    Console(file=buf, width=80, markup=False, highlight=False).print(weekly_table(rows, w.clock.t))
    out = buf.getvalue()
    assert all(len(line) <= 80 for line in out.split("\n"))
    retention = out[out.index("new members kept, quiet members reactivated"):]
    assert weekly_table([r for r in rows if r.id == "fake:g2"], w.clock.t) is None  # no figure: no table
    assert re.search(r"│ fake:g1 │ Readers' club │ +80\.0% │ +- │ +- │", retention), out
    assert "Quiet corner" not in retention and "kept 7d: the week of 2026-01-05" in retention.replace("\n", " ")
    w.close()


def test_actions_are_counted_once_per_decision_and_only_when_done():
    from console.engine.actions.ledger import AuditEntry
    from console.engine.team import automatic_actions, team_work

    def e(i, actor, action, origin="", result="ok", **params):
        return AuditEntry(at=T0 + i, actor=actor, action=action, origin=origin, result=result, params=params, id=i)

    entries = [
        e(1, "alice", "blacklist add", origin="blacklist"),
        *[e(2 + i, "alice", "ban", origin="blacklist", result="done") for i in range(4)],  # its bans: the same decision
        e(7, "alice", "send", origin="mention", result="done"),
        e(8, "alice", "kick", origin="manual", result="failed: not allowed"),               # not done
        e(9, "bob", "delete", origin="manual", result="done"),
        e(10, "auto:blacklist", "kick", origin="auto:blacklist", result="done"),
        e(11, "auto:welcome", "send", origin="welcome", result="done"),
        e(12, "owner", "send", origin="schedule:tips", result="done"),
        e(13, "automaton", "warn", origin="warn"),                                          # a person's name
    ]
    work = {w.operator: w.actions for w in team_work(entries, lambda item, entry: None)}
    assert work == {"alice": {"blacklist": 1, "mention": 1}, "bob": {"delete": 1}, "automaton": {"warn": 1}}
    assert automatic_actions(entries) == {"blacklist": 1, "welcome": 1, "scheduled post": 1}


async def test_daily_counts_say_at_least_when_the_history_lost_some(tmp_path):
    settings = Settings()
    settings.alerts.keep_history = 3
    w = world(tmp_path, settings=settings)
    for i in range(6):
        a = alert(w, "flood", "fake:g1", f"fake:g1:m{i}")
        w.engine.alerts.resolve(a, w.clock.t, "auto")
        w.clock.t += 60
    text = daily_summary(w.engine, w.clock.t)
    assert "Alerts: at least 3 new: flood 3" in text.split("\n")
    w.close()
