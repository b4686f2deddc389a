"""Space cards (issue 18): a post or message holding a Space's link shows the Space as a card
(title, host, live or ended, `Join`). One query reads every card of a page.

A link is the room's URL on this site, absolute (`https://host/spaces/12`) or as a path
(`/spaces/12`, which `Share` -> `Post to your followers` writes). What a card shows is decided
here, so the template only lays it out: an ended Space is no longer public, so its card says only
that it ended; a Space whose host blocked the viewer (or whom the viewer blocked) shows nothing
of itself.
"""

import re

from sqlite_utils import Database

from . import db as dbm

MAX_PER_PAGE = 200  # Spaces looked up at most per page: a page lists at most 200 items


def _link_pattern(host: str) -> re.Pattern:
    origin = rf"(?:https?://{re.escape(host)})?" if host else ""
    return re.compile(rf"(?:^|(?<=[\s(]))(?:{origin})/spaces/(\d+)/?(?=$|[\s).,!?;:])")


def linked_space(host: str, *texts: str | None) -> int | None:
    """The first Space linked in `texts` (a post's body, then its link), or None."""
    pattern = _link_pattern(host)
    for text in texts:
        if text and (found := pattern.search(text)):
            return int(found.group(1))
    return None


def state(space: dict) -> str:
    """What a card says a Space is: 'live', 'scheduled' (not started yet) or 'ended'."""
    if space["ended_at"] is not None:
        return "ended"
    return "scheduled" if space["scheduled_for"] is not None else "live"


def cards(db: Database, viewer_id: int, space_ids: list[int]) -> dict[int, dict]:
    """Each Space's card as `viewer_id` may see it, read in one query: {space id: card}.
    Unknown Spaces have no card (the link stays a plain link)."""
    ids = sorted(set(space_ids))[:MAX_PER_PAGE]
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    rows = dbm.all_rows(
        db,
        "SELECT s.id, s.title, s.created_at, s.ended_at, s.scheduled_for, s.host_id,"
        " u.username AS host_username,"
        " u.display_name AS host_display_name,"
        " EXISTS (SELECT 1 FROM blocks b WHERE (b.blocker_id = s.host_id AND b.blocked_id = ?)"
        "   OR (b.blocker_id = ? AND b.blocked_id = s.host_id)) AS blocked"
        f" FROM spaces s JOIN users u ON u.id = s.host_id WHERE s.id IN ({marks})",
        (viewer_id, viewer_id, *ids),
    )
    return {row["id"]: _card(row, viewer_id) for row in rows}


def _card(row: dict, viewer_id: int) -> dict:
    if row["blocked"]:
        return {"id": row["id"], "state": "unavailable"}
    if state(row) == "ended":
        return {"id": row["id"], "state": "ended"}
    if state(row) == "scheduled":
        return {
            "id": row["id"],
            "state": "scheduled",
            "title": row["title"],
            "host_username": row["host_username"],
            "host_display_name": row["host_display_name"],
            "starts_at": row["scheduled_for"],
            "own": row["host_id"] == viewer_id,
        }
    return {
        "id": row["id"],
        "state": state(row),
        "title": row["title"],
        "host_username": row["host_username"],
        "host_display_name": row["host_display_name"],
        "started_at": row["created_at"],
    }


def attach(db: Database, viewer_id: int, items: list[dict], host: str) -> list[dict]:
    """Puts each item's card (a post or message linking a Space) in `item["space_card"]`."""
    linked = {id(item): linked_space(host, item.get("body"), item.get("link")) for item in items}
    found = cards(db, viewer_id, [sid for sid in linked.values() if sid is not None])
    for item in items:
        item["space_card"] = found.get(linked[id(item)])
    return items
