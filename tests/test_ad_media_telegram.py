"""Telegram photos and shared contacts: the largest photo size becomes Media, fetched with getFile and the
file URL (token only inside the transport), decoded and flagged; a contact keeps its name and number."""
from __future__ import annotations

import httpx

from connectors.demo.images import qr_png
from console.engine.engine import Engine
from console.engine.settings import Settings
from tests.test_telegram import ANN, SUPER, T0, TOKEN, BotServer, _ok, message, started

QQ = "https://qm.qq.com/q/Abc123xyz"


class FileServer(BotServer):
    def __init__(self) -> None:
        super().__init__()
        self.files: dict[str, bytes] = {}
        self.file_paths: list[str] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.startswith(f"/file/bot{TOKEN}/"):
            name = path[len(f"/file/bot{TOKEN}/"):]
            self.file_paths.append(name)
            data = self.files.get(name)
            return httpx.Response(200, content=data) if data is not None else httpx.Response(404)
        return super().handle(request)


async def test_a_qr_photo_is_fetched_with_getfile_decoded_and_flagged():
    server = FileServer()
    server.files["photos/file_7.png"] = qr_png(QQ)
    server.handlers["getFile"] = lambda body: _ok({"file_id": body["file_id"], "file_unique_id": "u7",
                                                   "file_size": len(server.files["photos/file_7.png"]),
                                                   "file_path": "photos/file_7.png"})
    conn, cursor = await started(server)
    sizes = [{"file_id": "small", "file_unique_id": "s", "width": 90, "height": 90, "file_size": 900},
             {"file_id": "large", "file_unique_id": "u7", "width": 800, "height": 800, "file_size": 9000}]
    server.push("message", message(11, ANN, T0 + 1, photo=sizes, caption="扫码进群"))
    server.push("message", message(12, ANN, T0 + 2, contact={"phone_number": "+8613800138000", "first_name": "客服",
                                                             "user_id": 99}))
    batch = await conn.poll(cursor, 0)
    photo, card = batch.events
    assert photo.text == "扫码进群" and photo.media[0].ref == "large" and photo.media[0].key == "telegram:u7"
    assert card.text == "[contact card: 客服 +8613800138000]"
    engine = Engine(Settings(), [conn])
    engine.take(conn.name, batch.events, batch.cursor)
    await engine.media.drain()
    await conn.close()
    assert [b["file_id"] for b in server.bodies("getFile")] == ["large"]
    assert server.file_paths == ["photos/file_7.png"]
    alert = engine.alerts.open_for("ad", f"telegram:{SUPER}", f"telegram:{ANN['id']}")
    assert alert is not None and any(r.startswith("QR code: QQ contact") for r in alert.reasons)


async def test_a_file_over_the_limit_is_not_downloaded():
    server = FileServer()
    server.handlers["getFile"] = lambda body: _ok({"file_id": "big", "file_unique_id": "b",
                                                   "file_size": 20_000_000, "file_path": "photos/big.jpg"})
    conn, cursor = await started(server)
    server.push("message", message(11, ANN, T0 + 1, photo=[{"file_id": "big", "file_unique_id": "b", "width": 4000,
                                                           "height": 4000}], caption="加v 2837461951 出号"))
    batch = await conn.poll(cursor, 0)
    engine = Engine(Settings(), [conn])
    engine.take(conn.name, batch.events, batch.cursor)
    await engine.media.drain()
    await conn.close()
    assert server.file_paths == []
    alert = engine.alerts.open_for("ad", f"telegram:{SUPER}", f"telegram:{ANN['id']}")
    assert "image not checked: too large (over the 5.0 MB limit)" in alert.reasons
