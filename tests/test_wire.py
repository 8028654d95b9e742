"""wire: every api dataclass survives the trip as JSON, and a frame that is not api data is refused
with a one-line ProtocolError (never another exception, never a half-built object)."""
from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from console.service import api, wire
from console.service.wire import ProtocolError
from tests.hostile import hostile_text

# --- strategies built from the api's own type hints, so a new view is covered without a test change

json_scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
                        hostile_text(3))
json_value = st.recursive(json_scalar, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(hostile_text(2), inner, max_size=4)), max_leaves=12)


def for_hint(hint: typing.Any) -> st.SearchStrategy:
    if hint is str:
        return hostile_text(3)
    if hint is bool:
        return st.booleans()
    if hint is int:
        return st.integers()
    if hint is float:
        return st.floats(allow_nan=False)  # NaN != NaN: equality would fail, not the wire
    if hint is list:
        return st.lists(json_value, max_size=3)
    if hint is dict:
        # "$" keys on purpose: a plain dict that looks tagged must come back as the same dict
        return st.dictionaries(st.one_of(hostile_text(2), st.just("$")), json_value, max_size=3)
    if hint is typing.Any:  # a table window's page: the answer of one of the windowed views
        return st.one_of(st.none(), st.lists(for_class(api.GroupRow), max_size=2), for_class(api.FeedPage))
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return st.sampled_from(list(hint))
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return for_class(hint)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*(st.none() if a is type(None) else for_hint(a) for a in args))
    if origin is list:
        return st.lists(for_hint(args[0]), max_size=3)
    if origin is dict:
        return st.dictionaries(for_hint(args[0]), for_hint(args[1]), max_size=3)
    raise AssertionError(f"no strategy for {hint!r}")


def for_class(cls: type) -> st.SearchStrategy:
    hints = typing.get_type_hints(cls, vars(api))
    return st.builds(cls, **{f.name: st.deferred(lambda h=hints[f.name]: for_hint(h))
                             for f in dataclasses.fields(cls)})


def through_the_wire(value: object, *, allow_nan: bool = False) -> object:
    text = wire.dumps({"v": wire.encode(value)})
    text.encode("utf-8")  # a text frame must be valid UTF-8, lone surrogates in strangers' text included
    return wire.decode(wire.loads(text, allow_nan=allow_nan)["v"])


def assert_same(back: object, value: object) -> None:
    if back != value:
        # Only a high and a low lone surrogate side by side may differ: JSON has one escape for
        # both them and the character they pair into (and a platform's JSON already paired them).
        assert wire.dumps(wire.encode(back)) == wire.dumps(wire.encode(value))


def test_registry_holds_every_api_dataclass() -> None:
    expected = {n for n, o in vars(api).items()
                if isinstance(o, type) and dataclasses.is_dataclass(o) and o.__module__ == api.__name__}
    assert set(wire.CLASSES) == expected
    assert {"Actor", "Command", "Report", "GroupRow", "HeaderView", "NoticeView", "GroupDetail"} <= expected


@pytest.mark.parametrize("name", sorted(wire.CLASSES))
def test_every_api_dataclass_round_trips(name: str) -> None:
    cls = wire.CLASSES[name]

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(for_class(cls))
    def check(value: object) -> None:
        back = through_the_wire(value, allow_nan=True)  # answers may carry inf (a service's views)
        assert type(back) is cls
        assert_same(back, value)
        # typed positions keep their enums (a StrEnum equals its value, so check the type too)
        for f in dataclasses.fields(cls):
            if isinstance(getattr(value, f.name), enum.Enum):
                assert type(getattr(back, f.name)) is type(getattr(value, f.name))

    check()


@given(st.lists(for_class(api.AlertView), max_size=3), st.dictionaries(hostile_text(2), for_class(api.GroupRow),
                                                                      max_size=2))
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_lists_and_dicts_of_views_round_trip(alerts: list, rows: dict) -> None:
    assert_same(through_the_wire(alerts, allow_nan=True), alerts)
    assert_same(through_the_wire(rows, allow_nan=True), rows)
    assert through_the_wire((1, "a")) == [1, "a"]


def test_enums_travel_as_their_values() -> None:
    actor = api.Actor("alice", api.Role.ADMIN, "console 1")
    assert wire.encode(actor) == {"$": "Actor", "user": "alice", "role": "admin", "session": "console 1",
                                  "read_only": False}
    assert wire.encode([api.Status.DONE, api.Role.VIEWER]) == ["done", "viewer"]
    assert wire.decode_as(api.Actor, wire.encode(actor)).role is api.Role.ADMIN


def test_a_page_of_two_thousand_rows() -> None:
    row = api.GroupRow("demo:g1", "群 1", "demo", 300, 5, 80, 0.25, "active", 1.7e9, 2, 1, 0.01, 3,
                       list(range(24)), ["ads"], 4)
    rows = [dataclasses.replace(row, id=f"demo:g{i}") for i in range(2000)]
    assert through_the_wire(rows) == rows


def test_a_dict_with_a_dollar_key_is_not_taken_for_a_class() -> None:
    params = {"$": "Actor", "user": "root"}
    assert wire.encode(params) == {"$": "$dict", "value": params}
    assert through_the_wire(params) == params
    cmd = api.Command("blacklist_add", ["demo:u1"], {"evidence": {"$": "Report"}})
    assert through_the_wire(cmd) == cmd


def test_non_finite_numbers() -> None:
    view = api.AlertView(1, "ad", "high", None, None, None, None, [], None, None, float("inf"), "open", 0.0, 0.0, 1)
    assert through_the_wire(view, allow_nan=True) == view  # the service may answer inf; the client reads it
    with pytest.raises(ProtocolError, match="Infinity is not a JSON number"):
        wire.loads('{"seconds": Infinity}')  # a request may not carry it


# --- strict decoding -------------------------------------------------------------------------

GOOD_ACTOR = {"$": "Actor", "user": "alice", "role": "viewer", "session": "", "read_only": False}


@pytest.mark.parametrize("value, reason", [
    ({"$": "Nope"}, "unknown type Nope"),
    ({"$": 3}, "unknown type 3"),
    ({**GOOD_ACTOR, "uid": 0}, "Actor has no field uid"),
    ({"$": "Actor", "user": "alice"}, "Actor lacks role"),
    ({**GOOD_ACTOR, "role": "root"}, "Actor.role: expected a role"),
    ({**GOOD_ACTOR, "role": 2}, "Actor.role: expected a role"),
    ({**GOOD_ACTOR, "read_only": 1}, "Actor.read_only: expected a boolean, got an integer"),
    ({**GOOD_ACTOR, "user": None}, "Actor.user: expected a string, got null"),
    ({"$": "Report", "command": "ack", "total": True}, "Report.total: expected an integer, got a boolean"),
    ({"$": "Report", "command": "ack", "total": 1.0}, "Report.total: expected an integer, got a number"),
    ({"$": "Report", "command": "ack", "errors": "x"}, "Report.errors: expected a list, got a string"),
    ({"$": "Report", "command": "ack", "errors": [1]}, "Report.errors: expected a string"),
    ({"$": "Report", "command": "ack", "data": []}, "Report.data: expected an object, got a list"),
    ({"$": "Report", "command": "ack", "data": GOOD_ACTOR}, "Report.data: expected an object, got a tagged"),
    ({"$": "NoticeView", "at": "now", "text": ""}, "NoticeView.at: expected a number, got a string"),
    ({"$": "NoticeView", "at": 10 ** 400, "text": ""}, "number too large"),
    ({"$": "AlertsPage", "alerts": [GOOD_ACTOR], "total": 1}, "AlertsPage.alerts: expected a AlertView, got a Actor"),
    ({"$": "$dict", "value": []}, "malformed wrapped dict"),
    ({"$": "$dict", "value": {}, "x": 1}, "malformed wrapped dict"),
])
def test_decode_is_strict(value: object, reason: str) -> None:
    with pytest.raises(ProtocolError) as e:
        wire.decode(value)
    assert reason in str(e.value)
    assert "\n" not in str(e.value)


def test_decode_as_wants_exactly_that_class() -> None:
    with pytest.raises(ProtocolError, match="expected a Command, got a Actor"):
        wire.decode_as(api.Command, GOOD_ACTOR)
    with pytest.raises(ProtocolError, match="expected a Command, got a list"):
        wire.decode_as(api.Command, [])


def test_deep_nesting_is_refused_not_a_recursion_error() -> None:
    deep: object = 1
    for _ in range(wire.MAX_DEPTH + 1):
        deep = [deep]
    with pytest.raises(ProtocolError, match="nested too deeply"):
        wire.decode(deep)
    with pytest.raises(ProtocolError, match="nested too deeply"):
        wire.check_plain(deep)
    with pytest.raises(ProtocolError, match="nested too deeply|not JSON"):
        wire.loads('{"a":' + "[" * 100_000 + "]" * 100_000 + "}")


@pytest.mark.parametrize("text, reason", [
    ("", "not JSON"),
    ('{"op": "hello"', "not JSON"),
    ("[1, 2]", "expected a JSON object, got a list"),
    ("null", "expected a JSON object, got null"),
    ('"hello"', "expected a JSON object, got a string"),
    ('{"n": ' + "9" * 5000 + "}", "not JSON"),
    ('{"n": NaN}', "NaN is not a JSON number"),
    (b'{"op": "hello"}', "frames are JSON text, not binary"),
])
def test_loads_refuses_what_is_not_a_json_object(text: str | bytes, reason: str) -> None:
    with pytest.raises(ProtocolError) as e:
        wire.loads(text)
    assert reason in str(e.value)
    assert "\n" not in str(e.value)


def test_encode_refuses_what_is_not_api_data() -> None:
    with pytest.raises(ProtocolError, match="cannot send a object"):
        wire.encode(object())
    with pytest.raises(ProtocolError, match="cannot send a set"):
        wire.encode({"targets": {1, 2}})
    with pytest.raises(ProtocolError, match="dict key of type int"):
        wire.encode({1: "a"})  # json would make it "1" and the other side would see another dict


def test_check_plain_refuses_smuggled_classes() -> None:
    wire.check_plain({"reason": "spam", "evidence": {"$": "$dict", "value": {"$": "x"}}, "n": [1, [2, {}]]})
    with pytest.raises(ProtocolError, match="plain data, not a Actor"):
        wire.check_plain({"by": GOOD_ACTOR})
    with pytest.raises(ProtocolError, match="plain data, not a Actor"):
        wire.check_plain([["g", GOOD_ACTOR]])


@given(json_value)
@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
def test_any_json_decodes_or_fails_in_one_line(value: object) -> None:
    for attempt in (lambda: wire.decode(value), lambda: wire.decode_as(api.Command, value),
                    lambda: wire.check_plain(value), lambda: wire.loads(json.dumps(value))):
        try:
            attempt()
        except ProtocolError as e:
            assert "\n" not in str(e) and str(e)


@given(st.dictionaries(st.sampled_from(["$", "name", "targets", "params", "actor", "user"]),
                       st.one_of(json_value, st.just("Command"), st.just(GOOD_ACTOR)), max_size=5))
@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
def test_a_command_decodes_only_with_its_own_fields(value: dict) -> None:
    try:
        cmd = wire.decode_as(api.Command, value)
    except ProtocolError as e:
        assert "\n" not in str(e)
        return
    assert type(cmd) is api.Command and type(cmd.name) is str
    assert set(value) <= {"$", "name", "targets", "params"}


def test_tuple_hints_decode_to_tuples_and_other_hints_fail_at_import() -> None:
    assert wire._for_hint(tuple[str, ...])(["a", "b"], 0) == ("a", "b")
    with pytest.raises(ProtocolError, match="expected a string"):
        wire._for_hint(tuple[str, ...])(["a", 1], 0)
    with pytest.raises(TypeError, match="wire cannot decode"):
        wire._for_hint(set[str])  # a view with a type the wire cannot carry is a developer's error, found at once


def test_answer_frames_reuse_row_text_and_equal_plain_encoding():
    """The cached encoding sends exactly what the plain one would, and a row reused by the views
    is encoded once however many consoles ask for it."""
    import json as _json

    from console.service import api, wire

    row = api.GroupRow(id="demo:g1", name="\u202e群\ud800", platform="demo", members=3, messages_1h=1,
                       messages_24h=2, active_ratio=None, tier="high", last_message_at=1.5, joins=0, leaves=0,
                       exit_rate=None, open_alerts=2, sparkline=[1, 2], tags=["a"], leaves_24h=0)
    page = api.AlertsPage(alerts=[], total=0)
    for result in ([row, row], page, None, [], {"a": [row]}):
        assert _json.loads(wire.answer_frame(7, result)) == _json.loads(
            wire.dumps({"id": 7, "result": wire.encode(result)}))
    first = wire.to_json(row)
    assert wire.to_json(row) is first  # the same object: the same text, not encoded again
    assert wire.decode(_json.loads(first)) == row
