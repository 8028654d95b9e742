"""The model's n-gram sums for many messages at once, in numpy (when it is installed).

Scoring one message is pure Python (:meth:`AdModel.correction`): ~60 n-gram strings made and
looked up one by one, ~1 µs a character, about what scikit-learn's ``HashingVectorizer`` spends.
Scoring a file (``eval-ads``, ``tools/bench_ads.py``) goes through here instead: every message's
feature string in one array of code points, every 1-, 2- and 3-gram packed into one 64-bit
integer (21 bits a code point: a 3-gram fits exactly, and no gram holds code point 0, so the
lengths cannot collide), looked up in an open-addressing table built once per version of the
weights. No n-gram string is made; a message costs a few numpy passes over its characters.

The answers are the per-message ones: the packed key of an n-gram is exact (no hashing collisions:
the table compares whole keys), the weights are the same float64 values, and each message's weights
are added in the order :func:`features` lists its n-grams (1-grams, then 2-grams, then 3-grams;
``bincount`` adds in array order, and a missing n-gram adds 0.0, as ``filter(None, ...)`` skips it),
so the sums are bit for bit those of ``sum(filter(None, map(w.get, features(norm))))``
(``tests/test_ad_batch.py`` checks it on every kind of text; ``tools/bench_ads.py --check`` on every
row of the development files).

numpy is not a dependency of groupwatch (the live detector scores one message at a time, in pure
Python): without it, :func:`available` is false and callers score message by message.
"""
from __future__ import annotations

import math
import re
from typing import Sequence

from console.engine.detectors.ad_features import _END, _FOLD, _NEEDS_FOLD, _START, MODEL_CHARS

# An optional accelerator, present wherever scikit-learn is (tools/bench_ads.py's baseline). Imported at the
# first batch, not with the detector: the live path scores one message at a time, and numpy would cost a
# service about 15 MB of memory for nothing.
np = None
_looked = False

_SEPS = ("\uffff", "\ufffe", "\U0010ffff")
"""Between messages while their feature strings are made together: noncharacters, not whitespace, not
touched by the fold; the first that no text holds (if every one is held, the texts are scored one by one)."""
_FOLD_MORE = re.compile("[\x00-\x08\x0e-\x1b\x7f\u16a0-\u16ff]").search
"""What the fold does besides digits: runic letters dropped, control characters that are not whitespace
made spaces (\t\n\v\f\r and \x1c-\x1f are whitespace: the whitespace runs take them anyway)."""
_WHITESPACE = re.compile(r"\s+")
_MULT = 0x9E3779B97F4A7C15  # Fibonacci hashing: the top bits of key * this are the slot
MIN_BATCH = 8
"""Below this many messages, numpy's per-call cost outweighs what it saves."""


def available() -> bool:
    global np, _looked
    if not _looked:
        _looked = True
        try:
            import numpy
            np = numpy
        except ImportError:  # pragma: no cover - exercised only where numpy is missing
            pass
    return np is not None


def pack(gram: str) -> int:
    """The 64-bit key of an n-gram (1-3 characters): its code points, 21 bits each."""
    key = 0
    for ch in gram:
        key = (key << 21) | ord(ch)
    return key


class GramTable:
    """Packed n-gram keys -> weights, open addressing with linear probing (0 marks a free slot)."""

    __slots__ = ("keys", "vals", "shift", "mask", "probes")

    def __init__(self, weights: dict[str, float]) -> None:
        if not available():
            raise RuntimeError("the batch table needs numpy")
        grams = [t for t in weights if 0 < len(t) <= 3]
        n = len(grams)
        bits = max(4, (4 * n).bit_length())  # load factor at most 1/4: most misses stop at the first slot
        size = 1 << bits
        self.shift = np.uint64(64 - bits)
        self.mask = np.int64(size - 1)
        self.keys = np.zeros(size, dtype=np.uint64)
        self.vals = np.zeros(size, dtype=np.float64)
        self.probes = 0
        if not n:
            return
        keys = _pack_all(grams)
        vals = np.fromiter((weights[t] for t in grams), dtype=np.float64, count=n)
        slot = self._home(keys)
        pending = np.arange(n)
        # Insert in rounds: every key whose slot is free takes it (the first of several wanting the same
        # slot wins), the others move one slot on. ``probes`` is the longest way any key went.
        while pending.size:
            s = slot[pending]
            free = self.keys[s] == 0
            cand, cs = pending[free], s[free]
            won_slots, first = np.unique(cs, return_index=True)
            winners = cand[first]
            self.keys[won_slots] = keys[winners]
            self.vals[won_slots] = vals[winners]
            placed = np.zeros(n, dtype=bool)
            placed[winners] = True
            pending = pending[~placed[pending]]
            if pending.size:
                slot[pending] = (slot[pending] + 1) & self.mask
                self.probes += 1

    def _home(self, keys):
        return ((keys * np.uint64(_MULT)) >> self.shift).view(np.int64)  # < 2**bits: the view is the value

    def lookup(self, keys):
        """The weight of each key (0.0 where there is none)."""
        tk, tv, mask = self.keys, self.vals, self.mask
        slot = self._home(keys)
        found = tk[slot]
        hit = found == keys
        out = np.where(hit, tv[slot], 0.0)
        # Linear probing with inserts only: a key lies between its home slot and the first free one, so
        # only the keys that met another key go on, and none further than the longest insert went.
        todo = np.flatnonzero(~hit & (found != 0))
        keys, slot = keys[todo], slot[todo]
        for _ in range(self.probes):
            if not todo.size:
                break
            slot = (slot + 1) & mask
            found = tk[slot]
            hit = found == keys
            out[todo[hit]] = tv[slot[hit]]
            go_on = ~hit & (found != 0)
            todo, keys, slot = todo[go_on], keys[go_on], slot[go_on]
        return out


def _pack_all(grams: Sequence[str]):
    """:func:`pack` of every n-gram (each 1-3 characters), vectorised."""
    lens = np.fromiter(map(len, grams), dtype=np.int64, count=len(grams))
    cps = np.frombuffer("".join(grams).encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.uint64)
    starts = np.cumsum(lens) - lens
    keys = np.zeros(len(grams), dtype=np.uint64)
    for j in range(3):
        has = lens > j
        keys[has] = (keys[has] << np.uint64(21)) | cps[starts[has] + j]
    return keys


def feature_strings(norms: Sequence[str]) -> tuple[list[str], bool] | None:
    """What :func:`~console.engine.detectors.ad_features.features` makes n-grams of, for each text:
    its first ``MODEL_CHARS``, folded, whitespace runs as one space, stripped; None if a text holds the
    separators. With the flag true, the digits are still to fold (:func:`gram_sums` does it on the code
    points): when the fold has nothing else to do (no runic letter, no control character that is not
    whitespace), folding digits after the whitespace is the same as before it, and ``str.translate``
    with a dict costs ~0.1 µs a character."""
    parts = [n[:MODEL_CHARS] for n in norms]
    for sep in _SEPS:
        joined = sep.join(parts)
        if joined.count(sep) == len(parts) - 1:
            break
    else:
        return None
    digits_left = False
    if _NEEDS_FOLD(joined) is not None:
        if _FOLD_MORE(joined) is None:
            digits_left = True
        else:
            joined = joined.translate(_FOLD)
    # " ".join(s.split()) of each, as features() does, in three passes over all of them (str.split and
    # re's \s both split at the str.isspace() characters; the separators are not whitespace).
    joined = _WHITESPACE.sub(" ", joined).replace(" " + sep, sep).replace(sep + " ", sep)
    if joined.startswith(" "):
        joined = joined[1:]
    if joined.endswith(" "):
        joined = joined[:-1]
    return joined.split(sep), digits_left


def gram_sums(table: GramTable, strings: Sequence[str], fold_digits: bool = False):
    """(sum of each string's n-gram weights, its number of n-grams), as numpy arrays."""
    lens = np.fromiter(map(len, strings), dtype=np.int64, count=len(strings))
    big = _START + (_END + _START).join(strings) + _END
    c = np.frombuffer(big.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.uint64)
    if fold_digits:
        c[(c >= 0x31) & (c <= 0x39)] = 0x30
    msg = np.repeat(np.arange(len(strings)), lens + 2)  # the message of each position
    # The markers occur only as markers (the fold turned every control character into a space): an
    # n-gram belongs to one message when no end marker precedes its last character.
    inner = c != ord(_END)
    one = inner & (c != ord(_START))
    two = inner[:-1]
    three = two[:-1] & inner[1:-1]
    s21, s42 = np.uint64(21), np.uint64(42)
    k2 = (c[:-1] << s21) | c[1:]
    k3 = (c[:-2] << s42) | (c[1:-1] << s21) | c[2:]
    # All 1-grams, then all 2-grams, then all 3-grams: bincount adds in array order, so each message's
    # weights are added in the order features() lists its n-grams, as the per-message sum adds them.
    keys = np.concatenate((c[one], k2[two], k3[three]))
    owner = np.concatenate((msg[one], msg[:-1][two], msg[:-2][three]))
    sums = np.bincount(owner, weights=table.lookup(keys), minlength=len(strings))
    count = np.where(lens > 0, 3 * lens + 1, 0)
    return sums, count


def corrections(table: GramTable, bias: float, norms: Sequence[str]) -> list[float] | None:
    """``bias + (sum of n-gram weights) / sqrt(n-grams)`` of each normalised text (just ``bias`` for
    a text with none), as :meth:`AdModel.correction` computes it; None: score them one by one."""
    out = correction_array(table, bias, norms)
    return None if out is None else out.tolist()


def correction_array(table: GramTable, bias: float, norms: Sequence[str]):
    """:func:`corrections` as a numpy array."""
    if np is None or len(norms) < MIN_BATCH:
        return None
    made = feature_strings(norms)
    if made is None:
        return None
    strings, digits_left = made
    sums, count = gram_sums(table, strings, digits_left)
    out = np.full(len(strings), bias, dtype=np.float64)
    has = count > 0
    out[has] = bias + sums[has] / np.sqrt(count[has].astype(np.float64))
    return out


def scores(rules_scores: Sequence[float], corrections, rules_scale: float, logit) -> list[float]:
    """Each message's content score from the rules' score and the model's correction, as
    ``AdModel._score`` makes it for a message with no community copy and no verdict: ``c += rules_scale *
    logit(score)``, then the rules' score itself if ``c == 0`` else ``_sigmoid(logit(score) + c)``. The same
    IEEE operations one after the other, in numpy (additions, products and quotients of doubles are
    exact-rounded there as in Python); the exponentials with Python's ``math.exp`` (numpy's may differ in
    the last bit), so the answers are bit for bit the one-by-one ones."""
    logits = {p: logit(p) for p in set(rules_scores)}  # a few distinct rule scores
    p = np.array(rules_scores, dtype=np.float64)
    lo = np.array([logits[x] for x in rules_scores], dtype=np.float64)
    c = np.asarray(corrections, dtype=np.float64)
    if rules_scale:
        c = c + rules_scale * lo
    m = lo + c
    up = m >= 0.0
    arg = np.where(up, -np.minimum(m, 35.0), np.maximum(m, -35.0))
    e = np.fromiter(map(math.exp, arg.tolist()), dtype=np.float64, count=len(arg))
    out = np.where(up, 1.0 / (1.0 + e), e / (1.0 + e))
    return np.where(c == 0.0, p, out).tolist()
