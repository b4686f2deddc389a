"""Direct messages between two people. A block in either direction stops new messages."""

from urllib.parse import urlsplit

from sqlite_utils import Database

from . import accounts, blocks
from . import db as dbm
from .clock import now
from .errors import Forbidden, Invalid, NotFound
from .form_text import form_text

BODY_MAX = 1000
LINK_MAX = 500


def validate_link(link: str | None) -> str | None:
    """Links are site-relative paths or http(s) URLs; anything else (javascript:...) is refused."""
    link = (link or "").strip()
    if not link:
        return None
    if len(link) > LINK_MAX:
        raise Invalid(f"Links are at most {LINK_MAX} characters.", "link")
    parts = urlsplit(link)
    relative = not parts.scheme and not parts.netloc and link.startswith("/")
    if not relative and parts.scheme not in ("http", "https"):
        raise Invalid("Links must start with http://, https:// or /.", "link")
    # Browsers drop tabs and newlines and read "/\\host" like "//host": both leave the site.
    if link.startswith(("//", "/\\")) or any(ord(c) < 32 or ord(c) == 127 for c in link):
        raise Invalid("Links must start with http://, https:// or /.", "link")
    return link


def _pair(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


def validate_text(
    body: str | None, link: str | None, empty: str, kind: str, limit: int = BODY_MAX
) -> tuple[str, str | None]:
    """A message's or post's text and optional link, as stored: trimmed, bounded, checked."""
    return form_text(body, "body", most=limit, plural=kind, empty=empty), validate_link(link)


def send(
    db: Database, sender_id: int, recipient_id: int, body: str, link: str | None = None
) -> dict:
    """Sends a message; the system account's notices reach people whatever they blocked."""
    body, link = validate_text(body, link, "Write a message.", "Messages")
    if sender_id == recipient_id:
        raise Invalid("You cannot message yourself.")
    if accounts.get(db, recipient_id) is None:
        raise NotFound("No such account.")
    system = dbm.scalar(db, "SELECT is_system FROM users WHERE id = ?", (sender_id,))
    if not system and blocks.either_blocked(db, sender_id, recipient_id):
        raise Forbidden("You cannot message this account.")
    a, b = _pair(sender_id, recipient_id)
    t = now()
    with dbm.write(db):
        db.execute(
            "INSERT INTO conversations (user_a, user_b, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (user_a, user_b) DO UPDATE SET updated_at = excluded.updated_at",
            (a, b, t),
        )
        conversation_id = dbm.scalar(
            db, "SELECT id FROM conversations WHERE user_a = ? AND user_b = ?", (a, b)
        )
        cur = db.execute(
            "INSERT INTO messages (conversation_id, sender_id, body, link, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (conversation_id, sender_id, body, link, t),
        )
    return dbm.one(db, "SELECT * FROM messages WHERE id = ?", (cur.lastrowid,))


def conversations(db: Database, user_id: int) -> list[dict]:
    return dbm.all_rows(
        db,
        """
        SELECT c.id, c.updated_at, u.id AS other_id, u.username AS other_username,
               u.display_name AS other_display_name, u.picture_version AS other_picture_version,
               (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id
                  AND m.sender_id != :me AND m.read_at IS NULL) AS unread,
               (SELECT body FROM messages m WHERE m.conversation_id = c.id
                  ORDER BY m.id DESC LIMIT 1) AS last_body
        FROM conversations c
        JOIN users u ON u.id = CASE WHEN c.user_a = :me THEN c.user_b ELSE c.user_a END
        WHERE c.user_a = :me OR c.user_b = :me
        ORDER BY c.updated_at DESC LIMIT 200
        """,
        {"me": user_id},
    )


def conversation_with(db: Database, user_id: int, other_id: int) -> dict | None:
    a, b = _pair(user_id, other_id)
    return dbm.one(db, "SELECT * FROM conversations WHERE user_a = ? AND user_b = ?", (a, b))


def thread(
    db: Database, user_id: int, other_id: int, after_id: int = 0, limit: int = 200
) -> list[dict]:
    """The latest messages with another person (oldest first), marking theirs read."""
    conversation = conversation_with(db, user_id, other_id)
    if conversation is None:
        return []
    rows = dbm.all_rows(
        db,
        "SELECT m.*, u.username AS sender_username, u.display_name AS sender_display_name,"
        " u.picture_version AS sender_picture_version FROM messages m JOIN users u"
        " ON u.id = m.sender_id WHERE m.conversation_id = ? AND m.id > ?"
        " ORDER BY m.id DESC LIMIT ?",
        (conversation["id"], after_id, limit),
    )
    db.execute(
        "UPDATE messages SET read_at = ? WHERE conversation_id = ? AND sender_id != ?"
        " AND read_at IS NULL",
        (now(), conversation["id"], user_id),
    )
    return list(reversed(rows))


def unread_count(db: Database, user_id: int) -> int:
    return dbm.scalar(
        db,
        "SELECT COUNT(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id"
        " WHERE (c.user_a = ? OR c.user_b = ?) AND m.sender_id != ? AND m.read_at IS NULL",
        (user_id, user_id, user_id),
    )


def get_message(db: Database, message_id: int, user_id: int) -> dict:
    """A message that the user took part in (either side), else NotFound."""
    row = dbm.one(
        db,
        "SELECT m.* FROM messages m JOIN conversations c ON c.id = m.conversation_id"
        " WHERE m.id = ? AND (c.user_a = ? OR c.user_b = ?)",
        (message_id, user_id, user_id),
    )
    if row is None:
        raise NotFound("No such message.")
    return row
