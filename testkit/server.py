"""The live server: `python -m spaces.serve` in a subprocess, as `make run` starts it, for the
tests' fixtures and the drills alike. Everything on 127.0.0.1."""

import contextlib
import itertools
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from flask import Flask, session
from flask_wtf.csrf import generate_csrf

from spaces import db as dbm
from spaces import migrations, sessions
from spaces.web import SESSION_KEY

from .http_user import HttpUser
from .passwords import seed_accounts

_batches = itertools.count(1)
ROOT = Path(__file__).resolve().parent.parent  # the checkout: `-m spaces.serve` runs its code


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, log: Path, within: float = 60) -> None:
    """Until something listens on `port`; the log when the process dies or never listens."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(log.read_text()) from None
            time.sleep(0.1)
    raise RuntimeError("server did not start: " + log.read_text())


def wait_for_port_free(port: int, within: float = 15) -> None:
    """Until nothing listens on `port`. A server killed with -9 leaves its listening socket open
    while its threads are still exiting (the process already shows as a zombie): a restart on the
    same port would otherwise take that dying socket for the new server's."""
    deadline = time.monotonic() + within
    while True:
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds
            try:
                s.bind(("127.0.0.1", port))
                return
            except OSError:
                if time.monotonic() >= deadline:
                    raise RuntimeError(f"port {port} still in use after {within} s") from None
        time.sleep(0.1)


def stop_process(proc: subprocess.Popen | None) -> None:
    """SIGTERM (the server's clean stop), then SIGKILL after 10 s."""
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class ServedProcess:
    """A `python -m <module>` served by gunicorn on 127.0.0.1 (the core or an edge), logging to
    `log`: started, stopped, killed and measured the same way."""

    module = ""

    def __init__(self, directory: Path, port: int | None, env: dict, log_name: str) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.log = self.directory / log_name
        self.env = {**os.environ, "RATELIMIT_ENABLED": "0", **env}
        self.proc: subprocess.Popen | None = None

    def start(self):
        wait_for_port_free(self.port)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", self.module],
            cwd=ROOT,
            env=self.env,
            stdout=open(self.log, "ab"),  # noqa: SIM115 (the child keeps it)
            stderr=subprocess.STDOUT,
        )
        wait_for_port(self.port, self.proc, self.log)
        return self

    def stop(self) -> None:
        children = self.children() if self.alive() else []
        stop_process(self.proc)
        reap(children)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int:
        """The serving process: gunicorn's one worker (the master only watches it), whose CPU and
        memory the drills measure; the launched process itself until the worker is up."""
        for child in child_pids(self.proc.pid):
            with contextlib.suppress(OSError):
                if b"multiprocessing" not in Path(f"/proc/{child}/cmdline").read_bytes():
                    return child
        return self.proc.pid

    def kill9(self) -> list[int]:
        """kill -9 of gunicorn's master; answers its child processes (they must go by
        themselves: the worker dies with the master, PR_SET_PDEATHSIG)."""
        children = self.children()
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        return children

    def children(self) -> list[int]:
        """Every process below the launched one: gunicorn's worker and the caption process."""
        pids, todo = [], child_pids(self.proc.pid)
        while todo:
            pids.append(todo.pop())
            todo += child_pids(pids[-1])
        return pids

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


class LiveServer(ServedProcess):
    """A Spaces server with its own DATA_DIR, rate limits and captions off unless the environment
    given says otherwise (`CAPTIONS="1"`). Restartable on the same port and data."""

    module = "spaces.serve"

    def __init__(self, data_dir: Path, port: int | None = None, **env: str) -> None:
        port = port or free_port()
        base = {"DATA_DIR": str(Path(data_dir)), "PORT": str(port), "HOST": "127.0.0.1"}
        super().__init__(data_dir, port, {**base, "CAPTIONS": "0", **env}, "server.log")
        self.data_dir = self.directory
        self.url = f"http://127.0.0.1:{self.port}"
        self.db_path = self.data_dir / "spaces.db"

    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        """One statement on the server's database, from another connection."""
        db = sqlite3.connect(self.db_path, timeout=10, isolation_level=None)
        try:
            return db.execute(query, params).fetchall()
        finally:
            db.close()

    def sign_up(self, *names: str) -> list[HttpUser]:
        """New accounts signed up over HTTP, at once; each name gets a suffix, so tests that share
        a server never share a person."""
        batch = next(_batches)
        with ThreadPoolExecutor(len(names)) as pool:
            return list(pool.map(lambda name: HttpUser(self.url, f"{name}_{batch}"), names))

    def people(self, names: list[str]) -> list[HttpUser]:
        """Accounts seeded straight into the database (one password hash for all), each signed in
        with a session cookie made as a log-in makes it: crowds without thousands of sign-ups."""
        ids = seed_accounts(self.db_path, names)
        mint = session_minter(self._secret_key(), self.db_path)
        return [HttpUser.signed_in(self.url, n, ids[n], *mint(ids[n])) for n in names]

    def _secret_key(self) -> str:
        """The server's key (made now, as the server would, when it has not started yet)."""
        key = self.data_dir / "secret_key"
        if not key.exists():
            key.write_text(os.urandom(32).hex())
            key.chmod(0o600)
        return key.read_text().strip()


def child_pids(pid: int) -> list[int]:
    """The processes `pid` started (every thread's children, from /proc)."""
    pids = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                pids += [int(p) for p in (task / "children").read_text().split()]
    return pids


def session_minter(secret_key: str, database: Path):
    """What a sign-in leaves in the browser: a session row in `database` and the signed Flask
    session cookie holding its id (permanent) with a CSRF secret in it, and the page's CSRF token,
    made by the product's `sessions.start` and flask-wtf itself."""
    app = Flask("testkit", root_path=str(ROOT))
    app.secret_key = secret_key
    serializer = app.session_interface.get_signing_serializer(app)
    db = dbm.connect(database)
    migrations.apply(db)
    lock = threading.Lock()  # mint is called from many threads; the connection is one

    def mint(user_id: int) -> tuple[str, str]:
        with lock:
            sid = sessions.start(db, user_id, "testkit", max_age=30 * 86400)
        with app.test_request_context():
            session.permanent = True
            session[SESSION_KEY] = sid
            token = generate_csrf()
            return serializer.dumps(dict(session)), token

    return mint


def reap(pids: list[int], wait: float = 5.0) -> list[int]:
    """Waits for these processes to end; kills the ones still there; answers those it killed."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.1)
    killed = [p for p in pids if alive(p)]
    for pid in killed:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    return killed


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def cmdline(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    return ""
