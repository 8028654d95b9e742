"""Subcommands kept out of ``console/cli.py``: each module has ``add_parser(sub)``
and ``run(args, open_rt) -> int`` (``open_rt()`` returns an opened Runtime that
the caller closes).

Shared here: the global options every subcommand repeats, and the one-line
error convention (``groupwatch: error: ...`` on stderr, exit 2).
"""
from __future__ import annotations

import argparse
import sys
from typing import TextIO

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
    g = p.add_argument_group("demo (used when no connector is configured)")
    g.add_argument("--seed", type=int, default=d, help="simulation seed (default 7)")
    g.add_argument("--speed", type=float, default=d, help="simulated seconds per real second (default 60)")
    g.add_argument("--groups", type=int, default=d, help="number of simulated groups, 1-2000 (default 40)")


def error(message: str, err: TextIO | None = None) -> int:
    """Print the one-line error and return the usage exit code."""
    line = " ".join(str(message).split())
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
