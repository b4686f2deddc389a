"""Spaces: live audio rooms in the browser."""

from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from . import config as config_module

ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: dict | None = None) -> Flask:
    """Defaults from the environment, then the test's settings; then data/, schema, extensions."""
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.update(config_module.defaults())
    if test_config:
        app.config.update(test_config)
    proxies = app.config["TRUSTED_PROXIES"]
    if proxies:  # behind nginx: limits count per client, from the address the proxies forwarded
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
    data = config_module.private_dir(app.config["DATA_DIR"])
    config_module.private_dir(app.config["RECORDINGS_DIR"])
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = config_module.secret_key(data)

    from . import web

    app.url_map.converters["int"] = web.SqliteInt
    web.init_app(app)
    return app
