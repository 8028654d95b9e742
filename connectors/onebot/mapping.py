"""OneBot v11 event payloads -> groupwatch's normalised events.

Only group traffic becomes events: group messages (also the bot's own, which
NapCat reports as ``post_type = "message_sent"``), joins, leaves and kicks, and
recalls. Private messages, requests and the many other notices are dropped
here; meta events (heartbeat, lifecycle) are the stream's business.
"""
from __future__ import annotations

import json
import math
from typing import Any, Callable

from connectors.events import Event, Join, Leave, Media, Message, MessageDeleted, qualify, raw_id

from . import cq

PLATFORM = "qq"
# What non-text segments look like in a message's text: enough to read, never a live object.
_PLACEHOLDER = {"face": "[face]", "mface": "[sticker]", "image": "[image]", "record": "[voice]",
                "video": "[video]", "file": "[file]", "forward": "[forward]", "node": "[forward]",
                "rps": "[rock-paper-scissors]", "dice": "[dice]", "shake": "[shake]", "poke": "[poke]",
                "location": "[location]", "music": "[music]", "contact": "[contact]", "markdown": "[markdown]"}


NameOf = Callable[[str], "str | None"]  # qq number -> display name known in this group


class Malformed(ValueError):
    """A payload that does not have the shape the standard gives it."""


def qid(value: Any) -> str:
    """A QQ number (user or group) from an int or a string of digits, as text."""
    if isinstance(value, bool):
        raise Malformed("id is a boolean")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip().isdigit():
        return value.strip()
    raise Malformed(f"bad id {value!r:.40}")


def seconds(value: Any) -> float | None:
    """A peer's number of seconds as a finite float; None for anything else. JSON brings NaN,
    Infinity and integers of any length: the last would overflow float(), the others would poison
    every comparison of times after them."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, int) and not -2**53 <= value <= 2**53:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _time(payload: dict) -> float:
    t = seconds(payload.get("time"))
    if t is None:
        raise Malformed("no time")
    return t


def _message_id(value: Any) -> str:
    # NapCat's ids are signed int32 hashes; others use plain ints; a few send strings.
    if isinstance(value, bool):
        raise Malformed("message_id is a boolean")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return value.strip()
    raise Malformed("bad message_id")


def sender_name(payload: dict) -> str:
    sender = payload.get("sender") if isinstance(payload.get("sender"), dict) else {}
    anonymous = payload.get("anonymous")
    if isinstance(anonymous, dict) and isinstance(anonymous.get("name"), str):
        return f"{anonymous['name']} (anonymous)"
    for key in ("card", "nickname"):
        name = sender.get(key)
        if isinstance(name, str) and name.strip():
            return name
    return str(payload.get("user_id", ""))


def render(segments: list[cq.Segment], name_of: NameOf | None = None) -> tuple[str, tuple[str, ...], str | None]:
    """(text, mentioned member ids, id of the replied-to message) of a message's segments.

    A mention reads "@name" when the segment or ``name_of`` knows the name, else "@<qq number>".
    """
    text, mentions, reply_to, _ = render_all(segments, name_of)
    return text, mentions, reply_to


MAX_IMAGES = 9  # a QQ message holds at most 9 pictures


def render_all(segments: list[cq.Segment], name_of: NameOf | None = None
               ) -> tuple[str, tuple[str, ...], str | None, tuple[Media, ...]]:
    """:func:`render` and the message's images (as :class:`Media`, fetched later on demand)."""
    parts: list[str] = []
    mentions: list[str] = []
    reply_to: str | None = None
    media: list[Media] = []
    for seg in segments:
        kind, data = seg["type"], seg["data"]
        if kind == "text":
            parts.append(str(data.get("text", "")))
        elif kind == "at":
            qq = str(data.get("qq", ""))
            name = data.get("name")
            if qq == "all":
                parts.append("@all")
            else:
                if not (isinstance(name, str) and name) and name_of is not None:
                    name = name_of(qq)
                parts.append(f"@{name}" if isinstance(name, str) and name else f"@{qq}")
                if qq.isdigit():
                    mentions.append(qualify(PLATFORM, qq))
        elif kind == "reply":
            if data.get("id") is not None:
                reply_to = str(data["id"])
        elif kind == "share":
            parts.append(f"[link {data.get('title', '')} {data.get('url', '')}]".replace("  ", " "))
        elif kind == "json":
            parts.append(_card(data.get("data")))
        elif kind == "xml":
            parts.append("[card]")
        elif kind == "contact":
            parts.append(_contact(data))
        else:
            parts.append(_PLACEHOLDER.get(kind, f"[{kind}]"))
            if kind == "image" and len(media) < MAX_IMAGES:
                m = _image(data)
                if m is not None:
                    media.append(m)
    return "".join(parts), tuple(dict.fromkeys(mentions)), reply_to, tuple(media)


def _image(data: dict) -> Media | None:
    # NapCat/Lagrange give "file" (a name that is also the content's key, e.g. an md5 + ".image"),
    # often "url" (the QQ CDN) and "file_size"; get_image(file) serves it when there is no url.
    file, url = data.get("file"), data.get("url")
    file = file if isinstance(file, str) and file else None
    url = url if isinstance(url, str) and url.startswith(("http://", "https://")) else None
    if file is None and url is None:
        return None
    size = data.get("file_size")
    size = int(size) if isinstance(size, (int, str)) and str(size).isdigit() and len(str(size)) < 16 else None
    return Media("image", file or url, url=url, size=size, key=file)


def _contact(data: dict) -> str:
    # A recommended contact or group: its number kept as text, for the detectors.
    what, ident = data.get("type"), data.get("id")
    ident = str(ident) if isinstance(ident, (int, str)) and not isinstance(ident, bool) else ""
    label = "group invite card" if what == "group" else "contact card"
    return f"[{label}: QQ {ident}]" if ident else f"[{label}]"


CARD_CHARS = 300
# Fields of a card's "meta" worth reading: titles, descriptions, names and where it leads.
_CARD_FIELDS = ("title", "desc", "nickname", "contact", "tag", "jumpUrl", "qqdocurl", "url")
_CARD_KINDS = {"com.tencent.contact.lua": "contact card", "com.tencent.troopsharecard": "group invite card",
               "com.tencent.qun.invite": "group invite card", "com.tencent.miniapp_01": "mini-program card",
               "com.tencent.miniapp": "mini-program card"}


def _card(raw: Any) -> str:
    # Mini-program, contact and group-invite cards are a favourite ad vehicle: keep their headline,
    # titles, names and links (ids live there) for the detectors.
    try:
        card = json.loads(raw) if isinstance(raw, str) else None
    except (ValueError, RecursionError):  # nesting past the recursion limit: a stranger's card, not a bug
        card = None
    if not isinstance(card, dict):
        return "[card]"
    prompt = card.get("prompt")
    app = card.get("app")
    label = _CARD_KINDS.get(app, "card") if isinstance(app, str) else "card"
    head = f"[{label} {prompt}" if isinstance(prompt, str) and prompt else f"[{label}"
    found: list[str] = []
    meta = card.get("meta")
    if isinstance(meta, dict):
        for part in list(meta.values())[:8]:  # meta.{contact, detail_1, news}: one level of objects
            if isinstance(part, dict):
                for key in _CARD_FIELDS:
                    v = part.get(key)
                    if isinstance(v, str) and v.strip() and v not in found and (not prompt or v not in prompt):
                        found.append(v.strip())
    body = " ".join(" ".join(found).split())[:CARD_CHARS]
    return f"{head} | {body}]" if body else f"{head}]"


def to_event(payload: dict, names: Callable[[str, str], "str | None"] | None = None) -> Event | None:
    """The normalised event for one OneBot event payload, or None when it is not group traffic.

    ``names(group, qq)`` gives display names for mentions. Raises Malformed for a
    group event missing what the standard promises.
    """
    post = payload.get("post_type")
    if post in ("message", "message_sent"):
        if payload.get("message_type") != "group":
            return None
        return _message(payload, names)
    if post == "notice":
        return _notice(payload, names)
    return None


def _message(p: dict, names: Callable[[str, str], "str | None"] | None) -> Message:
    group = qid(p.get("group_id"))
    segments = cq.segments_of(p.get("message"))
    if segments is None:
        raw = p.get("raw_message")
        segments = cq.parse(raw) if isinstance(raw, str) else None
    if segments is None:
        raise Malformed("group message without a message")
    text, mentions, reply_to, media = render_all(
        segments, (lambda qq: names(group, qq)) if names is not None else None)
    return Message(group=qualify(PLATFORM, group), sender=qualify(PLATFORM, qid(p.get("user_id"))),
                   sender_name=sender_name(p), text=text, at=_time(p), id=_message_id(p.get("message_id")),
                   reply_to=reply_to, mentions=mentions, media=media)


def _notice(p: dict, names: Callable[[str, str], "str | None"] | None) -> Event | None:
    kind = p.get("notice_type")
    if kind not in ("group_increase", "group_decrease", "group_recall"):
        return None  # group_ban (mutes), group_admin, group_card, poke, essence...: not tracked
    group = qualify(PLATFORM, qid(p.get("group_id")))
    at = _time(p)
    if kind == "group_recall":
        operator = p.get("operator_id")
        return MessageDeleted(group=group, message_id=_message_id(p.get("message_id")), at=at,
                              by=qualify(PLATFORM, qid(operator)) if operator not in (None, 0, "0") else None)
    member = qid(p.get("user_id"))
    operator = p.get("operator_id")
    op = qualify(PLATFORM, qid(operator)) if operator not in (None, 0, "0", "") else None
    if kind == "group_increase":
        # The notice names nobody; a member coming back may be known from before.
        known = names(raw_id(group), member) if names is not None else None
        return Join(group=group, member=qualify(PLATFORM, member), member_name=known or member, at=at,
                    inviter=op if p.get("sub_type") == "invite" and op != qualify(PLATFORM, member) else None)
    sub = p.get("sub_type")
    if sub in ("kick", "kick_me"):
        return Leave(group=group, member=qualify(PLATFORM, member), at=at,
                     kicked_by=op or qualify(PLATFORM, "unknown"))
    return Leave(group=group, member=qualify(PLATFORM, member), at=at)
