"""Text normalisation for the ``ad`` detector: what every message goes through first.

Pipeline for one message::

    text --normalize--> norm          NFKC, look-alikes, digits, lower case
    norm --squeeze----> squeezed      only letters/digits/CJK: "加 - 微" -> "加微"
    squeezed --skeleton--> key        for cross-group near-duplicates

Everything is precompiled (``str.translate`` tables, regexes built once), every regex is linear
in the text length, and at most :data:`MAX_CHARS` characters of a message are looked at.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Iterable

MAX_CHARS = 2000
"""Only this many leading characters of a message are looked at (bounded cost)."""

# ---------------------------------------------------------------------------
# Normalisation
# ---------------------------------------------------------------------------

_DELETE_RANGES = (
    (0x0300, 0x036F),  # combining diacritics (strike-through/zalgo noise); NFKC composes real accents first
    (0x1AB0, 0x1AFF), (0x1DC0, 0x1DFF), (0x20D0, 0x20FF),  # more combining marks, incl. keycap U+20E3
    (0x200B, 0x200F),  # zero-width space/joiners, LRM/RLM
    (0x202A, 0x202E),  # bidi embeddings/overrides
    (0x2060, 0x206F),  # word joiner, invisible operators, bidi isolates
    (0xFE00, 0xFE0F),  # variation selectors (emoji presentation, keycaps)
    (0xE0000, 0xE007F),  # tag characters
    (0xE0100, 0xE01EF),  # variation selectors supplement
)
_DELETE_SINGLE = (0x00AD, 0x034F, 0x061C, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180E, 0x3164, 0xFEFF, 0xFFA0)

# Look-alikes mapped to Latin letters. Applied after NFKC and before lower().
_HOMOGLYPHS = {
    # Cyrillic
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C", "Т": "T",
    "Х": "X", "У": "Y", "Ѕ": "S", "І": "I", "Ј": "J", "Ԁ": "D", "Ү": "Y", "Һ": "H", "Ԛ": "Q", "Ԝ": "W",
    "а": "a", "в": "b", "е": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c", "т": "t",
    "у": "y", "х": "x", "ѕ": "s", "і": "i", "ј": "j", "ԁ": "d", "һ": "h", "ӏ": "l", "ү": "y", "ԛ": "q",
    "ԝ": "w", "ь": "b", "п": "n", "г": "r", "и": "u", "И": "u", "б": "6", "Б": "6",
    # Greek
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O",
    "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X", "α": "a", "β": "b", "γ": "y", "ε": "e", "ι": "i", "κ": "k",
    "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ω": "w", "ϲ": "c", "ϳ": "j",
    # Latin look-alikes and small capitals
    "ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "đ": "d", "Đ": "D", "ħ": "h", "ı": "i", "ȷ": "j",
    "ᴀ": "a", "ʙ": "b", "ᴄ": "c", "ᴅ": "d", "ᴇ": "e", "ғ": "f", "ɢ": "g", "ʜ": "h", "ɪ": "i", "ᴊ": "j",
    "ᴋ": "k", "ʟ": "l", "ᴍ": "m", "ɴ": "n", "ᴏ": "o", "ᴘ": "p", "ǫ": "q", "ʀ": "r", "ꜱ": "s", "ᴛ": "t",
    "ᴜ": "u", "ᴠ": "v", "ᴡ": "w", "ʏ": "y", "ᴢ": "z", "ɑ": "a", "ɡ": "g",
    # currency signs used as letters
    "₳": "A", "₵": "C", "₣": "F", "₲": "G", "₭": "K", "₮": "T", "₱": "P", "₴": "S", "฿": "B", "₦": "N",
    # pluses ("+V" = add on WeChat)
    "➕": "+", "✚": "+", "✙": "+", "╋": "+", "乂": "x",
}

# Traditional -> simplified for the characters the word lists use, and rare
# variant characters used to dodge filters (岀 = 出, 呺 = 号, 硪 = 我, 嶶 = 微).
_HANZI = dict(zip(
    "聯繫係號賣買價費錢賺網頻騙結職發單圖資廣貸據詢視請詳談購優點線產專業務碼戶實證擔運鏈連個裏裡帶應銀億萬"
    "額獎勵紅這們來會時麼薦隊車匯穩領積禮簽裝軟體為爲與員場學習題門約溫無經濟區幣貨財贏輸際飛機觀課啓開關將黃"
    "輕鬆長戲遊賬帳極擊現還進認識訊報電話絡複製寶筆鵝蔥養紹齊樣豐滿兌換盤剛絲護詐團夥協議僅頭條測試質諮衛訂閱"
    "礎衝歡緣愛岀呺硪嶶徾菈徦",
    "联系系号卖买价费钱赚网频骗结职发单图资广贷据询视请详谈购优点线产专业务码户实证担运链连个里里带应银亿万"
    "额奖励红这们来会时么荐队车汇稳领积礼签装软体为为与员场学习题门约温无经济区币货财赢输际飞机观课启开关将黄"
    "轻松长戏游账账极击现还进认识讯报电话络复制宝笔鹅葱养绍齐样丰满兑换盘刚丝护诈团伙协议仅头条测试质咨卫订阅"
    "础冲欢缘爱出号我微微拉假",
))


def _build_table() -> dict[int, str | None]:
    t: dict[int, str | None] = {}
    for lo, hi in _DELETE_RANGES:
        for cp in range(lo, hi + 1):
            t[cp] = None
    for cp in _DELETE_SINGLE:
        t[cp] = None
    for k, v in _HOMOGLYPHS.items():
        t[ord(k)] = v
    for k, v in _HANZI.items():
        t[ord(k)] = v
    # Digits that NFKC leaves alone: dingbat/negative/double circled.
    for base in (0x2776, 0x2780, 0x278A, 0x24F5):  # ❶ ➀ ➊ ⓵ = 1..10
        for i in range(10):
            t[base + i] = str(1 + i)
    for i in range(10):  # ⓫..⓴ = 11..20
        t[0x24EB + i] = str(11 + i)
    t[0x24FF] = "0"  # ⓿
    t[0x1F10B] = "0"  # 🄋
    t[0x1F10C] = "0"  # 🄌
    # Letters that NFKC leaves alone: regional indicators, negative circled/squared.
    for i in range(26):
        ch = chr(ord("a") + i)
        t[0x1F1E6 + i] = ch  # 🇦
        t[0x1F150 + i] = ch  # 🅐
        t[0x1F170 + i] = ch  # 🅰
    return t


def _class_of(codepoints: Iterable[int]) -> str:
    """A regex character class matching exactly ``codepoints`` (ranges merged)."""
    cps = sorted(set(codepoints))
    parts, i = [], 0
    while i < len(cps):
        j = i
        while j + 1 < len(cps) and cps[j + 1] == cps[j] + 1:
            j += 1
        lo, hi = cps[i], cps[j]
        parts.append(re.escape(chr(lo)) if lo == hi else f"{re.escape(chr(lo))}-{re.escape(chr(hi))}")
        i = j + 1
    return "[" + "".join(parts) + "]"


_TABLE = _build_table()
# str.translate with a dict looks every character up (and raises/clears KeyError
# for each miss): test first whether any character needs it.
_NEEDS_TABLE = re.compile(_class_of(_TABLE))

_CN_DIGITS = {
    "零": "0", "〇": "0", "一": "1", "幺": "1", "壹": "1", "二": "2", "两": "2", "兩": "2", "贰": "2", "貳": "2",
    "三": "3", "叁": "3", "參": "3", "四": "4", "肆": "4", "五": "5", "伍": "5", "六": "6", "陆": "6", "陸": "6",
    "七": "7", "柒": "7", "八": "8", "捌": "8", "九": "9", "玖": "9",
}
_CN_TABLE = str.maketrans(_CN_DIGITS)
_CN_CLASS = "".join(_CN_DIGITS)
# A run of >= 5 numerals (Chinese or ASCII, at least one Chinese), separators allowed between
# them: an id ("幺五八 七九九六"), not "三五个人" or "一个".
_CN_RUN = re.compile(f"[{_CN_CLASS}0-9](?:[\\s\\-_.·,，、~+]{{0,3}}[{_CN_CLASS}0-9]){{4,}}")
_CN_ANY = re.compile(f"[{_CN_CLASS}]")


# Shorter runs count when glued to Latin letters or digits: "VPZM三〇贰" is the id VPZM302.
_CN_GLUED = re.compile(f"(?<=[a-z0-9])[{_CN_CLASS}]{{3,}}")


def _cn_run(m: re.Match[str]) -> str:
    return m.group().translate(_CN_TABLE)


_nfkc = unicodedata.normalize


def _prenormalize(text: str) -> str:
    """NFKC + look-alikes + invisible characters removed, case kept (upper case is a signal)."""
    if len(text) > MAX_CHARS:
        text = text[:MAX_CHARS]
    if text.isascii():
        return text
    text = _nfkc("NFKC", text)
    if _NEEDS_TABLE.search(text) is not None:
        text = text.translate(_TABLE)
    return text


def _finish(pre: str) -> str:
    norm = pre.lower()
    if not norm.isascii() and _CN_ANY.search(norm) is not None:
        norm = _CN_RUN.sub(_cn_run, norm)
        if _CN_ANY.search(norm) is not None:
            norm = _CN_GLUED.sub(_cn_run, norm)
    return norm


def normalize(text: str) -> str:
    """Normalise ``text`` for matching: NFKC (full-width, circled, math letters), keycap and
    dingbat digits, Greek/Cyrillic look-alikes, zero-width/bidi characters removed, lower
    case, Chinese numerals in id-length runs as digits. Looks at ``MAX_CHARS`` at most."""
    return _finish(_prenormalize(text))


_NONWORD = re.compile(r"[\W_]+")
_DIGIT_RUN = re.compile(r"[0-9]+")
_EDGE_NOISE = re.compile(r"^[a-z0-9#]{1,3}(?=[^\x00-\x7f])|(?<=[^\x00-\x7f])[a-z0-9#]{1,3}$")


def squeeze(norm: str) -> str:
    """Only letters, digits and CJK: "加 - 微" -> "加微", "企++鹅" -> "企鹅"."""
    return _NONWORD.sub("", norm)


def skeleton(norm: str, collapse_digits: bool = True) -> str:
    """Key for near-duplicates: no whitespace/punctuation/emoji, digit runs as "#", and 1-3
    Latin noise characters at either end of a CJK text dropped, so an ad re-posted with a
    new id or a random tag ("...想要的 yt" / "...想要的 vr") keeps its key."""
    return skeleton_of_squeezed(_NONWORD.sub("", norm), collapse_digits)


def skeleton_of_squeezed(s: str, collapse_digits: bool = True) -> str:
    """:func:`skeleton` of an already squeezed text (the detector has it at hand)."""
    if not s:
        return s
    if collapse_digits:
        s = _DIGIT_RUN.sub("#", s)
    if (s[0] in _EDGE_CHARS or s[-1] in _EDGE_CHARS) and not s.isascii():
        s = _EDGE_NOISE.sub("", s)
    return s


_EDGE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789#")
