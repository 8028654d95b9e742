"""Issue 13 item 7: ``groupwatch report --team``: per operator the incidents claimed, acknowledged
and resolved, the median time to acknowledge and the actions taken, from the audit log through
the service (several actors on a fake clock), and the real command."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from console.engine.detectors.base import Severity
from console.engine.stats import DAY
from console.service.api import Command, TeamReport
from console.service.service import Service
from tests.digest_world import actor, alert, world
from tests.helpers import T0


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
