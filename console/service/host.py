"""The engine in a console's own process: it runs the engine and the service, serves the data
dir's socket so other consoles and subcommands attach to it, and saves on the way out."""
from __future__ import annotations

import asyncio
from pathlib import Path

from console.engine.text import visible


class Host:
    """The engine in this process: runs it, serves the data dir's socket, and saves on the way out."""

    def __init__(self, rt, serve_socket: bool = False) -> None:
        from console.service.client import LocalClient
        from console.service.service import Service, os_identity

        from console.engine.heap import UI_REFREEZE_SECONDS

        self.rt = rt
        # A console shares this process: its cycles must not be frozen after every collection.
        rt.engine.heap.refreeze_seconds = UI_REFREEZE_SECONDS
        self.service = Service(rt)
        user, groups = os_identity()
        self.actor = self.service.open_session(user, groups, read_only=rt.moderation.read_only, session="console")
        self.client = LocalClient(self.service, self.actor)
        self.serve_socket = serve_socket
        self.server = None

    @property
    def data_dir(self) -> Path:
        """Where this engine keeps its state (a console writes its exports under it)."""
        return self.rt.data_dir

    @property
    def warnings(self) -> list[str]:
        """What the store said at start (printed before the console took the screen)."""
        return list(self.rt.store.warnings)

    async def start(self) -> str | None:
        """Start serving; a problem with the socket is a warning, never the end of the console."""
        from console.runtime import start

        await start(self.rt)
        self.service.start()
        if not self.serve_socket:
            return None
        try:
            from console.service.attach import short_path, socket_path
            from console.service.server import serve

            sock, _fd = short_path(socket_path(self.rt.data_dir))
            self.server = await serve(self.service, Path(sock))
        except Exception as e:
            return f"other consoles cannot attach: {visible(str(e), 200)}"
        return None

    async def run(self) -> None:
        await self.rt.engine.run()

    async def stop(self) -> None:
        self.rt.engine.stop()
        if self.server is not None:
            try:
                await asyncio.wait_for(self.server.close(), 3)
            except Exception:  # the socket goes with the process anyway
                pass
            self.server = None
        await self.service.stop()

    async def close_connectors(self) -> None:
        await self.rt.close_connectors()

    def close(self) -> None:
        self.rt.close()
