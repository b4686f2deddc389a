"""The ways out of a Space (spaces/rooms.py) and the events that tell the sockets: leaving,
logging out, starting a Space of your own. Each event names who is out (`left`), which is what
closes their sockets (tests/test_live.py, test_audio_socket.py, test_authz_sockets.py show it).
Then the same through the views: logging out leaves every Space, and its events are published."""

import pytest

from spaces import db as dbm
from spaces import rooms
from spaces.events import RoomEvent
from testkit.app import Client


@pytest.fixture
def two_spaces(db, make_user):
    """Two live Spaces; `fan` listens in the first and speaks, microphone on, in the second."""
    hosts = [make_user("host1"), make_user("host2")]
    fan = make_user("fan")
    ids = [
        rooms.create(db, host, f"Show {i}", "", "everyone")["id"] for i, host in enumerate(hosts)
    ]
    for space_id in ids:
        rooms.join(db, space_id, fan)
    rooms.make_speaker(db, ids[1], hosts[1], fan["id"])
    rooms.set_mic(db, ids[1], fan, True)
    return ids, hosts, fan


def presence_of(db, user_id: int) -> list[tuple]:
    return dbm.all_rows(
        db,
        "SELECT space_id, role, present, mic_on FROM participants WHERE user_id = ? ORDER BY 1",
        (user_id,),
    )


def test_leaving_names_the_person_as_out_and_tells_them(db, two_spaces):
    (first, _), _, fan = two_spaces
    event = rooms.leave(db, first, fan["id"], "You left this Space.")
    assert event.left == {fan["id"]} and event.users == {fan["id"]}
    assert {"stage", "listeners", "requests"} <= event.sections
    assert event.notices == ((fan["id"], "You left this Space."),)
    assert rooms.leave(db, first, fan["id"]) is None  # not there any more: nothing to tell


def test_logging_out_leaves_every_space_with_the_microphone_off(db, two_spaces, make_user):
    ids, hosts, fan = two_spaces
    other = make_user("other")
    rooms.join(db, ids[0], other)
    ended = rooms.create(db, make_user("host3"), "Over", "", "everyone")["id"]
    rooms.join(db, ended, fan)
    rooms.end(db, ended, None)

    events = rooms.log_out(db, fan["id"])

    assert [e.space_id for e in events] == ids  # the ended Space is no one's to leave
    assert all(e.left == {fan["id"]} for e in events)
    assert all(e.notices == ((fan["id"], rooms.LOGGED_OUT),) for e in events)
    assert [r for r in presence_of(db, fan["id"]) if r["space_id"] in ids] == [
        {"space_id": ids[0], "role": "listener", "present": 0, "mic_on": 0},
        {"space_id": ids[1], "role": "listener", "present": 0, "mic_on": 0},
    ]
    assert rooms.spaces_present_in(db, other["id"]) == [ids[0]]  # nobody else moved
    assert rooms.log_out(db, fan["id"]) == []


def test_a_host_who_logs_out_stays_host_of_a_space_still_live(db, two_spaces):
    ids, hosts, _ = two_spaces
    (event,) = rooms.log_out(db, hosts[0]["id"])
    assert event.left == {hosts[0]["id"]}
    assert rooms.get(db, ids[0])["ended_at"] is None  # HOST_AWAY_MINUTES ends it, not logout
    assert presence_of(db, hosts[0]["id"])[0]["role"] == "host"


def test_departure_is_the_event_of_someone_no_longer_in_a_space():
    event = rooms.departure(7, 3, "You started a Space, so you left this one.")
    assert event == RoomEvent(
        7,
        frozenset({"stage", "listeners", "requests"}),
        frozenset({3}),
        ((3, "You started a Space, so you left this one."),),
        left=frozenset({3}),
    )


# Through the views ------------------------------------------------------------------------------


@pytest.fixture
def published(app):
    """Every room event the app publishes, in order."""
    events: list[RoomEvent] = []
    app.extensions["spaces_broker"].subscribe(events.append)
    return events


def test_logging_out_leaves_every_space_and_publishes_it(app, browser, published):
    alice, bob, fan = browser("alice"), browser("bob"), browser("fan")
    spaces = []
    for host in (alice, bob):
        response = host.post("/spaces/new", {"title": "Show", "speaker_policy": "everyone"})
        spaces.append(int(response.headers["Location"].rsplit("/", 1)[1]))
    for space_id in spaces:
        assert fan.post(f"/spaces/{space_id}/join").status_code == 200
    alice.post(f"/spaces/{spaces[0]}/people/{fan.user['id']}/make-speaker")
    assert fan.post(f"/spaces/{spaces[0]}/mic", {"on": "1"}).status_code == 200
    published.clear()

    response = fan.post("/logout", htmx=False)

    assert response.status_code == 302
    assert {e.space_id for e in published if fan.user["id"] in e.left} == set(spaces)
    db = dbm.connect(app.config["DATABASE"])
    assert rooms.spaces_present_in(db, fan.user["id"]) == []
    assert not rooms.actor(db, rooms.get(db, spaces[0]), fan.user).mic_on
    host_page = alice.get(f"/spaces/{spaces[0]}").get_data(as_text=True)
    assert "fan" not in host_page.split('id="stage"')[1].split("</section>")[0]


def test_logging_out_signed_out_changes_nothing(app, published):
    visitor = Client(app)
    visitor.get("/")
    assert visitor.post("/logout", htmx=False).status_code == 302
    assert published == []


def test_starting_a_space_publishes_that_you_left_the_one_you_were_in(app, browser, published):
    alice, fan = browser("alice"), browser("fan")
    response = alice.post("/spaces/new", {"title": "First", "speaker_policy": "everyone"})
    first = int(response.headers["Location"].rsplit("/", 1)[1])
    fan.post(f"/spaces/{first}/join")
    published.clear()
    response = fan.post("/spaces/new", {"title": "Mine", "speaker_policy": "everyone"})
    assert response.status_code == 302
    (left,) = [e for e in published if e.left]
    assert (left.space_id, left.left) == (first, {fan.user["id"]})
