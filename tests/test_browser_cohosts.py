"""Co-hosts in Chromium (issue 17), by the names in UI.md: the host makes a listener co-host, a
listener asks to speak, the co-host approves while the host watches the listener move to
Speakers; and the room's count of places on stage follows, on every page. Screenshots of the
host's and the co-host's view at 1280 and 390 px go to SHOTS."""

import os

import pytest
from playwright.sync_api import expect
from test_accessibility import serious_violations

from testkit.browser import answer_captions, chromium, in_list, needs_chromium, open_space

pytestmark = [pytest.mark.browser, needs_chromium]
SHOTS = os.environ.get("SHOTS", "/tmp/shots-cohosts")


def shoot(page, name: str) -> None:
    os.makedirs(SHOTS, exist_ok=True)
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.evaluate("window.scrollTo(0, 0)")  # the sticky navigation at the top, not midway
        page.screenshot(path=f"{SHOTS}/{name}-{width}.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def test_a_cohost_approves_a_request_while_the_host_watches(server):
    with chromium() as chrome:
        host, _, (co, ear) = open_space(
            chrome, server.url, "ch_host", "Shared desk", "ch_co", "ch_ear"
        )
        places = "2 of 11 places on stage taken"

        # The host makes ch_co co-host from her item in Listeners: she moves to the Host list.
        item = in_list(host, "Listeners").get_by_role("listitem").filter(has_text="ch_co")
        item.get_by_role("button", name="Make co-host").click()
        hosts = in_list(host, "Host")
        expect(hosts.get_by_role("listitem").filter(has_text="ch_co")).to_contain_text("Co-host")
        expect(
            in_list(ear, "Host").get_by_role("listitem").filter(has_text="ch_co")
        ).to_contain_text("Co-host")
        for page in (host, co, ear):
            expect(page.locator("#stage")).to_contain_text(places)

        # The co-host's page gains the host's controls, pushed: Requests, and Edit.
        answer_captions(co)
        expect(co.get_by_text("You are a co-host.")).to_be_visible()
        expect(in_list(co, "Requests")).to_contain_text("No requests to speak.")
        expect(co.get_by_role("button", name="Edit")).to_be_visible()
        expect(co.get_by_role("button", name="End Space")).to_have_count(0)
        expect(ear.get_by_role("list", name="Requests")).to_have_count(0)

        # Her Edit dialog came with the push: she renames the Space, everyone sees it.
        co.get_by_role("button", name="Edit").click()
        edit = co.get_by_role("dialog", name="Edit your Space")
        edit.get_by_label("Title").fill("Shared desk, co-hosted")
        shoot(co, "cohost-edit-dialog")
        edit.get_by_role("button", name="Save").click()
        for page in (host, co, ear):
            expect(page.get_by_role("heading", level=1)).to_have_text("Shared desk, co-hosted")

        # A listener asks; the co-host approves; the host sees them move to Speakers at once.
        ear.get_by_role("button", name="Request to speak").click()
        request = in_list(co, "Requests").get_by_role("listitem").filter(has_text="ch_ear")
        expect(in_list(host, "Requests").get_by_role("listitem")).to_contain_text(["ch_ear"])
        shoot(co, "cohost-view-request")
        request.get_by_role("button", name="Approve").click()
        expect(
            in_list(host, "Speakers").get_by_role("listitem").filter(has_text="ch_ear")
        ).to_have_count(1)
        expect(
            in_list(host, "Listeners").get_by_role("listitem").filter(has_text="ch_ear")
        ).to_have_count(0)
        expect(host.locator("#stage")).to_contain_text("3 of 11 places on stage taken")
        expect(ear.get_by_role("button", name="Stop speaking")).to_be_visible()
        shoot(host, "host-view-with-cohost")
        shoot(co, "cohost-view")
        assert serious_violations(host) == [] and serious_violations(co) == []

        # The host takes the role back, by keyboard: the co-host's controls go from her page.
        unmake = hosts.get_by_role("listitem").filter(has_text="ch_co")
        unmake = unmake.get_by_role("button", name="Remove co-host")
        unmake.focus()
        host.keyboard.press("Enter")
        expect(
            in_list(co, "Speakers").get_by_role("listitem").filter(has_text="ch_co")
        ).to_have_count(1)
        expect(co.get_by_role("button", name="Edit")).to_have_count(0)
        expect(co.get_by_role("list", name="Requests")).to_have_count(0)
        expect(co.get_by_text("You are a speaker.")).to_be_visible()
        # The host's focus stayed on the stage, where the button was, not back at the page's top.
        expect(host.locator("#stage :focus")).to_have_count(1)
