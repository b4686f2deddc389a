"""Spaces at the domain level: every rule of the Spaces issue, and the speaker cap under a race."""

import sqlite3
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from spaces import accounts, blocks, follows, migrations, policy, reports, rooms
from spaces import db as dbm
from spaces.errors import Conflict, Forbidden, Invalid, NotFound


@pytest.fixture
def room(db, make_user):
    """A live Space with a host and three listeners in it."""
    host = make_user("host")
    space = rooms.create(db, host, "Morning show", "Coffee talk", "everyone")
    people = {"host": host}
    for name in ("ann", "ben", "cat"):
        people[name] = make_user(name)
        rooms.join(db, space["id"], people[name])
    return space["id"], people


def role(db, space_id: int, user: dict) -> str | None:
    """The person's place in the Space while present, else None."""
    return rooms.actor(db, rooms.get(db, space_id), user).role


def stage(db, space_id: int) -> list[str]:
    p = rooms.presence(db, space_id)
    return [r["username"] for r in p["host"] + p["speakers"]]


def listeners(db, space_id: int) -> list[str]:
    return [r["username"] for r in rooms.presence(db, space_id)["listeners"]]


def requests(db, space_id: int) -> list[str]:
    return [r["username"] for r in rooms.presence(db, space_id)["requests"]]


def mic_of(db, space_id: int, user: dict) -> bool:
    return rooms.actor(db, rooms.get(db, space_id), user).mic_on


# Creating a Space -------------------------------------------------------------------------------


def test_create_makes_the_creator_host_on_stage_with_mic_off(db, make_user, clock):
    host = make_user("host")
    space = rooms.create(db, host, "  Morning show ", " Coffee talk ", "following")
    assert space["title"] == "Morning show"
    assert space["description"] == "Coffee talk"
    assert space["speaker_policy"] == "following"
    assert space["host_id"] == host["id"]
    assert space["host_username"] == "host"
    assert space["created_at"] == clock.now()
    assert space["ended_at"] is None
    assert role(db, space["id"], host) == "host"
    assert not mic_of(db, space["id"], host)
    presence = rooms.presence(db, space["id"])
    assert [r["username"] for r in presence["host"]] == ["host"]
    assert presence["speakers"] == []
    assert presence["listener_count"] == 0


@pytest.mark.parametrize("speaker_policy", ["everyone", "following", "invited"])
def test_create_accepts_each_speaker_policy(db, make_user, speaker_policy):
    space = rooms.create(db, make_user("host"), "t", "", speaker_policy)
    assert space["speaker_policy"] == speaker_policy


def test_title_and_description_at_their_limits(db, make_user):
    space = rooms.create(db, make_user("host"), "t" * 70, "d" * 280, "everyone")
    assert len(space["title"]) == 70
    assert len(space["description"]) == 280


@pytest.mark.parametrize(
    ("title", "description", "speaker_policy", "field", "words"),
    [
        ("", "", "everyone", "title", "Give your Space a title"),
        ("    ", "", "everyone", "title", "Give your Space a title"),
        ("t" * 71, "", "everyone", "title", "at most 70"),
        ("ok", "d" * 281, "everyone", "description", "at most 280"),
        ("ok", "", "anyone", "speaker_policy", "Choose who can speak"),
        ("ok", "", "", "speaker_policy", "Choose who can speak"),
    ],
)
def test_create_refuses_bad_input_with_its_field(
    db, make_user, title, description, speaker_policy, field, words
):
    host = make_user("host")
    with pytest.raises(Invalid) as exc:
        rooms.create(db, host, title, description, speaker_policy)
    assert exc.value.field == field
    assert words in exc.value.message
    assert dbm.scalar(db, "SELECT COUNT(*) FROM spaces") == 0
    assert dbm.scalar(db, "SELECT COUNT(*) FROM participants") == 0


def test_protected_account_cannot_create_a_space(db, make_user):
    shy = make_user("shy", protected=True)
    with pytest.raises(Forbidden) as exc:
        rooms.create(db, shy, "My show", "", "everyone")
    assert "protected" in exc.value.message
    assert "can still join and speak" in exc.value.message
    assert dbm.scalar(db, "SELECT COUNT(*) FROM spaces") == 0


def test_protected_account_can_join_and_speak(db, room, make_user):
    space_id, people = room
    shy = make_user("shy", protected=True)
    rooms.join(db, space_id, shy)
    rooms.request_to_speak(db, space_id, shy)
    rooms.approve(db, space_id, people["host"], shy["id"])
    assert role(db, space_id, shy) == "speaker"
    assert "shy" in stage(db, space_id)


def test_one_live_space_per_host(db, make_user):
    host = make_user("host")
    first = rooms.create(db, host, "First", "", "everyone")
    with pytest.raises(Conflict) as exc:
        rooms.create(db, host, "Second", "", "everyone")
    assert "already hosting a live Space" in exc.value.message
    assert dbm.scalar(db, "SELECT COUNT(*) FROM spaces") == 1
    rooms.end(db, first["id"], host)
    second = rooms.create(db, host, "Second", "", "everyone")
    assert rooms.live_space_of(db, host["id"])["id"] == second["id"]


@pytest.mark.usefixtures("eager_thread_switching")
def test_one_live_space_per_host_holds_under_simultaneous_starts(tmp_path):
    path = tmp_path / "starts.db"
    [host] = _sign_up_many(path, 1)
    barrier = threading.Barrier(10)

    def start(n: int):
        connection = dbm.connect(path)
        # A short pause before each insert widens any gap between the check and the write.
        connection.conn.set_trace_callback(
            lambda sql: time.sleep(0.001) if sql.startswith("INSERT") else None
        )
        try:
            barrier.wait(timeout=30)
            return rooms.create(connection, host, f"Show {n}", "", "everyone")["id"]
        except Conflict as exc:
            return exc
        finally:
            connection.conn.close()

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(start, range(10)))
    started = [r for r in results if isinstance(r, int)]
    assert len(started) == 1, results
    assert sum(isinstance(r, Conflict) for r in results) == 9
    check = dbm.connect(path)
    assert dbm.scalar(check, "SELECT COUNT(*) FROM spaces WHERE ended_at IS NULL") == 1
    check.conn.close()


def test_other_hosts_may_be_live_at_the_same_time(db, make_user):
    a = rooms.create(db, make_user("a"), "A", "", "everyone")
    b = rooms.create(db, make_user("b"), "B", "", "everyone")
    assert sorted(rooms.live_space_ids(db)) == sorted([a["id"], b["id"]])


def test_starting_a_space_leaves_the_one_you_were_listening_to(db, room, make_user):
    space_id, people = room
    rooms.create(db, people["ann"], "Ann's show", "", "everyone")
    assert role(db, space_id, people["ann"]) is None
    assert "ann" not in listeners(db, space_id)


# Editing ----------------------------------------------------------------------------------------


def test_host_edits_title_and_description(db, room):
    space_id, people = room
    event = rooms.edit(db, space_id, people["host"], " Evening show ", "Tea talk")
    assert rooms.get(db, space_id)["title"] == "Evening show"
    assert rooms.get(db, space_id)["description"] == "Tea talk"
    assert event.space_id == space_id
    assert event.sections == {"meta"}


def test_edit_refuses_bad_title_and_keeps_the_old_one(db, room):
    space_id, people = room
    with pytest.raises(Invalid) as exc:
        rooms.edit(db, space_id, people["host"], "t" * 71, "")
    assert exc.value.field == "title"
    assert rooms.get(db, space_id)["title"] == "Morning show"


def test_only_the_host_edits(db, room):
    space_id, people = room
    rooms.make_speaker(db, space_id, people["host"], people["ann"]["id"])
    for who in ("ann", "ben"):
        with pytest.raises(Forbidden, match="Only the host"):
            rooms.edit(db, space_id, people[who], "Taken over", "")
    assert rooms.get(db, space_id)["title"] == "Morning show"


# Joining and leaving ----------------------------------------------------------------------------


def test_join_as_listener(db, make_user, clock):
    host = make_user("host")
    space = rooms.create(db, host, "Show", "", "everyone")
    ann = make_user("ann")
    event = rooms.join(db, space["id"], ann)
    assert role(db, space["id"], ann) == "listener"
    assert listeners(db, space["id"]) == ["ann"]
    assert rooms.presence(db, space["id"])["listener_count"] == 1
    assert {"listeners", "stage"} <= event.sections
    assert event.users == {ann["id"]}
    assert event.notices == ()


def test_joining_twice_is_one_participant(db, room):
    space_id, people = room
    event = rooms.join(db, space_id, people["ann"])
    assert listeners(db, space_id) == ["ann", "ben", "cat"]
    assert rooms.presence(db, space_id)["listener_count"] == 3
    assert event.users == {people["ann"]["id"]}


def test_join_unknown_space(db, make_user):
    with pytest.raises(NotFound, match="no such Space"):
        rooms.join(db, 12345, make_user("ann"))


def test_leave_removes_from_the_lists(db, room):
    space_id, people = room
    event = rooms.leave(db, space_id, people["ben"]["id"])
    assert role(db, space_id, people["ben"]) is None
    assert listeners(db, space_id) == ["ann", "cat"]
    assert rooms.presence(db, space_id)["listener_count"] == 2
    assert {"listeners", "stage"} <= event.sections
    assert event.users == {people["ben"]["id"]}
    # Leaving again changes nothing.
    assert rooms.leave(db, space_id, people["ben"]["id"]) is None


def test_leaving_withdraws_a_request_to_speak(db, room):
    space_id, people = room
    rooms.request_to_speak(db, space_id, people["ann"])
    event = rooms.leave(db, space_id, people["ann"]["id"])
    assert "requests" in event.sections
    assert requests(db, space_id) == []
    rooms.join(db, space_id, people["ann"])
    assert requests(db, space_id) == []


def test_speaker_who_leaves_comes_back_as_a_listener(db, room):
    space_id, people = room
    rooms.make_speaker(db, space_id, people["host"], people["ann"]["id"])
    rooms.set_mic(db, space_id, people["ann"], True)
    rooms.leave(db, space_id, people["ann"]["id"])
    assert stage(db, space_id) == ["host"]
    rooms.join(db, space_id, people["ann"])
    assert role(db, space_id, people["ann"]) == "listener"
    assert not mic_of(db, space_id, people["ann"])


def test_host_who_leaves_stays_host(db, room):
    space_id, people = room
    host = people["host"]
    rooms.set_mic(db, space_id, host, True)
    rooms.leave(db, space_id, host["id"])
    assert role(db, space_id, host) is None
    assert stage(db, space_id) == []
    assert rooms.live_space_of(db, host["id"])["id"] == space_id
    # Nobody else gets to act as host meanwhile.
    with pytest.raises(Forbidden):
        rooms.make_speaker(db, space_id, people["ann"], people["ben"]["id"])
    rooms.join(db, space_id, host)
    assert role(db, space_id, host) == "host"
    assert stage(db, space_id) == ["host"]
    assert not mic_of(db, space_id, host)
    rooms.make_speaker(db, space_id, host, people["ann"]["id"])
    assert stage(db, space_id) == ["host", "ann"]


# Requests to speak ------------------------------------------------------------------------------


def test_request_and_cancel_under_everyone(db, room, clock):
    space_id, people = room
    event = rooms.request_to_speak(db, space_id, people["ben"])
    assert requests(db, space_id) == ["ben"]
    assert "requests" in event.sections
    assert event.users == {people["ben"]["id"]}
    clock.advance(1)
    rooms.request_to_speak(db, space_id, people["ann"])
    assert requests(db, space_id) == ["ben", "ann"], "oldest request first"
    event = rooms.cancel_request(db, space_id, people["ben"])
    assert requests(db, space_id) == ["ann"]
    assert "requests" in event.sections
    assert event.users == {people["ben"]["id"]}
    assert role(db, space_id, people["ben"]) == "listener"


def test_asking_twice_is_refused(db, room):
    space_id, people = room
    rooms.request_to_speak(db, space_id, people["ann"])
    with pytest.raises(Forbidden, match="already asked"):
        rooms.request_to_speak(db, space_id, people["ann"])
    assert requests(db, space_id) == ["ann"]


def test_cancel_without_a_request_is_refused(db, room):
    space_id, people = room
    with pytest.raises(Forbidden, match="not asked to speak"):
        rooms.cancel_request(db, space_id, people["ann"])


def test_people_on_stage_and_people_outside_cannot_request(db, room, make_user):
    space_id, people = room
    rooms.make_speaker(db, space_id, people["host"], people["ann"]["id"])
    for who in (people["host"], people["ann"]):
        with pytest.raises(Forbidden, match="already on stage"):
            rooms.request_to_speak(db, space_id, who)
    with pytest.raises(Forbidden, match="Join the Space first"):
        rooms.request_to_speak(db, space_id, make_user("outsider"))
    assert requests(db, space_id) == []


def test_following_policy_only_people_the_host_follows_may_request(db, make_user):
    host, fan, friend = make_user("host"), make_user("fan"), make_user("friend")
    follows.follow(db, host["id"], friend["id"])
    follows.follow(db, fan["id"], host["id"])  # fan follows the host, not the other way
    space_id = rooms.create(db, host, "Show", "", "following")["id"]
    rooms.join(db, space_id, fan)
    rooms.join(db, space_id, friend)
    with pytest.raises(Forbidden, match="Only people the host follows"):
        rooms.request_to_speak(db, space_id, fan)
    rooms.request_to_speak(db, space_id, friend)
    assert requests(db, space_id) == ["friend"]


def test_invited_policy_nobody_may_request_and_invited_people_accept(db, make_user):
    host, friend, guest = make_user("host"), make_user("friend"), make_user("guest")
    follows.follow(db, host["id"], friend["id"])
    space_id = rooms.create(db, host, "Show", "", "invited")["id"]
    rooms.join(db, space_id, friend)
    rooms.join(db, space_id, guest)
    for who in (friend, guest):
        with pytest.raises(Forbidden, match="Only people the host invites"):
            rooms.request_to_speak(db, space_id, who)
    rooms.invite(db, space_id, host, guest["id"])
    with pytest.raises(Forbidden, match="Only people the host invites"):
        rooms.request_to_speak(db, space_id, guest)
    rooms.accept_invite(db, space_id, guest)
    assert role(db, space_id, guest) == "speaker"
    assert role(db, space_id, friend) == "listener"


# Approve and deny -------------------------------------------------------------------------------


@pytest.fixture
def asked(db, room):
    """The room, where ann has asked to speak: (space id, host, ann)."""
    space_id, people = room
    rooms.request_to_speak(db, space_id, people["ann"])
    return space_id, people["host"], people["ann"]


def test_approve_puts_the_requester_on_stage_and_tells_them(db, asked):
    space_id, host, ann = asked
    event = rooms.approve(db, space_id, host, ann["id"])
    assert role(db, space_id, ann) == "speaker"
    assert stage(db, space_id) == ["host", "ann"]
    assert "ann" not in listeners(db, space_id)
    assert requests(db, space_id) == []
    assert not mic_of(db, space_id, ann), "a new speaker starts with the mic off"
    assert {"stage", "listeners", "requests"} <= event.sections
    assert ann["id"] in event.users
    assert event.notices == ((ann["id"], "You are now a speaker."),)
    assert event.removed == frozenset()


def test_deny_keeps_the_listener_and_tells_them(db, asked):
    space_id, host, ann = asked
    event = rooms.deny(db, space_id, host, ann["id"])
    assert role(db, space_id, ann) == "listener"
    assert requests(db, space_id) == []
    assert "requests" in event.sections
    assert ann["id"] in event.users
    assert event.notices == ((ann["id"], "The host declined your request to speak."),)
    # They may ask again.
    rooms.request_to_speak(db, space_id, ann)
    assert requests(db, space_id) == ["ann"]


@pytest.mark.parametrize("action", [rooms.approve, rooms.deny])
def test_approve_or_deny_without_a_request(db, room, action):
    space_id, people = room
    with pytest.raises(Forbidden, match="no such request"):
        action(db, space_id, people["host"], people["ann"]["id"])
    assert role(db, space_id, people["ann"]) == "listener"


@pytest.mark.parametrize("action", [rooms.approve, rooms.deny])
def test_only_the_host_approves_or_denies(db, room, action):
    space_id, people = room
    rooms.make_speaker(db, space_id, people["host"], people["ben"]["id"])
    rooms.request_to_speak(db, space_id, people["ann"])
    for who in ("ben", "cat"):
        with pytest.raises(Forbidden, match="Only the host"):
            action(db, space_id, people[who], people["ann"]["id"])
    assert requests(db, space_id) == ["ann"]
    assert role(db, space_id, people["ann"]) == "listener"


def test_approve_unknown_person(db, room):
    space_id, people = room
    with pytest.raises(NotFound):
        rooms.approve(db, space_id, people["host"], 9999)


# Make speaker, invite ---------------------------------------------------------------------------


def test_make_speaker_without_a_request(db, room):
    space_id, people = room
    event = rooms.make_speaker(db, space_id, people["host"], people["cat"]["id"])
    assert role(db, space_id, people["cat"]) == "speaker"
    assert event.notices == ((people["cat"]["id"], "You are now a speaker."),)
    assert "stage" in event.sections


def refused(db, action, space_id: int, cases: list[tuple[dict, int, str]]) -> None:
    """Each (actor, target id, why) is refused with Forbidden saying why."""
    for actor, target_id, why in cases:
        with pytest.raises(Forbidden, match=why):
            action(db, space_id, actor, target_id)


def test_make_speaker_refusals(db, room, make_user):
    space_id, people = room
    host, ann = people["host"], people["ann"]
    rooms.make_speaker(db, space_id, host, ann["id"])
    cases = [
        (host, ann["id"], "already on stage"),
        (host, make_user("outsider")["id"], "not in the Space"),
        (host, host["id"], "yourself"),
        (ann, people["ben"]["id"], "Only the host"),
    ]
    refused(db, rooms.make_speaker, space_id, cases)
    assert stage(db, space_id) == ["host", "ann"]


def test_invite_a_listener_who_then_accepts(db, room):
    space_id, people = room
    ann = people["ann"]
    event = rooms.invite(db, space_id, people["host"], ann["id"])
    assert event.notices == ((ann["id"], "The host invited you to speak."),)
    assert ann["id"] in event.users
    assert "listeners" in event.sections
    invited = {r["username"]: r["invited"] for r in rooms.presence(db, space_id)["listeners"]}
    assert invited == {"ann": True, "ben": False, "cat": False}
    assert role(db, space_id, ann) == "listener", "an invitation is not a role yet"
    event = rooms.accept_invite(db, space_id, ann)
    assert role(db, space_id, ann) == "speaker"
    assert event.notices == ((ann["id"], "You are now a speaker."),)
    assert {"stage", "listeners"} <= event.sections
    assert dbm.scalar(db, "SELECT COUNT(*) FROM space_invites") == 0


@pytest.mark.parametrize("speaker_policy", ["everyone", "following", "invited"])
def test_invited_person_who_joins_becomes_a_speaker(db, make_user, speaker_policy):
    host, guest = make_user("host"), make_user("guest")
    space_id = rooms.create(db, host, "Show", "", speaker_policy)["id"]
    rooms.invite(db, space_id, host, guest["id"])  # by DM: they are not in the room yet
    event = rooms.join(db, space_id, guest)
    assert role(db, space_id, guest) == "speaker"
    assert stage(db, space_id) == ["host", "guest"]
    assert event.notices == ((guest["id"], "You are now a speaker."),)
    assert "stage" in event.sections


def test_accept_invite_without_an_invitation(db, room):
    space_id, people = room
    with pytest.raises(Forbidden, match="no invitation"):
        rooms.accept_invite(db, space_id, people["ann"])
    assert role(db, space_id, people["ann"]) == "listener"


def test_invite_refusals(db, room, make_user):
    space_id, people = room
    host = people["host"]
    rooms.make_speaker(db, space_id, host, people["ann"]["id"])
    with pytest.raises(Forbidden, match="already on stage"):
        rooms.invite(db, space_id, host, people["ann"]["id"])
    with pytest.raises(Forbidden, match="Only the host"):
        rooms.invite(db, space_id, people["ann"], people["ben"]["id"])
    rooms.remove(db, space_id, host, people["cat"]["id"])
    with pytest.raises(Forbidden, match="cannot join this Space"):
        rooms.invite(db, space_id, host, people["cat"]["id"])
    troll = make_user("troll")
    blocks.block(db, host["id"], troll["id"])
    with pytest.raises(Forbidden, match="cannot join this Space"):
        rooms.invite(db, space_id, host, troll["id"])
    with pytest.raises(NotFound):
        rooms.invite(db, space_id, host, 9999)
    assert dbm.scalar(db, "SELECT COUNT(*) FROM space_invites") == 0


# Move to listeners, stop speaking, microphones --------------------------------------------------


@pytest.fixture
def on_air(db, room):
    """The room, with ann on stage and her microphone on: (space id, host, ann)."""
    space_id, people = room
    rooms.make_speaker(db, space_id, people["host"], people["ann"]["id"])
    rooms.set_mic(db, space_id, people["ann"], True)
    return space_id, people["host"], people["ann"]


def test_host_moves_a_speaker_to_listeners(db, on_air):
    space_id, host, ann = on_air
    event = rooms.move_to_listeners(db, space_id, host, ann["id"])
    assert role(db, space_id, ann) == "listener"
    assert not mic_of(db, space_id, ann)
    assert stage(db, space_id) == ["host"]
    assert {"stage", "listeners"} <= event.sections
    assert event.notices == ((ann["id"], "The host moved you to listeners."),)


def test_move_to_listeners_refusals(db, room):
    space_id, people = room
    host, ann, ben = people["host"], people["ann"], people["ben"]
    rooms.make_speaker(db, space_id, host, ann["id"])
    cases = [
        (host, ben["id"], "not a speaker"),
        (ben, ann["id"], "Only the host"),
        (host, host["id"], "yourself"),
    ]
    refused(db, rooms.move_to_listeners, space_id, cases)
    assert stage(db, space_id) == ["host", "ann"]


def test_speaker_stops_speaking_and_may_ask_again(db, on_air):
    space_id, host, ann = on_air
    event = rooms.stop_speaking(db, space_id, ann)
    assert role(db, space_id, ann) == "listener"
    assert not mic_of(db, space_id, ann)
    assert "stage" in event.sections
    assert event.notices == ((ann["id"], "You are now a listener."),)
    rooms.request_to_speak(db, space_id, ann)
    assert requests(db, space_id) == ["ann"]


@pytest.mark.parametrize("who", ["host", "ann"])
def test_only_speakers_stop_speaking(db, room, who):
    space_id, people = room
    with pytest.raises(Forbidden, match="Only speakers"):
        rooms.stop_speaking(db, space_id, people[who])
    assert role(db, space_id, people["host"]) == "host"


def test_microphone_on_and_off(db, room):
    space_id, people = room
    ann = people["ann"]
    rooms.make_speaker(db, space_id, people["host"], ann["id"])
    assert not mic_of(db, space_id, ann)
    event = rooms.set_mic(db, space_id, ann, True)
    assert mic_of(db, space_id, ann)
    assert "stage" in event.sections
    assert event.users == {ann["id"]}
    assert [r["mic_on"] for r in rooms.presence(db, space_id)["speakers"]] == [1]
    rooms.set_mic(db, space_id, ann, False)
    assert not mic_of(db, space_id, ann)
    rooms.set_mic(db, space_id, people["host"], True)
    assert mic_of(db, space_id, people["host"])


def test_listeners_have_no_microphone(db, room):
    space_id, people = room
    with pytest.raises(Forbidden, match="Only speakers can use the microphone"):
        rooms.set_mic(db, space_id, people["ann"], True)
    assert not mic_of(db, space_id, people["ann"])


def test_host_mutes_a_speaker(db, on_air):
    space_id, host, ann = on_air
    event = rooms.mute(db, space_id, host, ann["id"])
    assert not mic_of(db, space_id, ann)
    assert role(db, space_id, ann) == "speaker", "muting keeps them on stage"
    assert "stage" in event.sections
    assert event.notices == ((ann["id"], "The host muted your microphone."),)
    with pytest.raises(Forbidden, match="microphone is off"):
        rooms.mute(db, space_id, host, ann["id"])


def test_speakers_cannot_mute_the_host(db, room):
    space_id, people = room
    rooms.make_speaker(db, space_id, people["host"], people["ann"]["id"])
    rooms.set_mic(db, space_id, people["host"], True)
    with pytest.raises(Forbidden, match="Only the host"):
        rooms.mute(db, space_id, people["ann"], people["host"]["id"])
    assert mic_of(db, space_id, people["host"])


# Remove -----------------------------------------------------------------------------------------


def test_remove_a_listener_who_cannot_rejoin(db, room):
    space_id, people = room
    ben = people["ben"]
    rooms.request_to_speak(db, space_id, ben)
    event = rooms.remove(db, space_id, people["host"], ben["id"])
    assert event.removed == {ben["id"]}
    assert {"listeners", "requests"} <= event.sections
    assert role(db, space_id, ben) is None
    assert listeners(db, space_id) == ["ann", "cat"]
    assert requests(db, space_id) == []
    with pytest.raises(Forbidden, match="The host removed you from this Space"):
        rooms.join(db, space_id, ben)
    assert role(db, space_id, ben) is None


def test_remove_a_speaker(db, on_air):
    space_id, host, ann = on_air
    event = rooms.remove(db, space_id, host, ann["id"])
    assert event.removed == {ann["id"]}
    assert "stage" in event.sections
    assert stage(db, space_id) == ["host"]
    assert not mic_of(db, space_id, ann)


def test_removal_cancels_an_invitation(db, room):
    space_id, people = room
    rooms.invite(db, space_id, people["host"], people["ann"]["id"])
    rooms.remove(db, space_id, people["host"], people["ann"]["id"])
    assert dbm.scalar(db, "SELECT COUNT(*) FROM space_invites") == 0
    with pytest.raises(Forbidden, match="removed you"):
        rooms.join(db, space_id, people["ann"])


def test_remove_refusals(db, room, make_user):
    space_id, people = room
    rooms.make_speaker(db, space_id, people["host"], people["ann"]["id"])
    with pytest.raises(Forbidden, match="Only the host"):
        rooms.remove(db, space_id, people["ann"], people["ben"]["id"])
    with pytest.raises(Forbidden, match="Only the host"):
        rooms.remove(db, space_id, people["ann"], people["host"]["id"])
    with pytest.raises(Forbidden, match="not in the Space"):
        rooms.remove(db, space_id, people["host"], make_user("outsider")["id"])
    with pytest.raises(Forbidden, match="yourself"):
        rooms.remove(db, space_id, people["host"], people["host"]["id"])
    assert dbm.scalar(db, "SELECT COUNT(*) FROM space_removals") == 0
    assert listeners(db, space_id) == ["ben", "cat"]


def test_removal_is_for_this_space_only(db, room):
    space_id, people = room
    host, ben = people["host"], people["ben"]
    rooms.remove(db, space_id, host, ben["id"])
    rooms.end(db, space_id, host)
    next_id = rooms.create(db, host, "Next show", "", "everyone")["id"]
    rooms.join(db, next_id, ben)
    assert role(db, next_id, ben) == "listener"


# Block ------------------------------------------------------------------------------------------


def test_host_block_removes_blocks_the_account_and_keeps_them_out(db, room):
    space_id, people = room
    host, ben = people["host"], people["ben"]
    follows.follow(db, ben["id"], host["id"])
    follows.follow(db, host["id"], ben["id"])
    event = rooms.block(db, space_id, host, ben["id"])
    assert event.removed == {ben["id"]}
    assert "listeners" in event.sections
    assert role(db, space_id, ben) is None
    assert blocks.has_blocked(db, host["id"], ben["id"])
    assert not follows.is_following(db, ben["id"], host["id"])
    assert not follows.is_following(db, host["id"], ben["id"])
    with pytest.raises(Forbidden, match="The host removed you from this Space"):
        rooms.join(db, space_id, ben)
    # Not this Space only: every Space of this host.
    rooms.end(db, space_id, host)
    next_id = rooms.create(db, host, "Next", "", "everyone")["id"]
    with pytest.raises(Forbidden, match="cannot open or join their Spaces"):
        rooms.join(db, next_id, ben)


def test_host_block_of_a_speaker_takes_them_off_stage(db, room):
    space_id, people = room
    rooms.make_speaker(db, space_id, people["host"], people["ann"]["id"])
    event = rooms.block(db, space_id, people["host"], people["ann"]["id"])
    assert event.removed == {people["ann"]["id"]}
    assert "stage" in event.sections
    assert stage(db, space_id) == ["host"]


def test_speaker_block_is_an_account_block_only(db, room):
    space_id, people = room
    ann, ben = people["ann"], people["ben"]
    rooms.make_speaker(db, space_id, people["host"], ann["id"])
    follows.follow(db, ben["id"], ann["id"])
    event = rooms.block(db, space_id, ann, ben["id"])
    assert blocks.has_blocked(db, ann["id"], ben["id"])
    assert not follows.is_following(db, ben["id"], ann["id"])
    assert event.removed == frozenset()
    assert event.users == {ann["id"]}
    assert role(db, space_id, ben) == "listener", "only the host's block removes"
    assert dbm.scalar(db, "SELECT COUNT(*) FROM space_removals") == 0


def test_listeners_block_from_the_room_as_an_account_block(db, room):
    space_id, people = room
    ann, ben = people["ann"], people["ben"]
    event = rooms.block(db, space_id, ann, ben["id"])
    assert blocks.has_blocked(db, ann["id"], ben["id"])
    assert event.removed == frozenset() and event.users == {ann["id"]}
    assert role(db, space_id, ben) == "listener"


def test_host_allows_a_removed_person_back(db, room):
    space_id, people = room
    host, ann, ben = people["host"], people["ann"], people["ben"]
    rooms.remove(db, space_id, host, ann["id"])
    assert [p["username"] for p in rooms.removed_people(db, space_id)] == ["ann"]
    with pytest.raises(Forbidden, match="Only the host"):
        rooms.allow_back(db, space_id, ben, ann["id"])
    with pytest.raises(Forbidden, match="were not removed"):
        rooms.allow_back(db, space_id, host, ben["id"])
    event = rooms.allow_back(db, space_id, host, ann["id"])
    assert "requests" in event.sections
    assert rooms.removed_people(db, space_id) == []
    rooms.join(db, space_id, ann)
    assert role(db, space_id, ann) == "listener"


def test_a_person_the_host_blocked_is_let_back_only_by_unblocking(db, room):
    space_id, people = room
    host, cat = people["host"], people["cat"]
    rooms.block(db, space_id, host, cat["id"])
    [listed] = rooms.removed_people(db, space_id)
    assert listed["username"] == "cat" and listed["blocked"]
    with pytest.raises(Forbidden, match="unblock them on their profile first"):
        rooms.allow_back(db, space_id, host, cat["id"])


def test_block_on_the_profile_by_the_host_removes_from_the_live_space(db, room, make_user):
    space_id, people = room
    host, cat = people["host"], people["cat"]
    blocks.block(db, host["id"], cat["id"])
    [event] = rooms.after_account_block(db, host["id"], cat["id"])
    assert event.space_id == space_id
    assert event.removed == {cat["id"]}
    assert role(db, space_id, cat) is None
    # Someone not in the Space, or a blocker who hosts nothing: nothing to do.
    outsider = make_user("outsider")
    blocks.block(db, host["id"], outsider["id"])
    assert rooms.after_account_block(db, host["id"], outsider["id"]) == []
    blocks.block(db, people["ann"]["id"], people["ben"]["id"])
    assert rooms.after_account_block(db, people["ann"]["id"], people["ben"]["id"]) == []
    assert role(db, space_id, people["ben"]) == "listener"


def test_person_blocked_by_the_host_cannot_join(db, make_user):
    host, troll = make_user("host"), make_user("troll")
    blocks.block(db, host["id"], troll["id"])
    space_id = rooms.create(db, host, "Show", "", "everyone")["id"]
    with pytest.raises(Forbidden, match="cannot open or join their Spaces"):
        rooms.join(db, space_id, troll)
    assert rooms.presence(db, space_id)["listener_count"] == 0


def test_person_who_blocked_the_host_may_still_join(db, make_user):
    """The rule keeps out people the host blocked; the reverse is the listener's own choice."""
    host, ann = make_user("host"), make_user("ann")
    blocks.block(db, ann["id"], host["id"])
    space_id = rooms.create(db, host, "Show", "", "everyone")["id"]
    rooms.join(db, space_id, ann)
    assert role(db, space_id, ann) == "listener"


# Ending -----------------------------------------------------------------------------------------


def test_host_ends_the_space(db, room, clock):
    space_id, people = room
    rooms.make_speaker(db, space_id, people["host"], people["ann"]["id"])
    rooms.request_to_speak(db, space_id, people["ben"])
    clock.advance(60)
    event = rooms.end(db, space_id, people["host"])
    assert event.kind == "ended"
    assert event.sections == {"ended"}
    space = rooms.get(db, space_id)
    assert space["ended_at"] == clock.now()
    assert space["ended_reason"] == "host"
    assert rooms.present_user_ids(db, space_id) == []
    assert rooms.live_space_of(db, people["host"]["id"]) is None
    assert space_id not in rooms.live_space_ids(db)


def test_nothing_can_be_done_in_an_ended_space(db, room, make_user):
    space_id, people = room
    host, ann, ben, cat = people["host"], people["ann"], people["ben"], people["cat"]
    rooms.make_speaker(db, space_id, host, ann["id"])
    rooms.invite(db, space_id, host, cat["id"])
    rooms.end(db, space_id, host)
    attempts = {
        "join": lambda: rooms.join(db, space_id, ben),
        "join (newcomer)": lambda: rooms.join(db, space_id, make_user("late")),
        "host rejoins": lambda: rooms.join(db, space_id, host),
        "request": lambda: rooms.request_to_speak(db, space_id, ben),
        "cancel": lambda: rooms.cancel_request(db, space_id, ben),
        "accept invite": lambda: rooms.accept_invite(db, space_id, cat),
        "approve": lambda: rooms.approve(db, space_id, host, ben["id"]),
        "deny": lambda: rooms.deny(db, space_id, host, ben["id"]),
        "make speaker": lambda: rooms.make_speaker(db, space_id, host, ben["id"]),
        "invite": lambda: rooms.invite(db, space_id, host, ben["id"]),
        "move": lambda: rooms.move_to_listeners(db, space_id, host, ann["id"]),
        "stop": lambda: rooms.stop_speaking(db, space_id, ann),
        "mic": lambda: rooms.set_mic(db, space_id, ann, True),
        "host mic": lambda: rooms.set_mic(db, space_id, host, True),
        "mute": lambda: rooms.mute(db, space_id, host, ann["id"]),
        "remove": lambda: rooms.remove(db, space_id, host, ben["id"]),
        "block": lambda: rooms.block(db, space_id, host, ben["id"]),
        "edit": lambda: rooms.edit(db, space_id, host, "New", ""),
        "policy": lambda: rooms.set_policy(db, space_id, host, "invited"),
        "end": lambda: rooms.end(db, space_id, host),
    }
    for name, attempt in attempts.items():
        with pytest.raises(Forbidden, match="This Space has ended") as exc:
            attempt()
        assert exc.value.status == 403, name
    assert rooms.leave(db, space_id, ann["id"]) is None
    assert rooms.present_user_ids(db, space_id) == []
    assert rooms.get(db, space_id)["title"] == "Morning show"
    assert not blocks.has_blocked(db, host["id"], ben["id"])


def test_ended_space_is_viewable_only_by_host_and_admins(db, room, make_user):
    space_id, people = room
    admin = accounts.make_admin(db, make_user("admin")["username"])
    stranger = make_user("stranger")
    rooms.end(db, space_id, people["host"])
    space = rooms.get(db, space_id)

    def may_view(user):
        return policy.can(rooms.actor(db, space, user), "view", space)

    assert may_view(people["host"])
    assert may_view(admin)
    assert not may_view(people["ann"])
    assert not may_view(stranger)
    assert not may_view(None)
    assert policy.why(rooms.actor(db, space, stranger), "view", space) == "This Space has ended."


@pytest.mark.parametrize("who", ["ann", "ben"])
def test_only_the_host_ends(db, room, who):
    space_id, people = room
    rooms.make_speaker(db, space_id, people["host"], people["ann"]["id"])
    with pytest.raises(Forbidden, match="Only the host"):
        rooms.end(db, space_id, people[who])
    assert rooms.get(db, space_id)["ended_at"] is None


def test_admin_ends_for_violation_but_not_as_host(db, room, make_user):
    space_id, people = room
    admin = accounts.make_admin(db, make_user("admin")["username"])
    with pytest.raises(Forbidden):
        rooms.end(db, space_id, admin)
    with pytest.raises(Forbidden, match="Only admins"):
        rooms.end(db, space_id, people["host"], reason="violation")
    event = rooms.end(db, space_id, admin, reason="violation")
    assert event.extra == {"reason": "violation"}
    assert rooms.get(db, space_id)["ended_reason"] == "violation"


def test_system_end_after_a_restart(db, room):
    space_id, _ = room
    rooms.end(db, space_id, None, reason="restart")
    assert rooms.get(db, space_id)["ended_reason"] == "restart"
    with pytest.raises(Conflict, match="already ended"):
        rooms.end(db, space_id, None, reason="restart")


# Speaker policy changes -------------------------------------------------------------------------


def test_set_policy_tells_every_page(db, room):
    space_id, people = room
    event = rooms.set_policy(db, space_id, people["host"], "following")
    assert rooms.get(db, space_id)["speaker_policy"] == "following"
    assert {"meta", "requests"} <= event.sections
    assert event.users == {p["id"] for p in people.values()}


@pytest.fixture
def two_ask(db, room):
    """The room, where the host follows ann, and ann and ben (whom the host does not follow)
    have asked to speak."""
    space_id, people = room
    follows.follow(db, people["host"]["id"], people["ann"]["id"])
    rooms.request_to_speak(db, space_id, people["ann"])
    rooms.request_to_speak(db, space_id, people["ben"])
    return room


def test_policy_to_following_withdraws_requests_of_people_the_host_does_not_follow(db, two_ask):
    space_id, people = two_ask
    rooms.set_policy(db, space_id, people["host"], "following")
    assert requests(db, space_id) == ["ann"]
    with pytest.raises(Forbidden, match="Only people the host follows"):
        rooms.request_to_speak(db, space_id, people["ben"])
    with pytest.raises(Forbidden, match="no such request"):
        rooms.approve(db, space_id, people["host"], people["ben"]["id"])


def test_policy_to_invited_withdraws_every_request(db, two_ask):
    space_id, people = two_ask
    rooms.set_policy(db, space_id, people["host"], "invited")
    assert requests(db, space_id) == []
    with pytest.raises(Forbidden, match="Only people the host invites"):
        rooms.request_to_speak(db, space_id, people["ann"])


def test_policy_back_to_everyone_keeps_requests_and_allows_new_ones(db, room):
    space_id, people = room
    follows.follow(db, people["host"]["id"], people["ann"]["id"])
    rooms.set_policy(db, space_id, people["host"], "following")
    rooms.request_to_speak(db, space_id, people["ann"])
    rooms.set_policy(db, space_id, people["host"], "everyone")
    assert requests(db, space_id) == ["ann"]
    rooms.request_to_speak(db, space_id, people["ben"])
    assert requests(db, space_id) == ["ann", "ben"]


def test_policy_change_keeps_speakers_on_stage(db, room):
    space_id, people = room
    rooms.make_speaker(db, space_id, people["host"], people["ann"]["id"])
    rooms.set_policy(db, space_id, people["host"], "invited")
    assert stage(db, space_id) == ["host", "ann"]


def test_set_policy_refusals(db, room):
    space_id, people = room
    with pytest.raises(Invalid) as exc:
        rooms.set_policy(db, space_id, people["host"], "nobody")
    assert exc.value.field == "speaker_policy"
    with pytest.raises(Forbidden, match="Only the host"):
        rooms.set_policy(db, space_id, people["ann"], "invited")
    assert rooms.get(db, space_id)["speaker_policy"] == "everyone"


# Live now ---------------------------------------------------------------------------------------


def live_titles(db, viewer: dict) -> list[str]:
    return [s["title"] for s in rooms.live_now(db, viewer["id"])]


def test_live_now_shows_spaces_hosted_by_people_you_follow(db, room, make_user):
    space_id, people = room
    fan, nobody = make_user("fan"), make_user("nobody")
    follows.follow(db, fan["id"], people["host"]["id"])
    rooms.make_speaker(db, space_id, people["host"], people["ann"]["id"])
    [card] = rooms.live_now(db, fan["id"])
    assert card["id"] == space_id
    assert card["title"] == "Morning show"
    assert card["host_username"] == "host"
    assert card["listener_count"] == 2
    assert [s["username"] for s in card["speakers"]] == ["ann"]
    assert rooms.live_now(db, nobody["id"]) == []


def test_live_now_shows_spaces_where_someone_you_follow_speaks(db, room, make_user):
    space_id, people = room
    fan = make_user("fan")
    follows.follow(db, fan["id"], people["ann"]["id"])
    assert live_titles(db, fan) == [], "ann only listens"
    rooms.make_speaker(db, space_id, people["host"], people["ann"]["id"])
    assert live_titles(db, fan) == ["Morning show"]
    rooms.move_to_listeners(db, space_id, people["host"], people["ann"]["id"])
    assert live_titles(db, fan) == []


def test_live_now_hides_ended_spaces(db, room, make_user):
    space_id, people = room
    fan = make_user("fan")
    follows.follow(db, fan["id"], people["host"]["id"])
    rooms.end(db, space_id, people["host"])
    assert rooms.live_now(db, fan["id"]) == []


def test_live_now_hides_spaces_of_hosts_who_blocked_you(db, room, make_user):
    space_id, people = room
    fan = make_user("fan")
    follows.follow(db, fan["id"], people["ann"]["id"])
    rooms.make_speaker(db, space_id, people["host"], people["ann"]["id"])
    assert live_titles(db, fan) == ["Morning show"]
    blocks.block(db, people["host"]["id"], fan["id"])
    assert live_titles(db, fan) == []


def test_live_now_newest_first(db, make_user, clock):
    fan = make_user("fan")
    for name in ("first", "second"):
        host = make_user(name)
        follows.follow(db, fan["id"], host["id"])
        rooms.create(db, host, name.title(), "", "everyone")
        clock.advance(5)
    assert live_titles(db, fan) == ["Second", "First"]


# Reports and settings ---------------------------------------------------------------------------


def test_reporting_a_space_and_a_person_stores_them_for_admins(db, room, clock):
    space_id, people = room
    ann = people["ann"]
    on_space = reports.create(db, ann["id"], "spam", "  Selling things  ", space_id=space_id)
    on_person = reports.create(
        db, ann["id"], "abuse", "", space_id=space_id, account_id=people["ben"]["id"]
    )
    assert on_space["space_id"] == space_id
    assert on_space["reason"] == "spam"
    assert on_space["details"] == "Selling things"
    assert on_space["state"] == "open"
    assert on_space["created_at"] == clock.now()
    assert on_person["account_id"] == people["ben"]["id"]
    mine = reports.by_reporter(db, ann["id"])
    assert [(r["space_title"], r["account_username"]) for r in mine] == [
        ("Morning show", "ben"),
        ("Morning show", None),
    ]


def test_report_reasons_are_the_seven_of_the_form():
    assert list(reports.REASONS.values()) == [
        "Spam",
        "Abuse or harassment",
        "Hateful conduct",
        "Violent speech",
        "Private information",
        "Sensitive media",
        "Other",
    ]


@pytest.mark.parametrize(
    ("reason", "details", "subject", "field"),
    [
        ("", "", "space", "reason"),
        ("rude", "", "space", "reason"),
        ("spam", "d" * 1001, "space", "details"),
        ("spam", "", None, None),
    ],
)
def test_bad_reports_are_refused(db, room, reason, details, subject, field):
    space_id, people = room
    target = {"space_id": space_id} if subject == "space" else {}
    with pytest.raises(Invalid) as exc:
        reports.create(db, people["ann"]["id"], reason, details, **target)
    assert exc.value.field == field
    assert dbm.scalar(db, "SELECT COUNT(*) FROM reports") == 0


def test_settings_change_reaches_the_live_spaces_the_person_is_in(db, room, make_user):
    space_id, people = room
    [event] = rooms.after_settings_change(db, people["ann"]["id"])
    assert event.space_id == space_id
    assert event.users == {people["ann"]["id"]}
    assert {"stage", "listeners"} <= event.sections
    assert rooms.after_settings_change(db, make_user("elsewhere")["id"]) == []
    rooms.end(db, space_id, people["host"])
    assert rooms.after_settings_change(db, people["ann"]["id"]) == []


# The speaker cap --------------------------------------------------------------------------------


def fill_stage(db, space_id: int, host: dict, make_user) -> list[dict]:
    speakers = [make_user(f"speaker{n}") for n in range(policy.SPEAKER_CAP - 1)]
    for person in speakers:
        rooms.join(db, space_id, person)
        rooms.make_speaker(db, space_id, host, person["id"])
    assert len(stage(db, space_id)) == 11
    return speakers


def test_eleven_on_stage_at_most(db, room, make_user):
    space_id, people = room
    host, ann = people["host"], people["ann"]
    fill_stage(db, space_id, host, make_user)
    rooms.request_to_speak(db, space_id, ann)
    with pytest.raises(Conflict, match="already has 11 people speaking"):
        rooms.approve(db, space_id, host, ann["id"])
    assert requests(db, space_id) == ["ann"], "a refused approval keeps the request"
    with pytest.raises(Conflict):
        rooms.make_speaker(db, space_id, host, people["ben"]["id"])
    rooms.invite(db, space_id, host, people["cat"]["id"])
    with pytest.raises(Conflict):
        rooms.accept_invite(db, space_id, people["cat"])
    assert role(db, space_id, people["cat"]) == "listener"
    assert len(stage(db, space_id)) == 11
    # A seat frees up when a speaker stops.
    rooms.stop_speaking(db, space_id, stage_member(db, space_id))
    rooms.accept_invite(db, space_id, people["cat"])
    assert len(stage(db, space_id)) == 11


def stage_member(db, space_id: int) -> dict:
    first_speaker = rooms.presence(db, space_id)["speakers"][0]
    return accounts.get(db, first_speaker["user_id"])


def test_invited_person_joining_a_full_stage_listens_and_keeps_the_invitation(db, make_user):
    host, guest = make_user("host"), make_user("guest")
    space_id = rooms.create(db, host, "Show", "", "everyone")["id"]
    rooms.invite(db, space_id, host, guest["id"])
    fill_stage(db, space_id, host, make_user)
    event = rooms.join(db, space_id, guest)
    assert role(db, space_id, guest) == "listener"
    assert event.notices == ()
    assert rooms.actor(db, rooms.get(db, space_id), guest).invited


def test_the_hosts_seat_is_kept_while_the_host_is_away(db, make_user):
    """Invited people joining while the host is away must not take the host's seat."""
    host = make_user("host")
    space_id = rooms.create(db, host, "Show", "", "everyone")["id"]
    guests = [make_user(f"guest{n}") for n in range(policy.SPEAKER_CAP)]
    for guest in guests:
        rooms.invite(db, space_id, host, guest["id"])
    rooms.leave(db, space_id, host["id"])
    for guest in guests:
        rooms.join(db, space_id, guest)
    rooms.join(db, space_id, host)
    assert role(db, space_id, host) == "host"
    assert len(stage(db, space_id)) == policy.SPEAKER_CAP
    assert [role(db, space_id, g) for g in guests].count("listener") == 1


def _sign_up_many(path, count: int) -> list[dict]:
    database = dbm.connect(path)
    migrations.apply(database)
    people = [accounts.sign_up(database, f"p{n}", "correct horse") for n in range(count)]
    database.conn.close()
    return people


def _copy_database(source, target) -> None:
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


@pytest.fixture
def eager_thread_switching():
    """Switch threads far more often than usual, so unguarded check-then-write code interleaves
    (and the threads waiting for the write lock get their turn sooner)."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


def _grant_at_once(path, space_id: int, host: dict, crowd: list[dict], grant: str) -> list:
    """Every person in the crowd is granted the stage by its own thread and connection, at once.
    Returns "granted" or the Conflict raised, per person."""
    barrier = threading.Barrier(len(crowd))

    def grant_one(index: int, person: dict):
        if grant == "make_speaker" or (grant == "mixed" and index % 2):
            action = rooms.make_speaker
        else:
            action = rooms.approve
        connection = dbm.connect(path)  # each thread its own connection
        # A short pause before each write widens any gap between the cap check and the write.
        connection.conn.set_trace_callback(
            lambda sql: time.sleep(0.001) if sql.startswith("UPDATE") else None
        )
        try:
            barrier.wait(timeout=30)
            action(connection, space_id, host, person["id"])
            return "granted"
        except Conflict as exc:
            return exc
        finally:
            connection.conn.close()

    with ThreadPoolExecutor(max_workers=len(crowd)) as pool:
        return list(pool.map(grant_one, range(len(crowd)), crowd))


@pytest.mark.usefixtures("eager_thread_switching")
@pytest.mark.parametrize("grant", ["make_speaker", "approve", "mixed"])
def test_forty_simultaneous_grants_end_with_exactly_eleven_on_stage(tmp_path, grant):
    """The cap holds across connections: 40 threads, each with its own connection, grant at once.
    Three rounds, each on a fresh database file, make a lucky pass unlikely."""
    template = tmp_path / "template.db"
    people = _sign_up_many(template, 41)
    host, crowd = people[0], people[1:]
    for n in range(3):
        path = tmp_path / f"race{n}.db"
        _copy_database(template, path)
        setup = dbm.connect(path)
        space_id = rooms.create(setup, host, f"Race {n}", "", "everyone")["id"]
        for person in crowd:
            rooms.join(setup, space_id, person)
        if grant != "make_speaker":
            for person in crowd:
                rooms.request_to_speak(setup, space_id, person)

        results = _grant_at_once(path, space_id, host, crowd, grant)

        granted = [r for r in results if r == "granted"]
        refused = [r for r in results if isinstance(r, Conflict)]
        assert len(granted) == 10, f"round {n}: {results}"
        assert len(refused) == 30, f"round {n}: {results}"
        assert all("already has 11 people speaking" in r.message for r in refused)
        on_stage = dbm.scalar(
            setup,
            "SELECT COUNT(*) FROM participants WHERE space_id = ? AND present = 1"
            " AND role IN ('host', 'speaker')",
            (space_id,),
        )
        assert on_stage == 11, f"round {n}"
        presence = rooms.presence(setup, space_id)
        assert len(presence["host"]) == 1
        assert len(presence["speakers"]) == 10
        assert presence["listener_count"] == 30
        setup.conn.close()


def test_a_space_whose_host_stays_away_is_abandoned_after_the_limit(db, make_user, clock):
    host, other_host = make_user("walkedoff"), make_user("stillhere")
    gone = rooms.create(db, host, "Left open", "", "everyone")
    kept = rooms.create(db, other_host, "Hosted", "", "everyone")
    rooms.leave(db, gone["id"], host["id"])  # the host's page closed past the grace period
    clock.advance(599)
    assert rooms.abandoned(db, 600) == []
    clock.advance(2)
    assert rooms.abandoned(db, 600) == [gone["id"]]
    rooms.join(db, gone["id"], host)  # back just in time: nothing to end
    clock.advance(3600)
    assert rooms.abandoned(db, 600) == []
    assert kept["id"] not in rooms.abandoned(db, 0)
