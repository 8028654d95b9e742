"""The ``[[connector]] type = "onebot"`` table: its keys, checked without any network I/O."""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Mapping
from urllib.parse import parse_qs, urlsplit

from connectors.contract import BadOptions
from connectors.options import reject_unknown, table_label
from connectors.secrets import Secret, read_secret, scrub

KEYS = ("ws_url", "http_url", "token_env", "token_file", "no_token", "groups", "history", "history_count",
        "timeout", "send_format")
SEND_FORMATS = ("string", "array")


@dataclass(slots=True, frozen=True)
class OneBotOptions:
    ws_url: str                  # forward WebSocket of the implementation (events), e.g. ws://127.0.0.1:3001
    http_url: str                # its HTTP API (actions), e.g. http://127.0.0.1:3000, no trailing slash
    token: Secret | None         # the access token; None only with no_token = true on loopback
    groups: tuple[str, ...] = ()  # raw group numbers to watch; empty: every group the account is in
    history: bool = True         # catch up through get_group_msg_history after a gap (NapCat, Lagrange)
    history_count: int = 50      # messages asked per group when catching up
    timeout: float = 15.0        # seconds for one HTTP action
    send_format: str = "string"  # "string": CQ codes; "array": message segments


def parse_options(name: str, options: Mapping[str, object], *,
                  environ: Mapping[str, str] | None = None) -> OneBotOptions:
    label = table_label(name)
    reject_unknown(label, options, KEYS)
    ws_url = _url(label, "ws_url", options.get("ws_url"), ("ws", "wss"), "ws://127.0.0.1:3001")
    http_url = _url(label, "http_url", options.get("http_url"), ("http", "https"), "http://127.0.0.1:3000")
    no_token = options.get("no_token", False)
    if not isinstance(no_token, bool):
        raise BadOptions(f"{label}: no_token must be true or false")
    if no_token:
        if any(k in options for k in ("token", "token_env", "token_file")):
            raise BadOptions(f"{label}: no_token = true and a token_env/token_file together; keep one")
        for key, url in (("ws_url", ws_url), ("http_url", http_url)):
            if not _loopback(url):
                # Without a token anyone who reaches the port commands the QQ account.
                raise BadOptions(f"{label}: no_token = true is only accepted for a {key} on this machine "
                                 "(127.0.0.1, ::1 or localhost); set an access token in the OneBot "
                                 "implementation and add token_env or token_file")
        token = None
    else:
        try:
            token = read_secret(options, "token", label=label, environ=environ)
        except BadOptions as e:
            if "no token" in str(e):
                raise BadOptions(f"{label}: no token; add token_env = \"VAR\" or token_file = \"path\" with the "
                                 "OneBot access token (or no_token = true if the implementation on this "
                                 "machine has none)") from None
            raise
    return OneBotOptions(ws_url=ws_url, http_url=http_url, token=token, groups=_groups(label, options.get("groups")),
                         history=_bool(label, "history", options.get("history", True)),
                         history_count=_int(label, "history_count", options.get("history_count", 50), 1, 200),
                         timeout=_number(label, "timeout", options.get("timeout", 15.0), 1.0, 120.0),
                         send_format=_choice(label, "send_format", options.get("send_format", "string"),
                                             SEND_FORMATS))


def _url(label: str, key: str, value: object, schemes: tuple[str, ...], example: str) -> str:
    if value is None:
        raise BadOptions(f"{label}: no {key}; add {key} = \"{example}\"")
    if not isinstance(value, str) or not value.strip():
        raise BadOptions(f"{label}: {key} must be a URL like \"{example}\"")
    text = value.strip()
    # Quoted in errors without any query or user:password@: either may hold the access token.
    shown = re.sub(r"^([^:/?#]*://)[^/?#]*@", r"\1***@", re.split(r"[?#]", text, maxsplit=1)[0])
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise BadOptions(f"{label}: {key} {shown!r} is not a URL like \"{example}\"") from None
    if parts.scheme not in schemes or not parts.hostname:
        raise BadOptions(f"{label}: {key} {shown!r} must start with {' or '.join(s + '://' for s in schemes)} "
                         f"and name a host, like \"{example}\"")
    if "access_token" in parse_qs(parts.query) or parts.username or parts.password:
        raise BadOptions(f"{label}: {key} must not hold the access token or a password; "
                         "use token_env = \"VAR\" or token_file = \"path\"")
    if parts.fragment:
        raise BadOptions(f"{label}: {key} {shown!r} must not hold a fragment (#...)")
    return text.rstrip("/") if key == "http_url" else text


def _loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _groups(label: str, value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not value:
        raise BadOptions(f"{label}: groups must be a non-empty list of QQ group numbers, like [123456, 234567]; "
                         "leave it out to watch every group the account is in")
    out: list[str] = []
    for i, item in enumerate(value, 1):
        raw = item
        if isinstance(item, str) and item.strip().startswith("qq:"):
            raw = item.strip()[3:]
        if isinstance(raw, bool) or not (isinstance(raw, int) and raw > 0
                                          or isinstance(raw, str) and raw.strip().isdigit()):
            raise BadOptions(f"{label}: groups item {i} ({scrub(str(item))[:40]!r}) is not a QQ group number")
        text = str(raw).strip()
        if text not in out:
            out.append(text)
    return tuple(out)


def _bool(label: str, key: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise BadOptions(f"{label}: {key} must be true or false")
    return value


def _int(label: str, key: str, value: object, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise BadOptions(f"{label}: {key} must be a whole number from {lo} to {hi}")
    return value


def _number(label: str, key: str, value: object, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
        raise BadOptions(f"{label}: {key} must be a number of seconds from {lo:g} to {hi:g}")
    return float(value)


def _choice(label: str, key: str, value: object, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise BadOptions(f"{label}: {key} must be one of {', '.join(repr(c) for c in choices)}")
    return str(value)
