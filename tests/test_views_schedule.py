"""Scheduled Spaces, notifications, Explore and home's Upcoming through the routes, and the
running server's schedule tick doing its work by itself."""

from datetime import UTC, datetime

import pytest

from spaces import blocks, follows, notifications, rooms, schedule
from spaces import db as dbm
from spaces.clock import now
from spaces.realtime.close_codes import TOO_MANY
from testkit.waiting import wait_until
from testkit.websocket import Closed, Refused, WebSocket

HOUR = 3600


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


@pytest.fixture
def db(app):
    return dbm.connect(app.config["DATABASE"])


def schedule_form(start_utc: str, start_time: str = "") -> dict:
    return {
        "title": "Friday chat",
        "description": "",
        "speaker_policy": "everyone",
        "schedule": "on",
        "start_time": start_time,
        "start_utc": start_utc,
    }


def test_the_create_form_offers_scheduling(browser):
    page = browser("hana").get("/spaces/new").get_data(as_text=True)
    for text in ("Schedule for later", "Start time", "Schedule Space", 'type="datetime-local"'):
        assert text in page


def test_schedule_a_space_then_its_page_for_host_and_others(app, browser, db):
    hana, ann = browser("hana"), browser("ann")
    response = hana.post("/spaces/new", schedule_form(iso(now() + HOUR)), htmx=False)
    assert response.status_code == 302
    space_id = int(response.location.rsplit("/", 1)[1])
    assert rooms.get(db, space_id)["scheduled_for"] == pytest.approx(now() + HOUR, abs=5)
    host_page = hana.get(f"/spaces/{space_id}").get_data(as_text=True)
    assert "Start now" in host_page and "Cancel Space" in host_page
    assert "Set reminder" not in host_page
    other = ann.get(f"/spaces/{space_id}").get_data(as_text=True)
    assert "Friday chat" in other and "Set reminder" in other and "Start now" not in other
    assert '<time class="local-time" datetime="' in other
    answer = ann.post(f"/spaces/{space_id}/reminder", {"on": "1"}).get_data(as_text=True)
    assert "Remove reminder" in answer
    assert schedule.has_reminder(db, space_id, ann.user["id"])
    # The host starts it: live, host in the room; ann is told.
    response = hana.post(f"/spaces/{space_id}/start", htmx=False)
    assert response.location.endswith(f"/spaces/{space_id}")
    assert rooms.live_space_of(db, hana.user["id"])["id"] == space_id
    assert "Leave" in hana.get(f"/spaces/{space_id}").get_data(as_text=True)
    nav = ann.get("/notifications/count").get_data(as_text=True)
    assert "Notifications" in nav and ">1<" in nav
    item = notifications.recent(db, ann.user["id"])[0]
    opened = ann.get(f"/notifications/{item['id']}")
    assert opened.location == f"/spaces/{space_id}"
    assert notifications.unread_count(db, ann.user["id"]) == 0


@pytest.mark.parametrize(
    ("offset", "start_time", "error"),
    [
        (-2 * HOUR, "", "That time has passed"),
        (15 * 86400, "", "at most 14 days ahead"),
        (None, "someday", "Enter the start time as a date and a time."),
        (None, "", "Choose when your Space starts."),
    ],
)
def test_schedule_validation_shows_the_error_on_the_form(browser, db, offset, start_time, error):
    """The offsets become times when the test runs (ids computed at collection would differ
    between pytest-xdist's workers)."""
    start_utc = "" if offset is None else iso(now() + offset)
    hana = browser("hana")
    response = hana.post("/spaces/new", schedule_form(start_utc, start_time), htmx=False)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert error in page and 'id="start_time-error"' in page
    assert dbm.scalar(db, "SELECT COUNT(*) FROM spaces") == 0


def test_protected_accounts_cannot_schedule(browser, db):
    quiet = browser("quiet")
    db.execute("UPDATE users SET protected = 1 WHERE id = ?", (quiet.user["id"],))
    response = quiet.post("/spaces/new", schedule_form(iso(now() + HOUR)), htmx=False)
    assert response.status_code == 403
    assert dbm.scalar(db, "SELECT COUNT(*) FROM spaces") == 0


def test_cancel_space(browser, db):
    hana = browser("hana")
    space = schedule.create(db, hana.user, "Later", "", "everyone", now() + HOUR)
    hana.post(f"/spaces/{space['id']}/cancel", htmx=False)
    page = hana.get(f"/spaces/{space['id']}").get_data(as_text=True)
    assert "This Space was cancelled." in page and "Start now" not in page


def test_notifications_page_and_marking_read(browser, db):
    ann = browser("ann")
    notifications.add(db, ann.user["id"], "x", "First thing", "/")
    notifications.add(db, ann.user["id"], "x", "Second thing", "/")
    page = ann.get("/notifications").get_data(as_text=True)
    assert 'aria-label="Notifications"' in page and "First thing" in page
    assert "Mark all as read" in page
    assert 'id="nav-notifications"' in page and ">2<" in page
    first = notifications.recent(db, ann.user["id"])[1]
    answer = ann.post(f"/notifications/{first['id']}/read").get_data(as_text=True)
    assert 'hx-swap-oob="true"' in answer and ">1<" in answer  # the nav's count comes along
    ann.post("/notifications/read")
    assert notifications.unread_count(db, ann.user["id"]) == 0
    ben = browser("ben")
    assert ben.post(f"/notifications/{first['id']}/read").status_code == 404


def test_the_follow_spaces_setting(browser, db):
    ann = browser("ann")
    assert 'id="follow_spaces" name="follow_spaces" checked' in ann.get("/settings").get_data(
        as_text=True
    )
    ann.post("/settings/notifications", {})
    assert not notifications.follow_spaces_on(db, ann.user["id"])


def test_explore_lists_live_and_upcoming_and_hides_blocked_hosts(browser, db):
    hana, ivan, ann = browser("hana"), browser("ivan"), browser("ann")
    quiet = rooms.create(db, hana.user, "Quiet room", "", "everyone")
    busy = rooms.create(db, ivan.user, "Busy room", "", "everyone")
    rooms.join(db, busy["id"], ann.user)
    schedule.create(db, hana.user, "Tomorrow", "", "everyone", now() + 86400)
    page = ann.get("/explore").get_data(as_text=True)
    assert 'aria-label="Live Spaces"' in page and 'aria-label="Upcoming"' in page
    assert page.index("Busy room") < page.index("Quiet room")  # most listeners first
    assert "1 listening" in page and "Tomorrow" in page
    blocks.block(db, hana.user["id"], ann.user["id"])
    page = ann.get("/explore").get_data(as_text=True)
    assert "Quiet room" not in page and "Tomorrow" not in page and "Busy room" in page
    assert quiet["id"]


def test_home_shows_upcoming_of_people_you_follow(browser, db):
    hana, ivan, ann = browser("hana"), browser("ivan"), browser("ann")
    follows.follow(db, ann.user["id"], hana.user["id"])
    schedule.create(db, hana.user, "Later today", "", "everyone", now() + 2 * HOUR)
    schedule.create(db, hana.user, "Sooner", "", "everyone", now() + HOUR)
    schedule.create(db, ivan.user, "Not followed", "", "everyone", now() + HOUR)
    page = ann.get("/").get_data(as_text=True)
    upcoming = page[page.index('id="upcoming"') :]
    assert upcoming.index("Sooner") < upcoming.index("Later today")
    assert "Not followed" not in page


def test_the_running_server_reminds_and_cancels_by_itself(start_server):
    server = start_server(SCHEDULE_TICK_SECONDS="0.2")
    (hana,) = server.sign_up("hana")
    t = now()
    for title, when in (("Due now", t - 60), ("Long gone", t - 2 * HOUR)):
        server.sql(
            "INSERT INTO spaces (host_id, title, speaker_policy, created_at, scheduled_for)"
            " VALUES (?, ?, 'everyone', ?, ?)",
            (hana.id, title, t - 3 * HOUR, when),
        )
    wait_until(
        lambda: len(server.sql("SELECT 1 FROM notifications WHERE user_id = ?", (hana.id,))) >= 3,
        within=10,
        what="the host told of both, and of the cancelled one",
    )
    rows = dict(server.sql("SELECT title, ended_reason FROM spaces"))
    assert rows == {"Due now": None, "Long gone": "not_started"}
    assert ">3<" in hana.get("/notifications/count")


def test_the_feed_sockets_refuse_visitors_other_sites_and_blocked_people(server):
    hana, ann, ben = server.sign_up("hana", "ann", "ben")
    hana.get("/spaces/new")
    hana.post("/spaces/new", schedule_form(iso(now() + HOUR)), htmx=False)
    space_id = server.sql("SELECT id FROM spaces WHERE host_id = ?", (hana.id,))[0][0]
    feed = f"/spaces/{space_id}/feed"
    for path in (feed, "/explore/feed"):
        with pytest.raises(Refused) as refused:
            WebSocket.connect(server.port, path)  # signed out
        assert refused.value.status == 403
        with pytest.raises(Refused) as refused:
            ann.websocket(path, origin="http://evil.example")
        assert refused.value.status == 403
    hana.post(f"/u/{ben.username}/block", htmx=False)
    with pytest.raises(Refused) as refused:
        ben.websocket(feed)
    assert refused.value.status == 403
    with ann.websocket(feed) as ws:  # anyone else is told where things stand at once
        assert 'id="nav-notifications"' in ws.recv(5)


def test_the_count_rides_the_room_pages_socket(server):
    hana, ann = server.sign_up("hana", "ann")
    space_id = hana.open_space("Panel")
    ann.join(space_id)
    with ann.websocket(f"/spaces/{space_id}/live") as ws:
        ws.recv(5)  # the room's full state
        hana.act(f"/spaces/{space_id}/people/{ann.id}/invite")
        deadline = now() + 5
        seen = ""
        while "Notifications <span" not in seen and now() < deadline:
            seen = ws.recv(5)
    assert 'id="nav-notifications"' in seen and ">1<" in seen


def test_feed_sockets_are_capped_per_account(start_server):
    server = start_server(SOCKETS_PER_ACCOUNT="2")
    (ann,) = server.sign_up("ann")
    first, second = ann.websocket("/explore/feed"), ann.websocket("/explore/feed")
    with first, second:
        # Each admitted page gets its state first: then the third is surely the one too many.
        assert 'id="nav-notifications"' in first.recv(5)
        assert 'id="nav-notifications"' in second.recv(5)
        with ann.websocket("/explore/feed") as third, pytest.raises(Closed) as closed:
            while True:
                third.recv(5)
        assert closed.value.code == TOO_MANY
