"""The Telegram connector against the Bot API's documented payload shapes (httpx.MockTransport).

``BotServer`` answers like api.telegram.org: the token in the path, ``getUpdates``
confirming every update below ``offset`` (a negative offset keeps only the newest),
``chat_member`` updates only when asked for by name, ``{"ok": false, ...}`` errors.
Updates are built from the shapes in https://core.telegram.org/bots/api (Update,
Message, ChatMemberUpdated, ChatMember*).
"""
from __future__ import annotations

import json
import logging
from typing import Any, Callable

import httpx
import pytest

from connectors.contract import (AuthFailed, BadOptions, Capability, Connector, ConnectorError, HealthState,
                                 RateLimited, TransientError, Unsupported)
from connectors.events import Ban, Join, Leave, Message
from connectors.telegram import TelegramConnector
from connectors.telegram.mentions import utf16_len
from connectors.telegram.updates import SAME_CHANGE_S

BOT_ID = 7000001
TOKEN = f"{BOT_ID}:AAH-test_SECRET_token_0123456789abcdef"
SECRET_PART = TOKEN.split(":", 1)[1]
T0 = 1_767_574_800
GROUP, SUPER = -4001, -1004001   # a basic group and the supergroup it becomes
ADMIN = {"id": 100, "is_bot": False, "first_name": "Ada", "last_name": "Admin", "username": "ada_admin"}
ANN = {"id": 201, "is_bot": False, "first_name": "Ann", "last_name": "Lee", "username": "ann"}
BOB = {"id": 202, "is_bot": False, "first_name": "Bob"}                     # no username, no last name
LEI = {"id": 203, "is_bot": False, "first_name": "李雷"}                     # no username either
BOT = {"id": BOT_ID, "is_bot": True, "first_name": "Watch", "username": "watch_bot"}


# --- documented payload shapes ---

def chat(cid: int = SUPER, title: str = "Fans", kind: str | None = None) -> dict[str, Any]:
    return {"id": cid, "title": title, "type": kind or ("supergroup" if cid < -1_000_000 else "group")}


def message(mid: int, sender: dict | None, at: int, text: str | None = None, *, where: dict | None = None,
            **extra: Any) -> dict[str, Any]:
    m: dict[str, Any] = {"message_id": mid, "date": at, "chat": where or chat()}
    if sender is not None:
        m["from"] = sender
    if text is not None:
        m["text"] = text
    m.update(extra)
    return m


def member(user: dict, status: str, **extra: Any) -> dict[str, Any]:
    return {"user": user, "status": status, **extra}


def chat_member(actor: dict, user: dict, old: str, new: str, at: int, *, where: dict | None = None,
                old_extra: dict | None = None, new_extra: dict | None = None) -> dict[str, Any]:
    return {"chat": where or chat(), "from": actor, "date": at,
            "old_chat_member": member(user, old, **(old_extra or {})),
            "new_chat_member": member(user, new, **(new_extra or {}))}


class BotServer:
    """The Bot API as the tests need it; ``calls`` holds (method, JSON body) in order."""

    def __init__(self) -> None:
        self.queue: list[dict[str, Any]] = []
        self.next_id = 500
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.allowed: list[str] | None = None
        self.faults: list[Callable[[httpx.Request], httpx.Response]] = []  # next requests' answers
        self.results: dict[str, Any] = {"getMe": {**BOT, "can_join_groups": True,
                                                  "can_read_all_group_messages": False},
                                         "getWebhookInfo": {"url": "", "pending_update_count": 0}}
        self.handlers: dict[str, Callable[[dict[str, Any]], httpx.Response]] = {}
        self.sent = 0

    def push(self, kind: str, payload: dict[str, Any]) -> int:
        self.next_id += 1
        self.queue.append({"update_id": self.next_id, kind: payload})
        return self.next_id

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        prefix, _, method = request.url.path.rpartition("/")
        body = json.loads(request.content or b"{}")
        self.calls.append((method, body))
        if self.faults:
            return self.faults.pop(0)(request)
        if prefix != f"/bot{TOKEN}":
            return _error(404, "Not Found")
        if method in self.handlers:
            return self.handlers[method](body)
        if method == "getUpdates":
            return _ok(self._updates(body))
        if method == "sendMessage":
            self.sent += 1
            return _ok({"message_id": 9000 + self.sent, "date": T0, "chat": chat(body["chat_id"]),
                        "from": BOT, "text": body["text"], "entities": body.get("entities", [])})
        if method in self.results:
            return _ok(self.results[method])
        return _ok(True)

    def _updates(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        if "allowed_updates" in body:
            self.allowed = body["allowed_updates"]
        offset, limit = body.get("offset", 0), body.get("limit", 100)
        if offset < 0:
            self.queue = self.queue[offset:]  # "All previous updates will be forgotten"
        elif offset > 0:
            self.queue = [u for u in self.queue if u["update_id"] >= offset]  # confirmed
        default = ["message", "edited_message", "channel_post", "edited_channel_post", "my_chat_member"]
        allowed = self.allowed or default
        return [u for u in self.queue if any(k in u for k in allowed)][:limit]

    def bodies(self, method: str) -> list[dict[str, Any]]:
        return [b for m, b in self.calls if m == method]


def _ok(result: Any) -> httpx.Response:
    return httpx.Response(200, json={"ok": True, "result": result})


def _error(code: int, description: str, **parameters: Any) -> httpx.Response:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return httpx.Response(code, json=body)


@pytest.fixture
def server() -> BotServer:
    return BotServer()


def connect(server: BotServer, now: float = T0, **options: Any) -> TelegramConnector:
    conn = TelegramConnector.from_settings("tg", {"token_env": "TG_TOKEN", **options},
                                           environ={"TG_TOKEN": TOKEN}, transport=server.transport())
    conn._clock = lambda: now
    return conn


async def started(server: BotServer, **options: Any) -> tuple[TelegramConnector, str]:
    """A connector after its first poll ("start from now"), and the cursor it gave."""
    conn = connect(server, **options)
    batch = await conn.poll(None, 0)
    assert batch.events == []
    return conn, batch.cursor


# --- the contract ---

def test_it_is_a_connector_without_a_member_list(server):
    conn = connect(server)
    assert isinstance(conn, Connector)
    assert conn.platform == "telegram"
    assert Capability.MEMBER_LIST not in conn.capabilities
    assert {Capability.BAN, Capability.UNBAN, Capability.KICK, Capability.MUTE, Capability.DELETE,
            Capability.SEND, Capability.MENTION} <= conn.capabilities
    assert conn.idempotent_send is False


async def test_members_cannot_be_listed(server):
    assert await connect(server).members(f"telegram:{SUPER}") is None


# --- getUpdates: offsets, first run, restart ---

async def test_first_poll_starts_from_now_and_drops_the_backlog(server):
    server.push("message", message(1, ANN, T0 - 3600, "old news"))
    last = server.push("message", message(2, ANN, T0 - 60, "older news"))
    conn = connect(server)
    batch = await conn.poll(None, 25)
    assert batch.events == []
    first = server.bodies("getUpdates")[0]
    assert first["offset"] == -1 and first["limit"] == 1 and first["timeout"] == 0
    assert json.loads(batch.cursor)["offset"] == last + 1
    server.push("message", message(3, BOB, T0, "live"))
    batch = await conn.poll(batch.cursor, 25)
    assert [e.text for e in batch.events] == ["live"]
    body = server.bodies("getUpdates")[-1]
    assert body["offset"] == last + 1 and body["limit"] == 100 and body["timeout"] == 25
    assert set(body["allowed_updates"]) == {"message", "edited_message", "chat_member", "my_chat_member"}


async def test_first_poll_on_an_empty_queue_then_every_update_is_new(server):
    conn, cursor = await started(server)
    server.push("message", message(1, ANN, T0, "first"))
    batch = await conn.poll(cursor, 0)
    assert [e.text for e in batch.events] == ["first"]


async def test_restart_resumes_from_the_cursor_without_repeats_or_loss(server):
    conn, cursor = await started(server)
    for i in range(150):  # more than one getUpdates page
        server.push("message", message(10 + i, ANN if i % 2 else BOB, T0 + i, f"m{i}"))
    first = await conn.poll(cursor, 0)
    assert len(first.events) == 100
    await conn.close()
    # A restart: a new process, the saved cursor, and updates that arrived in between.
    server.push("message", message(500, BOB, T0 + 200, "while down"))
    again = connect(server)
    second = await again.poll(first.cursor, 0)
    texts = [e.text for e in first.events + second.events]
    assert texts == [f"m{i}" for i in range(150)] + ["while down"]
    third = await again.poll(second.cursor, 0)
    assert third.events == [] and third.cursor == second.cursor


async def test_an_older_cursor_gets_the_same_events_again(server):
    """The engine crashed before saving the cursor: polling with the old one re-delivers the batch."""
    conn, cursor = await started(server)
    server.push("message", message(1, ANN, T0, "hello"))
    server.push("message", {**message(0, None, T0 + 1, where=chat()),
                            "from": ADMIN, "new_chat_members": [BOB]})
    first = await conn.poll(cursor, 0)
    replay = await connect(server).poll(cursor, 0)
    assert replay.events == first.events and replay.cursor == first.cursor
    assert [type(e) for e in first.events] == [Message, Join]


async def test_a_short_wait_is_still_a_long_poll(server):
    conn, cursor = await started(server)
    await conn.poll(cursor, 0.2)
    assert server.bodies("getUpdates")[-1]["timeout"] == 1  # 0 would make the engine loop on requests


async def test_the_cursor_keeps_only_recent_member_changes(server):
    conn, cursor = await started(server)
    for i, user in enumerate((ANN, BOB, LEI)):
        server.push("message", message(i + 1, user, T0 + 1000 * i, new_chat_members=[user]))
    batch = await conn.poll(cursor, 0)
    assert len(batch.events) == 3
    assert json.loads(batch.cursor)["recent"] == [[SUPER, 203, "in", T0 + 2000]]


async def test_a_cursor_from_elsewhere_starts_from_now(server):
    server.push("message", message(1, ANN, T0, "backlog"))
    batch = await connect(server).poll('{"tick": 4}', 0)
    assert batch.events == [] and server.bodies("getUpdates")[0]["offset"] == -1


# --- messages ---

async def test_text_captions_media_and_users_without_usernames(server):
    conn, cursor = await started(server)
    server.push("message", message(1, ANN, T0, "hi all"))
    server.push("message", message(2, BOB, T0 + 1, None, photo=[{"file_id": "x", "width": 90, "height": 90}],
                                   caption="buy now t.me/spam"))
    server.push("message", message(3, LEI, T0 + 2, None, sticker={"file_id": "s", "type": "regular"}))
    server.push("message", message(4, BOB, T0 + 3, "@李雷 look", reply_to_message=message(1, ANN, T0, "hi all"),
                                   entities=[{"type": "text_mention", "offset": 0, "length": 3, "user": LEI}]))
    server.push("message", message(5, ADMIN, T0 + 4, None, pinned_message=message(1, ANN, T0, "hi all")))
    batch = await conn.poll(cursor, 0)
    assert [(e.sender, e.sender_name, e.text, e.id) for e in batch.events] == [
        ("telegram:201", "Ann Lee", "hi all", "1"),
        ("telegram:202", "Bob", "buy now t.me/spam", "2"),       # a caption is the text
        ("telegram:203", "李雷", "", "3"),                         # a sticker: active, nothing to scan
        ("telegram:202", "Bob", "@李雷 look", "4"),
    ]                                                             # a pin is a service message: no event
    assert all(e.group == f"telegram:{SUPER}" and isinstance(e, Message) for e in batch.events)
    assert batch.events[0].at == float(T0)
    assert batch.events[3].reply_to == "1" and batch.events[3].mentions == ("telegram:203",)


async def test_private_chats_and_channels_are_ignored(server):
    conn, cursor = await started(server)
    server.push("message", message(1, ANN, T0, "hi bot", where={"id": 201, "type": "private", "first_name": "Ann"}))
    server.push("channel_post", message(2, None, T0, "news", where={"id": -1009, "type": "channel", "title": "C"}))
    server.push("message", message(3, BOB, T0, "in the group"))
    batch = await conn.poll(cursor, 0)
    assert [e.text for e in batch.events] == ["in the group"]
    assert [g.id for g in await conn.groups()] == [f"telegram:{SUPER}"]


async def test_a_channel_or_anonymous_admin_speaks_as_its_chat(server):
    conn, cursor = await started(server)
    channel = {"id": -1007777, "title": "Shop Channel", "type": "channel"}
    server.push("message", message(1, {"id": 136817688, "is_bot": True, "first_name": "Channel"}, T0, "promo",
                                   sender_chat=channel, is_automatic_forward=True))
    [ev] = (await conn.poll(cursor, 0)).events
    assert (ev.sender, ev.sender_name) == ("telegram:-1007777", "Shop Channel")
    with pytest.raises(Unsupported):
        await conn.kick(f"telegram:{SUPER}", ev.sender)
    await conn.ban(f"telegram:{SUPER}", ev.sender)
    assert server.calls[-1] == ("banChatSenderChat", {"chat_id": SUPER, "sender_chat_id": -1007777})


async def test_edited_messages_are_not_counted_again(server):
    conn, cursor = await started(server)
    server.push("message", message(1, ANN, T0, "hello"))
    server.push("edited_message", message(1, ANN, T0, "hello, buy followers t.me/x", edit_date=T0 + 30))
    server.push("edited_message", {"message_id": 1})  # even a malformed one must not stop the stream
    server.push("message", message(2, BOB, T0 + 31, "next"))
    batch = await conn.poll(cursor, 0)
    assert [(e.id, e.text) for e in batch.events] == [("1", "hello"), ("2", "next")]


async def test_a_malformed_update_is_skipped_and_the_offset_moves_past_it(server, caplog):
    conn, cursor = await started(server)
    server.push("message", {"message_id": 1, "chat": chat()})  # no date, no sender
    last = server.push("message", message(2, BOB, T0, "after"))
    with caplog.at_level(logging.WARNING, "groupwatch.telegram"):
        batch = await conn.poll(cursor, 0)
    assert [e.text for e in batch.events] == ["after"]
    assert json.loads(batch.cursor)["offset"] == last + 1
    assert "skipped malformed update" in caplog.text


# --- members coming and going ---

async def test_new_chat_members_with_several_users(server):
    conn, cursor = await started(server)
    server.push("message", message(1, ADMIN, T0, new_chat_members=[ANN, BOB, BOT]))   # added by an admin
    server.push("message", message(2, LEI, T0 + 5, new_chat_members=[LEI]))            # joined by link
    events = (await conn.poll(cursor, 0)).events
    assert [(type(e), e.member, e.member_name, e.inviter) for e in events] == [
        (Join, "telegram:201", "Ann Lee", "telegram:100"),
        (Join, "telegram:202", "Bob", "telegram:100"),     # the bot itself is not a member event
        (Join, "telegram:203", "李雷", None),
    ]
    assert events[0].at == float(T0)


async def test_left_chat_member_voluntary_and_removed(server):
    conn, cursor = await started(server)
    server.push("message", message(1, ANN, T0, left_chat_member=ANN))
    server.push("message", message(2, ADMIN, T0 + 1, left_chat_member=BOB))
    events = (await conn.poll(cursor, 0)).events
    assert [(type(e), e.member, e.kicked_by) for e in events] == [
        (Leave, "telegram:201", None), (Leave, "telegram:202", "telegram:100")]
    assert events[0].voluntary and not events[1].voluntary


async def test_chat_member_updates_join_leave_kick_ban_restrict(server):
    conn, cursor = await started(server)
    server.push("chat_member", chat_member(ANN, ANN, "left", "member", T0))                 # joined
    server.push("chat_member", chat_member(ADMIN, BOB, "left", "member", T0 + 1))           # invited
    server.push("chat_member", chat_member(ADMIN, ANN, "member", "restricted", T0 + 200,    # muted: no event
                                           new_extra={"is_member": True, "can_send_messages": False,
                                                      "until_date": T0 + 3800}))
    server.push("chat_member", chat_member(ANN, ANN, "restricted", "left", T0 + 400,       # left while muted
                                           old_extra={"is_member": True}))
    server.push("chat_member", chat_member(ADMIN, BOB, "member", "kicked", T0 + 500, new_extra={"until_date": 0}))
    server.push("chat_member", chat_member(ADMIN, BOB, "kicked", "left", T0 + 600))         # unbanned: no event
    server.push("chat_member", chat_member(ADMIN, LEI, "left", "restricted", T0 + 700,      # added, restricted
                                           new_extra={"is_member": True}))
    server.push("chat_member", chat_member(ADMIN, LEI, "restricted", "left", T0 + 800,      # removed by an admin
                                           old_extra={"is_member": True}))
    server.push("chat_member", chat_member(ADMIN, ANN, "left", "kicked", T0 + 900))         # banned after leaving
    server.push("chat_member", chat_member(ADMIN, ADMIN, "member", "administrator", T0 + 950))  # promoted
    events = (await conn.poll(cursor, 0)).events
    assert [(type(e).__name__, e.member, getattr(e, "inviter", None) or getattr(e, "kicked_by", None)
             or getattr(e, "by", None), e.at - T0) for e in events] == [
        ("Join", "telegram:201", None, 0),
        ("Join", "telegram:202", "telegram:100", 1),
        ("Leave", "telegram:201", None, 400),
        ("Ban", "telegram:202", "telegram:100", 500),
        ("Join", "telegram:203", "telegram:100", 700),
        ("Leave", "telegram:203", "telegram:100", 800),
        ("Ban", "telegram:201", "telegram:100", 900),
    ]


async def test_chat_member_updates_are_asked_for_by_name(server):
    conn, cursor = await started(server)
    server.push("chat_member", chat_member(ANN, ANN, "left", "member", T0))
    assert len((await conn.poll(cursor, 0)).events) == 1
    assert "chat_member" in server.allowed


async def test_one_join_described_twice_is_delivered_once(server):
    conn, cursor = await started(server)
    server.push("message", message(1, ADMIN, T0, new_chat_members=[ANN]))
    server.push("chat_member", chat_member(ADMIN, ANN, "left", "member", T0))
    server.push("chat_member", chat_member(BOB, BOB, "left", "member", T0 + 1))
    server.push("message", message(2, BOB, T0 + 1, new_chat_members=[BOB]))
    events = (await conn.poll(cursor, 0)).events
    assert [(type(e), e.member) for e in events] == [(Join, "telegram:201"), (Join, "telegram:202")]


async def test_a_restart_between_the_two_descriptions_still_gives_one_join(server):
    conn, cursor = await started(server)
    server.push("message", message(1, ADMIN, T0, new_chat_members=[ANN]))
    first = await conn.poll(cursor, 0)
    server.push("chat_member", chat_member(ADMIN, ANN, "left", "member", T0 + 1))
    second = await connect(server).poll(first.cursor, 0)
    assert len(first.events) == 1 and second.events == []


async def test_leave_then_rejoin_within_a_minute_are_all_delivered(server):
    conn, cursor = await started(server)
    server.push("message", message(1, ANN, T0, new_chat_members=[ANN]))
    server.push("chat_member", chat_member(ANN, ANN, "left", "member", T0))
    server.push("message", message(2, ANN, T0 + 5, left_chat_member=ANN))
    server.push("chat_member", chat_member(ANN, ANN, "member", "left", T0 + 5))
    server.push("chat_member", chat_member(ANN, ANN, "left", "member", T0 + 9))
    server.push("message", message(3, ANN, T0 + 9, new_chat_members=[ANN]))
    events = (await conn.poll(cursor, 0)).events
    assert [type(e) for e in events] == [Join, Leave, Join]


async def test_the_same_change_much_later_is_a_new_change(server):
    """Without admin rights leaves can go unseen; a join long after the last one is still a join."""
    conn, cursor = await started(server)
    server.push("message", message(1, ANN, T0, new_chat_members=[ANN]))
    server.push("message", message(2, ANN, T0 + SAME_CHANGE_S + 1, new_chat_members=[ANN]))
    assert len((await conn.poll(cursor, 0)).events) == 2


async def test_a_ban_seen_twice_is_one_ban_and_a_removal_then_ban_keeps_the_ban(server):
    conn, cursor = await started(server)
    # Ban first, then its service message: one Ban.
    server.push("chat_member", chat_member(ADMIN, ANN, "member", "kicked", T0))
    server.push("message", message(1, ADMIN, T0, left_chat_member=ANN))
    # Service message first, then the ban: the removal, then the ban (which says more).
    server.push("message", message(2, ADMIN, T0 + 2, left_chat_member=BOB))
    server.push("chat_member", chat_member(ADMIN, BOB, "member", "kicked", T0 + 2))
    events = (await conn.poll(cursor, 0)).events
    assert [(type(e), e.member) for e in events] == [
        (Ban, "telegram:201"), (Leave, "telegram:202"), (Ban, "telegram:202")]


async def test_our_kick_is_seen_as_a_kick_not_a_ban(server):
    conn, cursor = await started(server)
    await conn.kick(f"telegram:{SUPER}", "telegram:201", "spam")
    server.push("chat_member", chat_member(BOT, ANN, "member", "kicked", T0, new_extra={"until_date": T0 + 60}))
    server.push("message", message(1, BOT, T0, left_chat_member=ANN))
    server.push("chat_member", chat_member(BOT, ANN, "kicked", "left", T0))
    events = (await conn.poll(cursor, 0)).events
    assert [(type(e), e.member, e.kicked_by) for e in events] == [(Leave, "telegram:201", f"telegram:{BOT_ID}")]


async def test_the_bots_own_membership_is_not_a_member_event_but_names_a_group(server):
    conn, cursor = await started(server)
    server.push("my_chat_member", chat_member(ADMIN, BOT, "left", "administrator", T0,
                                              where=chat(-1005555, "New home"),
                                              new_extra={"can_restrict_members": True}))
    server.push("chat_member", chat_member(ADMIN, BOT, "left", "administrator", T0, where=chat(-1005555, "New home")))
    assert (await conn.poll(cursor, 0)).events == []
    assert [(g.id, g.name) for g in await conn.groups()] == [("telegram:-1005555", "New home")]


# --- supergroup migration ---

async def test_supergroup_migration_moves_events_and_actions_to_the_new_id(server):
    conn, cursor = await started(server)
    old, new = chat(GROUP, "Fans"), chat(SUPER, "Fans")
    server.push("message", message(1, ANN, T0, "before", where=old))
    server.push("message", message(2, ADMIN, T0 + 1, where=old, migrate_to_chat_id=SUPER))
    server.push("message", message(1, ADMIN, T0 + 1, where=new, migrate_from_chat_id=GROUP))
    server.push("message", message(2, BOB, T0 + 2, "after", where=new))
    server.push("message", message(3, LEI, T0 + 2, "late, from the old id", where=old))
    first = await conn.poll(cursor, 0)
    assert [(e.group, e.text) for e in first.events] == [
        (f"telegram:{GROUP}", "before"),
        (f"telegram:{SUPER}", "after"),
        (f"telegram:{SUPER}", "late, from the old id"),
    ]
    assert json.loads(first.cursor)["migrated"] == {str(GROUP): SUPER}
    # After a restart, the old id still means the new group, for events and for actions.
    again = connect(server)
    server.push("message", message(4, ANN, T0 + 3, "old id again", where=old))
    second = await again.poll(first.cursor, 0)
    assert [e.group for e in second.events] == [f"telegram:{SUPER}"]
    await again.delete(f"telegram:{GROUP}", "3")
    assert server.calls[-1] == ("deleteMessage", {"chat_id": SUPER, "message_id": 3})
    assert [g.id for g in await again.groups()] == [f"telegram:{SUPER}"]


async def test_an_action_on_a_migrated_group_follows_the_servers_hint(server):
    conn, cursor = await started(server)
    answers = iter([_error(400, "Bad Request: group chat was upgraded to a supergroup chat",
                           migrate_to_chat_id=SUPER)])
    server.handlers["banChatMember"] = lambda body: next(answers, _ok(True))
    await conn.ban(f"telegram:{GROUP}", "telegram:202")
    assert [b["chat_id"] for b in server.bodies("banChatMember")] == [GROUP, SUPER]
    server.push("message", message(9, BOB, T0, "hi", where=chat(GROUP, "Fans")))
    batch = await conn.poll(cursor, 0)
    assert [e.group for e in batch.events] == [f"telegram:{SUPER}"]
    assert json.loads(batch.cursor)["migrated"] == {str(GROUP): SUPER}


async def test_configured_chats_limit_what_is_watched_and_follow_migration(server):
    conn, cursor = await started(server, chats=[GROUP])
    server.push("message", message(1, ANN, T0, "elsewhere", where=chat(-1009999, "Other")))
    server.push("message", message(2, ADMIN, T0, where=chat(GROUP), migrate_to_chat_id=SUPER))
    server.push("message", message(3, BOB, T0 + 1, "watched", where=chat(SUPER)))
    assert [e.text for e in (await conn.poll(cursor, 0)).events] == ["watched"]


# --- actions ---

async def test_send_turns_each_mention_into_a_text_mention_with_utf16_offsets(server):
    conn, cursor = await started(server)
    server.push("message", message(1, ANN, T0, "hi"))
    server.push("message", message(2, LEI, T0, "你好"))
    await conn.poll(cursor, 0)
    text = "🎉 欢迎新朋友 @Ann Lee 和 @李雷 👋🏽 please read the rules"
    result = await conn.send(f"telegram:{SUPER}", text, ["telegram:201", "telegram:203"])
    assert result.message_id == "9001"
    body = server.bodies("sendMessage")[0]
    assert body["chat_id"] == SUPER and body["text"] == text and "parse_mode" not in body
    units = text.encode("utf-16-le")
    covered = [(e["user"]["id"], units[2 * e["offset"]:2 * (e["offset"] + e["length"])].decode("utf-16-le"))
               for e in body["entities"]]
    assert covered == [(201, "@Ann Lee"), (203, "@李雷")]
    assert [e["type"] for e in body["entities"]] == ["text_mention", "text_mention"]
    assert body["entities"][0]["offset"] == 9  # 🎉 is 2 units, then " 欢迎新朋友 " is 7
    assert server.bodies("getChatMember") == []  # names seen in events need no lookup


async def test_send_looks_up_a_name_it_has_not_seen(server):
    conn = connect(server)
    server.results["getChatMember"] = member(BOB, "member")
    await conn.send(f"telegram:{SUPER}", "welcome @Bob!", ["telegram:202"])
    [entity] = server.bodies("sendMessage")[0]["entities"]
    assert (entity["offset"], entity["length"], entity["user"]["id"]) == (8, 4, 202)
    assert server.bodies("getChatMember") == [{"chat_id": SUPER, "user_id": 202}]


async def test_a_renamed_member_is_still_mentioned(server):
    conn = connect(server)
    server.handlers["getChatMember"] = lambda body: _error(400, "Bad Request: user not found")
    await conn.send(f"telegram:{SUPER}", "ping @老名字 and @Ann Lee", ["telegram:202", "telegram:201"])
    entities = server.bodies("sendMessage")[0]["entities"]
    assert [(e["offset"], e["length"]) for e in entities] == [(5, 4), (14, 4)]  # "@老名字", then "@Ann"


def test_utf16_lengths():
    assert (utf16_len("a"), utf16_len("李"), utf16_len("🎉"), utf16_len("👋🏽")) == (1, 1, 2, 4)


async def test_ban_unban_kick_mute_delete_request_bodies(server):
    conn = connect(server, now=T0)
    g, u = f"telegram:{SUPER}", "telegram:202"
    await conn.ban(g, u)
    await conn.ban(g, u, until=T0 + 86400)
    await conn.ban(g, u, until=T0 + 5)           # Telegram would make a 5 s ban permanent
    await conn.unban(g, u)
    await conn.kick(g, u)
    await conn.mute(g, u, 600)
    await conn.mute(g, u, 0)
    await conn.delete(g, "77")
    calls = server.calls
    assert calls[0] == ("banChatMember", {"chat_id": SUPER, "user_id": 202})
    assert calls[1] == ("banChatMember", {"chat_id": SUPER, "user_id": 202, "until_date": T0 + 86400})
    assert calls[2] == ("banChatMember", {"chat_id": SUPER, "user_id": 202, "until_date": T0 + 31})
    assert calls[3] == ("unbanChatMember", {"chat_id": SUPER, "user_id": 202, "only_if_banned": True})
    assert calls[4] == ("banChatMember", {"chat_id": SUPER, "user_id": 202, "until_date": T0 + 60})
    assert calls[5] == ("unbanChatMember", {"chat_id": SUPER, "user_id": 202, "only_if_banned": True})
    method, mute = calls[6]
    assert method == "restrictChatMember" and mute["until_date"] == T0 + 600 and mute["user_id"] == 202
    assert mute["permissions"]["can_send_messages"] is False and not any(mute["permissions"].values())
    method, lift = calls[7]
    assert method == "restrictChatMember" and "until_date" not in lift and all(lift["permissions"].values())
    assert calls[8] == ("deleteMessage", {"chat_id": SUPER, "message_id": 77})


async def test_refused_actions_say_why(server):
    conn = connect(server)
    server.handlers["deleteMessage"] = lambda body: _error(400, "Bad Request: message can't be deleted")
    server.handlers["banChatMember"] = lambda body: _error(
        400, "Bad Request: not enough rights to restrict/unrestrict chat member")
    with pytest.raises(ConnectorError, match="48 hours") as e:
        await conn.delete(f"telegram:{SUPER}", "5")
    assert not isinstance(e.value, TransientError)
    with pytest.raises(ConnectorError, match="not enough rights"):
        await conn.ban(f"telegram:{SUPER}", "telegram:202")
    with pytest.raises(ConnectorError, match="not a group"):
        await conn.ban("telegram:202", "telegram:202")
    with pytest.raises(ConnectorError, match="not a Telegram"):
        await conn.ban("qq:1", "telegram:202")
    with pytest.raises(ConnectorError, match="not a Telegram message id"):
        await conn.delete(f"telegram:{SUPER}", "m1")
    assert conn.health().state is HealthState.OK  # refusals are not faults of the connection


# --- faults ---

def _raise(exc: type[httpx.HTTPError]) -> Callable[[httpx.Request], httpx.Response]:
    def answer(request: httpx.Request) -> httpx.Response:
        # The inner URL holds the token, as written and URL-quoted (":" as %3A).
        raise exc(f"failed talking to {request.url} ({request.url.path.replace(':', '%3A')})", request=request)
    return answer


@pytest.mark.parametrize("answer, error, fragment", [
    (lambda r: _error(429, "Too Many Requests: retry after 7", retry_after=7), RateLimited, "retry after 7"),
    (lambda r: httpx.Response(502, text="<html>Bad Gateway</html>"), TransientError, "HTTP 502"),
    (lambda r: _error(500, "Internal Server Error"), TransientError, "Internal Server Error"),
    (_raise(httpx.ReadTimeout), TransientError, "timed out"),
    (_raise(httpx.ConnectError), TransientError, "connection failed"),
    (lambda r: httpx.Response(200, text='{"ok": true, "result": [{"update_'), TransientError, "unreadable"),
    (lambda r: httpx.Response(200, json={"ok": True, "result": {"update_id": 1}}), TransientError, "malformed"),
    (lambda r: httpx.Response(200, json={"ok": True, "result": [{"message": {}}]}), TransientError, "malformed"),
    (lambda r: _error(401, "Unauthorized"), AuthFailed, "token was refused"),
    (lambda r: _error(404, "Not Found"), AuthFailed, "token was refused"),
    (lambda r: _error(409, "Conflict: terminated by other getUpdates request; make sure that only one bot "
                          "instance is running"), ConnectorError, "only one bot instance"),
    (lambda r: _error(400, "Bad Request: wrong parameter"), ConnectorError, "Bad Request: wrong parameter"),
])
async def test_poll_faults_raise_typed_errors_without_the_token(server, caplog, answer, error, fragment):
    conn, cursor = await started(server)
    server.faults.append(answer)
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(error) as e:
            await conn.poll(cursor, 0)
    assert type(e.value) is error
    assert fragment in str(e.value) and "\n" not in str(e.value)
    for shown in (str(e.value), repr(e.value), repr(conn), caplog.text, str(conn.health())):
        assert SECRET_PART not in shown
    expected = {AuthFailed: HealthState.DOWN}.get(error, HealthState.DEGRADED)
    assert conn.health().state is expected and conn.health().reason
    # The cursor did not move: the next poll asks for the same updates, and health recovers.
    server.push("message", message(1, ANN, T0, "back"))
    batch = await conn.poll(cursor, 0)
    assert [e.text for e in batch.events] == ["back"]
    assert conn.health().state is HealthState.OK


async def test_retry_after_comes_from_the_answer_parameters(server):
    conn, cursor = await started(server)
    server.faults.append(lambda r: _error(429, "Too Many Requests: retry after 7", retry_after=7))
    with pytest.raises(RateLimited) as e:
        await conn.poll(cursor, 0)
    assert e.value.retry_after == 7
    server.faults.append(lambda r: _error(429, "Too Many Requests: retry after 3", retry_after=3))
    with pytest.raises(RateLimited) as e:
        await conn.send(f"telegram:{SUPER}", "hello")
    assert e.value.retry_after == 3


async def test_the_token_never_shows_in_logs_reprs_or_errors(server, caplog):
    conn = connect(server)
    with caplog.at_level(logging.DEBUG):  # httpx logs every request URL at INFO
        await conn.poll(None, 0)
        await conn.probe()
        server.faults.append(_raise(httpx.ConnectError))
        with pytest.raises(TransientError) as e:
            await conn.send(f"telegram:{SUPER}", "hi")
    assert "HTTP Request: POST https://api.telegram.org/bot***/getUpdates" in caplog.text
    assert len(server.calls) >= 4 and all(SECRET_PART not in s for s in
                                          (caplog.text, str(e.value), repr(e.value), repr(conn), repr(conn._api),
                                           repr(conn._options)))
    assert e.value.__cause__ is None and e.value.__suppress_context__  # no chained httpx error to print


async def test_the_token_is_sent_in_the_path_as_the_bot_api_wants(server):
    seen: list[str] = []
    server.faults.append(lambda r: (seen.append(r.url.path), _ok([]))[1])
    await connect(server).poll(None, 0)
    assert seen == [f"/bot{TOKEN}/getUpdates"]


# --- probe and groups ---

async def test_probe_reports_the_bot_privacy_mode_and_each_chat(server):
    server.results.update({
        "getChat": {"id": SUPER, "type": "supergroup", "title": "Fans"},
        "getChatMemberCount": 42,
        "getChatMember": member(BOT, "administrator", can_restrict_members=True, can_delete_messages=False),
    })
    lines = await connect(server, chats=[SUPER]).probe()
    assert lines[0] == f"logged in as @watch_bot (bot id {BOT_ID})"
    assert any("privacy mode is on" in line for line in lines)
    assert lines[-1].strip() == f"Fans ({SUPER}, 42 members): admin, missing rights: delete messages"


async def test_probe_without_chats_and_with_a_refused_token(server):
    server.results["getMe"]["can_read_all_group_messages"] = True
    lines = await connect(server).probe()
    assert not any("privacy" in line for line in lines) and "no chats configured" in lines[-1]
    server.faults.append(lambda r: _error(401, "Unauthorized"))
    with pytest.raises(AuthFailed):
        await connect(server).probe()


async def test_probe_names_a_chat_the_bot_is_not_in(server):
    server.handlers["getChat"] = lambda body: _error(400, "Bad Request: chat not found")
    lines = await connect(server, chats=[SUPER]).probe()
    assert lines[-1].strip() == f"{SUPER}: telegram getChat: Bad Request: chat not found"


async def test_groups_are_the_configured_chats_and_those_seen(server):
    server.results.update({"getChat": {"id": SUPER, "type": "supergroup", "title": "Fans"},
                           "getChatMemberCount": 42})
    conn = connect(server, chats=[SUPER])
    [g] = await conn.groups()
    assert (g.id, g.name, g.platform, g.member_count) == (f"telegram:{SUPER}", "Fans", "telegram", 42)


# --- configuration ---

@pytest.mark.parametrize("options, environ, message", [
    ({}, {}, "no token; add token_env"),
    ({"token_env": "TG"}, {}, "environment variable TG (from token_env) is not set"),
    ({"token": TOKEN}, {}, "do not write token into the config file"),
    ({"token_env": "TG", "chat": [SUPER]}, {"TG": TOKEN}, "unknown key 'chat' (did you mean 'chats'?)"),
    ({"token_env": "TG", "colour": "red"}, {"TG": TOKEN}, "unknown key 'colour' (known keys: token_env"),
    ({"token_env": "TG"}, {"TG": "not-a-token"}, "does not look like a bot token"),
    ({"token_env": "TG", "chats": [201]}, {"TG": TOKEN}, "chats: 201 is not a group id"),
    ({"token_env": "TG", "chats": "-100"}, {"TG": TOKEN}, "chats must be a non-empty list"),
    ({"token_env": "TG", "chats": [True]}, {"TG": TOKEN}, "chats: True is not a group id"),
    ({"token_env": "TG", "api_url": f"https://api.telegram.org/bot{TOKEN}"}, {"TG": TOKEN},
     "api_url must not contain the bot token"),
    ({"token_env": "TG", "api_url": "ftp://example.org"}, {"TG": TOKEN}, "api_url must be an http(s) URL"),
])
def test_bad_options_are_one_clear_line(options, environ, message):
    with pytest.raises(BadOptions) as e:
        TelegramConnector.from_settings("shop-bot", options, environ=environ)
    text = str(e.value)
    assert text.startswith("[[connector]] 'shop-bot': ") and message in text and "\n" not in text
    assert SECRET_PART not in text


def test_good_options(tmp_path):
    secret = tmp_path / "tg.token"
    secret.write_text(TOKEN + "\n")
    secret.chmod(0o600)
    conn = TelegramConnector.from_settings("tg", {"token_file": str(secret), "chats": [-1001, "telegram:-1002"],
                                                  "api_url": "http://127.0.0.1:8081/"})
    assert conn._options.chats == frozenset({-1001, -1002})
    assert conn._options.api_url == "http://127.0.0.1:8081"
    assert SECRET_PART not in repr(conn)


# --- with the engine ---

async def test_the_engine_watches_a_bot_and_counts_each_change_once(server):
    import asyncio

    from console.engine.engine import Engine
    from console.engine.settings import Settings

    settings = Settings()
    settings.engine.poll_timeout = 0.1
    conn, cursor = await started(server)
    engine = Engine(settings, [conn], clock=lambda: float(T0 + 60))
    engine.cursors["tg"] = cursor
    server.push("message", message(1, ADMIN, T0, new_chat_members=[BOB]))
    server.push("chat_member", chat_member(ADMIN, BOB, "left", "member", T0))
    server.push("message", message(2, BOB, T0 + 10, "hello, I am new"))
    server.push("edited_message", message(2, BOB, T0 + 10, "hello, I am new (edited)", edit_date=T0 + 20))
    await asyncio.wait_for(engine.run(until=lambda: engine.events_total >= 2 and len(server.queue) == 0), 5)
    g = engine.stats.groups[f"telegram:{SUPER}"]
    assert sum(g.hourly_joins.values()) == 1 and sum(g.hourly_messages.values()) == 1
    bob = g.members["telegram:202"]
    assert (bob.name, bob.present, bob.messages_seen) == ("Bob", True, 1)
    assert engine.events_total == 2 and engine.status["tg"].health.state.value == "ok"
    assert json.loads(engine.cursors["tg"])["offset"] == server.next_id + 1
