"""A real `groupwatch serve` on the demo, with consoles attached over its socket: shared triage,
one ban per group when two moderators blacklist the same member, a viewer refused, another OS
user identified by the kernel, and consoles that survive the service being killed."""
from __future__ import annotations

import asyncio
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from textual.widgets import Static

from console.app import GroupWatchApp
from console.screens.modals import ConfirmScreen
from console.service.api import Command
from console.service.attach import connect_remote, find, short_path
from console.widgets.keyed_table import KeyedTable

CONFIG = """
[operators]
default = "viewer"
[operators.users]
nobody = "moderator"
"""
DEMO = ("--groups", "12", "--seed", "5", "--speed", "1200")


def exe() -> str:
    return shutil.which("groupwatch") or str(Path(sys.executable).parent / "groupwatch")


class Service:
    """`groupwatch serve` in a process of its own, on a data dir of the test's."""

    def __init__(self, home: Path) -> None:
        self.home = home
        (home / "groupwatch.toml").write_text(CONFIG)
        self.env = {**os.environ, "GROUPWATCH_HOME": str(home), "GROUPWATCH_CONFIG": str(home / "groupwatch.toml")}
        self.proc: subprocess.Popen | None = None

    @property
    def data(self) -> Path:
        return next(self.home.glob("demo-seed*"))

    @property
    def socket(self) -> Path:
        return self.data / "groupwatch.sock"

    async def start(self) -> None:
        self.proc = subprocess.Popen([exe(), "serve", *DEMO], env=self.env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        end = time.monotonic() + 30
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited {self.proc.returncode}: {self.proc.stderr.read()}")
            if list(self.home.glob("demo-seed*/groupwatch.sock")) and await find(self.socket):
                return
            await asyncio.sleep(0.05)
        raise AssertionError("serve did not start")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            return self.proc.wait(20)
        return self.proc.returncode if self.proc else 0

    def platform_calls(self) -> list[dict]:
        text = (self.data / "demo-platform.jsonl").read_text()
        return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture
async def service(tmp_path):
    svc = Service(tmp_path)
    await svc.start()
    try:
        yield svc
    finally:
        assert svc.stop() == 0  # SIGTERM: saved and exited cleanly


async def until(cond, timeout: float = 20.0, pilots=()) -> None:
    end = asyncio.get_running_loop().time() + timeout
    while not cond():
        if asyncio.get_running_loop().time() > end:
            raise AssertionError("condition not met in time")
        for p in pilots:
            await p.pause(0.02)
        await asyncio.sleep(0.05)


def status(app) -> str:
    return str(app.screen.query_one("#status").render())


def detail(app) -> str:
    return str(app.screen.query_one("#detail", Static).render())


async def test_an_attached_console_moves_through_a_table_bigger_than_its_window(service):
    """Over the socket: a window of four of the twelve groups; G and gg bring the rows at the ends,
    a filter is the service's, and mark-all marks every matching row, the ones outside the window too."""
    app = GroupWatchApp(await connect_remote(service.socket, read_only=False, session="console"), refresh_seconds=0.2)
    async with app.run_test(size=(100, 30)) as pilot:
        t = lambda: app.screen.query_one("#table", KeyedTable)  # noqa: E731
        await until(lambda: t().total == 12, pilots=(pilot,))
        screen = app.screen
        screen.WINDOW = 4
        await until(lambda: len(screen.rows) == 4 and t().row_count == 4, pilots=(pilot,))
        await pilot.press("G")
        await until(lambda: t().place == 11, pilots=(pilot,))
        assert t().base == 8 and t().cursor_key() == screen.rows[-1].key and "12/12" in str(t().border_title)
        await pilot.press("g", "g")
        await until(lambda: t().place == 0 and t().base == 0, pilots=(pilot,))
        await pilot.press("asterisk")
        await until(lambda: len(screen.marks) == 12 and len(screen.targets()) == 12, pilots=(pilot,))
        assert len(screen.rows) == 4 and len(screen.marked_rows) == 8
        await pilot.press("escape", "slash", *"tier:nomatch", "enter")
        await until(lambda: screen.matching == 0 and "0/12" in str(t().border_title), pilots=(pilot,))
        await pilot.press("q")


async def test_two_attached_consoles_share_triage_and_act_once(service):
    one = GroupWatchApp(await connect_remote(service.socket, read_only=False, session="console"),
                        refresh_seconds=0.2)
    two = GroupWatchApp(await connect_remote(service.socket, read_only=False, session="console"),
                        refresh_seconds=0.2)
    async with one.run_test(size=(100, 30)) as p1, two.run_test(size=(100, 30)) as p2:
        pilots = (p1, p2)
        await until(lambda: one.header is not None and len(one.header.operators) == 2, pilots=pilots)
        assert "also here" in status(one) or len({o.session for o in one.header.operators}) == 2
        await p1.press("2", "v")  # single alerts rather than incidents
        await p2.press("2", "v", "h")  # handled work shown: this console sees the acknowledgement arrive
        table_one = lambda: one.screen.query_one("#table", KeyedTable)  # noqa: E731
        await until(lambda: table_one().row_count > 0 and any(a.kind == "ad" and a.member
                                                            for a in one.screen.data.alerts), pilots=pilots)
        await p1.press("p")  # hold the rows still while we pick one
        await p1.pause(0.3)
        shown = [r.key for r in one.screen.shown]  # the rows on screen (the view may be a refresh ahead)
        ad = next(v for v in (one.screen.by_key.get(k) for k in shown) if v and v.kind == "ad" and v.member)
        table_one().move_cursor(row=shown.index(str(ad.id)))
        await p1.press("c")  # claim: I'm on it
        await until(lambda: any(a.id == ad.id and a.claimed_by for a in two.screen.data.alerts), pilots=pilots)
        await p1.press("a")  # acknowledge
        await until(lambda: any(a.id == ad.id and a.state == "acknowledged" for a in two.screen.data.alerts),
                    pilots=pilots)
        # both moderators blacklist the same member at once: one ban per group reaches the platform
        c1, c2 = one.client, two.client
        r1, r2 = await asyncio.gather(c1.run(Command("blacklist_alerts", [ad.id])),
                                      c2.run(Command("blacklist_alerts", [ad.id])))
        reports = sorted([r1, r2], key=lambda r: r.done)
        # the second finds it taken, or already done with (blacklisting resolves the member's alerts)
        assert reports[0].done == 0 and ("already handled by" in reports[0].errors[0]
                                         or "already resolved by" in reports[0].errors[0])
        assert reports[1].done >= 1 and not reports[1].failed
        await until(lambda: any(c["action"] == "ban" and c["member"] == ad.member for c in service.platform_calls()))
        bans = [c["group"] for c in service.platform_calls() if c["action"] == "ban" and c["member"] == ad.member
                and not c["repeat"]]
        assert bans and len(bans) == len(set(bans))
        await p1.press("q")
        await p2.press("q")


async def test_a_read_only_console_is_refused_without_a_dialog_and_nothing_changes(service):
    viewer = GroupWatchApp(await connect_remote(service.socket, read_only=True, session="console"),
                           refresh_seconds=0.2)
    async with viewer.run_test(size=(100, 30)) as pilot:
        await pilot.press("2")
        await until(lambda: viewer.screen.data is not None and viewer.screen.data.incidents, pilots=(pilot,))
        assert "READ-ONLY" in status(viewer)
        before = await viewer.client.query("audit")
        for key in ("b", "w", "a", "c", "d"):
            await pilot.press(key)
            assert not isinstance(viewer.screen, ConfirmScreen)
        await pilot.pause(0.3)
        assert await viewer.client.query("audit") == before
        await pilot.press("q")


def _as_nobody(sock: str, command: Command, out: int) -> None:
    """In a forked child: become another OS user, then ask the service to act."""
    nobody = pwd.getpwnam("nobody")
    os.setgid(nobody.pw_gid)
    os.setgroups([])
    os.setuid(nobody.pw_uid)

    async def go():
        client = await connect_remote(Path(sock), read_only=False, session="cli test")
        try:
            r = await client.run(command)
            return {"user": client.actor.user, "role": client.actor.role.value, "done": r.done,
                    "refused": r.refused, "message": r.message}
        finally:
            await client.close()

    try:
        result = asyncio.run(go())
    except Exception as e:  # reported to the parent, which fails the test with it
        result = {"error": f"{type(e).__name__}: {e}"}
    os.write(out, json.dumps(result).encode())


@pytest.fixture
async def short_home_service():
    # Another user must reach the socket: a short path (no /proc/self/fd detour, which setuid closes)
    # in a directory they may traverse, unlike pytest's own tmp dir.
    home = Path(tempfile.mkdtemp(prefix="gw-", dir="/tmp"))
    svc = Service(home)
    await svc.start()
    try:
        yield svc
    finally:
        assert svc.stop() == 0
        shutil.rmtree(home, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="becoming another user needs root")
async def test_the_operator_is_the_peer_os_user_with_the_role_config_gives(short_home_service):
    service = short_home_service
    # The team's Unix group may open the socket (mode 0660): here, nobody's group.
    nobody = pwd.getpwnam("nobody")
    for d in (service.home, service.data):
        os.chmod(d, 0o711)
    os.chown(service.socket, -1, nobody.pw_gid)
    assert short_path(service.socket)[1] is None
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(read)
            asyncio.events._set_running_loop(None)  # the parent's loop is not the child's
            _as_nobody(str(service.socket), Command("blacklist_add", ["demo:u3"], {"reason": "spam"}), write)
        finally:
            os._exit(0)
    os.close(write)
    await asyncio.to_thread(os.waitpid, pid, 0)
    answer = json.loads(os.read(read, 65536) or b"{}")
    os.close(read)
    assert "error" not in answer, answer
    assert answer["user"] == "nobody" and answer["role"] == "moderator" and answer["done"] >= 1
    client = await connect_remote(service.socket, read_only=True, session="check")
    try:
        rows = await client.query("blacklist")
        assert [(r.pattern, r.added_by) for r in rows] == [("demo:u3", "nobody")]
        audit = await client.query("audit")
        assert any(e.actor == "nobody" and e.action.startswith("blacklist") for e in audit)
    finally:
        await client.close()


async def test_consoles_reattach_after_the_service_is_killed(service):
    one = GroupWatchApp(await connect_remote(service.socket, read_only=False, session="console"),
                        refresh_seconds=0.2)
    two = GroupWatchApp(await connect_remote(service.socket, read_only=True, session="console"),
                        refresh_seconds=0.2)
    async with one.run_test(size=(80, 24)) as p1, two.run_test(size=(80, 24)) as p2:
        pilots = (p1, p2)
        await until(lambda: one.header is not None and two.header is not None, pilots=pilots)
        service.kill()
        await until(lambda: "service lost" in status(one) and "service lost" in status(two), pilots=pilots)
        await service.start()
        await until(lambda: one.client.lost == "" and two.client.lost == "", timeout=30, pilots=pilots)
        version = one.header.version
        await until(lambda: one.header.version != version and "service lost" not in status(one)
                    and "service lost" not in status(two), pilots=pilots)
        assert len(one.header.operators) == 2
        await p1.press("q")
        await p2.press("q")


async def test_a_subcommand_goes_through_the_service_and_shows_on_an_open_console(service):
    console = GroupWatchApp(await connect_remote(service.socket, read_only=False, session="console"),
                            refresh_seconds=0.2)
    async with console.run_test(size=(100, 30)) as pilot:
        await pilot.press("4")
        await until(lambda: type(console.screen).__name__ == "BlacklistScreen" and console.screen.data is not None,
                    pilots=(pilot,))
        added = await asyncio.to_thread(subprocess.run, [exe(), "blacklist", "add", "demo:u1", "--reason", "spam",
                                                         *DEMO], env=service.env, capture_output=True, text=True,
                                        timeout=60)
        assert added.returncode == 0, added.stderr
        table = console.screen.query_one("#table", KeyedTable)
        await until(lambda: "demo:u1" in [r.key for r in console.screen.shown], pilots=(pilot,))
        assert table.row_count == 1
        listed = await asyncio.to_thread(subprocess.run, [exe(), "blacklist", "list", "--format", "json", *DEMO],
                                         env=service.env, capture_output=True, text=True, timeout=60)
        assert [e["pattern"] for e in json.loads(listed.stdout)] == ["demo:u1"]
        audit = await asyncio.to_thread(subprocess.run, [exe(), "audit", "--format", "json", *DEMO],
                                        env=service.env, capture_output=True, text=True, timeout=60)
        assert any(e.get("action", "").startswith("blacklist") for e in json.loads(audit.stdout))
        await pilot.press("q")
