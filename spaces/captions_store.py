"""Final captions, kept with the Space for review, transcripts and retention."""

from sqlite_utils import Database

from . import db as dbm
from .clock import now

TEXT_MAX = 2000


def store_final(
    db: Database, space_id: int, user_id: int, start: float, end: float, text: str
) -> int:
    text = (text or "").strip()[:TEXT_MAX]
    cur = db.execute(
        "INSERT INTO captions (space_id, user_id, start, end, text, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (space_id, user_id, float(start), float(end), text, now()),
    )
    return cur.lastrowid


def for_space(db: Database, space_id: int, limit: int | None = None) -> list[dict]:
    """Captions in time order; with `limit`, only the latest ones."""
    sql = (
        "SELECT c.*, u.username FROM captions c JOIN users u ON u.id = c.user_id"
        " WHERE c.space_id = ? ORDER BY c.start DESC, c.id DESC"
    )
    params: tuple = (space_id,)
    if limit is not None:
        sql += " LIMIT ?"
        params = (space_id, limit)
    return list(reversed(dbm.all_rows(db, sql, params)))


def timestamp(seconds: float, vtt: bool = True) -> str:
    seconds = max(0.0, seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    if vtt:
        return f"{int(h):02d}:{int(m):02d}:{s:06.3f}"
    return f"{int(h):02d}:{int(m):02d}:{int(s):02d}"


def to_webvtt(captions: list[dict]) -> str:
    lines = ["WEBVTT", ""]
    for i, c in enumerate(captions, 1):
        lines += [
            str(i),
            f"{timestamp(c['start'])} --> {timestamp(max(c['end'], c['start'] + 0.5))}",
            f"<v {c['username']}>{_vtt_escape(c['text'])}",
            "",
        ]
    return "\n".join(lines)


def to_text(captions: list[dict]) -> str:
    return "".join(
        f"[{timestamp(c['start'], vtt=False)}] {c['username']}: {c['text']}\n" for c in captions
    )


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("-->", "->")
