"""The daily summary: the last 24 hours' alerts and incidents by kind, what the team and the engine
did, and the groups that need someone now."""
from __future__ import annotations

import itertools
from collections import Counter

from console.engine.digest.chat import capped, counts, finish, name, pct
from console.engine.digest.source import minute, moderation_of, summaries
from console.engine.stats import DAY
from console.engine.team import automatic_actions, engine_team_work

ATTENTION = 5


def daily_summary(engine, now: float) -> str:
    since = now - DAY
    lines = [f"groupwatch daily summary, {minute(since)} to {minute(now)} UTC"]
    lines += _alerts(engine, since, now)
    lines += _work(engine, since)
    lines += _attention(engine, now)
    return finish(lines)


def _alerts(engine, since: float, now: float) -> list[str]:
    live = engine.alerts.live()
    ended = engine.alerts.resolved()
    new = [a for a in itertools.chain(live, ended) if since < a.first_at <= now]
    out = [f"Alerts: {_at_least(ended, since, engine)}{len(new)} new"
           + (f": {counts(Counter(a.kind for a in new))}" if new else "")]
    sev = Counter(a.severity.label for a in live)
    out.append(f"Open now: {len(live)}"
               + (f" ({sev['high']} high, {sev['medium']} medium, {sev['low']} low)" if live else ""))
    incidents = engine.incidents
    live_inc, ended_inc = incidents.live(), incidents.ended()
    opened = [i for i in itertools.chain(live_inc, ended_inc) if since < i.first_at <= now]
    paging = sum(1 for i in live_inc if i.paging)
    out.append(f"Incidents: {_at_least(ended_inc, since, engine)}{len(opened)} new"
               + (f": {counts(Counter(i.kind for i in opened))}" if opened else "")
               + f"; {len(live_inc)} open, {paging} waiting for someone")
    return out


def _at_least(ended: list, since: float, engine) -> str:
    """The engine keeps a bounded history of ended alerts and incidents: when it is full and starts
    inside the day, some of the day's are gone, and the count says so instead of passing for all."""
    full = len(ended) >= engine.settings.alerts.keep_history
    return "at least " if full and ended and min(x.first_at for x in ended) > since else ""


def _work(engine, since: float) -> list[str]:
    mod = moderation_of(engine)
    if mod is None:
        return []
    entries = mod.ledger.audit_entries(since)
    work = engine_team_work(engine, entries)
    acts: Counter[str] = Counter()
    acked, claimed, resolved = set(), set(), set()
    for w in work:
        acts.update(w.actions)
        acked |= w.acknowledged
        claimed |= w.claimed
        resolved |= w.resolved
    people = sum(1 for w in work if w.actions)
    out = [f"Actions: {sum(acts.values())}" + (f" by {people} operator{'s' if people != 1 else ''}: {counts(acts)}"
                                                 if acts else "")]
    out.append(f"Handled: {len(acked)} acknowledged, {len(claimed)} claimed, {len(resolved)} resolved")
    auto = automatic_actions(entries)
    if auto:
        out.append(f"Automatic: {sum(auto.values())} ({counts(auto)})")
    return out


def _attention(engine, now: float) -> list[str]:
    rows = [s for s in summaries(engine, now) if s.open_alerts or s.tier == "critical"]
    if not rows:
        return ["Needs attention: none"]
    high = Counter(a.group for a in engine.alerts.live() if a.severity.label == "high")
    lines = []
    for s in rows:
        parts = []
        if s.open_alerts:
            parts.append(f"{s.open_alerts} open alert{'s' if s.open_alerts != 1 else ''}"
                         + (f" ({high[s.id]} high)" if high.get(s.id) else ""))
        parts.append(f"{s.tier}, {pct(s.active_ratio)} active")
        if s.leaves_24h:
            parts.append(f"{s.leaves_24h} left today")
        lines.append(f"- {name(s.name)}: {', '.join(parts)}")
    return ["Needs attention:"] + capped(lines, ATTENTION)
