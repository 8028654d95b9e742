"""The cross-group blacklist: ids and id globs banned in every watched group.

Entries live in the ``moderation`` database, table ``blacklist``, one keyed
document per pattern, committed on every change (they are precious: never
batched with the engine's state).

A pattern is a platform-qualified member id (``qq:12345``) or a glob on the
qualified id (``telegram:55*``, fnmatch syntax). The platform part is always
literal, so a glob can never reach another platform; a bare ``*``, a glob in
the platform part and an id part made only of wildcards are refused.

``match`` is on the hot path (every join and message): exact ids are one dict
lookup, globs one combined regex per platform.
"""
from __future__ import annotations

import csv
import datetime as dt
import fnmatch
import io
import json
import re
from dataclasses import dataclass, field
from typing import Callable, Iterable

from connectors.contract import Capability
from connectors.events import platform_of
from console.engine.text import neutralise_cell, restore_cell, utf8_safe
from console.engine.durations import iso
from console.engine.actions.model import Action, ActionError, ActionKind, ActionState

DB = "moderation"
TABLE = "blacklist"
ORIGIN = "blacklist"
AUTO = "auto:blacklist"

FIELDS = ("pattern", "reason", "added_by", "added_at", "expires_at", "evidence")
_PLATFORM_RE = re.compile(r"^[a-z][a-z0-9_.-]*$")
_GLOB_CHARS = frozenset("*?[")
MAX_PATTERN = 512
MAX_REASON = 2000

Capabilities = Callable[[str], frozenset]


# --- time ----------------------------------------------------------------------

def _parse_iso(value: object, what: str) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str):
        raise ActionError(f"{what} must be an ISO 8601 time, got {type(value).__name__}")
    try:
        when = dt.datetime.fromisoformat(value.strip().replace("z", "Z"))
    except ValueError:
        raise ActionError(f"{what} {value!r} is not an ISO 8601 time") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when.timestamp()


# --- patterns ------------------------------------------------------------------

def is_glob(pattern: str) -> bool:
    return any(c in _GLOB_CHARS for c in pattern)


def check_pattern(pattern: object) -> str:
    """The pattern, stripped, or ActionError saying what is wrong with it."""
    if not isinstance(pattern, str):
        raise ActionError(f"a blacklist pattern must be text, got {type(pattern).__name__}")
    p = pattern.strip()
    shown = repr(p[:60] + ("…" if len(p) > 60 else ""))
    if not p:
        raise ActionError("empty blacklist pattern: give a member id like qq:12345 or a glob like telegram:55*")
    if len(p) > MAX_PATTERN:
        raise ActionError(f"blacklist pattern {shown} is longer than {MAX_PATTERN} characters")
    if any(ord(c) < 0x20 or ord(c) == 0x7F or c.isspace() for c in p):
        raise ActionError(f"blacklist pattern {shown} holds spaces or control characters")
    if ":" not in p:
        if is_glob(p):
            raise ActionError(f"blacklist pattern {shown} must start with a platform, like qq:1234* "
                              "(a glob over every platform is refused)")
        raise ActionError(f"bad member id {shown}: ids are platform-qualified, like qq:12345 or telegram:777")
    platform, rest = p.split(":", 1)
    if is_glob(platform):
        raise ActionError(f"blacklist pattern {shown}: the platform part {platform!r} must be literal, not a glob")
    if platform.startswith("@") and not is_glob(p):  # a Matrix user id as Matrix writes it: @name:server
        raise ActionError(f"bad member id {shown}: ids start with their platform; "
                          f"did you mean matrix:{p}?")
    if not _PLATFORM_RE.match(platform):
        raise ActionError(f"bad member id {shown}: {platform!r} is not a platform name (like qq, telegram, matrix)")
    if not rest:
        raise ActionError(f"bad member id {shown}: nothing after {platform + ':'!r}")
    if is_glob(rest) and not rest.strip("*?"):
        raise ActionError(f"blacklist pattern {shown} would match every {platform} member; "
                          "a glob must fix at least one character of the id")
    return p


@dataclass(slots=True)
class BlacklistEntry:
    pattern: str
    reason: str = ""
    added_by: str = ""
    added_at: float = 0.0
    expires_at: float | None = None
    evidence: dict = field(default_factory=dict)  # e.g. {"group":..., "message_id":..., "excerpt":..., "alert": id}

    @property
    def is_glob(self) -> bool:
        return is_glob(self.pattern)

    @property
    def platform(self) -> str:
        return platform_of(self.pattern)

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def to_doc(self) -> dict:
        return {"pattern": self.pattern, "reason": self.reason, "added_by": self.added_by,
                "added_at": self.added_at, "expires_at": self.expires_at, "evidence": dict(self.evidence)}

    @classmethod
    def from_doc(cls, d: dict) -> "BlacklistEntry":
        return cls(pattern=d["pattern"], reason=d.get("reason", ""), added_by=d.get("added_by", ""),
                   added_at=d.get("added_at", 0.0), expires_at=d.get("expires_at"),
                   evidence=dict(d.get("evidence") or {}))

    def to_record(self) -> dict:
        """The export form: times as ISO 8601 UTC."""
        return {"pattern": self.pattern, "reason": self.reason, "added_by": self.added_by,
                "added_at": iso(self.added_at), "expires_at": iso(self.expires_at), "evidence": dict(self.evidence)}


def _groups_of(platform: str, groups: Iterable[str]) -> list[str]:
    """The watched groups whose ids are on ``platform``."""
    return [g for g in groups if platform_of(g) == platform]


class Blacklist:
    def __init__(self, store, ledger, clock: Callable[[], float]) -> None:
        self.store = store
        self.ledger = ledger
        self.clock = clock
        self._entries: dict[str, BlacklistEntry] = {}
        self._exact: dict[str, BlacklistEntry] = {}
        # platform -> (combined regex, entries by group index)
        self._globs: dict[str, tuple[re.Pattern[str], list[BlacklistEntry]]] = {}
        self._unusable: list[dict] = []  # hand-edited docs that make no entry: kept on disk, never matched
        for d in store.read_table(DB, TABLE):
            try:
                e = BlacklistEntry.from_doc(d)
                e.pattern = check_pattern(e.pattern)
            except (KeyError, TypeError, AttributeError, ActionError):
                self._unusable.append(d)
                continue
            self._entries[e.pattern] = e
        if self._unusable:
            # Someone the operator meant to keep out is not kept out: never silent.
            first = next((d.get("pattern") for d in self._unusable if isinstance(d, dict)), None)
            getattr(store, "warnings", []).append(
                f"{len(self._unusable)} blacklist record(s) in {DB}.json do not read back (first: pattern "
                f"{first!r}); they are kept in the file but match nobody: fix or re-add them")
        self._reindex()

    # --- lookups ---

    def _reindex(self) -> None:
        self._exact = {p: e for p, e in self._entries.items() if not e.is_glob}
        by_platform: dict[str, list[BlacklistEntry]] = {}
        for e in self._entries.values():
            if e.is_glob:
                by_platform.setdefault(e.platform, []).append(e)
        self._globs = {}
        for platform, entries in by_platform.items():
            combined = "|".join(f"(?P<_bl{i}>{fnmatch.translate(e.pattern)})" for i, e in enumerate(entries))
            self._globs[platform] = (re.compile(combined), entries)

    def match(self, member_id: str, now: float | None = None) -> BlacklistEntry | None:
        """The entry that blacklists ``member_id`` (exact ids first), or None. Expired entries never match."""
        e = self._exact.get(member_id)
        if e is not None:
            if e.expires_at is None or e.expires_at > (self.clock() if now is None else now):
                return e
        globs = self._globs.get(member_id.split(":", 1)[0])
        if globs is None:
            return None
        rx, entries = globs
        m = rx.match(member_id)
        if m is None:
            return None
        if now is None:
            now = self.clock()
        name = m.lastgroup
        if name is not None and name.startswith("_bl"):
            e = entries[int(name[3:])]
            if e.expires_at is None or e.expires_at > now:
                return e
        # The first alternative that matched has expired (or lastgroup was an inner group): look further.
        for e in entries:
            if (e.expires_at is None or e.expires_at > now) and fnmatch.fnmatchcase(member_id, e.pattern):
                return e
        return None

    def get(self, pattern: str) -> BlacklistEntry | None:
        return self._entries.get(pattern.strip())

    def entries(self) -> list[BlacklistEntry]:
        return sorted(self._entries.values(), key=lambda e: (e.added_at, e.pattern))

    def __len__(self) -> int:
        return len(self._entries)

    def preview(self, pattern: str, stats) -> list[tuple[str, str, str]]:
        """(group, member id, member name) of present members ``pattern`` would hit, in group order."""
        p = check_pattern(pattern)
        platform = platform_of(p)
        out: list[tuple[str, str, str]] = []
        glob = is_glob(p)
        rx = re.compile(fnmatch.translate(p)) if glob else None
        for gid in sorted(stats.groups):
            if platform_of(gid) != platform:
                continue
            g = stats.groups[gid]
            if rx is None:
                m = g.members.get(p)
                if m is not None and m.present:
                    out.append((gid, m.id, m.name))
            else:
                for m in g.members.values():
                    if m.present and rx.match(m.id):
                        out.append((gid, m.id, m.name))
        return out

    # --- changes (each committed at once and audited) ---

    def validate(self, entry: BlacklistEntry, now: float | None = None, *, future: bool = True) -> BlacklistEntry:
        """A checked copy of ``entry`` (pattern stripped); ActionError with one line if it is unusable."""
        p = check_pattern(entry.pattern)
        if not isinstance(entry.reason, str):
            raise ActionError("the reason must be text")
        if len(entry.reason) > MAX_REASON:
            raise ActionError(f"the reason is longer than {MAX_REASON} characters")
        if not isinstance(entry.added_by, str):
            raise ActionError("added_by must be text")
        if not isinstance(entry.evidence, dict):
            raise ActionError("evidence must be a JSON object")
        try:
            json.dumps(entry.evidence)
        except (TypeError, ValueError) as e:
            raise ActionError(f"evidence cannot be stored: {e}") from None
        for what, v in (("added_at", entry.added_at), ("expires_at", entry.expires_at)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or v != v
                                  or v in (float("inf"), float("-inf"))):
                raise ActionError(f"{what} must be a time")
        if future and entry.expires_at is not None:
            now = self.clock() if now is None else now
            if entry.expires_at <= now:
                raise ActionError(f"expiry {iso(entry.expires_at)} is not in the future (now {iso(now)})")
        return BlacklistEntry(pattern=p, reason=entry.reason, added_by=entry.added_by,
                              added_at=float(entry.added_at or 0.0),
                              expires_at=None if entry.expires_at is None else float(entry.expires_at),
                              evidence=dict(entry.evidence))

    def add(self, entry: BlacklistEntry, actor: str) -> BlacklistEntry:
        now = self.clock()
        e = self.validate(entry, now)
        e.added_by = e.added_by or actor
        e.added_at = e.added_at or now
        replaced = e.pattern in self._entries
        self._entries[e.pattern] = e
        self.store.put_doc(DB, TABLE, e.pattern, e.to_doc())
        self.store.commit(DB)
        self._reindex()
        params = {"pattern": e.pattern, "reason": e.reason}
        if e.expires_at is not None:
            params["expires_at"] = iso(e.expires_at)
        if e.evidence:
            params["evidence"] = e.evidence
        if replaced:
            params["replaced"] = True
        self.ledger.audit(actor, "blacklist add", member=None if e.is_glob else e.pattern,
                          group=e.evidence.get("group") if isinstance(e.evidence.get("group"), str) else None,
                          params=params, origin=ORIGIN)
        return e

    def _save_all(self) -> None:
        docs = [{**e.to_doc(), "_key": e.pattern} for e in self._entries.values()]
        self.store.replace_table(DB, TABLE, docs + self._unusable)
        self.store.commit(DB)
        self._reindex()

    def remove(self, pattern: str, actor: str) -> BlacklistEntry:
        p = pattern.strip() if isinstance(pattern, str) else pattern
        e = self._entries.get(p)
        if e is None:
            raise ActionError(f"{p!r} is not on the blacklist")
        del self._entries[p]
        self._save_all()
        self.ledger.audit(actor, "blacklist remove", member=None if e.is_glob else e.pattern,
                          params={"pattern": e.pattern, "reason": e.reason}, origin=ORIGIN)
        return e

    def expire(self, now: float, actor: str = "auto:expiry") -> list[BlacklistEntry]:
        gone = [e for e in self._entries.values() if e.expired(now)]
        if not gone:
            return []
        for e in gone:
            del self._entries[e.pattern]
        self._save_all()
        for e in gone:
            self.ledger.audit(actor, "blacklist expire", member=None if e.is_glob else e.pattern,
                              params={"pattern": e.pattern, "expires_at": iso(e.expires_at)}, origin=ORIGIN)
        return gone

    # --- actions ---

    @staticmethod
    def _removal_kind(caps: frozenset) -> ActionKind | None:
        if Capability.BAN in caps:
            return ActionKind.BAN
        if Capability.KICK in caps:
            return ActionKind.KICK
        return None

    def enforcement(self, entry: BlacklistEntry, stats, groups: Iterable[str],
                    capabilities: Capabilities) -> list[Action]:
        """Kick everywhere: the actions that carry out ``entry`` across the fleet.

        An exact id is banned in every watched group of its platform, present or
        not, so it cannot join later (kicked where the platform cannot ban and
        the member is present; left alone where it can do neither). A glob acts
        on each matching present member. Keys include ``added_at``, so running
        this again for the same entry never acts twice.
        """
        reason = entry.reason or f"blacklisted ({entry.pattern})"
        out: list[Action] = []

        def action(kind: ActionKind, group: str, member: str) -> Action:
            return Action(kind=kind, group=group, member=member, reason=reason, origin=ORIGIN,
                          until=entry.expires_at if kind is ActionKind.BAN else None,
                          key=f"blacklist:{entry.pattern}:{group}:{member}:{entry.added_at!r}")

        if entry.is_glob:
            for group, member, _name in self.preview(entry.pattern, stats):
                kind = self._removal_kind(capabilities(group))
                if kind is not None:
                    out.append(action(kind, group, member))
            return out
        member = entry.pattern
        for group in _groups_of(entry.platform, groups):
            kind = self._removal_kind(capabilities(group))
            if kind is ActionKind.KICK:
                ms = stats.member(group, member) if stats is not None else None
                if ms is None or not ms.present:
                    continue  # a kick only removes who is there; nothing to do
            if kind is not None:
                out.append(action(kind, group, member))
        return out

    def lifting(self, entry: BlacklistEntry, groups: Iterable[str],
                capabilities: Capabilities) -> list[Action]:
        """The unbans that undo ``entry``: for an id, in every group of its platform whose
        connector can unban; for a glob, wherever this entry banned someone (from the ledger)."""
        targets: list[tuple[str, str]] = []
        if entry.is_glob:
            prefixes = (f"blacklist:{entry.pattern}:", f"blacklist-join:{entry.pattern}:")
            rx = re.compile(fnmatch.translate(entry.pattern))
            seen = set()
            for a in self.ledger.actions():
                if a.kind is not ActionKind.BAN or not a.member or (a.group, a.member) in seen:
                    continue
                if a.state in (ActionState.FAILED, ActionState.REFUSED):
                    continue
                # Its own bans, and automatic ones (on join or message) of members it matches.
                if a.key.startswith(prefixes) or (a.origin == AUTO and rx.match(a.member)):
                    seen.add((a.group, a.member))
                    targets.append((a.group, a.member))
        else:
            targets = [(g, entry.pattern) for g in _groups_of(entry.platform, groups)]
        return [Action(kind=ActionKind.UNBAN, group=g, member=m, reason=f"blacklist entry {entry.pattern} lifted",
                       origin=ORIGIN, key=f"blacklist-lift:{entry.pattern}:{g}:{m}:{entry.added_at!r}")
                for g, m in targets if Capability.UNBAN in capabilities(g)]

    def on_join(self, group: str, member: str, now: float,
                capabilities: frozenset | None = None) -> Action | None:
        """Auto-kick on (re)join: a BAN (KICK where ``capabilities`` lack BAN) for a blacklisted member."""
        e = self.match(member, now)
        if e is None:
            return None
        kind = ActionKind.BAN if capabilities is None else self._removal_kind(capabilities)
        if kind is None:
            return None
        return Action(kind=kind, group=group, member=member,
                      reason=e.reason or f"blacklisted ({e.pattern})", origin=AUTO, actor=AUTO,
                      until=e.expires_at if kind is ActionKind.BAN else None,
                      key=f"blacklist-join:{e.pattern}:{group}:{member}:{now!r}")

    # --- import / export ---

    def export(self, fmt: str) -> str:
        """The entries as CSV or JSON text. JSON round-trips every string exactly; CSV (for
        spreadsheets) neutralises formula starts reversibly and turns lone surrogates into U+FFFD."""
        records = [e.to_record() for e in self.entries()]
        if fmt == "json":
            from console.engine.text import json_line

            return json_line(records) + "\n"
        if fmt != "csv":
            raise ActionError(f"unknown format {fmt!r}: use csv or json")
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=FIELDS, lineterminator="\n")
        w.writeheader()
        for r in records:
            r["evidence"] = json.dumps(r["evidence"], ensure_ascii=False, separators=(",", ":")) \
                if r["evidence"] else ""
            for k in ("reason", "added_by", "evidence"):
                r[k] = neutralise_cell(r[k])
            w.writerow(r)
        return utf8_safe(buf.getvalue())

    def import_text(self, text: str, fmt: str, actor: str) -> int:
        """Add (or replace) every entry in ``text``; all or nothing. Returns how many."""
        if fmt == "csv":
            rows = _csv_rows(text)
        elif fmt == "json":
            rows = _json_rows(text)
        else:
            raise ActionError(f"unknown format {fmt!r}: use csv or json")
        now = self.clock()
        parsed: list[BlacklistEntry] = []
        where_seen: dict[str, str] = {}
        for where, row in rows:
            try:
                e = self._from_record(row, now)
            except ActionError as err:
                raise ActionError(f"{where}: {err}; nothing imported") from None
            if e.pattern in where_seen:
                raise ActionError(f"{where}: {e.pattern!r} already appears at {where_seen[e.pattern]}; "
                                  "nothing imported")
            where_seen[e.pattern] = where
            parsed.append(e)
        for e in parsed:
            self._entries[e.pattern] = e
        self._save_all()
        self.ledger.audit(actor, "blacklist import", params={"count": len(parsed), "format": fmt,
                                                             "patterns": [e.pattern for e in parsed]},
                          origin=ORIGIN)
        return len(parsed)

    def _from_record(self, row: dict, now: float) -> BlacklistEntry:
        unknown = sorted(k for k in row if k not in FIELDS)
        if unknown:
            raise ActionError(f"unknown field {unknown[0]!r} (fields: {', '.join(FIELDS)})")
        if "pattern" not in row or row["pattern"] in (None, ""):
            raise ActionError("no pattern")
        pattern = check_pattern(row["pattern"])
        reason = row.get("reason") or ""
        added_by = row.get("added_by") or ""
        if not isinstance(reason, str) or not isinstance(added_by, str):
            raise ActionError("reason and added_by must be text")
        added_at = _parse_iso(row["added_at"], "added_at") if row.get("added_at") not in (None, "") else now
        expires_at = _parse_iso(row["expires_at"], "expires_at") if row.get("expires_at") not in (None, "") \
            else None
        evidence = row.get("evidence")
        if evidence in (None, ""):
            evidence = {}
        elif isinstance(evidence, str):
            try:
                evidence = json.loads(evidence)
            except ValueError as err:
                raise ActionError(f"evidence is not valid JSON ({err})") from None
        if not isinstance(evidence, dict):
            raise ActionError("evidence must be a JSON object")
        e = BlacklistEntry(pattern=pattern, reason=reason, added_by=added_by, added_at=added_at,
                           expires_at=expires_at, evidence=evidence)
        # An already expired entry is kept as history: it never matches and expire() drops it.
        return self.validate(e, now, future=False)


def _csv_rows(text: str) -> list[tuple[str, dict]]:
    if text.startswith("\ufeff"):
        text = text[1:]  # spreadsheets write a BOM
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
    except csv.Error as e:
        raise ActionError(f"line 1: not CSV ({e}); nothing imported") from None
    if header is None:
        return []
    header = [h.strip() for h in header]
    if "pattern" not in header:
        raise ActionError(f"line 1: the header has no 'pattern' column (columns: {', '.join(FIELDS)}); "
                          "nothing imported")
    unknown = [h for h in header if h not in FIELDS]
    if unknown:
        raise ActionError(f"line 1: unknown column {unknown[0]!r} (columns: {', '.join(FIELDS)}); nothing imported")
    if len(set(header)) != len(header):
        raise ActionError("line 1: a column appears twice in the header; nothing imported")
    out: list[tuple[str, dict]] = []
    line = reader.line_num
    while True:
        start = line + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            raise ActionError(f"line {start}: bad CSV ({e}); nothing imported") from None
        line = reader.line_num
        if not cells or all(not c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            raise ActionError(f"line {start}: {len(cells)} cells where the header has {len(header)}; "
                              "nothing imported")
        row = {h: restore_cell(c) if h in ("reason", "added_by", "evidence") else c for h, c in zip(header, cells)}
        out.append((f"line {start}", row))
    return out


def _json_rows(text: str) -> list[tuple[str, dict]]:
    try:
        data = json.loads(text)
    except ValueError as e:
        raise ActionError(f"not valid JSON ({e}); nothing imported") from None
    if isinstance(data, dict) and isinstance(data.get("entries"), list):
        data = data["entries"]
    if not isinstance(data, list):
        raise ActionError("expected a JSON array of entries; nothing imported")
    out: list[tuple[str, dict]] = []
    for i, item in enumerate(data, 1):
        if not isinstance(item, dict):
            raise ActionError(f"entry {i}: expected an object, found {type(item).__name__}; nothing imported")
        out.append((f"entry {i}", item))
    return out
