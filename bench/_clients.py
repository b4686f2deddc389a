"""Clients for the audio benchmarks: set-up over HTTP, speakers, and lean listener processes.

Everything here speaks docs/audio-protocol.md on raw sockets: one binary websocket message per
20 ms frame of 640 bytes (16 kHz mono s16le). Listeners run in worker processes, each holding a
few hundred sockets on one epoll loop; per received frame they only count it and look for the
burst pattern with a C-level substring search.

Latency is measured end to end with marked bursts. The marker speaker (the host) sends, every
BURST_EVERY frames, one frame whose first half is full-scale positive and whose second half carries
an 8-bit id as full-scale positive or negative runs of 20 samples. Every speaker's speech is scaled
to a peak of SPEECH_PEAK, so 11 voices sum to less than full scale: the mix reaches +32767 only in a
burst frame, and the burst's signs survive the mix. A listener finds the frame by its runs of
+32767, reads the id, and notes the arrival time; the marker speaker notes each burst's send time.
"""

import base64
import contextlib
import errno
import gc
import http.client
import os
import re
import select
import socket
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
AUDIO_DIR = ROOT.parent / "shared" / "audio"

FRAME_SAMPLES = 320
FRAME_BYTES = 640
FRAME_SECONDS = 0.02
SPEECH_PEAK = 2900  # 11 x 2900 < 32767: speech alone never reaches full scale in the mix
BURST_EVERY = 25  # frames (0.5 s) between bursts
QUIET_AROUND_BURST = 3  # frames of silence from the marker speaker either side of a burst
BURST_MARK = b"\xff\x7f" * 4  # four samples at +32767
SERVER_BINARY_HEADER = bytes([0x82, 126, FRAME_BYTES >> 8, FRAME_BYTES & 0xFF])
WIRE_FRAME = len(SERVER_BINARY_HEADER) + FRAME_BYTES
PASSWORD = "correct horse"  # noqa: S105 (throwaway accounts in a temporary database)


# Server process ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(log.read_text()) from None
            time.sleep(0.1)
    raise RuntimeError("server did not start: " + log.read_text())


def start_spaces(data_dir: Path, port: int) -> subprocess.Popen:
    """`python -m spaces.serve`, as `make run` starts it (tests/conftest.py's LiveServer)."""
    env = {
        **os.environ,
        "DATA_DIR": str(data_dir),
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "RATELIMIT_ENABLED": "0",
        "CAPTIONS": "0",
    }
    log = data_dir / "server.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "spaces.serve"],
        cwd=ROOT,
        env=env,
        stdout=open(log, "ab"),  # noqa: SIM115 (the child keeps it)
        stderr=subprocess.STDOUT,
    )
    wait_for_port(port, proc, log)
    return proc


def stop_process(proc: subprocess.Popen | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def child_pids(pid: int) -> list[int]:
    pids = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                pids += [int(p) for p in (task / "children").read_text().split()]
    return pids


def serving_pid(pid: int) -> int:
    """The process that serves: gunicorn's one worker under `make run` (the master only watches
    it), or `pid` itself for a one-process server. The others below are multiprocessing's."""
    for child in child_pids(pid):
        with contextlib.suppress(OSError):
            if b"multiprocessing" not in Path(f"/proc/{child}/cmdline").read_bytes():
                return child
    return pid


CLOCK_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICK


def thread_cpu_seconds(pid: int) -> dict[int, float]:
    """User + system CPU time of each thread of a process so far."""
    times = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError, IndexError):
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            times[int(task.name)] = (int(fields[11]) + int(fields[12])) / CLOCK_TICK
    return times


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def thread_count(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    return 0


# HTTP --------------------------------------------------------------------------------------------

CSRF_RE = re.compile(r'name="csrf-token" content="([^"]+)"')


class Http:
    """A person on the site over real HTTP: a cookie, the page's CSRF token, htmx headers."""

    def __init__(self, port: int, cookie: str = "") -> None:
        self.port = port
        self.origin = f"http://127.0.0.1:{port}"
        self.cookie = cookie  # the value of the `session` cookie
        self.token = ""

    def request(self, method: str, path: str, data: dict | None = None, htmx: bool = True):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {}
        if self.cookie:
            headers["Cookie"] = "session=" + self.cookie
        body = None
        if method == "POST":
            body = urllib.parse.urlencode(data or {})
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["X-CSRFToken"] = self.token
            headers["Origin"] = self.origin
        if htmx:
            headers["HX-Request"] = "true"
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read().decode()
            for name, value in response.getheaders():
                if name.lower() == "set-cookie" and value.startswith("session="):
                    self.cookie = value.split(";", 1)[0][len("session=") :]
            return response.status, text, response.getheader("Location")
        finally:
            conn.close()

    def page(self, path: str) -> str:
        """GETs a page and keeps its CSRF token, as a browser would."""
        status, text, _ = self.request("GET", path, htmx=False)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status}")
        match = CSRF_RE.search(text)
        if match:
            self.token = match.group(1)
        return text

    def post(self, path: str, data: dict | None = None, htmx: bool = True, expect=(200,)):
        status, text, location = self.request("POST", path, data, htmx)
        if status not in expect:
            raise RuntimeError(f"POST {path}: {status} {text[:200]}")
        return status, text, location

    def sign_up(self, username: str, password: str = PASSWORD) -> "Http":
        self.page("/signup")
        self.post("/signup", {"username": username, "password": password}, False, (302,))
        self.page("/")
        return self

    def user_id(self, username: str) -> int:
        return int(re.search(r'data-me="(\d+)"', self.page(f"/u/{username}")).group(1))


def seed_accounts(database: Path, names: list[str], password: str = PASSWORD) -> list[int]:
    """Listener accounts written by the product's own `accounts.sign_up`, with the password hashed
    once: argon2 costs ~0.2 CPU-s per sign-up here, so thousands of HTTP sign-ups would take
    minutes of the 2 cores. The accounts are real (they can log in with `password`)."""
    from spaces import accounts, migrations
    from spaces import db as dbm

    db = dbm.connect(database)
    migrations.apply(db)
    real = accounts._hasher
    hashed = real.hash(password)

    class OneHash:
        def hash(self, _password: str) -> str:
            return hashed

    accounts._hasher = OneHash()
    try:
        return [accounts.sign_up(db, name, password)["id"] for name in names]
    finally:
        accounts._hasher = real
        db.conn.close()


def cookie_minter(secret_key: str):
    """What a sign-in leaves in the browser: the signed Flask session cookie (`user_id`,
    permanent) with a CSRF secret in it, and the page's CSRF token, made by flask-wtf itself."""
    from flask import Flask, session
    from flask_wtf.csrf import generate_csrf

    app = Flask("bench", root_path=str(ROOT))
    app.secret_key = secret_key
    serializer = app.session_interface.get_signing_serializer(app)

    def mint(user_id: int) -> tuple[str, str]:
        with app.test_request_context():
            session.permanent = True
            session["user_id"] = user_id
            token = generate_csrf()
            return serializer.dumps(dict(session)), token

    return mint


# Websocket wire ----------------------------------------------------------------------------------


def handshake(port: int, path: str, cookie: str = "") -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        f"Origin: http://127.0.0.1:{port}",
    ]
    if cookie:
        lines.append("Cookie: session=" + cookie)
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def masked(payload: bytes, opcode: int = 0x2) -> bytes:
    """One client frame (clients must mask)."""
    key = os.urandom(4)
    n = len(payload)
    if n < 126:
        header = bytes([0x80 | opcode, 0x80 | n])
    else:
        header = bytes([0x80 | opcode, 0x80 | 126, n >> 8, n & 0xFF])
    data = np.frombuffer(payload, np.uint8) ^ np.frombuffer(key * (n // 4 + 1), np.uint8)[:n]
    return header + key + data.tobytes()


def open_ws(port: int, path: str, cookie: str = "", timeout: float = 30) -> socket.socket:
    """A blocking websocket connection (for the handful of speakers)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.sendall(handshake(port, path, cookie))
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError(f"closed during handshake: {head[:80]!r}")
        head += chunk
    status = head.split(b" ", 2)[1]
    if status != b"101":
        first_line = head.split(b"\r\n", 1)[0]
        raise ConnectionError(f"handshake refused: {first_line!r}")
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def burst_frame(burst_id: int) -> bytes:
    samples = np.full(FRAME_SAMPLES, 32767, dtype="<i2")
    for bit in range(8):
        if not (burst_id >> bit) & 1:
            samples[160 + bit * 20 : 180 + bit * 20] = -32768
    return samples.tobytes()


def read_burst(payload: bytes) -> int | None:
    """The id of a burst frame in the received mix, or None if this frame is not one."""
    if len(payload) != FRAME_BYTES:
        return None
    samples = np.frombuffer(payload, dtype="<i2")
    if samples[:160].min() <= 0:
        return None
    groups = samples[160:].reshape(8, 20).astype(np.int32).sum(axis=1)
    return int(sum(1 << bit for bit in range(8) if groups[bit] > 0))


def speech(index: int) -> np.ndarray:
    """Speaker `index`'s looped speech: a file from ../shared/audio, scaled to SPEECH_PEAK, as
    an array of 20 ms frames (same files are started at different points)."""
    files = sorted(AUDIO_DIR.glob("*.wav"))
    import soundfile

    data, rate = soundfile.read(files[index % len(files)], dtype="int16")
    if data.ndim > 1:
        data = data[:, 0]
    assert rate == 16000, rate
    start = (index // len(files)) * len(data) // 2
    data = np.concatenate([data[start:], data[:start]])
    peak = max(1, int(np.abs(data.astype(np.int32)).max()))
    data = (data.astype(np.float64) * (SPEECH_PEAK / peak)).astype("<i2")
    usable = len(data) // FRAME_SAMPLES * FRAME_SAMPLES
    return data[:usable].reshape(-1, FRAME_SAMPLES)


# Speakers ----------------------------------------------------------------------------------------


def speaker_process(pipe, port: int, targets: list[tuple[str, str]]) -> None:
    """Streams speech from every speaker at real-time pace; speaker 0 also sends the bursts.

    targets: (path, cookie) per speaker. Commands on `pipe`: "sends" answers the (seq, id, time)
    of every burst sent so far; "stop" ends. Downstream (mix-minus) is read and discarded.
    """
    socks = [open_ws(port, path, cookie) for path, cookie in targets]
    wires = []
    for i in range(1, len(socks)):
        wires.append([masked(f.tobytes()) for f in speech(i)])
    marker = speech(0)
    poller = select.epoll()
    by_fd = {s.fileno(): s for s in socks}
    for s in socks:
        poller.register(s.fileno(), select.EPOLLIN)
    poller.register(pipe.fileno(), select.EPOLLIN)
    sends: list[tuple[int, int, float]] = []
    late = 0
    pipe.send(("ready", len(socks)))
    tick = 0
    next_t = time.monotonic()
    running = True
    while running:
        now = time.monotonic()
        if now >= next_t:
            phase = tick % BURST_EVERY
            seq = tick // BURST_EVERY
            if phase == 0:
                payload = burst_frame(seq % 256)
            elif phase <= QUIET_AROUND_BURST or phase >= BURST_EVERY - QUIET_AROUND_BURST:
                payload = bytes(FRAME_BYTES)
            else:
                payload = marker[tick % len(marker)].tobytes()
            data = masked(payload)
            t = time.monotonic()
            socks[0].sendall(data)
            if phase == 0:
                sends.append((seq, seq % 256, t))
            for i, wire in enumerate(wires, start=1):
                socks[i].sendall(wire[tick % len(wire)])
            tick += 1
            next_t += FRAME_SECONDS
            if now - next_t > 0.2:  # far behind: skip ahead, as a real client's clock would
                late += 1
                next_t = now
            continue
        for fd, _ in poller.poll(max(0.0, next_t - now)):
            if fd == pipe.fileno():
                command = pipe.recv()
                if command == "sends":
                    pipe.send((sends, late, time.process_time()))
                elif command == "stop":
                    running = False
            else:
                try:
                    if not by_fd[fd].recv(65536):
                        raise ConnectionError
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError:
                    pipe.send(("speaker lost", fd))
                    running = False
    for s in socks:
        with contextlib.suppress(OSError):
            s.sendall(masked(b"\x03\xe8", 0x8))
            s.close()
    pipe.send(("stopped", len(sends)))


# Listeners ---------------------------------------------------------------------------------------

CONNECTING, HANDSHAKING, OPEN, CLOSED = range(4)
PROBE_BATCH = 0.002  # seconds
MAX_PENDING = 16  # handshakes in flight per process (the server's listen queue is 128)


class Listener:
    __slots__ = ("sock", "state", "buf", "frames", "bytes", "bursts", "error", "request")

    def __init__(self, sock: socket.socket, request: bytes) -> None:
        self.sock = sock
        self.state = CONNECTING
        self.buf = b""
        self.frames = 0
        self.bytes = 0
        self.bursts: list[tuple[int, float, int]] = []  # (burst id, arrival, frames before it)
        self.error = ""
        self.request = request


def listener_process(pipe, probe: bool, lazy_every: float = 0.04, nice: int = 0) -> None:
    """Holds a few hundred listener sockets on one epoll loop; commands arrive on `pipe`.

    ("connect", port, path, cookies): opens one socket per cookie ("" for none), in the
    background. "sync": answers ("connected", open, errors) once no handshake is in flight.
    "start" / "stop": a measuring window; "stop" answers every socket's figures. "close": closes
    all sockets. "exit": ends the process.

    A probe process measures latency: it waits in epoll, then sleeps PROBE_BATCH so that one call
    collects many sockets' frames, and notes each burst's arrival time (late by at most that).
    Other processes read lazily, every `lazy_every` seconds (two frames a read): on one machine a
    client woken for every frame costs the shared cores more than the server's send, and a remote
    client's wake-ups would not be the server's cost at all. They still receive every byte, and
    their frame counts and burst positions give the losses.
    """
    if nice:
        os.nice(nice)
    gc.freeze()  # nothing here makes cycles; collections over many sockets cost ~6 % of the loop
    gc.disable()
    poller = select.epoll()
    conns: dict[int, Listener] = {}
    failed: list[Listener] = []
    waiting: list[tuple[int, bytes]] = []  # handshakes not started yet (bounded in flight)
    pending = 0
    connect_reply = None
    window = [0.0, 0.0]
    poller.register(pipe.fileno(), select.EPOLLIN)
    pipe_fd = pipe.fileno()
    recv_size = 16384  # under malloc's mmap threshold (256 KiB recvs cost more than the data)
    mark = BURST_MARK
    header = SERVER_BINARY_HEADER
    wire = WIRE_FRAME
    monotonic = time.monotonic

    def start_one(item: tuple[int, bytes]) -> None:
        port, request = item
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        err = s.connect_ex(("127.0.0.1", port))
        if err not in (0, errno.EINPROGRESS):
            raise OSError(err, os.strerror(err))
        conns[s.fileno()] = Listener(s, request)
        poller.register(s.fileno(), select.EPOLLOUT)

    def finish_one(c: Listener, error: str = "") -> None:
        nonlocal pending
        pending -= 1
        if error:
            c.error = error
            c.state = CLOSED
            fd = c.sock.fileno()
            with contextlib.suppress(OSError, ValueError):
                poller.unregister(fd)
            conns.pop(fd, None)
            failed.append(c)
            c.sock.close()
        while waiting and pending < MAX_PENDING:
            pending += 1
            start_one(waiting.pop())

    def frames_in(c: Listener, data: bytes) -> None:
        """The general path: any number of whole or partial server frames."""
        i, n = 0, len(data)
        while n - i >= 2:
            b0, length = data[i], data[i + 1] & 0x7F
            start = i + 2
            if length == 126:
                if n - i < 4:
                    break
                length = (data[i + 2] << 8) | data[i + 3]
                start = i + 4
            elif length == 127:
                if n - i < 10:
                    break
                length = int.from_bytes(data[i + 2 : i + 10], "big")
                start = i + 10
            end = start + length
            if end > n:
                break
            opcode = b0 & 0x0F
            if opcode == 0x2:
                if data.find(mark, start, end) >= 0:
                    found = read_burst(data[start:end])
                    if found is not None:
                        c.bursts.append((found, monotonic(), c.frames))
                c.frames += 1
            elif opcode == 0x8:
                code = int.from_bytes(data[start : start + 2], "big") if length >= 2 else 1005
                c.error = f"closed by server ({code})"
                c.state = CLOSED
            i = end
        c.buf = data[i:]

    while True:
        if probe or connect_reply or waiting or pending:
            events = poller.poll(1.0)
            if len(events) < 64:
                time.sleep(PROBE_BATCH)
                events = poller.poll(0)
        else:
            time.sleep(lazy_every)
            events = poller.poll(0)
        for fd, _ in events:
            if fd == pipe_fd:
                command = pipe.recv()
                kind = command[0]
                if kind == "connect":
                    _, port, path, cookies = command
                    waiting[:0] = [(port, handshake(port, path, c)) for c in reversed(cookies)]
                    while waiting and pending < MAX_PENDING:
                        pending += 1
                        start_one(waiting.pop())
                elif kind == "sync":
                    connect_reply = True
                elif kind == "start":
                    for c in conns.values():
                        c.frames = c.bytes = 0
                        c.bursts = []
                    window[0] = monotonic()
                    pipe.send(("started", window[0]))
                elif kind == "stop":
                    window[1] = monotonic()
                    figures = [
                        (c.state == OPEN, c.frames, c.bytes, c.bursts, c.error)
                        for c in conns.values()
                    ]
                    pipe.send(("figures", window[0], window[1], probe, figures))
                elif kind == "close":
                    for c in conns.values():
                        with contextlib.suppress(OSError, ValueError):
                            poller.unregister(c.sock.fileno())
                        c.sock.close()
                    conns.clear()
                    waiting.clear()
                    pending = 0
                    pipe.send(("closed",))
                elif kind == "exit":
                    return
                continue
            c = conns.get(fd)
            if c is None:
                continue
            if c.state == OPEN:
                try:
                    data = c.sock.recv(recv_size)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError as exc:
                    data, c.error = b"", str(exc)
                if not data:
                    c.state = CLOSED
                    c.error = c.error or "closed"
                    poller.unregister(fd)
                    continue
                c.bytes += len(data)
                if not c.buf and len(data) == wire and data.startswith(header):
                    # The usual case: exactly one audio frame.
                    if mark in data:
                        found = read_burst(data[4:])
                        if found is not None:
                            c.bursts.append((found, monotonic(), c.frames))
                    c.frames += 1
                else:
                    frames_in(c, c.buf + data if c.buf else data)
                    if c.state == CLOSED:
                        poller.unregister(fd)
            elif c.state == CONNECTING:
                err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    finish_one(c, os.strerror(err))
                    continue
                c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                c.sock.send(c.request)
                c.state = HANDSHAKING
                poller.modify(fd, select.EPOLLIN)
            elif c.state == HANDSHAKING:
                try:
                    data = c.sock.recv(recv_size)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError as exc:
                    finish_one(c, str(exc))
                    continue
                c.buf += data
                if not data:
                    finish_one(c, "closed during handshake")
                elif b"\r\n\r\n" in c.buf:
                    head, rest = c.buf.split(b"\r\n\r\n", 1)
                    status = head.split(b" ", 2)[1].decode()
                    if status != "101":
                        finish_one(c, f"refused ({status})")
                    else:
                        c.state = OPEN
                        c.buf = b""
                        finish_one(c)
                        if rest:
                            frames_in(c, rest)
        if connect_reply is not None and not waiting and pending == 0:
            opened = sum(1 for c in conns.values() if c.state == OPEN)
            errors = [c.error for c in failed]
            failed.clear()
            pipe.send(("connected", opened, errors[:5], len(errors)))
            connect_reply = None
