"""Where the core sends each audio socket and room page's live socket (spaces/edge/addresses.py,
views/edge_address.py), and the verdicts it publishes for listeners on edges
(spaces/edge/verdicts.py)."""

import json
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from spaces import accounts, grants, guests
from spaces import db as dbm
from spaces.edge.verdicts import verdicts
from spaces.events import RoomEvent
from testkit.app import Browser, Client

EDGES = "ws://edge-a.example:5101, ws://edge-b.example:5102/"


@pytest.fixture
def edge_app(make_app):
    return make_app(EDGE_URLS=EDGES)


def open_room(host: Browser) -> int:
    response = host.post(
        "/spaces/new",
        data={"title": "Edges", "description": "", "speaker_policy": "everyone"},
        htmx=False,
    )
    return int(response.headers["Location"].rsplit("/", 1)[1])


def user_id(app, name: str) -> int:
    return accounts.by_username(dbm.connect(app.config["DATABASE"]), name)["id"]


def addresses(who: Browser, space_id: int, socket: str = "audio") -> tuple[int, list[str]]:
    response = who.get(f"/spaces/{space_id}/{socket}-address")
    urls = json.loads(response.data)["urls"] if response.status_code == 200 else []
    return response.status_code, urls


def test_a_listener_is_sent_to_every_edge_with_a_grant_and_a_speaker_to_the_core(edge_app):
    host, listener = Browser(edge_app, "host"), Browser(edge_app, "listener")
    space_id = open_room(host)
    listener.post(f"/spaces/{space_id}/join")
    status, urls = addresses(listener, space_id)
    assert status == 200
    bases = {url.split("/spaces/")[0] for url in urls}
    assert bases == {"ws://edge-a.example:5101", "ws://edge-b.example:5102"}
    token = unquote(parse_qs(urlsplit(urls[0]).query)["grant"][0])
    grant = grants.check(edge_app.config["SECRET_KEY"], token, space_id)
    assert (grant.user_id, grant.role) == (user_id(edge_app, "listener"), "listener")
    assert addresses(host, space_id) == (200, [])  # the host speaks: the core's own socket
    status, live = addresses(listener, space_id, "live")  # the room page's socket, alike
    assert status == 200 and [url.split("?")[0] for url in live] == [
        url.replace("/audio?", "/live?").split("?")[0] for url in urls
    ]
    assert addresses(host, space_id, "live") == (200, [])
    page = listener.get(f"/spaces/{space_id}").data.decode()
    assert f'data-audio-address="/spaces/{space_id}/audio-address"' in page
    assert f'data-live-address="/spaces/{space_id}/live-address"' in page
    csp = listener.get(f"/spaces/{space_id}").headers["Content-Security-Policy"]
    assert "connect-src 'self' ws://edge-a.example:5101 ws://edge-b.example:5102" in csp


def test_without_edges_everyone_uses_the_core_and_the_page_says_nothing(app):
    host, listener = Browser(app, "host"), Browser(app, "listener")
    space_id = open_room(host)
    listener.post(f"/spaces/{space_id}/join")
    assert addresses(listener, space_id) == (200, [])
    assert addresses(listener, space_id, "live") == (200, [])
    page = listener.get(f"/spaces/{space_id}").data.decode()
    assert "data-audio-address" not in page and "data-live-address" not in page


def test_only_people_in_a_live_space_get_an_address(edge_app):
    host, outsider = Browser(edge_app, "host"), Browser(edge_app, "outsider")
    space_id = open_room(host)
    for socket in ("audio", "live"):
        assert addresses(outsider, space_id, socket)[0] == 403  # not in the Space
        signed_out = edge_app.test_client().get(f"/spaces/{space_id}/{socket}-address")
        assert signed_out.status_code == 401
    host.post(f"/spaces/{space_id}/end")
    assert addresses(host, space_id)[0] == 410
    assert addresses(host, space_id, "live")[0] == 410


def test_who_is_sent_where_by_role(edge_app):
    """The live address as the audio address: `policy.can(who, "leave")` (present in the Space)
    to ask at all; edges only for listeners (a requester is one), the core for the stage."""
    host = Browser(edge_app, "host")
    space_id = open_room(host)
    people = {name: Browser(edge_app, name) for name in ("listener", "requester", "speaker")}
    people |= {name: Browser(edge_app, name) for name in ("removed", "blocked", "left")}
    for person in people.values():
        person.post(f"/spaces/{space_id}/join")
    ids = {name: user_id(edge_app, name) for name in people}
    people["requester"].post(f"/spaces/{space_id}/request")
    host.post(f"/spaces/{space_id}/people/{ids['speaker']}/make-speaker")
    host.post(f"/spaces/{space_id}/people/{ids['removed']}/remove")
    host.post(f"/spaces/{space_id}/people/{ids['blocked']}/block")
    people["left"].post(f"/spaces/{space_id}/leave")
    expected = {
        "listener": "edges",
        "requester": "edges",
        "speaker": "core",
        "removed": 403,
        "blocked": 403,
        "left": 403,
    }
    for socket in ("audio", "live"):
        found = {}
        for name, person in people.items():
            status, urls = addresses(person, space_id, socket)
            found[name] = status if status != 200 else ("edges" if urls else "core")
        assert found == expected, socket
    assert addresses(host, space_id, "live") == (200, [])


def test_verdicts_name_who_must_leave_an_edge_and_how(edge_app):
    host = Browser(edge_app, "host")
    people = {name: Browser(edge_app, name) for name in ("stays", "asks", "promoted", "gone")}
    space_id = open_room(host)
    for person in people.values():
        person.post(f"/spaces/{space_id}/join")
    ids = {name: user_id(edge_app, name) for name in people}
    people["asks"].post(f"/spaces/{space_id}/request")
    host.post(f"/spaces/{space_id}/people/{ids['promoted']}/make-speaker")
    people["gone"].post(f"/spaces/{space_id}/leave")
    db = dbm.connect(edge_app.config["DATABASE"])
    event = RoomEvent(
        space_id,
        users=frozenset({ids["stays"], ids["asks"], ids["promoted"]}),
        left=frozenset({ids["gone"]}),
        removed=frozenset({ids["stays"]}),
    )
    found = {v["user_id"]: (v["code"], v["reason"]) for v in verdicts(db, event)}
    assert found == {
        ids["stays"]: (4403, "removed"),
        ids["promoted"]: (1012, "moved to the core"),
        ids["gone"]: (4404, "left"),
    }  # "asks" only asked to speak: still a listener, on the edge
    ended = verdicts(db, RoomEvent(space_id, kind="ended"))
    assert ended == [{"space_id": space_id, "user_id": None, "code": 4410, "reason": "ended"}]


def test_a_guest_listens_from_the_core(edge_app):
    """A guest has no account for a grant to name: their page names no address and their audio
    socket is the core's; a room event naming a guest's id calls for no verdict."""
    host, tab = Browser(edge_app, "host"), Client(edge_app)
    space_id = open_room(host)
    tab.get(f"/spaces/{space_id}")
    assert tab.post(f"/spaces/{space_id}/listen").status_code == 200
    page = tab.get(f"/spaces/{space_id}").data.decode()
    assert "Leave" in page and "data-audio-address" not in page
    assert "data-live-address" not in page
    assert tab.get(f"/spaces/{space_id}/audio-address").status_code == 401
    assert tab.get(f"/spaces/{space_id}/live-address").status_code == 401
    db = dbm.connect(edge_app.config["DATABASE"])
    guest = guests.connection_id(1)
    event = RoomEvent(space_id, users=frozenset({guest}), left=frozenset({guest}))
    assert verdicts(db, event) == []
