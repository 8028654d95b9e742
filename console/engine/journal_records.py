"""The journal's records: framing and checksums, and documents with their keys (see
console.engine.journal for the format and its promises)."""
from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from typing import Any, Iterator

from console.engine.store_codec import encode_doc

Key = str | int  # a document's "_key", or its doc id for documents without one


class Later:
    """A document made when it is encoded, in the committing thread, by ``make(*args)`` (None: the
    document is deleted). ``args`` is a snapshot taken on the event loop where the change was picked
    up (values that nobody changes afterwards), so the loop pays for a tuple, not for the document."""

    __slots__ = ("make", "args")

    def __init__(self, make, *args: Any) -> None:
        self.make = make
        self.args = args

    def doc(self) -> dict | None:
        return self.make(*self.args)


@dataclass(slots=True)
class Changes:
    """One table's changes since the last commit. ``docs`` maps key -> document (None: deleted)."""

    cleared: bool = False
    docs: dict[Key, Any] = field(default_factory=dict)


def encode_record(seq: int, changes: dict[str, Changes]) -> bytes:
    """One commit's record: its (encoded) changes, framed and checksummed."""
    lines = []
    for name, ch in changes.items():
        t = encode_doc(name)
        if ch.cleared:
            lines.append(f"C\t{t}")
        for k, text in ch.docs.items():
            lines.append(f"P\t{t}\t{encode_doc(k)}\t{text}" if text is not None else f"D\t{t}\t{encode_doc(k)}")
    body = (f"R\t{seq}\t{len(lines)}\n" + "".join(line + "\n" for line in lines)).encode("ascii")
    return body + f"E\t{zlib.crc32(body):08x}\n".encode("ascii")


def decode_record(raw: bytes, pos: int) -> tuple[int, dict[str, Changes], int]:
    """The record at ``pos``, only if whole and good: (seq, its changes with documents as JSON text,
    the offset after it). BadRecord says what is wrong."""
    seq, lines, cur = frame(raw, pos)
    changes: dict[str, Changes] = {}
    try:
        for line in lines:
            parts = line.decode("ascii").split("\t", 3)
            ch = changes.setdefault(json.loads(parts[1]), Changes())
            if parts[0] == "C":
                ch.cleared, ch.docs = True, {}
            elif parts[0] == "P":
                ch.docs[key_of(json.loads(parts[2]))] = parts[3]
            elif parts[0] == "D":
                ch.docs[key_of(json.loads(parts[2]))] = None
            else:
                raise ValueError(f"unknown line {parts[0]!r}")
    except (ValueError, IndexError, UnicodeDecodeError) as e:
        raise BadRecord(f"record {seq}: {e}") from None
    return seq, changes, cur


class BadRecord(Exception):
    pass


def frame(raw: bytes, pos: int) -> tuple[int, list[bytes], int]:
    """The record at ``pos``, checked whole with its checksum: (seq, its lines, the offset after it)."""
    nl = raw.find(b"\n", pos)
    if nl < 0:
        raise BadRecord("cut short")
    head = raw[pos:nl].split(b"\t")
    if len(head) != 3 or head[0] != b"R":
        raise BadRecord("not a record start")
    try:
        seq, count = int(head[1]), int(head[2])
    except ValueError:
        raise BadRecord("bad record start") from None
    lines: list[bytes] = []
    cur = nl + 1
    for _ in range(count + 1):
        nl = raw.find(b"\n", cur)
        if nl < 0:
            raise BadRecord("cut short")
        lines.append(raw[cur:nl])
        cur = nl + 1
    end = lines.pop()
    if not end.startswith(b"E\t"):
        raise BadRecord("no end line")
    if f"{zlib.crc32(raw[pos:cur - len(end) - 1]):08x}".encode() != end[2:]:
        raise BadRecord("checksum mismatch")
    return seq, lines, cur


def more_records(raw: bytes, pos: int) -> bool:
    """True if a whole, good record starts somewhere after ``pos`` (so the bad one is not a torn tail)."""
    i = raw.find(b"\nR\t", pos)
    while i >= 0:
        try:
            frame(raw, i + 1)
            return True
        except BadRecord:
            i = raw.find(b"\nR\t", i + 1)
    return False


def decoded(doc: Any, key: Key) -> dict | None:
    """A stored document as a new dict (None: a Later that made none)."""
    if isinstance(doc, str):
        return json.loads(doc)
    if type(doc) is Later:
        doc = doc.doc()
        if doc is None:
            return None
    out = dict(doc)
    if isinstance(key, str) and "_key" not in out:
        out["_key"] = key
    return out


def encode_keyed(doc: dict | Later, key: Key) -> str | None:
    """The document's JSON text, with its str key as ``"_key"`` (added to the text, not the dict);
    None for a Later that made no document (a deletion)."""
    if type(doc) is Later:
        doc = doc.doc()
        if doc is None:
            return None
    if not isinstance(key, str):
        return encode_doc(doc)
    if "_key" in doc:
        return encode_doc(doc if doc["_key"] == key else {**doc, "_key": key})
    text = encode_doc(doc)
    return f'{text[:-1]}{"," if doc else ""}"_key":{encode_doc(key)}}}'


def key_of(k: Any) -> Key:
    if isinstance(k, bool) or not isinstance(k, (str, int)):
        raise ValueError(f"bad key {k!r}")
    return k


def doc_key(doc_id: str, doc: dict, taken: dict) -> Key:
    key = doc.get("_key") if isinstance(doc, dict) else None
    if isinstance(key, str):
        return key
    try:
        n = int(doc_id)
    except ValueError:
        n = 0
    if n <= 0 or n in taken:
        n = max((k for k in taken if isinstance(k, int)), default=0) + 1
    return n


def numbered(items: list[tuple[Key, dict]]) -> Iterator[tuple[int, dict]]:
    top = max((k for k, _ in items if isinstance(k, int)), default=0)
    for k, doc in items:
        if isinstance(k, int):
            yield k, doc
        else:
            top += 1
            yield top, doc
