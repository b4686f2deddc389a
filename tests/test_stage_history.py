"""Who was on stage, and when: turns follow the stage through every way on and off it."""

import pytest

from spaces import captions_store, rooms, stage_history
from spaces import db as dbm
from spaces.events import RoomEvent


@pytest.fixture
def scene(db, make_user, clock, tmp_path):
    host, ben, cat = make_user("host"), make_user("ben"), make_user("cat")
    space = rooms.create(db, host, "Morning show", "", "everyone")
    databases = dbm.ThreadLocalDatabases(tmp_path / "test.db")  # the `db` fixture's file
    return {
        "db": db,
        "databases": databases,
        "host": host,
        "ben": ben,
        "cat": cat,
        "id": space["id"],
        "clock": clock,
    }


def turns(scene) -> dict[str, list]:
    return {
        s["username"]: [(t["start"], t["end"]) for t in s["turns"]]
        for s in stage_history.speakers(scene["db"], scene["id"])
    }


def test_everyone_who_was_on_stage_is_listed_with_when_even_after_leaving_it(scene):
    db, sid, clock = scene["db"], scene["id"], scene["clock"]
    host, ben, cat = scene["host"], scene["ben"], scene["cat"]
    clock.advance(10)
    rooms.join(db, sid, ben)
    rooms.join(db, sid, cat)  # listens the whole time
    stage_history.record(db, sid)
    clock.advance(20)
    rooms.make_speaker(db, sid, host, ben["id"])
    stage_history.record(db, sid)
    clock.advance(60)
    rooms.move_to_listeners(db, sid, host, ben["id"])
    stage_history.record(db, sid)
    clock.advance(30)
    rooms.make_speaker(db, sid, host, ben["id"])
    stage_history.record(db, sid)
    clock.advance(15)
    rooms.leave(db, sid, ben["id"])
    stage_history.record(db, sid)
    assert turns(scene) == {"host": [(0.0, None)], "ben": [(30.0, 90.0), (120.0, 135.0)]}

    clock.advance(5)
    rooms.end(db, sid, host)
    stage_history.record(db, sid)
    assert turns(scene) == {"host": [(0.0, 140.0)], "ben": [(30.0, 90.0), (120.0, 135.0)]}


def test_a_space_ended_with_no_other_event_still_lists_its_host(scene):
    scene["clock"].advance(42)
    event = rooms.end(scene["db"], scene["id"], scene["host"])
    stage_history.on_event(scene["databases"], event)
    assert turns(scene) == {"host": [(0.0, 42.0)]}


def test_the_host_away_and_back_is_two_turns(scene):
    db, sid, clock = scene["db"], scene["id"], scene["clock"]
    stage_history.record(db, sid)
    clock.advance(10)
    rooms.leave(db, sid, scene["host"]["id"])
    stage_history.record(db, sid)
    clock.advance(5)
    rooms.join(db, sid, scene["host"])
    stage_history.record(db, sid)
    assert turns(scene) == {"host": [(0.0, 10.0), (15.0, None)]}


def test_listeners_coming_and_going_write_nothing(scene):
    db, sid = scene["db"], scene["id"]
    stage_history.record(db, sid)
    changes = db.conn.total_changes
    for person in (scene["ben"], scene["cat"]):
        rooms.join(db, sid, person)
        stage_history.record(db, sid)
        rooms.leave(db, sid, person["id"])
        stage_history.record(db, sid)
    rows = db.execute("SELECT COUNT(*) FROM stage_turns").fetchone()[0]
    assert rows == 1
    # Only the joins and leaves themselves wrote (the record looked and wrote nothing).
    assert db.conn.total_changes - changes == 4


def test_only_events_that_can_change_the_stage_are_looked_at(scene):
    databases, sid = scene["databases"], scene["id"]
    stage_history.on_event(databases, RoomEvent(sid, frozenset({"meta"})))
    stage_history.on_event(databases, RoomEvent(sid, frozenset({"requests"})))
    assert turns(scene) == {}
    stage_history.on_event(databases, RoomEvent(sid, frozenset({"stage", "listeners"})))
    assert turns(scene) == {"host": [(0.0, None)]}


def test_someone_captioned_without_a_recorded_turn_is_still_listed(scene):
    db, sid = scene["db"], scene["id"]
    captions_store.store_final(db, sid, scene["cat"]["id"], 1.0, 2.0, "Spoken before records")
    assert turns(scene) == {"cat": []}
