"""The Matrix connector: against a real Synapse on loopback, and its mapping and faults without one."""
from __future__ import annotations

import asyncio
import json
import time
import uuid

import httpx
import pytest

from connectors.contract import (AuthFailed, BadOptions, Connector, ConnectorError, HealthState, RateLimited,
                                 TransientError)
from connectors.events import Ban, Join, Leave, Message, MessageDeleted
from connectors.matrix import MatrixConnector
from connectors.matrix.mapping import RoomBook, map_event
from connectors.matrix.mentions import message_content
from console.engine.engine import Engine
from console.engine.moderation import Moderation
from console.engine.settings import ConnectorSettings, Settings
from console.engine.store import Store
from console.runtime import poll_once
from tests.synapse.client import UserClient

# --- helpers ---------------------------------------------------------------------------------------


def mx(raw: str) -> str:
    return f"matrix:{raw}"


def connector(server, user: str = "mod", **kw) -> MatrixConnector:
    return MatrixConnector(f"mx-{user}", server.url, server.users[user].access_token, **kw)


def person(server, user: str) -> UserClient:
    u = server.users[user]
    return UserClient(server.url, u.access_token, u.user_id)


class Recording(httpx.AsyncHTTPTransport):
    """The real transport, noting each request's path (to show which API a behaviour went through)."""

    def __init__(self) -> None:
        super().__init__()
        self.paths: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        return await super().handle_async_request(request)


async def collect(conn: MatrixConnector, cursor: str | None, until, seconds: float = 15.0):
    """Poll (long polls of 1 s) until ``until(events)`` holds; the events and the cursor after them."""
    events: list = []
    deadline = time.monotonic() + seconds
    while True:
        batch = await conn.poll(cursor, 1.0)
        events.extend(batch.events)
        cursor = batch.cursor
        if until(events):
            return events, cursor
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting; got {[(type(e).__name__, getattr(e, 'text', '')) for e in events]}")


async def start(conn: MatrixConnector) -> str:
    """The first poll: from now, no history."""
    batch = await conn.poll(None, 0.0)
    assert batch.events == []
    return batch.cursor


def texts(events) -> list[str]:
    return [e.text for e in events if type(e) is Message]


# --- against a real Synapse ------------------------------------------------------------------------


async def test_messages_joins_leaves_kicks_bans_and_redactions_are_seen_as_such(synapse_server):
    s = synapse_server
    mod, alice, spammer = (s.users[n].user_id for n in ("mod", "alice", "spammer"))
    async with person(s, "mod") as m, person(s, "alice") as a, person(s, "spammer") as sp:
        room = await m.create_room("Fans <i>club</i>", power={alice: 50})
        await m.send(room, "history before groupwatch started")
        conn = connector(s, rooms=[room])
        try:
            cursor = await start(conn)
            await a.join(room)
            await a.send(room, "hello everyone")
            await a.set_display_name("Alice Renamed")  # a profile change is not a join
            await sp.join(room)
            spam = await sp.send(room, "cheap pills at example.com")
            # Seen before it is deleted (a message redacted before any poll arrives empty: skipped).
            events, cursor = await collect(conn, cursor, lambda ev: len(texts(ev)) == 2)
            await conn.delete(mx(room), spam)
            await conn.kick(mx(room), mx(spammer), reason="ads")
            await sp.join(room)
            await a.member_action("ban", room, spammer, "ads again")
            await a.member_action("unban", room, spammer)  # an unban is nobody leaving
            await a.leave(room)
            more, cursor = await collect(conn, cursor, lambda ev: any(
                type(e) is Leave and e.member == mx(alice) for e in ev))
            events += more
        finally:
            await conn.close()
    g = mx(room)
    assert all(e.group == g for e in events)
    summary = [(type(e).__name__, getattr(e, "member", getattr(e, "sender", None))) for e in events]
    assert summary == [
        ("Join", mx(alice)), ("Message", mx(alice)), ("Join", mx(spammer)), ("Message", mx(spammer)),
        ("MessageDeleted", None), ("Leave", mx(spammer)), ("Join", mx(spammer)), ("Ban", mx(spammer)),
        ("Leave", mx(alice)),
    ]
    join_alice, hello, join_spam, ad, deleted, kicked, rejoin, ban, left = events
    assert join_alice.member_name == "Alice & Co" and hello.text == "hello everyone"
    assert hello.sender_name in ("Alice & Co", "Alice Renamed")
    assert ad.sender_name == "Cheap <b>Pills</b>" and ad.text == "cheap pills at example.com"
    assert deleted.message_id == ad.id and deleted.by == mx(mod)
    assert kicked.kicked_by == mx(mod) and not kicked.voluntary
    assert ban.by == mx(alice)
    assert left.voluntary
    assert "history before groupwatch started" not in texts(events)
    assert all(abs(e.at - time.time()) < 120 for e in events)  # the homeserver's own timestamps, in seconds


async def test_groups_members_and_probe_report_what_the_bot_can_do(synapse_server):
    s = synapse_server
    mod, alice = s.users["mod"].user_id, s.users["alice"].user_id
    async with person(s, "mod") as m, person(s, "alice") as a:
        room = await m.create_room("Probe Room")
        await a.join(room)
        alias = f"alices-{uuid.uuid4().hex[:8]}"
        theirs = await a.create_room(None, alias=alias)  # no name; the bot joins with no power there
        await m.join(theirs)
        conn = connector(s, rooms=[room, f"#{alias}:localhost"])  # an alias in the allow-list
        try:
            groups = {g.id: g for g in await conn.groups()}
            members = {mb.id: mb for mb in await conn.members(mx(room))}
            lines = await conn.probe()
        finally:
            await conn.close()
    assert groups[mx(room)].name == "Probe Room" and groups[mx(room)].member_count == 2
    assert groups[mx(theirs)].name == f"#{alias}:localhost" and groups[mx(theirs)].platform == "matrix"
    assert set(members) == {mx(mod), mx(alice)}
    assert members[mx(mod)].is_admin and members[mx(mod)].is_bot and not members[mx(alice)].is_admin
    assert members[mx(alice)].name == s.users["alice"].display_name or members[mx(alice)].name == "Alice Renamed"
    assert lines[0].startswith(f"logged in as {mod}")
    assert lines[1].startswith("2 rooms: ") and f"Probe Room ({room}, 2 members)" in lines[1]
    assert any(ln.startswith(f"#{alias}:localhost: the bot's power level 0 is too low") and "ban needs 50" in ln
               for ln in lines[2:])
    assert not any(ln.startswith("Probe Room:") for ln in lines[2:])
    assert s.users["mod"].access_token not in "\n".join(lines)


async def test_a_mention_arrives_as_a_mention_with_a_pill(synapse_server):
    s = synapse_server
    alice = s.users["alice"].user_id
    async with person(s, "mod") as m, person(s, "alice") as a:
        room = await m.create_room("Mentions")
        # Named before joining: the join carries the name (a later rename reaches rooms in the background).
        await a.set_display_name("Alice & Co")
        await a.join(room)
        bot, theirs = connector(s, rooms=[room]), connector(s, "alice", rooms=[room])
        try:
            cursor = await start(theirs)
            sent = await bot.send(mx(room), "Hi @Alice & Co, long time no see <3", [mx(alice)],
                                  idempotency_key="mention-1")
            events, _ = await collect(theirs, cursor, lambda ev: any(type(e) is Message for e in ev))
            raw = await a.event(room, sent.message_id)
        finally:
            await bot.close()
            await theirs.close()
    (msg,) = [e for e in events if type(e) is Message]
    assert msg.id == sent.message_id and msg.mentions == (mx(alice),)
    assert msg.text == "Hi @Alice & Co, long time no see <3"
    content = raw["content"]
    assert content["m.mentions"] == {"user_ids": [alice]}
    assert content["format"] == "org.matrix.custom.html"
    assert content["formatted_body"] == (f'Hi <a href="https://matrix.to/#/{alice}">@Alice &amp; Co</a>, '
                                         "long time no see &lt;3")


async def test_the_same_idempotency_key_posts_once_even_from_a_new_instance(synapse_server):
    s = synapse_server
    async with person(s, "mod") as m:
        room = await m.create_room("Idempotent")
        first, second = connector(s, rooms=[room]), connector(s, rooms=[room])
        try:
            a = await first.send(mx(room), "weekly digest", idempotency_key="schedule:7:2026-01-05")
            b = await first.send(mx(room), "weekly digest", idempotency_key="schedule:7:2026-01-05")
            c = await second.send(mx(room), "weekly digest", idempotency_key="schedule:7:2026-01-05")
            d = await second.send(mx(room), "weekly digest", idempotency_key="schedule:7:2026-01-12")
        finally:
            await first.close()
            await second.close()
        posted = [e for e in await m.messages(room) if e["content"].get("body") == "weekly digest"]
    assert a.message_id == b.message_id == c.message_id != d.message_id
    assert [e["event_id"] for e in posted] == [a.message_id, d.message_id]


@pytest.mark.parametrize("timeline_limit", [100, 2])  # 2: the homeserver cuts the timeline; /messages fills it
async def test_a_restart_resumes_from_the_saved_cursor_without_missing_or_repeating(synapse_server,
                                                                                     timeline_limit):
    s = synapse_server
    alice, spammer = s.users["alice"].user_id, s.users["spammer"].user_id
    async with person(s, "mod") as m, person(s, "alice") as a, person(s, "spammer") as sp:
        room = await m.create_room("Restarts")
        await a.join(room)
        before = connector(s, rooms=[room], timeline_limit=timeline_limit)
        try:
            cursor = await start(before)
            await a.send(room, "before the restart")
            seen, saved = await collect(before, cursor, lambda ev: "before the restart" in texts(ev))
        finally:
            await before.close()
        # groupwatch is down: the room goes on.
        for i in range(6):
            await a.send(room, f"while down {i}")
        await sp.join(room)
        await sp.send(room, "spam while down")
        wire = Recording()
        after = connector(s, rooms=[room], timeline_limit=timeline_limit, transport=wire)
        try:
            events, cursor = await collect(after, saved, lambda ev: "spam while down" in texts(ev))
            # A crash before the cursor was saved: the same cursor again gives the same events.
            again, again_cursor = await collect(after, saved, lambda ev: "spam while down" in texts(ev))
            await a.send(room, "after the restart")
            later, _ = await collect(after, cursor, lambda ev: "after the restart" in texts(ev))
        finally:
            await after.close()
    assert texts(seen) == ["before the restart"]
    expected = [f"while down {i}" for i in range(6)] + ["spam while down"]
    assert texts(events) == expected
    assert [type(e).__name__ for e in events].count("Join") == 1
    assert [e.id for e in again if type(e) is Message] == [e.id for e in events if type(e) is Message]
    assert again_cursor == cursor
    assert texts(later) == ["after the restart"]
    caught_up = [p for p in wire.paths if p.endswith("/messages")]
    assert bool(caught_up) is (timeline_limit == 2)
    assert not {e.id for e in later if type(e) is Message} & {e.id for e in events if type(e) is Message}
    assert {e.sender for e in events if type(e) is Message} == {mx(alice), mx(spammer)}


async def test_a_blacklisted_member_who_rejoins_is_removed_again(synapse_server, tmp_path):
    s = synapse_server
    alice, spammer = s.users["alice"].user_id, s.users["spammer"].user_id
    async with person(s, "mod") as m, person(s, "alice") as a, person(s, "spammer") as sp:
        room = await m.create_room("Blacklist", power={alice: 50})
        await a.join(room)
        await sp.join(room)
        conn = connector(s, rooms=[room])
        settings = Settings(connectors=[ConnectorSettings(type="matrix", name=conn.name)])
        store = Store(tmp_path)
        engine = Engine(settings, [conn], store)
        moderation = Moderation(settings, store, engine, actor="tester")
        try:
            await poll_once(engine)  # the starting picture: rooms and members, cursor at "now"
            g = engine.stats.groups[mx(room)]
            assert g.name == "Blacklist" and g.members[mx(spammer)].present

            async def poll_until(check) -> None:
                for _ in range(30):
                    batch = await conn.poll(engine.cursors[conn.name], 1.0)
                    engine.take(conn.name, batch.events, batch.cursor)
                    await moderation.drain()
                    if check():
                        return
                pytest.fail("the expected change never showed in the engine")

            _, report = await moderation.blacklist_add(mx(spammer), reason="pill ads")
            assert report.failed == 0 and report.done == 1
            assert await a.membership(room, spammer) == "ban"
            await poll_until(lambda: not g.members[mx(spammer)].present)

            # Another admin lifts the ban on Matrix itself; the spammer comes straight back.
            await a.member_action("unban", room, spammer)
            await sp.join(room)
            await poll_until(lambda: any(x.actor == "auto:blacklist" for x in moderation.ledger.actions())
                             and not g.members[mx(spammer)].present)
            assert await a.membership(room, spammer) == "ban"
            auto = [x for x in moderation.ledger.actions() if x.actor == "auto:blacklist"]
            assert len(auto) == 1 and auto[0].kind.value == "ban" and auto[0].state.value == "done"
            assert (await sp.join(room, ok=(403,)))["errcode"] == "M_BAD_STATE"  # banned: cannot come back

            # Lifting the entry unbans (and an unban where they are not banned is no failure).
            await a.member_action("unban", room, spammer)
            _, lifted = await moderation.blacklist_remove(mx(spammer))
            assert lifted.failed == 0
            await sp.join(room)
            assert await a.membership(room, spammer) == "join"
        finally:
            await conn.close()
            store.close()


async def test_mute_lowers_the_power_level_and_a_later_instance_lifts_it(synapse_server):
    s = synapse_server
    spammer = s.users["spammer"].user_id
    async with person(s, "mod") as m, person(s, "spammer") as sp:
        room = await m.create_room("Mutes")
        await sp.join(room)
        first = connector(s, rooms=[room])
        try:
            cursor = await start(first)
            await first.mute(mx(room), mx(spammer), 1)
            refused = await sp.send(room, "can I talk?", ok=(403,))
            assert refused["errcode"] == "M_FORBIDDEN"
        finally:
            await first.close()
        await asyncio.sleep(1.1)
        second = connector(s, rooms=[room])  # a restart: the mute's end is kept on the homeserver
        try:
            await second.poll(cursor, 0.0)
            assert isinstance(await sp.send(room, "free again"), str)
            await second.mute(mx(room), mx(spammer), 3600)
            await sp.send(room, "muted again?", ok=(403,))
            await second.mute(mx(room), mx(spammer), 0)  # 0 lifts it now
            assert isinstance(await sp.send(room, "and free"), str)
        finally:
            await second.close()


async def test_a_refused_token_is_auth_failed_and_never_shown(synapse_server):
    s = synapse_server
    token = "syt_bm90IGEgdG9rZW4_definitelyNotValid_0000"
    conn = MatrixConnector("bad", s.url, token)
    try:
        with pytest.raises(AuthFailed) as probe_error:
            await conn.probe()
        with pytest.raises(AuthFailed) as poll_error:
            await conn.poll(None, 0.0)
        assert conn.health().state is HealthState.DOWN
    finally:
        await conn.close()
    for e in (probe_error.value, poll_error.value):
        assert "M_UNKNOWN_TOKEN" in str(e) and token not in str(e) and "\n" not in str(e)
    assert token not in repr(conn)


async def test_kicking_someone_with_more_power_is_a_refusal_with_the_reason(synapse_server):
    s = synapse_server
    async with person(s, "alice") as a, person(s, "mod") as m:
        room = await a.create_room("Not ours")
        await m.join(room)
        conn = connector(s, rooms=[room])
        try:
            with pytest.raises(ConnectorError) as e:
                await conn.kick(mx(room), mx(a.user_id), "nope")
        finally:
            await conn.close()
    assert not isinstance(e.value, (TransientError, AuthFailed))
    assert str(e.value).startswith("matrix kick: M_FORBIDDEN")


# --- without a server: documented payloads and faults ----------------------------------------------

ROOM = "!fans:example.org"


def member_event(user, membership, sender=None, prev=None, name=None, ts=1_767_574_800_000, eid="$m"):
    ev = {"type": "m.room.member", "state_key": user, "sender": sender or user, "event_id": eid,
          "origin_server_ts": ts, "content": {"membership": membership, **({"displayname": name} if name else {})}}
    if prev is not None:
        ev["unsigned"] = {"prev_content": {"membership": prev}}
    return ev


def test_membership_changes_map_by_who_did_what():
    book = RoomBook()
    cases = [
        (member_event("@a:x", "join", name="Ann"), Join),
        (member_event("@a:x", "join", prev="join", name="Ann B"), None),  # a display name change
        (member_event("@a:x", "leave", prev="join"), Leave),
        (member_event("@b:x", "leave", sender="@mod:x", prev="join"), Leave),
        (member_event("@b:x", "ban", sender="@mod:x", prev="join"), Ban),
        (member_event("@b:x", "leave", sender="@mod:x", prev="ban"), None),  # an unban
        (member_event("@c:x", "leave", prev="invite"), None),  # an invite declined
        (member_event("@c:x", "invite", sender="@mod:x"), None),
    ]
    got = [map_event(ROOM, ev, book) for ev, _ in cases]
    assert [type(g) if g else None for g in got] == [kind for _, kind in cases]
    assert got[0].member_name == "Ann" and got[0].at == 1_767_574_800.0 and got[0].group == f"matrix:{ROOM}"
    assert got[2].voluntary and got[3].kicked_by == "matrix:@mod:x" and got[4].by == "matrix:@mod:x"
    assert (ROOM, "@a:x") not in book.display  # gone with their leave


def test_messages_map_text_mentions_replies_edits_and_redactions():
    book = RoomBook()
    book.learn(ROOM, member_event("@a:x", "join", name="Ann"))
    base = {"type": "m.room.message", "sender": "@a:x", "origin_server_ts": 1_767_574_801_500}
    plain = map_event(ROOM, {**base, "event_id": "$1", "content": {
        "msgtype": "m.text", "body": "hi @Bob", "m.mentions": {"user_ids": ["@bob:x", "@bob:x", 7]}}}, book)
    legacy = map_event(ROOM, {**base, "event_id": "$2", "content": {
        "msgtype": "m.text", "body": "hi Bob", "format": "org.matrix.custom.html",
        "formatted_body": '<a href="https://matrix.to/#/@bob:x">Bob</a> hi'}}, book)
    reply = map_event(ROOM, {**base, "event_id": "$3", "content": {
        "msgtype": "m.text", "body": "> <@bob:x> original\n> second line\n\nmy answer",
        "m.relates_to": {"m.in_reply_to": {"event_id": "$0"}}}}, book)
    edit = map_event(ROOM, {**base, "event_id": "$4", "content": {
        "msgtype": "m.text", "body": "* buy now", "m.new_content": {"msgtype": "m.text", "body": "buy now"},
        "m.relates_to": {"rel_type": "m.replace", "event_id": "$1"}}}, book)
    image = map_event(ROOM, {**base, "event_id": "$5", "content": {"msgtype": "m.image", "body": "qr.png"}}, book)
    redacted = map_event(ROOM, {**base, "event_id": "$6", "content": {}}, book)
    v11 = map_event(ROOM, {"type": "m.room.redaction", "sender": "@mod:x", "event_id": "$7",
                           "origin_server_ts": 1, "content": {"redacts": "$1"}}, book)
    old = map_event(ROOM, {"type": "m.room.redaction", "sender": "@mod:x", "event_id": "$8",
                           "origin_server_ts": 1, "redacts": "$2", "content": {}}, book)
    assert plain.text == "hi @Bob" and plain.mentions == ("matrix:@bob:x",) and plain.sender_name == "Ann"
    assert plain.at == 1_767_574_801.5 and plain.id == "$1"
    assert legacy.mentions == ("matrix:@bob:x",)
    assert reply.text == "my answer" and reply.reply_to == "$0"
    assert edit.text == "buy now" and edit.id == "$4"
    assert image.text == "[image] qr.png"
    assert redacted is None
    assert type(v11) is MessageDeleted and v11.message_id == "$1" and old.message_id == "$2"
    assert map_event(ROOM, {"type": "m.room.message", "content": {}}, book) is None  # no sender or id


def test_send_content_escapes_names_and_makes_pills():
    c = message_content("Welcome @<script>x</script> & @Bob!\nRules: no ads",
                        ["@evil:x", "@bob:x"], [["<script>x</script>"], ["Bob"]])
    assert c["body"] == "Welcome @<script>x</script> & @Bob!\nRules: no ads"
    assert c["m.mentions"] == {"user_ids": ["@evil:x", "@bob:x"]}
    assert c["formatted_body"] == ('Welcome <a href="https://matrix.to/#/@evil:x">@&lt;script&gt;x&lt;/script&gt;</a>'
                                   ' &amp; <a href="https://matrix.to/#/@bob:x">@Bob</a>!<br/>Rules: no ads')
    assert message_content("@room hello", [], []) == {"msgtype": "m.text", "body": "@room hello", "m.mentions": {}}


def sync_body(next_batch="s2", events=(), limited=False):
    return {"next_batch": next_batch, "rooms": {"join": {ROOM: {
        "timeline": {"events": list(events), "limited": limited, "prev_batch": "p1"},
        "state": {"events": [member_event("@a:x", "join", name="Ann")]}}}}}


def mock_connector(handler, **kw) -> MatrixConnector:
    return MatrixConnector("mx", "https://matrix.example.org", "secret-token-123", user_id="@bot:example.org",
                           transport=httpx.MockTransport(handler), **kw)


def routes(sync):
    """A handler answering /sync with ``sync(request)`` and the mute book's account data with 404."""
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["Authorization"] == "Bearer secret-token-123"
        if request.url.path.endswith("/sync"):
            return sync(request)
        return httpx.Response(404, json={"errcode": "M_NOT_FOUND", "error": "not found"})
    return handler


async def test_a_sync_maps_events_and_the_cursor_follows_them():
    seen = []

    def sync(request):
        seen.append(dict(request.url.params))
        msg = {"type": "m.room.message", "sender": "@a:x", "event_id": "$1", "origin_server_ts": 1000,
               "content": {"msgtype": "m.text", "body": "hello"}}
        return httpx.Response(200, json=sync_body("s1" if "since" not in request.url.params else "s3", [msg]))

    conn = mock_connector(routes(sync))
    assert isinstance(conn, Connector)
    first = await conn.poll(None, 25.0)
    assert first.events == [] and json.loads(first.cursor)["next_batch"] == "s1"
    batch = await conn.poll(first.cursor, 25.0)
    assert [(e.text, e.sender_name) for e in batch.events] == [("hello", "Ann")]
    assert json.loads(batch.cursor)["next_batch"] == "s3"
    assert seen[1]["since"] == "s1" and seen[1]["timeout"] == "25000" and seen[0]["timeout"] == "0"
    f = json.loads(seen[1]["filter"])
    assert "m.room.member" in f["room"]["timeline"]["types"] and f["room"]["state"]["lazy_load_members"]
    await conn.close()


@pytest.mark.parametrize("response, error, words", [
    (httpx.Response(429, json={"errcode": "M_LIMIT_EXCEEDED", "error": "Too many", "retry_after_ms": 1500}),
     RateLimited, "rate limited"),
    (httpx.Response(502, text="<html>Bad Gateway</html>"), TransientError, "HTTP 502"),
    (httpx.Response(200, text="{not json"), TransientError, "not a JSON object"),
    (httpx.Response(200, json={"rooms": {}}), TransientError, "no next_batch"),
    (httpx.Response(200, json={"next_batch": "s9", "rooms": []}), TransientError, "rooms is not an object"),
    (httpx.Response(401, json={"errcode": "M_UNKNOWN_TOKEN", "error": "Invalid access token"}),
     AuthFailed, "token was refused"),
])
async def test_faults_become_the_contracts_errors(response, error, words):
    conn = mock_connector(routes(lambda request: response))
    with pytest.raises(error) as e:
        await conn.poll(json.dumps({"v": 1, "next_batch": "s1"}), 5.0)
    assert words in str(e.value) and "secret-token-123" not in str(e.value)
    if error is RateLimited:
        assert e.value.retry_after == 1.5
    assert conn.health().state is (HealthState.DOWN if error is AuthFailed else HealthState.DEGRADED)
    await conn.close()


async def test_a_timeout_is_transient_and_the_next_success_heals():
    calls = []

    def sync(request):
        calls.append(1)
        if len(calls) == 1:
            raise httpx.ReadTimeout("read timed out", request=request)
        return httpx.Response(200, json=sync_body("s4"))

    conn = mock_connector(routes(sync))
    with pytest.raises(TransientError, match="did not answer in time"):
        await conn.poll(json.dumps({"v": 1, "next_batch": "s1"}), 5.0)
    assert conn.health().state is HealthState.DEGRADED
    await conn.poll(json.dumps({"v": 1, "next_batch": "s1"}), 5.0)
    assert conn.health().state is HealthState.OK
    await conn.close()


def test_options_are_checked_with_one_line_errors(tmp_path):
    env = {"MX_TOKEN": "tok-abc"}
    ok = MatrixConnector.from_settings("home", {"homeserver": "https://matrix.example.org/", "token_env": "MX_TOKEN",
                                               "rooms": ["!a:example.org", "#fans:example.org"]}, environ=env)
    assert ok.homeserver == "https://matrix.example.org" and "tok-abc" not in repr(ok)
    bad = [
        ({"homeserver": "https://m.org", "token_env": "MX_TOKEN", "room": ["!a:m.org"]}, "did you mean 'rooms'"),
        ({"token_env": "MX_TOKEN"}, "no homeserver"),
        ({"homeserver": "matrix.org", "token_env": "MX_TOKEN"}, "must start with https://"),
        ({"homeserver": "https://m.org/_matrix/client/v3", "token_env": "MX_TOKEN"}, "without /_matrix"),
        ({"homeserver": "https://m.org", "token": "tok-abc"}, "do not write token into the config file"),
        ({"homeserver": "https://m.org", "token_env": "MX_TOKEN", "rooms": ["fans"]}, "rooms item 1"),
        ({"homeserver": "https://m.org", "token_env": "MX_TOKEN", "user_id": "bot"}, "user_id must be"),
        ({"homeserver": "https://m.org", "token_env": "NOPE"}, "NOPE"),
    ]
    for options, words in bad:
        with pytest.raises(BadOptions) as e:
            MatrixConnector.from_settings("home", options, environ=env)
        assert words in str(e.value) and "\n" not in str(e.value) and "tok-abc" not in str(e.value), options
        assert str(e.value).startswith("[[connector]] 'home'")


async def test_actions_call_the_documented_endpoints_and_a_needless_unban_is_no_failure():
    calls: list[tuple[str, str, dict]] = []
    membership = {"@gone:x": "leave", "@banned:x": "ban"}

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.raw_path.decode()
        body = json.loads(request.content) if request.content else {}
        calls.append((request.method, path, body))
        if path.endswith("/unban"):
            # Some homeservers refuse to unban someone who is not banned (Synapse answers 200).
            return httpx.Response(403, json={"errcode": "M_FORBIDDEN", "error": "not banned"})
        if "/state/m.room.member/" in path:
            user = path.rsplit("/", 1)[1].replace("%40", "@").replace("%3A", ":")
            return httpx.Response(200, json={"membership": membership[user]})
        if "/send/" in path or "/redact/" in path:
            return httpx.Response(200, json={"event_id": "$new"})
        return httpx.Response(200, json={})

    conn = mock_connector(handler)
    group = f"matrix:{ROOM}"
    await conn.kick(group, "matrix:@a:x", "spam\nand more")
    await conn.ban(group, "matrix:@a:x", "ads", until=time.time() + 3600)
    await conn.unban(group, "matrix:@gone:x")
    with pytest.raises(ConnectorError, match="M_FORBIDDEN: not banned"):
        await conn.unban(group, "matrix:@banned:x")
    await conn.delete(group, "$abc/def")
    one = await conn.send(group, "hello", idempotency_key="k1")
    two = await conn.send(group, "hello", idempotency_key="k1")
    await conn.send(group, "hello", idempotency_key="k2")
    with pytest.raises(ConnectorError, match="not a Matrix user id"):
        await conn.kick(group, "telegram:777")
    await conn.close()
    room = "%21fans%3Aexample.org"
    assert calls[0] == ("POST", f"/_matrix/client/v3/rooms/{room}/kick", {"user_id": "@a:x", "reason": "spam and more"})
    assert calls[1] == ("POST", f"/_matrix/client/v3/rooms/{room}/ban", {"user_id": "@a:x", "reason": "ads"})
    assert any(p.endswith("/redact/%24abc%2Fdef/" + p.rsplit("/", 1)[1]) for _, p, _ in calls)
    sends = [p for m, p, _ in calls if "/send/m.room.message/" in p]
    assert one.message_id == two.message_id == "$new"
    assert sends[0] == sends[1] != sends[2]  # same key, same transaction id
