"""What an action is, and the states it goes through in the ledger."""
from __future__ import annotations

import enum
from contextvars import ContextVar
from typing import Callable
from dataclasses import asdict, dataclass, field

ACTING_AS: ContextVar[str | None] = ContextVar("acting_as", default=None)
# Who hears how a batch is going (the service tells the console that asked): called with each
# batch's report as its actions finish, when the caller gave no progress callback of its own.
REPORTING_TO: ContextVar["Callable[[BulkReport], None] | None"] = ContextVar("reporting_to", default=None)
"""The operator a command runs for. The service sets it per command (each connection's requests run
in their own task, so two moderators' commands never see each other's name); unset, the engine's
own operator name applies."""


class ActionKind(enum.StrEnum):
    SEND = "send"
    KICK = "kick"
    BAN = "ban"
    UNBAN = "unban"
    DELETE = "delete"
    MUTE = "mute"


class ActionState(enum.StrEnum):
    PENDING = "pending"   # recorded, not yet handed to the connector
    SENDING = "sending"   # handed over; a crash here leaves the outcome unknown
    DONE = "done"
    FAILED = "failed"
    UNKNOWN = "unknown"   # found in SENDING after a crash, platform has no idempotency: never resent blindly
    REFUSED = "refused"   # read-only mode, or the platform cannot do it


class ReadOnlyError(Exception):
    """The console runs read-only: every action is refused."""


class ActionError(Exception):
    """A user-facing, one-line reason an action cannot be taken."""


@dataclass(slots=True)
class Action:
    kind: ActionKind
    group: str
    member: str | None = None
    text: str | None = None
    mentions: tuple[str, ...] = ()
    message_id: str | None = None
    seconds: int | None = None  # mute length
    until: float | None = None  # ban expiry
    reason: str = ""
    origin: str = "manual"      # "blacklist", "warn", "mention", "schedule:<id>", "welcome", "cleanup", ...
    actor: str = ""             # operator name, or "auto:<rule>"
    key: str = ""               # idempotency key: the same key is never acted on twice
    # filled in by the pipeline
    id: int = 0
    state: ActionState = ActionState.PENDING
    created_at: float = 0.0
    finished_at: float | None = None
    result: str = ""
    attempts: int = 0

    @property
    def connector_platform(self) -> str:
        return self.group.split(":", 1)[0]

    def to_doc(self) -> dict:
        d = asdict(self)
        d["kind"], d["state"], d["mentions"] = self.kind.value, self.state.value, list(self.mentions)
        return d

    @classmethod
    def from_doc(cls, d: dict) -> "Action":
        d = {k: v for k, v in d.items() if k != "_key"}
        d["kind"], d["state"], d["mentions"] = ActionKind(d["kind"]), ActionState(d["state"]), tuple(d["mentions"])
        return cls(**d)


@dataclass(slots=True)
class BulkReport:
    """How a batch of actions went: progress for the UI, partial failure for the operator."""

    total: int
    done: int = 0
    failed: int = 0
    skipped: int = 0  # already done under the same key, or outcome unknown after a crash
    errors: list[str] = field(default_factory=list)

    def merge(self, other: "BulkReport") -> None:
        self.total += other.total
        self.done += other.done
        self.failed += other.failed
        self.skipped += other.skipped
        self.errors += other.errors

    @property
    def finished(self) -> int:
        return self.done + self.failed + self.skipped

    def summary(self) -> str:
        return counts_text(self.done, self.total, self.failed, self.skipped)


def counts_text(done: int, total: int, failed: int, skipped: int) -> str:
    """'8/9 done, 1 failed': how a batch went, the one wording for every report."""
    s = f"{done}/{total} done"
    if failed:
        s += f", {failed} failed"
    if skipped:
        s += f", {skipped} skipped"
    return s
