"""Undoing "not an ad": the ad model forgets the verdict (exactly what its lesson changed, or by replaying
the others when it is no longer kept), the saved verdict is gone after a restart, and the service's
undo_not_ad reopens the alerts, with the operator as actor, audited; `U` on the Alerts screen sends it.

Every example is hand-made here: the tests never read the development data sets."""
from __future__ import annotations

import copy

import pytest

from console.app import GroupWatchApp
from console.engine.detectors import ad_undo
from console.engine.detectors.ad_model import AdLearning, AdModel, train
from console.engine.detectors.ad_text import AdRules
from console.engine.detectors.base import Finding, Severity
from console.engine.settings import AdSettings
from console.engine.store import Store
from console.runtime import open_runtime
from console.screens.modals import ConfirmScreen
from console.service.api import Command, Role
from console.service.client import LocalClient
from console.service.service import Service
from tests.test_ad_model import ADS, HAM, ex
from tests.test_service import actor

RULES = AdRules()
G = "qq:1"
AD = "zzqx 出vape 150r 私"
OK = "zzqx 出vape 的视频我看过了"  # this group's ordinary talk that looks like its ads


@pytest.fixture(autouse=True)
def _no_config(tmp_path, monkeypatch):
    monkeypatch.setenv("GROUPWATCH_CONFIG", str(tmp_path / "none.toml"))


def state(m: AdModel) -> tuple:
    """Everything a lesson may change, as plain values."""
    own = {k: (dict(c.table.w), dict(c.table.g), c.table.bias, c.table.gb, c.rules_scale, c.rules_scale_g,
               c.lessons) for k, c in m.communities.items()}
    return (own, dict(m.local.w), dict(m.local.g), m.local.bias, dict(m.judged_ham), dict(m.judged_ads))


def p(m: AdModel, text: str, group: str = G) -> float:
    return m.probability(RULES.analyze(text), community=group)


@pytest.mark.parametrize("based", [False, True], ids=["no base", "over a trained base"])
def test_forgetting_the_newest_verdict_restores_the_model_exactly(based: bool) -> None:
    m = train([ex(ADS, True) + ex(HAM, False)], RULES, seed=1) if based else AdModel(rules=RULES)
    m = m.fresh() if based else m
    for i, t in enumerate(ADS[:4]):
        m.learn(t, True, community=G, lesson=f"k{i}")
    before, score = state(m), p(m, OK)
    m.learn(OK, False, community=G, lesson="undo-me")
    assert p(m, OK) < score  # the verdict changed the group's answer
    assert m.forget("undo-me")
    assert state(m) == before and p(m, OK) == score
    assert not m.forget("undo-me")  # once


def test_a_verdict_in_a_group_of_its_own_leaves_no_copy_behind() -> None:
    m = AdModel(rules=RULES)
    before = state(m)
    m.learn(OK, False, community="qq:new", lesson="x")
    assert "qq:new" in m.communities
    assert m.forget("x")
    assert "qq:new" not in m.communities and state(m) == before


def test_forgetting_an_older_verdict_keeps_what_later_ones_taught() -> None:
    m = AdModel(rules=RULES)
    m.learn(OK, False, community=G, lesson="old")
    for i, t in enumerate(ADS[:5]):
        m.learn(t, True, community=G, lesson=f"k{i}")
    later = copy.deepcopy(m)
    assert m.forget("old")
    assert RULES.analyze(OK).squeezed not in m.judged_ham
    # The ads taught after it still count, and the group's copy is not back to nothing.
    assert p(m, "zzqx 出vape 170r 私") >= 0.7 and m.communities[G].lessons == 5
    # Only the old lesson's own change was taken out: the weights it did not touch are the later ones'.
    own, was = m.communities[G].table.w, later.communities[G].table.w
    untouched = [k for k in was if k not in set(features_of(OK))]
    assert untouched and all(own[k] == was[k] for k in untouched)


def features_of(text: str) -> list[str]:
    from console.engine.detectors.ad_features import features

    return features(RULES.analyze(text).norm)


def test_only_the_newest_lessons_are_kept(monkeypatch) -> None:
    monkeypatch.setattr("console.engine.detectors.ad_model.UNDO_KEPT", 3)
    m = AdModel(rules=RULES)
    for i, t in enumerate(ADS[:5]):
        m.learn(t, True, community=G, lesson=f"k{i}")
    assert list(m._lessons) == ["k2", "k3", "k4"]
    assert not m.forget("k0") and m.forget("k4")
    assert ad_undo.KEPT >= 50  # at least what a console's undo stack holds


def learning(path) -> tuple[Store, AdLearning]:
    store = Store(path)
    return store, AdLearning(store, AdSettings(), RULES)


def test_a_forgotten_verdict_is_not_learned_again_after_a_restart(tmp_path) -> None:
    store, ln = learning(tmp_path)
    for i, t in enumerate(ADS[:3]):
        ln.teach(t, True, key=f"{G}\x1fa{i}", source="warn", group=G)
    score = p(ln.model, OK)
    assert ln.teach(OK, False, key=f"{G}\x1fm", source="verdict", group=G)
    assert p(ln.model, OK) == 0.0
    assert ln.forget(f"{G}\x1fm", True) is None  # it is a "not an ad": nothing to take back as an ad
    assert ln.forget(f"{G}\x1fm", False) == "its lesson taken back"
    assert p(ln.model, OK) == score and ln.counts() == (3, 0)
    assert ln.forget(f"{G}\x1fm", False) is None
    store.close()
    store, ln = learning(tmp_path)
    assert ln.counts() == (3, 0) and p(ln.model, OK) == score
    store.close()


def test_an_unkept_lesson_is_forgotten_by_replaying_the_other_verdicts(tmp_path) -> None:
    store, ln = learning(tmp_path)
    ln.teach(OK, False, key="m", source="verdict", group=G)
    for i, t in enumerate(ADS[:3]):
        ln.teach(t, True, key=f"a{i}", source="warn", group=G)
    ln.model._lessons.clear()  # as after more than ad_undo.KEPT verdicts
    how = ln.forget("m", False)
    assert how == "the model made again from 3 verdict(s)"
    fresh = AdModel(rules=RULES)
    for i, t in enumerate(ADS[:3]):
        fresh.learn(t, True, community=G)
    assert state(ln.model) == state(fresh)
    store.close()


def test_undoing_a_changed_mind_gives_the_earlier_verdict_back(tmp_path) -> None:
    store, ln = learning(tmp_path)
    ln.teach(AD, True, key="k", source="warn", group=G)
    ln.teach(AD, False, key="k", source="verdict", group=G)
    assert ln.counts() == (0, 1)
    ln.forget("k", False)
    assert ln.counts() == (1, 0) and ln.verdicts["k"].source == "warn"
    assert ln.model.judged(RULES.analyze(AD)) is True
    store.close()
    store, ln = learning(tmp_path)
    assert ln.counts() == (1, 0)
    store.close()


def test_the_same_text_judged_twice_stays_judged_when_one_is_taken_back(tmp_path) -> None:
    store, ln = learning(tmp_path)
    ln.teach(OK, False, key="one", source="verdict", group=G)
    ln.teach(OK, False, key="two", source="verdict", group="qq:2")
    ln.forget("two", False)
    assert ln.model.judged(RULES.analyze(OK)) is False  # the other verdict still says so
    store.close()


async def world(tmp_path):
    rt = open_runtime(None, str(tmp_path / "data"), groups=4, seed=5, speed=1200, pace=False)
    svc = Service(rt, owner="owner")
    await rt.engine.load_snapshots()
    e = rt.engine
    g = sorted(e.stats.groups)[0]
    alert, _ = e.alerts.apply(Finding("ad", Severity.HIGH, g, "demo:spam9", ("model",), e.now(), excerpt=OK,
                                   message_id="m-1"))
    return rt, svc, alert


async def test_undo_not_ad_forgets_the_verdict_reopens_the_alert_and_is_audited(tmp_path) -> None:
    rt, svc, alert = await world(tmp_path)
    model = rt.moderation.ad_learning.model
    before = state(model)
    mo = actor("mo", Role.MODERATOR)
    r = await svc.execute(mo, Command("not_ad", [alert.id]))
    assert r.done == 1 and r.data["alerts"] == [alert.id] and not alert.is_live
    assert rt.moderation.ad_learning.counts() == (0, 1) and state(model) != before
    r = await svc.execute(mo, Command("undo_not_ad", [alert.id]))
    assert r.done == 1 and not r.errors and "'not an ad' taken back" in r.message
    assert alert.is_live and alert.state_by == "mo"
    assert rt.moderation.ad_learning.counts() == (0, 0) and state(model) == before
    audit = [(e.actor, e.action, e.params.get("alert")) for e in rt.moderation.ledger.audit_entries()]
    assert ("mo", "alert marked not an ad", alert.id) in audit
    assert ("mo", "alert not an ad taken back", alert.id) in audit
    # Again: nothing to take back, said in one line.
    r = await svc.execute(mo, Command("undo_not_ad", [alert.id]))
    assert r.done == 1 and "no 'not an ad' verdict to take back" in r.message
    r = await svc.execute(mo, Command("undo_not_ad", [99999]))
    assert r.done == 0 and r.errors == ["no alert #99999"]
    r = await svc.execute(actor("vic", Role.VIEWER), Command("undo_not_ad", [alert.id]))
    assert r.refused
    rt.close()


async def test_u_on_the_alerts_screen_takes_the_verdict_back(tmp_path) -> None:
    from tests.test_console_incidents import table, until

    rt, svc, alert = await world(tmp_path)
    app = GroupWatchApp(LocalClient(svc, svc.open_session("owner", [], session="console")), refresh_seconds=0.2)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2")
        await until(pilot, lambda: table(app).row_count >= 1)
        await pilot.press("v")  # single alerts
        await until(pilot, lambda: str(alert.id) in [k.value for k in table(app).ordered_keys()])
        table(app).move_cursor(row=[k.value for k in table(app).ordered_keys()].index(str(alert.id)))
        await pilot.pause()
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: not alert.is_live and rt.moderation.ad_learning.counts() == (0, 1))
        await pilot.press("U")
        await until(pilot, lambda: alert.is_live and rt.moderation.ad_learning.counts() == (0, 0))
        await pilot.press("q")
    rt.close()
