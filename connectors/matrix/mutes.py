"""Timed mutes through power levels.

Matrix has no mute: a member can post when their power level reaches the
level ``m.room.message`` needs. Muting sets theirs one below it; lifting puts
back what was there. Matrix has no timer either, so each mute's end (and the
level to restore) is kept in the bot account's own account data
(``org.groupwatch.mutes``) on the homeserver: it survives a restart of
groupwatch and a move to another machine, and is lifted by the first poll
after it is due (so a mute that falls due while groupwatch is stopped ends
when it starts again).
"""
from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass
from typing import Any, Awaitable, Callable

from connectors.contract import AuthFailed, ConnectorError, RateLimited, TransientError

from .client import MatrixHTTP, seg
from .power import RoomPower, as_level

log = logging.getLogger("groupwatch.matrix")

ACCOUNT_DATA = "org.groupwatch.mutes"
RETRY_LIFT_S = 30.0


@dataclass(slots=True)
class MuteRecord:
    room: str
    user: str
    until: float
    previous: int | None  # the user's explicit level before the mute; None: they had the room default
    level: int            # the level we set; a different level found later means someone else changed it


def send_level(pl: dict[str, Any]) -> int:
    return RoomPower(pl).event("m.room.message", state=False)


def user_level(pl: dict[str, Any], user: str) -> int:
    return RoomPower(pl).user(user)


class MuteBook:
    def __init__(self, http: MatrixHTTP, whoami: Callable[[], Awaitable[str]],
                 clock: Callable[[], float] = time.time) -> None:
        self.http = http
        self.whoami = whoami
        self.clock = clock
        self.records: dict[tuple[str, str], MuteRecord] | None = None  # None until loaded

    async def _path(self) -> str:
        return f"/user/{seg(await self.whoami())}/account_data/{ACCOUNT_DATA}"

    async def load(self) -> dict[tuple[str, str], MuteRecord]:
        if self.records is None:
            data = await self.http.call("GET", await self._path(), what="reading timed mutes", missing_ok=True)
            records: dict[tuple[str, str], MuteRecord] = {}
            mutes = data.get("mutes") if isinstance(data, dict) else None
            for item in mutes if isinstance(mutes, list) else []:  # a number there would not iterate
                try:
                    r = MuteRecord(room=str(item["room"]), user=str(item["user"]), until=float(item["until"]),
                                   previous=None if item.get("previous") is None else int(item["previous"]),
                                   level=int(item["level"]))
                except (KeyError, TypeError, ValueError, OverflowError):  # OverflowError: int(inf)
                    continue  # a hand-edited entry we cannot use
                if math.isnan(r.until):
                    continue  # never due, yet it would make every poll a poll without waiting
                records[(r.room, r.user)] = r
            self.records = records
        return self.records

    async def _save(self) -> None:
        assert self.records is not None
        await self.http.call("PUT", await self._path(), what="saving timed mutes",
                             body={"v": 1, "mutes": [asdict(r) for r in self.records.values()]})

    def next_due(self) -> float | None:
        if not self.records:
            return None
        return min(r.until for r in self.records.values())

    async def _power_levels(self, room: str) -> dict[str, Any]:
        pl = await self.http.call("GET", f"/rooms/{seg(room)}/state/m.room.power_levels",
                                  what="reading power levels")
        assert pl is not None
        try:
            json.dumps(pl, allow_nan=False)  # it is written back as read: a NaN or Infinity could not be sent
        except ValueError:
            raise self.http.transient("matrix reading power levels: unexpected answer (a level is not a finite "
                                      "number)") from None
        return pl

    async def _put_power_levels(self, room: str, pl: dict[str, Any]) -> None:
        await self.http.call("PUT", f"/rooms/{seg(room)}/state/m.room.power_levels", body=pl,
                             what="changing power levels")

    async def mute(self, room: str, user: str, seconds: int) -> None:
        records = await self.load()
        if seconds == 0:
            await self.unmute(room, user)
            return
        pl = await self._power_levels(room)
        need = send_level(pl)
        users = pl.get("users") if isinstance(pl.get("users"), dict) else {}
        pl["users"] = users
        record = records.get((room, user))
        until = self.clock() + seconds
        if user_level(pl, user) >= need:
            previous = users.get(user)
            users[user] = need - 1
            await self._put_power_levels(room, pl)
            records[(room, user)] = MuteRecord(room, user, until, None if previous is None else as_level(previous, 0),
                                               need - 1)
        elif record is not None:
            record.until = until  # muted by us already: the new length counts from now
        else:
            return  # muted by someone else, with no end we know of: leave it to them
        await self._save()

    async def unmute(self, room: str, user: str) -> None:
        records = await self.load()
        record = records.get((room, user))
        pl = await self._power_levels(room)
        users = pl.get("users") if isinstance(pl.get("users"), dict) else {}
        pl["users"] = users
        if record is not None:
            if as_level(users.get(user), record.level + 1) == record.level:
                if record.previous is None:
                    users.pop(user, None)
                else:
                    users[user] = record.previous
                await self._put_power_levels(room, pl)
            # else someone changed their level since: theirs stands
            records.pop((room, user), None)
            await self._save()
        elif user in users and user_level(pl, user) < send_level(pl) <= as_level(pl.get("users_default", 0), 0):
            users.pop(user)  # muted by hand: back to the room's default, which may post
            await self._put_power_levels(room, pl)

    async def lift_due(self) -> None:
        """Lift every mute whose time has come. A transient failure keeps it for the next poll (events
        must still flow meanwhile); a refusal (no longer allowed) drops it with a warning."""
        records = await self.load()
        now = self.clock()
        for room, user in [k for k, r in records.items() if r.until <= now]:
            try:
                await self.unmute(room, user)
            except AuthFailed:
                raise
            except (TransientError, RateLimited) as e:
                log.info("lifting the mute of %s in %s later: %s", user, room, e)
                # Not saved: only spaces out the tries, so polls do not spin on a due mute.
                records[(room, user)].until = now + RETRY_LIFT_S
                return
            except ConnectorError as e:
                log.warning("could not lift the mute of %s in %s: %s", user, room, e)
                records.pop((room, user), None)
                try:
                    await self._save()
                except ConnectorError:
                    pass  # stays on the server; tried again (and dropped again) after a restart
