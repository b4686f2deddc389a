"""Template helpers: dates and clock times as people read them, and the unread-messages badge,
read once per response and fresh on the next one."""

import pytest

from spaces import messages, templating
from testkit.html_query import parse


@pytest.mark.parametrize(
    ("ts", "text"),
    [(None, ""), (0, "1970-01-01 00:00 UTC"), (1_800_000_000, "2027-01-15 08:00 UTC")],
)
def test_a_date_reads_as_day_and_minute_in_utc(ts, text):
    assert templating.datetime_text(ts) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "0:00"), (0, "0:00"), (5.9, "0:05"), (65, "1:05"), (3599, "59:59"), (3725, "1:02:05")],
)
def test_a_time_into_a_space_reads_as_minutes_and_seconds(seconds, text):
    assert templating.clock_text(seconds) == text


def unread_badge(response) -> str:
    return parse(response.data).by_id("unread").text.replace("unread", "").strip()


def test_the_unread_badge_counts_new_messages_and_clears_once_they_are_read(browser):
    alice, bob = browser("alice"), browser("bob")
    assert unread_badge(bob.get("/")) == ""
    alice.post("/messages/bob", data={"body": "one"}, htmx=False)
    alice.post("/messages/bob", data={"body": "two"}, htmx=False)
    assert unread_badge(bob.get("/")) == "2"
    assert unread_badge(bob.get("/messages/alice")) == ""  # opening it reads them
    alice.post("/messages/bob", data={"body": "three"}, htmx=False)
    assert unread_badge(bob.get("/")) == "1"


def test_a_response_of_many_templates_reads_the_unread_count_once(browser, monkeypatch):
    alice, bob = browser("alice"), browser("bob")
    space = alice.post("/spaces/new", data={"title": "Chat"}, htmx=False).headers["Location"]
    reads = []

    def counted(db, user_id):
        reads.append(user_id)
        return unread_count(db, user_id)

    unread_count = messages.unread_count
    monkeypatch.setattr(messages, "unread_count", counted)
    page = bob.get(space)  # the room page renders its captions panel apart from the page
    assert page.status_code == 200
    assert reads == [bob.user["id"]]
    assert bob.post(f"{space}/join").status_code == 200  # a fragment per changed section
    assert reads == [bob.user["id"]] * 2
