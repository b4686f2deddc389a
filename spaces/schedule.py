"""Scheduled Spaces: made for later, with reminders; started by their host, or cancelled by
themselves when the host does not come.

A scheduled Space is a row of `spaces` with `scheduled_for` set and no participants: its link is
the room's link before and after it starts. `policy.is_scheduled` tells it apart from a live one.
Every time here is UTC seconds from the one clock.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlite_utils import Database

from . import db as dbm
from . import notifications, policy, rooms
from .clock import now
from .errors import Conflict, Forbidden, Invalid
from .policy import Actor

HORIZON_DAYS = 14  # how far ahead a Space may be scheduled
GRACE_SECONDS = 60 * 60  # not started this long after its time: cancelled by itself
MAX_SCHEDULED = 20  # per host, waiting at once
EARLY_SLACK = 60  # a time in the current minute (the form's precision) is not "past"


def parse_start(local_value: str, utc_value: str = "") -> float:
    """The start time from the form. The page's script sends the viewer's choice converted to
    UTC (`utc_value`, ISO 8601 with an offset); without the script, `local_value` (the
    datetime-local field) is read as UTC, which the form says."""
    for value in (utc_value, local_value):
        value = (value or "").strip()
        if not value:
            continue
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise Invalid("Enter the start time as a date and a time.", "start_time") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()
    raise Invalid("Choose when your Space starts.", "start_time")


def validate_start(starts_at: float) -> float:
    t = now()
    if starts_at < t - EARLY_SLACK:
        raise Invalid("That time has passed. Choose a time in the future.", "start_time")
    if starts_at > t + HORIZON_DAYS * 86400:
        raise Invalid(f"Spaces can be scheduled at most {HORIZON_DAYS} days ahead.", "start_time")
    return starts_at


def create(
    db: Database,
    host: dict,
    title: str,
    description: str,
    speaker_policy: str,
    starts_at: float,
    allow_guests: bool = True,
) -> dict:
    """A Space for later. Protected accounts cannot host, so they cannot schedule either."""
    reason = policy.may_create(Actor(user_id=host["id"], protected=bool(host["protected"])))
    if reason:
        raise Forbidden(reason)
    title, description = rooms.validate_text(title, description)
    speaker_policy = rooms.validate_policy(speaker_policy)
    starts_at = validate_start(starts_at)
    with dbm.write(db):
        waiting = dbm.scalar(
            db,
            "SELECT COUNT(*) FROM spaces WHERE host_id = ? AND scheduled_for IS NOT NULL"
            " AND ended_at IS NULL",
            (host["id"],),
        )
        if waiting >= MAX_SCHEDULED:
            raise Conflict(f"You already have {MAX_SCHEDULED} Spaces scheduled.")
        cur = db.execute(
            "INSERT INTO spaces (host_id, title, description, speaker_policy, allow_guests,"
            " created_at, scheduled_for) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (host["id"], title, description, speaker_policy, int(allow_guests), now(), starts_at),
        )
    return rooms.get(db, cur.lastrowid)


def space_url(space_id: int) -> str:
    return f"/spaces/{space_id}"


def went_live(db: Database, space: dict) -> list[int]:
    """A Space started (created live, or a scheduled one started): whoever set a reminder is
    told, and the host's followers who want to be. Returns who was notified."""
    host, title, url = space["host_username"], space["title"], space_url(space["id"])
    followers = notifications.followers_of_host(
        db, space["host_id"], f"{host} started a Space: {title}", url, space["id"]
    )
    told = notifications.reminded(db, space["id"], f"{host} started {title}, as you asked.", url)
    return sorted(set(told) | set(followers))


def start_now(db: Database, space_id: int, host: dict) -> tuple[dict, list[int]]:
    """The host starts their scheduled Space: it becomes live exactly as a new Space does (the
    host on stage). Returns the Space and who was notified."""
    t = now()
    with dbm.write(db):
        rooms.require(db, rooms.get(db, space_id), host, "start_now")
        db.execute(
            "UPDATE spaces SET scheduled_for = NULL, created_at = ? WHERE id = ?", (t, space_id)
        )
        rooms.take_the_stage(db, space_id, host["id"], t)
        space = rooms.get(db, space_id)
        notified = went_live(db, space)
    return space, notified


def cancel(db: Database, space_id: int, host: dict, reason: str = "cancelled") -> list[int]:
    """Cancels a scheduled Space (by its host); those with a reminder are told. Returns them."""
    with dbm.write(db):
        space = rooms.get(db, space_id)
        rooms.require(db, space, host, "cancel")
        return _cancel(db, space, reason)


def _cancel(db: Database, space: dict, reason: str) -> list[int]:
    db.execute(
        "UPDATE spaces SET ended_at = ?, ended_reason = ? WHERE id = ?",
        (now(), reason, space["id"]),
    )
    cur = db.execute(
        "INSERT INTO notifications (user_id, kind, text, url, created_at)"
        " SELECT user_id, 'cancelled', ?, ?, ? FROM space_reminders r WHERE space_id = ?"
        f" AND {notifications.NOT_BLOCKED_WITH_HOST} RETURNING user_id",
        (f"{space['title']} was cancelled.", space_url(space["id"]), now(), space["id"]),
    )
    told = [r[0] for r in cur.fetchall()]
    db.execute("DELETE FROM space_reminders WHERE space_id = ?", (space["id"],))
    return told


def set_reminder(db: Database, space_id: int, user: dict, on: bool) -> None:
    """Sets (or removes) the person's reminder for a scheduled Space."""
    with dbm.write(db):
        rooms.require(db, rooms.get(db, space_id), user, "set_reminder")
        if on:
            db.execute(
                "INSERT OR IGNORE INTO space_reminders (space_id, user_id, created_at)"
                " VALUES (?, ?, ?)",
                (space_id, user["id"], now()),
            )
        else:
            db.execute(
                "DELETE FROM space_reminders WHERE space_id = ? AND user_id = ?",
                (space_id, user["id"]),
            )


def has_reminder(db: Database, space_id: int, user_id: int) -> bool:
    return dbm.exists(
        db,
        "SELECT 1 FROM space_reminders WHERE space_id = ? AND user_id = ?",
        (space_id, user_id),
    )


def reminder_count(db: Database, space_id: int) -> int:
    return dbm.scalar(db, "SELECT COUNT(*) FROM space_reminders WHERE space_id = ?", (space_id,))


_UPCOMING = """
    SELECT s.id, s.title, s.description, s.host_id, s.scheduled_for,
           u.username AS host_username, u.display_name AS host_display_name
    FROM spaces s JOIN users u ON u.id = s.host_id
    WHERE s.scheduled_for IS NOT NULL AND s.ended_at IS NULL {followed}
      AND NOT EXISTS (SELECT 1 FROM blocks b WHERE (b.blocker_id = s.host_id
          AND b.blocked_id = :me) OR (b.blocker_id = :me AND b.blocked_id = s.host_id))
    ORDER BY s.scheduled_for, s.id LIMIT :limit
"""


def upcoming(db: Database, viewer_id: int, followed_only: bool = False, limit: int = 50):
    """Scheduled Spaces, soonest first: all of them (Explore), or those of people the viewer
    follows and their own (home). Hosts blocked either way are left out."""
    followed = (
        "AND (s.host_id = :me OR s.host_id IN"
        " (SELECT followee_id FROM follows WHERE follower_id = :me))"
        if followed_only
        else ""
    )
    return dbm.all_rows(db, _UPCOMING.format(followed=followed), {"me": viewer_id, "limit": limit})


@dataclass
class Due:
    """What one pass of `due` did: hosts told their Space is due, Spaces cancelled because
    their host never came, and old notifications pruned."""

    reminded: list[int] = field(default_factory=list)  # space ids
    cancelled: list[int] = field(default_factory=list)  # space ids
    notified: list[int] = field(default_factory=list)  # user ids with new notifications
    pruned: int = 0


def due(db: Database) -> Due:
    """The time-driven part, run by the server's schedule tick (serve.py) every few seconds."""
    t, done = now(), Due()
    with dbm.write(db):
        for space in dbm.all_rows(
            db,
            "SELECT id, host_id, title FROM spaces WHERE scheduled_for IS NOT NULL"
            " AND ended_at IS NULL AND scheduled_for <= ? AND host_reminded_at IS NULL",
            (t,),
        ):
            db.execute("UPDATE spaces SET host_reminded_at = ? WHERE id = ?", (t, space["id"]))
            done.notified += notifications.add(
                db,
                space["host_id"],
                "due",
                f"Your Space {space['title']} is due to start. Start it within an hour,"
                " or it is cancelled.",
                space_url(space["id"]),
            )
            done.reminded.append(space["id"])
        for space in dbm.all_rows(
            db,
            "SELECT id, host_id, title FROM spaces WHERE scheduled_for IS NOT NULL"
            " AND ended_at IS NULL AND scheduled_for <= ?",
            (t - GRACE_SECONDS,),
        ):
            done.notified += _cancel(db, space, "not_started")
            done.notified += notifications.add(
                db,
                space["host_id"],
                "cancelled",
                f"Your Space {space['title']} was cancelled: it did not start within an hour"
                " of its time.",
                space_url(space["id"]),
            )
            done.cancelled.append(space["id"])
    done.pruned = notifications.prune(db)
    done.notified = sorted(set(done.notified))
    return done
