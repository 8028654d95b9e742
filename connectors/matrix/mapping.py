"""Matrix room events (client format, as /sync and /messages give them) -> normalised events.

Only the event types in ``TIMELINE_TYPES`` are asked for; everything else is
filtered out by the homeserver. Room and member names are learnt from the
same stream (``RoomBook``), so a message needs no extra call for its sender's
display name in the usual case.
"""
from __future__ import annotations

import logging
import re
import time
from urllib.parse import unquote
from dataclasses import dataclass, field
from typing import Any

from connectors.events import Ban, Event, Join, Leave, Media, Message, MessageDeleted, qualify

log = logging.getLogger("groupwatch.matrix")

PLATFORM = "matrix"
TIMELINE_TYPES = ["m.room.message", "m.room.member", "m.room.redaction", "m.room.name", "m.room.canonical_alias"]
STATE_TYPES = ["m.room.name", "m.room.canonical_alias", "m.room.member", "m.room.encryption"]
TEXT_TYPES = frozenset({"m.text", "m.notice", "m.emote"})
MEDIA_LABELS = {"m.image": "image", "m.file": "file", "m.video": "video", "m.audio": "audio",
                "m.location": "location", "m.sticker": "sticker"}
# A pill in a legacy client's HTML (no m.mentions): <a href="https://matrix.to/#/@user:server">
PILL = re.compile(r"""href=["']https://matrix\.to/#/(@[^"'?/]+)""")


def localpart(user_id: str) -> str:
    return user_id[1:].split(":", 1)[0] if user_id.startswith("@") else user_id


@dataclass(slots=True)
class RoomBook:
    """Names the stream has taught us: rooms' names and aliases, members' display names."""

    names: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    display: dict[tuple[str, str], str] = field(default_factory=dict)
    encrypted: set[str] = field(default_factory=set)

    def room_name(self, room: str) -> str:
        return self.names.get(room) or self.aliases.get(room) or room

    def learn(self, room: str, ev: dict[str, Any]) -> None:
        """Take what a state event says about names (from a timeline or a state block)."""
        kind, content = ev.get("type"), ev.get("content")
        if not isinstance(content, dict):
            return
        if kind == "m.room.member":
            user = ev.get("state_key")
            if isinstance(user, str) and user:
                name = content.get("displayname")
                if content.get("membership") == "join" and isinstance(name, str) and name.strip():
                    self.display[(room, user)] = name
                elif content.get("membership") in ("leave", "ban"):
                    self.display.pop((room, user), None)
        elif kind == "m.room.name":
            name = content.get("name")
            if isinstance(name, str) and name.strip():
                self.names[room] = name.strip()
            else:
                self.names.pop(room, None)
        elif kind == "m.room.canonical_alias":
            alias = content.get("alias")
            if isinstance(alias, str) and alias:
                self.aliases[room] = alias
            else:
                self.aliases.pop(room, None)
        elif kind == "m.room.encryption":
            self.encrypted.add(room)


def _at(ev: dict[str, Any]) -> float:
    ts = ev.get("origin_server_ts")
    # Up to 2**53, canonical JSON's limit: a 400-digit integer does not even divide into a float, and
    # an infinite time would sit past every window.
    if isinstance(ts, (int, float)) and not isinstance(ts, bool) and 0 < ts <= 2**53:
        return ts / 1000.0
    return time.time()


def _prev_content(ev: dict[str, Any]) -> dict[str, Any]:
    unsigned = ev.get("unsigned")
    prev = unsigned.get("prev_content") if isinstance(unsigned, dict) else None
    if prev is None:
        prev = ev.get("prev_content")  # older homeservers put it at the top level
    return prev if isinstance(prev, dict) else {}


def map_event(room: str, ev: object, book: RoomBook) -> Event | None:
    """The normalised event for one room event, or None when it is not one the engine follows.

    Message.sender_name may be left empty when the stream has not told us the
    sender's display name yet: the connector looks those up afterwards.
    """
    if not isinstance(ev, dict):
        return None
    kind, sender, event_id = ev.get("type"), ev.get("sender"), ev.get("event_id")
    if not isinstance(kind, str) or not isinstance(sender, str) or not isinstance(event_id, str):
        log.debug("skipping a malformed event in %s", room)
        return None
    if "state_key" in ev:
        prev_membership = _prev_content(ev).get("membership")
        book.learn(room, ev)
        if kind == "m.room.member":
            return _membership(room, ev, sender, prev_membership, book)
        return None
    if kind == "m.room.message":
        return _message(room, ev, sender, event_id, book)
    if kind == "m.room.redaction":
        content = ev.get("content") if isinstance(ev.get("content"), dict) else {}
        target = content.get("redacts") or ev.get("redacts")  # room v11 moved it into content
        if isinstance(target, str) and target:
            return MessageDeleted(group=qualify(PLATFORM, room), message_id=target, at=_at(ev),
                                  by=qualify(PLATFORM, sender))
    return None


def _membership(room: str, ev: dict[str, Any], sender: str, prev: object, book: RoomBook) -> Event | None:
    target, content = ev.get("state_key"), ev.get("content")
    if not isinstance(target, str) or not target.startswith("@") or not isinstance(content, dict):
        return None
    membership = content.get("membership")
    group, member, at = qualify(PLATFORM, room), qualify(PLATFORM, target), _at(ev)
    if membership == "join":
        if prev == "join":
            return None  # a display name or avatar change
        name = content.get("displayname")
        name = name if isinstance(name, str) and name.strip() else localpart(target)
        inviter = None
        unsigned = ev.get("unsigned")
        prev_sender = unsigned.get("prev_sender") if isinstance(unsigned, dict) else None
        if prev == "invite" and isinstance(prev_sender, str) and prev_sender != target:
            inviter = qualify(PLATFORM, prev_sender)
        return Join(group=group, member=member, member_name=name, at=at, inviter=inviter)
    if membership == "leave":
        if prev is not None and prev != "join":
            return None  # an invite declined or withdrawn, a knock refused, or an unban: nobody left
        return Leave(group=group, member=member, at=at,
                     kicked_by=None if sender == target else qualify(PLATFORM, sender))
    if membership == "ban":
        # The engine takes a ban as the removal too (stats mark the member gone), so no Leave is added.
        return Ban(group=group, member=member, at=at, by=qualify(PLATFORM, sender))
    return None  # invite, knock


def _message(room: str, ev: dict[str, Any], sender: str, event_id: str, book: RoomBook) -> Message | None:
    content = ev.get("content")
    if not isinstance(content, dict) or not content:
        return None  # redacted before we saw it
    relates = content.get("m.relates_to") if isinstance(content.get("m.relates_to"), dict) else {}
    shown = content
    if relates.get("rel_type") == "m.replace" and isinstance(content.get("m.new_content"), dict):
        # An edit arrives as a message of its own: an ad edited into an old message must be seen.
        shown = content["m.new_content"]
    body = shown.get("body")
    if not isinstance(body, str):
        return None
    msgtype = shown.get("msgtype")
    reply = relates.get("m.in_reply_to") if isinstance(relates.get("m.in_reply_to"), dict) else {}
    reply_to = reply.get("event_id") if isinstance(reply.get("event_id"), str) else None
    # Any room member writes the content: a msgtype that is a list or an object is unhashable, and a
    # TypeError here would fail every retry of the same /sync, wedging the connector on one message.
    if msgtype is None or isinstance(msgtype, str) and msgtype in TEXT_TYPES:
        text = _strip_reply_fallback(body) if reply_to else body
    else:
        label = MEDIA_LABELS.get(msgtype, msgtype) if isinstance(msgtype, str) else "message"
        text = f"[{label}] {body}"
    text += card_text(room, body, shown.get("formatted_body"), book)
    return Message(group=qualify(PLATFORM, room), sender=qualify(PLATFORM, sender),
                   sender_name=book.display.get((room, sender), ""), text=text, at=_at(ev), id=event_id,
                   reply_to=reply_to, mentions=_mentions(shown), media=_media(msgtype, shown))


# Matrix has no contact or group-invite card: a link to a user or a room does that job (the spec's
# appendix "Identifier grammar / URIs": https://matrix.to/#/@alice%3Aexample.org,
# https://matrix.to/#/#somewhere:example.org?via=..., matrix:u/alice:example.org, matrix:r/...,
# matrix:roomid/...). They are written into the text as the other connectors write cards
# ("[group invite card: Matrix #deals:evil.org]"), so the detectors read them alike.
_MATRIX_TO = re.compile(r"https?://matrix\.to/#/([^\s\"'<>]{1,600})", re.IGNORECASE)
_MATRIX_URI = re.compile(r"\bmatrix:(u|r|roomid)/([^\s\"'<>]{1,600})")
_HREF = re.compile(r"""href=["']([^"']{1,700})["']""", re.IGNORECASE)
_ID = re.compile(r"[@#!][^\s:/?#@!]{1,255}:[A-Za-z0-9.\-]{1,255}(?::[0-9]{1,5})?")
_SIGIL = {"u": "@", "r": "#", "roomid": "!"}
MAX_CARDS = 3


def _link_target(url: str) -> str | None:
    """The user or room a matrix.to or matrix: link opens ("@alice:example.org", "#room:example.org",
    "!id:example.org"); None for an event permalink (a quote, not an invitation) or garbage."""
    m = _MATRIX_TO.match(url)
    if m is not None:
        path = unquote(m.group(1)).split("?", 1)[0]
        ident, _, rest = path.partition("/")
        if rest.strip("/"):
            return None  # https://matrix.to/#/!room:server/$event: a link to a message
    else:
        m = _MATRIX_URI.match(url)
        if m is None:
            return None
        path = unquote(m.group(2)).split("?", 1)[0]
        ident, _, rest = path.partition("/")
        if rest.strip("/"):
            return None  # matrix:roomid/id:server/e/event
        ident = _SIGIL[m.group(1)] + ident
    return ident if _ID.fullmatch(ident) is not None else None


def card_text(room: str, body: str, html: object, book: RoomBook) -> str:
    """What follows a message's own text (kept as it is): " [group invite card: Matrix #r:s]" per
    user or room it links to, or "". A user's link counts only when written out in the body (a shared
    profile); as a pill in the HTML it is a mention. A room counts either way (a room pill is an
    invitation to it), except the room the message is in."""
    cards = _cards(room, body, html, book)
    return "".join(f" {c}" for c in cards)


def _cards(room: str, body: str, html: object, book: RoomBook) -> list[str]:
    if "matrix" not in body and not (isinstance(html, str) and "matrix" in html):
        return []
    links = [m.group() for m in _MATRIX_TO.finditer(body)] + [m.group() for m in _MATRIX_URI.finditer(body)]
    pills = [u for u in _HREF.findall(html) if "matrix" in u] if isinstance(html, str) else []
    here = {room, book.aliases.get(room)}
    out: list[str] = []
    for url, pill in [*((u, False) for u in links), *((u, True) for u in pills)]:
        ident = _link_target(url)
        if ident is None or ident in here or (pill and ident.startswith("@")):
            continue
        card = (f"[contact card: Matrix {ident}]" if ident.startswith("@")
                else f"[group invite card: Matrix {ident}]")
        if card not in out:
            out.append(card)
            if len(out) >= MAX_CARDS:
                break
    return out


_MXC = re.compile(r"mxc://[A-Za-z0-9.\-:\[\]]{1,255}/[A-Za-z0-9_\-]{1,255}")


def _media(msgtype: object, content: dict[str, Any]) -> tuple[Media, ...]:
    # An image (or a sticker) in an unencrypted room: its mxc:// URI, downloaded through the homeserver.
    if msgtype not in ("m.image", "m.sticker"):
        return ()
    url = content.get("url")
    if not isinstance(url, str) or _MXC.fullmatch(url) is None:
        return ()  # encrypted media ("file") or garbage
    info = content.get("info") if isinstance(content.get("info"), dict) else {}
    size = info.get("size")
    size = size if isinstance(size, int) and not isinstance(size, bool) and 0 <= size < 2**53 else None
    return (Media("image", url, size=size, key=url),)


def _mentions(content: dict[str, Any]) -> tuple[str, ...]:
    mentions = content.get("m.mentions")
    if isinstance(mentions, dict):
        ids = mentions.get("user_ids")
        raw = [u for u in ids if isinstance(u, str) and u.startswith("@")] if isinstance(ids, list) else []
    else:
        # Clients older than intentional mentions (Matrix 1.7) only put pills in the HTML.
        html = content.get("formatted_body")
        raw = PILL.findall(html) if isinstance(html, str) else []
    out: list[str] = []
    for u in raw:
        q = qualify(PLATFORM, u)
        if q not in out:
            out.append(q)
    return tuple(out)


def _strip_reply_fallback(body: str) -> str:
    """Drop the "> <@a:b> quoted" lines clients put before a reply's own text."""
    lines = body.split("\n")
    if not lines or not lines[0].startswith("> "):
        return body
    i = 0
    while i < len(lines) and lines[i].startswith(">"):
        i += 1
    if i < len(lines) and lines[i] == "":
        i += 1
    return "\n".join(lines[i:]) if i < len(lines) else body
