"""The speaking client: real-time audio up a websocket, the way a microphone sends it."""

import time

from .audio import FRAME_SECONDS
from .listen import Dial, Ear
from .opus_wire import OpusWire
from .websocket import Closed, WebSocket


class Mouth(Ear):
    """A speaker's audio socket: sends `frames` (looped) at real-time pace, one every 20 ms, and
    reads what comes back as an Ear does (the speaker's mix-minus: a client must read, or the
    server drops what it sends). Falling far behind (a busy machine), it skips ahead rather than
    burst, as a real client's clock would.

    With `reconnect`: a socket that errors, or from which nothing arrives for `watchdog` seconds
    (a dead network), is dropped and dialled again with backoff; the frames of the time away are
    not sent (a live microphone, not a file). With `wire` it speaks v2 (Opus) both ways."""

    def __init__(
        self,
        source: WebSocket | Dial,
        frames: list[bytes] | bytes,
        reconnect: bool = False,
        watchdog: float = 1.0,
        keep_text: bool = False,
        wire: OpusWire | None = None,
    ) -> None:
        self.wires = [frames] if isinstance(frames, bytes) else list(frames)
        self.watchdog = watchdog
        self.sent = 0
        self.losses: list[float] = []
        self.next_at = 0.0
        super().__init__(source, reconnect=reconnect, keep_text=keep_text, wire=wire)

    def _session(self, ws: WebSocket) -> int | None:
        self.next_at = time.monotonic()
        code = super()._session(ws)
        self.losses.append(time.monotonic())
        return code

    def _between(self, ws: WebSocket, heard: float) -> bool:
        now = time.monotonic()
        if now >= self.next_at:
            try:
                pcm = self.wires[self.sent % len(self.wires)]
                ws.send(pcm if self.wire is None else self.wire.outgoing(pcm))
            except Closed:
                return False
            self.sent += 1
            self.next_at += FRAME_SECONDS
            if now - self.next_at > 0.2:
                self.next_at = now
        # Nothing has come for a while: the network is gone.
        return not (self.reconnect and now - heard > self.watchdog)

    def _wait(self) -> float:
        return max(0.0, self.next_at - time.monotonic())
