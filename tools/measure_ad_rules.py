"""Measure the ad detector on labelled data (a dev tool, not part of the package).

    .venv/bin/python tools/measure_ad_rules.py                 # every /work/shared/data/ads/*.jsonl
    .venv/bin/python tools/measure_ad_rules.py FILE... --errors 40   # also print false alerts/misses
    .venv/bin/python tools/measure_ad_rules.py --bench          # median µs per AdDetector.on_event
    .venv/bin/python tools/measure_ad_rules.py --engine-bench [--train FILE...] [--verdicts FILE]
        # `groupwatch bench ingest --groups 200 --events 50000` with the learned model attached:
        # a base trained on --train, and the first --verdict-count rows of --verdicts taught as verdicts
    .venv/bin/python tools/measure_ad_rules.py --demo [--train FILE...] [--verdicts FILE]
        # precision/recall of ad findings on the demo fleet's own labelled ads, rules vs rules + model

Prints one JSON line per file: file, n, precision, recall, f1, msgs_per_s (rules only,
default ``AdSettings``: no newcomer boost, no cross-group repeats, no learned scorer).
The learned model is measured with ``groupwatch eval-ads``.

The runic letters U+16A0..U+16FF are stripped from every text first: in
zh_chat_obfuscated.jsonl "ᚰ" sits almost only in spam and "ᚠ" almost only in
ham, an artefact of the source set (like the U+FEFF that SOURCES.md mentions)
that real chats don't have. The rules don't use them; stripping keeps the
numbers honest either way.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import random
import re
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from connectors.events import Join, Message  # noqa: E402
from console.engine.detectors.ad import AdDetector  # noqa: E402
from console.engine.detectors.ad_text import AdRules  # noqa: E402
from console.engine.detectors.base import Context  # noqa: E402
from console.engine.settings import AdSettings  # noqa: E402
from console.engine.stats import FleetStats  # noqa: E402

DATA = "/work/shared/data/ads"
_RUNIC = re.compile("[\u16a0-\u16ff]")


def load(path: str) -> list[tuple[bool, str]]:
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                d = json.loads(line)
                rows.append((d["label"] == "spam", _RUNIC.sub("", d["text"])))
    return rows


def measure(path: str, settings: AdSettings, errors: int, seed: int) -> dict:
    rows = load(path)
    rules = AdRules.from_settings(settings)
    analyze = rules.analyze
    thr = settings.threshold
    tp = fp = fn = 0
    fps: list[tuple[float, str, tuple[str, ...]]] = []
    fns: list[tuple[float, str, tuple[str, ...]]] = []
    t0 = time.perf_counter()
    results = [analyze(t) for _, t in rows]
    elapsed = time.perf_counter() - t0
    for (is_spam, text), a in zip(rows, results):
        flagged = a.score >= thr
        if flagged and is_spam:
            tp += 1
        elif flagged:
            fp += 1
            fps.append((a.score, text, a.reasons))
        elif is_spam:
            fn += 1
            fns.append((a.score, text, a.reasons))
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    if errors:
        rnd = random.Random(seed)
        for title, items in (("FALSE ALERTS", fps), ("MISSED", fns)):
            print(f"--- {title} in {os.path.basename(path)}: {len(items)}", file=sys.stderr)
            for score, text, reasons in rnd.sample(items, min(errors, len(items))):
                print(f"{score:.2f} {text[:120]!r} {list(reasons)}", file=sys.stderr)
    return {
        "file": os.path.basename(path),
        "n": len(rows),
        "precision": round(p, 4),
        "recall": round(r, 4),
        "f1": round(f1, 4),
        "msgs_per_s": round(len(rows) / elapsed),
        "tp": tp,
        "fp": fp,
        "fn": fn,
    }


def bench(paths: list[str], settings: AdSettings, n: int, seed: int) -> dict:
    """Median cost of AdDetector.on_event over real lines, spread over 300 groups like a fleet."""
    rnd = random.Random(seed)
    lines: list[tuple[bool, str]] = []
    for path in paths:
        lines.extend(load(path))
    labelled = rnd.sample(lines, min(n, len(lines)))
    sample = [t for _, t in labelled]
    stats = FleetStats()
    det = AdDetector(settings)
    t = 1_700_000_000.0
    for g in range(300):  # a third of the members joined recently: newcomer logic runs too
        for m in range(0, 40, 3):
            stats.apply(Join(group=f"demo:g{g}", member=f"demo:u{g}_{m}", member_name="x", at=t - 3600))
    costs: list[int] = []
    perf = time.perf_counter_ns
    flagged = 0
    for rep in range(3):  # first pass warms caches; all passes counted
        for i, text in enumerate(sample):
            t += 0.5
            ev = Message(group=f"demo:g{i % 300}", sender=f"demo:u{i % 300}_{i % 40}", sender_name="x",
                         text=text, at=t, id=f"m{rep}_{i}")
            stats.apply(ev)
            ctx = Context(stats=stats, now=t)
            t0 = perf()
            out = det.on_event(ev, ctx)
            costs.append(perf() - t0)
            flagged += bool(out)
    short = [c for c, text in zip(costs, sample * 3) if len(text) <= 60]
    ham = [c for c, (is_spam, _) in zip(costs, labelled * 3) if not is_spam]
    spam = [c for c, (is_spam, _) in zip(costs, labelled * 3) if is_spam]
    return {
        "bench": "AdDetector.on_event",
        "messages": len(costs),
        "median_us": round(statistics.median(costs) / 1000, 2),
        "median_us_short_msgs": round(statistics.median(short) / 1000, 2) if short else None,
        "median_us_ham": round(statistics.median(ham) / 1000, 2) if ham else None,
        "median_us_spam": round(statistics.median(spam) / 1000, 2) if spam else None,
        "p90_us": round(statistics.quantiles(costs, n=10)[-1] / 1000, 2),
        "mean_us": round(statistics.fmean(costs) / 1000, 2),
        "max_us": round(max(costs) / 1000, 1),
        "flagged": flagged,
        "repeat_index_keys": det.repeat_index_size,
    }


def _model(train_files: list[str], verdicts: str | None, count: int):
    """A learned model as the console would hold it: a base from files, then verdicts."""
    from console.engine.detectors.ad_model import AdLearning, read_labeled

    t0 = time.perf_counter()
    learning = AdLearning(None, AdSettings(model_train_files=train_files), AdRules())
    train_s = time.perf_counter() - t0
    if verdicts:
        for text, is_ad in read_labeled(verdicts)[:count]:
            learning.model.learn(text, is_ad)
    return learning.model, train_s


def engine_bench(train_files: list[str], verdicts: str | None, count: int) -> dict:
    """``groupwatch bench ingest --groups 200 --events 50000`` with the model attached to the ad detector."""
    import console.bench as bench
    from console.engine.detectors.ad_model import AdModel
    from console.engine.engine import Engine

    model, train_s = _model(train_files, verdicts, count) if (train_files or verdicts) else (None, 0.0)

    class WithModel(Engine):
        def __init__(self, *a, **k) -> None:
            super().__init__(*a, **k)
            for d in self.detectors:
                if d.name == "ad" and model is not None:
                    m = AdModel(model.shared, d.rules)
                    m.local, m.judged_ads, m.judged_ham = model.local, model.judged_ads, model.judged_ham
                    d.scorer = m

    real = bench.Engine
    bench.Engine = WithModel
    try:
        out = bench.ingest(200, 50_000, 7, 3)
    finally:
        bench.Engine = real
    out.update({"model": model is not None, "base_weights": len(model.shared.w) if model else 0,
                "base_bytes": len(model.to_bytes()) if model else 0,
                "local_weights": len(model.local.w) if model else 0, "train_s": round(train_s, 1)})
    return out


def demo_quality(train_files: list[str], verdicts: str | None, count: int, events: int = 50_000) -> list[dict]:
    """Ad findings against the demo world's own labels (ads it posted), rules alone and with the model."""
    from connectors.demo import DemoConnector
    from connectors.demo.world import World

    # The same world `bench ingest` replays, built here so that its labels can be read.
    w = DemoConnector(groups=200, seed=7, pace=False).world
    twin = World(groups=len(w.groups), seed=7, tick_span=w.span, start=w.start)
    evs: list = []
    while len(evs) < events:
        evs.extend(twin.step())
    labels = twin.labels

    def run(model) -> dict:
        stats, det = FleetStats(), AdDetector(AdSettings())
        if model is not None:
            det.scorer = model
        tp = fp = fn = 0
        for ev in evs:
            stats.apply(ev)
            out = det.on_event(ev, Context(stats, ev.at))
            if type(ev) is Message:
                is_ad = labels.get(ev.id) == "ad"
                flagged = any(f.message_id == ev.id for f in out)
                tp += flagged and is_ad
                fp += flagged and not is_ad
                fn += is_ad and not flagged
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        return {"tp": tp, "fp": fp, "fn": fn, "precision": round(p, 4), "recall": round(r, 4),
                "f1": round(2 * p * r / (p + r), 4) if p + r else 0.0}

    rows = [dict(run(None), scorer="rules")]
    if train_files or verdicts:
        model, _ = _model(train_files, verdicts, count)
        rows.append(dict(run(model), scorer="rules + model"))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="*", help=f"jsonl files (default: {DATA}/*.jsonl)")
    ap.add_argument("--threshold", type=float, default=None, help="override AdSettings.threshold")
    ap.add_argument("--errors", type=int, default=0, help="print this many false alerts and misses per file")
    ap.add_argument("--bench", action="store_true", help="measure AdDetector.on_event instead")
    ap.add_argument("--bench-lines", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--engine-bench", action="store_true", help="the engine benchmark with the model attached")
    ap.add_argument("--demo", action="store_true", help="ad findings vs the demo world's labels")
    ap.add_argument("--train", nargs="+", default=[], help="labelled files to train the model's base on")
    ap.add_argument("--verdicts", help="labelled file whose first rows are taught as verdicts")
    ap.add_argument("--verdict-count", type=int, default=200)
    args = ap.parse_args()
    if args.engine_bench:
        print(json.dumps(engine_bench(args.train, args.verdicts, args.verdict_count)))
        return
    if args.demo:
        for row in demo_quality(args.train, args.verdicts, args.verdict_count):
            print(json.dumps(row))
        return
    paths = args.files or sorted(glob.glob(os.path.join(DATA, "*.jsonl")))
    settings = AdSettings()
    if args.threshold is not None:
        settings.threshold = args.threshold
    if args.bench:
        zh = [p for p in paths if "zh_chat" in p] or paths
        print(json.dumps(bench(zh + [p for p in paths if p not in zh and "tg_" in p], settings,
                               args.bench_lines, args.seed), ensure_ascii=False))
        return
    for path in paths:
        print(json.dumps(measure(path, settings, args.errors, args.seed), ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
