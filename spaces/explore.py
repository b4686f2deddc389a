"""Explore: every live Space, so people find rooms beyond the hosts they follow."""

from sqlite_utils import Database

from . import db as dbm
from . import rooms, schedule

LIMIT = 100


def live_spaces(db: Database, viewer_id: int, limit: int = LIMIT) -> list[dict]:
    """Every live Space, most listeners first, with its host, speakers and listener count.
    Hosts the viewer blocked, or who blocked the viewer, are left out."""
    spaces = dbm.all_rows(
        db,
        """
        SELECT s.id, s.title, s.host_id, s.created_at, u.username AS host_username,
               u.display_name AS host_display_name,
               (SELECT COUNT(*) FROM participants l WHERE l.space_id = s.id AND l.present = 1
                  AND l.role = 'listener') AS listener_count
        FROM spaces s JOIN users u ON u.id = s.host_id
        WHERE s.ended_at IS NULL AND s.scheduled_for IS NULL
          AND NOT EXISTS (SELECT 1 FROM blocks b WHERE (b.blocker_id = s.host_id
              AND b.blocked_id = :me) OR (b.blocker_id = :me AND b.blocked_id = s.host_id))
        ORDER BY listener_count DESC, s.created_at DESC LIMIT :limit
        """,
        {"me": viewer_id, "limit": limit},
    )
    return rooms.with_speakers(db, spaces)


def page(db: Database, viewer_id: int) -> dict:
    """What the Explore page shows: `Live Spaces` and `Upcoming`."""
    return {
        "live": live_spaces(db, viewer_id),
        "upcoming": schedule.upcoming(db, viewer_id),
    }
