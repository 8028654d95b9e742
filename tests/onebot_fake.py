"""A fake OneBot v11 implementation on loopback, faithful to the protocol as NapCat speaks it.

It serves the two endpoints a real deployment enables: the forward WebSocket
(events, on ``/`` and ``/event``; ``/api`` carries no events, as in NapCat)
and the HTTP API (``POST /<action>`` with a JSON body). Both check the access
token (``Authorization: Bearer`` or ``?access_token=``). It keeps groups and
members, applies actions the way QQ does (a kick with ``reject_add_request``
refuses the member's later join requests; a kick, a mute or a recall is
announced as a notice to connected clients), sends heartbeats, and can be told
to misbehave: drop the socket, stop heartbeats, answer an action with a 500,
garbage, silence or a refusal.

Its CQ-code encoder and parser are written here independently of the
connector's, so an escaping bug in one is not mirrored by the other.
"""
from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

# --- CQ codes, the fake's own -----------------------------------------------------------------


def cq_escape(text: str, param: bool = False) -> str:
    out = text.replace("&", "&amp;").replace("[", "&#91;").replace("]", "&#93;")
    return out.replace(",", "&#44;") if param else out


def cq_unescape(text: str) -> str:
    return re.sub(r"&(amp|#91|#93|#44);",
                  lambda m: {"amp": "&", "#91": "[", "#93": "]", "#44": ","}[m.group(1)], text)


def cq_encode(segments: list[dict]) -> str:
    parts = []
    for s in segments:
        if s["type"] == "text":
            parts.append(cq_escape(s["data"]["text"]))
        else:
            parts.append("[CQ:" + s["type"] + "".join(f",{k}={cq_escape(str(v), True)}"
                                                       for k, v in s["data"].items()) + "]")
    return "".join(parts)


def cq_decode(message: str) -> list[dict]:
    out: list[dict] = []
    pos = 0
    for m in re.finditer(r"\[CQ:([^,\]]+)((?:,[^\]]*)?)\]", message):
        if m.start() > pos:
            out.append({"type": "text", "data": {"text": cq_unescape(message[pos:m.start()])}})
        data = {}
        for pair in filter(None, m.group(2).split(",")):
            k, _, v = pair.partition("=")
            data[k] = cq_unescape(v)
        out.append({"type": m.group(1), "data": data})
        pos = m.end()
    if pos < len(message):
        out.append({"type": "text", "data": {"text": cq_unescape(message[pos:])}})
    return out


def plain(segments: list[dict]) -> str:
    """What a QQ client would show, roughly: text, and @qq for mentions."""
    return "".join(s["data"]["text"] if s["type"] == "text" else
                   f"@{s['data'].get('qq')}" if s["type"] == "at" else f"[{s['type']}]" for s in segments)


# --- state ------------------------------------------------------------------------------------


@dataclass
class FakeMember:
    user_id: int
    nickname: str
    card: str = ""
    role: str = "member"
    join_time: int = 0
    last_sent_time: int = 0
    shut_up_until: int = 0

    def info(self, group_id: int) -> dict:
        return {"group_id": group_id, "user_id": self.user_id, "nickname": self.nickname, "card": self.card,
                "sex": "unknown", "age": 0, "area": "", "level": "1", "qq_level": 0,
                "join_time": self.join_time, "last_sent_time": self.last_sent_time,
                "title_expire_time": 0, "unfriendly": False, "card_changeable": True, "is_robot": False,
                "shut_up_timestamp": self.shut_up_until, "role": self.role, "title": ""}


@dataclass
class FakeGroup:
    group_id: int
    name: str
    members: dict[int, FakeMember] = field(default_factory=dict)
    rejected: set[int] = field(default_factory=set)   # refused join requests (reject_add_request)
    messages: list[dict] = field(default_factory=list)  # message events, oldest first


@dataclass
class Fault:
    kind: str          # "500", "garbage", "timeout", "failed", "403", "429"
    times: int = 1
    delay: float = 5.0


class FakeOneBot:
    def __init__(self, *, token: str | None = "fake-token-123456", self_id: int = 10001,
                 nickname: str = "watchbot", message_format: str = "array", heartbeat_interval: float = 0.1,
                 ws_auth: str = "handshake", report_self: bool = True, history: bool = True,
                 clock: Callable[[], float] = time.time) -> None:
        self.token = token
        self.self_id = self_id
        self.nickname = nickname
        self.message_format = message_format     # how events carry messages: "array" or "string"
        self.heartbeat_interval = heartbeat_interval
        self.heartbeats = True
        self.online = True
        self.ws_auth = ws_auth                   # "handshake": 401/403 (standard); "frame": NapCat's 1403 frame
        self.report_self = report_self           # NapCat's reportSelfMessage: our sends come back as events
        self.history = history                   # get_group_msg_history available
        self.clock = clock
        self.groups: dict[int, FakeGroup] = {}
        self.calls: list[tuple[str, dict]] = []
        self.faults: dict[str, list[Fault]] = {}
        self.sent: list[dict] = []               # what the bot posted: {"group_id", "raw", "segments"}
        self.ws_port = 0
        self.http_port = 0
        self._ws_server: Any = None
        self._http_server: asyncio.AbstractServer | None = None
        self._clients: set[ServerConnection] = set()
        self._http_tasks: set[asyncio.Task] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._beat: asyncio.Task | None = None
        self._next_id = 1_000_001
        self.connections = 0                     # event clients accepted so far
        self.images: dict[str, bytes] = {}       # served at /images/<name>, like QQ's CDN (no token)
        self.image_delay = 0.0                   # seconds before an image download answers

    def add_image(self, name: str, data: bytes, *, with_url: bool = True) -> dict:
        """Host an image; the data of an image segment that shows it (without "url": get_image only)."""
        self.images[name] = data
        seg = {"file": name, "file_size": str(len(data)), "summary": "[图片]", "sub_type": 0}
        if with_url:
            seg["url"] = f"{self.http_url}/images/{name}"
        return seg

    # --- lifecycle ---

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}/event"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    async def start(self) -> "FakeOneBot":
        await self.start_ws()
        self._http_server = await asyncio.start_server(self._http_conn, "127.0.0.1", 0)
        self.http_port = self._http_server.sockets[0].getsockname()[1]
        self._beat = asyncio.create_task(self._heartbeats())
        return self

    async def start_ws(self) -> None:
        self._ws_server = await serve(self._ws_handler, "127.0.0.1", self.ws_port, process_request=self._ws_auth,
                                      ping_interval=None)
        self.ws_port = self._ws_server.sockets[0].getsockname()[1]

    async def stop_ws(self) -> None:
        """The implementation goes away (its port refuses connections) until start_ws()."""
        if self._ws_server is not None:
            self.drop_clients()
            self._ws_server.close()
            await self._ws_server.wait_closed()
            self._ws_server = None

    def drop_clients(self) -> None:
        """Cut every event connection without a close frame, as a crash or a network fault does."""
        for c in list(self._clients):
            c.transport.abort()
        self._clients.clear()

    async def stop(self) -> None:
        if self._beat is not None:
            self._beat.cancel()
            await asyncio.gather(self._beat, return_exceptions=True)
        await self.stop_ws()
        if self._http_server is not None:
            self._http_server.close()
            for w in list(self._writers):
                w.close()
            for t in list(self._http_tasks):
                t.cancel()
            await asyncio.gather(*self._http_tasks, return_exceptions=True)
            await self._http_server.wait_closed()

    # --- building the world ---

    def now(self) -> int:
        return int(self.clock())

    def add_group(self, group_id: int, name: str, members: list[FakeMember] = (), bot_role: str = "admin") -> FakeGroup:
        g = FakeGroup(group_id, name)
        g.members[self.self_id] = FakeMember(self.self_id, self.nickname, role=bot_role, join_time=self.now() - 86400)
        for m in members:
            g.members[m.user_id] = m
        self.groups[group_id] = g
        return g

    def fail(self, action: str, kind: str, times: int = 1, delay: float = 5.0) -> None:
        self.faults.setdefault(action, []).append(Fault(kind, times, delay))

    def actions(self, name: str) -> list[dict]:
        return [p for a, p in self.calls if a == name]

    # --- what people do in the groups ---

    async def say(self, group_id: int, user_id: int, message: str | list[dict], *, at: int | None = None) -> int:
        """A member posts; ``message`` is plain text (taken literally, as typed) or segments."""
        segments = [{"type": "text", "data": {"text": message}}] if isinstance(message, str) else message
        return await self._post(group_id, user_id, segments, "message", at)

    async def join(self, group_id: int, user_id: int, nickname: str, *, sub_type: str = "approve",
                   operator_id: int = 0) -> bool:
        """A join request; False when QQ refuses it (the member was kicked with reject_add_request)."""
        g = self.groups[group_id]
        if user_id in g.rejected:
            return False
        g.members[user_id] = FakeMember(user_id, nickname, join_time=self.now())
        await self.emit(self._notice("group_increase", group_id, user_id, sub_type=sub_type,
                                     operator_id=operator_id or self.self_id))
        return True

    async def leave(self, group_id: int, user_id: int) -> None:
        self.groups[group_id].members.pop(user_id)
        await self.emit(self._notice("group_decrease", group_id, user_id, sub_type="leave", operator_id=user_id))

    async def admin_kick(self, group_id: int, user_id: int, operator_id: int) -> None:
        self.groups[group_id].members.pop(user_id)
        await self.emit(self._notice("group_decrease", group_id, user_id, sub_type="kick", operator_id=operator_id))

    async def kick_bot(self, group_id: int, operator_id: int) -> None:
        g = self.groups.pop(group_id)
        await self.emit(self._notice("group_decrease", g.group_id, self.self_id, sub_type="kick_me",
                                     operator_id=operator_id))

    async def recall(self, group_id: int, message_id: int, operator_id: int) -> None:
        g = self.groups[group_id]
        msg = next(m for m in g.messages if m["message_id"] == message_id)
        g.messages.remove(msg)
        await self.emit(self._notice("group_recall", group_id, msg["user_id"], operator_id=operator_id,
                                     message_id=message_id))

    async def private_message(self, user_id: int, text: str) -> None:
        await self.emit({"time": self.now(), "self_id": self.self_id, "post_type": "message",
                         "message_type": "private", "sub_type": "friend", "message_id": self._new_id(),
                         "user_id": user_id, "message": [{"type": "text", "data": {"text": text}}],
                         "raw_message": cq_escape(text), "font": 14,
                         "sender": {"user_id": user_id, "nickname": "stranger"}})

    async def emit(self, event: dict) -> None:
        data = json.dumps(event, ensure_ascii=False)
        for c in list(self._clients):
            try:
                await c.send(data)
            except ConnectionClosed:
                self._clients.discard(c)

    async def emit_raw(self, text: str) -> None:
        for c in list(self._clients):
            await c.send(text)

    # --- events as NapCat shapes them ---

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _notice(self, notice_type: str, group_id: int, user_id: int, **extra: Any) -> dict:
        return {"time": self.now(), "self_id": self.self_id, "post_type": "notice", "notice_type": notice_type,
                "group_id": group_id, "user_id": user_id, **extra}

    def _message_event(self, g: FakeGroup, m: FakeMember, segments: list[dict], mid: int, t: int,
                       post_type: str) -> dict:
        raw = cq_encode(segments)
        return {"self_id": self.self_id, "user_id": m.user_id, "time": t, "message_id": mid, "message_seq": mid,
                "real_id": mid, "message_type": "group",
                "sender": {"user_id": m.user_id, "nickname": m.nickname, "card": m.card, "role": m.role},
                "raw_message": raw, "font": 14, "sub_type": "normal",
                "message": segments if self.message_format == "array" else raw,
                "message_format": self.message_format, "post_type": post_type, "group_id": g.group_id}

    async def _post(self, group_id: int, user_id: int, segments: list[dict], post_type: str,
                    at: int | None = None) -> int:
        g = self.groups[group_id]
        m = g.members[user_id]
        t = self.now() if at is None else at
        mid = self._new_id()
        m.last_sent_time = t
        event = self._message_event(g, m, segments, mid, t, post_type)
        # History hands messages back in the form of the events, whatever the socket's format.
        g.messages.append(event)
        if post_type == "message" or self.report_self:
            await self.emit(event)
        return mid

    # --- the forward WebSocket ---

    def _token_of(self, path: str, authorization: str | None) -> str | None:
        query = parse_qs(urlsplit(path).query).get("access_token")
        if query and query[0]:
            return query[0]
        if authorization and authorization.startswith("Bearer "):
            return authorization[len("Bearer "):]
        return None

    def _ws_auth(self, connection: ServerConnection, request: Any) -> Any:
        if self.token is None or self.ws_auth != "handshake":
            return None
        given = self._token_of(request.path, request.headers.get("Authorization"))
        if given is None:
            return connection.respond(HTTPStatus.UNAUTHORIZED, "missing access token\n")
        if given != self.token:
            return connection.respond(HTTPStatus.FORBIDDEN, "wrong access token\n")
        return None

    async def _ws_handler(self, connection: ServerConnection) -> None:
        path = connection.request.path
        if self.token is not None and self.ws_auth == "frame":
            given = self._token_of(path, connection.request.headers.get("Authorization"))
            if given != self.token:  # NapCat: accept, say so in a frame, close
                await connection.send(json.dumps({"status": "failed", "retcode": 1403, "data": None,
                                                  "message": "token验证失败", "wording": "token验证失败"}))
                await connection.close()
                return
        if urlsplit(path).path.rstrip("/") == "/api":
            await connection.wait_closed()
            return
        self.connections += 1
        self._clients.add(connection)
        await connection.send(json.dumps({"time": self.now(), "self_id": self.self_id, "post_type": "meta_event",
                                          "meta_event_type": "lifecycle", "sub_type": "connect"}))
        try:
            async for _ in connection:
                pass  # actions over the socket are not used by the connector
        except ConnectionClosed:
            pass
        finally:
            self._clients.discard(connection)

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            if self.heartbeats:
                await self.emit({"time": self.now(), "self_id": self.self_id, "post_type": "meta_event",
                                 "meta_event_type": "heartbeat",
                                 "status": {"online": self.online, "good": True},
                                 "interval": int(self.heartbeat_interval * 1000)})

    # --- the HTTP API ---

    async def _http_conn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._http_tasks.add(task)
        self._writers.add(writer)
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                method, target, _ = line.decode("latin-1").split(" ", 2)
                headers: dict[str, str] = {}
                while True:
                    h = await reader.readline()
                    if h in (b"\r\n", b"\n", b""):
                        break
                    k, _, v = h.decode("latin-1").partition(":")
                    headers[k.strip().lower()] = v.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                status, payload = await self._http_request(method, target, headers, body)
                if status is None:
                    break  # a fault that never answers
                reason = HTTPStatus(status).phrase
                writer.write(f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
                             f"Content-Length: {len(payload)}\r\n\r\n".encode() + payload)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            self._writers.discard(writer)
            self._http_tasks.discard(task)
            writer.close()

    async def _http_request(self, method: str, target: str, headers: dict[str, str],
                            body: bytes) -> tuple[int | None, bytes]:
        if method == "GET" and urlsplit(target).path.startswith("/images/"):
            self.calls.append(("GET image", {"path": urlsplit(target).path}))
            if self.image_delay:
                await asyncio.sleep(self.image_delay)
            data = self.images.get(urlsplit(target).path[len("/images/"):])
            return (200, data) if data is not None else (404, b"not found")
        if self.token is not None:
            given = self._token_of(target, headers.get("authorization"))
            if given is None:
                return 401, b'{"message":"missing access token"}'
            if given != self.token:
                return 403, b'{"message":"token verify failed!"}'
        action = urlsplit(target).path.strip("/")
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            return 400, b"Invalid JSON"
        self.calls.append((action, params))
        queued = self.faults.get(action) or self.faults.get("*")
        if queued:
            fault = queued[0]
            fault.times -= 1
            if fault.times <= 0:
                queued.pop(0)
            if fault.kind == "500":
                return 500, b"Internal Server Error"
            if fault.kind == "429":
                return 429, b"{}"
            if fault.kind == "403":
                return 403, b'{"message":"token verify failed!"}'
            if fault.kind == "garbage":
                return 200, b'{"status": "ok", "retcode": 0, "data": {"message_id": 1'
            if fault.kind == "timeout":
                await asyncio.sleep(fault.delay)
                return None, b""
            if fault.kind == "failed":
                return 200, self._failed("操作失败: fault injected", retcode=100)
        try:
            data = await self._act(action, params)
        except _Refusal as e:
            return 200, self._failed(str(e), e.retcode)
        return 200, json.dumps({"status": "ok", "retcode": 0, "data": data, "message": "", "wording": "",
                                "echo": None}, ensure_ascii=False).encode()

    @staticmethod
    def _failed(message: str, retcode: int = 200) -> bytes:
        return json.dumps({"status": "failed", "retcode": retcode, "data": None, "message": message,
                           "wording": message, "echo": None}, ensure_ascii=False).encode()

    def _group(self, params: dict) -> FakeGroup:
        try:
            return self.groups[int(params["group_id"])]
        except (KeyError, ValueError, TypeError):
            raise _Refusal(f"群{params.get('group_id')}不存在") from None

    def _bot_can_manage(self, g: FakeGroup, target: FakeMember | None) -> None:
        bot = g.members[self.self_id]
        if bot.role not in ("admin", "owner"):
            raise _Refusal("没有权限: the bot account is not an admin of this group", 102)
        if target is not None and target.role in ("admin", "owner") and bot.role != "owner":
            raise _Refusal("没有权限: only the owner can remove or mute an admin", 102)

    async def _act(self, action: str, p: dict) -> Any:
        if action == "get_login_info":
            return {"user_id": self.self_id, "nickname": self.nickname}
        if action == "get_group_list":
            return [{"group_id": g.group_id, "group_name": g.name, "member_count": len(g.members),
                     "max_member_count": 500} for g in self.groups.values()]
        if action == "get_group_member_list":
            g = self._group(p)
            return [m.info(g.group_id) for m in g.members.values()]
        if action == "get_group_member_info":
            g = self._group(p)
            m = g.members.get(int(p.get("user_id", 0)))
            if m is None:
                raise _Refusal(f"群({g.group_id})成员{p.get('user_id')}不存在")
            return m.info(g.group_id)
        if action == "send_group_msg":
            g = self._group(p)
            message = p.get("message")
            if isinstance(message, str):
                segments = ([{"type": "text", "data": {"text": message}}] if p.get("auto_escape") in (True, "true")
                            else cq_decode(message))
            elif isinstance(message, list):
                segments = message
            else:
                raise _Refusal("消息体无法解析, 请检查是否发送了不支持的消息类型", 1400)
            if not segments:
                raise _Refusal("消息为空", 1400)
            self.sent.append({"group_id": g.group_id, "raw": message, "segments": segments})
            mid = await self._post(g.group_id, self.self_id, segments, "message_sent")
            return {"message_id": mid}
        if action == "set_group_kick":
            g = self._group(p)
            uid = int(p.get("user_id", 0))
            target = g.members.get(uid)
            self._bot_can_manage(g, target)
            if target is None:
                raise _Refusal(f"群成员{uid}不存在")
            del g.members[uid]
            if p.get("reject_add_request") in (True, "true"):
                g.rejected.add(uid)
            await self.emit(self._notice("group_decrease", g.group_id, uid, sub_type="kick",
                                         operator_id=self.self_id))
            return None
        if action == "set_group_ban":
            g = self._group(p)
            uid = int(p.get("user_id", 0))
            target = g.members.get(uid)
            self._bot_can_manage(g, target)
            if target is None:
                raise _Refusal(f"群成员{uid}不存在")
            duration = int(p.get("duration", 30 * 60))
            target.shut_up_until = self.now() + duration if duration else 0
            await self.emit(self._notice("group_ban", g.group_id, uid, operator_id=self.self_id,
                                         duration=duration, sub_type="ban" if duration else "lift_ban"))
            return None
        if action == "delete_msg":
            mid = p.get("message_id")
            for g in self.groups.values():
                for msg in g.messages:
                    if str(msg["message_id"]) == str(mid):
                        if msg["user_id"] != self.self_id:
                            self._bot_can_manage(g, g.members.get(msg["user_id"]))
                        g.messages.remove(msg)
                        await self.emit(self._notice("group_recall", g.group_id, msg["user_id"],
                                                     operator_id=self.self_id, message_id=msg["message_id"]))
                        return None
            raise _Refusal(f"消息{mid}不存在")
        if action == "get_image":
            name = str(p.get("file", ""))
            if name not in self.images:
                raise _Refusal("图片不存在")
            return {"file": "", "url": f"{self.http_url}/images/{name}", "file_size": str(len(self.images[name])),
                    "file_name": name}
        if action == "get_group_msg_history" and self.history:
            g = self._group(p)
            count = int(p.get("count", 20))
            return {"messages": g.messages[-count:] if count > 0 else []}
        raise _Refusal(f"不支持的Api {action}")


class _Refusal(Exception):
    def __init__(self, message: str, retcode: int = 200) -> None:
        super().__init__(message)
        self.retcode = retcode
