"""Co-hosts over HTTP (issue 17): the host's `Make co-host` / `Remove co-host`, what a co-host's
page shows and lets them do, and the room's count of places taken on stage."""

import pytest
from test_views_rooms import Room, oob_sections, refused, share_by_dm, thread

from spaces import db as dbm
from testkit.html_query import parse


@pytest.fixture
def room(app, browser):
    """alice hosts; ann, ben and cat listen."""
    room = Room(app, browser("alice"))
    room.people = {name: browser(name) for name in ("ann", "ben", "cat")}
    room.join(*room.people.values())
    return room


def item(page, section: str, person):
    return page.by_id(section).find("li", data_user_id=str(person.user["id"]))


def cohost_names(room) -> list[str]:
    rows = dbm.all_rows(
        room.db(),
        "SELECT u.username FROM participants p JOIN users u ON u.id = p.user_id"
        " WHERE p.space_id = ? AND p.cohost = 1 ORDER BY u.username",
        (room.id,),
    )
    return [r["username"] for r in rows]


def test_only_the_host_sees_make_cohost(room):
    ann = room.people["ann"]
    room.on(room.host, ann, "make-speaker")
    host_page = room.page(room.host)
    assert "Make co-host" in item(host_page, "listeners", room.people["ben"]).buttons()
    assert "Make co-host" in item(host_page, "stage", ann).buttons()
    for who in (ann, room.people["ben"]):
        assert "Make co-host" not in room.page(who).buttons()


def test_make_cohost_lists_them_with_the_host_marked_co_host(room):
    ann = room.people["ann"]
    response = room.on(room.host, ann, "make-cohost")
    assert response.status_code == 200
    sections = oob_sections(response)
    assert sections["status"].text.strip() == "ann is now a co-host."
    stage = parse(response.data).by_id("stage")
    assert stage is not None
    page = room.page(room.host)
    assert page.usernames("host-heading") == ["alice", "ann"]
    assert page.usernames("speakers-heading") == []
    ann_item = item(page, "stage", ann)
    assert "Co-host" in ann_item.text
    assert {"Remove co-host", "Move to listeners", "Remove"} <= set(ann_item.buttons())
    assert "Make co-host" not in ann_item.buttons()
    assert cohost_names(room) == ["ann"]
    assert room.role(ann) == "speaker"


def test_a_cohost_page_has_the_host_controls_but_not_end_or_who_can_speak(room):
    ann, ben = room.people["ann"], room.people["ben"]
    room.on(room.host, ann, "make-cohost")
    room.act(ben, "request")
    page = room.page(ann)
    assert "You are a co-host." in page.by_id("my-controls").text
    assert page.by_id("requests-heading").text == "Requests"
    assert "Approve" in page.by_id("requests").buttons()
    meta = page.by_id("space-meta")
    assert "Edit" in meta.buttons() and "End Space" not in meta.buttons()
    assert page.by_id("edit-dialog") is not None and page.by_id("end-dialog") is None
    assert meta.find("fieldset") is None, "who can speak stays the host's"
    assert {"Make speaker", "Remove"} <= set(item(page, "listeners", room.people["cat"]).buttons())
    host_item = item(page, "stage", room.host)
    assert "Remove" not in host_item.buttons() and "Block" in host_item.buttons()
    assert "Make co-host" not in page.buttons()
    # A listener sees none of it.
    listener = room.page(room.people["cat"])
    assert "Approve" not in listener.buttons() and "Edit" not in listener.buttons()
    assert listener.by_id("edit-dialog") is None


def test_a_cohost_approves_edits_and_is_refused_end_and_policy(room):
    ann, ben = room.people["ann"], room.people["ben"]
    room.on(room.host, ann, "make-cohost")
    room.act(ben, "request")
    assert room.on(ann, ben, "approve").status_code == 200
    assert room.role(ben) == "speaker"
    assert room.act(ann, "edit", {"title": "Run by ann", "description": ""}).status_code == 200
    assert room.space()["title"] == "Run by ann"
    refused(room.act(ann, "end"), 403, "Only the host can do that.")
    refused(room.act(ann, "policy", {"speaker_policy": "invited"}), 403, "Only the host")
    refused(room.on(ann, room.host, "remove"), 403, "No one can do that to the host.")
    refused(room.on(ann, ben, "make-cohost"), 403, "Only the host can do that.")
    assert room.space()["ended_at"] is None and room.space()["speaker_policy"] == "everyone"


def test_a_third_cohost_is_refused_with_the_reason(room):
    for name in ("ann", "ben"):
        assert room.on(room.host, room.people[name], "make-cohost").status_code == 200
    refused(room.on(room.host, room.people["cat"], "make-cohost"), 409, "at most 2 co-hosts")
    assert cohost_names(room) == ["ann", "ben"]
    assert room.role(room.people["cat"]) == "listener"


def test_remove_cohost_leaves_them_speaking(room):
    ann = room.people["ann"]
    room.on(room.host, ann, "make-cohost")
    assert room.on(room.host, ann, "remove-cohost").status_code == 200
    page = room.page(room.host)
    assert page.usernames("host-heading") == ["alice"]
    assert page.usernames("speakers-heading") == ["ann"]
    assert "Co-host" not in item(page, "stage", ann).text
    assert "Approve" not in room.page(ann).buttons()


@pytest.mark.parametrize("way", ["stop-speaking", "leave"])
def test_a_cohost_stepping_down_loses_the_host_controls_on_their_own_page(room, way):
    ann, ben = room.people["ann"], room.people["ben"]
    room.on(room.host, ann, "make-cohost")
    room.act(ben, "request")
    response = room.act(ann, way)
    sections = oob_sections(response)
    assert "Approve" not in sections["requests"].buttons()
    assert "Edit" not in sections["space-meta"].buttons()
    assert cohost_names(room) == []


def test_the_room_says_how_many_places_on_stage_are_taken(room):
    ann, ben = room.people["ann"], room.people["ben"]
    assert "1 of 11 places on stage taken" in room.page(ben).by_id("stage").text
    room.on(room.host, ann, "make-cohost")
    response = room.on(room.host, ben, "make-speaker")
    assert "3 of 11 places on stage taken" in oob_sections(response)["stage"].text
    room.act(room.host, "leave")  # the host away keeps their seat
    assert "3 of 11 places on stage taken" in room.page(room.people["cat"]).by_id("stage").text


def test_a_cohost_invites_by_message_to_the_host_s_space(room, browser):
    ann, dora = room.people["ann"], browser("dora")
    room.on(room.host, ann, "make-cohost")
    assert room.page(ann).by_id("share-invite") is not None
    form = {"usernames": "dora", "invite_to_speak": "on"}
    assert "Sent to dora." in share_by_dm(room, ann, form)
    assert "ann invites you to speak in alice's Space" in thread(dora, "ann").text
    room.join(dora)
    assert room.role(dora) == "speaker"
