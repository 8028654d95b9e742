"""The OneBot v11 HTTP API: ``POST <http_url>/<action>`` with a JSON body.

Answers are ``{"status": "ok"|"async"|"failed", "retcode": int, "data": ...}``
with the reason of a failure in ``wording``, ``message`` or ``msg`` depending
on the implementation. Every fault becomes one of the contract's typed errors
with a one-line message naming the action; the token never appears in one.
"""
from __future__ import annotations

import json
from typing import Any

import httpx

from connectors.contract import AuthFailed, ConnectorError, RateLimited, TransientError, Unsupported
from connectors.secrets import Secret, without

# go-cqhttp and NapCat's WebSocket answer an unknown action with retcode 1404, Lagrange with 404,
# NapCat's HTTP server with retcode 200 and "不支持的Api ..."; the standard's HTTP server with HTTP 404.
UNKNOWN_ACTION_RETCODES = frozenset({404, 1404})
_UNKNOWN_ACTION_WORDS = ("不支持的api", "unsupported api", "api not found", "unknown action")
MAX_REASON = 160
MAX_RETRY_AFTER = 3600.0


class ActionFailed(ConnectorError):
    """The implementation answered and refused (not admin, no such member...)."""

    def __init__(self, message: str, retcode: int | None) -> None:
        super().__init__(message)
        self.retcode = retcode


def one_line(text: object, limit: int = MAX_REASON) -> str:
    """A stranger's or a server's text made safe for a one-line error: no control characters, bounded."""
    s = "".join(c if c.isprintable() else " " for c in str(text))
    s = " ".join(s.split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


class HttpApi:
    def __init__(self, base_url: str, token: Secret | None, timeout: float,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.base_url = base_url
        self._token = token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = httpx.AsyncClient(
            headers=headers, transport=transport, follow_redirects=False,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        )
        self.timeout = timeout

    async def call(self, action: str, params: dict[str, Any] | None = None) -> Any:
        """The ``data`` of a successful answer; a typed ConnectorError otherwise."""
        try:
            r = await self._client.post(f"{self.base_url}/{action}", json=params or {})
        except httpx.TimeoutException:
            raise TransientError(f"{action}: no answer from {self.base_url} within {self.timeout:g} s") from None
        except httpx.HTTPError as e:
            raise TransientError(f"{action}: cannot reach {self.base_url} ({_cause(e)})") from None
        code = r.status_code
        if code in (401, 403):
            raise AuthFailed(f"{action}: the OneBot HTTP API refused the access token (HTTP {code})")
        if code == 429:
            raise RateLimited(f"{action}: rate limited (HTTP 429)", _retry_after(r.headers.get("retry-after")))
        if code == 404:
            raise Unsupported(f"{action}: this OneBot implementation has no such action (HTTP 404)")
        if code >= 500:
            raise TransientError(f"{action}: HTTP {code} from {self.base_url}")
        if code != 200:
            raise ConnectorError(f"{action}: unexpected HTTP {code} from {self.base_url}")
        try:
            body = json.loads(r.content)
        except (ValueError, RecursionError):  # RecursionError: arrays nested past the limit
            raise TransientError(f"{action}: the answer is not JSON") from None
        if not isinstance(body, dict) or "status" not in body and "retcode" not in body:
            raise TransientError(f"{action}: the answer is not a OneBot response")
        status, retcode = body.get("status"), body.get("retcode")
        if status in ("ok", "async") and retcode in (0, 1, None):
            return body.get("data")
        reason = next((one_line(without(body[k], self._token)) for k in ("wording", "message", "msg")
                       if isinstance(body.get(k), str) and body[k].strip()), "")
        # Only an integer is a retcode: a list would not hash below, and any other value is quoted cut short.
        code = retcode if isinstance(retcode, int) and not isinstance(retcode, bool) else None
        shown = f"{action} failed (retcode {one_line(retcode, 24)})" + (f": {reason}" if reason else "")
        if code == 1403:
            raise AuthFailed(f"{action}: the OneBot implementation refused the access token")
        if code in UNKNOWN_ACTION_RETCODES or any(w in reason.lower() for w in _UNKNOWN_ACTION_WORDS):
            raise Unsupported(shown)
        raise ActionFailed(shown, code)

    async def close(self) -> None:
        await self._client.aclose()


def _cause(e: httpx.HTTPError) -> str:
    cause = e.__cause__ or e.__context__
    text = one_line(cause or e, 80) if (cause or str(e)) else type(e).__name__
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def _retry_after(value: str | None) -> float:
    try:
        seconds = max(1.0, float(value)) if value is not None else 5.0
    except ValueError:
        return 5.0
    # The engine sleeps as long as it is told: "inf" or "1e400" would stop the account for good.
    return min(seconds, MAX_RETRY_AFTER)
