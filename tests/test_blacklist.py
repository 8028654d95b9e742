"""The cross-group blacklist, against the demo world, and its CLI commands."""
from __future__ import annotations

import argparse
import asyncio
import csv
import fnmatch
import io
import json
from collections import Counter
from dataclasses import dataclass

import pytest

from connectors.contract import Capability
from connectors.demo import DemoConnector
from console.commands import add_parsers
from console.commands import audit as audit_cmd
from console.commands import blacklist as blacklist_cmd
from console.engine.actions.blacklist import Blacklist, BlacklistEntry, check_pattern
from console.engine.durations import parse_when
from console.engine.actions.ledger import Ledger
from console.engine.engine import Engine
from console.engine.moderation import Moderation
from console.engine.settings import Settings
from console.engine.actions.model import ActionError, ActionKind
from console.engine.actions.pipeline import ActionPipeline
from console.engine.stats import FleetStats
from console.engine.store import Store

T0 = 1_767_574_800.0

HOSTILE = [
    '=HYPERLINK("http://evil.example","click")',
    "+1+2", "-2+3", "@SUM(A1)", "'=already quoted", "''=twice",
    "[bold red]markup[/bold red] :smile:",
    "\x1b[31mred\x1b]0;pwned\x07 \x1b[2J",
    "\u202eevil\u200b bidi",
    'line one\nline two, "quoted", comma',
    "加我微信 vx123 \ud800 lone surrogate",
    "\ttab start",
]


class Clock:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@dataclass
class World:
    demo: DemoConnector
    store: Store
    ledger: Ledger
    pipeline: ActionPipeline
    bl: Blacklist
    stats: FleetStats

    @property
    def gbp(self) -> list[str]:
        return list(self.stats.groups)

    def caps(self, group: str) -> frozenset:
        return self.demo.capabilities if group.startswith("demo:") else frozenset()

    async def sync(self) -> None:
        """One poll: the world applies queued actions and the stats follow its events."""
        batch = await self.demo.poll(None, 1)
        for ev in batch.events:
            self.stats.apply(ev)


async def snapshot(demo: DemoConnector) -> FleetStats:
    stats = FleetStats()
    now = demo.now()
    for g in await demo.groups():
        stats.load_group(g, now)
        stats.load_members(g.id, await demo.members(g.id), now, complete=True)
    return stats


async def make_world(path) -> World:
    demo = DemoConnector(groups=8, seed=3, pace=False)
    for _ in range(3):
        await demo.poll(None, 1)
    store = Store(path)
    ledger = Ledger(store, clock=demo.now)
    pipeline = ActionPipeline(ledger, lambda g: demo if g.startswith("demo:") else None, actor="tester")
    return World(demo, store, ledger, pipeline, Blacklist(store, ledger, demo.now), await snapshot(demo))


@pytest.fixture
async def w(tmp_path):
    world = await make_world(tmp_path / "data")
    yield world
    world.store.close()


def most_shared_member(stats: FleetStats) -> tuple[str, list[str]]:
    where: dict[str, list[str]] = {}
    for gid, g in stats.groups.items():
        for m in g.present_members():
            if m.id != "demo:operator":
                where.setdefault(m.id, []).append(gid)
    mid = max(where, key=lambda m: (len(where[m]), m))
    return mid, where[mid]


def present_in(stats: FleetStats, member: str) -> list[str]:
    return [gid for gid, g in stats.groups.items() if (m := g.members.get(member)) is not None and m.present]


def audit_actions(ledger: Ledger) -> list[str]:
    return [e.action for e in ledger.audit_entries()]


def bl_at(tmp_path, clock: Clock | None = None) -> tuple[Store, Ledger, Blacklist]:
    clock = clock or Clock()
    store = Store(tmp_path)
    ledger = Ledger(store, clock=clock)
    return store, ledger, Blacklist(store, ledger, clock)


# --- matching ------------------------------------------------------------------

def test_exact_and_glob_matching_stay_on_their_platform(tmp_path):
    store, ledger, bl = bl_at(tmp_path)
    bl.add(BlacklistEntry("qq:12345", reason="spam"), "alice")
    bl.add(BlacklistEntry("telegram:55*", reason="ring"), "alice")
    bl.add(BlacklistEntry("telegram:9?9", reason="short"), "alice")
    bl.add(BlacklistEntry("matrix:@spam*:evil.org"), "alice")

    assert bl.match("qq:12345").reason == "spam"
    assert bl.match("qq:123456") is None and bl.match("qq:1234") is None
    assert bl.match("telegram:12345") is None  # an exact id is one platform's id
    assert bl.match("telegram:551").pattern == "telegram:55*"
    assert bl.match("telegram:55").pattern == "telegram:55*"
    assert bl.match("telegram:919").pattern == "telegram:9?9"
    assert bl.match("telegram:9119") is None and bl.match("telegram:455") is None
    # A glob never matches another platform, even one whose ids look the same.
    assert bl.match("qq:551") is None and bl.match("demo:551") is None
    assert bl.match("matrix:@spammer:evil.org").pattern == "matrix:@spam*:evil.org"
    assert bl.match("matrix:@spammer:good.org") is None
    # Agrees with fnmatch on the qualified id.
    for mid in ("telegram:5", "telegram:55", "telegram:5512", "telegram:999", "telegram:9x9", "telegram:99"):
        expected = any(fnmatch.fnmatchcase(mid, p) for p in ("telegram:55*", "telegram:9?9"))
        assert (bl.match(mid) is not None) is expected, mid
    store.close()


@pytest.mark.parametrize("bad", ["*", "*:123", "q*:1", "[qt]q:1", "12345", "qq:", "qq:*", "qq:?*", " ", "",
                                 "qq:1 2", "qq:1\x1b[2J", "QQ:1", ":123"])
def test_bad_patterns_are_refused_with_one_line_and_nothing_recorded(tmp_path, bad):
    store, ledger, bl = bl_at(tmp_path)
    with pytest.raises(ActionError) as err:
        bl.add(BlacklistEntry(bad), "alice")
    msg = str(err.value)
    assert msg and "\n" not in msg and "\x1b" not in msg
    assert bl.entries() == [] and audit_actions(ledger) == []
    assert store.read_table("moderation", "blacklist") == []
    store.close()


def test_bare_star_message_says_why(tmp_path):
    with pytest.raises(ActionError, match="platform"):
        check_pattern("*")
    with pytest.raises(ActionError, match="literal"):
        check_pattern("te*:1")
    with pytest.raises(ActionError, match="every qq member"):
        check_pattern("qq:*")


def test_entries_persist_and_add_replaces_the_same_pattern(tmp_path):
    store, ledger, bl = bl_at(tmp_path)
    bl.add(BlacklistEntry("qq:1", reason="first"), "alice")
    bl.add(BlacklistEntry("qq:1", reason="second"), "bob")
    bl.add(BlacklistEntry("qq:2*"), "bob")
    assert [e.reason for e in bl.entries() if e.pattern == "qq:1"] == ["second"]
    assert len(bl.entries()) == 2
    assert not store.dirty("moderation")  # committed at once
    adds = [e for e in ledger.audit_entries() if e.action == "blacklist add"]
    assert len(adds) == 3 and adds[1].params.get("replaced") is True and adds[1].actor == "bob"
    store.close()
    store, ledger, bl = bl_at(tmp_path)
    assert sorted(e.pattern for e in bl.entries()) == ["qq:1", "qq:2*"]
    assert bl.match("qq:1").reason == "second" and bl.match("qq:22").pattern == "qq:2*"
    store.close()


# --- time ----------------------------------------------------------------------

def test_parse_when():
    now = 1_000_000.0
    assert parse_when("30d", now) == now + 30 * 86400
    assert parse_when("12h", now) == now + 12 * 3600
    assert parse_when("90m", now) == now + 90 * 60
    assert parse_when("1d12h", now) == now + 36 * 3600
    assert parse_when("2h", now, past=True) == now - 7200
    assert parse_when("2026-03-01", now) == 1_772_323_200.0
    assert parse_when("2026-03-01T12:00Z", now) == 1_772_366_400.0
    assert parse_when("2026-03-01T20:00+08:00", now) == 1_772_366_400.0
    for bad in ("tomorrow", "", "30", "d30", "2026-13-01", "12x"):
        with pytest.raises(ActionError) as err:
            parse_when(bad, now)
        assert "\n" not in str(err.value)


def test_expired_entries_never_match_and_expire_drops_them(tmp_path):
    clock = Clock()
    store, ledger, bl = bl_at(tmp_path, clock)
    bl.add(BlacklistEntry("qq:1", expires_at=T0 + 100), "alice")
    bl.add(BlacklistEntry("qq:1*", reason="glob", expires_at=T0 + 50), "alice")
    bl.add(BlacklistEntry("qq:10*", reason="longer"), "alice")
    bl.add(BlacklistEntry("qq:2"), "alice")
    assert bl.match("qq:1").pattern == "qq:1"
    assert bl.match("qq:1", now=T0 + 99).pattern == "qq:1"
    assert bl.match("qq:1", now=T0 + 100) is None  # expires_at is the first moment it no longer holds
    # The first glob that matches has lapsed: a later one still matches.
    assert bl.match("qq:105", now=T0 + 60).pattern == "qq:10*"
    assert bl.match("qq:15", now=T0 + 60) is None
    clock.t = T0 + 150
    assert bl.match("qq:15") is None  # the default now is the clock
    with pytest.raises(ActionError, match="not in the future"):
        bl.add(BlacklistEntry("qq:3", expires_at=T0 + 10), "alice")
    gone = bl.expire(T0 + 150)
    assert sorted(e.pattern for e in gone) == ["qq:1", "qq:1*"]
    assert sorted(e.pattern for e in bl.entries()) == ["qq:10*", "qq:2"]
    expired = [e for e in ledger.audit_entries() if e.action == "blacklist expire"]
    assert {e.params["pattern"] for e in expired} == {"qq:1", "qq:1*"} and expired[0].actor == "auto:expiry"
    assert bl.expire(T0 + 150) == []
    store.close()
    store, ledger, bl = bl_at(tmp_path, clock)
    assert sorted(e.pattern for e in bl.entries()) == ["qq:10*", "qq:2"]
    store.close()


# --- against the demo world ---------------------------------------------------------

async def test_preview_counts_present_members(w):
    mid, groups = most_shared_member(w.stats)
    assert len(groups) >= 2
    hits = w.bl.preview(mid, w.stats)
    assert sorted(g for g, m, _ in hits) == sorted(groups) and {m for _, m, _ in hits} == {mid}
    brute = [(gid, m.id) for gid, g in w.stats.groups.items() for m in g.present_members()
             if fnmatch.fnmatchcase(m.id, "demo:u12*")]
    assert len(brute) >= 2
    assert sorted((g, m) for g, m, _ in w.bl.preview("demo:u12*", w.stats)) == sorted(brute)
    assert w.bl.preview("qq:u12*", w.stats) == []
    assert w.bl.preview("demo:nobody", w.stats) == []
    with pytest.raises(ActionError):
        w.bl.preview("*", w.stats)


async def test_add_bans_in_every_group_and_reapplying_never_acts_twice(w):
    mid, groups = most_shared_member(w.stats)
    entry = w.bl.add(BlacklistEntry(mid, reason="ad ring", evidence={"group": groups[0]}), "alice")
    actions = w.bl.enforcement(entry, w.stats, w.gbp, w.caps)
    all_groups = sorted(w.stats.groups)
    assert len(all_groups) == 8
    # Every monitored group, present or not: a ban keeps them from joining later.
    assert sorted(a.group for a in actions) == all_groups
    assert {a.kind for a in actions} == {ActionKind.BAN} and {a.member for a in actions} == {mid}
    assert {a.origin for a in actions} == {"blacklist"} and {a.reason for a in actions} == {"ad ring"}
    assert len({a.key for a in actions}) == 8
    report = await w.pipeline.run(actions)
    assert (report.total, report.done, report.failed) == (8, 8, 0), report.errors
    bans = [r for r in w.demo.received if r["action"] == "ban" and r["member"] == mid]
    assert sorted(r["group"] for r in bans) == all_groups
    await w.sync()
    for g in all_groups:
        assert mid not in {m.id for m in await w.demo.members(g)}
    assert present_in(w.stats, mid) == []

    # Re-applying the same entry: same keys, nothing sent again.
    again = w.bl.enforcement(entry, w.stats, w.gbp, w.caps)
    assert sorted(a.key for a in again) == sorted(a.key for a in actions)
    before = len(w.demo.received)
    report = await w.pipeline.run(again)
    assert (report.done, report.skipped) == (0, 8)
    assert len(w.demo.received) == before

    acts = audit_actions(w.ledger)
    assert acts.count("blacklist add") == 1 and acts.count("ban") == 8
    ban_audit = [e for e in w.ledger.audit_entries() if e.action == "ban"]
    assert all(e.member == mid and e.origin == "blacklist" and e.result.startswith("done") for e in ban_audit)


async def test_kick_where_the_platform_cannot_ban_and_nothing_where_it_can_neither(w):
    mid, groups = most_shared_member(w.stats)
    entry = w.bl.add(BlacklistEntry(mid), "alice")
    kicks = w.bl.enforcement(entry, w.stats, w.gbp, lambda g: frozenset({Capability.KICK}))
    assert {a.kind for a in kicks} == {ActionKind.KICK}
    assert sorted(a.group for a in kicks) == sorted(groups)  # a kick only where they are
    assert w.bl.enforcement(entry, w.stats, w.gbp, lambda g: frozenset({Capability.SEND})) == []
    # A platform with no watched group: nothing.
    assert w.bl.enforcement(w.bl.add(BlacklistEntry("qq:1"), "a"), w.stats, w.gbp, w.caps) == []
    assert w.bl.lifting(entry, w.gbp, lambda g: frozenset({Capability.BAN, Capability.KICK})) == []


async def test_glob_enforcement_acts_once_per_matching_present_member(w):
    entry = w.bl.add(BlacklistEntry("demo:u12*", reason="ring"), "alice")
    hits = w.bl.preview("demo:u12*", w.stats)
    actions = w.bl.enforcement(entry, w.stats, w.gbp, w.caps)
    assert sorted((a.group, a.member) for a in actions) == sorted((g, m) for g, m, _ in hits)
    assert all(a.kind is ActionKind.BAN and a.key.startswith("blacklist:demo:u12*:") for a in actions)
    report = await w.pipeline.run(actions)
    assert report.done == len(hits) and report.failed == 0
    await w.sync()
    for g, m, _ in hits:
        assert m not in {x.id for x in await w.demo.members(g)}

    # Lifting a glob unbans exactly whom it banned.
    w.bl.remove("demo:u12*", "alice")
    lifts = w.bl.lifting(entry, w.gbp, w.caps)
    assert sorted((a.group, a.member) for a in lifts) == sorted((g, m) for g, m, _ in hits)
    assert {a.kind for a in lifts} == {ActionKind.UNBAN}


async def test_on_join_kicks_a_blacklisted_id_and_no_one_else(w):
    mid, groups = most_shared_member(w.stats)
    w.bl.add(BlacklistEntry(mid, reason="back again", expires_at=w.demo.now() + 3600), "alice")
    now = w.demo.now()
    a = w.bl.on_join(groups[0], mid, now)
    assert a is not None and a.kind is ActionKind.BAN and a.member == mid and a.group == groups[0]
    assert a.origin == "auto:blacklist" and a.actor == "auto:blacklist" and a.reason == "back again"
    assert a.until == w.demo.now() + 3600
    b = w.bl.on_join(groups[0], mid, now + 5)
    assert b.key != a.key and w.bl.on_join(groups[0], mid, now).key == a.key
    assert w.bl.on_join(groups[1], mid, now).key != a.key
    assert w.bl.on_join(groups[0], "demo:u999999", now) is None
    assert w.bl.on_join(groups[0], mid, now + 7200) is None  # lapsed
    assert w.bl.on_join(groups[0], mid, now, capabilities=frozenset({Capability.KICK})).kind is ActionKind.KICK
    assert w.bl.on_join(groups[0], mid, now, capabilities=frozenset()) is None
    report = await w.pipeline.run([a])
    assert report.done == 1
    await w.sync()
    assert mid not in {m.id for m in await w.demo.members(groups[0])}
    report = await w.pipeline.run([w.bl.on_join(groups[0], mid, now)])
    assert report.skipped == 1  # the same join is never acted on twice


async def test_remove_lifts_the_bans(w):
    mid, groups = most_shared_member(w.stats)
    entry = w.bl.add(BlacklistEntry(mid), "alice")
    await w.pipeline.run(w.bl.enforcement(entry, w.stats, w.gbp, w.caps))
    await w.sync()
    assert all(mid in w.demo.world.by_id[g].banned for g in w.stats.groups)

    removed = w.bl.remove(mid, "bob")
    assert removed.pattern == mid and w.bl.match(mid) is None and w.bl.entries() == []
    lifts = w.bl.lifting(removed, w.gbp, w.caps)
    assert sorted(a.group for a in lifts) == sorted(w.stats.groups)
    report = await w.pipeline.run(lifts)
    assert report.done == 8
    unbans = [r for r in w.demo.received if r["action"] == "unban" and r["member"] == mid]
    assert len(unbans) == 8
    await w.sync()
    assert not any(mid in w.demo.world.by_id[g].banned for g in w.stats.groups)
    assert (await w.pipeline.run(w.bl.lifting(removed, w.gbp, w.caps))).skipped == 8
    with pytest.raises(ActionError, match="not on the blacklist"):
        w.bl.remove(mid, "bob")
    acts = audit_actions(w.ledger)
    assert acts.count("blacklist remove") == 1 and acts.count("unban") == 8
    rm = [e for e in w.ledger.audit_entries() if e.action == "blacklist remove"][0]
    assert rm.actor == "bob" and rm.member == mid


# --- import / export -----------------------------------------------------------

def hostile_blacklist(tmp_path) -> tuple[Store, Ledger, Blacklist]:
    store, ledger, bl = bl_at(tmp_path)
    for i, text in enumerate(HOSTILE):
        bl.add(BlacklistEntry(f"qq:{1000 + i}", reason=text, added_by=HOSTILE[-1 - i],
                              expires_at=T0 + 86400 * (i + 1) + 0.25 if i % 2 else None,
                              evidence={"excerpt": text, "group": "qq:g1", "message_id": f"m{i}", "alert": i}),
               "alice")
    bl.add(BlacklistEntry("telegram:55*", reason="", evidence={}), "=cmd|' /C calc'!A0")
    return store, ledger, bl


def same_entries(a: list[BlacklistEntry], b: list[BlacklistEntry], csv: bool = False) -> None:
    """Equal, except that CSV (UTF-8 for spreadsheets) turns lone surrogates into U+FFFD."""
    fix = (lambda s: s.replace("\ud800", "\ufffd")) if csv else (lambda s: s)
    assert len(a) == len(b)
    for x, y in zip(sorted(a, key=lambda e: e.pattern), sorted(b, key=lambda e: e.pattern)):
        assert (x.pattern, fix(x.reason), fix(x.added_by)) == (y.pattern, y.reason, y.added_by)
        assert json.loads(fix(json.dumps(x.evidence, ensure_ascii=False))) == y.evidence
        assert x.added_at == pytest.approx(y.added_at, abs=1e-5)
        assert (x.expires_at is None) == (y.expires_at is None)
        if x.expires_at is not None:
            assert x.expires_at == pytest.approx(y.expires_at, abs=1e-5)


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_export_import_round_trip_with_hostile_text(tmp_path, fmt):
    store, ledger, bl = hostile_blacklist(tmp_path / "a")
    text = bl.export(fmt)
    store2, ledger2, bl2 = bl_at(tmp_path / "b")
    assert bl2.import_text(text, fmt, "carol") == len(HOSTILE) + 1
    same_entries(bl.entries(), bl2.entries(), csv=fmt == "csv")
    assert bl2.match("qq:1000").reason == HOSTILE[0] and bl2.match("telegram:551") is not None
    imp = [e for e in ledger2.audit_entries() if e.action == "blacklist import"]
    assert len(imp) == 1 and imp[0].actor == "carol" and imp[0].params["count"] == len(HOSTILE) + 1
    store.close()
    store2.close()
    store3, _, bl3 = bl_at(tmp_path / "b")  # and it was committed
    same_entries(bl.entries(), bl3.entries(), csv=fmt == "csv")
    store3.close()


def test_csv_export_neutralises_formulas_and_json_is_inert(tmp_path):
    store, ledger, bl = hostile_blacklist(tmp_path)
    text = bl.export("csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == ["pattern", "reason", "added_by", "added_at", "expires_at", "evidence"]
    for r in rows:
        for k in ("reason", "added_by", "evidence"):
            assert r[k][:1] not in ("=", "+", "-", "@", "\t", "\r"), (k, r[k])
        assert r["added_at"].endswith("Z") and r["added_at"].startswith("2026-01-05T")
        assert r["expires_at"] == "" or r["expires_at"].endswith("Z")
    by = {r["pattern"]: r for r in rows}
    assert by["qq:1000"]["reason"] == "'" + HOSTILE[0]
    assert by["qq:1004"]["reason"] == "''=already quoted"
    assert json.loads(by["qq:1000"]["evidence"])["alert"] == 0
    js = bl.export("json")
    assert "\x1b" not in js and "\u202e" not in js and "\x07" not in js
    data = json.loads(js)
    assert data[0]["pattern"] == "qq:1000" and data[0]["evidence"]["excerpt"] == HOSTILE[0]
    store.close()


def test_a_bad_csv_row_names_its_line_and_imports_nothing(tmp_path):
    store, ledger, bl = bl_at(tmp_path)
    bl.add(BlacklistEntry("qq:1"), "alice")
    before = audit_actions(ledger)
    text = ("pattern,reason,added_by,added_at,expires_at,evidence\n"
            'qq:2,"two\nlines",bob,2026-01-05T00:00:00Z,,\n'   # lines 2-3
            "qq:3,ok,bob,2026-01-05T00:00:00Z,2026-02-01,\n"      # line 4
            "*,everyone,bob,,,\n"                                # line 5
            "qq:5,ok,bob,,,\n")
    with pytest.raises(ActionError) as err:
        bl.import_text(text, "csv", "carol")
    msg = str(err.value)
    assert "line 5" in msg and "nothing imported" in msg and "\n" not in msg
    assert [e.pattern for e in bl.entries()] == ["qq:1"] and audit_actions(ledger) == before
    for bad, what in (("qq:2,,,yesterday,,\n", "added_at"), ("qq:2,,,,soon,\n", "expires_at"),
                      ("qq:2,,,,,{not json\n", "evidence"), ('qq:2,,,,,"[1,2]"\n', "evidence"),
                      ("qq:2,,,\n", "cells"), ("qq:1,,,,,\nqq:1,,,,,\n", "already appears")):
        with pytest.raises(ActionError) as err:
            bl.import_text("pattern,reason,added_by,added_at,expires_at,evidence\n" + bad, "csv", "carol")
        assert "line 2" in str(err.value) or "line 3" in str(err.value)
        assert what in str(err.value)
    with pytest.raises(ActionError, match="line 1: unknown column 'reson'"):
        bl.import_text("pattern,reson\nqq:9,x\n", "csv", "carol")
    with pytest.raises(ActionError, match="entry 2"):
        bl.import_text(json.dumps([{"pattern": "qq:7"}, {"pattern": "qq*:8"}]), "json", "carol")
    with pytest.raises(ActionError, match="entry 1: .*must be a JSON object"):
        bl.import_text(json.dumps([{"pattern": "qq:7", "evidence": "[1]"}]), "json", "carol")
    with pytest.raises(ActionError, match="not valid JSON"):
        bl.import_text("[{", "json", "carol")
    assert [e.pattern for e in bl.entries()] == ["qq:1"] and audit_actions(ledger) == before
    store.close()


# --- the CLI modules ------------------------------------------------------------

def cli_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="groupwatch")
    p.add_argument("--data-dir", default=None)
    sub = p.add_subparsers(dest="command")
    add_parsers(sub)
    return p


class CliRuntime:
    """A Runtime built from the real pieces (``moderation``, ``engine``, ``settings``) over the test's demo
    world, so the CLI's service sees what the assertions check."""

    def __init__(self, w: World) -> None:
        self.w = w
        self.settings = Settings()
        self.engine = Engine(self.settings, [w.demo], w.store, clock=w.demo.now)
        self.moderation = Moderation(self.settings, w.store, self.engine, actor="tester")
        self.is_demo = False
        self.demo = None
        # The world's handles are the moderation's, so the assertions see what the CLI did.
        w.stats, w.ledger, w.pipeline, w.bl = (self.engine.stats, self.moderation.ledger,
                                               self.moderation.pipeline, self.moderation.blacklist)


def service_connect(rt, user: str = "tester"):
    """What ``attach.client_for`` gives a command when no service runs: a LocalClient of a Service over
    the engine in this process (one Service for the test, a session per command)."""
    from contextlib import asynccontextmanager
    from pathlib import Path

    from console.service.attach import Attached
    from console.service.client import LocalClient
    from console.service.service import Service

    svc = Service(rt, owner="tester")

    @asynccontextmanager
    async def connect(args, *, session: str, pace: bool = False, current: bool = True):
        actor = svc.open_session(user, [], read_only=bool(getattr(args, "read_only", False)), session=session)
        client = LocalClient(svc, actor)
        try:
            yield Attached(client, rt, svc, Path("groupwatch.sock"))
        finally:
            await client.close()

    connect.service = svc
    return connect


@pytest.fixture
def cli(tmp_path):
    world = asyncio.run(make_world(tmp_path / "data"))
    rt = CliRuntime(world)
    asyncio.run(rt.moderation.sync())
    connect = service_connect(rt)

    def call(*argv: str) -> int:
        args = cli_parser().parse_args(list(argv))
        mod = blacklist_cmd if args.command == "blacklist" else audit_cmd
        return mod.run(args, connect)

    call.rt, call.w, call.service = rt, world, connect.service
    yield call
    world.store.close()


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("groupwatch: error: "), err
    assert "Traceback" not in err
    return lines[0]


def test_parser_takes_global_options_either_side():
    p = cli_parser()
    a = p.parse_args(["blacklist", "add", "qq:1", "--data-dir", "X", "--reason", "r", "--yes"])
    assert (a.command, a.blacklist_command, a.pattern, a.data_dir, a.reason, a.yes) == \
        ("blacklist", "add", "qq:1", "X", "r", True)
    a = p.parse_args(["--data-dir", "Y", "blacklist", "list"])
    assert a.data_dir == "Y" and a.format == "table"
    a = p.parse_args(["blacklist", "--data-dir", "Z", "export"])
    assert a.data_dir == "Z" and a.file == "-" and a.format is None
    a = p.parse_args(["audit", "--since", "2h", "--format", "csv", "--config", "c.toml"])
    assert (a.since, a.format, a.config) == ("2h", "csv", "c.toml")
    with pytest.raises(SystemExit):
        p.parse_args(["blacklist"])


@pytest.mark.parametrize("argv", [("blacklist", "add", "12345"), ("blacklist", "add", "*"),
                                  ("blacklist", "add", "qq:1", "--expires", "someday"),
                                  ("blacklist", "add", "qq:1", "--expires", "2020-01-01"),
                                  ("blacklist", "remove", "demo:u1"),
                                  ("blacklist", "import", "nofile.txt"),
                                  ("audit", "--since", "yesterday")])
def test_cli_bad_input_is_one_line_exit_2(cli, capsys, argv):
    assert cli(*argv) == 2
    one_error_line(capsys.readouterr().err)
    assert cli.w.bl.entries() == [] and cli.w.demo.received == []


def test_cli_glob_needs_yes_then_acts(cli, capsys):
    hits = cli.w.bl.preview("demo:u12*", cli.w.stats)
    n = len({m for _, m, _ in hits})
    assert n > 1
    assert cli("blacklist", "add", "demo:u12*", "--reason", "ring") == 2
    out, err = capsys.readouterr()
    assert f"matches {n} present member(s)" in out
    line = one_error_line(err)
    assert f"matches {n} members" in line and "--yes" in line
    assert cli.w.bl.entries() == [] and cli.w.demo.received == []

    assert cli("blacklist", "add", "demo:u12*", "--reason", "ring", "--yes") == 0
    out, err = capsys.readouterr()
    assert f"matches {n} present member(s)" in out and f"{len(hits)}/{len(hits)} done" in out and not err
    assert cli.w.bl.get("demo:u12*").reason == "ring"
    assert len([r for r in cli.w.demo.received if r["action"] == "ban"]) == len(hits)


def test_cli_add_exact_bans_everywhere_then_remove_unbans(cli, capsys):
    mid, groups = most_shared_member(cli.w.stats)
    assert cli("blacklist", "add", mid, "--reason", "[red]spam[/red]", "--expires", "30d") == 0
    out, err = capsys.readouterr()
    assert f"matches 1 present member(s) in {len(groups)} group(s)" in out
    assert "8/8 done" in out and not err
    e = cli.w.bl.get(mid)
    assert e.reason == "[red]spam[/red]" and e.added_by == "tester"
    assert e.expires_at == pytest.approx(e.added_at + 30 * 86400)
    assert sorted(r["group"] for r in cli.w.demo.received if r["action"] == "ban") == sorted(cli.w.stats.groups)
    asyncio.run(cli.rt.moderation.sync())  # the engine's next poll: the platform removed them everywhere
    assert present_in(cli.w.stats, mid) == []

    assert cli("blacklist", "remove", mid) == 0
    out, _ = capsys.readouterr()
    assert "8/8 done" in out and cli.w.bl.entries() == []
    assert len([r for r in cli.w.demo.received if r["action"] == "unban"]) == 8


def test_cli_adding_an_entry_again_says_who_and_sends_nothing(cli, capsys):
    mid, _ = most_shared_member(cli.w.stats)
    assert cli("blacklist", "add", mid, "--reason", "first") == 0
    sent = len(cli.w.demo.received)
    capsys.readouterr()
    assert cli("blacklist", "add", mid, "--reason", "second") == 0
    out, err = capsys.readouterr()
    assert f"{mid}: already blacklisted by tester" in out and not err
    assert cli.w.bl.get(mid).reason == "first" and len(cli.w.demo.received) == sent


def test_cli_roles_are_the_services(cli, capsys):
    """A moderator may blacklist but not lift or import; a viewer may only look. The command itself
    checks nothing: the service refuses, with one line, and nothing changes."""
    cli.rt.settings.operators.users.update({"mo": "moderator", "vic": "viewer"})
    mid, _ = most_shared_member(cli.w.stats)

    def as_user(user: str, *argv: str) -> int:
        args = cli_parser().parse_args(list(argv))
        mod = blacklist_cmd if args.command == "blacklist" else audit_cmd
        return mod.run(args, service_connect(cli.rt, user))

    assert as_user("vic", "blacklist", "add", mid) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "blacklist refused: vic is a viewer; it needs moderator" in line
    assert cli.w.bl.entries() == [] and cli.w.demo.received == []
    assert as_user("vic", "blacklist", "list", "--format", "json") == 0
    assert json.loads(capsys.readouterr().out) == []

    assert as_user("mo", "blacklist", "add", mid, "--reason", "ads") == 0
    capsys.readouterr()
    assert cli.w.bl.get(mid).added_by == "mo"
    sent = len(cli.w.demo.received)
    assert as_user("mo", "blacklist", "remove", mid) == 2
    assert "needs admin" in one_error_line(capsys.readouterr().err)
    assert cli.w.bl.get(mid) is not None and len(cli.w.demo.received) == sent
    assert as_user("tester", "blacklist", "remove", mid) == 0  # the service's owner is an admin
    assert cli.w.bl.entries() == []


def test_cli_list_formats_are_inert(cli, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")  # one line per row, so texts can be checked whole
    for i, text in enumerate(HOSTILE[:9]):
        cli.w.bl.add(BlacklistEntry(f"qq:{i + 1}", reason=text, evidence={"excerpt": text}), "alice")
    assert cli("blacklist", "list") == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "[bold red]markup[/bold red]" in out  # shown literally, not styled
    assert "␛" in out and "qq:9" in out
    assert cli("blacklist", "list", "--format", "json") == 0
    data = json.loads(capsys.readouterr().out)
    assert [d["reason"] for d in data] == HOSTILE[:9]
    assert cli("blacklist", "list", "--format", "csv") == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 9 and rows[0]["reason"].startswith("'=")


def test_cli_export_import_files(cli, capsys, tmp_path):
    for i, text in enumerate(HOSTILE):
        cli.w.bl.add(BlacklistEntry(f"qq:{i + 1}", reason=text), "alice")
    before = cli.w.bl.entries()
    for fmt in ("json", "csv"):  # json first: it keeps even lone surrogates, csv makes them U+FFFD
        f = tmp_path / f"bl.{fmt}"
        assert cli("blacklist", "export", str(f)) == 0
        assert f"exported {len(HOSTILE)} blacklist entries" in capsys.readouterr().out
        for e in list(cli.w.bl.entries()):
            cli.w.bl.remove(e.pattern, "alice")
        assert cli("blacklist", "import", str(f)) == 0
        assert f"imported {len(HOSTILE)}" in capsys.readouterr().out
        same_entries(before, cli.w.bl.entries(), csv=fmt == "csv")
    bad = tmp_path / "bad.txt"
    bad.write_text("pattern,reason\nqq:77,fine\nqq,no platform\n", encoding="utf-8")
    assert cli("blacklist", "import", str(bad)) == 2
    assert "--format" in one_error_line(capsys.readouterr().err)
    assert cli("blacklist", "import", str(bad), "--format", "csv") == 2
    line = one_error_line(capsys.readouterr().err)
    assert "line 3" in line and "nothing imported" in line
    assert cli.w.bl.get("qq:77") is None
    assert cli("blacklist", "export", "--format", "json") == 0
    assert len(json.loads(capsys.readouterr().out)) == len(HOSTILE)


def test_cli_audit(cli, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")
    mid, _ = most_shared_member(cli.w.stats)
    assert cli("blacklist", "add", mid, "--reason", "\x1b]0;pwn\x07=evil") == 0
    assert cli("blacklist", "remove", mid) == 0
    capsys.readouterr()
    assert cli("audit", "--format", "json") == 0
    data = json.loads(capsys.readouterr().out)
    acts = Counter(d["action"] for d in data)
    assert acts["blacklist add"] == 1 and acts["blacklist remove"] == 1 and acts["ban"] == 8 and acts["unban"] == 8
    assert all(d["at"].endswith("Z") for d in data)
    assert [d["id"] for d in data] == sorted(d["id"] for d in data)

    assert cli("audit") == 0
    out = capsys.readouterr().out
    assert "blacklist add" in out and "\x1b" not in out and "\x07" not in out and "pwn" in out

    assert cli("audit", "--format", "csv") == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == len(data) and set(rows[0]) == set(audit_cmd.COLUMNS)
    assert all(v[:1] not in ("=", "+", "-", "@") for r in rows for v in r.values())

    # --since: durations count back from the engine's clock (the ledger's), asked of the service.
    now = cli.w.demo.now()
    clock = Clock(now - 3 * 3600)
    store2 = Store(cli.w.store.data_dir.parent / "other")
    ledger2 = Ledger(store2, clock=clock)
    ledger2.audit("alice", "old step")
    clock.t = now - 600
    ledger2.audit("alice", "new step")
    cli.rt.moderation.ledger = ledger2
    assert cli("audit", "--since", "2h", "--format", "json") == 0
    assert [d["action"] for d in json.loads(capsys.readouterr().out)] == ["new step"]
    assert cli("audit", "--since", "2026-01-01", "--format", "json") == 0
    assert [d["action"] for d in json.loads(capsys.readouterr().out)] == ["old step", "new step"]
    assert cli("audit", "--since", "1m") == 0
    assert "no audit entries since" in capsys.readouterr().out
    store2.close()


def test_an_unusable_stored_doc_is_kept_but_never_matches(tmp_path):
    store, ledger, bl = bl_at(tmp_path)
    bl.add(BlacklistEntry("qq:1"), "alice")
    store.put_doc("moderation", "blacklist", "*", {"pattern": "*", "reason": "hand-edited"})
    store.put_doc("moderation", "blacklist", "junk", {"no": "pattern"})
    store.commit("moderation")
    store.close()
    store, ledger, bl = bl_at(tmp_path)
    assert [e.pattern for e in bl.entries()] == ["qq:1"] and bl.match("qq:2") is None
    bl.remove("qq:1", "alice")  # rewrites the table
    assert sorted(d.get("reason", "") for d in store.read_table("moderation", "blacklist")) == ["", "hand-edited"]
    store.close()
