"""The app in-process: a test configuration, and a Flask test client signed in as one person."""

import re
from pathlib import Path

from flask import session
from flask_wtf.csrf import generate_csrf

from spaces import accounts, create_app, sessions
from spaces import db as dbm
from spaces.web import SESSION_KEY

from .passwords import PASSWORD

CSRF_META = re.compile(rb'<meta name="csrf-token" content="([^"]+)"')


def configured_app(data_dir: Path, **overrides):
    """The app on a temporary data directory. CSRF is on, as in production (a test that turns it
    off says why); rate limits and captions are off unless a test turns them on."""
    config = {
        "TESTING": True,
        "DATA_DIR": str(data_dir),
        "DATABASE": str(data_dir / "spaces.db"),
        "RECORDINGS_DIR": str(data_dir / "recordings"),
        "PICTURES_DIR": str(data_dir / "pictures"),
        "SECRET_KEY": "test",
        "WTF_CSRF_ENABLED": True,
        "RATELIMIT_ENABLED": False,
        "CAPTIONS_ENABLED": False,
    }
    config.update(overrides)
    return create_app(config)


class Client:
    """A browser tab on the in-process app, sending the CSRF token the way the pages do: every
    page carries it in `<meta name="csrf-token">`, htmx sends it in the X-CSRFToken header and a
    plain form in its hidden `csrf_token` field. The token is the one of the last full page this
    tab loaded; a sign-in starts a new session, with a new token, as in a browser."""

    def __init__(self, app) -> None:
        self.client = app.test_client()
        self.token = ""

    def get(self, path, **kw):
        response = self.client.get(path, **kw)
        if found := CSRF_META.search(response.data):
            self.token = found.group(1).decode()
        return response

    def post(self, path, data=None, htmx=True, **kw):
        """A POST from the page last loaded: htmx's (HX-Request, the token in X-CSRFToken) or,
        with `htmx=False`, a plain form's (the token among the fields)."""
        headers = dict(kw.pop("headers", None) or {})
        data = dict(data or {})
        if htmx:
            headers.setdefault("HX-Request", "true")
            headers.setdefault("X-CSRFToken", self.token)
        else:
            data.setdefault("csrf_token", self.token)
        return self.client.post(path, data=data, headers=headers, **kw)

    def fill(self, path, data, **kw):
        """Opens the form at `path` and sends it, as a person does (`kw`: for both requests)."""
        self.get(path, **kw)
        return self.post(path, data, htmx=False, **kw)


class Browser(Client):
    """A tab signed up (so signed in) as one person."""

    def __init__(self, app, username: str, password: str = PASSWORD) -> None:
        super().__init__(app)
        self.username = username
        response = self.fill("/signup", {"username": username, "password": password})
        assert response.status_code == 302, response.data
        self.get(response.location)  # where a browser lands: the new session's token
        self.user = accounts.by_username(dbm.connect(app.config["DATABASE"]), username)


def signed_in(app, user_id: int | None) -> Client:
    """A tab whose session is what a log-in leaves (a session row and its id; None: a visitor's),
    with the CSRF token its pages carry: made without the log-in's password hash, for matrices of
    thousands of requests. flask-wtf makes the token, as for a page."""
    tab = Client(app)
    with app.test_request_context():
        if user_id is not None:
            db = dbm.connect(app.config["DATABASE"])
            session[SESSION_KEY] = sessions.start(db, user_id, max_age=3600)
        tab.token = generate_csrf()
        contents = dict(session)
    with tab.client.session_transaction() as stored:
        stored.update(contents)
    return tab
