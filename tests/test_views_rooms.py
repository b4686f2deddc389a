"""Room actions over HTTP: what each role sees, every action and its refusal, htmx fragments,
ending, sharing and reporting."""

import re

import pytest

from spaces import accounts, reports
from spaces import db as dbm
from spaces.policy import BLOCKED
from testkit.app import Browser
from testkit.html_query import field_error, field_value, parse

POLICY_LABELS = ["Everyone", "People you follow", "Only people you invite"]


class Room:
    """A live Space hosted by `host`, with helpers to act in it and read it back."""

    def __init__(
        self, app, host, title="Morning chat", description="Coffee talk", policy="everyone"
    ):
        self.app = app
        self.host = host
        response = host.post(
            "/spaces/new",
            data={"title": title, "description": description, "speaker_policy": policy},
            htmx=False,
        )
        assert response.status_code == 302, response.data
        self.url = response.headers["Location"]
        self.id = int(self.url.rsplit("/", 1)[1])

    def page(self, who):
        response = who.get(self.url)
        assert response.status_code == 200, response.status_code
        return parse(response.data)

    def controls(self, who) -> list[str]:
        return self.page(who).by_id("my-controls").buttons()

    def act(self, who, action, data=None, htmx=True):
        return who.post(f"{self.url}/{action}", data=data, htmx=htmx)

    def on(self, who, target, action, htmx=True):
        return who.post(f"{self.url}/people/{target.user['id']}/{action}", htmx=htmx)

    def join(self, *people):
        for person in people:
            assert self.act(person, "join").status_code == 200

    def db(self):
        return dbm.connect(self.app.config["DATABASE"])

    def state(self) -> dict[str, dict]:
        """Present people by username: role, requested, mic."""
        rows = dbm.all_rows(
            self.db(),
            "SELECT u.username, p.role, p.requested_at IS NOT NULL AS requested, p.mic_on"
            " FROM participants p JOIN users u ON u.id = p.user_id"
            " WHERE p.space_id = ? AND p.present = 1",
            (self.id,),
        )
        return {r.pop("username"): r for r in rows}

    def role(self, person) -> str | None:
        row = self.state().get(person.username)
        return row["role"] if row else None

    def space(self) -> dict:
        return dbm.one(self.db(), "SELECT * FROM spaces WHERE id = ?", (self.id,))


@pytest.fixture
def room(app, browser):
    return Room(app, browser("alice"))


def refused(response, status: int, message: str) -> None:
    """An htmx refusal: the status, the message in the page's alert region, nothing swapped."""
    assert response.status_code == status, (response.status_code, response.data)
    flash = parse(response.data).by_id("flash")
    assert flash is not None and flash.get("role") == "alert"
    assert message in flash.text, flash.text
    assert response.headers.get("HX-Reswap") == "none"


def shut_out(response, message: str) -> None:
    """The room page for someone kept out of the Space: why, and nothing of the room."""
    assert response.status_code == 403, response.status_code
    page = parse(response.data)
    assert message in page.text
    for part in ("room-live", "listeners", "stage", "captions-section", "room-socket"):
        assert page.by_id(part) is None, part


def oob_sections(response) -> dict:
    """The out-of-band fragments of an htmx response, by id."""
    doc = parse(response.data)
    return {n.get("id"): n for n in doc.iter() if n.get("hx-swap-oob") is not None}


# Create --------------------------------------------------------------------------------------


def test_create_form_has_named_fields_and_policy_group(browser):
    doc = parse(browser("alice").get("/spaces/new").data)
    labels = {label.get("for"): label.text for label in doc.find_all("label")}
    assert labels["title"] == "Title" and labels["description"] == "Description"
    fieldset = doc.find("fieldset")
    assert fieldset.find("legend").text == "Who can speak"
    radios = fieldset.find_all("input", type="radio")
    assert [labels[r.get("id")] for r in radios] == POLICY_LABELS
    assert "Start your Space" in doc.buttons()
    assert "Create a Space" in parse(browser("bob").get("/").data).links()


def test_start_your_space_lands_host_on_room_with_mic_off(app, browser):
    room = Room(app, browser("alice"), title="Tea time", policy="invited")
    page = room.page(room.host)
    assert page.find("h1").text == "Tea time"
    assert page.usernames("host-heading") == ["alice"]
    assert "Turn on microphone" in page.by_id("my-controls").buttons()
    assert "Turn off microphone" not in page.buttons()
    checked = page.by_id("space-meta").find("input", name="speaker_policy", checked="")
    assert checked.get("value") == "invited"
    assert "Who can speak: Only people you invite" in page.by_id("space-meta").text


@pytest.mark.parametrize(
    ("title", "description", "field", "message"),
    [
        ("", "about", "title", "Give your Space a title"),
        ("   ", "about", "title", "Give your Space a title"),
        ("t" * 71, "about", "title", "at most 70 characters"),
        ("Fine", "d" * 281, "description", "at most 280 characters"),
    ],
)
def test_create_with_bad_text_shows_error_next_to_field(
    app, browser, title, description, field, message
):
    alice = browser("alice")
    response = alice.post(
        "/spaces/new",
        data={"title": title, "description": description, "speaker_policy": "following"},
        htmx=False,
    )
    assert response.status_code == 400
    assert message in field_error(response.data, field)
    assert field_value(response.data, "title") == title
    assert field_value(response.data, "description") == description
    checked = parse(response.data).find("input", checked="")
    assert checked.get("value") == "following"
    assert dbm.scalar(dbm.connect(app.config["DATABASE"]), "SELECT COUNT(*) FROM spaces") == 0


def test_create_with_unknown_policy_shows_error(app, browser):
    response = browser("alice").post(
        "/spaces/new", data={"title": "Hi", "speaker_policy": "anyone"}, htmx=False
    )
    assert response.status_code == 400
    assert "Choose who can speak" in field_error(response.data, "speaker_policy")


def test_protected_account_sees_why_it_cannot_create(app, browser):
    carol = browser("carol")
    carol.post("/settings", data={"display_name": "carol", "bio": "", "protected": "on"})
    doc = parse(carol.get("/spaces/new").data)
    assert "protected posts cannot start Spaces" in doc.by_id("content").find(role="alert").text
    assert "Start your Space" not in doc.buttons()
    response = carol.post("/spaces/new", data={"title": "Mine", "speaker_policy": "everyone"})
    assert response.status_code == 403
    assert "protected posts cannot start Spaces" in parse(response.data).text
    assert dbm.scalar(dbm.connect(app.config["DATABASE"]), "SELECT COUNT(*) FROM spaces") == 0


def test_host_cannot_start_a_second_live_space(room):
    response = room.host.post(
        "/spaces/new", data={"title": "Another", "speaker_policy": "everyone"}, htmx=False
    )
    assert response.status_code == 409
    assert "already hosting a live Space" in parse(response.data).text
    room.act(room.host, "end")
    second = room.host.post(
        "/spaces/new", data={"title": "Another", "speaker_policy": "everyone"}, htmx=False
    )
    assert second.status_code == 302


# The room page for each role -----------------------------------------------------------------


def test_room_page_for_host(room, browser):
    bob = browser("bob")
    room.join(bob)
    page = room.page(room.host)
    assert page.find("h1").text == "Morning chat"
    assert "Coffee talk" in page.by_id("space-meta").text
    buttons = page.buttons()
    for name in ("Edit", "End Space", "Share", "Turn on microphone", "Leave"):
        assert name in buttons, name
    assert "Join this Space" not in buttons and "Request to speak" not in buttons
    end_dialog = page.by_id("end-dialog")
    assert end_dialog.tag == "dialog" and "End" in end_dialog.buttons()
    report = next(b for b in page.find_all("button") if b.text == "Report Space")
    assert report.get("hx-get") == f"/reports/new?space={room.id}"  # into the report dialog
    assert report.get("data-dialog-open") == "report-dialog" and page.by_id("report-dialog")
    assert page.by_id("requests-heading").text == "Requests"
    assert page.find("legend").text == "Who can speak"
    assert page.usernames("listeners-heading") == ["bob"]
    bob_item = page.by_id("listeners").find("li", data_user_id=str(bob.user["id"]))
    assert {"Make speaker", "Invite to speak", "Remove", "Block"} <= set(bob_item.buttons())
    assert "Report" in bob_item.loaders()
    host_item = page.by_id("stage").find("li", data_user_id=str(room.host.user["id"]))
    assert host_item.buttons() == [] and "Report" not in host_item.loaders()


def test_room_page_for_listener(room, browser):
    bob, carol = browser("bob"), browser("carol")
    room.join(bob, carol)
    page = room.page(bob)
    assert page.find("h1").text == "Morning chat"
    controls = page.by_id("my-controls").buttons()
    assert "Request to speak" in controls and "Leave" in controls
    assert "Turn on microphone" not in controls and "Join this Space" not in controls
    buttons = page.buttons()
    for name in ("Edit", "End Space", "Approve", "Remove", "Make speaker", "Allow back"):
        assert name not in buttons, name
    assert "Share" in buttons and "Report Space" in page.loaders()
    assert page.by_id("requests-heading") is None
    assert page.usernames("host-heading") == ["alice"]
    assert page.usernames("listeners-heading") == ["bob", "carol"]
    assert "1 listening" not in page.text and "2 listening" in page.text
    own = page.by_id("listeners").find("li", data_user_id=str(bob.user["id"]))
    assert "Report" not in own.loaders()
    other = page.by_id("listeners").find("li", data_user_id=str(carol.user["id"]))
    assert "Report" in other.loaders()
    assert "Block" in other.buttons() and "Block" not in own.buttons()


def test_person_items_show_the_display_name_then_the_username(room, browser):
    bob, carol = browser("bob"), browser("carol")
    bob.post("/settings", data={"display_name": "Bob Builder", "bio": ""})
    room.join(bob, carol)
    page = room.page(carol)
    item = page.by_id("listeners").find("li", data_user_id=str(bob.user["id"]))
    assert "Bob Builder @bob" in item.text
    assert page.usernames("listeners-heading") == ["bob", "carol"]  # one username per item
    assert "Bob Builder @bob" in item.links()  # the profile link's name holds both
    room.act(bob, "request")
    requests = room.page(room.host).by_id("requests")
    assert "Bob Builder @bob" in requests.text


def test_room_page_for_speaker(room, browser):
    bob, carol = browser("bob"), browser("carol")
    room.join(bob, carol)
    room.on(room.host, bob, "make-speaker")
    page = room.page(bob)
    controls = page.by_id("my-controls").buttons()
    assert {"Turn on microphone", "Stop speaking", "Leave"} <= set(controls)
    assert "Request to speak" not in controls
    assert page.usernames("speakers-heading") == ["bob"]
    carol_item = page.by_id("listeners").find("li", data_user_id=str(carol.user["id"]))
    assert carol_item.buttons() == ["Block", "Report"]  # speakers may block, only the host removes
    assert "End Space" not in page.buttons()


def test_speaker_who_said_no_to_captions_sees_it_and_can_turn_them_on(room, browser, app):
    bob = browser("bob")
    room.join(bob)
    room.on(room.host, bob, "make-speaker")
    assert "not captioned" not in room.page(bob).by_id("my-controls").text  # asked first
    room.act(bob, "captions-consent", {"allow": "0"})  # `Not now`
    controls = room.page(bob).by_id("my-controls")
    assert "Your voice is not captioned." in controls.text
    assert "Allow captions" in controls.buttons()
    response = room.act(bob, "captions-consent", {"allow": "1"})
    assert "Your voice is not captioned." not in parse(response.data).by_id("my-controls").text
    assert "Your voice is not captioned." not in room.page(bob).text
    # A listener has no voice in the room to caption.
    room.on(room.host, bob, "move-to-listeners")
    room.act(bob, "captions-consent", {"allow": "0"})
    assert "Your voice is not captioned." not in room.page(bob).text


def test_room_page_for_visitor(room, browser):
    dave = browser("dave")
    page = room.page(dave)
    assert page.find("h1").text == "Morning chat"
    controls = page.by_id("my-controls").buttons()
    assert controls == ["Join this Space"]
    assert page.usernames("host-heading") == ["alice"]
    # The room's live socket is only for people in the Space: joining opens it.
    assert page.by_id("room-socket").get("ws-connect") is None
    socket = oob_sections(room.act(dave, "join"))["room-socket"]
    assert socket.get("ws-connect").endswith(f"/spaces/{room.id}/live")
    assert room.page(dave).by_id("room-socket").get("ws-connect") == socket.get("ws-connect")


def test_signed_out_visitor_sees_which_space_and_a_way_in_that_returns(room, browser, app):
    """When the host turned guests off (with guests allowed, guest_room.py shows the room)."""
    bob = browser("bob")
    room.join(bob)
    data = {"title": "Morning chat", "description": "", "guests_shown": "1"}
    assert room.act(room.host, "edit", data).status_code == 200
    response = app.test_client().get(room.url)
    assert response.status_code == 401  # the room itself needs an account
    page = parse(response.data)
    assert "The host is not allowing guests in this Space." in page.text
    assert page.find("h1").text == "Morning chat"
    assert "Hosted by alice" in page.by_id("content").text
    content_links = page.by_id("content").links()
    assert content_links["Sign up"] == f"/signup?next=/spaces/{room.id}"
    assert content_links["Log in"] == f"/login?next=/spaces/{room.id}"
    assert page.find("nav").links()["Sign up"] == content_links["Sign up"]
    # Who is in the room, and its controls, are for people signed in.
    assert "bob" not in page.text
    assert page.by_id("my-controls") is None and page.by_id("room-live") is None


def test_signed_out_visitor_of_an_ended_space_is_told_it_ended(room, app):
    room.act(room.host, "end")
    response = app.test_client().get(room.url)
    assert response.status_code == 410
    page = parse(response.data)
    assert "This Space has ended" in page.text and page.find("h1").text == "Morning chat"
    assert "Sign up" not in page.by_id("content").links()


def test_signed_out_visitor_of_an_unknown_space_gets_404(app):
    assert app.test_client().get("/spaces/999").status_code == 404


# Join and leave ------------------------------------------------------------------------------


def test_join_returns_controls_and_presence_fragments(room, browser):
    bob = browser("bob")
    response = room.act(bob, "join")
    assert response.status_code == 200
    parts = oob_sections(response)
    assert {"my-controls", "stage", "listeners"} <= set(parts)
    assert "Request to speak" in parts["my-controls"].buttons()
    assert "bob" in parts["listeners"].text
    assert room.role(bob) == "listener"
    assert room.page(room.host).usernames("listeners-heading") == ["bob"]


def test_join_twice_is_one_participant(room, browser):
    bob = browser("bob")
    room.join(bob, bob)
    assert room.page(room.host).usernames("listeners-heading") == ["bob"]
    assert "1 listening" in room.page(room.host).text


def test_join_without_htmx_redirects_to_room(room, browser):
    response = room.act(browser("bob"), "join", htmx=False)
    assert response.status_code == 302 and response.headers["Location"] == room.url


def test_leave(room, browser):
    bob = browser("bob")
    room.join(bob)
    response = room.act(bob, "leave")
    assert response.status_code == 200
    parts = oob_sections(response)
    assert parts["my-controls"].buttons() == ["Join this Space"]
    assert parts["room-socket"].get("ws-connect") is None  # the page's live socket closes
    assert "You left this Space." in parts["status"].text
    assert "bob" not in room.page(room.host).usernames("listeners-heading")
    assert room.role(bob) is None


def test_join_unknown_space_is_404(browser):
    response = browser("bob").post("/spaces/999/join")
    refused(response, 404, "There is no such Space.")


def test_person_blocked_by_host_cannot_open_the_space(room, browser):
    bob = browser("bob")
    room.host.post("/u/bob/block")
    response = bob.get(room.url)
    assert response.status_code == 403
    page = parse(response.data)
    assert page.find("h1").text == "You cannot open this Space"
    assert BLOCKED in page.text
    assert "Join this Space" not in page.buttons()
    assert "alice" not in page.text.split() and "Morning chat" not in page.text
    refused(room.act(bob, "join"), 403, BLOCKED)
    assert room.role(bob) is None


# Requests to speak ---------------------------------------------------------------------------


def test_request_and_cancel(room, browser):
    bob = browser("bob")
    room.join(bob)
    response = room.act(bob, "request")
    assert response.status_code == 200
    parts = oob_sections(response)
    assert "Cancel request" in parts["my-controls"].buttons()
    assert "requests" in parts
    host_page = room.page(room.host)
    assert host_page.usernames("requests-heading") == ["bob"]
    item = host_page.by_id("requests").find("li", data_user_id=str(bob.user["id"]))
    assert item.buttons() == ["Approve", "Deny"]

    response = room.act(bob, "cancel-request")
    assert "Request to speak" in oob_sections(response)["my-controls"].buttons()
    assert room.page(room.host).usernames("requests-heading") == []
    assert not room.state()["bob"]["requested"]


def test_request_refusals(room, browser):
    bob, dave = browser("bob"), browser("dave")
    refused(room.act(dave, "request"), 403, "Join the Space first.")
    room.join(bob)
    room.act(bob, "request")
    refused(room.act(bob, "request"), 403, "You have already asked to speak.")
    refused(room.act(dave, "cancel-request"), 403, "Join the Space first.")
    refused(room.act(room.host, "request"), 403, "You are already on stage.")


@pytest.fixture
def bob_asked(room, browser):
    """bob, in the room, has asked to speak."""
    bob = browser("bob")
    room.join(bob)
    room.act(bob, "request")
    return bob


def test_host_approves_request(room, bob_asked):
    bob = bob_asked
    response = room.on(room.host, bob, "approve")
    assert response.status_code == 200
    parts = oob_sections(response)
    assert {"stage", "listeners", "requests", "my-controls"} <= set(parts)
    assert "bob" in parts["stage"].usernames("speakers-heading")
    assert parts["requests"].usernames("requests-heading") == []
    assert room.role(bob) == "speaker"
    bob_page = room.page(bob)
    assert "Stop speaking" in bob_page.by_id("my-controls").buttons()
    assert bob_page.usernames("speakers-heading") == ["bob"]


def test_host_denies_request(room, bob_asked):
    response = room.on(room.host, bob_asked, "deny")
    assert response.status_code == 200
    assert oob_sections(response)["requests"].usernames("requests-heading") == []
    assert room.state()["bob"] == {"role": "listener", "requested": 0, "mic_on": 0}
    assert "Request to speak" in room.controls(bob_asked)


def test_approve_without_a_request_is_refused(room, browser):
    bob = browser("bob")
    room.join(bob)
    refused(room.on(room.host, bob, "approve"), 403, "There is no such request.")
    refused(room.on(room.host, bob, "deny"), 403, "There is no such request.")
    assert room.role(bob) == "listener"


def test_listener_cannot_approve_others(room, browser):
    bob, carol = browser("bob"), browser("carol")
    room.join(bob, carol)
    room.act(carol, "request")
    refused(room.on(bob, carol, "approve"), 403, "Only the host can do that.")
    assert room.state()["carol"] == {"role": "listener", "requested": 1, "mic_on": 0}


# Host actions on people ----------------------------------------------------------------------


def test_make_speaker_and_move_to_listeners(room, browser):
    bob = browser("bob")
    room.join(bob)
    response = room.on(room.host, bob, "make-speaker")
    assert "bob" in oob_sections(response)["stage"].usernames("speakers-heading")
    assert room.role(bob) == "speaker"
    refused(room.on(room.host, bob, "make-speaker"), 403, "They are already on stage.")

    response = room.on(room.host, bob, "move-to-listeners")
    assert response.status_code == 200
    parts = oob_sections(response)
    assert parts["stage"].usernames("speakers-heading") == []
    assert "bob" in parts["listeners"].usernames("listeners-heading")
    assert room.role(bob) == "listener"
    refused(room.on(room.host, bob, "move-to-listeners"), 403, "They are not a speaker.")


def test_invite_then_accept(room, browser):
    bob = browser("bob")
    room.join(bob)
    response = room.on(room.host, bob, "invite")
    assert response.status_code == 200
    item = oob_sections(response)["listeners"].find("li", data_user_id=str(bob.user["id"]))
    assert "invited" in item.text and "Invite to speak" not in item.buttons()
    controls = room.page(bob).by_id("my-controls")
    # The invitation replaces Request to speak; its sentence is the status line's, said once.
    assert controls.buttons() == ["Accept invitation to speak", "Leave"]
    assert "invited you to speak" not in controls.text
    response = room.act(bob, "accept-invite")
    assert response.status_code == 200
    assert "Stop speaking" in oob_sections(response)["my-controls"].buttons()
    assert "You are now a speaker." in parse(response.data).by_id("status").text
    assert room.role(bob) == "speaker"


def test_accept_without_invitation_is_refused(room, browser):
    bob = browser("bob")
    room.join(bob)
    refused(room.act(bob, "accept-invite"), 403, "You have no invitation to speak.")
    assert room.role(bob) == "listener"


def test_mute(room, browser):
    bob = browser("bob")
    room.join(bob)
    room.on(room.host, bob, "make-speaker")
    refused(room.on(room.host, bob, "mute"), 403, "Their microphone is off.")
    room.act(bob, "mic", {"on": "1"})
    assert "Mute" in room.page(room.host).by_id("stage").buttons()
    response = room.on(room.host, bob, "mute")
    assert response.status_code == 200
    assert "mic off" in oob_sections(response)["stage"].text
    assert room.state()["bob"]["mic_on"] == 0
    assert "Turn on microphone" in room.controls(bob)


def test_remove_and_cannot_rejoin(room, browser):
    bob = browser("bob")
    room.join(bob)
    response = room.on(room.host, bob, "remove")
    assert response.status_code == 200
    assert "bob" not in oob_sections(response)["listeners"].text
    assert room.role(bob) is None
    refused(room.act(bob, "join"), 403, "The host removed you from this Space.")
    assert room.role(bob) is None
    shut_out(bob.get(room.url), "The host removed you from this Space.")


def test_host_lets_a_removed_person_back_from_the_removed_list(room, browser):
    bob, carol = browser("bob"), browser("carol")
    room.join(bob, carol)
    response = room.on(room.host, bob, "remove")
    removed = oob_sections(response)["requests"]
    assert removed.usernames("removed-heading") == ["bob"]
    assert "Allow back" in removed.buttons()
    # Only the host sees who was removed.
    assert room.page(carol).by_id("removed-heading") is None
    refused(room.on(carol, bob, "allow-back"), 403, "Only the host can do that.")
    response = room.on(room.host, bob, "allow-back")
    assert response.status_code == 200
    sections = oob_sections(response)
    assert sections["requests"].by_id("removed-heading") is None
    assert "bob can join this Space again." in sections["status"].text
    assert room.act(bob, "join").status_code == 200
    assert room.role(bob) == "listener"
    refused(room.on(room.host, carol, "allow-back"), 403, "They were not removed")


def test_host_cannot_be_removed_or_act_on_self(room, browser):
    bob = browser("bob")
    room.join(bob)
    room.on(room.host, bob, "make-speaker")
    refused(room.on(bob, room.host, "remove"), 403, "Only the host can do that.")
    refused(room.on(room.host, room.host, "remove"), 403, "You cannot do that to yourself.")
    assert room.role(room.host) == "host"


def test_host_blocks_from_the_room(room, browser, app):
    bob = browser("bob")
    bob.post("/u/alice/follow")
    room.join(bob)
    response = room.on(room.host, bob, "block")
    assert response.status_code == 200
    assert room.role(bob) is None
    db = room.db()
    assert dbm.scalar(db, "SELECT COUNT(*) FROM blocks") == 1
    assert dbm.scalar(db, "SELECT COUNT(*) FROM follows") == 0
    refused(room.act(bob, "join"), 403, "host removed you")
    assert "Unblock" in parse(room.host.get("/u/bob").data).buttons()


def test_speaker_and_listener_blocks_are_account_blocks_only(room, browser):
    bob, carol, dan = browser("bob"), browser("carol"), browser("dan")
    room.join(bob, carol, dan)
    room.on(room.host, bob, "make-speaker")
    response = room.on(bob, carol, "block")
    assert response.status_code == 200
    assert room.role(carol) == "listener"
    assert "Unblock" in parse(bob.get("/u/carol").data).buttons()
    # A listener blocks a speaker: the speaker stays on stage; the listener is told.
    response = room.on(dan, bob, "block")
    assert response.status_code == 200 and "You blocked bob." in response.get_data(as_text=True)
    assert room.role(bob) == "speaker"
    assert "Unblock" in parse(dan.get("/u/bob").data).buttons()
    room.act(dan, "leave")
    refused(room.on(dan, carol, "block"), 403, "Join the Space first.")


def test_block_on_profile_removes_person_from_hosts_live_space(room, browser):
    bob = browser("bob")
    room.join(bob)
    room.host.post("/u/bob/block")
    assert room.role(bob) is None
    page = room.page(room.host)
    assert "bob" not in page.usernames("listeners-heading")
    removed = page.by_id("requests").find("li", data_user_id=str(bob.user["id"]))
    assert "Allow back" not in removed.buttons() and "unblock on their profile" in removed.text


def test_listener_cannot_use_host_actions(room, browser):
    bob, carol = browser("bob"), browser("carol")
    room.join(bob, carol)
    before = room.state()
    for action in ("make-speaker", "invite", "remove", "move-to-listeners", "mute"):
        refused(room.on(bob, carol, action), 403, "Only the host can do that.")
    assert room.state() == before


def test_unknown_person_or_action_is_404(room, browser):
    bob = browser("bob")
    room.join(bob)
    response = room.host.post(f"{room.url}/people/{bob.user['id']}/promote")
    refused(response, 404, "That action is not available here.")
    response = room.host.post(f"{room.url}/people/9999/make-speaker")
    refused(response, 404, "There is no such person.")
    refused(room.on(room.host, browser("dave"), "make-speaker"), 403, "They are not in the Space.")


def test_speaker_cap_holds(room, browser):
    people = [browser(f"p{i}") for i in range(11)]
    room.join(*people)
    for person in people[:10]:
        assert room.on(room.host, person, "make-speaker").status_code == 200
    response = room.on(room.host, people[10], "make-speaker")
    refused(response, 409, "already has 11 people speaking")
    assert room.role(people[10]) == "listener"
    assert len(room.page(room.host).usernames("speakers-heading")) == 10


# Speaker's own actions -----------------------------------------------------------------------


def test_microphone_on_and_off(room, browser):
    bob = browser("bob")
    room.join(bob)
    refused(room.act(bob, "mic", {"on": "1"}), 403, "Only speakers can use the microphone.")
    room.on(room.host, bob, "make-speaker")
    response = room.act(bob, "mic", {"on": "1"})
    assert response.status_code == 200
    parts = oob_sections(response)
    assert "Turn off microphone" in parts["my-controls"].buttons()
    assert parts["my-controls"].get("data-mic") == "on"
    item = parts["stage"].find("li", data_user_id=str(bob.user["id"]))
    assert "mic on" in item.text
    response = room.act(bob, "mic", {"on": "0"})
    assert "Turn on microphone" in oob_sections(response)["my-controls"].buttons()
    assert room.state()["bob"]["mic_on"] == 0


def test_stop_speaking(room, browser):
    bob = browser("bob")
    room.join(bob)
    refused(room.act(bob, "stop-speaking"), 403, "Only speakers can do that.")
    room.on(room.host, bob, "make-speaker")
    response = room.act(bob, "stop-speaking")
    assert response.status_code == 200
    parts = oob_sections(response)
    assert "Request to speak" in parts["my-controls"].buttons()
    assert "You are now a listener." in parse(response.data).by_id("status").text
    assert room.role(bob) == "listener"


# Edit and speaker policy ---------------------------------------------------------------------


def test_host_edits_title_and_description(room, browser):
    bob = browser("bob")
    room.join(bob)
    response = room.act(room.host, "edit", {"title": "Evening chat", "description": "Tea"})
    assert response.status_code == 200
    meta = oob_sections(response)["space-meta"]
    assert meta.find("h1").text == "Evening chat" and "Tea" in meta.text
    assert room.page(bob).find("h1").text == "Evening chat"


def test_edit_refusals(room, browser):
    bob = browser("bob")
    room.join(bob)
    refused(room.act(bob, "edit", {"title": "Mine now"}), 403, "Only the host can do that.")
    refused(room.act(room.host, "edit", {"title": ""}), 400, "Give your Space a title.")
    refused(room.act(room.host, "edit", {"title": "x" * 71}), 400, "at most 70 characters")
    assert room.space()["title"] == "Morning chat"


def test_policy_only_invited_hides_request_and_withdraws_requests(room, browser):
    bob, carol = browser("bob"), browser("carol")
    room.join(bob, carol)
    room.act(bob, "request")
    response = room.act(room.host, "policy", {"speaker_policy": "invited"})
    assert response.status_code == 200
    parts = oob_sections(response)
    assert "Who can speak: Only people you invite" in parts["space-meta"].text
    assert parts["requests"].usernames("requests-heading") == []
    assert "Request to speak" not in room.controls(carol)
    assert "Cancel request" not in room.controls(bob)
    refused(room.act(carol, "request"), 403, "Only people the host invites can speak")
    # An invitation still works.
    room.on(room.host, carol, "invite")
    room.act(carol, "accept-invite")
    assert room.role(carol) == "speaker"


def test_policy_people_you_follow(room, browser):
    bob, carol = browser("bob"), browser("carol")
    room.host.post("/u/bob/follow")
    room.join(bob, carol)
    room.act(room.host, "policy", {"speaker_policy": "following"})
    # Each reads whose follows count: the host their own, a listener the host's.
    assert "Who can speak: People alice follows" in room.page(carol).text
    assert "Who can speak: People you follow" in room.page(room.host).text
    assert "Request to speak" in room.controls(bob)
    assert "Request to speak" not in room.controls(carol)
    refused(room.act(carol, "request"), 403, "Only people the host follows can ask to speak.")
    assert room.act(bob, "request").status_code == 200


def test_policy_refusals(room, browser):
    bob = browser("bob")
    room.join(bob)
    refused(room.act(bob, "policy", {"speaker_policy": "invited"}), 403, "Only the host")
    refused(room.act(room.host, "policy", {"speaker_policy": "nobody"}), 400, "Choose who")
    assert room.space()["speaker_policy"] == "everyone"


# Ending --------------------------------------------------------------------------------------


def test_host_ends_space(room, browser):
    bob = browser("bob")
    room.join(bob)
    refused(room.act(bob, "end"), 403, "Only the host can do that.")
    assert room.space()["ended_at"] is None

    response = room.act(room.host, "end")
    assert response.status_code == 200  # htmx goes on to the host's ended page at once
    assert response.headers["HX-Location"] == room.url
    assert room.space()["ended_at"] is not None
    assert room.state() == {}


def test_ended_space_shows_only_that_it_ended_to_others(room, browser):
    bob = browser("bob")
    room.join(bob)
    room.act(room.host, "end")
    for person in (bob, browser("dave")):
        response = person.get(room.url)
        assert response.status_code == 410
        doc = parse(response.data)
        content = doc.by_id("content").text
        assert doc.find("h1").text == "Morning chat"  # what ended, who hosted, how long
        assert content.count("has ended") == 1 and "Hosted by alice" in content
        assert "It ran for less than a minute." in content
        assert "Coffee talk" not in response.data.decode()  # the rest stays with the host
    host_view = room.host.get(room.url)
    assert host_view.status_code == 200
    doc = parse(host_view.data)
    assert doc.find("h1").text == "Morning chat"
    assert "Coffee talk" in doc.text and "This Space has ended." in doc.text


def test_nobody_can_act_in_an_ended_space(room, browser):
    bob, dave = browser("bob"), browser("dave")
    room.join(bob)
    room.act(bob, "request")
    room.act(room.host, "end")
    refused(room.act(dave, "join"), 403, "This Space has ended.")
    refused(room.act(bob, "request"), 403, "This Space has ended.")
    refused(room.on(room.host, bob, "approve"), 403, "This Space has ended.")
    refused(room.act(room.host, "edit", {"title": "Again"}), 403, "This Space has ended.")
    refused(room.act(room.host, "end"), 403, "This Space has ended.")
    refused(room.act(bob, "share/post"), 404, "This Space has ended.")
    assert room.state() == {}
    assert room.space()["title"] == "Morning chat"
    assert dbm.scalar(room.db(), "SELECT COUNT(*) FROM posts") == 0


# Share ---------------------------------------------------------------------------------------


def share_by_dm(room, sender, form: dict) -> str:
    """Sends the Share dialog's message form (200 OK): what its status line then says."""
    response = room.act(sender, "share/dm", form)
    assert response.status_code == 200
    return parse(response.data).by_id("share-status").text


def thread(person, other: str):
    """The person's conversation with `other`, as their Messages page shows it."""
    return parse(person.get(f"/messages/{other}").data).by_id("thread")


def test_share_dialog_offers_link_dm_and_post(room, browser):
    bob = browser("bob")
    room.join(bob)
    dialog = room.page(bob).by_id("share-dialog")
    assert dialog.find("input", id="share-link").get("value").endswith(room.url)
    assert {"Copy link", "Send", "Post to your followers"} <= set(dialog.buttons())
    assert dialog.find("input", id="share-invite") is None  # only the host invites
    assert room.page(room.host).by_id("share-invite") is not None


def test_share_by_dm_carries_the_room_link(room, browser):
    bob, carol = browser("bob"), browser("carol")
    room.join(bob)
    assert "Sent to carol." in share_by_dm(room, bob, {"usernames": "carol"})
    conversation = thread(carol, "bob")
    assert "Morning chat" in conversation.text
    assert room.url in conversation.links()
    assert room.role(carol) is None  # a link, not a forced join


def test_share_by_dm_with_invite_makes_them_speaker_on_join(room, browser):
    bob, carol = browser("bob"), browser("carol")
    form = {"usernames": "bob, carol", "invite_to_speak": "on"}
    assert "Sent to bob, carol." in share_by_dm(room, room.host, form)
    conversation = thread(bob, "alice")
    assert "invites you to speak" in conversation.text and room.url in conversation.links()

    response = room.act(bob, "join")
    assert response.status_code == 200
    assert "You are now a speaker." in parse(response.data).by_id("status").text
    assert "Stop speaking" in oob_sections(response)["my-controls"].buttons()
    assert room.role(bob) == "speaker"
    assert room.page(carol).by_id("my-controls").buttons() == ["Join this Space"]


def test_share_by_dm_refusals(room, browser):
    bob = browser("bob")
    room.join(bob)
    refused(room.act(bob, "share/dm", {"usernames": "  "}), 400, "Enter at least one username.")
    refused(room.act(bob, "share/dm", {"usernames": "nobody"}), 404, "No such account.")
    browser("carol")
    response = room.act(bob, "share/dm", {"usernames": "carol", "invite_to_speak": "on"})
    refused(response, 403, "Only the host can do that.")
    assert dbm.scalar(room.db(), "SELECT COUNT(*) FROM space_invites") == 0
    assert dbm.scalar(room.db(), "SELECT COUNT(*) FROM messages") == 0


def test_share_by_dm_sends_each_person_once(room, browser):
    bob, carol = browser("bob"), browser("carol")
    room.join(bob)
    status = share_by_dm(room, bob, {"usernames": "carol CAROL, Carol carol alice carol"})
    assert "Sent to carol, alice." in status
    for person, other in ((carol, "bob"), (room.host, "bob")):
        assert thread(person, other).text.count("Join me in this Space") == 1


def test_share_by_dm_spends_the_dm_limit_all_or_none(limited_app):
    """Each message counts against the same 30 a minute as the message form; a share that would
    go past it is refused whole, with a message that says why."""
    host = Browser(limited_app, "alice")
    room = Room(limited_app, host)
    names = [f"friend{i}" for i in range(20)]
    for name in names:  # not through the sign-up form: its own limit would stop them
        accounts.sign_up(room.db(), name, "correct horse")
    bob = Browser(limited_app, "bob")
    room.join(bob)

    first = room.act(bob, "share/dm", {"usernames": " ".join(names[:15])})
    assert first.status_code == 200
    assert bob.post("/messages/alice", {"body": "hello"}).status_code == 200  # 16 of 30
    too_many = room.act(bob, "share/dm", {"usernames": " ".join(names)})
    refused(too_many, 429, "more than 30 direct messages a minute")
    db = room.db()
    assert (
        dbm.scalar(db, "SELECT COUNT(*) FROM messages WHERE sender_id = ?", (bob.user["id"],)) == 16
    )

    fits = room.act(bob, "share/dm", {"usernames": " ".join(names[:14])})
    assert fits.status_code == 200  # 30 of 30
    assert bob.post("/messages/alice", {"body": "one more"}).status_code == 429


def test_share_as_post(room, browser):
    bob = browser("bob")
    bob.post("/u/alice/follow")
    response = room.act(room.host, "share/post")
    assert response.status_code == 200
    assert "Posted to your followers." in parse(response.data).by_id("share-status").text
    timeline = parse(bob.get("/").data).by_id("timeline")
    assert "Listen in: Morning chat" in timeline.text
    assert room.url in timeline.links()


# Report --------------------------------------------------------------------------------------


def test_report_space_form_lists_reasons(room, browser):
    bob = browser("bob")
    room.join(bob)
    doc = parse(bob.get(room.page(bob).loaders()["Report Space"]).data)
    assert "the Space “Morning chat”" in doc.text
    fieldset = doc.find("fieldset")
    assert fieldset.find("legend").text == "Reason"
    labels = {label.get("for"): label.text for label in doc.find_all("label")}
    radios = fieldset.find_all("input", type="radio")
    # The seven reasons, in order (test_rooms.py names them).
    assert [labels[r.get("id")] for r in radios] == list(reports.REASONS.values())
    assert labels["details"] == "Details"
    assert "Send report" in doc.buttons()


def test_send_report_stores_a_row(room, browser):
    bob = browser("bob")
    room.join(bob)
    response = bob.post(
        "/reports/new", data={"space": room.id, "reason": "spam", "details": "Ads all day"}
    )
    assert response.status_code == 200
    assert "Your report was sent" in parse(response.data).by_id("report-form").text
    row = dbm.one(room.db(), "SELECT * FROM reports")
    assert row["reporter_id"] == bob.user["id"]
    assert row["space_id"] == room.id and row["reason"] == "spam"
    assert row["details"] == "Ads all day"
    assert "Morning chat" in parse(bob.get("/reports").data).text


def test_report_person_in_room(room, browser):
    bob, carol = browser("bob"), browser("carol")
    room.join(bob, carol)
    item = room.page(bob).by_id("listeners").find("li", data_user_id=str(carol.user["id"]))
    link = item.loaders()["Report"]
    assert "@carol" in parse(bob.get(link).data).text
    response = bob.post(
        "/reports/new",
        data={"account": "carol", "space": room.id, "reason": "abuse"},
        htmx=False,
    )
    assert response.status_code == 200
    row = dbm.one(room.db(), "SELECT * FROM reports")
    assert (row["account_id"], row["space_id"], row["reason"]) == (
        carol.user["id"],
        room.id,
        "abuse",
    )


def test_report_without_reason_shows_error_and_stores_nothing(room, browser):
    bob = browser("bob")
    response = bob.post("/reports/new", data={"space": room.id, "details": "Something off"})
    assert response.status_code == 400
    assert "Choose a reason." in parse(response.data).by_id("reason-error").text
    assert field_value(response.data, "details") == "Something off"
    assert "Send report" in parse(response.data).buttons()
    assert dbm.scalar(room.db(), "SELECT COUNT(*) FROM reports") == 0


def test_a_report_naming_a_message_follows_the_rooms_rules_too(room, browser):
    """Naming a message with the Space must not skip the check that the Space may be reported:
    an ended Space's title stays hidden and no report can extend its retention."""
    bob = browser("bob")
    room.join(bob)
    room.host.post("/messages/bob", data={"body": "Thanks for listening"}, htmx=False)
    message_id = dbm.scalar(room.db(), "SELECT MAX(id) FROM messages")
    room.act(room.host, "end")
    query = {"space": room.id, "message": message_id}

    form = bob.get("/reports/new", query_string=query)
    assert form.status_code == 403
    assert "Morning chat" not in form.get_data(as_text=True)
    for htmx in (True, False):
        sent = bob.post("/reports/new", data={**query, "reason": "spam"}, htmx=htmx)
        assert sent.status_code == 403
        assert "This Space has ended." in sent.get_data(as_text=True)
    assert dbm.scalar(room.db(), "SELECT COUNT(*) FROM reports") == 0
    assert "Morning chat" not in bob.get("/reports").get_data(as_text=True)
    # The message alone can still be reported.
    alone = bob.post("/reports/new", data={"message": message_id, "reason": "spam"})
    assert alone.status_code == 200
    row = dbm.one(room.db(), "SELECT * FROM reports")
    assert (row["message_id"], row["space_id"]) == (message_id, None)


def test_a_report_naming_a_message_in_a_live_space_names_its_sender(room, browser):
    bob = browser("bob")
    room.join(bob)
    room.host.post("/messages/bob", data={"body": "Come up and speak"}, htmx=False)
    message_id = dbm.scalar(room.db(), "SELECT MAX(id) FROM messages")
    response = bob.post(
        "/reports/new", data={"space": room.id, "message": message_id, "reason": "abuse"}
    )
    assert response.status_code == 200
    row = dbm.one(room.db(), "SELECT * FROM reports")
    assert (row["space_id"], row["message_id"], row["account_id"]) == (
        room.id,
        message_id,
        room.host.user["id"],
    )


def test_cached_person_items_carry_each_viewers_own_csrf_token(room, browser):
    """Items are rendered once and shared (room_render.person_item); the token in their forms must
    still be the viewer's own."""
    bob, carol, dave = browser("bob"), browser("carol"), browser("dave")
    for person in (bob, carol, dave):
        room.act(person, "join")
    for person in (bob, carol):
        room.on(room.host, person, "make-speaker")
    tokens = {}
    for speaker in (bob, carol):
        html = speaker.get(room.url).get_data(as_text=True)
        own = re.search(r'data-csrf-token="([^"]+)"', html).group(1)
        listeners = parse(html).by_id("listeners")
        item = listeners.find("li", data_user_id=str(dave.user["id"]))
        assert "Block" in item.buttons()
        in_forms = set(re.findall(r'name="csrf_token" value="([^"]+)"', html))
        assert in_forms == {own}, "a form carries someone else's token"
        tokens[speaker.username] = own
    assert tokens["bob"] != tokens["carol"]


def test_a_listener_who_may_not_ask_is_told_why(room, browser):
    bob = browser("bob")
    room.join(bob)
    room.act(room.host, "policy", {"speaker_policy": "following"})
    controls = room.page(bob).by_id("my-controls")
    assert "Request to speak" not in controls.buttons()
    assert "Only people the host follows can ask to speak." in controls.text


def test_a_removed_person_reads_what_happened(room, browser):
    bob = browser("bob")
    room.join(bob)
    response = room.act(room.host, f"people/{bob.user['id']}/remove")
    assert "You removed bob from this Space." in parse(response.data).by_id("status").text
    shut_out(bob.get(room.url), "The host removed you from this Space.")  # and nothing else
