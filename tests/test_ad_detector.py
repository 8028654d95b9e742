"""The rule-based ``ad`` detector: normalisation, signals, settings, newcomers, repeats, the scorer seam.

Every example is hand-made here: the tests never read the development data sets.
"""
from __future__ import annotations

import time

import pytest

from connectors.events import Join, Leave, Message
from console.engine.detectors.ad import AdDetector, AdScorer
from console.engine.detectors.ad_text import MAX_CHARS, AdRules, noisy_or, normalize, skeleton, squeeze
from console.engine.detectors.base import Context, Finding, Severity
from console.engine.settings import AdSettings
from console.engine.stats import FleetStats

T0 = 1_700_000_000.0
HOUR = 3600.0

# Ordinary chat that must never raise an ad alert.
HAM = [
    "大家早上好",
    "今天天气不错，出去玩吗？",
    "明天 10:30 开会，别迟到",
    "价格在1100-1200之间，不算贵",
    "这个手机3999买的，还不错",
    "我们下周去北京玩，一共三五个人",
    "晚上吃火锅吗，人均100左右",
    "2024年1月31日之前交作业",
    "新手求问这个怎么设置",
    "哈哈哈哈哈哈哈哈",
    "172 174 175 这几个尺码都有",
    "https://github.com/foo/bar 这个库挺好用",
    "@alice 谢谢你",
    "Good morning everyone!",
    "Can someone help me with the python install?",
    "The meeting is at 3pm in room 204, see you there",
    "I'll send you the file tomorrow, ok?",
    "我的QQ号忘了怎么办",
]


def rules(**kw) -> AdRules:
    return AdRules(**kw)


def reasons_of(text: str, **kw) -> tuple[str, ...]:
    return rules(**kw).analyze(text).reasons


def has(reasons: tuple[str, ...], fragment: str) -> bool:
    return any(fragment in r for r in reasons)


class Fleet:
    """A tiny fleet: stats are updated before the detector sees each event, like the engine does."""

    def __init__(self, settings: AdSettings | None = None, scorer: AdScorer | None = None) -> None:
        self.stats = FleetStats()
        self.det = AdDetector(settings or AdSettings(), scorer)
        self.n = 0

    def join(self, group: str, member: str, at: float) -> None:
        ev = Join(group=group, member=member, member_name=member, at=at)
        self.stats.apply(ev)
        assert list(self.det.on_event(ev, Context(self.stats, at))) == []

    def say(self, group: str, member: str, text: str, at: float) -> list[Finding]:
        self.n += 1
        ev = Message(group=group, sender=member, sender_name=member, text=text, at=at, id=f"m{self.n}")
        self.stats.apply(ev)
        return list(self.det.on_event(ev, Context(self.stats, at)))


# ---------------------------------------------------------------------------
# normalize / skeleton
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("ＱＱ１２３", "qq123"),  # full-width
        ("①②③", "123"),  # circled
        ("❶➋⓿⓫", "12011"),  # dingbat / negative circled
        ("1️⃣2️⃣3️⃣", "123"),  # keycaps: digit + U+FE0F + U+20E3
        ("𝕊𝕂𝔼 𝐇𝕌𝐗", "ske hux"),  # mathematical alphanumerics
        ("🇰🇺🇨763", "kuc763"),  # regional indicators
        ("сrурtо", "crypto"),  # Cyrillic look-alikes
        ("ΒΤС", "btc"),  # Greek + Cyrillic look-alikes
        ("加\u200b微\u200d信\u2060", "加微信"),  # zero-width characters
        ("\u202eabc\u202c", "abc"),  # bidi override
        ("HeLLo", "hello"),
        ("聯繫我", "联系我"),  # traditional -> simplified for matching
    ],
)
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_chinese_numerals_become_digits_only_in_id_length_runs() -> None:
    assert normalize("幺五八七九九六二三七四") == "15879962374"
    assert normalize("加我 一五八 七九九六 二三七四") == "加我 158 7996 2374"
    assert normalize("壹贰叁肆伍陆") == "123456"
    assert normalize("一个人") == "一个人"
    assert normalize("三五个人") == "三五个人"
    assert normalize("一二三四") == "一二三四"  # 4 numerals: not an id
    assert normalize("第一二三四五名") == "第12345名"  # 5: an id-length run


def test_normalize_looks_at_max_chars_only() -> None:
    assert len(normalize("a" * (MAX_CHARS + 500))) == MAX_CHARS
    assert len(normalize("加" * (MAX_CHARS + 500))) == MAX_CHARS


def test_skeleton_joins_small_variations_and_keeps_different_texts_apart() -> None:
    assert skeleton(normalize("加我 看片 123456!!")) == skeleton(normalize("加我看片，654321"))
    assert skeleton(normalize("迦威 sx111 505，有囊人想要的 yt")) == skeleton(normalize("迦威 sx111 505，有囊人想要的 vr"))
    assert skeleton(normalize("Ｆｒｅｅ  crypto signals 😀😀")) == skeleton(normalize("free crypto signals"))
    assert skeleton(normalize("明天下午三点开会")) != skeleton(normalize("明天上午三点开会"))
    assert skeleton(normalize("哈哈")) == "哈哈"


def test_squeeze_drops_separators() -> None:
    assert squeeze(normalize("加 - 微 ++ 信")) == "加微信"


def test_noisy_or() -> None:
    assert noisy_or([]) == 0.0
    assert noisy_or([0.5]) == 0.5
    assert noisy_or([0.5, 0.5]) == pytest.approx(0.75)
    assert noisy_or([1.0, 0.2]) == 1.0


# ---------------------------------------------------------------------------
# signals
# ---------------------------------------------------------------------------


def test_contact_number_split_by_symbols() -> None:
    r = reasons_of("看女全部Q群~366^292555免费")
    assert has(r, "contact number 366^292555")
    assert has(r, "number broken up with symbols")


def test_phone_number_split_by_spaces() -> None:
    r = reasons_of("莉 158 7996 2374")
    assert has(r, "phone number 158 7996 2374")


def test_phone_number_in_chinese_numerals() -> None:
    assert has(reasons_of("加我 幺五八 七九九六 二三七四"), "phone number")


def test_amounts_dates_times_and_ranges_are_not_contact_numbers() -> None:
    for text in ("8000万加15000", "1100-1200", "12:30:45", "20240131", "17-19-21-22-24", "666666", "100000"):
        r = reasons_of(text)
        assert not has(r, "contact number") and not has(r, "phone number"), (text, r)


def test_wechat_style_ids() -> None:
    assert has(reasons_of("加威号tuo442来看"), "WeChat-style id tuo442")
    assert has(reasons_of("伽韦 sx111 505"), "contact id sx111 505")
    assert has(reasons_of("FTA675 好看"), "id-like code FTA675")


def test_contact_keywords_and_obfuscated_variants() -> None:
    for text, word in [("加v看片", "加v"), ("薇信聊", "薇信"), ("加 - 微", "加微"), ("扣号多少", "扣号"),
                       ("私我", "私我"), ("看我名字", "看我名"), ("加企++鹅", "加企鹅"), ("ｖ信", "v信")]:
        r = reasons_of(text)
        assert has(r, "contact words") and has(r, word), (text, r)


def test_selling_words() -> None:
    r = reasons_of("出号，日结，低价代发")
    assert has(r, "selling words") and has(r, "出号") and has(r, "日结") and has(r, "代发")


def test_links_and_handles() -> None:
    assert has(reasons_of("进群 https://t.me/+abcDEF123"), "invite link t.me/+abcdef123")
    assert has(reasons_of("wa.me/15551234567"), "invite link")
    assert has(reasons_of("看 www.example.xyz"), "link www.example.xyz")
    assert has(reasons_of("去 spam-site.top 看"), "link spam-site.top")
    assert has(reasons_of("联系 @spam_handle"), "handle @spam_handle")


def test_links_with_the_dot_spelled_out() -> None:
    assert has(reasons_of("免费领取皮肤 www点freegift点com"), "link with the dot spelled out")
    assert not has(reasons_of("我们一点半见"), "link")


def test_ids_in_chinese_numerals_glued_to_letters_and_numbers_after_contact_words() -> None:
    assert normalize("+VPZM三〇贰") == "+vpzm302"
    assert normalize("我有三个") == "我有三个"
    # "9315+8061" alone looks like a sum; right after 扣扣 it is a QQ number split up.
    assert not has(reasons_of("9315+8061"), "contact number")
    assert has(reasons_of("扣扣9315+8061"), "contact number 9315+8061")


def test_english_scam_vocabulary() -> None:
    r = reasons_of("DM me for crypto signals, 100% profit guaranteed")
    assert has(r, "scam words") and has(r, "crypto") and has(r, "dm me")
    assert rules().analyze("DM me for crypto signals, 100% profit guaranteed").score >= 0.7


def test_emoji_and_styled_letters_used_to_dodge_filters() -> None:
    assert has(reasons_of("色❤单❤身❤男❤懂"), "symbols scattered")
    assert has(reasons_of("𝐇𝕌𝐗457超好看"), "styled/full-width letters")
    assert not has(reasons_of("哈哈😂😂😂"), "symbols scattered")


def test_group_rules_naming_forbidden_things_are_not_evidence() -> None:
    r = reasons_of("欢迎新人，本群禁止广告、色情、代发，违者踢出")
    assert not has(r, "selling words") and not has(r, "adult-content words")


def test_signals_combine_into_a_score() -> None:
    a = rules().analyze("加v看片")
    assert 0.0 < a.score <= 1.0
    assert a.score == pytest.approx(noisy_or(w for _, w in a.signals))
    assert rules().analyze("今天天气不错").score == 0.0


@pytest.mark.parametrize("text", HAM)
def test_ordinary_chat_is_not_flagged(text: str) -> None:
    assert rules().analyze(text).score < AdSettings().threshold
    f = Fleet()
    assert f.say("qq:1", "qq:2", text, T0) == []


@pytest.mark.parametrize(
    "text",
    [
        "加v看片，日结",
        "看女全部Q群~366^292555免费",
        "出号，收号，低价代发，私聊我",
        "伽韦 sx111 505，有人想要的",
        "𝐇𝕌𝐗457超好看",
        "高清无码 https://t.me/+abcDEF123",
        "DM me for crypto signals, 100% profit guaranteed",
    ],
)
def test_typical_ads_are_flagged(text: str) -> None:
    f = Fleet()
    out = f.say("qq:1", "qq:2", text, T0)
    assert len(out) == 1 and out[0].kind == "ad"


# ---------------------------------------------------------------------------
# settings: keywords, regexes, allow lists, thresholds
# ---------------------------------------------------------------------------


def test_config_keywords_are_matched_after_normalisation() -> None:
    r = rules(keywords=["团购", "zzqx", "free money"], keyword_weight=0.5)
    assert has(r.analyze("我们 团 - 购 吧").reasons, "keyword 团购")
    assert has(r.analyze("今天 ＺＺＱＸ 天气").reasons, "keyword zzqx")
    assert has(r.analyze("get FREE   money now").reasons, "keyword free money")
    assert r.analyze("我们团购吧").score == pytest.approx(0.5)
    assert rules().analyze("我们团购吧").score == 0.0  # not a built-in word


def test_config_regexes_are_matched_on_the_normalised_text() -> None:
    r = rules(regexes=[r"zz+q"], regex_weight=0.6)
    a = r.analyze("see ZZZQ today")  # case-insensitive
    assert a.reasons == ("pattern zz+q",) and a.score == pytest.approx(0.6)
    assert has(r.analyze("see ＺＺＱ today").reasons, "pattern zz+q")  # full-width, normalised
    assert r.analyze("see zq today").score == 0.0


def test_invalid_config_regex_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="regexes"):
        AdDetector(AdSettings(regexes=["(unclosed"]))


def test_allow_list_substrings_are_no_evidence() -> None:
    text = "进群 https://t.me/+ourGroup123"
    assert has(reasons_of(text), "invite link")
    r = reasons_of(text, allow=["t.me/+ourgroup123"])
    assert not has(r, "invite link") and not has(r, "link")
    # The allow entry is normalised too (full-width, case).
    assert not has(reasons_of("加群 ＱＱ群 123456789", allow=["QQ群 123456789"]), "contact number")


def test_allow_members_are_never_flagged() -> None:
    s = AdSettings(allow_members=["qq:admin"])
    f = Fleet(s)
    assert f.say("qq:1", "qq:admin", "加v看片，日结，出号", T0) == []
    assert len(f.say("qq:1", "qq:other", "加v看片，日结，出号", T0 + 1)) == 1


def test_allow_members_copies_do_not_count_towards_a_repeat() -> None:
    s = AdSettings(allow_members=["qq:admin"])
    f = Fleet(s)
    text = "本周六晚八点群内直播，记得准时来看"
    for i in range(3):
        assert f.say(f"qq:g{i}", "qq:admin", text, T0 + i) == []


def test_threshold_edges() -> None:
    # A single configured keyword is the only signal, so the score is exactly its weight.
    at = Fleet(AdSettings(threshold=0.5, keywords=["团购"], keyword_weight=0.5))
    assert len(at.say("qq:1", "qq:2", "我们团购吧", T0)) == 1
    below = Fleet(AdSettings(threshold=0.5, keywords=["团购"], keyword_weight=0.49))
    assert below.say("qq:1", "qq:2", "我们团购吧", T0) == []


def test_severity_follows_high_threshold() -> None:
    s = AdSettings(threshold=0.5, high_threshold=0.9, keywords=["团购"], keyword_weight=0.6)
    (medium,) = Fleet(s).say("qq:1", "qq:2", "我们团购吧", T0)
    assert medium.severity == Severity.MEDIUM
    (high,) = Fleet(s).say("qq:1", "qq:2", "看女全部Q群~366^292555免费，私聊我，加v", T0)
    assert high.score >= 0.9 and high.severity == Severity.HIGH


def test_disabled_detector_reports_nothing() -> None:
    assert Fleet(AdSettings(enabled=False)).say("qq:1", "qq:2", "加v看片，日结，出号", T0) == []


# ---------------------------------------------------------------------------
# findings
# ---------------------------------------------------------------------------


def test_finding_fields() -> None:
    text = "ＦＴＡ６７５ 加v看片 " + "很" * 300
    (f,) = Fleet().say("qq:g1", "qq:u1", text, T0)
    assert f.kind == "ad" and f.group == "qq:g1" and f.member == "qq:u1" and f.at == T0
    assert f.message_id == "m1"
    assert f.excerpt == text[:200]  # the original text, not the normalised one
    assert f.excerpt.startswith("ＦＴＡ６７５")
    assert f.score == round(f.score, 3) and f.numbers["score"] == f.score
    assert f.reasons and all(isinstance(r, str) and r for r in f.reasons)
    assert "groups" not in f.numbers


def test_only_messages_are_looked_at() -> None:
    f = Fleet()
    det, ctx = f.det, Context(f.stats, T0)
    assert list(det.on_event(Join(group="qq:1", member="qq:2", member_name="加v看片", at=T0), ctx)) == []
    assert list(det.on_event(Leave(group="qq:1", member="qq:2", at=T0), ctx)) == []
    assert list(det.on_tick(ctx)) == []


def test_empty_message_is_not_flagged() -> None:
    assert Fleet().say("qq:1", "qq:2", "", T0) == []


# ---------------------------------------------------------------------------
# newcomers
# ---------------------------------------------------------------------------

NEWCOMER = AdSettings(threshold=0.7, newcomer_boost=0.15, newcomer_hours=72, newcomer_messages=3,
                      keywords=["团购"], keyword_weight=0.6)


def test_newcomer_first_messages_weigh_more() -> None:
    f = Fleet(NEWCOMER)
    f.join("qq:1", "qq:new", T0)
    (finding,) = f.say("qq:1", "qq:new", "我们团购吧", T0 + HOUR)
    assert finding.score == pytest.approx(0.75)
    assert has(finding.reasons, "newcomer: joined 60 min ago, message 1")


def test_no_boost_for_old_members_or_later_messages() -> None:
    old = Fleet(NEWCOMER)
    old.join("qq:1", "qq:old", T0)
    assert old.say("qq:1", "qq:old", "我们团购吧", T0 + 73 * HOUR) == []  # joined too long ago

    chatty = Fleet(NEWCOMER)
    chatty.join("qq:1", "qq:new", T0)
    for i in range(3):
        chatty.say("qq:1", "qq:new", f"大家好，我是新来的{i}", T0 + i)
    assert chatty.say("qq:1", "qq:new", "我们团购吧", T0 + 10) == []  # 4th message

    unknown = Fleet(NEWCOMER)  # never saw the join: not known to be a newcomer
    assert unknown.say("qq:1", "qq:who", "我们团购吧", T0) == []


def test_newcomer_boost_needs_a_content_signal() -> None:
    s = AdSettings(threshold=0.1, newcomer_boost=0.5)
    f = Fleet(s)
    f.join("qq:1", "qq:new", T0)
    assert f.say("qq:1", "qq:new", "hi 大家好", T0 + 60) == []
    assert f.say("qq:1", "qq:new", "请问群主在吗", T0 + 120) == []


def test_rejoin_makes_a_newcomer_again() -> None:
    f = Fleet(NEWCOMER)
    f.join("qq:1", "qq:x", T0)
    for i in range(5):
        f.say("qq:1", "qq:x", f"聊天{i}", T0 + i)
    f.join("qq:1", "qq:x", T0 + 100)
    assert len(f.say("qq:1", "qq:x", "我们团购吧", T0 + 200)) == 1


# ---------------------------------------------------------------------------
# cross-group repeats
# ---------------------------------------------------------------------------

REPEAT = AdSettings(repeat_groups=3, repeat_window_s=900, repeat_min_chars=8, repeat_alone_min_chars=8)
PLAIN = "明天下午三点开会大家记得准时参加"  # no content signal at all


def test_a_short_everyday_line_repeated_by_chance_is_not_an_ad_by_default() -> None:
    f = Fleet(AdSettings())
    for i in range(4):
        assert f.say(f"qq:g{i}", f"qq:u{i}", "这个报错谁遇到过", T0 + i) == []
    for i in range(4):
        assert f.say(f"qq:k{i}", f"qq:w{i}", "does anyone know how to fix this?", T0 + i) == []
    long_line = "明天下午三点开会大家记得准时参加，地点在三楼会议室不见不散，请提前十分钟到场签到，谢谢各位配合"
    out = []
    for i in range(3):
        out = f.say(f"qq:h{i}", f"qq:v{i}", long_line, T0 + 10 + i)
    assert out and has(out[0].reasons, "same text in 3 groups")


def test_a_plain_repeat_from_newcomers_counts() -> None:
    f = Fleet(AdSettings())
    out = []
    for i in range(3):
        f.stats.apply(Join(group=f"qq:n{i}", member=f"qq:x{i}", member_name="x", at=T0))
        out = f.say(f"qq:n{i}", f"qq:x{i}", "does anyone know how to fix this?", T0 + 10 + i)
    assert out and has(out[0].reasons, "same text in 3 groups")


def test_repeat_in_repeat_groups_minus_one_groups_is_not_a_repeat() -> None:
    f = Fleet(REPEAT)
    assert f.say("qq:g1", "qq:a", PLAIN, T0) == []
    assert f.say("qq:g2", "qq:b", PLAIN, T0 + 60) == []
    assert f.say("qq:g2", "qq:c", PLAIN, T0 + 120) == []  # same group again: still 2 groups


def test_repeat_in_repeat_groups_groups_is_a_high_alert_everywhere() -> None:
    f = Fleet(REPEAT)
    f.say("qq:g1", "qq:a", PLAIN, T0)
    f.say("qq:g2", "qq:b", PLAIN + "!!", T0 + 60)
    out = f.say("qq:g3", "qq:c", PLAIN, T0 + 120)
    assert {x.group for x in out} == {"qq:g1", "qq:g2", "qq:g3"}
    now = next(x for x in out if x.group == "qq:g3")
    assert now.reasons[0] == "same text in 3 groups within 15 min"
    assert now.severity == Severity.HIGH and now.numbers["groups"] == 3 and now.message_id == "m3"
    earlier = {x.group: x for x in out if x.group != "qq:g3"}
    assert earlier["qq:g1"].member == "qq:a" and earlier["qq:g1"].message_id == "m1"
    assert earlier["qq:g2"].excerpt == PLAIN + "!!" and earlier["qq:g2"].at == T0 + 60
    # A fourth group: a finding for it, the earlier copies are not reported again.
    out4 = f.say("qq:g4", "qq:d", PLAIN, T0 + 180)
    assert [x.group for x in out4] == ["qq:g4"] and out4[0].numbers["groups"] == 4


def test_repeat_outside_the_window_is_not_a_repeat() -> None:
    f = Fleet(REPEAT)
    f.say("qq:g1", "qq:a", PLAIN, T0)
    f.say("qq:g2", "qq:b", PLAIN, T0 + 600)
    assert f.say("qq:g3", "qq:c", PLAIN, T0 + 901) == []  # the first copy is 901 s old
    assert len(f.say("qq:g4", "qq:d", PLAIN, T0 + 1000)) >= 1  # g2, g3, g4 within 900 s


def test_repeat_with_small_variations_counts() -> None:
    f = Fleet(REPEAT)
    f.say("qq:g1", "qq:a", "新人福利群，进来领红包 123456", T0)
    f.say("qq:g2", "qq:b", "新人福利群，进来领红包！654321", T0 + 1)
    out = f.say("qq:g3", "qq:c", "新人 福利群 进来领红包 777888", T0 + 2)
    assert out and has(out[0].reasons, "same text in 3 groups")


def test_short_or_low_information_texts_never_repeat() -> None:
    f = Fleet(REPEAT)
    for i in range(5):
        assert f.say(f"qq:g{i}", f"qq:u{i}", "哈哈哈", T0 + i) == []
        assert f.say(f"qq:g{i}", f"qq:u{i}", "哈哈哈哈哈哈哈哈哈哈", T0 + i) == []


def test_repeat_index_is_pruned_on_tick_and_bounded() -> None:
    f = Fleet(REPEAT)
    for i in range(50):
        f.say("qq:g1", "qq:a", f"第{i}条普通消息，内容各不相同哦" + "天地玄黄宇宙洪荒"[i % 8] * (i + 1), T0 + i)
    assert f.det.repeat_index_size == 50
    list(f.det.on_tick(Context(f.stats, T0 + 2000)))
    assert f.det.repeat_index_size == 0


# ---------------------------------------------------------------------------
# the learned-model seam
# ---------------------------------------------------------------------------


class FakeScorer:
    def __init__(self, p: float, reasons: tuple[str, ...] = ()) -> None:
        self.p, self.reasons_ = p, reasons
        self.learned: list[tuple[str, bool]] = []

    def score(self, text: str) -> tuple[float, tuple[str, ...]]:
        return self.p, self.reasons_

    def learn(self, text: str, is_ad: bool) -> None:
        self.learned.append((text, is_ad))


class BrokenScorer(FakeScorer):
    def score(self, text: str) -> tuple[float, tuple[str, ...]]:
        raise RuntimeError("model file missing")


def test_scorer_probability_combines_with_rules_by_noisy_or() -> None:
    s = AdSettings(threshold=0.7, keywords=["团购"], keyword_weight=0.5)
    assert Fleet(s).say("qq:1", "qq:2", "我们团购吧", T0) == []  # rules alone: 0.5
    scorer = FakeScorer(0.6, ("model: 0.60",))
    (f,) = Fleet(s, scorer).say("qq:1", "qq:2", "我们团购吧", T0)
    assert f.score == pytest.approx(0.8)
    assert "model: 0.60" in f.reasons and has(f.reasons, "keyword 团购")


def test_scorer_alone_can_flag_and_always_gives_a_reason() -> None:
    (f,) = Fleet(AdSettings(), FakeScorer(0.95)).say("qq:1", "qq:2", "今天天气不错", T0)
    assert f.score == pytest.approx(0.95) and f.reasons == ("learned model: 0.95",)
    assert Fleet(AdSettings(), FakeScorer(0.1)).say("qq:1", "qq:2", "今天天气不错", T0) == []


def test_scorer_learns_operator_verdicts() -> None:
    scorer = FakeScorer(0.0)
    det = AdDetector(AdSettings(), scorer)
    det.learn("加v看片", True)
    det.learn("今天天气不错", False)
    assert scorer.learned == [("加v看片", True), ("今天天气不错", False)]
    assert isinstance(scorer, AdScorer) and isinstance(AdRules(), AdScorer)


def test_broken_scorer_leaves_the_rules_working() -> None:
    (f,) = Fleet(AdSettings(), BrokenScorer(0.0)).say("qq:1", "qq:2", "加v看片，日结，出号", T0)
    assert f.kind == "ad"


def test_rules_satisfy_the_scorer_protocol() -> None:
    p, reasons = AdRules().score("加v看片")
    assert 0.7 <= p <= 1.0 and has(reasons, "加v")


# ---------------------------------------------------------------------------
# cost
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "a" * 1_000_000,
        "1" * 100_000,
        "1 " * 50_000,
        "加" * 100_000,
        "+" * 100_000,
        "ab1" * 40_000,
        "@aaaa" * 20_000,
        "www." * 30_000,
        "一二三四五六七八九" * 12_000,
        "名字+" * 30_000,
        "😀\u200b" * 50_000,
    ],
)
def test_pathological_input_finishes_fast(text: str) -> None:
    f = Fleet(AdSettings(keywords=["团购"], regexes=[r"promo\d+"], allow=["example.com"]))
    t0 = time.perf_counter()
    f.say("qq:1", "qq:2", text, T0)
    normalize(text)
    skeleton(normalize(text))
    assert time.perf_counter() - t0 < 0.5
