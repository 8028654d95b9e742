"""How an audit entry reads to a person, on the console's Audit screen and in ``groupwatch audit``:
words, not JSON, and the outcome apart from what the platform said."""
from __future__ import annotations

HIDDEN_PARAMS = {"key"}  # the idempotency key: for the ledger, not for a reader


def readable_params(params: dict) -> str:
    """``reason "spam" · text "hello"`` rather than ``{"reason":"spam",...}``."""
    out = []
    for k in sorted(params):
        if k in HIDDEN_PARAMS:
            continue
        v = params[k]
        if isinstance(v, str):
            v = f'"{v}"'
        elif isinstance(v, (list, tuple)):
            v = ", ".join(str(x) for x in v)
        elif isinstance(v, dict):
            v = ", ".join(f"{a}={b}" for a, b in v.items())
        out.append(f"{k.replace('_', ' ')} {v}")
    return " · ".join(out)


def split_result(result: str) -> tuple[str, str]:
    """'done: message 42' -> ('done', 'message 42'): the outcome in its column, the rest in the details."""
    head, sep, rest = (result or "").partition(": ")
    if sep and " " not in head:
        return head, rest
    return result or "", ""


def details(result: str, params: dict) -> tuple[str, str]:
    """(outcome, details) of an entry: what the platform said, then the parameters."""
    outcome, said = split_result(result)
    text = readable_params(params)
    if said:
        text = f"{said} · {text}" if text else said
    return outcome, text


def named(name: str | None, id: str | None) -> str:
    """A group or member by name when it has one, else by id."""
    if not id:
        return ""
    return name if name and name != id else id
