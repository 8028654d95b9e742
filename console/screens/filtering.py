"""The `/` filter language shared by every table screen.

Terms are separated by spaces and all must match. A term is a case-insensitive
regular expression (or, when it does not compile, literal text) matched
against each cell of the row; ``field:term`` matches one column only (``tier:crit``,
``group:fans``); the column may be named by its key or by its header (``st:open`` and
``state:open`` alike); a leading ``!`` negates. ``"two words"`` keeps a space. A word before
``:`` that names no column is matched as text, and the filter says so (``unknown column``).
"""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Mapping


@dataclass(slots=True, frozen=True)
class Term:
    pattern: re.Pattern[str]
    field: str | None = None
    negate: bool = False
    literal: bool = False

    def matches(self, fields: Mapping[str, str]) -> bool:
        search = self.pattern.search
        if self.field is not None:
            hay = fields.get(self.field)
            hit = hay is not None and search(hay) is not None
        else:  # cell by cell, so ^ and $ mean the start and end of a cell
            hit = any(search(v) is not None for v in fields.values())
        return hit != self.negate


@dataclass(slots=True, frozen=True)
class RowFilter:
    text: str
    terms: tuple[Term, ...] = ()
    unknown: tuple[str, ...] = ()  # words before ':' that name no column

    def matches(self, fields: Mapping[str, str]) -> bool:
        return all(t.matches(fields) for t in self.terms)

    @property
    def active(self) -> bool:
        return bool(self.terms)

    def describe(self) -> str:
        notes = []
        if self.unknown:
            notes.append(f"unknown column {', '.join(self.unknown)}: matched as text")
        if any(t.literal for t in self.terms):
            notes.append("not a valid regex: matched literally")
        return " · ".join(notes)


def _split(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:  # an unbalanced quote: the user is still typing
        return text.split()


# what reads as a column name before ':' (not "http" of a link, which has "//" after it)
_NAME = re.compile(r"[a-z][a-z0-9_/]*", re.IGNORECASE)


def parse_filter(text: str, fields: tuple[str, ...] = (), aliases: Mapping[str, str] | None = None) -> RowFilter:
    """``fields``: the column keys (and row ids) a term may name; ``aliases``: other words for them
    (the headers' abbreviations)."""
    terms: list[Term] = []
    unknown: list[str] = []
    aliases = aliases or {}
    for word in _split(text.strip()):
        negate = word.startswith("!")
        if negate:
            word = word[1:]
        field = None
        head, sep, rest = word.partition(":")
        name = head.lower()
        if sep and (name in fields or name in aliases):
            field, word = (name if name in fields else aliases[name]), rest
        elif sep and fields and _NAME.fullmatch(head) and not rest.startswith("//") and head not in unknown:
            unknown.append(head)
        if not word:
            continue
        literal = False
        try:
            # MULTILINE: a field may list several values, one a line (an incident's groups); a cell
            # never holds a newline (untrusted text shows it as a symbol), so ^ and $ keep their meaning
            pattern = re.compile(word, re.IGNORECASE | re.MULTILINE)
        except re.error:
            pattern, literal = re.compile(re.escape(word), re.IGNORECASE | re.MULTILINE), True
        terms.append(Term(pattern, field, negate, literal))
    return RowFilter(text, tuple(terms), tuple(unknown))
