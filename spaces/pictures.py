"""Profile pictures: checked, re-encoded as a 256 px square WebP, kept under DATA_DIR/pictures.

An upload is never kept or served as sent: it is decoded (PNG, JPEG, WebP or GIF only, after its
size and pixel count are checked, so a small file that would decode to gigabytes is refused before
it is), turned upright, cropped to a square, resized and written anew without any of its metadata
(EXIF, GPS, colour profiles, comments). Each picture gets a new random version, which is in its
file name and its URL, so the URL never changes meaning and can be cached for good. The version
is in `users.picture_version`; the file is `<user_id>-<version>.webp`.
"""

import io
import os
import re
import secrets
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlite_utils import Database

from . import db as dbm
from .clock import now
from .errors import Invalid

MAX_BYTES = 5 * 1024 * 1024  # the upload as sent
MAX_PIXELS = 40_000_000  # width x height before decoding: a 8000 x 5000 photo, no more
SIDE = 256  # the stored square, enough for a 2x screen's largest avatar (profiles, 96 px)
FORMATS = ("PNG", "JPEG", "WEBP", "GIF")
FIELD = "picture"
ORPHAN_GRACE = 3600  # seconds an unnamed file is left alone (see purge_orphans)
VERSION_RE = re.compile(r"^[0-9a-f]{12}$")

TOO_LARGE = "That picture is too large: pictures can be at most 5 MB."
NOT_A_PICTURE = "That file is not a picture. Choose a PNG, JPEG, WebP or GIF image."
TOO_MANY_PIXELS = "That picture has too many pixels (at most 40 megapixels)."
UNREADABLE = "That picture could not be read. It may be damaged; try another file."


def process(data: bytes) -> bytes:
    """The picture to keep: `data` checked, decoded, squared and re-encoded as WebP. Raises
    Invalid (field `picture`) with the sentence to show for anything that is not a usable image."""
    if len(data) > MAX_BYTES:
        raise Invalid(TOO_LARGE, FIELD)
    if not data:
        raise Invalid("Choose a picture to upload.", FIELD)
    try:
        image = Image.open(io.BytesIO(data), formats=FORMATS)  # reads the header only
    except Image.DecompressionBombError:  # Pillow's own limit, far above ours
        raise Invalid(TOO_MANY_PIXELS, FIELD) from None
    except UnidentifiedImageError:
        raise Invalid(NOT_A_PICTURE, FIELD) from None
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise Invalid(TOO_MANY_PIXELS, FIELD)
    try:
        image.draft("RGB", (SIDE * 2, SIDE * 2))  # a JPEG decodes at a fraction of its size
        image.load()
        image = ImageOps.exif_transpose(image)  # a phone's portrait photo stands upright
        image = image.convert("RGBA" if _has_alpha(image) else "RGB")
        square = ImageOps.fit(image, (SIDE, SIDE), Image.Resampling.LANCZOS)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise Invalid(UNREADABLE, FIELD) from None
    out = io.BytesIO()
    square.save(out, "WEBP", quality=85, method=4)  # no exif=, icc_profile=: none is written
    return out.getvalue()


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info


def path(directory: str | Path, user_id: int, version: str) -> Path:
    return Path(directory) / f"{user_id}-{version}.webp"


def version_of(db: Database, user_id: int) -> str | None:
    return dbm.scalar(db, "SELECT picture_version FROM users WHERE id = ?", (user_id,))


def store(db: Database, directory: str | Path, user_id: int, picture: bytes) -> str:
    """Makes `picture` (from `process`) the person's picture and removes the one before; its
    new version. The file is written whole under a temporary name and renamed into place before
    the row names it, so a reader never sees half a picture, and a crash leaves at most an
    unnamed file (`purge_orphans` removes it)."""
    directory = Path(directory)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    version = secrets.token_hex(6)
    final = path(directory, user_id, version)
    draft = directory / f".{final.name}.{secrets.token_hex(4)}"
    with open(draft, "wb") as f:
        f.write(picture)
        f.flush()
        os.fsync(f.fileno())
    os.replace(draft, final)
    with dbm.write(db):
        old = version_of(db, user_id)
        db.execute("UPDATE users SET picture_version = ? WHERE id = ?", (version, user_id))
    if old:
        path(directory, user_id, old).unlink(missing_ok=True)
    return version


def remove(db: Database, directory: str | Path, user_id: int) -> bool:
    """Back to initials: the row forgets the picture and its file goes. Whether there was one."""
    with dbm.write(db):
        old = version_of(db, user_id)
        db.execute("UPDATE users SET picture_version = NULL WHERE id = ?", (user_id,))
    if old:
        path(directory, user_id, old).unlink(missing_ok=True)
    return old is not None


def current_file(db: Database, directory: str | Path, user_id: int, version: str) -> Path | None:
    """The file to serve for this URL: only the person's current picture, else None."""
    if not VERSION_RE.match(version or "") or version_of(db, user_id) != version:
        return None
    found = path(directory, user_id, version)
    return found if found.is_file() else None


def delete_for_account(directory: str | Path, user_id: int) -> list[Path]:
    """Every picture file of this account, whatever its version: for deleting the account."""
    gone = []
    for found in Path(directory).glob(f"{user_id}-*.webp"):
        found.unlink(missing_ok=True)
        gone.append(found)
    return gone


def purge_orphans(db: Database, directory: str | Path, grace: float = ORPHAN_GRACE) -> list[Path]:
    """Removes every picture file no account names: those of deleted accounts, pictures replaced
    while a crash interrupted the swap, and drafts a crash left behind. Run with the retention
    purge, so a deleted account's picture is gone by the next run whichever way it was deleted.
    Files younger than `grace` seconds stay: `store` may be between writing one and naming it."""
    directory = Path(directory)
    cutoff = now() - grace
    if not directory.is_dir():
        return []
    current = {
        path(directory, uid, version).name
        for uid, version in db.execute(
            "SELECT id, picture_version FROM users WHERE picture_version IS NOT NULL"
        )
    }
    gone = []
    for found in directory.iterdir():
        if found.is_file() and found.name not in current and found.stat().st_mtime < cutoff:
            found.unlink(missing_ok=True)
            gone.append(found)
    return gone
