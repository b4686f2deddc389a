"""Non-blocking fan-out to one websocket.

A frame sent by the server is not masked, so its bytes are the same for every listener: callers
build them once (`frame()`) and push them to many outboxes. `push()` writes straight into the
kernel's socket buffer with MSG_DONTWAIT; only a client whose buffer is full gets a bounded backlog,
drained by a writer thread of its own. No push ever waits for a client.

simple-websocket (under flask-sock) still reads from the socket and answers pings; its writes are
routed through the outbox too (`SocketShim`), so frames never interleave.
"""

import contextlib
import logging
import select
import socket
import struct
import threading
import time
from collections import deque

log = logging.getLogger(__name__)

TEXT, BINARY, CLOSE = 0x1, 0x2, 0x8
SEND_TIMEOUT = 10.0  # seconds a client may read nothing while we have something for it
CLOSE_LINGER = 2.0  # seconds a closed client has to read our close frame and hang up
CLOSE_WITHIN = 5.0  # seconds a closing client has to read what was queued before the close frame
POLL_SLICE = 0.25  # seconds the writer waits at a time, so a close's nearer deadline is seen


def frame(payload: bytes | str, opcode: int | None = None) -> bytes:
    """One unmasked websocket frame (server to client)."""
    if isinstance(payload, str):
        payload = payload.encode()
        opcode = opcode or TEXT
    opcode = opcode or BINARY
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return header + payload


def close_frame(code: int, reason: str = "") -> bytes:
    return frame(struct.pack("!H", code) + close_reason(reason), CLOSE)


def close_reason(reason: str) -> bytes:
    """At most 120 bytes of UTF-8 (a close frame's payload is at most 125), cut between
    characters: a client may reject a reason that is not valid UTF-8."""
    return reason.encode()[:120].decode(errors="ignore").encode()


class Outbox:
    """Bounded, non-blocking writes to one client.

    overflow='drop-oldest' (audio): when the backlog is full the oldest whole frame is dropped and
    counted. overflow='close' (HTML fragments): the client is cut off and resyncs on reconnect.
    """

    def __init__(
        self,
        sock: socket.socket,
        *,
        max_backlog: int = 64,
        overflow: str = "drop-oldest",
        send_timeout: float = SEND_TIMEOUT,
        close_within: float = CLOSE_WITHIN,
    ) -> None:
        self.sock = sock
        self.max_backlog = max_backlog
        self.overflow = overflow
        self.send_timeout = send_timeout
        self.close_within = close_within
        self.backlog: deque[memoryview] = deque()
        self.lock = threading.Lock()
        self.writer: threading.Thread | None = None
        self.dead = False  # no more pushes: cut off, or closing
        self.close_by: float | None = None  # closing: the backlog and close frame go out by then
        self.finished = threading.Event()  # closing is over: close frame written, or cut off
        self.sent = 0
        self.dropped = 0

    def push(self, data: bytes) -> bool:
        """Queue one whole frame; False when the client is gone."""
        with self.lock:
            if self.dead:
                return False
            if not self.backlog:
                try:
                    n = self.sock.send(data, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    n = 0
                except OSError:
                    self._cut_off_locked()
                    return False
                if n == len(data):
                    self.sent += 1
                    return True
                self.backlog.append(memoryview(data)[n:])
                self._start_writer_locked()
                return True
            if len(self.backlog) >= self.max_backlog:
                if self.overflow == "close":
                    self._cut_off_locked()
                    return False
                # Keep the head: it may be a frame already half-written to the socket.
                if len(self.backlog) > 1:
                    del self.backlog[1]
                    self.dropped += 1
                else:
                    self.dropped += 1
                    return True
            self.backlog.append(memoryview(data))
            return True

    def _start_writer_locked(self) -> None:
        if self.writer is None or not self.writer.is_alive():
            self.writer = threading.Thread(target=self._drain, daemon=True, name="outbox-writer")
            self.writer.start()

    def _drain(self) -> None:
        # Waits with poll() rather than a socket timeout: the reader thread shares this socket.
        # Waits in short slices: close() may set a nearer deadline while a wait is under way.
        poller = select.poll()
        poller.register(self.sock.fileno(), select.POLLOUT)
        stall_by = time.monotonic() + self.send_timeout  # moves on whenever a byte goes out
        while True:
            with self.lock:
                if not self.backlog:  # all written, or cut off (which empties it)
                    self.writer = None
                    return
                chunk = self.backlog[0]
                deadline = stall_by if self.close_by is None else min(stall_by, self.close_by)
            wait = deadline - time.monotonic()
            try:
                if wait <= 0:
                    raise TimeoutError("client stopped reading")
                if not poller.poll(min(wait, POLL_SLICE) * 1000):
                    continue
                n = self.sock.send(chunk, socket.MSG_DONTWAIT)
            except BlockingIOError:
                continue
            except (TimeoutError, OSError, ValueError):
                with self.lock:
                    self._cut_off_locked()
                    self.writer = None
                return
            stall_by = time.monotonic() + self.send_timeout
            with self.lock:
                if not self.backlog:
                    self.writer = None
                    return
                if n < len(chunk):
                    self.backlog[0] = chunk[n:]
                    continue
                self.backlog.popleft()
                self.sent += 1
                if self.close_by is not None and not self.backlog:  # the close frame went out
                    self._closed_locked()
                    self.writer = None
                    return

    def _cut_off_locked(self) -> None:
        """At once: whatever is queued is discarded and the connection shut both ways."""
        self.dead = True
        self.backlog.clear()
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.finished.set()

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Sends a close frame after whatever is still queued, and shuts the socket. Never waits:
        a backlog goes out through the writer thread, within `close_within` seconds or the client
        is cut off (without its close code); `finish()` waits for that.

        After the close frame only our side is shut at once: shutting both while the client's
        last messages sit unread makes the kernel send a reset, and the client may lose the close
        frame and its code (4410 ended, 4403 removed) with it. The rest follows CLOSE_LINGER
        seconds later, unless the client has closed by then.
        """
        data = close_frame(code, reason)
        with self.lock:
            if self.dead:
                return
            self.dead = True
            if not self.backlog:
                try:
                    n = self.sock.send(data, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    n = 0
                except OSError:
                    self._cut_off_locked()
                    return
                if n == len(data):
                    self._closed_locked()
                    return
                data = data[n:]
            self.backlog.append(memoryview(data))
            self.close_by = time.monotonic() + self.close_within
            self._start_writer_locked()

    def _closed_locked(self) -> None:
        linger_then_shut(self.sock)
        self.finished.set()

    def finish(self) -> None:
        """Returns once a close in progress is over (at most `close_within` seconds): a socket's
        handler calls it last, because the server shuts the connection when the handler returns
        and would cut off a close frame still queued."""
        if self.close_by is not None:
            self.finished.wait(self.close_within + 1)


def linger_then_shut(sock: socket.socket, close: bool = False) -> None:
    """After a close frame: our side shut at once, both sides CLOSE_LINGER seconds later unless
    the client has hung up by then (see Outbox.close); with `close`, the descriptor too (the
    listener relay's copy, which nobody else closes). Shutting before closing matters: a close
    with the client's bytes unread sends a reset, which can overtake the close frame."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)

    def shut_both() -> None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        if close:
            with contextlib.suppress(OSError):
                sock.close()

    timer = threading.Timer(CLOSE_LINGER, shut_both)
    timer.daemon = True
    timer.start()


class SocketShim:
    """Stands in for the raw socket inside simple-websocket, so its pongs go through the outbox."""

    def __init__(self, sock: socket.socket, outbox: Outbox) -> None:
        self._sock = sock
        self._outbox = outbox

    def send(self, data: bytes) -> int:
        self._outbox.push(bytes(data))
        return len(data)

    sendall = send

    def __getattr__(self, name):
        return getattr(self._sock, name)


def attach(ws, **kwargs) -> Outbox:
    """An outbox for a flask-sock socket; simple-websocket's own writes go through it too."""
    raw = ws.sock
    outbox = Outbox(raw, **kwargs)
    ws.sock = SocketShim(raw, outbox)
    return outbox
