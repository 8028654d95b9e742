"""The other side of the Matrix tests: people (and other admins) acting in rooms through plain API calls.

Deliberately independent of connectors.matrix, so the tests check the
connector against what the homeserver really did, not against itself.
"""
from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

import httpx

API = "/_matrix/client/v3"


def _seg(value: str) -> str:
    return quote(value, safe="")


class UserClient:
    def __init__(self, base_url: str, token: str, user_id: str) -> None:
        self.user_id = user_id
        self._http = httpx.AsyncClient(base_url=base_url + API, timeout=30,
                                       headers={"Authorization": f"Bearer {token}"})

    async def __aenter__(self) -> "UserClient":
        return self

    async def __aexit__(self, *exc) -> None:
        await self._http.aclose()

    async def call(self, method: str, path: str, body: dict | None = None, ok: tuple[int, ...] = (200,)) -> Any:
        r = await self._http.request(method, path, json=body)
        if r.status_code not in ok:
            raise AssertionError(f"{self.user_id} {method} {path}: HTTP {r.status_code} {r.text[:300]}")
        return r.json() if r.content else None

    async def create_room(self, name: str | None, *, power: dict[str, int] | None = None,
                          alias: str | None = None) -> str:
        body: dict[str, Any] = {"preset": "public_chat", "visibility": "private"}
        if name is not None:
            body["name"] = name
        if alias is not None:
            body["room_alias_name"] = alias
        if power:
            # Room version 12 (Synapse's default): the creator outranks all and must not be listed.
            body["power_level_content_override"] = {"users": power}
        return (await self.call("POST", "/createRoom", body))["room_id"]

    async def join(self, room: str, ok: tuple[int, ...] = (200,)) -> Any:
        return await self.call("POST", f"/join/{_seg(room)}", {}, ok=ok)

    async def leave(self, room: str) -> None:
        await self.call("POST", f"/rooms/{_seg(room)}/leave", {})

    async def send(self, room: str, text: str, ok: tuple[int, ...] = (200,), **extra: Any) -> Any:
        content = {"msgtype": "m.text", "body": text, **extra}
        data = await self.call("PUT", f"/rooms/{_seg(room)}/send/m.room.message/{uuid.uuid4().hex}", content, ok=ok)
        return data.get("event_id", data) if isinstance(data, dict) else data

    async def upload(self, data: bytes, content_type: str = "image/png", filename: str = "image.png") -> str:
        """Upload media; its mxc:// URI."""
        root = str(self._http.base_url).split("/_matrix/")[0]
        r = await self._http.post(f"{root}/_matrix/media/v3/upload", params={"filename": filename}, content=data,
                                  headers={"Content-Type": content_type})
        if r.status_code != 200:
            raise AssertionError(f"{self.user_id} upload: HTTP {r.status_code} {r.text[:300]}")
        return r.json()["content_uri"]

    async def send_image(self, room: str, data: bytes, body: str = "image.png") -> str:
        uri = await self.upload(data, filename=body)
        return await self.send(room, body, msgtype="m.image", url=uri,
                               info={"mimetype": "image/png", "size": len(data)})

    async def member_action(self, action: str, room: str, user: str, reason: str = "") -> None:
        body = {"user_id": user, **({"reason": reason} if reason else {})}
        await self.call("POST", f"/rooms/{_seg(room)}/{action}", body)

    async def set_display_name(self, name: str) -> None:
        await self.call("PUT", f"/profile/{_seg(self.user_id)}/displayname", {"displayname": name})

    async def membership(self, room: str, user: str) -> str | None:
        r = await self._http.get(f"/rooms/{_seg(room)}/state/m.room.member/{_seg(user)}")
        return r.json().get("membership") if r.status_code == 200 else None

    async def event(self, room: str, event_id: str) -> dict:
        return await self.call("GET", f"/rooms/{_seg(room)}/event/{_seg(event_id)}")

    async def messages(self, room: str, limit: int = 50) -> list[dict]:
        """The room's latest messages, oldest first."""
        r = await self._http.get(f"/rooms/{_seg(room)}/messages",
                                 params={"dir": "b", "limit": limit, "filter": '{"types":["m.room.message"]}'})
        assert r.status_code == 200, r.text
        return list(reversed(r.json()["chunk"]))
