"""A TinyDB storage whose commits cost what changed: an append-only journal over a base file.

``<name>.json`` is the base: the same ASCII JSON of {table: {doc id: document}}
as every other state file (so an old data dir is read as it is, and any tool
can read it). ``<name>.journal`` holds the commits made since that base, one
record each, appended and fsynced: a commit writes the documents that changed,
not the database. Once the journal is twice the size of the base (or when the store
closes), the base is rewritten from memory (atomically, as every state file:
temporary file, fsync, the old one kept as ``.prev``, rename) and a fresh
journal started; both run in the thread that commits, never on the event loop.

Records::

    R<TAB>seq<TAB>lines            one commit
    C<TAB>"table"                  the table was replaced whole (what follows is all of it)
    P<TAB>"table"<TAB>key<TAB>doc  a document put (key: a JSON string, or a number for unkeyed docs)
    D<TAB>"table"<TAB>key          a document deleted
    E<TAB>crc32                    end: CRC-32 (8 hex digits) of the record's bytes before this line

A record counts only when whole with a good checksum. A torn last record (a
kill or power loss in the middle of an append) is dropped; a bad record with
good ones after it is damage: :class:`StoreDamaged` naming the journal, unless
recovering, which keeps a copy aside and uses the records before it. The
journal's first line names the CRC-32 of the base it applies to: a journal
left over from a compaction cut short (it matches the ``.prev`` base) is
dropped; one that matches neither is set aside with a warning.

In memory the store keeps each document as its encoded JSON text (about the
size of the file), not as Python objects, and documents changed since the last
commit as the dicts they were given (encoded in the committing thread).
"""
from __future__ import annotations

import json
import os
import shutil
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from console.engine.journal_records import (BadRecord, Changes, Key, Later, decode_record, decoded, doc_key,
                                            encode_record, encode_keyed, more_records, numbered)
from console.engine.store_codec import encode_doc
from console.engine.store_files import (AtomicJSONStorage, StoreDamaged, StoreError, _aside_name, _fsync_dir,
                                        _one_line, _unlink_quietly, _why, write_all, RECOVER_HINT)

__all__ = ["JournalStorage", "journal_path"]

COMPACT_MIN_BYTES = 8 << 20  # the journal is folded into the base once bigger than this and twice the base
CHUNK_CHARS = 1 << 20  # the base is encoded and written in pieces this big, so no step holds the GIL long
HEADER = "J\t"


def journal_path(path: Path) -> Path:
    """``state.json`` -> ``state.journal``."""
    return path.with_name(path.name.removesuffix(".json") + ".journal")


class JournalStorage(AtomicJSONStorage):
    """See the module docstring. Keyed access (``get``/``put``/``delete``/``replace``/``all``) is
    what :class:`console.engine.store.Store` uses; ``read``/``write`` serve TinyDB's own API (whole
    database, slow, for completeness)."""

    def __init__(self, path: str | Path, *, recover: bool = False, warnings: list[str] | None = None,
                 lock: threading.RLock | None = None, compact_bytes: int = COMPACT_MIN_BYTES) -> None:
        super().__init__(path, recover=recover, warnings=warnings)
        self.journal = journal_path(self.path)
        self.lock = lock if lock is not None else threading.RLock()
        self._flush_lock = threading.Lock()
        self.compact_bytes = compact_bytes
        self.tables: dict[str, dict[Key, str]] = {}
        self.pending: dict[str, Changes] = {}
        self._inflight: dict[str, Changes] | None = None
        self._fd: int | None = None  # the journal, open for appending; None: the next commit writes a base
        self.journal_bytes = 0
        self.base_bytes = 0
        self._seq = 0
        self.appended = 0  # records appended by this process (a close compacts only after some)
        self.closed = False
        self.docs_written = 0  # documents put or deleted by commits (tests count them, not time)
        base, self._initial = self._initial or {}, None
        try:
            self.base_bytes = self.path.stat().st_size
        except OSError:
            self.base_bytes = 0
        for name, docs in base.items():
            table = self.tables[name] = {}
            for doc_id, doc in docs.items():
                table[doc_key(doc_id, doc, table)] = encode_doc(doc)
        del base
        self._replay(recover)

    # --- opening

    def _replay(self, recover: bool) -> None:
        try:
            raw = self.journal.read_bytes()
        except FileNotFoundError:
            return
        except OSError as e:
            raise StoreError(f"cannot read journal {self.journal}: {_why(e)}") from e
        nl = raw.find(b"\n")
        header = raw[:nl] if nl >= 0 else b""
        try:
            if not header.startswith(HEADER.encode()):
                raise ValueError("no header")
            base_crc = json.loads(header[len(HEADER):])["base_crc"]
        except (ValueError, KeyError, TypeError) as e:
            self._damaged(raw, 0, f"its first line is not a journal header ({e})", recover)
            return
        if base_crc != self.file_crc:
            self._stale(base_crc)
            return
        pos = nl + 1
        while pos < len(raw):
            try:
                pos = self._apply_record(raw, pos)
            except BadRecord as bad:
                if more_records(raw, pos):
                    self._damaged(raw, pos, str(bad), recover)
                else:
                    self._truncate_torn(pos)
                break
        self.journal_bytes = min(pos, len(raw))
        if self.journal_bytes:
            self._fd = self._open_journal()

    def _apply_record(self, raw: bytes, pos: int) -> int:
        """Apply the record at ``pos`` (only if whole and good); the offset after it."""
        seq, changes, cur = decode_record(raw, pos)
        self._apply(changes)
        self._seq = max(self._seq, seq)
        return cur

    def _stale(self, base_crc: int) -> None:
        try:
            prev_crc = zlib.crc32(self.prev_path.read_bytes())
        except OSError:
            prev_crc = None
        if base_crc == prev_crc:
            # A compaction cut short after its new base was in place: everything here is in that base.
            _unlink_quietly(self.journal)
            return
        aside = _aside_name(self.journal, ".stale")
        os.replace(self.journal, aside)
        self.warnings.append(_one_line(f"journal {self.journal} belongs to another version of {self.path.name} "
                                       f"(restored or edited by hand?); its changes were not applied and it was "
                                       f"moved to {aside.name}"))

    def _damaged(self, raw: bytes, pos: int, problem: str, recover: bool) -> None:
        if not recover:
            raise StoreDamaged(f"journal {self.journal} is damaged (at byte {pos}: {problem}); it was left "
                               f"untouched; {RECOVER_HINT}")
        aside = _aside_name(self.journal, ".damaged")
        shutil.copyfile(self.journal, aside)  # a copy, not a link: the journal is cut back next
        self.warnings.append(_one_line(f"journal {self.journal} was damaged (at byte {pos}: {problem}); kept a "
                                       f"copy as {aside.name} and used the changes before it"))
        if pos == 0:
            _unlink_quietly(self.journal)
        else:
            self._truncate_torn(pos)

    def _truncate_torn(self, pos: int) -> None:
        try:
            os.truncate(self.journal, pos)
        except OSError as e:
            raise StoreError(f"cannot repair journal {self.journal}: {_why(e)}") from e

    def _open_journal(self) -> int:
        return os.open(self.journal, os.O_WRONLY | os.O_APPEND | getattr(os, "O_CLOEXEC", 0))

    # --- keyed access (under ``lock``)

    def _layers(self, table: str) -> list[Changes]:
        """This table's uncommitted changes, oldest first, from the last whole replacement on."""
        layers = [c for c in (self._inflight and self._inflight.get(table), self.pending.get(table)) if c]
        for i in range(len(layers) - 1, -1, -1):
            if layers[i].cleared:
                return layers[i:]
        return layers

    def get(self, table: str, key: Key) -> dict | None:
        with self.lock:
            layers = self._layers(table)
            for ch in reversed(layers):
                if key in ch.docs:
                    doc = ch.docs[key]
                    return decoded(doc, key) if doc is not None else None  # (None too: a Later of none)
            if layers and layers[0].cleared:
                return None
            text = self.tables.get(table, {}).get(key)
            return json.loads(text) if text is not None else None

    def all(self, table: str) -> list[dict]:
        with self.lock:
            layers = self._layers(table)
            merged: dict[Key, Any] = {} if layers and layers[0].cleared else dict(self.tables.get(table, {}))
            for ch in layers:
                merged.update(ch.docs)
            return [doc for k, d in merged.items() if d is not None and (doc := decoded(d, k)) is not None]

    def put(self, table: str, key: Key, doc: dict) -> None:
        """Store ``doc`` (the caller's to give: it is kept, not copied) under ``key``; a str key is
        saved in it as ``"_key"``."""
        with self.lock:
            ch = self.pending.get(table)
            if ch is None:
                ch = self.pending[table] = Changes()
            ch.docs[key] = doc

    def put_many(self, table: str, docs: dict[Key, dict | None]) -> None:
        """``put`` (or, for None, ``delete``) each of ``docs``, which are kept, not copied."""
        with self.lock:
            ch = self.pending.get(table)
            if ch is None:
                ch = self.pending[table] = Changes()
            ch.docs.update(docs)

    def delete(self, table: str, key: Key) -> None:
        with self.lock:
            ch = self.pending.get(table)
            if ch is None:
                ch = self.pending[table] = Changes()
            ch.docs[key] = None

    def replace(self, table: str, docs: list[dict]) -> None:
        """The whole table becomes ``docs`` (kept, not copied); documents with a str ``_key`` are keyed by it."""
        with self.lock:
            ch = self.pending[table] = Changes(cleared=True)
            n = 0
            for doc in docs:
                key = doc.get("_key") if type(doc) is not Later else None
                if not isinstance(key, str):
                    n += 1
                    key = n
                ch.docs[key] = doc

    @property
    def dirty(self) -> bool:
        return bool(self.pending)

    # --- TinyDB's Storage API: the whole database at once

    def read(self) -> dict | None:
        with self.lock:
            names = set(self.tables) | set(self.pending) | set(self._inflight or ())
            out = {}
            for name in names:
                out[name] = {str(i): doc for i, doc in numbered(self._all_keyed(name))}
            return out or None

    def _all_keyed(self, table: str) -> list[tuple[Key, dict]]:
        layers = self._layers(table)
        merged: dict[Key, Any] = {} if layers and layers[0].cleared else dict(self.tables.get(table, {}))
        for ch in layers:
            merged.update(ch.docs)
        return [(k, doc) for k, d in merged.items() if d is not None and (doc := decoded(d, k)) is not None]

    def write(self, data: dict) -> None:
        with self.lock:
            for name in set(self.tables) | set(self.pending):
                if name not in data:
                    self.pending[name] = Changes(cleared=True)
            for name, docs in data.items():
                ch = self.pending[name] = Changes(cleared=True)
                for doc_id, doc in docs.items():
                    ch.docs[doc_key(doc_id, doc, ch.docs)] = dict(doc)

    # --- committing (any thread; one at a time)

    def commit(self) -> bool:
        """Append the changes since the last commit as one record (or write a new base when there is
        none yet, or when the journal outgrew it). True if something was written."""
        with self._flush_lock:
            with self.lock:
                if not self.pending:
                    return False
                if self.closed:
                    raise StoreError(f"cannot save {self.path}: the store was closed")
                batch, self.pending = self.pending, {}
                self._inflight = batch
            try:
                encoded = self._encode(batch)
                with self.lock:
                    undo = self._apply(encoded)
                try:
                    if self._fd is None:
                        self._write_base()
                    else:
                        self._append(encoded)
                except BaseException:
                    with self.lock:
                        self._undo(undo)
                    raise
            except BaseException:
                with self.lock:
                    self._restore(batch)
                    self._inflight = None
                raise
            with self.lock:
                self._inflight = None
            self.docs_written += sum(len(ch.docs) for ch in encoded.values())
            if self.journal_bytes > max(self.compact_bytes, 2 * self.base_bytes):
                self.compact_quietly()
            return True

    def compact_quietly(self) -> None:
        """Fold the journal into a new base; a failure (a full disk) leaves the journal as it was,
        which holds every commit: it is said in the warnings and tried again after the next commit."""
        try:
            self._write_base()
        except StoreError as e:
            self.warnings.append(_one_line(f"could not compact {self.path.name}: {e}"))

    def compact(self) -> None:
        """Write a new base from memory and start a fresh journal (after a commit: call under no lock)."""
        with self._flush_lock:
            self._write_base()

    def _encode(self, batch: dict[str, Changes]) -> dict[str, Changes]:
        out = {}
        try:
            for name, ch in batch.items():
                out[name] = Changes(ch.cleared, {k: (encode_keyed(d, k) if d is not None else None)
                                                  for k, d in ch.docs.items()})
        except (TypeError, ValueError, RecursionError) as e:
            raise StoreError(f"cannot save {self.path}: {e}") from e
        return out

    def _apply(self, changes: dict[str, Changes]) -> list[tuple[str, Any]]:
        """Make ``changes`` (encoded) part of ``tables``; what undoes it."""
        undo: list[tuple[str, Any]] = []
        for name, ch in changes.items():
            table = self.tables.get(name)
            if ch.cleared or table is None:
                undo.append((name, table))  # the whole old table (or None: there was none)
                table = self.tables[name] = {}
            else:
                undo.append((name, _Partial({k: table.get(k, _ABSENT) for k in ch.docs})))
            for k, text in ch.docs.items():
                if text is None:
                    table.pop(k, None)
                else:
                    table[k] = text
        return undo

    def _undo(self, undo: list[tuple[str, Any]]) -> None:
        for name, old in reversed(undo):
            if isinstance(old, _Partial):
                table = self.tables[name]
                for k, text in old.docs.items():
                    if text is _ABSENT:
                        table.pop(k, None)
                    else:
                        table[k] = text
            elif old is None:
                self.tables.pop(name, None)
            else:
                self.tables[name] = old

    def _restore(self, batch: dict[str, Changes]) -> None:
        """A failed commit: its changes go back under the ones made since (which are newer)."""
        for name, old in batch.items():
            new = self.pending.get(name)
            if new is None:
                self.pending[name] = old
            elif not new.cleared:
                old.docs.update(new.docs)
                self.pending[name] = old

    def _append(self, encoded: dict[str, Changes]) -> None:
        self._seq += 1
        record = encode_record(self._seq, encoded)
        fd = self._fd
        assert fd is not None
        try:
            write_all(fd, record)
            os.fsync(fd)
        except OSError as e:
            try:
                os.ftruncate(fd, self.journal_bytes)  # never leave a torn record before the next one
            except OSError:
                self._close_fd()  # cannot repair in place: the next commit writes a whole new base
            raise StoreError(f"cannot save {self.path}: {_why(e)}; the previous save is intact") from e
        self.journal_bytes += len(record)
        self.appended += 1

    def _base_chunks(self) -> Iterator[bytes]:
        parts: list[str] = ["{"]
        size = 0
        first_table = True
        for name, table in self.tables.items():
            parts.append(("" if first_table else ",") + encode_doc(name) + ":{")
            first_table = False
            ids = (max((k for k in table if isinstance(k, int)), default=0))
            first = True
            for k, text in table.items():
                if isinstance(k, int):
                    doc_id = k
                else:
                    ids += 1
                    doc_id = ids
                parts.append(f'{"" if first else ","}"{doc_id}":{text}')
                first = False
                size += len(text)
                if size >= CHUNK_CHARS:
                    yield "".join(parts).encode("ascii")
                    parts, size = [], 0
            parts.append("}")
        parts.append("}")
        yield "".join(parts).encode("ascii")

    def _write_base(self) -> None:
        """A new base from ``tables`` and an empty journal for it. Call holding the flush lock."""
        self._write_chunks(self._base_chunks())
        try:
            self.base_bytes = self.path.stat().st_size
        except OSError:
            pass
        self._close_fd()
        header = (HEADER + json.dumps({"base_crc": self.file_crc}) + "\n").encode("ascii")
        tmp = self.dir / f".{self.journal.name}.tmp-{os.getpid()}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o600)
            try:
                write_all(fd, header)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.journal)
        except OSError as e:
            _unlink_quietly(tmp)
            # The base holds everything: the old journal no longer matches it and is dropped on open.
            raise StoreError(f"cannot save {self.path}: {_why(e)}; the previous save is intact") from e
        _fsync_dir(self.dir)
        self._fd = self._open_journal()
        self.journal_bytes = len(header)

    def _close_fd(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass

    def _remove_stale_temps(self) -> None:
        super()._remove_stale_temps()
        for stale in self.dir.glob(f".{self.path.name.removesuffix('.json')}.journal.tmp-*"):
            _unlink_quietly(stale)

    def close(self, compact: bool = True) -> None:
        """After the last commit: fold this session's journal into the base, so a data dir at rest
        is one plain JSON file per database (a failure leaves the journal, which is read on open)."""
        if compact and self.appended and not self.pending:
            with self._flush_lock:
                self.compact_quietly()
        self._close_fd()
        self.closed = True


class _Absent:
    __slots__ = ()


_ABSENT = _Absent()


@dataclass(slots=True)
class _Partial:
    docs: dict
