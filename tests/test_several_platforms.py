"""Several platforms at once: one engine and one blacklist over a Telegram bot and a OneBot (QQ) account.

The same raw number is a different person on each platform: ``telegram:123``
is not ``qq:123``. A blacklist entry acts on its own platform's groups only.
"""
from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Callable

from connectors.onebot import OneBotConnector
from connectors.telegram import TelegramConnector
from console.engine.engine import Engine
from console.engine.moderation import Moderation
from console.engine.settings import Settings
from console.engine.store import Store
from tests.http_fakes import BotApiFake
from tests.onebot_fake import FakeMember, FakeOneBot

TG_TOKEN = "7200001:AAH-several-at-once-0123456789abcdef"
CHAT = -1003
G1, G2 = 555001, 555002
TG = f"telegram:{CHAT}"


def user(uid: int, name: str) -> dict:
    return {"id": uid, "is_bot": False, "first_name": name}


async def until(cond: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def test_one_blacklist_acts_on_each_platform_with_that_platforms_ids(tmp_path: Path):
    qq = await FakeOneBot().start()
    now = qq.now()
    qq.add_group(G1, "QQ Fans", [FakeMember(123, "same-number", join_time=now - 9000),
                                 FakeMember(55501, "ads-1", join_time=now - 9000),
                                 FakeMember(55502, "ads-2", join_time=now - 9000),
                                 FakeMember(66601, "regular", join_time=now - 9000)])
    qq.add_group(G2, "QQ Traders", [FakeMember(55503, "ads-3", join_time=now - 9000)])
    bot = BotApiFake(TG_TOKEN, CHAT, "TG Fans", flow=False)
    env = {"TG": TG_TOKEN, "QQ": qq.token}
    connectors = [
        TelegramConnector.from_settings("tg", {"token_env": "TG"}, environ=env, transport=bot.transport()),
        OneBotConnector.from_settings("qq", {"ws_url": qq.ws_url, "http_url": qq.http_url, "token_env": "QQ"},
                                      environ=env),
    ]
    s = Settings()
    s.engine.poll_timeout = 0.3
    store = Store(tmp_path)
    engine = Engine(s, connectors, store)
    moderation = Moderation(s, store, engine, actor="ana")
    await engine.load_snapshots()
    run = asyncio.create_task(engine.run())
    try:
        assert {f"qq:{G1}", f"qq:{G2}"} <= set(engine.stats.groups)  # QQ lists its groups and members
        await until(lambda: engine.cursors.get("tg") is not None and engine.cursors.get("qq") is not None,
                    "both connectors to be polled")
        bot.push_message(user(123, "Mallory"), "buy now")
        bot.push_message(user(555, "Pat"), "hello")
        await until(lambda: TG in engine.stats.groups and engine.stats.member(TG, "telegram:555") is not None,
                    "the Telegram group to be seen")

        # An exact id: banned in every Telegram group, and nowhere on QQ, where 123 is someone else.
        _, report = await moderation.blacklist_add("telegram:123", reason="spam")
        assert report.errors == [] and bot.methods("banChatMember") == [{"chat_id": CHAT, "user_id": 123}]
        assert qq.actions("set_group_kick") == [] and qq.groups[G1].members.get(123) is not None

        # A glob scoped to QQ: removes the matching QQ members, touches no Telegram member.
        _, report = await moderation.blacklist_add("qq:555*", reason="ad ring")
        assert report.errors == []
        kicked = sorted((a["group_id"], a["user_id"], a["reject_add_request"]) for a in qq.actions("set_group_kick"))
        assert kicked == [(G1, 55501, True), (G1, 55502, True), (G2, 55503, True)]
        assert {55501, 55502} & set(qq.groups[G1].members) == set() and 66601 in qq.groups[G1].members
        assert bot.methods("banChatMember") == [{"chat_id": CHAT, "user_id": 123}]

        # Live: QQ's 123 speaks and Telegram's 5551 joins (nothing happens to either); then
        # QQ's 55504 and Telegram's 123 join, and each is removed on their own platform only.
        await qq.say(G1, 123, "hi from the QQ 123")
        bot.push_join(user(5551, "Sam"))
        await qq.join(G1, 55504, "ads-4")
        bot.push_join(user(123, "Mallory"))
        await until(lambda: any(a["user_id"] == 55504 for a in qq.actions("set_group_kick")),
                    "the QQ newcomer matching qq:555* to be removed")
        await until(lambda: len(bot.methods("banChatMember")) == 2, "the returning telegram:123 to be banned")
        assert bot.methods("banChatMember")[1]["user_id"] == 123
        # Both streams are in order: the earlier events were taken in, and left alone.
        assert engine.stats.member(f"qq:{G1}", "qq:123").messages_seen == 1
        assert engine.stats.member(TG, "telegram:5551") is not None
        assert sorted(a["user_id"] for a in qq.actions("set_group_kick")) == [55501, 55502, 55503, 55504]
        assert 123 in qq.groups[G1].members
        assert [body["user_id"] for body in bot.methods("banChatMember")] == [123, 123]
    finally:
        engine.stop()
        await asyncio.wait_for(run, 10)
        for c in connectors:
            await c.close()
        store.close()
        await qq.stop()
