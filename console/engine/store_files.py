"""One state file on disk: atomic replacement, damage detection and recovery, and the errors.

A file is replaced atomically: the JSON goes to a temporary file in the same
directory, is fsynced, the current file is kept as ``<name>.json.prev`` and the
new one is renamed into place (``os.replace``), then the directory is fsynced.
A ``kill -9`` or power loss at any moment therefore leaves the last committed
state readable.

A damaged file is never replaced silently: opening it raises
:class:`StoreDamaged`, unless the store was opened with ``recover=True``, in
which case the file is set aside as ``<name>.json.damaged-<timestamp>`` and the
previous save (``.prev``) is used if it is good, else an empty database.
"""
from __future__ import annotations

import glob
import itertools
import os
import shutil
import threading
import time
import zlib
from pathlib import Path
from typing import Any, Iterable

from tinydb import Storage
from tinydb.middlewares import Middleware

from console.engine.store_codec import decode_state, encode_state

RECOVER_HINT = "start groupwatch with --recover to set it aside and use the previous save"
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
    journal = path.with_name(path.name.removesuffix(".json") + ".journal")
    if journal.exists():  # its changes were made on top of the file set aside: they go with it
        journal_aside = _aside_name(journal, ".damaged")
        os.replace(journal, journal_aside)
        note += f" (its journal moved to {journal_aside.name})"
    return note


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _why(e: OSError) -> str:
    return e.strerror or str(e) or type(e).__name__


# --- file primitives ------------------------------------------------------------

def write_all(fd: int, payload: bytes) -> None:
    """Write all of ``payload`` to ``fd``, through ``console.engine.store._write_all`` (which tests
    replace to simulate a full disk, so every writer must go through it)."""
    from console.engine import store

    store._write_all(fd, payload)


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
        self.file_crc: int | None = None  # CRC-32 of the file's bytes as last read or written (None: no file)
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
            self.file_crc = zlib.crc32(raw)
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
        self._write_chunks((payload,), keep_prev=keep_prev)

    def _write_chunks(self, chunks: Iterable[bytes], *, keep_prev: bool = True) -> None:
        """The same for content made of ``chunks`` (each written as it comes)."""
        n = next(_tmp_counter)
        crc = 0
        tmp = self.dir / f".{self.path.name}.tmp-{os.getpid()}-{n}"
        prev_tmp: Path | None = None
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
            try:
                for chunk in chunks:
                    write_all(fd, chunk)
                    crc = zlib.crc32(chunk, crc)
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
            self.file_crc = crc
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
