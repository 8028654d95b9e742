"""The ``ad`` detector: content rules, a learned model, newcomers, cross-group repeats.

Per message (hot path, tens of microseconds):

1. ``allow_members`` are never flagged; only ``Message`` events are looked at.
2. :class:`~console.engine.detectors.ad_text.AdRules` scores the normalised
   text (contact ids, contact/selling/adult/scam words, links, filter evasion,
   configured keywords and regexes); every signal is a (reason, weight) pair,
   combined with noisy-or.
3. The learned model (:class:`~console.engine.detectors.ad_model.AdModel`, given
   by ``AdLearning.attach``) corrects the rules' score: it was trained on top of
   them, so it can raise it (words this community's ads use) or lower it (what
   the operator said is not an ad here); ``model_weight`` scales the correction.
   Any other :class:`AdScorer` is combined with the rules by noisy-or.
   The group's policy (:mod:`~console.engine.detectors.ad_policy`: ``no_commerce``,
   ``no_links``) adds its own signals to the rules' analysis before the model sees it.
4. A newcomer's first messages get ``newcomer_boost``, but only if some
   content signal already fired: a newcomer saying "hi" is not an ad. Under
   ``strict_newcomers`` one with a contact, link, card or image is held for review.
5. The same text (its :func:`~console.engine.detectors.ad_text.skeleton`)
   seen in ``repeat_groups`` distinct groups within ``repeat_window_s`` is a
   cross-group repeat: a strong reason on its own, and a high-severity alert.
   When a repeat is first established, the earlier copies in the other groups
   are reported too (once each), so the operator can clean up everywhere.
6. An unflagged message from an established member (not a newcomer, at least
   ``WEAK_HAM_MIN_MESSAGES`` seen) in a group without an ad finding for a day is,
   at ``weak_ham_rate``, learned by the model as a weak "not an ad".
"""
from __future__ import annotations

import logging
from typing import Iterable, Protocol, runtime_checkable

from connectors.events import Event, Message
from console.engine.detectors.ad_policy import NEWCOMER_HOLD_WEIGHT, Policies, Policy
from console.engine.detectors.ad_qr import card_signals
from console.engine.detectors.ad_text import AdRules, Analysis, noisy_or, skeleton_of_squeezed
from console.engine.detectors.base import Context, Finding, Severity
from console.engine.settings import AdSettings

log = logging.getLogger(__name__)

HOUR = 3600.0

EXCERPT_CHARS = 200
"""Characters of the original message kept as the finding's excerpt."""

REPEAT_MIN_DISTINCT_CHARS = 4
"""A repeat key needs this many distinct characters: "哈哈哈哈哈哈哈哈" or "+1+1+1+1" is not an ad."""

REPEAT_INDEX_MAX_KEYS = 50_000
"""Upper bound on texts remembered for repeat detection (memory bound for huge fleets)."""

REPEAT_MAX_COPIES = 32
"""Copies of one text remembered per key; more groups than this is a repeat anyway."""

WEAK_HAM_MIN_MESSAGES = 20
"""Messages seen from a member before their unflagged ones may teach the model "not an ad"."""
HEALTHY_AFTER_S = 86400.0
"""A group with no ad finding for this long is healthy (its unflagged messages may be weak ham)."""
WEAK_HAM_WEIGHT = 0.2
"""Weight of a weak "not an ad" against an operator's verdict (and one learning step, not several)."""


@runtime_checkable
class AdScorer(Protocol):
    """The seam for a learned model.

    ``score`` gets the raw message text (``ad_text.normalize``/``skeleton`` are
    there for features) and returns the probability (0..1) that it is an ad and
    the reasons to show an operator. Return reasons only when the probability is
    evidence of an ad (e.g. "model 0.93 (出号, 日结)"): a non-empty
    reason counts as a content signal for the newcomer boost. ``learn`` takes
    an operator's verdict (warn/blacklist = ad, "not an ad" = ham).
    Both must be cheap: ``score`` runs on every message.

    A scorer that also has ``content(analysis, weight, community=) -> (score, reasons, judged)``
    and ``learn_analysis(analysis, is_ad, weight, steps, community=)`` (the :class:`AdModel`)
    is given the rules' analysis and the group the message was said in (its community: a
    copy of the model that its verdicts taught), and returns the content score itself, rules
    included, and the operator's verdict on that very text if there is one
    (False: never flagged again, whatever the context); any other scorer is
    combined with the rules by noisy-or.
    """

    def score(self, text: str) -> tuple[float, tuple[str, ...]]: ...

    def learn(self, text: str, is_ad: bool) -> None: ...


# One remembered copy of a text, for repeats: a list, not an object (cheapest on the hot path).
_AT, _GROUP, _MEMBER, _MSG_ID, _EXCERPT, _REPORTED = range(6)


class AdDetector:
    name = "ad"

    def __init__(self, settings: AdSettings, scorer: AdScorer | None = None) -> None:
        self.settings = settings
        self.rules = AdRules.from_settings(settings)
        self.policies = Policies(settings.policy, settings.policies)
        self.scorer = scorer
        self._allow_members = frozenset(settings.allow_members)
        self._repeats: dict[str, list[list]] = {}  # skeleton -> copies in the window
        self._flagged_at: dict[str, float] = {}  # group -> last ad finding there
        self._weak_due = 0.0  # weak-ham sampling: a lesson each time this passes 1

    @property
    def scorer(self) -> AdScorer | None:
        return self._scorer

    @scorer.setter
    def scorer(self, scorer: AdScorer | None) -> None:
        self._scorer = scorer
        # Looked up once, not per message: the model's fast path on the rules' analysis.
        self._content = getattr(scorer, "content", None)
        self._learn_analysis = getattr(scorer, "learn_analysis", None)

    # -- learning seam -------------------------------------------------------
    def learn(self, text: str, is_ad: bool) -> None:
        """Pass an operator's verdict on a message to the learned scorer (if any)."""
        if self._scorer is not None:
            self._scorer.learn(text, is_ad)

    # -- Detector protocol ---------------------------------------------------
    def on_event(self, event: Event, ctx: Context) -> Iterable[Finding]:
        if type(event) is not Message:
            return ()
        s = self.settings
        if not s.enabled or event.sender in self._allow_members:
            return ()
        text = event.text
        if not text:
            return ()
        a, policy = self._analyze(text, event.group, ctx)
        score = a.score
        reasons = [r for r, _ in a.signals]

        p = 0.0
        if self._content is not None:
            try:
                p, extra, judged = self._content(a, s.model_weight, community=event.group)
            except Exception:  # a broken model must not take the rules down with it
                log.exception("ad model failed; rules only for this message")
                p, extra, judged = score, (), None
            if judged is False:
                return ()  # the operator said this very text is not an ad
            score = p
            reasons.extend(extra)
        elif self._scorer is not None:
            try:
                p, extra = self._scorer.score(text)
                p = min(1.0, max(0.0, float(p)))
            except Exception:  # a broken model must not take the rules down with it
                log.exception("ad scorer failed; rules only for this message")
                p, extra = 0.0, ()
            score = 1.0 - (1.0 - score) * (1.0 - p)
            reasons.extend(extra)

        ms = ctx.stats.member(event.group, event.sender)
        newcomer = (ms is not None and ms.joined_at is not None and ms.messages_seen <= s.newcomer_messages
                    and event.at - ms.joined_at <= s.newcomer_hours * HOUR)
        repeat_groups, unreported = self._repeat(a.squeezed, event, s)
        if repeat_groups and not reasons and not newcomer and len(a.squeezed) < s.repeat_alone_min_chars:
            repeat_groups, unreported = 0, []  # an everyday line from a regular, seen elsewhere by chance
        if repeat_groups:
            score = 1.0 - (1.0 - score) * (1.0 - s.repeat_weight)
            reasons.insert(0, f"same text in {repeat_groups} groups within {_span(s.repeat_window_s)}")

        if newcomer and policy is not None and policy.newcomers:
            hold = policy.newcomer_hold(a, text)
            if hold is not None:
                score = max(score, 1.0 - (1.0 - score) * (1.0 - NEWCOMER_HOLD_WEIGHT))
                reasons.append(hold)
        if reasons and s.newcomer_boost > 0:
            if newcomer:
                score = min(1.0, score + s.newcomer_boost)
                reasons.append(f"newcomer: joined {_span(event.at - ms.joined_at)} ago, message {max(ms.messages_seen, 1)}")

        if score < s.threshold:
            if (s.weak_ham_rate > 0 and self._learn_analysis is not None and not newcomer and ms is not None
                    and ms.messages_seen >= WEAK_HAM_MIN_MESSAGES and not repeat_groups):
                self._weak_ham(a, event)
            return ()
        self._flagged_at[event.group] = event.at
        if not reasons:  # only the model spoke, without words of its own
            reasons.append(f"learned model: {p:.2f}")
        rounded = round(score, 3)
        numbers: dict[str, float | int | str | list] = {"score": rounded}
        if repeat_groups:
            numbers["groups"] = repeat_groups
        high = score >= s.high_threshold or bool(repeat_groups)
        findings = [Finding(
            kind="ad",
            severity=Severity.HIGH if high else Severity.MEDIUM,
            group=event.group,
            member=event.sender,
            reasons=tuple(reasons),
            at=event.at,
            excerpt=text[:EXCERPT_CHARS],
            message_id=event.id,
            score=rounded,
            numbers=numbers,
        )]
        # Earlier copies of a repeat in other groups: reported once, when the repeat is established,
        # so the operator can clean up everywhere. Copies in this group are covered by this finding.
        for c in unreported:
            c[_REPORTED] = True
            if c[_GROUP] == event.group:
                continue
            findings.append(Finding(
                kind="ad",
                severity=Severity.HIGH,
                group=c[_GROUP],
                member=c[_MEMBER],
                reasons=(reasons[0], f"same text later in {_group_name(ctx, event.group)}"),
                at=c[_AT],
                excerpt=c[_EXCERPT],
                message_id=c[_MSG_ID],
                score=rounded,
                numbers=dict(numbers),
            ))
        return findings

    def _analyze(self, text: str, group: str, ctx: Context) -> tuple[Analysis, Policy | None]:
        """The rules' analysis, with the signals of cards in the text and of the group's policy."""
        a = self.rules.analyze(text)
        if "card" in text and "[" in text:  # contact, group-invite and mini-program cards, as connectors write them
            extra = card_signals(text)
            if extra:
                signals = a.signals + extra
                a = Analysis(a.norm, a.squeezed, noisy_or(w for _, w in signals), signals)
        policy = None
        if self.policies.any_set:
            g = ctx.stats.groups.get(group)
            policy = self.policies.for_group(group, g.tags if g is not None else ())
            if policy.active:
                a = policy.apply(a)  # before the model: its verdicts are learned on top of the group's policy
        return a, policy

    def text_score(self, text: str, group: str, ctx: Context) -> tuple[float, list[str], bool | None]:
        """(content score, reasons, the operator's verdict on this text if any) of ``text`` as said in
        ``group``: rules, cards, the group's policy and the model, without newcomer or repeat context.
        The media scanner adds a message's own text to what its images showed."""
        a, _ = self._analyze(text, group, ctx)
        reasons = [r for r, _ in a.signals]
        if self._content is not None:
            try:
                p, extra, judged = self._content(a, self.settings.model_weight, community=group)
            except Exception:
                log.exception("ad model failed; rules only for this text")
                return a.score, reasons, None
            return p, reasons + list(extra), judged
        return a.score, reasons, None

    def _weak_ham(self, a, event: Message) -> None:
        """An established member's unflagged message in a healthy group: sometimes, a weak "not an ad"."""
        last = self._flagged_at.get(event.group)
        if last is not None and event.at - last < HEALTHY_AFTER_S:
            return
        self._weak_due += self.settings.weak_ham_rate
        if self._weak_due < 1.0:
            return
        self._weak_due -= 1.0
        try:
            self._learn_analysis(a, False, WEAK_HAM_WEIGHT, 1, community=event.group)
        except Exception:
            log.exception("ad model failed to learn a weak lesson")

    def on_tick(self, ctx: Context) -> Iterable[Finding]:
        self.prune(ctx.now)
        return ()

    # -- cross-group repeats -------------------------------------------------
    def _repeat(self, squeezed: str, ev: Message, s: AdSettings) -> tuple[int, list[list]]:
        """Remember this message; return (distinct groups within the window if that makes a
        repeat else 0, copies in this window not reported yet, this one included)."""
        if s.repeat_groups < 2 or len(squeezed) < s.repeat_min_chars:  # repeat_groups 0 or 1: off
            return 0, []
        key = skeleton_of_squeezed(squeezed)
        if len(key) < s.repeat_min_chars:
            return 0, []
        text = ev.text
        me = [ev.at, ev.group, ev.sender, ev.id, text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS], False]
        repeats = self._repeats
        copies = repeats.get(key)
        if copies is None:
            if len(repeats) >= REPEAT_INDEX_MAX_KEYS:
                self._shrink(ev.at)
            repeats[key] = [me]
            return 0, []
        since = ev.at - s.repeat_window_s
        if copies[0][_AT] < since:
            copies[:] = [c for c in copies if c[_AT] >= since]
        copies.append(me)
        if len(copies) > REPEAT_MAX_COPIES:
            del copies[0]
        if len(copies) < s.repeat_groups:
            return 0, []
        n = len({c[_GROUP] for c in copies})
        if n < s.repeat_groups or len(set(key)) < REPEAT_MIN_DISTINCT_CHARS:
            return 0, []
        return n, [c for c in copies if not c[_REPORTED]]

    def prune(self, now: float) -> None:
        """Forget copies older than the repeat window (called on every tick)."""
        since = now - self.settings.repeat_window_s
        dead = []
        for key, copies in self._repeats.items():
            if copies[-1][_AT] < since:
                dead.append(key)
            elif copies[0][_AT] < since:
                copies[:] = [c for c in copies if c[_AT] >= since]
        for key in dead:
            del self._repeats[key]

    def _shrink(self, now: float) -> None:
        self.prune(now)
        if len(self._repeats) >= REPEAT_INDEX_MAX_KEYS:
            # Still full within one window: drop the oldest-inserted tenth.
            drop = max(1, REPEAT_INDEX_MAX_KEYS // 10)
            for key in list(self._repeats)[:drop]:
                del self._repeats[key]

    @property
    def repeat_index_size(self) -> int:
        return len(self._repeats)


def _group_name(ctx: Context, group_id: str) -> str:
    g = ctx.stats.groups.get(group_id)
    return g.name if g is not None else group_id


def _span(seconds: float) -> str:
    """15 min, 2 h, 3 d, 40 s."""
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{int(seconds)} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.3g} min"
    if seconds < 48 * HOUR:
        return f"{int(seconds // HOUR)} h"
    return f"{int(seconds // 86400)} d"


__all__ = ["AdDetector", "AdScorer", "AdRules"]
