"""Short posts and the home timeline (people you follow and yourself)."""

from sqlite_utils import Database

from . import db as dbm
from .clock import now
from .messages import validate_text

BODY_MAX = 280


def create(db: Database, author_id: int, body: str, link: str | None = None) -> dict:
    body, link = validate_text(body, link, "Write something to post.", "Posts", BODY_MAX)
    cur = db.execute(
        "INSERT INTO posts (author_id, body, link, created_at) VALUES (?, ?, ?, ?)",
        (author_id, body, link, now()),
    )
    return dbm.one(db, "SELECT * FROM posts WHERE id = ?", (cur.lastrowid,))


_SELECT = (
    "SELECT p.*, u.username, u.display_name, u.picture_version"
    " FROM posts p JOIN users u ON u.id = p.author_id"
)


def timeline(db: Database, user_id: int, limit: int = 50) -> list[dict]:
    """Posts of people one follows (for a protected account: approved) and one's own."""
    return dbm.all_rows(
        db,
        _SELECT + " WHERE p.author_id = :me OR p.author_id IN"
        " (SELECT followee_id FROM follows WHERE follower_id = :me)"
        " ORDER BY p.id DESC LIMIT :limit",
        {"me": user_id, "limit": limit},
    )


def by_author(db: Database, author_id: int, limit: int = 50) -> list[dict]:
    return dbm.all_rows(
        db, _SELECT + " WHERE p.author_id = ? ORDER BY p.id DESC LIMIT ?", (author_id, limit)
    )
