"""The weekly tiering digest: the playbook's weekly tiers (above 40% active "high-quality active",
20-40% "ordinary", below 20% "inactive"), exit rate, new-member retention, reactivation of
mentioned quiet members, and the team's work orders of the week."""
from __future__ import annotations

from collections import Counter

from console.engine.activity import GroupSummary, exit_rate
from console.engine.digest.chat import LIST_ITEMS, capped, counts, finish, name, pct
from console.engine.digest.source import day, moderation_of, summaries
from console.engine.durations import short
from console.engine.stats import DAY
from console.engine.team import engine_team_work
from console.engine.weekly import fleet_numbers, weekly_numbers

WEEK = 7 * DAY
RETENTION_MIN_JOINED = 3  # a group's retention is named only when at least this many joined
TEAM_LINES = 8
HIGH_NAMED = 3  # the high tier needs no action: a few names show it, the count says the rest


def weekly_digest(engine, now: float) -> str:
    rows = summaries(engine, now)
    mod = moderation_of(engine)
    lines = [f"groupwatch weekly report, {day(now - WEEK)} to {day(now)} UTC"]
    lines += _tiers(engine, rows)
    lines += _churn(rows)
    lines += _newcomers(engine, mod, now)
    lines += _low_tiers(rows)
    lines += _team(engine, mod, now)
    return finish(lines)


def _tiers(engine, rows: list[GroupSummary]) -> list[str]:
    s = engine.settings.detectors.activity
    t = Counter(r.tier for r in rows)
    out = [f"Groups: {len(rows)} watched, tiered by members active in {s.window_days:g} days:",
           f"  {t['high']} high-quality active (over {s.high:.0%}), {t['ordinary']} ordinary "
           f"({s.ordinary:.0%}-{s.high:.0%}),",
           f"  {t['inactive']} inactive (under {s.ordinary:.0%}), {t['critical']} critical (under {s.critical:.0%})"]
    high = [name(r.name, 24) for r in rows if r.tier == "high"]
    if high:
        shown = ", ".join(high[:HIGH_NAMED]) + (f" and {len(high) - HIGH_NAMED} more" if len(high) > HIGH_NAMED else "")
        out.append(f"High-quality active: {shown}")
    return out


def _churn(rows: list[GroupSummary]) -> list[str]:
    members, joins, leaves = sum(r.members for r in rows), sum(r.joins for r in rows), sum(r.leaves for r in rows)
    out = [f"Members: {members}; {joins} joined, {leaves} left (exit rate {pct(exit_rate(members, leaves, joins))})"]
    worst = sorted((r for r in rows if r.leaves and r.exit_rate is not None), key=lambda r: (-r.exit_rate, r.id))
    if worst:
        out.append("Highest exit rate: " + ", ".join(f"{name(r.name, 24)} {pct(r.exit_rate)}" for r in worst[:3]))
    return out


def _newcomers(engine, mod, now: float) -> list[str]:
    fleet = fleet_numbers(engine, mod, now)
    out = []
    for r in (fleet.retention_7d, fleet.retention_30d):
        if r.joined:
            out.append(f"New members of the week of {day(r.week_start)}: {r.joined} joined, "
                       f"{pct(r.rate)} still there {r.days} days on")
        else:
            out.append(f"New members of the week of {day(r.week_start)}: none joined ({r.days}-day retention)")
    per_group = weekly_numbers(engine, mod, now)
    low = sorted(((w.retention_7d, gid) for gid, w in per_group.items()
                  if w.retention_7d.joined >= RETENTION_MIN_JOINED),
                 key=lambda x: (x[0].rate, x[1]))
    if low and low[0][0].rate is not None and low[0][0].rate < 1:
        names = {gid: g.name for gid, g in engine.stats.groups.items()}
        out.append("Lowest 7-day retention: " + ", ".join(
            f"{name(names.get(gid, gid), 24)} {pct(r.rate)} of {r.joined}" for r, gid in low[:3] if r.rate < 1))
    react = fleet.reactivation
    if react.mentioned or react.waiting:
        out.append(f"Quiet members mentioned (30 days): {react.mentioned} judged, {react.reactivated} posted "
                   f"within {fleet.reactivation_days:g} days ({pct(react.rate)})"
                   + (f"; {react.waiting} too recent to tell" if react.waiting else ""))
    else:
        out.append("Quiet members mentioned (30 days): none")
    return out


def _low_tiers(rows: list[GroupSummary]) -> list[str]:
    low = [r for r in rows if r.tier in ("critical", "inactive")]
    if not low:
        return []
    lines = [f"- {name(r.name)}: {r.tier}, {pct(r.active_ratio)} active of {r.members}"
             + (f", exit {pct(r.exit_rate)}" if r.leaves else "") for r in low]
    return ["Inactive and critical groups (plan interaction for them this week):"] + capped(lines, LIST_ITEMS)


def _team(engine, mod, now: float) -> list[str]:
    if mod is None:
        return []
    work = engine_team_work(engine, mod.ledger.audit_entries(now - WEEK))
    if not work:
        return ["Team, last 7 days: no claims, acknowledgements or actions recorded"]
    lines = []
    for w in work:
        line = (f"- {name(w.operator, 24)}: {len(w.acknowledged)} acked, {len(w.claimed)} claimed, "
                f"{len(w.resolved)} resolved")
        if w.ack_seconds:
            line += f", {short(w.median_ack_s)} median to ack"
        if w.actions:
            line += f"; {w.actions_total} actions ({counts(w.actions, 4)})"
        lines.append(line)
    return ["Team, last 7 days:"] + capped(lines, TEAM_LINES)
