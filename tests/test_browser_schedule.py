"""Scheduled Spaces, notifications and Explore in Chromium: a host schedules a Space, another
person sets a reminder, the host starts it, and the other person's notification count changes
without a reload and takes them into the room; Explore lists a new live Space within a second."""

import re
import time
from datetime import datetime, timedelta

import pytest
from playwright.sync_api import expect
from test_accessibility import serious_violations

from testkit.browser import chromium, needs_chromium, person, start_space

pytestmark = [pytest.mark.browser, needs_chromium]


def test_schedule_remind_start_and_the_count_changes_live(server):
    url = server.url
    with chromium() as browser:
        hana = person(browser, url, "hana_sched")
        hana.goto(url + "/spaces/new")
        hana.get_by_label("Title").fill("Friday chat")
        hana.get_by_label("Schedule for later").check()
        start = datetime.now() + timedelta(hours=2)  # the browser's zone is this machine's
        hana.get_by_label("Start time").fill(start.strftime("%Y-%m-%dT%H:%M"))
        hana.get_by_role("button", name="Schedule Space").click()
        expect(hana.get_by_role("button", name="Start now")).to_be_visible()
        expect(hana.get_by_role("button", name="Cancel Space")).to_be_visible()
        space_url = hana.url
        assert re.search(r"/spaces/\d+$", space_url)
        # Stored in UTC: the page's local time converts back to what was chosen.
        shown = hana.locator("time.local-time").first.get_attribute("datetime")
        utc = datetime.fromisoformat(shown.replace("Z", "+00:00"))
        assert abs(utc.timestamp() - start.replace(second=0, microsecond=0).timestamp()) < 1

        ann = person(browser, url, "ann_sched")
        ann.goto(space_url)
        ann.get_by_role("button", name="Set reminder").click()
        expect(ann.get_by_role("button", name="Remove reminder")).to_be_visible()
        expect(ann.get_by_role("link", name="Notifications", exact=True)).to_be_visible()
        assert serious_violations(ann) == []

        hana.get_by_role("button", name="Start now").click()
        expect(hana.get_by_role("button", name="Leave")).to_be_visible()

        # No reload: the count arrives on the page's socket.
        link = ann.get_by_role("link", name=re.compile(r"^Notifications 1 unread$"))
        expect(link).to_be_visible(timeout=5_000)
        expect(ann.get_by_role("status")).to_contain_text("This Space has started.")
        link.click()
        notices = ann.get_by_role("list", name="Notifications")
        notices.get_by_role("link", name="hana_sched started Friday chat, as you asked.").click()
        ann.wait_for_url(space_url)
        expect(ann.get_by_role("heading", level=1, name="Friday chat")).to_be_visible()
        expect(ann.get_by_role("button", name="Join this Space")).to_be_visible()
        expect(ann.get_by_role("link", name="Notifications", exact=True)).to_be_visible()


def test_explore_lists_a_new_live_space_within_a_second(server):
    url = server.url
    with chromium() as browser:
        cat = person(browser, url, "cat_explore")
        cat.get_by_role("navigation", name="Main").get_by_role("link", name="Explore").click()
        live = cat.get_by_role("list", name="Live Spaces")
        expect(live).to_be_attached()
        cat.wait_for_timeout(500)  # the page's socket is open
        ivan = person(browser, url, "ivan_explore")
        start_space(ivan, "Night owls")
        expect(ivan.get_by_role("heading", level=1, name="Night owls")).to_be_visible()
        started = time.monotonic()
        expect(live.get_by_role("link", name="Night owls")).to_be_visible(timeout=3_000)
        assert time.monotonic() - started < 1.0
        expect(live).to_contain_text("Host: ivan_explore")
        assert serious_violations(cat) == []
