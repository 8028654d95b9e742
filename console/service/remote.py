"""A console's end of the socket: :class:`RemoteClient` is the ``Client`` of a service in another process.

Calls carry ids and wait on futures; one reader task hands out answers and pushes. When the
connection drops (the service was killed, restarted, upgraded), waiting calls fail at once with
:class:`ServiceLost`, ``lost`` says so for the header, and the client keeps reattaching in the
background (0.2 s doubling to 5 s, with jitter so twenty consoles do not knock in step) until
:meth:`close`. Once back, listeners hear ``("connection", "back")`` and ``("changed", version)``
so every screen fetches afresh: nothing the service did while we were away is missed.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import os
import random
import time
from pathlib import Path
from typing import Any, Callable

from websockets.asyncio.client import ClientConnection, unix_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidMessage, WebSocketException

import console
from console.engine.text import visible
from console.service import wire
from console.service.api import PROTOCOL, Actor, Command, NoticeView, Report, ServiceError
from console.service.wire import ProtocolMismatch, ServiceLost, ServiceUnavailable

__all__ = ["RemoteClient", "find_service", "ServiceUnavailable", "ProtocolMismatch", "ServiceLost"]

log = logging.getLogger("groupwatch.remote")
_ws_log = logging.getLogger("groupwatch.remote.socket")
_ws_log.setLevel(logging.WARNING)  # websockets' per-connection INFO lines say nothing ours do not

MAX_ANSWER = 64 << 20     # a full audit export or 20,000 group rows in one answer
CONNECT_TIMEOUT = 10.0    # a socket that accepts but never answers hello (a hung service)
BACKOFF_FIRST, BACKOFF_MAX = 0.2, 5.0
MAX_IN_FLIGHT = 32        # the service's own cap: stay under it rather than collect refusals
BIG_FRAME = 32 << 10      # an answer this long is parsed and decoded off the console's loop
LOST = "service lost, reconnecting"

Listener = Callable[[str, Any], None]


def _line(text: object, limit: int = 300) -> str:
    return visible(" ".join(str(text).split()), limit)


def shown(path: Path) -> str:
    """The socket's path as a person knows it: a ``/proc/self/fd/N/name`` path (how a socket in a
    directory too deep for sockaddr_un is reached) is shown as the directory it stands for."""
    text = str(path)
    if text.startswith("/proc/self/fd/"):
        real = os.path.realpath(path.parent)
        if not real.startswith("/proc/"):
            return visible(str(Path(real) / path.name))
    return visible(text)


class RemoteClient:
    """A :class:`~console.service.client.Client` over the service's Unix socket."""

    def __init__(self, path: Path | str, *, read_only: bool = False, session: str = "console") -> None:
        self.path = Path(path)
        self.read_only = read_only
        self.session = session
        self.actor: Actor | None = None
        self.lost = ""
        self.state = 0  # the service's version, as of the welcome or the last push
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task | None = None
        self._reconnect: asyncio.Task | None = None
        self._pending: dict[int, asyncio.Future] = {}
        self._ids = itertools.count(1)
        self._listeners: list[Listener] = []
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        self._closed = False

    # --- the Client protocol ---

    async def connect(self) -> None:
        """Attach, or raise :class:`ServiceUnavailable` / :class:`ProtocolMismatch` (one line)."""
        self._closed = False
        self._attach(*await self._open())

    async def query(self, name: str, **params: Any) -> object:
        return await self._call({"op": "query", "name": name, "params": params})

    async def run(self, cmd: Command) -> Report:
        result = await self._call({"op": "run", "command": cmd})
        if not isinstance(result, Report):
            raise ServiceError("the service answered a command with something other than a report")
        return result

    def on_push(self, listener: Listener) -> None:
        self._listeners.append(listener)

    async def close(self) -> None:
        self._closed = True
        if self._reconnect is not None:
            self._reconnect.cancel()
            self._reconnect = None
        ws, self._ws = self._ws, None
        if ws is not None:
            await ws.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)
            self._reader = None
        self._fail_pending("connection to the service closed")

    @property
    def connected(self) -> bool:
        return self._ws is not None

    # --- calls ---

    async def _call(self, msg: dict) -> object:
        async with self._slots:
            ws = self._ws
            if ws is None:
                raise ServiceLost(self.lost or "not connected to the service")
            rid = next(self._ids)
            try:
                frame = wire.dumps({"id": rid, **{k: wire.encode(v) for k, v in msg.items()}})
            except wire.ProtocolError as e:
                raise ServiceError(f"cannot send this request: {e}") from None
            fut = asyncio.get_running_loop().create_future()
            self._pending[rid] = fut
            try:
                await ws.send(frame)
                return await fut
            except ConnectionClosed:
                raise ServiceLost(LOST) from None
            finally:
                self._pending.pop(rid, None)

    def _fail_pending(self, why: str) -> None:
        pending, self._pending = self._pending, {}
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(ServiceLost(why))

    # --- the connection ---

    async def _open(self) -> tuple[ClientConnection, Actor, int]:
        where = shown(self.path)
        try:
            ws = await unix_connect(str(self.path), max_size=MAX_ANSWER, compression=None, open_timeout=CONNECT_TIMEOUT,
                                    logger=_ws_log)
        except FileNotFoundError:
            raise ServiceUnavailable(f"no groupwatch service at {where}") from None
        except ConnectionRefusedError:
            raise ServiceUnavailable(f"nothing answers at {where}: is the service running?") from None
        except PermissionError:
            raise ServiceUnavailable(f"no permission to connect to {where}: the socket's group decides "
                                     "who may attach") from None
        except (InvalidHandshake, InvalidMessage):
            raise ServiceUnavailable(f"{where} is not a groupwatch service") from None
        except TimeoutError:
            raise ServiceUnavailable(f"{where} does not answer") from None
        except (OSError, WebSocketException) as e:
            raise ServiceUnavailable(f"cannot connect to {where}: {_line(getattr(e, 'strerror', None) or e)}") from None
        try:
            return (ws, *await self._hello(ws))
        except BaseException:
            await ws.close()
            raise

    async def _hello(self, ws: ClientConnection) -> tuple[Actor, int]:
        where = shown(self.path)
        hello = {"op": "hello", "protocol": PROTOCOL, "version": console.__version__,
                 "read_only": self.read_only, "session": self.session}
        try:
            await ws.send(wire.dumps(hello))
            async with asyncio.timeout(CONNECT_TIMEOUT):
                msg = wire.loads(await ws.recv(), allow_nan=True)
        except ConnectionClosed as e:
            why = f": {_line(e.rcvd.reason, 120)}" if e.rcvd is not None and e.rcvd.reason else ""
            raise ServiceUnavailable(f"{where} closed the connection{why}") from None
        except TimeoutError:
            raise ServiceUnavailable(f"{where} did not answer hello: is it a groupwatch service?") from None
        except wire.ProtocolError:
            raise ServiceUnavailable(f"{where} is not a groupwatch service") from None
        op = msg.get("op")
        theirs = msg.get("protocol")
        if op == "error":
            text = _line(msg.get("error") or "refused")
            if theirs is not None and theirs != PROTOCOL:
                raise ProtocolMismatch(text)
            raise ServiceUnavailable(text)
        if op != "welcome":
            raise ServiceUnavailable(f"{where} is not a groupwatch service")
        if theirs != PROTOCOL:
            raise ProtocolMismatch(f"groupwatch service at {where} speaks protocol {_line(theirs, 20)}, this "
                                   f"groupwatch speaks {PROTOCOL}: use the same version on both sides")
        try:
            actor = wire.decode_as(Actor, msg.get("actor"))
        except wire.ProtocolError as e:
            raise ServiceUnavailable(f"{where} sent a bad welcome: {e}") from None
        state = msg.get("state")
        return actor, state if type(state) is int else 0

    def _attach(self, ws: ClientConnection, actor: Actor, state: int) -> None:
        self._ws, self.actor, self.state, self.lost = ws, actor, state, ""
        self._reader = asyncio.get_running_loop().create_task(self._read(ws))

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for frame in ws:
                if len(frame) > BIG_FRAME:
                    await self._dispatch_big(frame)
                else:
                    self._dispatch(frame)
        except ConnectionClosed:
            pass
        finally:
            if self._ws is ws:
                self._dropped()

    def _dropped(self) -> None:
        self._ws = None
        if self._closed:
            self._fail_pending("connection to the service closed")
            return
        log.warning("lost the service at %s: reconnecting", shown(self.path))
        self.lost = LOST
        # A command in flight may or may not have been done: the service's ledger keeps it from
        # being done twice, and the screens refetch when the connection is back.
        self._fail_pending(f"{LOST} (the last action may or may not have been done)")
        self._emit("connection", "lost")
        self._reconnect = asyncio.get_running_loop().create_task(self._reattach())

    async def _reattach(self) -> None:
        delay = BACKOFF_FIRST
        while not self._closed:
            await asyncio.sleep(delay * random.uniform(0.5, 1.5))
            delay = min(delay * 2, BACKOFF_MAX)
            try:
                opened = await self._open()
            except ProtocolMismatch as e:
                # A service of another version came back: say so in the header, keep trying (it
                # may be put back); never a traceback.
                if self.lost != str(e):
                    self.lost = str(e)
                    self._emit("connection", "lost")
                continue
            except ServiceUnavailable:
                continue
            except Exception:  # a bug must not end the retries: this console would stay lost for good
                log.exception("reattaching to %s failed", shown(self.path))
                continue
            if self._closed:
                await opened[0].close()
                return
            self._reconnect = None
            self._attach(*opened)
            log.info("reattached to the service at %s", shown(self.path))
            self._emit("connection", "back")
            self._emit("changed", self.state)
            return

    # --- what arrives ---

    def _dispatch(self, frame: str | bytes) -> None:
        try:
            msg = wire.loads(frame, allow_nan=True)
        except wire.ProtocolError as e:
            log.warning("a bad frame from the service: %s", e)
            return
        self._dispatch_message(msg)

    def _dispatch_message(self, msg: dict) -> None:
        if "id" in msg:
            self._answered(msg)
            return
        op = msg.get("op")
        if op == "changed":
            version = msg.get("version")
            if type(version) is int:
                self.state = version
                self._emit("changed", version)
        elif op == "notice":
            try:
                self._emit("notice", wire.decode_as(NoticeView, msg.get("notice")))
            except wire.ProtocolError as e:
                log.warning("a bad notice from the service: %s", e)
        elif op == "resync":
            # We were too slow and notices were dropped for us: refetch everything, and say so.
            version, dropped = msg.get("version"), msg.get("dropped")
            if type(version) is int:
                self.state = version
            self._emit("changed", self.state)
            if type(dropped) is int and dropped > 0:
                self._emit("notice", NoticeView(time.time(), f"{dropped} notices were missed while this "
                                                "console was busy; the screens are refreshed", "warning"))
        elif op == "error":
            log.warning("the service says: %s", _line(msg.get("error")))
        else:
            log.warning("an unknown message from the service: %s", _line(op, 40))

    async def _dispatch_big(self, frame: str | bytes) -> None:
        """A large answer (a thousand group rows) is parsed and decoded in a thread: the console's loop
        keeps drawing and taking keys meanwhile instead of stopping for the whole decode. The next
        frame waits for it, so answers and pushes keep their order."""
        try:
            msg, result = await asyncio.to_thread(_parse_answer, frame)
        except wire.ProtocolError as e:
            log.warning("a bad frame from the service: %s", e)
            return
        if result is _NOT_AN_ANSWER:
            self._dispatch_message(msg)
        else:
            self._answered(msg, result)

    def _answered(self, msg: dict, decoded: object = None) -> None:
        fut = self._pending.pop(msg["id"], None) if type(msg["id"]) is int else None
        if fut is None or fut.done():
            return  # its caller gave up (cancelled) before the answer came
        if "error" in msg:
            fut.set_exception(ServiceError(_line(msg["error"])))
            return
        if isinstance(decoded, wire.ProtocolError):
            fut.set_exception(ServiceError(f"a bad answer from the service: {decoded}"))
            return
        if decoded is not None:
            fut.set_result(decoded)
            return
        try:
            fut.set_result(wire.decode(msg.get("result")))
        except wire.ProtocolError as e:
            fut.set_exception(ServiceError(f"a bad answer from the service: {e}"))

    def _emit(self, kind: str, payload: Any) -> None:
        for listener in list(self._listeners):
            try:
                listener(kind, payload)
            except Exception:  # a screen's bug must not stop the reader (and every later answer)
                log.exception("a push listener failed on %s", kind)


_NOT_AN_ANSWER = object()


def _parse_answer(frame: str | bytes) -> tuple[dict, object]:
    """In a thread: the frame, and its answer decoded (a ProtocolError in place of a bad one), or
    ``_NOT_AN_ANSWER`` for a push or an error answer (handled on the loop as small frames are)."""
    msg = wire.loads(frame, allow_nan=True)
    if "id" not in msg or "error" in msg:
        return msg, _NOT_AN_ANSWER
    try:
        return msg, wire.decode(msg.get("result"))
    except wire.ProtocolError as e:
        return msg, e


async def find_service(path: Path | str) -> bool:
    """Whether something is serving on the socket ``path`` (a plain connect, no hello)."""
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT):
            _, writer = await asyncio.open_unix_connection(str(path))
    except PermissionError:
        return True  # there is a socket we may not use: attaching will say so, starting another would clash
    except TimeoutError:
        return True  # accepts but is slow (a backlog): something is there
    except OSError:
        return False  # no file, refused (a stale socket), not a socket
    writer.close()
    try:
        await writer.wait_closed()
    except OSError:
        pass
    return True
