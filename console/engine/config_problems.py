"""How a config problem is told: one line, ``<file>:<line>: <what is wrong>``, naming the key by its
dotted path and quoting the offending value (never the value of a key whose name looks secret)."""
from __future__ import annotations

import difflib
import json
import re
import typing
from functools import cache
from typing import Any

from connectors.secrets import scrub
from console.engine.text import visible

SECRET_WORDS = ("token", "secret", "password", "passwd", "passphrase", "credential", "api_key", "apikey",
                "private_key", "cookie")
HIDDEN = "(value hidden)"
BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")

KeyPath = tuple[Any, ...]  # a key path: str segments, int indices for arrays


class ConfigError(Exception):
    """A config problem. ``str(e)`` is one line: ``<path>:<line>: <what is wrong>``.

    ``problems`` lists every problem found (sorted by line), ``str(e)`` is the first.
    """

    def __init__(self, message: str, *, problems: list[str] | None = None) -> None:
        message = one_line(message)
        super().__init__(message)
        self.problems: list[str] = [one_line(p) for p in problems] if problems else [message]


def one_line(text: str) -> str:
    # Messages quote keys and values from the file and the CLI prints them as they are: control,
    # bidi and zero-width characters become visible tags (no escape sequence reaches the terminal),
    # and no secret read so far is shown, even from a value it was pasted into by mistake.
    return visible(scrub(" ".join(str(text).split())))



class Context:
    def __init__(self, source: str, lines: dict[KeyPath, int]) -> None:
        self.source = source
        self.lines = lines
        self.problems: list[tuple[int, int, str]] = []

    def line_of(self, path: KeyPath) -> int | None:
        for k in range(len(path), 0, -1):
            line = self.lines.get(tuple(path[:k]))
            if line is not None:
                return line
        return None

    def error(self, path: KeyPath, message: str) -> None:
        line = self.line_of(path)
        where = f"{self.source}:{line}" if line is not None else self.source
        self.problems.append((line or 0, len(self.problems), f"{where}: {one_line(message)}"))

    def raise_if_any(self) -> None:
        if self.problems:
            ordered = [p for _, _, p in sorted(self.problems)]
            raise ConfigError(ordered[0], problems=ordered)


def is_secret(path: KeyPath) -> bool:
    return any(isinstance(seg, str) and any(w in seg.lower() for w in SECRET_WORDS) for seg in path)


def dotted(path: KeyPath) -> str:
    out = ""
    for seg in path:
        if isinstance(seg, int):
            out += f"[{seg}]"
        else:
            part = seg if BARE_KEY.fullmatch(seg) else json.dumps(seg, ensure_ascii=False)
            out += f".{part}" if out else part
    return out


def quote_key(key: str) -> str:
    return f"'{key}'" if BARE_KEY.fullmatch(key) else json.dumps(key, ensure_ascii=False)


def table_name(path: KeyPath) -> str:
    if path and path[0] == "connector" and len(path) > 1 and isinstance(path[1], int):
        return f"[[connector]] #{path[1] + 1}"
    return f"[{dotted(path)}]"


def kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return "a date/time"


def show(value: Any, path: KeyPath) -> str:
    """How an offending value is quoted in a message (never for secret keys)."""
    if is_secret(path):
        return f"{kind_of(value)} {HIDDEN}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        shown = repr(value)
        return shown if len(shown) <= 24 else shown[:20] + "…"  # a 400-digit integer, cut
    if isinstance(value, str):
        shown = json.dumps(value if len(value) <= 40 else value[:40] + "…", ensure_ascii=False)
        return shown
    return kind_of(value)



@cache
def hints_of(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if not close:
        close = [c for c in choices if c.lower() == word.lower().replace("-", "_")]
    return f" (did you mean '{close[0]}'?)" if close else ""

