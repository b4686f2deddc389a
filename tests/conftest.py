"""Shared fixtures: a temporary database, an app with its test client, and live servers. Their
machinery is the `testkit` package, which the drills in bench/ use too."""

import sqlite3

import pytest
from hypothesis import settings

from spaces import accounts, migrations
from spaces import db as dbm
from spaces.clock import clock as the_clock
from testkit.app import Browser, configured_app
from testkit.passwords import FAST_HASHER, PASSWORD
from testkit.redis_server import RedisServer
from testkit.server import LiveServer

# Properties are about answers, not speed: no per-example deadline, which a loaded 2-core machine
# would miss and report as a flaky failure.
settings.register_profile("spaces", deadline=None)
settings.load_profile("spaces")


@pytest.fixture(autouse=True)
def fast_passwords(monkeypatch):
    """Argon2 with the smallest costs in every test: the same code path, a fraction of the time
    per sign-up. test_accounts.py checks the production parameters."""
    monkeypatch.setattr(accounts, "_hasher", FAST_HASHER)


@pytest.fixture
def secure_delete_off_by_default(monkeypatch) -> list[sqlite3.Connection]:
    """Every SQLite connection opened in this test starts with secure_delete off, as on a SQLite
    built without SQLITE_SECURE_DELETE (this machine's Debian build turns it on by default, which
    would hide a missing pragma). Answers the connections opened, for checking afterwards."""
    opened: list[sqlite3.Connection] = []
    connect = sqlite3.connect

    def connect_without_secure_delete(*args, **kwargs):
        conn = connect(*args, **kwargs)
        conn.execute("PRAGMA secure_delete = OFF")
        opened.append(conn)
        return conn

    monkeypatch.setattr(sqlite3, "connect", connect_without_secure_delete)
    return opened


@pytest.fixture
def db(tmp_path):
    database = dbm.connect(tmp_path / "test.db")
    migrations.apply(database)
    return database


@pytest.fixture
def make_user(db):
    counter = iter(range(10_000))

    def make(username: str | None = None, **settings) -> dict:
        user = accounts.sign_up(db, username or f"user{next(counter)}", PASSWORD)
        if settings:
            fields = {
                "display_name": user["display_name"],
                "bio": "",
                "protected": False,
                "caption_consent": False,
            }
            fields.update(settings)
            user = accounts.update_settings(db, user["id"], **fields)
        return user

    return make


@pytest.fixture
def clock():
    the_clock.set(1_800_000_000.0)
    yield the_clock
    the_clock.unfreeze()


def csrf_setting(request) -> dict:
    """CSRF is on in every app a test gets, as in production; a test (or module) that needs it
    off says why: `@pytest.mark.csrf_off("why")`."""
    marker = request.node.get_closest_marker("csrf_off")
    if marker is None:
        return {}
    assert marker.args and marker.args[0].strip(), "csrf_off needs a reason"
    return {"WTF_CSRF_ENABLED": False}


@pytest.fixture
def app(request, tmp_path):
    return configured_app(tmp_path, **csrf_setting(request))


@pytest.fixture
def csrf_app(tmp_path):
    """CSRF on whatever the test's marks say: the tests of CSRF itself."""
    return configured_app(tmp_path, WTF_CSRF_ENABLED=True)


@pytest.fixture
def limited_app(request, tmp_path):
    return configured_app(tmp_path, RATELIMIT_ENABLED=True, **csrf_setting(request))


@pytest.fixture
def make_app(request, tmp_path):
    """An app with the test's own settings on top of the ones above (set at creation)."""
    return lambda **overrides: configured_app(tmp_path, **{**csrf_setting(request), **overrides})


@pytest.fixture
def app_db(app):
    return dbm.connect(app.config["DATABASE"])


@pytest.fixture
def browser(app):
    def make(username: str) -> Browser:
        return Browser(app, username)

    return make


@pytest.fixture
def start_server(tmp_path):
    """Starts live servers with the test's own settings (environment overrides); each is stopped
    when the test ends, however it ends."""
    started: list[LiveServer] = []

    def start(**env: str) -> LiveServer:
        started.append(LiveServer(tmp_path / f"server{len(started)}", **env))
        return started[-1].start()

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def live_server(start_server):
    return start_server()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One live server for a module's tests (each test makes its own people and Space)."""
    server = LiveServer(tmp_path_factory.mktemp("live")).start()
    yield server
    server.stop()


@pytest.fixture
def redis_server(tmp_path):
    """A real redis-server of the test's own on a free port (testkit/redis_server.py)."""
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()
