"""Untrusted text: every message, name and title comes from a stranger.

``visible`` makes a string safe to put on a terminal as literal text: control
characters become their visible Control Pictures (ESC -> ␛), and the invisible
characters that can reorder or hide text (every format character: bidi overrides,
zero-width joiners, soft hyphens...) become a visible ``⟨U+202E⟩`` tag, except
the joiners and tags an emoji sequence is made of. Rich markup is not touched here: callers
render through ``rich.text.Text`` or with ``markup=False``, never as markup.
"""
from __future__ import annotations

import json
import re
import unicodedata

# C0 controls (minus none: even \n and \t would break one-line cells) and DEL.
_C0 = {c: 0x2400 + c for c in range(0x20)}
_C0[0x7F] = 0x2421


def _format_chars() -> str:
    """Every format character (category Cf: bidi controls, zero-width chars, soft hyphen, the Arabic
    number signs, the Egyptian, shorthand and musical format controls...) as a regex class body,
    from the running Python's Unicode tables rather than a list that goes stale. Planes 2-13, 15
    and 16 hold ideographs and private use, never a format character: not scanned (import time)."""
    cps = [c for plane in (0, 1, 14) for c in range(plane << 16, (plane + 1) << 16)
           if unicodedata.category(chr(c)) == "Cf"]
    runs: list[tuple[int, int]] = []
    for c in cps:
        if runs and runs[-1][1] == c - 1:
            runs[-1] = (runs[-1][0], c)
        else:
            runs.append((c, c))
    return "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in runs)


# Beside category Cf: C1 controls (which some terminals obey as CSI/OSC), line/paragraph separators,
# the Hangul fillers and Khmer vowels that render as nothing, variation selectors 1-15 (16, U+FE0F,
# is the emoji presentation selector and stays).
_INVISIBLE = re.compile(
    "[" + _format_chars() + "\u0080-\u009f\u115f\u1160\u17b4\u17b5\u2028\u2029\u2065\u3164\ufe00-\ufe0e"
    "\U000e0000-\U000e007f]"
)
# What an emoji sequence needs of those: a zero-width joiner between two pictographs (👨‍👩‍👧), and the
# tag characters of a subdivision flag (🏴 + tags + U+E007F cancel tag). These alone stay as they are.
_PICTO = "\u00a9\u00ae\u203c\u2049\u2122-\u2bff\u3030\u303d\u3297\u3299\U0001f000-\U0001faff"
_EMOJI_NEEDS = re.compile(f"(?<=[{_PICTO}\ufe0f\U0001f3fb-\U0001f3ff])\u200d(?=[{_PICTO}])"
                          "|\U0001f3f4[\U000e0020-\U000e007e]+\U000e007f")
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
    if "\u200d" in text or "\U0001f3f4" in text:
        text = _keep_emoji(text)
    else:
        text = _INVISIBLE.sub(_tag, text)
    return _SURROGATE.sub("\ufffd", text)


def _keep_emoji(text: str) -> str:
    """Tag the invisible characters outside the spans an emoji sequence needs."""
    out, at = [], 0
    for m in _EMOJI_NEEDS.finditer(text):
        out.append(_INVISIBLE.sub(_tag, text[at:m.start()]))
        out.append(m.group())
        at = m.end()
    out.append(_INVISIBLE.sub(_tag, text[at:]))
    return "".join(out)


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
