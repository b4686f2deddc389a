"""The room's smaller things (issue 14 item 10), walked in Chromium at phone width by the names in
UI.md: Live now cards with room inside their border, the host's Requests near the top, a
`View captions` toggle that looks pressed and an empty captions box that says what will appear,
one way for an invited listener to take the stage, whose follows count, and display names."""

import pytest
from playwright.sync_api import expect
from test_accessibility import serious_violations

from testkit.browser import chromium, in_list, needs_chromium, person, start_space

pytestmark = [pytest.mark.browser, needs_chromium]
SHOTS = "/tmp/shots-ux-room2"
PHONE = {"width": 390, "height": 844}


def phone(chrome, url: str, username: str):
    page = person(chrome, url, username)
    page.set_viewport_size(PHONE)
    return page


def test_the_room_at_phone_width(server):
    url = server.url
    with chromium() as chrome:
        host = phone(chrome, url, "lay_host")
        host.get_by_role("link", name="Settings").click()
        host.get_by_label("Display name").fill("Hana Host")
        host.get_by_role("button", name="Save").click()
        expect(host.get_by_role("main")).to_contain_text("Saved")
        host.get_by_role("link", name="Home").click()
        start_space(host, "Phone room")
        expect(host.get_by_role("heading", level=1)).to_have_text("Phone room")
        room = host.url
        question = host.get_by_role("dialog", name="Captions")  # Save in Settings may answer it
        if question.count():
            question.get_by_role("button", name="Not now").click()
        host.get_by_role("radio", name="People you follow").check()

        fan = phone(chrome, url, "lay_fan")
        fan.goto(url + "/u/lay_host")
        fan.get_by_role("main").get_by_role("button", name="Follow").click()
        expect(fan.get_by_role("main").get_by_role("button", name="Unfollow")).to_be_visible()
        fan.get_by_role("link", name="Home").click()
        card = fan.get_by_role("region", name="Live now").get_by_role("listitem").first
        expect(card).to_contain_text("Phone room")
        # The card's text keeps clear of its border.
        box, text = card.bounding_box(), card.get_by_role("link", name="Phone room").bounding_box()
        assert text["x"] - box["x"] >= 12, (box, text)
        fan.screenshot(path=f"{SHOTS}/home-live-now-390.png", full_page=True)

        fan.get_by_role("link", name="Phone room").click()
        fan.get_by_role("button", name="Join this Space").click()
        expect(fan.get_by_role("button", name="Leave")).to_be_visible()
        # A listener reads whose follows count, and the host by display name and username.
        expect(fan.get_by_role("main")).to_contain_text("Who can speak: People lay_host follows")
        expect(in_list(fan, "Host")).to_contain_text("Hana Host @lay_host")

        # Captions: the toggle looks pressed when on, and the empty box says what will appear.
        toggle = fan.get_by_role("button", name="View captions", exact=True)
        off = toggle.evaluate("b => getComputedStyle(b).backgroundColor")
        toggle.click()
        expect(toggle).to_have_attribute("aria-pressed", "true")
        expect(toggle).to_contain_text("On")
        assert toggle.evaluate("b => getComputedStyle(b).backgroundColor") != off
        expect(
            fan.get_by_text("Captions appear here when a speaker who allowed captions talks.")
        ).to_be_visible()
        fan.screenshot(path=f"{SHOTS}/room-listener-390.png", full_page=True)
        assert serious_violations(fan) == []

        # The host's Requests are in the first two screens, above the people lists.
        host.get_by_role("radio", name="Everyone").check()
        fan.get_by_role("button", name="Request to speak").click()
        requests = in_list(host, "Requests")
        expect(requests).to_contain_text("lay_fan")
        host.evaluate("window.scrollTo(0, 0)")
        assert requests.bounding_box()["y"] < 2 * PHONE["height"]
        assert (
            requests.bounding_box()["y"]
            < host.get_by_role("heading", name="Listeners").bounding_box()["y"]
        )
        host.screenshot(path=f"{SHOTS}/room-host-390.png", full_page=True)

        # An invited listener has one way up: Accept invitation to speak, said once.
        guest = phone(chrome, url, "lay_guest")
        guest.goto(room)
        guest.get_by_role("button", name="Join this Space").click()
        expect(guest.get_by_role("button", name="Leave")).to_be_visible()
        item = in_list(host, "Listeners").get_by_role("listitem").filter(has_text="lay_guest")
        item.get_by_role("button", name="Invite to speak").click()
        expect(guest.get_by_role("button", name="Accept invitation to speak")).to_be_visible()
        expect(guest.get_by_role("button", name="Request to speak")).to_have_count(0)
        assert guest.get_by_role("main").inner_text().count("invited you to speak") == 1
        guest.screenshot(path=f"{SHOTS}/room-invited-390.png", full_page=True)
        assert serious_violations(guest) == []
        assert serious_violations(host) == []
        host.set_viewport_size({"width": 1280, "height": 900})
        host.screenshot(path=f"{SHOTS}/room-host-1280.png", full_page=True)
