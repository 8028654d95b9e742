"""QR codes in images, decoded on this machine (zxing-cpp + Pillow), and what they point to.

In QQ and WeChat groups the most common ad is not text but a QR code: add me, join this
group, pay here. :func:`decode` reads every QR code in an image; :func:`classify` names a
payload that opens a WeChat/QQ contact, group or payment (strong ad evidence on its own) or
another link. Nothing leaves the machine.

Images are untrusted bytes: the pixel count is checked from the header before decoding (a
"decompression bomb" is refused, not decoded), and any decoder failure is an
:class:`ImageError` with a one-line reason, never a crash. Decoding is CPU work: callers run it
in a thread.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass

MAX_PIXELS = 16_000_000
"""Images with more pixels than this are not decoded (a 4000x4000 photo is the largest a chat sends)."""
SCAN_SIDE = 1600
"""Larger images are scaled down to this many pixels on their longer side first (QR codes in chat
screenshots stay readable; decoding time stays around tens of milliseconds)."""
PAYLOAD_CHARS = 500
"""Characters of a payload kept (shown, matched, remembered)."""


class ImageError(Exception):
    """An image that cannot be checked; ``str(e)`` is one line."""


def decode(data: bytes, max_pixels: int = MAX_PIXELS) -> list[str]:
    """The text of every QR code in the image ``data`` (empty: none found)."""
    try:
        from PIL import Image, UnidentifiedImageError
        import zxingcpp
    except ImportError as e:  # a broken install: say so on the alert, don't crash the scanner
        raise ImageError(f"QR decoder not installed ({e.name})") from None
    try:
        img = Image.open(io.BytesIO(data))
        w, h = img.size
        if w * h > max_pixels:
            raise ImageError(f"image too large to decode ({w}x{h} pixels)")
        img.draft("L", (SCAN_SIDE, SCAN_SIDE))  # JPEG: decode at a reduced size straight away
        img = img.convert("L")
        if max(img.size) > SCAN_SIDE:
            img.thumbnail((SCAN_SIDE, SCAN_SIDE))
        results = zxingcpp.read_barcodes(img, formats=zxingcpp.BarcodeFormat.QRCode)
    except ImageError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError):
        raise ImageError("not a readable image") from None
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError) as e:  # truncated or corrupt data
        raise ImageError(f"corrupt image ({type(e).__name__})") from None
    out = []
    for r in results:
        text = r.text or ""
        if text and text not in out:
            out.append(text[:PAYLOAD_CHARS])
    return out


@dataclass(slots=True, frozen=True)
class QrKind:
    label: str  # "WeChat contact", "QQ group", "Alipay payment", "link"
    weight: float  # evidence of an ad, 0..1


CONTACT_WEIGHT = 0.9
"""A QR code that adds someone on WeChat/QQ, joins a group or pays: an ad in a group chat."""
MESSENGER_WEIGHT = 0.7
LINK_WEIGHT = 0.35

# Checked in order, on the lower-cased payload.
_KINDS: tuple[tuple[re.Pattern[str], QrKind], ...] = tuple((re.compile(rx), QrKind(label, w)) for rx, label, w in (
    (r"^wxp://|wx\.tenpay\.com|payapp\.weixin\.qq\.com", "WeChat payment", CONTACT_WEIGHT),
    (r"weixin\.qq\.com/g/", "WeChat group", CONTACT_WEIGHT),
    (r"u\.wechat\.com/|weixin\.qq\.com/r/|^weixin://|work\.weixin\.qq\.com/u/|wechat\.com/u/", "WeChat contact",
     CONTACT_WEIGHT),
    (r"qr\.alipay\.com|^alipays?://", "Alipay payment", CONTACT_WEIGHT),
    (r"jq\.qq\.com/|qun\.qq\.com/|qm\.qq\.com/cgi-bin/qm/qr\?.*(?:group|qun)", "QQ group", CONTACT_WEIGHT),
    (r"qm\.qq\.com/|^mqqapi://|^mqqopensdkapi://|ti\.qq\.com/", "QQ contact", CONTACT_WEIGHT),
    (r"(?:^|//)(?:t\.me|telegram\.me|wa\.me|chat\.whatsapp\.com|line\.me)/", "messenger contact", MESSENGER_WEIGHT),
    (r"^https?://|^www\.", "link", LINK_WEIGHT),
))


def classify(payload: str) -> QrKind | None:
    """What a QR payload opens, or None for plain text (the rules read that as text)."""
    p = payload.strip().lower()
    for rx, kind in _KINDS:
        if rx.search(p) is not None:
            return kind
    return None


# Cards as the connectors write them into a message's text ("[contact card: QQ 123]", "[group invite
# card 推荐群聊：... | ... https://qm.qq.com/...]"): a recommended contact or group in a chat group is an
# ad's favourite vehicle; the link inside, classified like a QR payload, says where it leads.
_CARD = re.compile(r"\[(contact card|group invite card|mini-program card)\b([^\]]{0,400})")
_CARD_URL = re.compile(r"(?:https?://|wxp://|mqqapi://)[^\s\]|]{1,300}")
CARD_WEIGHTS = {"contact card": 0.55, "group invite card": 0.65, "mini-program card": 0.3}


def card_signals(text: str) -> list[tuple[str, float]]:
    """Signals for the cards in a message's text: the card itself, and where its link leads."""
    out: list[tuple[str, float]] = []
    for m in _CARD.finditer(text):
        label, body = m.group(1), m.group(2)
        out.append((label, CARD_WEIGHTS[label]))
        for u in _CARD_URL.findall(body)[:2]:
            kind = classify(u)
            if kind is not None and kind.weight > LINK_WEIGHT:
                out.append((f"{label} leads to a {kind.label}", kind.weight))
        if len(out) >= 4:
            break
    return out


def shown(payload: str, limit: int = 60) -> str:
    """A payload cut for a reason line (the console renders it literally)."""
    p = " ".join(payload.split())
    return p if len(p) <= limit else p[:limit - 1] + "…"


__all__ = ["ImageError", "QrKind", "card_signals", "classify", "decode", "shown"]
