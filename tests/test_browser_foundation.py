"""Two people in Chromium: sign up, follow, message."""

import pytest
from playwright.sync_api import expect

from testkit.browser import chromium, needs_chromium, people

pytestmark = [pytest.mark.browser, needs_chromium]


def test_two_people_sign_up_follow_and_message(live_server):
    url = live_server.url
    with chromium() as browser:
        ada, bob = people(browser, url, "ada", "bob")

        ada.goto(url + "/u/bob")
        ada.get_by_role("button", name="Follow").click()
        expect(ada.get_by_role("button", name="Unfollow")).to_be_visible()
        ada.reload()
        expect(ada.get_by_role("link", name="1 follower", exact=True)).to_be_visible()

        ada.get_by_role("link", name="Message", exact=True).click()
        ada.get_by_label("Message", exact=True).fill("Hello <b>Bob</b>, see you in my Space")
        ada.get_by_role("button", name="Send").click()
        expect(ada.get_by_text("Hello <b>Bob</b>, see you in my Space")).to_be_visible()

        # Bob sees the unread count without reloading, then the message.
        bob.goto(url + "/")
        expect(bob.locator("#unread")).to_contain_text("1", timeout=15_000)
        bob.get_by_role("link", name="Messages").click()
        bob.get_by_role("link", name="ada").click()
        expect(bob.get_by_text("Hello <b>Bob</b>, see you in my Space")).to_be_visible()

        # Bob answers; Ada's open conversation shows it without a reload.
        bob.get_by_label("Message", exact=True).fill("On my way")
        bob.get_by_role("button", name="Send").click()
        expect(ada.get_by_text("On my way")).to_be_visible(timeout=10_000)

        ada.get_by_role("button", name="Log out").click()
        expect(ada.get_by_role("navigation").get_by_role("link", name="Log in")).to_be_visible()
