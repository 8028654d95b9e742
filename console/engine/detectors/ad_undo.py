"""Taking a verdict back: what one lesson changed in the ad model, kept so that it can be reverted.

An operator's "not an ad" can be undone (the Alerts screen's `U`). Reopening the alert is not enough:
the model learned from the verdict, and the group's next messages would still be scored by what it
learned. So every verdict's lesson (:meth:`AdModel.learn_analysis` with ``lesson=`` the verdict's key)
records each weight it touched before and after (the community's copy: n-gram weights, their AdaGrad
accumulators, its bias, trust in the rules and lesson count; the deployment's local table; the verdict
memory by text), and :meth:`Lesson.revert` gives each back:

* an entry nothing changed since is set back to its value before the lesson, exactly (and removed if
  the lesson made it);
* an entry a later lesson also moved keeps that later change: only this lesson's delta is subtracted.

Only the newest ``KEPT`` lessons are kept (a few kB each); an older verdict is taken back by replaying
the remaining ones from the base (:meth:`AdLearning.forget`).
"""
from __future__ import annotations

import math
from array import array
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

from console.engine.detectors.ad_normalize import skeleton_of_squeezed
from console.engine.detectors.ad_text import Analysis
from console.engine.detectors.ad_weights import Community, Table

if TYPE_CHECKING:
    from console.engine.detectors.ad_model import AdModel

KEPT = 256
"""Lessons kept for an undo (the console keeps its last 50 commands)."""

_NONE = math.nan  # "no entry" in the arrays (a weight or accumulator is never NaN)


def _back(cur: float | None, old: float | None, new: float | None) -> float | None:
    """An entry's value with one lesson's change taken out (None: no entry)."""
    if cur == new or (cur is None and new is None):
        return old  # untouched since: exactly as before
    return (cur or 0.0) - ((new or 0.0) - (old or 0.0))


def _get(d: dict, keys: Sequence[str]) -> array:
    return array("d", (_NONE if (v := d.get(k)) is None else v for k in keys))


def _opt(x: float) -> float | None:
    return None if x != x else x  # NaN: no entry


@dataclass(slots=True)
class TableChange:
    """One table's entries as one lesson left them (only those it changed)."""

    keys: list[str]
    w_old: array
    g_old: array
    w_new: array
    g_new: array
    bias: tuple[float, float]
    gb: tuple[float, float]

    @classmethod
    def before(cls, table: Table, keys: Sequence[str]) -> "TableChange":
        keys = list(dict.fromkeys(keys))
        return cls(keys, _get(table.w, keys), _get(table.g, keys), array("d"), array("d"),
                   (table.bias, table.bias), (table.gb, table.gb))

    def after(self, table: Table) -> None:
        w_new, g_new = _get(table.w, self.keys), _get(table.g, self.keys)
        changed = [i for i in range(len(self.keys))
                   if not (_same(w_new[i], self.w_old[i]) and _same(g_new[i], self.g_old[i]))]
        self.keys = [self.keys[i] for i in changed]
        self.w_old = array("d", (self.w_old[i] for i in changed))
        self.g_old = array("d", (self.g_old[i] for i in changed))
        self.w_new = array("d", (w_new[i] for i in changed))
        self.g_new = array("d", (g_new[i] for i in changed))
        self.bias, self.gb = (self.bias[0], table.bias), (self.gb[0], table.gb)

    def revert(self, table: Table) -> None:
        w, g = table.w, table.g
        for i, k in enumerate(self.keys):
            for d, old, new in ((w, self.w_old[i], self.w_new[i]), (g, self.g_old[i], self.g_new[i])):
                v = _back(d.get(k), _opt(old), _opt(new))
                if v is None:
                    d.pop(k, None)
                else:
                    d[k] = v
        table.bias = _back(table.bias, *self.bias) or 0.0
        table.gb = _back(table.gb, *self.gb) or 0.0


def _same(a: float, b: float) -> bool:
    return a == b or (a != a and b != b)


def _scalars(c: Community) -> tuple[float, float, int]:
    return c.rules_scale, c.rules_scale_g, c.lessons


@dataclass(slots=True)
class Lesson:
    """What one verdict's lesson changed (see the module docstring)."""

    community: str | None
    created: bool
    own: TableChange | None
    own_scalars: tuple[tuple[float, float, int], tuple[float, float, int]] | None
    local: TableChange
    is_ad: bool
    squeezed: str
    ad_key: str | None
    ham_before: bool
    ad_before: bool

    @classmethod
    def start(cls, model: "AdModel", community: str | None, grams: Sequence[str], local_grams: Sequence[str],
              is_ad: bool, squeezed: str, ad_key: str | None) -> "Lesson":
        own = model.communities.get(community) if community is not None else None
        created = community is not None and own is None
        if created:
            own = Community()  # what a new copy starts from
        return cls(community, created,
                   TableChange.before(own.table, grams) if own is not None else None,
                   (_scalars(own), _scalars(own)) if own is not None else None,
                   TableChange.before(model.local, local_grams), is_ad, squeezed, ad_key,
                   squeezed in model.judged_ham, ad_key is not None and ad_key in model.judged_ads)

    def finish(self, model: "AdModel") -> None:
        own = model.communities.get(self.community) if self.community is not None else None
        if own is not None and self.own is not None and self.own_scalars is not None:
            self.own.after(own.table)
            self.own_scalars = (self.own_scalars[0], _scalars(own))
        self.local.after(model.local)

    def revert(self, model: "AdModel") -> None:
        """Take this lesson out of ``model`` (its merged weights and cache are the caller's to renew)."""
        own = model.communities.get(self.community) if self.community is not None else None
        if own is not None and self.own is not None and self.own_scalars is not None:
            self.own.revert(own.table)
            (rs, rsg, n), (rs1, rsg1, n1) = self.own_scalars
            own.rules_scale = _back(own.rules_scale, rs, rs1) or 0.0
            own.rules_scale_g = _back(own.rules_scale_g, rsg, rsg1) or 0.0
            own.lessons = max(0, own.lessons - (n1 - n))
            if self.created and own.lessons == 0:
                del model.communities[self.community]  # nothing else taught it: as if never made
        self.local.revert(model.local)
        if self.is_ad:
            if self.ham_before:
                model.judged_ham[self.squeezed] = None
            if self.ad_key is not None and not self.ad_before:
                model.judged_ads.pop(self.ad_key, None)
        elif not self.ham_before:
            model.judged_ham.pop(self.squeezed, None)


def _ad_key(squeezed: str) -> str:
    """An ad verdict's key in the memory by text: its skeleton (digits collapsed: the same ad with another id)."""
    return skeleton_of_squeezed(squeezed)


class VerdictMemory:
    """:class:`~console.engine.detectors.ad_model.AdModel`'s verdicts by text (``judged_ads``, ``judged_ham``)
    and the lessons kept to take a verdict back (``_lessons``, ``_merge``, ``_cache``: the model's)."""

    judged_ads: dict[str, None]
    judged_ham: dict[str, None]

    def judged(self, a: Analysis) -> bool | None:
        """The operator's verdict on this very text (an ad: also with other digits), if any."""
        if a.squeezed in self.judged_ham:
            return False
        if self.judged_ads and _ad_key(a.squeezed) in self.judged_ads:
            return True
        return None

    def remember(self, a: Analysis, is_ad: bool) -> None:
        """The verdict memory by text: this text (an ad: also with other digits) is judged so."""
        self._cache.clear()
        if is_ad:
            self.judged_ham.pop(a.squeezed, None)
            key = _ad_key(a.squeezed)
            if len(key.replace("#", "")) >= 2:  # not "#": every number would be an ad
                self.judged_ads[key] = None
        else:
            self.judged_ham[a.squeezed] = None

    def forget(self, lesson: str) -> bool:
        """Take back what the verdict ``lesson`` taught (see :mod:`ad_undo`); False if it is no longer kept."""
        record = self._lessons.pop(lesson, None)
        if record is None:
            return False
        record.revert(self)
        self._merge()  # the local weights it touched, in the merged table (and the batch table's version)
        self._cache.clear()
        self.learned -= 1
        return True

    def forget_all(self) -> None:
        """Everything learned since start: the base alone (before the remaining verdicts are replayed)."""
        self.communities.clear()
        self.judged_ads.clear()
        self.judged_ham.clear()
        self._lessons.clear()
        self.local = Table()
        self._cache.clear()
        self.learned = 0

