"""``groupwatch bench ingest --against REV``: this tree and commit REV measured in the same run.

A shared machine's speed drifts by a factor of two within minutes, so a figure is only worth its
ratio to a baseline measured beside it. REV is exported from this checkout's git history into a
temporary directory (``git archive``: nothing downloaded); each side then runs the ordinary bench
once per round in a process of its own, the two alternating (and swapping which goes first), and
the medians and their ratio are printed with ``loop_s``."""
from __future__ import annotations

import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent  # the tree this bench runs from
KEYS = ("events_per_s", "events_per_s_ingest_only", "median_total_s", "median_ingest_s", "median_tick_s",
        "median_gc_s", "median_checkpoint_s", "alerts", "peak_rss_mb", "loop_s")
CHILD = "import sys; from console.cli import main; sys.exit(main())"

Runner = Callable[[Path, list[str]], dict]


class AgainstError(Exception):
    """REV could not be exported or its bench failed: said in one line."""


def export(rev: str, into: Path, root: Path = ROOT) -> str:
    """Write commit ``rev``'s tree into ``into``; its full commit id."""
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--verify", f"{rev}^{{commit}}"],
                                capture_output=True, text=True, check=True).stdout.strip()
        tar = subprocess.run(["git", "-C", str(root), "archive", "--format=tar", commit],
                             capture_output=True, check=True).stdout
    except FileNotFoundError:
        raise AgainstError("--against needs git, which is not installed") from None
    except subprocess.CalledProcessError as e:
        why = (e.stderr.decode() if isinstance(e.stderr, bytes) else e.stderr or "").strip().splitlines()
        raise AgainstError(f"--against {rev}: {why[-1] if why else 'not a commit of this checkout'}") from None
    with tarfile.open(fileobj=io.BytesIO(tar)) as t:
        if hasattr(tarfile, "data_filter"):  # (Python 3.11.4 and later)
            t.extractall(into, filter="data")
        else:
            t.extractall(into)  # our own repository's tree
    return commit


def run_child(tree: Path, args: list[str]) -> dict:
    """One ``bench ingest`` of the code in ``tree``, in a process of its own; its JSON."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    p = subprocess.run([sys.executable, "-c", CHILD, "bench", "ingest", *args], cwd=tree, env=env,
                       capture_output=True, text=True)
    lines = p.stdout.strip().splitlines()
    if p.returncode != 0 or not lines:
        why = (p.stderr.strip().splitlines() or ["no output"])[-1]
        raise AgainstError(f"the bench of {tree} failed: {why}")
    return json.loads(lines[-1])


def against(rev: str, args: list[str], rounds: int, run: Runner = run_child, root: Path = ROOT) -> dict:
    """``rounds`` runs of each side (``args``: the bench's own options, one repeat each), alternating."""
    with tempfile.TemporaryDirectory(prefix="groupwatch-against-") as tmp:
        commit = export(rev, Path(tmp), root)
        sides = {"this": root, "base": Path(tmp)}
        runs: dict[str, list[dict]] = {"this": [], "base": []}
        for i in range(rounds):
            order = ("this", "base") if i % 2 == 0 else ("base", "this")
            for side in order:
                runs[side].append(run(sides[side], args))
    result = {"against": rev, "against_commit": commit, "rounds": rounds}
    for side in ("this", "base"):
        result[side] = {k: _median([r.get(k) for r in runs[side]]) for k in KEYS}
        result[side]["events_per_s_runs"] = [r.get("events_per_s") for r in runs[side]]
    for k in ("events_per_s", "events_per_s_ingest_only"):
        a, b = result["this"][k], result["base"][k]
        result[f"ratio_{k}"] = round(a / b, 3) if a and b else None
    # Each round's two runs side by side, each rate first scaled by its own run's loop_s (the machine's
    # speed at that moment): the steadier figure when the load changes between runs.
    pairs = [_normalised(t) / _normalised(b) for t, b in zip(runs["this"], runs["base"])
             if _normalised(t) and _normalised(b)]
    result["ratio_normalised_rounds"] = [round(p, 3) for p in pairs]
    result["ratio_normalised"] = round(statistics.median(pairs), 3) if pairs else None
    return result


def _normalised(run: dict) -> float | None:
    """Events per second where the fixed loop takes 0.6 s (the issue's yardstick)."""
    rate, loop = run.get("events_per_s"), run.get("loop_s")
    return rate * loop / 0.6 if rate and loop else None


def _median(values: list) -> float | None:
    numbers = [v for v in values if isinstance(v, (int, float))]
    return round(statistics.median(numbers), 3) if numbers else None
