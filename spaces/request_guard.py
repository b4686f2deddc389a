"""What a slow or stalled client can hold while everyone else is served (under `make run`).

gunicorn's gthread worker (spaces/serve.py) takes a request in three stages; each has a guard:

1. Before the first byte: gunicorn 27 waits for it 5 s in a pool thread, then in its poller
   (no thread) until its keep-alive time runs out, and closes the connection.
2. The request line and headers are read by one of SERVER_THREADS pool threads. gunicorn caps
   their size (limit_request_line, limit_request_fields) but not their time, so the worker sets
   kernel timeouts on the connection (`bound_stalls`): a read or a write that makes no progress
   for REQUEST_TIMEOUT seconds fails and the connection is closed. A client trickling its headers
   a byte at a time still holds that one pool thread, nothing the site needs.
3. The body is read here, in full and at most MAX_CONTENT_LENGTH, each read bounded by
   REQUEST_TIMEOUT, BEFORE the request takes one of the REQUESTS_IN_FLIGHT slots. A client that
   stalls gets 408 and is closed. So a slot only ever waits for the app, never for a client; under
   Werkzeug four clients that sent half a body held all four slots and stopped the site. The
   answer is written after the slot is given back, under the same kernel write timeout.

Websocket handshakes take no slot and drop the timeouts: the handler lasts as long as the socket,
its reader thread blocks in recv() on purpose, and the outbox has its own cut-off for a client that
stops reading (realtime/outbox.py). Behind nginx (README) nginx buffers each whole request first.
"""

import contextlib
import io
import logging
import socket
import struct
import threading
from typing import NoReturn

log = logging.getLogger(__name__)


def bound_stalls(sock: socket.socket, seconds: float) -> None:
    """A blocking read or write on `sock` fails (EAGAIN) after `seconds` without progress; 0 lifts
    the bound. Kernel timeouts, not `settimeout()`: gunicorn switches the socket to blocking before
    it parses each request, which clears a Python timeout but not these."""
    whole = int(seconds)
    timeval = struct.pack("@ll", whole, int((seconds - whole) * 1_000_000))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval)


class IncompleteBody(Exception):
    """The client closed the connection before sending the body it announced."""


class RequestGuard:
    """WSGI middleware under gunicorn: buffer the body with a timeout, then take an in-flight slot.

    At most `in_flight` HTTP requests run the app at once; the others wait their turn on a
    semaphore, not for the GIL. Under churn (drill L2) dozens of requests running at once made
    each sqlite call wait for the GIL behind threads rendering pages: 4 slots used 26 % less CPU
    and halved the median request (docs/reliability.md). 0 means no limit.
    """

    def __init__(
        self,
        app,
        *,
        in_flight: int,
        read_timeout: float,
        max_body: int,
        larger_bodies: dict[str, int] | None = None,
    ) -> None:
        self.app = app
        self.larger_bodies = larger_bodies or {}  # path -> its own limit (web.body_limit)
        self.slots = threading.BoundedSemaphore(in_flight) if in_flight else None
        self.read_timeout = read_timeout
        self.max_body = max_body

    def __call__(self, environ, start_response):
        sock = environ["gunicorn.socket"]
        if environ.get("HTTP_UPGRADE", "").lower() == "websocket":
            bound_stalls(sock, 0)
            # gunicorn sets TCP_NODELAY already (Werkzeug did not): a 20 ms audio frame leaves at
            # once instead of waiting for the client's ACK of the last one, which over a real
            # network adds up to a round trip. It costs the tick CPU (docs/bench-audio.md).
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return self.app(environ, start_response)
        try:
            self._buffer_body(environ, sock)
        except (TimeoutError, BlockingIOError):
            self._refuse(environ, sock, "408 Request Timeout", "The request took too long.")
        except IncompleteBody:
            self._refuse(environ, sock, "400 Bad Request", "The request was cut short.")
        if self.slots is None:
            return self.app(environ, start_response)
        with self.slots:
            return self.app(environ, start_response)

    def _buffer_body(self, environ, sock: socket.socket) -> None:
        """Reads the whole body into memory (64 KiB at most, a picture's form a few MB), so the
        app never waits for it."""
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        declared = int(environ.get("CONTENT_LENGTH") or 0)
        limit = self.larger_bodies.get(environ.get("PATH_INFO", ""), self.max_body)
        if not chunked and not 0 < declared <= limit:
            return  # no body, or one the app refuses with 413 without reading it
        sock.settimeout(self.read_timeout)
        try:
            body = environ["wsgi.input"].read(limit + 1)
        finally:
            sock.settimeout(None)
        if not chunked and len(body) < declared:
            raise IncompleteBody
        # Over the limit (chunked only): MAX_CONTENT_LENGTH + 1 bytes, so the app answers 413.
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)

    def _refuse(self, environ, sock: socket.socket, status: str, message: str) -> NoReturn:
        """Answers and closes: the rest of the request can no longer be told apart from the next
        one. gunicorn closes a connection when the app raises StopIteration before answering
        (flask-sock ends its sockets the same way); a WSGI answer would leave it open."""
        log.info("%s for %s from %s", status, environ.get("PATH_INFO"), environ.get("REMOTE_ADDR"))
        body = message.encode()
        head = (
            f"HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nX-Content-Type-Options: nosniff\r\n"
            "Connection: close\r\n\r\n"
        )
        with contextlib.suppress(OSError):
            sock.sendall(head.encode() + body)
        raise StopIteration
