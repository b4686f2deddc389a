"""Notifications at the domain level: who is told of what, the fan-out to followers in one
statement, marking read, and pruning with the one clock."""

from spaces import blocks, follows, moderation, notifications, reports, rooms, schedule
from spaces import db as dbm

DAY = 86400


def texts(db, user) -> list[str]:
    return [n["text"] for n in notifications.recent(db, user["id"])]


def test_followers_are_told_when_a_space_starts_unless_they_turned_it_off(db, make_user):
    host, ann, ben, cat, dan = (make_user(n) for n in ("host", "ann", "ben", "cat", "dan"))
    for fan in (ann, ben, cat, dan):
        follows.follow(db, fan["id"], host["id"])
    notifications.set_follow_spaces(db, ben["id"], False)
    blocks.block(db, cat["id"], host["id"])  # a block cuts the follow too; told nobody
    space = rooms.create(db, host, "Morning show", "", "everyone")
    told = schedule.went_live(db, rooms.get(db, space["id"]))
    assert sorted(told) == sorted([ann["id"], dan["id"]])
    assert texts(db, ann) == ["host started a Space: Morning show"]
    assert texts(db, ben) == [] and texts(db, cat) == []
    assert notifications.follow_spaces_on(db, ann["id"])
    assert not notifications.follow_spaces_on(db, ben["id"])


def test_the_fan_out_is_one_statement(db, make_user):
    host = make_user("host")
    fans = [make_user(f"fan{i}") for i in range(50)]
    for fan in fans:
        follows.follow(db, fan["id"], host["id"])
    statements = []
    db.conn.set_trace_callback(statements.append)
    told = notifications.followers_of_host(db, host["id"], "host started a Space: X", "/spaces/1")
    db.conn.set_trace_callback(None)
    assert len(told) == 50
    assert sum("INSERT INTO notifications" in s for s in statements) == 1


def test_an_invitation_to_speak_is_a_notification_once(db, make_user):
    host, ann = make_user("host"), make_user("ann")
    space = rooms.create(db, host, "Panel", "", "invited")
    event = rooms.invite(db, space["id"], host, ann["id"])
    rooms.invite(db, space["id"], host, ann["id"])
    assert texts(db, ann) == ["host invited you to speak in Panel"]
    assert event.extra["notified"] == (ann["id"],)


def test_a_follow_request_is_a_notification(db, make_user):
    quiet, ann = make_user("quiet", protected=True), make_user("ann")
    assert follows.follow(db, ann["id"], quiet["id"]) == "requested"
    follows.follow(db, ann["id"], quiet["id"])  # asking again adds nothing
    assert texts(db, quiet) == ["ann asked to follow you."]
    assert notifications.recent(db, quiet["id"])[0]["url"] == "/follow-requests"


def test_a_decision_and_an_appeal_outcome_reach_the_host(db, make_user):
    host, ann = make_user("host"), make_user("ann")
    admin = make_user("admin")
    db.execute("UPDATE users SET is_admin = 1 WHERE id = ?", (admin["id"],))
    admin = {**admin, "is_admin": 1}
    space = rooms.create(db, host, "Loud", "", "everyone")
    rooms.join(db, space["id"], ann)
    report_id = reports.create(db, ann["id"], "spam", space_id=space["id"])["id"]
    moderation.decide(db, admin, report_id, "violation", rule="spam")
    assert texts(db, host) == ["A report about your Space Loud was decided."]
    moderation.appeal(db, host, report_id, "It was a joke.")
    moderation.resolve_appeal(db, admin, report_id, "overturned")
    assert texts(db, host)[0] == "Your appeal about Loud was overturned."
    assert notifications.recent(db, host["id"])[0]["url"] == f"/appeals/{report_id}"


def test_mark_read_one_and_all_and_nobody_elses(db, make_user, clock):
    ann, ben = make_user("ann"), make_user("ben")
    first = notifications.add(db, ann["id"], "x", "one", "/")
    notifications.add(db, ann["id"], "x", "two", "/")
    assert notifications.unread_count(db, ann["id"]) == 2
    mine = notifications.recent(db, ann["id"])
    assert not notifications.mark_read(db, ben["id"], mine[0]["id"])
    assert notifications.mark_read(db, ann["id"], mine[1]["id"])
    assert notifications.unread_count(db, ann["id"]) == 1
    notifications.mark_all_read(db, ann["id"])
    assert notifications.unread_count(db, ann["id"]) == 0
    assert first == [ann["id"]]


def test_prune_read_after_30_days_any_after_90_and_keep_most(db, make_user, clock, monkeypatch):
    ann, ben = make_user("ann"), make_user("ben")
    notifications.add(db, ann["id"], "x", "old read", "/")
    notifications.add(db, ann["id"], "x", "old unread", "/")
    notifications.mark_read(db, ann["id"], notifications.recent(db, ann["id"])[1]["id"])
    clock.advance(30 * DAY + 1)
    assert notifications.prune(db) == 1
    assert texts(db, ann) == ["old unread"]
    clock.advance(60 * DAY)
    assert notifications.prune(db) == 1
    assert texts(db, ann) == []
    monkeypatch.setattr(notifications, "KEEP_MOST", 3)
    for i in range(5):
        clock.advance(1)
        notifications.add(db, ben["id"], "x", f"n{i}", "/")
    notifications.prune(db)
    assert texts(db, ben) == ["n4", "n3", "n2"]


def test_due_prunes(db, make_user, clock):
    ann = make_user("ann")
    notifications.add(db, ann["id"], "x", "ancient", "/")
    clock.advance(91 * DAY)
    assert schedule.due(db).pruned == 1
    assert dbm.scalar(db, "SELECT COUNT(*) FROM notifications") == 0


def test_a_reminder_set_before_a_block_tells_nobody_blocked(db, make_user, clock):
    """A reminder set while nobody blocked anybody: a block either way since then means the
    blocked person hears neither that the Space started nor that it was cancelled."""
    host, ann, ben = make_user("host"), make_user("ann"), make_user("ben")
    started = schedule.create(db, host, "Friday chat", "", "everyone", clock.now() + 3600)
    dropped = schedule.create(db, host, "Saturday chat", "", "everyone", clock.now() + 7200)
    for space in (started, dropped):
        schedule.set_reminder(db, space["id"], ann, True)
        schedule.set_reminder(db, space["id"], ben, True)
    blocks.block(db, host["id"], ann["id"])
    blocks.block(db, ben["id"], host["id"])
    _, told = schedule.start_now(db, started["id"], host)
    rooms.end(db, started["id"], host)
    assert schedule.cancel(db, dropped["id"], host) == []
    assert told == []
    assert texts(db, ann) == [] and texts(db, ben) == []
