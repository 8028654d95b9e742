"""The service: the one door into a running engine.

Consoles (in this process or attached over the socket) and subcommands ask it
for views and give it commands; it decides who may do what (:meth:`execute`
is the only place a role or read-only is checked), runs each command as that
operator, and tells every listener what changed.
"""
from __future__ import annotations

import asyncio
import grp
import itertools
import logging
import os
import pwd
import time
from typing import Any, Callable

from console.engine.actions.model import ACTING_AS, REPORTING_TO, ActionError, BulkReport, ReadOnlyError
from console.engine.alerts import Alert, Change
from console.engine.detectors.base import Severity
from console.engine.store import StoreError
from console.engine.text import visible
from console.service import handlers
from console.service.api import (COMMANDS, QUERIES, Actor, Command, ConnectorView, HeaderView, NoticeView, OperatorView, Refused,
                                 Report, ServiceError)
from console.service.roles import allowed, role_for
from console.service.views import Views

log = logging.getLogger("groupwatch.service")
Listener = Callable[[str, Any], None]
HIGH_ALERT = "high-alert"  # the actor of a notice that announces a new high-severity alert
HIGH_ALERT_BELL = "high-alert-bell"  # the same, from an on-call route that rings the bell
PROGRESS = "progress:"    # + a session: the actor of a notice telling that console how its bulk action goes
PROGRESS_EVERY = 0.25     # seconds between progress notices of one command
PULSE = 0.5  # seconds between "changed" pushes while events flow


def os_identity() -> tuple[str, list[str]]:
    """This process's OS user and Unix group names (the in-process console's identity)."""
    uid = os.getuid()
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid:{uid}", []
    return user, group_names(user, os.getgid())


def group_names(user: str, gid: int) -> list[str]:
    names = []
    try:
        gids = os.getgrouplist(user, gid)
    except OSError:
        gids = [gid]
    for g in gids:
        try:
            names.append(grp.getgrgid(g).gr_name)
        except KeyError:
            continue
    return names


class Service:
    def __init__(self, rt, *, owner: str | None = None) -> None:
        self.rt = rt
        self.engine = rt.engine
        self.moderation = rt.moderation
        self.views = Views(rt)
        self.owner = owner or os_identity()[0]
        self.version = 1
        self._listeners: list[Listener] = []
        self._sessions: dict[str, OperatorView] = {}
        self._session_ids = itertools.count(1)
        self._seen_events = -1
        self._pulse_task: asyncio.Task | None = None
        self._refusals: dict[tuple, dict[str, str]] = {}
        self._high: Alert | None = None  # the first new high alert since the last pulse, and how many
        self._high_count = 0
        self.recent_acts: dict[tuple, tuple[str, float]] = {}  # (verb, target) -> (who, engine time)
        self.clock_speed = rt.settings.demo.speed if rt.is_demo else 1.0  # engine seconds per wall second
        self.moderation.listeners.append(lambda n: self._publish("notice", NoticeView(n.at, n.text)))
        self.engine.alerts.subscribe(self._on_alert)
        self._told: tuple[str, str, bool] | None = None  # the first on-call notice since the last pulse...
        self._told_count = 0  # ...and how many
        self.oncall = None
        if rt.settings.routes:
            from console.oncall.wiring import OnCall

            self.oncall = OnCall(self)
        # With console routes configured, those tell the consoles (of incidents) instead of every new high alert.
        self._routes_tell_consoles = self.oncall is not None and self.oncall.console_routes

    # --- sessions ---

    def open_session(self, user: str, groups: list[str], *, read_only: bool = False, session: str = "") -> Actor:
        role = role_for(user, groups, self.rt.settings.operators, self.owner)
        label = f"{visible(session or 'console', 30)} {next(self._session_ids)}"
        actor = Actor(user=user, role=role, session=label, read_only=read_only)
        self._sessions[label] = OperatorView(user, actor.effective_role.value, label, time.time())
        log.info("%s attached as %s (%s)", visible(user, 40), actor.effective_role.value, label)
        self.views.attached(len(self._sessions))
        self.changed()
        return actor

    def close_session(self, actor: Actor) -> None:
        if self._sessions.pop(actor.session, None) is not None:
            self.views.attached(len(self._sessions))
            log.info("%s detached (%s)", visible(actor.user, 40), actor.session)
            self.changed()

    # --- pushes ---

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)
        return unsubscribe

    def _publish(self, kind: str, payload: Any) -> None:
        for listener in list(self._listeners):
            try:
                listener(kind, payload)
            except Exception:  # one broken listener must not stop the engine or the others
                log.exception("a listener failed on %s", kind)

    def changed(self, *, by_operator: bool = True) -> None:
        if by_operator:
            self.views.invalidate()  # their own change shows at once, not a quarter second later
        self.version += 1
        self._publish("changed", self.version)

    def _on_alert(self, alert: Alert, change: Change) -> None:
        if change is Change.STATE:
            self.changed()  # triage by someone: every console should see it at its next refresh, at once
        elif change is Change.NEW and alert.severity >= Severity.HIGH and not self._routes_tell_consoles:
            # Told at the next pulse, folded: a wave of ads is one notice to each console, not hundreds.
            if self._high is None:
                self._high = alert
            self._high_count += 1

    def _announce_high(self) -> None:
        first, count = self._high, self._high_count
        if first is None:
            return
        self._high, self._high_count = None, 0
        where = self.engine.group_name(first.group) or "fleet"
        self._publish("notice", NoticeView(first.at, f"{first.kind} in {visible(where, 30)}: "
                                                     f"{visible(first.reason, 70)}", "error", HIGH_ALERT, count))

    def announce(self, text: str, severity: str, bell: bool) -> None:
        """An on-call route's notice for the consoles: told at the next pulse, folded (at most two a second)."""
        if self._told is None:
            self._told = (text, severity, bell)
        elif bell and not self._told[2]:
            self._told = (self._told[0], self._told[1], True)
        self._told_count += 1

    def _announce_oncall(self) -> None:
        told, count = self._told, self._told_count
        if told is None:
            return
        self._told, self._told_count = None, 0
        self._publish("notice", NoticeView(self.engine.now(), told[0], told[1],
                                           HIGH_ALERT_BELL if told[2] else HIGH_ALERT, count))

    def notice(self, text: str, severity: str = "information", actor: str = "") -> None:
        self._publish("notice", NoticeView(self.engine.now(), text, severity, actor))

    async def pulse(self) -> None:
        """While events flow, tell listeners so attached consoles and watchers refresh."""
        while True:
            await asyncio.sleep(PULSE)
            self._announce_high()
            self._announce_oncall()
            if self.engine.events_total != self._seen_events:
                self._seen_events = self.engine.events_total
                self.changed(by_operator=False)

    def start(self) -> None:
        if self._pulse_task is None:
            self._pulse_task = asyncio.get_running_loop().create_task(self.pulse())
        if self.oncall is not None:
            self.oncall.start()

    async def stop(self) -> None:
        if self.oncall is not None:
            await self.oncall.stop()
        if self._pulse_task is not None:
            self._pulse_task.cancel()
            try:
                await self._pulse_task
            except asyncio.CancelledError:
                pass
            self._pulse_task = None

    # --- queries ---

    def header(self, actor: Actor | None = None) -> HeaderView:
        high, medium, low = self.views.counts()
        you = self._sessions.get(actor.session) if actor is not None else None
        return HeaderView(version=self.version, demo=self.rt.is_demo, read_only=self.moderation.read_only,
                          now=self.engine.now(), connectors=self.views.connectors() + self._oncall_health(),
                          events_per_s=self.engine.rate.per_second(time.monotonic()), alerts_high=high,
                          alerts_medium=medium, alerts_low=low, save_error=self.engine.save_error,
                          operators=sorted(self._sessions.values(), key=lambda o: (o.user, o.session)), you=you,
                          refused={} if actor is None else self.refusals(actor),
                          events_total=self.engine.events_total)

    def _oncall_health(self) -> list[ConnectorView]:
        """Failing on-call receivers, as one more entry of the header's health line."""
        problems = self.oncall.problems() if self.oncall is not None else []
        if not problems:
            return []
        label, error = problems[0]
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        return [ConnectorView("on-call", "degraded", f"{error}{more}")]

    def refusals(self, actor: Actor) -> dict[str, str]:
        """The commands ``actor`` may not run, each with :meth:`authorize`'s own line (consoles refuse
        at once with it instead of asking for a confirmation first)."""
        key = (actor.user, actor.role, actor.read_only)
        hit = self._refusals.get(key)
        if hit is None:
            hit = self._refusals[key] = {}
            for name in COMMANDS:
                try:
                    self.authorize(actor, Command(name))
                except Refused as e:
                    hit[name] = str(e)
        return dict(hit)

    async def query(self, actor: Actor, name: str, params: dict | None = None) -> Any:
        if name == "table":  # a filter or sort over a big view runs off the loop
            return await self.views.table_async(dict(params or {}), lambda view, p: self.query_now(actor, view, p))
        return self.query_now(actor, name, params)

    def query_now(self, actor: Actor, name: str, params: dict | None = None) -> Any:
        """The same as :meth:`query`, for callers on the engine's loop that cannot await (a refresh)."""
        params = dict(params or {})
        if name not in QUERIES:
            raise ServiceError(f"unknown view {name!r}")
        v = self.views
        try:
            if name == "header":
                return self.header(actor)
            if name == "groups":
                return v.groups()
            if name == "report":
                return v.report()
            if name == "alerts":
                return v.alerts(_opt_int(params, "limit"))
            if name == "alert":
                return v.alert(_int(params, "id"))
            if name == "alert_changes":
                return v.alert_changes(_int(params, "since"))
            if name == "feed":
                return v.feed_page(bool(params.get("flagged", False)), _opt_str(params, "group"),
                                   _opt_int(params, "limit") or 400)
            if name == "group":
                return v.group(_str(params, "id"))
            if name == "quiet":
                groups = params.get("groups")
                if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
                    raise ServiceError("quiet needs groups: a list of group ids")
                return v.quiet(groups)
            if name == "blacklist":
                return v.blacklist()
            if name == "blacklist_preview":
                return v.blacklist_preview(_str(params, "pattern"))
            if name == "purge_preview":
                from console.service.handlers_purge import members_of, preview

                return preview(self, members_of(params.get("members")))
            if name == "blacklist_export":
                return self.moderation.blacklist.export(_str(params, "format"))
            if name == "schedules":
                return v.schedules()
            if name == "schedule_dry_run":
                return v.schedule_dry_run(_str(params, "id"))
            if name == "audit":
                since = params.get("since")
                if since is not None and (isinstance(since, bool) or not isinstance(since, (int, float))):
                    raise ServiceError("audit since must be a time in seconds")
                return v.audit(since, _opt_int(params, "limit"))
            if name == "connectors":
                return v.connectors()
            if name == "incidents":
                return v.incidents(_opt_int(params, "limit"), bool(params.get("ended", False)))
            if name == "incident":
                return v.incident(_int(params, "id"))
            if name == "silences":
                return v.silences()
            if name == "alert_history":
                return v.alert_history(_opt_int(params, "limit"))
            if name == "table":
                return v.table(params, lambda view, p: self.query_now(actor, view, p))
            if name == "team":
                since = params.get("since")
                if since is not None and (isinstance(since, bool) or not isinstance(since, (int, float))):
                    raise ServiceError("team since must be a time in seconds")
                return v.team(since)
        except ActionError as e:
            raise ServiceError(str(e)) from None
        raise ServiceError(f"unknown view {name!r}")  # listed but not answered: a bug, said plainly

    # --- commands ---

    def authorize(self, actor: Actor, cmd: Command) -> None:
        """The one place a change is allowed or refused."""
        spec = COMMANDS.get(cmd.name)
        if spec is None:
            raise Refused(f"unknown command {visible(str(cmd.name), 40)!r}")
        if self.moderation.read_only:
            raise Refused(f"read-only mode: {spec.what} refused (this service watches only)")
        if actor.read_only:
            raise Refused(f"read-only mode: {spec.what} refused")
        if not allowed(actor.role, spec.role):
            raise Refused(f"{spec.what} refused: {visible(actor.user, 40)} is a {actor.role.value}; "
                          f"it needs {spec.role.value}")

    async def execute(self, actor: Actor, cmd: Command) -> Report:
        try:
            self.authorize(actor, cmd)
        except Refused as e:
            return Report(cmd.name if isinstance(cmd.name, str) else "?", refused=True, message=str(e))
        if not isinstance(cmd.targets, list) or not isinstance(cmd.params, dict):
            return Report(cmd.name, refused=True, message=f"{cmd.name}: targets must be a list and params a table")
        token = ACTING_AS.set(actor.user)
        progress_token = REPORTING_TO.set(self._progress_to(actor, cmd))
        try:
            report = await handlers.run(self, actor, cmd)
        except (ActionError, ReadOnlyError, ServiceError, ValueError, KeyError) as e:
            report = Report(cmd.name, refused=True, message=f"{COMMANDS[cmd.name].what}: {_one_line(e)}")
        except StoreError as e:
            # Recorded before sent: an action that cannot be written is not sent at all.
            report = Report(cmd.name, refused=True,
                            message=f"{COMMANDS[cmd.name].what}: could not save the action record: {_one_line(e)}")
        except Exception as e:  # a bug must cost one command, not the service
            log.exception("command %s failed", cmd.name)
            report = Report(cmd.name, failed=1, total=1,
                            message=f"{COMMANDS[cmd.name].what}: failed: {type(e).__name__}: {_one_line(e)}")
        finally:
            ACTING_AS.reset(token)
            REPORTING_TO.reset(progress_token)
        if not report.refused:
            self.changed()
            if report.total or report.message:
                self.notice(f"{actor.user}: {COMMANDS[cmd.name].what}: {report.summary()}",
                            "error" if report.failed else "information", actor.session)
        return report

    def _progress_to(self, actor: Actor, cmd: Command) -> Callable[[BulkReport], None]:
        """How a bulk action goes ("blacklist 3/12…": actions finished of those started so far, over
        every batch the command runs), told to the console that asked a few times a second at most: a
        notice its console shows on its status line until the result comes; the others ignore it."""
        what = COMMANDS[cmd.name].what if cmd.name in COMMANDS else str(cmd.name)
        batches: dict[int, BulkReport] = {}
        last = [0.0]

        def tell(report: BulkReport) -> None:
            batches[id(report)] = report
            finished = sum(r.finished for r in batches.values())
            total = sum(r.total for r in batches.values())
            now = time.monotonic()
            if total < 2 or now - last[0] < PROGRESS_EVERY:
                return
            last[0] = now
            self._publish("notice", NoticeView(self.engine.now(), f"{what} {finished}/{total}…", "information",
                                               PROGRESS + actor.session))
        return tell


def _one_line(e: BaseException) -> str:
    text = str(e).strip("'\"") if isinstance(e, KeyError) else str(e)
    return visible(" ".join(text.split()), 300)


def _int(params: dict, key: str) -> int:
    v = params.get(key)
    if isinstance(v, bool) or not isinstance(v, int):
        raise ServiceError(f"{key} must be an integer")
    return v


def _opt_int(params: dict, key: str) -> int | None:
    return None if params.get(key) is None else _int(params, key)


def _str(params: dict, key: str) -> str:
    v = params.get(key)
    if not isinstance(v, str):
        raise ServiceError(f"{key} must be a string")
    return v


def _opt_str(params: dict, key: str) -> str | None:
    return None if params.get(key) is None else _str(params, key)
