"""The engine's checkpoints cost what changed (documents counted, never timed), read back exactly,
and read the state of an older groupwatch (one document per group) and rewrite it."""
from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

from connectors.events import Member
from console.engine.checkpoint import STATE_DB
from console.engine.detectors.base import Finding, Severity
from console.engine.engine import Engine
from console.engine.settings import Settings
from console.engine.store import Store
from tests.helpers import T0, join, leave, msg


def _engine(store: Store | None, clock) -> Engine:
    s = Settings()
    return Engine(s, [], store, clock=clock)


def _load(engine: Engine, n_groups: int, members: int) -> None:
    for g in range(n_groups):
        engine.stats.load_members(f"fake:g{g}", [Member(f"fake:u{g}-{i}", f"user {i}", T0 - 86400, None)
                                                 for i in range(members)], T0, complete=True)


def _written(store: Store) -> int:
    return store.documents_written(STATE_DB)


def test_a_checkpoint_writes_what_changed_whatever_the_fleet_size(tmp_path: Path) -> None:
    written = []
    for n_groups in (20, 400):
        store = Store(tmp_path / str(n_groups))
        now = [T0]
        engine = _engine(store, lambda: now[0])
        _load(engine, n_groups, 30)
        engine.tick(T0)
        engine.checkpoint()
        assert _written(store) >= n_groups * 31  # the first one: everything
        before = _written(store)
        # The same 40 events in 2 groups, whatever the fleet: two speakers each, a join and a leave.
        evs = [msg(f"fake:g{g}", f"fake:u{g}-{i % 2}", T0 + 60 + k) for k, (g, i) in
               enumerate((g, i) for g in (0, 1) for i in range(19))]
        evs += [join("fake:g0", "fake:new", T0 + 200), leave("fake:g1", "fake:u1-5", T0 + 201)]
        now[0] = T0 + 210
        engine.ingest(evs)
        engine.checkpoint()
        written.append(_written(store) - before)
        store.close()
    # groups (2) + members (2 speakers x 2 groups + joined + left) + their day buckets (2) + one recent
    # slot per message (38) + meta + the flood alert each speaker raised (4) + the incident each opened (4)
    # + the join week's retention counters (1); nothing else
    assert written[0] == written[1] <= 2 + 6 + 2 + 38 + 1 + 4 + 4 + 1, written


def test_nothing_changed_nothing_written(tmp_path: Path) -> None:
    store = Store(tmp_path)
    engine = _engine(store, lambda: T0)
    _load(engine, 5, 5)
    engine.checkpoint()
    before = _written(store)
    engine.checkpoint()
    assert _written(store) == before
    store.close()


def test_a_checkpoint_reads_back_exactly(tmp_path: Path) -> None:
    store = Store(tmp_path)
    now = [T0]
    engine = _engine(store, lambda: now[0])
    _load(engine, 3, 10)
    engine.checkpoint()
    evs = [msg(f"fake:g{k % 3}", f"fake:u{k % 3}-{k % 7}", T0 + 30 * k, text=f"line {k}") for k in range(300)]
    evs.append(leave("fake:g2", "fake:u2-9", T0 + 9001))
    for i in range(0, len(evs), 40):
        engine.ingest(evs[i:i + 40])
        now[0] = evs[min(i + 39, len(evs) - 1)].at
        engine.maybe_tick()
        engine.checkpoint()
    engine.alerts.apply(Finding("flood", Severity.MEDIUM, "fake:g1", "fake:u1-1", ("x",), T0))
    engine.checkpoint()
    expected = _picture(engine)
    store.close()
    again = _engine(Store(tmp_path), lambda: now[0])
    again.restore()
    assert _picture(again) == expected
    again.store.close()


def _picture(engine: Engine) -> dict:
    out = {}
    for g in engine.stats.groups.values():
        out[g.id] = (g.name, g.last_message_at, g.present_count, sorted(g.hourly_messages.items()),
                     sorted(g.hourly_leaves.items()),
                     sorted((m.id, m.last_message_at, m.messages_seen, m.present, m.left_at,
                             m.daily_pairs()) for m in g.members.values()),
                     [(m.id, m.text, m.at) for m in g.recent])
    out["alerts"] = sorted((a.id, a.kind, a.group, a.member) for a in engine.alerts.live())
    out["events"] = engine.events_total
    return out


def _legacy_group(gid: str) -> dict:
    """A group as the checkpoints before the journal wrote it: members as columns, all in one document."""
    return {"id": gid, "name": f"name {gid}", "platform": "fake", "observed_since": T0 - 86400, "tags": [],
            "member_count_hint": None, "member_list_complete": True, "last_message_at": T0 - 60,
            "members": {"id": ["fake:a", "fake:b"], "name": ["A", "B"], "joined_at": [None, T0 - 5000],
                        "last_message_at": [T0 - 60, None], "seen": [3, 0], "present": [True, False],
                        "left_at": [None, T0 - 100], "daily": [{str(int((T0 - 60) // 86400)): 3}, None]},
            "hourly_messages": {str(int((T0 - 60) // 3600)): 3}, "hourly_joins": {}, "hourly_leaves": {},
            "recent": [["m1", "fake:a", "A", "hello", T0 - 60, None, []]]}


def test_an_old_state_file_is_read_and_rewritten_in_the_new_layout(tmp_path: Path) -> None:
    with Store(tmp_path) as old:  # written as the previous version wrote it: one plain file
        old.replace_table("state", "groups", [_legacy_group("fake:g1"), _legacy_group("fake:g2")])
        old.replace_table("state", "cursors", [{"connector": "fake", "cursor": "7"}])
        old.replace_table("state", "alerts", [{
            "id": 4, "kind": "flood", "severity": "medium", "group": "fake:g1", "member": "fake:a",
            "reasons": ["x"], "first_at": T0, "at": T0, "excerpt": None, "message_id": None, "score": None,
            "numbers": {}, "state": "open", "snoozed_until": None, "hits": 1, "resolved_by": None,
            "claimed_by": None, "claimed_at": None, "handled_by": None, "handled_at": None, "handled_how": None,
            "state_by": None, "state_at": None}])
        old.put_doc("state", "meta", "engine", {"events_total": 12, "next_tick": T0 + 60})
    store = Store(tmp_path)
    engine = _engine(store, lambda: T0)
    engine.restore()
    g = engine.stats.groups["fake:g1"]
    assert g.members["fake:a"].messages_seen == 3 and not g.members["fake:b"].present
    assert [m.text for m in g.recent] == ["hello"] and engine.cursors == {"fake": "7"}
    assert engine.alerts.get(4) is not None and engine.events_total == 12
    picture = _picture(engine)
    engine.checkpoint()
    store.close()
    data = json.loads((tmp_path / "state.json").read_text())
    assert len(data["members"]) == 4 and all(isinstance(d["members"], int) for d in data["groups"].values())
    assert next(iter(data["meta"].values()))["schema"] == 2
    again = _engine(Store(tmp_path), lambda: T0)
    again.restore()
    assert _picture(again) == picture
    again.store.close()


async def test_a_big_backlog_is_staged_in_slices_and_still_saved_as_one_consistent_picture(tmp_path, monkeypatch):
    from console.engine import engine as engine_mod

    monkeypatch.setattr(engine_mod, "STAGE_SLICE", 40)  # 20 groups x 31 members: many turns of the loop
    store = Store(tmp_path)
    now = [T0]
    engine = _engine(store, lambda: now[0])
    _load(engine, 20, 30)
    turns = []

    async def meanwhile() -> None:  # events arriving while the checkpoint lets the loop run
        for k in range(5):
            await asyncio.sleep(0)
            engine.ingest([msg(f"fake:g{k}", f"fake:u{k}-1", T0 + k), join("fake:g9", f"fake:late{k}", T0 + k)])
            turns.append(k)

    task = asyncio.create_task(meanwhile())
    await engine.checkpoint_async()
    await task
    assert turns == [0, 1, 2, 3, 4]  # they did land in the middle of it
    assert not store.dirty("state")
    picture = _picture(engine)
    js = store._journals["state"]  # killed here: what is on disk is what a restart sees
    js.close(compact=False)
    store._closed = True
    os.close(store._lock_fd)
    again = _engine(Store(tmp_path), lambda: now[0])
    again.restore()
    assert _picture(again) == picture
    assert again.stats.groups["fake:g9"].members["fake:late4"].present
    again.store.close()


def test_documents_are_made_later_from_the_state_as_it_was_when_staged(tmp_path: Path) -> None:
    """The loop only takes snapshots; the documents are made in the committing thread. What changes
    between the two goes into the next checkpoint, never into this one half-way."""
    from console.engine.state_docs import member_key

    store = Store(tmp_path)
    now = [T0]
    engine = _engine(store, lambda: now[0])
    _load(engine, 2, 3)
    engine.checkpoint()
    engine.ingest([msg("fake:g0", "fake:u0-1", T0 + 10, text="first")])
    engine.alerts.apply(Finding("flood", Severity.MEDIUM, "fake:g0", "fake:u0-1", ("x",), T0 + 10))
    alert = engine.alerts.open_for("flood", "fake:g0", "fake:u0-1")
    engine.writer.stage()  # on the loop: snapshots
    engine.ingest([msg("fake:g0", "fake:u0-1", T0 + 20, text="second")])  # meanwhile, before the write
    engine.alerts.claim(alert.id, "ann", T0 + 20)
    store.commit(STATE_DB)  # (in the thread, in the engine)
    member = store.get_doc(STATE_DB, "members", member_key("fake:g0", "fake:u0-1"))
    assert member["m"][3] == T0 + 10 and member["m"][4] == 1  # last message, messages seen: as staged
    assert store.get_doc(STATE_DB, "alerts", str(alert.id))["claimed_by"] is None
    engine.checkpoint()
    member = store.get_doc(STATE_DB, "members", member_key("fake:g0", "fake:u0-1"))
    assert member["m"][3] == T0 + 20 and member["m"][4] == 2
    assert store.get_doc(STATE_DB, "alerts", str(alert.id))["claimed_by"] == "ann"
    store.close()
