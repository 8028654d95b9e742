"""``groupwatch web``: the same console in a browser, through textual-serve, for those not on a terminal.

Each browser tab runs its own ``groupwatch`` console (with the options given here) in a subprocess
and sees it through a websocket; consoles attach to the data dir's service like any other, so the
tab's operator is the OS user running ``groupwatch web``. Loopback by default: anyone who can open the
page acts as that user, so another host is served only with a warning. Nothing is fetched from
outside: the page is textual-serve's own, less its web-font link (see console/web/app_index.html).
"""
from __future__ import annotations

import argparse
import ipaddress
import shlex
import sys
from pathlib import Path

from console.commands import EXIT_USAGE, common_options, error

TEMPLATES = Path(__file__).resolve().parent.parent / "web"


def add_parser(sub) -> None:
    p = sub.add_parser("web", help="serve the console to a browser (textual-serve), on 127.0.0.1 by default",
                       description="The same console in a browser tab. Each tab is a console attached to "
                                   "this data dir's service (or running the engine, like groupwatch).")
    common_options(p)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--public", action="store_true",
                   help="listen on a non-loopback --host without the warning (anyone reaching it acts as you)")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def console_command(args: argparse.Namespace) -> str:
    """The command each browser tab runs: this groupwatch, with the options given to ``web``."""
    argv = [sys.executable, "-m", "groupwatch_main"]
    for flag in ("config", "data_dir", "connect", "seed", "speed", "groups"):
        value = getattr(args, flag, None)
        if value is not None:
            argv += [f"--{flag.replace('_', '-')}", str(value)]
    for flag in ("read_only", "recover"):
        if getattr(args, flag, False):
            argv.append(f"--{flag.replace('_', '-')}")
    return shlex.join(argv)


def warning(args: argparse.Namespace) -> str | None:
    if is_loopback(args.host) or args.public:
        return None
    return (f"groupwatch: warning: serving on {args.host}:{args.port}, not loopback: anyone who can reach it "
            "gets a console acting as you (no login). Prefer an SSH tunnel to 127.0.0.1; --public silences this.")


def run(args: argparse.Namespace) -> int:
    if not 1 <= args.port <= 65535:
        print("groupwatch: error: --port must be 1-65535", file=sys.stderr)
        return EXIT_USAGE
    try:
        from textual_serve.server import Server
    except ImportError:
        return error("groupwatch web needs textual-serve: pip install textual-serve")
    note = warning(args)
    if note:
        print(note, file=sys.stderr)
    server = Server(console_command(args), host=args.host, port=args.port, title="groupwatch",
                    templates_path=TEMPLATES)
    server.serve()
    return 0
