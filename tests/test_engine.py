"""The engine headless: ingest order, cursors after processing, faults, checkpoint and restore."""
from __future__ import annotations

import asyncio
import subprocess
import sys

from connectors.contract import HealthState, TransientError
from connectors.events import Group, Member
from console.engine.engine import Engine
from console.engine.settings import Settings
from console.engine.store import Store
from tests.fakes import ScriptedConnector
from tests.helpers import T0, join, leave, msg

G = "fake:g1"


def settings() -> Settings:
    s = Settings()
    s.engine.poll_timeout = 0.1
    s.store.checkpoint_seconds = 0.2
    return s


def test_the_fake_and_the_demo_implement_the_connector_contract():
    from connectors.contract import Connector
    from connectors.demo import DemoConnector

    assert isinstance(ScriptedConnector("x", []), Connector)
    assert isinstance(DemoConnector(groups=1, pace=False), Connector)

    class Missing:  # a connector without ``mute`` is not one
        name = platform = "x"
        capabilities = frozenset()

    assert not isinstance(Missing(), Connector)


def test_engine_and_connectors_never_import_textual():
    code = ("import sys, console.engine.engine, console.runtime, console.headless, console.report, connectors.demo;"
            "bad = [m for m in sys.modules if m.split('.')[0] == 'textual'];"
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


async def test_run_ingests_batches_in_order_and_saves_the_cursor_with_the_state(tmp_path):
    batches = [[join(G, "fake:u1", T0), msg(G, "fake:u1", T0 + 1, "加V：ｗｘ５２０１３１４ 看我名字 出号")],
               [msg(G, "fake:u2", T0 + 2)]]
    conn = ScriptedConnector("fake", batches, [Group(G, "Group one", "fake")],
                             {G: [Member("fake:u2", "two", last_message_at=T0 - 86400)]})
    store = Store(tmp_path)
    now = [T0]
    engine = Engine(settings(), [conn], store, clock=lambda: now[0])
    await engine.load_snapshots()
    done = lambda: engine.events_total >= 3  # noqa: E731
    await asyncio.wait_for(engine.run(until=done), 5)
    assert engine.events_total == 3
    assert engine.stats.groups[G].members["fake:u1"].messages_seen == 1
    assert engine.alerts.open_for("ad", G, "fake:u1") is not None
    store.close()

    store = Store(tmp_path)  # a restart resumes from the saved cursor, with the stats and alerts that go with it
    again = Engine(settings(), [ScriptedConnector("fake", batches)], store, clock=lambda: now[0])
    again.restore()
    assert again.cursors["fake"] == '{"pos": 2}'
    assert again.events_total == 3 and again.alerts.open_for("ad", G, "fake:u1") is not None
    assert again.stats.groups[G].name == "Group one"
    store.close()


async def test_a_failing_connector_backs_off_recovers_and_does_not_stall_another(tmp_path):
    s = settings()
    s.engine.backoff_start = 0.01
    bad = ScriptedConnector("bad", [TransientError("HTTP 502 from server"), [msg(G, "fake:u1", T0)]])
    good = ScriptedConnector("good", [[msg("fake:g2", "fake:u2", T0 + i)] for i in range(5)])
    engine = Engine(s, [bad, good], None, clock=lambda: T0)
    seen_degraded = []
    engine.alerts  # noqa: B018

    async def watch_health():
        while True:
            seen_degraded.append(engine.status["bad"].health.state)
            await asyncio.sleep(0.001)

    probe = asyncio.create_task(watch_health())
    await asyncio.wait_for(engine.run(until=lambda: engine.events_total >= 6), 5)
    probe.cancel()
    assert HealthState.DEGRADED in seen_degraded
    assert engine.status["bad"].health.state is HealthState.OK
    assert engine.status["good"].events == 5 and engine.status["bad"].events == 1


def test_kicked_leaves_are_not_churn_and_a_rejoin_is_a_newcomer():
    engine = Engine(settings(), [], None, clock=lambda: T0)
    engine.ingest([join(G, "fake:u1", T0), msg(G, "fake:u1", T0 + 1), leave(G, "fake:u1", T0 + 2, "op"),
                   join(G, "fake:u1", T0 + 3)])
    g = engine.stats.groups[G]
    assert sum(g.hourly_leaves.values()) == 0 and sum(g.hourly_joins.values()) == 2
    assert g.members["fake:u1"].messages_seen == 0 and g.members["fake:u1"].present
