"""On call inside the service, on the simulated fleet: one ad account in 4 groups is one incident and
one webhook post; console routes tell the consoles, folded, with the bell when asked."""
from __future__ import annotations

import pytest

from connectors.events import Join, Message
from console.runtime import first_picture, open_runtime
from console.service.api import NoticeView
from console.service.service import HIGH_ALERT, HIGH_ALERT_BELL, Service
from tests.webhook_server import WebhookServer

AD = "加微信 abc12345 低价代购 全网最低 日赚500 兼职刷单 http://t.cn/abc"


def runtime(tmp_path, toml: str):
    config = tmp_path / "groupwatch.toml"
    config.write_text(toml)
    return open_runtime(str(config), str(tmp_path / "data"), groups=8, seed=3, speed=3600, pace=False)


async def test_an_ad_account_posting_in_four_demo_groups_is_one_notification(tmp_path):
    pytest.importorskip("console.engine.incidents", reason="needs incidents (console.engine.incidents)")
    with WebhookServer() as hook:
        rt = runtime(tmp_path, f'[[route]]\nkinds = ["ad"]\nmin_severity = "high"\nnotify = ["{hook.url("/ads")}"]\n'
                               f'group_wait = 0\n')
        try:
            svc = Service(rt)
            await first_picture(rt)
            e = rt.engine
            groups = sorted(e.stats.groups)[:4]
            t = e.now()
            e.ingest([Join(g, "demo:adbot", "Deal Maker", t) for g in groups])
            e.ingest([Message(g, "demo:adbot", "Deal Maker", AD, t + 1 + i, f"adbot-{i}") for i, g in enumerate(groups)])
            d = svc.oncall.dispatcher
            assert d.run_due() == 1
            await d.drain()
            posts = await hook.wait_for(1)
            assert d.run_due() == 0
            await d.drain()
            (post,) = posts
            assert post["count"] == "4" and sorted(post["groups"].split(",")) == groups and post["kind"] == "ad"
            assert "Deal Maker" in post["message"] and all(e.group_name(g) in post["message"] for g in groups)
        finally:
            rt.close()


async def test_console_routes_tell_consoles_folded_with_the_bell_and_replace_the_per_alert_notice(tmp_path):
    rt = runtime(tmp_path, '[[route]]\nconsole = true\nbell = true\n')
    try:
        svc = Service(rt)
        heard: list = []
        svc.subscribe(lambda kind, payload: heard.append(payload) if kind == "notice" else None)
        for i in range(3):
            svc.announce(f"[HIGH] #{i} ad: something", "error", i == 1)
        svc._announce_oncall()
        svc._announce_oncall()  # nothing new: nothing told
        (n,) = heard
        assert isinstance(n, NoticeView) and n.count == 3 and n.actor == HIGH_ALERT_BELL and n.text.startswith("[HIGH] #0")
        # The per-alert high notice is the routes' job now: a new high alert alone tells nobody.
        await first_picture(rt)
        e = rt.engine
        g = sorted(e.stats.groups)[0]
        e.ingest([Join(g, "demo:adbot", "Deal Maker", e.now()), Message(g, "demo:adbot", "Deal Maker", AD, e.now(), "m1")])
        assert any(a.severity >= 3 for a in e.alerts.live())
        svc._announce_high()
        assert len(heard) == 1
    finally:
        rt.close()


async def test_without_routes_a_new_high_alert_is_still_told_as_before(tmp_path):
    rt = runtime(tmp_path, "")
    try:
        svc = Service(rt)
        assert svc.oncall is None
        heard: list = []
        svc.subscribe(lambda kind, payload: heard.append(payload) if kind == "notice" else None)
        await first_picture(rt)
        e = rt.engine
        g = sorted(e.stats.groups)[0]
        e.ingest([Join(g, "demo:adbot", "Deal Maker", e.now()), Message(g, "demo:adbot", "Deal Maker", AD, e.now(), "m1")])
        svc._announce_high()
        assert [n.actor for n in heard] == [HIGH_ALERT]
    finally:
        rt.close()


async def test_chat_words_act_on_real_incidents_through_the_service_with_the_operators_role(tmp_path):
    from console.oncall.chatops import ChatOps
    from tests.test_oncall_chatops import CHAT, FakeConn, msg

    rt = runtime(tmp_path, '[operators]\ndefault = "viewer"\nusers = { alice = "moderator" }\n'
                           '[operators.chat]\n"matrix:@alice:localhost" = "alice"\n"matrix:@vic:localhost" = "vic"\n'
                           '[[route]]\nconsole = true\n')
    try:
        svc = Service(rt)
        await first_picture(rt)
        e = rt.engine
        groups = sorted(e.stats.groups)[:2]
        e.ingest([Join(g, "demo:adbot", "Deal Maker", e.now()) for g in groups])
        e.ingest([Message(g, "demo:adbot", "Deal Maker", AD, e.now(), f"m{i}") for i, g in enumerate(groups)])
        (inc,) = [i for i in e.incidents.live() if i.kind == "ad"]
        conn = FakeConn()
        ops = ChatOps(svc, {CHAT: conn}, lambda c, g, m: inc.id if m == "$note" else None)

        await ops.on_event(msg("ack", sender="matrix:@vic:localhost", reply_to="$note"))  # a viewer: refused
        assert inc.state.value == "open" and "refused" in conn.sent[-1][1]
        await ops.on_event(msg("ack", reply_to="$note"))
        assert inc.state.value == "acknowledged" and inc.acked_by == "alice"
        await ops.on_event(msg(f"#{inc.id} silence 2h"))
        (silence,) = e.silences.list()
        assert silence.created_by == "alice" and silence.matchers == {"kind": "ad", "member": "demo:adbot"}
        assert inc.silenced_by == silence.id
        actors = {(x.actor, x.action) for x in rt.moderation.ledger.audit_entries()}
        assert ("alice", "silence added") in actors and not any(a == "vic" for a, _ in actors)
        assert any(a == "alice" and "ack" in act for a, act in actors), actors
    finally:
        rt.close()


async def test_a_digest_route_posts_the_daily_summary_once_a_day(tmp_path, monkeypatch):
    from console.engine import digest

    monkeypatch.setattr(digest, "daily_summary", lambda engine, now: f"{len(engine.stats.groups)} groups watched today")
    monkeypatch.setattr(digest, "weekly_digest", lambda engine, now: "weekly")
    with WebhookServer() as hook:
        rt = runtime(tmp_path, f'[[route]]\ndigest = ["daily"]\ndigest_at = "00:00"\nnotify = ["{hook.url()}"]\n')
        try:
            svc = Service(rt)
            await first_picture(rt)
            assert svc.oncall.post_digests() == 1
            assert svc.oncall.post_digests() == 0  # once a day
            d = svc.oncall.dispatcher
            d.run_due()
            await d.drain()
            (post,) = await hook.wait_for(1)
            assert post["why"] == "digest" and post["message"] == "8 groups watched today"
            assert "daily summary" in post["title"]
        finally:
            rt.close()


async def test_a_failing_receiver_shows_in_the_header_health_line_without_its_url(tmp_path, monkeypatch):
    monkeypatch.setenv("GW_HOOK_SECRET", "SECRET-in-the-hook-path-123456")
    with WebhookServer(status=503) as hook:
        rt = runtime(tmp_path, f'[[route]]\nnotify = ["json://127.0.0.1:{hook.port}/{{env:GW_HOOK_SECRET}}"]\n'
                               f'group_wait = 0\n')
        try:
            svc = Service(rt)
            await first_picture(rt)
            e = rt.engine
            g = sorted(e.stats.groups)[0]
            e.ingest([Join(g, "demo:adbot", "Deal Maker", e.now()),
                      Message(g, "demo:adbot", "Deal Maker", AD, e.now(), "m1")])
            d = svc.oncall.dispatcher
            assert d.run_due() >= 1
            await d.drain()
            (entry,) = [c for c in svc.header().connectors if c.name == "on-call"]
            assert entry.state == "degraded" and "not delivered" in entry.reason
            assert "SECRET" not in entry.reason and str(hook.port) not in entry.reason
        finally:
            rt.close()
