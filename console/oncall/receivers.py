"""Where a notification goes: any service Apprise reaches (by URL), a moderators' chat through a
connector, and the attached consoles.

Every receiver's ``send`` raises :class:`ReceiverError` (one line, scrubbed of secrets) when the
notification did not go out; the dispatcher backs off and shows it as health. A receiver's ``label``
never contains its URL (a URL may carry a token someone pasted into the file): it names the route,
the receiver's position and its scheme.
"""
from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass, field
from typing import Callable, Mapping
from urllib.parse import urlencode

from connectors.contract import Connector, ConnectorError
from connectors.secrets import BadOptions, read_secret, scrub
from console.engine.text import visible
from console.oncall.routes import PLACEHOLDER

log = logging.getLogger("groupwatch.oncall")
SEND_TIMEOUT = 20.0  # seconds one receiver gets; Apprise is synchronous, so it runs in a thread


class ReceiverError(Exception):
    """A notification that did not go out: one line, no secret."""


@dataclass(slots=True)
class Notification:
    """One message about one incident update (or a digest), the same for every receiver."""
    key: str               # unique per incident update and route: a receiver may drop repeats of it
    incident: int | None   # None for a digest
    title: str             # one line, plain
    body: str              # plain text, a few lines
    severity: str = "low"
    kind: str = ""
    count: int = 0
    groups: list[str] = field(default_factory=list)
    state: str = ""
    why: str = "new"       # new, update, repeat, escalation, ack_timeout, digest

    def fields(self) -> dict[str, str]:
        """What a JSON webhook gets besides title and message (Apprise's ``:key=value`` payload fields)."""
        return {"incident": "" if self.incident is None else str(self.incident), "severity": self.severity,
                "kind": self.kind, "count": str(self.count), "groups": ",".join(self.groups),
                "state": self.state, "why": self.why, "key": self.key}


def resolve_url(template: str, label: str, environ: Mapping[str, str] | None = None) -> str:
    """``template`` with each ``{env:NAME}`` / ``{file:/path}`` replaced by the secret (read as connectors
    read theirs, so every log line and error is scrubbed of it from now on)."""
    env = os.environ if environ is None else environ

    def secret(m) -> str:
        kind, arg = m.group(1), m.group(2)
        try:
            value = read_secret({f"url_{kind}": arg}, "url", label=label, environ=env)
        except BadOptions as e:
            raise ReceiverError(scrub(str(e)).replace("url_env", "{env:...}").replace("url_file", "{file:...}")) from None
        return str(value)

    return PLACEHOLDER.sub(secret, template)


def scheme_of(url: str) -> str:
    return url.split("://", 1)[0].lower() if "://" in url else "?"


class AppriseReceiver:
    """One Apprise URL. ``json://`` (and ``jsons://``) webhooks get the incident's fields in the JSON
    body too, through Apprise's documented ``:key=value`` payload parameters."""

    def __init__(self, url: str, label: str, *, timeout: float = SEND_TIMEOUT,
                 environ: Mapping[str, str] | None = None) -> None:
        self._template = url
        self.label = f"{label} ({scheme_of(url)})"
        self.timeout = timeout
        self._environ = environ

    async def send(self, n: Notification) -> None:
        url = resolve_url(self._template, self.label, self._environ)
        if scheme_of(url) in ("json", "jsons"):
            url += ("&" if "?" in url else "?") + urlencode({f":{k}": v for k, v in n.fields().items()})
        try:
            ok, why = await asyncio.wait_for(asyncio.to_thread(_apprise_send, url, n.title, n.body), self.timeout)
        except (asyncio.TimeoutError, TimeoutError):
            raise ReceiverError(f"{self.label}: no answer within {self.timeout:g} s") from None
        except ReceiverError:
            raise
        except Exception as e:  # Apprise or a plugin failing in a way it did not catch itself
            raise ReceiverError(f"{self.label}: {type(e).__name__}: {_line(str(e))}") from None
        if not ok:
            raise ReceiverError(f"{self.label}: not delivered" + (f": {why}" if why else ""))


def _apprise_send(url: str, title: str, body: str) -> tuple[bool, str]:
    """In a worker thread: Apprise's own call, and the last problem it logged (its only way to say why)."""
    import apprise

    with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as captured:
        ap = apprise.Apprise()
        if not ap.add(url):
            return False, "Apprise does not understand this URL (unknown scheme or a missing part)"
        ok = ap.notify(body=body, title=title, body_format=apprise.NotifyFormat.TEXT)
        lines = [ln for ln in captured.getvalue().splitlines() if ln.strip()]
    return bool(ok), _line(lines[-1]) if lines else ""


def _line(text: str) -> str:
    return visible(scrub(" ".join(str(text).split())), 200)


def defuse_mentions(text: str) -> str:
    """Names in our messages are strangers' words: "@room", "@all" or "@someone" in one must not ping
    anybody when the bot posts it in a chat, so every "@" becomes a full-width "＠" (reads the same)."""
    return text.replace("@", "\uff20")


class ChatReceiver:
    """A moderators' chat reached through a configured connector: the bot that watches the groups
    also tells the team. Returns the posted message's id, so a reply to it names the incident."""

    def __init__(self, connector: Connector, group_id: str, label: str) -> None:
        self.connector = connector
        self.group_id = group_id
        self.label = f"{label} (chat via {connector.name})"

    async def send(self, n: Notification) -> str:
        text = defuse_mentions(f"{n.title}\n{n.body}" if n.body else n.title)
        try:
            result = await asyncio.wait_for(
                self.connector.send(self.group_id, text, idempotency_key=f"oncall-{n.key}"), SEND_TIMEOUT)
        except (asyncio.TimeoutError, TimeoutError):
            raise ReceiverError(f"{self.label}: no answer within {SEND_TIMEOUT:g} s") from None
        except ConnectorError as e:
            raise ReceiverError(f"{self.label}: {_line(str(e))}") from None
        return result.message_id


class ConsoleReceiver:
    """Attached consoles: a toast (and the bell if the route asks), folded by the service so a wave of
    incidents is at most two notices a second."""

    def __init__(self, announce: Callable[[str, str, bool], None], bell: bool, label: str) -> None:
        self._announce = announce
        self.bell = bell
        self.label = f"{label} (consoles)"

    async def send(self, n: Notification) -> None:
        self._announce(n.title, "error" if n.severity == "high" else "warning", self.bell)


Receiver = AppriseReceiver | ChatReceiver | ConsoleReceiver


def build_receivers(routes, connectors: Mapping[str, Connector], announce: Callable[[str, str, bool], None] | None,
                    environ: Mapping[str, str] | None = None) -> dict[str, dict[str, Receiver]]:
    """Each route's receivers by id: ``n0``.. (its Apprise URLs), ``chat``, ``console``, and per escalation
    step k (from 1) ``s<k>n0``.. and ``s<k>chat``. A chat whose connector is not running is left out
    (the config check names it; the demo has only its own connector)."""
    from console.oncall.routes import qualify_chat

    def chat(target, label: str) -> ChatReceiver | None:
        conn = connectors.get(target.connector)
        if conn is None:
            log.warning("on call: %s: connector %r is not running; its chat is not told", label, target.connector)
            return None
        return ChatReceiver(conn, qualify_chat(conn.platform, target.chat), label)

    out: dict[str, dict[str, Receiver]] = {}
    for r in routes:
        mine: dict[str, Receiver] = {}
        label = f"route {r.name!r}"
        for i, url in enumerate(r.notify):
            mine[f"n{i}"] = AppriseReceiver(url, f"{label} notify[{i}]", environ=environ)
        if r.chat is not None and (c := chat(r.chat, label)) is not None:
            mine["chat"] = c
        if r.console and announce is not None:
            mine["console"] = ConsoleReceiver(announce, r.bell, label)
        for k, step in enumerate(r.steps, 1):
            for i, url in enumerate(step.notify):
                mine[f"s{k}n{i}"] = AppriseReceiver(url, f"{label} steps[{k - 1}].notify[{i}]", environ=environ)
            if step.chat is not None and (c := chat(step.chat, f"{label} steps[{k - 1}]")) is not None:
                mine[f"s{k}chat"] = c
        out[r.name] = mine
    return out


def check_urls(routes, environ: Mapping[str, str] | None = None) -> list[str]:
    """What ``groupwatch config check`` says of the routes' Apprise URLs: each one's secrets can be read
    now and Apprise understands it (no notification is sent). One line each, never the URL."""
    import apprise

    problems = []
    for r in routes:
        urls = [(f"notify[{i}]", u) for i, u in enumerate(r.notify)]
        urls += [(f"steps[{k}].notify[{i}]", u) for k, st in enumerate(r.steps) for i, u in enumerate(st.notify)]
        for where, template in urls:
            label = f"route {r.name!r} {where} ({scheme_of(template)})"
            try:
                url = resolve_url(template, label, environ)
            except ReceiverError as e:
                problems.append(str(e) if str(e).startswith(label) else f"{label}: {e}")
                continue
            if apprise.Apprise.instantiate(url, suppress_exceptions=True) is None:
                problems.append(f"{label}: Apprise does not understand this URL (unknown scheme or a missing part)")
    return problems
