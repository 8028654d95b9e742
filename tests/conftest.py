"""Shared pytest fixtures. Keep each one self-contained and namespaced: several suites add theirs here."""
from __future__ import annotations

import os

import pytest


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
