"""Python's garbage collector, paced for a fleet-sized state.

A full collection walks every object that can hold references: at 1,000 groups
that is about half a million (members, their groups, the demo's people and
seats), some 0.6 s where ``loop_s`` is 0.6, and CPython starts one each time a
quarter more objects have survived, so every few minutes under load the event
loop (checkpoints, keys) stalls that long.

While the engine runs, what survives a full collection is frozen
(``gc.freeze``): later full collections walk only the objects made since, so
they cost what changed. A frozen object freed by its reference count goes as
usual (the engine's state is trees, not cycles); only a cycle of frozen objects
would outlive its use, so once every ``sweep_seconds`` everything is unfrozen
and the next full collection walks it all once (one stall an hour).

A console in the same process makes cycles all the time (widgets, screens) that
live through a collection or two: frozen after every collection they would pile
up until the sweep. There (``refreeze_seconds``) the fleet's first picture is
frozen, and survivors again only after each sweep.
"""
from __future__ import annotations

import gc
import time
from typing import Callable

SWEEP_SECONDS = 3600.0
UI_REFREEZE_SECONDS = SWEEP_SECONDS  # with a console in the process: freeze once per sweep


class HeapPacer:
    def __init__(self, refreeze_seconds: float = 0.0, sweep_seconds: float = SWEEP_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.refreeze_seconds = refreeze_seconds  # at least this long between two freezes (0: each time)
        self.sweep_seconds = sweep_seconds
        self.clock = clock
        self.full_collections = 0  # seen since install (tests and benchmarks read it)
        self.freezes = 0
        self._pending = False  # a full collection ran since the last settle()
        self._frozen_at: float | None = None  # the last freeze since the last sweep
        self._last_sweep = 0.0
        self._installed = False

    def install(self) -> None:
        """From now on: freeze what is alive now (the state restored), and the survivors of full
        collections as paced (see :meth:`settle`)."""
        if self._installed:
            return
        self._installed = True
        gc.callbacks.append(self._on_gc)
        gc.freeze()
        self.freezes += 1
        self._last_sweep = self.clock()
        self._pending = True  # the first settle() freezes again: the fleet's first picture, loaded by then

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
        collection (if the last freeze is ``refreeze_seconds`` old), or, once every
        ``sweep_seconds``, unfreezes all for one complete sweep, whose survivors are frozen next."""
        if not self._installed:
            return
        now = self.clock()
        if now - self._last_sweep >= self.sweep_seconds:
            self._last_sweep = now
            self._frozen_at = None
            self._pending = False
            gc.unfreeze()
            return
        if not self._pending:
            return
        self._pending = False
        if self._frozen_at is None or now - self._frozen_at >= self.refreeze_seconds:
            gc.freeze()
            self.freezes += 1
            self._frozen_at = now
