"""The learned half of the ``ad`` detector: character n-grams, logistic, on top of the rules.

Features are the character 1-, 2- and 3-grams of the rules' normalised text
(:func:`features`): they need no word segmenter, so Chinese, Russian and
English work alike, and the normaliser has already undone look-alike letters,
full-width forms and invisible characters. Digits are folded to ``0`` (an ad's
QQ number changes, its shape doesn't).

The model is a logistic regression trained **on top of the rules**: the rules'
score enters as a fixed offset (its log-odds), so a model that has learned
nothing scores exactly what the rules score, and training learns only what the
rules miss or over-weight. The margin is::

    logit(clip(rules score)) + bias + (sum of n-gram weights) / sqrt(number of n-grams)

Two weight tables are summed: ``shared`` (the base, trained on labelled files;
read-only at run time) and ``local`` (this deployment, learned from the
operator's verdicts). :func:`train` on several corpora gives each its own copy of
every weight besides the shared one ("frustratingly easy" domain adaptation,
Daumé 2007): what is peculiar to one corpus (SMS promotions, one chat room's
slang) is absorbed by that corpus's copy and does not bend the shared weights;
the copy of the community's own data becomes the local table, the others are
dropped (``eval-ads --holdout``). :func:`train_base` takes the configured files
as one body of the deployment's own data and keeps all it learned. Learning is
AdaGrad, one example at a time; an example already predicted within ``SKIP`` of
its label teaches nothing, which keeps the model sparse and training fast (all
four development files, 118k messages: ~15 s).

A verdict is given on a message in a group: it teaches that community's own copy
(:class:`~console.engine.detectors.ad_weights.Community`, seen only when scoring that group's messages) freely: its
n-grams and Chinese characters, a bias and a scale on the rules' log-odds, so a
handful of verdicts changes the group's next messages; then, with no trained base, with
care and at ``LOCAL_SHARE`` of its weight, the deployment's local weights that every group
sees (longer n-grams only, no bias: see :meth:`AdModel.learn_analysis`). Over a trained
base nothing a group teaches reaches other groups' weights, and a copy may raise a
message's score above the base's but never lower it (base + a one-sided delta): the
base is never written, and whatever a group teaches, its copy still flags what the base
flags (``tools/bench_ads.py --forgetting-only`` and the tests measure that); a
group's "not an ad" lowers by the verdict memory below. Verdicts are also remembered by text, so a verdict always
holds for the message it was given on: an ad again with another number in it is
flagged, a text marked "not an ad" is never flagged again.

The weight tables are :mod:`~console.engine.detectors.ad_weights`, the features
:mod:`~console.engine.detectors.ad_features`, the base as bytes :mod:`~console.engine.detectors.ad_blob`.

Scoring one message is pure Python: two C-level ``map`` passes over ~60 n-grams; a text seen
recently costs one dict lookup. Scoring many at once (:meth:`AdModel.probabilities`, used by
``eval-ads`` and ``tools/bench_ads.py``) goes through :mod:`~console.engine.detectors.ad_batch`
(numpy, where it is installed), with the same answers.

Persistence (a trained base in the store, verdicts as a log replayed on start)
is :class:`AdLearning`'s job; see its docstring.
"""
from __future__ import annotations

import logging
import math
from collections import OrderedDict
from typing import Sequence

from console.engine.detectors import ad_batch
from console.engine.detectors.ad_blob import ModelFileError, model_from_bytes, model_to_bytes
from console.engine.detectors.ad_features import _END, _START, _sigmoid, features, rules_logit
from console.engine.detectors.ad_text import AdRules, Analysis
from console.engine.detectors.ad_undo import KEPT as UNDO_KEPT
from console.engine.detectors.ad_undo import Lesson, VerdictMemory, _ad_key
from console.engine.detectors.ad_weights import BASE_SURE, Community, Table

log = logging.getLogger("groupwatch.ad_model")

LEARNING_RATE = 2.0
EPOCHS = 3
SKIP = 0.05
"""An example already predicted within this distance of its label teaches nothing."""
MAX_SOURCE_WEIGHT = 5.0
"""Every training file weighs the same in total, but one example never counts more than this many times."""
AD_WEIGHT = 1.5
"""Weight of an ad example against a ham one in training (ads are the rarer, costlier miss)."""
SHARED_BIAS_RATE = 0.3
"""With several training files, the shared bias learns slower than the weights: each file's own copy of the
bias absorbs its ad rate. Measured on the held-out splits: F1 the same or better than at 1.0."""
LEARN_STEPS = 3
"""Steps per verdict, while it is still mispredicted: a verdict should move the model, not just nudge it."""
LOCAL_LEARNING_RATE = 4.0
"""Verdicts teach faster than base examples. Measured: online F1 on zh_chat_obfuscated rises up to 4;
false alerts on the demo fleet after 200 foreign verdicts stay flat up to 4 and quadruple at 6."""
LOCAL_SHARE = 0.02
"""A verdict given in a community teaches the deployment's local weights (which every group sees) at
this weight, after the community's own copy has learned it."""
RAISE_GUARD = 4.0
"""Over a trained base, a community's copy raises a message the base takes for "not an ad" (margin m < 0)
by delta * RAISE_GUARD / (RAISE_GUARD + m^2): the surer the base, the less (half at m = -2). Measured
(bench_ads --forgetting-only): a copy that learned zh_chat_obfuscated (45% ads: its bias went to +4.7)
scored the other files 0.805 against the base's 0.846 when raising freely, 0.828 with this; its own
stream over the base 0.900 -> 0.872. Capping the copy's bias instead was worse (its n-grams took over)."""
MAX_COMMUNITIES = 5000
"""Communities (groups) with a copy of their own; the one taught longest ago goes first."""
JUDGED_AD_SCORE = 0.95
"""Content score of a text the operator marked as an ad (also with other digits in it)."""
JUDGED_HAM_SCORE = 0.0
"""Content score of a text the operator marked as not an ad (that exact text)."""
PRUNE = 0.1
"""Shared weights smaller than this are dropped after training: a quarter of the weights remain, and the
held-out F1 of zh_sms and zh_chat_obfuscated did not change (most are rare n-grams touched once)."""
CACHE_SIZE = 8192
"""Corrections remembered per normalised text (then the cache starts over)."""

class LabeledFileError(Exception):
    """A bad labelled file; ``str(e)`` is one line: ``<file>:<line>: <what is wrong>``."""



class AdModel(VerdictMemory):
    """Shared (base) weights plus this deployment's local weights, over the rules' log-odds.

    Satisfies the ``AdScorer`` protocol (``score``/``learn`` on raw text) and offers the
    detector its fast path, :meth:`content`, on the rules' :class:`Analysis` of a message.
    """

    def __init__(self, shared: Table | None = None, rules: AdRules | None = None, *,
                 local: Table | None = None, info: dict | None = None) -> None:
        # Bumped by every change of the merged weights: the batch table (ad_batch) is rebuilt after one.
        self._version = 0
        self._batch_table: tuple[int, object] | None = None
        self._shared = shared if shared is not None else Table()
        self.local = local if local is not None else Table()
        self.rules = rules if rules is not None else AdRules()
        self.info = info or {"base": "none"}  # where the base came from, for messages
        self.learned = 0  # examples taught since start (verdicts, replays, weak ham)
        # The base's (or a trained local corpus's) scale on the rules' log-odds; communities add theirs.
        self.rules_scale = 0.0
        # Each community's own copy (group id -> Community): what its verdicts taught beyond the
        # deployment's local table, seen only when scoring that community's messages.
        self.communities: OrderedDict[str, Community] = OrderedDict()
        # Normalised text -> correction: chats repeat themselves ("哈哈", "+1", an ad wave in every
        # group), and a hit costs one dict lookup instead of ~60. Emptied by every lesson but weak
        # ones (those change weights by a hair; the cache turns over by itself).
        self._cache: dict[str, float] = {}
        # The operator's verdicts remembered by text: an ad by its skeleton (digits collapsed: the
        # same ad with another id), "not an ad" by the exact squeezed text. The weights generalise
        # with care; these make sure a verdict holds for the message it was given on.
        self.judged_ads: dict[str, None] = {}
        self.judged_ham: dict[str, None] = {}
        # The newest verdicts' lessons by the verdict's key, to take one back (ad_undo).
        self._lessons: OrderedDict[str, Lesson] = OrderedDict()

    # The weights scored are shared + local in one dict, kept up to date by every lesson: one lookup
    # per n-gram instead of two halves the scoring time (the dicts are bigger than the CPU's caches).
    @property
    def shared(self) -> Table:
        return self._shared

    @shared.setter
    def shared(self, table: Table) -> None:
        self._shared = table
        self._merge()

    @property
    def local(self) -> Table:
        return self._local

    @local.setter
    def local(self, table: Table) -> None:
        self._local = table
        self._merge()

    def _merge(self) -> None:
        shared, local = getattr(self, "_shared", None), getattr(self, "_local", None)
        if shared is None or local is None:
            return
        self._version += 1
        if not local.w:
            self._w = shared.w  # nothing local: the base itself, not a copy
            return
        w = dict(shared.w)
        for t, v in local.w.items():
            w[t] = w.get(t, 0.0) + v
        if len(local.w) > 10_000:
            # A local table trained from files (eval-ads --holdout keeps the file's own copy) is not
            # pruned like the base: its negligible weights only make the dict slower to look into.
            w = {t: v for t, v in w.items() if abs(v) >= PRUNE}
        self._w = w

    def _merged_update(self, grams: Sequence[str]) -> None:
        """After a local lesson on ``grams``: the merged weights of those n-grams."""
        if self._w is self._shared.w:
            self._merge()
            return
        self._version += 1
        w, sget, lw = self._w, self._shared.w.get, self._local.w
        for t in grams:
            w[t] = sget(t, 0.0) + lw[t]

    # -- scoring -------------------------------------------------------------
    def correction(self, grams: Sequence[str]) -> float:
        """What the base and the deployment's local weights add to the rules' log-odds."""
        m = self._shared.bias + self._local.bias
        if grams:
            m += sum(filter(None, map(self._w.get, grams))) / math.sqrt(len(grams))
        return m

    def _combine(self, score: float, c: float) -> float:
        # No opinion: exactly the rules' score (not its clipped log-odds).
        return score if c == 0.0 else _sigmoid(rules_logit(score) + c)

    def _score(self, a: Analysis, weight: float, community: str | None = None,
               computed: float | None = None) -> tuple[float, float, bool | None]:
        """(content score, the model's correction, the operator's verdict on this text if any).
        ``computed``: :meth:`correction` of the text's n-grams, when already made (in a batch)."""
        cache = self._cache
        c = cache.get(a.norm)
        if c is None:
            shared, local = self._shared, self._local
            if shared.w or local.w or shared.bias or local.bias:
                c = self.correction(features(a.norm)) if computed is None else computed
                if len(cache) >= CACHE_SIZE:
                    cache.clear()
                cache[a.norm] = c
            else:
                c = 0.0  # nothing learned yet: the rules, for free
        if self.rules_scale:
            c += self.rules_scale * rules_logit(a.score)
        if community is not None and self.communities:
            own = self.communities.get(community)
            if own is not None:
                delta = own.correction(a, features(a.norm))
                # Over a trained base, a community's copy may raise a message's score, never lower it
                # (its "not an ad" verdicts hold by text, see judged), and raises less what the base is
                # sure is not an ad (RAISE_GUARD): whatever a group teaches its copy, the copy still
                # flags what the base flags and mostly clears what it clears. With no base, all of it.
                if not self._shared.w:
                    c += delta
                elif delta > 0.0:
                    m = rules_logit(a.score) + c
                    c += delta if m >= 0.0 else delta * RAISE_GUARD / (RAISE_GUARD + m * m)
        c *= weight
        p = self._combine(a.score, c)
        judged = self.judged(a) if self.judged_ham or self.judged_ads else None
        if judged is not None:
            p = max(p, JUDGED_AD_SCORE) if judged else min(p, JUDGED_HAM_SCORE)
        return p, c, judged

    def probability(self, a: Analysis, weight: float = 1.0, community: str | None = None) -> float:
        """The content score of a message: the rules' score corrected by the model (and by the
        copy of ``community``, the group it was said in, if its verdicts taught one)."""
        return self._score(a, weight, community)[0]

    def probabilities(self, analyses: Sequence[Analysis], weight: float = 1.0,
                      community: str | None = None) -> list[float]:
        """:meth:`probability` of each analysis, the same answers (and the same cache afterwards);
        the n-gram sums of many messages are made at once (:mod:`ad_batch`) where numpy is installed."""
        sums = None
        if len(analyses) >= ad_batch.MIN_BATCH and ad_batch.available():
            shared, local = self._shared, self._local
            if shared.w or local.w or shared.bias or local.bias:
                norms = [a.norm for a in analyses]
                sums = ad_batch.correction_array(self._gram_table(), shared.bias + local.bias, norms)
        if sums is None:
            return [self._score(a, weight, community)[0] for a in analyses]
        cache = self._cache
        listed = sums.tolist()
        if (weight != 1.0 or self.judged_ham or self.judged_ads or cache
                or (community is not None and community in self.communities)):
            # _score step by step (corrections cached before, maybe a hair stale after a weak lesson, win)
            score = self._score
            return [score(a, weight, community, c)[0] for a, c in zip(analyses, listed)]
        # The common case, _score's steps with nothing that does not apply (the same arithmetic, so the
        # same answers), in numpy: the base's scale on the rules, then the logistic. The cache afterwards
        # as scoring one by one leaves it (a text seen again in the batch has the same sums).
        for norm, c in zip(norms, listed):
            if norm not in cache:
                if len(cache) >= CACHE_SIZE:
                    cache.clear()
                cache[norm] = c
        return ad_batch.scores([a.score for a in analyses], listed, self.rules_scale, rules_logit)

    def _gram_table(self) -> "ad_batch.GramTable":
        """The merged weights as ad_batch's table, made again after any change of them."""
        made = self._batch_table
        if made is None or made[0] != self._version:
            made = self._batch_table = (self._version, ad_batch.GramTable(self._w))
        return made[1]

    def content(self, a: Analysis, weight: float = 1.0, community: str | None = None
                ) -> tuple[float, tuple[str, ...], bool | None]:
        """(content score, reasons, the operator's verdict on this text if any).
        A reason only when the model pushed towards "ad"."""
        p, c, judged = self._score(a, weight, community)
        if judged is not None:
            return p, ("you marked this text as an ad",) if judged else (), judged
        if c <= 0.1 or p < 0.5:
            return p, (), None
        return p, (self.reason(p, features(a.norm)),), None

    def reason(self, p: float, grams: Sequence[str]) -> str:
        words = self.explain(grams)
        return f"model {p:.2f}" + (f" ({', '.join(words)})" if words else "")

    def explain(self, grams: Sequence[str], k: int = 3) -> list[str]:
        """The n-grams that pushed hardest towards "ad", longer ones first, no overlaps: for the operator."""
        sw, lw = self.shared.w.get, self.local.w.get
        weights = {}
        for t in grams:
            shown = t.strip(_START + _END).strip()
            if len(shown) >= 2:
                v = sw(t, 0.0) + lw(t, 0.0)
                if v >= 0.5:
                    weights[shown] = max(v, weights.get(shown, 0.0))
        out: list[str] = []
        for shown, _ in sorted(weights.items(), key=lambda kv: (-kv[1] * len(kv[0]), kv[0])):
            if len(out) >= k:
                break
            if not any(shown in o or o in shown for o in out):
                out.append(shown)
        return out

    def score(self, text: str) -> tuple[float, tuple[str, ...]]:
        """``AdScorer``: the content score of a raw text (rules included) and every reason."""
        a = self.rules.analyze(text)
        p, reasons, _ = self.content(a)
        return p, a.reasons + reasons

    # -- learning ------------------------------------------------------------
    def learn(self, text: str, is_ad: bool, weight: float = 1.0, community: str | None = None,
              lesson: str | None = None) -> None:
        """``AdScorer``: learn one verdict on a raw text (said in ``community``, if known)."""
        self.learn_analysis(self.rules.analyze(text), is_ad, weight, community=community, lesson=lesson)

    def learn_analysis(self, a: Analysis, is_ad: bool, weight: float = 1.0, steps: int = LEARN_STEPS,
                       community: str | None = None, lesson: str | None = None) -> None:
        """Learn a lesson: the deployment's local weights with care (they reach every group), then
        the copy of ``community`` (the group the message was said in) freely. A full-weight lesson
        (a verdict) is also remembered by text; a weak one (weight < 1) only nudges the weights.
        ``lesson``: the verdict's key; what the lesson changes is kept so that :meth:`forget` can take it back."""
        grams = features(a.norm)
        record = None
        if lesson is not None:
            key = _ad_key(a.squeezed) if is_ad else None
            record = Lesson.start(self, community, grams, [t for t in grams if len(t) > 1], is_ad, a.squeezed,
                                  key if key is not None and len(key.replace("#", "")) >= 2 else None)
        offset = rules_logit(a.score) * (1.0 + self.rules_scale)
        y = 1.0 if is_ad else 0.0
        scale = 1.0 / math.sqrt(len(grams)) if grams else 1.0
        # The community's copy first: it learns freely what this group's verdicts say; the local
        # weights (every group sees them) then learn only what the copy still gets wrong.
        own = self._community(community) if community is not None else None
        extra = 0.0
        if own is not None:
            sure = self._base_sure()
            own.learn(a, grams, offset + self.correction(grams), y, weight, steps, sure)
            extra = own.correction(a, grams)
        # Local: not the single characters, and no bias: with the rules' offset, ordinary messages
        # are already "right" and teach nothing, so local weights only ever hear one side. Common
        # characters (的, 我, a space, a digit) would soon mark everything as an ad, and a bias
        # would move every message at once, in every group.
        local_grams = [t for t in grams if len(t) > 1]
        # Over a trained base, a community's verdicts stay in its copy (and the verdict memory): the
        # local weights every group sees could only make other groups unlearn what the base knows
        # (bench_ads --forgetting-only: 0.02 of each zh_sms verdict cost other files 0.03 F1).
        share = weight if own is None else 0.0 if self._shared.w else weight * LOCAL_SHARE
        for _ in range(steps if share else 0):
            p = _sigmoid(offset + self.correction(grams) + extra)
            if abs(p - y) < SKIP:
                break
            self._local.step(local_grams, scale, (p - y) * share, LOCAL_LEARNING_RATE, 0.0)
            self._merged_update(local_grams)
        if weight >= 1.0:
            self.remember(a, is_ad)
        self.learned += 1
        if record is not None:
            record.finish(self)
            lessons = self._lessons
            lessons.pop(lesson, None)
            lessons[lesson] = record
            while len(lessons) > UNDO_KEPT:
                del lessons[next(iter(lessons))]

    def _base_sure(self) -> frozenset[str]:
        """The n-grams the base is sure of (see Community.learn), computed once per base."""
        sure = getattr(self, "_sure", None)
        if sure is None or sure[0] is not self._shared.w:
            sure = (self._shared.w, frozenset(t for t, v in self._shared.w.items() if abs(v) >= BASE_SURE))
            self._sure = sure
        return sure[1]

    def _community(self, key: str) -> "Community":
        own = self.communities.get(key)
        if own is None:
            own = self.communities[key] = Community()
            if len(self.communities) > MAX_COMMUNITIES:
                self.communities.popitem(last=False)
        else:
            self.communities.move_to_end(key)
        return own

    def fresh(self) -> "AdModel":
        """The same base with nothing learned locally (shares the read-only base weights)."""
        model = AdModel(self.shared, self.rules, info=self.info)
        model.rules_scale = self.rules_scale
        return model

    @property
    def size(self) -> int:
        """Weights held (shared + local)."""
        return len(self.shared.w) + len(self.local.w)

    # -- the base as bytes -----------------------------------------------------
    def to_bytes(self) -> bytes:
        """The shared weights as a compact blob (the local ones are rebuilt from the verdict log)."""
        return model_to_bytes(self)

    @classmethod
    def from_bytes(cls, blob: bytes, rules: AdRules | None = None) -> "AdModel":
        return model_from_bytes(cls, blob, rules)

# Training, labelled files and persistence live in ad_learning, which builds on this module; they are
# still reachable from here (PEP 562), without importing it at import time (no import cycle).
_MOVED = frozenset({"BASE_DB", "MAX_VERDICTS", "VERDICT_DB", "AdLearning", "Example", "Verdict", "fingerprint",
                    "read_labeled", "train", "train_base"})


def __getattr__(name: str):
    if name in _MOVED:
        from console.engine.detectors import ad_learning

        return getattr(ad_learning, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["AdLearning", "AdModel", "LabeledFileError", "ModelFileError", "Table", "Verdict", "features",
           "read_labeled", "rules_logit", "train", "train_base"]
