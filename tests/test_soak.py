"""The soak, short: engine and console under a live load, nothing lost, no errors, memory not running away.

The full run is ``groupwatch bench soak --groups 2000 --rate 1000 --minutes N``; CI runs a small
fleet for about half a minute (the console attached to a service process, as operators run it; the
CLI test runs it embedded), plus the pieces that keep a long run honest.
"""
from __future__ import annotations

import asyncio
import json

import pytest

from connectors.demo import DemoConnector
from connectors.demo import world as world_mod
from console import bench_soak
from console.bench_soak import LiveWorldConnector, growth_per_hour
from console.cli import main
from console.engine.alerts import AlertBook, AlertState
from console.engine.detectors.base import Finding, Severity
from tests.test_cli import groupwatch

RATE = 300.0
ALL_KINDS = {"ad", "flood", "churn_spike", "silent_group", "silent_member"}


@pytest.fixture(scope="module")
def short_soak() -> dict:
    return bench_soak.soak(groups=200, rate=RATE, minutes=0.4, seed=7, presses_per_minute=45, warmup=3.0)


def test_every_event_generated_is_processed_once(short_soak):
    r = short_soak
    assert r["events_equal"] is True
    assert r["events_generated"] == r["events_delivered"] == r["events_processed"] > 0
    # and the load was the one asked for, not a trickle that would make the rest meaningless
    assert r["sustained"] and abs(r["events_per_s"] - RATE) < 0.1 * RATE
    assert r["events_processed"] >= 0.9 * RATE * r["wall_s"]
    assert r["sim_hours"] > 1 and r["cpu_percent"] > 0


def test_alerts_of_every_kind_are_raised(short_soak):
    r = short_soak
    assert ALL_KINDS <= set(r["alerts_raised"]), r["alerts_raised"]
    assert r["alerts_raised_total"] == sum(r["alerts_raised"].values()) >= r["alerts_open_end"] > 0


def test_nothing_logged_no_exception_engine_still_running(short_soak):
    r = short_soak
    assert r["logged_problems"] == 0, r["logged_first"]
    assert r["exceptions"] == []
    assert r["engine_running_at_end"] is True


def test_the_console_is_measured_attached_to_a_service_process(short_soak):
    r = short_soak
    assert r["mode"] == "attached"
    # the service's figures come from its own process: its memory is not the console's
    assert r["console_rss_mb_start"] > 0 and r["console_peak_rss_mb"] > 0
    assert r["rss_mb_start"] != r["console_rss_mb_start"]
    assert r["checkpoints"] > 0 and r["checkpoint_loop_ms_first"] > 0
    # the longest stretch any checkpoint held the service's loop, the first one's included
    assert r["checkpoint_loop_ms_max"] >= r["checkpoint_loop_ms_first"] and r["checkpoint_slices_max"] >= 1
    assert r["console_cpu_percent"] > 0


def test_keys_answer_throughout_the_run(short_soak):
    r = short_soak
    assert r["presses"] >= 10
    assert r["measured"] >= 0.7 * r["presses"]
    assert 0 < r["latency_ms_p50"] <= r["latency_ms_p90"] <= r["latency_ms_p99"] <= r["latency_ms_max"] < 3000


def test_memory_is_sampled_across_the_run_and_does_not_run_away(short_soak):
    r = short_soak
    mem = r["memory"]
    assert len(mem) >= 10 and mem[0]["t_s"] == 0 and mem[-1]["t_s"] >= 0.9 * r["wall_s"]
    assert all(m["rss_mb"] > 0 for m in mem)
    assert [m["events"] for m in mem] == sorted(m["events"] for m in mem)
    assert r["rss_mb_start"] == mem[0]["rss_mb"] and r["rss_mb_end"] == mem[-1]["rss_mb"]
    # Generous: a short run still fills its bounded windows (feed, recent messages, message index).
    assert r["rss_growth_mb_second_half"] < 60, mem
    assert r["rss_mb_end"] < 2 * r["rss_mb_start"] + 100


def test_cli_prints_one_json_line_with_the_figures(tmp_path):
    p = groupwatch("bench", "soak", "--minutes", "0.2", "--groups", "50", "--rate", "100", "--format", "json",
                   "--embedded", home=tmp_path, timeout=120)
    lines = p.stdout.strip().splitlines()
    assert len(lines) == 1
    r = json.loads(lines[0])
    for key in ("events_generated", "events_processed", "events_equal", "alerts_raised", "rss_mb_start",
                "rss_mb_middle", "rss_mb_end", "rss_growth_mb_per_hour_second_half", "memory", "latency_ms_p50",
                "latency_ms_p90", "latency_ms_p99", "latency_ms_max", "logged_problems", "exceptions",
                "sim_hours", "events_per_s", "cpu_percent", "py_blocks_start", "py_blocks_end", "latency_ms_p95",
                "checkpoint_loop_ms_max", "loop_s"):
        assert key in r, key
    assert r["bench"] == "soak" and r["groups"] == 50 and r["events_equal"] is True
    assert r["mode"] == "embedded" and r["loop_s"] > 0


@pytest.mark.parametrize("args", [["--minutes", "0"], ["--minutes", "-1"], ["--groups", "0"], ["--groups", "2001"],
                                  ["--rate", "0"], ["--rate", "-5"], ["--presses-per-minute", "-1"]])
def test_bad_arguments_are_one_line_errors(capsys, args):
    assert main(["bench", "soak", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("groupwatch: error: ") and len(err.strip().splitlines()) == 1, err


async def test_live_connector_paces_caps_and_drains():
    demo = DemoConnector(groups=50, seed=3, pace=False)
    live = LiveWorldConnector(demo, rate=1000)
    got = []
    for _ in range(3):
        got += (await live.poll(None, 1.0)).events
    # about a tenth of a second's worth per slot, in time order, and nothing generated is dropped
    assert 200 <= live.delivered == len(got) <= 500
    assert [e.at for e in got] == sorted(e.at for e in got)
    assert live.generated == live.delivered + len(live.buffer)
    assert live.now() == got[-1].at
    # An engine that stops polling for a while gets at most a second's worth, and shows as behind.
    await asyncio.sleep(1.6)
    batch = (await live.poll(None, 1.0)).events
    assert len(batch) == live.max_batch == 1000 and live.behind > 0
    # The end: the world stops and the buffer empties in one poll.
    live.draining = True
    steps = demo.world.tick
    rest = (await live.poll(None, 1.0)).events
    assert demo.world.tick == steps and not live.buffer
    assert live.generated == live.delivered == len(got) + len(batch) + len(rest)


def test_demo_world_ground_truth_is_bounded(monkeypatch):
    monkeypatch.setattr(world_mod, "LABELS_KEPT", 20)
    w = world_mod.World(groups=100, seed=5)
    labelled = []
    for _ in range(300):  # five sim hours: floods and campaigns label well over 20 lines
        for ev in w.step():
            if getattr(ev, "id", None) in w.labels:
                labelled.append(ev.id)
    assert len(labelled) > 20
    assert list(w.labels) == labelled[-20:]  # the newest kept, oldest dropped
    assert w.refused_joins.maxlen == world_mod.REFUSED_JOINS_KEPT


def test_snoozed_alerts_wake_from_their_own_index():
    def finding(member: str) -> Finding:
        return Finding("ad", Severity.HIGH, "demo:g1", member, ("link",), 1000.0)

    book = AlertBook()
    a, _ = book.apply(finding("demo:u1"))
    b, _ = book.apply(finding("demo:u2"))
    c, _ = book.apply(finding("demo:u3"))
    for alert in (a, b, c):
        book.snooze(alert.id, until=2000.0)
    book.acknowledge(b.id, 1500.0)  # no longer snoozed: waking must leave it acknowledged
    book.resolve(c.id, 1500.0, by="op")
    restored = AlertBook()
    restored.load_docs(book.to_docs())  # a restart keeps a snoozed alert snoozed, and wakes it on time
    for bk in (book, restored):
        bk.wake_snoozed(1999.0)
        assert bk.get(a.id).state is AlertState.SNOOZED
        bk.wake_snoozed(2000.0)
        assert bk.get(a.id).state is AlertState.OPEN
        assert bk.get(b.id).state is AlertState.ACKNOWLEDGED and bk.get(c.id).state is AlertState.RESOLVED


def test_growth_is_the_fitted_slope_per_hour():
    assert growth_per_hour([(0, 100.0), (60, 101.0), (120, 102.0)]) == pytest.approx(60.0)
    assert growth_per_hour([(0, 100.0), (60, 100.0)]) == 0.0
    assert growth_per_hour([(0, 100.0)]) == 0.0

