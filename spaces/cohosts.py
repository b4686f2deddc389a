"""Co-hosts (issue 17): up to MAX_COHOSTS speakers the host chose to run the room with them.

A co-host is a speaker whose participant row has `cohost` set. They may do what the host does
with people and requests, and edit the title (policy.py says exactly what); they are on stage,
so they hold one of the SPEAKER_CAP seats. Leaving the stage by any way ends co-hosting: a
trigger in migration m007 clears the flag, so the functions that move people need not know.

While the host is away (their connection dropped), co-hosts keep running the room; the Space
still ends HOST_AWAY_MINUTES after the host left (rooms.abandoned), co-hosts or not: it is the
host's Space, and co-hosts cannot end it, so without that limit it could run on without its host
for good.
"""

from sqlite_utils import Database

from . import db as dbm
from . import rooms
from .errors import Conflict
from .events import RoomEvent
from .policy import MAX_COHOSTS

# Making or unmaking a co-host changes their item (stage), the buttons others see on them
# (stage, listeners), and their own page's host controls (requests, meta).
SECTIONS = frozenset({"meta", "stage", "listeners", "requests"})


def count(db: Database, space_id: int) -> int:
    return dbm.scalar(
        db, "SELECT COUNT(*) FROM participants WHERE space_id = ? AND cohost = 1", (space_id,)
    )


def make_cohost(db: Database, space_id: int, host: dict, target_id: int) -> RoomEvent:
    """Makes someone in the Space a co-host; a listener comes on stage, if there is a seat."""
    space = rooms.get(db, space_id)
    target = rooms._user(db, target_id)  # NotFound for no such account
    with dbm.write(db):  # check-then-write: the co-host cap and the stage's seats
        _, who = rooms.require(db, space, host, "make_cohost", target)
        if count(db, space_id) >= MAX_COHOSTS:
            raise Conflict(f"A Space has at most {MAX_COHOSTS} co-hosts. Remove one first.")
        if who.role == "listener":
            rooms._put_on_stage(db, space_id, target_id)  # the cap, as for any speaker
        db.execute(
            "UPDATE participants SET cohost = 1 WHERE space_id = ? AND user_id = ?",
            (space_id, target_id),
        )
    return RoomEvent(
        space_id, SECTIONS, frozenset({target_id}), ((target_id, "The host made you a co-host."),)
    )


def remove_cohost(db: Database, space_id: int, host: dict, target_id: int) -> RoomEvent:
    """Ends someone's co-hosting; they stay on stage as a speaker."""
    space = rooms.get(db, space_id)
    target = rooms._user(db, target_id)  # NotFound for no such account
    rooms.require(db, space, host, "remove_cohost", target)
    db.execute(
        "UPDATE participants SET cohost = 0 WHERE space_id = ? AND user_id = ?",
        (space_id, target_id),
    )
    notice = "The host made you a speaker instead of a co-host."
    return RoomEvent(space_id, SECTIONS, frozenset({target_id}), ((target_id, notice),))
