"""Pieces shared by bench/drills.py: the server process, people, and small socket clients.

Set-up over HTTP and the raw websocket wire come from bench/_clients.py (the fan-out benchmark's
client code). What is added here: a server that can be killed and restarted on the same port and
data, accounts seeded without HTTP sign-ups, a reading thread per socket that notes every frame
(an `Ear`), a speaker that streams real speech and reconnects with backoff (a `Mouth`), a thread
that drains many sockets at once, a TCP proxy that can drop a network, and /proc look-ups.

Everything talks to 127.0.0.1 only, and every loop here is bounded by a deadline or a stop flag.
"""

import contextlib
import os
import re
import select
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _clients as clients  # noqa: E402

ROOT = clients.ROOT
AUDIO_DIR = clients.AUDIO_DIR
FRAME_BYTES = clients.FRAME_BYTES
FRAME_SECONDS = clients.FRAME_SECONDS
AUDIBLE = 64  # a received frame with a sample beyond this is sound, not silence


# The server --------------------------------------------------------------------------------------


class Server:
    """`python -m spaces.serve` as `make run` starts it: its own DATA_DIR, rate limits off,
    captions off unless `CAPTIONS="1"` is passed. Restartable on the same port and data."""

    def __init__(self, data_dir: Path, port: int | None = None, **env: str) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = port or clients.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.db_path = self.data_dir / "spaces.db"
        self.log = self.data_dir / "server.log"
        self.env = {
            **os.environ,
            "DATA_DIR": str(self.data_dir),
            "PORT": str(self.port),
            "HOST": "127.0.0.1",
            "RATELIMIT_ENABLED": "0",
            "CAPTIONS": "0",
            **env,
        }
        key = self.data_dir / "secret_key"
        if not key.exists():
            key.write_text(os.urandom(32).hex())
            key.chmod(0o600)
        self.mint = clients.cookie_minter(key.read_text().strip())
        self.proc: subprocess.Popen | None = None

    @property
    def pid(self) -> int:
        """The serving process (gunicorn's worker), whose CPU and memory the drills measure."""
        return clients.serving_pid(self.proc.pid)

    def seed(self, names: list[str]) -> dict[str, int]:
        """Accounts written by the product's own sign-up, one password hash for all (fast)."""
        ids = clients.seed_accounts(self.db_path, names)
        return dict(zip(names, ids, strict=True))

    def start(self) -> "Server":
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "spaces.serve"],
            cwd=ROOT,
            env=self.env,
            stdout=open(self.log, "ab"),  # noqa: SIM115 (the child keeps it)
            stderr=subprocess.STDOUT,
        )
        clients.wait_for_port(self.port, self.proc, self.log)
        return self

    def stop(self) -> None:
        children = self.children() if self.alive() else []
        clients.stop_process(self.proc)
        reap(children)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill9(self) -> list[int]:
        """kill -9; answers the server's child processes (they must go by themselves)."""
        children = self.children()
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        return children

    def children(self) -> list[int]:
        """Every process below the server's: gunicorn's worker and the caption process."""
        pids, todo = [], clients.child_pids(self.proc.pid)
        while todo:
            pids.append(todo.pop())
            todo += clients.child_pids(pids[-1])
        return pids

    def rss_mb(self) -> float:
        return clients.rss_mb(self.pid)

    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        db = sqlite3.connect(self.db_path, timeout=10, isolation_level=None)
        try:
            return db.execute(query, params).fetchall()
        finally:
            db.close()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


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


TCP_STATES = {
    "01": "ESTABLISHED",
    "02": "SYN_SENT",
    "03": "SYN_RECV",
    "04": "FIN_WAIT1",
    "05": "FIN_WAIT2",
    "06": "TIME_WAIT",
    "07": "CLOSE",
    "08": "CLOSE_WAIT",
    "09": "LAST_ACK",
    "0A": "LISTEN",
    "0B": "CLOSING",
}


def tcp_state(local_port: int, remote_port: int) -> str | None:
    """The kernel's state of the 127.0.0.1 socket local_port -> remote_port (None: gone)."""
    want = (f"0100007F:{local_port:04X}", f"0100007F:{remote_port:04X}")
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if (fields[1], fields[2]) == want:
            return TCP_STATES.get(fields[3], fields[3])
    return None


# People ------------------------------------------------------------------------------------------


class Person(clients.Http):
    """A signed-in person over real HTTP (a minted session cookie, the page's CSRF token)."""

    def __init__(self, server: Server, username: str, user_id: int) -> None:
        minted = server.mint(user_id)
        # bench/_clients.py's minter answers the cookie, or (cookie, CSRF token) in newer versions.
        cookie, token = minted if isinstance(minted, tuple) else (minted, "")
        super().__init__(server.port, cookie)
        self.token = token or self.token
        self.username = username
        self.id = user_id

    def clone(self) -> "Person":
        """The same session on another connection (for many threads at once)."""
        other = Person.__new__(Person)
        other.__dict__.update(self.__dict__)
        return other

    def status(self, method: str, path: str, data: dict | None = None, htmx: bool = True):
        status, text, _ = self.request(method, path, data, htmx)
        return status, text


def people(server: Server, names: list[str]) -> list[Person]:
    ids = server.seed(names)
    return [Person(server, name, ids[name]) for name in names]


def open_space(host: Person, title: str, speaker_policy: str = "everyone") -> int:
    host.page("/spaces/new")
    _, _, location = host.post(
        "/spaces/new",
        {"title": title, "description": "", "speaker_policy": speaker_policy},
        htmx=False,
        expect=(302,),
    )
    return int(location.rstrip("/").rsplit("/", 1)[1])


def seat(host: Person, speakers: list[Person], space: int) -> None:
    """Joins each person and puts them on stage; every microphone (the host's too) on."""
    room = f"/spaces/{space}"
    for person in speakers:
        person.page(room)
        person.post(room + "/join")
        host.post(f"{room}/people/{person.id}/make-speaker")
    for person in [host, *speakers]:
        person.page(room)
        person.post(room + "/mic", {"on": "1"})


def join(person: Person, space: int) -> None:
    person.page(f"/spaces/{space}")
    person.post(f"/spaces/{space}/join")


def make_admin(server: Server, user_id: int) -> None:
    server.sql("UPDATE users SET is_admin = 1 WHERE id = ?", (user_id,))


LISTENING_RE = re.compile(r'<span class="count">(\d+)</span> listening')


def listening_count(html: str) -> int | None:
    match = LISTENING_RE.search(html)
    return int(match.group(1)) if match else None


# Audio -------------------------------------------------------------------------------------------


def speech(index: int, peak: int = 12000) -> list[bytes]:
    """A file of ../shared/audio (sorted, by index) as 20 ms frames, scaled to `peak`."""
    import soundfile

    files = sorted(AUDIO_DIR.glob("*.wav"))
    data, rate = soundfile.read(files[index % len(files)], dtype="int16")
    if data.ndim > 1:
        data = data[:, 0]
    assert rate == 16000, rate
    top = max(1, int(np.abs(data.astype(np.int32)).max()))
    data = (data.astype(np.float64) * (peak / top)).astype("<i2")
    usable = len(data) // 320 * 320
    return [f.tobytes() for f in data[:usable].reshape(-1, 320)]


def audible(payload: bytes) -> bool:
    if len(payload) != FRAME_BYTES:
        return False
    return int(np.abs(np.frombuffer(payload, dtype="<i2").astype(np.int32)).max()) > AUDIBLE


def read_frames(buf: bytearray) -> list[tuple[int, bytes]]:
    """Whole server frames (unmasked) from the front of buf, which keeps the rest."""
    out = []
    i, n = 0, len(buf)
    while n - i >= 2:
        opcode, length = buf[i] & 0x0F, buf[i + 1] & 0x7F
        start = i + 2
        if length == 126:
            if n - i < 4:
                break
            length = struct.unpack_from("!H", buf, i + 2)[0]
            start = i + 4
        elif length == 127:
            if n - i < 10:
                break
            length = struct.unpack_from("!Q", buf, i + 2)[0]
            start = i + 10
        if start + length > n:
            break
        out.append((opcode, bytes(buf[start : start + length])))
        i = start + length
    del buf[:i]
    return out


def connect_ws(port: int, path: str, cookie: str, timeout: float = 5.0) -> socket.socket:
    sock = clients.open_ws(port, path, cookie, timeout=timeout)
    sock.settimeout(timeout)
    return sock


class Ear(threading.Thread):
    """Reads one websocket on a thread: binary frames (arrival time, audible or not), text frames,
    and the close. With `reconnect`, comes back after a lost connection with backoff (0.25 s,
    0.5 s, 1 s, 2 s max), as docs/audio-protocol.md asks of clients.

    `who` is a Person (its cookie is read at each connect)."""

    def __init__(
        self, port: int, path: str, who, reconnect: bool = False, keep_text: bool = True
    ) -> None:
        super().__init__(daemon=True)
        self.port, self.path, self.who = port, path, who
        self.reconnect = reconnect
        self.keep_text = keep_text
        self.frames: list[tuple[float, bool]] = []
        self.texts: list[tuple[float, str]] = []
        self.closes: list[tuple[float, int | None]] = []  # (time, close code or None: no frame)
        self.connects: list[float] = []
        self.refusals: list[str] = []
        self.stopping = threading.Event()
        self.sock: socket.socket | None = None
        self.connected = threading.Event()

    def run(self) -> None:
        backoff = 0.25
        while not self.stopping.is_set():
            try:
                self.sock = connect_ws(self.port, self.path, self.who.cookie)
            except (OSError, ConnectionError) as exc:
                self.refusals.append(str(exc)[:120])
                if not self.reconnect:
                    return
                self.stopping.wait(backoff)
                backoff = min(2.0, backoff * 2)
                continue
            backoff = 0.25
            self.connects.append(time.monotonic())
            self.connected.set()
            code = self._read(self.sock)
            self.closes.append((time.monotonic(), code))
            with contextlib.suppress(OSError):
                self.sock.close()
            if not self.reconnect or code in (1000, 4403, 4410):
                return
            self.stopping.wait(backoff)

    def _read(self, sock: socket.socket) -> int | None:
        buf = bytearray()
        sock.settimeout(0.5)
        while not self.stopping.is_set():
            try:
                data = sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return None
            if not data:
                return None
            buf += data
            t = time.monotonic()
            for opcode, payload in read_frames(buf):
                if opcode == 0x2:
                    self.frames.append((t, audible(payload)))
                elif opcode == 0x1:
                    if self.keep_text:
                        self.texts.append((t, payload.decode(errors="replace")))
                elif opcode == 0x8:
                    return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
        return None

    def stop(self) -> None:
        self.stopping.set()
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)
        self.join(3)

    # Figures
    def count(self, t0: float, t1: float, audible_only: bool = False) -> int:
        return sum(1 for t, a in list(self.frames) if t0 <= t < t1 and (a or not audible_only))

    def rate(self, t0: float, t1: float) -> float:
        return self.count(t0, t1) / max(1e-9, t1 - t0)

    def max_gap(self, t0: float, t1: float) -> float:
        times = [t for t, _ in list(self.frames) if t0 <= t < t1]
        if len(times) < 2:
            return float("inf")
        return max(b - a for a, b in zip(times, times[1:], strict=False))

    def first_audible_after(self, t: float) -> float | None:
        for at, loud in list(self.frames):
            if at >= t and loud:
                return at
        return None

    def wait_text(self, predicate, after: float, within: float) -> float | None:
        """The arrival time of the first text frame after `after` for which predicate holds."""
        deadline = time.monotonic() + within
        seen = 0
        while time.monotonic() < deadline:
            texts = list(self.texts)
            for at, text in texts[seen:]:
                if at >= after and predicate(text):
                    return at
            seen = len(texts)
            time.sleep(0.005)
        return None


class Mouth(threading.Thread):
    """A speaker's audio socket: real speech, one frame every 20 ms at real-time pace, while the
    downstream (mix-minus) is read and discarded. With `reconnect`: a socket that errors, or from
    which nothing arrives for `watchdog` seconds (a dead network), is dropped and opened again with
    backoff; the frames of the time away are not sent (a live microphone, not a file)."""

    def __init__(
        self,
        port: int,
        path: str,
        who,
        frames: list[bytes],
        reconnect: bool = False,
        watchdog: float = 1.0,
        via_port: int | None = None,
    ) -> None:
        super().__init__(daemon=True)
        self.port, self.path, self.who = via_port or port, path, who
        self.wires = [clients.masked(f) for f in frames]
        self.reconnect = reconnect
        self.watchdog = watchdog
        self.sent = 0
        self.connects: list[float] = []
        self.losses: list[float] = []
        self.refusals = 0
        self.stopping = threading.Event()
        self.sock: socket.socket | None = None

    def run(self) -> None:
        backoff = 0.25
        while not self.stopping.is_set():
            try:
                self.sock = connect_ws(self.port, self.path, self.who.cookie, timeout=2.0)
            except (OSError, ConnectionError):
                self.refusals += 1
                if not self.reconnect:
                    return
                self.stopping.wait(backoff)
                backoff = min(2.0, backoff * 2)
                continue
            backoff = 0.25
            self.connects.append(time.monotonic())
            self._stream(self.sock)
            self.losses.append(time.monotonic())
            with contextlib.suppress(OSError):
                self.sock.close()
            if not self.reconnect:
                return
            self.stopping.wait(backoff)

    def _stream(self, sock: socket.socket) -> None:
        sock.settimeout(0.2)
        next_t = time.monotonic()
        heard = time.monotonic()
        while not self.stopping.is_set():
            now = time.monotonic()
            if now >= next_t:
                try:
                    sock.sendall(self.wires[self.sent % len(self.wires)])
                except OSError:
                    return
                self.sent += 1
                next_t += FRAME_SECONDS
                if now - next_t > 0.2:
                    next_t = now
            try:
                ready, _, _ = select.select([sock], [], [], max(0.0, next_t - time.monotonic()))
                if ready:
                    if not sock.recv(65536):
                        return
                    heard = time.monotonic()
            except OSError:
                return
            if self.reconnect and time.monotonic() - heard > self.watchdog:
                return  # the network is gone: nothing has come for a second

    def stop(self) -> None:
        self.stopping.set()
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.sendall(clients.masked(b"\x03\xe8", 0x8))
        self.join(3)
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.close()


class Drain(threading.Thread):
    """Reads and discards many sockets on one epoll loop (pages that stay open), and notes the
    ones the server closed that nobody here closed."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.poller = select.epoll()
        self.lock = threading.Lock()
        self.socks: dict[int, socket.socket] = {}
        self.server_closed: list[str] = []
        self.stopping = threading.Event()

    def add(self, sock: socket.socket, label: str = "") -> None:
        sock.setblocking(False)
        with self.lock:
            self.socks[sock.fileno()] = (sock, label)
            self.poller.register(sock.fileno(), select.EPOLLIN)

    def close(self, sock: socket.socket) -> None:
        with self.lock:
            fd = sock.fileno()
            if self.socks.pop(fd, None) is not None:
                with contextlib.suppress(OSError, ValueError):
                    self.poller.unregister(fd)
        with contextlib.suppress(OSError):
            sock.close()

    def run(self) -> None:
        while not self.stopping.is_set():
            events = self.poller.poll(0.2)
            with self.lock:
                for fd, _ in events:
                    entry = self.socks.get(fd)
                    if entry is None:
                        continue
                    sock, label = entry
                    try:
                        data = sock.recv(262144)
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError:
                        data = b""
                    if not data:
                        self.server_closed.append(label)
                        self.socks.pop(fd, None)
                        with contextlib.suppress(OSError, ValueError):
                            self.poller.unregister(fd)
            time.sleep(0.005)

    def stop(self) -> None:
        self.stopping.set()
        self.join(2)
        with self.lock:
            for sock, _ in self.socks.values():
                with contextlib.suppress(OSError):
                    sock.close()
            self.socks.clear()


def stalled_socket(port: int, path: str, cookie: str) -> socket.socket:
    """A websocket that is never read after its handshake (read byte by byte, so nothing after it
    is taken): a tiny receive buffer and segment size keep the kernel's share small, so the server
    meets a full socket within a second."""
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 536)
    raw.settimeout(10)
    raw.connect(("127.0.0.1", port))
    raw.sendall(clients.handshake(port, path, cookie))
    head = b""
    while b"\r\n\r\n" not in head:
        byte = raw.recv(1)
        if not byte:
            raise ConnectionError("closed during handshake")
        head += byte
    if b" 101 " not in head.split(b"\r\n", 1)[0]:
        raise ConnectionError(head.split(b"\r\n", 1)[0].decode())
    return raw


# A network that can drop -------------------------------------------------------------------------


class Proxy(threading.Thread):
    """A TCP relay 127.0.0.1:port -> 127.0.0.1:target. `drop()` is a network outage: nothing moves
    in either direction and new connections fail; `restore()` brings the network back, and the
    connections from before are then torn down (as they would be: the client gave them up, so
    its end answers the server's retransmissions with a reset)."""

    def __init__(self, target: int) -> None:
        super().__init__(daemon=True)
        self.target = target
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.pairs: list[tuple[socket.socket, socket.socket]] = []
        self.down = False
        self.stopping = threading.Event()
        self.lock = threading.Lock()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.down:
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                client.close()
                continue
            pair = (client, upstream)
            with self.lock:
                self.pairs.append(pair)
            threading.Thread(target=self._pump, args=pair, daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        ends = {a: b, b: a}
        a.settimeout(None)
        b.settimeout(None)
        while not self.stopping.is_set():
            if self.down:
                time.sleep(0.02)  # the network is down: nothing moves
                continue
            try:
                ready, _, _ = select.select(list(ends), [], [], 0.1)
            except (OSError, ValueError):
                break
            done = False
            for s in ready:
                try:
                    data = s.recv(65536)
                    if not data:
                        done = True
                        break
                    ends[s].sendall(data)
                except OSError:
                    done = True
                    break
            if done:
                break
        for s in (a, b):
            with contextlib.suppress(OSError):
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()

    def drop(self) -> None:
        self.down = True
        with self.lock:
            self.stale = list(self.pairs)
            self.pairs = []

    def restore(self) -> None:
        for a, b in getattr(self, "stale", []):
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    s.shutdown(socket.SHUT_RDWR)
        self.down = False

    def stop(self) -> None:
        self.stopping.set()
        with contextlib.suppress(OSError):
            self.listener.close()
        with self.lock:
            for a, b in self.pairs:
                for s in (a, b):
                    with contextlib.suppress(OSError):
                        s.close()
        self.join(2)


# Figures -----------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def wait_until(predicate, within: float, every: float = 0.1):
    """Polls predicate until it answers something true (returned) or `within` seconds pass."""
    deadline = time.monotonic() + within
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(every)
