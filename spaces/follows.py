"""Follows and follow requests. Protected accounts approve their followers."""

from sqlite_utils import Database

from . import accounts, blocks, notifications
from . import db as dbm
from .clock import now
from .errors import Forbidden, Invalid, NotFound


def follow(db: Database, follower_id: int, followee_id: int) -> str:
    """Follows, or asks to follow a protected account. Returns 'following' or 'requested'."""
    if follower_id == followee_id:
        raise Invalid("You cannot follow yourself.")
    target = accounts.get(db, followee_id)
    if target is None:
        raise NotFound("No such account.")
    if blocks.either_blocked(db, follower_id, followee_id):
        raise Forbidden("You cannot follow this account.")
    with dbm.write(db):
        if is_following(db, follower_id, followee_id):
            return "following"
        if target["protected"]:
            cur = db.execute(
                "INSERT OR IGNORE INTO follow_requests (requester_id, target_id, created_at)"
                " VALUES (?, ?, ?)",
                (follower_id, followee_id, now()),
            )
            if cur.rowcount:  # a new request, not a repeated one (issue 18)
                name = accounts.get(db, follower_id)["username"]
                notifications.add(
                    db,
                    followee_id,
                    "follow_request",
                    f"{name} asked to follow you.",
                    "/follow-requests",
                )
            return "requested"
        db.execute(
            "INSERT OR IGNORE INTO follows (follower_id, followee_id, created_at) VALUES (?, ?, ?)",
            (follower_id, followee_id, now()),
        )
    return "following"


def unfollow(db: Database, follower_id: int, followee_id: int) -> None:
    with dbm.write(db):
        db.execute(
            "DELETE FROM follows WHERE follower_id = ? AND followee_id = ?",
            (follower_id, followee_id),
        )
        db.execute(
            "DELETE FROM follow_requests WHERE requester_id = ? AND target_id = ?",
            (follower_id, followee_id),
        )


def approve(db: Database, target_id: int, requester_id: int) -> None:
    with dbm.write(db):
        cur = db.execute(
            "DELETE FROM follow_requests WHERE requester_id = ? AND target_id = ?",
            (requester_id, target_id),
        )
        if cur.rowcount == 0:
            raise NotFound("That follow request is gone.")
        if not blocks.either_blocked(db, requester_id, target_id):
            db.execute(
                "INSERT OR IGNORE INTO follows (follower_id, followee_id, created_at)"
                " VALUES (?, ?, ?)",
                (requester_id, target_id, now()),
            )


def decline(db: Database, target_id: int, requester_id: int) -> None:
    db.execute(
        "DELETE FROM follow_requests WHERE requester_id = ? AND target_id = ?",
        (requester_id, target_id),
    )


def is_following(db: Database, follower_id: int, followee_id: int) -> bool:
    return dbm.exists(
        db,
        "SELECT 1 FROM follows WHERE follower_id = ? AND followee_id = ?",
        (follower_id, followee_id),
    )


def has_requested(db: Database, requester_id: int, target_id: int) -> bool:
    return dbm.exists(
        db,
        "SELECT 1 FROM follow_requests WHERE requester_id = ? AND target_id = ?",
        (requester_id, target_id),
    )


def pending_requests(db: Database, target_id: int) -> list[dict]:
    return dbm.all_rows(
        db,
        "SELECT u.id, u.username, u.display_name FROM follow_requests r"
        " JOIN users u ON u.id = r.requester_id WHERE r.target_id = ? ORDER BY r.created_at",
        (target_id,),
    )


def pending_count(db: Database, target_id: int) -> int:
    """How many people wait for `target_id` to approve their follow request."""
    return dbm.scalar(db, "SELECT COUNT(*) FROM follow_requests WHERE target_id = ?", (target_id,))


def counts(db: Database, user_id: int) -> dict:
    return {
        "followers": dbm.scalar(
            db, "SELECT COUNT(*) FROM follows WHERE followee_id = ?", (user_id,)
        ),
        "following": dbm.scalar(
            db, "SELECT COUNT(*) FROM follows WHERE follower_id = ?", (user_id,)
        ),
    }


def following_ids(db: Database, user_id: int) -> list[int]:
    rows = db.execute("SELECT followee_id FROM follows WHERE follower_id = ?", (user_id,))
    return [r[0] for r in rows]


def can_see_content(db: Database, viewer_id: int | None, owner: dict) -> bool:
    """Whether a viewer may see an account's posts and follow lists."""
    if viewer_id == owner["id"]:
        return True
    if viewer_id is not None and blocks.has_blocked(db, owner["id"], viewer_id):
        return False
    if owner["protected"]:
        return viewer_id is not None and is_following(db, viewer_id, owner["id"])
    return True


def list_people(db: Database, user_id: int, direction: str) -> list[dict]:
    if direction == "followers":
        sql = (
            "SELECT u.id, u.username, u.display_name FROM follows f JOIN users u"
            " ON u.id = f.follower_id WHERE f.followee_id = ? ORDER BY f.created_at DESC LIMIT 500"
        )
    else:
        sql = (
            "SELECT u.id, u.username, u.display_name FROM follows f JOIN users u"
            " ON u.id = f.followee_id WHERE f.follower_id = ? ORDER BY f.created_at DESC LIMIT 500"
        )
    return dbm.all_rows(db, sql, (user_id,))
