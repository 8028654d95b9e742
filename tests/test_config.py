"""The config loader: TOML -> Settings, and one-line errors naming key and line."""
from __future__ import annotations

from pathlib import Path

import pytest

from console.engine import config_problems
from console.engine.config import ConfigError, load_settings, locate_keys, parse_settings
from console.engine.paths import config_path, data_dir
from console.engine.settings import (
    ActivitySettings,
    AdSettings,
    ChurnSettings,
    ConnectorSettings,
    DemoSettings,
    DetectorSettings,
    EngineSettings,
    FloodSettings,
    Settings,
    SilentGroupSettings,
    SilentMemberSettings,
    StoreSettings,
)

FULL = '''\
# every section groupwatch knows
operator = "ana"
rules = """
No ads.
[detectors]
this line is inside a string, not a table
"""

[detectors.ad]
enabled = true
threshold = 1            # an int is fine for a float
high_threshold = 1.0
newcomer_boost = 0.2
newcomer_messages = 5
newcomer_hours = 48
repeat_window_s = 600.5
repeat_groups = 4
repeat_min_chars = 10
keywords = ["加微信", "dm me"]
keyword_weight = 0.4
regexes = [
    '\\bt\\.me/\\w+',   # literal string, comment after
    "(?i)free\\\\s+money",
]
regex_weight = 0.55
allow = ["example.org"]
allow_members = ["telegram:1", "matrix:@me:example.org"]

[detectors.flood]
enabled = false
max_messages = 12
window_s = 30

[detectors.silent_member]
days = 30
per_member = true
min_list_change = 2

[detectors]
silent_group = { enabled = true, hours = 12, min_daily_messages = 1 }
churn_spike.factor = 3.5
churn_spike.min_leaves = 6
churn_spike.window_hours = 2
churn_spike.baseline_days = 14
churn_spike.prior_daily_exit_rate = 0.01
churn_spike.prior_hours = 12
churn_spike.fleet_min_leaves = 20

[detectors.activity]
window_days = 3
critical = 0.05
ordinary = 0.15
high = 0.5

[store]
checkpoint_seconds = 2
recent_messages = 80

[engine]
tick_seconds = 30
poll_timeout = 10

[demo]
groups = 12
seed = -3
speed = 120

[groups."telegram:-1001234"]
rules = "Buyers only."

[groups.'matrix:!abc.def:example.org']
rules = """Be kind."""

[[connector]]
type = "telegram"
token = "123:ABC"
poll = { limit = 100, allowed = ["message", "chat_member"] }

[[connector]]
type = "matrix"
name = "hq-matrix"
homeserver = "https://matrix.example.org"

[[connector]]
type = "demo"
name = "sandbox"
'''


def test_full_file_maps_onto_settings(tmp_path: Path) -> None:
    path = tmp_path / "groupwatch.toml"
    path.write_text(FULL, encoding="utf-8")
    s = load_settings(path, must_exist=True)
    expected = Settings(
        operator="ana",
        rules="No ads.\n[detectors]\nthis line is inside a string, not a table\n",
        group_rules={"telegram:-1001234": "Buyers only.", "matrix:!abc.def:example.org": "Be kind."},
        detectors=DetectorSettings(
            ad=AdSettings(enabled=True, threshold=1.0, high_threshold=1.0, newcomer_boost=0.2, newcomer_messages=5,
                          newcomer_hours=48.0, repeat_window_s=600.5, repeat_groups=4, repeat_min_chars=10,
                          keywords=["加微信", "dm me"], keyword_weight=0.4,
                          regexes=[r"\bt\.me/\w+", r"(?i)free\s+money"], regex_weight=0.55,
                          allow=["example.org"], allow_members=["telegram:1", "matrix:@me:example.org"]),
            flood=FloodSettings(enabled=False, max_messages=12, window_s=30.0),
            silent_member=SilentMemberSettings(days=30.0, per_member=True, min_list_change=2),
            silent_group=SilentGroupSettings(enabled=True, hours=12.0, min_daily_messages=1),
            churn_spike=ChurnSettings(window_hours=2.0, factor=3.5, min_leaves=6, baseline_days=14.0,
                                      prior_daily_exit_rate=0.01, prior_hours=12.0, fleet_min_leaves=20),
            activity=ActivitySettings(window_days=3.0, high=0.5, ordinary=0.15, critical=0.05),
        ),
        store=StoreSettings(checkpoint_seconds=2.0, recent_messages=80),
        engine=EngineSettings(tick_seconds=30.0, poll_timeout=10.0),
        demo=DemoSettings(groups=12, seed=-3, speed=120.0),
        connectors=[
            ConnectorSettings(type="telegram", name="telegram",
                              options={"token": "123:ABC", "poll": {"limit": 100,
                                                                    "allowed": ["message", "chat_member"]}}),
            ConnectorSettings(type="matrix", name="hq-matrix", options={"homeserver": "https://matrix.example.org"}),
            ConnectorSettings(type="demo", name="sandbox", options={}),
        ],
    )
    assert s == expected
    assert type(s.detectors.ad.threshold) is float and type(s.detectors.flood.window_s) is float
    assert not s.is_demo


def test_partial_file_keeps_defaults() -> None:
    s = parse_settings("[detectors.flood]\nmax_messages = 20\n")
    assert s.detectors.flood.max_messages == 20
    assert s.detectors.flood.window_s == FloodSettings().window_s
    assert s.detectors.ad == AdSettings() and s.is_demo and s.connectors == []
    assert parse_settings("") == Settings()


def test_locate_keys_handles_headers_dotted_quoted_and_arrays() -> None:
    text = FULL
    lines = locate_keys(text)
    numbered = text.splitlines()

    def at(path: tuple) -> str:
        return numbered[lines[path] - 1]

    assert at(("detectors", "ad", "threshold")).startswith("threshold = 1")
    assert at(("detectors", "ad", "regexes", 1)).strip().startswith('"(?i)free')
    assert at(("detectors", "silent_group", "hours")).startswith("silent_group = {")
    assert at(("detectors", "churn_spike", "min_leaves")).startswith("churn_spike.min_leaves")
    assert at(("groups", "matrix:!abc.def:example.org")).startswith("[groups.'matrix")
    assert at(("connector", 1, "name")) == 'name = "hq-matrix"'
    assert at(("connector", 2)) == "[[connector]]" and lines[("connector", 2)] > lines[("connector", 1)]
    assert ("detectors",) in lines and lines[("rules",)] == 3
    assert not any(p[-1] == "this line is inside a string, not a table" for p in lines)


# --- errors: each kind names the key and its line -------------------------------------------

ERRORS = [
    # (toml, line, exact message after "groupwatch.toml:<line>: ")
    ("[detectors.ad]\nenabled = true\n\n\n\n\n\n\n\n\n\ntreshold = 0.5\n", 12,
     "unknown key 'treshold' in [detectors.ad] (did you mean 'threshold'?)"),
    ("[detectors.flood]\nmax_messages = \"ten\"\n", 2,
     'detectors.flood.max_messages must be an integer, got "ten"'),
    ("[detectors.flood]\nmax_messages = 10.5\n", 2, "detectors.flood.max_messages must be an integer, got 10.5"),
    ("[detectors.flood]\nenabled = 1\n", 2, "detectors.flood.enabled must be true or false, got 1"),
    ("[detectors.flood]\nwindow_s = \"60s\"\n", 2, 'detectors.flood.window_s must be a number, got "60s"'),
    ("[detectors.flood]\nwindow_s = inf\n", 2, "detectors.flood.window_s must be a finite number, got inf"),
    ("[detectors.flood]\nmax_messages = -3\n", 2, "detectors.flood.max_messages must be at least 1, got -3"),
    ("[detectors.flood]\nwindow_s = 0\n", 2, "detectors.flood.window_s must be greater than 0, got 0"),
    ("[detectors.ad]\nnewcomer_hours = -1\n", 2, "detectors.ad.newcomer_hours must not be negative, got -1"),
    ("[detectors.ad]\nrepeat_min_chars = -1\n", 2, "detectors.ad.repeat_min_chars must not be negative, got -1"),
    ("[detectors.ad]\nthreshold = 1.5\n", 2, "detectors.ad.threshold must be between 0 and 1, got 1.5"),
    ("[detectors.churn_spike]\nprior_daily_exit_rate = -0.1\n", 2,
     "detectors.churn_spike.prior_daily_exit_rate must be between 0 and 1, got -0.1"),
    ("[detectors.ad]\nthreshold = 0.8\nhigh_threshold = 0.6\n", 3,
     "detectors.ad.high_threshold (0.6) must be at least detectors.ad.threshold (0.8)"),
    ("[detectors.activity]\nhigh = 0.5\n# comment\ncritical = 0.3\n", 4,
     "detectors.activity tiers must be ordered critical < ordinary < high, got critical = 0.3, ordinary = 0.2, "
     "high = 0.5"),
    ("[detectors.activity]\nordinary = 0.2\nhigh = 0.2\n", 3,
     "detectors.activity tiers must be ordered critical < ordinary < high, got critical = 0.1, ordinary = 0.2, "
     "high = 0.2"),
    ("[detectors.ad]\nregexes = [\n  'ok',\n  '(unclosed',\n]\n", 4,
     'detectors.ad.regexes[1] is not a valid regular expression: "(unclosed": missing ), unterminated subpattern '
     "at position 0"),
    ("[detectors.ad]\nkeywords = [\"a\", 3]\n", 2, "detectors.ad.keywords[1] must be a string, got 3"),
    ("[detectors.ad]\nkeywords = \"spam\"\n", 2, 'detectors.ad.keywords must be an array, got "spam"'),
    ("[detectors.ad]\nallow = [\"ok\",\n  \"  \"]\n", 3, "detectors.ad.allow[1] must not be empty or blank"),
    ("operator = \"x\"\n[detector.ad]\nthreshold = 0.5\n", 2, "unknown table [detector] (did you mean 'detectors'?)"),
    ("[detectors.add]\nthreshold = 0.5\n", 1, "unknown table [detectors.add] (did you mean 'ad'?)"),
    ("\noperater = \"me\"\n", 2, "unknown top-level key 'operater' (did you mean 'operator'?)"),
    ("x = 1\n", 1, "unknown top-level key 'x'"),
    ("[engine]\n\"tick\\nseconds\" = 1\n", 2,
     'unknown key "tick\\nseconds" in [engine] (did you mean \'tick_seconds\'?)'),
    ("[detectors]\nflood = 3\n", 2, "detectors.flood must be a table, got 3"),
    ("[engine]\n\"tick_seconds\" = -5\n", 2, "engine.tick_seconds must be greater than 0, got -5"),
    ("\n\"detectors\".'flood'.max_messages = 0\n", 2, "detectors.flood.max_messages must be at least 1, got 0"),
    ("\ndetectors = { flood = { max_messages = 1 }, ad = { treshold = 1 } }\n", 2,
     "unknown key 'treshold' in [detectors.ad] (did you mean 'threshold'?)"),
    ("rules = '''\n[detectors]\nbogus = 1\n'''\n[store]\nrecent_messages = -2\n", 6,
     "store.recent_messages must not be negative, got -2"),
    ("[demo]\ngroups = 0\n", 2, "demo.groups must be at least 1, got 0"),
    ("connectors = []\n", 1, "unknown top-level key 'connectors' (did you mean [[connector]]?)"),
    ("[[connector]]\nname = \"x\"\n", 1,
     '[[connector]] #1 has no type; add type = "..." (one of matrix, telegram, onebot, demo)'),
    ("[[connector]]\ntype = \"demo\"\n[[connector]]\ntype = \"telegarm\"\n", 4,
     '[[connector]] #2 has unknown type "telegarm" (expected one of matrix, telegram, onebot, demo) '
     "(did you mean 'telegram'?)"),
    ("[[connector]]\ntype = \"matrix\"\n\n[[connector]]\ntype = \"matrix\"\n", 4,
     "[[connector]] #2: duplicate connector name 'matrix' (also used by [[connector]] #1 at line 1); "
     'add name = "..." to tell them apart'),
    ("[[connector]]\ntype = \"matrix\"\nname = \"a\"\n[[connector]]\ntype = \"telegram\"\nname = \"a\"\n", 6,
     "[[connector]] #2: duplicate connector name 'a' (also used by [[connector]] #1 at line 1); "
     "give each one a distinct name"),
    ("[[connector]]\ntype = \"matrix\"\nname = 7\n", 3, "[[connector]] #1 name must be a non-empty string, got 7"),
    ("[connector]\ntype = \"matrix\"\n", 1,
     "connector must be an array of tables: write each one as [[connector]]"),
    ("[groups.\"tg:1\"]\nrule = \"x\"\n", 2, "unknown key 'rule' in [groups.\"tg:1\"] (did you mean 'rules'?)"),
    ("[groups.\"tg:1\"]\nrules = 5\n", 2, 'groups."tg:1".rules must be a string, got 5'),
    ("groups = 5\n", 1, 'groups must be a table of [groups."<group id>"] tables, got 5'),
    ("group_rules = {}\n", 1,
     "unknown table [group_rules] (write per-group rules as [groups.\"<group id>\"] with rules = \"...\")"),
]


@pytest.mark.parametrize("text,line,message", ERRORS, ids=[m[:40] for _, _, m in ERRORS])
def test_error_names_key_and_line(text: str, line: int, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_settings(text, "groupwatch.toml")
    assert str(err.value) == f"groupwatch.toml:{line}: {message}"


@pytest.mark.parametrize("text,line,fragment", [
    ("a = 1\nb = = 2\n", 2, "invalid TOML: Invalid value (column 5)"),
    ("[store]\nrecent_messages = 5\n[store]\n", 3, "invalid TOML: Cannot declare ('store',) twice"),
    ("rules = \"unterminated\n", 1, "invalid TOML: Illegal character"),
    ("a = [1,\n2", 2, "invalid TOML: Unclosed array (at end of file)"),
])
def test_toml_syntax_errors_give_the_line(text: str, line: int, fragment: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_settings(text, "g.toml")
    assert str(err.value).startswith(f"g.toml:{line}: ")
    assert fragment in str(err.value)


def test_all_problems_are_collected_in_line_order() -> None:
    text = "[detectors.flood]\nmax_messages = -1\n[detectors.ad]\nthreshold = 2\ntreshold = 1\n"
    with pytest.raises(ConfigError) as err:
        parse_settings(text, "c.toml")
    assert [p.split(": ")[0] for p in err.value.problems] == ["c.toml:2", "c.toml:4", "c.toml:5"]
    assert str(err.value) == err.value.problems[0]


def test_errors_are_one_line() -> None:
    with pytest.raises(ConfigError) as err:
        parse_settings('[detectors.ad]\nkeywords = ["""multi\nline""", 5]\n', "c.toml")
    assert "\n" not in str(err.value)
    assert str(err.value) == "c.toml:3: detectors.ad.keywords[1] must be a string, got 5"  # where the 5 is


# --- secrets --------------------------------------------------------------------------------

SECRET = "s3cr3t-HUNTER2-value"


@pytest.mark.parametrize("text", [
    f'[[connector]]\ntype = "telegram"\ntoken = "{SECRET}\n',  # syntax error on the secret's line
    f'[[connector]]\ntype = "telegram"\ntoken = {SECRET}\n',
    f'[engine]\napi_token = "{SECRET}"\n',
    f'bot_password = "{SECRET}"\n',
    f'[detectors]\nclient_secret = {{ value = "{SECRET}" }}\n',
    f'[[connector]]\ntoken = "{SECRET}"\n',  # missing type
    f'[[connector]]\ntype = "nope"\naccess_token = "{SECRET}"\n',
    f'[groups."tg:1"]\nrules = "x"\npassword = "{SECRET}"\n',
    f'[groups."password"]\nrules = ["{SECRET}"]\n',
])
def test_secret_values_never_appear_in_errors(text: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_settings(text, "c.toml")
    for problem in [str(err.value), *err.value.problems]:
        assert SECRET not in problem
        assert "s3cr3t" not in problem


def test_secret_keys_are_shown_as_hidden() -> None:
    with pytest.raises(ConfigError) as err:
        parse_settings(f'[groups."password"]\nrules = ["{SECRET}"]\n', "c.toml")
    assert str(err.value) == 'c.toml:2: groups.password.rules must be a string, got an array (value hidden)'
    assert config_problems.show(SECRET, ("connector", 0, "Access_Token")) == "a string (value hidden)"
    with pytest.raises(ConfigError) as err:  # tomllib quotes the bad character; not from a secret
        parse_settings('[[connector]]\ntype = "telegram"\nbot_token = "12\x013"\n', "c.toml")
    assert str(err.value) == "c.toml:3: invalid TOML: Illegal character (hidden) (column 16)"
    assert config_problems.show("visible", ("connector", 0, "name")) == '"visible"'


def test_secrets_still_reach_connector_options() -> None:
    s = parse_settings(f'[[connector]]\ntype = "telegram"\ntoken = "{SECRET}"\n')
    assert s.connectors[0].options == {"token": SECRET}


# --- files ------------------------------------------------------------------------------------

def test_missing_file_gives_demo_defaults(tmp_path: Path) -> None:
    s = load_settings(tmp_path / "nope.toml")
    assert s == Settings() and s.is_demo


def test_missing_file_when_required(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(tmp_path / "nope.toml", must_exist=True)
    assert str(err.value) == f"{tmp_path / 'nope.toml'}: no such file"


def test_directory_and_bad_encoding(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(tmp_path)
    assert str(tmp_path) in str(err.value) and "directory" in str(err.value)
    bad = tmp_path / "latin1.toml"
    bad.write_bytes(b'operator = "ana"\nrules = "caf\xe9"\n')
    with pytest.raises(ConfigError) as err:
        load_settings(bad)
    assert str(err.value).startswith(f"{bad}:2: not valid UTF-8")


def test_bom_is_tolerated_and_path_is_named(tmp_path: Path) -> None:
    p = tmp_path / "groupwatch.toml"
    p.write_bytes(b"\xef\xbb\xbfoperator = \"ana\"\n[store]\nrecent_messages = -1\n")
    with pytest.raises(ConfigError) as err:
        load_settings(p)
    assert str(err.value) == f"{p}:3: store.recent_messages must not be negative, got -1"
    p.write_bytes(b"\xef\xbb\xbfoperator = \"ana\"\n")
    assert load_settings(p).operator == "ana"


# --- paths --------------------------------------------------------------------------------

def test_paths_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("GROUPWATCH_HOME", raising=False)
    monkeypatch.delenv("GROUPWATCH_CONFIG", raising=False)
    assert data_dir(None).name == "groupwatch"
    assert config_path(None).name == "groupwatch.toml" and config_path(None).parent.name == "groupwatch"
    monkeypatch.setenv("GROUPWATCH_HOME", str(tmp_path / "env-data"))
    monkeypatch.setenv("GROUPWATCH_CONFIG", str(tmp_path / "env.toml"))
    assert data_dir(None) == tmp_path / "env-data"
    assert config_path(None) == tmp_path / "env.toml"
    assert data_dir(str(tmp_path / "cli")) == tmp_path / "cli"
    assert config_path(str(tmp_path / "cli.toml")) == tmp_path / "cli.toml"
    monkeypatch.setenv("GROUPWATCH_HOME", "")  # empty means unset
    assert data_dir(None).name == "groupwatch"
    assert data_dir("~/x") == Path.home() / "x"


def test_an_unknown_automatic_ad_action_is_named_with_its_line() -> None:
    with pytest.raises(ConfigError) as e:
        parse_settings('[detectors.ad]\nthreshold = 0.7\nauto_action = "delet"\n', "c.toml")
    assert "c.toml:3:" in str(e.value) and "auto_action" in str(e.value) and "'delete'" in str(e.value)
    assert parse_settings('[detectors.ad]\nauto_action = "delete+kick"\n').detectors.ad.auto_action == "delete+kick"
