"""Sign-in sessions: one row per signed-in browser, so logout and a password change can end it.

The cookie holds only a random id; the table keeps its sha256, so a copy of the database signs
nobody in. A session lasts while it is used: it ends after `max_age` seconds without a request.
"""

import hashlib
import re
import secrets

from sqlite_utils import Database

from . import db as dbm
from .clock import now

# Writing `last_seen_at` on every request would make every page a write; this often is enough to
# show when a session was last used and to expire idle ones.
TOUCH_EVERY = 5 * 60

# The first that matches names the browser or the system (order matters: Edge and Opera say
# "Chrome", Chrome says "Safari", Android says "Linux").
_BROWSERS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
)
_SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iOS"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def agent_summary(user_agent: str | None) -> str:
    """`Firefox on Linux` from a User-Agent header: enough to recognise a device, no more."""
    agent = user_agent or ""
    browser = next((name for mark, name in _BROWSERS if mark in agent), None)
    system = next((name for mark, name in _SYSTEMS if mark in agent), None)
    if browser and system:
        return f"{browser} on {system}"
    if browser or system:
        return browser or system
    word = re.match(r"[\w.-]{1,40}", agent)
    return word.group(0) if word else "Unknown browser"


def start(db: Database, user_id: int, user_agent: str | None = None, *, max_age: float) -> str:
    """A new session for `user_id`; returns the id for the cookie (only its hash is kept).
    The person's sessions that ran out are deleted on the way."""
    session_id = secrets.token_urlsafe(32)
    at = now()
    with dbm.write(db):
        db.execute(
            "DELETE FROM sessions WHERE user_id = ? AND last_seen_at <= ?", (user_id, at - max_age)
        )
        db.execute(
            "INSERT INTO sessions (id_hash, user_id, created_at, last_seen_at, user_agent)"
            " VALUES (?, ?, ?, ?, ?)",
            (_hash(session_id), user_id, at, at, agent_summary(user_agent)),
        )
    return session_id


def user_id_for(db: Database, session_id: str | None, *, max_age: float) -> int | None:
    """Whose session this is, if it has not ended or run out; notes that it was used."""
    if not isinstance(session_id, str) or not session_id or len(session_id) > 100:
        return None
    row = dbm.one(
        db,
        "SELECT user_id, last_seen_at FROM sessions WHERE id_hash = ?",
        (_hash(session_id),),
    )
    at = now()
    if row is None or row["last_seen_at"] <= at - max_age:
        return None
    if at - row["last_seen_at"] >= TOUCH_EVERY:
        db.execute(
            "UPDATE sessions SET last_seen_at = ? WHERE id_hash = ?", (at, _hash(session_id))
        )
    return row["user_id"]


def end(db: Database, session_id: str | None) -> None:
    """Logout: this session stops working wherever its cookie was copied."""
    if isinstance(session_id, str) and session_id:
        db.execute("DELETE FROM sessions WHERE id_hash = ?", (_hash(session_id),))


def end_others(db: Database, user_id: int, keep: str | None) -> int:
    """Every session of the account but `keep` (a password change); returns how many ended."""
    return db.execute(
        "DELETE FROM sessions WHERE user_id = ? AND id_hash != ?",
        (user_id, _hash(keep) if isinstance(keep, str) else ""),
    ).rowcount


def for_user(
    db: Database, user_id: int, *, max_age: float, current: str | None = None
) -> list[dict]:
    """The account's sessions that still work: the one asking (`current`, marked) first, then
    the others, last used first."""
    rows = dbm.all_rows(
        db,
        "SELECT id_hash, created_at, last_seen_at, user_agent FROM sessions"
        " WHERE user_id = ? AND last_seen_at > ? ORDER BY last_seen_at DESC, created_at DESC",
        (user_id, now() - max_age),
    )
    mine = _hash(current) if isinstance(current, str) and current else None
    listed = [
        {
            "created_at": row["created_at"],
            "last_seen_at": row["last_seen_at"],
            "user_agent": row["user_agent"],
            "current": row["id_hash"] == mine,
        }
        for row in rows
    ]
    return sorted(listed, key=lambda s: not s["current"])  # stable: the rest stay in order
