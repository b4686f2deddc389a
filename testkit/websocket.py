"""The raw websocket client: the wire of docs/audio-protocol.md (RFC 6455) on a plain socket.

Raw rather than a library, because tests and drills need what a library hides: a socket that is
never read after its handshake, frames the server must refuse, hundreds of sockets on one epoll
loop (bench/fanout_clients.py builds on `handshake`, `masked` and `read_frames`). Server messages
are never fragmented here (flask-sock sends each message whole), so fragments are not joined.
"""

import base64
import contextlib
import os
import select
import socket
import struct
import threading

import numpy as np

TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA


class Refused(ConnectionError):
    """The server answered the handshake with an HTTP status instead of 101."""

    def __init__(self, status: int, head: bytes) -> None:
        first_line = head.split(b"\r\n", 1)[0]
        super().__init__(f"handshake refused: {first_line!r}")
        self.status = status


class Closed(ConnectionError):
    """The socket is closed: `code` is the server's close code, None when it just went away."""

    def __init__(self, code: int | None) -> None:
        super().__init__(f"closed ({code})")
        self.code = code


def handshake(port: int, path: str, cookie: str = "", origin: str | None = None) -> bytes:
    """A browser's upgrade request; `cookie` is the Cookie header's value, `origin` defaults to
    the server's own."""
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}",
        "Sec-WebSocket-Version: 13",
        f"Origin: {origin or f'http://127.0.0.1:{port}'}",
    ]
    if cookie:
        lines.append(f"Cookie: {cookie}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def masked(payload: bytes, opcode: int = BINARY) -> bytes:
    """One client frame (clients must mask)."""
    key = os.urandom(4)
    n = len(payload)
    if n < 126:
        header = bytes([0x80 | opcode, 0x80 | n])
    elif n < 1 << 16:
        header = bytes([0x80 | opcode, 0x80 | 126]) + struct.pack("!H", n)
    else:
        header = bytes([0x80 | opcode, 0x80 | 127]) + struct.pack("!Q", n)
    data = np.frombuffer(payload, np.uint8) ^ np.frombuffer(key * (n // 4 + 1), np.uint8)[:n]
    return header + key + data.tobytes()


def read_frames(buf: bytearray) -> list[tuple[int, bytes]]:
    """Whole server frames (opcode, payload) from the front of buf, which keeps the rest."""
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


def close_code(payload: bytes) -> int:
    return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005


def upgrade(
    port: int,
    path: str,
    cookie: str = "",
    *,
    origin: str | None = None,
    timeout: float = 5.0,
    receive_buffer: int | None = None,
    segment: int | None = None,
) -> socket.socket:
    """A socket past its handshake, with nothing after the 101 read (the head is read byte by
    byte). `receive_buffer` and `segment` shrink what the kernel holds for it."""
    sock = socket.socket()
    if receive_buffer:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    if segment:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, segment)
    sock.settimeout(timeout)
    try:
        sock.connect(("127.0.0.1", port))
        sock.sendall(handshake(port, path, cookie, origin))
        head = b""
        while b"\r\n\r\n" not in head:
            byte = sock.recv(1)
            if not byte:
                raise ConnectionError(f"closed during handshake: {head[:80]!r}")
            head += byte
        status = int(head.split(b" ", 2)[1])
        if status != 101:
            raise Refused(status, head)
    except BaseException:
        sock.close()
        raise
    return sock


class WebSocket:
    """One client connection: `send` from any thread, `recv` from one."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()
        self.pending: list[tuple[int, bytes]] = []
        self.close_code: int | None = None  # the server's, once its close frame came
        self.sending = threading.Lock()

    @classmethod
    def connect(cls, port: int, path: str, cookie: str = "", **options) -> "WebSocket":
        """Opens `path` on 127.0.0.1:port (options: those of `upgrade`)."""
        ws = cls(upgrade(port, path, cookie, **options))
        ws.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return ws

    def send(self, data: bytes | str) -> None:
        if self.close_code is not None:
            raise Closed(self.close_code)
        frame = masked(data.encode(), TEXT) if isinstance(data, str) else masked(data)
        self._send_raw(frame)

    def _send_raw(self, frame: bytes) -> None:
        try:
            with self.sending:
                self.sock.sendall(frame)
        except OSError as exc:
            raise Closed(self.close_code) from exc

    def recv(self, timeout: float | None = None) -> bytes | str:
        """The next message; TimeoutError after `timeout` seconds, Closed when the server closed
        (its code) or the connection went away (None)."""
        while True:
            while self.pending:
                opcode, payload = self.pending.pop(0)
                if opcode == BINARY:
                    return payload
                if opcode == TEXT:
                    return payload.decode(errors="replace")
                if opcode == CLOSE:
                    self.close_code = close_code(payload)
                    raise Closed(self.close_code)
                # Pings: the server is configured without them (ping_interval None).
            try:
                ready, _, _ = select.select([self.sock], [], [], timeout)
                data = self.sock.recv(65536) if ready else None
            except (OSError, ValueError):
                data = b""
            if data is None:
                raise TimeoutError
            if not data:
                raise Closed(self.close_code)
            self.buffer += data
            self.pending += read_frames(self.buffer)

    def close(self, code: int = 1000) -> None:
        """Says goodbye (best effort) and closes; a thread blocked in `recv` wakes with Closed."""
        with contextlib.suppress(Closed):
            self._send_raw(masked(struct.pack("!H", code), CLOSE))
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()

    def __enter__(self) -> "WebSocket":
        return self

    def __exit__(self, *_exc) -> None:
        self.close()
