"""What a restart or a crash must not lose or repeat on screen: the feed's last messages come back
with the checkpoint, and `watch --headless` does not print again the alerts a crash replays."""
from __future__ import annotations

import io
import shutil

import pytest

from console.headless import PRINTED_FILE, Printed, Printer, fingerprint
from console.runtime import open_runtime, poll_once
from console.service.api import AlertChange
from console.service.service import Service
from console.service.views import FEED_SAVED


@pytest.fixture(autouse=True)
def _no_config(tmp_path, monkeypatch):
    monkeypatch.setenv("GROUPWATCH_CONFIG", str(tmp_path / "none.toml"))


def runtime(path):
    return open_runtime(None, str(path), groups=6, seed=5, speed=3600, pace=False)


async def test_the_feed_comes_back_after_a_restart_bounded(tmp_path):
    rt = runtime(tmp_path / "data")
    svc = Service(rt, owner="o")
    for _ in range(40):
        await poll_once(rt.engine)
    before = svc.views.feed_page(limit=FEED_SAVED)
    assert before.items
    rt.engine.checkpoint()
    rt.close()
    rt = runtime(tmp_path / "data")
    try:
        after = Service(rt, owner="o").views.feed_page(limit=FEED_SAVED)
        assert [(i.seq, i.text, i.kinds) for i in after.items] == [(i.seq, i.text, i.kinds) for i in before.items]
        assert len(rt.engine.saved_table("feed")) <= FEED_SAVED
    finally:
        rt.close()


async def _changes(path, polls: int, checkpoint_copy=None) -> list[AlertChange]:
    rt = runtime(path)
    svc = Service(rt, owner="o")
    out: list[AlertChange] = []
    rt.engine.alerts.subscribe(lambda a, c: out.append(AlertChange(0, c.value, svc.views.alert_view(a))))
    for _ in range(polls):
        await poll_once(rt.engine)
    if checkpoint_copy is not None:
        rt.engine.checkpoint()
        shutil.copytree(path, checkpoint_copy)  # the state a crash right now would leave
        out.clear()
        for _ in range(polls):
            await poll_once(rt.engine)
    rt.close()
    return out


async def test_alerts_replayed_after_a_crash_are_not_printed_twice(tmp_path):
    printed_before_crash = await _changes(tmp_path / "a", 15, checkpoint_copy=tmp_path / "b")
    replayed = await _changes(tmp_path / "b", 15)
    data = tmp_path / "b"
    first = Printer("jsonl", io.StringIO())
    first.printed = Printed(data / PRINTED_FILE)
    for c in printed_before_crash:
        first.change(c)
    first.printed.close()
    assert first.out.getvalue().count("\n") == len({fingerprint(c) for c in printed_before_crash})
    again = Printer("jsonl", io.StringIO())
    again.printed = Printed(data / PRINTED_FILE)
    for c in replayed:
        again.change(c)
    lines = again.out.getvalue().splitlines()
    overlap = {fingerprint(c) for c in replayed} & {fingerprint(c) for c in printed_before_crash}
    assert overlap and len(lines) == len({fingerprint(c) for c in replayed} - overlap)
