"""Recordings of a Space's mix: one row per file, for review, transcripts and the retention purge.

A Space's audio may be recorded in several parts (a restart opens a new file); each row says
where its file is, where it starts in the Space's timeline and whether writing it failed. The
files themselves are written by realtime/recorder.py and deleted by the retention purge.

A part's file is named after its Space (`recording_path`), and its row is written after the file
is opened, by another thread (the audio tick never waits for the database). So a `kill -9` or a
lock longer than the row's retries can leave a file with no row: the files on disk, not only the
rows, decide the next part number and what the purge deletes.
"""

import re
from pathlib import Path

from sqlite_utils import Database

from . import db as dbm
from .clock import now


def add(
    db: Database,
    space_id: int,
    path: str | Path,
    start_offset: float,
    *,
    error: str | None = None,
    created_at: float | None = None,
) -> int:
    """Records that a part of the Space's mix is being written to `path`; returns its id."""
    cur = db.execute(
        "INSERT INTO recordings (space_id, path, start_offset, created_at, error)"
        " VALUES (?, ?, ?, ?, ?)",
        (space_id, str(path), start_offset, now() if created_at is None else created_at, error),
    )
    return cur.lastrowid


def recording_path(directory: str | Path, space_id: int, part: int = 0) -> Path:
    """Where part `part` of the Space's recording is written."""
    name = f"space-{space_id}.ogg" if part == 0 else f"space-{space_id}.part{part}.ogg"
    return Path(directory) / name


def parts_on_disk(directory: str | Path, space_id: int) -> dict[int, Path]:
    """The Space's part files in `directory` by part number, whether or not a row names them."""
    pattern = re.compile(rf"space-{space_id}(?:\.part([1-9][0-9]*))?\.ogg")
    found = {}
    try:
        paths = list(Path(directory).iterdir())
    except FileNotFoundError:
        return {}
    for path in paths:
        if match := pattern.fullmatch(path.name):
            found[int(match.group(1) or 0)] = path
    return found


def next_part(db: Database, space_id: int, directory: str | Path) -> int:
    """The part number of the Space's next file: 0 for the first, then 1, 2 ... Never the number
    of a file already on disk, even one whose row was never written."""
    rows = dbm.scalar(db, "SELECT COUNT(*) FROM recordings WHERE space_id = ?", (space_id,))
    on_disk = parts_on_disk(directory, space_id)
    return max(rows, max(on_disk, default=-1) + 1)


def set_error(db: Database, path: str | Path, error: str) -> None:
    """Writing the file at `path` failed (a full disk): admins see `error` on the health page."""
    db.execute("UPDATE recordings SET error = ? WHERE path = ?", (error, str(path)))


def for_space(db: Database, space_id: int) -> list[dict]:
    """The Space's parts in the order they were recorded: id, start_offset, error."""
    return dbm.all_rows(
        db,
        "SELECT id, start_offset, error FROM recordings WHERE space_id = ? ORDER BY id",
        (space_id,),
    )


def path_of(db: Database, space_id: int, recording_id: int) -> Path | None:
    """The file of one part, if that part belongs to that Space."""
    row = dbm.one(
        db,
        "SELECT path FROM recordings WHERE id = ? AND space_id = ?",
        (recording_id, space_id),
    )
    return Path(row["path"]) if row else None


def files(db: Database, space_id: int) -> list[Path]:
    """Every file the Space's rows name."""
    rows = db.execute("SELECT path FROM recordings WHERE space_id = ?", (space_id,))
    return [Path(r[0]) for r in rows]


def failures(db: Database, limit: int = 50) -> list[dict]:
    """The latest parts whose writing failed, newest first: space_id, path, error."""
    return dbm.all_rows(
        db,
        "SELECT space_id, path, error FROM recordings WHERE error IS NOT NULL"
        " ORDER BY id DESC LIMIT ?",
        (limit,),
    )


def delete_for_space(db: Database, space_id: int) -> None:
    """Forgets the Space's parts (the purge deletes their files first)."""
    db.execute("DELETE FROM recordings WHERE space_id = ?", (space_id,))
