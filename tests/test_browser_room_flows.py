"""Everyday room flows a new person would trip on (issue 14), walked in Chromium by the names in
UI.md: reporting without leaving the Space, confirmations where the person looks, focus that
follows the action, ended pages that say what ended, removal and blocking said plainly."""

import pytest
from playwright.sync_api import expect

from testkit.audio import SHARED_AUDIO
from testkit.browser import (
    chromium,
    in_list,
    join,
    needs_chromium,
    open_space,
    person,
    start_space,
)

pytestmark = [pytest.mark.browser, needs_chromium]


def test_reporting_happens_without_leaving_the_space(server):
    url = server.url
    with chromium() as chrome:
        host, room, (listener,) = open_space(chrome, url, "rep_host", "Report corner", "rep_ear")

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


def test_confirmations_show_where_the_person_looks_and_remove_asks_first(server):
    url = server.url
    with chromium() as chrome:
        host, room, _ = open_space(chrome, url, "conf_host", "Confirm corner")
        friend = person(chrome, url, "conf_friend")

        host.get_by_role("button", name="Share").click()
        share = host.get_by_role("dialog", name="Share")
        share.get_by_label("Send by message to (usernames)").fill("conf_friend")
        share.get_by_role("button", name="Send").click()
        expect(share.get_by_role("status")).to_have_text("Sent to conf_friend.")
        expect(share.get_by_label("Send by message to (usernames)")).to_have_value("")
        share.get_by_role("button", name="Post to your followers").click()
        expect(share.get_by_role("status")).to_have_text("Posted to your followers.")
        share.get_by_label("Send by message to (usernames)").fill("nobody_here")
        share.get_by_role("button", name="Send").click()
        expect(share.get_by_role("status")).to_have_text("No such account.")  # here, not behind
        share.get_by_role("button", name="Close").click()

        join(friend, room)
        # Remove asks first; Cancel leaves them in.
        item = in_list(host, "Listeners").get_by_role("listitem").filter(has_text="conf_friend")
        item.get_by_role("button", name="Remove").click()
        confirm = host.get_by_role("dialog", name="Remove conf_friend from this Space?")
        expect(confirm).to_be_visible()
        confirm.get_by_role("button", name="Cancel").click()
        expect(item).to_be_visible()
        host.screenshot(path="/tmp/shots-ux-room/room-host-1280.png", full_page=True)
        item.get_by_role("button", name="Remove").click()
        confirm.get_by_role("button", name="Remove").click()
        expect(
            host.get_by_role("status").filter(has_text="You removed conf_friend")
        ).to_be_visible()
        expect(in_list(host, "Listeners").get_by_text("conf_friend")).to_have_count(0)
        # The next action clears that line.
        host.get_by_role("button", name="Turn on microphone").click()
        expect(host.get_by_text("You removed conf_friend")).to_have_count(0)


def test_focus_follows_each_action_by_keyboard(server):
    url = server.url
    # A microphone, or the page turns the host's mic straight back off ("No microphone was found").
    with chromium(str(SHARED_AUDIO / "sample01.wav")) as chrome:
        host = person(chrome, url, "focus_host")
        start_space(host, "Focus corner")
        expect(host.get_by_role("heading", level=1)).to_have_text("Focus corner")
        room = host.url
        # Once the room's sockets are up, no first push re-renders the controls under the key.
        host.wait_for_function(
            "() => window.SpacesAudio.ws && window.SpacesAudio.ws.readyState === 1"
        )
        host.wait_for_timeout(500)
        expect(host.get_by_role("button", name="Allow captions")).to_be_focused()
        host.keyboard.press("Tab")
        expect(host.get_by_role("button", name="Not now")).to_be_focused()
        host.keyboard.press("Tab")  # the question keeps Tab inside until it is answered
        expect(host.get_by_role("button", name="Allow captions")).to_be_focused()
        host.keyboard.press("Enter")
        expect(host.get_by_role("button", name="Turn on microphone")).to_be_focused()
        host.keyboard.press("Enter")
        expect(host.get_by_role("button", name="Turn off microphone")).to_be_focused()

        guest = person(chrome, url, "focus_guest")
        guest.goto(room)
        guest.get_by_role("button", name="Join this Space").focus()
        guest.keyboard.press("Enter")
        expect(guest.get_by_role("button", name="Request to speak")).to_be_focused()
        guest.keyboard.press("Enter")
        expect(guest.get_by_role("button", name="Cancel request")).to_be_focused()

        requests = in_list(host, "Requests")
        requests.get_by_role("button", name="Approve").focus()
        host.keyboard.press("Enter")
        expect(in_list(host, "Speakers").get_by_text("focus_guest")).to_be_visible()
        expect(host.get_by_role("heading", name="Requests")).to_be_focused()
        # The new speaker is asked about captions, with the focus on the question.
        expect(guest.get_by_role("button", name="Allow captions")).to_be_focused()


def test_ended_pages_say_what_ended_and_the_host_gets_theirs_at_once(server):
    url = server.url
    with chromium() as chrome:
        host, room, (guest,) = open_space(chrome, url, "end_host", "Last call", "end_guest")
        host.get_by_role("button", name="End Space").click()
        host.get_by_role("dialog").get_by_role("button", name="End").click()

        expect(host.get_by_role("link", name="Download transcript")).to_be_visible()
        expect(host.get_by_role("heading", level=1)).to_have_text("Last call")
        assert host.title().startswith("Last call (ended)")
        main = guest.get_by_role("main")
        expect(guest.get_by_role("heading", level=1)).to_have_text("Last call")
        expect(main).to_contain_text("Hosted by end_host")
        expect(main).to_contain_text("It ran for less than a minute.")
        assert main.inner_text().count("has ended") == 1
        stranger = person(chrome, url, "end_stranger")
        stranger.goto(room)
        expect(stranger.get_by_role("heading", level=1)).to_have_text("Last call")
        expect(stranger.get_by_role("main")).to_contain_text("Hosted by end_host")
        for page, name in ((host, "ended-host"), (guest, "ended-guest")):
            page.screenshot(path=f"/tmp/shots-ux-room/{name}-1280.png", full_page=True)
        # No stray bullets beside the download buttons.
        style = host.get_by_role("link", name="Download transcript").evaluate(
            "a => getComputedStyle(a.closest('li')).listStyleType"
        )
        assert style == "none"
