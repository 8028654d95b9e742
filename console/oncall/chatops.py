"""Acting on an incident from the moderators' chat.

A message there addressed to the bot, a reply to one of its notifications or a message that starts
with ``#<id>``, is read as a command on that incident: ``ack``, ``claim``, ``ban``, ``warn``,
``not ad``, ``resolve``, ``snooze 2h``, ``silence 2h``. It runs through the service as the operator
the sender is mapped to in ``[operators.chat]`` (so roles apply, every console sees it, the audit
log names them). Anyone else, or anything else, gets one short line back and nothing is done.
Other talk in the chat is left alone, and no message there is scored by the detectors: the chat is
not a watched group (the engine hands its events here instead).
"""
from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from connectors.contract import Connector, ConnectorError
from connectors.events import Event, Message
from connectors.secrets import scrub
from console.engine.actions.model import ActionError
from console.engine.durations import parse_duration
from console.engine.text import visible
from console.oncall.receivers import defuse_mentions
from console.service.api import COMMANDS, Actor, Command
from console.service.roles import role_for

if TYPE_CHECKING:
    from console.service.service import Service

log = logging.getLogger("groupwatch.oncall")

_ADDRESSED = re.compile(r"^\s*#(\d{1,12})\b[\s:,]*(.*)$", re.S)
WORDS = {
    "ack": "ack", "acknowledge": "ack",
    "claim": "claim",
    "ban": "blacklist_alerts", "blacklist": "blacklist_alerts",
    "warn": "warn_alerts",
    "not ad": "not_ad", "not an ad": "not_ad",
    "resolve": "resolve",
    "snooze": "snooze",
    "silence": "silence_add",
}
WITH_DURATION = ("snooze", "silence")
REFUSAL_EVERY = 60.0  # wall seconds between two refusals told to the same sender
HELP = "commands: ack, claim, ban, warn, not ad, resolve, snooze 2h, silence 2h"


@dataclass(slots=True, frozen=True)
class Parsed:
    incident: int | None   # from "#<id>" in the text (a reply names it by the message replied to)
    word: str | None       # the chat word ("not ad"), None if not one
    seconds: float | None
    problem: str = ""      # why it is not a command (a bad duration)


def parse(text: str) -> Parsed:
    """``"#12 snooze 2h"`` -> (12, "snooze", 7200); ``"ban"`` -> (None, "ban", None)."""
    incident = None
    m = _ADDRESSED.match(text)
    if m:
        incident, text = int(m.group(1)), m.group(2)
    words = " ".join(text.lower().split()).rstrip(".!")
    for word in sorted(WORDS, key=len, reverse=True):
        if words == word or words.startswith(word + " "):
            rest = words[len(word):].strip()
            if word in WITH_DURATION:
                if not rest:
                    return Parsed(incident, word, None, f"{word} needs a duration, like {word} 2h")
                try:
                    return Parsed(incident, word, parse_duration(rest))
                except ActionError:
                    return Parsed(incident, word, None, f"{word} needs a duration like 30m, 2h or 1d")
            if rest:
                return Parsed(incident, None, None)
            return Parsed(incident, word, None)
    return Parsed(incident, None, None)


class ChatOps:
    """Reads the moderators' chats' messages (handed over by the engine) and acts on them."""

    def __init__(self, service: "Service", chats: dict[str, Connector],
                 incident_of: Callable[[str, str, str], int | None]) -> None:
        self.service = service
        self.chats = chats            # qualified chat id -> the connector that posts there
        self.incident_of = incident_of
        self.operators = service.rt.settings.operators
        self.handled = 0
        self._refused: dict[str, float] = {}  # sender -> wall time of the last refusal told

    async def on_event(self, ev: Event) -> None:
        if not isinstance(ev, Message):
            return
        conn = self.chats.get(ev.group)
        if conn is None:
            return
        parsed = parse(ev.text or "")
        incident = parsed.incident
        if ev.reply_to is not None and incident is None:
            incident = self.incident_of(conn.name, ev.group, ev.reply_to)
            if incident is None:
                return  # a reply to someone else's message: talk, not a command
        if incident is None:
            return  # not addressed to the bot
        operator = self.operators.chat.get(ev.sender)
        if operator is None:
            await self._refuse(conn, ev, f"not done: {visible(ev.sender_name or ev.sender, 40)} is not an "
                                              f"operator here (ask an admin to add you to [operators.chat])")
            return
        if parsed.problem or parsed.word is None:
            await self._reply(conn, ev.group, f"not done: {parsed.problem or 'unknown command'}; {HELP}")
            return
        inc = self._incident(incident)
        if inc is None:
            await self._reply(conn, ev.group, f"not done: no incident #{incident}")
            return
        cmd = self._command(parsed, inc, operator)
        if cmd is None:
            await self._reply(conn, ev.group, f"not done: {parsed.word} is not available on this service")
            return
        actor = Actor(user=operator, role=role_for(operator, [], self.operators, self.service.owner),
                      session=f"chat {conn.name}")
        report = await self.service.execute(actor, cmd)
        self.handled += 1
        log.info("on call: %s ran %s on incident #%d from chat: %s", visible(operator, 40), cmd.name, incident,
                 visible(report.summary(), 200))
        what = COMMANDS[cmd.name].what if cmd.name in COMMANDS else cmd.name
        await self._reply(conn, ev.group, f"{visible(operator, 40)}: {what} incident #{incident}: "
                                          f"{visible(report.summary(), 200) or 'done'}")

    def _incident(self, incident_id: int) -> Any:
        return self.service.engine.incidents.get(incident_id)

    @staticmethod
    def _command(p: Parsed, inc: Any, operator: str) -> Command | None:
        name = WORDS[p.word]
        if name not in COMMANDS:
            return None
        target = [f"incident:{inc.id}"]
        if name == "snooze":
            return Command(name, target, {"seconds": int(p.seconds)})
        if name == "silence_add":
            matchers = {"kind": inc.kind}
            if len(inc.members) == 1:
                matchers["member"] = inc.members[0]
            elif len(inc.groups) == 1:
                matchers["group"] = inc.groups[0]
            return Command(name, [], {"matchers": matchers, "seconds": int(p.seconds),
                                      "comment": f"from chat, incident #{inc.id}"})
        return Command(name, target)

    async def _refuse(self, conn: Connector, ev: Message, text: str) -> None:
        """A refusal to someone who is not an operator, at most one a minute each: a stranger repeating a
        command must not make the bot flood the moderators' chat."""
        wall = time.monotonic()
        if wall - self._refused.get(ev.sender, -REFUSAL_EVERY) < REFUSAL_EVERY:
            return
        if len(self._refused) > 1000:
            self._refused.clear()
        self._refused[ev.sender] = wall
        await self._reply(conn, ev.group, text)

    async def _reply(self, conn: Connector, group: str, text: str) -> None:
        # A reply never starts with "#": the bot must not read its own answer as a command. Names in it
        # are strangers' words: no "@" in them may ping anyone.
        try:
            await conn.send(group, defuse_mentions(text.lstrip("#")))
        except ConnectorError as e:
            log.warning("on call: could not answer in %s: %s", visible(group, 60), scrub(str(e)))
