"""`purge`: a member's recent messages deleted in every group (within the platform's limits) and
their alerts resolved; each message once, through the ledger, whoever presses it how often."""
from __future__ import annotations

from collections import Counter

import pytest

from console.engine.actions.model import ActionKind, ActionState
from console.service.api import Command
from console.service.handlers_purge import DELETE_WINDOW, purge_plan
from tests.test_service import actor, warmed


@pytest.fixture(autouse=True)
def _no_config(tmp_path, monkeypatch):
    monkeypatch.setenv("GROUPWATCH_CONFIG", str(tmp_path / "none.toml"))


@pytest.fixture
def rt(tmp_path):
    from console.runtime import open_runtime

    rt = open_runtime(None, str(tmp_path / "data"), groups=8, seed=3, speed=3600, pace=False)
    yield rt
    rt.close()


def chatty_member(rt) -> str:
    """The member with the most messages kept across groups, one with an alert if possible."""
    counts = Counter(m.sender for g in rt.engine.stats.groups.values() for m in g.recent)
    alerted = {a.member for a in rt.engine.alerts.live() if a.member}
    return max(counts, key=lambda m: (m in alerted, counts[m]))


async def test_purge_deletes_each_recent_message_once_and_resolves_the_alerts(rt):
    svc = await warmed(rt)
    member = chatty_member(rt)
    kept = [(gid, m.id) for gid, g in rt.engine.stats.groups.items() for m in g.recent if m.sender == member]
    alerts = [a.id for a in rt.engine.alerts.live() if a.member == member]
    preview = await svc.query(actor(), "purge_preview", {"members": [member]})
    assert preview.messages == len(kept) > 0 and preview.alerts == len(alerts)
    assert preview.groups == len({g for g, _ in kept})
    r = await svc.execute(actor(), Command("purge", [member]))
    assert not r.refused and r.done == len(kept) and r.data["resolved"] == len(alerts), r
    deletes = [a for a in rt.moderation.ledger.actions() if a.kind is ActionKind.DELETE and a.member == member]
    assert sorted((a.group, a.message_id) for a in deletes) == sorted(kept)
    assert all(a.state is ActionState.DONE and a.actor == "alice" for a in deletes)
    assert not [a for a in rt.engine.alerts.live() if a.member == member]
    # again, by another moderator: nothing reaches the platform twice
    r2 = await svc.execute(actor("bob"), Command("purge", [member]))
    again = [a for a in rt.moderation.ledger.actions() if a.kind is ActionKind.DELETE and a.member == member]
    assert len(again) == len(deletes) and r2.done == 0


async def test_purge_keeps_to_the_platforms_delete_window(rt):
    svc = await warmed(rt)
    member = chatty_member(rt)
    DELETE_WINDOW["demo"] = 0.0  # as if this platform deleted nothing older than now
    try:
        plan = purge_plan(svc, [member])
        assert not plan.messages and plan.too_old > 0
    finally:
        del DELETE_WINDOW["demo"]


async def test_purge_targets_are_checked_and_viewers_refused(rt):
    from console.service.api import Role

    svc = await warmed(rt, 3)
    r = await svc.execute(actor(), Command("purge", [3]))
    assert r.refused and "member ids" in r.message
    r = await svc.execute(actor("vic", Role.VIEWER), Command("purge", ["demo:u1"]))
    assert r.refused and "viewer" in r.message
