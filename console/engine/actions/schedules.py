"""Scheduled posts: a template sent to a set of groups on a timetable.

A schedule fires either at daily local times ("HH:MM") or on a cron
expression, always in its own IANA time zone. Fire times are computed on the
local wall clock and then mapped to instants, so daylight-saving changes are
handled one way for both kinds:

* a wall time that does not exist (inside a spring-forward gap) fires at the
  first valid instant after it (the moment the clocks jump), once;
* a wall time that happens twice (a fall-back day) fires once, at the first
  occurrence.

(croniter with tz-aware datetimes would fire an ambiguous time twice, so cron
expressions are iterated on naive wall-clock datetimes and mapped the same way.)

Exactly-once bookkeeping: ``last_fire`` is the latest scheduled fire time
that was run or skipped. :meth:`Schedules.due` claims a fire (commits
``last_fire`` and ``inflight``) before handing it out, and :meth:`fire`
commits again before any action is recorded, so a fire is never handed out
twice, even across a restart. Every post carries the idempotency key
``schedule:<id>:<fire>:<group>``: re-firing an interrupted fire (see
:meth:`Schedules.interrupted`) never posts twice to a group.
"""
from __future__ import annotations

import os
import re
import string
from dataclasses import asdict, dataclass, fields
from datetime import date, datetime, time as dtime, timedelta
from pathlib import Path
from typing import Callable, Iterator
from zoneinfo import ZoneInfo

from croniter import croniter

from console.engine.actions.ledger import Ledger
from console.engine.actions.model import Action, ActionError, ActionKind, BulkReport, ReadOnlyError
from console.engine.activity import TIERS, GroupSummary
from console.engine.matching import term_matches

DB = "moderation"
TABLE = "schedules"
MISSED_POLICIES = ("skip", "run_once")
PLACEHOLDERS = ("group", "members", "date", "time", "tier")
GRACE = 120.0          # a fire this recent (seconds) is on time, not missed
MISSED_COUNT_CAP = 10_000  # counting missed fires after a long outage stops here
CRON_KEYWORDS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")
_HHMM_RE = re.compile(r"^(\d{1,2}):(\d{2})$")
_ONE_LINE = re.compile(r"\s+")


def _one_line(text: object) -> str:
    return _ONE_LINE.sub(" ", str(text)).strip()


# --- time zones -----------------------------------------------------------------

def local_zone_name() -> str:
    """The machine's IANA zone name if it can be found, else "UTC"."""
    candidates: list[str] = []
    tz = os.environ.get("TZ", "").strip()
    if tz:
        candidates.append(tz[1:] if tz.startswith(":") else tz)
    try:
        target = os.path.realpath("/etc/localtime")
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    except OSError:
        pass
    try:
        candidates.append(Path("/etc/timezone").read_text().strip())
    except OSError:
        pass
    for name in candidates:
        if name and _zone(name) is not None:
            return name
    return "UTC"


def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except Exception:  # ZoneInfoNotFoundError, ValueError for malformed keys, IsADirectoryError ...
        return None


def _tz(name: str) -> ZoneInfo:
    z = _zone(name)
    if z is None:
        raise ActionError(f"unknown time zone {name!r}: use an IANA name like Europe/Berlin or Asia/Shanghai")
    return z


def _wall(t: float, tz: ZoneInfo) -> datetime:
    """The naive local wall-clock time of instant ``t``."""
    return datetime.fromtimestamp(t, tz).replace(tzinfo=None)


def wall_to_instant(w: datetime, tz: ZoneInfo) -> float:
    """The first instant at which the local clock reads ``w`` or later.

    An existing time maps to itself (an ambiguous one to its first occurrence);
    a time inside a spring-forward gap maps to the moment the clocks jump.
    Non-decreasing in ``w``.
    """
    t0 = w.replace(tzinfo=tz, fold=0).timestamp()
    if _wall(t0, tz) == w:
        return t0
    t1 = w.replace(tzinfo=tz, fold=1).timestamp()
    lo, hi = int(min(t0, t1)), int(max(t0, t1)) + 1  # local(lo) < w <= local(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _wall(mid, tz) >= w:
            hi = mid
        else:
            lo = mid
    return float(hi)


def fmt_time(t: float | None, tz_name: str) -> str:
    if t is None:
        return "-"
    return datetime.fromtimestamp(t, ZoneInfo(tz_name)).strftime("%Y-%m-%d %H:%M %Z")


# --- the model ------------------------------------------------------------------

@dataclass(slots=True)
class Schedule:
    id: str
    cron: str | None
    times: list[str]
    tz: str
    target: str
    template: str
    missed: str = "skip"
    paused: bool = False
    last_fire: float | None = None   # the latest scheduled fire time (POSIX) run or skipped
    created_at: float = 0.0
    created_by: str = ""
    inflight: float | None = None    # a fire claimed whose posts were not all handed to the pipeline yet

    @property
    def when(self) -> str:
        return f"cron {self.cron}" if self.cron else "daily " + ",".join(self.times)

    def to_doc(self) -> dict:
        return asdict(self)

    @classmethod
    def from_doc(cls, d: dict) -> "Schedule":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


# --- validation -----------------------------------------------------------------

def parse_times(times: list[str] | str) -> list[str]:
    items = times.split(",") if isinstance(times, str) else list(times)
    out = set()
    for raw in items:
        m = _HHMM_RE.match(str(raw).strip())
        if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
            raise ActionError(f"bad time {_one_line(raw)!r}: use HH:MM, 00:00 to 23:59")
        out.add(f"{int(m.group(1)):02d}:{m.group(2)}")
    if not out:
        raise ActionError("no time given: use --at HH:MM[,HH:MM...]")
    return sorted(out)


def check_cron(expr: str) -> str:
    expr = _one_line(expr)
    if expr.startswith("@"):
        if expr.lower() not in CRON_KEYWORDS:
            raise ActionError(f"bad cron expression {expr!r}: keywords are {', '.join(CRON_KEYWORDS)}")
        return expr.lower()
    if len(expr.split()) != 5:
        raise ActionError(f"bad cron expression {expr!r}: needs 5 fields (minute hour day month weekday), "
                          "like '0 9 * * 1-5'")
    try:
        ok = croniter.is_valid(expr)
    except Exception:
        ok = False
    if not ok:
        raise ActionError(f"bad cron expression {expr!r}: a field is out of range or malformed")
    return expr


def parse_target(target: str) -> list[tuple[str, str]]:
    """``"demo:g1,demo:g5"`` / ``"tag:gaming"`` / ``"tier:inactive"`` / ``"all"`` -> [(kind, value)].

    Terms may be combined with commas; the groups they name are united.
    """
    terms = [t.strip() for t in str(target).split(",")]
    if not target or not any(terms):
        raise ActionError("no target: use group ids (platform:id,...), tag:NAME, tier:LEVEL or all")
    out: list[tuple[str, str]] = []
    for t in terms:
        if not t:
            raise ActionError(f"bad target {_one_line(target)!r}: an empty item between commas")
        if t == "all":
            out.append(("all", ""))
            continue
        kind, sep, value = t.partition(":")
        if not sep or not kind or not value:
            raise ActionError(f"bad target {_one_line(t)!r}: use group ids (platform:id), tag:NAME, "
                              f"tier:{'|'.join(TIERS)} or all")
        if kind == "tier":
            if value not in TIERS:
                raise ActionError(f"bad target {_one_line(t)!r}: tiers are {', '.join(TIERS)}")
            out.append(("tier", value))
        elif kind == "tag":
            out.append(("tag", value))
        else:
            out.append(("group", t))
    return out


_SAMPLE = {"group": "group", "members": 100, "date": "2026-01-01", "time": "09:00", "tier": "high"}


def check_template(template: str) -> str:
    if not template or not template.strip():
        raise ActionError("empty template: give the text to post")
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as e:
        raise ActionError(f"bad template: {_one_line(e)} (write {{{{ and }}}} for literal braces)") from None
    known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
    for _, name, spec, _conv in parsed:
        if name is None:
            continue
        if name not in PLACEHOLDERS:
            shown = "{" + name + "}" if name else "{}"
            raise ActionError(f"bad template: unknown placeholder {_one_line(shown)!r}; known: {known} "
                              "(write {{ and }} for literal braces)")
    try:
        template.format_map(_SAMPLE)
    except (KeyError, ValueError, IndexError, AttributeError, TypeError) as e:
        raise ActionError(f"bad template: {_one_line(e)}") from None
    return template


# --- the schedules --------------------------------------------------------------

class Schedules:
    def __init__(self, store, ledger: Ledger, clock: Callable[[], float], *, grace: float = GRACE) -> None:
        self.store, self.ledger, self.clock = store, ledger, clock
        self.grace = grace
        self._items: dict[str, Schedule] = {}
        for d in store.read_table(DB, TABLE):
            s = Schedule.from_doc(d)
            self._items[s.id] = s

    # --- persistence

    def _save(self, s: Schedule) -> None:
        self.store.put_doc(DB, TABLE, s.id, s.to_doc())
        self.store.commit(DB)

    # --- management

    def add(self, *, id: str | None = None, cron: str | None = None, times: list[str] | str | None = None,
            tz: str | None = None, target: str, template: str, missed: str = "skip", actor: str) -> Schedule:
        if id is not None:
            if not _ID_RE.match(id):
                raise ActionError(f"bad schedule id {_one_line(id)!r}: letters, digits, '-' and '_', "
                                  "at most 40, starting with a letter or digit")
            if id in self._items:
                raise ActionError(f"schedule {id!r} exists already")
        no_times = times is None or times == [] or times == ""
        if cron is None and no_times:
            raise ActionError("no timetable: give a cron expression (--cron) or daily times (--at HH:MM)")
        if cron is not None and not no_times:
            raise ActionError("give a cron expression (--cron) or daily times (--at), not both")
        cron_expr = check_cron(cron) if cron is not None else None
        hhmm = parse_times(times) if cron is None else []  # type: ignore[arg-type]
        tz_name = tz if tz else local_zone_name()
        _tz(tz_name)
        parse_target(target)
        check_template(template)
        if missed not in MISSED_POLICIES:
            raise ActionError(f"bad missed-run policy {_one_line(missed)!r}: use skip or run_once")
        now = self.clock()
        s = Schedule(id=id or self._new_id(), cron=cron_expr, times=hhmm, tz=tz_name, target=target.strip(),
                     template=template, missed=missed, last_fire=now, created_at=now, created_by=actor)
        if self.next_run(s, now) is None:
            raise ActionError(f"cron expression {cron_expr!r} never fires")
        self._items[s.id] = s
        self._save(s)
        self.ledger.audit(actor, "schedule added", params={"id": s.id, "when": s.when, "tz": s.tz,
                                                             "target": s.target, "template": s.template,
                                                             "missed": s.missed}, origin=f"schedule:{s.id}")
        return s

    def _new_id(self) -> str:
        n = 1
        while f"sched-{n}" in self._items:
            n += 1
        return f"sched-{n}"

    def get(self, id: str) -> Schedule:
        s = self._items.get(id)
        if s is None:
            raise ActionError(f"no schedule {_one_line(id)!r}")
        return s

    def list(self) -> list[Schedule]:
        return sorted(self._items.values(), key=lambda s: (s.created_at, s.id))

    def remove(self, id: str, actor: str) -> Schedule:
        s = self.get(id)
        del self._items[id]
        docs = [d for d in self.store.read_table(DB, TABLE) if d.get("_key") != id]
        self.store.replace_table(DB, TABLE, docs)
        self.store.commit(DB)
        self.ledger.audit(actor, "schedule removed", params={"id": id}, origin=f"schedule:{id}")
        return s

    def pause(self, id: str, actor: str) -> Schedule:
        s = self.get(id)
        if not s.paused:
            s.paused, s.inflight = True, None
            self._save(s)
            self.ledger.audit(actor, "schedule paused", params={"id": id}, origin=f"schedule:{id}")
        return s

    def resume(self, id: str, actor: str) -> Schedule:
        """Resume; fires that fell in the pause are not caught up (a pause means: not then)."""
        s = self.get(id)
        if s.paused:
            s.paused = False
            s.last_fire = max(s.last_fire or 0.0, self.clock())
            s.inflight = None
            self._save(s)
            self.ledger.audit(actor, "schedule resumed", params={"id": id}, origin=f"schedule:{id}")
        return s

    # --- fire times

    def _walls_after(self, s: Schedule, start: datetime) -> Iterator[datetime]:
        """Local wall-clock fire times strictly after ``start`` (naive), ascending, without end."""
        if s.cron:
            it = croniter(s.cron, start)
            while True:
                try:
                    w = it.get_next(datetime)
                except Exception:  # CroniterBadDateError: no further match
                    return
                if w > start:
                    yield w
        else:
            clock = [dtime(int(t[:2]), int(t[3:])) for t in s.times]
            d = start.date()
            while d < date.max:
                for c in clock:
                    w = datetime.combine(d, c)
                    if w > start:
                        yield w
                d += timedelta(days=1)

    def _walls_upto(self, s: Schedule, end: datetime) -> Iterator[datetime]:
        """Local wall-clock fire times at or before ``end`` (naive), descending, without end."""
        if s.cron:
            it = croniter(s.cron, end + timedelta(minutes=1))
            while True:
                try:
                    w = it.get_prev(datetime)
                except Exception:
                    return
                if w <= end:
                    yield w
        else:
            clock = sorted((dtime(int(t[:2]), int(t[3:])) for t in s.times), reverse=True)
            d = end.date()
            while d > date.min:
                for c in clock:
                    w = datetime.combine(d, c)
                    if w <= end:
                        yield w
                d -= timedelta(days=1)

    def next_run(self, s: Schedule, after: float) -> float | None:
        """The first fire time after ``after``; None when paused (or a cron that never fires again)."""
        if s.paused:
            return None
        tz = _tz(s.tz)
        for w in self._walls_after(s, _wall(after, tz)):
            t = wall_to_instant(w, tz)
            if t > after:
                return t
        return None

    def fires_between(self, s: Schedule, after: float, until: float, limit: int | None = None) -> list[float]:
        """Fire times in (after, until], ascending, each instant once (at most ``limit`` of them)."""
        tz = _tz(s.tz)
        out: list[float] = []
        for w in self._walls_after(s, _wall(after, tz)):
            t = wall_to_instant(w, tz)
            if t > until:
                break
            if t > after and (not out or t > out[-1]):
                out.append(t)
                if limit is not None and len(out) >= limit:
                    break
        return out

    def latest_fire(self, s: Schedule, until: float) -> float | None:
        """The last fire time at or before ``until``."""
        tz = _tz(s.tz)
        here = _wall(until, tz)
        latest = None
        # On a fall-back day the clock reads earlier than times already passed: look a little ahead too.
        for w in self._walls_after(s, here):
            t = wall_to_instant(w, tz)
            if t > until:
                break
            latest = t
        if latest is not None:
            return latest
        for w in self._walls_upto(s, here):
            t = wall_to_instant(w, tz)
            if t <= until:
                return t
        return None

    def due(self, now: float) -> list[tuple[Schedule, float]]:
        """Claim and return the fires to run now, at most one per schedule.

        The latest fire in (last_fire, now] is due when it is on time (within
        ``grace`` seconds of now: call this at least that often). When it is older (the
        console was down), ``missed`` decides: "skip" records it as done
        without posting, "run_once" runs it once, however many were missed.
        A fire returned here is committed as ``last_fire`` (and ``inflight``)
        first, so it is never returned again, even after a restart.
        """
        on_time_after = now - self.grace
        out: list[tuple[Schedule, float]] = []
        for s in self.list():
            if s.paused:
                continue
            latest = self.latest_fire(s, now)
            if latest is None or (s.last_fire is not None and latest <= s.last_fire):
                continue
            earlier = len(self.fires_between(s, s.last_fire if s.last_fire is not None else latest - 1, latest,
                                             MISSED_COUNT_CAP)) - 1
            earlier = max(earlier, 0)
            params = {"id": s.id, "fire": latest, "missed": earlier, "policy": s.missed}
            if latest > on_time_after:
                if earlier:
                    self.ledger.audit("auto:schedule", "schedule missed (skipped)", params=params,
                                      result=f"{earlier} earlier fire(s) not run", origin=f"schedule:{s.id}")
                out.append((s, latest))
            elif s.missed == "run_once":
                params["missed"] = earlier + 1
                self.ledger.audit("auto:schedule", "schedule missed (run once)", params=params,
                                  result=f"{earlier + 1} missed fire(s), running the latest once",
                                  origin=f"schedule:{s.id}")
                out.append((s, latest))
            else:
                params["missed"] = earlier + 1
                s.last_fire = latest
                self._save(s)
                self.ledger.audit("auto:schedule", "schedule missed (skipped)", params=params,
                                  result=f"{earlier + 1} missed fire(s) not run", origin=f"schedule:{s.id}")
                continue
            s.last_fire, s.inflight = latest, latest
            self._save(s)
        return out

    def interrupted(self) -> list[tuple[Schedule, float]]:
        """Fires claimed but not finished before a crash; :meth:`fire` them again (keys prevent doubles)."""
        return [(s, s.inflight) for s in self.list() if s.inflight is not None and not s.paused]

    # --- targets and text

    def targets(self, s: Schedule, summaries: list[GroupSummary]) -> list[GroupSummary]:
        terms = parse_target(s.target)
        by_id = {g.id: g for g in summaries}
        out: dict[str, GroupSummary] = {}
        for kind, value in terms:
            if kind == "group":
                picked = [by_id[value]] if value in by_id else []
            else:  # the rule shared with silences and routes
                picked = [g for g in summaries if term_matches(kind, value, g)]
            for g in picked:
                out.setdefault(g.id, g)
        return list(out.values())

    def missing(self, s: Schedule, summaries: list[GroupSummary]) -> list[str]:
        """Group ids the target names that are not among ``summaries`` (not watched)."""
        known = {g.id for g in summaries}
        return [v for k, v in parse_target(s.target) if k == "group" and v not in known]

    def render(self, s: Schedule, g: GroupSummary, fire: float) -> str:
        local = datetime.fromtimestamp(fire, _tz(s.tz))
        return s.template.format_map({"group": g.name, "members": g.members, "date": local.strftime("%Y-%m-%d"),
                                      "time": local.strftime("%H:%M"), "tier": g.tier})

    def dry_run(self, s: Schedule, summaries: list[GroupSummary], fire: float | None = None) -> list[tuple[str, str]]:
        at = self.clock() if fire is None else fire
        return [(g.id, self.render(s, g, at)) for g in self.targets(s, summaries)]

    # --- sending

    def _actions(self, s: Schedule, summaries: list[GroupSummary], at: float, stamp: str,
                 actor: str) -> list[Action]:
        return [Action(kind=ActionKind.SEND, group=g.id, text=self.render(s, g, at), origin=f"schedule:{s.id}",
                       actor=actor, key=f"schedule:{s.id}:{stamp}:{g.id}")
                for g in self.targets(s, summaries)]

    def _missing_into(self, report: BulkReport, s: Schedule, summaries: list[GroupSummary]) -> BulkReport:
        for gid in self.missing(s, summaries):
            report.total += 1
            report.failed += 1
            report.errors.append(f"{gid}: no such group is watched")
        return report

    async def fire(self, s: Schedule, fire: float, summaries: list[GroupSummary], pipeline,
                   actor: str = "auto:schedule") -> BulkReport:
        """Post one fire of ``s``: ``last_fire`` is committed before any action is recorded.

        A schedule removed or paused since the fire was claimed posts nothing.
        """
        if s.id not in self._items:
            return BulkReport(total=0, errors=[f"schedule {s.id!r} was removed"])
        s = self._items[s.id]
        if s.paused:
            if s.inflight is not None:
                s.inflight = None
                self._save(s)
            return BulkReport(total=0, errors=[f"schedule {s.id!r} is paused"])
        s.last_fire = fire if s.last_fire is None else max(s.last_fire, fire)
        s.inflight = fire
        self._save(s)
        actions = self._actions(s, summaries, fire, str(int(fire)), actor)
        try:
            report = await pipeline.run(actions) if actions else BulkReport(total=0)
        except ReadOnlyError as e:
            report = BulkReport(total=len(actions), failed=len(actions), errors=[str(e)])
        s.inflight = None
        if s.id in self._items:
            self._save(s)
        self._missing_into(report, s, summaries)
        self.ledger.audit(actor, "schedule fired", params={"id": s.id, "fire": fire, "groups": len(actions)},
                          result=report.summary(), origin=f"schedule:{s.id}")
        return report

    async def run_now(self, s: Schedule, summaries: list[GroupSummary], pipeline, actor: str) -> BulkReport:
        """Post ``s`` now, outside its timetable; its ``last_fire`` does not change."""
        s = self.get(s.id)
        now = self.clock()
        actions = self._actions(s, summaries, now, f"now-{int(now)}", actor)
        try:
            report = await pipeline.run(actions) if actions else BulkReport(total=0)
        except ReadOnlyError as e:
            raise ActionError(str(e)) from None
        self._missing_into(report, s, summaries)
        self.ledger.audit(actor, "schedule run now", params={"id": s.id, "groups": len(actions)},
                          result=report.summary(), origin=f"schedule:{s.id}")
        return report
