"""One action pipeline for the UI, the CLI and automation alike.

record (pending, committed) -> rate limiter -> mark sending (committed) ->
connector call -> mark done/failed (committed). The same idempotency key is
never acted on twice; after a crash, an action left in ``sending`` is retried
only where a retry cannot act twice (the platform dedupes sends by key, or the
action is idempotent by nature, like a ban), otherwise marked ``unknown``.
"""
from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Callable

from connectors.contract import Connector, ConnectorError, RateLimited, Unsupported
from connectors.secrets import scrub
from console.engine.actions.ledger import Ledger
from console.engine.actions.model import ACTING_AS, REPORTING_TO, Action, ActionKind, ActionState, BulkReport, ReadOnlyError
from console.engine.actions.ratelimit import RateLimiter

log = logging.getLogger("groupwatch.actions")

MAX_RATE_LIMITED_TRIES = 8
# Safe to repeat: doing them twice has the effect of doing them once.
IDEMPOTENT_KINDS = {ActionKind.BAN, ActionKind.UNBAN, ActionKind.MUTE, ActionKind.DELETE, ActionKind.KICK}

Progress = Callable[[BulkReport], None]


class ActionPipeline:
    def __init__(self, ledger: Ledger, route: Callable[[str], Connector | None], *, read_only: bool = False,
                 limiter: RateLimiter | None = None, actor: str = "operator") -> None:
        self.ledger = ledger
        self.route = route
        self.read_only = read_only
        self.limiter = limiter or RateLimiter()
        self.default_actor = actor
        self._lock = asyncio.Lock()
        self._resent: set[int] = set()  # ids retried by recover() after being cut off mid-send

    @property
    def actor(self) -> str:
        return ACTING_AS.get() or self.default_actor

    async def run(self, actions: list[Action], progress: Progress | None = None) -> BulkReport:
        """Record, then carry out ``actions``; never raises for a platform's refusal, reports it."""
        if self.read_only:
            what = ", ".join(sorted({a.kind.value for a in actions})) or "action"
            raise ReadOnlyError(f"read-only mode: {len(actions)} {what} action(s) refused")
        report = BulkReport(total=len(actions))
        progress = progress or REPORTING_TO.get()
        fresh, again = [], []
        for a in actions:
            a.actor = a.actor or self.actor
            if not a.key:
                a.key = f"{a.origin}:{uuid.uuid4().hex}"
            old = self.ledger.by_key(a.key)
            if old is None:
                fresh.append(a)
            elif old.state in (ActionState.PENDING, ActionState.FAILED):
                again.append(old)
            else:
                report.skipped += 1  # done already (or unknown): a retry never acts twice
        if fresh:
            self.ledger.record(fresh)
        await self._execute(fresh + again, report, progress)
        return report

    async def recover(self) -> BulkReport:
        """After a restart: finish what a crash interrupted, without acting twice."""
        pending = self.ledger.actions(ActionState.PENDING)
        sending = self.ledger.actions(ActionState.SENDING)
        retry = list(pending)
        report = BulkReport(total=len(pending) + len(sending))
        for a in sending:
            conn = self.route(a.group)
            dedupes = a.kind is ActionKind.SEND and conn is not None and conn.idempotent_send
            if a.kind in IDEMPOTENT_KINDS or dedupes:
                retry.append(a)
                self._resent.add(a.id)
            else:
                self.ledger.mark(a, ActionState.UNKNOWN, "interrupted while sending; not resent (may have been sent)")
                report.skipped += 1
        if self.read_only:
            return report
        await self._execute(sorted(retry, key=lambda a: a.id), report, None)
        return report

    async def _execute(self, actions: list[Action], report: BulkReport, progress: Progress | None) -> None:
        by_connector: dict[str, list[Action]] = {}
        for a in actions:
            conn = self.route(a.group)
            if conn is None:
                self.ledger.mark(a, ActionState.FAILED, f"no connector watches {a.group}")
                report.failed += 1
                report.errors.append(f"{a.group}: no connector watches this group")
                continue
            by_connector.setdefault(conn.name, []).append(a)

        async def lane(items: list[Action]) -> None:
            for a in items:
                await self._one(a, report)
                if progress:
                    progress(report)

        # Connectors in parallel, each one's actions in order: one slow platform never holds up another.
        await asyncio.gather(*(lane(items) for items in by_connector.values()))

    async def _one(self, a: Action, report: BulkReport) -> None:
        conn = self.route(a.group)
        assert conn is not None
        for _ in range(MAX_RATE_LIMITED_TRIES):
            await self.limiter.acquire(conn.platform, conn.name, a.group)
            a.attempts += 1
            self.ledger.mark(a, ActionState.SENDING)
            try:
                result = await _call(conn, a)
            except RateLimited as e:
                # Delay, never drop: back to pending, wait as told, go again.
                self.limiter.back_off(conn.name, e.retry_after)
                self.ledger.mark(a, ActionState.PENDING, f"rate limited, retry in {e.retry_after:g} s")
                continue
            except Unsupported as e:
                self.ledger.mark(a, ActionState.REFUSED, str(e))
                report.failed += 1
                report.errors.append(f"{a.kind.value} {a.member or ''} in {a.group}: {e}")
                return
            except ConnectorError as e:
                if a.id in self._resent:
                    # The first attempt may have landed before the crash: a kick retried after it
                    # finds nobody to kick. Neither done nor failed can be said for sure.
                    self.ledger.mark(a, ActionState.UNKNOWN, f"retried after a crash, the platform said: {e}")
                    report.skipped += 1
                    return
                self.ledger.mark(a, ActionState.FAILED, str(e))
                report.failed += 1
                report.errors.append(f"{a.kind.value} {a.member or ''} in {a.group}: {e}")
                return
            except Exception as e:  # a connector bug must not lose the record of what happened
                log.exception("action %s failed", a.id)
                why = scrub(f"{type(e).__name__}: {e}")  # a bug's message may quote a URL with a token
                self.ledger.mark(a, ActionState.FAILED, why)
                report.failed += 1
                report.errors.append(f"{a.kind.value} in {a.group}: {why}")
                return
            self.ledger.mark(a, ActionState.DONE, result)
            report.done += 1
            return
        self.ledger.mark(a, ActionState.FAILED, "still rate limited after several tries")
        report.failed += 1
        report.errors.append(f"{a.kind.value} in {a.group}: still rate limited")


async def _call(conn: Connector, a: Action) -> str:
    if a.kind is ActionKind.SEND:
        r = await conn.send(a.group, a.text or "", a.mentions, idempotency_key=a.key)
        return f"message {r.message_id}"
    if a.kind is ActionKind.KICK:
        await conn.kick(a.group, a.member or "", a.reason)
    elif a.kind is ActionKind.BAN:
        await conn.ban(a.group, a.member or "", a.reason, a.until)
    elif a.kind is ActionKind.UNBAN:
        await conn.unban(a.group, a.member or "")
    elif a.kind is ActionKind.DELETE:
        await conn.delete(a.group, a.message_id or "")
    elif a.kind is ActionKind.MUTE:
        await conn.mute(a.group, a.member or "", int(a.seconds or 0))
    return "ok"
