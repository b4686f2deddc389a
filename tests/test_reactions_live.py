"""Reactions and raised hands on the room's live socket, against a real server: a reaction reaches
every other page as one small message (the room is not re-rendered), a burst is cut to the
allowance, someone no longer in the Space (left, blocked) is refused per message, and a raised
hand shows in the host's Requests area until it is lowered."""

import contextlib
import json
import time

import pytest

from spaces.policy import BLOCKED
from spaces.realtime.close_codes import LEFT
from testkit.html_query import parse
from testkit.listen import Ear
from testkit.server import LiveServer
from testkit.waiting import stays, wait_until

pytestmark = pytest.mark.live

WITHIN = 5.0  # seconds, generous on a loaded machine (the browser test holds it to one)


@pytest.fixture(scope="module")
def room(tmp_path_factory):
    server = LiveServer(tmp_path_factory.mktemp("reactions")).start()
    try:
        host, ana, bo = server.sign_up("host", "ana", "bo")
        space = host.open_space("Reacting")
        for person in (ana, bo):
            person.join(space)
        yield server, space, host, ana, bo
    finally:
        server.stop()


def messages(ear: Ear, after: float, kind: str) -> list[dict]:
    """The JSON messages of `kind` this page received since `after`."""
    found = []
    for at, text in list(ear.texts):
        if at >= after and text.startswith("{"):
            message = json.loads(text)
            if message["type"] == kind:
                found.append(message)
    return found


@contextlib.contextmanager
def pages(space: int, *people):
    """Each person's room page open (an Ear reading it), its full state received."""
    ears = [person.listen(f"/spaces/{space}/live") for person in people]
    try:
        for ear in ears:
            assert ear.wait_text(lambda t: "my-controls" in t, after=0, within=WITHIN)
        yield ears
    finally:
        for ear in ears:
            ear.stop()


def send(ear: Ear, message: dict) -> None:
    ear.ws.send(json.dumps(message))


def test_a_reaction_reaches_every_page_as_one_small_message(room):
    server, space, host, ana, bo = room
    with pages(space, host, ana, bo) as (host_page, ana_page, bo_page):
        t = time.monotonic()
        send(ana_page, {"type": "react", "reaction": "heart"})
        expected = {"type": "reaction", "who": f"u{ana.id}", "kind": "heart", "label": "Heart"}
        for ear in (host_page, ana_page, bo_page):  # the reactor's own page shows it too
            got = wait_until(lambda e=ear: messages(e, t, "reaction"), WITHIN, what="reaction")
            assert {k: got[0][k] for k in expected} == expected and got[0]["emoji"] == "❤️"
        # Nothing of the room was re-rendered for it.
        assert not [text for at, text in bo_page.texts if at >= t and not text.startswith("{")]


def test_a_burst_is_cut_to_the_allowance(room):
    server, space, host, ana, bo = room
    (cy,) = server.sign_up("cy")  # someone with a full allowance
    cy.join(space)
    with pages(space, cy, bo) as (cy_page, bo_page):
        t = time.monotonic()
        for _ in range(8):  # under the socket's own limit (10 a second), over the burst (6)
            send(cy_page, {"type": "react", "reaction": "clap"})
        wait_until(lambda: len(messages(bo_page, t, "reaction")) >= 6, WITHIN, what="six")
        stays(lambda: len(messages(bo_page, t, "reaction")) == 6, 1.0, what="only six")
        assert not cy_page.closed.is_set(), "dropped quietly: the page stays connected"


@pytest.mark.parametrize("how", ["left", "blocked"])
def test_someone_no_longer_in_the_space_is_refused_per_message(room, how):
    """Their socket is still open (the change reached the database but no event was published
    yet): the message itself is checked, and the answer says why, to them only."""
    server, space, host, ana, bo = room
    (eve,) = server.sign_up(f"eve_{how}")
    with pages(space, bo) as (bo_page,):
        joined = time.monotonic()
        eve.join(space)
        # The join's push has reached the room: no flush of it is left to come, which would
        # find eve out (after the change below) and close her page before her message is read.
        assert bo_page.wait_text(lambda text: eve.username in text, after=joined, within=WITHIN)
        with pages(space, eve) as (eve_page,):
            refused_per_message(server, space, host, eve, how, eve_page, bo_page)


def refused_per_message(server, space, host, eve, how, eve_page, bo_page) -> None:
    if how == "left":
        server.sql(
            "UPDATE participants SET present = 0 WHERE space_id = ? AND user_id = ?",
            (space, eve.id),
        )
        reason = "Join the Space first."
    else:
        server.sql(
            "INSERT INTO blocks (blocker_id, blocked_id, created_at) VALUES (?, ?, 0)",
            (host.id, eve.id),
        )
        reason = BLOCKED
    t = time.monotonic()
    send(eve_page, {"type": "react", "reaction": "laugh"})
    send(eve_page, {"type": "hand", "raised": True})
    assert eve_page.wait_text(lambda text: reason in text, after=t, within=WITHIN)
    stays(lambda: not messages(bo_page, t, "reaction"), 1.0, what="no reaction reached bo")
    assert not messages(bo_page, t, "hand")


def test_someone_not_in_the_space_is_closed_before_any_reaction(room):
    server, space, host, ana, bo = room
    (stranger,) = server.sign_up("stranger")
    with pages(space, bo) as (bo_page,):
        ear = stranger.listen(f"/spaces/{space}/live")
        t = time.monotonic()
        with contextlib.suppress(OSError):
            wait_until(lambda: ear.ws is not None, WITHIN, what="the socket")
            send(ear, {"type": "react", "reaction": "clap"})
        assert wait_until(lambda: ear.closed.is_set(), WITHIN, what="closed")
        assert ear.close_code == LEFT
        stays(lambda: not messages(bo_page, t, "reaction"), 1.0, what="no reaction reached bo")


def hands_in(text: str) -> list[str] | None:
    """The usernames in the Requests area's raised hands, if this push holds it."""
    doc = parse(text)
    if doc.by_id("hands-heading") is None:
        return None
    return doc.usernames("hands-heading")


def test_a_raised_hand_shows_in_the_hosts_requests_until_it_is_lowered(room):
    server, space, host, ana, bo = room
    with pages(space, host, ana, bo) as (host_page, ana_page, bo_page):
        t = time.monotonic()
        send(ana_page, {"type": "hand", "raised": True})
        assert host_page.wait_text(lambda x: hands_in(x) == [ana.username], after=t, within=WITHIN)
        # Everyone sees the ✋ on Ana's item; her own controls now offer to lower it.
        assert bo_page.wait_text(lambda x: "✋" in x and "hands-heading" not in x, t, WITHIN)
        assert ana_page.wait_text(lambda x: "Lower hand" in x, after=t, within=WITHIN)
        got = wait_until(lambda: messages(bo_page, t, "hand"), WITHIN, what="the summary's")
        assert got == [{"type": "hand", "who": f"u{ana.id}", "name": ana.username, "raised": True}]
        t = time.monotonic()
        send(ana_page, {"type": "hand", "raised": False})
        assert host_page.wait_text(lambda x: hands_in(x) == [], after=t, within=WITHIN)
        assert ana_page.wait_text(lambda x: "Raise hand" in x, after=t, within=WITHIN)
