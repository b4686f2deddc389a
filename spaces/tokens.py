"""API tokens for the terminal client (`spaces login`): they expire, an account holds a few at
most, and their owner can list and revoke them. Only a token's sha256 is stored.

What a token may reach is decided elsewhere, in one place (web.TOKEN_ENDPOINTS).
"""

import hashlib
import secrets

from sqlite_utils import Database

from . import db as dbm
from .clock import now

PER_ACCOUNT = 10  # issuing one more retires the oldest
TOUCH_EVERY = 60  # seconds: how fresh "last used" is kept, without a write per request
MAX_LENGTH = 100  # longer is no token of ours; not worth hashing


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(db: Database, user_id: int, *, days: float) -> str:
    """A new token that works for `days` (the API_TOKEN_DAYS setting). The account's expired
    tokens, and its oldest beyond PER_ACCOUNT, are retired in the same transaction."""
    token = secrets.token_urlsafe(32)
    at = now()
    with dbm.write(db):
        db.execute(
            "INSERT INTO api_tokens (token_hash, user_id, created_at, expires_at)"
            " VALUES (?, ?, ?, ?)",
            (_hash(token), user_id, at, at + days * 86400),
        )
        db.execute(
            "DELETE FROM api_tokens WHERE user_id = ? AND (expires_at <= ? OR id NOT IN"
            " (SELECT id FROM api_tokens WHERE user_id = ? ORDER BY id DESC LIMIT ?))",
            (user_id, at, user_id, PER_ACCOUNT),
        )
    return token


def user_id_for(db: Database, token: str | None) -> int | None:
    """Whose token this is, if it has not expired or been revoked; notes that it was used."""
    if not token or len(token) > MAX_LENGTH:
        return None
    row = dbm.one(
        db,
        "SELECT id, user_id, last_used_at, expires_at FROM api_tokens WHERE token_hash = ?",
        (_hash(token),),
    )
    at = now()
    if row is None or row["expires_at"] <= at:
        return None
    if row["last_used_at"] is None or at - row["last_used_at"] >= TOUCH_EVERY:
        db.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", (at, row["id"]))
    return row["user_id"]


def for_user(db: Database, user_id: int) -> list[dict]:
    """The account's working tokens, newest first: id, created_at, last_used_at, expires_at."""
    return dbm.all_rows(
        db,
        "SELECT id, created_at, last_used_at, expires_at FROM api_tokens"
        " WHERE user_id = ? AND expires_at > ? ORDER BY id DESC",
        (user_id, now()),
    )


def revoke(db: Database, user_id: int, token_id: int) -> bool:
    """Ends one of the account's own tokens; False if it has no such token."""
    cur = db.execute("DELETE FROM api_tokens WHERE id = ? AND user_id = ?", (token_id, user_id))
    return cur.rowcount > 0


def revoke_all(db: Database, user_id: int) -> int:
    """Ends every token of the account (a password change); returns how many."""
    return db.execute("DELETE FROM api_tokens WHERE user_id = ?", (user_id,)).rowcount
