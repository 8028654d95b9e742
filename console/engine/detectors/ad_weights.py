"""The model's weight tables: :class:`Table` (n-gram weights learned by AdaGrad) and a community's
own copy (:class:`Community`).

A verdict is given on a message in a group: it teaches that community's own copy (seen only when
scoring that group's messages) freely: its n-grams and Chinese characters, a bias and a scale on
the rules' log-odds, so a handful of verdicts changes the group's next messages. How that copy
combines with the base (a one-sided delta, never lowering what the base flags) is
:class:`~console.engine.detectors.ad_model.AdModel`'s business.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

from console.engine.detectors.ad_features import _sigmoid, rules_logit
from console.engine.detectors.ad_text import Analysis

COMMUNITY_LEARNING_RATE = 5.0
"""A community's own copy learns faster than the deployment's local table (it can: it never reaches
another community). Measured online on the development files: 5 is the best of 4-8 for zh_tieba
and zh_qq_campus, the same elsewhere."""
COMMUNITY_SKIP = 0.02
"""A verdict the community's copy already predicts within this distance of its label teaches it
nothing more. Measured online: 0.05 loses 0.01-0.02 F1 on zh_tieba and zh_game_chat."""
LOCAL_BIAS_RATE = 1.0
"""Verdicts move a community's bias (this community's share of ads against the base's), once per lesson.
Measured online (predict, then learn) on the development files: without it, a community whose ads
the rules don't see (zh_tieba: paid homework, "有问题可以来找我") stays at F1 0.53; with it, 0.79."""
LOCAL_BIAS_MAX = 6.0
"""A community's bias stays within +-this: a run of confirmed ads can never make every message an ad."""
LOCAL_AD_WEIGHT = 1.25
"""In a community's copy, an ad verdict weighs this much against a "not an ad" (as AD_WEIGHT in
training; measured online: 1.25 is +0.02 F1 on zh_tieba and zh_qq_campus, the same elsewhere; 1.5
lets the bias creep up)."""
LETTER_SHARE = 0.3
"""A community's copy learns single Latin letters and digits at this share of a lesson: they carry
a little ("x" for a masked number in zh_sms: online F1 0.963 without them, 0.974 at 0.3), and at full
weight they lean every message of the group one way (tg_spam_samples 0.89 -> 0.80)."""
BASE_SURE = 0.5
BASE_SHARE = 0.1
"""A community's copy learns the n-grams the base weighs at least BASE_SURE at BASE_SHARE of a lesson."""
EARLY_BOOST = 3.0
EARLY_LESSONS = 50.0
HAM_BOOST_SHARE = 0.5
LATIN_BOOST_SHARE = 0.3
"""A community's first verdicts teach its Chinese 2- and 3-grams at up to (1 + EARLY_BOOST) times the rate
(Latin ones, pieces of words, at LATIN_BOOST_SHARE of the boost; a "not an ad" at HAM_BOOST_SHARE of it),
half the boost left after EARLY_LESSONS lessons: a handful of verdicts should change the group's next
answers. Measured online from nothing, seed 0, F1 at 50/200/1000 messages: zh_sms 0.50/0.50/0.77 ->
0.57/0.53/0.79, zh_game_chat 0.50/0.58/0.70 -> 0.55/0.60/0.72, zh_tieba 0.54/0.79 -> 0.71/0.83 (all 331:
0.786 -> 0.807); whole files the same or better (tg_spam_samples 0.878 -> 0.884; a full boost on Latin
n-grams: 0.866). Boosting single characters, the bias or a "not an ad" fully let one "not an ad" clear
other ads that share a word with it (the tests)."""
_NOTHING: frozenset[str] = frozenset()
PRIOR_STRENGTH = 20.0
"""Starting AdaGrad accumulator of the local bias and the rules scale (squared gradients "already
seen"): the first verdicts move them by a fraction of what an ordinary weight moves."""
RULES_SCALE_RATE = 0.05
TRUST_RATE = 0.05
"""Rate of a training corpus's own scale on the rules (see ad_learning.train)."""
RULES_SCALE_RANGE = (-0.9, 1.0)
BASE_RULES_SCALE_RANGE = (-0.2, 0.5)
"""How much a community's verdicts may turn the rules down (never off) or up."""


@dataclass(slots=True)
class Table:
    """One weight table: n-gram -> weight, a bias, and AdaGrad accumulators (when it learns)."""

    w: dict[str, float] = field(default_factory=dict)
    bias: float = 0.0
    g: dict[str, float] = field(default_factory=dict)
    gb: float = 1.0

    def step(self, grams: Sequence[str], scale: float, grad: float, lr: float, bias_rate: float = 1.0) -> None:
        """One AdaGrad step of ``grad`` (= p - y, times the example weight) on every n-gram."""
        if bias_rate:
            self.gb += grad * grad
            self.bias -= bias_rate * lr * grad / math.sqrt(self.gb)
        gs = grad * scale
        gg = gs * gs
        step = lr * gs
        w, g = self.w, self.g
        wget, gget, sqrt = w.get, g.get, math.sqrt
        for t in grams:
            a = gget(t, 1.0) + gg
            g[t] = a
            w[t] = wget(t, 0.0) - step / sqrt(a)


@dataclass(slots=True)
class Community:
    """One community's own copy: what its verdicts taught beyond the deployment's local table.

    Its n-grams and Chinese characters (a single character is a word there: 卖, 收, 群; single Latin
    letters and digits at ``LETTER_SHARE``, spaces not at all), a bias (how many more or fewer ads than the base
    expects here) and a scale on the rules' log-odds (how much this community trusts the rules: a
    "no commerce" gaming group's ads are not the rules' ads). Bias and scale move every message of
    the community at once: once per lesson, from accumulators that start at ``PRIOR_STRENGTH``, so a
    handful of verdicts changes the next messages and no single one swings them.
    """

    table: Table = field(default_factory=lambda: Table(gb=PRIOR_STRENGTH))
    rules_scale: float = 0.0
    rules_scale_g: float = PRIOR_STRENGTH
    lessons: int = 0

    def correction(self, a: Analysis, grams: Sequence[str]) -> float:
        t = self.table
        m = t.bias + self.rules_scale * rules_logit(a.score)
        if grams and t.w:
            m += sum(filter(None, map(t.w.get, grams))) / math.sqrt(len(grams))
        return m

    def learn(self, a: Analysis, grams: Sequence[str], base_margin: float, y: float, weight: float,
              steps: int, base_sure: frozenset[str] | set[str] | None = None) -> None:
        """Steps on this copy while it mispredicts; ``base_margin``: the rules' and the global weights'."""
        t = self.table
        offset = rules_logit(a.score)
        scale = 1.0 / math.sqrt(len(grams)) if grams else 1.0
        # What the base is sure of (|weight| >= BASE_SURE) the copy learns at BASE_SHARE only: a community
        # may disagree with the base (its numbers are prices, not QQ ids), but slowly, so that its copy
        # keeps what the base knows. A base-less model (eval-ads online) learns everything freely.
        sure = base_sure or _NOTHING
        own_grams, pieces, chars, kept, letters = [], [], [], [], []
        for g in grams:
            if len(g) == 1:
                if g >= "\u2e80":
                    (kept if g in sure else chars).append(g)
                elif g != " ":
                    letters.append(g)
            elif g in sure:
                kept.append(g)
            elif max(g) >= "\u2e80":  # Chinese 2-3-grams are words (出号, 加微); Latin ones are pieces of words
                own_grams.append(g)
            else:
                pieces.append(g)
        # Early verdicts teach faster (EARLY_BOOST); a "not an ad" at half the boost, so that one of them
        # does not clear other ads that share a word with it.
        boost = EARLY_BOOST if y else EARLY_BOOST * HAM_BOOST_SHARE
        lr = COMMUNITY_LEARNING_RATE * (1.0 + boost * EARLY_LESSONS / (EARLY_LESSONS + self.lessons))
        for i in range(steps):
            p = _sigmoid(base_margin + self.correction(a, grams))
            if abs(p - y) < COMMUNITY_SKIP:
                break
            g = (p - y) * weight * (LOCAL_AD_WEIGHT if y else 1.0)
            # The early boost is for the Chinese 2- and 3-grams, which say something of their own: single
            # characters (，的 私), pieces of Latin words, and the bias and trust in the rules, which move
            # many or all of the group's messages at once, keep their pace (one verdict moves them a fraction).
            t.step(own_grams, scale, g, lr, 0.0)
            if pieces:
                t.step(pieces, scale, g, COMMUNITY_LEARNING_RATE + (lr - COMMUNITY_LEARNING_RATE) * LATIN_BOOST_SHARE, 0.0)
            t.step(chars, scale, g, COMMUNITY_LEARNING_RATE, LOCAL_BIAS_RATE if i == 0 else 0.0)
            if letters:
                t.step([x for x in letters if x not in sure], scale, g * LETTER_SHARE, COMMUNITY_LEARNING_RATE, 0.0)
            if kept:
                t.step(kept, scale, g * BASE_SHARE, COMMUNITY_LEARNING_RATE, 0.0)
            if i == 0:
                t.bias = min(LOCAL_BIAS_MAX, max(-LOCAL_BIAS_MAX, t.bias))
                gr = g * offset
                self.rules_scale_g += gr * gr
                # Over a base, how far the rules are right is part of what it knows: a copy may turn
                # them down only so far (BASE_RULES_SCALE_RANGE); with no base, as far as its verdicts say.
                lo, hi = BASE_RULES_SCALE_RANGE if base_sure else RULES_SCALE_RANGE
                self.rules_scale = min(hi, max(lo, self.rules_scale - RULES_SCALE_RATE * COMMUNITY_LEARNING_RATE * gr
                                               / math.sqrt(self.rules_scale_g)))
        self.lessons += 1
