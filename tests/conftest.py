"""Shared fixtures: a temporary database, an app with its test client, and a live server."""

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spaces import accounts, create_app, migrations
from spaces import db as dbm
from spaces.clock import clock as the_clock

ROOT = Path(__file__).resolve().parent.parent
SHARED_AUDIO = ROOT.parent / "shared" / "audio"


@pytest.fixture
def db(tmp_path):
    database = dbm.connect(tmp_path / "test.db")
    migrations.apply(database)
    return database


@pytest.fixture
def make_user(db):
    counter = iter(range(10_000))

    def make(username: str | None = None, **settings) -> dict:
        user = accounts.sign_up(db, username or f"user{next(counter)}", "correct horse")
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


def _app(tmp_path, **overrides):
    config = {
        "TESTING": True,
        "DATA_DIR": str(tmp_path),
        "DATABASE": str(tmp_path / "spaces.db"),
        "RECORDINGS_DIR": str(tmp_path / "recordings"),
        "SECRET_KEY": "test",
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "CAPTIONS_ENABLED": False,
    }
    config.update(overrides)
    return create_app(config)


@pytest.fixture
def app(tmp_path):
    return _app(tmp_path)


@pytest.fixture
def csrf_app(tmp_path):
    return _app(tmp_path, WTF_CSRF_ENABLED=True)


@pytest.fixture
def limited_app(tmp_path):
    return _app(tmp_path, RATELIMIT_ENABLED=True)


@pytest.fixture
def make_app(tmp_path):
    """An app with the test's own settings on top of the ones above (set at creation)."""
    return lambda **overrides: _app(tmp_path, **overrides)


@pytest.fixture
def app_db(app):
    return dbm.connect(app.config["DATABASE"])


class Browser:
    """A test client signed in as one person."""

    def __init__(self, app, username: str, password: str = "correct horse") -> None:
        self.client = app.test_client()
        self.username = username
        response = self.client.post("/signup", data={"username": username, "password": password})
        assert response.status_code == 302, response.data
        self.user = accounts.by_username(dbm.connect(app.config["DATABASE"]), username)

    def get(self, path, **kw):
        return self.client.get(path, **kw)

    def post(self, path, data=None, htmx=True, **kw):
        headers = {"HX-Request": "true"} if htmx else {}
        return self.client.post(path, data=data or {}, headers=headers, **kw)


@pytest.fixture
def browser(app):
    def make(username: str) -> Browser:
        return Browser(app, username)

    return make


def csrf_token(html: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """`python -m spaces.serve` in a subprocess, as `make run` starts it."""

    def __init__(self, data_dir: Path, **env) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.env = {
            **os.environ,
            "DATA_DIR": str(data_dir),
            "PORT": str(self.port),
            "HOST": "127.0.0.1",
            "RATELIMIT_ENABLED": "0",
            "CAPTIONS": "0",
            **env,
        }
        self.proc = None
        self.log = data_dir / "server.log"

    def start(self) -> "LiveServer":
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "spaces.serve"],
            cwd=ROOT,
            env=self.env,
            stdout=open(self.log, "ab"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(self.log.read_text()) from None
                time.sleep(0.1)
        raise RuntimeError("server did not start: " + self.log.read_text())

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture
def start_server(tmp_path):
    """Starts live servers with the test's own settings (environment overrides); each is stopped
    when the test ends, however it ends."""
    started: list[LiveServer] = []

    def start(**env: str) -> LiveServer:
        data = tmp_path / f"server{len(started)}"
        data.mkdir()
        started.append(LiveServer(data, **env))
        return started[-1].start()

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def live_server(start_server):
    return start_server()


class HttpUser:
    """A person talking to a live server over real HTTP (cookies and CSRF token included)."""

    def __init__(self, base_url: str, username: str, password: str = "correct horse") -> None:
        import http.cookiejar
        import urllib.request

        self.base = base_url
        self.username = username
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.token = csrf_token(self.get("/signup"))
        self.post("/signup", {"username": username, "password": password}, htmx=False)
        self.token = csrf_token(self.get("/"))

    def request(self, method: str, path: str, data: dict | None = None, htmx: bool = True):
        import urllib.error
        import urllib.parse
        import urllib.request

        body = urllib.parse.urlencode(data or {}).encode() if method == "POST" else None
        req = urllib.request.Request(self.base + path, data=body, method=method)
        if method == "POST":
            req.add_header("X-CSRFToken", self.token)
            req.add_header("Origin", self.base)
        if htmx:
            req.add_header("HX-Request", "true")
        try:
            with self.opener.open(req, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def get(self, path: str) -> str:
        return self.request("GET", path, htmx=False)[1]

    def post(self, path: str, data: dict | None = None, htmx: bool = True):
        return self.request("POST", path, data, htmx)

    def cookie_header(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.jar)

    @property
    def id(self) -> int:
        html = self.get(f"/u/{self.username}")
        return int(re.search(r'data-me="(\d+)"', html).group(1))
