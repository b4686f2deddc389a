"""Profile pictures as files: the current one of each account, cached for good.

The URL holds the picture's version, so a new picture is a new URL and an old one is never
served again (its file is gone): browsers and proxies may keep each for a year without asking.
"""

from flask import Blueprint, abort, current_app, send_file

from .. import pictures
from ..web import get_db

bp = Blueprint("pictures", __name__)

YEAR = 365 * 24 * 60 * 60


@bp.get("/pictures/<int:user_id>-<version>.webp")
def picture(user_id: int, version: str):
    found = pictures.current_file(get_db(), current_app.config["PICTURES_DIR"], user_id, version)
    if found is None:
        abort(404)
    response = send_file(found, mimetype="image/webp", max_age=YEAR, conditional=True, etag=True)
    response.cache_control.public = True
    response.cache_control.immutable = True
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Disposition"] = "inline"
    return response
