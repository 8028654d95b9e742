"""On call against the real Synapse of the suite: the bot posts the incident into a moderators' room,
a moderator replies ``ban`` and the sender is banned in every watched room with that moderator named
in the audit log; a reply from someone who is not an operator does nothing."""
from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from console.runtime import open_runtime
from console.service.service import Service
from tests.synapse.client import UserClient

pytest.importorskip("console.engine.incidents", reason="on call acts on incidents (console.engine.incidents)")

AD = "加微信 abc12345 低价代购 全网最低 日赚500 兼职刷单 http://t.cn/abc"


def person(server, name: str) -> UserClient:
    u = server.users[name]
    return UserClient(server.url, u.access_token, u.user_id)


async def eventually(check, what: str, seconds: float = 40.0):
    """Await ``check()`` (a coroutine function) until it returns something truthy."""
    deadline = time.monotonic() + seconds
    while True:
        got = await check()
        if got:
            return got
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        await asyncio.sleep(0.2)  # Synapse is another process: nothing to await on its side


async def test_a_moderators_ban_reply_bans_the_sender_everywhere_and_a_strangers_does_nothing(
        synapse_server, tmp_path, monkeypatch):
    s = synapse_server
    stranger = s.register(f"bystander{uuid.uuid4().hex[:6]}", display_name="Just Watching")
    s.users["bystander"] = stranger
    alice, spammer = s.users["alice"].user_id, s.users["spammer"].user_id
    async with person(s, "mod") as m, person(s, "alice") as a, person(s, "spammer") as sp, \
            person(s, "bystander") as by:
        watched = [await m.create_room(f"Shop {i}") for i in range(2)]
        mods = await m.create_room("Moderators")
        for room in watched:
            await sp.join(room)
        await a.join(mods)
        await by.join(mods)
        monkeypatch.setenv("GW_ONCALL_MX_TOKEN", s.users["mod"].access_token)
        config = tmp_path / "groupwatch.toml"
        rooms = ", ".join(f'"{r}"' for r in [*watched, mods])
        config.write_text(f'''
[operators]
default = "viewer"
users = {{ alice = "moderator" }}

[operators.chat]
"matrix:{alice}" = "alice"

[[connector]]
type = "matrix"
name = "hq"
homeserver = "{s.url}"
token_env = "GW_ONCALL_MX_TOKEN"
rooms = [{rooms}]

[[route]]
kinds = ["ad"]
connector = "hq"
chat = "{mods}"
group_wait = "3s"
group_interval = "1s"
''')
        rt = open_runtime(str(config), str(tmp_path / "data"))
        svc = Service(rt)
        heard: list[str] = []  # what every console is told
        svc.subscribe(lambda kind, payload: heard.append(payload.text) if kind == "notice" else None)
        svc.start()
        engine = asyncio.create_task(rt.engine.run())
        try:
            await eventually(lambda: _async(len(rt.engine.stats.groups) == 2), "the watched rooms")
            assert f"matrix:{mods}" not in rt.engine.stats.groups  # the moderators' room is not watched
            for room in watched:
                await sp.send(room, AD)

            async def notification():
                # The first notification, or (when the second ad came after group_wait on a busy machine)
                # the update a group_interval later: the one that tells of both.
                for ev in await a.messages(mods):
                    body = ev["content"].get("body", "")
                    if ev["sender"] == s.users["mod"].user_id and body.startswith("[HIGH] #") and "2 alerts" in body:
                        return ev
                return None

            note = await eventually(notification, "the bot's notification in the moderators' room")
            body = note["content"]["body"]
            incident = int(body.split("#", 1)[1].split()[0])
            assert "Shop 0" in body and "Shop 1" in body and "2 alerts" in body  # names, not ids
            inc = rt.engine.incidents.get(incident)
            assert inc is not None and len(inc.alert_ids) == 2

            reply = {"m.relates_to": {"m.in_reply_to": {"event_id": note["event_id"]}}}
            await by.send(mods, "ban", **reply)

            async def answered(words: str):
                return any(words in ev["content"].get("body", "") for ev in await a.messages(mods))

            await eventually(lambda: answered("not an operator"), "the answer to the stranger")
            for room in watched:
                assert await m.membership(room, spammer) == "join"
            assert not [e for e in rt.moderation.ledger.audit_entries() if e.actor == stranger.user_id]

            await a.send(mods, "ban", **reply)
            await eventually(lambda: answered("alice: blacklist incident"), "the answer to alice")

            async def banned():
                return all([await m.membership(room, spammer) == "ban" for room in watched])

            await eventually(banned, "the spammer banned in every watched room")
            audit = rt.moderation.ledger.audit_entries()
            assert any(e.actor == "alice" and "blacklist" in e.action for e in audit), \
                [(e.actor, e.action) for e in audit]
            assert any(t.startswith("alice: blacklist") for t in heard), heard
            assert not any(e.group == f"matrix:{mods}" for e in rt.engine.alerts.live())  # "ban" was never scored
        finally:
            rt.engine.stop()
            await asyncio.gather(engine, return_exceptions=True)
            await svc.stop()
            await rt.aclose()


async def _async(value):
    return value
