"""The engine's garbage-collection pacing: in the service the pacer makes the full collections itself
after checkpoints and freezes their survivors (each walks only what is new); with a console in the
process, survivors of CPython's own full collections are frozen once per sweep; everything is unfrozen
for one complete sweep now and then, and nothing is left behind once the engine stops."""
from __future__ import annotations

import gc
import weakref

from console.engine.heap import COLLECT_SECONDS, HeapPacer


class _Node:
    pass


def test_in_the_service_the_pacer_makes_the_full_collections_after_checkpoints_and_freezes_survivors() -> None:
    now = [0.0]
    pacer = HeapPacer(sweep_seconds=100.0, clock=lambda: now[0])
    thresholds = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    pacer.install()
    try:
        assert gc.get_freeze_count() > 0  # the state just loaded: frozen at once
        assert gc.get_threshold()[:2] == thresholds[:2] and gc.get_threshold()[2] > 10 ** 8  # no full ones of its own
        kept = [[i] for i in range(1000)]  # (made after the freeze: walked by the next full collection)
        node = _Node()
        node.me = node  # a cycle, alive now: frozen with the rest
        gone = weakref.ref(node)
        before, full = gc.get_freeze_count(), pacer.full_collections
        pacer.settle()  # after a checkpoint: one full collection of what is new, its survivors frozen
        assert pacer.full_collections == full + 1 and pacer.paced_collections == 1
        assert gc.get_freeze_count() >= before + len(kept) and pacer.last_settle_s > 0
        pacer.settle(checkpoint=False)  # between checkpoints, and too soon: nothing
        assert pacer.paced_collections == 1 and pacer.last_settle_s == 0.0
        now[0] = COLLECT_SECONDS
        pacer.settle(checkpoint=False)  # no checkpoint for a while: collected all the same
        assert pacer.paced_collections == 2
        del node
        gc.collect()
        assert gone() is not None  # frozen: a cycle that died since waits for the sweep
        now[0] = 150.0
        pacer.settle(checkpoint=False)  # time for a complete sweep: everything walked, survivors frozen again
        assert gone() is None and pacer.paced_collections == 3 and gc.get_freeze_count() > 0
    finally:
        pacer.uninstall()
    assert gc.get_freeze_count() == 0 and pacer._on_gc not in gc.callbacks
    assert gc.get_threshold() == thresholds  # CPython's own pacing back
    told = pacer.full_collections
    gc.collect()
    assert pacer.full_collections == told  # no longer told


def test_with_a_console_in_the_process_survivors_are_frozen_once_per_sweep() -> None:
    now = [0.0]
    pacer = HeapPacer(refreeze_seconds=100.0, sweep_seconds=100.0, clock=lambda: now[0])
    thresholds = gc.get_threshold()
    pacer.install()
    try:
        assert gc.get_threshold() == thresholds  # full collections left to CPython
        pacer.settle()  # the fleet's first picture
        first = gc.get_freeze_count()
        widgets = [[i] for i in range(1000)]  # (a console's objects, made since)
        now[0] = 50.0
        gc.collect()
        pacer.settle()
        assert gc.get_freeze_count() == first  # not frozen: they may end in cycles before the sweep
        now[0] = 100.0
        pacer.settle()
        assert gc.get_freeze_count() == 0
        gc.collect()
        pacer.settle()
        assert gc.get_freeze_count() >= len(widgets)
    finally:
        pacer.uninstall()


def test_a_long_staging_freezes_its_snapshots_now_and_then_without_a_full_collection() -> None:
    now = [0.0]
    pacer = HeapPacer(sweep_seconds=100.0, clock=lambda: now[0])
    pacer.install()
    try:
        full = pacer.full_collections
        now[0] = 10 * COLLECT_SECONDS  # (long after the last collection)
        began = now[0]
        pacer.between_slices(began)  # a staging that just began: nothing
        assert pacer.young_freezes == 0 and pacer.last_settle_s == 0.0
        staged = [[i] for i in range(1000)]  # (a checkpoint's snapshots, alive until written)
        before = gc.get_freeze_count()
        now[0] += COLLECT_SECONDS  # it has lasted that long
        pacer.between_slices(began)
        assert pacer.young_freezes == 1 and gc.get_freeze_count() >= before + len(staged)
        assert pacer.full_collections == full  # young objects only: nothing frozen is walked
        pacer.between_slices(began)  # not again so soon
        assert pacer.young_freezes == 1
        pacer.between_slices(began, force=True)  # after the last slice
        assert pacer.young_freezes == 2
    finally:
        pacer.uninstall()
    console = HeapPacer(refreeze_seconds=100.0, clock=lambda: now[0])
    console.install()
    try:
        now[0] += 10 * COLLECT_SECONDS
        console.between_slices(0.0, force=True)  # with a console in the process: left to CPython
        assert console.young_freezes == 0
    finally:
        console.uninstall()
