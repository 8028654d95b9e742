"""Text normalisation and rule signals for the ``ad`` detector.

This is the hot path: every message of every watched group goes through
:meth:`AdRules.analyze`. Everything is precompiled (``str.translate`` tables,
one merged regex per word family, built once per settings object), every regex
is linear in the text length (no nested quantifiers), and at most
:data:`MAX_CHARS` characters of a message are looked at.

Pipeline for one message::

    text --normalize--> norm          NFKC, look-alikes, digits, lower case
    norm --allow list--> norm         configured safe substrings removed
    norm --squeeze----> squeezed      only letters/digits/CJK: "加 - 微" -> "加微"
    norm, squeezed --signals--> [(reason, weight)] --noisy-or--> score 0..1
    squeezed --skeleton--> key        for cross-group near-duplicates

Built-in word lists are normalised with the same function at import time, so an
entry written in plain Chinese/English/Russian also matches its obfuscated
forms (full-width, math letters, Cyrillic look-alikes, traditional characters,
spaced out with symbols).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Iterable, Sequence

MAX_CHARS = 2000
"""Only this many leading characters of a message are looked at (bounded cost)."""

MAX_HITS = 4
"""A word family counts at most this many distinct hits (long texts don't snowball)."""

HINT_WINDOW = 6
"""Characters either side of an id searched for contact/adult slang ("口", "威", "片")."""

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


# ---------------------------------------------------------------------------
# Word lists: (entry, weight). Entries are normalised at import time.
# Entries with CJK characters are matched in the squeezed text (separators
# ignored); Latin entries as whole words in the normalised text; entries ending
# in "*" (Russian stems) as word beginnings.
# ---------------------------------------------------------------------------

CONTACT = "contact words"
SELL = "selling words"
ADULT = "adult-content words"
SCAM = "scam words"
KEYWORD = "keyword"

CONTACT_WORDS: tuple[tuple[str, float], ...] = (
    # asking to add / move to a private channel
    ("加微", 0.55), ("加v", 0.55), ("加vx", 0.5), ("加wx", 0.6), ("加q", 0.5), ("加qq", 0.6), ("加扣", 0.6),
    ("加我微", 0.6), ("加微信", 0.6), ("加企鹅", 0.65), ("加好友", 0.2), ("加我", 0.3), ("家我", 0.3),
    ("加群", 0.3), ("进群", 0.25), ("进裙", 0.45), ("加裙", 0.45), ("入裙", 0.45),
    ("薇信", 0.55), ("威信", 0.5), ("徽信", 0.55), ("维信", 0.45), ("v信", 0.55), ("微x", 0.5), ("wei信", 0.5),
    ("vx号", 0.55), ("wx号", 0.55), ("微信号", 0.45), ("qq号", 0.45), ("扣号", 0.55), ("扣扣", 0.35), ("叩叩", 0.45),
    ("企鹅", 0.45), ("球球", 0.15), ("q群", 0.4), ("扣群", 0.5), ("抠群", 0.5), ("滴滴我", 0.45),
    ("伽微", 0.7), ("伽韦", 0.7), ("伽威", 0.7), ("伽徽", 0.7), ("伽喂", 0.7), ("迦威", 0.7), ("迦微", 0.7),
    ("佳喂", 0.7), ("佳微", 0.65), ("佳威", 0.65), ("嘉微", 0.6), ("夹微", 0.55), ("喂心", 0.65), ("卫星", 0.3),
    ("伽筘", 0.6), ("伽扣", 0.6), ("加叩", 0.6), ("加口", 0.45), ("家口", 0.45), ("夹口", 0.45), ("加冦", 0.6),
    ("蔲", 0.45), ("蔻", 0.45), ("寇", 0.2), ("釦", 0.45), ("筘", 0.45), ("冦", 0.45), ("窛", 0.45), ("滱", 0.45),
    ("口口", 0.35),
    ("看我名", 0.55), ("看名字", 0.4), ("看我头像", 0.5), ("看头像", 0.35), ("看我主页", 0.55), ("看主页", 0.4),
    ("看姐姐名字", 0.7), ("看妹妹名字", 0.7), ("看我茗", 0.7), ("名字加", 0.4), ("看名", 0.3), ("看我签名", 0.5),
    ("cc名字", 0.6), ("cc名", 0.5), ("c名", 0.5), ("名字家", 0.4), ("看姐名字", 0.65), ("看我的名字", 0.5),
    ("加飞机", 0.5), ("佳维", 0.65), ("加维", 0.55), ("要的加", 0.45), ("要的私", 0.45), ("需要的私", 0.5),
    ("有需要的", 0.25), ("懂的加", 0.5), ("懂得加", 0.5), ("懂的来", 0.4), ("私聊我", 0.5), ("私我", 0.5), ("私信我", 0.4), ("私聊", 0.35), ("私信", 0.3),
    ("联系我", 0.4), ("联系方式", 0.45), ("联系人", 0.35), ("联系", 0.2), ("找我", 0.2), ("来撩", 0.35),
    ("详情咨询", 0.45), ("备注来意", 0.45), ("咨询", 0.15), ("详谈", 0.35), ("洽谈", 0.3),
    ("微信", 0.3), ("vx", 0.3), ("wx", 0.25), ("qq", 0.3), ("频道", 0.25), ("主页", 0.2), ("电报", 0.2),
    ("飞机", 0.15), ("tg", 0.15), ("whatsapp", 0.35),
)

SELL_WORDS: tuple[tuple[str, float], ...] = (
    # accounts, traffic, bulk messaging
    ("出号", 0.45), ("收号", 0.45), ("卖号", 0.45), ("代发", 0.55), ("代拉", 0.45), ("拉人", 0.25),
    ("群发", 0.4), ("私发", 0.3), ("引流", 0.5), ("上粉", 0.55), ("精准粉", 0.55), ("僵尸粉", 0.6),
    ("协议号", 0.6), ("飞机号", 0.45), ("直登号", 0.6), ("接码", 0.3), ("养号", 0.4), ("各种粉", 0.5),
    ("股民粉", 0.55), ("超级签", 0.55), ("封装", 0.35), ("报毒", 0.45), ("防封", 0.4), ("群发软件", 0.55),
    # side jobs, money
    ("兼职", 0.4), ("日结", 0.5), ("刷单", 0.55), ("日赚", 0.55), ("月入", 0.4), ("日入", 0.45),
    ("赚钱", 0.25), ("赚米", 0.45), ("搞米", 0.45), ("项目", 0.15), ("无押金", 0.55), ("押金", 0.2),
    ("包教包会", 0.55), ("招代理", 0.55), ("代理", 0.2), ("返利", 0.4), ("佣金", 0.4), ("秒到", 0.35),
    ("提现", 0.2), ("招聘", 0.2), ("搬砖", 0.3), ("多劳多得", 0.4), ("上手简单", 0.4), ("操作简单", 0.35),
    # selling, prices
    ("出售", 0.35), ("低价", 0.35), ("高价收", 0.55), ("收购", 0.25), ("回收", 0.1), ("批发", 0.35),
    ("量大", 0.35), ("优惠", 0.2), ("价格", 0.15), ("点位", 0.45), ("汇率", 0.3), ("诚信", 0.3), ("实力", 0.2),
    ("来谈", 0.5), ("对接", 0.4), ("合作", 0.15), ("担保", 0.4), ("直押", 0.6), ("免费", 0.15), ("免费领取", 0.35),
    ("结账", 0.3), ("单价", 0.35), ("广告", 0.15), ("推广", 0.3), ("代购", 0.35), ("代充", 0.5),
    ("骗子勿扰", 0.5), ("中介勿扰", 0.4), ("勿扰", 0.15), ("折扣", 0.2), ("卡密", 0.45), ("核销", 0.4),
    # grey/black market
    ("出u", 0.5), ("收u", 0.5), ("白u", 0.45), ("黑u", 0.45), ("u商", 0.5), ("仿u", 0.5), ("假u", 0.5), ("下浮", 0.5), ("接料", 0.6),
    ("收料", 0.5), ("料子", 0.45), ("料主", 0.55), ("金主", 0.45), ("卡主", 0.5), ("卡商", 0.55), ("车队", 0.4),
    ("洗米", 0.6), ("洗咪", 0.55), ("卡接回", 0.65), ("咔接", 0.65), ("一道二道", 0.6), ("承接", 0.45),
    ("usdt", 0.4), ("银行卡", 0.3), ("收卡", 0.45), ("盾卡", 0.6), ("公户", 0.5), ("贷款", 0.35),
    ("黑户", 0.45), ("白户", 0.45), ("社工库", 0.5), ("开房", 0.35), ("户籍", 0.35), ("查询", 0.15),
    ("菠菜", 0.45), ("博彩", 0.45), ("棋牌", 0.3), ("跑分", 0.55), ("跑芬", 0.55), ("灰产", 0.5), ("黑资", 0.5),
    ("走私", 0.45), ("盘口", 0.4), ("投注", 0.4), ("泰达币", 0.4), ("一类卡", 0.5), ("信用咔", 0.5),
    ("普咔", 0.5), ("双押", 0.5), ("上押", 0.5), ("同台", 0.35), ("卸货", 0.4), ("躺赚", 0.55), ("暴利", 0.45),
    ("稳赚", 0.5), ("零投入", 0.5), ("0投入", 0.5), ("无需投入", 0.5), ("收徒", 0.4), ("有意向", 0.35),
    ("招商", 0.35), ("加盟", 0.25), ("分红", 0.25), ("橡木", 0.45), ("挂机", 0.2), ("卦机", 0.45),
    ("满月号", 0.55), ("成品号", 0.5), ("代开", 0.35), ("收益", 0.15), ("包邮", 0.25), ("全国包邮", 0.35),
    ("烟弹", 0.4), ("可刀", 0.3), ("秒结", 0.35), ("赚零花钱", 0.4), ("零花钱", 0.15),
)

ADULT_WORDS: tuple[tuple[str, float], ...] = (
    ("看片", 0.5), ("卖片", 0.7), ("买片", 0.5), ("麦片", 0.45), ("麦p", 0.55), ("麦饼", 0.5), ("黄片", 0.5),
    ("看篇", 0.6), ("买篇", 0.5), ("卖篇", 0.65), ("黄篇", 0.65), ("黄偏", 0.65), ("看拼", 0.5),
    ("片源", 0.45), ("禁片", 0.5), ("色情", 0.45), ("黄色", 0.25), ("成人", 0.2), ("裸聊", 0.4),
    ("果聊", 0.55), ("约炮", 0.55), ("同城", 0.3), ("上门", 0.3), ("楼凤", 0.6), ("外围", 0.35),
    ("少妇", 0.35), ("萝莉", 0.3), ("日批", 0.6), ("曰批", 0.65), ("操逼", 0.45), ("网站盘", 0.6),
    ("网址盘", 0.6), ("卖盘", 0.45), ("麦盘", 0.55), ("资源", 0.15), ("视频聊", 0.3), ("激情", 0.15), ("无码", 0.45),
    ("自慰", 0.3), ("av", 0.15), ("看妹", 0.3), ("网站", 0.15), ("网址", 0.25), ("全裸", 0.4), ("包爽", 0.4),
    ("卖网", 0.45),
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
    ("ringtone", 0.35), ("reply stop", 0.5), ("text stop", 0.5), ("150p", 0.5),
    ("contact my", 0.35), ("dm", 0.25), ("legit", 0.25), ("vip channel", 0.35), ("join our", 0.25),
    ("shill", 0.4), ("pump", 0.25), ("presale", 0.45), ("giveaway", 0.3),
    ("award", 0.3), ("awarded", 0.35), ("reward", 0.25), ("voucher", 0.3), ("unsubscribe", 0.3),
    ("opt out", 0.35), ("per min", 0.35), ("ppm", 0.45), ("dating", 0.25), ("singles", 0.3), ("horny", 0.35),
    ("xxx", 0.2), ("sexy", 0.2), ("freemsg", 0.5), ("free msg", 0.45), ("txts", 0.3), ("tcs", 0.3),
    ("po box", 0.3), ("landline", 0.2), ("mins", 0.1), ("stop to", 0.3), ("send stop", 0.45),
    # Russian stems (normalised like the text: Cyrillic look-alikes become Latin)
    ("заработ*", 0.4), ("подработ*", 0.4), ("доход*", 0.3), ("прибыл*", 0.3), ("пишите в лс", 0.5),
    ("пиши в лс", 0.5), ("в лс", 0.3), ("в личку", 0.35), ("удаленн*", 0.3), ("удалённ*", 0.3), ("крипт*", 0.3),
    ("инвест*", 0.3), ("ставк*", 0.25), ("прогноз*", 0.25), ("выигрыш*", 0.35), ("сотрудничеств*", 0.25),
    ("партнер*", 0.15), ("набира*", 0.2), ("в команду", 0.25), ("интим*", 0.4), ("обнаженн*", 0.45),
    ("голые", 0.4), ("эскорт*", 0.5), ("фальш*", 0.4), ("без опыта", 0.3), ("без вложений", 0.5),
    ("пассивн*", 0.35), ("арбитраж*", 0.35), ("трейдинг*", 0.25), ("в день", 0.2), ("в неделю", 0.2),
    ("в месяц", 0.15), ("подробност*", 0.2),
)

_TLDS = (
    "com|cn|net|org|cc|me|io|xyz|top|vip|info|co|app|site|shop|club|ru|tk|ml|ga|cf|gq|pw|link|live|online|"
    "store|tech|biz|us|uk|in|ly|gl|gg|tv|ws|su|ua|hk|tw|jp|win|bet|fun|icu|cyou|buzz|work|life|pro|mobi"
)

# ---------------------------------------------------------------------------
# Structural regexes (all linear). Lookbehinds are avoided at pattern starts
# (they disable the regex engine's fast scan); edges are checked in Python.
# ---------------------------------------------------------------------------

# 5+ digits with at most 3 separator characters between digits.
_NUMBER = re.compile(r"[0-9](?:[\W_]{0,3}[0-9]){4,}")
_ARITH = frozenset("+-*/x×~=:.,，—–")
_PHONE = re.compile(r"1[3-9][0-9]{9}")
_LETTERS_BEFORE = re.compile(r"[a-z]{1,6}[\s_\-]?$")
# Letters then 3-4 digits: "tuo442", "KMD255". Upper case (in the text as written) is the ad style.
# A QQ/WeChat word right before a number: "扣扣9315+8061", "QQ: 12-345-678" (then it is an id, not a sum).
_CONTACT_BEFORE = re.compile(r"(?:扣|口|叩|蔻|蔲|鹅|q|qq|v|vx|wx|微|威|薇)[\s:：=.\-]{0,2}$")
_UPPER_ID = re.compile(r"[A-Z]{2,5} ?[0-9]{3,4}(?![0-9A-Za-z])")
_YEAR = re.compile(r"(?<![0-9])(?:19|20)[0-9][0-9]$")
_LATIN_ID = re.compile(r"[a-z]{1,6}[\s_\-]?[0-9]{3,4}(?![0-9])")
_URL = re.compile(r"https?://[^\s]{1,200}|www\.[^\s]{1,200}")
_TG_LINK = re.compile(r"(?:t\.me|telegram\.me|wa\.me|chat\.whatsapp\.com)/(\+?)[^\s]{0,100}")
_DOMAIN = re.compile(rf"[a-z0-9][a-z0-9\-]{{1,30}}\.(?:{_TLDS})(?![a-z0-9])")
# "www点xyz88点com", "abc dot com": a link written so that link filters miss it.
_SPELLED_DOMAIN = re.compile(rf"[a-z0-9][a-z0-9\-]{{0,30}}\s?(?:点|dot|\(\.\)|\[\.\]|\(dot\)|\[dot\])\s?(?:{_TLDS})(?![a-z0-9])")
_HANDLE = re.compile(r"@[a-z][a-z0-9_]{3,31}(?![a-z0-9_])")
_MONEY = re.compile(r"[$£€]\s?[0-9]|[0-9]\s?(?:usdt|usd)\b|[0-9]\$")
# Random Latin tags stuck to both ends of a CJK text ("QZX看我名...看我名QPM", "bo实力车队...合作bo").
_TAG_HEAD = re.compile(r"[A-Za-z][A-Za-z0-9*]{1,4}(?=[\u3400-\u9fff])")
_TAG_TAIL = re.compile(r"(?<=[\u3400-\u9fff\W])[A-Za-z0-9*]{1,4}[A-Za-z*]\W{0,3}$")
# Characters that stand out in the original text when used to dodge filters.
_STYLED = re.compile(
    "[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a"  # full-width digits/letters
    "\U0001d400-\U0001d7ff"  # mathematical alphanumerics
    "\u24b6-\u24e9\u2776-\u2793\u24eb-\u24ff"  # circled letters, dingbat digits
    "\U0001f130-\U0001f189\U0001f1e6-\U0001f1ff"  # squared/negative letters, regional indicators
    "\u1d00-\u1d2b\u0250-\u02af₳₵₣₲₭₮₱₴₦]"  # small capitals, IPA letters, currency signs used as letters
)
# A symbol (not punctuation, not a letter/digit/CJK) between two word characters: "色❤单❤身".
_SCATTER = re.compile(r"\w[^\w\s,.!?;:'\"()\[\]，。！？、；：“”‘’（）《》【】…~～\-—+=/\\|*#%&^@]{1,2}(?=\w)")
# Single characters that, next to an id in a short message, say what it is: QQ (口/扣 and
# look-alikes, 企鹅), WeChat (威/喂/微/薇/伟/卫 ...), a phone, or what is on offer (片/篇/盘 ...).
_HINTS = re.compile("[口扣叩抠寇蔻蔲釦筘冦窛滱宼企鹅威喂微薇伟卫韦维徽胃信☎📞✆片篇偏拼盘逼批射插操裸奶乳爽骚嫩淫屄屌撸色qv]")
# "QQ：12345", "v: abc123", "微信：xx": a contact label followed by the contact.
_CONTACT_LABEL = re.compile(
    r"(?:qq|vx|wx|v|q|tg|微信号?|薇信|v信|扣扣|企鹅号?|飞机|电报|telegram|whatsapp|wechat)\s?[:：]\s?[a-z0-9@+]")
# "+口", "+v", "名字++": "+" standing for 加 (add me), next to a QQ/WeChat word or a name.
_PLUS_CONTACT = re.compile(r"\+[\W_]{0,3}(?:口|扣|蔻|蔲|q(?![a-z])|v(?![a-z])|威|喂|微|薇|企鹅)|(?:名字|名|茗)[\W_]{0,2}\+")
_NOT_DM = ("自私", "隐私", "走私", "无私", "公私", "营私", "徇私", "大公无私")
# English words that are not a contact-id prefix when a space separates them from the digits.
_NOT_ID_PREFIX = frozenset(
    "to on at or in is no me my we us it be do go so up of an am as by he hi if ok ur u for the and you are "
    "was get now won win has had our out per via box top age all any new one two see can call txt text from "
    "only just over last next this that with your than plus about week day days year min mins pay".split()
)
# "call 0800 123 456", "text WIN to 80082", "reply YES to 8001": a call to action with a number.
_CALL_TO_ACTION = re.compile(r"\b(?:call|txt|text|sms|send|reply|ring|dial)\b[^.!?\n]{0,30}?[0-9]{5,}")
# Rules text: "禁止发广告", "严禁色情", "请勿推广".
_RULES_GATE = re.compile("广告|推广|色情|引流|代发|赌")
_RULES_TEXT = re.compile("(?:禁止|严禁|请勿|谢绝|不允许|不准|拒绝|不得|不要)(?:发布?|打|做|私发|任何)?(?:广告|推广|引流|色情|赌|代发)")
_HAS_LATIN = re.compile(r"[a-z]")
_HAS_DIGIT = re.compile(r"[0-9]")
_HAS_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_LATIN_TOKEN = re.compile(r"[a-z0-9$£'\u0400-\u04ff]+")
_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyz")


def _is_cjk_entry(entry: str) -> bool:
    return any("\u2e80" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" for ch in entry)


class _Words:
    """All word families in a few matchers: one regex over the squeezed text for entries
    with CJK characters or short Latin tokens written into Chinese ("加v", "vx"); a token set
    for Latin words; one regex for Latin phrases ("dm me"), run only when a phrase's first
    word is present; one regex for word beginnings (Russian stems), run only on Cyrillic."""

    def __init__(self, families: Sequence[tuple[str, Sequence[tuple[str, float]]]]) -> None:
        self.squeezed: dict[str, tuple[str, float]] = {}
        self.words: dict[str, tuple[str, float]] = {}
        self.phrases: dict[str, tuple[str, float]] = {}
        self.stems: dict[str, tuple[str, float]] = {}
        for family, entries in families:
            for raw, w in entries:
                stem = raw.endswith("*")
                n = " ".join(normalize(raw[:-1] if stem else raw).split())
                if not n:
                    continue
                if stem:
                    target, key = self.stems, n
                elif _is_cjk_entry(n) or (family == CONTACT and n.isascii() and len(n) <= 3 and " " not in n):
                    target, key = self.squeezed, squeeze(n)
                elif " " in n:
                    target, key = self.phrases, n
                else:
                    target, key = self.words, n
                old = target.get(key)
                if old is None or old[1] < w:
                    target[key] = (family, w)
        # Entries whose first/last character is a Latin letter must not run into other letters.
        self.latin_edge = frozenset(k for k in self.squeezed if k[0] in _LETTERS or k[-1] in _LETTERS)
        # Entries with CJK only match a text with CJK; pure-ASCII ones ("vx", "qq") get a small regex
        # of their own, so that an English text doesn't pay for the whole Chinese list.
        self.squeezed_rx = _alternation([k for k in self.squeezed if not k.isascii()], "", "")
        self.ascii_rx = _alternation([k for k in self.squeezed if k.isascii()], "(?<![a-z])", "(?![a-z])")
        self.phrase_first = frozenset(k.split()[0] for k in self.phrases)
        self.phrases_rx = _alternation(self.phrases, r"(?<![a-z0-9])", r"(?![a-z0-9])")
        self.stems_rx = _alternation(self.stems, r"(?<!\w)", "")

    def hits(self, norm: str, squeezed: str, latin: bool) -> list[tuple[str, str, float]]:
        """[(family, entry, weight)], each entry once, in order of appearance per matcher.
        ``latin``: the text has Latin letters (else the Latin matchers are skipped)."""
        out: list[tuple[str, str, float]] = []
        if self.squeezed_rx is not None and not squeezed.isascii():
            found = self.squeezed_rx.findall(squeezed)
            if found:
                table, edge = self.squeezed, self.latin_edge
                for k in dict.fromkeys(found):
                    if k in edge and not _edges_ok(k, squeezed):
                        continue
                    fam, w = table[k]
                    out.append((fam, k, w))
        if self.ascii_rx is not None and latin:
            for k in dict.fromkeys(self.ascii_rx.findall(squeezed)):
                if out and any(k in h[1] for h in out):
                    continue  # "qq" inside "qq号": one word, counted once
                fam, w = self.squeezed[k]
                out.append((fam, k, w))
        cyrillic = not norm.isascii() and _HAS_CYRILLIC.search(norm) is not None
        if cyrillic and self.stems_rx is not None:
            for k in dict.fromkeys(self.stems_rx.findall(norm)):
                k = " ".join(k.split())
                fam, w = self.stems[k]
                out.append((fam, k + "…", w))
        if latin or cyrillic:
            toks = _LATIN_TOKEN.findall(norm)
            if toks:
                # Phrases first: "dm me" says more than "free".
                if self.phrases_rx is not None and not self.phrase_first.isdisjoint(toks):
                    for k in dict.fromkeys(self.phrases_rx.findall(norm)):
                        k = " ".join(k.split())
                        fam, w = self.phrases[k]
                        out.append((fam, k, w))
                words = self.words
                in_phrase = {w for h in out if " " in h[1] for w in h[1].split()}
                for t in dict.fromkeys(toks):
                    hit = words.get(t)
                    if hit is not None and t not in in_phrase:  # "dm" inside "dm me": counted once
                        out.append((hit[0], t, hit[1]))
        return out


def _alternation(keys: Iterable[str], before: str, after: str) -> re.Pattern[str] | None:
    """One regex for all ``keys`` (longest first; spaces match any whitespace), grouped by first
    character ("加(?:微信|微|v)|看(?:片|名)|..."): the regex engine tries the alternatives of a branch
    one by one, so at each position it now tries only the entries that start with that character
    (hits: ~2x faster). At a given position the longest entry still wins, as before."""
    ks = sorted(set(keys), key=len, reverse=True)
    if not ks:
        return None
    groups: dict[str, list[str]] = {}
    for k in ks:
        groups.setdefault(k[0], []).append(k[1:])

    def alt(rest: str) -> str:
        return r"\s+".join(map(re.escape, rest.split(" "))) if rest.strip() else re.escape(rest)

    branches = []
    for first, rests in groups.items():
        head = re.escape(first) if not first.isspace() else r"\s+"
        if rests == [""]:
            branches.append(head)
        else:
            branches.append(head + "(?:" + "|".join(alt(r) for r in rests) + ")")
    return re.compile(before + "(?:" + "|".join(branches) + ")" + after)


def _edges_ok(k: str, text: str) -> bool:
    """Some occurrence of ``k`` in ``text`` doesn't run into other Latin letters ("vx" in "xvxz")."""
    first, last = k[0] in _LETTERS, k[-1] in _LETTERS
    i = text.find(k)
    while i >= 0:
        e = i + len(k)
        if not (first and i and text[i - 1] in _LETTERS) and not (last and e < len(text) and text[e] in _LETTERS):
            return True
        i = text.find(k, i + 1)
    return False


# ---------------------------------------------------------------------------
# Scoring
# ---------------------------------------------------------------------------


def noisy_or(weights: Iterable[float]) -> float:
    keep = 1.0
    for w in weights:
        keep *= 1.0 - w
    return 1.0 - keep


def _number_kind(raw: str, digits: str, glued: bool = False) -> str | None:
    """Classify a digit run found in a message: "phone", "id" or None (an amount, a date,
    a time, a range, a sum, noise). ``glued``: letters stick to the first digit ("sx111 505")."""
    n = len(digits)
    if n < 5 or n > 11:
        return None
    if len(set(digits)) <= 2:  # 666666, 10000, 88888
        return None
    if n == 11 and _PHONE.fullmatch(digits):
        return "phone"
    if not glued and ((n <= 9 and digits.endswith("000")) or (n <= 6 and digits.endswith("00"))):
        return None  # round amounts
    if n == 8 and digits[:2] in ("19", "20") and "01" <= digits[4:6] <= "12" and "01" <= digits[6:8] <= "31":
        return None  # 20240131, 19900118: a date
    if raw != digits and not glued:
        groups = _NONWORD.split(raw)
        seps = set(raw) - _DIGITS_SET
        if seps <= _SPACES:
            if max(len(g) for g in groups) <= 3 and len(groups) < 5:
                return None  # "172 174 175": a list of numbers
        elif seps - _SPACES <= _ARITH and (
            (max(len(g) for g in groups) <= 2
             and not (len(groups) >= 5 and max(len(g) for g in groups) == 1 and len(seps - _SPACES) == 1))
            or (len(groups) <= 4 and max(len(g) for g in groups) <= 5)
        ):
            return None  # 1100-1200, 20400+3580, 2688*2+1388*3, 12:30:45, 17-19-21-22-24: ranges, sums, times
    return "id"


def _prefix_ok(token: str) -> bool:
    """Letters before an id's digits: "sx111505", "ks 90096" yes; "call 0800...", "to 80082" no."""
    if " " not in token and "-" not in token and "_" not in token:
        return True
    letters = token.rstrip("0123456789 -_").strip()
    return len(letters) <= 3 and letters not in _NOT_ID_PREFIX


_DIGITS_SET = frozenset("0123456789")
_SPACES = frozenset(" \t\n\u3000")


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
        user = [(k, keyword_weight) for k in keywords if k and k.strip()]
        self.words = _Words([(CONTACT, CONTACT_WORDS), (SELL, SELL_WORDS), (ADULT, ADULT_WORDS),
                             (SCAM, SCAM_WORDS)])
        self.user_words = _Words([(KEYWORD, user)]) if user else None
        self.user_regexes: list[tuple[str, re.Pattern[str]]] = []
        for i, src in enumerate(regexes):
            try:
                self.user_regexes.append((src, re.compile(src, re.IGNORECASE)))
            except re.error as e:
                raise ValueError(f"detectors.ad.regexes[{i}] {src!r} is not a valid regular expression: {e}") from None
        self.regex_weight = regex_weight
        allowed = sorted({normalize(a).strip() for a in allow if a and a.strip()}, key=len, reverse=True)
        self.allow = re.compile("|".join(re.escape(a) for a in allowed)) if allowed else None
        self.allow_ci = re.compile(self.allow.pattern, re.IGNORECASE) if allowed else None

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
        pre = _prenormalize(text)
        changed = pre is not text  # NFKC or the table changed something (styled letters live there)
        norm = _finish(pre)
        if self.allow is not None:
            norm = self.allow.sub(" ", norm)
            pre = self.allow_ci.sub(" ", pre)  # case-sensitive checks must not see allowed text either
        squeezed = _NONWORD.sub("", norm)
        signals: list[tuple[str, float]] = []
        add = signals.append
        reach = offer = False
        latin = _HAS_LATIN.search(norm) is not None
        digit = _HAS_DIGIT.search(norm) is not None

        # -- numbers and ids ------------------------------------------------
        id_kind = None
        id_span, id_text = (0, 0), norm
        if digit and len(squeezed) >= 4:
            # Digits inside links are paths and ids of the site, not contacts.
            plain = _URL.sub(" ", norm) if ("http" in norm or "www." in norm) else norm
            for m in _NUMBER.finditer(plain):
                start, end = m.span()
                if (start and plain[start - 1] in _DIGITS_SET) or (end < len(plain) and plain[end] in _DIGITS_SET):
                    continue
                raw = m.group()
                digits = _NONWORD.sub("", raw)
                prefix = _LETTERS_BEFORE.search(plain, max(0, start - 7), start) if start else None
                if prefix is not None:
                    if (prefix.start() and plain[prefix.start() - 1] in _LETTERS) or not _prefix_ok(prefix.group()):
                        prefix = None
                    elif end < len(plain) and plain[end] in _LETTERS:
                        continue  # letters on both sides: a hash, a serial, a licence key
                glued = (prefix is not None and plain[start - 1] in _LETTERS) or (
                    _CONTACT_BEFORE.search(plain, max(0, start - 4), start) is not None)
                kind = _number_kind(raw, digits, glued)
                if kind is None:
                    continue
                if kind == "phone":
                    add((f"phone number {raw}", 0.6))
                elif prefix is not None:
                    add((f"contact id {prefix.group()}{raw}", 0.5 if len(digits) >= 8 else 0.45))
                else:
                    n = len(digits)
                    add((f"contact number {raw}", 0.5 if n >= 8 else 0.35 if n >= 6 else 0.2))
                if raw != digits and not (set(raw) - _DIGITS_SET) <= _SPACES | _ARITH:
                    add(("number broken up with symbols", 0.3))
                id_kind, id_span, id_text = kind, (start, end), plain
                break
            if id_kind is None and latin:
                m = _UPPER_ID.search(pre)
                if m is not None and (
                    (m.start() and pre[m.start() - 1].isascii() and pre[m.start() - 1].isalnum())
                    or not _prefix_ok(m.group().lower())
                    or _YEAR.search(m.group()) is not None
                ):
                    m = None
                if m is not None:
                    # Product models mostly end in 0 (GTX1060, MX500, KTV300); random ad ids rarely do.
                    add((f"id-like code {m.group()}", 0.3 if m.group().endswith("0") else 0.55))
                    id_kind, id_span, id_text = "code", m.span(), pre
                else:
                    m = _LATIN_ID.search(plain)
                    if m is not None and (
                        (m.start() and plain[m.start() - 1] in _ALNUM) or not _prefix_ok(m.group())
                    ):
                        m = None
                    if m is not None and len(set(m.group()[-3:])) > 1:
                        letters = sum(1 for ch in m.group() if ch in _LETTERS)
                        add((f"WeChat-style id {m.group()}", 0.3 if letters >= 2 else 0.15))
                        id_kind, id_span, id_text = "latin", m.span(), plain
            if latin and ("call" in norm or "txt" in norm or "text" in norm or "send" in norm or "reply" in norm):
                m = _CALL_TO_ACTION.search(plain)
                if m is not None:
                    reach = True
                    add((f"call to action: {m.group()[:40]}", 0.35))
        if id_kind is not None:
            reach = True
            if len(squeezed) <= 12:
                add(("message is little more than a contact id", 0.35))
            if len(squeezed) <= 24:
                lo, hi = id_span
                hints = set(_HINTS.findall(id_text, max(0, lo - HINT_WINDOW), hi + HINT_WINDOW))
                if hints:
                    add((f"contact/adult slang next to the id: {''.join(sorted(hints))}", 0.45 if len(hints) == 1 else 0.55))

        # -- words ------------------------------------------------------------
        hits = self.words.hits(norm, squeezed, latin)
        if hits and _RULES_GATE.search(squeezed) is not None and _RULES_TEXT.search(squeezed) is not None:
            # A group's rules ("禁止广告、色情") name what they forbid: those words are no evidence.
            hits = [h for h in hits if h[0] == CONTACT]
        if hits:
            fams: dict[str, list[tuple[str, float]]] = {}
            for fam, k, w in hits:
                lst = fams.setdefault(fam, [])
                if len(lst) < MAX_HITS:
                    lst.append((k, w))
            for fam, lst in fams.items():
                add((f"{fam}: {', '.join(k for k, _ in lst)}", noisy_or(w for _, w in lst)))
                if fam == CONTACT:
                    reach = True
                else:
                    offer = True
            k = hits[0][1]
            if len(k) >= 2:
                count = squeezed.count(k) if not k.isascii() or " " not in k else norm.count(k)
                if count >= 3:
                    add((f"'{k}' repeated {count} times", 0.3))

        if ":" in norm or "：" in norm:
            m = _CONTACT_LABEL.search(norm)
            if m is not None and not (m.start() and norm[m.start() - 1] in _LETTERS):
                reach = True
                add((f"contact label {m.group()}", 0.45))
        if "+" in norm:
            m = _PLUS_CONTACT.search(norm)
            if m is not None:
                reach = True
                add((f"'{m.group()}' (add me on QQ/WeChat)", 0.45))
        if squeezed.endswith("私") and not squeezed.endswith(_NOT_DM):
            reach = True
            add(("ends with 私 (message me privately)", 0.35))

        # -- links and handles ----------------------------------------------------
        if latin and "." in norm:
            m = _TG_LINK.search(norm)
            if m is not None:
                reach = True
                add((f"invite link {m.group()[:60]}", 0.7 if m.group(1) else 0.5))
            else:
                m = _URL.search(norm) or _DOMAIN.search(norm)
                if m is not None:
                    reach = True
                    add((f"link {m.group()[:60]}", 0.4))
        if ("点" in norm or "dot" in norm) and latin:
            m = _SPELLED_DOMAIN.search(norm)
            if m is not None:
                reach = True
                add((f"link with the dot spelled out: {m.group()[:60]}", 0.5))
        if latin and "@" in norm:
            m = _HANDLE.search(norm)
            if m is not None and not (m.start() and norm[m.start() - 1] in _ALNUM):
                reach = True
                add((f"handle {m.group()}", 0.3))
        if "$" in norm or "£" in norm or "€" in norm or "usd" in norm:
            m = _MONEY.search(norm)
            if m is not None:
                offer = True
                add((f"money amount {m.group()}", 0.15))

        # -- filter evasion in the text as written -------------------------------
        if not pre.isascii():
            if changed and len(_STYLED.findall(text, 0, MAX_CHARS)) >= 2:
                add(("styled/full-width letters (filter evasion)", 0.4))
            if len(norm) - len(squeezed) >= 3 and len(_SCATTER.findall(norm)) >= 3:
                add(("symbols scattered between characters (filter evasion)", 0.3))
            if (latin and len(squeezed) >= 8 and _TAG_HEAD.match(pre) is not None
                    and _TAG_TAIL.search(pre) is not None):
                add(("random tags around the text (evades duplicate filters)", 0.35))

        if reach and offer:
            add(("an offer plus a way to reach the sender", 0.35))

        # -- configured words and patterns -----------------------------------------
        if self.user_words is not None:
            for _, k, w in self.user_words.hits(norm, squeezed, latin):
                add((f"keyword {k}", w))
        for src, rx in self.user_regexes:
            if rx.search(norm) is not None:
                add((f"pattern {src}", self.regex_weight))

        if not signals:
            return Analysis(norm, squeezed, 0.0, signals)
        return Analysis(norm, squeezed, noisy_or(w for _, w in signals), signals)
