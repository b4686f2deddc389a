"""The listening client: a thread that reads one websocket and notes everything that arrives,
with the figures tests and drills ask of it (frames since, frames per second, gaps, waits)."""

import contextlib
import threading
import time
from collections.abc import Callable

from .audio import FRAME_SECONDS, audible, hushed, silent
from .opus_wire import OpusWire
from .waiting import wait_until
from .websocket import Closed, WebSocket

Dial = Callable[[], WebSocket]
GOODBYE = (1000, 4401, 4403, 4404, 4410, 4429)  # closes after which a client does not come back


class Ear:
    """Reads one websocket on a thread: binary frames with their arrival times, text messages,
    and how it closed. Given an open WebSocket it reads that one; given a way to dial one and
    `reconnect`, it comes back after a lost connection with backoff (0.25 s doubling to 2 s), as
    docs/audio-protocol.md asks of clients, until the server says goodbye or `stop()`.

    With `wire` (an OpusWire: the socket was opened with `?v=2&codec=opus`), each message is
    decoded, and its frames are noted as PCM like v1's, all with the message's arrival time."""

    def __init__(
        self,
        source: WebSocket | Dial,
        reconnect: bool = False,
        keep_text: bool = True,
        wire: OpusWire | None = None,
    ):
        self.dial: Dial = source if callable(source) else (lambda: source)
        self.wire = wire
        self.reconnect = reconnect and callable(source)
        self.keep_text = keep_text
        self.frames: list[tuple[float, bytes]] = []
        self.texts: list[tuple[float, str]] = []
        self.closes: list[tuple[float, int | None]] = []  # None: dropped with no close frame
        self.connects: list[float] = []
        self.refusals: list[str] = []
        self.connected = threading.Event()
        self.closed = threading.Event()  # the thread is done
        self.stopping = threading.Event()
        self.ws: WebSocket | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        backoff = 0.25
        try:
            while not self.stopping.is_set():
                try:
                    self.ws = self.dial()
                except OSError as exc:
                    self.refusals.append(str(exc)[:120])
                    if not self.reconnect:
                        return
                    self.stopping.wait(backoff)
                    backoff = min(2.0, backoff * 2)
                    continue
                backoff = 0.25
                self.connects.append(time.monotonic())
                self.connected.set()
                code = self._session(self.ws)
                self.closes.append((time.monotonic(), code))
                self.ws.close()
                if not self.reconnect or code in GOODBYE:
                    return
                self.stopping.wait(backoff)
        finally:
            self.closed.set()

    def _session(self, ws: WebSocket) -> int | None:
        """Reads until the socket closes or `stop()`; answers the close code."""
        heard = time.monotonic()
        while not self.stopping.is_set():
            if not self._between(ws, heard):
                return None
            try:
                message = ws.recv(timeout=self._wait())
            except TimeoutError:
                continue
            except Closed as closed:
                return closed.code
            heard = time.monotonic()
            if isinstance(message, bytes) and self.wire is not None:
                self.frames.extend((heard, pcm) for pcm in self.wire.incoming(message))
            elif isinstance(message, bytes):
                self.frames.append((heard, message))
            elif self.keep_text:
                self.texts.append((heard, message))
        return None

    def _between(self, _ws: WebSocket, _heard: float) -> bool:
        """Work between reads (a speaker sends here); False drops the connection."""
        return True

    def _wait(self) -> float:
        return 0.5

    def stop(self) -> None:
        self.stopping.set()
        if self.ws is not None:
            with contextlib.suppress(OSError):
                self.ws.close()
        self.thread.join(3)

    def heard_from_server(self, within: float = 10) -> bool:
        """Until the server has sent something (audio, levels or the page's state). The server
        counts a socket against its caps before it sends anything, so this, not `connected` (the
        handshake done), says the socket is counted."""
        return bool(wait_until(lambda: self.frames or self.texts, within))

    @property
    def close_code(self) -> int | None:
        """How the last connection closed (1006: with no close frame); None while open."""
        if not self.closed.is_set() or not self.closes:
            return None
        code = self.closes[-1][1]
        return 1006 if code is None else code

    # Figures -------------------------------------------------------------------------------------

    def since(self, t: float) -> list[bytes]:
        return [f for at, f in list(self.frames) if at >= t]

    def count(self, t0: float, t1: float, audible_only: bool = False) -> int:
        return sum(
            1 for at, f in list(self.frames) if t0 <= at < t1 and (audible(f) or not audible_only)
        )

    def rate(self, t0: float, t1: float) -> float:
        """Frames per second received between t0 and t1."""
        return self.count(t0, t1) / max(1e-9, t1 - t0)

    def max_gap(self, t0: float, t1: float) -> float:
        times = [at for at, _ in list(self.frames) if t0 <= at < t1]
        if len(times) < 2:
            return float("inf")
        return max(b - a for a, b in zip(times, times[1:], strict=False))

    def first_audible_after(self, t: float) -> float | None:
        return next((at for at, f in list(self.frames) if at >= t and audible(f)), None)

    def until(self, predicate, within: float = 3.0, what: str = "a frame") -> float:
        """Waits for a frame satisfying predicate; answers its arrival time."""
        deadline = time.monotonic() + within
        seen = 0
        while time.monotonic() < deadline:
            frames = list(self.frames)
            for at, frame in frames[seen:]:
                if predicate(frame):
                    return at
            seen = len(frames)
            time.sleep(0.01)
        raise AssertionError(f"no {what} within {within}s ({len(self.frames)} frames received)")

    def wait_text(self, predicate, after: float, within: float) -> float | None:
        """The arrival time of the first text after `after` for which predicate holds, or None
        when none came within `within` seconds."""
        deadline = time.monotonic() + within
        seen = 0
        while True:  # looks once even when `within` is 0: what has already arrived
            texts = list(self.texts)
            for at, text in texts[seen:]:
                if at >= after and predicate(text):
                    return at
            seen = len(texts)
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.005)

    def index_at(self, t: float) -> float:
        """Which frame of this stream the server was sending at time `t`.

        The server sends frame k at start + 20 ms * k; each arrives a little later, and later
        still when this process is busy. The earliest arrivals around `t` give the schedule, so
        a late reader does not make the server look slow."""
        window = [(k, at) for k, (at, _) in enumerate(list(self.frames)) if abs(at - t) < 1.0]
        start = min(at - k * FRAME_SECONDS for k, at in window)
        return (t - start) / FRAME_SECONDS

    def last_sound_after(self, t: float) -> float:
        """Seconds of the stream, as the server sent it, from `t` to the last non-silent frame."""
        quiet = silent if self.wire is None else hushed  # Opus gives silence back as a hush
        frames = list(self.frames)
        last = max((k for k, (_, f) in enumerate(frames) if not quiet(f)), default=0)
        return (last - self.index_at(t)) * FRAME_SECONDS
