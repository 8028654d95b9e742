"""The model's features: the character 1-, 2- and 3-grams of the rules' normalised text.

They need no word segmenter, so Chinese, Russian and English work alike, and the normaliser
(:mod:`~console.engine.detectors.ad_text`) has already undone look-alike letters, full-width forms
and invisible characters. Digits are folded to ``0`` (an ad's QQ number changes, its shape doesn't).
Also here: the rules' score as log-odds (the model's offset) and the logistic.
"""
from __future__ import annotations

import math
import re
from operator import add

MODEL_CHARS = 300
"""Leading characters of the normalised text the model looks at (the rules look at more)."""

CLIP = 0.03
"""The rules' score is clipped to [CLIP, 1 - CLIP] before taking its log-odds."""


# Digits fold to 0; runic letters are dropped (in the zh_chat development set they mark
# spam and ham almost perfectly, an artefact of how it was collected that real chats don't
# have); control characters become spaces (and so can never collide with the markers).
_FOLD: dict[int, str | None] = {ord(d): "0" for d in "123456789"}
_FOLD.update({cp: None for cp in range(0x16A0, 0x1700)})
_FOLD.update({cp: " " for cp in range(0x20)})
_FOLD[0x7F] = " "
_START, _END = "\x02", "\x03"
_NEEDS_FOLD = re.compile("[0-9\u16a0-\u16ff\x00-\x1f\x7f]").search


def features(norm: str) -> list[str]:
    """The character 1-3-grams of a normalised text (2- and 3-grams see its start and end)."""
    s = norm[:MODEL_CHARS]
    if _NEEDS_FOLD(s) is not None:  # translate looks every character up: only when one needs it
        s = s.translate(_FOLD)
    s = " ".join(s.split())
    if not s:
        return []
    # The characters as a list once, then pairwise concatenation in C (map over two lists): iterating a
    # string makes a new object per (non-Latin-1) character each time; this is ~1.7x faster than
    # map over the strings and ~2.5x faster than slicing in a loop.
    chars = [_START, *s, _END]
    bigrams = list(map(add, chars, chars[1:]))
    out = chars[1:-1]
    out += bigrams
    out += map(add, bigrams, chars[2:])
    return out


def rules_logit(score: float) -> float:
    p = CLIP if score < CLIP else 1.0 - CLIP if score > 1.0 - CLIP else score
    return math.log(p / (1.0 - p))


def _sigmoid(m: float) -> float:
    if m >= 0:
        return 1.0 / (1.0 + math.exp(-min(m, 35.0)))
    e = math.exp(max(m, -35.0))
    return e / (1.0 + e)

