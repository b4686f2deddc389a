"""Retention: how long an ended Space's recording and captions are kept, and the exact purge.

Kept 30 days from the end. A violation keeps them 90 days from the decision (counted from the
decision, so a violation found on day 29 still leaves 90 days to appeal); an appeal extends
nothing by itself, and an overturned violation no longer extends anything. Past the deadline the
recording files are deleted and the caption rows too, with SQLite's secure_delete on and the WAL
checkpointed, so the words are gone from the database file and its WAL, not only hidden. The
Space's row stays as a tombstone (title, times) for the reports that point to it.
"""

import logging
import time
from pathlib import Path

from sqlite_utils import Database

from . import db as dbm
from . import pictures, recordings
from .clock import now

log = logging.getLogger(__name__)

DAY = 24 * 60 * 60
KEEP_AFTER_END = 30 * DAY
KEEP_AFTER_VIOLATION = 90 * DAY


def deadline(space: dict) -> float | None:
    """When the Space's audio and captions must be gone; None while it is live."""
    if space.get("ended_at") is None:
        return None
    end = space["ended_at"] + KEEP_AFTER_END
    if space.get("violation_at") is not None:
        return max(end, space["violation_at"] + KEEP_AFTER_VIOLATION)
    return end


def is_kept(space: dict) -> bool:
    """Whether the recording and captions are still there (ended, not yet purged)."""
    return space.get("ended_at") is not None and space.get("purged_at") is None


def due(db: Database) -> list[dict]:
    t = now()
    rows = dbm.all_rows(
        db,
        "SELECT id, ended_at, violation_at FROM spaces"
        " WHERE ended_at IS NOT NULL AND purged_at IS NULL",
    )
    return [row for row in rows if deadline(row) < t]


def purge(
    db: Database, recordings_dir: str | Path, pictures_dir: str | Path | None = None
) -> list[int]:
    """Purges every Space past its deadline, and (given `pictures_dir`) every profile picture no
    account names any more (pictures.purge_orphans). Idempotent; safe while the server runs.

    The recording files deleted are those the rows name and every file in `recordings_dir` named
    as one of the Space's parts: a file whose row was never written (a `kill -9`, a long lock)
    goes too."""
    purged = []
    for space in due(db):
        named = recordings.files(db, space["id"])
        on_disk = recordings.parts_on_disk(recordings_dir, space["id"]).values()
        for path in {*named, *on_disk}:
            path.unlink(missing_ok=True)
        with dbm.write(db):
            db.execute("DELETE FROM captions WHERE space_id = ?", (space["id"],))
            recordings.delete_for_space(db, space["id"])
            db.execute("UPDATE spaces SET purged_at = ? WHERE id = ?", (now(), space["id"]))
        purged.append(space["id"])
        log.info("purged the recording and captions of Space %s", space["id"])
    if pictures_dir is not None:
        for gone in pictures.purge_orphans(db, pictures_dir):
            log.info("removed the picture %s: no account names it", gone.name)
    # secure_delete (set on every connection) zeroes freed pages; the checkpoint moves them
    # into the main file and truncates the WAL, so no copy of the old pages is left there.
    # Every run, not only one that purged: if a long reader kept an earlier run's checkpoint
    # from finishing, the old pages are still in the WAL and this run must clear them.
    checkpoint(db)
    return purged


def checkpoint(db: Database, attempts: int = 50) -> bool:
    """Checkpoints the WAL into the database file and truncates it; retries while readers hold
    older snapshots. True when the WAL is empty. Each try waits at most 100 ms for the lock
    (not the usual busy timeout), so writers are never held up for long."""
    db.execute("PRAGMA busy_timeout = 100")
    try:
        for _ in range(attempts):
            busy = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            if not busy:
                return True
            time.sleep(0.1)
    finally:
        db.execute(f"PRAGMA busy_timeout = {dbm.BUSY_TIMEOUT_MS}")
    log.warning("the WAL could not be checkpointed: readers kept it busy")
    return False
