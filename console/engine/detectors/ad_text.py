"""Rule signals for the ``ad`` detector: what :meth:`AdRules.analyze` sees in a message.

This is the hot path: every message of every watched group goes through it. The text is first
normalised (:mod:`~console.engine.detectors.ad_normalize`), then::

    norm --allow list--> norm         configured safe substrings removed
    norm --squeeze----> squeezed      only letters/digits/CJK: "加 - 微" -> "加微"
    norm, squeezed --signals--> [(reason, weight)] --noisy-or--> score 0..1

The word lists and their matcher are :mod:`~console.engine.detectors.ad_words`; here are the
structural regexes (numbers, ids, links, handles, filter evasion), all linear in the text length.
:meth:`AdRules.analyze_many` gives the same analyses for many messages, normalised together.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import repeat
from typing import Iterable, Sequence

from console.engine.detectors.ad_normalize import (MAX_CHARS, _NONWORD, _finish, _prenormalize, normalize, skeleton,
                                                   skeleton_of_squeezed, squeeze)
from console.engine.detectors.ad_words import (_ALNUM, _LETTERS, ADULT, ADULT_WORDS, CONTACT,
                                               CONTACT_WORDS, KEYWORD, SCAM, SCAM_WORDS, SELL, SELL_WORDS, _Words)

MAX_HITS = 4
"""A word family counts at most this many distinct hits (long texts don't snowball)."""

HINT_WINDOW = 6
"""Characters either side of an id searched for contact/adult slang ("口", "威", "片")."""

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


_BATCH_MIN = 8
"""Fewer texts than this are analysed one by one."""
_BATCH_SEPS = ("\x00", "\x01", "\x02")
"""Between texts while they are normalised together: control characters that are not whitespace, not
cased, not letters or digits; the first that no text holds (if every one is held: one by one)."""
# What any rule looks for in the normalised text, besides listed words (the squeezed text), a final 私
# and filter evasion: Latin letters (ids, links, handles, words, "dot"), Cyrillic (stems), ":" (contact
# labels), "+" (add me), currency signs, and a number of 5 digits or more (with no Latin letter, the only
# rule that reads digits is the number one: ids of 3-4 digits need letters, amounts a currency).
_LOUD = re.compile("[a-z:：+$£€\u0400-\u04ff]|" + _NUMBER.pattern)


def _nothing(_: str) -> None:
    return None


def _evasive(text: str, prenorm: str, norm: str, squeezed: str) -> bool:
    """Whether a text might carry a filter-evasion signal (styled letters, scattered symbols)."""
    return ((prenorm != text[:MAX_CHARS] and _STYLED.search(text, 0, MAX_CHARS) is not None)
            or (len(norm) - len(squeezed) >= 3 and len(_SCATTER.findall(norm)) >= 3))


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
        raw = pre = _prenormalize(text)
        norm = _finish(pre)
        if self.allow is not None:
            norm = self.allow.sub(" ", norm)
            pre = self.allow_ci.sub(" ", pre)  # case-sensitive checks must not see allowed text either
        return self._signals(text, raw, pre, norm, _NONWORD.sub("", norm))

    def analyze_many(self, texts: Sequence[str]) -> list[Analysis]:
        """:meth:`analyze` of each text, the same analyses, for many texts at once: they are normalised
        together (a few passes over all of them instead of a dozen calls for each; ``tests/test_ad_batch.py``
        checks that it changes nothing), and a text with nothing any rule looks for (no digit, Latin or
        Cyrillic letter, no ":+$", no listed word, no sign of filter evasion) is known to score 0 at once."""
        n = len(texts)
        if n < _BATCH_MIN:
            return [self.analyze(t) for t in texts]
        # lower() and the Chinese-numeral runs work character by character or within runs that never
        # cross the separator (uncased, not a numeral separator): finishing the texts joined finishes each.
        # NFKC and the look-alike table stay per text: on one long string, NFKC's quick check fails at the
        # first text that needs it and the rest is normalised the slow way.
        raws = list(map(_prenormalize, texts))
        for sep in _BATCH_SEPS:
            joined = sep.join(raws)
            if joined.count(sep) == n - 1:
                break
        else:
            return [self.analyze(t) for t in texts]
        norm_all = _finish(joined)
        if self.allow is not None:
            norm_all = self.allow.sub(" ", norm_all)
            joined = self.allow_ci.sub(" ", joined)
        pres = joined.split(sep) if self.allow is not None else raws
        norms = norm_all.split(sep)
        if len(norms) != n or len(pres) != n:  # an allowed text held the separator after all: one by one
            return [self.analyze(t) for t in texts]
        squeezeds = list(map(_NONWORD.sub, repeat(""), norms))
        loud = map(_LOUD.search, norms)
        words = self.words.squeezed_rx.search if self.words.squeezed_rx is not None else _nothing
        signals = self._signals
        configured = self.user_words is not None or bool(self.user_regexes)
        out = []
        for text, raw, pre, norm, squeezed, louder in zip(texts, raws, pres, norms, squeezeds, loud):
            if (louder is None and not squeezed.endswith("私") and (squeezed.isascii() or words(squeezed) is None)
                    and (pre.isascii() or not _evasive(text, raw, norm, squeezed))
                    and not (configured and self._configured_hit(norm, squeezed))):
                out.append(Analysis(norm, squeezed, 0.0, []))
            else:
                out.append(signals(text, raw, pre, norm, squeezed))
        return out

    def _configured_hit(self, norm: str, squeezed: str) -> bool:
        """Whether a configured word or pattern is in a text with no Latin letter (a quiet one)."""
        if self.user_words is not None and self.user_words.hits(norm, squeezed, False):
            return True
        return any(rx.search(norm) is not None for _, rx in self.user_regexes)

    def _signals(self, text: str, prenorm: str, pre: str, norm: str, squeezed: str) -> Analysis:
        """The analysis of ``text``; ``prenorm``: its prenormalised form, ``pre`` that with the allowed text out."""
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
                keep = 1.0  # noisy_or, inline (the same arithmetic)
                for _, w in lst:
                    keep *= 1.0 - w
                add((f"{fam}: {', '.join(k for k, _ in lst)}", 1.0 - keep))
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
            # NFKC or the table changed something (styled letters live there)
            if prenorm != text[:MAX_CHARS] and len(_STYLED.findall(text, 0, MAX_CHARS)) >= 2:
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


# Re-exported: the detector, the policies, tools and tests import them from here.
__all__ = ["ADULT", "CONTACT", "KEYWORD", "MAX_CHARS", "SCAM", "SELL", "AdRules", "Analysis", "noisy_or", "normalize",
           "skeleton", "skeleton_of_squeezed", "squeeze"]
