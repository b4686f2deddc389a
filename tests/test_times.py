"""Times people read: relative for recent posts and messages, a date for older, how long a Space
has been live; the `<time datetime>` holds the exact UTC moment."""

from spaces import times
from testkit.html_query import parse

T = 1_800_000_000.0  # 2027-01-15 08:00 UTC


def test_recent_times_are_relative_and_older_ones_a_date():
    assert times.ago(T, T + 20) == "just now"
    assert times.ago(T, T + 120) == "2 min ago"
    assert times.ago(T, T + 3599) == "59 min ago"
    assert times.ago(T, T + 3600) == "1 hour ago"
    assert times.ago(T, T + 5 * 3600) == "5 hours ago"
    assert times.ago(T, T + 3 * 86400) == "Jan 15"
    assert times.ago(T - 365 * 86400, T) == "Jan 15, 2026"
    assert times.ago(T + 30, T) == "just now"  # a clock a little ahead is not the future


def test_the_time_tag_carries_the_utc_moment(clock):
    clock.set(T + 120)
    assert str(times.time_tag(T)) == (
        '<time datetime="2027-01-15T08:00:00Z" title="2027-01-15 08:00 UTC">2 min ago</time>'
    )
    assert str(times.time_tag(None)) == ""


def test_how_long_a_space_has_been_live(clock):
    clock.set(T)
    assert times.live_for(T - 30) == "Live for less than a minute"
    assert times.live_for(T - 12 * 60) == "Live for 12 min"
    assert times.live_for(T - 60 * 60) == "Live for 1 hr"
    assert times.live_for(T - 65 * 60) == "Live for 1 hr 5 min"


def test_posts_messages_and_the_room_show_their_times(app, browser, clock):
    clock.set(T)
    alice, bob = browser("alice"), browser("bob")
    alice.post("/posts", {"body": "Morning all"}, htmx=False)
    alice.fill("/messages/bob", {"body": "Hi Bob"})
    alice.post("/spaces/new", {"title": "Chat", "speaker_policy": "everyone"}, htmx=False)
    clock.set(T + 12 * 60 + 5)
    post = parse(alice.get("/").data).by_id("timeline").find("time")
    assert post.get("datetime") == "2027-01-15T08:00:00Z" and post.text == "12 min ago"
    message = parse(bob.get("/messages/alice").data).by_id("thread").find("time")
    assert message.get("datetime") == "2027-01-15T08:00:00Z" and message.text == "12 min ago"
    room = parse(alice.get("/spaces/1").data).by_id("space-meta")
    assert "Live for 12 min" in room.text
