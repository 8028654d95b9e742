"""The engine's garbage-collection pacing: survivors of a full collection are frozen (later ones walk
only what is new), everything is unfrozen for one complete sweep now and then, and nothing is left
behind once the engine stops."""
from __future__ import annotations

import gc

from console.engine.heap import HeapPacer


def test_survivors_are_frozen_after_full_collections_and_swept_now_and_then() -> None:
    now = [0.0]
    pacer = HeapPacer(sweep_seconds=100.0, clock=lambda: now[0])
    assert gc.get_freeze_count() == 0
    pacer.install()
    try:
        assert gc.get_freeze_count() > 0  # the state just loaded: frozen at once
        kept = [[i] for i in range(1000)]  # (made after the freeze: walked by the next full collection)
        gc.collect()
        assert pacer.full_collections >= 1
        before = gc.get_freeze_count()
        pacer.settle()
        assert gc.get_freeze_count() >= before + len(kept)  # what survived it is frozen now
        freezes = pacer.freezes
        pacer.settle()  # no full collection since: nothing to do
        assert pacer.freezes == freezes
        now[0] = 150.0
        pacer.settle()
        assert gc.get_freeze_count() == 0  # time for a complete sweep: everything walked again
        gc.collect()
        pacer.settle()
        assert gc.get_freeze_count() > 0  # and frozen again after it
    finally:
        pacer.uninstall()
    assert gc.get_freeze_count() == 0 and pacer._on_gc not in gc.callbacks
    told = pacer.full_collections
    gc.collect()
    assert pacer.full_collections == told  # no longer told


def test_with_a_console_in_the_process_survivors_are_frozen_once_per_sweep() -> None:
    now = [0.0]
    pacer = HeapPacer(refreeze_seconds=100.0, sweep_seconds=100.0, clock=lambda: now[0])
    pacer.install()
    try:
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
