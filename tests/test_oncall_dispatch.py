"""The on-call dispatcher's timing (group_wait, group_interval, repeat_interval), escalation and
exactly-once across a restart, with a real webhook on loopback receiving Apprise's json:// posts."""
from __future__ import annotations

import asyncio
import gc
import time

import pytest

from console.engine.config import parse_settings
from console.engine.store import Store
from console.oncall.dispatcher import Dispatcher
from console.oncall.receivers import build_receivers
from tests.oncall_doubles import Clock, FakeIncident, FakeIncidents, State
from tests.webhook_server import WebhookServer


def routes_of(toml: str):
    return parse_settings(toml).routes


def dispatcher(toml: str, clock: Clock, incidents: FakeIncidents, store=None) -> Dispatcher:
    routes = routes_of(toml)
    return Dispatcher(routes, build_receivers(routes, {}, None), incidents, clock=clock, store=store)


async def step(d: Dispatcher) -> int:
    n = d.run_due()
    await d.drain()
    return n


async def test_one_post_per_update_a_repeat_when_nobody_acknowledges_and_none_after_ack():
    with WebhookServer() as hook:
        clock, incs = Clock(), FakeIncidents()
        d = dispatcher(f'''
[[route]]
kinds = ["ad"]
min_severity = "high"
notify = ["{hook.url('/oncall')}"]
group_wait = "30s"
group_interval = "5m"
repeat_interval = "1h"
''', clock, incs)
        inc = FakeIncident(1, alert_ids=[1])
        incs.change(inc, "opened")
        clock.advance(10)
        for i, g in enumerate(["demo:g2", "demo:g3", "demo:g4"], 2):  # the same ad in three more groups
            inc.alert_ids.append(i)
            inc.groups.append(g)
            incs.change(inc, "grew")
        assert await step(d) == 0  # still batching
        clock.advance(20)
        assert await step(d) == 1
        posts = await hook.wait_for(1)
        assert hook.paths == ["/oncall"]
        first = posts[0]
        assert first["incident"] == "1" and first["severity"] == "high" and first["count"] == "4"
        assert first["groups"] == "demo:g1,demo:g2,demo:g3,demo:g4" and first["state"] == "open"
        assert "#1" in first["title"] and "4 alerts" in first["message"]
        clock.advance(600)
        assert await step(d) == 0  # nothing new, not yet the repeat
        clock.advance(3000)
        assert await step(d) == 1
        posts = await hook.wait_for(2)
        assert posts[1]["why"] == "repeat" and posts[1]["key"] != first["key"]
        inc.state, inc.acked_by, inc.acked_at = State.ACKNOWLEDGED, "alice", clock()
        incs.change(inc, "acknowledged")
        clock.advance(5 * 3600)
        assert await step(d) == 0
        assert len(hook.posts) == 2


async def test_a_growing_incident_is_told_at_most_once_per_group_interval():
    with WebhookServer() as hook:
        clock, incs = Clock(), FakeIncidents()
        d = dispatcher(f'[[route]]\nnotify = ["{hook.url()}"]\ngroup_wait = 0\ngroup_interval = "5m"\n',
                       clock, incs)
        inc = FakeIncident(7)
        incs.change(inc, "opened")
        assert await step(d) == 1
        for _ in range(5):
            clock.advance(30)
            inc.alert_ids.append(len(inc.alert_ids) + 1)
            incs.change(inc, "grew")
            await step(d)
        assert len(hook.posts) == 1
        clock.advance(300)
        assert await step(d) == 1
        posts = await hook.wait_for(2)
        assert posts[1]["why"] == "update" and posts[1]["count"] == "6"


async def test_silenced_inhibited_and_unmatched_incidents_page_nobody():
    with WebhookServer() as hook:
        clock, incs = Clock(), FakeIncidents()
        d = dispatcher(f'[[route]]\nkinds = ["ad"]\nmin_severity = "medium"\nnotify = ["{hook.url()}"]\n'
                       f'group_wait = 0\n', clock, incs)
        incs.change(FakeIncident(1, silenced_by=3), "opened")
        incs.change(FakeIncident(2, kind="silent_member", inhibited=True), "opened")
        incs.change(FakeIncident(3, kind="flood"), "opened")
        incs.change(FakeIncident(4, severity=1), "opened")
        late = FakeIncident(5)
        incs.change(late, "opened")
        late.silenced_by = 9
        incs.change(late, "silenced")  # silenced before its group_wait was over
        clock.advance(3600 * 5)
        assert await step(d) == 0
        assert hook.posts == []


async def test_escalation_reaches_the_second_receiver_only_without_an_ack_in_time():
    with WebhookServer() as first, WebhookServer() as second:
        clock, incs = Clock(), FakeIncidents()
        d = dispatcher(f'''
[[route]]
notify = ["{first.url('/first')}"]
group_wait = 0
steps = [{{ after = "10m", notify = ["{second.url('/second')}"] }}]
''', clock, incs)
        acked, ignored = FakeIncident(1), FakeIncident(2)
        incs.change(acked, "opened")
        incs.change(ignored, "opened")
        await step(d)
        await first.wait_for(2)
        clock.advance(300)
        acked.state, acked.acked_by, acked.acked_at = State.ACKNOWLEDGED, "alice", clock()
        incs.change(acked, "acknowledged")
        clock.advance(301)
        assert await step(d) == 1
        posts = await second.wait_for(1)
        assert [p["incident"] for p in posts] == ["2"] and posts[0]["why"] == "escalation"
        clock.advance(3600)
        await step(d)
        assert len(second.posts) == 1  # a step fires once


async def test_an_acknowledged_incident_not_resolved_within_ack_timeout_fires_again_once():
    with WebhookServer() as hook:
        clock, incs = Clock(), FakeIncidents()
        d = dispatcher(f'[[route]]\nnotify = ["{hook.url()}"]\ngroup_wait = 0\nack_timeout = "1h"\n', clock, incs)
        inc = FakeIncident(3)
        incs.change(inc, "opened")
        await step(d)
        inc.state, inc.acked_by, inc.acked_at = State.ACKNOWLEDGED, "bob", clock()
        incs.change(inc, "acknowledged")
        clock.advance(3599)
        assert await step(d) == 0
        clock.advance(2)
        assert await step(d) == 1
        posts = await hook.wait_for(2)
        assert posts[1]["why"] == "ack_timeout" and "acknowledged by bob" in posts[1]["message"]
        clock.advance(7200)
        assert await step(d) == 0


async def test_timings_survive_a_restart_and_a_send_cut_off_by_a_crash_is_never_repeated(tmp_path):
    with WebhookServer() as hook:
        toml = f'[[route]]\nnotify = ["{hook.url()}"]\ngroup_wait = "30s"\nrepeat_interval = "1h"\n'
        clock, incs = Clock(), FakeIncidents()
        store = Store(tmp_path)
        d = dispatcher(toml, clock, incs, store)
        inc = FakeIncident(1)
        incs.change(inc, "opened")
        clock.advance(30)
        await step(d)
        await hook.wait_for(1)
        store.close()
        # A restart: the repeat is still due an hour after the first post, not at once, not never.
        store = Store(tmp_path)
        d = dispatcher(toml, clock, incs, store)
        clock.advance(1800)
        assert await step(d) == 0
        # A crash while the repeat is being sent: recorded as sending, never sent again after, even though
        # the thread's timings (saved every few seconds) had not been saved since.
        clock.advance(1800)
        d._flushed_at = time.monotonic()
        d.run_due()
        for t in list(d._tasks):
            t.cancel()
        await asyncio.gather(*d._tasks, return_exceptions=True)  # the process dies: nothing more is saved
        store.close()
        store = Store(tmp_path)
        d = dispatcher(toml, clock, incs, store)
        assert [x.state for x in d.deliveries.values()].count("unknown") == 1
        assert await step(d) == 0
        store.close()
        assert len(hook.posts) == 1


async def test_a_failing_receiver_backs_off_shows_in_health_and_is_retried_with_the_same_key():
    with WebhookServer(status=500) as hook:
        clock, incs = Clock(), FakeIncidents()
        d = dispatcher(f'[[route]]\nnotify = ["{hook.url()}"]\ngroup_wait = 0\n', clock, incs)
        incs.change(FakeIncident(1), "opened")
        assert await step(d) == 1
        (label, why), = d.problems()
        assert "notify[0] (json)" in label and "127.0.0.1" not in label and why
        assert await step(d) == 0  # backing off
        hook.status = 200
        clock.advance(31)
        assert await step(d) == 1
        posts = await hook.wait_for(1)
        assert d.problems() == [] and posts[0]["why"] == "new"


async def test_a_notification_that_cannot_be_recorded_is_not_sent_until_it_can(tmp_path, monkeypatch):
    from console.engine.store import StoreError

    with WebhookServer() as hook:
        clock, incs = Clock(), FakeIncidents()
        store = Store(tmp_path)
        d = dispatcher(f'[[route]]\nnotify = ["{hook.url()}"]\ngroup_wait = 0\n', clock, incs, store)
        incs.change(FakeIncident(1), "opened")
        real = store.commit

        def full(name=None):
            raise StoreError("no space left on device")

        monkeypatch.setattr(store, "commit", full)
        with pytest.raises(StoreError):
            d.run_due()
        assert not d._tasks and hook.posts == []  # nothing started
        monkeypatch.setattr(store, "commit", real)
        assert await step(d) == 1
        posts = await hook.wait_for(1)
        assert len(posts) == 1 and posts[0]["why"] == "new"
        store.close()


async def test_a_send_still_under_way_is_cut_off_on_the_way_out_and_never_saves_into_the_closed_store(tmp_path):
    """The way out waits a moment for sends under way; cancelled again meanwhile (a service shutting down
    fast), that wait must not leave a task behind that saves into the store closed after it."""
    accepted, answer = asyncio.Event(), asyncio.Event()

    async def slow(reader, writer):  # takes the request, answers 200 only when the test says so
        await reader.readuntil(b"\r\n\r\n")
        accepted.set()
        await answer.wait()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(slow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    loop = asyncio.get_running_loop()
    problems: list[dict] = []
    loop.set_exception_handler(lambda _loop, ctx: problems.append(ctx))
    store = Store(tmp_path)
    clock, incs = Clock(), FakeIncidents()
    d = dispatcher(f'[[route]]\nnotify = ["json://127.0.0.1:{port}/hook"]\ngroup_wait = 0\n', clock, incs, store)
    runner = loop.create_task(d.run())
    incs.change(FakeIncident(1), "opened")
    d._poke()
    await asyncio.wait_for(accepted.wait(), 10)
    runner.cancel()
    while not any(t.get_coro().__qualname__ == "Dispatcher.drain" for t in asyncio.all_tasks()):
        await asyncio.sleep(0)  # until the way out waits for the send
    runner.cancel()
    await asyncio.gather(runner, return_exceptions=True)
    store.close()
    answer.set()  # the send completes now, after the store is closed
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]
    if others:  # waited for without taking their exceptions: one left unretrieved is reported at collection
        await asyncio.wait(others, timeout=15)
    del others, runner  # the cancelled runner's traceback holds what it was waiting for
    gc.collect()
    server.close()
    assert problems == []
