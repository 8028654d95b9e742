"""The ad detector against a scikit-learn baseline, in one run (a dev tool, not part of the package).

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python tools/bench_ads.py                       # every ../shared/data/ads/*.jsonl
    .venv/bin/python tools/bench_ads.py FILE... [--seed N] [--holdout F] [--policy P] [--json]

Per file, both systems see the same rows in the same order:

* static: a seeded split; the fraction ``--holdout`` (0.2) is scored, the rest trained on
  (ours: ``eval-ads --holdout``, the file's rest as the community's own data; the baseline:
  ``SGDClassifier.fit`` on the same rows).
* online: a seeded shuffle, each message predicted then learned (ours: ``eval-ads --mode
  online`` from no base; the baseline: ``partial_fit`` one message at a time, each weighted 5,
  as the issue's "each verdict weighted 5"). F1 over the first 50, 200, 1000 and all messages.
* speed: scoring the held-out rows, ours message by message (rules + model, as the detector
  does) against the baseline's batch ``transform`` + ``predict``; ratio > 1 means ours is faster.

Baseline: ``HashingVectorizer(analyzer="char", ngram_range=(1, 3))`` +
``SGDClassifier(loss="log_loss")``, scikit-learn defaults otherwise. Runic letters U+16A0..U+16FF
are removed from every text for both (an artefact of zh_chat_obfuscated that leaks the label; our
features drop them too).
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import random
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402
from sklearn.feature_extraction.text import HashingVectorizer  # noqa: E402
from sklearn.linear_model import SGDClassifier  # noqa: E402

from console.eval_ads import curve_of, f1_of, score_online, score_static, split  # noqa: E402
from console.engine.detectors.ad_model import AdModel, read_labeled, train  # noqa: E402
from console.engine.detectors.ad_text import AdRules  # noqa: E402
from console.engine.settings import AdSettings  # noqa: E402

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data", "ads")
_RUNIC = re.compile("[\u16a0-\u16ff]")
VERDICT_WEIGHT = 5.0


def vectorizer() -> HashingVectorizer:
    return HashingVectorizer(analyzer="char", ngram_range=(1, 3), alternate_sign=False)


def baseline_static(keep, held) -> tuple[float, float]:
    """(F1, seconds to score ``held`` in one batch)."""
    hv = vectorizer()
    clf = SGDClassifier(loss="log_loss", random_state=0)
    clf.fit(hv.transform([t for t, _ in keep]), np.array([int(y) for _, y in keep]))
    t0 = time.perf_counter()
    pred = clf.predict(hv.transform([t for t, _ in held]))
    seconds = time.perf_counter() - t0
    return f1_of([y for _, y in held], [bool(p) for p in pred]), seconds


def baseline_online(rows, seed: int) -> dict[int, float]:
    order = list(rows)
    random.Random(seed).shuffle(order)
    hv = vectorizer()
    clf = SGDClassifier(loss="log_loss", random_state=0)
    fitted = False
    flagged = []
    w = np.array([VERDICT_WEIGHT])
    classes = np.array([0, 1])
    for text, y in order:
        x = hv.transform([text])
        flagged.append(bool(clf.predict(x)[0]) if fitted else False)
        clf.partial_fit(x, np.array([int(y)]), classes=classes, sample_weight=w)
        fitted = True
    return curve_of([y for _, y in order], flagged)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("files", nargs="*")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--holdout", type=float, default=0.2)
    ap.add_argument("--policy", default="default", help="evaluate ours under this group policy")
    ap.add_argument("--skip-online-baseline-over", type=int, default=0,
                    help="skip the (slow) online baseline for files with more rows than this (0: never)")
    ap.add_argument("--json", action="store_true", help="one JSON object per file, no table")
    args = ap.parse_args(argv)
    files = args.files or sorted(glob.glob(os.path.join(DATA, "*.jsonl")))
    s = AdSettings()
    rules = AdRules.from_settings(s)
    policy = None
    if args.policy != "default":
        from console.engine.detectors.ad_policy import parse_policy
        policy = parse_policy(args.policy)
    out = []
    for f in files:
        rows = [(_RUNIC.sub("", t), y) for t, y in read_labeled(f)]
        name = os.path.basename(f)
        keep, held = split(rows, args.holdout, args.seed)
        t0 = time.perf_counter()
        ours_static = score_static(train([keep], rules, seed=args.seed, local=0), rules, held, s.threshold, name,
                                   policy=policy)
        train_s = time.perf_counter() - t0 - ours_static.seconds
        base_f1, base_s = baseline_static(keep, held)
        ours_online = score_online(AdModel(rules=rules), rules, rows, s.threshold, args.seed, name, policy=policy)
        t0 = time.perf_counter()
        if args.skip_online_baseline_over and len(rows) > args.skip_online_baseline_over:
            base_curve = None
        else:
            base_curve = baseline_online(rows, args.seed)
        base_online_s = time.perf_counter() - t0
        row = {
            "file": name, "n": len(rows),
            "static": {"ours_f1": round(ours_static.f1, 4), "baseline_f1": round(base_f1, 4),
                       "held_out": len(held), "train_s": round(train_s, 1)},
            "online": {"ours_f1": round(ours_online.f1, 4),
                       "baseline_f1": round(base_curve[len(rows)], 4) if base_curve else None,
                       "ours_curve": {str(k): round(v, 4) for k, v in ours_online.curve.items()},
                       "baseline_curve": {str(k): round(v, 4) for k, v in base_curve.items()} if base_curve else None,
                       "baseline_s": round(base_online_s, 1)},
            "speed": {"ours_msgs_per_s": round(ours_static.msgs_per_s),
                      "baseline_batch_msgs_per_s": round(len(held) / base_s) if base_s else None,
                      "ratio": round(ours_static.msgs_per_s * base_s / len(held), 2) if base_s else None},
        }
        out.append(row)
        print(json.dumps(row, ensure_ascii=False), flush=True)
    if not args.json:
        print()
        print(f"{'file':26} {'static ours':>11} {'base':>6} {'online ours':>11} {'base':>6}  "
              f"{'curve ours 50/200/1000':>24} {'curve base 50/200/1000':>24} {'speed x':>7}")
        for r in out:
            oc = r["online"]["ours_curve"]
            bc = r["online"]["baseline_curve"] or {}
            pts = lambda c: "/".join(f"{c[k]:.2f}" if k in c else "-" for k in ("50", "200", "1000"))  # noqa: E731
            bf = r["online"]["baseline_f1"]
            print(f"{r['file']:26} {r['static']['ours_f1']:>11.4f} {r['static']['baseline_f1']:>6.4f} "
                  f"{r['online']['ours_f1']:>11.4f} {bf if bf is not None else float('nan'):>6.4f}  "
                  f"{pts(oc):>24} {pts(bc):>24} {r['speed']['ratio']:>7}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
