"""End to end in tmux at 80x24: `groupwatch serve` in one pane, two consoles attached in two others;
a key pressed in one console shows in the other, and everything exits cleanly."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

GROUPWATCH = Path(sys.executable).parent / "groupwatch"
TMUX = shutil.which("tmux")
pytestmark = [pytest.mark.skipif(TMUX is None, reason="tmux is not installed (apt-get install tmux)"),
              pytest.mark.skipif(not GROUPWATCH.exists(), reason="groupwatch is not installed in this venv")]
DEMO = ["--groups", "12", "--seed", "5", "--speed", "1200"]


class Tmux:
    def __init__(self, tmp_path: Path) -> None:
        self.name = f"gw-e2e-svc-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.conf = tmp_path / "tmux.conf"
        self.conf.write_text("set -g status off\nset -g default-terminal xterm-256color\n")
        drop = ("TMUX", "TMUX_PANE", "NO_COLOR", "COLORTERM")
        self.env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("TEXTUAL")}
        self.env.update(GROUPWATCH_HOME=str(tmp_path / "data"), GROUPWATCH_CONFIG=str(tmp_path / "none.toml"),
                        LANG="C.UTF-8")

    def __call__(self, *args: str) -> str:
        r = subprocess.run([TMUX, "-L", self.name, "-f", str(self.conf), *args], capture_output=True, text=True,
                           env=self.env, timeout=20)
        if r.returncode != 0:
            raise AssertionError(f"tmux {' '.join(args)}: {r.stderr.strip()}")
        return r.stdout

    def pane(self, name: str, *command: str) -> None:
        shell = " ".join(command) + "; echo EXITED:$?; sleep 60"
        if not self._started:
            self("new-session", "-d", "-s", "gw", "-n", name, "-x", "80", "-y", "24", "bash", "-c", shell)
            self._started = True
        else:
            self("new-window", "-t", "gw", "-n", name, "bash", "-c", shell)

    _started = False

    def screen(self, name: str) -> str:
        return self("capture-pane", "-p", "-t", f"gw:{name}")

    def keys(self, name: str, *keys: str) -> None:
        self("send-keys", "-t", f"gw:{name}", *keys)

    def wait(self, name: str, what: str, cond, timeout: float = 30.0) -> str:
        test = (lambda s: cond in s) if isinstance(cond, str) else cond
        end = time.monotonic() + timeout
        while True:
            s = self.screen(name)
            if test(s):
                return s
            if time.monotonic() > end:
                raise AssertionError(f"{name}: {what} not on screen after {timeout:g} s:\n{s}")
            time.sleep(0.1)

    def close(self) -> None:
        subprocess.run([TMUX, "-L", self.name, "kill-server"], capture_output=True, timeout=20)


def rows(screen: str) -> list[str]:
    """The table's lines with something in them: a blank line inside the box is not a row."""
    return [line for line in screen.splitlines() if re.match(r"^│\s+[^\s│]", line) and "│" in line[1:]]


def test_serve_and_two_consoles_in_tmux_see_each_others_keys(tmp_path):
    t = Tmux(tmp_path)
    try:
        t.pane("serve", str(GROUPWATCH), "serve", *DEMO)
        t.wait("serve", "serving the socket", "serving")
        t.pane("one", str(GROUPWATCH), *DEMO)
        t.pane("two", str(GROUPWATCH), *DEMO)
        for name in ("one", "two"):
            t("resize-window", "-t", f"gw:{name}", "-x", "80", "-y", "24")
            t.wait(name, "the groups table under the DEMO header",
                   lambda s: len(rows(s)) >= 10 and "DEMO" in (s.splitlines() or [""])[0])
        t.wait("one", "the other console in the header", "also here")
        t.keys("one", "2")
        t.keys("two", "2")
        t.wait("one", "alerts", lambda s: "─ Incidents · " in s and len(rows(s)) >= 3)  # the title, not the screen bar
        t.keys("one", "p")  # hold one's rows still: the cursor stays on the alert it claims
        first = rows(t.screen("one"))[1]
        t.keys("one", "c")
        t.keys("one", "p")  # live again: the claimed incident stays in sight, state clm
        t.wait("one", "the claim shown", lambda s: " clm " in s or "claimed by" in s
               or re.search(r"claim: (\d+)/\1 done", s) is not None)
        # the other console shows the claim: its state column says clm, its detail pane says who
        s = t.wait("two", "the claim made in console one", lambda s: " clm " in s or "claimed by" in s)
        assert "clm" in s or "claimed by" in s
        t.keys("one", "q")
        t.keys("two", "q")
        t.wait("one", "exit", "EXITED:0")
        t.wait("two", "exit", "EXITED:0")
        pid = int((next((tmp_path / "data").glob("demo-*")) / "lock").read_text().split()[0])
        os.kill(pid, 15)
        t.wait("serve", "a clean exit on SIGTERM", "EXITED:0")
        assert first  # a row was there to claim
    finally:
        t.close()
