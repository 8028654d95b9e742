"""Moderation on the demo fleet: blacklist everywhere, escalation, mentions, auto-kick on rejoin, read-only."""
from __future__ import annotations

import pytest

from connectors.demo import DemoConnector
from connectors.events import Join
from console.engine.actions.model import ReadOnlyError
from console.engine.engine import Engine
from console.engine.moderation import Moderation
from console.engine.settings import Settings
from console.engine.store import Store


async def world(tmp_path, groups=6, read_only=False):
    demo = DemoConnector(groups=groups, seed=3, pace=False)
    store = Store(tmp_path)
    engine = Engine(Settings(), [demo], store, clock=demo.now)
    mod = Moderation(Settings(), store, engine, read_only=read_only, actor="alice")
    await mod.sync()
    return demo, engine, mod, store


def a_member_in_several_groups(engine) -> str:
    seen: dict[str, int] = {}
    for g in engine.stats.groups.values():
        for m in g.members.values():
            if m.present and not m.id.endswith(":operator"):
                seen[m.id] = seen.get(m.id, 0) + 1
    return max(seen, key=lambda k: (seen[k], k))


def received(demo, action, member=None):
    return [r for r in demo.received if r["action"] == action and (member is None or r.get("member") == member)]


async def test_blacklist_removes_a_member_from_every_group_and_again_on_rejoin(tmp_path):
    demo, engine, mod, store = await world(tmp_path)
    target = a_member_in_several_groups(engine)
    entry, report = await mod.blacklist_add(target, reason="ad team")
    groups = sorted(engine.stats.groups)
    assert report.failed == 0 and sorted(r["group"] for r in received(demo, "ban", target)) == groups
    await mod.sync()  # the world applies actions on its next tick
    for g in groups:
        assert target not in {m.id for m in await demo.members(g)}
    # The platform let them back in somewhere (a ban lifted by another admin): removed within one poll.
    before = len(received(demo, "ban", target))
    engine.ingest([Join(group=groups[0], member=target, member_name="back again", at=demo.now())])
    await mod.drain()
    assert len(received(demo, "ban", target)) == before + 1
    audit = mod.ledger.audit_entries()
    assert any(e.actor == "auto:blacklist" and e.member == target for e in audit)
    # Removing the entry lifts the bans where the platform needs it.
    await mod.blacklist_remove(target)
    assert len(received(demo, "unban", target)) == len(groups)
    store.close()


async def test_the_third_warning_of_the_default_policy_blacklists(tmp_path):
    demo, engine, mod, store = await world(tmp_path)
    target = a_member_in_several_groups(engine)
    groups = [g.id for g in engine.stats.groups.values() if target in g.members]
    o1, _ = await mod.warn(groups[0], target, "ad")
    o2, _ = await mod.warn(groups[1 % len(groups)], target, "ad again")
    assert o1.step is None and o2.step.action == "mute" and len(received(demo, "mute", target)) == 1
    o3, report = await mod.warn(groups[0], target, "third time")
    assert o3.count == 3 and "blacklisted" in o3.message
    assert mod.blacklist.match(target) is not None
    assert len(received(demo, "ban", target)) == len(engine.stats.groups)
    warn_posts = [r for r in received(demo, "send") if r["mentions"] == [target] or r["mentions"] == (target,)]
    assert len(warn_posts) == 3  # each warning restates the rules to the member, with a mention
    store.close()


async def test_mentions_go_to_exactly_the_silent_members_in_batches_and_not_again(tmp_path):
    demo, engine, mod, store = await world(tmp_path)
    g = max(engine.stats.groups.values(), key=lambda g: len(mod.quiet_members(g.id)))
    quiet = {m.id for m in mod.quiet_members(g.id)}
    assert len(quiet) > demo.max_mentions  # enough to need several messages
    report, mentioned = await mod.mention_quiet(g.id)
    sends = [r for r in received(demo, "send") if r["group"] == g.id]
    assert set(mentioned) == quiet and report.failed == 0
    assert all(len(r["mentions"]) <= demo.max_mentions for r in sends)
    assert {m for r in sends for m in r["mentions"]} == quiet
    assert sum(len(r["mentions"]) for r in sends) == len(quiet)  # nobody twice
    report, again = await mod.mention_quiet(g.id)
    assert again == [] and report.total == 0  # the cool-down holds
    store.close()


async def test_a_read_only_engine_never_sends_anything(tmp_path):
    """Operators are refused by the service (tests/test_service.py); underneath, an engine opened
    read-only never hands an action to a platform, whoever asks."""
    demo, engine, mod, store = await world(tmp_path, read_only=True)
    target = a_member_in_several_groups(engine)
    g = next(iter(engine.stats.groups))
    for call in (mod.warn(g, target), mod.mention_quiet(g), mod.post([g], "hi")):
        with pytest.raises(ReadOnlyError, match="read-only"):
            await call
    assert demo.received == []
    store.close()


async def test_cleanup_proposal_lists_low_participation_members_for_review(tmp_path):
    demo, engine, mod, store = await world(tmp_path)
    g = next(iter(engine.stats.groups.values()))
    proposal = mod.cleanup_proposal(g.id)
    assert proposal and all(n < 3 for _, _, n in proposal)
    assert demo.received == []  # a proposal, never applied automatically
    report = await mod.apply_cleanup(g.id, [proposal[0][0]])
    assert report.done == 1 and received(demo, "kick", proposal[0][0])
    store.close()


async def test_newcomers_are_welcomed_with_the_rules_where_configured(tmp_path):
    demo = DemoConnector(groups=4, seed=3, pace=False)
    store = Store(tmp_path)
    settings = Settings()
    settings.actions.welcome_groups = ["demo:g2"]
    settings.group_rules["demo:g2"] = "本群禁止广告"
    engine = Engine(settings, [demo], store, clock=demo.now)
    mod = Moderation(settings, store, engine, actor="alice")
    await mod.sync()
    newcomer = next(m for m in engine.stats.groups["demo:g2"].members.values() if not m.id.endswith("operator"))
    other = next(m for m in engine.stats.groups["demo:g1"].members.values() if not m.id.endswith("operator"))
    engine.ingest([Join(group="demo:g2", member=newcomer.id, member_name="新人小王", at=demo.now()),
                   Join(group="demo:g1", member=other.id, member_name="other", at=demo.now())])
    await mod.drain()
    sends = received(demo, "send")
    assert len(sends) == 1 and sends[0]["group"] == "demo:g2"
    assert "@新人小王" in sends[0]["text"] and "本群禁止广告" in sends[0]["text"]
    assert list(sends[0]["mentions"]) == [newcomer.id]
    store.close()


async def test_an_expired_blacklist_entry_lifts_its_bans_where_bans_do_not_expire_by_themselves(tmp_path):
    demo, engine, mod, store = await world(tmp_path)
    target = a_member_in_several_groups(engine)
    await mod.blacklist_add(target, reason="a week out", expires_at=engine.now() + 3600)
    assert received(demo, "ban", target) and not received(demo, "unban", target)
    mod.on_tick(engine.now() + 3601)
    await mod.drain()
    assert sorted(r["group"] for r in received(demo, "unban", target)) == sorted(engine.stats.groups)
    assert mod.blacklist.get(target) is None


class Died(BaseException):
    """The process dying between two writes (not an error anything would catch)."""


@pytest.mark.parametrize("intent", ["warn", "blacklist", "escalation"])
async def test_an_intent_cut_off_before_its_actions_were_recorded_loses_none(tmp_path, intent):
    settings = Settings()
    settings.actions.escalation = ["2:blacklist"]
    demo, engine, _, store = await world(tmp_path)
    mod = Moderation(settings, store, engine, actor="alice")
    target = a_member_in_several_groups(engine)
    group = next(g for g, s in sorted(engine.stats.groups.items()) if s.members.get(target) and s.members[target].present)
    if intent == "escalation":
        await mod.warn(group, target, "first")

    async def die(actions, progress=None):
        raise Died()

    mod.pipeline.run = die
    with pytest.raises(Died):
        if intent == "blacklist":
            await mod.blacklist_add(target, reason="ads")
        else:
            await mod.warn(group, target, "ads")
    engine.checkpoint()
    store.close()

    # The restart: the intent is there, and so is every action it needed, carried out once.
    store = Store(tmp_path)
    engine = Engine(settings, [demo], store, clock=demo.now)
    engine.restore()
    mod = Moderation(settings, store, engine, actor="alice")
    before = len(demo.received)
    assert mod.recover_outbox() > 0
    report = await mod.pipeline.recover()
    assert report.failed == 0 and report.done == report.total > 0
    new = demo.received[before:]
    if intent != "blacklist":
        assert [w.reason for w in mod.warnings.of(target, demo.now())][-1] == "ads"
        assert [r["mentions"] for r in new if r["action"] == "send"] == [[target]]
    if intent != "warn":
        assert mod.blacklist.match(target, demo.now()) is not None
        assert sorted(r["group"] for r in new if r["action"] == "ban") == sorted(engine.stats.groups)
    assert mod.recover_outbox() == 0 and await mod.pipeline.recover() == type(report)(total=0)
    store.close()
