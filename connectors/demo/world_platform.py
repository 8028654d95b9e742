"""The simulated platform's side of operator actions: calls checked and recorded at once, carried
out at the start of the next tick; and the snapshots a connector reads (part of World)."""
from __future__ import annotations

from typing import Any

from connectors.contract import ConnectorError
from connectors.events import Ban, Event, Group, Leave, Member, MessageDeleted

from .model import DAY, MINUTE, OPERATOR_ID, GroupState, Handler, Person


class PlatformCalls:
    """World's platform API: see connectors.demo.world.World."""


    def group(self, group_id: str) -> GroupState:
        g = self.by_id.get(group_id)
        if g is None:
            raise ConnectorError(f"unknown group {group_id!r}")
        return g

    def _person(self, member_id: str) -> Person:
        if member_id == OPERATOR_ID:
            raise ConnectorError("that is the operator's own account")
        p = self.people.get(member_id)
        if p is None:
            raise ConnectorError(f"unknown member {member_id!r}")
        return p

    def _seated(self, g: GroupState, member_id: str) -> Person:
        p = self._person(member_id)
        if member_id not in g.seats:
            raise ConnectorError(f"{member_id!r} is not a member of {g.id!r}")
        return p

    def _record(self, action: str, group: str, repeat: bool = False, **extra: Any) -> None:
        """Keep what the platform received. ``repeat`` marks a call that changed nothing (a ban of
        someone already banned): a platform answers it with success, and a check for "acted twice"
        must tell it apart from a second effect."""
        rec: dict[str, Any] = {"action": action, "group": group, "member": None, "text": None, "mentions": [],
                               "key": None, "tick": self.tick, "repeat": repeat}
        rec.update(extra)
        self.received.append(rec)
        if self.on_record is not None:
            self.on_record(rec)

    def _is_pending(self, fn: Handler, g: GroupState, target: str) -> bool:
        return (fn.__name__, g.id, target) in self._pending_on

    def _queue(self, fn: Handler, g: GroupState, target: str, *rest: Any) -> None:
        self._pending.append((fn, g, target, *rest))
        self._pending_on.add((fn.__name__, g.id, target))

    def send(self, group_id: str, text: str, mentions: tuple[str, ...], key: str | None) -> str:
        g = self.group(group_id)
        for m in mentions:
            if m != OPERATOR_ID and m not in self.people:
                raise ConnectorError(f"unknown member {m!r}")
        mid = self._message_id(g)
        self._pending.append((self._do_send, g, text, mentions, mid))
        self._record("send", g.id, text=text, mentions=list(mentions), key=key, message=mid)
        return mid

    def kick(self, group_id: str, member_id: str, reason: str) -> None:
        g = self.group(group_id)
        self._seated(g, member_id)
        repeat = self._is_pending(self._do_kick, g, member_id)
        if not repeat:
            self._queue(self._do_kick, g, member_id)
        self._record("kick", g.id, repeat, member=member_id, reason=reason)

    def ban(self, group_id: str, member_id: str, reason: str, until: float | None) -> None:
        g = self.group(group_id)
        self._person(member_id)  # banning someone not (yet) in the group is how a blacklist works
        repeat = (member_id in g.banned and g.banned[member_id] == until and member_id not in g.seats) \
            or self._is_pending(self._do_ban, g, member_id)
        if not repeat:
            self._queue(self._do_ban, g, member_id, until)
        self._record("ban", g.id, repeat, member=member_id, reason=reason, until=until)

    def unban(self, group_id: str, member_id: str) -> None:
        g = self.group(group_id)
        self._person(member_id)
        repeat = (member_id not in g.banned and not self._is_pending(self._do_ban, g, member_id)) \
            or self._is_pending(self._do_unban, g, member_id)
        if not repeat:
            self._queue(self._do_unban, g, member_id)
        self._record("unban", g.id, repeat, member=member_id)

    def delete(self, group_id: str, message_id: str) -> None:
        g = self.group(group_id)
        if self.message_group(message_id) != g.id:
            raise ConnectorError(f"unknown message {message_id!r} in {g.id!r}")
        repeat = message_id in self._deleted or self._is_pending(self._do_delete, g, message_id)
        if not repeat:
            self._queue(self._do_delete, g, message_id)
        self._record("delete", g.id, repeat, message=message_id)

    def mute(self, group_id: str, member_id: str, seconds: int) -> None:
        g = self.group(group_id)
        self._seated(g, member_id)
        repeat = self._is_pending(self._do_mute, g, member_id)
        if not repeat:
            self._queue(self._do_mute, g, member_id, seconds)
        self._record("mute", g.id, repeat, member=member_id, seconds=seconds)

    def _apply_actions(self, t0: float, out: list[Event]) -> None:
        pending, self._pending = self._pending, []
        self._pending_on.clear()
        for k, (fn, *args) in enumerate(pending):
            fn(t0 + 0.001 * (k + 1), out, *args)

    def _do_send(self, at: float, out: list[Event], g: GroupState, text: str, mentions: tuple[str, ...],
                 mid: str) -> None:
        seat = g.seats[OPERATOR_ID]
        self._post(g, seat, text, at, out, mentions=tuple(mentions), mid=mid)
        rng = self.rng
        for m in mentions:
            s = g.seats.get(m)
            if s is None or s.person.team >= 0:
                continue
            lurker = s.weight == 0 or s.last_message_at is None or s.last_message_at < at - 14 * DAY
            if rng.random() < (0.3 if lurker else 0.7):
                self._at(at + rng.uniform(1.0, 30.0) * MINUTE, self._reply, g, m, mid)

    def _do_kick(self, at: float, out: list[Event], g: GroupState, pid: str) -> None:
        seat = self._remove(g, pid)
        if seat is None:
            return
        out.append(Leave(g.id, pid, at, kicked_by=OPERATOR_ID))
        if seat.person.team >= 0:
            self._team_reacts(g, seat.person, at)

    def _do_ban(self, at: float, out: list[Event], g: GroupState, pid: str, until: float | None) -> None:
        g.banned[pid] = until
        seat = self._remove(g, pid)
        out.append(Ban(g.id, pid, at, by=OPERATOR_ID))
        if seat is not None and seat.person.team >= 0:
            self._team_reacts(g, seat.person, at)

    def _do_unban(self, at: float, out: list[Event], g: GroupState, pid: str) -> None:
        g.banned.pop(pid, None)

    def _do_delete(self, at: float, out: list[Event], g: GroupState, mid: str) -> None:
        if mid in self._deleted:
            return
        self._deleted.add(mid)
        out.append(MessageDeleted(g.id, mid, at, by=OPERATOR_ID))

    def _do_mute(self, at: float, out: list[Event], g: GroupState, pid: str, seconds: int) -> None:
        seat = g.seats.get(pid)
        if seat is not None:
            seat.muted_until = at + seconds

    # --- snapshots ----------------------------------------------------------

    def group_list(self) -> list[Group]:
        return [Group(g.id, g.name, "demo", len(g.seats), g.tags) for g in self.groups]

    def member_list(self, group_id: str) -> list[Member]:
        g = self.group(group_id)
        return [Member(s.person.id, s.person.name, s.joined_at, s.last_message_at, s.admin, False)
                for s in g.seats.values()]
