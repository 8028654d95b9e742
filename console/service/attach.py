"""Finding the service for a data dir: attach to the one serving it, or run the engine here.

Every command goes through a :class:`~console.service.client.Client`. When a service (``groupwatch
serve``, or a console that runs the engine) serves the data dir's socket, the command attaches to
it instead of failing on the data dir's lock; with none, the engine runs in this process behind a
:class:`LocalClient`, with the same views and the same permission checks.
"""
from __future__ import annotations

import os
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterator

from console.service.client import Client, LocalClient

SOCKET_NAME = "groupwatch.sock"
SUN_PATH_MAX = 100  # sockaddr_un holds 108 bytes; leave room for the terminating NUL and slack


def where(config: str | None, data: str | None, *, groups: int | None = None, seed: int | None = None,
          speed: float | None = None) -> Path:
    """The directory a runtime with these options keeps its state in (the demo's own subdirectory)."""
    from console.engine.paths import data_dir
    from console.runtime import demo_dir, load

    settings, _ = load(config, groups=groups, seed=seed, speed=speed)
    base = data_dir(data)
    return demo_dir(base, settings) if settings.is_demo else base


def socket_path(state_dir: Path) -> Path:
    return Path(state_dir) / SOCKET_NAME


def short_path(path: Path) -> tuple[str, int | None]:
    """A path the kernel accepts for a Unix socket. A deep data dir (a test's tmp dir, a long home)
    goes past sockaddr_un's 108 bytes; then the socket is reached through an open descriptor of its
    directory (/proc/self/fd/N/name). Returns the path and the descriptor to close, if one was opened."""
    text = str(path)
    if len(text.encode()) <= SUN_PATH_MAX:
        return text, None
    fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    return f"/proc/self/fd/{fd}/{path.name}", fd


@dataclass
class Attached:
    client: Client
    runtime: object | None  # the Runtime when the engine runs in this process
    service: object | None  # the Service in this process, if any
    path: Path              # the socket path of this data dir (served or not)


def service_options(args) -> dict:
    return dict(groups=getattr(args, "groups", None), seed=getattr(args, "seed", None),
                speed=getattr(args, "speed", None))


async def find(path: Path) -> bool:
    from console.service.remote import find_service

    if not Path(path).parent.is_dir():
        return False  # the data dir is not made yet (a first run): nothing can be serving it
    sock, fd = short_path(path)
    try:
        return await find_service(Path(sock))
    finally:
        if fd is not None:
            os.close(fd)


async def connect_remote(path: Path, *, read_only: bool, session: str) -> Client:
    """Attach to the service on ``path`` (ServiceUnavailable / ProtocolMismatch: one line)."""
    from console.service.remote import RemoteClient

    sock, fd = short_path(path)
    client = RemoteClient(Path(sock), read_only=read_only, session=session)
    try:
        await client.connect()
    except BaseException:
        if fd is not None:
            os.close(fd)
        raise
    return client  # a descriptor opened for a long path stays open: reconnecting goes through it


@asynccontextmanager
async def client_for(args, *, session: str, pace: bool = False, current: bool = True) -> AsyncIterator[Attached]:
    """The client a subcommand uses: the running service's, else an engine opened here (which
    releases the data dir when the block ends). ``current``: poll each connector once first, so a
    command run without a service acts on the groups' present state."""
    read_only = bool(getattr(args, "read_only", False))
    connect = getattr(args, "connect", None)
    path = Path(connect).expanduser() if connect else socket_path(where(args.config, args.data_dir,
                                                                        **service_options(args)))
    if connect or await find(path):
        client = await connect_remote(path, read_only=read_only, session=session)
        try:
            yield Attached(client, None, None, path)
        finally:
            await client.close()
        return
    async with local(args, session=session, pace=pace, current=current) as attached:
        yield attached


def open_here(args, *, pace: bool):
    """The engine's runtime in this process, with what its store said at start printed (before any
    screen takes the terminal)."""
    import sys

    from console.runtime import open_runtime

    rt = open_runtime(args.config, args.data_dir, pace=pace, recover=getattr(args, "recover", False),
                      read_only=getattr(args, "read_only", False), **service_options(args))
    for warning in rt.store.warnings:
        print(f"groupwatch: warning: {warning}", file=sys.stderr)
    return rt


@asynccontextmanager
async def local(args, *, session: str, pace: bool = False, current: bool = True) -> AsyncIterator[Attached]:
    """The engine in this process and a client of it (the caller may also serve its socket)."""
    from console.runtime import first_picture, poll_once
    from console.service.service import Service, os_identity

    rt = open_here(args, pace=pace)
    try:
        if current:
            await first_picture(rt)
            try:
                await poll_once(rt.engine)
            except Exception:  # a connector that cannot answer now: act on what the state knows
                pass
        svc = Service(rt)
        user, groups = os_identity()
        actor = svc.open_session(user, groups, read_only=getattr(args, "read_only", False), session=session)
        client = LocalClient(svc, actor)
        version = svc.version
        try:
            yield Attached(client, rt, svc, socket_path(rt.data_dir))
            if current and svc.version != version:
                # A command changed something: one more poll lets the connectors report the platforms'
                # answers (bans, deletions) before the state is saved on the way out.
                try:
                    await poll_once(rt.engine)
                except Exception:
                    pass
        finally:
            await client.close()
            await svc.stop()
    finally:
        await rt.close_connectors()
        rt.close()
