"""``groupwatch eval-ads``: precision, recall and F1 of the ad detector's content score on labelled files.

Files are JSONL, one ``{"label": "spam" | "ham", "text": "..."}`` per line.

* ``static``: the model, trained on the ``--train`` files as one body of data (as
  ``detectors.ad.model_train_files`` would be; no base model is shipped, so with none it is
  the rules alone), scores every row of each FILE. With ``--holdout F`` each FILE is split
  (seeded): the fraction F is scored, and the model is trained on the rest of FILE as the
  community's own data plus the ``--train`` files each as a corpus apart (its peculiarities
  kept in its own copy of the weights, dropped after training); no scored row is trained on.
* ``online``: each FILE, shuffled with the seed, is scored message by message; after
  each prediction the model learns that message's label, as an operator's verdicts
  would teach it. Each FILE starts again from the same trained model.

The score is what the detector computes from a message's text: the rules corrected by
the model (``--rules-only``: the rules alone). Newcomer and cross-group context need
member and group data, which the files don't have. A message is flagged at the alert
threshold (``detectors.ad.threshold``, 0.7 unless ``--threshold``). ``msgs_per_s``
counts scoring only (rules + model), not learning; static scores every file's rows in one batch
(``AdRules.analyze_many``, ``AdModel.probabilities``: the same answers as one by one).
"""
from __future__ import annotations

import json
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:  # the detector modules are imported when the command runs, not with the parser
    from console.engine.detectors.ad_model import AdModel, Example
    from console.engine.detectors.ad_policy import Policy
    from console.engine.detectors.ad_text import AdRules
    from console.engine.settings import AdSettings

EXIT_USAGE = 2


@dataclass(slots=True)
class Result:
    file: str
    n: int
    tp: int
    fp: int
    fn: int
    seconds: float
    curve: dict[int, float] | None = None
    """Online: F1 over the first N messages of the stream, for each N in ``CURVE`` (and all of it)."""

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def msgs_per_s(self) -> float:
        return self.n / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict:
        d = {"file": self.file, "n": self.n, "precision": round(self.precision, 4),
             "recall": round(self.recall, 4), "f1": round(self.f1, 4), "msgs_per_s": round(self.msgs_per_s),
             "tp": self.tp, "fp": self.fp, "fn": self.fn}
        if self.curve is not None:
            d["curve"] = {str(k): round(v, 4) for k, v in self.curve.items()}
        return d


CURVE = (50, 200, 1000)
"""Learning-curve points: F1 over the first N predictions of the online stream."""


def f1_of(labels: Sequence[bool], flagged: Sequence[bool]) -> float:
    tp = sum(1 for y, f in zip(labels, flagged) if y and f)
    fp = sum(1 for y, f in zip(labels, flagged) if f and not y)
    fn = sum(1 for y, f in zip(labels, flagged) if y and not f)
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def curve_of(labels: Sequence[bool], flagged: Sequence[bool], points: Sequence[int] = CURVE) -> dict[int, float]:
    """F1 over the first N of a stream for each N in ``points`` below its length, and over all of it."""
    out = {n: f1_of(labels[:n], flagged[:n]) for n in points if n < len(labels)}
    out[len(labels)] = f1_of(labels, flagged)
    return out


def tally(name: str, labels: Sequence[bool], flagged: Sequence[bool], seconds: float) -> Result:
    tp = sum(1 for y, f in zip(labels, flagged) if y and f)
    fp = sum(1 for y, f in zip(labels, flagged) if f and not y)
    fn = sum(1 for y, f in zip(labels, flagged) if y and not f)
    return Result(name, len(labels), tp, fp, fn, seconds)


def split(rows: Sequence[Example], fraction: float, seed: int) -> tuple[list[Example], list[Example]]:
    """(kept for training, held out for scoring): a seeded shuffle, the first ``fraction`` held out."""
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    k = int(round(len(rows) * fraction))
    held = set(order[:k])
    return [r for i, r in enumerate(rows) if i not in held], [rows[i] for i in order[:k]]


def _analyzer(rules: AdRules, policy: Policy | None):
    """The rules' analysis of a text, with the group policy's signals when evaluating under one."""
    if policy is None or not policy.active:
        return rules.analyze
    analyze, apply = rules.analyze, policy.apply
    return lambda text: apply(analyze(text))


def batch_analyzer(rules: AdRules, policy: Policy | None):
    """:func:`_analyzer` for a list of texts at once (the same analyses: ``AdRules.analyze_many``)."""
    many = rules.analyze_many
    if policy is None or not policy.active:
        return many
    apply = policy.apply
    return lambda texts: [apply(a) for a in many(texts)]


def score_static(model: AdModel | None, rules: AdRules, rows: Sequence[Example], threshold: float,
                 name: str, policy: Policy | None = None) -> Result:
    """Every row scored, all at once (``analyze_many``, ``probabilities``: the per-message answers)."""
    analyze = batch_analyzer(rules, policy)
    t0 = time.perf_counter()
    analyses = analyze([t for t, _ in rows])
    scores = [a.score for a in analyses] if model is None else model.probabilities(analyses)
    seconds = time.perf_counter() - t0
    return tally(name, [y for _, y in rows], [s >= threshold for s in scores], seconds)


def score_online(model: AdModel, rules: AdRules, rows: Sequence[Example], threshold: float, seed: int,
                 name: str, policy: Policy | None = None) -> Result:
    """Predict each message, then learn its label: the label is read only after the prediction is made."""
    order = list(rows)
    random.Random(seed).shuffle(order)
    analyze, prob, learn = _analyzer(rules, policy), model.probability, model.learn_analysis
    flagged: list[bool] = []
    seconds = 0.0
    perf = time.perf_counter
    for text, is_ad in order:  # the file is one community: its verdicts teach its own copy too
        t0 = perf()
        a = analyze(text)
        p = prob(a, community=name)
        seconds += perf() - t0
        flagged.append(p >= threshold)
        learn(a, is_ad, community=name)
    labels = [y for _, y in order]
    r = tally(name, labels, flagged, seconds)
    r.curve = curve_of(labels, flagged)
    return r


def evaluate(files: Sequence[str], train_files: Sequence[str] = (), *, mode: str = "static", seed: int = 0,
             holdout: float = 0.0, rules_only: bool = False,
             settings: AdSettings | None = None, threshold: float | None = None,
             policy: str = "default") -> list[Result]:
    """Results per file; raises LabeledFileError for a bad file (before any training), PolicyError
    for an unknown policy."""
    from console.engine.detectors.ad_model import AdModel, read_labeled, train, train_base
    from console.engine.detectors.ad_policy import parse_policy
    from console.engine.detectors.ad_text import AdRules
    from console.engine.settings import AdSettings

    pol = parse_policy(policy)
    s = settings or AdSettings()
    thr = s.threshold if threshold is None else threshold
    rules = AdRules.from_settings(s)
    data = {f: read_labeled(f) for f in files}
    train_sources = [read_labeled(f) for f in train_files]
    names = {f: Path(f).name for f in files}
    if rules_only:
        return [score_static(None, rules, data[f], thr, names[f], pol) for f in files]

    def trained(own: list[Example] | None = None) -> AdModel:
        if own is not None:  # the other files each a corpus apart, the rest of FILE the community's own
            return train([*train_sources, own], rules, seed=seed, local=len(train_sources))
        if not train_sources:
            return AdModel(rules=rules)
        return train_base(train_sources, rules, seed=seed)  # as detectors.ad.model_train_files would

    out: list[Result] = []
    if mode == "online":
        model = trained()
        for f in files:
            out.append(score_online(model.fresh(), rules, data[f], thr, seed, names[f], pol))
        return out
    if holdout > 0:
        for f in files:
            keep, held = split(data[f], holdout, seed)
            out.append(score_static(trained(keep), rules, held, thr, names[f], pol))
        return out
    model = trained()
    return [score_static(model, rules, data[f], thr, names[f], pol) for f in files]


def render(results: Sequence[Result], fmt: str) -> str:
    if fmt == "json":
        return json.dumps([r.to_dict() for r in results], ensure_ascii=False)
    head = ("file", "rows", "precision", "recall", "F1", "msgs/s")
    rows = [(r.file, str(r.n), f"{r.precision:.4f}", f"{r.recall:.4f}", f"{r.f1:.4f}", f"{r.msgs_per_s:,.0f}")
            for r in results]
    widths = [max(len(x) for x in col) for col in zip(head, *rows)]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
             for row in [head, *rows]]
    return "\n".join(lines)


def add_parser(sub) -> None:
    e = sub.add_parser("eval-ads", help="precision/recall/F1 of the ad detector on labelled JSONL files",
                       description="Precision, recall, F1 and scoring speed of the ad detector's content score "
                                   "(rules + learned model) on labelled JSONL files. static: train on --train, "
                                   "score each FILE (--holdout: a held-out part of it). online: predict each "
                                   "message of FILE, then learn its label, as verdicts would teach it.")
    e.add_argument("files", nargs="+", metavar="FILE", help='JSONL: {"label": "spam"|"ham", "text": ...} per line')
    # extend, not store: "--train A --train B" keeps both (as "--train A B" does)
    e.add_argument("--train", nargs="+", action="extend", metavar="FILE", default=[],
                   help="labelled files to train on first (repeatable)")
    e.add_argument("--mode", choices=("static", "online"), default=None,
                   help="static: score each FILE; online: predict then learn each message (default static)")
    e.add_argument("--seed", type=int, default=0, help="shuffle seed for online order, holdout split, training")
    e.add_argument("--format", choices=("table", "json"), default="table")
    e.add_argument("--holdout", type=float, default=0.0, metavar="F",
                   help="static: score a seeded fraction F of each FILE, train on the rest of it (default 0)")
    e.add_argument("--rules-only", action="store_true", help="score with the rules alone (a baseline)")
    e.add_argument("--threshold", type=float, default=None, help="flag at this score (default: the alert threshold)")
    e.add_argument("--policy", default="default", metavar="POLICY",
                   help="score as in a group with this policy: default, no_commerce, no_links (combine with +)")
    e.add_argument("--curve", action="store_true",
                   help="online learning curves as JSON: F1 over the first 50, 200, 1000 and all messages")


def run(args) -> int:
    if not 0.0 <= args.holdout < 1.0:
        print(f"groupwatch: error: --holdout must be at least 0 and below 1, got {args.holdout:g}", file=sys.stderr)
        return EXIT_USAGE
    if args.threshold is not None and not 0.0 <= args.threshold <= 1.0:
        print(f"groupwatch: error: --threshold must be between 0 and 1, got {args.threshold:g}", file=sys.stderr)
        return EXIT_USAGE
    if args.curve:
        if args.mode == "static" or args.holdout or args.rules_only:
            print("groupwatch: error: --curve is measured online: not with --mode static, --holdout or --rules-only",
                  file=sys.stderr)
            return EXIT_USAGE
        args.mode, args.format = "online", "json"
    args.mode = args.mode or "static"
    if args.holdout and args.mode == "online":
        print("groupwatch: error: --holdout applies to --mode static only", file=sys.stderr)
        return EXIT_USAGE
    from console.engine.detectors.ad_model import LabeledFileError
    from console.engine.detectors.ad_policy import PolicyError

    try:
        results = evaluate(args.files, args.train, mode=args.mode, seed=args.seed, holdout=args.holdout,
                           rules_only=args.rules_only, threshold=args.threshold, policy=args.policy)
    except LabeledFileError as e:
        print(f"groupwatch: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except PolicyError as e:
        print(f"groupwatch: error: --policy: {e}", file=sys.stderr)
        return EXIT_USAGE
    print(render(results, args.format))
    return 0
