"""The app in-process: a test configuration, and a Flask test client signed in as one person."""

from pathlib import Path

from spaces import accounts, create_app
from spaces import db as dbm

from .passwords import PASSWORD


def configured_app(data_dir: Path, **overrides):
    """The app on a temporary data directory; CSRF, rate limits and captions off unless a test
    turns them on."""
    config = {
        "TESTING": True,
        "DATA_DIR": str(data_dir),
        "DATABASE": str(data_dir / "spaces.db"),
        "RECORDINGS_DIR": str(data_dir / "recordings"),
        "SECRET_KEY": "test",
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "CAPTIONS_ENABLED": False,
    }
    config.update(overrides)
    return create_app(config)


class Browser:
    """A test client signed in as one person."""

    def __init__(self, app, username: str, password: str = PASSWORD) -> None:
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
