"""Guests' reactions (issue 17 with issue 18): a listening guest claps, laughs, hearts and
hundreds like anyone, under an allowance of their own, and everyone sees it as from "a guest";
a guest raises no hand. First the domain (spaces/reactions.py with a guest key), then the room as
rendered, then a real guest session on a real server's live socket."""

import json
import time

import pytest
from flask import g

from spaces import accounts, reactions, rooms
from spaces import db as dbm
from spaces.errors import Forbidden
from spaces.guest_room import controls
from spaces.guests import actor as guest_actor
from spaces.guests import connection_id
from spaces.policy import GUESTS_NO_HAND, GUESTS_OFF, Actor
from spaces.reactions import Board, Reactor
from spaces.realtime.reactions_relay import reaction_message
from spaces.room_render import RoomRender
from testkit.guest import Guest
from testkit.html_query import parse
from testkit.server import LiveServer
from testkit.waiting import stays, wait_until

LIVE = {"id": 7, "host_id": 1, "speaker_policy": "everyone", "ended_at": None}
LISTENING = guest_actor(listening=True)
GUEST = Reactor.of_guest(connection_id(123456), LISTENING)
OTHER_GUEST = Reactor.of_guest(connection_id(654321), LISTENING)


@pytest.fixture
def board():
    return Board(rate=3.0, burst=6.0, clock=lambda: 100.0)  # time stands still: no refill


# The domain -----------------------------------------------------------------------------------


def test_a_guest_reacts_under_a_key_of_their_own_shown_as_a_guest(board):
    reaction = reactions.react(board, LIVE, LISTENING, GUEST, "clap")
    assert GUEST.key == "g123456" and GUEST.name == "a guest" and GUEST.username is None
    message = reaction_message(reaction)
    assert message == {
        "type": "reaction",
        "who": "guest",
        "kind": "clap",
        "label": "Clap",
        "emoji": "👏",
        "from": "a guest",
    }
    assert "123456" not in json.dumps(message), "a guest's number never leaves the server"


def test_each_guest_has_their_own_allowance(board):
    shown = [reactions.react(board, LIVE, LISTENING, GUEST, "laugh") for _ in range(8)]
    assert [r is not None for r in shown] == [True] * 6 + [False] * 2
    assert reactions.react(board, LIVE, LISTENING, OTHER_GUEST, "laugh") is not None
    ana = Reactor("u3", "Ana", "listener", "ana")
    assert reactions.react(board, LIVE, Actor(user_id=3, role="listener"), ana, "laugh")


@pytest.mark.parametrize(
    ("space", "who", "reason"),
    [
        (LIVE, guest_actor(listening=False), "Join the Space first."),
        ({**LIVE, "allow_guests": 0}, LISTENING, GUESTS_OFF),
        ({**LIVE, "ended_at": 1.0}, LISTENING, "This Space has ended."),
    ],
    ids=["not listening", "guests off", "ended"],
)
def test_a_guest_reacts_only_while_listening_where_guests_are_allowed(board, space, who, reason):
    with pytest.raises(Forbidden) as refused:
        reactions.react(board, space, who, Reactor.of_guest(-5, who), "heart")
    assert refused.value.message == reason


def test_a_guest_raises_no_hand(board):
    with pytest.raises(Forbidden) as refused:
        reactions.set_hand(board, LIVE, LISTENING, GUEST, True, None)
    assert refused.value.message == GUESTS_NO_HAND
    assert board.hands(7, {GUEST.key: "listener"}) == []


# The room as rendered -------------------------------------------------------------------------


def test_a_listening_guest_gets_four_reactions_and_no_hand(app):
    db = dbm.connect(app.config["DATABASE"])
    host = accounts.sign_up(db, "host", "correct horse")
    space = rooms.create(db, host, "Guests react", "", "everyone")
    with app.test_request_context("/"):
        listening = parse(controls(space, listening=True)).by_id("my-reactions")
        assert [b.split(" ", 1)[1] for b in listening.buttons()] == [
            "Clap",
            "Laugh",
            "Heart",
            "Hundred",
        ]
        assert listening.find("legend").text == "Reactions"
        looking = parse(controls(space, listening=False)).by_id("my-reactions")
        assert looking.buttons() == [], "someone only looking has nothing to react with"


def test_a_guests_reaction_has_a_place_by_the_guest_count(app):
    db = dbm.connect(app.config["DATABASE"])
    host = accounts.sign_up(db, "host", "correct horse")
    space = rooms.create(db, host, "Guests react", "", "everyone")
    with app.test_request_context("/"):
        g.shared_render = True
        render = RoomRender(db, space, 60)
        render.guests = 2  # two guests' sockets open (counted by the hub)
        listeners = parse(render.section("listeners", host["id"])).by_id("listeners")
        count = listeners.find("span", class_="guest-count")
        assert count.text == "2 guests"
        slot = count.parent.find("span", data_reactor="guest")  # on the count's own line
        assert slot is not None and slot.get("class") == "reaction"


# A real guest session on the live socket ------------------------------------------------------

WITHIN = 5.0  # seconds, generous on a loaded machine (the browser test holds it to one)


@pytest.fixture(scope="module")
def room(tmp_path_factory):
    server = LiveServer(tmp_path_factory.mktemp("guest-reactions")).start()
    try:
        host, ana = server.sign_up("host", "ana")
        space = host.open_space("Guests react")
        ana.join(space)
        yield server, space, host, ana
    finally:
        server.stop()


def messages(ear, after: float, kind: str) -> list[dict]:
    found = []
    for at, text in list(ear.texts):
        if at >= after and text.startswith("{"):
            message = json.loads(text)
            if message["type"] == kind:
                found.append(message)
    return found


def open_page(person, space: int):
    ear = person.listen(f"/spaces/{space}/live")
    assert ear.wait_text(lambda t: 'id="listeners"' in t, after=0, within=WITHIN)
    return ear


@pytest.mark.live
def test_a_guests_clap_reaches_everyone_as_from_a_guest(room):
    server, space, host, ana = room
    guest = Guest(server.url)
    guest.listen_to(space)
    pages = [open_page(p, space) for p in (host, ana, guest)]
    host_page, ana_page, guest_page = pages
    try:
        t = time.monotonic()
        guest_page.ws.send(json.dumps({"type": "react", "reaction": "clap"}))
        for ear in (host_page, ana_page):
            got = wait_until(lambda e=ear: messages(e, t, "reaction"), WITHIN, what="reaction")
            assert (got[0]["who"], got[0]["from"], got[0]["label"]) == ("guest", "a guest", "Clap")
            assert "mine" not in got[0]
        own = wait_until(lambda: messages(guest_page, t, "reaction"), WITHIN, what="own")
        assert own[0]["mine"] is True, "the guest's page leaves it out of their own summary"
        # An account's reaction reaches the guest as it reaches anyone.
        t = time.monotonic()
        ana_page.ws.send(json.dumps({"type": "react", "reaction": "heart"}))
        got = wait_until(lambda: messages(guest_page, t, "reaction"), WITHIN, what="ana's")
        assert got[0]["who"] == f"u{ana.id}"
    finally:
        for ear in pages:
            ear.stop()


@pytest.mark.live
def test_a_guests_burst_is_cut_to_their_allowance_and_a_hand_is_refused(room):
    server, space, host, ana = room
    guest = Guest(server.url)
    guest.listen_to(space)
    host_page, guest_page = open_page(host, space), open_page(guest, space)
    try:
        t = time.monotonic()
        for _ in range(8):  # under the socket's own limit (10 a second), over the burst (6)
            guest_page.ws.send(json.dumps({"type": "react", "reaction": "clap"}))
        wait_until(lambda: len(messages(host_page, t, "reaction")) >= 6, WITHIN, what="six")
        stays(lambda: len(messages(host_page, t, "reaction")) == 6, 1.0, what="only six")
        assert not guest_page.closed.is_set(), "dropped quietly: the page stays connected"
        t = time.monotonic()
        guest_page.ws.send(json.dumps({"type": "hand", "raised": True}))
        assert guest_page.wait_text(lambda text: GUESTS_NO_HAND in text, after=t, within=WITHIN)
        assert not messages(host_page, t, "hand")
    finally:
        host_page.stop()
        guest_page.stop()


@pytest.mark.live
def test_guests_turned_off_are_refused_per_message(room):
    """The host's change reached the database but no event closed the guest's socket yet: the
    message itself is checked, and the answer says why, to the guest only."""
    server, space, host, ana = room
    guest = Guest(server.url)
    guest.listen_to(space)
    host_page, guest_page = open_page(host, space), open_page(guest, space)
    try:
        server.sql("UPDATE spaces SET allow_guests = 0 WHERE id = ?", (space,))
        t = time.monotonic()
        guest_page.ws.send(json.dumps({"type": "react", "reaction": "hundred"}))
        assert guest_page.wait_text(lambda text: GUESTS_OFF in text, after=t, within=WITHIN)
        stays(lambda: not messages(host_page, t, "reaction"), 1.0, what="nothing reached host")
    finally:
        server.sql("UPDATE spaces SET allow_guests = 1 WHERE id = ?", (space,))
        host_page.stop()
        guest_page.stop()
