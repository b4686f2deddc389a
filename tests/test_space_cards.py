"""Space cards (issue 18): a post or message linking a Space shows it as a card, read for a whole
page in one query; ended Spaces say only that they ended; blocked hosts' Spaces show nothing."""

import pytest

from spaces import blocks, messages, posts, rooms, schedule, space_cards
from spaces.clock import now
from testkit.html_query import parse

HOST = "spaces.example"


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Listen in: /spaces/12", 12),
        ("https://spaces.example/spaces/7 now!", 7),
        ("http://spaces.example/spaces/7/", 7),
        ("(see /spaces/3)", 3),
        ("https://evil.example/spaces/7", None),  # another site's path is not our Space
        ("/spaces/7/audio", None),
        ("/spaces/abc", None),
        ("no link here", None),
        ("x/spaces/5", None),
    ],
)
def test_a_space_link_is_this_sites_room_url_or_its_path(text, found):
    assert space_cards.linked_space(HOST, text) == found


def test_the_body_then_the_link(text="Listen in", link="/spaces/9"):
    assert space_cards.linked_space(HOST, text, link) == 9
    assert space_cards.linked_space(HOST, "/spaces/1", link) == 1


def test_cards_say_live_with_title_and_host_or_only_that_it_ended(db, make_user):
    host, me = make_user("host", display_name="Hosty"), make_user("me")
    space = rooms.create(db, host, "Morning chat", "", "everyone")
    live = space_cards.cards(db, me["id"], [space["id"], 999])
    assert live == {
        space["id"]: {
            "id": space["id"],
            "state": "live",
            "title": "Morning chat",
            "host_username": "host",
            "host_display_name": "Hosty",
            "started_at": space["created_at"],
        }
    }
    rooms.end(db, space["id"], host)
    assert space_cards.cards(db, me["id"], [space["id"]]) == {
        space["id"]: {"id": space["id"], "state": "ended"}
    }


def test_blocked_either_way_a_card_shows_nothing_of_the_space(db, make_user):
    host, me, other = make_user("host"), make_user("me"), make_user("other")
    space = rooms.create(db, host, "Secret", "", "everyone")
    blocks.block(db, host["id"], me["id"])
    blocks.block(db, other["id"], host["id"])
    for viewer in (me, other):
        card = space_cards.cards(db, viewer["id"], [space["id"]])[space["id"]]
        assert card == {"id": space["id"], "state": "unavailable"}


def test_a_page_of_cards_is_one_query(db, make_user):
    me = make_user("me")
    items = []
    for i in range(6):
        host = make_user(f"host{i}")
        space = rooms.create(db, host, f"Room {i}", "", "everyone")
        items.append(posts.create(db, host["id"], f"Come in /spaces/{space['id']}"))
    items.append(posts.create(db, me["id"], "no Space here"))
    statements = []
    db.conn.set_trace_callback(statements.append)
    try:
        space_cards.attach(db, me["id"], items, HOST)
    finally:
        db.conn.set_trace_callback(None)
    assert len([s for s in statements if "FROM spaces" in s]) == 1, statements
    assert [bool(item["space_card"]) for item in items] == [True] * 6 + [False]


def cards_on(html: bytes) -> list:
    return parse(html).find_all("article")


def test_sharing_a_space_as_a_post_shows_a_card_with_join(app, browser):
    alice, bob = browser("alice"), browser("bob")
    bob.post("/u/alice/follow")
    alice.post("/spaces/new", {"title": "Morning chat", "speaker_policy": "everyone"}, htmx=False)
    assert alice.post("/spaces/1/share/post").status_code == 200
    (card,) = cards_on(bob.get("/").data)
    assert card.find("h3").text == "Morning chat"
    assert card.get("aria-labelledby") == card.find("h3").get("id")
    assert card.links() == {"Join": "/spaces/1"}
    assert "Hosted by alice @alice" in card.text and "LIVE" in card.text
    (card,) = cards_on(alice.get("/u/alice").data)  # on the profile too
    assert card.links() == {"Join": "/spaces/1"}


def test_a_message_with_a_space_link_shows_a_card(app, browser):
    alice, bob = browser("alice"), browser("bob")
    alice.post("/spaces/new", {"title": "Standup", "speaker_policy": "everyone"}, htmx=False)
    alice.post("/spaces/1/share/dm", {"usernames": "bob"})
    (card,) = cards_on(bob.get("/messages/alice").data)
    assert card.find("h3").text == "Standup" and card.links() == {"Join": "/spaces/1"}
    # An absolute link to this site, typed by hand, is a Space's link too.
    bob.fill("/messages/alice", {"body": "Coming to http://localhost/spaces/1 now"})
    assert len(cards_on(alice.get("/messages/bob").data)) == 2


def test_ended_and_blocked_cards_in_pages(app, browser, app_db):
    alice, bob, carol = browser("alice"), browser("bob"), browser("carol")
    alice.post("/spaces/new", {"title": "Private talk", "speaker_policy": "everyone"}, htmx=False)
    carol.post("/posts", {"body": "Join alice: /spaces/1"}, htmx=False)
    bob.post("/u/carol/follow")
    alice.post("/u/bob/block")  # the host blocked bob
    (card,) = cards_on(bob.get("/").data)
    assert card.find("h3").text == "This Space is not available"
    assert "Private talk" not in card.text and card.links() == {}
    (card,) = cards_on(carol.get("/").data)
    assert card.find("h3").text == "Private talk"
    alice.post("/spaces/1/end")
    (card,) = cards_on(carol.get("/").data)
    assert card.find("h3").text == "This Space has ended"
    assert "Private talk" not in card.text and card.links() == {}
    messages.send(app_db, carol.user["id"], alice.user["id"], "was /spaces/1 good?")
    (card,) = cards_on(alice.get("/messages/carol").data)
    assert card.find("h3").text == "This Space has ended"


def test_a_scheduled_space_card_is_not_live_and_offers_a_reminder(app, browser, app_db):
    """A link to a Space that has not started: its card says when it starts and offers
    `Set reminder` (UI.md), not LIVE and `Join` into a room nobody can join yet."""
    alice, bob = browser("alice"), browser("bob")
    space = schedule.create(app_db, alice.user, "Friday chat", "", "everyone", now() + 3600)
    alice.post("/posts", {"body": f"Save the date: /spaces/{space['id']}"}, htmx=False)
    bob.post("/u/alice/follow")
    (card,) = cards_on(bob.get("/").data)
    assert card.find("h3").text == "Friday chat"
    assert "LIVE" not in card.text and "Join" not in card.links()
    assert "Starts" in card.text and card.buttons() == ["Set reminder"]
    (card,) = cards_on(alice.get("/").data)  # the host is told when it is due: no button
    assert "LIVE" not in card.text and card.buttons() == []
