"""Issue 13's smaller holes: addresses behind a proxy and one login lock per username, the
redirect after login, private files on disk, and HSTS."""

import os
import stat
import subprocess
import sys

import pytest

from spaces import db as dbm
from spaces.config import secret_key
from spaces.realtime.recorder import Recorder
from spaces.recordings import recording_path
from testkit.app import Browser, Client


def log_in(client: Client, path: str, username: str, password: str, address: str):
    """The log-in form (`/login`) or the terminal client's token request (`/api/token`, which
    has no form and needs no CSRF token)."""
    data = {"username": username, "password": password}
    if path == "/api/token":
        return client.client.post(path, data=data, environ_base={"REMOTE_ADDR": address})
    return client.fill(path, data, environ_base={"REMOTE_ADDR": address})


# One login throttle per username, whichever door is used -----------------------------------------


def test_the_login_form_and_api_token_share_one_lock_per_username(limited_app):
    Browser(limited_app, "alice")
    Browser(limited_app, "bob")
    client = Client(limited_app)
    for i in range(3):
        assert log_in(client, "/login", "alice", "wrong", f"10.0.0.{i}").status_code == 401
    for i in range(2):
        assert log_in(client, "/api/token", "Alice", "wrong", f"10.0.1.{i}").status_code == 401

    # Five wrong passwords, from five addresses and through both doors: alice is locked ...
    assert log_in(client, "/api/token", "alice", "correct horse", "10.0.2.1").status_code == 429
    refused = log_in(client, "/login", "alice", "correct horse", "10.0.2.2")
    assert refused.status_code == 429
    assert "Too many attempts" in refused.get_data(as_text=True)
    # ... and nobody else is, even from the addresses that tried.
    assert log_in(client, "/login", "bob", "correct horse", "10.0.0.0").status_code == 302
    assert log_in(client, "/api/token", "bob", "correct horse", "10.0.1.0").status_code == 200


def test_one_address_trying_many_names_is_stopped_through_either_door(limited_app):
    client = Client(limited_app)
    for i in range(15):
        assert log_in(client, "/login", f"name{i}", "wrong", "10.9.9.9").status_code == 401
        assert log_in(client, "/api/token", f"other{i}", "wrong", "10.9.9.9").status_code == 401
    assert log_in(client, "/login", "name99", "wrong", "10.9.9.9").status_code == 429
    assert log_in(client, "/api/token", "name99", "wrong", "10.9.9.9").status_code == 429
    assert log_in(client, "/login", "name99", "wrong", "10.9.9.8").status_code == 401


# Behind a proxy ----------------------------------------------------------------------------------


def sign_up_from(client: Client, username: str, forwarded_for: str):
    return client.fill(
        "/signup",
        {"username": username, "password": "correct horse"},
        headers={"X-Forwarded-For": forwarded_for},
    )


def test_behind_a_trusted_proxy_each_client_has_its_own_limits(make_app):
    """nginx connects from 127.0.0.1 and appends the client's address to X-Forwarded-For."""
    client = Client(make_app(RATELIMIT_ENABLED=True, TRUSTED_PROXIES=1))
    for i in range(20):
        # Whatever a client puts in front, the address nginx appended is the one that counts.
        response = sign_up_from(client, f"bot{i}", f"198.51.100.{i}, 203.0.113.1")
        assert response.status_code == 302
    assert sign_up_from(client, "bot20", "198.51.100.99, 203.0.113.1").status_code == 429
    assert sign_up_from(client, "neighbour", "203.0.113.2").status_code == 302


def test_without_trusted_proxies_forwarded_for_is_ignored(make_app):
    client = Client(make_app(RATELIMIT_ENABLED=True))
    for i in range(20):
        assert sign_up_from(client, f"bot{i}", f"203.0.113.{i}").status_code == 302
    assert sign_up_from(client, "bot20", "203.0.113.99").status_code == 429


# The redirect after login ------------------------------------------------------------------------

NASTY_NEXT = [
    "/%09/evil.example/",  # the review's: a tab the browser drops, leaving //evil.example/
    "//evil.example/",
    "///evil.example/",
    "/%5Cevil.example/",  # /\evil.example/
    "%5C%5Cevil.example/",
    "%5C/evil.example/",
    "/%09%5Cevil.example/",
    "/%0A/evil.example/",
    "/%0D%0A/evil.example/",
    "%20//evil.example/",
    "%00//evil.example/",
    "/%0B/evil.example/",
    "https://evil.example/",
    "https:evil.example",
    "HTTPS://evil.example/",
    "javascript:alert(1)",
    "evil.example",
]


@pytest.mark.parametrize("raw_next", NASTY_NEXT)
def test_login_never_redirects_off_the_site(app, raw_next):
    Browser(app, "alice")
    response = Client(app).fill(
        "/login?next=" + raw_next, {"username": "alice", "password": "correct horse"}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("target", ["/spaces/3", "/u/bob?tab=posts", "/messages/bob"])
def test_login_returns_to_a_page_on_this_site(app, target):
    Browser(app, "alice")
    response = Client(app).fill(
        "/login",
        {"username": "alice", "password": "correct horse"},
        query_string={"next": target},
    )
    assert response.headers["Location"] == target


# Files on disk -----------------------------------------------------------------------------------


@pytest.fixture
def permissive_umask(monkeypatch):
    """A umask that leaves new files readable by everyone, and no chmod to fix them afterwards:
    whatever is private must be created private."""
    previous = os.umask(0o022)
    monkeypatch.setattr(os, "chmod", lambda *args, **kwargs: None)
    yield
    os.umask(previous)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_fresh_data_directory_is_private_from_the_start(make_app, tmp_path, permissive_umask):
    data = tmp_path / "fresh" / "data"
    app = make_app(
        DATA_DIR=str(data),
        DATABASE=str(data / "spaces.db"),
        RECORDINGS_DIR=str(data / "recordings"),
        SECRET_KEY="",
    )
    assert len(app.config["SECRET_KEY"]) == 64
    assert mode(data) == 0o700
    assert mode(data / "recordings") == 0o700
    assert mode(data / "secret_key") == 0o600
    db = dbm.connect(app.config["DATABASE"])
    db.execute("INSERT INTO users (username, password_hash, created_at) VALUES ('x', 'x', 0)")
    for name in ("spaces.db", "spaces.db-wal", "spaces.db-shm"):
        assert mode(data / name) == 0o600, name


def test_a_new_connection_leaves_the_others_locks_alone(tmp_path):
    """Closing any descriptor of a file drops every POSIX lock the process holds on it: making
    the file private must not do that to connections already open (in the server, other
    threads'), or another process takes itself for the last one and deletes the WAL under them.
    """
    path = tmp_path / "spaces.db"
    first = dbm.connect(path)
    first.execute("CREATE TABLE t (x)")
    dbm.connect(path).execute("SELECT * FROM t")  # another thread's connection
    script = "import sqlite3, sys; sqlite3.connect(sys.argv[1]).execute('SELECT * FROM t').close()"
    subprocess.run([sys.executable, "-c", script, str(path)], check=True)
    assert (tmp_path / "spaces.db-wal").exists() and (tmp_path / "spaces.db-shm").exists()
    first.execute("INSERT INTO t VALUES (1)")
    assert dbm.connect(path).execute("SELECT COUNT(*) FROM t").fetchone()[0] == 1


def test_the_secret_key_is_kept_and_never_rewritten(tmp_path, permissive_umask):
    first = secret_key(tmp_path)
    assert len(first) == 64 and secret_key(tmp_path) == first
    assert mode(tmp_path / "secret_key") == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]  # no draft left behind


def test_recordings_are_private_files(tmp_path, permissive_umask):
    path = recording_path(tmp_path / "recordings", 7)
    recorder = Recorder(path)
    recorder.write(b"\0" * 1920)
    recorder.close()
    assert recorder.error is None
    assert mode(path.parent) == 0o700
    assert mode(path) == 0o600


# HSTS --------------------------------------------------------------------------------------------

HSTS = "max-age=31536000; includeSubDomains"


def test_hsts_is_sent_when_served_over_https(make_app):
    client = make_app(SESSION_COOKIE_SECURE=True).test_client()
    for path in ("/", "/login", "/nowhere"):
        assert client.get(path).headers["Strict-Transport-Security"] == HSTS


def test_no_hsts_without_secure_cookies(app):
    assert "Strict-Transport-Security" not in app.test_client().get("/").headers
