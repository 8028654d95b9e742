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

Even so, a full collection that CPython starts by itself comes at any moment,
in the middle of a checkpoint's staging (whose snapshots are young objects by
the hundred thousand after a fleet's first load), and walks everything made
since the last freeze: tens of milliseconds. So in the service (``collect_seconds``)
the pacer makes the full collections itself, on the loop right after each
checkpoint (when the checkpoint's snapshots are gone) and every
``COLLECT_SECONDS`` in between, and freezes what survives: each walks only the objects made in the last half
second, and CPython's own are turned off (its young collections go on as
usual). While a long checkpoint stages or commits (a fleet's first: a hundred
thousand snapshots, alive until written), only the young objects are collected
every ``COLLECT_SECONDS`` and everything alive is frozen, snapshots included
(freed as usual once written): a cycle that died in the meantime waits for the
sweep.

A console in the same process makes cycles all the time (widgets, screens) that
live through a collection or two: frozen after every collection they would pile
up until the sweep. There (``refreeze_seconds``) the fleet's first picture is
frozen, and survivors again only after each sweep; full collections are left to
CPython.
"""
from __future__ import annotations

import gc
import time
from typing import Callable

SWEEP_SECONDS = 3600.0
UI_REFREEZE_SECONDS = SWEEP_SECONDS  # with a console in the process: freeze once per sweep
COLLECT_SECONDS = 0.5  # about this long between two paced full collections: each walks what this time made
_NEVER = 1 << 30  # a gen-2 threshold CPython never reaches: no full collection of its own


class HeapPacer:
    def __init__(self, refreeze_seconds: float = 0.0, sweep_seconds: float = SWEEP_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.refreeze_seconds = refreeze_seconds  # at least this long between two freezes (0: each time)
        self.sweep_seconds = sweep_seconds
        self.clock = clock
        self.full_collections = 0  # seen since install (tests and benchmarks read it)
        self.paced_collections = 0  # the ones the pacer made
        self.young_freezes = 0  # freezes between the slices of a long staging
        self.freezes = 0
        self.last_settle_s = 0.0  # how long the last settle() held the loop (a paced collection)
        self._last_collect = 0.0
        self._thresholds: tuple[int, int, int] | None = None
        self._paced = False
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
        self._paced = self.refreeze_seconds == 0
        gc.callbacks.append(self._on_gc)
        if self._paced:
            self._thresholds = gc.get_threshold()
            gc.set_threshold(self._thresholds[0], self._thresholds[1], _NEVER)
        gc.freeze()
        self.freezes += 1
        self._last_sweep = self._last_collect = self.clock()
        self._pending = True  # the first settle() freezes again: the fleet's first picture, loaded by then

    @property
    def paced(self) -> bool:
        """The pacer makes the full collections (no console in the process; fixed at install)."""
        return self._paced

    def uninstall(self) -> None:
        """Back to the collector's own ways (the engine stopped): everything unfrozen."""
        if not self._installed:
            return
        self._installed = False
        try:
            gc.callbacks.remove(self._on_gc)
        except ValueError:
            pass
        if self._thresholds is not None:
            gc.set_threshold(*self._thresholds)
            self._thresholds = None
        gc.unfreeze()

    def _on_gc(self, phase: str, info: dict) -> None:
        # (Inside the collector: only note it; the freeze happens in settle(), on the loop.)
        if phase == "stop" and info.get("generation") == 2:
            self.full_collections += 1
            self._pending = True

    def settle(self, checkpoint: bool = True) -> None:
        """Call from the loop after each checkpoint, and now and then without one (``checkpoint``
        False). Paced (see the module docstring): a full collection of what is new, whose survivors
        are frozen, after each checkpoint or once ``collect_seconds`` passed. Otherwise: freezes what
        survived the last full collection (if the last freeze is ``refreeze_seconds`` old). Either
        way, once every ``sweep_seconds``, everything is unfrozen for one complete sweep."""
        if not self._installed:
            self.last_settle_s = 0.0
            return
        started = time.perf_counter()
        self.last_settle_s = 0.0
        if self._settle(checkpoint):
            self.last_settle_s = time.perf_counter() - started

    def between_slices(self, started: float, force: bool = False) -> None:
        """Call between the slices of a checkpoint's staging that began at ``started`` (``clock()``):
        once it has lasted ``COLLECT_SECONDS`` (and as long again since the last time), or ``force``
        (after the last slice of a staging that did it before, or while a long commit runs), a young
        collection and a freeze, so that the snapshots staged so far are not walked by a full
        collection. ``last_settle_s`` is set either way."""
        self.last_settle_s = 0.0
        if not self._installed or not self.paced:
            return
        now = self.clock()
        if not force and now - max(started, self._last_collect) < COLLECT_SECONDS:
            return
        t0 = time.perf_counter()
        self._last_collect = now
        gc.collect(1)
        gc.freeze()
        self.freezes += 1
        self.young_freezes += 1
        self.last_settle_s = time.perf_counter() - t0

    def _settle(self, checkpoint: bool) -> bool:
        """True if it collected or froze."""
        now = self.clock()
        if now - self._last_sweep >= self.sweep_seconds:
            self._last_sweep = now
            self._frozen_at = None
            self._pending = False
            gc.unfreeze()
            if not self.paced:
                return True
            checkpoint = True  # the sweep itself, now: the survivors are frozen again below
        if self.paced:
            if checkpoint or now - self._last_collect >= COLLECT_SECONDS:
                self._last_collect = now
                gc.collect()
                self.paced_collections += 1
                gc.freeze()
                self.freezes += 1
                self._pending = False
                return True
            return False
        if not self._pending:
            return False
        self._pending = False
        if self._frozen_at is None or now - self._frozen_at >= self.refreeze_seconds:
            gc.freeze()
            self.freezes += 1
            self._frozen_at = now
            return True
        return False
