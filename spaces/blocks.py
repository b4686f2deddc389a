"""Blocks: a block cuts follows both ways and keeps the blocked person away from the blocker."""

from sqlite_utils import Database

from . import db as dbm
from .clock import now
from .errors import Invalid


def block(db: Database, blocker_id: int, blocked_id: int) -> None:
    if blocker_id == blocked_id:
        raise Invalid("You cannot block yourself.")
    with dbm.write(db):
        db.execute(
            "INSERT OR IGNORE INTO blocks (blocker_id, blocked_id, created_at) VALUES (?, ?, ?)",
            (blocker_id, blocked_id, now()),
        )
        for a, b in ((blocker_id, blocked_id), (blocked_id, blocker_id)):
            db.execute("DELETE FROM follows WHERE follower_id = ? AND followee_id = ?", (a, b))
            db.execute(
                "DELETE FROM follow_requests WHERE requester_id = ? AND target_id = ?", (a, b)
            )


def unblock(db: Database, blocker_id: int, blocked_id: int) -> None:
    """Lifts the block only; follows that the block removed stay removed."""
    db.execute(
        "DELETE FROM blocks WHERE blocker_id = ? AND blocked_id = ?", (blocker_id, blocked_id)
    )


def has_blocked(db: Database, blocker_id: int, blocked_id: int) -> bool:
    return dbm.exists(
        db,
        "SELECT 1 FROM blocks WHERE blocker_id = ? AND blocked_id = ?",
        (blocker_id, blocked_id),
    )


def either_blocked(db: Database, a: int, b: int) -> bool:
    return dbm.exists(
        db,
        "SELECT 1 FROM blocks WHERE (blocker_id = ? AND blocked_id = ?)"
        " OR (blocker_id = ? AND blocked_id = ?)",
        (a, b, b, a),
    )


def blocked_by(db: Database, blocker_id: int) -> list[int]:
    rows = db.execute("SELECT blocked_id FROM blocks WHERE blocker_id = ?", (blocker_id,))
    return [r[0] for r in rows]


def involved(db: Database, user_id: int) -> bool:
    """Whether the person blocked anyone or was blocked by anyone (then lists of other people's
    things are filtered for them alone)."""
    return dbm.exists(
        db,
        "SELECT 1 FROM blocks WHERE blocker_id = ? OR blocked_id = ? LIMIT 1",
        (user_id, user_id),
    )
