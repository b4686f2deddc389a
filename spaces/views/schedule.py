"""A scheduled Space's page and its actions: reminders for others, `Start now` and `Cancel Space`
for the host. The page is the room's own URL (views/rooms.py hands it over while the Space waits),
and a small socket tells an open page when the Space starts or is cancelled."""

from flask import Blueprint, abort, redirect, render_template, request, url_for

from .. import policy, rooms, schedule
from ..errors import Forbidden
from ..events import listed, notified
from ..extensions import limiter, sock
from ..realtime.feed_socket import serve_feed
from ..scheduled_page import context, was_scheduled
from ..web import (
    current_user,
    get_db,
    going_live,
    is_htmx,
    login_required,
    publish,
    same_origin,
)

bp = Blueprint("schedule", __name__)


def _scheduled_space(space_id: int) -> dict:
    return rooms.get(get_db(), space_id)


@bp.post("/spaces/<int:space_id>/reminder")
@login_required
@limiter.limit("30 per minute")
def reminder(space_id: int):
    """`Set reminder` / `Remove reminder`: answers htmx with the page's section."""
    user = current_user()
    schedule.set_reminder(get_db(), space_id, user, request.form.get("on") == "1")
    if not is_htmx():
        return redirect(url_for("rooms.room", space_id=space_id))
    space = _scheduled_space(space_id)
    who = rooms.actor(get_db(), space, user)
    return render_template("rooms/_scheduled.html", **context(space, user, who))


@bp.post("/spaces/<int:space_id>/start")
@login_required
@going_live
def start_now(space_id: int):
    """`Start now`: live at once, the host in the room, as creating a Space does."""
    user = current_user()
    was_in = rooms.spaces_present_in(get_db(), user["id"])  # hosting leaves them
    space, told = schedule.start_now(get_db(), space_id, user)
    for other in was_in:
        publish(rooms.departure(other, user["id"], "You started a Space, so you left this one."))
    publish(listed(space_id))
    publish(notified(told))
    return redirect(url_for("rooms.room", space_id=space["id"]))


@bp.post("/spaces/<int:space_id>/cancel")
@login_required
def cancel(space_id: int):
    told = schedule.cancel(get_db(), space_id, current_user())
    publish(listed(space_id))
    publish(notified(told))
    return redirect(url_for("rooms.room", space_id=space_id))


# The open page's socket: it is told when the Space starts or is cancelled (site_feed.py).


@bp.before_request
def check_socket_request():
    if request.endpoint != "schedule.feed":
        return
    if not same_origin() or current_user() is None:
        abort(403)
    space = rooms.get(get_db(), request.view_args["space_id"])
    if not was_scheduled(space):
        abort(404)
    if policy.why(rooms.actor(get_db(), space, current_user()), "view", space):
        raise Forbidden("You cannot see this Space.")


@sock.route("/spaces/<int:space_id>/feed", bp=bp)
def feed(ws, space_id: int):
    serve_feed(ws, "space", space_id)
