"""A message's content with real Matrix mentions: ``m.mentions`` plus a matrix.to pill in the HTML body.

Every piece of text (the operator's template, members' display names) is
HTML-escaped: a display name chosen by a stranger must not become markup in
the rooms we post to.
"""
from __future__ import annotations

import html
from typing import Iterable, Sequence
from urllib.parse import quote

PILL_BASE = "https://matrix.to/#/"


def pill(user_id: str, label: str) -> str:
    href = html.escape(PILL_BASE + quote(user_id, safe="@:!$#-._~"), quote=True)
    return f'<a href="{href}">{html.escape(label, quote=False)}</a>'


def _html_text(text: str) -> str:
    return html.escape(text, quote=False).replace("\n", "<br/>")


def message_content(text: str, mentions: Sequence[str], names: Iterable[Sequence[str]]) -> dict:
    """Content of an ``m.room.message``: ``mentions`` are raw user ids; ``names[i]`` are the display
    names the i-th one may appear under in ``text`` as "@<name>" (tried in order, in text order)."""
    content: dict = {"msgtype": "m.text", "body": text,
                     # Present even when empty: "@room" or a pasted name in the text pings nobody.
                     "m.mentions": {"user_ids": list(dict.fromkeys(mentions))} if mentions else {}}
    if not mentions:
        return content
    parts: list[str] = []
    pos = 0
    for user_id, candidates in zip(mentions, names):
        found = None
        for name in candidates:
            if not name:
                continue
            at = text.find("@" + name, pos)
            if at >= 0 and (found is None or (at, -len(name)) < (found[0], -len(found[1]))):
                found = (at, name)
        if found is None:
            continue  # still notified through m.mentions; the text just has no pill for them
        at, name = found
        parts.append(_html_text(text[pos:at]))
        parts.append(pill(user_id, "@" + name))
        pos = at + 1 + len(name)
    if not parts:
        return content
    parts.append(_html_text(text[pos:]))
    content["format"] = "org.matrix.custom.html"
    content["formatted_body"] = "".join(parts)
    return content
