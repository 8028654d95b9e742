"""``text_mention`` entities: a mention that works for users without a username.

Telegram counts entity offsets and lengths in UTF-16 code units, so an emoji
before a mention counts 2 and a CJK character 1; Python's str indexes code points.
"""
from __future__ import annotations

from typing import Any, Sequence


def utf16_len(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


def mention_entities(text: str, mentions: Sequence[tuple[int, Sequence[str]]]) -> list[dict[str, Any]]:
    """One entity per ``(user id, candidate names)``, found in order as ``@<name>`` in ``text``.

    When none of the names is found (the member was renamed since the text was
    written), the next ``@word`` is taken, so the member is still notified; a
    mention with no ``@`` left in the text gets no entity.
    """
    out: list[dict[str, Any]] = []
    pos = 0
    for user_id, names in mentions:
        span = _find(text, pos, names)
        if span is None:
            continue
        start, end = span
        out.append({"type": "text_mention", "offset": utf16_len(text[:start]),
                    "length": utf16_len(text[start:end]),
                    # The server reads only the id; the rest makes a well-formed User for strict parsers.
                    "user": {"id": user_id, "is_bot": False, "first_name": next((n for n in names if n), "user")}})
        pos = end
    return out


def _find(text: str, pos: int, names: Sequence[str]) -> tuple[int, int] | None:
    # Longest first: "@Ann Lee" must win over "@Ann" when both are candidates.
    for name in sorted((n for n in names if n), key=len, reverse=True):
        i = text.find("@" + name, pos)
        if i >= 0:
            return i, i + 1 + len(name)
    i = text.find("@", pos)
    if i < 0:
        return None
    j = i + 1
    while j < len(text) and not text[j].isspace():
        j += 1
    return i, j
