"""The journal storage: appends, replay, a torn last record, damage, compaction cut short, and a
commit that costs what changed (documents counted, never timed)."""
from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

import pytest

from console.engine import journal as journal_mod
from console.engine import store as store_mod
from console.engine.store import Store, StoreDamaged, StoreError, decode_state


def _journaled(d: Path, **kw) -> Store:
    s = Store(d, **kw)
    s.journal("state")
    return s


def _records(d: Path) -> list[bytes]:
    return [line for line in (d / "state.journal").read_bytes().split(b"\n") if line.startswith(b"R\t")]


def test_a_commit_appends_the_changed_documents_and_the_base_stays(tmp_path: Path) -> None:
    s = _journaled(tmp_path)
    for i in range(50):
        s.put_doc("state", "items", f"k{i}", {"i": i})
    s.commit()  # the first commit writes the base (there is none to journal against)
    base = (tmp_path / "state.json").read_bytes()
    assert len(decode_state(base)["items"]) == 50 and _records(tmp_path) == []
    s.put_doc("state", "items", "k7", {"i": "seven"})
    s.delete_doc("state", "items", "k8")
    s.commit()
    assert (tmp_path / "state.json").read_bytes() == base  # not rewritten
    journal = (tmp_path / "state.journal").read_bytes()
    assert len(_records(tmp_path)) == 1 and b'"seven"' in journal and b"k8" in journal and b"k9" not in journal
    assert s.documents_written("state") == 52
    fd_bytes = len(journal)
    s.commit()  # nothing changed: nothing written
    assert len((tmp_path / "state.journal").read_bytes()) == fd_bytes
    # Read back by a process that died here (no close, so no compaction): the journal is replayed.
    s._journals["state"].close(compact=False)
    s._closed = True
    os.close(s._lock_fd)
    with Store(tmp_path) as again:  # a journal on disk is read without being asked for
        docs = {d["_key"]: d for d in again.read_table("state", "items")}
        assert len(docs) == 49 and docs["k7"]["i"] == "seven" and "k8" not in docs
        assert again.get_doc("state", "items", "k9") == {"i": 9, "_key": "k9"}


def test_close_folds_the_journal_into_a_plain_base(tmp_path: Path) -> None:
    with _journaled(tmp_path) as s:
        s.replace_table("state", "cursors", [{"connector": "a", "cursor": "1"}])
        s.commit()
        s.replace_table("state", "cursors", [{"connector": "a", "cursor": "2"}])
        s.put_doc("state", "meta", "engine", {"n": 2})
        s.commit()
        assert _records(tmp_path)
    data = json.loads((tmp_path / "state.json").read_text())
    assert list(data["cursors"].values()) == [{"connector": "a", "cursor": "2"}]
    assert list(data["meta"].values()) == [{"n": 2, "_key": "engine"}]
    assert _records(tmp_path) == []  # a fresh journal: only its header
    prev = decode_state((tmp_path / "state.json.prev").read_bytes())
    assert list(prev["cursors"].values()) == [{"connector": "a", "cursor": "1"}]


def _kill(s: Store) -> None:
    """What SIGKILL leaves: files as they are, the lock released by the kernel."""
    for js in s._journals.values():
        js.close(compact=False)
    s._closed = True
    os.close(s._lock_fd)


def _three_commits(d: Path) -> None:
    s = _journaled(d)
    s.put_doc("state", "meta", "counter", {"n": 0})
    s.commit()
    for n in (1, 2, 3):
        s.put_doc("state", "meta", "counter", {"n": n})
        s.put_doc("state", "items", f"i{n}", {"n": n})
        s.commit()
    _kill(s)


@pytest.mark.parametrize("cut", [1, 5, 20, -1])
def test_a_torn_last_record_is_dropped_and_the_journal_repaired(tmp_path: Path, cut: int) -> None:
    _three_commits(tmp_path)
    path = tmp_path / "state.journal"
    raw = path.read_bytes()
    last = raw.rindex(b"\nR\t") + 1
    torn = raw[:last + cut] if cut > 0 else raw[:-1]  # inside the last record, or its final newline
    path.write_bytes(torn)
    s = Store(tmp_path)
    assert s.get_doc("state", "meta", "counter")["n"] == 2
    assert [d["n"] for d in s.read_table("state", "items")] == [1, 2]
    assert s.warnings == []
    assert path.read_bytes() == raw[:last]  # the torn tail is gone, so the next append is clean
    s.put_doc("state", "meta", "counter", {"n": 9})
    s.commit()
    _kill(s)
    with Store(tmp_path) as again:
        assert again.get_doc("state", "meta", "counter")["n"] == 9


def test_a_bad_record_followed_by_good_ones_is_damage(tmp_path: Path) -> None:
    _three_commits(tmp_path)
    path = tmp_path / "state.journal"
    raw = path.read_bytes()
    first = raw.index(b"\nR\t") + 1
    second = raw.index(b"\nR\t", first) + 1
    damaged = raw[:second + 4] + b"X" + raw[second + 5:]  # inside the second record: its checksum fails
    path.write_bytes(damaged)
    with Store(tmp_path) as s, pytest.raises(StoreDamaged) as err:
        s.db("state")
    msg = str(err.value)
    assert str(path) in msg and "damaged" in msg and "--recover" in msg and "\n" not in msg
    assert path.read_bytes() == damaged  # left as it was
    with Store(tmp_path, recover=True) as s:
        assert s.get_doc("state", "meta", "counter")["n"] == 1  # the records before the damage
        assert "kept a copy" in s.warnings[0]
    aside = list(tmp_path.glob("state.journal.damaged-*"))
    assert [p.read_bytes() for p in aside] == [damaged]


def test_a_compaction_cut_short_between_its_two_renames_loses_nothing(tmp_path: Path) -> None:
    s = _journaled(tmp_path)
    s.put_doc("state", "meta", "counter", {"n": 0})
    s.commit()
    for n in (1, 2):
        s.put_doc("state", "meta", "counter", {"n": n})
        s.commit()
    old_journal = (tmp_path / "state.journal").read_bytes()
    s._journals["state"].compact()
    _kill(s)
    # The new base is in place, the old journal (relative to the base now in .prev) is still there.
    (tmp_path / "state.journal").write_bytes(old_journal)
    with Store(tmp_path) as again:
        assert again.get_doc("state", "meta", "counter")["n"] == 2
        assert again.warnings == []
    assert not list(tmp_path.glob("state.journal.*"))  # dropped as stale, not set aside


def test_a_journal_for_another_base_is_set_aside_with_a_warning(tmp_path: Path) -> None:
    _three_commits(tmp_path)
    (tmp_path / "state.json").write_text('{"meta": {"1": {"n": 41, "_key": "counter"}}}')  # restored by hand
    with Store(tmp_path) as s:
        assert s.get_doc("state", "meta", "counter")["n"] == 41
        assert "belongs to another version" in s.warnings[0]
    assert len(list(tmp_path.glob("state.journal.stale-*"))) == 1


def _enospc(*_a, **_k):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_disk_during_an_append_leaves_no_torn_record_and_the_retry_saves(tmp_path: Path,
                                                                                monkeypatch) -> None:
    s = _journaled(tmp_path)
    s.put_doc("state", "meta", "counter", {"n": 1})
    s.commit()
    s.put_doc("state", "meta", "counter", {"n": 2})
    s.commit()
    before = (tmp_path / "state.journal").read_bytes()
    s.put_doc("state", "meta", "counter", {"n": 3})
    with monkeypatch.context() as m:
        def half_then_full(fd: int, payload: bytes) -> None:
            os.write(fd, payload[: len(payload) // 2])
            _enospc()
        m.setattr(store_mod, "_write_all", half_then_full)
        with pytest.raises(StoreError) as err:
            s.commit()
    assert "No space left on device" in str(err.value)
    assert (tmp_path / "state.journal").read_bytes() == before  # cut back to the last whole record
    assert s.dirty("state") and s.get_doc("state", "meta", "counter")["n"] == 3
    s.put_doc("state", "items", "x", {"later": True})  # a change made meanwhile goes in the retry too
    s.commit()
    _kill(s)
    with Store(tmp_path) as again:
        assert again.get_doc("state", "meta", "counter")["n"] == 3
        assert again.get_doc("state", "items", "x")["later"] is True


def test_a_full_disk_during_compaction_keeps_the_journal_which_holds_everything(tmp_path: Path,
                                                                                monkeypatch) -> None:
    s = _journaled(tmp_path)
    s.put_doc("state", "meta", "counter", {"n": 1})
    s.commit()
    js = s._journals["state"]
    js.compact_bytes = 0  # compact after every commit
    monkeypatch.setattr(js, "base_bytes", 10**9)  # ... but not yet
    s.put_doc("state", "meta", "counter", {"n": 2})
    s.commit()
    monkeypatch.setattr(js, "base_bytes", 0)
    s.put_doc("state", "meta", "counter", {"n": 3})
    with monkeypatch.context() as m:
        m.setattr(os, "replace", _enospc)
        s.commit()  # saved in the journal; the compaction after it failed, and says so
    assert any("could not compact" in w for w in s.warnings)
    _kill(s)
    with Store(tmp_path) as again:
        assert again.get_doc("state", "meta", "counter")["n"] == 3


def test_tinydb_api_still_works_on_a_journaled_database(tmp_path: Path) -> None:
    with _journaled(tmp_path) as s:
        s.put_doc("state", "meta", "x", {"v": 1})
        table = s.db("state").table("meta")
        table.insert({"plain": True})
        assert len(table) == 2
        assert s.get_doc("state", "meta", "x") == {"v": 1, "_key": "x"}
    with Store(tmp_path) as s:
        assert sorted(json.dumps(d, sort_keys=True) for d in s.read_table("state", "meta")) == \
            ['{"_key": "x", "v": 1}', '{"plain": true}']


def test_the_base_stays_plain_json_of_tinydb_documents(tmp_path: Path) -> None:
    with _journaled(tmp_path) as s:
        s.replace_table("state", "unkeyed", [{"a": 1}, {"a": 2}])
        s.put_doc("state", "keyed", "k\ud800\x00", {"t": "\u202e[b]"})
        s.commit()
    data = json.loads((tmp_path / "state.json").read_bytes())
    assert list(data["unkeyed"].values()) == [{"a": 1}, {"a": 2}]
    assert all(k.isdigit() for t in data.values() for k in t)
    with Store(tmp_path) as s:
        assert s.get_doc("state", "keyed", "k\ud800\x00") == {"t": "\u202e[b]", "_key": "k\ud800\x00"}


def test_journal_path_names() -> None:
    assert journal_mod.journal_path(Path("/d/state.json")) == Path("/d/state.journal")


def test_a_copy_of_the_data_dir_reads_back_the_same(tmp_path: Path) -> None:
    _three_commits(tmp_path / "a")
    shutil.copytree(tmp_path / "a", tmp_path / "b")  # new inodes and times: the link is by checksum
    with Store(tmp_path / "b") as s:
        assert s.get_doc("state", "meta", "counter")["n"] == 3 and s.warnings == []
