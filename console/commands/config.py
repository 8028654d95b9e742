"""``groupwatch config check``: validate the config, then probe each connector.

Validation is the same as at startup (the file, then each ``[[connector]]``
table's options and secrets, without network I/O). The probe then asks every
connector, concurrently and each within ``--timeout`` seconds, who it is
logged in as and which groups it sees. Everything printed is scrubbed of the
secrets read and neutralised (group names come from strangers).

When a groupwatch service serves this config's data dir (or ``--connect``
names one), its connectors are not probed a second time (Telegram allows one
reader per token): the service's own connector health is printed instead.

Exit status: 0 when the file is valid and every probe answered (or every
connector of the running service is healthy), 1 when some probe failed (or a
connector of the service is down), 2 for a config error.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass, field
from typing import TextIO

from console.commands import EXIT_USAGE, Connect, common_options

EXIT_PROBE_FAILED = 1
PROBE_TIMEOUT = 10.0
CLOSE_TIMEOUT = 5.0  # seconds a probed connector gets to close its sessions
MAX_LINE = 300  # a probe line (names chosen by strangers) is cut there


def add_parser(sub) -> None:
    c = sub.add_parser("config", help="configuration")
    csub = c.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    cc = csub.add_parser("check", help="validate the config file (naming any bad key and line), "
                                       "then probe each connector")
    common_options(cc)
    cc.add_argument("--no-probe", action="store_true", help="validate only: no network access")
    cc.add_argument("--timeout", type=float, default=PROBE_TIMEOUT, metavar="SECONDS",
                    help=f"how long each connector's probe may take (default {PROBE_TIMEOUT:g})")


@dataclass(slots=True)
class ProbeResult:
    name: str
    ok: bool
    lines: list[str] = field(default_factory=list)
    reason: str = ""


def run(args: argparse.Namespace, connect: Connect | None = None, out: TextIO | None = None,
        err: TextIO | None = None, environ=None) -> int:
    from console.engine.config import ConfigError, build_connectors, load_settings
    from console.engine.paths import config_path

    out, err = out or sys.stdout, err or sys.stderr
    if not args.timeout > 0:
        return _errors(["--timeout must be above 0"], err)
    path = config_path(args.config)
    if not path.exists():
        if args.config:
            return _errors([f"{path}: no such file"], err)
        print(f"no config at {path}: groupwatch runs the built-in demo", file=out)
        return _connected(args, out, err)
    try:
        settings = load_settings(path, must_exist=True)
        connectors = build_connectors(settings.connectors, environ)
    except ConfigError as e:
        return _errors(e.problems, err)
    if settings.routes:
        from console.oncall.receivers import check_urls

        problems = check_urls(settings.routes, environ)  # secrets readable now, URLs Apprise knows
        if problems:
            asyncio.run(_close(connectors))
            return _errors([f"{path}: {p}" for p in problems], err)
        print(_safe(f"{path}: {len(settings.routes)} on-call route(s): "
                    f"{', '.join(r.name for r in settings.routes)}"), file=out)
    if not connectors:
        print(f"{path}: ok; no connectors: groupwatch runs the built-in demo", file=out)
        return _connected(args, out, err)
    types = {c.name: cs.type for cs, c in zip(settings.connectors, connectors)}  # built in table order
    listed = ", ".join(f"{c.name} ({types[c.name]})" for c in connectors)
    print(_safe(f"{path}: ok; {len(connectors)} connector(s): {listed}"), file=out)
    if args.no_probe:
        asyncio.run(_close(connectors))
        print("not probed (--no-probe)", file=out)
        return 0
    code = _from_service(args, types, out, err, connectors)
    if code is not None:
        return code
    results = asyncio.run(probe_all(connectors, args.timeout))
    for r in results:
        head = f"{r.name} ({types[r.name]}): "
        if r.ok:
            print(_safe(head + "ok"), file=out)
            for line in r.lines:
                print("    " + _safe(line, MAX_LINE), file=out)
        else:
            print(_safe(head) + "FAILED: " + _safe(r.reason, MAX_LINE), file=out)
    failed = sum(not r.ok for r in results)
    if failed:
        print(f"{failed} of {len(results)} connector(s) failed the probe", file=out)
        return EXIT_PROBE_FAILED
    return 0


def _connected(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """No connector of its own to probe: with --connect, still the health of that service's."""
    if not getattr(args, "connect", None) or args.no_probe:
        return 0
    code = _from_service(args, {}, out, err, [])
    return 0 if code is None else code


def _from_service(args: argparse.Namespace, types: dict, out: TextIO, err: TextIO, connectors) -> int | None:
    """When a service runs (or --connect names one): its connectors' health, and the exit code; None
    when none runs (the caller probes here)."""
    try:
        health = asyncio.run(service_health(args))
    except Exception as e:
        if getattr(args, "connect", None):  # asked for that service: say why it cannot be reached
            asyncio.run(_close(connectors))
            return _errors([str(e) or type(e).__name__], err)
        print("groupwatch: warning: " + _safe(f"the running service did not answer ({e}); probing here"),
              file=err)
        return None
    if health is None:
        return None
    asyncio.run(_close(connectors))  # unused: the service's own are the ones that count
    where, views = health
    print(_safe(f"a groupwatch service is running on {where}: its connectors' health (not probed again)"),
          file=out)
    down = 0
    for v in views:
        state = "ok" if v.state == "ok" else v.state.upper()
        kind = f" ({types[v.name]})" if v.name in types else ""
        line = f"{v.name}{kind}: {state}" + (f": {v.reason}" if v.reason else "")
        print(_safe(line, MAX_LINE), file=out)
        down += v.state == "down"
    if down:
        print(f"{down} of {len(views)} connector(s) down in the service", file=out)
        return EXIT_PROBE_FAILED
    return 0


async def service_health(args: argparse.Namespace) -> tuple[str, list] | None:
    """The connectors view of the service serving this config's data dir (or ``--connect``), or None
    when none runs."""
    from pathlib import Path

    from console.service import attach

    connect = getattr(args, "connect", None)
    if connect:
        path = Path(connect).expanduser()
    else:
        path = attach.socket_path(attach.where(args.config, getattr(args, "data_dir", None),
                                               **attach.service_options(args)))
        try:
            running = await attach.find(path)
        except ImportError:  # no socket transport in this install: nothing can be running
            return None
        if not running:
            return None
    client = await attach.connect_remote(path, read_only=True, session="cli config check")
    try:
        return str(path), list(await client.query("connectors"))
    finally:
        await client.close()


async def probe_all(connectors, timeout: float) -> list[ProbeResult]:
    """Probe every connector concurrently, each within ``timeout`` seconds, then close them all."""
    try:
        return list(await asyncio.gather(*(probe_one(c, timeout) for c in connectors)))
    finally:
        await _close(connectors)


async def probe_one(conn, timeout: float) -> ProbeResult:
    from connectors.contract import ConnectorError

    try:
        lines = await asyncio.wait_for(_probe(conn), timeout)
    except (asyncio.TimeoutError, TimeoutError):
        return ProbeResult(conn.name, False, reason=f"no answer within {timeout:g} s")
    except ConnectorError as e:
        return ProbeResult(conn.name, False, reason=_first_line(e) or type(e).__name__)
    except Exception as e:  # a connector bug must still leave a readable report for the others
        return ProbeResult(conn.name, False, reason=f"{type(e).__name__}: {_first_line(e)}")
    return ProbeResult(conn.name, True, [str(line) for line in lines])


async def _probe(conn) -> list[str]:
    return list(await conn.probe())


async def _close(connectors) -> None:
    """Close the connectors built here for the probe, each within a few seconds; a failure to close
    never hides the report."""
    async def close(conn) -> None:
        try:
            await asyncio.wait_for(conn.close(), CLOSE_TIMEOUT)
        except Exception:  # noqa: BLE001 - closing is best effort; the process ends anyway
            pass

    await asyncio.gather(*(close(c) for c in list(connectors)))


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else ""


def _safe(text: str, limit: int | None = None) -> str:
    """One inert terminal line without any secret read by this process."""
    from connectors.secrets import scrub
    from console.engine.text import visible

    return visible(scrub(text), limit)


def _errors(problems: list[str], err: TextIO) -> int:
    for p in problems:
        print("groupwatch: error: " + _safe(p), file=err)
    return EXIT_USAGE
