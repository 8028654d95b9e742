"""Durations as operators write them: "90s", "30m", "12h", "1d", "2w"."""
from __future__ import annotations

import re

from console.engine.actions.model import ActionError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)


def parse_duration(text: str) -> float:
    m = _DURATION.match(text or "")
    if not m:
        raise ActionError(f"bad duration {text!r}: use a number and a unit, like 90s, 30m, 12h, 1d or 2w")
    return float(m.group(1)) * _UNITS[m.group(2).lower()]
