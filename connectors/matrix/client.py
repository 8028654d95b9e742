"""HTTP calls to a Matrix homeserver's client-server API, with its errors mapped to the contract's.

The access token travels only in the Authorization header: it is never part
of a URL, so no message built from a URL or an httpx error can carry it.
"""
from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import httpx

from connectors.contract import (AuthFailed, ConnectorError, Health, HealthState, MediaTooLarge, RateLimited,
                                 TransientError)
from connectors.secrets import Secret, without

API = "/_matrix/client/v3"
DEFAULT_RETRY_AFTER = 5.0
# The engine sleeps as long as it is told: a hint of 1e308 s (or inf) would stop the account for good,
# and a 400-digit one does not fit a float. Past an hour, asking again is cheap.
MAX_RETRY_AFTER = 3600.0
# Deactivated or locked accounts: retrying with the same token will not help either.
AUTH_ERRCODES = frozenset({"M_UNKNOWN_TOKEN", "M_MISSING_TOKEN", "M_USER_DEACTIVATED", "M_USER_LOCKED"})


def seg(value: str) -> str:
    """One URL path segment: room ids (!a:b), event ids ($x) and user ids (@u:s) escaped whole."""
    return quote(value, safe="")


def one_line(value: object, limit: int = 200) -> str:
    # A server's words (errcode, error) reach logs and the screen: no escape sequence may ride along.
    text = " ".join("".join(c if c.isprintable() else " " for c in str(value)).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class MatrixHTTP:
    """One httpx client for one account; remembers how the last calls went (health)."""

    def __init__(self, homeserver: str, token: Secret, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.homeserver = homeserver
        self._token = token
        self._client = httpx.AsyncClient(
            base_url=homeserver, transport=transport, follow_redirects=False,
            headers={"Authorization": f"Bearer {token}", "User-Agent": "groupwatch"},
            timeout=httpx.Timeout(30.0, connect=10.0))
        self._health = Health(HealthState.OK, "")

    def health(self) -> Health:
        return self._health

    def _set_health(self, state: HealthState, reason: str) -> None:
        if state != self._health.state or reason != self._health.reason:
            self._health = Health(state, reason, time.time())

    async def close(self) -> None:
        await self._client.aclose()

    async def call(self, method: str, path: str, *, what: str, params: dict[str, Any] | None = None,
                   body: dict[str, Any] | None = None, read_timeout: float | None = None,
                   missing_ok: bool = False) -> dict[str, Any] | None:
        """The JSON object answered; None for a 404 when ``missing_ok``. ``what`` names the call in errors."""
        timeout = httpx.Timeout(30.0, connect=10.0, read=read_timeout) if read_timeout is not None \
            else httpx.USE_CLIENT_DEFAULT
        try:
            r = await self._client.request(method, API + path, params=params, json=body, timeout=timeout)
        except httpx.TimeoutException:
            raise self.transient(f"matrix {what}: {self.homeserver} did not answer in time") from None
        except httpx.TransportError as e:
            raise self.transient(f"matrix {what}: cannot reach {self.homeserver} ({type(e).__name__})") from None
        try:
            data = r.json()
        except (ValueError, RecursionError):  # RecursionError: arrays nested past the limit
            data = None
        status = r.status_code
        errcode = data.get("errcode") if isinstance(data, dict) else None
        # Quoted in messages below, like the error text; anything but a string is no errcode (a list
        # would not even hash for the lookups below).
        errcode = one_line(without(errcode, self._token), 80) if isinstance(errcode, str) else None
        if status == 200:
            if not isinstance(data, dict):
                raise self.transient(f"matrix {what}: the homeserver's answer is not a JSON object")
            self._set_health(HealthState.OK, "")
            return data
        if status == 429 or errcode == "M_LIMIT_EXCEEDED":
            retry = _retry_after(data, r.headers.get("Retry-After"))
            self._set_health(HealthState.DEGRADED, f"rate limited for {retry:g} s")
            raise RateLimited(f"matrix {what}: rate limited (retry in {retry:g} s)", retry)
        if status == 401 or errcode in AUTH_ERRCODES:
            reason = (f"matrix: the access token was refused ({errcode or f'HTTP {status}'}); "
                      "log the bot in again and update the token")
            self._set_health(HealthState.DOWN, reason)
            raise AuthFailed(reason)
        if status >= 500 or (errcode is None and status not in (400, 403, 404)):  # proxies' error pages
            raise self.transient(f"matrix {what}: homeserver error HTTP {status}")
        if status == 404 and missing_ok:
            return None
        error = one_line(without(data.get("error", ""), self._token)) if isinstance(data, dict) else ""
        raise ConnectorError(f"matrix {what}: {errcode or f'HTTP {status}'}" + (f": {error}" if error else ""))

    async def download(self, paths: list[str], max_bytes: int, *, what: str) -> bytes:
        """The body at the first of ``paths`` the homeserver knows (404/400 M_UNRECOGNIZED: the next),
        at most ``max_bytes`` (MediaTooLarge past it)."""
        from connectors.media import fetch

        last: ConnectorError | None = None
        for path in paths:
            try:
                return await fetch(self._client, path, max_bytes, what=f"matrix {what}",
                                   scrub=lambda s: without(s, self._token))
            except MediaTooLarge:
                raise
            except ConnectorError as e:
                if "HTTP 404" not in str(e) and "HTTP 400" not in str(e):
                    raise
                last = e
        raise last or ConnectorError(f"matrix {what}: nothing to download")

    def transient(self, reason: str) -> TransientError:
        self._set_health(HealthState.DEGRADED, reason)
        return TransientError(reason)


def _retry_after(data: object, header: str | None) -> float:
    if isinstance(data, dict):
        ms = data.get("retry_after_ms")
        if isinstance(ms, (int, float)) and not isinstance(ms, bool) and ms >= 0:
            return min(ms, MAX_RETRY_AFTER * 1000) / 1000.0
    if header:
        try:
            return min(max(0.0, float(header)), MAX_RETRY_AFTER)
        except ValueError:
            pass
    return DEFAULT_RETRY_AFTER
