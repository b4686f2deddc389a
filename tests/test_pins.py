"""A post pinned to a live Space (spaces/pins.py): who may pin what, and what the room shows."""

import pytest

from spaces import pins, posts, rooms
from spaces.errors import Forbidden, NotFound


@pytest.fixture
def live(db, make_user):
    """A host live in a Space with a listener in it, and a post by each."""
    host, listener = make_user("hana", display_name="Hana H"), make_user("leo")
    space = rooms.create(db, host, "Pins", "", "everyone")
    rooms.join(db, space["id"], listener)
    return {
        "db": db,
        "space": space["id"],
        "host": host,
        "listener": listener,
        "host_post": posts.create(db, host["id"], "Questions for the panel, please"),
        "listener_post": posts.create(db, listener["id"], "A listener's thought"),
    }


def pinned_body(live) -> str | None:
    found = pins.pinned(live["db"], live["space"])
    return found and found["body"]


def test_the_host_pins_their_own_post_and_the_room_is_told(live):
    event = pins.pin(live["db"], live["space"], live["host"], live["host_post"]["id"])
    assert event.space_id == live["space"] and event.sections == {"pinned"}
    found = pins.pinned(live["db"], live["space"])
    assert found["body"] == "Questions for the panel, please"
    assert (found["username"], found["display_name"]) == ("hana", "Hana H")


def test_pinning_another_post_replaces_the_pin_and_unpin_clears_it(live):
    db, space, host = live["db"], live["space"], live["host"]
    pins.pin(db, space, host, live["host_post"]["id"])
    newer = posts.create(db, host["id"], "Next topic: gardens")
    pins.pin(db, space, host, newer["id"])
    assert pinned_body(live) == "Next topic: gardens"
    assert db.execute("SELECT COUNT(*) FROM space_pins").fetchone()[0] == 1
    assert pins.unpin(db, space, host).sections == {"pinned"}
    assert pinned_body(live) is None


def test_only_ones_own_post_can_be_pinned(live):
    with pytest.raises(Forbidden) as refused:
        pins.pin(live["db"], live["space"], live["host"], live["listener_post"]["id"])
    assert refused.value.message == pins.NOT_YOURS
    with pytest.raises(NotFound):
        pins.pin(live["db"], live["space"], live["host"], 9999)
    assert pinned_body(live) is None


def test_a_listener_can_neither_pin_nor_unpin(live):
    db, space = live["db"], live["space"]
    with pytest.raises(Forbidden, match="Only the host or a co-host can pin a post."):
        pins.pin(db, space, live["listener"], live["listener_post"]["id"])
    pins.pin(db, space, live["host"], live["host_post"]["id"])
    with pytest.raises(Forbidden, match="Only the host or a co-host can pin a post."):
        pins.unpin(db, space, live["listener"])
    assert pinned_body(live) == "Questions for the panel, please"


def test_nothing_is_pinned_to_an_ended_space(live):
    db, space = live["db"], live["space"]
    rooms.end(db, space, live["host"])
    with pytest.raises(Forbidden, match="This Space has ended."):
        pins.pin(db, space, live["host"], live["host_post"]["id"])


def test_a_deleted_post_is_unpinned(live):
    db = live["db"]
    pins.pin(db, live["space"], live["host"], live["host_post"]["id"])
    db.execute("DELETE FROM posts WHERE id = ?", (live["host_post"]["id"],))
    assert pinned_body(live) is None
    assert db.execute("SELECT COUNT(*) FROM space_pins").fetchone()[0] == 0


def test_pin_target_is_the_space_a_person_hosts_now(live, make_user):
    db = live["db"]
    assert pins.pin_target(db, live["host"])["id"] == live["space"]
    assert pins.pin_target(db, live["listener"]) is None
    assert pins.pin_target(db, make_user("outsider")) is None
    assert pins.pin_target(db, None) is None
    rooms.end(db, live["space"], live["host"])
    assert pins.pin_target(db, live["host"]) is None
