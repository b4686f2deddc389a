"""`make run`: gunicorn serves the app, one worker process with many threads, on HOST:PORT.

One process, because the live hub, the audio mixer and presence live in its memory. Threads, not
an event loop: every socket holds a thread that mostly waits, and fan-out never wakes them (see
realtime/outbox.py), which measured as well as gevent here with no monkey-patching of sqlite,
faster-whisper or numpy (README, "How it scales"). gunicorn's gthread worker is the threaded
server flask-sock documents; unlike Werkzeug's development server it reads requests with bounded
threads and sizes, and spaces/request_guard.py adds the time limits (what protects what is there).
`flask --app app run --debug` still serves pages with Werkzeug, for work on templates.

The app and its background workers (the 20 ms audio tick, the live hub, the caption process, the
purge) start in the worker process, after the fork: nothing but the listening socket is made in
gunicorn's master.
"""

import contextlib
import ctypes
import logging
import os
import resource
import signal
import socket
import sys
import threading
import time

from gunicorn.app.base import BaseApplication
from gunicorn.workers.gthread import ThreadWorker

from . import cluster, config, create_app, retention, schedule
from .db import connect
from .events import listed, notified
from .request_guard import RequestGuard, bound_stalls
from .web import body_limits

log = logging.getLogger("spaces")


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = config.defaults()
    # Each socket is a file, and so is each pool thread's SQLite connection (database, WAL, shm);
    # a listener's socket the relay holds is a file in both processes (the relay inherits this).
    connections = settings["SERVER_CONNECTIONS"] + settings["LISTENER_RELAY_SOCKETS"]
    raise_open_files_limit(connections + 3 * settings["SERVER_THREADS"] + 256)
    Server(settings).run()


class Server(BaseApplication):
    """gunicorn configured from the app's settings (spaces/config.py), not from a command line."""

    def __init__(self, settings: dict) -> None:
        self.settings = settings
        self.flask_app = None
        self.stopped = False
        super().__init__()

    def load_config(self) -> None:
        host, port = self.settings["HOST"], self.settings["PORT"]
        options = {
            "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
            "workers": 1,  # the hub, the mixer and presence are this process's memory
            "worker_class": Worker,
            # Every socket holds a pool thread for its whole life (a page's, a speaker's audio),
            # but a listener's audio socket, which the listener relay's process reads and writes
            # (realtime/listener_relay.py). Threads start only when needed. Connections beyond
            # the pool wait for a free thread.
            "threads": self.settings["SERVER_THREADS"],
            "worker_connections": self.settings["SERVER_CONNECTIONS"],
            "graceful_timeout": 10,  # sockets are closed with 1012 at once; requests are short
            # X-Forwarded-* are not gunicorn's to trust: the app decides what a proxy may say.
            "forwarded_allow_ips": "",
            "proc_name": "spaces",
            "errorlog": "-",
        }
        if "control_socket_disable" in self.cfg.settings:  # gunicorn >= 25.1
            options["control_socket_disable"] = True  # it could add workers; and one path for all
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self) -> RequestGuard:
        """Runs in the worker process (gunicorn loads the app after the fork)."""
        app = create_app()
        start_workers(app)
        self.flask_app = app
        log.info("Spaces is serving on http://%s", self.cfg.bind[0])
        return RequestGuard(
            app,
            in_flight=app.config["REQUESTS_IN_FLIGHT"],
            read_timeout=app.config["REQUEST_TIMEOUT"],
            max_body=app.config["MAX_CONTENT_LENGTH"],
            larger_bodies=body_limits(app),
        )

    def stop_workers(self) -> None:
        """On SIGTERM or SIGINT: sockets closed with 1012 (browsers reconnect), the audio engine
        stopped (recordings closed), the caption process ended. Once."""
        app = self.flask_app
        if app is None or self.stopped:
            return
        self.stopped = True
        app.extensions["spaces_hub"].close_all(1012)
        app.extensions["spaces_audio"].stop()
        if "spaces_captions" in app.extensions:
            app.extensions["spaces_captions"].stop()


class Worker(ThreadWorker):
    """gthread, plus: time limits on every connection, the app's shutdown on the worker's signals,
    and death with the master."""

    def init_process(self) -> None:
        die_with_parent(self.ppid)
        logging.getLogger("gunicorn.error").addFilter(quiet_stalls)
        super().init_process()

    def handle(self, conn):
        bound_stalls(conn.sock, self.app.flask_app.config["REQUEST_TIMEOUT"])
        keep_alive = super().handle(conn)
        if keep_alive is False:
            # gunicorn closes the connection on its main thread "gracefully": it reads until the
            # client hangs up, for up to 2 s, and accepts nobody meanwhile. Six stalled clients
            # held GET / for 12 s that way. With our reading side shut that read ends at once.
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_RD)
        return keep_alive

    def handle_exit(self, sig, frame) -> None:  # SIGTERM: finish what is in flight, then exit
        self.app.stop_workers()
        super().handle_exit(sig, frame)

    def handle_quit(self, sig, frame) -> None:  # SIGINT (Ctrl-C), SIGQUIT: exit now
        self.app.stop_workers()
        super().handle_quit(sig, frame)


def quiet_stalls(record: logging.LogRecord) -> bool:
    """gunicorn logs a traceback for a socket error; a client cut off by `bound_stalls` is routine
    and gets one line."""
    error = record.exc_info[1] if record.exc_info else None
    if isinstance(error, BlockingIOError | TimeoutError):
        record.msg, record.args = "closed a connection that stalled past REQUEST_TIMEOUT", ()
        record.exc_info = record.exc_text = None
        record.levelno, record.levelname = logging.INFO, "INFO"
    return True


def die_with_parent(parent: int) -> None:
    """The kernel kills the worker when gunicorn's master dies, even by `kill -9`, as the single
    process did before: an orphan worker would keep the port and the caption process (Linux only;
    elsewhere gunicorn's own check notices within a second)."""
    if sys.platform == "linux":
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if parent != os.getppid():
        sys.exit(1)


def raise_open_files_limit(wanted: int) -> None:
    """Lifts the soft limit on open files (often 1024) toward `wanted`: running out makes
    gunicorn's accept() fail and the worker restart, losing every Space's live state."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if target < wanted:
        log.warning("open files are limited to %d; the settings ask for %d", target, wanted)


def start_workers(app) -> None:
    for worker in app.extensions.get("spaces_cluster", ()):  # REDIS_URL: broker, presence
        worker.start()
    app.extensions["spaces_hub"].start()
    app.extensions["spaces_audio"].start()
    if "spaces_captions" in app.extensions:
        app.extensions["spaces_captions"].start()  # loads and warms the model in its process
    app.extensions["spaces_feed"].start()
    threading.Thread(target=_purge_forever, args=(app,), daemon=True, name="purge").start()
    threading.Thread(target=_schedule_forever, args=(app,), daemon=True, name="schedule").start()


def _purge_forever(app) -> None:
    """Retention runs in the server too, every PURGE_SECONDS (the CLI `purge` is for cron); with
    several nodes, on one at a time (a lock in Redis)."""
    db = connect(app.config["DATABASE"])
    client = app.extensions.get("spaces_redis")  # None: one node
    while True:
        try:
            with cluster.one_at_a_time(client, "purge", app.config["PURGE_SECONDS"]) as mine:
                if mine:
                    retention.purge(db, app.config["RECORDINGS_DIR"], app.config["PICTURES_DIR"])
        except Exception:
            log.exception("purge failed")
        time.sleep(app.config["PURGE_SECONDS"])


def _schedule_forever(app) -> None:
    """Every SCHEDULE_TICK_SECONDS: hosts told their Space is due, Spaces whose host never came
    cancelled, old notifications pruned (schedule.due); the pages concerned hear of it. With
    several nodes, on one at a time (a lock in Redis), so nobody is told twice."""
    db = connect(app.config["DATABASE"])
    broker = app.extensions["spaces_broker"]
    client = app.extensions.get("spaces_redis")  # None: one node
    tick = app.config["SCHEDULE_TICK_SECONDS"]
    while True:
        try:
            with cluster.one_at_a_time(client, "schedule", tick) as mine:
                done = schedule.due(db) if mine else None
            for space_id in (done.reminded + done.cancelled) if done else ():
                broker.publish(listed(space_id))
            if done and done.notified:
                broker.publish(notified(done.notified))
        except Exception:
            log.exception("schedule tick failed")
        time.sleep(tick)


if __name__ == "__main__":
    main()
