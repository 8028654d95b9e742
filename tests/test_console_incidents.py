"""Pilot tests of the Alerts screen's incidents and of the Silences screen: every key they add.

The world is held still (nothing runs the engine) and the alerts are crafted, so each test knows
exactly which incidents there are."""
from __future__ import annotations

import asyncio
import re
import shlex

import pytest

from console.app import GroupWatchApp
from console.engine.detectors.base import Finding, Severity
from console.runtime import open_runtime
from console.screens.alerts import AlertsScreen
from console.screens.incident import IncidentScreen
from console.screens.modals import ConfirmScreen, FormScreen
from console.service.client import LocalClient
from console.service.service import Service
from console.widgets.keyed_table import KeyedTable

SPAM = "demo:spam9"


@pytest.fixture(autouse=True)
def _no_config(tmp_path, monkeypatch):
    monkeypatch.setenv("GROUPWATCH_CONFIG", str(tmp_path / "none.toml"))


async def world(tmp_path):
    rt = open_runtime(None, str(tmp_path / "data"), groups=6, seed=5, speed=1200, pace=False)
    svc = Service(rt, owner="owner")
    await rt.engine.load_snapshots()
    e = rt.engine
    now = e.now()
    groups = sorted(e.stats.groups)[:4]
    for i, g in enumerate(groups):
        e.alerts.apply(Finding("ad", Severity.HIGH, g, SPAM, ("link",), now - 60 + i, excerpt="buy followers now",
                               message_id=f"spam-{i}"))
    e.alerts.apply(Finding("silent_group", Severity.LOW, groups[5 % len(groups)], None, ("quiet 2 days",), now - 30))
    actor = svc.open_session("owner", [], session="console")
    app = GroupWatchApp(LocalClient(svc, actor), refresh_seconds=0.2)
    return rt, svc, app


async def until(pilot, cond, timeout: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        if loop.time() > end:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.05)


def table(app) -> KeyedTable:
    return app.screen.query_one("#table", KeyedTable)


def keys(app) -> list[str]:
    return [k.value for k in table(app).ordered_keys()]


def sender_incident(rt):
    return next(i for i in rt.engine.incidents.live() if i.rule == "sender")


async def to_incidents(pilot, app, rt):
    await pilot.press("2")
    await until(pilot, lambda: isinstance(app.screen, AlertsScreen) and table(app).row_count == 2)
    inc = sender_incident(rt)
    table(app).move_cursor(row=keys(app).index(inc.target))
    await pilot.pause()
    return inc


async def test_one_row_per_incident_and_enter_opens_its_alerts(tmp_path):
    rt, svc, app = await world(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        inc = await to_incidents(pilot, app, rt)
        assert inc.count == 4
        row = app.screen.cursor_row()
        assert row.key == f"incident:{inc.id}" and "4" in [str(c) for c in row.cells]
        assert "handled hidden" in str(table(app).border_title)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, IncidentScreen) and table(app).row_count == 4)
        assert {int(k) for k in keys(app)} == set(inc.alert_ids)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, AlertsScreen))
        await pilot.press("q")
    rt.close()


async def test_ack_hides_the_incident_h_shows_it_and_undo_reopens_it(tmp_path):
    rt, svc, app = await world(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        inc = await to_incidents(pilot, app, rt)
        await pilot.press("a")
        await until(pilot, lambda: inc.state.value == "acknowledged" and table(app).row_count == 1)
        assert inc.acked_by == "owner"
        audit = [e for e in rt.moderation.ledger.audit_entries() if e.action == "incident acknowledged"]
        assert audit and audit[-1].params["target"] == inc.target and audit[-1].actor == "owner"
        await pilot.press("h")
        await until(pilot, lambda: table(app).row_count == 2)
        assert "handled shown" in str(table(app).border_title)
        await pilot.press("U")
        await until(pilot, lambda: inc.state.value == "open")
        assert all(rt.engine.alerts.get(a).state.value == "open" for a in inc.alert_ids)
        await pilot.press("q")
    rt.close()


async def test_resolve_asks_first_and_ctrl_z_puts_the_alerts_back(tmp_path):
    rt, svc, app = await world(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        inc = await to_incidents(pilot, app, rt)
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "Resolve 1 incident(s)?" in app.screen.question.plain
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, AlertsScreen))
        assert inc.is_live
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: inc.state.value == "resolved")
        await pilot.press("ctrl+z")
        await until(pilot, lambda: inc.state.value == "open" and inc.is_live)
        assert len([a for a in rt.engine.alerts.live() if a.member == SPAM]) == 4
        await pilot.press("q")
    rt.close()


async def test_not_an_ad_asks_first_then_dismisses_every_alert_of_the_incident(tmp_path):
    rt, svc, app = await world(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        inc = await to_incidents(pilot, app, rt)
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "Not an ad: 1 incident(s)?" in app.screen.question.plain
        await pilot.press("y")
        await until(pilot, lambda: not inc.is_live)
        assert not [a for a in rt.engine.alerts.live() if a.member == SPAM]
        await pilot.press("q")
    rt.close()


async def test_blacklist_on_an_incident_bans_the_sender_and_resolves_their_alerts(tmp_path):
    rt, svc, app = await world(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        inc = await to_incidents(pilot, app, rt)
        high = svc.header().alerts_high
        assert high == 4
        await pilot.press("b")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "Blacklist 1 member(s) of 1 incident(s)?" in app.screen.question.plain
        await pilot.press("y")
        await until(pilot, lambda: rt.moderation.blacklist.get(SPAM) is not None and not inc.is_live)
        assert inc.state.value == "resolved" and inc.resolved_by == "owner"
        assert svc.header().alerts_high == 0  # handled work leaves the header's counts
        await pilot.press("q")
    rt.close()


async def test_v_switches_between_incidents_and_single_alerts(tmp_path):
    rt, svc, app = await world(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await to_incidents(pilot, app, rt)
        await pilot.press("v")
        await until(pilot, lambda: table(app).row_count == 5)
        assert all(k.isdigit() for k in keys(app))
        await pilot.press("v")
        await until(pilot, lambda: table(app).row_count == 2)
        assert all(k.startswith("incident:") for k in keys(app))
        await pilot.press("q")
    rt.close()


async def test_silences_screen_adds_with_a_form_and_removes_after_a_confirmation(tmp_path):
    rt, svc, app = await world(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("7")
        await until(pilot, lambda: type(app.screen).__name__ == "SilencesScreen")
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, FormScreen))
        form = app.screen
        await pilot.press(*"kind=nonsense-kind", "enter", "enter", "enter")
        assert isinstance(app.screen, FormScreen) and "bad kind" in str(form.query_one("#error").render())
        form.query_one("#field-matchers").value = "kind=ad severity=high"
        form.query_one("#field-comment").value = "known campaign"
        await pilot.press("enter")
        await until(pilot, lambda: type(app.screen).__name__ == "SilencesScreen" and table(app).row_count == 1)
        [s] = rt.engine.silences.list()
        assert s.matchers == {"kind": "ad", "severity": "high"} and s.created_by == "owner"
        assert sender_incident(rt).silenced_by == s.id and not sender_incident(rt).paging
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: table(app).row_count == 0)
        assert rt.engine.silences.list() == [] and sender_incident(rt).silenced_by is None
        await pilot.press("q")
    rt.close()


async def test_a_group_filter_finds_the_incidents_that_span_that_group(tmp_path):
    rt, svc, app = await world(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        inc = await to_incidents(pilot, app, rt)
        third = rt.engine.group_name(inc.groups[2])
        app.screen.set_filter(shlex.quote(f"group:^{re.escape(third)}$"))  # as the Groups screen does
        await until(pilot, lambda: keys(app) == [inc.target])
        await pilot.press("q")
    rt.close()
