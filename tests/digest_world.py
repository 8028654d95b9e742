"""A fake-clock world for the on-call digest tests: an engine and its moderation behind a real
Service, with groups named as a test needs (hostile names included)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from connectors.events import Group, Member
from console.engine.cohorts import week_of, week_start
from console.engine.detectors.base import Finding, Severity
from console.engine.engine import Engine
from console.engine.moderation import Moderation
from console.engine.settings import Settings
from console.engine.store import Store
from console.runtime import Runtime
from console.service.api import Actor, Role
from console.service.service import Service
from tests.fakes import ScriptedConnector
from tests.helpers import T0

WEEK1 = week_start(week_of(T0))  # T0 is a Monday 01:00 UTC: week 1 starts at its midnight


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@dataclass
class World:
    clock: Clock
    engine: Engine
    moderation: Moderation
    service: Service
    store: Store
    conn: ScriptedConnector

    def close(self) -> None:
        self.store.close()


def world(tmp_path: Path, groups: dict[str, str] | None = None, members: int = 6,
          settings: Settings | None = None) -> World:
    """An engine and its moderation on a fake clock, behind a real Service; groups named as given."""
    groups = groups or {"fake:g1": "Readers' club"}
    clock = Clock(T0)
    conn = ScriptedConnector("fake", [], [Group(id=g, name=n, platform="fake") for g, n in groups.items()])
    settings = settings or Settings()
    store = Store(tmp_path / "data")
    engine = Engine(settings, [conn], store, clock=clock)
    for gid, gname in groups.items():
        engine.stats.load_group(Group(id=gid, name=gname, platform="fake"), T0)
        engine.stats.load_members(gid, [Member(id=f"{gid}:m{i}", name=f"member {i}") for i in range(members)],
                                  T0, complete=True)
    mod = Moderation(settings, store, engine, actor="owner")
    rt = Runtime(settings, engine, store, tmp_path / "data", tmp_path / "none.toml", None, mod)
    return World(clock, engine, mod, Service(rt, owner="owner"), store, conn)


def actor(user: str) -> Actor:
    return Actor(user, Role.MODERATOR, f"{user}-console")


def alert(w: World, kind: str, group: str, member: str | None, severity=Severity.HIGH) -> int:
    a, _ = w.engine.alerts.apply(Finding(kind, severity, group, member, (f"{kind} seen",), w.clock.t,
                                         message_id="x1" if kind == "ad" else None))
    return a.id
