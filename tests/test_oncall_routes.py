"""[[route]] tables in the config, and secrets in Apprise URLs: read at send time from the
environment or a user-only file, and never in a log line, an error, the health line or the data dir."""
from __future__ import annotations

import logging
import secrets
from urllib.parse import quote

import pytest

from console.engine.config import ConfigError, parse_settings
from console.engine.detectors.base import Severity
from console.engine.store import Store
from console.oncall.dispatcher import Dispatcher
from console.oncall.receivers import build_receivers
from tests.oncall_doubles import Clock, FakeIncident, FakeIncidents
from tests.webhook_server import WebhookServer


def problems(toml: str) -> list[str]:
    with pytest.raises(ConfigError) as e:
        parse_settings(toml, "gw.toml")
    return e.value.problems


def test_a_route_parses_with_defaults_and_durations():
    s = parse_settings('''
[[connector]]
type = "matrix"
name = "hq"
homeserver = "http://127.0.0.1:1"
token_env = "X"

[[route]]
name = "ads"
kinds = ["ad"]
min_severity = "high"
groups = ["tag:shops", "tier:critical", "matrix:!a:b"]
notify = ["json://127.0.0.1:9/hook"]
connector = "hq"
chat = "!mods:localhost"
console = true
bell = true
group_interval = "10m"
ack_timeout = 3600
steps = [{ after = "10m", notify = ["ntfy://{env:NTFY_TOPIC}"] }, { after = "30m", connector = "hq", chat = "!boss:x" }]
digest = ["daily"]
digest_at = "08:30"

[[route]]
notify = ["json://127.0.0.1:9/all"]
''')
    ads, other = s.routes
    assert (ads.name, ads.kinds, ads.min_severity, ads.group_wait, ads.group_interval, ads.repeat_interval) == \
        ("ads", ["ad"], Severity.HIGH, 30.0, 600.0, 4 * 3600.0)
    assert ads.chat.connector == "hq" and ads.chat.chat == "!mods:localhost" and ads.console and ads.bell
    assert [st.after for st in ads.steps] == [600.0, 1800.0] and ads.steps[1].chat.chat == "!boss:x"
    assert ads.ack_timeout == 3600.0 and ads.digest == ["daily"] and ads.digest_at == "08:30"
    assert other.name == "route #2" and other.kinds == [] and other.min_severity is Severity.LOW
    assert ads.matches("ad", Severity.HIGH, ["matrix:!a:b"], lambda g, p: g == p)
    assert not ads.matches("flood", Severity.HIGH, ["matrix:!a:b"], lambda g, p: g == p)
    assert not ads.matches("ad", Severity.MEDIUM, ["matrix:!a:b"], lambda g, p: g == p)
    assert not ads.matches("ad", Severity.HIGH, ["matrix:!z:b"], lambda g, p: g == p)


def test_bad_routes_are_one_line_each_naming_the_key_and_its_line():
    got = problems('''[[route]]
kinds = "ad"
min_severity = "urgent"
notify = ["hooks.example.com/SECRETVALUE123", "json://h/{env:not a name}", "json://h/{oops}"]
group_wait = "soon"
repeat_interval = 0
steps = [{ after = "10m", notify = ["json://h/x"] }, { after = "5m", notify = ["json://h/y"] }]
connector = "hq"
chat = "!a:b"
colour = "red"

[[route]]
digest = ["hourly"]
console = "yes"
''')
    assert all(p.startswith("gw.toml:") and "\n" not in p for p in got)
    text = "\n".join(got)
    for line, words in ((2, "kinds must be an array"), (3, "min_severity must be one of low, medium, high"),
                        (4, "notify[0]: not an Apprise URL"), (4, "notify[1]: {env:...} must name"),
                        (4, "notify[2]: a brace"), (5, "group_wait must be a duration"),
                        (6, "repeat_interval must be greater than 0"),
                        (7, "steps[1] after must be later"), (8, "connector 'hq' is not a [[connector]] name"),
                        (10, "unknown key 'colour'"), (13, "digest[0] must be one of daily, weekly"),
                        (14, "console must be true or false")):
        assert any(p.startswith(f"gw.toml:{line}:") and words in p for p in got), (line, words, text)
    assert "SECRETVALUE123" not in text  # a URL is never quoted back: it may hold a pasted token
    assert any("has no receiver" in p for p in problems("[[route]]\nkinds = [\"ad\"]\n"))
    assert any("gw.toml:2:" in p and "operators.chat.alice" in p
               for p in problems('[operators.chat]\n"alice" = "alice"\n'))


def _secret() -> str:
    return f"SECRET-hook-{secrets.token_urlsafe(18)}"


async def test_url_secrets_are_read_at_send_time_and_never_logged_shown_or_stored(tmp_path, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    for name in ("apprise", "groupwatch", "urllib3", "requests"):
        caplog.set_level(logging.DEBUG, logger=name)
    in_env, in_file = _secret(), _secret()
    monkeypatch.setenv("HOOK_TOKEN", in_env)
    path = tmp_path / "hook-header"
    path.write_text(in_file + "\n")
    path.chmod(0o600)
    with WebhookServer(status=500) as hook:
        url = f"json://127.0.0.1:{hook.port}/hook/{{env:HOOK_TOKEN}}?+X-Token={{file:{path}}}"
        routes = parse_settings(f'[[route]]\nnotify = ["{url}"]\ngroup_wait = 0\n').routes
        clock, incs = Clock(), FakeIncidents()
        store = Store(tmp_path / "data")
        d = Dispatcher(routes, build_receivers(routes, {}, None), incs, clock=clock, store=store)
        incs.change(FakeIncident(1), "opened")
        d.run_due()
        await d.drain()  # refused (500): the error, the health line and the log must not hold them
        hook.status = 200
        clock.advance(60)
        d.run_due()
        await d.drain()
        posts = await hook.wait_for(1)
        store.close()
    # The peer did get them: in the path and in the header.
    assert hook.paths[-1].startswith(f"/hook/{in_env}") and hook.headers[-1].get("X-Token") == in_file
    assert posts[0]["incident"] == "1"
    said = [caplog.text, repr(d.problems()), repr([x.error for x in d.deliveries.values()]),
            *[p.read_text(errors="replace") for p in (tmp_path / "data").rglob("*") if p.is_file()]]
    assert any("not delivered" in s for s in said)  # the failure was told...
    assert "JSON" in caplog.text and "127.0.0.1" in caplog.text  # (and Apprise's own log was captured)
    for token in (in_env, in_file):
        for form in (token, quote(token, safe=""), token[-12:]):
            assert not any(form in s for s in said), form  # ...without the secret


async def test_a_missing_secret_is_a_clear_failure_naming_the_variable_not_a_crash(monkeypatch):
    monkeypatch.delenv("NO_SUCH_HOOK_VAR", raising=False)
    routes = parse_settings('[[route]]\nnotify = ["json://127.0.0.1:9/{env:NO_SUCH_HOOK_VAR}"]\n'
                            'group_wait = 0\n').routes
    incs = FakeIncidents()
    d = Dispatcher(routes, build_receivers(routes, {}, None), incs, clock=Clock())
    incs.change(FakeIncident(1), "opened")
    d.run_due()
    await d.drain()
    (label, why), = d.problems()
    assert "NO_SUCH_HOOK_VAR" in why and "not set" in why


def test_config_check_reads_each_urls_secrets_and_asks_apprise_without_sending(tmp_path):
    from tests.test_connector_config import config_check

    config = tmp_path / "gw.toml"
    config.write_text('[[route]]\nname = "ads"\nnotify = ["json://127.0.0.1:9/{env:GW_HOOK}", "zzz://x/y"]\n'
                      'steps = [{ after = "10m", notify = ["ntfy://{env:GW_TOPIC}"] }]\n')
    code, out, err = config_check("--config", str(config), "--no-probe", environ={"GW_HOOK": "SECRET-hook-abcdef"})
    assert code != 0 and out == ""
    lines = err.splitlines()
    assert any("route 'ads' notify[1] (zzz): Apprise does not understand" in x for x in lines), err
    assert any("route 'ads' steps[0].notify[0] (ntfy): environment variable GW_TOPIC" in x for x in lines), err
    assert "SECRET-hook" not in err and "'ads' notify[0]" not in err
    config.write_text('[[route]]\nname = "ads"\nnotify = ["json://127.0.0.1:9/{env:GW_HOOK}"]\n')
    code, out, err = config_check("--config", str(config), "--no-probe", environ={"GW_HOOK": "SECRET-hook-abcdef"})
    assert code == 0 and "1 on-call route(s): ads" in out and "SECRET" not in out + err
