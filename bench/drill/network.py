"""Sockets at the network's level: a relay that can drop the network (F3), and one thread that
drains many page sockets at once (L2)."""

import contextlib
import select
import socket
import struct
import threading
import time


def _reset(sock: socket.socket) -> None:
    """Closes with a reset, as a client that gave the connection up answers the server."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()


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
                _reset(client)
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
        _reset(a)
        _reset(b)

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
