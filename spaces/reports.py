"""Reports of a Space, an account or a message, kept for admins to review."""

from sqlite_utils import Database

from . import db as dbm
from .clock import now
from .errors import Invalid
from .form_text import form_text

REASONS = {
    "spam": "Spam",
    "abuse": "Abuse or harassment",
    "hate": "Hateful conduct",
    "violence": "Violent speech",
    "private": "Private information",
    "sensitive": "Sensitive media",
    "other": "Other",
}
DETAILS_MAX = 1000


def create(
    db: Database,
    reporter_id: int,
    reason: str,
    details: str = "",
    *,
    space_id: int | None = None,
    account_id: int | None = None,
    message_id: int | None = None,
) -> dict:
    if reason not in REASONS:
        raise Invalid("Choose a reason.", "reason")
    details = form_text(details, "details", most=DETAILS_MAX, plural="Details")
    if not (space_id or account_id or message_id):
        raise Invalid("Say what you are reporting.")
    cur = db.execute(
        "INSERT INTO reports (reporter_id, space_id, account_id, message_id, reason, details,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (reporter_id, space_id, account_id, message_id, reason, details, now()),
    )
    return dbm.one(db, "SELECT * FROM reports WHERE id = ?", (cur.lastrowid,))


def by_reporter(db: Database, reporter_id: int) -> list[dict]:
    return dbm.all_rows(
        db,
        "SELECT r.*, s.title AS space_title, u.username AS account_username FROM reports r"
        " LEFT JOIN spaces s ON s.id = r.space_id LEFT JOIN users u ON u.id = r.account_id"
        " WHERE r.reporter_id = ? ORDER BY r.id DESC LIMIT 200",
        (reporter_id,),
    )
