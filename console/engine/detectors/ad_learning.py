"""Training the ad model from labelled files, and its life in a data dir (base + verdicts).

Split from :mod:`~console.engine.detectors.ad_model` (the model itself: features, weights,
scoring, lessons); everything here is re-exported there.
"""
from __future__ import annotations

import base64
import json
import logging
import math
import os
import random
import time
from dataclasses import dataclass
from typing import Callable, Sequence

from console.engine.detectors.ad_blob import FORMAT, ModelFileError
from console.engine.detectors.ad_undo import KEPT as UNDO_KEPT
from console.engine.detectors.ad_features import MODEL_CHARS, _sigmoid, features, rules_logit
from console.engine.detectors.ad_model import (AD_WEIGHT, EPOCHS, LEARNING_RATE, MAX_SOURCE_WEIGHT, PRUNE,
                                               SHARED_BIAS_RATE, SKIP, AdModel, LabeledFileError)
from console.engine.detectors.ad_weights import PRIOR_STRENGTH, RULES_SCALE_RANGE, TRUST_RATE, Table
from console.engine.detectors.ad_text import AdRules

log = logging.getLogger("groupwatch.ad_model")

Example = tuple[str, bool]  # (text, is_ad)

SMALL_CORPUS = 1000
SMALL_CORPUS_BOOST = 3.0
"""Fewer training messages than SMALL_CORPUS: larger steps, by sqrt(SMALL_CORPUS / messages), at most
SMALL_CORPUS_BOOST times. AdaGrad's steps shrink as an n-gram is seen again, and with a few hundred
messages few are seen often enough to weigh: the held-out ads of a small forum (zh_tieba: 265 messages)
scored 0.5-0.6, under the alert threshold. Measured on five seeded held-out splits (bench_ads --static-seeds):
see the README; the big files train at LEARNING_RATE as before."""


# ---------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------


def train(sources: Sequence[Sequence[Example]], rules: AdRules | None = None, *, epochs: int = EPOCHS,
          seed: int = 0, local: int | None = None, info: dict | None = None) -> AdModel:
    """A model trained on labelled sources, each its own domain (see the module docstring).

    ``local``: index of the source that is this deployment's own data; its domain copy
    becomes the model's local weights instead of being dropped.
    """
    rules = rules if rules is not None else AdRules()
    shared = Table()
    domains = [Table() for _ in sources]
    # The normalised texts are kept, not their n-grams: making those again each epoch costs a
    # second; keeping them all would cost ~0.5 GB for the four development files.
    rows: list[tuple[str, float, float, int]] = []
    for d, src in enumerate(sources):
        for text, is_ad in src:
            a = rules.analyze(text)
            rows.append((a.norm[:MODEL_CHARS], rules_logit(a.score), 1.0 if is_ad else 0.0, d))
    sizes = [len(src) for src in sources]
    per = len(rows) / max(1, sum(1 for n in sizes if n))
    weights = [min(MAX_SOURCE_WEIGHT, per / n) if n else 0.0 for n in sizes]
    order = list(range(len(rows)))
    rnd = random.Random(seed)
    lr = LEARNING_RATE * min(SMALL_CORPUS_BOOST, max(1.0, math.sqrt(SMALL_CORPUS / max(1, len(rows)))))
    sget = shared.w.get
    # Each corpus's trust in the rules (a scale on their log-odds, as a community's copy learns it):
    # a corpus whose labels disagree with the rules (zh_game_chat calls account selling ham) learns to
    # lean on them less. Measured held-out: zh_game_chat 0.936 -> 0.939.
    trust, trust_g = [0.0] * len(sources), [PRIOR_STRENGTH] * len(sources)
    lo, hi = RULES_SCALE_RANGE
    for _ in range(epochs):
        rnd.shuffle(order)
        for i in order:
            norm, offset, y, d = rows[i]
            grams = features(norm)
            dom = domains[d]
            m = offset * (1.0 + trust[d]) + shared.bias + dom.bias
            scale = 1.0
            if grams:
                scale = 1.0 / math.sqrt(len(grams))
                m += (sum(filter(None, map(sget, grams))) + sum(filter(None, map(dom.w.get, grams)))) * scale
            p = _sigmoid(m)
            if abs(p - y) < SKIP:
                continue
            grad = (p - y) * weights[d] * (AD_WEIGHT if y else 1.0)
            shared.step(grams, scale, grad, lr, SHARED_BIAS_RATE)
            dom.step(grams, scale, grad, lr)
            gr = grad * offset
            trust_g[d] += gr * gr
            trust[d] = min(hi, max(lo, trust[d] - TRUST_RATE * lr * gr / math.sqrt(trust_g[d])))
    # The base is read-only at run time: no accumulators, no negligible weights.
    base = Table({t: v for t, v in shared.w.items() if abs(v) >= PRUNE}, shared.bias)
    model = AdModel(base, rules, info=info or {"base": "trained"})
    if local is not None:
        model.local = domains[local]
        model.rules_scale = trust[local]
    return model


def train_base(sources: Sequence[Sequence[Example]], rules: AdRules | None = None, *, seed: int = 0,
               info: dict | None = None) -> AdModel:
    """A base from labelled files taken as one body of this deployment's own data: nothing is
    set apart as another corpus's peculiarity, everything learned is kept (in the shared table;
    the local one stays for verdicts).

    Measured: a base trained this way on files *from other communities* can score a new one
    worse than the rules alone (zh_chat_obfuscated with a base from the other three files:
    F1 0.47, rules 0.81); train on chat like yours, or on none and let the verdicts teach.
    """
    model = train([[row for src in sources for row in src]], rules, seed=seed, local=0, info=info)
    w = dict(model.shared.w)
    for t, v in model.local.w.items():
        w[t] = w.get(t, 0.0) + v
    folded = Table({t: v for t, v in w.items() if abs(v) >= PRUNE}, model.shared.bias + model.local.bias)
    base = AdModel(folded, model.rules, info=model.info)
    base.rules_scale = model.rules_scale
    return base


# ---------------------------------------------------------------------------
# Labelled files (eval-ads, model_train_files)
# ---------------------------------------------------------------------------


def read_labeled(path: str | os.PathLike) -> list[Example]:
    """Rows of a JSONL file of ``{"label": "spam"|"ham", "text": ...}``; LabeledFileError names file:line."""
    shown = str(path)
    try:
        f = open(path, "rb")  # decoded line by line, so a bad byte is reported on its own line
    except FileNotFoundError:
        raise LabeledFileError(f"{shown}: no such file") from None
    except IsADirectoryError:
        raise LabeledFileError(f"{shown}: is a directory, not a JSONL file") from None
    except OSError as e:
        raise LabeledFileError(f"{shown}: cannot read: {e.strerror or e}") from None
    rows: list[Example] = []
    with f:
        for lineno, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise LabeledFileError(f"{shown}:{lineno}: not valid UTF-8") from None
            if lineno == 1 and line.startswith("\ufeff"):  # a BOM from some Windows editors
                line = line[1:]
            if not line.strip():
                continue
            try:
                d = json.loads(line)
            except json.JSONDecodeError as e:
                raise LabeledFileError(f"{shown}:{lineno}: not valid JSON ({e.msg}, column {e.colno})") from None
            if not isinstance(d, dict):
                raise LabeledFileError(f"{shown}:{lineno}: expected an object with \"label\" and \"text\"")
            label, text = d.get("label"), d.get("text")
            if label not in ("spam", "ham"):
                got = json.dumps(label, ensure_ascii=True)[:40] if "label" in d else "no label"
                raise LabeledFileError(f"{shown}:{lineno}: \"label\" must be \"spam\" or \"ham\", got {got}")
            if not isinstance(text, str):
                raise LabeledFileError(f"{shown}:{lineno}: \"text\" must be a string")
            rows.append((text, label == "spam"))
    if not rows:
        raise LabeledFileError(f"{shown}: no labelled rows")
    return rows


def fingerprint(paths: Sequence[str]) -> list[list]:
    """What a trained base depends on: each file's absolute path, size and modification time."""
    out = []
    for p in paths:
        st = os.stat(p)
        out.append([os.path.abspath(p), st.st_size, st.st_mtime_ns])
    return out


# ---------------------------------------------------------------------------
# Persistence and verdicts
# ---------------------------------------------------------------------------

BASE_DB = "ad_base"
VERDICT_DB = "ad_model"
MAX_VERDICTS = 20_000
"""Verdicts kept (and replayed on start); the oldest go first."""


@dataclass(slots=True)
class Verdict:
    key: str
    text: str
    is_ad: bool
    at: float
    source: str  # "verdict", "warn", "blacklist"
    alert: int | None = None
    group: str | None = None
    member: str | None = None

    def to_doc(self) -> dict:
        return {"text": self.text, "ad": self.is_ad, "at": self.at, "source": self.source, "alert": self.alert,
                "group": self.group, "member": self.member}


class AdLearning:
    """The model's life in a data dir.

    * Base: none is shipped (see the README, "Ad detection"): with no
      ``detectors.ad.model_train_files`` the model starts from nothing, i.e. from the
      rules. With files, a base is trained from them at the first start and kept in
      ``ad_base.json`` (one compressed blob, written by the store's atomic commit); it is
      trained again when a file's size or modification time changes.
    * Verdicts: each operator verdict (text, label, where it came from) is a document
      in ``ad_model.json``, committed at once (precious, like the blacklist). On start the
      verdicts are replayed in order onto the base: the local weights are a function of
      base + verdicts, so nothing else needs saving, and a retrained base keeps them.
    * Damage: a damaged ``ad_model.json``/``ad_base.json`` is never replaced. The model
      runs on what it has (the base, or the rules), ``problems`` says why in one line,
      and verdicts still teach the running model but are not saved until the file is
      set aside with ``--recover``.
    """

    def __init__(self, store, settings, rules: AdRules, *, clock: Callable[[], float] = time.time) -> None:
        self.store, self.settings, self.clock = store, settings, clock
        self.problems: list[str] = []
        self.verdicts: dict[str, Verdict] = {}
        self._replaced: dict[str, Verdict] = {}  # key -> the verdict a changed mind replaced (for an undo)
        self.can_save = store is not None
        self.model = AdModel(rules=rules)
        self.model = self._base(rules)
        self._load_verdicts()

    @classmethod
    def attach(cls, detectors, store, settings, *, clock: Callable[[], float] = time.time) -> "AdLearning | None":
        """Give the engine's ``ad`` detector its learned model; None if there is no detector or the model is off."""
        det = next((d for d in detectors if getattr(d, "name", None) == "ad"), None)
        if det is None or settings.model_weight <= 0:
            return None
        learning = cls(store, settings, det.rules, clock=clock)
        det.scorer = learning.model
        return learning

    # -- base ---------------------------------------------------------------
    def _base(self, rules: AdRules) -> AdModel:
        files = [os.path.expanduser(f) for f in getattr(self.settings, "model_train_files", []) or []]
        if not files:
            return AdModel(rules=rules)
        from console.engine.config import ConfigError  # imported here: config is not a detector's business

        try:
            want = {"format": FORMAT, "files": fingerprint(files)}
        except OSError as e:
            raise ConfigError(f"detectors.ad.model_train_files: {e.filename}: {e.strerror or e}") from None
        writable = self.store is not None
        if writable:
            try:
                doc = self.store.get_doc(BASE_DB, "base", "model")
            except Exception as e:  # StoreDamaged/StoreError: train in memory, leave the file alone
                self.problems.append(f"ad model: {e}; the base is trained anew at every start until then")
                doc, writable = None, False
            if doc is not None and doc.get("want") == want:
                try:
                    return AdModel.from_bytes(base64.b64decode(doc["blob"], validate=True), rules)
                except (ModelFileError, ValueError, KeyError, TypeError) as e:
                    self.problems.append(f"ad model: the base in {BASE_DB}.json is unusable ({e}); trained it again")
        try:
            sources = [read_labeled(p) for p in files]
        except LabeledFileError as e:
            raise ConfigError(f"detectors.ad.model_train_files: {e}") from None
        started = time.perf_counter()
        model = train_base(sources, rules, info={"base": "files", "files": [f[0] for f in want["files"]]})
        log.info("ad model: trained a base on %d messages from %d file(s) in %.1f s",
                 sum(map(len, sources)), len(files), time.perf_counter() - started)
        if writable:
            try:
                self.store.put_doc(BASE_DB, "base", "model",
                                   {"want": want, "blob": base64.b64encode(model.to_bytes()).decode("ascii")})
                self.store.commit(BASE_DB)
            except Exception as e:  # a full disk: the trained base still serves this run
                self.problems.append(f"ad model: could not save the trained base: {e}")
        return model

    # -- verdicts -------------------------------------------------------------
    def _load_verdicts(self) -> None:
        if self.store is None:
            return
        try:
            docs = self.store.read_table(VERDICT_DB, "verdicts")
        except Exception as e:  # StoreDamaged/StoreError: run on the base, never take the console down
            self.problems.append(f"ad model: {e}; running without the saved verdicts, new ones are not saved")
            self.can_save = False
            return
        for d in docs:
            try:
                v = Verdict(str(d["_key"]), str(d["text"]), bool(d["ad"]), float(d.get("at") or 0.0),
                            str(d.get("source") or "verdict"), d.get("alert"), d.get("group"), d.get("member"))
            except (KeyError, TypeError, ValueError):
                continue  # one unreadable document does not cost the others
            self.verdicts.pop(v.key, None)
            self.verdicts[v.key] = v
        self._replay()

    def _replay(self) -> None:
        first_kept = len(self.verdicts) - UNDO_KEPT  # only the newest lessons are kept for an undo
        for i, v in enumerate(self.verdicts.values()):
            self.model.learn(v.text, v.is_ad, community=v.group, lesson=v.key if i >= first_kept else None)

    def teach(self, text: str, is_ad: bool, *, key: str, source: str, alert: int | None = None,
              group: str | None = None, member: str | None = None) -> bool:
        """Learn one verdict and save it; False if this verdict under ``key`` was already learned."""
        old = self.verdicts.get(key)
        if old is not None and old.is_ad == is_ad:
            return False
        v = Verdict(key, text, is_ad, self.clock(), source, alert, group, member)
        self.verdicts.pop(key, None)  # a changed mind replaces the old verdict (and goes last in the replay)
        self.verdicts[key] = v
        if old is not None:
            self._replaced[key] = old  # what an undo of this verdict gives back
        else:
            self._replaced.pop(key, None)
        self.model.learn(text, is_ad, community=group, lesson=key)
        if self.can_save:
            self._save(v, replaced=old is not None)
        return True

    def forget(self, key: str, is_ad: bool) -> str | None:
        """Take back the verdict under ``key`` if it says ``is_ad``: the model forgets what it taught
        (ad_undo: exactly what that lesson changed; if it is no longer kept, the model is made again from
        the base and the other verdicts), and it is no longer saved, so a restart does not learn it again.
        A verdict it had replaced (a changed mind) is the verdict again. None: there was no such verdict;
        else how it was forgotten, for the notice."""
        v = self.verdicts.get(key)
        if v is None or v.is_ad != is_ad:
            return None
        del self.verdicts[key]
        previous = self._replaced.pop(key, None)
        if previous is not None:
            self.verdicts[key] = previous
        if self.model.forget(key):
            how = "its lesson taken back"
            # Another verdict on the same text still holds it (the verdict memory is by text).
            for other in self.verdicts.values():
                if other.text == v.text and other.is_ad == v.is_ad:
                    self.model.remember(self.model.rules.analyze(other.text), other.is_ad)
                    break
        else:
            self.model.forget_all()
            self._replay()
            how = f"the model made again from {len(self.verdicts)} verdict(s)"
        if self.can_save:
            self.store.replace_table(VERDICT_DB, "verdicts",
                                     [dict(x.to_doc(), _key=k) for k, x in self.verdicts.items()])
            try:
                self.store.commit(VERDICT_DB)
            except Exception as e:  # a full disk: the running model has forgotten it; say what is saved
                self.problems.append(f"ad model: could not save that a verdict was taken back: {e}")
        return how

    def _save(self, v: Verdict, replaced: bool) -> None:
        if replaced or len(self.verdicts) > MAX_VERDICTS:
            while len(self.verdicts) > MAX_VERDICTS:
                del self.verdicts[next(iter(self.verdicts))]
            self.store.replace_table(VERDICT_DB, "verdicts", [dict(x.to_doc(), _key=k) for k, x in self.verdicts.items()])
        else:
            self.store.put_doc(VERDICT_DB, "verdicts", v.key, v.to_doc())
        try:
            self.store.commit(VERDICT_DB)
        except Exception as e:  # a full disk: keep learning, say so
            self.problems.append(f"ad model: could not save a verdict: {e}")

    def counts(self) -> tuple[int, int]:
        """(ad verdicts, not-an-ad verdicts) held."""
        ads = sum(1 for v in self.verdicts.values() if v.is_ad)
        return ads, len(self.verdicts) - ads


