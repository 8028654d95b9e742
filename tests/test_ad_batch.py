"""Scoring many messages at once answers exactly as scoring them one by one.

``AdRules.analyze_many`` normalises texts joined together and skips texts no rule can fire on;
``AdModel.probabilities`` sums n-gram weights in numpy (``ad_batch``). Both must give the
per-message answers: analyses equal, scores bit for bit.
"""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from console.engine.detectors import ad_batch
from console.engine.detectors.ad_features import features
from console.engine.detectors.ad_model import AdModel, train
from console.engine.detectors.ad_text import AdRules

TRICKY = [
    "",
    " ",
    "\n\t  \n",
    "加微信 abc12345 看我名字",
    "出个满级号 30r 私聊",
    "收永久会员 私",
    "\u0301开头是组合符号",  # a combining mark first: must not compose with the text before it
    "ΑΣ",  # final sigma at the end of a text
    "Σ σ ΑΣ Β",
    "电话一三八 零零一三 八零零零",  # Chinese numerals as an id
    "三五",  # a short numeral run that ends a text ...
    "八九七六五 next",  # ... and one that starts the next: runs never cross texts
    "ｆｕｌｌ－ｗｉｄｔｈ ＱＱ１２３４５６７",
    "𝐁𝐨𝐥𝐝 𝐦𝐚𝐭𝐡 𝐥𝐞𝐭𝐭𝐞𝐫𝐬 加我",
    "色❤单❤身❤男❤女",
    "зарабатывай в лс, пиши",
    "call 08001234567 now to claim your prize",
    "visit www.example.xyz or t.me/+abcdef",
    "价格 $50 usd, 100 usdt",
    "ctrl\x07chars\x7fand\x1bescape",
    "runic ᚠᚢᚦ letters 123",
    "noncharacter \uffff inside",  # the first separator ad_batch would use
    "nul \x00 inside",  # the first separator analyze_many would use
    "a" * 2500,  # longer than MAX_CHARS
    "字" * 400 + "加微",  # longer than MODEL_CHARS
    "禁止发广告，禁止加微信拉人",
    "哈哈哈 今天天气不错",
    "ok 666",
    "emoji 🎉🎉 zero\u200bwidth\u202ebidi",
]

ALPHABET = st.sampled_from(list("加微信看我名字私聊出收号群 ，。!?:+$.@0123456789abcxyzQVΣσ\u0301\u200bｆＱ𝐁❤ᚠ\x00\x07\x7f\n\uffff三五八九零"))


@pytest.fixture(scope="module")
def rules() -> AdRules:
    return AdRules()


@pytest.fixture(scope="module")
def model(rules: AdRules) -> AdModel:
    ads = [f"加微信 wx{n}88 出号 {n}r 私聊" for n in range(30)] + [f"看我名字 q{n}7777 低价代发" for n in range(30)]
    ham = [f"今天第{n}局打得不错 ok" for n in range(40)] + [f"哈哈 {n} 点开黑吗" for n in range(40)]
    rows = [(t, True) for t in ads] + [(t, False) for t in ham]
    return train([rows], rules, seed=0, local=0)


def texts_many() -> list[str]:
    return TRICKY * 2 + [t + " " + u for t, u in zip(TRICKY, reversed(TRICKY))]


def test_analyze_many_is_analyze(rules: AdRules) -> None:
    texts = texts_many()
    assert rules.analyze_many(texts) == [rules.analyze(t) for t in texts]


def test_analyze_many_with_an_allow_list() -> None:
    rules = AdRules(allow=["官方群 12345678", "ok"])
    texts = texts_many() + ["进官方群 12345678 领奖", "OK 加微"]
    assert rules.analyze_many(texts) == [rules.analyze(t) for t in texts]


def test_analyze_many_with_configured_words_and_patterns() -> None:
    rules = AdRules(keywords=["开黑", "天气"], regexes=[r"\d{3}r", "不错"])
    texts = texts_many()
    assert rules.analyze_many(texts) == [rules.analyze(t) for t in texts]


def test_texts_holding_every_separator_are_analysed_one_by_one(rules: AdRules) -> None:
    texts = texts_many() + ["\x00\x01\x02 加微 12345678"]
    assert rules.analyze_many(texts) == [rules.analyze(t) for t in texts]


def test_a_short_list_is_analysed_one_by_one_too(rules: AdRules) -> None:
    assert rules.analyze_many(TRICKY[:3]) == [rules.analyze(t) for t in TRICKY[:3]]
    assert rules.analyze_many([]) == []


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(ALPHABET, max_size=30), min_size=8, max_size=20))
def test_analyze_many_is_analyze_on_any_texts(texts: list[str]) -> None:
    rules = AdRules()
    assert rules.analyze_many(texts) == [rules.analyze(t) for t in texts]


@pytest.mark.skipif(not ad_batch.available(), reason="numpy is not installed")
def test_probabilities_are_probability_bit_for_bit(rules: AdRules, model: AdModel) -> None:
    analyses = [rules.analyze(t) for t in texts_many()]
    model._cache.clear()
    one = [model.probability(a) for a in analyses]
    model._cache.clear()
    assert model.probabilities(analyses) == one
    # The n-gram sums themselves, the part numpy computes.
    w = model._w
    table = model._gram_table()
    got = ad_batch.corrections(table, model.shared.bias + model.local.bias, [a.norm for a in analyses])
    assert got is not None and got == [model.correction(features(a.norm)) for a in analyses]
    # Texts holding every separator: no batch (the caller scores them one by one).
    held = [a.norm for a in analyses] + ["\uffff\ufffe\U0010ffff"]
    assert ad_batch.corrections(table, 0.0, held) is None
    assert any(w.get(g) for a in analyses for g in features(a.norm))  # the test texts do hit weights


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(ALPHABET, max_size=40), min_size=8, max_size=16))
def test_probabilities_are_probability_on_any_texts(texts: list[str]) -> None:
    rules = AdRules()
    m = _small_model(rules)
    analyses = [rules.analyze(t) for t in texts]
    m._cache.clear()
    one = [m.probability(a) for a in analyses]
    m._cache.clear()
    assert m.probabilities(analyses) == one


_SMALL: dict[int, AdModel] = {}


def _small_model(rules: AdRules) -> AdModel:
    if not _SMALL:
        rows = [("加微信 wx8888 出号", True), ("看我名字 q77777", True), ("今天打得不错", False), ("哈哈 3 点", False)]
        _SMALL[0] = train([rows * 5], rules, seed=0, local=0)
    return _SMALL[0]


def test_probabilities_follow_lessons_and_communities(rules: AdRules, model: AdModel) -> None:
    m = model.fresh()
    analyses = [rules.analyze(t) for t in texts_many()]
    before = m.probabilities(analyses)
    # A lesson changes the weights: the batch table is made again, and a community's copy counts for its group.
    for _ in range(3):
        m.learn_analysis(rules.analyze("今天第1局打得不错 加我"), True, community="g1")
        m.learn_analysis(rules.analyze("哈哈 5 点开黑吗"), False)
    m._cache.clear()
    one = [m.probability(a, community="g1") for a in analyses]
    m._cache.clear()
    assert m.probabilities(analyses, community="g1") == one
    assert [m.probability(a) for a in analyses] == m.probabilities(analyses)
    assert m.probabilities(analyses) != before or m._shared.w  # the lessons reached the model
    # A weak lesson keeps the cache (its values a hair stale): the batch answers what one by one answers.
    m.learn_analysis(rules.analyze("哈哈 今天天气不错"), False, weight=0.1)
    assert m.probabilities(analyses) == [m.probability(a) for a in analyses]


def test_without_numpy_the_same_answers(monkeypatch: pytest.MonkeyPatch, rules: AdRules, model: AdModel) -> None:
    analyses = [rules.analyze(t) for t in texts_many()]
    model._cache.clear()
    with_np = model.probabilities(analyses)
    monkeypatch.setattr(ad_batch, "np", None)
    assert not ad_batch.available()
    model._cache.clear()
    assert model.probabilities(analyses) == with_np


@pytest.mark.skipif(not ad_batch.available(), reason="numpy is not installed")
def test_gram_table_finds_every_key_and_nothing_else() -> None:
    weights = {chr(0x4E00 + i) + chr(0x4E00 + i * 7 % 500) + "x"[: i % 2]: float(i + 1) for i in range(5000)}
    weights.update({"a": 0.5, "ab": -1.25, "abc": 2.0, "\U0010ffff\U0010ffff\U0010ffff": 3.5})
    table = ad_batch.GramTable(weights)
    grams = list(weights) + ["zz", "b", "abd", "\U0010fffe"]
    keys = ad_batch.np.array([ad_batch.pack(g) for g in grams], dtype=ad_batch.np.uint64)
    assert table.lookup(keys).tolist() == [weights.get(g, 0.0) for g in grams]


@pytest.mark.skipif(not ad_batch.available(), reason="numpy is not installed")
def test_a_warm_cache_gives_the_same_answers_and_the_same_cache_afterwards(rules: AdRules, model: AdModel) -> None:
    analyses = [rules.analyze(t) for t in texts_many()]
    for warm in (analyses[::3], []):
        model._cache.clear()
        for a in warm:
            model.probability(a)
        one = [model.probability(a) for a in analyses]
        after_one = dict(model._cache)
        model._cache.clear()
        for a in warm:
            model.probability(a)
        assert model.probabilities(analyses) == one
        assert model._cache == after_one and list(model._cache) == list(after_one)
