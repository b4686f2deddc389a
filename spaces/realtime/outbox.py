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
from collections import deque

log = logging.getLogger(__name__)

TEXT, BINARY, CLOSE = 0x1, 0x2, 0x8
CLOSE_LINGER = 2.0  # seconds a closed client has to read our close frame and hang up


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
    return frame(struct.pack("!H", code) + reason.encode()[:120], CLOSE)


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
        send_timeout: float = 10.0,
    ) -> None:
        self.sock = sock
        self.max_backlog = max_backlog
        self.overflow = overflow
        self.send_timeout = send_timeout
        self.backlog: deque[memoryview] = deque()
        self.lock = threading.Lock()
        self.writer: threading.Thread | None = None
        self.dead = False
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
                    self._die_locked()
                    return False
                if n == len(data):
                    self.sent += 1
                    return True
                self.backlog.append(memoryview(data)[n:])
                self._start_writer_locked()
                return True
            if len(self.backlog) >= self.max_backlog:
                if self.overflow == "close":
                    self._die_locked()
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
        poller = select.poll()
        poller.register(self.sock.fileno(), select.POLLOUT)
        while True:
            with self.lock:
                if self.dead or not self.backlog:
                    self.writer = None
                    return
                chunk = self.backlog[0]
            try:
                if not poller.poll(self.send_timeout * 1000):
                    raise TimeoutError("client stopped reading")
                n = self.sock.send(chunk, socket.MSG_DONTWAIT)
            except BlockingIOError:
                continue
            except (TimeoutError, OSError, ValueError):
                with self.lock:
                    self._die_locked()
                    self.writer = None
                return
            with self.lock:
                if self.dead or not self.backlog:
                    self.writer = None
                    return
                if n == len(chunk):
                    self.backlog.popleft()
                    self.sent += 1
                elif self.backlog:
                    self.backlog[0] = chunk[n:]

    def _die_locked(self, how: int = socket.SHUT_RDWR) -> None:
        if self.dead:
            return
        self.dead = True
        self.backlog.clear()
        with contextlib.suppress(OSError):
            self.sock.shutdown(how)

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Sends a close frame (best effort) and shuts the socket.

        After the close frame only our side is shut at once: shutting both while the client's
        last messages sit unread makes the kernel send a reset, and the client may lose the close
        frame and its code (4410 ended, 4403 removed) with it. The rest follows CLOSE_LINGER
        seconds later, unless the client has closed by then.
        """
        with self.lock:
            if self.dead:
                return
            if self.backlog:
                self._die_locked()
                return
            with contextlib.suppress(OSError):
                self.sock.send(close_frame(code, reason), socket.MSG_DONTWAIT)
            self._die_locked(socket.SHUT_WR)
        timer = threading.Timer(CLOSE_LINGER, self._shut_both)
        timer.daemon = True
        timer.start()

    def _shut_both(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)


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
