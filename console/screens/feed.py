"""Feed: the merged live message stream of every group, newest first, flagged messages lit with their reasons."""
from __future__ import annotations

from rich.text import Text
from textual.binding import Binding

from console.engine.actions.model import ActionKind, BulkReport
from console.engine.feed import FeedItem
from console.engine.text import visible
from console.screens.base import Column, Row, TableScreen
from console.screens.cells import clock, untrusted

SHOWN = 400
FLAG_STYLE = {"ad": "bold red", "flood": "yellow"}


def feed_row(item: FeedItem, group: str | None) -> Row:
    m = item.message
    flagged = bool(item.kinds)
    style = next((FLAG_STYLE.get(k, "yellow") for k in item.kinds), "") if flagged else ""
    cells = [clock(m.at, with_date=False), untrusted(group or m.group, 40), untrusted(m.sender_name, 40),
             Text(",".join(item.kinds), style=style), untrusted(m.text, 300, style),
             untrusted("; ".join(item.reasons), 200, "dim")]
    sort = [-m.at, group or "", m.sender_name, ",".join(item.kinds), m.text, "; ".join(item.reasons)]
    return Row(str(item.seq), cells, sort, extra={"group_id": m.group, "member_id": m.sender})


class FeedScreen(TableScreen):
    CSS_PATH = "feed.tcss"
    SCREEN_NAME = "feed"
    TABLE_TITLE = "Feed"
    HELP_TITLE = "Feed"
    HELP_NOTES = (f"Shows the newest {SHOWN} messages. Filter examples: group:fans   kind:ad   text:vx   !kind:.",
                  "p pauses the stream (and every screen) so you can read; p again resumes.")
    COLUMNS = (
        Column("time", "time", 8), Column("group", "group", 14), Column("sender", "sender", 10),
        Column("kind", "flag", 5), Column("text", "message", flex=True), Column("reasons", "reasons", 40),
    )
    BINDINGS = [
        Binding("enter", "open", "Open group"),
        Binding("f", "flagged", "Flagged only"),
        Binding("g", "this_group", "This group only"),
        Binding("b", "blacklist", "Blacklist sender", show=False),
        Binding("d", "delete", "Delete msg", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.flagged_only = False
        self.only_group: str | None = None
        self.items: dict[str, FeedItem] = {}
        self._cache: dict[int, tuple[tuple[int, int], Row]] = {}  # a message's row, until it is flagged again

    def collect(self) -> list[Row]:
        engine = self.gw.rt.engine
        feed = self.gw.feed
        if self.flagged_only or self.only_group:
            items = [i for i in reversed(feed.items)
                     if (not self.flagged_only or i.kinds)
                     and (self.only_group is None or i.message.group == self.only_group)][:SHOWN]
        else:
            items = feed.latest(SHOWN)
        self.items = {str(i.seq): i for i in items}
        names: dict[str, str | None] = {}
        rows = []
        cache, fresh = self._cache, {}
        for i in items:
            hit = cache.get(i.seq)
            if hit is None or hit[0] != (len(i.kinds), len(i.reasons)):
                g = i.message.group
                if g not in names:
                    names[g] = engine.group_name(g)
                hit = ((len(i.kinds), len(i.reasons)), feed_row(i, names[g]))
            fresh[i.seq] = hit
            rows.append(hit[1])
        self._cache = fresh
        return rows

    def update_title(self) -> None:
        super().update_title()
        extra = []
        if self.flagged_only:
            extra.append("flagged only")
        if self.only_group:
            extra.append("group " + visible(self.gw.rt.engine.group_name(self.only_group) or self.only_group, 40))
        if extra:
            title = self.table.border_title
            self.table.border_title = Text.assemble(title if isinstance(title, Text) else str(title or ""),
                                                    " · " + " · ".join(extra))

    def _cursor_item(self) -> FeedItem | None:
        row = self.cursor_row()
        return self.items.get(row.key) if row is not None else None

    def _chosen(self) -> list[FeedItem]:
        return [self.items[r.key] for r in self.targets() if r.key in self.items]

    def _reload(self) -> None:
        self.rows = self.collect()
        self.render_rows()

    def action_flagged(self) -> None:
        self.flagged_only = not self.flagged_only
        self._reload()

    def action_this_group(self) -> None:
        item = self._cursor_item()
        self.only_group = None if self.only_group or item is None else item.message.group
        self._reload()

    def action_open(self) -> None:
        item = self._cursor_item()
        if item is not None:
            self.gw.open_group(item.message.group)

    def action_blacklist(self) -> None:
        gw = self.gw
        if not gw.writable("blacklist"):
            return
        senders: dict[str, FeedItem] = {}
        for i in self._chosen():
            senders.setdefault(i.message.sender, i)

        async def run():
            report = BulkReport(total=0)
            for member, i in senders.items():
                _e, r = await gw.rt.moderation.blacklist_add(
                    member, reason="from the feed" + (f": {'; '.join(i.reasons)}" if i.reasons else ""),
                    evidence={"group": i.message.group, "message_id": i.message.id, "excerpt": i.message.text[:200],
                              "alert": i.alert})
                report.merge(r)
            self.clear_marks()
            return report

        if senders:
            names = ", ".join(untrusted(i.message.sender_name, 20).plain for i in list(senders.values())[:8])
            gw.act("blacklist", run, confirm=f"Blacklist {len(senders)} sender(s)?",
                   detail=Text("Bans them in every watched group of their platform.\n" + names))

    def action_delete(self) -> None:
        gw = self.gw
        if not gw.writable("delete"):
            return
        items = self._chosen()
        if not items:
            return

        async def run():
            report = BulkReport(total=0)
            # one sender may have several chosen messages: one call per message
            for (g, m), mid in [((i.message.group, i.message.sender), i.message.id) for i in items]:
                report.merge(await gw.rt.moderation.act(ActionKind.DELETE, [(g, m)], message_ids={(g, m): mid}))
            self.clear_marks()
            return report

        gw.act("delete", run, confirm=f"Delete {len(items)} message(s)?")
