"""Removal and blocking said plainly and undoable where it should be (issue 14 item 6), walked in
Chromium by the names in UI.md: the host's Removed list with Allow back, a listener's Block, and
a person the host blocked kept out of the host's live Space with the reason."""

import pytest
from playwright.sync_api import expect
from test_accessibility import serious_violations

from testkit.browser import chromium, in_list, join, needs_chromium, open_space

pytestmark = [pytest.mark.browser, needs_chromium]
SHOTS = "/tmp/shots-ux-room2"


def confirm(page, item, action: str, question: str) -> None:
    item.get_by_role("button", name=action).click()
    page.get_by_role("dialog", name=question).get_by_role("button", name=action).click()


def test_host_allows_a_removed_person_back_and_a_blocked_person_cannot_open_the_space(server):
    url = server.url
    with chromium() as chrome:
        host, room, (sam, tia) = open_space(
            chrome, url, "rm_host", "Second chances", "rm_sam", "rm_tia"
        )

        # A listener blocks another listener from the room, by keyboard: asked first, then told.
        item = in_list(tia, "Listeners").get_by_role("listitem").filter(has_text="rm_sam")
        item.get_by_role("button", name="Block").focus()
        tia.keyboard.press("Enter")
        question = tia.get_by_role("dialog", name="Block rm_sam?")
        expect(question.get_by_role("button", name="Block")).to_be_focused()
        tia.keyboard.press("Enter")
        expect(tia.get_by_role("status").filter(has_text="You blocked rm_sam.")).to_be_visible()

        # The host removes sam, sees them under Removed, and lets them back.
        item = in_list(host, "Listeners").get_by_role("listitem").filter(has_text="rm_sam")
        confirm(host, item, "Remove", "Remove rm_sam from this Space?")
        expect(sam.get_by_role("heading", name="You were removed from this Space")).to_be_visible()
        removed = in_list(host, "Removed")
        expect(removed).to_contain_text("rm_sam")
        expect(in_list(tia, "Removed")).to_have_count(0)  # the host's list only
        host.screenshot(path=f"{SHOTS}/room-host-removed-1280.png", full_page=True)
        assert serious_violations(host) == []
        removed.get_by_role("button", name="Allow back").focus()
        host.keyboard.press("Enter")
        expect(
            host.get_by_role("status").filter(has_text="rm_sam can join this Space again.")
        ).to_be_visible()
        expect(in_list(host, "Removed")).to_have_count(0)
        expect(host.get_by_role("heading", name="Requests")).to_be_focused()  # not lost
        join(sam, room)
        expect(in_list(host, "Listeners")).to_contain_text("rm_sam")

        # The host blocks tia: she is out at once, and the Space no longer opens for her.
        item = in_list(host, "Listeners").get_by_role("listitem").filter(has_text="rm_tia")
        confirm(host, item, "Block", "Block rm_tia?")
        expect(tia.get_by_role("heading", name="You were removed from this Space")).to_be_visible()
        expect(in_list(host, "Removed")).to_contain_text("unblock on their profile")
        tia.goto(room)
        expect(tia.get_by_role("heading", level=1)).to_have_text("You cannot open this Space")
        expect(tia.get_by_role("main")).to_contain_text(
            "The host has blocked you, so you cannot open or join their Spaces."
        )
        expect(tia.get_by_role("list", name="Listeners")).to_have_count(0)
        tia.screenshot(path=f"{SHOTS}/blocked-1280.png", full_page=True)
        assert serious_violations(tia) == []
        tia.set_viewport_size({"width": 390, "height": 844})
        tia.screenshot(path=f"{SHOTS}/blocked-390.png", full_page=True)
