"""What a person just changed shows at once everywhere it is on screen (issue 14 item 9), walked
in Chromium by the names in UI.md: a rename reaches the room's tab title and a docked player on
another page; Follow changes the follower count on the profile at once, in the right number. The
room socket's first push, the whole room again, leaves alone the controls that did not change."""

import pytest
from playwright.sync_api import expect

from testkit.browser import chromium, join, needs_chromium, open_space, person

pytestmark = [pytest.mark.browser, needs_chromium]
SHOTS = "/tmp/shots-ux-room2"


def test_a_rename_and_a_follow_show_at_once(server):
    url = server.url
    with chromium() as chrome:
        host, _, (stay, roam) = open_space(chrome, url, "re_host", "Old name", "re_stay", "re_roam")
        # The roaming listener wanders to the host's profile: the player docks.
        roam.get_by_role("main").get_by_role("link", name="re_host").first.click()
        expect(roam.get_by_role("heading", level=1)).to_have_text("re_host")
        player = roam.get_by_role("region", name="Now playing")
        expect(player).to_contain_text("Old name")
        roam.wait_for_function(
            "() => window.SpacesAudio.ws && window.SpacesAudio.ws.readyState === 1"
        )

        host.get_by_role("button", name="Edit").click()
        edit = host.get_by_role("dialog", name="Edit your Space")
        edit.get_by_label("Title").fill("New name")
        edit.get_by_role("button", name="Save").click()
        expect(host.get_by_role("heading", level=1)).to_have_text("New name")
        expect(host).to_have_title("New name · Spaces")
        expect(stay.get_by_role("heading", level=1)).to_have_text("New name")
        expect(stay).to_have_title("New name · Spaces")
        expect(player).to_contain_text("New name")
        expect(player).not_to_contain_text("Old name")
        roam.screenshot(path=f"{SHOTS}/profile-docked-renamed-1280.png", full_page=True)

        # Follow on the profile: the count changes at once, in the singular for one.
        main = roam.get_by_role("main")
        expect(main.get_by_role("link", name="0 followers")).to_be_visible()
        main.get_by_role("button", name="Follow").click()
        expect(main.get_by_role("button", name="Unfollow")).to_be_visible()
        expect(main.get_by_role("link", name="1 follower", exact=True)).to_be_visible()
        stay.goto(url + "/u/re_host")
        stay.get_by_role("main").get_by_role("button", name="Follow").click()
        expect(stay.get_by_role("main").get_by_role("link", name="2 followers")).to_be_visible()
        main.get_by_role("button", name="Unfollow").click()
        expect(main.get_by_role("link", name="1 follower", exact=True)).to_be_visible()
        for width in (1280, 390):
            roam.set_viewport_size({"width": width, "height": 844})
            roam.screenshot(path=f"{SHOTS}/profile-{width}.png", full_page=True)
        # Back in the room, the player's title is the new one too.
        player.get_by_role("link", name="Back to the Space").click()
        expect(roam.get_by_role("heading", level=1)).to_have_text("New name")


# Marks every button of the room as the room socket starts connecting, and counts its messages.
MARK_BUTTONS = """
document.addEventListener("htmx:wsConnecting", () => {
  document.querySelectorAll("#room-live button").forEach((b) => { b.markedBeforeSocket = true; });
});
document.addEventListener("htmx:wsAfterMessage", () => {
  window.socketMessages = (window.socketMessages || 0) + 1;
});
"""


def test_the_sockets_first_push_leaves_the_buttons_a_person_may_be_pressing(server):
    """Replacing a button under a press loses the click; the first push repeats the room."""
    url = server.url
    with chromium() as chrome:
        host, room, _ = open_space(chrome, url, "kp_host", "Keep pressing")
        listener = person(chrome, url, "kp_listener", init_script=MARK_BUTTONS)
        join(listener, room)
        listener.wait_for_function("() => window.socketMessages >= 1")
        request = listener.get_by_role("button", name="Request to speak")
        assert request.evaluate("b => b.markedBeforeSocket === true"), "replaced by the push"

        # What changed is still swapped in; what did not stays.
        host.get_by_role("button", name="Edit").click()
        edit = host.get_by_role("dialog", name="Edit your Space")
        edit.get_by_label("Title").fill("Still pressing")
        edit.get_by_role("button", name="Save").click()
        expect(listener.get_by_role("heading", level=1)).to_have_text("Still pressing")
        assert request.evaluate("b => b.markedBeforeSocket === true")
        request.click()
        expect(listener.get_by_role("button", name="Cancel request")).to_be_visible()
