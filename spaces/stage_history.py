"""Who was on stage in a Space, and when: the review page lists everyone who could be heard,
including people moved back to the listeners or gone since.

Turns are kept from the room events (a broker subscriber, wired in app.py) rather than by every
function in rooms.py that changes a role: each event is followed by a look at the stage, and a
turn opens for whoever is on it without one and closes for whoever is no longer there. That look
is two reads; a write happens only when the stage really changed, so the churn of listeners
joining costs no write lock. Repeating it changes nothing, so several nodes may all record.
"""

from sqlite_utils import Database

from . import db as dbm
from .clock import now
from .events import RoomEvent

# Sections whose change can move someone on or off the stage (a listener joining re-renders
# "stage" too: the look finds nothing to write).
STAGE_SECTIONS = frozenset({"stage", "ended"})


def on_event(databases: dbm.ThreadLocalDatabases, event: RoomEvent) -> None:
    """The broker subscriber: records the stage after any event that may have changed it."""
    if event.kind == "ended" or event.sections & STAGE_SECTIONS:
        record(databases.get(), event.space_id)


def record(db: Database, space_id: int) -> None:
    """Brings the Space's turns in line with who is on stage now."""
    space = dbm.one(
        db, "SELECT host_id, created_at, ended_at FROM spaces WHERE id = ?", (space_id,)
    )
    if space is None or _in_line(db, space_id, space):
        return
    with dbm.write(db):
        on_stage, open_turns = _on_stage(db, space_id, space), _open_turns(db, space_id)
        t = space["ended_at"] or now()
        host_id = space["host_id"]
        if not _has_turns(db, space_id, host_id):
            # Hosting began with the Space, which no event announces: the first turn starts then.
            still_on = host_id in on_stage
            db.execute(
                "INSERT INTO stage_turns (space_id, user_id, started_at, ended_at)"
                " VALUES (?, ?, ?, ?)",
                (space_id, host_id, space["created_at"], None if still_on else t),
            )
            if still_on:
                open_turns.add(host_id)
        for user_id in open_turns - on_stage:
            db.execute(
                "UPDATE stage_turns SET ended_at = ? WHERE space_id = ? AND user_id = ?"
                " AND ended_at IS NULL",
                (t, space_id, user_id),
            )
        for user_id in on_stage - open_turns:
            db.execute(
                "INSERT INTO stage_turns (space_id, user_id, started_at) VALUES (?, ?, ?)",
                (space_id, user_id, t),
            )


def _in_line(db: Database, space_id: int, space: dict) -> bool:
    return _on_stage(db, space_id, space) == _open_turns(db, space_id) and _has_turns(
        db, space_id, space["host_id"]
    )


def _has_turns(db: Database, space_id: int, user_id: int) -> bool:
    return dbm.exists(
        db, "SELECT 1 FROM stage_turns WHERE space_id = ? AND user_id = ?", (space_id, user_id)
    )


def _on_stage(db: Database, space_id: int, space: dict) -> set[int]:
    if space["ended_at"] is not None:
        return set()
    rows = db.execute(
        "SELECT user_id FROM participants WHERE space_id = ? AND present = 1"
        " AND role IN ('host', 'speaker')",
        (space_id,),
    )
    return {r[0] for r in rows}


def _open_turns(db: Database, space_id: int) -> set[int]:
    rows = db.execute(
        "SELECT user_id FROM stage_turns WHERE space_id = ? AND ended_at IS NULL", (space_id,)
    )
    return {r[0] for r in rows}


def speakers(db: Database, space_id: int) -> list[dict]:
    """Everyone who was on stage, in the order they first came up, each with their turns
    (`start`, `end` in seconds since the Space began; `end` None while still on stage). Anyone
    captioned without a recorded turn (a Space older than this record) is listed with none."""
    space = dbm.one(db, "SELECT created_at, ended_at FROM spaces WHERE id = ?", (space_id,))
    if space is None:
        return []
    rows = dbm.all_rows(
        db,
        "SELECT t.user_id, u.username, u.display_name, t.started_at,"
        " COALESCE(t.ended_at, s.ended_at) AS ended_at"
        " FROM stage_turns t JOIN users u ON u.id = t.user_id JOIN spaces s ON s.id = t.space_id"
        " WHERE t.space_id = ? ORDER BY t.started_at, t.id",
        (space_id,),
    )
    people: dict[int, dict] = {}
    for row in rows:
        person = people.setdefault(
            row["user_id"],
            {
                "id": row["user_id"],
                "username": row["username"],
                "display_name": row["display_name"],
                "turns": [],
            },
        )
        end = row["ended_at"]
        person["turns"].append(
            {
                "start": row["started_at"] - space["created_at"],
                "end": None if end is None else end - space["created_at"],
            }
        )
    captioned = dbm.all_rows(
        db,
        "SELECT DISTINCT u.id, u.username, u.display_name FROM captions c"
        " JOIN users u ON u.id = c.user_id WHERE c.space_id = ? ORDER BY c.start",
        (space_id,),
    )
    for row in captioned:
        people.setdefault(row["id"], {**row, "turns": []})
    return list(people.values())
