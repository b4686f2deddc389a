"""Guest listeners over HTTP (issue 18): a visitor without an account sees a live Space
read-only, listens as a guest, reads captions, and can do nothing else; the host's `Allow
guests`. The sockets are in test_guests_live.py; every cell of the rules in test_authz_http.py."""

import pytest
from test_views_rooms import Room

from spaces import accounts
from spaces import db as dbm
from testkit.app import Client
from testkit.html_query import parse


@pytest.fixture
def room(app, browser):
    return Room(app, browser("alice"))


def visit(app, room) -> tuple[Client, object]:
    """A fresh browser tab with no account, on the Space's page."""
    tab = Client(app)
    response = tab.get(room.url)
    assert response.status_code == 200, response.status_code
    return tab, parse(response.data)


def allow_guests(room) -> int:
    return dbm.scalar(room.db(), "SELECT allow_guests FROM spaces WHERE id = ?", (room.id,))


def test_a_visitor_sees_the_room_read_only_with_listen_as_a_guest(room, browser, app):
    bob = browser("bob")
    room.join(bob)
    tab, page = visit(app, room)
    assert page.find("h1").text == "Morning chat"
    assert page.usernames("host-heading") == ["alice"]
    assert page.usernames("listeners-heading") == ["bob"]
    assert page.by_id("my-controls").buttons() == ["Listen as a guest"]
    links = page.by_id("my-controls").links()
    assert links["Log in"] == f"/login?next=/spaces/{room.id}"
    assert links["Sign up"] == f"/signup?next=/spaces/{room.id}"
    # Nothing to do to anyone, nothing to share or report, no socket until they listen.
    assert page.by_id("stage").buttons() == [] and page.by_id("listeners").buttons() == []
    assert "Report Space" not in page.buttons() and "Share" not in page.buttons()
    assert page.by_id("room-socket").get("ws-connect") is None


def test_listening_as_a_guest_opens_the_socket_and_shows_leave(room, app):
    tab, _ = visit(app, room)
    answer = parse(tab.post(f"{room.url}/listen").data)
    assert answer.by_id("room-socket").get("ws-connect").endswith(f"/spaces/{room.id}/live")
    assert answer.by_id("my-controls").buttons() == ["Leave"]
    assert "You are listening as a guest." in answer.by_id("status").text
    page = parse(tab.get(room.url).data)  # a reload keeps their place
    assert page.by_id("my-controls").buttons() == ["Leave"]
    assert "Request to speak" not in page.text
    answer = parse(tab.post(f"{room.url}/guest/leave").data)
    assert answer.by_id("my-controls").buttons() == ["Listen as a guest"]
    assert answer.by_id("room-socket").get("ws-connect") is None
    assert allow_guests(room) == 1  # and no row anywhere says a guest was here
    assert dbm.scalar(room.db(), "SELECT COUNT(*) FROM participants") == 1


def test_a_guest_turns_captions_on_and_off_in_their_session(room, app):
    tab, _ = visit(app, room)
    toggle = f"/spaces/{room.id}/guest/captions"
    assert tab.post(toggle, {"on": "1"}).status_code == 403  # listen first
    tab.post(f"{room.url}/listen")
    answer = parse(tab.post(toggle, {"on": "1"}).data)
    button = answer.find("button", **{"aria-pressed": "true"})
    assert button is not None and button.text.startswith("View captions")
    page = parse(tab.get(room.url).data)
    assert page.find("div", id="captions").get("role") == "log"
    assert page.find("form", action=toggle) is not None  # the guests' route, not the account's
    tab.post(toggle, {"on": "0"})
    assert parse(tab.get(room.url).data).by_id("captions") is None


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("join", None),
        ("request", None),
        ("mic", {"on": "1"}),
        ("captions-view", {"on": "1"}),
        ("share/post", None),
        ("leave", None),
    ],
)
def test_a_guest_cannot_act_as_an_account(room, app, path, data):
    tab, _ = visit(app, room)
    tab.post(f"{room.url}/listen")
    response = tab.post(f"{room.url}/{path}", data)
    assert response.status_code == 401 and response.headers["HX-Redirect"] == "/login"
    assert dbm.scalar(room.db(), "SELECT COUNT(*) FROM participants") == 1
    assert dbm.scalar(room.db(), "SELECT COUNT(*) FROM posts") == 0


def test_a_guest_cannot_report_or_act_on_people(room, browser, app):
    bob = browser("bob")
    room.join(bob)
    tab, _ = visit(app, room)
    tab.post(f"{room.url}/listen")
    report = {"account": "bob", "space": room.id, "reason": "spam"}
    assert "/login" in tab.post("/reports/new", report, htmx=False).headers["Location"]
    bob_id = bob.user["id"]
    for action in ("make-speaker", "remove", "block"):
        assert tab.post(f"{room.url}/people/{bob_id}/{action}").status_code == 401
    assert dbm.scalar(room.db(), "SELECT COUNT(*) FROM reports") == 0
    assert room.role(bob) == "listener"


def test_allow_guests_is_on_by_default_and_the_host_can_turn_it_off(room, browser, app):
    create = parse(browser("carol").get("/spaces/new").data)
    box = create.find("input", name="allow_guests")
    assert box is not None and box.get("checked") is not None
    assert create.find("label", **{"for": "allow-guests"}).text == "Allow guests"
    edit = parse(room.host.get(room.url).data).by_id("edit-dialog")
    assert edit.find("input", name="allow_guests").get("checked") is not None
    tab, _ = visit(app, room)
    tab.post(f"{room.url}/listen")
    data = {"title": "Morning chat", "description": "", "guests_shown": "1"}
    room.act(room.host, "edit", data)
    assert allow_guests(room) == 0
    response = tab.get(room.url)
    assert response.status_code == 401
    assert "The host is not allowing guests in this Space." in parse(response.data).text
    assert tab.post(f"{room.url}/listen").status_code == 403
    room.act(room.host, "edit", {**data, "allow_guests": "on"})
    assert allow_guests(room) == 1
    # A client that never shows the box (the terminal's edit) leaves it as it is.
    room.act(room.host, "edit", {"title": "Renamed", "description": ""})
    assert allow_guests(room) == 1


def test_a_space_started_without_guests(browser, app):
    carol = browser("carol")
    form = {"title": "Closed", "speaker_policy": "everyone", "guests_shown": "1"}
    response = carol.post("/spaces/new", data=form, htmx=False)
    assert response.status_code == 302
    closed = Client(app).get(response.headers["Location"])
    assert closed.status_code == 401 and b"Listen as a guest" not in closed.data


def test_no_guest_view_of_an_ended_space_and_none_for_people_signed_in(room, browser, app):
    dave = browser("dave")
    assert dave.post(f"{room.url}/listen").status_code == 403  # join as themselves
    tab, _ = visit(app, room)
    room.act(room.host, "end")
    response = tab.get(room.url)
    assert response.status_code == 410 and b"Listen as a guest" not in response.data
    assert tab.post(f"{room.url}/listen").status_code == 403


def test_signing_up_from_the_room_comes_back_to_it_as_an_account(room, app):
    tab, page = visit(app, room)
    tab.post(f"{room.url}/listen")
    signup = page.by_id("my-controls").links()["Sign up"]
    response = tab.fill(signup, {"username": "erin", "password": "correct horse battery"})
    assert response.status_code == 302 and response.headers["Location"] == room.url
    page = parse(tab.get(room.url).data)
    assert page.by_id("my-controls").buttons() == ["Join this Space"]  # no longer a guest
    assert accounts.by_username(room.db(), "erin")["username"] == "erin"
