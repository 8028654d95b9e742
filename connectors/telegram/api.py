"""The Bot API over HTTP: one ``call`` that returns ``result`` or raises a typed error.

The token is part of every URL path (``/bot<token>/<method>``). httpx logs each
request's URL at INFO and its exceptions carry the request, so the client only
ever sees a placeholder path; ``_TokenPath`` puts the token in at the last
moment, inside the transport. Every message that leaves this module is also
scrubbed of the token, in case a peer ever echoes it.
"""
from __future__ import annotations

import logging
import re
import time
from typing import Any
from urllib.parse import quote

import httpx

from connectors.contract import (AuthFailed, ConnectorError, Health, HealthState, RateLimited,
                                 TransientError)

log = logging.getLogger("groupwatch.telegram")

DEFAULT_API_URL = "https://api.telegram.org"
SLOT = b"/bot***/"  # what the client (and so httpx's log) sees instead of the token
CONNECT_S, READ_S = 10.0, 20.0
LONG_POLL_SLACK_S = 10.0  # beyond the long-poll wait; below the engine's own limit (wait + 15 s)
DESCRIPTION_CHARS = 300
MAX_RETRY_AFTER_S = 3600.0
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")


class ChatMigrated(ConnectorError):
    """The group became a supergroup; the call must be made again with ``new_chat_id``."""

    def __init__(self, message: str, new_chat_id: int) -> None:
        super().__init__(message)
        self.new_chat_id = new_chat_id


class _TokenPath(httpx.AsyncBaseTransport):
    """Replaces the placeholder path segment with ``/bot<token>/`` just before sending."""

    def __init__(self, inner: httpx.AsyncBaseTransport, token: str) -> None:
        self._inner = inner
        self._real = b"/bot" + token.encode("ascii") + b"/"
        self._forms = (token, quote(token, safe=""))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url.copy_with(raw_path=request.url.raw_path.replace(SLOT, self._real, 1))
        # A new request, not a mutated one: httpx logs the caller's request object after the answer.
        real = httpx.Request(request.method, url, headers=request.headers, stream=request.stream,
                             extensions=request.extensions)
        try:
            return await self._inner.handle_async_request(real)
        except httpx.HTTPError:
            raise  # BotApi scrubs these
        except Exception as e:
            # Anything else raised below this point (a proxy or TLS library's own error) may quote the
            # URL made here, token included, and would reach the ledger and the logs as it is: told
            # again, without the token, as the transport failure it is.
            text = str(e)
            if not any(form in text for form in self._forms):
                raise
            for form in self._forms:
                text = text.replace(form, "***")
            raise httpx.TransportError(f"{type(e).__name__}: {text}") from None

    async def aclose(self) -> None:
        await self._inner.aclose()


class BotApi:
    """Calls to one bot; remembers the health the last calls showed."""

    def __init__(self, token: str, api_url: str = DEFAULT_API_URL,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._token = token
        self._forms = (token, quote(token, safe=""))  # as written, and as a URL may quote it
        inner = transport if transport is not None else httpx.AsyncHTTPTransport()
        self._client = httpx.AsyncClient(
            transport=_TokenPath(inner, token),
            timeout=httpx.Timeout(READ_S, connect=CONNECT_S),
            headers={"User-Agent": "groupwatch"},
        )
        self._base = api_url.rstrip("/") + SLOT.decode()
        self.health = Health(HealthState.OK, "")

    def __repr__(self) -> str:
        return f"BotApi(base={self._base!r})"

    def scrub(self, text: str) -> str:
        """``text`` made one safe line: no token, no control characters, bounded length."""
        for form in self._forms:
            text = text.replace(form, "***")
        text = _CONTROL.sub(" ", text).strip()
        return text if len(text) <= DESCRIPTION_CHARS else text[:DESCRIPTION_CHARS - 1] + "…"

    async def call(self, method: str, params: dict[str, Any] | None = None, *, wait: float = 0.0) -> Any:
        """POST ``params`` as JSON to ``method``; ``wait`` is the long-poll time the server may hold us."""
        try:
            result = await self._call(method, params or {}, wait)
        except (AuthFailed, TransientError, RateLimited) as e:
            self.note(e)
            raise
        self._set(HealthState.OK, "")
        return result

    def note(self, e: ConnectorError) -> ConnectorError:
        """Health after a failure: down when the token is refused, degraded otherwise."""
        self._set(HealthState.DOWN if isinstance(e, AuthFailed) else HealthState.DEGRADED, str(e))
        return e

    async def _call(self, method: str, params: dict[str, Any], wait: float) -> Any:
        timeout = httpx.Timeout(wait + LONG_POLL_SLACK_S if wait > 0 else READ_S, connect=CONNECT_S)
        try:
            r = await self._client.post(self._base + method, json=params, timeout=timeout)
        except httpx.TimeoutException:
            raise TransientError(f"telegram {method}: timed out") from None
        except httpx.HTTPError as e:
            detail = self.scrub(str(e))
            raise TransientError(f"telegram {method}: connection failed ({type(e).__name__}"
                                 f"{': ' + detail if detail else ''})") from None
        return self._answer(method, r)

    def _answer(self, method: str, r: httpx.Response) -> Any:
        status = r.status_code
        try:
            body = r.json()
        except (ValueError, RecursionError):  # RecursionError: arrays nested past the limit, from a proxy or worse
            body = None
        if not isinstance(body, dict):
            # Proxies and outages answer with HTML or nothing; only the status is worth reporting.
            if status == 429:
                raise RateLimited(f"telegram {method}: rate limited", _retry_after(None, r))
            if status in (401, 404):
                raise AuthFailed(_refused(status))
            raise TransientError(f"telegram {method}: unreadable answer (HTTP {status})")
        if body.get("ok") is True and status < 400:
            if "result" not in body:
                raise TransientError(f"telegram {method}: answer without a result (HTTP {status})")
            return body["result"]
        code = body.get("error_code") if isinstance(body.get("error_code"), int) else status
        desc = body.get("description")
        desc = self.scrub(desc) if isinstance(desc, str) and desc.strip() else f"HTTP {status}"
        extra = body.get("parameters") if isinstance(body.get("parameters"), dict) else {}
        if status == 429 or code == 429:
            after = _retry_after(extra.get("retry_after"), r)
            raise RateLimited(f"telegram {method}: rate limited, retry after {after:g} s ({desc})", after)
        if code in (401, 404) or status in (401, 404):
            # The Bot API answers 401 for a revoked token and 404 for one that never existed.
            raise AuthFailed(_refused(code, desc))
        migrated = extra.get("migrate_to_chat_id")
        if isinstance(migrated, int) and not isinstance(migrated, bool):
            raise ChatMigrated(f"telegram {method}: {desc}", migrated)
        if status >= 500 or code >= 500:
            raise TransientError(f"telegram {method}: {desc}")
        raise ConnectorError(f"telegram {method}: {desc}")

    async def download(self, file_path: str, max_bytes: int) -> bytes:
        """A file getFile named (``/file/bot<token>/<file_path>``), at most ``max_bytes``."""
        from connectors.media import fetch

        base = self._base[: -len(SLOT.decode())]
        return await fetch(self._client, f"{base}/file{SLOT.decode()}{quote(file_path, safe='/')}", max_bytes,
                           what="telegram file download", scrub=self.scrub)

    def _set(self, state: HealthState, reason: str) -> None:
        if state != self.health.state or reason != self.health.reason:
            self.health = Health(state, reason, time.time())

    async def aclose(self) -> None:
        await self._client.aclose()


def _retry_after(value: Any, r: httpx.Response) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return _capped(value)
    try:
        return _capped(max(0.0, float(r.headers.get("Retry-After", ""))))
    except ValueError:
        return 5.0  # no hint at all: a short pause, the engine backs off further on repeats


def _capped(seconds: float) -> float:
    # The engine sleeps as long as it is told: a hint of 1e308 s or "inf" would stop the bot for good,
    # and a 400-digit integer does not even fit a float. Past an hour, asking again is cheap.
    return float(seconds) if seconds < MAX_RETRY_AFTER_S else MAX_RETRY_AFTER_S


def _refused(status: int, desc: str = "") -> str:
    why = f" ({desc})" if desc and desc != f"HTTP {status}" else ""
    return (f"telegram: the bot token was refused (HTTP {status}{why}); check token_env/token_file "
            f"or get a new token from @BotFather")
