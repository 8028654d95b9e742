"""``groupwatch web``: the console in a browser through textual-serve, loopback by default, and
nothing fetched from outside (the page's web-font link is replaced by the fonts the package ships)."""
from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from console.cli import parser
from console.commands import web

GROUPWATCH = Path(sys.executable).parent / "groupwatch"
aiohttp = pytest.importorskip("aiohttp")


def args(*argv: str) -> argparse.Namespace:
    return parser().parse_args(["web", *argv])


def test_loopback_by_default_and_a_warning_for_another_host():
    a = args()
    assert a.host == "127.0.0.1" and a.port == 8000 and web.warning(a) is None
    assert web.is_loopback("localhost") and web.is_loopback("::1") and web.is_loopback("127.0.0.2")
    assert "not loopback" in web.warning(args("--host", "0.0.0.0"))
    assert web.warning(args("--host", "0.0.0.0", "--public")) is None


def test_each_tab_runs_this_groupwatch_with_the_options_given():
    cmd = web.console_command(args("--data-dir", "/tmp/x y", "--read-only", "--seed", "3"))
    assert cmd.startswith(f"{sys.executable} -m groupwatch_main") or sys.executable in cmd
    assert "'/tmp/x y'" in cmd and "--read-only" in cmd and "--seed 3" in cmd


def test_the_page_fetches_nothing_from_outside():
    page = (web.TEMPLATES / "app_index.html").read_text()
    assert not re.search(r"(src|href)=\"https?://", page), "an outside URL in the page"
    assert "fonts/RobotoMono" in page


def test_a_bad_port_is_one_line():
    r = subprocess.run([str(GROUPWATCH), "web", "--port", "0"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and r.stderr.strip() == "groupwatch: error: --port must be 1-65535"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not GROUPWATCH.exists(), reason="the groupwatch console script is not installed")
def test_the_browser_gets_the_page_and_a_live_console_over_the_websocket(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "GROUPWATCH_HOME")}
    env["GROUPWATCH_CONFIG"] = str(tmp_path / "none.toml")
    proc = subprocess.Popen([str(GROUPWATCH), "web", "--data-dir", str(tmp_path / "data"), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, start_new_session=True)
    try:
        asyncio.run(_browse(port))
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


async def _browse(port: int) -> None:
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as session:
        deadline = time.monotonic() + 30
        while True:
            try:
                async with session.get(base + "/") as r:
                    page = await r.text()
                    break
            except aiohttp.ClientError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
        assert "textual.js" in page and "googleapis" not in page
        async with session.get(base + "/static/js/textual.js") as r:
            assert r.status == 200  # packaged, served from here
        got = b""
        async with session.ws_connect(f"ws://127.0.0.1:{port}/ws?width=80&height=24") as ws:
            deadline = time.monotonic() + 60
            while not (b"DEMO" in got and b"Groups" in got):
                assert time.monotonic() < deadline, got[-500:]
                try:
                    msg = await asyncio.wait_for(ws.receive(), 5)
                except asyncio.TimeoutError:
                    continue
                if msg.type == aiohttp.WSMsgType.BINARY:
                    got += msg.data
                elif msg.type == aiohttp.WSMsgType.TEXT:
                    got += msg.data.encode()
                else:
                    raise AssertionError(f"websocket closed: {msg.type}")
