"""A Telegram bot behind the ``Connector`` contract (Bot API, ``getUpdates`` long polling).

Cursor and replay: the cursor holds the next ``getUpdates`` offset. Telegram
keeps unconfirmed updates for 24 hours and confirms (forgets) every update
below the offset of a call, so an older cursor gets its updates again only if
no later call was made with a newer one: the engine must save a cursor before
it polls with the next (see ``acknowledges_cursor``). A first run (no cursor)
starts from now: it asks for the newest update only (offset -1, which makes the
server forget the backlog) and continues after it, so up to a day of history is
not replayed as if it were live.

What the Bot API cannot do, and what this does instead:
- list a group's members: ``members()`` returns None; the member list is built
  from joins and messages seen, so it is partial (no MEMBER_LIST capability);
- list the bot's groups: groups are the configured ``chats`` plus those seen in updates;
- kick: a ban (that lapses in a minute even if the unban fails) followed by
  ``unbanChatMember(only_if_banned=true)``, so the member can come back;
- send idempotently: there is no client message id, so ``idempotent_send`` is False.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Callable, Mapping, Self, Sequence

import httpx

from connectors.contract import (AuthFailed, Capability, ConnectorError, Health, MediaTooLarge, RateLimited,
                                 SendResult, TransientError, Unsupported)
from connectors.events import Batch, Group, Media, Member, qualify

from .api import BotApi, ChatMigrated
from .cursor import decode, encode
from .mentions import mention_entities
from .options import TelegramOptions, parse_options
from .updates import GROUP_TYPES, PLATFORM, UpdateMapper, display_name

log = logging.getLogger("groupwatch.telegram")

# chat_member updates are sent only when asked for by name, and only for chats where the bot is an admin.
ALLOWED_UPDATES = ["message", "edited_message", "chat_member", "my_chat_member"]
BATCH = 100          # getUpdates' maximum
KICK_BAN_S = 60      # the ban behind a kick lapses by itself after this, should the unban fail
MIN_UNTIL_S = 31     # Telegram reads an until_date under 30 s away as "forever"
DELETE_HINT = " (bots can delete only messages under 48 hours old, and need the 'delete messages' right)"


class TelegramConnector:
    platform = PLATFORM
    capabilities: frozenset[Capability] = frozenset({
        Capability.SEND, Capability.MENTION, Capability.KICK, Capability.BAN, Capability.UNBAN,
        Capability.DELETE, Capability.MUTE,
    })
    idempotent_send = False
    max_mentions = 20        # Telegram allows 100 entities a message; long mention walls read as spam
    acknowledges_cursor = True  # polling with a cursor makes the server forget what came before it
    media_inline = False

    def __init__(self, name: str, options: TelegramOptions, *,
                 transport: httpx.AsyncBaseTransport | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.name = name
        self._options = options
        self._api = BotApi(options.token, options.api_url, transport)
        self._mapper = UpdateMapper(options.bot_id, options.chats)
        self._clock = clock

    @classmethod
    def from_settings(cls, name: str, options: dict, *, environ: Mapping[str, str] | None = None,
                      transport: httpx.AsyncBaseTransport | None = None) -> Self:
        return cls(name, parse_options(name, options, environ=environ), transport=transport)

    def __repr__(self) -> str:
        o = self._options
        return f"TelegramConnector(name={self.name!r}, bot_id={o.bot_id}, api_url={o.api_url!r})"

    # --- the stream ---

    async def poll(self, cursor: str | None, timeout: float) -> Batch:
        state = decode(cursor)
        if state is None:
            if cursor:
                log.warning("telegram %s: the saved cursor is not this connector's; starting from now", self.name)
            return await self._start_from_now()
        self._mapper.load(state)
        updates = await self._updates(offset=state.offset, limit=BATCH, timeout=_whole_seconds(timeout))
        events = []
        offset = state.offset
        for update in updates:
            uid = update["update_id"]
            if uid < offset:
                continue  # already delivered before this cursor
            offset = uid + 1
            events.extend(self._mapper.map(update))
        return Batch(events, encode(self._mapper.state(offset)))

    async def _start_from_now(self) -> Batch:
        newest = await self._updates(offset=-1, limit=1, timeout=0)
        offset = newest[-1]["update_id"] + 1 if newest else 0
        return Batch([], encode(self._mapper.state(offset)))

    async def _updates(self, *, offset: int, limit: int, timeout: int) -> list[dict[str, Any]]:
        params = {"offset": offset, "limit": limit, "timeout": timeout, "allowed_updates": ALLOWED_UPDATES}
        try:
            result = await self._api.call("getUpdates", params, wait=timeout)
        except (AuthFailed, TransientError, RateLimited):
            raise
        except ConnectorError as e:
            # A webhook is set, or another process polls with this token (409): not transient, not auth.
            self._api.note(e)
            raise
        # Update ids are positive: a negative one would become an offset the cursor cannot hold (decode()
        # refuses it), and every later poll would start from now again, dropping the newest update each time.
        if not isinstance(result, list) or not all(
                isinstance(u, dict) and isinstance(u.get("update_id"), int) and not isinstance(u["update_id"], bool)
                and u["update_id"] >= 0 for u in result):
            raise self._api.note(TransientError("telegram getUpdates: malformed answer (updates without update_id)"))
        return sorted(result, key=lambda u: u["update_id"])

    # --- groups and members ---

    async def groups(self) -> list[Group]:
        out: dict[int, Group] = {}
        for chat in sorted(self._options.chats or ()):
            try:
                info = await self._chat_call("getChat", chat, {})
                count = await self._chat_call("getChatMemberCount", chat, {})
            except (AuthFailed, TransientError, RateLimited):
                raise
            except ConnectorError as e:
                log.warning("telegram %s: chat %s left out: %s", self.name, chat, e)
                continue
            if not _is_group(info):
                log.warning("telegram %s: chat %s is not a group; left out", self.name, chat)
                continue
            gid = self._mapper.resolve(chat)
            title = info.get("title") if isinstance(info.get("title"), str) else str(gid)
            self._mapper.titles[gid] = title
            out[gid] = Group(qualify(PLATFORM, gid), title, PLATFORM,
                             member_count=count if _is_int(count) and count >= 0 else None)
        for gid, title in self._mapper.titles.items():
            if gid not in out and self._mapper.watched(gid):
                out[gid] = Group(qualify(PLATFORM, gid), title, PLATFORM)
        return list(out.values())

    async def members(self, group_id: str) -> list[Member] | None:
        return None  # the Bot API has no member list; members come from joins and messages seen

    async def probe(self) -> list[str]:
        me = await self._api.call("getMe")
        if not isinstance(me, dict) or not isinstance(me.get("id"), int):
            raise TransientError("telegram getMe: malformed answer")
        lines = [f"logged in as @{me.get('username', '?')} (bot id {me['id']})"]
        if not me.get("can_read_all_group_messages"):
            lines.append("privacy mode is on: in groups where the bot is not an admin it sees only commands "
                         "and replies (@BotFather: /setprivacy -> Disable)")
        hook = await self._api.call("getWebhookInfo")
        if isinstance(hook, dict) and hook.get("url"):
            lines.append("a webhook is set, so getUpdates is refused: remove it (deleteWebhook) to let groupwatch poll")
        if not self._options.chats:
            lines.append("no chats configured: groups are learnt from updates as they come "
                         "(the Bot API cannot list a bot's groups)")
            return lines
        lines.append(f"{len(self._options.chats)} chats:")
        for chat in sorted(self._options.chats):
            lines.append("  " + await self._probe_chat(chat, me["id"]))
        return lines

    async def _probe_chat(self, chat: int, bot_id: int) -> str:
        try:
            info = await self._chat_call("getChat", chat, {})
            count = await self._chat_call("getChatMemberCount", chat, {})
            me = await self._chat_call("getChatMember", chat, {"user_id": bot_id})
        except (AuthFailed, TransientError, RateLimited):
            raise
        except ConnectorError as e:
            return f"{chat}: {e}"
        if not _is_group(info):
            return f"{chat}: not a group (private chats and channels are not watched)"
        head = f"{info.get('title', chat)} ({chat}, {count} members)"
        if not isinstance(me, dict) or me.get("status") not in ("administrator", "creator"):
            return f"{head}: not an admin, so no chat_member updates and no moderation"
        if me.get("status") == "creator":
            return f"{head}: owner"
        missing = [label for key, label in (("can_restrict_members", "ban users"),
                                            ("can_delete_messages", "delete messages"))
                   if not me.get(key)]
        return f"{head}: admin" + (f", missing rights: {', '.join(missing)}" if missing else "")

    # --- actions ---

    async def send(self, group_id: str, text: str, mentions: Sequence[str] = (),
                   idempotency_key: str | None = None) -> SendResult:
        chat = self._chat(group_id)
        wanted = []
        for member in mentions:
            user = self._sender(member)
            if user > 0:  # a channel posting in the group cannot be mentioned; its @title stays plain text
                wanted.append((user, await self._names_of(chat, user, text)))
        # No parse_mode: names and texts from strangers stay literal text, never markup.
        params: dict[str, Any] = {"text": text}
        entities = mention_entities(text, wanted)
        if entities:
            params["entities"] = entities
        result = await self._chat_call("sendMessage", chat, params)
        if not isinstance(result, dict) or not isinstance(result.get("message_id"), int):
            raise TransientError("telegram sendMessage: malformed answer")
        return SendResult(str(result["message_id"]))

    async def _names_of(self, chat: int, user: int, text: str) -> list[str]:
        """Names the text may use for ``user``: the one seen in events, else the current one."""
        known = self._mapper.names.get(user)
        if known is not None and f"@{known}" in text:
            return [known]
        try:
            info = await self._chat_call("getChatMember", chat, {"user_id": user})
        except (AuthFailed, RateLimited):
            raise
        except ConnectorError:
            info = None  # not in the chat any more, or a blip: the next @word will do
        names = [known] if known else []
        if isinstance(info, dict) and isinstance(info.get("user"), dict):
            self._mapper.remember(info["user"])
            names.append(display_name(info["user"]))
        return names

    async def kick(self, group_id: str, member_id: str, reason: str = "") -> None:
        chat, user = self._chat(group_id), self._person(member_id)
        self._mapper.expect_kick(chat, user)
        await self._chat_call("banChatMember", chat, {"user_id": user, "until_date": int(self._clock()) + KICK_BAN_S})
        await self._chat_call("unbanChatMember", chat, {"user_id": user, "only_if_banned": True})

    async def ban(self, group_id: str, member_id: str, reason: str = "", until: float | None = None) -> None:
        chat, sender = self._chat(group_id), self._sender(member_id)
        if sender < 0:
            # A channel (or anonymous group) posting in the group: banned as a sender chat, always for good.
            await self._chat_call("banChatSenderChat", chat, {"sender_chat_id": sender})
            return
        params: dict[str, Any] = {"user_id": sender}
        if until is not None:
            # Under 30 s Telegram bans forever; over 366 days it bans forever too, which is what was meant.
            params["until_date"] = max(int(until), int(self._clock()) + MIN_UNTIL_S)
        await self._chat_call("banChatMember", chat, params)

    async def unban(self, group_id: str, member_id: str) -> None:
        chat, sender = self._chat(group_id), self._sender(member_id)
        if sender < 0:
            await self._chat_call("unbanChatSenderChat", chat, {"sender_chat_id": sender})
            return
        # only_if_banned: without it, unbanChatMember removes a member who is in the group.
        await self._chat_call("unbanChatMember", chat, {"user_id": sender, "only_if_banned": True})

    async def mute(self, group_id: str, member_id: str, seconds: int) -> None:
        if seconds < 0:
            raise ConnectorError("mute seconds must not be negative")
        chat, user = self._chat(group_id), self._person(member_id)
        allowed = seconds == 0  # 0 lifts a mute, as on QQ
        params: dict[str, Any] = {"user_id": user, "permissions": _permissions(allowed),
                                  "use_independent_chat_permissions": True}
        if not allowed:
            params["until_date"] = int(self._clock()) + max(int(seconds), MIN_UNTIL_S)
        await self._chat_call("restrictChatMember", chat, params)

    async def delete(self, group_id: str, message_id: str) -> None:
        chat = self._chat(group_id)
        if not message_id.isdigit():
            raise ConnectorError(f"telegram: {message_id[:40]!r} is not a Telegram message id")
        try:
            await self._chat_call("deleteMessage", chat, {"message_id": int(message_id)})
        except (AuthFailed, TransientError, RateLimited):
            raise
        except ConnectorError as e:
            if "can't be deleted" in str(e) or "not found" in str(e):
                raise ConnectorError(f"{e}{DELETE_HINT}") from None
            raise

    # --- plumbing ---

    async def _chat_call(self, method: str, chat: int, params: dict[str, Any]) -> Any:
        """A call about one chat; follows a supergroup migration the server reports."""
        chat = self._mapper.resolve(chat)
        try:
            return await self._api.call(method, {"chat_id": chat, **params})
        except ChatMigrated as e:
            self._mapper.record_migration(chat, e.new_chat_id)
            return await self._api.call(method, {"chat_id": e.new_chat_id, **params})

    @staticmethod
    def _chat(group_id: str) -> int:
        chat = _raw(group_id, "group")
        if chat >= 0:
            raise ConnectorError(f"telegram: {group_id[:60]!r} is not a group (group ids are negative)")
        return chat

    @staticmethod
    def _sender(member_id: str) -> int:
        """A user (positive id) or a chat that posts in groups (negative id: channels, anonymous admins)."""
        return _raw(member_id, "member")

    @classmethod
    def _person(cls, member_id: str) -> int:
        sender = cls._sender(member_id)
        if sender < 0:
            raise Unsupported(f"telegram: {member_id[:60]} is a channel posting in the group; "
                              f"it can be banned, not kicked or muted")
        return sender

    async def media(self, group_id: str, media: Media, max_bytes: int) -> bytes:
        """getFile, then the file's download URL (the Bot API serves files up to 20 MB)."""
        info = await self._api.call("getFile", {"file_id": media.ref})
        if not isinstance(info, dict) or not isinstance(info.get("file_path"), str) or not info["file_path"]:
            raise ConnectorError("telegram getFile: no file_path (the file is not downloadable)")
        size = info.get("file_size")
        if isinstance(size, int) and not isinstance(size, bool) and size > max_bytes:
            raise MediaTooLarge(f"telegram file: {size} bytes is over the {max_bytes} byte limit")
        return await self._api.download(info["file_path"], max_bytes)

    def health(self) -> Health:
        return self._api.health

    async def close(self) -> None:
        await self._api.aclose()


def _raw(qualified: str, what: str) -> int:
    prefix, _, raw = qualified.partition(":")
    try:
        value = int(raw) if prefix == PLATFORM else None
    except ValueError:
        value = None
    if value is None or value == 0:
        raise ConnectorError(f"telegram: {qualified[:60]!r} is not a Telegram {what} id")
    return value


def _is_group(chat: Any) -> bool:
    # The type is checked to be a string first: a list there (from a broken proxy) is unhashable.
    return isinstance(chat, dict) and isinstance(chat.get("type"), str) and chat["type"] in GROUP_TYPES


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _whole_seconds(timeout: float) -> int:
    """getUpdates waits whole seconds; a short wait must not become 0 (no wait: a busy loop of requests)."""
    return 0 if timeout <= 0 else max(1, int(timeout))


def _permissions(allowed: bool) -> dict[str, bool]:
    keys = ("can_send_messages", "can_send_audios", "can_send_documents", "can_send_photos", "can_send_videos",
            "can_send_video_notes", "can_send_voice_notes", "can_send_polls", "can_send_other_messages",
            "can_add_web_page_previews", "can_change_info", "can_invite_users", "can_pin_messages",
            "can_manage_topics")
    return dict.fromkeys(keys, allowed)
