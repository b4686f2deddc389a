"""Co-hosts at the domain level (issue 17): who may be made one, how many, their seat on stage,
what they may do and to whom, how co-hosting ends, and running the room while the host is away."""

import pytest

from spaces import blocks, cohosts, notifications, policy, rooms
from spaces import db as dbm
from spaces.errors import Conflict, Forbidden


@pytest.fixture
def room(db, make_user):
    """A live Space with a host and four listeners."""
    host = make_user("host")
    space = rooms.create(db, host, "Morning show", "", "everyone")
    people = {"host": host}
    for name in ("ann", "ben", "cat", "dan"):
        people[name] = make_user(name)
        rooms.join(db, space["id"], people[name])
    return space["id"], people


def rows(db, space_id: int) -> dict[str, tuple]:
    """Present people by username: (role, co-host)."""
    found = dbm.all_rows(
        db,
        "SELECT u.username, p.role, p.cohost FROM participants p JOIN users u ON u.id = p.user_id"
        " WHERE p.space_id = ? AND p.present = 1",
        (space_id,),
    )
    return {r["username"]: (r["role"], bool(r["cohost"])) for r in found}


def host_list(db, space_id: int) -> list[str]:
    """The room's `Host` list: the host, then the co-hosts."""
    p = rooms.presence(db, space_id)
    return [r["username"] for r in p["host"] + [s for s in p["speakers"] if s["cohost"]]]


# Making and unmaking -----------------------------------------------------------------------------


def test_a_listener_made_cohost_comes_on_stage_and_is_told(db, room):
    space_id, people = room
    ann = people["ann"]
    rooms.request_to_speak(db, space_id, ann)
    event = cohosts.make_cohost(db, space_id, people["host"], ann["id"])
    assert rows(db, space_id)["ann"] == ("speaker", True)
    assert host_list(db, space_id) == ["host", "ann"]
    assert rooms.presence(db, space_id)["requests"] == []  # her request is answered
    assert event.users == {ann["id"]}
    assert event.notices == ((ann["id"], "The host made you a co-host."),)
    assert {"meta", "stage", "listeners", "requests"} <= event.sections
    assert rooms.actor(db, rooms.get(db, space_id), ann).runs_room


def test_a_speaker_made_cohost_stays_on_stage_and_unmade_stays_a_speaker(db, room):
    space_id, people = room
    host, ben = people["host"], people["ben"]
    rooms.make_speaker(db, space_id, host, ben["id"])
    rooms.set_mic(db, space_id, ben, True)
    cohosts.make_cohost(db, space_id, host, ben["id"])
    assert rows(db, space_id)["ben"] == ("speaker", True)
    assert rooms.actor(db, rooms.get(db, space_id), ben).mic_on, "their microphone stays on"
    event = cohosts.remove_cohost(db, space_id, host, ben["id"])
    assert rows(db, space_id)["ben"] == ("speaker", False)
    assert event.notices == ((ben["id"], "The host made you a speaker instead of a co-host."),)


def test_two_cohosts_at_most(db, room):
    space_id, people = room
    host = people["host"]
    cohosts.make_cohost(db, space_id, host, people["ann"]["id"])
    cohosts.make_cohost(db, space_id, host, people["ben"]["id"])
    with pytest.raises(Conflict, match="at most 2 co-hosts"):
        cohosts.make_cohost(db, space_id, host, people["cat"]["id"])
    assert rows(db, space_id)["cat"] == ("listener", False), "a refusal changes nothing"
    cohosts.remove_cohost(db, space_id, host, people["ann"]["id"])
    cohosts.make_cohost(db, space_id, host, people["cat"]["id"])
    assert host_list(db, space_id) == ["host", "ben", "cat"]


def test_cohosts_hold_seats_on_stage_and_a_full_stage_takes_no_new_cohost(db, room, make_user):
    space_id, people = room
    host = people["host"]
    cohosts.make_cohost(db, space_id, host, people["ann"]["id"])
    assert rooms.presence(db, space_id)["places_taken"] == 2
    for n in range(policy.SPEAKER_CAP - 2):  # 11 with the host and ann
        person = make_user(f"speaker{n}")
        rooms.join(db, space_id, person)
        rooms.make_speaker(db, space_id, host, person["id"])
    assert rooms.presence(db, space_id)["places_taken"] == policy.SPEAKER_CAP
    with pytest.raises(Conflict, match="already has 11 people speaking"):
        cohosts.make_cohost(db, space_id, host, people["ben"]["id"])
    assert rows(db, space_id)["ben"] == ("listener", False)
    with pytest.raises(Conflict):  # and a co-host brings no one up past the cap either
        rooms.make_speaker(db, space_id, people["ann"], people["cat"]["id"])


def test_only_the_host_makes_or_unmakes_cohosts(db, room):
    space_id, people = room
    host, ann, ben = people["host"], people["ann"], people["ben"]
    cohosts.make_cohost(db, space_id, host, ann["id"])
    with pytest.raises(Forbidden, match="Only the host"):
        cohosts.make_cohost(db, space_id, ann, ben["id"])
    rooms.make_speaker(db, space_id, host, ben["id"])
    with pytest.raises(Forbidden, match="Only the host"):
        cohosts.make_cohost(db, space_id, ben, people["cat"]["id"])
    with pytest.raises(Forbidden, match="Only the host"):
        cohosts.remove_cohost(db, space_id, ben, ann["id"])
    assert rows(db, space_id)["ann"] == ("speaker", True)


# What a co-host does ---------------------------------------------------------------------------


def test_a_cohost_runs_people_and_requests_as_the_host_does(db, room, make_user):
    space_id, people = room
    host, ann, ben, cat, dan = (people[n] for n in ("host", "ann", "ben", "cat", "dan"))
    cohosts.make_cohost(db, space_id, host, ann["id"])
    rooms.request_to_speak(db, space_id, ben)
    rooms.approve(db, space_id, ann, ben["id"])
    rooms.request_to_speak(db, space_id, cat)
    rooms.deny(db, space_id, ann, cat["id"])
    rooms.set_mic(db, space_id, ben, True)
    rooms.mute(db, space_id, ann, ben["id"])
    rooms.move_to_listeners(db, space_id, ann, ben["id"])
    rooms.make_speaker(db, space_id, ann, cat["id"])
    rooms.invite(db, space_id, ann, ben["id"])
    rooms.remove(db, space_id, ann, dan["id"])
    assert rows(db, space_id) == {
        "host": ("host", False),
        "ann": ("speaker", True),
        "ben": ("listener", False),
        "cat": ("speaker", False),
    }
    assert rooms.actor(db, rooms.get(db, space_id), ben).invited
    rooms.allow_back(db, space_id, ann, dan["id"])
    rooms.join(db, space_id, dan)
    rooms.edit(db, space_id, ann, "Renamed by a co-host", "")
    assert rooms.get(db, space_id)["title"] == "Renamed by a co-host"


def test_what_a_cohost_did_is_said_to_be_a_cohost_s_doing(db, room):
    space_id, people = room
    host, ann, ben, cat = (people[n] for n in ("host", "ann", "ben", "cat"))
    cohosts.make_cohost(db, space_id, host, ann["id"])
    rooms.request_to_speak(db, space_id, ben)
    said = [rooms.deny(db, space_id, ann, ben["id"]).notices]
    said.append(rooms.invite(db, space_id, ann, ben["id"]).notices)
    rooms.make_speaker(db, space_id, ann, cat["id"])
    rooms.set_mic(db, space_id, cat, True)
    said.append(rooms.mute(db, space_id, ann, cat["id"]).notices)
    said.append(rooms.move_to_listeners(db, space_id, ann, cat["id"]).notices)
    assert said == [
        ((ben["id"], "A co-host declined your request to speak."),),
        ((ben["id"], "A co-host invited you to speak."),),
        ((cat["id"], "A co-host muted your microphone."),),
        ((cat["id"], "A co-host moved you to listeners."),),
    ]


def test_a_cohost_cannot_end_change_who_speaks_or_act_on_the_host_or_a_cohost(db, room):
    space_id, people = room
    host, ann, ben = people["host"], people["ann"], people["ben"]
    cohosts.make_cohost(db, space_id, host, ann["id"])
    cohosts.make_cohost(db, space_id, host, ben["id"])
    rooms.set_mic(db, space_id, host, True)
    rooms.set_mic(db, space_id, ben, True)
    refused = [
        lambda: rooms.end(db, space_id, ann),
        lambda: rooms.set_policy(db, space_id, ann, "invited"),
        lambda: rooms.mute(db, space_id, ann, host["id"]),
        lambda: rooms.remove(db, space_id, ann, host["id"]),
        lambda: rooms.mute(db, space_id, ann, ben["id"]),
        lambda: rooms.move_to_listeners(db, space_id, ann, ben["id"]),
        lambda: rooms.remove(db, space_id, ann, ben["id"]),
    ]
    for attempt in refused:
        with pytest.raises(Forbidden):
            attempt()
    space = rooms.get(db, space_id)
    assert space["ended_at"] is None and space["speaker_policy"] == "everyone"
    assert rows(db, space_id)["ben"] == ("speaker", True)
    assert rooms.actor(db, space, host).mic_on and rooms.actor(db, space, ben).mic_on
    # The host acts on co-hosts as on any speaker.
    rooms.mute(db, space_id, host, ben["id"])
    rooms.remove(db, space_id, host, ben["id"])
    assert "ben" not in rows(db, space_id)


# How co-hosting ends ---------------------------------------------------------------------------


@pytest.mark.parametrize("way", ["stop_speaking", "moved", "left", "removed", "ended"])
def test_leaving_the_stage_by_any_way_ends_cohosting(db, room, way):
    space_id, people = room
    host, ann = people["host"], people["ann"]
    cohosts.make_cohost(db, space_id, host, ann["id"])
    event = None
    if way == "stop_speaking":
        event = rooms.stop_speaking(db, space_id, ann)
    elif way == "moved":
        event = rooms.move_to_listeners(db, space_id, host, ann["id"])
    elif way == "left":
        rooms.leave(db, space_id, ann["id"])
    elif way == "removed":
        rooms.remove(db, space_id, host, ann["id"])
    else:
        rooms.end(db, space_id, host)
    assert cohosts.count(db, space_id) == 0
    if event is not None:  # her page loses the host's controls (Requests, Edit)
        assert {"meta", "requests"} <= event.sections
    if way in ("stop_speaking", "moved", "left"):
        if way == "left":
            rooms.join(db, space_id, ann)
        rooms.make_speaker(db, space_id, host, ann["id"])
        assert rows(db, space_id)["ann"] == ("speaker", False), "back on stage, not co-host"


def test_a_plain_speaker_stepping_down_does_not_touch_the_host_controls(db, room):
    space_id, people = room
    rooms.make_speaker(db, space_id, people["host"], people["ann"]["id"])
    event = rooms.stop_speaking(db, space_id, people["ann"])
    assert event.sections == {"stage", "listeners"}


# The host away ---------------------------------------------------------------------------------


def test_cohosts_run_the_room_while_the_host_is_away_and_it_still_ends_in_time(db, room, clock):
    space_id, people = room
    host, ann, ben = people["host"], people["ann"], people["ben"]
    cohosts.make_cohost(db, space_id, host, ann["id"])
    rooms.leave(db, space_id, host["id"])  # the host's connection dropped past the grace period
    assert host_list(db, space_id) == ["ann"]
    assert rooms.presence(db, space_id)["places_taken"] == 2, "the host keeps their seat"
    rooms.request_to_speak(db, space_id, ben)
    clock.advance(300)
    rooms.approve(db, space_id, ann, ben["id"])
    assert rows(db, space_id)["ben"] == ("speaker", False)
    assert rooms.abandoned(db, 600) == []
    clock.advance(301)
    # A present co-host does not keep the host's Space live without them: HOST_AWAY_MINUTES
    # after the host left, it ends as before (cohosts.py says why).
    assert rooms.abandoned(db, 600) == [space_id]
    rooms.join(db, space_id, host)  # back in time: the host takes over, the co-host stays
    assert rooms.abandoned(db, 600) == []
    assert host_list(db, space_id) == ["host", "ann"]


def test_a_cohost_cannot_invite_someone_who_blocked_the_host(db, room, make_user):
    """The invitation is to the host's Space: someone who blocked the host is neither invited nor
    notified, whoever of the room sends it (a co-host's own blocks are not the only ones)."""
    space_id, people = room
    host, ann = people["host"], people["ann"]
    cohosts.make_cohost(db, space_id, host, ann["id"])
    eve = make_user("eve")
    blocks.block(db, eve["id"], host["id"])
    with pytest.raises(Forbidden):
        rooms.invite(db, space_id, ann, eve["id"])
    assert notifications.recent(db, eve["id"]) == []
