"""The event stream: one background reader on the implementation's forward WebSocket.

NapCat, Lagrange and LLOneBot all serve OneBot v11's forward WebSocket; the
event path is ``/event`` in the standard (``/`` also carries events in NapCat
and Lagrange). The reader reconnects by itself with backoff and jitter and
keeps what the health report needs: connected or not and why, and when the
last heartbeat came.
"""
from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from typing import Callable

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from connectors.contract import AuthFailed, TransientError
from connectors.secrets import Secret, without

from .api import one_line
from .mapping import seconds

log = logging.getLogger("groupwatch.onebot")


class _NoAuthorization(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "authorization" not in record.getMessage().lower()


# websockets logs every handshake header at DEBUG, the Authorization header with its token
# included: its records go through a logger of ours that never shows debug or that header.
_ws_log = logging.getLogger("groupwatch.onebot.websocket")
_ws_log.setLevel(logging.INFO)
_ws_log.addFilter(_NoAuthorization())

HEARTBEAT_SLACK = 2.5     # heartbeats missed (as multiples of their interval) before we say so
STABLE_AFTER = 10.0       # seconds connected after which the next drop starts the backoff afresh
MAX_FRAME = 16 * 1024 * 1024  # NapCat sends whole forwarded chats in one frame


class _Refused(Exception):
    """The implementation accepted the socket, then refused the token in a frame (NapCat does this)."""


class EventStream:
    def __init__(self, url: str, token: Secret | None, on_payload: Callable[[dict], None], *,
                 on_open: Callable[[bool, float | None], None] | None = None,
                 reconnect_min: float = 0.5, reconnect_max: float = 30.0, open_timeout: float = 10.0,
                 ping_interval: float | None = 20.0, rng: random.Random | None = None) -> None:
        self.url = url
        self._token = token
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._on_payload = on_payload
        self._on_open = on_open
        self.reconnect_min, self.reconnect_max = reconnect_min, reconnect_max
        self.open_timeout, self.ping_interval = open_timeout, ping_interval
        self._rng = rng or random.Random()
        self._task: asyncio.Task | None = None
        self._opened = asyncio.Event()
        self.connected = False
        self.connects = 0                      # successful openings so far
        self.failures = 0                      # failed attempts since the last good connection
        self.error: str | None = None          # why we are not connected (None while connected)
        self.auth_error: str | None = None     # the token was refused: the reader has stopped
        self.retry_at: float | None = None     # monotonic time of the next attempt
        self.down_since: float | None = time.monotonic()
        self.server_time: float | None = None  # the ``time`` of the newest frame (the implementation's clock)
        self.heartbeat_at: float | None = None  # monotonic
        self.heartbeat_interval: float | None = None  # seconds, as the heartbeats announce it
        self.online: bool | None = None        # the QQ account's state, per the last heartbeat
        self.disabled = False                  # lifecycle "disable": the implementation turned OneBot off
        self.malformed = 0

    # --- control ---

    def start(self) -> None:
        if self._task is None or self._task.done():
            self.auth_error = None
            self._task = asyncio.create_task(self._run(), name=f"onebot-stream:{self.url}")

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def wait_open(self, timeout: float) -> bool:
        if self.connected:
            return True
        try:
            await asyncio.wait_for(self._opened.wait(), timeout)
        except TimeoutError:
            return False
        return self.connected

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self.connected = False

    def heartbeat_overdue(self) -> float | None:
        """Seconds since the last heartbeat when more than a few intervals have passed, else None."""
        if not self.connected or self.heartbeat_at is None or not self.heartbeat_interval:
            return None
        quiet = time.monotonic() - self.heartbeat_at
        return quiet if quiet > HEARTBEAT_SLACK * self.heartbeat_interval else None

    # --- the reader ---

    async def _run(self) -> None:
        attempt = 0
        while True:
            opened_at: float | None = None
            try:
                async with connect(self.url, additional_headers=self._headers, open_timeout=self.open_timeout,
                                   ping_interval=self.ping_interval, ping_timeout=self.ping_interval,
                                   close_timeout=2.0, max_size=MAX_FRAME, user_agent_header="groupwatch",
                                   logger=_ws_log) as ws:
                    opened_at = time.monotonic()
                    reconnect = self.connects > 0
                    gap_since = self.server_time
                    self.connected, self.error, self.retry_at, self.down_since = True, None, None, None
                    self.failures = 0
                    self.connects += 1
                    self.heartbeat_at = None
                    self._opened.set()
                    if self._on_open is not None:
                        self._on_open(reconnect, gap_since)
                    async for frame in ws:
                        self._frame(frame)
                    reason = "the implementation closed the event stream"
            except asyncio.CancelledError:
                self.connected = False
                raise
            except InvalidStatus as e:
                code = e.response.status_code
                if code in (401, 403):
                    self._stop_for_auth(f"event stream {self.url}: access token refused (HTTP {code})")
                    return
                reason = f"HTTP {code} instead of a WebSocket (is ws_url the forward WebSocket address?)"
            except _Refused:
                self._stop_for_auth(f"event stream {self.url}: access token refused")
                return
            except ConnectionClosed as e:
                reason = f"connection dropped ({_close_reason(e, self._token)})"
            except (OSError, TimeoutError, WebSocketException) as e:
                reason = _reason(e)
            self.connected = False
            self._opened.clear()
            self.error = f"event stream {self.url}: {reason}"
            if self.down_since is None:
                self.down_since = time.monotonic()
            if opened_at is not None and time.monotonic() - opened_at >= STABLE_AFTER:
                attempt = 0
            self.failures += 1
            delay = min(self.reconnect_max, self.reconnect_min * 2 ** attempt) * (0.5 + self._rng.random())
            attempt = min(attempt + 1, 30)
            self.retry_at = time.monotonic() + delay
            log.warning("onebot %s; retrying in %.1f s", self.error, delay)
            await asyncio.sleep(delay)

    def _stop_for_auth(self, reason: str) -> None:
        self.connected = False
        self.auth_error = self.error = reason
        self._opened.set()  # wake anyone waiting for the opening: it will not come
        if self.down_since is None:
            self.down_since = time.monotonic()

    def _frame(self, frame: str | bytes) -> None:
        try:
            payload = json.loads(frame)
        except (ValueError, RecursionError):  # RecursionError: arrays nested past the limit; would end the reader
            self.malformed += 1
            return
        if not isinstance(payload, dict):
            self.malformed += 1
            return
        t = seconds(payload.get("time"))  # finite or None: an inf would stick here for good
        if t is not None:
            self.server_time = t if self.server_time is None else max(self.server_time, t)
        post = payload.get("post_type")
        if post is None:
            # Not an event: an action's answer on a universal socket, or NapCat refusing the token.
            if payload.get("retcode") == 1403 or payload.get("retcode") in (401, 403):
                raise _Refused()
            return
        if post == "meta_event":
            self._meta(payload)
            return
        try:
            self._on_payload(payload)
        except Exception:  # a bug in mapping one event must not kill the stream
            self.malformed += 1
            log.exception("onebot: cannot take in a %s event", one_line(post, 40))

    def _meta(self, p: dict) -> None:
        kind = p.get("meta_event_type")
        if kind == "heartbeat":
            self.heartbeat_at = time.monotonic()
            interval = seconds(p.get("interval"))
            if interval is not None and interval > 0:
                self.heartbeat_interval = interval / 1000.0  # the standard gives milliseconds
            status = p.get("status")
            if isinstance(status, dict) and isinstance(status.get("online"), bool):
                self.online = status["online"]
        elif kind == "lifecycle":
            sub = p.get("sub_type")
            if sub == "disable":
                self.disabled = True
            elif sub in ("enable", "connect"):
                self.disabled = False


def _close_reason(e: ConnectionClosed, token: Secret | None) -> str:
    rcvd = e.rcvd
    if rcvd is None:
        return "no close frame"
    # The implementation writes the reason; one that closes on a bad token may quote it.
    return f"code {rcvd.code}" + (f": {one_line(without(rcvd.reason, token), 60)}" if rcvd.reason else "")


def _reason(e: BaseException) -> str:
    if isinstance(e, ConnectionRefusedError):
        return "connection refused (is the OneBot implementation running, with its WebSocket server on?)"
    if isinstance(e, TimeoutError):
        return "no answer (timed out)"
    if isinstance(e, OSError) and e.strerror:
        return one_line(e.strerror, 80)
    text = one_line(e, 80)
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


async def probe_stream(url: str, token: Secret | None, timeout: float) -> str:
    """Open the event stream once, look at its first frame, close it: a line for ``config check``."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        async with connect(url, additional_headers=headers, open_timeout=timeout, close_timeout=1.0,
                           max_size=MAX_FRAME, user_agent_header="groupwatch", logger=_ws_log) as ws:
            try:
                frame = await asyncio.wait_for(ws.recv(), timeout)
            except TimeoutError:
                return f"event stream {url}: open (no event within {timeout:g} s, which is fine on a quiet account)"
            try:
                first = json.loads(frame)
            except (ValueError, RecursionError):
                first = None
            if isinstance(first, dict) and first.get("post_type") is None and first.get("retcode") in (1403, 401, 403):
                raise AuthFailed(f"event stream {url}: access token refused")
            return f"event stream {url}: open"
    except InvalidStatus as e:
        code = e.response.status_code
        if code in (401, 403):
            raise AuthFailed(f"event stream {url}: access token refused (HTTP {code})") from None
        raise TransientError(f"event stream {url}: HTTP {code} instead of a WebSocket") from None
    except ConnectionClosed as e:
        raise TransientError(f"event stream {url}: connection dropped ({_close_reason(e, token)})") from None
    except (OSError, TimeoutError, WebSocketException) as e:
        raise TransientError(f"event stream {url}: {_reason(e)}") from None
