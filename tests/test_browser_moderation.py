"""A listener reports a live Space; an admin reviews it with its recording and captions and ends
it for breaking the rules; the listener's page shows that at once."""

import sqlite3

import pytest
from playwright.sync_api import expect

from testkit.audio import SHARED_AUDIO
from testkit.browser import chromiums, needs_chromium, person, start_space
from testkit.server import LiveServer
from testkit.waiting import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.model, needs_chromium]


def test_report_review_and_end_for_violation(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    server = LiveServer(data, CAPTIONS="1").start()
    url = server.url
    try:
        with chromiums(str(SHARED_AUDIO / "jfk.wav"), None) as (speaker_chrome, others):
            host = person(speaker_chrome, url, "loudhost")
            start_space(host, "Reported room")
            host.get_by_role("dialog", name="Captions").get_by_role(
                "button", name="Allow captions"
            ).click()
            host.get_by_role("button", name="Turn on microphone").click()
            expect(host.get_by_role("button", name="Turn off microphone")).to_be_visible()
            room = host.url

            listener = person(others, url, "witness")
            listener.goto(room)
            listener.get_by_role("button", name="Join this Space").click()
            listener.get_by_role("button", name="Report Space").click()
            form = listener.get_by_role("dialog", name="Report")
            form.get_by_role("radio", name="Abuse or harassment").check()
            form.get_by_label("Details").fill("The host is shouting at people.")
            form.get_by_role("button", name="Send report").click()
            expect(form.get_by_text("Your report was sent")).to_be_visible()
            form.get_by_role("button", name="Close").click()
            expect(listener.get_by_role("button", name="Leave")).to_be_visible()

            admin = person(others, url, "moderator")
            with sqlite3.connect(data / "spaces.db") as db:
                db.execute("UPDATE users SET is_admin = 1 WHERE username = 'moderator'")
            # The host talks until there is a recording and captions to review.
            wait_until(
                lambda: (
                    server.sql("SELECT COUNT(*) FROM captions WHERE text LIKE '%country%'")
                    != [(0,)]
                ),
                90,
                0.5,
                what="the host's speech captioned",
            )

            admin.goto(url + "/admin/reports")
            reports = admin.get_by_role("list", name="Reports")
            item = reports.get_by_role("listitem").filter(has_text="Reported room")
            item.get_by_role("link", name="Review").click()
            expect(admin.get_by_text("The host is shouting at people.")).to_be_visible()
            transcript = admin.get_by_role("list", name="Transcript")
            expect(transcript).to_contain_text("loudhost")
            expect(transcript).to_contain_text("country")
            # Click a caption's time: the recording plays from there.
            transcript.get_by_role("listitem").first.get_by_role("button").click()
            admin.wait_for_function(
                "() => (document.querySelector('audio') || {}).currentTime > 0.5",
                timeout=10_000,
            )

            admin.get_by_label("Rule (for a violation)").select_option(label="Abuse or harassment")
            admin.get_by_label("Note").fill("Shouting at listeners.")
            admin.get_by_role("button", name="End for violation").click()
            expect(
                listener.get_by_text("This Space was ended for breaking the rules.")
            ).to_be_visible()
            expect(host.get_by_role("main")).to_contain_text("ended for breaking the rules")
    finally:
        server.stop()
