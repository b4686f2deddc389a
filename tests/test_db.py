"""The database connection: every connection the app opens zeroes what it deletes
(secure_delete), whatever SQLite's build default, so the retention purge leaves no words behind."""

import sqlite3

from spaces import db as dbm
from testkit.app import Browser, configured_app


def secure_delete(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA secure_delete").fetchone()[0]


def test_every_connection_the_app_opens_has_secure_delete_on(
    secure_delete_off_by_default, tmp_path
):
    opened = secure_delete_off_by_default
    raw = sqlite3.connect(tmp_path / "raw.db")
    assert secure_delete(raw) == 0, "the fixture must start connections with secure_delete off"
    opened.remove(raw)

    app = configured_app(tmp_path)  # the schema's connection, at start-up
    person = Browser(app, "secure")  # request threads' connections
    assert person.post("/posts", {"body": "hello"}).status_code == 200
    runner = app.test_cli_runner()
    assert runner.invoke(args=["purge"]).exit_code == 0  # the purge's own connection
    assert runner.invoke(args=["make-admin", "secure"]).exit_code == 0
    other_thread = dbm.ThreadLocalDatabases(app.config["DATABASE"])
    other_thread.get()  # what the audio engine and the hub use on their threads

    assert len(opened) >= 4
    assert [secure_delete(conn) for conn in opened] == [1] * len(opened)
