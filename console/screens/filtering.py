"""The `/` filter language shared by every table screen.

Terms are separated by spaces and all must match. A term is a case-insensitive
regular expression (or, when it does not compile, literal text) matched
against each cell of the row; ``field:term`` matches one column only (``tier:crit``,
``group:fans``); a leading ``!`` negates. ``"two words"`` keeps a space.
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

    def matches(self, fields: Mapping[str, str]) -> bool:
        return all(t.matches(fields) for t in self.terms)

    @property
    def active(self) -> bool:
        return bool(self.terms)

    def describe(self) -> str:
        return "not a valid regex: matched literally" if any(t.literal for t in self.terms) else ""


def _split(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:  # an unbalanced quote: the user is still typing
        return text.split()


def parse_filter(text: str, fields: tuple[str, ...] = ()) -> RowFilter:
    terms: list[Term] = []
    for word in _split(text.strip()):
        negate = word.startswith("!")
        if negate:
            word = word[1:]
        field = None
        head, sep, rest = word.partition(":")
        if sep and head.lower() in fields:
            field, word = head.lower(), rest
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
    return RowFilter(text, tuple(terms))
