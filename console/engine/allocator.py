"""The C allocator's settings for a process that runs for days (glibc only; elsewhere nothing).

A checkpoint makes big short-lived buffers (a journal record, a compaction's base chunks, the encoded
documents) in the thread that commits, between long-lived ones (each document's text in the journal,
which outlives its record). With glibc's defaults this fragments the heap for good:

* each thread that allocates gets an arena of its own (up to 8 per core), each a heap that only
  shrinks from its top, so a long-lived text left in a worker's arena pins the pages around it;
* the threshold above which a block is mmapped (and returned to the system once freed) rises to the
  size of the largest block freed so far (up to 32 MB): after the first big record, every record is
  carved out of the heap instead, and the holes it leaves are reused only by blocks that fit.

Measured on the 1,000-group demo (``tools/memory_soak.py``, 60 simulated hours): 98 MB of the heaps
free but held (RSS 407 MB); with one arena and a fixed 128 KiB threshold, 11 MB (RSS 322 MB), at no
measurable cost in time (the GIL already serialises the threads that allocate).
"""
from __future__ import annotations

import ctypes
import logging
import os
import sys

log = logging.getLogger("groupwatch.allocator")

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
ARENAS = 1
MMAP_THRESHOLD = 128 * 1024  # glibc's starting value, kept fixed (setting it stops the sliding)
TRIM_THRESHOLD = 1 << 20  # free memory at the heap's top beyond this goes back to the system

_tuned: bool | None = None


def _glibc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # musl and others have no such symbol: their allocator is left alone
        return libc
    except (OSError, AttributeError):
        return None


def tune() -> bool:
    """Set the allocator up for a long-running engine (once per process; before the threads that
    commit start). True if the settings took; ``GROUPWATCH_MALLOC=default`` keeps glibc's defaults."""
    global _tuned
    if _tuned is not None:
        return _tuned
    libc = None if os.environ.get("GROUPWATCH_MALLOC") == "default" else _glibc()  # (the way to compare the two)
    if libc is None:
        _tuned = False
        return False
    ok = all(libc.mallopt(option, value) == 1 for option, value in
             ((M_ARENA_MAX, ARENAS), (M_MMAP_THRESHOLD, MMAP_THRESHOLD), (M_TRIM_THRESHOLD, TRIM_THRESHOLD)))
    if not ok:
        log.debug("mallopt refused a setting; the allocator keeps its defaults for it")
    _tuned = ok
    return ok


def trim() -> None:
    """Hand the free pages inside the heap back to the system (after a big transient: a compaction)."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
