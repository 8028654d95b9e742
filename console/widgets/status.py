"""The status line: demo label, connector health, events per second, open alerts by severity."""
from __future__ import annotations

import datetime as dt
import time

from rich.text import Text
from textual.widgets import Static

from connectors.contract import HealthState
from console.engine.detectors.base import Severity
from console.engine.engine import Engine
from console.engine.text import visible

HEALTH_STYLE = {HealthState.OK: "green", HealthState.DEGRADED: "yellow", HealthState.DOWN: "bold red"}


def status_text(engine: Engine, demo: bool, paused: bool) -> Text:
    t = Text()
    if demo:
        t.append(" DEMO ", style="bold reverse yellow")
    for name, st in engine.status.items():
        t.append(f" {visible(name, 20)}:")
        t.append(st.health.state.value, style=HEALTH_STYLE[st.health.state])
        if st.health.reason and st.health.state is not HealthState.OK:
            t.append(f" ({visible(st.health.reason, 40)})", style=HEALTH_STYLE[st.health.state])
    t.append(f"  {engine.rate.per_second(time.monotonic()):.0f} ev/s")
    counts = {s: 0 for s in Severity}
    for a in engine.alerts.live():
        counts[a.severity] += 1
    t.append("  ")
    t.append(f"H{counts[Severity.HIGH]}", style="bold red")
    t.append(" ")
    t.append(f"M{counts[Severity.MEDIUM]}", style="yellow")
    t.append(f" L{counts[Severity.LOW]}")
    t.append("  " + dt.datetime.fromtimestamp(engine.now()).strftime("%m-%d %H:%M"), style="dim")
    if paused:
        t.append("  PAUSED", style="bold reverse")
    if engine.save_error:
        t.append(f"  NOT SAVED ({visible(engine.save_error, 60)})", style="bold reverse red")
    return t


class StatusLine(Static):
    pass
