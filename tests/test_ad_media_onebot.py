"""QR codes and cards through the OneBot fake: image segments become Media, fetched by URL or get_image,
decoded and flagged; contact, group-invite and mini-program cards keep ids and titles as text."""
from __future__ import annotations

import json

from connectors.demo.images import qr_png
from connectors.onebot.mapping import to_event
from console.engine.engine import Engine
from console.engine.settings import Settings
from tests.test_onebot import G1, G2, SPAMMER, collect, conn, fake, started  # noqa: F401  (fixtures)

WECHAT = "https://u.wechat.com/EKxZ_7sPq3uYd0bR2aMzLwQ"
QQ_GROUP = "https://qm.qq.com/cgi-bin/qm/qr?k=Qx7aP2&group_code=736482915"


async def test_qr_images_posted_to_qq_groups_are_decoded_and_flagged(fake, conn):  # noqa: F811
    cursor = await started(conn)
    by_url = fake.add_image("5A1C0FFEE.image", qr_png(WECHAT))
    by_get_image = fake.add_image("B0BA7EA.image", qr_png(QQ_GROUP), with_url=False)
    await fake.say(G1, SPAMMER, [{"type": "image", "data": by_url}])
    await fake.say(G2, SPAMMER, [{"type": "text", "data": {"text": "福利群 "}}, {"type": "image", "data": by_get_image}])
    events, cursor = await collect(conn, cursor, 2)
    assert [e.text for e in events] == ["[image]", "福利群 [image]"]
    assert events[0].media[0].url.endswith("/images/5A1C0FFEE.image") and events[1].media[0].url is None
    engine = Engine(Settings(), [conn])
    engine.take("qq", events, cursor)
    await engine.media.drain()
    a1 = engine.alerts.open_for("ad", f"qq:{G1}", f"qq:{SPAMMER}")
    a2 = engine.alerts.open_for("ad", f"qq:{G2}", f"qq:{SPAMMER}")
    assert a1 is not None and any(r.startswith("QR code: WeChat contact") for r in a1.reasons)
    assert a2 is not None and any(r.startswith("QR code: QQ group") for r in a2.reasons)
    assert [c[0] for c in fake.calls if c[0] in ("get_image", "GET image")] == ["GET image", "get_image", "GET image"]


async def test_a_slow_qq_image_is_a_reason_not_a_hang(fake, conn):  # noqa: F811
    cursor = await started(conn)
    fake.image_delay = 5.0
    seg = fake.add_image("51011.image", qr_png(WECHAT))
    await fake.say(G1, SPAMMER, [{"type": "text", "data": {"text": "加v 2837461951 出号 "}},
                                 {"type": "image", "data": seg}])
    events, cursor = await collect(conn, cursor, 1)
    s = Settings()
    s.detectors.ad.image_timeout_s = 0.3
    engine = Engine(s, [conn])
    engine.take("qq", events, cursor)
    await engine.media.drain()
    alert = engine.alerts.open_for("ad", f"qq:{G1}", f"qq:{SPAMMER}")
    assert "image not checked: download timed out after 0.3 s" in alert.reasons


def _message(segments: list[dict]) -> dict:
    return {"post_type": "message", "message_type": "group", "group_id": G1, "user_id": SPAMMER, "time": 1_700_000_000,
            "message_id": 77, "message": segments, "sender": {"nickname": "ads4u"}}


def test_cards_keep_their_ids_and_titles_as_text():
    contact = to_event(_message([{"type": "contact", "data": {"type": "qq", "id": "2837461951"}}]))
    assert contact.text == "[contact card: QQ 2837461951]"
    group = to_event(_message([{"type": "contact", "data": {"type": "group", "id": 736482915}}]))
    assert group.text == "[group invite card: QQ 736482915]"
    troop = {"app": "com.tencent.troopsharecard", "prompt": "推荐群聊：福利交流群",
             "meta": {"contact": {"nickname": "福利交流群", "contact": "群号 736482915",
                                  "jumpUrl": "https://qm.qq.com/cgi-bin/qm/qr?k=Qx7aP2&group_code=736482915"}}}
    ev = to_event(_message([{"type": "json", "data": {"data": json.dumps(troop, ensure_ascii=False)}}]))
    assert ev.text.startswith("[group invite card 推荐群聊：福利交流群 | ") and "736482915" in ev.text
    mini = {"app": "com.tencent.miniapp_01", "prompt": "[QQ小程序]拼多多",
            "meta": {"detail_1": {"title": "拼多多", "desc": "帮我砍一刀，差一点点就免费拿了",
                                  "qqdocurl": "https://mobile.yangkeduo.com/x?share=7788"}}}
    ev = to_event(_message([{"type": "json", "data": {"data": json.dumps(mini, ensure_ascii=False)}}]))
    assert ev.text == "[mini-program card [QQ小程序]拼多多 | 帮我砍一刀，差一点点就免费拿了 https://mobile.yangkeduo.com/x?share=7788]"
    # and the detectors read them: a contact card from a newcomer in a strict group, a share code in a no-commerce one
    from console.engine.detectors.ad_policy import commerce_kinds, parse_policy
    from console.engine.detectors.ad_text import AdRules, normalize
    assert "share code" in commerce_kinds(normalize(ev.text))
    a = AdRules().analyze(contact.text)
    assert parse_policy("strict_newcomers").newcomer_hold(a, contact.text).endswith("a card, held for review")
