"""What every table offers besides its rows: a picker (sort by which column, export as what), the
export of the rows shown to a file, and the cursor row in full for the detail pane."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
from pathlib import Path
from typing import Any, Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from console.engine.paths import data_dir
from console.engine.text import neutralise_cell
from console.screens.cells import shown


class PickScreen(ModalScreen[str | None]):
    """A short list to choose from with the arrows and enter, or the option's first letter; esc cancels."""

    DEFAULT_CSS = """
    PickScreen { align: center middle; }
    PickScreen #pick { width: 44; max-width: 100%; height: auto; max-height: 100%;
                       border: thick $accent; background: $surface; padding: 0 1; }
    PickScreen OptionList { height: auto; max-height: 18; border: none; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, options: Sequence[tuple[str, str]], current: str | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.options = list(options)  # (id, label)
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="pick"):
            yield Static(Text(self.title_text, style="bold"))
            yield OptionList(*(Option(Text(label), id=oid) for oid, label in self.options))
            yield Static(Text("enter choose   esc cancel", style="dim"))

    def on_mount(self) -> None:
        ol = self.query_one(OptionList)
        ids = [oid for oid, _ in self.options]
        ol.highlighted = ids.index(self.current) if self.current in ids else 0
        ol.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


def exports_dir(app: Any) -> Path:
    """The data dir's ``exports`` folder: the engine's own when it runs in this console, else this
    user's (an attached console may not write where the service keeps its state)."""
    host = getattr(app, "host", None)
    base = host.data_dir if host is not None else data_dir(None)
    return base / "exports"


def export_rows(records: list[dict[str, str]], fields: Sequence[str], fmt: str, folder: Path, name: str) -> Path:
    """Write ``records`` as CSV or JSON under ``folder``; the file is written whole, then renamed."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = folder / f"{name}-{stamp}.{fmt}"
    n = 1
    while path.exists():
        n += 1
        path = folder / f"{name}-{stamp}-{n}.{fmt}"
    if fmt == "json":
        body = json.dumps(records, ensure_ascii=False, indent=1) + "\n"
    else:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(fields), lineterminator="\n")
        w.writeheader()
        for r in records:  # spreadsheets open CSV: names written by strangers must not be formulas
            w.writerow({k: neutralise_cell(v) for k, v in r.items()})
        body = buf.getvalue()
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # moderation data: the user's only
    with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as f:
        f.write(body)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def detail_text(pairs: Sequence[tuple[str, str]], limit: int = 2000) -> Text:
    """``label: value`` lines, wrapped by the pane; every value literal and neutralised."""
    t = Text()
    for i, (label, value) in enumerate(pairs):
        if i:
            t.append("\n")
        t.append(f"{label}: ", style="bold")
        t.append(shown(value, limit))
    return t
