"""The Matrix connector: one bot account on one homeserver, watching the rooms it has joined.

Events come from ``/sync`` long polling; the cursor is the ``next_batch``
token, so a restart resumes exactly where the last processed batch ended. A
room whose timeline the homeserver cut short (``limited``: more happened than
the filter's limit) is filled from ``/messages`` back to the cursor, so a long
downtime loses nothing either.
"""
from __future__ import annotations

import hashlib
import heapq
import json
import logging
import time
import uuid
from typing import Any, Mapping, Sequence

import httpx

from connectors.contract import (AuthFailed, Capability, ConnectorError, Health, HealthState, RateLimited, SendResult,
                                 TransientError)
from connectors.events import Batch, Event, Group, Media, Member, Message, platform_of, qualify, raw_id
from connectors.secrets import Secret

from .client import MatrixHTTP, one_line, seg
from .mapping import PLATFORM, STATE_TYPES, TIMELINE_TYPES, RoomBook, localpart, map_event
from .mentions import message_content
from .mutes import MuteBook
from .options import parse_options
from .power import RoomPower, creators_of, shown_level

log = logging.getLogger("groupwatch.matrix")

CURSOR_VERSION = 1
TIMELINE_LIMIT = 100       # events per room per sync; more than that is fetched from /messages
GAP_PAGE = 100
GAP_PAGES_MAX = 50         # at most 5000 events per room are recovered after a downtime
FIRST_SYNC_TIMEOUT = 120.0  # an account in many big rooms makes the homeserver work for a while
PROBE_ROOMS_SHOWN = 10
JOINED_FRESH_S = 30.0


def _shown(name: str, limit: int = 40) -> str:
    """A stranger-chosen room name cut for one line of a report (made inert where it is printed)."""
    text = name.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


class MatrixConnector:
    platform = PLATFORM
    capabilities = frozenset({Capability.SEND, Capability.MENTION, Capability.KICK, Capability.BAN,
                              Capability.UNBAN, Capability.DELETE, Capability.MUTE, Capability.MEMBER_LIST})
    idempotent_send = True  # the transaction id comes from the idempotency key; the homeserver dedupes
    max_mentions = 25       # no protocol limit; more pills than this in one message reads as spam
    acknowledges_cursor = False  # a sync token can be used again
    media_inline = False

    def __init__(self, name: str, homeserver: str, token: Secret | str, *, user_id: str | None = None,
                 rooms: Sequence[str] = (), transport: httpx.AsyncBaseTransport | None = None,
                 timeline_limit: int = TIMELINE_LIMIT) -> None:
        self.name = name
        self.homeserver = homeserver
        self._http = MatrixHTTP(homeserver, Secret(token), transport)
        self._user_id = user_id
        self._room_refs = tuple(rooms)
        self._allowed: frozenset[str] | None = None if rooms else frozenset()
        self._timeline_limit = max(1, timeline_limit)
        self._book = RoomBook()
        self._creators: dict[str, frozenset[str]] = {}
        self._joined_cache: dict[str, tuple[float, dict[str, str | None]]] = {}
        self._mutes = MuteBook(self._http, self.whoami)

    @classmethod
    def from_settings(cls, name: str, options: Mapping[str, object], *, environ: Mapping[str, str] | None = None,
                      transport: httpx.AsyncBaseTransport | None = None) -> "MatrixConnector":
        o = parse_options(name, options, environ=environ)
        return cls(name, o.homeserver, o.token, user_id=o.user_id, rooms=o.rooms, transport=transport)

    def __repr__(self) -> str:
        return f"MatrixConnector(name={self.name!r}, homeserver={self.homeserver!r})"

    # --- who and where ---

    async def whoami(self) -> str:
        if self._user_id is None:
            data = await self._http.call("GET", "/account/whoami", what="whoami")
            user = data.get("user_id") if data else None
            if not isinstance(user, str) or not user.startswith("@"):
                raise TransientError("matrix whoami: the answer holds no user_id")
            self._user_id = user
        return self._user_id

    async def _allowed_rooms(self) -> frozenset[str] | None:
        """The allow-list as room ids (aliases resolved once), or None: every joined room."""
        if not self._room_refs:
            return None
        if self._allowed is None:
            ids = []
            for ref in self._room_refs:
                if ref.startswith("!"):
                    ids.append(ref)
                    continue
                data = await self._http.call("GET", f"/directory/room/{seg(ref)}", what=f"resolving {ref}",
                                             missing_ok=True)
                room = data.get("room_id") if data else None
                if not isinstance(room, str):
                    raise ConnectorError(f"matrix: room alias {ref} (from rooms) does not exist")
                ids.append(room)
            self._allowed = frozenset(ids)
        return self._allowed

    def _filter(self, allowed: frozenset[str] | None, limit: int) -> str:
        room: dict[str, Any] = {
            "timeline": {"types": TIMELINE_TYPES, "limit": limit},
            # Lazy loading: the state block brings the members who speak in the timeline (their
            # display names) instead of every member of every room.
            "state": {"types": STATE_TYPES, "lazy_load_members": True},
            "ephemeral": {"not_types": ["*"]},
            "account_data": {"not_types": ["*"]},
        }
        if allowed is not None:
            room["rooms"] = sorted(allowed)
        return json.dumps({"room": room, "presence": {"not_types": ["*"]}, "account_data": {"not_types": ["*"]}},
                          separators=(",", ":"), sort_keys=True)

    @staticmethod
    def _native(qualified: str, sigil: str, what: str) -> str:
        """The Matrix id inside a qualified one, checked: rooms start with "!", users with "@"."""
        native = raw_id(qualified)
        if platform_of(qualified) != PLATFORM or not native.startswith(sigil):
            raise ConnectorError(f"{qualified} is not a Matrix {what} id (matrix:{sigil}{what}:server)")
        return native

    @classmethod
    def _room(cls, group_id: str) -> str:
        return cls._native(group_id, "!", "room")

    @classmethod
    def _user(cls, member_id: str) -> str:
        return cls._native(member_id, "@", "user")

    # --- the stream ---

    @staticmethod
    def _cursor(next_batch: str) -> str:
        return json.dumps({"v": CURSOR_VERSION, "next_batch": next_batch})

    @staticmethod
    def _since(cursor: str | None) -> str | None:
        if not cursor:
            return None
        try:
            data = json.loads(cursor)
            token = data.get("next_batch") if data.get("v") == CURSOR_VERSION else None
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            log.warning("matrix: unusable saved cursor; starting from now")
            return None
        return token

    async def poll(self, cursor: str | None, timeout: float) -> Batch:
        try:
            return await self._poll(cursor, timeout)
        except (AuthFailed, TransientError, RateLimited):
            raise  # the client set the health they mean
        except ConnectorError as e:
            # /sync or a catch-up refused (400, 403...): the stream is stopped as surely as by an outage.
            self._http._set_health(HealthState.DEGRADED, str(e))
            raise

    async def _poll(self, cursor: str | None, timeout: float) -> Batch:
        since = self._since(cursor)
        allowed = await self._allowed_rooms()
        await self._mutes.lift_due()
        if since is None:
            # First run: learn the rooms and names, take the position, replay nothing.
            data = await self._sync(None, 0.0, self._filter(allowed, 1), FIRST_SYNC_TIMEOUT)
            for room_id, room in self._rooms_in(data, allowed):
                self._learn_state(room_id, room)
                for ev in self._timeline(room)[0]:
                    if isinstance(ev, dict) and "state_key" in ev:
                        self._book.learn(room_id, ev)
            return Batch([], self._cursor(data["next_batch"]))
        wait = max(0.0, timeout)
        due = self._mutes.next_due()
        if due is not None:
            wait = min(wait, max(0.0, due - time.time()))  # wake up in time to lift the mute
        # The engine gives up on a poll 15 s after its timeout; answer (or fail) before that.
        data = await self._sync(since, wait, self._filter(allowed, self._timeline_limit), wait + 10.0)
        per_room: list[list[Event]] = []
        for room_id, room in self._rooms_in(data, allowed):
            self._learn_state(room_id, room)
            events, limited, prev_batch = self._timeline(room)
            if limited and prev_batch:
                events = await self._gap(room_id, prev_batch, since) + events
            seen: set[str] = set()
            mapped: list[Event] = []
            for ev in events:
                event_id = ev.get("event_id") if isinstance(ev, dict) else None
                if isinstance(event_id, str):  # anything else is skipped by map_event (and a list cannot hash)
                    if event_id in seen:
                        continue
                    seen.add(event_id)
                e = map_event(room_id, ev, self._book)
                if e is not None:
                    mapped.append(e)
            per_room.append(mapped)
        # Rooms interleaved by time; each room's own order is kept as the homeserver gave it.
        out = list(heapq.merge(*per_room, key=lambda e: e.at))
        await self._fill_sender_names(out)
        return Batch(out, self._cursor(data["next_batch"]))

    async def _sync(self, since: str | None, wait: float, filter_json: str, read_timeout: float) -> dict:
        # Synapse answers a repeated identical request (same since, timeout, filter) from a cache for
        # about two minutes: harmless here, since the same cursor must give the same events anyway.
        params = {"timeout": int(wait * 1000), "filter": filter_json, "set_presence": "offline"}
        if since is not None:
            params["since"] = since
        data = await self._http.call("GET", "/sync", params=params, what="sync", read_timeout=read_timeout)
        assert data is not None
        if not isinstance(data.get("next_batch"), str) or not data["next_batch"]:
            raise self._shape("sync", "no next_batch")
        rooms = data.get("rooms", {})
        if not isinstance(rooms, dict) or any(not isinstance(rooms.get(s, {}), dict) for s in ("join", "leave")):
            raise self._shape("sync", "rooms is not an object")
        return data

    def _shape(self, what: str, detail: str) -> TransientError:
        return self._http.transient(f"matrix {what}: unexpected answer ({detail})")

    def _rooms_in(self, data: dict, allowed: frozenset[str] | None) -> list[tuple[str, dict]]:
        rooms = data.get("rooms", {})
        out = []
        for section in ("join", "leave"):  # "leave": rooms the bot was removed from, up to its removal
            for room_id, room in rooms.get(section, {}).items():
                if not isinstance(room, dict):
                    # The room id is a key the server wrote: quoted on one line, without control characters.
                    raise self._shape("sync", f"room {one_line(room_id, 80)} is not an object")
                if allowed is None or room_id in allowed:
                    out.append((room_id, room))
        return out

    def _timeline(self, room: dict) -> tuple[list, bool, str | None]:
        timeline = room.get("timeline", {})
        if not isinstance(timeline, dict) or not isinstance(timeline.get("events", []), list):
            raise self._shape("sync", "timeline is not a list of events")
        prev = timeline.get("prev_batch")
        return list(timeline.get("events", [])), bool(timeline.get("limited")), prev if isinstance(prev, str) else None

    def _learn_state(self, room_id: str, room: dict) -> None:
        state = room.get("state", {})
        events = state.get("events", []) if isinstance(state, dict) else []
        for ev in events if isinstance(events, list) else []:
            if isinstance(ev, dict):
                self._book.learn(room_id, ev)

    async def _gap(self, room: str, prev_batch: str, since: str) -> list[dict]:
        """The events between ``since`` and the start of a cut-short timeline, oldest first."""
        out: list[dict] = []
        token = prev_batch
        room_filter = json.dumps({"types": TIMELINE_TYPES, "lazy_load_members": True}, separators=(",", ":"))
        for _ in range(GAP_PAGES_MAX):
            data = await self._http.call("GET", f"/rooms/{seg(room)}/messages", what="catching up",
                                         params={"dir": "b", "from": token, "to": since, "limit": GAP_PAGE,
                                                 "filter": room_filter})
            assert data is not None
            chunk = data.get("chunk")
            if not isinstance(chunk, list):
                raise self._shape("messages", "no chunk")
            for ev in data.get("state", []) if isinstance(data.get("state"), list) else []:
                if isinstance(ev, dict):
                    self._book.learn(room, ev)
            out.extend(ev for ev in chunk if isinstance(ev, dict))
            end = data.get("end")
            if not chunk or not isinstance(end, str) or end == token:
                break
            token = end
        else:
            log.warning("matrix: more than %d events missed in %s; the oldest are skipped",
                        GAP_PAGE * GAP_PAGES_MAX, room)
        out.reverse()
        return out

    async def _display_name(self, room: str, user: str) -> str | None:
        name = self._book.display.get((room, user))
        if name is None:
            try:
                data = await self._http.call("GET", f"/rooms/{seg(room)}/state/m.room.member/{seg(user)}",
                                             what="reading a member", missing_ok=True)
            except AuthFailed:
                raise
            except ConnectorError:
                return None  # a name is not worth failing a poll or a send for
            dn = data.get("displayname") if data else None
            if isinstance(dn, str) and dn.strip():
                name = dn
                if data.get("membership") == "join":
                    self._book.display[(room, user)] = name
        return name

    async def _fill_sender_names(self, events: list[Event]) -> None:
        for e in events:
            if type(e) is Message and not e.sender_name:
                room, user = raw_id(e.group), raw_id(e.sender)
                e.sender_name = await self._display_name(room, user) or localpart(user)

    # --- snapshots ---

    async def _joined_rooms(self) -> list[str]:
        data = await self._http.call("GET", "/joined_rooms", what="listing rooms")
        rooms = data.get("joined_rooms") if data else None
        if not isinstance(rooms, list) or not all(isinstance(r, str) for r in rooms):
            raise self._shape("joined_rooms", "no list of rooms")
        allowed = await self._allowed_rooms()
        return [r for r in rooms if allowed is None or r in allowed]

    async def _room_name(self, room: str) -> str:
        if room not in self._book.names and room not in self._book.aliases:
            for kind in ("m.room.name", "m.room.canonical_alias"):
                data = await self._http.call("GET", f"/rooms/{seg(room)}/state/{kind}", what="reading a room name",
                                             missing_ok=True)
                if data:
                    self._book.learn(room, {"type": kind, "state_key": "", "content": data})
                if room in self._book.names:
                    break
        return self._book.room_name(room)

    async def _joined_members(self, room: str, fresh_for: float = 0.0) -> dict[str, str | None]:
        cached = self._joined_cache.get(room)
        if cached is not None and time.monotonic() - cached[0] < fresh_for:
            return cached[1]
        data = await self._http.call("GET", f"/rooms/{seg(room)}/joined_members", what="listing members")
        joined = data.get("joined") if data else None
        if not isinstance(joined, dict):
            raise self._shape("joined_members", "no joined object")
        out: dict[str, str | None] = {}
        for user, info in joined.items():
            name = info.get("display_name") if isinstance(info, dict) else None
            out[user] = name if isinstance(name, str) and name.strip() else None
            if out[user]:
                self._book.display[(room, user)] = out[user]
        self._joined_cache[room] = (time.monotonic(), out)
        return out

    async def _power(self, room: str) -> RoomPower:
        levels = await self._http.call("GET", f"/rooms/{seg(room)}/state/m.room.power_levels",
                                       what="reading power levels", missing_ok=True) or {}
        creators = self._creators.get(room)
        if creators is None:
            # format=event (Matrix 1.16) gives the sender: the creator, who from room version 12 on
            # outranks every power level without being listed in them.
            create = await self._http.call("GET", f"/rooms/{seg(room)}/state/m.room.create",
                                           params={"format": "event"}, what="reading the room's creation",
                                           missing_ok=True)
            creators = self._creators[room] = creators_of(create)
        return RoomPower(levels, creators)

    async def groups(self) -> list[Group]:
        out = []
        for room in await self._joined_rooms():
            name = await self._room_name(room)
            members = await self._joined_members(room)
            out.append(Group(id=qualify(PLATFORM, room), name=name, platform=PLATFORM, member_count=len(members)))
        return out

    async def members(self, group_id: str) -> list[Member] | None:
        room = self._room(group_id)
        # A snapshot asks groups() then members() of each room: one listing serves both.
        joined = await self._joined_members(room, fresh_for=JOINED_FRESH_S)
        power = await self._power(room)
        moderator = power.moderator()
        me = await self.whoami()
        return [Member(id=qualify(PLATFORM, user), name=name or localpart(user),
                       is_admin=power.user(user) >= moderator, is_bot=user == me)
                for user, name in joined.items()]

    async def probe(self) -> list[str]:
        data = await self._http.call("GET", "/account/whoami", what="whoami")
        user = data.get("user_id") if data else None
        if not isinstance(user, str):
            raise self._shape("whoami", "no user_id")
        if self._user_id is not None and self._user_id != user:
            raise ConnectorError(f"matrix: the token belongs to {one_line(user, 80)}, not to user_id {self._user_id}")
        self._user_id = user
        device = data.get("device_id")
        lines = [f"logged in as {user}" + (f" (device {device})" if isinstance(device, str) else "")]
        rooms = await self._joined_rooms()
        if self._room_refs:
            allowed = await self._allowed_rooms() or frozenset()
            for missing in sorted(allowed - set(rooms)):
                lines.append(f"room {missing} (from rooms) is not joined by {user}: invite the bot and join it")
        described, warnings = [], []
        for room in rooms:
            name = _shown(await self._room_name(room))
            members = await self._joined_members(room)
            described.append(f"{name} ({room}, {len(members)} members)")
            power = await self._power(room)
            mine = power.user(user)
            lacking = [f"{what} needs {need}" for what, need in (
                ("kick", power.action("kick")), ("ban", power.action("ban")), ("redact", power.action("redact")),
                ("mute", power.event("m.room.power_levels", state=True))) if mine < need]
            if lacking:
                warnings.append(f"{name}: the bot's power level {shown_level(mine)} is too low "
                                f"({', '.join(lacking)})")
            enc = await self._http.call("GET", f"/rooms/{seg(room)}/state/m.room.encryption",
                                        what="reading encryption", missing_ok=True)
            if enc:
                warnings.append(f"{name}: end-to-end encrypted, so messages cannot be read "
                                "(joins, leaves and bans still are)")
        shown = ", ".join(described[:PROBE_ROOMS_SHOWN])
        if len(described) > PROBE_ROOMS_SHOWN:
            shown += f", and {len(described) - PROBE_ROOMS_SHOWN} more"
        lines.append(f"{len(rooms)} room{'s' if len(rooms) != 1 else ''}" + (f": {shown}" if shown else
                                                                              ": invite the bot to your rooms"))
        if rooms and not self._room_refs:  # every joined room is watched: the line to narrow it down
            lines.append("to watch only some, in [[connector]]: rooms = [" + ", ".join(f'"{r}"' for r in rooms) + "]")
        return lines + warnings

    # --- actions ---

    async def send(self, group_id: str, text: str, mentions: Sequence[str] = (),
                   idempotency_key: str | None = None) -> SendResult:
        room = self._room(group_id)
        users = [self._user(m) for m in mentions]
        names = []
        for user in users:
            dn = await self._display_name(room, user)
            names.append([n for n in (dn, localpart(user), user) if n])
        content = message_content(text, users, names)
        # The same key gives the same transaction id, which the homeserver answers with the event it
        # already created instead of posting again (Synapse remembers them for about a day).
        txn = ("gw" + hashlib.sha256(f"{room}\n{idempotency_key}".encode()).hexdigest()[:32]
               if idempotency_key else "gw-" + uuid.uuid4().hex)
        data = await self._http.call("PUT", f"/rooms/{seg(room)}/send/m.room.message/{txn}", body=content,
                                     what="send")
        event_id = data.get("event_id") if data else None
        if not isinstance(event_id, str):
            raise self._shape("send", "no event_id")
        return SendResult(event_id)

    async def _member_action(self, action: str, group_id: str, member_id: str, reason: str = "") -> None:
        room, user = self._room(group_id), self._user(member_id)
        body = {"user_id": user}
        if reason:
            body["reason"] = one_line(reason, 500)
        await self._http.call("POST", f"/rooms/{seg(room)}/{action}", body=body, what=action)

    async def kick(self, group_id: str, member_id: str, reason: str = "") -> None:
        await self._member_action("kick", group_id, member_id, reason)

    async def ban(self, group_id: str, member_id: str, reason: str = "", until: float | None = None) -> None:
        # Matrix bans have no end: ``until`` is not sent; the ban holds until unban() (the blacklist
        # lifts its bans when its entry is removed).
        await self._member_action("ban", group_id, member_id, reason)

    async def unban(self, group_id: str, member_id: str) -> None:
        try:
            await self._member_action("unban", group_id, member_id)
        except AuthFailed:
            raise
        except ConnectorError:
            # Lifting a blacklist unbans in every room; where they were not banned, that is done already.
            room, user = self._room(group_id), self._user(member_id)
            data = await self._http.call("GET", f"/rooms/{seg(room)}/state/m.room.member/{seg(user)}",
                                         what="reading a member", missing_ok=True)
            if data is not None and data.get("membership") == "ban":
                raise

    async def delete(self, group_id: str, message_id: str) -> None:
        room = self._room(group_id)
        if not message_id.startswith("$"):
            raise ConnectorError(f"{message_id!r} is not a Matrix event id")
        txn = "gw-redact-" + hashlib.sha256(message_id.encode()).hexdigest()[:32]
        await self._http.call("PUT", f"/rooms/{seg(room)}/redact/{seg(message_id)}/{txn}", body={},
                              what="redact")

    async def mute(self, group_id: str, member_id: str, seconds: int) -> None:
        if seconds < 0:
            raise ConnectorError("mute seconds must not be negative")
        await self._mutes.mute(self._room(group_id), self._user(member_id), int(seconds))

    async def media(self, group_id: str, media: Media, max_bytes: int) -> bytes:
        """An mxc:// image through the homeserver: authenticated media first (Synapse 1.120+ serves
        only that by default), the older unauthenticated endpoint if that one is not there."""
        if not media.ref.startswith("mxc://") or media.ref.count("/") != 3:
            raise ConnectorError(f"matrix: {one_line(media.ref, 60)!r} is not an mxc:// URI")
        server, media_id = media.ref[len("mxc://"):].split("/")
        tail = f"/download/{seg(server)}/{seg(media_id)}"
        return await self._http.download(["/_matrix/client/v1/media" + tail, "/_matrix/media/v3" + tail],
                                         max_bytes, what="media download")

    def health(self) -> Health:
        return self._http.health()

    async def close(self) -> None:
        await self._http.close()

