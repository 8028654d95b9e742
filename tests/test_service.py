"""The service API on the demo: views are plain data, commands carry their actor, permissions are
decided in one place, and two moderators acting on the same thing reach the platform once."""
from __future__ import annotations

import asyncio
import dataclasses
import json

import pytest

from console.engine.actions.model import ActionKind, ActionState
from console.engine.settings import OperatorSettings
from console.runtime import open_runtime, poll_once
from console.service.api import COMMANDS, QUERIES, Actor, AlertsPage, Command, GroupRow, HeaderView, Role
from console.service.client import LocalClient
from console.service.roles import role_for
from console.service.service import Service


@pytest.fixture(autouse=True)
def _no_config(tmp_path, monkeypatch):
    monkeypatch.setenv("GROUPWATCH_CONFIG", str(tmp_path / "none.toml"))


@pytest.fixture
def rt(tmp_path):
    rt = open_runtime(None, str(tmp_path / "data"), groups=8, seed=3, speed=3600, pace=False)
    yield rt
    rt.close()


async def warmed(rt, polls: int = 60) -> Service:
    """A service whose demo has run long enough to raise ad alerts."""
    svc = Service(rt, owner="owner")
    for _ in range(polls):
        await poll_once(rt.engine)
        if any(a.kind == "ad" and a.member for a in rt.engine.alerts.live()) and len(rt.engine.alerts) > 3:
            break
    return svc


def actor(user="alice", role=Role.MODERATOR, read_only=False) -> Actor:
    return Actor(user, role, f"{user}-console", read_only)


def plain(value) -> bool:
    """Only str, int, float, bool, None, lists, dicts and dataclasses of them: what the socket carries."""
    if dataclasses.is_dataclass(value):
        return all(plain(getattr(value, f.name)) for f in dataclasses.fields(value))
    if isinstance(value, (list, tuple)):
        return all(plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and plain(v) for k, v in value.items())
    return value is None or type(value) in (str, int, float, bool) or isinstance(value, str)


async def test_every_view_is_plain_serialisable_data(rt):
    svc = await warmed(rt)
    a = actor()
    group = rt.engine.summaries()[0].id
    alerts = await svc.query(a, "alerts", {})
    params = {"alert": {"id": alerts.alerts[0].id}, "alert_changes": {"since": 0}, "group": {"id": group},
              "quiet": {"groups": [group]}, "blacklist_preview": {"pattern": "demo:u1"},
              "purge_preview": {"members": ["demo:u1"]},
              "blacklist_export": {"format": "json"}, "schedule_dry_run": None,
              "incident": {"id": rt.engine.incidents.live()[0].id}, "table": {"view": "groups", "filter": "dm"}}
    for name in QUERIES:
        if params.get(name, {}) is None:
            continue
        value = await svc.query(a, name, params.get(name, {}))
        assert plain(value), name
        json.dumps(dataclasses.asdict(value) if dataclasses.is_dataclass(value) else
                   [dataclasses.asdict(v) if dataclasses.is_dataclass(v) else v for v in value]
                   if isinstance(value, list) else value)
    header = await svc.query(a, "header", {})
    assert isinstance(header, HeaderView) and header.demo and header.alerts_high + header.alerts_medium > 0
    groups = await svc.query(a, "groups", {})
    assert len(groups) == 8 and all(isinstance(g, GroupRow) for g in groups)
    assert isinstance(alerts, AlertsPage) and alerts.total == len(rt.engine.alerts)
    page = await svc.query(a, "alerts", {"limit": 2})
    assert len(page.alerts) == 2 and page.total == alerts.total


async def test_bad_queries_are_one_line_errors(rt):
    from console.service.api import ServiceError

    svc = await warmed(rt, 2)
    for name, params in [("nope", {}), ("group", {"id": "demo:none"}), ("alert", {"id": "x"}),
                         ("quiet", {"groups": "x"}), ("audit", {"since": "yesterday"})]:
        with pytest.raises(ServiceError) as e:
            await svc.query(actor(), name, params)
        assert "\n" not in str(e.value) and str(e.value)


async def test_triage_is_shared_and_carries_the_actor(rt):
    svc = await warmed(rt)
    alice, bob = actor("alice"), actor("bob")
    target = next(a for a in rt.engine.alerts.live())
    r = await svc.execute(alice, Command("claim", [target.id]))
    assert r.done == 1 and not r.refused
    view = await svc.query(bob, "alert", {"id": target.id})
    assert view.claimed_by == "alice" and view.claimed_at is not None
    r = await svc.execute(bob, Command("claim", [target.id]))
    assert r.skipped == 1 and "already claimed by alice" in r.errors[0]
    r = await svc.execute(bob, Command("ack", [target.id]))
    assert r.done == 1
    assert (await svc.query(alice, "alert", {"id": target.id})).state == "acknowledged"
    r = await svc.execute(alice, Command("unack", [target.id]))
    assert r.done == 1 and (await svc.query(alice, "alert", {"id": target.id})).state == "open"
    audit = await svc.query(alice, "audit", {})
    actions = {(e.actor, e.action) for e in audit}
    assert {("alice", "alert claimed"), ("bob", "alert acknowledged"), ("alice", "alert reopened")} <= actions


async def test_two_moderators_blacklisting_one_member_ban_once_per_group(rt):
    svc = await warmed(rt)
    ad = next(a for a in rt.engine.alerts.live() if a.kind == "ad" and a.member)
    alice, bob = actor("alice"), actor("bob")
    # both press b at the same moment: the second is told, and the platform sees one ban per group
    ra, rb = await asyncio.gather(svc.execute(alice, Command("blacklist_alerts", [ad.id])),
                                  svc.execute(bob, Command("blacklist_alerts", [ad.id])))
    assert ra.done >= 1 and not ra.failed
    assert rb.done == 0 and rb.skipped == 1 and "already handled by alice" in rb.errors[0]
    bans = [a for a in rt.moderation.ledger.actions() if a.kind is ActionKind.BAN and a.member == ad.member]
    groups = [a.group for a in bans]
    assert groups and len(groups) == len(set(groups))
    assert all(a.actor == "alice" for a in bans) and all(a.state is ActionState.DONE for a in bans)
    # the same member again by id, from the blacklist screen or the CLI: skipped, nothing sent
    before = len(rt.moderation.ledger.actions())
    r = await svc.execute(bob, Command("blacklist_add", [ad.member]))
    assert r.skipped == 1 and "already blacklisted by alice" in r.errors[0]
    assert len(rt.moderation.ledger.actions()) == before


async def test_permissions_are_decided_by_the_service_for_every_command(rt):
    svc = await warmed(rt, 3)
    viewer, ro = actor("vic", Role.VIEWER), actor("alice", Role.ADMIN, read_only=True)
    moderator = actor("mo", Role.MODERATOR)
    before_audit = len(rt.moderation.ledger.audit_entries())
    for name, spec in COMMANDS.items():
        for who in (viewer, ro):
            r = await svc.execute(who, Command(name, ["x"], {}))
            assert r.refused and ("read-only" in r.message or "viewer" in r.message), (name, r.message)
        r = await svc.execute(moderator, Command(name, ["x"], {}))
        if spec.role is Role.ADMIN:
            assert r.refused and "needs admin" in r.message, name
        else:
            assert "refused:" not in r.message and "read-only" not in r.message, name
    assert len(rt.moderation.ledger.audit_entries()) == before_audit
    r = await svc.execute(viewer, Command("rm -rf", []))
    assert r.refused and "unknown command" in r.message


def test_roles_come_from_config_never_from_the_client():
    ops = OperatorSettings(default="viewer", users={"alice": "admin", "bob": "viewer"},
                           groups={"mods": "moderator", "leads": "admin"})
    assert role_for("svc", [], ops, owner="svc") is Role.ADMIN
    assert role_for("alice", [], ops, owner="svc") is Role.ADMIN
    assert role_for("bob", ["leads"], ops, owner="svc") is Role.VIEWER  # the user's own entry wins
    assert role_for("carol", ["mods", "leads"], ops, owner="svc") is Role.ADMIN
    assert role_for("dan", ["staff"], ops, owner="svc") is Role.VIEWER


async def test_a_read_only_service_refuses_everyone_and_does_nothing_automatically(tmp_path):
    rt = open_runtime(None, str(tmp_path / "data"), groups=4, seed=3, speed=3600, pace=False, read_only=True)
    try:
        svc = Service(rt, owner="owner")
        r = await svc.execute(actor("owner", Role.ADMIN), Command("blacklist_add", ["demo:u1"]))
        assert r.refused and "read-only" in r.message
        assert (await svc.query(actor(), "header", {})).read_only
    finally:
        rt.close()


async def test_sessions_show_in_the_header_and_commands_reach_other_consoles(rt):
    svc = await warmed(rt, 3)
    pushes: list = []
    a = svc.open_session("alice", [], session="console")
    b = svc.open_session("bob", [], read_only=True, session="console")
    client_b = LocalClient(svc, b)
    client_b.on_push(lambda kind, payload: pushes.append((kind, payload)))
    header = await client_b.query("header")
    assert {(o.user, o.role) for o in header.operators} == {("alice", "moderator"), ("bob", "viewer")}
    assert header.you.user == "bob"
    r = await LocalClient(svc, a).run(Command("blacklist_add", ["demo:u1"], {"reason": "spam"}))
    assert not r.refused
    assert any(k == "notice" and "alice: blacklist" in p.text for k, p in pushes)
    assert any(k == "changed" for k, _ in pushes)
    rows = await client_b.query("blacklist")
    assert [(x.pattern, x.added_by, x.reason) for x in rows] == [("demo:u1", "alice", "spam")]
    await client_b.close()
    assert [o.user for o in (await svc.query(a, "header", {})).operators] == ["alice"]
