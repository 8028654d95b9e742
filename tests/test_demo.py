"""The demo connector: determinism, the first sim hour's guarantees, actions and reactions."""
from __future__ import annotations

import asyncio
import json
import time
import unicodedata
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from difflib import SequenceMatcher

import pytest

from connectors.contract import Capability, Connector, ConnectorError, HealthState
from connectors.demo import DEMO_EPOCH, DemoConnector
from connectors.demo import corpus
from connectors.events import Ban, Event, Join, Leave, Member, Message, MessageDeleted

HOUR = 3600.0
DAY = 86400.0


async def run(c: DemoConnector, ticks: int) -> list[list[Event]]:
    out = []
    for _ in range(ticks):
        out.append((await c.poll(None, 5.0)).events)
    return out


def flat(batches: list[list[Event]]) -> list[Event]:
    return [e for b in batches for e in b]


def norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in text if ch.isalnum())


def newcomer_firsts(events: list[Event]) -> list[Message]:
    """First messages of members who joined during the run, within a minute of joining."""
    joined: dict[tuple[str, str], float] = {}
    spoke: set[tuple[str, str]] = set()
    out = []
    for e in events:
        if type(e) is Join:
            joined[(e.group, e.member)] = e.at
            spoke.discard((e.group, e.member))
        elif type(e) is Message and (e.group, e.sender) in joined and (e.group, e.sender) not in spoke:
            spoke.add((e.group, e.sender))
            if e.at - joined[(e.group, e.sender)] <= 60:
                out.append(e)
    return out


def repeated_newcomer_ads(events: list[Event], window: float = 600.0) -> list[Message]:
    """Newcomer first messages whose near-same text reached 3+ groups within ``window``."""
    firsts = [m for m in newcomer_firsts(events) if len(norm(m.text)) >= 8]
    hits = []
    for m in firsts:
        groups = {o.group for o in firsts
                  if abs(o.at - m.at) <= window and SequenceMatcher(None, norm(m.text), norm(o.text)).ratio() >= 0.7}
        if len(groups) >= 3:
            hits.append(m)
    return hits


def max_voluntary_leaves_in_hour(events: list[Event]) -> int:
    by_group: dict[str, list[float]] = defaultdict(list)
    for e in events:
        if type(e) is Leave and e.voluntary:
            by_group[e.group].append(e.at)
    best = 0
    for times in by_group.values():
        times.sort()
        lo = 0
        for hi, t in enumerate(times):
            while t - times[lo] > HOUR:
                lo += 1
            best = max(best, hi - lo + 1)
    return best


def max_messages_in_minute(events: list[Event]) -> int:
    by_sender: dict[tuple[str, str], list[float]] = defaultdict(list)
    for e in events:
        if type(e) is Message:
            by_sender[(e.group, e.sender)].append(e.at)
    best = 0
    for times in by_sender.values():
        lo = 0
        for hi, t in enumerate(times):
            while t - times[lo] > 60:
                lo += 1
            best = max(best, hi - lo + 1)
    return best


@pytest.fixture(scope="module")
def first_hour() -> tuple[DemoConnector, dict[str, list[Member]], list[list[Event]]]:
    async def go():
        c = DemoConnector(pace=False)
        snapshot = {g.id: await c.members(g.id) for g in await c.groups()}
        return c, snapshot, await run(c, 60)
    return asyncio.run(go())


# --- determinism and the clock ---------------------------------------------

async def test_same_seed_same_events_other_seed_differs():
    a, b, c = DemoConnector(pace=False), DemoConnector(pace=False), DemoConnector(seed=8, pace=False)
    ea, eb, ec = await run(a, 60), await run(b, 60), await run(c, 60)
    assert sum(map(len, ea)) > 100
    assert ea == eb
    assert ea != ec
    assert await a.groups() == await b.groups()
    assert [g.name for g in await a.groups()] != [g.name for g in await c.groups()]


def test_epoch_is_monday_nine_in_shanghai():
    assert DEMO_EPOCH == datetime(2026, 1, 5, 9, 0, tzinfo=timezone(timedelta(hours=8))).timestamp()


async def test_now_and_cursor_advance_one_tick_per_poll():
    c = DemoConnector(pace=False)
    assert c.now() == DEMO_EPOCH
    batch = await c.poll(None, 1.0)
    assert c.now() == DEMO_EPOCH + 60.0
    assert json.loads(batch.cursor) == {"v": 1, "tick": 1}
    assert all(DEMO_EPOCH <= e.at < DEMO_EPOCH + 60 for e in batch.events)
    assert [e.at for e in batch.events] == sorted(e.at for e in batch.events)
    batch = await c.poll(batch.cursor, 1.0)
    assert json.loads(batch.cursor)["tick"] == 2


def test_implements_the_contract():
    c = DemoConnector(groups=5, pace=False)
    assert isinstance(c, Connector)
    assert c.capabilities == frozenset(Capability)
    assert c.health().state is HealthState.OK


# --- what the first sim hour must show ---------------------------------------

def test_ad_burst_from_newcomers_across_groups_early(first_hour):
    c, _, batches = first_hour
    events = flat(batches)
    hits = repeated_newcomer_ads(events)
    assert len({m.group for m in hits}) >= 3
    first_tick = next(i + 1 for i, b in enumerate(batches) if any(m in b for m in hits))
    assert 3 <= first_tick <= 8
    assert all(c.world.labels.get(m.id) == "ad" for m in hits)


def test_leave_wave_of_six_in_one_group_within_an_hour(first_hour):
    _, _, batches = first_hour
    assert max_voluntary_leaves_in_hour(flat(batches)) >= 6


def test_flood_in_first_hour(first_hour):
    _, _, batches = first_hour
    assert max_messages_in_minute(flat(batches)) >= 10


def test_quiet_groups_stay_quiet(first_hour):
    _, snapshot, batches = first_hour
    quiet = [gid for gid, ms in snapshot.items()
             if max(m.last_message_at or 0 for m in ms) <= DEMO_EPOCH - 26 * HOUR]
    assert len(quiet) >= 2  # about 10% of 40
    for gid in quiet:
        last = max(m.last_message_at or 0 for m in snapshot[gid])
        assert DEMO_EPOCH - 96 * HOUR <= last <= DEMO_EPOCH - 26 * HOUR
    spoke = {e.group for e in flat(batches) if type(e) is Message}
    assert not spoke & set(quiet)


def test_lurkers_and_active_members_in_snapshot(first_hour):
    _, snapshot, _ = first_hour
    cutoff = DEMO_EPOCH - 14 * DAY
    for gid, ms in snapshot.items():
        lurkers = [m for m in ms if (m.last_message_at or -1) < cutoff and m.joined_at is not None
                   and m.joined_at < cutoff]
        assert 0.25 <= len(lurkers) / len(ms) <= 0.7, gid
        assert all(m.joined_at is not None and m.joined_at <= (m.last_message_at or m.joined_at) for m in ms)
    assert sum(m.last_message_at is None for ms in snapshot.values() for m in ms) > 100  # never spoke at all
    sizes = [len(ms) for ms in snapshot.values()]
    assert min(sizes) >= 20 and max(sizes) <= 520
    assert all(m.id.startswith("demo:u") or m.id == "demo:operator" for ms in snapshot.values() for m in ms)


def test_hostile_names_are_planted(first_hour):
    _, snapshot, _ = first_hour
    names = [m.name for ms in snapshot.values() for m in ms]
    assert any("[bold red]" in n for n in names)
    assert any("\x1b[" in n for n in names)
    assert any("\u202e" in n for n in names)


async def test_daily_rhythm_quiet_at_night():
    night = DemoConnector(pace=False, start=DEMO_EPOCH + 18 * HOUR)  # 03:00 in Shanghai
    evening = DemoConnector(pace=False, start=DEMO_EPOCH + 12 * HOUR)  # 21:00
    # Ads and floods don't sleep; people do.
    n_night = sum(type(e) is Message and e.id not in night.world.labels for e in flat(await run(night, 60)))
    n_evening = sum(type(e) is Message and e.id not in evening.world.labels for e in flat(await run(evening, 60)))
    assert n_evening > 10 * max(1, n_night)


async def test_campaigns_keep_coming():
    c = DemoConnector(pace=False)
    events = flat(await run(c, 180))
    ad_times = sorted(e.at for e in events if type(e) is Message and c.world.labels.get(e.id) == "ad")
    starts = [t for i, t in enumerate(ad_times) if i == 0 or t - ad_times[i - 1] > 5 * 60]
    assert len(starts) >= 7  # every ~10-20 sim minutes over three hours
    assert len(ad_times) >= 3 * len(starts)


# --- actions and reactions --------------------------------------------------

async def first_ad_accounts(c: DemoConnector) -> list[Message]:
    events = flat(await run(c, 12))
    ads = [m for m in newcomer_firsts(events) if c.world.labels.get(m.id) == "ad"]
    assert len(ads) >= 3
    return ads


async def test_kick_is_answered_by_pull_back_and_new_teammate():
    c = DemoConnector(pace=False)
    ad = (await first_ad_accounts(c))[0]
    known = {m.id for g in await c.groups() for m in await c.members(g.id)}
    await c.kick(ad.group, ad.sender, "ads")
    batches = await run(c, 35)
    kick_at = c.world.start + 12 * 60
    assert any(type(e) is Leave and e.member == ad.sender and e.kicked_by == "demo:operator" for e in batches[0])
    events = flat(batches)
    back = [e for e in events if type(e) is Join and e.group == ad.group and e.member == ad.sender]
    assert back and 2 * 60 <= back[0].at - kick_at <= 10 * 60 + 60
    team = c.world.people[ad.sender].team
    fresh = [e for e in events if type(e) is Join and e.group == ad.group and e.member not in known
             and c.world.people[e.member].team == team]
    assert fresh, "a teammate should come back under a new id"
    j = fresh[0]
    assert 5 * 60 <= j.at - kick_at <= 30 * 60 + 60
    said = [e for e in events if type(e) is Message and e.sender == j.member and e.group == ad.group]
    assert said and said[0].at - j.at <= 60
    assert c.world.labels.get(said[0].id) == "ad"


async def test_ban_keeps_the_account_out():
    c = DemoConnector(pace=False)
    ad = (await first_ad_accounts(c))[1]
    await c.ban(ad.group, ad.sender, "ads")
    batches = await run(c, 45)
    assert any(type(e) is Ban and e.member == ad.sender and e.by == "demo:operator" for e in batches[0])
    assert ad.sender not in {m.id for m in await c.members(ad.group)}
    events = flat(batches)
    assert not [e for e in events if type(e) is Join and e.group == ad.group and e.member == ad.sender]
    assert (ad.group, ad.sender) in {(g, p) for g, p, _ in c.world.refused_joins}
    await c.unban(ad.group, ad.sender)
    await c.poll(None, 1)
    assert [r["action"] for r in c.received] == ["ban", "unban"]
    assert ad.group not in {gid for gid, g in c.world.by_id.items() if ad.sender in g.banned}


async def test_kick_emits_leave_and_member_is_gone():
    c = DemoConnector(pace=False)
    await c.poll(None, 1)
    victim = next(m for m in await c.members("demo:g2") if not m.is_admin)
    await c.kick("demo:g2", victim.id, "test")
    batch = await c.poll(None, 1)
    leaves = [e for e in batch.events if type(e) is Leave and e.member == victim.id]
    assert len(leaves) == 1 and leaves[0].kicked_by == "demo:operator" and not leaves[0].voluntary
    assert victim.id not in {m.id for m in await c.members("demo:g2")}
    rec = c.received[-1]
    assert rec["action"] == "kick" and rec["group"] == "demo:g2" and rec["member"] == victim.id and rec["tick"] == 1


async def test_send_is_idempotent_and_mentions_get_answers():
    c = DemoConnector(pace=False)
    await c.poll(None, 1)
    cutoff = DEMO_EPOCH - 14 * DAY

    async def lurkers_of(gid: str) -> list[str]:
        return [m.id for m in await c.members(gid)
                if not m.is_admin and (m.last_message_at or 0) < cutoff and c.world.people[m.id].team < 0]

    candidates = [(len(await lurkers_of(g.id)), g.id) for g in await c.groups()]
    gid = max(candidates)[1]
    lurkers = (await lurkers_of(gid))[:20]
    assert len(lurkers) == 20
    r1 = await c.send(gid, "大家好，有空聊聊吗？", mentions=lurkers, idempotency_key="k1")
    r2 = await c.send(gid, "大家好，有空聊聊吗？", mentions=lurkers, idempotency_key="k1")
    assert r1 == r2
    assert [(r["action"], r["repeat"]) for r in c.received] == [("send", False), ("send", True)]
    assert c.received[0]["key"] == "k1" and c.received[0]["mentions"] == lurkers
    batches = await run(c, 32)
    mine = [e for e in batches[0] if type(e) is Message and e.sender == "demo:operator"]
    assert len(mine) == 1
    assert mine[0].id == r1.message_id and mine[0].sender_name == "operator (you)"
    assert mine[0].mentions == tuple(lurkers)
    answers = [e for e in flat(batches) if type(e) is Message and e.reply_to == r1.message_id]
    assert all(a.sender in lurkers and a.group == gid for a in answers)
    assert 1 <= len(answers) <= 14  # p ~ 0.3 of 20
    assert all(60 <= a.at - mine[0].at <= 30 * 60 for a in answers)
    r3 = await c.send(gid, "again", idempotency_key="k2")
    assert r3 != r1


async def test_delete_emits_message_deleted():
    c = DemoConnector(pace=False)
    events = flat(await run(c, 5))
    msg = next(e for e in events if type(e) is Message)
    await c.delete(msg.group, msg.id)
    batch = await c.poll(None, 1)
    dels = [e for e in batch.events if type(e) is MessageDeleted]
    assert len(dels) == 1 and dels[0].message_id == msg.id and dels[0].group == msg.group
    assert dels[0].by == "demo:operator"
    with pytest.raises(ConnectorError):
        await c.delete(msg.group, "demo:m999999999")
    other = next(g.id for g in await c.groups() if g.id != msg.group)
    with pytest.raises(ConnectorError):
        await c.delete(other, msg.id)


async def test_mute_silences_the_member():
    def chattiest(c: DemoConnector) -> tuple[str, str]:
        g = max(c.world.groups, key=lambda g: g.rate)
        return g.id, max(g.seats.values(), key=lambda s: s.weight).person.id

    control = DemoConnector(pace=False)
    gid, mid = chattiest(control)
    spoke = [e for e in flat(await run(control, 120)) if type(e) is Message and e.sender == mid and e.group == gid]
    assert len(spoke) >= 2, "control: without a mute the member talks"

    muted = DemoConnector(pace=False)
    assert chattiest(muted) == (gid, mid)
    await muted.mute(gid, mid, 7200)
    spoke = [e for e in flat(await run(muted, 120)) if type(e) is Message and e.sender == mid and e.group == gid]
    assert not spoke
    later = [e for e in flat(await run(muted, 180)) if type(e) is Message and e.sender == mid and e.group == gid]
    assert later, "the mute ends"


async def test_unknown_ids_raise_one_line_errors():
    c = DemoConnector(pace=False)
    member = next(m for m in await c.members("demo:g1") if not m.is_admin)
    calls = [
        c.kick("demo:g999", member.id),
        c.kick("demo:g1", "demo:u99999999"),
        c.ban("demo:nope", member.id),
        c.ban("demo:g1", "demo:u99999999"),
        c.unban("demo:g1", "nobody\nat all"),
        c.mute("demo:g1", "demo:u99999999", 60),
        c.send("demo:g999", "hi"),
        c.send("demo:g1", "hi", mentions=["demo:u99999999"]),
        c.members("demo:g999"),
        c.kick("demo:g1", "demo:operator"),
    ]
    for call in calls:
        with pytest.raises(ConnectorError) as info:
            await call
        assert "\n" not in str(info.value) and str(info.value)
    in_g1 = {x.id for x in await c.members("demo:g1")}
    outsider = next(m for m in await c.members("demo:g2") if not m.is_admin and m.id not in in_g1)
    with pytest.raises(ConnectorError):
        await c.kick("demo:g1", outsider.id)
    assert c.received == []


# --- cursors, pacing, scale -------------------------------------------------

async def test_cursor_resume_fast_forwards_deterministically():
    straight = DemoConnector(pace=False)
    batches = await run(straight, 31)
    fresh = DemoConnector(pace=False)
    batch = await fresh.poll(json.dumps({"v": 1, "tick": 30}), 1.0)
    assert json.loads(batch.cursor)["tick"] == 31
    assert batch.events == batches[30] and batch.events
    assert fresh.now() == straight.now()
    # A caller that lost its place gets a recent batch again.
    again = await fresh.poll(json.dumps({"v": 1, "tick": 30}), 1.0)
    assert again.events == batches[30] and json.loads(again.cursor)["tick"] == 31
    assert (await fresh.poll("not a cursor", 1.0)).cursor == json.dumps({"v": 1, "tick": 32})


async def _some_actions(c: DemoConnector) -> tuple[str, str, str]:
    """A ban, a kick and a keyed send, all at the connector's present tick."""
    gid = "demo:g2"
    members = [m for m in await c.members(gid) if not m.is_admin]
    banned, kicked = members[0].id, members[1].id
    await c.ban(gid, banned, "ads")
    await c.kick(gid, kicked, "flood")
    await c.send(gid, "rules: no ads", mentions=[kicked], idempotency_key="warn:1:send")
    return gid, banned, kicked


async def test_platform_log_rebuilds_the_world_the_operator_left(tmp_path):
    log = tmp_path / "demo-platform.jsonl"
    first = DemoConnector(groups=6, seed=3, pace=False)
    assert first.attach_log(log) == []
    for _ in range(5):
        cursor = (await first.poll(None, 1.0)).cursor
    gid, banned, kicked = await _some_actions(first)
    after = [await first.poll(None, 1.0) for _ in range(12)]
    assert any(type(e) is Ban and e.member == banned for e in after[0].events)
    await first.close()

    # A restart from the cursor saved before the actions: the same world, the same events after it.
    again = DemoConnector(groups=6, seed=3, pace=False)
    assert again.attach_log(log) == []
    assert again.world.tick == 5  # up to the last call the platform received, not further
    replayed = [await again.poll(cursor if i == 0 else None, 1.0) for i in range(12)]
    assert [b.events for b in replayed] == [b.events for b in after]
    assert banned in again.world.by_id[gid].banned and kicked not in again.world.by_id[gid].seats
    # The key of a send made before the restart is remembered: answered, not posted again.
    posted = first.received[2]["message"]
    assert (await again.send(gid, "rules: no ads", idempotency_key="warn:1:send")).message_id == posted
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert [(r["action"], r["repeat"]) for r in lines] == [("ban", False), ("kick", False), ("send", False),
                                                           ("send", True)]
    assert again.received == lines
    await again.close()


async def test_platform_log_repeat_calls_change_nothing(tmp_path):
    c = DemoConnector(groups=4, seed=2, pace=False)
    c.attach_log(tmp_path / "log.jsonl")
    await c.poll(None, 1.0)
    gid, banned, _ = await _some_actions(c)
    await c.ban(gid, banned, "again, before it applied")
    events = (await c.poll(None, 1.0)).events
    assert len([e for e in events if type(e) is Ban and e.member == banned]) == 1
    await c.ban(gid, banned, "again, after")
    assert [r["repeat"] for r in c.received if r["action"] == "ban"] == [False, True, True]
    assert not [e for e in (await c.poll(None, 1.0)).events if type(e) is Ban]
    await c.unban(gid, banned)
    await c.unban(gid, banned)  # before it applied
    await c.poll(None, 1.0)
    await c.unban(gid, banned)  # not banned any more
    assert [r["repeat"] for r in c.received if r["action"] == "unban"] == [False, True, True]
    await c.close()


async def test_platform_log_survives_a_torn_tail_and_names_a_damaged_line(tmp_path):
    log = tmp_path / "log.jsonl"
    c = DemoConnector(groups=4, seed=2, pace=False)
    c.attach_log(log)
    await c.poll(None, 1.0)
    await _some_actions(c)
    await c.close()
    good = log.read_bytes()
    log.write_bytes(good + b'{"action": "ban", "gro')  # the process died inside a write
    c2 = DemoConnector(groups=4, seed=2, pace=False)
    assert c2.attach_log(log) == [] and log.read_bytes() == good and len(c2.received) == 3
    await c2.close()
    lines = good.split(b"\n")
    log.write_bytes(b"\n".join([lines[0], b"garbage", *lines[1:]]))
    c3 = DemoConnector(groups=4, seed=2, pace=False)
    warnings = c3.attach_log(log)
    assert warnings == [f"{log}:2: damaged line skipped"] and len(c3.received) == 3
    await c3.close()


async def test_pacing_follows_the_wall_clock():
    c = DemoConnector(groups=5, tick_seconds=0.05, pace=True)
    t = time.monotonic()
    for _ in range(3):
        await c.poll(None, 5.0)
    assert time.monotonic() - t >= 0.14
    # A poll whose timeout ends before the next tick is due returns nothing and keeps its place.
    c2 = DemoConnector(groups=5, tick_seconds=10.0, pace=True)
    batch = await c2.poll(None, 0.01)
    assert batch.events == [] and json.loads(batch.cursor)["tick"] == 0 and c2.now() == DEMO_EPOCH


async def test_two_thousand_groups():
    c = DemoConnector(groups=2000, pace=False)
    groups = await c.groups()
    assert [g.id for g in groups] == [f"demo:g{i}" for i in range(1, 2001)]
    assert len({g.name for g in groups}) == 2000
    assert {t for g in groups for t in g.tags} >= {"gaming", "customer", "fans", "tech"}
    spent = []
    for _ in range(5):
        t = time.perf_counter()
        batch = await c.poll(None, 1.0)
        spent.append(time.perf_counter() - t)
        assert batch.events
    assert sorted(spent)[2] < 0.1


async def test_bench_events_follow_the_untouched_snapshot():
    c = DemoConnector(groups=100, pace=False)
    before = await c.members("demo:g1")
    t = time.perf_counter()
    events = c.bench_events(20_000)
    assert time.perf_counter() - t < 3.0
    assert len(events) >= 20_000
    assert {type(e) for e in events} >= {Message, Join, Leave}
    assert c.now() == DEMO_EPOCH and await c.members("demo:g1") == before
    first = (await c.poll(None, 1.0)).events
    assert first and events[:len(first)] == first


# --- obfuscation --------------------------------------------------------------

def test_obfuscations_hide_the_contact_but_keep_its_digits():
    import random
    rng = random.Random(1)
    assert corpus.fullwidth("QQ123") == "ＱＱ１２３"
    assert corpus.circled("2096") == "②⓪⑨⑥"
    assert corpus.keycaps("12") == "1\ufe0f\u20e32\ufe0f\u20e3"
    assert corpus.zh_numerals(rng, "366")[0] in "三叁"
    assert corpus.spaced(rng, "20962092").replace(" ", "").replace("-", "").replace(".", "").replace("+", "") == "20962092"
    assert corpus.homoglyphs(random.Random(3), "KEAXPT") != "KEAXPT"
    for how in ("fullwidth", "circled", "zh", "keycap", "homoglyph", "mixed"):
        assert corpus.obfuscate(rng, "KE5970", how) != "KE5970"
