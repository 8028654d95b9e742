"""The ``[[connector]] type = "matrix"`` table: its keys, checked without any network I/O."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

import httpx

from connectors.contract import BadOptions
from connectors.options import reject_unknown, table_label
from connectors.secrets import Secret, read_secret, scrub

KEYS = ("homeserver", "user_id", "token_env", "token_file", "rooms")
USER_ID = re.compile(r"^@[^:\s]+:\S+$")
# Room ids of room version 12 (Synapse's default) carry no server name: "!<43 characters>".
ROOM_REF = re.compile(r"^(![^:\s]+(:\S+)?|#[^:\s]+:\S+)$")


@dataclass(slots=True, frozen=True)
class MatrixOptions:
    homeserver: str             # base URL, no trailing slash, no /_matrix path
    token: Secret
    user_id: str | None = None  # asked of the server (whoami) when not given
    rooms: tuple[str, ...] = ()  # room ids (!...) or aliases (#...); empty: every joined room


def parse_options(name: str, options: Mapping[str, object], *,
                  environ: Mapping[str, str] | None = None) -> MatrixOptions:
    label = table_label(name)
    reject_unknown(label, options, KEYS)
    token = read_secret(options, "token", label=label, environ=environ)
    assert token is not None
    return MatrixOptions(homeserver=_homeserver(label, options.get("homeserver")), token=token,
                         user_id=_user_id(label, options.get("user_id")), rooms=_rooms(label, options.get("rooms")))


def _homeserver(label: str, value: object) -> str:
    if value is None:
        raise BadOptions(f"{label}: no homeserver; add homeserver = \"https://matrix.example.org\"")
    if not isinstance(value, str) or not value.strip():
        raise BadOptions(f"{label}: homeserver must be a URL like \"https://matrix.example.org\"")
    text = value.strip()
    # Quoted in errors only up to any query: Matrix accepts ?access_token=..., which must not be echoed.
    shown = re.split(r"[?#]", text, maxsplit=1)[0]
    try:
        url = httpx.URL(text)
    except (httpx.InvalidURL, ValueError):
        raise BadOptions(f"{label}: homeserver {shown!r} is not a URL") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise BadOptions(f"{label}: homeserver {shown!r} must start with https:// (or http:// on loopback)")
    if "/_matrix" in url.path:
        raise BadOptions(f"{label}: homeserver {shown!r} must be the base URL, without /_matrix/...")
    if url.query or url.fragment:
        raise BadOptions(f"{label}: homeserver {shown!r} must not hold a query or fragment (not shown); "
                         "an access token belongs in token_env or token_file")
    return text.rstrip("/")


def _user_id(label: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not USER_ID.match(value.strip()):
        raise BadOptions(f"{label}: user_id must be a full Matrix user id like \"@bot:example.org\"")
    return value.strip()


def _rooms(label: str, value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not value:
        raise BadOptions(f"{label}: rooms must be a non-empty list of room ids (\"!abc:example.org\") "
                         "or aliases (\"#fans:example.org\"); leave it out to watch every joined room")
    out: list[str] = []
    for i, item in enumerate(value, 1):
        if not isinstance(item, str) or not ROOM_REF.match(item.strip()):
            shown = scrub(repr(item))[:60]  # scrubbed before it is cut, or a pasted token would show in part
            raise BadOptions(f"{label}: rooms item {i} ({shown}) is not a room id (\"!abc:example.org\") "
                             "or alias (\"#fans:example.org\")")
        if item.strip() not in out:
            out.append(item.strip())
    return tuple(out)
