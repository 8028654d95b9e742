"""Per-connector pacing so bulk actions stay inside each platform's documented limits."""
from __future__ import annotations

import asyncio
import time

# (seconds between any two actions, seconds between two actions into one group)
DEFAULT_LIMITS: dict[str, tuple[float, float]] = {
    "telegram": (1 / 30, 3.0),  # ~30 messages/s overall, ~20/min into one group
    "onebot": (0.5, 1.0),       # QQ risk control punishes bursts
    "matrix": (0.1, 0.2),
    "demo": (0.0, 0.0),
}


class RateLimiter:
    def __init__(self, limits: dict[str, tuple[float, float]] | None = None, clock=time.monotonic,
                 sleep=asyncio.sleep) -> None:
        self.limits = {**DEFAULT_LIMITS, **(limits or {})}
        self.clock, self.sleep = clock, sleep
        self._next_any: dict[str, float] = {}
        self._next_group: dict[tuple[str, str], float] = {}
        self._paused_until: dict[str, float] = {}

    async def acquire(self, platform: str, connector: str, group: str) -> None:
        overall, per_group = self.limits.get(platform, (0.1, 0.5))
        while True:
            now = self.clock()
            ready = max(self._next_any.get(connector, 0.0), self._next_group.get((connector, group), 0.0),
                        self._paused_until.get(connector, 0.0))
            if ready <= now:
                break
            await self.sleep(ready - now)
        now = self.clock()
        self._next_any[connector] = now + overall
        self._next_group[(connector, group)] = now + per_group

    def back_off(self, connector: str, seconds: float) -> None:
        """A 429: nothing more goes to this connector for ``seconds``."""
        self._paused_until[connector] = max(self._paused_until.get(connector, 0.0), self.clock() + seconds)
