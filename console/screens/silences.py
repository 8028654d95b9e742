"""Silences: "page nobody about these for a while". Matchers, expiry, creator, comment; add, remove."""
from __future__ import annotations

from rich.text import Text
from textual.binding import Binding

from console.engine.actions.model import ActionError
from console.engine.durations import parse_duration
from console.screens.base import Column, Row, TableScreen
from console.screens.cells import untrusted, until
from console.screens.modals import Field, FormScreen
from console.service.api import Command, SilenceView


def matchers_text(matchers: dict) -> str:
    return " ".join(f"{k}={v}" for k, v in matchers.items())


def silence_row(s: SilenceView, now: float) -> Row:
    state = "on" if s.active else "later"
    cells = [str(s.id), Text(state, style="green" if s.active else "yellow"), until(now, s.ends_at),
             untrusted(matchers_text(s.matchers), 200), str(s.silencing), untrusted(s.created_by, 30),
             untrusted(s.comment, 200)]
    sort = [s.id, state, s.ends_at, matchers_text(s.matchers), s.silencing, s.created_by, s.comment]
    return Row(str(s.id), cells, sort)


class SilencesScreen(TableScreen):
    CSS_PATH = "silences.tcss"
    SCREEN_NAME = "silences"
    QUERY = "silences"
    TABLE_TITLE = "Silences"
    HELP_TITLE = "Silences"
    HELP_NOTES = ("A silence pages nobody about the alerts its matchers all match; they are still recorded "
                  "and shown (state sil on the Alerts screen).",
                  "Matchers: kind=silent_member group=tag:archive member=ID severity=low|medium|high; "
                  "group takes ids, tag:NAME, tier:LEVEL or all.",
                  "Durations: 30m, 2h, 7d. Remove asks first.")
    COLUMNS = (
        Column("id", "id", 4), Column("state", "state", 5), Column("ends", "ends", 6),
        Column("matchers", "matchers", flex=True), Column("silencing", "inc", 4), Column("by", "by", 10),
        Column("comment", "comment", flex=True),
    )
    BINDINGS = [
        Binding("a", "add", "Add"),
        Binding("d,delete", "remove", "Remove"),
    ]

    def collect(self) -> list[Row]:
        now = self.gw.header.now if self.gw.header else 0.0
        return [silence_row(s, now) for s in self.data]

    def action_add(self) -> None:
        if not self.gw.writable("silence_add"):
            return
        fields = [Field("matchers", "Matchers (kind=... group=... member=... severity=...)", "",
                        "kind=silent_member group=tag:archive"),
                  Field("for", "For how long", "2h"),
                  Field("comment", "Comment (why)", "")]

        def chosen(v: dict[str, str] | None) -> None:
            if v is None:
                return
            self.gw.act(Command("silence_add", [], {"matchers": v["matchers"].split(),
                                                    "seconds": parse_duration(v["for"]),
                                                    "comment": v["comment"]}))

        self.app.push_screen(FormScreen("Add a silence", fields, check_silence), chosen)

    def action_remove(self) -> None:
        if not self.gw.writable("silence_remove"):
            return
        rows = self.targets()
        ids = [int(r.key) for r in rows]
        if not ids:
            return
        shown = {str(s.id): s for s in self.data or ()}
        detail = Text("\n".join(f"#{k}: {matchers_text(shown[k].matchers)}" for k in (r.key for r in rows[:6])
                                if k in shown))
        self.gw.act(Command("silence_remove", ids), confirm=f"Remove {len(ids)} silence(s)?", detail=detail,
                    done=lambda _r: self.clear_marks())


def check_silence(v: dict[str, str]) -> str | None:
    """The form's check: the same one-line errors as the service's."""
    from console.engine.silence_rules import parse_matchers

    try:
        parse_matchers(v["matchers"].split())
        parse_duration(v["for"])
    except ActionError as e:
        return str(e)
    return None
