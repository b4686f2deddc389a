"""Everyday flows around accounts and people, in Chromium: a shared Space's link opened while
signed out, the captions question in Settings, people search, review for admins."""

import pytest
from playwright.sync_api import expect
from test_accessibility import serious_violations

from testkit.browser import chromium, needs_chromium, person, start_space
from testkit.passwords import PASSWORD

pytestmark = [pytest.mark.browser, needs_chromium]


def test_a_shared_link_brings_a_new_person_back_to_the_space(server):
    url = server.url
    with chromium() as browser:
        hana = person(browser, url, "hana_link")
        start_space(hana, "Gardening questions")
        expect(hana.get_by_role("heading", level=1, name="Gardening questions")).to_be_visible()
        link = hana.url

        # A stranger opens the link: they see which Space and whose, and can sign up from there.
        visitor = browser.new_context().new_page()
        visitor.goto(link)
        content = visitor.get_by_role("main")
        expect(content.get_by_role("heading", level=1, name="Gardening questions")).to_be_visible()
        expect(content).to_contain_text("Hosted by hana_link")
        assert serious_violations(visitor) == []
        content.get_by_role("link", name="Sign up").click()
        visitor.get_by_label("Username").fill("newcomer")
        visitor.get_by_label("Password").fill(PASSWORD)
        visitor.get_by_role("button", name="Sign up").click()
        visitor.wait_for_url(link)
        expect(visitor.get_by_role("button", name="Join this Space")).to_be_visible()

        # Someone with an account: Log in (by keyboard) also comes back to the Space.
        returning = browser.new_context().new_page()
        returning.goto(url + "/signup")
        returning.get_by_label("Username").fill("returning")
        returning.get_by_label("Password").fill(PASSWORD)
        returning.get_by_role("button", name="Sign up").click()
        returning.wait_for_url(url + "/")
        returning.get_by_role("button", name="Log out").click()
        expect(
            returning.get_by_role("navigation").get_by_role("link", name="Log in")
        ).to_be_visible()
        returning.goto(link)
        returning.get_by_role("main").get_by_role("link", name="Log in").focus()
        returning.keyboard.press("Enter")
        expect(returning.get_by_role("heading", name="Log in")).to_be_visible()
        returning.get_by_label("Username").fill("returning")
        returning.get_by_label("Password").fill(PASSWORD)
        returning.get_by_label("Password").press("Enter")
        returning.wait_for_url(link)
        expect(returning.get_by_role("button", name="Join this Space")).to_be_visible()
