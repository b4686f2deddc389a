"""Notifications: what happened that concerns someone, with a link to it.

Each function writes rows and returns the ids of the people it notified, so the caller can
publish one `notified` event (events.notified) and their navigation counts update live. The text
is fixed when written: a notification says what happened then.
"""

from sqlite_utils import Database

from . import db as dbm
from .clock import now

# Pruning: read ones go after 30 days, any after 90, and nobody keeps more than KEEP_MOST.
READ_DAYS, ANY_DAYS, KEEP_MOST = 30, 90, 200
DAY = 86400.0
PAGE = 100
# For a query over `space_reminders r`: neither the Space's host nor the person blocked the other.
NOT_BLOCKED_WITH_HOST = (
    "NOT EXISTS (SELECT 1 FROM blocks b JOIN spaces s ON s.id = r.space_id"
    " WHERE (b.blocker_id = s.host_id AND b.blocked_id = r.user_id)"
    " OR (b.blocker_id = r.user_id AND b.blocked_id = s.host_id))"
)


def add(db: Database, user_id: int, kind: str, text: str, url: str) -> list[int]:
    """One notification for one person."""
    db.execute(
        "INSERT INTO notifications (user_id, kind, text, url, created_at) VALUES (?, ?, ?, ?, ?)",
        (user_id, kind, text, url, now()),
    )
    return [user_id]


def followers_of_host(
    db: Database, host_id: int, text: str, url: str, space_id: int = 0
) -> list[int]:
    """'X started a Space' to every follower who has not turned it off, in one INSERT ... SELECT
    (a host with many followers is one statement, not a loop). Blocked either way: nobody told.
    Followers with a reminder for `space_id` are left to `reminded` (told once)."""
    t = now()
    with dbm.write(db):
        cur = db.execute(
            "INSERT INTO notifications (user_id, kind, text, url, created_at)"
            " SELECT f.follower_id, 'space_started', ?, ?, ? FROM follows f"
            " JOIN users u ON u.id = f.follower_id"
            " WHERE f.followee_id = ? AND u.notify_follow_spaces = 1"
            " AND NOT EXISTS (SELECT 1 FROM blocks b WHERE (b.blocker_id = ? AND"
            " b.blocked_id = f.follower_id) OR (b.blocker_id = f.follower_id AND b.blocked_id = ?))"
            " AND f.follower_id NOT IN (SELECT user_id FROM space_reminders WHERE space_id = ?)"
            " RETURNING user_id",
            (text, url, t, host_id, host_id, host_id, space_id),
        )
        return [r[0] for r in cur.fetchall()]


def reminded(db: Database, space_id: int, text: str, url: str) -> list[int]:
    """Everyone who set a reminder for the Space, in one INSERT ... SELECT; their reminders are
    used up. A block either way since the reminder was set: not told."""
    t = now()
    with dbm.write(db):
        cur = db.execute(
            "INSERT INTO notifications (user_id, kind, text, url, created_at)"
            " SELECT user_id, 'reminder', ?, ?, ? FROM space_reminders r WHERE space_id = ?"
            f" AND {NOT_BLOCKED_WITH_HOST} RETURNING user_id",
            (text, url, t, space_id),
        )
        ids = [r[0] for r in cur.fetchall()]
        db.execute("DELETE FROM space_reminders WHERE space_id = ?", (space_id,))
    return ids


def unread_count(db: Database, user_id: int) -> int:
    return dbm.scalar(
        db,
        "SELECT COUNT(*) FROM notifications WHERE user_id = ? AND read_at IS NULL",
        (user_id,),
    )


def recent(db: Database, user_id: int, limit: int = PAGE) -> list[dict]:
    """Newest first."""
    return dbm.all_rows(
        db,
        "SELECT * FROM notifications WHERE user_id = ? ORDER BY created_at DESC, id DESC LIMIT ?",
        (user_id, limit),
    )


def get(db: Database, user_id: int, notification_id: int) -> dict | None:
    """One of `user_id`'s notifications (None for anyone else's)."""
    return dbm.one(
        db,
        "SELECT * FROM notifications WHERE id = ? AND user_id = ?",
        (notification_id, user_id),
    )


def mark_read(db: Database, user_id: int, notification_id: int) -> bool:
    """False when there is no such notification of theirs."""
    cur = db.execute(
        "UPDATE notifications SET read_at = COALESCE(read_at, ?) WHERE id = ? AND user_id = ?",
        (now(), notification_id, user_id),
    )
    return cur.rowcount > 0


def mark_all_read(db: Database, user_id: int) -> None:
    db.execute(
        "UPDATE notifications SET read_at = ? WHERE user_id = ? AND read_at IS NULL",
        (now(), user_id),
    )


def follow_spaces_on(db: Database, user_id: int) -> bool:
    """Whether they are told when someone they follow starts a Space (a setting)."""
    return bool(dbm.scalar(db, "SELECT notify_follow_spaces FROM users WHERE id = ?", (user_id,)))


def set_follow_spaces(db: Database, user_id: int, on: bool) -> None:
    db.execute("UPDATE users SET notify_follow_spaces = ? WHERE id = ?", (int(on), user_id))


def prune(db: Database) -> int:
    """Deletes read notifications older than READ_DAYS, any older than ANY_DAYS, and each
    person's beyond their newest KEEP_MOST. Returns how many went."""
    t = now()
    with dbm.write(db):
        gone = db.execute(
            "DELETE FROM notifications WHERE created_at < ?"
            " OR (read_at IS NOT NULL AND created_at < ?)",
            (t - ANY_DAYS * DAY, t - READ_DAYS * DAY),
        ).rowcount
        gone += db.execute(
            "DELETE FROM notifications WHERE id IN (SELECT id FROM (SELECT id, ROW_NUMBER()"
            " OVER (PARTITION BY user_id ORDER BY created_at DESC, id DESC) AS n"
            " FROM notifications) WHERE n > ?)",
            (KEEP_MOST,),
        ).rowcount
    return gone
