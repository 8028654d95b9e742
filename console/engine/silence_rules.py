"""What a silence's matchers may say, checked the same on either side of the socket (the CLI and the
Silences screen check what an operator typed before sending it)."""
from __future__ import annotations

import re
from typing import Any

from console.engine.actions.model import ActionError
from console.engine.actions.schedules import parse_target
from console.engine.text import visible

MATCHER_KEYS = ("kind", "group", "member", "severity")
SEVERITIES = ("low", "medium", "high")
_KIND = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class SilenceError(ActionError):
    """A bad matcher, duration or silence id: one line naming what is wrong."""


def parse_matchers(items: list[str]) -> dict[str, str]:
    """``["kind=silent_member", "group=tag:archive"]`` -> checked matchers."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = str(item).partition("=")
        if not sep:
            raise SilenceError(f"bad matcher {visible(str(item), 60)!r}: write KEY=VALUE with KEY one of "
                               f"{', '.join(MATCHER_KEYS)}")
        out[key.strip()] = value.strip()
    return check_matchers(out)


def check_matchers(matchers: Any) -> dict[str, str]:
    if not isinstance(matchers, dict) or not matchers:
        raise SilenceError(f"a silence needs at least one matcher: {', '.join(MATCHER_KEYS)}")
    out: dict[str, str] = {}
    for key, value in matchers.items():
        if key not in MATCHER_KEYS:
            raise SilenceError(f"unknown matcher {visible(str(key), 40)!r}: use {', '.join(MATCHER_KEYS)}")
        if not isinstance(value, str) or not value.strip():
            raise SilenceError(f"matcher {key} needs a value")
        value = value.strip()
        if key == "kind" and not _KIND.match(value):
            raise SilenceError(f"bad kind {visible(value, 40)!r}: an alert kind like ad, flood, silent_member, "
                               "silent_group, churn_spike")
        if key == "severity" and value not in SEVERITIES:
            raise SilenceError(f"bad severity {visible(value, 40)!r}: one of {', '.join(SEVERITIES)}")
        if key == "group":
            try:
                parse_target(value)  # the rule of console.engine.matching
            except ActionError as e:
                raise SilenceError(f"bad group matcher: {e}") from None
        if key == "member" and len(value) > 200:
            raise SilenceError("member matcher is too long (at most 200 characters)")
        out[key] = value
    return out
