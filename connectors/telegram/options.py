"""The ``[[connector]]`` table of a Telegram bot, checked before any network I/O.

    [[connector]]
    type = "telegram"
    name = "shop-bot"
    token_env = "SHOP_BOT_TOKEN"        # or token_file = "~/.config/groupwatch/shop-bot.token"
    chats = [-1001234567890]            # optional: watch only these groups
    api_url = "http://127.0.0.1:8081"   # optional: a self-hosted telegram-bot-api server
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

import httpx

from connectors.contract import BadOptions
from connectors.options import reject_unknown, table_label
from connectors.secrets import Secret, read_secret, scrub

from .api import DEFAULT_API_URL

KEYS = ("token_env", "token_file", "chats", "api_url")
TOKEN_SHAPE = re.compile(r"\d{1,20}:[A-Za-z0-9_-]{20,}")
_TOKEN_IN_URL = re.compile(r"/bot\d+:")


@dataclass(slots=True, frozen=True)
class TelegramOptions:
    token: Secret
    chats: frozenset[int] | None = None
    api_url: str = DEFAULT_API_URL

    @property
    def bot_id(self) -> int:
        """A bot's user id is the token's part before the colon (public, unlike the rest)."""
        return int(self.token.split(":", 1)[0])


def parse_options(name: str, options: Mapping[str, Any], *,
                  environ: Mapping[str, str] | None = None) -> TelegramOptions:
    label = table_label(name)
    reject_unknown(label, options, KEYS)
    token = read_secret(options, "token", label=label, environ=environ)
    assert token is not None  # required=True
    if not TOKEN_SHAPE.fullmatch(token):
        source = "token_env" if "token_env" in options else "token_file"
        raise BadOptions(f"{label}: the secret from {source} does not look like a bot token "
                         f"(digits, a colon, then letters, as @BotFather gives it)")
    return TelegramOptions(token, _chats(label, options.get("chats")), _api_url(label, options.get("api_url")))


def _chats(label: str, value: Any) -> frozenset[int] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        raise BadOptions(f"{label}: chats must be a non-empty list of group ids, like [-1001234567890]")
    out = set()
    for item in value:
        chat = _chat_id(item)
        if chat is None:
            # Scrubbed before it is cut: a token pasted here would be cut beyond recognition by scrub().
            shown = scrub(repr(item))
            shown = shown if len(shown) <= 40 else shown[:39] + "…"
            raise BadOptions(f"{label}: chats: {shown} is not a group id; group ids are negative numbers "
                             f"like -1001234567890 (or \"telegram:-1001234567890\")")
        out.add(chat)
    return frozenset(out)


def _chat_id(item: Any) -> int | None:
    if isinstance(item, str):
        text = item.removeprefix("telegram:")
        if not re.fullmatch(r"-\d{1,20}", text):
            return None
        item = int(text)
    if isinstance(item, bool) or not isinstance(item, int) or item >= 0:
        return None  # positive ids are users (private chats), not groups
    return item


def _api_url(label: str, value: Any) -> str:
    if value is None:
        return DEFAULT_API_URL
    if not isinstance(value, str) or not value.strip():
        raise BadOptions(f"{label}: api_url must be a URL like \"{DEFAULT_API_URL}\"")
    if _TOKEN_IN_URL.search(value):
        # Never echo it: it holds the token. It belongs in token_env/token_file.
        raise BadOptions(f"{label}: api_url must not contain the bot token (/bot<token>); give only the server, "
                         f"like \"{DEFAULT_API_URL}\", and the token through token_env or token_file")
    try:
        url = httpx.URL(value.strip())
    except (httpx.InvalidURL, ValueError):
        url = None
    if url is None or url.scheme not in ("http", "https") or not url.host or url.query or url.fragment:
        raise BadOptions(f"{label}: api_url must be an http(s) URL like \"{DEFAULT_API_URL}\", "
                         f"got {scrub(value)[:60]!r}")  # scrubbed before it is cut, like chats
    return str(url).rstrip("/")
