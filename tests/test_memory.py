"""What keeps a long-running service's memory flat besides the state's own bounds (tests/test_bounds.py):
the C allocator's settings and the service's cache of encoded rows."""
from __future__ import annotations

import ctypes
import gc
import sys
import weakref

import pytest

from console.engine import allocator
from console.engine.store import Store
from console.service import api, wire


def _row(i: int) -> api.GroupRow:
    return api.GroupRow(id=f"demo:g{i}", name=f"group {i}", platform="demo", members=i, messages_1h=0,
                        messages_24h=0, active_ratio=None, tier="critical", last_message_at=None, joins=0, leaves=0,
                        exit_rate=None, open_alerts=0, sparkline=[0] * 24, tags=[], leaves_24h=0)


def test_a_journaled_store_sets_the_allocator_up_once(tmp_path, monkeypatch):
    class Libc:  # what tune() asks of glibc, recorded (the real one would stay set for this worker's later tests)
        def __init__(self) -> None:
            self.options: list[tuple[int, int]] = []

        def mallopt(self, option: int, value: int) -> int:
            self.options.append((option, value))
            return 1

    libc = Libc()
    calls = []
    monkeypatch.delenv("GROUPWATCH_MALLOC", raising=False)
    monkeypatch.setattr(allocator, "_tuned", None)
    monkeypatch.setattr(allocator, "_glibc", lambda: calls.append(1) or libc)
    store = Store(tmp_path)
    try:
        store.journal("state")
        store.journal("other")
    finally:
        store.close()
    assert len(calls) == 1  # once per process, however many stores and journals
    assert allocator._tuned is True
    assert dict(libc.options) == {allocator.M_ARENA_MAX: allocator.ARENAS,
                                  allocator.M_MMAP_THRESHOLD: allocator.MMAP_THRESHOLD,
                                  allocator.M_TRIM_THRESHOLD: allocator.TRIM_THRESHOLD}


def test_groupwatch_malloc_default_keeps_glibcs_defaults(monkeypatch):
    monkeypatch.setenv("GROUPWATCH_MALLOC", "default")
    monkeypatch.setattr(allocator, "_tuned", None)
    monkeypatch.setattr(allocator, "_glibc", lambda: pytest.fail("glibc asked despite GROUPWATCH_MALLOC=default"))
    assert allocator.tune() is False


@pytest.mark.skipif(allocator._glibc() is None, reason="glibc only")
def test_on_glibc_the_settings_take():
    # in a process of its own: the settings stay for the process's life
    import os
    import subprocess

    env = {k: v for k, v in os.environ.items() if k != "GROUPWATCH_MALLOC"}
    code = "from console.engine import allocator; assert allocator.tune() is True; allocator.trim(); print('ok')"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_elsewhere_the_allocator_is_left_alone(monkeypatch):
    monkeypatch.setattr(allocator, "_tuned", None)
    monkeypatch.setattr(sys, "platform", "darwin")
    assert allocator._glibc() is None
    assert allocator.tune() is False


def test_an_unknown_libc_is_left_alone(monkeypatch):
    class Musl:  # no gnu_get_libc_version
        pass

    monkeypatch.setattr(allocator, "_tuned", None)
    monkeypatch.setattr(ctypes, "CDLL", lambda name: Musl())
    assert allocator._glibc() is None
    assert allocator.tune() is False


def test_encoded_rows_are_reused_while_recent_and_the_cache_stays_bounded(monkeypatch):
    monkeypatch.setattr(wire, "FRAGMENTS_KEPT", 100)
    monkeypatch.setattr(wire, "_FRAGMENTS", {})
    monkeypatch.setattr(wire, "_OLDER", {})
    kept = [_row(i) for i in range(50)]
    texts = [wire.to_json(r) for r in kept]
    # A refresh asks for the same rows again: the same text, not encoded afresh.
    assert all(wire.to_json(r) is t for r, t in zip(kept, texts))
    assert wire.to_json(kept[0]) == wire._json(wire.encode(kept[0]))

    # Thousands of refreshes later (rows rebuilt as groups change): at most two generations are held...
    class Probe:  # a row's stand-in that can be watched: is it still kept alive by the cache?
        pass

    gone = []
    for i in range(1000):
        r = _row(1000 + i)
        wire.to_json(r)
        if i == 0:
            marker = Probe()
            wire._FRAGMENTS[id(marker)] = (marker, "")  # (as a cached row would be held)
            gone.append(weakref.ref(marker))
            del marker
        assert len(wire._FRAGMENTS) <= 100 and len(wire._OLDER) <= 100
    gc.collect()
    # ...and a row no refresh asks for again is let go.
    assert gone[0]() is None
    # A row still asked for each refresh stays cached across generations.
    live = _row(5)
    text = wire.to_json(live)
    for i in range(350):
        wire.to_json(_row(3000 + i))
        assert wire.to_json(live) is text


def test_the_alert_book_stays_bounded_over_days_of_unattended_alerts_and_keeps_what_operators_hold():
    from console.engine.alerts import AlertBook, AlertState
    from console.engine.detectors.base import Finding, Severity

    book = AlertBook(keep_resolved=50)
    day = 86400.0
    held = book.apply(Finding("ad", Severity.HIGH, "g1", "spammer", ("ad",), 0.0, message_id="m0"))[0]
    acked = book.apply(Finding("flood", Severity.MEDIUM, "g1", "flooder", ("flood",), 0.0))[0]
    book.acknowledge(acked.id, 1.0)
    sizes = []
    for d in range(30):  # a month: every simulated hour a new low alert nobody attends
        for h in range(24):
            now = d * day + h * 3600.0
            book.apply(Finding("silent_member", Severity.LOW, f"g{h}", f"m{d}-{h}", ("quiet",), now))
            book.expire(now, max_age=day, cap=100)
        sizes.append((len(book), len(book.resolved()), len(book._expired), len(book._by_id)))
    # After the first days nothing grows but the count of keys that expired (itself capped).
    assert sizes[-1][:2] == sizes[10][:2]
    assert sizes[-1][0] <= 100 and sizes[-1][1] == 50
    assert len(book._by_id) <= 100 + 50
    # The alerts operators hold stay open: a high one and an acknowledged one never age out.
    assert book.get(held.id).state is AlertState.OPEN
    assert book.get(acked.id).state is AlertState.ACKNOWLEDGED
