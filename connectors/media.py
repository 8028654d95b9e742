"""Downloading a message's media with a size limit: shared by the connectors that fetch by URL.

The limit is enforced while reading, not only from Content-Length (a server may omit or lie about
it): a 20 MB image stops costing memory at the limit.
"""
from __future__ import annotations

from typing import Callable

import httpx

from connectors.contract import ConnectorError, MediaTooLarge, TransientError


async def fetch(client: httpx.AsyncClient, url: str, max_bytes: int, *, what: str,
                scrub: Callable[[str], str] = lambda s: s, timeout: float | None = None) -> bytes:
    """The body of GET ``url``, at most ``max_bytes``; ``what`` names it in one-line errors."""
    kw = {"timeout": httpx.Timeout(timeout)} if timeout is not None else {}
    try:
        async with client.stream("GET", url, **kw) as r:
            if r.status_code != 200:
                raise (TransientError if r.status_code >= 500 else ConnectorError)(f"{what}: HTTP {r.status_code}")
            announced = r.headers.get("content-length", "")
            if announced.isdigit() and int(announced) > max_bytes:
                raise MediaTooLarge(f"{what}: {_mb(int(announced))} is over the {_mb(max_bytes)} limit")
            buf = bytearray()
            async for chunk in r.aiter_bytes():
                buf += chunk
                if len(buf) > max_bytes:
                    raise MediaTooLarge(f"{what}: over the {_mb(max_bytes)} limit")
            return bytes(buf)
    except httpx.TimeoutException:
        raise TransientError(f"{what}: no answer in time") from None
    except httpx.HTTPError as e:
        raise TransientError(scrub(f"{what}: download failed ({type(e).__name__})")) from None


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n} bytes"
