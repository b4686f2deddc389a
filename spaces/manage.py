"""Command-line tasks: `flask --app app make-admin USERNAME` and `flask --app app purge`."""

import click
from flask import Flask, current_app

from . import accounts, retention
from . import db as dbm
from .errors import DomainError


def register(app: Flask) -> None:
    @app.cli.command("purge")
    def purge():
        """Delete the recordings and captions past their retention deadline (cron-safe)."""
        db = dbm.connect(current_app.config["DATABASE"])
        purged = retention.purge(
            db, current_app.config["RECORDINGS_DIR"], current_app.config["PICTURES_DIR"]
        )
        click.echo(f"purged {len(purged)} Space(s)" + (f": {purged}" if purged else ""))

    @app.cli.command("make-admin")
    @click.argument("username")
    def make_admin(username):
        """Mark an account as admin; admins review reports."""
        try:
            user = accounts.make_admin(dbm.connect(current_app.config["DATABASE"]), username)
        except DomainError as exc:
            raise click.ClickException(exc.message) from exc
        click.echo(f"{user['username']} is now an admin")
