"""Untrusted text: every message, name and title comes from a stranger.

``visible`` makes a string safe to put on a terminal as literal text: control
characters become their visible Control Pictures (ESC -> ␛), and the invisible
characters that can reorder or hide text (bidi overrides, zero-width joiners)
become a visible ``⟨U+202E⟩`` tag. Rich markup is not touched here: callers
render through ``rich.text.Text`` or with ``markup=False``, never as markup.
"""
from __future__ import annotations

import json
import re

# C0 controls (minus none: even \n and \t would break one-line cells) and DEL.
_C0 = {c: 0x2400 + c for c in range(0x20)}
_C0[0x7F] = 0x2421
# Bidi embeddings/overrides/isolates and marks, zero-width chars, BOM, line/para separators,
# the interlinear annotation chars, and C1 controls (which some terminals obey as CSI/OSC).
_INVISIBLE = re.compile(
    "[\u0080-\u009f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f"
    "\u3164\ufe00-\ufe0e\ufeff\ufff9-\ufffb\U000e0000-\U000e007f]"
)
_SURROGATE = re.compile("[\ud800-\udfff]")
_UNSAFE_JSON = re.compile("[\u0080-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ud800-\udfff]")


def _tag(m: re.Match[str]) -> str:
    return f"⟨U+{ord(m.group()):04X}⟩"


def visible(text: str, limit: int | None = None) -> str:
    """A one-line, inert rendering of untrusted text for a terminal."""
    if limit is not None and len(text) > limit:
        text = text[: max(limit - 1, 0)] + "…"
    text = text.translate(_C0)
    if text.isascii():
        return text
    text = _INVISIBLE.sub(_tag, text)
    return _SURROGATE.sub("\ufffd", text)


def json_line(obj: object) -> str:
    """JSON that a terminal shows inertly but that still round-trips exactly.

    ``ensure_ascii=False`` keeps Chinese readable; characters that could move or
    hide text on a terminal are escaped as ``\\uXXXX`` (json escapes C0 itself).
    """
    s = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    return _UNSAFE_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", s)


# --- CSV cells (spreadsheets run a leading = + - @ as a formula) ---

_FORMULA = frozenset("=+-@\t\r")


def neutralise_cell(s: str) -> str:
    """CSV opens in spreadsheets: a leading = + - @ must not start a formula.

    Reversible (see ``restore_cell``): a quote is added before a dangerous first
    character, and before text that already looks like a neutralised cell.
    """
    if s[:1] in _FORMULA or (s[:1] == "'" and s.lstrip("'")[:1] in _FORMULA):
        return "'" + s
    return s


def utf8_safe(s: str) -> str:
    """Lone surrogates (which UTF-8 cannot encode) become U+FFFD, so the text can be written to a file."""
    return _SURROGATE.sub("\ufffd", s)


def restore_cell(s: str) -> str:
    if s[:1] == "'" and s.lstrip("'")[:1] in _FORMULA:
        return s[1:]
    return s
