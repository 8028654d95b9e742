"""A webhook sink on loopback for the soak: the on-call routes configured while it runs post here, so
the soak measures memory and latency with routes, dispatcher and Apprise at work."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class WebhookSink:
    def __init__(self) -> None:
        self.posts = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                owner.posts += 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.2,), daemon=True)
        self._thread.start()

    def routes(self) -> list:
        """Two routes as a team would have them: high incidents to a webhook, everything to the consoles."""
        from console.engine.config import parse_settings

        return parse_settings(f'''
[[route]]
name = "high"
min_severity = "high"
notify = ["json://127.0.0.1:{self.port}/oncall"]

[[route]]
name = "consoles"
console = true
''', "<soak routes>").routes

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
