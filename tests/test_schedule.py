"""Scheduled Spaces at the domain level, with the one clock: the 14-day bound, who may
schedule, reminders, starting, and what `due` does when the time comes and an hour after."""

import pytest

from spaces import blocks, follows, notifications, policy, rooms, schedule
from spaces.errors import Conflict, Forbidden, Invalid

HOUR, DAY = 3600, 86400


@pytest.fixture
def host(make_user):
    return make_user("host")


def plan(db, host, clock, in_seconds: float = HOUR, title: str = "Friday chat") -> dict:
    return schedule.create(db, host, title, "", "everyone", clock.now() + in_seconds)


def texts(db, user) -> list[str]:
    return [n["text"] for n in notifications.recent(db, user["id"])]


def test_a_scheduled_space_is_not_live(db, host, clock):
    space = plan(db, host, clock)
    assert policy.is_scheduled(space)
    assert rooms.live_space_of(db, host["id"]) is None
    assert space["id"] not in rooms.live_space_ids(db)  # a restart does not end it
    assert rooms.presence(db, space["id"])["host"] == []


@pytest.mark.parametrize(
    ("offset", "message"),
    [
        (-2 * HOUR, "That time has passed. Choose a time in the future."),
        (14 * DAY + 60, "Spaces can be scheduled at most 14 days ahead."),
    ],
)
def test_the_start_time_is_in_the_next_14_days(db, host, clock, offset, message):
    with pytest.raises(Invalid, match=message):
        plan(db, host, clock, offset)
    assert plan(db, host, clock, 14 * DAY)["scheduled_for"] == clock.now() + 14 * DAY
    assert plan(db, host, clock, -30)  # this minute is not "past": the form has minutes only


@pytest.mark.parametrize(
    ("local", "utc", "expected"),
    [
        ("2027-01-15T18:30", "", "2027-01-15T18:30:00+00:00"),  # no script: read as UTC
        ("2027-01-15T18:30", "2027-01-15T17:30:00.000Z", "2027-01-15T17:30:00+00:00"),
        ("", "2027-01-15T18:30:00+02:00", "2027-01-15T16:30:00+00:00"),
    ],
)
def test_parse_start_prefers_the_pages_utc_time(local, utc, expected):
    from datetime import UTC, datetime

    assert datetime.fromtimestamp(schedule.parse_start(local, utc), UTC).isoformat() == expected


@pytest.mark.parametrize(
    ("local", "message"),
    [("", "Choose when your Space starts."), ("next friday", "Enter the start time")],
)
def test_parse_start_refuses_a_bad_time(local, message):
    with pytest.raises(Invalid, match=message):
        schedule.parse_start(local)


def test_protected_accounts_cannot_schedule(db, make_user, clock):
    quiet = make_user("quiet", protected=True)
    with pytest.raises(Forbidden, match="protected posts cannot start Spaces"):
        plan(db, quiet, clock)


def test_several_scheduled_but_one_live(db, host, clock):
    first, second = plan(db, host, clock), plan(db, host, clock, 2 * HOUR)
    rooms.create(db, host, "Live now", "", "everyone")  # scheduling does not count as live
    with pytest.raises(Conflict, match="already hosting a live Space"):
        schedule.start_now(db, first["id"], host)
    assert policy.is_scheduled(rooms.get(db, second["id"]))


def test_start_now_makes_it_live_with_the_host_on_stage(db, host, clock, make_user):
    space = plan(db, host, clock)
    clock.advance(600)
    started, _ = schedule.start_now(db, space["id"], host)
    assert not policy.is_scheduled(started)
    assert started["created_at"] == clock.now()
    assert rooms.live_space_of(db, host["id"])["id"] == space["id"]
    assert [p["username"] for p in rooms.presence(db, space["id"])["host"]] == ["host"]
    ann = make_user("ann")
    rooms.join(db, space["id"], ann)  # a live room like any other
    with pytest.raises(Forbidden, match="This Space has started."):
        schedule.start_now(db, space["id"], host)


def test_only_the_host_starts_or_cancels(db, host, clock, make_user):
    space = plan(db, host, clock)
    ann = make_user("ann")
    for action in (schedule.start_now, schedule.cancel):
        with pytest.raises(Forbidden, match="Only the host can do that."):
            action(db, space["id"], ann)
    with pytest.raises(Forbidden, match="This Space has not started yet."):
        rooms.join(db, space["id"], ann)


def test_reminders_are_told_once_when_it_starts(db, host, clock, make_user):
    space = plan(db, host, clock)
    ann, ben, cat = make_user("ann"), make_user("ben"), make_user("cat")
    follows.follow(db, ann["id"], host["id"])  # a follower with a reminder: told once
    follows.follow(db, ben["id"], host["id"])  # a follower without one
    schedule.set_reminder(db, space["id"], ann, True)
    schedule.set_reminder(db, space["id"], cat, True)
    schedule.set_reminder(db, space["id"], cat, False)  # changed their mind
    _, told = schedule.start_now(db, space["id"], host)
    assert sorted(told) == sorted([ann["id"], ben["id"]])
    assert texts(db, ann) == ["host started Friday chat, as you asked."]
    assert texts(db, ben) == ["host started a Space: Friday chat"]
    assert texts(db, cat) == []
    assert not schedule.has_reminder(db, space["id"], ann["id"])


def test_the_host_cannot_set_a_reminder_and_blocked_people_cannot(db, host, clock, make_user):
    space = plan(db, host, clock)
    with pytest.raises(Forbidden, match="You host this Space"):
        schedule.set_reminder(db, space["id"], host, True)
    ann = make_user("ann")
    blocks.block(db, host["id"], ann["id"])
    with pytest.raises(Forbidden, match="The host has blocked you"):
        schedule.set_reminder(db, space["id"], ann, True)


def test_due_tells_the_host_once_when_the_time_comes(db, host, clock):
    space = plan(db, host, clock, HOUR)
    clock.advance(HOUR - 1)
    assert schedule.due(db).reminded == []
    clock.advance(1)
    done = schedule.due(db)
    assert done.reminded == [space["id"]] and done.notified == [host["id"]]
    assert texts(db, host) == [
        "Your Space Friday chat is due to start. Start it within an hour, or it is cancelled."
    ]
    assert schedule.due(db).reminded == []  # once
    assert policy.is_scheduled(rooms.get(db, space["id"]))


def test_due_cancels_it_60_minutes_after_its_time(db, host, clock, make_user):
    space = plan(db, host, clock, HOUR)
    ann = make_user("ann")
    schedule.set_reminder(db, space["id"], ann, True)
    clock.advance(2 * HOUR - 1)  # 59:59 after its time
    assert schedule.due(db).cancelled == []
    clock.advance(1)
    done = schedule.due(db)
    assert done.cancelled == [space["id"]]
    assert sorted(done.notified) == sorted([host["id"], ann["id"]])
    gone = rooms.get(db, space["id"])
    assert gone["ended_at"] == clock.now() and gone["ended_reason"] == "not_started"
    assert texts(db, ann) == ["Friday chat was cancelled."]
    with pytest.raises(Forbidden, match="This Space has ended."):
        schedule.start_now(db, space["id"], host)


def test_a_started_space_is_never_cancelled_by_due(db, host, clock):
    space = plan(db, host, clock, HOUR)
    clock.advance(HOUR + 60)
    schedule.start_now(db, space["id"], host)
    clock.advance(2 * HOUR)
    assert schedule.due(db).cancelled == []
    assert rooms.get(db, space["id"])["ended_at"] is None


def test_cancel_by_the_host(db, host, clock, make_user):
    space = plan(db, host, clock)
    ann = make_user("ann")
    schedule.set_reminder(db, space["id"], ann, True)
    assert schedule.cancel(db, space["id"], host) == [ann["id"]]
    assert rooms.get(db, space["id"])["ended_reason"] == "cancelled"
    assert schedule.upcoming(db, ann["id"]) == []


def test_upcoming_soonest_first_followed_only_and_blocks_hidden(db, host, clock, make_user):
    later = plan(db, host, clock, 3 * HOUR, "Later")
    sooner = plan(db, host, clock, HOUR, "Sooner")
    other = make_user("other")
    plan(db, other, clock, 2 * HOUR, "Not followed")
    ann = make_user("ann")
    follows.follow(db, ann["id"], host["id"])
    assert [s["title"] for s in schedule.upcoming(db, ann["id"], followed_only=True)] == [
        "Sooner",
        "Later",
    ]
    assert [s["title"] for s in schedule.upcoming(db, ann["id"])] == [
        "Sooner",
        "Not followed",
        "Later",
    ]
    blocks.block(db, ann["id"], other["id"])  # the viewer blocked the host
    blocks.block(db, host["id"], ann["id"])  # the host blocked the viewer
    assert schedule.upcoming(db, ann["id"]) == []
    assert {s["id"] for s in schedule.upcoming(db, other["id"])} >= {later["id"], sooner["id"]}
