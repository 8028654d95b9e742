"""Secrets (access tokens, signing secrets) for connectors.

They come only from the environment or from a file readable by the user alone:
a token written into the config file would end up in backups, screenshots of
``config check`` and bug reports. ``<key>_env = "VAR"`` names an environment
variable; ``<key>_file = "path"`` names a file whose first line is the secret.
"""
from __future__ import annotations

import logging
import os
import re
import stat
from pathlib import Path
from typing import Mapping
from urllib.parse import quote

from connectors.contract import BadOptions

# Every secret read in this process, so that text headed for a screen or a log can be scrubbed of
# them even if some error message (an httpx URL with a Telegram token in its path) slipped through.
_KNOWN: set[str] = set()
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MIN_SCRUBBED = 6  # shorter "secrets" would blank out ordinary words; real tokens are far longer


class Secret(str):
    """A str that never shows itself in repr(), f"{x!r}", logs of dataclasses or tracebacks' locals."""

    def __repr__(self) -> str:
        return "Secret('***')"


def read_secret(options: Mapping[str, object], key: str, *, label: str, required: bool = True,
                environ: Mapping[str, str] | None = None) -> Secret | None:
    """The secret named by ``<key>_env`` or ``<key>_file`` in ``options``; ``label`` names the table in errors."""
    env = os.environ if environ is None else environ
    if key in options:
        raise BadOptions(f"{label}: do not write {key} into the config file; use {key}_env = \"VAR\" "
                         f"(an environment variable) or {key}_file = \"path\" (a file only you can read)")
    by_env, by_file = options.get(f"{key}_env"), options.get(f"{key}_file")
    if by_env is not None and by_file is not None:
        raise BadOptions(f"{label}: set only one of {key}_env and {key}_file")
    if by_env is not None:
        if not isinstance(by_env, str) or not by_env:
            raise BadOptions(f"{label}: {key}_env must be the name of an environment variable")
        value = env.get(by_env, "").strip()
        if not value:
            if not _VAR_NAME.fullmatch(by_env):
                # Not a variable's name: most likely the secret itself, pasted there; never echo it.
                raise BadOptions(f"{label}: {key}_env must name an environment variable (like \"SHOP_BOT_TOKEN\"), "
                                 f"and no variable has the name given (not shown: it may be the {key} itself; "
                                 f"put the {key} in a variable and name that)")
            raise BadOptions(f"{label}: environment variable {by_env} (from {key}_env) is not set or empty")
        return _known(value, f"{label}: environment variable {by_env} (from {key}_env)")
    if by_file is not None:
        if not isinstance(by_file, str) or not by_file:
            raise BadOptions(f"{label}: {key}_file must be a path")
        what = f"{label}: {key}_file"
        # A bare name without any "/" is more often the secret itself pasted there than a file in
        # the current directory: if it cannot be opened, it is not echoed.
        shown = by_file if "/" in by_file or by_file.startswith("~") else None
        return _known(_read_file(Path(by_file).expanduser(), what, shown), what)
    if required:
        raise BadOptions(f"{label}: no {key}; add {key}_env = \"VAR\" or {key}_file = \"path\"")
    return None


def scrub(text: str) -> str:
    """``text`` with every secret read so far (also URL-quoted) replaced by ``***``."""
    for secret in sorted(_KNOWN, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, "***")
    return text


def without(text: object, secret: str | None) -> str:
    """``text`` with ``secret`` (also URL-quoted) and every secret read so far blanked: for a server's
    words, which may quote the request's credentials back (some implementations and proxies echo the
    Authorization header), whether or not this secret came through :func:`read_secret`."""
    text = str(text)
    if secret:
        for form in (str(secret), quote(str(secret), safe=""), quote(str(secret), safe="/:")):
            text = text.replace(form, "***")
    return scrub(text)


def _known(value: str, what: str) -> Secret:
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise BadOptions(f"{what}: the secret holds a control character (a pasted line break?)")
    if len(value) >= _MIN_SCRUBBED:
        _KNOWN.add(value)
        _KNOWN.add(quote(value, safe=""))
        _KNOWN.add(quote(value, safe="/:"))
        _guard_logs()
    return Secret(value)


_guarded = False


def _guard_logs() -> None:
    """From the first secret read on, every log record is scrubbed of the secrets as it is made.

    Libraries log what peers send: httpx logs each answer's reason phrase at INFO, httpcore every
    response header at DEBUG, websockets every frame at DEBUG, and a server that quotes a request back
    (a redirect's Location with a Telegram URL, a close frame naming the token) puts the token there.
    Whoever turns logging up (any handler, any level) must still never see one; a record factory
    reaches every logger, including those created later.
    """
    global _guarded
    if _guarded:
        return
    _guarded = True
    make = logging.getLogRecordFactory()

    def scrubbed_record(*args, **kwargs) -> logging.LogRecord:
        record = make(*args, **kwargs)
        _scrub_record(record)
        return record

    logging.setLogRecordFactory(scrubbed_record)


def _scrub_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:
        return  # a record that cannot be formatted is reported by logging itself, without its arguments
    clean = scrub(message)
    if clean != message:
        record.msg, record.args = clean, None
    if record.exc_info and record.exc_info[1] is not None:
        text = logging.Formatter().formatException(record.exc_info)
        clean = scrub(text)
        if clean != text:
            record.exc_text = clean  # what handlers print for the traceback, instead of formatting it again


def _read_file(path: Path, what: str, shown: str | None = "") -> str:
    # Open first, then check what was opened: a check on the path followed by a read could be
    # raced by a swap of the file. O_NONBLOCK keeps a FIFO from hanging the open.
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        if shown is None:
            raise BadOptions(f"{what}: no such file in the current directory (the name is not shown: it has no "
                             f"\"/\" and may be the secret itself; give the path of the file that holds it)") from None
        raise BadOptions(f"{what}: {path} does not exist") from None
    except OSError as e:
        if shown is None:
            raise BadOptions(f"{what}: cannot read the file named (not shown: it has no \"/\" and may be the "
                             f"secret itself): {e.strerror}") from None
        raise BadOptions(f"{what}: cannot read {path}: {e.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise BadOptions(f"{what}: {path} is not a regular file")
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise BadOptions(f"{what}: {path} is open to other users (mode {stat.S_IMODE(st.st_mode):o}); "
                             f"run: chmod 600 {path}")
        raw = os.read(fd, 64 * 1024)
    except OSError as e:
        raise BadOptions(f"{what}: cannot read {path}: {e.strerror}") from None
    finally:
        os.close(fd)
    try:
        lines = raw.decode("utf-8-sig").strip().splitlines()
    except UnicodeDecodeError:
        raise BadOptions(f"{what}: {path} is not UTF-8 text") from None
    if not lines or not lines[0].strip():
        raise BadOptions(f"{what}: {path} is empty")
    return lines[0].strip()
