"""Listeners' audio written by a process of its own (relay_process.py), beside the core's tick.

In one process every listener's write shares the GIL with the tick and the speakers' sockets: at
1,000 listeners the speakers' return path was already at the 100 ms limit here, while an edge
node's process beside the core carried 2,500 (docs/bench-audio.md). So the core hands each
listener's audio socket, once its handshake and checks are done, to a relay process (the file
descriptor passed over a Unix socket) and sends that process each room's listeners' message
once. The relay also reads the sockets it writes: once a listener is admitted the core's handler
returns (`RelayOutbox.hand_over`), so the core holds no thread and no request for a listener,
only a copy of the descriptor, and learns from the relay when the listener has gone. The core
decides everything and says whom to close with which code. People on stage stay with the core,
and a listener brought on stage is closed with 1012, as on an edge, and reconnects to a socket
the core reads and writes itself.

`LISTENER_RELAY=0` keeps every write in the core. If the relay process dies or hangs it is
killed, its listeners are closed by the core (with 1012 unless another close was under way: they
reconnect) and the core writes to everyone from then on.
"""

import contextlib
import fcntl
import itertools
import logging
import os
import queue
import resource
import socket
import struct
import subprocess
import sys
import termios
import threading
import time
from collections import Counter
from collections.abc import Callable

from .audio_terms import CODECS, audio_socket_buffer
from .close_codes import RESTART
from .outbox import CLOSE_WITHIN, SocketShim, close_frame, close_reason, linger_then_shut
from .relay_process import ADOPT, CLOSE, CLOSED, FORGET, GONE, HEAD, ONE, PING, ROOM

log = logging.getLogger(__name__)

CONTROL_BUFFER = 4 * 1024 * 1024  # bytes asked for the queue to the relay (wmem_max may cap it)
CONTROL_STALL = 2.0  # seconds a message that must arrive (a close) may wait: then it hangs
PING_EVERY = 1.0  # seconds between the core's pings, while the relay has listeners
HANG_AFTER = 10.0  # seconds without a word from the relay (it answers each ping): it hangs


def message(kind: bytes, conn_id: int = 0, space_id: int = 0, small: int = 0) -> bytes:
    return kind + HEAD.pack(conn_id, space_id, small)


class ListenerRelay:
    """The core's side: starts the process on first use, hands it sockets, feeds it rooms. It is
    a MixSink (audio.py): the tick puts each room's listeners' bytes once per codec."""

    def __init__(
        self, send_timeout: float, max_message: int = 4096, max_sockets: int = 10000
    ) -> None:
        self.send_timeout = send_timeout
        self.max_message = max_message
        # Each socket is a descriptor in both processes: half the open-files limit at most
        # (serve.py raises it for LISTENER_RELAY_SOCKETS where the system allows).
        soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        self.max_sockets = min(max_sockets, soft // 2)
        self.lock = threading.Lock()
        self.proc: subprocess.Popen | None = None
        self.control: socket.socket | None = None
        self.room_limit = 0  # bytes queued to the relay past which room messages are dropped
        self.broken = False
        self.stopping = False
        self.counts: Counter = Counter()  # (Space, codec) -> sockets the relay writes
        self.dropped = 0  # room messages not queued: the relay process was behind
        self.outboxes: dict[int, RelayOutbox] = {}
        self._ids = itertools.count(1)
        # Sockets that ended, let go on a thread of their own: letting go sends the relay a
        # message, and the reader must never wait on the relay while the relay waits on it.
        self.endings: queue.SimpleQueue[RelayOutbox] = queue.SimpleQueue()
        self.pinged_at = 0.0  # monotonic: our last ping
        self.unanswered_since: float | None = None  # our first ping since the relay's last word

    def _start_locked(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, CONTROL_BUFFER)
        # Room messages may fill half the queue; closes and hand-overs always find room.
        self.room_limit = ours.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) // 2
        whole = int(CONTROL_STALL)
        stall = struct.pack("@ll", whole, int((CONTROL_STALL - whole) * 1_000_000))
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, stall)
        fd = theirs.fileno()
        args = [sys.executable, "-m", "spaces.realtime.relay_process", str(fd)]
        args += [str(self.send_timeout), str(self.max_message)]
        self.proc = subprocess.Popen(args, pass_fds=(fd,))
        theirs.close()
        self.control = ours
        threading.Thread(target=self._read, args=(ours,), daemon=True, name="relay-read").start()
        threading.Thread(target=self._end, daemon=True, name="relay-endings").start()
        log.info("listener relay started (pid %d)", self.proc.pid)

    def _read(self, control: socket.socket) -> None:
        """What the relay process tells us: which closes are done, which clients have gone. Its
        end means it died."""
        while True:
            try:
                data = control.recv(64)
            except OSError:
                data = b""
            if not data:
                break
            self.unanswered_since = None
            conn_id = HEAD.unpack(data[1 : 1 + HEAD.size])[0]
            outbox = self.outboxes.get(conn_id)
            if outbox is not None and data[:1] in (CLOSED, GONE):
                # Counted out of the caps at once (a reload's new socket is let in), let go on
                # the endings thread.
                outbox.dead = True
                self.endings.put(outbox)
        with self.lock:
            self._broke_locked()

    def _end(self) -> None:
        while True:
            outbox = self.endings.get()
            try:
                outbox.ended()
            except Exception:
                log.exception("a listener's socket did not end cleanly")

    def adopt(self, ws, space_id: int, codec: str) -> "RelayOutbox | None":
        """Hands this flask-sock socket to the relay; None when the relay cannot take it (then the
        core reads and writes it, as without a relay)."""
        raw = ws.sock
        audio_socket_buffer(raw)
        with self.lock:
            if self.broken or self.stopping or len(self.outboxes) >= self.max_sockets:
                return None
            if self.proc is None:
                self._start_locked()
            conn_id = next(self._ids)
            outbox = RelayOutbox(self, conn_id, space_id, codec, raw)
            ws.sock = SocketShim(raw, outbox)  # from now on simple-websocket writes there too
            head = message(ADOPT, conn_id, space_id, CODECS.index(codec))
            # Known before the relay has it: it reads the socket at once, and may say at once
            # that the client has gone.
            self.counts[(space_id, codec)] += 1
            self.outboxes[conn_id] = outbox
            try:
                socket.send_fds(self.control, [head], [raw.fileno()])
            except OSError:
                ws.sock = raw
                self.counts[(space_id, codec)] -= 1
                del self.outboxes[conn_id]
                self._broke_locked()
                return None
        return outbox

    def wants(self, space_id: int, codec: str) -> bool:
        return self.counts[(space_id, codec)] > 0

    def put(self, space_id: int, codec: str, payload: bytes) -> None:
        """Never waits: a relay so far behind that half its queue is room messages (seconds of
        audio) loses this one, and messages that must arrive still find room."""
        control = self.control
        if control is None:
            return
        self._watch()
        try:
            queued = struct.unpack("i", fcntl.ioctl(control, termios.TIOCOUTQ, b"\0" * 4))[0]
        except OSError:
            queued = 0
        if queued > self.room_limit:
            self.dropped += 1
            return
        self.send(message(ROOM, 0, space_id, CODECS.index(codec)) + payload, wait=False)

    def _watch(self) -> None:
        """On the tick, while listeners are the relay's: a ping a second, and a relay that has
        answered nothing for HANG_AFTER seconds (stopped, deadlocked, starved) is killed, so
        its listeners come back to the core; its sends never stall long enough to tell."""
        now = time.monotonic()
        if now - self.pinged_at >= PING_EVERY:
            self.pinged_at = now
            if self.unanswered_since is None:
                self.unanswered_since = now
            self.send(message(PING), wait=False)
        since = self.unanswered_since
        if since is not None and now - since > HANG_AFTER and not self.broken:
            log.error("listener relay silent for %.0f s: killed", now - since)
            with self.lock:
                self._broke_locked()

    def send(self, data: bytes, wait: bool = True) -> bool:
        """One message to the relay process; False when it is gone (or, not waiting, behind)."""
        control = self.control
        if control is None or self.broken:
            return False
        try:
            control.send(data, 0 if wait else socket.MSG_DONTWAIT)
            return True
        except BlockingIOError:
            if not wait:
                self.dropped += 1
                return False
        except OSError:
            pass
        with self.lock:  # gone, or stalled past CONTROL_STALL: it hangs
            self._broke_locked()
        return False

    def forget(self, outbox: "RelayOutbox") -> None:
        with self.lock:
            self.counts[(outbox.space_id, outbox.codec)] -= 1
            self.outboxes.pop(outbox.conn_id, None)
        self.send(message(FORGET, outbox.conn_id))

    def _broke_locked(self) -> None:
        """The process died or hangs (not when we are stopping it): it is killed, so that
        nothing else writes its sockets, and then the core closes each one itself."""
        if self.broken or self.stopping:
            return
        self.broken = True
        log.error("listener relay process gone: its listeners reconnect to the core")
        orphans, proc = list(self.outboxes.values()), self.proc
        threading.Thread(target=self._take_back, args=(proc, orphans), daemon=True).start()

    def _take_back(self, proc: subprocess.Popen | None, orphans: list["RelayOutbox"]) -> None:
        if proc is not None:
            with contextlib.suppress(OSError):
                proc.kill()
            proc.wait()
        for outbox in orphans:
            outbox.close_here()
        with contextlib.suppress(OSError):
            self.control.close()

    def stop(self) -> None:
        """After the engine closed every room: the relay writes the close frames (a backlog
        within CLOSE_WITHIN), then ends."""
        with self.lock:
            control, proc = self.control, self.proc
            self.stopping = True
        if control is not None:
            with contextlib.suppress(OSError):
                control.shutdown(socket.SHUT_WR)
        if proc is not None:
            try:
                proc.wait(CLOSE_WITHIN + 2)
            except subprocess.TimeoutExpired:
                proc.kill()


class RelayOutbox:
    """What an audio socket's Outbox does (push, close, finish, dead), carried out by the relay
    process, which writes this socket and nobody else does; once handed over, it reads it too."""

    def __init__(self, relay: ListenerRelay, conn_id: int, space_id: int, codec: str, raw):
        self.relay, self.conn_id, self.space_id, self.codec = relay, conn_id, space_id, codec
        self.raw = raw
        self.dead = False
        self.closing = False
        self.goodbye: tuple[int, str] = (RESTART, "restart")  # the close asked, if any
        self.closed = threading.Event()  # the close frame is out (or the client gone)
        self.forgotten = False
        self.handed = False  # the core's handler has returned; the relay reads the socket
        self.on_end: Callable[[], None] | None = None
        self.lock = threading.Lock()

    def push(self, data: bytes) -> bool:
        """A message for this socket alone (a title, a pong)."""
        if self.dead:
            return False
        if not self.relay.send(message(ONE, self.conn_id) + bytes(data)):
            self.dead = True  # the relay is gone: the core closes this socket (close_here)
            return False
        return True

    def close(self, code: int = 1000, reason: str = "") -> None:
        with self.lock:
            if self.closing:
                return
            self.closing = self.dead = True
            self.goodbye = (code, reason)
        note = struct.pack("!H", code) + close_reason(reason)
        self.relay.send(message(CLOSE, self.conn_id) + note)  # a failure: close_here follows

    def hand_over(self, on_end: Callable[[], None]) -> bool:
        """The core's handler may return: `on_end` runs once the socket has ended (the relay says
        so). The server's descriptor number is pointed at a fresh, unconnected socket (a
        stand-in), so that its shutdown and close after the handler leave the connection alone;
        the core keeps a copy, to say goodbye itself should the relay die. False when the socket
        is already closing, or no descriptor is left for the copy: the handler waits for its end.
        """
        with self.lock:
            if self.dead:
                return False
            raw = self.raw
            try:
                stand_in = socket.socket(raw.family, raw.type)  # never connected
                with stand_in:
                    kept = os.dup(raw.fileno())
                    os.dup2(stand_in.fileno(), raw.fileno())
            except OSError as exc:  # out of descriptors: the handler keeps it, with its thread
                log.warning("a listener's socket stays with a server thread: %s", exc)
                return False
            self.raw = socket.socket(fileno=kept)
            self.handed = True
            self.on_end = on_end
        return True

    def ended(self, close_copy: bool = True) -> None:
        """The close frame is out or the client has gone (the relay says so), or the relay died:
        for a handed-over socket the core lets it go (`on_end`), then its copy."""
        with self.lock:
            self.dead = True
            self.closed.set()
            on_end, self.on_end = self.on_end, None
        if on_end is None:
            return
        try:
            on_end()
        except Exception:
            log.exception("a listener's socket did not end cleanly")
        self.finish()
        if close_copy:  # the relay holds its own: this close sends the client nothing
            self.raw.close()

    def close_here(self) -> None:
        """The relay process is gone (killed), so nothing else writes this socket: the core says
        goodbye with the close asked, or 1012 (the client comes back), then shuts it."""
        with self.lock:
            self.closing = self.dead = True
            code, reason = self.goodbye
            raw, handed = self.raw, self.handed
        code = RESTART if code == 1000 else code
        data = close_frame(code, reason)
        try:
            whole = raw.send(data, socket.MSG_DONTWAIT) == len(data)
        except OSError:
            whole = False
        if whole:
            linger_then_shut(raw, close=handed)  # the client reads the frame, then hangs up
        else:
            with contextlib.suppress(OSError):  # only part fitted: no frame at all
                raw.shutdown(socket.SHUT_RDWR)
            if handed:
                raw.close()
        self.ended(close_copy=False)

    def finish(self) -> None:
        """The handler is done (or, handed over, the socket): waits (as Outbox.finish does) until
        a close under way is out, since the server shuts the connection when the handler
        returns; then the relay closes its copy."""
        if self.closing:
            self.closed.wait(CLOSE_WITHIN + 1)
        with self.lock:
            if self.forgotten:
                return
            self.forgotten = True
        self.relay.forget(self)
