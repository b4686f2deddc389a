"""HTTP views: parse the request, call the domain, render a template."""

from flask import Flask


def register(app: Flask) -> None:
    from . import admin, audio, auth, home, live, messages, people, reports, rooms, transcripts

    modules = (admin, audio, auth, home, live, messages, people, reports, rooms, transcripts)
    for module in modules:
        app.register_blueprint(module.bp)
