"""A QR image posted to a real Synapse room: mapped to Media, downloaded through the homeserver's
(authenticated) media API, decoded and flagged; a too-large image is a reason, not a crash."""
from __future__ import annotations

from connectors.demo.images import qr_png
from connectors.matrix.mapping import RoomBook, map_event
from console.engine.engine import Engine
from console.engine.settings import Settings
from tests.test_matrix import collect, connector, mx, person, start

WECHAT_PAY = "wxp://f2f0Qx7aP2Lm9sT4vB1nC8"


async def test_a_qr_image_in_a_synapse_room_is_decoded_and_flagged(synapse_server):
    s = synapse_server
    spammer = s.users["spammer"].user_id
    async with person(s, "mod") as m, person(s, "spammer") as sp:
        room = await m.create_room("Shop talk")
        await sp.join(room)
        conn = connector(s, rooms=[room])
        try:
            cursor = await start(conn)
            await sp.send_image(room, qr_png(WECHAT_PAY), "pay.png")
            await sp.send(room, "加v 2837461951 出号", msgtype="m.text")
            big = bytes(qr_png("https://u.wechat.com/Big")) + b"\0" * 300_000  # a PNG with trailing bytes
            await sp.send_image(room, big, "big.png")
            events, cursor = await collect(conn, cursor, lambda ev: len([e for e in ev if getattr(e, "text", None)]) >= 3)
            images = [e for e in events if getattr(e, "media", ())]
            assert [e.text for e in images] == ["[image] pay.png", "[image] big.png"]
            assert images[0].media[0].ref.startswith("mxc://")
            settings = Settings()
            settings.detectors.ad.image_max_bytes = 200_000
            engine = Engine(settings, [conn])
            engine.take(conn.name, events, cursor)
            await engine.media.drain()
        finally:
            await conn.close()
    alert = engine.alerts.open_for("ad", mx(room), mx(spammer))
    assert alert is not None and any(r.startswith("QR code: WeChat payment (wxp://") for r in alert.reasons)
    # The payment QR and the text ad fold into the member's alert; the big image was never decoded.
    assert engine.media.checked == 1 and engine.media.failed == 1


def test_media_mapping_takes_only_plain_mxc_images():
    book = RoomBook()
    base = {"type": "m.room.message", "sender": "@a:x", "origin_server_ts": 1000}
    ok = map_event("!r:x", {**base, "event_id": "$1", "content": {
        "msgtype": "m.image", "body": "a.png", "url": "mxc://x/AbC123", "info": {"size": 42}}}, book)
    assert ok.media[0].ref == "mxc://x/AbC123" and ok.media[0].size == 42
    enc = map_event("!r:x", {**base, "event_id": "$2", "content": {
        "msgtype": "m.image", "body": "a.png", "file": {"url": "mxc://x/Enc"}}}, book)
    bad = map_event("!r:x", {**base, "event_id": "$3", "content": {
        "msgtype": "m.image", "body": "a.png", "url": "https://evil.example/a.png"}}, book)
    assert enc.media == () and bad.media == ()
