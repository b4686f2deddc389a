"""The listener relay's own process: it writes listeners' audio so the core's GIL does not.

The core (listener_relay.py) hands over each listener's audio socket, already past its handshake
and checks, by passing the file descriptor over a Unix socket (SCM_RIGHTS), then sends each
room's listeners' message once; this process writes it to every listener of that room and codec
through the same non-blocking Outbox as the core. It also reads every socket, on one thread
(epoll): a listener sends nothing the server uses, so the core holds no thread for them
(listener_input.py honours the protocol), and this process tells the core when one has gone.
It decides nothing else: the core says what to write, whom to close with which code, and whom to
forget.

It runs niced (NICENESS) below the core. Run by the core as
`python -m spaces.realtime.relay_process FD SEND_TIMEOUT MAX_MESSAGE`; it ends when the core's end
of the Unix socket closes, which the kernel does when the core dies, even by kill -9.
"""

import array
import contextlib
import logging
import os
import selectors
import signal
import socket
import struct
import sys
import threading

from .audio_terms import AUDIO_BACKLOG
from .listener_input import READ_BYTES, ListenerInput
from .outbox import Outbox, linger_then_shut

log = logging.getLogger(__name__)

# Messages from the core: one kind byte, a fixed head, then the payload (`message()` in
# listener_relay.py builds them). ADOPT carries the socket's descriptor; CLOSE's payload is the
# close code (2 bytes) and reason.
ADOPT, ROOM, ONE, CLOSE, FORGET = b"A", b"R", b"O", b"C", b"F"
CLOSED = b"K"  # to the core: this socket's close frame is out (or the client is gone)
GONE = b"G"  # to the core: the client closed or hung up (or broke the protocol and was closed)
PING = b"P"  # from the core, answered at once: a relay that stops answering hangs
HEAD = struct.Struct("!QQB")  # connection id or 0, Space id or 0, index in CODECS or 0
MAX_MESSAGE = 256 * 1024
BATCH = 64  # the core's messages read at most per wake-up, so listeners' sockets are read too
# Below the core in the CPU's queue: when both want it, the core's tick and its speakers go first
# (they are in the conversation; a listener's message already waits 40 ms to fill). Measured at
# 2,000 listeners, 4 windows each: the speakers' p99 101-141 ms at 10, 125-171 ms at 0.
NICENESS = 10


class RelayProcess:
    def __init__(
        self, control: socket.socket, send_timeout: float, max_message: int = 4096
    ) -> None:
        self.control = control
        self.send_timeout = send_timeout
        self.max_message = max_message
        self.outboxes: dict[int, Outbox] = {}
        self.groups: dict[tuple[int, int], dict[int, Outbox]] = {}  # (Space, codec) -> outboxes
        self.where: dict[int, tuple[int, int]] = {}
        self.inputs: dict[int, ListenerInput] = {}  # sockets still read: the client is there
        self.selector = selectors.DefaultSelector()

    def run(self) -> None:
        self.selector.register(self.control, selectors.EVENT_READ, 0)
        while True:
            for key, _events in self.selector.select():
                if key.data == 0:
                    if not self.from_core():
                        return  # the core is gone
                    continue
                try:
                    self.from_listener(key.data, key.fileobj)
                except Exception:  # one socket's trouble is not everyone's: it goes alone
                    log.exception("listener relay: a listener's socket failed")
                    self.stop_reading(key.data, key.fileobj)
                    self.tell(GONE, key.data)

    def from_core(self) -> bool:
        """Up to BATCH of the core's messages; False when it is gone."""
        flags = 0
        for _ in range(BATCH):
            try:
                message, fds = receive(self.control, flags)
            except BlockingIOError:
                return True
            except OSError:  # reset: the core went with messages of ours unread
                return False
            if not message:
                return False
            try:
                self.handle(message, fds)
            except Exception:
                log.exception("listener relay: a message from the core failed")
            flags = socket.MSG_DONTWAIT
        return True

    def from_listener(self, conn_id: int, sock: socket.socket) -> None:
        reader, outbox = self.inputs.get(conn_id), self.outboxes.get(conn_id)
        if reader is None or outbox is None:  # forgotten earlier in this batch of events
            return
        try:
            data = sock.recv(READ_BYTES, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        verdict = reader.feed(data)
        for reply in verdict.reply:
            outbox.push(reply)
        if verdict.close is not None:
            code, reason = verdict.close
            outbox.close(code, reason)  # an answer to the client's close, or ours
        if verdict.over:
            self.stop_reading(conn_id, sock)
            self.tell(GONE, conn_id)

    def stop_reading(self, conn_id: int, sock: socket.socket) -> None:
        if self.inputs.pop(conn_id, None) is not None:
            with contextlib.suppress(KeyError, ValueError, OSError):
                self.selector.unregister(sock)

    def handle(self, message: bytes, fds: list[int]) -> None:
        kind, head, payload = message[:1], message[1 : 1 + HEAD.size], message[1 + HEAD.size :]
        conn_id, space_id, small = HEAD.unpack(head)
        if kind == ADOPT:
            if not fds:  # not passed (this process is out of descriptors): the core lets it go
                self.tell(GONE, conn_id)
                return
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
        elif kind == PING:
            self.tell(PING, 0)

    def tell_closed(self, conn_id: int) -> None:
        """The core's handler waits for this before it returns (and the server shuts the
        connection), as it waits for its own outbox's close."""
        self.tell(CLOSED, conn_id)

    def tell(self, kind: bytes, conn_id: int) -> None:
        with contextlib.suppress(OSError):
            self.control.send(kind + HEAD.pack(conn_id, 0, 0))

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
        self.inputs[conn_id] = ListenerInput(self.max_message)
        self.selector.register(sock, selectors.EVENT_READ, conn_id)

    def forget(self, conn_id: int) -> None:
        """The core is done with this socket: our copy is closed once a close under way is over
        (the client has its close frame), at once otherwise."""
        outbox = self.outboxes.pop(conn_id, None)
        if outbox is not None:
            self.stop_reading(conn_id, outbox.sock)
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


def receive(control: socket.socket, flags: int) -> tuple[bytes, list[int]]:
    """One message from the core and its descriptor, if any: socket.recv_fds, with the flags
    that Python 3.11's version ignores (MSG_DONTWAIT)."""
    fds = array.array("i")
    data, ancillary, _flags, _addr = control.recvmsg(
        MAX_MESSAGE, socket.CMSG_LEN(fds.itemsize), flags
    )
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
    return data, list(fds)


def _close_when_done(outbox: Outbox) -> None:
    """Our copy goes once what is queued is out, lingering as a closed socket does (the rest of
    an oversized message unread made a reset overtake the close frame once, in test_fuzz)."""
    outbox.finish()
    linger_then_shut(outbox.sock, close=True)


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the core, which ends us
    os.nice(NICENESS)
    control = socket.socket(fileno=int(sys.argv[1]))
    RelayProcess(control, float(sys.argv[2]), int(sys.argv[3])).run()


if __name__ == "__main__":
    main()
