"""Explore: every live Space and every scheduled one, updated live over a small socket."""

from flask import Blueprint, abort, render_template, request

from .. import explore
from ..extensions import sock
from ..realtime.feed_socket import serve_feed
from ..web import current_user, get_db, login_required, same_origin

bp = Blueprint("explore", __name__)


@bp.get("/explore")
@login_required
def page():
    return render_template("explore.html", **explore.page(get_db(), current_user()["id"]))


@bp.before_request
def check_socket_request():
    if request.endpoint == "explore.feed" and (not same_origin() or current_user() is None):
        abort(403)


@sock.route("/explore/feed", bp=bp)
def feed(ws):
    """The lists re-rendered on every change (site_feed.py pushes them, at most ~3 times a
    second): a new live Space shows within a second, with no polling."""
    serve_feed(ws, "explore")
