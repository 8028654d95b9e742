"""Secrets: no token in the data dir, the logs, the screen, the audit log or any error message.

Three real connectors run with distinctive tokens, delivered the supported ways
(a user-only ``token_file``, environment variables), against peers that
misbehave in every way that could hand a token back: error answers that echo
the request URL (a Telegram token is part of its path) or the Authorization
header, in the body, a header or the HTTP reason phrase; 401/403 answers;
a redirect to the URL with the token; stalls; exceptions whose text holds the
URL. Then everything that could carry a token is searched for it in the forms
it could take there: as is, URL-quoted, base64 at any alignment (also inside a
compressed blob), and any 10 characters of its random part, so a token cut
short on screen is still caught.

Every search is shown able to fail: the first test plants each form where the
search must find it; each scenario checks that the peers really received the
tokens and that the texts searched did hold what the servers quoted back
(scrubbed); and a token logged at DEBUG by the test itself is found in the
captured log.
"""
from __future__ import annotations

import asyncio
import base64
import html
import json
import logging
import re
import secrets
import time
import traceback
import zlib
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any, Awaitable, Callable
from urllib.parse import quote, quote_plus, unquote, urlsplit

import httpx

import pytest

from connectors import registry
from connectors.matrix import MatrixConnector
from connectors.onebot import OneBotConnector
from connectors.telegram import TelegramConnector
from tests.http_fakes import BotApiFake, HomeserverFake
from tests.onebot_fake import FakeMember, FakeOneBot

# --- the tokens, and what finding one means ------------------------------------------------------


def _random() -> str:
    return secrets.token_urlsafe(18)  # 24 characters of [A-Za-z0-9_-], new for every run


TG_TOKEN = f"7400001:SECRET-tg-{_random()}"   # Telegram: the bot id, a colon, the secret
MX_TOKEN = f"syt_SECRET-mx-{_random()}"       # Matrix access token
OB_TOKEN = f"SECRET-ob-{_random()}"           # OneBot access token
# A token written where it does not belong (in a URL, as a variable's name): never read as a secret,
# so nothing scrubs it for knowing it.
PASTED = f"7400002:SECRET-px-{_random()}"
TOKENS = {"telegram": TG_TOKEN, "matrix": MX_TOKEN, "onebot": OB_TOKEN, "pasted": PASTED}
FRAGMENT = 10  # this many characters in a row of a token's random part count as a leak


def _forms(token: str) -> dict[str, bytes]:
    """What to look for: the token as it could be written anywhere."""
    marker, _, rand = token.partition("SECRET-")[2].partition("-")
    out = {"as is": token, "URL-quoted": quote(token, safe=""), "URL path-quoted": quote(token, safe="/:"),
           "form-quoted": quote_plus(token),
           # The secret half cut short (a 40-character health line ends in "…") is still a leak.
           "its secret half": f"SECRET-{marker}"}
    for i in range(len(rand) - FRAGMENT + 1):
        out[f"characters {i}-{i + FRAGMENT} of its random part"] = rand[i:i + FRAGMENT]
    raw = token.encode()
    for pad in range(3):  # where the token starts within base64's 3-byte groups
        first = -(-pad // 3) * 3  # the first group that holds token bytes only
        last = (pad + len(raw)) // 3 * 3
        for name, encode in (("base64", base64.b64encode), ("base64url", base64.urlsafe_b64encode)):
            blob = encode(b"\0" * pad + raw)
            out[f"{name} (offset {pad})"] = blob[first // 3 * 4:last // 3 * 4].decode()
    return {k: v.encode() for k, v in out.items()}


FORMS = {label: _forms(token) for label, token in TOKENS.items()}
_BASE64_RUN = re.compile(rb"[A-Za-z0-9+/_-]{24,}={0,2}")


def _layers(data: bytes) -> list[bytes]:
    """``data``, and what base64 runs in it decode to, decompressed where they hold zlib data
    (the ad model's base is stored that way)."""
    out = [data]
    for m in _BASE64_RUN.finditer(data):
        run = m.group()
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                decoded = decode(run + b"=" * (-len(run) % 4))
            except ValueError:
                continue
            out.append(decoded)
            for start in range(min(len(decoded), 16)):
                try:
                    out.append(zlib.decompress(decoded[start:]))
                    break
                except zlib.error:
                    continue
    return out


def leaks(text: str | bytes) -> list[str]:
    """Which tokens, in which forms, ``text`` holds."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    layers = _layers(data)
    return [f"the {label} token ({form})" for label, forms in FORMS.items() for form, pattern in forms.items()
            if any(pattern in layer for layer in layers)]


def describe(found: list[str]) -> str:
    """``leaks()``' findings, shortly: which token, and a few of the forms it was found in."""
    by_token: dict[str, list[str]] = {}
    for f in found:
        token, _, form = f.partition(" (")
        by_token.setdefault(token, []).append(form.rstrip(")"))
    return "; ".join(f"{t} ({', '.join(forms[:3])}{f' and {len(forms) - 3} more forms' if len(forms) > 3 else ''})"
                     for t, forms in by_token.items())


def assert_clean(what: dict[str, str | bytes] | list[tuple[str, str | bytes]]) -> None:
    """No token in any of the named texts; the failure names each text that holds one, and how."""
    items = what.items() if isinstance(what, dict) else what
    leaked = [f"{where}: {describe(found)}" for where, text in items if (found := leaks(text))]
    assert not leaked, "tokens leaked:\n" + "\n".join(leaked)


def scan_dir(root: Path) -> dict[str, list[str]]:
    """Every file under ``root``, whatever its name, read as bytes: which tokens each holds."""
    files = [p for p in root.rglob("*") if p.is_file()]
    assert files, f"nothing written under {root}"
    return {str(p.relative_to(root)): found for p in files if (found := leaks(p.read_bytes()))}


def screen_text(svg: str) -> str:
    """An SVG screenshot's text, spans joined; then again with all blanks removed, so that a token
    wrapped over two lines or split between two styles reads as one."""
    text = html.unescape("".join(re.findall(r"<text[^>]*>(.*?)</text>", svg, flags=re.S))).replace("\xa0", " ")
    return text + "\n" + re.sub(r"\s+", "", text)


def test_the_search_finds_every_form_of_a_token_it_looks_for(tmp_path: Path) -> None:
    token = TOKENS["telegram"]
    planted = {
        "state.json": json.dumps({"cursor": f"https://api.telegram.org/bot{token}/getUpdates"}),
        "url.log": f"GET /bot{quote(token, safe='')}/getMe",
        "form.txt": f"token={quote_plus(TOKENS['onebot'])}&x=1",
        "short.txt": "shop:down (telegram getUpdates: /bot" + token[:26] + "…)",
        "ad_base.json": json.dumps({"blob": base64.b64encode(b"GWAD" + zlib.compress(
            b"model learned from " + TOKENS["matrix"].encode())).decode()}),
    }
    for pad in range(3):
        planted[f"basic{pad}.txt"] = base64.b64encode((" " * pad + f"Bearer {TOKENS['matrix']}").encode()).decode()
    for name, text in planted.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "clean.json").write_text(json.dumps({"bot": "7400001", "user": "@bot:hs.test",
                                                     "key": "post:" + secrets.token_hex(16)}))
    found = scan_dir(tmp_path)
    assert sorted(found) == sorted(planted)
    assert "the telegram token (its secret half)" in found["short.txt"]
    assert any("base64" in f for f in found["basic1.txt"])
    # A screenshot splits text into spans by style and by line: the search reads them joined.
    split = f'<text x="0">{token[:30]}</text><text x="9">&#160;\n</text><text x="0">{token[30:]}</text>'
    assert "the telegram token (as is)" not in leaks(split)
    assert "the telegram token (as is)" in leaks(screen_text(split))
    assert not leaks("7400001: the bot id alone is public")


# --- peers that echo what they were sent ------------------------------------------------------------


class EchoingBotApi(BotApiFake):
    """The Telegram fake, plus faults whose answers quote the request: its URL (which holds the token)
    in the description, a header, a redirect's Location and the HTTP reason phrase."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.poll_fault: str | None = None    # on getUpdates: "500", "401", "redirect"
        self.action_fault: str | None = None  # on every other method: "400"
        self.echoed = 0                        # faulty answers given to a request that carried the token

    async def handle(self, request: httpx.Request) -> httpx.Response:
        path = unquote(request.url.path)
        method = path.rpartition("/")[2]
        fault = self.poll_fault if method == "getUpdates" else self.action_fault
        if fault is None or f"/bot{self.token}/" not in path:
            return await super().handle(request)
        self.echoed += 1
        where = {"X-Request-Path": path}
        if fault == "redirect":  # what api.telegram.org does for plain http: Location holds the token
            return httpx.Response(301, headers={**where, "Location": f"https://api.telegram.org{path}"},
                                  text=f"<html>Moved to https://api.telegram.org{path}</html>")
        code = int(fault)
        desc = {500: f"Internal Server Error while serving {request.url}",
                401: f"Unauthorized: the token {path[4:].partition('/')[0]} was revoked",
                400: f"Bad Request: not enough rights for {request.url}"}[code]
        return httpx.Response(code, json={"ok": False, "error_code": code, "description": desc}, headers=where,
                              extensions={"reason_phrase": f"Failed {path}".encode()})


class TelegramWire(httpx.AsyncBaseTransport):
    """Real HTTP to the loopback server (so httpx's and httpcore's own logging runs as in production),
    or, for the methods in ``raising``, an exception whose text holds the URL. It sits below the
    connector's token-inserting transport, so that URL is the real one, token included."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.raising: dict[str, str] = {}  # Bot API method -> "httpx" (an httpx error) or "bug" (any other)
        self.raised = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        method = request.url.path.rpartition("/")[2]
        kind = self.raising.get(method)
        if kind is not None and TG_TOKEN in unquote(request.url.path):
            self.raised += 1
            if kind == "httpx":
                raise httpx.ConnectError(f"cannot connect to {request.url}", request=request)
            raise RuntimeError(f"the proxy library failed on {request.url}")  # a bug below us, not httpx's
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


class LoopbackHTTP:
    """A real HTTP/1.1 server on 127.0.0.1 handing each request to an httpx-style fake's ``handle``.
    A fake that stalls (raises a timeout) gets the connection dropped without an answer."""

    def __init__(self, handle: Callable[[httpx.Request], Awaitable[httpx.Response]]) -> None:
        self.handle = handle
        self.port = 0
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> "LoopbackHTTP":
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for w in list(self._writers):
                w.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while line := await reader.readline():
                method, target, _ = line.decode("latin-1").split(" ", 2)
                headers: list[tuple[str, str]] = []
                while (h := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    k, _, v = h.decode("latin-1").partition(":")
                    headers.append((k.strip(), v.strip()))
                size = int(next((v for k, v in headers if k.lower() == "content-length"), "0"))
                body = await reader.readexactly(size)
                request = httpx.Request(method, self.url + target, headers=headers, content=body)
                try:
                    r = await self.handle(request)
                except httpx.TimeoutException:
                    break
                content = r.content
                reason = r.extensions.get("reason_phrase") or HTTPStatus(r.status_code).phrase.encode()
                head = [f"HTTP/1.1 {r.status_code} ".encode() + reason]
                head += [f"{k}: {v}".encode("latin-1") for k, v in r.headers.items()
                         if k.lower() not in ("content-length", "transfer-encoding", "content-encoding")]
                head.append(f"Content-Length: {len(content)}".encode())
                writer.write(b"\r\n".join(head) + b"\r\n\r\n" + content)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()


class EchoingHomeserver(HomeserverFake):
    """The Matrix fake, plus answers to sends and bans, and faults whose error text quotes the
    Authorization header it was sent."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.poll_fault: str | None = None    # on /sync: "502" (a proxy's page) or "400" (M_UNKNOWN)
        self.action_fault: str | None = None  # on sends, bans, kicks: "403" (M_FORBIDDEN)
        self.any_fault: str | None = None     # on every request, as the two above
        self.echoed = 0
        self.acted: list[str] = []

    async def handle(self, request: httpx.Request) -> httpx.Response:
        auth = request.headers.get("Authorization", "")
        if auth != f"Bearer {self.token}" or self.mode != "ok":
            return await super().handle(request)
        path = unquote(request.url.path)
        sync = path == f"{self.API}/sync"
        fault = self.any_fault or (self.poll_fault if sync else
                                   self.action_fault if request.method in ("PUT", "POST") else None)
        if fault is not None:
            self.echoed += 1
            if fault == "502":
                return httpx.Response(502, text=f"<html>Bad gateway: upstream refused {auth}</html>",
                                      headers={"X-Echo": auth})
            # A broken proxy's 400 quotes it even in the errcode.
            code, errcode = (400, f"M_UNKNOWN ({auth})") if fault == "400" else (403, "M_FORBIDDEN")
            return httpx.Response(code, json={"errcode": errcode, "error": f"{auth} may not do this"},
                                  headers={"X-Echo": auth})
        room = f"{self.API}/rooms/{self.room}"
        if request.method == "PUT" and path.startswith(f"{room}/send/"):
            self.acted.append("send")
            return httpx.Response(200, json={"event_id": f"$sent{len(self.acted)}"})
        if request.method == "POST" and path.rpartition("/")[2] in ("ban", "kick", "unban"):
            self.acted.append(path.rpartition("/")[2])
            return httpx.Response(200, json={})
        return await super().handle(request)


QQ_GROUP, QQ_BOT, QQ_SPAMMER, QQ_MEMBER = 734001, 10001, 20001, 20002
ACTIONS_OB = ("send_group_msg", "set_group_kick", "set_group_ban", "delete_msg")


def echoing_onebot(fake: FakeOneBot) -> dict[str, Any]:
    """Faults for the OneBot fake (call before it starts): actions refused with the Authorization
    header quoted back; the event stream refused (403) with the token quoted in the answer's body and
    a header, or accepted and closed with the token quoted in the close reason."""
    faults: dict[str, Any] = {"actions": False, "stream": None, "echoed": 0}
    http_request, ws_auth, ws_handler = fake._http_request, fake._ws_auth, fake._ws_handler

    async def http(method: str, target: str, headers: dict[str, str], body: bytes):
        if faults["actions"] and urlsplit(target).path.strip("/") in ACTIONS_OB \
                and headers.get("authorization") == f"Bearer {fake.token}":
            faults["echoed"] += 1
            text = f"permission denied for {headers['authorization']}"
            return 200, json.dumps({"status": "failed", "retcode": 100, "data": None, "message": text,
                                    "wording": text}).encode()
        return await http_request(method, target, headers, body)

    def ws(connection, request):
        given = request.headers.get("Authorization", "")
        if faults["stream"] == "403" and given == f"Bearer {fake.token}":
            faults["echoed"] += 1
            response = connection.respond(HTTPStatus.FORBIDDEN, f"token {given} is not allowed here\n")
            response.headers["X-Echo"] = given
            return response
        return ws_auth(connection, request)

    async def handler(connection) -> None:
        given = connection.request.headers.get("Authorization", "")
        if faults["stream"] == "close" and given == f"Bearer {fake.token}":
            faults["echoed"] += 1
            await connection.close(1008, f"{given[7:]} expired")
            return
        await ws_handler(connection)

    fake._http_request, fake._ws_auth, fake._ws_handler = http, ws, handler
    return faults


async def start_onebot() -> tuple[FakeOneBot, dict[str, Any]]:
    fake = FakeOneBot(token=OB_TOKEN, self_id=QQ_BOT, heartbeat_interval=0.2)
    faults = echoing_onebot(fake)
    await fake.start()
    now = fake.now()
    fake.add_group(QQ_GROUP, "QQ fans", [FakeMember(QQ_SPAMMER, "ads4u", join_time=now - 86400),
                                         FakeMember(QQ_MEMBER, "Bo", join_time=now - 9 * 86400)])
    return fake, faults


# --- logs ------------------------------------------------------------------------------------------

PLANTED = "tests.planted"  # a logger the test writes a token to, to show the capture would catch it
PEER_LOGGERS = ("websockets.server", PLANTED)  # the OneBot fake's own server: the peer's log, not ours


def assert_logs_captured(peers: str) -> None:
    """The capture would have caught a token: one planted at DEBUG is there, and the peer's own
    DEBUG log of the handshake has the Authorization header line (scrubbed: it runs in this process)."""
    assert "the pasted token (as is)" in leaks(peers)
    assert re.search(r"< Authorization: Bearer \S", peers)


@pytest.fixture
def every_log(caplog: pytest.LogCaptureFixture):
    """Every logger at DEBUG (also those the product keeps quieter on purpose, and those that do not
    propagate) into caplog; returns a function giving (our log text, the peers' log text)."""
    import connectors.onebot.stream  # noqa: F401 - its loggers exist, with their levels, from here on
    import console.app  # noqa: F401
    import httpcore  # noqa: F401
    import websockets.client  # noqa: F401

    caplog.set_level(logging.DEBUG)
    loggers = [lg for lg in logging.root.manager.loggerDict.values() if isinstance(lg, logging.Logger)]
    for lg in loggers:
        caplog.set_level(logging.DEBUG, logger=lg.name)
    # httpcore's per-module loggers are created on first use: make sure they are at DEBUG too.
    for name in ("httpx", "httpcore.connection", "httpcore.http11", "httpcore.http2", "httpcore.proxy"):
        caplog.set_level(logging.DEBUG, logger=name)
    lonely = [lg for lg in loggers if not lg.propagate]
    for lg in lonely:
        lg.addHandler(caplog.handler)

    # A token never read as a secret (so nothing scrubs it), logged at DEBUG: it must show up.
    logging.getLogger(PLANTED).debug("planted: %s", PASTED)

    def text() -> tuple[str, str]:
        ours, peers = [], []
        for r in caplog.get_records("setup") + caplog.records:
            (peers if r.name.startswith(PEER_LOGGERS) else ours).append(caplog.handler.format(r))
        return "\n".join(ours), "\n".join(peers)

    yield text
    for lg in lonely:
        lg.removeHandler(caplog.handler)


# --- error messages and health of each connector, under every fault --------------------------------


@dataclass
class Outcomes:
    """What a connector let out: its errors as a traceback would print them, and its health lines."""

    texts: list[tuple[str, str]]
    errors: list[str]

    async def run(self, where: str, aw: Awaitable[Any]) -> Any:
        try:
            return await aw
        except Exception as e:  # every kind: a bug's message would be printed too
            self.errors.append(f"{where}: {type(e).__name__}")
            self.texts.append((where, "".join(traceback.format_exception(e)) + repr(e) + repr(e.args)))
            return None

    def look(self, where: str, conn: Any) -> None:
        h = conn.health()
        self.texts.append((f"{where}: health", f"{h.reason}\n{h!r}\n{conn!r}\n{conn}"))


def secret_file(tmp_path: Path, token: str, name: str) -> Path:
    p = tmp_path / name
    p.write_text(token + "\n", encoding="utf-8")
    p.chmod(0o600)
    return p


async def _telegram_faults(tmp_path: Path, seen: Outcomes) -> tuple[EchoingBotApi, TelegramWire]:
    fake = EchoingBotApi(TG_TOKEN, -1001, "Shop", flow=False)
    wire = TelegramWire()
    wire.inner = fake.transport()  # in-process here; the console scenario below goes over real sockets
    conn = TelegramConnector.from_settings("shop", {"token_file": str(secret_file(tmp_path, TG_TOKEN, "tg.token")),
                                                    "chats": [-1001]}, transport=wire)
    g, m = "telegram:-1001", "telegram:501"
    fake.push_message({"id": 501, "is_bot": False, "first_name": "Ann"}, "hello")
    batch = await seen.run("telegram poll", conn.poll(None, 0))
    cursor = batch.cursor if batch else None

    async def everything(label: str) -> None:
        await seen.run(f"telegram {label} poll", conn.poll(cursor, 0))
        seen.look(f"telegram {label} after poll", conn)
        for name, aw in (("groups", conn.groups()), ("probe", conn.probe()), ("send", conn.send(g, "hi @Ann", [m])),
                         ("ban", conn.ban(g, m, "spam")), ("kick", conn.kick(g, m)), ("unban", conn.unban(g, m)),
                         ("mute", conn.mute(g, m, 60)), ("delete", conn.delete(g, "7"))):
            await seen.run(f"telegram {label} {name}", aw)
        seen.look(f"telegram {label} after actions", conn)

    await everything("ok")
    for fault in ("500", "401", "redirect"):
        fake.poll_fault = fault
        await everything(f"poll {fault}")
    fake.poll_fault, fake.action_fault = None, "400"
    await everything("actions 400")
    fake.action_fault = None
    for kind in ("httpx", "bug"):
        wire.raising = {"getUpdates": kind, "sendMessage": kind, "banChatMember": kind, "getMe": kind}
        await everything(f"raising {kind}")
    wire.raising = {}
    fake.mode = "refused"
    await everything("refused")
    fake.mode = "timeout"
    await seen.run("telegram timeout poll", conn.poll(cursor, 0))
    seen.look("telegram timeout", conn)
    await conn.close()
    return fake, wire


async def _matrix_faults(seen: Outcomes) -> EchoingHomeserver:
    fake = EchoingHomeserver(MX_TOKEN, flow=True)
    conn = MatrixConnector.from_settings("hq", {"homeserver": "https://hs.test", "token_env": "GW_MX"},
                                         environ={"GW_MX": MX_TOKEN}, transport=fake.transport())
    g, m = "matrix:!room:hs.test", "matrix:@ann:hs.test"
    batch = await seen.run("matrix poll", conn.poll(None, 0))
    cursor = batch.cursor if batch else None

    async def everything(label: str) -> None:
        await seen.run(f"matrix {label} poll", conn.poll(cursor, 0.1))
        seen.look(f"matrix {label} after poll", conn)
        for name, aw in (("groups", conn.groups()), ("members", conn.members(g)), ("probe", conn.probe()),
                         ("send", conn.send(g, "hi Ann", [m], idempotency_key="k1")), ("ban", conn.ban(g, m, "spam")),
                         ("kick", conn.kick(g, m)), ("unban", conn.unban(g, m)), ("mute", conn.mute(g, m, 60)),
                         ("delete", conn.delete(g, "$e1"))):
            await seen.run(f"matrix {label} {name}", aw)
        seen.look(f"matrix {label} after actions", conn)

    await everything("ok")
    for fault in ("502", "400"):
        fake.poll_fault = fault
        await everything(f"poll {fault}")
    fake.poll_fault, fake.action_fault = None, "403"
    await everything("actions 403")
    fake.action_fault = None
    fake.mode = "refused"
    await everything("refused")
    fake.mode = "timeout"
    await seen.run("matrix timeout poll", conn.poll(cursor, 0))
    seen.look("matrix timeout", conn)
    await conn.close()
    return fake


async def _onebot_faults(seen: Outcomes) -> tuple[FakeOneBot, dict[str, Any]]:
    fake, faults = await start_onebot()
    try:
        options = {"ws_url": fake.ws_url, "http_url": fake.http_url, "token_env": "GW_OB", "timeout": 1}
        conn = OneBotConnector.from_settings("qq", options, environ={"GW_OB": OB_TOKEN})
        conn._stream.reconnect_min = conn._stream.reconnect_max = 0.05
        g, m = f"qq:{QQ_GROUP}", f"qq:{QQ_SPAMMER}"
        batch = await seen.run("onebot poll", conn.poll(None, 0))
        await conn._stream.wait_open(3)
        cursor = batch.cursor if batch else None

        async def everything(label: str) -> None:
            await seen.run(f"onebot {label} poll", conn.poll(cursor, 0.1))
            seen.look(f"onebot {label} after poll", conn)
            for name, aw in (("groups", conn.groups()), ("members", conn.members(g)), ("probe", conn.probe()),
                             ("send", conn.send(g, "hi @ads4u", [m])), ("ban", conn.ban(g, m, "spam")),
                             ("kick", conn.kick(g, f"qq:{QQ_MEMBER}")), ("mute", conn.mute(g, m, 60)),
                             ("delete", conn.delete(g, "1000002"))):
                await seen.run(f"onebot {label} {name}", aw)
            seen.look(f"onebot {label} after actions", conn)

        await everything("ok")
        faults["actions"] = True
        await everything("actions refused")
        faults["actions"] = False
        for kind in ("500", "403", "garbage", "429"):
            fake.fail("*", kind, times=20)
            await everything(f"http {kind}")
            fake.faults.clear()
        for kind in ("403", "close"):
            faults["stream"] = kind
            fake.drop_clients()
            before = faults["echoed"]
            deadline = time.monotonic() + 3
            while faults["echoed"] == before and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.05)
            await everything(f"stream {kind}")
        faults["stream"] = None
        await conn.close()
        wrong = OneBotConnector.from_settings("qq", options, environ={"GW_OB": "not-" + OB_TOKEN[::-1]})
        await seen.run("onebot wrong token probe", wrong.probe())
        seen.look("onebot wrong token", wrong)
        await wrong.close()
    finally:
        await fake.stop()
    return fake, faults


async def test_no_connector_error_or_health_line_holds_its_token(tmp_path: Path) -> None:
    seen = Outcomes([], [])
    (tg, wire), mx, (ob, ob_faults) = await asyncio.gather(
        _telegram_faults(tmp_path, seen), _matrix_faults(seen), _onebot_faults(seen))
    # The tokens were used, and the faults did answer requests that carried them.
    assert tg.methods("getUpdates") and tg.methods("sendMessage") and tg.echoed >= 10 and wire.raised >= 4
    assert mx.calls and "ban" in mx.acted and "send" in mx.acted and mx.echoed >= 8
    assert ob.actions("set_group_kick") and ob_faults["echoed"] >= 4
    for kind in ("AuthFailed", "TransientError", "RateLimited", "ConnectorError", "ActionFailed", "Unsupported"):
        assert any(e.endswith(": " + kind) for e in seen.errors), f"no {kind} seen: {seen.errors}"
    # A failure below the Telegram transport, quoting the URL, is still named (without the URL).
    bug = [text for where, text in seen.texts if where == "telegram raising bug send"]
    assert bug and "TransientError: telegram sendMessage: connection failed (TransportError: RuntimeError: the " \
                   "proxy library failed on https://api.telegram.org/bot***/sendMessage)" in bug[0]
    assert_clean(seen.texts)


# --- error messages: config check, startup, and bad tables -----------------------------------------

PEERS: dict[str, Any] = {}  # connector name -> (its fake, its TelegramWire or None), for the classes below


class PeeredTelegram(TelegramConnector):
    """The real Telegram connector, built from its table as usual, talking to PEERS[name]."""

    @classmethod
    def from_settings(cls, name, options, *, environ=None):
        fake, wire = PEERS.get(name, (None, None))  # none: a table that never gets as far as the network
        return super().from_settings(name, options, environ=environ,
                                     transport=wire or (fake.transport() if fake else None))


class PeeredMatrix(MatrixConnector):
    @classmethod
    def from_settings(cls, name, options, *, environ=None):
        fake = PEERS.get(name, (None,))[0]
        return super().from_settings(name, options, environ=environ, transport=fake.transport() if fake else None)


@pytest.fixture
def peered(monkeypatch):
    monkeypatch.setitem(registry._CLASSES, "telegram", (__name__, "PeeredTelegram"))
    monkeypatch.setitem(registry._CLASSES, "matrix", (__name__, "PeeredMatrix"))
    PEERS.clear()
    yield PEERS
    PEERS.clear()


class LoopThread:
    """An event loop in a thread of its own, for a peer that must answer while a command runs its own
    ``asyncio.run`` in this thread."""

    def __enter__(self) -> "LoopThread":
        import threading

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        return self

    def run(self, aw: Awaitable[Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(aw, self.loop).result(10)

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


def test_config_check_and_startup_never_print_a_token(tmp_path, peered, monkeypatch, capsys, every_log):
    from console.cli import main

    shop = EchoingBotApi(TG_TOKEN, -1001, "Shop", flow=False)
    shop.action_fault = "400"                   # getMe: a 400 quoting the URL
    gone = EchoingBotApi(TG_TOKEN, -1002, flow=False)
    gone.action_fault = "401"                   # a 401 quoting the token
    proxy_wire = TelegramWire()
    proxy = EchoingBotApi(TG_TOKEN, -1003, flow=False)
    proxy_wire.inner, proxy_wire.raising = proxy.transport(), {"getMe": "bug"}
    hq = EchoingHomeserver(MX_TOKEN, flow=False)
    hq.any_fault = "403"
    peered.update(shop=(shop, None), gone=(gone, None), proxy=(proxy, proxy_wire), hq=(hq, None))
    token_file = secret_file(tmp_path, TG_TOKEN, "tg.token")
    monkeypatch.setenv("GW_TG", TG_TOKEN)
    monkeypatch.setenv("GW_MX", MX_TOKEN)
    monkeypatch.setenv("GW_OB", OB_TOKEN)
    with LoopThread() as peer:
        qq, qq_faults = peer.run(start_onebot())
        qq_faults["stream"] = "close"           # the event stream closes quoting the token
        config = tmp_path / "groupwatch.toml"
        config.write_text(f'''
[[connector]]
type = "telegram"
name = "shop"
token_file = "{token_file}"
[[connector]]
type = "telegram"
name = "gone"
token_env = "GW_TG"
[[connector]]
type = "telegram"
name = "proxy"
token_env = "GW_TG"
[[connector]]
type = "matrix"
name = "hq"
homeserver = "https://hs.test"
token_env = "GW_MX"
[[connector]]
type = "onebot"
name = "qq"
ws_url = "{qq.ws_url}"
http_url = "{qq.http_url}"
token_env = "GW_OB"
''', encoding="utf-8")
        code = main(["config", "check", "--config", str(config), "--timeout", "3"])
        probed = capsys.readouterr()
        peer.run(qq.stop())
    lines = probed.out.splitlines()
    assert code == 1, probed
    assert "shop (telegram): FAILED: telegram getMe: Bad Request: not enough rights for " \
           "https://api.telegram.org/bot***/getMe" in lines
    assert any(line.startswith("gone (telegram): FAILED: telegram: the bot token was refused (HTTP 401 "
                               "(Unauthorized: the token *** was revoked)") for line in lines), lines
    assert "proxy (telegram): FAILED: telegram getMe: connection failed (TransportError: RuntimeError: the proxy " \
           "library failed on https://api.telegram.org/bot***/getMe)" in lines
    assert "hq (matrix): FAILED: matrix whoami: M_FORBIDDEN: Bearer *** may not do this" in lines
    assert any(line.startswith("qq (onebot): FAILED: event stream ws://127.0.0.1:") and
               line.endswith("/event: connection dropped (code 1008: *** expired)") for line in lines), lines
    # The faults answered requests that carried the tokens.
    assert shop.echoed and gone.echoed and proxy_wire.raised and hq.echoed and qq_faults["echoed"]

    # Tables that are wrong, some of them because a token was written where it does not belong.
    loose = tmp_path / "loose.token"
    loose.write_text(OB_TOKEN)
    loose.chmod(0o644)
    monkeypatch.setenv("GW_NOT_A_TOKEN", f"bot{TG_TOKEN}")
    bad = tmp_path / "bad.toml"
    tables = {
        "env-pasted": ("telegram", f'token_env = "{PASTED}"'),
        "file-pasted": ("telegram", f'token_file = "{PASTED}"'),
        "literal": ("matrix", f'homeserver = "https://hs.test"\ntoken = "{PASTED}"'),
        "query": ("matrix", f'homeserver = "https://hs.test/?access_token={PASTED}"\ntoken_env = "GW_MX"'),
        "port": ("onebot", f'ws_url = "ws://127.0.0.1:99999/?access_token={PASTED}"\n'
                           f'http_url = "http://127.0.0.1:1"\ntoken_env = "GW_OB"'),
        "userinfo": ("onebot", f'ws_url = "http://qq:{PASTED}@127.0.0.1:3001"\n'
                               f'http_url = "http://127.0.0.1:1"\ntoken_env = "GW_OB"'),
        "in-url": ("telegram", f'token_env = "GW_TG"\napi_url = "https://api.telegram.org/bot{PASTED}"'),
        "shape": ("telegram", 'token_env = "GW_NOT_A_TOKEN"'),
        "loose": ("onebot", f'ws_url = "ws://127.0.0.1:1"\nhttp_url = "http://127.0.0.1:1"\ntoken_file = "{loose}"'),
    }
    bad.write_text("".join(f'[[connector]]\nname = "{n}"\ntype = "{t}"\n{body}\n' for n, (t, body) in tables.items()))
    code = main(["config", "check", "--no-probe", "--config", str(bad)])
    checked = capsys.readouterr()
    assert code == 2 and checked.out == ""
    errors = checked.err.splitlines()
    assert [e.split("'")[1] for e in errors] == list(tables), errors  # each table named, in order
    code = main(["watch", "--headless", "--seconds", "1", "--config", str(bad), "--data-dir", str(tmp_path / "d")])
    started = capsys.readouterr()
    assert code == 2 and started.err.startswith("groupwatch: error: ") and "env-pasted" in started.err
    broken = tmp_path / "broken.toml"
    broken.write_text(f'[[connector]]\ntype = "matrix"\ntoken = "{PASTED}\n')  # an unterminated string
    code = main(["config", "check", "--config", str(broken)])
    syntax = capsys.readouterr()
    assert code == 2 and "invalid TOML" in syntax.err

    ours, peers = every_log()
    assert_logs_captured(peers)
    assert_clean({"config check output": probed.out + probed.err, "config check of bad tables": checked.err,
                  "watch refusing to start": started.out + started.err, "a TOML syntax error": syntax.err,
                  "the log": ours})


# --- a whole session: engine, actions, console, checkpoint ------------------------------------------

SCREEN_OF_KEY = {"1": "GroupsScreen", "2": "AlertsScreen", "3": "FeedScreen", "4": "BlacklistScreen",
                 "5": "SchedulesScreen", "6": "AuditScreen"}


async def test_a_session_with_faults_and_actions_leaves_no_token_anywhere(tmp_path, peered, monkeypatch, capsys,
                                                                        every_log):
    """One console session over the three connectors, with successful and failing actions and every
    polling fault, every screen looked at; then the data dir, the logs, the audit log and every
    screenshot are searched."""
    from console.app import GroupWatchApp
    from console.bench_ui import send_key
    from console.engine.actions.model import ActionState
    from console.service.api import Command
    from console.runtime import open_runtime
    from console.screens.modals import HelpScreen

    shop = EchoingBotApi(TG_TOKEN, -1001, "Shop", delay=0.1)
    wire = TelegramWire()
    tg_server = await LoopbackHTTP(shop.handle).start()
    hq = EchoingHomeserver(MX_TOKEN, delay=0.1)
    peered.update(shop=(shop, wire), hq=(hq, None))
    qq, qq_faults = await start_onebot()
    monkeypatch.setenv("GW_MX", MX_TOKEN)
    monkeypatch.setenv("GW_OB", OB_TOKEN)
    config = tmp_path / "groupwatch.toml"
    config.write_text(f'''
[engine]
poll_timeout = 0.5
backoff_start = 0.05
backoff_max = 0.3
[store]
checkpoint_seconds = 0.5

[[connector]]
type = "telegram"
name = "shop"
token_file = "{secret_file(tmp_path, TG_TOKEN, 'tg.token')}"
api_url = "{tg_server.url}"
chats = [-1001]

[[connector]]
type = "matrix"
name = "hq"
homeserver = "https://hs.test"
token_env = "GW_MX"

[[connector]]
type = "onebot"
name = "qq"
ws_url = "{qq.ws_url}"
http_url = "{qq.http_url}"
token_env = "GW_OB"
''', encoding="utf-8")
    data = tmp_path / "data"
    rt = open_runtime(str(config), str(data))
    conns = rt.engine.connectors
    rt.engine.connectors["qq"]._stream.reconnect_min = 0.05  # reconnect at once after each stream fault
    rt.engine.connectors["qq"]._stream.reconnect_max = 0.2
    tg, mx, ob = "telegram:-1001", "matrix:!room:hs.test", f"qq:{QQ_GROUP}"
    # No pacing between actions (Telegram's is 3 s per group): what is tested here is what they write.
    rt.moderation.pipeline.limiter.limits.update(telegram=(0.0, 0.0), matrix=(0.0, 0.0), onebot=(0.0, 0.0))
    app = GroupWatchApp(rt, refresh_seconds=0.2)
    shots: list[tuple[str, str]] = []

    async def chatter() -> None:  # QQ members talk, so that the OneBot connector has events to hand over
        n = 0
        while True:
            n += 1
            await qq.say(QQ_GROUP, QQ_MEMBER, f"hello {n}")
            await asyncio.sleep(0.2)

    talking = asyncio.create_task(chatter())
    try:
        async with app.run_test(size=(160, 48), notifications=True) as pilot:
            async def until(cond: Callable[[], bool], what: str, timeout: float = 10) -> None:
                end = time.monotonic() + timeout
                while not cond():
                    status = {n: (s.health.state.value, s.health.reason) for n, s in rt.engine.status.items()}
                    assert time.monotonic() < end, f"timed out waiting for {what}; {status}"
                    await pilot.pause(0.05)

            def header() -> str:
                status = app.screen.query("#status")
                return str(status.first().render()) if status else ""

            def shot(what: str) -> None:
                shots.append((what, screen_text(app.export_screenshot())))
                shots.append((f"{what}: status line", header()))  # whole, should a toast cover it

            def done(state: ActionState) -> int:
                return sum(a.state is state for a in rt.moderation.ledger.actions())

            def health(name: str) -> str:
                h = rt.engine.status[name].health
                return f"{h.state.value} {h.reason}"

            async def visit(key: str, what: str) -> None:
                send_key(app, key)  # as the terminal would: Pilot.press waits for an idle app, which
                # connectors retrying their faults delay
                await until(lambda: type(app.screen).__name__ == SCREEN_OF_KEY[key], f"screen {key}")
                await pilot.pause(0.1)
                shot(what)
                assert "╭─" in shots[-2][1], f"{what}: nothing drawn yet"

            await until(lambda: all(rt.engine.status[n].events > 0 for n in conns)
                        and {tg, mx, ob} <= set(rt.engine.group_owner), "all three connectors to deliver")
            shot("healthy")

            # Actions that work: ban, post, warn, blacklist, each audited and in the ledger.
            targets = [(tg, "telegram:501"), (mx, "matrix:@ann:hs.test"), (ob, f"qq:{QQ_SPAMMER}")]
            app.act(Command("ban", [list(t) for t in targets], {"reason": "spam"}))
            app.act(Command("post", [tg, mx, ob], {"text": "hello everyone"}))
            app.act(Command("warn", [[tg, "telegram:502"]], {"reason": "links"}))
            app.act(Command("blacklist_add", ["telegram:503"], {"reason": "spam bot"}))
            await until(lambda: done(ActionState.DONE) >= 7, "the actions to be done")

            # An ad, and the operator's verdict on it: the ad model's own file is written too.
            seller = {"id": 777, "is_bot": False, "first_name": "deals"}
            shop.push_join(seller)
            shop.push_message(seller, "Cheap Netflix / Spotify / ChatGPT Plus accounts, lifetime warranty, "
                                      "DM t.me/cheap_seller_bot")
            await until(lambda: any(a.kind == "ad" for a in rt.engine.alerts.live()), "an ad alert")
            ad = next(a for a in rt.engine.alerts.live() if a.kind == "ad")
            assert "learned" in rt.moderation.verdict(ad.id, True)

            # Actions the platforms refuse, quoting the token back.
            shop.action_fault, hq.action_fault, qq_faults["actions"] = "400", "403", True
            app.act(Command("post", [tg, mx, ob], {"text": "second post"}))
            app.act(Command("warn", [[mx, "matrix:@ann:hs.test"]], {"reason": "links"}))
            app.act(Command("kick", [[ob, f"qq:{QQ_MEMBER}"]]))
            await until(lambda: done(ActionState.FAILED) >= 5, "the refused actions to fail")
            shop.action_fault, hq.action_fault, qq_faults["actions"] = None, None, False
            wire.raising = {"sendMessage": "bug", "banChatMember": "httpx"}  # failures below the transport
            app.act(Command("post", [tg], {"text": "third post"}))
            app.act(Command("ban", [[tg, "telegram:502"]]))
            await until(lambda: done(ActionState.FAILED) >= 7, "the transport failures")
            wire.raising = {}
            await pilot.pause(0.3)
            shot("after failed actions (their results)")
            send_key(app, "exclamation_mark")  # every result so far, in the Messages screen
            await until(lambda: type(app.screen).__name__ == "MessagesScreen", "the Messages screen")
            await pilot.pause(0.3)
            shot("the Messages screen")
            send_key(app, "escape")
            await until(lambda: type(app.screen).__name__ != "MessagesScreen", "the Messages screen closed")

            # Polling faults, one of each connector's at a time; the header shows every reason.
            steps = [
                ({"tg": ("poll", "500"), "mx": ("poll", "502"), "ob": "403"},
                 ("Internal Server Error", "homeserver error HTTP 502", "access token refused (HTTP 403)")),
                ({"tg": ("poll", "401"), "mx": ("poll", "400"), "ob": "close"},
                 ("the bot token was refused (HTTP 401", "M_UNKNOWN", "connection dropped (code 1008: ")),
                ({"tg": ("poll", "redirect"), "mx": ("mode", "refused")},
                 ("unreadable answer (HTTP 301)", "the access token was refused", None)),
                ({"tg": ("raise", "httpx")}, ("ConnectError: cannot connect to", None, None)),
                ({"tg": ("raise", "bug")}, ("RuntimeError: the proxy library failed", None, None)),
            ]
            for i, (faults, expected) in enumerate(steps):
                kind, value = faults["tg"]
                shop.poll_fault = value if kind == "poll" else None
                wire.raising = {"getUpdates": value} if kind == "raise" else {}
                kind, value = faults.get("mx", ("poll", None))
                hq.poll_fault, hq.mode = (value, "ok") if kind == "poll" else (None, value)
                qq_faults["stream"] = faults.get("ob")
                if "ob" in faults:
                    qq.drop_clients()
                for name, text in zip(("shop", "hq", "qq"), expected):
                    if text is not None:
                        await until(lambda: text in health(name), f"step {i}: {name} showing {text!r}")
                        await until(lambda: f"{name}:{health(name)[:30]}".replace(" ", " (", 1) in header(),
                                    f"the header to show {name}'s health")
                shot(f"fault step {i}: header")
                if i == 1:  # every screen, with faults showing in the header
                    for key in "234561":
                        await visit(key, f"fault step {i}: screen {key}")
            shop.poll_fault, wire.raising, hq.poll_fault, hq.mode, qq_faults["stream"] = None, {}, None, "ok", None
            await until(lambda: all(s.health.state.value == "ok" for s in rt.engine.status.values()),
                        "every connector to recover", timeout=15)

            # Every screen again, the help, the palette and a group's own screen.
            for key in "123456":
                await visit(key, f"screen {key}")
            send_key(app, "question_mark")
            await until(lambda: isinstance(app.screen, HelpScreen), "the help")
            shot("help")
            send_key(app, "escape")
            await pilot.pause(0.1)
            send_key(app, "ctrl+p")
            await until(lambda: type(app.screen).__name__ == "CommandPalette", "the palette")
            for ch in "Go":
                send_key(app, ch)
            await pilot.pause(0.4)
            shot("palette")
            send_key(app, "escape")
            await pilot.pause(0.1)
            for group in (tg, mx, ob):
                app.open_group(group)
                await pilot.pause(0.3)
                shot(f"group {group}")
                send_key(app, "escape")
                await pilot.pause(0.1)
            reprs = {f"repr of {n}": f"{c!r} {c} {vars(c)!r}" for n, c in conns.items()}
            reprs["repr of the runtime"] = repr(rt)
            await app.action_quit()
    finally:
        talking.cancel()
        rt.close()
        await qq.stop()
        await tg_server.stop()

    # The tokens were used, and every fault answered a request that carried one.
    assert shop.methods("getUpdates") and shop.methods("sendMessage") and shop.methods("banChatMember")
    assert shop.echoed >= 4 and wire.raised >= 3 and hq.echoed >= 4 and "ban" in hq.acted
    assert qq.actions("set_group_kick") and qq_faults["echoed"] >= 3
    from console.cli import parser
    from console.commands import audit

    async def audit_log(*argv: str) -> str:
        """``groupwatch audit`` as the command runs it (its own event loop: in a thread)."""
        args = parser().parse_args(["audit", *argv, "--config", str(config), "--data-dir", str(data)])
        assert await asyncio.to_thread(audit.run, args) == 0
        out = capsys.readouterr()
        return out.out + out.err

    audit_json, audit_table = await audit_log("--format", "json"), await audit_log()

    found = scan_dir(data)
    assert {"state.json", "ledger.json", "moderation.json", "ad_model.json"} <= {p.name for p in data.iterdir()}
    assert not found, "tokens in the data dir:\n" + "\n".join(f"{name}: {describe(f)}" for name, f in found.items())
    ours, peers = every_log()
    assert_logs_captured(peers)
    assert "HTTP Request: POST " + tg_server.url + "/bot***/getUpdates" in ours  # httpx's own log, at INFO
    assert_clean({"the log": ours, "groupwatch audit --format json": audit_json, "groupwatch audit": audit_table,
                  **reprs})
    assert_clean([(f"screenshot: {what}", text) for what, text in shots])
    # What was searched did hold the servers' texts that quoted the tokens (scrubbed): in the ledger,
    # the audit log and the console's messages; and the header showed every fault's reason.
    failed = [a.result for a in rt.moderation.ledger.actions() if a.state is ActionState.FAILED]
    assert any("Bearer *** may not do this" in r for r in failed), failed
    assert any("permission denied for Bearer ***" in r for r in failed), failed
    assert any("bot***/sendMessage" in r for r in failed), failed
    assert "permission denied for Bearer ***" in audit_json and "audit log" in audit_table
    shown = dict(shots)
    assert "shop:down (telegram: the bot token was refused" in shown["fault step 1: header: status line"]
    assert "hq:down (matrix sync: M_UNKNOWN (Bearer ***)" in shown["fault step 1: header: status line"]
    results = [n.text for n in app.messages.notes]  # the message bar's lane and the Messages screen
    assert any("permission denied for Bearer ***" in r for r in results), results
