"""QQ groups through a OneBot v11 implementation (NapCat, Lagrange, LLOneBot).

Events come from the implementation's forward WebSocket, read by one
background task into an in-memory log that ``poll`` hands out; actions go
through its HTTP API.

Delivery, honestly: OneBot pushes events and keeps none, so whatever happens
while groupwatch is stopped or the socket is down is gone as far as the
protocol goes. Where the implementation has ``get_group_msg_history`` (NapCat;
go-cqhttp and Lagrange have variants) the connector fetches each watched
group's latest messages after a reconnect or a restart and hands over those it
had not seen, cut at the cursor's per-group marks so none is counted twice.
Joins and leaves in such a gap are not recoverable this way.
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import os
import secrets
import time
from collections import OrderedDict
from typing import Any, Mapping, Sequence

import httpx

from connectors.contract import (AuthFailed, Capability, ConnectorError, Health, HealthState, MediaTooLarge,
                                 SendResult, TransientError, Unsupported)
from connectors.events import Batch, Event, Group, Media, Member, Message, qualify, raw_id
from connectors.media import fetch

from . import cq
from .api import ActionFailed, HttpApi, one_line
from .cursor import IDS_KEPT, Cursor, Mark
from .mapping import PLATFORM, Malformed, qid, seconds, to_event
from .options import OneBotOptions, parse_options
from .stream import EventStream, probe_stream

log = logging.getLogger("groupwatch.onebot")

MAX_BATCH = 1000        # events per poll
REPLAY_KEPT = 2000      # events kept after they were handed over, for a poll with an older cursor
MAX_PENDING = 100_000   # events waiting for a poll; beyond, new ones are dropped (and said so)
SEEN_KEPT = 2000        # message ids remembered per group, to drop a message met twice
HISTORY_SLACK = 5.0     # seconds before a gap's start that history is still compared against
HISTORY_CONCURRENCY = 4
NOTE_SECONDS = 3600.0   # how long a one-off trouble (removed from a group, events lost) stays in the health line
ACTION_TROUBLE_SECONDS = 120.0
MAX_MUTE = 30 * 86400   # QQ's longest mute


class OneBotConnector:
    platform = PLATFORM
    capabilities: frozenset[Capability] = frozenset({
        Capability.SEND, Capability.MENTION, Capability.KICK, Capability.BAN, Capability.DELETE,
        Capability.MUTE, Capability.MEMBER_LIST,
    })  # no UNBAN: OneBot v11 cannot lift set_group_kick's reject_add_request
    idempotent_send = False  # OneBot has no idempotency key; repeats are only caught within one process
    max_mentions = 10
    acknowledges_cursor = False
    media_inline = False

    def __init__(self, name: str, options: OneBotOptions, *, transport: httpx.AsyncBaseTransport | None = None,
                 reconnect_min: float = 0.5, reconnect_max: float = 30.0, retry_delay: float = 1.0,
                 ping_interval: float | None = 20.0) -> None:
        self.name = name
        self.options = options
        self._api = HttpApi(options.http_url, options.token, options.timeout, transport)
        self._transport = transport
        self._media_http: httpx.AsyncClient | None = None  # images from the QQ CDN: no token sent there
        self._stream = EventStream(options.ws_url, options.token, self._take_payload, on_open=self._stream_opened,
                                   reconnect_min=reconnect_min, reconnect_max=reconnect_max,
                                   ping_interval=ping_interval)
        self._retry_delay = retry_delay
        self._session = secrets.token_hex(8)
        self._log: list[tuple[int, Event]] = []
        self._seq = 0            # seq of the newest event in the log
        self._delivered = 0      # highest seq handed out by poll
        self._arrived = asyncio.Event()
        self._held: list[Event] | None = None  # live events waiting for a catch-up to go first
        self._catchup: asyncio.Task | None = None  # the newest; each waits for the one before it
        self._catchup_tasks: set[asyncio.Task] = set()
        self._catchups_pending = 0
        self._resume: Cursor | None = None
        self._started = False
        self._watch_start: float | None = None
        self._seen: dict[str, OrderedDict[str, None]] = {}
        self._newest: dict[str, Mark] = {}   # raw group -> newest message put in the log (or in the resumed cursor)
        self._names: dict[tuple[str, str], set[str]] = {}  # (raw group, raw member) -> names seen
        self._display: dict[tuple[str, str], str] = {}     # (raw group, raw member) -> latest card or nickname
        self._allowed = frozenset(options.groups) or None
        self._self_id: str | None = None
        self._history_ok: bool | None = None if options.history else False
        self._notes: dict[str, tuple[float, str]] = {}  # key -> (monotonic expiry, text)
        self._http_auth: str | None = None
        self._http_trouble: tuple[float, str] | None = None
        self._dropped = 0
        self._sent: OrderedDict[str, SendResult] = OrderedDict()
        self._health = Health(HealthState.OK, "not started")

    @classmethod
    def from_settings(cls, name: str, options: dict, *, environ: Mapping[str, str] | None = None,
                      transport: httpx.AsyncBaseTransport | None = None) -> "OneBotConnector":
        return cls(name, parse_options(name, options, environ=environ), transport=transport)

    def __repr__(self) -> str:
        return f"OneBotConnector({self.name!r}, ws={self.options.ws_url!r}, http={self.options.http_url!r})"

    # --- the event stream ---

    async def poll(self, cursor: str | None, timeout: float) -> Batch:
        c = Cursor.parse(cursor)
        if not self._started:
            self._started = True
            if c is not None and c.session != self._session:
                # A previous run's cursor: once the stream is open, fetch what it missed.
                self._resume = c
                self._newest.update(c.marks)
        if not self._stream.running:
            self._stream.start()  # also after a refused token: the operator may have fixed it meanwhile
        pos = c.seq if c is not None and c.session == self._session else 0
        deadline = time.monotonic() + max(0.0, timeout)
        # The engine reads health() after each poll: a change (socket lost, heartbeats stopped) ends
        # the wait, so the console's header shows it now rather than at the end of a long poll.
        state = self._assess()[0]
        while True:
            if self._stream.auth_error:
                raise AuthFailed(self._stream.auth_error)
            if self._seq > pos and self._log or self._assess()[0] is not state:
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), min(remaining, 0.25))
            except TimeoutError:
                pass
        start = max(0, pos - self._log[0][0] + 1) if self._log else 0
        selected = self._log[start:start + MAX_BATCH]  # seqs in the log are consecutive
        events = [ev for _, ev in selected]
        last = selected[-1][0] if selected else pos
        everything = last >= self._seq and self._held is None
        base = c if c is not None else Cursor()
        nxt = base.after(events, self._session, last, self._stream.server_time if everything else None)
        self._delivered = max(self._delivered, last)
        self._trim()
        return Batch(events, nxt.encode())

    def _trim(self) -> None:
        cut = self._delivered - REPLAY_KEPT - (self._log[0][0] - 1) if self._log else 0
        if cut > 0:
            del self._log[:cut]

    def _append(self, ev: Event) -> None:
        if self._seq - self._delivered >= MAX_PENDING:
            self._dropped += 1
            self._note("dropped", f"{self._dropped} events dropped: nothing polled the connector for too long")
            return
        self._seq += 1
        self._log.append((self._seq, ev))
        if type(ev) is Message:
            g = raw_id(ev.group)
            m = self._newest.get(g)
            if m is None or ev.at > m.at:
                self._newest[g] = Mark(ev.at, (ev.id,))
            elif ev.at == m.at and ev.id not in m.ids:
                self._newest[g] = Mark(m.at, (m.ids + (ev.id,))[-IDS_KEPT:])
        self._arrived.set()

    def _first_sight(self, ev: Message) -> bool:
        """True the first time a message id is met in its group (live or from history)."""
        seen = self._seen.setdefault(raw_id(ev.group), OrderedDict())
        if ev.id in seen:
            return False
        seen[ev.id] = None
        if len(seen) > SEEN_KEPT:
            seen.popitem(last=False)
        return True

    def _take_payload(self, payload: dict) -> None:
        """One event from the WebSocket (called by the reader task)."""
        sid = payload.get("self_id")
        if isinstance(sid, int) and not isinstance(sid, bool):
            self._self_id = str(sid)
        group = payload.get("group_id")
        if group is not None and self._allowed is not None and str(group) not in self._allowed:
            return
        if payload.get("post_type") == "notice":
            self._notice_side_effects(payload)
        try:
            ev = to_event(payload, self._display_name)
        except Malformed as e:
            self._stream.malformed += 1
            log.warning("onebot %s: skipped a malformed %s event (%s)", self.name,
                        one_line(payload.get("post_type"), 20), one_line(e, 60))
            return
        if ev is None:
            return
        if type(ev) is Message:
            self._remember_sender(payload)
            if not self._first_sight(ev):
                return
        if self._held is not None:
            self._held.append(ev)
        else:
            self._append(ev)

    def _notice_side_effects(self, p: dict) -> None:
        kind = p.get("notice_type")
        if kind == "group_decrease" and p.get("sub_type") == "kick_me":
            g, op = p.get("group_id"), p.get("operator_id")
            self._note(f"kick_me:{g}", f"the bot account was removed from group qq:{one_line(g, 20)}"
                                        + (f" by qq:{one_line(op, 20)}" if op else ""))
        elif kind == "group_card":
            try:
                key = (qid(p.get("group_id")), qid(p.get("user_id")))
            except Malformed:
                return
            self._learn(*key, p.get("card_new"), None)
        elif kind == "bot_offline":  # NapCat's notice when the QQ session ends
            self._note("offline", "the QQ account went offline (bot_offline)")

    def _display_name(self, g: str, qq: str) -> str | None:
        return self._display.get((g, qq))

    def _learn(self, g: str, qq: str, card: Any, nickname: Any) -> None:
        names = {n for n in (card, nickname) if isinstance(n, str) and n.strip()}
        if names:
            self._names.setdefault((g, qq), set()).update(names)
            self._display[(g, qq)] = card if isinstance(card, str) and card.strip() else nickname

    def _remember_sender(self, p: dict) -> None:
        sender = p.get("sender") if isinstance(p.get("sender"), dict) else {}
        try:
            key = (qid(p.get("group_id")), qid(p.get("user_id")))
        except Malformed:
            return
        self._learn(*key, sender.get("card"), sender.get("nickname"))

    # --- catching up after a gap ---

    def _stream_opened(self, reconnect: bool, gap_since: float | None) -> None:
        """Called by the reader each time the socket opens."""
        now = time.time()
        if self._watch_start is None:
            self._watch_start = now
        if reconnect:
            since = gap_since if gap_since is not None else self._watch_start
            what = "while the event stream was down"
        elif self._resume is not None:
            since = self._resume.at
            self._resume = None
            what = "while groupwatch was stopped"
        else:
            return  # first run: start from now
        if self._history_ok is False:
            self._note("gap", f"events {what} are lost ({self._why_no_history()})")
            return
        self._held = [] if self._held is None else self._held
        self._catchups_pending += 1
        self._catchup = asyncio.create_task(self._catch_up(since, what, self._catchup),
                                            name=f"onebot-catchup:{self.name}")
        self._catchup_tasks.add(self._catchup)
        self._catchup.add_done_callback(self._catchup_tasks.discard)

    def _why_no_history(self) -> str:
        if not self.options.history:
            return "history catch-up is off"
        return "this OneBot implementation has no get_group_msg_history"

    async def _catch_up(self, since: float | None, what: str, previous: asyncio.Task | None) -> None:
        found: list[Message] = []
        try:
            if previous is not None:
                await asyncio.gather(previous, return_exceptions=True)
            groups = await self._watched_groups()
            sem = asyncio.Semaphore(HISTORY_CONCURRENCY)
            lost: list[str] = []

            async def one(g: str) -> None:
                async with sem:
                    found.extend(await self._history(g, since, lost))

            await asyncio.gather(*(one(g) for g in groups))
            if self._history_ok is False:
                self._note("gap", f"events {what} are lost ({self._why_no_history()})")
            elif lost:
                shown = ", ".join(lost[:3]) + (f" and {len(lost) - 3} more" if len(lost) > 3 else "")
                self._note("gap", f"some messages {what} may be lost in {shown}")
            elif not groups:
                self._note("gap", f"events {what} may be lost (no group list to catch up with)")
        except asyncio.CancelledError:
            raise
        except ConnectorError as e:
            self._note("gap", f"events {what} may be lost: catch-up failed: {one_line(e, 100)}")
        except Exception as e:  # never leave live events held behind a broken catch-up
            log.exception("onebot %s: catch-up failed", self.name)
            self._note("gap", f"events {what} may be lost: catch-up failed: {type(e).__name__}")
        finally:
            found.sort(key=lambda m: m.at)  # stable: each group's own order is kept
            for ev in found:
                if self._first_sight(ev):
                    self._append(ev)
            self._catchups_pending -= 1
            if self._catchups_pending == 0 and self._held is not None:
                held, self._held = self._held, None
                for ev in held:
                    self._append(ev)
                self._arrived.set()

    async def _watched_groups(self) -> list[str]:
        if self._allowed is not None:
            return sorted(self._allowed)
        return [raw_id(g.id) for g in await self.groups()]

    async def _history(self, g: str, since: float | None, lost: list[str]) -> list[Message]:
        data: Any = None
        for attempt in range(3):
            try:
                data = await self._call("get_group_msg_history",
                                        {"group_id": int(g), "message_seq": 0, "count": self.options.history_count})
                break
            except Unsupported:
                self._history_ok = False
                return []
            except (TransientError, ActionFailed) as e:
                if attempt == 2 or isinstance(e, ActionFailed):
                    lost.append(f"qq:{g} ({one_line(e, 60)})")
                    return []
                await asyncio.sleep(self._retry_delay * (attempt + 1))
        self._history_ok = True
        messages = data.get("messages") if isinstance(data, dict) else None
        if not isinstance(messages, list):
            lost.append(f"qq:{g} (history answer without messages)")
            return []
        mark = self._newest.get(g)
        out: list[Message] = []
        older_seen = False
        for p in messages:
            if not isinstance(p, dict):
                continue
            try:
                ev = to_event({**p, "post_type": p.get("post_type", "message"),
                           "message_type": p.get("message_type", "group"), "group_id": p.get("group_id", g)},
                          self._display_name)
            except Malformed:
                continue
            if type(ev) is not Message or raw_id(ev.group) != g:
                continue
            if mark is not None:
                if mark.covers(ev.at, ev.id):
                    older_seen = True
                    continue
            elif since is None or ev.at < since - HISTORY_SLACK:
                older_seen = True
                continue
            self._remember_sender(p)
            out.append(ev)
        if out and not older_seen and len(messages) >= self.options.history_count:
            # Every message fetched is new: the gap may hold more than we asked for.
            lost.append(f"qq:{g} (more than {self.options.history_count} messages)")
        return out

    # --- health ---

    def _note(self, key: str, text: str) -> None:
        self._notes[key] = (time.monotonic() + NOTE_SECONDS, text)
        log.warning("onebot %s: %s", self.name, text)

    def health(self) -> Health:
        state, reason = self._assess()
        if state != self._health.state or reason != self._health.reason:
            since = self._health.since if state == self._health.state else time.time()
            self._health = Health(state, reason, since)
        return self._health

    def _assess(self) -> tuple[HealthState, str]:
        s = self._stream
        if s.auth_error:
            return HealthState.DOWN, s.auth_error
        if self._http_auth:
            return HealthState.DOWN, self._http_auth
        if not s.connected and s.error:
            state = HealthState.DOWN if s.failures >= 5 else HealthState.DEGRADED
            return state, f"{s.error}; reconnecting"
        now = time.monotonic()
        if self._http_trouble is not None and self._http_trouble[0] > now:
            return HealthState.DEGRADED, self._http_trouble[1]
        if not s.connected:
            return (HealthState.OK, "not started") if not self._started else (HealthState.DEGRADED, "connecting")
        if s.disabled:
            return HealthState.DEGRADED, "the OneBot implementation reported itself disabled (lifecycle disable)"
        overdue = s.heartbeat_overdue()
        if overdue is not None:
            return HealthState.DEGRADED, (f"no heartbeat for {overdue:.0f} s (expected every "
                                          f"{s.heartbeat_interval:g} s): the implementation may be stuck")
        if s.online is False:
            return HealthState.DEGRADED, "the QQ account is offline (per the heartbeat)"
        if self._held is not None:
            return HealthState.DEGRADED, "catching up on missed messages"
        notes = [(until, text) for until, text in self._notes.values() if until > now]
        if notes:
            return HealthState.DEGRADED, max(notes)[1]
        extra = "; no history API: outages lose events" if self._history_ok is False else ""
        return HealthState.OK, "connected" + extra

    # --- HTTP actions ---

    async def _call(self, action: str, params: dict | None = None) -> Any:
        try:
            data = await self._api.call(action, params)
        except AuthFailed as e:
            self._http_auth = str(e)
            raise
        except TransientError as e:
            self._http_trouble = (time.monotonic() + ACTION_TROUBLE_SECONDS, str(e))
            raise
        self._http_auth = None
        if self._http_trouble is not None:
            self._http_trouble = None
        return data

    async def probe(self) -> list[str]:
        def _cut(name: str, limit: int = 40) -> str:
            return name if len(name) <= limit else name[: limit - 1] + "…"

        lines: list[str] = []
        info = await self._call("get_login_info")
        if not isinstance(info, dict) or "user_id" not in info:
            raise TransientError("get_login_info: unexpected answer")
        self._self_id = str(info["user_id"])
        nick = one_line(info.get("nickname") or "", 40)
        lines.append(f"logged in as {nick} (qq:{self._self_id})" if nick else f"logged in as qq:{self._self_id}")
        groups = await self.groups()
        # names as QQ has them (config check shows control characters as the console does), with the
        # number to put in ``groups = [...]``
        shown = ", ".join(f"{_cut(g.name)} ({raw_id(g.id)}, {g.member_count} members)" if g.member_count is not None
                          else f"{_cut(g.name)} ({raw_id(g.id)})" for g in groups[:5])
        more = f", and {len(groups) - 5} more" if len(groups) > 5 else ""
        lines.append(f"{len(groups)} groups" + (f": {shown}{more}" if groups else ""))
        if groups and self._allowed is None:
            lines.append("to watch only some, in [[connector]]: groups = [" + ", ".join(raw_id(g.id) for g in groups)
                         + "]")
        if self._allowed is not None:
            present = {raw_id(g.id) for g in groups}
            absent = sorted(self._allowed - present)
            if absent:
                lines.append("not a member of " + ", ".join(f"qq:{g}" for g in absent) + " (listed in groups)")
        lines.append(await probe_stream(self.options.ws_url, self.options.token, min(self.options.timeout, 5.0)))
        if self.options.history and groups:
            try:
                await self._call("get_group_msg_history",
                                 {"group_id": int(raw_id(groups[0].id)), "message_seq": 0, "count": 1})
                self._history_ok = True
                lines.append("history catch-up available (get_group_msg_history): "
                             "gaps in the event stream are filled from it")
            except Unsupported:
                self._history_ok = False
                lines.append("no get_group_msg_history: events during outages and restarts are lost")
            except ActionFailed as e:
                lines.append(f"history catch-up may not work: {one_line(e, 100)}")
        elif not self.options.history:
            lines.append("history catch-up is off: events during outages and restarts are lost")
        return lines

    async def groups(self) -> list[Group]:
        data = await self._call("get_group_list")
        if not isinstance(data, list):
            raise TransientError("get_group_list: unexpected answer (not a list)")
        out: list[Group] = []
        for item in data:
            if not isinstance(item, dict):
                raise TransientError("get_group_list: unexpected answer (an item is not an object)")
            try:
                g = qid(item.get("group_id"))
            except Malformed:
                raise TransientError("get_group_list: an item has no usable group_id") from None
            if self._allowed is not None and g not in self._allowed:
                continue
            name = item.get("group_name")
            count = item.get("member_count")
            out.append(Group(id=qualify(PLATFORM, g), name=name if isinstance(name, str) and name else g,
                             platform=PLATFORM,
                             member_count=count if isinstance(count, int) and not isinstance(count, bool)
                             and count >= 0 else None))
        return out

    async def members(self, group_id: str) -> list[Member]:
        g = self._group(group_id)
        data = await self._call("get_group_member_list", {"group_id": int(g)})
        if not isinstance(data, list):
            raise TransientError("get_group_member_list: unexpected answer (not a list)")
        out: list[Member] = []
        for item in data:
            if not isinstance(item, dict):
                raise TransientError("get_group_member_list: unexpected answer (an item is not an object)")
            try:
                uid = qid(item.get("user_id"))
            except Malformed:
                raise TransientError("get_group_member_list: an item has no usable user_id") from None
            card, nick = item.get("card"), item.get("nickname")
            self._learn(g, uid, card, nick)
            name = card if isinstance(card, str) and card.strip() else nick if isinstance(nick, str) and nick else uid
            out.append(Member(id=qualify(PLATFORM, uid), name=name, joined_at=_stamp(item.get("join_time")),
                              last_message_at=_stamp(item.get("last_sent_time")),
                              is_admin=item.get("role") in ("owner", "admin"),
                              is_bot=uid == self._self_id or item.get("is_robot") is True))
        return out

    async def send(self, group_id: str, text: str, mentions: Sequence[str] = (),
                   idempotency_key: str | None = None) -> SendResult:
        if idempotency_key is not None and idempotency_key in self._sent:
            return self._sent[idempotency_key]
        g = self._group(group_id)
        wanted = [(self._member(m), m) for m in mentions]
        segments, missing = cq.with_mentions(text, [(qq, self._names_of(g, qq)) for qq, _ in wanted])
        if missing:
            # Names we have not met (a member who never spoke since we started): ask for them once.
            for qq in missing:
                await self._learn_name(g, qq)
            segments, _ = cq.with_mentions(text, [(qq, self._names_of(g, qq)) for qq, _ in wanted])
        if not any(s["type"] != "text" or s["data"]["text"].strip() for s in segments):
            raise ConnectorError("send_group_msg: refusing to send an empty message")
        message: Any = cq.to_string(segments) if self.options.send_format == "string" else segments
        params: dict[str, Any] = {"group_id": int(g), "message": message}
        if self.options.send_format == "string":
            params["auto_escape"] = False  # our own [CQ:at] must work; the text is escaped above
        data = await self._call("send_group_msg", params)
        mid = data.get("message_id") if isinstance(data, dict) else None
        result = SendResult(str(mid) if mid is not None else "")
        if idempotency_key is not None:
            self._sent[idempotency_key] = result
            if len(self._sent) > 10_000:
                self._sent.popitem(last=False)
        return result

    def _names_of(self, g: str, qq: str) -> set[str]:
        return self._names.get((g, qq), set()) | {qq}

    async def _learn_name(self, g: str, qq: str) -> None:
        try:
            info = await self._call("get_group_member_info", {"group_id": int(g), "user_id": int(qq)})
        except (ActionFailed, Unsupported):
            return
        if isinstance(info, dict):
            self._learn(g, qq, info.get("card"), info.get("nickname"))

    async def kick(self, group_id: str, member_id: str, reason: str = "") -> None:
        await self._call("set_group_kick", {"group_id": int(self._group(group_id)),
                                            "user_id": int(self._member(member_id)), "reject_add_request": False})

    async def ban(self, group_id: str, member_id: str, reason: str = "", until: float | None = None) -> None:
        """Kick with ``reject_add_request``: QQ then refuses the member's future join requests.

        OneBot v11 has no timed ban and no way to lift this refusal. A ban with
        ``until`` is therefore a plain kick: groupwatch's blacklist removes the
        member again if they rejoin before ``until``, and lets them stay after.
        """
        g, qq = self._group(group_id), self._member(member_id)
        try:
            await self._call("get_group_member_info", {"group_id": int(g), "user_id": int(qq), "no_cache": True})
        except ActionFailed as e:
            raise Unsupported(f"{member_id} is not in {group_id} ({one_line(e, 80)}); OneBot v11 can only refuse "
                              "the future join requests of a member it removes, so groupwatch will remove "
                              "them if they join") from None
        await self._call("set_group_kick", {"group_id": int(g), "user_id": int(qq),
                                            "reject_add_request": until is None})

    async def unban(self, group_id: str, member_id: str) -> None:
        raise Unsupported("OneBot v11 cannot lift a ban (set_group_kick with reject_add_request); "
                          "remove the member from the group's blocked list in the QQ client")

    async def delete(self, group_id: str, message_id: str) -> None:
        self._group(group_id)
        try:
            mid = int(str(message_id).strip())
        except ValueError:
            raise ConnectorError(f"delete_msg: {one_line(message_id, 40)!r} is not a OneBot message id") from None
        await self._call("delete_msg", {"message_id": mid})

    async def mute(self, group_id: str, member_id: str, seconds: int) -> None:
        if seconds < 0:
            raise ConnectorError("set_group_ban: mute seconds must not be negative")
        if seconds > MAX_MUTE:
            raise ConnectorError(f"set_group_ban: QQ mutes last at most 30 days, not {seconds} s")
        await self._call("set_group_ban", {"group_id": int(self._group(group_id)),
                                           "user_id": int(self._member(member_id)), "duration": int(seconds)})

    @staticmethod
    def _group(group_id: str) -> str:
        if not group_id.startswith(PLATFORM + ":") or not raw_id(group_id).isdigit():
            raise ConnectorError(f"{one_line(group_id, 60)!r} is not a QQ group id (like qq:123456)")
        return raw_id(group_id)

    @staticmethod
    def _member(member_id: str) -> str:
        if not member_id.startswith(PLATFORM + ":") or not raw_id(member_id).isdigit():
            raise ConnectorError(f"{one_line(member_id, 60)!r} is not a QQ member id (like qq:123456)")
        return raw_id(member_id)

    async def media(self, group_id: str, media: Media, max_bytes: int) -> bytes:
        """An image by its segment's URL, else by ``get_image`` (a URL, base64, or a file on this machine)."""
        url = media.url
        if url is None:
            data = await self._call("get_image", {"file": media.ref})
            if not isinstance(data, dict):
                raise ConnectorError("qq get_image: no image in the answer")
            size = data.get("file_size", data.get("size"))
            if isinstance(size, (int, str)) and str(size).isdigit() and len(str(size)) < 16 and int(size) > max_bytes:
                raise MediaTooLarge(f"qq image: {int(size)} bytes is over the {max_bytes} byte limit")
            b64, u, path = data.get("base64"), data.get("url"), data.get("file")
            if isinstance(u, str) and u.startswith(("http://", "https://")):
                url = u
            elif isinstance(b64, str) and b64:
                if len(b64) * 3 // 4 > max_bytes + 3:
                    raise MediaTooLarge(f"qq image: over the {max_bytes} byte limit")
                try:
                    return base64.b64decode(b64.removeprefix("base64://"), validate=False)
                except (binascii.Error, ValueError):
                    raise ConnectorError("qq get_image: damaged base64") from None
            elif isinstance(path, str) and os.path.isabs(path):
                return await asyncio.to_thread(_read_local, path, max_bytes)
            else:
                raise ConnectorError("qq get_image: no url, base64 or file in the answer")
        if self._media_http is None:
            self._media_http = httpx.AsyncClient(transport=self._transport, follow_redirects=True,
                                                 headers={"User-Agent": "groupwatch"},
                                                 timeout=httpx.Timeout(30.0, connect=10.0))
        return await fetch(self._media_http, url, max_bytes, what="qq image")

    async def close(self) -> None:
        if self._media_http is not None:
            await self._media_http.aclose()
        await self._stream.stop()  # first, so that no new catch-up starts
        tasks, self._catchup = list(self._catchup_tasks), None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._api.close()


def _read_local(path: str, max_bytes: int) -> bytes:
    """An image the OneBot implementation cached on this machine (its get_image gives a path)."""
    try:
        with open(path, "rb") as f:
            data = f.read(max_bytes + 1)
    except OSError as e:
        raise ConnectorError(f"qq image: cannot read the cached file ({e.strerror or type(e).__name__})") from None
    if len(data) > max_bytes:
        raise MediaTooLarge(f"qq image: over the {max_bytes} byte limit")
    return data


def _stamp(value: Any) -> float | None:
    """A OneBot time field (seconds; 0 when unknown) as a POSIX time or None."""
    t = seconds(value)  # finite or None: NaN, Infinity and 400-digit integers are no time
    return t if t is not None and t > 0 else None
