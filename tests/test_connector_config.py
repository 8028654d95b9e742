"""[[connector]] tables: the type registry, options checked at load, secrets, and ``config check``."""
from __future__ import annotations

import asyncio
import io
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from connectors import registry
from connectors.contract import BadOptions, Connector
from connectors.matrix import MatrixConnector
from connectors.secrets import Secret, read_secret, scrub
from connectors.telegram import TelegramConnector
from console.engine import config as config_mod
from console.engine.config import ConfigError, build_connectors, parse_settings
from tests.http_fakes import BotApiFake, HomeserverFake

TOKEN = "123456:AAH-s3cr3t-t0ken-VALUE_xyz"
LABEL = "[[connector]] 'tg'"


# --- the registry --------------------------------------------------------------------------

def test_the_config_takes_its_connector_types_from_the_registry() -> None:
    assert config_mod.CONNECTOR_TYPES == registry.TYPES
    assert set(registry.TYPES) == {"matrix", "telegram", "onebot", "demo"}
    with pytest.raises(ConfigError) as err:
        parse_settings('[[connector]]\ntype = "matirx"\n', "c.toml")
    assert str(err.value) == ('c.toml:2: [[connector]] #1 has unknown type "matirx" (expected one of '
                              f"{', '.join(registry.TYPES)}) (did you mean 'matrix'?)")


def test_building_one_type_imports_no_other_platform() -> None:
    code = """if True:
        import sys
        from console.engine.config import parse_settings, build_connectors
        s = parse_settings('[[connector]]\\ntype = "telegram"\\ntoken_env = "T"\\n')
        [c] = build_connectors(s.connectors, {"T": "123:AAH-0123456789abcdefghij"})
        print(type(c).__name__, sorted({m.split(".")[1] for m in sys.modules if m.startswith("connectors.")}),
              "websockets" in sys.modules)
    """
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).parent.parent).stdout
    assert out.strip() == "TelegramConnector ['contract', 'events', 'options', 'registry', 'secrets', 'telegram'] False"


def test_a_demo_table_builds_a_named_demo_connector() -> None:
    s = parse_settings('[[connector]]\ntype = "demo"\nname = "sandbox"\ngroups = 3\nseed = 11\n', "c.toml")
    [conn] = build_connectors(s.connectors)
    assert isinstance(conn, Connector)
    assert conn.name == "sandbox" and conn.platform == "demo" and len(conn.world.groups) == 3


def test_bad_options_become_one_line_config_errors_at_the_key_line() -> None:
    text = ('[[connector]]\ntype = "demo"\nname = "a"\n\n'
            '[[connector]]\ntype = "demo"\nname = "b"\ngroups = 3\ngrups = 4\n'
            '[[connector]]\ntype = "demo"\nname = "c"\nspeed = -1\n')
    s = parse_settings(text, "c.toml")  # parsing checks only the tables' shape
    assert [c.name for c in s.connectors] == ["a", "b", "c"]
    with pytest.raises(ConfigError) as err:
        build_connectors(s.connectors)
    assert str(err.value) == "c.toml:9: [[connector]] 'b': unknown key 'grups' (did you mean 'groups'?)"
    assert err.value.problems == [
        "c.toml:9: [[connector]] 'b': unknown key 'grups' (did you mean 'groups'?)",
        "c.toml:13: [[connector]] 'c': speed must be a number above 0 and at most 100000",
    ]


def test_a_problem_naming_no_key_points_at_the_table(tmp_path: Path) -> None:
    cs = parse_settings('\n\n[[connector]]\ntype = "demo"\nname = "x"\n', "g.toml").connectors[0]
    assert config_mod.connector_problem(cs, "[[connector]] 'x': the server said no") == \
        (3, "g.toml:3: [[connector]] 'x': the server said no")
    assert config_mod.connector_problem(cs, "no room\nat all")[1] == "g.toml:3: [[connector]] 'x': no room at all"


# --- secrets ---------------------------------------------------------------------------------

def secret_file(tmp_path: Path, mode: int, text: str = TOKEN + "\n", name: str = "token") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    p.chmod(mode)
    return p


def test_a_token_from_the_environment() -> None:
    got = read_secret({"token_env": "TG_TOKEN"}, "token", label=LABEL, environ={"TG_TOKEN": f"  {TOKEN}\n"})
    assert got == TOKEN and isinstance(got, Secret)
    assert TOKEN not in repr(got) and TOKEN not in f"{got!r}" and TOKEN not in repr({"t": got})


def test_an_unset_or_empty_variable_is_named_and_nothing_else() -> None:
    for environ in ({}, {"TG_TOKEN": "  "}):
        with pytest.raises(BadOptions) as err:
            read_secret({"token_env": "TG_TOKEN"}, "token", label=LABEL, environ=environ)
        assert str(err.value) == f"{LABEL}: environment variable TG_TOKEN (from token_env) is not set or empty"


def test_a_user_only_file_is_read_and_its_first_line_taken(tmp_path: Path) -> None:
    p = secret_file(tmp_path, 0o600, f"\ufeff{TOKEN}\r\nsecond line\n")
    assert read_secret({"token_file": str(p)}, "token", label=LABEL) == TOKEN
    p.chmod(0o400)
    assert read_secret({"token_file": str(p)}, "token", label=LABEL) == TOKEN


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620])
def test_a_file_other_users_can_reach_is_refused_with_the_fix(tmp_path: Path, mode: int) -> None:
    p = secret_file(tmp_path, mode)
    with pytest.raises(BadOptions) as err:
        read_secret({"token_file": str(p)}, "token", label=LABEL)
    assert str(err.value) == (f"{LABEL}: token_file: {p} is open to other users (mode {mode:o}); "
                              f"run: chmod 600 {p}")
    assert TOKEN not in str(err.value)


def test_a_token_written_in_the_config_is_refused() -> None:
    with pytest.raises(BadOptions) as err:
        read_secret({"token": TOKEN}, "token", label=LABEL)
    assert str(err.value).startswith(f"{LABEL}: do not write token into the config file; use token_env")
    assert TOKEN not in str(err.value)


@pytest.mark.parametrize("options,message", [
    ({}, 'no token; add token_env = "VAR" or token_file = "path"'),
    ({"token_env": "A", "token_file": "/x"}, "set only one of token_env and token_file"),
    ({"token_env": 5}, "token_env must be the name of an environment variable"),
    ({"token_file": ""}, "token_file must be a path"),
])
def test_missing_or_ambiguous_secret_options(options: dict, message: str) -> None:
    with pytest.raises(BadOptions) as err:
        read_secret(options, "token", label=LABEL, environ={"A": TOKEN})
    assert str(err.value) == f"{LABEL}: {message}"
    assert read_secret({}, "token", label=LABEL, required=False) is None


def test_odd_secret_files_get_clear_refusals(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    cases = {missing: "does not exist", tmp_path: "is not a regular file"}
    empty = secret_file(tmp_path, 0o600, "\n  \n")
    cases[empty] = "is empty"
    binary = tmp_path / "bin"
    binary.write_bytes(b"\xff\xfe\x00abc")
    binary.chmod(0o600)
    cases[binary] = "is not UTF-8 text"
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo, 0o600)  # nobody writes to it: opening it must not hang
    cases[fifo] = "is not a regular file"
    for path, what in cases.items():
        with pytest.raises(BadOptions) as err:
            read_secret({"token_file": str(path)}, "token", label=LABEL)
        assert str(err.value) == f"{LABEL}: token_file: {path} {what}"


def test_a_pasted_line_break_in_a_variable_is_refused() -> None:
    with pytest.raises(BadOptions) as err:
        read_secret({"token_env": "T"}, "token", label=LABEL, environ={"T": "abc\ndef-ghi"})
    assert "control character" in str(err.value) and "abc" not in str(err.value)


def test_secrets_read_are_scrubbed_from_text_headed_for_the_screen() -> None:
    read_secret({"token_env": "T"}, "token", label=LABEL, environ={"T": TOKEN})
    url = f"https://api.telegram.org/bot{TOKEN}/getMe"
    assert scrub(f"Client error '401' for url '{url}'") == "Client error '401' for url 'https://api.telegram.org/bot***/getMe'"
    assert scrub("bot123456%3AAAH-s3cr3t-t0ken-VALUE_xyz") == "bot***"
    assert scrub("nothing secret") == "nothing secret"


# --- config check: validate, then probe each connector -----------------------------------------

FAKES: dict[str, BotApiFake | HomeserverFake] = {}  # connector name -> its peer, for the classes below


class PeeredTelegram(TelegramConnector):
    """The real Telegram connector, built from its table as usual, talking to FAKES[name]."""

    @classmethod
    def from_settings(cls, name, options, *, environ=None):
        return super().from_settings(name, options, environ=environ, transport=FAKES[name].transport())


class PeeredMatrix(MatrixConnector):
    @classmethod
    def from_settings(cls, name, options, *, environ=None):
        return super().from_settings(name, options, environ=environ, transport=FAKES[name].transport())


TOKENS = {"shop": "7300001:AAH-shop-bot-token-0123456789abcdef", "expired": "7300002:AAH-expired-0123456789abcdef",
          "stalled": "7300003:AAH-stalled-0123456789abcdef", "hq": "syt_aHE_matrix_token_0123456789"}


@pytest.fixture
def peers(monkeypatch, tmp_path):
    monkeypatch.setitem(registry._CLASSES, "telegram", (__name__, "PeeredTelegram"))
    monkeypatch.setitem(registry._CLASSES, "matrix", (__name__, "PeeredMatrix"))
    FAKES.clear()
    FAKES["shop"] = BotApiFake(TOKENS["shop"], -1001, "[bold]Fans\x1b[31m", flow=False)
    FAKES["expired"] = BotApiFake(TOKENS["expired"], -1002, flow=False)
    FAKES["stalled"] = BotApiFake(TOKENS["stalled"], -1003, flow=False)
    FAKES["hq"] = HomeserverFake(TOKENS["hq"], flow=False)
    FAKES["expired"].mode, FAKES["stalled"].mode = "refused", "timeout"
    token_file = secret_file(tmp_path, 0o600, TOKENS["expired"] + "\n")
    config = tmp_path / "groupwatch.toml"
    config.write_text(f'''
[[connector]]
type = "telegram"
name = "shop"
token_env = "SHOP_TOKEN"
chats = [-1001]

[[connector]]
type = "telegram"
name = "expired"
token_file = "{token_file}"

[[connector]]
type = "telegram"
name = "stalled"
token_env = "STALL_TOKEN"

[[connector]]
type = "matrix"
name = "hq"
homeserver = "https://hs.test"
token_env = "MX_TOKEN"
''', encoding="utf-8")
    env = {"SHOP_TOKEN": TOKENS["shop"], "STALL_TOKEN": TOKENS["stalled"], "MX_TOKEN": TOKENS["hq"]}
    yield config, env
    FAKES.clear()


def config_check(*argv: str, environ=None) -> tuple[int, str, str]:
    from console.cli import parser
    from console.commands import config as config_cmd

    out, err = io.StringIO(), io.StringIO()
    code = config_cmd.run(parser().parse_args(["config", "check", *argv]), out=out, err=err, environ=environ)
    return code, out.getvalue(), err.getvalue()


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for token in TOKENS.values():
            assert token not in text and token.split(":")[-1] not in text


def test_config_check_probes_every_connector_and_says_what_works(peers):
    config, env = peers
    code, out, err = config_check("--config", str(config), "--timeout", "0.5", environ=env)
    lines = out.splitlines()
    assert code == 1 and err == ""
    assert lines[0] == f"{config}: ok; 4 connector(s): shop (telegram), expired (telegram), stalled (telegram), hq (matrix)"
    assert lines[1:4] == ["shop (telegram): ok", "    logged in as @shop_bot (bot id 7300001)", "    1 chats:"]
    assert lines[4] == "      [bold]Fans␛[31m (-1001, 42 members): admin"  # a stranger's title stays inert text
    assert lines[5].startswith("expired (telegram): FAILED: telegram: the bot token was refused (HTTP 401")
    assert lines[6] == "stalled (telegram): FAILED: no answer within 0.5 s"
    assert lines[7:11] == ["hq (matrix): ok", "    logged in as @bot:hs.test (device GW)",
                           "    1 room: Lobby (!room:hs.test, 2 members)",  # the id to put in rooms = [...]
                           '    to watch only some, in [[connector]]: rooms = ["!room:hs.test"]']
    assert lines[-1] == "2 of 4 connector(s) failed the probe"
    assert "\x1b" not in out
    assert_no_secret(out, err)


def test_config_check_exits_0_only_when_every_probe_answers(peers):
    config, env = peers
    FAKES["expired"].mode = FAKES["stalled"].mode = "ok"
    started = time.monotonic()
    code, out, _ = config_check("--config", str(config), environ=env)
    assert code == 0 and out.count(": ok") == 5 and "FAILED" not in out
    FAKES["stalled"].mode = "timeout"
    code, out, _ = config_check("--config", str(config), "--timeout", "0.5", environ=env)
    assert code == 1 and "stalled (telegram): FAILED: no answer within 0.5 s" in out
    assert time.monotonic() - started < 5  # the probes run side by side, each within its timeout


def test_no_probe_validates_without_any_network_call(peers):
    config, env = peers
    code, out, err = config_check("--config", str(config), "--no-probe", environ=env)
    assert code == 0 and out.splitlines()[-1] == "not probed (--no-probe)"
    assert all(not fake.calls for fake in FAKES.values())


def test_config_check_lists_every_bad_table_with_file_line_and_key(peers, tmp_path):
    config, env = peers
    loose = secret_file(tmp_path, 0o644, TOKENS["shop"], name="loose.token")
    text = config.read_text().replace('token_env = "SHOP_TOKEN"', f'token_file = "{loose}"')
    text = text.replace('token_env = "STALL_TOKEN"', 'tokn_env = "STALL_TOKEN"')
    config.write_text(text)
    code, out, err = config_check("--config", str(config), environ=env)
    assert code == 2 and out == ""
    assert err.splitlines() == [
        f"groupwatch: error: {config}:5: [[connector]] 'shop': token_file: {loose} is open to other users "
        f"(mode 644); run: chmod 600 {loose}",
        f"groupwatch: error: {config}:16: [[connector]] 'stalled': unknown key 'tokn_env' (did you mean 'token_env'?)",
    ]
    assert all(not fake.calls for fake in FAKES.values())
    assert_no_secret(out, err)


def test_a_run_leaves_no_secret_in_the_data_dir_or_the_logs(peers, tmp_path, monkeypatch, caplog):
    from console.runtime import open_runtime, poll_once, then_close

    config, env = peers
    text = config.read_text()
    config.write_text(text[:text.index("[[connector]]", text.index('name = "expired"') - 40)])  # shop only
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    FAKES["shop"].flow = True
    caplog.set_level(logging.DEBUG)
    rt = open_runtime(str(config), str(tmp_path / "data"))

    async def session() -> None:
        for _ in range(4):
            await poll_once(rt.engine)
        assert rt.engine.events_total >= 2
        report = await rt.moderation.post(["telegram:-1001"], "hello everyone")  # also fills the ledger
        assert report.errors == []
        FAKES["shop"].mode = "refused"
        try:
            await poll_once(rt.engine)
        except Exception as e:  # the connector's own message, as the console would show it
            logging.getLogger("test").warning("poll failed: %s", e)

    asyncio.run(then_close(rt, session()))
    rt.close()
    assert FAKES["shop"].methods("sendMessage")
    stored = [p for p in (tmp_path / "data").rglob("*") if p.is_file()]
    assert stored
    for p in stored:
        assert_no_secret(p.read_bytes().decode("utf-8", "replace"))
    assert "poll failed: telegram: the bot token was refused" in caplog.text
    assert_no_secret(caplog.text)


# --- the real command ---------------------------------------------------------------------------

def groupwatch(*args: str, env: dict[str, str], home: Path) -> subprocess.CompletedProcess:
    exe = shutil.which("groupwatch") or str(Path(sys.executable).parent / "groupwatch")
    full = {**os.environ, "GROUPWATCH_HOME": str(home), "NO_COLOR": "1", **env}
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=60, env=full)


def test_the_command_checks_tables_at_startup_and_in_config_check(tmp_path):
    token = TOKENS["shop"]
    config = tmp_path / "g.toml"
    config.write_text('[[connector]]\ntype = "telegram"\nname = "shop"\ntoken_env = "SHOP_TOKEN"\n')
    p = groupwatch("config", "check", "--no-probe", "--config", str(config), env={"SHOP_TOKEN": token}, home=tmp_path)
    assert p.returncode == 0 and p.stdout.startswith(f"{config}: ok; 1 connector(s): shop (telegram)")
    assert token not in p.stdout + p.stderr

    p = groupwatch("watch", "--headless", "--seconds", "1", "--config", str(config), env={}, home=tmp_path)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert p.stderr == (f"groupwatch: error: {config}:4: [[connector]] 'shop': environment variable SHOP_TOKEN "
                        "(from token_env) is not set or empty\n")

    loose = secret_file(tmp_path, 0o644, token)
    config.write_text(f'[[connector]]\ntype = "telegram"\nname = "shop"\ntoken_file = "{loose}"\n')
    p = groupwatch("config", "check", "--config", str(config), env={}, home=tmp_path)
    assert p.returncode == 2 and f"run: chmod 600 {loose}" in p.stderr and "Traceback" not in p.stderr
    assert token not in p.stdout + p.stderr
