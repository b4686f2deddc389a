"""Spaces: live audio rooms in the browser. The app is assembled in spaces/app.py."""


def create_app(test_config: dict | None = None):
    """The Flask app (see spaces/app.py); `test_config` overrides the settings."""
    # Imported here to defer a heavy import: the terminal client (spaces/cli) lives in this
    # package and must start without loading Flask and the whole server.
    from .app import create_app as assemble

    return assemble(test_config)
