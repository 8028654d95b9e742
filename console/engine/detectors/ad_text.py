"""Text normalisation and rule signals for the ``ad`` detector.

This is the hot path: every message of every watched group goes through
:func:`normalize` and :meth:`AdRules.analyze`. Everything here is precompiled
(``str.translate`` tables, regexes built once per settings object) and every
regex is linear in the text length (no nested quantifiers), on at most
:data:`MAX_CHARS` characters.

Pipeline for one message::

    text --normalize--> norm          NFKC, homoglyphs, digits, lower case
    norm --allow list--> norm         configured safe substrings removed
    norm --squeeze----> squeezed      only letters/digits/CJK: "加 - 微" -> "加微"
    norm, squeezed --signals--> [(reason, weight)] --noisy-or--> score 0..1
    squeezed --skeleton--> key        for cross-group near-duplicates

Built-in word lists are normalised with the same function at import time, so a
list entry written in plain Chinese/English/Russian matches its obfuscated
forms (full-width, math letters, Cyrillic look-alikes, spaced out).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Iterable, Sequence

MAX_CHARS = 2000
"""Only this many leading characters of a message are looked at (bounded cost)."""

MAX_HITS_PER_SIGNAL = 3
"""A signal family counts at most this many distinct hits (long texts don't snowball)."""

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
    "ԝ": "w", "ь": "b", "п": "n", "г": "r",
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
    # pluses
    "➕": "+", "✚": "+", "✙": "+", "╋": "+", "十": "十",
}


def _build_table() -> dict[int, str | None]:
    t: dict[int, str | None] = {}
    for lo, hi in _DELETE_RANGES:
        for cp in range(lo, hi + 1):
            t[cp] = None
    for cp in _DELETE_SINGLE:
        t[cp] = None
    for k, v in _HOMOGLYPHS.items():
        if k != v:
            t[ord(k)] = v
    # Digits that NFKC leaves alone: dingbat/negative/double circled.
    for base, first in ((0x2776, 1), (0x2780, 1), (0x278A, 1), (0x24F5, 1)):  # ❶ ➀ ➊ ⓵ .. 10
        for i in range(10):
            t[base + i] = str(first + i)
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


_TABLE = _build_table()

_CN_DIGITS = {
    "零": "0", "〇": "0", "一": "1", "幺": "1", "壹": "1", "二": "2", "两": "2", "兩": "2", "贰": "2", "貳": "2",
    "三": "3", "叁": "3", "參": "3", "四": "4", "肆": "4", "五": "5", "伍": "5", "六": "6", "陆": "6", "陸": "6",
    "七": "7", "柒": "7", "八": "8", "捌": "8", "九": "9", "玖": "9",
}
_CN_TABLE = str.maketrans(_CN_DIGITS)
_CN_CLASS = "".join(_CN_DIGITS)
_CN_ANY = re.compile(f"[{_CN_CLASS}]")
# A run of >= 5 numerals (Chinese or ASCII), separators allowed between them: an id, not "三五个人".
_CN_RUN = re.compile(f"[{_CN_CLASS}0-9](?:[\\s\\-_.·,，、~+]{{0,3}}[{_CN_CLASS}0-9]){{4,}}")


def _cn_run(m: re.Match[str]) -> str:
    return m.group().translate(_CN_TABLE)


_nfkc = unicodedata.normalize


def normalize(text: str) -> str:
    """Normalise ``text`` for matching (see the module doc). Looks at ``MAX_CHARS`` at most."""
    if len(text) > MAX_CHARS:
        text = text[:MAX_CHARS]
    if text.isascii():
        return text.lower()
    text = _nfkc("NFKC", text).translate(_TABLE).lower()
    if _CN_ANY.search(text) is not None:
        text = _CN_RUN.sub(_cn_run, text)
    return text


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
    s = _NONWORD.sub("", norm)
    if collapse_digits:
        s = _DIGIT_RUN.sub("#", s)
    if not s.isascii():
        s = _EDGE_NOISE.sub("", s)
    return s


# ---------------------------------------------------------------------------
# Word lists: (entry, weight). Entries are normalised at import time.
# CJK/mixed entries are matched in the squeezed text (separators ignored);
# Latin entries are matched as whole words.
# ---------------------------------------------------------------------------

CONTACT_WORDS: tuple[tuple[str, float], ...] = (
    # asking to add / move to a private channel
    ("加微", 0.55), ("加v", 0.55), ("加vx", 0.6), ("加wx", 0.6), ("加q", 0.5), ("加qq", 0.6), ("加扣", 0.6),
    ("加我微", 0.6), ("加微信", 0.6), ("加企鹅", 0.65), ("加好友", 0.3), ("加我", 0.3), ("家我", 0.35),
    ("薇信", 0.55), ("威信", 0.5), ("徽信", 0.55), ("维信", 0.45), ("v信", 0.55), ("微x", 0.5), ("wei信", 0.5),
    ("vx号", 0.55), ("wx号", 0.55), ("微信号", 0.45), ("qq号", 0.45), ("扣号", 0.55), ("扣扣", 0.45),
    ("企鹅", 0.45), ("球球", 0.3), ("q群", 0.4), ("扣群", 0.5),
    ("伽微", 0.6), ("伽韦", 0.6), ("伽威", 0.6), ("伽徽", 0.6), ("伽喂", 0.6), ("迦威", 0.6), ("迦微", 0.6),
    ("佳喂", 0.6), ("佳微", 0.6), ("佳威", 0.6), ("嘉微", 0.6), ("夹微", 0.55), ("喂心", 0.55), ("卫星", 0.3),
    ("伽筘", 0.6), ("伽扣", 0.6), ("加叩", 0.6), ("加口", 0.45), ("家口", 0.45), ("夹口", 0.45), ("加冦", 0.6),
    ("蔲", 0.45), ("蔻", 0.45), ("寇", 0.3), ("釦", 0.45), ("筘", 0.45), ("冦", 0.45), ("窛", 0.45), ("滱", 0.45),
    ("口口", 0.35),
    ("看我名", 0.55), ("看名字", 0.5), ("看我头像", 0.5), ("看头像", 0.35), ("看我主页", 0.55), ("看主页", 0.4),
    ("看姐姐名字", 0.6), ("看妹妹名字", 0.6), ("看我茗", 0.6), ("名字加", 0.4), ("看名", 0.3),
    ("私聊我", 0.5), ("私我", 0.5), ("私信我", 0.5), ("私聊", 0.35), ("私信", 0.3), ("滴滴我", 0.45),
    ("联系我", 0.4), ("联系方式", 0.45), ("联系人", 0.35), ("联系", 0.2), ("找我", 0.2), ("来撩", 0.35),
    ("微信", 0.3), ("vx", 0.35), ("wx", 0.3), ("qq", 0.3), ("频道", 0.25), ("主页", 0.2), ("电报", 0.3),
    ("飞机", 0.15), ("tg", 0.2), ("whatsapp", 0.35), ("line", 0.05),
)

SELL_WORDS: tuple[tuple[str, float], ...] = (
    # accounts, traffic, bulk messaging
    ("出号", 0.45), ("收号", 0.45), ("卖号", 0.45), ("代发", 0.45), ("代拉", 0.45), ("拉人", 0.25),
    ("群发", 0.4), ("私发", 0.3), ("引流", 0.45), ("上粉", 0.45), ("精准粉", 0.55), ("僵尸粉", 0.55),
    ("协议号", 0.55), ("飞机号", 0.45), ("直登号", 0.55), ("接码", 0.45), ("养号", 0.4),
    # side jobs, money
    ("兼职", 0.4), ("日结", 0.45), ("刷单", 0.55), ("日赚", 0.55), ("月入", 0.4), ("日入", 0.45),
    ("赚钱", 0.25), ("项目", 0.15), ("无押金", 0.55), ("押金", 0.2), ("包教包会", 0.55), ("招代理", 0.55),
    ("代理", 0.2), ("返利", 0.4), ("佣金", 0.35), ("秒到", 0.35), ("提现", 0.2), ("招聘", 0.2), ("搬砖", 0.3),
    # selling, prices
    ("出售", 0.35), ("低价", 0.35), ("高价收", 0.55), ("收购", 0.25), ("回收", 0.2), ("批发", 0.35),
    ("量大", 0.35), ("优惠", 0.2), ("价格", 0.15), ("点位", 0.4), ("汇率", 0.3), ("诚信", 0.3), ("实力", 0.2),
    ("来谈", 0.45), ("对接", 0.35), ("合作", 0.15), ("担保", 0.35), ("直押", 0.55), ("免费", 0.15),
    ("结账", 0.3), ("单价", 0.35), ("广告", 0.15), ("推广", 0.3), ("代购", 0.35), ("代充", 0.45),
    # grey/black market
    ("出u", 0.5), ("收u", 0.5), ("下浮", 0.5), ("接料", 0.55), ("料子", 0.45), ("车队", 0.35), ("洗米", 0.55),
    ("洗咪", 0.55), ("卡接回", 0.6), ("咔接", 0.6), ("一道二道", 0.55), ("承接", 0.35), ("usdt", 0.4),
    ("银行卡", 0.3), ("收卡", 0.45), ("盾卡", 0.55), ("公户", 0.45), ("贷款", 0.35), ("黑户", 0.45),
    ("白户", 0.45), ("社工库", 0.6), ("开房", 0.35), ("户籍", 0.35), ("查询", 0.15), ("菠菜", 0.45),
    ("博彩", 0.45), ("棋牌", 0.3), ("跑分", 0.55), ("跑芬", 0.55), ("灰产", 0.5), ("黑资", 0.5),
)

ADULT_WORDS: tuple[tuple[str, float], ...] = (
    ("看片", 0.45), ("卖片", 0.55), ("买片", 0.5), ("麦片", 0.45), ("麦p", 0.5), ("麦饼", 0.4), ("黄片", 0.5),
    ("看篇", 0.5), ("买篇", 0.5), ("卖篇", 0.55), ("黄篇", 0.55), ("看拼", 0.45), ("片源", 0.45), ("禁片", 0.5),
    ("色情", 0.45), ("黄色", 0.25), ("成人", 0.2), ("裸聊", 0.55), ("果聊", 0.55), ("约炮", 0.55),
    ("同城", 0.3), ("上门", 0.3), ("楼凤", 0.6), ("外围", 0.35), ("少妇", 0.35), ("萝莉", 0.4),
    ("日批", 0.5), ("曰批", 0.55), ("操逼", 0.45), ("网站盘", 0.55), ("网址盘", 0.55), ("资源", 0.15),
    ("视频聊", 0.3), ("激情", 0.3), ("无码", 0.45), ("自慰", 0.3), ("av", 0.2), ("看妹", 0.3),
)

SCAM_WORDS: tuple[tuple[str, float], ...] = (
    # English
    ("crypto", 0.3), ("bitcoin", 0.3), ("btc", 0.25), ("usdt", 0.35), ("forex", 0.4), ("signals", 0.3),
    ("profit", 0.3), ("profits", 0.3), ("investment", 0.3), ("invest", 0.25), ("investing", 0.25),
    ("dm me", 0.45), ("inbox me", 0.45), ("message me", 0.3), ("contact me", 0.35), ("whatsapp", 0.35),
    ("click here", 0.4), ("click the link", 0.4), ("free", 0.15), ("won", 0.2), ("winner", 0.3),
    ("prize", 0.35), ("claim", 0.3), ("call now", 0.4), ("txt", 0.3), ("guaranteed", 0.3), ("cash", 0.2),
    ("bonus", 0.2), ("offer", 0.15), ("airdrop", 0.45), ("wallet", 0.2), ("withdraw", 0.3),
    ("withdrawal", 0.3), ("testimony", 0.4), ("earn", 0.25), ("earning", 0.25), ("no scam", 0.45),
    ("limited time", 0.3), ("join now", 0.35), ("sign up", 0.2), ("subscribe", 0.2), ("urgent", 0.25),
    ("congratulations", 0.3), ("trading", 0.2), ("passive income", 0.45), ("per day", 0.2),
    ("ringtone", 0.35), ("reply stop", 0.5), ("text stop", 0.5), ("150p", 0.5), ("mobile", 0.1),
    ("shill", 0.4), ("pump", 0.25), ("presale", 0.45), ("giveaway", 0.3),
    # Russian (normalised like the text: Cyrillic look-alikes become Latin)
    ("заработ", 0.4), ("заработок", 0.4), ("доход", 0.3), ("пишите в лс", 0.5), ("в лс", 0.3),
    ("удаленн", 0.3), ("ставк", 0.3), ("крипт", 0.3), ("инвест", 0.3), ("прибыл", 0.3),
    ("без вложений", 0.5), ("в день", 0.2), ("подробност", 0.2), ("выигрыш", 0.35),
)

_TLDS = (
    "com|cn|net|org|cc|me|io|xyz|top|vip|info|co|app|site|shop|club|ru|tk|ml|ga|cf|gq|pw|link|live|online|"
    "store|tech|biz|us|uk|in|ly|gl|gg|tv|ws|su|ua|hk|tw|jp|win|bet|fun|icu|cyou|buzz|work|life|pro|mobi"
)

# ---------------------------------------------------------------------------
# Structural regexes (all linear; run on the normalised text)
# ---------------------------------------------------------------------------

# 5+ digits with at most 3 separator characters between digits, not followed by more digits.
_NUMBER = re.compile(r"(?<![0-9a-z])[0-9](?:[\W_]{0,3}[0-9]){4,}(?![0-9a-z])")
_SPLIT_SEP = re.compile(r"[^\s\-.,，。]")
_PHONE = re.compile(r"1[3-9][0-9]{9}")
# Letters then digits: "tuo442", "sx111 505", "w2753636". At most 6 letters, 3+ digits.
_LATIN_ID = re.compile(r"(?<![a-z0-9])([a-z]{1,6})[\s_\-]?([0-9]{3,11})(?![0-9])")
_URL = re.compile(r"https?://[^\s]{1,200}|www\.[^\s]{1,200}")
_TG_LINK = re.compile(r"(?<![a-z0-9])(?:t\.me|telegram\.me|wa\.me|chat\.whatsapp\.com)/[^\s]{0,100}")
_DOMAIN = re.compile(rf"(?<![a-z0-9.\-])[a-z0-9][a-z0-9\-]{{1,30}}\.(?:{_TLDS})(?![a-z0-9])")
_HANDLE = re.compile(r"(?<![a-z0-9_])@[a-z][a-z0-9_]{3,31}(?![a-z0-9_])")
_MONEY = re.compile(r"(?:[$£€]\s?[0-9][0-9,.]*|[0-9][0-9,.]*\s?(?:usd|usdt|\$))")
# Characters that stand out in the original text when used to dodge filters.
_STYLED = re.compile(
    "[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a"  # full-width digits/letters
    "\U0001d400-\U0001d7ff"  # mathematical alphanumerics
    "\u24b6-\u24e9\u2776-\u2793\u24eb-\u24ff"  # circled letters, dingbat digits
    "\U0001f130-\U0001f189\U0001f1e6-\U0001f1ff"  # squared/negative letters, regional indicators
    "\u1d00-\u1d2b\u0250-\u02af\u20a0-\u20c0]"  # small capitals, IPA letters, currency-sign letters
)
# A symbol (not punctuation, not a letter/digit/CJK) between two word characters.
_SCATTER = re.compile(r"(?<=\w)[^\w\s,.!?;:'\"()\[\]，。！？、；：“”‘’（）《》【】…~～\-—+=/\\|*#%&^@]{1,2}(?=\w)")


def _word_regex(entries: Iterable[str]) -> re.Pattern[str] | None:
    """Whole-word alternation for Latin entries in the normalised text ("dm me" also matches "dm  me")."""
    parts = []
    for e in sorted(set(entries), key=len, reverse=True):
        words = e.split()
        parts.append(r"\s+".join(re.escape(w) for w in words))
    if not parts:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(parts) + r")(?!\w)")


def _squeezed_regex(entries: Iterable[str]) -> re.Pattern[str] | None:
    """Alternation for entries matched in the squeezed text; Latin edges must not touch other Latin letters."""
    parts = []
    for e in sorted(set(entries), key=len, reverse=True):
        p = re.escape(e)
        if e[:1].isascii() and e[:1].isalnum():
            p = r"(?<![a-z0-9])" + p
        if e[-1:].isascii() and e[-1:].isalnum():
            p = p + r"(?![a-z0-9])"
        parts.append(p)
    if not parts:
        return None
    return re.compile("|".join(parts))


def _is_latin(entry: str) -> bool:
    return entry.isascii() or not any("\u2e80" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" for ch in entry)


class _WordList:
    """One family of weighted words, split into a squeezed-text regex (CJK) and a word regex (Latin)."""

    __slots__ = ("label", "weights", "cjk", "latin")

    def __init__(self, label: str, entries: Sequence[tuple[str, float]]) -> None:
        self.label = label
        self.weights: dict[str, float] = {}
        cjk, latin = [], []
        for raw, w in entries:
            n = normalize(raw).strip()
            if not n:
                continue
            if _is_latin(n):
                n = " ".join(n.split())
                latin.append(n)
            else:
                n = squeeze(n)
                cjk.append(n)
            self.weights[n] = max(w, self.weights.get(n, 0.0))
        self.cjk = _squeezed_regex(cjk)
        self.latin = _word_regex(latin)

    def hits(self, norm: str, squeezed: str) -> list[str]:
        found: list[str] = []
        if self.cjk is not None:
            for m in self.cjk.finditer(squeezed):
                k = m.group()
                if k not in found:
                    found.append(k)
                    if len(found) >= MAX_HITS_PER_SIGNAL:
                        return found
        if self.latin is not None:
            for m in self.latin.finditer(norm):
                k = " ".join(m.group().split())
                if k not in found:
                    found.append(k)
                    if len(found) >= MAX_HITS_PER_SIGNAL:
                        return found
        return found

    def weight(self, hits: list[str]) -> float:
        keep = 1.0
        weights = self.weights
        for h in hits:
            keep *= 1.0 - weights.get(h, 0.0)
        return 1.0 - keep


# ---------------------------------------------------------------------------
# Scoring
# ---------------------------------------------------------------------------


def noisy_or(weights: Iterable[float]) -> float:
    keep = 1.0
    for w in weights:
        keep *= 1.0 - w
    return 1.0 - keep


def _number_kind(digits: str) -> str | None:
    """Classify a digit string found in a message: "phone", "id" or None (a price, a year, noise)."""
    n = len(digits)
    if n < 5 or n > 11:
        return None
    if len(set(digits)) <= 2:  # 666666, 10000, 88888
        return None
    if n == 11 and _PHONE.fullmatch(digits):
        return "phone"
    if digits.endswith("000") or (n <= 6 and digits.endswith("00")):  # round amounts
        return None
    return "id"


@dataclass(slots=True)
class Analysis:
    """What the rules saw in one message."""

    norm: str
    squeezed: str
    score: float
    signals: list[tuple[str, float]]

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(r for r, _ in self.signals)


class AdRules:
    """The rule-based ad scorer, compiled once from ``AdSettings``.

    Satisfies the ``AdScorer`` protocol (``score``/``learn``) so it can stand in
    wherever a scorer is expected; ``learn`` does nothing.
    """

    def __init__(
        self,
        keywords: Sequence[str] = (),
        keyword_weight: float = 0.5,
        regexes: Sequence[str] = (),
        regex_weight: float = 0.6,
        allow: Sequence[str] = (),
    ) -> None:
        self.contact = _WordList("contact words", CONTACT_WORDS)
        self.sell = _WordList("selling words", SELL_WORDS)
        self.adult = _WordList("adult-content words", ADULT_WORDS)
        self.scam = _WordList("scam words", SCAM_WORDS)
        self.user_words = _WordList("keyword", [(k, keyword_weight) for k in keywords if k and k.strip()])
        self.user_regexes: list[tuple[str, re.Pattern[str]]] = []
        for i, src in enumerate(regexes):
            try:
                self.user_regexes.append((src, re.compile(src, re.IGNORECASE)))
            except re.error as e:
                raise ValueError(f"detectors.ad.regexes[{i}] {src!r} is not a valid regular expression: {e}") from None
        self.regex_weight = regex_weight
        allowed = sorted({normalize(a).strip() for a in allow if a and a.strip()}, key=len, reverse=True)
        self.allow = re.compile("|".join(re.escape(a) for a in allowed)) if allowed else None

    @classmethod
    def from_settings(cls, s: object) -> "AdRules":
        return cls(
            keywords=getattr(s, "keywords", ()) or (),
            keyword_weight=getattr(s, "keyword_weight", 0.5),
            regexes=getattr(s, "regexes", ()) or (),
            regex_weight=getattr(s, "regex_weight", 0.6),
            allow=getattr(s, "allow", ()) or (),
        )

    # -- AdScorer protocol -------------------------------------------------
    def score(self, text: str) -> tuple[float, tuple[str, ...]]:
        a = self.analyze(text)
        return a.score, a.reasons

    def learn(self, text: str, is_ad: bool) -> None:  # rules don't learn
        return None

    # -- the work ------------------------------------------------------------
    def analyze(self, text: str) -> Analysis:
        norm = normalize(text)
        if self.allow is not None:
            norm = self.allow.sub(" ", norm)
        squeezed = _NONWORD.sub("", norm)
        signals: list[tuple[str, float]] = []
        add = signals.append

        # Numbers: QQ ids, phone numbers, split-up digits.
        id_kind = None
        if len(squeezed) >= 5:
            for m in _NUMBER.finditer(norm):
                raw = m.group()
                digits = _NONWORD.sub("", raw)
                kind = _number_kind(digits)
                if kind is None:
                    continue
                split = raw != digits
                if kind == "phone":
                    add((f"phone number {raw}", 0.6))
                else:
                    n = len(digits)
                    add((f"contact number {raw}", 0.5 if n >= 8 else 0.35 if n >= 6 else 0.2))
                if split and _SPLIT_SEP.search(raw) is not None:
                    add(("number broken up with symbols", 0.3))
                elif split:
                    add(("number split into groups", 0.1))
                id_kind = kind
                break
            if id_kind is None:
                m = _LATIN_ID.search(norm)
                if m is not None:
                    letters, digits = m.group(1), m.group(2)
                    if len(set(digits)) > 1 or len(digits) <= 4:
                        nd = len(digits)
                        w = 0.45 if nd >= 5 else 0.35 if len(letters) >= 2 else 0.15
                        add((f"WeChat-style id {m.group()}", w))
                        id_kind = "latin"

        # Word families.
        for wl in (self.contact, self.sell, self.adult, self.scam):
            hits = wl.hits(norm, squeezed)
            if hits:
                add((f"{wl.label}: {', '.join(hits)}", wl.weight(hits)))

        # Links and handles.
        if "." in norm or "@" in norm or ":" in norm:
            m = _TG_LINK.search(norm)
            if m is not None:
                add((f"invite link {m.group()[:60]}", 0.65))
            else:
                m = _URL.search(norm) or _DOMAIN.search(norm)
                if m is not None:
                    add((f"link {m.group()[:60]}", 0.4))
            m = _HANDLE.search(norm)
            if m is not None:
                add((f"handle {m.group()}", 0.3))
        m = _MONEY.search(norm)
        if m is not None:
            add((f"money amount {m.group()}", 0.15))

        # Filter evasion in the original text.
        if not text.isascii():
            styled = len(_STYLED.findall(text, 0, MAX_CHARS))
            if styled >= 2:
                add(("styled/full-width letters (filter evasion)", 0.35))
            if len(_SCATTER.findall(norm)) >= 3:
                add(("symbols scattered between characters (filter evasion)", 0.3))

        # A message that is little more than an id.
        if id_kind is not None and len(squeezed) <= 16:
            add(("message is little more than a contact id", 0.2))

        # Configured words and patterns.
        if self.user_words.weights:
            hits = self.user_words.hits(norm, squeezed)
            for h in hits:
                add((f"keyword {h}", self.user_words.weights[h]))
        for src, rx in self.user_regexes:
            if rx.search(norm) is not None:
                add((f"pattern {src}", self.regex_weight))

        if not signals:
            return Analysis(norm, squeezed, 0.0, signals)
        return Analysis(norm, squeezed, noisy_or(w for _, w in signals), signals)
