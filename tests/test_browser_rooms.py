"""Two Chromium browsers in one Space: join by link, request, approve, end, all live."""

import pytest
from playwright.sync_api import expect

from testkit.browser import chromium, in_list, needs_chromium, people

pytestmark = [pytest.mark.browser, needs_chromium]


def test_host_and_listener_see_each_change_live(live_server):
    url = live_server.url
    with chromium() as chrome:
        host, guest = people(chrome, url, "hostess", "guest")

        host.get_by_role("link", name="Create a Space").click()
        host.get_by_label("Title").fill("Friday <i>jam</i>")
        host.get_by_label("Description").fill("Music talk")
        host.get_by_role("group", name="Who can speak").get_by_label("Everyone").check()
        host.get_by_role("button", name="Start your Space").click()
        expect(host.get_by_role("heading", level=1)).to_have_text("Friday <i>jam</i>")
        expect(host.get_by_role("button", name="Turn on microphone")).to_be_visible()
        room_url = host.url

        guest.goto(room_url)
        guest.get_by_role("button", name="Join this Space").click()
        expect(in_list(guest, "Listeners").get_by_text("guest")).to_be_visible()
        expect(in_list(host, "Listeners").get_by_text("guest")).to_be_visible()

        guest.get_by_role("button", name="Request to speak").click()
        expect(guest.get_by_role("button", name="Cancel request")).to_be_visible()
        request = in_list(host, "Requests").get_by_role("listitem").filter(has_text="guest")
        expect(request).to_be_visible()
        request.get_by_role("button", name="Approve").click()

        expect(in_list(host, "Speakers").get_by_text("guest")).to_be_visible()
        expect(in_list(guest, "Speakers").get_by_text("guest")).to_be_visible()
        expect(guest.get_by_role("status")).to_have_text("You are now a speaker.")
        expect(guest.get_by_role("button", name="Turn on microphone")).to_be_visible()

        host.get_by_role("button", name="Edit").click()
        dialog = host.get_by_role("dialog", name="Edit your Space")
        dialog.get_by_label("Title").fill("Friday jam, live")
        dialog.get_by_role("button", name="Save").click()
        expect(guest.get_by_role("heading", level=1)).to_have_text("Friday jam, live")

        host.get_by_role("button", name="End Space").click()
        host.get_by_role("dialog").get_by_role("button", name="End").click()
        expect(guest.get_by_role("main").get_by_text("This Space has ended.")).to_be_visible()
        expect(host.get_by_role("main").get_by_text("This Space has ended.")).to_be_visible()
        expect(guest.get_by_role("button", name="Turn on microphone")).to_have_count(0)
