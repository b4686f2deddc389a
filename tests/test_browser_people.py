"""Everyday flows around accounts and people, in Chromium: a shared Space's link opened while
signed out, the captions question in Settings, people search, review for admins."""

import re

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


def beside(page, label: str) -> bool:
    """The checkbox named `label` sits on the same line as its label, to its left."""
    box = page.get_by_role("checkbox", name=label).bounding_box()
    text = page.locator("label", has_text=label).bounding_box()
    middle = box["y"] + box["height"] / 2
    return text["y"] <= middle <= text["y"] + text["height"] and box["x"] < text["x"]


def test_saving_settings_leaves_the_captions_question_to_the_person(server):
    url = server.url
    with chromium() as browser:
        mira = person(browser, url, "mira_settings")
        mira.get_by_role("link", name="Settings").click()
        expect(mira.get_by_text("You have not answered yet")).to_be_visible()
        assert beside(mira, "Allow captions of my voice") and beside(mira, "Protect my posts")
        mira.get_by_label("Display name").fill("Mira")
        mira.get_by_role("button", name="Save").click()
        expect(mira.get_by_text("Saved.")).to_be_visible()
        expect(mira.get_by_role("checkbox", name="Allow captions of my voice")).not_to_be_checked()
        expect(mira.get_by_text("You have not answered yet")).to_be_visible()

        # Starting a Space still asks; `Not now` shows on her own controls, with a way back.
        mira.get_by_role("link", name="Home").click()
        start_space(mira, "Mira's morning")
        dialog = mira.get_by_role("dialog", name="Captions")
        dialog.get_by_role("button", name="Not now").click()
        expect(dialog).to_have_count(0)
        controls = mira.get_by_role("region", name="Your controls")
        expect(controls).to_contain_text("Your voice is not captioned.")
        controls.get_by_role("button", name="Allow captions").click()
        expect(controls).not_to_contain_text("Your voice is not captioned.")
        expect(controls.get_by_role("button", name="Turn on microphone")).to_be_visible()

        mira.goto(url + "/settings")
        expect(mira.get_by_role("checkbox", name="Allow captions of my voice")).to_be_checked()
        expect(mira.get_by_text("You have not answered yet")).to_have_count(0)
        mira.set_viewport_size({"width": 390, "height": 800})
        assert beside(mira, "Allow captions of my voice")
        assert serious_violations(mira) == []


def test_an_admin_reviews_everyone_who_spoke_and_sees_what_was_reported_and_when(server):
    url = server.url
    ben, ann = server.sign_up("ben", "ann")
    with chromium() as browser:
        host = person(browser, url, "host_review")
        start_space(host, "Evening debate")
        host.get_by_role("dialog", name="Captions").get_by_role("button", name="Not now").click()
        space_id = host.url.rsplit("/", 1)[1]
        ben.join(space_id)
        ben_item = host.get_by_role("list", name="Listeners").get_by_role("listitem")
        ben_item = ben_item.filter(has_text=ben.username)
        ben_item.get_by_role("button", name="Make speaker").click()
        speakers = host.get_by_role("list", name="Speakers")
        expect(speakers).to_contain_text(ben.username)
        speakers.get_by_role("listitem").filter(has_text=ben.username).get_by_role(
            "button", name="Move to listeners"
        ).click()
        expect(speakers).not_to_contain_text(ben.username)
        ann.join(space_id)
        ann.post("/reports/new", {"account": ben.username, "space": space_id, "reason": "spam"})

        admin = person(browser, url, "admin_review")
        server.sql("UPDATE users SET is_admin = 1 WHERE username = 'admin_review'")
        admin.reload()
        admin.get_by_role("navigation", name="Main").get_by_role("link", name="Reports").click()
        admin.get_by_role("navigation", name="Filter by state").get_by_role(
            "link", name="Open"
        ).click()
        expect(admin.get_by_role("link", name="Open")).to_have_attribute("aria-current", "page")
        item = (
            admin.get_by_role("list", name="Reports")
            .get_by_role("listitem")
            .filter(has_text=f"@{ben.username} in the Space “Evening debate”")
        )
        expect(item).to_contain_text(
            re.compile(r"reported by ann_\d+ on \d{4}-\d\d-\d\d \d\d:\d\d")
        )
        assert serious_violations(admin) == []
        item.get_by_role("link", name="Review").click()
        expect(admin.get_by_text(f"About: @{ben.username} in the Space")).to_be_visible()
        spoke = admin.get_by_role("list", name="Everyone who spoke")
        expect(spoke.get_by_role("listitem")).to_have_count(2)
        expect(spoke).to_contain_text("host_review: 0:00–now")
        expect(spoke).to_contain_text(re.compile(ben.username + r":\s+\d:\d\d–\d:\d\d"))
        assert serious_violations(admin) == []


def test_sign_up_shows_every_problem_at_once(server):
    with chromium() as browser:
        page = browser.new_context().new_page()
        page.goto(server.url + "/signup")
        page.get_by_label("Username").fill("not valid!")
        page.get_by_label("Password").fill("short")
        page.get_by_role("button", name="Sign up").click()
        expect(page.get_by_text("Usernames are 1-30 letters")).to_be_visible()
        expect(page.get_by_text("Passwords need at least 8 characters.")).to_be_visible()
        expect(page.get_by_label("Username")).to_have_attribute("aria-invalid", "true")
        expect(page.get_by_label("Password")).to_have_attribute("aria-invalid", "true")


def test_finding_people_by_name_and_seeing_follow_requests_and_posts(server):
    url = server.url
    (quiet,) = server.sign_up("quietly")
    with chromium() as browser:
        hana = person(browser, url, "hana_search")
        hana.get_by_role("link", name="Settings").click()
        hana.get_by_label("Display name").fill("Hana Sato")
        hana.get_by_role("checkbox", name="Protect my posts").check()
        hana.get_by_role("button", name="Save").click()
        expect(hana.get_by_text("Saved.")).to_be_visible()

        # Someone finds her by the start of her display name, typing, by keyboard.
        finder = person(browser, url, "finder_search")
        finder.get_by_role("navigation", name="Main").get_by_role("link", name="People").click()
        field = finder.get_by_role("searchbox", name="Search people")
        field.press_sequentially("hana s", delay=30)
        results = finder.get_by_role("list", name="People")
        expect(results.get_by_role("listitem")).to_have_count(1)
        expect(results).to_contain_text("Hana Sato @hana_search")
        expect(finder.get_by_role("status")).to_contain_text("1 found")
        expect(field).to_be_focused()  # the results changed under the field, not the page
        finder.keyboard.press("Tab")  # the Search button, then the first person found
        finder.keyboard.press("Tab")
        expect(results.get_by_role("link", name="Hana Sato")).to_be_focused()
        finder.keyboard.press("Enter")
        expect(finder.get_by_role("heading", level=1, name="Hana Sato")).to_be_visible()
        finder.get_by_role("button", name="Follow").click()
        expect(finder.get_by_text("Follow request sent.")).to_be_visible()

        # Hana sees the request waiting, in the navigation.
        hana.reload()
        nav_link = hana.get_by_role("navigation", name="Main").get_by_role(
            "link", name="Follow requests"
        )
        expect(nav_link).to_contain_text("1")
        nav_link.click()
        hana.get_by_role("button", name="Approve").click()
        expect(hana.get_by_text("No requests.")).to_be_visible()
        expect(nav_link).to_have_count(0)

        # A blocked person is not found.
        finder.goto(url + f"/u/{quiet.username}")
        finder.get_by_role("button", name="Block").click()
        expect(finder.get_by_role("button", name="Unblock")).to_be_visible()
        finder.goto(url + "/people?q=quiet")
        expect(finder.get_by_role("status")).to_contain_text("Nobody found")
        expect(finder.get_by_role("list", name="People").get_by_role("listitem")).to_have_count(0)
        assert serious_violations(finder) == []

        # Posts on the timeline are cards, without list bullets.
        hana.get_by_role("link", name="Home").click()
        hana.get_by_label("What's happening?").fill("Seeds are in")
        hana.get_by_role("button", name="Post").click()
        # Posted once her own timeline shows it (the finder's page is loaded after, not before).
        mine = hana.get_by_role("region", name="Timeline").get_by_role("listitem").first
        expect(mine).to_contain_text("Seeds are in")
        finder.goto(url + "/")
        post = finder.get_by_role("region", name="Timeline").get_by_role("listitem").first
        expect(post).to_contain_text("Seeds are in")
        assert post.evaluate("li => getComputedStyle(li).listStyleType") == "none"
