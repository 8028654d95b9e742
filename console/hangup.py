"""The console ends on a hang-up even when its event loop is stuck.

A console once outlived its killed tmux session by 40 minutes: every thread waiting on a futex, the
dead tty still open, SIGTERM ignored, because the handler only scheduled a task on the loop that
never ran again. Here the end is armed outside the loop, twice over:

* the Python signal handler arms a timer thread that ``os._exit``s after a grace period (then asks
  the loop to save and leave; if it does, the process ends before the timer);
* a Python handler only runs when the main thread gets back to Python bytecode. If the main thread is
  stuck in C (a futex), the C-level handler still writes the signal number to a wakeup fd: a small
  thread reading that fd arms the same timer.
"""
from __future__ import annotations

import os
import signal
import threading
import time
from typing import Callable

SIGNALS = (signal.SIGHUP, signal.SIGTERM)
_lock = threading.Lock()
_deadline = [float("inf")]


def arm(seconds: float) -> None:
    """End the process in ``seconds`` whatever the event loop is doing (a later, longer arming does
    not put off an earlier one)."""
    with _lock:
        deadline = time.monotonic() + seconds
        if deadline >= _deadline[0]:
            return
        _deadline[0] = deadline
    timer = threading.Timer(seconds, os._exit, args=(0,))
    timer.daemon = True
    timer.start()


def _watch(fd: int, grace: float) -> None:
    wanted = {int(s) for s in SIGNALS}
    while True:
        try:
            data = os.read(fd, 64)
        except OSError:
            return
        if not data:
            return
        if wanted & set(data):
            arm(grace)


def install(on_hang_up: Callable[[], None], grace: float) -> bool:
    """SIGHUP and SIGTERM arm the watchdog, then call ``on_hang_up`` (which should save and exit).
    False when signals cannot be handled here (not the main thread: a test harness)."""
    if threading.current_thread() is not threading.main_thread():
        return False

    def handler(signum, frame) -> None:
        arm(grace)
        on_hang_up()

    r, w = os.pipe()
    os.set_blocking(w, False)
    try:
        for sig in SIGNALS:
            signal.signal(sig, handler)
        signal.set_wakeup_fd(w, warn_on_full_buffer=False)
    except (ValueError, OSError):
        os.close(r)
        os.close(w)
        return False
    threading.Thread(target=_watch, args=(r, grace), name="hang-up watch", daemon=True).start()
    return True
