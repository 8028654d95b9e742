"""Feed: the merged live message stream of every group, newest first, flagged messages lit with their reasons."""
from __future__ import annotations

from rich.text import Text
from textual.binding import Binding

from console.engine.text import visible
from console.screens.base import Row, TableScreen
from console.screens.cells import clock, untrusted
from console.screens.modals import ConfirmScreen
from console.service.api import Command, FeedItemView, FeedPage
from console.service.table_specs import FEED_COLUMNS, FLAG_STYLE, feed_row

__all__ = ["FeedScreen", "FLAG_STYLE", "SHOWN", "feed_row"]

SHOWN = 400


class FeedScreen(TableScreen):
    CSS_PATH = "feed.tcss"
    SCREEN_NAME = "feed"
    QUERY = "feed"
    TABLE_TITLE = "Feed"
    HELP_TITLE = "Feed"
    HELP_NOTES = (f"Shows the newest {SHOWN} messages. Filter examples: group:fans   flag:ad   message:vx   !flag:.",
                  "p pauses the stream (and every screen) so you can read; p again resumes.",
                  "v shows the cursor message in full below the table.")
    COLUMNS = FEED_COLUMNS
    BINDINGS = [
        Binding("enter", "open", "Open group"),
        Binding("f", "flagged", "Flagged only"),
        Binding("t", "this_group", "This group only"),
        Binding("b", "blacklist", "Blacklist sender", show=False),
        Binding("d", "delete", "Delete msg", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.flagged_only = False
        self.only_group: str | None = None
        self.only_group_name: str | None = None
        self.items: dict[str, FeedItemView] = {}
        self._cache: dict[int, tuple[tuple[int, int], Row]] = {}  # a message's row, until it is flagged again

    def query_params(self) -> dict:
        return {"flagged": self.flagged_only, "group": self.only_group, "limit": SHOWN}

    def take(self, data: FeedPage) -> None:
        self.data = data
        self.items = {str(i.seq): i for i in data.items}

    def collect(self) -> list[Row]:
        rows = []
        cache, fresh = self._cache, {}
        for i in self.data.items:
            hit = cache.get(i.seq)
            if hit is None or hit[0] != (len(i.kinds), len(i.reasons)):
                hit = ((len(i.kinds), len(i.reasons)), feed_row(i))
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
            extra.append("group " + visible(self.only_group_name or self.only_group, 40))
        if extra:
            title = self.table.border_title
            self.table.border_title = Text.assemble(title if isinstance(title, Text) else str(title or ""),
                                                    " · " + " · ".join(extra))

    def detail_pairs(self, row: Row) -> list[tuple[str, str]]:
        i = self.items.get(row.key)
        if i is None:
            return super().detail_pairs(row)
        pairs = [("at", clock(i.at)), ("group", f"{i.group_name or i.group} ({i.group})"),
                 ("sender", f"{i.sender_name} ({i.sender})"), ("message", i.text)]
        if i.kinds:
            pairs.append(("flagged", f"{', '.join(i.kinds)}: {'; '.join(i.reasons)}"
                                     + (f" (alert #{i.alert})" if i.alert else "")))
        return pairs

    def _cursor_item(self) -> FeedItemView | None:
        row = self.cursor_row()
        return self.items.get(row.key) if row is not None else None

    def _chosen(self) -> list[FeedItemView]:
        return [self.items[r.key] for r in self.targets() if r.key in self.items]

    def action_flagged(self) -> None:
        self.flagged_only = not self.flagged_only
        self.changed_question()

    def action_this_group(self) -> None:
        item = self._cursor_item()
        if self.only_group or item is None:
            self.only_group = self.only_group_name = None
        else:
            self.only_group, self.only_group_name = item.group, item.group_name
        self.changed_question()

    def action_open(self) -> None:
        item = self._cursor_item()
        if item is not None:
            self.gw.open_group(item.group)

    def action_blacklist(self) -> None:
        gw = self.gw
        if not gw.writable("blacklist_add"):
            return
        senders: dict[str, FeedItemView] = {}
        for i in self._chosen():
            senders.setdefault(i.sender, i)
        if not senders:
            return
        # one command per sender: each entry keeps the message it was blacklisted for as evidence
        names = ", ".join(f"{untrusted(i.sender_name, 20).plain} ({untrusted(i.sender, 40).plain})"
                          for i in list(senders.values())[:8])
        commands = [Command("blacklist_add", [member], {
            "reason": "from the feed" + (f": {'; '.join(i.reasons)}" if i.reasons else ""),
            "evidence": {"group": i.group, "message_id": i.message_id, "excerpt": i.text[:200], "alert": i.alert}})
            for member, i in senders.items()]

        def go(yes: bool | None) -> None:
            if yes:
                for c in commands:
                    gw.run_command(c)
                self.clear_marks()

        self.app.push_screen(ConfirmScreen(f"Blacklist {len(senders)} sender(s)?",
                                           Text("Bans them in every watched group of their platform.\n" + names)), go)

    def action_delete(self) -> None:
        gw = self.gw
        if not gw.writable("delete"):
            return
        items = self._chosen()
        if not items:
            return
        gw.act(Command("delete", [[i.group, i.message_id, i.sender] for i in items]),
               confirm=f"Delete {len(items)} message(s)?", done=lambda _r: self.clear_marks())
