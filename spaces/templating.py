"""Template helpers: the CSRF field (and its slot in fragments cached for many viewers), the
date and clock filters, and what every page shows (the signed-in person, their unread count).
The app factory registers them."""

from datetime import UTC, datetime

from flask import g
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup

from . import follows, messages, notifications
from .web import current_user, get_db

# Stands for the viewer's CSRF field in a fragment rendered once for many viewers; each viewer's
# copy has it replaced by their own (room_render.person_item).
CSRF_SLOT = "<!--csrf-->"


def datetime_text(ts: float | None) -> str:
    """The `datetime` filter: a Unix time as `2026-01-31 18:05 UTC`."""
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def iso_text(ts: float | None) -> str:
    """The `isotime` filter: a Unix time for `<time datetime>`, in UTC."""
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def clock_text(seconds: float) -> str:
    """The `clock` filter: seconds into a Space as `4:05` or `1:04:05`."""
    minutes, secs = divmod(int(seconds or 0), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def csrf_input() -> Markup | str:
    """The hidden CSRF field, except in fragments rendered once for many people (socket
    pushes): those forms are sent by htmx, which adds the page's token as a header."""
    if g.get("shared_render"):
        return ""
    if g.get("csrf_slot"):  # a fragment cached for many viewers: each fills in their own
        return Markup(CSRF_SLOT)  # noqa: S704 - a constant
    if "csrf_field" not in g:  # once per request: a room page has a form per button
        g.csrf_field = Markup('<input type="hidden" name="csrf_token" value="%s">') % (
            generate_csrf()
        )
    return g.csrf_field


def page_globals() -> dict:
    """`me`, `unread_count` and `follow_requests` for every template. One response may render
    several templates (a room action answers with a fragment per changed section), so the counts
    are read once per request and kept on `g`."""
    if g.get("shared_render"):
        return {"me": None, "unread_count": 0, "follow_requests": 0, "notification_count": 0}
    user = current_user()
    if "unread_count" not in g:
        g.unread_count = messages.unread_count(get_db(), user["id"]) if user else 0
        # Pending follow requests show in the navigation (only protected accounts get them).
        g.follow_requests = follows.pending_count(get_db(), user["id"]) if user else 0
        g.notification_count = notifications.unread_count(get_db(), user["id"]) if user else 0
    return {
        "me": user,
        "unread_count": g.unread_count,
        "follow_requests": g.follow_requests,
        "notification_count": g.notification_count,
    }
