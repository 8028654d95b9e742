"""Python's garbage collector, paced for a fleet-sized state.

A full collection walks every object that can hold references: at 1,000 groups
that is about half a million (members, their groups, the demo's people and
seats), some 0.6 s where ``loop_s`` is 0.6, and CPython starts one each time a
quarter more objects have survived, so every few minutes under load the event
loop (checkpoints, keys) stalls that long.

While the engine runs, what survives a full collection is frozen
(``gc.freeze``): later full collections walk only the objects made since, so
they cost what changed. A frozen object freed by its reference count goes as
usual (the state is trees, not cycles); only a cycle of frozen objects would
outlive its use, so once every ``sweep_seconds`` everything is unfrozen and the
next full collection walks it all once (one stall an hour, not one a minute).
"""
from __future__ import annotations

import gc
import time
from typing import Callable

SWEEP_SECONDS = 3600.0


class HeapPacer:
    def __init__(self, sweep_seconds: float = SWEEP_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.sweep_seconds = sweep_seconds
        self.clock = clock
        self.full_collections = 0  # seen since start (tests and benchmarks read it)
        self.freezes = 0
        self._pending = True  # a full collection ran since the last settle() (or: the first picture to freeze)
        self._last_sweep = clock()
        self._installed = False

    def install(self) -> None:
        """From now on, freeze after full collections; what is alive now (the state just loaded)
        first of all."""
        if self._installed:
            return
        self._installed = True
        gc.callbacks.append(self._on_gc)
        self._freeze()

    def uninstall(self) -> None:
        """Back to the collector's own ways (the engine stopped): everything unfrozen."""
        if not self._installed:
            return
        self._installed = False
        try:
            gc.callbacks.remove(self._on_gc)
        except ValueError:
            pass
        gc.unfreeze()

    def _on_gc(self, phase: str, info: dict) -> None:
        # (Inside the collector: only note it; the freeze happens in settle(), on the loop.)
        if phase == "stop" and info.get("generation") == 2:
            self.full_collections += 1
            self._pending = True

    def settle(self) -> None:
        """Call now and then from the loop (after a checkpoint): freezes what survived the last full
        collection (the first call: the fleet's first picture, just loaded), or, once every
        ``sweep_seconds``, unfreezes all for one complete sweep."""
        if not self._installed or not self._pending:
            return
        self._pending = False
        now = self.clock()
        if now - self._last_sweep >= self.sweep_seconds:
            self._last_sweep = now
            gc.unfreeze()
            return
        self._freeze()

    def _freeze(self) -> None:
        gc.freeze()
        self.freezes += 1
