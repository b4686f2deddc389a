"""What a request needs: its database connection, the signed-in person, the guards on views,
htmx and origin checks, error pages, publishing room events, and the app's realtime parts."""

import functools
from urllib.parse import urlsplit

from flask import abort, current_app, g, redirect, render_template, request, session, url_for
from sqlite_utils import Database

from . import accounts
from .events import RoomEvent


def get_db() -> Database:
    """This thread's connection to the app's database."""
    return current_app.extensions["spaces_db"].get()


def current_user() -> dict | None:
    if "user" not in g:
        user_id = session.get("user_id")
        g.user = accounts.get(get_db(), user_id) if user_id else None
        auth = request.headers.get("Authorization", "")
        if g.user is None and auth.startswith("Bearer "):
            # The terminal client: a token, never a cookie, so CSRF does not arise.
            g.user = accounts.user_for_token(get_db(), auth[7:].strip())
    return g.user


def token_request() -> bool:
    """A terminal-client request: `Authorization: Bearer` and no session cookie.

    A browser never adds an Authorization header to a cross-site form or fetch without a CORS
    preflight (which this app never grants), and this request carries no cookie to ride on, so
    CSRF does not arise. Only a valid token counts; anything else is checked as usual.
    """
    return (
        request.headers.get("Authorization", "").startswith("Bearer ")
        and current_app.config["SESSION_COOKIE_NAME"] not in request.cookies
        and current_user() is not None
    )


def login_required(view):
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if current_user() is None:
            if request.headers.get("HX-Request"):
                return "", 401, {"HX-Redirect": "/login"}
            return redirect(url_for("auth.login", next=request.path))
        return view(*args, **kwargs)

    return wrapped


def admin_required(view):
    """Admin pages do not exist for anyone else: 404, not 403."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        user = current_user()
        if user is None or not user["is_admin"]:
            abort(404)
        return view(*args, **kwargs)

    return wrapped


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def same_origin() -> bool:
    """True when the request's Origin header names this site (websocket handshakes need it)."""
    origin = request.headers.get("Origin")
    if not origin:
        return False
    parts = urlsplit(origin)
    return parts.netloc == request.host and parts.scheme in ("http", "https")


def error_page(message: str, status: int):
    """The error as a page, or for htmx as a message that replaces nothing on the page."""
    if is_htmx():
        return render_template("_error.html", message=message), status, {"HX-Reswap": "none"}
    return render_template("error.html", message=message, status=status), status


def publish(event: RoomEvent | None) -> None:
    """Hands a domain function's event to the broker (the live hub, the audio relay and the
    captions relay subscribe: see app.py); None, for an action that changed nothing, is ignored."""
    if event is not None:
        broker().publish(event)


# The realtime parts the app factory made (app.py), for views and sockets.


def broker():
    """The room-event broker (events.py)."""
    return current_app.extensions["spaces_broker"]


def live_hub():
    """The live hub: the room pages' sockets and presence (realtime/hub.py)."""
    return current_app.extensions["spaces_hub"]


def audio_engine():
    """The audio relay: speakers' frames in, the mix out (realtime/audio.py)."""
    return current_app.extensions["spaces_audio"]


def captions_relay():
    """The captions relay (realtime/captions_relay.py), or None when captions are turned off."""
    return current_app.extensions.get("spaces_captions")
