"""The OneBot v11 connector (QQ) against a protocol-faithful fake implementation on loopback."""
from __future__ import annotations

import asyncio
import logging
import os
import time

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from connectors.contract import (AuthFailed, BadOptions, Capability, Connector, ConnectorError, HealthState,
                                 RateLimited, TransientError, Unsupported)
from connectors.events import Leave, Message, MessageDeleted
from connectors.onebot import OneBotConnector, cq
from connectors.onebot.cursor import Cursor
from connectors.onebot.options import parse_options
from console.engine.engine import Engine
from console.engine.moderation import Moderation
from console.engine.settings import Settings
from console.engine.store import Store
from console.runtime import poll_once
from tests.onebot_fake import FakeMember, FakeOneBot, cq_decode, plain

DAY = 86400
G1, G2 = 555001, 555002
ANN, BOB, CAROL, LURKER, ADMIN, SPAMMER = 20001, 20002, 20003, 20004, 20005, 20666
TOKEN_ENV = "GW_TEST_QQ_TOKEN"


def qq(n: int) -> str:
    return f"qq:{n}"


def members(now: int) -> list[FakeMember]:
    return [FakeMember(ANN, "ann_nick", card="Annie", join_time=now - 90 * DAY, last_sent_time=now - 3600),
            FakeMember(BOB, "Bob", join_time=now - 60 * DAY, last_sent_time=now - 2 * DAY),
            FakeMember(CAROL, "Carol", join_time=now - 40 * DAY, last_sent_time=0),  # never spoke
            FakeMember(LURKER, "Lurk", join_time=now - 200 * DAY, last_sent_time=now - 30 * DAY),
            FakeMember(ADMIN, "Boss", role="admin", join_time=now - 300 * DAY, last_sent_time=now - 600),
            FakeMember(SPAMMER, "ads4u", join_time=now - 5 * DAY, last_sent_time=now - 4 * DAY)]


async def start_fake(**kw) -> FakeOneBot:
    fake = await FakeOneBot(**kw).start()
    now = fake.now()
    fake.add_group(G1, "Fans [CN]", members(now))
    fake.add_group(G2, "Traders", [FakeMember(BOB, "Bob", join_time=now - 10 * DAY, last_sent_time=now - 100),
                                   FakeMember(SPAMMER, "ads4u", join_time=now - 3 * DAY, last_sent_time=0)])
    return fake


@pytest.fixture
async def fake():
    f = await start_fake()
    yield f
    await f.stop()


def connect(fake: FakeOneBot, token: str | None = None, **opts) -> OneBotConnector:
    options = {"ws_url": fake.ws_url, "http_url": fake.http_url, "token_env": TOKEN_ENV, **opts}
    env = {TOKEN_ENV: token or fake.token}
    return OneBotConnector("qq", parse_options("qq", options, environ=env), reconnect_min=0.05,
                           reconnect_max=0.2, retry_delay=0.01)


@pytest.fixture
async def conn(fake):
    c = connect(fake)
    yield c
    await c.close()


async def started(c: OneBotConnector, cursor: str | None = None) -> str:
    """Poll until the stream is open: the cursor "now"."""
    batch = await c.poll(cursor, 0.0)
    assert await c._stream.wait_open(3.0), c.health()
    return batch.cursor


async def collect(c: OneBotConnector, cursor: str, n: int, timeout: float = 3.0):
    """Poll until ``n`` events arrived (or time is up): (events, cursor)."""
    events: list = []
    deadline = time.monotonic() + timeout
    while len(events) < n and time.monotonic() < deadline:
        batch = await c.poll(cursor, 0.2)
        events.extend(batch.events)
        cursor = batch.cursor
    return events, cursor


async def until(check, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail("condition never held")
        await asyncio.sleep(0.02)


# --- CQ codes --------------------------------------------------------------------------------

def test_cq_escaping_matches_the_standard():
    assert cq.escape_text("a & [b] , c") == "a &amp; &#91;b&#93; , c"
    assert cq.escape_param("x,y[z]&") == "x&#44;y&#91;z&#93;&amp;"
    assert cq.unescape("&amp;#91; &#91;&#93;&#44;") == "&#91; [],"
    assert cq.parse("hi [CQ:at,qq=123] &#91;CQ:at,qq=all&#93;") == [
        {"type": "text", "data": {"text": "hi "}}, {"type": "at", "data": {"qq": "123"}},
        {"type": "text", "data": {"text": " [CQ:at,qq=all]"}}]
    assert cq.parse("[CQ:share,url=https://x.example/?a=1&#44;2,title=A&amp;B]") == [
        {"type": "share", "data": {"url": "https://x.example/?a=1,2", "title": "A&B"}}]


segment = st.one_of(
    st.builds(lambda t: {"type": "text", "data": {"text": t}}, st.text(min_size=1)),
    st.builds(lambda q: {"type": "at", "data": {"qq": str(q)}}, st.integers(1, 10**10)),
    st.builds(lambda u, t: {"type": "share", "data": {"url": u, "title": t}}, st.text(), st.text()),
)


@hsettings(max_examples=300, deadline=None)
@given(st.lists(segment, max_size=6))
def test_cq_strings_parse_back_to_the_segments_they_came_from(segments):
    merged: list[dict] = []  # adjacent text segments read back as one
    for s in segments:
        if s["type"] == "text" and merged and merged[-1]["type"] == "text":
            merged[-1] = {"type": "text", "data": {"text": merged[-1]["data"]["text"] + s["data"]["text"]}}
        else:
            merged.append(s)
    encoded = cq.to_string(segments)
    assert cq.parse(encoded) == merged
    assert cq_decode(encoded) == merged  # and the fake, written apart, reads it the same way


# --- events ----------------------------------------------------------------------------------

async def test_group_messages_in_array_format_carry_text_mentions_reply_and_name(fake, conn):
    cursor = await started(conn)
    first = await fake.say(G1, BOB, "first")
    await fake.say(G1, ANN, [{"type": "reply", "data": {"id": str(first)}},
                             {"type": "text", "data": {"text": "hi "}}, {"type": "at", "data": {"qq": str(BOB)}},
                             {"type": "text", "data": {"text": " look "}}, {"type": "image", "data": {"file": "x"}},
                             {"type": "at", "data": {"qq": "all"}}])
    events, _ = await collect(conn, cursor, 2)
    assert [type(e) for e in events] == [Message, Message]
    m = events[1]
    assert (m.group, m.sender, m.sender_name) == (qq(G1), qq(ANN), "Annie")  # the group card wins
    assert m.text == "hi @Bob look [image]@all"
    assert m.mentions == (qq(BOB),) and m.reply_to == str(first)
    stored = fake.groups[G1].messages[-1]
    assert (m.id, m.at) == (str(stored["message_id"]), float(stored["time"]))


HOSTILE = "[CQ:at,qq=all] free &#91;money&#93; & more, [CQ:image,file=http://evil.example/x.png]"


@pytest.mark.parametrize("fmt", ["array", "string"])
async def test_text_typed_by_a_stranger_arrives_exactly_as_typed(fmt):
    fake = await start_fake(message_format=fmt)
    c = connect(fake)
    try:
        cursor = await started(c)
        await fake.say(G1, SPAMMER, HOSTILE)
        if fmt == "string":
            assert fake.groups[G1].messages[-1]["message"].startswith("&#91;CQ:at,qq=all&#93; free &amp;#91;")
        (m,), _ = await collect(c, cursor, 1)
        assert m.text == HOSTILE and m.mentions == ()
    finally:
        await c.close()
        await fake.stop()


@pytest.mark.parametrize("send_format", ["string", "array"])
async def test_quoting_hostile_text_back_never_makes_a_real_mention_or_image(fake, send_format):
    c = connect(fake, send_format=send_format)
    try:
        await c.send(qq(G1), f"you wrote: {HOSTILE}")
        sent = fake.sent[-1]
        if send_format == "string":
            assert sent["raw"] == ("you wrote: &#91;CQ:at,qq=all&#93; free &amp;#91;money&amp;#93; &amp; more, "
                                   "&#91;CQ:image,file=http://evil.example/x.png&#93;")
        assert sent["segments"] == [{"type": "text", "data": {"text": f"you wrote: {HOSTILE}"}}]
    finally:
        await c.close()


async def test_send_turns_each_at_name_into_a_cq_at_in_order(fake, conn):
    await conn.members(qq(G1))  # names as the engine knows them: card, else nickname
    await conn.send(qq(G1), "@Annie and @Bob, welcome & [hi]", [qq(ANN), qq(BOB)])
    assert fake.sent[-1]["raw"] == "[CQ:at,qq=20001] and [CQ:at,qq=20002], welcome &amp; &#91;hi&#93;"
    # A name never met is asked for; a mention whose name is not in the text is still made, at the end.
    fresh = connect(fake)
    try:
        r = await fresh.send(qq(G1), "@Carol hello", [qq(CAROL), qq(LURKER)])
        assert fake.sent[-1]["raw"] == "[CQ:at,qq=20003] hello [CQ:at,qq=20004]"
        assert ("get_group_member_info", {"group_id": G1, "user_id": CAROL}) in fake.calls
        assert r.message_id == str(fake.groups[G1].messages[-1]["message_id"])
    finally:
        await fresh.close()
    assert plain(fake.sent[-1]["segments"]) == "@20003 hello @20004"


async def test_our_own_messages_come_back_as_events_and_a_send_is_not_repeated_in_process(fake, conn):
    cursor = await started(conn)
    r1 = await conn.send(qq(G1), "scheduled post", idempotency_key="k1")
    r2 = await conn.send(qq(G1), "scheduled post", idempotency_key="k1")
    assert r1 == r2 and len(fake.actions("send_group_msg")) == 1
    (m,), _ = await collect(conn, cursor, 1)
    assert (m.sender, m.text, m.id) == (qq(fake.self_id), "scheduled post", r1.message_id)
    assert conn.idempotent_send is False  # it does not survive a restart: OneBot has no idempotency key


async def test_joins_leaves_kicks_recalls_and_the_rest(fake, conn):
    cursor = await started(conn)
    await fake.join(G1, 30001, "newbie")
    await fake.join(G1, 30002, "friend", sub_type="invite", operator_id=ANN)
    mid = await fake.say(G1, 30001, "hello all")
    await fake.recall(G1, mid, ADMIN)
    await fake.leave(G1, 30001)
    await fake.admin_kick(G1, 30002, ADMIN)
    await fake.private_message(ANN, "private hello")            # not group traffic
    await fake.emit({"time": fake.now(), "self_id": fake.self_id, "post_type": "notice", "notice_type": "group_ban",
                     "sub_type": "ban", "group_id": G1, "user_id": BOB, "operator_id": ADMIN, "duration": 60})
    await fake.emit({"time": fake.now(), "self_id": fake.self_id, "post_type": "request", "request_type": "group",
                     "sub_type": "add", "group_id": G1, "user_id": 4242, "comment": "let me in", "flag": "x"})
    await fake.emit_raw("this is not json")
    await fake.emit({"post_type": "message", "message_type": "group", "group_id": G1})  # malformed
    await fake.say(G1, BOB, "still here")
    events, _ = await collect(conn, cursor, 7)
    assert [type(e).__name__ for e in events] == ["Join", "Join", "Message", "MessageDeleted", "Leave", "Leave",
                                                   "Message"]
    j1, j2, _, deleted, left, kicked, last = events
    assert (j1.member, j1.inviter) == (qq(30001), None) and j2.inviter == qq(ANN)
    assert (deleted.message_id, deleted.by) == (str(mid), qq(ADMIN))
    assert left.member == qq(30001) and left.voluntary
    assert kicked.member == qq(30002) and kicked.kicked_by == qq(ADMIN) and not kicked.voluntary
    assert last.text == "still here"
    assert conn.health().state is HealthState.OK


async def test_the_bot_kicked_out_of_a_group_is_a_leave_and_a_health_note(fake, conn):
    cursor = await started(conn)
    await fake.kick_bot(G2, ADMIN)
    (ev,), _ = await collect(conn, cursor, 1)
    assert isinstance(ev, Leave) and ev.member == qq(fake.self_id) and ev.kicked_by == qq(ADMIN)
    h = conn.health()
    assert h.state is HealthState.DEGRADED and f"removed from group qq:{G2}" in h.reason
    assert [g.id for g in await conn.groups()] == [qq(G1)]


async def test_the_groups_option_limits_events_and_groups(fake):
    c = connect(fake, groups=[G2])
    try:
        cursor = await started(c)
        await fake.say(G1, ANN, "elsewhere")
        await fake.say(G2, BOB, "here")
        events, _ = await collect(c, cursor, 2, timeout=0.6)
        assert [e.text for e in events] == ["here"]
        assert [g.id for g in await c.groups()] == [qq(G2)]
    finally:
        await c.close()


# --- groups, members, lurkers ----------------------------------------------------------------

async def test_groups_and_members_with_join_and_last_sent_times(fake, conn):
    groups = await conn.groups()
    assert [(g.id, g.name, g.member_count, g.platform) for g in groups] == [
        (qq(G1), "Fans [CN]", 7, "qq"), (qq(G2), "Traders", 3, "qq")]
    ms = {m.id: m for m in await conn.members(qq(G1))}
    lurker = fake.groups[G1].members[LURKER]
    assert lurker.join_time < lurker.last_sent_time < fake.now() - 29 * DAY
    assert ms[qq(ANN)].name == "Annie" and ms[qq(BOB)].name == "Bob"
    assert (ms[qq(LURKER)].last_message_at, ms[qq(LURKER)].joined_at) == (lurker.last_sent_time, lurker.join_time)
    assert ms[qq(CAROL)].last_message_at is None  # 0 in OneBot: never spoke
    assert ms[qq(ADMIN)].is_admin and not ms[qq(ANN)].is_admin
    await conn.probe()  # learns who the bot is
    ms = {m.id: m for m in await conn.members(qq(G1))}
    assert ms[qq(fake.self_id)].is_bot and ms[qq(fake.self_id)].is_admin
    assert Capability.MEMBER_LIST in conn.capabilities


async def test_last_sent_time_feeds_the_lurker_detector_from_the_first_snapshot(fake, conn):
    engine = Engine(Settings(), [conn])
    await engine.load_snapshots()
    engine.tick(time.time())
    alerts = [a for a in engine.alerts.live() if a.kind == "silent_member" and a.group == qq(G1)]
    assert len(alerts) == 1
    listed = set(alerts[0].numbers["members"])
    # Silent 14+ days by last_sent_time (the lurker) or never spoke since joining 40 days ago (Carol).
    assert listed == {qq(LURKER), qq(CAROL)}
    assert engine.stats.groups[qq(G1)].member_list_complete


# --- actions ---------------------------------------------------------------------------------

async def test_kick_ban_and_a_banned_member_cannot_rejoin(fake, conn):
    cursor = await started(conn)
    await conn.kick(qq(G1), qq(BOB), "spam")
    assert fake.actions("set_group_kick")[-1] == {"group_id": G1, "user_id": BOB, "reject_add_request": False}
    assert await fake.join(G1, BOB, "Bob")  # a kick lets them request again
    await conn.ban(qq(G1), qq(SPAMMER), "ads")
    assert fake.actions("set_group_kick")[-1] == {"group_id": G1, "user_id": SPAMMER, "reject_add_request": True}
    assert not await fake.join(G1, SPAMMER, "ads4u")  # QQ refuses the request: no event at all
    events, cursor = await collect(conn, cursor, 3)
    assert [(type(e).__name__, e.member) for e in events] == [("Leave", qq(BOB)), ("Join", qq(BOB)),
                                                              ("Leave", qq(SPAMMER))]
    assert events[1].member_name == str(BOB)  # a join notice names nobody; Bob never spoke here
    await conn.members(qq(G2))  # ...but once known, a returning member is named
    await conn.kick(qq(G2), qq(BOB))
    assert await fake.join(G2, BOB, "Bob")
    more, _ = await collect(conn, cursor, 2)
    assert [(type(e).__name__, getattr(e, "member_name", None)) for e in more] == [("Leave", None), ("Join", "Bob")]
    assert events[2].kicked_by == qq(fake.self_id)


async def test_a_timed_ban_is_a_plain_kick_and_absent_members_cannot_be_banned(fake, conn):
    await conn.ban(qq(G1), qq(SPAMMER), "a week off", until=time.time() + 7 * DAY)
    assert fake.actions("set_group_kick")[-1]["reject_add_request"] is False
    with pytest.raises(Unsupported, match="not in qq:555001.*remove them if they join"):
        await conn.ban(qq(G1), qq(99999))
    assert len(fake.actions("set_group_kick")) == 1


async def test_unban_is_unsupported_with_a_reason(conn):
    assert Capability.UNBAN not in conn.capabilities
    with pytest.raises(Unsupported, match="cannot lift a ban.*QQ client"):
        await conn.unban(qq(G1), qq(SPAMMER))


async def test_mute_and_delete(fake, conn):
    cursor = await started(conn)
    await conn.mute(qq(G1), qq(BOB), 600)
    assert fake.actions("set_group_ban")[-1] == {"group_id": G1, "user_id": BOB, "duration": 600}
    assert fake.groups[G1].members[BOB].shut_up_until >= fake.now() + 590
    await conn.mute(qq(G1), qq(BOB), 0)  # 0 lifts it
    assert fake.groups[G1].members[BOB].shut_up_until == 0
    with pytest.raises(ConnectorError, match="30 days"):
        await conn.mute(qq(G1), qq(BOB), 31 * DAY)
    with pytest.raises(ConnectorError, match="negative"):
        await conn.mute(qq(G1), qq(BOB), -1)
    mid = await fake.say(G1, SPAMMER, "buy followers")
    await conn.delete(qq(G1), str(mid))
    assert fake.actions("delete_msg")[-1] == {"message_id": mid}
    events, _ = await collect(conn, cursor, 2)
    assert isinstance(events[0], Message) and isinstance(events[1], MessageDeleted)
    assert (events[1].message_id, events[1].by) == (str(mid), qq(fake.self_id))  # group_ban notices: ignored


async def test_refusals_name_the_action_and_the_reason(fake, conn):
    fake.groups[G1].members[fake.self_id].role = "member"
    with pytest.raises(ConnectorError, match=r"set_group_kick failed \(retcode 102\): 没有权限") as e:
        await conn.kick(qq(G1), qq(BOB))
    assert not isinstance(e.value, (TransientError, Unsupported, AuthFailed))
    fake.groups[G1].members[fake.self_id].role = "admin"
    with pytest.raises(ConnectorError, match="only the owner"):
        await conn.kick(qq(G1), qq(ADMIN))  # an admin can be removed only by the owner
    with pytest.raises(ConnectorError, match="not a QQ member id"):
        await conn.kick(qq(G1), "telegram:5")


async def test_a_blacklisted_member_is_removed_everywhere_and_refused_or_removed_on_rejoin(fake, conn, tmp_path):
    settings = Settings()
    store = Store(tmp_path)
    engine = Engine(settings, [conn], store)
    mod = Moderation(settings, store, engine, actor="tester")
    try:
        await poll_once(engine)
        assert await conn._stream.wait_open(3.0)
        _, report = await mod.blacklist_add(qq(SPAMMER), reason="ads")
        assert report.done == 2 and report.failed == 0  # present in both groups: banned in both
        assert {(p["group_id"], p["reject_add_request"]) for p in fake.actions("set_group_kick")} == {
            (G1, True), (G2, True)}
        assert not await fake.join(G1, SPAMMER, "ads4u")  # refused by QQ itself

        # A timed entry cannot use QQ's refusal (it cannot be lifted): the join watch removes them instead.
        _, report = await mod.blacklist_add(qq(BOB), reason="cool off", expires_at=time.time() + DAY)
        assert report.done == 2 and {p["reject_add_request"] for p in fake.actions("set_group_kick")[2:]} == {False}
        assert await fake.join(G1, BOB, "Bob")

        async def poll_until(check) -> None:
            for _ in range(40):
                batch = await conn.poll(engine.cursors[conn.name], 0.2)
                engine.take(conn.name, batch.events, batch.cursor)
                await mod.drain()
                if check():
                    return
            pytest.fail("the expected removal never happened")

        await poll_until(lambda: BOB not in fake.groups[G1].members)
        auto = [a for a in mod.ledger.actions() if a.actor == "auto:blacklist"]
        assert [(a.kind.value, a.member, a.state.value) for a in auto] == [("ban", qq(BOB), "done")]
        # Lifting an entry cannot unban on QQ: no unban actions are attempted.
        _, lifted = await mod.blacklist_remove(qq(SPAMMER))
        assert lifted.total == 0 and not fake.actions("unban")
    finally:
        await conn.close()
        store.close()


# --- delivery: drops, restarts, cursors --------------------------------------------------------

async def test_a_dropped_socket_reconnects_and_history_fills_the_gap_exactly_once(fake, conn):
    cursor = await started(conn)
    await fake.say(G1, ANN, "before")
    (before,), cursor = await collect(conn, cursor, 1)
    await fake.stop_ws()
    await until(lambda: conn.health().state is not HealthState.OK)
    assert "event stream" in conn.health().reason and "reconnecting" in conn.health().reason
    await fake.say(G1, BOB, "during 1")   # nobody is listening: only history has these
    await fake.say(G2, BOB, "during 2")
    await fake.start_ws()
    await until(lambda: fake.connections == 2)
    await fake.say(G1, ANN, "after")
    events, cursor = await collect(conn, cursor, 3)
    more, cursor = await collect(conn, cursor, 1, timeout=0.5)
    assert sorted(e.text for e in events[:2]) == ["during 1", "during 2"] and events[2].text == "after"
    assert more == []  # "before" and "after" are not handed over again
    assert conn.health().state is HealthState.OK
    history = fake.actions("get_group_msg_history")
    assert {p["group_id"] for p in history} == {G1, G2}


async def test_without_history_a_gap_is_reported_as_lost(fake):
    fake.history = False
    c = connect(fake)
    try:
        cursor = await started(c)
        fake.drop_clients()
        await until(lambda: fake.connections == 2)
        await until(lambda: "lost" in c.health().reason)
        h = c.health()
        assert h.state is HealthState.DEGRADED and "while the event stream was down are lost" in h.reason
        assert "no get_group_msg_history" in h.reason
        await fake.say(G1, ANN, "after")
        (m,), _ = await collect(c, cursor, 1)
        assert m.text == "after"
    finally:
        await c.close()


async def test_a_restart_resumes_from_the_saved_cursor_without_repeats(fake):
    first = connect(fake)
    cursor = await started(first)
    await fake.say(G1, ANN, "one")
    await fake.say(G1, BOB, "two")
    seen, cursor = await collect(first, cursor, 2)
    await first.close()
    await fake.say(G1, BOB, "while stopped")
    await fake.say(G2, SPAMMER, "spam while stopped")
    second = connect(fake)
    try:
        await second.poll(cursor, 0.0)
        events, cursor2 = await collect(second, cursor, 2)
        assert sorted(e.text for e in events) == ["spam while stopped", "while stopped"]
        assert not {e.id for e in events} & {e.id for e in seen}
        again, _ = await collect(second, cursor2, 1, timeout=0.4)
        assert again == []
    finally:
        await second.close()


async def test_a_poll_with_an_older_cursor_gets_the_same_events_again(fake, conn):
    cursor = await started(conn)
    await fake.say(G1, ANN, "a")
    await fake.say(G1, BOB, "b")
    events, later = await collect(conn, cursor, 2)
    batch = await conn.poll(cursor, 0.0)  # the engine crashed before saving `later`
    assert [e.id for e in batch.events] == [e.id for e in events] and batch.cursor == later


async def test_a_first_run_starts_from_now_and_garbage_cursors_count_as_none(fake, conn):
    await fake.say(G1, ANN, "long ago")
    cursor = await started(conn, cursor="not json at all")
    assert Cursor.parse(cursor) is not None
    events, _ = await collect(conn, cursor, 1, timeout=0.4)
    assert events == [] and not fake.actions("get_group_msg_history")


# --- faults and health ------------------------------------------------------------------------

async def test_heartbeat_loss_shows_degraded_and_recovers(fake, conn):
    await started(conn)
    await until(lambda: conn._stream.heartbeat_at is not None)
    assert conn.health().state is HealthState.OK
    fake.heartbeats = False
    await until(lambda: conn.health().state is HealthState.DEGRADED, timeout=2.0)
    assert "no heartbeat" in conn.health().reason
    fake.heartbeats = True
    await until(lambda: conn.health().state is HealthState.OK, timeout=2.0)
    fake.online = False
    await until(lambda: "offline" in conn.health().reason, timeout=2.0)


@pytest.mark.parametrize("style", ["handshake", "frame"])
async def test_a_refused_token_on_the_socket_is_auth_failed(style):
    fake = await start_fake(ws_auth=style)
    c = connect(fake, token="wrong-token-000")
    try:
        with pytest.raises(AuthFailed) as e:
            await c.poll(None, 3.0)
        assert "wrong-token" not in str(e.value) and "access token refused" in str(e.value)
        assert c.health().state is HealthState.DOWN
        with pytest.raises(AuthFailed):
            await c.groups()
        with pytest.raises(AuthFailed):
            await c.probe()
    finally:
        await c.close()
        await fake.stop()


async def test_faults_on_actions_become_typed_errors(fake, conn):
    fake.fail("get_group_list", "500")
    with pytest.raises(TransientError, match="get_group_list: HTTP 500"):
        await conn.groups()
    assert conn.health().state is HealthState.DEGRADED and "HTTP 500" in conn.health().reason
    await conn.groups()  # the next call succeeds and clears it
    fake.fail("send_group_msg", "garbage")
    with pytest.raises(TransientError, match="send_group_msg: the answer is not JSON"):
        await conn.send(qq(G1), "hello")
    fake.fail("get_group_member_list", "429")
    with pytest.raises(RateLimited):
        await conn.members(qq(G1))
    fake.fail("delete_msg", "failed")
    with pytest.raises(ConnectorError, match=r"delete_msg failed \(retcode 100\): 操作失败"):
        await conn.delete(qq(G1), "12")
    with pytest.raises(Unsupported, match="不支持的Api"):
        await conn._call("no_such_action")
    fake.fail("set_group_kick", "403")
    with pytest.raises(AuthFailed):
        await conn.kick(qq(G1), qq(BOB))


async def test_an_action_that_never_answers_times_out_as_transient(fake):
    c = connect(fake, timeout=1)
    fake.fail("get_group_list", "timeout", delay=3.0)
    try:
        t0 = time.monotonic()
        with pytest.raises(TransientError, match="no answer .* within 1 s"):
            await c.groups()
        assert time.monotonic() - t0 < 2.5
    finally:
        await c.close()


async def test_an_unreachable_implementation_is_degraded_then_down_and_recovers(fake, conn):
    await started(conn)
    await fake.stop_ws()
    await until(lambda: conn._stream.failures >= 5, timeout=5.0)
    h = conn.health()
    assert h.state is HealthState.DOWN and "connection refused" in h.reason
    batch = await conn.poll(None, 0.1)  # never raises for a drop: the health line says it
    assert batch.events == []
    await fake.start_ws()
    await until(lambda: conn.health().state is HealthState.OK, timeout=3.0)


async def test_the_engine_shows_a_drop_promptly_and_keeps_delivering_after_it(fake, conn):
    settings = Settings()
    settings.engine.poll_timeout = 20.0  # a long poll must not hide a drop from the header
    engine = Engine(settings, [conn])
    await engine.load_snapshots()
    run = asyncio.create_task(engine.run())
    try:
        status = engine.status[conn.name]
        await until(lambda: status.health.state is HealthState.OK and status.health.reason == "connected")
        await fake.say(G1, ANN, "live one")
        await until(lambda: engine.stats.groups[qq(G1)].recent and
                    engine.stats.groups[qq(G1)].recent[-1].text == "live one")
        fake.drop_clients()
        await fake.stop_ws()
        await until(lambda: status.health.state is not HealthState.OK, timeout=2.0)
        assert "event stream" in status.health.reason
        await fake.say(G1, BOB, "in the gap")
        await fake.start_ws()
        await until(lambda: status.health.reason == "connected", timeout=3.0)
        await fake.say(G1, ANN, "live two")
        await until(lambda: [m.text for m in engine.stats.groups[qq(G1)].recent][-3:] ==
                    ["live one", "in the gap", "live two"], timeout=3.0)
    finally:
        engine.stop()
        await run


async def test_secrets_stay_out_of_repr_logs_and_errors(fake, caplog):
    caplog.set_level(logging.DEBUG)
    c = connect(fake, token="wrong-token-000")
    try:
        with pytest.raises(AuthFailed):
            await c.groups()
        with pytest.raises(AuthFailed):
            await c.poll(None, 2.0)
        assert "wrong-token" not in repr(c) and "wrong-token" not in repr(c.options)
        # (The fake server's own logs show what it received; only the client side is ours.)
        ours = [r for r in caplog.records if not r.name.startswith("websockets.server")]
        assert any(r.name == "httpx" for r in ours)  # the client side's records are here to look at
        assert not [r.name for r in ours if "wrong-token" in r.getMessage()]
        assert "wrong-token" not in c.health().reason
    finally:
        await c.close()


def test_the_connector_meets_the_contract():
    opts = parse_options("qq", {"ws_url": "ws://127.0.0.1:3001", "http_url": "http://127.0.0.1:3000",
                                "token_env": "T"}, environ={"T": "abcdefgh"})
    c = OneBotConnector("qq", opts)
    assert isinstance(c, Connector) and c.platform == "qq" and c.name == "qq"


# --- options ----------------------------------------------------------------------------------

GOOD = {"ws_url": "ws://127.0.0.1:3001", "http_url": "http://127.0.0.1:3000/", "token_env": "QQ_TOKEN"}
ENV = {"QQ_TOKEN": "s3cret-token"}


def test_from_settings_reads_a_good_table():
    c = OneBotConnector.from_settings("qq-main", {**GOOD, "groups": [123, "qq:456", "789"], "history": False,
                                                  "send_format": "array"}, environ=ENV)
    assert c.name == "qq-main" and c.options.http_url == "http://127.0.0.1:3000"
    assert c.options.groups == ("123", "456", "789") and c.options.history is False
    assert c.options.token == "s3cret-token" and "s3cret" not in repr(c.options.token)


@pytest.mark.parametrize("change, message", [
    ({"ws_url": None}, "no ws_url; add ws_url"),
    ({"ws_url": "http://127.0.0.1:3001"}, "ws_url 'http://127.0.0.1:3001' must start with ws:// or wss://"),
    ({"http_url": "ws://x"}, "http_url 'ws://x' must start with http:// or https://"),
    ({"ws_url": "ws://127.0.0.1:3001/?access_token=abc"}, "ws_url must not hold the access token"),
    ({"ws_url": "ws://127.0.0.1:99999"}, "is not a URL"),
    ({"ws_ulr": "ws://x"}, "unknown key 'ws_ulr' (did you mean 'ws_url'?)"),
    ({"token": "abc"}, "do not write token into the config file"),
    ({"token_env": None}, "no token; add token_env"),
    ({"token_env": "MISSING_VAR"}, "environment variable MISSING_VAR (from token_env) is not set"),
    ({"groups": []}, "groups must be a non-empty list"),
    ({"groups": ["abc"]}, "groups item 1 ('abc') is not a QQ group number"),
    ({"history_count": 0}, "history_count must be a whole number from 1 to 200"),
    ({"send_format": "cq"}, "send_format must be one of 'string', 'array'"),
    ({"timeout": "fast"}, "timeout must be a number of seconds"),
    ({"no_token": "yes"}, "no_token must be true or false"),
    ({"no_token": True}, "no_token = true and a token_env/token_file together"),
    ({"no_token": True, "token_env": None, "ws_url": "ws://10.0.0.5:3001"},
     "no_token = true is only accepted for a ws_url on this machine"),
])
def test_from_settings_names_what_is_wrong(change, message):
    options = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    with pytest.raises(BadOptions) as e:
        OneBotConnector.from_settings("qq", options, environ=ENV)
    text = str(e.value)
    assert text.startswith("[[connector]] 'qq': ") and message in text and "\n" not in text
    assert "s3cret" not in text


def test_no_token_is_accepted_on_loopback_only_when_said_so(tmp_path):
    c = OneBotConnector.from_settings("qq", {"ws_url": "ws://localhost:3001", "http_url": "http://[::1]:3000",
                                             "no_token": True}, environ={})
    assert c.options.token is None
    secret = tmp_path / "token"
    secret.write_text("file-token-123\n")
    os.chmod(secret, 0o644)
    from_file = {"ws_url": GOOD["ws_url"], "http_url": GOOD["http_url"], "token_file": str(secret)}
    with pytest.raises(BadOptions, match="chmod 600"):
        OneBotConnector.from_settings("qq", from_file, environ={})
    os.chmod(secret, 0o600)
    c = OneBotConnector.from_settings("qq", from_file, environ={})
    assert c.options.token == "file-token-123"


async def test_probe_reports_account_groups_stream_and_history(fake, conn):
    lines = await conn.probe()
    assert lines[0] == f"logged in as watchbot (qq:{fake.self_id})"
    ids = list(fake.groups)
    assert lines[1] == f"2 groups: Fans [CN] ({ids[0]}, 7 members), Traders ({ids[1]}, 3 members)", lines[1]
    assert lines[2] == f"to watch only some, in [[connector]]: groups = [{ids[0]}, {ids[1]}]"
    assert lines[3] == f"event stream {fake.ws_url}: open"
    assert lines[4].startswith("history catch-up available")
    fake.history = False
    c = connect(fake, groups=[G1, 424242])
    try:
        lines = await c.probe()
        assert "not a member of qq:424242 (listed in groups)" in lines
        assert lines[-1].startswith("no get_group_msg_history")
    finally:
        await c.close()
