"""Spaces: live audio rooms in the browser."""

from pathlib import Path
from typing import TYPE_CHECKING

from . import config as config_module

if TYPE_CHECKING:
    from flask import Flask

ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: dict | None = None) -> "Flask":
    """Defaults from the environment, then the test's settings; then data/, schema, extensions."""
    # Deferred: importing the package must not load Flask, because the terminal client
    # (spaces.cli) lives in it and starts without the server (tests/test_cli_protocol.py).
    from flask import Flask

    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.update(config_module.defaults())
    if test_config:
        app.config.update(test_config)
    data = Path(app.config["DATA_DIR"])
    data.mkdir(parents=True, exist_ok=True)
    Path(app.config["RECORDINGS_DIR"]).mkdir(parents=True, exist_ok=True)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = config_module.secret_key(data)

    from . import web

    app.url_map.converters["int"] = web.SqliteInt
    web.init_app(app)
    return app
