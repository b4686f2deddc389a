"""room_render: one way a room becomes HTML, shared between viewers only where they see the same.

The hub pushes one frame to every viewer of a kind (`RoomRender.viewer_kind`); if that grouping
were wrong, someone would see another person's view: Block and Report on their own name, or a
host's buttons. These tests render the room for each person as if they were the only viewer and
check that everyone grouped with them sees exactly that.
"""

import pytest
from flask import g

from spaces import accounts, cohosts, rooms
from spaces.db import connect
from spaces.room_render import SECTION_TEMPLATES, RoomRender
from testkit.app import configured_app
from testkit.html_query import parse

SHOWN = 3  # listeners listed by name; the others are counted ("and 3 more")


@pytest.fixture(scope="module")
def space(tmp_path_factory):
    """A host, a co-host, a speaker, six listeners (one asked to speak), and a visitor who never
    joined.
    The tests only read it, so they share it."""
    app = configured_app(tmp_path_factory.mktemp("render"))
    db = connect(app.config["DATABASE"])
    people = {
        name: accounts.sign_up(db, name, "correct horse")
        for name in ("host", "speaker", "l1", "l2", "l3", "l4", "l5", "l6", "visitor", "co")
    }
    space = rooms.create(db, people["host"], "Render room", "", "everyone")
    for name in ("speaker", "l1", "l2", "l3", "l4", "l5", "l6"):
        rooms.join(db, space["id"], people[name])
    rooms.make_speaker(db, space["id"], people["host"], people["speaker"]["id"])
    rooms.request_to_speak(db, space["id"], people["l4"])
    rooms.join(db, space["id"], people["co"])
    cohosts.make_cohost(db, space["id"], people["host"], people["co"]["id"])
    return app, db, space["id"], {n: p["id"] for n, p in people.items()}


@pytest.fixture
def room(space):
    app, db, space_id, ids = space
    with app.test_request_context("/"):
        g.shared_render = True  # as the hub renders: no session, so no per-person form token
        yield db, rooms.get(db, space_id), ids


def alone(db, space, user_id: int) -> str:
    """The room as this person sees it when nobody else is rendered first."""
    return RoomRender(db, space, SHOWN).fragments(user_id)


def test_everyone_grouped_with_a_viewer_sees_exactly_what_that_viewer_sees(room):
    db, space, ids = room
    render = RoomRender(db, space, SHOWN)
    first_of_kind: dict[tuple, int] = {}
    for user_id in ids.values():
        kind = render.viewer_kind(user_id, SECTION_TEMPLATES)
        first = first_of_kind.setdefault(kind, user_id)
        assert alone(db, space, user_id) == alone(db, space, first)
        assert render.fragments(user_id) == alone(db, space, user_id)
    # Host, co-host, speaker and the three listed listeners each see their own item; of the
    # unlisted listeners, the one who asked to speak is listed under requests, and the other two
    # share.
    assert len(first_of_kind) == 9
    assert render.viewer_kind(ids["l5"], SECTION_TEMPLATES) == render.viewer_kind(
        ids["l6"], SECTION_TEMPLATES
    )


def test_a_listed_listener_sees_report_beside_others_but_not_beside_themselves(room):
    db, space, ids = room
    listeners = parse(RoomRender(db, space, SHOWN).fragments(ids["l1"])).by_id("listeners")
    items = {li.find("span", class_="username").text: li for li in listeners.find_all("li")}
    assert sorted(items) == ["l1", "l2", "l3"]
    assert "Report" not in items["l1"].loaders()
    assert "Report" in items["l2"].loaders()
    assert "and 3 more" in listeners.text


def test_the_page_shows_the_sections_in_place_and_pushes_swap_them(room):
    db, space, ids = room
    render = RoomRender(db, space, SHOWN)
    user = accounts.get(db, ids["l1"])
    page = render.page(user)["sections"]
    pushed = parse(render.fragments(ids["l1"], controls=user, captions=True))
    for name, html in page.items():
        if name == "socket":  # swapped only when someone joins or leaves (room_render.membership)
            continue
        element = parse(str(html)).find()
        assert element.get("hx-swap-oob") is None
        twin = pushed.by_id(element.get("id"))
        assert twin is not None and twin.get("hx-swap-oob") == "true"
        assert twin.text == element.text


def test_a_cohost_is_a_kind_of_viewer_apart_and_sees_the_host_controls(room):
    """Co-hosts (issue 17): a push of the Requests list must not share the host controls with
    speakers, nor leave them out for co-hosts."""
    db, space, ids = room
    render = RoomRender(db, space, SHOWN)
    kinds = {name: render.viewer_kind(ids[name], ("requests",)) for name in ("co", "speaker")}
    assert kinds["co"] != kinds["speaker"]
    shown = {
        name: parse(render.fragments(ids[name], ("requests",))).by_id("requests").buttons()
        for name in ("host", "co", "speaker", "l1")
    }
    assert shown["host"] == shown["co"] == ["Approve", "Deny"]
    assert shown["speaker"] == shown["l1"] == []
