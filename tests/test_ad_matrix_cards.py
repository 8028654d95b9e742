"""Matrix has no contact or group-invite card: links to users and rooms (matrix.to, matrix: URIs)
and room pills play that role. The mapping writes them into the text as the other connectors write
cards, so the ad detector reads them alike. Payloads as the spec documents them (client-server API,
m.room.message with m.text and formatted_body; appendix "Identifier grammar", matrix.to and matrix: URIs)."""
from __future__ import annotations

from connectors.matrix.mapping import RoomBook, map_event
from console.engine.detectors.ad_qr import card_signals

ROOM = "!here:example.org"
BASE = {"type": "m.room.message", "sender": "@spammer:evil.org", "origin_server_ts": 1_767_574_800_000}


def text_of(content: dict, book: RoomBook | None = None, eid: str = "$1") -> str:
    msg = map_event(ROOM, {**BASE, "event_id": eid, "content": content}, book or RoomBook())
    return msg.text


def test_room_links_in_the_body_become_group_invite_cards():
    # The spec's own examples: an alias (percent-encoded), a room id with via, matrix: URIs.
    for link, ident in [
        ("https://matrix.to/#/%23somewhere%3Aexample.org", "#somewhere:example.org"),
        ("https://matrix.to/#/!somewhere%3Aexample.org?via=elsewhere.ca", "!somewhere:example.org"),
        ("https://matrix.to/#/#deals:evil.org", "#deals:evil.org"),
        ("matrix:r/somewhere:example.org", "#somewhere:example.org"),
        ("matrix:roomid/somewhere:example.org?via=elsewhere.ca", "!somewhere:example.org"),
    ]:
        text = text_of({"msgtype": "m.text", "body": f"cheap accounts here {link}"})
        assert text == f"cheap accounts here {link} [group invite card: Matrix {ident}]", link
        assert ("group invite card", 0.65) in card_signals(text)


def test_a_user_link_written_out_is_a_contact_card_but_a_pill_is_a_mention():
    shared = text_of({"msgtype": "m.text", "body": "DM him for prices https://matrix.to/#/@seller%3Aevil.org"})
    assert shared.endswith("[contact card: Matrix @seller:evil.org]")
    assert text_of({"msgtype": "m.text", "body": "add matrix:u/seller:evil.org?action=chat"}).endswith(
        "[contact card: Matrix @seller:evil.org]")
    # A mention as Element sends it: the pill is only in the HTML, the body shows the name.
    mention = map_event(ROOM, {**BASE, "event_id": "$m", "content": {
        "msgtype": "m.text", "body": "Alice: see you at 8", "format": "org.matrix.custom.html",
        "formatted_body": '<a href="https://matrix.to/#/@alice:example.org">Alice</a>: see you at 8',
        "m.mentions": {"user_ids": ["@alice:example.org"]}}}, RoomBook())
    assert mention.text == "Alice: see you at 8" and mention.mentions == ("matrix:@alice:example.org",)


def test_a_room_pill_is_an_invitation_but_this_room_and_permalinks_are_not():
    pill = text_of({"msgtype": "m.text", "body": "Deals: come over", "format": "org.matrix.custom.html",
                    "formatted_body": '<a href="https://matrix.to/#/#deals:evil.org?via=evil.org">Deals</a>: come over'})
    assert pill == "Deals: come over [group invite card: Matrix #deals:evil.org]"
    book = RoomBook()
    book.aliases[ROOM] = "#here:example.org"
    same = ("see https://matrix.to/#/%23here%3Aexample.org and "
            "https://matrix.to/#/!here%3Aexample.org/%24event%3Aexample.org?via=example.org and "
            "matrix:roomid/other:example.org/e/event1")
    assert text_of({"msgtype": "m.text", "body": same}, book) == same


def test_cards_are_bounded_deduplicated_and_garbage_is_left_alone():
    many = " ".join(f"https://matrix.to/#/#r{i}:evil.org https://matrix.to/#/#r{i}:evil.org" for i in range(6))
    text = text_of({"msgtype": "m.text", "body": many})
    assert text.count("[group invite card") == 3 and text.count("#r0:evil.org]") == 1
    for junk in ("https://matrix.to/#/", "https://matrix.to/#/nosigil:x", "https://matrix.to/#/#no-server",
                 "matrix:x/what:ever", "https://matrix.to/#/%ZZ%23a:b" + "x" * 2000):
        assert "card" not in text_of({"msgtype": "m.text", "body": junk}), junk
    # A non-string formatted_body (any member writes the content) is ignored, not a crash.
    assert text_of({"msgtype": "m.text", "body": "hi", "formatted_body": ["matrix"]}) == "hi"


def test_a_room_link_in_a_file_or_notice_is_read_too():
    assert text_of({"msgtype": "m.notice", "body": "join https://matrix.to/#/#deals:evil.org"}).endswith(
        "[group invite card: Matrix #deals:evil.org]")
    assert text_of({"msgtype": "m.location", "body": "Big Ben", "geo_uri": "geo:51.5008,0.1247"}) == "[location] Big Ben"
