"""Where log records go: a file in the data dir while the console owns the terminal (a warning
printed to it would tear the screen), standard error for the headless commands. Records carry
strangers' text (group names, server answers), so every line is written inertly."""
from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from console.engine.text import visible

LOG_FILE = "groupwatch.log"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class InertFormatter(logging.Formatter):
    """One line per record, control and invisible characters shown, never obeyed, by whoever
    reads the file on a terminal later; a traceback keeps its lines, each made inert."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return "\n".join(visible(line) for line in text.split("\n"))


def to_file(data_dir: Path, level: int = logging.INFO) -> Path:
    """Send groupwatch's records (and its libraries' warnings) to ``data_dir/groupwatch.log``."""
    path = Path(data_dir) / LOG_FILE
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=1_000_000, backupCount=3, encoding="utf-8")
    handler.setFormatter(InertFormatter(FORMAT))
    _install(handler, level)
    return path


def to_stderr(level: int = logging.WARNING) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(InertFormatter("groupwatch: %(levelname)s: %(name)s: %(message)s"))
    _install(handler, level)


QUIETED = ("httpx", "httpcore")


def saved() -> tuple:
    """What :func:`restore` puts back: a command run in-process (tests) leaves logging as it was."""
    root = logging.getLogger()
    return list(root.handlers), root.level, {n: logging.getLogger(n).level for n in QUIETED}


def restore(state: tuple) -> None:
    handlers, level, quieted = state
    root = logging.getLogger()
    for h in [h for h in root.handlers if getattr(h, "_groupwatch", False)]:
        root.removeHandler(h)
        h.close()
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, lvl in quieted.items():
        logging.getLogger(name).setLevel(lvl)


def _install(handler: logging.Handler, level: int) -> None:
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_groupwatch", False)]:
        root.removeHandler(old)
        old.close()
    handler._groupwatch = True  # type: ignore[attr-defined]
    handler.setLevel(level)
    root.addHandler(handler)
    root.setLevel(min(root.level or logging.WARNING, level))
    # httpx logs every request line at INFO, URL included (a Telegram URL holds the bot token).
    for name in QUIETED:
        logging.getLogger(name).setLevel(logging.WARNING)
