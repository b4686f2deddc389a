"""A scheduled Space's page and its actions: reminders for others, `Start now` and `Cancel Space`
for the host. The page is the room's own URL (views/rooms.py hands it over while the Space waits),
and a small socket tells an open page when the Space starts or is cancelled."""

import time

from flask import Blueprint, abort, redirect, render_template, request, url_for
from simple_websocket import ConnectionClosed

from .. import policy, rooms, schedule
from ..errors import DomainError, Forbidden
from ..events import listed, notified
from ..extensions import limiter, sock
from ..realtime.close_codes import TOO_MANY
from ..realtime.outbox import attach
from ..web import current_user, get_db, is_htmx, login_required, publish, same_origin, site_feed

bp = Blueprint("schedule", __name__)

MESSAGES_PER_SECOND = 10


def was_scheduled(space: dict) -> bool:
    """Waiting to start, or cancelled before it started: the scheduled page shows it."""
    return space.get("scheduled_for") is not None


def page(space: dict, user: dict | None):
    """The scheduled Space's page: title, host, start time, and what this person may do."""
    db = get_db()
    who = rooms.actor(db, space, user)
    if user is not None:
        refusal = policy.why(who, "view", space)
        if refusal and policy.is_scheduled(space):
            return render_template("rooms/refused.html", space=space, refusal=refusal), 403
    # Signed out: which Space and when, and a way in that returns here; 401, as a live room's.
    status = 401 if user is None else 200
    return render_template("rooms/scheduled.html", **context(space, user, who)), status


def context(space: dict, user: dict | None, who) -> dict:
    db = get_db()
    return {
        "space": space,
        "is_host": user is not None and user["id"] == space["host_id"],
        "may_remind": policy.can(who, "set_reminder", space),
        "reminded": user is not None and schedule.has_reminder(db, space["id"], user["id"]),
        "reminders": schedule.reminder_count(db, space["id"]),
        "next_path": request.path,
    }


def schedule_from_form(user: dict, form: dict):
    """The create form with `Schedule for later` ticked: the Space waits on its own page."""
    form = {
        **form,
        "schedule": True,
        "start_time": request.form.get("start_time", ""),
    }
    try:
        starts_at = schedule.parse_start(form["start_time"], request.form.get("start_utc", ""))
        space = schedule.create(
            get_db(),
            user,
            form["title"],
            form["description"],
            form["speaker_policy"],
            starts_at,
            form["allow_guests"],
        )
    except DomainError as exc:
        return render_template(
            "rooms/new.html",
            form=form,
            errors={exc.field: exc.message},
            refusal=None,
            labels=policy.POLICY_LABELS,
        ), exc.status
    publish(listed(space["id"]))
    return redirect(url_for("rooms.room", space_id=space["id"]))


def announce(space: dict) -> None:
    """A Space went live from the create form: followers are told, and Explore shows it."""
    told = schedule.went_live(get_db(), rooms.get(get_db(), space["id"]))
    publish(listed(space["id"]))
    publish(notified(told))


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


def serve_feed(ws, page_kind: str, space_id: int = 0) -> None:
    """One page's socket (a scheduled Space or Explore): the site feed pushes to it; the page
    sends nothing but keep-alives. Its thread mostly waits, as a room page's does."""
    feed_ = site_feed()
    outbox = attach(ws, max_backlog=16, overflow="close")
    watcher = feed_.admit(current_user()["id"], outbox, page_kind, space_id, request.remote_addr)
    if watcher is None:
        outbox.close(TOO_MANY, "too many connections")
        return
    try:
        feed_.full_state(watcher)
        allowance, last = MESSAGES_PER_SECOND, time.monotonic()
        while not outbox.dead:
            # Pages say little here (app.js tells every socket whether the page is visible);
            # what they say is ignored, but a flood is cut off, as on the room's socket.
            message = ws.receive(timeout=5)
            if message is None:
                continue
            t = time.monotonic()
            allowance = min(MESSAGES_PER_SECOND, allowance + (t - last) * MESSAGES_PER_SECOND)
            last = t
            if allowance < 1:
                outbox.close(1008, "too many messages")
                break
            allowance -= 1
    except ConnectionClosed:
        pass
    finally:
        feed_.leave(watcher)
        if ws.connected:
            outbox.close(1000)
