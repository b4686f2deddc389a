"""Finding people: search by the start of a username or display name."""

from sqlite_utils import Database

from . import db as dbm

SEARCH_MAX = 50  # characters of a query; nobody's name is longer


def _prefix_range(text: str) -> tuple[str, str]:
    """The lowest and just-past-highest strings that start with `text`: a prefix as a range, which
    an index answers without scanning (LIKE could not use these indexes here)."""
    return text, text + "\U0010ffff"  # the highest code point: above anything after the prefix


def search(db: Database, viewer_id: int, query: str, limit: int = 20) -> list[dict]:
    """People whose username or display name starts with `query`, ignoring case in any script
    (`casefold`: "ÉMILE" finds "émile", "STRASSE" finds "Straße"), closest first: the exact
    username, then usernames, then display names. Nobody the viewer blocked or who blocked the
    viewer, and no system account. A blank query finds nobody.

    Usernames are ASCII, so SQLite's NOCASE index on them folds them rightly; display names are
    folded by Python into `display_name_fold` (kept by accounts.py), which has its own index.
    """
    query = (query or "").strip().lstrip("@")[:SEARCH_MAX].casefold()
    if not query:
        return []
    low, high = _prefix_range(query)
    return dbm.all_rows(
        db,
        """
        SELECT id, username, display_name FROM users
        WHERE is_system = 0
          AND ((username COLLATE NOCASE >= :low AND username COLLATE NOCASE < :high)
               OR (display_name_fold >= :low AND display_name_fold < :high))
          AND id NOT IN (SELECT blocked_id FROM blocks WHERE blocker_id = :me)
          AND id NOT IN (SELECT blocker_id FROM blocks WHERE blocked_id = :me)
        ORDER BY username = :low COLLATE NOCASE DESC,
                 (username COLLATE NOCASE >= :low AND username COLLATE NOCASE < :high) DESC,
                 username COLLATE NOCASE
        LIMIT :limit
        """,
        {"low": low, "high": high, "me": viewer_id, "limit": limit},
    )
