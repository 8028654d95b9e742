"""The hang-up path ends the process even when the event loop (the whole main thread) is stuck.

A console once outlived its killed tmux session by 40 minutes, every thread waiting on a futex.
Here a child process installs the console's hang-up handling, then blocks its main thread for good
in C (a pthread mutex locked twice: futex wait, restarted after every signal, so no Python signal
handler ever runs); SIGHUP or SIGTERM must still end it, by the watchdog armed outside the loop.
"""
from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

STUCK = r"""
import ctypes, sys, time
from console import hangup
called = []
hangup.install(lambda: called.append(1), grace=float(sys.argv[1]))
libc = ctypes.CDLL(None)
mutex = ctypes.create_string_buffer(64)  # PTHREAD_MUTEX_INITIALIZER is all zeros
libc.pthread_mutex_lock(mutex)
print("stuck", flush=True)
libc.pthread_mutex_lock(mutex)  # never returns: the main thread is stuck in C for good
print("unreachable", flush=True)
"""

PYTHON_LOOP = r"""
import sys, time
from console import hangup
hangup.install(lambda: print("asked to leave", flush=True), grace=float(sys.argv[1]))
print("stuck", flush=True)
while True:
    time.sleep(0.05)  # a loop that never leaves by itself
"""


def run_until_signal(code: str, sig: int, grace: float) -> tuple[float, str]:
    proc = subprocess.Popen([sys.executable, "-c", code, str(grace)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "stuck"
        sent = time.monotonic()
        proc.send_signal(sig)
        proc.wait(timeout=grace + 15)
        return time.monotonic() - sent, proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGTERM], ids=["SIGHUP", "SIGTERM"])
def test_a_hang_up_ends_a_process_whose_main_thread_is_stuck_in_c(sig):
    took, out = run_until_signal(STUCK, sig, grace=1.0)
    assert took < 1.0 + 10, took
    assert "unreachable" not in out


def test_the_python_handler_asks_the_loop_to_leave_and_arms_the_watchdog_too():
    took, out = run_until_signal(PYTHON_LOOP, signal.SIGHUP, grace=1.0)
    assert "asked to leave" in out  # the save-and-leave path was asked first
    assert took < 1.0 + 10, took
