"""``groupwatch watch --headless``: the engine with alerts printed as they change."""
from __future__ import annotations

import asyncio
import datetime as dt
import signal
import sys
from typing import TextIO

from rich.console import Console
from rich.text import Text

from console.engine.alerts import Alert, Change
from console.engine.durations import iso
from console.engine.engine import Engine
from console.engine.text import json_line, visible
from console.runtime import Runtime, start

SEVERITY_STYLE = {"low": "cyan", "medium": "yellow", "high": "bold red"}


def alert_record(engine: Engine, a: Alert, change: Change) -> dict:
    return {
        "change": change.value, "id": a.id, "kind": a.kind, "severity": a.severity.label,
        "group": a.group, "group_name": engine.group_name(a.group),
        "member": a.member, "member_name": engine.member_name(a.group, a.member),
        "reason": a.reason, "reasons": list(a.reasons), "excerpt": a.excerpt, "score": a.score,
        "numbers": a.numbers, "state": a.state.value, "at": iso(a.at),
    }


class Printer:
    def __init__(self, engine: Engine, fmt: str, out: TextIO) -> None:
        self.engine, self.fmt, self.out = engine, fmt, out
        self.console = Console(file=out, markup=False, highlight=False, emoji=False, soft_wrap=True)

    def notice(self, n) -> None:
        line = Text(f"{dt.datetime.fromtimestamp(n.at):%H:%M:%S} action   ", style="bold")
        line.append(visible(n.text, 200))
        self.console.print(line)

    def __call__(self, a: Alert, change: Change) -> None:
        if self.fmt == "jsonl":
            self.out.write(json_line(alert_record(self.engine, a, change)) + "\n")
            self.out.flush()
            return
        r = alert_record(self.engine, a, change)
        line = Text()
        line.append(f"{dt.datetime.fromtimestamp(a.at):%H:%M:%S} {change.value:<8} ")
        line.append(f"{a.severity.label:<6}", style=SEVERITY_STYLE[a.severity.label])
        line.append(f" {a.kind:<13} ")
        line.append(visible(r["group_name"] or "(fleet)", 40))
        if r["member_name"]:
            line.append(" / " + visible(r["member_name"], 30))
        line.append(": " + visible(a.reason, 200))
        if a.excerpt:
            line.append("  «" + visible(a.excerpt, 120) + "»", style="dim")
        self.console.print(line)


async def watch(rt: Runtime, seconds: float | None, fmt: str, out: TextIO = sys.stdout) -> None:
    engine = rt.engine
    printer = Printer(engine, fmt, out)
    engine.alerts.subscribe(printer)
    if fmt == "text":
        rt.moderation.listeners.append(printer.notice)
    loop = asyncio.get_running_loop()
    until = None
    if seconds is not None:
        if rt.demo is not None:
            # Demo time is simulated: stop after exactly ``seconds`` of it so that a seed replays alike.
            end = rt.demo.now() + seconds * rt.settings.demo.speed
            until = lambda: rt.demo.now() >= end  # noqa: E731
        else:
            end = loop.time() + seconds
            until = lambda: loop.time() >= end  # noqa: E731
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        try:
            loop.add_signal_handler(sig, engine.stop)
        except (NotImplementedError, RuntimeError):
            pass
    await start(rt)
    await engine.run(until)
