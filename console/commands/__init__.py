"""Subcommands kept out of ``console/cli.py``: each module has ``add_parser(sub)``
and ``run(args, connect=None) -> int``.

Every subcommand goes through the service API: ``connect(args, session=...)`` is
an async context manager yielding an ``Attached`` (``console.service.attach.client_for``
by default: the running service's client, else the engine opened in this process),
and the command only calls ``at.client.query(...)`` and ``at.client.run(Command(...))``.
Who may change what (read-only, roles) is decided by the service alone: a refused
command comes back as a ``Report`` with ``refused=True`` and is printed as one
error line.

Shared here: the global options every subcommand repeats, and the one-line
error convention (``groupwatch: error: ...`` on stderr, exit 2).
"""
from __future__ import annotations

import argparse
import sys
from typing import Any, Callable, TextIO

EXIT_USAGE = 2
EXIT_PARTIAL = 1  # the command ran, but some platform actions failed


def add_parsers(sub) -> None:
    """Add the blacklist and audit subcommands to ``sub`` (from ``add_subparsers``)."""
    from console.commands import audit, blacklist

    blacklist.add_parser(sub)
    audit.add_parser(sub)


# Like ``_common``/``_demo_options`` in cli.py: subcommands repeat the global
# options so they can go either side of the command; SUPPRESS keeps an unset
# subcommand option from erasing the global one.
def common_options(p: argparse.ArgumentParser) -> None:
    d = argparse.SUPPRESS
    p.add_argument("--config", metavar="FILE", default=d,
                   help="TOML config (default: groupwatch.toml in the user config dir)")
    p.add_argument("--data-dir", metavar="DIR", default=d,
                   help="state directory (default: $GROUPWATCH_HOME or the user data dir)")
    p.add_argument("--recover", action="store_true", default=d,
                   help="if a state file is damaged, set it aside and start from the last good copy")
    p.add_argument("--read-only", action="store_true", default=d,
                   help="watch only: every action is refused with a message")
    p.add_argument("--connect", metavar="PATH", default=d,
                   help="attach to the groupwatch service listening on this socket (e.g. one forwarded "
                        "over SSH) instead of the data dir's")
    g = p.add_argument_group("demo (used when no connector is configured)")
    g.add_argument("--seed", type=int, default=d, help="simulation seed (default 7)")
    g.add_argument("--speed", type=float, default=d, help="simulated seconds per real second (default 60)")
    g.add_argument("--groups", type=int, default=d, help="number of simulated groups, 1-2000 (default 40)")


Connect = Callable[..., Any]
"""``connect(args, session=..., pace=..., current=...)``: an async context manager yielding an Attached."""


def connector(connect: Connect | None) -> Connect:
    if connect is not None:
        return connect
    from console.service.attach import client_for

    return client_for


class Refusal(Exception):
    """A command the service refused or could not do: its one-line message, exit 2."""


def check(report) -> None:
    """Raise :class:`Refusal` for a refused report (not allowed, or not valid: nothing was done)."""
    if report.refused:
        raise Refusal(report.message or f"{report.command} refused")


def counts(report) -> str:
    """'8/8 done, 1 failed': a report's numbers, without its message."""
    return report.counts()


def service_errors() -> tuple[type[BaseException], ...]:
    """The exceptions that mean "the service said no" or "no service": each a one-line message."""
    from console.engine.actions.model import ActionError, ReadOnlyError
    from console.service.api import ServiceError

    out: list[type[BaseException]] = [ActionError, ReadOnlyError, ServiceError, Refusal]
    try:
        from console.service import wire
    except ImportError:  # the socket transport is not installed: only in-process engines then
        return tuple(out)
    out += [getattr(wire, n) for n in ("ServiceUnavailable", "ServiceLost", "ProtocolError")
            if isinstance(getattr(wire, n, None), type)]
    return tuple(out)


def error(message: str, err: TextIO | None = None) -> int:
    """Print the one-line error and return the usage exit code."""
    from console.engine.text import visible

    line = visible(" ".join(str(message).split()), 1000)
    print(f"groupwatch: error: {line}", file=err or sys.stderr)
    return EXIT_USAGE


def terminal_safe(text: str) -> str:
    """Machine output (CSV) headed for a terminal: every line made inert with ``visible``."""
    from console.engine.text import visible

    return "\n".join(visible(line) for line in text.split("\n"))


def write_stdout(text: str, out: TextIO | None = None, *, inert_on_tty: bool = False) -> None:
    out = out or sys.stdout
    if inert_on_tty and _isatty(out):
        text = terminal_safe(text)
    out.write(text)
    out.flush()


def _isatty(f: TextIO) -> bool:
    try:
        return f.isatty()
    except (AttributeError, ValueError):
        return False


def run_async(main) -> int:
    """Run a command's coroutine; what the service refuses, or a service that cannot be reached,
    is one error line and exit 2."""
    import asyncio

    errors = service_errors()
    try:
        return asyncio.run(main)
    except errors as e:
        text = str(e).strip("'\"") if isinstance(e, KeyError) else str(e)
        return error(text or type(e).__name__)
