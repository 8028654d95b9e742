"""``--read-only`` refuses every change, decided in one place (the service), for every subcommand that
changes something: exit 2, one line ``groupwatch: error: read-only mode: ...``, and nothing changed
(the blacklist, the schedules, the audit log and the demo platform's own record of calls)."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.test_cli import RunningService, groupwatch

DEMO = ("--groups", "3", "--seed", "5", "--speed", "600")


def changes(import_file: str) -> list[tuple[str, ...]]:
    """Every subcommand that changes something (blacklist, schedules), with arguments that would work."""
    return [
        ("blacklist", "add", "demo:u2", "--reason", "spam"),
        ("blacklist", "add", "demo:u1*", "--yes"),
        ("blacklist", "add", "demo:u1", "--reason", "again"),
        ("blacklist", "remove", "demo:u1"),
        ("blacklist", "purge", "demo:u2", "--yes"),
        ("blacklist", "import", import_file),
        ("schedule", "add", "--id", "new", "--target", "all", "--template", "hi {group}", "--at", "09:00"),
        ("schedule", "pause", "tips"),
        ("schedule", "resume", "tips"),
        ("schedule", "run-now", "tips"),
        ("silence", "add", "kind=silent_member", "group=tag:archive", "--for", "7d", "--comment", "archived"),
        ("silence", "remove", "1"),
        ("schedule", "remove", "tips"),
    ]


CHANGES = changes("IMPORT")


@pytest.fixture(scope="module")
def home():
    """A demo data dir (short path: its socket must fit a sockaddr_un) that already has a blacklist
    entry and a schedule, and a file an import would take."""
    d = tempfile.mkdtemp(prefix="gw-ro-")
    env = {"GROUPWATCH_HOME": d, "GROUPWATCH_CONFIG": os.path.join(d, "none.toml")}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        from console.cli import main

        assert main(["blacklist", "add", "demo:u1", "--reason", "ad team", *DEMO]) == 0
        assert main(["schedule", "add", "--id", "tips", "--target", "all", "--template", "tip for {group}",
                     "--cron", "0 9 1 1 *", "--tz", "UTC", *DEMO]) == 0  # once a year: never fires while the test runs
        assert main(["silence", "add", "kind=ad", "severity=low", "--for", "30d", "--comment", "seed", *DEMO]) == 0
        Path(d, "import.json").write_text(json.dumps([{"pattern": "demo:u9", "reason": "imported"}]))
        yield Path(d)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(d, ignore_errors=True)


def argv_for(change: tuple[str, ...], home: Path) -> list[str]:
    return [str(home / "import.json") if a == "IMPORT" else a for a in change]


def state(home: Path, run) -> dict:
    """What a change would touch, as the commands themselves show it (schedules without their next run,
    which moves with the demo's clock), plus the demo platform's record of every call it received."""
    def out(*argv: str) -> str:
        code, text = run(*argv)
        assert code == 0
        return text

    schedules = json.loads(out("schedule", "list", "--format", "json"))
    for s in schedules:
        s.pop("next_run"), s.pop("next_run_at")
    platform = next(home.glob("demo-*/demo-platform.jsonl"), None)
    return {"blacklist": json.loads(out("blacklist", "list", "--format", "json")), "schedules": schedules,
            "audit": json.loads(out("audit", "--format", "json")),
            "silences": json.loads(out("silence", "list", "--format", "json")),
            "platform": platform.read_text() if platform is not None else ""}


def in_process(capsys):
    from console.cli import main

    def run(*argv: str) -> tuple[int, str]:
        code = main([*argv, *DEMO])
        captured = capsys.readouterr()
        return code, captured.out
    return run


def one_refusal(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("groupwatch: error: read-only mode: ") and "Traceback" not in err
    return lines[0]


def test_the_demo_dir_has_something_to_change(home, capsys):
    s = state(home, in_process(capsys))
    assert [e["pattern"] for e in s["blacklist"]] == ["demo:u1"]
    assert [x["id"] for x in s["schedules"]] == ["tips"] and not s["schedules"][0]["paused"]
    assert {"blacklist add", "schedule added", "silence added"} <= {e["action"] for e in s["audit"]}
    assert [x["id"] for x in s["silences"]] == [1]


@pytest.mark.parametrize("change", CHANGES, ids=[" ".join(c[:2]) + (f" {c[2]}" if c[1] == "add" else "")
                                                  for c in CHANGES])
def test_read_only_refuses_every_change_and_changes_nothing(home, capsys, change):
    run = in_process(capsys)
    before = state(home, run)
    from console.cli import main

    code = main(["--read-only", *argv_for(change, home), *DEMO])
    err = capsys.readouterr().err
    assert code == 2
    one_refusal(err)
    assert state(home, run) == before


@pytest.mark.parametrize("change", [CHANGES[0], CHANGES[-1]], ids=["blacklist add", "schedule remove"])
def test_read_only_through_the_real_executable(home, capsys, change):
    run = in_process(capsys)
    before = state(home, run)
    p = groupwatch(*argv_for(change, home), "--read-only", *DEMO, home=home, check=False)
    assert p.returncode == 2
    one_refusal(p.stderr)
    assert state(home, run) == before


def test_read_only_with_a_service_running_is_refused_by_the_service(home, capsys):
    """With a service serving the data dir, the commands attach to it: --read-only caps the session at
    viewer there, and the service refuses (it runs read-write for everyone else)."""
    run = in_process(capsys)
    before = state(home, run)
    with RunningService(str(home), groups=3, seed=5, speed=600) as s:
        from console.cli import main

        for change in CHANGES:
            code = main(["--read-only", *argv_for(change, home), *DEMO])
            one_refusal(capsys.readouterr().err)
            assert code == 2, change
        assert [r.pattern for r in s.query("blacklist")] == ["demo:u1"]
        assert [(r.id, r.paused) for r in s.query("schedules")] == [("tips", False)]
        assert [r.id for r in s.query("silences")] == [1]
        after = state(home, run)  # through the service as well
    assert s.error is None
    assert after["blacklist"] == before["blacklist"] and after["schedules"] == before["schedules"]
    def by_operators(audit: list) -> list:  # the demo's clock runs on: a schedule may fire meanwhile
        return [e for e in audit if not e["actor"].startswith("auto:")]
    assert by_operators(after["audit"]) == by_operators(before["audit"]) and after["silences"] == before["silences"]


def test_subcommands_decide_nothing_themselves():
    """The subcommands (but serve) reach the engine only through the service: no runtime of their own, no
    moderation or blacklist objects, and no read-only or role check of their own (the service's
    refusal is the only one)."""
    import re

    root = Path(__file__).resolve().parent.parent / "console"
    # ``serve`` is the service itself: it opens the engine that the others reach through it.
    files = [*sorted(p for p in (root / "commands").glob("*.py") if p.name != "serve.py"), root / "headless.py",
             root / "report.py"]
    forbidden = re.compile(r"open_rt|open_runtime|\.moderation\b|\.blacklist\.|\.schedules\.|\.ledger\b|"
                           r"ReadOnlyError\(|_refuse_if_read_only|\.read_only\b|effective_role|\.role\b")
    found = [f"{p.name}:{n}: {line.strip()}" for p in files
             for n, line in enumerate(p.read_text().splitlines(), 1) if forbidden.search(line)]
    assert not found, "\n".join(found)
