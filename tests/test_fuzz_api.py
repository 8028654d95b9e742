"""Fuzzed platform answers: the connectors turn garbage into typed errors or skip it, never crash.

Each connector runs against ``httpx.MockTransport`` (OneBot's event frames go through its
stream reader's own frame handler) with the documented payloads of its platform, mutated:
wrong types everywhere (null, numbers as strings, lists for objects), missing and extra keys,
deep nesting, huge, negative, float and boolean ids, NaN and infinite numbers; and with
whole answers gone wrong: non-JSON, HTML error pages, empty or truncated bodies, 3xx/4xx/5xx,
``{"ok": false}`` with 200, 429 with and without a retry hint (also absurd ones).

What must hold:

- poll/probe/groups/members/actions return well-formed results (the normalised events of
  connectors/events.py with their declared types, platform-qualified str ids, finite times)
  or raise ConnectorError subclasses from connectors/contract.py, with a one-line message
  without control characters or the token, and a finite, bounded ``retry_after``;
- after a poll failed on a bad answer, health() is degraded or down with a one-line reason, and
  the next good answer heals it; a refused token (AuthFailed) is "down" whatever the call;
- no silent wrong state: a poll whose answer is refused leaves the cursor where it was, and a
  good answer holding some malformed items delivers every well-formed item exactly once while
  skipping the malformed ones. That is the documented behaviour of all three connectors: a
  Telegram update, a Matrix event, a OneBot event frame or history message that cannot be read
  is skipped (and logged) and the cursor moves past it; an answer whose frame cannot be read
  (no update_id list, no next_batch, rooms not an object) is refused whole and the cursor stays.

And one engine: a Telegram bot and a Matrix account whose servers answer garbage for a while,
then good answers: the poll loops never die, health goes degraded/down and back to ok, and
every good message is processed exactly once.
"""
from __future__ import annotations

import asyncio
import copy
import dataclasses
import json
import math
import os
import time
import types
import typing
import unicodedata
from typing import Any, Callable

import httpx
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from connectors.contract import AuthFailed, ConnectorError, Health, HealthState, RateLimited, SendResult
from connectors.events import Ban, Group, Join, Leave, Member, Message, MessageDeleted
from connectors.matrix import MatrixConnector
from connectors.onebot import OneBotConnector
from connectors.onebot.options import parse_options as onebot_options
from connectors.onebot.stream import _Refused
from connectors.telegram import TelegramConnector
from connectors.telegram.cursor import CursorState, decode, encode
from console.engine.engine import Engine
from console.engine.settings import Settings

# GW_FUZZ_EXAMPLES=2000 for a deeper run than CI's.
FUZZ = hsettings(deadline=None, max_examples=int(os.environ.get("GW_FUZZ_EXAMPLES", 80)),
                suppress_health_check=[HealthCheck.too_slow])
TG_TOKEN = "7000555123:AAH-fuzzapi_SECRET_0123456789abcdefXYZ"
MX_TOKEN = "syt_ZnV6emFwaQ_SECRETfuzzmx_0123456789"
QQ_TOKEN = "qq-fuzzapi-SECRET-0123456789"
SECRETS = (TG_TOKEN.split(":", 1)[1], MX_TOKEN, QQ_TOKEN)
MAX_RETRY_AFTER = 3600.0  # what the connectors cap a platform's retry hint at
BAD = (HealthState.DEGRADED, HealthState.DOWN)
T0 = 1_767_574_800

# --- what a well-formed result is ------------------------------------------------------------------


def _typed(value: Any, tp: Any, where: str) -> None:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return
        (arm,) = [a for a in args if a is not type(None)]
        _typed(value, arm, where)
    elif origin is tuple:
        assert type(value) is tuple and all(type(x) is str for x in value), (where, value)
    elif tp is float:
        assert type(value) is float and math.isfinite(value), (where, value)
    else:
        assert type(value) is tp, (where, value)


def check_record(obj: Any) -> None:
    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        _typed(getattr(obj, f.name), hints[f.name], f"{type(obj).__name__}.{f.name}")


def check_event(ev: Any, platform: str) -> None:
    assert type(ev) in (Message, Join, Leave, Ban, MessageDeleted), ev
    check_record(ev)
    assert ev.group.startswith(platform + ":"), ev
    for attr in ("sender", "member", "inviter", "kicked_by", "by"):
        who = getattr(ev, attr, None)
        assert who is None or who.startswith(platform + ":"), ev
    if type(ev) is Message:
        assert all(m.startswith(platform + ":") for m in ev.mentions), ev


def check_events(events: list, platform: str) -> None:
    assert type(events) is list
    for ev in events:
        check_event(ev, platform)


def check_groups(groups: Any, platform: str) -> None:
    assert type(groups) is list
    for g in groups:
        assert type(g) is Group and g.id.startswith(platform + ":") and g.platform == platform, g
        check_record(g)
        assert g.member_count is None or g.member_count >= 0, g


def check_members(members: Any, platform: str) -> None:
    assert members is None or type(members) is list
    for m in members or ():
        assert type(m) is Member and m.id.startswith(platform + ":"), m
        check_record(m)


def one_line_text(text: str, what: str) -> None:
    assert type(text) is str and text.strip(), (what, text)
    assert not any(unicodedata.category(c) == "Cc" for c in text), (what, text)
    assert len(text) <= 1000, (what, len(text))
    for secret in SECRETS:
        assert secret not in text, (what, text)


def check_error(e: BaseException) -> None:
    """A typed, showable error; anything else is a parser bug."""
    if not isinstance(e, ConnectorError):
        raise AssertionError(f"untyped {type(e).__name__} leaked out: {e!r}") from e
    one_line_text(str(e), type(e).__name__)
    if isinstance(e, RateLimited):
        assert type(e.retry_after) is float and 0 <= e.retry_after <= MAX_RETRY_AFTER, e.retry_after


def check_health(h: Health, *, bad: bool) -> None:
    assert type(h) is Health
    if bad:
        assert h.state in BAD, h
        one_line_text(h.reason, "health reason")
    else:
        assert h.state is HealthState.OK, h
    assert "\n" not in h.reason


def check_result(platform: str) -> Callable[[str, Any], None]:
    """What a successful call of each operation returns, well-formed."""
    def check(op: str, result: Any) -> None:
        if op == "probe":
            assert type(result) is list and all(type(line) is str for line in result)
        elif op == "groups":
            check_groups(result, platform)
        elif op == "members":
            check_members(result, platform)
        elif op == "history":
            check_events(result, platform)
        elif op in ("poll", "first poll"):
            check_events(result.events, platform)
            assert type(result.cursor) is str
        elif op == "send":
            assert type(result) is SendResult and type(result.message_id) is str
        else:
            assert result is None, result
    return check


async def outcome(call: Callable[[], Any]) -> tuple[Any, BaseException | None]:
    try:
        return await call(), None
    except Exception as e:  # noqa: BLE001 - every kind is judged by check_error
        check_error(e)
        return None, e


# --- hostile JSON ----------------------------------------------------------------------------------


class Deep:
    """``value`` inside ``depth`` arrays, written out as text (json.dumps itself would recurse)."""

    def __init__(self, value: Any, depth: int) -> None:
        self.value, self.depth = value, depth


def to_json(obj: Any) -> str:
    if isinstance(obj, Deep):
        return "[" * obj.depth + to_json(obj.value) + "]" * obj.depth
    if isinstance(obj, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{to_json(v)}" for k, v in obj.items()) + "}"
    if isinstance(obj, list):
        return "[" + ",".join(to_json(v) for v in obj) + "]"
    return json.dumps(obj)  # NaN and Infinity as Python writes (and reads) them


HOSTILE_STR = ["", " ", "null", "123", "-1001234", "1e999", "NaN", "true", "\x1b[2J\x1b]52;c;eA==\x07", "\u202e",
               "a\nb", "[CQ:at,qq=all]", "<b>x</b>", "\x00", "\ud7ff", "x" * 5000, "$e1", "@a:x", "!r:x"]
HUGE = [2**53 + 1, 2**63, -2**63 - 1, 10**30, -10**30, 10**400]
scalar = st.one_of(st.none(), st.booleans(), st.integers(-2**31, 2**31), st.sampled_from(HUGE),
                   st.floats(), st.sampled_from(HOSTILE_STR), st.text(max_size=8))
hostile = st.recursive(scalar, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["id", "type", "x", "0", ""]), inner, max_size=3)),
    max_leaves=6)
OPS = ["replace", "delete", "extra", "wrap", "deep", "stringify", "floatify", "negate", "bool", "null", "huge",
       "empty"]


def _paths(obj: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, prefix + (i,))
    return out


def mutate(draw: Callable, obj: Any, times: int = 1, protect: tuple = ()) -> Any:
    """A deep copy of ``obj`` with ``times`` random changes at random places (none under ``protect``)."""
    obj = copy.deepcopy(obj)
    for _ in range(times):
        paths = [p for p in _paths(obj) if p and not any(p[:len(q)] == q for q in protect)]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = obj
        for k in path[:-1]:
            parent = parent[k]
        key, cur = path[-1], parent[path[-1]]
        op = draw(st.sampled_from(OPS))
        if op == "delete":
            del parent[key]
            continue
        if op == "extra":
            if isinstance(cur, dict):
                cur[draw(st.sampled_from(["x_extra", "", "\x1b"]))] = draw(hostile)
            continue
        new = {"replace": lambda: draw(hostile), "wrap": lambda: [cur],
               "deep": lambda: Deep(cur, draw(st.sampled_from([50, 3000]))),
               "stringify": lambda: cur if isinstance(cur, str) else to_json(cur),
               "floatify": lambda: float(cur) + 0.5 if isinstance(cur, int) and abs(cur) < 2**60 else 1.5,
               "negate": lambda: -cur if isinstance(cur, (int, float)) and not isinstance(cur, bool) else -1,
               "bool": lambda: True, "null": lambda: None, "huge": lambda: draw(st.sampled_from(HUGE)),
               "empty": lambda: {} if isinstance(cur, dict) else [] if isinstance(cur, list) else ""}[op]()
        parent[key] = new
    return obj


def response(status: int, body: Any = None, *, raw: bytes | None = None, headers: dict | None = None) -> httpx.Response:
    content = raw if raw is not None else to_json(body).encode()
    return httpx.Response(status, content=content, headers={"Content-Type": "application/json", **(headers or {})})


RETRY_HINTS = [None, 0, 1, -5, 1.5, 1e308, 10**30, 10**400, "5", True, float("nan"), float("inf")]
RETRY_HEADERS = [None, "5", "0", "-3", "inf", "nan", "1e400", "Wed, 21 Oct 2015 07:28:00 GMT", "", "\x1b"]


@st.composite
def broken_answer(draw, good: Any, error_body: Callable[[Any], Any]) -> httpx.Response:
    """A whole answer gone wrong (status, body or framing); ``good`` is the documented answer."""
    kind = draw(st.sampled_from(["status", "html", "empty", "truncated", "deep", "notjson", "scalar",
                                 "error", "429", "3xx"]))
    good_text = to_json(good).encode()
    if kind == "status":
        return response(draw(st.sampled_from([200, 201, 204, 400, 401, 403, 404, 409, 418, 500, 502, 503])), good)
    if kind == "html":
        return httpx.Response(draw(st.sampled_from([200, 502, 504])), text="<html><body>502 Bad Gateway</body></html>",
                              headers={"Content-Type": "text/html"})
    if kind == "empty":
        return response(draw(st.sampled_from([200, 500])), raw=b"")
    if kind == "truncated":
        return response(200, raw=good_text[:draw(st.integers(0, max(0, len(good_text) - 1)))])
    if kind == "deep":
        return response(200, raw=b"[" * 100_000 + b"]" * 100_000)
    if kind == "notjson":
        return response(200, raw=draw(st.sampled_from([b"\xff\xfe\x00", b"{'a': 1}", b"NaN", b"1e999", b"\x00"])))
    if kind == "scalar":
        return response(200, draw(st.sampled_from([None, [], "ok", 1, True, 10**400])))
    if kind == "error":
        return response(draw(st.sampled_from([200, 400, 403, 500])), error_body(draw(hostile)))
    if kind == "429":
        hint, header = draw(st.sampled_from(RETRY_HINTS)), draw(st.sampled_from(RETRY_HEADERS))
        return response(429, error_body(hint), headers={"Retry-After": header} if header is not None else {})
    return httpx.Response(draw(st.sampled_from([301, 302, 307])), headers={"Location": "https://elsewhere.example/"},
                          text="moved")


def run(coro_fn: Callable[[], Any]) -> Any:
    return asyncio.run(coro_fn())


# ====================================================================================================
# Telegram
# ====================================================================================================

TG_CHAT = {"id": -1001234, "title": "Fans", "type": "supergroup"}
ANN = {"id": 201, "is_bot": False, "first_name": "Ann", "last_name": "Lee", "username": "ann"}


def tg_update(uid: int) -> dict:
    return {"update_id": uid, "message": {"message_id": 1000 + uid, "date": T0 + uid, "chat": dict(TG_CHAT),
                                          "from": dict(ANN), "text": f"msg {uid}"}}


def tg_ok(result: Any) -> dict:
    return {"ok": True, "result": result}


def tg_error(hint: Any) -> dict:
    return {"ok": False, "error_code": 429 if isinstance(hint, (int, float)) else hint, "description": "Too Many",
            "parameters": {"retry_after": hint}}


TG_GOOD = {
    "getMe": {"id": 7000555123, "is_bot": True, "first_name": "Watch", "username": "watch_bot",
              "can_read_all_group_messages": False},
    "getWebhookInfo": {"url": "", "pending_update_count": 0},
    "getChat": dict(TG_CHAT),
    "getChatMemberCount": 42,
    "getChatMember": {"user": dict(ANN), "status": "administrator", "can_restrict_members": True,
                      "can_delete_messages": True},
    "sendMessage": {"message_id": 9001, "date": T0, "chat": dict(TG_CHAT), "text": "hi"},
    "banChatMember": True, "unbanChatMember": True, "restrictChatMember": True, "deleteMessage": True,
    "getUpdates": [tg_update(501), tg_update(502)],
}


def tg_connector(handler: Callable[[httpx.Request], httpx.Response], **options: Any) -> TelegramConnector:
    conn = TelegramConnector.from_settings("tg", {"token_env": "T", **options}, environ={"T": TG_TOKEN},
                                           transport=httpx.MockTransport(handler))
    conn._clock = lambda: T0
    return conn


def tg_method(request: httpx.Request) -> str:
    return request.url.path.rsplit("/", 1)[1]


@st.composite
def tg_updates_answer(draw) -> tuple[httpx.Response, list[int], bool]:
    """A getUpdates answer, the update ids left intact (their messages must arrive), and whether the
    answer as a whole must be refused."""
    uids = sorted(draw(st.lists(st.integers(500, 540), max_size=6, unique=True)))
    updates = [tg_update(u) for u in uids]
    if draw(st.integers(0, 9)) == 0:
        return draw(broken_answer(tg_ok(updates), tg_error)), [], False  # some "broken" ones are fine
    intact, refuse = [], False
    for i, u in enumerate(updates):
        if draw(st.booleans()):
            updates[i] = mutate(draw, u, draw(st.integers(1, 3)), protect=(("update_id",),))
        if updates[i] == u:
            intact.append(u["update_id"])
    if updates and draw(st.integers(0, 6)) == 0:  # an update without a usable id: the list is unusable
        updates[draw(st.integers(0, len(updates) - 1))]["update_id"] = draw(st.sampled_from(
            [None, "501", 501.0, True, [501], {}]))
        refuse, intact = True, []
    if draw(st.integers(0, 6)) == 0:
        updates.append(draw(hostile))  # not even an object
        refuse, intact = True, []
    return response(200, tg_ok(updates)), intact, refuse


@FUZZ
@given(answer=tg_updates_answer())
def test_telegram_get_updates_skips_only_what_it_cannot_read_and_never_advances_past_it(answer):
    resp, intact, refuse = answer
    cursor = encode(CursorState(offset=500))
    calls: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(json.loads(request.content))
        return resp if len(calls) == 1 else response(200, tg_ok([tg_update(600)]))

    async def go() -> None:
        conn = tg_connector(handler)
        try:
            batch, err = await outcome(lambda: conn.poll(cursor, 0))
            if err is not None or refuse:
                assert err is not None, "a refused answer was taken"
                check_health(conn.health(), bad=True)
                # Nothing was confirmed: the next poll asks again from the same offset, and heals.
                again = await conn.poll(cursor, 0)
                assert calls[1]["offset"] == 500 and [e.text for e in again.events] == ["msg 600"]
                check_health(conn.health(), bad=False)
                return
            check_events(batch.events, "telegram")
            uids = [u["update_id"] for u in json.loads(resp.content)["result"]]
            # Past every update in the answer, the skipped ones too (they are logged): none is left behind.
            assert decode(batch.cursor).offset == (max(uids) + 1 if uids else 500)
            texts = [e.text for e in batch.events if type(e) is Message]
            for uid in intact:
                assert texts.count(f"msg {uid}") == 1, (uid, texts)
            check_health(conn.health(), bad=False)
        finally:
            await conn.close()

    run(go)


def fuzzed(data: st.DataObject, good: Any, wrap: Callable[[Any], Any], error: Callable[[Any], Any]) -> httpx.Response:
    """A broken answer, or the documented one mutated, or a hostile value where it goes."""
    kind = data.draw(st.integers(0, 2))
    if kind == 0:
        return data.draw(broken_answer(wrap(good), error))
    if kind == 1:
        return response(200, wrap(mutate(data.draw, good, data.draw(st.integers(1, 3)))))
    return response(200, wrap(data.draw(hostile)))


@FUZZ
@given(data=st.data())
def test_telegram_first_poll_on_fuzzed_answers_takes_a_usable_position_or_fails(data):
    resp = fuzzed(data, [tg_update(777)], tg_ok, tg_error)

    async def go() -> None:
        conn = tg_connector(lambda request: resp)
        try:
            batch, err = await outcome(lambda: conn.poll(None, 0))
            if err is not None:
                check_health(conn.health(), bad=True)
            else:
                assert batch.events == [] and decode(batch.cursor) is not None
        finally:
            await conn.close()

    run(go)


TG_OPERATIONS: dict[str, tuple[Callable[[TelegramConnector], Any], tuple[str, ...]]] = {
    "poll": (lambda c: c.poll(encode(CursorState(offset=500)), 0), ("getUpdates",)),
    "first poll": (lambda c: c.poll(None, 0), ("getUpdates",)),
    "probe": (lambda c: c.probe(), ("getMe", "getWebhookInfo", "getChat", "getChatMemberCount", "getChatMember")),
    "groups": (lambda c: c.groups(), ("getChat", "getChatMemberCount")),
    "send": (lambda c: c.send("telegram:-1001234", "hi @Ann Lee and @bob", ["telegram:201", "telegram:202"]),
             ("getChatMember", "sendMessage")),
    "kick": (lambda c: c.kick("telegram:-1001234", "telegram:201"), ("banChatMember", "unbanChatMember")),
    "ban": (lambda c: c.ban("telegram:-1001234", "telegram:201", until=T0 + 60), ("banChatMember",)),
    "mute": (lambda c: c.mute("telegram:-1001234", "telegram:201", 600), ("restrictChatMember",)),
    "delete": (lambda c: c.delete("telegram:-1001234", "1234"), ("deleteMessage",)),
}


@FUZZ
@given(op=st.sampled_from(sorted(TG_OPERATIONS)), data=st.data())
def test_telegram_probe_groups_and_actions_on_fuzzed_answers(op, data):
    call, methods = TG_OPERATIONS[op]
    method = data.draw(st.sampled_from(methods))
    resp = fuzzed(data, TG_GOOD[method], tg_ok, tg_error)

    def handler(request: httpx.Request) -> httpx.Response:
        m = tg_method(request)
        return resp if m == method else response(200, tg_ok(TG_GOOD[m]))

    async def go() -> None:
        conn = tg_connector(handler, chats=[-1001234])
        try:
            result, err = await outcome(lambda: call(conn))
            if isinstance(err, AuthFailed):  # a refused token is the connector's state, whatever the call
                assert conn.health().state is HealthState.DOWN
            if err is not None:
                return
            check_result("telegram")(op, result)
        finally:
            await conn.close()

    run(go)


# ====================================================================================================
# Matrix
# ====================================================================================================

ROOM = "!room:example.org"
BOT = "@bot:example.org"


def mx_message(i: int) -> dict:
    return {"type": "m.room.message", "sender": "@ann:example.org", "event_id": f"$m{i}",
            "origin_server_ts": (T0 + i) * 1000, "content": {"msgtype": "m.text", "body": f"msg {i}"}}


def mx_sync(events: list, next_batch: str = "s2", limited: bool = False) -> dict:
    return {"next_batch": next_batch, "rooms": {"join": {ROOM: {
        "timeline": {"events": events, "limited": limited, "prev_batch": "p1"},
        "state": {"events": [{"type": "m.room.member", "state_key": "@ann:example.org", "sender": "@ann:example.org",
                              "event_id": "$s1", "origin_server_ts": T0 * 1000,
                              "content": {"membership": "join", "displayname": "Ann"}}]}}}}}


def mx_error(hint: Any) -> dict:
    return {"errcode": "M_LIMIT_EXCEEDED" if isinstance(hint, (int, float)) else hint, "error": "slow down",
            "retry_after_ms": hint}


MX_GOOD = {
    "whoami": {"user_id": BOT, "device_id": "GW"},
    "joined_rooms": {"joined_rooms": [ROOM]},
    "joined_members": {"joined": {BOT: {"display_name": "Watch"}, "@ann:example.org": {"display_name": "Ann"}}},
    "power_levels": {"users": {BOT: 100}, "users_default": 0, "kick": 50, "ban": 50, "redact": 50,
                     "state_default": 50, "events": {"m.room.message": 0}},
    "create": {"type": "m.room.create", "sender": BOT, "state_key": "", "content": {"room_version": "12"}},
    "name": {"name": "Lobby"},
    "messages": {"chunk": [mx_message(90), mx_message(89)], "start": "p1", "end": "p0",
                 "state": []},
    "mutes": {"v": 1, "mutes": [{"room": ROOM, "user": "@ann:example.org", "until": T0 + 10 ** 9, "previous": None,
                                 "level": -1}]},
    "member": {"membership": "join", "displayname": "Ann"},
    "send": {"event_id": "$sent"},
    "redact": {"event_id": "$redaction"},
    "kick": {}, "ban": {}, "unban": {},
}


def mx_route(request: httpx.Request) -> str:
    path = request.url.path
    for suffix, name in (("/sync", "sync"), ("/account/whoami", "whoami"), ("/joined_rooms", "joined_rooms"),
                         ("/joined_members", "joined_members"), ("/state/m.room.power_levels", "power_levels"),
                         ("/state/m.room.create", "create"), ("/state/m.room.name", "name"),
                         ("/messages", "messages"), ("/account_data/org.groupwatch.mutes", "mutes"),
                         ("/kick", "kick"), ("/unban", "unban"), ("/ban", "ban")):
        if path.endswith(suffix):
            return name
    if "/state/m.room.member/" in path:
        return "member"
    if "/send/m.room.message/" in path:
        return "send"
    if "/redact/" in path:
        return "redact"
    return "other"


def mx_connector(handler: Callable[[httpx.Request], httpx.Response], user_id: str | None = None) -> MatrixConnector:
    return MatrixConnector("mx", "https://matrix.example.org", MX_TOKEN, user_id=user_id,
                           transport=httpx.MockTransport(handler))


def mx_default(name: str) -> httpx.Response:
    if name in MX_GOOD:
        return response(200, MX_GOOD[name])
    return response(404, {"errcode": "M_NOT_FOUND", "error": "not found"})


def _dig(obj: Any, *keys: str) -> Any:
    for key in keys:
        obj = obj.get(key) if isinstance(obj, dict) else None
    return obj


@st.composite
def mx_sync_answer(draw) -> tuple[httpx.Response, list[str]]:
    """A /sync answer and the bodies of the messages left intact (each must arrive exactly once)."""
    ids = draw(st.lists(st.integers(1, 30), max_size=6, unique=True))
    events = [mx_message(i) for i in ids]
    good = mx_sync(events, limited=draw(st.integers(0, 5)) == 0)
    if draw(st.integers(0, 7)) == 0:
        return draw(broken_answer(good, mx_error)), []  # refused, mostly (a 201 with the good body is fine)
    mutated = mutate(draw, good, draw(st.integers(0, 4)))
    got = _dig(mutated, "rooms", "join", ROOM, "timeline", "events")
    got = got if isinstance(got, list) else []
    # An event whose id a garbled one now shares is a repeat; which of the two wins is not defined.
    ids_now = [to_json(e.get("event_id")) for e in got if isinstance(e, dict)]
    intact = [e["content"]["body"] for e in got if e in events and ids_now.count(to_json(e["event_id"])) == 1]
    return response(200, mutated), intact


@FUZZ
@given(answer=mx_sync_answer(), gap=st.data())
def test_matrix_sync_skips_only_what_it_cannot_read_and_never_advances_past_it(answer, gap):
    resp, intact = answer
    gap_answer = fuzzed(gap, MX_GOOD["messages"], lambda x: x, mx_error) if gap.draw(st.booleans()) else None
    cursor = json.dumps({"v": 1, "next_batch": "s1"})
    syncs: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        name = mx_route(request)
        if name == "sync":
            syncs.append(request.url.params.get("since"))
            return resp if len(syncs) == 1 else response(200, mx_sync([mx_message(99)], "s9"))
        if name == "messages" and gap_answer is not None:
            return gap_answer
        return mx_default(name)

    async def go() -> None:
        conn = mx_connector(handler)
        try:
            batch, err = await outcome(lambda: conn.poll(cursor, 0))
            if err is not None:
                check_health(conn.health(), bad=True)
                again = await conn.poll(cursor, 0)  # the same position: nothing was taken
                assert syncs[1] == "s1" and [e.text for e in again.events if type(e) is Message] == ["msg 99"]
                check_health(conn.health(), bad=False)
                return
            check_events(batch.events, "matrix")
            assert json.loads(batch.cursor)["next_batch"] == json.loads(resp.content)["next_batch"]
            texts = [e.text for e in batch.events if type(e) is Message]
            for body in intact:
                assert texts.count(body) == 1, (body, texts)
            check_health(conn.health(), bad=False)
        finally:
            await conn.close()

    run(go)


MX_OPERATIONS: dict[str, tuple[Callable[[MatrixConnector], Any], tuple[str, ...]]] = {
    "probe": (lambda c: c.probe(), ("whoami", "joined_rooms", "joined_members", "power_levels", "create", "name")),
    "groups": (lambda c: c.groups(), ("joined_rooms", "joined_members", "name")),
    "members": (lambda c: c.members(f"matrix:{ROOM}"), ("joined_members", "power_levels", "create", "whoami")),
    "first poll": (lambda c: c.poll(None, 0), ("sync", "whoami", "mutes")),
    "poll": (lambda c: c.poll(json.dumps({"v": 1, "next_batch": "s1"}), 0),
             ("sync", "messages", "whoami", "mutes", "member")),
    "send": (lambda c: c.send(f"matrix:{ROOM}", "hi @Ann", ["matrix:@ann:example.org"], "k1"), ("member", "send")),
    "kick": (lambda c: c.kick(f"matrix:{ROOM}", "matrix:@ann:example.org", "ads"), ("kick",)),
    "unban": (lambda c: c.unban(f"matrix:{ROOM}", "matrix:@ann:example.org"), ("unban", "member")),
    "delete": (lambda c: c.delete(f"matrix:{ROOM}", "$ad"), ("redact",)),
    "mute": (lambda c: c.mute(f"matrix:{ROOM}", "matrix:@ann:example.org", 600),
             ("power_levels", "mutes", "whoami")),
}


@FUZZ
@given(op=st.sampled_from(sorted(MX_OPERATIONS)), data=st.data())
def test_matrix_probe_snapshots_and_actions_on_fuzzed_answers(op, data):
    call, routes = MX_OPERATIONS[op]
    route = data.draw(st.sampled_from(routes))
    resp = fuzzed(data, MX_GOOD[route] if route != "sync" else mx_sync([mx_message(1)], "s2"), lambda x: x, mx_error)

    def handler(request: httpx.Request) -> httpx.Response:
        name = mx_route(request)
        if name == route:
            return resp
        if name == "sync":
            return response(200, mx_sync([{**mx_message(1), "sender": "@zed:example.org"}], "s2"))
        return mx_default(name)

    async def go() -> None:
        conn = mx_connector(handler)
        try:
            result, err = await outcome(lambda: call(conn))
            if isinstance(err, AuthFailed):  # a refused token is the connector's state, whatever the call
                assert conn.health().state is HealthState.DOWN
            if err is not None:
                return
            check_result("matrix")(op, result)
            # A mute book the server garbled must not make the connector poll without waiting.
            due = conn._mutes.next_due()
            assert due is None or not math.isnan(due)
        finally:
            await conn.close()

    run(go)


# ====================================================================================================
# OneBot (QQ)
# ====================================================================================================

G = 555001
DEAD_WS = "ws://127.0.0.1:9/event"  # nothing listens: the reader only retries in the background


def qq_connector(handler: Callable[[httpx.Request], httpx.Response] | None = None, **opts: Any) -> OneBotConnector:
    options = onebot_options("qq", {"ws_url": DEAD_WS, "http_url": "http://127.0.0.1:3000", "token_env": "Q", **opts},
                             environ={"Q": QQ_TOKEN})
    handler = handler or (lambda request: response(404, raw=b""))
    return OneBotConnector("qq", options, transport=httpx.MockTransport(handler), reconnect_min=5.0,
                           reconnect_max=5.0, retry_delay=0.0)


def qq_ok(data: Any) -> dict:
    return {"status": "ok", "retcode": 0, "data": data, "message": "", "wording": ""}


def qq_error(hint: Any) -> dict:
    return {"status": "failed", "retcode": hint, "data": None, "message": "refused", "wording": hint}


def qq_message(i: int, group: int = G) -> dict:
    return {"time": T0 + i, "self_id": 10001, "post_type": "message", "message_type": "group", "sub_type": "normal",
            "message_id": 7000 + i, "group_id": group, "user_id": 20001,
            "message": [{"type": "text", "data": {"text": f"msg {i}"}}, {"type": "at", "data": {"qq": "20002"}}],
            "raw_message": f"msg {i}[CQ:at,qq=20002]", "font": 14,
            "sender": {"user_id": 20001, "nickname": "ann", "card": "Annie", "role": "member"}}


QQ_NOTICES = [
    {"time": T0, "self_id": 10001, "post_type": "notice", "notice_type": "group_increase", "sub_type": "invite",
     "group_id": G, "user_id": 20003, "operator_id": 20001},
    {"time": T0, "self_id": 10001, "post_type": "notice", "notice_type": "group_decrease", "sub_type": "kick",
     "group_id": G, "user_id": 20003, "operator_id": 20005},
    {"time": T0, "self_id": 10001, "post_type": "notice", "notice_type": "group_recall", "group_id": G,
     "user_id": 20001, "operator_id": 20001, "message_id": 7001},
    {"time": T0, "self_id": 10001, "post_type": "notice", "notice_type": "group_card", "group_id": G,
     "user_id": 20001, "card_new": "Ann", "card_old": "Annie"},
    {"time": T0, "self_id": 10001, "post_type": "meta_event", "meta_event_type": "heartbeat", "interval": 5000,
     "status": {"online": True, "good": True}},
    {"time": T0, "self_id": 10001, "post_type": "meta_event", "meta_event_type": "lifecycle", "sub_type": "connect"},
]
QQ_GOOD = {
    "get_group_list": [{"group_id": G, "group_name": "Fans", "member_count": 3, "max_member_count": 200}],
    "get_group_member_list": [{"group_id": G, "user_id": 20001, "nickname": "ann", "card": "Annie", "role": "admin",
                               "join_time": T0 - 86400, "last_sent_time": T0, "is_robot": False}],
    "get_group_member_info": {"group_id": G, "user_id": 20001, "nickname": "ann", "card": "Annie"},
    "send_group_msg": {"message_id": 123456},
    "get_login_info": {"user_id": 10001, "nickname": "watchbot"},
    "get_group_msg_history": {"messages": [qq_message(1), qq_message(2)]},
    "set_group_kick": None, "set_group_ban": None, "delete_msg": None,
}


JUNK_FRAMES = ["", "{", "[]", "null", "NaN", '{"post_type": "message"', "\x00\xff",
               '{"time": 1e999, "post_type": "message"}', '{"time": NaN, "post_type": "notice"}',
               '{"time": ' + "9" * 400 + ', "post_type": "meta_event", "meta_event_type": "x"}',
               '{"post_type": "meta_event", "meta_event_type": "heartbeat", "interval": ' + "9" * 400 + "}",
               "[" * 50_000 + "]" * 50_000, '{"status": "ok", "retcode": 0, "data": null, "echo": "x"}',
               '{"status": "failed", "retcode": 1403}']


@st.composite
def frames(draw) -> tuple[list[str], list[str]]:
    """Event frames as the WebSocket delivers them, and the texts of the messages left intact."""
    ids = draw(st.lists(st.integers(1, 40), max_size=6, unique=True))
    out: list[str] = []
    intact: list[int] = []
    garbage: list[Any] = []
    for i in ids:
        good = qq_message(i)
        kind = draw(st.integers(0, 3))
        if kind == 0:
            frame = mutate(draw, good, draw(st.integers(1, 3)))
            if frame == good:
                intact.append(i)
            else:
                garbage.append(frame)
            out.append(to_json(frame))
        else:
            intact.append(i)
            out.append(to_json(good))
        junk = draw(st.integers(0, 5))
        if junk == 0:  # a notice or meta event, maybe garbled
            out.append(to_json(mutate(draw, draw(st.sampled_from(QQ_NOTICES)), draw(st.integers(0, 3)))))
        elif junk == 1:
            out.append(draw(st.sampled_from(JUNK_FRAMES)))
        elif junk == 2:
            out.append(to_json(draw(hostile)))
    # A garbled frame carrying an intact message's id is a repeat of it; which one wins is not defined.
    ids_seen = [g.get("message_id") for g in garbage if isinstance(g, dict)]
    texts = [f"msg {i}" for i in intact if 7000 + i not in ids_seen and str(7000 + i) not in map(str, ids_seen)]
    return out, texts


@FUZZ
@given(feed=frames())
def test_onebot_event_frames_skip_what_cannot_be_read_and_keep_the_reader_alive(feed):
    raw_frames, intact = feed

    async def go() -> None:
        conn = qq_connector()
        try:
            first = await conn.poll(None, 0)
            for frame in raw_frames:
                try:
                    conn._stream._frame(frame)
                except _Refused:  # the token refused in a frame: the reader stops for auth, by design
                    payload = json.loads(frame)
                    assert payload.get("post_type") is None and payload.get("retcode") in (1403, 401, 403)
            batch = await conn.poll(first.cursor, 0)
            check_events(batch.events, "qq")
            texts = [e.text for e in batch.events if type(e) is Message]
            for text in intact:
                assert sum(t.startswith(text + "@") or t == text for t in texts) == 1, (text, texts)
            st_ = conn._stream
            assert st_.server_time is None or math.isfinite(st_.server_time)
            assert st_.heartbeat_interval is None or (math.isfinite(st_.heartbeat_interval)
                                                      and st_.heartbeat_interval > 0)
            reason = conn.health().reason  # "connecting" or the dead socket's error: never a frame's words
            assert "\n" not in reason and not any(unicodedata.category(c) == "Cc" for c in reason)
        finally:
            await conn.close()

    run(go)


QQ_OPERATIONS: dict[str, tuple[Callable[[OneBotConnector], Any], tuple[str, ...]]] = {
    "groups": (lambda c: c.groups(), ("get_group_list",)),
    "members": (lambda c: c.members(f"qq:{G}"), ("get_group_member_list",)),
    "send": (lambda c: c.send(f"qq:{G}", "hi @Annie", ["qq:20001", "qq:20009"], "k1"),
             ("send_group_msg", "get_group_member_info")),
    "kick": (lambda c: c.kick(f"qq:{G}", "qq:20001"), ("set_group_kick",)),
    "ban": (lambda c: c.ban(f"qq:{G}", "qq:20001"), ("get_group_member_info", "set_group_kick")),
    "mute": (lambda c: c.mute(f"qq:{G}", "qq:20001", 600), ("set_group_ban",)),
    "delete": (lambda c: c.delete(f"qq:{G}", "7001"), ("delete_msg",)),
    "history": (lambda c: c._history(str(G), T0 - 3600.0, []), ("get_group_msg_history",)),
    "probe": (lambda c: c.probe(), ("get_login_info", "get_group_list")),
}


@FUZZ
@given(op=st.sampled_from(sorted(QQ_OPERATIONS)), data=st.data())
def test_onebot_actions_snapshots_and_history_on_fuzzed_answers(op, data):
    call, actions = QQ_OPERATIONS[op]
    action = data.draw(st.sampled_from(actions))
    resp = fuzzed(data, qq_ok(QQ_GOOD[action]), lambda x: x, qq_error)

    def handler(request: httpx.Request) -> httpx.Response:
        name = request.url.path.rsplit("/", 1)[1]
        return resp if name == action else response(200, qq_ok(QQ_GOOD.get(name)))

    async def go() -> None:
        conn = qq_connector(handler)
        try:
            result, err = await outcome(lambda: call(conn))
            if isinstance(err, AuthFailed):  # a refused token is the connector's state, whatever the call
                assert conn.health().state is HealthState.DOWN
            if err is not None:
                return
            check_result("qq")(op, result)
        finally:
            await conn.close()

    run(go)


async def test_onebot_reader_survives_garbage_on_a_real_socket():
    """Over the wire: frames that used to end the reader task (a time beyond a float, a JSON document
    nested past the recursion limit) are skipped, and the next good event still arrives."""
    from tests.onebot_fake import FakeMember, FakeOneBot

    fake = await FakeOneBot(token=QQ_TOKEN).start()
    fake.add_group(G, "Fans", [FakeMember(20001, "ann")])
    options = onebot_options("qq", {"ws_url": fake.ws_url, "http_url": fake.http_url, "token_env": "Q",
                                    "history": False}, environ={"Q": QQ_TOKEN})
    conn = OneBotConnector("qq", options, reconnect_min=0.05, reconnect_max=0.2)
    try:
        cursor = (await conn.poll(None, 0)).cursor
        assert await conn._stream.wait_open(3.0)
        connects = conn._stream.connects
        for junk in ['{"time": ' + "9" * 400 + ', "post_type": "notice", "notice_type": "group_recall"}',
                     '{"post_type": "meta_event", "meta_event_type": "heartbeat", "interval": ' + "9" * 400 + "}",
                     '{"time": NaN, "post_type": "message", "message_type": "group"}',
                     "[" * 100_000 + "]" * 100_000, "{not json", "\x00",
                     to_json({**qq_message(1), "group_id": [G], "message": {"a": Deep(1, 3000)}})]:
            await fake.emit_raw(junk)
        await fake.say(G, 20001, "still here")
        events: list = []
        deadline = time.monotonic() + 5
        while not any(getattr(e, "text", "") == "still here" for e in events) and time.monotonic() < deadline:
            batch = await conn.poll(cursor, 0.2)
            events += batch.events
            cursor = batch.cursor
        assert [e.text for e in events if type(e) is Message] == ["still here"]
        assert conn._stream.running and conn._stream.connects == connects  # the same reader, never restarted
        assert conn._stream.server_time is not None and math.isfinite(conn._stream.server_time)
        check_health(conn.health(), bad=False)
    finally:
        await conn.close()
        await fake.stop()


# ====================================================================================================
# Every field of every documented payload, replaced by each nasty value
# ====================================================================================================
# Random mutation rarely hits one field with one value (a 400-digit date, a list for a chat type); this
# goes through all of them, at the parser each poll runs per item, next to an intact control item.

NASTY: list[Any] = [None, True, False, 0, -1, 1.5, -0.0, 2**63, -2**63 - 1, 10**400, float("nan"), float("inf"),
                    float("-inf"), "", "123", "-1001234", "\x1b[2J\x1b]52;c;eA==\x07", "\u202e", "x" * 3000, [], {},
                    [1], ["a"], {"a": 1}, {"id": 1}]

TG_TEMPLATES: list[dict] = [
    tg_update(501)["message"] | {"entities": [{"type": "text_mention", "offset": 0, "length": 3, "user": dict(ANN)}],
                                 "reply_to_message": {"message_id": 77, "date": T0, "chat": dict(TG_CHAT)}},
    {"message_id": 2, "date": T0, "chat": dict(TG_CHAT), "sender_chat": {"id": -100777, "title": "Chan",
                                                                         "type": "channel"}, "caption": "look"},
    {"message_id": 3, "date": T0, "chat": dict(TG_CHAT), "from": dict(ANN),
     "new_chat_members": [{"id": 300, "is_bot": False, "first_name": "New"}, dict(ANN)]},
    {"message_id": 4, "date": T0, "chat": dict(TG_CHAT), "from": {"id": 100, "is_bot": False, "first_name": "Ad"},
     "left_chat_member": {"id": 301, "is_bot": False, "first_name": "Gone"}},
    {"message_id": 5, "date": T0, "chat": {"id": -4001, "title": "Old", "type": "group"}, "from": dict(ANN),
     "migrate_to_chat_id": -1004001},
    {"message_id": 6, "date": T0, "chat": dict(TG_CHAT), "from": dict(ANN), "sticker": {"file_id": "x"}},
]
TG_MEMBER_UPDATES: list[dict] = [
    {"chat": dict(TG_CHAT), "from": {"id": 100, "is_bot": False, "first_name": "Ad"}, "date": T0,
     "old_chat_member": {"user": {"id": 302, "is_bot": False, "first_name": "Kim"}, "status": "member"},
     "new_chat_member": {"user": {"id": 302, "is_bot": False, "first_name": "Kim"}, "status": "kicked",
                         "until_date": 0}},
    {"chat": dict(TG_CHAT), "from": dict(ANN), "date": T0,
     "old_chat_member": {"user": {"id": 303, "is_bot": False, "first_name": "Lu"}, "status": "left"},
     "new_chat_member": {"user": {"id": 303, "is_bot": False, "first_name": "Lu"}, "status": "restricted",
                         "is_member": True}},
]


def _leaves(obj: Any, prefix: tuple = ()) -> list[tuple]:
    return [p for p in _paths(obj, prefix) if p]


def _replaced(obj: Any, path: tuple, value: Any) -> Any:
    obj = copy.deepcopy(obj)
    parent = obj
    for k in path[:-1]:
        parent = parent[k]
    if value is _DELETE:
        del parent[path[-1]]
    else:
        parent[path[-1]] = copy.deepcopy(value)
    return obj


_DELETE = object()


def _cases(template: Any) -> list[Any]:
    return [_replaced(template, p, v) for p in _leaves(template) for v in NASTY + [_DELETE]]


def _roundtrip(payload: Any) -> Any:
    """As the peer's JSON would arrive: through the wire format (NaN, huge integers and all)."""
    return json.loads(to_json(payload))


def test_every_field_of_telegram_updates_replaced_by_each_nasty_value():
    from connectors.telegram.updates import UpdateMapper

    control = tg_update(999)
    problems: list[str] = []
    updates = [{"update_id": 1, "message": m} for t in TG_TEMPLATES for m in _cases(t)]
    updates += [{"update_id": 1, kind: u} for t in TG_MEMBER_UPDATES for u in _cases(t)
                for kind in ("chat_member", "my_chat_member")]
    updates += [{"update_id": 1, "edited_message": m} for m in _cases(TG_TEMPLATES[0])[:200]]
    for update in updates:
        mapper = UpdateMapper(7000555123)
        try:
            events = mapper.map(_roundtrip(update)) + mapper.map(_roundtrip(control))
            check_events(events, "telegram")
            assert [e.text for e in events if type(e) is Message].count("msg 999") == 1
            for name in mapper.names.values():
                assert type(name) is str, name
        except Exception as e:  # noqa: BLE001 - collected, to report every case at once
            problems.append(f"{type(e).__name__}: {e} <- {json.dumps(update, default=str)[:300]}")
    assert not problems, f"{len(problems)} of {len(updates)} updates:\n" + "\n".join(problems[:15])


MX_TEMPLATES: list[dict] = [
    {**mx_message(1), "content": {"msgtype": "m.text", "body": "> <@b:x> quoted\n\nreply",
                                  "m.relates_to": {"m.in_reply_to": {"event_id": "$q"}},
                                  "m.mentions": {"user_ids": ["@b:example.org"]}}},
    {**mx_message(2), "content": {"msgtype": "m.text", "body": "* fixed",
                                  "formatted_body": '<a href="https://matrix.to/#/@c:x">c</a>',
                                  "m.new_content": {"msgtype": "m.image", "body": "new"},
                                  "m.relates_to": {"rel_type": "m.replace", "event_id": "$m1"}}},
    {"type": "m.room.member", "state_key": "@new:example.org", "sender": "@new:example.org", "event_id": "$j1",
     "origin_server_ts": T0 * 1000, "content": {"membership": "join", "displayname": "New"},
     "unsigned": {"prev_content": {"membership": "invite"}, "prev_sender": "@ann:example.org"}},
    {"type": "m.room.member", "state_key": "@new:example.org", "sender": "@mod:example.org", "event_id": "$k1",
     "origin_server_ts": T0 * 1000, "content": {"membership": "leave"},
     "unsigned": {"prev_content": {"membership": "join"}}},
    {"type": "m.room.member", "state_key": "@new:example.org", "sender": "@mod:example.org", "event_id": "$b1",
     "origin_server_ts": T0 * 1000, "content": {"membership": "ban", "reason": "ads"}, "prev_content": {}},
    {"type": "m.room.redaction", "sender": "@mod:example.org", "event_id": "$r1", "origin_server_ts": T0 * 1000,
     "redacts": "$m1", "content": {"redacts": "$m1"}},
    {"type": "m.room.name", "state_key": "", "sender": "@mod:example.org", "event_id": "$n1",
     "origin_server_ts": T0 * 1000, "content": {"name": "Lobby"}},
]


def test_every_field_of_matrix_events_replaced_by_each_nasty_value():
    from connectors.matrix.mapping import RoomBook, map_event

    problems: list[str] = []
    cases = [c for t in MX_TEMPLATES for c in _cases(t)]
    for ev in cases:
        book = RoomBook()
        try:
            got = [map_event(ROOM, _roundtrip(ev), book), map_event(ROOM, mx_message(999), book)]
            events = [e for e in got if e is not None]
            check_events(events, "matrix")
            assert [e.text for e in events if type(e) is Message].count("msg 999") == 1
            assert all(type(v) is str for v in [*book.names.values(), *book.aliases.values(), *book.display.values()])
        except Exception as e:  # noqa: BLE001 - collected, to report every case at once
            problems.append(f"{type(e).__name__}: {e} <- {json.dumps(ev, default=str)[:300]}")
    assert not problems, f"{len(problems)} of {len(cases)} events:\n" + "\n".join(problems[:15])


QQ_TEMPLATES: list[dict] = [
    qq_message(1),
    {**qq_message(2), "message": "hi [CQ:at,qq=20002,name=Bob] [CQ:reply,id=7001][CQ:json,data={\"prompt\":\"ad\"}]",
     "anonymous": {"name": "anon"}},
    {**qq_message(3), "message": [{"type": "json", "data": {"data": "{\"prompt\": \"buy\"}"}},
                                  {"type": "share", "data": {"title": "t", "url": "u"}},
                                  {"type": "reply", "data": {"id": "7001"}}, {"type": "image", "data": {}}]},
    *QQ_NOTICES,
    {"time": T0, "self_id": 10001, "post_type": "notice", "notice_type": "group_decrease", "sub_type": "kick_me",
     "group_id": G, "user_id": 10001, "operator_id": 20005},
]


def test_every_field_of_onebot_events_replaced_by_each_nasty_value():
    conn = qq_connector()
    problems: list[str] = []
    cases = [c for t in QQ_TEMPLATES for c in _cases(t)]
    try:
        for n, payload in enumerate(cases):
            before = conn._seq
            control = {**qq_message(999), "message_id": 10**6 + n}
            try:
                for frame in (to_json(payload), to_json(control)):
                    try:
                        conn._stream._frame(frame)
                    except _Refused:
                        assert _roundtrip(payload).get("post_type") is None
                events = [ev for seq, ev in conn._log if seq > before]
                check_events(events, "qq")
                assert [e.text for e in events if type(e) is Message].count("msg 999@20002") == 1, events
                st_ = conn._stream
                assert st_.server_time is None or math.isfinite(st_.server_time)
                assert st_.heartbeat_interval is None or math.isfinite(st_.heartbeat_interval)
                one_line_text(conn.health().reason or "-", "health reason")
            except Exception as e:  # noqa: BLE001 - collected, to report every case at once
                problems.append(f"{type(e).__name__}: {e} <- {to_json(payload)[:300]}")
    finally:
        asyncio.run(conn.close())
    assert not problems, f"{len(problems)} of {len(cases)} frames:\n" + "\n".join(problems[:15])


SOME_NASTY: list[Any] = [None, True, -1, 1.5, 10**400, float("nan"), float("inf"), "", "\x1b[2J\x07", "x" * 3000,
                         [], {}, [1], {"a": 1}, _DELETE]


def _answer_cases(wrapped: Any) -> list[Any]:
    return [_replaced(wrapped, p, v) for p in _leaves(wrapped) for v in SOME_NASTY]


async def _each_answer(make: Callable, operations: dict, good: dict, wrap: Callable[[Any], Any],
                       route_of: Callable[[httpx.Request], str], default: Callable[[str], httpx.Response],
                       check: Callable[[str, Any], None]) -> tuple[int, list[str]]:
    """Every operation, with each of its answers in turn replaced field by field by each nasty value."""
    problems: list[str] = []
    n = 0
    for op, (call, routes) in operations.items():
        for route in routes:
            for answer in _answer_cases(wrap(good[route])):
                n += 1

                def handler(request: httpx.Request, route=route, answer=answer) -> httpx.Response:
                    name = route_of(request)
                    return response(200, answer) if name == route else default(name)

                conn = make(handler)
                try:
                    result, err = await outcome(lambda: call(conn))
                    if err is None:
                        check(op, result)
                    elif isinstance(err, AuthFailed):
                        assert conn.health().state is HealthState.DOWN
                except Exception as e:  # noqa: BLE001 - collected, to report every case at once
                    problems.append(f"{op} / {route}: {type(e).__name__}: {str(e)[:200]} <- {to_json(answer)[:200]}")
                finally:
                    await conn.close()
    return n, problems


def test_every_field_of_every_telegram_answer_replaced_by_each_nasty_value():
    n, problems = run(lambda: _each_answer(
        lambda h: tg_connector(h, chats=[-1001234]), TG_OPERATIONS, TG_GOOD, tg_ok, tg_method,
        lambda name: response(200, tg_ok(TG_GOOD[name])), check_result("telegram")))
    assert not problems, f"{len(problems)} of {n} answers:\n" + "\n".join(problems[:15])


def test_every_field_of_every_matrix_answer_replaced_by_each_nasty_value():
    good = {**MX_GOOD, "sync": mx_sync([{**mx_message(1), "sender": "@zed:example.org"}], "s2", limited=True)}

    def default(name: str) -> httpx.Response:
        return response(200, good["sync"]) if name == "sync" else mx_default(name)

    n, problems = run(lambda: _each_answer(mx_connector, MX_OPERATIONS, good, lambda x: x, mx_route, default,
                                           check_result("matrix")))
    assert not problems, f"{len(problems)} of {n} answers:\n" + "\n".join(problems[:15])


def test_every_field_of_every_onebot_answer_replaced_by_each_nasty_value():
    operations = {op: v for op, v in QQ_OPERATIONS.items() if op != "probe"}  # probe opens the (dead) socket
    n, problems = run(lambda: _each_answer(
        qq_connector, operations, QQ_GOOD, qq_ok, lambda r: r.url.path.rsplit("/", 1)[1],
        lambda name: response(200, qq_ok(QQ_GOOD.get(name))), check_result("qq")))
    assert not problems, f"{len(problems)} of {n} answers:\n" + "\n".join(problems[:15])


# ====================================================================================================
# An engine riding out garbage
# ====================================================================================================


class FlakyBotApi:
    """getUpdates: garbage while ``garbage`` is set, real updates otherwise; confirms by offset like
    the Bot API (an update below a request's offset is forgotten, whatever the answer was)."""

    GARBAGE: list[Callable[[], httpx.Response]] = [
        lambda: httpx.Response(502, text="<html>Bad Gateway</html>"),
        lambda: response(200, raw=b'{"ok": true, "result": [{"update_id": 1, "mess'),
        lambda: response(200, {"ok": False, "description": "\x1b[2Jweird"}),
        lambda: response(200, tg_ok([{"update_id": "5"}])),
        lambda: response(429, {"ok": False, "error_code": 429, "parameters": {"retry_after": 0.05}}),
        lambda: response(200, raw=b"[" * 100_000),
        lambda: response(500, tg_ok(None)),
        lambda: response(200, tg_ok({"update_id": 3})),
    ]

    def __init__(self) -> None:
        self.garbage = True
        self.queue: list[dict] = []
        self.next_uid = 100
        self.sent: list[str] = []
        self.calls = 0
        self.garbage_served = 0

    def add(self, update: dict) -> None:
        update["update_id"] = self.next_uid
        self.next_uid += 1
        self.queue.append(update)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.calls += 1
        offset = body.get("offset", 0)
        if offset < 0:
            self.queue = self.queue[offset:]
        else:
            self.queue = [u for u in self.queue if u["update_id"] >= offset]
        if self.garbage:
            self.garbage_served += 1
            return self.GARBAGE[self.calls % len(self.GARBAGE)]()
        await asyncio.sleep(0.005)  # a long poll's pace, roughly: no busy loop
        if offset < 0:  # the first poll takes the position "now"; what follows is new
            return response(200, tg_ok(self.queue))
        if self.calls % 3 == 0:  # a good answer with unreadable updates among the good ones
            self.add({"message": {"message_id": "x", "chat": [1], "date": 10**400}})
            self.add({"edited_message": {"chat": None}})
        n = len(self.sent)
        if n < 30:
            text = f"tg {n}"
            self.sent.append(text)
            self.add({"message": {"message_id": 5000 + n, "date": T0 + n, "chat": dict(TG_CHAT), "from": dict(ANN),
                                  "text": text}})
        return response(200, tg_ok(self.queue[:100]))


class FlakyHomeserver:
    """/sync: garbage while ``garbage`` is set; then batch s<n> brings message "mx n" (and some
    unreadable events), the same for the same ``since``, as a homeserver does."""

    GARBAGE: list[Callable[[], httpx.Response]] = [
        lambda: httpx.Response(502, text="<html>Bad Gateway</html>"),
        lambda: response(200, raw=b'{"next_batch": "s'),
        lambda: response(200, {"next_batch": 5, "rooms": {}}),
        lambda: response(200, {"next_batch": "s1", "rooms": []}),
        lambda: response(429, {"errcode": "M_LIMIT_EXCEEDED", "retry_after_ms": 50}),
        lambda: response(200, raw=b"[" * 100_000),
        lambda: response(500, {"errcode": "M_UNKNOWN", "error": "\x1b]52;c;eA==\x07"}),
        lambda: response(200, {"next_batch": "s1", "rooms": {"join": {ROOM: "x"}}}),
    ]

    def __init__(self) -> None:
        self.garbage = True
        self.sent: set[str] = set()
        self.garbage_served = 0

    async def handle(self, request: httpx.Request) -> httpx.Response:
        name = mx_route(request)
        if name != "sync":
            return mx_default(name) if name != "mutes" else response(404, {"errcode": "M_NOT_FOUND"})
        since = request.url.params.get("since")
        if self.garbage:
            self.garbage_served += 1
            return self.GARBAGE[self.garbage_served % len(self.GARBAGE)]()
        await asyncio.sleep(0.005)
        if since is None:
            return response(200, mx_sync([], "s0"))
        n = int(since[1:])
        if n >= 30:
            return response(200, mx_sync([], since))
        self.sent.add(f"mx {n}")
        events = [{**mx_message(n), "event_id": f"$e{n}", "content": {"msgtype": "m.text", "body": f"mx {n}"}},
                  {"type": "m.room.message", "sender": 5, "event_id": ["x"]}, "junk",
                  {"type": "m.room.message", "sender": "@ann:example.org", "event_id": f"$bad{n}",
                   "origin_server_ts": 10**400, "content": {"msgtype": ["m.text"], "body": "odd"}}]
        return response(200, mx_sync(events, f"s{n + 1}"))


async def test_an_engine_rides_out_garbage_answers_and_processes_every_good_event_once():
    bot, hs = FlakyBotApi(), FlakyHomeserver()
    tg = tg_connector(bot.handle)
    mx = mx_connector(hs.handle, user_id=BOT)
    s = Settings()
    s.engine.poll_timeout = 0.2
    s.engine.backoff_start, s.engine.backoff_max = 0.02, 0.1
    engine = Engine(s, [tg, mx], None)
    seen: list[str] = []

    class Observer:
        def on_event(self, ev: Any) -> None:
            if type(ev) is Message and ev.text[:3] in ("tg ", "mx "):
                seen.append(ev.text)

        def on_tick(self, now: float) -> None:
            pass

    engine.observers.append(Observer())
    states: dict[str, set] = {"tg": set(), "mx": set()}
    reasons: set[str] = set()

    async def watch(seconds: float, done: Callable[[], bool] = lambda: False) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end and not done():
            for name in states:
                states[name].add(engine.status[name].health.state)
                reasons.add(engine.status[name].health.reason)
            await asyncio.sleep(0.01)

    run_task = asyncio.create_task(engine.run())
    try:
        rounds = 2 * len(FlakyBotApi.GARBAGE)  # every kind of garbage, twice
        await watch(15, lambda: bot.garbage_served >= rounds and hs.garbage_served >= rounds)
        assert bot.garbage_served >= rounds and hs.garbage_served >= rounds
        assert all(states[n] & set(BAD) for n in states), states
        assert seen == []  # nothing is invented from garbage
        for reason in reasons - {""}:
            one_line_text(reason, "engine health reason")
        bot.garbage = hs.garbage = False
        await watch(20, lambda: len(bot.sent) == 30 and len(hs.sent) == 30
                    and {f"tg {i}" for i in range(30)} | {f"mx {i}" for i in range(30)} <= set(seen)
                    and all(engine.status[n].health.state is HealthState.OK for n in states))
        assert sorted(seen) == sorted([f"tg {i}" for i in range(30)] + [f"mx {i}" for i in range(30)]), seen
        assert all(engine.status[n].health.state is HealthState.OK for n in states)
        polls = [t for t in asyncio.all_tasks() if t.get_name().startswith("poll:")]
        assert len(polls) == 2 and not any(t.done() for t in polls) and not run_task.done()
    finally:
        engine.stop()
        await asyncio.wait_for(run_task, 10)
        await tg.close()
        await mx.close()
