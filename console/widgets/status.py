"""The status line: demo label, connector health, events per second, open alerts by severity, who
else is attached, and whether this console is read-only or has lost its service."""
from __future__ import annotations

import datetime as dt

from rich.text import Text
from textual.widgets import Static

from console.engine.text import visible
from console.service.api import HeaderView

HEALTH_STYLE = {"ok": "green", "degraded": "yellow", "down": "bold red"}


def status_text(h: HeaderView | None, paused: bool, *, lost: str = "", where: str = "") -> Text:
    t = Text()
    if lost:
        t.append(f" {visible(lost, 60)} ", style="bold reverse red")
    if h is None:
        t.append(" connecting" + (f" to {visible(where, 60)}" if where else "") + "…", style="dim")
        return t
    if h.demo:
        t.append(" DEMO ", style="bold reverse yellow")
    for c in h.connectors:
        t.append(f" {visible(c.name, 20)}:")
        t.append(c.state, style=HEALTH_STYLE.get(c.state, "bold red"))
        if c.reason and c.state != "ok":
            t.append(f" ({visible(c.reason, 40)})", style=HEALTH_STYLE.get(c.state, "bold red"))
    t.append(f"  {h.events_per_s:.0f} ev/s")
    t.append("  ")
    t.append(f"H{h.alerts_high}", style="bold reverse red" if h.alerts_high else "bold")  # seen without colour
    t.append(" ")
    t.append(f"M{h.alerts_medium}", style="bold yellow")
    t.append(f" L{h.alerts_low}")
    t.append("  " + dt.datetime.fromtimestamp(h.now).strftime("%m-%d %H:%M"), style="dim")
    me = h.you.session if h.you else None
    others = sorted({o.user for o in h.operators if o.session != me})
    if others:
        shown = ", ".join(visible(u, 16) for u in others[:3]) + (f" +{len(others) - 3}" if len(others) > 3 else "")
        t.append(f"  also here: {shown}", style="cyan")
    if paused:
        t.append("  PAUSED", style="bold reverse")
    if h.read_only or (h.you is not None and h.you.role == "viewer"):
        t.append("  READ-ONLY", style="bold reverse")
    if h.save_error:
        t.append(f"  NOT SAVED ({visible(h.save_error, 60)})", style="bold reverse red")
    return t


class StatusLine(Static):
    """One line, re-drawn every refresh: the same text again costs nothing, and a new one never a layout
    of the whole screen (which re-renders every widget on it)."""

    _shown: object = None

    def update(self, content="", *, layout: bool = False) -> None:
        if content == self._shown:
            return
        self._shown = content
        super().update(content, layout=layout)
