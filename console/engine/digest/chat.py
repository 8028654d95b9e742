"""Text for a moderators' chat (Telegram, Matrix, QQ): plain lines, no markup, short enough to read
on a phone, and safe whatever the groups and members are called."""
from __future__ import annotations

from console.engine.text import visible

MAX_CHARS = 3500
"""Under every platform's limit for one message (Telegram 4096, QQ about 4500, Matrix much more)."""
NAME_CHARS = 32
LIST_ITEMS = 6


def name(text: str | None, limit: int = NAME_CHARS) -> str:
    """An untrusted name as inert chat text: control and invisible characters shown, never obeyed,
    and no mention it could make (@room, @all, @everyone: an @ becomes the full-width ＠)."""
    return visible(text or "?", limit).replace("@", "\uff20")


def pct(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x * 100:.0f}%" if x >= 0.1 or x == 0 else f"{x * 100:.1f}%"


def counts(by_kind: dict[str, int], limit: int = LIST_ITEMS) -> str:
    """'ad 30, flood 8, silent member 4', most first, at most ``limit`` kinds then '+N more'."""
    items = sorted(by_kind.items(), key=lambda kv: (-kv[1], kv[0]))
    out = ", ".join(f"{name(k.replace('_', ' '), 24)} {n}" for k, n in items[:limit])
    if len(items) > limit:
        out += f", +{len(items) - limit} more"
    return out


def capped(lines: list[str], limit: int = LIST_ITEMS) -> list[str]:
    """At most ``limit`` lines, then '... and N more'."""
    if len(lines) <= limit:
        return lines
    return lines[:limit] + [f"... and {len(lines) - limit} more"]


def finish(lines: list[str], max_chars: int = MAX_CHARS) -> str:
    """The message: whole lines up to ``max_chars``, then '... and N more lines'."""
    text = "\n".join(lines)
    if len(text) <= max_chars:
        return text
    out: list[str] = []
    size = 0
    for i, line in enumerate(lines):
        more = f"... and {len(lines) - i} more lines"
        if size + len(line) + 1 + len(more) > max_chars:
            out.append(more)
            break
        out.append(line)
        size += len(line) + 1
    return "\n".join(out)
