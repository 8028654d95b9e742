"""Durable state: TinyDB databases saved with atomic, batched writes.

One JSON file per database (``<data dir>/<name>.json``). Changes stay in memory
until :meth:`Store.commit`, which writes each changed database exactly once:
the JSON goes to a temporary file in the same directory, is fsynced, the
current file is kept as ``<name>.json.prev`` and the new one is renamed into
place (``os.replace``), then the directory is fsynced. A ``kill -9`` or power
loss at any moment therefore leaves the last committed state readable.

A damaged file is never replaced silently: opening it raises
:class:`StoreDamaged`, unless the store was opened with ``recover=True``, in
which case the file is set aside as ``<name>.json.damaged-<timestamp>`` and the
previous save (``.prev``) is used if it is good, else an empty database.

Files hold the bytes of ``json.dumps(state, ensure_ascii=True)`` (pure ASCII),
so any Python ``str``, including lone surrogates that UTF-8 cannot encode,
survives. ASCII JSON cannot tell a high+low surrogate pair written as two
separate code points from the character they form, so the rare strings that
hold such a pair (or that start with the private marker used for them) are
stored in an escaped form and restored exactly on load (see :func:`encode_state`).

Only one process may use a data dir at a time: an exclusive ``flock`` on
``<data dir>/lock`` (which holds the owner's pid) is taken on open and released
on :meth:`Store.close` or when the process dies.
"""
from __future__ import annotations

import errno
import fcntl
import glob
import itertools
import json
import os
import re
import shutil
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from tinydb import Storage, TinyDB
from tinydb.middlewares import Middleware

__all__ = [
    "AtomicJSONStorage",
    "CommitMiddleware",
    "Store",
    "StoreDamaged",
    "StoreError",
    "StoreLocked",
    "decode_state",
    "encode_state",
]

LOCK_FILE = "lock"
RECOVER_HINT = "start groupwatch with --recover to set it aside and use the previous save"
_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*$")
_tmp_counter = itertools.count()


class StoreError(Exception):
    """A store problem, with a one-line message fit for the user."""

    def __init__(self, message: str) -> None:
        super().__init__(_one_line(message))


class StoreLocked(StoreError):
    """The data dir is held by another running groupwatch."""


class StoreDamaged(StoreError):
    """A state file cannot be parsed; it was left untouched."""


class RecordsDamaged(StoreDamaged):
    """A state file parses, but a record in it does not read back (edited by hand, or a bug):
    the same choice as a damaged file, made by the caller (see :func:`set_aside`)."""

    def __init__(self, message: str, path: Path) -> None:
        super().__init__(message)
        self.path = path


def set_aside(path: Path) -> str:
    """For ``--recover`` when a file's records do not read back: keep the file aside, go back
    to the previous save (used up, so a bad one is not tried twice) or start that file empty.
    Call with the store closed. Returns the one-line note for the user."""
    aside = _aside_name(path, ".damaged")
    os.replace(path, aside)
    note = f"state file {path} had records that do not read back; moved it to {aside.name}"
    prev = path.with_name(path.name + ".prev")
    if prev.exists():
        os.replace(prev, path)
        note += f" and restored the previous save ({prev.name})"
    else:
        note += "; no previous save, starting empty"
    return note


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _why(e: OSError) -> str:
    return e.strerror or str(e) or type(e).__name__


# --- encoding -----------------------------------------------------------------

def encode_state(data: Any) -> bytes:
    """The JSON bytes for ``data``: ``json.dumps(data, ensure_ascii=True)``, compact.

    ASCII because strings from strangers may hold lone surrogates, which UTF-8
    cannot encode. (A str holding a high and a low surrogate as two separate code
    points reads back as the one character they form; nothing decoded from UTF-8
    or JSON, which is all a connector produces, can hold such a pair.)

    A database ({table: {doc id: doc}}) is encoded one document at a time, with
    the same bytes as one dump: a fleet's state is tens of MB, and one C-level
    dump holds the GIL for the whole of it, stalling the console even when the
    checkpoint runs in a thread.
    """
    if not isinstance(data, dict) or not all(isinstance(t, dict) for t in data.values()):
        return _ENCODE(data).encode("ascii")
    parts = []
    for name, table in data.items():
        docs = ",".join(f"{_ENCODE(_key(k))}:{_ENCODE(doc)}" for k, doc in table.items())
        parts.append(f"{_ENCODE(_key(name))}:{{{docs}}}")
    return ("{" + ",".join(parts) + "}").encode("ascii")


_ENCODE = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"), check_circular=False).encode


def _key(k: Any) -> str:
    if isinstance(k, str):
        return k
    if isinstance(k, bool) or not isinstance(k, int):
        raise TypeError(f"keys must be str or int, not {type(k).__name__}")
    return str(k)


def decode_state(raw: bytes) -> dict:
    """Parse and check a state file's bytes; ValueError says what is wrong."""
    if not raw.strip():
        raise ValueError("the file is empty (truncated?)")
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object of tables, found {type(data).__name__}")
    for table, docs in data.items():
        if not isinstance(docs, dict):
            raise ValueError(f"table {table!r} is not a JSON object")
        for doc_id, doc in docs.items():
            if not isinstance(doc, dict):
                raise ValueError(f"document {doc_id!r} in table {table!r} is not a JSON object")
    return data


# --- file primitives ------------------------------------------------------------

def _write_all(fd: int, payload: bytes) -> None:
    """Write all of ``payload`` to ``fd`` (tests replace this to simulate a full disk)."""
    view = memoryview(payload)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems cannot fsync a directory; the rename is still atomic
    finally:
        os.close(fd)


def _unlink_quietly(path: Path | None) -> None:
    if path is None:
        return
    try:
        os.unlink(path)
    except OSError:
        pass


def _link_or_copy(src: Path, dst: Path) -> None:
    """Make ``dst`` (which must not exist) a copy of ``src``, by hard link when possible."""
    try:
        os.link(src, dst)
    except FileNotFoundError:
        raise
    except OSError:
        shutil.copyfile(src, dst)


def _aside_name(path: Path, suffix: str) -> Path:
    stamp = time.strftime("%Y%m%d%H%M%S")
    candidate = path.with_name(f"{path.name}{suffix}-{stamp}")
    n = 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}{suffix}-{stamp}-{n}")
    return candidate


class AtomicJSONStorage(Storage):
    """A TinyDB storage that replaces its JSON file atomically on every write.

    The file is parsed when the storage is created: a damaged file raises
    :class:`StoreDamaged` (file untouched) unless ``recover`` is true, in which
    case it is set aside and the ``.prev`` copy (or nothing) is used and a
    one-line note is appended to ``warnings``.
    """

    def __init__(self, path: str | Path, *, recover: bool = False, warnings: list[str] | None = None) -> None:
        super().__init__()
        self.path = Path(path)
        self.prev_path = self.path.with_name(self.path.name + ".prev")
        self.dir = self.path.parent
        self.warnings = warnings if warnings is not None else []
        self._initial: dict | None = self._open(recover)
        self._initial_taken = False

    # --- reading

    def _open(self, recover: bool) -> dict | None:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            self._remove_stale_temps()
            return None
        except OSError as e:
            raise StoreError(f"cannot read state file {self.path}: {_why(e)}") from e
        try:
            data = decode_state(raw)
        except (ValueError, UnicodeDecodeError, RecursionError) as e:
            if not recover:
                raise StoreDamaged(f"state file {self.path} is damaged ({e}); it was left untouched; "
                                   f"{RECOVER_HINT}") from e
            data = self._recover(str(e))
        self._remove_stale_temps()
        return data

    def _recover(self, problem: str) -> dict:
        aside = _aside_name(self.path, ".damaged")
        try:
            _link_or_copy(self.path, aside)
        except OSError as e:
            raise StoreError(f"state file {self.path} is damaged ({problem}) and could not be set aside "
                             f"as {aside.name}: {_why(e)}") from e
        note = f"state file {self.path} was damaged ({problem}); moved it to {aside.name}"
        data: dict = {}
        try:
            data = decode_state(self.prev_path.read_bytes())
            note += f" and restored the previous save ({self.prev_path.name})"
        except FileNotFoundError:
            note += "; no previous save, starting empty"
        except (OSError, ValueError, UnicodeDecodeError, RecursionError) as e:
            prev_aside = _aside_name(self.prev_path, ".damaged")
            try:
                _link_or_copy(self.prev_path, prev_aside)
                os.unlink(self.prev_path)
                where = f"moved it to {prev_aside.name}"
            except OSError:
                where = "left it in place"
            note += f"; the previous save was unusable too ({_one_line(str(e))}; {where}), starting empty"
        # Replace the damaged file by the recovered state without touching .prev.
        self._write_bytes(encode_state(data), keep_prev=False)
        self.warnings.append(_one_line(note))
        return data

    def _remove_stale_temps(self) -> None:
        # Left behind by a process killed mid-commit; we hold the lock, so none is live.
        for stale in self.dir.glob(f".{glob.escape(self.path.name)}.*tmp-*"):
            _unlink_quietly(stale)

    def read(self) -> dict | None:
        if not self._initial_taken:
            self._initial_taken = True
            data, self._initial = self._initial, None
            return data
        try:
            return decode_state(self.path.read_bytes())
        except FileNotFoundError:
            return None
        except OSError as e:
            raise StoreError(f"cannot read state file {self.path}: {_why(e)}") from e
        except (ValueError, UnicodeDecodeError) as e:
            raise StoreDamaged(f"state file {self.path} is damaged ({e})") from e

    # --- writing

    def write(self, data: dict) -> None:
        try:
            payload = encode_state(data)
        except (TypeError, ValueError, RecursionError) as e:
            raise StoreError(f"cannot save {self.path}: {e}") from e
        self._write_bytes(payload)

    def _write_bytes(self, payload: bytes, *, keep_prev: bool = True) -> None:
        """Atomically make ``payload`` the content of the file; the old file becomes ``.prev``."""
        n = next(_tmp_counter)
        tmp = self.dir / f".{self.path.name}.tmp-{os.getpid()}-{n}"
        prev_tmp: Path | None = None
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
            try:
                _write_all(fd, payload)
                os.fsync(fd)
            finally:
                os.close(fd)
            if keep_prev:
                prev_tmp = self.dir / f".{self.path.name}.prevtmp-{os.getpid()}-{n}"
                try:
                    _link_or_copy(self.path, prev_tmp)
                except FileNotFoundError:
                    prev_tmp = None  # first save: nothing to keep
                else:
                    os.replace(prev_tmp, self.prev_path)
                    # rename() is a no-op when both names are links to one file (a commit
                    # killed between the two renames leaves .prev == the file): drop the temp.
                    _unlink_quietly(prev_tmp)
                    prev_tmp = None
            os.replace(tmp, self.path)
            tmp = None  # type: ignore[assignment]
        except OSError as e:
            _unlink_quietly(tmp)
            _unlink_quietly(prev_tmp)
            raise StoreError(f"cannot save {self.path}: {_why(e)}; the previous save is intact") from e
        except BaseException:
            _unlink_quietly(tmp)
            _unlink_quietly(prev_tmp)
            raise
        _fsync_dir(self.dir)

    def close(self) -> None:
        pass


class CommitMiddleware(Middleware):
    """Keeps the whole database in memory; writes happen only on :meth:`flush`.

    Every TinyDB write just replaces the cached state and bumps a generation
    counter; :meth:`flush` serialises the cache once (under ``lock``) and hands
    the bytes to the storage. A failed flush leaves the cache dirty, so a later
    flush retries.
    """

    def __init__(self, storage_cls: type = AtomicJSONStorage, lock: threading.RLock | None = None) -> None:
        super().__init__(storage_cls)
        self.cache: dict = {}
        self.lock = lock if lock is not None else threading.RLock()
        self._flush_lock = threading.Lock()
        self.generation = 0
        self.saved_generation = 0
        self.closed = False  # set by Store.close: the data dir lock is gone, no more writes

    def __call__(self, *args: Any, **kwargs: Any) -> CommitMiddleware:
        super().__call__(*args, **kwargs)
        self.cache = self.storage.read() or {}
        return self

    @property
    def dirty(self) -> bool:
        return self.generation != self.saved_generation

    def read(self) -> dict:
        return self.cache

    def write(self, data: dict) -> None:
        self.cache = data
        self.generation += 1

    def touch(self) -> None:
        """Mark the cache changed (after editing it in place)."""
        self.generation += 1

    def flush(self) -> bool:
        """Write the cache if it changed since the last flush; True if a write happened."""
        with self._flush_lock:
            with self.lock:
                if not self.dirty:
                    return False
                if self.closed:
                    raise StoreError(f"cannot save {getattr(self.storage, 'path', 'the store')}: "
                                     "the store was closed")
                generation = self.generation
                storage = self.storage
                try:
                    payload = encode_state(self.cache)
                except (TypeError, ValueError, RecursionError) as e:
                    raise StoreError(f"cannot save {getattr(storage, 'path', 'the store')}: {e}") from e
            if isinstance(storage, AtomicJSONStorage):
                storage._write_bytes(payload)
            else:
                with self.lock:
                    storage.write(self.cache)
            self.saved_generation = generation
            return True

    def close(self) -> None:
        self.flush()
        self.storage.close()


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

    def db(self, name: str) -> TinyDB:
        """The TinyDB for ``name``, opened on first use (may raise StoreDamaged)."""
        with self._lock:
            self._check_open()
            tdb = self._dbs.get(name)
            if tdb is None:
                mw = CommitMiddleware(AtomicJSONStorage, lock=self._lock)
                tdb = TinyDB(self.path(name), storage=mw, recover=self.recover, warnings=self.warnings)
                self._dbs[name] = tdb
                self._mws[name] = mw
            return tdb

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
            names = [name] if name in self._mws else []
        else:
            names = list(self._mws)
        errors: list[StoreError] = []
        for n in names:
            try:
                self._mws[n].flush()
            except StoreError as e:
                errors.append(e)
        if errors:
            more = f" (and {len(errors) - 1} more failed)" if len(errors) > 1 else ""
            raise StoreError(f"{errors[0]}{more}") from errors[0]

    def dirty(self, name: str | None = None) -> bool:
        """True if there are changes not yet committed."""
        if name is not None:
            mw = self._mws.get(name)
            return bool(mw and mw.dirty)
        return any(mw.dirty for mw in self._mws.values())

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

    def replace_table(self, db: str, table: str, docs: list[dict]) -> None:
        """Replace the whole table by ``docs`` (shallow copies), in memory."""
        with self._lock:
            tdb, mw, tables = self._tables(db)
            tables[table] = {str(i): dict(doc) for i, doc in enumerate(docs, 1)}
            self._indexes.pop((db, table), None)
            mw.touch()
            self._after_direct_edit(tdb, table)

    def read_table(self, db: str, table: str) -> list[dict]:
        """All documents of a table, in insertion order (shallow copies)."""
        with self._lock:
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
            tdb, mw, tables = self._tables(db)
            raw = tables.get(table)
            if raw is None:
                raw = tables[table] = {}
            idx = self._index(db, table, raw)
            stored = dict(doc)
            stored["_key"] = key
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
            self._dbs.clear()
            self._mws.clear()
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
