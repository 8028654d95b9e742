"""Chat commands: what a moderator writes in the moderators' chat becomes a service command on the
incident with that moderator as actor; anyone or anything else gets a short line and nothing done."""
from __future__ import annotations

from dataclasses import dataclass, field

from connectors.contract import SendResult
from connectors.events import Message
from console.engine.config import parse_settings
from console.oncall.chatops import ChatOps, parse
from console.service.api import Report, Role
from tests.oncall_doubles import FakeIncident, FakeIncidents

CHAT = "matrix:!mods:localhost"


def test_words_durations_and_addressing_parse():
    assert parse("ack") == parse("  ACK! ")
    assert (parse("ack").word, parse("ack").incident) == ("ack", None)
    assert (parse("#12 snooze 2h").incident, parse("#12 snooze 2h").word, parse("#12 snooze 2h").seconds) == \
        (12, "snooze", 7200)
    assert parse("#3: not ad").word == "not ad"
    assert parse("not an ad").word == "not an ad"
    assert parse("snooze").problem and parse("snooze soon").problem and parse("silence 1d").seconds == 86400
    assert parse("ban them all").word is None and parse("hello").word is None
    assert parse("#7 hello").incident == 7 and parse("#7 hello").word is None


@dataclass
class FakeConn:
    name: str = "hq"
    platform: str = "matrix"
    sent: list = field(default_factory=list)

    async def send(self, group_id, text, mentions=(), idempotency_key=None):
        self.sent.append((group_id, text))
        return SendResult(f"$bot{len(self.sent)}")


class FakeEngine:
    def __init__(self, incidents):
        self.incidents = incidents


class FakeRt:
    def __init__(self, settings):
        self.settings = settings


class FakeService:
    owner = "root"

    def __init__(self, settings, incidents):
        self.rt = FakeRt(settings)
        self.engine = FakeEngine(incidents)
        self.ran = []

    async def execute(self, actor, cmd):
        self.ran.append((actor, cmd))
        return Report(cmd.name, total=1, done=1)


def setup(extra: str = ""):
    settings = parse_settings('[operators]\ndefault = "viewer"\nusers = { alice = "moderator" }\n'
                              '[operators.chat]\n"matrix:@alice:localhost" = "alice"\n"matrix:@vic:localhost" = "vic"\n'
                              + extra)
    incs = FakeIncidents()
    incs.change(FakeIncident(12, members=["matrix:@spam:localhost"]), "opened")
    svc, conn = FakeService(settings, incs), FakeConn()
    refs = {("hq", CHAT, "$note12"): 12}
    ops = ChatOps(svc, {CHAT: conn}, lambda c, g, m: refs.get((c, g, m)))
    return svc, conn, ops


def msg(text, sender="matrix:@alice:localhost", reply_to=None, group=CHAT):
    return Message(group, sender, sender.split(":")[1], text, 1000.0, "$m", reply_to=reply_to)


async def test_a_reply_to_a_notification_acts_on_its_incident_as_the_mapped_operator():
    svc, conn, ops = setup()
    await ops.on_event(msg("ban", reply_to="$note12"))
    (actor, cmd), = svc.ran
    assert (actor.user, actor.role, actor.session) == ("alice", Role.MODERATOR, "chat hq")
    assert (cmd.name, cmd.targets) == ("blacklist_alerts", ["incident:12"])
    (group, text), = conn.sent
    assert group == CHAT and text.startswith("alice: blacklist incident #12: 1/1 done")
    await ops.on_event(msg("#12 snooze 2h"))
    assert (svc.ran[-1][1].name, svc.ran[-1][1].params) == ("snooze", {"seconds": 7200})


async def test_the_role_is_the_operators_own_so_the_service_can_refuse_it():
    svc, conn, ops = setup()
    await ops.on_event(msg("ack", sender="matrix:@vic:localhost", reply_to="$note12"))
    assert svc.ran[0][0].user == "vic" and svc.ran[0][0].role is Role.VIEWER


async def test_strangers_unknown_words_and_other_talk_do_nothing():
    svc, conn, ops = setup()
    await ops.on_event(msg("ban", sender="matrix:@mallory:localhost", reply_to="$note12"))
    await ops.on_event(msg("#12 dance", reply_to=None))
    await ops.on_event(msg("#99 ack"))
    assert svc.ran == []
    assert [t.split(":")[0] for _, t in conn.sent] == ["not done"] * 3
    assert "not an operator" in conn.sent[0][1] and "unknown command" in conn.sent[1][1] and "#99" in conn.sent[2][1]
    await ops.on_event(msg("ban", sender="matrix:@mallory:localhost", reply_to="$note12"))
    assert len(conn.sent) == 3 and svc.ran == []  # a stranger insisting is not answered again at once
    conn.sent.clear()
    await ops.on_event(msg("ack"))                        # addressed to nobody
    await ops.on_event(msg("ban", reply_to="$someone"))   # a reply to a person, not to the bot
    await ops.on_event(msg("#12 ack", group="matrix:!elsewhere:localhost"))  # not a moderators' chat
    assert svc.ran == [] and conn.sent == []


async def test_the_bots_own_answers_are_never_read_as_commands():
    svc, conn, ops = setup()
    await ops.on_event(msg("#12 ack"))
    answer = conn.sent[-1][1]
    assert not answer.startswith("#")
    await ops.on_event(msg(answer, sender="matrix:@alice:localhost"))
    assert len(svc.ran) == 1


async def test_a_telegram_reply_to_the_bots_post_names_the_incident_through_the_connector():
    """Telegram's documented payloads: the bot's sendMessage answer gives the message_id, a moderator's
    reply carries it as reply_to_message.message_id, and the connector hands it over as reply_to."""
    from console.oncall.receivers import ChatReceiver, Notification
    from tests.test_telegram import ANN, BOT, SUPER, T0, BotServer, message, started

    server = BotServer()
    conn, cursor = await started(server)
    group = f"telegram:{SUPER}"
    posted = await ChatReceiver(conn, group, "route 'ads'").send(
        Notification("ads/12/1/chat", 12, "[HIGH] #12 ad: ads in 4 groups", "Reply ban to ban."))
    assert server.bodies("sendMessage")[0]["text"].startswith("[HIGH] #12 ad")
    settings = parse_settings('[operators.chat]\n"telegram:201" = "ann"\n')
    incs = FakeIncidents()
    incs.change(FakeIncident(12), "opened")
    svc = FakeService(settings, incs)
    ops = ChatOps(svc, {group: conn}, lambda c, g, m: 12 if (c, g, m) == ("tg", group, posted) else None)
    server.push("message", message(5, ANN, T0 + 5, "ban",
                                   reply_to_message=message(int(posted), BOT, T0, "[HIGH] #12 ad")))
    batch = await conn.poll(cursor, 0)
    (ev,) = batch.events
    assert ev.reply_to == posted
    await ops.on_event(ev)
    (actor, cmd), = svc.ran
    assert actor.user == "ann" and (cmd.name, cmd.targets) == ("blacklist_alerts", ["incident:12"])
    assert server.bodies("sendMessage")[-1]["text"].startswith("ann: blacklist incident #12")
    await conn.close()


async def test_names_in_the_bots_answers_cannot_ping_anyone():
    svc, conn, ops = setup()
    await ops.on_event(Message(CHAT, "matrix:@x:localhost", "@room everyone", "#12 ack", 1000.0, "$m"))
    (_, text), = conn.sent
    assert "@" not in text and "\uff20room everyone" in text
