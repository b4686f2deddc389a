"""What a request needs: its database connection, the signed-in person (a session, or an API
token on the few endpoints that take one), the guards on views, htmx and origin checks, error
pages, publishing room events, and the app's realtime parts."""

import functools
from urllib.parse import urlsplit

from flask import abort, current_app, g, redirect, render_template, request, session, url_for
from sqlite_utils import Database

from . import accounts, sessions, tokens
from .events import RoomEvent
from .extensions import limiter

# The cookie's one key that signs a browser in: a random session id (sessions.py). Flask-WTF
# keeps its CSRF secret beside it.
SESSION_KEY = "sid"

# Everything an API token reaches: what the terminal client does in a Space (spaces/cli/api.py
# and link.py), and no more. On any other endpoint a token counts for nothing and the request is
# signed out, so settings, account changes, messages, posts and admin pages stay out of reach.
TOKEN_ENDPOINTS = frozenset(
    {
        "rooms.room",  # `spaces` checks its token and reads the person's id from the room page
        "rooms.join",
        "rooms.leave",
        "rooms.request_to_speak",
        "rooms.self_action",  # cancel a request, accept an invitation, stop speaking
        "rooms.mic",
        "audio.audio",  # the audio socket
        "edge_address.address",  # where the audio socket goes (edge nodes)
    }
)


def get_db() -> Database:
    """This thread's connection to the app's database."""
    return current_app.extensions["spaces_db"].get()


def current_user() -> dict | None:
    """The signed-in person: by the session cookie, or by an API token where one is accepted."""
    if "user" not in g:
        user_id = session_user_id() or token_user_id()
        g.user = accounts.get(get_db(), user_id) if user_id else None
    return g.user


def session_max_age() -> float:
    """Seconds a session lasts unused (PERMANENT_SESSION_LIFETIME, the cookie's own lifetime)."""
    return current_app.permanent_session_lifetime.total_seconds()


def session_id() -> str | None:
    """This browser's session id, as its cookie holds it."""
    return session.get(SESSION_KEY)


def session_user_id() -> int | None:
    """Checked against the sessions table on every request and socket handshake, so a cookie
    copied before logout (or before a password change elsewhere) signs nobody in."""
    return sessions.user_id_for(get_db(), session_id(), max_age=session_max_age())


def token_user_id() -> int | None:
    """The terminal client's `Authorization: Bearer` token, on TOKEN_ENDPOINTS only."""
    auth = request.headers.get("Authorization", "")
    if request.endpoint not in TOKEN_ENDPOINTS or not auth.startswith("Bearer "):
        return None
    return tokens.user_id_for(get_db(), auth[7:].strip())


def sign_in(user: dict) -> None:
    """Starts a session for `user` in this browser. The cookie gets a new id, so an id planted in
    the browser before sign-in is worth nothing."""
    session.clear()
    session[SESSION_KEY] = sessions.start(
        get_db(), user["id"], request.headers.get("User-Agent"), max_age=session_max_age()
    )
    session.permanent = True
    g.pop("user", None)


def sign_out() -> None:
    """Ends this browser's session in the database, so copies of its cookie stop working too."""
    sessions.end(get_db(), session_id())
    session.clear()
    g.pop("user", None)


def token_request() -> bool:
    """A terminal-client request: `Authorization: Bearer` and no session cookie.

    A browser never adds an Authorization header to a cross-site form or fetch without a CORS
    preflight (which this app never grants), and this request carries no cookie to ride on, so
    CSRF does not arise. Only a valid token on an endpoint that takes one counts (TOKEN_ENDPOINTS);
    anything else is checked as usual.
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


def body_limit(limit: int):
    """Marks a view that takes a larger body than MAX_CONTENT_LENGTH (a profile picture's form):
    the app sets this limit before CSRF reads the form (app.allow_larger_body), and the request
    guard buffers up to it on this view's path (body_limits)."""

    def mark(view):
        view.body_limit = limit
        return view

    return mark


def body_limits(app) -> dict[str, int]:
    """The paths whose views take a larger body, and their limits (for the request guard)."""
    return {
        rule.rule: app.view_functions[rule.endpoint].body_limit
        for rule in app.url_map.iter_rules()
        if hasattr(app.view_functions.get(rule.endpoint), "body_limit")
    }


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


def site_feed():
    """Live updates for pages outside rooms: Explore, scheduled Spaces, navigation counts."""
    return current_app.extensions["spaces_feed"]


def audio_engine():
    """The audio relay: speakers' frames in, the mix out (realtime/audio.py)."""
    return current_app.extensions["spaces_audio"]


def reactions_board():
    """Every live Space's reactions allowances and raised hands (reactions.py)."""
    return current_app.extensions["spaces_reactions"]


def captions_relay():
    """The captions relay (realtime/captions_relay.py), or None when captions are turned off."""
    return current_app.extensions.get("spaces_captions")


def _going_live_key() -> str:
    user = current_user()
    return f"going-live:{user['id'] if user else request.remote_addr}"


# Going live tells every follower (schedule.went_live): `Start your Space` and a scheduled Space's
# `Start now` share one allowance per account, so a start/end loop cannot flood them.
going_live = limiter.shared_limit(
    "10 per hour",
    scope="going-live",
    key_func=_going_live_key,
    methods=["POST"],
    exempt_when=lambda: request.form.get("schedule") == "on",  # scheduling tells nobody
)
