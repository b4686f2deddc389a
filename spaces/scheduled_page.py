"""A scheduled Space as its page shows it (issue 18): the room's own URL shows this while the
Space waits to start (or after it was cancelled), and the create form hands `Schedule for later`
here. Used by views/rooms.py and views/schedule.py, so neither view imports the other."""

from flask import redirect, render_template, request, url_for

from . import policy, rooms, schedule
from .events import listed, notified
from .web import get_db, publish


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


def schedule_from_form(user: dict, form: dict, start_utc: str):
    """The create form with `Schedule for later` ticked: the Space waits on its own page. A
    DomainError goes back to the form (views/rooms.py renders it, as for `Start your Space`)."""
    starts_at = schedule.parse_start(form["start_time"], start_utc)
    space = schedule.create(
        get_db(),
        user,
        form["title"],
        form["description"],
        form["speaker_policy"],
        starts_at,
        form["allow_guests"],
    )
    publish(listed(space["id"]))
    return redirect(url_for("rooms.room", space_id=space["id"]))


def announce(space: dict) -> None:
    """A Space went live from the create form: followers are told, and Explore shows it."""
    told = schedule.went_live(get_db(), rooms.get(get_db(), space["id"]))
    publish(listed(space["id"]))
    publish(notified(told))
