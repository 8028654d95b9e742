"""Durable state: TinyDB databases saved with atomic, batched writes.

One JSON file per database (``<data dir>/<name>.json``). Changes stay in memory
until :meth:`Store.commit`, which writes each changed database once, atomically
(see :mod:`console.engine.store_files`): a ``kill -9`` or power loss at any
moment leaves the last committed state readable, and a damaged file is never
replaced silently.

A database opted into the journal (:meth:`Store.journal`: the engine's state,
whose fleet-sized tables change a little at every checkpoint) is written as a
journal of the documents that changed instead (see
:mod:`console.engine.journal`): a commit then costs what changed, not the size
of the database.

Only one process may use a data dir at a time: an exclusive ``flock`` on
``<data dir>/lock`` (which holds the owner's pid) is taken on open and released
on :meth:`Store.close` or when the process dies.
"""
from __future__ import annotations

import errno
import fcntl
import os
import re
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from tinydb import TinyDB

from console.engine import allocator
from console.engine.journal import JournalStorage, journal_path
from console.engine.journal_records import Later
from console.engine.store_codec import decode_state, encode_state
from console.engine.store_files import (RECOVER_HINT, AtomicJSONStorage, CommitMiddleware, RecordsDamaged,
                                        StoreDamaged, StoreError, StoreLocked, _why, set_aside)

__all__ = [
    "AtomicJSONStorage",
    "CommitMiddleware",
    "JournalStorage",
    "Later",
    "RecordsDamaged",
    "Store",
    "StoreDamaged",
    "StoreError",
    "StoreLocked",
    "decode_state",
    "encode_state",
    "set_aside",
]

LOCK_FILE = "lock"
_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*$")


def _write_all(fd: int, payload: bytes) -> None:
    """Write all of ``payload`` to ``fd``. Every state write goes through this one function (see
    ``store_files.write_all``): tests replace it to simulate a full disk."""
    view = memoryview(payload)
    while view:
        n = os.write(fd, view)
        view = view[n:]


class _KeyIndex:
    __slots__ = ("raw", "ids", "max_id")

    def __init__(self, raw: dict) -> None:
        self.raw = raw
        self.ids: dict[str, str] = {}
        self.max_id = 0
        for doc_id, doc in raw.items():
            try:
                self.max_id = max(self.max_id, int(doc_id))
            except ValueError:
                pass
            key = doc.get("_key") if isinstance(doc, dict) else None
            if isinstance(key, str):
                self.ids[key] = doc_id


class Store:
    """The data dir: a lock plus one TinyDB (one JSON file) per name.

    Not a database server: one thread should mutate it (the engine); ``commit``
    may run on another thread as long as mutations go through this class.
    """

    def __init__(self, data_dir: Path, *, recover: bool = False) -> None:
        self.data_dir = Path(data_dir).expanduser()
        self.recover = recover
        self.warnings: list[str] = []
        self._lock = threading.RLock()
        self._dbs: dict[str, TinyDB] = {}
        self._mws: dict[str, CommitMiddleware] = {}
        self._journals: dict[str, JournalStorage] = {}
        self._journaled: set[str] = set()  # names opted into the journal (see journal())
        self._indexes: dict[tuple[str, str], _KeyIndex] = {}
        self._lock_fd: int | None = None
        self._closed = False
        self._held: dict[str, bool] | None = None  # commits held by deferred(): name -> asked for
        self._make_dir()
        self._take_lock()

    # --- opening

    def _make_dir(self) -> None:
        d = self.data_dir
        try:
            if not d.is_dir():
                d.mkdir(mode=0o700, parents=True, exist_ok=True)
                os.chmod(d, 0o700)
        except FileExistsError as e:
            raise StoreError(f"cannot use data dir {d}: a file of that name exists") from e
        except OSError as e:
            raise StoreError(f"cannot create data dir {d}: {_why(e)}") from e

    def _take_lock(self) -> None:
        path = self.data_dir / LOCK_FILE
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
        except OSError as e:
            raise StoreError(f"cannot open lock file {path}: {_why(e)}") from e
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            owner = _read_pid(fd)
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                pid = f"pid {owner}" if owner else "pid unknown"
                raise StoreLocked(f"data dir {self.data_dir} is in use by another groupwatch ({pid})") from e
            raise StoreError(f"cannot lock data dir {self.data_dir}: {_why(e)}") from e
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError:
            pass  # the pid is informational only
        self._lock_fd = fd

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"the store for {self.data_dir} is closed")

    def path(self, name: str) -> Path:
        """The JSON file of database ``name``."""
        if not _NAME_RE.match(name):
            raise ValueError(f"invalid database name {name!r} (letters, digits, '_' and '-' only)")
        return self.data_dir / f"{name}.json"

    def journal(self, name: str) -> None:
        """Write database ``name`` as a journal of changed documents (see :mod:`console.engine.journal`)
        from now on. Call before its first use; a database with a journal on disk is always read as one."""
        # A journaled database is a long-running engine's: the allocator is set for that first (its
        # commits make big transient buffers in a thread; see console.engine.allocator).
        allocator.tune()
        with self._lock:
            self._journaled.add(name)  # (already open as a plain file: it stays one until reopened)

    def db(self, name: str) -> TinyDB:
        """The TinyDB for ``name``, opened on first use (may raise StoreDamaged)."""
        with self._lock:
            self._check_open()
            tdb = self._dbs.get(name)
            if tdb is None:
                path = self.path(name)
                if name in self._journaled or journal_path(path).exists():
                    js = JournalStorage(path, recover=self.recover, warnings=self.warnings, lock=self._lock)
                    tdb = TinyDB(storage=lambda: js)
                    self._journals[name] = js
                else:
                    mw = CommitMiddleware(AtomicJSONStorage, lock=self._lock)
                    tdb = TinyDB(path, storage=mw, recover=self.recover, warnings=self.warnings)
                    self._mws[name] = mw
                self._dbs[name] = tdb
            return tdb

    def _journal_of(self, name: str) -> JournalStorage | None:
        """The journal storage of ``name`` (opening it), or None when it is a plain file."""
        js = self._journals.get(name)
        if js is None and name not in self._mws:
            self.db(name)
            js = self._journals.get(name)
        return js

    # --- committing

    @contextmanager
    def decoding(self, name: str) -> Iterator[None]:
        """Around code that turns database ``name``'s documents into objects: a document that
        does not fit becomes one clear error naming the file, never a traceback."""
        try:
            yield
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
            what = f"{type(e).__name__}: {e}" if not isinstance(e, KeyError) else f"missing field {e}"
            path = self.path(name)
            raise RecordsDamaged(f"state file {path} is damaged (a record does not read back: {what}); "
                                 f"it was left untouched; {RECOVER_HINT}", path) from e

    @contextmanager
    def deferred(self, *names: str) -> Iterator[None]:
        """Hold the commits of ``names`` asked for inside the block and make them at its end, in
        the order first asked. Several steps of one intent (a warning, its message, the blacklist
        entry it escalates to) then reach the file in one atomic write: all or none after a crash.
        Only for synchronous blocks in the thread that mutates; a nested block joins the outer one."""
        if self._held is not None:
            yield
            return
        self._held = dict.fromkeys(names, False)
        try:
            yield
        finally:
            held, self._held = self._held, None
            for name, asked in held.items():
                if asked:
                    self.commit(name)

    def commit(self, name: str | None = None) -> None:
        """Write each changed database once (all of them if ``name`` is None)."""
        self._check_open()
        held = self._held
        if held is not None and name in held:
            if not held[name]:
                del held[name]  # keep the order in which commits were first asked for
                held[name] = True
            return
        if name is not None:
            names = [name] if name in self._mws or name in self._journals else []
        else:
            names = list(self._mws) + list(self._journals)
        errors: list[StoreError] = []
        for n in names:
            try:
                writer = self._mws.get(n)
                if writer is not None:
                    writer.flush()
                else:
                    self._journals[n].commit()
            except StoreError as e:
                errors.append(e)
        if errors:
            more = f" (and {len(errors) - 1} more failed)" if len(errors) > 1 else ""
            raise StoreError(f"{errors[0]}{more}") from errors[0]

    def dirty(self, name: str | None = None) -> bool:
        """True if there are changes not yet committed."""
        if name is not None:
            w = self._mws.get(name) or self._journals.get(name)
            return bool(w and w.dirty)
        return any(w.dirty for w in (*self._mws.values(), *self._journals.values()))

    def documents_written(self, name: str) -> int:
        """Documents put or deleted by the commits of journaled database ``name`` so far (what a
        checkpoint costs, counted rather than timed)."""
        js = self._journals.get(name)
        return js.docs_written if js is not None else 0

    # --- whole tables and keyed docs (all in memory until commit)

    def _tables(self, db: str) -> tuple[TinyDB, CommitMiddleware, dict]:
        tdb = self.db(db)
        mw = self._mws[db]
        tables = mw.read()
        return tdb, mw, tables

    @staticmethod
    def _after_direct_edit(tdb: TinyDB, table: str) -> None:
        # Keep TinyDB's own Table object consistent with the edited raw dict.
        t = tdb.table(table)
        if hasattr(t, "_next_id"):
            t._next_id = None
        t.clear_cache()

    def replace_table(self, db: str, table: str, docs: list[dict | Later]) -> None:
        """Replace the whole table by ``docs`` (shallow copies; a :class:`Later` is made when written,
        and unkeyed), in memory."""
        with self._lock:
            js = self._journal_of(db)
            if js is not None:
                js.replace(table, [doc if type(doc) is Later else dict(doc) for doc in docs])
                return
            tdb, mw, tables = self._tables(db)
            made = (doc.doc() if type(doc) is Later else doc for doc in docs)
            tables[table] = {str(i): dict(doc) for i, doc in enumerate((d for d in made if d is not None), 1)}
            self._indexes.pop((db, table), None)
            mw.touch()
            self._after_direct_edit(tdb, table)

    def read_table(self, db: str, table: str) -> list[dict]:
        """All documents of a table, in insertion order (shallow copies)."""
        with self._lock:
            js = self._journal_of(db)
            if js is not None:
                return js.all(table)
            _, _, tables = self._tables(db)
            raw = tables.get(table) or {}
            return [dict(doc) for doc in raw.values()]

    def _index(self, db: str, table: str, raw: dict) -> _KeyIndex:
        idx = self._indexes.get((db, table))
        if idx is None or idx.raw is not raw:  # TinyDB rewrote the table: rebuild
            idx = _KeyIndex(raw)
            self._indexes[(db, table)] = idx
        return idx

    def get_doc(self, db: str, table: str, key: str) -> dict | None:
        """The document stored under ``key`` (with ``"_key"`` in it), or None."""
        with self._lock:
            js = self._journal_of(db)
            if js is not None:
                return js.get(table, key)
            _, _, tables = self._tables(db)
            raw = tables.get(table)
            if not raw:
                return None
            idx = self._index(db, table, raw)
            doc_id = idx.ids.get(key)
            if doc_id is None:
                return None
            if not _holds(raw, doc_id, key):  # edited behind our back
                self._indexes[(db, table)] = idx = _KeyIndex(raw)
                doc_id = idx.ids.get(key)
                if doc_id is None:
                    return None
            return dict(raw[doc_id])

    def put_doc(self, db: str, table: str, key: str, doc: dict) -> None:
        """Store a shallow copy of ``doc`` under ``key`` (as ``doc["_key"]``), in memory."""
        if not isinstance(key, str):
            raise TypeError("store keys must be str")
        with self._lock:
            js = self._journal_of(db)
            if js is not None:
                js.put(table, key, dict(doc))
                return
            stored = dict(doc)
            stored["_key"] = key
            tdb, mw, tables = self._tables(db)
            raw = tables.get(table)
            if raw is None:
                raw = tables[table] = {}
            idx = self._index(db, table, raw)
            doc_id = idx.ids.get(key)
            if doc_id is not None and not _holds(raw, doc_id, key):  # edited behind our back
                idx = self._indexes[(db, table)] = _KeyIndex(raw)
                doc_id = idx.ids.get(key)
            if doc_id is None:
                idx.max_id += 1
                doc_id = str(idx.max_id)
                idx.ids[key] = doc_id
            raw[doc_id] = stored
            mw.touch()
            self._after_direct_edit(tdb, table)

    def put_docs(self, db: str, table: str, docs: dict[str, dict | Later | None]) -> None:
        """Put each of ``docs`` under its key (None: delete it), in memory. The documents are the
        store's from now on (not copied): the engine's checkpoint hands over thousands at a time, most
        as :class:`Later` (made when written, in the committing thread, for a journaled database)."""
        with self._lock:
            js = self._journal_of(db)
            if js is not None:
                js.put_many(table, docs)
                return
            for key, doc in docs.items():
                if type(doc) is Later:
                    doc = doc.doc()
                if doc is None:
                    self.delete_doc(db, table, key)
                else:
                    self.put_doc(db, table, key, doc)

    def delete_doc(self, db: str, table: str, key: str) -> None:
        """Remove the document stored under ``key`` (if any), in memory."""
        with self._lock:
            js = self._journal_of(db)
            if js is not None:
                js.delete(table, key)
                return
            tdb, mw, tables = self._tables(db)
            raw = tables.get(table)
            if not raw:
                return
            idx = self._index(db, table, raw)
            doc_id = idx.ids.get(key)
            if doc_id is not None and not _holds(raw, doc_id, key):  # edited behind our back
                idx = self._indexes[(db, table)] = _KeyIndex(raw)
                doc_id = idx.ids.get(key)
            if doc_id is not None:
                del idx.ids[key]
                del raw[doc_id]
                mw.touch()
                self._after_direct_edit(tdb, table)

    # --- closing

    def close(self) -> None:
        """Commit everything and release the lock. Safe to call twice."""
        if self._closed:
            return
        try:
            self.commit()
        finally:
            self._closed = True
            for mw in self._mws.values():
                mw.closed = True
            for js in self._journals.values():
                js.close(compact=not js.dirty)
            self._dbs.clear()
            self._mws.clear()
            self._journals.clear()
            self._indexes.clear()
            fd, self._lock_fd = self._lock_fd, None
            if fd is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_UN)
                finally:
                    os.close(fd)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<Store {self.data_dir} {state} dbs={sorted(self._dbs)}>"


def _holds(raw: dict, doc_id: str, key: str) -> bool:
    doc = raw.get(doc_id)
    return isinstance(doc, dict) and doc.get("_key") == key


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None
