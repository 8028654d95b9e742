"""Issue 13 item 7: new-member retention (7 and 30 days, per join week) and the reactivation of
mentioned quiet members, in the report view, its table and the weekly digest; on a fake clock."""
from __future__ import annotations

import re

from connectors.events import Member
from console.engine.actions.model import Action, ActionKind
from console.engine.cohorts import WEEKS_KEPT, Cohorts, week_of
from console.engine.digest import weekly_digest
from console.engine.engine import Engine
from console.engine.settings import Settings
from console.engine.stats import DAY, FleetStats
from console.engine.store import Store
from tests.digest_world import WEEK1, Clock, actor, world
from tests.helpers import T0, join, leave, msg


# --- retention ---

def test_retention_of_a_join_week_at_7_and_30_days():
    """Ten join in week 1; two leave 3 days in, three more 10 days in: 80% stay a week, 50% a month."""
    stats = FleetStats()
    joined = {f"m{i}": WEEK1 + i * 0.5 * DAY for i in range(10)}
    events = [join("fake:g1", m, at) for m, at in joined.items()]
    events += [leave("fake:g1", m, joined[m] + 3 * DAY) for m in ("m0", "m1")]
    events += [leave("fake:g1", m, joined[m] + 10 * DAY, kicked_by="admin" if m == "m4" else None)
               for m in ("m2", "m3", "m4")]
    for ev in sorted(events, key=lambda e: e.at):
        stats.apply(ev)
    c = stats.cohorts
    # Before a week's every member has had 7 days, that week is not the one judged.
    early = c.retention("fake:g1", WEEK1 + 13 * DAY, 7)
    assert early.week == week_of(WEEK1) - 1 and early.joined == 0 and early.rate is None
    r7 = c.retention("fake:g1", WEEK1 + 14 * DAY + 3600, 7)
    assert (r7.week, r7.joined, r7.stayed, r7.rate) == (week_of(WEEK1), 10, 8, 0.8)
    r30 = c.retention("fake:g1", WEEK1 + 37 * DAY + 3600, 30)
    assert (r30.week, r30.joined, r30.stayed, r30.rate) == (week_of(WEEK1), 10, 5, 0.5)
    # Another group's numbers add up in the fleet's, not in this group's.
    stats.apply(join("fake:g2", "x", WEEK1 + DAY))
    assert c.fleet(WEEK1 + 14 * DAY + 3600, 7).joined == 11
    assert c.retention("fake:g1", WEEK1 + 14 * DAY + 3600, 7).joined == 10


def test_retention_ignores_members_from_before_and_stays_bounded():
    stats = FleetStats()
    # Known from the member list (joined long before we watched): their leaving is no newcomer's.
    stats.load_members("fake:g1", [Member(id="old", name="old", joined_at=WEEK1 - 90 * DAY)], WEEK1, complete=True)
    stats.apply(join("fake:g1", "new", WEEK1 + DAY))
    stats.apply(leave("fake:g1", "old", WEEK1 + 2 * DAY))
    # Gone from a complete member list counts as gone.
    stats.load_members("fake:g1", [], WEEK1 + 2 * DAY, complete=True)
    r = stats.cohorts.retention("fake:g1", WEEK1 + 15 * DAY, 7)
    assert (r.joined, r.stayed) == (1, 0)
    # Twenty weeks of joins keep only the weeks a verdict still needs.
    for wk in range(20):
        stats.apply(join("fake:g1", f"w{wk}", WEEK1 + wk * 7 * DAY))
    assert len(stats.cohorts.groups["fake:g1"]) <= WEEKS_KEPT + 1


def test_cohorts_survive_a_checkpoint(tmp_path):
    w = world(tmp_path)
    w.engine.ingest([join("fake:g1", f"n{i}", WEEK1 + i * 3600) for i in range(4)])
    w.engine.ingest([leave("fake:g1", "n0", WEEK1 + 2 * DAY)])
    w.engine.checkpoint()
    w.close()
    store = Store(tmp_path / "data")
    again = Engine(Settings(), [], store, clock=Clock(WEEK1 + 15 * DAY))
    again.restore()
    r = again.stats.cohorts.retention("fake:g1", WEEK1 + 15 * DAY, 7)
    assert (r.joined, r.stayed) == (4, 3)
    store.close()
    damaged = Cohorts()
    damaged.load_docs([{"group": "g", "weeks": {"x": [1]}}, {"nope": 1}])
    assert damaged.groups == {}


# --- reactivation ---

async def test_reactivation_of_mentioned_quiet_members_in_the_report_and_the_digest(tmp_path):
    w = world(tmp_path)
    g = "fake:g1"
    mentioned = [f"{g}:m{i}" for i in range(4)]
    w.moderation.mentions.record([Action(ActionKind.SEND, g, None, text="@all", mentions=tuple(mentioned),
                                         key="mention:test")], T0)
    w.clock.t = T0 + DAY
    w.engine.ingest([msg(g, mentioned[0], T0 + DAY)])          # answered within the 3 days
    w.engine.ingest([msg(g, mentioned[1], T0 + 5 * DAY)])      # too late to count
    w.clock.t = T0 + 6 * DAY
    rows = await w.service.query(actor("alice"), "report", {})
    row = next(r for r in rows if r.id == g)
    assert row.reactivation == 0.25
    text = weekly_digest(w.engine, w.clock.t)
    assert "Quiet members mentioned (30 days): 4 judged, 1 posted within 3 days (25%)" in text
    # Mentions older than the span are not this month's news.
    assert w.moderation.mentions.reactivation_by_group(T0 + 40 * DAY, since=T0 + 10 * DAY) == {}
    w.close()


async def test_the_report_view_carries_retention(tmp_path):
    w = world(tmp_path)
    w.engine.ingest([join("fake:g1", f"n{i}", WEEK1 + i * 3600) for i in range(5)])
    w.engine.ingest([leave("fake:g1", "n0", WEEK1 + DAY)])
    w.clock.t = WEEK1 + 15 * DAY
    row = next(r for r in await w.service.query(actor("alice"), "report", {}) if r.id == "fake:g1")
    assert row.retention_7d == 0.8 and row.retention_30d is None
    assert (await w.service.query(actor("alice"), "groups", {}))[0].retention_7d is None  # the report's only
    text = weekly_digest(w.engine, w.clock.t)
    assert "New members of the week of 2026-01-05: 5 joined, 80% still there 7 days on" in text
    w.close()


async def test_report_table_shows_retention_apart_at_80_columns(tmp_path):
    import io

    from rich.console import Console

    from console.report_retention import weekly_table

    w = world(tmp_path, {"fake:g1": "Readers' club", "fake:g2": "Quiet corner"})
    w.engine.ingest([join("fake:g1", f"n{i}", WEEK1 + i * 3600) for i in range(5)])
    w.engine.ingest([leave("fake:g1", "n0", WEEK1 + DAY)])
    w.clock.t = WEEK1 + 15 * DAY
    rows = await w.service.query(actor("alice"), "report", {})
    buf = io.StringIO()
    Console(file=buf, width=80, markup=False, highlight=False).print(weekly_table(rows, w.clock.t))
    out = buf.getvalue()
    assert all(len(line) <= 80 for line in out.split("\n"))
    retention = out[out.index("new members kept, quiet members reactivated"):]
    assert weekly_table([r for r in rows if r.id == "fake:g2"], w.clock.t) is None  # no figure: no table
    assert re.search(r"│ fake:g1 │ Readers' club │ +80\.0% │ +- │ +- │", retention), out
    assert "Quiet corner" not in retention and "kept 7d: the week of 2026-01-05" in retention.replace("\n", " ")
    w.close()
