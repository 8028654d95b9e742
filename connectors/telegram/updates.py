"""Bot API updates -> normalised events.

Decisions, each because of how Telegram describes things:

- Only ``group`` and ``supergroup`` chats count; private chats and channels are
  ignored (a channel post forwarded into a linked discussion group is a message
  of that group, sent by the channel).
- A member change can arrive twice: as a service message
  (``new_chat_members``/``left_chat_member``, sent whether or not the bot is an
  admin) and as a ``chat_member`` update (admins only). The second description
  of the same change within ``SAME_CHANGE_S`` is dropped, and so is one older
  than the last change seen for that member. A ban that follows a removal is
  still delivered (it says more); a removal that follows a ban is not.
- ``chat_member`` to ``kicked`` is a Ban, except right after our own ``kick``
  (which Telegram can only do as ban + unban): that one is a Leave kicked by us,
  and the unban that follows (kicked -> left) is no event at all.
- Edited messages produce no event: a Message carries no "edited" flag, so
  re-delivering one would count the message twice in activity and flood
  windows. (An ad edited into an innocent message is therefore not re-scanned.)
- A group upgraded to a supergroup changes id; from the migration service
  message on, events of the old id are attributed to the new one.
- Messages without text or caption (stickers, photos, voice) are messages with
  empty text: the sender is active, and there is nothing to scan.
- The bot's own joins and leaves are not member events.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Callable

from connectors.events import Ban, Event, Join, Leave, Media, Message, qualify

from .cursor import CursorState

log = logging.getLogger("groupwatch.telegram")

PLATFORM = "telegram"
GROUP_TYPES = frozenset({"group", "supergroup"})
SAME_CHANGE_S = 60      # two descriptions of one member change are this close in time
KICK_EXPECTED_S = 120   # how long our own kick's ban is read as a kick
NAMES_KEPT = 20_000     # display names remembered for mentions (most recent)
CONTENT = frozenset({
    "animation", "audio", "contact", "dice", "document", "game", "location", "photo", "poll",
    "sticker", "story", "venue", "video", "video_note", "voice", "paid_media", "giveaway",
})
IN_CHAT = frozenset({"creator", "administrator", "member"})


def display_name(user: dict[str, Any]) -> str:
    """First and last name; many users have no username, and names need not be unique."""
    name = " ".join(p for p in (user.get("first_name"), user.get("last_name")) if isinstance(p, str) and p)
    username = user.get("username")  # checked: a number here would become a member's "name"
    return name.strip() or (username if isinstance(username, str) else "") or str(user.get("id", ""))


def is_in_chat(member: dict[str, Any]) -> bool:
    """A ChatMember status that means present (a restricted user may or may not be in the chat)."""
    status = member.get("status")
    return status in IN_CHAT or (status == "restricted" and member.get("is_member") is True)


def _id(x: Any) -> int:
    if isinstance(x, bool) or not isinstance(x, int):
        raise TypeError("id is not an integer")
    return x


class UpdateMapper:
    """Turns updates into events; holds what mapping learns (migrations, titles, names)."""

    def __init__(self, bot_id: int, chats: frozenset[int] | None = None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.bot_id = bot_id
        self.chats = chats  # the configured chats, or None for every group the bot is in
        self.migrated: dict[int, int] = {}
        self.recent: dict[tuple[int, int], tuple[str, int]] = {}
        self.titles: dict[int, str] = {}  # groups seen -> title
        self.names: dict[int, str] = {}
        self._kicking: dict[tuple[int, int], float] = {}
        self._watched: frozenset[int] | None = None
        self._monotonic = monotonic

    # --- state ---

    def load(self, state: CursorState) -> None:
        """Take the cursor's state; migrations are only ever learnt, so memory keeps its own too."""
        for old, new in state.migrated.items():
            if old not in self.migrated:
                self.migrated[old] = new
                self._watched = None
        self.recent = dict(state.recent)

    def state(self, offset: int) -> CursorState:
        return CursorState(offset, dict(self.migrated), dict(self.recent))

    def resolve(self, chat_id: int) -> int:
        """The id a chat has now (following supergroup migrations)."""
        seen = 0
        while chat_id in self.migrated and seen < 8:  # a group migrates once; the bound guards bad cursors
            chat_id, seen = self.migrated[chat_id], seen + 1
        return chat_id

    def record_migration(self, old: int, new: int) -> None:
        if old == new:
            return
        self.migrated[old] = new
        self._watched = None
        title = self.titles.pop(old, None)
        if title is not None:
            self.titles.setdefault(new, title)
        for key in [k for k in self.recent if k[0] == old]:
            self.recent.setdefault((new, key[1]), self.recent.pop(key))

    def watched(self, chat_id: int) -> bool:
        if self.chats is None:
            return True
        if self._watched is None:  # per event: resolve the configured chats once per migration learnt
            self._watched = frozenset(self.resolve(c) for c in self.chats)
        return chat_id in self._watched

    def expect_kick(self, chat_id: int, user_id: int) -> None:
        """Our kick is about to ban then unban: read the ban as a kick."""
        self._kicking[(self.resolve(chat_id), user_id)] = self._monotonic() + KICK_EXPECTED_S

    def remember(self, user: dict[str, Any]) -> None:
        uid = user.get("id")
        if isinstance(uid, int):
            self.names.pop(uid, None)
            self.names[uid] = display_name(user)
            if len(self.names) > NAMES_KEPT:
                del self.names[next(iter(self.names))]

    # --- mapping ---

    def map(self, update: dict[str, Any]) -> list[Event]:
        """The events of one update; a malformed update is skipped, not fatal."""
        try:
            if "message" in update:
                return self._message(update["message"])
            if "chat_member" in update:
                return self._chat_member(update["chat_member"])
            if "my_chat_member" in update:
                self._my_chat_member(update["my_chat_member"])
            elif "edited_message" in update:
                self._seen_chat(update["edited_message"]["chat"])
        except (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError) as e:
            # OverflowError: a date of 400 digits does not fit a float.
            log.warning("telegram: skipped malformed update %s (%s)", update.get("update_id"), type(e).__name__)
        return []

    def _seen_chat(self, chat: dict[str, Any]) -> int | None:
        """The group's current id if it is a watched group; notes its title."""
        if chat.get("type") not in GROUP_TYPES:
            return None
        gid = self.resolve(_id(chat["id"]))
        if not self.watched(gid):
            return None
        title = chat.get("title")
        if isinstance(title, str) and title:
            self.titles[gid] = title
        else:
            self.titles.setdefault(gid, str(gid))
        return gid

    def _message(self, m: dict[str, Any]) -> list[Event]:
        chat = m["chat"]
        if chat.get("type") not in GROUP_TYPES:
            return []
        if "migrate_to_chat_id" in m:
            self.record_migration(_id(chat["id"]), _id(m["migrate_to_chat_id"]))
            return []
        if "migrate_from_chat_id" in m:
            self.record_migration(_id(m["migrate_from_chat_id"]), _id(chat["id"]))
            self._seen_chat(chat)
            return []
        gid = self._seen_chat(chat)
        if gid is None:
            return []
        at = _id(m["date"])
        actor = m.get("from")
        if "new_chat_members" in m:
            out: list[Event] = []
            for user in m["new_chat_members"]:
                out.extend(self._join(gid, user, at, actor))
            return out
        if "left_chat_member" in m:
            return self._leave(gid, m["left_chat_member"], at, actor)
        if isinstance(m.get("new_chat_title"), str):
            self.titles[gid] = m["new_chat_title"]
            return []
        text = m.get("text")
        entities = m.get("entities")
        if not isinstance(text, str):
            text, entities = m.get("caption"), m.get("caption_entities")
        if not isinstance(text, str):
            if not CONTENT & m.keys():
                return []  # another service message (pinned, title photo, video chat...)
            text = ""
        card = _contact_card(m.get("contact"))
        if card:
            text = f"{text} {card}" if text else card
        sender, name = self._sender(m)
        mentions = tuple(qualify(PLATFORM, _id(e["user"]["id"])) for e in entities or ()
                         if e.get("type") == "text_mention" and isinstance(e.get("user"), dict))
        return [Message(group=qualify(PLATFORM, gid), sender=sender, sender_name=name, text=text, at=float(at),
                        id=str(_id(m["message_id"])), reply_to=_reply_to(m), mentions=mentions, media=_media(m))]

    def _sender(self, m: dict[str, Any]) -> tuple[str, str]:
        sc = m.get("sender_chat")
        if isinstance(sc, dict):
            # Anonymous admins and linked channels post as a chat, not as a user.
            cid = _id(sc["id"])
            title = next((t for t in (sc.get("title"), sc.get("username")) if isinstance(t, str) and t), str(cid))
            return qualify(PLATFORM, cid), title
        user = m["from"]
        self.remember(user)
        return qualify(PLATFORM, _id(user["id"])), display_name(user)

    def _chat_member(self, u: dict[str, Any]) -> list[Event]:
        gid = self._seen_chat(u["chat"])
        if gid is None:
            return []
        old, new = u["old_chat_member"], u["new_chat_member"]
        user, actor, at = new["user"], u.get("from"), _id(u["date"])
        was_in, now_in = is_in_chat(old), is_in_chat(new)
        if not was_in and now_in:
            return self._join(gid, user, at, actor)
        if new.get("status") == "kicked" and old.get("status") != "kicked":
            return self._banned(gid, user, at, actor, was_in)
        if was_in and not now_in:
            return self._leave(gid, user, at, actor)
        return []  # promotions, restrictions, and the unban after a kick

    def _my_chat_member(self, u: dict[str, Any]) -> None:
        chat = u["chat"]
        if chat.get("type") not in GROUP_TYPES:
            return
        if is_in_chat(u["new_chat_member"]):
            self._seen_chat(chat)
        else:
            self.titles.pop(self.resolve(_id(chat["id"])), None)  # removed: no longer one of our groups

    def _join(self, gid: int, user: dict[str, Any], at: int, actor: Any) -> list[Event]:
        uid = _id(user["id"])
        if uid == self.bot_id:
            return []
        self.remember(user)
        if not self._changed(gid, uid, "in", at):
            return []
        inviter = _actor(actor, uid)
        return [Join(qualify(PLATFORM, gid), qualify(PLATFORM, uid), display_name(user), float(at), inviter)]

    def _leave(self, gid: int, user: dict[str, Any], at: int, actor: Any) -> list[Event]:
        uid = _id(user["id"])
        if uid == self.bot_id or not self._changed(gid, uid, "out", at):
            return []
        return [Leave(qualify(PLATFORM, gid), qualify(PLATFORM, uid), float(at), _actor(actor, uid))]

    def _banned(self, gid: int, user: dict[str, Any], at: int, actor: Any, was_in: bool) -> list[Event]:
        uid = _id(user["id"])
        if uid == self.bot_id:
            return []
        deadline = self._kicking.pop((gid, uid), None)
        if deadline is not None and deadline >= self._monotonic():
            return self._leave(gid, user, at, actor) if was_in else []
        if not self._changed(gid, uid, "ban", at):
            return []
        return [Ban(qualify(PLATFORM, gid), qualify(PLATFORM, uid), float(at), _actor(actor, uid))]

    def _changed(self, gid: int, uid: int, kind: str, at: int) -> bool:
        """Record a member change; False when it is a second description of the last one."""
        prev = self.recent.get((gid, uid))
        if prev is not None:
            pkind, pat = prev
            if at < pat:
                return False  # older than what we already know of this member
            if at - pat <= SAME_CHANGE_S and (pkind == kind or (kind == "out" and pkind == "ban")):
                return False
        self.recent[(gid, uid)] = (kind, at)
        return True


def _contact_card(c: Any) -> str:
    # A shared contact is an ad's favourite card: its name and number kept as text for the detectors.
    if not isinstance(c, dict):
        return ""
    parts = [c.get(k) for k in ("first_name", "last_name", "phone_number")]
    shown = " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip())[:200]
    return f"[contact card: {shown}]" if shown else "[contact card]"


def _media(m: dict[str, Any]) -> tuple[Media, ...]:
    # The largest size of a photo (QR codes need the pixels), or an image sent as a document.
    photo = m.get("photo")
    best = None
    if isinstance(photo, list):
        sizes = [p for p in photo if isinstance(p, dict) and isinstance(p.get("file_id"), str)]
        best = max(sizes, key=lambda p: _area(p), default=None)
    doc = m.get("document")
    if best is None and isinstance(doc, dict) and isinstance(doc.get("file_id"), str) \
            and str(doc.get("mime_type", "")).startswith("image/"):
        best = doc
    if best is None:
        return ()
    size = best.get("file_size")
    size = size if isinstance(size, int) and not isinstance(size, bool) and 0 <= size < 2**53 else None
    key = best.get("file_unique_id")
    return (Media("image", best["file_id"], size=size, key=f"telegram:{key}" if isinstance(key, str) else None),)


def _area(p: dict[str, Any]) -> int:
    w, h = p.get("width"), p.get("height")
    return w * h if isinstance(w, int) and isinstance(h, int) and 0 < w < 100_000 and 0 < h < 100_000 else 0


def _actor(actor: Any, uid: int) -> str | None:
    """Who did it, when it was someone else (an inviter, a kicking admin)."""
    if isinstance(actor, dict) and isinstance(actor.get("id"), int) and actor["id"] != uid:
        return qualify(PLATFORM, actor["id"])
    return None


def _reply_to(m: dict[str, Any]) -> str | None:
    r = m.get("reply_to_message")
    if not isinstance(r, dict) or "message_id" not in r or "forum_topic_created" in r:
        return None  # in forums every message "replies" to its topic's opening message
    return str(r["message_id"])
