"""The service-side windows of the big tables (console.service.windows): a filter means what it means
on the console (field:value, headers, aliases, !negate, regex or literal, unknown words, full tier
words), sorts and frozen orders hold, the window follows the cursor and keeps still while it is well
inside, marked rows outside it come along, an unchanged window is one word, and a bad question is a
one-line error."""
from __future__ import annotations

import pytest

from console.screens.filtering import parse_filter
from console.service.api import GroupRow, IncidentsPage, IncidentView, ServiceError, TableWindow
from console.service.table_rows import filter_names, sort_value
from console.service.table_specs import GROUP_COLUMNS, SPECS, group_row
from console.service.windows import Versions, answer, ask_from, cut

NOW = 1_000_000.0
TIERS = ("high", "ordinary", "inactive", "critical")


def fleet(n: int = 2000) -> list[GroupRow]:
    return [GroupRow(id=f"demo:g{i}", name=f"{'fans' if i % 7 == 0 else 'team'} {i}", platform=("qq", "telegram")[i % 2],
                     members=100 + i, messages_1h=i % 13, messages_24h=i % 50, active_ratio=(i % 100) / 100,
                     tier=TIERS[i % 4], last_message_at=NOW - i * 60, joins=0, leaves=0, exit_rate=None,
                     open_alerts=i % 5, sparkline=[i % 3] * 12, tags=["vip"] if i % 11 == 0 else [], leaves_24h=i % 4)
            for i in range(n)]


def window(rows, **params) -> TableWindow:
    ask = ask_from({"view": "groups", **params})
    c = cut(ask, rows, NOW)
    return answer(ask, rows, c, Versions().version(c))


def console_filter(rows: list[GroupRow], text: str) -> list[str]:
    """What the console matched before the service did: every row's fields against the parsed filter."""
    built = [group_row(r, NOW) for r in rows]
    names, aliases = filter_names(GROUP_COLUMNS, built[0])
    f = parse_filter(text, names, aliases)
    return [r.key for r in built if f.matches(r.fields(GROUP_COLUMNS))]


@pytest.mark.parametrize("text", ["fans", "tier:inactive", "tier:inac", "!tier:high", "pf:qq", "platform:telegram",
                                  "tags:vip", "al:[1-9]", "alerts:^0$", "group:fans membr:^10", "(unclosed",
                                  "nosuch:thing", "fans !tags:vip", '"team 1"'])
def test_a_filter_matches_on_the_service_what_it_matched_on_the_console(text):
    rows = fleet()
    w = window(rows, filter=text, size=-1, keys=True)
    assert w.keys == console_filter(rows, text)
    assert w.matching == len(w.keys) and w.total == len(rows)
    assert [r.id for r in w.page] == w.keys  # size -1: every matching row (an export)
    if text == "nosuch:thing":
        assert w.unknown == ["nosuch"]


def test_sort_and_reverse_and_a_frozen_order_follow_the_columns_sort_values():
    rows = fleet(500)
    w = window(rows, sort="members", reverse=True, size=-1, keys=True)
    i = [c.key for c in GROUP_COLUMNS].index("members")
    expect = sorted(rows, key=lambda r: sort_value(group_row(r, NOW).sort[i]), reverse=True)
    assert w.keys == [r.id for r in expect]
    frozen = list(reversed(w.keys[:100]))  # the first hundred keep their frozen places, the rest follow
    w2 = window(rows, sort="members", order=frozen, size=-1, keys=True)
    assert w2.keys[:100] == frozen and w2.keys[100:] == [k for k in sorted(
        (r.id for r in rows), key=lambda k: sort_value(100 + int(k.split("g")[1]))) if k not in set(frozen)]
    with pytest.raises(ServiceError, match="no column"):
        ask_from({"view": "groups", "sort": "bogus"})


def test_the_window_follows_the_cursor_and_stays_while_it_is_well_inside():
    rows = fleet()
    first = window(rows)
    assert first.offset == 0 and first.cursor == 0 and first.shown == 200 and len(first.page) == 200
    # the cursor moved to place 120 in the window the console holds: the window stays
    w = window(rows, cursor="demo:g120", offset=0)
    assert (w.offset, w.cursor) == (0, 120)
    # near the edge (within a quarter window): re-centred on it
    w = window(rows, cursor="demo:g170", offset=0)
    assert (w.offset, w.cursor) == (70, 170) and w.page[100].id == "demo:g170"
    # a jump (G, gg): the window and the cursor go there
    w = window(rows, at=1999, cursor="demo:g5")
    assert (w.offset, w.cursor) == (1800, 1999) and w.page[-1].id == "demo:g1999"
    w = window(rows, at=0, offset=1800)
    assert (w.offset, w.cursor) == (0, 0)
    # the cursor's row is gone (filtered out): the cursor stays at its place
    w = window(rows, filter="fans", cursor="demo:g1", place=40, offset=0)
    assert w.cursor == 40 and w.matching == len([r for r in rows if r.name.startswith("fans")])
    # fewer rows than a window: all of them
    w = window(rows[:50], cursor="demo:g49")
    assert (w.offset, w.cursor, w.shown) == (0, 49, 50)


def test_marked_rows_outside_the_window_come_along_and_gone_ones_do_not():
    rows = fleet()
    w = window(rows, marks=["demo:g3", "demo:g1500", "demo:g1999", "demo:gone"])
    extra = w.page[w.shown:]
    assert [r.id for r in extra] == ["demo:g1500", "demo:g1999"]  # g3 is in the window; gone is gone
    # marks outside the filter still come (marks are deliberate), in the view's order
    w = window(rows, filter="fans", marks=["demo:g1"])
    assert [r.id for r in w.page[w.shown:]] == ["demo:g1"]


def test_an_unchanged_window_is_one_word_and_a_changed_one_is_not():
    rows = fleet(300)
    versions = Versions()

    def ask(**params):
        a = ask_from({"view": "groups", **params})
        c = cut(a, rows, NOW)
        return answer(a, rows, c, versions.version(c))

    w1 = ask()
    w2 = ask(since=w1.version)
    assert w2.unchanged and w2.page is None and w2.version == w1.version and w2.matching == 300
    rows[5] = GroupRow(**{**{f: getattr(rows[5], f) for f in GroupRow.__slots__}, "members": 1})  # a group changed
    w3 = ask(since=w1.version)
    assert not w3.unchanged and w3.version != w1.version and w3.page[5].members == 1


def test_hidden_handled_incidents_and_their_extra_filter_words():
    def inc(i: int, state: str) -> IncidentView:
        return IncidentView(id=i, rule="wave" if i % 2 else "sender", key=f"k{i}", kind="ad", severity="high",
                            title=f"ad wave {i}", count=2, open_count=1, alert_ids=[i], groups=[f"demo:g{i % 9}"],
                            group_names=[f"fans {i % 9}"], members=[f"demo:u{i}"], first_at=NOW - i, at=NOW - i,
                            state=state)

    page = IncidentsPage([inc(i, "acknowledged" if i % 3 == 0 else "open") for i in range(10_000)], 10_000)
    spec = SPECS["incidents"]
    ask = ask_from({"view": "incidents", "params": {"hide_handled": True}, "filter": "rule:wave group:^fans 4$",
                    "keys": True, "size": 50})
    c = cut(ask, page, NOW)
    expect = [i.target for i in page.incidents if i.state == "open" and i.rule == "wave" and i.id % 9 == 4]
    assert c.total == len([i for i in page.incidents if i.state == "open"]) and c.keys == expect
    w = answer(ask, page, c, 1)
    assert isinstance(w.page, IncidentsPage) and [spec.key(i) for i in w.page.incidents] == expect[:50]


@pytest.mark.parametrize("params, words", [({"view": "nope"}, "no table for the view"),
                                           ({"view": "groups", "size": "x"}, "size must be"),
                                           ({"view": "groups", "marks": [1]}, "list of row keys"),
                                           ({"view": "groups", "params": []}, "params must be an object"),
                                           ({"view": "groups", "cursor": 3}, "cursor must be")])
def test_a_bad_question_is_one_line(params, words):
    with pytest.raises(ServiceError, match=words) as e:
        ask_from(params)
    assert "\n" not in str(e.value)
