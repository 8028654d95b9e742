"""The store: atomic batched commits, locking, damage handling, exact strings."""
from __future__ import annotations

import errno
import json
import os
import random
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from console.engine import store as store_mod
from console.engine.store import Store, StoreDamaged, StoreError, StoreLocked, decode_state, encode_state

REPO = Path(__file__).resolve().parents[1]

WEIRD = [
    "",
    "plain",
    "[bold red]rich markup[/] and [link=http://x]link[/link]",
    "<script>alert('x')</script> &amp; </b>",
    "\x1b[31mANSI\x1b[0m \a\b\f\v",
    'quotes " \' and back\\slashes \\n \\u0000 \\ud800',
    "nul \x00 inside\x00",
    "line\nbreaks\r\n\ttabs",
    "lone high \ud800 here",
    "lone low \udfff here",
    "\udc80\udcff surrogateescape bytes",
    "\ud800",
    "ends with high \udbff",
    "reversed pair \udc00\ud800",
    "real emoji 😀 and CJK 广告 and RTL \u202e",
    "\x00gw:str:41 looks like the private marker",
    "\x00gw:str:zz",
    "\ufeff BOM \uffff nonchar \U0010ffff max",
    "x" * 10_000,
]


def _files(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir())


# --- round trips ----------------------------------------------------------------

def test_weird_strings_round_trip_exactly(tmp_path: Path) -> None:
    with Store(tmp_path) as s:
        s.replace_table("state", "texts", [{"i": i, "text": t, t: [t, {t: t}]} for i, t in enumerate(WEIRD)])
        s.put_doc("state", "meta", "k\ud800\x00[b]", {"v": WEIRD})
    raw = (tmp_path / "state.json").read_bytes()
    raw.decode("ascii")  # pure ASCII on disk
    json.loads(raw)  # and plain JSON any tool can read
    with Store(tmp_path) as s:
        docs = s.read_table("state", "texts")
        assert [d["text"] for d in docs] == WEIRD
        for d in docs:
            t = d["text"]
            assert d[t] == [t, {t: t}]
        assert s.get_doc("state", "meta", "k\ud800\x00[b]") == {"v": WEIRD, "_key": "k\ud800\x00[b]"}


def test_a_split_surrogate_pair_reads_back_as_the_character_it_forms() -> None:
    # The documented limit of ASCII JSON; no connector can produce such a string.
    assert decode_state(encode_state({"t": {"1": {"s": "\ud83d\ude00"}}})) == {"t": {"1": {"s": "😀"}}}


TRICKY = ["\\x41", "\\\\x41", "é\\é", "\\U0001f600", "\\", "\\\\", "😀\\x😀", "\\u00e9", '\\"x', "\x7f\x80\xff",
          "\\\ud800", "a\\\\\\xzz", "\U0001f600\\U", "\x00\\x00\x00"]


def _random_text(rng: random.Random) -> str:
    pools = [(0x20, 0x7E), (0x00, 0x1F), (0x80, 0xFF), (0x100, 0xD7FF), (0xD800, 0xDFFF), (0xE000, 0xFFFF),
             (0x10000, 0x10FFFF)]
    out = []
    for _ in range(rng.randint(0, 12)):
        if rng.random() < 0.15:
            out.append(rng.choice(["\\", "\\x", "\\U", '"']))
        else:
            lo, hi = rng.choice(pools)
            out.append(chr(rng.randint(lo, hi)))
    return "".join(out)


SPLIT_PAIR = re.compile("[\ud800-\udbff][\udc00-\udfff]")


def test_encoding_matches_ensure_ascii_and_round_trips_random_strings() -> None:
    rng = random.Random(1234)
    strings = TRICKY + WEIRD + [_random_text(rng) for _ in range(3000)]
    for s in strings:
        if SPLIT_PAIR.search(s):
            continue  # see test_a_split_surrogate_pair_reads_back_as_the_character_it_forms
        data = {"t": {"1": {s: [s, {"k": s}]}}}
        out = encode_state(data)
        assert out.isascii()
        assert decode_state(out) == data, repr(s)
        assert out == json.dumps(data, ensure_ascii=True, separators=(",", ":")).encode("ascii"), repr(s)


def test_values_of_all_json_types_round_trip(tmp_path: Path) -> None:
    doc = {"i": 2**70, "neg": -1, "f": 0.1, "tiny": 5e-324, "big": 1.7976931348623157e308, "t": True,
           "n": None, "l": [1, [2, [3, {}]]], "d": {"nested": {"deeper": ["x"]}}}
    with Store(tmp_path) as s:
        s.put_doc("state", "meta", "doc", doc)
    with Store(tmp_path) as s:
        assert s.get_doc("state", "meta", "doc") == {**doc, "_key": "doc"}


# --- batching and the API ---------------------------------------------------------

def test_changes_stay_in_memory_until_commit(tmp_path: Path) -> None:
    s = Store(tmp_path)
    try:
        s.put_doc("state", "meta", "engine", {"n": 1})
        s.replace_table("state", "groups", [{"id": "g1"}, {"id": "g2"}])
        assert not (tmp_path / "state.json").exists()
        assert s.dirty("state")
        s.commit()
        assert not s.dirty()
        on_disk = decode_state((tmp_path / "state.json").read_bytes())
        assert on_disk["meta"]["1"] == {"n": 1, "_key": "engine"}
        for n in range(2, 200):  # the hot path: many changes, no writes
            s.put_doc("state", "meta", "engine", {"n": n})
        assert decode_state((tmp_path / "state.json").read_bytes())["meta"]["1"]["n"] == 1
        assert s.get_doc("state", "meta", "engine") == {"n": 199, "_key": "engine"}
        s.commit("state")
        assert decode_state((tmp_path / "state.json").read_bytes())["meta"]["1"]["n"] == 199
        assert decode_state((tmp_path / "state.json.prev").read_bytes())["meta"]["1"]["n"] == 1
    finally:
        s.close()


def test_commit_skips_unchanged_dbs_and_names_one(tmp_path: Path) -> None:
    with Store(tmp_path) as s:
        s.put_doc("a", "t", "k", {"v": 1})
        s.put_doc("b", "t", "k", {"v": 1})
        s.commit()
        ino_a = (tmp_path / "a.json").stat().st_ino
        ino_b = (tmp_path / "b.json").stat().st_ino
        s.commit()  # nothing changed: no writes
        assert (tmp_path / "a.json").stat().st_ino == ino_a
        s.put_doc("a", "t", "k", {"v": 2})
        s.put_doc("b", "t", "k", {"v": 2})
        s.commit("a")
        assert (tmp_path / "a.json").stat().st_ino != ino_a
        assert (tmp_path / "b.json").stat().st_ino == ino_b
        assert s.dirty("b") and not s.dirty("a")
        s.commit("never-opened")  # no-op
    with Store(tmp_path) as s:  # close committed b
        assert s.get_doc("b", "t", "k")["v"] == 2


def test_keyed_docs_replace_table_and_tinydb_api_mix(tmp_path: Path) -> None:
    with Store(tmp_path) as s:
        assert s.get_doc("state", "meta", "x") is None
        assert s.read_table("state", "nothing") == []
        s.put_doc("state", "meta", "x", {"v": 1})
        s.put_doc("state", "meta", "y", {"v": 2})
        s.put_doc("state", "meta", "x", {"v": 3})
        assert [d["_key"] for d in s.read_table("state", "meta")] == ["x", "y"]
        table = s.db("state").table("meta")
        table.insert({"plain": True})  # TinyDB's own API still works and does not clash
        s.put_doc("state", "meta", "z", {"v": 4})
        table.insert({"plain": 2})
        assert len(table) == 5 and len({d.doc_id for d in table.all()}) == 5
        assert s.get_doc("state", "meta", "z") == {"v": 4, "_key": "z"}
        s.replace_table("state", "meta", [{"_key": "x", "v": 9}, {"other": 1}])
        assert s.get_doc("state", "meta", "x") == {"_key": "x", "v": 9}
        assert s.get_doc("state", "meta", "y") is None
        s.put_doc("state", "meta", "y", {"v": 10})
        assert len(s.read_table("state", "meta")) == 3
        doc = s.get_doc("state", "meta", "y")
        doc["v"] = "mutated copy"
        assert s.get_doc("state", "meta", "y")["v"] == 10
        assert s.db("state") is s.db("state")
        with pytest.raises(ValueError):
            s.db("../escape")
    with Store(tmp_path) as s:
        assert s.read_table("state", "meta") == [{"_key": "x", "v": 9}, {"other": 1}, {"v": 10, "_key": "y"}]


def test_close_is_idempotent_and_releases_lock(tmp_path: Path) -> None:
    s = Store(tmp_path / "deep" / "dir")
    assert (tmp_path / "deep" / "dir").stat().st_mode & 0o777 == 0o700
    s.put_doc("state", "meta", "k", {"v": 1})
    s.close()
    s.close()
    with pytest.raises(StoreError):
        s.db("state")
    with Store(tmp_path / "deep" / "dir") as again:
        assert again.get_doc("state", "meta", "k")["v"] == 1


# --- locking ----------------------------------------------------------------------

def test_second_store_in_same_process_is_locked(tmp_path: Path) -> None:
    with Store(tmp_path):
        with pytest.raises(StoreLocked) as err:
            Store(tmp_path)
    msg = str(err.value)
    assert msg == f"data dir {tmp_path} is in use by another groupwatch (pid {os.getpid()})"
    assert "\n" not in msg
    Store(tmp_path).close()  # released on close


HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from console.engine.store import Store
    s = Store(Path(sys.argv[1]))
    print("locked", flush=True)
    time.sleep(60)
""")


def _child(script: str, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-c", script, *args], stdout=subprocess.PIPE, text=True, env=env,
                            cwd=REPO)


def test_lock_across_processes_and_released_on_kill(tmp_path: Path) -> None:
    child = _child(HOLDER, str(tmp_path))
    try:
        assert child.stdout.readline().strip() == "locked"
        with pytest.raises(StoreLocked) as err:
            Store(tmp_path)
        assert str(err.value) == f"data dir {tmp_path} is in use by another groupwatch (pid {child.pid})"
    finally:
        child.kill()
        child.wait()
    Store(tmp_path).close()  # the kernel dropped the dead process's lock


# --- crash safety -------------------------------------------------------------------

WRITER = textwrap.dedent("""
    import random, sys
    from pathlib import Path
    from console.engine.store import Store
    s = Store(Path(sys.argv[1]))
    rng = random.Random(int(sys.argv[2]))
    meta = s.get_doc("state", "meta", "counter")
    n = meta["n"] if meta else 0
    print("start", n, flush=True)
    while True:
        n += 1
        size = rng.randint(1, 4000)
        s.replace_table("state", "items", [{"n": n, "i": i, "pad": "p\\u00e9\\ud800" * 8} for i in range(size)])
        s.put_doc("state", "meta", "counter", {"n": n, "items": size})
        s.commit()
        print(n, flush=True)
""")


def _check_consistent(d: Path) -> int:
    with Store(d) as s:
        meta = s.get_doc("state", "meta", "counter")
        items = s.read_table("state", "items")
    if meta is None:
        assert items == []
        return 0
    n = meta["n"]
    assert len(items) == meta["items"]
    assert all(it["n"] == n for it in items)
    assert [it["i"] for it in items] == list(range(len(items)))
    return n


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sigkill_at_random_moments_leaves_a_committed_state(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    last = 0
    for round_ in range(4):
        child = _child(WRITER, str(tmp_path), str(seed * 100 + round_))
        try:
            start = child.stdout.readline().split()
            assert start[0] == "start" and int(start[1]) == last
            time.sleep(rng.uniform(0.0, 0.4))
        finally:
            child.send_signal(signal.SIGKILL)
            out, _ = child.communicate()
        printed = [int(x) for x in out.split()]
        n = _check_consistent(tmp_path)
        committed = printed[-1] if printed else last
        # Everything reported committed is on disk; at most the commit in flight is extra.
        assert committed <= n <= committed + 1, (committed, n)
        assert n >= last
        last = n
        assert not [f for f in _files(tmp_path) if "tmp-" in f]  # stale temp files cleaned on open
        if (tmp_path / "state.json.prev").exists():
            decode_state((tmp_path / "state.json.prev").read_bytes())  # the previous save is good too
    assert last > 0


# --- damaged files ------------------------------------------------------------------

def _seed_two_saves(d: Path) -> None:
    with Store(d) as s:
        s.put_doc("state", "meta", "counter", {"n": 1})
        s.commit()
        s.put_doc("state", "meta", "counter", {"n": 2})


@pytest.mark.parametrize("garbage", [b'{"meta": {"1": {"n": 2, "_k', b"", b"\xff\xfe not json", b"[1, 2]",
                                     b'{"meta": [1]}', b"\x00" * 64])
def test_damaged_file_is_reported_and_left_untouched(tmp_path: Path, garbage: bytes) -> None:
    _seed_two_saves(tmp_path)
    path = tmp_path / "state.json"
    path.write_bytes(garbage)
    before = _files(tmp_path)
    with Store(tmp_path) as s:
        with pytest.raises(StoreDamaged) as err:
            s.db("state")
    msg = str(err.value)
    assert str(path) in msg and "damaged" in msg and "--recover" in msg and "\n" not in msg
    assert path.read_bytes() == garbage
    assert _files(tmp_path) == before


def test_damage_message_names_the_parse_error(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_bytes(b'{"meta": {"1": {"n": 2,, }}}')
    with Store(tmp_path) as s, pytest.raises(StoreDamaged) as err:
        s.read_table("state", "meta")
    assert "Expecting property name enclosed in double quotes: line 1 column 24" in str(err.value)


def test_recover_moves_damaged_file_aside_and_uses_prev(tmp_path: Path) -> None:
    _seed_two_saves(tmp_path)
    path = tmp_path / "state.json"
    path.write_bytes(b'{"meta": {"1": {"n"')
    with Store(tmp_path, recover=True) as s:
        assert s.get_doc("state", "meta", "counter")["n"] == 1
        assert len(s.warnings) == 1
        warning = s.warnings[0]
    aside = [f for f in _files(tmp_path) if f.startswith("state.json.damaged-")]
    assert len(aside) == 1 and len(aside[0]) == len("state.json.damaged-20240101120000")
    assert (tmp_path / aside[0]).read_bytes() == b'{"meta": {"1": {"n"'
    assert str(path) in warning and aside[0] in warning and "state.json.prev" in warning and "\n" not in warning
    with Store(tmp_path) as s:  # the recovered state was saved: a normal open works
        assert s.get_doc("state", "meta", "counter")["n"] == 1
        assert s.warnings == []


def test_recover_with_bad_prev_starts_empty_and_keeps_both(tmp_path: Path) -> None:
    _seed_two_saves(tmp_path)
    (tmp_path / "state.json").write_bytes(b"garbage")
    (tmp_path / "state.json.prev").write_bytes(b"more garbage")
    with Store(tmp_path, recover=True) as s:
        assert s.read_table("state", "meta") == []
        assert "starting empty" in s.warnings[0]
    names = _files(tmp_path)
    assert any(f.startswith("state.json.damaged-") for f in names)
    assert any(f.startswith("state.json.prev.damaged-") for f in names)
    kept = {(tmp_path / f).read_bytes() for f in names if ".damaged-" in f}
    assert kept == {b"garbage", b"more garbage"}


def test_recover_is_harmless_on_good_files(tmp_path: Path) -> None:
    _seed_two_saves(tmp_path)
    with Store(tmp_path, recover=True) as s:
        assert s.get_doc("state", "meta", "counter")["n"] == 2
        assert s.warnings == []


# --- write failures -----------------------------------------------------------------

def _enospc(*_a: object, **_k: object) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("how", ["replace", "write", "fsync"])
def test_disk_full_keeps_last_good_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    s = Store(tmp_path)
    s.put_doc("state", "meta", "counter", {"n": 1})
    s.commit()
    s.put_doc("state", "meta", "counter", {"n": 2})
    s.commit()
    good = (tmp_path / "state.json").read_bytes()
    prev = (tmp_path / "state.json.prev").read_bytes()
    s.put_doc("state", "meta", "counter", {"n": 3})
    with monkeypatch.context() as m:
        if how == "replace":
            m.setattr(os, "replace", _enospc)
        elif how == "fsync":
            m.setattr(os, "fsync", _enospc)
        else:
            def half_then_full(fd: int, payload: bytes) -> None:
                os.write(fd, payload[: len(payload) // 2])
                _enospc()
            m.setattr(store_mod, "_write_all", half_then_full)
        with pytest.raises(StoreError) as err:
            s.commit()
    msg = str(err.value)
    assert "No space left on device" in msg and str(tmp_path / "state.json") in msg and "\n" not in msg
    assert (tmp_path / "state.json").read_bytes() == good
    assert (tmp_path / "state.json.prev").read_bytes() == prev
    assert _files(tmp_path) == ["lock", "state.json", "state.json.prev"]  # temp files removed
    assert s.dirty("state") and s.get_doc("state", "meta", "counter")["n"] == 3  # kept in memory
    s.commit()  # space is back: the retry saves it
    s.close()
    with Store(tmp_path) as s2:
        assert s2.get_doc("state", "meta", "counter")["n"] == 3


def test_unserialisable_value_is_a_store_error(tmp_path: Path) -> None:
    s = Store(tmp_path)
    s.put_doc("state", "meta", "bad", {"v": object()})
    with pytest.raises(StoreError) as err:
        s.commit()
    assert "not JSON serializable" in str(err.value)
    s.put_doc("state", "meta", "bad", {"v": 1})
    s.close()


def test_data_dir_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(StoreError) as err:
        Store(tmp_path / "f")
    assert str(tmp_path / "f") in str(err.value)


# --- speed --------------------------------------------------------------------------

def test_commit_of_a_10mb_db_is_fast(tmp_path: Path) -> None:
    texts = ["hello world", "广告 加微信 😀", "<b>[red]x[/]</b>", "привет всем"]
    groups = [{"id": f"tg:{g}", "name": f"group {g}",
               "members": [[f"tg:u{g}-{i}", f"user {i}", 1.7e9 + i, None, i, True, None, None] for i in range(60)],
               "recent": [[str(i), "u", "name", texts[i % 4] * 4, 1.7e9 + i, None, []] for i in range(50)]}
              for g in range(850)]
    with Store(tmp_path) as s:
        s.replace_table("state", "groups", groups)
        t0 = time.perf_counter()
        s.commit()
        elapsed = time.perf_counter() - t0
        size = (tmp_path / "state.json").stat().st_size
    assert size > 10_000_000
    assert elapsed < 3.0, f"commit of {size / 1e6:.1f} MB took {elapsed:.2f} s"


def test_a_tinydb_kept_after_close_cannot_write(tmp_path: Path) -> None:
    s = Store(tmp_path)
    tdb = s.db("state")
    s.close()
    tdb.table("t").insert({"late": True})
    with pytest.raises(StoreError):
        tdb.close()
    assert not (tmp_path / "state.json").exists()
