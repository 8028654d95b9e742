"""Small platform servers behind ``httpx.MockTransport`` for the wiring and fault tests.

Each answers the documented shapes of the calls the real connectors make
(Telegram Bot API, Matrix client-server API), checks the token the way the
platform does, and has a ``mode`` a test flips while the engine runs:
``"ok"``, ``"500"`` (server errors), ``"timeout"`` (the peer stalls, then the
read times out, as httpx reports it) or ``"refused"`` (an expired token).
With ``flow`` on, every long poll brings one new message, so a healthy
connector delivers events continuously.
"""
from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from urllib.parse import unquote

import httpx

HANG_S = 1.5  # how long a stalled peer keeps a request before the read times out


class BotApiFake:
    """One Telegram bot in one supergroup."""

    def __init__(self, token: str, chat_id: int, title: str = "Fans", *, username: str = "shop_bot",
                 flow: bool = True, delay: float = 0.02) -> None:
        self.token, self.chat_id, self.title, self.username = token, chat_id, title, username
        self.bot_id = int(token.split(":", 1)[0])
        self.mode, self.flow, self.delay = "ok", flow, delay
        self.pending: list[dict[str, Any]] = []
        self.next_id = 1
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def chat(self) -> dict[str, Any]:
        return {"id": self.chat_id, "title": self.title, "type": "supergroup"}

    def push(self, kind: str, payload: dict[str, Any]) -> None:
        self.pending.append({"update_id": self.next_id, kind: payload})
        self.next_id += 1

    def push_message(self, user: dict[str, Any], text: str) -> None:
        self.push("message", {"message_id": self.next_id, "date": int(time.time()), "chat": self.chat(),
                              "from": user, "text": text})

    def push_join(self, user: dict[str, Any]) -> None:
        self.push("message", {"message_id": self.next_id, "date": int(time.time()), "chat": self.chat(),
                              "from": user, "new_chat_members": [user]})

    def methods(self, name: str) -> list[dict[str, Any]]:
        return [body for method, body in self.calls if method == name]

    async def handle(self, request: httpx.Request) -> httpx.Response:
        prefix, _, method = unquote(request.url.path).rpartition("/")
        if prefix != f"/bot{self.token}" or self.mode == "refused":
            return _tg_error(401 if prefix == f"/bot{self.token}" else 404,
                             "Unauthorized" if prefix == f"/bot{self.token}" else "Not Found")
        body = json.loads(request.content or b"{}")
        self.calls.append((method, body))
        if self.mode == "500":
            return _tg_error(500, "Internal Server Error")
        if self.mode == "timeout":
            await asyncio.sleep(HANG_S)
            raise httpx.ReadTimeout("timed out", request=request)
        if method == "getUpdates":
            return _tg_ok(await self._updates(body))
        answers = {
            "getMe": {"id": self.bot_id, "is_bot": True, "first_name": "Watch", "username": self.username,
                      "can_join_groups": True, "can_read_all_group_messages": True},
            "getWebhookInfo": {"url": "", "pending_update_count": 0},
            "getChat": self.chat(),
            "getChatMemberCount": 42,
            "getChatMember": {"user": {"id": self.bot_id, "is_bot": True, "first_name": "Watch"},
                              "status": "administrator", "can_restrict_members": True, "can_delete_messages": True},
            "sendMessage": {"message_id": 10_000 + len(self.calls), "date": int(time.time()), "chat": self.chat(),
                            "text": body.get("text", "")},
        }
        if method in answers:
            return _tg_ok(answers[method])
        if method in ("banChatMember", "unbanChatMember", "restrictChatMember", "deleteMessage"):
            return _tg_ok(True)
        return _tg_error(404, "Not Found: method not found")

    async def _updates(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        offset, wait = int(body.get("offset", 0)), float(body.get("timeout", 0))
        if offset < 0:  # the newest only, and the server forgets the rest
            self.pending = self.pending[offset:]
            return list(self.pending)
        self.pending = [u for u in self.pending if u["update_id"] >= offset]
        if not self.pending and (wait > 0 or self.flow):
            await asyncio.sleep(self.delay if self.flow else min(wait, 0.05))
            if self.flow:
                self.push_message({"id": 500 + self.next_id % 3, "is_bot": False, "first_name": "Ann"},
                                  f"hello {self.next_id}")
        return self.pending[: int(body.get("limit", 100))]


def _tg_ok(result: Any) -> httpx.Response:
    return httpx.Response(200, json={"ok": True, "result": result})


def _tg_error(code: int, description: str) -> httpx.Response:
    return httpx.Response(code, json={"ok": False, "error_code": code, "description": description})


class HomeserverFake:
    """One Matrix bot account in one room."""

    API = "/_matrix/client/v3"

    def __init__(self, token: str, room: str = "!room:hs.test", name: str = "Lobby", *,
                 user: str = "@bot:hs.test", flow: bool = True, delay: float = 0.02) -> None:
        self.token, self.room, self.name, self.user = token, room, name, user
        self.mode, self.flow, self.delay = "ok", flow, delay
        self.batch = 0
        self.calls: list[str] = []

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("Authorization") != f"Bearer {self.token}" or self.mode == "refused":
            return httpx.Response(401, json={"errcode": "M_UNKNOWN_TOKEN", "error": "Invalid access token"})
        path = unquote(request.url.path)
        self.calls.append(path)
        if self.mode == "500":
            return httpx.Response(500, json={"errcode": "M_UNKNOWN", "error": "Internal server error"})
        if self.mode == "timeout":
            await asyncio.sleep(HANG_S)
            raise httpx.ReadTimeout("timed out", request=request)
        room = f"{self.API}/rooms/{self.room}"
        if path == f"{self.API}/sync":
            return httpx.Response(200, json=await self._sync(request.url.params.get("since")))
        answers: dict[str, Any] = {
            f"{self.API}/account/whoami": {"user_id": self.user, "device_id": "GW"},
            f"{self.API}/joined_rooms": {"joined_rooms": [self.room]},
            f"{room}/state/m.room.name": {"name": self.name},
            f"{room}/joined_members": {"joined": {self.user: {"display_name": "Watch"},
                                                  "@ann:hs.test": {"display_name": "Ann"}}},
            f"{room}/state/m.room.power_levels": {"users": {self.user: 100}, "users_default": 0, "kick": 50,
                                                  "ban": 50, "redact": 50, "state_default": 50, "events": {}},
        }
        if path in answers:
            return httpx.Response(200, json=answers[path])
        return httpx.Response(404, json={"errcode": "M_NOT_FOUND", "error": "Not found"})

    async def _sync(self, since: str | None) -> dict[str, Any]:
        if since is None:
            return {"next_batch": f"s{self.batch}", "rooms": {"join": {}}}
        await asyncio.sleep(self.delay if self.flow else 0.05)
        n = int(since[1:])
        if not self.flow:
            return {"next_batch": since, "rooms": {"join": {}}}
        self.batch = max(self.batch, n + 1)
        event = {"type": "m.room.message", "event_id": f"$e{n}", "sender": "@ann:hs.test",
                 "origin_server_ts": int(time.time() * 1000), "content": {"msgtype": "m.text", "body": f"hi {n}"}}
        member = {"type": "m.room.member", "state_key": "@ann:hs.test", "sender": "@ann:hs.test",
                  "event_id": "$m0", "origin_server_ts": 0, "content": {"membership": "join", "displayname": "Ann"}}
        return {"next_batch": f"s{n + 1}",
                "rooms": {"join": {self.room: {"timeline": {"events": [event], "limited": False},
                                               "state": {"events": [member]}}}}}
