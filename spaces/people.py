"""Finding people: search by the start of a username or display name."""

from sqlite_utils import Database

from . import db as dbm

SEARCH_MAX = 50  # characters of a query; nobody's name is longer


def _prefix_pattern(text: str) -> str:
    r"""A LIKE pattern for "starts with `text`": % and _ typed (usernames have underscores) match
    themselves only, escaped with \."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


def search(db: Database, viewer_id: int, query: str, limit: int = 20) -> list[dict]:
    """People whose username or display name starts with `query`, ignoring case (for ASCII
    letters, as SQLite's LIKE does), closest first: the exact username, then usernames, then
    display names. Nobody the viewer blocked or who blocked the viewer, and no system account.
    A blank query finds nobody."""
    query = (query or "").strip().lstrip("@")[:SEARCH_MAX]
    if not query:
        return []
    pattern = _prefix_pattern(query)
    return dbm.all_rows(
        db,
        r"""
        SELECT id, username, display_name FROM users
        WHERE is_system = 0
          AND (username LIKE :p ESCAPE '\' OR display_name LIKE :p ESCAPE '\')
          AND id NOT IN (SELECT blocked_id FROM blocks WHERE blocker_id = :me)
          AND id NOT IN (SELECT blocker_id FROM blocks WHERE blocked_id = :me)
        ORDER BY username = :q COLLATE NOCASE DESC, username LIKE :p ESCAPE '\' DESC,
                 username COLLATE NOCASE
        LIMIT :limit
        """,
        {"p": pattern, "q": query, "me": viewer_id, "limit": limit},
    )
