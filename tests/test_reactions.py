"""Reactions and raised hands (spaces/reactions.py): the rate, who may react, hands up and down,
and what takes a hand down (going on stage, leaving, the end); then how the room shows them."""

import pytest
from flask import g

from spaces import accounts, reactions, rooms
from spaces import db as dbm
from spaces.errors import Forbidden, Invalid
from spaces.events import RoomEvent
from spaces.policy import BLOCKED, Actor
from spaces.reactions import Board, Reactor, user_key
from spaces.room_render import RoomRender, controls_section
from testkit.html_query import parse

LIVE = {"id": 7, "host_id": 1, "speaker_policy": "everyone", "ended_at": None}
ANA = Reactor("u3", "Ana", "listener", "ana")
ANA_AS = Actor(user_id=3, role="listener")


class Ticks:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def ticks():
    return Ticks()


@pytest.fixture
def board(ticks):
    return Board(rate=3.0, burst=6.0, clock=ticks)


# The rate -----------------------------------------------------------------------------------


def test_a_burst_then_the_rate_per_person(board, ticks):
    assert [board.allow(7, "u3") for _ in range(8)] == [True] * 6 + [False] * 2
    assert board.allow(7, "u4"), "each person has an allowance of their own"
    assert board.allow(8, "u3"), "and one per Space"
    ticks.t += 1.0  # three more a second
    assert [board.allow(7, "u3") for _ in range(4)] == [True] * 3 + [False]
    ticks.t += 60.0  # saved up, but never more than the burst
    assert sum(board.allow(7, "u3") for _ in range(10)) == 6


def test_over_the_rate_a_reaction_is_dropped_quietly(board):
    shown = [reactions.react(board, LIVE, ANA_AS, ANA, "clap") for _ in range(8)]
    assert [r is not None for r in shown] == [True] * 6 + [False] * 2
    assert (shown[0].emoji, shown[0].label, shown[0].reactor) == ("👏", "Clap", ANA)
    # The hand has an allowance of its own: raised at once after a burst of claps.
    assert reactions.set_hand(board, LIVE, ANA_AS, ANA, True, 3) is not None


@pytest.mark.parametrize(
    ("kind", "label", "emoji"),
    [
        ("clap", "Clap", "👏"),
        ("laugh", "Laugh", "😂"),
        ("heart", "Heart", "❤️"),
        ("hundred", "Hundred", "💯"),
    ],
)
def test_each_reaction_has_its_button_name_and_emoji(board, kind, label, emoji):
    reaction = reactions.react(board, LIVE, ANA_AS, ANA, kind)
    assert (reaction.label, reaction.emoji) == (label, emoji)


def test_an_unknown_reaction_is_refused(board):
    with pytest.raises(Invalid):
        reactions.react(board, LIVE, ANA_AS, ANA, "<script>")


@pytest.mark.parametrize(
    ("who", "reason"),
    [
        (Actor(user_id=3), "Join the Space first."),
        (Actor(user_id=3, removed=True), "The host removed you from this Space."),
        (Actor(user_id=3, role="listener", blocked_by_host=True), BLOCKED),
    ],
    ids=["not present", "removed", "blocked"],
)
def test_people_not_in_the_space_may_not_react_or_raise_a_hand(board, who, reason):
    with pytest.raises(Forbidden) as refused:
        reactions.react(board, LIVE, who, ANA, "clap")
    assert refused.value.message == reason
    with pytest.raises(Forbidden):
        reactions.set_hand(board, LIVE, who, ANA, True, 3)
    assert board.hands(7, {"u3": "listener"}) == []


def test_nobody_reacts_in_an_ended_space(board):
    with pytest.raises(Forbidden) as refused:
        reactions.react(board, {**LIVE, "ended_at": 1.0}, ANA_AS, ANA, "clap")
    assert refused.value.message == "This Space has ended."


# Hands ----------------------------------------------------------------------------------------


def test_raise_then_lower_a_hand(board):
    event = reactions.set_hand(board, LIVE, ANA_AS, ANA, True, 3)
    assert event == RoomEvent(7, frozenset({"listeners", "requests"}), frozenset({3}))
    assert [h.name for h in board.hands(7, {"u3": "listener"})] == ["Ana"]
    assert board.is_raised(7, "u3", "listener")
    assert reactions.set_hand(board, LIVE, ANA_AS, ANA, True, 3) is None, "already up"
    assert reactions.set_hand(board, LIVE, ANA_AS, ANA, False, 3) is not None
    assert board.hands(7, {"u3": "listener"}) == []
    assert reactions.set_hand(board, LIVE, ANA_AS, ANA, False, 3) is None, "already down"


def test_a_speakers_hand_re_renders_the_stage(board):
    speaker = Reactor("u6", "Sam", "speaker", "sam")
    event = reactions.set_hand(board, LIVE, Actor(user_id=6, role="speaker"), speaker, True, 6)
    assert event.sections == frozenset({"stage", "requests"})


def test_hands_are_listed_oldest_first(board, ticks):
    for i, name in enumerate(("Ana", "Bo", "Cy")):
        ticks.t += 1
        board.raise_hand(7, Reactor(f"u{i}", name, "listener"))
    roles = {f"u{i}": "listener" for i in range(3)}
    assert [h.name for h in board.hands(7, roles)] == ["Ana", "Bo", "Cy"]


def test_going_on_stage_or_leaving_takes_the_hand_down(board):
    board.raise_hand(7, ANA)
    board.raise_hand(7, Reactor("u4", "Bo", "listener"))
    # Ana was made a speaker, Bo left: the next render finds neither where they raised it.
    assert board.hands(7, {"u3": "speaker"}) == []
    assert not board.is_raised(7, "u3", "speaker")
    board.raise_hand(7, Reactor("u3", "Ana", "speaker"))
    assert [h.role for h in board.hands(7, {"u3": "speaker"})] == ["speaker"]
    assert board.hands(7, {"u3": "listener"}) == [], "moved back to listeners: down again"


def test_leaving_removal_and_the_end_clear_hands_through_room_events(board):
    for uid in (3, 4, 5):
        board.raise_hand(7, Reactor(user_key(uid), f"p{uid}", "listener"))
    board.raise_hand(8, ANA)
    everyone = {user_key(uid): "listener" for uid in (3, 4, 5)}
    board.on_event(rooms.departure(7, 3))
    board.on_event(RoomEvent(7, removed=frozenset({4})))
    assert [h.key for h in board.hands(7, everyone)] == ["u5"]
    board.on_event(RoomEvent(7, kind="ended"))
    assert board.hands(7, everyone) == []
    assert board._rooms.keys() == {8}, "nothing of the ended Space is kept; other Spaces are"


# How the room shows them ----------------------------------------------------------------------


def test_the_hand_shows_on_the_item_and_in_the_hosts_requests_only(app):
    db = dbm.connect(app.config["DATABASE"])
    host, ana, bo = (accounts.sign_up(db, n, "correct horse") for n in ("host", "ana", "bo"))
    space = rooms.create(db, host, "Hands", "", "everyone")
    for person in (ana, bo):
        rooms.join(db, space["id"], person)
    board = app.extensions["spaces_reactions"]
    who = rooms.actor(db, space, ana)
    reactions.set_hand(board, space, who, Reactor.of_user(ana, who), True, ana["id"])
    with app.test_request_context("/"):
        g.shared_render = True
        render = RoomRender(db, space, 60)
        for viewer in (host, ana, bo):
            page = parse(render.fragments(viewer["id"]))
            items = {
                li.find("span", class_="username").text: li
                for li in page.by_id("listeners").find_all("li")
            }
            assert "✋" in items["ana"].text and "✋" not in items["bo"].text
            if viewer is host:
                assert page.usernames("hands-heading") == ["ana"]
            else:
                assert page.by_id("hands-heading") is None, "for whoever may approve requests"
        buttons = parse(controls_section(db, space, ana)).by_id("my-reactions").buttons()
        assert [b.split(" ", 1)[1] for b in buttons] == [
            "Clap",
            "Laugh",
            "Heart",
            "Hundred",
            "Lower hand",
        ]
        assert (
            "Raise hand"
            in parse(controls_section(db, space, bo)).by_id("my-reactions").buttons()[-1]
        )
        # Ana goes on stage: her hand is down everywhere, with no one lowering it.
        rooms.make_speaker(db, space["id"], host, ana["id"])
        page = parse(RoomRender(db, space, 60).fragments(host["id"]))
        assert "✋" not in page.by_id("stage").text
        assert page.usernames("hands-heading") == []
        assert "Raise hand" in parse(controls_section(db, space, ana)).by_id("my-reactions").text
