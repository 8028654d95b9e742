"""The scikit-learn baseline of ``tools/bench_ads.py``: hashing char 1-3-grams, SGD with log loss, static
(``fit``) and online (``partial_fit`` one message at a time, each weighted 5, as :func:`online_sgd` computes
it and :func:`check_online_sgd` checks it). A dev tool, not part of the package."""
from __future__ import annotations

import math
import random

import numpy as np
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import SGDClassifier

from console.eval_ads import curve_of, f1_of

VERDICT_WEIGHT = 5.0


def vectorizer() -> HashingVectorizer:
    return HashingVectorizer(analyzer="char", ngram_range=(1, 3), alternate_sign=False)


def baseline_static(keep, held):
    """(F1 on ``held``, the vectorizer, the fitted classifier)."""
    hv = vectorizer()
    clf = SGDClassifier(loss="log_loss", random_state=0)
    clf.fit(hv.transform([t for t, _ in keep]), np.array([int(y) for _, y in keep]))
    pred = clf.predict(hv.transform([t for t, _ in held]))
    return f1_of([y for _, y in held], [bool(p) for p in pred]), hv, clf


def online_sgd(texts: list[str], labels: list[bool], weight: float = VERDICT_WEIGHT,
               alpha: float = 1e-4) -> tuple[list[bool], "np.ndarray", float]:
    """The baseline online: each text predicted, then ``SGDClassifier(loss="log_loss").partial_fit`` on it
    alone with ``sample_weight=weight``, as scikit-learn computes it (``_plain_sgd``: the "optimal" rate
    1 / (alpha (t0 + t - 1)), L2 decay as a scale on the weights, the half-binomial gradient, a sparse
    input's intercept moved at 0.01), in numpy over the rows of one hashed matrix. One ``partial_fit`` call
    copies and rescales all 2^20 weights (~17 ms a message here, 40 min for zh_sms); this is the same sum
    over the message's n-grams only. (flags, coef, intercept); :func:`baseline_online` checks it against
    ``partial_fit`` itself on the first ``BASELINE_CHECK`` messages of every stream."""
    X = vectorizer().transform(texts).tocsr()
    X.sum_duplicates()
    w = np.zeros(X.shape[1])
    wscale, b = 1.0, 0.0
    typw = math.sqrt(1.0 / math.sqrt(alpha))
    opt_init = 1.0 / (typw * alpha)  # the half-binomial gradient at (1, -typw) is negative: eta0 = typw
    ip, ind, dat = X.indptr, X.indices, X.data
    exp = math.exp
    flagged = []
    for i, y in enumerate(labels):
        s, e = ip[i], ip[i + 1]
        idx, x = ind[s:e], dat[s:e]
        p = float(w[idx] @ x) * wscale + b
        flagged.append(p > 0)  # predict: decision_function > 0 (all zero before the first lesson: False)
        eta = 1.0 / (alpha * (opt_init + i))
        yt = 1.0 if y else 0.0
        if p > -37:
            et = exp(-p)
            g = ((1 - yt) - yt * et) / (1 + et)
        else:
            g = exp(p) - yt
        update = -eta * g * weight
        wscale *= max(0.0, 1.0 - eta * alpha)
        if update != 0.0:
            w[idx] += x * (update / wscale)
        b += update * 0.01
        if wscale < 1e-9:
            w *= wscale
            wscale = 1.0
    return flagged, w * wscale, b


BASELINE_CHECK = 150
"""Messages of each online stream also run through ``partial_fit`` itself: the flags must be the same."""


def check_online_sgd(texts: list[str], labels: list[bool]) -> dict:
    """:func:`online_sgd` against ``SGDClassifier.partial_fit`` one message at a time: the same flags, the
    same weights (to rounding). Raises if not: a baseline figure must be scikit-learn's."""
    texts, labels = texts[:BASELINE_CHECK], labels[:BASELINE_CHECK]
    flags, coef, b = online_sgd(texts, labels)
    hv = vectorizer()
    X = hv.transform(texts)
    clf = SGDClassifier(loss="log_loss", random_state=0)
    w, classes, ref = np.array([VERDICT_WEIGHT]), np.array([0, 1]), []
    for i, y in enumerate(labels):
        ref.append(bool(clf.predict(X[i:i + 1])[0]) if i else False)
        clf.partial_fit(X[i:i + 1], np.array([int(y)]), classes=classes, sample_weight=w)
    diff = float(np.abs(coef - clf.coef_[0]).max())
    if ref != flags or diff > 1e-9 or abs(b - clf.intercept_[0]) > 1e-9:
        raise AssertionError(f"online_sgd differs from partial_fit: {sum(a != c for a, c in zip(ref, flags))} "
                             f"flags, weights by {diff}")
    return {"baseline_checked_messages": len(texts), "baseline_max_weight_diff": diff}


def baseline_online(rows, seed: int) -> tuple[dict[int, float], dict]:
    """(the baseline's learning curve on the seeded stream, the check against partial_fit)."""
    order = list(rows)
    random.Random(seed).shuffle(order)
    texts, labels = [t for t, _ in order], [y for _, y in order]
    checked = check_online_sgd(texts, labels)
    flagged, _, _ = online_sgd(texts, labels)
    return curve_of(labels, flagged), checked
