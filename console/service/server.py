"""The service's Unix socket: consoles and subcommands attach here (websockets, JSON text frames).

One :class:`_Connection` per peer. Its identity comes from the kernel (``peer``), never from a
frame. Requests run as tasks, so a slow command never holds up a query. Whatever the service
pushes goes into a small per-connection outbox that never blocks the engine: ``changed`` keeps
only the latest version, and when notices pile up past :data:`MAX_NOTICES` (a stuck console)
they are dropped and the console is told to ``resync`` instead. A bad frame gets an error answer;
nothing a peer sends reaches another connection.

The messages (see also ``remote``)::

    -> {"op": "hello", "protocol": 1, "version": "0.1.0", "read_only": false, "session": "console"}
    <- {"op": "welcome", "protocol": 1, "version": "0.1.0", "actor": <Actor>, "state": 42}
    -> {"id": 1, "op": "query", "name": "groups", "params": {}}
    -> {"id": 2, "op": "run", "command": <Command>}
    <- {"id": 1, "result": ...}            {"id": 2, "error": "one line"}
    <- {"op": "changed", "version": 43}    {"op": "notice", "notice": <NoticeView>}
    <- {"op": "resync", "version": 44, "dropped": 300}
    <- {"op": "error", "error": "one line"}   (a frame that had no usable id)
"""
from __future__ import annotations

import asyncio
import collections
import logging
import os
import socket
import stat
import threading
from pathlib import Path
from typing import Any, Callable, Protocol

from websockets.asyncio.server import Server, ServerConnection, unix_serve
from websockets.exceptions import ConnectionClosed

import console
from console.engine.text import visible
from console.service import wire
from console.service.api import PROTOCOL, Actor, Command, Refused, ServiceError
from console.service.peer import Peer, PeerUnknown, identify
from console.service.remote import find_service, shown

log = logging.getLogger("groupwatch.service")
# websockets logs every connection at INFO; ours says who it was, so its own go only at WARNING.
_ws_log = logging.getLogger("groupwatch.service.socket")
_ws_log.setLevel(logging.WARNING)

MAX_FRAME = 1 << 20      # 1 MiB: the largest request is a blacklist import; answers go the other way
MAX_IN_FLIGHT = 32       # requests of one connection not yet answered
MAX_NOTICES = 256        # queued notices per connection before they are dropped for a resync
MAX_QUEUED_ANSWERS = 64  # past this, stop reading the peer's frames until it reads our answers
HELLO_TIMEOUT = 10.0     # a peer that connects and never says hello holds a socket for nothing
COMMAND_GRACE = 10.0     # on close, how long running commands may finish (their ledger entries too)
MAX_ID = 2 ** 53         # ids a JavaScript-ish client could also count to
MAX_NAME = 64
FORGED = ("user", "role", "actor", "uid", "gid", "groups")  # what a peer may try to say about itself
QUERY_KEYS = frozenset({"id", "op", "name", "params"})
RUN_KEYS = frozenset({"id", "op", "command"})


class ServiceLike(Protocol):
    """What the socket needs of ``console.service.service.Service``."""
    version: int

    def open_session(self, user: str, groups: list[str], *, read_only: bool, session: str) -> Actor: ...
    def close_session(self, actor: Actor) -> None: ...
    async def query(self, actor: Actor, name: str, params: dict) -> object: ...
    async def execute(self, actor: Actor, cmd: Command) -> object: ...
    def subscribe(self, listener: Callable[[str, object], None]) -> Callable[[], None]: ...


class SocketPathError(Exception):
    """The socket path cannot be served (one line naming it)."""


class ServiceRunning(SocketPathError):
    """Another service already answers on the socket path."""


def _one_line(e: BaseException | str, limit: int = 300) -> str:
    return visible(" ".join(str(e).split()), limit) or type(e).__name__


def _error(rid: int | None, text: str) -> str:
    head: dict[str, Any] = {"op": "error"} if rid is None else {"id": rid}
    return wire.dumps({**head, "error": _one_line(text)})


class _Connection:
    def __init__(self, server: SocketServer, ws: ServerConnection, peer: Peer) -> None:
        self.server = server
        self.service = server.service
        self.ws = ws
        self.peer = peer
        self.actor: Actor | None = None
        self.answers: collections.deque[tuple[int | None, str]] = collections.deque()
        self.notices: collections.deque[str] = collections.deque()
        self.changed: int | None = None
        self.dropped = 0            # notices dropped since the last resync was sent
        self.resync = False
        self.pending: set[int] = set()   # request ids whose answer is not written yet
        self.tasks: set[asyncio.Task] = set()
        self.close_after: tuple[int, str] | None = None
        self.wake = asyncio.Event()
        self.room = asyncio.Event()
        self.room.set()
        self.gone = False  # the writer saw the connection end

    @property
    def who(self) -> str:
        return f"{visible(self.peer.user, 40)} (pid {self.peer.pid})"

    # --- what the service pushes: never blocks, never grows past a bound ---

    def push_changed(self, version: int) -> None:
        if self.actor is not None:
            self.changed = version
            self.wake.set()

    def push_notice(self, frame: str) -> None:
        if self.actor is None:
            return
        if len(self.notices) >= MAX_NOTICES:
            # This console is not reading: what it missed is told by a fresh snapshot, not a backlog.
            self.dropped += len(self.notices) + 1
            self.notices.clear()
            self.resync = True
        else:
            self.notices.append(frame)
        self.wake.set()

    # --- writing ---

    def answer(self, rid: int | None, frame: str) -> None:
        self.answers.append((rid, frame))
        if len(self.answers) >= MAX_QUEUED_ANSWERS:
            self.room.clear()
        self.wake.set()

    def _next_frame(self) -> str | None:
        if self.answers:
            rid, frame = self.answers.popleft()
            if rid is not None:
                self.pending.discard(rid)
            if len(self.answers) < MAX_QUEUED_ANSWERS:
                self.room.set()
            return frame
        if self.resync:
            self.resync, dropped, self.dropped = False, self.dropped, 0
            self.changed = None  # the resync carries the version
            return wire.dumps({"op": "resync", "version": self.service.version, "dropped": dropped})
        if self.changed is not None:
            version, self.changed = self.changed, None
            return wire.dumps({"op": "changed", "version": version})
        if self.notices:
            return self.notices.popleft()
        return None

    async def writer(self) -> None:
        try:
            while True:
                await self.wake.wait()
                self.wake.clear()
                while (frame := self._next_frame()) is not None:
                    await self.ws.send(frame)
                if self.close_after is not None and not self.answers:
                    await self.ws.close(*self.close_after)
                    return
        except ConnectionClosed:
            return
        finally:
            # a reader waiting for room (see handle) must not wait for a connection that is gone
            self.gone = True
            self.room.set()

    def fatal(self, text: str, code: int = 1008, **extra: Any) -> None:
        """Answer with an error, then close: for a peer that cannot go on (wrong protocol, ...)."""
        self.answer(None, wire.dumps({"op": "error", "error": _one_line(text), **extra}))
        # the close reason is shown by other clients' libraries: keep it short and inert
        self.close_after = (code, _one_line(text, 100).encode()[:120].decode(errors="ignore"))

    # --- reading ---

    async def handle(self, frame: str | bytes) -> None:
        while not self.room.is_set():  # the peer does not read its answers: stop reading its requests
            await self.room.wait()
        if self.gone:
            return
        try:
            msg = wire.loads(frame)
        except wire.ProtocolError as e:
            self.answer(None, _error(None, str(e)))
            return
        op = msg.get("op")
        if op == "hello":
            self.hello(msg)
            return
        rid = msg.get("id")
        if type(rid) is not int or not 0 <= rid < MAX_ID:
            why = ("a request needs an id" if "id" not in msg
                   else "a request id is a whole number from 0 to 2**53")
            self.answer(None, _error(None, why if op in ("query", "run") else self._bad_op(op)))
            return
        if op not in ("query", "run"):
            self.answer(rid, _error(rid, self._bad_op(op)))
            return
        if self.actor is None:
            self.answer(rid, _error(rid, "say hello first"))
            return
        if rid in self.pending:
            self.answer(None, _error(None, f"request id {rid} is already in flight"))
            return
        if len(self.pending) >= MAX_IN_FLIGHT:
            self.answer(rid, _error(rid, f"too many requests in flight (at most {MAX_IN_FLIGHT}): wait for answers"))
            return
        try:
            call = self._query(msg) if op == "query" else self._run(msg)
        except wire.ProtocolError as e:
            self.answer(rid, _error(rid, str(e)))
            return
        self.pending.add(rid)
        task = asyncio.get_running_loop().create_task(self._answer(rid, op, call))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        if op == "run":
            self.server.commands.add(task)  # a command outlives its console: see close()
            task.add_done_callback(self.server.commands.discard)

    @staticmethod
    def _bad_op(op: object) -> str:
        if op is None:
            return "a message needs an op"
        return f"unknown op {visible(str(op), 40)!s}: hello, query or run"

    def _check_keys(self, msg: dict, allowed: frozenset[str]) -> None:
        extra = sorted(set(msg) - allowed)
        if not extra:
            return
        if any(k in FORGED for k in extra):
            log.warning("%s named an actor in a request: refused, the socket's credentials decide", self.who)
            raise wire.ProtocolError("a request cannot name its actor: the service knows who you are")
        raise wire.ProtocolError(f"unexpected field {visible(extra[0], 40)}")

    def _query(self, msg: dict) -> Any:
        self._check_keys(msg, QUERY_KEYS)
        name, params = msg.get("name"), msg.get("params", {})
        if type(name) is not str or not 0 < len(name) <= MAX_NAME:
            raise wire.ProtocolError("a query needs a name")
        if type(params) is not dict:
            raise wire.ProtocolError("query params must be an object")
        wire.check_plain(params)
        params = wire.decode(params)
        assert self.actor is not None
        return self.service.query(self.actor, name, params)

    def _run(self, msg: dict) -> Any:
        self._check_keys(msg, RUN_KEYS)
        raw = msg.get("command")
        if type(raw) is not dict:
            raise wire.ProtocolError("run needs a command")
        wire.check_plain(raw.get("targets", []))
        wire.check_plain(raw.get("params", {}))
        cmd = wire.decode_as(Command, raw)
        if not 0 < len(cmd.name) <= MAX_NAME:
            raise wire.ProtocolError("a command needs a name")
        assert self.actor is not None
        return self.service.execute(self.actor, cmd)

    async def _answer(self, rid: int, op: str, call: Any) -> None:
        try:
            result = await call
            frame = wire.answer_frame(rid, result)
        except asyncio.CancelledError:
            self.pending.discard(rid)
            raise
        except (ServiceError, Refused) as e:
            frame = _error(rid, str(e))
        except wire.ProtocolError as e:  # the service returned something that is not api data
            log.error("%s answer for %s cannot be sent: %s", op, self.who, e)
            frame = _error(rid, f"the service cannot send this answer: {e}")
        except Exception as e:  # a bug in the service: logged with its traceback, one line to the peer
            log.exception("%s from %s failed", op, self.who)
            frame = _error(rid, f"internal error in the service ({type(e).__name__}); see its log")
        self.answer(rid, frame)

    def hello(self, msg: dict) -> None:
        if self.actor is not None:
            self.answer(None, _error(None, "already said hello"))
            return
        protocol = msg.get("protocol")
        if type(protocol) is not int:
            self.fatal("not a groupwatch hello: no protocol number")
            return
        if protocol != PROTOCOL:
            self.fatal(f"groupwatch service at {shown(self.server.path)} speaks protocol {PROTOCOL}, this groupwatch "
                       f"speaks {protocol}: use the same version on both sides", protocol=PROTOCOL)
            return
        read_only, session = msg.get("read_only", False), msg.get("session", "")
        if type(read_only) is not bool or type(session) is not str:
            self.fatal("hello: read_only must be a boolean and session a string")
            return
        forged = [k for k in FORGED if k in msg]
        if forged:
            log.warning("%s sent a hello naming its %s: ignored, the socket's credentials decide",
                        self.who, "/".join(forged))
        try:
            actor = self.service.open_session(self.peer.user, list(self.peer.groups), read_only=read_only,
                                              session=visible(session, MAX_NAME))
        except (ServiceError, Refused) as e:
            self.fatal(str(e))
            return
        except Exception as e:
            log.exception("opening a session for %s failed", self.who)
            self.fatal(f"internal error in the service ({type(e).__name__}); see its log", 1011)
            return
        self.actor = actor
        self.answer(None, wire.dumps({"op": "welcome", "protocol": PROTOCOL, "version": console.__version__,
                                      "actor": wire.encode(actor), "state": self.service.version}))
        log.info("%s attached as %s, %s", self.who, visible(actor.effective_role.value), visible(actor.session, 80))

    def closed(self) -> None:
        """The peer went away: its queries stop; its commands finish (they may already be acting)."""
        for task in self.tasks:
            if task not in self.server.commands:
                task.cancel()
        if self.actor is not None:
            try:
                self.service.close_session(self.actor)
            except Exception:
                log.exception("closing the session of %s failed", self.who)


class SocketServer:
    """The listening socket; :meth:`close` stops it, lets running commands finish, removes the file."""

    def __init__(self, service: ServiceLike, path: Path) -> None:
        self.service = service
        self.path = path
        self.connections: set[_Connection] = set()
        self.commands: set[asyncio.Task] = set()
        self._ws: Server | None = None
        self._inode: tuple[int, int] | None = None
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        self._unsubscribe: Callable[[], None] | None = None

    # --- pushes from the service ---

    def _on_service(self, kind: str, payload: object) -> None:
        if threading.get_ident() != self._thread:  # the engine may call from a worker thread
            self._loop.call_soon_threadsafe(self._on_service, kind, payload)
            return
        if kind == "changed" and type(payload) is int:
            for conn in self.connections:
                conn.push_changed(payload)
        elif kind == "notice":
            try:  # encoded once for every console
                frame = wire.dumps({"op": "notice", "notice": wire.encode(payload)})
            except wire.ProtocolError as e:
                log.error("a notice cannot be sent to consoles: %s", e)
                return
            for conn in self.connections:
                conn.push_notice(frame)

    # --- connections ---

    async def _handle(self, ws: ServerConnection) -> None:
        try:
            peer = identify(ws.transport.get_extra_info("socket"))
        except PeerUnknown as e:
            log.warning("refused a connection: %s", e)
            try:
                await ws.send(_error(None, str(e)))
                await ws.close(1008, "unknown peer")
            except ConnectionClosed:
                pass
            return
        conn = _Connection(self, ws, peer)
        self.connections.add(conn)
        log.info("%s connected", conn.who)
        writer = asyncio.get_running_loop().create_task(conn.writer())
        timer = self._loop.call_later(HELLO_TIMEOUT, self._hello_timeout, conn)
        try:
            async for frame in ws:
                await conn.handle(frame)
                if conn.close_after is not None:
                    break
            if conn.close_after is not None:
                conn.wake.set()
                await writer  # it writes the error, then closes
        except ConnectionClosed:
            pass
        finally:
            timer.cancel()
            self.connections.discard(conn)
            writer.cancel()
            conn.closed()
            log.info("%s disconnected (%s)", conn.who, visible(str(ws.close_code or "no close code")))

    def _hello_timeout(self, conn: _Connection) -> None:
        if conn.actor is None and conn.close_after is None:
            log.info("%s never said hello: closing", conn.who)
            task = asyncio.get_running_loop().create_task(conn.ws.close(1008, "no hello"))
            conn.tasks.add(task)
            task.add_done_callback(conn.tasks.discard)

    async def start(self) -> None:
        await _claim(self.path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            # Bound 0660 from the first instant (umask), not just after the chmod: no window in
            # which others could connect. The umask is process-wide, so it is set around bind only.
            old = os.umask(0o117)
            try:
                sock.bind(str(self.path))
            finally:
                os.umask(old)
            os.chmod(self.path, 0o660)
            st = os.stat(self.path)
            self._inode = (st.st_dev, st.st_ino)
            # close_timeout: at shutdown a console that does not read would hold each close for 10 s
            self._ws = await unix_serve(self._handle, sock=sock, max_size=MAX_FRAME, compression=None,
                                        server_header=None, close_timeout=2.0, logger=_ws_log)
        except OSError as e:
            sock.close()
            raise SocketPathError(f"cannot listen on {shown(self.path)}: {e.strerror or e}") from None
        self._unsubscribe = self.service.subscribe(self._on_service)
        log.info("serving consoles on %s", shown(self.path))

    async def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._ws is not None:
            self._ws.close()
            for conn in self.connections:  # a reader held back by a non-reading peer lets go now
                conn.gone = True
                conn.room.set()
            await self._ws.wait_closed()
            self._ws = None
        if self.commands:
            _, late = await asyncio.wait(set(self.commands), timeout=COMMAND_GRACE)
            for task in late:
                log.warning("a command was still running at shutdown: cancelled")
                task.cancel()
        self._remove_file()

    def _remove_file(self) -> None:
        # Only our own socket: a newer service may already have replaced the file.
        try:
            st = os.stat(self.path)
            if self._inode == (st.st_dev, st.st_ino):
                os.unlink(self.path)
        except OSError:
            pass
        self._inode = None


async def _claim(path: Path) -> None:
    """Make ``path`` free to bind: a stale socket of a dead service goes; a live one is refused."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as e:
        raise SocketPathError(f"cannot use {shown(path)}: {e.strerror or e}") from None
    if not stat.S_ISSOCK(st.st_mode):
        raise SocketPathError(f"{shown(path)} exists and is not a socket: move it away")
    if await find_service(path):
        raise ServiceRunning(f"a groupwatch service is already serving {shown(path)}")
    try:
        os.unlink(path)
    except OSError as e:
        raise SocketPathError(f"cannot remove the stale socket {shown(path)}: {e.strerror or e}") from None
    log.info("removed the stale socket %s (nothing answered on it)", shown(path))


async def serve(service: ServiceLike, path: Path) -> SocketServer:
    """Listen for consoles on ``path`` (mode 0660); raises :class:`ServiceRunning` if one already does."""
    server = SocketServer(service, Path(path))
    await server.start()
    return server
