"""Images the simulated fleet posts: QR codes made on demand (zxing-cpp's writer) and plain pictures.

The world only names an image (``qr:<payload>``, ``photo:<n>``); the bytes are made when the
console asks for them through ``DemoConnector.media``, as a real platform serves a download.
"""
from __future__ import annotations

import io

QR_PREFIX = "qr:"
PHOTO_PREFIX = "photo:"


def qr_png(payload: str, scale: int = 6, margin: int = 0) -> bytes:
    """A PNG of a QR code holding ``payload`` (``margin``: extra white pixels around it, like a poster)."""
    import zxingcpp
    from PIL import Image

    code = zxingcpp.create_barcode(payload, zxingcpp.BarcodeFormat.QRCode)
    view = memoryview(code.to_image(scale=scale, add_quiet_zones=True))
    img = Image.frombytes("L", (view.shape[1], view.shape[0]), view.tobytes())
    if margin:
        framed = Image.new("L", (img.width + 2 * margin, img.height + 2 * margin), 255)
        framed.paste(img, (margin, margin))
        img = framed
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def photo_png(n: int, side: int = 96) -> bytes:
    """A plain picture (a gradient that varies with ``n``): an image with no QR code in it."""
    from PIL import Image

    img = Image.new("RGB", (side, side))
    img.putdata([((x * 3 + n) % 256, (y * 2 + n * 7) % 256, (x + y + n) % 256) for y in range(side) for x in range(side)])
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def image_bytes(ref: str) -> bytes | None:
    """The bytes of a demo image reference, or None if it names none."""
    if ref.startswith(QR_PREFIX):
        return qr_png(ref[len(QR_PREFIX):])
    if ref.startswith(PHOTO_PREFIX) and ref[len(PHOTO_PREFIX):].isdigit():
        return photo_png(int(ref[len(PHOTO_PREFIX):]))
    return None
