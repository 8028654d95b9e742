"""Damaged state files at start, through the real command: a clear one-line error naming the file,
the file left as it was; with --recover it is kept aside and the previous save is used."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from console.cli import main

DEMO = ["--groups", "4", "--seed", "3"]


@pytest.fixture(autouse=True)
def _no_config(tmp_path, monkeypatch):
    monkeypatch.setenv("GROUPWATCH_CONFIG", str(tmp_path / "none.toml"))


def gw(capsys, data: Path, *args: str) -> tuple[int, str, str]:
    rc = main(["--data-dir", str(data), *DEMO, *args])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture
def data(tmp_path, capsys) -> Path:
    """A data dir with two blacklist entries, added one after the other (so a previous save exists)."""
    d = tmp_path / "data"
    for member in ("demo:u5", "demo:u6"):
        rc, _, err = gw(capsys, d, "blacklist", "add", member, "--reason", "ads")
        assert rc == 0, err
    return d


def state_dir(data: Path) -> Path:
    return next(data.glob("demo-seed3-groups4-*"))


def entries(capsys, data: Path, *extra: str) -> tuple[list[str], str]:
    rc, out, err = gw(capsys, data, *extra, "blacklist", "list", "--format", "json")
    assert rc == 0, err
    return sorted(e["pattern"] for e in json.loads(out)), err


DAMAGE = {
    "truncated": lambda raw: raw[: len(raw) // 2],
    "empty": lambda raw: b"",
    "garbage": lambda raw: b"\xff\xfe\x00\x01 not json at all",
    "wrong shape": lambda raw: b"[1, 2, 3]",
}


@pytest.mark.parametrize("name", ["moderation", "ledger", "state"])
@pytest.mark.parametrize("how", list(DAMAGE))
def test_a_damaged_file_stops_the_start_and_is_left_as_it_was(data, capsys, name, how):
    path = state_dir(data) / f"{name}.json"
    damaged = DAMAGE[how](path.read_bytes())
    path.write_bytes(damaged)
    rc, out, err = gw(capsys, data, "blacklist", "list")
    assert rc == 2 and out == ""
    assert err.count("\n") == 1 and str(path) in err and "is damaged" in err and "--recover" in err
    assert "Traceback" not in err
    assert path.read_bytes() == damaged  # never replaced behind the operator's back

    # --recover: kept aside (byte for byte), the previous save used, and said so.
    patterns, err = entries(capsys, data, "--recover")
    aside = list(path.parent.glob(f"{name}.json.damaged-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == damaged
    assert aside[0].name in err and "warning" in err
    if name == "moderation":
        assert patterns == ["demo:u5"]  # the save before the last one: one entry behind, not empty
    else:
        assert patterns == ["demo:u5", "demo:u6"]


def _edit(path: Path, change) -> None:
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


RECORDS = {
    "ledger": lambda d: next(iter(d["actions"].values())).update(state="bogus"),
    "state": lambda d: next(iter(d["groups"].values())).pop("members"),
    "moderation": lambda d: d.update(outbox={"1": {"kind": "explode"}}),
}


@pytest.mark.parametrize("name", list(RECORDS))
def test_a_record_that_does_not_read_back_is_the_same_clear_choice(data, capsys, name):
    path = state_dir(data) / f"{name}.json"
    _edit(path, RECORDS[name])
    edited = path.read_bytes()
    rc, _, err = gw(capsys, data, "blacklist", "list")
    assert rc == 2 and err.count("\n") == 1 and str(path) in err and "does not read back" in err
    assert "Traceback" not in err and path.read_bytes() == edited
    patterns, err = entries(capsys, data, "--recover")
    assert patterns and "had records that do not read back" in err
    assert [p.read_bytes() for p in path.parent.glob(f"{name}.json.damaged-*")] == [edited]


def test_an_unusable_blacklist_record_is_never_silent(data, capsys):
    path = state_dir(data) / "moderation.json"
    _edit(path, lambda d: next(iter(d["blacklist"].values())).update(pattern=5))
    patterns, err = entries(capsys, data)
    assert patterns == ["demo:u6"] or patterns == ["demo:u5"]
    assert "1 blacklist record(s)" in err and "match nobody" in err


def test_a_damaged_platform_log_line_is_skipped_with_a_warning(data, capsys):
    log = state_dir(data) / "demo-platform.jsonl"
    lines = log.read_bytes().split(b"\n")
    log.write_bytes(b"\n".join([lines[0], b"\x00\x01garbage", *lines[1:]]))
    patterns, err = entries(capsys, data)
    assert patterns == ["demo:u5", "demo:u6"] and f"{log}:2: damaged line skipped" in err
