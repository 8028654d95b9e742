"""The real ``groupwatch`` command, end to end, as a user runs it."""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
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
    assert r["events"] == 5000 and r["events_per_s"] > 0 and r["peak_rss_mb"] > 0 and r["loop_s"] > 0
    assert 0 < r["median_tick_s"] < r["median_ingest_s"] and 0 <= r["median_gc_s"] < r["median_ingest_s"]


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


# --- with a service running: every subcommand goes through it -------------------------------------

class RunningService:
    """A real service on the demo in this process: the engine (paced, so its world moves in real time),
    the Service and its socket, on an event loop of their own in a thread, as ``groupwatch serve`` or an
    open console runs them. The commands under test attach over the socket like any other process."""

    def __init__(self, data: str, *, config: str | None = None, groups: int = 4, seed: int = 5,
                 speed: float = 3600) -> None:
        self.data, self.config = data, config
        self.options = dict(groups=groups, seed=seed, speed=speed)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.host = None
        self.error: BaseException | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name="service", daemon=True)

    @property
    def service(self):
        return self.host.service

    @property
    def socket(self) -> Path:
        from console.service.attach import socket_path

        return socket_path(self.host.rt.data_dir)

    def _main(self) -> None:
        async def main() -> None:
            from console.runtime import open_runtime
            from console.service.host import Host

            rt = open_runtime(self.config, self.data, pace=True, **self.options)
            host = Host(rt, serve_socket=True)
            try:
                problem = await host.start()
                if problem:
                    raise RuntimeError(problem)
                self.loop, self.host = asyncio.get_running_loop(), host
                self._ready.set()
                await host.run()
            finally:
                await host.stop()
                await host.close_connectors()
                host.close()

        try:
            asyncio.run(main())
        except BaseException as e:  # noqa: BLE001 - said by __enter__ or the test
            self.error = e
        finally:
            self._ready.set()

    def __enter__(self) -> "RunningService":
        self._thread.start()
        assert self._ready.wait(60), "the service did not start"
        if self.error is not None:
            raise self.error
        return self

    def __exit__(self, *exc) -> None:
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self.host.rt.engine.stop)
        self._thread.join(30)
        assert not self._thread.is_alive(), "the service did not stop"

    def call(self, make_coro, timeout: float = 30):
        """Run ``make_coro()`` on the service's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(make_coro(), self.loop).result(timeout)

    def query(self, name: str, **params):
        svc = self.service
        return self.call(lambda: svc.query(self.host.actor, name, params))

    def when(self, predicate, timeout: float = 30) -> None:
        """Wait until ``predicate(service)`` holds, checked on the service's loop at each change it
        announces (a session opening, a command, events flowing)."""
        hit = threading.Event()

        def listener(kind, _payload) -> None:
            if predicate(self.service):
                hit.set()

        def subscribe() -> None:
            self._unsubscribe = self.service.subscribe(listener)
            listener("changed", None)

        self.loop.call_soon_threadsafe(subscribe)
        try:
            assert hit.wait(timeout), "the service never got there"
        finally:
            self.loop.call_soon_threadsafe(self._unsubscribe)


@pytest.fixture
def short_dir():
    """A data dir with a short path: a Unix socket's path must fit in sockaddr_un."""
    d = tempfile.mkdtemp(prefix="gw-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def cli_main(capsys, *argv: str) -> tuple[int, str, str]:
    """``groupwatch ARGV`` in this process (the service runs on its own loop in another thread)."""
    from console.cli import main

    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


DEMO = ("--groups", "4", "--seed", "5", "--speed", "3600")


def test_with_a_service_running_blacklist_add_goes_through_it(short_dir, capsys, monkeypatch):
    monkeypatch.setenv("GROUPWATCH_CONFIG", os.path.join(short_dir, "none.toml"))
    monkeypatch.setenv("GROUPWATCH_HOME", short_dir)
    with RunningService(short_dir) as s:
        # The data dir is the service's (locked by it): the command attaches instead of failing on the lock.
        code, out, err = cli_main(capsys, "blacklist", "add", "demo:u1", "--reason", "ad team", *DEMO)
        assert code == 0, err
        assert "blacklisted demo:u1" in out and "enforced: 4/4 done" in out and not err
        rows = s.query("blacklist")
        assert [(r.pattern, r.reason) for r in rows] == [("demo:u1", "ad team")]  # in the service itself

        code, out, _ = cli_main(capsys, "blacklist", "list", "--format", "json", *DEMO)
        assert code == 0 and [e["pattern"] for e in json.loads(out)] == ["demo:u1"]
        code, out, _ = cli_main(capsys, "audit", "--format", "json", *DEMO)
        audit = json.loads(out)
        add = [e for e in audit if e["action"] == "blacklist add"]
        assert len(add) == 1 and add[0]["member"] == "demo:u1"
        bans = [e for e in audit if e["action"] == "ban" and e["member"] == "demo:u1"]
        assert len(bans) == 4 and all(e["result"].startswith("done") for e in bans)
        assert {e["actor"] for e in add + bans} == {s.host.actor.user}  # the peer's OS user, from the kernel

        code, out, _ = cli_main(capsys, "report", "--format", "json", *DEMO)
        assert code == 0 and len(json.loads(out)) == 4
        code, out, _ = cli_main(capsys, "schedule", "add", "--id", "tips", "--target", "all", "--template",
                                "hi {group}", "--at", "09:00", *DEMO)
        assert code == 0 and "added schedule tips" in out
        assert [r.id for r in s.query("schedules")] == ["tips"]
        code, out, _ = cli_main(capsys, "schedule", "run-now", "tips", "--dry-run", *DEMO)
        assert code == 0 and "would post to 4 group(s); nothing sent" in out

        # An import travels as one request (all or nothing): one too big for the socket is said plainly.
        big = Path(short_dir, "big.json")
        big.write_text(json.dumps([{"pattern": f"demo:x{i}", "reason": "r" * 100} for i in range(9000)]))
        code, out, err = cli_main(capsys, "blacklist", "import", str(big), *DEMO)
        assert code == 2 and err.count("\n") == 1 and "split the file" in err
        assert [r.pattern for r in s.query("blacklist")] == ["demo:u1"]

        # The same again, as another process would: the real executable.
        p = groupwatch("blacklist", "add", "demo:u1", *DEMO, home=Path(short_dir))
        assert "demo:u1: already blacklisted by" in p.stdout
        p = groupwatch("report", "--format", "json", *DEMO, home=Path(short_dir))
        assert len(json.loads(p.stdout)) == 4
    assert s.error is None


def test_connect_attaches_to_a_socket_elsewhere(short_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GROUPWATCH_CONFIG", os.path.join(short_dir, "none.toml"))
    with RunningService(short_dir) as s:
        sock = str(s.socket)
        # Another data dir (none exists there), and no demo options: --connect alone says where.
        code, out, err = cli_main(capsys, "--data-dir", str(tmp_path / "elsewhere"), "--connect", sock,
                                  "blacklist", "add", "demo:u2")
        assert code == 0, err
        assert [r.pattern for r in s.query("blacklist")] == ["demo:u2"]
        code, out, _ = cli_main(capsys, "audit", "--format", "json", "--connect", sock)
        assert any(e["action"] == "blacklist add" and e["member"] == "demo:u2" for e in json.loads(out))
        code, out, err = cli_main(capsys, "config", "check", "--connect", sock)  # the service's own health
        assert code == 0 and f"a groupwatch service is running on {sock}" in out and "demo: ok" in out, err
    assert not (tmp_path / "elsewhere").exists()  # nothing was opened there
    for gone in (os.path.join(short_dir, "gone.sock"), str(tmp_path / ("x" * 120) / "gone.sock")):
        for argv in (("blacklist", "list"), ("config", "check"), ("watch", "--headless", "--seconds", "1")):
            code, out, err = cli_main(capsys, *argv, "--connect", gone)
            assert code == 2 and "Traceback" not in err, (argv, err)
            assert err.startswith("groupwatch: error: no groupwatch service at ") and err.count("\n") == 1, err


def test_watch_headless_follows_a_running_service(short_dir, capsys, monkeypatch):
    monkeypatch.setenv("GROUPWATCH_CONFIG", os.path.join(short_dir, "none.toml"))
    exe = shutil.which("groupwatch") or str(Path(sys.executable).parent / "groupwatch")
    env = {**os.environ, "GROUPWATCH_HOME": short_dir, "GROUPWATCH_CONFIG": os.path.join(short_dir, "none.toml")}
    with RunningService(short_dir) as s:
        s.when(lambda svc: svc.engine.alerts.live())  # the engine has raised an alert to act on
        watcher = subprocess.Popen([exe, "watch", "--headless", "--seconds", "60", "--format", "jsonl", *DEMO],
                                   env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert watcher.stderr.readline().startswith("groupwatch: following the service on ")
            target = s.query("alerts").alerts[0]
            from console.service.api import Command

            report = s.call(lambda: s.service.execute(s.host.actor, Command("ack", [target.id])))
            assert report.done == 1
            seen = None
            for line in watcher.stdout:  # printed as the service announces it, not at the end
                r = json.loads(line)
                assert {"change", "id", "kind", "severity", "group", "member", "reason", "at"} <= r.keys()
                if r["id"] == target.id and r["change"] == "state":
                    seen = r
                    break
            assert seen is not None and seen["state"] == "acknowledged"
        finally:
            watcher.terminate()  # like Ctrl-C: a clean stop
            _, err = watcher.communicate(timeout=30)
        assert watcher.returncode == 0 and "Traceback" not in err
    assert s.error is None


def test_config_check_asks_the_running_service_instead_of_probing_again(short_dir, capsys, monkeypatch):
    config = os.path.join(short_dir, "gw.toml")
    Path(config).write_text('[[connector]]\ntype = "demo"\nname = "sim"\ngroups = 3\nspeed = 3600\n')
    monkeypatch.setenv("GROUPWATCH_CONFIG", config)
    data = os.path.join(short_dir, "data")
    with RunningService(data, config=config):
        code, out, err = cli_main(capsys, "config", "check", "--data-dir", data)
        assert code == 0, err
        assert "1 connector(s): sim (demo)" in out and "a groupwatch service is running on" in out
        assert "sim (demo): ok" in out
    code, out, err = cli_main(capsys, "config", "check", "--data-dir", data)  # none running: probed here
    assert code == 0 and "service" not in out and "sim (demo): ok" in out and "3 group(s)" in out


def test_with_groupwatch_serve_running_the_subcommands_attach(short_dir):
    """The issue's check, all real processes: ``groupwatch serve`` on the demo, then ``groupwatch
    blacklist add demo:u1`` exits 0 and the entry is in ``blacklist list`` and ``audit``; ``report``
    works; ``--read-only`` is refused by the service; SIGTERM stops it cleanly."""
    exe = shutil.which("groupwatch") or str(Path(sys.executable).parent / "groupwatch")
    home = Path(short_dir)
    env = {**os.environ, "GROUPWATCH_HOME": short_dir, "GROUPWATCH_CONFIG": str(home / "none.toml")}
    serve = subprocess.Popen([exe, "serve", *DEMO], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    try:
        line = serve.stderr.readline()  # said once it listens
        assert line.startswith("groupwatch: serving "), line + serve.stderr.read()
        p = groupwatch("blacklist", "add", "demo:u1", "--reason", "ad team", *DEMO, home=home)
        assert "blacklisted demo:u1" in p.stdout and "enforced: 4/4 done" in p.stdout
        entries = json.loads(groupwatch("blacklist", "list", "--format", "json", *DEMO, home=home).stdout)
        assert [(e["pattern"], e["reason"]) for e in entries] == [("demo:u1", "ad team")]
        audit = json.loads(groupwatch("audit", "--format", "json", *DEMO, home=home).stdout)
        assert any(e["action"] == "blacklist add" and e["member"] == "demo:u1" for e in audit)
        assert len([e for e in audit if e["action"] == "ban" and e["member"] == "demo:u1"]) == 4
        rows = json.loads(groupwatch("report", "--format", "json", *DEMO, home=home).stdout)
        assert len(rows) == 4 and {"tier", "open_alerts"} <= rows[0].keys()
        p = groupwatch("blacklist", "remove", "demo:u1", "--read-only", *DEMO, home=home, check=False)
        assert p.returncode == 2 and p.stderr.startswith("groupwatch: error: read-only mode: ")
        assert p.stderr.count("\n") == 1
        after = json.loads(groupwatch("blacklist", "list", "--format", "json", *DEMO, home=home).stdout)
        assert after == entries
    finally:
        serve.terminate()
        _, err = serve.communicate(timeout=30)
    assert serve.returncode == 0 and "Traceback" not in err


def test_bench_against_alternates_the_two_trees_and_prints_their_ratio(tmp_path):
    from console import bench_against

    calls = []

    def fake_run(tree, args):
        calls.append(tree)
        this = tree == bench_against.ROOT
        assert (Path(tree) / "console" / "bench.py").exists() and "--repeat" in args
        return {"events_per_s": 300 if this else 200, "events_per_s_ingest_only": 900 if this else 300,
                "loop_s": 0.5 if this else 0.25}  # the base ran while the machine was twice as fast

    r = bench_against.against("HEAD", ["--repeat", "1"], 3, run=fake_run)
    this, base = bench_against.ROOT, calls[1]
    assert calls == [this, base, base, this, this, base]  # alternating, and swapping which goes first
    assert r["ratio_events_per_s"] == 1.5 and r["ratio_events_per_s_ingest_only"] == 3.0
    assert r["ratio_normalised"] == 3.0 and r["ratio_normalised_rounds"] == [3.0] * 3
    assert r["this"]["events_per_s_runs"] == [300] * 3 and r["base"]["median_tick_s"] is None
    assert len(r["against_commit"]) == 40 and not Path(base).exists()  # the exported tree is gone after
    p = groupwatch("bench", "ingest", "--against", "no-such-rev", "--format", "json", home=tmp_path, check=False)
    assert p.returncode == 2 and "no-such-rev" in p.stderr and "Traceback" not in p.stderr
