"""`make run`: serve the app with its background workers on HOST:PORT.

Threads, not an event loop: every socket gets a thread that mostly waits, and fan-out never
wakes them (see realtime/outbox.py), which measured as well as gevent here with no monkey-patching
of sqlite, faster-whisper or numpy. The README has the figures.
"""

import logging
import signal
import sys
import threading
import time

from werkzeug.serving import make_server

from . import create_app


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app = create_app()
    start_workers(app)
    host, port = app.config["HOST"], int(app.config["PORT"])
    limit = app.config["REQUESTS_IN_FLIGHT"]
    server = make_server(host, port, InFlightLimit(app, limit) if limit else app, threaded=True)
    server.daemon_threads = True
    logging.getLogger("spaces").info("Spaces is serving on http://%s:%d", host, port)

    def stop(_signum, _frame):
        app.extensions["spaces_hub"].close_all(1012)
        app.extensions["spaces_audio"].stop()
        if "spaces_captions" in app.extensions:
            app.extensions["spaces_captions"].stop()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        stop(None, None)


class InFlightLimit:
    """At most `limit` HTTP requests run at once; the others wait their turn, not for the GIL.

    Werkzeug gives every connection a thread. Under churn (drill L2: 200 people joining and
    leaving in 10 s) dozens of requests ran at once, and each sqlite call or socket write gave up
    the GIL and then waited up to the 5 ms switch interval to get it back: the same work took half
    again as much CPU and requests took a second. With 4 slots the server used 26 % less CPU and
    the median request took half as long. Websockets are left alone: their handler lasts as long
    as the socket and mostly waits.
    """

    def __init__(self, app, limit: int) -> None:
        self.app = app
        self.slots = threading.BoundedSemaphore(limit)

    def __call__(self, environ, start_response):
        if environ.get("HTTP_UPGRADE", "").lower() == "websocket":
            return self.app(environ, start_response)
        with self.slots:
            return self.app(environ, start_response)


PURGE_EVERY = 600  # seconds


def start_workers(app) -> None:
    app.extensions["spaces_hub"].start()
    app.extensions["spaces_audio"].start()
    if "spaces_captions" in app.extensions:
        app.extensions["spaces_captions"].start()  # loads and warms the model in its process
    threading.Thread(target=_purge_forever, args=(app,), daemon=True, name="purge").start()


def _purge_forever(app) -> None:
    """Retention runs in the server too, every 10 minutes (the CLI `purge` is for cron)."""
    from . import retention
    from .db import connect

    db = connect(app.config["DATABASE"])
    while True:
        try:
            retention.purge(db, app.config["RECORDINGS_DIR"])
        except Exception:
            logging.getLogger("spaces").exception("purge failed")
        time.sleep(PURGE_EVERY)


if __name__ == "__main__":
    main()
