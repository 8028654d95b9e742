"""The weekly report's second table: new-member retention and the reactivation of mentioned quiet
members, apart from the tiers so both read at 80 columns (JSON, CSV and Markdown carry them as
columns of the one report, see console.report)."""
from __future__ import annotations

from rich.table import Table
from rich.text import Text

from console.engine.text import visible
from console.report import _pct
from console.service.api import GroupRow


def weekly_table(summaries: list[GroupRow], now: float | None) -> Table | None:
    """Retention and reactivation, apart from the tiers so both read at 80 columns: only the groups
    that have a number (new members in the week judged, or mentioned quiet members)."""
    have = [s for s in summaries if s.retention_7d is not None or s.retention_30d is not None
            or s.reactivation is not None]
    if not have:
        return None
    caption = ("kept 7d / 30d: of the members who joined in a week, the share still in the group 7 / 30 days "
               "later; reactivated: of the quiet members @-mentioned in the last 30 days, the share who spoke soon "
               "after")
    if now is not None:
        from console.engine.cohorts import judged_week, week_start
        from console.engine.durations import iso

        caption += (f" (kept 7d: the week of {iso(week_start(judged_week(now, 7)))[:10]}; "
                    f"kept 30d: the week of {iso(week_start(judged_week(now, 30)))[:10]})")
    t = Table(title="new members kept, quiet members reactivated", title_justify="left", caption=caption,
              caption_justify="left")
    for col, just in (("group", "left"), ("name", "left"), ("kept 7d", "right"), ("kept 30d", "right"),
                      ("reactivated", "right")):
        t.add_column(col, justify=just, overflow="ellipsis", no_wrap=col in ("group", "name"))
    for s in have:
        t.add_row(Text(visible(s.id)), Text(visible(s.name, 40)), _pct(s.retention_7d), _pct(s.retention_30d),
                  _pct(s.reactivation))
    return t
