"""The app factory: the one place that assembles Spaces.

In order: settings, the database and its schema, the checks around every request, template
helpers, blueprints, error pages, command-line tasks, and the realtime parts with who listens to
whom. Everything a request itself uses is in web.py; the extensions are made in extensions.py.
"""

import functools
import sqlite3
from pathlib import Path

from flask import Flask, current_app, g, request
from flask_wtf.csrf import CSRFError
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from . import cluster, config, manage, migrations, stage_history, templating, times, views
from . import db as dbm
from .captions import CaptionWorker
from .edge.addresses import edge_urls
from .edge.live_bridge import EdgeLiveBridge
from .edge.live_channel import LivePublisher
from .edge.mix_channel import MixPublisher
from .edge.verdicts import VerdictPublisher
from .errors import DomainError
from .events import Broker, InProcessBroker, RoomEvent
from .extensions import csrf, limiter, sock
from .presence import LocalPresence, Presence, RedisPresence
from .reactions import Board
from .realtime import reactions_relay
from .realtime.audio import AudioEngine
from .realtime.captions_relay import CaptionsRelay
from .realtime.hub import LiveHub
from .realtime.listener_relay import ListenerRelay
from .realtime.site_feed import SiteFeed
from .realtime.socket_reader import ReaderThread
from .redis_broker import RedisBroker
from .web import error_page, token_request

ROOT = Path(__file__).resolve().parent.parent

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "media-src 'self' blob:; connect-src 'self'; worker-src 'self' blob:; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "microphone=(self)",
}

HSTS = "max-age=31536000; includeSubDomains"

# Every error page but the domain's (a DomainError brings its own message and status): the
# status and the sentence shown, by exception class or by HTTP status.
ERROR_PAGES: dict[type[Exception] | int, tuple[int, str]] = {
    CSRFError: (
        400,
        "This form has expired or did not come from this site. Reload the page and try again.",
    ),
    # Only "database is locked" (busy past the timeout): any other OperationalError is a fault.
    sqlite3.OperationalError: (503, "The server is busy. Nothing was changed; please try again."),
    400: (400, "That request was not understood."),
    404: (404, "There is nothing here."),
    405: (405, "That action is not available here."),
    413: (413, "That request is too large."),
    429: (429, "Too many attempts. Please wait and try again ({description})."),
    500: (500, "Something went wrong on our side. Nothing you did caused it."),
}


class SqliteInt(IntegerConverter):
    """Ids in URLs: positive and small enough for SQLite, so a huge number is a 404, not a crash."""

    def __init__(self, url_map, *args, **kwargs) -> None:
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(url_map, *args, **kwargs)


def create_app(test_config: dict | None = None) -> Flask:
    """The app, ready to serve; `serve.py` starts its background workers."""
    app = Flask(
        __package__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    configure(app, test_config)
    app.url_map.converters["int"] = SqliteInt  # before any route is added
    app.extensions["spaces_db"] = dbm.ThreadLocalDatabases(app.config["DATABASE"])
    migrations.apply(dbm.connect(app.config["DATABASE"]))
    guard_requests(app)
    add_template_helpers(app)
    for blueprint in views.BLUEPRINTS:
        app.register_blueprint(blueprint)
    for error in (DomainError, *ERROR_PAGES):
        app.register_error_handler(error, error_response)
    manage.register(app)
    add_realtime(app)
    return app


def configure(app: Flask, test_config: dict | None) -> None:
    """Defaults from the environment, then the test's settings; data/ and the secret key."""
    app.config.update(config.defaults())
    if test_config:
        app.config.update(test_config)
    proxies = app.config["TRUSTED_PROXIES"]
    if proxies:  # behind nginx: limits count per client, from the address the proxies forwarded
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
    data = config.private_dir(app.config["DATA_DIR"])
    config.private_dir(app.config["RECORDINGS_DIR"])
    config.private_dir(app.config["PICTURES_DIR"])
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = config.secret_key(data)
    if app.config["REDIS_URL"]:  # every node counts against the same limits
        app.config["RATELIMIT_STORAGE_URI"] = app.config["REDIS_URL"]


def guard_requests(app: Flask) -> None:
    """CSRF (except for the terminal client's token requests), rate limits, sockets, headers."""
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False  # checked by csrf_unless_token instead
    csrf.init_app(app)
    app.before_request(allow_larger_body)  # before the CSRF check reads the form
    app.before_request(csrf_unless_token)
    limiter.init_app(app)
    sock.init_app(app)
    # simple-websocket's reader starts with each socket, unless the audio route defers it.
    options = app.config["SOCK_SERVER_OPTIONS"]
    app.config["SOCK_SERVER_OPTIONS"] = {**options, "thread_class": ReaderThread}
    app.teardown_appcontext(forget_user)
    app.after_request(security_headers)


def csrf_unless_token() -> None:
    """Every unsafe request carries the CSRF token, except a terminal client's (see
    web.token_request), so token clients can POST room actions."""
    settings = current_app.config
    if not settings["WTF_CSRF_ENABLED"]:
        return
    if request.method not in settings["WTF_CSRF_METHODS"] or token_request():
        return
    csrf.protect(apply_exemptions=True)


def allow_larger_body() -> None:
    """A view marked with web.body_limit takes a body up to its own limit."""
    limit = getattr(current_app.view_functions.get(request.endpoint), "body_limit", None)
    if limit:
        request.max_content_length = limit


def forget_user(_exc: BaseException | None) -> None:
    g.pop("user", None)


def security_headers(response):
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    edges = current_app.config["EDGE_URLS"]  # edges on origins of their own: sockets may go there
    if "://" in edges:
        origins = " ".join(url for url in edge_urls(edges) if "://" in url)
        csp = response.headers["Content-Security-Policy"]
        response.headers["Content-Security-Policy"] = csp.replace(
            "connect-src 'self'", f"connect-src 'self' {origins}"
        )
    if current_app.config["SESSION_COOKIE_SECURE"]:  # SECURE_COOKIES=1: served over https only
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def add_template_helpers(app: Flask) -> None:
    app.add_template_filter(templating.datetime_text, "datetime")
    app.add_template_filter(templating.clock_text, "clock")
    app.add_template_filter(templating.iso_text, "isotime")
    app.add_template_filter(times.time_tag, "when")  # posts and messages (issue 18)
    app.add_template_filter(times.live_for, "live_for")
    app.add_template_global(templating.csrf_input)
    app.add_template_global(views.pins.pin_target)  # `Pin to my Space` on the host's posts
    app.context_processor(templating.page_globals)


def error_response(exc: Exception):
    """The one error handler: the domain's own message, or the table's for this error."""
    if isinstance(exc, DomainError):
        return error_page(exc.message, exc.status)
    if isinstance(exc, sqlite3.OperationalError) and not database_busy(exc):
        raise exc
    page = next((ERROR_PAGES[kind] for kind in type(exc).__mro__ if kind in ERROR_PAGES), None)
    status, message = page or ERROR_PAGES[exc.code]
    return error_page(message.format(description=getattr(exc, "description", "")), status)


def database_busy(exc: sqlite3.OperationalError) -> bool:
    """The database stayed locked past the busy timeout: the change was not made."""
    return "locked" in str(exc) or "busy" in str(exc)


def add_realtime(app: Flask) -> None:
    """The realtime parts, and who receives what.

    Room events, published by views (web.publish) and by the hub's presence checks, go through
    the broker to each subscriber in turn: the live hub (it subscribes itself and re-renders the
    room pages), the audio relay (who is on air), then the captions relay, which reads the audio
    relay's refreshed rooms and so comes after it. The stage history notes who came on or left
    the stage (for review). The reactions board forgets the hands of people who left and a
    Space's reactions when it ends. On every tick the audio relay sends each
    consenting speaker's own frames to the captions relay, which feeds the caption worker.
    """
    broker, presence = shared_state(app)
    hub = LiveHub(app, broker, presence)
    if isinstance(broker, RedisBroker):  # events missed while Redis was away: re-render all
        broker.after_reconnect(hub.resync)
    audio = AudioEngine(app)
    if app.config["LISTENER_RELAY"]:  # its process starts with the first listener's socket
        audio.relay = ListenerRelay(
            app.config["SOCKET_SEND_TIMEOUT"],
            app.config["SOCK_SERVER_OPTIONS"]["max_message_size"],
            app.config["LISTENER_RELAY_SOCKETS"],
        )
    broker.subscribe(audio.on_event)
    broker.subscribe(functools.partial(stage_history.on_event, app.extensions["spaces_db"]))
    board = Board()
    broker.subscribe(board.on_event)
    hub.shouts = shouts = shouts_broker(app, broker)
    shouts.subscribe(functools.partial(reactions_relay.deliver, hub))
    app.extensions.update(
        spaces_broker=broker, spaces_hub=hub, spaces_audio=audio, spaces_reactions=board
    )
    # Pages outside rooms (Explore, a scheduled Space, every navigation's count): site_feed.py.
    app.extensions["spaces_feed"] = SiteFeed(app, broker, hub)
    client = app.extensions.get("spaces_redis")
    if client is not None:  # edge nodes (spaces/edge): the mix and the verdicts through Redis
        mix = MixPublisher(client)
        audio.mix_sink = mix
        broker.subscribe(VerdictPublisher(app.extensions["spaces_db"], client).on_event)
        live = LivePublisher(client)  # and listeners' room pages (live_bridge.py)
        hub.edges = EdgeLiveBridge(hub, live, board, broker)
        app.extensions["spaces_cluster"] += (mix, live)
    if not app.config["CAPTIONS_ENABLED"]:
        return
    worker = CaptionWorker(  # its own process, started by serve.py
        app.config["CAPTION_MODEL"] or None,
        device=app.config["CAPTION_DEVICE"],
        compute_type=app.config["CAPTION_COMPUTE_TYPE"],
        cpu_threads=app.config["CAPTION_THREADS"],
        beam_size=app.config["CAPTION_BEAM_SIZE"],
    )
    relay = CaptionsRelay(app, worker, hub, audio)
    broker.subscribe(relay.on_event)
    audio.send_captions_to(relay.feed)
    app.extensions["spaces_captions"] = relay


def shouts_broker(app: Flask, broker: Broker) -> Broker:
    """Reactions' messages: this process's own, or every node's through Redis on a channel of
    their own (reactions_relay.py), started by serve.py with the room events' broker."""
    if not isinstance(broker, RedisBroker):
        return InProcessBroker()
    shouts = RedisBroker(broker.client, broker.node, reactions_relay.SHOUTS)
    app.extensions["spaces_cluster"] += (shouts,)
    return shouts


def guests_changed(broker: Broker, spaces: set[int]) -> None:
    """Guests came or went on this node: every node's pages count them again."""
    for space_id in spaces:
        broker.publish(RoomEvent(space_id, sections=frozenset({"listeners"})))


def shared_state(app: Flask) -> tuple[Broker, Presence]:
    """Room events and presence: this process's own (REDIS_URL unset), or shared by every node
    through Redis; then the broker's listener and the presence heartbeat are workers serve.py
    starts (`spaces_cluster`)."""
    url = app.config["REDIS_URL"]
    if not url:
        return InProcessBroker(), LocalPresence()
    client, node = cluster.connect(url), cluster.node_name()
    broker = RedisBroker(client, node)
    presence = RedisPresence(client, node, app.config["PRESENCE_TTL_SECONDS"])
    presence.on_guests_changed = functools.partial(guests_changed, broker)
    app.extensions.update(spaces_redis=client, spaces_cluster=(broker, presence))
    return broker, presence
