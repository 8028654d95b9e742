"""A webhook receiver on loopback for the on-call tests: records every JSON POST it gets.

aiohttp is not a dependency: a ThreadingHTTPServer in a thread. ``wait_for(n)`` awaits (without
sleeping in the test) until n posts have arrived, by polling a threading.Condition off the loop.
"""
from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class WebhookServer:
    def __init__(self, status: int = 200) -> None:
        self.posts: list[dict] = []
        self.paths: list[str] = []
        self.headers: list[dict[str, str]] = []
        self.status = status
        self._cond = threading.Condition()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {"_raw": raw.decode("utf-8", "replace")}
                with owner._cond:
                    owner.headers.append(dict(self.headers.items()))
                    if owner.status == 200:
                        owner.posts.append(body)
                        owner.paths.append(self.path)
                    owner._cond.notify_all()
                self.send_response(owner.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def url(self, path: str = "/hook") -> str:
        return f"json://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> "WebhookServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _wait(self, n: int, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: len(self.posts) >= n, timeout)

    async def wait_for(self, n: int, timeout: float = 10.0) -> list[dict]:
        if not await asyncio.to_thread(self._wait, n, timeout):
            raise AssertionError(f"expected {n} webhook posts, got {len(self.posts)}: {self.posts}")
        return self.posts
