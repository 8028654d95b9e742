"""The action pipeline, warnings and mentions: recorded before sent, never twice, delayed not dropped."""
from __future__ import annotations

import json

import pytest

from connectors.contract import Capability, ConnectorError, RateLimited, SendResult
from connectors.demo import DemoConnector
from console.engine.actions.ledger import Ledger
from console.engine.actions.mentions import Mentions
from console.engine.actions.model import Action, ActionError, ActionKind, ActionState, ReadOnlyError
from console.engine.actions.pipeline import ActionPipeline
from console.engine.actions.ratelimit import RateLimiter
from console.engine.actions.warnings import Warnings, parse_policy
from console.engine.stats import DAY
from console.engine.store import Store
from tests.fakes import ScriptedConnector
from tests.helpers import T0, fleet_with

G = "fake:g1"


class Recording(ScriptedConnector):
    """Records calls; can fail or rate-limit on cue; checks the ledger at send time."""

    capabilities = frozenset(Capability)

    def __init__(self, ledger: Ledger | None = None, limited: int = 0, idempotent: bool = False) -> None:
        super().__init__("fake", [])
        self.ledger, self.limited, self.idempotent_send = ledger, limited, idempotent
        self.calls: list[tuple] = []
        self.states_seen: list[str] = []

    async def send(self, group_id, text, mentions=(), idempotency_key=None):
        if self.ledger is not None:
            self.states_seen.append(self.ledger.by_key(idempotency_key).state.value)
        if self.limited:
            self.limited -= 1
            raise RateLimited("429 Too Many Requests", retry_after=2.5)
        self.calls.append(("send", group_id, text, tuple(mentions), idempotency_key))
        return SendResult(f"s{len(self.calls)}")

    async def kick(self, group_id, member_id, reason=""):
        if member_id == "fake:boom":
            raise ConnectorError("member is an admin")
        self.calls.append(("kick", group_id, member_id))


class FakeSleep:
    def __init__(self):
        self.slept: list[float] = []
        self.now = 0.0

    def clock(self):
        return self.now

    async def __call__(self, s):
        self.slept.append(s)
        self.now += s


def pipeline(tmp_path, conn, **kw) -> tuple[ActionPipeline, Ledger, Store]:
    store = Store(tmp_path)
    ledger = Ledger(store)
    if getattr(conn, "ledger", 1) is None:
        conn.ledger = ledger
    return ActionPipeline(ledger, lambda g: conn, **kw), ledger, store


async def test_each_action_is_recorded_before_it_is_sent_and_marked_after(tmp_path):
    conn = Recording()
    p, ledger, store = pipeline(tmp_path, conn)
    report = await p.run([Action(ActionKind.SEND, G, text="hi", key="k1"),
                          Action(ActionKind.KICK, G, "fake:u1"), Action(ActionKind.KICK, G, "fake:boom")])
    assert conn.states_seen == ["sending"]  # committed as sending before the platform saw it
    assert report.done == 2 and report.failed == 1 and "member is an admin" in report.errors[0]
    assert [a.state for a in ledger.actions()] == [ActionState.DONE, ActionState.DONE, ActionState.FAILED]
    store.close()
    on_disk = json.loads((tmp_path / "ledger.json").read_text())["actions"]
    assert sorted(d["state"] for d in on_disk.values()) == ["done", "done", "failed"]
    audit = json.loads((tmp_path / "ledger.json").read_text())["audit"]
    assert {(d["action"], d["result"].split(":")[0]) for d in audit.values()} == {("send", "done"), ("kick", "done"),
                                                                                   ("kick", "failed")}


async def test_the_same_key_is_never_acted_on_twice(tmp_path):
    conn = Recording()
    p, ledger, _ = pipeline(tmp_path, conn)
    await p.run([Action(ActionKind.SEND, G, text="hi", key="once")])
    report = await p.run([Action(ActionKind.SEND, G, text="hi", key="once")])
    assert report.skipped == 1 and len(conn.calls) == 1


async def test_a_429_delays_the_action_instead_of_dropping_it(tmp_path):
    conn = Recording(limited=2)
    sleep = FakeSleep()
    p, ledger, _ = pipeline(tmp_path, conn, limiter=RateLimiter(clock=sleep.clock, sleep=sleep))
    report = await p.run([Action(ActionKind.SEND, G, text="hi")])
    assert report.done == 1 and len(conn.calls) == 1
    assert sleep.slept == [2.5, 2.5] and ledger.actions()[0].attempts == 3


async def test_rate_limiter_keeps_per_group_spacing():
    sleep = FakeSleep()
    lim = RateLimiter({"fake": (0.1, 3.0)}, clock=sleep.clock, sleep=sleep)
    for _ in range(3):
        await lim.acquire("fake", "c", G)
    await lim.acquire("fake", "c", "fake:g2")
    assert sleep.now == pytest.approx(6.1)  # 3 s between posts into one group; 0.1 s overall for another


async def test_read_only_refuses_every_action(tmp_path):
    conn = Recording()
    p, ledger, _ = pipeline(tmp_path, conn, read_only=True)
    with pytest.raises(ReadOnlyError, match="read-only mode: 1 kick"):
        await p.run([Action(ActionKind.KICK, G, "fake:u1")])
    assert conn.calls == [] and ledger.actions() == []


async def test_a_crash_between_pending_and_done_never_sends_twice_on_recovery(tmp_path):
    demo = DemoConnector(groups=3, seed=1, pace=False)
    await demo.poll(None, 0)
    store = Store(tmp_path)
    ledger = Ledger(store)
    # The crash: the action was marked sending and reached the platform, but "done" never got written.
    a = Action(ActionKind.SEND, "demo:g1", text="scheduled hello", key="schedule:x:1:demo:g1")
    ledger.record([a])
    ledger.mark(a, ActionState.SENDING)
    await demo.send("demo:g1", "scheduled hello", idempotency_key=a.key)
    store.close()

    store = Store(tmp_path)  # restart
    report = await ActionPipeline(Ledger(store), lambda g: demo).recover()
    assert report.done == 1
    sent = [r for r in demo.received if r["action"] == "send" and r.get("key") == a.key]
    # The platform received the retry and answered it from its key: posted once.
    assert [r["repeat"] for r in sent] == [False, True]

    # Without idempotent sends the outcome is unknown, and it is not resent blindly.
    conn = Recording()
    ledger2 = Ledger(store)
    b = Action(ActionKind.SEND, G, text="x", key="k-unknown")
    ledger2.record([b])
    ledger2.mark(b, ActionState.SENDING)
    report = await ActionPipeline(ledger2, lambda g: conn).recover()
    assert conn.calls == [] and ledger2.by_key("k-unknown").state is ActionState.UNKNOWN and report.skipped == 1


async def test_a_kick_retried_after_a_crash_that_finds_nobody_is_unknown_not_failed(tmp_path):
    demo = DemoConnector(groups=3, seed=1, pace=False)
    await demo.poll(None, 0)
    member = next(m.id for m in await demo.members("demo:g1") if not m.is_admin)
    store = Store(tmp_path)
    ledger = Ledger(store)
    a = Action(ActionKind.KICK, "demo:g1", member, key="cleanup:1")
    ledger.record([a])
    ledger.mark(a, ActionState.SENDING)
    await demo.kick("demo:g1", member)  # it landed; the process died before "done" was written
    await demo.poll(None, 0)
    store.close()

    store = Store(tmp_path)
    ledger = Ledger(store)
    report = await ActionPipeline(ledger, lambda g: demo).recover()
    got = ledger.by_key("cleanup:1")
    assert (report.failed, report.skipped) == (0, 1)
    assert got.state is ActionState.UNKNOWN and "retried after a crash" in got.result and "not a member" in got.result
    # Outside recovery the same refusal is a plain failure.
    report = await ActionPipeline(ledger, lambda g: demo).run([Action(ActionKind.KICK, "demo:g1", member)])
    assert report.failed == 1
    store.close()


# --- warnings ---

def test_escalation_policy_parsing_and_errors():
    steps = parse_policy(["3:blacklist", "2:mute:1d"])
    assert [(s.count, s.action, s.seconds) for s in steps] == [(2, "mute", 86400.0), (3, "blacklist", None)]
    for bad in (["x:mute:1d"], ["2:mute"], ["2:ban"], ["3:kick:1d"], ["2:kick", "2:mute:1h"], ["2:mute:soon"]):
        with pytest.raises(ActionError):
            parse_policy(bad)


def test_warnings_count_across_groups_within_the_window_and_escalate(tmp_path):
    store = Store(tmp_path)
    w = Warnings(store, Ledger(store), 30, ["2:mute:1d", "3:blacklist"])
    first = w.prepare("qq:g1", "qq:9", "spammer", "No ads.", "ad", "alice", T0)
    assert first.count == 1 and first.step is None and [a.kind for a in first.actions] == [ActionKind.SEND]
    assert first.actions[0].mentions == ("qq:9",) and "No ads." in first.actions[0].text
    second = w.prepare("qq:g2", "qq:9", "spammer", "No ads.", "ad", "alice", T0 + DAY)
    assert second.count == 2 and [a.kind for a in second.actions] == [ActionKind.SEND, ActionKind.MUTE]
    assert second.actions[1].seconds == 86400 and "muted for 1d" in second.message
    third = w.prepare("qq:g3", "qq:9", "spammer", "No ads.", "ad", "alice", T0 + 2 * DAY)
    assert third.step.action == "blacklist" and "blacklisted" in third.message
    # Outside the window the count starts again.
    assert w.prepare("qq:g1", "qq:9", "s", "r", "", "alice", T0 + 40 * DAY).count == 1
    store.close()
    again = Store(tmp_path)
    assert Warnings(again, Ledger(again), 30, []).count("qq:9", T0 + 2 * DAY + 1) == 3  # survives a restart


# --- mentions ---

def quiet_group():
    members = {f"demo:u{i}": T0 - 20 * DAY for i in range(23)}
    members.update({f"demo:a{i}": T0 - DAY for i in range(5)})
    return fleet_with("demo:g1", members, T0)


def test_mention_plan_mentions_exactly_the_silent_members_in_batches(tmp_path):
    store = Store(tmp_path)
    m = Mentions(store, cooldown_days=7, reactivation_days=3)
    g = quiet_group().groups["demo:g1"]
    cands = m.candidates(g, T0, 14)
    assert {c.id for c in cands} == {f"demo:u{i}" for i in range(23)}
    actions = m.plan(g, cands, "{mentions} hello", 10, T0, "alice")
    assert [len(a.mentions) for a in actions] == [10, 10, 3]
    assert set().union(*(a.mentions for a in actions)) == {c.id for c in cands}
    assert all(a.text.count("@") == len(a.mentions) for a in actions)
    m.record(actions, T0)
    assert m.candidates(g, T0 + 6 * DAY, 14) == []  # cool-down
    assert len(m.candidates(g, T0 + 7 * DAY, 14)) == 23


def test_reactivation_rate_counts_who_spoke_within_three_days(tmp_path):
    store = Store(tmp_path)
    m = Mentions(store, cooldown_days=7, reactivation_days=3)
    stats = quiet_group()
    g = stats.groups["demo:g1"]
    m.record(m.plan(g, m.candidates(g, T0, 14)[:4], "{mentions}", 10, T0, "a"), T0)
    ids = [f"demo:u{i}" for i in range(4)]
    members_by_time = sorted(ids)
    m.on_message("demo:g1", members_by_time[0], T0 + DAY)
    m.on_message("demo:g1", members_by_time[1], T0 + 4 * DAY)  # too late to count
    r = m.reactivation(T0 + 2 * DAY)
    assert (r.mentioned, r.reactivated, r.waiting) == (1, 1, 3)
    r = m.reactivation(T0 + 5 * DAY)
    assert (r.mentioned, r.reactivated, r.waiting) == (4, 1, 0) and r.rate == 0.25
    m.flush()
    store.close()
    again = Store(tmp_path)
    assert Mentions(again, 7, 3).reactivation(T0 + 5 * DAY).reactivated == 1
