"""The listeners: worker processes, each holding a few hundred audio sockets on one epoll loop.

A probe process measures latency: it waits in epoll, then sleeps PROBE_BATCH so that one call
collects many sockets' frames, and notes each burst's arrival time (late by at most that). Other
processes read lazily, every `lazy_every` seconds (two frames a read): on one machine a client
woken for every frame costs the shared cores more than the server's send, and a remote client's
wake-ups would not be the server's cost at all. They still receive every byte, and their frame
counts and burst positions give the losses.

With Opus (protocol v2, `v2=True`) the bytes are no longer bit-exact PCM, so there are no bursts
to find: every message's header gives its frames' sequence numbers (a gap is a loss) and the
capture time of its oldest voice, from which a probe takes the latency (one clock: same machine).
"""

import contextlib
import errno
import gc
import multiprocessing
import os
import select
import socket
import time

from spaces.audio_wire import HEADER, age_ms, clock_ms
from testkit.websocket import handshake

from .bursts import BURST_MARK, SERVER_BINARY_HEADER, WIRE_FRAME, read_burst

CONNECTING, HANDSHAKING, OPEN, CLOSED = range(4)
PROBE_BATCH = 0.002  # seconds
MAX_PENDING = 16  # handshakes in flight per process (the server's listen queue is 128)
RECV_SIZE = 16384  # under malloc's mmap threshold (256 KiB recvs cost more than the data)


class Pool:
    """The listener worker processes, one in `probe_every` of them probing latency.

    Commands (answered by every worker): ("connect", port, [(path, cookie), ...]) opens one
    socket per pair (cookie "" for none) in the background; ("sync",) answers ("connected", open,
    errors, error count) once no handshake is in flight; ("start",) and ("stop",) bound a
    measuring window, "stop" answering every socket's figures; ("close",) closes every socket;
    ("exit",) ends."""

    def __init__(
        self, count: int, probe_every: int, lazy_every: float, nice: int = 0, v2: bool = False
    ) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.pipes = []
        self.procs = []
        for i in range(count):
            ours, theirs = ctx.Pipe()
            probe = i % probe_every == 0
            proc = ctx.Process(
                target=listener_process,
                args=(theirs, probe, lazy_every, nice, v2),
                daemon=True,
            )
            proc.start()
            self.pipes.append(ours)
            self.procs.append(proc)
        self.next = 0

    def connect(self, port: int, path: str | list[str], cookies: list[str]) -> None:
        """One socket per Cookie header, spread over the workers; `path` is every socket's, or
        a list of one path per socket (an edge's grants are each listener's own)."""
        paths = [path] * len(cookies) if isinstance(path, str) else path
        shares = [[] for _ in self.pipes]
        for pair in zip(paths, cookies, strict=True):
            shares[self.next].append(pair)
            self.next = (self.next + 1) % len(self.pipes)
        for pipe, share in zip(self.pipes, shares, strict=True):
            if share:
                pipe.send(("connect", port, share))

    def ask(self, command: tuple) -> list:
        for pipe in self.pipes:
            pipe.send(command)
        return [pipe.recv() for pipe in self.pipes]

    def close(self) -> None:
        self.ask(("close",))
        self.next = 0

    def exit(self) -> None:
        for pipe in self.pipes:
            with contextlib.suppress(OSError):
                pipe.send(("exit",))
        for proc in self.procs:
            proc.join(5)
            if proc.is_alive():
                proc.kill()


def listener_process(
    pipe, probe: bool, lazy_every: float = 0.04, nice: int = 0, v2: bool = False
) -> None:
    if nice:
        os.nice(nice)
    gc.freeze()  # nothing here makes cycles; collections over many sockets cost ~6 % of the loop
    gc.disable()
    Listeners(pipe, probe, lazy_every, v2).run()


class Listener:
    __slots__ = (
        "sock",
        "state",
        "buf",
        "frames",
        "bytes",
        "bursts",
        "error",
        "request",
        "next_seq",
        "lost",
        "ages",
    )

    def __init__(self, sock: socket.socket, request: bytes) -> None:
        self.sock = sock
        self.state = CONNECTING
        self.buf = b""
        self.frames = 0
        self.bytes = 0
        self.bursts: list[tuple[int, float, int]] = []  # (burst id, arrival, frames before it)
        self.error = ""
        self.request = request
        self.next_seq: int | None = None  # v2: the sequence number the next message should have
        self.lost = 0  # v2: frames missing between sequence numbers
        self.ages: list[tuple[float, int]] = []  # v2 probes: (arrival, ms since capture)


class Listeners:
    """One worker's sockets and its loop."""

    def __init__(self, pipe, probe: bool, lazy_every: float, v2: bool = False) -> None:
        self.pipe, self.probe, self.lazy_every, self.v2 = pipe, probe, lazy_every, v2
        self.poller = select.epoll()
        self.poller.register(pipe.fileno(), select.EPOLLIN)
        self.conns: dict[int, Listener] = {}
        self.failed: list[Listener] = []
        self.waiting: list[tuple[int, bytes]] = []  # handshakes not started (bounded in flight)
        self.pending = 0
        self.sync_asked = False
        self.window = [0.0, 0.0]

    def run(self) -> None:
        pipe_fd = self.pipe.fileno()
        while True:
            for fd, _ in self._events():
                if fd == pipe_fd:
                    if not self.command(self.pipe.recv()):
                        return
                    continue
                c = self.conns.get(fd)
                if c is None:
                    continue
                if c.state == OPEN:
                    self.read(c, fd)
                elif c.state == CONNECTING:
                    self.connected(c, fd)
                elif c.state == HANDSHAKING:
                    self.answered(c)
            if self.sync_asked and not self.waiting and self.pending == 0:
                self.reply_connected()

    def _events(self) -> list:
        if self.probe or self.sync_asked or self.waiting or self.pending:
            events = self.poller.poll(1.0)
            if len(events) >= 64:
                return events
            time.sleep(PROBE_BATCH)
        else:
            time.sleep(self.lazy_every)
        return self.poller.poll(0)

    # Commands ------------------------------------------------------------------------------------

    def command(self, command: tuple) -> bool:
        """Carries out one command; False to exit."""
        kind = command[0]
        if kind == "connect":
            _, port, pairs = command
            self.waiting[:0] = [(port, handshake(port, p, c)) for p, c in reversed(pairs)]
            self.start_more()
        elif kind == "sync":
            self.sync_asked = True
        elif kind == "start":
            for c in self.conns.values():
                c.frames = c.bytes = c.lost = 0
                c.bursts, c.ages = [], []
            self.window[0] = time.monotonic()
            self.pipe.send(("started", self.window[0]))
        elif kind == "stop":
            self.window[1] = time.monotonic()
            figures = [
                (c.state == OPEN, c.frames, c.bytes, c.bursts, c.error, c.lost, c.ages)
                for c in self.conns.values()
            ]
            self.pipe.send(("figures", *self.window, self.probe, figures))
        elif kind == "close":
            for c in self.conns.values():
                with contextlib.suppress(OSError, ValueError):
                    self.poller.unregister(c.sock.fileno())
                c.sock.close()
            self.conns.clear()
            self.waiting.clear()
            self.pending = 0
            self.pipe.send(("closed",))
        return kind != "exit"

    def reply_connected(self) -> None:
        opened = sum(1 for c in self.conns.values() if c.state == OPEN)
        errors = [c.error for c in self.failed]
        self.failed.clear()
        self.pipe.send(("connected", opened, errors[:5], len(errors)))
        self.sync_asked = False

    # Connecting ----------------------------------------------------------------------------------

    def start_more(self) -> None:
        while self.waiting and self.pending < MAX_PENDING:
            self.pending += 1
            port, request = self.waiting.pop()
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            err = s.connect_ex(("127.0.0.1", port))
            if err not in (0, errno.EINPROGRESS):
                raise OSError(err, os.strerror(err))
            self.conns[s.fileno()] = Listener(s, request)
            self.poller.register(s.fileno(), select.EPOLLOUT)

    def finish(self, c: Listener, error: str = "") -> None:
        """A handshake is over (failed, with `error`); the next waiting one starts."""
        self.pending -= 1
        if error:
            c.error = error
            c.state = CLOSED
            fd = c.sock.fileno()
            with contextlib.suppress(OSError, ValueError):
                self.poller.unregister(fd)
            self.conns.pop(fd, None)
            self.failed.append(c)
            c.sock.close()
        self.start_more()

    def connected(self, c: Listener, fd: int) -> None:
        err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            self.finish(c, os.strerror(err))
            return
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c.sock.send(c.request)
        c.state = HANDSHAKING
        self.poller.modify(fd, select.EPOLLIN)

    def answered(self, c: Listener) -> None:
        data = receive(c)
        if data is None:
            return
        if not data:
            self.finish(c, c.error or "closed during handshake")
            return
        c.buf += data
        if b"\r\n\r\n" not in c.buf:
            return
        head, rest = c.buf.split(b"\r\n\r\n", 1)
        status = head.split(b" ", 2)[1].decode()
        if status != "101":
            self.finish(c, f"refused ({status})")
            return
        c.state = OPEN
        c.buf = b""
        self.finish(c)
        if rest:
            frames_in(c, rest, self.v2 and self.probe, self.v2)

    # Reading -------------------------------------------------------------------------------------

    def read(self, c: Listener, fd: int) -> None:
        data = receive(c)
        if data is None:
            return
        if not data:
            c.state = CLOSED
            c.error = c.error or "closed"
            self.poller.unregister(fd)
            return
        c.bytes += len(data)
        if self.v2:
            frames_in(c, c.buf + data if c.buf else data, self.probe, True)
            if c.state == CLOSED:
                self.poller.unregister(fd)
        elif not c.buf and len(data) == WIRE_FRAME and data.startswith(SERVER_BINARY_HEADER):
            # The usual case: exactly one audio frame.
            if BURST_MARK in data:
                note_burst(c, data[4:])
            c.frames += 1
        else:
            frames_in(c, c.buf + data if c.buf else data)
            if c.state == CLOSED:
                self.poller.unregister(fd)


def receive(c: Listener) -> bytes | None:
    """What the socket has: None when nothing yet, b"" when it is gone (c.error says why)."""
    try:
        return c.sock.recv(RECV_SIZE)
    except (BlockingIOError, InterruptedError):
        return None
    except OSError as exc:
        c.error = str(exc)
        return b""


def note_burst(c: Listener, payload: bytes) -> None:
    found = read_burst(payload)
    if found is not None:
        c.bursts.append((found, time.monotonic(), c.frames))


def v2_message(c: Listener, data: bytes, start: int, probe: bool) -> None:
    """A v2 message's header: its frames, the gap since the last one, its voice's age."""
    _v, _kind, count, _flags, seq, capture, _mix = HEADER.unpack_from(data, start)
    if c.next_seq is not None:
        gap = (seq - c.next_seq) & 0xFFFFFFFF
        c.lost += gap if gap < 2**31 else 0
    c.next_seq = (seq + count) & 0xFFFFFFFF
    c.frames += count
    if probe and capture:
        c.ages.append((time.monotonic(), age_ms(capture, clock_ms())))


def frames_in(c: Listener, data: bytes, probe: bool = False, v2: bool = False) -> None:
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
        if opcode == 0x2 and v2:
            v2_message(c, data, start, probe)
        elif opcode == 0x2:
            if data.find(BURST_MARK, start, end) >= 0:
                note_burst(c, data[start:end])
            c.frames += 1
        elif opcode == 0x8:
            code = int.from_bytes(data[start : start + 2], "big") if length >= 2 else 1005
            c.error = f"closed by server ({code})"
            c.state = CLOSED
        i = end
    c.buf = data[i:]
