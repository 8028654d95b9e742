"""``groupwatch serve``: the engine as a service, watching and acting 24/7 with no console open.

It runs the connectors, detectors, automatic moderation (blacklist re-enforcement, escalation,
welcome), schedules and checkpoints until SIGTERM or SIGINT, then saves and exits cleanly.
Consoles and subcommands attach to it through the data dir's socket (mode 0660: the Unix group
that may open it is the moderation team); the peer's OS user is the operator.

Also here: the console's own start (``console``), which attaches to the service serving the data
dir, or runs the engine in its own process and serves the same socket.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from console.commands import EXIT_USAGE, common_options, error

log = logging.getLogger("groupwatch.serve")


def add_parser(sub) -> None:
    p = sub.add_parser("serve", help="run the engine as a service until SIGTERM; consoles attach to it",
                       description="Watch and act with no console open. Consoles (groupwatch) and "
                                   "subcommands on this data dir attach to it through its socket.")
    common_options(p)


def run(args: argparse.Namespace) -> int:
    from console import logs
    from console.service.attach import find, open_here, socket_path, where

    if getattr(args, "connect", None):
        return error("serve runs a service; --connect attaches to one: leave it out")
    path = socket_path(where(args.config, args.data_dir, groups=getattr(args, "groups", None),
                             seed=getattr(args, "seed", None), speed=getattr(args, "speed", None)))
    if asyncio.run(find(path)):
        return error(f"a groupwatch service already serves {path}: attach with groupwatch")
    rt = open_here(args, pace=True)
    log_path = logs.to_file(rt.data_dir)
    try:
        return asyncio.run(_serve(rt, socket_path(rt.data_dir), log_path))
    finally:
        rt.close()


async def _serve(rt, path: Path, log_path: Path) -> int:
    import os

    from console.runtime import start
    from console.service.attach import short_path
    from console.service.server import SocketPathError, serve
    from console.service.service import Service

    svc = Service(rt)
    sock, fd = short_path(path)
    try:
        server = await serve(svc, Path(sock))
    except SocketPathError as e:
        await rt.close_connectors()
        return error(str(e))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(sig, stop.set)
    label = " (DEMO: simulated groups)" if rt.is_demo else ""
    print(f"groupwatch: serving {path}{label}; log in {log_path}; SIGTERM or ctrl+c stops", file=sys.stderr,
          flush=True)
    log.warning("service started on %s%s (pid %d)", path, label, os.getpid())
    await start(rt)
    svc.start()
    engine = loop.create_task(rt.engine.run())
    stopped = loop.create_task(stop.wait())
    try:
        done, _ = await asyncio.wait({engine, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if engine in done and engine.exception() is not None:
            log.error("the engine stopped: %s", engine.exception())
            return 1
    finally:
        rt.engine.stop()
        stopped.cancel()
        try:
            await asyncio.wait_for(server.close(), 10)
        except (asyncio.TimeoutError, TimeoutError):
            pass
        await svc.stop()
        try:
            await asyncio.wait_for(engine, 10)
        except (asyncio.TimeoutError, TimeoutError, asyncio.CancelledError):
            engine.cancel()
        except Exception:
            pass
        await rt.close_connectors()
        if fd is not None:
            os.close(fd)
        log.warning("service stopped")
    return 0


def console(args: argparse.Namespace) -> int:
    """The console: attached to the service serving this data dir (or ``--connect PATH``), else
    with the engine in this process, serving the same socket for other consoles and commands."""
    from console.service.attach import find, socket_path, where
    from console.service.wire import ServiceUnavailable

    connect = getattr(args, "connect", None)
    if connect:
        path = Path(connect).expanduser()
    else:
        path = socket_path(where(args.config, args.data_dir, groups=getattr(args, "groups", None),
                                 seed=getattr(args, "seed", None), speed=getattr(args, "speed", None)))
    if connect or asyncio.run(find(path)):
        try:
            return asyncio.run(_attached(path, bool(getattr(args, "read_only", False))))
        except ServiceUnavailable as e:
            return error(str(e))
    return _in_process(args)


async def _attached(path: Path, read_only: bool) -> int:
    from console import logs
    from console.app import GroupWatchApp
    from console.service.attach import connect_remote

    import platformdirs

    client = await connect_remote(path, read_only=read_only, session="console")
    # The console owns the terminal: nothing may print over it. The service's data dir may not be
    # this user's to write, so an attached console logs in its user's own state dir.
    mine = platformdirs.user_state_path("groupwatch")
    mine.mkdir(parents=True, exist_ok=True)
    logs.to_file(mine)
    try:
        await GroupWatchApp(client, where=str(path)).run_async()
    finally:
        await client.close()
    return 0


def _in_process(args: argparse.Namespace) -> int:
    from console import logs
    from console.app import run_console
    from console.service.attach import open_here

    rt = open_here(args, pace=True)
    logs.to_file(rt.data_dir)  # the console owns the terminal: nothing may print over it
    try:
        run_console(rt, serve_socket=True)
    finally:
        rt.close()
    return 0


__all__ = ["EXIT_USAGE", "add_parser", "console", "run"]
