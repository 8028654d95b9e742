"""A checkpoint with many changes is staged on the event loop in slices, each bounded in work (documents
counted, never timed): the first one of a fleet, an expiry sweep of thousands of alerts, a full rewrite
of an old layout. What it saves is the same as staged all at once."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from console.engine import checkpoint as checkpoint_mod
from console.engine.checkpoint import CHUNK_DOCS, STATE_DB
from console.engine.detectors.base import Finding, Severity
from console.engine.engine import Engine
from console.engine.store import Store
from tests.helpers import T0, join, leave, msg
from tests.test_checkpoint import _engine, _legacy_group, _load, _picture

LIMIT = 50  # documents per slice asked for (the engine asks for more; small here: many slices)


@pytest.fixture(autouse=True)
def _count_only(monkeypatch):
    """Slices cut by their documents only, never by the clock (what each holds is counted)."""
    monkeypatch.setattr(checkpoint_mod, "SLICE_SECONDS", 1e9)


class _Spy:
    """Every document handed to the store, counted per stage() call."""

    def __init__(self, store: Store) -> None:
        self.n = 0
        put_docs, replace_table = store.put_docs, store.replace_table

        def counted_put(db, table, docs):
            self.n += len(docs)
            put_docs(db, table, docs)

        def counted_replace(db, table, docs):
            self.n += len(docs)
            replace_table(db, table, docs)

        store.put_docs, store.replace_table = counted_put, counted_replace


def _sliced(engine: Engine, limit: int = LIMIT) -> list[int]:
    """Stage in slices of ``limit``: the documents each slice handed over, the last one last."""
    spy = _Spy(engine.store)
    per_slice = []
    while True:
        spy.n = 0
        done = engine.writer.stage(limit)
        per_slice.append(spy.n)
        if done:
            return per_slice


def _events() -> list:
    return ([msg(f"fake:g{k % 30}", f"fake:u{k % 30}-{k % 50}", T0 + k, text=f"line {k}") for k in range(600)]
            + [join("fake:g3", f"fake:new{k}", T0 + 700 + k) for k in range(20)]
            + [leave("fake:g4", f"fake:u4-{k}", T0 + 800 + k) for k in range(20)])


def _busy(tmp_path: Path, name: str, events: list | None = None) -> Engine:
    """30 groups of 60 members loaded, 640 events, 400 alerts raised: thousands of documents to stage."""
    now = [T0 + 4000]
    engine = _engine(Store(tmp_path / name), lambda: now[0])
    _load(engine, 30, 60)
    engine.ingest(events if events is not None else _events())
    for k in range(400):
        engine.alerts.apply(Finding("flood", Severity.MEDIUM, f"fake:g{k % 30}", f"fake:u{k % 30}-{k // 30}",
                                    ("x",), T0 + 900 + k))
    return engine


def _saved(engine: Engine) -> dict:
    """The state database as committed: table -> key -> document."""
    engine.store.commit(STATE_DB)
    js = engine.store._journals[STATE_DB]
    return {name: {k: json.loads(text) for k, text in table.items()} for name, table in js.tables.items()}


def _bounded(per_slice: list[int], limit: int, tail: int) -> None:
    """Each slice stops at the first step that reaches ``limit`` (a step is at most CHUNK_DOCS documents);
    the last one also hands over the small tables (cursors, counters, retention weeks: ``tail``)."""
    for n in per_slice[:-1]:
        assert n < limit + CHUNK_DOCS, per_slice
    assert per_slice[-1] < limit + CHUNK_DOCS + tail, per_slice


def test_a_checkpoint_of_many_changes_is_cut_into_bounded_slices_and_saves_the_same(tmp_path: Path) -> None:
    events = _events()
    sliced, whole = _busy(tmp_path, "sliced", events), _busy(tmp_path, "whole", events)
    per_slice = _sliced(sliced)
    total = sum(per_slice)
    assert total > 3000 and len(per_slice) >= total // (LIMIT + CHUNK_DOCS)
    _bounded(per_slice, LIMIT, tail=len(sliced.stats.groups) + 5)
    whole.writer.stage()  # all at once
    assert _saved(sliced) == _saved(whole)
    for e in (sliced, whole):
        e.store.close()


def test_an_expiry_sweep_of_thousands_of_alerts_is_staged_in_bounded_slices(tmp_path: Path) -> None:
    engine = _busy(tmp_path, "a")
    engine.checkpoint()
    later = T0 + 900 + 400 + 7 * 86400
    engine.alerts.expire(later, 3600, 10_000)  # every one of them ends at once
    assert not list(engine.alerts.live())
    per_slice = _sliced(engine)
    assert sum(per_slice) >= 400 and len(per_slice) >= 400 // (LIMIT + CHUNK_DOCS)
    _bounded(per_slice, LIMIT, tail=len(engine.stats.groups) + 5)
    saved = _saved(engine)
    assert {d["state"] for d in saved["alerts"].values()} == {"expired"}
    engine.store.close()


def test_a_full_rewrite_of_an_old_layout_is_staged_in_bounded_slices(tmp_path: Path) -> None:
    with Store(tmp_path) as old:  # as the version before the journal wrote it: one document per group
        old.replace_table("state", "groups", [_legacy_group(f"fake:g{k}") for k in range(200)])
        old.put_doc("state", "meta", "engine", {"events_total": 12, "next_tick": T0 + 60})
    engine = _engine(Store(tmp_path), lambda: T0)
    engine.restore()
    picture = _picture(engine)
    per_slice = _sliced(engine)
    assert sum(per_slice) >= 200 * 5 and len(per_slice) >= 200 * 5 // (LIMIT + CHUNK_DOCS)
    _bounded(per_slice, LIMIT, tail=10)
    engine.store.commit(STATE_DB)
    engine.store.close()
    again = _engine(Store(tmp_path), lambda: T0)
    again.restore()
    assert _picture(again) == picture
    assert not again.writer._full  # read in today's layout
    again.store.close()


async def test_the_soak_counts_every_stretch_a_checkpoint_holds_the_loop(tmp_path: Path, monkeypatch) -> None:
    """The soak's figure is the longest of all the stretches (each slice, the collection after), the
    first checkpoint's included: nothing the loop waited on is left out."""
    from console.bench_soak import Recorder
    from console.engine import engine as engine_mod

    monkeypatch.setattr(engine_mod, "STAGE_SLICE", LIMIT)
    engine = _busy(tmp_path, "a")
    rec = Recorder()
    rec.timed_checkpoints(engine)
    told, seen = engine.on_hold, []

    def on_hold(what: str, seconds: float, docs: int) -> None:
        seen.append((what, seconds, docs))
        told(what, seconds, docs)

    engine.on_hold = on_hold
    spy = _Spy(engine.store)
    await engine.checkpoint_async()
    stages = [s for s in seen if s[0] == "stage"]
    assert len(stages) >= spy.n // (LIMIT + CHUNK_DOCS)
    assert rec.slices == [len(seen)] and rec.holds == [max(s for _, s, _ in seen)]
    assert engine.last_checkpoint_loop_s == rec.holds[0]
    assert rec.checkpoint_figures()["checkpoint_loop_ms_max"] == round(1000 * rec.holds[0], 1)
    engine.store.close()


async def test_while_a_long_commit_runs_its_snapshots_are_frozen_not_walked(tmp_path: Path, monkeypatch) -> None:
    """No full collection walks the snapshots a commit still holds: they are frozen after a young
    collection; the full collection comes after the commit, when they are gone."""
    import threading

    from console.engine import engine as engine_mod

    engine = _busy(tmp_path, "a")
    monkeypatch.setattr(engine_mod, "COLLECT_SECONDS", 0.0)  # (the commit counts as long at once)
    release, heap = threading.Event(), engine.heap
    commit = engine.store.commit

    def slow_commit(name=None):  # the thread waits until the loop has frozen the snapshots twice
        release.wait(30)
        commit(name)

    monkeypatch.setattr(engine.store, "commit", slow_commit)
    heap.install()
    try:
        full = heap.paced_collections

        def on_hold(what: str, seconds: float, docs: int) -> None:
            if heap.young_freezes >= 2:
                release.set()

        engine.on_hold = on_hold
        await engine.checkpoint_async()
        assert heap.young_freezes >= 2 and heap.paced_collections == full + 1  # (the one after the commit)
    finally:
        release.set()
        heap.uninstall()
    engine.store.close()
