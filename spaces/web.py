"""Web wiring: database per thread, current user, CSRF, rate limits, headers, errors."""

import functools
import sqlite3
from datetime import UTC, datetime
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, g, render_template, request, session
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_sock import Sock
from flask_wtf.csrf import CSRFError, CSRFProtect, generate_csrf
from markupsafe import Markup
from werkzeug.routing import IntegerConverter

from . import accounts, commands, migrations
from . import db as dbm
from .errors import DomainError


class SqliteInt(IntegerConverter):
    """Ids in URLs: positive and small enough for SQLite, so a huge number is a 404, not a crash."""

    def __init__(self, url_map, *args, **kwargs) -> None:
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(url_map, *args, **kwargs)


csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
sock = Sock()

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self' blob:; connect-src 'self'; worker-src 'self' blob:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
)

HSTS = "max-age=31536000; includeSubDomains"

CSRF_SLOT = "<!--csrf-->"


def get_db():
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
            from flask import redirect, url_for

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
    if is_htmx():
        return render_template("_error.html", message=message), status, {"HX-Reswap": "none"}
    return render_template("error.html", message=message, status=status), status


def init_app(app: Flask) -> None:
    from .views import register

    app.extensions["spaces_db"] = dbm.ThreadLocalDatabases(app.config["DATABASE"])
    migrations.apply(dbm.connect(app.config["DATABASE"]))
    # CSRF is checked by _csrf_unless_token below, so token clients can POST room actions.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    csrf.init_app(app)

    @app.before_request
    def _csrf_unless_token():
        if not app.config["WTF_CSRF_ENABLED"]:
            return
        if request.method not in app.config["WTF_CSRF_METHODS"] or token_request():
            return
        csrf.protect(apply_exemptions=True)

    limiter.init_app(app)
    sock.init_app(app)

    @app.teardown_appcontext
    def _forget_user(_exc):
        g.pop("user", None)

    @app.template_filter("datetime")
    def _datetime(ts: float | None) -> str:
        if ts is None:
            return ""
        return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")

    @app.template_filter("clock")
    def _clock(seconds: float) -> str:
        minutes, secs = divmod(int(seconds or 0), 60)
        hours, minutes = divmod(minutes, 60)
        return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"

    @app.template_global()
    def csrf_input():
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

    @app.context_processor
    def _template_globals():
        if g.get("shared_render"):
            return {"me": None, "unread_count": 0}
        user = current_user()
        unread = 0
        if user:
            from . import messages

            unread = messages.unread_count(get_db(), user["id"])
        return {"me": user, "unread_count": unread}

    @app.after_request
    def _security_headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Permissions-Policy", "microphone=(self)")
        if app.config["SESSION_COOKIE_SECURE"]:  # SECURE_COOKIES=1: served over https only
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response

    @app.errorhandler(CSRFError)
    def _csrf_error(exc):
        return error_page(
            "This form has expired or did not come from this site. Reload the page and try again.",
            400,
        )

    @app.errorhandler(sqlite3.OperationalError)
    def _database_busy(exc):
        """The database stayed locked past the busy timeout: say so; the change was not made."""
        if "locked" not in str(exc) and "busy" not in str(exc):
            raise exc
        return error_page("The server is busy. Nothing was changed; please try again.", 503)

    @app.errorhandler(DomainError)
    def _domain_error(exc: DomainError):
        return error_page(exc.message, exc.status)

    @app.errorhandler(404)
    def _not_found(_exc):
        return error_page("There is nothing here.", 404)

    @app.errorhandler(405)
    def _not_allowed(_exc):
        return error_page("That action is not available here.", 405)

    @app.errorhandler(413)
    def _too_large(_exc):
        return error_page("That request is too large.", 413)

    @app.errorhandler(429)
    def _too_many(exc):
        return error_page(f"Too many attempts. Please wait and try again ({exc.description}).", 429)

    @app.errorhandler(500)
    def _server_error(_exc):
        return error_page("Something went wrong on our side. Nothing you did caused it.", 500)

    @app.errorhandler(400)
    def _bad_request(_exc):
        return error_page("That request was not understood.", 400)

    register(app)
    commands.register(app)

    from .events import InProcessBroker
    from .realtime.audio import AudioEngine
    from .realtime.hub import LiveHub

    broker = InProcessBroker()
    app.extensions["spaces_broker"] = broker
    app.extensions["spaces_hub"] = LiveHub(app, broker)
    app.extensions["spaces_audio"] = audio = AudioEngine(app)
    broker.subscribe(audio.on_event)
    if app.config["CAPTIONS_ENABLED"]:
        _init_captions(app, broker, audio)


def _init_captions(app: Flask, broker, audio) -> None:
    """The caption worker (its own process, started by serve.py) and the relay around it."""
    from .captions import CaptionWorker
    from .realtime.captions_relay import CaptionsRelay

    worker = CaptionWorker(
        app.config["CAPTION_MODEL"] or None,
        device=app.config["CAPTION_DEVICE"],
        compute_type=app.config["CAPTION_COMPUTE_TYPE"],
        cpu_threads=app.config["CAPTION_THREADS"],
        beam_size=app.config["CAPTION_BEAM_SIZE"],
    )
    relay = CaptionsRelay(app, worker, app.extensions["spaces_hub"], audio)
    app.extensions["spaces_captions"] = relay
    broker.subscribe(relay.on_event)  # after the audio engine: it reads the refreshed rooms
    audio.caption_sink = relay.feed
