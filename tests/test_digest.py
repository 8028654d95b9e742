"""Issue 13 item 7: the daily summary and the weekly digest as chat text: by kind, names not ids,
hostile names inert, a cap on length; on a fake clock."""
from __future__ import annotations

import re

from console.engine.detectors.base import Severity
from console.engine.digest import daily_summary, weekly_digest
from console.engine.digest.chat import MAX_CHARS
from console.engine.settings import Settings
from console.engine.stats import DAY
from console.service.api import Command
from tests.digest_world import actor, alert, world
from tests.helpers import T0, msg


HOSTILE = "\x1b[31m@room\u202eevil\u200b\nline\x07"
CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]")


async def test_daily_summary_by_kind_with_actions_and_groups_needing_attention(tmp_path):
    w = world(tmp_path, {"fake:g1": "Readers' club", "fake:g2": HOSTILE})
    a1 = alert(w, "ad", "fake:g1", "fake:g1:m1")
    alert(w, "ad", "fake:g2", "fake:g2:m1")
    alert(w, "flood", "fake:g2", "fake:g2:m2", Severity.MEDIUM)
    w.clock.t = T0 + 120
    await w.service.execute(actor("alice"), Command("warn_alerts", [a1]))
    await w.service.execute(actor("bob"), Command("ack", [a1]))
    text = daily_summary(w.engine, w.clock.t)
    lines = text.split("\n")
    assert lines[0].startswith("groupwatch daily summary, 2026-01-04 01:02 to 2026-01-05 01:02 UTC")
    assert "Alerts: 3 new: ad 2, flood 1" in lines
    assert "Open now: 3 (2 high, 1 medium, 0 low)" in lines
    assert "Actions: 1 by 1 operator: warn 1" in lines
    assert "Handled: 1 acknowledged, 0 claimed, 1 resolved" in lines  # the warning resolved a1's incident
    attention = lines[lines.index("Needs attention:") + 1:]
    assert attention[0].startswith("- ␛[31m＠room⟨U+202E⟩evil") and "2 open alerts (1 high)" in attention[0]
    assert not CONTROL.search(text) and "@" not in text
    assert all(len(line) <= 120 for line in lines)
    w.close()


async def test_weekly_digest_tiers_team_and_a_cap_on_length(tmp_path):
    groups = {f"fake:g{i}": f"{HOSTILE} {i}" for i in range(300)}
    w = world(tmp_path, groups, members=5)
    for i in range(0, 300, 2):  # half the groups have someone who spoke: 20% active, "ordinary"
        w.engine.ingest([msg(f"fake:g{i}", f"fake:g{i}:m0", T0 - DAY)])
    a = alert(w, "ad", "fake:g1", "fake:g1:m1")
    w.clock.t = T0 + 30
    await w.service.execute(actor("alice"), Command("claim", [a]))
    text = weekly_digest(w.engine, w.clock.t)
    assert len(text) <= MAX_CHARS and not CONTROL.search(text) and "@" not in text
    assert text.startswith("groupwatch weekly report, 2025-12-29 to 2026-01-05 UTC\nGroups: 300 watched")
    assert "\n  0 high-quality active (over 40%), 150 ordinary (20%-40%),\n" in text
    assert "\n  0 inactive (under 20%), 150 critical (under 10%)\n" in text
    assert re.search(r"\.\.\. and \d+ more", text)
    assert "- alice: 1 acked, 1 claimed, 0 resolved, 30s median to ack" in text  # a claim acknowledges
    # NOTIFY's dispatcher calls them exactly so.
    assert daily_summary(w.engine, w.clock.t) and len(daily_summary(w.engine, w.clock.t)) <= MAX_CHARS
    w.close()


def test_a_long_message_is_cut_at_whole_lines():
    from console.engine.digest.chat import finish

    text = finish([f"line {i}" for i in range(1000)], 200)
    assert len(text) <= 200 and text.endswith("more lines") and "\nline 3\n" in text
    assert finish(["a", "b"], 200) == "a\nb"


async def test_daily_counts_say_at_least_when_the_history_lost_some(tmp_path):
    settings = Settings()
    settings.alerts.keep_history = 3
    w = world(tmp_path, settings=settings)
    for i in range(6):
        a = alert(w, "flood", "fake:g1", f"fake:g1:m{i}")
        w.engine.alerts.resolve(a, w.clock.t, "auto")
        w.clock.t += 60
    text = daily_summary(w.engine, w.clock.t)
    assert "Alerts: at least 3 new: flood 3" in text.split("\n")
    w.close()
