"""The real ``groupwatch`` command, end to end, as a user runs it."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

KINDS = {"ad", "silent_member", "silent_group", "churn_spike"}


def groupwatch(*args: str, home: Path, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    exe = shutil.which("groupwatch") or str(Path(sys.executable).parent / "groupwatch")
    env = {**os.environ, "GROUPWATCH_HOME": str(home), "GROUPWATCH_CONFIG": str(home / "none.toml"),
           "NO_COLOR": "1"}
    p = subprocess.run([exe, *args], capture_output=True, text=True, timeout=timeout, env=env)
    if check and p.returncode != 0:
        raise AssertionError(f"exit {p.returncode}: {p.stderr}")
    return p


def jsonl(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def first_minute(tmp_path_factory) -> list[dict]:
    home = tmp_path_factory.mktemp("home")
    return jsonl(groupwatch("watch", "--headless", "--fast", "--seconds", "60", "--format", "jsonl",
                            "--seed", "7", home=home).stdout)


def test_first_minute_of_the_demo_shows_every_kind_of_alert(first_minute):
    kinds = {r["kind"] for r in first_minute}
    assert KINDS <= kinds, kinds
    for r in first_minute:
        assert {"kind", "severity", "group", "member", "reason", "at"} <= r.keys()
        assert r["severity"] in ("low", "medium", "high") and r["at"].endswith("Z")
    ads = [r for r in first_minute if r["kind"] == "ad"]
    assert all(r["member"] and r["excerpt"] and r["reasons"] for r in ads)


def test_the_same_seed_replays_the_same_alerts(first_minute, tmp_path):
    again = jsonl(groupwatch("watch", "--headless", "--fast", "--seconds", "60", "--format", "jsonl",
                             "--seed", "7", home=tmp_path).stdout)
    assert again == first_minute
    other = jsonl(groupwatch("watch", "--headless", "--fast", "--seconds", "60", "--format", "jsonl",
                             "--seed", "8", home=tmp_path).stdout)
    assert other != first_minute


def test_a_restart_resumes_instead_of_starting_over(tmp_path):
    args = ("watch", "--headless", "--fast", "--seconds", "20", "--format", "jsonl", "--seed", "3")
    first = jsonl(groupwatch(*args, home=tmp_path).stdout)
    second = jsonl(groupwatch(*args, home=tmp_path).stdout)
    assert first and max(r["at"] for r in second) > max(r["at"] for r in first)
    assert not any(r["change"] == "new" and r["kind"] == "silent_group" for r in second)  # still open, not re-raised


def test_text_output_prints_hostile_names_literally(tmp_path):
    out = groupwatch("watch", "--headless", "--fast", "--seconds", "30", "--seed", "7", home=tmp_path).stdout
    assert out.strip()
    assert "\x1b" not in out and "\u202e" not in out


def test_report_formats(tmp_path):
    rows = json.loads(groupwatch("report", "--format", "json", home=tmp_path).stdout)
    assert len(rows) == 40 and {"active_ratio", "tier", "exit_rate", "open_alerts"} <= rows[0].keys()
    keys = [(-r["open_alerts"]) for r in rows]
    assert keys == sorted(keys)  # worst first
    csv_out = groupwatch("report", "--format", "csv", home=tmp_path).stdout
    assert csv_out.splitlines()[0].startswith("group,name,platform,members")
    md = groupwatch("report", "--format", "markdown", home=tmp_path).stdout
    assert md.startswith("| group | name |")
    table = groupwatch("report", home=tmp_path).stdout
    assert "DEMO" in table


def test_bench_ingest_prints_json(tmp_path):
    r = json.loads(groupwatch("bench", "ingest", "--groups", "50", "--events", "5000", "--repeat", "1",
                              "--format", "json", home=tmp_path).stdout)
    assert r["events"] == 5000 and r["events_per_s"] > 0 and r["peak_rss_mb"] > 0


def test_user_mistakes_get_one_line_errors_not_tracebacks(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[detectors.flood]\nmax_mesages = 3\n")
    p = groupwatch("--config", str(bad), "config", "check", home=tmp_path, check=False)
    assert p.returncode == 2 and "bad.toml:2" in p.stderr
    p = groupwatch("config", "check", "--config", str(bad), home=tmp_path, check=False)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert "bad.toml:2" in p.stderr and "max_mesages" in p.stderr and "max_messages" in p.stderr
    p = groupwatch("watch", "--headless", "--groups", "5000", home=tmp_path, check=False)
    assert p.returncode == 2 and "--groups" in p.stderr and "Traceback" not in p.stderr
    p = groupwatch("config", "check", home=tmp_path)
    assert "demo" in p.stdout


def test_a_second_process_on_the_same_data_dir_is_refused(tmp_path):
    exe = shutil.which("groupwatch") or str(Path(sys.executable).parent / "groupwatch")
    env = {**os.environ, "GROUPWATCH_HOME": str(tmp_path), "GROUPWATCH_CONFIG": str(tmp_path / "none.toml")}
    first = subprocess.Popen([exe, "watch", "--headless", "--seconds", "30"], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        first.stdout.readline()  # running and printing: it holds the data dir
        p = groupwatch("watch", "--headless", "--seconds", "1", home=tmp_path, check=False)
        assert p.returncode == 2 and "in use by another groupwatch" in p.stderr
    finally:
        first.terminate()
        first.wait(10)
    assert first.returncode == 0  # SIGTERM is a clean stop


def test_version_and_help():
    assert subprocess.run([sys.executable, "-m", "console.cli", "--version"], capture_output=True,
                          text=True).stdout.startswith("groupwatch ")
    for cmd in (["--help"], ["watch", "--help"], ["report", "--help"], ["bench", "ingest", "--help"],
                ["config", "check", "--help"]):
        p = subprocess.run([sys.executable, "-m", "console.cli", *cmd], capture_output=True, text=True)
        assert p.returncode == 0 and "usage: groupwatch" in p.stdout


def test_blacklist_then_audit_lists_every_action_with_its_result(tmp_path):
    out = groupwatch("blacklist", "add", "demo:u7", "--reason", "ad team", home=tmp_path).stdout
    assert "demo:u7" in out
    entries = json.loads(groupwatch("blacklist", "list", "--format", "json", home=tmp_path).stdout)
    assert [e["pattern"] for e in entries] == ["demo:u7"]
    audit = json.loads(groupwatch("audit", "--format", "json", home=tmp_path).stdout)
    bans = [e for e in audit if e["action"] == "ban" and e["member"] == "demo:u7"]
    assert len(bans) == 40 and all(e["result"].startswith("done") for e in bans)
    assert any(e["action"] == "blacklist add" for e in audit)
    p = groupwatch("blacklist", "add", "demo:u8", "--read-only", home=tmp_path, check=False)
    assert p.returncode == 2 and "read-only" in p.stderr
    p = groupwatch("blacklist", "add", "not an id", home=tmp_path, check=False)
    assert p.returncode == 2 and p.stderr.startswith("groupwatch: error:") and "Traceback" not in p.stderr


def test_schedule_commands_and_bad_expressions(tmp_path):
    out = groupwatch("schedule", "add", "--id", "tips", "--target", "tier:inactive", "--template",
                     "今日话题 {group} ({members} members)", "--at", "09:00,20:30", "--tz", "Asia/Shanghai",
                     home=tmp_path).stdout
    assert "tips" in out
    rows = json.loads(groupwatch("schedule", "list", "--format", "json", home=tmp_path).stdout)
    assert rows[0]["id"] == "tips" and rows[0]["next_run"]
    dry = groupwatch("schedule", "run-now", "tips", "--dry-run", home=tmp_path).stdout
    assert "今日话题" in dry
    p = groupwatch("schedule", "add", "--target", "all", "--template", "x", "--cron", "61 * * * *",
                   home=tmp_path, check=False)
    assert p.returncode == 2 and "cron" in p.stderr and "Traceback" not in p.stderr
