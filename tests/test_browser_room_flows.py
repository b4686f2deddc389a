"""Everyday room flows a new person would trip on (issue 14), walked in Chromium by the names in
UI.md: reporting without leaving the Space, confirmations where the person looks, focus that
follows the action, ended pages that say what ended, removal and blocking said plainly."""

import pytest
from playwright.sync_api import expect

from testkit.browser import chromium, needs_chromium, person, start_space

pytestmark = [pytest.mark.browser, needs_chromium]


def in_list(page, name: str):
    return page.get_by_role("list", name=name, exact=True)


def answer_captions(page, answer: str = "Not now") -> None:
    page.get_by_role("dialog", name="Captions").get_by_role("button", name=answer).click()
    expect(page.get_by_role("dialog", name="Captions")).to_have_count(0)


def join(page, room_url: str) -> None:
    page.goto(room_url)
    page.get_by_role("button", name="Join this Space").click()
    expect(page.get_by_role("button", name="Leave")).to_be_visible()


def test_reporting_happens_without_leaving_the_space(server):
    url = server.url
    with chromium() as chrome:
        host = person(chrome, url, "rep_host")
        start_space(host, "Report corner")
        answer_captions(host)
        room = host.url
        listener = person(chrome, url, "rep_ear")
        join(listener, room)

        # The host reports a listener from their item: a dialog, and the room stays put.
        item = in_list(host, "Listeners").get_by_role("listitem").filter(has_text="rep_ear")
        item.get_by_role("button", name="Report").click()
        dialog = host.get_by_role("dialog", name="Report")
        expect(dialog).to_contain_text("@rep_ear")
        expect(dialog.get_by_role("radio", name="Spam")).to_be_focused()
        dialog.get_by_role("radio", name="Spam").check()
        dialog.get_by_role("button", name="Send report").click()
        expect(dialog.get_by_text("Your report was sent")).to_be_visible()
        dialog.get_by_role("button", name="Close").click()
        expect(dialog).to_be_hidden()
        assert host.url == room
        expect(host.get_by_role("button", name="Turn on microphone")).to_be_visible()
        expect(item.get_by_role("button", name="Report")).to_be_focused()  # focus came back

        # A listener reports the Space the same way.
        listener.get_by_role("button", name="Report Space").click()
        dialog = listener.get_by_role("dialog", name="Report")
        expect(dialog).to_contain_text("Report corner")
        dialog.get_by_role("radio", name="Other").check()
        dialog.get_by_label("Details").fill("Testing the dialog")
        dialog.get_by_role("button", name="Send report").click()
        expect(dialog.get_by_text("Your report was sent")).to_be_visible()
        listener.keyboard.press("Escape")
        expect(listener.get_by_role("button", name="Leave")).to_be_visible()

        # Elsewhere the report form is a whole page: the docked player stays, and afterwards
        # the person goes back to where they were.
        listener.get_by_role("link", name="rep_host").first.click()
        expect(listener.get_by_role("heading", level=1)).to_have_text("rep_host")
        player = listener.get_by_role("region", name="Now playing")
        expect(player).to_be_visible()
        listener.get_by_role("main").get_by_role("link", name="Report").click()
        expect(listener.get_by_role("heading", level=1)).to_have_text("Report")
        expect(listener.get_by_role("navigation", name="Main")).to_be_visible()
        expect(player).to_be_visible()
        listener.get_by_role("radio", name="Spam").check()
        listener.get_by_role("button", name="Send report").click()
        expect(listener.get_by_text("Your report was sent")).to_be_visible()
        expect(player).to_be_visible()
        listener.get_by_role("link", name="Go back").click()
        expect(listener.get_by_role("heading", level=1)).to_have_text("rep_host")
        expect(player).to_be_visible()
        for page, name in ((host, "report-room-host"), (listener, "report-page")):
            page.screenshot(path=f"/tmp/shots-ux-room/{name}.png", full_page=True)
