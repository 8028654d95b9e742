"""Shared pytest fixtures. Keep each one self-contained and namespaced: several suites add theirs here."""
from __future__ import annotations

import os

import pytest

# The suite's processes keep glibc's allocator as it is: a journaled store sets a long-running service's
# (console/engine/allocator.py: one arena, a fixed 128 KiB mmap threshold), and in a test worker that lasts
# for every later test, where each block over 128 KiB then costs an mmap and its page faults (the parsers'
# linear-time checks read a 100 KB text as twice slower per byte than a 10 KB one). tests/test_memory.py
# checks the settings in a process of their own.
os.environ.setdefault("GROUPWATCH_MALLOC", "default")


@pytest.fixture(scope="session")
def synapse_server(tmp_path_factory):
    """A real Synapse on loopback for the whole session (see tests/synapse/server.py); skips when it
    cannot be installed, unless GROUPWATCH_REQUIRE_SYNAPSE=1 (then that is a failure)."""
    from tests.synapse.server import SynapseServer, SynapseUnavailable

    try:
        server = SynapseServer.start(tmp_path_factory.mktemp("synapse"))
    except SynapseUnavailable as e:
        if os.environ.get("GROUPWATCH_REQUIRE_SYNAPSE") == "1":
            pytest.fail(f"Synapse is required but unavailable: {e}")
        pytest.skip(f"Synapse cannot be installed here: {e}")
    try:
        yield server
    finally:
        server.stop()
