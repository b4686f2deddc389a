"""A post pinned to a live Space: the host (policy action `pin`) pins one of their own posts, and
every page of the room shows it in its `Pinned` region until it is unpinned or replaced.

One pin per Space (a new one replaces it). The pin row goes with its post (ON DELETE CASCADE), so
a deleted post is unpinned wherever it was pinned.
"""

from sqlite_utils import Database

from . import db as dbm
from . import policy, rooms
from .clock import now
from .errors import Forbidden, NotFound
from .events import RoomEvent

SECTION = "pinned"  # the room section that shows it (room_render.SECTION_TEMPLATES)
NOT_YOURS = "You can only pin your own posts."


def _changed(space_id: int) -> RoomEvent:
    return RoomEvent(space_id, frozenset({SECTION}))


def pin(db: Database, space_id: int, user: dict, post_id: int) -> RoomEvent:
    """Pins `post_id` (one of `user`'s own posts) to the Space, replacing any pin before."""
    space = rooms.get(db, space_id)
    with dbm.write(db):
        rooms.require(db, space, user, "pin")
        author = dbm.scalar(db, "SELECT author_id FROM posts WHERE id = ?", (post_id,))
        if author is None:
            raise NotFound("There is no such post.")
        if author != user["id"]:
            raise Forbidden(NOT_YOURS)
        db.execute(
            "INSERT INTO space_pins (space_id, post_id, pinned_by, pinned_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (space_id) DO UPDATE SET post_id = excluded.post_id,"
            " pinned_by = excluded.pinned_by, pinned_at = excluded.pinned_at",
            (space_id, post_id, user["id"], now()),
        )
    return _changed(space_id)


def unpin(db: Database, space_id: int, user: dict) -> RoomEvent:
    space = rooms.get(db, space_id)
    with dbm.write(db):
        rooms.require(db, space, user, "pin")
        db.execute("DELETE FROM space_pins WHERE space_id = ?", (space_id,))
    return _changed(space_id)


def pinned(db: Database, space_id: int) -> dict | None:
    """The pinned post with its author's name and picture, or None."""
    return dbm.one(
        db,
        "SELECT p.id, p.body, p.link, p.created_at, p.author_id, u.username, u.display_name,"
        " u.picture_version FROM space_pins s JOIN posts p ON p.id = s.post_id"
        " JOIN users u ON u.id = p.author_id WHERE s.space_id = ?",
        (space_id,),
    )


def pin_target(db: Database, user: dict | None) -> dict | None:
    """The live Space this person may pin their posts to now (they host it), or None: where a
    post's `Pin to my Space` sends it."""
    if user is None:
        return None
    for space_id in rooms.spaces_present_in(db, user["id"]):
        space = rooms.get(db, space_id)
        if policy.can(rooms.actor(db, space, user), "pin", space):
            return space
    return None
