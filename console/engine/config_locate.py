"""The line of every key in a TOML text: tomllib gives values but no positions, and every config
problem is told at its line."""
from __future__ import annotations

import bisect
import re

from console.engine.config_problems import BARE_KEY, KeyPath


_SCALAR = re.compile(r"[^,\]}\n#]*")
_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "\\": "\\", "e": "\x1b"}
_ESCAPE_RE = re.compile(r"\\(u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|x[0-9A-Fa-f]{2}|.)", re.S)


def _unescape(s: str) -> str:
    def repl(m: re.Match[str]) -> str:
        e = m.group(1)
        if e[0] in "uUx" and len(e) > 1:
            return chr(int(e[1:], 16))
        return _ESCAPES.get(e, e)

    return _ESCAPE_RE.sub(repl, s)


class _Locator:
    """A lenient scanner over (already valid) TOML recording the line of every key.

    Paths are tuples of key segments; ``[[array]]`` elements and array values add
    an int index: ``("connector", 1, "name")``, ``("detectors", "ad", "regexes", 2)``.
    """

    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.newlines = [m.start() for m in re.finditer("\n", text)]
        self.lines: dict[KeyPath, int] = {}
        self.arrays: dict[KeyPath, int] = {}

    def line(self, pos: int) -> int:
        return bisect.bisect_left(self.newlines, pos) + 1

    def record(self, path: KeyPath, line: int) -> None:
        for k in range(1, len(path) + 1):
            self.lines.setdefault(path[:k], line)

    def run(self) -> dict[KeyPath, int]:
        s = self.s
        table: KeyPath = ()
        while True:
            self.skip(newlines=True)
            if self.i >= len(s):
                break
            line = self.line(self.i)
            if s.startswith("[[", self.i):
                self.i += 2
                keys = self.keys()
                self.i = s.index("]]", self.i) + 2
                table = self.resolve(keys[:-1], line) + (keys[-1],)
                count = self.arrays.get(table, 0) + 1
                self.arrays[table] = count
                table += (count - 1,)
                self.record(table, line)
                self.lines[table] = line
            elif s[self.i] == "[":
                self.i += 1
                keys = self.keys()
                self.i = s.index("]", self.i) + 1
                table = self.resolve(keys, line)
                self.record(table, line)
            else:
                keys = self.keys()
                self.record(table + tuple(keys), line)
                self.i = s.index("=", self.i) + 1
                self.skip()
                self.value(table + tuple(keys))
        return self.lines

    def resolve(self, keys: list[str], line: int) -> KeyPath:
        path: KeyPath = ()
        for key in keys:
            path += (key,)
            if path in self.arrays:  # [a.b] inside the latest [[a]]
                path += (self.arrays[path] - 1,)
            self.lines.setdefault(path, line)
        return path

    def skip(self, newlines: bool = False) -> None:
        s, n = self.s, len(self.s)
        while self.i < n:
            c = s[self.i]
            if c in " \t" or (newlines and c in "\r\n"):
                self.i += 1
            elif c == "#":
                end = s.find("\n", self.i)
                self.i = n if end < 0 else end
            else:
                break

    def keys(self) -> list[str]:
        out: list[str] = []
        while True:
            self.skip()
            out.append(self.key())
            self.skip()
            if self.s.startswith(".", self.i):
                self.i += 1
                continue
            return out

    def key(self) -> str:
        s = self.s
        if s[self.i] == '"':
            end = self.basic_end(self.i + 1)
            text = _unescape(s[self.i + 1:end])
            self.i = end + 1
            return text
        if s[self.i] == "'":
            end = s.index("'", self.i + 1)
            text = s[self.i + 1:end]
            self.i = end + 1
            return text
        m = BARE_KEY.match(s, self.i)
        if not m:
            raise ValueError("not a key")
        self.i = m.end()
        return m.group()

    def basic_end(self, j: int) -> int:
        s = self.s
        while s[j] != '"':
            j += 2 if s[j] == "\\" else 1
        return j

    def multiline_end(self, j: int, quote: str, escapes: bool) -> int:
        s = self.s
        while True:
            if escapes and s[j] == "\\":
                j += 2
            elif s.startswith(quote * 3, j):
                while j < len(s) and s[j] == quote:  # up to two quotes may end the content
                    j += 1
                return j
            else:
                j += 1

    def value(self, path: KeyPath) -> None:
        s = self.s
        c = s[self.i]
        if s.startswith('"""', self.i):
            self.i = self.multiline_end(self.i + 3, '"', True)
        elif s.startswith("'''", self.i):
            self.i = self.multiline_end(self.i + 3, "'", False)
        elif c == '"':
            self.i = self.basic_end(self.i + 1) + 1
        elif c == "'":
            self.i = s.index("'", self.i + 1) + 1
        elif c == "[":
            self.i += 1
            k = 0
            while True:
                self.skip(newlines=True)
                if s[self.i] == "]":
                    self.i += 1
                    return
                self.lines.setdefault(path + (k,), self.line(self.i))
                self.value(path + (k,))
                k += 1
                self.skip(newlines=True)
                if s[self.i] == ",":
                    self.i += 1
        elif c == "{":
            self.i += 1
            while True:
                self.skip(newlines=True)
                if s[self.i] == "}":
                    self.i += 1
                    return
                line = self.line(self.i)
                keys = self.keys()
                self.record(path + tuple(keys), line)
                self.i = s.index("=", self.i) + 1
                self.skip()
                self.value(path + tuple(keys))
                self.skip(newlines=True)
                if s[self.i] == ",":
                    self.i += 1
        else:  # number, bool, date-time (which may contain a space)
            m = _SCALAR.match(s, self.i)
            self.i = m.end() if m else self.i + 1


def locate_keys(text: str) -> dict[KeyPath, int]:
    """Map each key path in TOML ``text`` to the 1-based line that defines it (best effort)."""
    loc = _Locator(text)
    try:
        return loc.run()
    except (ValueError, IndexError, RecursionError):
        return loc.lines  # whatever was found before the scanner got lost

