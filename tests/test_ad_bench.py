"""tools/bench_ads.py's online baseline is scikit-learn's own: ``online_sgd`` (the same arithmetic over one
message's n-grams) answers as ``SGDClassifier.partial_fit`` one message at a time does. Only where the
``bench`` extra (scikit-learn) is installed."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytest.importorskip("sklearn")

ROOT = Path(__file__).resolve().parents[1]


def bench():
    spec = importlib.util.spec_from_file_location("bench_ads", ROOT / "tools" / "bench_ads.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_ads", mod)
    spec.loader.exec_module(mod)
    return mod


def test_online_sgd_is_partial_fit_one_message_at_a_time() -> None:
    b = bench()
    ads = [f"出vape {n}r 私聊 加v{n}" for n in range(100, 130)] + ["WIN a prize now, call 0800123456"] * 3
    ham = [f"今天第{n}局打得不错" for n in range(40)] + ["see you at 5", "lunch?", "ok thanks"]
    texts = [t for pair in zip(ads, ham) for t in pair]
    labels = [i % 2 == 0 for i in range(len(texts))]
    checked = b.check_online_sgd(texts, labels)  # raises if a flag or a weight differs
    assert checked["baseline_checked_messages"] == len(texts) and checked["baseline_max_weight_diff"] < 1e-9
    flagged, coef, _ = b.online_sgd(texts, labels)
    assert any(flagged) and not flagged[0] and coef.any()
