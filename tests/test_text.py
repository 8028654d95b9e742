"""Untrusted text reaches a terminal as inert, literal characters."""
from __future__ import annotations

import io
import json

from rich.console import Console
from rich.text import Text

from console.engine.text import json_line, visible

HOSTILE = "[bold red]x[/] \x1b[31mred\x1b[0m \x1b]52;c;cHduZWQ=\x07 \u202eevil\u202c zero\u200bwidth \x00nul \x9b31m"


def test_visible_neutralises_escapes_bidi_and_zero_width():
    out = visible(HOSTILE)
    assert "\x1b" not in out and "\x07" not in out and "\x00" not in out and "\x9b" not in out
    assert "\u202e" not in out and "\u200b" not in out
    assert "[bold red]x[/]" in out and "␛[31m" in out and "⟨U+202E⟩" in out


def test_visible_keeps_ordinary_text_and_truncates():
    assert visible("大家好 hello 👋") == "大家好 hello 👋"
    assert visible("abcdef", limit=4) == "abc…"
    assert visible("lone \ud800 surrogate") == "lone \ufffd surrogate"


def test_rich_renders_markup_literally_through_text():
    buf = io.StringIO()
    Console(file=buf, force_terminal=True, color_system="standard").print(Text(visible(HOSTILE)))
    rendered = buf.getvalue()
    assert "[bold red]x[/]" in rendered
    assert "\x1b]52" not in rendered and "\x1b[31mred" not in rendered


def test_json_line_round_trips_exactly_but_prints_inertly():
    line = json_line({"t": HOSTILE})
    assert json.loads(line)["t"] == HOSTILE
    assert "\x1b" not in line and "\u202e" not in line and "\x9b" not in line


def test_every_format_character_is_tagged_by_category_except_what_an_emoji_sequence_needs():
    import sys
    import unicodedata

    from console.engine.text import visible

    for c in range(sys.maxunicode + 1):
        ch = chr(c)
        if unicodedata.category(ch) == "Cf":
            assert visible(f"a{ch}b") == f"a⟨U+{c:04X}⟩b", hex(c)
    # the 35 the old list missed, by name
    assert visible("soft\u00adhyphen") == "soft⟨U+00AD⟩hyphen"
    assert visible("\u0600\u06dd\u070f\u0890\u08e2") == "⟨U+0600⟩⟨U+06DD⟩⟨U+070F⟩⟨U+0890⟩⟨U+08E2⟩"
    assert visible("\U00013430\U0001bca0\U0001d173") == "⟨U+13430⟩⟨U+1BCA0⟩⟨U+1D173⟩"
    # an emoji sequence keeps its joiners and flag tags; a joiner or tag anywhere else is tagged
    family = "👨\u200d👩\u200d👧"
    assert visible(family) == family
    england = "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"
    assert visible(england) == england
    assert visible("a\u200d👩") == "a⟨U+200D⟩👩"
    assert visible("\u202e\u200d👩") == "⟨U+202E⟩⟨U+200D⟩👩"
    assert visible("x\U000e0067\U000e007f") == "x⟨U+E0067⟩⟨U+E007F⟩"
