"""The detectors' fast paths give the plain definitions' answers: the flood window kept as a bare time
for a member's single message, the silent-member scan in one pass, and the engine calling each
detector only for the event types it declares."""
from __future__ import annotations

import random
from collections import deque

from connectors.events import Join, Leave, Message
from console.engine.detectors.base import Context
from console.engine.detectors.flood import FloodDetector
from console.engine.detectors.silence import scan_silence, silent_members, silent_since
from console.engine.engine import Engine
from console.engine.settings import FloodSettings, Settings
from console.engine.stats import DAY, FleetStats
from tests.helpers import T0, join, leave, msg


def reference_flood(events, window: float, limit: int) -> list[tuple[str, int]]:
    """A deque per member, appended and trimmed: the definition."""
    times: dict[tuple[str, str], deque] = {}
    out = []
    for ev in events:
        t = times.setdefault((ev.group, ev.sender), deque())
        t.append(ev.at)
        while t and t[0] < ev.at - window:
            t.popleft()
        if len(t) > limit:
            out.append((ev.id, len(t)))
    return out


def test_flood_answers_match_the_definition_with_ticks_gaps_and_late_events():
    for seed in range(8):
        rng = random.Random(seed)
        d, stats = FloodDetector(FloodSettings(max_messages=3, window_s=60)), FleetStats()
        events, at = [], T0
        for _ in range(1500):
            at += rng.choice([0.0, 1.0, 5.0, 20.0, 60.0, 61.0, 300.0])
            late = at - rng.choice([0.0, 0.0, 0.0, 30.0, 90.0])  # some arrive out of order
            events.append(msg(f"g{rng.randrange(3)}", f"u{rng.randrange(5)}", late))
        got = []
        for i, ev in enumerate(events):
            stats.apply(ev)
            got.extend((f.message_id, f.numbers["messages"]) for f in d.on_event(ev, Context(stats, ev.at)))
            if i % 37 == 0:
                d.on_tick(Context(stats, ev.at))
        assert got == reference_flood(events, 60, 3), f"seed {seed}"


def test_a_message_exactly_one_window_before_still_counts():
    d, stats = FloodDetector(FloodSettings(max_messages=3, window_s=60)), FleetStats()
    found = []
    for ev in [msg("g", "u", T0)] + [msg("g", "u", T0 + 60) for _ in range(3)]:
        stats.apply(ev)
        found.extend(d.on_event(ev, Context(stats, ev.at)))
    assert [f.numbers["messages"] for f in found] == [4]


def test_flood_forgets_a_member_whose_window_emptied():
    d, stats = FloodDetector(FloodSettings(max_messages=3, window_s=60)), FleetStats()
    for ev in [msg("g", "solo", T0), msg("g", "pair", T0), msg("g", "pair", T0 + 1)]:
        stats.apply(ev)
        d.on_event(ev, Context(stats, ev.at))
    d.on_tick(Context(stats, T0 + 60))
    assert set(d._recent) == {("g", "solo"), ("g", "pair")}  # exactly 60 s: still in the window
    d.on_tick(Context(stats, T0 + 61.5))
    assert d._recent == {}


def test_one_pass_silence_scan_matches_the_definition():
    rng = random.Random(3)
    stats = FleetStats()
    now = T0 + 40 * DAY
    for i in range(400):
        m = f"u{rng.randrange(120)}"
        at = T0 + rng.uniform(0, 40 * DAY)
        stats.apply(rng.choice([msg("g", m, at), join("g", m, at), leave("g", m, at)]))
    g = stats.groups["g"]
    quiet, next_due, present = scan_silence(g, now, 14)
    cutoff = now - 14 * DAY
    want = sorted((m for m in g.members.values() if m.present and silent_since(m, g) <= cutoff),
                  key=lambda m: (silent_since(m, g), m.id))
    assert [m.id for m in quiet] == [m.id for m in want] and len(want) > 5
    assert next_due == min(silent_since(m, g) + 14 * DAY for m in g.members.values()
                           if m.present and silent_since(m, g) > cutoff)
    assert present == sum(m.present for m in g.members.values())
    assert silent_members(g, now, 14) == quiet


class Recorder:
    def __init__(self, name: str, events=None) -> None:
        self.name, self.seen = name, []
        if events is not None:
            self.events = events

    def on_event(self, ev, ctx):
        self.seen.append(type(ev).__name__)
        return ()

    def on_tick(self, ctx):
        return ()


def test_the_engine_calls_a_detector_only_for_the_events_it_declares():
    every, msgs, leaves, none = Recorder("every"), Recorder("msgs", (Message,)), Recorder("leaves", (Leave,)), \
        Recorder("none", ())
    engine = Engine(Settings(), [], clock=lambda: T0, detectors=[every, msgs, leaves, none])
    engine.ingest([msg("g", "a", T0), join("g", "b", T0), leave("g", "b", T0 + 1), msg("g", "a", T0 + 2)])
    assert every.seen == ["Message", "Join", "Leave", "Message"]
    assert msgs.seen == ["Message", "Message"] and leaves.seen == ["Leave"] and none.seen == []
    later = Recorder("later", (Join,))
    engine.detectors.append(later)  # a detector added afterwards is routed too
    engine.ingest([join("g", "c", T0 + 3)])
    assert later.seen == ["Join"] and every.seen[-1] == "Join"
    instead = Recorder("instead", (Leave,))
    engine.detectors[0] = instead  # replaced in place: routed afresh
    engine.ingest([leave("g", "c", T0 + 4)])
    assert instead.seen == ["Leave"] and every.seen[-1] == "Join"
