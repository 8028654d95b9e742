"""A screen about one thing (a group, an incident) that may stop existing while it is open."""
from __future__ import annotations

from console.screens.base import TableScreen
from console.service.api import ServiceError


class DetailScreen(TableScreen):
    """When the service answers that the thing is not there (any more), say so and go back, once."""

    def load_with(self, query_now) -> None:
        try:
            super().load_with(query_now)
        except ServiceError as e:
            self._gone(str(e))

    async def load_async(self, client) -> None:
        try:
            await super().load_async(client)
        except ServiceError as e:
            self._gone(str(e))

    def _gone(self, why: str) -> None:
        if self.data is None and self.is_current:
            self.gw.notify(why, severity="error")
            self.app.pop_screen()
