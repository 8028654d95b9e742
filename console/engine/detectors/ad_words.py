"""The ``ad`` detector's word lists (entry, weight) and the matcher that finds them in a message.

Entries are normalised at import time with the messages' own normaliser, so an entry written in
plain Chinese/English/Russian also matches its obfuscated forms (full-width, math letters,
Cyrillic look-alikes, traditional characters, spaced out with symbols).
"""
from __future__ import annotations

import re
from typing import Iterable, Sequence

from console.engine.detectors.ad_normalize import normalize, squeeze

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

_HAS_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_LATIN_TOKEN = re.compile(r"[a-z0-9$£'\u0400-\u04ff]+")
_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyz")
_NO_WORDS: frozenset[str] = frozenset()


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
        # The few ASCII entries ("vx", "qq") as plain literals: it can only match where one is, and without the
        # lookbehind the regex engine skips ahead to them (half the time of the matcher on a text with none).
        ascii_keys = sorted(k for k in self.squeezed if k.isascii())
        self.ascii_any = re.compile("|".join(map(re.escape, ascii_keys))).search if ascii_keys else None
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
        if self.ascii_any is not None and latin and self.ascii_any(squeezed) is not None:
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
                in_phrase: set[str] | frozenset[str] = _NO_WORDS
                if self.phrases_rx is not None and not self.phrase_first.isdisjoint(toks):
                    for k in dict.fromkeys(self.phrases_rx.findall(norm)):
                        k = " ".join(k.split())
                        fam, w = self.phrases[k]
                        out.append((fam, k, w))
                    in_phrase = {w for h in out if " " in h[1] for w in h[1].split()}
                words = self.words
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
