"""The digests posted to the moderators' chat: a daily summary and the weekly tiering digest.

``daily_summary(engine, now)`` and ``weekly_digest(engine, now)`` return plain text that reads well
in a chat (no markup, short lines, names not ids, untrusted names made inert, a cap on length);
the on-call dispatcher sends them to the routes that ask for them (``digest = ["daily", "weekly"]``).
Both take the figures from where the report and the console take them (activity, weekly, team):
one place for each rule.
"""
from __future__ import annotations

from console.engine.digest.daily import daily_summary
from console.engine.digest.weekly import weekly_digest

__all__ = ["daily_summary", "weekly_digest"]
