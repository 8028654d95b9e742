"""The service's Unix socket: a fake Service behind a real ``serve()``, real websockets clients.

What must hold: the peer's identity comes from the kernel, never from a frame; every bad frame
gets an error answer or a clean close and never reaches the service or another connection; a
console that does not read never slows the service's pushes; a RemoteClient reattaches on its own.
No assertion is about time: waits are on events, with generous guards that fail instead of hang.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import pwd
import shutil
import socket
import stat
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import unix_connect
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import unix_connect as sync_unix_connect

import console
from console.service import peer, server as server_mod, wire
from console.service.api import PROTOCOL, Actor, Command, GroupRow, NoticeView, Report, Role, ServiceError
from console.service.remote import RemoteClient, find_service
from console.service.server import ServiceRunning, SocketPathError, serve
from console.service.wire import ProtocolMismatch, ServiceLost, ServiceUnavailable

GUARD = 20.0  # seconds before a wait that should end at once is called a hang (a failure, not a measure)
ME = pwd.getpwuid(os.getuid()).pw_name
MY_GROUPS = list(peer.identity(os.getuid(), os.getgid())[1])


def row(i: int) -> GroupRow:
    return GroupRow(f"demo:g{i}", f"群 {i}", "demo", 10, 1, 2, 0.5, "active", 1.0, 0, 0, None, 0, [1, 2], [], 0)


class FakeService:
    """Records what reaches it: every actor it is handed must be one it made from peer credentials."""

    def __init__(self, version: int = 1) -> None:
        self.version = version
        self.opened: list[tuple[str, list[str], bool, str]] = []
        self.actors: list[Actor] = []         # every actor open_session returned
        self.seen: list[tuple[str, Actor, Any]] = []  # (query name / command name, actor, params / command)
        self.closed: list[Actor] = []
        self.listeners: list[Callable[[str, object], None]] = []
        self.gate = asyncio.Event()           # "slow" calls wait on it
        self.slow_started = 0
        self.session_opened = asyncio.Event()

    def open_session(self, user: str, groups: list[str], *, read_only: bool, session: str) -> Actor:
        self.opened.append((user, groups, read_only, session))
        actor = Actor(user, Role.MODERATOR, f"{session} {len(self.opened)}", read_only)
        self.actors.append(actor)
        self.session_opened.set()
        return actor

    def close_session(self, actor: Actor) -> None:
        self.closed.append(actor)

    async def query(self, actor: Actor, name: str, params: dict) -> object:
        self.seen.append((name, actor, params))
        if name == "slow":
            self.slow_started += 1
            await self.gate.wait()
        if name == "groups":
            return [row(i) for i in range(int(params.get("n", 3)))]
        if name == "echo":
            return params
        if name == "header":
            return {"version": self.version}
        raise ServiceError(f"no such view: {name}")

    async def execute(self, actor: Actor, cmd: Command) -> Report:
        self.seen.append((cmd.name, actor, cmd))
        if cmd.name == "slow":
            await self.gate.wait()
        return Report(cmd.name, total=len(cmd.targets), done=len(cmd.targets), message="ok")

    def subscribe(self, listener: Callable[[str, object], None]) -> Callable[[], None]:
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)

    def publish(self, kind: str, payload: object) -> None:
        for listener in list(self.listeners):
            listener(kind, payload)

    def identities_are_real(self) -> bool:
        return (all(o[0] == ME and o[1] == MY_GROUPS for o in self.opened)
                and all(a in self.actors and a.user == ME for _, a, _ in self.seen))


@pytest.fixture
def sock_path():
    # pytest's tmp_path can exceed the 107 bytes a Unix socket path may have
    d = Path(tempfile.mkdtemp(prefix="gw", dir="/tmp"))
    yield d / "gw.sock"
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
async def fake() -> FakeService:
    return FakeService()


@pytest.fixture
async def srv(fake, sock_path):
    s = await serve(fake, sock_path)
    yield s
    fake.gate.set()
    await s.close()


@contextlib.asynccontextmanager
async def raw(path: Path, **kw: Any):
    async with unix_connect(str(path), max_size=64 << 20, compression=None, **kw) as ws:
        yield ws


def hello(**extra: Any) -> str:
    return json.dumps({"op": "hello", "protocol": PROTOCOL, "version": console.__version__, "read_only": False,
                       "session": "test", **extra})


async def recv(ws) -> dict:
    async with asyncio.timeout(GUARD):
        return json.loads(await ws.recv())


async def until(predicate: Callable[[], bool], event: asyncio.Event | None = None) -> None:
    """Wait for ``predicate`` (re-checked on each loop turn or event), failing after GUARD."""
    async with asyncio.timeout(GUARD):
        while not predicate():
            if event is not None:
                event.clear()
                await event.wait()
            else:
                await asyncio.sleep(0.005)  # a poll interval, not a measure: the guard above is the limit


# --- attach ------------------------------------------------------------------------------------

async def test_hello_welcome_and_identity_from_the_kernel(srv, fake, sock_path) -> None:
    async with raw(sock_path) as ws:
        await ws.send(hello(read_only=True, session="console"))
        welcome = await recv(ws)
        assert welcome["op"] == "welcome" and welcome["protocol"] == PROTOCOL
        assert welcome["version"] == console.__version__ and welcome["state"] == fake.version
        actor = wire.decode_as(Actor, welcome["actor"])
        assert actor.user == ME and actor.read_only and actor.session == "console 1"
    assert fake.opened == [(ME, MY_GROUPS, True, "console")]
    await until(lambda: fake.closed == [actor])  # the header loses the session when it goes


async def test_remote_client_queries_and_runs(srv, fake, sock_path) -> None:
    client = RemoteClient(sock_path, session="cli blacklist")
    await client.connect()
    try:
        assert client.actor is not None and client.actor.user == ME and client.lost == ""
        assert await client.query("groups", n=2000) == [row(i) for i in range(2000)]
        report = await client.run(Command("ack", [1, 2]))
        assert report == Report("ack", total=2, done=2, message="ok")
        with pytest.raises(ServiceError, match="^no such view: nope$"):
            await client.query("nope")
        assert fake.seen[-1][1] == client.actor and fake.identities_are_real()
    finally:
        await client.close()


async def test_a_forged_user_or_role_in_hello_is_ignored_and_logged(srv, fake, sock_path, caplog) -> None:
    caplog.set_level(logging.WARNING, "groupwatch.service")
    async with raw(sock_path) as ws:
        await ws.send(hello(user="\x1b]0;mallory\x07", role="admin",
                            actor={"$": "Actor", "user": "mallory", "role": "admin"}))
        welcome = await recv(ws)
        assert welcome["op"] == "welcome" and welcome["actor"]["user"] == ME
        await ws.send(json.dumps({"id": 1, "op": "query", "name": "echo", "params": {}}))
        assert (await recv(ws))["result"] == {}
    assert fake.opened[0][0] == ME and fake.identities_are_real()
    forged = [r for r in caplog.records if "hello naming" in r.getMessage()]
    assert forged and forged[0].levelno == logging.WARNING
    assert "mallory" not in forged[0].getMessage() and "\x1b" not in forged[0].getMessage()


async def test_a_request_naming_an_actor_is_refused(srv, fake, sock_path) -> None:
    async with raw(sock_path) as ws:
        await ws.send(hello())
        await recv(ws)
        forged = {"$": "Actor", "user": "mallory", "role": "admin", "session": "", "read_only": False}
        frames = [
            {"id": 1, "op": "run", "command": {"$": "Command", "name": "ack", "targets": [1], "params": {}},
             "actor": forged},
            {"id": 2, "op": "run", "command": {"$": "Command", "name": "ack", "targets": [1], "actor": forged}},
            {"id": 3, "op": "run", "command": {"$": "Command", "name": "ack", "targets": [forged]}},
            {"id": 4, "op": "query", "name": "echo", "params": {"as": forged}},
            {"id": 5, "op": "query", "name": "echo", "params": {}, "user": "mallory"},
        ]
        for f in frames:
            await ws.send(json.dumps(f))
            answer = await recv(ws)
            assert answer["id"] == f["id"] and "\n" not in answer["error"]
    assert fake.seen == []


async def test_protocol_mismatch_is_one_line(srv, fake, sock_path) -> None:
    async with raw(sock_path) as ws:
        await ws.send(hello(protocol=PROTOCOL + 1))
        error = await recv(ws)
        assert error == {"op": "error", "protocol": PROTOCOL,
                         "error": f"groupwatch service at {sock_path} speaks protocol {PROTOCOL}, this groupwatch "
                                  f"speaks {PROTOCOL + 1}: use the same version on both sides"}
        with pytest.raises(ConnectionClosed):
            await recv(ws)
    assert fake.opened == []


async def test_a_console_of_the_protocol_before_the_table_windows_is_refused_in_one_line(srv, fake, sock_path) -> None:
    """Protocol 3 added the table windows (a console of 2 would ask for whole views a windowed screen
    no longer reads): a peer speaking 2 is told so in one line and let go."""
    assert PROTOCOL == 3
    async with raw(sock_path) as ws:
        await ws.send(hello(protocol=2))
        error = await recv(ws)
        assert error["op"] == "error" and "\n" not in error["error"]
        assert error["error"].endswith("speaks protocol 3, this groupwatch speaks 2: use the same version on both sides")
        with pytest.raises(ConnectionClosed):
            await recv(ws)
    assert fake.opened == []


async def test_remote_client_meets_a_service_of_another_protocol(srv, fake, sock_path, monkeypatch) -> None:
    monkeypatch.setattr(server_mod, "PROTOCOL", PROTOCOL + 1)
    client = RemoteClient(sock_path)
    with pytest.raises(ProtocolMismatch) as e:
        await client.connect()
    assert str(e.value) == (f"groupwatch service at {sock_path} speaks protocol {PROTOCOL + 1}, this groupwatch "
                            f"speaks {PROTOCOL}: use the same version on both sides")


async def test_remote_client_says_why_it_cannot_attach(sock_path) -> None:
    with pytest.raises(ServiceUnavailable, match=f"^no groupwatch service at {sock_path}$"):
        await RemoteClient(sock_path).connect()
    dead = socket.socket(socket.AF_UNIX)
    dead.bind(str(sock_path))  # bound, never listening: what a killed service leaves behind
    dead.close()
    with pytest.raises(ServiceUnavailable, match="nothing answers at .*: is the service running"):
        await RemoteClient(sock_path).connect()
    assert not await find_service(sock_path)
    sock_path.unlink()

    async def not_websocket(reader, writer) -> None:
        writer.write(b"SSH-2.0-OpenSSH_9.6\r\n")
        await writer.drain()
        writer.close()

    other = await asyncio.start_unix_server(not_websocket, str(sock_path))
    try:
        assert await find_service(sock_path)
        with pytest.raises(ServiceUnavailable, match="is not a groupwatch service") as e:
            await RemoteClient(sock_path).connect()
        assert "\n" not in str(e.value)
    finally:
        other.close()
        await other.wait_closed()


# --- the socket file ---------------------------------------------------------------------------

async def test_socket_mode_is_0660(srv, sock_path) -> None:
    st_ = os.stat(sock_path)
    assert stat.S_ISSOCK(st_.st_mode) and stat.S_IMODE(st_.st_mode) == 0o660
    assert await find_service(sock_path)


async def test_a_stale_socket_is_replaced_and_a_live_one_refused(fake, sock_path) -> None:
    dead = socket.socket(socket.AF_UNIX)
    dead.bind(str(sock_path))
    dead.close()
    first = await serve(fake, sock_path)
    try:
        assert await find_service(sock_path)
        with pytest.raises(ServiceRunning, match=f"already serving {sock_path}$"):
            await serve(FakeService(), sock_path)
        assert await find_service(sock_path)  # the refused one left the live socket alone
    finally:
        await first.close()
    assert not sock_path.exists()


async def test_a_file_that_is_not_a_socket_is_left_alone(fake, sock_path) -> None:
    sock_path.write_text("notes")
    with pytest.raises(SocketPathError, match="exists and is not a socket"):
        await serve(fake, sock_path)
    assert sock_path.read_text() == "notes"


async def test_close_leaves_a_newer_services_socket(fake, sock_path) -> None:
    old = await serve(fake, sock_path)
    sock_path.unlink()  # e.g. removed by an admin, and a new service started in its place
    new = await serve(FakeService(), sock_path)
    await old.close()
    assert await find_service(sock_path)
    await new.close()


# --- requests ----------------------------------------------------------------------------------

async def test_a_slow_command_does_not_hold_up_queries(srv, fake, sock_path) -> None:
    client = RemoteClient(sock_path)
    await client.connect()
    try:
        slow = asyncio.create_task(client.run(Command("slow", ["x"])))
        await until(lambda: any(s[0] == "slow" for s in fake.seen))
        assert await client.query("groups", n=1) == [row(0)]  # answered while the command still runs
        assert not slow.done()
        fake.gate.set()
        assert (await slow).done == 1
    finally:
        await client.close()


async def test_requests_in_flight_are_capped_per_connection(srv, fake, sock_path) -> None:
    cap = server_mod.MAX_IN_FLIGHT
    async with raw(sock_path) as ws, raw(sock_path) as other:
        await ws.send(hello())
        await recv(ws)
        await other.send(hello())
        await recv(other)
        for i in range(cap + 5):
            await ws.send(json.dumps({"id": i, "op": "query", "name": "slow"}))
        refused = [await recv(ws) for _ in range(5)]
        assert {a["id"] for a in refused} == set(range(cap, cap + 5))
        assert all("too many requests in flight" in a["error"] for a in refused)
        await other.send(json.dumps({"id": 1, "op": "query", "name": "header"}))  # another console is not capped
        assert (await recv(other))["result"] == {"version": 1}
        fake.gate.set()
        answers = [await recv(ws) for _ in range(cap)]
        assert sorted(a["id"] for a in answers) == list(range(cap))
        await ws.send(json.dumps({"id": 0, "op": "query", "name": "echo", "params": {"a": [1]}}))  # ids free again
        assert await recv(ws) == {"id": 0, "result": {"a": [1]}}


async def test_a_closed_console_cancels_its_queries_but_not_its_commands(srv, fake, sock_path) -> None:
    async with raw(sock_path) as ws:
        await ws.send(hello())
        await recv(ws)
        await ws.send(json.dumps({"id": 1, "op": "query", "name": "slow"}))
        await ws.send(json.dumps({"id": 2, "op": "run", "command": wire.encode(Command("slow", ["a"]))}))
        await until(lambda: len(fake.seen) == 2)
    await until(lambda: len(fake.closed) == 1)
    assert len(srv.commands) == 1  # the command may already be acting on a platform: it finishes
    fake.gate.set()
    await until(lambda: not srv.commands)


async def test_a_peer_that_never_says_hello_is_closed(fake, sock_path, monkeypatch) -> None:
    monkeypatch.setattr(server_mod, "HELLO_TIMEOUT", 0.01)
    s = await serve(fake, sock_path)
    try:
        async with raw(sock_path) as ws:
            with pytest.raises(ConnectionClosed) as e:
                await recv(ws)
            assert e.value.rcvd is not None and e.value.rcvd.code == 1008 and e.value.rcvd.reason == "no hello"
    finally:
        await s.close()
    assert fake.opened == []


async def test_unexpected_fields_and_service_bugs_are_one_line_errors(srv, fake, sock_path) -> None:
    async with raw(sock_path) as ws:
        await ws.send(json.dumps({"id": 1, "op": "query", "name": "echo"}))
        assert await recv(ws) == {"id": 1, "error": "say hello first"}
        await ws.send(hello())
        await recv(ws)
        await ws.send(hello())
        assert await recv(ws) == {"op": "error", "error": "already said hello"}
        await ws.send(json.dumps({"id": 2, "op": "query", "name": "echo", "colour": "red"}))
        assert await recv(ws) == {"id": 2, "error": "unexpected field colour"}
        await ws.send(json.dumps({"id": 3, "op": "query", "name": "groups", "params": {"n": "many"}}))
        answer = await recv(ws)  # the fake's int("many") is a bug in a service: logged, one line out
        assert answer == {"id": 3, "error": "internal error in the service (ValueError); see its log"}
        await ws.send('{"id": 4, "op": "query", "name": "echo", "params": {"t": Infinity}}')
        assert await recv(ws) == {"op": "error", "error": "Infinity is not a JSON number"}


async def test_a_console_that_floods_without_reading_is_held_back_then_let_go(srv, fake, sock_path) -> None:
    async with raw(sock_path, max_queue=1) as ws:
        await ws.send(hello(session="flood"))
        await until(lambda: len(fake.opened) == 1)
        conn = next(iter(srv.connections))

        async def flood() -> None:
            while True:
                await ws.send("not json")
        flooding = asyncio.create_task(flood())
        # its error answers fill the socket: the service stops reading its frames (bounded queue)...
        await until(lambda: not conn.room.is_set())
        assert len(conn.answers) <= server_mod.MAX_QUEUED_ANSWERS
        async with raw(sock_path) as other:  # ...and serves everyone else meanwhile
            await other.send(hello())
            await recv(other)
            await other.send(json.dumps({"id": 1, "op": "query", "name": "header"}))
            assert await recv(other) == {"id": 1, "result": {"version": 1}}
        ws.transport.abort()
        flooding.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
            await flooding
    await until(lambda: len(fake.closed) == 2)  # its handler ended: nothing waits on a dead peer


# --- pushes ------------------------------------------------------------------------------------

async def test_pushes_reach_the_client(srv, fake, sock_path) -> None:
    client = RemoteClient(sock_path)
    got: list[tuple[str, object]] = []
    arrived = asyncio.Event()
    client.on_push(lambda kind, payload: (got.append((kind, payload)), arrived.set()))
    client.on_push(lambda kind, payload: 1 / 0)  # a broken listener must not stop the others
    await client.connect()
    try:
        fake.publish("changed", 5)
        fake.publish("changed", 6)  # coalesced: only the latest counts
        fake.publish("notice", NoticeView(1.0, "alice: blacklist: 1/1 done", "information", "console 2"))
        await until(lambda: any(k == "notice" for k, _ in got), arrived)
        assert ("changed", 6) in got and ("changed", 5) not in got
        assert ("notice", NoticeView(1.0, "alice: blacklist: 1/1 done", "information", "console 2")) in got
        assert client.state == 6
    finally:
        await client.close()


async def test_pushes_from_another_thread_are_handed_to_the_loop(srv, fake, sock_path) -> None:
    client = RemoteClient(sock_path)
    got: list[tuple[str, object]] = []
    arrived = asyncio.Event()
    client.on_push(lambda kind, payload: (got.append((kind, payload)), arrived.set()))
    await client.connect()
    try:
        worker = threading.Thread(target=fake.publish, args=("changed", 9))  # e.g. a checkpoint thread
        worker.start()
        worker.join(GUARD)
        await until(lambda: ("changed", 9) in got, arrived)
    finally:
        await client.close()


async def test_a_console_that_never_reads_does_not_slow_the_service(srv, fake, sock_path) -> None:
    good = RemoteClient(sock_path, session="good")
    notices = 0

    def count(kind: str, payload: object) -> None:
        nonlocal notices
        notices += kind == "notice"
    good.on_push(count)
    await good.connect()
    # The stuck console: says hello, then never reads (its library stops reading after one frame).
    async with raw(sock_path, max_queue=1) as stuck:
        await stuck.send(hello(session="stuck"))
        await until(lambda: len(fake.opened) == 2)
        conn = next(c for c in srv.connections if c.actor is not None and c.actor.session.startswith("stuck"))
        try:
            for batch in range(100):
                for i in range(100):  # the service's listener returns at once: it never awaits a console
                    fake.publish("notice", NoticeView(float(batch * 100 + i), f"notice {batch * 100 + i} " + "x" * 200))
                assert len(conn.notices) <= server_mod.MAX_NOTICES  # bounded, whatever the console does
                await asyncio.sleep(0)  # the writers get a turn: the stuck one fills the socket and blocks
                if batch % 10 == 0:
                    assert await asyncio.wait_for(good.query("header"), GUARD) == {"version": 1}
            assert conn.dropped > 0 or conn.resync
            assert await asyncio.wait_for(good.query("groups", n=5), GUARD) == [row(i) for i in range(5)]
            # Once the stuck console reads again, it is told to refetch rather than handed a backlog.
            async with asyncio.timeout(GUARD):
                while (msg := json.loads(await stuck.recv()))["op"] != "resync":
                    assert msg["op"] in ("welcome", "notice", "changed")
            assert msg["dropped"] > 0 and msg["version"] == fake.version
        finally:
            await good.close()
            stuck.transport.abort()  # its socket still holds frames it will never read: no close handshake
    assert notices > 0


# --- reconnect ---------------------------------------------------------------------------------

async def test_remote_client_reattaches_when_the_service_comes_back(fake, sock_path) -> None:
    first = await serve(fake, sock_path)
    client = RemoteClient(sock_path)
    events: list[tuple[str, object]] = []
    pushed = asyncio.Event()
    client.on_push(lambda kind, payload: (events.append((kind, payload)), pushed.set()))
    await client.connect()
    try:
        pending = asyncio.create_task(client.query("slow"))
        await until(lambda: fake.slow_started == 1)
        await first.close()  # the service goes away with a call in flight
        with pytest.raises(ServiceLost) as e:
            await asyncio.wait_for(pending, GUARD)
        assert "\n" not in str(e.value) and str(e.value).startswith("service lost, reconnecting")
        await until(lambda: ("connection", "lost") in events, pushed)
        assert client.lost == "service lost, reconnecting"
        with pytest.raises(ServiceLost):
            await client.query("header")  # while away, calls fail at once instead of hanging

        second = FakeService(version=7)
        again = await serve(second, sock_path)
        try:
            await until(lambda: ("connection", "back") in events, pushed)
            await until(lambda: ("changed", 7) in events, pushed)
            assert client.lost == "" and client.actor is not None and client.actor.user == ME
            assert await client.query("header") == {"version": 7}
            assert second.opened == [(ME, MY_GROUPS, False, "console")]  # the same hello again
        finally:
            await client.close()
            await again.close()
    finally:
        fake.gate.set()
        await client.close()


# --- hostile frames (hypothesis), against a service running in its own thread ----------------

class ThreadedServer:
    """The server on an event loop in another thread, so hypothesis (synchronous) can drive it."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="gw", dir="/tmp"))
        self.path = self.dir / "gw.sock"
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.fake = self.call(self._fake())
        self.server = self.call(serve(self.fake, self.path))

    @staticmethod
    async def _fake() -> FakeService:
        return FakeService()

    def call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(GUARD)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.fake.gate.set)
        self.call(self.server.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(GUARD)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def threaded():
    t = ThreadedServer()
    yield t
    t.stop()


@pytest.fixture(scope="module")
def bystander(threaded):
    """A well-behaved console attached for the whole run: it must keep getting answers."""
    with sync_unix_connect(str(threaded.path), max_size=64 << 20, compression=None) as ws:
        ws.send(hello(session="bystander"))
        assert json.loads(ws.recv(GUARD))["op"] == "welcome"
        ws.ids = iter(range(1, 10 ** 9))  # type: ignore[attr-defined]
        yield ws


def bystander_still_served(ws) -> None:
    rid = next(ws.ids)
    ws.send(json.dumps({"id": rid, "op": "query", "name": "echo", "params": {"rid": rid}}))
    assert json.loads(ws.recv(GUARD)) == {"id": rid, "result": {"rid": rid}}


FORGED_ACTOR = {"$": "Actor", "user": "mallory", "role": "admin", "session": "x", "read_only": False}
json_scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8))
json_value = st.recursive(json_scalar, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)), max_leaves=8)
an_id = st.one_of(st.integers(-3, 40), st.just(2 ** 60), st.text(max_size=3), st.none(), st.booleans(),
                  st.floats(allow_nan=False), st.lists(st.integers(), max_size=2))
command = st.one_of(
    st.builds(lambda n, t, p: {"$": "Command", "name": n, "targets": t, "params": p},
              st.sampled_from(["ack", "kick", "blacklist_add", "", "x" * 100]), st.lists(json_value, max_size=3),
              st.dictionaries(st.text(max_size=5), json_value, max_size=3)),
    st.builds(lambda c: {**c, "actor": FORGED_ACTOR}, st.just({"$": "Command", "name": "ack", "targets": [1]})),
    st.just({"$": "Command", "name": "ack", "targets": [FORGED_ACTOR]}),
    st.just({"$": "Command", "name": "ack", "params": {"by": FORGED_ACTOR}}),
    st.just(FORGED_ACTOR),
    json_value,
)
well_formed = st.one_of(  # so that the service's answers, not only its refusals, are mixed in
    st.builds(lambda i, n, p: {"id": i, "op": "query", "name": n, "params": p}, st.integers(0, 2 ** 53 - 1),
              st.sampled_from(["echo", "header", "nope"]),
              st.dictionaries(st.text(max_size=5), json_value, max_size=3)),
    st.builds(lambda i, t: {"id": i, "op": "run", "command": {"$": "Command", "name": "ack", "targets": t}},
              st.integers(0, 99), st.lists(json_value, max_size=3)),
)
message = st.one_of(
    well_formed,
    st.builds(lambda extra: {"op": "hello", "protocol": PROTOCOL, "version": "0.1.0", "session": "h", **extra},
              st.dictionaries(st.sampled_from(["user", "role", "actor", "uid", "groups", "read_only", "session"]),
                              st.one_of(st.just("mallory"), st.just("admin"), st.just(FORGED_ACTOR), json_value),
                              max_size=3)),
    st.builds(lambda p: {"op": "hello", "protocol": p}, st.one_of(json_value, st.integers())),
    st.builds(lambda i, n, p: {"id": i, "op": "query", "name": n, "params": p},
              an_id, st.sampled_from(["echo", "groups", "header", "nope", "", 3, None]),
              st.one_of(st.dictionaries(st.text(max_size=5), json_value, max_size=3), json_value,
                        st.just({"as": FORGED_ACTOR}))),
    st.builds(lambda i, c: {"id": i, "op": "run", "command": c}, an_id, command),
    st.builds(lambda i, c: {"id": i, "op": "run", "command": c, "actor": FORGED_ACTOR}, an_id, command),
    st.builds(lambda i, op: {"id": i, "op": op}, an_id, st.one_of(st.text(max_size=8), json_value)),
    st.dictionaries(st.text(max_size=6), json_value, max_size=4),
)
frame = st.one_of(
    message.map(json.dumps),
    message.map(json.dumps).flatmap(lambda s: st.integers(0, max(len(s) - 1, 0)).map(lambda n: s[:n])),  # truncated
    json_value.map(json.dumps),                      # JSON, but not an object
    st.text(max_size=40),                            # not JSON
    st.binary(max_size=40),                          # a binary frame
    st.integers(1, 60).map(lambda n: "[" * n * 1000),  # deep nesting
)
OVERSIZED = "x" * (10 << 20)  # 10 MB: past the 1 MiB a frame may have


def check_answer(answer: dict) -> None:
    if "id" in answer:
        assert set(answer) in ({"id", "result"}, {"id", "error"})
    else:
        assert answer["op"] in ("welcome", "error", "changed", "notice", "resync")
    if "error" in answer:
        assert isinstance(answer["error"], str) and "\n" not in answer["error"] and answer["error"]
    if answer.get("op") == "welcome":
        assert answer["actor"]["user"] == ME


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(say_hello=st.booleans(), frames=st.lists(frame, min_size=1, max_size=8),
       oversized_at=st.none() | st.integers(0, 8))
def test_hostile_frames_get_an_error_or_a_clean_close(threaded, bystander, say_hello, frames, oversized_at) -> None:
    if oversized_at is not None:
        frames.insert(min(oversized_at, len(frames)), OVERSIZED)
    with sync_unix_connect(str(threaded.path), max_size=64 << 20, compression=None) as ws:
        if say_hello:
            ws.send(hello(user="mallory", role="admin"))
            assert json.loads(ws.recv(GUARD))["actor"]["user"] == ME
        sent: list = []
        try:
            for f in frames:
                sent.append(f)
                ws.send(f)
                # Every frame gets exactly one answer (an error, a result, a welcome), or the
                # service closes the connection cleanly (an oversized frame, a wrong hello).
                answer = json.loads(ws.recv(GUARD))
                check_answer(answer)
                event(f"answer: {answer.get('op') or ('result' if 'result' in answer else 'error')}")
        except ConnectionClosed as e:
            code = e.rcvd.code if e.rcvd is not None else None
            event(f"closed: {code}")
            assert code in (1008, 1009, None), e
            if code == 1008:  # a hello the service cannot go on from (another protocol, bad types)
                assert any(isinstance(x, str) and '"op": "hello"' in x for x in sent)
            if code == 1009:
                assert f is OVERSIZED
            if code is None:  # the service closed while our 10 MB were still being written
                assert OVERSIZED in sent
    assert threaded.fake.identities_are_real()
    bystander_still_served(bystander)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(st.binary(min_size=1, max_size=2000),
                 st.binary(max_size=200).map(lambda b: b"GET / HTTP/1.1\r\nUpgrade: websocket\r\n" + b)))
def test_random_bytes_on_the_socket_end_in_a_clean_close(threaded, bystander, data) -> None:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(GUARD)
        s.connect(str(threaded.path))
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            while s.recv(65536):  # an HTTP 400 perhaps, then the end: never a hang
                pass
        except (BrokenPipeError, ConnectionResetError):
            pass
    bystander_still_served(bystander)
    assert threaded.fake.identities_are_real()


# --- the real service on the demo, through the socket ------------------------------------------

async def test_the_real_services_views_and_commands_come_through_equal(sock_path) -> None:
    from console.runtime import first_picture, open_runtime, poll_once
    from console.service.service import Service

    rt = open_runtime(None, str(sock_path.parent / "data"), groups=20, seed=1, pace=False)
    svc = s = None
    try:
        await first_picture(rt)
        for _ in range(20):
            await poll_once(rt.engine)  # events and alerts, without a running engine changing them under us
        svc = Service(rt)
        s = await serve(svc, sock_path)
        here = svc.open_session(ME, MY_GROUPS, read_only=False, session="here")
        client, viewer = RemoteClient(sock_path), RemoteClient(sock_path, read_only=True, session="viewer")
        pushes: list[tuple[str, object]] = []
        pushed = asyncio.Event()
        client.on_push(lambda kind, payload: (pushes.append((kind, payload)), pushed.set()))
        await client.connect()
        await viewer.connect()
        try:
            views = {"groups": {}, "report": {}, "alerts": {}, "feed": {}, "blacklist": {}, "schedules": {},
                     "audit": {}, "connectors": {}}
            for name, params in views.items():
                assert await client.query(name, **params) == await svc.query(here, name, params), name
            groups = await client.query("groups")
            assert groups and await client.query("group", id=groups[0].id) == await svc.query(
                here, "group", {"id": groups[0].id})
            header = await client.query("header")
            assert header.you is not None and header.you.user == ME
            assert {o.session for o in header.operators} >= {client.actor.session, viewer.actor.session}
            with pytest.raises(ServiceError, match="unknown view"):
                await client.query("no_such_view")

            alerts = (await client.query("alerts")).alerts
            assert alerts
            refused = await viewer.run(Command("ack", [alerts[0].id]))
            assert refused.refused and "read-only" in refused.message
            done = await client.run(Command("ack", [alerts[0].id]))
            assert not done.refused and done.done == 1
            await until(lambda: any(k == "notice" for k, _ in pushes), pushed)
            await until(lambda: any(k == "changed" for k, _ in pushes), pushed)
            assert (await client.query("alert", id=alerts[0].id)).state == "acknowledged"
        finally:
            await client.close()
            await viewer.close()
    finally:
        if s is not None:
            await s.close()
        if svc is not None:
            await svc.stop()
        await rt.close_connectors()
        rt.close()


async def test_a_socket_too_deep_for_sockaddr_un_is_named_by_its_real_path(fake, sock_path) -> None:
    deep = sock_path.parent / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    fd = os.open(deep, os.O_RDONLY | os.O_DIRECTORY)  # how attach.short_path reaches it
    try:
        via = Path(f"/proc/self/fd/{fd}/gw.sock")
        s = await serve(fake, via)
        try:
            assert stat.S_IMODE(os.stat(deep / "gw.sock").st_mode) == 0o660
            with pytest.raises(ServiceRunning) as e:
                await serve(FakeService(), via)
            assert str(e.value) == f"a groupwatch service is already serving {deep / 'gw.sock'}"
            client = RemoteClient(via)
            await client.connect()
            assert await client.query("header") == {"version": 1}
            await client.close()
        finally:
            await s.close()
        with pytest.raises(ServiceUnavailable) as e:
            await RemoteClient(via).connect()
        assert str(e.value) == f"no groupwatch service at {deep / 'gw.sock'}"
    finally:
        os.close(fd)


SERVICE_PROCESS = """
import asyncio, sys
from pathlib import Path
from console.service.api import Actor, Role
from console.service.server import serve

class Tiny:
    version = int(sys.argv[2])
    def open_session(self, user, groups, *, read_only, session): return Actor(user, Role.VIEWER, session, read_only)
    def close_session(self, actor): pass
    async def query(self, actor, name, params): return {"pid": __import__("os").getpid()}
    async def execute(self, actor, cmd): raise NotImplementedError
    def subscribe(self, listener): return lambda: None

async def main():
    await serve(Tiny(), Path(sys.argv[1]))
    print("ready", flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


async def start_service_process(path: Path, version: int) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SERVICE_PROCESS, str(path), str(version),
        cwd=str(Path(__file__).resolve().parent.parent), stdout=asyncio.subprocess.PIPE)
    async with asyncio.timeout(GUARD):
        assert (await proc.stdout.readline()).strip() == b"ready"
    return proc


async def test_a_service_killed_with_sigkill_and_restarted_is_reattached(sock_path) -> None:
    first = await start_service_process(sock_path, 3)
    second = None
    client = RemoteClient(sock_path)
    events: list[tuple[str, object]] = []
    pushed = asyncio.Event()
    client.on_push(lambda kind, payload: (events.append((kind, payload)), pushed.set()))
    try:
        await client.connect()
        assert await client.query("header") == {"pid": first.pid}
        first.kill()  # SIGKILL: no close frame, and the socket file stays behind
        await first.wait()
        await until(lambda: ("connection", "lost") in events, pushed)
        assert client.lost == "service lost, reconnecting" and sock_path.exists()
        second = await start_service_process(sock_path, 8)  # it removes the stale socket itself
        await until(lambda: ("changed", 8) in events, pushed)
        assert ("connection", "back") in events and client.lost == ""
        assert await client.query("header") == {"pid": second.pid}
    finally:
        await client.close()
        for proc in (first, second):
            if proc is not None and proc.returncode is None:
                proc.kill()
                await proc.wait()


async def test_a_service_of_another_protocol_coming_back_is_named_in_lost(fake, sock_path, monkeypatch) -> None:
    first = await serve(fake, sock_path)
    client = RemoteClient(sock_path)
    events: list[tuple[str, object]] = []
    pushed = asyncio.Event()
    client.on_push(lambda kind, payload: (events.append((kind, payload)), pushed.set()))
    await client.connect()
    try:
        await first.close()
        monkeypatch.setattr(server_mod, "PROTOCOL", PROTOCOL + 1)  # an upgraded service comes back
        newer = await serve(FakeService(), sock_path)
        await until(lambda: "speaks protocol" in client.lost, pushed)
        assert client.lost.endswith(f"this groupwatch speaks {PROTOCOL}: use the same version on both sides")
        assert events.count(("connection", "lost")) == 2 and "\n" not in client.lost
        await newer.close()
        monkeypatch.setattr(server_mod, "PROTOCOL", PROTOCOL)  # and is put back
        again = await serve(FakeService(), sock_path)
        await until(lambda: ("connection", "back") in events, pushed)
        assert client.lost == ""
        await client.close()
        await again.close()
    finally:
        await client.close()


def test_a_uid_without_an_account_is_named_by_its_number() -> None:
    uid = next(u for u in range(54321, 65000) if not _has_account(u))
    user, groups = peer.identity(uid, 0)
    assert user == f"uid:{uid}" and groups == (peer._group_name(0),)
    assert peer.identity(os.getuid(), os.getgid()) == (ME, tuple(MY_GROUPS))


def _has_account(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
    except KeyError:
        return False
    return True


def test_a_large_answer_is_decoded_off_the_loop_as_strictly_as_a_small_one() -> None:
    from console.service.remote import BIG_FRAME, _NOT_AN_ANSWER, _parse_answer

    rows = [row(i) for i in range(2000)]
    frame = wire.answer_frame(7, rows)
    assert len(frame) > BIG_FRAME
    msg, result = _parse_answer(frame)
    assert msg["id"] == 7 and result == rows
    bad = frame.replace('"members":10', '"members":"10"', 1)  # one field of one row of the wrong type
    _, result = _parse_answer(bad)
    assert isinstance(result, wire.ProtocolError) and "GroupRow.members" in str(result)
    for push in ('{"op":"changed","version":3}', '{"id":8,"error":"no such view"}'):
        msg, result = _parse_answer(push)
        assert result is _NOT_AN_ANSWER and msg == json.loads(push)  # handled on the loop, as small frames are
