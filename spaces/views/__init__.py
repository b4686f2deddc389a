"""HTTP views: parse the request, call the domain, render a template."""

from flask import Flask


def register(app: Flask) -> None:
    from . import audio, auth, home, live, messages, people, reports, rooms

    for module in (audio, auth, home, live, messages, people, reports, rooms):
        app.register_blueprint(module.bp)
