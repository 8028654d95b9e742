"""``groupwatch watch --headless``: alerts printed as they change, from the service's
``alert_changes`` view.

With the engine in this process (no service serves the data dir) the engine runs
here as before, and the changes are read as they happen, so a seed replays
alike. What was printed is then remembered in the data dir
(``headless-printed.txt``): after a crash the engine replays the events since
its last checkpoint and raises the same alerts again, and those are not printed
a second time.

Attached to a running service, this only follows its changes, until
``--seconds`` of wall time or Ctrl-C: each is read at the next push or poll, so a
record shows the alert as it is then (an alert updated twice in between prints
two records with its latest state). A service restarted under it numbers its
changes from 1 again: seen as the numbering going back, it is followed from its
first change (changes it made before the follower reattached and past the old
position cannot be told apart from ones already printed, and are missed).
"""
from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import sys
from pathlib import Path
from typing import TextIO

from rich.console import Console
from rich.text import Text

from console.engine.durations import iso
from console.engine.text import json_line, visible
from console.service.service import PROGRESS
from console.service.api import AlertChange, AlertChanges, AlertView, NoticeView

SEVERITY_STYLE = {"low": "cyan", "medium": "yellow", "high": "bold red"}
POLL_EVERY = 1.0        # seconds between polls of an attached service when it pushes nothing
START = sys.maxsize     # "since" a cursor beyond any change: only the current position comes back


def alert_record(a: AlertView, change: str) -> dict:
    return {
        "change": change, "id": a.id, "kind": a.kind, "severity": a.severity,
        "group": a.group, "group_name": a.group_name,
        "member": a.member, "member_name": a.member_name,
        "reason": a.reason, "reasons": list(a.reasons), "excerpt": a.excerpt, "score": a.score,
        "numbers": a.numbers, "state": a.state, "at": iso(a.at),
    }


PRINTED_FILE = "headless-printed.txt"
PRINTED_KEEP = 20_000  # fingerprints remembered: far more than one checkpoint interval can replay


def fingerprint(c: AlertChange) -> str:
    """The same for an alert change replayed after a crash (the alert book numbers alerts from the
    checkpoint, and a replayed event raises it with the same id, hits and time)."""
    a = c.alert
    return f"{c.change}|{a.id}|{a.hits}|{a.at!r}|{a.state}"


class Printed:
    """What was printed already, kept in a file in the data dir (one fingerprint a line)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            lines = []
        if len(lines) > PRINTED_KEEP:  # keep the newest half: written whole, then renamed
            lines = lines[-PRINTED_KEEP // 2:]
            tmp = path.with_name(path.name + ".tmp")
            try:
                tmp.write_text("".join(x + "\n" for x in lines), encoding="utf-8")
                os.replace(tmp, path)
            except OSError:
                pass
        self.seen = set(lines)
        try:
            self.file: TextIO | None = open(path, "a", encoding="utf-8")
        except OSError:
            self.file = None  # a read-only data dir: duplicates after a crash are possible, nothing else changes

    def add(self, fp: str) -> None:
        self.seen.add(fp)
        if self.file is not None:
            try:
                self.file.write(fp + "\n")
                self.file.flush()  # in the kernel before the next line: a killed process keeps it
            except OSError:
                self.file = None

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


class Printer:
    def __init__(self, fmt: str, out: TextIO) -> None:
        self.fmt, self.out = fmt, out
        self.printed: Printed | None = None
        self.console = Console(file=out, markup=False, highlight=False, emoji=False, soft_wrap=True)
        self.closed = False  # the reader went away (``| head``): stop instead of failing on every line
        self.on_closed: list = []

    def _write(self, write) -> None:
        if self.closed:
            return
        try:
            write()
        except (BrokenPipeError, SystemExit):  # rich says a broken pipe with SystemExit(1)
            self.closed = True
            for f in self.on_closed:
                f()

    def notice(self, n: NoticeView) -> None:
        if n.actor.startswith(PROGRESS):
            return  # a console's own "blacklist 3/12…": the result follows as its own notice
        line = Text(f"{dt.datetime.fromtimestamp(n.at):%H:%M:%S} action   ", style="bold")
        line.append(visible(n.text, 200))
        self._write(lambda: self.console.print(line))

    def change(self, c: AlertChange) -> None:
        if self.printed is not None:
            fp = fingerprint(c)
            if fp in self.printed.seen:
                return  # printed before a crash; the engine replayed the events that raised it
            self._change(c)
            if not self.closed:
                self.printed.add(fp)
            return
        self._change(c)

    def _change(self, c: AlertChange) -> None:
        a = c.alert
        r = alert_record(a, c.change)
        if self.fmt == "jsonl":
            def write() -> None:
                self.out.write(json_line(r) + "\n")
                self.out.flush()
            self._write(write)
            return
        line = Text()
        line.append(f"{dt.datetime.fromtimestamp(a.at):%H:%M:%S} {visible(c.change, 8):<8} ")
        line.append(f"{a.severity:<6}", style=SEVERITY_STYLE.get(a.severity, ""))
        line.append(f" {visible(a.kind, 13):<13} ")
        line.append(visible(a.group_name or "(fleet)", 40))
        if a.member_name:
            line.append(" / " + visible(a.member_name, 30))
        line.append(": " + visible(a.reason, 200))
        if a.excerpt:
            line.append("  «" + visible(a.excerpt, 120) + "»", style="dim")
        self._write(lambda: self.console.print(line))


class Follower:
    """Reads the ``alert_changes`` view from a cursor and prints what is new."""

    def __init__(self, printer: Printer, err: TextIO) -> None:
        self.printer, self.err = printer, err
        self.since = START

    def take(self, changes: AlertChanges) -> bool:
        """Print a page of changes; False when the service started over (its numbering went back)."""
        if changes.last < self.since and self.since != START:
            self.since = 0  # a restarted service numbers its changes from the start again
            return False
        if changes.missed:
            print("groupwatch: warning: fell behind the service: some alert changes were skipped", file=self.err)
        for c in changes.changes:
            self.printer.change(c)
        self.since = changes.last
        return True


async def watch(at, seconds: float | None, fmt: str, out: TextIO | None = None,
                err: TextIO | None = None) -> bool:
    """Print alert changes through ``at.client``; run the engine too when it is in this process.
    False when the reader closed the output (the caller quietens stdout)."""
    printer = Printer(fmt, out or sys.stdout)
    follower = Follower(printer, err or sys.stderr)
    if fmt == "text":
        at.client.on_push(lambda kind, payload: printer.notice(payload) if kind == "notice" else None)
    if at.runtime is not None:
        printer.on_closed.append(at.runtime.engine.stop)
        printer.printed = Printed(Path(at.runtime.data_dir) / PRINTED_FILE)
        try:
            await _run_engine(at, seconds, follower)
        finally:
            printer.printed.close()
    else:
        await _follow(at, seconds, follower, err or sys.stderr)
    return not printer.closed


async def _run_engine(at, seconds: float | None, follower: Follower) -> None:
    from console.runtime import start

    rt, client = at.runtime, at.client
    engine = rt.engine
    follower.take(client.query_now("alert_changes", since=START))

    def drain(*_: object) -> None:
        # Read at the moment of each change (the views record it first): each alert is printed as
        # it was then, so the same seed prints the same lines.
        follower.take(client.query_now("alert_changes", since=follower.since))

    engine.alerts.subscribe(drain)
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
            # A long poll (Matrix /sync waits up to its timeout for news) must not outlive --seconds:
            # stopping cancels it; the batch it would have brought is fetched again next time.
            loop.call_at(end, engine.stop)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        try:
            loop.add_signal_handler(sig, engine.stop)
        except (NotImplementedError, RuntimeError):
            pass
    await start(rt)
    await engine.run(until)


async def _follow(at, seconds: float | None, follower: Follower, err: TextIO) -> None:
    client = at.client
    loop = asyncio.get_running_loop()
    wake, stop = asyncio.Event(), asyncio.Event()

    def pushed(kind: str, payload: object) -> None:
        if kind == "changed":
            wake.set()
        elif kind == "connection":
            if payload == "lost":
                print("groupwatch: warning: service lost, reconnecting", file=err)
            else:
                print("groupwatch: warning: service back", file=err)
                wake.set()

    client.on_push(pushed)
    follower.printer.on_closed.append(stop.set)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    end = None if seconds is None else loop.time() + seconds
    try:
        follower.take(await client.query("alert_changes", since=START))
        limit = f" for {seconds:g} s" if seconds is not None else ""
        print(f"groupwatch: following the service on {visible(str(at.path))}{limit} (Ctrl-C stops)", file=err,
              flush=True)
        while not stop.is_set():
            left = POLL_EVERY if end is None else min(POLL_EVERY, end - loop.time())
            if left <= 0:
                break
            waiters = [asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stop.wait())]
            try:
                await asyncio.wait(waiters, timeout=left, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waiters:
                    w.cancel()
            wake.clear()
            if client.lost:
                continue
            while not follower.take(await client.query("alert_changes", since=follower.since)):
                pass
        if not client.lost and not stop.is_set():  # what changed in the last moment before the end
            follower.take(await client.query("alert_changes", since=follower.since))
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            try:
                loop.remove_signal_handler(sig)
            except (NotImplementedError, RuntimeError):
                pass
