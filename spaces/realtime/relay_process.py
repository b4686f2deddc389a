"""The listener relay's own process: it writes listeners' audio so the core's GIL does not.

The core (listener_relay.py) hands over each listener's audio socket, already past its handshake
and checks, by passing the file descriptor over a Unix socket (SCM_RIGHTS), then sends each
room's listeners' message once; this process writes it to every listener of that room and codec
through the same non-blocking Outbox as the core. It decides nothing: the core keeps reading each
socket, and tells this process what to write, whom to close with which code, and whom to forget.

It runs niced (NICENESS) below the core. Run by the core as
`python -m spaces.realtime.relay_process FD SEND_TIMEOUT`; it ends when the core's end of the
Unix socket closes, which the kernel does when the core dies, even by kill -9.
"""

import contextlib
import os
import signal
import socket
import struct
import sys
import threading

from .audio_terms import AUDIO_BACKLOG
from .outbox import Outbox, linger_then_shut

# Messages from the core: one kind byte, a fixed head, then the payload (`message()` in
# listener_relay.py builds them). ADOPT carries the socket's descriptor; CLOSE's payload is the
# close code (2 bytes) and reason.
ADOPT, ROOM, ONE, CLOSE, FORGET = b"A", b"R", b"O", b"C", b"F"
CLOSED = b"K"  # to the core: this socket's close frame is out (or the client is gone)
HEAD = struct.Struct("!QQB")  # connection id or 0, Space id or 0, index in CODECS or 0
MAX_MESSAGE = 256 * 1024
# Below the core in the CPU's queue: when both want it, the core's tick and its speakers go first
# (they are in the conversation; a listener's message already waits 40 ms to fill). Measured at
# 2,000 listeners, 4 windows each: the speakers' p99 101-141 ms at 10, 125-171 ms at 0.
NICENESS = 10


class RelayProcess:
    def __init__(self, control: socket.socket, send_timeout: float) -> None:
        self.control = control
        self.send_timeout = send_timeout
        self.outboxes: dict[int, Outbox] = {}
        self.groups: dict[tuple[int, int], dict[int, Outbox]] = {}  # (Space, codec) -> outboxes
        self.where: dict[int, tuple[int, int]] = {}

    def run(self) -> None:
        while True:
            try:
                message, fds, _flags, _addr = socket.recv_fds(self.control, MAX_MESSAGE, 1)
            except OSError:  # reset: the core went with messages of ours unread
                return
            if not message:
                return  # the core is gone
            self.handle(message, fds)

    def handle(self, message: bytes, fds: list[int]) -> None:
        kind, head, payload = message[:1], message[1 : 1 + HEAD.size], message[1 + HEAD.size :]
        conn_id, space_id, small = HEAD.unpack(head)
        if kind == ADOPT:
            self.adopt(conn_id, space_id, small, fds[0])
        elif kind == ROOM:
            for outbox in list(self.groups.get((space_id, small), {}).values()):
                outbox.push(payload)
        elif kind == ONE:
            outbox = self.outboxes.get(conn_id)
            if outbox is not None:
                outbox.push(payload)
        elif kind == CLOSE:
            outbox = self.outboxes.get(conn_id)
            if outbox is None:
                self.tell_closed(conn_id)
                return
            code = struct.unpack("!H", payload[:2])[0]
            outbox.close(code, payload[2:].decode(errors="replace"))
            if outbox.finished.is_set():
                self.tell_closed(conn_id)
            else:  # a backlog to write first: the writer thread has close_within seconds
                threading.Thread(target=self._closed_later, args=(conn_id, outbox)).start()
        elif kind == FORGET:
            self.forget(conn_id)

    def tell_closed(self, conn_id: int) -> None:
        """The core's handler waits for this before it returns (and the server shuts the
        connection), as it waits for its own outbox's close."""
        with contextlib.suppress(OSError):
            self.control.send(CLOSED + HEAD.pack(conn_id, 0, 0))

    def _closed_later(self, conn_id: int, outbox: Outbox) -> None:
        outbox.finish()
        self.tell_closed(conn_id)

    def adopt(self, conn_id: int, space_id: int, codec: int, fd: int) -> None:
        sock = socket.socket(fileno=fd)
        outbox = Outbox(
            sock, max_backlog=AUDIO_BACKLOG, overflow="drop-oldest", send_timeout=self.send_timeout
        )
        self.outboxes[conn_id] = outbox
        self.groups.setdefault((space_id, codec), {})[conn_id] = outbox
        self.where[conn_id] = (space_id, codec)

    def forget(self, conn_id: int) -> None:
        """The core is done with this socket: our copy is closed once a close under way is over
        (the client has its close frame), at once otherwise."""
        outbox = self.outboxes.pop(conn_id, None)
        key = self.where.pop(conn_id, None)
        group = self.groups.get(key, {})
        group.pop(conn_id, None)
        if key in self.groups and not group:
            del self.groups[key]
        if outbox is None:
            return
        if outbox.close_by is not None and not outbox.finished.is_set():
            threading.Thread(target=_close_when_done, args=(outbox,), daemon=True).start()
        else:
            _close_when_done(outbox)


def _close_when_done(outbox: Outbox) -> None:
    """Our copy goes once what is queued is out, lingering as a closed socket does (the rest of
    an oversized message unread made a reset overtake the close frame once, in test_fuzz)."""
    outbox.finish()
    linger_then_shut(outbox.sock, close=True)


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the core, which ends us
    os.nice(NICENESS)
    control = socket.socket(fileno=int(sys.argv[1]))
    RelayProcess(control, float(sys.argv[2])).run()


if __name__ == "__main__":
    main()
