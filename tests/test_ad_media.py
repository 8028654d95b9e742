"""QR codes in images: made here with zxing-cpp's writer, posted through the engine, decoded and flagged;
failures (20 MB, corrupt, a download that never ends) give a reason, never a crash."""
from __future__ import annotations

import asyncio
import io

import pytest

from connectors.contract import ConnectorError
from connectors.demo.images import photo_png, qr_png
from connectors.events import Group, Media, Message
from console.engine.detectors.ad_qr import ImageError, classify, decode
from console.engine.engine import Engine
from console.engine.settings import Settings
from tests.fakes import ScriptedConnector
from tests.helpers import T0

G1, G2, G3 = "fake:g1", "fake:g2", "fake:g3"
WECHAT = "https://u.wechat.com/EKxZ_7sPq3uYd0bR2aMzLwQ"
QQ_GROUP = "https://qm.qq.com/cgi-bin/qm/qr?k=Qx7aP2&group_code=736482915"


def image_msg(group: str, sender: str, ref: str, n: int, text: str = "[image]", **media) -> Message:
    return Message(group=group, sender=sender, sender_name=sender, text=text, at=T0 + n, id=f"m{n}",
                   media=(Media("image", ref, **media),))


def engine_with(conn: ScriptedConnector, **ad) -> Engine:
    s = Settings()
    for k, v in ad.items():
        setattr(s.detectors.ad, k, v)
    e = Engine(s, [conn], clock=lambda: T0)
    for g in (G1, G2, G3):
        e.group_owner[g] = conn.name
        e.stats.load_group(Group(g, g, "fake"), T0)
    return e


def test_decode_and_classify_a_qr_made_here() -> None:
    assert decode(qr_png(WECHAT)) == [WECHAT]
    assert decode(qr_png(QQ_GROUP, scale=3, margin=200)) == [QQ_GROUP]  # small code on a big poster
    assert decode(photo_png(3)) == []
    assert classify(WECHAT).label == "WeChat contact" and classify(WECHAT).weight >= 0.9
    assert classify(QQ_GROUP).label == "QQ group"
    assert classify("wxp://f2f0abcdefg").label == "WeChat payment"
    assert classify("HTTPS://QR.ALIPAY.COM/fkx12345").label == "Alipay payment"
    assert classify("https://example.org/menu").label == "link"
    assert classify("hello") is None
    with pytest.raises(ImageError, match="^corrupt image"):
        decode(b"\x89PNG\r\n\x1a\n" + b"garbage" * 50)
    with pytest.raises(ImageError, match="not a readable image"):
        decode(b"just some text, not an image")


def test_a_decompression_bomb_is_refused_by_its_header() -> None:
    from PIL import Image

    out = io.BytesIO()
    Image.new("1", (6000, 6000), 1).save(out, "PNG")  # tiny file, 36 M pixels
    assert len(out.getvalue()) < 100_000
    with pytest.raises(ImageError, match="too large to decode"):
        decode(out.getvalue())


async def test_a_qr_image_is_decoded_and_flagged_without_blocking_ingest() -> None:
    conn = ScriptedConnector("fake", [])
    conn.media_items = {"a": qr_png(WECHAT), "p": photo_png(1)}
    e = engine_with(conn)
    e.ingest([image_msg(G1, "fake:u1", "a", 1), image_msg(G1, "fake:u2", "p", 2)])
    # ingest only queued the images: nothing fetched yet, no alert yet
    assert conn.media_fetched == [] and e.media.pending == 2
    await e.media.drain()
    alert = e.alerts.open_for("ad", G1, "fake:u1")
    assert alert is not None and alert.message_id == "m1"
    assert any(r.startswith("QR code: WeChat contact (https://u.wechat.com/") for r in alert.reasons)
    assert e.alerts.open_for("ad", G1, "fake:u2") is None
    assert sorted(conn.media_fetched) == ["a", "p"]


async def test_same_image_is_fetched_once_per_key_and_decoded_once_per_hash() -> None:
    conn = ScriptedConnector("fake", [])
    conn.media_items = {"a": qr_png(QQ_GROUP), "b": qr_png(QQ_GROUP)}
    e = engine_with(conn)
    e.ingest([image_msg(G1, "fake:u1", "a", 1, key="k1"), image_msg(G2, "fake:u2", "a", 2, key="k1"),
              image_msg(G3, "fake:u3", "b", 3)])
    await e.media.drain()
    assert conn.media_fetched.count("a") == 1
    for g, u in ((G1, "fake:u1"), (G2, "fake:u2"), (G3, "fake:u3")):
        assert e.alerts.open_for("ad", g, u) is not None


async def test_big_corrupt_and_slow_images_give_a_reason_not_a_crash() -> None:
    conn = ScriptedConnector("fake", [])
    never = asyncio.Event()

    async def slow() -> bytes:
        await never.wait()  # a download that never ends
        return b""

    conn.media_items = {"big": b"\xff\xd8" + b"\0" * 20_000_000, "bad": b"\x89PNG\r\n\x1a\nnot really",
                        "slow": slow, "gone": ConnectorError("HTTP 404")}
    e = engine_with(conn, image_timeout_s=0.2)
    # Each text is an ad on its own, so each message has an alert that the reason joins.
    texts = {"big": "加v 2837461951 出号", "bad": "加v 2837461952 出号", "slow": "加v 2837461953 出号",
             "gone": "加v 2837461954 出号"}
    e.ingest([image_msg(G1, f"fake:{ref}", ref, n, text=t) for n, (ref, t) in enumerate(texts.items())]
             + [image_msg(G1, "fake:announced", "x", 9, size=20_000_000)])
    await asyncio.wait_for(e.media.drain(), 5)
    reasons = {ref: e.alerts.open_for("ad", G1, f"fake:{ref}").reasons for ref in texts}
    assert "image not checked: too large (over the 5.0 MB limit)" in reasons["big"]
    assert any(r.startswith("image not checked: corrupt image") or r == "image not checked: not a readable image"
               for r in reasons["bad"])
    assert "image not checked: download timed out after 0.2 s" in reasons["slow"]
    assert "image not checked: download failed: HTTP 404" in reasons["gone"]
    assert "x" not in conn.media_fetched  # announced as 20 MB: never downloaded
    assert e.alerts.open_for("ad", G1, "fake:announced") is None  # "[image]" alone: no alert to add to
    assert e.media.failed == 5


async def test_a_known_bad_payload_flags_every_copy_at_once_and_later_ones() -> None:
    conn = ScriptedConnector("fake", [])
    # A plain link (weak evidence on its own): only the blacklisting makes it an ad.
    payload = "https://shop.example/p/4455"
    conn.media_items = {"a": qr_png(payload), "b": qr_png(payload, scale=4)}
    e = engine_with(conn)
    e.ingest([image_msg(G1, "fake:spammer", "a", 1), image_msg(G2, "fake:friend", "b", 2)])
    await e.media.drain()
    assert e.alerts.open_for("ad", G2, "fake:friend") is None
    found = e.media.blacklisted(lambda m: m == "fake:spammer")
    assert {(f.group, f.member) for f in found} == {(G1, "fake:spammer"), (G2, "fake:friend")}
    assert e.alerts.open_for("ad", G2, "fake:friend").severity.name == "HIGH"
    e.ingest([image_msg(G3, "fake:other", "b", 3)])
    await e.media.drain()
    alert = e.alerts.open_for("ad", G3, "fake:other")
    assert alert is not None and alert.reasons[0].startswith("known-bad QR code (sent by blacklisted fake:spammer)")
    assert e.media.blacklisted(lambda m: m == "fake:spammer") == []  # each copy flagged once


async def test_scanning_can_be_turned_off_and_allow_members_are_skipped() -> None:
    conn = ScriptedConnector("fake", [])
    conn.media_items = {"a": qr_png(WECHAT)}
    e = engine_with(conn, allow_members=["fake:admin"])
    e.ingest([image_msg(G1, "fake:admin", "a", 1)])
    await e.media.drain()
    assert conn.media_fetched == []
    s = Settings()
    s.detectors.ad.scan_images = False
    assert Engine(s, [conn], clock=lambda: T0).media is None


async def test_the_demo_fleet_shows_qr_and_card_ads_flagged_in_the_first_minute() -> None:
    from connectors.demo import DemoConnector
    from console.runtime import poll_once

    demo = DemoConnector(pace=False)  # default: 40 groups, 60 simulated seconds per wall second
    engine = Engine(Settings(), [demo], clock=demo.now)
    while demo.now() < demo.world.start + 60 * 60:  # the first wall minute
        await poll_once(engine)
        await engine.media.drain()
    reasons = [r for a in engine.alerts.live() if a.kind == "ad" for r in a.reasons]
    assert any(r.startswith("QR code: ") for r in reasons), reasons
    assert any(r in ("contact card", "group invite card", "mini-program card") for r in reasons)
    assert engine.media.checked >= 2 and engine.media.failed == 0


async def test_blacklisting_a_qr_sender_marks_every_copy_known_bad(tmp_path) -> None:
    from connectors.demo import DemoConnector
    from console.engine.moderation import Moderation
    from console.engine.store import Store
    from console.runtime import poll_once

    demo = DemoConnector(pace=False)
    store = Store(tmp_path)
    engine = Engine(Settings(), [demo], store, clock=demo.now)
    mod = Moderation(Settings(), store, engine, actor="alice")
    while not engine.media.sightings and demo.now() < demo.world.start + 60 * 60:
        await poll_once(engine)
        await engine.media.drain()
    await poll_once(engine)  # the rest of the campaign's copies
    await engine.media.drain()
    payload, copies = next(iter(engine.media.sightings.items()))
    assert len({c.member for c in copies}) >= 2
    first = copies[0]
    await mod.blacklist_add(first.member, reason="QR ads")
    assert engine.media.bad == {payload: first.member}
    for c in copies[1:]:
        alert = engine.alerts.open_for("ad", c.group, c.member)
        assert any(r.startswith(f"known-bad QR code (sent by blacklisted {first.member})") for r in alert.reasons)
    # A restart keeps what is known-bad: the next copy, from anyone, is still flagged.
    engine.checkpoint()
    store.close()
    store = Store(tmp_path)
    again = Engine(Settings(), [demo], store, clock=demo.now)
    again.restore()
    assert again.media.bad == {payload: first.member}
    store.close()
