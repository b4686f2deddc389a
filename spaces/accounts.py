"""Accounts: sign-up, passwords (argon2), profiles, settings and admins."""

import functools
import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlite_utils import Database

from . import db as dbm
from . import sessions, tokens
from .clock import now
from .errors import Conflict, Forbidden, Invalid, NotFound
from .form_text import form_text

USERNAME_RE = re.compile(r"^[A-Za-z0-9_]{1,30}$")
PASSWORD_MIN, PASSWORD_MAX = 8, 256
DISPLAY_NAME_MAX, BIO_MAX = 50, 160

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash(hasher: PasswordHasher) -> str:
    """Verifying against this keeps a login for an unknown name as slow as one for a known name.
    Made on first use, with that hasher's costs: made at import, it cost every process that
    imports accounts (the server, each CLI command) 0.13 s of CPU at start."""
    return hasher.hash("not a real password")


PUBLIC_COLUMNS = (
    "id, username, display_name, bio, protected, caption_consent, view_captions, is_admin,"
    " created_at, picture_version"
)


def validate_username(username: str) -> str:
    username = (username or "").strip()
    if not USERNAME_RE.match(username):
        raise Invalid("Usernames are 1-30 letters, digits or underscores.", "username")
    return username


def validate_password(password: str) -> str:
    if len(password or "") < PASSWORD_MIN:
        raise Invalid(f"Passwords need at least {PASSWORD_MIN} characters.", "password")
    if len(password) > PASSWORD_MAX:
        raise Invalid(f"Passwords are at most {PASSWORD_MAX} characters.", "password")
    return password


def sign_up_problems(db: Database, username: str, password: str) -> dict[str, str]:
    """Everything wrong with a sign-up at once, by field (empty when it can go ahead), so the
    form shows every error together rather than one per try."""
    problems = {}
    for check, value in ((validate_username, username), (validate_password, password)):
        try:
            check(value)
        except Invalid as exc:
            problems[exc.field] = exc.message
    taken = "SELECT 1 FROM users WHERE username = ? COLLATE NOCASE"
    if "username" not in problems and dbm.scalar(db, taken, ((username or "").strip(),)):
        problems["username"] = "That username is taken."
    return problems


def sign_up(db: Database, username: str, password: str) -> dict:
    username = validate_username(username)
    validate_password(password)
    password_hash = _hasher.hash(password)
    with dbm.write(db):
        if dbm.scalar(db, "SELECT 1 FROM users WHERE username = ? COLLATE NOCASE", (username,)):
            raise Conflict("That username is taken.", "username")
        cur = db.execute(
            "INSERT INTO users (username, password_hash, display_name, display_name_fold,"
            " created_at) VALUES (?, ?, ?, ?, ?)",
            (username, password_hash, username, username.casefold(), now()),
        )
    return get(db, cur.lastrowid)


def authenticate(db: Database, username: str, password: str) -> dict | None:
    """The account if the password is right, else None (same work either way)."""
    row = dbm.one(
        db,
        "SELECT id, password_hash FROM users WHERE username = ? COLLATE NOCASE",
        ((username or "")[:64],),
    )
    try:
        _hasher.verify(
            row["password_hash"] if row else _dummy_hash(_hasher), (password or "")[:PASSWORD_MAX]
        )
    except (VerificationError, InvalidHashError):
        return None
    if row is None:
        return None
    if _hasher.check_needs_rehash(row["password_hash"]):
        db.execute(
            "UPDATE users SET password_hash = ? WHERE id = ?", (_hasher.hash(password), row["id"])
        )
    return get(db, row["id"])


def get(db: Database, user_id: int) -> dict | None:
    return dbm.one(db, f"SELECT {PUBLIC_COLUMNS} FROM users WHERE id = ?", (user_id,))


def by_username(db: Database, username: str) -> dict:
    user = dbm.one(
        db,
        f"SELECT {PUBLIC_COLUMNS} FROM users WHERE username = ? COLLATE NOCASE",
        ((username or "")[:64],),
    )
    if user is None:
        raise NotFound("No such account.")
    return user


def by_ids(db: Database, ids: list[int]) -> dict[int, dict]:
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    rows = dbm.all_rows(db, f"SELECT {PUBLIC_COLUMNS} FROM users WHERE id IN ({marks})", tuple(ids))
    return {r["id"]: r for r in rows}


def update_settings(
    db: Database,
    user_id: int,
    *,
    display_name: str,
    bio: str,
    protected: bool,
    caption_consent: bool | None,
) -> dict:
    """Saves the Settings form. `caption_consent` None leaves the answer as it is: a form that
    showed the captions question unanswered and was saved with the box unticked answers nothing."""
    display_name = form_text(
        display_name,
        "display_name",
        most=DISPLAY_NAME_MAX,
        plural="Display names",
        empty="Enter a display name.",
    )
    bio = form_text(bio, "bio", most=BIO_MAX, plural="Bios")
    with dbm.write(db):
        db.execute(
            "UPDATE users SET display_name = ?, display_name_fold = ?, bio = ?, protected = ?,"
            " caption_consent = COALESCE(?, caption_consent) WHERE id = ?",
            (display_name, display_name.casefold(), bio, int(protected), caption_consent, user_id),
        )
        if not protected:
            # Going public approves everyone who was waiting.
            db.execute(
                "INSERT OR IGNORE INTO follows (follower_id, followee_id, created_at)"
                " SELECT requester_id, target_id, ? FROM follow_requests WHERE target_id = ?",
                (now(), user_id),
            )
            db.execute("DELETE FROM follow_requests WHERE target_id = ?", (user_id,))
    return get(db, user_id)


def set_caption_consent(db: Database, user_id: int, consent: bool) -> None:
    db.execute("UPDATE users SET caption_consent = ? WHERE id = ?", (int(consent), user_id))


def set_view_captions(db: Database, user_id: int, on: bool) -> None:
    db.execute("UPDATE users SET view_captions = ? WHERE id = ?", (int(on), user_id))


def make_admin(db: Database, username: str) -> dict:
    user = by_username(db, username)
    db.execute("UPDATE users SET is_admin = 1 WHERE id = ?", (user["id"],))
    return get(db, user["id"])


def change_password(
    db: Database, user_id: int, current: str, new: str, *, keep_session: str | None
) -> None:
    """Sets a new password (checked like a sign-up's) once the current one is proven, and ends
    every API token and every session but `keep_session` (the browser asking): whoever held one
    must sign in again with the new password."""
    row = dbm.one(db, "SELECT password_hash FROM users WHERE id = ?", (user_id,))
    try:
        _hasher.verify(
            row["password_hash"] if row else _dummy_hash(_hasher), (current or "")[:PASSWORD_MAX]
        )
    except (VerificationError, InvalidHashError):
        raise Forbidden("That is not your current password.", "current_password") from None
    try:
        validate_password(new)
    except Invalid as exc:
        raise Invalid(exc.message, "new_password") from None
    new_hash = _hasher.hash(new)  # before the write lock: argon2 takes a while on purpose
    with dbm.write(db):
        db.execute("UPDATE users SET password_hash = ? WHERE id = ?", (new_hash, user_id))
        sessions.end_others(db, user_id, keep_session)
        tokens.revoke_all(db, user_id)
