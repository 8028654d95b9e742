"""The learned ad model: features, training, the combination with the rules, verdicts, weak lessons,
persistence (atomic, damage-tolerant), and the operator's verdicts through Moderation across a restart.

Every example is hand-made here: the tests never read the development data sets.
"""
from __future__ import annotations

import base64
import json

import pytest

from connectors.demo import DemoConnector
from connectors.events import Join, Message
from console.engine.config import ConfigError, parse_settings
from console.engine.detectors.ad import WEAK_HAM_MIN_MESSAGES, AdDetector
from console.engine.detectors.ad_model import (BASE_DB, VERDICT_DB, AdLearning, AdModel, LabeledFileError,
                                               ModelFileError, features, read_labeled, train)
from console.engine.detectors.ad_text import AdRules
from console.engine.detectors.base import Context
from console.engine.engine import Engine
from console.engine.moderation import Moderation
from console.engine.settings import AdSettings, Settings
from console.engine.stats import FleetStats
from console.engine.store import Store

T0 = 1_700_000_000.0
RULES = AdRules()

# A community's own ads that the rules do not know ("zzqx" is a made-up seller slang), and its chat.
ADS = [f"zzqx 出vape {n}r 私" for n in (100, 120, 150, 180, 200, 220)] + [
    "zzqx 烟弹 批发 来", "zzqx 新货到 便宜出", "zzqx 全网最低 要的来"]
HAM = ["今天下雨了，大家出门带伞", "晚上一起打游戏吗", "这个bug我修好了", "周末去爬山吧",
       "午饭吃什么好呢", "新版本挺好用的", "谁有那本书的电子版", "明天早上九点开会", "哈哈哈笑死我了"]


def ex(texts: list[str], is_ad: bool) -> list[tuple[str, bool]]:
    return [(t, is_ad) for t in texts]


def score(model: AdModel, text: str) -> float:
    return model.probability(RULES.analyze(text))


# ---------------------------------------------------------------------------
# features
# ---------------------------------------------------------------------------


def test_features_are_character_1_to_3_grams_with_digits_folded_and_ends_marked() -> None:
    f = features("加v 123")
    assert set(f) >= {"加", "v", "0", "加v", "v ", "00", "加v ", "000", "\x02加", "0\x03", "\x02加v", "00\x03"}
    assert features("加v 456") == features("加v 123")  # another id, the same shape
    assert features("") == [] and features("   ") == []


def test_features_ignore_runic_letters_and_neutralise_control_characters() -> None:
    # Runic letters are an artefact of one development set (they leak its labels).
    assert features("想看片ᚰ") == features("想看片")
    f = features("a\x02b\x03c")
    assert "\x02b" not in f and "b\x03" not in f  # a message cannot fake the start/end markers
    assert features("a\x02b") == features("a b")


# ---------------------------------------------------------------------------
# the model on top of the rules
# ---------------------------------------------------------------------------


def test_a_model_that_learned_nothing_scores_exactly_like_the_rules() -> None:
    m = AdModel(rules=RULES)
    for text in ["加v看片，日结", "大家早上好", "看女全部Q群~366^292555免费", ""]:
        a = RULES.analyze(text)
        assert m.content(a) == (a.score, (), None)


def test_training_learns_a_communitys_ads_that_the_rules_miss() -> None:
    assert all(RULES.analyze(t).score < 0.7 for t in ADS)  # the rules alone miss them
    m = train([ex(ADS, True) + ex(HAM, False)], RULES, seed=1)
    assert score(m, "zzqx 出vape 160r 私") >= 0.7  # a new price: the same ad
    assert score(m, "zzqx 全网最低 出vape 私") >= 0.7  # pieces of several
    assert score(m, "zzqx 便宜出 要的来") > RULES.analyze("zzqx 便宜出 要的来").score + 0.3
    assert score(m, "下午一起去打球吗") < 0.3
    assert score(m, "加v看片，日结") >= 0.7  # the rules still count
    p, reasons, judged = m.content(RULES.analyze("zzqx 出vape 160r 私"))
    assert judged is None and reasons and reasons[0].startswith(f"model {p:.2f}")
    assert "zzq" in reasons[0] or "zqx" in reasons[0]  # the words that weighed


def test_training_is_deterministic_for_a_seed() -> None:
    data = [ex(ADS, True) + ex(HAM, False)]
    a, b = train(data, RULES, seed=3), train(data, RULES, seed=3)
    assert a.shared.w == b.shared.w and a.shared.bias == b.shared.bias


def test_the_model_can_also_lower_a_rules_score_for_what_this_community_calls_ordinary() -> None:
    text = "出号，收号，低价代发，私聊我"
    assert RULES.analyze(text).score >= 0.7
    chat = [f"{text} {i}" for i in range(12)]  # in this (odd) community, that is everyday chat
    m = train([ex(chat, False) + ex(ADS, True)], RULES, seed=1)
    assert score(m, text) < 0.7


def test_model_weight_scales_the_correction_and_zero_is_the_rules() -> None:
    m = train([ex(ADS, True) + ex(HAM, False)], RULES, seed=1)
    a = RULES.analyze("zzqx 出vape 160r 私")
    full, half, off = m.probability(a, 1.0), m.probability(a, 0.5), m.probability(a, 0.0)
    assert off == a.score < half < full


# ---------------------------------------------------------------------------
# verdicts (local learning)
# ---------------------------------------------------------------------------


def test_an_ad_verdict_flags_that_text_again_also_with_another_number() -> None:
    m = AdModel(rules=RULES)
    text = "出vape 100r 老地方见 2096"
    assert score(m, text) == 0.0  # the rules see nothing
    m.learn(text, True)
    assert score(m, text) >= 0.9
    assert score(m, "出vape 120r 老地方见 3355") >= 0.9  # digits collapsed
    p, reasons, judged = m.content(RULES.analyze(text))
    assert judged is True and "you marked this text as an ad" in reasons


def test_a_verdict_the_weights_did_not_need_is_still_remembered() -> None:
    m = AdModel(rules=RULES)
    text = "看女全部Q群~366^292555免费，私聊我，加v"  # the rules are sure already: nothing to correct
    m.learn(text, True)
    assert m.local.w == {} and m.judged(RULES.analyze(text)) is True
    assert m.content(RULES.analyze(text))[1:] == (("you marked this text as an ad",), True)


def test_a_not_an_ad_verdict_holds_for_that_text_only() -> None:
    m = AdModel(rules=RULES)
    text = "加v看片，日结"
    m.learn(text, False)
    assert m.judged(RULES.analyze(text)) is False and score(m, text) == 0.0
    # Texts like it score lower (the weights generalise); other ads do not move: a verdict with no
    # community changes the deployment's local weights only: no bias, no single characters, only the
    # longer n-grams of its text.
    assert score(m, "加v看片，日结，速来") < RULES.analyze("加v看片，日结，速来").score
    other = "出号，收号，低价代发，私聊我"
    assert score(m, other) == pytest.approx(RULES.analyze(other).score)
    assert m.local.bias == 0.0 and m.local.w and all(len(t) > 1 for t in m.local.w)


def test_in_a_community_one_verdict_moves_its_copy_a_little_and_no_other_group() -> None:
    m = AdModel(rules=RULES)
    m.learn("加v看片，日结", False, community="qq:1")
    own = m.communities["qq:1"]
    # The copy's bias and trust in the rules move by a fraction (accumulators start at PRIOR_STRENGTH):
    # the group's other ads stay flagged.
    assert -1.1 < own.table.bias < 0 and -0.3 < own.rules_scale < 0
    other = "出号，收号，低价代发，私聊我"
    assert prob(m, other, "qq:1") >= 0.85
    # Another group sees only the local weights, which learned a tenth of it (LOCAL_SHARE).
    assert prob(m, other, "qq:2") == pytest.approx(RULES.analyze(other).score)
    assert m.local.bias == 0.0 and all(len(t) > 1 for t in m.local.w)


def test_a_handful_of_verdicts_changes_the_communitys_next_messages() -> None:
    # Commerce slang the rules do not see ("出号" and "私" do, weakly): a few verdicts and the next
    # messages like them in that group are flagged; everyday chat is not; other groups are unchanged.
    m = AdModel(rules=RULES)
    lessons = [("出个满级号 30r 有意私", True), ("收永久会员 来个", True), ("今天副本打得好累", False),
               ("出个王者号 45r 全皮肤", True), ("有人一起开黑吗", False), ("收个cdk 25r", True)]
    unseen_ad, unseen_ham = "出个满级号 40r 要的来", "晚上一起开黑吧"
    before = prob(m, unseen_ad, "qq:game")
    for text, is_ad in lessons:
        m.learn(text, is_ad, community="qq:game")
    assert before < 0.7 <= prob(m, unseen_ad, "qq:game")
    assert prob(m, unseen_ham, "qq:game") < 0.3
    assert prob(m, unseen_ad, "qq:campus") < 0.7


def test_the_communitys_copy_does_not_forget_what_the_base_knows() -> None:
    base = train([ex(ADS, True) + ex(HAM, False)], RULES, seed=1)
    held_ads, held_ham = ["zzqx 出vape 155r 私", "zzqx 全网最低 出vape 私"], ["这个bug我修好了没", "周末去爬山吧，带水"]
    copy = base.fresh()
    # A community with other ads and its own ordinary talk: 200 verdicts.
    for i in range(40):
        copy.learn(f"代写作业 加我{i}号", True, community="qq:t")
        copy.learn(f"第{i}题怎么做啊", False, community="qq:t")
        copy.learn(f"求助 结构体数组删除 {i}", False, community="qq:t")
        copy.learn(f"帮写程序 找我 {i}", True, community="qq:t")
        copy.learn(f"今天第{i}天学c语言", False, community="qq:t")
    for t in held_ads:
        assert prob(copy, t, "qq:t") >= 0.7 and prob(base, t) >= 0.7
    for t in held_ham:
        assert prob(copy, t, "qq:t") < 0.7 and prob(base, t) < 0.7
    assert base.local.w == {} and not base.communities  # the base itself is untouched


def prob(m: AdModel, text: str, community: str | None = None) -> float:
    return m.probability(RULES.analyze(text), community=community)


def test_a_changed_mind_replaces_the_earlier_verdict() -> None:
    m = AdModel(rules=RULES)
    text = "zzqx 出vape 100r 私"
    m.learn(text, False)
    m.learn(text, True)
    assert m.judged(RULES.analyze(text)) is True and score(m, text) >= 0.9


def test_verdicts_generalise_to_similar_messages() -> None:
    m = AdModel(rules=RULES)
    for t in ADS[:6]:
        m.learn(t, True)
    for t in HAM:
        m.learn(t, False)
    unseen = "zzqx 全网最低 出vape 私"
    assert m.judged(RULES.analyze(unseen)) is None
    assert score(m, unseen) > RULES.analyze(unseen).score + 0.2


# ---------------------------------------------------------------------------
# the detector with the model
# ---------------------------------------------------------------------------


class Fleet:
    def __init__(self, settings: AdSettings, model: AdModel | None = None) -> None:
        self.stats = FleetStats()
        self.det = AdDetector(settings)
        if model is not None:
            self.det.scorer = model
        self.n = 0

    def say(self, group: str, member: str, text: str, at: float) -> list:
        self.n += 1
        ev = Message(group=group, sender=member, sender_name=member, text=text, at=at, id=f"m{self.n}")
        self.stats.apply(ev)
        return list(self.det.on_event(ev, Context(self.stats, at)))


def test_the_detector_shows_the_models_reason_and_score() -> None:
    m = train([ex(ADS, True) + ex(HAM, False)], RULES, seed=1)
    f = Fleet(AdSettings(), m)
    (finding,) = f.say("qq:1", "qq:2", "zzqx 出vape 160r 私", T0)
    assert any(r.startswith(("model 0.", "model 1.00")) for r in finding.reasons)
    assert finding.score >= 0.7
    assert Fleet(AdSettings(model_weight=0.0), None).say("qq:1", "qq:2", "zzqx 出vape 160r 私", T0) == []


def test_a_text_marked_not_an_ad_is_not_flagged_even_as_a_cross_group_repeat() -> None:
    long_line = "明天下午三点开会大家记得准时参加，地点在三楼会议室不见不散，请提前十分钟到场签到，谢谢各位配合"
    plain = Fleet(AdSettings())
    assert [plain.say(f"qq:h{i}", f"qq:v{i}", long_line, T0 + i) for i in range(3)][-1]  # a repeat alert
    m = AdModel(rules=RULES)
    m.learn(long_line, False)
    judged = Fleet(AdSettings(), m)
    assert all(judged.say(f"qq:h{i}", f"qq:v{i}", long_line, T0 + i) == [] for i in range(5))


def test_a_broken_model_leaves_the_rules_working() -> None:
    class Broken(AdModel):
        def content(self, a, weight=1.0):
            raise RuntimeError("boom")

    (finding,) = Fleet(AdSettings(), Broken(rules=RULES)).say("qq:1", "qq:2", "加v看片，日结，出号", T0)
    assert finding.kind == "ad"


def _established(f: Fleet, group: str, member: str, at: float) -> float:
    f.stats.apply(Join(group=group, member=member, member_name=member, at=at - 30 * 86400))
    for i in range(WEAK_HAM_MIN_MESSAGES):
        f.say(group, member, f"日常聊天第{i}句", at + i)
    return at + WEAK_HAM_MIN_MESSAGES


def test_weak_ham_comes_only_from_established_members_in_healthy_groups_at_the_rate() -> None:
    model = AdModel(rules=RULES)
    learned = []
    model.learn_analysis = lambda a, is_ad, weight=1.0, steps=3, community=None: learned.append((a.norm, is_ad, weight, steps))
    f = Fleet(AdSettings(weak_ham_rate=0.5, keywords=["团购"], keyword_weight=0.3), model)
    t = _established(f, "qq:1", "qq:old", T0)
    n0 = len(learned)  # the warm-up chat itself counted once the member was established
    for i in range(10):
        f.say("qq:1", "qq:old", f"我们团购吧{i}", t + i)
    weak = learned[n0:]
    assert len(weak) == 5 and all(not is_ad and w < 1.0 and steps == 1 for _, is_ad, w, steps in weak)
    # A newcomer's messages never count.
    f.stats.apply(Join(group="qq:1", member="qq:new", member_name="new", at=t))
    before = len(learned)
    for i in range(10):
        f.say("qq:1", "qq:new", f"我们团购吧{i}", t + 100 + i)
    assert len(learned) == before
    # A group with an ad finding in the last day is not healthy.
    assert f.say("qq:1", "qq:x", "加v看片，日结，出号", t + 200)
    before = len(learned)
    for i in range(10):
        f.say("qq:1", "qq:old", f"我们团购吧{i}", t + 300 + i)
    assert len(learned) == before


def test_weak_ham_off_at_rate_zero() -> None:
    model = AdModel(rules=RULES)
    learned = []
    model.learn_analysis = lambda *a, **k: learned.append(a)
    f = Fleet(AdSettings(weak_ham_rate=0.0), model)
    t = _established(f, "qq:1", "qq:old", T0)
    f.say("qq:1", "qq:old", "我们团购吧", t)
    assert learned == []


# ---------------------------------------------------------------------------
# the base as bytes
# ---------------------------------------------------------------------------


def test_the_base_round_trips_through_bytes() -> None:
    m = train([ex(ADS, True) + ex(HAM, False)], RULES, seed=1, info={"base": "files", "files": ["x.jsonl"]})
    back = AdModel.from_bytes(m.to_bytes(), RULES)
    assert back.info["files"] == ["x.jsonl"] and back.shared.bias == pytest.approx(m.shared.bias)
    for t in ADS + HAM:
        assert score(back, t) == pytest.approx(score(m, t), abs=1e-5)


@pytest.mark.parametrize("mangle, message", [
    (lambda b: b"not a model at all", "bad header"),
    (lambda b: b[:len(b) // 2], "damaged model data"),
    (lambda b: b[:7] + b"\x00" * (len(b) - 7), "damaged model data"),
])
def test_a_damaged_base_blob_is_a_clear_error(mangle, message) -> None:
    blob = train([ex(ADS, True) + ex(HAM, False)], RULES, seed=1).to_bytes()
    with pytest.raises(ModelFileError, match=message):
        AdModel.from_bytes(mangle(blob))


# ---------------------------------------------------------------------------
# labelled files
# ---------------------------------------------------------------------------


def write_jsonl(path, rows) -> str:
    path.write_text("".join(json.dumps({"label": "spam" if y else "ham", "text": t}, ensure_ascii=False) + "\n"
                            for t, y in rows), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("content, where, what", [
    ('{"label": "spam", "text": "a"}\n{"label": "ham", "text": "b"\n', ":2:", "not valid JSON"),
    ('{"label": "spam", "text": "a"}\n\n{"label": "eggs", "text": "b"}\n', ":3:", '"label" must be'),
    ('{"text": "b"}\n', ":1:", "got no label"),
    ('["spam", "a"]\n', ":1:", "expected an object"),
    ('{"label": "ham", "text": 5}\n', ":1:", '"text" must be a string'),
    ("\n\n", "", "no labelled rows"),
])
def test_bad_labelled_files_name_file_and_line(tmp_path, content, where, what) -> None:
    p = tmp_path / "bad.jsonl"
    p.write_text(content, encoding="utf-8")
    with pytest.raises(LabeledFileError) as e:
        read_labeled(p)
    assert str(e.value).startswith(f"{p}{where}") and what in str(e.value) and "\n" not in str(e.value)


def test_a_labelled_file_may_start_with_a_bom(tmp_path) -> None:
    p = tmp_path / "bom.jsonl"
    p.write_bytes('\ufeff{"label": "spam", "text": "加v"}\n{"label": "ham", "text": "好"}\n'.encode())
    assert read_labeled(p) == [("加v", True), ("好", False)]


def test_missing_and_undecodable_labelled_files(tmp_path) -> None:
    with pytest.raises(LabeledFileError, match="no such file"):
        read_labeled(tmp_path / "nope.jsonl")
    p = tmp_path / "latin1.jsonl"
    p.write_bytes(b'{"label": "ham", "text": "ok"}\n{"label": "ham", "text": "\xe9"}\n')
    with pytest.raises(LabeledFileError, match=r"latin1.jsonl:2: not valid UTF-8"):
        read_labeled(p)


# ---------------------------------------------------------------------------
# AdLearning: base from files, verdicts in the store, damage
# ---------------------------------------------------------------------------


def test_verdicts_are_saved_and_replayed_after_a_restart(tmp_path) -> None:
    data = tmp_path / "data"
    with Store(data) as store:
        learning = AdLearning(store, AdSettings(), RULES)
        assert learning.teach("zzqx 出vape 100r 私", True, key="g|m1", source="verdict")
        assert learning.teach("加v看片，日结", False, key="g|m2", source="verdict")
        assert not learning.teach("加v看片，日结", False, key="g|m2", source="verdict")  # the same lesson
        before = [score(learning.model, t) for t in ("zzqx 出vape 160r 私", "加v看片，日结", "zzqx 新货")]
    with Store(data) as store:  # a restart: new objects on the same data dir
        again = AdLearning(store, AdSettings(), RULES)
        assert again.counts() == (1, 1) and not again.problems
        assert [score(again.model, t) for t in ("zzqx 出vape 160r 私", "加v看片，日结", "zzqx 新货")] == before
        assert again.verdicts["g|m1"].source == "verdict" and again.verdicts["g|m2"].is_ad is False


def test_the_verdict_log_keeps_the_newest_and_a_changed_mind_goes_last(tmp_path, monkeypatch) -> None:
    import console.engine.detectors.ad_learning as ad_learning

    monkeypatch.setattr(ad_learning, "MAX_VERDICTS", 3)
    data = tmp_path / "data"
    with Store(data) as store:
        learning = AdLearning(store, AdSettings(), RULES)
        for i in range(5):
            learning.teach(f"zzqx 第{i}条 出vape", True, key=f"k{i}", source="verdict")
        learning.teach("zzqx 第3条 出vape", False, key="k3", source="verdict")  # changed mind
    with Store(data) as store:
        again = AdLearning(store, AdSettings(), RULES)
        assert list(again.verdicts) == ["k2", "k4", "k3"] and again.verdicts["k3"].is_ad is False
        assert again.model.judged(RULES.analyze("zzqx 第3条 出vape")) is False


def test_a_damaged_verdict_file_is_a_clear_message_and_the_model_runs_on_its_base(tmp_path) -> None:
    data = tmp_path / "data"
    with Store(data) as store:
        learning = AdLearning(store, AdSettings(), RULES)
        learning.teach("加v看片，日结", False, key="k", source="verdict")
        learning.teach("出号，收号，低价代发", False, key="k1", source="verdict")  # a second save: .prev has one
    (data / f"{VERDICT_DB}.json").write_bytes(b'{"verdicts": {"1": {"text": "trunc')
    with Store(data) as store:
        learning = AdLearning(store, AdSettings(), RULES)
        assert len(learning.problems) == 1 and "damaged" in learning.problems[0]
        assert "--recover" in learning.problems[0] and "\n" not in learning.problems[0]
        assert learning.verdicts == {} and score(learning.model, "加v看片，日结") >= 0.7  # the base: the rules
        assert learning.teach("zzqx 出vape 100r 私", True, key="k2", source="verdict")  # learns, saves nothing
    assert (data / f"{VERDICT_DB}.json").read_bytes() == b'{"verdicts": {"1": {"text": "trunc'  # untouched
    with Store(data, recover=True) as store:  # --recover sets it aside and uses the previous save
        learning = AdLearning(store, AdSettings(), RULES)
        assert not learning.problems and learning.counts() == (0, 1)
        assert any("restored the previous save" in w for w in store.warnings)


def test_a_base_is_trained_from_configured_files_once_and_again_when_they_change(tmp_path, monkeypatch) -> None:
    import console.engine.detectors.ad_learning as ad_learning

    src = write_jsonl(tmp_path / "mine.jsonl", ex(ADS, True) + ex(HAM, False))
    calls = []
    real = ad_learning.train
    monkeypatch.setattr(ad_learning, "train", lambda *a, **k: calls.append(1) or real(*a, **k))
    settings = AdSettings(model_train_files=[src])
    data = tmp_path / "data"
    with Store(data) as store:
        first = AdLearning(store, settings, RULES)
    assert len(calls) == 1 and score(first.model, "zzqx 出vape 160r 私") >= 0.7
    with Store(data) as store:
        second = AdLearning(store, settings, RULES)
    assert len(calls) == 1 and second.model.shared.w == pytest.approx(first.model.shared.w, abs=1e-6)
    write_jsonl(tmp_path / "mine.jsonl", ex(ADS, True) + ex(HAM, False) + ex(["再加一行"], False))
    with Store(data) as store:
        AdLearning(store, settings, RULES)
    assert len(calls) == 2


def test_a_damaged_base_in_the_store_is_retrained_in_memory_and_left_alone(tmp_path) -> None:
    src = write_jsonl(tmp_path / "mine.jsonl", ex(ADS, True) + ex(HAM, False))
    settings = AdSettings(model_train_files=[src])
    data = tmp_path / "data"
    with Store(data) as store:
        AdLearning(store, settings, RULES)
    doc = json.loads((data / f"{BASE_DB}.json").read_text())
    key = next(iter(doc["base"]))
    doc["base"][key]["blob"] = base64.b64encode(b"GWADM1\nxx").decode()  # parses as JSON, not as a model
    (data / f"{BASE_DB}.json").write_text(json.dumps(doc))
    with Store(data) as store:
        learning = AdLearning(store, settings, RULES)
        assert any("unusable" in p for p in learning.problems)
        assert score(learning.model, "zzqx 出vape 160r 私") >= 0.7
    (data / f"{BASE_DB}.json").write_bytes(b"{ broken")
    with Store(data) as store:
        learning = AdLearning(store, settings, RULES)
        assert any("damaged" in p for p in learning.problems)
        assert score(learning.model, "zzqx 出vape 160r 私") >= 0.7
    assert (data / f"{BASE_DB}.json").read_bytes() == b"{ broken"


def test_bad_training_files_are_a_config_error_naming_the_line(tmp_path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"label": "spam", "text": "a"}\n{"label": "maybe", "text": "b"}\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"model_train_files: .*bad.jsonl:2: \"label\" must be"):
        AdLearning(None, AdSettings(model_train_files=[str(bad)]), RULES)
    with pytest.raises(ConfigError, match=r"model_train_files: .*missing.jsonl: No such file"):
        AdLearning(None, AdSettings(model_train_files=[str(tmp_path / "missing.jsonl")]), RULES)


def test_the_new_settings_load_from_toml() -> None:
    s = parse_settings('[detectors.ad]\nmodel_weight = 0.5\nauto_action = "delete"\n'
                       'auto_action_threshold = 0.99\nweak_ham_rate = 0.0\nmodel_train_files = ["a.jsonl"]\n')
    ad = s.detectors.ad
    assert (ad.model_weight, ad.auto_action, ad.auto_action_threshold, ad.weak_ham_rate, ad.model_train_files) == (
        0.5, "delete", 0.99, 0.0, ["a.jsonl"])
    assert AdSettings().auto_action == "off"  # automatic action is off by default


# ---------------------------------------------------------------------------
# the operator's verdicts through Moderation, and a restart
# ---------------------------------------------------------------------------

AD_TEXT = "zzqx 出vape 100r 看我名字"


async def world(data, settings: Settings | None = None):
    settings = settings or Settings()
    demo = DemoConnector(groups=4, seed=3, pace=False)
    store = Store(data)
    engine = Engine(settings, [demo], store, clock=demo.now)
    engine.restore()
    mod = Moderation(settings, store, engine, actor="alice")
    await mod.sync()
    return demo, engine, mod, store


def a_member(engine, group: str) -> str:
    return next(m.id for m in engine.stats.groups[group].members.values() if not m.id.endswith("operator"))


def say(engine, demo, group: str, member: str, text: str, mid: str) -> None:
    engine.ingest([Message(group=group, sender=member, sender_name="x", text=text, at=demo.now(), id=mid)])


def ad_alert(engine, group: str, member: str):
    return engine.alerts.open_for("ad", group, member)


async def test_not_an_ad_teaches_dismisses_and_survives_a_restart(tmp_path) -> None:
    data = tmp_path / "data"
    demo, engine, mod, store = await world(data)
    g = "demo:g1"
    who = a_member(engine, g)
    text = "加v看片，日结，出号"
    say(engine, demo, g, who, text, "t:1")
    alert = ad_alert(engine, g, who)
    assert alert is not None and alert.message_id == "t:1"
    notice = mod.verdict(alert.id, False)
    assert notice.startswith(f"alert #{alert.id}: the ad model learned") and "not an ad" in notice
    assert notice.endswith("alert dismissed") and "\n" not in notice
    assert ad_alert(engine, g, who) is None and engine.alerts.get(alert.id).resolved_by == "alice"
    assert mod.notices[-1].text == notice
    say(engine, demo, g, who, text, "t:2")
    assert ad_alert(engine, g, who) is None  # the same text is not flagged again
    engine.checkpoint()
    store.close()

    demo, engine, mod, store = await world(data)  # restart: new objects, same data dir
    assert mod.ad_learning.counts() == (0, 1)
    say(engine, demo, g, who, text, "t:3")
    assert ad_alert(engine, g, who) is None
    say(engine, demo, g, who, "出号，收号，低价代发，私聊我", "t:4")
    assert ad_alert(engine, g, who) is not None  # other ads still are
    store.close()


async def test_warn_and_blacklist_from_an_ad_alert_teach_ad_and_survive_a_restart(tmp_path) -> None:
    data = tmp_path / "data"
    demo, engine, mod, store = await world(data)
    g1, g2 = "demo:g1", "demo:g2"
    a, b = a_member(engine, g1), a_member(engine, g2)
    # The rules alone do not flag these; the operator acts anyway (from an alert on another signal).
    say(engine, demo, g1, a, "加v看片，日结，出号", "w:1")
    alert = ad_alert(engine, g1, a)
    alert.message_id, alert.excerpt = "w:2", AD_TEXT  # the alert's latest message: the community's own ad
    engine.stats.groups[g1].recent.append(Message(g1, a, "x", AD_TEXT, demo.now(), "w:2"))
    await mod.warn(g1, a, "ad", alert=alert.id)
    assert mod.ad_learning.counts() == (1, 0)
    assert mod.ad_learning.verdicts[f"{g1}\x1fw:2"].source == "warn"
    assert any("the ad model learned" in n.text and "as an ad" in n.text for n in mod.notices)
    say(engine, demo, g2, b, "加v看片，日结，出号 再来", "w:3")
    alert2 = ad_alert(engine, g2, b)
    await mod.blacklist_add(b, reason="ads", evidence={"group": g2, "alert": alert2.id})
    assert mod.ad_learning.counts() == (2, 0)
    assert mod.ad_learning.verdicts[f"{g2}\x1fw:3"].source == "blacklist"
    engine.checkpoint()
    store.close()

    demo, engine, mod, store = await world(data)
    assert mod.ad_learning.counts() == (2, 0)
    c = a_member(engine, "demo:g3")
    say(engine, demo, "demo:g3", c, "zzqx 出vape 180r 看我名字", "w:4")  # the taught ad, another price
    alert3 = ad_alert(engine, "demo:g3", c)
    assert alert3 is not None and "you marked this text as an ad" in alert3.reasons
    store.close()


async def test_verdict_refusals_are_one_line_notices(tmp_path) -> None:
    demo, engine, mod, store = await world(tmp_path / "data")
    assert mod.verdict(99999, False) == "no alert #99999"
    g = "demo:g1"
    who = a_member(engine, g)
    for i in range(12):  # a flood: not an ad alert
        say(engine, demo, g, who, f"刷屏 {i}", f"f:{i}")
    flood = engine.alerts.open_for("flood", g, who)
    assert "verdicts are for ad alerts" in mod.verdict(flood.id, False)
    assert engine.alerts.open_for("flood", g, who) is flood  # not dismissed
    store.close()
    settings = Settings()
    settings.detectors.ad.model_weight = 0.0
    demo, engine, mod, store = await world(tmp_path / "off", settings)
    g = "demo:g1"
    who = a_member(engine, g)
    say(engine, demo, g, who, "加v看片，日结，出号", "o:1")
    alert = ad_alert(engine, g, who)
    notice = mod.verdict(alert.id, False)
    assert "the ad model is off" in notice and notice.endswith("alert dismissed")
    assert mod.ad_learning is None
    store.close()


async def test_automatic_action_is_off_by_default_and_acts_once_above_its_threshold(tmp_path) -> None:
    demo, engine, mod, store = await world(tmp_path / "off")
    g = "demo:g1"
    who = a_member(engine, g)
    say(engine, demo, g, who, "看女全部Q群~366^292555免费，私聊我，加v", "a:1")
    assert ad_alert(engine, g, who).score >= 0.97
    await mod.drain()
    assert [a for a in mod.ledger.actions() if a.origin == "auto:ad"] == []
    store.close()

    settings = Settings()
    settings.detectors.ad.auto_action = "delete"
    demo, engine, mod, store = await world(tmp_path / "on", settings)
    who = a_member(engine, g)
    say(engine, demo, g, who, "看女全部Q群~366^292555免费，私聊我，加v", "a:1")
    say(engine, demo, g, who, "看女全部Q群~366^292555免费，私聊我，加v", "a:1")  # the same message again
    await mod.drain()
    auto = [a for a in mod.ledger.actions() if a.origin == "auto:ad"]
    assert [(a.kind.value, a.group, a.message_id, a.actor) for a in auto] == [("delete", g, "a:1", "auto:ad")]
    assert any(n.text.startswith("auto: delete on the ad from") for n in mod.notices)
    assert mod.ad_learning.counts() == (0, 0)  # automatic actions never teach the model
    store.close()


def test_an_unknown_auto_action_is_a_config_error(tmp_path) -> None:
    settings = Settings()
    settings.detectors.ad.auto_action = "nuke"
    demo = DemoConnector(groups=2, seed=3, pace=False)
    with Store(tmp_path) as store:
        engine = Engine(settings, [demo], store, clock=demo.now)
        with pytest.raises(ConfigError, match="auto_action must be one of off, delete, kick, delete\\+kick"):
            Moderation(settings, store, engine)


def test_the_detector_scores_each_group_with_its_own_copy() -> None:
    m = AdModel(rules=RULES)
    f = Fleet(AdSettings(), m)
    for text in ("出个满级号 30r 有意私", "收永久会员 来个", "出个王者号 45r 全皮肤", "收个cdk 25r"):
        m.learn(text, True, community="qq:game")
    m.learn("今天副本打得好累", False, community="qq:game")
    assert f.say("qq:game", "qq:7", "出个满级号 40r 要的来", T0)
    assert f.say("qq:campus", "qq:7", "出个满级号 40r 要的来", T0 + 1) == []


def test_a_small_corpus_takes_larger_steps(monkeypatch) -> None:
    from console.engine.detectors import ad_learning

    rows = ex(ADS, True) + ex(HAM, False)
    boosted = train([rows], RULES, seed=1, epochs=1)
    monkeypatch.setattr(ad_learning, "SMALL_CORPUS", len(rows))  # not small any more: the plain rate
    plain = train([rows], RULES, seed=1, epochs=1)
    assert max(map(abs, boosted.shared.w.values())) > 1.5 * max(map(abs, plain.shared.w.values()))
    assert score(boosted, "zzqx 出vape 160r 私") > score(plain, "zzqx 出vape 160r 私")
